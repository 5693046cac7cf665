//! # Axon: Kamaelia's component model in Rust
//!
//! (Crate guide in progress: see the sections below.)
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod component;
mod ctx;
mod error;
mod handle;
mod ids;
mod introspector;
pub mod ipc;
mod linkage;
mod message;
mod postbox;
mod registry;
mod remote;
mod scheduler;
mod threaded;
mod world;

pub use component::{
    component, BoxSpec, Component, FnComponent, DEFAULT_INBOXES, DEFAULT_OUTBOXES,
};
pub use ctx::Ctx;
pub use error::{
    BoxKind, ComponentError, ComponentResult, Error, NoSpaceInBox, NoSuchBox, RecvError, SendError,
};
pub use handle::{Background, Handle};
pub use ids::{next_id, ComponentId};
pub use introspector::{Introspector, LinkInfo, NodeInfo, Topology};
pub use linkage::{Linkage, Passthrough};
pub use message::{Message, Payload, WrongType};
pub use scheduler::{RunReport, Scheduler, StopHandle};
pub use threaded::{ThreadCtx, Threaded, ThreadedComponent, DEFAULT_QUEUE_LENGTH};
pub use world::Failure;
