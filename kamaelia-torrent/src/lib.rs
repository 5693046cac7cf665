//! BitTorrent for Kamaelia, built on [`axon`] components.
//!
//! Work in progress: the pure codecs come first ([`bencode`], then metainfo, peer wire and
//! tracker messages); the components (TorrentService, TorrentPatron, TorrentClient,
//! TorrentMaker, a tracker) follow. It re-exports `axon` so that programs can depend on this
//! crate alone.
#![deny(missing_docs)]

pub use axon;

pub mod bencode;
pub mod engine;
pub mod explainer;
pub mod files;
pub mod ipc;
pub mod maker;
pub mod metainfo;
pub mod patron;
pub mod service;
pub mod storage;
pub mod tracker;
pub mod wire;
