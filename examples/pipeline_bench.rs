//! N integers from a source through K relay components to a sink: the shape of
//! `shared/bench/axon_pipeline_bench.py`, for comparing with the Python Axon.
//!
//! ```text
//! cargo run --release --example pipeline_bench -- 200000 10
//! ```
//! The last line reads
//! `axon-rust N=<n> K=<k> received=<n> seconds=<s> msgs_per_s=<x> hops_per_s=<y> peak_rss_kib=<r>`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::{Component, ComponentResult, Ctx, Scheduler};

struct Source {
    n: u64,
}

impl Component for Source {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        for i in 0..self.n {
            ctx.send(i, "outbox")?;
            if i % 64 == 0 {
                ctx.yield_now().await;
            }
        }
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        ctx.yield_now().await;
        Ok(())
    }
}

struct Relay;

impl Component for Relay {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            while ctx.data_ready("inbox") > 0 {
                ctx.send(ctx.recv("inbox")?, "outbox")?;
            }
            if ctx.data_ready("control") > 0 {
                let msg = ctx.recv("control")?;
                ctx.send(msg, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

struct Sink {
    count: Rc<Cell<u64>>,
}

// The count is read back on the same thread after the run.
unsafe impl Send for Sink {}

impl Component for Sink {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut count = 0u64;
        loop {
            while ctx.data_ready("inbox") > 0 {
                ctx.recv("inbox")?;
                count += 1;
            }
            if ctx.data_ready("control") > 0 {
                ctx.recv("control")?;
                self.count.set(count);
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let k: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let count = Rc::new(Cell::new(0));

    let t = Instant::now();
    let sched = Scheduler::new();
    let root = sched.root();
    let mut ids = vec![root.create(Source { n })];
    ids.extend((0..k).map(|_| root.create(Relay)));
    ids.push(root.create(Sink {
        count: count.clone(),
    }));
    for pair in ids.windows(2) {
        root.link((pair[0], "outbox"), (pair[1], "inbox")).unwrap();
        root.link((pair[0], "signal"), (pair[1], "control"))
            .unwrap();
    }
    for &id in &ids {
        root.activate(id).unwrap();
    }
    let report = sched.run();
    let dt = t.elapsed().as_secs_f64();
    assert!(report.is_clean(), "{report:?}");
    println!(
        "axon-rust N={n} K={k} received={} seconds={dt:.3} msgs_per_s={:.0} hops_per_s={:.0} peak_rss_kib={}",
        count.get(),
        n as f64 / dt,
        (n * (k as u64 + 1)) as f64 / dt,
        peak_rss_kib()
    );
}
