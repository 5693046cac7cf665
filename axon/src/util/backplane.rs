//! Publishing and subscribing with backplanes: `Backplane`, `PublishTo` and `SubscribeTo`
//! (Kamaelia's `Kamaelia.Util.Backplane`, with the `PlugSplitter` of `Kamaelia.Util.Splitter`
//! inside).
//!
//! A [`Backplane`] is a named meeting point. [`PublishTo`] components send data to it by name,
//! [`SubscribeTo`] components receive everything published to it by name, and none of them
//! needs to know the others. Publishers and subscribers may come and go while it runs.
//!
//! ```
//! use axon::ipc::ProducerFinished;
//! use axon::util::backplane::{Backplane, PublishTo, SubscribeTo};
//! use axon::{component, Scheduler};
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//! let backplane = root.spawn(Backplane::new("NEWS"));
//! let publisher = root.spawn(PublishTo::new("NEWS"));
//! let alice = root.spawn(SubscribeTo::new("NEWS"));
//! let bob = root.spawn(SubscribeTo::new("NEWS"));
//! // Two sinks that never run: the test reads what reaches them.
//! let alice_gets = root.create(component("AliceGets", |_| async { Ok(()) }));
//! let bob_gets = root.create(component("BobGets", |_| async { Ok(()) }));
//! root.link((alice, "outbox"), (alice_gets, "inbox")).unwrap();
//! root.link((bob, "outbox"), (bob_gets, "inbox")).unwrap();
//! root.link((root.id(), "outbox"), (publisher, "inbox")).unwrap();
//! sched.run(); // everyone is wired up, and waits
//!
//! root.send(String::from("extra! extra!"), "outbox").unwrap();
//! sched.run();
//! assert_eq!(sched.ctx(alice_gets).recv_as::<String>("inbox").unwrap(), "extra! extra!");
//! assert_eq!(sched.ctx(bob_gets).recv_as::<String>("inbox").unwrap(), "extra! extra!");
//!
//! // Shutting the backplane down shuts its subscribers down; its publisher stays.
//! root.link((root.id(), "signal"), (backplane, "control")).unwrap();
//! root.send(ProducerFinished::default(), "signal").unwrap();
//! sched.run();
//! assert!(root.is_stopped(alice) && root.is_stopped(bob));
//! assert!(root.is_stopped(backplane) && !root.is_stopped(publisher));
//! ```
//!
//! # How it works
//!
//! The Backplane holds a splitter (Kamaelia's `PlugSplitter`) as its child and registers two
//! services for it: `"Backplane_I_<name>"`, the splitter's `inbox`, where data is published,
//! and `"Backplane_O_<name>"`, its `configuration` inbox, which takes [`AddSink`] and
//! [`RemoveSink`] requests. For each sink it adds an outbox of its own, linked to the sink's
//! inbox, and sends every item on `inbox` to each of them; the same for control messages,
//! which go to the sinks' control inboxes and out of the Backplane's `signal`.
//!
//! A `PublishTo` links its `inbox` straight through to the splitter's `inbox` (or, as a
//! *forwarder*, copies each item to its own `outbox` and to the splitter). A `SubscribeTo`
//! asks the splitter to link to its `inbox` and `control`, and passes on what arrives.
//!
//! Each subscriber needs its own copy of every item, so items are copied with a
//! [`Cloner`]: common types are known, add yours with [`Backplane::cloning`]. An item the
//! Backplane cannot copy shuts it down (see [`Backplane`]).
//!
//! # Shutting down
//!
//! Every component here stops by the
//! [uniform rule](crate::util::pass_through#the-uniform-stop-rule). A stop message on the
//! Backplane's `control` goes to every subscriber's `control` and out of the Backplane's
//! `signal`; each subscriber passes it on out of its own `signal` and ends, then the
//! Backplane ends and its names are free again. With `ProducerFinished` the data already
//! published reaches the subscribers first. Stopping a `PublishTo` or a `SubscribeTo`
//! concerns it alone: the Backplane and the others carry on.
//!
//! # Differences from Kamaelia
//!
//! - **Names.** Kamaelia's Backplane sets its component name to the backplane's name. Here
//!   its name is `Backplane_<n>` like any component's; [`Backplane::name`] is the backplane's
//!   name.
//! - **A duplicate name** is [`Error::ServiceAlreadyExists`]: returned by
//!   [`Backplane::create_in`], or the error the second Backplane fails with when it starts.
//!   (Kamaelia's error path uses `sys` and `traceback` without importing them, so it raises
//!   `NameError`; spec (f)11.)
//! - **A missing backplane** makes a `PublishTo` or `SubscribeTo` fail with
//!   [`NoSuchBackplane`], which names it (Kamaelia raises a bare `KeyError`).
//! - **When names are registered.** Kamaelia registers them in the Backplane's constructor.
//!   A Rust component has no scheduler until it is created, so `Backplane::new` registers
//!   them when the Backplane first runs: spawn it before its publishers and subscribers
//!   (components activated in one cycle first run in the order they were activated), or use
//!   [`Backplane::create_in`], which registers them at once, as Kamaelia's constructor does.
//!   The names are given up when the splitter stops, in the same cycle, so a subscriber can
//!   never find a backplane that will not serve it.
//! - **Copies.** Kamaelia sends the same object to every subscriber; here each gets a copy
//!   (see above).
//! - **Full inboxes.** A subscriber whose inbox is full (given a size limit) misses that item,
//!   with a warning in the log; the others still get it. Kamaelia's splitter raises
//!   `noSpaceInBox` and ends the program.
//! - **Control messages.** As in Kamaelia, the Backplane passes every control message to its
//!   subscribers and out of `signal`, stopping on `ProducerFinished`, `ShutdownMicroprocess`
//!   and `Shutdown` (Kamaelia's ignores `shutdown`). A `PublishTo` passes every control
//!   message out of `signal`, as Kamaelia's does; so does a `SubscribeTo` (through its
//!   `PassThrough` child, in Kamaelia).
//! - **SubscribeTo is one component.** Kamaelia's wraps a `PassThrough` in a `Plug`; here the
//!   `SubscribeTo` is itself the sink and passes on what it gets. What comes out is the same.
//!   The splitter does not copy data to its own `outbox` (nothing is linked to it).

use std::borrow::Cow;
use std::fmt;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::{ComponentResult, Error};
use crate::ids::ComponentId;
use crate::ipc::{stop_kind, ShutdownMicroprocess, StopKind};
use crate::linkage::{Linkage, Passthrough};
use crate::message::Message;
use crate::util::fanout::Cloner;
use crate::util::pass_through::{read_control, Control};

/// The service name of a backplane's data inbox: `"Backplane_I_<name>"`.
pub fn inbox_service(name: &str) -> String {
    format!("Backplane_I_{name}")
}

/// The service name of a backplane's configuration inbox: `"Backplane_O_<name>"`.
pub fn config_service(name: &str) -> String {
    format!("Backplane_O_{name}")
}

/// A `PublishTo` or `SubscribeTo` found no backplane of the name it was given.
///
/// ```
/// use axon::util::backplane::SubscribeTo;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// sched.spawn(SubscribeTo::new("NOWHERE"));
/// let report = sched.run();
/// assert_eq!(report.failures.len(), 1);
/// assert!(report.failures[0].error.contains("no Backplane named \"NOWHERE\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoSuchBackplane {
    /// The backplane's name.
    pub name: String,
    /// The service looked up (`Backplane_I_<name>` or `Backplane_O_<name>`).
    pub service: String,
}

impl fmt::Display for NoSuchBackplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no Backplane named {:?} is running (service {:?} is not registered): start the \
             Backplane before its publishers and subscribers",
            self.name, self.service
        )
    }
}

impl std::error::Error for NoSuchBackplane {}

/// Looks a backplane's service up, or says which backplane is missing.
fn find(ctx: &Ctx, name: &str, service: String) -> Result<(ComponentId, String), NoSuchBackplane> {
    ctx.retrieve_service(&service).map_err(|_| NoSuchBackplane {
        name: name.to_string(),
        service,
    })
}

// ----- AddSink, RemoveSink ----------------------------------------------------------------

/// Asks a backplane to send to a sink: its data to `(sink, sinkbox)` and its control messages
/// to `(sink, sinkcontrol)` (Kamaelia's `addsink`). Send it to the `"Backplane_O_<name>"`
/// service. Adding the same destination twice does nothing.
///
/// [`SubscribeTo`] does this for you; `AddSink` is for components that want to be sinks
/// themselves.
///
/// ```
/// use axon::util::backplane::{config_service, AddSink, Backplane, PublishTo};
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let bp = Backplane::new("B").create_in(&root).unwrap();
/// root.activate(bp).unwrap();
/// let publisher = root.spawn(PublishTo::new("B"));
/// // A sink of our own: a component that never runs, whose inbox we read.
/// let sink = root.create(component("Sink", |_| async { Ok(()) }));
/// let (splitter, config) = root.retrieve_service(&config_service("B")).unwrap();
/// root.link((root.id(), "signal"), (splitter, &config)).unwrap();
/// root.send(AddSink::new(sink, "inbox"), "signal").unwrap();
/// root.link((root.id(), "outbox"), (publisher, "inbox")).unwrap();
/// root.send(7u8, "outbox").unwrap();
/// sched.run();
/// assert_eq!(sched.ctx(sink).recv_as::<u8>("inbox").unwrap(), 7);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddSink {
    /// The component to send to.
    pub sink: ComponentId,
    /// Its inbox for data, if any.
    pub sinkbox: Option<String>,
    /// Its inbox for control messages, if any.
    pub sinkcontrol: Option<String>,
}

impl AddSink {
    /// Data to `(sink, sinkbox)`, no control messages (Kamaelia's defaults).
    pub fn new(sink: ComponentId, sinkbox: &str) -> AddSink {
        AddSink {
            sink,
            sinkbox: Some(sinkbox.to_string()),
            sinkcontrol: None,
        }
    }

    /// Also control messages, to `(sink, sinkcontrol)`.
    pub fn with_control(mut self, sinkcontrol: &str) -> AddSink {
        self.sinkcontrol = Some(sinkcontrol.to_string());
        self
    }
}

/// Asks a backplane to stop sending to the destinations named (Kamaelia's `removesink`);
/// the reverse of [`AddSink`]. Destinations it does not send to are ignored.
///
/// ```
/// use axon::util::backplane::{AddSink, RemoveSink};
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let me = sched.root().id();
/// let add = AddSink::new(me, "inbox").with_control("control");
/// let remove = RemoveSink::from(add.clone());
/// assert_eq!(remove.sink, add.sink);
/// assert_eq!(remove.sinkcontrol.as_deref(), Some("control"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveSink {
    /// The component.
    pub sink: ComponentId,
    /// Its data inbox to stop sending to, if any.
    pub sinkbox: Option<String>,
    /// Its control inbox to stop sending to, if any.
    pub sinkcontrol: Option<String>,
}

impl From<AddSink> for RemoveSink {
    /// Undoes that `AddSink`.
    fn from(a: AddSink) -> RemoveSink {
        RemoveSink {
            sink: a.sink,
            sinkbox: a.sinkbox,
            sinkcontrol: a.sinkcontrol,
        }
    }
}

// ----- the splitter -----------------------------------------------------------------------

/// One destination of the splitter: where, and the outbox and linkage that lead there.
struct Sink {
    dst: (ComponentId, String),
    outbox: String,
    linkage: Linkage,
}

/// Kamaelia's `PlugSplitter`, without a source child: fans `inbox` out to the data sinks and
/// `control` out to `signal` and the control sinks; configured by `AddSink`/`RemoveSink`.
struct PlugSplitter {
    name: String,
    cloner: Cloner,
}

const SPLITTER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Data items to be fanned out."),
    BoxSpec::new(
        "control",
        "Shutdown signalling, and signalling to be fanned out.",
    ),
    BoxSpec::new(
        "configuration",
        "addsink(...) and removesink(...) request messages",
    ),
];

const SPLITTER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "NOT USED"),
    BoxSpec::new(
        "signal",
        "Shutdown signalling, and data items received on 'control' inbox.",
    ),
];

/// The splitter's running state.
struct Splitting {
    ctx: Ctx,
    name: String,
    cloner: Cloner,
    data: Vec<Sink>,
    control: Vec<Sink>,
}

impl Splitting {
    fn add(&mut self, sink: ComponentId, inbox: &str, control: bool) {
        let list = if control {
            &mut self.control
        } else {
            &mut self.data
        };
        if list.iter().any(|s| s.dst.0 == sink && s.dst.1 == inbox) {
            return;
        }
        let base = if control { "signal" } else { "outbox" };
        let outbox = match self.ctx.add_outbox(base) {
            Ok(o) => o,
            Err(e) => {
                log::warn!("Backplane {:?}: cannot add a sink: {e}", self.name);
                return;
            }
        };
        match self.ctx.link((self.ctx.id(), &outbox), (sink, inbox)) {
            Ok(linkage) => list.push(Sink {
                dst: (sink, inbox.to_string()),
                outbox,
                linkage,
            }),
            Err(e) => {
                log::warn!("Backplane {:?}: cannot add a sink: {e}", self.name);
                let _ = self.ctx.delete_outbox(&outbox);
            }
        }
    }

    fn remove(&mut self, sink: ComponentId, inbox: &str, control: bool) {
        let list = if control {
            &mut self.control
        } else {
            &mut self.data
        };
        if let Some(i) = list
            .iter()
            .position(|s| s.dst.0 == sink && s.dst.1 == inbox)
        {
            let s = list.remove(i);
            self.ctx.unlink(&s.linkage);
            let _ = self.ctx.delete_outbox(&s.outbox);
        }
    }

    fn configure(&mut self, m: Message) {
        if let Some(a) = m.downcast_ref::<AddSink>() {
            if let Some(b) = &a.sinkbox {
                self.add(a.sink, b, false);
            }
            if let Some(c) = &a.sinkcontrol {
                self.add(a.sink, c, true);
            }
        } else if let Some(r) = m.downcast_ref::<RemoveSink>() {
            if let Some(b) = &r.sinkbox {
                self.remove(r.sink, b, false);
            }
            if let Some(c) = &r.sinkcontrol {
                self.remove(r.sink, c, true);
            }
        } else {
            log::warn!(
                "Backplane {:?}: ignored a {} on \"configuration\" (expected AddSink or RemoveSink)",
                self.name,
                m.type_name()
            );
        }
    }

    /// Sends `m` to every outbox in `boxes`, one copy each. A full sink misses it. Gives the
    /// message back if it cannot be copied.
    fn fan_out(&self, m: Message, boxes: &[&str]) -> Result<(), Message> {
        let copies = self.cloner.copies(m, boxes.len())?;
        for (m, outbox) in copies.into_iter().zip(boxes) {
            if let Err(e) = self.ctx.send(m, outbox) {
                log::warn!(
                    "Backplane {:?}: a subscriber missed an item: {e}",
                    self.name
                );
            }
        }
        Ok(())
    }

    fn data_boxes(&self) -> Vec<&str> {
        self.data.iter().map(|s| s.outbox.as_str()).collect()
    }

    /// `signal` and every control sink.
    fn control_boxes(&self) -> Vec<&str> {
        std::iter::once("signal")
            .chain(self.control.iter().map(|s| s.outbox.as_str()))
            .collect()
    }

    /// Passes a control message on to `signal` and every control sink.
    fn signal(&self, m: Message) -> Result<(), Message> {
        self.fan_out(m, &self.control_boxes())
    }

    /// Gives up the backplane's names, so that no one new finds a splitter about to end.
    fn deregister(&self) {
        let _ = self.ctx.deregister_service(&inbox_service(&self.name));
        let _ = self.ctx.deregister_service(&config_service(&self.name));
    }

    /// Stops: gives up the names, then passes `stop` on.
    fn stop(&self, stop: Message) -> ComponentResult {
        self.deregister();
        self.signal(stop)
            .map_err(|m| format!("cannot pass on a {}", m.type_name()))?;
        Ok(())
    }

    /// Shuts down over an item that cannot be copied: subscribers are told to stop, and the
    /// splitter fails with an error naming the type.
    fn refuse(&self, m: Message) -> ComponentResult {
        let error = Cloner::refusal(
            &m,
            &format!("Backplane {:?}", self.name),
            "Backplane::cloning::<T>()",
        );
        self.stop(Message::new(ShutdownMicroprocess::default()))?;
        Err(error.into())
    }
}

impl Component for PlugSplitter {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        SPLITTER_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        SPLITTER_OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut s = Splitting {
            ctx: ctx.clone(),
            name: self.name,
            cloner: self.cloner,
            data: Vec::new(),
            control: Vec::new(),
        };
        loop {
            while let Ok(m) = ctx.recv("configuration") {
                s.configure(m);
            }
            // Control, in order: other messages are fanned out as they come; a stop ends it.
            let mut finish = None;
            while let Ok(m) = ctx.recv("control") {
                match stop_kind(&m) {
                    Some(StopKind::Now) => return s.stop(m),
                    Some(StopKind::Finish) => {
                        finish.get_or_insert(m);
                    }
                    None => {
                        if let Err(m) = s.signal(m) {
                            return s.refuse(m);
                        }
                    }
                }
            }
            while let Ok(m) = ctx.recv("inbox") {
                if let Err(m) = s.fan_out(m, &s.data_boxes()) {
                    return s.refuse(m);
                }
            }
            if let Some(stop) = finish {
                return s.stop(stop);
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

// ----- Backplane --------------------------------------------------------------------------

/// A named backplane: data published to it by [`PublishTo`] components goes to every
/// [`SubscribeTo`] component of the same name (Kamaelia's `Backplane(name)`).
///
/// It registers the services `"Backplane_I_<name>"` and `"Backplane_O_<name>"`, either when
/// it first runs or, with [`create_in`](Backplane::create_in), at once. A name already in use
/// is [`Error::ServiceAlreadyExists`]. A stop message on `control` stops it and every
/// subscriber (see the [module documentation](self#shutting-down)).
///
/// Items are copied for the subscribers with a [`Cloner`]; add your types with
/// [`cloning`](Backplane::cloning). An item it cannot copy makes it tell every subscriber to
/// stop (with [`ShutdownMicroprocess`]), give up its names, and fail with an error naming the
/// type.
///
/// Boxes: `inbox` ("NOT USED"), `control` ("Shutdown signalling (shuts down the backplane and
/// all subscribers)"), `outbox` ("NOT USED"), `signal` ("Shutdown signalling").
///
/// ```
/// use axon::util::backplane::Backplane;
/// use axon::{Error, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let first = Backplane::new("DATA").create_in(&root).unwrap();
/// assert!(root.retrieve_service("Backplane_I_DATA").is_ok());
/// assert_eq!(
///     Backplane::new("DATA").create_in(&root).unwrap_err(),
///     Error::ServiceAlreadyExists("Backplane_I_DATA".into())
/// );
/// root.activate(first).unwrap();
/// ```
#[derive(Debug)]
pub struct Backplane {
    name: String,
    cloner: Cloner,
    /// The splitter, when the names were registered before the Backplane ran.
    splitter: Option<ComponentId>,
}

impl Backplane {
    /// A backplane named `name`, copying items with [`Cloner::new`].
    pub fn new(name: impl Into<String>) -> Backplane {
        Backplane {
            name: name.into(),
            cloner: Cloner::new(),
            splitter: None,
        }
    }

    /// The backplane's name (not the component's: that is `Backplane_<n>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Also copies items of type `T` to the subscribers.
    pub fn cloning<T: Clone + Send + 'static>(mut self) -> Backplane {
        self.cloner.add::<T>();
        self
    }

    /// Copies items with `cloner` instead.
    pub fn with_cloner(mut self, cloner: Cloner) -> Backplane {
        self.cloner = cloner;
        self
    }

    /// Creates the Backplane (not yet activated) in `ctx`'s scheduler and registers its names
    /// at once, as Kamaelia's constructor does, so that publishers and subscribers find it
    /// whatever order they run in. Activate the returned component with
    /// [`Ctx::activate`].
    ///
    /// Fails with [`Error::ServiceAlreadyExists`] if a backplane of that name exists, and
    /// then creates nothing.
    pub fn create_in(mut self, ctx: &Ctx) -> Result<ComponentId, Error> {
        let splitter = register(ctx, &self.name, &self.cloner)?;
        self.splitter = Some(splitter);
        Ok(ctx.create(self))
    }
}

/// Makes the splitter and registers the backplane's two services for it.
fn register(ctx: &Ctx, name: &str, cloner: &Cloner) -> Result<ComponentId, Error> {
    let (i, o) = (inbox_service(name), config_service(name));
    for service in [&i, &o] {
        if ctx.retrieve_service(service).is_ok() {
            return Err(Error::ServiceAlreadyExists(service.clone()));
        }
    }
    let splitter = ctx.create(PlugSplitter {
        name: name.to_string(),
        cloner: cloner.clone(),
    });
    ctx.register_service(&i, (splitter, "inbox"))?;
    if let Err(e) = ctx.register_service(&o, (splitter, "configuration")) {
        let _ = ctx.deregister_service(&i);
        return Err(e);
    }
    Ok(splitter)
}

const BACKPLANE_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new(
        "control",
        "Shutdown signalling (shuts down the backplane and all subscribers",
    ),
];

const BACKPLANE_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "NOT USED"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for Backplane {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        BACKPLANE_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        BACKPLANE_OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let splitter = match self.splitter {
            Some(s) => s,
            None => register(&ctx, &self.name, &self.cloner)?,
        };
        let me = ctx.id();
        ctx.link_with(
            (me, "control"),
            (splitter, "control"),
            Passthrough::Inbound,
            None,
        )?;
        ctx.link_with(
            (splitter, "signal"),
            (me, "signal"),
            Passthrough::Outbound,
            None,
        )?;
        ctx.add_children(&[splitter])?;
        ctx.activate(splitter)?;
        while !ctx.is_stopped(splitter) {
            ctx.pause();
            ctx.yield_now().await;
        }
        ctx.remove_child(splitter);
        Ok(())
    }
}

// ----- PublishTo --------------------------------------------------------------------------

/// Publishes everything sent to its `inbox` on the backplane of its name (Kamaelia's
/// `PublishTo(destination, forwarder=False)`).
///
/// It finds the backplane when it first runs, and fails with [`NoSuchBackplane`] if there is
/// none. Its `inbox` then leads straight into the backplane: nothing is held on the way. As a
/// [`forwarder`](PublishTo::forwarder), it instead copies each item to its own `outbox` and
/// to the backplane (through `_outbox`), so that it can sit in the middle of a pipeline;
/// items are then copied with a [`Cloner`].
///
/// Every control message goes out of `signal`. It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule); stopping it does not
/// stop the backplane.
///
/// Boxes, as Kamaelia's: `inbox` ("Send to here data to be published to the backplane"),
/// `control` ("Shutdown signalling (doesn't shutdown the Backplane)"), `outbox` ("NOT USED,
/// unless a forwarder - if a forwarder, copy of data"), `_outbox` ("To backplane if a
/// forwarder"), `signal` ("Shutdown signalling").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::backplane::{Backplane, PublishTo, SubscribeTo};
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// root.spawn(Backplane::new("LOG"));
/// let tee = root.spawn(PublishTo::new("LOG").forwarder(true));
/// let sub = root.spawn(SubscribeTo::new("LOG"));
/// let heard = root.create(component("Heard", |_| async { Ok(()) }));
/// root.link((sub, "outbox"), (heard, "inbox")).unwrap();
/// root.link((root.id(), "outbox"), (tee, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (tee, "control")).unwrap();
/// root.link((tee, "outbox"), (root.id(), "inbox")).unwrap();
/// sched.run();
///
/// root.send(String::from("line"), "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// sched.run();
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "line"); // the forwarded copy
/// assert_eq!(sched.ctx(heard).recv_as::<String>("inbox").unwrap(), "line"); // published
/// assert!(root.is_stopped(tee) && !root.is_stopped(sub)); // the backplane carries on
/// ```
#[derive(Debug)]
pub struct PublishTo {
    destination: String,
    forwarder: bool,
    cloner: Cloner,
}

impl PublishTo {
    /// Publishes to the backplane named `destination`.
    pub fn new(destination: impl Into<String>) -> PublishTo {
        PublishTo {
            destination: destination.into(),
            forwarder: false,
            cloner: Cloner::new(),
        }
    }

    /// Also sends a copy of each item out of `outbox` (Kamaelia's `forwarder=True`).
    pub fn forwarder(mut self, forwarder: bool) -> PublishTo {
        self.forwarder = forwarder;
        self
    }

    /// As a forwarder, also copies items of type `T`.
    pub fn cloning<T: Clone + Send + 'static>(mut self) -> PublishTo {
        self.cloner.add::<T>();
        self
    }

    /// As a forwarder, copies items with `cloner` instead.
    pub fn with_cloner(mut self, cloner: Cloner) -> PublishTo {
        self.cloner = cloner;
        self
    }
}

const PUBLISH_INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Send to here data to be published to the backplane",
    ),
    BoxSpec::new(
        "control",
        "Shutdown signalling (doesn't shutdown the Backplane)",
    ),
];

const PUBLISH_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "NOT USED, unless a forwarder - if a forwarder, copy of data",
    ),
    BoxSpec::new("_outbox", "To backplane if a forwarder"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for PublishTo {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        PUBLISH_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        PUBLISH_OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let name = &self.destination;
        let (splitter, inbox) = find(&ctx, name, inbox_service(name))?;
        let me = ctx.id();
        if self.forwarder {
            ctx.link((me, "_outbox"), (splitter, &inbox))?;
        } else {
            ctx.link_with(
                (me, "inbox"),
                (splitter, &inbox),
                Passthrough::Inbound,
                None,
            )?;
        }
        loop {
            let control = read_control(&ctx, |other| Ok(ctx.send(other, "signal")?))?;
            if let Control::Now(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            // Only a forwarder holds items. A plain publisher's inbox leads on, and must not be
            // read: a recv would take from the end of its chain, the backplane's inbox.
            while self.forwarder && ctx.data_ready("inbox") > 0 {
                let item = ctx.recv("inbox")?;
                let mut copies = self.cloner.copies(item, 2).map_err(|m| {
                    Cloner::refusal(&m, "PublishTo (a forwarder)", "PublishTo::cloning::<T>()")
                })?;
                let to_backplane = copies.pop().expect("two copies");
                ctx.send(copies.pop().expect("two copies"), "outbox")?;
                ctx.send(to_backplane, "_outbox")?;
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

// ----- SubscribeTo ------------------------------------------------------------------------

/// Receives everything published on the backplane of its name, and sends it out of `outbox`
/// (Kamaelia's `SubscribeTo(source)`).
///
/// It finds the backplane when it first runs (failing with [`NoSuchBackplane`] if there is
/// none) and asks it, with an [`AddSink`], to send to its `inbox` and `control`. Anything on
/// `inbox` goes out of `outbox` (whether from the backplane or not, as in Kamaelia), and
/// every control message out of `signal`. It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule), whether the stop message
/// came from the backplane (which is shutting down) or was sent to it alone; on stopping it
/// asks the backplane, with a [`RemoveSink`], to stop sending to it.
///
/// Boxes: `inbox` ("Data from the backplane"), `control` ("Shutdown signalling (doesn't
/// shutdown the Backplane)"), `outbox` ("Data received from the backplane (that was published
/// to it)"), `signal` ("Shutdown signalling"), `_splitter_config` ("AddSink and RemoveSink
/// requests to the backplane").
///
/// ```
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::util::backplane::{Backplane, PublishTo, SubscribeTo};
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let bp = root.spawn(Backplane::new("TICKS"));
/// let publisher = root.spawn(PublishTo::new("TICKS"));
/// let sub = root.spawn(SubscribeTo::new("TICKS"));
/// root.link((sub, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((sub, "signal"), (root.id(), "control")).unwrap();
/// root.link((root.id(), "outbox"), (publisher, "inbox")).unwrap();
/// sched.run();
/// root.send(1u64, "outbox").unwrap();
/// sched.run();
/// assert_eq!(root.recv_as::<u64>("inbox").unwrap(), 1);
///
/// // Stopping one subscriber leaves the backplane running.
/// let sub_control = sched.ctx(sub);
/// sub_control.deliver(ShutdownMicroprocess::default(), "control").unwrap();
/// sched.run();
/// assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
/// assert!(root.is_stopped(sub) && !root.is_stopped(bp));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeTo {
    source: String,
}

impl SubscribeTo {
    /// Subscribes to the backplane named `source`.
    pub fn new(source: impl Into<String>) -> SubscribeTo {
        SubscribeTo {
            source: source.into(),
        }
    }
}

const SUBSCRIBE_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Data from the backplane"),
    BoxSpec::new(
        "control",
        "Shutdown signalling (doesn't shutdown the Backplane)",
    ),
];

const SUBSCRIBE_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "Data received from the backplane (that was published to it)",
    ),
    BoxSpec::new("signal", "Shutdown signalling"),
    BoxSpec::new(
        "_splitter_config",
        "AddSink and RemoveSink requests to the backplane",
    ),
];

impl Component for SubscribeTo {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        SUBSCRIBE_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        SUBSCRIBE_OUTBOXES.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let name = &self.source;
        let (splitter, config) = find(&ctx, name, config_service(name))?;
        let me = ctx.id();
        ctx.link((me, "_splitter_config"), (splitter, &config))?;
        let plug = AddSink::new(me, "inbox").with_control("control");
        ctx.send(plug.clone(), "_splitter_config")?;
        let stop = loop {
            let control = read_control(&ctx, |other| Ok(ctx.send(other, "signal")?))?;
            if let Control::Now(stop) = control {
                break stop;
            }
            while let Ok(item) = ctx.recv("inbox") {
                ctx.send(item, "outbox")?;
            }
            if let Control::Finish(stop) = control {
                break stop;
            }
            ctx.pause();
            ctx.yield_now().await;
        };
        // Unplug (if the backplane has gone, the request is simply never read).
        let _ = ctx.send(RemoveSink::from(plug), "_splitter_config");
        ctx.send(stop, "signal")?;
        Ok(())
    }
}
