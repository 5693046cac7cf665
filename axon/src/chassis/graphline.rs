//! `Graphline`: Kamaelia's `Kamaelia.Chassis.Graphline.Graphline` (spec rule B2).
//!
//! A Graphline holds named components and wires them by a map of linkages, each from
//! `(name, box)` to `(name, box)`. The name `"self"` means the Graphline itself: a linkage
//! from one of its boxes hands that inbox on to a child (an inbound passthrough), and a
//! linkage to one of its boxes brings a child's outbox out of the Graphline (an outbound
//! passthrough). The boxes named on `"self"` are made for that Graphline alone.
//!
//! Running, it links, adopts and activates its children, then:
//!
//! - unless the linkages lead `("self", "control")` somewhere, it copies each message that
//!   reaches its `control` to the `control` of every child whose `control` no linkage leads
//!   to, and remembers a [`ShutdownMicroprocess`](crate::ipc::ShutdownMicroprocess) (or
//!   [`Shutdown`](crate::ipc::Shutdown)) among them;
//! - it ends when every child has ended; then, unless a linkage leads to `("self", "signal")`,
//!   it sends the remembered shutdown message, or a new [`ProducerFinished`], on `signal`.
//!
//! When the linkages do take `("self", "control")`, shutting the children down is wholly the
//! user's business, as in Kamaelia (the `FailShutdown.py` example).
//!
//! Differences from Kamaelia: only `"self"` names the Graphline, and a misspelt component or
//! box name is an error when the Graphline is made (Kamaelia takes any unknown name for the
//! Graphline and makes new boxes for it); the boxes named on `"self"` belong to each instance
//! (Kamaelia adds them to the class, so they leak into every later Graphline).

use std::borrow::Cow;

use crate::chassis::pipeline::{children_done, copy_message, require_box};
use crate::component::{AnyComponent, BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::{BoxKind, ComponentResult, Error};
use crate::ids::ComponentId;
use crate::ipc::{stop_kind, ProducerFinished, StopKind};
use crate::linkage::Passthrough;
use crate::message::Message;

/// The name by which a linkage means the Graphline itself.
pub const SELF: &str = "self";

/// Named components wired by a map of linkages (Kamaelia's `Graphline`).
///
/// Make one with [`Graphline::new`] or, closer to the Python, the
/// [`graphline!`](crate::graphline) macro. Both check every name at once and return an
/// [`Error`] naming the component and the box that are wrong.
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::{component, graphline, Ctx, Scheduler};
///
/// // Doubles numbers; passes a stop request on once its inbox is empty.
/// let doubler = || component("Doubler", |ctx: Ctx| async move {
///     loop {
///         while let Ok(n) = ctx.recv_as::<u32>("inbox") {
///             ctx.send(2 * n, "outbox")?;
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
/// let quadrupler = graphline! {
///     FIRST = doubler(),
///     SECOND = doubler(),
///     linkages = {
///         ("self", "numbers") : ("FIRST", "inbox"),
///         ("FIRST", "outbox") : ("SECOND", "inbox"),
///         ("FIRST", "signal") : ("SECOND", "control"),
///         ("SECOND", "outbox") : ("self", "outbox"),
///     }
/// }
/// .unwrap();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let g = root.spawn(quadrupler);
/// root.link((root.id(), "outbox"), (g, "numbers")).unwrap();
/// root.link((root.id(), "signal"), (g, "control")).unwrap();
/// root.link((g, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((g, "signal"), (root.id(), "control")).unwrap();
///
/// root.send(5u32, "outbox").unwrap();
/// // "control" is not linked through, so the Graphline copies this to FIRST (whose control
/// // no linkage feeds); FIRST tells SECOND; when both have ended, the Graphline signals.
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 20);
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
#[derive(Debug)]
pub struct Graphline {
    components: Vec<(String, AnyComponent)>,
    linkages: Vec<Link>,
    inboxes: Vec<BoxSpec>,
    outboxes: Vec<BoxSpec>,
}

/// One end of a linkage: the Graphline or one of its children (by index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Graph,
    Child(usize),
}

/// A checked linkage.
#[derive(Debug)]
struct Link {
    from: End,
    from_box: String,
    to: End,
    to_box: String,
}

impl Graphline {
    /// A Graphline of named `components` wired by `linkages`, each
    /// `((from_name, from_box), (to_name, to_box))`. A name is one of the components, or
    /// [`"self"`](SELF) for the Graphline itself.
    ///
    /// Every name is checked here. The error names the component and the box:
    ///
    /// - a name that is neither a component nor `"self"` ([`Error::NoSuchComponent`]);
    /// - a box the component does not declare, or of the wrong kind: a source must be an
    ///   outbox and a destination an inbox ([`Error::NoSuchBox`]);
    /// - two linkages from the same box ([`Error::BoxAlreadyLinkedToDestination`]: one
    ///   outbox leads to one place);
    /// - two components with one name, or one named `"self"` ([`Error::NoSuchComponent`]).
    ///
    /// A box named on `"self"` that the Graphline lacks is made, for this instance only: an
    /// inbox if a linkage leads from it, an outbox if one leads to it. Its description is
    /// copied from the child's box at the other end. A linkage from `"self"` to `"self"` joins
    /// an outbox of the Graphline to one of its inboxes (a warning is logged when it is made,
    /// as Kamaelia prints one).
    ///
    /// ```
    /// use axon::chassis::graphline::Graphline;
    /// use axon::{component, AnyComponent};
    ///
    /// let quiet = || AnyComponent::new(component("Quiet", |_| async { Ok(()) }));
    /// let g = Graphline::new(
    ///     vec![("A", quiet()), ("B", quiet())],
    ///     vec![(("A", "outbox"), ("B", "inbox")), (("self", "in"), ("A", "inbox"))],
    /// );
    /// assert!(g.is_ok());
    ///
    /// let err = Graphline::new(
    ///     vec![("A", quiet()), ("B", quiet())],
    ///     vec![(("A", "outbx"), ("B", "inbox"))],
    /// )
    /// .unwrap_err()
    /// .to_string();
    /// assert!(err.contains("\"A\"") && err.contains("\"outbx\""), "{err}");
    /// ```
    pub fn new<N, S>(
        components: impl IntoIterator<Item = (N, AnyComponent)>,
        linkages: impl IntoIterator<Item = ((S, S), (S, S))>,
    ) -> Result<Graphline, Error>
    where
        N: Into<String>,
        S: Into<String>,
    {
        let components: Vec<(String, AnyComponent)> =
            components.into_iter().map(|(n, c)| (n.into(), c)).collect();
        for (i, (name, _)) in components.iter().enumerate() {
            if name == SELF {
                return Err(Error::BadGraphline(format!(
                    "a component is named {SELF:?}, which means the Graphline itself"
                )));
            }
            if components[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::BadGraphline(format!(
                    "two components are named {name:?}: names must be unique"
                )));
            }
        }

        let mut inboxes = vec![BoxSpec::new("inbox", ""), BoxSpec::new("control", "")];
        let mut outboxes = vec![
            BoxSpec::new("outbox", ""),
            BoxSpec::new("signal", ""),
            BoxSpec::new("_cs", "For signaling to subcomponents shutdown"),
        ];
        let mut links: Vec<Link> = Vec::new();
        let mut sources: Vec<(End, String, String)> = Vec::new();

        for ((from_name, from_box), (to_name, to_box)) in linkages {
            let (from_name, from_box): (String, String) = (from_name.into(), from_box.into());
            let (to_name, to_box): (String, String) = (to_name.into(), to_box.into());
            let describe = || format!("({from_name:?}, {from_box:?}) -> ({to_name:?}, {to_box:?})");
            let resolve = |name: &str, the_box: &str| -> Result<End, Error> {
                if name == SELF {
                    return Ok(End::Graph);
                }
                match components.iter().position(|(n, _)| n == name) {
                    Some(i) => Ok(End::Child(i)),
                    None => Err(Error::BadGraphline(format!(
                        "no component is named {name:?} (named with box {the_box:?} in the \
                         linkage {}); the components are {}, and {SELF:?} means the Graphline",
                        describe(),
                        if components.is_empty() {
                            "none".to_string()
                        } else {
                            components
                                .iter()
                                .map(|(n, _)| format!("{n:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))),
                }
            };
            let from = resolve(&from_name, &from_box)?;
            let to = resolve(&to_name, &to_box)?;

            // The box kinds each end must be: the passthrough rule of Kamaelia's main().
            let passthrough = passthrough_of(from, to);
            let (from_kind, to_kind) = passthrough.box_kinds();
            let child_box = |i: usize, kind: BoxKind, b: &str| {
                let (name, c) = &components[i];
                require_box(c, kind, b, || format!("{name:?}")).map_err(Error::from)
            };
            if let End::Child(i) = from {
                child_box(i, from_kind, &from_box)?;
            }
            if let End::Child(i) = to {
                child_box(i, to_kind, &to_box)?;
            }

            // One linkage per source box.
            let here = format!("{to_name}.{to_box}");
            if let Some((_, _, existing)) = sources
                .iter()
                .find(|(e, b, _)| *e == from && *b == from_box)
            {
                return Err(Error::BoxAlreadyLinkedToDestination {
                    source: format!("{from_name}.{from_box}"),
                    existing: existing.clone(),
                    requested: here,
                });
            }
            sources.push((from, from_box.clone(), here));

            // Boxes named on "self" that the Graphline lacks are made, for this instance.
            let description = |end: End, kind: BoxKind, b: &str| -> String {
                match end {
                    End::Graph => String::new(),
                    End::Child(i) => {
                        let c = &components[i].1;
                        let specs = match kind {
                            BoxKind::Inbox => c.inboxes(),
                            BoxKind::Outbox => c.outboxes(),
                        };
                        specs
                            .iter()
                            .find(|s| s.name == b)
                            .map(|s| s.description.to_string())
                            .unwrap_or_default()
                    }
                }
            };
            if from == End::Graph {
                let specs = match from_kind {
                    BoxKind::Inbox => &mut inboxes,
                    BoxKind::Outbox => &mut outboxes,
                };
                if !specs.iter().any(|s| s.name == from_box) {
                    let d = description(to, to_kind, &to_box);
                    specs.push(BoxSpec::owned(from_box.clone(), d));
                }
            }
            if to == End::Graph {
                let specs = match to_kind {
                    BoxKind::Inbox => &mut inboxes,
                    BoxKind::Outbox => &mut outboxes,
                };
                if !specs.iter().any(|s| s.name == to_box) {
                    let d = description(from, from_kind, &from_box);
                    specs.push(BoxSpec::owned(to_box.clone(), d));
                }
            }

            links.push(Link {
                from,
                from_box,
                to,
                to_box,
            });
        }

        Ok(Graphline {
            components,
            linkages: links,
            inboxes,
            outboxes,
        })
    }

    /// The names of the components, in the order given.
    pub fn component_names(&self) -> Vec<&str> {
        self.components.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Kamaelia's passthrough rule: from the Graphline inbound, to it outbound, otherwise (and
/// from the Graphline to itself) an ordinary linkage.
fn passthrough_of(from: End, to: End) -> Passthrough {
    match (from, to) {
        (End::Graph, End::Graph) => Passthrough::Normal,
        (End::Graph, _) => Passthrough::Inbound,
        (_, End::Graph) => Passthrough::Outbound,
        _ => Passthrough::Normal,
    }
}

impl Component for Graphline {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Owned(self.inboxes.clone())
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Owned(self.outboxes.clone())
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let me = ctx.id();
        let ids: Vec<ComponentId> = self
            .components
            .into_iter()
            .map(|(_, c)| ctx.create(c))
            .collect();
        let id_of = |end: End| match end {
            End::Graph => me,
            End::Child(i) => ids[i],
        };

        let mut control_linked = vec![false; ids.len()];
        let mut control_passthrough = false;
        let mut signal_passthrough = false;
        for l in &self.linkages {
            let passthrough = passthrough_of(l.from, l.to);
            if l.from == End::Graph && l.to == End::Graph {
                log::warn!(
                    "{}: linking its own outbox {:?} to its own inbox {:?}; this is a poor \
                     assumption",
                    ctx.name(),
                    l.from_box,
                    l.to_box
                );
            }
            ctx.link_with(
                (id_of(l.from), &l.from_box),
                (id_of(l.to), &l.to_box),
                passthrough,
                None,
            )?;
            if let (End::Child(i), "control") = (l.to, l.to_box.as_str()) {
                control_linked[i] = true;
            }
            if l.from == End::Graph && l.from_box == "control" {
                control_passthrough = true;
            }
            if l.to == End::Graph && l.to_box == "signal" {
                signal_passthrough = true;
            }
        }
        let control_targets: Vec<ComponentId> = ids
            .iter()
            .zip(&control_linked)
            .filter(|(_, &linked)| !linked)
            .map(|(&id, _)| id)
            .collect();

        ctx.add_children(&ids)?;
        for &c in &ids {
            ctx.activate(c)?;
        }

        let mut shutdown_message: Option<Message> = None;
        while !children_done(&ctx) {
            if !control_passthrough {
                while let Ok(msg) = ctx.recv("control") {
                    if stop_kind(&msg) == Some(StopKind::Now) {
                        shutdown_message = copy_message(&msg);
                    }
                    let live: Vec<ComponentId> = control_targets
                        .iter()
                        .copied()
                        .filter(|&c| !ctx.is_stopped(c))
                        .collect();
                    fan_out(&ctx, msg, &live);
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }

        if !signal_passthrough {
            let last: Message =
                shutdown_message.unwrap_or_else(|| Message::new(ProducerFinished::from(me)));
            ctx.send(last, "signal")?;
        }
        Ok(())
    }
}

/// Sends one control message to the `control` of each of `targets`, through a linkage from
/// `_cs` made for the message and undone after it, as Kamaelia does.
fn fan_out(ctx: &Ctx, msg: Message, targets: &[ComponentId]) {
    let Some((&last, rest)) = targets.split_last() else {
        return;
    };
    let mut msg = Some(msg);
    for &t in rest {
        let copy = msg.as_ref().and_then(copy_message);
        match copy {
            Some(c) => send_to_control(ctx, c, t),
            None => {
                // Not a type that can be copied: the first target gets it, the others not.
                if let Some(m) = msg.take() {
                    log::warn!(
                        "{}: a {} on control cannot be copied; only {} gets it",
                        ctx.name(),
                        m.type_name(),
                        ctx.name_of(t)
                    );
                    send_to_control(ctx, m, t);
                }
                return;
            }
        }
    }
    if let Some(m) = msg {
        send_to_control(ctx, m, last);
    }
}

fn send_to_control(ctx: &Ctx, msg: Message, target: ComponentId) {
    match ctx.link((ctx.id(), "_cs"), (target, "control")) {
        Ok(l) => {
            if let Err(e) = ctx.send(msg, "_cs") {
                log::warn!("{}: {e}", ctx.name());
            }
            ctx.unlink(&l);
        }
        Err(e) => log::warn!(
            "{}: cannot pass a control message to {}: {e}",
            ctx.name(),
            ctx.name_of(target)
        ),
    }
}

/// Makes a [`Graphline`](crate::chassis::graphline::Graphline) from Python-like text:
/// components as `NAME = expression`, and `linkages = { (from, box) : (to, box), ... }`, in
/// any order, separated by commas. It returns `Result<Graphline, axon::Error>`, as
/// [`Graphline::new`](crate::chassis::graphline::Graphline::new) does. Names and boxes in the
/// linkages are any expressions giving `&str` or `String`.
///
/// The Python
///
/// ```python
/// Graphline(SRC = Source(), DST = Sink(),
///           linkages = { ("SRC", "outbox"): ("DST", "inbox"),
///                        ("self", "inbox"): ("SRC", "inbox") })
/// ```
///
/// reads
///
/// ```
/// use axon::{component, graphline};
///
/// let source = || component("Source", |_| async { Ok(()) });
/// let sink = || component("Sink", |_| async { Ok(()) });
/// let g = graphline! {
///     SRC = source(),
///     DST = sink(),
///     linkages = {
///         ("SRC", "outbox") : ("DST", "inbox"),
///         ("self", "inbox") : ("SRC", "inbox"),
///     }
/// }
/// .unwrap();
/// assert_eq!(g.component_names(), ["SRC", "DST"]);
///
/// // A misspelt name is an error, naming the component and the box.
/// let err = graphline! {
///     SRC = source(),
///     DST = sink(),
///     linkages = { ("SCR", "outbox") : ("DST", "inbox") }
/// }
/// .unwrap_err()
/// .to_string();
/// assert!(err.contains("\"SCR\"") && err.contains("\"outbox\""), "{err}");
/// ```
#[macro_export]
macro_rules! graphline {
    (@munch [$($components:tt)*] [$($links:tt)*]) => {
        $crate::chassis::graphline::Graphline::new(
            {
                let components: ::std::vec::Vec<(&'static str, $crate::AnyComponent)> =
                    ::std::vec![$($components)*];
                components
            },
            {
                let links: ::std::vec::Vec<(
                    (::std::string::String, ::std::string::String),
                    (::std::string::String, ::std::string::String),
                )> = ::std::vec![$($links)*];
                links
            },
        )
    };
    (@munch [$($components:tt)*] [$($links:tt)*]
        linkages = { $($from:tt : $to:tt),* $(,)? } $(, $($rest:tt)*)?) => {
        $crate::graphline!(@munch [$($components)*] [$($links)* $({
            let (from_name, from_box) = $from;
            let (to_name, to_box) = $to;
            (
                (::std::string::String::from(from_name), ::std::string::String::from(from_box)),
                (::std::string::String::from(to_name), ::std::string::String::from(to_box)),
            )
        },)*] $($($rest)*)?)
    };
    (@munch [$($components:tt)*] [$($links:tt)*] $name:ident = $component:expr
        $(, $($rest:tt)*)?) => {
        $crate::graphline!(@munch
            [$($components)* (::core::stringify!($name), $crate::AnyComponent::new($component)),]
            [$($links)*] $($($rest)*)?)
    };
    ($($body:tt)*) => {
        $crate::graphline!(@munch [] [] $($body)*)
    };
}
