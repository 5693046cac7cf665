//! `Backplane`, `PublishTo` and `SubscribeTo` (spec B5, `Util/Backplane.py` and the
//! `PlugSplitter` of `Util/Splitter.py`): many publishers and subscribers, subscribers coming
//! and going, shutdown propagation, the services, the errors for a missing or duplicate
//! backplane, and the uniform stop rule of issue 3.
//!
//! Every test runs its scheduler on a spawned thread and fails if it takes longer than a
//! generous timeout, so that nothing can hang.

mod common;

use std::time::Duration;

use axon::ipc::{ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::util::backplane::{
    config_service, inbox_service, AddSink, Backplane, PublishTo, RemoveSink, SubscribeTo,
};
use axon::util::fanout::Cloner;
use axon::{ComponentId, Ctx, Error, Message, Scheduler};
use common::{drain, drain_as, sink, stops, within};

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A publisher fed by a feeder component the test drives through its own context.
struct Publisher {
    id: ComponentId,
    feeder: ComponentId,
}

impl Publisher {
    fn new(root: &Ctx, p: PublishTo) -> Publisher {
        let id = root.spawn(p);
        let feeder = sink(root, "Feeder");
        root.link((feeder, "outbox"), (id, "inbox")).unwrap();
        root.link((feeder, "signal"), (id, "control")).unwrap();
        Publisher { id, feeder }
    }

    fn publish<T: Send + 'static>(&self, sched: &Scheduler, item: T) {
        sched.ctx(self.feeder).send(item, "outbox").unwrap();
    }

    fn stop<T: Send + 'static>(&self, sched: &Scheduler, stop: T) {
        sched.ctx(self.feeder).send(stop, "signal").unwrap();
    }
}

/// A subscriber whose outbox and signal each lead to a sink.
struct Subscriber {
    id: ComponentId,
    out: ComponentId,
    sig: ComponentId,
}

impl Subscriber {
    fn new(root: &Ctx, name: &str) -> Subscriber {
        let id = root.spawn(SubscribeTo::new(name));
        let (out, sig) = (sink(root, "SubOut"), sink(root, "SubSig"));
        root.link((id, "outbox"), (out, "inbox")).unwrap();
        root.link((id, "signal"), (sig, "inbox")).unwrap();
        Subscriber { id, out, sig }
    }

    fn got<T: 'static>(&self, sched: &Scheduler) -> Vec<T> {
        drain_as(sched, self.out, "inbox")
    }

    fn signals(&self, sched: &Scheduler) -> Vec<Message> {
        drain(sched, self.sig, "inbox")
    }
}

/// A backplane whose control is fed by the root's signal and whose signal leads to a sink.
fn backplane(root: &Ctx, name: &str) -> (ComponentId, ComponentId) {
    let bp = root.spawn(Backplane::new(name));
    let sig = sink(root, "BackplaneSig");
    root.link((root.id(), "signal"), (bp, "control")).unwrap();
    root.link((bp, "signal"), (sig, "inbox")).unwrap();
    (bp, sig)
}

fn is_same_stop(m: &Message, now: bool) -> bool {
    if now {
        m.is::<ShutdownMicroprocess>() || m.is::<Shutdown>()
    } else {
        m.is::<ProducerFinished>()
    }
}

// ----- data ---------------------------------------------------------------------------------

/// B5 / Backplane.py docs: "A backplane can have multiple subscribers and multiple
/// publishers": every subscriber gets everything every publisher publishes, each publisher's
/// items in order.
#[test]
fn every_subscriber_gets_what_every_publisher_publishes() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        backplane(&root, "DATA");
        let p1 = Publisher::new(&root, PublishTo::new("DATA"));
        let p2 = Publisher::new(&root, PublishTo::new("DATA"));
        let subs: Vec<Subscriber> = (0..3).map(|_| Subscriber::new(&root, "DATA")).collect();
        sched.run();
        for i in 0..3u32 {
            p1.publish(&sched, i);
            p2.publish(&sched, 100 + i);
        }
        sched.run();
        for s in &subs {
            let got: Vec<u32> = s.got(&sched);
            assert_eq!(got.len(), 6);
            let from1: Vec<u32> = got.iter().copied().filter(|&n| n < 100).collect();
            let from2: Vec<u32> = got.iter().copied().filter(|&n| n >= 100).collect();
            assert_eq!(from1, [0, 1, 2]);
            assert_eq!(from2, [100, 101, 102]);
        }
    });
}

/// B5: publishers and subscribers "can be created and destroyed on the fly": a subscriber
/// that joins later gets what is published from then on.
#[test]
fn subscribers_join_while_it_runs() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        backplane(&root, "LIVE");
        let p = Publisher::new(&root, PublishTo::new("LIVE"));
        let early = Subscriber::new(&root, "LIVE");
        sched.run();
        p.publish(&sched, "first");
        sched.run();
        let late = Subscriber::new(&root, "LIVE");
        sched.run();
        p.publish(&sched, "second");
        sched.run();
        assert_eq!(early.got::<&str>(&sched), ["first", "second"]);
        assert_eq!(late.got::<&str>(&sched), ["second"]);
    });
}

/// B5: the Backplane registers "Backplane_I_<name>" → (splitter, "inbox") and
/// "Backplane_O_<name>" → (splitter, "configuration"), and deregisters them when it ends, so
/// that the name can be used again.
#[test]
fn services_are_registered_and_given_up() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let (bp, _) = backplane(&root, "SVC");
        sched.run();
        let (splitter, inbox) = root.retrieve_service(&inbox_service("SVC")).unwrap();
        assert_eq!(inbox, "inbox");
        assert_eq!(
            root.retrieve_service(&config_service("SVC")).unwrap(),
            (splitter, "configuration".to_string())
        );
        assert_eq!(sched.ctx(bp).children(), vec![splitter]);
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        assert!(sched.run().is_clean());
        assert!(root.retrieve_service("Backplane_I_SVC").is_err());
        assert!(root.retrieve_service("Backplane_O_SVC").is_err());
        // The name is free again.
        assert!(Backplane::new("SVC").create_in(&root).is_ok());
    });
}

/// PublishTo(forwarder=True), Backplane.py: "copies each inbox item to both "outbox" and
/// "_outbox"" — the subscribers get it, and so does whatever follows the forwarder.
#[test]
fn a_forwarder_publishes_and_passes_on() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        backplane(&root, "FWD");
        let p = Publisher::new(&root, PublishTo::new("FWD").forwarder(true));
        let after = sink(&root, "After");
        root.link((p.id, "outbox"), (after, "inbox")).unwrap();
        let s = Subscriber::new(&root, "FWD");
        sched.run();
        p.publish(&sched, String::from("both ways"));
        sched.run();
        assert_eq!(s.got::<String>(&sched), ["both ways"]);
        assert_eq!(drain_as::<String>(&sched, after, "inbox"), ["both ways"]);
    });
}

/// A plain publisher (not a forwarder) sends nothing out of its own outbox (Backplane.py:
/// "NOT USED, unless a forwarder").
#[test]
fn a_plain_publisher_keeps_its_outbox_quiet() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        backplane(&root, "PLAIN");
        let p = Publisher::new(&root, PublishTo::new("PLAIN"));
        let after = sink(&root, "After");
        root.link((p.id, "outbox"), (after, "inbox")).unwrap();
        let s = Subscriber::new(&root, "PLAIN");
        sched.run();
        p.publish(&sched, 5i64);
        sched.run();
        assert_eq!(s.got::<i64>(&sched), [5]);
        assert_eq!(sched.ctx(after).data_ready("inbox"), 0);
    });
}

/// Items are copied for each subscriber with a Cloner (Kamaelia shares one object). A type
/// the Backplane cannot copy shuts it down: the subscribers are told to stop, the names are
/// given up, and the failure names the type and the fix. `Backplane::cloning` fixes it.
#[test]
fn an_item_it_cannot_copy_shuts_it_down_with_a_clear_error() {
    #[derive(Clone, Debug, PartialEq)]
    struct Frame(u32);

    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let (bp, _) = backplane(&root, "FRAMES");
        let p = Publisher::new(&root, PublishTo::new("FRAMES"));
        let s = Subscriber::new(&root, "FRAMES");
        sched.run();
        p.publish(&sched, Frame(1));
        let report = sched.run();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let error = &report.failures[0].error;
        assert!(
            error.contains("Frame") && error.contains("Backplane::cloning"),
            "{error}"
        );
        assert!(root.is_stopped(bp) && root.is_stopped(s.id));
        assert!(s.signals(&sched)[0].is::<ShutdownMicroprocess>());
        assert!(root.retrieve_service("Backplane_I_FRAMES").is_err());

        let sched = Scheduler::new();
        let root = sched.root();
        root.spawn(Backplane::new("FRAMES").cloning::<Frame>());
        let p = Publisher::new(&root, PublishTo::new("FRAMES"));
        let (s1, s2) = (
            Subscriber::new(&root, "FRAMES"),
            Subscriber::new(&root, "FRAMES"),
        );
        sched.run();
        p.publish(&sched, Frame(2));
        assert!(sched.run().failures.is_empty());
        assert_eq!(s1.got::<Frame>(&sched), [Frame(2)]);
        assert_eq!(s2.got::<Frame>(&sched), [Frame(2)]);

        // A cloner can also be given whole.
        let b = Backplane::new("X").with_cloner(Cloner::new().with::<Frame>());
        assert_eq!(b.name(), "X");
    });
}

/// A subscriber whose inbox is full misses the item (logged); the others still get it.
/// (Kamaelia's splitter raised noSpaceInBox and ended the program.)
#[test]
fn a_full_subscriber_misses_items_without_harming_the_others() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let (_, _) = backplane(&root, "FULL");
        let p = Publisher::new(&root, PublishTo::new("FULL"));
        // A sink of our own, limited to one message, plugged in by hand with AddSink.
        let tiny = sink(&root, "Tiny");
        sched.ctx(tiny).set_inbox_size("inbox", Some(1)).unwrap();
        let s = Subscriber::new(&root, "FULL");
        sched.run();
        let (splitter, config) = root.retrieve_service(&config_service("FULL")).unwrap();
        let asker = sink(&root, "Asker");
        root.link((asker, "outbox"), (splitter, &config)).unwrap();
        sched
            .ctx(asker)
            .send(AddSink::new(tiny, "inbox"), "outbox")
            .unwrap();
        sched.run();
        p.publish(&sched, 1u8);
        p.publish(&sched, 2u8);
        let report = sched.run();
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(drain_as::<u8>(&sched, tiny, "inbox"), [1]);
        assert_eq!(s.got::<u8>(&sched), [1, 2]);

        // RemoveSink unplugs it: nothing more reaches it.
        sched
            .ctx(asker)
            .send(RemoveSink::from(AddSink::new(tiny, "inbox")), "outbox")
            .unwrap();
        sched.run();
        p.publish(&sched, 3u8);
        sched.run();
        assert_eq!(sched.ctx(tiny).data_ready("inbox"), 0);
        assert_eq!(s.got::<u8>(&sched), [3]);
    });
}

// ----- shutting down --------------------------------------------------------------------------

/// B5: "Shutting down the Backplane (a message to its control) propagates to all
/// subscribers". With the uniform rule, each stop message is passed on by the Backplane (out
/// of its signal) and by every subscriber, which all end; publishers carry on. With
/// ProducerFinished the data already published reaches the subscribers first; with a
/// stop-now message the Backplane stops at once.
#[test]
fn shutting_the_backplane_down_stops_every_subscriber() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let sched = Scheduler::new();
            let root = sched.root();
            let (bp, bp_sig) = backplane(&root, "DOWN");
            let p = Publisher::new(&root, PublishTo::new("DOWN"));
            let subs: Vec<Subscriber> = (0..2).map(|_| Subscriber::new(&root, "DOWN")).collect();
            sched.run();
            // Published, and the stop sent, in the same breath: nothing has run in between.
            p.publish(&sched, "last words");
            root.send(stop, "signal").unwrap();
            let report = sched.run();
            assert!(report.failures.is_empty(), "{report:?}");
            assert!(root.is_stopped(bp));
            assert!(
                !root.is_stopped(p.id),
                "a publisher is not stopped by its backplane"
            );
            let bp_signals = drain(&sched, bp_sig, "inbox");
            assert_eq!(bp_signals.len(), 1);
            assert!(is_same_stop(&bp_signals[0], now));
            for s in &subs {
                assert!(root.is_stopped(s.id));
                let got = s.got::<&str>(&sched);
                assert_eq!(got, if now { vec![] } else { vec!["last words"] });
                let signals = s.signals(&sched);
                assert_eq!(signals.len(), 1);
                assert!(is_same_stop(&signals[0], now));
            }
            assert!(root.retrieve_service(&inbox_service("DOWN")).is_err());
        }
    });
}

/// B5: "Stopping a PublishTo does not stop the backplane". Uniform rule: each stop message
/// stops it and is passed on; the backplane, its subscribers and other publishers carry on.
#[test]
fn stopping_a_publisher_leaves_the_backplane_running() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let sched = Scheduler::new();
            let root = sched.root();
            let (bp, _) = backplane(&root, "PUB");
            let leaving = Publisher::new(&root, PublishTo::new("PUB"));
            let staying = Publisher::new(&root, PublishTo::new("PUB"));
            let pub_sig = sink(&root, "PubSig");
            root.link((leaving.id, "signal"), (pub_sig, "inbox"))
                .unwrap();
            let s = Subscriber::new(&root, "PUB");
            sched.run();
            leaving.publish(&sched, 1u16);
            leaving.stop(&sched, stop);
            sched.run();
            assert!(root.is_stopped(leaving.id));
            let signals = drain(&sched, pub_sig, "inbox");
            assert_eq!(signals.len(), 1);
            assert!(is_same_stop(&signals[0], now));
            assert!(!root.is_stopped(bp) && !root.is_stopped(s.id));
            staying.publish(&sched, 2u16);
            sched.run();
            // Its inbox leads straight into the backplane: even a stop-now loses nothing
            // already published.
            assert_eq!(s.got::<u16>(&sched), [1, 2]);
        }
    });
}

/// PublishTo passes every control message out of its signal (Backplane.py), and only stop
/// messages stop it.
#[test]
fn a_publisher_passes_other_control_messages_on() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        backplane(&root, "NOTE");
        let p = Publisher::new(&root, PublishTo::new("NOTE"));
        let pub_sig = sink(&root, "PubSig");
        root.link((p.id, "signal"), (pub_sig, "inbox")).unwrap();
        sched.run();
        p.stop(&sched, "a note");
        sched.run();
        assert!(!root.is_stopped(p.id));
        assert_eq!(drain_as::<&str>(&sched, pub_sig, "inbox"), ["a note"]);
    });
}

/// Uniform rule for SubscribeTo: each stop message sent to it alone stops it (passed on out
/// of its signal) and unplugs it; the backplane and the other subscribers carry on. With
/// ProducerFinished it passes on the data it holds first.
#[test]
fn stopping_a_subscriber_unplugs_it_alone() {
    within(TIMEOUT, || {
        for (stop, now) in stops() {
            let sched = Scheduler::new();
            let root = sched.root();
            let (bp, _) = backplane(&root, "SUB");
            let p = Publisher::new(&root, PublishTo::new("SUB"));
            let leaving = Subscriber::new(&root, "SUB");
            let staying = Subscriber::new(&root, "SUB");
            sched.run();
            let splitter = root.retrieve_service(&inbox_service("SUB")).unwrap().0;
            let outboxes_before = sched.ctx(splitter).outboxes().len();
            // Data reaches its inbox, and the stop its control, before it runs again.
            p.publish(&sched, "held");
            while sched.ctx(leaving.id).data_ready("inbox") == 0 {
                sched.step(1);
            }
            sched.ctx(leaving.id).deliver(stop, "control").unwrap();
            sched.run();
            assert!(root.is_stopped(leaving.id));
            assert_eq!(
                leaving.got::<&str>(&sched),
                if now { vec![] } else { vec!["held"] }
            );
            let signals = leaving.signals(&sched);
            assert_eq!(signals.len(), 1);
            assert!(is_same_stop(&signals[0], now));
            // Unplugged: the splitter dropped its data and control outboxes for it.
            assert_eq!(sched.ctx(splitter).outboxes().len(), outboxes_before - 2);
            assert!(!root.is_stopped(bp) && !root.is_stopped(staying.id));
            p.publish(&sched, "more");
            sched.run();
            assert_eq!(staying.got::<&str>(&sched), ["held", "more"]);
        }
    });
}

/// Backplane.py's PlugSplitter fans every control message out to the subscribers' control
/// and its signal; a SubscribeTo (Kamaelia's PassThrough inside it) passes it on out of its
/// signal. Only stop messages stop them.
#[test]
fn other_control_messages_are_fanned_out_to_subscribers() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let (bp, bp_sig) = backplane(&root, "NOTES");
        let subs: Vec<Subscriber> = (0..2).map(|_| Subscriber::new(&root, "NOTES")).collect();
        sched.run();
        root.send(String::from("hear ye"), "signal").unwrap();
        sched.run();
        assert!(!root.is_stopped(bp));
        assert_eq!(drain_as::<String>(&sched, bp_sig, "inbox"), ["hear ye"]);
        for s in &subs {
            assert!(!root.is_stopped(s.id));
            assert_eq!(drain_as::<String>(&sched, s.sig, "inbox"), ["hear ye"]);
        }
    });
}

// ----- errors ---------------------------------------------------------------------------------

/// B5: "Lookup failures (no backplane registered yet) raise a plain KeyError inside main".
/// Here PublishTo and SubscribeTo fail with an error naming the backplane.
#[test]
fn a_missing_backplane_is_a_clear_error() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        root.spawn(PublishTo::new("GHOST"));
        root.spawn(SubscribeTo::new("PHANTOM"));
        let report = sched.run();
        assert_eq!(report.failures.len(), 2, "{report:?}");
        let errors: Vec<&str> = report.failures.iter().map(|f| f.error.as_str()).collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("no Backplane named \"GHOST\"")
                    && e.contains("Backplane_I_GHOST"))
        );
        assert!(errors
            .iter()
            .any(|e| e.contains("no Backplane named \"PHANTOM\"")
                && e.contains("Backplane_O_PHANTOM")));
    });
}

/// B5: "A duplicate name ... re-raises ServiceAlreadyExists" (NameError in fact, spec (f)11).
/// Here it is `Error::ServiceAlreadyExists`: returned by `create_in`, or the failure of a
/// second Backplane when it starts; the first carries on.
#[test]
fn a_duplicate_backplane_name_is_service_already_exists() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let first = Backplane::new("TWICE").create_in(&root).unwrap();
        assert_eq!(
            Backplane::new("TWICE").create_in(&root),
            Err(Error::ServiceAlreadyExists("Backplane_I_TWICE".into()))
        );
        root.activate(first).unwrap();
        let second = root.spawn(Backplane::new("TWICE"));
        let p = Publisher::new(&root, PublishTo::new("TWICE"));
        let s = Subscriber::new(&root, "TWICE");
        let report = sched.run();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert!(report.failures[0].component.starts_with("Backplane_"));
        assert_eq!(
            report.failures[0].error,
            Error::ServiceAlreadyExists("Backplane_I_TWICE".into()).to_string()
        );
        assert!(root.is_stopped(second) && !root.is_stopped(first));
        p.publish(&sched, "still works");
        sched.run();
        assert_eq!(s.got::<&str>(&sched), ["still works"]);
    });
}

/// `create_in` registers the names at once, as Kamaelia's constructor does, so publishers
/// and subscribers find the backplane even if they run before it.
#[test]
fn create_in_registers_before_anything_runs() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let p = Publisher::new(&root, PublishTo::new("EARLY"));
        let s = Subscriber::new(&root, "EARLY");
        let bp = Backplane::new("EARLY").create_in(&root).unwrap();
        root.activate(bp).unwrap();
        let report = sched.run();
        assert!(report.failures.is_empty(), "{report:?}");
        p.publish(&sched, 9u8);
        sched.run();
        assert_eq!(s.got::<u8>(&sched), [9]);
    });
}

/// Python sets the Backplane's component name to the backplane name; here the component is
/// named like any other, and the backplane name is `Backplane::name`.
#[test]
fn the_component_name_is_not_the_backplane_name() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let root = sched.root();
        let b = Backplane::new("NAMED");
        assert_eq!(b.name(), "NAMED");
        let id = root.spawn(b);
        assert!(sched.ctx(id).name().starts_with("Backplane_"));
    });
}
