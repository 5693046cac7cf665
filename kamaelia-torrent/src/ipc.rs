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

/// Where a reply goes: a component and one of its inboxes (Kamaelia's `replyService`).
pub type ReplyService = (axon::ComponentId, String);

/// A patron's request wrapped for the service, with where to send the replies (Kamaelia's
/// `TIPCServicePassOn`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug)]
pub struct TIPCServicePassOn {
    /// Where replies go.
    pub reply_service: ReplyService,
    /// The request.
    pub message: axon::Message,
}

/// "Add a client to TorrentService" (Kamaelia's `TIPCServiceAdd`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCServiceAdd {
    /// Where the new client's replies go.
    pub reply_service: ReplyService,
}

/// "Remove a client from TorrentService" (Kamaelia's `TIPCServiceRemove`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCServiceRemove {
    /// The client leaving.
    pub reply_service: ReplyService,
}

/// "Create a new torrent": the raw bytes of a .torrent file, and where to save its data
/// (Kamaelia always used `./<name>`; here the requester chooses, `None` meaning the client's
/// default folder). A plain `Vec<u8>` or `String` sent to a client means the same, as in
/// Kamaelia.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCCreateNewTorrent {
    /// The .torrent file's bytes.
    pub raw_metainfo: Vec<u8>,
    /// The folder to save into.
    pub save_folder: Option<PathBuf>,
}

impl fmt::Display for TIPCCreateNewTorrent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Create a new torrent")
    }
}

/// "New torrent N created in FOLDER" (Kamaelia's `TIPCNewTorrentCreated`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCNewTorrentCreated {
    /// The torrent's id in its client (from 1, in order).
    pub torrent_id: u32,
    /// Where its data goes.
    pub save_folder: PathBuf,
}

impl fmt::Display for TIPCNewTorrentCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "New torrent {} created in {}",
            self.torrent_id,
            self.save_folder.display()
        )
    }
}

/// "That torrent is already downloading!" (Kamaelia's `TIPCTorrentAlreadyDownloading`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCTorrentAlreadyDownloading {
    /// The id it already has.
    pub torrent_id: u32,
}

impl fmt::Display for TIPCTorrentAlreadyDownloading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("That torrent is already downloading!")
    }
}

/// "Torrent failed to start!", with why (Kamaelia declared it but never sent it; here every
/// create request that fails gets one, so that replies stay one per request).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TIPCTorrentStartFail {
    /// Why.
    pub reason: String,
}

impl fmt::Display for TIPCTorrentStartFail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Torrent failed to start! ({})", self.reason)
    }
}

/// "Close torrent N" (Kamaelia's `TIPCCloseTorrent`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TIPCCloseTorrent {
    /// The torrent.
    pub torrent_id: u32,
}

impl fmt::Display for TIPCCloseTorrent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Close torrent {}", self.torrent_id)
    }
}

/// What a torrent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentState {
    /// Checking data already on disk.
    Checking,
    /// Fetching pieces.
    Downloading,
    /// Complete and serving others.
    Seeding,
    /// Stopped (closed or failed).
    Stopped,
}

/// A torrent's statistics (the typed form of Kamaelia's status dictionary).
#[derive(Clone, Debug, PartialEq)]
pub struct TorrentStats {
    /// Share of the data verified, 0 to 1 (exactly 1 when complete).
    pub fraction_done: f64,
    /// Bytes a second received lately.
    pub down_rate: f64,
    /// Bytes a second sent lately.
    pub up_rate: f64,
    /// Bytes received in all.
    pub down_total: u64,
    /// Bytes sent in all.
    pub up_total: u64,
    /// Peers connected.
    pub num_peers: u32,
    /// Of those, seeds.
    pub num_seeds: u32,
    /// What it is doing.
    pub state: TorrentState,
    /// Seconds left at the current rate, when downloading and the rate is known.
    pub eta_seconds: Option<u64>,
    /// Why the torrent stopped, when it stopped because something failed (a write to the
    /// disk): in words, naming the file or folder.
    pub error: Option<String>,
}

impl TorrentStats {
    /// A download `fraction_done` of the way through with nothing else known yet: no rates,
    /// totals, peers or estimate. For displays and tests to start from.
    ///
    /// ```
    /// use kamaelia_torrent::ipc::{TorrentState, TorrentStats};
    ///
    /// let s = TorrentStats { num_peers: 3, ..TorrentStats::downloading(0.25) };
    /// assert_eq!((s.state, s.fraction_done, s.num_peers), (TorrentState::Downloading, 0.25, 3));
    /// assert_eq!(s.as_map()["downRate"], 0.0);
    /// ```
    pub fn downloading(fraction_done: f64) -> TorrentStats {
        TorrentStats {
            fraction_done,
            down_rate: 0.0,
            up_rate: 0.0,
            down_total: 0,
            up_total: 0,
            num_peers: 0,
            num_seeds: 0,
            state: TorrentState::Downloading,
            eta_seconds: None,
            error: None,
        }
    }

    /// The map view Kamaelia's programs read (`fractionDone`, `downRate`, ...); `timeEst` is
    /// absent when there is no estimate, as in Mainline.
    pub fn as_map(&self) -> std::collections::BTreeMap<&'static str, f64> {
        let mut m = std::collections::BTreeMap::new();
        m.insert("fractionDone", self.fraction_done);
        m.insert("downRate", self.down_rate);
        m.insert("upRate", self.up_rate);
        m.insert("downTotal", self.down_total as f64);
        m.insert("upTotal", self.up_total as f64);
        m.insert("numPeers", self.num_peers as f64);
        m.insert("numSeeds", self.num_seeds as f64);
        if let Some(eta) = self.eta_seconds {
            m.insert("timeEst", eta as f64);
        }
        m
    }
}

/// "Torrent N status : P%" (Kamaelia's `TIPCTorrentStatusUpdate`).
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Debug, PartialEq)]
pub struct TIPCTorrentStatusUpdate {
    /// The torrent.
    pub torrent_id: u32,
    /// Its statistics.
    pub stats: TorrentStats,
}

impl fmt::Display for TIPCTorrentStatusUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Kamaelia: str(int(fractionDone * 100)) + "%", truncated, not rounded.
        write!(
            f,
            "Torrent {} status : {}%",
            self.torrent_id,
            (self.stats.fraction_done * 100.0) as u32
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_kamaelias() {
        let stats = TorrentStats::downloading(0.459);
        let u = TIPCTorrentStatusUpdate {
            torrent_id: 3,
            stats: stats.clone(),
        };
        assert_eq!(u.to_string(), "Torrent 3 status : 45%");
        assert_eq!(u.stats.as_map()["fractionDone"], 0.459);
        assert!(!u.stats.as_map().contains_key("timeEst"));
        let c = TIPCNewTorrentCreated {
            torrent_id: 1,
            save_folder: "./ubuntu".into(),
        };
        assert_eq!(c.to_string(), "New torrent 1 created in ./ubuntu");
        assert_eq!(
            TIPCCloseTorrent { torrent_id: 2 }.to_string(),
            "Close torrent 2"
        );
        assert_eq!(
            TIPCTorrentAlreadyDownloading { torrent_id: 1 }.to_string(),
            "That torrent is already downloading!"
        );
    }
}
