//! Copies of messages. A [`Message`] holds any `Send` value and so cannot be cloned; a
//! [`Cloner`] copies the types it has been taught (the common ones from the start), for the
//! components that send one item to several places: Fanout, Backplane, Graphline's control
//! fan-out.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::ipc;
use crate::message::Message;

/// How to copy one type: its id, a test for it, and the copy itself.
#[derive(Clone, Copy)]
struct Entry {
    id: TypeId,
    is: fn(&Message) -> bool,
    copy: fn(&Message) -> Option<Message>,
}

impl Entry {
    fn of<T: Clone + Send + 'static>() -> Entry {
        Entry {
            id: TypeId::of::<T>(),
            is: |m| m.is::<T>(),
            copy: |m| m.downcast_ref::<T>().map(|v| Message::new(v.clone())),
        }
    }
}

/// Copies messages of the types it knows, for components that send one item to several
/// places: Fanout, Backplane, Graphline (see [`Cloner::standard`]).
///
/// ```
/// use axon::Cloner;
/// use axon::Message;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Reading(f64);
///
/// let cloner = Cloner::new().with::<Reading>();
/// let m = Message::new(Reading(1.5));
/// let copy = cloner.try_clone(&m).unwrap();
/// assert_eq!(copy.downcast::<Reading>().unwrap(), Reading(1.5));
///
/// // Common types are known from the start; others are not.
/// assert!(Cloner::new().can_clone(&Message::new(String::from("text"))));
/// assert!(!Cloner::new().can_clone(&Message::new(Reading(2.0))));
/// ```
#[derive(Clone)]
pub struct Cloner {
    /// What it can copy, by type name (names are not guaranteed unique, so each entry still
    /// checks the type).
    by_type: HashMap<&'static str, Vec<Entry>>,
}

impl Cloner {
    /// A cloner for the common message types: `()`, `bool`, `char`, every integer and float
    /// type, `String`, `&'static str`, `Box<str>`, `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`,
    /// `Vec<String>`, `PathBuf`, `Duration`, `Arc<str>`, `Arc<[u8]>`, `Arc<String>`,
    /// `Arc<Vec<u8>>`, `(String, Vec<u8>)`, `(String, String)`, and Axon's IPC messages
    /// (`ProducerFinished`, `ShutdownMicroprocess`, `Shutdown`, `Status`, `WouldBlock`,
    /// `ErrorInformation`, `NewComponent`).
    pub fn new() -> Cloner {
        use std::sync::Arc;
        let mut c = Cloner {
            by_type: HashMap::new(),
        };
        c.add::<()>();
        c.add::<bool>();
        c.add::<char>();
        c.add::<u8>();
        c.add::<u16>();
        c.add::<u32>();
        c.add::<u64>();
        c.add::<u128>();
        c.add::<usize>();
        c.add::<i8>();
        c.add::<i16>();
        c.add::<i32>();
        c.add::<i64>();
        c.add::<i128>();
        c.add::<isize>();
        c.add::<f32>();
        c.add::<f64>();
        c.add::<String>();
        c.add::<&'static str>();
        c.add::<Box<str>>();
        c.add::<Vec<u8>>();
        c.add::<Box<[u8]>>();
        c.add::<&'static [u8]>();
        c.add::<Vec<String>>();
        c.add::<std::path::PathBuf>();
        c.add::<std::time::Duration>();
        c.add::<Arc<str>>();
        c.add::<Arc<[u8]>>();
        c.add::<Arc<String>>();
        c.add::<Arc<Vec<u8>>>();
        c.add::<(String, Vec<u8>)>();
        c.add::<(String, String)>();
        c.add::<ipc::ProducerFinished>();
        c.add::<ipc::ShutdownMicroprocess>();
        c.add::<ipc::Shutdown>();
        c.add::<ipc::Status>();
        c.add::<ipc::WouldBlock>();
        c.add::<ipc::ErrorInformation>();
        c.add::<ipc::NewComponent>();
        c
    }

    /// This cloner, also copying `T`.
    pub fn with<T: Clone + Send + 'static>(mut self) -> Cloner {
        self.add::<T>();
        self
    }

    /// Teaches this cloner to copy `T` (adding a type twice does nothing).
    pub fn add<T: Clone + Send + 'static>(&mut self) {
        let entries = self.by_type.entry(std::any::type_name::<T>()).or_default();
        if !entries.iter().any(|e| e.id == TypeId::of::<T>()) {
            entries.push(Entry::of::<T>());
        }
    }

    /// A copy of `m`, or `None` if this cloner does not know its type.
    pub fn try_clone(&self, m: &Message) -> Option<Message> {
        self.by_type
            .get(m.type_name())?
            .iter()
            .find_map(|e| (e.copy)(m))
    }

    /// True if this cloner can copy `m` (without copying it).
    pub fn can_clone(&self, m: &Message) -> bool {
        self.by_type
            .get(m.type_name())
            .is_some_and(|entries| entries.iter().any(|e| (e.is)(m)))
    }

    /// `n` messages for `n` destinations: `n - 1` copies and the original last. Gives the
    /// message back if this cloner cannot copy it (checked even when `n` is 1, so that a
    /// missing type shows at once, not when a second destination appears).
    pub(crate) fn copies(&self, m: Message, n: usize) -> Result<Vec<Message>, Message> {
        if !self.can_clone(&m) {
            return Err(m);
        }
        let mut out = Vec::with_capacity(n);
        for _ in 1..n {
            match self.try_clone(&m) {
                Some(c) => out.push(c),
                None => return Err(m),
            }
        }
        if n > 0 {
            out.push(m);
        }
        Ok(out)
    }

    /// The error for an item this cloner cannot copy, for the component `who`.
    pub(crate) fn refusal(m: &Message, who: &str, fix: &str) -> String {
        format!(
            "{who} cannot copy a {} for its destinations: add the type with {fix}",
            m.type_name()
        )
    }
}

impl Default for Cloner {
    /// Same as [`Cloner::new`].
    fn default() -> Cloner {
        Cloner::new()
    }
}

impl fmt::Debug for Cloner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.by_type.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("Cloner").field("types", &names).finish()
    }
}

impl Cloner {
    /// The shared cloner of the common types (what [`Cloner::new`] knows), made once.
    pub fn standard() -> &'static Cloner {
        static STANDARD: OnceLock<Cloner> = OnceLock::new();
        STANDARD.get_or_init(Cloner::new)
    }
}
