//! `TorrentMaker` (Kamaelia's `TorrentMaker.py`): paths in, .torrent files out.
//!
//! Differences from the original, on purpose: it makes torrents of folders as well as single
//! files (the original could do one file only); its control box works (the original's raised
//! `NameError` on any control message); it tells you when it fails (an [`MakeTorrentError`]
//! on its `error` outbox) instead of printing and carrying on; and it hashes on every core when
//! the data is large.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use axon::ipc::{stop_kind, StopKind};
use axon::{BoxSpec, ComponentResult, Message, ThreadCtx, ThreadedComponent};

use crate::files::FileSet;
use crate::ipc::TIPCMakeTorrent;
use crate::metainfo::TorrentBuilder;

/// Kamaelia's default piece size: 2^18 bytes (256 KiB).
pub const DEFAULT_LOG2_PIECE_SIZE: u8 = 18;

/// Pieces per hashing thread below which one thread does it all.
const PIECES_PER_THREAD: usize = 64;

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "inbox",
        "Paths (String or PathBuf) or TIPCMakeTorrent requests: what to make torrents of",
    ),
    BoxSpec::new(
        "control",
        "ProducerFinished: finish the requests held, then stop; ShutdownMicroprocess: stop now",
    ),
];

const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "The raw bytes (Vec<u8>) of each .torrent made"),
    BoxSpec::new("signal", "The stop message, passed on when stopping"),
    BoxSpec::new("error", "MakeTorrentError for each request that failed"),
];

/// A request TorrentMaker could not carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakeTorrentError {
    /// What it was asked to make a torrent of.
    pub src_file: PathBuf,
    /// Why it failed.
    pub reason: String,
}

impl fmt::Display for MakeTorrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not make a torrent of {}: {}",
            self.src_file.display(),
            self.reason
        )
    }
}

impl std::error::Error for MakeTorrentError {}

/// Makes .torrent files (Kamaelia's `TorrentMaker(defaulttracker)`): each path on `inbox`
/// becomes a torrent with the default tracker, 256 KiB pieces, its base name as title and
/// "Created by Kamaelia" as comment; a [`TIPCMakeTorrent`] sets all of those. The raw bytes of
/// each .torrent go out of `outbox`, in order.
///
/// ```
/// use axon::{Scheduler, Threaded};
/// use kamaelia_torrent::maker::TorrentMaker;
/// use kamaelia_torrent::metainfo::Metainfo;
///
/// let dir = std::env::temp_dir().join(format!("tm-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("hello.txt");
/// std::fs::write(&file, b"hello, torrent\n").unwrap();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let maker = root.create(Threaded::new(TorrentMaker::new("http://127.0.0.1:6969/announce")));
/// root.link((root.id(), "outbox"), (maker, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (maker, "control")).unwrap();
/// root.link((maker, "outbox"), (root.id(), "inbox")).unwrap();
/// root.send(file.display().to_string(), "outbox").unwrap();
/// root.send(axon::ipc::ProducerFinished::default(), "signal").unwrap();
/// root.activate(maker).unwrap();
/// assert!(sched.run().is_clean());
///
/// let bytes: Vec<u8> = root.recv_as("inbox").unwrap();
/// let m = Metainfo::from_bytes(&bytes).unwrap();
/// assert_eq!(m.info.name, "hello.txt");
/// assert_eq!(m.comment.as_deref(), Some("Created by Kamaelia"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TorrentMaker {
    default_tracker: String,
    threads: usize,
}

impl TorrentMaker {
    /// A maker whose torrents name `default_tracker` unless a request says otherwise.
    pub fn new(default_tracker: &str) -> TorrentMaker {
        TorrentMaker {
            default_tracker: default_tracker.to_string(),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }

    /// Hashes on at most `n` threads (default: one per core).
    pub fn with_threads(mut self, n: usize) -> TorrentMaker {
        self.threads = n.max(1);
        self
    }

    /// The request a bare path stands for.
    pub fn request_for(&self, path: PathBuf) -> TIPCMakeTorrent {
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        TIPCMakeTorrent {
            tracker_url: self.default_tracker.clone(),
            log2_piece_size_bytes: DEFAULT_LOG2_PIECE_SIZE,
            title,
            comment: "Created by Kamaelia".into(),
            src_file: path,
        }
    }

    /// Makes one torrent: scans, hashes, and returns the .torrent's bytes.
    pub fn make(&self, req: &TIPCMakeTorrent) -> Result<Vec<u8>, MakeTorrentError> {
        self.make_with(req, false)
    }

    /// As [`make`](Self::make), optionally marking the torrent private (BEP 27).
    pub fn make_with(
        &self,
        req: &TIPCMakeTorrent,
        private: bool,
    ) -> Result<Vec<u8>, MakeTorrentError> {
        let fail = |reason: String| MakeTorrentError {
            src_file: req.src_file.clone(),
            reason,
        };
        if !(10..=28).contains(&req.log2_piece_size_bytes) {
            return Err(fail(format!(
                "a piece size of 2^{} is outside 2^10..2^28",
                req.log2_piece_size_bytes
            )));
        }
        let piece_length = 1u64 << req.log2_piece_size_bytes;
        let (set, multi) = FileSet::scan(&req.src_file).map_err(|e| fail(e.to_string()))?;
        let pieces = set.total_length().div_ceil(piece_length) as usize;
        let threads = self.threads.min(pieces / PIECES_PER_THREAD).max(1);
        let hashes = set
            .hash_pieces(piece_length, threads)
            .map_err(|e| fail(e.to_string()))?;
        let title = if req.title.is_empty() {
            self.request_for(req.src_file.clone()).title
        } else {
            req.title.clone()
        };
        let files = set
            .files
            .iter()
            .map(|f| (f.torrent_path.clone(), f.length))
            .collect();
        let mut b = TorrentBuilder::new(&title, piece_length)
            .created_by(concat!("Kamaelia for Rust ", env!("CARGO_PKG_VERSION")))
            .creation_date(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0),
            )
            .with_hashed_files(files, hashes, multi)
            .private(private);
        if !req.tracker_url.is_empty() {
            b = b.tracker(&req.tracker_url);
        }
        if !req.comment.is_empty() {
            b = b.comment(&req.comment);
        }
        Ok(b.to_bytes())
    }

    fn handle(&self, ctx: &ThreadCtx, m: Message) -> ComponentResult {
        let req = if m.is::<TIPCMakeTorrent>() {
            m.downcast::<TIPCMakeTorrent>()?
        } else if m.is::<String>() {
            self.request_for(PathBuf::from(
                m.downcast::<String>()?.trim_end_matches('\n'),
            ))
        } else if m.is::<&'static str>() {
            self.request_for(PathBuf::from(m.downcast::<&str>()?.trim_end_matches('\n')))
        } else if m.is::<PathBuf>() {
            self.request_for(m.downcast::<PathBuf>()?)
        } else {
            log::warn!("TorrentMaker - what on earth is a {}!?", m.type_name());
            ctx.send(
                MakeTorrentError {
                    src_file: PathBuf::new(),
                    reason: format!("a {} is not a path or a TIPCMakeTorrent", m.type_name()),
                },
                "error",
            )?;
            return Ok(());
        };
        match self.make(&req) {
            Ok(bytes) => Ok(ctx.send_waiting(bytes, "outbox")?),
            Err(e) => {
                log::warn!("{e}");
                Ok(ctx.send_waiting(e, "error")?)
            }
        }
    }
}

impl ThreadedComponent for TorrentMaker {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        INBOXES.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        OUTBOXES.into()
    }

    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        let mut finish: Option<Message> = None;
        loop {
            while let Ok(m) = ctx.recv("control") {
                match stop_kind(&m) {
                    Some(StopKind::Now) => {
                        ctx.send(m, "signal")?;
                        return Ok(());
                    }
                    Some(StopKind::Finish) => finish = Some(m),
                    None => {}
                }
            }
            if let Ok(m) = ctx.recv("inbox") {
                self.handle(&ctx, m)?;
                continue;
            }
            if let Some(m) = finish.take() {
                // Requests sent before the ProducerFinished may still be on their way.
                ctx.sync()?;
                if ctx.data_ready("inbox") > 0 {
                    finish = Some(m);
                    continue;
                }
                ctx.send(m, "signal")?;
                return Ok(());
            }
            if ctx.should_stop() {
                return Ok(());
            }
            ctx.pause(None);
        }
    }
}
