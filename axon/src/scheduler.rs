//! The cooperative scheduler (Kamaelia's `Axon.Scheduler`).
//!
//! Each cycle runs every component in the run queue once, and pauses and wakes take effect
//! as in Kamaelia's order, pause requests first, then wakes: a wake that comes in the same
//! cycle as a pause wins, and no wake is ever lost. (Both are stamped with the cycle's
//! number as they happen, not settled one by one at its end: see `Hot::state` in
//! `world.rs`.) New components join the run queue at the end of the cycle in which they
//! were activated. A scheduler with a selector also looks at its sockets after each cycle
//! (at most every 20 µs). When nothing is runnable the scheduler blocks until a thread, a
//! timer or I/O wakes a component: on its remote door, or, once it has a selector, in the
//! selector's poll (which the door then rouses). When nothing can wake a component, it
//! returns and reports the components left paused.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::component::{erase, Component, Task, DEFAULT_INBOXES, DEFAULT_OUTBOXES};
use crate::ctx::Ctx;
use crate::ids::ComponentId;
use crate::registry::Registry;
use crate::remote::{poll_waker, Remote, RemoteMsg};
use crate::world::{Failure, State, World};

static NEXT_SCHED: AtomicU32 = AtomicU32::new(1);

/// While components run, a scheduler with a selector looks at its sockets after every cycle,
/// but no more often than this: a look costs a system call, and a cycle may be very short.
const IO_LOOK_EVERY: Duration = Duration::from_micros(20);

/// What one scheduler owns; shared by its [`Ctx`] handles on its thread.
pub(crate) struct Core {
    pub world: RefCell<World>,
    pub registry: RefCell<Registry>,
    pub remote: Arc<Remote>,
    pub root: ComponentId,
    /// Set while the run loop executes, so that a component cannot re-enter it.
    running: std::cell::Cell<bool>,
}

impl Core {
    pub(crate) fn ctx(self: &Rc<Self>, me: ComponentId) -> Ctx {
        Ctx::new(self.clone(), me)
    }
}

/// How a run ended. Returned by [`Scheduler::run`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// How many components ended (well or badly) during the run.
    pub ended: usize,
    /// Components that returned an error or panicked, with what they said.
    pub failures: Vec<Failure>,
    /// Components still paused when the scheduler returned because nothing could wake them
    /// any more: no runnable component, no live thread or handle, no timer, no I/O. Kamaelia's
    /// scheduler would hang for ever here.
    pub left_paused: Vec<String>,
    /// True if the run ended because [`Ctx::stop_scheduler`] or a [`StopHandle`] asked.
    pub stopped: bool,
}

impl RunReport {
    /// True if every component ended and none failed.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.left_paused.is_empty() && !self.stopped
    }
}

/// Stops a scheduler from any thread (Kamaelia's `scheduler.stop()` from outside).
#[derive(Clone)]
pub struct StopHandle(Arc<Remote>);

impl StopHandle {
    /// Asks the scheduler to stop at the end of its current cycle. Components still running
    /// are dropped without their close-down, as Kamaelia's `stop()` does.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        self.0.nudge();
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHandle")
    }
}

/// One cooperative scheduler, with its components, linkages and service registry.
///
/// Schedulers are independent: several may run in one process, each on its own thread. A
/// scheduler lives on the thread that made it (it is not `Send`); to drive one from other
/// threads, see [`Background`](crate::Background).
///
/// ```
/// use axon::{component, Scheduler};
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let a = root.spawn(component("Counter", |ctx| async move {
///     for i in 0..3u32 {
///         ctx.send(i, "outbox")?;
///         ctx.yield_now().await;
///     }
///     Ok(())
/// }));
/// root.link((a, "outbox"), (root.id(), "inbox")).unwrap();
/// let report = sched.run();
/// assert!(report.is_clean());
/// assert_eq!(root.data_ready("inbox"), 3);
/// ```
pub struct Scheduler {
    core: Rc<Core>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.core.world.borrow();
        f.debug_struct("Scheduler")
            .field("live", &w.live)
            .field("ended", &w.ended)
            .finish()
    }
}

impl Scheduler {
    /// Makes an empty scheduler.
    pub fn new() -> Scheduler {
        let sched = NEXT_SCHED.fetch_add(1, Ordering::Relaxed);
        let mut world = World::new(sched);
        let root = world.insert(
            "Root".into(),
            DEFAULT_INBOXES.into(),
            DEFAULT_OUTBOXES.into(),
            None,
        );
        Scheduler {
            core: Rc::new(Core {
                world: RefCell::new(world),
                registry: RefCell::new(Registry::default()),
                remote: Remote::new(),
                root,
                running: std::cell::Cell::new(false),
            }),
        }
    }

    /// The root context: a component that is never run, owned by the code outside the
    /// scheduler. Use it to create, link and activate components before (or between) runs,
    /// and, through its own boxes, to feed them and read what they produce.
    pub fn root(&self) -> Ctx {
        self.core.ctx(self.core.root)
    }

    /// A context acting as component `id`, as Kamaelia's tests call methods of a component
    /// from outside. Sends and receives through it behave as if the component made them.
    pub fn ctx(&self, id: ComponentId) -> Ctx {
        self.core.ctx(id)
    }

    /// Makes a component and activates it; shorthand for `root().spawn(c)`.
    pub fn spawn<C: Component>(&self, c: C) -> ComponentId {
        self.root().spawn(c)
    }

    /// A handle that stops this scheduler from any thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.core.remote.clone())
    }

    /// Runs until no activated component is left, or until nothing can wake the ones left,
    /// or until stopped. Blocks (without spinning) while every component is paused and
    /// something outside may still wake one.
    pub fn run(&self) -> RunReport {
        run_loop(&self.core, true, None)
    }

    /// Runs at most `cycles` cycles without ever blocking, as driving Kamaelia's
    /// `scheduler.main()` by hand does. Returns true while components remain.
    pub fn step(&self, cycles: usize) -> bool {
        let r = run_loop(&self.core, false, Some(cycles));
        let w = self.core.world.borrow();
        !r.stopped && w.live > 0
    }

    /// Names of the activated components that are paused right now.
    pub fn paused(&self) -> Vec<String> {
        let w = self.core.world.borrow();
        w.components()
            .filter(|(_, _, state)| matches!(state, State::Sleeping))
            .map(|(_, c, _)| c.name())
            .collect()
    }

    pub(crate) fn remote(&self) -> Arc<Remote> {
        self.core.remote.clone()
    }

    /// A snapshot of the graph; see [`Topology`](crate::Topology).
    pub fn topology(&self) -> crate::Topology {
        self.root().topology()
    }

    /// How many activated components have not ended.
    pub fn live(&self) -> usize {
        self.core.world.borrow().live
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // Break the Core -> task -> Ctx -> Core cycle: drop every body outside the borrow.
        let bodies = {
            let mut w = self.core.world.borrow_mut();
            w.take_all_bodies()
        };
        drop(bodies);
    }
}

/// The run loop. `blocking`: wait for outside wakes when idle. `cycles`: stop after that many.
fn run_loop(core: &Rc<Core>, blocking: bool, cycles: Option<usize>) -> RunReport {
    if core.running.replace(true) {
        log::error!("Scheduler::run called from inside a running component; ignored");
        return RunReport::default();
    }
    let ended_before = core.world.borrow().ended;
    let failures_before = core.world.borrow().failures.len();
    let mut runqueue: Vec<ComponentId> = Vec::new();
    let mut stopped = false;
    let mut done_cycles = 0usize;
    let mut last_io_look: Option<Instant> = None;
    loop {
        if let Some(n) = cycles {
            if done_cycles >= n {
                break;
            }
        }
        done_cycles += 1;
        {
            let mut w = core.world.borrow_mut();
            std::mem::swap(&mut runqueue, &mut w.run_next);
            w.time = Instant::now();
        }
        for &c in &runqueue {
            run_one(core, c);
        }
        runqueue.clear();
        if let Some(selector) = core.remote.selector.get() {
            let now = Instant::now();
            if last_io_look.is_none_or(|t| now.duration_since(t) >= IO_LOOK_EVERY) {
                last_io_look = Some(now);
                if let Err(e) = selector.turn(core, Some(Duration::ZERO)) {
                    log::error!("scheduler: could not poll the selector: {e}");
                }
            }
        }
        drain_remote(core, false, None);
        {
            let mut w = core.world.borrow_mut();
            w.close_cycle(Instant::now());
        }
        if core.remote.stop.load(Ordering::SeqCst) || core.world.borrow().stop_requested {
            stop_all(core);
            stopped = true;
            break;
        }
        let kept = core.remote.keep_alive.load(Ordering::SeqCst) > 0;
        if core.world.borrow().live == 0 && !(kept && blocking) {
            break;
        }
        if core.world.borrow().run_next.is_empty() {
            if !blocking {
                continue;
            }
            if !wait_for_wake(core) {
                break;
            }
        }
    }
    core.running.set(false);
    let w = core.world.borrow();
    RunReport {
        ended: w.ended - ended_before,
        failures: w.failures[failures_before..].to_vec(),
        left_paused: if stopped || w.live == 0 || !blocking {
            Vec::new()
        } else {
            w.components()
                // Activated but never run counts too: nothing will run it now.
                .filter(|(_, _, state)| {
                    matches!(
                        state,
                        State::Sleeping | State::GoingToSleep | State::Activating
                    )
                })
                .map(|(_, c, _)| c.name())
                .collect()
        },
        stopped,
    }
}

/// Blocks until something may have become runnable. Returns false if nothing can ever wake
/// a component again.
fn wait_for_wake(core: &Rc<Core>) -> bool {
    // Timers of components that have ended can wake no one: forget them, so that they do not
    // keep the scheduler waiting.
    let mut deadline = core.world.borrow_mut().prune_timers();
    loop {
        if core.world.borrow().timers.is_empty()
            && core.remote.external.load(Ordering::SeqCst) == 0
            && core.remote.keep_alive.load(Ordering::SeqCst) == 0
        {
            // Outside parties wake before they let go, so one last look suffices.
            drain_remote(core, false, None);
            let mut w = core.world.borrow_mut();
            // Woken between cycles: closed as a cycle of their own (see `close_cycle`).
            w.close_cycle(Instant::now());
            return !w.run_next.is_empty();
        }
        sleep(core, deadline);
        let mut w = core.world.borrow_mut();
        deadline = w.close_cycle(Instant::now());
        let kept = core.remote.keep_alive.load(Ordering::SeqCst) > 0;
        if !w.run_next.is_empty() || (w.live == 0 && !kept) || w.stop_requested {
            return true;
        }
        if core.remote.stop.load(Ordering::SeqCst) {
            return true;
        }
    }
}

/// Sleeps until a message comes through the door, or (with a selector) a socket is ready or a
/// selector deadline passes, or `deadline` passes; then handles what came.
fn sleep(core: &Rc<Core>, deadline: Option<Instant>) {
    if let Some(selector) = core.remote.selector.get() {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match selector.turn(core, timeout) {
            Ok(()) => return drain_remote(core, false, None),
            // Should never happen; wait on the door alone rather than spin.
            Err(e) => log::error!("scheduler: could not poll the selector: {e}"),
        }
    }
    drain_remote(core, true, deadline);
}

/// Handles messages from other threads; with `block`, waits for the first one (until
/// `deadline` if given).
fn drain_remote(core: &Rc<Core>, block: bool, deadline: Option<Instant>) {
    let rx = core.remote.rx.clone();
    let first = if block {
        match deadline {
            Some(d) => rx.recv_deadline(d).ok(),
            None => rx.recv().ok(),
        }
    } else {
        None
    };
    let mut next = first.or_else(|| rx.try_recv().ok());
    while let Some(msg) = next {
        match msg {
            RemoteMsg::Wake { index, gen16 } => {
                let mut w = core.world.borrow_mut();
                if let Some(c) = w.resolve(index, gen16) {
                    w.wake(c);
                }
            }
            RemoteMsg::Call(f) => f(core),
        }
        next = rx.try_recv().ok();
    }
}

/// Runs one component for one step, if it is active.
fn run_one(core: &Rc<Core>, c: ComponentId) {
    let Some((task, start)) = core.world.borrow_mut().start_turn(c) else {
        return;
    };
    let (mut task, fresh): (Task, bool) = match (task, start) {
        (Some(t), _) => (t, false),
        (None, Some(s)) => (s(core.ctx(c)), true),
        (None, None) => return,
    };
    let waker = poll_waker(core.remote.slot, c);
    let mut cx = Context::from_waker(&waker);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx)));
    let mut w = core.world.borrow_mut();
    w.current = None;
    match outcome {
        Ok(Poll::Pending) => {
            if let Some(hot) = w.hot_mut(c) {
                if fresh {
                    // Where the body waits (a box: it stays there), for the prefetch each
                    // time the component is woken (see `World::try_deliver_at`).
                    let body: &dyn Future<Output = crate::ComponentResult> = &*task;
                    hot.body_at = (body as *const dyn Future<Output = _>).cast::<u8>() as usize;
                    hot.body_len = std::mem::size_of_val(body);
                }
                hot.task = Some(task);
                w.run_next.push(c);
            }
        }
        Ok(Poll::Ready(result)) => {
            let failure = result.err().map(|e| e.to_string());
            w.end(c, failure);
            drop(w);
            drop(task);
        }
        Err(panic) => {
            let text = panic_text(&panic);
            w.end(c, Some(format!("panicked: {text}")));
            drop(w);
            drop(task);
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Kamaelia's `scheduler.stop()`: every component still present is stopped (its body
/// dropped), without its close-down.
fn stop_all(core: &Rc<Core>) {
    let bodies = {
        let mut w = core.world.borrow_mut();
        w.stop_requested = false;
        core.remote.stop.store(false, Ordering::SeqCst);
        w.take_all_bodies()
    };
    drop(bodies);
}

/// Makes a component inside `core` (used by [`Ctx::create`] and the remote door).
pub(crate) fn create_in<C: Component>(core: &Core, c: C) -> ComponentId {
    let e = erase(c);
    core.world
        .borrow_mut()
        .insert(e.label, e.inboxes, e.outboxes, Some(e.start))
}

/// A future that is pending once: Kamaelia's `yield`.
pub(crate) struct YieldNow(pub bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}
