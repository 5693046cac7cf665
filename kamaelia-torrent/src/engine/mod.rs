//! The TorrentClient's engine: the pure decision-making parts (which blocks to request, whom
//! to unchoke, how fast data flows) and the components that move messages between peers,
//! the torrent's session, storage and the tracker.

pub mod addresses;
pub mod announcer;
pub mod choker;
pub mod client;
pub mod peer;
pub mod picker;
pub mod rate;
pub mod session;
pub mod storage_worker;
