//! Real BitTorrent programs for the interop tests: our `kamaelia-torrent` (tracker, seed,
//! download), aria2c, transmission-cli and opentracker, each started on 127.0.0.1 only, its
//! output captured to files in the test's folder, and every one killed and reaped when the test
//! ends, also when it panics.
//!
//! What each third-party program needs, as found on Debian's builds (aria2 1.36.0,
//! transmission-cli 3.00, opentracker from 2018):
//!
//! - **aria2c** (see [`ARIA2C_FLAGS`]): DHT, IPv6 DHT, local peer discovery and peer exchange
//!   are turned off one by one; `--interface=127.0.0.1` makes it listen on loopback only (without
//!   it, it listens on 0.0.0.0) and `--disable-ipv6` keeps it off IPv6;
//!   `--bt-external-ip=127.0.0.1` makes it announce `ip=127.0.0.1`. aria2c has no UPnP or
//!   NAT-PMP. Encryption: `--bt-require-crypto=false` and `--bt-min-crypto-level=plain` are the
//!   defaults, spelt out. When aria2c *accepts* a connection it takes the plain handshake at
//!   once. When it *dials* a peer it always tries the obfuscated (MSE) handshake first; there is
//!   no option to dial plain first. If the peer closes the connection after the MSE key arrives
//!   (as a plain-only peer does: 96+ bytes that are not `\x13BitTorrent protocol`), aria2c logs
//!   "Retry using legacy BitTorrent handshake" and dials again with the plain handshake about
//!   a second later. This was checked by hand with a proxy that closes non-plain handshakes.
//!   (With `--bt-require-crypto=true` it would never fall back.) Seeding an existing file:
//!   `-V` (`--check-integrity`) hashes it first; without it aria2c refuses a file that has no
//!   `.aria2` control file (error 13) or, with `--allow-overwrite`, downloads it again.
//!   `--seed-ratio=0.0` with no `--seed-time` seeds until killed. A leecher with
//!   `--seed-time=0` exits 0 as soon as it has everything. `--listen-port` must be >= 1024.
//!   `--no-conf` ignores any aria2.conf, `--file-allocation=none` skips preallocation,
//!   `--summary-interval=0`, `--show-console-readout=false` (otherwise it prints a progress
//!   line every second, even into a file) and `--enable-color=false` keep its output short and
//!   plain: NOTICE lines on stdout, a detailed log in `logs/<name>.aria2.log`.
//! - **transmission-cli** (see [`transmission_seed`]): a settings.json in its config folder
//!   (`-g`) turns off DHT, LPD, PEX, uTP, port forwarding (UPnP/NAT-PMP) and the blocklist,
//!   binds to 127.0.0.1 and ::1 (`bind-address-ipv4/6`; checked with `ss`: it listens on those
//!   two only) and never stops seeding (no ratio or idle limit). `-M` turns port mapping off,
//!   `-p` sets the port and `-et` prefers plain connections (it accepts plain handshakes). With
//!   the data in `-w` it verifies it on start, then logs "Verification is done" on stderr
//!   (unbuffered; at `message-level` 3 only) and prints "Seeding, uploading to ..." status
//!   lines (with `\r`) on stdout, which is block-buffered into a file (they show ~10 s late).
//!   It does not dial peers on 127.x, so it is used only as a seeder that our client dials.
//!   It sends only about 1-1.5 MiB/s to one peer here (aria2c gets the same), so a 5 MiB
//!   download from it takes some 15 s.
//! - **opentracker** (see [`opentracker`]): Debian's build serves whitelisted torrents only;
//!   it chroots to `-d`, so the whitelist is named inside it; `-i 127.0.0.1` binds loopback
//!   only. Scrape works for whitelisted torrents.
#![allow(dead_code)]

use std::cell::Cell;
use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// Our command-line program.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kamaelia-torrent")
}

pub use super::ports::free_port;

/// `127.0.0.1:<port>`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One program started by a [`Lab`].
struct Proc {
    name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
    /// More logs of its own (aria2c's detailed log).
    logs: Vec<PathBuf>,
    status: Option<ExitStatus>,
}

/// Which program of a [`Lab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Id(usize);

/// A test's folder, its programs and its time limit. Dropping it kills and reaps every
/// program; if the test is panicking, the tails of their output are printed and the folder is
/// kept for a look.
pub struct Lab {
    /// The test's own folder (logs go to `logs/` in it).
    pub dir: PathBuf,
    procs: Vec<Proc>,
    deadline: Instant,
    limit: Duration,
    reported: Cell<bool>,
}

/// The last `n` lines of `text` (carriage returns count as line ends), each cut to 300
/// characters.
fn tail(text: &str, n: usize) -> String {
    let text = text.replace('\r', "\n");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(n);
    lines[from..]
        .iter()
        .map(|l| {
            let cut: String = l.chars().take(300).collect();
            format!("    {cut}\n")
        })
        .collect()
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl Lab {
    /// A fresh folder for test `tag`, and `limit` for everything the test waits for.
    pub fn new(tag: &str, limit: Duration) -> Lab {
        let dir = super::temp_dir(tag);
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        Lab {
            dir,
            procs: Vec::new(),
            deadline: Instant::now() + limit,
            limit,
            reported: Cell::new(false),
        }
    }

    /// A path in the test's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// True once the test's time is up.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Starts `cmd` as `name` (unique in the test), its stdout and stderr going to
    /// `logs/<name>.out` and `logs/<name>.err`.
    pub fn spawn(&mut self, name: &str, cmd: Command) -> Id {
        self.spawn_with_logs(name, cmd, Vec::new())
    }

    /// [`Lab::spawn`], with more log files of its own to show when the test fails.
    pub fn spawn_with_logs(&mut self, name: &str, mut cmd: Command, logs: Vec<PathBuf>) -> Id {
        let out = self.dir.join(format!("logs/{name}.out"));
        let err = self.dir.join(format!("logs/{name}.err"));
        let file = |p: &Path| std::fs::File::create(p).expect("create a log file");
        cmd.stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err));
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => self.fail(format!("cannot start {name} ({cmd:?}): {e}")),
        };
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            out,
            err,
            logs,
            status: None,
        });
        Id(self.procs.len() - 1)
    }

    /// Its process id.
    pub fn pid(&self, id: Id) -> u32 {
        self.procs[id.0].child.id()
    }

    /// What it has printed on stdout so far.
    pub fn stdout(&self, id: Id) -> String {
        read_lossy(&self.procs[id.0].out)
    }

    /// What it has printed on stderr so far.
    pub fn stderr(&self, id: Id) -> String {
        read_lossy(&self.procs[id.0].err)
    }

    /// Its exit status, if it has ended (it is reaped then).
    pub fn status(&mut self, id: Id) -> Option<ExitStatus> {
        let p = &mut self.procs[id.0];
        if p.status.is_none() {
            p.status = p.child.try_wait().ok().flatten();
        }
        p.status
    }

    /// Panics with `msg` and the tails of every program's output.
    pub fn fail(&self, msg: impl Display) -> ! {
        self.reported.set(true);
        panic!("{msg}\n{}", self.tails());
    }

    /// Fails with `msg()` unless `ok`.
    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(msg());
        }
    }

    /// The tails of every program's stdout, stderr and logs.
    pub fn tails(&self) -> String {
        let mut s = format!("(test folder: {})\n", self.dir.display());
        for p in &self.procs {
            let state = match p.status {
                Some(st) => format!("{st}"),
                None => "running".to_string(),
            };
            s += &format!("=== {} (pid {}, {state})\n", p.name, p.child.id());
            let mut files = vec![("stdout", &p.out), ("stderr", &p.err)];
            files.extend(p.logs.iter().map(|l| ("log", l)));
            for (what, path) in files {
                let t = tail(&read_lossy(path), 20);
                if !t.is_empty() {
                    s += &format!("  --- {what} ({}):\n{t}", path.display());
                }
            }
        }
        s
    }

    /// Waits until `ready` holds; fails if the program `id` ends first or the test's time is
    /// up.
    pub fn wait_until(&mut self, id: Id, what: &str, ready: impl Fn(&Lab) -> bool) {
        loop {
            if ready(self) {
                return;
            }
            if let Some(st) = self.status(id) {
                self.fail(format!(
                    "{} ended ({st}) before {what}",
                    self.procs[id.0].name
                ));
            }
            if self.expired() {
                self.fail(format!(
                    "{} did not get to {what} within {:?}",
                    self.procs[id.0].name, self.limit
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until `ready` holds for its stdout plus stderr (see [`Lab::wait_until`]).
    pub fn wait_output(&mut self, id: Id, what: &str, ready: impl Fn(&str) -> bool) {
        self.wait_until(id, what, |lab| {
            ready(&format!("{}\n{}", lab.stdout(id), lab.stderr(id)))
        });
    }

    /// Waits until it accepts TCP connections on 127.0.0.1:`port`.
    pub fn wait_listening(&mut self, id: Id, port: u16) {
        self.wait_until(id, &format!("listening on port {port}"), |_| {
            TcpStream::connect_timeout(&local(port), Duration::from_millis(200)).is_ok()
        });
    }

    /// Waits for it to end (within the test's time) and returns its status.
    pub fn wait_exit(&mut self, id: Id) -> ExitStatus {
        loop {
            if let Some(st) = self.status(id) {
                return st;
            }
            if self.expired() {
                self.fail(format!(
                    "{} did not finish within {:?}",
                    self.procs[id.0].name, self.limit
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for it to end and fails unless it exited 0.
    pub fn expect_success(&mut self, id: Id) {
        let st = self.wait_exit(id);
        if !st.success() {
            self.fail(format!("{} failed: {st}", self.procs[id.0].name));
        }
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self, id: Id) {
        let p = &mut self.procs[id.0];
        if p.status.is_none() {
            let _ = p.child.kill();
            p.status = p.child.wait().ok();
        }
    }

    /// How long the test has left.
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for i in 0..self.procs.len() {
            self.kill(Id(i));
        }
        if std::thread::panicking() {
            if !self.reported.get() {
                eprintln!("{}", self.tails());
            }
            eprintln!("kept {} for a look", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A tracker started by a test.
pub struct Tracker {
    /// The program.
    pub id: Id,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its announce URL.
    pub url: String,
}

/// `kamaelia-torrent tracker` on a free port.
pub fn our_tracker(lab: &mut Lab, name: &str) -> Tracker {
    let port = free_port();
    let mut cmd = Command::new(bin());
    cmd.args(["tracker", "--listen", &local(port).to_string()]);
    let id = lab.spawn(name, cmd);
    lab.wait_listening(id, port);
    Tracker {
        id,
        port,
        url: format!("http://127.0.0.1:{port}/announce"),
    }
}

/// opentracker on a free port (TCP and UDP), serving only the torrents in `hashes` (hex).
pub fn opentracker(lab: &mut Lab, hashes: &[&str]) -> Tracker {
    let dir = lab.path("opentracker");
    std::fs::create_dir_all(&dir).unwrap();
    let list: String = hashes.iter().map(|h| format!("{h}\n")).collect();
    std::fs::write(dir.join("whitelist.txt"), list).unwrap();
    let port = free_port();
    let p = port.to_string();
    let mut cmd = Command::new("opentracker");
    // It chroots to -d, so the whitelist is named from inside it.
    cmd.args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-d"])
        .arg(&dir)
        .args(["-w", "/whitelist.txt"]);
    let id = lab.spawn("opentracker", cmd);
    lab.wait_listening(id, port);
    Tracker {
        id,
        port,
        url: format!("http://127.0.0.1:{port}/announce"),
    }
}

/// A .torrent made by `kamaelia-torrent make`.
pub struct Torrent {
    /// The .torrent file.
    pub path: PathBuf,
    /// Its info-hash in hex, as `make` printed it.
    pub hash: String,
}

/// Makes `<name>.torrent` in the test's folder of the file or folder `src`.
pub fn make_torrent(lab: &Lab, name: &str, src: &Path, tracker: &str, piece: u64) -> Torrent {
    let path = lab.path(&format!("{name}.torrent"));
    let out = Command::new(bin())
        .arg("make")
        .arg(src)
        .args(["--tracker", tracker, "--piece-size", &piece.to_string()])
        .arg("--output")
        .arg(&path)
        .output()
        .expect("run kamaelia-torrent make");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let hash = said
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: "))
        .unwrap_or("")
        .to_string();
    lab.check(out.status.success() && hash.len() == 40, || {
        format!(
            "kamaelia-torrent make failed ({}): {}{}",
            out.status,
            said,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Torrent { path, hash }
}

/// A peer started by a test.
pub struct Peer {
    /// The program.
    pub id: Id,
    /// Its listening port on 127.0.0.1.
    pub port: u16,
}

impl Peer {
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        local(self.port)
    }
}

fn our_command(verb: &str, torrent: &Torrent, port: u16, peers: &[SocketAddr]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg(verb).arg(&torrent.path);
    cmd.args(["--listen", &local(port).to_string()]);
    for p in peers {
        cmd.args(["--peer", &p.to_string()]);
    }
    cmd
}

/// `kamaelia-torrent seed` of the data in `data`, waited for until it says `seeding`.
pub fn our_seed(
    lab: &mut Lab,
    name: &str,
    torrent: &Torrent,
    data: &Path,
    peers: &[SocketAddr],
) -> Peer {
    let port = free_port();
    let mut cmd = our_command("seed", torrent, port, peers);
    cmd.arg("--data").arg(data);
    let id = lab.spawn(name, cmd);
    lab.wait_until(id, "a line on stdout saying it is seeding", |lab| {
        lab.stdout(id).to_lowercase().contains("seeding")
    });
    Peer { id, port }
}

/// `kamaelia-torrent download` into `out` (not waited for).
pub fn our_download(
    lab: &mut Lab,
    name: &str,
    torrent: &Torrent,
    out: &Path,
    peers: &[SocketAddr],
) -> Peer {
    let port = free_port();
    let mut cmd = our_command("download", torrent, port, peers);
    cmd.arg("--output").arg(out);
    let id = lab.spawn(name, cmd);
    Peer { id, port }
}

pub use super::aria2c_flags::ARIA2C_FLAGS;

fn aria2c_command(lab: &Lab, name: &str, dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new("aria2c");
    cmd.args(ARIA2C_FLAGS)
        .arg(format!("--listen-port={port}"))
        .arg(format!("--dir={}", dir.display()))
        .arg(format!(
            "--log={}",
            lab.path(&format!("logs/{name}.aria2.log")).display()
        ))
        .arg("--log-level=info");
    cmd
}

/// aria2c seeding the data in `data` (checked first with -V), waited for until it listens.
pub fn aria2c_seed(lab: &mut Lab, name: &str, torrent: &Torrent, data: &Path) -> Peer {
    let port = free_port();
    let mut cmd = aria2c_command(lab, name, data, port);
    cmd.args(["--check-integrity=true", "--seed-ratio=0.0"])
        .arg(&torrent.path);
    let log = lab.path(&format!("logs/{name}.aria2.log"));
    let id = lab.spawn_with_logs(name, cmd, vec![log]);
    // It prints this once the check is done and its listening socket is open.
    lab.wait_output(id, "listening after checking its data", |t| {
        t.contains("listening on TCP port")
    });
    Peer { id, port }
}

/// aria2c downloading into `out`; it exits 0 once it has it all (not waited for).
pub fn aria2c_download(lab: &mut Lab, name: &str, torrent: &Torrent, out: &Path) -> Peer {
    let port = free_port();
    let mut cmd = aria2c_command(lab, name, out, port);
    cmd.arg("--seed-time=0").arg(&torrent.path);
    let log = lab.path(&format!("logs/{name}.aria2.log"));
    let id = lab.spawn_with_logs(name, cmd, vec![log]);
    Peer { id, port }
}

/// transmission-cli seeding the data in `data`, waited for until it says "Seeding".
pub fn transmission_seed(lab: &mut Lab, name: &str, torrent: &Torrent, data: &Path) -> Peer {
    let port = free_port();
    let config = lab.path(&format!("{name}-config"));
    std::fs::create_dir_all(&config).unwrap();
    let settings = format!(
        r#"{{
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "blocklist-enabled": false,
    "bind-address-ipv4": "127.0.0.1",
    "bind-address-ipv6": "::1",
    "peer-port": {port},
    "peer-port-random-on-start": false,
    "encryption": 0,
    "rpc-enabled": false,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "speed-limit-up-enabled": false,
    "start-added-torrents": true,
    "message-level": 3,
    "download-dir": "{}"
}}
"#,
        data.display()
    );
    std::fs::write(config.join("settings.json"), settings).unwrap();
    let mut cmd = Command::new("transmission-cli");
    cmd.arg("-g")
        .arg(&config)
        .args(["-M", "-et", "-p", &port.to_string(), "-w"])
        .arg(data)
        .arg(&torrent.path);
    let id = lab.spawn(name, cmd);
    // Its stdout is block-buffered when it is a file ("Seeding" shows ~10 s late); the
    // stderr log is not.
    lab.wait_output(id, "seeding after checking its data", |t| {
        t.contains("Verification is done") || t.contains("Seeding")
    });
    Peer { id, port }
}

/// `%XX` for every byte of the hex info-hash.
fn url_hash(hex: &str) -> String {
    (0..hex.len() / 2)
        .map(|i| format!("%{}", &hex[2 * i..2 * i + 2]))
        .collect()
}

/// The `complete` count a tracker's scrape gives for the torrent, if it answers.
pub fn scrape_complete(port: u16, hash: &str) -> Option<u64> {
    scrape_complete_at(local(port), hash)
}

/// [`scrape_complete`] of the tracker at `addr`.
pub fn scrape_complete_at(addr: SocketAddr, hash: &str) -> Option<u64> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!(
        "GET /scrape?info_hash={} HTTP/1.0\r\nHost: {addr}\r\n\r\n",
        url_hash(hash)
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let at = text.find("8:completei")? + "8:completei".len();
    text[at..].split('e').next()?.parse().ok()
}

/// Waits until the tracker counts at least `n` seeders of the torrent.
pub fn wait_seeders(lab: &mut Lab, tracker: &Tracker, torrent: &Torrent, n: u64) {
    loop {
        if scrape_complete(tracker.port, &torrent.hash).unwrap_or(0) >= n {
            return;
        }
        if lab.expired() {
            lab.fail(format!(
                "the tracker at {} did not count {n} seeder(s) in time",
                tracker.url
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `len` pseudo-random bytes, the same for the same `seed`.
pub use super::engine::data as payload;

/// Writes `payload(len, seed)` to `path` (making its folder) and returns it.
pub fn write_payload(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data = payload(len, seed);
    std::fs::write(path, &data).unwrap();
    data
}

/// The SHA-1 of `data` in hex.
pub fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fails unless the file at `got` holds exactly `want` (compared by length and SHA-1).
pub fn expect_same(lab: &Lab, got: &Path, want: &[u8]) {
    let data = match std::fs::read(got) {
        Ok(d) => d,
        Err(e) => lab.fail(format!("cannot read {}: {e}", got.display())),
    };
    if data.len() != want.len() || sha1_hex(&data) != sha1_hex(want) {
        let first = data
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(data.len().min(want.len()));
        lab.fail(format!(
            "{} differs from the original: {} bytes (SHA-1 {}), want {} bytes (SHA-1 {}); \
             first difference at byte {first}",
            got.display(),
            data.len(),
            sha1_hex(&data),
            want.len(),
            sha1_hex(want)
        ));
    }
}
