//! `OneShot`: sends one message and ends (Kamaelia's `Kamaelia.Util.OneShot.OneShot`).
//!
//! # Differences from Kamaelia
//!
//! Kamaelia's `OneShot` never reads `control`. Here it follows the
//! [uniform rule](crate::util::pass_through#the-uniform-stop-rule) as far as a one-shot can:
//! a `ShutdownMicroprocess` or `Shutdown` already waiting when it first runs stops it before
//! it sends anything; a `ProducerFinished` lets it send its message first. Either way the
//! stop message received goes out of `signal` instead of its own `ProducerFinished`.

use std::borrow::Cow;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ipc::ProducerFinished;
use crate::message::Message;
use crate::util::pass_through::{read_control, Control};

/// Sends its message out of `outbox`, yields once, then sends
/// [`ProducerFinished`] out of `signal` and ends (Kamaelia's `OneShot(msg)`).
///
/// Boxes: `inbox` ("NOT USED"), `control` ("Shutdown signalling"), `outbox` ("Item is sent
/// out here"), `signal` ("Shutdown signalling").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::one_shot::OneShot;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let shot = root.spawn(OneShot::new(42u32));
/// root.link((shot, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((shot, "signal"), (root.id(), "control")).unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 42);
/// let done: ProducerFinished = root.recv_as("control").unwrap();
/// assert_eq!(done.caller, Some(shot));
/// ```
#[derive(Debug)]
pub struct OneShot {
    msg: Message,
}

impl OneShot {
    /// A one-shot sending `msg` (any `Send + 'static` value, or a [`Message`]).
    pub fn new<T: Send + 'static>(msg: T) -> OneShot {
        OneShot {
            msg: Message::new(msg),
        }
    }
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Item is sent out here"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for OneShot {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let stop = match read_control(&ctx, |_| Ok(()))? {
            Control::Now(stop) => {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            Control::Finish(stop) => Some(stop),
            Control::Carry => None,
        };
        ctx.send(self.msg, "outbox")?;
        ctx.yield_now().await;
        let stop = match (stop, read_control(&ctx, |_| Ok(()))?) {
            (_, Control::Now(m)) => m,
            (Some(m), _) | (None, Control::Finish(m)) => m,
            (None, Control::Carry) => Message::new(ProducerFinished::from(ctx.id())),
        };
        ctx.send(stop, "signal")?;
        Ok(())
    }
}
