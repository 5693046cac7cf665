//! `Chargen`: "Hello World", for ever (Kamaelia's `Kamaelia.Util.Chargen.Chargen`).
//!
//! # Differences from Kamaelia
//!
//! Kamaelia's `Chargen` ignores all its input and so can never be stopped (its boxes are all
//! described "NOT USED"). Here it follows the
//! [uniform rule](crate::util::pass_through#the-uniform-stop-rule): a `ProducerFinished`,
//! `ShutdownMicroprocess` or `Shutdown` on `control` stops it before its next send (it holds
//! no work to finish), and the message goes out of `signal`. Other control messages and
//! anything on `inbox` are ignored, as in Kamaelia.

use std::borrow::Cow;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::util::pass_through::{read_control, Control};

/// Sends `"Hello World"` (a `&'static str`) out of `outbox` at every yield, as fast as the
/// scheduler runs it, until told to stop (Kamaelia's `Chargen()`).
///
/// It never pauses: while it runs, the scheduler always has work. Stop it with a
/// [`ProducerFinished`](crate::ipc::ProducerFinished),
/// [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) or
/// [`Shutdown`](crate::ipc::Shutdown) on `control`; it passes the message on out of `signal`.
///
/// Boxes: `inbox` ("NOT USED"), `control` ("Shutdown signalling"), `outbox` ("Hello World,
/// for ever"), `signal` ("Shutdown signalling").
///
/// ```
/// use axon::ipc::Shutdown;
/// use axon::util::chargen::Chargen;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let chargen = root.spawn(Chargen);
/// root.link((chargen, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((root.id(), "signal"), (chargen, "control")).unwrap();
///
/// while root.data_ready("inbox") < 3 {
///     sched.step(1);
/// }
/// assert_eq!(root.recv_as::<&str>("inbox").unwrap(), "Hello World");
///
/// root.send(Shutdown, "signal").unwrap();
/// assert!(sched.run().is_clean());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chargen;

/// What a [`Chargen`] sends.
pub const HELLO_WORLD: &str = "Hello World";

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Hello World, for ever"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for Chargen {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            match read_control(&ctx, |_| Ok(()))? {
                Control::Now(stop) | Control::Finish(stop) => {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                }
                Control::Carry => {}
            }
            ctx.send(HELLO_WORLD, "outbox")?;
            ctx.yield_now().await;
        }
    }
}
