//! Behaviour of components: boxes, names, children, linkages, receiving.
//!
//! Ports `Tests/Python/Axon/test_Component.py` (class `Component_Test`; the
//! `MessageDeliveryNotifications_Test` class is not ported here) and the parts of
//! `Tests/Python/Axon/test_Microprocess.py` that still make sense in Rust, plus rules of the
//! behaviour spec (`kamaelia-spec.md`, sections A1-A3).
//!
//! Python calls methods of components from outside (`tc1.send(...)`, `tc2.recv()`); here that is
//! `sched.ctx(id)`, a context acting as that component.
//!
//! Not ported, because the Rust design has no counterpart:
//! - `test___str__strict`, `test___str__relaxed`: there is no `Display` for components.
//! - `test___addChild`: an empty placeholder in Python.
//! - `test_main_smokeTest`, `test_main_closedowntest`, `test_initialiseComponent`,
//!   `test_mainBody`, `test_closeDownComponent`: the legacy initialiseComponent / mainBody /
//!   closeDownComponent protocol does not exist; a component is one `async fn main`.
//! - `test__closeDownMicroprocess_smoketest` / `_None`, test_Microprocess.py
//!   `test__closeDownMicroprocess`: there are no close-down knock-on values.
//! - test_Microprocess.py `test_setSchedulerClass`, `test_activate_afterCallingSetSchedulerClass`:
//!   no scheduler classes; a component is created in the scheduler that will run it.
//! - test_Microprocess.py `test_Next`: stepping a microprocess by hand while paused has no
//!   counterpart (a body is only polled by its scheduler).
//!
//! Every test runs inside `common::within`, which fails the test instead of hanging if the body
//! does not finish within [`LIMIT`] (20 s).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axon::{
    component, next_id, BoxSpec, Component, ComponentId, ComponentResult, Ctx, Passthrough,
    RecvError, Scheduler, WrongType, DEFAULT_INBOXES, DEFAULT_OUTBOXES,
};
use common::within;

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(20);

/// A component that ends as soon as it runs (Python's bare `component()`, never activated in
/// most of these tests).
fn plain(label: &'static str) -> impl Component {
    component(label, |_ctx| async { Ok(()) })
}

/// A component with a type of its own, to check the default label.
struct Relay;

impl Component for Relay {
    async fn main(self, _ctx: Ctx) -> ComponentResult {
        Ok(())
    }
}

/// Python's `TComponent`: tc1.outbox → tc2.inbox and tc1.signal → tc2.control, linked by a
/// third party (here the root).
fn tcomponent(sched: &Scheduler) -> (ComponentId, ComponentId) {
    let root = sched.root();
    let tc1 = root.create(plain("TC1"));
    let tc2 = root.create(plain("TC2"));
    root.link((tc1, "outbox"), (tc2, "inbox")).unwrap();
    root.link((tc1, "signal"), (tc2, "control")).unwrap();
    (tc1, tc2)
}

fn recv_str(ctx: &Ctx, inbox: &str) -> String {
    ctx.recv_as::<String>(inbox)
        .unwrap_or_else(|e| panic!("recv from {inbox}: {e}"))
}

/// The number after the last `_` of a component name.
fn name_number(name: &str) -> u64 {
    let (_, n) = name
        .rsplit_once('_')
        .unwrap_or_else(|| panic!("{name:?} has no _<n>"));
    n.parse()
        .unwrap_or_else(|_| panic!("{name:?} does not end in _<number>"))
}

// ----- ported from test_Component.py Component_Test --------------------------------------------

// ports test_Component.py test_SmokeTest_NoArguments
#[test]
fn default_boxes_are_inbox_control_outbox_signal_and_start_empty() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let c = sched.root().create(plain("Plain"));
        let ctx = sched.ctx(c);
        assert_eq!(ctx.inboxes(), ["inbox", "control"]);
        assert_eq!(ctx.outboxes(), ["outbox", "signal"]);
        for b in ctx.inboxes() {
            assert_eq!(ctx.data_ready(&b), 0, "{b} starts empty");
            assert!(matches!(ctx.recv(&b), Err(RecvError::Empty { .. })));
        }
        assert!(ctx.children().is_empty(), "no children at first");
        assert!(ctx.linkages().is_empty());
        // The same defaults for a component type that declares nothing.
        let r = sched.root().create(Relay);
        assert_eq!(sched.ctx(r).inboxes(), ["inbox", "control"]);
        assert_eq!(sched.ctx(r).outboxes(), ["outbox", "signal"]);
    });
}

// ports test_Component.py test_SmokeTest_NoArguments (the Inboxes / Outboxes dicts), with the
// descriptions of spec A3.1.
// Note: Kamaelia's text for "signal" says "singal type signals" (a typo, checked against the
// installed Axon); the port spells it "signal", so that one word is compared loosely.
#[test]
fn default_boxes_have_kamaelia_descriptions() {
    let expect_in = [
        (
            "inbox",
            "Default inbox for bulk data. Used in a pipeline much like stdin",
        ),
        (
            "control",
            "Secondary inbox often used for signals. The closest analogy is unix signals",
        ),
    ];
    let expect_out = [
        (
            "outbox",
            "Default data out outbox, used in a pipeline much like stdout",
        ),
        (
            "signal",
            "The default signal based outbox - kinda like stderr, but more for sending singal type signals",
        ),
    ];
    let same = |got: &[BoxSpec], want: &[(&str, &str)]| {
        assert_eq!(got.len(), want.len());
        for (g, (name, desc)) in got.iter().zip(want) {
            assert_eq!(g.name, *name);
            assert_eq!(
                g.description.replace("singal", "signal"),
                desc.replace("singal", "signal"),
                "description of {name}"
            );
        }
    };
    same(DEFAULT_INBOXES, &expect_in);
    same(DEFAULT_OUTBOXES, &expect_out);
    same(&Relay.inboxes(), &expect_in);
    same(&Relay.outboxes(), &expect_out);
    let f = plain("F");
    same(&f.inboxes(), &expect_in);
    same(&f.outboxes(), &expect_out);
}

// ports test_Component.py test_addChildren
#[test]
fn add_children_adds_each_child_once() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let parent = root.create(plain("Parent"));
        let c1 = root.create(plain("Child"));
        let c2 = root.create(plain("Child"));
        let p = sched.ctx(parent);
        p.add_children(&[c1, c2]).unwrap();
        assert_eq!(p.children(), [c1, c2]);
        // Adding again, or twice in one call, still lists each once.
        p.add_children(&[c1]).unwrap();
        p.add_children(&[c2, c1, c2]).unwrap();
        assert_eq!(p.children(), [c1, c2]);
        // It does not activate them (spec A3.9).
        assert_eq!(sched.live(), 0);
    });
}

// ports test_Component.py test_removeChild: the child leaves the list and the parent undoes the
// linkages it made to or from the child (Python checks the call unlink(child, None)); linkages
// that others made to the child stay (spec A3.9, A6.4).
#[test]
fn remove_child_removes_it_and_undoes_the_parents_linkages_to_and_from_it() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let parent = root.create(plain("Parent"));
        let child = root.create(plain("Child"));
        let other = root.create(plain("Other"));
        let sibling = root.create(plain("Sibling"));
        let p = sched.ctx(parent);
        p.add_children(&[child, sibling]).unwrap();
        let to_child = p.link((parent, "outbox"), (child, "inbox")).unwrap();
        let from_child = p.link((child, "outbox"), (parent, "inbox")).unwrap();
        let to_sibling = p.link((parent, "signal"), (sibling, "control")).unwrap();
        let by_other = sched
            .ctx(other)
            .link((other, "outbox"), (child, "control"))
            .unwrap();

        p.remove_child(child);

        assert_eq!(p.children(), [sibling]);
        assert!(!p.is_linked(&to_child));
        assert!(!p.is_linked(&from_child));
        assert!(
            p.is_linked(&to_sibling),
            "other linkages of the parent stay"
        );
        assert_eq!(p.linkages(), [to_sibling]);
        assert!(sched.ctx(other).is_linked(&by_other));

        let c = sched.ctx(child);
        p.send(String::from("x"), "outbox").unwrap();
        assert_eq!(c.data_ready("inbox"), 0, "parent → child link is gone");
        c.send(String::from("y"), "outbox").unwrap();
        assert_eq!(p.data_ready("inbox"), 0, "child → parent link is gone");
        sched.ctx(other).send(String::from("z"), "outbox").unwrap();
        assert_eq!(recv_str(&c, "control"), "z", "other's link still delivers");
    });
}

// ports test_Component.py test_removeChild (deregistering the close-down callback): after
// remove_child, the child's end no longer wakes the parent (spec A3.9)
#[test]
fn removed_child_no_longer_wakes_the_parent_when_it_ends() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let parent = root.create(component("Parent", move |ctx| async move {
            loop {
                w.fetch_add(1, SeqCst);
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        let child = root.create(component("Child", |ctx| async move {
            for _ in 0..5 {
                ctx.yield_now().await;
            }
            Ok(())
        }));
        sched.ctx(parent).add_children(&[child]).unwrap();
        sched.ctx(parent).remove_child(child);
        root.activate(parent).unwrap();
        root.activate(child).unwrap();
        let report = sched.run();
        assert!(root.is_stopped(child));
        assert_eq!(wakes.load(SeqCst), 1, "parent ran once and was never woken");
        assert_eq!(report.left_paused, [root.name_of(parent)]);
    });
}

// ports test_Component.py test_childComponents
#[test]
fn children_lists_all_children_in_the_order_added() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let parent = root.create(plain("Parent"));
        let (c1, c2, c3) = (
            root.create(plain("C")),
            root.create(plain("C")),
            root.create(plain("C")),
        );
        let p = sched.ctx(parent);
        p.add_children(&[c3, c1]).unwrap();
        p.add_children(&[c2]).unwrap();
        let mut list = p.children();
        assert_eq!(list, [c3, c1, c2]);
        // It is a copy: changing it changes nothing.
        list.clear();
        assert_eq!(p.children().len(), 3);
        // Removing one keeps the order of the rest.
        p.remove_child(c1);
        assert_eq!(p.children(), [c3, c2]);
    });
}

// Not in Python: the same with hundreds of children (a server's), added and removed at random
// and checked against a list kept alongside, with the parent's linkages to each child.
#[test]
fn many_children_keep_their_order_and_linkages_through_random_adds_and_removes() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let parent = root.create(plain("Parent"));
        let p = sched.ctx(parent);
        let mut seed = 0x6a09_e667_f3bc_c909u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut model, mut links) = (Vec::new(), Vec::new());
        let mut most = 0;
        for step in 0..3_000 {
            let adding = next(10) < if (step / 500) % 2 == 0 { 8 } else { 2 };
            if adding || model.is_empty() {
                let c = root.create(plain("Child"));
                // Sometimes together with one already there, which is not added again.
                let again = (!model.is_empty() && next(3) == 0).then(|| model[next(model.len())]);
                match again {
                    Some(old) => p.add_children(&[old, c, old]).unwrap(),
                    None => p.add_children(&[c]).unwrap(),
                }
                model.push(c);
                links.push(p.link((c, "outbox"), (parent, "inbox")).unwrap());
            } else {
                let c = model.remove(next(model.len()));
                p.remove_child(c);
                links.retain(|l| l.source_pair().0 != c);
                // Removing it again changes nothing.
                if next(4) == 0 {
                    p.remove_child(c);
                }
            }
            most = most.max(model.len());
            if step % 7 == 0 || model.len() < 12 {
                assert_eq!(p.children(), model, "step {step}");
                assert_eq!(p.linkages(), links, "step {step}");
            }
        }
        assert!(most > 100, "at most {most} children");
        for c in model.drain(..).rev() {
            p.remove_child(c);
        }
        assert!(p.children().is_empty());
        assert!(p.linkages().is_empty());
    });
}

// ports test_Component.py test_dataReady
#[test]
fn data_ready_counts_up_with_sends_and_down_with_receives() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let (tc1, tc2) = tcomponent(&sched);
        let (a, b) = (sched.ctx(tc1), sched.ctx(tc2));
        for (outbox, inbox) in [("outbox", "inbox"), ("signal", "control")] {
            assert_eq!(b.data_ready(inbox), 0);
            a.send("a", outbox).unwrap();
            assert_eq!(b.data_ready(inbox), 1);
            b.recv(inbox).unwrap();
            assert_eq!(b.data_ready(inbox), 0);
            a.send("b", outbox).unwrap();
            a.send("c", outbox).unwrap();
            assert_eq!(b.data_ready(inbox), 2);
            b.recv(inbox).unwrap();
            assert_eq!(b.data_ready(inbox), 1);
            b.recv(inbox).unwrap();
            assert_eq!(b.data_ready(inbox), 0);
        }
        assert_eq!(a.data_ready("inbox"), 0, "nothing went the wrong way");
    });
}

// ports test_Component.py test_link: the linkage records its ends and passthrough kind, for the
// default, outbox→outbox (passthrough=2) and inbox→inbox (passthrough=1) kinds
#[test]
fn link_records_source_sink_and_passthrough() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let parent = root.create(plain("Parent"));
        let (ac, bc) = (root.create(plain("AC")), root.create(plain("BC")));
        let p = sched.ctx(parent);
        p.add_children(&[ac, bc]).unwrap();
        let l0 = p.link((ac, "outbox"), (bc, "inbox")).unwrap();
        assert_eq!(l0.source_pair(), (ac, "outbox"));
        assert_eq!(l0.sink_pair(), (bc, "inbox"));
        assert_eq!(l0.passthrough(), Passthrough::Normal);
        assert_eq!(l0.passthrough().number(), 0);
        let l2 = p
            .link_with(
                (bc, "outbox"),
                (parent, "outbox"),
                Passthrough::Outbound,
                None,
            )
            .unwrap();
        assert_eq!(l2.source_pair(), (bc, "outbox"));
        assert_eq!(l2.sink_pair(), (parent, "outbox"));
        assert_eq!(l2.passthrough().number(), 2);
        let l1 = p
            .link_with((parent, "inbox"), (ac, "inbox"), Passthrough::Inbound, None)
            .unwrap();
        assert_eq!(l1.source_pair(), (parent, "inbox"));
        assert_eq!(l1.sink_pair(), (ac, "inbox"));
        assert_eq!(l1.passthrough().number(), 1);
        assert_eq!(p.linkages(), [l0, l2, l1]);
    });
}

// ports test_Component.py test_recv: an empty box is an error (Python's IndexError); messages
// come out in the order sent, on inbox and on control
#[test]
fn recv_on_an_empty_box_is_empty_error_and_order_is_kept() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let (tc1, tc2) = tcomponent(&sched);
        let (a, b) = (sched.ctx(tc1), sched.ctx(tc2));
        let name = b.component_name();
        assert_eq!(name.to_string(), b.name());
        assert_eq!(
            b.recv("inbox").unwrap_err(),
            RecvError::Empty {
                component: name.clone(),
                inbox: "inbox".into()
            }
        );
        a.send(String::from("inbox1"), "outbox").unwrap();
        a.send(String::from("inbox2"), "outbox").unwrap();
        assert_eq!(recv_str(&b, "inbox"), "inbox1");
        assert_eq!(recv_str(&b, "inbox"), "inbox2");
        assert!(matches!(b.recv("inbox"), Err(RecvError::Empty { .. })));
        assert_eq!(
            b.recv("control").unwrap_err(),
            RecvError::Empty {
                component: name,
                inbox: "control".into()
            }
        );
        a.send(String::from("control1"), "signal").unwrap();
        a.send(String::from("control2"), "signal").unwrap();
        assert_eq!(recv_str(&b, "control"), "control1");
        assert_eq!(recv_str(&b, "control"), "control2");
        assert!(matches!(b.recv("control"), Err(RecvError::Empty { .. })));
        // A box that does not exist is a different error.
        assert!(matches!(b.recv("nosuchbox"), Err(RecvError::NoSuchBox(_))));
    });
}

// ports test_Component.py test_send: what is sent arrives, in order, over 1000 sends
#[test]
fn thousand_sends_arrive_in_fifo_order() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let (tc1, tc2) = tcomponent(&sched);
        let (a, b) = (sched.ctx(tc1), sched.ctx(tc2));
        a.send("ba", "outbox").unwrap();
        assert_eq!(b.recv_as::<&str>("inbox").unwrap(), "ba");
        a.send("bing", "signal").unwrap();
        a.send("boom", "signal").unwrap();
        assert_eq!(b.recv_as::<&str>("control").unwrap(), "bing");
        assert_eq!(b.recv_as::<&str>("control").unwrap(), "boom");
        // One at a time, as the Python test does...
        for x in 0..1000u32 {
            a.send(x, "outbox").unwrap();
            assert_eq!(b.recv_as::<u32>("inbox").unwrap(), x);
        }
        // ...and all 1000 queued before any is taken.
        for x in 0..1000u32 {
            a.send(x, "outbox").unwrap();
        }
        assert_eq!(b.data_ready("inbox"), 1000);
        for x in 0..1000u32 {
            assert_eq!(b.recv_as::<u32>("inbox").unwrap(), x);
        }
        assert_eq!(b.data_ready("inbox"), 0);
    });
}

// ports test_Component.py test_linkagesRemovedOnComponentShutdown: when a component ends, every
// linkage it made is undone (including links between other components); linkages that others
// made to or from it still deliver (spec A3.11)
#[test]
fn linkages_a_component_made_are_undone_when_it_ends_but_others_stay() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let a = root.create(plain("A"));
        let b = root.create(plain("B"));
        let c = root.create(plain("C"));
        let d = root.create(plain("D"));
        let (ca, cb, cc, cd) = (sched.ctx(a), sched.ctx(b), sched.ctx(c), sched.ctx(d));

        cc.link((a, "outbox"), (b, "inbox")).unwrap();
        cc.link_with((c, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
            .unwrap();
        cc.link_with((c, "inbox"), (a, "inbox"), Passthrough::Inbound, None)
            .unwrap();
        cd.link((d, "outbox"), (c, "inbox")).unwrap();
        cd.link((b, "outbox"), (d, "inbox")).unwrap();

        // The linkages work.
        cd.send(String::from("hello"), "outbox").unwrap();
        assert_eq!(recv_str(&ca, "inbox"), "hello");
        cc.send(String::from("hello"), "outbox").unwrap();
        assert_eq!(recv_str(&cd, "inbox"), "hello");
        ca.send(String::from("hello"), "outbox").unwrap();
        assert_eq!(recv_str(&cb, "inbox"), "hello");

        // End component c (Python calls c._closeDownMicroprocess()).
        root.activate(c).unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(root.is_stopped(c));
        assert!(cc.linkages().is_empty());
        assert_eq!(cd.linkages().len(), 2);

        cd.send(String::from("bye"), "outbox").unwrap();
        assert_eq!(
            recv_str(&cc, "inbox"),
            "bye",
            "d's link to c still delivers"
        );
        assert_eq!(
            ca.data_ready("inbox"),
            0,
            "c's inbox passthrough to a is gone"
        );
        cc.send(String::from("bye"), "outbox").unwrap();
        assert_eq!(cd.data_ready("inbox"), 0, "c's outbox passthrough is gone");
        cb.send(String::from("bye"), "outbox").unwrap();
        assert_eq!(cd.data_ready("inbox"), 1, "d's link from b still delivers");
        ca.send(String::from("bye"), "outbox").unwrap();
        assert_eq!(cb.data_ready("inbox"), 0, "the a → b link c made is gone");
    });
}

// ----- ported from test_Microprocess.py -------------------------------------------------------

// ports test_Microprocess.py test_SmokeTest_NoArguments (unique non-zero ids), with the naming
// rule of spec A1: names are "<Label>_<n>", n from the process-wide counter (axon::next_id)
#[test]
fn names_are_label_underscore_unique_number_from_next_id() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let before = next_id();
        let ids: Vec<ComponentId> = (0..3).map(|_| root.create(plain("Thing"))).collect();
        let relay = root.create(Relay);
        let after = next_id();
        let mut numbers = Vec::new();
        for &c in &ids {
            let name = root.name_of(c);
            assert!(name.starts_with("Thing_"), "{name}");
            numbers.push(name_number(&name));
        }
        let relay_name = root.name_of(relay);
        assert!(
            relay_name.starts_with("Relay_"),
            "default label is the type name without its path: {relay_name}"
        );
        numbers.push(name_number(&relay_name));
        for &n in &numbers {
            assert!(n > 0);
            assert!(
                before < n && n < after,
                "{n} was not taken from the shared counter between {before} and {after}"
            );
        }
        let mut unique = numbers.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            numbers.len(),
            "numbers are unique: {numbers:?}"
        );
        // Numbers are taken in creation order.
        assert!(numbers[..3].windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        // The context of a component reports the same name.
        assert_eq!(sched.ctx(ids[0]).name(), root.name_of(ids[0]));
        assert_eq!(sched.ctx(ids[0]).id(), ids[0]);
    });
}

// ports test_Microprocess.py test_activate_basicActivatation (and spec A2.1: construction runs
// nothing; activating twice does nothing)
#[test]
fn create_runs_nothing_until_activated_and_activating_twice_runs_once() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let c = root.create(component("Once", move |_ctx| async move {
            r.fetch_add(1, SeqCst);
            Ok(())
        }));
        assert!(!sched.step(10), "not activated: nothing to run");
        assert_eq!(runs.load(SeqCst), 0);
        assert!(!root.is_stopped(c));
        root.activate(c).unwrap();
        root.activate(c).unwrap();
        assert_eq!(sched.live(), 1);
        let report = sched.run();
        assert_eq!(runs.load(SeqCst), 1);
        assert_eq!(report.ended, 1);
        assert!(root.is_stopped(c));
        // Activating a component that has ended does not run it again.
        let _ = root.activate(c);
        sched.run();
        assert_eq!(runs.load(SeqCst), 1);
    });
}

// ports test_Microprocess.py test_overriddenMainWorksWithNext: the body runs step by step, one
// step per scheduler cycle, and ends after its last step
#[test]
fn body_runs_one_step_per_cycle_until_it_returns() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let i = Arc::new(AtomicUsize::new(0));
        let j = i.clone();
        let c = sched.spawn(component("TestThread", move |ctx| async move {
            while j.load(SeqCst) < 100 {
                j.fetch_add(1, SeqCst);
                ctx.yield_now().await;
            }
            Ok(())
        }));
        sched.step(1); // the activation cycle
        for n in 1..=100 {
            assert!(sched.step(1));
            assert_eq!(i.load(SeqCst), n, "iteration of main performed");
            assert!(!sched.root().is_stopped(c));
        }
        assert!(!sched.step(1), "ended after its last step");
        assert!(sched.root().is_stopped(c));
        assert_eq!(i.load(SeqCst), 100);
    });
}

// ports test_Microprocess.py test_Stop: not stopped before the end, stopped after; a wake after
// the end does not revive it
#[test]
fn is_stopped_after_the_end_and_a_wake_does_not_revive() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let c = sched.spawn(component("Short", move |ctx| async move {
            r.fetch_add(1, SeqCst);
            ctx.yield_now().await;
            Ok(())
        }));
        assert!(!root.is_stopped(c));
        sched.run();
        assert!(root.is_stopped(c));
        root.wake(c);
        assert!(!sched.step(5));
        assert!(root.is_stopped(c));
        assert!(!root.is_paused(c));
        assert_eq!(runs.load(SeqCst), 1);
    });
}

// ports test_Microprocess.py test_pause: paused after pause, runnable after a wake
#[test]
fn pause_makes_it_paused_and_wake_makes_it_runnable() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let c = sched.spawn(component("Loop", |ctx| async move {
            loop {
                ctx.yield_now().await;
            }
        }));
        sched.step(2);
        assert!(!root.is_paused(c));
        sched.ctx(c).pause();
        sched.step(2);
        assert!(root.is_paused(c));
        root.wake(c);
        sched.step(2);
        assert!(!root.is_paused(c));
    });
}

// ----- spec rules ---------------------------------------------------------------------------

// new: a parent is woken when a child ends (spec A3.9: addChildren registers the parent's
// unpause in the child's close-down callbacks; A3.15 (iii))
#[test]
fn parent_is_woken_when_a_child_ends() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let parent = sched.spawn(component("Parent", move |ctx| async move {
            let child = ctx.create(component("Child", |ctx| async move {
                for _ in 0..5 {
                    ctx.yield_now().await;
                }
                Ok(())
            }));
            ctx.add_children(&[child])?;
            ctx.activate(child)?;
            // Sleep until the child has ended; only its end can wake us.
            while !ctx.is_stopped(child) {
                w.fetch_add(1, SeqCst);
                ctx.pause();
                ctx.yield_now().await;
            }
            Ok(())
        }));
        let report = sched.run();
        assert!(
            report.left_paused.is_empty(),
            "the parent was never woken by its child's end: {report:?}"
        );
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.ended, 2);
        assert!(root.is_stopped(parent));
        assert!(
            wakes.load(SeqCst) <= 2,
            "the paused parent ran {} times: woken without cause",
            wakes.load(SeqCst)
        );
    });
}

// new: any_ready names the first inbox, in declaration order, that holds data, or None
// (spec A3.6)
#[test]
fn any_ready_returns_the_first_inbox_with_data_in_declaration_order() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        const BOXES: &[BoxSpec] = &[
            BoxSpec::new("inbox", "data"),
            BoxSpec::new("control", "signals"),
            BoxSpec::new("extra", "more"),
        ];
        let c = sched
            .root()
            .create(component("Three", |_ctx| async { Ok(()) }).with_inboxes(BOXES));
        let ctx = sched.ctx(c);
        assert_eq!(ctx.inboxes(), ["inbox", "control", "extra"]);
        assert_eq!(ctx.any_ready(), None);
        ctx.deliver(1u8, "extra").unwrap();
        assert_eq!(ctx.any_ready().as_deref(), Some("extra"));
        ctx.deliver(2u8, "control").unwrap();
        assert_eq!(
            ctx.any_ready().as_deref(),
            Some("control"),
            "declaration order, not delivery order"
        );
        ctx.deliver(3u8, "inbox").unwrap();
        assert_eq!(ctx.any_ready().as_deref(), Some("inbox"));
        ctx.recv("inbox").unwrap();
        assert_eq!(ctx.any_ready().as_deref(), Some("control"));
        ctx.recv("control").unwrap();
        ctx.recv("extra").unwrap();
        assert_eq!(ctx.any_ready(), None);
    });
}

// new: recv_as with the wrong type is an error naming both types, and hands the message back
// (Ctx::recv_as doc: "A message of another type stays consumed and is returned inside the
// error"; Message/WrongType docs: the error names both types)
#[test]
fn recv_as_with_the_wrong_type_is_an_error_naming_the_types() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let c = sched.root().create(plain("Typed"));
        let ctx = sched.ctx(c);
        ctx.deliver(42u32, "inbox").unwrap();
        let err = ctx.recv_as::<String>("inbox").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("u32"), "{text}");
        assert!(text.contains("String"), "{text}");
        assert_eq!(ctx.data_ready("inbox"), 0, "the message was consumed");
        let wrong = err
            .downcast::<WrongType>()
            .expect("the error is a WrongType");
        assert_eq!(wrong.found(), "u32");
        assert!(wrong.expected.contains("String"));
        assert_eq!(wrong.into_message().downcast::<u32>().unwrap(), 42);
        // The right type works, and an empty box is still the Empty error.
        ctx.deliver(7u32, "inbox").unwrap();
        assert_eq!(ctx.recv_as::<u32>("inbox").unwrap(), 7);
        let empty = ctx.recv_as::<u32>("inbox").unwrap_err();
        assert!(matches!(
            empty.downcast_ref::<RecvError>(),
            Some(RecvError::Empty { .. })
        ));
    });
}
