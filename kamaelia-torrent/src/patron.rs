//! `TorrentPatron` (Kamaelia's `TorrentPatron.py`, rule C5): the way to use BitTorrent. Many
//! patrons share one torrent client through the [`TorrentService`].
//!
//! Differences from the original, on purpose (spec (f) 5-6):
//!
//! - Each time it runs it handles *every* message waiting (the original handled one per
//!   scheduler cycle): all of `torrent-inbox` first, then all of `inbox`, then `control`.
//!   (Replies first, so that it knows whether its service has stopped before it passes on
//!   anything: see the next point.)
//! - If its service is told to stop (on
//!   [`SHUTDOWN_SERVICE_NAME`](crate::service::SHUTDOWN_SERVICE_NAME)) while the patron runs, the
//!   service replies to what it was sent and then says [`TorrentServiceStopped`] (not passed
//!   on). From then on the patron answers each create request itself, with a
//!   `TIPCTorrentStartFail` whose reason is [`SERVICE_STOPPED`], so that every create request
//!   still gets exactly one reply, in order; other requests are logged and dropped. It does
//!   not start a new service: the old one was told to stop, and stopping the shared client
//!   is what that asks. (The original's requests went to a service that no longer answered.)
//!   The patron itself runs on until it is told to stop.
//! - It stops on `ProducerFinished`, `ShutdownMicroprocess` or the legacy `Shutdown` on
//!   `control` (the original only on `Shutdown`, so a Pipeline's cascading `ProducerFinished`
//!   did not stop it). Other control messages are ignored, as in the original.
//! - On stopping it sends `TIPCServiceRemove` to the service, as the original did, and then out
//!   of `signal`: `ProducerFinished` naming itself when it was told `ProducerFinished` (as the
//!   original always did), and otherwise the `ShutdownMicroprocess` or `Shutdown` it was given,
//!   unchanged, so that a shutdown cascade keeps its urgency. Replies the service sends after
//!   that are not delivered.
//! - The client is made by a [`ClientFactory`] given to [`TorrentPatron::new`].

use std::borrow::Cow;

use axon::ipc::{stop_kind, ProducerFinished};
use axon::{BoxSpec, Component, ComponentResult, Ctx, Message};

use crate::ipc::{TIPCServiceAdd, TIPCServicePassOn, TIPCServiceRemove, TIPCTorrentStartFail};
use crate::service::{
    as_create, ClientFactory, TorrentService, TorrentServiceStopped, SERVICE_STOPPED,
};

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Commands for the TorrentClient: TIPCCreateNewTorrent (or the raw .torrent as Vec<u8> or String), TIPCCloseTorrent",
    ),
    BoxSpec::new("torrent-inbox", "Received feedback from TorrentClient"),
    BoxSpec::new(
        "control",
        "Shut me down: ProducerFinished, ShutdownMicroprocess or Shutdown",
    ),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Forward feedback from TorrentClient out of: TIPCNewTorrentCreated, TIPCTorrentAlreadyDownloading, TIPCTorrentStartFail, TIPCTorrentStatusUpdate",
    ),
    BoxSpec::new("torrent-outbox", "Talk to TorrentClient (through TorrentService) with"),
    BoxSpec::new(
        "signal",
        "On stopping: ProducerFinished from me, or the ShutdownMicroprocess/Shutdown I was given",
    ),
];

/// Uses the shared torrent client (Kamaelia's `TorrentPatron`, rule C5): requests in on
/// `inbox`, the client's answers about them out of `outbox`. Many patrons may run at once;
/// they share one [`TorrentService`] and so one client. See the module documentation for what
/// differs from the original.
///
/// On `outbox` a patron gets one reply per create request, in the order of its requests
/// (`TIPCNewTorrentCreated`, `TIPCTorrentAlreadyDownloading` or `TIPCTorrentStartFail`), status
/// updates for its own torrents only, and a `TIPCTorrentStartFail` ("close refused ...") for a
/// `TIPCCloseTorrent` naming a torrent that is not its own.
///
/// ```
/// use std::sync::Arc;
/// use axon::ipc::Shutdown;
/// use axon::{component, AnyComponent, Scheduler};
/// use kamaelia_torrent::ipc::{TIPCCreateNewTorrent, TIPCNewTorrentCreated};
/// use kamaelia_torrent::patron::TorrentPatron;
/// use kamaelia_torrent::service::ClientFactory;
///
/// // A stand-in for the BitTorrent engine: each create request becomes torrent 1.
/// let factory: ClientFactory = Arc::new(|| {
///     AnyComponent::new(component("FakeClient", |ctx| async move {
///         loop {
///             while ctx.data_ready("inbox") > 0 {
///                 // (A patron leaving has its torrents closed: TIPCCloseTorrent, ignored here.)
///                 if ctx.recv("inbox")?.is::<TIPCCreateNewTorrent>() {
///                     let created = TIPCNewTorrentCreated { torrent_id: 1, save_folder: "./x".into() };
///                     ctx.send(created, "outbox")?;
///                 }
///             }
///             if ctx.data_ready("control") > 0 {
///                 return Ok(());
///             }
///             ctx.pause();
///             ctx.yield_now().await;
///         }
///     }))
/// });
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let patron = root.create(TorrentPatron::new(factory));
/// root.link((root.id(), "outbox"), (patron, "inbox")).unwrap();
/// root.link((patron, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((root.id(), "signal"), (patron, "control")).unwrap();
/// root.activate(patron).unwrap();
///
/// let request = TIPCCreateNewTorrent { raw_metainfo: b"d4:infode".to_vec(), save_folder: None };
/// root.send(request, "outbox").unwrap();
/// sched.run(); // returns when all are waiting
/// let reply: TIPCNewTorrentCreated = root.recv_as("inbox").unwrap();
/// assert_eq!(reply.torrent_id, 1);
///
/// // The last patron leaving stops the client and the service: the scheduler returns clean.
/// root.send(Shutdown, "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert!(root.services().is_empty());
/// ```
pub struct TorrentPatron {
    factory: ClientFactory,
}

impl TorrentPatron {
    /// A patron. `factory` makes the torrent client if no [`TorrentService`] is running yet
    /// (it is unused otherwise).
    pub fn new(factory: ClientFactory) -> TorrentPatron {
        TorrentPatron { factory }
    }
}

impl Component for TorrentPatron {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        let services = TorrentService::get_torrent_services(&ctx, &self.factory)?;
        let (svc, notify) = &services.service;
        ctx.link((me, "torrent-outbox"), (*svc, notify))?;
        let reply_service = (me, "torrent-inbox".to_string());
        ctx.send(
            TIPCServiceAdd {
                reply_service: reply_service.clone(),
            },
            "torrent-outbox",
        )?;
        // The service has said it stopped: nothing more goes to it.
        let mut service_stopped = false;
        let stop: Message = 'run: loop {
            // Replies first: a request passed on below reaches a service that has not yet
            // said it stopped, so it is answered before that word (see the module docs).
            while ctx.data_ready("torrent-inbox") > 0 {
                let m = ctx.recv("torrent-inbox")?;
                if m.is::<TorrentServiceStopped>() {
                    log::info!("{}: the torrent service has stopped", ctx.name());
                    service_stopped = true;
                } else {
                    ctx.send(m, "outbox")?;
                }
            }
            while ctx.data_ready("inbox") > 0 {
                let message = ctx.recv("inbox")?;
                if !service_stopped {
                    let wrapped = TIPCServicePassOn {
                        reply_service: reply_service.clone(),
                        message,
                    };
                    ctx.send(wrapped, "torrent-outbox")?;
                } else {
                    match as_create(message) {
                        Ok(_) => {
                            let reason = SERVICE_STOPPED.to_string();
                            ctx.send(TIPCTorrentStartFail { reason }, "outbox")?;
                        }
                        Err(other) => log::debug!(
                            "{}: {} dropped: the torrent service has stopped",
                            ctx.name(),
                            other.type_name()
                        ),
                    }
                }
            }
            while ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                if stop_kind(&m).is_some() {
                    break 'run m;
                }
                log::debug!("{}: {} on control ignored", ctx.name(), m.type_name());
            }
            ctx.pause();
            ctx.yield_now().await;
        };
        if !service_stopped {
            ctx.send(TIPCServiceRemove { reply_service }, "torrent-outbox")?;
        }
        let out = if stop.is::<ProducerFinished>() {
            Message::new(ProducerFinished::from(me))
        } else {
            stop
        };
        ctx.send(out, "signal")?;
        Ok(())
    }
}
