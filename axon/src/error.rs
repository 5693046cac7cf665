//! Errors. Each one names the component and the box it concerns; those that concern a message
//! hand the message back.

use std::fmt;

use crate::ids::ComponentName;
use crate::message::Message;
use std::borrow::Cow;

/// Which side of a component a box is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BoxKind {
    /// A box that receives messages (Kamaelia's `Inboxes`).
    Inbox,
    /// A box that sends messages (Kamaelia's `Outboxes`).
    Outbox,
}

impl fmt::Display for BoxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BoxKind::Inbox => "inbox",
            BoxKind::Outbox => "outbox",
        })
    }
}

/// A box name that the component does not have.
///
/// Happens on `send`, `recv`, `link` and the adaptive calls when the name is misspelt or the
/// box was deleted. The message lists the boxes the component does have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoSuchBox {
    /// The component's name, e.g. `Relay_12`.
    pub component: String,
    /// Inbox or outbox.
    pub kind: BoxKind,
    /// The name that was asked for.
    pub name: String,
    /// The boxes of that kind the component has.
    pub existing: Vec<String>,
}

impl fmt::Display for NoSuchBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component {} has no {} named {:?} (its {}es: {})",
            self.component,
            self.kind,
            self.name,
            self.kind,
            self.existing.join(", ")
        )
    }
}

impl std::error::Error for NoSuchBox {}

/// A send found the final inbox of its linkage chain full.
///
/// Happens for inboxes given a size limit with `set_inbox_size` (or a linkage made with a
/// pipe width), and for an inbox without a limit that already holds 2^31 messages, the most
/// any box can hold (`size` is then 2^31). The sender is never blocked: it gets the message
/// back with [`NoSpaceInBox::into_message`] and decides what to do (Kamaelia's
/// `noSpaceInBox`).
pub struct NoSpaceInBox {
    /// The component owning the full inbox.
    pub component: String,
    /// The full inbox.
    pub inbox: String,
    /// Its size limit (2^31, the most any box holds, for a box without a limit or with a
    /// larger one).
    pub size: usize,
    pub(crate) message: Message,
}

impl NoSpaceInBox {
    /// Gives back the message that was not delivered.
    pub fn into_message(self) -> Message {
        self.message
    }
}

impl fmt::Debug for NoSpaceInBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoSpaceInBox")
            .field("component", &self.component)
            .field("inbox", &self.inbox)
            .field("size", &self.size)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for NoSpaceInBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no space in inbox {:?} of component {} (size limit {}); the {} was not delivered",
            self.inbox,
            self.component,
            self.size,
            self.message.type_name()
        )
    }
}

impl std::error::Error for NoSpaceInBox {}

/// A send that did not deliver; the message is handed back.
#[derive(Debug)]
pub enum SendError {
    /// The final inbox is full.
    NoSpaceInBox(NoSpaceInBox),
    /// The sending component has no such outbox.
    NoSuchBox(NoSuchBox, Message),
}

impl SendError {
    /// Gives back the message that was not delivered.
    pub fn into_message(self) -> Message {
        match self {
            SendError::NoSpaceInBox(e) => e.message,
            SendError::NoSuchBox(_, m) => m,
        }
    }
    /// True if the send failed because the destination was full.
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::NoSpaceInBox(_))
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoSpaceInBox(e) => e.fmt(f),
            SendError::NoSuchBox(e, m) => write!(f, "cannot send a {}: {}", m.type_name(), e),
        }
    }
}

impl std::error::Error for SendError {}

/// A receive that found nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The box holds no message (Kamaelia raises `IndexError` here). Making this error
    /// allocates nothing for the standard boxes, so `while let Ok(m) = ctx.recv("inbox")` is
    /// cheap.
    Empty {
        /// The component's name.
        component: ComponentName,
        /// The inbox that was empty.
        inbox: Cow<'static, str>,
    },
    /// The component has no such inbox.
    NoSuchBox(NoSuchBox),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty { component, inbox } => {
                write!(f, "inbox {inbox:?} of component {component} is empty")
            }
            RecvError::NoSuchBox(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RecvError {}

/// Errors of linking, children, adaptive boxes and the service registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A box name the component does not have.
    NoSuchBox(NoSuchBox),
    /// A component id that names no live component of this scheduler (it ended and was freed,
    /// or belongs to another scheduler).
    NoSuchComponent(String),
    /// One outbox (or passthrough inbox) may feed only one destination.
    BoxAlreadyLinkedToDestination {
        /// The source box, as `component.box`.
        source: String,
        /// Where it already leads.
        existing: String,
        /// Where the new linkage wanted it to lead.
        requested: String,
    },
    /// `register_service` with a name already registered.
    ServiceAlreadyExists(String),
    /// `register_service` with an inbox the component does not have.
    BadInbox {
        /// The component.
        component: String,
        /// The missing inbox.
        inbox: String,
    },
    /// `retrieve_service` with a name that is not registered (Kamaelia's `KeyError`).
    ServiceNotFound(String),
    /// `deregister_service` with a name that is not registered.
    MultipleServiceDeletion(String),
    /// `track_value` with a name already tracked.
    NamespaceClash(String),
    /// `retrieve_value` or `update_value` with a name that is not tracked, or a value of
    /// another type.
    AccessToUndeclaredTrackedVariable(String),
    /// A Graphline whose components or linkage map do not fit together (an unknown or
    /// duplicate component name); says which.
    BadGraphline(String),
    /// A tracked resource that is not there.
    NoSuchResource(String),
    /// The scheduler this call needs has ended.
    SchedulerGone,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchBox(e) => e.fmt(f),
            Error::NoSuchComponent(c) => write!(f, "no live component {c} in this scheduler"),
            Error::BoxAlreadyLinkedToDestination {
                source,
                existing,
                requested,
            } => write!(
                f,
                "box {source} already leads to {existing}; it cannot also lead to {requested} \
                 (one to many is not allowed: use a Fanout or Backplane)"
            ),
            Error::ServiceAlreadyExists(n) => write!(f, "service {n:?} is already registered"),
            Error::BadInbox { component, inbox } => write!(
                f,
                "cannot register a service on inbox {inbox:?}: component {component} has no such inbox"
            ),
            Error::ServiceNotFound(n) => write!(f, "no service named {n:?} is registered"),
            Error::MultipleServiceDeletion(n) => {
                write!(f, "service {n:?} cannot be deregistered: it is not registered")
            }
            Error::NamespaceClash(n) => write!(f, "value {n:?} is already tracked"),
            Error::AccessToUndeclaredTrackedVariable(n) => {
                write!(f, "value {n:?} is not tracked (or not of the type asked for)")
            }
            Error::NoSuchResource(n) => write!(f, "no tracked resource for {n}"),
            Error::BadGraphline(reason) => write!(f, "bad Graphline: {reason}"),
            Error::SchedulerGone => write!(f, "the scheduler has ended"),
        }
    }
}

impl std::error::Error for Error {}

impl From<NoSuchBox> for Error {
    fn from(e: NoSuchBox) -> Error {
        Error::NoSuchBox(e)
    }
}

/// What a component's body returns when it fails: any error at all.
///
/// The scheduler ends the failing component alone, logs the error and lists it in the
/// [`RunReport`](crate::RunReport); the other components keep running.
pub type ComponentError = Box<dyn std::error::Error>;

/// The result of a component's body.
pub type ComponentResult = Result<(), ComponentError>;
