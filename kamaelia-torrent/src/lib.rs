//! BitTorrent for Kamaelia, built on [`axon`] components.
//!
//! This crate is a skeleton: the torrent components (TorrentService, TorrentPatron,
//! TorrentClient, TorrentMaker, a tracker) arrive with issues 4 and 5. It already re-exports
//! `axon` so that programs can depend on this crate alone.
#![deny(missing_docs)]

pub use axon;
