//! `StorageWorker`: a torrent's disk work and piece hashing on its own thread, so that the
//! scheduler's thread never waits for a disk.
//!
//! It first checks what is already on disk (to resume) and reports [`StorageEvent::Checked`];
//! then it serves [`StorageRequest`]s in the order they arrive. Because a write and a later
//! verify of the same piece travel through the same queue, a verify always sees the piece's
//! blocks.
//!
//! A piece whose blocks are written in order (the usual case: one peer sends a piece from its
//! start) is hashed as they are written, and verified without reading it back; a piece
//! written out of order is read back from its files and hashed then.
//!
//! Data is written with ordinary writes and left to the operating system to put on the disk
//! (no `fsync`): if the machine loses power, the next start verifies every piece and fetches
//! again whatever did not survive, so nothing is lost but time.
//!
//! | box | what |
//! |---|---|
//! | `inbox` | [`StorageRequest`]s |
//! | `control` | `ProducerFinished`: end after the requests already queued; `ShutdownMicroprocess`: the same, but a resume check under way is cut short |
//! | `outbox` | [`StorageEvent`]s |
//! | `signal` | [`ProducerFinished`] when it ends |

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use axon::ipc::{stop_kind, ProducerFinished, StopKind};
use axon::{BoxSpec, ComponentResult, ThreadCtx, ThreadedComponent};

use sha1::{Digest, Sha1};

use super::picker::{Block, PeerKey};
use crate::metainfo::Info;
use crate::storage::Storage;
use crate::wire::{Bitfield, BlockData};

/// Work for the [`StorageWorker`].
#[derive(Debug)]
pub enum StorageRequest {
    /// Write a received block. Answered (in batches) by [`StorageEvent::Written`].
    Write {
        /// Where it goes.
        block: Block,
        /// Its bytes (`block.length` of them), often shared with the socket chunk they came
        /// in (freed once written).
        data: BlockData,
    },
    /// Hash a piece whose blocks have all been written. Answered by
    /// [`StorageEvent::Verified`].
    Verify {
        /// The piece.
        piece: u32,
    },
    /// Read a block for a peer. Answered by [`StorageEvent::ReadDone`].
    Read {
        /// The peer that asked.
        peer: PeerKey,
        /// The block.
        block: Block,
    },
}

/// What the [`StorageWorker`] reports.
#[derive(Debug)]
pub enum StorageEvent {
    /// The pieces found on disk at start (the first event).
    Checked {
        /// Pieces whose data matched their hash.
        have: Bitfield,
    },
    /// Bytes written since the last such event (they no longer use memory).
    Written {
        /// How many.
        bytes: u64,
    },
    /// A piece was hashed.
    Verified {
        /// The piece.
        piece: u32,
        /// True if its data matched the hash.
        ok: bool,
    },
    /// A block read for a peer.
    ReadDone {
        /// The peer that asked.
        peer: PeerKey,
        /// The block.
        block: Block,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// A block could not be read for a peer (the file changed under us); it is not served.
    ReadFailed {
        /// The peer that asked.
        peer: PeerKey,
        /// The block.
        block: Block,
    },
    /// The disk failed (a write): the torrent cannot go on.
    Failed {
        /// What went wrong (operation, path and the system's message).
        error: String,
    },
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "StorageRequest: write, verify or read"),
    BoxSpec::new(
        "control",
        "Any stop message: end after the requests already queued",
    ),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new(
        "outbox",
        "StorageEvent: checked, written, verified, read, failed",
    ),
    BoxSpec::new("signal", "ProducerFinished when it ends"),
];

/// A torrent's data on disk, served from its own thread (see the module documentation).
///
/// ```
/// use axon::{Scheduler, Threaded};
/// use kamaelia_torrent::engine::storage_worker::{StorageEvent, StorageWorker};
/// use kamaelia_torrent::metainfo::{Metainfo, TorrentBuilder};
///
/// let dir = std::env::temp_dir().join(format!("kt-doc-sw-{}", std::process::id()));
/// let bytes = TorrentBuilder::new("a.bin", 16384).single_file(&[7u8; 40000]).to_bytes();
/// let info = Metainfo::from_bytes(&bytes).unwrap().info;
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let w = root.create(Threaded::new(StorageWorker::new(dir.clone(), info)));
/// root.link((w, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((root.id(), "signal"), (w, "control")).unwrap();
/// root.activate(w).unwrap();
/// // Finish what is in hand (the resume check), then stop.
/// root.send(axon::ipc::ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// // Nothing on disk: no piece is there yet.
/// match root.recv_as::<StorageEvent>("inbox").unwrap() {
///     StorageEvent::Checked { have } => assert_eq!((have.len(), have.count()), (3, 0)),
///     other => panic!("{other:?}"),
/// }
/// # let _ = std::fs::remove_dir_all(&dir);
/// ```
pub struct StorageWorker {
    root: PathBuf,
    info: Info,
    finish_files: bool,
}

impl StorageWorker {
    /// The worker for `info`'s data under the folder `root`.
    pub fn new(root: PathBuf, info: Info) -> StorageWorker {
        StorageWorker {
            root,
            info,
            finish_files: true,
        }
    }

    /// Whether to make the files exactly what the torrent describes once every piece is
    /// there (default true; see [`Storage::finish_files`]): done before the event that shows
    /// the torrent complete ([`StorageEvent::Checked`] with every piece, or the
    /// [`StorageEvent::Verified`] of the last piece), so whoever sees it complete finds the
    /// files finished. If that fails, [`StorageEvent::Failed`] comes instead.
    pub fn finish_files(mut self, finish: bool) -> StorageWorker {
        self.finish_files = finish;
        self
    }
}

impl ThreadedComponent for StorageWorker {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        let mut storage = Storage::new(&self.root, &self.info).finishing(self.finish_files);
        // The resume check, piece by piece, so that an urgent stop during it is not kept
        // waiting; `ProducerFinished` (finish the work in hand) is kept for after it.
        let pieces = self.info.piece_count();
        let mut have = Bitfield::new(pieces);
        let mut finish = false;
        // A fresh download has nothing to check (and would fail to open a file per piece).
        let to_check = if storage.nothing_on_disk() { 0 } else { pieces };
        for i in 0..to_check {
            if !finish {
                if let Ok(m) = ctx.recv("control") {
                    if stop_kind(&m) == Some(StopKind::Finish) {
                        finish = true;
                    } else {
                        let _ = ctx.send(ProducerFinished::default(), "signal");
                        return Ok(());
                    }
                }
            }
            if ctx.should_stop() {
                return Ok(());
            }
            if storage.verify_piece(i as u32) {
                have.set(i);
            }
        }
        let mut failed = false;
        // The pieces on disk and verified, and how many are still missing, to know when the
        // torrent becomes complete (counted, not looked for: a torrent may have millions).
        let mut verified = have.clone();
        let mut missing = pieces - have.count();
        // (A storage not `finishing`, as for `seed`, leaves the files as they are.)
        let finish_up = |storage: &Storage| -> Option<StorageEvent> {
            storage.finish_files().err().map(|e| StorageEvent::Failed {
                error: format!("cannot finish the files: {e}"),
            })
        };
        let failure = if missing == 0 {
            finish_up(&storage)
        } else {
            None
        };
        match failure {
            Some(event) => {
                failed = true;
                ctx.send_waiting(event, "outbox")?;
            }
            None => ctx.send_waiting(StorageEvent::Checked { have }, "outbox")?,
        }
        let name = ctx.name();
        // Reads are of pieces already verified, so never of blocks still waiting in the
        // writer's run: the two runs need no order between them.
        let mut reads: Run<PeerKey> = Run::new(self.info.piece_length);
        let mut w = Writer {
            run: Run::new(self.info.piece_length),
            hashing: Default::default(),
            written: 0,
        };
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                let Ok(req) = m.downcast::<StorageRequest>() else {
                    continue;
                };
                if failed {
                    continue;
                }
                // Reads wait in a run of their own (see `Run::read`); anything else is done
                // after the reads asked before it.
                if !matches!(req, StorageRequest::Read { .. }) {
                    for event in reads.read(&mut storage, name, &self.root) {
                        ctx.send_waiting(event, "outbox")?;
                    }
                }
                let event = match req {
                    StorageRequest::Write { block, data } => {
                        // A block that does not follow the run (or a full run): the run
                        // is written first.
                        let event = if w.run.follows(block) {
                            None
                        } else {
                            w.flush(&mut storage, &self.root)
                        };
                        w.run.push(block, data.len(), data);
                        if event.is_none() {
                            continue;
                        }
                        event
                    }
                    StorageRequest::Verify { piece } => {
                        w.flush(&mut storage, &self.root).or_else(|| {
                            let ok = match w.hashing.remove(&piece) {
                                Some((h, next)) if next as u64 == storage.piece_size(piece) => {
                                    Some(<[u8; 20]>::from(h.finalize()))
                                        == storage.expected_hash(piece)
                                }
                                _ => storage.verify_piece(piece),
                            };
                            // The last piece: the files are finished before it is told.
                            if ok && !verified.has(piece as usize) && verified.set(piece as usize) {
                                missing -= 1;
                                if missing == 0 {
                                    if let Some(failure) = finish_up(&storage) {
                                        return Some(failure);
                                    }
                                }
                            }
                            Some(StorageEvent::Verified { piece, ok })
                        })
                    }
                    StorageRequest::Read { peer, block } => {
                        if !reads.follows(block) {
                            for event in reads.read(&mut storage, name, &self.root) {
                                ctx.send_waiting(event, "outbox")?;
                            }
                        }
                        reads.push(block, block.length as usize, peer);
                        continue;
                    }
                };
                failed |= matches!(event, Some(StorageEvent::Failed { .. }));
                if w.written > 0 {
                    let bytes = std::mem::take(&mut w.written);
                    ctx.send_waiting(StorageEvent::Written { bytes }, "outbox")?;
                }
                if let Some(event) = event {
                    ctx.send_waiting(event, "outbox")?;
                }
            }
            for event in reads.read(&mut storage, name, &self.root) {
                ctx.send_waiting(event, "outbox")?;
            }
            let event = if failed {
                None
            } else {
                w.flush(&mut storage, &self.root)
            };
            failed |= event.is_some();
            if w.written > 0 {
                let bytes = std::mem::take(&mut w.written);
                ctx.send_waiting(StorageEvent::Written { bytes }, "outbox")?;
            }
            if let Some(event) = event {
                ctx.send_waiting(event, "outbox")?;
            }
            if finish || ctx.recv("control").is_ok() || ctx.should_stop() {
                break;
            }
            ctx.pause(None);
        }
        let _ = ctx.send(ProducerFinished::default(), "signal");
        Ok(())
    }
}

/// Blocks that follow one another in the torrent, gathered (at most [`MAX_RUN`]) to go to
/// or from the disk in one vectored call, each with what goes with it (its data to write,
/// or the peer that asked to read it).
struct Run<T> {
    piece_length: u64,
    items: Vec<(Block, T)>,
    /// Where the run ends in the stream of all files.
    end: u64,
}

impl<T> Run<T> {
    fn new(piece_length: u64) -> Run<T> {
        Run {
            piece_length,
            items: Vec::new(),
            end: 0,
        }
    }

    /// True if `block` may join the run: the run is empty, or the block follows it and
    /// there is room.
    fn follows(&self, block: Block) -> bool {
        let at = block.piece as u64 * self.piece_length + block.begin as u64;
        self.items.is_empty() || (at == self.end && self.items.len() < MAX_RUN)
    }

    /// Adds a block of `len` bytes to the run (which it must follow, see
    /// [`follows`](Run::follows)).
    fn push(&mut self, block: Block, len: usize, item: T) {
        let at = block.piece as u64 * self.piece_length + block.begin as u64;
        self.end = at + len as u64;
        self.items.push((block, item));
    }

    /// Empties the run, giving back what it held.
    fn take(&mut self) -> Vec<(Block, T)> {
        std::mem::take(&mut self.items)
    }
}

/// Blocks written in runs, then hashed in order.
struct Writer {
    run: Run<BlockData>,
    /// Pieces being hashed as their blocks arrive in order: the hasher and the next offset.
    hashing: std::collections::HashMap<u32, (Sha1, u32)>,
    /// Bytes written since the last `Written` event.
    written: u64,
}

/// The most blocks one vectored write takes.
const MAX_RUN: usize = 16;

impl Writer {
    /// Writes the run and hashes its blocks; a failure is the event to report.
    fn flush(&mut self, storage: &mut Storage, root: &std::path::Path) -> Option<StorageEvent> {
        let run = self.run.take();
        if run.is_empty() {
            return None;
        }
        let parts: Vec<(u32, u32, &[u8])> = run
            .iter()
            .map(|(b, data)| (b.piece, b.begin, &data[..]))
            .collect();
        if let Err(e) = storage.write_run(&parts) {
            return Some(StorageEvent::Failed {
                error: format!(
                    "cannot write piece {} under {}: {e}",
                    run[0].0.piece,
                    root.display()
                ),
            });
        }
        for (block, data) in &run {
            self.written += data.len() as u64;
            if block.begin == 0 {
                self.hashing.insert(block.piece, (Sha1::new(), 0));
            }
            match self.hashing.get_mut(&block.piece) {
                Some((h, next)) if *next == block.begin => {
                    h.update(data);
                    *next += data.len() as u32;
                }
                Some(_) => {
                    self.hashing.remove(&block.piece);
                }
                None => {}
            }
        }
        None
    }
}

/// Reads asked for in runs, each block into its own vector.
impl Run<PeerKey> {
    /// Reads the run: one event per block, in the order asked. If the run cannot be read
    /// whole, each block is tried alone, so that only the blocks that cannot be read fail.
    fn read(&mut self, storage: &mut Storage, name: &str, root: &Path) -> Vec<StorageEvent> {
        let run = self.take();
        if run.is_empty() {
            return Vec::new();
        }
        let spans: Vec<(u32, u32, u32)> = run
            .iter()
            .map(|(b, _)| (b.piece, b.begin, b.length))
            .collect();
        let read: Vec<Result<Vec<u8>, _>> = match storage.read_run(&spans) {
            Ok(all) => all.into_iter().map(Ok).collect(),
            Err(_) => spans
                .iter()
                .map(|&(piece, begin, length)| storage.read_block(piece, begin, length))
                .collect(),
        };
        run.into_iter()
            .zip(read)
            .map(|((block, peer), data)| match data {
                Ok(data) => StorageEvent::ReadDone { peer, block, data },
                // The file changed under us (truncated, removed): that block is not
                // served, and the torrent goes on.
                Err(e) => {
                    log::warn!(
                        "{name}: cannot read piece {} under {}: {e}",
                        block.piece,
                        root.display()
                    );
                    StorageEvent::ReadFailed { peer, block }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::{Metainfo, TorrentBuilder};
    use axon::{Scheduler, Threaded};

    /// A scheduler whose root feeds a storage worker for `info` under `dir` (root's outbox
    /// and signal to the worker, the worker's outbox back to root's inbox).
    fn worker_for(dir: &std::path::Path, info: crate::metainfo::Info) -> (Scheduler, axon::Ctx) {
        let sched = Scheduler::new();
        let root = sched.root();
        let w = root.create(Threaded::new(StorageWorker::new(dir.to_path_buf(), info)));
        root.link((root.id(), "outbox"), (w, "inbox")).unwrap();
        root.link((root.id(), "signal"), (w, "control")).unwrap();
        root.link((w, "outbox"), (root.id(), "inbox")).unwrap();
        root.activate(w).unwrap();
        (sched, root)
    }

    fn verdicts(order: &[(u32, u32, bool)]) -> Vec<(u32, bool)> {
        // Three pieces of two 16 KiB blocks each.
        let data: Vec<u8> = (0..98304u32).map(|i| (i * 7 % 251) as u8).collect();
        let bytes = TorrentBuilder::new("t.bin", 32768)
            .single_file(&data)
            .to_bytes();
        let info = Metainfo::from_bytes(&bytes).unwrap().info;
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kt-sw-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (sched, root) = worker_for(&dir, info);
        for &(piece, begin, good) in order {
            let at = (piece * 32768 + begin) as usize;
            let mut block = data[at..at + 16384].to_vec();
            if !good {
                block[100] ^= 1;
            }
            let block_id = Block {
                piece,
                begin,
                length: 16384,
            };
            root.send(
                StorageRequest::Write {
                    block: block_id,
                    data: block.into(),
                },
                "outbox",
            )
            .unwrap();
        }
        for piece in 0..3 {
            root.send(StorageRequest::Verify { piece }, "outbox")
                .unwrap();
        }
        root.send(axon::ipc::ProducerFinished::default(), "signal")
            .unwrap();
        assert!(sched.run().is_clean());
        let mut out = Vec::new();
        while let Ok(m) = root.recv("inbox") {
            if let Ok(StorageEvent::Verified { piece, ok }) = m.downcast::<StorageEvent>() {
                out.push((piece, ok));
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn pieces_verify_whether_their_blocks_came_in_order_or_not() {
        // Piece 0 in order, piece 1 backwards, piece 2 in order with a bad first block.
        let v = verdicts(&[
            (0, 0, true),
            (0, 16384, true),
            (1, 16384, true),
            (1, 0, true),
            (2, 0, false),
            (2, 16384, true),
        ]);
        assert_eq!(v, [(0, true), (1, true), (2, false)]);
        // A bad block then a good rewrite of it (a piece fetched again after failing).
        let v = verdicts(&[
            (0, 0, true),
            (0, 16384, false),
            (0, 0, true),
            (0, 16384, true),
            (1, 0, true),
            (2, 16384, true),
        ]);
        assert_eq!(v, [(0, true), (1, false), (2, false)]);
    }

    #[test]
    fn reads_are_answered_in_order_and_only_unreadable_blocks_fail() {
        let data: Vec<u8> = (0..98304u32).map(|i| (i * 13 % 251) as u8).collect();
        let bytes = TorrentBuilder::new("r.bin", 32768)
            .single_file(&data)
            .to_bytes();
        let info = Metainfo::from_bytes(&bytes).unwrap().info;
        let dir = std::env::temp_dir().join(format!("kt-sw-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The file ends inside piece 1's first block.
        std::fs::write(dir.join("r.bin"), &data[..40000]).unwrap();
        let (sched, root) = worker_for(&dir, info);
        let peer: PeerKey = "127.0.0.1:7000".parse().unwrap();
        // A run of four (one request out of order after it), then another peer's block.
        let asks = [(0, 0), (0, 16384), (1, 0), (1, 16384), (0, 16384), (2, 0)];
        for &(piece, begin) in &asks {
            let block = Block {
                piece,
                begin,
                length: 16384,
            };
            root.send(StorageRequest::Read { peer, block }, "outbox")
                .unwrap();
        }
        root.send(axon::ipc::ProducerFinished::default(), "signal")
            .unwrap();
        assert!(sched.run().is_clean());
        let mut answers = Vec::new();
        while let Ok(m) = root.recv("inbox") {
            match m.downcast::<StorageEvent>() {
                Ok(StorageEvent::ReadDone {
                    block, data: got, ..
                }) => {
                    let at = (block.piece * 32768 + block.begin) as usize;
                    assert_eq!(got[..], data[at..at + 16384], "{block:?}");
                    answers.push((block.piece, block.begin, true));
                }
                Ok(StorageEvent::ReadFailed { block, .. }) => {
                    answers.push((block.piece, block.begin, false))
                }
                _ => {}
            }
        }
        let want: Vec<(u32, u32, bool)> = asks
            .iter()
            .map(|&(p, b)| (p, b, p * 32768 + b + 16384 <= 40000))
            .collect();
        assert_eq!(answers, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
