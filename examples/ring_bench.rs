//! A ring of N components: creation, one token around the ring, a shutdown message around
//! the ring, and a clean end. Reports memory per idle component and time per hop, for each N
//! given, so that the cost per hop can be compared from 1,000 to 1,000,000 components.
//!
//! ```text
//! cargo run --release --example ring_bench -- 1000 10000 100000 1000000
//! ```
//! One line per N:
//! `ring N=<n> create_s=<s> kib_per_component=<k> lap_s=<s> ns_per_hop=<h> shutdown_s=<s> clean=<bool>`

use std::time::Instant;

use kamaelia::axon::ipc::ShutdownMicroprocess;
use kamaelia::axon::{component, Component, ComponentResult, Ctx, Scheduler};

/// The token: how many hops it has made.
struct Token(u64);

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
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Instant)>();
    // The starter sends the token, waits for it to come back, then sends the shutdown round.
    let starter = root.create(component("Starter", move |ctx: Ctx| async move {
        let start = Instant::now();
        ctx.send(Token(0), "outbox")?;
        loop {
            if let Ok(m) = ctx.recv("inbox") {
                let hops = m.downcast::<Token>()?.0;
                assert_eq!(hops as usize, n - 1, "token lost hops");
                break;
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        let lap_end = Instant::now();
        ctx.send(ShutdownMicroprocess::default(), "outbox")?;
        while ctx.recv("inbox").is_err() {
            ctx.pause();
            ctx.yield_now().await;
        }
        let _ = tx.send((start, lap_end));
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
    let kib_per = (rss_kib().saturating_sub(rss0)) as f64 / n as f64;
    let report = sched.run();
    let end = Instant::now();
    let (start, lap_end) = rx.recv().expect("starter reported");
    let lap = lap_end - start;
    println!(
        "ring N={n} create_s={create_s:.3} kib_per_component={kib_per:.3} lap_s={:.3} ns_per_hop={:.0} shutdown_s={:.3} clean={}",
        lap.as_secs_f64(),
        lap.as_nanos() as f64 / n as f64,
        (end - lap_end).as_secs_f64(),
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
