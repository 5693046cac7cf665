//! `TorrentSession`: one torrent's download and upload. It owns the torrent's
//! [`StorageWorker`], its [`Announcer`] and the connections it dials, and decides everything:
//! which blocks to ask each peer for ([`Picker`]), whom to upload to ([`Choker`]), when a peer
//! is snubbed, timed out or sends bad data too often.
//!
//! ```text
//!                 ┌──────────── PeerConnection* ─────────────┐
//!   toStorage ──> StorageWorker ──> storage    peers <── toSession     (one per peer)
//!   toAnnouncer ─> Announcer ─────> tracker    peer, peer1, ... ──> fromSession
//!   outbox ──> TIPCTorrentStatusUpdate (to the client)
//! ```
//!
//! Memory is bounded: blocks received are passed to storage at once and at most
//! [`MAX_UNWRITTEN`] bytes of them may be waiting for the disk (beyond that the session stops
//! reading its peers, which slows them down through TCP); each peer has at most
//! [`MAX_READS_PER_PEER`] blocks being read for it or waiting for its socket.
//!
//! It ends when told to on `control` (closing its peers, announcing `stopped`, letting the
//! storage worker finish the writes it holds), or when the disk fails.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use axon::{BoxSpec, Component, ComponentId, ComponentResult, Ctx, Threaded};

use super::addresses::AddressBook;
use super::announcer::{AnnounceProgress, Announcer, TrackerPeers};
use super::choker::{Choker, PeerView, RECHOKE_INTERVAL};
use super::peer::{PeerCommand, PeerConnection, PeerEvent};
use super::picker::{Block, PeerKey, Picker, Received};
use super::rate::RateMeter;
use super::storage_worker::{StorageEvent, StorageRequest, StorageWorker};
use crate::ipc::{TIPCTorrentStatusUpdate, TorrentState, TorrentStats};
use crate::metainfo::Metainfo;
use crate::tracker::announce::PeerId;
use crate::wire::{Bitfield, WireMessage, MAX_BLOCK};

/// Bytes received but not yet written to disk, at most.
pub const MAX_UNWRITTEN: u64 = 16 * 1024 * 1024;

/// Blocks being read for one peer or waiting for its socket, at most.
pub const MAX_READS_PER_PEER: u32 = 16;

/// Requests from one peer waiting to be served, at most (more are ignored).
pub const MAX_QUEUED_UPLOADS: usize = 512;

/// A request not answered in this time goes back to the pool (and is cancelled).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A peer that unchokes us but sends no block for this long, with requests outstanding,
/// counts as snubbed: no regular unchoke for it until it sends again.
pub const SNUB_TIME: Duration = Duration::from_secs(60);

/// An address that failed or left is dialled again after this long, if still known.
pub const REDIAL_AFTER: Duration = Duration::from_secs(60);

/// A peer whose data failed its piece's hash this many times is dropped and not dialled again.
pub const MAX_HASH_FAILS: u32 = 3;

/// The most peer addresses a session remembers (to dial, or dialled before).
pub const MAX_KNOWN_PEERS: usize = 5000;

/// The most addresses of one host (an IPv4 address or an IPv6 /64; loopback aside) a session
/// remembers, so dials: a tracker naming many ports of one machine cannot aim our
/// connections at it.
pub const MAX_KNOWN_PER_HOST: usize = 8;

/// The fewest and most requests kept outstanding at one peer.
const MIN_PIPELINE: usize = 32;
const MAX_PIPELINE: usize = 250;

/// A `have` for a piece just verified is held at most this long, so that the `have`s of
/// the pieces verified meanwhile go to each peer in one segment, or travel with the next
/// other message to it, instead of one small segment (a system call and a wake on both
/// sides) per piece and peer. On a fast swarm that is most of the segments sent.
pub const HAVE_DELAY: Duration = Duration::from_millis(20);

/// How many events from peers the session's `peers` inbox holds (beyond that peers wait).
const PEERS_INBOX: usize = 256;

/// What a session is told by its client (on `inbox`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionCommand {
    /// Connect to these peers too.
    AddPeers(Vec<SocketAddr>),
}

/// How a session is set up.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The torrent's id in its client.
    pub torrent_id: u32,
    /// The torrent.
    pub metainfo: Arc<Metainfo>,
    /// Its data goes in this folder.
    pub save_folder: PathBuf,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port peers can reach us on (announced to trackers).
    pub listen_port: u16,
    /// The registry name incoming connections look this session up by.
    pub service_name: String,
    /// How often to send a status update.
    pub status_interval: Duration,
    /// The most peers connected at once.
    pub max_peers: usize,
    /// How many peers are unchoked at once.
    pub upload_slots: usize,
    /// Peers to dial at start, besides those the trackers give.
    pub peers: Vec<SocketAddr>,
    /// Make the files exactly what the torrent describes once it is complete (see
    /// [`ClientConfig::finish_files`](super::client::ClientConfig::finish_files)).
    pub finish_files: bool,
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "SessionCommand from the client"),
    BoxSpec::new(
        "control",
        "Any stop message: close the peers, announce stopped, end",
    ),
    BoxSpec::new("peers", "PeerEvent from every peer connection"),
    BoxSpec::new("storage", "StorageEvent from the StorageWorker"),
    BoxSpec::new("tracker", "TrackerPeers from the Announcer"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "TIPCTorrentStatusUpdate, at each tick and on each change of state",
    ),
    BoxSpec::new("signal", "ProducerFinished when it ends"),
    BoxSpec::new("toStorage", "StorageRequest to the StorageWorker"),
    BoxSpec::new("storageControl", "Stops the StorageWorker"),
    BoxSpec::new("toAnnouncer", "AnnounceProgress to the Announcer"),
    BoxSpec::new("announcerControl", "Stops the Announcer"),
];

/// One torrent's download and upload (see the module documentation).
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use kamaelia_torrent::engine::session::{SessionConfig, TorrentSession};
/// use kamaelia_torrent::metainfo::Metainfo;
/// use kamaelia_torrent::tracker::announce::PeerId;
///
/// let bytes = std::fs::read("ubuntu.torrent").unwrap();
/// let session = TorrentSession::new(SessionConfig {
///     torrent_id: 1,
///     metainfo: Arc::new(Metainfo::from_bytes(&bytes).unwrap()),
///     save_folder: "downloads".into(),
///     peer_id: PeerId::generate(),
///     listen_port: 6881,
///     service_name: "torrents/".into(),
///     status_interval: Duration::from_secs(1),
///     max_peers: 50,
///     upload_slots: 4,
///     peers: vec![],
///     finish_files: true,
/// });
/// # let _ = session;
/// ```
pub struct TorrentSession {
    config: SessionConfig,
}

impl TorrentSession {
    /// A session for the torrent in `config`.
    pub fn new(config: SessionConfig) -> TorrentSession {
        TorrentSession { config }
    }
}

/// What the session knows of one connected peer.
struct Peer {
    connection: ComponentId,
    outbox: String,
    peer_id: PeerId,
    /// Refused (duplicate, too many, banned) or to be dropped: being closed.
    refused: bool,
    close_sent: bool,
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    down: RateMeter,
    up: RateMeter,
    connected_at: Instant,
    last_block: Instant,
    snubbed: bool,
    uploads: VecDeque<Block>,
    reads: u32,
    hash_fails: u32,
    pending: Vec<WireMessage>,
    wants_requests: bool,
}

impl Peer {
    fn pipeline(&self, now: Instant) -> usize {
        // About a second's worth of blocks at the rate it sends, within bounds.
        let per_second = self.down.rate(now) / super::picker::BLOCK_SIZE as f64;
        (per_second as usize).clamp(MIN_PIPELINE, MAX_PIPELINE)
    }
}

/// The session's working state.
struct State {
    cfg: SessionConfig,
    /// Why the torrent stopped, if a failure stopped it.
    error: Option<String>,
    picker: Option<Picker>,
    total: u64,
    state: TorrentState,
    peers: HashMap<PeerKey, Peer>,
    /// Peers being dialled, by address: the connection and our outbox to it.
    dialing: HashMap<PeerKey, (ComponentId, String)>,
    /// Addresses to dial.
    candidates: VecDeque<PeerKey>,
    /// Addresses to dial again, and those that failed (bounded: [`MAX_KNOWN_PEERS`]).
    book: AddressBook,
    /// Peers dropped for bad data: not dialled or accepted again, kept by [`ban_id`] (the IP
    /// address, as other clients do: a peer that dials us has a new port every time; honest
    /// peers behind the same NAT share the ban).
    banned: HashSet<SocketAddr>,
    choker: Choker,
    down: RateMeter,
    up: RateMeter,
    unwritten: u64,
    /// Bytes of blocks received that were not wanted (endgame duplicates, late answers).
    wasted: u64,
    announcer: Option<ComponentId>,
    /// Since when `have`s wait, alone, in some peer's `pending` (see [`HAVE_DELAY`]).
    haves_since: Option<Instant>,
    status_now: bool,
    rechoke_now: bool,
}

impl Component for TorrentSession {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let cfg = self.config;
        let info = cfg.metainfo.info.clone();
        let total = info.total_length();
        ctx.set_inbox_size("peers", Some(PEERS_INBOX))?;
        // First, so that nothing has been started if the name is taken.
        ctx.register_service(&cfg.service_name, (ctx.id(), "peers"))?;
        let storage = ctx.create(Threaded::new(
            StorageWorker::new(cfg.save_folder.clone(), info).finish_files(cfg.finish_files),
        ));
        ctx.link((ctx.id(), "toStorage"), (storage, "inbox"))?;
        ctx.link((ctx.id(), "storageControl"), (storage, "control"))?;
        ctx.link((storage, "outbox"), (ctx.id(), "storage"))?;
        ctx.add_children(&[storage])?;
        ctx.activate(storage)?;
        let seed = u64::from_le_bytes(cfg.peer_id.0[12..20].try_into().unwrap_or([7; 8]))
            ^ cfg.torrent_id as u64;
        let mut s = State {
            error: None,
            candidates: cfg.peers.iter().copied().collect(),
            // Past MAX_KNOWN_PEERS given peers, the rest are dialled once but not kept to
            // dial again.
            book: {
                let mut book =
                    AddressBook::new(MAX_KNOWN_PEERS, REDIAL_AFTER).per_host(MAX_KNOWN_PER_HOST);
                for &p in &cfg.peers {
                    book.learn(p);
                }
                book
            },
            choker: Choker::new(cfg.upload_slots, seed),
            cfg,
            picker: None,
            total,
            state: TorrentState::Checking,
            peers: HashMap::new(),
            dialing: HashMap::new(),
            banned: HashSet::new(),
            down: RateMeter::default(),
            up: RateMeter::default(),
            unwritten: 0,
            wasted: 0,
            announcer: None,
            haves_since: None,
            status_now: true,
            rechoke_now: false,
        };
        let start = Instant::now();
        let mut next_tick = start;
        let mut next_second = start + Duration::from_secs(1);
        let mut next_rechoke = start + RECHOKE_INTERVAL;
        let mut timer_at = start;
        let mut stop_reason: Option<String> = None;
        // The work, until told to stop or failing; whatever ends it, the children are stopped.
        let outcome: Result<String, axon::Error> = async {
            loop {
                if let Ok(m) = ctx.recv("control") {
                    stop_reason = Some(format!("told to stop ({})", m.type_name()));
                }
                while let Ok(m) = ctx.recv("storage") {
                    if let Ok(ev) = m.downcast::<StorageEvent>() {
                        if let Err(e) = s.on_storage(&ctx, ev) {
                            stop_reason = Some(e);
                        }
                    }
                }
                while let Ok(m) = ctx.recv("tracker") {
                    if let Ok(TrackerPeers { peers }) = m.downcast::<TrackerPeers>() {
                        s.add_candidates(peers);
                    }
                }
                while let Ok(m) = ctx.recv("inbox") {
                    if let Ok(SessionCommand::AddPeers(peers)) = m.downcast::<SessionCommand>() {
                        s.add_candidates(peers);
                    }
                }
                if let Some(reason) = stop_reason.take() {
                    return Ok(reason);
                }
                // Peers wait while the torrent is being checked, and while the disk lags.
                if s.picker.is_some() {
                    let mut n = 0;
                    while s.unwritten < MAX_UNWRITTEN && n < 4 * PEERS_INBOX {
                        let Ok(m) = ctx.recv("peers") else { break };
                        n += 1;
                        if let Ok(ev) = m.downcast::<PeerEvent>() {
                            s.on_peer(&ctx, ev)?;
                        }
                    }
                }
                let now = Instant::now();
                if now >= next_second {
                    s.expire(&ctx, now);
                    next_second = now + Duration::from_secs(1);
                }
                if now >= next_rechoke || s.rechoke_now {
                    s.rechoke(now);
                    next_rechoke = now + RECHOKE_INTERVAL;
                }
                s.request_more(now);
                s.read_more(&ctx)?;
                s.dial(&ctx)?;
                s.flush(&ctx, now);
                if now >= next_tick || s.status_now {
                    s.send_status(&ctx, now);
                    next_tick = now + s.cfg.status_interval;
                }
                let mut next = next_tick.min(next_second).min(next_rechoke);
                if let Some(since) = s.haves_since {
                    next = next.min(since + HAVE_DELAY);
                }
                if next != timer_at || timer_at <= now {
                    ctx.wake_at(next);
                    timer_at = next;
                }
                let busy = ctx.data_ready("control") > 0
                    || ctx.data_ready("storage") > 0
                    || ctx.data_ready("tracker") > 0
                    || ctx.data_ready("inbox") > 0
                    || (s.picker.is_some()
                        && s.unwritten < MAX_UNWRITTEN
                        && ctx.data_ready("peers") > 0);
                if !busy {
                    ctx.pause();
                }
                ctx.yield_now().await;
            }
        }
        .await;
        match &outcome {
            Ok(reason) => log::debug!("{}: stopping: {reason}", ctx.name()),
            Err(e) => log::error!("{}: stopping after a failure: {e}", ctx.name()),
        }
        let _ = s.shutdown(&ctx).await;
        let _ = ctx.deregister_service(&s.cfg.service_name);
        let _ = ctx.send(ProducerFinished::default(), "signal");
        outcome?;
        Ok(())
    }
}

/// What a ban is kept under: the IP address alone (a banned peer that dials us again comes
/// from another port), except on loopback, where several peers share one IP (tests, demos).
fn ban_id(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_loopback() {
        addr
    } else {
        SocketAddr::new(addr.ip(), 0)
    }
}

impl State {
    fn add_candidates(&mut self, peers: Vec<SocketAddr>) {
        for p in peers {
            // Our own listening address, as a tracker hands it back to us.
            let ours = p.port() == self.cfg.listen_port
                && (p.ip().is_loopback() || p.ip().is_unspecified());
            // Bounded: a tracker (or a hostile one) cannot grow the book for ever; when it
            // is full, a new address replaces the one that failed longest ago.
            if !ours && self.book.learn(p) && !self.banned.contains(&ban_id(p)) {
                self.candidates.push_back(p);
            }
        }
    }

    fn on_storage(&mut self, ctx: &Ctx, ev: StorageEvent) -> Result<(), String> {
        match ev {
            StorageEvent::Checked { have } => {
                let info = &self.cfg.metainfo.info;
                let picker = Picker::new(info.piece_length, self.total, have);
                let left = picker.bytes_left();
                self.state = if picker.is_complete() {
                    TorrentState::Seeding
                } else {
                    TorrentState::Downloading
                };
                self.picker = Some(picker);
                self.status_now = true;
                let tiers = self.cfg.metainfo.trackers();
                let a = ctx.create(Threaded::new(Announcer::new(
                    tiers,
                    self.cfg.metainfo.info_hash,
                    self.cfg.peer_id,
                    self.cfg.listen_port,
                    left,
                )));
                let _ = ctx.link((ctx.id(), "toAnnouncer"), (a, "inbox"));
                let _ = ctx.link((ctx.id(), "announcerControl"), (a, "control"));
                let _ = ctx.link((a, "outbox"), (ctx.id(), "tracker"));
                let _ = ctx.add_children(&[a]);
                let _ = ctx.activate(a);
                self.announcer = Some(a);
            }
            StorageEvent::Written { bytes } => {
                self.unwritten = self.unwritten.saturating_sub(bytes);
            }
            StorageEvent::Verified { piece, ok } => {
                let Some(picker) = self.picker.as_mut() else {
                    return Ok(());
                };
                let senders = picker.piece_verified(piece, ok);
                if ok {
                    for p in self.peers.values_mut().filter(|p| !p.refused) {
                        p.pending.push(WireMessage::Have(piece));
                    }
                    self.haves_since.get_or_insert_with(Instant::now);
                    if picker.is_complete() && self.state == TorrentState::Downloading {
                        // Every piece was read back from the files and matched its hash.
                        log::debug!(
                            "{}: every piece verified ({} bytes received unasked or twice)",
                            ctx.name(),
                            self.wasted
                        );
                        self.state = TorrentState::Seeding;
                        self.status_now = true;
                        let _ = ctx.send(
                            AnnounceProgress {
                                uploaded: self.up.total(),
                                downloaded: self.down.total(),
                                left: 0,
                                completed: true,
                            },
                            "toAnnouncer",
                        );
                        for (key, p) in self.peers.iter_mut() {
                            if p.am_interested {
                                p.am_interested = false;
                                p.pending.push(WireMessage::NotInterested);
                            }
                            // Two seeds have nothing to say to each other.
                            if picker.peer_is_seed(*key) {
                                p.refused = true;
                            }
                        }
                    }
                } else {
                    log::info!(
                        "{}: piece {piece} failed its hash check (from {senders:?})",
                        ctx.name()
                    );
                    for key in senders {
                        if let Some(p) = self.peers.get_mut(&key) {
                            p.hash_fails += 1;
                            if p.hash_fails >= MAX_HASH_FAILS {
                                log::info!("{}: dropping {key}: too much bad data", ctx.name());
                                self.banned.insert(ban_id(key));
                                p.refused = true;
                            }
                        }
                    }
                }
            }
            StorageEvent::ReadDone { peer, block, data } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    if p.am_choking || p.refused {
                        p.reads = p.reads.saturating_sub(1);
                    } else {
                        p.pending.push(WireMessage::Piece {
                            index: block.piece,
                            begin: block.begin,
                            data: data.into(),
                        });
                    }
                }
            }
            StorageEvent::ReadFailed { peer, .. } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.reads = p.reads.saturating_sub(1);
                }
            }
            StorageEvent::Failed { error } => {
                // Said in the last status update (`TorrentStats::error`), and logged.
                self.state = TorrentState::Stopped;
                self.status_now = true;
                self.error = Some(error.clone());
                log::info!("{}: {error}", ctx.name());
                return Err(error);
            }
        }
        Ok(())
    }

    fn on_peer(&mut self, ctx: &Ctx, ev: PeerEvent) -> Result<(), axon::Error> {
        let now = Instant::now();
        match ev {
            PeerEvent::Hello {
                key,
                connection,
                peer_id,
                incoming,
            } => {
                let dialled = self.dialing.remove(&key);
                let duplicate = self.peers.contains_key(&key)
                    || self
                        .peers
                        .values()
                        .any(|p| p.peer_id == peer_id && !p.refused);
                let refuse = duplicate
                    || self.peers.len() >= self.cfg.max_peers
                    || self.banned.contains(&ban_id(key))
                    || matches!(self.state, TorrentState::Stopped);
                let outbox = match dialled {
                    Some((_, outbox)) => outbox,
                    None => {
                        let outbox = ctx.add_outbox("peer")?;
                        if let Err(e) =
                            ctx.link((ctx.id(), outbox.as_str()), (connection, "fromSession"))
                        {
                            // The connection ended before its Hello was read (its Gone follows).
                            log::debug!("{}: {key} left at once: {e}", ctx.name());
                            let _ = ctx.delete_outbox(&outbox);
                            return Ok(());
                        }
                        outbox
                    }
                };
                if self.peers.contains_key(&key) {
                    // A second connection from the same address and port (a port reused at
                    // once): close it without a record of its own.
                    let _ = ctx.send(PeerCommand::Close, &outbox);
                    let _ = ctx.delete_outbox(&outbox); // its linkages go with it
                    return Ok(());
                }
                log::debug!(
                    "{}: peer {key} ({}) {}",
                    ctx.name(),
                    if incoming { "dialled us" } else { "answered" },
                    if refuse { "refused" } else { "joined" }
                );
                let mut p = Peer {
                    connection,
                    outbox,
                    peer_id,
                    refused: refuse,
                    close_sent: false,
                    am_choking: true,
                    am_interested: false,
                    peer_choking: true,
                    peer_interested: false,
                    down: RateMeter::default(),
                    up: RateMeter::default(),
                    connected_at: now,
                    last_block: now,
                    snubbed: false,
                    uploads: VecDeque::new(),
                    reads: 0,
                    hash_fails: 0,
                    pending: Vec::new(),
                    wants_requests: false,
                };
                if !refuse {
                    let picker = self.picker.as_mut().expect("peers wait for the check");
                    picker.add_peer(key);
                    if picker.have().count() > 0 {
                        p.pending
                            .push(WireMessage::Bitfield(picker.have().as_bytes().to_vec()));
                    }
                }
                self.peers.insert(key, p);
            }
            PeerEvent::Wire { key, msg } => self.on_wire(ctx, key, msg, now),
            PeerEvent::Uploaded { key, blocks, bytes } => {
                self.up.add(bytes, now);
                if let Some(p) = self.peers.get_mut(&key) {
                    p.reads = p.reads.saturating_sub(blocks);
                    p.up.add(bytes, now);
                }
            }
            PeerEvent::Gone {
                key,
                connection,
                reason,
            } => {
                if let Some((c, outbox)) = self.dialing.remove(&key) {
                    log::debug!("{}: could not use {key}: {reason}", ctx.name());
                    self.book.failed(key, now);
                    let _ = ctx.delete_outbox(&outbox); // its linkages go with it
                    ctx.remove_child(c);
                }
                if self
                    .peers
                    .get(&key)
                    .is_some_and(|p| p.connection == connection)
                {
                    let p = self.peers.remove(&key).expect("just seen");
                    log::debug!("{}: peer {key} gone: {reason}", ctx.name());
                    let _ = ctx.delete_outbox(&p.outbox); // its linkages go with it
                    if let Some(picker) = self.picker.as_mut() {
                        picker.remove_peer(key);
                    }
                    self.choker.peer_gone(key);
                    if ctx.children().contains(&p.connection) {
                        ctx.remove_child(p.connection);
                    }
                    if !p.refused {
                        // Its upload slot is free for another (rechoke at once only then).
                        self.rechoke_now |= !p.am_choking;
                        // A peer we may dial again later, if it was a good one and its
                        // address is one to dial (not the passing port of a peer that
                        // dialled us).
                        if self.book.is_known(key) {
                            self.book.failed(key, now);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn on_wire(&mut self, ctx: &Ctx, key: PeerKey, msg: WireMessage, now: Instant) {
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        if p.refused {
            return;
        }
        match msg {
            WireMessage::Choke => {
                p.peer_choking = true;
                picker.peer_choked(key);
            }
            WireMessage::Unchoke => {
                p.peer_choking = false;
                p.last_block = now;
                p.wants_requests = true;
            }
            WireMessage::Interested => {
                p.peer_interested = true;
                // A new interested peer is unchoked at once only if a slot is free; otherwise
                // it waits for the regular rechoke (BEP 3: no choking churn).
                let unchoked = self
                    .peers
                    .values()
                    .filter(|q| !q.am_choking && !q.refused)
                    .count();
                let p = self.peers.get_mut(&key).expect("checked above");
                if p.am_choking && unchoked < self.cfg.upload_slots {
                    self.rechoke_now = true;
                }
            }
            WireMessage::NotInterested => p.peer_interested = false,
            WireMessage::Have(i) => {
                picker.peer_have(key, i);
                if picker.is_complete() && picker.peer_is_seed(key) {
                    // It has just become a seed, and so are we.
                    p.refused = true;
                }
                if !p.am_interested
                    && (i as usize) < picker.have().len()
                    && !picker.have().has(i as usize)
                {
                    p.am_interested = true;
                    p.pending.push(WireMessage::Interested);
                    p.wants_requests = true;
                }
            }
            WireMessage::Bitfield(bytes) => {
                let Some(bits) = Bitfield::from_bytes(&bytes, picker.have().len()) else {
                    log::debug!("{}: {key} sent a malformed bitfield", ctx.name());
                    p.refused = true;
                    return;
                };
                picker.peer_bitfield(key, &bits);
                if !p.am_interested && picker.interesting(key) {
                    p.am_interested = true;
                    p.pending.push(WireMessage::Interested);
                    p.wants_requests = true;
                }
                if picker.is_complete() && picker.peer_is_seed(key) {
                    p.refused = true;
                }
            }
            WireMessage::Request {
                index,
                begin,
                length,
            } => {
                let size = picker.piece_size(index);
                let valid = length > 0
                    && length <= MAX_BLOCK
                    && (index as usize) < picker.have().len()
                    && picker.have().has(index as usize)
                    && begin as u64 + length as u64 <= size as u64;
                if !valid {
                    log::debug!("{}: {key} asked for a block we cannot give", ctx.name());
                } else if !p.am_choking && p.uploads.len() < MAX_QUEUED_UPLOADS {
                    p.uploads.push_back(Block {
                        piece: index,
                        begin,
                        length,
                    });
                }
            }
            WireMessage::Cancel {
                index,
                begin,
                length,
            } => {
                let b = Block {
                    piece: index,
                    begin,
                    length,
                };
                p.uploads.retain(|x| *x != b);
            }
            WireMessage::Piece { index, begin, data } => {
                let block = Block {
                    piece: index,
                    begin,
                    length: data.len() as u32,
                };
                match picker.block_received(key, block) {
                    Received::Unwanted => self.wasted += data.len() as u64,
                    Received::Accepted {
                        piece_complete,
                        cancels,
                    } => {
                        let n = data.len() as u64;
                        p.down.add(n, now);
                        p.last_block = now;
                        p.snubbed = false;
                        p.wants_requests = true;
                        self.down.add(n, now);
                        self.unwritten += n;
                        let _ = ctx.send(StorageRequest::Write { block, data }, "toStorage");
                        if piece_complete {
                            let _ = ctx.send(StorageRequest::Verify { piece: index }, "toStorage");
                        }
                        for (other, b) in cancels {
                            if let Some(o) = self.peers.get_mut(&other) {
                                o.pending.push(WireMessage::Cancel {
                                    index: b.piece,
                                    begin: b.begin,
                                    length: b.length,
                                });
                            }
                        }
                    }
                }
            }
            WireMessage::KeepAlive | WireMessage::Other { .. } => {}
        }
    }

    /// Once a second: requests that waited too long go back to the pool; peers that send
    /// nothing while they owe us blocks count as snubbed; addresses that failed or left may
    /// be dialled again; connections that ended without a word are forgotten.
    fn expire(&mut self, ctx: &Ctx, now: Instant) {
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        for (key, b) in picker.expired(now, REQUEST_TIMEOUT) {
            if let Some(p) = self.peers.get_mut(&key) {
                p.pending.push(WireMessage::Cancel {
                    index: b.piece,
                    begin: b.begin,
                    length: b.length,
                });
            }
        }
        for (key, p) in self.peers.iter_mut() {
            p.wants_requests = true;
            let owes = !p.peer_choking && picker.outstanding(*key) > 0;
            p.snubbed = owes && now.duration_since(p.last_block) >= SNUB_TIME;
        }
        let again = self.book.due(now);
        for addr in again {
            if !self.peers.contains_key(&addr) && !self.banned.contains(&ban_id(addr)) {
                self.candidates.push_back(addr);
            }
        }
        // A connection whose Gone was lost (it gave up on a full inbox) is dropped here.
        let dead: Vec<(PeerKey, ComponentId)> = self
            .peers
            .iter()
            .filter(|(_, p)| ctx.is_stopped(p.connection))
            .map(|(k, p)| (*k, p.connection))
            .collect();
        for (key, connection) in dead {
            let _ = self.on_peer(
                ctx,
                PeerEvent::Gone {
                    key,
                    connection,
                    reason: "ended".to_string(),
                },
            );
        }
    }

    fn rechoke(&mut self, now: Instant) {
        self.rechoke_now = false;
        let seeding = self.state == TorrentState::Seeding;
        let views: Vec<PeerView> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.refused)
            .map(|(key, p)| PeerView {
                key: *key,
                interested: p.peer_interested,
                down_rate: p.down.rate(now),
                up_rate: p.up.rate(now),
                snubbed: p.snubbed,
                connected_at: p.connected_at,
            })
            .collect();
        let unchoke: HashSet<PeerKey> = self
            .choker
            .rechoke(&views, seeding, now)
            .into_iter()
            .collect();
        for (key, p) in self.peers.iter_mut().filter(|(_, p)| !p.refused) {
            let want_choke = !unchoke.contains(key);
            if want_choke != p.am_choking {
                p.am_choking = want_choke;
                if want_choke {
                    p.uploads.clear();
                    p.pending.push(WireMessage::Choke);
                } else {
                    p.pending.push(WireMessage::Unchoke);
                }
            }
        }
    }

    /// Keeps each unchoking peer's request pipeline full.
    fn request_more(&mut self, now: Instant) {
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        if picker.is_complete() {
            return;
        }
        for (key, p) in self.peers.iter_mut() {
            if !p.wants_requests || p.refused || p.peer_choking || !p.am_interested {
                continue;
            }
            p.wants_requests = false;
            let depth = p.pipeline(now);
            if picker.outstanding(*key) * 2 > depth {
                // Top up in batches, not one request per block received.
                continue;
            }
            let new = picker.next_requests(*key, depth, now);
            if new.is_empty() && picker.outstanding(*key) == 0 && !picker.interesting(*key) {
                p.am_interested = false;
                p.pending.push(WireMessage::NotInterested);
            }
            p.pending
                .extend(new.into_iter().map(|b| WireMessage::Request {
                    index: b.piece,
                    begin: b.begin,
                    length: b.length,
                }));
        }
    }

    /// Asks storage for the blocks unchoked peers requested, a few at a time per peer.
    fn read_more(&mut self, ctx: &Ctx) -> Result<(), axon::Error> {
        for (key, p) in self.peers.iter_mut() {
            while p.reads < MAX_READS_PER_PEER && !p.am_choking && !p.refused {
                let Some(block) = p.uploads.pop_front() else {
                    break;
                };
                p.reads += 1;
                let _ = ctx.send(StorageRequest::Read { peer: *key, block }, "toStorage");
            }
        }
        Ok(())
    }

    /// Dials candidates while there is room.
    fn dial(&mut self, ctx: &Ctx) -> Result<(), axon::Error> {
        if self.picker.is_none() || self.state == TorrentState::Stopped {
            return Ok(());
        }
        let mut skipped = Vec::new();
        while self.peers.len() + self.dialing.len() < self.cfg.max_peers {
            let Some(addr) = self.candidates.pop_front() else {
                break;
            };
            if self.peers.contains_key(&addr) || self.dialing.contains_key(&addr) {
                continue;
            }
            if self.book.has_failed(addr) || self.banned.contains(&ban_id(addr)) {
                skipped.push(addr);
                continue;
            }
            let c = ctx.create(PeerConnection::outgoing(
                addr,
                self.cfg.peer_id,
                self.cfg.metainfo.info_hash,
                (ctx.id(), "peers".to_string()),
            ));
            let outbox = ctx.add_outbox("peer")?;
            ctx.link((ctx.id(), outbox.as_str()), (c, "fromSession"))?;
            ctx.add_children(&[c])?;
            ctx.activate(c)?;
            self.dialing.insert(addr, (c, outbox));
        }
        self.candidates.extend(skipped);
        Ok(())
    }

    /// Sends each peer what was queued for it this cycle, in one message, except `have`s
    /// alone, held for at most [`HAVE_DELAY`]; closes refused ones.
    fn flush(&mut self, ctx: &Ctx, now: Instant) {
        let hold_haves = self
            .haves_since
            .is_some_and(|since| now < since + HAVE_DELAY && self.state != TorrentState::Seeding);
        let mut held = false;
        for p in self.peers.values_mut() {
            let haves_alone = || p.pending.iter().all(|m| matches!(m, WireMessage::Have(_)));
            if hold_haves && !p.pending.is_empty() && haves_alone() {
                held = true;
            } else if !p.pending.is_empty() {
                let msgs = std::mem::take(&mut p.pending);
                let _ = ctx.send(PeerCommand::Send(msgs), &p.outbox);
            }
            if p.refused && !p.uploads.is_empty() {
                p.uploads.clear();
            }
        }
        for p in self
            .peers
            .values_mut()
            .filter(|p| p.refused && !p.close_sent)
        {
            let _ = ctx.send(PeerCommand::Close, &p.outbox);
            p.close_sent = true;
        }
        if !held {
            self.haves_since = None;
        }
    }

    fn stats(&self, now: Instant) -> TorrentStats {
        let left = self.picker.as_ref().map_or(self.total, |p| p.bytes_left());
        let fraction_done = if self.total == 0 {
            if self.picker.is_some() {
                1.0
            } else {
                0.0
            }
        } else if left == 0 {
            1.0
        } else {
            (self.total - left) as f64 / self.total as f64
        };
        let down_rate = self.down.rate(now);
        let active: Vec<_> = self.peers.iter().filter(|(_, p)| !p.refused).collect();
        let num_seeds = self.picker.as_ref().map_or(0, |picker| {
            active
                .iter()
                .filter(|(k, _)| picker.peer_is_seed(**k))
                .count()
        });
        TorrentStats {
            fraction_done,
            down_rate,
            up_rate: self.up.rate(now),
            down_total: self.down.total(),
            up_total: self.up.total(),
            num_peers: active.len() as u32,
            num_seeds: num_seeds as u32,
            state: self.state,
            eta_seconds: (self.state == TorrentState::Downloading && down_rate >= 1.0)
                .then(|| (left as f64 / down_rate).ceil() as u64),
            error: self.error.clone(),
        }
    }

    fn send_status(&mut self, ctx: &Ctx, now: Instant) {
        self.status_now = false;
        let stats = self.stats(now);
        if self.announcer.is_some() {
            let _ = ctx.send(
                AnnounceProgress {
                    uploaded: stats.up_total,
                    downloaded: stats.down_total,
                    left: self.picker.as_ref().map_or(self.total, |p| p.bytes_left()),
                    completed: false,
                },
                "toAnnouncer",
            );
        }
        let _ = ctx.send(
            TIPCTorrentStatusUpdate {
                torrent_id: self.cfg.torrent_id,
                stats,
            },
            "outbox",
        );
    }

    /// Closes every peer, stops the announcer and the storage worker (which writes what it
    /// holds first), and waits a little for them to end.
    async fn shutdown(&mut self, ctx: &Ctx) -> Result<(), axon::Error> {
        for p in self.peers.values() {
            let _ = ctx.send(PeerCommand::Close, &p.outbox);
        }
        for (_, outbox) in self.dialing.values() {
            let _ = ctx.send(PeerCommand::Close, outbox);
        }
        let _ = ctx.send(ShutdownMicroprocess::default(), "announcerControl");
        let _ = ctx.send(ShutdownMicroprocess::default(), "storageControl");
        self.state = TorrentState::Stopped;
        let deadline = Instant::now() + Duration::from_secs(10);
        ctx.wake_at(deadline);
        loop {
            // Let peers report their end; drop whatever else arrives.
            while let Ok(m) = ctx.recv("peers") {
                match m.downcast::<PeerEvent>() {
                    Ok(PeerEvent::Gone {
                        key, connection, ..
                    }) => {
                        if self
                            .peers
                            .get(&key)
                            .is_some_and(|p| p.connection == connection)
                        {
                            self.peers.remove(&key);
                        }
                        self.dialing.remove(&key);
                    }
                    // A peer that arrived as we stop: told to go at once.
                    Ok(PeerEvent::Hello { connection, .. }) => {
                        if let Ok(out) = ctx.add_outbox("peer") {
                            let link =
                                ctx.link((ctx.id(), out.as_str()), (connection, "fromSession"));
                            if link.is_ok() {
                                let _ = ctx.send(PeerCommand::Close, &out);
                            }
                        }
                    }
                    _ => {}
                }
            }
            while ctx.recv("storage").is_ok() {}
            while ctx.recv("tracker").is_ok() {}
            let children_left = ctx.children().iter().any(|c| !ctx.is_stopped(*c));
            if (!children_left && self.peers.is_empty()) || Instant::now() >= deadline {
                break;
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        let now = Instant::now();
        self.status_now = true;
        self.send_status(ctx, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_covers_every_port_of_an_ip_except_on_loopback() {
        let a: SocketAddr = "192.0.2.7:51413".parse().unwrap();
        let b: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        assert_eq!(ban_id(a), ban_id(b));
        assert_ne!(ban_id(a), ban_id("192.0.2.8:51413".parse().unwrap()));
        let l1: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let l2: SocketAddr = "127.0.0.1:6882".parse().unwrap();
        assert_ne!(ban_id(l1), ban_id(l2));
        let v6: SocketAddr = "[2001:db8::1]:6881".parse().unwrap();
        assert_eq!(ban_id(v6), ban_id("[2001:db8::1]:7000".parse().unwrap()));
    }
}
