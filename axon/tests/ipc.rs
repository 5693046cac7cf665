//! The IPC messages (`axon::ipc`).
//!
//! Ports `Tests/Python/Axon/test_Ipc.py` (as summarised in `kamaelia-spec.md` section (d) and
//! table A7), plus the `stop_kind` classification of the A7.1 convention.
//!
//! Not ported: the Python tests that a constructor called without its required arguments raises
//! `TypeError` (`notify()`, `status()`, `wouldblock()`, `errorInformation()`). In Rust the
//! fields are required by the type, so such a call does not compile. `ipc_Test.test_SmokeTest`
//! ("ipc derives from object") has no counterpart: there is no IPC base class; any
//! `Send + 'static` value is a message, which `every_ipc_type_travels_through_a_linkage` checks
//! for each IPC type.

mod common;

use std::time::Duration;

use axon::ipc::{
    stop_kind, ErrorInformation, NewComponent, Notify, ProducerFinished, Shutdown,
    ShutdownMicroprocess, Status, StopKind, WouldBlock,
};
use axon::{component, ComponentId, Message, Scheduler};
use common::within;

/// How long any test may take before it is declared hung.
const LIMIT: Duration = Duration::from_secs(20);

/// Some component ids to put into messages.
fn ids(sched: &Scheduler, n: usize) -> Vec<ComponentId> {
    (0..n)
        .map(|_| {
            sched
                .root()
                .create(component("Some", |_ctx| async { Ok(()) }))
        })
        .collect()
}

// ports test_Ipc.py producerFinished: no arguments → caller None and message None; (caller,
// message) are stored
#[test]
fn producer_finished_defaults_to_no_caller_and_no_message() {
    let pf = ProducerFinished::default();
    assert_eq!(pf.caller, None);
    assert_eq!(pf.message, None);
    let sched = Scheduler::new();
    let c = ids(&sched, 1)[0];
    let from = ProducerFinished::from(c);
    assert_eq!(from.caller, Some(c));
    assert_eq!(from.message, None);
    let both = ProducerFinished {
        caller: Some(c),
        message: Some("done".into()),
    };
    assert_eq!(both.caller, Some(c));
    assert_eq!(both.message.as_deref(), Some("done"));
    assert_ne!(both, from);
}

// ports test_Ipc.py shutdownMicroprocess: no arguments is fine; the arguments are stored, in
// order, and microprocesses() returns them
#[test]
fn shutdown_microprocess_holds_its_microprocesses() {
    assert!(ShutdownMicroprocess::default().microprocesses.is_empty());
    let sched = Scheduler::new();
    let cs = ids(&sched, 3);
    let sm = ShutdownMicroprocess {
        microprocesses: cs.clone(),
    };
    assert_eq!(sm.microprocesses, cs);
    assert_eq!(sm.clone(), sm);
}

// ports test_Ipc.py newComponent: no arguments is fine; the arguments are stored, in order, and
// components() returns them
#[test]
fn new_component_holds_its_components() {
    assert!(NewComponent::default().components.is_empty());
    let sched = Scheduler::new();
    let cs = ids(&sched, 2);
    let nc = NewComponent {
        components: cs.clone(),
    };
    assert_eq!(nc.components, cs);
}

// ports test_Ipc.py notify: (caller, payload) sets .caller and .object (here .payload).
// notify() without arguments (TypeError in Python) does not compile in Rust.
#[test]
fn notify_holds_caller_and_payload() {
    let sched = Scheduler::new();
    let c = ids(&sched, 1)[0];
    let n = Notify {
        caller: c,
        payload: Message::new(String::from("payload")),
    };
    assert_eq!(n.caller, c);
    assert_eq!(n.payload.downcast_ref::<String>().unwrap(), "payload");
    assert_eq!(n.payload.downcast::<String>().unwrap(), "payload");
}

// ports test_Ipc.py status: status(x).status() returns x. status() without an argument
// (TypeError in Python) does not compile in Rust.
#[test]
fn status_holds_its_status() {
    let s = Status("running".into());
    assert_eq!(s.0, "running");
    assert_eq!(s, Status(String::from("running")));
    assert_ne!(s, Status("stopped".into()));
}

// ports test_Ipc.py wouldblock: (caller) stores .caller. wouldblock() without an argument
// (TypeError in Python) does not compile in Rust.
#[test]
fn would_block_holds_its_caller() {
    let sched = Scheduler::new();
    let c = ids(&sched, 1)[0];
    let w = WouldBlock { caller: c };
    assert_eq!(w.caller, c);
}

// ports test_Ipc.py errorInformation: (caller) alone works; (caller, exception, message) are
// stored. errorInformation() without arguments (TypeError in Python) does not compile in Rust.
#[test]
fn error_information_holds_caller_exception_and_message() {
    let sched = Scheduler::new();
    let c = ids(&sched, 1)[0];
    let bare = ErrorInformation {
        caller: c,
        exception: None,
        message: None,
    };
    assert_eq!(bare.caller, c);
    assert_eq!(bare.exception, None);
    assert_eq!(bare.message, None);
    let full = ErrorInformation {
        caller: c,
        exception: Some("ValueError".into()),
        message: Some("bad value".into()),
    };
    assert_eq!(full.caller, c);
    assert_eq!(full.exception.as_deref(), Some("ValueError"));
    assert_eq!(full.message.as_deref(), Some("bad value"));
}

// new: stop_kind classifies control messages by the A7.1 convention: producerFinished means
// "finish, then stop"; shutdownMicroprocess (and the legacy shutdown) mean "stop now"; anything
// else is not a stop request
#[test]
fn stop_kind_classifies_control_messages() {
    let sched = Scheduler::new();
    let c = ids(&sched, 1)[0];
    let finish = [
        Message::new(ProducerFinished::default()),
        Message::new(ProducerFinished::from(c)),
        Message::new(ProducerFinished {
            caller: None,
            message: Some("eof".into()),
        }),
    ];
    for m in &finish {
        assert_eq!(stop_kind(m), Some(StopKind::Finish), "{m:?}");
    }
    let now = [
        Message::new(ShutdownMicroprocess::default()),
        Message::new(ShutdownMicroprocess {
            microprocesses: vec![c],
        }),
        Message::new(Shutdown),
    ];
    for m in &now {
        assert_eq!(stop_kind(m), Some(StopKind::Now), "{m:?}");
    }
    let not_stop = [
        Message::new("hello"),
        Message::new(String::from("shutdown")),
        Message::new(42u32),
        Message::new(Status("done".into())),
        Message::new(WouldBlock { caller: c }),
        Message::new(NewComponent::default()),
        Message::new(ErrorInformation {
            caller: c,
            exception: None,
            message: None,
        }),
        Message::new(Notify {
            caller: c,
            payload: Message::new(ShutdownMicroprocess::default()),
        }),
    ];
    for m in &not_stop {
        assert_eq!(stop_kind(m), None, "{m:?}");
    }
}

// new: every IPC type is an ordinary message: it goes through a linkage and comes out as the
// same type with the same contents (the Rust counterpart of "is an ipc", spec A7)
#[test]
fn every_ipc_type_travels_through_a_linkage() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let c = ids(&sched, 1)[0];
        let sink = root.create(component("Sink", |_ctx| async { Ok(()) }));
        root.link((root.id(), "signal"), (sink, "control")).unwrap();
        let s = sched.ctx(sink);

        root.send(ProducerFinished::from(c), "signal").unwrap();
        assert_eq!(
            s.recv_as::<ProducerFinished>("control").unwrap(),
            ProducerFinished::from(c)
        );
        root.send(
            ShutdownMicroprocess {
                microprocesses: vec![c],
            },
            "signal",
        )
        .unwrap();
        assert_eq!(
            s.recv_as::<ShutdownMicroprocess>("control")
                .unwrap()
                .microprocesses,
            [c]
        );
        root.send(Shutdown, "signal").unwrap();
        assert_eq!(s.recv_as::<Shutdown>("control").unwrap(), Shutdown);
        root.send(Status("ok".into()), "signal").unwrap();
        assert_eq!(s.recv_as::<Status>("control").unwrap().0, "ok");
        root.send(WouldBlock { caller: c }, "signal").unwrap();
        assert_eq!(s.recv_as::<WouldBlock>("control").unwrap().caller, c);
        root.send(
            NewComponent {
                components: vec![c, sink],
            },
            "signal",
        )
        .unwrap();
        assert_eq!(
            s.recv_as::<NewComponent>("control").unwrap().components,
            [c, sink]
        );
        root.send(
            ErrorInformation {
                caller: c,
                exception: Some("E".into()),
                message: None,
            },
            "signal",
        )
        .unwrap();
        let e = s.recv_as::<ErrorInformation>("control").unwrap();
        assert_eq!((e.caller, e.exception.as_deref()), (c, Some("E")));
        root.send(
            Notify {
                caller: c,
                payload: Message::new(5i64),
            },
            "signal",
        )
        .unwrap();
        let n = s.recv_as::<Notify>("control").unwrap();
        assert_eq!(n.caller, c);
        assert_eq!(n.payload.downcast::<i64>().unwrap(), 5);

        // Received as a plain message, stop_kind still classifies it.
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        assert_eq!(stop_kind(&s.recv("control").unwrap()), Some(StopKind::Now));
        assert_eq!(s.data_ready("control"), 0);
    });
}
