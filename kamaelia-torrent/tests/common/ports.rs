//! Ports for the programs the tests and `examples/swarm_bench.rs` (which includes this file by
//! path) start on 127.0.0.1.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: below it lie the well-known and commonly configured ones.
const LOWEST: u32 = 10_000;

/// The least room below the ephemeral range worth walking: with less, the calls of one
/// process would come round to the same ports too soon.
const LEAST_ROOM: u32 = 1_024;

/// A TCP port on 127.0.0.1 that was free a moment ago, for a program to listen on.
///
/// It is chosen below the system's range of ephemeral ports (those `connect` and a bind to
/// port 0 pick from), so that no outgoing connection can take it between this call and the
/// program's bind: a port from that range, as binding port 0 gives, sometimes went to one of
/// a swarm's many outgoing connections first, and the peer meant to listen on it failed to
/// start. The calls of one process walk the room below the range in turn, so that two of
/// them do not give the same port (until the walk wraps round); other processes start at
/// other places in it. If the system's range leaves no room below it, this falls back to
/// port 0's choice (also when that room is under [`LEAST_ROOM`] ports).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768)
        .min(65_536);
    if first_ephemeral >= LOWEST + LEAST_ROOM {
        let span = first_ephemeral - LOWEST;
        let start = std::process::id().wrapping_mul(7_919);
        for _ in 0..span {
            let n = CALLS.fetch_add(1, Ordering::Relaxed);
            let port = LOWEST + start.wrapping_add(n) % span;
            if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return port as u16;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("a bound listener's address")
        .port()
}
