//! Trackers: announce messages ([`announce`], [`udp`], [`http`], all pure codecs), the
//! blocking [`client`] that announces to HTTP and UDP trackers, and our own tracker server.

pub mod announce;
pub mod client;
pub mod http;
pub mod server;
pub mod swarm;
pub mod udp;
