//! `TorrentClient` (Kamaelia's `TorrentClient`, rule C3): a BitTorrent client as one
//! component, holding any number of torrents.
//!
//! It listens for peers (axon's `ServerCore`, one [`PeerConnection`] per connection) and
//! makes a [`TorrentSession`] per torrent. Its boxes are the original's:
//!
//! | box | what |
//! |---|---|
//! | `inbox` | [`TIPCCreateNewTorrent`] (or the raw .torrent bytes as `Vec<u8>`/`String`), [`TIPCCloseTorrent`] |
//! | `control` | any stop message: close every torrent, stop listening, end |
//! | `outbox` | one reply per create request, in order: [`TIPCNewTorrentCreated`], [`TIPCTorrentAlreadyDownloading`] or [`TIPCTorrentStartFail`]; then [`TIPCTorrentStatusUpdate`]s |
//! | `signal` | [`ProducerFinished`] when it ends |
//!
//! Differences from the original, on purpose: every failed create request gets a
//! [`TIPCTorrentStartFail`] with the reason (the original sent none, so its replies could go
//! out of step); the save folder is the request's (or [`ClientConfig::save_folder`]) instead of
//! always `./name`; status updates carry typed statistics at [`ClientConfig::status_interval`];
//! a close for an unknown torrent is logged, not a crash, and gets no reply (a reply would be
//! taken for the answer to a create request).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axon::internet::server_core::ServerCore;
use axon::internet::tcp_server::PeerClose;
use axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use axon::{AnyComponent, BoxSpec, Component, ComponentId, ComponentResult, Ctx, Message};

use super::peer::{session_service_name, socket_config, ConnectionLimit, PeerConnection};
use super::session::{SessionConfig, TorrentSession};
use crate::ipc::{
    TIPCCloseTorrent, TIPCCreateNewTorrent, TIPCNewTorrentCreated, TIPCTorrentAlreadyDownloading,
    TIPCTorrentStartFail, TIPCTorrentStatusUpdate,
};
use crate::metainfo::{InfoHash, Metainfo};
use crate::service::ClientFactory;
use crate::tracker::announce::PeerId;

/// How a [`TorrentClient`] is set up.
///
/// ```
/// use kamaelia_torrent::engine::client::ClientConfig;
///
/// let c = ClientConfig::default();
/// assert_eq!(c.listen.to_string(), "0.0.0.0:6881");
/// assert_eq!(c.status_interval, std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where to accept peers (port 0: any free port).
    pub listen: SocketAddr,
    /// How often each torrent reports its status.
    pub status_interval: Duration,
    /// Where torrents are saved when a request names no folder.
    pub save_folder: PathBuf,
    /// The most peers per torrent.
    pub max_peers: usize,
    /// How many peers per torrent are unchoked at once.
    pub upload_slots: usize,
    /// Peers every torrent dials at start, besides those its trackers give.
    pub peers: Vec<SocketAddr>,
    /// Our peer id (a fresh one if `None`).
    pub peer_id: Option<PeerId>,
    /// When a torrent is complete (found so at start, or once its last piece is verified),
    /// make its files exactly what it describes: create the empty files (no piece holds a
    /// byte of them) and cut files longer than the torrent says (a resumed download into a
    /// folder holding a longer file). Default true. The `seed` command turns it off, so that
    /// it never changes the data it serves.
    pub finish_files: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            status_interval: Duration::from_secs(1),
            save_folder: PathBuf::from("."),
            max_peers: 50,
            upload_slots: 4,
            peers: Vec::new(),
            peer_id: None,
            finish_files: true,
        }
    }
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Torrent IPC - add a torrent (TIPCCreateNewTorrent or raw bytes), stop a torrent (TIPCCloseTorrent)",
    ),
    BoxSpec::new("control", "Any stop message: close every torrent and end"),
    BoxSpec::new("_sessions", "Status updates from the torrents' sessions"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Torrent IPC - status updates and replies to requests",
    ),
    BoxSpec::new("signal", "ProducerFinished when it ends"),
    BoxSpec::new("_serverControl", "Stops the listening ServerCore"),
];

static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// The most connections from peers a client holds at once (those over it are closed at once);
/// each torrent then keeps at most [`ClientConfig::max_peers`] of them.
pub const MAX_INCOMING: usize = 500;

/// The most of them from one IP address (a loopback address only counts in
/// [`MAX_INCOMING`]): one address cannot take every place and lock other peers out.
pub const MAX_INCOMING_PER_ADDRESS: usize = 8;

/// A BitTorrent client component (see the module documentation).
///
/// ```no_run
/// use axon::{pipeline, Scheduler};
/// use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
/// use kamaelia_torrent::ipc::TIPCCreateNewTorrent;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let client = root.spawn(TorrentClient::new(ClientConfig::default()));
/// root.link((root.id(), "outbox"), (client, "inbox")).unwrap();
/// root.link((client, "outbox"), (root.id(), "inbox")).unwrap();
/// root.send(TIPCCreateNewTorrent {
///     raw_metainfo: std::fs::read("ubuntu.torrent").unwrap(),
///     save_folder: Some("downloads".into()),
/// }, "outbox").unwrap();
/// sched.run();
/// ```
pub struct TorrentClient {
    config: ClientConfig,
    peer_id: PeerId,
    prefix: String,
    listener: Result<ServerCore, String>,
}

impl TorrentClient {
    /// A client with `config`; it binds its listening socket now. If that fails the client
    /// still runs, and answers every create request with a [`TIPCTorrentStartFail`] saying
    /// why. To learn of the failure at once instead, use [`TorrentClient::try_new`].
    pub fn new(config: ClientConfig) -> TorrentClient {
        let addr = config.listen;
        let (parts, bound) = TorrentClient::bind(config);
        let listener = bound.map_err(|e| format!("cannot listen for peers on {addr}: {e}"));
        parts.with_listener(listener)
    }

    /// A client with `config`, or the error that binding its listening socket met (the
    /// address in use, say), so that the caller can choose another address before anything
    /// runs: no window in which another program could take the port.
    ///
    /// ```
    /// use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
    ///
    /// let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let config = ClientConfig {
    ///     listen: taken.local_addr().unwrap(),
    ///     ..ClientConfig::default()
    /// };
    /// let err = TorrentClient::try_new(config).err().unwrap();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    ///
    /// let config = ClientConfig {
    ///     listen: "127.0.0.1:0".parse().unwrap(),
    ///     ..ClientConfig::default()
    /// };
    /// let client = TorrentClient::try_new(config).unwrap();
    /// assert_ne!(client.local_addr().unwrap().port(), 0);
    /// ```
    pub fn try_new(config: ClientConfig) -> std::io::Result<TorrentClient> {
        let (parts, bound) = TorrentClient::bind(config);
        Ok(parts.with_listener(Ok(bound?)))
    }

    /// The client's parts, and its listening socket bound to `config.listen` (or why not).
    fn bind(config: ClientConfig) -> (Unbound, std::io::Result<ServerCore>) {
        let peer_id = config.peer_id.unwrap_or_else(PeerId::generate);
        let prefix = format!(
            "torrent-session/{}/{}/",
            std::process::id(),
            CLIENTS.fetch_add(1, Ordering::Relaxed)
        );
        let p = prefix.clone();
        let limit = ConnectionLimit::new(MAX_INCOMING).per_address(MAX_INCOMING_PER_ADDRESS);
        let bound = ServerCore::bind(config.listen, move |info| {
            PeerConnection::incoming_limited(info.peer, peer_id, &p, limit.take_for(info.peer))
        })
        .map(|core| core.with_socket_config(socket_config(PeerClose::HalfClose)));
        let parts = Unbound {
            config,
            peer_id,
            prefix,
        };
        (parts, bound)
    }

    /// A factory for [`TorrentService`](crate::service::TorrentService): each client it makes
    /// has `config`.
    pub fn factory(config: ClientConfig) -> ClientFactory {
        Arc::new(move || AnyComponent::new(TorrentClient::new(config.clone())))
    }

    /// A factory for [`TorrentService`](crate::service::TorrentService) that hands out this
    /// client (already listening) the first time, and after that (should a service be
    /// started again) a new client with the same configuration on the same address.
    ///
    /// ```
    /// use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
    ///
    /// let config = ClientConfig {
    ///     listen: "127.0.0.1:0".parse().unwrap(),
    ///     ..ClientConfig::default()
    /// };
    /// let client = TorrentClient::try_new(config).unwrap();
    /// let port = client.local_addr().unwrap().port();
    /// let factory = client.into_factory();
    /// assert_eq!(axon::Component::label(&factory()), "TorrentClient");
    /// // The first client is gone and its port free: the next one binds it again.
    /// let _next = factory();
    /// assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    /// ```
    pub fn into_factory(self) -> ClientFactory {
        let config = ClientConfig {
            listen: self.local_addr().unwrap_or(self.config.listen),
            ..self.config.clone()
        };
        let first = std::sync::Mutex::new(Some(self));
        Arc::new(move || {
            let first = first.lock().unwrap_or_else(|e| e.into_inner()).take();
            AnyComponent::new(first.unwrap_or_else(|| TorrentClient::new(config.clone())))
        })
    }

    /// The address peers can reach this client on, if it could listen.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().ok().map(|l| l.local_addr())
    }

    /// Our peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }
}

/// A [`TorrentClient`] before its listener is settled.
struct Unbound {
    config: ClientConfig,
    peer_id: PeerId,
    prefix: String,
}

impl Unbound {
    fn with_listener(self, listener: Result<ServerCore, String>) -> TorrentClient {
        TorrentClient {
            config: self.config,
            peer_id: self.peer_id,
            prefix: self.prefix,
            listener,
        }
    }
}

/// One torrent the client holds.
struct Torrent {
    session: ComponentId,
    control: String,
    info_hash: InfoHash,
}

impl Component for TorrentClient {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let TorrentClient {
            config,
            peer_id,
            prefix,
            listener,
        } = self;
        let (port, listen_error) = match listener {
            Ok(server) => {
                let port = server.local_addr().port();
                let s = ctx.create(server);
                ctx.link((ctx.id(), "_serverControl"), (s, "control"))?;
                ctx.add_children(&[s])?;
                ctx.activate(s)?;
                log::info!("{}: listening for peers on port {port}", ctx.name());
                (port, None)
            }
            Err(e) => {
                log::error!("{}: {e}", ctx.name());
                (0, Some(e))
            }
        };
        let mut torrents: HashMap<u32, Torrent> = HashMap::new();
        // Sessions told to close that have not ended yet.
        let mut closing: Vec<Torrent> = Vec::new();
        // Requests in arrival order. A create for a torrent whose old session is still
        // closing waits for it to end (its registry name is still taken), and so does
        // everything after it, so that replies stay in order.
        let mut pending: VecDeque<Request> = VecDeque::new();
        let mut next_id = 1u32;
        loop {
            if ctx.recv("control").is_ok() {
                break;
            }
            while let Ok(m) = ctx.recv("inbox") {
                match Request::from_message(m) {
                    Some(r) => pending.push_back(r),
                    None => log::warn!("{}: ignored a message it does not understand", ctx.name()),
                }
            }
            while let Some(req) = pending.pop_front() {
                let (create, metainfo) = match req {
                    Request::Close(id) => {
                        match torrents.remove(&id) {
                            Some(t) => {
                                let _ = ctx.send(ShutdownMicroprocess::default(), &t.control);
                                closing.push(t);
                            }
                            None => log::warn!(
                                "{}: asked to close torrent {id}, which it does not have",
                                ctx.name()
                            ),
                        }
                        continue;
                    }
                    Request::Create(create, metainfo) => (create, metainfo),
                };
                if let Ok(m) = &metainfo {
                    if closing.iter().any(|t| t.info_hash == m.info_hash) {
                        pending.push_front(Request::Create(create, metainfo));
                        break;
                    }
                }
                let started = start(
                    &ctx,
                    &config,
                    create,
                    metainfo,
                    listen_error.as_deref(),
                    &torrents,
                );
                let reply: Message = match started {
                    Err(fail) => Message::new(fail),
                    Ok(Start::Already(torrent_id)) => {
                        Message::new(TIPCTorrentAlreadyDownloading { torrent_id })
                    }
                    Ok(Start::New(metainfo, save_folder)) => {
                        let torrent_id = next_id;
                        next_id += 1;
                        let info_hash = metainfo.info_hash;
                        let session = ctx.create(TorrentSession::new(SessionConfig {
                            torrent_id,
                            metainfo,
                            save_folder: save_folder.clone(),
                            peer_id,
                            listen_port: port,
                            service_name: session_service_name(&prefix, &info_hash),
                            status_interval: config.status_interval,
                            max_peers: config.max_peers,
                            upload_slots: config.upload_slots,
                            peers: config.peers.clone(),
                            finish_files: config.finish_files,
                        }));
                        let control = ctx.add_outbox("_sessionControl")?;
                        ctx.link((ctx.id(), control.as_str()), (session, "control"))?;
                        ctx.link((session, "outbox"), (ctx.id(), "_sessions"))?;
                        ctx.add_children(&[session])?;
                        ctx.activate(session)?;
                        torrents.insert(
                            torrent_id,
                            Torrent {
                                session,
                                control,
                                info_hash,
                            },
                        );
                        Message::new(TIPCNewTorrentCreated {
                            torrent_id,
                            save_folder,
                        })
                    }
                };
                ctx.send(reply, "outbox")?;
            }
            while let Ok(m) = ctx.recv("_sessions") {
                if m.is::<TIPCTorrentStatusUpdate>() {
                    ctx.send(m, "outbox")?;
                }
            }
            // Forget the sessions that ended (closed, or failed on their own), and their
            // control outboxes.
            for child in ctx.children() {
                if !ctx.is_stopped(child) {
                    continue;
                }
                ctx.remove_child(child);
                let ended = torrents
                    .iter()
                    .find(|(_, t)| t.session == child)
                    .map(|(id, _)| *id)
                    .and_then(|id| torrents.remove(&id))
                    .or_else(|| {
                        let i = closing.iter().position(|t| t.session == child)?;
                        Some(closing.swap_remove(i))
                    });
                if let Some(t) = ended {
                    // Deleting a box undoes its linkages too.
                    let _ = ctx.delete_outbox(&t.control);
                }
            }
            let waiting = pending.front().is_some_and(|r| match r {
                Request::Create(_, Ok(m)) => closing.iter().any(|t| t.info_hash == m.info_hash),
                _ => false,
            });
            if ctx.data_ready("control") == 0
                && ctx.data_ready("inbox") == 0
                && ctx.data_ready("_sessions") == 0
                && (pending.is_empty() || waiting)
            {
                ctx.pause();
            }
            ctx.yield_now().await;
        }
        // Requests not handled yet, including any that came with the stop, are answered.
        while let Ok(m) = ctx.recv("inbox") {
            if let Some(r) = Request::from_message(m) {
                pending.push_back(r);
            }
        }
        for req in pending {
            if let Request::Create(..) = req {
                ctx.send(
                    TIPCTorrentStartFail {
                        reason: "the client was stopped".to_string(),
                    },
                    "outbox",
                )?;
            }
        }
        // Stop: every torrent, then the listener; wait for all of them.
        for t in torrents.values() {
            let _ = ctx.send(ShutdownMicroprocess::default(), &t.control);
        }
        let _ = ctx.send(ShutdownMicroprocess::default(), "_serverControl");
        while ctx.children().iter().any(|c| !ctx.is_stopped(*c)) {
            while let Ok(m) = ctx.recv("_sessions") {
                let _ = ctx.send(m, "outbox");
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        while let Ok(m) = ctx.recv("_sessions") {
            let _ = ctx.send(m, "outbox");
        }
        let _ = ctx.send(ProducerFinished::default(), "signal");
        Ok(())
    }
}

/// A request, as it waits its turn.
enum Request {
    Close(u32),
    /// The request, and its .torrent parsed (or why it could not be).
    Create(TIPCCreateNewTorrent, Result<Box<Metainfo>, String>),
}

impl Request {
    fn from_message(m: Message) -> Option<Request> {
        if let Some(close) = m.downcast_ref::<TIPCCloseTorrent>() {
            return Some(Request::Close(close.torrent_id));
        }
        let create = if m.is::<TIPCCreateNewTorrent>() {
            m.downcast::<TIPCCreateNewTorrent>().ok()?
        } else {
            let raw = if m.is::<Vec<u8>>() {
                m.downcast::<Vec<u8>>().ok()?
            } else if m.is::<String>() {
                m.downcast::<String>().ok()?.into_bytes()
            } else if let Some(s) = m.downcast_ref::<&'static str>() {
                s.as_bytes().to_vec()
            } else {
                return None;
            };
            TIPCCreateNewTorrent {
                raw_metainfo: raw,
                save_folder: None,
            }
        };
        let metainfo = Metainfo::from_bytes(&create.raw_metainfo)
            .map(Box::new)
            .map_err(|e| format!("not a valid .torrent: {e}"));
        Some(Request::Create(create, metainfo))
    }
}

enum Start {
    New(Arc<Metainfo>, PathBuf),
    Already(u32),
}

fn start(
    ctx: &Ctx,
    config: &ClientConfig,
    req: TIPCCreateNewTorrent,
    metainfo: Result<Box<Metainfo>, String>,
    listen_error: Option<&str>,
    torrents: &HashMap<u32, Torrent>,
) -> Result<Start, TIPCTorrentStartFail> {
    let fail = |reason: String| {
        // Said in the reply (TIPCTorrentStartFail); logged for whoever reads logs only.
        log::info!("{}: torrent not started: {reason}", ctx.name());
        TIPCTorrentStartFail { reason }
    };
    if let Some(e) = listen_error {
        return Err(fail(e.to_string()));
    }
    let metainfo = metainfo.map_err(fail)?;
    if let Some((id, _)) = torrents
        .iter()
        .find(|(_, t)| t.info_hash == metainfo.info_hash)
    {
        return Ok(Start::Already(*id));
    }
    let folder = req
        .save_folder
        .unwrap_or_else(|| config.save_folder.clone());
    std::fs::create_dir_all(&folder)
        .map_err(|e| fail(format!("cannot make the folder {}: {e}", folder.display())))?;
    Ok(Start::New(Arc::new(*metainfo), folder))
}
