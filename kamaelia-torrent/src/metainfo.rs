//! .torrent files (BEP 3 metainfo, with BEP 12 `announce-list` and BEP 27 `private`): parse,
//! check and write. Pure: bytes in, values out, no I/O.
//!
//! The info-hash is the SHA-1 of the info dictionary's bytes exactly as they appear in the
//! file, never re-encoded. Everything a hostile file could use against a downloader is refused
//! with a [`MetainfoError`] that says what and where: bad bencode, wrong types, piece hashes
//! that do not add up, zero or absurd sizes, and file paths that could leave the download
//! folder.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use sha1::{Digest, Sha1};

use crate::bencode::{self, BencodeError, Value};

/// The largest piece length accepted (BEP 3 sets none; real torrents stay well below this).
pub const MAX_PIECE_LENGTH: u64 = 256 * 1024 * 1024;

/// The largest total size accepted: 1 PiB.
pub const MAX_TOTAL_LENGTH: u64 = 1 << 50;

/// A torrent's identity: the SHA-1 of its info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// 40 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One file of a torrent, with its place in the torrent's byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The path inside the torrent's folder, one checked component per element (for a
    /// single-file torrent: just the name).
    pub path: Vec<String>,
    /// Its length in bytes.
    pub length: u64,
    /// Where it starts in the concatenation of all files.
    pub offset: u64,
}

impl FileEntry {
    /// The path as a relative `PathBuf` (safe to join onto a download folder: every component
    /// was checked).
    pub fn relative_path(&self) -> PathBuf {
        self.path.iter().collect()
    }
}

/// The info dictionary: what the info-hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The suggested name: the file's name, or the folder's for a multi-file torrent.
    pub name: String,
    /// Bytes per piece (the last piece may be shorter).
    pub piece_length: u64,
    /// The SHA-1 of every piece.
    pub pieces: Vec<[u8; 20]>,
    /// BEP 27: peers only from the trackers.
    pub private: bool,
    /// The files, in order. A single-file torrent has one entry whose path is `[name]`.
    pub files: Vec<FileEntry>,
    /// True for the multi-file form (`files` list in the info dictionary).
    pub multi_file: bool,
}

impl Info {
    /// The total size of all files.
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }
    /// How many pieces.
    pub fn piece_count(&self) -> usize {
        self.pieces.len()
    }
    /// The length of piece `index` (all are `piece_length` but the last).
    pub fn piece_size(&self, index: usize) -> u64 {
        let start = index as u64 * self.piece_length;
        self.piece_length
            .min(self.total_length().saturating_sub(start))
    }
}

/// A parsed .torrent file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    /// The SHA-1 of the raw info dictionary.
    pub info_hash: InfoHash,
    /// The info dictionary, checked.
    pub info: Info,
    /// `announce`: the tracker.
    pub announce: Option<String>,
    /// `announce-list` (BEP 12): tiers of trackers.
    pub announce_list: Vec<Vec<String>>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since 1970.
    pub creation_date: Option<i64>,
    raw_info: Vec<u8>,
}

/// Why a .torrent file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetainfoError {
    /// Not valid (canonical) bencode.
    Bencode(BencodeError),
    /// A required key is missing.
    Missing(&'static str),
    /// A key holds the wrong kind of value.
    WrongType {
        /// The key.
        key: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// A value is out of range or inconsistent.
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A file path that could leave the download folder or is not a usable name.
    UnsafePath {
        /// The path as given (lossily shown).
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetainfoError::Bencode(e) => write!(f, "not a torrent file: {e}"),
            MetainfoError::Missing(k) => write!(f, "torrent file has no {k:?}"),
            MetainfoError::WrongType { key, expected } => {
                write!(f, "torrent file's {key:?} should be {expected}")
            }
            MetainfoError::Invalid { key, reason } => {
                write!(f, "torrent file's {key:?} is invalid: {reason}")
            }
            MetainfoError::UnsafePath { path, reason } => {
                write!(f, "torrent file names an unsafe path {path:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for MetainfoError {}

impl From<BencodeError> for MetainfoError {
    fn from(e: BencodeError) -> Self {
        MetainfoError::Bencode(e)
    }
}

fn wrong(key: &str, expected: &'static str) -> MetainfoError {
    MetainfoError::WrongType {
        key: key.to_string(),
        expected,
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> MetainfoError {
    MetainfoError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn opt_str(
    d: &BTreeMap<Vec<u8>, Value>,
    key: &'static str,
) -> Result<Option<String>, MetainfoError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(v) => v
            .as_bytes()
            .map(|b| Some(String::from_utf8_lossy(b).into_owned()))
            .ok_or_else(|| wrong(key, "a string")),
    }
}

fn non_negative(v: &Value, key: &str) -> Result<u64, MetainfoError> {
    let i = v.as_int().ok_or_else(|| wrong(key, "an integer"))?;
    u64::try_from(i).map_err(|_| invalid(key, format!("{i} is negative")))
}

/// Checks one path component: it must name a file or folder inside its parent.
fn check_component(c: &[u8], whole: &str) -> Result<String, MetainfoError> {
    let unsafe_path = |reason| MetainfoError::UnsafePath {
        path: whole.to_string(),
        reason,
    };
    if c.is_empty() {
        return Err(unsafe_path("an empty path component"));
    }
    let s = std::str::from_utf8(c).map_err(|_| unsafe_path("a component that is not UTF-8"))?;
    if s == "." || s == ".." {
        return Err(unsafe_path("a '.' or '..' component"));
    }
    if s.contains('/') || s.contains('\\') {
        return Err(unsafe_path("a separator inside a component"));
    }
    if s.contains('\0') {
        return Err(unsafe_path("a NUL byte"));
    }
    let b = s.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(unsafe_path("a drive prefix"));
    }
    Ok(s.to_string())
}

impl Metainfo {
    /// Parses and checks a .torrent file.
    ///
    /// ```
    /// use kamaelia_torrent::metainfo::{Metainfo, TorrentBuilder};
    ///
    /// let bytes = TorrentBuilder::new("hello.txt", 16384)
    ///     .tracker("http://127.0.0.1:6969/announce")
    ///     .single_file(b"hello, world\n")
    ///     .to_bytes();
    /// let m = Metainfo::from_bytes(&bytes).unwrap();
    /// assert_eq!(m.info.name, "hello.txt");
    /// assert_eq!(m.info.total_length(), 13);
    /// assert_eq!(m.info.piece_count(), 1);
    /// assert_eq!(m.to_bytes(), bytes);
    ///
    /// // Hostile input is an error, never a panic.
    /// assert!(Metainfo::from_bytes(b"d4:infod4:name2:..ee").is_err());
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        let (top, raw_info) = bencode::decode_dict_keeping_raw(bytes, b"info")?;
        let info_value = top
            .get(&b"info"[..])
            .ok_or(MetainfoError::Missing("info"))?;
        let raw_info = match (raw_info, info_value) {
            (Some(raw), Value::Dict(_)) => raw,
            _ => return Err(wrong("info", "a dictionary")),
        };
        let info = parse_info(info_value)?;
        let info_hash = InfoHash(Sha1::digest(raw_info).into());
        let announce = opt_str(&top, "announce")?;
        let announce_list = match top.get(&b"announce-list"[..]) {
            None => Vec::new(),
            Some(v) => {
                let tiers = v
                    .as_list()
                    .ok_or_else(|| wrong("announce-list", "a list of lists"))?;
                let mut out = Vec::new();
                for tier in tiers {
                    let urls = tier
                        .as_list()
                        .ok_or_else(|| wrong("announce-list", "a list of lists"))?;
                    let mut t = Vec::new();
                    for u in urls {
                        let u = u
                            .as_bytes()
                            .ok_or_else(|| wrong("announce-list", "a list of lists of strings"))?;
                        t.push(String::from_utf8_lossy(u).into_owned());
                    }
                    if !t.is_empty() {
                        out.push(t);
                    }
                }
                out
            }
        };
        let creation_date = match top.get(&b"creation date"[..]) {
            None => None,
            Some(v) => Some(
                v.as_int()
                    .ok_or_else(|| wrong("creation date", "an integer"))?,
            ),
        };
        Ok(Metainfo {
            info_hash,
            info,
            announce,
            announce_list,
            comment: opt_str(&top, "comment")?,
            created_by: opt_str(&top, "created by")?,
            creation_date,
            raw_info: raw_info.to_vec(),
        })
    }

    /// The trackers to try, tier by tier (BEP 12): `announce-list` if present, otherwise
    /// `announce` alone.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else {
            self.announce.iter().map(|a| vec![a.clone()]).collect()
        }
    }

    /// The raw info dictionary, exactly as in the file.
    pub fn raw_info(&self) -> &[u8] {
        &self.raw_info
    }

    /// Writes the torrent back out. The info dictionary is written exactly as it was read, so
    /// the info-hash is unchanged.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut top: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
        if let Some(a) = &self.announce {
            top.insert(b"announce".to_vec(), Value::bytes(a.as_bytes()));
        }
        if !self.announce_list.is_empty() {
            top.insert(
                b"announce-list".to_vec(),
                Value::List(
                    self.announce_list
                        .iter()
                        .map(|t| {
                            Value::List(t.iter().map(|u| Value::bytes(u.as_bytes())).collect())
                        })
                        .collect(),
                ),
            );
        }
        if let Some(c) = &self.comment {
            top.insert(b"comment".to_vec(), Value::bytes(c.as_bytes()));
        }
        if let Some(c) = &self.created_by {
            top.insert(b"created by".to_vec(), Value::bytes(c.as_bytes()));
        }
        if let Some(d) = self.creation_date {
            top.insert(b"creation date".to_vec(), Value::Int(d));
        }
        // The raw info was canonical (the parser refuses anything else), so decoding and
        // encoding it again gives the same bytes.
        let info = bencode::decode(&self.raw_info).expect("raw info was decoded before");
        top.insert(b"info".to_vec(), info);
        bencode::encode(&Value::Dict(top))
    }
}

fn parse_info(v: &Value) -> Result<Info, MetainfoError> {
    let d = v.as_dict().ok_or_else(|| wrong("info", "a dictionary"))?;
    let name_bytes = d
        .get(&b"name"[..])
        .ok_or(MetainfoError::Missing("info.name"))?
        .as_bytes()
        .ok_or_else(|| wrong("info.name", "a string"))?;
    let name = check_component(name_bytes, &String::from_utf8_lossy(name_bytes))?;
    let piece_length = non_negative(
        d.get(&b"piece length"[..])
            .ok_or(MetainfoError::Missing("info.piece length"))?,
        "info.piece length",
    )?;
    if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
        return Err(invalid(
            "info.piece length",
            format!("{piece_length} is not between 1 and {MAX_PIECE_LENGTH}"),
        ));
    }
    let pieces_raw = d
        .get(&b"pieces"[..])
        .ok_or(MetainfoError::Missing("info.pieces"))?
        .as_bytes()
        .ok_or_else(|| wrong("info.pieces", "a string"))?;
    if pieces_raw.len() % 20 != 0 {
        return Err(invalid(
            "info.pieces",
            format!(
                "{} bytes is not a whole number of 20-byte hashes",
                pieces_raw.len()
            ),
        ));
    }
    let private = match d.get(&b"private"[..]) {
        None => false,
        Some(v) => {
            v.as_int()
                .ok_or_else(|| wrong("info.private", "an integer"))?
                == 1
        }
    };
    let (files, multi_file) = match (d.get(&b"length"[..]), d.get(&b"files"[..])) {
        (Some(_), Some(_)) => return Err(invalid("info", "has both \"length\" and \"files\"")),
        (None, None) => return Err(MetainfoError::Missing("info.length or info.files")),
        (Some(len), None) => {
            let length = non_negative(len, "info.length")?;
            (
                vec![FileEntry {
                    path: vec![name.clone()],
                    length,
                    offset: 0,
                }],
                false,
            )
        }
        (None, Some(list)) => (parse_files(list)?, true),
    };
    let total = files.last().map(|f| f.offset + f.length).unwrap_or(0);
    let expected = total.div_ceil(piece_length);
    if pieces_raw.len() as u64 / 20 != expected {
        return Err(invalid(
            "info.pieces",
            format!(
                "{} hashes for {total} bytes in pieces of {piece_length} (needs {expected})",
                pieces_raw.len() / 20
            ),
        ));
    }
    let pieces = pieces_raw
        .chunks_exact(20)
        .map(|c| c.try_into().expect("chunks of 20"))
        .collect();
    Ok(Info {
        name,
        piece_length,
        pieces,
        private,
        files,
        multi_file,
    })
}

fn parse_files(list: &Value) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = list
        .as_list()
        .ok_or_else(|| wrong("info.files", "a list"))?;
    if list.is_empty() {
        return Err(invalid("info.files", "is empty"));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    let mut seen = std::collections::BTreeSet::new();
    for f in list {
        let fd = f
            .as_dict()
            .ok_or_else(|| wrong("info.files", "a list of dictionaries"))?;
        let length = non_negative(
            fd.get(&b"length"[..])
                .ok_or(MetainfoError::Missing("info.files.length"))?,
            "info.files.length",
        )?;
        let parts = fd
            .get(&b"path"[..])
            .ok_or(MetainfoError::Missing("info.files.path"))?
            .as_list()
            .ok_or_else(|| wrong("info.files.path", "a list of strings"))?;
        if parts.is_empty() {
            return Err(MetainfoError::UnsafePath {
                path: String::new(),
                reason: "an empty path",
            });
        }
        let whole = parts
            .iter()
            .map(|p| String::from_utf8_lossy(p.as_bytes().unwrap_or(b"?")).into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let mut path = Vec::with_capacity(parts.len());
        for p in parts {
            let b = p
                .as_bytes()
                .ok_or_else(|| wrong("info.files.path", "a list of strings"))?;
            path.push(check_component(b, &whole)?);
        }
        if !seen.insert(path.clone()) {
            return Err(MetainfoError::UnsafePath {
                path: whole,
                reason: "a path named twice",
            });
        }
        files.push(FileEntry {
            path,
            length,
            offset,
        });
        offset = offset
            .checked_add(length)
            .filter(|&t| t <= MAX_TOTAL_LENGTH)
            .ok_or_else(|| {
                invalid(
                    "info.files",
                    format!("total size exceeds {MAX_TOTAL_LENGTH}"),
                )
            })?;
    }
    // A file may not also be a folder of another (a/b and a/b/c). In the sorted set, a path
    // that is a folder of others comes just before the first of them: comparing neighbours
    // finds it in time linear in the paths' length (looking up every prefix of every path was
    // quadratic in a path's depth: a hostile path of 100,000 parts took 12 s).
    let mut sorted = seen.iter();
    if let Some(mut before) = sorted.next() {
        for path in sorted {
            if path.starts_with(before) {
                return Err(MetainfoError::UnsafePath {
                    path: path.join("/"),
                    reason: "a path inside another file",
                });
            }
            before = path;
        }
    }
    Ok(files)
}

/// Builds a .torrent from data in memory (for tests, examples and [`TorrentMaker`]'s
/// pieces). For files on disk, see the TorrentMaker component.
///
/// [`TorrentMaker`]: crate
#[derive(Clone, Debug)]
pub struct TorrentBuilder {
    name: String,
    piece_length: u64,
    trackers: Vec<Vec<String>>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    private: bool,
    files: Vec<(Vec<String>, u64)>,
    pieces: Vec<[u8; 20]>,
    multi_file: bool,
}

impl TorrentBuilder {
    /// A torrent named `name` with pieces of `piece_length` bytes.
    pub fn new(name: &str, piece_length: u64) -> TorrentBuilder {
        TorrentBuilder {
            name: name.to_string(),
            piece_length,
            trackers: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            private: false,
            files: Vec::new(),
            pieces: Vec::new(),
            multi_file: false,
        }
    }

    /// Adds a tracker in a tier of its own (the first one is also `announce`).
    pub fn tracker(mut self, url: &str) -> Self {
        self.trackers.push(vec![url.to_string()]);
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, text: &str) -> Self {
        self.comment = Some(text.to_string());
        self
    }

    /// Sets "created by".
    pub fn created_by(mut self, text: &str) -> Self {
        self.created_by = Some(text.to_string());
        self
    }

    /// Sets the creation date (seconds since 1970).
    pub fn creation_date(mut self, secs: i64) -> Self {
        self.creation_date = Some(secs);
        self
    }

    /// Marks the torrent private (BEP 27).
    pub fn private(mut self, yes: bool) -> Self {
        self.private = yes;
        self
    }

    /// A single-file torrent of `data`.
    pub fn single_file(mut self, data: &[u8]) -> Self {
        self.multi_file = false;
        self.files = vec![(vec![self.name.clone()], data.len() as u64)];
        self.pieces = hash_pieces(data, self.piece_length);
        self
    }

    /// A multi-file torrent of (path, data) pairs, in order.
    pub fn multi_file(mut self, files: &[(&[&str], &[u8])]) -> Self {
        self.multi_file = true;
        let mut all = Vec::new();
        self.files = files
            .iter()
            .map(|(p, d)| {
                all.extend_from_slice(d);
                (p.iter().map(|s| s.to_string()).collect(), d.len() as u64)
            })
            .collect();
        self.pieces = hash_pieces(&all, self.piece_length);
        self
    }

    /// Sets files and piece hashes computed elsewhere (by TorrentMaker, from disk).
    pub fn with_hashed_files(
        mut self,
        files: Vec<(Vec<String>, u64)>,
        pieces: Vec<[u8; 20]>,
        multi_file: bool,
    ) -> Self {
        self.files = files;
        self.pieces = pieces;
        self.multi_file = multi_file;
        self
    }

    /// The info dictionary as a bencode value.
    fn info_value(&self) -> Value {
        let mut info: Vec<(&str, Value)> = vec![
            ("name", Value::bytes(self.name.as_bytes())),
            ("piece length", Value::Int(self.piece_length as i64)),
            ("pieces", Value::Bytes(self.pieces.concat())),
        ];
        if self.private {
            info.push(("private", Value::Int(1)));
        }
        if self.multi_file {
            let files = self
                .files
                .iter()
                .map(|(p, len)| {
                    Value::dict([
                        ("length", Value::Int(*len as i64)),
                        (
                            "path",
                            Value::List(p.iter().map(|c| Value::bytes(c.as_bytes())).collect()),
                        ),
                    ])
                })
                .collect();
            info.push(("files", Value::List(files)));
        } else {
            let len = self.files.first().map(|f| f.1).unwrap_or(0);
            info.push(("length", Value::Int(len as i64)));
        }
        Value::dict(info)
    }

    /// The .torrent file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut top: Vec<(&str, Value)> = vec![("info", self.info_value())];
        if let Some(first) = self.trackers.first().and_then(|t| t.first()) {
            top.push(("announce", Value::bytes(first.as_bytes())));
        }
        if self.trackers.len() > 1 {
            top.push((
                "announce-list",
                Value::List(
                    self.trackers
                        .iter()
                        .map(|t| {
                            Value::List(t.iter().map(|u| Value::bytes(u.as_bytes())).collect())
                        })
                        .collect(),
                ),
            ));
        }
        if let Some(c) = &self.comment {
            top.push(("comment", Value::bytes(c.as_bytes())));
        }
        if let Some(c) = &self.created_by {
            top.push(("created by", Value::bytes(c.as_bytes())));
        }
        if let Some(d) = self.creation_date {
            top.push(("creation date", Value::Int(d)));
        }
        bencode::encode(&Value::dict(top))
    }
}

/// The SHA-1 of each `piece_length` slice of `data`.
pub fn hash_pieces(data: &[u8], piece_length: u64) -> Vec<[u8; 20]> {
    data.chunks(piece_length.max(1) as usize)
        .map(|c| Sha1::digest(c).into())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A multi-file .torrent of `paths`, each file one byte long, in one piece per byte.
    fn files_torrent(paths: &[Vec<&str>]) -> Vec<u8> {
        let mut b = b"d4:infod5:filesl".to_vec();
        for p in paths {
            b.extend_from_slice(b"d6:lengthi1e4:pathl");
            for part in p {
                b.extend_from_slice(format!("{}:{part}", part.len()).as_bytes());
            }
            b.extend_from_slice(b"ee");
        }
        b.extend_from_slice(b"e4:name1:x12:piece lengthi1e6:pieces");
        b.extend_from_slice(format!("{}:", 20 * paths.len()).as_bytes());
        b.extend_from_slice(&vec![0u8; 20 * paths.len()]);
        b.extend_from_slice(b"ee");
        b
    }

    #[test]
    fn a_file_that_is_also_a_folder_of_another_is_refused_in_any_order() {
        let cases: [&[Vec<&str>]; 4] = [
            &[vec!["a", "b"], vec!["a", "b", "c"]],
            &[vec!["a", "b", "c"], vec!["a", "b"]],
            &[
                vec!["a", "b"],
                vec!["a", "b!"],
                vec!["z"],
                vec!["a", "b", "d", "e"],
            ],
            &[vec!["q"], vec!["q", "r"]],
        ];
        for paths in cases {
            match Metainfo::from_bytes(&files_torrent(paths)) {
                Err(MetainfoError::UnsafePath { reason, .. }) => {
                    assert_eq!(reason, "a path inside another file", "{paths:?}")
                }
                other => panic!("{paths:?}: {other:?}"),
            }
        }
        // Neighbours that only look alike are fine.
        let fine = [
            vec!["a", "b"],
            vec!["a", "bc"],
            vec!["a", "c", "b"],
            vec!["ab"],
        ];
        assert_eq!(
            Metainfo::from_bytes(&files_torrent(&fine))
                .unwrap()
                .info
                .files
                .len(),
            4
        );
    }

    #[test]
    fn a_path_of_a_hundred_thousand_parts_is_accepted() {
        // Taking 12 s when every prefix of every path was looked up, in milliseconds now (a
        // speed this test does not time: it only keeps the case in the suite).
        let deep = vec!["a"; 100_000];
        let m = Metainfo::from_bytes(&files_torrent(&[deep])).unwrap();
        assert_eq!(m.info.files[0].path.len(), 100_000);
    }

    #[test]
    fn multi_file_offsets_and_round_trip() {
        let bytes = TorrentBuilder::new("dir", 4)
            .tracker("http://a/announce")
            .tracker("udp://b:1/announce")
            .multi_file(&[(&["a.txt"], b"12345"), (&["sub", "b.txt"], b"678")])
            .to_bytes();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert!(m.info.multi_file);
        assert_eq!(m.info.files[1].offset, 5);
        assert_eq!(m.info.files[1].relative_path(), PathBuf::from("sub/b.txt"));
        assert_eq!(m.info.piece_count(), 2);
        assert_eq!(m.info.piece_size(1), 4);
        assert_eq!(m.trackers().len(), 2);
        assert_eq!(m.to_bytes(), bytes);
        assert_eq!(m.info_hash.0, <[u8; 20]>::from(Sha1::digest(m.raw_info())));
    }
}
