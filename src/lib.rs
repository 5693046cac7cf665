//! The umbrella crate: `kamaelia::axon` is the component framework, `kamaelia::torrent` the
//! BitTorrent components built on it.
#![deny(missing_docs)]

pub use axon;
pub use kamaelia_torrent as torrent;
