//! The TorrentClient's message contract (rule C3), end to end: each test runs real clients on
//! background schedulers, talks to them through their `inbox`/`outbox`/`control` boxes, and
//! checks the replies, the status updates and the data on disk. Loopback only; every wait is
//! bounded (a test fails with a message instead of hanging); temporary folders are removed.

mod common;
use common::engine::{config, data, prefill_single, torrent, Client, Rig, TempDir, LIMIT, TICK};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use axon::ipc::ProducerFinished;
use kamaelia_torrent::engine::client::ClientConfig;
use kamaelia_torrent::ipc::{
    TIPCCloseTorrent, TIPCCreateNewTorrent, TIPCNewTorrentCreated, TIPCTorrentAlreadyDownloading,
    TIPCTorrentStartFail, TIPCTorrentStatusUpdate, TorrentState,
};
use kamaelia_torrent::metainfo::{Metainfo, TorrentBuilder};
use kamaelia_torrent::tracker::announce::PeerId;
use kamaelia_torrent::wire::Handshake;

fn count_for(updates: &[TIPCTorrentStatusUpdate], id: u32) -> usize {
    updates.iter().filter(|u| u.torrent_id == id).count()
}

// ----- C3: create requests and their replies ------------------------------------------------

/// C3: raw .torrent bytes (`Vec<u8>`) and `TIPCCreateNewTorrent` both start a torrent; the
/// replies are `TIPCNewTorrentCreated` with ids 1 then 2, each with the folder the data goes
/// in (the client's default for raw bytes, the one asked for otherwise).
#[test]
fn raw_bytes_and_create_requests_start_torrents_with_ids_in_order() {
    let default = TempDir::new("ids-default");
    let asked = TempDir::new("ids-asked");
    let rig = Rig::start();
    let c = rig.client(config(default.path()));
    c.put(torrent("a.bin", 16384, &data(40_000, 1)));
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: torrent("b.bin", 16384, &data(50_000, 2)),
        save_folder: Some(asked.join("sub")),
    });
    assert_eq!(
        c.reply_as::<TIPCNewTorrentCreated>(),
        TIPCNewTorrentCreated {
            torrent_id: 1,
            save_folder: default.path().to_path_buf()
        }
    );
    assert_eq!(
        c.reply_as::<TIPCNewTorrentCreated>(),
        TIPCNewTorrentCreated {
            torrent_id: 2,
            save_folder: asked.join("sub")
        }
    );
    assert!(
        asked.join("sub").is_dir(),
        "the save folder asked for is made"
    );
    c.end();
}

/// C3: a torrent already held is not started twice: the second request, whatever its form
/// or folder, gets `TIPCTorrentAlreadyDownloading` naming the first one's id.
#[test]
fn the_same_torrent_twice_is_already_downloading() {
    let dir = TempDir::new("twice");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    let t = torrent("same.bin", 16384, &data(30_000, 3));
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: t.clone(),
        save_folder: Some(dir.join("one")),
    });
    c.put(t.clone());
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: t,
        save_folder: Some(dir.join("two")),
    });
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(
        c.reply_as::<TIPCTorrentAlreadyDownloading>(),
        TIPCTorrentAlreadyDownloading { torrent_id: 1 }
    );
    assert_eq!(
        c.reply_as::<TIPCTorrentAlreadyDownloading>(),
        TIPCTorrentAlreadyDownloading { torrent_id: 1 }
    );
    c.end();
}

/// C3: bytes that are not a .torrent get `TIPCTorrentStartFail` saying so, and replies stay
/// one per request, in order, when good and bad requests are interleaved (a message the
/// client does not understand gets no reply and does not shift the others).
#[test]
fn garbage_fails_and_replies_stay_one_per_request_in_order() {
    let dir = TempDir::new("garbage");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    let a = torrent("a.bin", 16384, &data(20_000, 4));
    let b = torrent("b.bin", 16384, &data(20_000, 5));
    c.put(a.clone());
    c.put(b"this is not bencode".to_vec());
    c.put(42u32); // not a request at all: ignored
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: a,
        save_folder: None,
    });
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: b"d4:infoi3ee".to_vec(), // bencode, but no torrent
        save_folder: None,
    });
    c.put(b);

    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    let fail = c.reply_as::<TIPCTorrentStartFail>();
    assert!(
        fail.reason.contains("not a valid .torrent"),
        "reason: {}",
        fail.reason
    );
    assert_eq!(
        c.reply_as::<TIPCTorrentAlreadyDownloading>(),
        TIPCTorrentAlreadyDownloading { torrent_id: 1 }
    );
    let fail = c.reply_as::<TIPCTorrentStartFail>();
    assert!(
        fail.reason.contains("not a valid .torrent"),
        "reason: {}",
        fail.reason
    );
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    // Nothing more than the five replies: only status updates follow.
    for u in c.statuses_for(Duration::from_millis(300)) {
        assert!(u.torrent_id == 1 || u.torrent_id == 2, "{u:?}");
    }
    c.end();
}

/// C3: a save folder that cannot be made (under a regular file) gets `TIPCTorrentStartFail`
/// naming that folder; the client goes on serving requests.
#[test]
fn an_unmakeable_save_folder_fails_naming_it() {
    let dir = TempDir::new("badfolder");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let bad = file.join("sub");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    let t = torrent("x.bin", 16384, &data(20_000, 6));
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: t.clone(),
        save_folder: Some(bad.clone()),
    });
    let fail = c.reply_as::<TIPCTorrentStartFail>();
    assert!(
        fail.reason.contains(&bad.display().to_string()),
        "the reason names {}: {}",
        bad.display(),
        fail.reason
    );
    // The failed torrent is not held: asking again with a good folder starts it.
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: t,
        save_folder: Some(dir.join("good")),
    });
    let created = c.reply_as::<TIPCNewTorrentCreated>();
    assert_eq!(created.save_folder, dir.join("good"));
    c.end();
}

// ----- C3: status updates -------------------------------------------------------------------

/// C3: each torrent sends `TIPCTorrentStatusUpdate`s at about the interval set; a torrent with
/// an empty folder goes Checking then Downloading at 0 %; one whose folder already holds the
/// complete data (resume) goes Checking then Seeding with `fractionDone` exactly 1.0.
#[test]
fn status_updates_come_at_the_interval_and_show_the_check() {
    let empty = TempDir::new("status-empty");
    let full = TempDir::new("status-full");
    let bytes = data(300_000, 7);
    prefill_single(full.path(), "full.bin", &bytes);
    let rig = Rig::start();
    let c = rig.client(config(empty.path()));
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: torrent("empty.bin", 32768, &data(300_000, 8)),
        save_folder: Some(empty.path().to_path_buf()),
    });
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: torrent("full.bin", 32768, &bytes),
        save_folder: Some(full.path().to_path_buf()),
    });
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);

    let seeding = c.status_until(2, LIMIT, |u| u.stats.state == TorrentState::Seeding);
    assert_eq!(seeding.stats.fraction_done, 1.0);
    assert_eq!(seeding.stats.as_map()["fractionDone"], 1.0);
    c.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Downloading);

    let window = Duration::from_secs(2);
    let updates = c.statuses_for(window);
    // 100 ms ticks: about 20 each in 2 s; loose bounds for a busy machine.
    for id in [1, 2] {
        let n = count_for(&updates, id);
        assert!(
            (6..=40).contains(&n),
            "torrent {id}: {n} status updates in {window:?} at a {TICK:?} interval"
        );
    }
    for u in &updates {
        match u.torrent_id {
            1 => {
                assert_eq!(u.stats.state, TorrentState::Downloading, "{u:?}");
                assert_eq!(u.stats.fraction_done, 0.0, "{u:?}");
            }
            2 => {
                assert_eq!(u.stats.state, TorrentState::Seeding, "{u:?}");
                assert_eq!(u.stats.as_map()["fractionDone"], 1.0, "{u:?}");
            }
            other => panic!("status update for unknown torrent {other}"),
        }
    }
    c.end();
}

/// C3: the first status update of a new torrent reports Checking, and the state only moves
/// forward from there (Checking, then Downloading; never back).
#[test]
fn a_new_torrent_reports_checking_first() {
    let dir = TempDir::new("checking");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    c.put(torrent("c.bin", 16384, &data(100_000, 9)));
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    let first = c
        .next_status(LIMIT)
        .expect("a status update within 30 s of the start");
    assert_eq!(first.torrent_id, 1);
    assert_eq!(first.stats.state, TorrentState::Checking, "{first:?}");
    let mut downloading = false;
    for u in c.statuses_for(Duration::from_secs(1)) {
        match u.stats.state {
            TorrentState::Checking => assert!(!downloading, "Checking after Downloading"),
            TorrentState::Downloading => downloading = true,
            other => panic!("unexpected state {other:?}"),
        }
    }
    assert!(downloading, "an empty folder's torrent starts downloading");
    c.end();
}

// ----- C3: closing --------------------------------------------------------------------------

/// C3: `TIPCCloseTorrent` stops that torrent (its last update says Stopped, then none come)
/// while the other keeps reporting; closing an id the client does not have gets no reply and
/// does not upset it (the next create request gets the next reply).
#[test]
fn close_stops_one_torrent_and_unknown_ids_are_ignored() {
    let dir = TempDir::new("close");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    c.put(torrent("one.bin", 16384, &data(50_000, 10)));
    c.put(torrent("two.bin", 16384, &data(50_000, 11)));
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    c.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Downloading);
    c.status_until(2, LIMIT, |u| u.stats.state == TorrentState::Downloading);

    c.put(TIPCCloseTorrent { torrent_id: 1 });
    c.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Stopped);
    std::thread::sleep(Duration::from_millis(300));
    c.drain();
    let updates = c.statuses_for(Duration::from_millis(1500));
    assert_eq!(
        count_for(&updates, 1),
        0,
        "a closed torrent sends no more updates"
    );
    assert!(
        count_for(&updates, 2) >= 5,
        "the other torrent keeps reporting ({} updates)",
        count_for(&updates, 2)
    );

    c.put(TIPCCloseTorrent { torrent_id: 99 });
    c.put(TIPCCloseTorrent { torrent_id: 1 }); // already closed
    c.put(torrent("three.bin", 16384, &data(50_000, 12)));
    assert_eq!(
        c.reply_as::<TIPCNewTorrentCreated>().torrent_id,
        3,
        "closes get no reply; the create request's reply comes next"
    );
    c.status_until(2, LIMIT, |_| true);
    c.status_until(3, LIMIT, |u| u.stats.state == TorrentState::Downloading);
    c.end();
}

/// C3: a closed torrent is no longer held, so asking for it again (at once) starts it afresh
/// with a new id, and that new torrent runs: it reports its status, and the client still
/// stops cleanly.
#[test]
fn a_closed_torrent_can_be_started_again() {
    let dir = TempDir::new("reopen");
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    let t = torrent("again.bin", 16384, &data(50_000, 13));
    c.put(t.clone());
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    c.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Downloading);
    c.put(TIPCCloseTorrent { torrent_id: 1 });
    c.put(t);
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut running = false;
    while !running && Instant::now() < deadline {
        running = c
            .next_status(Duration::from_millis(200))
            .is_some_and(|u| u.torrent_id == 2 && u.stats.state == TorrentState::Downloading);
    }
    c.end();
    drop(c);
    if !running {
        let report = rig.stop();
        panic!("the torrent started again never reported Downloading; run report: {report:?}");
    }
    rig.finish_clean();
}

// ----- C3: the client's end -----------------------------------------------------------------

/// C3: a stop message on `control` ends the client and everything under it (its torrents,
/// their storage, its listener and its peer connections): it sends `ProducerFinished` on
/// `signal`, the listening port is closed, a connected peer is hung up on, and the
/// scheduler's run returns with a clean report (no failures, nothing left paused).
#[test]
fn a_stop_message_ends_the_client_and_everything_under_it() {
    let seed_dir = TempDir::new("stop-seed");
    let bytes = data(200_000, 14);
    prefill_single(seed_dir.path(), "s.bin", &bytes);
    let t = torrent("s.bin", 32768, &bytes);
    let info_hash = Metainfo::from_bytes(&t).unwrap().info_hash;
    let rig = Rig::start();
    let c = rig.client(config(seed_dir.path()));
    let addr = c.addr();
    c.put(t);
    c.put(torrent("other.bin", 16384, &data(30_000, 15)));
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    c.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Seeding);

    // A peer connected to the torrent.
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    peer.write_all(&Handshake::new(info_hash, PeerId([b'p'; 20])).to_bytes())
        .unwrap();
    let mut hs = [0u8; 68];
    let deadline = Instant::now() + LIMIT;
    let mut got = 0;
    while got < hs.len() {
        assert!(Instant::now() < deadline, "no handshake from the client");
        match peer.read(&mut hs[got..]) {
            Ok(0) => panic!("the client hung up on a good handshake"),
            Ok(n) => got += n,
            Err(_) => {}
        }
    }
    c.status_until(1, LIMIT, |u| u.stats.num_peers == 1);

    c.end();
    let h = c.h();
    let mut saw_finished = false;
    while let Ok(m) = h.get("signal") {
        saw_finished |= m.is::<ProducerFinished>();
    }
    assert!(saw_finished, "ProducerFinished on signal when it ends");
    // The peer is hung up on.
    let deadline = Instant::now() + LIMIT;
    let mut buf = [0u8; 4096];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut =>
            {
                break
            }
            _ => assert!(
                Instant::now() < deadline,
                "the peer connection stays open after the client ended"
            ),
        }
    }
    // The listener is closed.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "the client still listens on {addr} after it ended"
    );
    drop(c);
    rig.finish_clean();
}

/// C3: if the listening address is taken the client still runs, and answers each create
/// request with `TIPCTorrentStartFail` mentioning the address; it still stops cleanly.
#[test]
fn a_listen_address_in_use_fails_each_create_request() {
    let dir = TempDir::new("inuse");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let rig = Rig::start();
    let c = rig.client(ClientConfig {
        listen: addr,
        ..config(dir.path())
    });
    assert_eq!(c.addr, None, "no listening address");
    c.put(torrent("a.bin", 16384, &data(20_000, 16)));
    c.put(TIPCCreateNewTorrent {
        raw_metainfo: torrent("b.bin", 16384, &data(20_000, 17)),
        save_folder: Some(dir.join("b")),
    });
    for _ in 0..2 {
        let fail = c.reply_as::<TIPCTorrentStartFail>();
        assert!(
            fail.reason.contains(&addr.to_string()),
            "the reason names {addr}: {}",
            fail.reason
        );
    }
    assert!(
        c.statuses_for(Duration::from_millis(400)).is_empty(),
        "no torrent was started"
    );
    c.end();
    drop(c);
    rig.finish_clean();
    drop(taken);
}

// ----- C3: two clients ----------------------------------------------------------------------

/// Waits for the leecher to be Seeding with fraction 1.0.
fn wait_complete(c: &Client, id: u32) {
    let u = c.status_until(id, Duration::from_secs(60), |u| {
        u.stats.state == TorrentState::Seeding
    });
    assert_eq!(u.stats.fraction_done, 1.0, "{u:?}");
    assert_eq!(u.stats.as_map()["fractionDone"], 1.0, "{u:?}");
}

/// C3 end to end: two clients on separate schedulers, no tracker; the seeder's folder holds a
/// 3 MiB file, the leecher is given the seeder's address; the leecher ends Seeding with
/// fraction 1.0 and a byte-identical file.
#[test]
fn two_clients_transfer_a_single_file_torrent() {
    let seed_dir = TempDir::new("xfer1-seed");
    let leech_dir = TempDir::new("xfer1-leech");
    let bytes = data(3 * 1024 * 1024, 18);
    prefill_single(seed_dir.path(), "three.bin", &bytes);
    let t = torrent("three.bin", 256 * 1024, &bytes);

    let seed_rig = Rig::start();
    let seeder = seed_rig.client(config(seed_dir.path()));
    seeder.put(t.clone());
    assert_eq!(seeder.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    seeder.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Seeding);

    let leech_rig = Rig::start();
    let leecher = leech_rig.client(ClientConfig {
        peers: vec![seeder.addr()],
        ..config(leech_dir.path())
    });
    leecher.put(t);
    assert_eq!(leecher.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    wait_complete(&leecher, 1);
    let got = std::fs::read(leech_dir.join("three.bin")).unwrap();
    assert!(
        got == bytes,
        "the downloaded file differs from the seeder's"
    );
    let up = seeder.status_until(1, LIMIT, |u| u.stats.up_total >= bytes.len() as u64);
    assert!(up.stats.up_total >= bytes.len() as u64);

    leecher.stop();
    seeder.stop();
    leecher.wait_ended();
    seeder.wait_ended();
    drop((leecher, seeder));
    let (a, b) = (leech_rig.finish(), seed_rig.finish());
    assert!(a.is_clean(), "{a:?}");
    assert!(b.is_clean(), "{b:?}");
}

/// C3 end to end: two clients in the same scheduler transfer a multi-file torrent (three
/// files of odd sizes, pieces spanning file boundaries, and an empty file in a folder of its
/// own, which no piece holds a byte of); every file arrives byte-identical, the empty one
/// too, and the leecher ends Seeding with fraction 1.0.
#[test]
fn two_clients_transfer_a_multi_file_torrent() {
    let seed_dir = TempDir::new("xfer3-seed");
    let leech_dir = TempDir::new("xfer3-leech");
    let files: Vec<(&[&str], Vec<u8>)> = vec![
        (&["a.dat"], data(100_003, 19)),
        (&["sub", "b.dat"], data(250_007, 20)),
        (&["empty", "e.dat"], Vec::new()),
        (&["c.dat"], data(77_777, 21)),
    ];
    let pairs: Vec<(&[&str], &[u8])> = files.iter().map(|(p, d)| (*p, d.as_slice())).collect();
    // 32 KiB pieces: 100_003 and 350_010 fall inside pieces.
    let t = TorrentBuilder::new("multi", 32768)
        .multi_file(&pairs)
        .to_bytes();
    for (path, d) in &files {
        let p = seed_dir.path().join("multi").join(path.join("/"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }

    let rig = Rig::start();
    let seeder = rig.client(config(seed_dir.path()));
    seeder.put(t.clone());
    assert_eq!(seeder.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    seeder.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Seeding);
    let leecher = rig.client(ClientConfig {
        peers: vec![seeder.addr()],
        ..config(leech_dir.path())
    });
    leecher.put(t);
    assert_eq!(leecher.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    wait_complete(&leecher, 1);
    for (path, d) in &files {
        let p = leech_dir.path().join("multi").join(path.join("/"));
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(&got == d, "{} differs from the seeder's", p.display());
    }
    leecher.stop();
    seeder.stop();
    leecher.wait_ended();
    seeder.wait_ended();
    drop((leecher, seeder));
    rig.finish_clean();
}

/// A download into a folder that already holds every piece, in a file longer than the
/// torrent says: the client finds it complete at once and cuts the file to the torrent's
/// length before it reports Seeding (`ClientConfig::finish_files`, on by default); with
/// `finish_files` off (the `seed` command), the same file is served as it is, untouched.
#[test]
fn a_complete_download_cuts_a_longer_file_unless_told_to_leave_files_alone() {
    let bytes = data(300_000, 23);
    let t = torrent("long.bin", 65536, &bytes);
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"bytes past the torrent's end");
    for finish_files in [true, false] {
        let dir = TempDir::new(if finish_files {
            "cut-long"
        } else {
            "keep-long"
        });
        prefill_single(dir.path(), "long.bin", &longer);
        let rig = Rig::start();
        let c = rig.client(ClientConfig {
            finish_files,
            ..config(dir.path())
        });
        c.put(t.clone());
        assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
        wait_complete(&c, 1);
        let got = std::fs::read(dir.join("long.bin")).unwrap();
        if finish_files {
            assert!(
                got == bytes,
                "cut to {} bytes, not {}",
                got.len(),
                bytes.len()
            );
        } else {
            assert!(got == longer, "changed to {} bytes", got.len());
        }
        c.stop();
        c.wait_ended();
        drop(c);
        rig.finish_clean();
    }
}

/// A torrent whose only file is empty has no piece: it is complete at once, and the file is
/// made (in its folder) before the client reports Seeding.
#[test]
fn a_torrent_of_one_empty_file_makes_the_file() {
    let dir = TempDir::new("empty-only");
    let t = TorrentBuilder::new("hollow", 16384)
        .multi_file(&[(&["inner", "nothing.txt"], &[][..])])
        .to_bytes();
    let rig = Rig::start();
    let c = rig.client(config(dir.path()));
    c.put(t);
    assert_eq!(c.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    wait_complete(&c, 1);
    let made = dir.path().join("hollow/inner/nothing.txt");
    let meta = std::fs::metadata(&made).unwrap_or_else(|e| panic!("{}: {e}", made.display()));
    assert!(meta.is_file() && meta.len() == 0, "{meta:?}");
    c.stop();
    c.wait_ended();
    drop(c);
    rig.finish_clean();
}

/// C3 end to end: one client seeds two torrents, another downloads both at once from the
/// same address: incoming peers are routed to the right torrent by info-hash, and both
/// torrents finish with the right data.
#[test]
fn two_clients_transfer_two_torrents_at_once() {
    let seed_dir = TempDir::new("xfer2-seed");
    let leech_dir = TempDir::new("xfer2-leech");
    let one = data(700_001, 22);
    let two = data(500_003, 23);
    prefill_single(seed_dir.path(), "one.bin", &one);
    prefill_single(seed_dir.path(), "two.bin", &two);
    let t1 = torrent("one.bin", 65536, &one);
    let t2 = torrent("two.bin", 32768, &two);

    let rig = Rig::start();
    let seeder = rig.client(config(seed_dir.path()));
    seeder.put(t1.clone());
    seeder.put(t2.clone());
    assert_eq!(seeder.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(seeder.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    seeder.status_until(1, LIMIT, |u| u.stats.state == TorrentState::Seeding);
    seeder.status_until(2, LIMIT, |u| u.stats.state == TorrentState::Seeding);

    let leecher = rig.client(ClientConfig {
        peers: vec![seeder.addr()],
        ..config(leech_dir.path())
    });
    leecher.put(t2);
    leecher.put(t1);
    assert_eq!(leecher.reply_as::<TIPCNewTorrentCreated>().torrent_id, 1);
    assert_eq!(leecher.reply_as::<TIPCNewTorrentCreated>().torrent_id, 2);
    wait_complete(&leecher, 1);
    wait_complete(&leecher, 2);
    assert!(std::fs::read(leech_dir.join("one.bin")).unwrap() == one);
    assert!(std::fs::read(leech_dir.join("two.bin")).unwrap() == two);
    leecher.stop();
    seeder.stop();
    leecher.wait_ended();
    seeder.wait_ended();
    drop((leecher, seeder));
    rig.finish_clean();
}
