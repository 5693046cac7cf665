//! Our engine against a scripted fake peer speaking the peer wire protocol (BEP 3) over a
//! plain `std::net::TcpStream` on 127.0.0.1: handshakes, bitfields, choking, requests,
//! cancels, hostile input, hash failures and resume. The fake peer is written here from the
//! wire types only (`Handshake`, `WireMessage`, `Decoder`, `Bitfield`), so it checks the
//! engine's bytes, not its internals. Every wait is bounded; folders are removed.

mod common;
use common::engine::{self, data, TempDir, LIMIT};

use std::collections::{BTreeSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kamaelia_torrent::engine::client::ClientConfig;
use kamaelia_torrent::engine::session::MAX_HASH_FAILS;
use kamaelia_torrent::ipc::{TIPCTorrentStatusUpdate, TorrentState};
use kamaelia_torrent::metainfo::{InfoHash, Metainfo};
use kamaelia_torrent::tracker::announce::PeerId;
use kamaelia_torrent::wire::{Bitfield, Decoder, Handshake, WireMessage, HANDSHAKE_LEN};

/// The fake peer's id.
const FAKE_ID: PeerId = PeerId(*b"-FK0001-fakepeer0001");

/// Our client's id in these tests.
const OUR_ID: PeerId = PeerId(*b"-KT0001-ourclient001");

/// A block, as the fake peer sees one: (piece, begin, length).
type Req = (u32, u32, u32);

// ----- helpers: torrents, clients -----------------------------------------------------------

/// A single-file torrent: its bytes, data, piece length and info-hash.
struct Torrent {
    name: String,
    raw: Vec<u8>,
    data: Arc<Vec<u8>>,
    piece_length: u32,
    info_hash: InfoHash,
}

impl Torrent {
    fn new(name: &str, piece_length: u32, data: Vec<u8>) -> Torrent {
        let raw = engine::torrent(name, piece_length as u64, &data);
        let info_hash = Metainfo::from_bytes(&raw).unwrap().info_hash;
        Torrent {
            name: name.to_string(),
            raw,
            data: Arc::new(data),
            piece_length,
            info_hash,
        }
    }

    fn pieces(&self) -> usize {
        self.data.len().div_ceil(self.piece_length as usize)
    }

    fn block(&self, index: u32, begin: u32, length: u32) -> Vec<u8> {
        let at = index as usize * self.piece_length as usize + begin as usize;
        self.data[at..at + length as usize].to_vec()
    }

    /// A Bitfield naming every piece.
    fn all_pieces(&self) -> Bitfield {
        let mut all = Bitfield::new(self.pieces());
        for i in 0..self.pieces() {
            all.set(i);
        }
        all
    }

    /// Puts the complete data in `folder`.
    fn prefill(&self, folder: &Path) {
        engine::prefill_single(folder, &self.name, &self.data);
    }

    /// True if `folder` holds exactly this torrent's data.
    fn is_in(&self, folder: &Path) -> bool {
        std::fs::read(folder.join(&self.name)).unwrap() == *self.data
    }
}

/// A client with our peer id, saving into `save_folder`.
fn config(save_folder: &Path) -> ClientConfig {
    ClientConfig {
        peer_id: Some(OUR_ID),
        ..engine::config(save_folder)
    }
}

/// A client on its own scheduler.
type Client = engine::Solo;

/// Starts `t` in `c`, saved in `folder`; returns its id.
fn add(c: &Client, t: &Torrent, folder: &Path) -> u32 {
    c.create(t.raw.clone(), folder)
}

/// A client seeding `t` from a folder holding all of it, once it says so.
fn seeder(t: &Torrent, dir: &TempDir) -> (Client, u32) {
    seeder_with(t, dir, config(dir.path()))
}

/// As [`seeder`], with the client configured by `cfg`.
fn seeder_with(t: &Torrent, dir: &TempDir, cfg: ClientConfig) -> (Client, u32) {
    t.prefill(dir.path());
    let c = Client::start(cfg);
    let id = add(&c, t, dir.path());
    c.status_until(id, LIMIT, |u| u.stats.state == TorrentState::Seeding);
    (c, id)
}

/// A client saving into `dir` that downloads `t` from the peer at `peer`; returns it with the
/// torrent's id.
fn leecher(t: &Torrent, dir: &TempDir, peer: SocketAddr) -> (Client, u32) {
    let c = Client::start(ClientConfig {
        peers: vec![peer],
        ..config(dir.path())
    });
    let id = add(&c, t, dir.path());
    (c, id)
}

/// True once a download has ended, one way or the other.
fn finished(u: &TIPCTorrentStatusUpdate) -> bool {
    matches!(u.stats.state, TorrentState::Seeding | TorrentState::Stopped)
}

// ----- helpers: the fake peer ---------------------------------------------------------------

/// What reading from the engine gave.
#[derive(Debug)]
enum Got {
    Msg(WireMessage),
    Closed,
    Timeout,
}

/// One end of a peer wire connection, played by the test.
struct Wire {
    s: TcpStream,
    raw: Vec<u8>,
    dec: Decoder,
    shaken: bool,
    closed: bool,
    /// Bytes received in all.
    received: usize,
}

impl Wire {
    fn new(s: TcpStream) -> Wire {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        s.set_nodelay(true).unwrap();
        Wire {
            s,
            raw: Vec::new(),
            dec: Decoder::new(),
            shaken: false,
            closed: false,
            received: 0,
        }
    }

    fn connect(addr: SocketAddr) -> Wire {
        Wire::new(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect"))
    }

    /// Accepts one connection on `l` within `within`.
    fn accept(l: &TcpListener, within: Duration) -> Option<Wire> {
        l.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    return Some(Wire::new(s));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        None
    }

    /// Writes bytes; false if the engine has closed the connection.
    fn send_raw(&mut self, b: &[u8]) -> bool {
        self.s.write_all(b).is_ok()
    }

    fn send(&mut self, m: &WireMessage) -> bool {
        self.send_raw(&m.to_bytes())
    }

    fn send_all(&mut self, ms: &[WireMessage]) -> bool {
        let mut b = Vec::new();
        for m in ms {
            m.encode(&mut b);
        }
        self.send_raw(&b)
    }

    fn handshake_with(&mut self, info_hash: InfoHash) -> bool {
        self.send_raw(&Handshake::new(info_hash, FAKE_ID).to_bytes())
    }

    /// Reads once (at most 50 ms); false when nothing came.
    fn fill(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let mut buf = vec![0u8; 64 * 1024];
        match self.s.read(&mut buf) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.received += n;
                if self.shaken {
                    self.dec.feed(&buf[..n]);
                } else {
                    self.raw.extend_from_slice(&buf[..n]);
                }
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(_) => {
                self.closed = true;
                false
            }
        }
    }

    /// The engine's handshake, or `None` if the connection closes or nothing comes in time.
    fn their_handshake(&mut self, within: Duration) -> Option<Handshake> {
        let deadline = Instant::now() + within;
        while self.raw.len() < HANDSHAKE_LEN {
            if self.closed || Instant::now() >= deadline {
                return None;
            }
            self.fill();
        }
        let hs = Handshake::parse(&self.raw)
            .expect("the engine's handshake is BitTorrent's")
            .expect("68 bytes");
        self.shaken = true;
        let rest = self.raw.split_off(HANDSHAKE_LEN);
        self.dec.feed(&rest);
        Some(hs)
    }

    /// The next message (keep-alives included) within `within`.
    fn recv(&mut self, within: Duration) -> Got {
        assert!(self.shaken, "read the handshake first");
        let deadline = Instant::now() + within;
        loop {
            match self.dec.next_message() {
                Ok(Some(m)) => return Got::Msg(m),
                Ok(None) => {}
                Err(e) => panic!("the engine sent a malformed message: {e}"),
            }
            if self.closed {
                return Got::Closed;
            }
            if Instant::now() >= deadline {
                return Got::Timeout;
            }
            self.fill();
        }
    }

    /// The next message that is not a keep-alive; panics if none comes.
    fn next(&mut self, within: Duration) -> WireMessage {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Got::Msg(WireMessage::KeepAlive) => {}
                Got::Msg(m) => return m,
                other => panic!("expected a message from the engine, got {other:?}"),
            }
        }
    }

    /// Every message that arrives in the next `period` (stops early if the connection
    /// closes).
    fn during(&mut self, period: Duration) -> Vec<WireMessage> {
        let end = Instant::now() + period;
        let mut out = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Got::Msg(WireMessage::KeepAlive) => {}
                Got::Msg(m) => out.push(m),
                Got::Closed | Got::Timeout => break,
            }
        }
        out
    }

    /// True if the engine closes the connection within `within` (whatever it sends first).
    fn closes_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.closed && Instant::now() < deadline {
            if self.shaken {
                while let Ok(Some(_)) = self.dec.next_message() {}
            }
            self.fill();
        }
        self.closed
    }
}

fn request(index: u32, begin: u32, length: u32) -> WireMessage {
    WireMessage::Request {
        index,
        begin,
        length,
    }
}

fn pieces_in(msgs: &[WireMessage]) -> Vec<Req> {
    msgs.iter()
        .filter_map(|m| match m {
            WireMessage::Piece { index, begin, data } => Some((*index, *begin, data.len() as u32)),
            _ => None,
        })
        .collect()
}

/// Connects a fake leecher to `addr` for `t`: handshakes and checks the engine's answer.
fn fake_leecher(addr: SocketAddr, t: &Torrent) -> Wire {
    fake_leecher_as(addr, t, FAKE_ID)
}

/// As [`fake_leecher`], with the peer id `me`.
fn fake_leecher_as(addr: SocketAddr, t: &Torrent, me: PeerId) -> Wire {
    let mut w = Wire::connect(addr);
    assert!(w.send_raw(&Handshake::new(t.info_hash, me).to_bytes()));
    let hs = w
        .their_handshake(LIMIT)
        .expect("the engine answers a good handshake");
    assert_eq!(
        hs.info_hash, t.info_hash,
        "the engine answers for our torrent"
    );
    assert_eq!(hs.peer_id, OUR_ID, "with its own peer id");
    assert_ne!(hs.peer_id, me);
    w
}

/// As [`fake_leecher`], then takes the engine's Bitfield and gets unchoked.
fn served_leecher(addr: SocketAddr, t: &Torrent) -> Wire {
    let mut w = fake_leecher(addr, t);
    assert!(matches!(w.next(LIMIT), WireMessage::Bitfield(_)));
    get_unchoked(&mut w);
    w
}

/// Says Interested and waits (up to 10 s) for the engine's Unchoke; returns what came
/// before it.
fn get_unchoked(w: &mut Wire) -> Vec<WireMessage> {
    assert!(w.send(&WireMessage::Interested));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.recv(left) {
            Got::Msg(WireMessage::Unchoke) => return before,
            Got::Msg(m) => before.push(m),
            other => panic!("no Unchoke within 10 s of Interested: {other:?} after {before:?}"),
        }
    }
}

// ----- helpers: the fake seeder -------------------------------------------------------------

/// How the fake seeder behaves.
#[derive(Clone, Copy, Default)]
struct Plan {
    /// Send wrong bytes for every block.
    corrupt: bool,
    /// Choke the engine a third of the way through, then unchoke it again.
    choke_midway: bool,
    /// Announce the pieces with one Have each instead of a Bitfield.
    haves: bool,
}

/// What the fake seeder saw.
#[derive(Debug, Default)]
struct SeedLog {
    handshake: Option<Handshake>,
    /// The engine's bitfield, if it sent one.
    bitfield: Option<Vec<u8>>,
    interested: bool,
    /// Requests received while we had not unchoked the engine yet.
    requests_before_unchoke: usize,
    /// Requests outstanding after Unchoke before we answered any.
    first_batch: usize,
    /// Every request received.
    requested: Vec<Req>,
    /// Blocks we sent.
    served: usize,
    /// Pieces every block of which we sent.
    pieces_served: BTreeSet<u32>,
    choked_midway: bool,
    /// Requests received from 300 ms after our midway Choke until our Unchoke.
    requests_while_choked: usize,
    not_interested: bool,
    closed: bool,
}

/// Plays a seeder of `t` for one engine that dials `listener`, until the engine closes the
/// connection or `within` has passed.
fn fake_seeder(listener: TcpListener, t: Arc<Torrent>, plan: Plan, within: Duration) -> SeedLog {
    let mut log = SeedLog::default();
    if play_seeder(&mut log, listener, &t, plan, within).is_err() {
        log.closed = true;
    }
    log
}

/// The engine closed the connection.
struct Closed;

/// `Err(Closed)` if a write found the connection closed.
fn sent(ok: bool) -> Result<(), Closed> {
    if ok {
        Ok(())
    } else {
        Err(Closed)
    }
}

/// [`fake_seeder`]'s play, noting what it sees in `log`; ends with `Err(Closed)` when the
/// engine closes the connection.
fn play_seeder(
    log: &mut SeedLog,
    listener: TcpListener,
    t: &Torrent,
    plan: Plan,
    within: Duration,
) -> Result<(), Closed> {
    let deadline = Instant::now() + within;
    let Some(mut w) = Wire::accept(&listener, LIMIT) else {
        return Ok(());
    };
    log.handshake = w.their_handshake(LIMIT);
    if log.handshake.is_none() {
        return Ok(());
    }
    let mut hello = Handshake::new(t.info_hash, FAKE_ID).to_bytes().to_vec();
    if plan.haves {
        for i in 0..t.pieces() {
            WireMessage::Have(i as u32).encode(&mut hello);
        }
    } else {
        WireMessage::Bitfield(t.all_pieces().as_bytes().to_vec()).encode(&mut hello);
    }
    sent(w.send_raw(&hello))?;
    // Until Interested, then a little longer: no requests while choked.
    let mut grace_end = None;
    loop {
        if grace_end.is_some_and(|g| Instant::now() >= g) {
            break;
        }
        if Instant::now() >= deadline {
            return Ok(());
        }
        match w.recv(Duration::from_millis(100)) {
            Got::Msg(WireMessage::Bitfield(b)) => log.bitfield = Some(b),
            Got::Msg(WireMessage::Interested) => {
                log.interested = true;
                grace_end = Some(Instant::now() + Duration::from_millis(300));
            }
            Got::Msg(WireMessage::Request { .. }) => log.requests_before_unchoke += 1,
            Got::Msg(_) | Got::Timeout => {}
            Got::Closed => return Err(Closed),
        }
    }
    sent(w.send(&WireMessage::Unchoke))?;
    let blocks_per_piece = t.piece_length.div_ceil(16384) as usize;
    let total_blocks = t.pieces() * blocks_per_piece;
    let mut queue: VecDeque<Req> = VecDeque::new();
    let mut sent_per_piece = vec![0u32; t.pieces()];
    // The first batch: take requests until the engine pauses for 300 ms.
    let mut last_new = Instant::now();
    let batch_end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < batch_end
        && (queue.is_empty() || last_new.elapsed() < Duration::from_millis(300))
    {
        match w.recv(Duration::from_millis(50)) {
            Got::Msg(WireMessage::Request {
                index,
                begin,
                length,
            }) => {
                queue.push_back((index, begin, length));
                log.requested.push((index, begin, length));
                last_new = Instant::now();
            }
            Got::Msg(_) | Got::Timeout => {}
            Got::Closed => return Err(Closed),
        }
    }
    log.first_batch = queue.len();
    while Instant::now() < deadline {
        while let Some((index, begin, length)) = queue.pop_front() {
            if plan.choke_midway && !log.choked_midway && log.served >= total_blocks / 3 {
                log.choked_midway = true;
                queue.clear();
                sent(w.send(&WireMessage::Choke))?;
                // Requests already on their way may still come; after 300 ms none should.
                let grace = Instant::now() + Duration::from_millis(300);
                let until = Instant::now() + Duration::from_millis(1000);
                while Instant::now() < until {
                    match w.recv(Duration::from_millis(50)) {
                        Got::Msg(WireMessage::Request {
                            index,
                            begin,
                            length,
                        }) => {
                            log.requested.push((index, begin, length));
                            if Instant::now() >= grace {
                                log.requests_while_choked += 1;
                            }
                        }
                        Got::Closed => return Err(Closed),
                        _ => {}
                    }
                }
                sent(w.send(&WireMessage::Unchoke))?;
                break;
            }
            let mut block = t.block(index, begin, length);
            if plan.corrupt {
                block.iter_mut().for_each(|b| *b ^= 0x5a);
            }
            sent(w.send(&WireMessage::Piece {
                index,
                begin,
                data: block.into(),
            }))?;
            log.served += 1;
            sent_per_piece[index as usize] += 1;
            if sent_per_piece[index as usize] as usize >= blocks_per_piece {
                log.pieces_served.insert(index);
            }
        }
        match w.recv(Duration::from_millis(50)) {
            Got::Msg(WireMessage::Request {
                index,
                begin,
                length,
            }) => {
                log.requested.push((index, begin, length));
                if (index as usize) < t.pieces() {
                    queue.push_back((index, begin, length));
                }
            }
            Got::Msg(WireMessage::Cancel {
                index,
                begin,
                length,
            }) => queue.retain(|r| *r != (index, begin, length)),
            Got::Msg(WireMessage::NotInterested) => log.not_interested = true,
            Got::Msg(WireMessage::Interested) => log.not_interested = false,
            Got::Msg(_) | Got::Timeout => {}
            Got::Closed => return Err(Closed),
        }
    }
    Ok(())
}

/// Runs [`fake_seeder`] on its own thread; returns its address and the thread.
fn spawn_fake_seeder(
    t: Arc<Torrent>,
    plan: Plan,
    within: Duration,
) -> (SocketAddr, std::thread::JoinHandle<SeedLog>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || fake_seeder(listener, t, plan, within));
    (addr, thread)
}

fn join(thread: std::thread::JoinHandle<SeedLog>) -> SeedLog {
    thread
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

// ----- our seeder, a fake leecher -----------------------------------------------------------

/// BEP 3, our seeder: an incoming peer's handshake is answered with the torrent's info-hash
/// and our own (different) peer id, then a Bitfield of every piece; it is unchoked within
/// 10 s of saying Interested; its Requests are answered with the right bytes, in order, also
/// a short last block; a Cancel for a queued request is honoured; extension (id 20) and
/// unknown messages are ignored without closing.
#[test]
fn our_seeder_serves_a_fake_leecher() {
    let dir = TempDir::new("seed-serves");
    // 10 pieces of 32 KiB, the last one 5088 bytes.
    let t = Torrent::new("serve.bin", 32768, data(300_000, 1));
    let (c, id) = seeder(&t, &dir);
    let mut w = fake_leecher(c.addr(), &t);

    match w.next(LIMIT) {
        WireMessage::Bitfield(b) => {
            let bits = Bitfield::from_bytes(&b, t.pieces()).expect("a well-formed bitfield");
            assert!(bits.is_complete(), "a seeder announces every piece");
        }
        other => panic!("expected a Bitfield first, got {other:?}"),
    }
    let before = get_unchoked(&mut w);
    assert!(
        before
            .iter()
            .all(|m| !matches!(m, WireMessage::Piece { .. })),
        "no data before Unchoke: {before:?}"
    );

    assert!(w.send_all(&[request(0, 0, 16384), request(9, 0, 5088)]));
    for (index, begin, length) in [(0, 0, 16384), (9, 0, 5088)] {
        expect_block(&mut w, &t, index, begin, length);
    }

    // Cancel: the second request is withdrawn in the same breath.
    assert!(w.send_all(&[
        request(1, 0, 16384),
        request(2, 0, 16384),
        WireMessage::Cancel {
            index: 2,
            begin: 0,
            length: 16384
        },
        request(3, 16384, 16384),
    ]));
    let got = pieces_in(&w.during(Duration::from_secs(2)));
    assert_eq!(
        got,
        vec![(1, 0, 16384), (3, 16384, 16384)],
        "the cancelled block is not sent"
    );

    // Extension protocol and unknown message ids: ignored, the connection goes on.
    assert!(w.send_all(&[
        WireMessage::Other { id: 20, len: 12 },
        WireMessage::Other { id: 99, len: 3 },
        WireMessage::Other { id: 9, len: 2 },
        WireMessage::KeepAlive,
        request(4, 0, 16384),
    ]));
    match w.next(LIMIT) {
        WireMessage::Piece { index, begin, data } => {
            assert_eq!((index, begin), (4, 0));
            assert!(data[..] == t.block(4, 0, 16384)[..]);
        }
        other => panic!("expected piece 4 after the ignored messages, got {other:?}"),
    }
    // Blocks go to the socket as they came from storage (a large one as a segment of its
    // own, a small one copied in with the headers): a burst of both kinds, more than the
    // socket component's inbox holds at once, arrives whole and in order.
    let mut burst = Vec::new();
    for round in 0..3u32 {
        for index in 0..9u32 {
            burst.push((index, 16384, 16384));
            burst.push((index, 100 + round, 1000));
        }
    }
    assert!(w.send_all(
        &burst
            .iter()
            .map(|&(i, b, l)| request(i, b, l))
            .collect::<Vec<_>>()
    ));
    for &(index, begin, length) in &burst {
        expect_block(&mut w, &t, index, begin, length);
    }
    assert!(!w.closed, "the connection stays open");
    let up = c.status_until(id, LIMIT, |u| u.stats.up_total >= 4 * 16384);
    assert_eq!(up.stats.num_peers, 1);
    drop(w);
    c.finish_clean();
}

/// The next message must be the block `(index, begin, length)` with the torrent's bytes.
fn expect_block(w: &mut Wire, t: &Torrent, index: u32, begin: u32, length: u32) {
    match w.next(LIMIT) {
        WireMessage::Piece {
            index: i,
            begin: b,
            data,
        } => {
            assert_eq!((i, b, data.len() as u32), (index, begin, length));
            assert!(
                data[..] == t.block(index, begin, length)[..],
                "piece {index} at {begin} has the wrong bytes"
            );
        }
        other => panic!("expected piece {index} at {begin}, got {other:?}"),
    }
}

/// BEP 3 handshakes refused: a wrong protocol string, an info-hash the client does not have,
/// and the client's own peer id each get the connection closed, with no handshake sent back
/// for the first two; afterwards the client still serves a normal peer, and refuses a second
/// connection carrying that peer's id without harming the first.
#[test]
fn bad_handshakes_are_refused_and_the_client_stays_healthy() {
    let dir = TempDir::new("bad-hs");
    let t = Torrent::new("hs.bin", 32768, data(100_000, 2));
    let (c, id) = seeder(&t, &dir);

    let mut wrong = Handshake::new(t.info_hash, FAKE_ID).to_bytes();
    wrong[19] = b'X'; // "BitTorrent protocoX"
    let mut w = Wire::connect(c.addr());
    assert!(w.send_raw(&wrong));
    assert!(
        w.closes_within(LIMIT),
        "a wrong protocol string is not refused"
    );
    assert_eq!(w.received, 0, "nothing is sent to a stranger");

    let mut w = Wire::connect(c.addr());
    w.send_raw(b"GET /announce HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.closes_within(LIMIT), "an HTTP request is not refused");
    assert_eq!(w.received, 0);

    let mut w = Wire::connect(c.addr());
    assert!(w.handshake_with(InfoHash([0xee; 20])));
    assert!(
        w.closes_within(LIMIT),
        "a handshake for a torrent we do not have is not refused"
    );
    assert_eq!(
        w.received, 0,
        "no handshake is sent back for an unknown torrent"
    );

    let mut w = Wire::connect(c.addr());
    assert!(w.send_raw(&Handshake::new(t.info_hash, OUR_ID).to_bytes()));
    assert!(
        w.closes_within(LIMIT),
        "a handshake with our own peer id is not refused"
    );

    // Still healthy: a normal peer is served.
    let mut w = served_leecher(c.addr(), &t);
    assert!(w.send(&request(0, 0, 16384)));
    match w.next(LIMIT) {
        WireMessage::Piece { index, data, .. } => {
            assert_eq!(index, 0);
            assert!(data[..] == t.block(0, 0, 16384)[..]);
        }
        other => panic!("expected a piece, got {other:?}"),
    }
    // A second connection from a peer id already connected is the same peer again: closed.
    let mut again = Wire::connect(c.addr());
    assert!(again.handshake_with(t.info_hash));
    assert!(
        again.closes_within(LIMIT),
        "a second connection with a connected peer's id is not refused"
    );
    let u = c.latest(id);
    assert_eq!(u.stats.num_peers, 1, "only the good peer is counted: {u:?}");
    assert!(w.send(&request(1, 0, 16384)));
    assert!(
        matches!(w.next(LIMIT), WireMessage::Piece { index: 1, .. }),
        "the first connection is unharmed"
    );
    drop(w);
    c.finish_clean();
}

/// BEP 3 choking, our seeder: with more interested peers than upload slots (5 peers, the
/// default 4 slots), exactly as many peers as there are slots end up unchoked.
#[test]
fn a_seeder_unchokes_no_more_peers_than_it_has_slots() {
    let dir = TempDir::new("slots");
    let t = Torrent::new("slots.bin", 32768, data(200_000, 9));
    let (c, _) = seeder_with(
        &t,
        &dir,
        ClientConfig {
            upload_slots: 4,
            ..config(dir.path())
        },
    );
    let mut peers: Vec<Wire> = (0..5u8)
        .map(|i| {
            let mut id = FAKE_ID;
            id.0[19] = b'a' + i;
            fake_leecher_as(c.addr(), &t, id)
        })
        .collect();
    let mut unchoked = [false; 5];
    for w in &mut peers {
        assert!(matches!(w.next(LIMIT), WireMessage::Bitfield(_)));
        assert!(w.send(&WireMessage::Interested));
    }
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end {
        for (i, w) in peers.iter_mut().enumerate() {
            for m in w.during(Duration::from_millis(20)) {
                match m {
                    WireMessage::Unchoke => unchoked[i] = true,
                    WireMessage::Choke => unchoked[i] = false,
                    _ => {}
                }
            }
            assert!(!w.closed, "peer {i} was hung up on");
        }
    }
    assert_eq!(
        unchoked.iter().filter(|u| **u).count(),
        4,
        "unchoked: {unchoked:?}"
    );
    drop(peers);
    c.finish_clean();
}

/// BEP 3, two seeds have nothing to say to each other: a peer that announces every piece to
/// our seeder is disconnected.
#[test]
fn a_seeder_closes_a_connection_from_another_seed() {
    let dir = TempDir::new("seed-seed");
    let t = Torrent::new("both.bin", 32768, data(100_000, 10));
    let (c, _) = seeder(&t, &dir);
    let mut w = fake_leecher(c.addr(), &t);
    assert!(matches!(w.next(LIMIT), WireMessage::Bitfield(_)));
    assert!(w.send(&WireMessage::Bitfield(t.all_pieces().as_bytes().to_vec())));
    assert!(
        w.closes_within(Duration::from_secs(10)),
        "a seed is kept connected to a seed"
    );
    c.finish_clean();
}

/// BEP 3 limits: a length prefix of 0x7fffffff gets the connection closed at once (without
/// waiting for, or making room for, 2 GiB), and so does a Bitfield of the wrong length.
#[test]
fn oversized_messages_and_malformed_bitfields_close_the_connection() {
    let dir = TempDir::new("hostile");
    let t = Torrent::new("hostile.bin", 32768, data(300_000, 3));
    let (c, id) = seeder(&t, &dir);

    let hostile: [(Vec<u8>, &str); 3] = [
        (
            vec![0x7f, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0],
            "a 2 GiB message is not refused at its length prefix",
        ),
        (
            // 10 pieces take 2 bytes; 5 is wrong.
            WireMessage::Bitfield(vec![0xff; 5]).to_bytes(),
            "a bitfield of the wrong length is not refused",
        ),
        (
            // Spare bits set: 10 pieces, 16 bits.
            WireMessage::Bitfield(vec![0x00, 0x01]).to_bytes(),
            "a bitfield with spare bits set is not refused",
        ),
    ];
    for (bytes, refused) in hostile {
        let mut w = fake_leecher(c.addr(), &t);
        assert!(w.send_raw(&bytes));
        assert!(w.closes_within(Duration::from_secs(10)), "{refused}");
    }

    // The client is fine: a normal peer is still served.
    let mut w = served_leecher(c.addr(), &t);
    assert!(w.send(&request(2, 0, 16384)));
    assert!(matches!(w.next(LIMIT), WireMessage::Piece { index: 2, .. }));
    c.status_until(id, LIMIT, |u| u.stats.num_peers == 1);
    drop(w);
    c.finish_clean();
}

/// BEP 3 requests we cannot serve: a piece we lack, a block longer than 128 KiB, a piece past
/// the end, a block past its piece's end, a zero-length block: none is answered, nothing
/// breaks, and a good request after them is served (a block of exactly 128 KiB included).
#[test]
fn requests_we_cannot_serve_are_not_served() {
    let dir = TempDir::new("bad-requests");
    // 8 pieces of 256 KiB; the folder holds the first four.
    let t = Torrent::new("half.bin", 256 * 1024, data(2 * 1024 * 1024, 4));
    let mut partial = t.data[..1024 * 1024].to_vec();
    partial.extend(data(1024 * 1024, 99));
    std::fs::write(dir.path().join(&t.name), &partial).unwrap();
    let c = Client::start(config(dir.path()));
    let id = add(&c, &t, dir.path());
    let u = c.status_until(id, LIMIT, |u| u.stats.state == TorrentState::Downloading);
    assert_eq!(u.stats.fraction_done, 0.5, "{u:?}");

    let mut w = fake_leecher(c.addr(), &t);
    match w.next(LIMIT) {
        WireMessage::Bitfield(b) => {
            let bits = Bitfield::from_bytes(&b, t.pieces()).unwrap();
            assert_eq!(
                (0..8).map(|i| bits.has(i)).collect::<Vec<_>>(),
                [true, true, true, true, false, false, false, false]
            );
        }
        other => panic!("expected a Bitfield, got {other:?}"),
    }
    get_unchoked(&mut w);
    assert!(w.send_all(&[
        request(5, 0, 16384),                // a piece we lack
        request(0, 0, 128 * 1024 + 16384),   // longer than 128 KiB
        request(8, 0, 16384),                // past the last piece
        request(1, 256 * 1024 - 100, 16384), // past the piece's end
        request(2, 0, 0),                    // empty
    ]));
    let got = w.during(Duration::from_secs(2));
    assert!(
        pieces_in(&got).is_empty(),
        "blocks we cannot give were sent: {:?}",
        pieces_in(&got)
    );
    assert!(!w.closed, "bad requests are not worth a disconnect");
    assert!(w.send_all(&[request(3, 0, 16384), request(0, 128 * 1024, 128 * 1024)]));
    let got = w.during(Duration::from_secs(3));
    assert_eq!(
        pieces_in(&got),
        vec![(3, 0, 16384), (0, 128 * 1024, 128 * 1024)]
    );
    for m in got {
        if let WireMessage::Piece { index, begin, data } = m {
            assert!(data[..] == t.block(index, begin, data.len() as u32)[..]);
        }
    }
    drop(w);
    c.finish_clean();
}

// ----- our leecher, a fake seeder -----------------------------------------------------------

/// BEP 3, our leecher: it dials the peer it is given, handshakes with the torrent's
/// info-hash and its peer id, says Interested after the peer's Bitfield and requests nothing
/// while choked; once unchoked it keeps many requests outstanding at once (at least 16
/// before any is answered: the deep pipeline); when choked midway it stops asking, and after
/// Unchoke it asks again and finishes; the data on disk is correct and it reports Seeding.
#[test]
fn our_leecher_pipelines_and_survives_choke_unchoke() {
    let dir = TempDir::new("leech");
    // 32 pieces of 64 KiB: 128 blocks.
    let t = Arc::new(Torrent::new("leech.bin", 65536, data(2 * 1024 * 1024, 5)));
    let plan = Plan {
        choke_midway: true,
        ..Plan::default()
    };
    let (addr, fake) = spawn_fake_seeder(t.clone(), plan, Duration::from_secs(90));
    let (c, id) = leecher(&t, &dir, addr);
    let u = c.status_until(id, Duration::from_secs(90), |u| {
        u.stats.state == TorrentState::Seeding
    });
    assert_eq!(u.stats.fraction_done, 1.0);
    let log = join(fake);

    let hs = log.handshake.expect("the engine dialled the fake seeder");
    assert_eq!(hs.info_hash, t.info_hash);
    assert_eq!(hs.peer_id, OUR_ID);
    assert!(log.interested, "Interested after the seeder's Bitfield");
    assert_eq!(log.bitfield, None, "nothing to announce with no pieces");
    assert_eq!(log.requests_before_unchoke, 0, "no requests while choked");
    assert!(
        log.first_batch >= 16,
        "only {} requests outstanding before any answer",
        log.first_batch
    );
    assert!(log.choked_midway, "the fake seeder choked midway");
    assert_eq!(
        log.requests_while_choked, 0,
        "requests kept coming while choked"
    );
    for &(index, begin, length) in &log.requested {
        assert!((index as usize) < t.pieces(), "piece {index} out of range");
        assert_eq!(begin % 16384, 0, "blocks on the 16 KiB grid");
        assert!(length > 0 && length <= 16384);
    }
    assert!(
        log.closed,
        "two seeds part: the engine closes the connection"
    );
    assert!(t.is_in(dir.path()), "the downloaded file differs");
    c.finish_clean();
}

/// Makes the connections `l` accepts keep a small receive buffer, so that what the other end
/// sends and nobody reads stays with the sender.
fn small_receive_buffer(l: &TcpListener) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let size: libc::c_int = 4096;
        // SAFETY: a plain setsockopt on a socket the listener owns, with a valid int.
        let r = unsafe {
            libc::setsockopt(
                l.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "setsockopt SO_RCVBUF");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = l;
}

/// A hostile seeder chokes and unchokes our leecher over and over and never reads: each
/// Unchoke makes the leecher queue a fresh batch of requests, which wait for a socket that
/// does not drain. Past `MAX_UNSENT` bytes waiting the leecher closes the connection (it used
/// to keep them all: a megabyte more every second), and the client stays healthy.
#[test]
fn a_peer_that_never_reads_is_dropped_before_our_memory_grows() {
    let dir = TempDir::new("never-reads");
    let t = Arc::new(Torrent::new("unread.bin", 32768, data(400_000, 9)));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    small_receive_buffer(&listener);
    let (c, _id) = leecher(&t, &dir, listener.local_addr().unwrap());
    let mut w = Wire::accept(&listener, LIMIT).expect("the engine dials the fake seeder");
    assert!(w.their_handshake(LIMIT).is_some());
    let mut hello = Handshake::new(t.info_hash, FAKE_ID).to_bytes().to_vec();
    WireMessage::Bitfield(t.all_pieces().as_bytes().to_vec()).encode(&mut hello);
    WireMessage::Unchoke.encode(&mut hello);
    assert!(w.send_raw(&hello));
    let first_request = Instant::now() + LIMIT;
    while !matches!(
        w.recv(Duration::from_millis(50)),
        Got::Msg(WireMessage::Request { .. })
    ) {
        assert!(Instant::now() < first_request, "no request after Unchoke");
    }
    // From here on nothing is read.
    let mut pairs_64 = Vec::new();
    for _ in 0..64 {
        WireMessage::Choke.encode(&mut pairs_64);
        WireMessage::Unchoke.encode(&mut pairs_64);
    }
    w.s.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut sent, mut at) = (0u64, 0);
    let dropped = loop {
        if Instant::now() >= deadline {
            break false;
        }
        // Written whole, a partial write resumed where it stopped: the stream stays well
        // framed, so only what we never read can end the connection.
        match w.s.write(&pairs_64[at..]) {
            Ok(n) => {
                sent += n as u64;
                at = (at + n) % pairs_64.len();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
    };
    let pairs = sent / 10;
    eprintln!("dropped after {pairs} pairs");
    assert!(
        dropped,
        "still connected after {pairs} choke/unchoke pairs sent and nothing read"
    );
    c.finish_clean();
}

/// BEP 3, our leecher: a seeder that announces its pieces with Have messages only (no
/// Bitfield) is just as interesting: the engine says Interested and downloads everything.
#[test]
fn our_leecher_downloads_from_a_peer_announcing_with_haves() {
    let dir = TempDir::new("haves");
    let t = Arc::new(Torrent::new("haves.bin", 32768, data(400_000, 8)));
    let plan = Plan {
        haves: true,
        ..Plan::default()
    };
    let (addr, fake) = spawn_fake_seeder(t.clone(), plan, Duration::from_secs(60));
    let (c, id) = leecher(&t, &dir, addr);
    let u = c.status_until(id, Duration::from_secs(60), finished);
    let log = join(fake);
    assert!(log.interested, "Interested after the seeder's Haves");
    assert_eq!(u.stats.state, TorrentState::Seeding, "{u:?}");
    assert!(t.is_in(dir.path()), "the downloaded file differs");
    c.finish_clean();
}

/// BEP 3 hash checks: a seeder whose every block is wrong is dropped (the connection closed)
/// once its data has failed `MAX_HASH_FAILS` piece checks, and the torrent is not complete:
/// no piece is counted done.
#[test]
fn a_peer_sending_bad_data_is_dropped() {
    let dir = TempDir::new("hashfail");
    // 16 pieces of 32 KiB: two blocks each.
    let t = Arc::new(Torrent::new("bad.bin", 32768, data(512 * 1024, 6)));
    let plan = Plan {
        corrupt: true,
        ..Plan::default()
    };
    let (addr, fake) = spawn_fake_seeder(t.clone(), plan, Duration::from_secs(60));
    let (c, id) = leecher(&t, &dir, addr);
    let log = join(fake);
    assert!(
        log.handshake.is_some(),
        "the engine dialled the fake seeder"
    );
    assert!(log.closed, "a peer sending only bad data is not dropped");
    assert!(
        log.pieces_served.len() >= MAX_HASH_FAILS as usize,
        "dropped after {} bad pieces, before {MAX_HASH_FAILS} failures",
        log.pieces_served.len()
    );
    let u = c.latest(id);
    assert_eq!(u.stats.state, TorrentState::Downloading, "{u:?}");
    assert_eq!(u.stats.fraction_done, 0.0, "no bad piece counts: {u:?}");
    assert_eq!(u.stats.num_peers, 0, "{u:?}");
    c.finish_clean();
}

/// Resume: the leecher's folder holds the first half of the data (right) and garbage in the
/// second half; it announces the first half in its Bitfield, asks the seeder only for pieces
/// of the second half, and ends with the right data.
#[test]
fn resume_requests_only_the_missing_pieces() {
    let dir = TempDir::new("resume");
    // 16 pieces of 64 KiB.
    let t = Arc::new(Torrent::new("resume.bin", 65536, data(1024 * 1024, 7)));
    let mut partial = t.data[..512 * 1024].to_vec();
    partial.extend(data(512 * 1024, 77));
    std::fs::write(dir.path().join(&t.name), &partial).unwrap();
    let (addr, fake) = spawn_fake_seeder(t.clone(), Plan::default(), Duration::from_secs(60));
    let (c, id) = leecher(&t, &dir, addr);
    let u = c.status_until(id, Duration::from_secs(60), finished);
    let log = join(fake);
    assert_eq!(
        u.stats.state,
        TorrentState::Seeding,
        "the resumed torrent did not finish: {u:?}"
    );
    assert_eq!(u.stats.fraction_done, 1.0);

    let bits = Bitfield::from_bytes(
        log.bitfield
            .as_deref()
            .expect("the engine sent its Bitfield"),
        t.pieces(),
    )
    .expect("a well-formed bitfield");
    assert_eq!(
        (0..16).filter(|&i| bits.has(i)).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>(),
        "the Bitfield names the first half"
    );
    assert!(!log.requested.is_empty());
    let asked: BTreeSet<u32> = log.requested.iter().map(|r| r.0).collect();
    assert_eq!(
        asked,
        (8..16).collect::<BTreeSet<u32>>(),
        "only the second half is requested"
    );
    assert!(t.is_in(dir.path()), "the resumed file differs");
    c.finish_clean();
}

/// A peer that sends its last blocks and closes at once: the blocks that arrived before the
/// close still count (the connection decodes what it holds before it ends), so the download
/// completes although that peer is gone.
#[test]
fn blocks_sent_just_before_a_close_are_kept() {
    let dir = TempDir::new("close-after-send");
    // One piece of two blocks.
    let t = Arc::new(Torrent::new("last.bin", 32768, data(32768, 11)));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake_t = t.clone();
    let fake = std::thread::spawn(move || -> Result<usize, String> {
        let mut w = Wire::accept(&listener, LIMIT).ok_or("no connection")?;
        w.their_handshake(LIMIT).ok_or("no handshake")?;
        let mut hello = Handshake::new(fake_t.info_hash, FAKE_ID)
            .to_bytes()
            .to_vec();
        WireMessage::Bitfield(vec![0x80]).encode(&mut hello);
        if !w.send_raw(&hello) {
            return Err("closed before our handshake".into());
        }
        let mut requests = Vec::new();
        let deadline = Instant::now() + LIMIT;
        let mut unchoked = false;
        while requests.len() < 2 && Instant::now() < deadline {
            match w.recv(Duration::from_millis(100)) {
                Got::Msg(WireMessage::Interested) if !unchoked => {
                    unchoked = w.send(&WireMessage::Unchoke);
                }
                Got::Msg(WireMessage::Request {
                    index,
                    begin,
                    length,
                }) => requests.push((index, begin, length)),
                Got::Closed => return Err("closed before requesting".into()),
                _ => {}
            }
        }
        // Both blocks in one write, then gone.
        let mut out = Vec::new();
        for &(index, begin, length) in &requests {
            WireMessage::Piece {
                index,
                begin,
                data: fake_t.block(index, begin, length).into(),
            }
            .encode(&mut out);
        }
        w.send_raw(&out);
        Ok(requests.len())
        // `w` is dropped here: the connection closes right after the data.
    });
    let (c, id) = leecher(&t, &dir, addr);
    let u = c.status_until(id, Duration::from_secs(60), finished);
    assert_eq!(fake.join().unwrap(), Ok(2));
    assert_eq!(u.stats.state, TorrentState::Seeding, "{u:?}");
    assert!(t.is_in(dir.path()));
    c.finish_clean();
}

/// A seeded file cut short under us: a block that can no longer be read is not served, the
/// connection stays, the torrent goes on seeding, and blocks that can be read still are.
#[test]
fn a_block_that_cannot_be_read_is_skipped_and_seeding_goes_on() {
    let dir = TempDir::new("cut-under-us");
    let t = Torrent::new("cut.bin", 32768, data(4 * 32768, 12));
    let (c, id) = seeder(&t, &dir);
    let mut w = served_leecher(c.addr(), &t);
    // Cut the file to its first piece.
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join(&t.name))
        .unwrap()
        .set_len(32768)
        .unwrap();
    assert!(w.send_all(&[request(3, 0, 16384), request(0, 16384, 16384)]));
    let got = w.during(Duration::from_secs(2));
    assert_eq!(
        pieces_in(&got),
        [(0, 16384, 16384)],
        "only the block still there"
    );
    assert!(!w.closed, "the peer is not at fault");
    let u = c.latest(id);
    assert_eq!(u.stats.state, TorrentState::Seeding, "{u:?}");
    c.finish_clean();
}

/// BEP 3 `have`: a piece our leecher has verified is announced to its other peers while the
/// download goes on. The `have` is held a moment to travel with others (`HAVE_DELAY`), so
/// here, where only one piece can ever be had and nothing else is sent to the observer, it
/// must still go out on its own.
#[test]
fn a_verified_piece_is_announced_to_the_other_peers() {
    let dir = TempDir::new("have-out");
    let t = Arc::new(Torrent::new("have.bin", 32768, data(4 * 32768, 11)));
    // A seeder of piece 2 alone: it serves that piece, then keeps the connection open.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let seeder_addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let partial = {
        let t = t.clone();
        std::thread::spawn(move || {
            let mut w = Wire::accept(&listener, LIMIT).expect("our leecher dials");
            w.their_handshake(LIMIT).expect("our leecher's handshake");
            let mut only = Bitfield::new(t.pieces());
            only.set(2);
            let mut hello = Handshake::new(t.info_hash, FAKE_ID).to_bytes().to_vec();
            WireMessage::Bitfield(only.as_bytes().to_vec()).encode(&mut hello);
            WireMessage::Unchoke.encode(&mut hello);
            assert!(w.send_raw(&hello));
            while stop_rx.try_recv().is_err() {
                let g = w.recv(Duration::from_millis(50));
                if matches!(g, Got::Closed) {
                    break;
                }
                if let Got::Msg(WireMessage::Request {
                    index,
                    begin,
                    length,
                }) = g
                {
                    assert_eq!(index, 2, "only piece 2 was offered");
                    let data = t.block(index, begin, length).into();
                    assert!(w.send(&WireMessage::Piece { index, begin, data }));
                }
            }
        })
    };
    let (c, id) = leecher(&t, &dir, seeder_addr);
    // An observer with nothing, connected to our leecher.
    let mut observer = fake_leecher_as(c.addr(), &t, PeerId(*b"-XX0001-observer0001"));
    assert!(observer.send(&WireMessage::Bitfield(
        Bitfield::new(t.pieces()).as_bytes().to_vec()
    )));
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    let announced = loop {
        match observer.recv(deadline.saturating_duration_since(Instant::now())) {
            Got::Msg(WireMessage::Have(i)) => break i,
            Got::Msg(m) => seen.push(m),
            other => panic!("no Have came: {other:?} after {seen:?}"),
        }
    };
    assert_eq!(announced, 2);
    let u = c.latest(id);
    assert_eq!(u.stats.state, TorrentState::Downloading, "{u:?}");
    stop_tx.send(()).unwrap();
    partial.join().unwrap();
    c.finish_clean();
}
