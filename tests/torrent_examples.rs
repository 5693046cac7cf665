//! The torrent examples (spec e12-e15) run as the user runs them: `torrent_maker` writes a
//! .torrent; `torrent_seeder` makes one, writes it and seeds the file; `torrent_patron` and
//! `torrent_client` download it from that seeder. All on 127.0.0.1, with our tracker running
//! in this process. Every download is compared byte for byte with the original.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use kamaelia::axon::{Scheduler, StopHandle};
use kamaelia::torrent::metainfo::{hash_pieces, Metainfo};
use kamaelia::torrent::tracker::server::Tracker;

mod common;
use common::build_example;

/// Anti-hang limit for one wait (not a performance bound).
const LIMIT: Duration = Duration::from_secs(60);

/// An example running as a child process; dropping it kills and reaps it.
struct Proc {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn start(name: &'static str, args: &[&str], cwd: &Path) -> Proc {
        let exe = build_example(name);
        let mut child = Command::new(&exe)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let out: Arc<Mutex<Vec<u8>>> = Arc::default();
        for mut pipe in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
        }
        Proc {
            name,
            stdin: child.stdin.take(),
            child,
            out,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot type {line:?}: {e}", self.name));
    }

    fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.output().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before printing {text:?}; output:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                start.elapsed() < LIMIT,
                "{} did not print {text:?} within {LIMIT:?}; output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes stdin and waits for the example to exit by itself; returns whether it succeeded.
    fn end_input_and_wait(mut self) -> bool {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            assert!(
                start.elapsed() < LIMIT,
                "{} did not exit within {LIMIT:?} of the end of its input; output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Our tracker on its own scheduler thread; stopped when dropped.
struct TrackerThread {
    url: String,
    stop: StopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TrackerThread {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tracker() -> TrackerThread {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let sched = Scheduler::new();
        let (server, addr) = Tracker::new()
            .server("127.0.0.1:0".parse().unwrap())
            .expect("the tracker listens on 127.0.0.1");
        sched.spawn(server);
        tx.send((addr, sched.stop_handle())).unwrap();
        sched.run();
    });
    let (addr, stop): (SocketAddr, StopHandle) = rx.recv().expect("tracker started");
    TrackerThread {
        url: format!("http://{addr}/announce"),
        stop,
        thread: Some(thread),
    }
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kamaelia-ex-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn payload(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// e14: a path typed in, `mytorrent.torrent` out, announcing example.com (never contacted).
#[test]
fn torrent_maker_writes_mytorrent_torrent() {
    let dir = temp_dir("maker");
    let data = payload(700_000);
    std::fs::write(dir.join("film.bin"), &data).unwrap();
    let mut maker = Proc::start("torrent_maker", &[], &dir);
    maker.type_line("film.bin");
    let path = dir.join("mytorrent.torrent");
    let start = Instant::now();
    // The writer appends as the maker answers; wait for a whole torrent.
    let m = loop {
        if let Ok(m) = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| Metainfo::from_bytes(&b).map_err(|e| e.to_string()))
        {
            break m;
        }
        assert!(
            start.elapsed() < LIMIT,
            "no torrent written; output:\n{}",
            maker.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        maker.end_input_and_wait(),
        "torrent_maker exits cleanly at end of input"
    );
    assert_eq!(m.announce.as_deref(), Some("http://example.com:12345/"));
    assert_eq!(m.info.name, "film.bin");
    assert_eq!(m.info.total_length(), data.len() as u64);
    assert_eq!(m.info.pieces, hash_pieces(&data, m.info.piece_length));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// e15 reports a file it cannot make a torrent of, then seeds one it can; e12 (through a TorrentPatron) and e13 (with a
/// TorrentClient in the pipeline) each download it, and end cleanly when their input ends.
#[test]
fn torrent_seeder_seeds_and_patron_and_client_examples_download() {
    let tracker = tracker();
    let dir = temp_dir("swarm");
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let data = payload(3 * 1024 * 1024 + 12345);
    std::fs::write(seed_dir.join("film.bin"), &data).unwrap();

    let listen = free_addr();
    let mut seeder = Proc::start(
        "torrent_seeder",
        &["--tracker", &tracker.url, "--listen", &listen],
        &seed_dir,
    );
    // A name that is not there is reported, and does not put later names out of step.
    seeder.type_line("missing.bin");
    seeder.wait_for("could not make a torrent of missing.bin");
    seeder.type_line("film.bin");
    seeder.wait_for("New torrent 1 created in .");
    seeder.wait_for("Torrent 1 status : 100%");
    let torrent = seed_dir.join("film.bin.torrent");
    let m = Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).expect("a valid .torrent");
    assert_eq!(m.info.name, "film.bin");
    assert!(!seed_dir.join("missing.bin.torrent").exists());
    assert_eq!(m.announce.as_deref(), Some(tracker.url.as_str()));

    for example in ["torrent_patron", "torrent_client"] {
        let out = dir.join(example);
        std::fs::create_dir_all(&out).unwrap();
        let listen = free_addr();
        let mut leecher = Proc::start(
            example,
            &["--listen", &listen, "--output", out.to_str().unwrap()],
            &dir,
        );
        leecher.type_line(torrent.to_str().unwrap());
        leecher.wait_for(&format!("New torrent 1 created in {}", out.display()));
        leecher.wait_for("Torrent 1 status : 100%");
        let got = std::fs::read(out.join("film.bin")).unwrap();
        assert!(
            got == data,
            "{example}: the downloaded file differs from the original"
        );
        let output = leecher.output();
        assert!(
            leecher.end_input_and_wait(),
            "{example} exits cleanly at the end of its input; output:\n{output}"
        );
    }
    drop(seeder);
    std::fs::remove_dir_all(&dir).unwrap();
}
