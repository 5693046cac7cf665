//! The I/O readiness service (Kamaelia's `Kamaelia.Internet.Selector`): wakes components when
//! their sockets are ready.
//!
//! # Design
//!
//! Kamaelia's `Selector` is a component that calls `select()` on behalf of the others: a
//! component sends it `newReader`/`newWriter` messages naming a socket and an inbox, and the
//! selector sends a message to that inbox whenever the socket is ready. In Rust the same job
//! is done without messages, without busy-waiting, and without a thread of its own:
//!
//! - A [`Selector`] owns a [`mio::Poll`] (an `epoll` instance on Linux), and **the scheduler
//!   polls it on its own thread**. There is one per scheduler, made on first use
//!   ([`Selector::for_scheduler`]) and kept by the scheduler's door for as long as the
//!   scheduler lives.
//! - A component registers a mio socket with [`Selector::register`], handing over a
//!   [`RemoteWaker`] for itself (from [`Ctx::remote_waker`]). Registration goes straight to
//!   the kernel through a cloned [`mio::Registry`]; the selector keeps a map from the mio
//!   [`Token`] to the waker and to a small set of readiness flags.
//! - **While components run**, the scheduler looks at the poll after each cycle (timeout 0,
//!   and at most every 20 µs, so that a run of very short cycles does not become a run of
//!   system calls), so that I/O is never starved by busy components. **When every component
//!   is paused**, the scheduler sleeps in `epoll_wait` itself, until a socket is ready, the
//!   next timer or selector deadline, or a message at its door (a thread, a
//!   [`Handle`](crate::Handle), a foreign waker, a stop). Before it sleeps it sets a
//!   "sleeping" flag; a message through the door then writes to the poll's [`mio::Waker`]
//!   (an `eventfd`), but only the first one after the flag was set: senders to a busy
//!   scheduler pay a fence and one atomic load.
//! - For each event the scheduler sets the flags ([`Readiness`]) and, when a flag goes from
//!   clear to set, wakes the component straight in its world: no message, no thread hop, no
//!   other thread woken by the kernel. The component takes the flags with
//!   [`Registration::take_ready`] when it runs, does its I/O until the socket says
//!   `WouldBlock`, then pauses. So a busy socket costs one wake per scheduler turn at most.
//! - Readiness is **edge-triggered** (mio's contract): after an event, the component must keep
//!   reading (or writing) until `WouldBlock`, or remember that it stopped early (for example
//!   because the component downstream is full) and try again later by itself.
//! - A registration may also carry a **deadline** ([`Registration::set_deadline`]): the poll
//!   sleeps no longer than the soonest one and, when it passes, the component is woken with
//!   [`Readiness::deadline_passed`] (connect timeouts, retrying a failed accept).
//! - While a [`Registration`] exists, its [`RemoteWaker`] exists, so the scheduler knows
//!   something may still wake a component: it *waits* (in the poll, without spinning)
//!   instead of returning when every component is paused. Dropping the registration drops
//!   the waker; with nothing left to wake anyone, [`Scheduler::run`](crate::Scheduler::run)
//!   returns.
//! - Readiness is gathered only while the scheduler runs ([`Scheduler::run`] or
//!   [`Scheduler::step`]): flags do not change between runs.
//! - The selector is recorded in the scheduler's registry (the coordinating assistant
//!   tracker) under [`SELECTOR_SERVICE`] (`"selector"`, Kamaelia's service name).
//! - [`Selector::new`] makes a **private** selector instead, with a poll thread of its own
//!   (named `axon-selector`) that wakes components through their doors (one thread hop per
//!   wake), for components of any scheduler; dropping its last handle and registration
//!   stops and joins the thread.
//!
//! ```text
//!  component                                    the scheduler's loop (same thread)
//!  ---------                                    ----------------------------------
//!  Selector::for_scheduler(&ctx)                loop {
//!  sel.register(&mut sock, R|W, waker) ──────>     run the run queue once
//!  loop {                                          epoll_wait(0)   (at most every 20 µs)
//!      reg.take_ready() -> Readiness  <──────        for event: flags |= R/W;
//!      read/write until WouldBlock                     if newly set: wake it in the world
//!      ctx.pause(); yield                          nothing runnable?
//!  }                                                 sleeping = true
//!                                                    epoll_wait(next timer or deadline)
//!  other threads: door.send(msg) ─────────────────>  <- eventfd, if sleeping was set
//!  drop(reg)  (waker dropped: the scheduler may return when idle)
//! ```
//!
//! [`Scheduler::run`]: crate::Scheduler::run
//! [`Scheduler::step`]: crate::Scheduler::step
//!
//! # Example
//!
//! A component that waits, without spinning, for a connection on a listening socket.
//!
//! ```
//! use axon::internet::selector::Selector;
//! use axon::{component, Scheduler};
//! use mio::{net::TcpListener, Interest};
//!
//! let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
//! let addr = listener.local_addr().unwrap();
//! let sched = Scheduler::new();
//! sched.spawn(component("Acceptor", move |ctx| async move {
//!     let selector = Selector::for_scheduler(&ctx)?;
//!     let reg = selector.register(&mut listener, Interest::READABLE, ctx.remote_waker())?;
//!     std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
//!     loop {
//!         reg.take_ready();
//!         match listener.accept() {
//!             Ok((_stream, peer)) => {
//!                 assert!(peer.ip().is_loopback());
//!                 reg.deregister(&mut listener)?;
//!                 return Ok(());
//!             }
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
//!             Err(e) => return Err(e.into()),
//!         }
//!         ctx.pause();
//!         ctx.yield_now().await;
//!     }
//! }));
//! // The registration keeps the scheduler waiting for the connection; once it is dropped
//! // and the component has ended, `run` returns.
//! assert!(sched.run().is_clean());
//! ```
//!
//! [`Ctx::remote_waker`]: crate::Ctx::remote_waker
//! [`RemoteWaker`]: crate::RemoteWaker

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Token};

use crate::ctx::{Ctx, RemoteWaker};
use crate::scheduler::Core;

/// The name under which a scheduler's selector is recorded in its registry (Kamaelia's
/// `"selector"` service).
pub const SELECTOR_SERVICE: &str = "selector";

/// The token of the selector's own [`mio::Waker`], used to rouse whoever sleeps in the poll.
const WAKE_TOKEN: Token = Token(0);

const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
const DEADLINE: u8 = 4;

/// Which ways a registered socket became ready since the last
/// [`take_ready`](Registration::take_ready).
///
/// An error or hang-up on the socket sets both flags, so that the next read or write reports
/// it.
///
/// ```
/// use axon::internet::selector::{Readiness, Selector};
/// use axon::Scheduler;
/// use mio::{net::TcpListener, Interest};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let reg = Selector::for_scheduler(&root)
///     .unwrap()
///     .register(&mut listener, Interest::READABLE, root.remote_waker())
///     .unwrap();
/// assert!(reg.take_ready().is_empty()); // nobody has connected
///
/// let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// // The scheduler gathers readiness as it runs.
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// let ready = loop {
///     sched.step(1);
///     let r = reg.take_ready();
///     if !r.is_empty() {
///         break r;
///     }
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// };
/// assert_eq!(ready, Readiness { readable: true, writable: false, deadline_passed: false });
/// assert!(reg.take_ready().is_empty()); // taking clears
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The socket may be read (or accepted from) without blocking, or has closed.
    pub readable: bool,
    /// The socket may be written without blocking, or has failed.
    pub writable: bool,
    /// The deadline set with [`Registration::set_deadline`] has passed.
    pub deadline_passed: bool,
}

impl Readiness {
    fn from_bits(bits: u8) -> Readiness {
        Readiness {
            readable: bits & READABLE != 0,
            writable: bits & WRITABLE != 0,
            deadline_passed: bits & DEADLINE != 0,
        }
    }

    /// True if no flag is set.
    pub fn is_empty(&self) -> bool {
        !self.readable && !self.writable && !self.deadline_passed
    }
}

/// What the selector keeps for one registered socket.
struct Entry {
    /// Readiness flags set by whoever polls, cleared by the component.
    ready: AtomicU8,
    /// Wakes the component that registered the socket.
    waker: RemoteWaker,
    /// When to wake the component even if the socket is not ready.
    deadline: Mutex<Option<Instant>>,
}

impl Entry {
    /// Sets readiness flags; true if one of them was clear (the component must be woken).
    fn signal(&self, bits: u8) -> bool {
        let before = self.ready.fetch_or(bits, Ordering::AcqRel);
        before & bits != bits
    }
}

/// A [`mio::Poll`] with what waiting on it needs: the buffer for its events, and the entries
/// to wake after a poll.
struct PollState {
    poll: Poll,
    events: Events,
    woken: Vec<Arc<Entry>>,
}

impl PollState {
    fn new(poll: Poll) -> PollState {
        PollState {
            poll,
            events: Events::with_capacity(1024),
            woken: Vec::new(),
        }
    }
}

/// The part of a selector shared by its handles, its registrations, and whoever polls it: the
/// scheduler (for a scheduler's selector, which its door keeps as long as the scheduler
/// lives) or the selector's own thread (for a [`Selector::new`]).
pub(crate) struct Poller {
    registry: mio::Registry,
    /// Rouses whoever sleeps in the poll.
    waker: mio::Waker,
    /// True while someone sleeps in the poll (or is about to): only then does [`rouse`]
    /// write to the waker, and only the first caller after the sleep began.
    ///
    /// [`rouse`]: Poller::rouse
    sleeping: AtomicBool,
    /// A private selector's thread stops when this is set.
    stop: AtomicBool,
    entries: Mutex<HashMap<usize, Arc<Entry>>>,
    /// Deadlines, soonest first. A cancelled or replaced deadline stays here until it is
    /// due, and is then ignored.
    timers: Mutex<BinaryHeap<Reverse<(Instant, usize)>>>,
    next_token: AtomicUsize,
    /// The poll, for a scheduler's selector; `None` for a private one, whose thread owns it.
    poll: Mutex<Option<PollState>>,
}

impl Poller {
    fn new() -> io::Result<(Poller, Poll)> {
        let poll = Poll::new()?;
        let poller = Poller {
            registry: poll.registry().try_clone()?,
            waker: mio::Waker::new(poll.registry(), WAKE_TOKEN)?,
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            entries: Mutex::new(HashMap::new()),
            timers: Mutex::new(BinaryHeap::new()),
            next_token: AtomicUsize::new(1),
            poll: Mutex::new(None),
        };
        Ok((poller, poll))
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<usize, Arc<Entry>>> {
        // A panic while the lock was held cannot leave the map half-changed (each change is
        // one insert or remove), so a poisoned lock is still usable.
        lock(&self.entries)
    }

    fn timers(&self) -> MutexGuard<'_, BinaryHeap<Reverse<(Instant, usize)>>> {
        lock(&self.timers)
    }

    /// Wakes whoever sleeps in the poll, if anyone does. Cheap when nobody sleeps (one
    /// fence and one load), so every message through a scheduler's door may call it.
    pub(crate) fn rouse(&self) {
        // Pairs with the fence in `wait`: either the sleeper sees what the caller did before
        // calling (a message sent, a deadline pushed), or the caller sees it asleep.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                log::error!("selector: could not rouse the poll: {e}");
            }
        }
    }

    /// Waits for events for at most `timeout` (`None`: no limit) and no later than the
    /// soonest deadline, sets the readiness flags, and collects in `state.woken` the entries
    /// whose component must be woken. Before sleeping it asks `busy` whether there is
    /// something to do already (a message at the door), and then only polls.
    fn wait(
        &self,
        state: &mut PollState,
        timeout: Option<Duration>,
        busy: impl Fn() -> bool,
    ) -> io::Result<()> {
        let mut timeout = match (timeout, self.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleeps = timeout != Some(Duration::ZERO);
        if sleeps {
            self.sleeping.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if busy() {
                timeout = Some(Duration::ZERO);
            }
        }
        let polled = state.poll.poll(&mut state.events, timeout);
        if sleeps {
            self.sleeping.store(false, Ordering::SeqCst);
        }
        match polled {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        {
            let entries = self.entries();
            for ev in state.events.iter() {
                if ev.token() == WAKE_TOKEN {
                    continue;
                }
                let Some(entry) = entries.get(&ev.token().0) else {
                    continue; // deregistered meanwhile
                };
                let failed = ev.is_error();
                let mut bits = 0;
                if ev.is_readable() || ev.is_read_closed() || failed {
                    bits |= READABLE;
                }
                if ev.is_writable() || ev.is_write_closed() || failed {
                    bits |= WRITABLE;
                }
                if entry.signal(bits) {
                    state.woken.push(entry.clone());
                }
            }
        }
        self.fire_deadlines(&mut state.woken);
        Ok(())
    }

    /// One turn of a scheduler's selector, on the scheduler's thread: waits at most
    /// `timeout` (`Some(ZERO)`: only looks), then wakes the components whose sockets are
    /// ready, straight in the scheduler's world (no message through the door). A message at
    /// the door, or a stop, rouses it.
    pub(crate) fn turn(&self, core: &Rc<Core>, timeout: Option<Duration>) -> io::Result<()> {
        let mut guard = lock(&self.poll);
        let Some(state) = guard.as_mut() else {
            return Ok(()); // a private selector: its thread polls
        };
        let remote = &core.remote;
        self.wait(state, timeout, || {
            !remote.rx.is_empty() || remote.stop.load(Ordering::SeqCst)
        })?;
        if state.woken.is_empty() {
            return Ok(());
        }
        let mut world = core.world.borrow_mut();
        for entry in state.woken.drain(..) {
            let c = entry.waker.component();
            if c.sched == world.sched {
                world.wake(c);
            } else {
                entry.waker.wake(); // a component of another scheduler: through its door
            }
        }
        Ok(())
    }

    /// How long a poll may sleep before the next deadline.
    fn next_timeout(&self) -> Option<Duration> {
        self.timers()
            .peek()
            .map(|Reverse((when, _))| when.saturating_duration_since(Instant::now()))
    }

    /// Flags and collects the entries whose deadline has passed.
    fn fire_deadlines(&self, woken: &mut Vec<Arc<Entry>>) {
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let mut timers = self.timers();
            while let Some(&Reverse((when, token))) = timers.peek() {
                if when > now {
                    break;
                }
                timers.pop();
                due.push((when, token));
            }
        }
        if due.is_empty() {
            return;
        }
        let entries = self.entries();
        for (when, token) in due {
            let Some(entry) = entries.get(&token) else {
                continue;
            };
            let mut deadline = lock(&entry.deadline);
            if *deadline == Some(when) {
                *deadline = None;
                if entry.signal(DEADLINE) {
                    woken.push(entry.clone());
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a [`Selector`] handle holds: the poller and, for a private selector, its thread
/// (dropping the last handle stops and joins it).
struct Shared {
    poller: Arc<Poller>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let Some(t) = self.thread.take() else {
            return; // a scheduler's selector: the scheduler's door keeps the poller
        };
        self.poller.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.poller.waker.wake() {
            log::error!("selector: could not wake the poll thread to stop it: {e}");
            return; // do not join a thread that may never wake
        }
        if t.join().is_err() {
            log::error!("selector: the poll thread panicked");
        }
    }
}

/// The I/O readiness service: a [`mio::Poll`] that wakes components when their sockets are
/// ready, polled by the scheduler itself (or, for [`Selector::new`], by a thread of its own).
/// See the [module documentation](self) for the design.
///
/// A `Selector` is a cheap, cloneable, `Send` handle. Components normally get their
/// scheduler's one selector with [`Selector::for_scheduler`]; [`Selector::new`] makes a
/// private one.
///
/// ```
/// use axon::internet::selector::Selector;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let a = Selector::for_scheduler(&root).unwrap();
/// let b = Selector::for_scheduler(&root).unwrap();
/// assert!(a.same_as(&b)); // one per scheduler
/// assert_eq!(a.registered(), 0);
/// assert!(root.tracked_values().contains(&"selector".to_string()));
///
/// // Another scheduler has its own.
/// let other = Scheduler::new();
/// assert!(!Selector::for_scheduler(&other.root()).unwrap().same_as(&a));
///
/// // A scheduler's selector has no thread: the scheduler polls it. A private selector has
/// // one, stopped and joined when its last handle is dropped.
/// # #[cfg(target_os = "linux")]
/// # {
/// let poll_threads = || {
///     std::fs::read_dir("/proc/self/task")
///         .unwrap()
///         .filter(|t| {
///             let comm = t.as_ref().unwrap().path().join("comm");
///             std::fs::read_to_string(comm).unwrap_or_default().trim() == "axon-selector"
///         })
///         .count()
/// };
/// assert_eq!(poll_threads(), 0);
/// let private = Selector::new().unwrap();
/// drop(private); // joins its thread
/// assert_eq!(poll_threads(), 0);
/// # }
/// drop((a, b));
/// let again = Selector::for_scheduler(&root).unwrap();
/// assert_eq!(again.registered(), 0);
/// ```
#[derive(Clone)]
pub struct Selector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selector")
            .field("registered", &self.registered())
            .finish()
    }
}

/// The weak reference recorded in the scheduler's registry.
#[derive(Clone)]
struct WeakSelector(Weak<Shared>);

impl Selector {
    /// Makes a private selector, with a poll thread of its own (named `axon-selector`) that
    /// wakes components through their schedulers' doors. It works for components of any
    /// scheduler, at the cost of a thread hop for each wake; [`Selector::for_scheduler`] has
    /// none.
    pub fn new() -> io::Result<Selector> {
        let (poller, poll) = Poller::new()?;
        let poller = Arc::new(poller);
        let thread_poller = poller.clone();
        let state = PollState::new(poll);
        let thread = std::thread::Builder::new()
            .name("axon-selector".into())
            .spawn(move || poll_loop(state, thread_poller))?;
        Ok(Selector {
            shared: Arc::new(Shared {
                poller,
                thread: Some(thread),
            }),
        })
    }

    /// The selector of `ctx`'s scheduler, made (and recorded under [`SELECTOR_SERVICE`]) if
    /// the scheduler has none: one selector per scheduler, made on first use, polled by the
    /// scheduler itself and kept as long as the scheduler.
    pub fn for_scheduler(ctx: &Ctx) -> io::Result<Selector> {
        if let Ok(WeakSelector(weak)) = ctx.retrieve_value::<WeakSelector>(SELECTOR_SERVICE) {
            if let Some(shared) = weak.upgrade() {
                return Ok(Selector { shared });
            }
        }
        let remote = &ctx.core().remote;
        let poller = match remote.selector.get() {
            Some(p) => p.clone(),
            None => {
                let (poller, poll) = Poller::new()?;
                *lock(&poller.poll) = Some(PollState::new(poll));
                // Only this scheduler's thread (the one holding `ctx`) sets it.
                remote.selector.get_or_init(|| Arc::new(poller)).clone()
            }
        };
        let selector = Selector {
            shared: Arc::new(Shared {
                poller,
                thread: None,
            }),
        };
        let weak = WeakSelector(Arc::downgrade(&selector.shared));
        let recorded = match ctx.update_value(SELECTOR_SERVICE, weak.clone()) {
            Ok(()) => Ok(()),
            Err(_) => ctx.track_value(SELECTOR_SERVICE, weak),
        };
        recorded.map_err(|e| io::Error::other(format!("could not record the selector: {e}")))?;
        Ok(selector)
    }

    /// Registers `source` for `interest`: from now on `waker`'s component is woken whenever
    /// the socket becomes ready, until the returned [`Registration`] is dropped or
    /// [deregistered](Registration::deregister).
    ///
    /// Readiness is edge-triggered: after a wake, read (or write) until `WouldBlock`.
    pub fn register<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
        waker: RemoteWaker,
    ) -> io::Result<Registration> {
        let poller = &self.shared.poller;
        let token = poller.next_token.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            ready: AtomicU8::new(0),
            waker,
            deadline: Mutex::new(None),
        });
        // The entry goes in first, so that an event arriving at once finds it.
        poller.entries().insert(token, entry.clone());
        if let Err(e) = poller.registry.register(source, Token(token), interest) {
            poller.entries().remove(&token);
            return Err(e);
        }
        Ok(Registration {
            selector: self.clone(),
            token,
            entry,
        })
    }

    /// How many sockets are registered now.
    pub fn registered(&self) -> usize {
        self.shared.poller.entries().len()
    }

    /// True if both handles are the same selector.
    pub fn same_as(&self, other: &Selector) -> bool {
        Arc::ptr_eq(&self.shared.poller, &other.shared.poller)
    }
}

/// A private selector's thread: waits for events and wakes the components concerned
/// through their doors, until stopped.
fn poll_loop(mut state: PollState, poller: Arc<Poller>) {
    loop {
        if let Err(e) = poller.wait(&mut state, None, || poller.stop.load(Ordering::SeqCst)) {
            log::error!("selector: poll failed, the selector stops: {e}");
            return;
        }
        if poller.stop.load(Ordering::SeqCst) {
            return;
        }
        for entry in state.woken.drain(..) {
            entry.waker.wake();
        }
    }
}

/// One socket registered with a [`Selector`]. Holds the component's waker (so that the
/// scheduler keeps waiting) and the selector (so that a private selector's thread keeps
/// running). Dropping it forgets the socket; [`deregister`](Registration::deregister) also
/// tells the kernel.
///
/// ```
/// use axon::internet::selector::Selector;
/// use axon::Scheduler;
/// use mio::{net::UdpSocket, Interest};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let selector = Selector::for_scheduler(&root).unwrap();
/// let mut sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let reg = selector.register(&mut sock, Interest::WRITABLE, root.remote_waker()).unwrap();
/// assert_eq!(selector.registered(), 1);
///
/// // A fresh UDP socket is writable at once: the scheduler sets the flag as it runs.
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// loop {
///     sched.step(1);
///     if reg.take_ready().writable {
///         break;
///     }
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// reg.deregister(&mut sock).unwrap();
/// assert_eq!(selector.registered(), 0);
/// ```
pub struct Registration {
    selector: Selector,
    token: usize,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .field("component", &self.entry.waker.component())
            .finish()
    }
}

impl Registration {
    /// Takes (and clears) the readiness seen since the last call. A flag set after this call
    /// wakes the component again.
    pub fn take_ready(&self) -> Readiness {
        Readiness::from_bits(self.entry.ready.swap(0, Ordering::AcqRel))
    }

    /// Wakes the component at `when` even if the socket is not ready, with
    /// [`Readiness::deadline_passed`] set (for connect and idle timeouts); `None` cancels.
    /// Setting a deadline replaces the previous one.
    pub fn set_deadline(&self, when: Option<Instant>) {
        let poller = &self.selector.shared.poller;
        *lock(&self.entry.deadline) = when;
        if let Some(when) = when {
            poller.timers().push(Reverse((when, self.token)));
            // Let a sleeping poll shorten its sleep, in case this deadline is the soonest.
            poller.rouse();
        }
    }

    /// Changes what the socket is watched for.
    pub fn reregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<()> {
        self.selector
            .shared
            .poller
            .registry
            .reregister(source, Token(self.token), interest)
    }

    /// Stops watching the socket, in the kernel too, and drops the waker. (Closing a socket
    /// also removes it from the kernel's watch list, so dropping the registration and the
    /// socket together needs no call.)
    pub fn deregister<S: Source + ?Sized>(self, source: &mut S) -> io::Result<()> {
        self.selector.shared.poller.registry.deregister(source)
    }

    /// The mio token the socket is registered under.
    pub fn token(&self) -> Token {
        Token(self.token)
    }

    /// The selector this registration belongs to.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.selector.shared.poller.entries().remove(&self.token);
    }
}
