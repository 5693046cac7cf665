//! Driving components from ordinary code: `Background` (a scheduler on its own thread) and
//! `Handle` (put into a component's inboxes, get from its outboxes).
//!
//! Spec A12.3, and Axon's `Examples/Handles/reverser.py` (Kamaelia has no unit tests for
//! `Handle` or `background`). Every test runs on a spawned thread and is waited for with a
//! timeout, so that nothing can hang.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axon::ipc::ShutdownMicroprocess;
use axon::{component, Background, BoxKind, Component, Handle, RecvError, SendError, HANDLE_QUEUE};
use common::within;

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(20);
/// How long a test waits for one message.
const WAIT: Duration = Duration::from_secs(10);

/// The `Reverser` of `reverser.py`: reverses every string on "inbox" to "outbox". Unlike the
/// Python one (which never ends), it passes anything on "control" to "signal" and ends.
fn reverser() -> impl Component {
    component("Reverser", |ctx| async move {
        loop {
            while ctx.data_ready("inbox") > 0 {
                let item: String = ctx.recv_as("inbox")?;
                ctx.send(item.chars().rev().collect::<String>(), "outbox")?;
            }
            if ctx.data_ready("control") > 0 {
                let m = ctx.recv("control")?;
                ctx.send(m, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    })
}

/// Polls `get` as `reverser.py` does (`except queue.Empty: time.sleep(...)`), up to [`WAIT`].
fn get_polling(h: &Handle, outbox: &str) -> axon::Message {
    let deadline = Instant::now() + WAIT;
    loop {
        match h.get(outbox) {
            Ok(m) => return m,
            Err(RecvError::Empty { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("nothing came out of {outbox:?}: {e}"),
        }
    }
}

/// Tells the component to stop, waits until the handle says it has finished.
fn shut_down(h: &Handle) {
    h.put(ShutdownMicroprocess::default(), "control").unwrap();
    let deadline = Instant::now() + WAIT;
    while !h.is_finished() {
        assert!(Instant::now() < deadline, "the component did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// new: spec A12.3 and Examples/Handles/reverser.py (put a line, get it back reversed)
#[test]
fn put_and_get_round_trip() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        reverser.put(String::from("hello world"), "inbox").unwrap();
        let back: String = get_polling(&reverser, "outbox").downcast().unwrap();
        assert_eq!(back, "dlrow olleh");
        shut_down(&reverser);
        drop(reverser);
        let report = bg.finish();
        assert!(report.is_clean(), "{report:?}");
    });
}

// new: spec A12.3 (put and get are queues: many lines come back in order)
#[test]
fn many_puts_come_back_in_order() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        for l in &lines {
            reverser.put(l.clone(), "inbox").unwrap();
        }
        for l in &lines {
            let back: String = reverser
                .get_timeout("outbox", WAIT)
                .unwrap()
                .downcast()
                .unwrap();
            assert_eq!(back, l.chars().rev().collect::<String>());
        }
        shut_down(&reverser);
        drop(reverser);
        let report = bg.finish();
        assert!(report.is_clean(), "{report:?}");
    });
}

// new: spec A12.3 ("get ... is non-blocking and raises queue.Empty when nothing is there")
#[test]
fn get_on_an_empty_outbox_is_empty_at_once() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        assert!(matches!(
            reverser.get("outbox"),
            Err(RecvError::Empty { .. })
        ));
        assert!(matches!(
            reverser.get("signal"),
            Err(RecvError::Empty { .. })
        ));
        // get_timeout waits, then says the same.
        assert!(matches!(
            reverser.get_timeout("outbox", Duration::from_millis(50)),
            Err(RecvError::Empty { .. })
        ));
        // After one round trip, the box is empty again.
        reverser.put(String::from("ab"), "inbox").unwrap();
        let back: String = get_polling(&reverser, "outbox").downcast().unwrap();
        assert_eq!(back, "ba");
        assert!(matches!(
            reverser.get("outbox"),
            Err(RecvError::Empty { .. })
        ));
        shut_down(&reverser);
        drop(reverser);
        assert!(bg.finish().is_clean());
    });
}

// new: spec A12.3 (put(data, "inbox"|"control"), get(box="outbox"|"signal"): other names are
// errors naming the box; a failed put hands the message back)
#[test]
fn wrong_box_names_are_no_such_box() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        match reverser.put(String::from("lost?"), "nosuchbox") {
            Err(SendError::NoSuchBox(e, m)) => {
                assert_eq!(e.kind, BoxKind::Inbox);
                assert_eq!(e.name, "nosuchbox");
                assert_eq!(m.downcast::<String>().unwrap(), "lost?");
            }
            other => panic!("expected NoSuchBox, got {other:?}"),
        }
        // An outbox's name is not an inbox.
        assert!(matches!(
            reverser.put(String::from("x"), "outbox"),
            Err(SendError::NoSuchBox(..))
        ));
        match reverser.get("nosuchbox") {
            Err(RecvError::NoSuchBox(e)) => {
                assert_eq!(e.kind, BoxKind::Outbox);
                assert_eq!(e.name, "nosuchbox");
            }
            other => panic!("expected NoSuchBox, got {other:?}"),
        }
        assert!(matches!(
            reverser.get("inbox"),
            Err(RecvError::NoSuchBox(_))
        ));
        assert!(matches!(
            reverser.get_timeout("nosuchbox", Duration::from_millis(10)),
            Err(RecvError::NoSuchBox(_))
        ));
        // The handle still works.
        reverser.put(String::from("abc"), "inbox").unwrap();
        let back: String = get_polling(&reverser, "outbox").downcast().unwrap();
        assert_eq!(back, "cba");
        shut_down(&reverser);
        drop(reverser);
        assert!(bg.finish().is_clean());
    });
}

// new: spec A12.3 (put on "control" reaches the component; what it sends on "signal" is got
// from "signal")
#[test]
fn control_and_signal_go_through_the_handle() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        reverser
            .put(ShutdownMicroprocess::default(), "control")
            .unwrap();
        let m = get_polling(&reverser, "signal");
        assert!(m.is::<ShutdownMicroprocess>(), "{m:?}");
        let deadline = Instant::now() + WAIT;
        while !reverser.is_finished() {
            assert!(Instant::now() < deadline, "the component did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(reverser);
        assert!(bg.finish().is_clean());
    });
}

// new: doc of Background ("Unlike Kamaelia's, any number may run at once"; Kamaelia raises
// RuntimeError for a second background, spec A12.3)
#[test]
fn two_backgrounds_run_at_once_independently() {
    within(TIMEOUT, || {
        let bg1 = Background::start();
        let bg2 = Background::start();
        let r1 = bg1.handle(reverser()).unwrap();
        let r2 = bg2.handle(reverser()).unwrap();
        r1.put(String::from("first"), "inbox").unwrap();
        r2.put(String::from("second"), "inbox").unwrap();
        let b2: String = get_polling(&r2, "outbox").downcast().unwrap();
        let b1: String = get_polling(&r1, "outbox").downcast().unwrap();
        assert_eq!(b1, "tsrif");
        assert_eq!(b2, "dnoces");
        // Nothing crossed over.
        assert!(r1.get("outbox").is_err());
        assert!(r2.get("outbox").is_err());
        // Each runs on its own thread.
        let t1 = bg1.call(|_| std::thread::current().id()).unwrap();
        let t2 = bg2.call(|_| std::thread::current().id()).unwrap();
        assert_ne!(t1, t2);
        assert_ne!(t1, std::thread::current().id());
        shut_down(&r1);
        shut_down(&r2);
        drop((r1, r2));
        assert!(bg1.finish().is_clean());
        assert!(bg2.finish().is_clean());
    });
}

// new: spec A12.3 (several handles in one background)
#[test]
fn several_handles_share_one_background() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let a = bg.handle(reverser()).unwrap();
        let b = bg.handle(reverser()).unwrap();
        a.put(String::from("abc"), "inbox").unwrap();
        b.put(String::from("xyz"), "inbox").unwrap();
        let ra: String = get_polling(&a, "outbox").downcast().unwrap();
        let rb: String = get_polling(&b, "outbox").downcast().unwrap();
        assert_eq!(ra, "cba");
        assert_eq!(rb, "zyx");
        shut_down(&a);
        shut_down(&b);
        drop((a, b));
        let report = bg.finish();
        assert!(report.is_clean(), "{report:?}");
        // Two components and their two handle proxies.
        assert_eq!(report.ended, 4, "{report:?}");
    });
}

// new: doc of Background::finish ("Lets the scheduler end once its components have ... and
// returns its report")
#[test]
fn finish_after_the_component_ended_gives_a_clean_report() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let reverser = bg.handle(reverser()).unwrap();
        reverser.put(String::from("xy"), "inbox").unwrap();
        assert_eq!(
            get_polling(&reverser, "outbox")
                .downcast::<String>()
                .unwrap(),
            "yx"
        );
        shut_down(&reverser);
        assert!(reverser.is_finished());
        // What the component sent before it ended is still there to get.
        assert!(get_polling(&reverser, "signal").is::<ShutdownMicroprocess>());
        drop(reverser);
        let report = bg.finish();
        assert!(report.is_clean(), "{report:?}");
        assert!(report.failures.is_empty());
        assert!(report.left_paused.is_empty());
        assert!(!report.stopped);
        assert!(report.ended >= 1, "{report:?}");
    });
}

// new: doc of Background::finish (it waits for the components to end, keeping handles alive
// is fine)
#[test]
fn finish_waits_for_a_component_that_is_still_working() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let slow = bg
            .handle(component("Slow", |ctx| async move {
                ctx.sleep(Duration::from_millis(100)).await;
                ctx.send(String::from("late"), "outbox")?;
                Ok(())
            }))
            .unwrap();
        let report = bg.finish();
        assert!(report.is_clean(), "{report:?}");
        assert!(slow.is_finished());
        assert_eq!(
            slow.get("outbox").unwrap().downcast::<String>().unwrap(),
            "late"
        );
    });
}

// new: doc of Background::stop ("Stops the scheduler at once (components are dropped)")
#[test]
fn stop_ends_a_background_whose_component_never_ends() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let forever = bg
            .handle(component("Forever", |ctx| async move {
                loop {
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }))
            .unwrap();
        let report = bg.stop();
        assert!(report.stopped, "{report:?}");
        assert!(!report.is_clean());
        // The handle outlives its scheduler without harm.
        assert!(forever.get("outbox").is_err());
    });
}

// new: doc of Background::call (runs on the scheduler's thread with the root context)
#[test]
fn call_runs_on_the_background_scheduler() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let here = std::thread::current().id();
        let (there, name) = bg
            .call(|root| (std::thread::current().id(), root.name()))
            .unwrap();
        assert_ne!(here, there);
        assert!(name.starts_with("Root_"), "{name}");
        assert!(bg.finish().is_clean());
    });
}

// new: spec A12.3 (get returns everything the component sent, in order; the handle holds back
// what it cannot buffer in the component's boxes instead of dropping it)
#[test]
fn a_burst_bigger_than_the_handle_buffer_is_all_delivered_in_order() {
    const N: u32 = 2500;
    within(TIMEOUT, || {
        let bg = Background::start();
        let burst = bg
            .handle(component("Burst", |ctx| async move {
                for i in 0..N {
                    ctx.send(i, "outbox")?;
                }
                Ok(())
            }))
            .unwrap();
        let mut got = Vec::new();
        while got.len() < N as usize {
            match burst.get_timeout("outbox", WAIT) {
                Ok(m) => got.push(m.downcast::<u32>().unwrap()),
                Err(e) => panic!("after {} messages: {e}", got.len()),
            }
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        let deadline = Instant::now() + WAIT;
        while !burst.is_finished() {
            assert!(Instant::now() < deadline, "the handle did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(burst.get("outbox").is_err());
        drop(burst);
        assert!(bg.finish().is_clean());
    });
}

// new: the bar's "a full inbox gets a typed error, never unbounded memory" for puts (Kamaelia's
// Handle.put queues without limit): puts wait, in order, in a bounded queue while the
// component has no room; past it `put` hands the message back and `put_timeout` waits for
// room; nothing is lost
#[test]
fn puts_faster_than_the_component_are_refused_or_wait_and_none_is_lost() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let open = Arc::new(AtomicBool::new(false));
        let gate = open.clone();
        // Holds one message in its inbox and reads none until `open`; then echoes them all.
        let slow = bg
            .handle(component("Slow", move |ctx| async move {
                ctx.set_inbox_size("inbox", Some(1))?;
                loop {
                    if gate.load(Ordering::Acquire) {
                        while let Ok(m) = ctx.recv("inbox") {
                            ctx.send(m, "outbox")?;
                        }
                        if ctx.recv("control").is_ok() {
                            return Ok(());
                        }
                        ctx.pause();
                        ctx.yield_now().await;
                    } else {
                        ctx.sleep(Duration::from_millis(1)).await;
                    }
                }
            }))
            .unwrap();
        // The first refusal comes after at least HANDLE_QUEUE puts and at most two more (the
        // inbox's place and the message the handle holds for it).
        let mut sent = 0u32;
        let refused = loop {
            match slow.put(sent, "inbox") {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent as usize <= HANDLE_QUEUE + 2, "put never refused");
        };
        assert!(sent as usize >= HANDLE_QUEUE, "refused after {sent}");
        match refused {
            SendError::NoSpaceInBox(full) => {
                assert_eq!(full.inbox, "inbox");
                assert!(full.component.starts_with("Slow"), "{}", full.component);
                assert_eq!(full.size, HANDLE_QUEUE);
                assert_eq!(full.into_message().downcast::<u32>().unwrap(), sent);
            }
            other => panic!("{other:?}"),
        }
        // Waiting for room times out while the component reads nothing (a put may still
        // find the place the proxy had not yet taken, hence a few tries)...
        let mut wait_refused = false;
        for _ in 0..3 {
            if let Err(e) = slow.put_timeout(sent, "inbox", Duration::from_millis(20)) {
                assert!(matches!(e, SendError::NoSpaceInBox(_)), "{e}");
                wait_refused = true;
                break;
            }
            sent += 1;
        }
        assert!(
            wait_refused,
            "put_timeout found room while nothing was read"
        );
        // ...and goes through once it reads: 3000 more while the first come back.
        open.store(true, Ordering::Release);
        let total = sent + 3000;
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in sent..total {
                    slow.put_timeout(i, "inbox", WAIT).unwrap();
                }
            });
            for i in 0..total {
                let back = slow.get_timeout("outbox", WAIT).unwrap();
                assert_eq!(back.downcast::<u32>().unwrap(), i);
            }
        });
        slow.put_timeout(ShutdownMicroprocess::default(), "control", WAIT)
            .unwrap();
        drop(slow);
        assert!(bg.finish().is_clean());
    });
}

// new: A12.3 with Kamaelia's private-box convention: a handle leaves boxes named "_..." alone,
// so a component may link its private outbox itself (ServerCore does)
#[test]
fn private_boxes_are_left_to_the_component() {
    within(TIMEOUT, || {
        let bg = Background::start();
        const PRIVATE_OUT: &[axon::BoxSpec] = &[
            axon::BoxSpec::new("outbox", ""),
            axon::BoxSpec::new("signal", ""),
            axon::BoxSpec::new("_selfsignal", "private"),
        ];
        let h = bg
            .handle(
                component("Private", |ctx| async move {
                    // The component links its private outbox to its own inbox; a handle that
                    // also linked it would make this fail.
                    ctx.link((ctx.id(), "_selfsignal"), (ctx.id(), "inbox"))?;
                    ctx.send(String::from("to myself"), "_selfsignal")?;
                    let got: String = ctx.recv_as("inbox")?;
                    ctx.send(got, "outbox")?;
                    Ok(())
                })
                .with_outboxes(PRIVATE_OUT),
            )
            .unwrap();
        let back = h.get_timeout("outbox", WAIT).unwrap();
        assert_eq!(back.downcast::<String>().unwrap(), "to myself");
        assert!(matches!(h.get("_selfsignal"), Err(RecvError::NoSuchBox(_))));
        drop(h);
        assert!(bg.finish().is_clean());
    });
}

// new: a component that reads its inbox and sends nothing back still gets every put: the
// handle moves the next one in when the component collects from its full inbox (nothing
// else wakes it then: no put goes through while the queue is full, no output comes back)
#[test]
fn a_full_inbox_that_is_read_takes_the_waiting_puts_without_any_output() {
    const N: u32 = 3 * HANDLE_QUEUE as u32;
    within(TIMEOUT, || {
        let bg = Background::start();
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = got.clone();
        let sink = bg
            .handle(component("Sink", move |ctx| async move {
                ctx.set_inbox_size("inbox", Some(1))?;
                loop {
                    while let Ok(m) = ctx.recv("inbox") {
                        seen.lock().unwrap().push(m.downcast::<u32>().unwrap());
                    }
                    if ctx.recv("control").is_ok() {
                        return Ok(());
                    }
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }))
            .unwrap();
        for i in 0..N {
            if let Err(e) = sink.put_timeout(i, "inbox", WAIT) {
                panic!("put {i} found no room: {e}");
            }
        }
        let deadline = Instant::now() + WAIT;
        while got.lock().unwrap().len() < N as usize {
            let n = got.lock().unwrap().len();
            assert!(Instant::now() < deadline, "{n} of {N} arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*got.lock().unwrap(), (0..N).collect::<Vec<_>>());
        sink.put_timeout(ShutdownMicroprocess::default(), "control", WAIT)
            .unwrap();
        drop(sink);
        assert!(bg.finish().is_clean());
    });
}

// new: the error of a put to a component that has ended names it and the box, as every
// error does, and hands the message back
#[test]
fn a_put_after_the_component_ended_names_it() {
    within(TIMEOUT, || {
        let bg = Background::start();
        let quick = bg
            .handle(component("Quick", |_ctx| async move { Ok(()) }))
            .unwrap();
        let deadline = Instant::now() + WAIT;
        // Once the handle has seen the end, its queue is closed (a put just before that may
        // still be taken, and dropped with the component's boxes).
        let refused = loop {
            match quick.put(7u8, "inbox") {
                Ok(()) => {
                    assert!(Instant::now() < deadline, "puts still taken");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => break e,
            }
        };
        assert!(quick.is_finished());
        let text = refused.to_string();
        match refused {
            SendError::NoSuchBox(e, m) => {
                assert!(e.component.starts_with("Quick_"), "{text}");
                assert_eq!((e.kind, e.name.as_str()), (BoxKind::Inbox, "inbox"));
                assert_eq!(m.downcast::<u8>().unwrap(), 7);
            }
            other => panic!("{other:?}"),
        }
        match quick.put_timeout(8u8, "control", WAIT) {
            Err(SendError::NoSuchBox(e, _)) => {
                assert!(e.component.starts_with("Quick_"), "{e}");
                assert_eq!(e.name, "control");
            }
            other => panic!("{other:?}"),
        }
        drop(quick);
        assert!(bg.finish().is_clean());
    });
}
