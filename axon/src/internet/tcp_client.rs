//! A TCP client component (Kamaelia's `Kamaelia.Internet.TCPClient`), and the error message
//! every socket component reports on `signal` when a connection fails ([`SocketError`]).
//!
//! [`TCPClient`] connects without blocking the scheduler (a non-blocking connect through mio,
//! woken by the [selector](super::selector)), then behaves as a
//! [`ConnectedSocketAdapter`](super::tcp_server::ConnectedSocketAdapter): bytes sent to its
//! `inbox` are written to the socket, bytes read from the socket come out of its `outbox` as
//! `Vec<u8>`.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::Interest;

use super::selector::{Registration, Selector};
use super::tcp_server::{run_connection, Connection, Outcome, SocketConfig};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ids::ComponentId;
use crate::ipc::{stop_kind, ErrorInformation, ProducerFinished, StopKind};
use crate::message::Message;
use crate::Component;

/// What a socket component was doing when it failed; it starts the text of a [`SocketError`].
///
/// ```
/// use axon::internet::tcp_client::SocketOp;
///
/// assert_eq!(SocketOp::Connect.to_string(), "connect to");
/// assert_eq!(SocketOp::Read.to_string(), "read from");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketOp {
    /// Looking up the host name.
    Resolve,
    /// Connecting.
    Connect,
    /// Registering the socket with the selector.
    Register,
    /// Accepting a connection.
    Accept,
    /// Reading.
    Read,
    /// Writing.
    Write,
}

impl fmt::Display for SocketOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketOp::Resolve => "resolve",
            SocketOp::Connect => "connect to",
            SocketOp::Register => "watch the socket of",
            SocketOp::Accept => "accept on",
            SocketOp::Read => "read from",
            SocketOp::Write => "write to",
        })
    }
}

/// A socket failed: sent on `signal` by [`TCPClient`],
/// [`ConnectedSocketAdapter`](super::tcp_server::ConnectedSocketAdapter) and
/// [`TCPServer`](super::tcp_server::TCPServer) instead of
/// [`ProducerFinished`] when a connection ends badly (refused, reset, timed out, ...).
///
/// Its text names the operation, the address and the system's error, e.g.
/// `connect to 127.0.0.1:9 failed: Connection refused (os error 111)`. A component that
/// receives it on `control` should treat it as the end of the stream.
///
/// ```
/// use axon::internet::tcp_client::{SocketError, SocketOp};
/// use axon::Scheduler;
/// use std::io;
///
/// let sched = Scheduler::new();
/// let me = sched.root().id();
/// let e = SocketError::new(
///     me,
///     SocketOp::Connect,
///     "127.0.0.1:9",
///     &io::Error::from(io::ErrorKind::ConnectionRefused),
/// );
/// assert_eq!(e.kind, io::ErrorKind::ConnectionRefused);
/// assert!(e.to_string().starts_with("connect to 127.0.0.1:9 failed: "));
/// // For components that expect Kamaelia's errorInformation:
/// assert_eq!(e.to_error_information().caller, me);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketError {
    /// The component whose socket failed.
    pub caller: ComponentId,
    /// What it was doing.
    pub op: SocketOp,
    /// The address concerned (the peer, or the host asked for).
    pub address: String,
    /// The system's error kind, e.g. `ConnectionRefused`, `ConnectionReset`, `TimedOut`.
    pub kind: io::ErrorKind,
    /// The system's error text.
    pub error: String,
}

impl SocketError {
    /// Describes `err`, which happened to `caller` while doing `op` on `address`.
    pub fn new(
        caller: ComponentId,
        op: SocketOp,
        address: impl fmt::Display,
        err: &io::Error,
    ) -> SocketError {
        SocketError {
            caller,
            op,
            address: address.to_string(),
            kind: err.kind(),
            error: err.to_string(),
        }
    }

    /// The same error as Kamaelia's `errorInformation` message.
    pub fn to_error_information(&self) -> ErrorInformation {
        ErrorInformation {
            caller: self.caller,
            exception: Some(self.error.clone()),
            message: Some(self.to_string()),
        }
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed: {}", self.op, self.address, self.error)
    }
}

impl std::error::Error for SocketError {}

/// Where a [`TCPClient`] connects.
#[derive(Clone, Debug)]
enum Target {
    Host(String, u16),
    Addr(SocketAddr),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            Target::Host(h, p) => write!(f, "{h}:{p}"),
            Target::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// A TCP connection to a server (Kamaelia's `TCPClient(host, port)`).
///
/// | box | what |
/// |---|---|
/// | `inbox` | bytes to send: `Vec<u8>`, `String`, `&'static str`, `&'static [u8]`, `Box<[u8]>`, `Arc<[u8]>`, `Arc<Vec<u8>>`, `Arc<str>` or `Arc<String>`; limited to [`SocketConfig::inbox_size`] messages |
/// | `control` | [`ProducerFinished`]: send what is held, then close; [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or [`Shutdown`](crate::ipc::Shutdown): close at once |
/// | `outbox` | bytes received, as `Vec<u8>` chunks |
/// | `signal` | how it ended: [`ProducerFinished`] when the server closed the connection, the `control` message it was stopped with, or a [`SocketError`] |
///
/// Connecting never blocks the scheduler: a host name that is not an IP address is looked up
/// on a short-lived thread, and the connect itself is non-blocking, woken by the
/// [selector](super::selector). Each address the name resolves to is tried in turn. A connect
/// that fails (refused, unreachable, timed out after
/// [`with_connect_timeout`](TCPClient::with_connect_timeout), 60 s by default) ends the
/// component with a [`SocketError`] on `signal`, whose text names the address and the
/// system's reason.
///
/// Once connected it runs the same loop as a
/// [`ConnectedSocketAdapter`](super::tcp_server::ConnectedSocketAdapter), with the same
/// back-pressure: its `inbox` holds at most [`SocketConfig::inbox_size`] messages (a sender
/// then gets `NoSpaceInBox` and must hold its data), and it stops reading from the socket
/// while the inbox its `outbox` leads to is full. When the server closes the connection the
/// client ends at once, as Kamaelia's does ([`SocketConfig::peer_close`] is
/// [`PeerClose::Close`](super::tcp_server::PeerClose::Close) by default).
///
/// ```
/// use axon::internet::tcp_client::TCPClient;
/// use axon::ipc::ProducerFinished;
/// use axon::Scheduler;
/// use std::io::{Read, Write};
///
/// // A one-shot server on a plain thread: reads "ping", answers "pong", closes.
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// std::thread::spawn(move || {
///     let (mut s, _) = listener.accept().unwrap();
///     s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
///     let mut buf = [0u8; 4];
///     s.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"ping");
///     s.write_all(b"pong").unwrap();
/// });
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let client = root.spawn(TCPClient::new("127.0.0.1", port));
/// root.link((root.id(), "outbox"), (client, "inbox")).unwrap();
/// root.link((client, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((client, "signal"), (root.id(), "control")).unwrap();
/// root.send(b"ping".to_vec(), "outbox").unwrap();
/// assert!(sched.run().is_clean()); // ends when the server closes
///
/// let mut got = Vec::new();
/// while let Ok(m) = root.recv("inbox") {
///     got.extend(m.downcast::<Vec<u8>>().unwrap());
/// }
/// assert_eq!(got, b"pong");
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
pub struct TCPClient {
    target: Target,
    config: SocketConfig,
    connect_timeout: Duration,
    wait_for_server_close: bool,
}

impl fmt::Debug for TCPClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TCPClient({})", self.target)
    }
}

impl TCPClient {
    /// A client for `host` (a name or an IP address) and `port`.
    pub fn new(host: impl Into<String>, port: u16) -> TCPClient {
        let host = host.into();
        let target = match host.parse::<IpAddr>() {
            Ok(ip) => Target::Addr(SocketAddr::new(ip, port)),
            Err(_) => Target::Host(host, port),
        };
        TCPClient {
            target,
            config: SocketConfig::default(),
            connect_timeout: Duration::from_secs(60),
            wait_for_server_close: false,
        }
    }

    /// A client for a socket address.
    pub fn connect_to(addr: SocketAddr) -> TCPClient {
        let mut c = TCPClient::new(addr.ip().to_string(), addr.port());
        c.target = Target::Addr(addr);
        c
    }

    /// How long one connect attempt may take before it fails with `TimedOut` (default 60 s,
    /// as Kamaelia's `connect_timeout`).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> TCPClient {
        self.connect_timeout = timeout;
        self
    }

    /// With `true`, [`ProducerFinished`] on `control` sends what is held, shuts the writing
    /// side (the server sees end of file), then keeps reading until the server closes
    /// (Kamaelia's `wait_for_serverclose`). Default `false`: close once flushed.
    pub fn wait_for_server_close(mut self, wait: bool) -> TCPClient {
        self.wait_for_server_close = wait;
        self
    }

    /// Replaces the socket settings (read size, inbox limit, `TCP_NODELAY`, ...).
    pub fn with_socket_config(mut self, config: SocketConfig) -> TCPClient {
        self.config = config;
        self
    }
}

/// What happened while waiting for something before the connection exists.
enum Waited<T> {
    Done(T),
    Stop(Message),
}

impl Component for TCPClient {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        ctx.set_inbox_size("inbox", self.config.inbox_size)?;
        let mut finishing: Option<Message> = None;

        // Find the addresses.
        let addrs = match &self.target {
            Target::Addr(a) => vec![*a],
            Target::Host(host, port) => {
                match resolve(&ctx, host.clone(), *port, &mut finishing).await? {
                    Waited::Stop(m) => {
                        ctx.send(m, "signal")?;
                        return Ok(());
                    }
                    Waited::Done(Ok(addrs)) if !addrs.is_empty() => addrs,
                    Waited::Done(Ok(_)) => {
                        let e = io::Error::new(io::ErrorKind::NotFound, "no address found");
                        ctx.send(
                            SocketError::new(me, SocketOp::Resolve, &self.target, &e),
                            "signal",
                        )?;
                        return Ok(());
                    }
                    Waited::Done(Err(e)) => {
                        ctx.send(
                            SocketError::new(me, SocketOp::Resolve, &self.target, &e),
                            "signal",
                        )?;
                        return Ok(());
                    }
                }
            }
        };

        let selector = match Selector::for_scheduler(&ctx) {
            Ok(s) => s,
            Err(e) => {
                ctx.send(
                    SocketError::new(me, SocketOp::Register, &self.target, &e),
                    "signal",
                )?;
                return Ok(());
            }
        };

        // Try each address in turn.
        let mut last_error = None;
        let mut connected = None;
        for addr in addrs {
            match connect(&ctx, &selector, addr, self.connect_timeout, &mut finishing).await? {
                Waited::Stop(m) => {
                    ctx.send(m, "signal")?;
                    return Ok(());
                }
                Waited::Done(Ok(c)) => {
                    connected = Some((addr, c));
                    break;
                }
                Waited::Done(Err(e)) => last_error = Some(e),
            }
        }
        let Some((addr, (mut stream, reg))) = connected else {
            let e = last_error.unwrap_or_else(|| {
                SocketError::new(
                    me,
                    SocketOp::Connect,
                    &self.target,
                    &io::ErrorKind::NotFound.into(),
                )
            });
            log::debug!("{}: {e}", ctx.name());
            ctx.send(e, "signal")?;
            return Ok(());
        };
        if self.config.nodelay {
            let _ = stream.set_nodelay(true);
        }

        let outcome = run_connection(
            Connection {
                ctx: &ctx,
                stream: &mut stream,
                reg: &reg,
                config: &self.config,
                peer: addr.to_string(),
                linger: self.wait_for_server_close,
            },
            finishing,
        )
        .await?;
        drop(reg);
        let _ = stream.shutdown(std::net::Shutdown::Both);
        drop(stream);
        match outcome {
            Outcome::Stopped(m) => ctx.send(m, "signal")?,
            Outcome::PeerClosed => ctx.send(
                ProducerFinished {
                    caller: Some(me),
                    message: Some(format!("connection closed by {addr}")),
                },
                "signal",
            )?,
            Outcome::Failed(e) => {
                log::debug!("{}: {e}", ctx.name());
                ctx.send(e, "signal")?
            }
        }
        Ok(())
    }
}

/// Looks for a stop message on `control` while connecting: `Now` stops at once; `Finish` is
/// kept, to be honoured once connected (after sending what is held).
fn check_control(
    ctx: &Ctx,
    finishing: &mut Option<Message>,
) -> Result<Option<Message>, crate::ComponentError> {
    while ctx.data_ready("control") > 0 {
        let m = ctx.recv("control")?;
        match stop_kind(&m) {
            Some(StopKind::Now) => return Ok(Some(m)),
            Some(StopKind::Finish) => {
                if finishing.is_none() {
                    *finishing = Some(m);
                }
            }
            None => log::debug!("{}: ignored a {} on control", ctx.name(), m.type_name()),
        }
    }
    Ok(None)
}

/// Resolves a host name on a short-lived thread, so that the scheduler never waits for DNS.
async fn resolve(
    ctx: &Ctx,
    host: String,
    port: u16,
    finishing: &mut Option<Message>,
) -> Result<Waited<io::Result<Vec<SocketAddr>>>, crate::ComponentError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let waker = ctx.remote_waker();
    std::thread::Builder::new()
        .name("axon-resolve".into())
        .spawn(move || {
            let r = (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
            let _ = tx.send(r);
            waker.wake();
        })?;
    loop {
        if let Ok(r) = rx.try_recv() {
            return Ok(Waited::Done(r));
        }
        if let Some(m) = check_control(ctx, finishing)? {
            return Ok(Waited::Stop(m));
        }
        ctx.pause();
        ctx.yield_now().await;
    }
}

/// One non-blocking connect attempt, woken by the selector, failing after `timeout`.
async fn connect(
    ctx: &Ctx,
    selector: &Selector,
    addr: SocketAddr,
    timeout: Duration,
    finishing: &mut Option<Message>,
) -> Result<Waited<Result<(TcpStream, Registration), SocketError>>, crate::ComponentError> {
    let me = ctx.id();
    let fail = |e: &io::Error| {
        Ok(Waited::Done(Err(SocketError::new(
            me,
            SocketOp::Connect,
            addr,
            e,
        ))))
    };
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let reg = match selector.register(
        &mut stream,
        Interest::READABLE | Interest::WRITABLE,
        ctx.remote_waker(),
    ) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Waited::Done(Err(SocketError::new(
                me,
                SocketOp::Register,
                addr,
                &e,
            ))));
        }
    };
    reg.set_deadline(Some(Instant::now() + timeout));
    loop {
        if let Some(m) = check_control(ctx, finishing)? {
            return Ok(Waited::Stop(m));
        }
        let ready = reg.take_ready();
        if ready.readable || ready.writable {
            // mio's recipe: an error, or a peer address once connected.
            match stream.take_error() {
                Ok(Some(e)) | Err(e) => return fail(&e),
                Ok(None) => {}
            }
            match stream.peer_addr() {
                Ok(_) => {
                    reg.set_deadline(None);
                    return Ok(Waited::Done(Ok((stream, reg))));
                }
                Err(e) if still_connecting(&e) => {}
                Err(e) => return fail(&e),
            }
        }
        if ready.deadline_passed {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection after {:?}", timeout),
            );
            return fail(&e);
        }
        ctx.pause();
        ctx.yield_now().await;
    }
}

/// Whether `e`, from asking a socket whose non-blocking connect was started for its peer's
/// address (mio's recipe for a finished connect), means the connect is still under way:
/// `NotConnected`, or on some systems `EINPROGRESS`.
///
/// ```
/// use axon::internet::tcp_client::still_connecting;
/// let e = std::io::Error::from(std::io::ErrorKind::NotConnected);
/// assert!(still_connecting(&e));
/// assert!(!still_connecting(&std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
/// ```
pub fn still_connecting(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotConnected || e.raw_os_error() == Some(EINPROGRESS)
}

/// `EINPROGRESS`: 115 on Linux and Android, 150 on illumos and Solaris, 36 on macOS and the
/// BSDs.
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(any(target_os = "illumos", target_os = "solaris"))]
const EINPROGRESS: i32 = 150;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "illumos",
    target_os = "solaris"
)))]
const EINPROGRESS: i32 = 36;
