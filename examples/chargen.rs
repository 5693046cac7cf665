//! Kamaelia's `Kamaelia/Util/Chargen.py` `tests()`: a parent links a `Chargen` to a
//! `ConsoleEchoer`, adopts both as children and activates them, then sleeps. Chargen sends
//! "Hello World" at every yield, for ever, and the echoer writes each one to stdout with no
//! newline: `Hello WorldHello WorldHello World...`.
//!
//! ```text
//! cargo run --example chargen            # runs until interrupted (Ctrl-C), like the original
//! cargo run --example chargen -- 1000    # stops after exactly 1000 "Hello World"s
//! ```
//!
//! Both are the library's components, `axon::util::Chargen` and `axon::util::ConsoleEchoer`.
//!
//! # The limit, and how it differs from the Python
//!
//! The Python runs until it is killed. With a count `N`, a small local `Limit` component sits
//! between the two (Chargen → Limit → ConsoleEchoer): it passes on the first `N` items, then
//! sends `ProducerFinished` to the echoer's `control` (the echoer writes what it holds, then
//! stops) and `ShutdownMicroprocess` to the Chargen's `control` (which stops it before its
//! next send; Kamaelia's Chargen cannot be stopped, ours follows the uniform stop rule of
//! spec (f)5). The parent ends when its children have, and the program ends by itself. The
//! limit sits *before* the echoer so that exactly `N` are written: a counter after it would
//! only learn of an item once it had been written, when more may have been.
//!
//! Without a count the wiring is the Python's (Chargen → ConsoleEchoer) and the parent
//! pauses for ever, as the Python one sleeps.

use kamaelia::axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use kamaelia::axon::util::{Chargen, ConsoleEchoer};
use kamaelia::axon::{component, BoxSpec, ComponentResult, Ctx, Scheduler};

const LIMIT_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "The first N items"),
    BoxSpec::new("signal", "ProducerFinished, after N items"),
    BoxSpec::new(
        "stop_source",
        "ShutdownMicroprocess for the source, after N items",
    ),
];

/// Passes on the first `n` items from `inbox`, then tells what is downstream that it is
/// finished and the source to stop, and ends.
async fn limit(ctx: Ctx, n: u64) -> ComponentResult {
    let mut passed = 0u64;
    loop {
        while passed < n {
            let Ok(item) = ctx.recv("inbox") else { break };
            ctx.send(item, "outbox")?;
            passed += 1;
        }
        if passed == n {
            ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
            ctx.send(ShutdownMicroprocess::default(), "stop_source")?;
            return Ok(());
        }
        ctx.pause();
        ctx.yield_now().await;
    }
}

fn main() {
    let limit_n = match std::env::args().nth(1) {
        None => None,
        Some(arg) => match arg.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                eprintln!("usage: chargen [N]   (N > 0: stop after N \"Hello World\"s)");
                std::process::exit(2);
            }
        },
    };

    let sched = Scheduler::new();
    sched.spawn(component("testComponent", move |ctx: Ctx| async move {
        let chargen = ctx.create(Chargen);
        let display = ctx.create(ConsoleEchoer::new());
        match limit_n {
            None => {
                ctx.link((chargen, "outbox"), (display, "inbox"))?;
                ctx.add_children(&[chargen, display])?;
            }
            Some(n) => {
                let limiter = ctx.create(
                    component("Limit", move |ctx| limit(ctx, n)).with_outboxes(LIMIT_OUTBOXES),
                );
                ctx.link((chargen, "outbox"), (limiter, "inbox"))?;
                ctx.link((limiter, "outbox"), (display, "inbox"))?;
                ctx.link((limiter, "signal"), (display, "control"))?;
                ctx.link((limiter, "stop_source"), (chargen, "control"))?;
                ctx.add_children(&[chargen, limiter, display])?;
            }
        }
        // Kamaelia's `yield newComponent(*self.children)`.
        for child in ctx.children() {
            ctx.activate(child)?;
        }
        // The Python sleeps for ever; this wakes when a child ends, and ends after them.
        while !ctx.children().iter().all(|&c| ctx.is_stopped(c)) {
            ctx.pause();
            ctx.yield_now().await;
        }
        Ok(())
    }));
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("chargen did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
