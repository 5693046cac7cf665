//! Linkages: the record of one link between two boxes (Kamaelia's `linkage`).

use std::fmt;

use crate::error::BoxKind;
use crate::ids::ComponentId;

/// Which kinds of box a linkage joins (Kamaelia's `passthrough` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Passthrough {
    /// `passthrough=0`: an outbox to an inbox, the ordinary link.
    #[default]
    Normal,
    /// `passthrough=1`: an inbox to an inbox. A parent hands one of its inboxes to a child.
    Inbound,
    /// `passthrough=2`: an outbox to an outbox. A child's outbox comes out of its parent's.
    Outbound,
}

impl Passthrough {
    /// The kinds of the source box and the sink box.
    pub fn box_kinds(self) -> (BoxKind, BoxKind) {
        match self {
            Passthrough::Normal => (BoxKind::Outbox, BoxKind::Inbox),
            Passthrough::Inbound => (BoxKind::Inbox, BoxKind::Inbox),
            Passthrough::Outbound => (BoxKind::Outbox, BoxKind::Outbox),
        }
    }

    /// Kamaelia's number for this kind: 0, 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            Passthrough::Normal => 0,
            Passthrough::Inbound => 1,
            Passthrough::Outbound => 2,
        }
    }
}

/// A link between two boxes, as returned by [`Ctx::link`](crate::Ctx::link).
///
/// Keep it to [`Ctx::unlink`](crate::Ctx::unlink) it later. Its `Display` is Kamaelia's:
///
/// ```
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let a = root.create(component("A", |_| async { Ok(()) }));
/// let b = root.create(component("B", |_| async { Ok(()) }));
/// let l = root.link((a, "signal"), (b, "control")).unwrap();
/// let text = l.to_string();
/// assert!(text.starts_with("Link( source:[A_"));
/// assert!(text.ends_with(",control] )"));
/// assert_eq!(l.source_pair(), (a, "signal"));
/// assert_eq!(l.sink_pair(), (b, "control"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linkage {
    pub(crate) sched: u32,
    pub(crate) index: u32,
    pub(crate) gen: u32,
    pub(crate) source: ComponentId,
    pub(crate) source_box: String,
    pub(crate) sink: ComponentId,
    pub(crate) sink_box: String,
    pub(crate) passthrough: Passthrough,
    pub(crate) source_name: String,
    pub(crate) sink_name: String,
}

impl Linkage {
    /// The source component and box.
    pub fn source_pair(&self) -> (ComponentId, &str) {
        (self.source, &self.source_box)
    }
    /// The sink component and box.
    pub fn sink_pair(&self) -> (ComponentId, &str) {
        (self.sink, &self.sink_box)
    }
    /// The kind of link.
    pub fn passthrough(&self) -> Passthrough {
        self.passthrough
    }
}

impl fmt::Display for Linkage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Link( source:[{},{}], sink:[{},{}] )",
            self.source_name, self.source_box, self.sink_name, self.sink_box
        )
    }
}
