//! `kamaelia-torrent demo`: a whole swarm on 127.0.0.1 in one process. Our tracker, one seeder
//! and N downloaders, each peer with its own scheduler (so its own TorrentService and
//! TorrentClient, as separate programs would have), built the way a library user builds them:
//!
//! ```text
//!   per peer:   main ──TIPCCreateNewTorrent──> TorrentPatron ──replies, status──> Reporter ──> (this thread)
//! ```
//!
//! The payload is made here (deterministic pseudo-random bytes), the .torrent by TorrentMaker.
//! Progress is shown live; at the end every copy is compared with the original by SHA-1.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kamaelia_torrent::axon::{self, BoxSpec, Component, ComponentResult, Ctx};

use super::progress::{bar, percent};
use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
use kamaelia_torrent::ipc::{
    TIPCCreateNewTorrent, TIPCTorrentStartFail, TIPCTorrentStatusUpdate, TorrentState, TorrentStats,
};
use kamaelia_torrent::maker::TorrentMaker;
use kamaelia_torrent::patron::TorrentPatron;
use kamaelia_torrent::random::Rng;
use kamaelia_torrent::tracker::server::Tracker;
use sha1::{Digest, Sha1};

use super::CliResult;

/// What a peer's reporter tells the main thread.
enum Report {
    Status(usize, TorrentStats),
    Failed(usize, String),
    /// A snapshot of a downloader's running graph, taken half-way, and how far it had got
    /// when it was taken (a fast download may pass half-way between two status updates).
    Graph(axon::Topology, f64),
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Replies and status updates from the TorrentPatron"),
    BoxSpec::new("control", "Not used"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Not used"),
    BoxSpec::new("signal", "Stops the TorrentPatron at the end of the demo"),
];

/// How often each peer reports its status.
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// Passes one peer's status to the main thread; stops its patron when the demo ends.
struct Reporter {
    index: usize,
    /// Take a snapshot of the graph half-way through the download.
    snapshot: bool,
    to_main: mpsc::Sender<Report>,
    stop: Arc<AtomicBool>,
}

impl Component for Reporter {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut snapshot = self.snapshot;
        while !self.stop.load(Ordering::SeqCst) {
            while let Ok(m) = ctx.recv("inbox") {
                let report = if let Some(u) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
                    if snapshot && u.stats.fraction_done >= 0.5 {
                        snapshot = false;
                        let graph = Report::Graph(ctx.topology(), u.stats.fraction_done);
                        let _ = self.to_main.send(graph);
                    }
                    Report::Status(self.index, u.stats.clone())
                } else if let Some(f) = m.downcast_ref::<TIPCTorrentStartFail>() {
                    Report::Failed(self.index, f.reason.clone())
                } else {
                    continue;
                };
                let _ = self.to_main.send(report);
            }
            ctx.wake_at(Instant::now() + Duration::from_millis(100));
            ctx.pause();
            ctx.yield_now().await;
        }
        ctx.send(axon::ipc::ProducerFinished::default(), "signal")?;
        Ok(())
    }
}

/// Runs one peer on its own thread and scheduler until `stop` is set.
fn peer(
    index: usize,
    torrent: Vec<u8>,
    folder: PathBuf,
    to_main: mpsc::Sender<Report>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        let sched = axon::Scheduler::new();
        let root = sched.root();
        let config = ClientConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            save_folder: folder.clone(),
            status_interval: STATUS_EVERY,
            ..ClientConfig::default()
        };
        let patron = root.create(TorrentPatron::new(TorrentClient::factory(config)));
        let reporter = root.create(Reporter {
            index,
            snapshot: index == 1,
            to_main,
            stop,
        });
        let link = |r: Result<axon::Linkage, axon::Error>| r.map_err(|e| e.to_string());
        link(root.link((root.id(), "outbox"), (patron, "inbox")))?;
        link(root.link((patron, "outbox"), (reporter, "inbox")))?;
        link(root.link((reporter, "signal"), (patron, "control")))?;
        root.activate(patron).map_err(|e| e.to_string())?;
        root.activate(reporter).map_err(|e| e.to_string())?;
        root.send(
            TIPCCreateNewTorrent {
                raw_metainfo: torrent,
                save_folder: Some(folder),
            },
            "outbox",
        )
        .map_err(|e| e.to_string())?;
        let report = sched.run();
        match report.failures.first() {
            Some(f) => Err(format!("{} failed: {}", f.component, f.error)),
            None => Ok(()),
        }
    })
}

/// The error of work cut short by Ctrl-C.
fn interrupted_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted")
}

/// Deterministic pseudo-random bytes, written in 1 MiB pieces; stops early if `interrupted`
/// is set.
fn write_payload(path: &Path, mib: u64, interrupted: &AtomicBool) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = Rng::new(0x4b61_6d61_656c_6961); // "Kamaelia"
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        if interrupted.load(Ordering::SeqCst) {
            return Err(interrupted_error());
        }
        rng.fill(&mut buf);
        f.write_all(&buf)?;
    }
    f.flush()
}

/// The SHA-1 of a file, in hex; stops early if `interrupted` is set.
fn sha1_of(path: &Path, interrupted: &AtomicBool) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Err(interrupted_error());
        }
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One row of the live display, at most 79 columns (so an 80-column terminal does not wrap
/// it and the redraw stays in place): "downloader 32: [##############] 100.0%  down 1234.5
/// up 1234.5 MiB/s  peers 32". A downloader that is done shows how long it took and its
/// average rate instead (a live rate counts at least a second, so it understates a download
/// shorter than one, and after the end it only falls).
fn row(index: usize, s: Option<&TorrentStats>, done: Option<(Duration, u64)>) -> String {
    let who = if index == 0 {
        "seeder".to_string()
    } else {
        format!("downloader {index}")
    };
    match (s, done) {
        (None, _) => format!("{who:>13}: starting"),
        // The seeder only sends: what it has sent in all says more than its rate at the end.
        (Some(s), _) if index == 0 => format!(
            "{who:>13}: {:<16} up {:6.1} MiB/s  sent {:>10}  peers {}",
            if s.state == TorrentState::Seeding {
                "seeding"
            } else {
                "checking"
            },
            s.up_rate / 1048576.0,
            amount(s.up_total),
            s.num_peers
        ),
        (Some(s), Some((took, size_mib))) => format!(
            "{who:>13}: {} {:5.1}%  done in {:.2} s, {:.1} MiB/s",
            bar(s.fraction_done, 14),
            percent(s.fraction_done),
            took.as_secs_f64(),
            size_mib as f64 / took.as_secs_f64().max(0.001)
        ),
        (Some(s), None) => format!(
            "{who:>13}: {} {:5.1}%  down {:6.1}  up {:6.1} MiB/s  peers {}",
            bar(s.fraction_done, 14),
            percent(s.fraction_done),
            s.down_rate / 1048576.0,
            s.up_rate / 1048576.0,
            s.num_peers
        ),
    }
}

/// `bytes` in MiB, or in GiB from 1,000 MiB on: at most 10 columns for any demo.
fn amount(bytes: u64) -> String {
    let mib = bytes as f64 / 1048576.0;
    if mib < 1000.0 {
        format!("{mib:.1} MiB")
    } else {
        format!("{:.1} GiB", mib / 1024.0)
    }
}

/// Removes the demo's folder (unless `--keep`) and a `--dot` file made empty at the start but
/// never written, however the demo ends.
struct Cleanup {
    dir: PathBuf,
    keep: bool,
    unwritten_dot: Option<PathBuf>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if let Some(dot) = &self.unwritten_dot {
            let _ = std::fs::remove_file(dot);
        }
    }
}

/// Summarises a downloader's graph (components by kind, linkages) and writes it as Graphviz
/// dot if asked.
fn describe_graph(t: &axon::Topology, done: f64, dot: Option<&Path>) -> CliResult {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &t.components {
        // Names are "<Label>_<n>"; count by label.
        let label = c.name.rsplit_once('_').map_or(c.name.as_str(), |(l, _)| l);
        *kinds.entry(label.to_string()).or_default() += 1;
    }
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "downloader 1 at {:.0}%: {} components ({}), {} linkages",
        done * 100.0,
        t.components.len(),
        parts.join(", "),
        t.linkages.len()
    );
    if let Some(path) = dot {
        std::fs::write(path, t.to_dot())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("its graph, in Graphviz's dot: {}", path.display());
    }
    Ok(())
}

pub fn demo(peers: usize, size_mib: u64, keep: bool, dot: Option<PathBuf>) -> CliResult {
    if peers == 0 || peers > 32 {
        return Err("--peers must be from 1 to 32".into());
    }
    if size_mib == 0 || size_mib > 16 * 1024 {
        return Err("--size must be from 1 to 16384 MiB".into());
    }
    // Before the long run: can the graph be written where asked?
    let mut made_dot = None;
    if let Some(path) = &dot {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if !existed {
            made_dot = Some(path.clone());
        }
    }
    // Ctrl-C (or SIGTERM) ends the demo early, always through the cleanup below.
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot catch signals: {e}"))?;
    let dir = std::env::temp_dir().join(format!("kamaelia-torrent-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        keep,
        unwritten_dot: made_dot,
    };
    let stopped = || {
        format!(
            "interrupted; {} {}",
            if keep { "kept" } else { "removed" },
            dir.display()
        )
    };
    let seed_dir = dir.join("seeder");
    std::fs::create_dir_all(&seed_dir)
        .map_err(|e| format!("cannot make {}: {e}", seed_dir.display()))?;
    let name = "kamaelia-demo.bin";
    let original = seed_dir.join(name);
    println!(
        "demo: {size_mib} MiB payload, 1 seeder, {peers} downloader(s), in {}",
        dir.display()
    );
    write_payload(&original, size_mib, &interrupted).map_err(|e| {
        if interrupted.load(Ordering::SeqCst) {
            stopped()
        } else {
            format!("cannot write {}: {e}", original.display())
        }
    })?;

    // Our tracker, on its own scheduler.
    let (tx, rx) = mpsc::channel();
    let tracker_thread = std::thread::spawn(move || {
        let sched = axon::Scheduler::new();
        match Tracker::new().server(SocketAddr::from(([127, 0, 0, 1], 0))) {
            Ok((server, addr)) => {
                sched.spawn(server);
                let _ = tx.send(Ok((addr, sched.stop_handle())));
                sched.run();
            }
            Err(e) => {
                let _ = tx.send(Err(format!("cannot start the tracker: {e}")));
            }
        }
    });
    let (tracker_addr, tracker_stop) = rx
        .recv()
        .map_err(|_| "the tracker's thread ended".to_string())??;
    let announce = format!("http://{tracker_addr}/announce");
    println!("tracker: {announce}");

    let started = Instant::now();
    let maker = TorrentMaker::new(&announce);
    let torrent = maker
        .make(&maker.request_for(original.clone()))
        .map_err(|e| format!("cannot make the torrent: {e}"));
    let torrent = match torrent {
        Ok(t) if !interrupted.load(Ordering::SeqCst) => t,
        other => {
            tracker_stop.stop();
            let _ = tracker_thread.join();
            return Err(other.err().unwrap_or_else(stopped).into());
        }
    };
    println!(
        "TorrentMaker: {} bytes of .torrent in {:.2} s",
        torrent.len(),
        started.elapsed().as_secs_f64()
    );

    // Tells every peer to stop (at the end, or on Ctrl-C).
    let stop = Arc::new(AtomicBool::new(false));
    let (to_main, from_peers) = mpsc::channel();
    let mut threads = vec![peer(
        0,
        torrent.clone(),
        seed_dir,
        to_main.clone(),
        stop.clone(),
    )];
    let folders: Vec<PathBuf> = (1..=peers)
        .map(|i| dir.join(format!("downloader-{i}")))
        .collect();
    for (i, folder) in folders.iter().enumerate() {
        threads.push(peer(
            i + 1,
            torrent.clone(),
            folder.clone(),
            to_main.clone(),
            stop.clone(),
        ));
    }
    drop(to_main);

    let tty = std::io::stdout().is_terminal();
    let mut latest: Vec<Option<TorrentStats>> = vec![None; peers + 1];
    // When each downloader was done.
    let mut finished: Vec<Option<Duration>> = vec![None; peers + 1];
    let mut failure = None;
    let mut last_print = Instant::now();
    let mut printed_lines = 0;
    let download_start = Instant::now();
    let mut done_at = None;
    let mut graph: Option<(axon::Topology, f64)> = None;
    // Once every downloader is done, the last frame waits (a little) for the seeder's status
    // from after that, so that it shows what the seeder sent in all.
    let mut last_frame: Option<Instant> = None;
    // Seeder statuses since then: the first may have been made before the last downloader
    // finished (each peer reports from its own thread), the second was not.
    let mut seeder_updates = 0;
    while done_at.is_none() && failure.is_none() && !interrupted.load(Ordering::SeqCst) {
        match from_peers.recv_timeout(Duration::from_millis(50)) {
            Ok(Report::Status(i, s)) => {
                if i == 0 && last_frame.is_some() {
                    seeder_updates += 1;
                }
                if i > 0 && s.state == TorrentState::Seeding && finished[i].is_none() {
                    finished[i] = Some(download_start.elapsed());
                }
                if s.state == TorrentState::Stopped {
                    let why = s.error.as_deref().unwrap_or("its torrent stopped");
                    failure = Some(format!("peer {i}: {why}"));
                }
                latest[i] = Some(s)
            }
            Ok(Report::Failed(i, why)) => failure = Some(format!("peer {i}: {why}")),
            Ok(Report::Graph(t, done)) => graph = Some((t, done)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                failure = Some("every peer ended early".to_string())
            }
        }
        let all_done = latest[1..]
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| s.state == TorrentState::Seeding));
        if all_done && last_frame.is_none() {
            last_frame = Some(Instant::now() + 2 * STATUS_EVERY + Duration::from_millis(100));
        }
        let frame_now = last_frame.is_some_and(|t| seeder_updates >= 2 || Instant::now() >= t);
        if frame_now {
            done_at = finished[1..].iter().flatten().max().copied();
        }
        if frame_now
            || (last_frame.is_none()
                && last_print.elapsed() >= Duration::from_millis(if tty { 250 } else { 2000 }))
        {
            last_print = Instant::now();
            if tty && printed_lines > 0 {
                print!("\x1b[{printed_lines}A");
            }
            printed_lines = 0;
            for (i, s) in latest.iter().enumerate() {
                let line = row(i, s.as_ref(), finished[i].map(|t| (t, size_mib)));
                if tty {
                    println!("{line}\x1b[K");
                } else {
                    println!("{line}");
                }
                printed_lines += 1;
            }
            if !tty {
                println!();
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some("a peer's thread panicked".to_string())),
        }
    }
    tracker_stop.stop();
    let _ = tracker_thread.join();
    let took = match (failure, done_at) {
        (None, Some(took)) => took,
        (None, None) if interrupted.load(Ordering::SeqCst) => return Err(stopped().into()),
        (failure, _) => return Err(failure.unwrap_or_else(stopped).into()),
    };
    println!(
        "all {peers} downloader(s) complete in {:.2} s ({:.1} MiB/s each on average)",
        took.as_secs_f64(),
        size_mib as f64 / took.as_secs_f64()
    );
    let unless_stopped = |e: std::io::Error, what: String| {
        if interrupted.load(Ordering::SeqCst) {
            stopped()
        } else {
            format!("{what} ({e})")
        }
    };
    let want = sha1_of(&original, &interrupted)
        .map_err(|e| unless_stopped(e, format!("cannot read {}", original.display())))?;
    let mut bad = 0;
    for (i, folder) in folders.iter().enumerate() {
        let copy = folder.join(name);
        let got = match sha1_of(&copy, &interrupted) {
            Ok(got) => got,
            Err(_) if interrupted.load(Ordering::SeqCst) => return Err(stopped().into()),
            Err(e) => format!("unreadable ({e})"),
        };
        let ok = got == want;
        bad += usize::from(!ok);
        println!(
            "downloader {}: {} {}",
            i + 1,
            got,
            if ok {
                "matches the original"
            } else {
                "DIFFERS"
            }
        );
    }
    // Downloader 1 reports its graph before the status that shows it done, so there is one.
    if let Some((t, done)) = &graph {
        describe_graph(t, *done, dot.as_deref())?;
        cleanup.unwritten_dot = None;
    }
    if keep {
        println!("kept {}", dir.display());
    }
    if bad > 0 {
        return Err(format!("{bad} cop(ies) differ from the original").into());
    }
    println!("every copy matches (sha1 {want})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(
        state: TorrentState,
        fraction: f64,
        rate: f64,
        total: u64,
        peers: u32,
    ) -> TorrentStats {
        TorrentStats {
            down_rate: rate,
            up_rate: rate,
            down_total: total,
            up_total: total,
            num_peers: peers,
            num_seeds: peers,
            state,
            ..TorrentStats::downloading(fraction)
        }
    }

    #[test]
    fn every_row_fits_in_79_columns_at_the_widest() {
        let fast = 9999.9 * 1048576.0;
        let most_sent = 16 * 1024 * 32 * 1048576u64; // --size 16384 --peers 32, once each
        let rows = [
            row(
                0,
                Some(&stats(TorrentState::Seeding, 1.0, fast, most_sent, 32)),
                None,
            ),
            row(
                0,
                Some(&stats(TorrentState::Checking, 0.5, 0.0, 0, 0)),
                None,
            ),
            row(
                32,
                Some(&stats(TorrentState::Downloading, 0.5, fast, 0, 32)),
                None,
            ),
            row(
                32,
                Some(&stats(TorrentState::Seeding, 1.0, 0.0, 0, 0)),
                Some((Duration::from_secs(99_999), 16384)),
            ),
            row(32, None, None),
        ];
        for r in rows {
            assert!(
                r.chars().count() <= 79,
                "{} columns: {r}",
                r.chars().count()
            );
        }
        assert_eq!(amount(64 << 20), "64.0 MiB");
        assert_eq!(amount(2000 << 20), "2.0 GiB");
    }
}
