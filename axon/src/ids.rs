//! Identities: the process-wide id counter (Kamaelia's `idGen`) and component ids.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Takes the next number from the process-wide counter. The first number handed out is 1, and
/// no two calls return the same number (Kamaelia's `idGen.numId`).
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed) + 1
}

/// Names a component within one scheduler.
///
/// A `ComponentId` is a small copyable handle. It stays valid after the component ends: calls
/// that need a live component then return [`Error::NoSuchComponent`](crate::Error), and
/// [`Ctx::is_stopped`](crate::Ctx::is_stopped) answers true. Ids are never confused between
/// schedulers or with a later component that reuses the same slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub(crate) sched: u32,
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl fmt::Debug for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentId({}:{}.{})", self.sched, self.index, self.gen)
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.gen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_positive() {
        let a = next_id();
        let b = next_id();
        assert!(a >= 1);
        assert_ne!(a, b);
    }
}
