//! `PureTransformer`: applies a function to each item (Kamaelia's
//! `Kamaelia.Util.PureTransformer.PureTransformer`).
//!
//! # Differences from Kamaelia
//!
//! - "No result" is `None` rather than Python's `None` return: the function returns an
//!   `Option`, and `Some(x)` is sent.
//! - The function is typed on its input: an item of another type makes the component fail
//!   with an error naming both types. Take a [`Message`] to accept anything.
//! - It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
//!   Kamaelia's stops on `producerFinished` or `shutdown` but **not** on
//!   `shutdownMicroprocess` (spec (f)5), and sends a fresh `producerFinished(self)` rather
//!   than the message it received. Here `ProducerFinished` transforms what is waiting first,
//!   `ShutdownMicroprocess` or `Shutdown` stop at once, and the message received is the one
//!   passed on. Other control messages are ignored, as in Kamaelia.
//! - Kamaelia's subclassing hook (override `processMessage`) is the closure here.

use std::any::{Any, TypeId};
use std::marker::PhantomData;

use crate::component::Component;
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::message::{Message, WrongType};
use crate::util::pass_through::{read_control, Control};

/// Sends `f(item)` for each item on `inbox`, unless `f` returns `None` (Kamaelia's
/// `PureTransformer(function)`).
///
/// `f` takes the item by value as an `I` (an item of another type makes the component fail,
/// naming both types; use `I =` [`Message`] to take anything) and returns an `Option<O>`.
/// It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule). Boxes:
/// Kamaelia's defaults.
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::pure_transformer::PureTransformer;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// // Kamaelia's example: lambda x: "foo" + x + "bar!\n", here skipping empty lines.
/// let t = root.spawn(PureTransformer::new(|line: String| {
///     (!line.is_empty()).then(|| format!("foo{line}bar!\n"))
/// }));
/// root.link((root.id(), "outbox"), (t, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (t, "control")).unwrap();
/// root.link((t, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((t, "signal"), (root.id(), "control")).unwrap();
///
/// for line in ["fish", "", "chips"] {
///     root.send(line.to_string(), "outbox").unwrap();
/// }
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "foofishbar!\n");
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "foochipsbar!\n");
/// assert_eq!(root.data_ready("inbox"), 0);
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
pub struct PureTransformer<F, I, O> {
    function: F,
    types: PhantomData<fn(I) -> O>,
}

impl<F, I, O> PureTransformer<F, I, O>
where
    F: FnMut(I) -> Option<O> + Send + 'static,
    I: 'static,
    O: Send + 'static,
{
    /// A transformer applying `function` to each item.
    pub fn new(function: F) -> PureTransformer<F, I, O> {
        PureTransformer {
            function,
            types: PhantomData,
        }
    }
}

impl<F, I, O> std::fmt::Debug for PureTransformer<F, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PureTransformer({} -> Option<{}>)",
            std::any::type_name::<I>(),
            std::any::type_name::<O>()
        )
    }
}

/// Takes the value out of `m` as an `I`; when `I` is `Message` itself, `m` is the value.
fn take<I: 'static>(m: Message) -> Result<I, WrongType> {
    if TypeId::of::<I>() == TypeId::of::<Message>() {
        let mut slot = Some(m);
        let any: &mut dyn Any = &mut slot;
        if let Some(m) = any.downcast_mut::<Option<I>>().and_then(Option::take) {
            return Ok(m);
        }
        unreachable!("I is Message, checked just above");
    }
    m.downcast::<I>()
}

impl<F, I, O> Component for PureTransformer<F, I, O>
where
    F: FnMut(I) -> Option<O> + Send + 'static,
    I: 'static,
    O: Send + 'static,
{
    async fn main(mut self, ctx: Ctx) -> ComponentResult {
        loop {
            let control = read_control(&ctx, |_| Ok(()))?;
            if let Control::Now(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            while let Ok(item) = ctx.recv("inbox") {
                if let Some(out) = (self.function)(take::<I>(item)?) {
                    ctx.send(out, "outbox")?;
                }
            }
            if let Control::Finish(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
