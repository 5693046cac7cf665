//! The small util components: `Fanout`, `PureTransformer`, `OneShot`, `PassThrough`,
//! `Chargen` and `Clock` (spec B7 and the `Clock.py` original), their data behaviour, and the
//! uniform stop rule of issue 3 (fixing spec (f)5): `ProducerFinished` finishes the work held,
//! `ShutdownMicroprocess` and `Shutdown` stop at once, and the message received goes out of
//! `signal`.
//!
//! Every test runs its scheduler on a spawned thread and fails if it takes longer than a
//! generous timeout, so that nothing can hang.

mod common;

use std::time::{Duration, Instant};

use axon::ipc::{ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::util::chargen::{Chargen, HELLO_WORLD};
use axon::util::clock::Clock;
use axon::util::fanout::{Cloner, Fanout};
use axon::util::one_shot::OneShot;
use axon::util::pass_through::PassThrough;
use axon::util::pure_transformer::PureTransformer;
use axon::{component, Component, Ctx, Message, RunReport, Scheduler};
use common::{drain, drain_as, sink, stops, within};

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Asserts `m` is the same kind of stop message as `kind_of`.
fn assert_same_stop(m: &Message, now: bool, which: &str) {
    if now {
        assert!(
            m.is::<ShutdownMicroprocess>() || m.is::<Shutdown>(),
            "{which}: expected the stop-now message passed on, got {m:?}"
        );
    } else {
        assert!(
            m.is::<ProducerFinished>(),
            "{which}: expected ProducerFinished passed on, got {m:?}"
        );
    }
}

/// What a component did with work and a stop message waiting before it first ran.
struct Outcome {
    out: Vec<Message>,
    signal: Vec<Message>,
    report: RunReport,
}

/// Runs `c` with `items` waiting in its inbox and `stop` on its control, both there before
/// it first runs, and collects its `outbox` and `signal`.
fn run_with(c: impl Component, items: Vec<Message>, stop: Message) -> Outcome {
    let sched = Scheduler::new();
    let root = sched.root();
    let id = root.create(c);
    let out = sink(&root, "Out");
    let sig = sink(&root, "Sig");
    root.link((root.id(), "outbox"), (id, "inbox")).unwrap();
    root.link((root.id(), "signal"), (id, "control")).unwrap();
    root.link((id, "outbox"), (out, "inbox")).unwrap();
    root.link((id, "signal"), (sig, "inbox")).unwrap();
    for m in items {
        root.send(m, "outbox").unwrap();
    }
    root.send(stop, "signal").unwrap();
    root.activate(id).unwrap();
    let report = sched.run();
    assert!(
        root.is_stopped(id),
        "the component did not stop: {report:?}"
    );
    Outcome {
        out: drain(&sched, out, "inbox"),
        signal: drain(&sched, sig, "inbox"),
        report,
    }
}

/// The uniform stop rule for a component that works item by item: with `ProducerFinished`
/// every waiting item is handled first (`expect_out` outputs), with a stop-now message none
/// is; either way the stop message received, and only it, goes out of `signal`.
fn check_stop_rule<C: Component>(
    make: impl Fn() -> C,
    items: impl Fn() -> Vec<Message>,
    expect_out: usize,
) {
    for (stop, now) in stops() {
        let which = format!(
            "{} stopped by {}",
            std::any::type_name::<C>(),
            stop.type_name()
        );
        let o = run_with(make(), items(), stop);
        assert!(o.report.is_clean(), "{which}: {:?}", o.report);
        assert_eq!(o.out.len(), if now { 0 } else { expect_out }, "{which}");
        assert_eq!(o.signal.len(), 1, "{which}");
        assert_same_stop(&o.signal[0], now, &which);
    }
}

fn strings(v: &[&str]) -> Vec<Message> {
    v.iter().map(|s| Message::new(s.to_string())).collect()
}

// ----- Fanout ----------------------------------------------------------------------------

/// Spec B7: Fanout "copies every inbox item to every outbox" — here `outbox` and each named
/// box, in order.
#[test]
fn fanout_copies_each_item_to_outbox_and_every_named_box() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let fan = root.spawn(Fanout::new(["a", "b"]));
        let (out, a, b) = (sink(&root, "Out"), sink(&root, "A"), sink(&root, "B"));
        root.link((root.id(), "outbox"), (fan, "inbox")).unwrap();
        root.link((fan, "outbox"), (out, "inbox")).unwrap();
        root.link((fan, "a"), (a, "inbox")).unwrap();
        root.link((fan, "b"), (b, "inbox")).unwrap();
        for i in 0..3u32 {
            root.send(i, "outbox").unwrap();
        }
        sched.run();
        for c in [out, a, b] {
            assert_eq!(drain_as::<u32>(&sched, c, "inbox"), vec![0, 1, 2]);
        }
    });
}

/// Spec (f)11: Kamaelia's Fanout also copies data to "signal". Issue 3 fixes that: data never
/// goes to `signal`; only the stop message does.
#[test]
fn fanout_keeps_data_off_signal() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let fan = root.spawn(Fanout::new(["a"]));
        let sig = sink(&root, "Sig");
        root.link((root.id(), "outbox"), (fan, "inbox")).unwrap();
        root.link((root.id(), "signal"), (fan, "control")).unwrap();
        root.link((fan, "signal"), (sig, "inbox")).unwrap();
        root.send(String::from("data"), "outbox").unwrap();
        sched.run();
        assert_eq!(sched.ctx(sig).data_ready("inbox"), 0);
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        assert!(sched.run().is_clean());
        let signalled = drain(&sched, sig, "inbox");
        assert_eq!(signalled.len(), 1);
        assert!(signalled[0].is::<ShutdownMicroprocess>());
    });
}

/// Python's `Fanout.__init__` adds one outbox per name to "outbox" and "signal"; repeated
/// names (and the two standard ones) add nothing.
#[test]
fn fanout_declares_one_outbox_per_name() {
    let f = Fanout::new(["x", "outbox", "y", "x", "signal"]);
    let names: Vec<String> = f.outboxes().iter().map(|b| b.name.to_string()).collect();
    assert_eq!(names, ["outbox", "signal", "x", "y"]);
    assert_eq!(f.destinations(), ["outbox", "x", "y"]);
    assert_eq!(
        f.outboxes()[2].description,
        "Copy of data received at 'inbox' inbox"
    );
}

/// Uniform stop rule (issue 3): ProducerFinished fans out the waiting items first;
/// ShutdownMicroprocess and Shutdown stop at once. Python's Fanout ignored `shutdown`.
#[test]
fn fanout_follows_the_uniform_stop_rule() {
    within(TIMEOUT, || {
        check_stop_rule(|| Fanout::new(["x"]), || strings(&["a", "b"]), 2);
    });
}

/// Messages are moved in Rust, so Fanout copies them with a Cloner: an item of a type the
/// cloner does not know makes it fail with an error naming the type and the fix.
#[test]
fn fanout_refuses_an_item_it_cannot_copy_and_learns_new_types() {
    #[derive(Clone, Debug, PartialEq)]
    struct Reading(u32);

    within(TIMEOUT, || {
        let o = run_with(
            Fanout::new(["x"]),
            vec![Message::new(Reading(1))],
            Message::new(ProducerFinished::default()),
        );
        assert_eq!(o.report.failures.len(), 1);
        let error = &o.report.failures[0].error;
        assert!(error.contains("Reading"), "{error}");
        assert!(error.contains("Fanout::cloning"), "{error}");

        let o = run_with(
            Fanout::new(["x"]).cloning::<Reading>(),
            vec![Message::new(Reading(1))],
            Message::new(ProducerFinished::default()),
        );
        assert!(o.report.is_clean());
        assert_eq!(o.out[0].downcast_ref::<Reading>(), Some(&Reading(1)));
    });
}

/// The Cloner knows the common types and Axon's IPC messages, and learns others.
#[test]
fn cloner_copies_known_types() {
    let c = Cloner::new();
    for m in [
        Message::new(String::from("s")),
        Message::new("s"),
        Message::new(vec![1u8, 2]),
        Message::new(1.5f64),
        Message::new(std::sync::Arc::<str>::from("shared")),
        Message::new(ProducerFinished::default()),
        Message::new(Shutdown),
    ] {
        let copy = c.try_clone(&m).expect("a known type");
        assert_eq!(copy.type_name(), m.type_name());
    }
    assert_eq!(
        c.try_clone(&Message::new(7i64))
            .unwrap()
            .downcast::<i64>()
            .unwrap(),
        7
    );
    assert!(!c.can_clone(&Message::new(std::cell::Cell::new(1))));
    let c = c.with::<std::cell::Cell<i32>>();
    assert!(c.can_clone(&Message::new(std::cell::Cell::new(1))));
}

// ----- PureTransformer --------------------------------------------------------------------

/// Spec B7: "for each inbox item, sends f(item) unless it is None".
#[test]
fn pure_transformer_sends_results_and_skips_none() {
    within(TIMEOUT, || {
        let o = run_with(
            PureTransformer::new(|n: u32| (n % 2 == 0).then_some(n * 10)),
            (1..=4u32).map(Message::new).collect(),
            Message::new(ProducerFinished::default()),
        );
        let out: Vec<u32> = o.out.into_iter().map(|m| m.downcast().unwrap()).collect();
        assert_eq!(out, vec![20, 40]);
    });
}

/// Uniform stop rule (issue 3). Python's PureTransformer did not stop on
/// shutdownMicroprocess at all (spec (f)5) and sent its own producerFinished.
#[test]
fn pure_transformer_follows_the_uniform_stop_rule() {
    within(TIMEOUT, || {
        check_stop_rule(
            || PureTransformer::new(|s: String| Some(s.len())),
            || strings(&["a", "bb", "ccc"]),
            3,
        );
    });
}

/// The function is typed: an item of another type fails the component, naming both types.
/// Taking a `Message` accepts anything.
#[test]
fn pure_transformer_checks_the_item_type() {
    within(TIMEOUT, || {
        let o = run_with(
            PureTransformer::new(|s: String| Some(s)),
            vec![Message::new(5u8)],
            Message::new(ProducerFinished::default()),
        );
        assert_eq!(o.report.failures.len(), 1);
        let error = &o.report.failures[0].error;
        assert!(error.contains("u8") && error.contains("String"), "{error}");

        let o = run_with(
            PureTransformer::new(|m: Message| Some(m.type_name())),
            vec![Message::new(5u8), Message::new("x")],
            Message::new(ProducerFinished::default()),
        );
        let out: Vec<&str> = o.out.into_iter().map(|m| m.downcast().unwrap()).collect();
        assert_eq!(out, vec!["u8", "&str"]);
    });
}

// ----- OneShot ----------------------------------------------------------------------------

/// Spec B7: OneShot "sends msg, yields once, sends producerFinished(self) on signal, and
/// ends".
#[test]
fn one_shot_sends_once_then_producer_finished() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let shot = root.spawn(OneShot::new(String::from("only")));
        root.link((shot, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((shot, "signal"), (root.id(), "control")).unwrap();
        // After one cycle of running, the message is out but the signal is not yet.
        while root.data_ready("inbox") == 0 {
            sched.step(1);
        }
        assert_eq!(root.data_ready("control"), 0);
        assert!(sched.run().is_clean());
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "only");
        assert_eq!(root.data_ready("inbox"), 0);
        let done: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(done.caller, Some(shot));
    });
}

/// Uniform stop rule (issue 3): a stop-now message waiting when it starts means nothing is
/// sent; a ProducerFinished lets the message go first. The message received is passed on
/// instead of OneShot's own ProducerFinished.
#[test]
fn one_shot_follows_the_uniform_stop_rule() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let o = run_with(OneShot::new(1u8), vec![], stop);
            assert!(o.report.is_clean());
            assert_eq!(o.out.len(), if now { 0 } else { 1 });
            assert_eq!(o.signal.len(), 1);
            assert_same_stop(&o.signal[0], now, "OneShot");
            if !now {
                // The PF passed on is the one received (no caller), not its own.
                assert_eq!(
                    o.signal[0]
                        .downcast_ref::<ProducerFinished>()
                        .unwrap()
                        .caller,
                    None
                );
            }
        }
    });
}

// ----- PassThrough ------------------------------------------------------------------------

/// Spec B7: PassThrough "forwards inbox→outbox and control→signal". Control messages that
/// are not stop messages go to signal and do not stop it.
#[test]
fn pass_through_forwards_both_pairs_of_boxes() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pt = root.spawn(PassThrough);
        let (out, sig) = (sink(&root, "Out"), sink(&root, "Sig"));
        root.link((root.id(), "outbox"), (pt, "inbox")).unwrap();
        root.link((root.id(), "signal"), (pt, "control")).unwrap();
        root.link((pt, "outbox"), (out, "inbox")).unwrap();
        root.link((pt, "signal"), (sig, "inbox")).unwrap();
        root.send("apples", "outbox").unwrap();
        root.send("a note", "signal").unwrap();
        root.send("pears", "outbox").unwrap();
        sched.run();
        assert!(!root.is_stopped(pt));
        assert_eq!(drain_as::<&str>(&sched, out, "inbox"), ["apples", "pears"]);
        assert_eq!(drain_as::<&str>(&sched, sig, "inbox"), ["a note"]);
    });
}

/// Uniform stop rule (issue 3). Python's PassThrough let waiting data through even on
/// shutdownMicroprocess (it reads inbox first); here stop-now means now.
#[test]
fn pass_through_follows_the_uniform_stop_rule() {
    within(TIMEOUT, || {
        check_stop_rule(|| PassThrough, || strings(&["a", "b", "c"]), 3);
    });
}

// ----- Chargen ----------------------------------------------------------------------------

/// Spec B7: Chargen "sends "Hello World" on outbox at every yield, forever, and ignores all
/// input" (here: all input but stop messages). It keeps going through other control
/// messages and inbox data.
#[test]
fn chargen_sends_hello_world_every_cycle() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let chargen = root.spawn(Chargen);
        let out = sink(&root, "Out");
        root.link((chargen, "outbox"), (out, "inbox")).unwrap();
        let cg = sched.ctx(chargen);
        cg.deliver("not a stop message", "control").unwrap();
        cg.deliver("ignored", "inbox").unwrap();
        let out_ctx = sched.ctx(out);
        while out_ctx.data_ready("inbox") < 5 {
            sched.step(1);
        }
        // One per cycle: a few more cycles give exactly that many more.
        let before = out_ctx.data_ready("inbox");
        sched.step(3);
        assert_eq!(out_ctx.data_ready("inbox"), before + 3);
        assert!(drain_as::<&str>(&sched, out, "inbox")
            .iter()
            .all(|s| *s == HELLO_WORLD));
        assert!(!root.is_stopped(chargen));
    });
}

/// Uniform stop rule (issue 3); Python's Chargen could not be stopped at all. It holds no
/// work, so every stop message stops it before its next send, and is passed on.
#[test]
fn chargen_stops_on_each_stop_message() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let sched = Scheduler::new();
            let root = sched.root();
            let chargen = root.spawn(Chargen);
            let (out, sig) = (sink(&root, "Out"), sink(&root, "Sig"));
            root.link((chargen, "outbox"), (out, "inbox")).unwrap();
            root.link((chargen, "signal"), (sig, "inbox")).unwrap();
            while sched.ctx(out).data_ready("inbox") == 0 {
                sched.step(1);
            }
            let sent = sched.ctx(out).data_ready("inbox");
            sched.ctx(chargen).deliver(stop, "control").unwrap();
            assert!(sched.run().is_clean());
            assert!(root.is_stopped(chargen));
            assert_eq!(sched.ctx(out).data_ready("inbox"), sent);
            let signalled = drain(&sched, sig, "inbox");
            assert_eq!(signalled.len(), 1);
            assert_same_stop(&signalled[0], now, "Chargen");
        }
    });
}

// ----- Clock ------------------------------------------------------------------------------

/// `Clock.py`: CheapAndCheerfulClock sends True at once and then every interval. Ticks are at
/// least an interval apart (checked as lower bounds only).
#[test]
fn clock_ticks_true_every_interval() {
    within(TIMEOUT, || {
        let interval = Duration::from_millis(20);
        let sched = Scheduler::new();
        let root = sched.root();
        let clock = root.spawn(Clock::new(interval));
        let out = sink(&root, "Out");
        root.link((clock, "outbox"), (out, "inbox")).unwrap();
        let out_ctx = sched.ctx(out);
        let mut times = Vec::new();
        while times.len() < 3 {
            sched.step(1);
            while let Ok(tick) = out_ctx.recv("inbox") {
                assert!(tick.downcast::<bool>().unwrap());
                times.push(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The n-th tick is due n intervals after the first.
        assert!(times[2] - times[0] >= interval * 2 - Duration::from_millis(1));
        sched.ctx(clock).deliver(Shutdown, "control").unwrap();
        assert!(sched.run().is_clean());
    });
}

/// Uniform stop rule (issue 3); Python's clock could not be stopped. A stop message ends it at
/// once, even an hour before its next tick (the test's timeout would catch a wait), and is
/// passed on. Other control messages do not stop it.
#[test]
fn clock_stops_at_once_mid_interval() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let sched = Scheduler::new();
            let root = sched.root();
            let clock = root.spawn(Clock::new(Duration::from_secs(3600)));
            let (out, sig) = (sink(&root, "Out"), sink(&root, "Sig"));
            root.link((clock, "outbox"), (out, "inbox")).unwrap();
            root.link((clock, "signal"), (sig, "inbox")).unwrap();
            while sched.ctx(out).data_ready("inbox") == 0 {
                sched.step(1);
            }
            sched.ctx(clock).deliver("not a stop", "control").unwrap();
            sched.step(3);
            assert!(!root.is_stopped(clock));
            sched.ctx(clock).deliver(stop, "control").unwrap();
            assert!(sched.run().is_clean());
            assert!(root.is_stopped(clock));
            assert_eq!(sched.ctx(out).data_ready("inbox"), 1);
            let signalled = drain(&sched, sig, "inbox");
            assert_eq!(signalled.len(), 1);
            assert_same_stop(&signalled[0], now, "Clock");
        }
    });
}

/// A zero interval still lets the other components run: the clock yields between ticks.
#[test]
fn clock_with_zero_interval_yields() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let clock = root.spawn(Clock::new(Duration::ZERO));
        let counter = root.spawn(component("Counter", |ctx: Ctx| async move {
            let mut n = 0;
            while n < 10 {
                while ctx.recv("inbox").is_ok() {
                    n += 1;
                }
                ctx.pause();
                ctx.yield_now().await;
            }
            ctx.send(ShutdownMicroprocess::default(), "signal")?;
            Ok(())
        }));
        root.link((clock, "outbox"), (counter, "inbox")).unwrap();
        root.link((counter, "signal"), (clock, "control")).unwrap();
        assert!(sched.run().is_clean());
    });
}

// new: issue 3 (back-pressure): PassThrough into a full inbox keeps the refused message,
// takes nothing more, and delivers everything in order once the reader collects
#[test]
fn pass_through_waits_for_a_full_destination() {
    let sched = axon::Scheduler::new();
    let root = sched.root();
    let pt = root.create(axon::util::PassThrough);
    root.link((root.id(), "outbox"), (pt, "inbox")).unwrap();
    root.link((pt, "outbox"), (root.id(), "inbox")).unwrap();
    root.set_inbox_size("inbox", Some(2)).unwrap();
    for i in 0..10u32 {
        root.send(i, "outbox").unwrap();
    }
    root.activate(pt).unwrap();
    let report = sched.run();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.left_paused.len(), 1, "PassThrough waits: {report:?}");
    let mut got = Vec::new();
    for _ in 0..20 {
        while let Ok(m) = root.recv("inbox") {
            got.push(m.downcast::<u32>().unwrap());
        }
        sched.step(3);
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}
