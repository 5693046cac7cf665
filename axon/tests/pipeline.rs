//! `Pipeline` (Kamaelia's `Kamaelia.Chassis.Pipeline`), checked against rule B1 of
//! `shared/reference/kamaelia-spec.md` and the Python source.
//!
//! Every test runs its scheduler on a thread of its own and fails after a generous timeout
//! rather than hang.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axon::chassis::pipeline::Pipeline;
use axon::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess, StopKind};
use axon::{component, pipeline, AnyComponent, Component, ComponentResult, Ctx, Scheduler};
use common::{within, Log, Map, Source};

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(60);

/// Counts round a ring: logs each number it gets, passes on one more, and at `limit` sends
/// `ProducerFinished` instead and ends. Passes control messages on and ends.
struct Counter {
    tag: &'static str,
    limit: u32,
    log: Log,
}

impl Component for Counter {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            while let Ok(n) = ctx.recv_as::<u32>("inbox") {
                self.log.lock().unwrap().push(format!("{}{n}", self.tag));
                if n >= self.limit {
                    ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                    return Ok(());
                }
                ctx.send(n + 1, "outbox")?;
            }
            if let Ok(msg) = ctx.recv("control") {
                self.log.lock().unwrap().push(format!("{} stops", self.tag));
                ctx.send(msg, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// Ignores control and numbers; ends when the text "go" reaches its inbox.
fn stubborn() -> AnyComponent {
    AnyComponent::new(component("Stubborn", |ctx: Ctx| async move {
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                if m.downcast_ref::<&str>() == Some(&"go") {
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }))
}

/// B1: consecutive children are linked outbox→inbox and signal→control, the last child's
/// outbox and signal come out of the Pipeline, and the first child's ProducerFinished
/// cascades through every child so that the whole graph ends by itself (Pipeline.py's
/// `__main__`: "Should output 7 fruit, followed by '<end of list>'").
#[test]
fn data_flows_and_producer_finished_cascades() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.spawn(pipeline![
            Source(vec![1, 2, 3]),
            Map(|n| n + 10),
            Map(|n| n * 2)
        ]);
        root.link((pipe, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((pipe, "signal"), (root.id(), "control")).unwrap();

        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(sched.live(), 0, "every child and the Pipeline ended");
        let out: Vec<u32> = (0..3).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(out, [22, 24, 26]);
        assert_eq!(root.data_ready("inbox"), 0);
        // The Pipeline sends nothing of its own: the one signal is the source's, passed on.
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert!(pf.caller.is_some() && pf.caller != Some(pipe));
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// B1: "All wiring happens on the first run of main(), not in the constructor." Before the
/// Pipeline runs it has no children and what is sent to it waits in its own inbox; after its
/// first cycle its inbox passes through to the first child.
#[test]
fn wiring_happens_when_the_pipeline_first_runs() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.create(pipeline![Map(|n| n + 1), Map(|n| n + 1)]);
        root.link((root.id(), "outbox"), (pipe, "inbox")).unwrap();
        root.link((root.id(), "signal"), (pipe, "control")).unwrap();
        root.link((pipe, "outbox"), (root.id(), "inbox")).unwrap();
        root.send(1u32, "outbox").unwrap();

        let p = sched.ctx(pipe);
        assert!(p.children().is_empty());
        assert_eq!(
            p.data_ready("inbox"),
            1,
            "waits in the Pipeline until it is wired"
        );

        root.activate(pipe).unwrap();
        // It joins the run queue at the end of a cycle and runs in the next.
        for _ in 0..3 {
            if !p.children().is_empty() {
                break;
            }
            sched.step(1);
        }
        assert_eq!(
            p.children().len(),
            2,
            "adopted its children on its first run"
        );
        assert_eq!(p.data_ready("inbox"), 0, "moved along the new passthrough");

        root.send(ProducerFinished::default(), "signal").unwrap();
        assert!(sched.run().is_clean());
        assert_eq!(root.recv_as::<u32>("inbox").unwrap(), 3);
    });
}

/// B1: the Pipeline's control passes through (passthrough=1) to the first child's, and
/// signal→control links carry a ShutdownMicroprocess down the row; the last child's signal
/// comes out of the Pipeline's. Children that would wait for ever all end.
#[test]
fn shutdown_on_the_pipeline_control_stops_every_child() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.spawn(pipeline![Map(|n| n), Map(|n| n), Map(|n| n)]);
        root.link((root.id(), "signal"), (pipe, "control")).unwrap();
        root.link((pipe, "signal"), (root.id(), "control")).unwrap();

        // Without a stop request the children wait for ever, and so does the Pipeline.
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 4, "{report:?}");

        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
    });
}

/// B1, `circular`: the last child's outbox and signal lead back to the first child's inbox
/// and control instead of out of the Pipeline (Examples/UsingChassis/Pipeline/Feedback.py).
#[test]
fn circular_pipeline_links_last_to_first() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let counter = |tag| Counter {
            tag,
            limit: 5,
            log: log.clone(),
        };
        let sched = Scheduler::new();
        let root = sched.root();
        let ring = pipeline![circular: counter("A"), counter("B")];
        assert!(ring.is_circular());
        let ring = root.spawn(ring);
        root.link((root.id(), "outbox"), (ring, "inbox")).unwrap();
        root.link((ring, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((ring, "signal"), (root.id(), "control")).unwrap();
        root.send(0u32, "outbox").unwrap();

        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        // Round and round: A, B, back to A...; B's ProducerFinished reaches A's control.
        assert_eq!(
            *log.lock().unwrap(),
            ["A0", "B1", "A2", "B3", "A4", "B5", "A stops"]
        );
        // Nothing leaves a circular Pipeline.
        assert_eq!(root.data_ready("inbox"), 0);
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// B1: "Pipeline terminates only when all children have terminated", removing each ended
/// child (`childrenDone`). A child that ignores the cascade keeps the Pipeline alive; our
/// scheduler returns (where Kamaelia's would hang) and lists both as left paused.
#[test]
fn pipeline_ends_only_when_every_child_has_ended() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.spawn(Pipeline::new(vec![
            AnyComponent::new(Source(vec![1])),
            stubborn(),
        ]));

        let report = sched.run();
        let mut paused = report.left_paused.clone();
        paused.sort();
        assert_eq!(paused.len(), 2, "{report:?}");
        assert!(paused[0].starts_with("Pipeline_"), "{paused:?}");
        assert!(paused[1].starts_with("Stubborn_"), "{paused:?}");
        // The ended source was given up; only the stubborn child is left.
        let children = sched.ctx(pipe).children();
        assert_eq!(children.len(), 1);

        sched.ctx(children[0]).deliver("go", "inbox").unwrap();
        assert!(sched.run().is_clean());
    });
}

/// Pipelines nest: an inner Pipeline's inbox/control pass through to its first child and its
/// last child's outbox/signal come out of it, so the cascade crosses it (B1 passthroughs).
#[test]
fn nested_pipelines_cascade() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.spawn(pipeline![
            Source(vec![1, 2]),
            pipeline![Map(|n| n * 10), Map(|n| n + 1)],
            Map(|n| n * 2),
        ]);
        root.link((pipe, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((pipe, "signal"), (root.id(), "control")).unwrap();
        assert!(sched.run().is_clean());
        let out: Vec<u32> = (0..2).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(out, [22, 42]);
        assert!(root.recv("control").unwrap().is::<ProducerFinished>());
    });
}

/// An empty Pipeline ends at once (Kamaelia's raises IndexError in main).
#[test]
fn empty_pipeline_ends_at_once() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let p = pipeline![];
        assert!(p.is_empty());
        sched.spawn(p);
        assert!(sched.run().is_clean());
    });
}

/// A child without the standard boxes cannot be wired (Kamaelia raises from `link`): the
/// Pipeline fails alone with an error naming the child and the box, and makes nothing.
#[test]
fn a_child_without_a_standard_box_fails_the_pipeline() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let mute = component("Mute", |_| async { Ok(()) }).with_outboxes(vec![]);
        sched.spawn(pipeline![Source(vec![1]), mute]);
        let report = sched.run();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let error = &report.failures[0].error;
        assert!(
            error.contains("Mute") && error.contains("\"outbox\""),
            "{error}"
        );
        assert_eq!(report.ended, 1, "only the Pipeline ran: {report:?}");
    });
}

/// The Kamaelia shutdown rule on a Pipeline: ProducerFinished sent to the Pipeline's own
/// control reaches the first child, which finishes its inbox first.
#[test]
fn producer_finished_on_control_lets_children_finish_their_work() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let pipe = root.spawn(pipeline![Map(|n| n + 1), Map(|n| n * 3)]);
        root.link((root.id(), "outbox"), (pipe, "inbox")).unwrap();
        root.link((root.id(), "signal"), (pipe, "control")).unwrap();
        root.link((pipe, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((pipe, "signal"), (root.id(), "control")).unwrap();
        for n in 0..4u32 {
            root.send(n, "outbox").unwrap();
        }
        root.send(ProducerFinished::default(), "signal").unwrap();
        assert!(sched.run().is_clean());
        let out: Vec<u32> = (0..4).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(out, [3, 6, 9, 12]);
        let m = root.recv("control").unwrap();
        assert_eq!(stop_kind(&m), Some(StopKind::Finish));
    });
}
