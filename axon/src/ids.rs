//! Identities: the process-wide id counter (Kamaelia's `idGen`) and component ids.

use std::borrow::Cow;
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

/// A component's name: its label and its process-wide number, shown as `Label_<n>` (Kamaelia's
/// `name`). Cheap to make and to clone for labels known at compile time, so errors can carry
/// one on hot paths.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ComponentName {
    label: Cow<'static, str>,
    number: u64,
}

impl ComponentName {
    pub(crate) fn new(label: Cow<'static, str>, number: u64) -> ComponentName {
        ComponentName { label, number }
    }
    /// The label: the type's name, or the one the component gave.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The process-wide number (see [`next_id`]).
    pub fn number(&self) -> u64 {
        self.number
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.label, self.number)
    }
}

impl PartialEq<str> for ComponentName {
    fn eq(&self, other: &str) -> bool {
        other
            .strip_prefix(self.label.as_ref())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|n| n == self.number.to_string())
    }
}

impl PartialEq<&str> for ComponentName {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for ComponentName {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_with_their_text() {
        let n = ComponentName::new("Relay".into(), 12);
        assert_eq!(n.to_string(), "Relay_12");
        assert!(n == "Relay_12");
        assert!(n != "Relay_1");
        assert!(n != "Relax_12");
    }

    #[test]
    fn ids_are_unique_and_positive() {
        let a = next_id();
        let b = next_id();
        assert!(a >= 1);
        assert_ne!(a, b);
    }
}
