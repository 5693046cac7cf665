//! `Tracker`: an HTTP tracker (announce and scrape, compact and not) as axon components, on
//! axon's TCP server: one [`TrackerProtocol`] component per connection, all sharing one
//! [`Swarms`].
//!
//! Connections are bounded: at most [`MAX_CONNECTIONS`] at once
//! ([`MAX_CONNECTIONS_PER_ADDRESS`] from one IP address, loopback aside; the engine's
//! [`ConnectionLimit`]), and one beyond that is closed at once; a connection whose request
//! head has not all arrived within [`HEAD_TIMEOUT`] is closed, so silent or dripping clients
//! (slowloris) cannot hold places for ever. A head is scanned incrementally
//! ([`http::RequestHead`]), and one that cannot be parsed gets a bencoded `failure reason`
//! (with HTTP 200, which is what clients read failures from).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axon::internet::server_core::{ConnectionInfo, ServerCore};
use axon::ipc::{stop_kind, ProducerFinished, StopKind};
use axon::{AnyComponent, Component, ComponentResult, Ctx, Message};

use super::announce::failure_bencode;
use super::http;
use super::swarm::Swarms;
use crate::engine::peer::{ConnectionLimit, Slot};

/// How many connections the tracker serves at once.
pub const MAX_CONNECTIONS: usize = 1_000;

/// How many of them may come from one IP address (an IPv6 /64; loopback counts only in all).
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 32;

/// How long a connection has to send its whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one HTTP request on one connection: bytes in on `inbox`, the answer out on
/// `outbox`, then ProducerFinished on `signal` to close the connection. Without a place under
/// the tracker's connection limit it closes at once; without a whole request head by its
/// deadline it closes without an answer.
#[derive(Debug)]
pub struct TrackerProtocol {
    swarms: Arc<Mutex<Swarms>>,
    peer: SocketAddr,
    /// Its place under the connection limit (given back when it ends).
    _slot: Option<Slot>,
    head_timeout: Duration,
}

impl TrackerProtocol {
    /// The protocol for a connection from `peer`, with no connection limit and the default
    /// [`HEAD_TIMEOUT`].
    pub fn new(swarms: Arc<Mutex<Swarms>>, peer: SocketAddr) -> TrackerProtocol {
        TrackerProtocol {
            swarms,
            peer,
            _slot: None,
            head_timeout: HEAD_TIMEOUT,
        }
    }
}

/// The bencoded failure answer to a request that cannot be understood (HTTP 200: clients
/// read a failure reason from a 200 answer only).
fn bad_request(reason: &str) -> Vec<u8> {
    http::response(200, "OK", "text/plain", &failure_bencode(reason))
}

impl Component for TrackerProtocol {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut head = http::RequestHead::default();
        let deadline = Instant::now() + self.head_timeout;
        ctx.wake_at(deadline);
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                let Ok(bytes) = m.downcast::<Vec<u8>>() else {
                    continue;
                };
                let answer = match head.push(&bytes) {
                    Ok(None) => continue,
                    Ok(Some(req)) => {
                        let mut swarms = self.swarms.lock().unwrap_or_else(|e| e.into_inner());
                        swarms.handle(&req, self.peer, Instant::now())
                    }
                    Err(reason) => bad_request(&reason),
                };
                return finish(&ctx, answer).await;
            }
            while let Ok(m) = ctx.recv("control") {
                match stop_kind(&m) {
                    // The client closed before sending a whole request, or the connection is
                    // gone: nothing to answer.
                    Some(StopKind::Finish) | Some(StopKind::Now) => {
                        ctx.send(m, "signal")?;
                        return Ok(());
                    }
                    None => {}
                }
            }
            if Instant::now() >= deadline {
                // Too slow: close without an answer.
                ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// The protocol of a connection over the limit: closes it at once.
#[derive(Debug)]
struct Refuse;

impl Component for Refuse {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        Ok(())
    }
}

/// Sends the answer (waiting while the connection's inbox is full), then closes.
async fn finish(ctx: &Ctx, answer: Vec<u8>) -> ComponentResult {
    let mut m = Message::new(answer);
    loop {
        match ctx.send(m, "outbox") {
            Ok(()) => break,
            Err(e) if e.is_full() => {
                m = e.into_message();
                ctx.pause();
                ctx.yield_now().await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
    Ok(())
}

/// The tracker's shared memory and a way to make its server. Its clones share the swarms and
/// the connection limit (servers made from one tracker count their connections together).
///
/// ```
/// use kamaelia_torrent::tracker::server::Tracker;
/// use std::time::Duration;
///
/// let tracker = Tracker::new()
///     .with_max_connections(100)
///     .with_head_timeout(Duration::from_secs(5));
/// let (server, addr) = tracker.server("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(addr.ip().is_loopback());
/// assert_eq!(tracker.connections(), 0);
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
pub struct Tracker {
    swarms: Arc<Mutex<Swarms>>,
    limit: ConnectionLimit,
    head_timeout: Duration,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker {
            swarms: Default::default(),
            limit: ConnectionLimit::new(MAX_CONNECTIONS).per_address(MAX_CONNECTIONS_PER_ADDRESS),
            head_timeout: HEAD_TIMEOUT,
        }
    }
}

impl Tracker {
    /// A tracker with no swarms yet, [`MAX_CONNECTIONS`] and [`HEAD_TIMEOUT`].
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Serves at most `max` connections at once ([`MAX_CONNECTIONS_PER_ADDRESS`] of them from
    /// one address); more are closed at once.
    pub fn with_max_connections(mut self, max: usize) -> Tracker {
        self.limit = ConnectionLimit::new(max).per_address(MAX_CONNECTIONS_PER_ADDRESS);
        self
    }

    /// Closes a connection that has not sent its whole request head within `timeout`.
    pub fn with_head_timeout(mut self, timeout: Duration) -> Tracker {
        self.head_timeout = timeout;
        self
    }

    /// How many connections are being served now.
    pub fn connections(&self) -> usize {
        self.limit.live()
    }

    /// The server component listening on `addr` (port 0: any free port), and the address it
    /// listens on. Activate it in a scheduler; stop it with a message on its `control`.
    pub fn server(&self, addr: SocketAddr) -> std::io::Result<(AnyComponent, SocketAddr)> {
        let swarms = self.swarms.clone();
        let limit = self.limit.clone();
        let head_timeout = self.head_timeout;
        let server = ServerCore::bind(addr, move |info: ConnectionInfo| {
            match limit.take_for(info.peer) {
                Some(slot) => AnyComponent::new(TrackerProtocol {
                    swarms: swarms.clone(),
                    peer: info.peer,
                    _slot: Some(slot),
                    head_timeout,
                }),
                None => AnyComponent::new(Refuse),
            }
        })?;
        let local = server.local_addr();
        Ok((AnyComponent::new(server), local))
    }

    /// How many peers the swarm of `info_hash` holds.
    pub fn peer_count(&self, info_hash: &[u8; 20]) -> usize {
        self.swarms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .peer_count(info_hash)
    }
}
