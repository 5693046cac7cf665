//! A ring of N components: creation, a token sent around the ring, a shutdown message around
//! the ring, and a clean end. Reports memory per idle component and time per hop, for each N
//! given, so that the cost per hop can be compared from 1,000 to 1,000,000 components.
//!
//! ```text
//! cargo run --release --example ring_bench -- 1000 10000 100000 1000000
//! ```
//! One line per N:
//! `ring N=<n> create_s=<s> kib_per_created=<k> kib_per_idle=<k> first_lap_ns_per_hop=<h> ns_per_hop=<h> shutdown_s=<s> clean=<bool>`
//!
//! `kib_per_created` is resident memory per component once made and linked; `kib_per_idle`
//! once every component has run and paused, waiting for input (its body's state included).
//! The first lap includes every component's first run (all N are activated together, so the
//! first cycle starts all of them); `ns_per_hop` is the steady state, over the laps after it.
//!
//! The steady state is timed over at least 10,000,000 hops (ten laps, or more for a ring
//! under 1,000,000). `RING_LAPS=<k>` sets how many laps follow the first instead: two runs
//! that differ only in it, counted by a cache simulator, give what one steady-state hop costs
//! (`scripts/ring-misses.sh`).

use std::time::Instant;

use kamaelia::axon::ipc::ShutdownMicroprocess;
use kamaelia::axon::{component, Component, ComponentResult, Ctx, Scheduler};

/// The token: how many hops it has made.
struct Token(u64);

/// Hops the steady-state figure is taken over, at least, unless `RING_LAPS` says otherwise:
/// a small ring makes as many laps as it takes (a ring of 1,000 makes 10,000), so that every
/// size is timed over a run of the same length and a short one is not at the mercy of a
/// single interruption.
const HOPS: u64 = 10_000_000;

/// The fewest laps after the first.
const LAPS: u64 = 10;

/// Laps after the first for a ring of `n`: `RING_LAPS` if set, else enough for [`HOPS`].
fn laps(n: usize) -> u64 {
    let default = LAPS.max(HOPS.div_ceil(n as u64));
    match std::env::var("RING_LAPS") {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("RING_LAPS={v:?} is not a whole number; using {default}");
            default
        }),
        Err(_) => default,
    }
}

/// A ring member: passes the token on, and the shutdown message, after which it ends.
struct Node;

impl Component for Node {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                match m.downcast::<Token>() {
                    Ok(Token(n)) => ctx.send(Token(n + 1), "outbox")?,
                    Err(other) => {
                        ctx.send(other.into_message(), "outbox")?;
                        return Ok(());
                    }
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn ring(n: usize) {
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let sched = Scheduler::new();
    let root = sched.root();
    let laps = laps(n);
    let (tx, rx) = std::sync::mpsc::channel::<([Instant; 3], u64)>();
    // The starter sends the token, passes it on until it has made 1 + laps laps, then sends
    // the shutdown round and waits for it to come back.
    let starter = root.create(component("Starter", move |ctx: Ctx| async move {
        let start = Instant::now();
        let mut first_lap = start;
        let total = n as u64 * (1 + laps);
        ctx.send(Token(0), "outbox")?;
        loop {
            if let Ok(m) = ctx.recv("inbox") {
                let hops = m.downcast::<Token>()?.0 + 1;
                if hops == n as u64 {
                    first_lap = Instant::now();
                }
                if hops == total {
                    break;
                }
                ctx.send(Token(hops), "outbox")?;
                continue;
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        let laps_end = Instant::now();
        let rss_running = rss_kib();
        ctx.send(ShutdownMicroprocess::default(), "outbox")?;
        while ctx.recv("inbox").is_err() {
            ctx.pause();
            ctx.yield_now().await;
        }
        let _ = tx.send(([start, first_lap, laps_end], rss_running));
        Ok(())
    }));
    let mut ids = vec![starter];
    ids.extend((1..n).map(|_| root.create(Node)));
    for i in 0..n {
        root.link((ids[i], "outbox"), (ids[(i + 1) % n], "inbox"))
            .expect("ring link");
    }
    for &id in &ids {
        root.activate(id).expect("activate");
    }
    let create_s = t0.elapsed().as_secs_f64();
    let kib_created = rss_kib().saturating_sub(rss0) as f64 / n as f64;
    let report = sched.run();
    let end = Instant::now();
    let ([start, first_lap, laps_end], rss_running) = rx.recv().expect("starter reported");
    let kib_running = rss_running.saturating_sub(rss0) as f64 / n as f64;
    let per_hop = |d: std::time::Duration, hops: u64| d.as_nanos() as f64 / hops as f64;
    println!(
        "ring N={n} create_s={create_s:.3} kib_per_created={kib_created:.3} kib_per_idle={kib_running:.3} first_lap_ns_per_hop={:.0} ns_per_hop={:.0} shutdown_s={:.3} clean={}",
        per_hop(first_lap - start, n as u64),
        per_hop(laps_end - first_lap, n as u64 * laps.max(1)),
        (end - laps_end).as_secs_f64(),
        report.is_clean() && sched.live() == 0
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    for n in sizes {
        ring(n.max(2));
    }
}
