//! The `kamaelia-torrent` command (issue 4): make and info, and bad input handled with a
//! non-zero status and one clear line on stderr, never a panic.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::*;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kamaelia-torrent"))
        .args(args)
        .output()
        .expect("run kamaelia-torrent")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// new: issue 4 (make writes the .torrent and prints its info-hash; info shows it all)
#[test]
fn make_then_info() {
    let d = temp_dir("cli-make");
    let src = d.join("Stuff");
    std::fs::create_dir_all(src.join("inner")).unwrap();
    std::fs::write(src.join("one.bin"), vec![5u8; 100_000]).unwrap();
    std::fs::write(src.join("inner/two.txt"), b"two\n").unwrap();
    let out_file = d.join("stuff.torrent");
    let o = cli(&[
        "make",
        src.to_str().unwrap(),
        "--tracker",
        "http://127.0.0.1:6969/announce",
        "--piece-size",
        "16384",
        "--output",
        out_file.to_str().unwrap(),
        "--comment",
        "a test torrent",
        "--private",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hash = stdout(&o).trim().to_string();
    assert_eq!(hash.len(), 40);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));

    let o = cli(&["info", out_file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for line in [
        "name: Stuff".to_string(),
        format!("info-hash: {hash}"),
        "total size: 97.66 KiB (100004 bytes)".into(),
        "piece length: 16.00 KiB (16384 bytes)".into(),
        "pieces: 7".into(),
        "private: yes".into(),
        "comment: a test torrent".into(),
        "files: 2".into(),
        "  inner/two.txt (4 bytes)".into(),
        "  one.bin (100000 bytes)".into(),
        "  tier 1: http://127.0.0.1:6969/announce".into(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

fn assert_one_line_error(o: &Output) {
    assert_eq!(o.status.code(), Some(1), "status of {:?}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    assert!(err.starts_with("kamaelia-torrent: "), "{err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
}

// new: issue 4 (bad input: non-zero status, one clear line on stderr, never a panic)
#[test]
fn every_hostile_torrent_gets_one_line_on_stderr() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert_one_line_error(&cli(&["info", path.to_str().unwrap()]));
    }
    assert_one_line_error(&cli(&["info", "/no/such/file.torrent"]));
}

// new: issue 4 (a bad piece size or a missing path is refused before any work)
#[test]
fn make_refuses_bad_arguments() {
    let d = temp_dir("cli-bad");
    std::fs::write(d.join("f"), b"x").unwrap();
    let f = d.join("f");
    for piece in ["1000", "512", "536870912"] {
        assert_one_line_error(&cli(&[
            "make",
            f.to_str().unwrap(),
            "--tracker",
            "http://127.0.0.1/",
            "--piece-size",
            piece,
        ]));
    }
    assert_one_line_error(&cli(&[
        "make",
        "/no/such/path",
        "--tracker",
        "http://127.0.0.1/",
    ]));
    std::fs::remove_dir_all(&d).unwrap();
}

// new: issue 4 (`tracker` serves announces until SIGTERM, then exits cleanly)
#[test]
fn tracker_runs_until_sigterm() {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kamaelia-torrent"))
        .args(["tracker", "--listen", &listen])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.contains(&format!("http://{listen}/announce")),
        "{first}"
    );
    let answer = kamaelia_torrent::tracker::client::TrackerClient::default().announce(
        &format!("http://{listen}/announce"),
        &kamaelia_torrent::tracker::announce::AnnounceRequest {
            info_hash: kamaelia_torrent::metainfo::InfoHash([1; 20]),
            peer_id: kamaelia_torrent::tracker::announce::PeerId([2; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: None,
            numwant: None,
            key: 0,
        },
    );
    assert!(answer.is_ok(), "{answer:?}");
    let status = sigterm_and_wait(&mut child, "the tracker");
    assert!(status.success(), "{status:?}");
}

/// Sends SIGTERM to `child` and waits up to 30 s for it to end (then kills it and fails).
fn sigterm_and_wait(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    use std::time::{Duration, Instant};
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// new: issue 4 (no huge allocation for hostile input): a giant "torrent" is refused before it
// is read (a sparse file: no disk is used)
#[test]
fn info_refuses_a_huge_file_without_reading_it() {
    let d = temp_dir("cli-huge");
    let f = d.join("huge.torrent");
    std::fs::File::create(&f)
        .unwrap()
        .set_len(8 * 1024 * 1024 * 1024)
        .unwrap();
    let o = cli(&["info", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

/// Runs the command, killing it (and failing the test) if it has not exited within `limit`.
fn cli_within(args: &[&str], limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let child = Command::new(env!("CARGO_BIN_EXE_kamaelia-torrent"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kamaelia-torrent");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for kamaelia-torrent"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("kamaelia-torrent {args:?} did not exit within {limit:?}");
        }
    }
}

// new: issue 5 (the main job): a tracker, a seeder and two downloaders in one process; every
// copy is checked against the original
#[test]
fn demo_runs_a_swarm_and_every_copy_matches() {
    let o = cli_within(
        &["demo", "--peers", "2", "--size", "8"],
        std::time::Duration::from_secs(120),
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert_eq!(out.matches("matches the original").count(), 2, "{out}");
    assert!(out.contains("every copy matches"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "no terminal codes when stdout is not a terminal"
    );
}

// new: issue 5: bad arguments and a bad torrent are one line on stderr, not a panic
#[test]
fn download_and_demo_refuse_bad_input() {
    let d = temp_dir("cli-bad-download");
    let bad = d.join("bad.torrent");
    std::fs::write(&bad, b"d8:announce").unwrap();
    let limit = std::time::Duration::from_secs(60);
    let o = cli_within(
        &["download", bad.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        limit,
    );
    assert!(!o.status.success());
    assert_one_line_error(&o);
    let o = cli_within(&["demo", "--peers", "0"], limit);
    assert!(!o.status.success());
    assert_one_line_error(&o);
    let good = kamaelia_torrent::metainfo::TorrentBuilder::new("x", 16384)
        .single_file(b"data")
        .to_bytes();
    let t = d.join("good.torrent");
    std::fs::write(&t, good).unwrap();
    let o = cli_within(
        &[
            "seed",
            t.to_str().unwrap(),
            "--data",
            d.join("missing").to_str().unwrap(),
        ],
        limit,
    );
    assert!(!o.status.success());
    assert_one_line_error(&o);
    std::fs::remove_dir_all(&d).unwrap();
}

// new: issue 5: `seed` verifies the data, says it is seeding, and stops cleanly on SIGTERM,
// exit status 0 (the torrent names no tracker: the `stopped` announce is the announcer's tests')
#[test]
fn seed_verifies_then_serves_until_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let d = temp_dir("cli-seed-term");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.join("x.bin"), &data).unwrap();
    let t = d.join("x.torrent");
    std::fs::write(
        &t,
        kamaelia_torrent::metainfo::TorrentBuilder::new("x.bin", 16384)
            .single_file(&data)
            .to_bytes(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kamaelia-torrent"))
        .args(["seed", t.to_str().unwrap(), "--data", d.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("seeding x.bin")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no `seeding` line within 60 s; saw {seen:?}");
            }
        }
    }
    let status = sigterm_and_wait(&mut child, "seed");
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&d).unwrap();
}
