//! Port of Kamaelia's `Tests/Python/Axon/test_Linkage.py` (as listed in section (d) of the
//! behaviour spec `kamaelia-spec.md`), plus new tests for rule A6.1 (box names and kinds of a
//! linkage) and for the typed error a wrong box name gives.
//!
//! Kamaelia's `linkage(source, sink, sourcebox, sinkbox, passthrough)` is made here by
//! `Ctx::link` / `Ctx::link_with` and comes back as a [`Linkage`] handle. `test_NoArguments`
//! (a linkage made with no arguments raises TypeError) has no counterpart: the Rust signature
//! makes it a compile-time error.

use std::borrow::Cow;

use axon::{
    BoxKind, Component, ComponentId, ComponentResult, Ctx, Error, Linkage, Passthrough, RecvError,
    Scheduler, SendError,
};

/// A component that is only made, never run; its label starts its name.
struct Named(&'static str);

impl Component for Named {
    fn label(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }
    async fn main(self, _ctx: Ctx) -> ComponentResult {
        Ok(())
    }
}

fn two(sched: &Scheduler) -> (ComponentId, ComponentId) {
    let root = sched.root();
    (root.create(Named("Alpha")), root.create(Named("Beta")))
}

fn assert_pairs(l: &Linkage, source: (ComponentId, &str), sink: (ComponentId, &str)) {
    assert_eq!(l.source_pair(), source);
    assert_eq!(l.sink_pair(), sink);
}

// ports test_Linkage.py test_MinArguments (default boxes outbox -> inbox, passthrough 0)
#[test]
fn min_arguments_link_outbox_to_inbox_normal() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let l = sched.root().link((a, "outbox"), (b, "inbox")).unwrap();
    assert_pairs(&l, (a, "outbox"), (b, "inbox"));
    assert_eq!(l.passthrough(), Passthrough::Normal);
    assert_eq!(l.passthrough().number(), 0);
}

// ports test_Linkage.py test_SpecificBoxesArguments
#[test]
fn specific_boxes_are_kept() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let l = sched.root().link((a, "signal"), (b, "control")).unwrap();
    assert_pairs(&l, (a, "signal"), (b, "control"));
    assert_eq!(l.passthrough(), Passthrough::Normal);
}

// ports test_Linkage.py test_defaultPassthrough
#[test]
fn default_passthrough_is_normal() {
    assert_eq!(Passthrough::default(), Passthrough::Normal);
    assert_eq!(Passthrough::Normal.number(), 0);
    assert_eq!(
        Passthrough::Normal.box_kinds(),
        (BoxKind::Outbox, BoxKind::Inbox)
    );
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let l = sched
        .root()
        .link_with((a, "outbox"), (b, "inbox"), Passthrough::default(), None)
        .unwrap();
    assert_eq!(l.passthrough(), Passthrough::Normal);
}

// ports test_Linkage.py test_inboxPassthrough (passthrough=1: inbox to inbox)
#[test]
fn inbox_passthrough() {
    assert_eq!(Passthrough::Inbound.number(), 1);
    assert_eq!(
        Passthrough::Inbound.box_kinds(),
        (BoxKind::Inbox, BoxKind::Inbox)
    );
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let l = sched
        .root()
        .link_with((a, "inbox"), (b, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    assert_eq!(l.passthrough(), Passthrough::Inbound);
    assert_pairs(&l, (a, "inbox"), (b, "inbox"));
    // It really joins the two inboxes.
    sched.ctx(a).deliver(7u32, "inbox").unwrap();
    assert_eq!(sched.ctx(b).data_ready("inbox"), 1);
}

// ports test_Linkage.py test_outboxPassthrough (passthrough=2: outbox to outbox)
#[test]
fn outbox_passthrough() {
    assert_eq!(Passthrough::Outbound.number(), 2);
    assert_eq!(
        Passthrough::Outbound.box_kinds(),
        (BoxKind::Outbox, BoxKind::Outbox)
    );
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let root = sched.root();
    let l = root
        .link_with((a, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    assert_eq!(l.passthrough(), Passthrough::Outbound);
    assert_pairs(&l, (a, "outbox"), (b, "outbox"));
    root.link((b, "outbox"), (root.id(), "inbox")).unwrap();
    sched.ctx(a).send(7u32, "outbox").unwrap();
    assert_eq!(root.data_ready("inbox"), 1);
}

// ports test_Linkage.py test_sourcePair (the first of the two methods of that name, shadowed
// in Python by the second)
#[test]
fn source_pair() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let root = sched.root();
    let l1 = root.link((a, "outbox"), (b, "inbox")).unwrap();
    let l2 = root.link((a, "signal"), (b, "control")).unwrap();
    assert_eq!(l1.source_pair(), (a, "outbox"));
    assert_eq!(l2.source_pair(), (a, "signal"));
}

// ports test_Linkage.py test_sourcePair (the second method of that name, which tests sinkPair)
#[test]
fn sink_pair() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let root = sched.root();
    let l1 = root.link((a, "outbox"), (b, "inbox")).unwrap();
    let l2 = root.link((a, "signal"), (b, "control")).unwrap();
    assert_eq!(l1.sink_pair(), (b, "inbox"));
    assert_eq!(l2.sink_pair(), (b, "control"));
}

// ports test_Linkage.py test___str__strict
#[test]
fn display_strict_format() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let root = sched.root();
    let (na, nb) = (root.name_of(a), root.name_of(b));
    // Names are "<label>_<process-wide id>" (A1.2).
    for (n, label) in [(&na, "Alpha_"), (&nb, "Beta_")] {
        let id = n
            .strip_prefix(label)
            .unwrap_or_else(|| panic!("name {n:?}"));
        assert!(
            !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()),
            "{n:?}"
        );
    }
    let l = root.link((a, "signal"), (b, "control")).unwrap();
    assert_eq!(
        l.to_string(),
        format!("Link( source:[{na},signal], sink:[{nb},control] )")
    );
    // The same format for the passthrough kinds.
    let l = root
        .link_with((a, "inbox"), (b, "inbox"), Passthrough::Inbound, None)
        .unwrap();
    assert_eq!(
        l.to_string(),
        format!("Link( source:[{na},inbox], sink:[{nb},inbox] )")
    );
    let l = root
        .link_with((b, "outbox"), (a, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    assert_eq!(
        l.to_string(),
        format!("Link( source:[{nb},outbox], sink:[{na},outbox] )")
    );
}

// new test (A6.4): the linkage a postoffice lists is the one link() returned
#[test]
fn registered_linkage_equals_returned_handle() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let po = sched.ctx(a);
    let l = po
        .link_with((a, "outbox"), (b, "outbox"), Passthrough::Outbound, None)
        .unwrap();
    let listed = po.linkages();
    assert_eq!(listed, vec![l.clone()]);
    assert_eq!(listed[0].to_string(), l.to_string());
    assert_eq!(listed[0].passthrough(), Passthrough::Outbound);
}

fn expect_no_such_box(err: Error, component: &str, kind: BoxKind, name: &str) {
    match &err {
        Error::NoSuchBox(e) => {
            assert_eq!(e.component, component);
            assert_eq!(e.kind, kind);
            assert_eq!(e.name, name);
        }
        other => panic!("expected NoSuchBox, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(component) && text.contains(name),
        "{text:?} should name component {component} and box {name}"
    );
}

// new test for rule A6.1 (a missing box is an error; in Rust a typed one naming the
// component and the box)
#[test]
fn wrong_box_name_is_a_typed_error_naming_component_and_box() {
    let sched = Scheduler::new();
    let (a, b) = two(&sched);
    let root = sched.root();
    let (na, nb) = (root.name_of(a), root.name_of(b));

    let e = root.link((a, "outbx"), (b, "inbox")).unwrap_err();
    expect_no_such_box(e, &na, BoxKind::Outbox, "outbx");
    let e = root.link((a, "outbox"), (b, "inbx")).unwrap_err();
    expect_no_such_box(e, &nb, BoxKind::Inbox, "inbx");

    // The passthrough kind decides which side a box name is looked up on: an inbox
    // passthrough has no source *outbox*, an outbox passthrough no sink *inbox*.
    let e = root
        .link_with((a, "outbox"), (b, "inbox"), Passthrough::Inbound, None)
        .unwrap_err();
    expect_no_such_box(e, &na, BoxKind::Inbox, "outbox");
    let e = root
        .link_with((a, "outbox"), (b, "inbox"), Passthrough::Outbound, None)
        .unwrap_err();
    expect_no_such_box(e, &nb, BoxKind::Outbox, "inbox");
    // A normal link from an inbox or into an outbox is just as wrong.
    let e = root.link((a, "inbox"), (b, "inbox")).unwrap_err();
    expect_no_such_box(e, &na, BoxKind::Outbox, "inbox");
    let e = root.link((a, "outbox"), (b, "outbox")).unwrap_err();
    expect_no_such_box(e, &nb, BoxKind::Inbox, "outbox");

    // None of the failed links left anything behind: the boxes link normally afterwards.
    assert!(root.linkages().is_empty());
    root.link((a, "outbox"), (b, "inbox")).unwrap();
    sched.ctx(a).send(1u8, "outbox").unwrap();
    assert_eq!(sched.ctx(b).data_ready("inbox"), 1);
}

// new test for rule A6.1 applied to send / recv / set_inbox_size: wrong box names give the
// same typed error (the send hands its message back)
#[test]
fn wrong_box_name_on_send_recv_and_size_is_typed() {
    let sched = Scheduler::new();
    let (a, _) = two(&sched);
    let ctx = sched.ctx(a);
    let na = ctx.name();

    match ctx.send(5u32, "outbx") {
        Err(SendError::NoSuchBox(e, m)) => {
            assert_eq!(
                (e.component.as_str(), e.kind),
                (na.as_str(), BoxKind::Outbox)
            );
            assert_eq!(e.name, "outbx");
            assert_eq!(m.downcast::<u32>().unwrap(), 5);
        }
        other => panic!("expected SendError::NoSuchBox, got {other:?}"),
    }
    match ctx.recv("inbx") {
        Err(RecvError::NoSuchBox(e)) => {
            assert_eq!(
                (e.component.as_str(), e.kind),
                (na.as_str(), BoxKind::Inbox)
            );
            assert_eq!(e.name, "inbx");
        }
        other => panic!("expected RecvError::NoSuchBox, got {other:?}"),
    }
    expect_no_such_box(
        ctx.try_data_ready("inbx").unwrap_err(),
        &na,
        BoxKind::Inbox,
        "inbx",
    );
    expect_no_such_box(
        ctx.set_inbox_size("outbox", Some(1)).unwrap_err(),
        &na,
        BoxKind::Inbox,
        "outbox",
    );
}
