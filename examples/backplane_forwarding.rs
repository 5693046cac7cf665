//! Kamaelia's `Examples/Backplane/Forwarding.py`: what you type is echoed, and also published
//! on a backplane, whose subscriber echoes it again.
//!
//! ```python
//! Backplane("broadcast").activate()
//!
//! Pipeline(
//!     Source(),
//!     SubscribeTo("broadcast"),
//!     ConsoleEchoer(),
//! ).activate()
//!
//! Pipeline(
//!     ConsoleReader(),
//!     PublishTo("broadcast", forwarder=True),
//!     ConsoleEchoer(),
//! ).run()
//! ```
//!
//! - `Source` (threaded) sends `"1"` every second into the `SubscribeTo`, which passes on
//!   whatever reaches its `inbox` as well as what the backplane sends it; the echoer prints
//!   it, with no newline.
//! - `ConsoleReader` prompts `>>> ` and sends each line typed (with its newline) to a
//!   `PublishTo` that is a forwarder: it sends each line on to its echoer *and* publishes it
//!   on the backplane, so the subscriber's echoer prints it too. Each line appears twice.
//!
//! ```text
//! cargo run --example backplane_forwarding                          # type lines; Ctrl-D ends
//! printf 'hello\nworld\n' | cargo run --example backplane_forwarding
//! ```
//!
//! The Python, given `hello` after 1.5 s and `world` a second later, then end of input,
//! printed:
//!
//! ```text
//! >>> 11>>> hello
//! hello
//! 1>>> world
//! world
//! 1
//! ```
//!
//! and then died of an `EOFError` (exit status 1).
//!
//! # Differences from the Python
//!
//! - **End of input ends the program, cleanly.** Kamaelia's `ConsoleReader` lets `input()`'s
//!   `EOFError` escape at the end of its input, which ends the Python program with a
//!   traceback; given its input all at once through a pipe it even dies before the lines are
//!   echoed (it prints only `>>> >>> >>> `). Our `ConsoleReader` sends `ProducerFinished` at
//!   the end of its input instead: it goes down the reader's Pipeline and stops the
//!   `PublishTo` and its echoer (after they have passed on what they hold). A small `StopAll`
//!   component added here waits for that, then asks the backplane to finish (with
//!   `ProducerFinished`, so what was published is delivered first, and the subscriber stops),
//!   then, once the backplane has ended, asks the `Source` to stop. Everything ends, exit
//!   status 0. The Python's `Source` cannot be stopped; ours stops on any control message.
//! - Our `ConsoleEchoer` prints strings as they are, as Kamaelia's does without `use_repr`.
//! - Where the `1`s and the prompts fall among the echoed lines depends on timing, in Python
//!   as here.

use std::borrow::Cow;
use std::time::Duration;

use kamaelia::axon::ipc::ProducerFinished;
use kamaelia::axon::util::{Backplane, ConsoleEchoer, ConsoleReader, PublishTo, SubscribeTo};
use kamaelia::axon::{
    pipeline, BoxSpec, Component, ComponentResult, Ctx, Scheduler, ThreadCtx, Threaded,
    ThreadedComponent,
};

/// Sends `value` as text every `sleep` (the Python `Source`), until any message reaches its
/// `control`; passes that on out of `signal`.
struct Source {
    value: u32,
    sleep: Duration,
}

impl ThreadedComponent for Source {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        loop {
            ctx.send(self.value.to_string(), "outbox")?;
            if let Ok(stop) = ctx.recv_timeout("control", self.sleep) {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            if ctx.should_stop() {
                return Ok(());
            }
        }
    }
}

const STOP_ALL_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("control", "The reader's Pipeline has ended"),
    BoxSpec::new("backplane_done", "The backplane has ended"),
];

const STOP_ALL_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("to_backplane", "Asks the backplane to finish"),
    BoxSpec::new("to_source", "Asks the source's Pipeline to finish"),
];

/// When the console reader's Pipeline has ended, finishes the backplane, then the source.
struct StopAll;

impl StopAll {
    /// Pauses until `inbox` has a message, and takes it.
    async fn wait_for(ctx: &Ctx, inbox: &str) -> ComponentResult {
        while ctx.recv(inbox).is_err() {
            ctx.pause();
            ctx.yield_now().await;
        }
        Ok(())
    }
}

impl Component for StopAll {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        STOP_ALL_INBOXES.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        STOP_ALL_OUTBOXES.into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        StopAll::wait_for(&ctx, "control").await?;
        ctx.send(ProducerFinished::from(ctx.id()), "to_backplane")?;
        StopAll::wait_for(&ctx, "backplane_done").await?;
        ctx.send(ProducerFinished::from(ctx.id()), "to_source")?;
        Ok(())
    }
}

fn main() {
    let sched = Scheduler::new();
    let root = sched.root();

    // Registered at once, as Kamaelia's constructor does, so that the subscriber and the
    // publisher find it whatever order they start in.
    let backplane = Backplane::new("broadcast")
        .create_in(&root)
        .expect("no other backplane is called \"broadcast\"");
    root.activate(backplane).expect("the backplane starts");

    let sources = root.spawn(pipeline![
        Threaded::new(Source {
            value: 1,
            sleep: Duration::from_secs(1),
        }),
        SubscribeTo::new("broadcast"),
        ConsoleEchoer::new(),
    ]);

    let readers = root.spawn(pipeline![
        ConsoleReader::new(),
        PublishTo::new("broadcast").forwarder(true),
        ConsoleEchoer::new(),
    ]);

    let stop_all = root.create(StopAll);
    let wiring = [
        ((readers, "signal"), (stop_all, "control")),
        ((backplane, "signal"), (stop_all, "backplane_done")),
        ((stop_all, "to_backplane"), (backplane, "control")),
        ((stop_all, "to_source"), (sources, "control")),
    ];
    for (from, to) in wiring {
        root.link(from, to).expect("the boxes exist");
    }
    root.activate(stop_all).expect("StopAll starts");

    let report = sched.run();
    if !report.is_clean() {
        eprintln!("backplane_forwarding did not end cleanly: {report:?}");
        std::process::exit(1);
    }
}
