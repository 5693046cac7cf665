//! A torrent's data on disk: blocks written and read by piece and offset, across file
//! boundaries, inside one download folder and nowhere else; pieces checked against their
//! hashes (also to resume a download from what is already on disk). Blocking file I/O: use it
//! from a threaded component, never on the scheduler's thread.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::metainfo::Info;
use crate::wire::Bitfield;

/// One file of the torrent, where it lives under the download folder.
#[derive(Debug)]
struct StoredFile {
    path: PathBuf,
    length: u64,
    offset: u64,
    file: Option<File>,
    /// The open handle may be written to.
    writable: bool,
}

/// The data of one torrent under a download folder.
#[derive(Debug)]
pub struct Storage {
    root: PathBuf,
    files: Vec<StoredFile>,
    piece_length: u64,
    total: u64,
    hashes: Vec<[u8; 20]>,
    /// Whether files may be changed beyond writing blocks (see [`Storage::finishing`]).
    finishing: bool,
}

/// Why storage refused or failed.
#[derive(Debug)]
pub enum StorageError {
    /// A block outside the torrent, or of a wrong size.
    OutOfRange {
        /// The piece.
        piece: u32,
        /// The offset in it.
        begin: u32,
        /// The length.
        length: u32,
    },
    /// The operating system failed us.
    Io(io::Error),
    /// The operating system failed us on this file (or on making its folder).
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: io::Error,
    },
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::OutOfRange {
                piece,
                begin,
                length,
            } => write!(
                f,
                "block (piece {piece}, offset {begin}, {length} bytes) is outside the torrent"
            ),
            StorageError::Io(e) => write!(f, "disk: {e}"),
            StorageError::File { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<io::Error> for StorageError {
    fn from(e: io::Error) -> Self {
        StorageError::Io(e)
    }
}

impl Storage {
    /// The storage of `info` under `root`: a single-file torrent is `root/<name>`, a
    /// multi-file one `root/<name>/<path...>`. Every path was checked when the .torrent was
    /// parsed (no `..`, no absolute or empty components), so none leaves `root`. Nothing is
    /// created until something is written.
    pub fn new(root: &Path, info: &Info) -> Storage {
        let base = root.join(&info.name);
        let files = info
            .files
            .iter()
            .map(|f| StoredFile {
                path: if info.multi_file {
                    base.join(f.relative_path())
                } else {
                    base.clone()
                },
                length: f.length,
                offset: f.offset,
                file: None,
                writable: false,
            })
            .collect();
        Storage {
            root: root.to_path_buf(),
            files,
            piece_length: info.piece_length,
            total: info.total_length(),
            hashes: info.pieces.clone(),
            finishing: true,
        }
    }

    /// Whether this storage may change files beyond writing blocks (default true): the
    /// setting [`ClientConfig::finish_files`](crate::engine::client::ClientConfig::finish_files)
    /// (off for `seed`, which promises to change no file). When it is off a file longer than
    /// the torrent says is never cut, not even when a block is first written into it (writes
    /// within the torrent's length still happen, and a shorter file is still given its
    /// length), and [`finish_files`](Self::finish_files) does nothing.
    ///
    /// ```
    /// use kamaelia_torrent::metainfo::{hash_pieces, Metainfo, TorrentBuilder};
    /// use kamaelia_torrent::storage::Storage;
    ///
    /// let dir = std::env::temp_dir().join(format!("kt-finishing-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let data = vec![7u8; 1024];
    /// let raw = TorrentBuilder::new("f.bin", 1024)
    ///     .with_hashed_files(vec![(vec!["f.bin".into()], 1024)], hash_pieces(&data, 1024), false)
    ///     .to_bytes();
    /// let info = Metainfo::from_bytes(&raw).unwrap().info;
    /// std::fs::write(dir.join("f.bin"), vec![0u8; 4096]).unwrap(); // longer than the torrent
    /// let mut storage = Storage::new(&dir, &info).finishing(false);
    /// storage.write_block(0, 0, &data).unwrap();
    /// assert_eq!(std::fs::metadata(dir.join("f.bin")).unwrap().len(), 4096); // not cut
    /// assert!(storage.verify_piece(0));
    /// storage.finish_files().unwrap(); // does nothing
    /// assert_eq!(std::fs::metadata(dir.join("f.bin")).unwrap().len(), 4096);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn finishing(mut self, finish: bool) -> Storage {
        self.finishing = finish;
        self
    }

    /// The download folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where each of the torrent's files is kept, with its length, in the torrent's order.
    pub fn files(&self) -> impl Iterator<Item = (&Path, u64)> {
        self.files.iter().map(|f| (f.path.as_path(), f.length))
    }

    /// Where a piece's block lies in the stream of all files, if it is inside the torrent.
    fn span(&self, piece: u32, begin: u32, length: u32) -> Result<u64, StorageError> {
        let out = || StorageError::OutOfRange {
            piece,
            begin,
            length,
        };
        let start = (piece as u64)
            .checked_mul(self.piece_length)
            .ok_or_else(out)?;
        if start >= self.total && !(start == 0 && length == 0) {
            return Err(out());
        }
        let piece_size = self.piece_length.min(self.total.saturating_sub(start));
        if begin as u64 + length as u64 > piece_size {
            return Err(out());
        }
        Ok(start + begin as u64)
    }

    fn open(&mut self, i: usize, write: bool) -> io::Result<&File> {
        let f = &mut self.files[i];
        // A file first opened for reading (to verify it) is opened again to be written.
        if f.file.is_none() || (write && !f.writable) {
            let file = if write {
                open_to_write(&f.path, f.length, self.finishing)?
            } else {
                File::open(&f.path)?
            };
            f.file = Some(file);
            f.writable = write;
        }
        Ok(f.file.as_ref().expect("just opened"))
    }

    /// File `i`, opened as [`open`](Storage::open) does; an error names the file.
    fn open_named(&mut self, i: usize, write: bool) -> Result<&File, StorageError> {
        if let Err(error) = self.open(i, write) {
            return Err(self.file_error(i, error));
        }
        Ok(self.files[i].file.as_ref().expect("just opened"))
    }

    /// `error`, met on file `i`, with the file's path.
    fn file_error(&self, i: usize, error: io::Error) -> StorageError {
        StorageError::File {
            path: self.files[i].path.clone(),
            error,
        }
    }

    /// The (file, offset in file, part of the block) spans of a block at stream offset `at`.
    fn pieces_of(&self, at: u64, len: usize) -> Vec<(usize, u64, std::ops::Range<usize>)> {
        let files = &self.files;
        crate::files::file_spans(files.len(), |i| (files[i].offset, files[i].length), at, len)
    }

    /// Writes a block (a peer's `piece` message) to disk.
    pub fn write_block(&mut self, piece: u32, begin: u32, data: &[u8]) -> Result<(), StorageError> {
        let at = self.span(piece, begin, data.len() as u32)?;
        for (i, within, range) in self.pieces_of(at, data.len()) {
            let file = self.open_named(i, true)?;
            write_all_at(file, &data[range], within).map_err(|e| self.file_error(i, e))?;
        }
        Ok(())
    }

    /// Writes blocks that follow one another in the torrent (each `(piece, begin, data)`
    /// starting where the one before ends): one vectored write for each file they fall in,
    /// so that a run of blocks from one peer costs one system call, not one per block.
    /// Blocks that do not follow one another are written one by one.
    pub fn write_run(&mut self, blocks: &[(u32, u32, &[u8])]) -> Result<(), StorageError> {
        let spans = blocks.iter().map(|&(p, b, data)| (p, b, data.len()));
        let Some((at, total)) = self.run_of(spans)? else {
            for &(piece, begin, data) in blocks {
                self.write_block(piece, begin, data)?;
            }
            return Ok(());
        };
        for (i, within, range) in self.pieces_of(at, total) {
            let lengths = blocks.iter().map(|&(_, _, data)| data.len());
            let parts: Vec<&[u8]> = parts_in(lengths, &range)
                .zip(blocks)
                .filter(|(r, _)| !r.is_empty())
                .map(|(r, &(_, _, data))| &data[r])
                .collect();
            let file = self.open_named(i, true)?;
            write_all_vectored_at(file, &parts, within).map_err(|e| self.file_error(i, e))?;
        }
        Ok(())
    }

    /// Where in the stream of all files a run of blocks (`(piece, begin, length)`) starts and
    /// how long it is, if each starts where the one before ends (an empty run too: at 0, 0
    /// long); `None` if they do not follow one another.
    fn run_of(
        &self,
        blocks: impl Iterator<Item = (u32, u32, usize)>,
    ) -> Result<Option<(u64, usize)>, StorageError> {
        let mut at = None;
        let mut contiguous = true;
        let mut total = 0usize;
        for (piece, begin, length) in blocks {
            let here = self.span(piece, begin, length as u32)?;
            let start = *at.get_or_insert(here);
            contiguous &= here == start + total as u64;
            total += length;
        }
        Ok(contiguous.then_some((at.unwrap_or(0), total)))
    }

    /// Reads blocks that follow one another in the torrent (each `(piece, begin, length)`
    /// starting where the one before ends), each into its own vector: one vectored read for
    /// each file they fall in, so that a peer's run of requests costs one system call, not
    /// one per block. Blocks that do not follow one another are read one by one.
    pub fn read_run(&mut self, blocks: &[(u32, u32, u32)]) -> Result<Vec<Vec<u8>>, StorageError> {
        let spans = blocks.iter().map(|&(p, b, len)| (p, b, len as usize));
        let Some((at, total)) = self.run_of(spans)? else {
            return blocks
                .iter()
                .map(|&(piece, begin, length)| self.read_block(piece, begin, length))
                .collect();
        };
        let mut out: Vec<Vec<u8>> = blocks
            .iter()
            .map(|&(_, _, length)| Vec::with_capacity(length as usize))
            .collect();
        for (i, within, range) in self.pieces_of(at, total) {
            let lengths = blocks.iter().map(|&(_, _, length)| length as usize);
            let mut parts: Vec<(&mut Vec<u8>, usize)> = out
                .iter_mut()
                .zip(parts_in(lengths, &range).map(|r| r.len()))
                .collect();
            let file = self.open_named(i, false)?;
            read_exact_vectored_appending(file, &mut parts, within)
                .map_err(|e| self.file_error(i, e))?;
        }
        Ok(out)
    }

    /// Reads a block (to answer a peer's `request`).
    pub fn read_block(
        &mut self,
        piece: u32,
        begin: u32,
        length: u32,
    ) -> Result<Vec<u8>, StorageError> {
        let at = self.span(piece, begin, length)?;
        // Not zeroed first: each part is read into the vector's spare room as it grows.
        let mut buf = Vec::with_capacity(length as usize);
        for (i, within, range) in self.pieces_of(at, length as usize) {
            let file = self.open_named(i, false)?;
            read_exact_at_appending(file, &mut buf, range.len(), within)
                .map_err(|e| self.file_error(i, e))?;
        }
        if buf.len() != length as usize {
            // The files end before the block (cannot happen for a block inside the torrent).
            return Err(StorageError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(buf)
    }

    /// The length of piece `index`.
    pub fn piece_size(&self, index: u32) -> u64 {
        let start = index as u64 * self.piece_length;
        self.piece_length.min(self.total.saturating_sub(start))
    }

    /// The SHA-1 piece `index` must have, if there is such a piece.
    pub fn expected_hash(&self, index: u32) -> Option<[u8; 20]> {
        self.hashes.get(index as usize).copied()
    }

    /// True if piece `index` on disk matches its hash (false if it cannot be read).
    pub fn verify_piece(&mut self, index: u32) -> bool {
        let Some(expected) = self.hashes.get(index as usize).copied() else {
            return false;
        };
        match self.hash_piece(index) {
            Ok(hash) => hash == expected,
            Err(_) => false,
        }
    }

    /// The SHA-1 of piece `index` as it is on disk: read through memory-mapped windows where
    /// the platform allows (no copy from the page cache; a file cut short meanwhile is an
    /// error), else read into a buffer.
    fn hash_piece(&mut self, index: u32) -> Result<[u8; 20], StorageError> {
        let len = self.piece_size(index) as u32;
        let at = self.span(index, 0, len)?;
        let mut h = Sha1::new();
        for (i, within, range) in self.pieces_of(at, len as usize) {
            let file = self.open(i, false)?;
            // A file too short to hold the piece (a download not yet begun) is answered at
            // once, not page by page.
            if file.metadata()?.len() < within + range.len() as u64 {
                return Err(StorageError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends before the piece",
                )));
            }
            match crate::mapped::Window::map(file, within, range.len()) {
                Some(w) => {
                    h.update(w.bytes());
                    w.check()?;
                }
                None => {
                    let mut buf = vec![0u8; range.len()];
                    read_exact_at(file, &mut buf, within)?;
                    h.update(&buf);
                }
            }
        }
        Ok(h.finalize().into())
    }

    /// True if none of the torrent's files holds a byte yet (missing or empty): a resume
    /// check can then skip every piece instead of failing to open a file for each.
    pub fn nothing_on_disk(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.file.is_none() && std::fs::metadata(&f.path).map_or(true, |m| m.len() == 0))
    }

    /// Checks every piece already on disk (to resume a download): the pieces that match.
    /// Missing files count as missing pieces; memory used is one piece.
    pub fn verify_all(&mut self) -> Bitfield {
        let mut have = Bitfield::new(self.hashes.len());
        for i in 0..self.hashes.len() as u32 {
            if self.verify_piece(i) {
                have.set(i as usize);
            }
        }
        have
    }

    /// Makes the files exactly what the torrent describes, once every piece is there: a
    /// missing empty file is created (no piece holds a byte of it, so nothing else would make
    /// it), and a file longer than the torrent says is cut to its length. Files already right
    /// are not touched. The error names the file. Nothing is done if the storage is not
    /// [`finishing`](Self::finishing).
    pub fn finish_files(&self) -> Result<(), StorageError> {
        if !self.finishing {
            return Ok(());
        }
        for f in &self.files {
            let failed = |error| StorageError::File {
                path: f.path.clone(),
                error,
            };
            // Through handles of their own, not kept: a torrent may list thousands of empty
            // files, and keeping a descriptor for each could run out of them at the very end.
            match std::fs::metadata(&f.path) {
                Ok(m) if m.is_dir() => {
                    let e = io::Error::new(io::ErrorKind::IsADirectory, "a folder is in the way");
                    return Err(failed(e));
                }
                Ok(m) if m.len() > f.length => {
                    open_to_write(&f.path, f.length, true).map_err(failed)?;
                    log::warn!(
                        "cut {} from {} to {} bytes, the torrent's length",
                        f.path.display(),
                        m.len(),
                        f.length
                    );
                }
                Ok(_) => {}
                // Only an empty file can be missing from a complete torrent.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    open_to_write(&f.path, f.length, true).map_err(failed)?;
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }

    /// Flushes written data to the disk.
    pub fn sync(&mut self) -> io::Result<()> {
        for f in self.files.iter().filter_map(|f| f.file.as_ref()) {
            f.sync_data()?;
        }
        Ok(())
    }
}

/// For blocks of `lengths` laid end to end, the part of each (in its own offsets, empty for
/// most) that falls in `range` of the run.
fn parts_in<'a>(
    lengths: impl Iterator<Item = usize> + 'a,
    range: &'a std::ops::Range<usize>,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut offset = 0usize;
    lengths.map(move |length| {
        let (lo, hi) = (offset, offset + length);
        offset = hi;
        let (from, to) = (lo.max(range.start), hi.min(range.end));
        if from < to {
            from - lo..to - lo
        } else {
            0..0
        }
    })
}

/// Opens the file at `path` to read and write: made (with its folders) if missing, cut to
/// `length` if longer and `may_cut` (else left longer), and given its full length with its
/// blocks reserved (see [`reserve`]).
fn open_to_write(path: &Path, length: u64, may_cut: bool) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let len = file.metadata()?.len();
    if len > length && may_cut {
        file.set_len(length)?;
    }
    reserve(&file, length, len.min(length))?;
    Ok(file)
}

/// Gives `file` (now `len` bytes) its full `length`, with its disk blocks reserved where the
/// file system can (`fallocate` on Linux): a full disk is an error now, not half-way through
/// the download, and writes into reserved blocks cost the kernel less than writes into a
/// hole (measured in docs/performance.md). Data already there is kept; reserved blocks read
/// as zeros. Where reserving is not supported, the file is only extended.
fn reserve(file: &File, length: u64, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if length > 0 {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: a plain system call on a descriptor `file` owns, alive for the call.
            let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, length as libc::off_t) };
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL) => break,
                _ => return Err(e),
            }
        }
    }
    if len != length {
        file.set_len(length)?;
    }
    Ok(())
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)
}

/// What a `pread`/`pwritev` result says: `Some(bytes)` done, `None` interrupted (try
/// again), or the error (`at_zero` if nothing could be done).
#[cfg(target_os = "linux")]
fn done_or_retry(n: isize, at_zero: io::ErrorKind) -> io::Result<Option<usize>> {
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(None)
        } else {
            Err(e)
        };
    }
    if n == 0 {
        return Err(at_zero.into());
    }
    Ok(Some(n as usize))
}

/// Writes every byte of `parts`, one after another, at `offset`: vectored writes
/// (`pwritev`) on Linux, one write per part elsewhere.
#[cfg(target_os = "linux")]
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut offset: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut slices: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    // Empty parts at the front are dropped.
    io::IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        // At most IOV_MAX (1024) slices a call.
        let count = rest.len().min(1024);
        // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix (std guarantees it); the
        // first `count` slices point to memory borrowed for the whole call, only read by the
        // kernel; the descriptor belongs to `file`, alive for the whole call.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                rest.as_ptr().cast::<libc::iovec>(),
                count as libc::c_int,
                offset as libc::off_t,
            )
        };
        let Some(n) = done_or_retry(n, io::ErrorKind::WriteZero)? else {
            continue;
        };
        offset += n as u64;
        io::IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn write_all_vectored_at(file: &File, parts: &[&[u8]], mut offset: u64) -> io::Result<()> {
    for part in parts {
        write_all_at(file, part, offset)?;
        offset += part.len() as u64;
    }
    Ok(())
}

/// Reads exactly `len` bytes at `offset` onto the end of `buf`, without zeroing them first
/// (`pread` into the spare capacity on Linux).
#[cfg(target_os = "linux")]
fn read_exact_at_appending(
    file: &File,
    buf: &mut Vec<u8>,
    len: usize,
    mut offset: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    buf.reserve(len);
    let end = buf.len() + len;
    while buf.len() < end {
        let want = end - buf.len();
        let spare = &mut buf.spare_capacity_mut()[..want];
        // SAFETY: `pread` writes at most `spare.len()` bytes into `spare`, memory that `buf`
        // owns and nothing else refers to during the call; the descriptor belongs to `file`,
        // alive for the whole call.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                offset as libc::off_t,
            )
        };
        let Some(n) = done_or_retry(n, io::ErrorKind::UnexpectedEof)? else {
            continue;
        };
        // SAFETY: the kernel initialised the first `n` bytes of the spare room (n <= its
        // length, as pread never returns more than it was given).
        unsafe { buf.set_len(buf.len() + n) };
        offset += n as u64;
    }
    Ok(())
}

/// Reads, at `offset`, what each part wants (`parts[i].1` bytes) onto the end of its vector
/// (`parts[i].0`), the parts one after another in the file, without zeroing them first: one
/// `preadv` into the vectors' spare capacities on Linux (more if the kernel returns short).
#[cfg(target_os = "linux")]
fn read_exact_vectored_appending(
    file: &File,
    parts: &mut [(&mut Vec<u8>, usize)],
    mut offset: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut first = 0;
    loop {
        while parts.get(first).is_some_and(|p| p.1 == 0) {
            first += 1;
        }
        if first == parts.len() {
            return Ok(());
        }
        // At most IOV_MAX (1024) slices a call.
        let iov: Vec<libc::iovec> = parts[first..]
            .iter_mut()
            .take(1024)
            .map(|(v, want)| {
                v.reserve(*want);
                libc::iovec {
                    iov_base: v.spare_capacity_mut().as_mut_ptr().cast(),
                    iov_len: *want,
                }
            })
            .collect();
        // SAFETY: each iovec points into the spare capacity of a distinct vector (at least
        // `want` bytes, reserved just above), which nothing else touches until the call
        // returns; the kernel writes at most `iov_len` bytes into each; the descriptor
        // belongs to `file`, alive for the whole call.
        let n = unsafe {
            libc::preadv(
                file.as_raw_fd(),
                iov.as_ptr(),
                iov.len() as libc::c_int,
                offset as libc::off_t,
            )
        };
        let Some(mut n) = done_or_retry(n, io::ErrorKind::UnexpectedEof)? else {
            continue;
        };
        offset += n as u64;
        for (v, want) in parts[first..].iter_mut() {
            if n == 0 {
                break;
            }
            let k = n.min(*want);
            // SAFETY: the kernel filled the vectors' iovecs in order; this one's first `k`
            // bytes (k <= its iov_len) are initialised.
            unsafe { v.set_len(v.len() + k) };
            *want -= k;
            n -= k;
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn read_exact_vectored_appending(
    file: &File,
    parts: &mut [(&mut Vec<u8>, usize)],
    mut offset: u64,
) -> io::Result<()> {
    for (v, want) in parts.iter_mut() {
        read_exact_at_appending(file, v, *want, offset)?;
        offset += *want as u64;
        *want = 0;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn read_exact_at_appending(
    file: &File,
    buf: &mut Vec<u8>,
    len: usize,
    offset: u64,
) -> io::Result<()> {
    let start = buf.len();
    buf.resize(start + len, 0);
    read_exact_at(file, &mut buf[start..], offset)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::{Metainfo, TorrentBuilder};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kt-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A torrent of three files (10, 3 and 17 bytes, one in a subfolder) in pieces of 8
    /// bytes, and the files' contents: bytes 0 to 29 in order.
    fn album() -> (crate::metainfo::Info, [Vec<u8>; 3]) {
        let a: Vec<u8> = (0..10u8).collect();
        let b: Vec<u8> = (10..13u8).collect();
        let c: Vec<u8> = (13..30u8).collect();
        let bytes = TorrentBuilder::new("album", 8)
            .multi_file(&[(&["a"], &a), (&["x", "b"], &b), (&["c"], &c)])
            .to_bytes();
        (Metainfo::from_bytes(&bytes).unwrap().info, [a, b, c])
    }

    #[test]
    fn blocks_across_files_land_in_the_right_places_and_verify() {
        let (info, [a, b, c]) = album();
        let d = temp_dir("across");
        let mut s = Storage::new(&d, &info);
        assert_eq!(s.verify_all().count(), 0, "nothing on disk yet");
        assert!(s.nothing_on_disk());
        let all = [a.clone(), b.clone(), c.clone()].concat();
        // Write pieces out of order, each in two blocks.
        for piece in [3u32, 0, 2, 1] {
            let size = s.piece_size(piece) as usize;
            let start = piece as usize * 8;
            let data = &all[start..start + size];
            let half = size / 2;
            s.write_block(piece, 0, &data[..half]).unwrap();
            s.write_block(piece, half as u32, &data[half..]).unwrap();
        }
        assert!(s.verify_all().is_complete());
        assert!(!s.nothing_on_disk());
        assert!(
            !Storage::new(&d, &info).nothing_on_disk(),
            "seen by a fresh storage too"
        );
        assert_eq!(std::fs::read(d.join("album/x/b")).unwrap(), b);
        assert_eq!(std::fs::read(d.join("album/c")).unwrap(), c);
        assert_eq!(s.read_block(1, 2, 6).unwrap(), all[10..16]);
        // A run of blocks across all three files in one go, then one out of order.
        let mut s2 = Storage::new(&d.join("run"), &info);
        let blocks: Vec<(u32, u32, &[u8])> = vec![
            (0, 0, &all[0..3]),
            (0, 3, &all[3..8]),
            (1, 0, &all[8..16]),
            (2, 0, &all[16..20]),
            (2, 4, &all[20..24]),
            (3, 0, &all[24..30]),
        ];
        s2.write_run(&blocks).unwrap();
        assert!(s2.verify_all().is_complete());
        assert_eq!(std::fs::read(d.join("run/album/x/b")).unwrap(), b);
        s2.write_run(&[(3, 0, &[9; 6][..]), (0, 0, &[8; 8][..])])
            .unwrap();
        assert_eq!(s2.read_block(0, 0, 8).unwrap(), [8; 8]);
        assert_eq!(s2.read_block(3, 0, 6).unwrap(), [9; 6]);
        assert!(s2
            .write_run(&[(0, 0, &[1; 8][..]), (4, 0, &[1][..])])
            .is_err());
        assert_eq!(s2.read_block(0, 0, 8).unwrap(), [8; 8], "nothing written");
        s2.write_run(&[]).unwrap();
        // Blocks outside the torrent are refused, not written.
        assert!(s.write_block(4, 0, &[1]).is_err());
        assert!(s.write_block(3, 0, &[0; 7]).is_err(), "piece 3 has 6 bytes");
        assert!(s.read_block(u32::MAX, u32::MAX, u32::MAX).is_err());
        assert!(
            s.read_block(4, 0, 0).is_err(),
            "past the last piece, even empty"
        );
        // Damage one byte: that piece no longer verifies, the others do.
        std::fs::write(d.join("album/a"), [0u8; 10]).unwrap();
        let have = s.verify_all();
        assert!(!have.has(0) && !have.has(1) && have.has(2) && have.has(3));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn pieces_in_a_file_cut_short_do_not_verify() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let bytes = TorrentBuilder::new("big", 65_536)
            .multi_file(&[(&["f"], &data)])
            .to_bytes();
        let info = Metainfo::from_bytes(&bytes).unwrap().info;
        let d = temp_dir("short");
        std::fs::create_dir_all(d.join("big")).unwrap();
        std::fs::write(d.join("big/f"), &data).unwrap();
        let mut s = Storage::new(&d, &info);
        assert!(s.verify_all().is_complete());
        // Cut short behind the storage's back (its file stays open): the pieces that reached
        // past the new end no longer verify; the whole ones still do.
        std::fs::OpenOptions::new()
            .write(true)
            .open(d.join("big/f"))
            .unwrap()
            .set_len(100_000)
            .unwrap();
        let have = s.verify_all();
        assert!(have.has(0), "piece 0 (bytes 0..65536) is whole");
        assert!(!have.has(1) && !have.has(2) && !have.has(3));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_written_gets_its_full_length_and_keeps_what_it_held() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let bytes = TorrentBuilder::new("t", 65_536)
            .multi_file(&[(&["short"], &data), (&["long"], &data), (&["new"], &data)])
            .to_bytes();
        let info = Metainfo::from_bytes(&bytes).unwrap().info;
        let d = temp_dir("reserve");
        std::fs::create_dir_all(d.join("t")).unwrap();
        // A partial download (the first 100,000 bytes) and a file longer than the torrent's.
        std::fs::write(d.join("t/short"), &data[..100_000]).unwrap();
        std::fs::write(d.join("t/long"), [&data[..], &[7u8; 5000][..]].concat()).unwrap();
        let mut s = Storage::new(&d, &info);
        let total = 3 * data.len();
        let last = (total / 65_536) as u32;
        for piece in [0u32, 5, 9, last] {
            let size = s.piece_size(piece) as usize;
            let at = piece as usize * 65_536;
            let all = [&data[..], &data[..], &data[..]].concat();
            s.write_block(piece, 0, &all[at..at + size]).unwrap();
        }
        for name in ["short", "long", "new"] {
            let meta = std::fs::metadata(d.join("t").join(name)).unwrap();
            assert_eq!(meta.len(), data.len() as u64, "{name}");
        }
        // What the partial file held before is still there; the rest reads as zeros until
        // written.
        let short = std::fs::read(d.join("t/short")).unwrap();
        assert_eq!(&short[..100_000], &data[..100_000]);
        assert!(short[131_072..196_608].iter().all(|&b| b == 0));
        assert_eq!(std::fs::read(d.join("t/long")).unwrap(), data);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_run_of_reads_across_files_gives_each_block_its_bytes() {
        let (info, [a, b, c]) = album();
        let d = temp_dir("readrun");
        let all = [a, b, c].concat();
        std::fs::create_dir_all(d.join("album/x")).unwrap();
        std::fs::write(d.join("album/a"), &all[0..10]).unwrap();
        std::fs::write(d.join("album/x/b"), &all[10..13]).unwrap();
        std::fs::write(d.join("album/c"), &all[13..30]).unwrap();
        let mut s = Storage::new(&d, &info);
        // Contiguous, across all three files, blocks of odd sizes.
        let run = [
            (0, 0, 3),
            (0, 3, 5),
            (1, 0, 8),
            (2, 0, 4),
            (2, 4, 4),
            (3, 0, 6),
        ];
        let got = s.read_run(&run).unwrap();
        let mut at = 0;
        for (data, &(_, _, len)) in got.iter().zip(&run) {
            assert_eq!(data[..], all[at..at + len as usize]);
            at += len as usize;
        }
        // Not contiguous: read one by one, in the order asked.
        let got = s.read_run(&[(3, 0, 6), (0, 2, 4)]).unwrap();
        assert_eq!((&got[0][..], &got[1][..]), (&all[24..30], &all[2..6]));
        assert!(s.read_run(&[]).unwrap().is_empty());
        assert!(s.read_run(&[(0, 0, 8), (4, 0, 1)]).is_err(), "past the end");
        // A file cut short: the run fails as a whole (the worker then reads block by block).
        std::fs::write(d.join("album/c"), &all[13..20]).unwrap();
        assert!(s.read_run(&run).is_err());
        assert_eq!(s.read_block(0, 0, 8).unwrap(), all[0..8]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn finishing_makes_empty_files_cuts_long_ones_and_names_a_folder_in_the_way() {
        let a = vec![1u8; 20];
        let bytes = TorrentBuilder::new("fin", 8)
            .multi_file(&[
                (&["a"], &a[..]),
                (&["deep", "e"], &[][..]),
                (&["z"], &[][..]),
            ])
            .to_bytes();
        let info = Metainfo::from_bytes(&bytes).unwrap().info;
        let d = temp_dir("finish");
        std::fs::create_dir_all(d.join("fin")).unwrap();
        let mut long = a.clone();
        long.extend_from_slice(b"tail");
        std::fs::write(d.join("fin/a"), &long).unwrap();
        let s = Storage::new(&d, &info);
        s.finish_files().unwrap();
        assert_eq!(std::fs::read(d.join("fin/a")).unwrap(), a);
        assert_eq!(std::fs::metadata(d.join("fin/deep/e")).unwrap().len(), 0);
        assert_eq!(std::fs::metadata(d.join("fin/z")).unwrap().len(), 0);
        // Right already: finishing again changes nothing.
        s.finish_files().unwrap();
        assert_eq!(std::fs::read(d.join("fin/a")).unwrap(), a);
        // A folder where an empty file should be: an error naming it.
        std::fs::remove_file(d.join("fin/z")).unwrap();
        std::fs::create_dir_all(d.join("fin/z")).unwrap();
        let s = Storage::new(&d, &info);
        match s.finish_files() {
            Err(StorageError::File { path, error }) => {
                assert_eq!(path, d.join("fin/z"));
                assert_eq!(error.kind(), io::ErrorKind::IsADirectory);
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
