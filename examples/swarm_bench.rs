//! Swarm speed: one seeder and N leechers of the same payload on 127.0.0.1, our
//! `kamaelia-torrent seed`/`download` beside aria2c seeding to aria2c, in the same run.
//!
//! ```text
//! cargo run --release --example swarm_bench -- --size 1024 --peers 1
//! cargo run --release --example swarm_bench -- --size 256 --peers 8
//! cargo run --release --example swarm_bench -- --size 64 --only aria2c
//! ```
//! Options: `--size <MiB>` (default 1024), `--peers <N>` leechers (default 1),
//! `--only ours|aria2c`, `--piece-size <BYTES>` (default 262144), `--timeout <SECS>` per case
//! (default 900), `--rounds <N>` (default 5), `--keep` (keep the temporary folder),
//! `--ours-bin <PATH>` (run this `kamaelia-torrent` instead of building it: to compare two
//! builds, one run each, alternating).
//!
//! It builds `kamaelia-torrent` (release) first, makes a payload of pseudo-random bytes and its
//! .torrent (`kamaelia-torrent make`) in a folder under the system's temporary folder, and for
//! each case starts a fresh `kamaelia-torrent tracker`, the seeder (waited for until the tracker
//! counts it), then the N leechers all at once. Measures, one line per case:
//!
//! - `seconds`: wall time from starting the leechers until the last one has exited 0;
//!   `mib_per_s` = size * N / seconds; `first_done_s`: until the first one had.
//! - `cpu_s` = `leecher_cpu_s` + `seeder_cpu_s`: user+system CPU from `/proc/<pid>/stat`.
//!   A leecher's is read once it is a zombie (exited, not yet reaped: the kernel still has its
//!   final times); the seeder's is what it used while the leechers ran (its start-up check of
//!   the data is left out).
//! - `leecher_peak_rss_kib`: the largest `VmHWM` of any leecher, polled from
//!   `/proc/<pid>/status` every 50 ms while it runs.
//!
//! Then every leecher's data is checked (size and the SHA-1 of every piece against the
//! .torrent) and removed. Before each case, as much memory as every copy of the swarm
//! together (at most what the system has spare) is written, and given back bit by bit as the
//! case's leechers use memory, so that both clients write their page cache on memory as warm
//! as the other's (on this virtual machine, memory freed a few seconds ago is cold again and
//! costs several times as much to touch: see `Warm`).
//! The cases run in rounds, ours first in odd rounds and aria2c first in even ones, each
//! line marked `round=<r>`. Last line:
//! `swarm-bench ratio ours/aria2c=<median over rounds of ours mib_per_s / aria2c's>`
//! with the CPU and memory ratios. aria2c's flags: loopback only, no DHT/LPD/PEX, `-V` and
//! `--seed-ratio=0.0` for the seeder, `--seed-time=0` for leechers (the same as the interop
//! tests'); it has no UPnP or NAT-PMP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kamaelia::torrent::files::FileSet;
use kamaelia::torrent::metainfo::Metainfo;

const USAGE: &str = "usage: swarm_bench [--size <MiB>] [--peers <N>] [--only ours|aria2c] \
                     [--piece-size <BYTES>] [--timeout <SECS>] [--rounds <N>] [--keep] \
                     [--ours-bin <PATH>]";

#[path = "../kamaelia-torrent/tests/common/aria2c_flags.rs"]
mod aria2c_flags;
use aria2c_flags::ARIA2C_FLAGS;

#[path = "../kamaelia-torrent/tests/common/ports.rs"]
mod ports;
use ports::free_port;

struct Args {
    size_mib: u64,
    peers: usize,
    only: Option<Impl>,
    piece: u64,
    timeout: Duration,
    keep: bool,
    rounds: usize,
    ours_bin: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    Ours,
    Aria2c,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Aria2c => "aria2c",
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("swarm_bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        size_mib: 1024,
        peers: 1,
        only: None,
        piece: 1 << 18,
        timeout: Duration::from_secs(900),
        keep: false,
        rounds: 5,
        ours_bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs {what}")))
        };
        match flag.as_str() {
            "--size" => {
                a.size_mib = value("a size in MiB")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --size"))
            }
            "--peers" => {
                a.peers = value("a count")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --peers"))
            }
            "--piece-size" => {
                a.piece = value("a size in bytes")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --piece-size"))
            }
            "--timeout" => {
                a.timeout = Duration::from_secs(
                    value("seconds")
                        .parse()
                        .unwrap_or_else(|_| usage("bad --timeout")),
                )
            }
            "--only" => {
                a.only = Some(match value("ours or aria2c").as_str() {
                    "ours" => Impl::Ours,
                    "aria2c" => Impl::Aria2c,
                    other => usage(&format!("--only {other}: want ours or aria2c")),
                })
            }
            "--keep" => a.keep = true,
            "--ours-bin" => a.ours_bin = Some(PathBuf::from(value("a path"))),
            "--rounds" => {
                a.rounds = value("a count")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --rounds"))
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.size_mib == 0 || a.peers == 0 || a.rounds == 0 {
        usage("--size, --peers and --rounds must be at least 1");
    }
    a
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Builds `kamaelia-torrent` in release and returns its path beside this example's folder
/// (`target/release/examples/swarm_bench` -> `target/release/kamaelia-torrent`).
fn build_ours() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "kamaelia-torrent",
            "--bin",
            "kamaelia-torrent",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of kamaelia-torrent failed");
    let exe = std::env::current_exe().expect("where this example is");
    let release = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/release/examples/swarm_bench");
    let bin = release.join("kamaelia-torrent");
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// Writes `mib` MiB of pseudo-random bytes to `path`.
fn make_payload(path: &Path, mib: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create payload"));
    let mut rng = kamaelia::torrent::random::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        rng.fill(&mut block);
        f.write_all(&block).expect("write payload");
    }
    f.flush().expect("flush payload");
}

/// Page cache written before a case and given back bit by bit as the case's leechers use
/// memory, so that the page cache they write lands on memory the host has just backed.
///
/// This machine is a virtual machine whose kernel hands freed memory back to the host (free
/// page reporting, in blocks of 2 MiB and more, about two seconds after it is freed); the
/// first write to such memory costs several times a later one. Each case writes every copy
/// of the swarm into fresh page cache, so its speed depended on how warm the memory it got
/// was: the first case of a run paid for the machine's first touch alone. Measured with 2 GiB
/// written into a file in 1 MiB writes (`/tmp`, ext4): 3.3 s of system time on memory idle
/// for a few seconds; 0.35 s when the same is written again just after the first file is
/// deleted; 1.8 s after 2.3 GiB of anonymous memory is written and freed instead (this
/// harness's warm-up until 2026-12-06, which left the swarm at 3.5 or 5 CPU-seconds
/// depending on the machine's mood); 0.33 s after a 2.3 GiB file is written and deleted.
/// So the warm-up is a file in the bench's folder, written and flushed to disk before the
/// case (so that no writeback of it runs during the case), and cut short
/// [`WARM_SLICE_MIB`] at a time by [`Warm::keep_ahead`], which keeps what it has given back
/// and the system has not yet taken [`WARM_AHEAD_MIB`] ahead, for both clients alike.
struct Warm {
    /// `None` if the file could not be written (the case then runs without a warm-up).
    file: Option<std::fs::File>,
    path: PathBuf,
    /// MiB still in the file.
    left_mib: u64,
    /// KiB given back since `start`.
    given_kib: u64,
    /// `MemFree` at `start`, KiB.
    free_at_start: Option<u64>,
}

/// How much of the warm-up is given back at a time.
const WARM_SLICE_MIB: u64 = 64;

/// How far what is given back stays ahead of what the leechers have taken.
const WARM_AHEAD_MIB: u64 = 256;

impl Warm {
    /// Writes `mib` MiB into a file in `dir` and flushes it to disk.
    fn new(dir: &Path, mib: u64) -> Warm {
        let path = dir.join("warm-up.bin");
        let write = || -> std::io::Result<std::fs::File> {
            let mut file = std::fs::File::create(&path)?;
            let block = vec![1u8; 1 << 20];
            for _ in 0..mib {
                file.write_all(&block)?;
            }
            file.sync_data()?;
            Ok(file)
        };
        let file = write()
            .map_err(|e| {
                eprintln!("swarm-bench: no warm-up: {}: {e}", path.display());
                // Whatever was written would take the disk space the case needs.
                let _ = std::fs::remove_file(&path);
            })
            .ok();
        Warm {
            left_mib: if file.is_some() { mib } else { 0 },
            file,
            path,
            given_kib: 0,
            free_at_start: None,
        }
    }

    /// Call as the leechers start: gives back the first [`WARM_AHEAD_MIB`].
    fn start(&mut self) {
        self.free_at_start = meminfo_kib("MemFree:");
        self.keep_ahead();
    }

    /// Cuts the file short until what was given back is [`WARM_AHEAD_MIB`] ahead of what
    /// the system has taken since [`start`](Self::start).
    fn keep_ahead(&mut self) {
        if self.left_mib == 0 {
            return; // all given back: no need to read /proc/meminfo each round
        }
        let (Some(at_start), Some(now)) = (self.free_at_start, meminfo_kib("MemFree:")) else {
            // No /proc/meminfo: give it all back now.
            self.cut_to(0);
            return;
        };
        let taken = (at_start + self.given_kib).saturating_sub(now);
        let want = taken + (WARM_AHEAD_MIB << 10);
        if self.given_kib < want && self.left_mib > 0 {
            let slices = (want - self.given_kib).div_ceil(WARM_SLICE_MIB << 10);
            self.cut_to(self.left_mib.saturating_sub(slices * WARM_SLICE_MIB));
        }
    }

    fn cut_to(&mut self, mib: u64) {
        let Some(file) = &self.file else { return };
        if mib < self.left_mib && file.set_len(mib << 20).is_ok() {
            self.given_kib += (self.left_mib - mib) << 10;
            self.left_mib = mib;
        }
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A field of /proc/meminfo, in KiB.
fn meminfo_kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The median of `xs` (the mean of the two middle values for an even count); `xs` not empty.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// How much memory the warm-up may take: what the system has available, less the payload
/// (kept in the page cache for the seeders) and 1 GiB, so that it never pushes the machine
/// into reclaim.
fn spare_mib(payload_mib: u64) -> u64 {
    let available_kib = meminfo_kib("MemAvailable:").unwrap_or(0);
    (available_kib / 1024).saturating_sub(payload_mib + 1024)
}

/// Clock ticks per second, for /proc's CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's state letter and user+system CPU ticks, from /proc/<pid>/stat.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    let state = f.first()?.chars().next()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((state, ticks))
}

/// A process's peak resident set (VmHWM) in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).replace('\r', "\n"))
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {}\n", l.chars().take(300).collect::<String>()))
        .collect()
}

/// One program started by the bench, its output going to files.
struct Proc {
    name: String,
    child: Child,
    logs: Vec<PathBuf>,
    status: Option<ExitStatus>,
}

/// The bench's programs and folder: every program is killed and reaped when it is dropped
/// (also on a panic), and the folder removed unless `--keep`.
struct Fleet {
    dir: PathBuf,
    procs: Vec<Proc>,
    keep: bool,
}

impl Fleet {
    fn spawn(&mut self, name: &str, mut cmd: Command, mut logs: Vec<PathBuf>) -> usize {
        let out = self.dir.join(format!("logs/{name}.out"));
        let err = self.dir.join(format!("logs/{name}.err"));
        let file = |p: &Path| std::fs::File::create(p).expect("create a log file");
        cmd.stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        logs.splice(0..0, [out, err]);
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            logs,
            status: None,
        });
        self.procs.len() - 1
    }

    fn pid(&self, i: usize) -> u32 {
        self.procs[i].child.id()
    }

    fn stdout(&self, i: usize) -> String {
        std::fs::read(&self.procs[i].logs[0])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn status(&mut self, i: usize) -> Option<ExitStatus> {
        let p = &mut self.procs[i];
        if p.status.is_none() {
            p.status = p.child.try_wait().ok().flatten();
        }
        p.status
    }

    fn reap(&mut self, i: usize) -> Option<ExitStatus> {
        let p = &mut self.procs[i];
        if p.status.is_none() {
            p.status = p.child.wait().ok();
        }
        p.status
    }

    fn kill(&mut self, i: usize) {
        if self.procs[i].status.is_none() {
            let _ = self.procs[i].child.kill();
            self.reap(i);
        }
    }

    fn kill_all(&mut self) {
        for i in 0..self.procs.len() {
            self.kill(i);
        }
    }

    /// The tails of the output of the programs `from..`.
    fn tails(&self, from: usize) -> String {
        let mut s = String::new();
        for p in &self.procs[from..] {
            s += &format!("=== {} (pid {})\n", p.name, p.child.id());
            for log in &p.logs {
                let t = tail(log, 15);
                if !t.is_empty() {
                    s += &format!("  --- {}:\n{t}", log.display());
                }
            }
        }
        s
    }

    /// Waits until `ready()` holds, failing if program `i` ends first or `limit` passes.
    fn wait(
        &mut self,
        i: usize,
        what: &str,
        limit: Duration,
        ready: impl Fn(&Fleet) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while !ready(self) {
            if let Some(st) = self.status(i) {
                return Err(format!("{} ended ({st}) before {what}", self.procs[i].name));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not get to {what} in time",
                    self.procs[i].name
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.kill_all();
        if self.keep {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `complete` count of a tracker's scrape for `hash`.
fn scrape_complete(port: u16, hash: &[u8; 20]) -> Option<u64> {
    let mut s = TcpStream::connect_timeout(&local(port), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let q: String = hash.iter().map(|b| format!("%{b:02x}")).collect();
    let req = format!("GET /scrape?info_hash={q} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let at = text.find("8:completei")? + "8:completei".len();
    text[at..].split('e').next()?.parse().ok()
}

/// What one case measured.
struct CaseResult {
    seconds: f64,
    /// When the first leecher was done.
    first_seconds: f64,
    leecher_cpu_s: f64,
    seeder_cpu_s: f64,
    peak_rss_kib: u64,
}

impl CaseResult {
    fn cpu_s(&self) -> f64 {
        self.leecher_cpu_s + self.seeder_cpu_s
    }
}

/// Everything a case needs to know.
struct Setup {
    bin: PathBuf,
    dir: PathBuf,
    torrent: PathBuf,
    meta: Metainfo,
    tracker_port: u16,
    peers: usize,
    timeout: Duration,
    ticks: f64,
}

/// A leecher being watched.
struct Watch {
    proc: usize,
    pid: u32,
    ticks: u64,
    peak_kib: u64,
    done: bool,
}

/// Fails unless program `i` (reaped) exited 0.
fn check_exit(fleet: &Fleet, i: usize) -> Result<(), String> {
    match fleet.procs[i].status {
        Some(st) if st.success() => Ok(()),
        Some(st) => Err(format!("{} failed: {st}", fleet.procs[i].name)),
        None => Err(format!("{} ended, status unknown", fleet.procs[i].name)),
    }
}

fn run_case(fleet: &mut Fleet, s: &Setup, which: Impl, warm: Warm) -> Result<CaseResult, String> {
    let tag = which.name();
    let first = fleet.procs.len();
    let result = run_case_inner(fleet, s, which, warm);
    // Stop this case's seeder and tracker (the leechers have ended).
    for i in first..fleet.procs.len() {
        fleet.kill(i);
    }
    result.map_err(|e| format!("case {tag}: {e}\n{}", fleet.tails(first)))
}

fn run_case_inner(
    fleet: &mut Fleet,
    s: &Setup,
    which: Impl,
    mut warm: Warm,
) -> Result<CaseResult, String> {
    let tag = which.name();
    let name = &s.meta.info.name;
    let hash = &s.meta.info_hash.0;
    // A fresh tracker per case (on the port the .torrent names), so that the seeder count
    // below is this case's seeder.
    let mut cmd = Command::new(&s.bin);
    cmd.args(["tracker", "--listen", &local(s.tracker_port).to_string()]);
    let tracker = fleet.spawn(&format!("{tag}-tracker"), cmd, vec![]);
    let port = s.tracker_port;
    fleet.wait(tracker, "listening", Duration::from_secs(10), |_| {
        TcpStream::connect(local(port)).is_ok()
    })?;

    let seed_port = free_port();
    let seeder = match which {
        Impl::Ours => {
            let mut cmd = Command::new(&s.bin);
            cmd.arg("seed")
                .arg(&s.torrent)
                .arg("--data")
                .arg(s.dir.join("seed"))
                .args(["--listen", &local(seed_port).to_string()]);
            let i = fleet.spawn("ours-seed", cmd, vec![]);
            fleet.wait(i, "seeding", s.timeout, |f| {
                f.stdout(i).to_lowercase().contains("seeding")
            })?;
            i
        }
        Impl::Aria2c => {
            let log = s.dir.join("logs/aria2c-seed.log");
            let mut cmd = Command::new("aria2c");
            cmd.args(ARIA2C_FLAGS)
                .arg(format!("--listen-port={seed_port}"))
                .arg(format!("--dir={}", s.dir.join("seed").display()))
                .arg(format!("--log={}", log.display()))
                .args([
                    "--log-level=notice",
                    "--check-integrity=true",
                    "--seed-ratio=0.0",
                ])
                .arg(&s.torrent);
            let i = fleet.spawn("aria2c-seed", cmd, vec![log]);
            fleet.wait(i, "listening after its check", s.timeout, |f| {
                f.stdout(i).contains("listening on TCP port")
            })?;
            i
        }
    };
    fleet.wait(seeder, "being counted by the tracker", s.timeout, |_| {
        scrape_complete(port, hash).unwrap_or(0) >= 1
    })?;

    let seeder_pid = fleet.pid(seeder);
    let seeder_start = proc_stat(seeder_pid).map(|x| x.1).unwrap_or(0);
    warm.start();
    let start = Instant::now();
    let mut watches = Vec::new();
    for n in 0..s.peers {
        let out = s.dir.join(format!("{tag}-leech-{n}"));
        let lport = free_port();
        let pname = format!("{tag}-leech-{n}");
        let i = match which {
            Impl::Ours => {
                let mut cmd = Command::new(&s.bin);
                cmd.arg("download")
                    .arg(&s.torrent)
                    .arg("--output")
                    .arg(&out)
                    .args(["--listen", &local(lport).to_string()]);
                fleet.spawn(&pname, cmd, vec![])
            }
            Impl::Aria2c => {
                let log = s.dir.join(format!("logs/{pname}.log"));
                let mut cmd = Command::new("aria2c");
                cmd.args(ARIA2C_FLAGS)
                    .arg(format!("--listen-port={lport}"))
                    .arg(format!("--dir={}", out.display()))
                    .arg(format!("--log={}", log.display()))
                    .args(["--log-level=notice", "--seed-time=0"])
                    .arg(&s.torrent);
                fleet.spawn(&pname, cmd, vec![log])
            }
        };
        watches.push(Watch {
            proc: i,
            pid: fleet.pid(i),
            ticks: 0,
            peak_kib: 0,
            done: false,
        });
    }

    // Poll every 5 ms: /proc/<pid>/stat for the state (a zombie has exited: its times are
    // final, so read them, then reap it), VmHWM every 50 ms.
    let mut end = start;
    let mut first_end = None;
    let mut round = 0u64;
    while watches.iter().any(|w| !w.done) {
        warm.keep_ahead();
        for w in watches.iter_mut().filter(|w| !w.done) {
            if round % 10 == 0 {
                if let Some(k) = peak_rss_kib(w.pid) {
                    w.peak_kib = w.peak_kib.max(k);
                }
            }
            // Ended: a zombie, or gone without our reaping it (should not happen; no spin).
            let ended = match proc_stat(w.pid) {
                Some((state, ticks)) => {
                    w.ticks = ticks;
                    state == 'Z' || state == 'X'
                }
                None => true,
            };
            if ended {
                fleet.reap(w.proc);
                w.done = true;
                end = Instant::now();
                first_end.get_or_insert(end);
                check_exit(fleet, w.proc)?;
            }
        }
        if start.elapsed() > s.timeout {
            return Err(format!(
                "the leechers did not finish within {:?}",
                s.timeout
            ));
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = end.duration_since(start).as_secs_f64();
    let first_seconds = first_end.unwrap_or(end).duration_since(start).as_secs_f64();
    let seeder_end = proc_stat(seeder_pid).map(|x| x.1).unwrap_or(seeder_start);

    // Check every leecher's data: size, and the SHA-1 of every piece.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for n in 0..s.peers {
        let out = s.dir.join(format!("{tag}-leech-{n}"));
        let file = out.join(name);
        let (set, _) = FileSet::scan(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if set.total_length() != s.meta.info.total_length() {
            return Err(format!(
                "{}: {} bytes, want {}",
                file.display(),
                set.total_length(),
                s.meta.info.total_length()
            ));
        }
        let pieces = set
            .hash_pieces(s.meta.info.piece_length, threads)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if pieces != s.meta.info.pieces {
            let bad = pieces
                .iter()
                .zip(&s.meta.info.pieces)
                .filter(|(a, b)| a != b)
                .count();
            return Err(format!("{}: {bad} pieces differ", file.display()));
        }
        let _ = std::fs::remove_dir_all(&out);
    }

    Ok(CaseResult {
        seconds,
        first_seconds,
        leecher_cpu_s: watches.iter().map(|w| w.ticks).sum::<u64>() as f64 / s.ticks,
        seeder_cpu_s: seeder_end.saturating_sub(seeder_start) as f64 / s.ticks,
        peak_rss_kib: watches.iter().map(|w| w.peak_kib).max().unwrap_or(0),
    })
}

fn have_aria2c() -> bool {
    Command::new("aria2c")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn main() {
    let args = parse_args();
    let bin = args.ours_bin.clone().unwrap_or_else(build_ours);
    let dir = std::env::temp_dir().join(format!("swarm-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).expect("make the bench folder");
    std::fs::create_dir_all(dir.join("seed")).expect("make the bench folder");
    let mut fleet = Fleet {
        dir: dir.clone(),
        procs: Vec::new(),
        keep: args.keep,
    };

    let payload = dir.join("seed/payload.bin");
    let t = Instant::now();
    make_payload(&payload, args.size_mib);
    eprintln!(
        "swarm-bench: {} MiB payload made in {:.1} s",
        args.size_mib,
        t.elapsed().as_secs_f64()
    );
    let tracker_port = free_port();
    let torrent = dir.join("payload.torrent");
    let made = Command::new(&bin)
        .arg("make")
        .arg(&payload)
        .args([
            "--tracker",
            &format!("http://127.0.0.1:{tracker_port}/announce"),
            "--piece-size",
            &args.piece.to_string(),
            "--output",
        ])
        .arg(&torrent)
        .output()
        .expect("run kamaelia-torrent make");
    if !made.status.success() {
        eprintln!(
            "swarm-bench: make failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        drop(fleet);
        std::process::exit(1);
    }
    let meta = Metainfo::from_bytes(&std::fs::read(&torrent).expect("read the .torrent"))
        .expect("parse the .torrent");
    let setup = Setup {
        bin,
        dir,
        torrent,
        meta,
        tracker_port,
        peers: args.peers,
        timeout: args.timeout,
        ticks: clock_ticks(),
    };

    let mut cases = vec![Impl::Ours, Impl::Aria2c];
    if let Some(only) = args.only {
        cases.retain(|c| *c == only);
    }
    if cases.contains(&Impl::Aria2c) && !have_aria2c() {
        eprintln!("swarm-bench: skipping aria2c: it is not installed (apt-get install aria2)");
        cases.retain(|c| *c != Impl::Aria2c);
    }
    let mut results: Vec<(usize, Impl, CaseResult)> = Vec::new();
    let mut failed = false;
    let warm_mib = (args.size_mib * (args.peers as u64 + 1)).min(spare_mib(args.size_mib));
    for round in 1..=args.rounds {
        // Ours first in odd rounds, aria2c first in even ones (ABBA...), so that neither is
        // always the one that follows the other.
        let order: Vec<Impl> = if round % 2 == 1 {
            cases.clone()
        } else {
            cases.iter().rev().copied().collect()
        };
        for which in order {
            let t = Instant::now();
            let warm = Warm::new(&setup.dir, warm_mib);
            eprintln!(
                "swarm-bench: wrote and flushed a {warm_mib} MiB warm-up file in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            match run_case(&mut fleet, &setup, which, warm) {
                Ok(r) => {
                    println!(
                        "swarm-bench round={round} impl={} size_mib={} peers={} seconds={:.3} \
                         first_done_s={:.3} mib_per_s={:.1} cpu_s={:.2} leecher_cpu_s={:.2} \
                         seeder_cpu_s={:.2} leecher_peak_rss_kib={}",
                        which.name(),
                        args.size_mib,
                        args.peers,
                        r.seconds,
                        r.first_seconds,
                        (args.size_mib * args.peers as u64) as f64 / r.seconds,
                        r.cpu_s(),
                        r.leecher_cpu_s,
                        r.seeder_cpu_s,
                        r.peak_rss_kib
                    );
                    results.push((round, which, r));
                }
                Err(e) => {
                    eprintln!("swarm-bench: {e}");
                    failed = true;
                }
            }
        }
    }
    // One ratio per round (the two cases ran back to back), and their median.
    let get = |round: usize, w: Impl| {
        results
            .iter()
            .find(|(r, i, _)| *r == round && *i == w)
            .map(|(_, _, c)| c)
    };
    let ratios: Vec<(f64, f64, f64)> = (1..=args.rounds)
        .filter_map(|round| {
            let (o, a) = (get(round, Impl::Ours)?, get(round, Impl::Aria2c)?);
            Some((
                a.seconds / o.seconds,
                o.cpu_s() / a.cpu_s().max(0.001),
                o.peak_rss_kib as f64 / a.peak_rss_kib.max(1) as f64,
            ))
        })
        .collect();
    if !ratios.is_empty() {
        let each: Vec<String> = ratios.iter().map(|r| format!("{:.2}", r.0)).collect();
        let speed = median(ratios.iter().map(|r| r.0).collect());
        let cpu = median(ratios.iter().map(|r| r.1).collect());
        let rss = median(ratios.iter().map(|r| r.2).collect());
        println!(
            "swarm-bench ratio ours/aria2c={speed:.2} (mib_per_s, median of rounds: {}) \
             cpu_s_ours/aria2c={cpu:.2} peak_rss_ours/aria2c={rss:.2}",
            each.join(" ")
        );
    }
    drop(fleet);
    if failed {
        std::process::exit(1);
    }
}
