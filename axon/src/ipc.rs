//! The IPC messages (Kamaelia's `Axon.Ipc`): what components tell each other about their
//! lives, mostly on the `control` and `signal` boxes.
//!
//! The convention: a component is told to stop by a message on its `control` inbox.
//! [`ProducerFinished`] means "no more data is coming: finish what you hold, then stop";
//! [`ShutdownMicroprocess`] means "stop now". On stopping, a component sends the message it
//! received (or its own) out of `signal`, so that wiring `signal` to the next component's
//! `control` makes a shutdown cascade. [`Shutdown`] is Kamaelia's legacy form of
//! `ShutdownMicroprocess`, honoured the same way.
//!
//! ```
//! use axon::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess, StopKind};
//! use axon::Message;
//!
//! assert_eq!(stop_kind(&Message::new(ProducerFinished::default())), Some(StopKind::Finish));
//! assert_eq!(stop_kind(&Message::new(ShutdownMicroprocess::default())), Some(StopKind::Now));
//! assert_eq!(stop_kind(&Message::new("hello")), None);
//! ```

use crate::ids::ComponentId;
use crate::message::Message;

/// "I have finished producing": the clean end of a stream (Kamaelia's `producerFinished`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerFinished {
    /// The component that finished, if it says.
    pub caller: Option<ComponentId>,
    /// An optional note.
    pub message: Option<String>,
}

impl ProducerFinished {
    /// From a named component.
    pub fn from(caller: ComponentId) -> ProducerFinished {
        ProducerFinished {
            caller: Some(caller),
            message: None,
        }
    }
}

/// "Stop now" (Kamaelia's `shutdownMicroprocess`), optionally naming whom.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownMicroprocess {
    /// The components meant (Kamaelia's `microprocesses()`); empty means "whoever gets this".
    pub microprocesses: Vec<ComponentId>,
}

/// Kamaelia's legacy `shutdown` message; honoured as [`ShutdownMicroprocess`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shutdown;

/// A notification with a payload (Kamaelia's `notify(caller, payload)`).
#[derive(Debug)]
pub struct Notify {
    /// Who notifies.
    pub caller: ComponentId,
    /// What about (Kamaelia's `.object`).
    pub payload: Message,
}

/// A status report (Kamaelia's `status(status)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status(pub String);

/// "I would have blocked" (Kamaelia's `wouldblock(caller)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WouldBlock {
    /// Who would have blocked.
    pub caller: ComponentId,
}

/// Something went wrong in a component (Kamaelia's `errorInformation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInformation {
    /// The component concerned.
    pub caller: ComponentId,
    /// The error, as text.
    pub exception: Option<String>,
    /// A note.
    pub message: Option<String>,
}

/// Components to activate (Kamaelia's `newComponent`). In Rust a component activates another
/// with [`Ctx::activate`](crate::Ctx::activate); this message type exists for components that
/// ask a parent to do it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewComponent {
    /// The components (Kamaelia's `components()`).
    pub components: Vec<ComponentId>,
}

/// How urgently a control message asks a component to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// [`ProducerFinished`]: finish the work in hand, then stop.
    Finish,
    /// [`ShutdownMicroprocess`] or [`Shutdown`]: stop at once.
    Now,
}

/// Says whether a message asks its receiver to stop, and how.
pub fn stop_kind(m: &Message) -> Option<StopKind> {
    if m.is::<ProducerFinished>() {
        Some(StopKind::Finish)
    } else if m.is::<ShutdownMicroprocess>() || m.is::<Shutdown>() {
        Some(StopKind::Now)
    } else {
        None
    }
}
