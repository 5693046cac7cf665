//! `Seq` (Kamaelia's `Kamaelia.Chassis.Seq`), checked against rule B4 of
//! `shared/reference/kamaelia-spec.md`, the `__main__` demo of Seq.py, and the project's
//! shutdown rule (issue 3), which Kamaelia's Seq does not follow (it ignores control).
//!
//! Every test runs its scheduler on a thread of its own and fails after a generous timeout
//! rather than hang.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axon::chassis::seq::{Seq, SeqItem};
use axon::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess, StopKind};
use axon::{seq, Component, ComponentResult, Ctx, Scheduler};
use common::{log_of, within, Log};

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(60);

/// Like Kamaelia's OneShot, but takes a few cycles: logs its start, sends its text, yields
/// three times, logs its end, sends ProducerFinished on its own signal, and ends.
struct Step {
    text: &'static str,
    log: Log,
}

impl Component for Step {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.text));
        ctx.send(self.text, "outbox")?;
        for _ in 0..3 {
            ctx.yield_now().await;
        }
        self.log.lock().unwrap().push(format!("end {}", self.text));
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        Ok(())
    }
}

/// Logs its start, echoes numbers from its inbox as `text:n`, and on a stop request logs it,
/// passes it on and ends (a ProducerFinished after its inbox is empty).
struct Echo {
    text: &'static str,
    log: Log,
}

impl Component for Echo {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.text));
        loop {
            while let Ok(n) = ctx.recv_as::<u32>("inbox") {
                ctx.send(format!("{}:{n}", self.text), "outbox")?;
            }
            while let Ok(msg) = ctx.recv("control") {
                let kind = match stop_kind(&msg) {
                    Some(StopKind::Now) => "shutdown",
                    Some(StopKind::Finish) => "finished",
                    None => continue,
                };
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} got {kind}", self.text));
                ctx.send(msg, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// Takes one number from its inbox, sends it on as `text:n`, and ends.
struct TakeOne {
    text: &'static str,
}

impl Component for TakeOne {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        loop {
            if let Ok(n) = ctx.recv_as::<u32>("inbox") {
                ctx.send(format!("{}:{n}", self.text), "outbox")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

/// Seq.py's `__main__`: text items are printed and passed over; component items run one
/// after another, each only once the last has ended (B4: "Seq waits until it stops"); their
/// outboxes come out of the Seq's; their signals are dropped on purpose; at the end the Seq
/// sends producerFinished(self) on signal, and the graph ends by itself.
#[test]
fn items_run_in_order_one_after_another() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let step = |text| Step {
            text,
            log: log.clone(),
        };
        let sched = Scheduler::new();
        let root = sched.root();
        let s = root.spawn(seq![
            "BEGIN SEQUENCE",
            step("Hello"),
            step("Doctor"),
            step("Name"),
            "END SEQUENCE",
        ]);
        root.link((s, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((s, "signal"), (root.id(), "control")).unwrap();

        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            log_of(&log),
            [
                "start Hello",
                "end Hello",
                "start Doctor",
                "end Doctor",
                "start Name",
                "end Name"
            ]
        );
        let said: Vec<&str> = (0..3).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(said, ["Hello", "Doctor", "Name"]);
        // One producerFinished, the Seq's own: the steps' signals were not wired.
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(pf.caller, Some(s));
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// B4: the Seq's inbox passes through (passthrough=1) to the running child only; a child
/// linked later gets what arrives after it starts.
#[test]
fn the_inbox_leads_to_the_running_child() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let s = root.spawn(Seq::new(vec![
            SeqItem::from(TakeOne { text: "first" }),
            SeqItem::from(TakeOne { text: "second" }),
        ]));
        root.link((root.id(), "outbox"), (s, "inbox")).unwrap();
        root.link((s, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((s, "signal"), (root.id(), "control")).unwrap();

        root.send(1u32, "outbox").unwrap();
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 2, "Seq and second: {report:?}");
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "first:1");

        root.send(2u32, "outbox").unwrap();
        assert!(sched.run().is_clean());
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "second:2");
        assert!(root.recv("control").unwrap().is::<ProducerFinished>());
    });
}

/// A Seq of text alone, or of nothing, prints and ends at once with producerFinished (B4).
#[test]
fn text_only_and_empty_seqs_end_at_once() {
    within(LIMIT, || {
        for s in [seq!["only", String::from("text")], seq![]] {
            let sched = Scheduler::new();
            let root = sched.root();
            let s = root.spawn(s);
            root.link((s, "signal"), (root.id(), "control")).unwrap();
            assert!(sched.run().is_clean());
            assert!(root.recv("control").unwrap().is::<ProducerFinished>());
        }
    });
}

/// The project's shutdown rule (issue 3), which Kamaelia's Seq lacks (B4: "Control is
/// ignored"): a shutdownMicroprocess on control goes to the running child; once it has ended
/// the Seq sends it on signal and ends, skipping the items left. Other control messages are
/// still ignored.
#[test]
fn shutdown_stops_the_running_child_and_skips_the_rest() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let sched = Scheduler::new();
        let root = sched.root();
        let s = root.spawn(seq![
            Echo {
                text: "a",
                log: log.clone()
            },
            Step {
                text: "never",
                log: log.clone()
            },
        ]);
        root.link((root.id(), "signal"), (s, "control")).unwrap();
        root.link((s, "signal"), (root.id(), "control")).unwrap();

        root.send(String::from("not a stop request"), "signal")
            .unwrap();
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 2, "{report:?}");
        assert_eq!(log_of(&log), ["start a"]);

        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(log_of(&log), ["start a", "a got shutdown"]);
        assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// The project's shutdown rule: a producerFinished ("no more input") goes to the running
/// child and to each later child as it starts, so children reading the Seq's inbox finish;
/// the sequence still runs to its end and the Seq sends its own producerFinished.
#[test]
fn producer_finished_reaches_every_child_and_the_sequence_completes() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let echo = |text| Echo {
            text,
            log: log.clone(),
        };
        let sched = Scheduler::new();
        let root = sched.root();
        let s = root.spawn(seq![echo("a"), "between", echo("b")]);
        root.link((root.id(), "outbox"), (s, "inbox")).unwrap();
        root.link((root.id(), "signal"), (s, "control")).unwrap();
        root.link((s, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((s, "signal"), (root.id(), "control")).unwrap();

        root.send(1u32, "outbox").unwrap();
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            log_of(&log),
            ["start a", "a got finished", "start b", "b got finished"]
        );
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "a:1");
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(pf.caller, Some(s), "the Seq's own");
        assert_eq!(root.data_ready("control"), 0);
    });
}
