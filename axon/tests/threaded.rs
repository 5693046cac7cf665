//! Threaded components: a blocking body on its own OS thread, joined to the scheduler by
//! bounded queues and a proxy component.
//!
//! Ports `Tests/Python/Axon/test_ThreadedComponent.py` (spec A10): the `threadedcomponent_Test`
//! and `threadedadaptivecommscomponent_Test` classes. Every test runs its scheduler on a
//! spawned thread and waits for it with a timeout, so that nothing can hang.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use axon::{
    component, Component, ComponentId, ComponentResult, Ctx, Passthrough, Scheduler, SendError,
    ThreadCtx, Threaded, ThreadedComponent, DEFAULT_QUEUE_LENGTH,
};
use common::within;

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(20);
/// How long a thread body waits for the test before it gives up (so threads always end).
const PATIENCE: Duration = Duration::from_secs(10);

/// Steps the scheduler one cycle at a time until `done` says so. Never blocks; the
/// [`within`] timeout bounds it.
fn step_until(sched: &Scheduler, mut done: impl FnMut() -> bool) {
    while !done() {
        sched.step(1);
        std::thread::yield_now();
    }
}

/// Waits for `rx` while stepping the scheduler (for threads that need the proxy to run).
fn recv_stepping<T>(sched: &Scheduler, rx: &mpsc::Receiver<T>) -> T {
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(mpsc::TryRecvError::Empty) => {
                sched.step(1);
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(mpsc::TryRecvError::Disconnected) => panic!("the thread went away"),
        }
    }
}

// ----- helpers mirroring the Python test's classes -----------------------------------------

/// A component that does nothing but keep its boxes, until something arrives on "control"
/// (Python's `DoesNothingComponent`, which never ends).
fn does_nothing() -> impl Component {
    component("DoesNothing", |ctx| async move {
        while ctx.data_ready("control") == 0 {
            ctx.pause();
            ctx.yield_now().await;
        }
        Ok(())
    })
}

/// Sends one message to `dst` and ends (Python's `OneShotTo`).
fn one_shot_to(root: &Ctx, dst: (ComponentId, &str), msg: String) -> ComponentId {
    let o = root.create(component("OneShotTo", move |ctx| async move {
        ctx.send(msg, "outbox")?;
        ctx.yield_now().await;
        Ok(())
    }));
    root.link((o, "outbox"), dst).unwrap();
    o
}

/// Collects `n` messages from `src`, hands them to the test, and ends (Python's `RecvFrom`).
fn recv_from(
    root: &Ctx,
    src: (ComponentId, &str),
    n: usize,
    rec: mpsc::Sender<String>,
) -> ComponentId {
    let r = root.create(component("RecvFrom", move |ctx| async move {
        let mut got = 0;
        while got < n {
            ctx.yield_now().await;
            if ctx.data_ready("inbox") > 0 {
                let _ = rec.send(ctx.recv_as::<String>("inbox")?);
                got += 1;
            }
        }
        Ok(())
    }));
    root.link(src, (r, "inbox")).unwrap();
    r
}

/// What the test asks of a [`ThreadedSender`].
enum Cmd {
    /// Send this many messages.
    Send(usize),
    /// Return.
    Stop,
}

/// What a [`ThreadedSender`] reports back.
#[derive(Debug, PartialEq, Eq)]
enum Feedback {
    AllSent,
    /// This many sends succeeded; the next failed with `NoSpaceInBox`.
    NoSpaceAfter(usize),
}

/// Sends the number of messages it is told to, reporting how many went (Python's
/// `ThreadedSender`). With `sync_each`, it makes a round trip to the scheduler after every
/// send, so the proxy keeps draining its queue (the Python test relies on `slow=0.05`).
struct ThreadedSender {
    cmds: mpsc::Receiver<Cmd>,
    feedback: mpsc::Sender<Feedback>,
    sync_each: bool,
}

impl ThreadedComponent for ThreadedSender {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        while let Ok(Cmd::Send(qty)) = self.cmds.recv_timeout(PATIENCE) {
            let mut result = Feedback::AllSent;
            for i in 0..qty {
                match ctx.send(i, "outbox") {
                    Ok(()) => {}
                    Err(SendError::NoSpaceInBox(_)) => {
                        result = Feedback::NoSpaceAfter(i);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
                if self.sync_each {
                    ctx.sync()?;
                }
            }
            let _ = self.feedback.send(result);
        }
        Ok(())
    }
}

/// Tells the sender thread to stop when the test ends, however it ends.
struct StopSender(mpsc::Sender<Cmd>);

impl Drop for StopSender {
    fn drop(&mut self) {
        let _ = self.0.send(Cmd::Stop);
    }
}

fn threaded_sender(sync_each: bool) -> (ThreadedSender, StopSender, mpsc::Receiver<Feedback>) {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (fb_tx, fb_rx) = mpsc::channel();
    (
        ThreadedSender {
            cmds: cmd_rx,
            feedback: fb_tx,
            sync_each,
        },
        StopSender(cmd_tx),
        fb_rx,
    )
}

/// A thread that does nothing until released (Python's `DoesNothingThread`, which never ends).
struct DoesNothingThread {
    release: mpsc::Receiver<()>,
}

impl ThreadedComponent for DoesNothingThread {
    fn main(self, _ctx: ThreadCtx) -> ComponentResult {
        let _ = self.release.recv_timeout(PATIENCE);
        Ok(())
    }
}

/// A thread whose body returns at once.
struct ReturnsAtOnce;

impl ThreadedComponent for ReturnsAtOnce {
    fn main(self, _ctx: ThreadCtx) -> ComponentResult {
        Ok(())
    }
}

// ----- threadedcomponent_Test -----------------------------------------------------------------

// ports test_ThreadedComponent.py threadedcomponent_Test test_smoketest_init
// (and test_smoketest_args, test_smoketest_oneargs: made with the default queue length and with
// a queue length of 10)
#[test]
fn threaded_component_has_the_default_boxes() {
    let sched = Scheduler::new();
    let root = sched.root();
    for t in [
        root.create(Threaded::new(ReturnsAtOnce)),
        root.create(Threaded::with_queue_length(ReturnsAtOnce, 10)),
    ] {
        let ctx = sched.ctx(t);
        assert_eq!(
            ctx.inboxes(),
            vec!["inbox".to_string(), "control".to_string()]
        );
        assert_eq!(
            ctx.outboxes(),
            vec!["outbox".to_string(), "signal".to_string()]
        );
    }
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_localprocessterminates
#[test]
fn component_and_scheduler_end_when_the_thread_ends() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let t = sched.spawn(Threaded::new(ReturnsAtOnce));
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.ended, 1);
        assert_eq!(sched.live(), 0);
        assert!(sched.root().is_stopped(t));
    });
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_threadisseparate
#[test]
fn body_runs_on_a_different_os_thread() {
    struct Test(mpsc::Sender<std::thread::ThreadId>);
    impl ThreadedComponent for Test {
        fn main(self, _ctx: ThreadCtx) -> ComponentResult {
            self.0.send(std::thread::current().id())?;
            Ok(())
        }
    }
    let (scheduler_thread, body_thread) = within(TIMEOUT, || {
        let (tx, rx) = mpsc::channel();
        let sched = Scheduler::new();
        sched.spawn(Threaded::new(Test(tx)));
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        (std::thread::current().id(), rx.recv().unwrap())
    });
    assert_ne!(scheduler_thread, body_thread);
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_flow_in
#[test]
fn data_delivered_to_the_inbox_reaches_the_thread() {
    struct ThreadedReceiver(mpsc::Sender<String>);
    impl ThreadedComponent for ThreadedReceiver {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            // Python's loop: `if self.dataReady("inbox"): self.rec.append(self.recv("inbox"))`.
            let deadline = std::time::Instant::now() + PATIENCE;
            while ctx.data_ready("inbox") == 0 {
                if std::time::Instant::now() > deadline {
                    return Err("nothing arrived".into());
                }
                ctx.pause(Some(Duration::from_millis(50)));
            }
            self.0.send(ctx.recv("inbox")?.downcast::<String>()?)?;
            Ok(())
        }
    }
    let rec = within(TIMEOUT, || {
        let (tx, rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let r = root.spawn(Threaded::new(ThreadedReceiver(tx)));
        let o = one_shot_to(&root, (r, "inbox"), "hello!".to_string());
        root.activate(o).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        rx.try_iter().collect::<Vec<_>>()
    });
    assert_eq!(rec, vec!["hello!".to_string()]);
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_flow_out
#[test]
fn what_the_thread_sends_reaches_a_linked_receiver() {
    struct ThreadedSenderOf(String);
    impl ThreadedComponent for ThreadedSenderOf {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            ctx.send(self.0, "outbox")?;
            Ok(())
        }
    }
    let rec = within(TIMEOUT, || {
        let (tx, rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.spawn(Threaded::new(ThreadedSenderOf("hello there!".into())));
        let r = recv_from(&root, (t, "outbox"), 1, tx);
        root.activate(r).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        rx.try_iter().collect::<Vec<_>>()
    });
    assert_eq!(rec, vec!["hello there!".to_string()]);
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_linksafe
// (the re-entrancy itself cannot happen in Rust: the scheduler's state is not `Send`, so the
// thread's link and unlink must run on the scheduler's thread; this checks that they work
// there, interleaved with link and unlink done by the scheduler's side)
#[test]
fn link_and_unlink_from_the_thread_work_alongside_the_scheduler() {
    struct ThreadedLinker;
    impl ThreadedComponent for ThreadedLinker {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            for i in 0..10u32 {
                let me = ctx.id();
                let linkage = ctx.link((me, "outbox"), (me, "inbox"), Passthrough::Normal)?;
                // The loop works: what goes out comes back in.
                ctx.send(i, "outbox")?;
                let back: u32 = ctx.recv_timeout("inbox", PATIENCE)?.downcast()?;
                if back != i {
                    return Err(format!("sent {i}, got back {back}").into());
                }
                if !ctx.unlink(linkage.clone())? {
                    return Err("unlink said the linkage was not there".into());
                }
                if ctx.unlink(linkage)? {
                    return Err("a second unlink undid something".into());
                }
            }
            Ok(())
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.spawn(Threaded::new(ThreadedLinker));
        let t_ctx = sched.ctx(t);
        let mut rounds = 0;
        while !root.is_stopped(t) {
            sched.step(1);
            if root.is_stopped(t) {
                break;
            }
            let linkage = t_ctx.link((t, "signal"), (t, "control")).unwrap();
            assert!(t_ctx.unlink(&linkage));
            rounds += 1;
            std::thread::yield_now();
        }
        assert!(rounds > 0);
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(sched.live(), 0);
    });
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_ThereIsADefaultOutgoingQueueSize
#[test]
fn there_is_a_default_outgoing_queue_size() {
    let result = within(TIMEOUT, || {
        let (body, stop, feedback) = threaded_sender(false);
        let sched = Scheduler::new();
        sched.spawn(Threaded::new(body));
        // Start the thread, then leave the scheduler alone: nothing drains the queue.
        sched.step(10);
        stop.0.send(Cmd::Send(99_999)).unwrap();
        feedback
            .recv_timeout(PATIENCE)
            .expect("no feedback from the thread")
    });
    assert_ne!(result, Feedback::AllSent);
    match result {
        Feedback::NoSpaceAfter(n) => {
            assert!(n > 0);
            // Kamaelia's default queue length (spec A10: `queuelengths=1000`).
            assert_eq!(n, DEFAULT_QUEUE_LENGTH);
            assert_eq!(DEFAULT_QUEUE_LENGTH, 1000);
        }
        other => panic!("{other:?}"),
    }
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_CanSetOutgoingQueueSize
#[test]
fn the_outgoing_queue_size_can_be_set() {
    const QSIZE: usize = 20;
    let result = within(TIMEOUT, || {
        let (body, stop, feedback) = threaded_sender(false);
        let sched = Scheduler::new();
        sched.spawn(Threaded::with_queue_length(body, QSIZE));
        sched.step(10);
        stop.0.send(Cmd::Send(99_999)).unwrap();
        feedback
            .recv_timeout(PATIENCE)
            .expect("no feedback from the thread")
    });
    assert_eq!(result, Feedback::NoSpaceAfter(QSIZE));
}

// new: spec A10.4 (the proxy drains the outqueues into the real outboxes; an unlinked outbox
// drops, A3.3, so a running scheduler never lets the queue fill up)
#[test]
fn a_running_scheduler_keeps_draining_an_unlinked_outbox() {
    let result = within(TIMEOUT, || {
        let (body, stop, feedback) = threaded_sender(true);
        let sched = Scheduler::new();
        sched.spawn(Threaded::with_queue_length(body, 20));
        stop.0.send(Cmd::Send(100)).unwrap();
        let r = recv_stepping(&sched, &feedback);
        drop(stop);
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        r
    });
    assert_eq!(result, Feedback::AllSent);
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_RestrictedInboxSize
#[test]
fn sending_into_a_threaded_component_fails_after_inbox_size_plus_queue_size() {
    const QSIZE: usize = 20;
    const BSIZE: usize = 10;
    within(TIMEOUT, || {
        let (release_tx, release_rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.spawn(Threaded::with_queue_length(
            DoesNothingThread {
                release: release_rx,
            },
            QSIZE,
        ));
        sched.ctx(t).set_inbox_size("inbox", Some(BSIZE)).unwrap();
        let d = root.spawn(does_nothing());
        let d_ctx = sched.ctx(d);
        d_ctx.link((d, "outbox"), (t, "inbox")).unwrap();
        sched.step(10);
        for i in 0..QSIZE + BSIZE {
            d_ctx
                .send(i, "outbox")
                .unwrap_or_else(|e| panic!("send {i} failed: {e}"));
            sched.step(10);
        }
        match d_ctx.send(QSIZE + BSIZE, "outbox") {
            Err(SendError::NoSpaceInBox(e)) => {
                assert_eq!(e.size, BSIZE);
                assert_eq!(e.inbox, "inbox");
            }
            other => panic!("expected NoSpaceInBox, got {other:?}"),
        }
        // Let everything end.
        release_tx.send(()).unwrap();
        d_ctx.deliver((), "control").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
    });
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_NoSpaceInBoxExceptionsReachThread
#[test]
fn thread_sending_into_a_restricted_inbox_fails_after_inbox_size_plus_queue_size() {
    const QSIZE: usize = 20;
    const BSIZE: usize = 10;
    let result = within(TIMEOUT, || {
        let (body, stop, feedback) = threaded_sender(true);
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::with_queue_length(body, QSIZE));
        let d = root.spawn(does_nothing());
        let d_ctx = sched.ctx(d);
        d_ctx.set_inbox_size("inbox", Some(BSIZE)).unwrap();
        d_ctx.link((t, "outbox"), (d, "inbox")).unwrap();
        sched.step(10);
        root.activate(t).unwrap();
        stop.0.send(Cmd::Send(QSIZE + BSIZE + 10)).unwrap();
        let r = recv_stepping(&sched, &feedback);
        assert_eq!(d_ctx.data_ready("inbox"), BSIZE);
        r
    });
    assert_eq!(result, Feedback::NoSpaceAfter(QSIZE + BSIZE));
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_TakingFromDestinationAllowsMoreToBeDelivered
#[test]
fn taking_from_the_destination_lets_exactly_that_many_more_through() {
    const QSIZE: usize = 20;
    const BSIZE: usize = 10;
    within(TIMEOUT, || {
        let (body, stop, feedback) = threaded_sender(false);
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::with_queue_length(body, QSIZE));
        let d = root.spawn(does_nothing());
        let d_ctx = sched.ctx(d);
        d_ctx.set_inbox_size("inbox", Some(BSIZE)).unwrap();
        d_ctx.link((t, "outbox"), (d, "inbox")).unwrap();
        sched.step(10);
        root.activate(t).unwrap();
        sched.step(10);

        // The scheduler stands still: the thread fills its queue.
        stop.0.send(Cmd::Send(QSIZE + BSIZE + 10)).unwrap();
        let r = feedback.recv_timeout(PATIENCE).expect("no feedback");
        assert_eq!(r, Feedback::NoSpaceAfter(QSIZE));

        // Flush them through to the destination's inbox.
        sched.step(BSIZE * 5);
        assert_eq!(d_ctx.data_ready("inbox"), BSIZE);

        // The thread fills the newly free slots of its queue.
        stop.0.send(Cmd::Send(QSIZE + BSIZE + 10)).unwrap();
        let r = feedback.recv_timeout(PATIENCE).expect("no feedback");
        assert_eq!(r, Feedback::NoSpaceAfter(BSIZE));

        // Collect some messages.
        let num_collect = BSIZE / 2;
        for _ in 0..num_collect {
            d_ctx.recv("inbox").unwrap();
        }
        // Let the scheduler flush some through from the thread.
        sched.step(50);
        assert_eq!(d_ctx.data_ready("inbox"), BSIZE);

        stop.0.send(Cmd::Send(QSIZE + BSIZE + 10)).unwrap();
        let r = recv_stepping(&sched, &feedback);
        assert_eq!(r, Feedback::NoSpaceAfter(num_collect));
    });
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_localprocessterminatesifInQueueFull
#[test]
fn component_ends_when_the_thread_ends_even_with_inbox_data_stuck() {
    struct Test;
    impl ThreadedComponent for Test {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            let deadline = std::time::Instant::now() + PATIENCE;
            while ctx.data_ready("control") == 0 {
                if std::time::Instant::now() > deadline {
                    return Err("control never arrived".into());
                }
                ctx.pause(Some(Duration::from_millis(50)));
            }
            Ok(())
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let t = sched.spawn(Threaded::with_queue_length(Test, 5));
        let t_ctx = sched.ctx(t);
        // More than the internal queue can hold.
        for i in 0..10u32 {
            t_ctx.deliver(i, "inbox").unwrap();
        }
        t_ctx.deliver((), "control").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(sched.root().is_stopped(t));
        assert_eq!(sched.live(), 0);
    });
}

// ports test_ThreadedComponent.py threadedcomponent_Test test_localprocessterminatesOnlyIfOutqueueFlushed
#[test]
fn component_ends_only_once_its_outgoing_queue_is_flushed() {
    struct Test(mpsc::Sender<usize>);
    impl ThreadedComponent for Test {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            let mut count = 0;
            loop {
                match ctx.send(count, "outbox") {
                    Ok(()) => count += 1,
                    Err(SendError::NoSpaceInBox(_)) => {
                        // The queue is full: end at once.
                        self.0.send(count)?;
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    within(TIMEOUT, || {
        let (tx, count_rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::with_queue_length(Test(tx), 5));
        let r = root.create(does_nothing());
        let r_ctx = sched.ctx(r);
        r_ctx.link((t, "outbox"), (r, "inbox")).unwrap();
        r_ctx.set_inbox_size("inbox", Some(1)).unwrap();
        root.activate(r).unwrap();
        root.activate(t).unwrap();

        let sent = recv_stepping(&sched, &count_rx);
        assert!(sent >= 5, "the thread sent {sent}");
        sched.step(50);
        assert!(
            !root.is_stopped(t),
            "the threaded component must not end while its queue holds messages"
        );
        assert_eq!(r_ctx.data_ready("inbox"), 1);

        // Relax the inbox size restriction and start receiving.
        r_ctx.set_inbox_size("inbox", Some(999)).unwrap();
        let mut got = vec![r_ctx.recv_as::<usize>("inbox").unwrap()];
        step_until(&sched, || root.is_stopped(t));
        while let Ok(n) = r_ctx.recv_as::<usize>("inbox") {
            got.push(n);
        }
        assert_eq!(got, (0..sent).collect::<Vec<_>>());
        assert!(root.is_stopped(t));
    });
}

// new: spec A10.4 ("Ends when the thread has finished and the outqueues have been flushed"):
// a thread that sends and returns at once loses nothing, in order
#[test]
fn everything_the_thread_sent_is_delivered_in_order_before_the_component_ends() {
    struct Burst;
    impl ThreadedComponent for Burst {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            for i in 0..500u32 {
                ctx.send(i, "outbox")?;
            }
            ctx.send(String::from("done"), "signal")?;
            Ok(())
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::new(Burst));
        root.link((t, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((t, "signal"), (root.id(), "control")).unwrap();
        root.activate(t).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        let got: Vec<u32> = std::iter::from_fn(|| root.recv_as::<u32>("inbox").ok()).collect();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
        assert_eq!(root.recv_as::<String>("control").unwrap(), "done");
    });
}

// new: doc of ThreadedComponent::main ("An `Err` or a panic ends the component with that
// failure reported")
#[test]
fn a_thread_returning_err_is_reported_as_a_failure_of_its_component() {
    struct Fails;
    impl ThreadedComponent for Fails {
        fn main(self, _ctx: ThreadCtx) -> ComponentResult {
            Err("the disk is on fire".into())
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.spawn(Threaded::new(Fails));
        let ok = root.spawn(component("Fine", |_| async { Ok(()) }));
        let name = root.name_of(t);
        let report = sched.run();
        assert!(!report.is_clean());
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].component, name);
        assert!(
            report.failures[0].error.contains("the disk is on fire"),
            "{report:?}"
        );
        assert_eq!(report.ended, 2);
        assert!(root.is_stopped(t));
        assert!(root.is_stopped(ok));
    });
}

// new: doc of ThreadedComponent::main (a panic is reported, and does not take the scheduler
// down)
#[test]
fn a_thread_that_panics_is_reported_as_a_failure_of_its_component() {
    struct Panics;
    impl ThreadedComponent for Panics {
        fn main(self, _ctx: ThreadCtx) -> ComponentResult {
            panic!("thread exploded");
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.spawn(Threaded::new(Panics));
        let name = root.name_of(t);
        let report = sched.run();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].component, name);
        assert!(
            report.failures[0].error.contains("thread exploded"),
            "{report:?}"
        );
        assert!(root.is_stopped(t));
        assert_eq!(sched.live(), 0);
    });
}

// new: spec A10.4 (messages the thread queued before failing are still delivered)
#[test]
fn messages_sent_before_a_thread_fails_are_still_delivered() {
    struct SendsThenFails;
    impl ThreadedComponent for SendsThenFails {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            ctx.send(1u8, "outbox")?;
            ctx.send(2u8, "outbox")?;
            Err("gave up".into())
        }
    }
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::new(SendsThenFails));
        root.link((t, "outbox"), (root.id(), "inbox")).unwrap();
        root.activate(t).unwrap();
        let report = sched.run();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(root.recv_as::<u8>("inbox").unwrap(), 1);
        assert_eq!(root.recv_as::<u8>("inbox").unwrap(), 2);
    });
}

// new: spec A10.4/A10.5 and the doc of ThreadCtx::sync ("the proxy has run at least once
// when it returns"): in Kamaelia a thread's request is run by the proxy in its cycle, after it
// has drained the outqueues, so when `sync()` returns what the thread sent before it has been
// delivered (the throttling the brief and Python's timing-based tests rely on)
#[test]
fn sync_returns_only_after_what_was_sent_before_it_is_delivered() {
    struct SendThenSync {
        go: mpsc::Receiver<()>,
        synced: mpsc::Sender<()>,
    }
    impl ThreadedComponent for SendThenSync {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            self.go.recv_timeout(PATIENCE)?;
            ctx.send(1u8, "outbox")?;
            ctx.sync()?;
            self.synced.send(())?;
            Ok(())
        }
    }
    within(TIMEOUT, || {
        let (go_tx, go_rx) = mpsc::channel();
        let (synced_tx, synced_rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::new(SendThenSync {
            go: go_rx,
            synced: synced_tx,
        }));
        let d = root.spawn(does_nothing());
        let d_ctx = sched.ctx(d);
        d_ctx.link((t, "outbox"), (d, "inbox")).unwrap();
        root.activate(t).unwrap();
        // The thread starts and waits; everything else is paused.
        sched.step(10);
        go_tx.send(()).unwrap();
        // Give the thread time to send and to ask for the sync.
        std::thread::sleep(Duration::from_millis(200));
        // One cycle at a time, until the sync has come back to the thread.
        loop {
            sched.step(1);
            if synced_rx.recv_timeout(Duration::from_millis(500)).is_ok() {
                break;
            }
        }
        assert_eq!(
            d_ctx.data_ready("inbox"),
            1,
            "sync() returned before the proxy delivered the message sent before it"
        );
        d_ctx.deliver((), "control").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
    });
}

// ----- threadedadaptivecommscomponent_Test ----------------------------------------------------

// ports test_ThreadedComponent.py threadedadaptivecommscomponent_Test test_smoketest_init
// (and test_smoketest_args, test_smoketest_oneargs: every Rust component is adaptive)
#[test]
fn threaded_adaptive_component_starts_with_the_default_boxes() {
    struct AddsOne(mpsc::Sender<(Vec<String>, String)>);
    impl ThreadedComponent for AddsOne {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            // A box can be added later; until then, only the defaults.
            let name = ctx.add_outbox("extra")?;
            let boxes = ctx.on_scheduler(|c| c.outboxes())?;
            self.0.send((boxes, name))?;
            Ok(())
        }
    }
    let (boxes, name) = within(TIMEOUT, || {
        let (tx, rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let t = root.create(Threaded::with_queue_length(AddsOne(tx), 10));
        assert_eq!(
            sched.ctx(t).inboxes(),
            vec!["inbox".to_string(), "control".to_string()]
        );
        assert_eq!(
            sched.ctx(t).outboxes(),
            vec!["outbox".to_string(), "signal".to_string()]
        );
        root.activate(t).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        rx.recv().unwrap()
    });
    assert_eq!(name, "extra");
    assert_eq!(
        boxes,
        vec![
            "outbox".to_string(),
            "signal".to_string(),
            "extra".to_string()
        ]
    );
}

// ports test_ThreadedComponent.py threadedadaptivecommscomponent_Test test_addInbox
#[test]
fn inbox_added_from_the_thread_receives_data() {
    struct T {
        to_test: mpsc::Sender<Result<String, String>>,
        from_test: mpsc::Receiver<()>,
    }
    impl ThreadedComponent for T {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            let boxname = ctx.add_inbox("newbox")?;
            self.to_test.send(Ok(boxname.clone()))?;
            self.from_test.recv_timeout(PATIENCE)?;
            if ctx.data_ready(&boxname) == 0 {
                self.to_test
                    .send(Err("Data should have been ready at the new inbox".into()))?;
                return Ok(());
            }
            let msg: String = ctx.recv(&boxname)?.downcast()?;
            self.to_test.send(Ok(msg))?;
            Ok(())
        }
    }
    within(TIMEOUT, || {
        let (to_test, from_thread) = mpsc::channel();
        let (to_thread, from_test) = mpsc::channel();
        let sched = Scheduler::new();
        let t = sched.spawn(Threaded::new(T { to_test, from_test }));
        let boxname = recv_stepping(&sched, &from_thread).expect("error in thread");
        assert_eq!(boxname, "newbox");
        assert!(sched.ctx(t).inboxes().contains(&boxname));
        sched
            .ctx(t)
            .deliver(String::from("hello"), &boxname)
            .unwrap();
        sched.step(10);
        to_thread.send(()).unwrap();
        let msg = recv_stepping(&sched, &from_thread).expect("error in thread");
        assert_eq!(msg, "hello");
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
    });
}

// ports test_ThreadedComponent.py threadedadaptivecommscomponent_Test test_addOutbox
#[test]
fn outbox_added_and_linked_from_the_thread_delivers() {
    struct T {
        dst: ComponentId,
        to_test: mpsc::Sender<String>,
        from_test: mpsc::Receiver<String>,
    }
    impl ThreadedComponent for T {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            let boxname = ctx.add_outbox("newbox")?;
            ctx.link(
                (ctx.id(), &boxname),
                (self.dst, "inbox"),
                Passthrough::Normal,
            )?;
            let msg = self.from_test.recv_timeout(PATIENCE)?;
            ctx.send(msg.clone(), &boxname)?;
            self.to_test.send(msg)?;
            Ok(())
        }
    }
    let (sent, rec) = within(TIMEOUT, || {
        let (to_test, from_thread) = mpsc::channel();
        let (to_thread, from_test) = mpsc::channel();
        let (rec_tx, rec_rx) = mpsc::channel();
        let sched = Scheduler::new();
        let root = sched.root();
        let r = root.create(component("Recv", move |ctx| async move {
            loop {
                ctx.yield_now().await;
                if ctx.data_ready("inbox") > 0 {
                    rec_tx.send(ctx.recv_as::<String>("inbox")?)?;
                    return Ok(());
                }
            }
        }));
        root.activate(r).unwrap();
        root.spawn(Threaded::new(T {
            dst: r,
            to_test,
            from_test,
        }));
        to_thread.send(String::from("hello")).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        (
            from_thread.try_recv().expect("the thread did not send"),
            rec_rx.try_iter().collect::<Vec<_>>(),
        )
    });
    assert_eq!(sent, "hello");
    assert_eq!(rec, vec!["hello".to_string()]);
}

// new: doc of ThreadCtx::delete_inbox ("returns the messages left in it and its queue")
#[test]
fn inbox_deleted_from_the_thread_hands_back_what_was_left() {
    struct T {
        ready: mpsc::Sender<String>,
        go: mpsc::Receiver<()>,
        result: mpsc::Sender<Vec<u32>>,
    }
    impl ThreadedComponent for T {
        fn main(self, ctx: ThreadCtx) -> ComponentResult {
            let name = ctx.add_inbox("work")?;
            self.ready.send(name.clone())?;
            self.go.recv_timeout(PATIENCE)?;
            let left = ctx.delete_inbox(&name)?;
            let left = left
                .into_iter()
                .map(|m| m.downcast::<u32>())
                .collect::<Result<Vec<_>, _>>()?;
            if ctx.add_inbox("work")? != "work" {
                return Err("the deleted name was not free again".into());
            }
            self.result.send(left)?;
            Ok(())
        }
    }
    let left = within(TIMEOUT, || {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        let (res_tx, res_rx) = mpsc::channel();
        let sched = Scheduler::new();
        let t = sched.spawn(Threaded::with_queue_length(
            T {
                ready: ready_tx,
                go: go_rx,
                result: res_tx,
            },
            3,
        ));
        let name = recv_stepping(&sched, &ready_rx);
        // Five messages: three fit in the thread's queue, two stay in the real inbox.
        for i in 0..5u32 {
            sched.ctx(t).deliver(i, &name).unwrap();
        }
        sched.step(10);
        go_tx.send(()).unwrap();
        let left = recv_stepping(&sched, &res_rx);
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        left
    });
    let mut sorted = left.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 1, 2, 3, 4], "nothing lost: {left:?}");
}
