//! # Axon: Kamaelia's component model in Rust
//!
//! Axon is the core of [Kamaelia](https://www.kamaelia.org/), the BBC's framework for
//! building programs out of small components that talk through named boxes. This crate keeps
//! its concepts, box names and message contracts, spelt in Rust case: a Kamaelia programmer
//! should find every idea where they expect it.
//!
//! - A **component** has named **inboxes** (by default `inbox` and `control`) and
//!   **outboxes** (`outbox` and `signal`), and a body that runs under a **scheduler**.
//! - A **linkage** joins an outbox to an inbox. A message sent on an outbox goes straight to
//!   the inbox at the end of its chain of linkages, and wakes that inbox's owner.
//! - The scheduler is cooperative: a body runs until it yields. A component that
//!   **pauses** is not run again until something **wakes** it.
//!
//! ## Layout
//!
//! | module | its one job |
//! |---|---|
//! | `component` | what a component is: the [`Component`] trait, box declarations |
//! | `ctx` | [`Ctx`], everything a component does: boxes, children, linkages, services |
//! | `postbox`, `world` | boxes, linkage chains, and the run/pause/wake bookkeeping |
//! | `scheduler` | the cooperative [`Scheduler`] and its run loop |
//! | `remote` | the one door into a scheduler from other threads |
//! | [`ipc`] | the control messages: [`ipc::ProducerFinished`], [`ipc::ShutdownMicroprocess`], ... |
//! | `adaptive` | [`ResourceTracker`]: which resource each dynamic box serves |
//! | `threaded` | [`Threaded`] components, whose bodies run on their own threads |
//! | `handle` | [`Background`] schedulers and [`Handle`]s, to drive components from plain code |
//! | `introspector` | [`Topology`] snapshots and the [`Introspector`] component |
//!
//! ## Hello, pipeline
//!
//! A producer, a relay and a consumer, linked outbox to inbox and signal to control, the way a
//! Kamaelia `Pipeline` wires them. When the producer is done it sends
//! [`ProducerFinished`](ipc::ProducerFinished) on `signal`; each component passes it on and
//! ends, and the scheduler returns when no component is left.
//!
//! ```
//! use axon::ipc::ProducerFinished;
//! use axon::{component, Ctx, Scheduler};
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//!
//! let producer = root.create(component("Producer", |ctx: Ctx| async move {
//!     for word in ["hello", "pipeline"] {
//!         ctx.send(word.to_string(), "outbox")?;
//!         ctx.yield_now().await;
//!     }
//!     ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
//!     Ok(())
//! }));
//! let shouter = root.create(component("Shouter", |ctx: Ctx| async move {
//!     loop {
//!         while ctx.data_ready("inbox") > 0 {
//!             let s: String = ctx.recv_as("inbox")?;
//!             ctx.send(s.to_uppercase(), "outbox")?;
//!         }
//!         if ctx.data_ready("control") > 0 {
//!             let stop = ctx.recv("control")?;
//!             ctx.send(stop, "signal")?;
//!             return Ok(());
//!         }
//!         ctx.pause();
//!         ctx.yield_now().await;
//!     }
//! }));
//!
//! // The root's own inbox collects the output.
//! root.link((producer, "outbox"), (shouter, "inbox")).unwrap();
//! root.link((producer, "signal"), (shouter, "control")).unwrap();
//! root.link((shouter, "outbox"), (root.id(), "inbox")).unwrap();
//! root.activate(producer).unwrap();
//! root.activate(shouter).unwrap();
//!
//! let report = sched.run();
//! assert!(report.is_clean());
//! assert_eq!(root.recv_as::<String>("inbox").unwrap(), "HELLO");
//! assert_eq!(root.recv_as::<String>("inbox").unwrap(), "PIPELINE");
//! ```
//!
//! ## Linkages and passthrough
//!
//! [`Ctx::link`] joins an outbox to an inbox. [`Ctx::link_with`] also takes Kamaelia's two
//! passthrough kinds, which let a parent hand its boxes to its children:
//! [`Passthrough::Inbound`] joins the parent's inbox to a child's inbox, and
//! [`Passthrough::Outbound`] joins a child's outbox to the parent's outbox. Chains collapse:
//! a message is stored once, at the final inbox, whatever order the chain was built in. One
//! outbox may lead to one place only; many outboxes may feed one inbox.
//!
//! ```
//! use axon::{component, Passthrough, Scheduler};
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//! let parent = root.create(component("Parent", |_| async { Ok(()) }));
//! let child = root.create(component("Child", |_| async { Ok(()) }));
//!
//! // root.outbox -> parent.inbox -> (inbound passthrough) -> child.inbox
//! root.link_with((parent, "inbox"), (child, "inbox"), Passthrough::Inbound, None).unwrap();
//! root.link((root.id(), "outbox"), (parent, "inbox")).unwrap();
//! root.send(7u8, "outbox").unwrap();
//!
//! let child_ctx = sched.ctx(child);
//! assert_eq!(sched.ctx(parent).data_ready("inbox"), 0); // passes through, holds nothing
//! assert_eq!(child_ctx.recv_as::<u8>("inbox").unwrap(), 7);
//!
//! // A second destination for the same outbox is refused, naming both ends.
//! let err = root.link((root.id(), "outbox"), (child, "control")).unwrap_err();
//! assert!(err.to_string().contains("already leads to"));
//! ```
//!
//! ## Pause and wake
//!
//! [`Ctx::pause`] then [`Ctx::yield_now`] is Kamaelia's `self.pause(); yield 1`. A paused
//! component runs again when a message reaches one of its inboxes, when a message it sent is
//! collected downstream, when a child ends, or when a timer or a thread wakes it. Pause
//! requests are handled before wakes at the end of each cycle, so a wake is never lost. When
//! every component is paused and nothing outside can wake one, [`Scheduler::run`] returns
//! and lists them in [`RunReport::left_paused`] (Kamaelia's scheduler would hang).
//!
//! ```
//! use axon::{component, Scheduler};
//!
//! let sched = Scheduler::new();
//! let waiter = sched.spawn(component("Waiter", |ctx| async move {
//!     while ctx.data_ready("inbox") == 0 {
//!         ctx.pause();
//!         ctx.yield_now().await;
//!     }
//!     Ok(())
//! }));
//! let report = sched.run();
//! assert_eq!(report.left_paused.len(), 1);
//! assert!(report.left_paused[0].starts_with("Waiter_"));
//!
//! // A message wakes it, and it ends.
//! sched.ctx(waiter).deliver("wake up", "inbox").unwrap();
//! assert!(sched.run().is_clean());
//! ```
//!
//! ## Size-limited inboxes
//!
//! Inboxes are unbounded unless given a size. A send into a full inbox never blocks and never
//! drops: it fails with [`SendError::NoSpaceInBox`], which hands the message back.
//!
//! ```
//! use axon::Scheduler;
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//! root.set_inbox_size("inbox", Some(1)).unwrap();
//! root.link((root.id(), "outbox"), (root.id(), "inbox")).unwrap();
//! root.send(1u32, "outbox").unwrap();
//! let err = root.send(2u32, "outbox").unwrap_err();
//! assert!(err.is_full());
//! assert_eq!(err.into_message().downcast::<u32>().unwrap(), 2);
//! ```
//!
//! ## Adaptive boxes
//!
//! Any component may add and delete boxes while it runs (Kamaelia's
//! `AdaptiveCommsComponent`). [`Ctx::add_outbox`] returns the name actually made, which
//! differs from the one asked for when that is taken.
//!
//! ```
//! use axon::Scheduler;
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//! let a = root.add_outbox("client").unwrap();
//! let b = root.add_outbox("client").unwrap();
//! assert_eq!(a, "client");
//! assert!(b.starts_with("client") && b != a);
//! root.delete_outbox(&b).unwrap();
//! assert!(root.delete_outbox(&b).is_err());
//! ```
//!
//! ## Services
//!
//! Each scheduler has a registry of named services, each an inbox of some component
//! (Kamaelia's coordinating assistant tracker), and of named values.
//!
//! ```
//! use axon::{Error, Scheduler};
//!
//! let sched = Scheduler::new();
//! let root = sched.root();
//! root.register_service("echo", (root.id(), "inbox")).unwrap();
//! assert_eq!(root.retrieve_service("echo").unwrap(), (root.id(), "inbox".to_string()));
//! assert_eq!(
//!     root.register_service("echo", (root.id(), "inbox")),
//!     Err(Error::ServiceAlreadyExists("echo".into()))
//! );
//! root.deregister_service("echo").unwrap();
//! assert!(matches!(root.retrieve_service("echo"), Err(Error::ServiceNotFound(_))));
//! ```
//!
//! ## Shutdown
//!
//! A component is asked to stop by a message on `control`:
//! [`ProducerFinished`](ipc::ProducerFinished) ("finish your work, then stop") or
//! [`ShutdownMicroprocess`](ipc::ShutdownMicroprocess) ("stop now"). It passes the message on
//! out of `signal`, so a chain wired signal-to-control shuts down from one end to the other.
//! [`ipc::stop_kind`] classifies a control message. A component that fails (returns an error
//! or panics) ends alone; the scheduler reports it in [`RunReport::failures`] and the others
//! run on. [`Ctx::stop_scheduler`] and [`StopHandle`] stop everything at once.
//!
//! ## Threads
//!
//! [`Threaded`] runs a [`ThreadedComponent`]'s body on its own thread, joined to the
//! scheduler by bounded queues, for work that blocks. [`Background`] runs a scheduler on a
//! thread of its own and gives out [`Handle`]s to drive components from ordinary code.
//!
//! ## Seeing the graph
//!
//! [`Ctx::topology`] snapshots the running graph (with [`Topology::to_dot`] for Graphviz), and
//! the [`Introspector`] component streams its changes in Kamaelia's text format.
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod adaptive;
pub mod chassis;
mod cloner;
mod component;
mod ctx;
mod error;
mod handle;
mod ids;
pub mod internet;
mod introspector;
pub mod ipc;
mod linkage;
mod message;
mod ordered;
mod postbox;
mod registry;
mod remote;
mod ring;
mod scheduler;
mod threaded;
pub mod util;
mod world;

pub use adaptive::{ResourceInfo, ResourceTracker};
pub use cloner::Cloner;
pub use component::{
    component, AnyComponent, BoxSpec, Component, FnComponent, DEFAULT_INBOXES, DEFAULT_OUTBOXES,
};
pub use ctx::{Ctx, RemoteWaker};
pub use error::{
    BoxKind, ComponentError, ComponentResult, Error, NoSpaceInBox, NoSuchBox, RecvError, SendError,
};
pub use handle::{Background, Handle, HANDLE_QUEUE};
pub use ids::{next_id, ComponentId, ComponentName};
pub use introspector::{Introspector, LinkInfo, NodeInfo, Topology};
pub use linkage::{Linkage, Passthrough};
pub use message::{Message, WrongType};
pub use scheduler::{RunReport, Scheduler, StopHandle};
pub use threaded::{ThreadCtx, Threaded, ThreadedComponent, DEFAULT_QUEUE_LENGTH};
pub use world::Failure;

/// For unit tests: a seeded xorshift64 stream of numbers below the `n` given to each call.
#[cfg(test)]
pub(crate) fn test_rng(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}
