//! `Graphline` (Kamaelia's `Kamaelia.Chassis.Graphline`), checked against rule B2 of
//! `shared/reference/kamaelia-spec.md`, surprise (f)11 (boxes leaking between instances, which
//! must not happen here) and the Graphline shutdown examples (`DemoShutdown.py`,
//! `FailShutdown.py`).
//!
//! Every test runs its scheduler on a thread of its own and fails after a generous timeout
//! rather than hang.

mod common;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axon::chassis::graphline::Graphline;
use axon::ipc::{stop_kind, ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::{
    graphline, AnyComponent, BoxSpec, Component, ComponentResult, Ctx, Error, Message, Scheduler,
};
use common::{within, Log, Map, Source};

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(60);

/// Linkages as `Graphline::new` takes them.
type Links = Vec<((&'static str, &'static str), (&'static str, &'static str))>;

/// Logs every control message as `tag:what`; on a stop message passes it on and ends.
struct Recorder {
    tag: &'static str,
    log: Log,
}

fn what(m: &Message) -> String {
    if m.is::<ShutdownMicroprocess>() {
        "shutdown".into()
    } else if m.is::<ProducerFinished>() {
        "finished".into()
    } else if let Some(s) = m.downcast_ref::<String>() {
        s.clone()
    } else {
        m.type_name().to_string()
    }
}

impl Component for Recorder {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            while let Ok(msg) = ctx.recv("control") {
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{}:{}", self.tag, what(&msg)));
                if stop_kind(&msg).is_some() {
                    ctx.send(msg, "signal")?;
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn recorder(tag: &'static str, log: &Log) -> Recorder {
    Recorder {
        tag,
        log: log.clone(),
    }
}

fn sorted(log: &Log) -> Vec<String> {
    let mut v = log.lock().unwrap().clone();
    v.sort();
    v
}

/// A doubler that declares its boxes with descriptions of its own.
struct Described;

const DESCRIBED_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "numbers to double"),
    BoxSpec::new("control", "stop requests"),
];
const DESCRIBED_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "doubled numbers"),
    BoxSpec::new("signal", "stop requests passed on"),
];

impl Component for Described {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DESCRIBED_INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(DESCRIBED_OUTBOXES)
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        Map(|n| 2 * n).main(ctx).await
    }
}

fn names(specs: &[BoxSpec]) -> Vec<String> {
    specs.iter().map(|s| s.name.to_string()).collect()
}

fn description<'a>(specs: &'a [BoxSpec], name: &str) -> &'a str {
    &specs.iter().find(|s| s.name == name).unwrap().description
}

/// B2: linkages between children are ordinary links; from "self" they are inbound
/// passthroughs (the Graphline's inbox leads to a child's) and to "self" outbound ones. The
/// user linked ("self","signal"), so the Graphline sends no signal of its own: the one
/// message out of its signal is the one its children passed on.
#[test]
fn linkages_wire_children_and_self_passthroughs() {
    within(LIMIT, || {
        let g = graphline! {
            A = Map(|n| 2 * n),
            B = Map(|n| n + 1),
            linkages = {
                ("self", "numbers") : ("A", "inbox"),
                ("A", "outbox") : ("B", "inbox"),
                ("A", "signal") : ("B", "control"),
                ("B", "outbox") : ("self", "results"),
                ("B", "signal") : ("self", "signal"),
            }
        }
        .unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((root.id(), "outbox"), (g, "numbers")).unwrap();
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.link((g, "results"), (root.id(), "inbox")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();

        for n in 1..=3u32 {
            root.send(n, "outbox").unwrap();
        }
        // Copied to A (B's control is fed by A's signal); A tells B; B's signal is ours.
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");

        let out: Vec<u32> = (0..3).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(out, [3, 5, 7]);
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(pf, ProducerFinished::default(), "the very message we sent");
        assert_eq!(
            root.data_ready("control"),
            0,
            "no signal of the Graphline's own"
        );
    });
}

/// B2 box auto-creation: ("self", X) as a source makes an inbox X, ("self", Y) as a
/// destination makes an outbox Y, each with the description of the child's box at the other
/// end. The default boxes are always there, with `_cs`.
#[test]
fn self_boxes_are_made_with_the_child_descriptions() {
    let g = Graphline::new(
        vec![("D", AnyComponent::new(Described))],
        vec![
            (("self", "numbers"), ("D", "inbox")),
            (("D", "outbox"), ("self", "doubled")),
        ],
    )
    .unwrap();
    let inboxes = g.inboxes();
    let outboxes = g.outboxes();
    assert_eq!(names(&inboxes), ["inbox", "control", "numbers"]);
    assert_eq!(names(&outboxes), ["outbox", "signal", "_cs", "doubled"]);
    assert_eq!(description(&inboxes, "numbers"), "numbers to double");
    assert_eq!(description(&outboxes, "doubled"), "doubled numbers");
    assert_eq!(
        description(&outboxes, "_cs"),
        "For signaling to subcomponents shutdown"
    );
}

/// Surprise (f)11: Kamaelia writes the boxes named on "self" into the *class*, so they leak
/// into every later Graphline. Here each instance has its own.
#[test]
fn self_boxes_belong_to_each_instance() {
    within(LIMIT, || {
        let first = Graphline::new(
            vec![("M", AnyComponent::new(Map(|n| n)))],
            vec![
                (("self", "numbers"), ("M", "inbox")),
                (("M", "outbox"), ("self", "results")),
            ],
        )
        .unwrap();
        let second = Graphline::new(
            vec![("M", AnyComponent::new(Map(|n| n)))],
            vec![(("self", "words"), ("M", "inbox"))],
        )
        .unwrap();
        let plain =
            Graphline::new(vec![("M", AnyComponent::new(Map(|n| n)))], Links::new()).unwrap();
        assert!(names(&first.inboxes()).contains(&"numbers".to_string()));
        assert_eq!(names(&second.inboxes()), ["inbox", "control", "words"]);
        assert_eq!(names(&second.outboxes()), ["outbox", "signal", "_cs"]);
        assert_eq!(names(&plain.inboxes()), ["inbox", "control"]);
        assert_eq!(names(&plain.outboxes()), ["outbox", "signal", "_cs"]);

        // And once running.
        let sched = Scheduler::new();
        let root = sched.root();
        let first = root.spawn(first);
        let second = root.spawn(second);
        assert!(sched.ctx(first).inboxes().contains(&"numbers".to_string()));
        assert!(!sched.ctx(second).inboxes().contains(&"numbers".to_string()));
        assert!(!sched
            .ctx(second)
            .outboxes()
            .contains(&"results".to_string()));
        let err = root
            .link((root.id(), "outbox"), (second, "numbers"))
            .unwrap_err();
        assert!(matches!(err, Error::NoSuchBox(_)), "{err}");
    });
}

/// B2 control handling: with ("self","control") not linked, each message reaching the
/// Graphline's control is copied to the control of every child whose control no linkage feeds
/// (A and C here, not B, whose control A's signal feeds); any message, not only stop
/// requests. A shutdownMicroprocess is remembered and, when all children have ended, sent on
/// the Graphline's signal (the user did not link ("self","signal")).
#[test]
fn control_is_copied_to_children_whose_control_is_not_linked() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let g = graphline! {
            A = recorder("A", &log),
            B = recorder("B", &log),
            C = recorder("C", &log),
            linkages = { ("A", "signal") : ("B", "control") }
        }
        .unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();

        root.send(String::from("hello"), "signal").unwrap();
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 4, "{report:?}");
        assert_eq!(sorted(&log), ["A:hello", "C:hello"]);

        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            sorted(&log),
            [
                "A:hello",
                "A:shutdown",
                "B:shutdown",
                "C:hello",
                "C:shutdown"
            ]
        );
        // C's signal goes nowhere and A's went to B; what comes out is the Graphline's own
        // signal: the remembered shutdownMicroprocess.
        assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// B2: Kamaelia's `Axon.Ipc.shutdown` is honoured as shutdownMicroprocess (the project's
/// shutdown rule): copied to each child, remembered, and sent on signal at the end.
#[test]
fn legacy_shutdown_is_copied_and_remembered() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let g =
            graphline! { A = recorder("A", &log), B = recorder("B", &log), linkages = {} }.unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();
        root.send(Shutdown, "signal").unwrap();
        assert!(sched.run().is_clean());
        assert_eq!(
            sorted(&log),
            ["A:axon::ipc::Shutdown", "B:axon::ipc::Shutdown"]
        );
        assert!(root.recv("control").unwrap().is::<Shutdown>());
    });
}

/// B2: "When all children have terminated, and the user has not linked anything to
/// ("self","signal"), it sends ... a fresh producerFinished() out of signal."
#[test]
fn producer_finished_is_signalled_when_the_children_end_by_themselves() {
    within(LIMIT, || {
        let g = graphline! {
            SRC = Source(vec![1, 2]),
            DBL = Map(|n| 2 * n),
            linkages = {
                ("SRC", "outbox") : ("DBL", "inbox"),
                ("SRC", "signal") : ("DBL", "control"),
                ("DBL", "outbox") : ("self", "outbox"),
            }
        }
        .unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((g, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();
        assert!(sched.run().is_clean());
        assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 2);
        assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 4);
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(pf.caller, Some(g), "the Graphline's own");
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// Examples/UsingChassis/Graphline/FailShutdown.py against DemoShutdown.py. When the user
/// links ("self","control") to one child, the Graphline copies nothing to the others: a
/// producerFinished stops that child only, the other waits for ever, and so does the
/// Graphline (Kamaelia hangs; our scheduler returns and lists them as left paused). Without
/// that linkage the same request reaches every child and the graph ends by itself.
#[test]
fn linking_self_control_leaves_shutdown_to_the_user() {
    within(LIMIT, || {
        let make = |link_control: bool| {
            let mut linkages = vec![(("A", "outbox"), ("B", "inbox"))];
            if link_control {
                linkages.push((("self", "control"), ("A", "control")));
            }
            Graphline::new(
                vec![
                    ("A", AnyComponent::new(Map(|n| n))),
                    ("B", AnyComponent::new(Map(|n| n))),
                ],
                linkages,
            )
            .unwrap()
        };

        // FailShutdown: the graph does not stop by itself.
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(make(true));
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        let mut paused = report.left_paused.clone();
        paused.sort();
        assert_eq!(paused.len(), 2, "{report:?}");
        assert!(paused[0].starts_with("Graphline_"), "{paused:?}");
        assert!(paused[1].starts_with("Map_"), "{paused:?}");
        assert_eq!(
            root.data_ready("control"),
            0,
            "no signal: the Graphline is alive"
        );

        // DemoShutdown: the Graphline copies the request to both children and ends.
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(make(false));
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.link((g, "signal"), (root.id(), "control")).unwrap();
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(root.recv("control").unwrap().is::<ProducerFinished>());
    });
}

/// B2: a linkage from "self" to "self" joins an outbox of the Graphline to one of its inboxes
/// (passthrough 0, with a warning). Here a child's output goes out through the Graphline's
/// "outbox", back in through its "inbox", and on to another child.
#[test]
fn self_to_self_joins_an_outbox_of_the_graphline_to_an_inbox() {
    within(LIMIT, || {
        let g = graphline! {
            SRC = Source(vec![7]),
            INC = Map(|n| n + 1),
            linkages = {
                ("SRC", "outbox") : ("self", "outbox"),
                ("self", "outbox") : ("self", "inbox"),
                ("self", "inbox") : ("INC", "inbox"),
                ("SRC", "signal") : ("INC", "control"),
                ("INC", "outbox") : ("self", "result"),
            }
        }
        .unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((g, "result"), (root.id(), "inbox")).unwrap();
        assert!(sched.run().is_clean());
        assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 8);
    });
}

/// A wrong component name or box name is an error when the Graphline is made, naming both
/// (Kamaelia takes any unknown name for the Graphline itself, and a wrong box fails only when
/// main() links it).
#[test]
fn wrong_names_are_errors_at_construction() {
    let map = || AnyComponent::new(Map(|n| n));
    let two = || vec![("SRC", map()), ("DST", map())];
    let err = |linkages: Links| Graphline::new(two(), linkages).unwrap_err();

    // A component that does not exist (and is not "self").
    let e = err(vec![(("SCR", "outbox"), ("DST", "inbox"))]);
    assert!(matches!(e, Error::BadGraphline(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("\"SCR\"") && text.contains("\"outbox\""),
        "{text}"
    );
    let e = err(vec![(("SRC", "outbox"), ("DTS", "inbox"))]);
    let text = e.to_string();
    assert!(
        text.contains("\"DTS\"") && text.contains("\"inbox\""),
        "{text}"
    );

    // A box the child does not have.
    let e = err(vec![(("SRC", "outbx"), ("DST", "inbox"))]);
    let Error::NoSuchBox(b) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(b.name, "outbx");
    let text = e.to_string();
    assert!(
        text.contains("\"SRC\"") && text.contains("\"outbx\""),
        "{text}"
    );
    assert!(
        text.contains("outbox, signal"),
        "lists the boxes it has: {text}"
    );
    let e = err(vec![(("SRC", "outbox"), ("DST", "inbx"))]);
    let text = e.to_string();
    assert!(
        text.contains("\"DST\"") && text.contains("\"inbx\""),
        "{text}"
    );

    // A box of the wrong kind: an inbox as a source, an outbox as a destination.
    let text = err(vec![(("SRC", "inbox"), ("DST", "inbox"))]).to_string();
    assert!(
        text.contains("\"SRC\"") && text.contains("no outbox named \"inbox\""),
        "{text}"
    );
    let text = err(vec![(("self", "in"), ("DST", "outbox"))]).to_string();
    assert!(
        text.contains("\"DST\"") && text.contains("no inbox named \"outbox\""),
        "{text}"
    );

    // One source box, two destinations.
    let e = err(vec![
        (("SRC", "outbox"), ("DST", "inbox")),
        (("SRC", "outbox"), ("DST", "control")),
    ]);
    assert!(
        matches!(e, Error::BoxAlreadyLinkedToDestination { .. }),
        "{e}"
    );

    // Component names: unique, and not "self".
    let e = Graphline::new(vec![("A", map()), ("A", map())], Links::new()).unwrap_err();
    assert!(e.to_string().contains("\"A\""), "{e}");
    let e = Graphline::new(vec![("self", map())], Links::new()).unwrap_err();
    assert!(e.to_string().contains("\"self\""), "{e}");

    // The macro reports the same errors.
    let e = graphline! {
        SRC = Map(|n| n),
        linkages = { ("SRC", "sgnal") : ("self", "signal") }
    }
    .unwrap_err();
    assert!(e.to_string().contains("\"sgnal\""), "{e}");
}

/// The macro takes the linkages anywhere in the list, as Python's keyword arguments, and
/// names given as `String`s.
#[test]
fn macro_accepts_linkages_first_and_string_names() {
    let child = String::from("M");
    let g = graphline! {
        linkages = {
            ("self", "inbox") : (child.clone(), "inbox"),
            (child.clone(), String::from("outbox")) : ("self", "outbox"),
        },
        M = Map(|n| n),
    }
    .unwrap();
    assert_eq!(g.component_names(), ["M"]);
    // "outbox" already exists on every Graphline, so it is not made again.
    assert_eq!(names(&g.outboxes()), ["outbox", "signal", "_cs"]);
    assert_eq!(names(&g.inboxes()), ["inbox", "control"]);
}

/// A message on control that cannot be copied (our messages hold any `Send` value, and only
/// known types can be copied) reaches one child only, and the others are left alone.
#[test]
fn a_control_message_that_cannot_be_copied_reaches_one_child() {
    within(LIMIT, || {
        struct Opaque;
        let log: Log = Arc::default();
        let g =
            graphline! { A = recorder("A", &log), B = recorder("B", &log), linkages = {} }.unwrap();
        let sched = Scheduler::new();
        let root = sched.root();
        let g = root.spawn(g);
        root.link((root.id(), "signal"), (g, "control")).unwrap();
        root.send(Opaque, "signal").unwrap();
        sched.run();
        assert_eq!(log.lock().unwrap().len(), 1, "{:?}", log.lock().unwrap());
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        assert!(sched.run().is_clean());
    });
}
