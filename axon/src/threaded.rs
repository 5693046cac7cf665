//! Threaded components (Kamaelia's `threadedcomponent`): a body that runs on its own OS thread
//! and may block, joined to the scheduler by bounded queues and a proxy component.
//!
//! The proxy runs in the scheduler like any component. It moves messages from the real
//! inboxes into one bounded queue per inbox (the thread reads those), and from one bounded
//! queue per outbox (the thread writes those) out of the real outboxes. A send from the thread
//! fails with [`NoSpaceInBox`](crate::NoSpaceInBox) when its queue is full, so a thread can
//! buffer at most "destination inbox size + queue length" messages ahead of its reader, as in
//! Kamaelia. The proxy ends once the thread has returned and every queued outgoing message has
//! been delivered.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::component::{BoxSpec, Component, DEFAULT_INBOXES, DEFAULT_OUTBOXES};
use crate::ctx::Ctx;
use crate::error::{
    BoxKind, ComponentResult, Error, NoSpaceInBox, NoSuchBox, RecvError, SendError,
};
use crate::ids::{ComponentId, ComponentName};
use crate::linkage::{Linkage, Passthrough};
use crate::message::Message;
use crate::remote::{ExternalHold, Remote};

/// Kamaelia's default queue length for threaded components.
pub const DEFAULT_QUEUE_LENGTH: usize = 1000;

/// A component whose body runs on its own thread and may block (Kamaelia's
/// `threadedcomponent`).
///
/// Make it a component with [`Threaded`]:
///
/// ```
/// use axon::{Scheduler, Threaded, ThreadedComponent, ThreadCtx, ComponentResult};
///
/// /// Upper-cases lines, as if it were slow work done off the scheduler's thread.
/// struct Shout;
///
/// impl ThreadedComponent for Shout {
///     fn main(self, ctx: ThreadCtx) -> ComponentResult {
///         loop {
///             match ctx.recv_timeout("inbox", std::time::Duration::from_secs(5)) {
///                 Ok(m) => {
///                     let line: String = m.downcast()?;
///                     ctx.send(line.to_uppercase(), "outbox")?;
///                 }
///                 Err(_) => return Ok(()),
///             }
///             if ctx.data_ready("control") > 0 {
///                 return Ok(());
///             }
///         }
///     }
/// }
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let s = root.create(Threaded::new(Shout));
/// root.link((root.id(), "outbox"), (s, "inbox")).unwrap();
/// root.link((s, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((root.id(), "signal"), (s, "control")).unwrap();
/// root.send(String::from("hello"), "outbox").unwrap();
/// root.send(axon::ipc::ShutdownMicroprocess::default(), "signal").unwrap();
/// root.activate(s).unwrap();
/// let report = sched.run();
/// assert!(report.is_clean(), "{report:?}");
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "HELLO");
/// ```
pub trait ThreadedComponent: Sized + Send + 'static {
    /// The inboxes. Default: `inbox`, `control`.
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_INBOXES)
    }
    /// The outboxes. Default: `outbox`, `signal`.
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DEFAULT_OUTBOXES)
    }
    /// The label of the component's name. Default: the type's name.
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed(crate::component::type_label::<Self>())
    }
    /// The body, run on its own thread. It may block. An `Err` or a panic ends the component
    /// with that failure reported.
    fn main(self, ctx: ThreadCtx) -> ComponentResult;
}

/// Wraps a [`ThreadedComponent`] so that it can be created like any component.
pub struct Threaded<T> {
    body: T,
    queue_length: usize,
}

impl<T: ThreadedComponent> Threaded<T> {
    /// With Kamaelia's default queue length of 1000 per box.
    pub fn new(body: T) -> Threaded<T> {
        Threaded::with_queue_length(body, DEFAULT_QUEUE_LENGTH)
    }
    /// With `n` messages per box queue (Kamaelia's `threadedcomponent(queuelengths=n)`).
    pub fn with_queue_length(body: T, n: usize) -> Threaded<T> {
        Threaded {
            body,
            queue_length: n.max(1),
        }
    }
}

type Queue = (Sender<Message>, Receiver<Message>);

/// Work the thread asks the proxy to do on the scheduler's thread.
type Request = Box<dyn FnOnce(&Ctx) + Send>;

/// Requests waiting for the proxy, or `None` once the proxy has gone (requests are refused).
type Requests = Mutex<Option<std::collections::VecDeque<Request>>>;

/// What the thread and the proxy share.
struct Shared {
    qlen: usize,
    name: String,
    component_name: ComponentName,
    proxy: ComponentId,
    remote: Arc<Remote>,
    inqueues: Mutex<BTreeMap<String, Queue>>,
    outqueues: Mutex<BTreeMap<String, Queue>>,
    /// The order of the real inboxes, "control" last (the proxy feeds it last).
    proxy_wake_pending: AtomicBool,
    /// Set by the proxy when it moved something for the thread: ends a thread `pause`.
    event: AtomicBool,
    thread: Mutex<Option<Thread>>,
    /// Requests from the thread (link, unlink, boxes, sync), run by the proxy after it has
    /// delivered what the thread sent before them (Kamaelia's `_do_threadsafe`).
    requests: Requests,
    /// Set when the scheduler stopped the proxy; the thread should finish.
    stopped: AtomicBool,
    done: AtomicBool,
    outcome: Mutex<Option<Result<(), String>>>,
}

impl Shared {
    fn wake_proxy(&self) {
        if !self.proxy_wake_pending.swap(true, Ordering::AcqRel) {
            self.remote.wake(self.proxy);
        }
    }

    fn set_event(&self) {
        self.event.store(true, Ordering::Release);
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            t.unpark();
        }
    }
}

fn make_queues(specs: &[BoxSpec], qlen: usize) -> BTreeMap<String, Queue> {
    specs
        .iter()
        .map(|s| (s.name.to_string(), crossbeam_channel::bounded(qlen)))
        .collect()
}

/// The thread's view of its component: queue-backed boxes, and requests run on the
/// scheduler's thread for what only the scheduler may touch.
pub struct ThreadCtx {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ThreadCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThreadCtx({})", self.shared.name)
    }
}

impl ThreadCtx {
    /// The component's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The component's id (its proxy's, in the scheduler).
    pub fn id(&self) -> ComponentId {
        self.shared.proxy
    }

    fn queue(&self, kind: BoxKind, name: &str) -> Result<Queue, NoSuchBox> {
        let map = match kind {
            BoxKind::Inbox => &self.shared.inqueues,
            BoxKind::Outbox => &self.shared.outqueues,
        };
        let map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned().ok_or_else(|| NoSuchBox {
            component: self.shared.name.clone(),
            kind,
            name: name.to_string(),
            existing: map.keys().cloned().collect(),
        })
    }

    /// Sends out of `outbox`. Never blocks: when the outbox's queue is full the message comes
    /// back in [`SendError::NoSpaceInBox`], with the queue length as the size.
    pub fn send<T: Send + 'static>(&self, msg: T, outbox: &str) -> Result<(), SendError> {
        let m = Message::new(msg);
        let (tx, _) = match self.queue(BoxKind::Outbox, outbox) {
            Ok(q) => q,
            Err(e) => return Err(SendError::NoSuchBox(e, m)),
        };
        let result = match tx.try_send(m) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(m)) | Err(TrySendError::Disconnected(m)) => {
                Err(SendError::NoSpaceInBox(NoSpaceInBox {
                    component: self.shared.name.clone(),
                    inbox: format!("(queue of outbox {outbox:?})"),
                    size: self.shared.qlen,
                    message: m,
                }))
            }
        };
        self.shared.wake_proxy();
        result
    }

    fn empty(&self, inbox: &str) -> RecvError {
        RecvError::Empty {
            component: self.shared.component_name.clone(),
            inbox: crate::ctx::box_name_cow(BoxKind::Inbox, inbox),
        }
    }

    /// Sends out of `outbox`, waiting (in [`pause`](ThreadCtx::pause)) while the outbox's
    /// queue is full, so that nothing is dropped and a slow reader slows this thread down.
    /// Gives up with the error if the component is being stopped or the box does not exist.
    pub fn send_waiting<T: Send + 'static>(&self, msg: T, outbox: &str) -> Result<(), SendError> {
        let mut m = Message::new(msg);
        loop {
            match self.send(m, outbox) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_full() && !self.should_stop() => {
                    m = e.into_message();
                    self.pause(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the oldest message from `inbox` without blocking. (Kamaelia's threaded `recv`
    /// blocks on an empty box; here that is [`recv_blocking`](ThreadCtx::recv_blocking), and
    /// `recv` behaves as it does for every other component.)
    pub fn recv(&self, inbox: &str) -> Result<Message, RecvError> {
        let (_, rx) = self
            .queue(BoxKind::Inbox, inbox)
            .map_err(RecvError::NoSuchBox)?;
        match rx.try_recv() {
            Ok(m) => {
                self.shared.wake_proxy();
                Ok(m)
            }
            Err(_) => Err(self.empty(inbox)),
        }
    }

    /// Takes the oldest message from `inbox`, waiting for one as long as it takes.
    pub fn recv_blocking(&self, inbox: &str) -> Result<Message, RecvError> {
        let (_, rx) = self
            .queue(BoxKind::Inbox, inbox)
            .map_err(RecvError::NoSuchBox)?;
        let m = rx.recv().map_err(|_| self.empty(inbox))?;
        self.shared.wake_proxy();
        Ok(m)
    }

    /// Takes the oldest message from `inbox`, waiting at most `timeout`.
    pub fn recv_timeout(&self, inbox: &str, timeout: Duration) -> Result<Message, RecvError> {
        let (_, rx) = self
            .queue(BoxKind::Inbox, inbox)
            .map_err(RecvError::NoSuchBox)?;
        let m = rx.recv_timeout(timeout).map_err(|_| self.empty(inbox))?;
        self.shared.wake_proxy();
        Ok(m)
    }

    /// How many messages wait in `inbox`'s queue (0 for a wrong name).
    pub fn data_ready(&self, inbox: &str) -> usize {
        self.queue(BoxKind::Inbox, inbox)
            .map(|(_, rx)| rx.len())
            .unwrap_or(0)
    }

    /// The first inbox with data, "control" counted last.
    pub fn any_ready(&self) -> Option<String> {
        let map = self
            .shared
            .inqueues
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, (_, rx))| !rx.is_empty())
            .map(|(n, _)| n.clone())
            .next()
    }

    /// Blocks the thread until the proxy moves a message in or out for it, or until
    /// `timeout` passes (Kamaelia's threaded `pause(timeout)`).
    pub fn pause(&self, timeout: Option<Duration>) {
        let deadline = timeout.map(|t| Instant::now() + t);
        while !self.shared.event.swap(false, Ordering::AcqRel) {
            if self.shared.stopped.load(Ordering::Acquire) {
                return;
            }
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return;
                    }
                    std::thread::park_timeout(d - now);
                }
                None => std::thread::park(),
            }
        }
    }

    /// True once the scheduler has stopped this component: the thread should return.
    /// (Kamaelia could not stop a thread at all; here the thread is asked to.)
    pub fn should_stop(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// Runs `f` on the scheduler's thread as this component and waits for its result
    /// (Kamaelia's `_do_threadsafe`). The proxy runs it after delivering everything the thread
    /// sent before the call. Errors with [`Error::SchedulerGone`] if the component was stopped
    /// or the scheduler has ended.
    pub fn on_scheduler<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Ctx) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        {
            let mut requests = self
                .shared
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Some(queue) = requests.as_mut() else {
                return Err(Error::SchedulerGone);
            };
            queue.push_back(Box::new(move |ctx: &Ctx| {
                let _ = tx.send(f(ctx));
            }));
        }
        self.shared.remote.wake(self.shared.proxy);
        rx.recv().map_err(|_| Error::SchedulerGone)
    }

    /// Links boxes, from the thread (Kamaelia's threaded `link`).
    pub fn link(
        &self,
        source: (ComponentId, &str),
        sink: (ComponentId, &str),
        passthrough: Passthrough,
    ) -> Result<Linkage, Error> {
        let (s, sb, d, db) = (source.0, source.1.to_string(), sink.0, sink.1.to_string());
        self.on_scheduler(move |ctx| ctx.link_with((s, &sb), (d, &db), passthrough, None))?
    }

    /// Undoes a linkage, from the thread.
    pub fn unlink(&self, linkage: Linkage) -> Result<bool, Error> {
        self.on_scheduler(move |ctx| ctx.unlink(&linkage))
    }

    /// Adds an inbox (and its queue), from the thread; returns the name made.
    pub fn add_inbox(&self, base: &str) -> Result<String, Error> {
        self.add_box(BoxKind::Inbox, base)
    }

    /// Adds an outbox (and its queue), from the thread; returns the name made.
    pub fn add_outbox(&self, base: &str) -> Result<String, Error> {
        self.add_box(BoxKind::Outbox, base)
    }

    fn add_box(&self, kind: BoxKind, base: &str) -> Result<String, Error> {
        let base = base.to_string();
        let shared = self.shared.clone();
        self.on_scheduler(move |ctx| {
            let name = match kind {
                BoxKind::Inbox => ctx.add_inbox(&base)?,
                BoxKind::Outbox => ctx.add_outbox(&base)?,
            };
            let map = match kind {
                BoxKind::Inbox => &shared.inqueues,
                BoxKind::Outbox => &shared.outqueues,
            };
            map.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone(), crossbeam_channel::bounded(shared.qlen));
            Ok(name)
        })?
    }

    /// Deletes an inbox, from the thread; returns the messages left in it and its queue.
    pub fn delete_inbox(&self, name: &str) -> Result<Vec<Message>, Error> {
        let name = name.to_string();
        let shared = self.shared.clone();
        self.on_scheduler(move |ctx| {
            let mut left = ctx.delete_inbox(&name)?;
            if let Some((_, rx)) = shared
                .inqueues
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name)
            {
                left.extend(rx.try_iter());
            }
            Ok(left)
        })?
    }

    /// Deletes an outbox, from the thread. Messages still queued for it are delivered first
    /// if the outbox leads anywhere, then it goes.
    pub fn delete_outbox(&self, name: &str) -> Result<(), Error> {
        let name = name.to_string();
        let shared = self.shared.clone();
        self.on_scheduler(move |ctx| {
            if let Some((_, rx)) = shared
                .outqueues
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name)
            {
                for m in rx.try_iter() {
                    let _ = ctx.send(m, &name);
                }
            }
            ctx.delete_outbox(&name)
        })?
    }

    /// A round trip to the scheduler and back, doing nothing (Kamaelia's `sync()`): the
    /// proxy has run at least once when it returns.
    pub fn sync(&self) -> Result<(), Error> {
        self.on_scheduler(|_| ())
    }
}

impl<T: ThreadedComponent> Component for Threaded<T> {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.body.inboxes()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        self.body.outboxes()
    }
    fn label(&self) -> Cow<'static, str> {
        self.body.label()
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let shared = Arc::new(Shared {
            qlen: self.queue_length,
            name: ctx.name(),
            component_name: ctx.component_name(),
            proxy: ctx.id(),
            remote: ctx.core().remote.clone(),
            inqueues: Mutex::new(make_queues(&self.body.inboxes(), self.queue_length)),
            outqueues: Mutex::new(make_queues(&self.body.outboxes(), self.queue_length)),
            proxy_wake_pending: AtomicBool::new(false),
            event: AtomicBool::new(false),
            thread: Mutex::new(None),
            requests: Mutex::new(Some(Default::default())),
            stopped: AtomicBool::new(false),
            done: AtomicBool::new(false),
            outcome: Mutex::new(None),
        });
        // Asks the thread to finish if the proxy is dropped (scheduler stopped).
        let _stop_guard = StopOnDrop(shared.clone());
        let hold = ctx.core().remote.hold();
        let thread_shared = shared.clone();
        let body = self.body;
        let spawned = std::thread::Builder::new()
            .name(shared.name.clone())
            .spawn(move || run_thread(body, thread_shared, hold));
        match spawned {
            Ok(handle) => {
                *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(handle.thread().clone());
            }
            Err(e) => return Err(format!("could not start thread: {e}").into()),
        }
        loop {
            shared.proxy_wake_pending.store(false, Ordering::Release);
            let done = shared.done.load(Ordering::Acquire);
            let moved_in = forward_inboxes(&ctx, &shared);
            let (moved_out, left) = drain_outqueues(&ctx, &shared)?;
            if moved_in || moved_out {
                shared.set_event();
            }
            run_requests(&ctx, &shared);
            if done && !left {
                break;
            }
            ctx.pause();
            ctx.yield_now().await;
        }
        let outcome = shared
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match outcome {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
        // Refuse further requests and drop the waiting ones: their callers get SchedulerGone
        // instead of waiting for ever.
        let waiting = self
            .0
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(waiting);
        self.0.set_event();
    }
}

/// Runs the requests waiting now (not those they cause), in order.
fn run_requests(ctx: &Ctx, shared: &Shared) {
    let batch: Vec<Request> = {
        let mut requests = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
        match requests.as_mut() {
            Some(q) => q.drain(..).collect(),
            None => Vec::new(),
        }
    };
    for request in batch {
        request(ctx);
    }
}

fn run_thread<T: ThreadedComponent>(body: T, shared: Arc<Shared>, hold: ExternalHold) {
    let ctx = ThreadCtx {
        shared: shared.clone(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body.main(ctx)));
    let outcome = match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!(
            "thread panicked: {}",
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
    };
    *shared.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    shared.done.store(true, Ordering::Release);
    // Wake the proxy before letting go of the scheduler, so it sees the end.
    shared.remote.wake(shared.proxy);
    drop(hold);
}

/// Moves messages from the real inboxes into the thread's queues, "control" last, each until
/// its queue is full. Returns true if anything moved.
fn forward_inboxes(ctx: &Ctx, shared: &Shared) -> bool {
    let queues: Vec<(String, Sender<Message>)> = {
        let map = shared.inqueues.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map
            .iter()
            .filter(|(n, _)| n.as_str() != "control")
            .map(|(n, (tx, _))| (n.clone(), tx.clone()))
            .collect();
        if let Some((tx, _)) = map.get("control") {
            v.push(("control".to_string(), tx.clone()));
        }
        v
    };
    let mut moved = false;
    for (name, tx) in queues {
        while !tx.is_full() && ctx.data_ready(&name) > 0 {
            match ctx.recv(&name) {
                Ok(m) => {
                    if tx.try_send(m).is_err() {
                        break;
                    }
                    moved = true;
                }
                Err(_) => break,
            }
        }
    }
    moved
}

/// Moves messages from the thread's queues out of the real outboxes while their destinations
/// have room. Returns (moved anything, something is still queued).
fn drain_outqueues(ctx: &Ctx, shared: &Shared) -> Result<(bool, bool), Error> {
    let queues: Vec<(String, Receiver<Message>)> = {
        let map = shared.outqueues.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(n, (_, rx))| (n.clone(), rx.clone()))
            .collect()
    };
    let mut moved = false;
    let mut left = false;
    for (name, rx) in queues {
        loop {
            if ctx.is_full(&name)? {
                left |= !rx.is_empty();
                break;
            }
            match rx.try_recv() {
                Ok(m) => {
                    if let Err(e) = ctx.send(m, &name) {
                        // Full after all (cannot happen on one thread); keep nothing silently.
                        log::error!("{}: {e}", shared.name);
                        left = true;
                        break;
                    }
                    moved = true;
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
    }
    Ok((moved, left))
}
