//! A TCP listening component (Kamaelia's `Kamaelia.Internet.TCPServer`) and the component
//! that serves one connection (Kamaelia's `ConnectedSocketAdapter`).
//!
//! [`TCPServer`] accepts connections and, for each, makes a [`ConnectedSocketAdapter`] (CSA)
//! and announces it with a [`NewCSA`] message on its `protocolHandlerSignal` outbox, as
//! Kamaelia's does. Whoever receives the [`NewCSA`] links the CSA's boxes and activates it
//! ([`ServerCore`](super::server_core::ServerCore) does this for you). When a CSA ends, the
//! server announces [`ShutdownCSA`] on the same outbox.
//!
//! # Back-pressure
//!
//! A connection never buffers without bound, whatever the speed of the peer or of the
//! components it talks to:
//!
//! - **Socket → components.** The CSA reads at most [`SocketConfig::read_chunk`] bytes at a
//!   time and sends each chunk out of `outbox`. When the inbox at the end of that linkage is
//!   full (it has a size limit: [`ServerCore`](super::server_core::ServerCore) links it with a
//!   pipe width), the send fails with `NoSpaceInBox`; the CSA keeps that one chunk and stops
//!   reading the socket. The kernel's receive buffer fills and TCP flow control makes the peer
//!   stop sending. When the component downstream collects a message, axon wakes the CSA
//!   (collection wakes upstream senders) and it reads again.
//! - **Components → socket.** The CSA limits its own `inbox` to [`SocketConfig::inbox_size`]
//!   messages (`Ctx::set_inbox_size`). It takes up to 4 messages at a time from it and writes
//!   them with one vectored write, and takes more only as those are written. When the peer
//!   reads slowly, writes stop at `WouldBlock`, the CSA keeps the unsent bytes and waits for
//!   the socket to be writable; its inbox fills, and senders get `NoSpaceInBox` and must hold
//!   their data (a protocol should then stop taking from its own inbox, which pushes back
//!   further, down to the socket it reads from).
//!
//! So one connection holds at most: the limit of the downstream inbox times the read chunk
//! (by default 4 chunks in a [`ServerCore`](super::server_core::ServerCore)), plus its own
//! inbox limit (4) and the 4 messages being written, each of the size sent to it (a chunk,
//! for an echo), plus one chunk read but not yet taken: 13 chunks for a stalled echo
//! connection. A chunk is at most [`SocketConfig::read_chunk`] (64 KiB), and less when many
//! sockets share the [`read_budget`](SocketConfig::read_budget) (4 MiB per selector by
//! default): 13 × 64 KiB for a few connections, 13 × 4 KiB each for a thousand, so that a
//! server's buffers grow much less than its number of connections. The socket buffers in the
//! kernel come on top, and are bounded by the kernel. Smaller limits ([`SocketConfig`],
//! [`ServerCore::with_pipe_width`]) trade throughput for memory.
//!
//! [`ServerCore::with_pipe_width`]: super::server_core::ServerCore::with_pipe_width

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::Interest;

use super::selector::{Registration, Selector};
use super::tcp_client::{SocketError, SocketOp};
use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::{ComponentError, ComponentResult, SendError};
use crate::ids::ComponentId;
use crate::ipc::{stop_kind, ProducerFinished, StopKind};
use crate::message::Message;

/// What a connected socket does when the peer closes its side (end of file on read).
///
/// With [`HalfClose`](PeerClose::HalfClose), a client may send its question, shut its writing
/// side, and still read the answer:
///
/// ```
/// use axon::internet::tcp_server::{ConnectedSocketAdapter, PeerClose, SocketConfig};
/// use axon::ipc::ProducerFinished;
/// use axon::Scheduler;
/// use std::io::{Read, Write};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
///     s.write_all(b"6 * 7?").unwrap();
///     s.shutdown(std::net::Shutdown::Write).unwrap();
///     let mut answer = String::new();
///     s.read_to_string(&mut answer).unwrap();
///     answer
/// });
/// let (stream, peer) = listener.accept().unwrap();
/// stream.set_nonblocking(true).unwrap();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let config = SocketConfig { peer_close: PeerClose::HalfClose, ..SocketConfig::default() };
/// let csa = root.spawn(ConnectedSocketAdapter::new(
///     mio::net::TcpStream::from_std(stream),
///     peer,
///     config,
/// ));
/// root.link((csa, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((csa, "signal"), (root.id(), "control")).unwrap();
/// root.link((root.id(), "outbox"), (csa, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (csa, "control")).unwrap();
///
/// // The question, then ProducerFinished: the client has finished sending.
/// while root.data_ready("control") == 0 {
///     sched.step(1);
/// }
/// let mut question = Vec::new();
/// while let Ok(m) = root.recv("inbox") {
///     question.extend(m.downcast::<Vec<u8>>().unwrap());
/// }
/// assert_eq!(question, b"6 * 7?");
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
///
/// // The connection still takes the answer; finishing closes it.
/// root.send("42", "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert_eq!(client.join().unwrap(), "42");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClose {
    /// End at once (Kamaelia's behaviour: a half close is a close), with
    /// [`ProducerFinished`] on `signal`.
    Close,
    /// Send [`ProducerFinished`] on `signal` (the input has ended), stop reading, but keep
    /// writing what arrives on `inbox` until told to stop on `control`. For servers whose
    /// clients shut their writing side and then wait for the answer.
    HalfClose,
}

/// Settings of a connected socket ([`ConnectedSocketAdapter`] and
/// [`TCPClient`](super::tcp_client::TCPClient)).
///
/// ```
/// use axon::internet::tcp_server::{PeerClose, SocketConfig};
///
/// let c = SocketConfig { read_chunk: 8192, ..SocketConfig::default() };
/// assert_eq!(c.inbox_size, Some(4));
/// assert_eq!(c.peer_close, PeerClose::Close);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketConfig {
    /// The most bytes read in one go, i.e. the largest chunk sent out of `outbox` (default
    /// 64 KiB; Kamaelia reads 32 KiB: twice that costs the echo benchmark about 15% less CPU
    /// per byte). Each chunk is sized to what was read.
    pub read_chunk: usize,
    /// The bytes all the connections of one selector (one scheduler) should read in one round
    /// between them: each reads at most this divided by the number of sockets registered, and
    /// never less than 4 KiB or more than `read_chunk`. It keeps the data a server holds
    /// roughly constant as connections are added: with the defaults, 10 connections read
    /// 64 KiB at a time, 1000 read 4 KiB. `None`: always `read_chunk` (default 4 MiB).
    pub read_budget: Option<usize>,
    /// The size limit of the `inbox` (messages waiting to be written); `None` for no limit
    /// (default 4).
    pub inbox_size: Option<usize>,
    /// How many chunks to read in one turn before letting the other components run (default
    /// 4).
    pub reads_per_turn: usize,
    /// Set `TCP_NODELAY` (no Nagle delay on small writes; default true).
    pub nodelay: bool,
    /// What to do when the peer closes its side (default [`PeerClose::Close`]).
    pub peer_close: PeerClose,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            read_chunk: 64 * 1024,
            read_budget: Some(4 << 20),
            inbox_size: Some(4),
            reads_per_turn: 4,
            nodelay: true,
            peer_close: PeerClose::Close,
        }
    }
}

/// How a connection ended, as reported by [`SocketShutdown`] and [`ShutdownCSA`].
///
/// See [`NewCSA`] for a server reporting [`PeerClosed`](ConnectionEnd::PeerClosed).
///
/// ```
/// use axon::internet::tcp_client::{SocketError, SocketOp};
/// use axon::internet::tcp_server::ConnectionEnd;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
/// let end = ConnectionEnd::Failed(SocketError::new(
///     sched.root().id(),
///     SocketOp::Read,
///     "127.0.0.1:40000",
///     &reset,
/// ));
/// match end {
///     ConnectionEnd::Failed(e) => assert_eq!(e.kind, std::io::ErrorKind::ConnectionReset),
///     _ => unreachable!(),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// Told to stop on `control` (after flushing, for [`ProducerFinished`]).
    Stopped,
    /// The peer closed the connection.
    PeerClosed,
    /// The socket failed (reset, ...).
    Failed(SocketError),
}

/// "A new connection": sent by [`TCPServer`] on `protocolHandlerSignal` (Kamaelia's
/// `newCSA`). The CSA is created but **not activated**: the receiver links its boxes, then
/// activates it (`ctx.activate(csa)`), so that no data is read before it has somewhere to go.
///
/// A client connects and leaves: the server announces the connection, then its end.
///
/// ```
/// use axon::internet::tcp_server::{ConnectionEnd, NewCSA, ShutdownCSA, TCPServer};
/// use axon::Scheduler;
///
/// let server = TCPServer::bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr();
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let srv = root.spawn(server);
/// root.link((srv, "protocolHandlerSignal"), (root.id(), "inbox")).unwrap();
///
/// let client = std::net::TcpStream::connect(addr).unwrap();
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
/// while root.data_ready("inbox") == 0 {
///     assert!(std::time::Instant::now() < deadline);
///     sched.step(1);
/// }
/// let new: NewCSA = root.recv_as("inbox").unwrap();
/// assert_eq!(new.server, srv);
/// assert_eq!(new.local, addr);
/// assert_eq!(new.peer, client.local_addr().unwrap());
/// root.activate(new.csa).unwrap(); // nothing to link: what it reads is dropped
///
/// drop(client);
/// while root.data_ready("inbox") == 0 {
///     assert!(std::time::Instant::now() < deadline);
///     sched.step(1);
/// }
/// let gone: ShutdownCSA = root.recv_as("inbox").unwrap();
/// assert_eq!(gone.csa, new.csa);
/// assert_eq!(gone.end, ConnectionEnd::PeerClosed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCSA {
    /// The server that accepted the connection.
    pub server: ComponentId,
    /// The [`ConnectedSocketAdapter`] serving it.
    pub csa: ComponentId,
    /// The client's address.
    pub peer: SocketAddr,
    /// This end's address.
    pub local: SocketAddr,
}

/// "A connection has ended": sent by [`TCPServer`] on `protocolHandlerSignal` (Kamaelia's
/// `shutdownCSA`) once the CSA has ended and the server has let go of it. See [`NewCSA`] for
/// a worked example.
///
/// ```
/// use axon::internet::tcp_server::{ConnectionEnd, ShutdownCSA};
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let id = sched.root().id();
/// let m = ShutdownCSA { server: id, csa: id, end: ConnectionEnd::Stopped };
/// assert_eq!(m.clone(), m);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownCSA {
    /// The server.
    pub server: ComponentId,
    /// The CSA that ended.
    pub csa: ComponentId,
    /// How.
    pub end: ConnectionEnd,
}

/// Sent by a [`ConnectedSocketAdapter`] on `CreatorFeedback` as it ends (Kamaelia's
/// `socketShutdown`), so that whoever made it can let go of it.
///
/// ```
/// use axon::internet::tcp_server::{
///     ConnectedSocketAdapter, ConnectionEnd, SocketConfig, SocketShutdown,
/// };
/// use axon::Scheduler;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let (stream, peer) = listener.accept().unwrap();
/// stream.set_nonblocking(true).unwrap();
/// drop(client); // the peer leaves at once
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let csa = root.create(ConnectedSocketAdapter::new(
///     mio::net::TcpStream::from_std(stream),
///     peer,
///     SocketConfig::default(),
/// ));
/// root.link((csa, "CreatorFeedback"), (root.id(), "inbox")).unwrap();
/// root.activate(csa).unwrap();
/// assert!(sched.run().is_clean());
/// let fb: SocketShutdown = root.recv_as("inbox").unwrap();
/// assert_eq!(fb.csa, csa);
/// assert_eq!(fb.end, ConnectionEnd::PeerClosed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketShutdown {
    /// The CSA that ended.
    pub csa: ComponentId,
    /// How.
    pub end: ConnectionEnd,
}

// ----- the connection loop shared by the CSA and the TCP client -----------------------------

/// What [`run_connection`] needs.
pub(crate) struct Connection<'a> {
    pub ctx: &'a Ctx,
    pub stream: &'a mut TcpStream,
    pub reg: &'a Registration,
    pub config: &'a SocketConfig,
    /// The peer's address, for error messages.
    pub peer: String,
    /// On `ProducerFinished`: flush, shut the writing side, read until the peer closes.
    pub linger: bool,
}

/// How [`run_connection`] ended.
pub(crate) enum Outcome {
    /// Told to stop by this control message.
    Stopped(Message),
    /// The peer closed (in [`PeerClose::Close`] mode).
    PeerClosed,
    /// The socket failed.
    Failed(SocketError),
}

/// How many messages one (vectored) write may take from the inbox.
const WRITE_BATCH: usize = 16;

/// The smallest read a budget may impose.
const MIN_CHUNK: usize = 4 * 1024;

/// The largest read, whatever `read_chunk` says (a chunk is allocated whole before the read).
const MAX_CHUNK: usize = 16 << 20;

/// The most to read at once now: the read budget shared among the registered sockets.
fn chunk_size(config: &SocketConfig, reg: &Registration) -> usize {
    let max = config.read_chunk.clamp(1, MAX_CHUNK);
    match config.read_budget {
        Some(budget) => {
            (budget / reg.selector().registered().max(1)).clamp(MIN_CHUNK.min(max), max)
        }
        None => max,
    }
}

/// Reads at most `max` bytes; an empty vector means end of file.
///
/// The bytes are read straight into the vector that travels on, so a read costs no copy in
/// user space. A short read (under half of `max`) gives back the memory it did not use
/// (`shrink_to_fit`: the allocator cuts the block where it is, no copy), so that a chunk
/// waiting in a box never holds more than twice its size.
fn read_chunk(stream: &mut TcpStream, max: usize) -> io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(max);
    let n = read_into_spare(stream, &mut b)?;
    if n < max / 2 {
        b.shrink_to_fit();
    }
    Ok(b)
}

/// Reads into the unused capacity of `b` (without zeroing it first) and extends its length
/// by what was read.
#[cfg(unix)]
fn read_into_spare(stream: &mut TcpStream, b: &mut Vec<u8>) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    use std::os::raw::{c_int, c_void};
    extern "C" {
        fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> isize;
    }
    let spare = b.spare_capacity_mut();
    loop {
        // SAFETY: `recv` writes at most `spare.len()` bytes into `spare`, memory that `b`
        // owns and that nothing else refers to during the call; the descriptor belongs to
        // `stream`, alive for the whole call.
        let n = unsafe {
            recv(
                stream.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                0,
            )
        };
        if n >= 0 {
            let n = n as usize;
            // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
            unsafe { b.set_len(b.len() + n) };
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(unix))]
fn read_into_spare(stream: &mut TcpStream, b: &mut Vec<u8>) -> io::Result<usize> {
    use std::io::Read;
    let start = b.len();
    b.resize(b.capacity(), 0);
    let n = stream.read(&mut b[start..]);
    b.truncate(start + *n.as_ref().unwrap_or(&0));
    n
}

/// The bytes a message sent to a socket's inbox holds, if it holds bytes or text. The message
/// itself is kept while it is written, so nothing is copied (shared `Arc` payloads from a
/// fan-out included).
fn bytes_of(m: &Message) -> Option<&[u8]> {
    if let Some(v) = m.downcast_ref::<Vec<u8>>() {
        return Some(v);
    }
    if let Some(s) = m.downcast_ref::<String>() {
        return Some(s.as_bytes());
    }
    if let Some(s) = m.downcast_ref::<&'static str>() {
        return Some(s.as_bytes());
    }
    if let Some(b) = m.downcast_ref::<&'static [u8]>() {
        return Some(b);
    }
    if let Some(b) = m.downcast_ref::<Box<[u8]>>() {
        return Some(b);
    }
    if let Some(b) = m.downcast_ref::<Arc<[u8]>>() {
        return Some(b);
    }
    if let Some(b) = m.downcast_ref::<Arc<Vec<u8>>>() {
        return Some(b.as_slice());
    }
    if let Some(s) = m.downcast_ref::<Arc<str>>() {
        return Some(s.as_bytes());
    }
    if let Some(s) = m.downcast_ref::<Arc<String>>() {
        return Some(s.as_bytes());
    }
    None
}

/// A chunk handed back by a send that found the destination full; other send errors fail.
fn held_back(e: SendError) -> Result<Vec<u8>, ComponentError> {
    if e.is_full() {
        Ok(e.into_message().downcast::<Vec<u8>>()?)
    } else {
        Err(e.into())
    }
}

/// The connected-socket loop: inbox → socket, socket → outbox, stop messages on control.
/// Returns how it ended; the caller closes the socket and reports on `signal`.
pub(crate) async fn run_connection(
    c: Connection<'_>,
    mut finishing: Option<Message>,
) -> Result<Outcome, ComponentError> {
    let Connection {
        ctx,
        stream,
        reg,
        config,
        peer,
        linger,
    } = c;
    let me = ctx.id();
    let peer_close = config.peer_close;
    let failed = |op, e: &io::Error| Ok(Outcome::Failed(SocketError::new(me, op, &peer, e)));
    let reads_per_turn = config.reads_per_turn.max(1);
    // Edge-triggered readiness: assume ready until the socket says WouldBlock.
    let mut can_read = true;
    let mut can_write = true;
    let mut read_open = true;
    let mut write_shut = false;
    // A chunk read but refused by a full inbox downstream.
    let mut held: Option<Vec<u8>> = None;
    // The messages being written, and how much of the first is written.
    let mut out: VecDeque<Message> = VecDeque::with_capacity(WRITE_BATCH);
    let mut out_off = 0;
    loop {
        let ready = reg.take_ready();
        can_read |= ready.readable;
        can_write |= ready.writable;

        while ctx.data_ready("control") > 0 {
            let m = ctx.recv("control")?;
            match stop_kind(&m) {
                Some(StopKind::Now) => return Ok(Outcome::Stopped(m)),
                Some(StopKind::Finish) => {
                    if finishing.is_none() {
                        finishing = Some(m);
                    }
                }
                None => log::debug!("{}: ignored a {} on control", ctx.name(), m.type_name()),
            }
        }

        // Write what is held, then what waits in the inbox, until the socket is full. Up to
        // WRITE_BATCH messages go out in one vectored write.
        if can_write && !write_shut {
            loop {
                while out.len() < WRITE_BATCH && ctx.data_ready("inbox") > 0 {
                    let m = ctx.recv("inbox")?;
                    match bytes_of(&m) {
                        Some([]) => {}
                        Some(_) => out.push_back(m),
                        None => log::warn!(
                            "{}: dropped a {} sent to be written (send Vec<u8>, String, &str, \
                             Box<[u8]> or an Arc of bytes or text)",
                            ctx.name(),
                            m.type_name()
                        ),
                    }
                }
                if out.is_empty() {
                    break;
                }
                let mut iov = [io::IoSlice::new(&[]); WRITE_BATCH];
                for (k, m) in out.iter().enumerate() {
                    let b = bytes_of(m).expect("checked when taken");
                    iov[k] = io::IoSlice::new(if k == 0 { &b[out_off..] } else { b });
                }
                match stream.write_vectored(&iov[..out.len()]) {
                    Ok(0) => return failed(SocketOp::Write, &io::ErrorKind::WriteZero.into()),
                    Ok(mut n) => {
                        while n > 0 {
                            let left = bytes_of(&out[0]).expect("checked").len() - out_off;
                            if n >= left {
                                n -= left;
                                out.pop_front();
                                out_off = 0;
                            } else {
                                out_off += n;
                                n = 0;
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        can_write = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return failed(SocketOp::Write, &e),
                }
            }
        }

        // Finishing: once everything is written, close (or, lingering, half-close and read on).
        if finishing.is_some() && !write_shut && out.is_empty() && ctx.data_ready("inbox") == 0 {
            if linger && read_open {
                if let Err(e) = stream.shutdown(std::net::Shutdown::Write) {
                    if e.kind() != io::ErrorKind::NotConnected {
                        return failed(SocketOp::Write, &e);
                    }
                }
                write_shut = true;
            } else {
                return Ok(Outcome::Stopped(finishing.take().expect("checked above")));
            }
        }

        // Read while the downstream inbox has room, a few chunks per turn.
        let mut more = false;
        if read_open && (finishing.is_none() || write_shut) {
            let read_chunk_size = chunk_size(config, reg);
            if let Some(chunk) = held.take() {
                if let Err(e) = ctx.send(chunk, "outbox") {
                    held = Some(held_back(e)?);
                }
            }
            let mut reads = 0;
            while held.is_none() && can_read && read_open {
                if reads == reads_per_turn {
                    more = true;
                    break;
                }
                match read_chunk(stream, read_chunk_size) {
                    Ok(v) if v.is_empty() => {
                        read_open = false;
                        if write_shut {
                            let m = finishing.take().expect("write_shut implies finishing");
                            return Ok(Outcome::Stopped(m));
                        }
                        match peer_close {
                            PeerClose::Close => return Ok(Outcome::PeerClosed),
                            PeerClose::HalfClose => ctx.send(
                                ProducerFinished {
                                    caller: Some(me),
                                    message: Some(format!("{peer} closed its side")),
                                },
                                "signal",
                            )?,
                        }
                    }
                    Ok(v) => {
                        reads += 1;
                        if let Err(e) = ctx.send(v, "outbox") {
                            held = Some(held_back(e)?);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => can_read = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return failed(SocketOp::Read, &e),
                }
            }
        }

        // Sleep unless there is more to do right now; the selector, a message, or the
        // downstream component collecting wakes us.
        let writes_waiting =
            can_write && !write_shut && (!out.is_empty() || ctx.data_ready("inbox") > 0);
        if !more && !writes_waiting {
            ctx.pause();
        }
        ctx.yield_now().await;
    }
}

// ----- ConnectedSocketAdapter ----------------------------------------------------------------

const CSA_INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Data to write to the socket: Vec<u8>, String, &str, &[u8], Box<[u8]>, or an Arc of bytes or text",
    ),
    BoxSpec::new(
        "control",
        "ProducerFinished: write what is held, then close; ShutdownMicroprocess: close at once",
    ),
];

const CSA_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Data read from the socket, as Vec<u8> chunks"),
    BoxSpec::new(
        "signal",
        "How the connection ended: ProducerFinished, the stop message received, or SocketError",
    ),
    BoxSpec::new(
        "CreatorFeedback",
        "SocketShutdown as it ends, for the component that made it",
    ),
];

/// Serves one connected socket (Kamaelia's `ConnectedSocketAdapter`, "CSA"): bytes on `inbox`
/// are written to the socket, bytes read come out of `outbox` as `Vec<u8>` chunks.
///
/// | box | what |
/// |---|---|
/// | `inbox` | bytes to write: `Vec<u8>`, `String`, `&'static str`, `&'static [u8]`, `Box<[u8]>`, `Arc<[u8]>`, `Arc<Vec<u8>>`, `Arc<str>`, `Arc<String>` (other types are logged and dropped); limited to [`SocketConfig::inbox_size`] messages |
/// | `control` | [`ProducerFinished`]: write what is held, then close; [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or [`Shutdown`](crate::ipc::Shutdown): close at once |
/// | `outbox` | bytes read |
/// | `signal` | [`ProducerFinished`] when the peer closes; the `control` message it stopped on; or a [`SocketError`] (reset, ...) |
/// | `CreatorFeedback` | [`SocketShutdown`] as it ends |
///
/// See the [module documentation](self) for back-pressure. [`TCPServer`] makes these;
/// making one by hand from an accepted socket works too:
///
/// ```
/// use axon::internet::tcp_server::{ConnectedSocketAdapter, SocketConfig};
/// use axon::ipc::ProducerFinished;
/// use axon::Scheduler;
/// use std::io::{Read, Write};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
///     s.write_all(b"hello").unwrap();
///     let mut answer = String::new();
///     s.read_to_string(&mut answer).unwrap();
///     answer
/// });
/// let (stream, peer) = listener.accept().unwrap();
/// stream.set_nonblocking(true).unwrap();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let csa = root.create(ConnectedSocketAdapter::new(
///     mio::net::TcpStream::from_std(stream),
///     peer,
///     SocketConfig::default(),
/// ));
/// root.link((csa, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((root.id(), "outbox"), (csa, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (csa, "control")).unwrap();
/// root.activate(csa).unwrap();
///
/// // Read "hello" from the client, answer, then finish: the answer is flushed, then closed.
/// let mut got = Vec::new();
/// while got.len() < 5 {
///     sched.step(1);
///     while let Ok(m) = root.recv("inbox") {
///         got.extend(m.downcast::<Vec<u8>>().unwrap());
///     }
/// }
/// assert_eq!(got, b"hello");
/// root.send("goodbye", "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert_eq!(client.join().unwrap(), "goodbye");
/// ```
pub struct ConnectedSocketAdapter {
    stream: TcpStream,
    peer: SocketAddr,
    config: SocketConfig,
}

impl fmt::Debug for ConnectedSocketAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectedSocketAdapter({})", self.peer)
    }
}

impl ConnectedSocketAdapter {
    /// Serves `stream` (connected, non-blocking) to `peer`.
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        config: SocketConfig,
    ) -> ConnectedSocketAdapter {
        ConnectedSocketAdapter {
            stream,
            peer,
            config,
        }
    }
}

impl Component for ConnectedSocketAdapter {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(CSA_INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(CSA_OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let ConnectedSocketAdapter {
            mut stream,
            peer,
            config,
        } = self;
        let me = ctx.id();
        ctx.set_inbox_size("inbox", config.inbox_size)?;
        let registered = Selector::for_scheduler(&ctx).and_then(|s| {
            s.register(
                &mut stream,
                Interest::READABLE | Interest::WRITABLE,
                ctx.remote_waker(),
            )
        });
        let outcome = match registered {
            Err(e) => Outcome::Failed(SocketError::new(me, SocketOp::Register, peer, &e)),
            Ok(reg) => {
                let o = run_connection(
                    Connection {
                        ctx: &ctx,
                        stream: &mut stream,
                        reg: &reg,
                        config: &config,
                        peer: peer.to_string(),
                        linger: false,
                    },
                    None,
                )
                .await?;
                drop(reg);
                o
            }
        };
        let _ = stream.shutdown(std::net::Shutdown::Both);
        drop(stream);
        let end = match outcome {
            Outcome::Stopped(m) => {
                ctx.send(m, "signal")?;
                ConnectionEnd::Stopped
            }
            Outcome::PeerClosed => {
                ctx.send(
                    ProducerFinished {
                        caller: Some(me),
                        message: Some(format!("connection closed by {peer}")),
                    },
                    "signal",
                )?;
                ConnectionEnd::PeerClosed
            }
            Outcome::Failed(e) => {
                log::debug!("{}: {e}", ctx.name());
                ctx.send(e.clone(), "signal")?;
                ConnectionEnd::Failed(e)
            }
        };
        ctx.send(SocketShutdown { csa: me, end }, "CreatorFeedback")?;
        Ok(())
    }
}

// ----- TCPServer --------------------------------------------------------------------------

const SERVER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "control",
        "ProducerFinished: accept what is waiting, then stop listening; ShutdownMicroprocess: stop listening at once",
    ),
    BoxSpec::new(
        "_feedbackFromCSA",
        "SocketShutdown from the ConnectedSocketAdapters it made",
    ),
];

const SERVER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "protocolHandlerSignal",
        "NewCSA for each new connection, ShutdownCSA when one ends",
    ),
    BoxSpec::new(
        "signal",
        "The stop message it ended on, or a SocketError if it could not listen",
    ),
];

/// The listen backlog the server asks for (the kernel caps it, at `net.core.somaxconn` on
/// Linux).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// How many connections to accept in one turn before letting the others run.
const ACCEPTS_PER_TURN: usize = 64;

/// Listens for TCP connections and makes a [`ConnectedSocketAdapter`] for each (Kamaelia's
/// `TCPServer`).
///
/// | box | what |
/// |---|---|
/// | `control` | [`ProducerFinished`]: accept the connections already waiting, then stop listening; [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or [`Shutdown`](crate::ipc::Shutdown): stop listening at once. Either is passed on out of `signal`. |
/// | `_feedbackFromCSA` | [`SocketShutdown`] from its CSAs (linked by the server itself) |
/// | `protocolHandlerSignal` | [`NewCSA`] for each connection, [`ShutdownCSA`] when one ends |
/// | `signal` | the stop message, or a [`SocketError`] if listening failed |
///
/// The socket is bound when the server is made ([`TCPServer::bind`]), so the address (and a
/// port chosen by the system for port 0) is known at once with
/// [`local_addr`](TCPServer::local_addr). The listen backlog is raised to
/// [`DEFAULT_BACKLOG`].
///
/// Each new CSA is created (not activated), adopted as a child, its `CreatorFeedback` linked
/// to the server, and announced with [`NewCSA`]: **the receiver activates it** after linking
/// it. When the CSA ends the server unlinks it and announces [`ShutdownCSA`]. Stopping the
/// server stops listening; connections already handed over run on and are their owner's to
/// stop (as in Kamaelia).
///
/// ```
/// use axon::internet::tcp_server::{NewCSA, TCPServer};
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::{component, Scheduler};
/// use std::io::Read;
///
/// let server = TCPServer::bind("127.0.0.1:0").unwrap();
/// let addr = server.local_addr();
/// std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
///     let mut text = String::new();
///     s.read_to_string(&mut text).unwrap();
///     assert_eq!(text, "welcome\n");
/// });
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let srv = root.create(server);
/// // A handler: greets the first connection, then stops the server.
/// let handler = root.create(component("Greeter", |ctx| async move {
///     loop {
///         if let Ok(m) = ctx.recv("inbox") {
///             let new = m.downcast::<NewCSA>()?;
///             ctx.link((ctx.id(), "outbox"), (new.csa, "inbox"))?;
///             ctx.link((ctx.id(), "signal"), (new.csa, "control"))?;
///             ctx.activate(new.csa)?;
///             ctx.send("welcome\n", "outbox")?;
///             ctx.send(axon::ipc::ProducerFinished::default(), "signal")?;
///             return Ok(());
///         }
///         ctx.pause();
///         ctx.yield_now().await;
///     }
/// }));
/// root.link((srv, "protocolHandlerSignal"), (handler, "inbox")).unwrap();
/// root.activate(srv).unwrap();
/// root.activate(handler).unwrap();
/// while !root.is_stopped(handler) {
///     sched.step(1);
/// }
/// root.link((root.id(), "signal"), (srv, "control")).unwrap();
/// root.send(ShutdownMicroprocess::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// ```
pub struct TCPServer {
    listener: TcpListener,
    local: SocketAddr,
    config: SocketConfig,
}

impl fmt::Debug for TCPServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TCPServer({})", self.local)
    }
}

impl TCPServer {
    /// A server on `127.0.0.1:port` (Kamaelia's `TCPServer(listenport)`, but on the loopback
    /// address: use [`bind`](TCPServer::bind) for another).
    pub fn new(port: u16) -> io::Result<TCPServer> {
        TCPServer::bind(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// A server bound to `addr` (the first of its addresses that binds), listening with a
    /// backlog of [`DEFAULT_BACKLOG`].
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TCPServer> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to");
        for a in addr.to_socket_addrs()? {
            match TcpListener::bind(a) {
                Ok(listener) => {
                    set_backlog(&listener, DEFAULT_BACKLOG)?;
                    let local = listener.local_addr()?;
                    return Ok(TCPServer {
                        listener,
                        local,
                        config: SocketConfig::default(),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Asks for another listen backlog (the kernel caps it).
    pub fn with_backlog(self, backlog: i32) -> io::Result<TCPServer> {
        set_backlog(&self.listener, backlog)?;
        Ok(self)
    }

    /// The settings for the connections it accepts.
    pub fn with_socket_config(mut self, config: SocketConfig) -> TCPServer {
        self.config = config;
        self
    }
}

/// Calls `listen` again with a larger backlog (std and mio ask for 128, too few for a
/// thousand clients connecting at once). Linux and the BSDs take a second `listen` on a
/// listening socket as a change of backlog.
#[cfg(unix)]
fn set_backlog(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    extern "C" {
        fn listen(fd: std::os::raw::c_int, backlog: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    // SAFETY: `listen` takes two integers and touches no memory of ours; the descriptor
    // belongs to `listener`, which is alive for the whole call.
    let rc = unsafe { listen(listener.as_raw_fd(), backlog) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn set_backlog(_listener: &TcpListener, _backlog: i32) -> io::Result<()> {
    Ok(())
}

impl Component for TCPServer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(SERVER_INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(SERVER_OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let TCPServer {
            mut listener,
            local,
            config,
        } = self;
        let me = ctx.id();
        let registered = Selector::for_scheduler(&ctx)
            .and_then(|s| s.register(&mut listener, Interest::READABLE, ctx.remote_waker()));
        let reg = match registered {
            Ok(r) => r,
            Err(e) => {
                let e = SocketError::new(me, SocketOp::Register, local, &e);
                log::error!("{}: {e}", ctx.name());
                ctx.send(e, "signal")?;
                return Ok(());
            }
        };
        let mut can_accept = true;
        let mut backing_off = false;
        let stop = loop {
            let ready = reg.take_ready();
            can_accept |= ready.readable;
            if ready.deadline_passed {
                backing_off = false;
                can_accept = true;
            }

            while ctx.data_ready("_feedbackFromCSA") > 0 {
                let m = ctx.recv("_feedbackFromCSA")?;
                if let Some(s) = m.downcast_ref::<SocketShutdown>() {
                    ctx.remove_child(s.csa);
                    ctx.send(
                        ShutdownCSA {
                            server: me,
                            csa: s.csa,
                            end: s.end.clone(),
                        },
                        "protocolHandlerSignal",
                    )?;
                }
            }

            let mut stop = None;
            while ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                match stop_kind(&m) {
                    Some(StopKind::Now) => {
                        stop = Some(m);
                        break;
                    }
                    Some(StopKind::Finish) => {
                        // Hand over the connections already waiting, then stop.
                        accept(&ctx, &mut listener, &config, usize::MAX)?;
                        stop = Some(m);
                        break;
                    }
                    None => log::debug!("{}: ignored a {} on control", ctx.name(), m.type_name()),
                }
            }
            if let Some(m) = stop {
                break m;
            }

            let mut more = false;
            if can_accept && !backing_off {
                match accept(&ctx, &mut listener, &config, ACCEPTS_PER_TURN)? {
                    Accepted::Drained => can_accept = false,
                    Accepted::More => more = true,
                    Accepted::Failed(e) => {
                        // Out of descriptors, say: try again shortly rather than spin.
                        log::error!(
                            "{}: accept on {local} failed: {e}; retrying in 100 ms",
                            ctx.name()
                        );
                        backing_off = true;
                        reg.set_deadline(Some(Instant::now() + Duration::from_millis(100)));
                    }
                }
            }
            if !more {
                ctx.pause();
            }
            ctx.yield_now().await;
        };
        let _ = reg.deregister(&mut listener);
        drop(listener);
        ctx.send(stop, "signal")?;
        Ok(())
    }
}

/// What one round of accepting found.
enum Accepted {
    /// The backlog is empty (accept said WouldBlock).
    Drained,
    /// The per-turn limit was reached.
    More,
    /// Accept failed in a way that may pass (out of descriptors, ...).
    Failed(io::Error),
}

/// Accepts up to `limit` connections, making and announcing a CSA for each.
fn accept(
    ctx: &Ctx,
    listener: &mut TcpListener,
    config: &SocketConfig,
    limit: usize,
) -> Result<Accepted, ComponentError> {
    let me = ctx.id();
    let mut n = 0;
    while n < limit {
        let (stream, peer) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Accepted::Drained),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                continue
            }
            Err(e) => return Ok(Accepted::Failed(e)),
        };
        n += 1;
        if config.nodelay {
            let _ = stream.set_nodelay(true);
        }
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(e) => {
                log::debug!("{}: dropped a connection from {peer}: {e}", ctx.name());
                continue;
            }
        };
        let csa = ctx.create(ConnectedSocketAdapter::new(stream, peer, config.clone()));
        ctx.add_children(&[csa])?;
        ctx.link((csa, "CreatorFeedback"), (me, "_feedbackFromCSA"))?;
        ctx.send(
            NewCSA {
                server: me,
                csa,
                peer,
                local,
            },
            "protocolHandlerSignal",
        )?;
    }
    Ok(Accepted::More)
}
