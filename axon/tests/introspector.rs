//! The Introspector component and topology snapshots (spec A11).
//!
//! Kamaelia has no unit tests for `Axon.Introspector`; these are new tests of the rules in
//! spec A11 and of `Topology`. The scheduler is driven with `step`, which never blocks.

use axon::ipc::ShutdownMicroprocess;
use axon::{
    component, BoxKind, Component, ComponentId, Introspector, LinkInfo, Passthrough, Scheduler,
};

/// Waits for anything on "control", then ends. Messages on "inbox" are taken and dropped.
fn waiter(label: &'static str) -> impl Component {
    component(label, |ctx| async move {
        loop {
            while ctx.recv("inbox").is_ok() {}
            if ctx.data_ready("control") > 0 {
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    })
}

/// The process-wide number of a component: the `_<n>` at the end of its name (spec A1.2).
fn number(sched: &Scheduler, c: ComponentId) -> u64 {
    let name = sched.root().name_of(c);
    name.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in the name {name:?}"))
}

/// Kamaelia's id of a postbox node: the Python tuple `(id, 'i'|'o', 'name')` as text.
fn box_id(n: u64, kind: BoxKind, name: &str) -> String {
    let k = match kind {
        BoxKind::Inbox => "i",
        BoxKind::Outbox => "o",
    };
    format!("({n}, '{k}', '{name}')")
}

/// The ADD NODE lines and the component-to-box ADD LINK lines for one component (A11.2).
fn add_lines(sched: &Scheduler, c: ComponentId) -> (Vec<String>, Vec<String>) {
    let n = number(sched, c);
    let ctx = sched.ctx(c);
    let mut nodes = vec![format!(
        "ADD NODE \"{n}\" \"{}\" randompos component",
        ctx.name()
    )];
    let mut links = Vec::new();
    for (kind, boxes) in [
        (BoxKind::Inbox, ctx.inboxes()),
        (BoxKind::Outbox, ctx.outboxes()),
    ] {
        for b in boxes {
            let id = box_id(n, kind, &b);
            nodes.push(format!("ADD NODE \"{id}\" \"{b}\" randompos {kind}"));
            links.push(format!("ADD LINK \"{n}\" \"{id}\""));
        }
    }
    (nodes, links)
}

/// The node ids of one component and its boxes (what DEL NODE names when it goes).
fn node_ids(sched: &Scheduler, c: ComponentId) -> Vec<String> {
    let n = number(sched, c);
    let ctx = sched.ctx(c);
    let mut ids = vec![n.to_string()];
    ids.extend(ctx.inboxes().iter().map(|b| box_id(n, BoxKind::Inbox, b)));
    ids.extend(ctx.outboxes().iter().map(|b| box_id(n, BoxKind::Outbox, b)));
    ids
}

/// A box-to-box LINK line ("ADD" or "DEL").
fn link_line(verb: &str, from: (u64, BoxKind, &str), to: (u64, BoxKind, &str)) -> String {
    format!(
        "{verb} LINK \"{}\" \"{}\"",
        box_id(from.0, from.1, from.2),
        box_id(to.0, to.1, to.2)
    )
}

/// Everything the introspector has said so far (it is linked to the root's inbox).
fn said(sched: &Scheduler) -> Vec<String> {
    let root = sched.root();
    std::iter::from_fn(|| root.recv_as::<String>("inbox").ok()).collect()
}

/// Checks a message's lines are in Kamaelia's order: DEL LINK, DEL NODE, ADD NODE, ADD LINK.
fn assert_kamaelia_order(msg: &str) {
    let rank = |l: &str| -> u8 {
        if l.starts_with("DEL LINK ") {
            0
        } else if l.starts_with("DEL NODE ") {
            1
        } else if l.starts_with("ADD NODE ") {
            2
        } else if l.starts_with("ADD LINK ") {
            3
        } else {
            panic!("not a topology line: {l:?}")
        }
    };
    let ranks: Vec<u8> = msg.lines().map(rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "lines out of order:\n{msg}"
    );
    assert!(msg.ends_with('\n'), "{msg:?}");
}

fn sorted_lines(msg: &str) -> Vec<String> {
    let mut v: Vec<String> = msg.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A scheduler with an Introspector whose outbox leads to the root's inbox, plus whatever
/// `extra` makes; stepped until the Introspector has sent its first two messages, which are
/// returned.
fn setup(extra: impl FnOnce(&Scheduler)) -> (Scheduler, ComponentId, Vec<String>) {
    let sched = Scheduler::new();
    let root = sched.root();
    let introspector = root.create(Introspector);
    root.link((introspector, "outbox"), (root.id(), "inbox"))
        .unwrap();
    extra(&sched);
    root.activate(introspector).unwrap();
    sched.step(10);
    let first = said(&sched);
    (sched, introspector, first)
}

// new: spec A11.2 (first "DEL ALL\n", then ADD NODE lines for every component and each of its
// boxes, and ADD LINK lines component -> box and box -> box for each linkage)
#[test]
fn first_del_all_then_the_whole_topology() {
    let mut ids = Vec::new();
    let (sched, introspector, first) = setup(|sched| {
        let root = sched.root();
        let a = root.spawn(waiter("A"));
        let b = root.spawn(waiter("B"));
        root.link((a, "outbox"), (b, "inbox")).unwrap();
        ids = vec![a, b];
    });
    let (a, b) = (ids[0], ids[1]);
    let root = sched.root();
    assert_eq!(first.len(), 2, "{first:#?}");
    assert_eq!(first[0], "DEL ALL\n");
    assert_kamaelia_order(&first[1]);

    let mut expected = Vec::new();
    // The root is in it too: it is reached through the introspector's linkage.
    for c in [root.id(), introspector, a, b] {
        let (nodes, links) = add_lines(&sched, c);
        expected.extend(nodes);
        expected.extend(links);
    }
    let (ni, nr, na, nb) = (
        number(&sched, introspector),
        number(&sched, root.id()),
        number(&sched, a),
        number(&sched, b),
    );
    expected.push(link_line(
        "ADD",
        (ni, BoxKind::Outbox, "outbox"),
        (nr, BoxKind::Inbox, "inbox"),
    ));
    expected.push(link_line(
        "ADD",
        (na, BoxKind::Outbox, "outbox"),
        (nb, BoxKind::Inbox, "inbox"),
    ));
    assert_eq!(sorted_lines(&first[1]), sorted(expected));
    // The introspector's boxes are Kamaelia's (spec A11.1).
    let ictx = sched.ctx(introspector);
    assert_eq!(ictx.inboxes(), vec!["inbox", "control"]);
    assert_eq!(ictx.outboxes(), vec!["outbox", "signal"]);
}

// new: spec A11.2 ("Nothing is sent if nothing changed"; messages moving are not changes)
#[test]
fn nothing_is_sent_while_nothing_changes() {
    let mut a = None;
    let (sched, _i, first) = setup(|sched| {
        a = Some(sched.root().spawn(waiter("A")));
    });
    assert_eq!(first.len(), 2);
    sched.step(20);
    assert!(said(&sched).is_empty());
    // Data moving through boxes is not a topology change.
    sched.ctx(a.unwrap()).deliver(1u8, "inbox").unwrap();
    sched.step(20);
    assert!(said(&sched).is_empty());
}

// new: spec A11.2 (a linkage undone gives DEL LINK; made again gives ADD LINK)
#[test]
fn unlinking_gives_del_link_and_relinking_add_link() {
    let mut ids = Vec::new();
    let (sched, _i, first) = setup(|sched| {
        let root = sched.root();
        ids = vec![root.spawn(waiter("A")), root.spawn(waiter("B"))];
    });
    assert_eq!(first.len(), 2);
    let (a, b) = (ids[0], ids[1]);
    let (na, nb) = (number(&sched, a), number(&sched, b));
    let root = sched.root();
    let l = root.link((a, "outbox"), (b, "inbox")).unwrap();
    sched.step(5);
    let add = link_line(
        "ADD",
        (na, BoxKind::Outbox, "outbox"),
        (nb, BoxKind::Inbox, "inbox"),
    );
    assert_eq!(said(&sched), vec![format!("{add}\n")]);

    assert!(root.unlink(&l));
    sched.step(5);
    let del = link_line(
        "DEL",
        (na, BoxKind::Outbox, "outbox"),
        (nb, BoxKind::Inbox, "inbox"),
    );
    assert_eq!(said(&sched), vec![format!("{del}\n")]);
}

// new: spec A11.2 (a component ending gives DEL NODE for it and its boxes, after any DEL LINK)
#[test]
fn a_component_ending_gives_del_node() {
    let mut c = None;
    let (sched, _i, first) = setup(|sched| {
        c = Some(sched.root().spawn(waiter("C")));
    });
    let c = c.unwrap();
    assert_eq!(first.len(), 2);
    let ids = node_ids(&sched, c);
    sched.ctx(c).deliver((), "control").unwrap();
    sched.step(5);
    assert!(sched.root().is_stopped(c));
    let msgs = said(&sched);
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let msg = &msgs[0];
    assert_kamaelia_order(msg);
    let del_nodes: Vec<String> = msg
        .lines()
        .filter(|l| l.starts_with("DEL NODE "))
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = ids.iter().map(|id| format!("DEL NODE \"{id}\"")).collect();
    assert_eq!(sorted(del_nodes), sorted(expected));
    assert!(!msg.contains("ADD "), "{msg}");
    // Any DEL LINK concerns only the ended component's nodes.
    for l in msg.lines().filter(|l| l.starts_with("DEL LINK ")) {
        assert!(ids.iter().any(|id| l.contains(&format!("\"{id}\""))), "{l}");
    }
}

// new: spec A11.2 (a new component gives ADD NODE lines and its component -> box links)
#[test]
fn a_new_component_gives_add_node() {
    let (sched, _i, first) = setup(|_| {});
    assert_eq!(first.len(), 2);
    let d = sched.root().spawn(waiter("D"));
    sched.step(5);
    let msgs = said(&sched);
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_kamaelia_order(&msgs[0]);
    let (nodes, links) = add_lines(&sched, d);
    let mut expected = nodes;
    expected.extend(links);
    assert_eq!(sorted_lines(&msgs[0]), sorted(expected));
}

// new: spec A11.2 (every box is a node, so adding and deleting boxes shows)
#[test]
fn adding_and_deleting_a_box_shows_up() {
    let mut c = None;
    let (sched, _i, first) = setup(|sched| {
        c = Some(sched.root().spawn(waiter("C")));
    });
    let c = c.unwrap();
    assert_eq!(first.len(), 2);
    let n = number(&sched, c);
    let name = sched.ctx(c).add_outbox("extra").unwrap();
    sched.step(5);
    let id = box_id(n, BoxKind::Outbox, &name);
    assert_eq!(
        said(&sched),
        vec![format!(
            "ADD NODE \"{id}\" \"{name}\" randompos outbox\nADD LINK \"{n}\" \"{id}\"\n"
        )]
    );
    sched.ctx(c).delete_outbox(&name).unwrap();
    sched.step(5);
    assert_eq!(
        said(&sched),
        vec![format!("DEL LINK \"{n}\" \"{id}\"\nDEL NODE \"{id}\"\n")]
    );
}

// new: spec A11.2 (linkage end box types by passthrough: source 0:o 1:i 2:o, sink 0:i 1:i 2:o)
#[test]
fn passthrough_linkages_use_the_box_kinds_of_their_ends() {
    let (sched, _i, first) = setup(|_| {});
    assert_eq!(first.len(), 2);
    let root = sched.root();
    let parent = root.spawn(waiter("Parent"));
    let child = root.spawn(waiter("Child"));
    sched.step(5);
    said(&sched);
    let pctx = sched.ctx(parent);
    pctx.link_with(
        (parent, "inbox"),
        (child, "inbox"),
        Passthrough::Inbound,
        None,
    )
    .unwrap();
    pctx.link_with(
        (child, "outbox"),
        (parent, "outbox"),
        Passthrough::Outbound,
        None,
    )
    .unwrap();
    sched.step(5);
    let (np, nc) = (number(&sched, parent), number(&sched, child));
    let all: String = said(&sched).concat();
    assert_eq!(
        sorted_lines(&all),
        sorted(vec![
            link_line(
                "ADD",
                (np, BoxKind::Inbox, "inbox"),
                (nc, BoxKind::Inbox, "inbox")
            ),
            link_line(
                "ADD",
                (nc, BoxKind::Outbox, "outbox"),
                (np, BoxKind::Outbox, "outbox")
            ),
        ])
    );
}

// new: spec A11.2 ("adds any components it reaches through postoffice linkages"): a component
// that is not activated shows up only once a linkage reaches it
#[test]
fn components_reached_through_linkages_are_included() {
    let mut a = None;
    let (sched, _i, first) = setup(|sched| {
        a = Some(sched.root().spawn(waiter("A")));
    });
    let a = a.unwrap();
    let root = sched.root();
    let x = root.create(waiter("NotActivated"));
    sched.step(5);
    let msgs = said(&sched);
    let x_name = root.name_of(x);
    assert!(
        !first.concat().contains(&x_name) && !msgs.concat().contains(&x_name),
        "a component that is neither activated nor linked showed up"
    );
    root.link((x, "outbox"), (a, "inbox")).unwrap();
    sched.step(5);
    let msgs = said(&sched);
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let (nodes, mut links) = add_lines(&sched, x);
    links.push(link_line(
        "ADD",
        (number(&sched, x), BoxKind::Outbox, "outbox"),
        (number(&sched, a), BoxKind::Inbox, "inbox"),
    ));
    let mut expected = nodes;
    expected.extend(links);
    assert_eq!(sorted_lines(&msgs[0]), sorted(expected));
}

// new: spec A11.1 ("inbox": "NOT USED"; the introspector ignores what arrives there)
#[test]
fn the_inbox_is_ignored() {
    let (sched, introspector, first) = setup(|_| {});
    assert_eq!(first.len(), 2);
    sched
        .ctx(introspector)
        .deliver(String::from("ADD NODE junk"), "inbox")
        .unwrap();
    sched.step(10);
    assert!(said(&sched).is_empty());
    assert!(!sched.root().is_stopped(introspector));
    assert_eq!(sched.ctx(introspector).data_ready("inbox"), 0);
}

// new: spec A11.3 (a shutdownMicroprocess on "control" is passed to "signal", then it ends)
#[test]
fn shutdown_on_control_is_passed_to_signal_and_ends_it() {
    let (sched, introspector, first) = setup(|_| {});
    assert_eq!(first.len(), 2);
    let root = sched.root();
    root.link((root.id(), "signal"), (introspector, "control"))
        .unwrap();
    root.link((introspector, "signal"), (root.id(), "control"))
        .unwrap();
    sched.step(5);
    said(&sched);
    root.send(ShutdownMicroprocess::default(), "signal")
        .unwrap();
    sched.step(5);
    assert!(root.is_stopped(introspector));
    let m = root.recv("control").unwrap();
    assert!(m.is::<ShutdownMicroprocess>(), "{m:?}");
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
}

// new: doc of Topology::to_dot ("one cluster per component with its boxes, an arrow per
// linkage") and of Topology (the live components and the linkages)
#[test]
fn topology_lists_components_and_linkages_and_to_dot_draws_them() {
    let sched = Scheduler::new();
    let root = sched.root();
    let a = root.spawn(waiter("Alpha"));
    let b = root.spawn(waiter("Beta"));
    let c = root.spawn(waiter("Gamma"));
    root.link((a, "outbox"), (b, "inbox")).unwrap();
    root.link((b, "outbox"), (c, "inbox")).unwrap();
    root.link((c, "signal"), (a, "control")).unwrap();
    sched.step(5);
    let topo = sched.topology();
    let (na, nb, nc) = (number(&sched, a), number(&sched, b), number(&sched, c));
    for (n, name) in [(na, "Alpha"), (nb, "Beta"), (nc, "Gamma")] {
        let node = topo
            .components
            .iter()
            .find(|x| x.id == n)
            .unwrap_or_else(|| panic!("{name} missing from {topo:#?}"));
        assert!(node.name.starts_with(name));
        assert_eq!(node.state, "paused");
    }
    let mut expected = vec![
        LinkInfo {
            source: (na, BoxKind::Outbox, "outbox".into()),
            sink: (nb, BoxKind::Inbox, "inbox".into()),
        },
        LinkInfo {
            source: (nb, BoxKind::Outbox, "outbox".into()),
            sink: (nc, BoxKind::Inbox, "inbox".into()),
        },
        LinkInfo {
            source: (nc, BoxKind::Outbox, "signal".into()),
            sink: (na, BoxKind::Inbox, "control".into()),
        },
    ];
    expected.sort();
    let mut got = topo.linkages.clone();
    got.sort();
    assert_eq!(got, expected);

    let dot = topo.to_dot();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for c in [a, b, c] {
        assert!(dot.contains(&root.name_of(c)), "{dot}");
    }
    let edges: Vec<&str> = dot.lines().filter(|l| l.contains("->")).collect();
    assert_eq!(edges.len(), 3, "{dot}");
    for l in &expected {
        let (s, d) = (l.source.0.to_string(), l.sink.0.to_string());
        assert!(
            edges
                .iter()
                .any(|e| e.contains(&s) && e.contains(&d) && e.contains(&l.source.2)),
            "no edge for {l:?} in\n{dot}"
        );
    }
    // Unlinking removes the edge.
    let l = root.linkages().remove(0);
    root.unlink(&l);
    let dot = sched.topology().to_dot();
    assert_eq!(dot.lines().filter(|l| l.contains("->")).count(), 2, "{dot}");
}

// new: doc of Topology::diff_lines ("Empty if nothing changed") and of its order
#[test]
fn diff_of_a_topology_with_itself_is_empty_and_from_empty_is_all_adds() {
    let sched = Scheduler::new();
    let root = sched.root();
    let a = root.spawn(waiter("A"));
    root.link((a, "outbox"), (root.id(), "inbox")).unwrap();
    let now = sched.topology();
    assert_eq!(now.diff_lines(&now), "");
    let from_empty = now.diff_lines(&axon::Topology::default());
    assert_kamaelia_order(&from_empty);
    assert!(from_empty.lines().all(|l| l.starts_with("ADD ")));
    let to_empty = axon::Topology::default().diff_lines(&now);
    assert_kamaelia_order(&to_empty);
    assert!(to_empty.lines().all(|l| l.starts_with("DEL ")));
    assert_eq!(from_empty.lines().count(), to_empty.lines().count());
}
