//! TorrentMaker (spec C6), as a component: paths and TIPCMakeTorrent in, .torrent bytes out.

mod common;
use common::*;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use axon::{Ctx, Scheduler, Threaded};
use kamaelia_torrent::ipc::TIPCMakeTorrent;
use kamaelia_torrent::maker::{MakeTorrentError, TorrentMaker};
use kamaelia_torrent::metainfo::{hash_pieces, Metainfo};

/// Runs `f` on its own thread; fails if it takes more than a minute (nothing may hang).
fn within<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("the test hung"),
    }
}

/// Everything a maker sends, by outbox, after feeding it `inputs` then `stop` on control.
struct Outcome {
    torrents: Vec<Vec<u8>>,
    errors: Vec<MakeTorrentError>,
    signal: Vec<String>,
}

fn run_maker(inputs: Vec<axon::Message>, stop: axon::Message, threads: usize) -> Outcome {
    let sched = Scheduler::new();
    let root = sched.root();
    let maker = root.create(Threaded::new(
        TorrentMaker::new("http://127.0.0.1:6969/announce").with_threads(threads),
    ));
    let errors = root.add_inbox("errors").unwrap();
    let signal = root.add_inbox("signals").unwrap();
    root.link((root.id(), "outbox"), (maker, "inbox")).unwrap();
    root.link((root.id(), "signal"), (maker, "control"))
        .unwrap();
    root.link((maker, "outbox"), (root.id(), "inbox")).unwrap();
    root.link((maker, "error"), (root.id(), &errors)).unwrap();
    root.link((maker, "signal"), (root.id(), &signal)).unwrap();
    for m in inputs {
        root.send(m, "outbox").unwrap();
    }
    root.send(stop, "signal").unwrap();
    root.activate(maker).unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    let drain = |ctx: &Ctx, b: &str| std::iter::from_fn(|| ctx.recv(b).ok()).collect::<Vec<_>>();
    Outcome {
        torrents: drain(&root, "inbox")
            .into_iter()
            .map(|m| m.downcast::<Vec<u8>>().unwrap())
            .collect(),
        errors: drain(&root, &errors)
            .into_iter()
            .map(|m| m.downcast::<MakeTorrentError>().unwrap())
            .collect(),
        signal: drain(&root, &signal)
            .into_iter()
            .map(|m| m.type_name().to_string())
            .collect(),
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

// ports TorrentMaker.py's contract (spec C6): a path string becomes a torrent with the
// default tracker, 2^18-byte pieces, its base name as title, "Created by Kamaelia" as comment
#[test]
fn a_path_becomes_a_single_file_torrent() {
    let d = temp_dir("maker-single");
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    write(&d.join("data.bin"), &data);
    let path = d.join("data.bin").display().to_string();
    let out = within(move || {
        run_maker(
            vec![axon::Message::new(path)],
            axon::Message::new(ProducerFinished::default()),
            2,
        )
    });
    assert_eq!(out.torrents.len(), 1);
    assert!(out.errors.is_empty());
    assert_eq!(out.signal.len(), 1, "ProducerFinished passed on");
    let m = Metainfo::from_bytes(&out.torrents[0]).unwrap();
    assert_eq!(m.info.name, "data.bin");
    assert!(!m.info.multi_file);
    assert_eq!(m.info.piece_length, 1 << 18);
    assert_eq!(m.info.total_length(), data.len() as u64);
    assert_eq!(m.info.pieces, hash_pieces(&data, 1 << 18));
    assert_eq!(
        m.announce.as_deref(),
        Some("http://127.0.0.1:6969/announce")
    );
    assert_eq!(m.comment.as_deref(), Some("Created by Kamaelia"));
    std::fs::remove_dir_all(&d).unwrap();
}

// new: issue 4 (whole folders, which the original could not do), hashed on several threads
// with the same result as on one
#[test]
fn a_folder_becomes_a_multi_file_torrent_the_same_on_any_number_of_threads() {
    let d = temp_dir("maker-folder");
    let root = d.join("album");
    let a: Vec<u8> = vec![1; 300_000];
    let b: Vec<u8> = vec![2; 5];
    let c: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    write(&root.join("b.txt"), &b);
    write(&root.join("a.bin"), &a);
    write(&root.join("disc2/c.bin"), &c);
    let req = TIPCMakeTorrent {
        tracker_url: "udp://127.0.0.1:6969/announce".into(),
        log2_piece_size_bytes: 16,
        title: "My Album".into(),
        comment: "made in a test".into(),
        src_file: root.clone(),
    };
    let reqs = vec![req.clone(), req];
    let out1 = within({
        let r = reqs.clone();
        move || {
            run_maker(
                vec![axon::Message::new(r[0].clone())],
                axon::Message::new(ProducerFinished::default()),
                1,
            )
        }
    });
    let out4 = within(move || {
        run_maker(
            vec![axon::Message::new(reqs[1].clone())],
            axon::Message::new(ProducerFinished::default()),
            4,
        )
    });
    let m1 = Metainfo::from_bytes(&out1.torrents[0]).unwrap();
    let m4 = Metainfo::from_bytes(&out4.torrents[0]).unwrap();
    assert_eq!(m1.info_hash, m4.info_hash);
    assert!(m1.info.multi_file);
    assert_eq!(m1.info.name, "My Album");
    let paths: Vec<String> = m1.info.files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(paths, ["a.bin", "b.txt", "disc2/c.bin"]);
    let all = [a, b, c].concat();
    assert_eq!(m1.info.pieces, hash_pieces(&all, 1 << 16));
    assert_eq!(m1.comment.as_deref(), Some("made in a test"));
    std::fs::remove_dir_all(&d).unwrap();
}

// new: spec (f)5 fixed (control works): ProducerFinished finishes every request sent before
// it, then passes it on
#[test]
fn producer_finished_finishes_the_work_first() {
    let d = temp_dir("maker-finish");
    let paths: Vec<axon::Message> = (0..5)
        .map(|i| {
            let p = d.join(format!("f{i}.txt"));
            write(&p, format!("file {i}").as_bytes());
            axon::Message::new(p)
        })
        .collect();
    let out = within(move || run_maker(paths, axon::Message::new(ProducerFinished::default()), 1));
    assert_eq!(out.torrents.len(), 5);
    let names: Vec<String> = out
        .torrents
        .iter()
        .map(|t| Metainfo::from_bytes(t).unwrap().info.name)
        .collect();
    assert_eq!(names, ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt"]);
    assert_eq!(out.signal, [std::any::type_name::<ProducerFinished>()]);
    std::fs::remove_dir_all(&d).unwrap();
}

// new: spec (f)5 fixed: ShutdownMicroprocess stops it at once and is passed on
#[test]
fn shutdown_stops_it_and_is_passed_on() {
    let out = within(|| {
        run_maker(
            Vec::new(),
            axon::Message::new(ShutdownMicroprocess::default()),
            1,
        )
    });
    assert!(out.torrents.is_empty());
    assert_eq!(out.signal, [std::any::type_name::<ShutdownMicroprocess>()]);
}

// new: issue 4 (a request that fails is reported; the maker carries on with the next)
#[test]
fn a_missing_path_is_reported_and_the_next_request_still_made() {
    let d = temp_dir("maker-missing");
    write(&d.join("ok.txt"), b"fine");
    let inputs = vec![
        axon::Message::new(d.join("no-such-file")),
        axon::Message::new(42u8),
        axon::Message::new(d.join("ok.txt")),
    ];
    let out = within(move || run_maker(inputs, axon::Message::new(ProducerFinished::default()), 1));
    assert_eq!(out.torrents.len(), 1);
    assert_eq!(out.errors.len(), 2);
    assert!(
        out.errors[0].to_string().contains("no-such-file"),
        "{}",
        out.errors[0]
    );
    assert!(out.errors[1].reason.contains("u8"), "{}", out.errors[1]);
    std::fs::remove_dir_all(&d).unwrap();
}
