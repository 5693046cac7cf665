//! Interop with real BitTorrent programs (issue 5): our `download` and `seed` against each
//! other, against aria2c and transmission-cli, with our tracker and opentracker; a multi-file
//! torrent; resuming after SIGKILL; a hostile .torrent. Loopback only, DHT/LPD/PEX/port
//! mapping off everywhere (see `common/peers.rs` for each program's flags and why).
//!
//! Under CI=true a missing program fails the test; elsewhere the test is skipped with a reason.
//! Each test has a time limit; a failure shows the tails of every program's output, and every
//! program is killed and reaped when the test ends.

mod common;
use common::peers::*;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one test may take, all waits included.
const LIMIT: Duration = Duration::from_secs(120);

/// Piece size of the single-file torrents: 5 MiB make 81 pieces, the last one short.
const PIECE: u64 = 64 * 1024;

/// The single-file payload: a little over 5 MiB, so that the last piece is short.
const SIZE: usize = (5 << 20) + 12345;

fn have_all(tools: &[&str]) -> bool {
    tools.iter().all(|t| have(t))
}

// new: issue 5 (ours to ours through our tracker: `seed` serves, `download` gets it all and
// exits 0)
#[test]
fn ours_to_ours_with_our_tracker() {
    let mut lab = Lab::new("interop-ours", LIMIT);
    let want = write_payload(&lab.path("seed/ours.bin"), SIZE, 1);
    let tracker = our_tracker(&mut lab, "tracker");
    let torrent = make_torrent(
        &lab,
        "ours",
        &lab.path("seed/ours.bin"),
        &tracker.url,
        PIECE,
    );
    let seed_dir = lab.path("seed");
    let _seeder = our_seed(&mut lab, "seed", &torrent, &seed_dir, &[]);
    wait_seeders(&mut lab, &tracker, &torrent, 1);
    let out = lab.path("got");
    let leecher = our_download(&mut lab, "download", &torrent, &out, &[]);
    lab.expect_success(leecher.id);
    expect_same(&lab, &out.join("ours.bin"), &want);
}

// new: issue 5 (ours to ours on the IPv6 loopback, ::1: our tracker answers with `peers6`,
// BEP 7, and the seeder and the download reach each other through it)
#[test]
fn ours_to_ours_over_ipv6_loopback() {
    let v6 = |port: u16| SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    // A free port on ::1, or no IPv6 here (a machine setting, not a missing program).
    let free_v6 = || TcpListener::bind(v6(0)).map(|l| l.local_addr().unwrap().port());
    let Ok(tracker_port) = free_v6() else {
        eprintln!("skipping: this machine has no IPv6 loopback (cannot bind [::1])");
        return;
    };
    let mut lab = Lab::new("interop-ipv6", LIMIT);
    let want = write_payload(&lab.path("seed/six.bin"), SIZE, 6);
    let tracker_addr = v6(tracker_port);
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["tracker", "--listen", &tracker_addr.to_string()]);
    let tracker = lab.spawn("tracker", cmd);
    lab.wait_until(tracker, "listening on [::1]", |_| {
        TcpStream::connect_timeout(&tracker_addr, Duration::from_millis(200)).is_ok()
    });
    let url = format!("http://{tracker_addr}/announce");
    let torrent = make_torrent(&lab, "six", &lab.path("seed/six.bin"), &url, PIECE);
    let seed_addr = v6(free_v6().unwrap());
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("seed")
        .arg(&torrent.path)
        .arg("--data")
        .arg(lab.path("seed"))
        .args(["--listen", &seed_addr.to_string()]);
    let _seeder = lab.spawn("seed", cmd);
    lab.wait_until(tracker, "the tracker counting the seeder", |_| {
        scrape_complete_at(tracker_addr, &torrent.hash).unwrap_or(0) >= 1
    });
    let out = lab.path("got");
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("download")
        .arg(&torrent.path)
        .arg("--output")
        .arg(&out)
        .args(["--listen", &v6(free_v6().unwrap()).to_string()]);
    let leecher = lab.spawn("download", cmd);
    lab.expect_success(leecher);
    expect_same(&lab, &out.join("six.bin"), &want);
}

// new: issue 5 (aria2c downloads from our seeder; aria2c dials us with the obfuscated
// handshake first and must fall back to the plain one)
#[test]
fn aria2c_downloads_from_our_seeder() {
    if !have("aria2c") {
        return;
    }
    let mut lab = Lab::new("interop-to-aria2c", LIMIT);
    let want = write_payload(&lab.path("seed/to-aria2c.bin"), SIZE, 2);
    let tracker = our_tracker(&mut lab, "tracker");
    let src = lab.path("seed/to-aria2c.bin");
    let torrent = make_torrent(&lab, "to-aria2c", &src, &tracker.url, PIECE);
    let seed_dir = lab.path("seed");
    let _seeder = our_seed(&mut lab, "seed", &torrent, &seed_dir, &[]);
    wait_seeders(&mut lab, &tracker, &torrent, 1);
    let out = lab.path("got");
    let leecher = aria2c_download(&mut lab, "aria2c", &torrent, &out);
    lab.expect_success(leecher.id);
    expect_same(&lab, &out.join("to-aria2c.bin"), &want);
}

// new: issue 5 (we download from an aria2c seeder, both announcing to opentracker)
#[test]
fn we_download_from_aria2c_seeder() {
    if !have_all(&["aria2c", "opentracker"]) {
        return;
    }
    let mut lab = Lab::new("interop-from-aria2c", LIMIT);
    let src = lab.path("seed/from-aria2c.bin");
    let want = write_payload(&src, SIZE, 3);
    // The info-hash does not depend on the tracker: learn it, whitelist it, then make the
    // torrent that names the tracker.
    let probe = make_torrent(&lab, "probe", &src, "http://127.0.0.1:1/announce", PIECE);
    let tracker = opentracker(&mut lab, &[&probe.hash]);
    let torrent = make_torrent(&lab, "from-aria2c", &src, &tracker.url, PIECE);
    assert_eq!(torrent.hash, probe.hash);
    let seed_dir = lab.path("seed");
    let _seeder = aria2c_seed(&mut lab, "aria2c-seed", &torrent, &seed_dir);
    wait_seeders(&mut lab, &tracker, &torrent, 1);
    let out = lab.path("got");
    let leecher = our_download(&mut lab, "download", &torrent, &out, &[]);
    lab.expect_success(leecher.id);
    expect_same(&lab, &out.join("from-aria2c.bin"), &want);
}

// new: issue 5 (we download from a transmission-cli seeder, dialling it with --peer:
// transmission does not dial peers on 127.x itself)
#[test]
fn we_download_from_transmission_seeder() {
    if !have("transmission-cli") {
        return;
    }
    let mut lab = Lab::new("interop-from-transmission", LIMIT);
    let src = lab.path("seed/from-transmission.bin");
    let want = write_payload(&src, SIZE, 4);
    let tracker = our_tracker(&mut lab, "tracker");
    let torrent = make_torrent(&lab, "from-transmission", &src, &tracker.url, PIECE);
    let seed_dir = lab.path("seed");
    let seeder = transmission_seed(&mut lab, "transmission", &torrent, &seed_dir);
    let out = lab.path("got");
    let leecher = our_download(&mut lab, "download", &torrent, &out, &[seeder.addr()]);
    lab.expect_success(leecher.id);
    expect_same(&lab, &out.join("from-transmission.bin"), &want);
}

// new: issue 5 (a multi-file torrent, ours to ours: three files of odd sizes in two folders,
// pieces spanning file boundaries, land at DIR/<name>/...)
#[test]
fn multi_file_ours_to_ours() {
    let mut lab = Lab::new("interop-multi", LIMIT);
    let files: [(&str, usize); 3] = [
        ("a.bin", 1_000_003),
        ("sub/b.bin", 2_345_679),
        ("c.txt", 777_777),
    ];
    let album = lab.path("seed/Album");
    let wants: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(i, (name, len))| write_payload(&album.join(name), *len, 10 + i as u64))
        .collect();
    let tracker = our_tracker(&mut lab, "tracker");
    // 32 KiB pieces: none of the file sizes is a multiple, so pieces span files.
    let torrent = make_torrent(&lab, "album", &album, &tracker.url, 32 * 1024);
    let seed_dir = lab.path("seed");
    let _seeder = our_seed(&mut lab, "seed", &torrent, &seed_dir, &[]);
    wait_seeders(&mut lab, &tracker, &torrent, 1);
    let out = lab.path("got");
    let leecher = our_download(&mut lab, "download", &torrent, &out, &[]);
    lab.expect_success(leecher.id);
    for ((name, _), want) in files.iter().zip(&wants) {
        expect_same(&lab, &out.join("Album").join(name), want);
    }
}

/// A TCP relay to `target` that passes at most `rate` bytes per second from the target to the
/// client (per connection) and counts them; the other way is not slowed.
struct Throttle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    down: Arc<AtomicU64>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, rate: Option<u64>, count: Arc<AtomicU64>) {
    let start = Instant::now();
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Throttle {
    fn start(target: SocketAddr, rate: u64) -> Throttle {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let down = Arc::new(AtomicU64::new(0));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (s, d, st) = (stop.clone(), down.clone(), streams.clone());
        let acceptor = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(upstream) = TcpStream::connect(target) else {
                            continue;
                        };
                        client.set_nonblocking(false).unwrap();
                        let mut keep = st.lock().unwrap();
                        keep.push(client.try_clone().unwrap());
                        keep.push(upstream.try_clone().unwrap());
                        let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                        let up = Arc::new(AtomicU64::new(0));
                        std::thread::spawn(move || pump(client, upstream, None, up));
                        let d = d.clone();
                        std::thread::spawn(move || pump(u2, c2, Some(rate), d));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
        });
        Throttle {
            addr,
            stop,
            down,
            streams,
            acceptor: Some(acceptor),
        }
    }

    /// Bytes passed from the target to clients so far.
    fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in self.streams.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// How many whole pieces of `want` the file at `path` already holds.
fn pieces_held(path: &Path, want: &[u8], piece: usize) -> usize {
    let Ok(got) = std::fs::read(path) else {
        return 0;
    };
    want.chunks(piece)
        .enumerate()
        .filter(|(i, chunk)| got.get(i * piece..i * piece + chunk.len()) == Some(*chunk))
        .count()
}

// new: issue 5 (resume: a download killed with SIGKILL part-way and started again on the same
// folder finishes with the right data, without fetching again what it already had)
#[test]
fn resume_after_sigkill() {
    let mut lab = Lab::new("interop-resume", LIMIT);
    let piece = 32 * 1024;
    let src = lab.path("seed/resume.bin");
    let want = write_payload(&src, (6 << 20) + 4321, 6);
    let total = want.len().div_ceil(piece);
    // The seeder announces to one tracker and the downloader to another (same info-hash), so
    // the downloader's only way to the seeder is --peer through the throttle, which makes the
    // download take about four seconds: time to kill it part-way.
    let seeder_tracker = our_tracker(&mut lab, "tracker-seeder");
    let downloader_tracker = our_tracker(&mut lab, "tracker-downloader");
    let seed_torrent = make_torrent(&lab, "seeder", &src, &seeder_tracker.url, piece as u64);
    let torrent = make_torrent(
        &lab,
        "downloader",
        &src,
        &downloader_tracker.url,
        piece as u64,
    );
    assert_eq!(seed_torrent.hash, torrent.hash);
    let seed_dir = lab.path("seed");
    let seeder = our_seed(&mut lab, "seed", &seed_torrent, &seed_dir, &[]);
    let throttle = Throttle::start(seeder.addr(), 3 << 19);
    let out = lab.path("got");
    let file = out.join("resume.bin");

    let first = our_download(&mut lab, "download-1", &torrent, &out, &[throttle.addr]);
    loop {
        if pieces_held(&file, &want, piece) * 4 >= total {
            break;
        }
        if let Some(st) = lab.status(first.id) {
            lab.fail(format!(
                "download-1 ended ({st}) before a quarter of the data had arrived"
            ));
        }
        lab.check(!lab.expired(), || {
            format!(
                "a quarter of the data did not arrive in time ({} of {total} pieces)",
                pieces_held(&file, &want, piece)
            )
        });
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.kill(first.id);
    let held = pieces_held(&file, &want, piece);
    lab.check(held < total, || {
        "download-1 had everything before it was killed: the throttle is too fast".into()
    });
    let before = throttle.down();

    let second = our_download(&mut lab, "download-2", &torrent, &out, &[throttle.addr]);
    lab.expect_success(second.id);
    expect_same(&lab, &file, &want);
    // What it had on disk must count: it may fetch a few pieces again, not most of them.
    let again = throttle.down() - before;
    let kept = (held * piece) as u64;
    eprintln!(
        "resume: killed with {held} of {total} pieces on disk; the restart fetched {again} \
         of {} bytes",
        want.len()
    );
    lab.check(again < want.len() as u64 - kept / 2, || {
        format!(
            "download-2 fetched {again} bytes although {held} of {total} pieces \
             ({kept} bytes) were already on disk"
        )
    });
}

// new: issue 5 (hostile input: `download` and `seed` of a truncated .torrent, or of none,
// exit non-zero with one line on stderr and no panic)
#[test]
fn hostile_truncated_torrent_is_refused() {
    let mut lab = Lab::new("interop-hostile", Duration::from_secs(60));
    let src = lab.path("seed/small.bin");
    write_payload(&src, 300_000, 7);
    let good = make_torrent(&lab, "good", &src, "http://127.0.0.1:1/announce", 16384);
    let bytes = std::fs::read(&good.path).unwrap();
    let cut = lab.path("truncated.torrent");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let missing = lab.path("no-such.torrent");
    let out = lab.path("got");
    let seed_dir = lab.path("seed");
    let cases: Vec<(&str, Vec<&std::ffi::OsStr>)> = vec![
        (
            "download-truncated",
            vec![
                "download".as_ref(),
                cut.as_ref(),
                "--output".as_ref(),
                out.as_ref(),
            ],
        ),
        (
            "seed-truncated",
            vec![
                "seed".as_ref(),
                cut.as_ref(),
                "--data".as_ref(),
                seed_dir.as_ref(),
            ],
        ),
        (
            "download-missing",
            vec![
                "download".as_ref(),
                missing.as_ref(),
                "--output".as_ref(),
                out.as_ref(),
            ],
        ),
    ];
    for (name, args) in cases {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args)
            .args(["--listen", &local(free_port()).to_string()]);
        let id = lab.spawn(name, cmd);
        let st = lab.wait_exit(id);
        let err = lab.stderr(id);
        lab.check(st.code().is_some_and(|c| c != 0), || {
            format!("{name}: want a non-zero exit status, got {st}")
        });
        lab.check(err.lines().count() == 1, || {
            format!("{name}: want one line on stderr, got {err:?}")
        });
        lab.check(err.starts_with("kamaelia-torrent: "), || {
            format!("{name}: stderr {err:?}")
        });
        lab.check(!err.contains("panicked"), || format!("{name}: {err:?}"));
    }
    lab.check(!out.join("small.bin").exists(), || {
        "a refused download wrote data".into()
    });
}
