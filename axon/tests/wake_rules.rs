//! Port of Kamaelia's `MessageDeliveryNotifications_Test` (in
//! `Tests/Python/Axon/test_Component.py`): which components a delivery or a collection wakes
//! (spec rules A3.15 and A5.5 of `kamaelia-spec.md`), plus new tests for A4.3 (a pause and a
//! wake in the same cycle leave the component awake) and A5.3 (items moved by a new link wake
//! their new owner).
//!
//! As in the Python tests, each component counts how many times it has been woken: it pauses,
//! yields, and counts each time it runs again. The scheduler is stepped a bounded number of
//! cycles (`runForAWhile`), and the tests act as any component from outside through
//! `Scheduler::ctx`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axon::{component, Component, ComponentId, ComponentResult, Ctx, Passthrough, Scheduler};

/// Kamaelia's `UnpauseDetectionComponent`: `while 1: self.pause(); yield 1; self.unpaused += 1`.
struct UnpauseDetection(Arc<AtomicUsize>);

impl Component for UnpauseDetection {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            ctx.pause();
            ctx.yield_now().await;
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `initComponents(n)`: a fresh scheduler with `n` activated unpause detectors.
struct Rig {
    sched: Scheduler,
    ids: Vec<ComponentId>,
    unpaused: Vec<Arc<AtomicUsize>>,
}

impl Rig {
    fn new(n: usize) -> Rig {
        let sched = Scheduler::new();
        let unpaused: Vec<_> = (0..n).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        let ids = unpaused
            .iter()
            .map(|u| sched.spawn(UnpauseDetection(u.clone())))
            .collect();
        Rig {
            sched,
            ids,
            unpaused,
        }
    }

    fn ctx(&self, i: usize) -> Ctx {
        self.sched.ctx(self.ids[i])
    }

    /// `runForAWhile()`: 100 cycles; the components never end.
    fn run_for_a_while(&self) {
        assert!(self.sched.step(100), "scheduler terminated unexpectedly");
    }

    /// The `unpaused` counts, in component order.
    fn unpaused(&self) -> Vec<usize> {
        self.unpaused
            .iter()
            .map(|u| u.load(Ordering::SeqCst))
            .collect()
    }

    /// `a.unpaused = 0; b.unpaused = 0; ...`
    fn reset(&self) {
        for u in &self.unpaused {
            u.store(0, Ordering::SeqCst);
        }
    }

    /// `src.link((src, sbox), (dst, dbox), passthrough)`, made by component `by`.
    fn link(
        &self,
        by: usize,
        src: (usize, &str),
        dst: (usize, &str),
        p: Passthrough,
    ) -> axon::Linkage {
        self.ctx(by)
            .link_with((self.ids[src.0], src.1), (self.ids[dst.0], dst.1), p, None)
            .unwrap()
    }

    fn send(&self, from: usize) {
        self.ctx(from).send("object()", "outbox").unwrap();
    }

    fn recv(&self, by: usize) {
        self.ctx(by).recv("inbox").unwrap();
    }

    /// The chain of AllOutboxOwnersNotified and the tests after it:
    /// `a.outbox =2=> b.outbox =2=> c.outbox -> d.inbox =1=> e.inbox`.
    fn outbox_chain(&self) -> [axon::Linkage; 4] {
        [
            self.link(0, (0, "outbox"), (1, "outbox"), Passthrough::Outbound),
            self.link(1, (1, "outbox"), (2, "outbox"), Passthrough::Outbound),
            self.link(2, (2, "outbox"), (3, "inbox"), Passthrough::Normal),
            self.link(3, (3, "inbox"), (4, "inbox"), Passthrough::Inbound),
        ]
    }
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const F: usize = 5;

// ports test_Component.py MessageDeliveryNotifications_Test.test_NothingHappensIfNothingHappens
#[test]
fn nothing_happens_if_nothing_happens() {
    let r = Rig::new(2);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.link(B, (B, "outbox"), (A, "inbox"), Passthrough::Normal);
    assert_eq!(r.unpaused(), [0, 0]);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0]);
    assert!(r.ids.iter().all(|&c| r.sched.root().is_paused(c)));
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_ConsumerWokenByDelivery
#[test]
fn consumer_woken_by_delivery() {
    let r = Rig::new(2);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused()[B], 1);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_ProducerNotWokenByDelivery
// (the first method of that name, shadowed in Python by the second)
#[test]
fn producer_not_woken_by_delivery() {
    let r = Rig::new(2);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused()[A], 0);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_ProducerNotWokenByDelivery
// (the second method of that name; its docstring says: a paused producer is woken when a
// consumer picks up a message it has sent)
#[test]
fn producer_woken_by_collection() {
    let r = Rig::new(2);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 1]);
    r.recv(B);
    r.run_for_a_while();
    // The producer is woken; the receiver is not woken by its own collection.
    assert_eq!(r.unpaused(), [1, 1]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_ChainOnlyFinalDestinationNotified
#[test]
fn chain_only_final_destination_notified() {
    let r = Rig::new(4);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.link(B, (B, "inbox"), (C, "inbox"), Passthrough::Inbound);
    r.link(C, (C, "inbox"), (D, "inbox"), Passthrough::Inbound);
    r.run_for_a_while();
    r.reset();
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 0, 1]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_ChainOnlyOutboxHoldersNotified
#[test]
fn chain_only_outbox_holders_notified() {
    let r = Rig::new(4);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.link(B, (B, "inbox"), (C, "inbox"), Passthrough::Inbound);
    r.link(C, (C, "inbox"), (D, "inbox"), Passthrough::Inbound);
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 0, 0, 0]);
}

// new test for rule A5.5 (delivery along an outbox passthrough chain wakes only the final
// inbox's owner, none of the outbox owners or inbox owners on the way)
#[test]
fn outbox_chain_delivery_wakes_only_final_inbox_owner() {
    let r = Rig::new(5);
    r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 0, 0, 1]);
    // Sending from the middle of the chain is no different.
    r.reset();
    r.send(B);
    r.send(C);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 0, 0, 1]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_AllOutboxOwnersNotified
#[test]
fn all_outbox_owners_notified() {
    let r = Rig::new(5);
    r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 1, 1, 0, 0]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_LinkBrokenNoNotify
#[test]
fn link_broken_no_notify() {
    let r = Rig::new(5);
    let [_l1, l2, _l3, _l4] = r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert!(r.ctx(B).unlink(&l2));
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 1, 0, 0]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_LinkReestablishedNotify
#[test]
fn link_reestablished_notify() {
    let r = Rig::new(5);
    let [_l1, l2, _l3, _l4] = r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    assert!(r.ctx(B).unlink(&l2));
    r.run_for_a_while();
    r.link(B, (B, "outbox"), (C, "outbox"), Passthrough::Outbound);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 1, 1, 0, 0]);
}

// ports test_Component.py MessageDeliveryNotifications_Test.test_LinkNewlyEestablishedNotify
#[test]
fn link_newly_established_notify() {
    let r = Rig::new(6);
    r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.run_for_a_while();
    r.link(F, (F, "outbox"), (C, "outbox"), Passthrough::Outbound);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 1, 1, 0, 0, 1]);
}

// new test for rule A5.5 (each collection wakes the producers again; several deliveries in
// one cycle wake the consumer once, and it sees them all)
#[test]
fn every_collection_wakes_producers_again() {
    let r = Rig::new(3);
    // Two producers into one inbox.
    r.link(A, (A, "outbox"), (C, "inbox"), Passthrough::Normal);
    r.link(B, (B, "outbox"), (C, "inbox"), Passthrough::Normal);
    r.run_for_a_while();
    for _ in 0..3 {
        r.send(A);
    }
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 1]);
    for round in 1..=3 {
        r.recv(C);
        r.run_for_a_while();
        assert_eq!(r.unpaused(), [round, round, 1], "after collection {round}");
    }
}

// new test for rules A3.15 and A4.3 (a paused component is woken by a message arriving, reads
// it, and pauses again)
#[test]
fn paused_component_woken_by_arriving_message() {
    let sched = Scheduler::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let runs = Arc::new(AtomicUsize::new(0));
    let (g, n) = (got.clone(), runs.clone());
    let consumer = sched.spawn(component("Consumer", move |ctx| async move {
        loop {
            n.fetch_add(1, Ordering::SeqCst);
            while ctx.data_ready("inbox") > 0 {
                let v: u32 = ctx.recv("inbox")?.downcast()?;
                g.lock().unwrap().push(v);
            }
            let last = g.lock().unwrap().last().copied();
            if last == Some(0) {
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }));
    let root = sched.root();
    root.link((root.id(), "outbox"), (consumer, "inbox"))
        .unwrap();

    assert!(sched.step(50));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "ran once, then paused");
    assert!(root.is_paused(consumer));
    assert!(got.lock().unwrap().is_empty());

    root.send(7u32, "outbox").unwrap();
    assert!(sched.step(50));
    assert_eq!(runs.load(Ordering::SeqCst), 2, "woken once by the message");
    assert_eq!(*got.lock().unwrap(), [7]);
    assert!(root.is_paused(consumer));

    root.send(8u32, "outbox").unwrap();
    root.send(9u32, "outbox").unwrap();
    assert!(sched.step(50));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(*got.lock().unwrap(), [7, 8, 9]);

    // The last message makes it end.
    root.send(0u32, "outbox").unwrap();
    assert!(!sched.step(50), "the consumer ended");
    assert_eq!(*got.lock().unwrap(), [7, 8, 9, 0]);
}

/// A component that sends one message out of "outbox" the first time it runs, then ends.
fn poker() -> impl Component {
    component("Poker", |ctx| async move {
        ctx.send("poke", "outbox")?;
        Ok(())
    })
}

/// Runs a detector and a poker linked to it, both activated together so that both first run
/// in the same cycle: the detector pauses in the very cycle the poker's message wakes it.
fn pause_and_wake_in_same_cycle(poker_first: bool) -> (usize, usize) {
    let sched = Scheduler::new();
    let count = Arc::new(AtomicUsize::new(0));
    let (p, d) = if poker_first {
        let p = sched.spawn(poker());
        (p, sched.spawn(UnpauseDetection(count.clone())))
    } else {
        let d = sched.spawn(UnpauseDetection(count.clone()));
        (sched.spawn(poker()), d)
    };
    sched.root().link((p, "outbox"), (d, "inbox")).unwrap();
    assert!(sched.step(100));
    let after = count.load(Ordering::SeqCst);
    assert!(sched.ctx(d).is_paused(d), "asleep again afterwards");
    assert_eq!(sched.ctx(d).data_ready("inbox"), 1);
    assert!(sched.step(100));
    (after, count.load(Ordering::SeqCst))
}

// new test for rule A4.3 (pause requests are handled before wakes, so a pause requested in the
// same cycle as a wake does not lose the wake), whichever of the two runs first in the cycle
#[test]
fn pause_in_same_cycle_as_wake_does_not_lose_the_wake() {
    assert_eq!(pause_and_wake_in_same_cycle(true), (1, 1));
    assert_eq!(pause_and_wake_in_same_cycle(false), (1, 1));
}

// new test for rule A4.3 (a pause takes effect at the next yield: code after pause() still
// runs, and the component is not run again until woken)
#[test]
fn pause_takes_effect_at_the_next_yield() {
    let sched = Scheduler::new();
    let steps = Arc::new(AtomicUsize::new(0));
    let s = steps.clone();
    let c = sched.spawn(component("Pauser", move |ctx| async move {
        for _ in 0..1000 {
            ctx.pause();
            s.fetch_add(1, Ordering::SeqCst);
            ctx.yield_now().await;
        }
        Ok(())
    }));
    assert!(sched.step(100));
    assert_eq!(steps.load(Ordering::SeqCst), 1);
    sched.root().wake(c);
    assert!(sched.step(100));
    assert_eq!(steps.load(Ordering::SeqCst), 2);
}

// new test for rules A5.3 and A5.5 (items already waiting in an inbox that a new link moves to
// another inbox wake that inbox's owner; the old holder is not woken)
#[test]
fn items_moved_by_a_new_link_wake_their_new_owner() {
    let r = Rig::new(3);
    r.link(A, (A, "outbox"), (B, "inbox"), Passthrough::Normal);
    r.run_for_a_while();
    r.send(A);
    r.send(A);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 1, 0]);
    r.reset();
    r.link(B, (B, "inbox"), (C, "inbox"), Passthrough::Inbound);
    r.run_for_a_while();
    assert_eq!(r.unpaused()[B..], [0, 1]);
    assert_eq!(r.ctx(C).data_ready("inbox"), 2);
}

// new test for rule A5.5 (a collection wakes the outbox owners of the chain as it was when
// the item was collected, even if the chain changes before the scheduler next runs; checked
// against Python Axon: recv then unlink wakes a, b, c; unlink then recv wakes only c; recv then
// a new link in does not wake the newcomer)
#[test]
fn collection_wakes_the_chain_as_it_was_when_collected() {
    // recv, then break the chain, before any cycle runs
    let r = Rig::new(6);
    let [_l1, l2, _l3, _l4] = r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    assert!(r.ctx(B).unlink(&l2));
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 1, 1, 0, 0, 0]);

    // break the chain, then recv, before any cycle runs
    let r = Rig::new(6);
    let [_l1, l2, _l3, _l4] = r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.reset();
    assert!(r.ctx(B).unlink(&l2));
    r.recv(D);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [0, 0, 1, 0, 0, 0]);

    // recv, then link a new outbox in, before any cycle runs
    let r = Rig::new(6);
    r.outbox_chain();
    r.run_for_a_while();
    r.send(A);
    r.run_for_a_while();
    r.reset();
    r.recv(D);
    r.link(F, (F, "outbox"), (C, "outbox"), Passthrough::Outbound);
    r.run_for_a_while();
    assert_eq!(r.unpaused(), [1, 1, 1, 0, 0, 0]);
}

// new: wakes that come while the scheduler waits between cycles (a timer, a thread) are
// used up when it settles them; they do not also cancel the pause the woken component makes
// in the cycle they start (found in review of the cycle stamps, 2026-12-02).
fn counting_pauser(runs: Arc<AtomicUsize>, setup: fn(&Ctx)) -> impl Component {
    component("Pauser", move |ctx| async move {
        setup(&ctx);
        loop {
            runs.fetch_add(1, Ordering::SeqCst);
            ctx.pause();
            ctx.yield_now().await;
        }
    })
}

/// Runs a counting pauser set up by `setup` until nothing can wake it: (how many are left
/// paused, how many times it ran).
fn run_pauser(setup: fn(&Ctx)) -> (usize, usize) {
    let sched = Scheduler::new();
    let runs = Arc::new(AtomicUsize::new(0));
    sched.spawn(counting_pauser(runs.clone(), setup));
    let report = sched.run();
    (report.left_paused.len(), runs.load(Ordering::SeqCst))
}

#[test]
fn a_timer_fired_while_waiting_gives_one_more_run_not_two() {
    let (paused, runs) = run_pauser(|ctx| {
        ctx.wake_at(std::time::Instant::now() + std::time::Duration::from_millis(20));
    });
    assert_eq!((paused, runs), (1, 2));
}

#[test]
fn a_thread_waking_while_waiting_gives_one_more_run_not_two() {
    let (paused, runs) = run_pauser(|ctx| {
        let waker = ctx.remote_waker();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            waker.wake();
        });
    });
    assert_eq!((paused, runs), (1, 2));
}

// new: a second pause of a component already going to sleep leaves it going to sleep.
#[test]
fn a_second_pause_does_not_cancel_a_pending_one() {
    let sched = Scheduler::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let c = sched.spawn(counting_pauser(runs.clone(), |_| {}));
    sched.step(2);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(sched.root().is_paused(c), "going to sleep");
    sched.ctx(c).pause();
    assert!(
        sched.root().is_paused(c),
        "still going to sleep after a second pause"
    );
    sched.step(5);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "it must not run again");
    assert_eq!(sched.paused().len(), 1);
}
