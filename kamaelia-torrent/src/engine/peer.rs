//! `PeerConnection`: one peer, spoken to in the BitTorrent peer wire protocol (BEP 3).
//!
//! It sits on a socket component (axon's `TCPClient` for peers we dial, the
//! `ConnectedSocketAdapter` made by `ServerCore` for peers that dial us), checks the
//! handshake, then turns the byte stream into [`PeerEvent`]s for its torrent's session and the
//! session's [`PeerCommand`]s into bytes. It makes no decisions: the session does.
//!
//! ```text
//!   socket ──bytes──> inbox    PeerConnection   toSession ──PeerEvent──> session's "peers"
//!   socket <──bytes── outbox                    fromSession <─PeerCommand── session
//!   socket <─stop──── signal                    control <── the socket's end
//! ```
//!
//! A peer that dials us names its torrent in its handshake; the connection finds that
//! torrent's session in the service registry (see [`session_service_name`]) and links itself
//! to it. The handshake is refused (the connection closed) if it is not BitTorrent's, names a
//! torrent we do not have or the wrong one, or carries our own peer id (we dialled ourselves).
//!
//! Back-pressure: the `inbox` holds a few chunks only; while the session's `peers` inbox is
//! full the connection stops decoding, so the socket stops being read and TCP slows the peer
//! down. Bytes refused by a full socket inbox are kept and sent when it has room, up to
//! [`MAX_UNSENT`]: a peer that lets more wait than that does not read, and is closed.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axon::internet::tcp_client::{SocketError, TCPClient};
use axon::internet::tcp_server::{PeerClose, SocketConfig};
use axon::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess};
use axon::{BoxSpec, Component, ComponentId, ComponentResult, Ctx, Message};

use super::addresses::HostCounts;
use super::picker::PeerKey;
use crate::metainfo::InfoHash;
use crate::tracker::announce::PeerId;
use crate::wire::{Decoder, Handshake, WireMessage, HANDSHAKE_LEN};

/// Nothing received for this long: the peer is gone (BEP 3 suggests two minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// The handshake must be complete within this time of the connection's start.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Nothing sent for this long: send a keep-alive (checked every 15 s, so a
/// peer hears from us at least every 105 s, within the two minutes peers commonly allow).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(90);

/// How often the keep-alive is checked.
const KEEPALIVE_CHECK: Duration = Duration::from_secs(15);

/// After `Close`, how long a peer that does not read may hold us before it is cut off.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The longest a dial may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many chunks from the socket may wait in the `inbox`.
const INBOX_CHUNKS: usize = 8;

/// Events held back while the session's inbox is full, at most.
const MAX_HELD_EVENTS: usize = 16;

/// Bytes waiting for a peer that does not read what we send, at most: past this the
/// connection is closed. Piece data for one peer is bounded by the session (at most 16 blocks
/// read for it at a time), but the small messages are not: a peer that choked and unchoked us
/// without ever reading got 32 fresh requests each time, and our memory grew by the
/// megabyte a second.
pub const MAX_UNSENT: usize = 4 * 1024 * 1024;

/// A block's data at least this long goes to the socket as a segment of its own (not
/// copied); a shorter one is copied in with the small messages.
const MIN_SEGMENT: usize = 4096;

/// How many segments may wait in the socket component's inbox: a block takes two (its
/// header, with the small messages before it, and its data), so this is 32 blocks.
pub const SOCKET_INBOX: usize = 64;

/// The settings of a peer's socket component: [`SOCKET_INBOX`] segments may wait to be
/// written; `peer_close` as given.
pub fn socket_config(peer_close: PeerClose) -> SocketConfig {
    SocketConfig {
        inbox_size: Some(SOCKET_INBOX),
        peer_close,
        ..SocketConfig::default()
    }
}

/// What a peer connection tells its session (on `toSession`).
#[derive(Debug)]
pub enum PeerEvent {
    /// The handshake is done: the first event of every connection.
    Hello {
        /// The peer's address.
        key: PeerKey,
        /// The connection component, to link commands to (its `fromSession` inbox).
        connection: ComponentId,
        /// The peer's id from its handshake.
        peer_id: PeerId,
        /// True if the peer dialled us.
        incoming: bool,
    },
    /// A message from the peer (keep-alives and unknown messages are not passed on).
    Wire {
        /// The peer.
        key: PeerKey,
        /// What it sent.
        msg: WireMessage,
    },
    /// Piece data was handed to the socket.
    Uploaded {
        /// The peer.
        key: PeerKey,
        /// How many blocks.
        blocks: u32,
        /// How many bytes of data.
        bytes: u64,
    },
    /// The connection ended: the last event (also sent, without a `Hello` before it, when a
    /// peer we dialled could not be reached or failed its handshake).
    Gone {
        /// The peer.
        key: PeerKey,
        /// The connection component (a second connection from the same address differs).
        connection: ComponentId,
        /// Why.
        reason: String,
    },
}

/// What the session asks of a connection (on `fromSession`).
#[derive(Debug)]
pub enum PeerCommand {
    /// Send these messages, in order.
    Send(Vec<WireMessage>),
    /// Finish sending what is queued, then close.
    Close,
}

/// A count of live connections shared by the connections of one listener, with a limit in
/// all and one for each IP address: a connection holds a [`Slot`] while it lives, and one
/// that gets none closes at once. The limit per address keeps one address from taking every
/// place (before its handshakes, or with many peer ids after them) and so locking everyone
/// else out; loopback addresses count only in the total (tests and demos run whole swarms on
/// 127.0.0.1).
///
/// ```
/// use std::net::SocketAddr;
/// use kamaelia_torrent::engine::peer::ConnectionLimit;
///
/// let limit = ConnectionLimit::new(4).per_address(2);
/// let at = |s: &str| s.parse::<SocketAddr>().unwrap();
/// let first = limit.take_for(at("192.0.2.7:6881")).expect("room for one");
/// let _second = limit.take_for(at("192.0.2.7:6882")).expect("and a second");
/// assert!(limit.take_for(at("192.0.2.7:6883")).is_none(), "two from one address");
/// let _other = limit.take_for(at("198.51.100.1:6881")).expect("another address");
/// let _local = limit.take_for(at("127.0.0.1:7000")).expect("loopback: the total only");
/// assert!(limit.take_for(at("127.0.0.1:7001")).is_none(), "four in all");
/// drop(first);
/// assert!(limit.take_for(at("192.0.2.7:6884")).is_some(), "its place is free again");
///
/// // IPv4 peers on a dual-stack listener count as themselves; an IPv6 /64 counts as one.
/// let limit = ConnectionLimit::new(10).per_address(1);
/// let _v4 = limit.take_for(at("192.0.2.9:1")).unwrap();
/// assert!(limit.take_for(at("[::ffff:192.0.2.9]:2")).is_none());
/// let _v6 = limit.take_for(at("[2001:db8:0:1::5]:1")).unwrap();
/// assert!(limit.take_for(at("[2001:db8:0:1:ffff::6]:1")).is_none(), "same /64");
/// assert!(limit.take_for(at("[2001:db8:0:2::5]:1")).is_some(), "another /64");
/// let _l1 = limit.take_for(at("[::ffff:127.0.0.1]:1")).unwrap();
/// assert!(limit.take_for(at("[::ffff:127.0.0.1]:2")).is_some(), "loopback, mapped or not");
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    live: Arc<AtomicUsize>,
    max: usize,
    by_address: Counts,
}

/// Live connections per IP address and their cap, shared by a limit and its slots.
type Counts = Arc<Mutex<HostCounts>>;

/// One connection's place under a [`ConnectionLimit`], given back when dropped.
#[derive(Debug)]
pub struct Slot {
    live: Arc<AtomicUsize>,
    /// The address it counts under, if it was taken for one.
    address: Option<(IpAddr, Counts)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        if let Some((ip, by_address)) = &self.address {
            lock(by_address).remove(*ip);
        }
    }
}

/// The counts, also after a thread panicked holding their lock (no change to them is left
/// half made).
fn lock(counts: &Counts) -> std::sync::MutexGuard<'_, HostCounts> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

impl ConnectionLimit {
    /// At most `max` connections at once, any number of them from one address.
    pub fn new(max: usize) -> ConnectionLimit {
        ConnectionLimit {
            live: Default::default(),
            max,
            by_address: Arc::new(Mutex::new(HostCounts::new(usize::MAX))),
        }
    }

    /// How many places are taken now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// At most `max` of them from one IP address (loopback aside), through
    /// [`take_for`](ConnectionLimit::take_for). For a limit being made: the counts per
    /// address start afresh, apart from those of its clones.
    pub fn per_address(mut self, max: usize) -> ConnectionLimit {
        debug_assert_eq!(
            Arc::strong_count(&self.by_address),
            1,
            "per_address on a limit already shared: its counts would split"
        );
        self.by_address = Arc::new(Mutex::new(HostCounts::new(max)));
        self
    }

    /// A place for one more connection, if there is room in all.
    pub fn take(&self) -> Option<Slot> {
        let mut n = self.live.load(Ordering::Acquire);
        loop {
            if n >= self.max {
                return None;
            }
            match self
                .live
                .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Some(Slot {
                        live: self.live.clone(),
                        address: None,
                    })
                }
                Err(now) => n = now,
            }
        }
    }

    /// A place for one more connection from `peer`, if there is room in all and for its
    /// address (a loopback address counts only in the total).
    pub fn take_for(&self, peer: SocketAddr) -> Option<Slot> {
        let mut counts = lock(&self.by_address);
        if counts.is_full(peer.ip()) {
            return None;
        }
        let mut slot = self.take()?;
        counts.add(peer.ip());
        slot.address = Some((peer.ip(), self.by_address.clone()));
        Some(slot)
    }
}

/// Whom a connection belongs to.
#[derive(Debug)]
enum Side {
    /// We dial `key` for the session `(component, inbox)`.
    Outgoing {
        info_hash: InfoHash,
        session: (ComponentId, String),
    },
    /// `key` dialled us; its handshake names the torrent, found in the registry under the
    /// prefix.
    Incoming {
        registry_prefix: String,
        /// Its place under the listener's limit; `None`: over the limit, close at once.
        slot: Option<Slot>,
    },
}

/// The registry name under which a client's session for a torrent is found by incoming
/// connections: the client's prefix, then the info-hash in hex.
///
/// ```
/// use kamaelia_torrent::engine::peer::session_service_name;
/// use kamaelia_torrent::metainfo::InfoHash;
///
/// assert_eq!(
///     session_service_name("torrent-7:", &InfoHash([0xab; 20])),
///     format!("torrent-7:{}", "ab".repeat(20))
/// );
/// ```
pub fn session_service_name(prefix: &str, info_hash: &InfoHash) -> String {
    format!("{prefix}{}", info_hash.to_hex())
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Bytes from the socket (Vec<u8>)"),
    BoxSpec::new(
        "control",
        "The socket's end (ProducerFinished, SocketError) or a stop message",
    ),
    BoxSpec::new("fromSession", "PeerCommand from the torrent's session"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Bytes to the socket (Vec<u8>)"),
    BoxSpec::new(
        "signal",
        "ProducerFinished to the socket when the connection ends",
    ),
    BoxSpec::new("toSession", "PeerEvent to the torrent's session"),
];

/// One peer connection (see the module documentation).
///
/// ```
/// use kamaelia_torrent::engine::peer::PeerConnection;
/// use kamaelia_torrent::tracker::announce::PeerId;
///
/// // A connection for peers that dial us, finding sessions under "t1:".
/// let c = PeerConnection::incoming("127.0.0.1:50000".parse().unwrap(), PeerId::generate(), "t1:");
/// assert_eq!(axon::Component::label(&c), "PeerConnection");
/// ```
pub struct PeerConnection {
    key: PeerKey,
    me: PeerId,
    side: Side,
}

impl PeerConnection {
    /// Dials `key` for the torrent `info_hash`, whose session takes events on `session`.
    pub fn outgoing(
        key: PeerKey,
        me: PeerId,
        info_hash: InfoHash,
        session: (ComponentId, String),
    ) -> PeerConnection {
        PeerConnection {
            key,
            me,
            side: Side::Outgoing { info_hash, session },
        }
    }

    /// Serves a peer at `key` that dialled us (already linked to its socket, as `ServerCore`
    /// does); its session is looked up under `registry_prefix` (see
    /// [`session_service_name`]).
    pub fn incoming(key: PeerKey, me: PeerId, registry_prefix: &str) -> PeerConnection {
        PeerConnection::incoming_limited(key, me, registry_prefix, ConnectionLimit::new(1).take())
    }

    /// As [`incoming`](Self::incoming), holding `slot` under the listener's
    /// [`ConnectionLimit`]; with `None` (no room) the connection is closed at once.
    pub fn incoming_limited(
        key: PeerKey,
        me: PeerId,
        registry_prefix: &str,
        slot: Option<Slot>,
    ) -> PeerConnection {
        PeerConnection {
            key,
            me,
            side: Side::Incoming {
                registry_prefix: registry_prefix.to_string(),
                slot,
            },
        }
    }
}

/// The connection's working state.
struct Conn {
    key: PeerKey,
    /// Bytes before the handshake is complete.
    hs: Vec<u8>,
    /// `toSession` is linked (at once for peers we dial, after the handshake otherwise).
    linked: bool,
    attached: bool,
    decoder: Decoder,
    /// Small messages (and piece headers) being encoded, not yet a segment.
    out: Vec<u8>,
    /// Segments for the socket, in order: each with the blocks (and their bytes) whose
    /// data it ends. A block's data is a segment of its own, sent as it came from storage,
    /// never copied.
    segments: VecDeque<(Vec<u8>, u32, u64)>,
    /// Bytes in `segments`.
    queued_bytes: usize,
    /// The socket's inbox refused the first segment: wait until it takes it.
    blocked: bool,
    /// Events for the session not yet delivered.
    events: VecDeque<PeerEvent>,
    last_recv: Instant,
    last_send: Instant,
}

impl Conn {
    fn queue(&mut self, msg: WireMessage) {
        match msg {
            WireMessage::Piece { index, begin, data } if data.len() >= MIN_SEGMENT => {
                // The header ends the small bytes; the data follows as it is.
                WireMessage::encode_piece_header(index, begin, data.len(), &mut self.out);
                self.cut_segment();
                let n = data.len();
                self.queued_bytes += n;
                // Upload data is read into a vector of its own: no copy here.
                self.segments.push_back((data.into_vec(), 1, n as u64));
            }
            WireMessage::Piece { ref data, .. } => {
                let n = data.len();
                msg.encode(&mut self.out);
                self.cut_segment();
                let last = self.segments.back_mut().expect("just cut");
                last.1 += 1;
                last.2 += n as u64;
            }
            _ => msg.encode(&mut self.out),
        }
    }

    /// Ends the small bytes encoded so far as a segment.
    fn cut_segment(&mut self) {
        if !self.out.is_empty() {
            let bytes = std::mem::take(&mut self.out);
            self.queued_bytes += bytes.len();
            self.segments.push_back((bytes, 0, 0));
        }
    }

    /// Bytes waiting to be handed to the socket.
    fn unsent(&self) -> usize {
        self.queued_bytes + self.out.len()
    }

    /// True if nothing waits to be handed to the socket.
    fn sent_all(&self) -> bool {
        self.out.is_empty() && self.segments.is_empty()
    }

    /// Hands queued bytes to the socket, segment by segment; false while it is full.
    fn flush_out(&mut self, ctx: &Ctx) -> bool {
        self.cut_segment();
        let (mut blocks, mut piece_bytes, mut sent) = (0, 0, false);
        self.blocked = false;
        while let Some((bytes, b, n)) = self.segments.pop_front() {
            let len = bytes.len();
            match ctx.send(bytes, "outbox") {
                Ok(()) => {
                    self.queued_bytes -= len;
                    sent = true;
                    blocks += b;
                    piece_bytes += n;
                }
                Err(e) if e.is_full() => {
                    let bytes = e
                        .into_message()
                        .downcast::<Vec<u8>>()
                        .expect("what was sent");
                    self.segments.push_front((bytes, b, n));
                    self.blocked = true;
                    break;
                }
                Err(e) => {
                    log::debug!("{}: cannot write to the socket: {e}", ctx.name());
                    self.queued_bytes -= len;
                }
            }
        }
        if sent {
            self.last_send = Instant::now();
        }
        if blocks > 0 {
            self.events.push_back(PeerEvent::Uploaded {
                key: self.key,
                blocks,
                bytes: piece_bytes,
            });
        }
        !self.blocked
    }

    /// Delivers held events to the session; false while its inbox is full.
    fn flush_events(&mut self, ctx: &Ctx) -> bool {
        if !self.linked {
            return true;
        }
        while let Some(ev) = self.events.pop_front() {
            match ctx.send(ev, "toSession") {
                Ok(()) => {}
                Err(e) if e.is_full() => {
                    let ev = e
                        .into_message()
                        .downcast::<PeerEvent>()
                        .expect("what was sent");
                    self.events.push_front(ev);
                    return false;
                }
                Err(e) => {
                    log::debug!("{}: session unreachable: {e}", ctx.name());
                    self.events.clear();
                }
            }
        }
        true
    }
}

fn describe_end(m: &Message) -> String {
    if let Some(e) = m.downcast_ref::<SocketError>() {
        e.to_string()
    } else if m.is::<ProducerFinished>() {
        "the peer closed the connection".to_string()
    } else if stop_kind(m).is_some() {
        "told to stop".to_string()
    } else {
        format!("unexpected {} on control", m.type_name())
    }
}

impl Component for PeerConnection {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let now = Instant::now();
        let mut c = Conn {
            key: self.key,
            hs: Vec::with_capacity(HANDSHAKE_LEN),
            linked: false,
            attached: false,
            decoder: Decoder::new(),
            out: Vec::new(),
            segments: VecDeque::new(),
            queued_bytes: 0,
            blocked: false,
            events: VecDeque::new(),
            last_recv: now,
            last_send: now,
        };
        ctx.set_inbox_size("inbox", Some(INBOX_CHUNKS))?;
        let mut socket: Option<ComponentId> = None;
        if let Side::Outgoing { info_hash, session } = &self.side {
            ctx.link((ctx.id(), "toSession"), (session.0, session.1.as_str()))?;
            c.linked = true;
            let tcp = ctx.create(
                TCPClient::connect_to(self.key)
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_socket_config(socket_config(PeerClose::Close)),
            );
            ctx.link((tcp, "outbox"), (ctx.id(), "inbox"))?;
            ctx.link((ctx.id(), "outbox"), (tcp, "inbox"))?;
            ctx.link((ctx.id(), "signal"), (tcp, "control"))?;
            ctx.link((tcp, "signal"), (ctx.id(), "control"))?;
            ctx.add_children(&[tcp])?;
            ctx.activate(tcp)?;
            socket = Some(tcp);
            c.out
                .extend_from_slice(&Handshake::new(*info_hash, self.me).to_bytes());
        }
        let mut closing = false;
        let mut closing_deadline = now;
        let mut peer_closed: Option<String> = None;
        let started = now;
        ctx.wake_at(now + HANDSHAKE_TIMEOUT);
        let mut keepalive_timer = now + KEEPALIVE_CHECK;
        ctx.wake_at(keepalive_timer);
        let over_limit = matches!(self.side, Side::Incoming { slot: None, .. });
        let reason: String = 'run: loop {
            if over_limit {
                break 'run "too many connections".to_string();
            }
            if let Ok(m) = ctx.recv("control") {
                if peer_closed.is_none() && m.is::<ProducerFinished>() && c.attached {
                    // The peer closed its side: what it sent before still counts.
                    peer_closed = Some(describe_end(&m));
                } else {
                    // A stop, a socket error, or anything after the peer closed: end now.
                    break 'run describe_end(&m);
                }
            }
            // Commands from the session. They are taken even while the socket is full (so that a
            // Close is seen): what they queue is bounded by the session, which reads blocks for
            // a peer only as the socket takes earlier ones (`Uploaded`).
            while !closing {
                let Ok(m) = ctx.recv("fromSession") else {
                    break;
                };
                match m.downcast::<PeerCommand>() {
                    Ok(PeerCommand::Send(msgs)) => {
                        for msg in msgs {
                            c.queue(msg);
                        }
                    }
                    Ok(PeerCommand::Close) => {
                        closing = true;
                        // A peer that does not read gets a short grace, then is cut off.
                        closing_deadline = Instant::now() + CLOSE_GRACE;
                        ctx.wake_at(closing_deadline);
                    }
                    Err(e) => log::debug!("{}: ignored {e}", ctx.name()),
                }
                if c.unsent() >= 256 * 1024 && !c.blocked {
                    break; // hand this much to the socket first
                }
            }
            if c.unsent() > MAX_UNSENT {
                break 'run format!(
                    "it does not read what we send ({} bytes waiting)",
                    c.unsent()
                );
            }
            let sent_all = c.flush_out(&ctx) && c.sent_all();
            if closing && sent_all {
                break 'run "closed by us".to_string();
            }
            if closing && Instant::now() >= closing_deadline {
                break 'run "closed by us (it was not reading)".to_string();
            }
            // Bytes from the peer, while the session keeps up.
            let mut delivered = c.flush_events(&ctx);
            // Set when every whole message that arrived has been decoded.
            let mut exhausted = false;
            while delivered && c.events.len() < MAX_HELD_EVENTS {
                if !c.attached {
                    let Ok(m) = ctx.recv("inbox") else { break };
                    c.last_recv = Instant::now();
                    let Ok(bytes) = m.downcast::<Vec<u8>>() else {
                        continue;
                    };
                    c.hs.extend_from_slice(&bytes);
                    let hs = match Handshake::parse(&c.hs) {
                        Ok(Some(hs)) => hs,
                        Ok(None) => continue,
                        Err(e) => break 'run e.to_string(),
                    };
                    if hs.peer_id == self.me {
                        break 'run "we dialled ourselves".to_string();
                    }
                    let session = match &self.side {
                        Side::Outgoing { info_hash, session } => {
                            if hs.info_hash != *info_hash {
                                break 'run format!(
                                    "the peer answered for another torrent ({})",
                                    hs.info_hash
                                );
                            }
                            session.clone()
                        }
                        Side::Incoming {
                            registry_prefix, ..
                        } => {
                            let name = session_service_name(registry_prefix, &hs.info_hash);
                            match ctx.retrieve_service(&name) {
                                Ok(s) => {
                                    c.out.extend_from_slice(
                                        &Handshake::new(hs.info_hash, self.me).to_bytes(),
                                    );
                                    s
                                }
                                Err(_) => {
                                    break 'run format!(
                                        "the peer asked for a torrent we do not have ({})",
                                        hs.info_hash
                                    )
                                }
                            }
                        }
                    };
                    if !c.linked {
                        if let Err(e) =
                            ctx.link((ctx.id(), "toSession"), (session.0, session.1.as_str()))
                        {
                            break 'run format!("the torrent's session is gone ({e})");
                        }
                        c.linked = true;
                    }
                    c.attached = true;
                    c.events.push_front(PeerEvent::Hello {
                        key: self.key,
                        connection: ctx.id(),
                        peer_id: hs.peer_id,
                        incoming: matches!(self.side, Side::Incoming { .. }),
                    });
                    let rest = c.hs.split_off(HANDSHAKE_LEN);
                    c.decoder.feed_owned(rest);
                    c.hs = Vec::new();
                    delivered = c.flush_events(&ctx);
                    continue;
                }
                match c.decoder.next_message() {
                    Ok(Some(WireMessage::KeepAlive)) | Ok(Some(WireMessage::Other { .. })) => {}
                    Ok(Some(msg)) => {
                        c.events.push_back(PeerEvent::Wire { key: self.key, msg });
                        delivered = c.flush_events(&ctx);
                    }
                    Ok(None) => {
                        let Ok(m) = ctx.recv("inbox") else {
                            exhausted = true;
                            break;
                        };
                        c.last_recv = Instant::now();
                        if let Ok(bytes) = m.downcast::<Vec<u8>>() {
                            c.decoder.feed_owned(bytes);
                        }
                    }
                    Err(e) => break 'run e.to_string(),
                }
            }
            if !c.sent_all() {
                c.flush_out(&ctx);
            }
            let delivered_all = c.flush_events(&ctx) && c.events.is_empty();
            if let Some(reason) = &peer_closed {
                if delivered_all && exhausted {
                    break 'run reason.clone();
                }
            }
            let now = Instant::now();
            if !c.attached && now.duration_since(started) >= HANDSHAKE_TIMEOUT {
                break 'run format!("no handshake within {} s", HANDSHAKE_TIMEOUT.as_secs());
            }
            if ctx.data_ready("inbox") > 0 {
                // Bytes wait unread because we are holding back, not because the peer is idle.
                c.last_recv = now;
            }
            if now.duration_since(c.last_recv) >= IDLE_TIMEOUT {
                break 'run format!("nothing heard for {} s", IDLE_TIMEOUT.as_secs());
            }
            if now >= keepalive_timer {
                if c.attached && now.duration_since(c.last_send) >= KEEPALIVE_INTERVAL {
                    c.queue(WireMessage::KeepAlive);
                    c.flush_out(&ctx);
                }
                keepalive_timer = now + KEEPALIVE_CHECK;
                ctx.wake_at(keepalive_timer);
            }
            if ctx.data_ready("control") == 0
                && (ctx.data_ready("fromSession") == 0 || closing || c.blocked)
                && (ctx.data_ready("inbox") == 0 || !delivered || c.events.len() >= MAX_HELD_EVENTS)
            {
                ctx.pause();
            }
            ctx.yield_now().await;
        };
        log::debug!("{}: peer {} gone: {reason}", ctx.name(), self.key);
        // Tell the session, waiting for room: the session must learn of every end.
        if c.linked {
            c.events.push_back(PeerEvent::Gone {
                key: self.key,
                connection: ctx.id(),
                reason,
            });
            let deadline = Instant::now() + Duration::from_secs(30);
            while !c.flush_events(&ctx) && Instant::now() < deadline {
                ctx.wake_at(Instant::now() + Duration::from_millis(50));
                ctx.pause();
                ctx.yield_now().await;
            }
        }
        match socket {
            // Our own TCPClient: stop it now.
            Some(_) => {
                let _ = ctx.send(ShutdownMicroprocess::default(), "signal");
            }
            // ServerCore's socket: it closes the connection when we end.
            None => {
                let _ = ctx.send(ProducerFinished::default(), "signal");
            }
        }
        Ok(())
    }
}
