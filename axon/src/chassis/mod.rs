//! Chassis: components that hold and wire other components (Kamaelia's `Kamaelia.Chassis`).
//!
//! - [`Pipeline`](pipeline): children in a row, outbox to inbox and signal to control.
//! - [`Graphline`](graphline): children wired by a map of linkages.
//! - [`Carousel`](carousel): one child at a time, replaced on request.
//! - [`Seq`](seq): children one after another.

pub mod carousel;
pub mod graphline;
pub mod pipeline;
pub mod seq;
