//! `Carousel` (Kamaelia's `Kamaelia.Chassis.Carousel`), checked against rule B3 of
//! `shared/reference/kamaelia-spec.md` and the Python source (the state machine of its
//! `main`: no child / a child).
//!
//! Every test runs its scheduler on a thread of its own and fails after a generous timeout
//! rather than hang.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::chassis::carousel::Carousel;
use axon::ipc::{stop_kind, ProducerFinished, ShutdownMicroprocess, StopKind};
use axon::{Component, ComponentResult, Ctx, Message, Scheduler};
use common::{log_of, within, Log};

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(60);

/// Says its text, sends ProducerFinished on its own signal, and ends.
struct Speaker {
    text: String,
    log: Log,
}

impl Component for Speaker {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.text));
        ctx.send(self.text, "outbox")?;
        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
        Ok(())
    }
}

/// Says its text, then echoes numbers from its inbox as `text:n` until a stop request
/// reaches its control, which it logs.
struct Waiter {
    text: String,
    log: Log,
}

impl Component for Waiter {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.text));
        ctx.send(self.text.clone(), "outbox")?;
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

/// Answers each "NEXT" with its next item; with none left, sends ProducerFinished on signal
/// and ends (a Kamaelia Chooser fed by the Carousel's requestNext).
struct Chooser(Vec<&'static str>);

impl Component for Chooser {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut items = self.0.into_iter();
        loop {
            while let Ok(request) = ctx.recv_as::<String>("inbox") {
                assert_eq!(request, "NEXT");
                match items.next() {
                    Some(item) => ctx.send(item.to_string(), "outbox")?,
                    None => {
                        ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                        return Ok(());
                    }
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn text(m: Message) -> String {
    m.downcast::<String>().expect("next messages are Strings")
}

fn speakers(log: &Log) -> Carousel {
    let log = log.clone();
    Carousel::new(move |m| Speaker {
        text: text(m),
        log: log.clone(),
    })
}

fn waiters(log: &Log) -> Carousel {
    let log = log.clone();
    Carousel::new(move |m| Waiter {
        text: text(m),
        log: log.clone(),
    })
}

/// B3 boxes, with Kamaelia's descriptions.
#[test]
fn boxes_are_kamaelias() {
    let c = Carousel::new(|_: Message| Chooser(vec![]));
    let boxes = |specs: &[axon::BoxSpec]| {
        specs
            .iter()
            .map(|s| (s.name.to_string(), s.description.to_string()))
            .collect::<Vec<_>>()
    };
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        boxes(&c.inboxes()),
        pairs(&[
            ("inbox", "child's inbox"),
            ("next", "requests to replace child"),
            ("control", ""),
        ])
    );
    assert_eq!(
        boxes(&c.outboxes()),
        pairs(&[
            ("outbox", "child's outbox"),
            ("signal", ""),
            (
                "_signal",
                "internal use: for sending 'shutdownMicroprocess' to child"
            ),
            ("requestNext", "for requesting new child component"),
        ])
    );
}

/// B3: make1stRequest sends "NEXT" at start-up; each "next" message makes a child with the
/// factory; when a child ends (with no "next" pending and no stop request) the Carousel sends
/// "NEXT" on requestNext. The child's signal is not wired. With no child, a producerFinished
/// on control is sent on signal and the Carousel ends: the whole graph ends by itself.
#[test]
fn children_are_made_on_request_and_replaced_when_they_end() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let sched = Scheduler::new();
        let root = sched.root();
        let c = root.spawn(speakers(&log).make_first_request(true));
        let chooser = root.spawn(Chooser(vec!["a", "b", "c"]));
        root.link((chooser, "outbox"), (c, "next")).unwrap();
        root.link((chooser, "signal"), (c, "control")).unwrap();
        root.link((c, "requestNext"), (chooser, "inbox")).unwrap();
        root.link((c, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((c, "signal"), (root.id(), "control")).unwrap();

        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(log_of(&log), ["start a", "start b", "start c"]);
        let said: Vec<String> = (0..3).map(|_| root.recv_as("inbox").unwrap()).collect();
        assert_eq!(said, ["a", "b", "c"]);
        // Only the chooser's producerFinished comes out: the speakers' signals go nowhere.
        let pf: ProducerFinished = root.recv_as("control").unwrap();
        assert_eq!(pf.caller, Some(chooser));
        assert_eq!(root.data_ready("control"), 0);
    });
}

/// B3: a "next" message while a child runs sends that child a shutdownMicroprocess; the new
/// child is made once the old one has ended, and no "NEXT" is requested (one is pending).
/// The Carousel's inbox leads to the current child and the child's outbox out of the
/// Carousel. A shutdownMicroprocess on control goes to the child; once it has ended the
/// Carousel sends it on signal and ends, requesting nothing.
#[test]
fn a_next_message_replaces_a_running_child() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let sched = Scheduler::new();
        let root = sched.root();
        let c = root.spawn(waiters(&log));
        let requests = root.add_inbox("requests").unwrap();
        let data = root.add_outbox("data").unwrap();
        root.link((root.id(), "outbox"), (c, "next")).unwrap();
        root.link((root.id(), &data), (c, "inbox")).unwrap();
        root.link((root.id(), "signal"), (c, "control")).unwrap();
        root.link((c, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((c, "signal"), (root.id(), "control")).unwrap();
        root.link((c, "requestNext"), (root.id(), &requests))
            .unwrap();

        // No first request unless asked for.
        assert_eq!(sched.run().left_paused.len(), 1);
        assert_eq!(root.data_ready(&requests), 0);

        root.send("a".to_string(), "outbox").unwrap();
        root.send(1u32, &data).unwrap();
        sched.run();
        assert_eq!(log_of(&log), ["start a"]);
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "a");
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "a:1");

        root.send("b".to_string(), "outbox").unwrap();
        let report = sched.run();
        assert_eq!(
            report.left_paused.len(),
            2,
            "the Carousel and b: {report:?}"
        );
        assert_eq!(log_of(&log), ["start a", "a got shutdown", "start b"]);
        assert_eq!(
            root.data_ready(&requests),
            0,
            "no NEXT: a request was pending"
        );

        root.send(2u32, &data).unwrap();
        sched.run();
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "b");
        assert_eq!(root.recv_as::<String>("inbox").unwrap(), "b:2");

        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            log_of(&log),
            ["start a", "a got shutdown", "start b", "b got shutdown"]
        );
        assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
        assert_eq!(root.data_ready(&requests), 0);
    });
}

/// B3: "producerFinished → forward it to the child once 'next' is empty": the requests
/// already queued are served first (each replacing the last child), then the last child gets
/// the producerFinished, and when it has ended the Carousel sends it on signal and ends.
#[test]
fn producer_finished_waits_for_the_queued_next_messages() {
    within(LIMIT, || {
        let log: Log = Arc::default();
        let sched = Scheduler::new();
        let root = sched.root();
        let c = root.spawn(waiters(&log));
        let requests = root.add_inbox("requests").unwrap();
        root.link((root.id(), "outbox"), (c, "next")).unwrap();
        root.link((root.id(), "signal"), (c, "control")).unwrap();
        root.link((c, "signal"), (root.id(), "control")).unwrap();
        root.link((c, "requestNext"), (root.id(), &requests))
            .unwrap();

        root.send("a".to_string(), "outbox").unwrap();
        root.send("b".to_string(), "outbox").unwrap();
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            log_of(&log),
            ["start a", "a got shutdown", "start b", "b got finished"]
        );
        assert!(root.recv("control").unwrap().is::<ProducerFinished>());
        assert_eq!(root.data_ready(&requests), 0);
    });
}

/// B3: "With no child: shutdownMicroprocess on control → send it on signal and exit" (even
/// with a "next" message waiting: the stop request comes first).
#[test]
fn shutdown_with_no_child_ends_at_once() {
    within(LIMIT, || {
        let made = Arc::new(Mutex::new(0));
        let counter = made.clone();
        let carousel = Carousel::new(move |_: Message| {
            *counter.lock().unwrap() += 1;
            Chooser(vec![])
        });
        let sched = Scheduler::new();
        let root = sched.root();
        let c = root.spawn(carousel);
        root.link((root.id(), "outbox"), (c, "next")).unwrap();
        root.link((root.id(), "signal"), (c, "control")).unwrap();
        root.link((c, "signal"), (root.id(), "control")).unwrap();
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        root.send("unused".to_string(), "outbox").unwrap();
        assert!(sched.run().is_clean());
        assert!(root.recv("control").unwrap().is::<ShutdownMicroprocess>());
        assert_eq!(*made.lock().unwrap(), 0, "no child was made");
    });
}
