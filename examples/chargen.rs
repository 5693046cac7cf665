//! Kamaelia's `Kamaelia/Util/Chargen.py` `tests()`: a parent links a Chargen to a console
//! echoer, adopts both as children and activates them, then sleeps. Chargen sends
//! "Hello World" at every yield, for ever, and the echoer writes each one to stdout with no
//! newline: `Hello WorldHello WorldHello World...`.
//!
//! ```text
//! cargo run --example chargen            # runs until interrupted (Ctrl-C), like the original
//! cargo run --example chargen -- 1000    # stops the scheduler after 1000 "Hello World"s
//! ```
//!
//! Chargen and the echoer are small local versions, enough for this demo.

use std::io::Write;

use kamaelia::axon::{component, ComponentResult, Ctx, Scheduler};

/// Sends "Hello World" out of "outbox" at every yield, for ever; ignores its inboxes.
async fn chargen(ctx: Ctx) -> ComponentResult {
    loop {
        ctx.send("Hello World", "outbox")?;
        ctx.yield_now().await;
    }
}

/// Writes every message on "inbox" to stdout as it is, with no newline. With a `limit`, stops
/// the whole scheduler after writing that many (standing in for Ctrl-C).
async fn echoer(ctx: Ctx, limit: Option<u64>) -> ComponentResult {
    let mut written = 0u64;
    loop {
        let mut out = std::io::stdout().lock();
        while ctx.data_ready("inbox") > 0 {
            let text: &'static str = ctx.recv_as("inbox")?;
            out.write_all(text.as_bytes())?;
            written += 1;
            if limit == Some(written) {
                out.flush()?;
                ctx.stop_scheduler();
                return Ok(());
            }
        }
        out.flush()?;
        drop(out);
        ctx.pause();
        ctx.yield_now().await;
    }
}

fn main() {
    let limit = match std::env::args().nth(1) {
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
    sched.spawn(component("testComponent", move |ctx| async move {
        let chargen = ctx.create(component("Chargen", chargen));
        let display = ctx.create(component("ConsoleEchoer", move |ctx| echoer(ctx, limit)));
        ctx.link((chargen, "outbox"), (display, "inbox"))?;
        ctx.add_children(&[chargen, display])?;
        // Kamaelia's `yield newComponent(*self.children)`.
        for child in ctx.children() {
            ctx.activate(child)?;
        }
        loop {
            ctx.pause();
            ctx.yield_now().await;
        }
    }));
    let report = sched.run();
    if !report.failures.is_empty() || !report.left_paused.is_empty() {
        eprintln!("{report:?}");
        std::process::exit(1);
    }
}
