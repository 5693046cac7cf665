//! The `kamaelia-torrent` command (issue 4): make and info, and bad input handled with a
//! non-zero status and one clear line on stderr, never a panic.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::ports::free_port;
use common::*;

/// The tool, with the log settings of a user who set none (`RUST_LOG` changes how warnings
/// look, and the tests read what a user sees).
fn tool() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kamaelia-torrent"));
    c.env_remove("RUST_LOG");
    c
}

fn cli(args: &[&str]) -> Output {
    tool().args(args).output().expect("run kamaelia-torrent")
}

/// `len` bytes (`i % modulus` each) written as `d/<name>`, and their single-file torrent (no
/// tracker) as `d/<stem>.torrent`; returns the torrent's path and the bytes.
fn single_file_torrent(
    d: &Path,
    name: &str,
    len: u32,
    modulus: u32,
) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i % modulus) as u8).collect();
    std::fs::write(d.join(name), &data).unwrap();
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let t = d.join(format!("{stem}.torrent"));
    let bytes = kamaelia_torrent::metainfo::TorrentBuilder::new(name, 16384)
        .single_file(&data)
        .to_bytes();
    std::fs::write(&t, bytes).unwrap();
    (t, data)
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
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("wrote {}", out_file.display()).as_str()),
        "{out}"
    );
    let hash = lines
        .next()
        .and_then(|l| l.strip_prefix("info-hash: "))
        .unwrap_or_else(|| panic!("no info-hash line in {out:?}"))
        .to_string();
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
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = tool()
        .args(["tracker", "--listen", &listen])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let answer = announce_to(&format!("http://{listen}/announce"), 1);
    // Stopped before anything is asserted, so that a failure leaves no tracker running.
    let status = sigterm_and_wait(&mut child, "the tracker");
    assert!(read.is_ok(), "{read:?}");
    assert!(
        first.contains(&format!("http://{listen}/announce")),
        "{first}"
    );
    assert!(answer.is_ok(), "{answer:?}");
    assert!(status.success(), "{status:?}");
}

/// `download` of torrent `t` into `out`, listening on a free loopback port, with `extra`
/// arguments; killed (failing the test) after 60 s.
fn download_into(t: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "download",
        t.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    cli_within(&args, std::time::Duration::from_secs(60))
}

/// One announce to `url` (a seed of torrent `[n; 20]`), as a client would send it.
fn announce_to(
    url: &str,
    n: u8,
) -> Result<kamaelia_torrent::tracker::announce::AnnounceResponse, impl std::fmt::Debug> {
    use kamaelia_torrent::tracker::announce::{AnnounceRequest, PeerId};
    kamaelia_torrent::tracker::client::TrackerClient::default().announce(
        url,
        &AnnounceRequest {
            info_hash: kamaelia_torrent::metainfo::InfoHash([n; 20]),
            peer_id: PeerId([n.wrapping_add(1); 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: None,
            numwant: None,
            key: 0,
        },
    )
}

/// Sends SIGTERM to `child` and waits up to 30 s for it to end (then kills it and fails).
fn sigterm_and_wait(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_ended(child, &format!("{what} did not stop on SIGTERM"))
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
    let child = tool()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kamaelia-torrent");
    cli_output_within(child, limit)
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
    // review: the live rows fit an 80-column terminal (a wrapped row breaks the redraw)
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(": [")).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in rows {
        let columns = row.chars().count();
        assert!(columns <= 79, "{columns} columns: {row:?}");
    }
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
    let (t, _) = single_file_torrent(&d, "x.bin", 100_000, 253);
    let mut child = tool()
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

/// Runs the command in `dir`.
fn cli_in(dir: &Path, args: &[&str]) -> Output {
    tool()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kamaelia-torrent")
}

/// Starts the command with its standard output sent, line by line, to the receiver
/// (standard error is captured; read it after the child ends).
fn spawn_lines(args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = tool()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kamaelia-torrent");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The lines up to and including the first for which `done` holds (within 60 s; else the
/// child is killed and the test fails).
fn lines_until(
    child: &mut std::process::Child,
    rx: &std::sync::mpsc::Receiver<String>,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let last = done(&line);
                seen.push(line);
                if last {
                    return seen;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the line awaited did not come within 60 s; saw {seen:?}");
            }
        }
    }
}

// review 3: without --listen, `seed` (like `download`) takes the first free port of 6881 to
// 6889 and says which; a --listen address that is taken is a clear error with a hint
#[test]
fn seed_takes_the_next_free_port_and_a_taken_listen_is_a_clear_error() {
    let d = temp_dir("cli-ports");
    let (t, _) = single_file_torrent(&d, "p.bin", 50_000, 251);
    // 6881 is taken: by us, or already by something else.
    let _held = std::net::TcpListener::bind("0.0.0.0:6881");
    let (mut child, rx) =
        spawn_lines(&["seed", t.to_str().unwrap(), "--data", d.to_str().unwrap()]);
    let seen = lines_until(&mut child, &rx, |l| l.starts_with("seeding p.bin"));
    let port: u16 = seen
        .iter()
        .find_map(|l| l.strip_prefix("listening for peers on 0.0.0.0:"))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no `listening for peers` line in {seen:?}"));
    assert!((6882..=6889).contains(&port), "{seen:?}");
    // The port said is the one the client holds (not one tried, let go and bound again).
    let again = std::net::TcpListener::bind(("0.0.0.0", port));
    assert!(again.is_err(), "port {port} is free while the seeder runs");
    let status = sigterm_and_wait(&mut child, "seed");
    assert!(status.success(), "{status:?}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = cli_within(
        &[
            "download",
            t.to_str().unwrap(),
            "-o",
            d.to_str().unwrap(),
            "--listen",
            &addr,
        ],
        std::time::Duration::from_secs(60),
    );
    assert_one_line_error(&o);
    let err = stderr(&o);
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("(choose another with --listen)"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

// review 5: `make .` and `make ..` name the torrent after the folder's real name
#[test]
fn make_dot_and_dot_dot_use_the_folders_name() {
    let d = temp_dir("cli-make-dot");
    let src = d.join("Album");
    std::fs::create_dir_all(src.join("inner")).unwrap();
    std::fs::write(src.join("a.bin"), vec![3u8; 20_000]).unwrap();
    std::fs::write(src.join("inner/b.txt"), b"b\n").unwrap();
    let tracker = "http://127.0.0.1:6969/announce";

    let o = cli_in(&src, &["make", ".", "--tracker", tracker]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("wrote Album.torrent\n"),
        "{}",
        stdout(&o)
    );
    let made = src.join("Album.torrent");
    let o = cli(&["info", made.to_str().unwrap()]);
    assert!(
        stdout(&o).lines().any(|l| l == "name: Album"),
        "{}",
        stdout(&o)
    );
    // Again, with that .torrent now inside the folder: refused, not hashed into the new one.
    let o = cli_in(&src, &["make", ".", "--tracker", tracker]);
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("is inside"), "{}", stderr(&o));
    std::fs::remove_file(&made).unwrap();

    let out = d.join("up.torrent");
    let o = cli_in(
        &src.join("inner"),
        &[
            "make",
            "..",
            "--tracker",
            tracker,
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cli(&["info", out.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(text.lines().any(|l| l == "name: Album"), "{text}");
    assert!(
        text.lines().any(|l| l == "  inner/b.txt (2 bytes)"),
        "{text}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

// review 6: `make` refuses a tracker that is not an http://, https:// or udp:// URL, before any
// work; it says where it wrote the .torrent, and when it replaced a file
#[test]
fn make_checks_the_tracker_and_says_what_it_wrote() {
    let d = temp_dir("cli-make-tracker");
    let f = d.join("f.bin");
    std::fs::write(&f, b"some data").unwrap();
    let out = d.join("f.torrent");
    let make = |tracker: &str| {
        cli(&[
            "make",
            f.to_str().unwrap(),
            "--tracker",
            tracker,
            "-o",
            out.to_str().unwrap(),
        ])
    };
    for bad in [
        "notaurl",
        "",
        "ftp://host/announce",
        "udp://host/",
        "http://a b/",
    ] {
        let o = make(bad);
        assert_one_line_error(&o);
        assert!(
            stderr(&o).contains(&format!("--tracker \"{bad}\" is not a tracker URL")),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists(), "a .torrent was written for {bad:?}");
    }
    for good in [
        "http://127.0.0.1:6969/announce",
        "https://t.example/announce",
        "udp://127.0.0.1:6969",
    ] {
        let o = make(good);
        assert!(o.status.success(), "{good}: {}", stderr(&o));
        let first = stdout(&o).lines().next().unwrap_or_default().to_string();
        if good.starts_with("http:") {
            assert_eq!(first, format!("wrote {}", out.display()));
        } else {
            assert_eq!(
                first,
                format!(
                    "wrote {} (replacing the file that was there)",
                    out.display()
                )
            );
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

// review 7: the size limit holds for what reports no size: a device that never ends, a pipe
#[test]
fn info_stops_reading_an_endless_device_or_pipe() {
    let limit = std::time::Duration::from_secs(30);
    let o = cli_within(&["info", "/dev/zero"], limit);
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("/dev/zero: more than"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));

    let d = temp_dir("cli-fifo");
    let fifo = d.join("endless.torrent");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = fifo.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        // Blocks until the reader opens it; ends when the reader goes away.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer)
            .unwrap();
        let chunk = vec![b'x'; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
    });
    let o = cli_within(&["info", fifo.to_str().unwrap()], limit);
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

// review 8: `seed --data` at the wrong level names the file it looked for and says what --data
// should be; a file is "not a folder"
#[test]
fn seed_names_the_missing_file_and_what_data_should_be() {
    let d = temp_dir("cli-seed-where");
    let a: Vec<u8> = (0..40_000u32).map(|i| (i % 249) as u8).collect();
    let b = b"second file\n".to_vec();
    std::fs::create_dir_all(d.join("album/sub")).unwrap();
    std::fs::write(d.join("album/a.bin"), &a).unwrap();
    std::fs::write(d.join("album/sub/b.txt"), &b).unwrap();
    let t = d.join("album.torrent");
    std::fs::write(
        &t,
        kamaelia_torrent::metainfo::TorrentBuilder::new("album", 16384)
            .multi_file(&[(&["a.bin"], &a), (&["sub", "b.txt"], &b)])
            .to_bytes(),
    )
    .unwrap();
    let limit = std::time::Duration::from_secs(60);
    let seed = |data: &Path| {
        cli_within(
            &[
                "seed",
                t.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
            limit,
        )
    };
    // One level too deep: album/album/a.bin is looked for.
    let o = seed(&d.join("album"));
    assert_one_line_error(&o);
    let err = stderr(&o);
    let missing = d.join("album/album/a.bin");
    assert!(
        err.contains(&format!("{} is missing", missing.display())),
        "{err}"
    );
    assert!(
        err.contains("--data is the folder that holds the torrent's folder album/"),
        "{err}"
    );
    // A file cut short is named with its size.
    std::fs::write(d.join("album/a.bin"), &a[..1000]).unwrap();
    let o = seed(&d);
    assert_one_line_error(&o);
    let err = stderr(&o);
    let short = d.join("album/a.bin");
    assert!(
        err.contains(&format!(
            "{} is 1000 bytes, the torrent expects 40000",
            short.display()
        )),
        "{err}"
    );
    // A file is not a folder.
    let o = seed(&d.join("album/sub/b.txt"));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("b.txt is not a folder"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

// review 10: `tracker --listen 0.0.0.0:N` prints a URL a client can use, and it works
#[test]
fn tracker_on_all_addresses_prints_a_usable_url() {
    use std::io::{BufRead, BufReader};
    let port = free_port();
    let mut child = tool()
        .args(["tracker", "--listen", &format!("0.0.0.0:{port}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/announce");
    let answer = announce_to(&url, 3);
    // Stopped before any assertion, so that a failing test leaves no tracker running.
    let status = sigterm_and_wait(&mut child, "the tracker");
    assert!(first.contains(&url), "{first}");
    assert!(first.contains("all addresses"), "{first}");
    assert!(!first.contains("0.0.0.0"), "{first}");
    assert!(answer.is_ok(), "{answer:?}");
    assert!(status.success(), "{status:?}");
}

// review 4: `demo --dot` into a folder that does not exist fails before any work
#[test]
fn demo_checks_its_dot_file_first() {
    let o = cli_within(
        &["demo", "--dot", "/nonexistent/kt-graph.dot"],
        std::time::Duration::from_secs(20),
    );
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("cannot write /nonexistent/kt-graph.dot"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "it started: {}", stdout(&o));
}

// review 4: Ctrl-C while the demo writes its payload ends it saying so, and its folder is gone
#[test]
fn demo_interrupted_says_so_and_removes_its_folder() {
    // Large enough that Ctrl-C comes while the payload is written or shared; small enough
    // that a failure leaves little behind (and what it leaves is removed below).
    let (mut child, rx) = spawn_lines(&["demo", "--size", "512", "--peers", "1"]);
    let seen = lines_until(&mut child, &rx, |l| l.starts_with("demo: "));
    let dir = seen[0]
        .rsplit_once(" in ")
        .map(|(_, d)| std::path::PathBuf::from(d))
        .unwrap();
    let existed = dir.exists();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = cli_output_within(child, std::time::Duration::from_secs(30));
    let left_behind = dir.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(existed, "{dir:?}");
    assert_one_line_error(&o);
    let err = stderr(&o);
    assert!(err.contains("interrupted"), "{err}");
    assert!(!left_behind, "{dir:?} is left behind");
}

/// Waits up to `limit` for a child started with piped stderr, then kills it and fails.
fn cli_output_within(child: std::process::Child, limit: std::time::Duration) -> Output {
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
            panic!("kamaelia-torrent did not exit within {limit:?}");
        }
    }
}

// review: a download that cannot write says so in one line naming the file, without the
// engine's log lines
#[test]
fn a_download_that_cannot_write_names_the_file_in_one_line() {
    let d = temp_dir("cli-cannot-write");
    let (t, _) = single_file_torrent(&d, "w.bin", 200_000, 241);
    let port = free_port();
    let seeder = format!("127.0.0.1:{port}");
    let (mut child, rx) = spawn_lines(&[
        "seed",
        t.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--listen",
        &seeder,
    ]);
    lines_until(&mut child, &rx, |l| l.starts_with("seeding w.bin"));
    // Where the file should go, a folder is in the way.
    let out = d.join("out");
    std::fs::create_dir_all(out.join("w.bin")).unwrap();
    let o = download_into(&t, &out, &["--peer", &seeder]);
    let status = sigterm_and_wait(&mut child, "seed");
    assert!(status.success(), "{status:?}");
    assert_one_line_error(&o);
    let err = stderr(&o);
    assert!(
        err.contains(&out.join("w.bin").display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

// review: a download into a folder that already holds every piece, in a longer file, cuts the
// file to the torrent's length and says so; `seed` leaves the same file as it is
#[test]
fn download_cuts_a_longer_complete_file_and_says_so_seed_does_not() {
    let d = temp_dir("cli-cut");
    let (t, data) = single_file_torrent(&d, "c.bin", 100_000, 239);
    let mut longer = data.clone();
    longer.extend_from_slice(&[9u8; 5000]);
    std::fs::write(d.join("c.bin"), &longer).unwrap();

    let (mut child, rx) = spawn_lines(&[
        "seed",
        t.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    lines_until(&mut child, &rx, |l| l.starts_with("seeding c.bin"));
    let status = sigterm_and_wait(&mut child, "seed");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        std::fs::read(d.join("c.bin")).unwrap(),
        longer,
        "seed changed it"
    );

    let o = download_into(&t, &d, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kamaelia-torrent: warning: cut "),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(d.join("c.bin")).unwrap(), data);
    std::fs::remove_dir_all(&d).unwrap();
}

// lifecycle review: a file-size limit (`ulimit -f`) is an error on stderr, not a silent
// death by SIGXFSZ (the demo writes a 1 MiB payload; the limit is 64 KiB)
#[test]
fn a_file_size_limit_is_a_clear_error_not_a_signal() {
    use std::os::unix::process::ExitStatusExt;
    let d = temp_dir("cli-fsize");
    let bin = env!("CARGO_BIN_EXE_kamaelia-torrent");
    let o = Command::new("sh")
        .args([
            "-c",
            "ulimit -f 128 && exec \"$0\" demo --size 1 --peers 1",
            bin,
        ])
        .env_remove("RUST_LOG")
        .env("TMPDIR", &d)
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(
        o.status.signal(),
        None,
        "killed by a signal: {:?}",
        o.status
    );
    assert_eq!(o.status.code(), Some(1), "{:?} {}", o.status, stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("File too large"), "{err}");
    assert!(err.starts_with("kamaelia-torrent: "), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

// lifecycle review: while `seed` stops (its tracker never answers `stopped`), a second
// SIGTERM exits at once with status 130 and one line; before, it was ignored
#[test]
fn a_second_sigterm_exits_at_once_with_130() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    // A tracker that answers every announce but `stopped`, which it holds unanswered.
    let (url, seen) = common::tracker_deaf_to_stopped();
    let d = temp_dir("cli-twice");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.join("t.bin"), &data).unwrap();
    let t = d.join("t.torrent");
    let bytes = kamaelia_torrent::metainfo::TorrentBuilder::new("t.bin", 16384)
        .single_file(&data)
        .tracker(&url)
        .to_bytes();
    std::fs::write(&t, bytes).unwrap();
    let (mut child, rx) = spawn_lines(&[
        "seed",
        t.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    lines_until(&mut child, &rx, |l| l.starts_with("seeding t.bin"));
    let until = Instant::now() + Duration::from_secs(30);
    while !seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("event=started"))
    {
        assert!(Instant::now() < until, "no started announce");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = |child: &std::process::Child| {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    term(&child);
    // The stop is under way once `stopped` reaches the tracker (which will not answer).
    while !seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("event=stopped"))
    {
        assert!(Instant::now() < until, "no stopped announce");
        std::thread::sleep(Duration::from_millis(10));
    }
    term(&child);
    let status = wait_ended(
        &mut child,
        "the program did not end within 30 s of its signals",
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{status:?} {err}");
    assert!(err.contains("kamaelia-torrent: interrupted again"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Waits up to 30 s for `child` to end; then kills it and fails, saying `failure`.
fn wait_ended(child: &mut std::process::Child, failure: &str) -> std::process::ExitStatus {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{failure}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
