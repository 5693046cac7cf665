//! `Ctx`: everything a component does, it does through its context.

use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::component::Component;
use crate::error::{BoxKind, Error, RecvError, SendError};
use crate::ids::{ComponentId, ComponentName};
use crate::linkage::{Linkage, Passthrough};
use crate::message::Message;
use crate::postbox::{BoxId, PostBox};
use crate::scheduler::{create_in, Core, YieldNow};
use crate::world::{State, World};

/// A component's view of its scheduler: its boxes, its children, linkages, services.
///
/// Each component's body receives its own `Ctx`. Every method acts *as* that component: a
/// send goes out of its outbox, a linkage it makes is undone when it ends, and so on. The
/// names follow Kamaelia's in Rust case (`dataReady` is [`data_ready`](Ctx::data_ready),
/// `addChildren` is [`add_children`](Ctx::add_children), ...).
///
/// A `Ctx` is cheap to clone and belongs to the scheduler's thread.
///
/// Laid out in the order a hop reads it (`repr(C)`): the scheduler's core, the component, its
/// name (for an empty `recv`), then the box cache, whose entries for `inbox` and `outbox`
/// come first, so that a receive loop and a send read as few of its lines as can be.
#[derive(Clone)]
#[repr(C)]
pub struct Ctx {
    core: Rc<Core>,
    me: ComponentId,
    /// This component's name, read from its world on first need and kept: an empty `recv`
    /// (the usual end of a receive loop) names the component without reading its slot.
    name: std::cell::OnceCell<ComponentName>,
    /// The boxes this context looked up lately, by name, remembered by address: see
    /// [`BoxCache`].
    cache: BoxCache,
}

/// The last few box lookups of a context. Kamaelia's four standard boxes (inbox, control,
/// outbox, signal) each have a fixed entry, so a literal standard name finds its entry at
/// compile time: (box epoch, box, final box of its chain), an epoch of 0 meaning empty (the
/// box epoch is never 0). Other names go to a small table made on first use (most components
/// never need it). Each of its entries is the name itself (up to [`CACHED_NAME`] bytes,
/// zero-padded, compared as three words), a key packing its length and kind, the box epoch,
/// and the two boxes. Keying by content, not by address, keeps a name that reuses the memory
/// of an earlier, different name from hitting the earlier entry.
///
/// Boxes are remembered by address ([`Boxes::ptr`](crate::postbox::Boxes::ptr)): an address
/// taken at one box epoch is valid while the epoch has not moved, and every entry is used
/// only after its epoch is compared with the world's.
#[derive(Clone, Default)]
#[repr(C)]
struct BoxCache {
    standard: [Cell<(u64, Found)>; 4],
    other: std::cell::OnceCell<Box<OtherNames>>,
}

/// A box and the final box of its chain, by address.
#[derive(Clone, Copy)]
struct Found {
    boxp: *mut PostBox,
    sink: *mut PostBox,
}

impl Default for Found {
    fn default() -> Found {
        Found {
            boxp: std::ptr::null_mut(),
            sink: std::ptr::null_mut(),
        }
    }
}

#[derive(Clone, Default)]
struct OtherNames {
    keys: [Cell<u64>; 4],
    epochs: [Cell<u64>; 4],
    names: [Cell<[u64; 3]>; 4],
    boxes: [Cell<Found>; 4],
}

/// The fixed cache entry of a standard box name, if it is one.
#[inline(always)]
fn standard_slot(kind: BoxKind, name: &str) -> Option<usize> {
    match (kind, name) {
        (BoxKind::Inbox, "inbox") => Some(0),
        (BoxKind::Outbox, "outbox") => Some(1),
        (BoxKind::Inbox, "control") => Some(2),
        (BoxKind::Outbox, "signal") => Some(3),
        _ => None,
    }
}

/// A box name as a `Cow`: borrowed (no allocation) for the standard names, and found at
/// compile time for a literal one.
#[inline(always)]
pub(crate) fn box_name_cow(kind: BoxKind, name: &str) -> std::borrow::Cow<'static, str> {
    const STANDARD: [&str; 4] = ["inbox", "outbox", "control", "signal"];
    match standard_slot(kind, name) {
        Some(i) => std::borrow::Cow::Borrowed(STANDARD[i]),
        None => std::borrow::Cow::Owned(name.to_string()),
    }
}

/// Box `id` and the final box of its chain, by address.
fn found_in(w: &World, id: BoxId) -> Found {
    Found {
        boxp: w.boxes.ptr(id),
        sink: w.boxes.ptr(w.boxes.get(id).sink),
    }
}

/// Names longer than this are looked up without the cache.
const CACHED_NAME: usize = 24;

#[inline(always)]
fn name_words(name: &str) -> Option<[u64; 3]> {
    let bytes = name.as_bytes();
    if bytes.len() > CACHED_NAME {
        return None;
    }
    let mut buf = [0u8; CACHED_NAME];
    buf[..bytes.len()].copy_from_slice(bytes);
    let word = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some([word(0), word(1), word(2)])
}

#[inline(always)]
fn cache_key(len: usize, inbox: bool) -> u64 {
    // Bit 63 marks a used entry, so that the all-zero default never matches.
    (1 << 63) | ((len as u64) << 1) | inbox as u64
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ctx({})", self.name())
    }
}

impl Ctx {
    pub(crate) fn new(core: Rc<Core>, me: ComponentId) -> Ctx {
        Ctx {
            core,
            me,
            cache: Default::default(),
            name: Default::default(),
        }
    }

    /// Finds one of this component's boxes and the final box of its chain, through a small
    /// cache keyed by the name: a name hits every time after the first, until a box is freed
    /// or a chain changes (the box epoch moves).
    #[inline(always)]
    fn lookup(&self, w: &World, kind: BoxKind, name: &str) -> Option<Found> {
        let epoch = w.boxes.epoch;
        if let Some(i) = standard_slot(kind, name) {
            let (e, found) = self.cache.standard[i].get();
            if e == epoch {
                return Some(found);
            }
            let found = found_in(w, w.box_of(self.me, kind, name).ok()?);
            self.cache.standard[i].set((epoch, found));
            return Some(found);
        }
        let key = cache_key(name.len(), kind == BoxKind::Inbox);
        let words = name_words(name);
        if let (Some(words), Some(c)) = (words, self.cache.other.get()) {
            for i in 0..4 {
                if c.keys[i].get() == key && c.epochs[i].get() == epoch && c.names[i].get() == words
                {
                    return Some(c.boxes[i].get());
                }
            }
        }
        self.lookup_slow(w, kind, name, words, key)
    }

    #[inline(never)]
    fn lookup_slow(
        &self,
        w: &World,
        kind: BoxKind,
        name: &str,
        words: Option<[u64; 3]>,
        key: u64,
    ) -> Option<Found> {
        let found = found_in(w, w.box_of(self.me, kind, name).ok()?);
        if let Some(words) = words {
            // Replace the oldest entry: shift the others down, put the new one first.
            let c = self.cache.other.get_or_init(Default::default);
            for i in (1..4).rev() {
                c.keys[i].set(c.keys[i - 1].get());
                c.epochs[i].set(c.epochs[i - 1].get());
                c.names[i].set(c.names[i - 1].get());
                c.boxes[i].set(c.boxes[i - 1].get());
            }
            c.keys[0].set(key);
            c.epochs[0].set(w.boxes.epoch);
            c.names[0].set(words);
            c.boxes[0].set(found);
        }
        Some(found)
    }

    /// The error for a failed lookup.
    #[cold]
    #[inline(never)]
    fn lookup_error(&self, kind: BoxKind, name: &str) -> Error {
        let w = self.core.world.borrow();
        match w.box_of(self.me, kind, name) {
            Err(e) => e,
            Ok(_) => Error::NoSuchComponent(self.me.to_string()),
        }
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// This component's id.
    pub fn id(&self) -> ComponentId {
        self.me
    }

    /// This component's name: its label, `_`, and its process-wide number, e.g. `Relay_12`.
    pub fn name(&self) -> String {
        self.core.world.borrow().name_of(self.me)
    }

    /// The name of any component of this scheduler.
    pub fn name_of(&self, c: ComponentId) -> String {
        self.core.world.borrow().name_of(c)
    }

    // ----- boxes --------------------------------------------------------------------------

    /// Sends `msg` out of `outbox` (Kamaelia's `send(msg, box)`).
    ///
    /// The message goes straight to the final inbox of the linkage chain and wakes that
    /// inbox's owner. On an unlinked outbox it is dropped, as in Kamaelia (a `debug` log line
    /// says so). A full size-limited inbox, or a wrong box name, gives the message back in the
    /// error; sending never blocks.
    #[inline(always)]
    pub fn send<T: Send + 'static>(&self, msg: T, outbox: &str) -> Result<(), SendError> {
        let m = Message::new(msg);
        let mut w = self.core.world.borrow_mut();
        match self.lookup(&w, BoxKind::Outbox, outbox) {
            // SAFETY: `lookup` hands out addresses of the current epoch only.
            Some(found) => match unsafe { w.try_deliver_at(found.sink, m) } {
                Ok(()) => {
                    drop(w);
                    Ok(())
                }
                Err(m) => {
                    // SAFETY: as above.
                    let sink = unsafe { (*found.sink).id };
                    w.refuse(sink, m)
                }
            },
            None => {
                drop(w);
                let e = self.lookup_error(BoxKind::Outbox, outbox);
                Err(SendError::NoSuchBox(
                    no_such_box(e, self.me, BoxKind::Outbox, outbox),
                    m,
                ))
            }
        }
    }

    /// Takes the oldest message from `inbox` (Kamaelia's `recv`). Empty is an error, as
    /// Kamaelia's `IndexError`; check [`data_ready`](Ctx::data_ready) first or match on it.
    ///
    /// As in Kamaelia, on an inbox that passes through to a child's inbox this takes from
    /// the end of the chain.
    #[inline(always)]
    pub fn recv(&self, inbox: &str) -> Result<Message, RecvError> {
        let mut w = self.core.world.borrow_mut();
        if let Some(found) = self.lookup(&w, BoxKind::Inbox, inbox) {
            // SAFETY: `lookup` hands out addresses of the current epoch only.
            if let Some(m) = unsafe { w.collect_at(found.sink) } {
                drop(w);
                return Ok(m);
            }
            drop(w);
            return Err(self.empty_error(box_name_cow(BoxKind::Inbox, inbox)));
        }
        drop(w);
        Err(self.recv_error(inbox))
    }

    /// The error for an inbox that exists but is empty (the usual end of a
    /// `while let Ok(m) = ctx.recv(..)` loop): no second search of the box by name.
    #[cold]
    #[inline(never)]
    fn empty_error(&self, inbox: std::borrow::Cow<'static, str>) -> RecvError {
        RecvError::Empty {
            component: self.component_name(),
            inbox,
        }
    }

    /// Why [`recv`](Ctx::recv) found nothing: a wrong name, or an empty box.
    #[cold]
    #[inline(never)]
    fn recv_error(&self, inbox: &str) -> RecvError {
        let w = self.core.world.borrow();
        match w.box_of(self.me, BoxKind::Inbox, inbox) {
            Ok(_) => RecvError::Empty {
                component: self.component_name(),
                inbox: box_name_cow(BoxKind::Inbox, inbox),
            },
            Err(e) => RecvError::NoSuchBox(no_such_box(e, self.me, BoxKind::Inbox, inbox)),
        }
    }

    /// This component's name as a [`ComponentName`] (label and number).
    pub fn component_name(&self) -> ComponentName {
        if let Some(name) = self.name.get() {
            return name.clone();
        }
        let w = self.core.world.borrow();
        match w.comp(self.me) {
            // A component's label and number never change: kept for next time.
            Some(c) => self.name.get_or_init(|| c.component_name()).clone(),
            None => ComponentName::new(self.me.to_string().into(), 0),
        }
    }

    /// Takes the oldest message from `inbox` as a `T`. A message of another type stays
    /// consumed and is returned inside the error.
    pub fn recv_as<T: 'static>(&self, inbox: &str) -> Result<T, crate::ComponentError> {
        Ok(self.recv(inbox)?.downcast::<T>()?)
    }

    /// How many messages wait in `inbox`'s own storage (Kamaelia's `dataReady`). An inbox that
    /// passes through to another box always reads 0. A wrong name reads 0 and logs a warning;
    /// use [`try_data_ready`](Ctx::try_data_ready) to get the error.
    #[inline(always)]
    pub fn data_ready(&self, inbox: &str) -> usize {
        // SAFETY: the world is only read here, through calls that neither borrow it mutably
        // nor run code of the user's, and the reference is gone before this returns; a live
        // mutable borrow is refused (and then the ordinary borrow panics as usual).
        let Ok(w) = (unsafe { self.core.world.try_borrow_unguarded() }) else {
            let _ = self.core.world.borrow();
            unreachable!("the world is borrowed mutably");
        };
        match self.lookup(w, BoxKind::Inbox, inbox) {
            // SAFETY: `lookup` hands out addresses of the current epoch only.
            Some(found) => unsafe { (*found.boxp).storage.len() },
            None => {
                log::warn!("data_ready: {}", self.lookup_error(BoxKind::Inbox, inbox));
                0
            }
        }
    }

    /// [`data_ready`](Ctx::data_ready) with the error for a wrong box name.
    pub fn try_data_ready(&self, inbox: &str) -> Result<usize, Error> {
        let w = self.core.world.borrow();
        match self.lookup(&w, BoxKind::Inbox, inbox) {
            // SAFETY: `lookup` hands out addresses of the current epoch only.
            Some(found) => Ok(unsafe { (*found.boxp).storage.len() }),
            None => {
                drop(w);
                Err(self.lookup_error(BoxKind::Inbox, inbox))
            }
        }
    }

    /// The name of the first inbox, in declaration order, that holds data (Kamaelia's
    /// `anyReady`), or `None`.
    pub fn any_ready(&self) -> Option<String> {
        let w = self.core.world.borrow();
        let comp = w.comp(self.me)?;
        let ready = comp
            .boxes(BoxKind::Inbox)
            .find(|&(_, b)| !w.boxes.get(b).storage.is_empty())
            .map(|(s, _)| s.name.to_string());
        ready
    }

    /// Puts `msg` straight into this component's `inbox` (Kamaelia's `_deliver`, for tests and
    /// for code outside the scheduler).
    pub fn deliver<T: Send + 'static>(&self, msg: T, inbox: &str) -> Result<(), SendError> {
        let m = Message::new(msg);
        let mut w = self.core.world.borrow_mut();
        match self.lookup(&w, BoxKind::Inbox, inbox) {
            // SAFETY: `lookup` hands out addresses of the current epoch only.
            Some(found) => w.deliver_to_sink(unsafe { (*found.sink).id }, m),
            None => {
                drop(w);
                let e = self.lookup_error(BoxKind::Inbox, inbox);
                Err(SendError::NoSuchBox(
                    no_such_box(e, self.me, BoxKind::Inbox, inbox),
                    m,
                ))
            }
        }
    }

    /// Names of this component's inboxes, in declaration order.
    pub fn inboxes(&self) -> Vec<String> {
        let w = self.core.world.borrow();
        w.comp(self.me)
            .map(|c| c.box_names(BoxKind::Inbox))
            .unwrap_or_default()
    }

    /// Names of this component's outboxes, in declaration order.
    pub fn outboxes(&self) -> Vec<String> {
        let w = self.core.world.borrow();
        w.comp(self.me)
            .map(|c| c.box_names(BoxKind::Outbox))
            .unwrap_or_default()
    }

    /// Limits `inbox` to `size` messages, or lifts the limit with `None` (Kamaelia's
    /// `setInboxSize`). Only the final inbox of a chain limits sends. No box holds more than
    /// 2^31 messages: past that, a box without a limit refuses sends as if full.
    pub fn set_inbox_size(&self, inbox: &str, size: Option<usize>) -> Result<(), Error> {
        let mut w = self.core.world.borrow_mut();
        let b = w.box_of(self.me, BoxKind::Inbox, inbox)?;
        w.boxes.get_mut(b).set_limit(size);
        Ok(())
    }

    /// The size limit of `inbox`, if any.
    pub fn inbox_size(&self, inbox: &str) -> Result<Option<usize>, Error> {
        let w = self.core.world.borrow();
        let b = w.box_of(self.me, BoxKind::Inbox, inbox)?;
        Ok(w.boxes.get(b).limit())
    }

    /// True if a send through `outbox` would now fail for lack of space downstream.
    pub fn is_full(&self, outbox: &str) -> Result<bool, Error> {
        let w = self.core.world.borrow();
        let b = w.box_of(self.me, BoxKind::Outbox, outbox)?;
        let sink = w.boxes.get(w.boxes.get(b).sink);
        // A chain ending at an outbox drops what is sent: never full.
        Ok(sink.kind == BoxKind::Inbox && sink.storage.len() >= sink.cap as usize)
    }

    // ----- pause, yield, wake ---------------------------------------------------------------

    /// Asks the scheduler to pause this component (Kamaelia's `self.pause()`). It takes effect
    /// at the next [`yield_now`](Ctx::yield_now); a wake in the same cycle cancels it. A
    /// paused component runs again when a message reaches one of its inboxes, when a message
    /// it sent is collected, when a child ends, or when a timer or thread wakes it.
    pub fn pause(&self) {
        self.core.world.borrow_mut().pause(self.me);
    }

    /// Gives the other components their turn (Kamaelia's `yield 1`).
    pub fn yield_now(&self) -> impl std::future::Future<Output = ()> {
        YieldNow(false)
    }

    /// Pauses this component for at least `d`, letting the others run (a timer wakes it).
    pub async fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        self.core.world.borrow_mut().add_timer(until, self.me);
        while Instant::now() < until {
            self.pause();
            self.yield_now().await;
        }
    }

    /// Sets a timer that wakes this component at `at` (at once if `at` has passed), without
    /// pausing it: for a component that waits for messages *or* a deadline, whichever comes
    /// first. Each call adds a timer; a component looping on messages should set one only when
    /// its next deadline changes.
    ///
    /// ```
    /// use axon::{component, Scheduler};
    /// use std::time::{Duration, Instant};
    ///
    /// let sched = Scheduler::new();
    /// sched.spawn(component("Waiter", |ctx| async move {
    ///     let deadline = Instant::now() + Duration::from_millis(20);
    ///     ctx.wake_at(deadline);
    ///     // Wait for a message on inbox, or the deadline.
    ///     while ctx.data_ready("inbox") == 0 && Instant::now() < deadline {
    ///         ctx.pause();
    ///         ctx.yield_now().await;
    ///     }
    ///     assert!(Instant::now() >= deadline);
    ///     Ok(())
    /// }));
    /// assert!(sched.run().is_clean());
    /// ```
    pub fn wake_at(&self, at: Instant) {
        self.core.world.borrow_mut().add_timer(at, self.me);
    }

    /// Wakes another component (Kamaelia's `other.unpause()`).
    pub fn wake(&self, other: ComponentId) {
        self.core.world.borrow_mut().wake(other);
    }

    /// A handle that wakes this component from any thread: for threads, I/O pollers and other
    /// event sources outside the scheduler. While any clone of it exists the scheduler counts
    /// it as something that may still wake a component, so it waits (without spinning) rather
    /// than returning when every component is paused.
    pub fn remote_waker(&self) -> RemoteWaker {
        RemoteWaker {
            hold: Arc::new(self.core.remote.hold()),
            id: self.me,
        }
    }

    /// The time the current scheduler cycle started (Kamaelia's `scheduler.time`).
    pub fn scheduler_time(&self) -> Instant {
        self.core.world.borrow().time
    }

    /// Stops the whole scheduler at the end of this cycle (Kamaelia's `scheduler.stop()`).
    pub fn stop_scheduler(&self) {
        self.core.world.borrow_mut().stop_requested = true;
    }

    // ----- components and children -------------------------------------------------------

    /// Makes a component in this scheduler, with its boxes, without running it. Link it, then
    /// [`activate`](Ctx::activate) it.
    pub fn create<C: Component>(&self, c: C) -> ComponentId {
        create_in(&self.core, c)
    }

    /// Starts a component made with [`create`](Ctx::create); it first runs in the next cycle
    /// (Kamaelia's `activate()`, or yielding `newComponent`). Activating twice does nothing.
    pub fn activate(&self, c: ComponentId) -> Result<(), Error> {
        self.core.world.borrow_mut().activate(c)
    }

    /// [`create`](Ctx::create) then [`activate`](Ctx::activate).
    pub fn spawn<C: Component>(&self, c: C) -> ComponentId {
        let id = self.create(c);
        self.activate(id).expect("component was just created");
        id
    }

    /// Adopts components as children (Kamaelia's `addChildren`): this component is woken when
    /// any of them ends. It does not activate them.
    pub fn add_children(&self, children: &[ComponentId]) -> Result<(), Error> {
        let mut w = self.core.world.borrow_mut();
        for &c in children {
            w.live_comp(c)?;
        }
        for &c in children {
            let me = self.me;
            let already = w.comp(me).is_some_and(|m| m.children.contains(&c));
            if already {
                continue;
            }
            if let Some(m) = w.comp_mut(me) {
                m.children.push_new(c);
            }
            let child = w.comp_mut(c).expect("checked above");
            child.wake_on_end.push(me);
            if w.state(c) == Some(State::Ended) {
                w.wake(me);
            }
        }
        Ok(())
    }

    /// Gives up a child (Kamaelia's `removeChild`): forgets it, stops being woken by its end,
    /// and undoes every linkage this component made to or from it.
    pub fn remove_child(&self, child: ComponentId) {
        let mut w = self.core.world.borrow_mut();
        let me = self.me;
        if let Some(m) = w.comp_mut(me) {
            m.children.remove(&child);
        }
        if let Some(c) = w.comp_mut(child) {
            c.wake_on_end.retain(|&p| p != me);
        }
        w.unlink_component(me, child);
    }

    /// This component's children, in the order they were added (Kamaelia's
    /// `childComponents`).
    pub fn children(&self) -> Vec<ComponentId> {
        let w = self.core.world.borrow();
        w.comp(self.me)
            .map(|c| c.children.to_vec())
            .unwrap_or_default()
    }

    /// True once component `c` has ended (or was never of this scheduler).
    pub fn is_stopped(&self, c: ComponentId) -> bool {
        let w = self.core.world.borrow();
        w.state(c).is_none_or(|state| state == State::Ended)
    }

    /// True if component `c` is activated and paused.
    pub fn is_paused(&self, c: ComponentId) -> bool {
        let w = self.core.world.borrow();
        matches!(w.state(c), Some(State::Sleeping | State::GoingToSleep))
    }

    // ----- linkages -----------------------------------------------------------------------

    /// Links an outbox to an inbox (Kamaelia's `link((a, "outbox"), (b, "inbox"))`).
    /// Any component may link any boxes; the linkage belongs to this component and is undone
    /// when it ends. Messages already waiting move along the new link.
    pub fn link(
        &self,
        source: (ComponentId, &str),
        sink: (ComponentId, &str),
    ) -> Result<Linkage, Error> {
        self.link_with(source, sink, Passthrough::Normal, None)
    }

    /// Links with a passthrough kind and, optionally, a pipe width: a size limit set on the
    /// sink box (Kamaelia's `pipewidth`), which limits sends while that box ends its chain.
    pub fn link_with(
        &self,
        source: (ComponentId, &str),
        sink: (ComponentId, &str),
        passthrough: Passthrough,
        pipewidth: Option<usize>,
    ) -> Result<Linkage, Error> {
        self.core
            .world
            .borrow_mut()
            .link(self.me, source, sink, passthrough, pipewidth)
    }

    /// Undoes a linkage this component made (Kamaelia's `unlink(thelinkage=L)`). Returns
    /// false, changing nothing, if it was already undone or another component made it: as in
    /// Kamaelia, each component undoes only its own linkages.
    pub fn unlink(&self, linkage: &Linkage) -> bool {
        self.core.world.borrow_mut().unlink(self.me, linkage)
    }

    /// Undoes every linkage this component made to or from `c` (Kamaelia's
    /// `unlink(thecomponent=c)`).
    pub fn unlink_component(&self, c: ComponentId) {
        self.core.world.borrow_mut().unlink_component(self.me, c);
    }

    /// The linkages this component made and that are still in place.
    pub fn linkages(&self) -> Vec<Linkage> {
        self.core.world.borrow().linkages_made_by(self.me)
    }

    /// True if the linkage is still in place.
    pub fn is_linked(&self, linkage: &Linkage) -> bool {
        self.core.world.borrow().is_linked(linkage)
    }

    // ----- adaptive comms -------------------------------------------------------------------

    /// Adds an inbox named `base`, or `base<n>` if that is taken, and returns the name made
    /// (Kamaelia's `addInbox`). Always use the returned name.
    pub fn add_inbox(&self, base: &str) -> Result<String, Error> {
        self.core
            .world
            .borrow_mut()
            .add_box(self.me, BoxKind::Inbox, base)
    }

    /// Adds an outbox; see [`add_inbox`](Ctx::add_inbox).
    pub fn add_outbox(&self, base: &str) -> Result<String, Error> {
        self.core
            .world
            .borrow_mut()
            .add_box(self.me, BoxKind::Outbox, base)
    }

    /// Deletes an inbox (Kamaelia's `deleteInbox`). Linkages that touch it are undone first,
    /// and the messages still in it are handed back rather than lost.
    pub fn delete_inbox(&self, name: &str) -> Result<Vec<Message>, Error> {
        let left = self
            .core
            .world
            .borrow_mut()
            .delete_box(self.me, BoxKind::Inbox, name)?;
        Ok(left)
    }

    /// Deletes an outbox (Kamaelia's `deleteOutbox`), undoing linkages that touch it.
    pub fn delete_outbox(&self, name: &str) -> Result<(), Error> {
        self.core
            .world
            .borrow_mut()
            .delete_box(self.me, BoxKind::Outbox, name)?;
        Ok(())
    }

    // ----- services (the coordinating assistant tracker) ------------------------------------

    /// Registers `(component, inbox)` as the service `name` (Kamaelia's `registerService`).
    pub fn register_service(&self, name: &str, service: (ComponentId, &str)) -> Result<(), Error> {
        {
            let w = self.core.world.borrow();
            let comp = w.live_comp(service.0)?;
            if w.state(service.0) == Some(State::Ended) {
                return Err(Error::NoSuchComponent(comp.name()));
            }
            if comp.box_id(BoxKind::Inbox, service.1).is_err() {
                return Err(Error::BadInbox {
                    component: comp.name(),
                    inbox: service.1.to_string(),
                });
            }
        }
        self.core
            .registry
            .borrow_mut()
            .register(name, (service.0, service.1.to_string()))
    }

    /// The `(component, inbox)` registered as `name` (Kamaelia's `retrieveService`).
    pub fn retrieve_service(&self, name: &str) -> Result<(ComponentId, String), Error> {
        self.core.registry.borrow().retrieve(name)
    }

    /// Removes the service `name` (Kamaelia's `deRegisterService`).
    pub fn deregister_service(&self, name: &str) -> Result<(), Error> {
        self.core.registry.borrow_mut().deregister(name)
    }

    /// The names of the registered services.
    pub fn services(&self) -> Vec<String> {
        self.core.registry.borrow().service_names()
    }

    /// Starts tracking a named value (Kamaelia's `trackValue`).
    pub fn track_value<T: Any>(&self, name: &str, value: T) -> Result<(), Error> {
        self.core.registry.borrow_mut().track(name, Box::new(value))
    }

    /// Replaces a tracked value (Kamaelia's `updateValue`).
    pub fn update_value<T: Any>(&self, name: &str, value: T) -> Result<(), Error> {
        self.core
            .registry
            .borrow_mut()
            .update(name, Box::new(value))
    }

    /// A copy of a tracked value (Kamaelia's `retrieveValue`).
    pub fn retrieve_value<T: Any + Clone>(&self, name: &str) -> Result<T, Error> {
        self.core.registry.borrow().retrieve_value::<T>(name)
    }

    /// The names of the tracked values (Kamaelia's `informationItemsLogged`).
    pub fn tracked_values(&self) -> Vec<String> {
        self.core.registry.borrow().value_names()
    }
}

/// The `NoSuchBox` inside a lookup error; a dead component reads as having no boxes.
fn no_such_box(e: Error, me: ComponentId, kind: BoxKind, name: &str) -> crate::error::NoSuchBox {
    match e {
        Error::NoSuchBox(e) => e,
        _ => crate::error::NoSuchBox {
            component: me.to_string(),
            kind,
            name: name.to_string(),
            existing: Vec::new(),
        },
    }
}

/// Wakes one component from any thread; see [`Ctx::remote_waker`].
///
/// ```
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let (tx, rx) = std::sync::mpsc::channel();
/// sched.spawn(component("Waiter", move |ctx| async move {
///     let waker = ctx.remote_waker();
///     std::thread::spawn(move || {
///         std::thread::sleep(std::time::Duration::from_millis(20));
///         tx.send("from the thread").unwrap();
///         waker.wake();
///     });
///     loop {
///         if let Ok(text) = rx.try_recv() {
///             assert_eq!(text, "from the thread");
///             return Ok(());
///         }
///         ctx.pause();
///         ctx.yield_now().await;
///     }
/// }));
/// assert!(sched.run().is_clean());
/// ```
#[derive(Clone)]
pub struct RemoteWaker {
    hold: Arc<crate::remote::ExternalHold>,
    id: ComponentId,
}

impl RemoteWaker {
    /// Wakes the component (at the end of the scheduler's current cycle, or at once if the
    /// scheduler is waiting).
    pub fn wake(&self) {
        self.hold.0.wake(self.id);
    }

    /// The component this wakes.
    pub fn component(&self) -> ComponentId {
        self.id
    }
}

impl std::fmt::Debug for RemoteWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteWaker({:?})", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn what_a_receive_loop_and_a_send_read_comes_first() {
        // The core, the component, its name and the inbox and outbox entries of the cache:
        // the first 104 bytes, two lines at best.
        let entry = size_of::<Cell<(u64, Found)>>();
        let cache = offset_of!(Ctx, cache) + offset_of!(BoxCache, standard);
        let ends = [
            offset_of!(Ctx, core) + size_of::<Rc<Core>>(),
            offset_of!(Ctx, me) + size_of::<ComponentId>(),
            offset_of!(Ctx, name) + size_of::<std::cell::OnceCell<ComponentName>>(),
            cache + entry * (standard_slot(BoxKind::Inbox, "inbox").unwrap() + 1),
            cache + entry * (standard_slot(BoxKind::Outbox, "outbox").unwrap() + 1),
        ];
        assert!(ends.iter().all(|&e| e <= 104), "{ends:?}");
    }
}
