//! `BasicTorrentExplainer` (from the `__main__` of Kamaelia's `TorrentPatron.py` and
//! `TorrentClient.py`): turns the torrent client's messages into lines of text for a
//! `ConsoleEchoer`.

use axon::util::PureTransformer;
use axon::{Component, Message};

use crate::ipc::{
    TIPCNewTorrentCreated, TIPCTorrentAlreadyDownloading, TIPCTorrentStartFail,
    TIPCTorrentStatusUpdate,
};

/// The line Kamaelia's explainer prints for a client message (with its newline), or `None`
/// for anything else.
///
/// ```
/// use kamaelia_torrent::explainer::explain;
/// use kamaelia_torrent::ipc::TIPCNewTorrentCreated;
///
/// let m = axon::Message::new(TIPCNewTorrentCreated { torrent_id: 1, save_folder: "./ubuntu".into() });
/// assert_eq!(explain(&m).unwrap(), "New torrent 1 created in ./ubuntu\n");
/// assert_eq!(explain(&axon::Message::new(42)), None);
/// ```
pub fn explain(m: &Message) -> Option<String> {
    let text = if let Some(x) = m.downcast_ref::<TIPCNewTorrentCreated>() {
        x.to_string()
    } else if let Some(x) = m.downcast_ref::<TIPCTorrentStartFail>() {
        x.to_string()
    } else if let Some(x) = m.downcast_ref::<TIPCTorrentAlreadyDownloading>() {
        x.to_string()
    } else if let Some(x) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
        x.to_string()
    } else {
        return None;
    };
    Some(text + "\n")
}

/// Kamaelia's `BasicTorrentExplainer`: a `PureTransformer` of [`explain`]; messages it does
/// not know are dropped.
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::Scheduler;
/// use kamaelia_torrent::explainer::basic_torrent_explainer;
/// use kamaelia_torrent::ipc::TIPCTorrentAlreadyDownloading;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let e = root.spawn(basic_torrent_explainer());
/// root.link((root.id(), "outbox"), (e, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (e, "control")).unwrap();
/// root.link((e, "outbox"), (root.id(), "inbox")).unwrap();
/// root.send(TIPCTorrentAlreadyDownloading { torrent_id: 1 }, "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "That torrent is already downloading!\n");
/// ```
pub fn basic_torrent_explainer() -> impl Component {
    PureTransformer::new(|m: Message| explain(&m))
}
