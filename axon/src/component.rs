//! What a component is: its declared boxes and its body.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use crate::ctx::Ctx;
use crate::error::ComponentResult;

/// A declared box: a name and a description, as in Kamaelia's `Inboxes = {name: description}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxSpec {
    /// The box's name, e.g. `"inbox"`.
    pub name: Cow<'static, str>,
    /// What the box is for, shown by introspection and docs.
    pub description: Cow<'static, str>,
}

impl BoxSpec {
    /// A box with a static name and description, usable in `const` tables.
    pub const fn new(name: &'static str, description: &'static str) -> BoxSpec {
        BoxSpec {
            name: Cow::Borrowed(name),
            description: Cow::Borrowed(description),
        }
    }

    /// A box whose name or description is made at run time.
    pub fn owned(name: impl Into<String>, description: impl Into<String>) -> BoxSpec {
        BoxSpec {
            name: Cow::Owned(name.into()),
            description: Cow::Owned(description.into()),
        }
    }
}

/// Kamaelia's default inboxes: `inbox` and `control`.
pub const DEFAULT_INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Default inbox for bulk data. Used in a pipeline much like stdin",
    ),
    BoxSpec::new(
        "control",
        "Secondary inbox often used for signals. The closest analogy is unix signals",
    ),
];

/// Kamaelia's default outboxes: `outbox` and `signal`.
pub const DEFAULT_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Default data out outbox, used in a pipeline much like stdout",
    ),
    BoxSpec::new(
        "signal",
        "The default signal based outbox - kinda like stderr, but more for sending signal type signals",
    ),
];

/// A component: declared boxes and a body that runs under the scheduler.
///
/// This is Kamaelia's `component` class. The body is an `async fn` that suspends where the
/// Python generator would `yield`: at [`Ctx::yield_now`] (`yield 1`), usually right after
/// [`Ctx::pause`] (`self.pause(); yield 1`). Everything a component does to its boxes goes
/// through the [`Ctx`] it is given.
///
/// ```
/// use axon::{Component, Ctx, ComponentResult, Scheduler};
///
/// /// Doubles every number on "inbox" and sends it on "outbox"; stops on "control".
/// struct Doubler;
///
/// impl Component for Doubler {
///     async fn main(self, ctx: Ctx) -> ComponentResult {
///         loop {
///             while ctx.data_ready("inbox") > 0 {
///                 let n: u64 = ctx.recv("inbox")?.downcast()?;
///                 ctx.send(n * 2, "outbox")?;
///             }
///             if ctx.data_ready("control") > 0 {
///                 let msg = ctx.recv("control")?;
///                 ctx.send(msg, "signal")?;
///                 return Ok(());
///             }
///             ctx.pause();
///             ctx.yield_now().await;
///         }
///     }
/// }
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let d = root.spawn(Doubler);
/// root.link((root.id(), "outbox"), (d, "inbox")).unwrap();
/// root.link((d, "outbox"), (root.id(), "inbox")).unwrap();
/// root.send(21u64, "outbox").unwrap();
/// root.link((root.id(), "signal"), (d, "control")).unwrap();
/// root.send(axon::ipc::ProducerFinished::default(), "signal").unwrap();
/// sched.run();
/// assert_eq!(root.recv("inbox").unwrap().downcast::<u64>().unwrap(), 42);
/// ```
pub trait Component: Sized + Send + 'static {
    /// The inboxes, in declaration order. Default: `inbox`, `control`.
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_INBOXES)
    }

    /// The outboxes, in declaration order. Default: `outbox`, `signal`.
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_OUTBOXES)
    }

    /// The first part of the component's name; the scheduler appends `_<id>`, as Kamaelia
    /// does. Default: the type's name without its module path.
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed(type_label::<Self>())
    }

    /// The body. It runs when the component is activated and the component ends when it
    /// returns. An `Err` (or a panic) ends this component alone; the scheduler reports it.
    fn main(self, ctx: Ctx) -> impl Future<Output = ComponentResult> + 'static;
}

/// A type's name without its module path or generic arguments: the default label.
pub(crate) fn type_label<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// A component made from a closure: see [`component`].
pub struct FnComponent<F> {
    label: Cow<'static, str>,
    inboxes: Cow<'static, [BoxSpec]>,
    outboxes: Cow<'static, [BoxSpec]>,
    body: F,
}

/// Makes a component from a name and an async closure, for components too small to deserve a
/// type of their own.
///
/// ```
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let hello = root.spawn(component("Hello", |ctx| async move {
///     ctx.send("hello, world", "outbox")?;
///     Ok(())
/// }));
/// root.link((hello, "outbox"), (root.id(), "inbox")).unwrap();
/// sched.run();
/// assert_eq!(*root.recv("inbox").unwrap().downcast_ref::<&str>().unwrap(), "hello, world");
/// ```
pub fn component<F, Fut>(label: impl Into<Cow<'static, str>>, body: F) -> FnComponent<F>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = ComponentResult> + 'static,
{
    FnComponent {
        label: label.into(),
        inboxes: Cow::Borrowed(DEFAULT_INBOXES),
        outboxes: Cow::Borrowed(DEFAULT_OUTBOXES),
        body,
    }
}

impl<F> FnComponent<F> {
    /// Replaces the default inboxes.
    pub fn with_inboxes(mut self, boxes: impl Into<Cow<'static, [BoxSpec]>>) -> Self {
        self.inboxes = boxes.into();
        self
    }
    /// Replaces the default outboxes.
    pub fn with_outboxes(mut self, boxes: impl Into<Cow<'static, [BoxSpec]>>) -> Self {
        self.outboxes = boxes.into();
        self
    }
}

impl<F, Fut> Component for FnComponent<F>
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = ComponentResult> + 'static,
{
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.inboxes.clone()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.outboxes.clone()
    }
    fn label(&self) -> Cow<'static, str> {
        self.label.clone()
    }
    fn main(self, ctx: Ctx) -> impl Future<Output = ComponentResult> + 'static {
        (self.body)(ctx)
    }
}

/// The future of a running body.
pub(crate) type Task = Pin<Box<dyn Future<Output = ComponentResult>>>;

/// A body not started yet: it becomes a [`Task`] when first run, on the scheduler's thread.
pub(crate) type Start = Box<dyn FnOnce(Ctx) -> Task + Send>;

/// A component with its type erased: what the scheduler needs to make and run it.
pub(crate) struct Erased {
    pub label: Cow<'static, str>,
    pub inboxes: Cow<'static, [BoxSpec]>,
    pub outboxes: Cow<'static, [BoxSpec]>,
    pub start: Start,
}

/// Erases a component's type, keeping what the scheduler needs.
pub(crate) fn erase<C: Component>(c: C) -> Erased {
    let label = c.label();
    let inboxes = c.inboxes();
    let outboxes = c.outboxes();
    let start: Start = Box::new(move |ctx| Box::pin(c.main(ctx)));
    Erased {
        label,
        inboxes,
        outboxes,
        start,
    }
}

/// A component of any type, boxed: for holding different components together, as a
/// `Pipeline` or `Graphline` does. It is itself a [`Component`], with the boxes, label and body
/// of the one inside.
///
/// ```
/// use axon::{component, AnyComponent, Component};
///
/// let parts: Vec<AnyComponent> = vec![
///     AnyComponent::new(component("A", |_| async { Ok(()) })),
///     AnyComponent::new(component("B", |_| async { Ok(()) })),
/// ];
/// assert_eq!(parts[1].label(), "B");
/// assert_eq!(parts[0].inboxes()[0].name, "inbox");
/// ```
pub struct AnyComponent(Erased);

impl AnyComponent {
    /// Boxes a component. Boxing an `AnyComponent` again just returns it.
    pub fn new<C: Component>(c: C) -> AnyComponent {
        let mut slot = Some(c);
        if let Some(any) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<AnyComponent>>()
        {
            return any.take().expect("slot was filled just above");
        }
        AnyComponent(erase(slot.take().expect("slot was filled just above")))
    }
}

impl std::fmt::Debug for AnyComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyComponent({})", self.0.label)
    }
}

impl Component for AnyComponent {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.0.inboxes.clone()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.0.outboxes.clone()
    }
    fn label(&self) -> Cow<'static, str> {
        self.0.label.clone()
    }
    fn main(self, ctx: Ctx) -> impl Future<Output = ComponentResult> + 'static {
        (self.0.start)(ctx)
    }
}
