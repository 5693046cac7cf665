//! `Seq`: Kamaelia's `Kamaelia.Chassis.Seq.Seq` (spec rule B4).
//!
//! A Seq runs its items one after another. A text item is printed on standard output (as
//! Python's `print`) and passed over. A component item becomes the Seq's only child: the
//! Seq's `inbox` passes through to the child's `inbox` and the child's `outbox` comes out of
//! the Seq's `outbox`, until the child ends and is unwired. The child's `signal` is not wired,
//! on purpose: a component that finishes must not stop the components downstream of the Seq.
//! After the last item the Seq sends [`ProducerFinished`] on `signal` and ends.
//!
//! Kamaelia's Seq ignores its `control`. Here it follows the project's shutdown rule, through
//! an extra outbox `_signal` wired to the running child's `control`:
//!
//! - a [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) (or
//!   [`Shutdown`](crate::ipc::Shutdown)) is passed to the running child; when it has ended the
//!   Seq sends the message on `signal` and ends, skipping the items left;
//! - a [`ProducerFinished`] ("no more input") is passed to the running child and to each later
//!   one as it starts, so that children reading the Seq's `inbox` can finish; the sequence
//!   still runs to its end.
//!
//! Other control messages are ignored.

use std::borrow::Cow;

use crate::chassis::pipeline::{children_done, copy_message};
use crate::component::{AnyComponent, BoxSpec, Component, DEFAULT_INBOXES};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ipc::{stop_kind, ProducerFinished, StopKind};
use crate::linkage::Passthrough;
use crate::message::Message;

/// The Seq's outboxes: the standard two, and `_signal` to the running child's `control`.
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Default data out outbox, used in a pipeline much like stdout",
    ),
    BoxSpec::new(
        "signal",
        "The default signal based outbox - kinda like stderr, but more for sending signal type signals",
    ),
    BoxSpec::new(
        "_signal",
        "internal use: for passing shutdown requests to the running child",
    ),
];

/// One item of a [`Seq`]: text to print, or a component to run.
///
/// `From` makes one from a `&'static str`, a `String` or any [`Component`], which is what the
/// [`seq!`](crate::seq) macro uses.
///
/// ```
/// use axon::chassis::seq::SeqItem;
/// use axon::component;
///
/// let text = SeqItem::from("BEGIN");
/// assert!(matches!(text, SeqItem::Text(ref t) if t == "BEGIN"));
/// let part = SeqItem::from(component("Part", |_| async { Ok(()) }));
/// assert!(matches!(part, SeqItem::Component(_)));
/// ```
#[derive(Debug)]
pub enum SeqItem {
    /// Printed on standard output, with a newline, when its turn comes.
    Text(String),
    /// Run as the Seq's child when its turn comes, until it ends.
    Component(AnyComponent),
}

impl From<&'static str> for SeqItem {
    fn from(text: &'static str) -> SeqItem {
        SeqItem::Text(text.to_string())
    }
}

impl From<String> for SeqItem {
    fn from(text: String) -> SeqItem {
        SeqItem::Text(text)
    }
}

impl<C: Component> From<C> for SeqItem {
    fn from(c: C) -> SeqItem {
        SeqItem::Component(AnyComponent::new(c))
    }
}

/// Components run one after another (Kamaelia's `Seq`).
///
/// Make one with [`Seq::new`] or the [`seq!`](crate::seq) macro.
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::{component, seq, Ctx, Scheduler};
///
/// // Sends one word and ends (as Kamaelia's OneShot).
/// let say = |word: &'static str| {
///     component("Say", move |ctx: Ctx| async move {
///         ctx.send(word, "outbox")?;
///         Ok(())
///     })
/// };
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let s = root.spawn(seq!["BEGIN SEQUENCE", say("Hello"), say("Doctor"), "END SEQUENCE"]);
/// root.link((s, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((s, "signal"), (root.id(), "control")).unwrap();
///
/// assert!(sched.run().is_clean());
/// assert_eq!(root.recv_as::<&str>("inbox").unwrap(), "Hello");
/// assert_eq!(root.recv_as::<&str>("inbox").unwrap(), "Doctor");
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
#[derive(Debug)]
pub struct Seq {
    items: Vec<SeqItem>,
}

impl Seq {
    /// A Seq of `items`, run in this order.
    pub fn new(items: Vec<SeqItem>) -> Seq {
        Seq { items }
    }

    /// How many items the Seq holds (before it runs).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if the Seq holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Component for Seq {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_INBOXES)
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        // A ProducerFinished received: passed to every child from then on.
        let mut finished: Option<Message> = None;
        // A ShutdownMicroprocess received: ends the Seq once the running child has ended.
        let mut stopping: Option<Message> = None;

        for item in self.items {
            let child = match item {
                SeqItem::Text(text) => {
                    println!("{text}");
                    continue;
                }
                SeqItem::Component(c) => c,
            };
            read_control(&ctx, &mut finished, &mut stopping, false)?;
            if let Some(stop) = stopping.take() {
                ctx.send(stop, "signal")?;
                return Ok(());
            }

            let id = ctx.create(child);
            ctx.add_children(&[id])?;
            let linkages = [
                ctx.link_with((id, "outbox"), (me, "outbox"), Passthrough::Outbound, None)?,
                ctx.link_with((me, "inbox"), (id, "inbox"), Passthrough::Inbound, None)?,
                // Not signal to control: the child must not stop what is downstream of us.
                ctx.link((me, "_signal"), (id, "control"))?,
            ];
            ctx.activate(id)?;
            if let Some(pf) = &finished {
                if let Some(copy) = copy_message(pf) {
                    ctx.send(copy, "_signal")?;
                }
            }

            loop {
                read_control(&ctx, &mut finished, &mut stopping, true)?;
                if children_done(&ctx) {
                    break;
                }
                ctx.pause();
                ctx.yield_now().await;
            }
            for l in &linkages {
                ctx.unlink(l);
            }
            if let Some(stop) = stopping.take() {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
        }

        ctx.send(ProducerFinished::from(me), "signal")?;
        Ok(())
    }
}

/// Reads the Seq's control messages. With `to_child`, passes the first stop request of each
/// kind to the running child.
fn read_control(
    ctx: &Ctx,
    finished: &mut Option<Message>,
    stopping: &mut Option<Message>,
    to_child: bool,
) -> ComponentResult {
    while let Ok(msg) = ctx.recv("control") {
        match stop_kind(&msg) {
            Some(StopKind::Now) if stopping.is_none() => {
                if to_child {
                    if let Some(copy) = copy_message(&msg) {
                        ctx.send(copy, "_signal")?;
                    }
                }
                *stopping = Some(msg);
            }
            Some(StopKind::Finish) if finished.is_none() && stopping.is_none() => {
                if to_child {
                    if let Some(copy) = copy_message(&msg) {
                        ctx.send(copy, "_signal")?;
                    }
                }
                *finished = Some(msg);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Makes a [`Seq`](crate::chassis::seq::Seq) from a list of items, each text or a component,
/// as Kamaelia's `Seq("BEGIN", OneShot(...), ...)`. Each item goes through
/// [`SeqItem::from`](crate::chassis::seq::SeqItem).
///
/// ```
/// use axon::{component, seq};
///
/// let s = seq!["first", component("Work", |_| async { Ok(()) }), String::from("last")];
/// assert_eq!(s.len(), 3);
/// ```
#[macro_export]
macro_rules! seq {
    ($($item:expr),* $(,)?) => {
        $crate::chassis::seq::Seq::new(
            ::std::vec![$(<$crate::chassis::seq::SeqItem as ::core::convert::From<_>>::from($item)),*]
        )
    };
}
