//! Stopping and its side effects: the `stopped` announce has one deadline for all trackers,
//! the tracker that last answered first; `finish_files` off (the `seed` setting) cuts no file.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use axon::ipc::ShutdownMicroprocess;
use axon::{Scheduler, Threaded};
use common::engine::{config, data, torrent, Rig, TempDir};
use common::tracker_deaf_to_stopped;
use kamaelia_torrent::engine::announcer::Announcer;
use kamaelia_torrent::ipc::TorrentState;
use kamaelia_torrent::metainfo::InfoHash;
use kamaelia_torrent::tracker::announce::PeerId;
use kamaelia_torrent::tracker::client::TrackerClient;

/// Eight dead trackers (each takes connections and never reads them: an announce to one
/// waits out its time-out) before, in the last tier, the one that answers but never answers
/// `stopped`. Told to stop, the announcer sends `stopped` to the one that answered first, and
/// gives the whole `stopped` announce one deadline: before, each dead tracker cost 2 s in
/// turn, 18 s in all, and the live one was asked last.
#[test]
fn the_stopped_announce_asks_the_last_tracker_first_within_one_deadline() {
    let dead: Vec<TcpListener> = (0..8)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let (live, seen) = tracker_deaf_to_stopped();
    let mut tiers: Vec<Vec<String>> = dead
        .iter()
        .map(|l| vec![format!("http://{}/announce", l.local_addr().unwrap())])
        .collect();
    tiers.push(vec![live]);
    let quick = TrackerClient {
        http_timeout: Duration::from_millis(200),
        ..TrackerClient::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let watch = seen.clone();
    // The scheduler on a thread of its own, so that a hang fails the test.
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let root = sched.root();
        let announcer = Announcer::new(tiers, InfoHash([5; 20]), PeerId::generate(), 6881, 1000)
            .with_client(quick);
        let a = root.create(Threaded::new(announcer));
        root.link((root.id(), "signal"), (a, "control")).unwrap();
        root.activate(a).unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while !watch
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("event=started"))
        {
            if Instant::now() > until {
                return; // no started announce reached the live tracker: the test fails
            }
            sched.step(1);
            std::thread::sleep(Duration::from_millis(10));
        }
        root.send(ShutdownMicroprocess::default(), "signal")
            .unwrap();
        let asked = Instant::now();
        let clean = sched.run().is_clean();
        let _ = tx.send((clean, asked.elapsed()));
    });
    let (clean, took) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no started announce, or the announcer did not stop, within 60 s");
    assert!(clean);
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains("event=stopped")),
        "the tracker that answered was not told first: {lines:?}"
    );
    // 3 s deadline; 18 s before (2 s a tracker). The bound only turns the old behaviour into
    // a failure; it is not a measure of speed.
    assert!(took < Duration::from_secs(8), "stopping took {took:?}");
    drop(dead);
}

/// `finish_files` off (what `seed` sets): a file longer than the torrent, with a bad piece,
/// is completed from a peer, and its length is kept (before, the first write cut it).
#[test]
fn finish_files_off_keeps_a_longer_file_while_writing_into_it() {
    let seed_dir = TempDir::new("lc-keep-s");
    let dl_dir = TempDir::new("lc-keep-d");
    let bytes = data(1 << 20, 41);
    let raw = torrent("keep.bin", 1 << 16, &bytes);
    std::fs::write(seed_dir.join("keep.bin"), &bytes).unwrap();
    let mut longer = bytes.clone();
    longer[100] ^= 0xff; // piece 0 is bad: it must be fetched and written
    longer.extend_from_slice(&[9u8; 5000]);
    std::fs::write(dl_dir.join("keep.bin"), &longer).unwrap();

    let rig = Rig::start();
    let seeder = rig.client(config(seed_dir.path()));
    let s_id = seeder.create(raw.clone(), seed_dir.path());
    seeder.status_until(s_id, Duration::from_secs(30), |u| {
        u.stats.state == TorrentState::Seeding
    });
    let mut cfg = config(dl_dir.path());
    cfg.peers = vec![seeder.addr()];
    cfg.finish_files = false;
    let leecher = rig.client(cfg);
    let id = leecher.create(raw, dl_dir.path());
    leecher.status_until(id, Duration::from_secs(30), |u| {
        u.stats.state == TorrentState::Seeding
    });
    leecher.end();
    seeder.end();
    rig.finish_clean();
    let after = std::fs::read(dl_dir.join("keep.bin")).unwrap();
    assert_eq!(after.len(), longer.len(), "the longer file was cut");
    assert_eq!(&after[..bytes.len()], &bytes[..], "piece 0 was not written");
    assert_eq!(&after[bytes.len()..], &[9u8; 5000][..]);
}
