//! The torrent IPC messages (Kamaelia's `TorrentIPC.py`), under their Kamaelia names.

use std::fmt;
use std::path::PathBuf;

/// "Create a .torrent file": a request to [`TorrentMaker`](crate::maker::TorrentMaker).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCMakeTorrent {
    /// The tracker's announce URL.
    pub tracker_url: String,
    /// The piece size as a power of two (18 means 256 KiB, Kamaelia's default).
    pub log2_piece_size_bytes: u8,
    /// The torrent's name (Kamaelia: the file's base name).
    pub title: String,
    /// The comment (Kamaelia: "Created by Kamaelia").
    pub comment: String,
    /// The file or folder to make the torrent of.
    pub src_file: PathBuf,
}

impl fmt::Display for TIPCMakeTorrent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Create a .torrent file of {}", self.src_file.display())
    }
}
