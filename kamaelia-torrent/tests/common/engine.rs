//! Helpers for the tests that drive the engine in-process (`client.rs`, `peer_wire.rs`):
//! temporary folders, pseudo-random data, single-file torrents, and `TorrentClient`s on
//! background schedulers, talked to through their boxes. Every wait is bounded.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axon::ipc::ShutdownMicroprocess;
use axon::{Background, Handle, Message, RunReport};
use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
use kamaelia_torrent::ipc::{TIPCCreateNewTorrent, TIPCNewTorrentCreated, TIPCTorrentStatusUpdate};
use kamaelia_torrent::metainfo::TorrentBuilder;

/// The longest any single wait in these tests may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// How often the clients under test report.
pub const TICK: Duration = Duration::from_millis(100);

// ----- folders, data, torrents --------------------------------------------------------------

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "kt-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` pseudo-random bytes, the same for the same `seed`, so that every piece differs.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; len];
    kamaelia_torrent::random::Rng::new(seed).fill(&mut v);
    v
}

/// A single-file torrent of `bytes`, with no tracker.
pub fn torrent(name: &str, piece_length: u64, bytes: &[u8]) -> Vec<u8> {
    TorrentBuilder::new(name, piece_length)
        .single_file(bytes)
        .to_bytes()
}

/// Writes a single-file torrent's data where a client saving into `folder` expects it.
pub fn prefill_single(folder: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(folder.join(name), bytes).unwrap();
}

/// A client listening on a free loopback port, saving into `save_folder`, reporting every
/// [`TICK`].
pub fn config(save_folder: &Path) -> ClientConfig {
    ClientConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        save_folder: save_folder.to_path_buf(),
        status_interval: TICK,
        ..Default::default()
    }
}

// ----- schedulers and clients ---------------------------------------------------------------

/// A background scheduler holding one or more clients.
pub struct Rig {
    bg: Option<Background>,
}

impl Rig {
    pub fn start() -> Rig {
        Rig {
            bg: Some(Background::start()),
        }
    }

    /// Starts a client with `cfg` in this rig's scheduler.
    pub fn client(&self, cfg: ClientConfig) -> Client {
        let c = TorrentClient::new(cfg);
        let addr = c.local_addr();
        let handle = self
            .bg
            .as_ref()
            .expect("rig running")
            .handle(c)
            .expect("the client starts");
        Client {
            handle: Some(handle),
            addr,
            seen: RefCell::new(VecDeque::new()),
        }
    }

    /// Lets the scheduler end once its components have, and returns its report; fails if
    /// that takes longer than [`LIMIT`].
    pub fn finish(mut self) -> RunReport {
        let bg = self.bg.take().expect("rig running");
        within_limit(
            move || bg.finish(),
            "the scheduler did not return within 30 s of the clients' end",
        )
    }

    /// As [`Rig::finish`]; the run must have been clean (no failures, nothing left paused).
    pub fn finish_clean(self) {
        let report = self.finish();
        assert!(report.is_clean(), "{report:?}");
    }

    /// Stops the scheduler at once and returns its report (for a run that would not end).
    pub fn stop(mut self) -> RunReport {
        let bg = self.bg.take().expect("rig running");
        within_limit(move || bg.stop(), "the scheduler did not stop within 30 s")
    }
}

/// Runs `f` on a thread and returns its result; panics with `late` if that takes longer than
/// [`LIMIT`].
fn within_limit(f: impl FnOnce() -> RunReport + Send + 'static, late: &str) -> RunReport {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LIMIT).expect(late)
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(bg) = self.bg.take() {
            let _ = bg.stop();
        }
    }
}

/// One client under test, driven through its handle.
pub struct Client {
    handle: Option<Handle>,
    /// The listening address, if the client could bind one.
    pub addr: Option<SocketAddr>,
    /// Status updates seen while waiting for something else.
    seen: RefCell<VecDeque<TIPCTorrentStatusUpdate>>,
}

impl Client {
    pub fn h(&self) -> &Handle {
        self.handle.as_ref().expect("client handle")
    }

    pub fn put<T: Send + 'static>(&self, m: T) {
        self.h().put(m, "inbox").expect("the client takes requests");
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("the client listens")
    }

    /// The next reply to a request (status updates on the way are kept for later).
    pub fn reply(&self) -> Message {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .h()
                .get_timeout("outbox", left)
                .unwrap_or_else(|_| panic!("no reply from the client within {LIMIT:?}"));
            match m.downcast::<TIPCTorrentStatusUpdate>() {
                Ok(u) => self.seen.borrow_mut().push_back(u),
                Err(e) => return e.into_message(),
            }
        }
    }

    /// The next reply, which must be a `T`.
    pub fn reply_as<T: 'static>(&self) -> T {
        let m = self.reply();
        let found = m.type_name();
        m.downcast::<T>().unwrap_or_else(|_| {
            panic!(
                "expected a {} reply, got a {found}",
                std::any::type_name::<T>()
            )
        })
    }

    /// Starts the torrent `raw_metainfo`, saved in `folder`; returns its id (the reply must be
    /// `TIPCNewTorrentCreated`).
    pub fn create(&self, raw_metainfo: Vec<u8>, folder: &Path) -> u32 {
        self.put(TIPCCreateNewTorrent {
            raw_metainfo,
            save_folder: Some(folder.to_path_buf()),
        });
        self.reply_as::<TIPCNewTorrentCreated>().torrent_id
    }

    /// The next status update, or `None` if none comes within `within`. Panics on a reply
    /// (none is expected while statuses are watched).
    pub fn next_status(&self, within: Duration) -> Option<TIPCTorrentStatusUpdate> {
        if let Some(u) = self.seen.borrow_mut().pop_front() {
            return Some(u);
        }
        let m = self.h().get_timeout("outbox", within).ok()?;
        let found = m.type_name();
        Some(
            m.downcast::<TIPCTorrentStatusUpdate>()
                .unwrap_or_else(|_| panic!("unexpected {found} from the client")),
        )
    }

    /// Waits for a status update of `torrent_id` that satisfies `ok`.
    pub fn status_until(
        &self,
        torrent_id: u32,
        within: Duration,
        ok: impl Fn(&TIPCTorrentStatusUpdate) -> bool,
    ) -> TIPCTorrentStatusUpdate {
        let deadline = Instant::now() + within;
        let mut last = None;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(u) = self.next_status(left.min(Duration::from_millis(500))) else {
                continue;
            };
            if u.torrent_id == torrent_id {
                if ok(&u) {
                    return u;
                }
                last = Some(u);
            }
        }
        panic!("torrent {torrent_id}: no awaited status within {within:?}; last seen: {last:?}")
    }

    /// The latest status of `torrent_id`, waiting for a fresh one.
    pub fn latest(&self, torrent_id: u32) -> TIPCTorrentStatusUpdate {
        self.drain();
        self.status_until(torrent_id, LIMIT, |_| true)
    }

    /// Every status update that arrives in the next `period`.
    pub fn statuses_for(&self, period: Duration) -> Vec<TIPCTorrentStatusUpdate> {
        let end = Instant::now() + period;
        let mut out: Vec<_> = self.seen.borrow_mut().drain(..).collect();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if let Some(u) = self.next_status(left) {
                out.push(u);
            }
        }
        out
    }

    /// Forgets what arrived so far.
    pub fn drain(&self) {
        self.seen.borrow_mut().clear();
        while self.h().get("outbox").is_ok() {}
    }

    /// Sends a stop message to the client's `control`.
    pub fn stop(&self) {
        self.h()
            .put(ShutdownMicroprocess::default(), "control")
            .expect("the client takes stop messages");
    }

    /// Sends a stop message and waits until the client has ended.
    pub fn end(&self) {
        self.stop();
        self.wait_ended();
    }

    /// Waits until the client has ended.
    pub fn wait_ended(&self) {
        let deadline = Instant::now() + LIMIT;
        while !self.h().is_finished() {
            assert!(
                Instant::now() < deadline,
                "the client did not end within {LIMIT:?} of a stop message"
            );
            // Keep its outbox flowing so that it is not held up by a full handle.
            while self.h().get("outbox").is_ok() {}
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A client on a scheduler of its own.
pub struct Solo {
    // Declared first: the client's handle goes before its scheduler is stopped.
    client: Client,
    rig: Rig,
}

impl Solo {
    pub fn start(cfg: ClientConfig) -> Solo {
        let rig = Rig::start();
        let client = rig.client(cfg);
        Solo { client, rig }
    }

    /// Stops the client and its scheduler; the run must end cleanly.
    pub fn finish_clean(self) {
        self.client.end();
        drop(self.client);
        self.rig.finish_clean();
    }
}

impl std::ops::Deref for Solo {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}
