//! Connected servers (Kamaelia's `Kamaelia.Chassis.ConnectedServer`): [`ServerCore`] makes a
//! protocol component for each TCP connection and wires it to the connection;
//! [`SimpleServer`] does the same with a factory that takes no connection details.
//!
//! For each connection:
//!
//! ```text
//!              outbox ──(pipe width)──> inbox
//!   ConnectedSocketAdapter               protocol
//!              inbox  <──────────────── outbox
//!              control <─────────────── signal
//!              signal  ───────────────> control
//! ```
//!
//! so the protocol reads the client's bytes on `inbox` and writes to the client on `outbox`;
//! when the client closes, the protocol gets [`ProducerFinished`] on `control`; when the
//! protocol finishes (passing [`ProducerFinished`] on `signal`, or just ending), the
//! connection is flushed and closed. ServerCore also watches both ends: when the connection
//! ends (closed, reset), the protocol is sent
//! [`ShutdownMicroprocess`]; when the protocol ends, the connection is sent
//! [`ProducerFinished`]. Once both have ended, ServerCore removes them and its linkages.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::tcp_server::{NewCSA, PeerClose, SocketConfig, TCPServer};
use crate::component::{AnyComponent, BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ids::ComponentId;
use crate::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess, StopKind};
use crate::linkage::Passthrough;
use crate::message::Message;

/// What a protocol factory is told about a new connection (Kamaelia passes `peer`,
/// `peerport`, `localip` and `localport`).
///
/// ```
/// use axon::internet::server_core::ServerCore;
/// use axon::ipc::{ProducerFinished, ShutdownMicroprocess};
/// use axon::{component, Background};
/// use std::io::Read;
///
/// // Kamaelia's CleverEchoProtocol greeting.
/// let server = ServerCore::bind("127.0.0.1:0", |info| {
///     let welcome = format!(
///         "Welcome! You have connected to {} on port {} from {} on port {}\n",
///         info.local.ip(),
///         info.local.port(),
///         info.peer.ip(),
///         info.peer.port()
///     );
///     component("Welcome", move |ctx| async move {
///         ctx.send(welcome, "outbox")?;
///         ctx.send(ProducerFinished::default(), "signal")?;
///         Ok(())
///     })
/// })
/// .unwrap();
/// let addr = server.local_addr();
/// let bg = Background::start();
/// let handle = bg.handle(server).unwrap();
///
/// let mut s = std::net::TcpStream::connect(addr).unwrap();
/// s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
/// let me = s.local_addr().unwrap();
/// let mut text = String::new();
/// s.read_to_string(&mut text).unwrap();
/// assert_eq!(
///     text,
///     format!(
///         "Welcome! You have connected to 127.0.0.1 on port {} from 127.0.0.1 on port {}\n",
///         addr.port(),
///         me.port()
///     )
/// );
/// handle.put(ShutdownMicroprocess::default(), "control").unwrap();
/// drop(handle);
/// assert!(bg.finish().is_clean());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address (Kamaelia's `peer` and `peerport`).
    pub peer: SocketAddr,
    /// This end's address (Kamaelia's `localip` and `localport`).
    pub local: SocketAddr,
    /// The connection's [`ConnectedSocketAdapter`](super::tcp_server::ConnectedSocketAdapter).
    pub csa: ComponentId,
    /// The [`ServerCore`] that made the protocol.
    pub server: ComponentId,
}

type Factory = Box<dyn FnMut(ConnectionInfo) -> AnyComponent + Send>;

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Not used - but kept to allow usage in Seq/etc"),
    BoxSpec::new(
        "control",
        "ProducerFinished: stop accepting, end once every connection has; ShutdownMicroprocess: close everything now",
    ),
    BoxSpec::new(
        "_socketactivity",
        "NewCSA and ShutdownCSA from the TCPServer",
    ),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Not used - but kept to allow usage in Seq/etc"),
    BoxSpec::new("signal", "The stop message it ended on"),
];

/// The default pipe width: how many chunks may wait in a protocol's `inbox`.
pub const DEFAULT_PIPE_WIDTH: usize = 4;

/// A TCP server that runs one protocol component per connection (Kamaelia's `ServerCore`).
///
/// | box | what |
/// |---|---|
/// | `control` | [`ProducerFinished`]: stop accepting, let the connections run to their end, then end; [`ShutdownMicroprocess`] or [`Shutdown`](crate::ipc::Shutdown): stop accepting and close every connection now. Either is passed on out of `signal`. |
/// | `signal` | the stop message it ended on |
/// | `inbox`, `outbox` | not used (kept as Kamaelia does) |
///
/// The factory is called for each connection with its [`ConnectionInfo`] and returns the
/// protocol component (not activated: ServerCore links, then activates it). The protocol uses
/// the standard boxes: `inbox` for the client's bytes (`Vec<u8>`), `outbox` for bytes to the
/// client, `control` for [`ProducerFinished`] (the client closed its side: finish and pass it
/// on) or [`ShutdownMicroprocess`] (the connection is gone: stop now), `signal` to close the
/// connection (send [`ProducerFinished`] when done). A protocol with an outbox named
/// `serversignal` has it linked to ServerCore's `control`, so that it can stop the server.
///
/// **Back-pressure**: the protocol's `inbox` is limited to the pipe width
/// ([`DEFAULT_PIPE_WIDTH`] chunks of at most [`SocketConfig::read_chunk`] bytes), and the
/// connection's `inbox` to
/// [`SocketConfig::inbox_size`] messages. A protocol whose `send` fails with `NoSpaceInBox`
/// (`SendError::is_full`) must keep the message and try again when woken (the connection
/// wakes it as it collects), and should stop taking from its own inbox meanwhile: then a
/// client that sends fast and reads slowly is slowed down by TCP instead of growing the
/// server's memory. See the [`tcp_server`](super::tcp_server) module.
///
/// Connections are served with [`PeerClose::HalfClose`]: a client that shuts its writing side
/// still gets every answer the protocol sends before it finishes.
///
/// ```
/// use axon::internet::server_core::ServerCore;
/// use axon::ipc::{stop_kind, ShutdownMicroprocess, StopKind};
/// use axon::{component, Background};
/// use std::io::{Read, Write};
///
/// // A protocol that greets the client by address and answers one line in upper case.
/// let server = ServerCore::bind("127.0.0.1:0", |info| {
///     component("Shout", move |ctx| async move {
///         ctx.send(format!("hello {}\n", info.peer.ip()), "outbox")?;
///         loop {
///             if let Ok(m) = ctx.recv("inbox") {
///                 let bytes = m.downcast::<Vec<u8>>()?;
///                 ctx.send(bytes.to_ascii_uppercase(), "outbox")?;
///                 ctx.send(axon::ipc::ProducerFinished::default(), "signal")?;
///                 return Ok(());
///             }
///             if let Ok(m) = ctx.recv("control") {
///                 if stop_kind(&m) == Some(StopKind::Now) {
///                     return Ok(());
///                 }
///             }
///             ctx.pause();
///             ctx.yield_now().await;
///         }
///     })
/// })
/// .unwrap();
/// let addr = server.local_addr();
///
/// let bg = Background::start();
/// let handle = bg.handle(server).unwrap();
///
/// let mut s = std::net::TcpStream::connect(addr).unwrap();
/// s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
/// s.write_all(b"quiet please\n").unwrap();
/// let mut text = String::new();
/// s.read_to_string(&mut text).unwrap(); // the protocol finished: the server closed
/// assert_eq!(text, "hello 127.0.0.1\nQUIET PLEASE\n");
///
/// handle.put(ShutdownMicroprocess::default(), "control").unwrap();
/// drop(handle);
/// assert!(bg.finish().is_clean());
/// ```
pub struct ServerCore {
    server: TCPServer,
    factory: Factory,
    pipe_width: Option<usize>,
}

impl fmt::Debug for ServerCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerCore({})", self.server.local_addr())
    }
}

impl ServerCore {
    /// A server on `127.0.0.1:port` (Kamaelia's `ServerCore(protocol=..., port=...)`).
    pub fn new<F, P>(port: u16, protocol: F) -> io::Result<ServerCore>
    where
        F: FnMut(ConnectionInfo) -> P + Send + 'static,
        P: Component,
    {
        ServerCore::bind(SocketAddr::from(([127, 0, 0, 1], port)), protocol)
    }

    /// A server bound to `addr`; the socket is bound now, so [`local_addr`](Self::local_addr)
    /// tells the port chosen for port 0.
    pub fn bind<F, P>(addr: impl ToSocketAddrs, mut protocol: F) -> io::Result<ServerCore>
    where
        F: FnMut(ConnectionInfo) -> P + Send + 'static,
        P: Component,
    {
        let server = TCPServer::bind(addr)?.with_socket_config(SocketConfig {
            peer_close: PeerClose::HalfClose,
            ..SocketConfig::default()
        });
        Ok(ServerCore {
            server,
            factory: Box::new(move |info| AnyComponent::new(protocol(info))),
            pipe_width: Some(DEFAULT_PIPE_WIDTH),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// How many messages may wait in a protocol's `inbox` (default [`DEFAULT_PIPE_WIDTH`]);
    /// `None` lifts the limit (and with it the back-pressure from slow protocols).
    pub fn with_pipe_width(mut self, width: Option<usize>) -> ServerCore {
        self.pipe_width = width;
        self
    }

    /// The settings for the connections (read size, connection inbox limit, ...). Note that
    /// ServerCore's own default differs from [`SocketConfig::default`] in one field:
    /// `peer_close` is [`PeerClose::HalfClose`]; the value given here is used as it is.
    pub fn with_socket_config(mut self, config: SocketConfig) -> ServerCore {
        self.server = self.server.with_socket_config(config);
        self
    }

    /// Asks for another listen backlog (default
    /// [`DEFAULT_BACKLOG`](super::tcp_server::DEFAULT_BACKLOG)).
    pub fn with_backlog(mut self, backlog: i32) -> io::Result<ServerCore> {
        self.server = self.server.with_backlog(backlog)?;
        Ok(self)
    }
}

/// Kamaelia's `SimpleServer`: a [`ServerCore`] whose protocol factory takes no connection
/// details. It is a component with ServerCore's boxes and behaviour.
///
/// ```
/// use axon::internet::server_core::SimpleServer;
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::{component, Background};
/// use std::io::Read;
///
/// let server = SimpleServer::bind("127.0.0.1:0", || {
///     component("Fortune", |ctx| async move {
///         ctx.send("Today is a good day to write tests.\n", "outbox")?;
///         ctx.send(axon::ipc::ProducerFinished::default(), "signal")?;
///         Ok(())
///     })
/// })
/// .unwrap();
/// let addr = server.local_addr();
/// let bg = Background::start();
/// let handle = bg.handle(server).unwrap();
///
/// let mut text = String::new();
/// let mut s = std::net::TcpStream::connect(addr).unwrap();
/// s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
/// s.read_to_string(&mut text).unwrap();
/// assert_eq!(text, "Today is a good day to write tests.\n");
///
/// handle.put(ShutdownMicroprocess::default(), "control").unwrap();
/// drop(handle);
/// assert!(bg.finish().is_clean());
/// ```
#[derive(Debug)]
pub struct SimpleServer(ServerCore);

impl SimpleServer {
    /// A server on `127.0.0.1:port` calling `protocol()` for each connection (Kamaelia's
    /// `SimpleServer(protocol=..., port=...)`).
    pub fn new<F, P>(port: u16, protocol: F) -> io::Result<SimpleServer>
    where
        F: FnMut() -> P + Send + 'static,
        P: Component,
    {
        SimpleServer::bind(SocketAddr::from(([127, 0, 0, 1], port)), protocol)
    }

    /// A server bound to `addr` calling `protocol()` for each connection.
    pub fn bind<F, P>(addr: impl ToSocketAddrs, mut protocol: F) -> io::Result<SimpleServer>
    where
        F: FnMut() -> P + Send + 'static,
        P: Component,
    {
        Ok(SimpleServer(ServerCore::bind(addr, move |_| protocol())?))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// The [`ServerCore`] inside, to change its settings.
    pub fn into_inner(self) -> ServerCore {
        self.0
    }
}

impl Component for SimpleServer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.0.inboxes()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.0.outboxes()
    }
    fn main(self, ctx: Ctx) -> impl std::future::Future<Output = ComponentResult> + 'static {
        self.0.main(ctx)
    }
}

/// One connection: its CSA, its protocol and the outboxes that reach their `control`.
struct Conn {
    protocol: ComponentId,
    to_protocol: String,
    to_csa: String,
    told_protocol: bool,
    told_csa: bool,
}

impl Component for ServerCore {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let ServerCore {
            server,
            mut factory,
            pipe_width,
        } = self;
        let me = ctx.id();
        let srv = ctx.create(server);
        // Private outboxes are added here rather than declared, so that a Handle (which links
        // every declared outbox) leaves them alone.
        let server_signal = ctx.add_outbox("_serversignal")?;
        ctx.link((srv, "protocolHandlerSignal"), (me, "_socketactivity"))?;
        ctx.link((me, &server_signal), (srv, "control"))?;
        ctx.add_children(&[srv])?;
        ctx.activate(srv)?;

        let mut conns: HashMap<ComponentId, Conn> = HashMap::new();
        let mut finishing: Option<Message> = None;
        loop {
            while ctx.data_ready("_socketactivity") > 0 {
                let m = ctx.recv("_socketactivity")?;
                if let Some(new) = m.downcast_ref::<NewCSA>() {
                    if let Some(conn) = connect(&ctx, &mut factory, new, pipe_width)? {
                        conns.insert(new.csa, conn);
                    }
                }
                // ShutdownCSA needs nothing more: the scan below sees the CSA has ended.
            }
            while ctx.data_ready("inbox") > 0 {
                ctx.recv("inbox")?; // not used
            }
            while ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                match stop_kind(&m) {
                    Some(StopKind::Now) => {
                        let _ = ctx.send(ShutdownMicroprocess::default(), &server_signal);
                        for (&csa, conn) in &conns {
                            let _ = ctx.send(ShutdownMicroprocess::default(), &conn.to_protocol);
                            let _ = ctx.send(ShutdownMicroprocess::default(), &conn.to_csa);
                            ctx.remove_child(csa);
                            ctx.remove_child(conn.protocol);
                        }
                        ctx.send(m, "signal")?;
                        return Ok(());
                    }
                    Some(StopKind::Finish) => {
                        if finishing.is_none() {
                            let _ = ctx.send(ProducerFinished::from(me), &server_signal);
                            finishing = Some(m);
                        }
                    }
                    None => log::debug!("{}: ignored a {} on control", ctx.name(), m.type_name()),
                }
            }

            // Each end of a connection that has ended stops the other; both ended: clean up.
            let mut done = Vec::new();
            for (&csa, conn) in conns.iter_mut() {
                let csa_ended = ctx.is_stopped(csa);
                let protocol_ended = ctx.is_stopped(conn.protocol);
                if csa_ended && !conn.told_protocol {
                    conn.told_protocol = true;
                    if !protocol_ended {
                        let _ = ctx.send(ShutdownMicroprocess::default(), &conn.to_protocol);
                    }
                }
                if protocol_ended && !conn.told_csa {
                    conn.told_csa = true;
                    if !csa_ended {
                        let _ = ctx.send(ProducerFinished::from(me), &conn.to_csa);
                    }
                }
                if csa_ended && protocol_ended {
                    done.push(csa);
                }
            }
            for csa in done {
                let conn = conns.remove(&csa).expect("found above");
                ctx.remove_child(csa);
                ctx.remove_child(conn.protocol);
                let _ = ctx.delete_outbox(&conn.to_protocol);
                let _ = ctx.delete_outbox(&conn.to_csa);
            }

            if ctx.is_stopped(srv) && conns.is_empty() {
                let m = finishing.take().map(Ok).unwrap_or_else(|| {
                    log::warn!("{}: the TCPServer ended; no connection is left", ctx.name());
                    Err(ProducerFinished {
                        caller: Some(me),
                        message: Some("the listening socket closed".into()),
                    })
                });
                match m {
                    Ok(m) => ctx.send(m, "signal")?,
                    Err(pf) => ctx.send(pf, "signal")?,
                }
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// Makes and wires the protocol for a new connection, and starts both.
fn connect(
    ctx: &Ctx,
    factory: &mut Factory,
    new: &NewCSA,
    pipe_width: Option<usize>,
) -> Result<Option<Conn>, crate::ComponentError> {
    let me = ctx.id();
    let csa = new.csa;
    let protocol = factory(ConnectionInfo {
        peer: new.peer,
        local: new.local,
        csa,
        server: me,
    });
    let has = |boxes: &[BoxSpec], name: &str| boxes.iter().any(|b| b.name == name);
    let (ins, outs) = (protocol.inboxes(), protocol.outboxes());
    if !has(&ins, "inbox")
        || !has(&ins, "control")
        || !has(&outs, "outbox")
        || !has(&outs, "signal")
    {
        log::error!(
            "{}: protocol {} lacks a standard box (inbox, control, outbox, signal); \
             closing the connection from {}",
            ctx.name(),
            protocol.label(),
            new.peer
        );
        let out = ctx.add_outbox("connectedSocketShutdownSignal")?;
        ctx.link((me, &out), (csa, "control"))?;
        ctx.send(ShutdownMicroprocess::default(), &out)?;
        ctx.activate(csa)?;
        ctx.delete_outbox(&out)?;
        return Ok(None);
    }
    let server_signal = has(&outs, "serversignal");
    let protocol = ctx.create(protocol);
    let to_protocol = ctx.add_outbox("protocolHandlerShutdownSignal")?;
    let to_csa = ctx.add_outbox("connectedSocketShutdownSignal")?;
    ctx.link_with(
        (csa, "outbox"),
        (protocol, "inbox"),
        Passthrough::Normal,
        pipe_width,
    )?;
    ctx.link((protocol, "outbox"), (csa, "inbox"))?;
    ctx.link((protocol, "signal"), (csa, "control"))?;
    ctx.link((csa, "signal"), (protocol, "control"))?;
    ctx.link((me, &to_protocol), (protocol, "control"))?;
    ctx.link((me, &to_csa), (csa, "control"))?;
    if server_signal {
        ctx.link((protocol, "serversignal"), (me, "control"))?;
    }
    ctx.add_children(&[csa, protocol])?;
    ctx.activate(csa)?;
    ctx.activate(protocol)?;
    Ok(Some(Conn {
        protocol,
        to_protocol,
        to_csa,
        told_protocol: false,
        told_csa: false,
    }))
}
