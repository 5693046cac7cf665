//! `Carousel`: Kamaelia's `Kamaelia.Chassis.Carousel.Carousel` (spec rule B3).
//!
//! A Carousel holds one child at a time, made by a factory from each message that arrives on
//! its `next` inbox, like a broadcast carousel playing one programme after another. The
//! child's `inbox` is the Carousel's `inbox` and its `outbox` comes out of the Carousel's
//! `outbox`; the Carousel talks to the child's `control` through its own `_signal`. The
//! child's `signal` is not wired.
//!
//! - When a child ends, the Carousel sends `"NEXT"` on `requestNext` (unless a `next` message
//!   is already waiting or it has been told to stop). With
//!   [`make_first_request`](Carousel::make_first_request) it also asks once at the start.
//! - A `next` message while a child runs sends that child a
//!   [`ShutdownMicroprocess`]; the new child is made once
//!   the old one has ended.
//! - A [`ShutdownMicroprocess`] (or
//!   [`Shutdown`](crate::ipc::Shutdown)) on `control` is passed to the child; once it has
//!   ended (at once, if there is none) the Carousel sends the message on `signal` and ends.
//! - A [`ProducerFinished`](crate::ipc::ProducerFinished) on `control` waits for the `next`
//!   messages already queued to be handled, is then passed to the child, and when that child
//!   has ended the Carousel sends it on `signal` and ends.

use std::borrow::Cow;

use crate::chassis::pipeline::{children_done, copy_message};
use crate::component::{AnyComponent, BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ipc::{stop_kind, ShutdownMicroprocess, StopKind};
use crate::linkage::Passthrough;
use crate::message::Message;

/// The Carousel's inboxes, with Kamaelia's descriptions.
const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "child's inbox"),
    BoxSpec::new("next", "requests to replace child"),
    BoxSpec::new("control", ""),
];

/// The Carousel's outboxes, with Kamaelia's descriptions.
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "child's outbox"),
    BoxSpec::new("signal", ""),
    BoxSpec::new(
        "_signal",
        "internal use: for sending 'shutdownMicroprocess' to child",
    ),
    BoxSpec::new("requestNext", "for requesting new child component"),
];

/// The factory a Carousel makes its children with.
type Factory = Box<dyn FnMut(Message) -> AnyComponent + Send>;

/// One child at a time, each made from a `next` message (Kamaelia's `Carousel`).
///
/// Boxes: inboxes `inbox` (the child's inbox), `next` (requests to replace the child) and
/// `control`; outboxes `outbox` (the child's outbox), `signal`, `_signal` (to the child's
/// control) and `requestNext`, on which it sends the `String` `"NEXT"`.
///
/// ```
/// use axon::chassis::carousel::Carousel;
/// use axon::ipc::ProducerFinished;
/// use axon::{component, Ctx, Message, Scheduler};
///
/// // Each child says the text it was made from, and ends.
/// let carousel = Carousel::new(|arg: Message| {
///     let text: String = arg.downcast().unwrap();
///     component("Speaker", move |ctx: Ctx| async move {
///         ctx.send(text, "outbox")?;
///         Ok(())
///     })
/// });
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let c = root.spawn(carousel);
/// root.link((root.id(), "outbox"), (c, "next")).unwrap();
/// root.link((root.id(), "signal"), (c, "control")).unwrap();
/// root.link((c, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((c, "requestNext"), (root.id(), "control")).unwrap();
///
/// root.send("hello".to_string(), "outbox").unwrap();
/// sched.run();
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "hello");
/// // The child ended, so the Carousel asks for the next one.
/// assert_eq!(root.recv_as::<String>("control").unwrap(), "NEXT");
///
/// // No child now: a ProducerFinished ends the Carousel at once.
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// ```
pub struct Carousel {
    factory: Factory,
    make_first_request: bool,
}

impl std::fmt::Debug for Carousel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carousel")
            .field("make_first_request", &self.make_first_request)
            .finish_non_exhaustive()
    }
}

impl Carousel {
    /// A Carousel whose children are made by `factory` from each message on `next`
    /// (Kamaelia's `componentFactory`).
    pub fn new<F, C>(mut factory: F) -> Carousel
    where
        F: FnMut(Message) -> C + Send + 'static,
        C: Component,
    {
        Carousel {
            factory: Box::new(move |m| AnyComponent::new(factory(m))),
            make_first_request: false,
        }
    }

    /// With `true`, the Carousel sends `"NEXT"` on `requestNext` as soon as it starts
    /// (Kamaelia's `make1stRequest=True`), for a source that waits to be asked.
    ///
    /// ```
    /// use axon::chassis::carousel::Carousel;
    /// use axon::{component, Message, Scheduler};
    ///
    /// let carousel = Carousel::new(|_: Message| component("Idle", |_| async { Ok(()) }))
    ///     .make_first_request(true);
    /// let sched = Scheduler::new();
    /// let root = sched.root();
    /// let c = root.spawn(carousel);
    /// root.link((c, "requestNext"), (root.id(), "inbox")).unwrap();
    /// sched.run(); // the Carousel waits on "next"
    /// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "NEXT");
    /// ```
    pub fn make_first_request(mut self, yes: bool) -> Carousel {
        self.make_first_request = yes;
        self
    }
}

impl Component for Carousel {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(mut self, ctx: Ctx) -> ComponentResult {
        if self.make_first_request {
            request_next(&ctx)?;
        }
        // Kamaelia's mustStop (stop now) and pleaseStop (finish, then stop).
        let mut must_stop: Option<Message> = None;
        let mut please_stop: Option<Message> = None;

        loop {
            // First state: no child; wait for a request to make one, or to stop.
            while ctx.children().is_empty() {
                check_control(&ctx, &mut must_stop, &mut please_stop);
                if let Some(stop) = must_stop.take() {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                } else if let Ok(arg) = ctx.recv("next") {
                    self.instantiate_new_child(&ctx, arg)?;
                } else if let Some(stop) = please_stop.take() {
                    ctx.send(stop, "signal")?;
                    return Ok(());
                } else {
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }

            // Give the new child a chance to run.
            ctx.yield_now().await;

            // Second state: a child runs; ask it to end when asked to replace it or to stop.
            let mut already_terminating_child = false;
            while !children_done(&ctx) {
                check_control(&ctx, &mut must_stop, &mut please_stop);
                if already_terminating_child {
                    ctx.pause();
                    ctx.yield_now().await;
                } else if let Some(stop) = &must_stop {
                    shutdown_child(&ctx, stop)?;
                    already_terminating_child = true;
                } else if ctx.data_ready("next") > 0 {
                    // Keep the request: it is handled once this child has ended.
                    ctx.send(ShutdownMicroprocess::default(), "_signal")?;
                    already_terminating_child = true;
                } else if let Some(stop) = &please_stop {
                    shutdown_child(&ctx, stop)?;
                    already_terminating_child = true;
                } else {
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }

            // The child has ended.
            if ctx.data_ready("next") == 0 && please_stop.is_none() && must_stop.is_none() {
                request_next(&ctx)?;
            }
        }
    }
}

impl Carousel {
    /// Makes a child from `arg` and wires it in: our inbox to its inbox, our `_signal` to its
    /// control, its outbox out of ours.
    fn instantiate_new_child(&mut self, ctx: &Ctx, arg: Message) -> ComponentResult {
        let child = (self.factory)(arg);
        let id = ctx.create(child);
        ctx.add_children(&[id])?;
        let me = ctx.id();
        ctx.link_with((me, "inbox"), (id, "inbox"), Passthrough::Inbound, None)?;
        ctx.link((me, "_signal"), (id, "control"))?;
        ctx.link_with((id, "outbox"), (me, "outbox"), Passthrough::Outbound, None)?;
        ctx.activate(id)?;
        Ok(())
    }
}

/// Reads every control message, remembering the latest request of each kind; other
/// messages are dropped, as in Kamaelia.
fn check_control(ctx: &Ctx, must_stop: &mut Option<Message>, please_stop: &mut Option<Message>) {
    while let Ok(msg) = ctx.recv("control") {
        match stop_kind(&msg) {
            Some(StopKind::Finish) => *please_stop = Some(msg),
            Some(StopKind::Now) => *must_stop = Some(msg),
            None => {}
        }
    }
}

/// Passes a copy of a stop request to the child (the original is kept for our `signal`).
fn shutdown_child(ctx: &Ctx, stop: &Message) -> ComponentResult {
    let copy = copy_message(stop).unwrap_or_else(|| Message::new(ShutdownMicroprocess::default()));
    ctx.send(copy, "_signal")?;
    Ok(())
}

/// Kamaelia's `requestNext()`: `"NEXT"` on `requestNext`.
fn request_next(ctx: &Ctx) -> ComponentResult {
    ctx.send(String::from("NEXT"), "requestNext")?;
    Ok(())
}
