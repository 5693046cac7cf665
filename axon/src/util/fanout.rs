//! `Fanout`: copies each item to several outboxes (Kamaelia's `Kamaelia.Util.Fanout.Fanout`),
//! and [`Cloner`], how messages are copied for it and for the
//! [`Backplane`](crate::util::backplane::Backplane).
//!
//! # Copying messages
//!
//! A Kamaelia message is any Python object, and fanning one out sends the *same* object to
//! every destination. A Rust [`Message`] is moved, never shared, so each destination needs a
//! copy of its own. A [`Cloner`] knows how to copy the message types it was told about: the
//! common ones (strings, byte vectors, numbers, `Arc`s of text and bytes, Axon's IPC messages,
//! ...; see [`Cloner::new`]) plus any `T: Clone` added with [`Cloner::with`] (or the
//! components' `cloning::<T>()`). For big payloads, send an `Arc<T>`: its copies share the
//! data, as Kamaelia's do.
//!
//! A component that fans out refuses an item its cloner cannot copy, whatever the number of
//! destinations at that moment: the component fails with an error naming the type and the
//! fix. (Failing only once a second destination appears would hide the mistake until then.)
//!
//! # Differences from Kamaelia's `Fanout`
//!
//! - Kamaelia copies each item to every outbox it has, **including `signal`** (spec (f)11).
//!   Here data never goes to `signal`, which carries only shutdown signalling; it still goes
//!   to `outbox` as in Kamaelia (whose box description says "NOT USED").
//! - Items are copied with a [`Cloner`] (see above), not shared.
//! - It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule):
//!   Kamaelia's stops at once on `producerFinished` or `shutdownMicroprocess` (after fanning
//!   out what is waiting, since it reads `inbox` first) and ignores `shutdown`. Here
//!   `ProducerFinished` fans out what is waiting first, and `ShutdownMicroprocess` or
//!   `Shutdown` stop at once. Other control messages are ignored, as in Kamaelia.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ipc;
use crate::message::Message;
use crate::util::pass_through::{read_control, Control};

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
/// places (see the [module documentation](self)).
///
/// ```
/// use axon::util::fanout::Cloner;
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

/// Copies each item on `inbox` to `outbox` and to every outbox it is given (Kamaelia's
/// `Fanout(boxnames)`).
///
/// Items are copied with a [`Cloner`]; add your own types with
/// [`cloning`](Fanout::cloning). An item of a type the cloner does not know makes the
/// component fail, naming the type. Data never goes to `signal` (Kamaelia's did; see the
/// [module documentation](self)). It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
///
/// Boxes: `inbox` ("Data to be fanned out"), `control` ("Shutdown signalling"), `outbox`
/// and each named box ("Copy of data received at 'inbox' inbox"), `signal` ("Shutdown
/// signalling"). Names repeated, and the names `outbox` and `signal`, add no box.
///
/// ```
/// use axon::ipc::ShutdownMicroprocess;
/// use axon::util::fanout::Fanout;
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let fan = root.spawn(Fanout::new(["left", "right"]));
/// // Two sinks that never run; the test reads their inboxes.
/// let left = root.create(component("Left", |_| async { Ok(()) }));
/// let right = root.create(component("Right", |_| async { Ok(()) }));
/// root.link((root.id(), "outbox"), (fan, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (fan, "control")).unwrap();
/// root.link((fan, "left"), (left, "inbox")).unwrap();
/// root.link((fan, "right"), (right, "inbox")).unwrap();
/// root.link((fan, "outbox"), (root.id(), "inbox")).unwrap();
///
/// root.send(String::from("news"), "outbox").unwrap();
/// sched.run(); // it fans out, then waits for more
/// assert_eq!(sched.ctx(left).recv_as::<String>("inbox").unwrap(), "news");
/// assert_eq!(sched.ctx(right).recv_as::<String>("inbox").unwrap(), "news");
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "news");
///
/// root.send(ShutdownMicroprocess::default(), "signal").unwrap();
/// assert_eq!(sched.run().failures.len(), 0);
/// assert_eq!(sched.live(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Fanout {
    boxnames: Vec<String>,
    cloner: Cloner,
}

impl Fanout {
    /// A fanout to `outbox` and the outboxes named, copying with [`Cloner::new`].
    pub fn new<I, S>(boxnames: I) -> Fanout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = Vec::new();
        for n in boxnames {
            let n = n.into();
            if n != "outbox" && n != "signal" && !names.contains(&n) {
                names.push(n);
            }
        }
        Fanout {
            boxnames: names,
            cloner: Cloner::new(),
        }
    }

    /// Also copies items of type `T`.
    pub fn cloning<T: Clone + Send + 'static>(mut self) -> Fanout {
        self.cloner.add::<T>();
        self
    }

    /// Copies with `cloner` instead.
    pub fn with_cloner(mut self, cloner: Cloner) -> Fanout {
        self.cloner = cloner;
        self
    }

    /// The outboxes each item goes to, in order: `outbox`, then the named ones.
    pub fn destinations(&self) -> Vec<&str> {
        std::iter::once("outbox")
            .chain(self.boxnames.iter().map(String::as_str))
            .collect()
    }
}

const FANOUT_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Data to be fanned out"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const COPY: &str = "Copy of data received at 'inbox' inbox";

impl Component for Fanout {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        FANOUT_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        let mut boxes = vec![
            BoxSpec::new("outbox", COPY),
            BoxSpec::new("signal", "Shutdown signalling"),
        ];
        boxes.extend(
            self.boxnames
                .iter()
                .map(|n| BoxSpec::owned(n.clone(), COPY)),
        );
        boxes.into()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let destinations = self.destinations();
        loop {
            let control = read_control(&ctx, |_| Ok(()))?;
            if let Control::Now(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            while let Ok(item) = ctx.recv("inbox") {
                let copies = self
                    .cloner
                    .copies(item, destinations.len())
                    .map_err(|m| Cloner::refusal(&m, "Fanout", "Fanout::cloning::<T>()"))?;
                for (m, outbox) in copies.into_iter().zip(&destinations) {
                    ctx.send(m, outbox)?;
                }
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
