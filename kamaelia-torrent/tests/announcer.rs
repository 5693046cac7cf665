//! The Announcer (a torrent's tracker announces on their own thread): it asks a failing
//! tracker again only after its retry time, never in a tight loop; and it announces
//! `started`, then `completed` when told, to a working tracker.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axon::ipc::ShutdownMicroprocess;
use axon::{Scheduler, Threaded};
use kamaelia_torrent::engine::announcer::{AnnounceProgress, Announcer};
use kamaelia_torrent::metainfo::InfoHash;
use kamaelia_torrent::tracker::announce::{failure_bencode, PeerId};

/// An HTTP "tracker" on 127.0.0.1 that records each request line and answers `answer`.
fn tracker(answer: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let (s, c) = (seen.clone(), count.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            s.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("").to_string());
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&answer);
        }
    });
    (url, seen, count)
}

/// Runs an announcer against `url`, sending `progress` messages at the given times, until
/// `settled` holds (at most 30 s, then the test fails) and for `then` more; then stops it.
fn run_announcer(
    url: &str,
    progress: &[(Duration, AnnounceProgress)],
    settled: impl Fn() -> bool,
    then: Duration,
) {
    let sched = Scheduler::new();
    let root = sched.root();
    let a = root.create(Threaded::new(Announcer::new(
        vec![vec![url.to_string()]],
        InfoHash([7; 20]),
        PeerId::generate(),
        6881,
        1000,
    )));
    root.link((root.id(), "outbox"), (a, "inbox")).unwrap();
    root.link((root.id(), "signal"), (a, "control")).unwrap();
    root.activate(a).unwrap();
    let start = Instant::now();
    let mut sent = 0;
    let mut settled_at: Option<Instant> = None;
    while settled_at.is_none_or(|at| at.elapsed() < then) {
        while sent < progress.len() && start.elapsed() >= progress[sent].0 {
            root.send(progress[sent].1, "outbox").unwrap();
            sent += 1;
        }
        if settled_at.is_none() && sent == progress.len() && settled() {
            settled_at = Some(Instant::now());
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the announcer did not get there in 30 s"
        );
        sched.step(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    root.send(ShutdownMicroprocess::default(), "signal")
        .unwrap();
    let report = sched.run();
    assert!(report.failures.is_empty(), "{report:?}");
}

#[test]
fn a_failing_tracker_is_not_asked_again_before_the_retry_time() {
    let (url, _, count) = tracker(failure_bencode("go away"));
    // Once the first announce has failed, watch for a second for one more second.
    run_announcer(
        &url,
        &[],
        || count.load(Ordering::SeqCst) >= 1,
        Duration::from_secs(1),
    );
    // One `started` that fails, then the retry waits (15 s); the stop sends no `stopped`
    // because nothing was ever started.
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "announces to a failing tracker"
    );
}

#[test]
fn started_then_completed_when_told_then_stopped() {
    let ok = b"d8:intervali1800e5:peers0:e".to_vec();
    let (url, seen, _) = tracker(ok);
    let done = AnnounceProgress {
        uploaded: 0,
        downloaded: 1000,
        left: 0,
        completed: true,
    };
    let completed = || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("event=completed"))
    };
    run_announcer(
        &url,
        &[(Duration::from_millis(300), done)],
        completed,
        Duration::ZERO,
    );
    let lines = seen.lock().unwrap().clone();
    let events: Vec<&str> = lines
        .iter()
        .map(|l| {
            ["started", "completed", "stopped"]
                .into_iter()
                .find(|e| l.contains(&format!("event={e}")))
                .unwrap_or("regular")
        })
        .collect();
    assert_eq!(events, ["started", "completed", "stopped"], "{lines:?}");
}

#[test]
fn a_stop_does_not_wait_for_a_tracker_that_never_answers() {
    // A "tracker" that takes the connection and the request and then says nothing: an
    // announce to it would wait out the 15 s HTTP time-out.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            h.lock().unwrap().push(conn);
        }
    });
    let sched = Scheduler::new();
    let root = sched.root();
    let a = root.create(Threaded::new(Announcer::new(
        vec![vec![url]],
        InfoHash([9; 20]),
        PeerId::generate(),
        6881,
        1000,
    )));
    root.link((root.id(), "signal"), (a, "control")).unwrap();
    root.activate(a).unwrap();
    // Let the `started` announce reach the tracker and get stuck waiting for an answer.
    let until = Instant::now() + Duration::from_secs(10);
    while held.lock().unwrap().is_empty() && Instant::now() < until {
        sched.step(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(held.lock().unwrap().len(), 1, "the announce is waiting");
    let asked = Instant::now();
    root.send(ShutdownMicroprocess::default(), "signal")
        .unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    let took = asked.elapsed();
    // Never started, so no `stopped` is owed: it ends as soon as it looks at its control.
    assert!(
        took < Duration::from_secs(3),
        "the announcer took {took:?} to stop"
    );
}
