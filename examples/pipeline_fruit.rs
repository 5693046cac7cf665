//! Kamaelia's `Kamaelia/Chassis/Pipeline.py` demo (its `__main__`): a fruit source feeds a
//! `Pipeline` holding one `PassThrough`, whose output goes to a `ConsoleEchoer`.
//!
//! A parent, `testComponent`, makes the three as its children and wires them: the source's
//! `outbox` and `signal` to the Pipeline's `inbox` and `control`, the Pipeline's `outbox` to the
//! echoer's `inbox`, and the Pipeline's `signal` to its own `_control`. When the source has
//! sent its eight lines it sends `ProducerFinished`, which cascades through the Pipeline (into
//! the `PassThrough` and out again) to the parent, which passes it on to the echoer's
//! `control` from its `_signal`. Everything ends, and so does the program.
//!
//! ```text
//! cargo run --example pipeline_fruit
//! ```
//!
//! It prints what the Python prints:
//!
//! ```text
//! Should output 7 fruit, followed by '<end of list>'.
//!
//! apples
//! pears
//! grapes
//! bananas
//! oranges
//! cherrys
//! lemons
//! <end of list>
//! ```
//!
//! # Differences from the Python
//!
//! - **It ends.** The Python demo makes its `PassThrough([])`: an empty `shutdownOn` list, so
//!   the PassThrough passes the `producerFinished` on but never stops, the Pipeline never ends
//!   (it waits for all its children), and `runThreads()` never returns: the recorded Python
//!   run printed the lines above and was killed by `timeout`. Our `PassThrough` has no
//!   `shutdownOn` argument; it follows the uniform stop rule (spec (f)5) and stops on
//!   `ProducerFinished` after passing on what it holds, so the Pipeline ends, and with it the
//!   program, as the demo's description ("producerFinished cascades") intends. (With
//!   `PassThrough()` the Python demo ends too.)
//! - The parent pauses until `_control` has something, where the Python one busy-yields.

use std::borrow::Cow;

use kamaelia::axon::ipc::{stop_kind, ProducerFinished};
use kamaelia::axon::util::{ConsoleEchoer, PassThrough};
use kamaelia::axon::{
    pipeline, BoxSpec, Component, ComponentResult, Ctx, Scheduler, DEFAULT_INBOXES,
    DEFAULT_OUTBOXES,
};

const FRUIT: [&str; 8] = [
    "apples\n",
    "pears\n",
    "grapes\n",
    "bananas\n",
    "oranges\n",
    "cherrys\n",
    "lemons\n",
    "<end of list>\n",
];

/// Sends each fruit, one per yield, then `ProducerFinished` on `signal` (the Python
/// `fruitSource`).
struct FruitSource;

impl Component for FruitSource {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        DEFAULT_INBOXES.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        DEFAULT_OUTBOXES.into()
    }
    fn label(&self) -> Cow<'static, str> {
        "fruitSource".into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        for fruit in FRUIT {
            ctx.send(fruit, "outbox")?;
            ctx.yield_now().await;
        }
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        ctx.yield_now().await;
        Ok(())
    }
}

/// The Python `testComponent`: list-style boxes `_control` and `_signal`.
struct TestComponent;

const CONTROL_IN: &[BoxSpec] = &[BoxSpec::new("_control", "")];
const SIGNAL_OUT: &[BoxSpec] = &[BoxSpec::new("_signal", "")];

impl Component for TestComponent {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        CONTROL_IN.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        SIGNAL_OUT.into()
    }
    fn label(&self) -> Cow<'static, str> {
        "testComponent".into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        let source = ctx.create(FruitSource);
        let pipe = ctx.create(pipeline![PassThrough]);
        let dest = ctx.create(ConsoleEchoer::new());
        ctx.add_children(&[source, pipe, dest])?;

        ctx.link((source, "outbox"), (pipe, "inbox"))?;
        ctx.link((source, "signal"), (pipe, "control"))?;
        ctx.link((pipe, "outbox"), (dest, "inbox"))?;
        ctx.link((pipe, "signal"), (me, "_control"))?;
        ctx.link((me, "_signal"), (dest, "control"))?;
        for c in [source, pipe, dest] {
            ctx.activate(c)?;
        }

        loop {
            while let Ok(data) = ctx.recv("_control") {
                let done = stop_kind(&data).is_some();
                ctx.send(data, "_signal")?;
                if done {
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn main() {
    let sched = Scheduler::new();
    sched.spawn(TestComponent);
    println!("Should output 7 fruit, followed by '<end of list>'.\n");
    let report = sched.run();
    if !report.is_clean() {
        eprintln!("pipeline_fruit did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
