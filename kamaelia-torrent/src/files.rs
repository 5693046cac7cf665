//! The files of a torrent on disk, seen as one stream of bytes: finding them under a path,
//! reading any range across file boundaries, and hashing pieces on several threads.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// One file of a [`FileSet`]: where it is, how long it is, where it starts in the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFile {
    /// Its path on disk.
    pub path: PathBuf,
    /// Its path inside the torrent, one component per element.
    pub torrent_path: Vec<String>,
    /// Its length.
    pub length: u64,
    /// Where it starts in the concatenation of all files.
    pub offset: u64,
}

/// Files read as one stream of bytes, in order.
#[derive(Clone, Debug, Default)]
pub struct FileSet {
    /// The files, in torrent order.
    pub files: Vec<DiskFile>,
}

impl FileSet {
    /// The files under `path`: the file itself, or every regular file in the folder and its
    /// subfolders, in byte order of their relative paths (as mktorrent and others do).
    /// Symbolic links and other special files are skipped. Returns the set and whether it is
    /// a folder (a multi-file torrent).
    pub fn scan(path: &Path) -> io::Result<(FileSet, bool)> {
        let meta = std::fs::metadata(path)?;
        if meta.is_file() {
            let name = file_name(path)?;
            return Ok((
                FileSet {
                    files: vec![DiskFile {
                        path: path.to_path_buf(),
                        torrent_path: vec![name],
                        length: meta.len(),
                        offset: 0,
                    }],
                },
                false,
            ));
        }
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is neither a file nor a folder", path.display()),
            ));
        }
        let mut found: Vec<(Vec<String>, PathBuf, u64)> = Vec::new();
        let mut stack = vec![(path.to_path_buf(), Vec::<String>::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                let name = entry
                    .file_name()
                    .to_str()
                    .map(str::to_string)
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{} has a name that is not UTF-8", entry.path().display()),
                        )
                    })?;
                let mut rel = prefix.clone();
                rel.push(name);
                if kind.is_dir() {
                    stack.push((entry.path(), rel));
                } else if kind.is_file() {
                    found.push((rel, entry.path(), entry.metadata()?.len()));
                }
            }
        }
        if found.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} holds no files", path.display()),
            ));
        }
        found.sort();
        let mut offset = 0;
        let files = found
            .into_iter()
            .map(|(torrent_path, path, length)| {
                let f = DiskFile {
                    path,
                    torrent_path,
                    length,
                    offset,
                };
                offset += length;
                f
            })
            .collect();
        Ok((FileSet { files }, true))
    }

    /// The total length.
    pub fn total_length(&self) -> u64 {
        self.files.last().map(|f| f.offset + f.length).unwrap_or(0)
    }

    /// Reads `buf.len()` bytes starting at `offset` of the stream, across files as needed.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.reader().read_at(offset, buf)
    }

    /// A reader that keeps the file it last read open, for many reads in a row.
    pub fn reader(&self) -> FileSetReader<'_> {
        FileSetReader {
            set: self,
            open: None,
        }
    }

    /// The SHA-1 of every piece, computed on `threads` threads (each hashes its own share of
    /// the pieces).
    ///
    /// The files are read through memory-mapped windows of 64 MiB where the platform allows
    /// (the hasher reads the page cache directly, with no copy); elsewhere, or if a file
    /// cannot be mapped, each piece is read into a buffer. A file cut short by another
    /// process while it is hashed is an error either way.
    pub fn hash_pieces(&self, piece_length: u64, threads: usize) -> io::Result<Vec<[u8; 20]>> {
        self.hash_pieces_in(piece_length, threads, MAP_WINDOW)
    }

    /// [`hash_pieces`](Self::hash_pieces) with windows of `window` bytes.
    fn hash_pieces_in(
        &self,
        piece_length: u64,
        threads: usize,
        window: usize,
    ) -> io::Result<Vec<[u8; 20]>> {
        let total = self.total_length();
        let count = total.div_ceil(piece_length.max(1)) as usize;
        let threads = threads.clamp(1, count.max(1));
        let per = count.div_ceil(threads);
        let mut out = vec![[0u8; 20]; count];
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for (t, chunk) in out.chunks_mut(per.max(1)).enumerate() {
                handles.push(s.spawn(move || -> io::Result<()> {
                    let mut reader = PieceReader::new(self, window);
                    for (i, slot) in chunk.iter_mut().enumerate() {
                        let index = (t * per + i) as u64;
                        let start = index * piece_length;
                        let len = piece_length.min(total - start) as usize;
                        *slot = reader.hash(start, len)?;
                    }
                    Ok(())
                }));
            }
            for h in handles {
                h.join()
                    .map_err(|_| io::Error::other("a hashing thread panicked"))??;
            }
            Ok::<(), io::Error>(())
        })?;
        Ok(out)
    }
}

/// How much of a file one mapped window covers while hashing (at least one piece).
const MAP_WINDOW: usize = 64 << 20;

/// Hashes ranges of a [`FileSet`], through a mapped window of the file last used when it
/// can, else through a buffer.
struct PieceReader<'a> {
    set: &'a FileSet,
    /// The file open now, and the window of it mapped now (file index, offset in the file).
    open: Option<(usize, File)>,
    window: Option<(u64, crate::mapped::Window)>,
    /// The size of a fresh window.
    window_size: usize,
    buf: Vec<u8>,
}

impl<'a> PieceReader<'a> {
    fn new(set: &'a FileSet, window_size: usize) -> PieceReader<'a> {
        PieceReader {
            set,
            open: None,
            window: None,
            window_size,
            buf: Vec::new(),
        }
    }

    /// The SHA-1 of `len` bytes from stream offset `at`.
    fn hash(&mut self, at: u64, len: usize) -> io::Result<[u8; 20]> {
        let files = &self.set.files;
        let spans = file_spans(files.len(), |i| (files[i].offset, files[i].length), at, len);
        let covered: usize = spans.iter().map(|(_, _, r)| r.len()).sum();
        if covered < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the files end {} bytes short", len - covered),
            ));
        }
        let mut h = Sha1::new();
        for (i, within, range) in spans {
            self.feed(&mut h, i, within, range.len())?;
        }
        Ok(h.finalize().into())
    }

    /// Feeds `len` bytes of file `i` from `within` to the hasher.
    fn feed(&mut self, h: &mut Sha1, i: usize, within: u64, len: usize) -> io::Result<()> {
        if !matches!(&self.open, Some((j, _)) if *j == i) {
            self.window = None;
            self.open = Some((i, File::open(&self.set.files[i].path)?));
        }
        let file = &self.open.as_ref().expect("opened just above").1;
        let fits = |w: &(u64, crate::mapped::Window)| {
            within >= w.0 && within + len as u64 <= w.0 + w.1.bytes().len() as u64
        };
        if !self.window.as_ref().is_some_and(fits) {
            // A fresh window from here: the window size, or the piece, or what is left. The
            // old one is unmapped first, so that a thread never holds two.
            self.window = None;
            let rest = self.set.files[i].length.saturating_sub(within);
            let size = (self.window_size as u64).max(len as u64).min(rest) as usize;
            self.window = crate::mapped::Window::map(file, within, size).map(|w| (within, w));
        }
        if let Some((from, w)) = &self.window {
            let skip = (within - from) as usize;
            h.update(&w.bytes()[skip..skip + len]);
            return w.check();
        }
        self.buf.resize(len, 0);
        read_exact_at(file, &mut self.buf, within)?;
        h.update(&self.buf);
        Ok(())
    }
}

/// Reads a [`FileSet`] as one stream, keeping the last file it used open.
#[derive(Debug)]
pub struct FileSetReader<'a> {
    set: &'a FileSet,
    open: Option<(usize, File)>,
}

impl FileSetReader<'_> {
    /// Reads `buf.len()` bytes starting at `offset` of the stream, across files as needed.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let files = &self.set.files;
        let spans = file_spans(
            files.len(),
            |i| (files[i].offset, files[i].length),
            offset,
            buf.len(),
        );
        let covered: usize = spans.iter().map(|(_, _, r)| r.len()).sum();
        if covered < buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the files end {} bytes short", buf.len() - covered),
            ));
        }
        for (i, within, range) in spans {
            let file = match &self.open {
                Some((j, file)) if *j == i => file,
                _ => &self.open.insert((i, File::open(&files[i].path)?)).1,
            };
            read_exact_at(file, &mut buf[range], within)?;
        }
        Ok(())
    }
}

/// Where a range of `len` bytes at stream offset `at` lies in a list of `n` files given as
/// (offset in the stream, length): for each file it touches, (file index, offset in that
/// file, the part of the range). Files are in stream order; the spans cover less than `len`
/// if the files end first.
pub(crate) fn file_spans(
    n: usize,
    file: impl Fn(usize) -> (u64, u64),
    at: u64,
    len: usize,
) -> Vec<(usize, u64, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut done = 0usize;
    // The first file that holds `at`: binary search over the (sorted) offsets.
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (off, length) = file(mid);
        if off + length <= at {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut i = lo;
    while done < len && i < n {
        let (off, length) = file(i);
        let pos = at + done as u64;
        if length > 0 && pos < off + length {
            let k = ((off + length - pos) as usize).min(len - done);
            out.push((i, pos - off, done..done + k));
            done += k;
        }
        i += 1;
    }
    out
}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no usable file name", path.display()),
            )
        })
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
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

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kt-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_across_files_and_hashes_like_one_stream() {
        let d = temp_dir("stream");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("b.txt"), b"6789").unwrap();
        std::fs::write(d.join("a.txt"), b"12345").unwrap();
        std::fs::write(d.join("sub/c.txt"), b"").unwrap();
        std::fs::write(d.join("sub/d.txt"), b"abc").unwrap();
        let (set, multi) = FileSet::scan(&d).unwrap();
        assert!(multi);
        let names: Vec<String> = set.files.iter().map(|f| f.torrent_path.join("/")).collect();
        assert_eq!(names, ["a.txt", "b.txt", "sub/c.txt", "sub/d.txt"]);
        let mut buf = [0u8; 6];
        set.read_at(3, &mut buf).unwrap();
        assert_eq!(&buf, b"456789");
        let all = b"123456789abc";
        for threads in [1, 2, 5] {
            assert_eq!(
                set.hash_pieces(5, threads).unwrap(),
                crate::metainfo::hash_pieces(all, 5)
            );
        }
        assert!(set.read_at(10, &mut [0u8; 5]).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn windows_of_any_size_hash_like_reading() {
        // Files of awkward sizes, pieces that span files, windows smaller than a piece,
        // windows that end mid-piece: every combination hashes like one in-memory stream.
        let d = temp_dir("windows");
        let sizes = [70_001usize, 0, 4096, 123_457, 1];
        let mut all = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*n).map(|k| ((k * 31 + i * 7) % 253) as u8).collect();
            std::fs::write(d.join(format!("f{i}")), &bytes).unwrap();
            all.extend_from_slice(&bytes);
        }
        let (set, _) = FileSet::scan(&d).unwrap();
        for piece in [16_384u64, 65_536, 100_000] {
            let expect = crate::metainfo::hash_pieces(&all, piece);
            for window in [4096, 20_000, 1 << 20] {
                for threads in [1, 3] {
                    assert_eq!(
                        set.hash_pieces_in(piece, threads, window).unwrap(),
                        expect,
                        "piece {piece}, window {window}, threads {threads}"
                    );
                }
            }
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_shorter_than_when_scanned_is_an_error() {
        let d = temp_dir("shrunk");
        std::fs::write(d.join("f"), vec![1u8; 200_000]).unwrap();
        let (set, _) = FileSet::scan(&d.join("f")).unwrap();
        std::fs::write(d.join("f"), vec![1u8; 50_000]).unwrap();
        let e = set.hash_pieces(65_536, 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
