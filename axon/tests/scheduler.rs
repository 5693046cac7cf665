//! Behaviour of the cooperative scheduler.
//!
//! Ports `Tests/Python/Axon/test_Scheduler.py` (Kamaelia) to the Rust API, plus rules of the
//! behaviour spec (`kamaelia-spec.md`, section A4) that the Python suite does not test.
//!
//! Python drives `scheduler.main()` by hand with `next()`; here that is
//! [`Scheduler::step`], one cycle per call, which never blocks. Python's
//! `scheduler.pauseThread(mp)` / `wakeThread(mp)` from outside a microprocess are
//! `sched.ctx(id).pause()` / `root.wake(id)`; `isThreadPaused` is `Ctx::is_paused` and
//! `listAllThreads` is `Scheduler::live` (count) together with `Scheduler::paused` (names).
//!
//! Not ported: `test_importsuccess` and `test_SmokeTest_NoArguments` (the Python scheduler is
//! a class-level singleton; Rust schedulers are plain values, see
//! `several_independent_schedulers_run_at_once_in_separate_threads`), and
//! `test_runThreadsSlowmo` (there is no slowmo in the Rust scheduler).
//!
//! Every test runs inside `common::within`, which fails the test instead of hanging if the body
//! does not finish within [`LIMIT`] (20 s).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axon::{
    component, Component, ComponentResult, Ctx, RunReport, Scheduler, ThreadCtx, Threaded,
    ThreadedComponent,
};
use common::within;

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(20);

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Counts one run per cycle, for ever (Python's `TestRunningMProc`, whose `next()` sets
/// `mainCalled`).
async fn spin(ctx: Ctx, runs: Arc<AtomicUsize>) -> ComponentResult {
    loop {
        runs.fetch_add(1, SeqCst);
        ctx.yield_now().await;
    }
}

fn busy(runs: &Arc<AtomicUsize>) -> impl Component {
    let runs = runs.clone();
    component("Busy", move |ctx| spin(ctx, runs))
}

/// Pauses itself for ever, counting the times it runs.
async fn sleep_forever(ctx: Ctx, runs: Arc<AtomicUsize>) -> ComponentResult {
    loop {
        runs.fetch_add(1, SeqCst);
        ctx.pause();
        ctx.yield_now().await;
    }
}

fn sleeper(runs: &Arc<AtomicUsize>) -> impl Component {
    let runs = runs.clone();
    component("Sleeper", move |ctx| sleep_forever(ctx, runs))
}

/// Runs `count` times (one per cycle), then ends (Python's `SimpleTestMProc`).
fn countdown(count: usize, runs: &Arc<AtomicUsize>) -> impl Component {
    let runs = runs.clone();
    component("Countdown", move |ctx| async move {
        for _ in 0..count {
            runs.fetch_add(1, SeqCst);
            ctx.yield_now().await;
        }
        Ok(())
    })
}

/// Sets its flag when dropped: shows that a component's body was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

/// How many runs each counter gains over `cycles` more cycles.
fn gains(sched: &Scheduler, runs: &[Arc<AtomicUsize>], cycles: usize) -> Vec<usize> {
    let before: Vec<usize> = runs.iter().map(|r| r.load(SeqCst)).collect();
    sched.step(cycles);
    runs.iter()
        .zip(before)
        .map(|(r, b)| r.load(SeqCst) - b)
        .collect()
}

// ----- ported from test_Scheduler.py ---------------------------------------------------------

// ports test_Scheduler.py test_stopsIfNoThreads
#[test]
fn stops_if_no_components() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        assert!(
            !sched.step(5),
            "step must report that no components remain when there are none"
        );
        let report = sched.run();
        assert_eq!(report, RunReport::default());
        assert!(report.is_clean());
        assert_eq!(sched.live(), 0);
    });
}

// ports test_Scheduler.py test_runsMicroprocessToCompletionThenStops
#[test]
fn runs_one_component_to_completion_then_stops() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs = counter();
        let c = sched.spawn(countdown(10, &runs));
        let mut cycles = 0;
        while sched.step(1) {
            cycles += 1;
            assert!(cycles < 1000, "should have stopped by now");
        }
        assert_eq!(runs.load(SeqCst), 10, "run until completion");
        assert!(sched.root().is_stopped(c), "ended once its body returned");
        assert_eq!(sched.live(), 0);
    });
}

// ports test_Scheduler.py test_runsMicroprocessToCompletionThenStops, driven by run()
#[test]
fn run_runs_one_component_to_completion_then_returns() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs = counter();
        let c = sched.spawn(countdown(10, &runs));
        let report = sched.run();
        assert_eq!(runs.load(SeqCst), 10);
        assert_eq!(report.ended, 1);
        assert!(report.is_clean(), "{report:?}");
        assert!(sched.root().is_stopped(c));
    });
}

// ports test_Scheduler.py test_runsMicroprocessesAllToCompletionThenStops
#[test]
fn runs_several_components_all_to_completion_then_returns() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs: Vec<_> = (0..4).map(|_| counter()).collect();
        let ids: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| sched.spawn(countdown((i + 1) * 10, r)))
            .collect();
        let report = sched.run();
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(
                r.load(SeqCst),
                (i + 1) * 10,
                "component {i} ran to completion"
            );
        }
        for &c in &ids {
            assert!(sched.root().is_stopped(c));
        }
        assert_eq!(report.ended, 4);
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(sched.live(), 0);
    });
}

// ports test_Scheduler.py test_pausedMicroprocessDoesNotGetCalled
#[test]
fn paused_component_is_not_run() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs = counter();
        let c = sched.spawn(busy(&runs));
        sched.step(3); // grace
        for _ in 0..10 {
            assert_eq!(
                gains(&sched, std::slice::from_ref(&runs), 1),
                [1],
                "runs once a cycle"
            );
        }
        sched.ctx(c).pause();
        sched.step(3); // grace
        assert!(sched.root().is_paused(c));
        for _ in 0..10 {
            assert_eq!(
                gains(&sched, std::slice::from_ref(&runs), 1),
                [0],
                "paused: not run"
            );
        }
        assert_eq!(sched.paused(), vec![sched.root().name_of(c)]);
        assert_eq!(sched.live(), 1, "a paused component is still live");
    });
}

// ports test_Scheduler.py test_oneMicroprocessPausesOthersContinueToRun
#[test]
fn one_component_pauses_others_continue_to_run() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs: Vec<_> = (0..6).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [2; 6]);
        }
        sched.ctx(ids[0]).pause();
        sched.step(3);
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [0, 2, 2, 2, 2, 2]);
        }
    });
}

// ports test_Scheduler.py test_pausedMicroprocessCanBeWoken
#[test]
fn paused_component_can_be_woken() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..6).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        sched.ctx(ids[0]).pause();
        sched.step(3);
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [0, 2, 2, 2, 2, 2]);
        }
        root.wake(ids[0]);
        sched.step(5);
        assert!(!root.is_paused(ids[0]));
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [2; 6], "woken: runs again");
        }
        assert!(sched.paused().is_empty());
    });
}

// ports test_Scheduler.py test_wakingPausedMicroprocessDoesntWakeOthers
#[test]
fn waking_a_paused_component_does_not_wake_others() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..6).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(5);
        for &c in &ids {
            sched.ctx(c).pause();
        }
        sched.step(3);
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [0; 6]);
        }
        root.wake(ids[5]);
        sched.step(5);
        for _ in 0..10 {
            assert_eq!(gains(&sched, &runs, 2), [0, 0, 0, 0, 0, 2]);
        }
        assert_eq!(sched.paused().len(), 5);
    });
}

// ports test_Scheduler.py test_wakingAlreadyAwakeMicroprocessHasNoEffect (waking part)
#[test]
fn waking_an_awake_component_has_no_effect() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..6).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [3; 6]);
        root.wake(ids[5]);
        root.wake(ids[5]);
        // Still run exactly once a cycle: not twice (queued twice), not paused.
        assert_eq!(gains(&sched, &runs, 3), [3; 6]);
        assert_eq!(sched.live(), 6);
        assert!(!root.is_paused(ids[5]));
        // Pausing it afterwards pauses it alone.
        sched.ctx(ids[5]).pause();
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [3, 3, 3, 3, 3, 0]);
    });
}

// ports test_Scheduler.py test_wakingAlreadyAwakeMicroprocessHasNoEffect (pausing part: "and
// pausing a paused one")
#[test]
fn pausing_a_paused_component_has_no_effect() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..3).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        sched.ctx(ids[0]).pause();
        sched.step(3);
        assert!(root.is_paused(ids[0]));
        // Pause again, while paused: nothing changes, and no pause request lingers.
        sched.ctx(ids[0]).pause();
        sched.ctx(ids[0]).pause();
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [0, 3, 3]);
        root.wake(ids[0]);
        sched.step(3);
        assert_eq!(
            gains(&sched, &runs, 3),
            [3, 3, 3],
            "one wake must be enough after repeated pauses"
        );
    });
}

// ports test_Scheduler.py test_wakingOrPausingNonActivatedMicroprocessHasoEffect
#[test]
fn waking_or_pausing_a_never_activated_component_has_no_effect() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..6).map(|_| counter()).collect();
        let ids: Vec<_> = runs[..5].iter().map(|r| sched.spawn(busy(r))).collect();
        let themp = root.create(busy(&runs[5]));
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [3, 3, 3, 3, 3, 0]);
        assert_eq!(sched.live(), 5);

        root.wake(themp);
        sched.step(3);
        assert_eq!(
            gains(&sched, &runs, 3),
            [3, 3, 3, 3, 3, 0],
            "wake did not add it"
        );
        assert_eq!(sched.live(), 5);

        sched.ctx(themp).pause();
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [3, 3, 3, 3, 3, 0]);
        assert_eq!(sched.live(), 5);
        assert!(!root.is_paused(themp), "never activated: not paused");
        assert!(!root.is_stopped(themp), "never activated: not ended either");
        assert_eq!(sched.paused().len(), 0);

        // Activated later, it runs normally: the earlier pause left nothing behind.
        root.activate(themp).unwrap();
        sched.step(3);
        assert_eq!(gains(&sched, &runs, 3), [3; 6]);
        assert_eq!(sched.live(), 6);
        drop(ids);
    });
}

// ports test_Scheduler.py test_listAllThreadsMethodListsAllMicroprocesses
#[test]
fn live_counts_paused_and_awake_components_and_paused_lists_the_paused() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..5).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        assert_eq!(sched.live(), 5);
        assert!(sched.paused().is_empty());
        sched.ctx(ids[1]).pause();
        sched.ctx(ids[4]).pause();
        sched.step(3);
        assert_eq!(sched.live(), 5, "paused components are still listed");
        assert_eq!(
            sorted(sched.paused()),
            sorted(vec![root.name_of(ids[1]), root.name_of(ids[4])])
        );
    });
}

// ports test_Scheduler.py test_isThreadPausedWorks
#[test]
fn is_paused_reports_each_component() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..5).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        sched.step(3);
        for &c in &ids {
            assert!(!root.is_paused(c));
        }
        for &mp in &ids {
            sched.ctx(mp).pause();
            sched.step(3);
            for &c in &ids {
                assert_eq!(root.is_paused(c), c == mp, "only the one paused is paused");
            }
            assert_eq!(sched.paused(), vec![root.name_of(mp)]);
            root.wake(mp);
            sched.step(3);
            assert!(!root.is_paused(mp));
        }
    });
}

// ports test_Scheduler.py test_isThreadPausedNotRecognised. Deliberate difference: Python's
// isThreadPaused answers True for a microprocess the scheduler does not know; Rust's
// Ctx::is_paused is documented as "True if component c is activated and paused", so it answers
// false for a never-activated component and for one of another scheduler.
#[test]
fn is_paused_is_false_for_components_not_scheduled_here() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let other_sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..5).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        let foreign = other_sched.spawn(busy(&counter()));
        let unactivated = root.create(busy(&counter()));
        sched.step(3);
        for &c in &ids {
            sched.ctx(c).pause();
        }
        sched.step(3);
        for &c in &ids {
            assert!(root.is_paused(c));
        }
        assert!(!root.is_paused(foreign));
        assert!(!root.is_paused(unactivated));
        assert!(
            root.is_stopped(foreign),
            "is_stopped: true for a component never of this scheduler"
        );
    });
}

// ports test_Scheduler.py test_pauseThenTerminateTerminates
#[test]
fn pause_then_terminate_still_terminates() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let c = sched.spawn(component("ImmediateTerminator", |ctx| async move {
            ctx.pause();
            Ok(())
        }));
        let mut cycles = 0;
        while sched.step(1) {
            cycles += 1;
            assert!(cycles < 100, "scheduler should have terminated by now");
        }
        assert!(sched.root().is_stopped(c));
        assert!(sched.paused().is_empty());
    });
}

// ports test_Scheduler.py test_pauseThenTerminateTerminates, driven by run()
#[test]
fn pause_then_terminate_still_terminates_under_run() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let c = sched.spawn(component("ImmediateTerminator", |ctx| async move {
            ctx.pause();
            Ok(())
        }));
        let report = sched.run();
        assert_eq!(report.ended, 1);
        assert!(report.is_clean(), "{report:?}");
        assert!(sched.root().is_stopped(c));
    });
}

/// Holds the scheduler open from a thread: waits (bounded) until told to return.
struct Holder(mpsc::Receiver<()>);

impl ThreadedComponent for Holder {
    fn main(self, _ctx: ThreadCtx) -> ComponentResult {
        let _ = self.0.recv_timeout(LIMIT);
        Ok(())
    }
}

// ports test_Scheduler.py test_directUsageOfMainDoesntBlock. Strengthened: a live thread (which
// would make run() wait) does not make step() wait either.
#[test]
fn step_never_blocks_even_when_everything_is_paused() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs: Vec<_> = (0..5).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(busy(r))).collect();
        let (release, held) = mpsc::channel();
        let holder = sched.spawn(Threaded::new(Holder(held)));
        assert!(sched.step(100));
        for &c in &ids {
            sched.ctx(c).pause();
        }
        // Everything is paused now (the holder's proxy pauses itself); these must return.
        assert!(sched.step(100), "components remain");
        assert!(sched.step(100), "components remain");
        assert_eq!(gains(&sched, &runs, 10), [0; 5]);
        assert!(sched.root().is_paused(holder));
        assert_eq!(sched.paused().len(), 6);
        // Let the thread finish: run() then returns, leaving the five paused.
        release.send(()).unwrap();
        let report = sched.run();
        assert!(sched.root().is_stopped(holder));
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(report.left_paused.len(), 5, "{report:?}");
    });
}

/// Sleeps on its own thread, then sends one message.
struct LateSender(Duration);

impl ThreadedComponent for LateSender {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        std::thread::sleep(self.0);
        ctx.send(String::from("late"), "outbox")?;
        Ok(())
    }
}

// ports test_Scheduler.py test_runThreadsUsesNonBusyWaitingMode. The Python test measured CPU
// time; timing assertions are not allowed here, so this checks that run() waits for the thread
// (instead of returning early with the consumer left paused), that the paused consumer is not
// run over and over while it waits, and that run() returns once the thread has finished.
#[test]
fn run_waits_without_spinning_while_a_thread_may_still_wake_a_component() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let consumer_runs = counter();
        let got = Arc::new(Mutex::new(None::<String>));
        let (runs, slot) = (consumer_runs.clone(), got.clone());
        let consumer = root.create(component("Consumer", move |ctx| async move {
            loop {
                runs.fetch_add(1, SeqCst);
                if ctx.data_ready("inbox") > 0 {
                    *slot.lock().unwrap() = Some(ctx.recv_as::<String>("inbox")?);
                    return Ok(());
                }
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        let sender = root.create(Threaded::new(LateSender(Duration::from_millis(200))));
        root.link((sender, "outbox"), (consumer, "inbox")).unwrap();
        root.activate(consumer).unwrap();
        root.activate(sender).unwrap();
        let start = Instant::now();
        let report = sched.run();
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.ended, 2);
        assert_eq!(got.lock().unwrap().as_deref(), Some("late"));
        let n = consumer_runs.load(SeqCst);
        assert!(
            n <= 4,
            "the paused consumer ran {n} times: it was woken without cause while waiting"
        );
    });
}

// ----- new tests: rules the Python suite does not test -----------------------------------------

// new: a component that fails ends alone; the scheduler reports it and keeps running the others
// (spec A4.5 "recommended port semantics": exception → cleanup of that component; and the
// Component::main doc: "An Err (or a panic) ends this component alone; the scheduler reports it")
#[test]
fn component_returning_err_ends_alone_and_is_reported() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let failer = sched.spawn(component("Failer", |ctx| async move {
            ctx.yield_now().await;
            Err("the disk is on fire".into())
        }));
        let failer_name = root.name_of(failer);
        let runs = counter();
        let other = sched.spawn(countdown(50, &runs));
        let report = sched.run();
        assert_eq!(runs.load(SeqCst), 50, "the others keep running");
        assert!(root.is_stopped(failer));
        assert!(root.is_stopped(other));
        assert_eq!(report.ended, 2);
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].component, failer_name);
        assert!(
            report.failures[0].error.contains("the disk is on fire"),
            "{report:?}"
        );
        assert!(!report.is_clean());
        assert!(report.left_paused.is_empty());
        assert!(!report.stopped);
    });
}

// new: the same for a component that panics (Component::main doc: "An Err (or a panic) ends
// this component alone; the scheduler reports it")
#[test]
fn component_panicking_ends_alone_and_is_reported() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let panicker = sched.spawn(component("Panicker", |ctx| async move {
            ctx.yield_now().await;
            ctx.yield_now().await;
            panic!("deliberate test panic: ignore this message");
        }));
        let panicker_name = root.name_of(panicker);
        let runs = counter();
        sched.spawn(countdown(50, &runs));
        let report = sched.run();
        assert_eq!(runs.load(SeqCst), 50, "the others keep running");
        assert!(root.is_stopped(panicker));
        assert_eq!(report.ended, 2);
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].component, panicker_name);
        assert!(
            report.failures[0].error.contains("deliberate test panic"),
            "{report:?}"
        );
    });
}

// new: when every component is paused and nothing can wake them, run() returns and lists them
// (spec A4.4: Kamaelia's runThreads blocks for ever here; RunReport::left_paused doc: "Kamaelia's
// scheduler would hang for ever here")
#[test]
fn run_returns_when_every_component_is_paused_and_nothing_can_wake_them() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs: Vec<_> = (0..3).map(|_| counter()).collect();
        let ids: Vec<_> = runs.iter().map(|r| sched.spawn(sleeper(r))).collect();
        let done = counter();
        sched.spawn(countdown(5, &done));
        let report = sched.run();
        let names: Vec<String> = ids.iter().map(|&c| root.name_of(c)).collect();
        assert_eq!(sorted(report.left_paused.clone()), sorted(names.clone()));
        assert_eq!(report.ended, 1, "only the countdown ended");
        assert!(report.failures.is_empty());
        assert!(!report.stopped);
        assert!(!report.is_clean());
        assert_eq!(sorted(sched.paused()), sorted(names));
        assert_eq!(done.load(SeqCst), 5);
        for r in &runs {
            assert_eq!(r.load(SeqCst), 1, "each sleeper ran once, then slept");
        }
    });
}

// new: Ctx::stop_scheduler ends the run at the end of the cycle, with stopped=true, and the
// components still present are dropped (spec A4.7)
#[test]
fn ctx_stop_scheduler_ends_the_run_and_drops_remaining_components() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let (busy_dropped, paused_dropped) = (flag(), flag());
        let (g1, g2) = (
            DropFlag(busy_dropped.clone()),
            DropFlag(paused_dropped.clone()),
        );
        let runs = counter();
        let r = runs.clone();
        sched.spawn(component("Immortal", move |ctx| async move {
            let _guard = g1;
            spin(ctx, r).await
        }));
        sched.spawn(component("Dozer", move |ctx| async move {
            let _guard = g2;
            sleep_forever(ctx, counter()).await
        }));
        sched.spawn(component("Stopper", |ctx| async move {
            for _ in 0..5 {
                ctx.yield_now().await;
            }
            ctx.stop_scheduler();
            loop {
                ctx.yield_now().await;
            }
        }));
        assert!(!busy_dropped.load(SeqCst));
        let report = sched.run();
        assert!(report.stopped, "{report:?}");
        assert!(report.left_paused.is_empty(), "{report:?}");
        assert!(report.failures.is_empty(), "{report:?}");
        assert!(!report.is_clean());
        assert!(runs.load(SeqCst) >= 5);
        assert!(busy_dropped.load(SeqCst), "a running component is dropped");
        assert!(paused_dropped.load(SeqCst), "a paused component is dropped");
        assert_eq!(sched.live(), 0);
    });
}

// new: StopHandle::stop from another thread ends a running (busy) scheduler with stopped=true
// and drops its components (spec A4.7, A4.9)
#[test]
fn stop_handle_from_another_thread_ends_a_busy_run() {
    let (handle_tx, handle_rx) = mpsc::channel();
    let (running_tx, running_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel();
    let dropped = flag();
    let d = dropped.clone();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let guard = DropFlag(d);
        sched.spawn(component("Spinner", move |ctx| async move {
            let _guard = guard;
            let _ = running_tx.send(());
            loop {
                ctx.yield_now().await;
            }
        }));
        handle_tx.send(sched.stop_handle()).unwrap();
        let report = sched.run();
        let _ = report_tx.send((report, sched.live()));
    });
    let stop = handle_rx
        .recv_timeout(LIMIT)
        .expect("scheduler thread started");
    running_rx
        .recv_timeout(LIMIT)
        .expect("the component started running");
    assert!(!dropped.load(SeqCst));
    stop.stop();
    let (report, live) = report_rx
        .recv_timeout(LIMIT)
        .expect("run() did not return after StopHandle::stop");
    assert!(report.stopped, "{report:?}");
    assert!(report.left_paused.is_empty());
    assert!(dropped.load(SeqCst), "the component was dropped");
    assert_eq!(live, 0);
}

/// A thread that runs until the scheduler stops its component.
struct UntilStopped(mpsc::Sender<()>);

impl ThreadedComponent for UntilStopped {
    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        let _ = self.0.send(());
        let deadline = Instant::now() + LIMIT;
        while !ctx.should_stop() && Instant::now() < deadline {
            ctx.pause(Some(Duration::from_millis(50)));
        }
        Ok(())
    }
}

// new: StopHandle::stop also ends a run that is blocked waiting (every component paused, a live
// thread that might still wake one) (spec A4.7, A4.9; StopHandle::stop doc)
#[test]
fn stop_handle_ends_a_run_blocked_waiting_for_a_thread() {
    let (handle_tx, handle_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let (report_tx, report_rx) = mpsc::channel();
    let dropped = flag();
    let d = dropped.clone();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let guard = DropFlag(d);
        sched.spawn(component("Dozer", move |ctx| async move {
            let _guard = guard;
            sleep_forever(ctx, counter()).await
        }));
        sched.spawn(Threaded::new(UntilStopped(started_tx)));
        handle_tx.send(sched.stop_handle()).unwrap();
        let report = sched.run();
        let _ = report_tx.send(report);
    });
    let stop = handle_rx
        .recv_timeout(LIMIT)
        .expect("scheduler thread started");
    started_rx.recv_timeout(LIMIT).expect("thread started");
    stop.stop();
    let report = report_rx
        .recv_timeout(LIMIT)
        .expect("run() did not return after StopHandle::stop");
    assert!(report.stopped, "{report:?}");
    assert!(report.left_paused.is_empty(), "{report:?}");
    assert!(dropped.load(SeqCst));
}

// new: activation is a queued request: a newly activated component first runs in the next cycle
// (spec A4.3)
#[test]
fn activation_takes_effect_at_the_next_cycle() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let (la, lb) = (log.clone(), log.clone());
        sched.spawn(component("A", move |ctx| async move {
            la.lock().unwrap().push("A1");
            ctx.spawn(component("B", move |_| async move {
                lb.lock().unwrap().push("B1");
                Ok(())
            }));
            ctx.yield_now().await;
            la.lock().unwrap().push("A2");
            ctx.yield_now().await;
            la.lock().unwrap().push("A3");
            Ok(())
        }));
        sched.step(1);
        assert!(
            log.lock().unwrap().is_empty(),
            "activated from outside: not run in the first cycle"
        );
        sched.step(1);
        assert_eq!(
            *log.lock().unwrap(),
            ["A1"],
            "B was activated in this cycle: it must not run before the next one"
        );
        sched.step(1);
        let seen: BTreeSet<&str> = log.lock().unwrap()[1..].iter().copied().collect();
        assert_eq!(seen, BTreeSet::from(["A2", "B1"]));
        assert!(!sched.step(10));
        assert_eq!(log.lock().unwrap().len(), 4);
    });
}

// new: a pause and a wake in the same cycle leave the component awake (spec A4.3: pauses are
// processed before wakes; "pause followed by a wake in the same cycle leaves the mp awake")
#[test]
fn pause_then_wake_in_the_same_cycle_leaves_it_awake() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let runs = counter();
        let c = sched.spawn(busy(&runs));
        sched.step(3);
        sched.ctx(c).pause();
        sched.root().wake(c);
        sched.step(3);
        assert!(!sched.root().is_paused(c));
        assert_eq!(gains(&sched, &[runs], 5), [5]);
    });
}

// new: several independent schedulers run at the same time, each on its own thread, and their
// components' ids still never clash (spec A1.1/A1.2: one process-wide counter; Scheduler doc:
// "several may run in one process, each on its own thread")
#[test]
fn several_independent_schedulers_run_at_once_in_separate_threads() {
    const N: usize = 4;
    let arrived = counter();
    let (tx, rx) = mpsc::channel();
    for t in 0..N {
        let (arrived, tx) = (arrived.clone(), tx.clone());
        std::thread::spawn(move || {
            let sched = Scheduler::new();
            let root = sched.root();
            let producer = root.create(component("Producer", move |ctx| async move {
                // Meet the other schedulers: only possible if they all run at once.
                arrived.fetch_add(1, SeqCst);
                let deadline = Instant::now() + LIMIT;
                while arrived.load(SeqCst) < N && Instant::now() < deadline {
                    ctx.yield_now().await;
                }
                let met = arrived.load(SeqCst) >= N;
                for i in 0..1000u64 {
                    ctx.send(i, "outbox")?;
                    ctx.yield_now().await;
                }
                if !met {
                    return Err("the other schedulers never ran at the same time".into());
                }
                Ok(())
            }));
            let sum = Arc::new(AtomicUsize::new(0));
            let s = sum.clone();
            let consumer = root.create(component("Consumer", move |ctx| async move {
                let mut n = 0;
                while n < 1000 {
                    while let Ok(m) = ctx.recv("inbox") {
                        s.fetch_add(m.downcast::<u64>()? as usize, SeqCst);
                        n += 1;
                    }
                    ctx.pause();
                    ctx.yield_now().await;
                }
                Ok(())
            }));
            root.link((producer, "outbox"), (consumer, "inbox"))
                .unwrap();
            let names = vec![root.name_of(producer), root.name_of(consumer)];
            root.activate(producer).unwrap();
            root.activate(consumer).unwrap();
            let report = sched.run();
            let _ = tx.send((t, report, sum.load(SeqCst), names));
        });
    }
    let mut names = BTreeSet::new();
    for _ in 0..N {
        let (t, report, sum, ns) = rx
            .recv_timeout(LIMIT)
            .expect("a scheduler thread did not finish");
        assert!(report.is_clean(), "scheduler {t}: {report:?}");
        assert_eq!(sum, (0..1000).sum::<usize>(), "scheduler {t}");
        for n in ns {
            assert!(names.insert(n.clone()), "two components share the name {n}");
        }
    }
}

// new: Ctx::sleep pauses the component for at least the time asked, lets the others run
// meanwhile, and keeps run() from giving up on it (Ctx::sleep doc: "Pauses this component for
// at least d, letting the others run (a timer wakes it)"). Only a lower bound is asserted.
#[test]
fn sleep_wakes_after_the_time() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let asleep = flag();
        let ran_meanwhile = counter();
        let result = Arc::new(Mutex::new(None::<(Duration, Duration)>));
        let (a, res) = (asleep.clone(), result.clone());
        sched.spawn(component("Napper", move |ctx| async move {
            let t0 = Instant::now();
            a.store(true, SeqCst);
            ctx.sleep(Duration::from_millis(100)).await;
            a.store(false, SeqCst);
            let cycle_start = ctx.scheduler_time();
            *res.lock().unwrap() = Some((t0.elapsed(), cycle_start.duration_since(t0)));
            Ok(())
        }));
        let (a, m) = (asleep.clone(), ran_meanwhile.clone());
        sched.spawn(component("Other", move |ctx| async move {
            ctx.yield_now().await;
            for _ in 0..3 {
                if a.load(SeqCst) {
                    m.fetch_add(1, SeqCst);
                }
                ctx.yield_now().await;
            }
            Ok(())
        }));
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        let (elapsed, by_scheduler_time) = result.lock().unwrap().expect("napper finished");
        assert!(
            elapsed >= Duration::from_millis(100),
            "woke after {elapsed:?}"
        );
        assert!(
            by_scheduler_time >= Duration::from_millis(100),
            "scheduler_time of the waking cycle is only {by_scheduler_time:?} after the start"
        );
        assert!(
            ran_meanwhile.load(SeqCst) > 0,
            "other components run while one sleeps"
        );
    });
}

// new: A4.4 with timers: the timer of a component that has ended can wake no one, so it must
// not keep the scheduler waiting (here for an hour) once every live component is paused
#[test]
fn timers_of_ended_components_do_not_keep_the_scheduler_waiting() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        sched.spawn(component("Napper", |ctx: Ctx| async move {
            // Start an hour-long sleep, poll it once (its timer is set), then give up on it.
            let mut nap = Box::pin(ctx.sleep(Duration::from_secs(3600)));
            std::future::poll_fn(|cx| {
                let _ = std::future::Future::poll(nap.as_mut(), cx);
                std::task::Poll::Ready(())
            })
            .await;
            Ok(())
        }));
        sched.spawn(component("Waiter", |ctx: Ctx| async move {
            loop {
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 1, "{report:?}");
        assert!(report.left_paused[0].starts_with("Waiter_"));
    });
}

// new: A4.2/A4.3 (no lost wake): a component made in the slot of one that has just ended, in
// the same cycle as a (stale) wake for the old one, is still activated and runs
#[test]
fn a_component_reusing_a_fresh_slot_is_not_mistaken_for_its_predecessor() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        sched.spawn(component("Parent", move |ctx: Ctx| async move {
            let first = ctx.spawn(component("First", |_| async { Ok(()) }));
            while !ctx.is_stopped(first) {
                ctx.yield_now().await;
            }
            // A wake for the component that has ended (its slot is free now), then a new
            // component, which takes that slot, in the same cycle.
            ctx.wake(first);
            let flag = flag.clone();
            let second = ctx.spawn(component("Second", move |_| async move {
                flag.store(true, SeqCst);
                Ok(())
            }));
            assert_eq!(
                second.to_string().split('.').next(),
                first.to_string().split('.').next()
            );
            Ok(())
        }));
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(ran.load(SeqCst), "the second component never ran");
    });
}
