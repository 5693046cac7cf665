//! Port of Kamaelia's `Tests/Python/Axon/test_Postoffice.py` (`postoffice_Test`,
//! `linkagechaining_Test`, `SizeLimitedBoxes_Test`), plus new tests for the box and linkage
//! rules A3.3, A5.3, A5.4, A5.6, A5.7 and A6.4 of the behaviour spec
//! (`kamaelia-spec.md`, section (a)).
//!
//! Kamaelia gives each component a postoffice that makes and registers its linkages; here that
//! is `Ctx::{link, link_with, unlink, unlink_component, linkages, is_linked}`. The Python tests
//! of the postoffice used dummy boxes that recorded `addsource` / `removesource` calls; these
//! tests check the same things by behaviour instead: where messages arrive, which linkages
//! are registered, and which errors come back.

use std::borrow::Cow;
use std::collections::VecDeque;

use axon::{
    Component, ComponentId, ComponentResult, Ctx, Error, Passthrough, RecvError, Scheduler,
    SendError,
};

// ----- helpers ------------------------------------------------------------------------------

const LABELS: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// Kamaelia's `BusyWaitComponent`: runs every cycle and never pauses.
struct Busy(&'static str);

impl Component for Busy {
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            ctx.yield_now().await;
        }
    }
}

/// Kamaelia's `UnpauseDetectionComponent` (without the counter): pauses, and pauses again each
/// time something wakes it.
struct Sleeper(&'static str);

impl Component for Sleeper {
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// `initComponents(n)` of linkagechaining_Test: `n` busy components, activated.
fn spawn_busy(sched: &Scheduler, n: usize) -> Vec<ComponentId> {
    LABELS[..n].iter().map(|&l| sched.spawn(Busy(l))).collect()
}

/// `initComponents(n)` of SizeLimitedBoxes_Test: `n` pausing components, activated.
fn spawn_sleepers(sched: &Scheduler, n: usize) -> Vec<ComponentId> {
    LABELS[..n]
        .iter()
        .map(|&l| sched.spawn(Sleeper(l)))
        .collect()
}

/// Components that are made but never run (the Python postoffice tests used plain objects).
fn create(sched: &Scheduler, n: usize) -> Vec<ComponentId> {
    let root = sched.root();
    LABELS[..n].iter().map(|&l| root.create(Busy(l))).collect()
}

/// `runForAWhile()`: a bounded number of scheduler cycles; components must remain.
fn run_for_a_while(sched: &Scheduler, cycles: usize) {
    assert!(sched.step(cycles), "scheduler terminated unexpectedly");
}

/// `[inbox, control]` item counts (own storage, Kamaelia's `dataReady`) of each component.
fn counts(sched: &Scheduler, ids: &[ComponentId]) -> Vec<[usize; 2]> {
    ids.iter()
        .map(|&c| {
            let ctx = sched.ctx(c);
            [ctx.data_ready("inbox"), ctx.data_ready("control")]
        })
        .collect()
}

fn send(sched: &Scheduler, c: ComponentId, v: u64, outbox: &str) {
    sched
        .ctx(c)
        .send(v, outbox)
        .unwrap_or_else(|e| panic!("send {v} on {outbox}: {e}"));
}

fn deliver(sched: &Scheduler, c: ComponentId, v: u64, inbox: &str) {
    sched
        .ctx(c)
        .deliver(v, inbox)
        .unwrap_or_else(|e| panic!("deliver {v} to {inbox}: {e}"));
}

/// Takes everything out of `inbox` of `c`, oldest first (bounded).
fn drain(sched: &Scheduler, c: ComponentId, inbox: &str) -> Vec<u64> {
    let ctx = sched.ctx(c);
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match ctx.recv(inbox) {
            Ok(m) => out.push(m.downcast::<u64>().expect("the tests only send u64")),
            Err(RecvError::Empty { .. }) => return out,
            Err(e) => panic!("recv from {inbox}: {e}"),
        }
    }
    panic!("inbox {inbox} never became empty");
}

/// `verifyChain(*chain)` of linkagechaining_Test: a message sent from each outbox in the chain
/// arrives, once, at the inbox at the end of the chain. Inboxes in the chain are skipped (one
/// cannot send from an inbox).
fn verify_chain(sched: &Scheduler, chain: &[(ComponentId, &str)], next: &mut u64) {
    let (target, target_box) = *chain.last().expect("a chain");
    assert!(
        sched.ctx(target).inboxes().iter().any(|b| b == target_box),
        "ERROR IN TEST - destination box not an inbox"
    );
    for &(comp, boxname) in &chain[..chain.len() - 1] {
        let ctx = sched.ctx(comp);
        if ctx.inboxes().iter().any(|b| b == boxname) {
            continue;
        }
        assert!(
            ctx.outboxes().iter().any(|b| b == boxname),
            "ERROR IN TEST - invalid boxname"
        );
        *next += 1;
        let data = *next;
        send(sched, comp, data, boxname);
        run_for_a_while(sched, 10);
        assert_eq!(
            sched.ctx(target).data_ready(target_box),
            1,
            "one item delivered from {} '{boxname}' to {} '{target_box}'",
            ctx.name(),
            sched.ctx(target).name()
        );
        assert_eq!(
            drain(sched, target, target_box),
            vec![data],
            "correct data delivered from {} '{boxname}'",
            ctx.name()
        );
    }
}

// ----- postoffice_Test ----------------------------------------------------------------------

// ports test_Postoffice.py postoffice_Test.test___init__SmokeTest_NoArguments
// (a new postoffice has no linkages registered; there is no debugname in the Rust API)
#[test]
fn new_postoffice_has_no_linkages() {
    let sched = Scheduler::new();
    assert!(sched.root().linkages().is_empty());
    let c = create(&sched, 1)[0];
    assert!(sched.ctx(c).linkages().is_empty());
}

// ports test_Postoffice.py postoffice_Test.test_linkestablishes
#[test]
fn link_establishes_outbox_to_inbox_and_touches_no_other_box() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let (c1, c2) = (ids[0], ids[1]);
    po.link((c1, "outbox"), (c2, "inbox")).unwrap();

    send(&sched, c1, 1, "outbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0]]);
    assert_eq!(drain(&sched, c2, "inbox"), [1]);

    // Every other outbox is still unlinked: what it sends is dropped.
    send(&sched, c1, 2, "signal");
    send(&sched, c2, 3, "outbox");
    send(&sched, c2, 4, "signal");
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0]]);
    // Every other inbox is still its own final destination.
    deliver(&sched, c1, 5, "inbox");
    deliver(&sched, c1, 6, "control");
    deliver(&sched, c2, 7, "control");
    assert_eq!(counts(&sched, &ids), [[1, 1], [0, 1]]);
}

// ports test_Postoffice.py postoffice_Test.test_linkestablishes_inboxinboxpassthrough
#[test]
fn link_establishes_inbox_to_inbox_passthrough_and_touches_no_other_box() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let (c1, c2) = (ids[0], ids[1]);
    po.link_with((c1, "inbox"), (c2, "inbox"), Passthrough::Inbound, None)
        .unwrap();

    deliver(&sched, c1, 1, "inbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0]]);
    assert_eq!(drain(&sched, c2, "inbox"), [1]);

    for (c, b) in [
        (c1, "outbox"),
        (c1, "signal"),
        (c2, "outbox"),
        (c2, "signal"),
    ] {
        send(&sched, c, 2, b);
    }
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0]]);
    deliver(&sched, c1, 3, "control");
    deliver(&sched, c2, 4, "control");
    assert_eq!(counts(&sched, &ids), [[0, 1], [0, 1]]);
}

// ports test_Postoffice.py postoffice_Test.test_linkestablishes_outboxoutboxpassthrough
#[test]
fn link_establishes_outbox_to_outbox_passthrough_and_touches_no_other_box() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 3);
    let (c1, c2, probe) = (ids[0], ids[1], ids[2]);
    po.link_with((c1, "outbox"), (c2, "outbox"), Passthrough::Outbound, None)
        .unwrap();

    // The chain ends at an outbox for now: the message is dropped.
    send(&sched, c1, 1, "outbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0], [0, 0]]);

    // Once c2's outbox leads somewhere, c1's outbox comes out of it.
    po.link((c2, "outbox"), (probe, "inbox")).unwrap();
    send(&sched, c1, 2, "outbox");
    assert_eq!(drain(&sched, probe, "inbox"), [2]);

    // Signal boxes are untouched (still unlinked) and so are the inboxes.
    send(&sched, c1, 3, "signal");
    send(&sched, c2, 4, "signal");
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0], [0, 0]]);
    deliver(&sched, c1, 5, "inbox");
    deliver(&sched, c2, 6, "inbox");
    assert_eq!(counts(&sched, &ids), [[1, 0], [1, 0], [0, 0]]);
}

// ports test_Postoffice.py postoffice_Test.test_linkregistered
#[test]
fn link_is_registered() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let l1 = po.link((ids[0], "outbox"), (ids[1], "inbox")).unwrap();
    assert!(po.linkages().contains(&l1));
    assert!(po.is_linked(&l1));
    let l2 = po.link((ids[0], "signal"), (ids[1], "control")).unwrap();
    let registered = po.linkages();
    assert!(registered.contains(&l1) && registered.contains(&l2));
    assert_eq!(registered.len(), 2);
}

// ports test_Postoffice.py postoffice_Test.test_linkderegisters (and A6.4: unlinking a linkage
// that is not registered does nothing)
#[test]
fn unlink_by_linkage_deregisters_only_that_linkage() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let (c1, c2) = (ids[0], ids[1]);
    let l1 = po.link((c1, "outbox"), (c2, "inbox")).unwrap();
    let l2 = po.link((c1, "signal"), (c2, "control")).unwrap();
    assert!(po.unlink(&l1));
    assert_eq!(po.linkages(), vec![l2.clone()]);
    assert!(!po.is_linked(&l1));
    assert!(po.is_linked(&l2));
    // A second unlink of the same linkage does nothing.
    assert!(!po.unlink(&l1));
    assert_eq!(po.linkages(), vec![l2]);
    // And by behaviour: only the signal -> control link still delivers.
    send(&sched, c1, 1, "outbox");
    send(&sched, c1, 2, "signal");
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 1]]);
}

// ports test_Postoffice.py postoffice_Test.test_componentlinksderegisters
#[test]
fn unlink_by_component_deregisters_only_its_linkages() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 3);
    let (c1, c2, c3) = (ids[0], ids[1], ids[2]);
    let _l1 = po.link((c1, "outbox"), (c2, "inbox")).unwrap();
    let _l2 = po.link((c1, "signal"), (c2, "control")).unwrap();
    let l3 = po.link((c2, "outbox"), (c3, "inbox")).unwrap();
    let l4 = po.link((c2, "signal"), (c3, "control")).unwrap();
    po.unlink_component(c1);
    assert_eq!(po.linkages(), vec![l3, l4]);
    send(&sched, c1, 1, "outbox");
    send(&sched, c1, 2, "signal");
    send(&sched, c2, 3, "outbox");
    send(&sched, c2, 4, "signal");
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0], [1, 1]]);
}

// ports test_Postoffice.py postoffice_Test.test_linkdisengages
#[test]
fn unlink_disengages_outbox_to_inbox() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let (c1, c2) = (ids[0], ids[1]);
    let l1 = po.link((c1, "outbox"), (c2, "inbox")).unwrap();
    send(&sched, c1, 1, "outbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0]]);
    assert!(po.unlink(&l1));
    // Already delivered items stay; new ones are dropped by the unlinked outbox.
    send(&sched, c1, 2, "outbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0]]);
    assert_eq!(drain(&sched, c2, "inbox"), [1]);
}

// ports test_Postoffice.py postoffice_Test.test_linkdisengages_inboxinboxpassthrough
#[test]
fn unlink_disengages_inbox_to_inbox_passthrough() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 2);
    let (c1, c2) = (ids[0], ids[1]);
    let l1 = po
        .link_with((c1, "inbox"), (c2, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    deliver(&sched, c1, 1, "inbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0]]);
    assert!(po.unlink(&l1));
    deliver(&sched, c1, 2, "inbox");
    assert_eq!(counts(&sched, &ids), [[1, 0], [1, 0]]);
    assert_eq!(drain(&sched, c1, "inbox"), [2]);
    assert_eq!(drain(&sched, c2, "inbox"), [1]);
}

// ports test_Postoffice.py postoffice_Test.test_linkdisengages_outboxoutboxpassthrough
#[test]
fn unlink_disengages_outbox_to_outbox_passthrough() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 3);
    let (c1, c2, probe) = (ids[0], ids[1], ids[2]);
    let l1 = po
        .link_with((c1, "outbox"), (c2, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    po.link((c2, "outbox"), (probe, "inbox")).unwrap();
    send(&sched, c1, 1, "outbox");
    assert_eq!(drain(&sched, probe, "inbox"), [1]);
    assert!(po.unlink(&l1));
    send(&sched, c1, 2, "outbox");
    assert_eq!(sched.ctx(probe).data_ready("inbox"), 0);
    // c2's own outbox still leads to the probe.
    send(&sched, c2, 3, "outbox");
    assert_eq!(drain(&sched, probe, "inbox"), [3]);
}

// ports test_Postoffice.py postoffice_Test.test_BoxAlreadyLinkedToDestinationException
#[test]
fn box_already_linked_to_destination() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 3);
    let (c1, c2, c3) = (ids[0], ids[1], ids[2]);
    let (n1, n2, n3) = (po.name_of(c1), po.name_of(c2), po.name_of(c3));
    let l1 = po.link((c1, "outbox"), (c2, "inbox")).unwrap();

    let err = po.link((c1, "outbox"), (c3, "inbox")).unwrap_err();
    match &err {
        Error::BoxAlreadyLinkedToDestination {
            source,
            existing,
            requested,
        } => {
            assert!(
                source.contains(&n1) && source.contains("outbox"),
                "source {source:?}"
            );
            assert!(
                existing.contains(&n2) && existing.contains("inbox") && !existing.contains(&n3),
                "existing {existing:?}"
            );
            assert!(
                requested.contains(&n3) && requested.contains("inbox"),
                "requested {requested:?}"
            );
        }
        other => panic!("expected BoxAlreadyLinkedToDestination, got {other:?}"),
    }
    let text = err.to_string();
    for n in [&n1, &n2, &n3] {
        assert!(text.contains(n.as_str()), "{text:?} should name {n}");
    }

    // The refused link left no trace.
    assert_eq!(po.linkages(), vec![l1.clone()]);
    send(&sched, c1, 1, "outbox");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 0], [0, 0]]);

    // After unlinking, the new link succeeds.
    assert!(po.unlink(&l1));
    let l2 = po.link((c1, "outbox"), (c3, "inbox")).unwrap();
    assert_eq!(po.linkages(), vec![l2]);
    send(&sched, c1, 2, "outbox");
    assert_eq!(drain(&sched, c3, "inbox"), [2]);
    assert_eq!(drain(&sched, c2, "inbox"), [1]);
}

// new test for rule A5.3 (one-to-many is forbidden whatever the kind of either link)
#[test]
fn one_to_many_is_refused_for_passthrough_links_too() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = create(&sched, 3);
    let (c1, c2, c3) = (ids[0], ids[1], ids[2]);

    // An inbox that already passes through may not pass through elsewhere.
    po.link_with((c1, "inbox"), (c2, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    let e = po
        .link_with((c1, "inbox"), (c3, "inbox"), Passthrough::Inbound, None)
        .unwrap_err();
    assert!(matches!(e, Error::BoxAlreadyLinkedToDestination { .. }));

    // An outbox linked to an inbox may not also pass out through an outbox, and vice versa.
    po.link((c1, "outbox"), (c2, "control")).unwrap();
    let e = po
        .link_with((c1, "outbox"), (c3, "outbox"), Passthrough::Outbound, None)
        .unwrap_err();
    assert!(matches!(e, Error::BoxAlreadyLinkedToDestination { .. }));
    po.link_with((c2, "signal"), (c3, "signal"), Passthrough::Outbound, None)
        .unwrap();
    let e = po.link((c2, "signal"), (c1, "control")).unwrap_err();
    assert!(matches!(e, Error::BoxAlreadyLinkedToDestination { .. }));

    // Nothing of the refused links is in place.
    assert_eq!(po.linkages().len(), 3);
    deliver(&sched, c1, 1, "inbox");
    send(&sched, c1, 2, "outbox");
    send(&sched, c2, 3, "signal");
    assert_eq!(counts(&sched, &ids), [[0, 0], [1, 1], [0, 0]]);
}

// new test for rule A5.3 (many-to-one is allowed)
#[test]
fn many_to_one_linking_works() {
    let sched = Scheduler::new();
    let po = sched.root();
    let ids = spawn_busy(&sched, 4);
    let (a, b, c, sink) = (ids[0], ids[1], ids[2], ids[3]);
    po.link((a, "outbox"), (sink, "inbox")).unwrap();
    po.link((b, "outbox"), (sink, "inbox")).unwrap();
    // A third producer reaching the same inbox through an inbox passthrough.
    po.link((c, "outbox"), (c, "inbox")).unwrap();
    po.link_with((c, "inbox"), (sink, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    run_for_a_while(&sched, 5);
    for (i, &p) in [a, b, c, b, a, c].iter().enumerate() {
        send(&sched, p, i as u64, "outbox");
    }
    run_for_a_while(&sched, 5);
    assert_eq!(drain(&sched, sink, "inbox"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(counts(&sched, &ids[..3]), [[0, 0], [0, 0], [0, 0]]);
}

// new test for rule A3.3 (and spec (f) 9: an unlinked outbox silently drops messages)
#[test]
fn unlinked_outbox_drops_messages_without_error() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    run_for_a_while(&sched, 3);
    for v in 0..10 {
        assert!(sched.ctx(a).send(v as u64, "outbox").is_ok());
    }
    run_for_a_while(&sched, 3);
    // Dropped, not kept: linking afterwards delivers none of them.
    sched.root().link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 3);
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0]]);
    send(&sched, a, 99, "outbox");
    assert_eq!(drain(&sched, b, "inbox"), [99]);
}

// ----- linkagechaining_Test -----------------------------------------------------------------

// ports test_Postoffice.py linkagechaining_Test.test_Simple
#[test]
fn chain_simple() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    verify_chain(&sched, &[(a, "outbox"), (b, "inbox")], &mut 0);
}

// ports test_Postoffice.py linkagechaining_Test.test_SimpleThenInboxPassthrough
#[test]
fn chain_simple_then_inbox_passthrough() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.ctx(a);
    po.link((a, "outbox"), (b, "inbox")).unwrap();
    po.link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    verify_chain(&sched, &[(a, "outbox"), (b, "inbox"), (c, "inbox")], &mut 0);
}

// ports test_Postoffice.py linkagechaining_Test.test_InboxPassthroughThenNormal
#[test]
fn chain_inbox_passthrough_then_normal() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.ctx(a);
    po.link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    po.link((a, "outbox"), (b, "inbox")).unwrap();
    verify_chain(&sched, &[(a, "outbox"), (b, "inbox"), (c, "inbox")], &mut 0);
}

// ports test_Postoffice.py linkagechaining_Test.test_SimpleThenOutboxPassthrough
#[test]
fn chain_simple_then_outbox_passthrough() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.ctx(a);
    po.link((b, "outbox"), (c, "inbox")).unwrap();
    po.link_with((a, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    verify_chain(
        &sched,
        &[(a, "outbox"), (b, "outbox"), (c, "inbox")],
        &mut 0,
    );
}

// ports test_Postoffice.py linkagechaining_Test.test_OutboxPassthroughThenNormal
#[test]
fn chain_outbox_passthrough_then_normal() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.ctx(a);
    po.link_with((a, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    po.link((b, "outbox"), (c, "inbox")).unwrap();
    verify_chain(
        &sched,
        &[(a, "outbox"), (b, "outbox"), (c, "inbox")],
        &mut 0,
    );
}

// ports test_Postoffice.py linkagechaining_Test.test_InboxPassthrougthDeletion
#[test]
fn chain_inbox_passthrough_deletion() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.ctx(a);
    po.link((a, "outbox"), (b, "inbox")).unwrap();
    let link = po
        .link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    let mut next = 0;
    verify_chain(
        &sched,
        &[(a, "outbox"), (b, "inbox"), (c, "inbox")],
        &mut next,
    );
    assert!(po.unlink(&link));
    verify_chain(&sched, &[(a, "outbox"), (b, "inbox")], &mut next);
    assert_eq!(sched.ctx(c).data_ready("inbox"), 0);
}

/// The chain used to try every building order:
/// `A.outbox =2=> B.outbox =2=> C.outbox -> D.inbox =1=> E.inbox =1=> F.inbox`.
/// Box `i` belongs to component `i`; link `i` joins box `i` to box `i + 1`.
const CHAIN_BOXES: [&str; 6] = ["outbox", "outbox", "outbox", "inbox", "inbox", "inbox"];
const CHAIN_KINDS: [Passthrough; 5] = [
    Passthrough::Outbound,
    Passthrough::Outbound,
    Passthrough::Normal,
    Passthrough::Inbound,
    Passthrough::Inbound,
];

fn is_inbox(i: usize) -> bool {
    CHAIN_BOXES[i] == "inbox"
}

/// What the spec says the chain holds: which links are made and what waits in each inbox.
#[derive(Default)]
struct ChainModel {
    linked: [bool; 5],
    held: [VecDeque<u64>; 6],
}

impl ChainModel {
    /// The final box of box `i`'s chain.
    fn sink(&self, mut i: usize) -> usize {
        while i < 5 && self.linked[i] {
            i += 1;
        }
        i
    }
    /// A5.3: linking moves what waits in the source into the new final box.
    fn link(&mut self, i: usize) {
        self.linked[i] = true;
        let moved = std::mem::take(&mut self.held[i]);
        let s = self.sink(i);
        self.held[s].extend(moved);
    }
    /// A3.3: a message goes to the final box, or is dropped if that is an outbox.
    fn put(&mut self, i: usize, v: u64) {
        let s = self.sink(i);
        if is_inbox(s) {
            self.held[s].push_back(v);
        }
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn go(prefix: &mut Vec<usize>, rest: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if rest.is_empty() {
            out.push(prefix.clone());
            return;
        }
        for i in 0..rest.len() {
            let x = rest.remove(i);
            prefix.push(x);
            go(prefix, rest, out);
            prefix.pop();
            rest.insert(i, x);
        }
    }
    let mut out = Vec::new();
    go(&mut Vec::new(), &mut (0..n).collect(), &mut out);
    out
}

/// Sends a fresh number out of every outbox of the chain and into every inbox of it.
fn feed_chain(sched: &Scheduler, ids: &[ComponentId], model: &mut ChainModel, next: &mut u64) {
    for (i, &c) in ids.iter().enumerate() {
        *next += 1;
        if is_inbox(i) {
            deliver(sched, c, *next, CHAIN_BOXES[i]);
        } else {
            send(sched, c, *next, CHAIN_BOXES[i]);
        }
        model.put(i, *next);
    }
}

fn check_chain(sched: &Scheduler, ids: &[ComponentId], model: &ChainModel, context: &str) {
    for i in (0..6).filter(|&i| is_inbox(i)) {
        assert_eq!(
            sched.ctx(ids[i]).data_ready("inbox"),
            model.held[i].len(),
            "items waiting in {} inbox, {context} (linked {:?})",
            LABELS[i],
            model.linked
        );
    }
}

// ports test_Postoffice.py linkagechaining_Test (the class's rule: "data will be correctly
// delivered along chains of linkages irrespective of the order in which the chain is
// constructed"), generalised to all 120 orders of a chain mixing all three kinds of link;
// also A5.3 (waiting items move when a link is made) and A6.5.
#[test]
fn chain_delivers_once_whatever_order_it_was_built_in() {
    let orders = permutations(5);
    assert_eq!(orders.len(), 120);
    for order in orders {
        let sched = Scheduler::new();
        let ids = spawn_busy(&sched, 6);
        let po = sched.ctx(ids[0]);
        let mut model = ChainModel::default();
        let mut next = 0u64;
        run_for_a_while(&sched, 2);
        feed_chain(&sched, &ids, &mut model, &mut next);
        check_chain(
            &sched,
            &ids,
            &model,
            &format!("links made in order {order:?}"),
        );
        for &l in &order {
            po.link_with(
                (ids[l], CHAIN_BOXES[l]),
                (ids[l + 1], CHAIN_BOXES[l + 1]),
                CHAIN_KINDS[l],
                None,
            )
            .unwrap_or_else(|e| panic!("link {l} in order {order:?}: {e}"));
            model.link(l);
            check_chain(
                &sched,
                &ids,
                &model,
                &format!("links made in order {order:?}"),
            );
            run_for_a_while(&sched, 2);
            feed_chain(&sched, &ids, &mut model, &mut next);
            check_chain(
                &sched,
                &ids,
                &model,
                &format!("links made in order {order:?}"),
            );
        }
        // Everything that was not dropped is now at F, once each, in order.
        let expected: Vec<u64> = model.held[5].iter().copied().collect();
        assert!(!expected.is_empty());
        assert_eq!(
            drain(&sched, ids[5], "inbox"),
            expected,
            "links made in order {order:?}"
        );
        let chain: Vec<(ComponentId, &str)> = ids.iter().copied().zip(CHAIN_BOXES).collect();
        verify_chain(&sched, &chain, &mut next);
        assert_eq!(counts(&sched, &ids), [[0, 0]; 6], "order {order:?}");
    }
}

// new test for rule A5.3 (items already waiting in a box move when a link is made, and join
// the end of the new final inbox, after what is already there)
#[test]
fn waiting_items_move_when_a_link_is_made() {
    let sched = Scheduler::new();
    let ids = spawn_busy(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let po = sched.root();
    po.link((a, "outbox"), (b, "inbox")).unwrap();
    send(&sched, a, 1, "outbox");
    send(&sched, a, 2, "outbox");
    deliver(&sched, c, 0, "inbox");
    run_for_a_while(&sched, 3);
    assert_eq!(counts(&sched, &ids), [[0, 0], [2, 0], [1, 0]]);
    po.link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    assert_eq!(counts(&sched, &ids), [[0, 0], [0, 0], [3, 0]]);
    send(&sched, a, 3, "outbox");
    run_for_a_while(&sched, 3);
    assert_eq!(drain(&sched, c, "inbox"), [0, 1, 2, 3]);
}

// new test for rule A5.4 (breaking a chain: everything upstream of the break ends at the box
// before it; items already delivered stay at the old final destination); generalises
// test_Postoffice.py linkagechaining_Test.test_InboxPassthrougthDeletion to every link
#[test]
fn breaking_any_link_makes_the_box_before_it_final() {
    for broken in 0..5 {
        let sched = Scheduler::new();
        let ids = spawn_busy(&sched, 6);
        let po = sched.ctx(ids[0]);
        let links: Vec<_> = (0..5)
            .map(|l| {
                po.link_with(
                    (ids[l], CHAIN_BOXES[l]),
                    (ids[l + 1], CHAIN_BOXES[l + 1]),
                    CHAIN_KINDS[l],
                    None,
                )
                .unwrap()
            })
            .collect();
        send(&sched, ids[0], 1000, "outbox");
        run_for_a_while(&sched, 2);
        assert!(po.unlink(&links[broken]));
        run_for_a_while(&sched, 2);
        assert_eq!(sched.ctx(ids[5]).data_ready("inbox"), 1, "broken {broken}");

        let mut model = ChainModel::default();
        for l in (0..5).filter(|&l| l != broken) {
            model.link(l);
        }
        let mut next = 0;
        feed_chain(&sched, &ids, &mut model, &mut next);
        run_for_a_while(&sched, 2);
        model.held[5].push_front(1000);
        check_chain(&sched, &ids, &model, &format!("link {broken} broken"));
        // (recv on an inbox that passes through takes from the end of its chain, A3.4, so
        // only the final inboxes are drained.)
        for i in (0..6).filter(|&i| is_inbox(i) && model.sink(i) == i) {
            let expected: Vec<u64> = model.held[i].iter().copied().collect();
            assert_eq!(
                drain(&sched, ids[i], "inbox"),
                expected,
                "{} inbox with link {broken} broken",
                LABELS[i]
            );
        }
    }
}

// ----- SizeLimitedBoxes_Test ----------------------------------------------------------------

fn expect_no_space(r: Result<(), SendError>, sched: &Scheduler, owner: ComponentId, sent: u64) {
    match r {
        Err(SendError::NoSpaceInBox(e)) => {
            assert_eq!(e.component, sched.ctx(owner).name());
            assert_eq!(e.inbox, "inbox");
            let text = e.to_string();
            assert!(
                text.contains(&e.component) && text.contains("inbox"),
                "{text}"
            );
            // The message is handed back.
            assert_eq!(e.into_message().downcast::<u64>().unwrap(), sent);
        }
        Err(e) => panic!("expected NoSpaceInBox, got {e}"),
        Ok(()) => panic!("expected NoSpaceInBox, the send succeeded"),
    }
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_smoketest
#[test]
fn size_limit_can_be_set() {
    let sched = Scheduler::new();
    let a = spawn_sleepers(&sched, 1)[0];
    let ctx = sched.ctx(a);
    assert_eq!(ctx.inbox_size("inbox").unwrap(), None);
    ctx.set_inbox_size("inbox", Some(5)).unwrap();
    assert_eq!(ctx.inbox_size("inbox").unwrap(), Some(5));
    assert_eq!(ctx.inbox_size("control").unwrap(), None);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_BoxSizeGetsLimited
#[test]
fn size_limited_box_takes_up_to_its_size() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..5 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert_eq!(drain(&sched, b, "inbox"), [0, 1, 2, 3, 4]);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_ExceedBoxSizeAndGetException
// (also A5.6: is_full checks the final destination)
#[test]
fn exceeding_box_size_gives_no_space_in_box_with_the_message_back() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..5 {
        assert!(!sched.ctx(a).is_full("outbox").unwrap());
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert!(sched.ctx(a).is_full("outbox").unwrap());
    expect_no_space(sched.ctx(a).send(5u64, "outbox"), &sched, b, 5);
    assert_eq!(sched.ctx(b).data_ready("inbox"), 5);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_removingFromInboxAllowsYouToPutMoreIn
#[test]
fn removing_from_inbox_allows_more_in() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..5 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    for _ in 0..3 {
        sched.ctx(b).recv("inbox").unwrap();
    }
    run_for_a_while(&sched, 100);
    for v in 5..8 {
        send(&sched, a, v, "outbox");
    }
    expect_no_space(sched.ctx(a).send(8u64, "outbox"), &sched, b, 8);
    assert_eq!(drain(&sched, b, "inbox"), [3, 4, 5, 6, 7]);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_SizeLimitMidLinkageChainHasNoEffect
#[test]
fn size_limit_mid_chain_has_no_effect() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    sched
        .ctx(b)
        .link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..10 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert!(!sched.ctx(a).is_full("outbox").unwrap());
    assert_eq!(sched.ctx(c).data_ready("inbox"), 10);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_SizeLimitMidLinkageChainComesIntoEffectIfChainBroken
#[test]
fn size_limit_mid_chain_comes_into_effect_if_chain_broken() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    let _l1 = sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    let l2 = sched
        .ctx(b)
        .link_with((b, "inbox"), (c, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..10 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert!(sched.ctx(b).unlink(&l2));
    run_for_a_while(&sched, 100);
    for v in 10..15 {
        send(&sched, a, v, "outbox");
    }
    expect_no_space(sched.ctx(a).send(15u64, "outbox"), &sched, b, 15);
    assert_eq!(sched.ctx(c).data_ready("inbox"), 10);
    assert_eq!(drain(&sched, b, "inbox"), [10, 11, 12, 13, 14]);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_SettingSizeLimitToNoneSetsToUnlimited
#[test]
fn size_limit_none_is_unlimited() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(b).set_inbox_size("inbox", None).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..9999 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert_eq!(sched.ctx(b).data_ready("inbox"), 9999);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_TurningOffSizeLimit
#[test]
fn turning_off_size_limit() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched.ctx(b).set_inbox_size("inbox", Some(5)).unwrap();
    sched.ctx(a).link((a, "outbox"), (b, "inbox")).unwrap();
    run_for_a_while(&sched, 100);
    for v in 0..5 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    sched.ctx(b).set_inbox_size("inbox", None).unwrap();
    run_for_a_while(&sched, 100);
    for v in 5..505 {
        send(&sched, a, v, "outbox");
    }
    run_for_a_while(&sched, 100);
    assert_eq!(sched.ctx(b).data_ready("inbox"), 505);
}

// ports test_Postoffice.py SizeLimitedBoxes_Test.test_AllProducersExperienceSameSizeLimit
#[test]
fn all_producers_experience_same_size_limit() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 5);
    let (a, b, c, d, e) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    sched.ctx(e).set_inbox_size("inbox", Some(4 * 4)).unwrap();
    sched.ctx(a).link((a, "outbox"), (e, "inbox")).unwrap();
    sched.ctx(b).link((b, "outbox"), (e, "inbox")).unwrap();
    sched
        .ctx(c)
        .link_with((c, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    sched
        .ctx(d)
        .link_with((d, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    run_for_a_while(&sched, 100);
    let size = sched.ctx(e).inbox_size("inbox").unwrap().unwrap() as u64;
    let mut i = 0u64;
    while i < 100 {
        for x in [a, b, c, d] {
            i += 1;
            if i <= size {
                send(&sched, x, i, "outbox");
            } else {
                expect_no_space(sched.ctx(x).send(i, "outbox"), &sched, e, i);
            }
            run_for_a_while(&sched, 10);
        }
    }
    assert_eq!(drain(&sched, e, "inbox"), (1..=size).collect::<Vec<_>>());
}

// new test for rule A5.7 (a linkage made with a pipe width limits the inbox it delivers to)
#[test]
fn pipewidth_limits_the_destination() {
    let sched = Scheduler::new();
    let ids = spawn_sleepers(&sched, 2);
    let (a, b) = (ids[0], ids[1]);
    sched
        .root()
        .link_with((a, "outbox"), (b, "inbox"), Passthrough::Normal, Some(3))
        .unwrap();
    assert_eq!(sched.ctx(b).inbox_size("inbox").unwrap(), Some(3));
    run_for_a_while(&sched, 10);
    for v in 0..3 {
        send(&sched, a, v, "outbox");
    }
    expect_no_space(sched.ctx(a).send(3u64, "outbox"), &sched, b, 3);
}
