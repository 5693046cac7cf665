//! `Tracker`: an HTTP tracker (announce and scrape, compact and not) as axon components, on
//! axon's TCP server: one [`TrackerProtocol`] component per connection, all sharing one
//! [`Swarms`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axon::internet::server_core::{ConnectionInfo, ServerCore};
use axon::ipc::{stop_kind, ProducerFinished, StopKind};
use axon::{AnyComponent, Component, ComponentResult, Ctx, Message};

use super::http;
use super::swarm::Swarms;

/// Serves one HTTP request on one connection: bytes in on `inbox`, the answer out on
/// `outbox`, then ProducerFinished on `signal` to close the connection.
#[derive(Debug)]
pub struct TrackerProtocol {
    swarms: Arc<Mutex<Swarms>>,
    peer: SocketAddr,
}

impl TrackerProtocol {
    /// The protocol for a connection from `peer`.
    pub fn new(swarms: Arc<Mutex<Swarms>>, peer: SocketAddr) -> TrackerProtocol {
        TrackerProtocol { swarms, peer }
    }
}

impl Component for TrackerProtocol {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                let Ok(bytes) = m.downcast::<Vec<u8>>() else {
                    continue;
                };
                buf.extend_from_slice(&bytes);
                let answer = match http::parse_request(&buf) {
                    Ok(None) => continue,
                    Ok(Some((req, _))) => {
                        let mut swarms = self.swarms.lock().unwrap_or_else(|e| e.into_inner());
                        swarms.handle(&req, self.peer, Instant::now())
                    }
                    Err(reason) => {
                        http::response(400, "Bad Request", "text/plain", reason.as_bytes())
                    }
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
            ctx.pause();
            ctx.yield_now().await;
        }
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

/// The tracker's shared memory and a way to make its server.
///
/// ```
/// use kamaelia_torrent::tracker::server::Tracker;
///
/// let tracker = Tracker::new();
/// let (server, addr) = tracker.server("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert!(addr.ip().is_loopback());
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    swarms: Arc<Mutex<Swarms>>,
}

impl Tracker {
    /// A tracker with no swarms yet.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The server component listening on `addr` (port 0: any free port), and the address it
    /// listens on. Activate it in a scheduler; stop it with a message on its `control`.
    pub fn server(&self, addr: SocketAddr) -> std::io::Result<(AnyComponent, SocketAddr)> {
        let swarms = self.swarms.clone();
        let server = ServerCore::bind(addr, move |info: ConnectionInfo| {
            AnyComponent::new(TrackerProtocol::new(swarms.clone(), info.peer))
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
