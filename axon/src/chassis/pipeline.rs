//! `Pipeline`: Kamaelia's `Kamaelia.Chassis.Pipeline.Pipeline` (spec rule B1).
//!
//! A Pipeline holds components in a row. Each one's `outbox` feeds the next one's `inbox`, and
//! each one's `signal` feeds the next one's `control`, so that a `ProducerFinished` sent by
//! the first cascades down the row. The Pipeline's own `inbox` and `control` pass through to
//! the first child; the last child's `outbox` and `signal` come out of the Pipeline's own. A
//! *circular* Pipeline links the last child back to the first instead.
//!
//! As in Kamaelia, the wiring is done when the Pipeline first runs, not when it is made. The
//! Pipeline adopts its children, activates them, and ends when every child has ended. It never
//! reads or writes its own boxes and sends no message of its own: shutdown is the children's
//! business, passed along the row.

use std::borrow::Cow;

use crate::component::{AnyComponent, BoxSpec, Component, DEFAULT_INBOXES, DEFAULT_OUTBOXES};
use crate::ctx::Ctx;
use crate::error::{BoxKind, ComponentResult, NoSuchBox};
use crate::ids::ComponentId;
use crate::linkage::Passthrough;
use crate::message::Message;

/// Components in a row, outbox to inbox and signal to control (Kamaelia's `Pipeline`).
///
/// Make one with [`Pipeline::new`], [`Pipeline::circular`] or the [`pipeline!`](crate::pipeline)
/// macro. Its boxes are the standard four: `inbox` and `control` lead to the first child,
/// `outbox` and `signal` come from the last (unless it is circular).
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::{component, pipeline, Ctx, Scheduler};
///
/// // Sends 1, 2, 3, then ProducerFinished on "signal".
/// let numbers = component("Numbers", |ctx: Ctx| async move {
///     for n in 1..=3u32 {
///         ctx.send(n, "outbox")?;
///     }
///     ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
///     Ok(())
/// });
/// // Squares what it gets; passes the stop request on when its inbox is empty.
/// let square = component("Square", |ctx: Ctx| async move {
///     loop {
///         while let Ok(n) = ctx.recv_as::<u32>("inbox") {
///             ctx.send(n * n, "outbox")?;
///         }
///         if let Ok(stop) = ctx.recv("control") {
///             ctx.send(stop, "signal")?;
///             return Ok(());
///         }
///         ctx.pause();
///         ctx.yield_now().await;
///     }
/// });
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let pipe = root.spawn(pipeline![numbers, square]);
/// root.link((pipe, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((pipe, "signal"), (root.id(), "control")).unwrap();
///
/// // The ProducerFinished cascades; every component ends, the Pipeline last.
/// assert!(sched.run().is_clean());
/// let squares: Vec<u32> = (0..3).map(|_| root.recv_as("inbox").unwrap()).collect();
/// assert_eq!(squares, [1, 4, 9]);
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
#[derive(Debug)]
pub struct Pipeline {
    components: Vec<AnyComponent>,
    circular: bool,
}

impl Pipeline {
    /// A Pipeline of `components`, in this order.
    ///
    /// An empty Pipeline ends as soon as it runs (Kamaelia's raises `IndexError`).
    pub fn new(components: Vec<AnyComponent>) -> Pipeline {
        Pipeline {
            components,
            circular: false,
        }
    }

    /// A circular Pipeline (Kamaelia's `Pipeline(..., circular=True)`): the last child's
    /// `outbox` and `signal` lead back to the first child's `inbox` and `control`, instead of
    /// out of the Pipeline.
    ///
    /// ```
    /// use axon::{component, AnyComponent, Ctx, Scheduler};
    /// use axon::chassis::pipeline::Pipeline;
    ///
    /// // Adds one to each number and passes it on; at 5 it sends a stop request instead.
    /// fn adder() -> AnyComponent {
    ///     AnyComponent::new(component("Adder", |ctx: Ctx| async move {
    ///         loop {
    ///             while let Ok(n) = ctx.recv_as::<u32>("inbox") {
    ///                 if n >= 5 {
    ///                     ctx.send(axon::ipc::ProducerFinished::from(ctx.id()), "signal")?;
    ///                     return Ok(());
    ///                 }
    ///                 ctx.send(n + 1, "outbox")?;
    ///             }
    ///             if let Ok(stop) = ctx.recv("control") {
    ///                 ctx.send(stop, "signal")?;
    ///                 return Ok(());
    ///             }
    ///             ctx.pause();
    ///             ctx.yield_now().await;
    ///         }
    ///     }))
    /// }
    ///
    /// let sched = Scheduler::new();
    /// let root = sched.root();
    /// let ring = root.spawn(Pipeline::circular(vec![adder(), adder()]));
    /// // Start the count through the Pipeline's inbox, which leads to the first child.
    /// root.link((root.id(), "outbox"), (ring, "inbox")).unwrap();
    /// root.send(0u32, "outbox").unwrap();
    /// // 0 -> 1 -> 2 -> ... -> 5: the adder that sees 5 stops and tells the other.
    /// assert!(sched.run().is_clean());
    /// ```
    pub fn circular(components: Vec<AnyComponent>) -> Pipeline {
        Pipeline {
            components,
            circular: true,
        }
    }

    /// True for a circular Pipeline.
    pub fn is_circular(&self) -> bool {
        self.circular
    }

    /// How many components the Pipeline holds (before it runs).
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// True if the Pipeline holds no component.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }
}

impl Component for Pipeline {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_INBOXES)
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        if self.components.is_empty() {
            return Ok(());
        }
        // Every child is wired on all four standard boxes; check them all before making
        // anything, so that a bad child leaves no half-built row behind.
        for (i, c) in self.components.iter().enumerate() {
            let who = || format!("{} (child {} of Pipeline {})", c.label(), i, ctx.name());
            require_box(c, BoxKind::Inbox, "inbox", who)?;
            require_box(c, BoxKind::Inbox, "control", who)?;
            require_box(c, BoxKind::Outbox, "outbox", who)?;
            require_box(c, BoxKind::Outbox, "signal", who)?;
        }

        let me = ctx.id();
        let ids: Vec<ComponentId> = self.components.into_iter().map(|c| ctx.create(c)).collect();
        ctx.add_children(&ids)?;
        for pair in ids.windows(2) {
            ctx.link((pair[0], "outbox"), (pair[1], "inbox"))?;
            ctx.link((pair[0], "signal"), (pair[1], "control"))?;
        }
        let (first, last) = (ids[0], ids[ids.len() - 1]);
        ctx.link_with((me, "inbox"), (first, "inbox"), Passthrough::Inbound, None)?;
        ctx.link_with(
            (me, "control"),
            (first, "control"),
            Passthrough::Inbound,
            None,
        )?;
        if self.circular {
            ctx.link((last, "outbox"), (first, "inbox"))?;
            ctx.link((last, "signal"), (first, "control"))?;
        } else {
            ctx.link_with(
                (last, "outbox"),
                (me, "outbox"),
                Passthrough::Outbound,
                None,
            )?;
            ctx.link_with(
                (last, "signal"),
                (me, "signal"),
                Passthrough::Outbound,
                None,
            )?;
        }
        for &c in &ids {
            ctx.activate(c)?;
        }

        // Children wake their parent when they end.
        while !children_done(&ctx) {
            ctx.pause();
            ctx.yield_now().await;
        }
        Ok(())
    }
}

/// Boxes each argument with [`AnyComponent::new`] and makes a
/// [`Pipeline`](crate::chassis::pipeline::Pipeline) of them, as Kamaelia's
/// `Pipeline(a, b, c)`. Start the list with `circular:` for a circular Pipeline.
///
/// ```
/// use axon::{component, pipeline};
///
/// let quiet = || component("Quiet", |_| async { Ok(()) });
/// let row = pipeline![quiet(), quiet(), quiet()];
/// assert_eq!(row.len(), 3);
/// assert!(!row.is_circular());
///
/// let ring = pipeline![circular: quiet(), quiet()];
/// assert!(ring.is_circular());
/// ```
#[macro_export]
macro_rules! pipeline {
    (circular: $($component:expr),+ $(,)?) => {
        $crate::chassis::pipeline::Pipeline::circular(
            ::std::vec![$($crate::AnyComponent::new($component)),+]
        )
    };
    ($($component:expr),* $(,)?) => {
        $crate::chassis::pipeline::Pipeline::new(
            ::std::vec![$($crate::AnyComponent::new($component)),*]
        )
    };
}

// ----- shared by the chassis ----------------------------------------------------------------

/// Kamaelia's `childrenDone()`: gives up every child that has ended (which undoes the
/// linkages this component made to and from it) and says whether none is left.
pub(crate) fn children_done(ctx: &Ctx) -> bool {
    let children = ctx.children();
    let mut left = children.len();
    for c in children {
        if ctx.is_stopped(c) {
            ctx.remove_child(c);
            left -= 1;
        }
    }
    left == 0
}

/// Checks that a component not yet created declares a box, naming it as `who()` if not.
pub(crate) fn require_box(
    c: &AnyComponent,
    kind: BoxKind,
    name: &str,
    who: impl Fn() -> String,
) -> Result<(), NoSuchBox> {
    let specs = match kind {
        BoxKind::Inbox => c.inboxes(),
        BoxKind::Outbox => c.outboxes(),
    };
    if specs.iter().any(|s| s.name == name) {
        Ok(())
    } else {
        Err(NoSuchBox {
            component: who(),
            kind,
            name: name.to_string(),
            existing: specs.iter().map(|s| s.name.to_string()).collect(),
        })
    }
}

/// A copy of a message, for the types a chassis may have to send to several places or keep
/// while passing on (see [`Cloner::standard`]). `None` for any other type.
pub(crate) fn copy_message(m: &Message) -> Option<Message> {
    crate::Cloner::standard().try_clone(m)
}
