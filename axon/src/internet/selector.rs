//! The I/O readiness service (Kamaelia's `Kamaelia.Internet.Selector`): wakes components when
//! their sockets are ready.
//!
//! # Design
//!
//! Kamaelia's `Selector` is a component that calls `select()` on behalf of the others: a
//! component sends it `newReader`/`newWriter` messages naming a socket and an inbox, and the
//! selector sends a message to that inbox whenever the socket is ready. In Rust the same job
//! is done without messages and without busy-waiting:
//!
//! - A [`Selector`] owns a [`mio::Poll`] on **its own thread** (named `axon-selector`). The
//!   thread blocks in `epoll_wait` (or the platform's equivalent); it never spins.
//! - A component registers a mio socket with [`Selector::register`], handing over a
//!   [`RemoteWaker`] for itself (from [`Ctx::remote_waker`]). Registration goes straight to
//!   the kernel through a cloned [`mio::Registry`]; the selector keeps a map from the mio
//!   [`Token`] to the waker and to a small set of readiness flags.
//! - When the poll thread sees an event it sets the flags ([`Readiness`]) and wakes the
//!   component. The component takes the flags with [`Registration::take_ready`] when it runs,
//!   does its I/O until the socket says `WouldBlock`, then pauses. A wake is sent only when a
//!   flag goes from clear to set, so a busy socket costs one wake per scheduler turn at most.
//! - Readiness is **edge-triggered** (mio's contract): after an event, the component must keep
//!   reading (or writing) until `WouldBlock`, or remember that it stopped early (for example
//!   because the component downstream is full) and try again later by itself.
//! - A registration may also carry a **deadline** ([`Registration::set_deadline`]): the poll
//!   thread sleeps no longer than the soonest one and, when it passes, wakes the component
//!   with [`Readiness::deadline_passed`] (connect timeouts, retrying a failed accept). The
//!   scheduler's own timers are not reachable from another thread, so the selector keeps its
//!   own.
//! - While a [`Registration`] exists, its [`RemoteWaker`] exists, so the scheduler knows
//!   something outside may still wake a component: it *waits* (blocked on its remote door,
//!   without spinning) instead of returning when every component is paused. Dropping the
//!   registration drops the waker.
//! - **One selector per scheduler**, made on first use: [`Selector::for_scheduler`] looks for
//!   the value tracked under the name [`SELECTOR_SERVICE`] (`"selector"`, Kamaelia's service
//!   name) in the scheduler's registry (the coordinating assistant tracker), and makes and
//!   records a new selector if there is none. The registry holds only a weak reference: every
//!   [`Registration`] holds the selector, so when the last registration and the last
//!   [`Selector`] handle are dropped, the selector is dropped, its thread is woken (through a
//!   [`mio::Waker`]), ends, and is joined. The next [`Selector::for_scheduler`] makes a fresh
//!   one.
//!
//! ```text
//!  component (scheduler thread)                 selector thread
//!  ---------------------------                  ---------------
//!  Selector::for_scheduler(&ctx)  ──────────┐   loop {
//!  sel.register(&mut sock, R|W, waker) ──────┼─>   poll.poll(events)       (blocks)
//!  loop {                                    │     for event: flags |= R/W;
//!      reg.take_ready() -> Readiness  <──────┼──       if newly set: waker.wake()
//!      read/write until WouldBlock           │   }
//!      ctx.pause(); yield                    │
//!  }                                         │
//!  drop(reg)  (waker dropped: the scheduler may return when idle)
//! ```
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
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Token};

use crate::ctx::{Ctx, RemoteWaker};

/// The name under which a scheduler's selector is recorded in its registry (Kamaelia's
/// `"selector"` service).
pub const SELECTOR_SERVICE: &str = "selector";

/// The token of the selector's own [`mio::Waker`], used to stop its thread.
const STOP_TOKEN: Token = Token(0);

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
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// let ready = loop {
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
    /// Readiness flags set by the poll thread, cleared by the component.
    ready: AtomicU8,
    /// Wakes the component that registered the socket.
    waker: RemoteWaker,
    /// When to wake the component even if the socket is not ready.
    deadline: Mutex<Option<Instant>>,
}

impl Entry {
    /// Sets readiness flags; wakes the component if one of them was clear.
    fn signal(&self, bits: u8) -> bool {
        let before = self.ready.fetch_or(bits, Ordering::AcqRel);
        before & bits != bits
    }
}

/// The part of a selector its poll thread shares.
struct Inner {
    registry: mio::Registry,
    stop_waker: mio::Waker,
    stop: AtomicBool,
    entries: Mutex<HashMap<usize, Arc<Entry>>>,
    /// Deadlines, soonest first. A cancelled or replaced deadline stays here until it is
    /// due, and is then ignored.
    timers: Mutex<BinaryHeap<Reverse<(Instant, usize)>>>,
    next_token: AtomicUsize,
}

impl Inner {
    fn entries(&self) -> MutexGuard<'_, HashMap<usize, Arc<Entry>>> {
        // A panic while the lock was held cannot leave the map half-changed (each change is
        // one insert or remove), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn timers(&self) -> MutexGuard<'_, BinaryHeap<Reverse<(Instant, usize)>>> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long the poll thread may sleep before the next deadline.
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

/// Owns the poll thread: dropping the last handle stops and joins it.
struct Shared {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.inner.stop_waker.wake() {
            log::error!("selector: could not wake the poll thread to stop it: {e}");
            return; // do not join a thread that may never wake
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("selector: the poll thread panicked");
            }
        }
    }
}

/// The I/O readiness service: a [`mio::Poll`] on its own thread that wakes components when
/// their sockets are ready. See the [module documentation](self) for the design.
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
/// // Dropping every handle stops and joins the poll thread; the next use makes a new one.
/// drop((a, b));
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
/// # }
/// assert_eq!(Selector::for_scheduler(&root).unwrap().registered(), 0);
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
    /// Makes a selector and starts its poll thread.
    pub fn new() -> io::Result<Selector> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let stop_waker = mio::Waker::new(poll.registry(), STOP_TOKEN)?;
        let inner = Arc::new(Inner {
            registry,
            stop_waker,
            stop: AtomicBool::new(false),
            entries: Mutex::new(HashMap::new()),
            timers: Mutex::new(BinaryHeap::new()),
            next_token: AtomicUsize::new(1),
        });
        let thread_inner = inner.clone();
        let thread = std::thread::Builder::new()
            .name("axon-selector".into())
            .spawn(move || poll_loop(poll, thread_inner))?;
        Ok(Selector {
            shared: Arc::new(Shared {
                inner,
                thread: Some(thread),
            }),
        })
    }

    /// The selector of `ctx`'s scheduler, made (and recorded under [`SELECTOR_SERVICE`]) if
    /// the scheduler has none: one selector per scheduler, made on first use.
    pub fn for_scheduler(ctx: &Ctx) -> io::Result<Selector> {
        if let Ok(WeakSelector(weak)) = ctx.retrieve_value::<WeakSelector>(SELECTOR_SERVICE) {
            if let Some(shared) = weak.upgrade() {
                return Ok(Selector { shared });
            }
        }
        let selector = Selector::new()?;
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
        let inner = &self.shared.inner;
        let token = inner.next_token.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            ready: AtomicU8::new(0),
            waker,
            deadline: Mutex::new(None),
        });
        // The entry goes in first, so that an event arriving at once finds it.
        inner.entries().insert(token, entry.clone());
        if let Err(e) = inner.registry.register(source, Token(token), interest) {
            inner.entries().remove(&token);
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
        self.shared.inner.entries().len()
    }

    /// True if both handles are the same selector.
    pub fn same_as(&self, other: &Selector) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The poll thread: waits for events and wakes the components concerned, until stopped.
fn poll_loop(mut poll: Poll, inner: Arc<Inner>) {
    let mut events = Events::with_capacity(1024);
    let mut woken: Vec<Arc<Entry>> = Vec::new();
    loop {
        if let Err(e) = poll.poll(&mut events, inner.next_timeout()) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("selector: poll failed, the selector stops: {e}");
            return;
        }
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        {
            let entries = inner.entries();
            for ev in events.iter() {
                if ev.token() == STOP_TOKEN {
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
                    woken.push(entry.clone());
                }
            }
        }
        inner.fire_deadlines(&mut woken);
        // Wake outside the lock, so that registering never waits for the wakes.
        for entry in woken.drain(..) {
            entry.waker.wake();
        }
    }
}

/// One socket registered with a [`Selector`]. Holds the component's waker (so that the
/// scheduler keeps waiting) and the selector (so that its thread keeps running). Dropping it
/// forgets the socket; [`deregister`](Registration::deregister) also tells the kernel.
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
/// // A fresh UDP socket is writable at once: the poll thread sets the flag.
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
/// while !reg.take_ready().writable {
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
        let inner = &self.selector.shared.inner;
        *lock(&self.entry.deadline) = when;
        if let Some(when) = when {
            inner.timers().push(Reverse((when, self.token)));
            // Let the poll thread shorten its sleep if this deadline is the soonest.
            if let Err(e) = inner.stop_waker.wake() {
                log::error!("selector: could not wake the poll thread for a deadline: {e}");
            }
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
            .inner
            .registry
            .reregister(source, Token(self.token), interest)
    }

    /// Stops watching the socket, in the kernel too, and drops the waker. (Closing a socket
    /// also removes it from the kernel's watch list, so dropping the registration and the
    /// socket together needs no call.)
    pub fn deregister<S: Source + ?Sized>(self, source: &mut S) -> io::Result<()> {
        self.selector.shared.inner.registry.deregister(source)
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
        self.selector.shared.inner.entries().remove(&self.token);
    }
}
