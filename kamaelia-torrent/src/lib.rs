//! BitTorrent for Kamaelia, built of [`axon`] components: Kamaelia's `TorrentPatron`,
//! `TorrentService` and `TorrentClient` (routed exactly as the original routes them) over our
//! own BitTorrent engine, plus `TorrentMaker`, a tracker and the `kamaelia-torrent` tool.
//!
//! # Layout
//!
//! - Pure codecs, no I/O: [`bencode`], [`metainfo`] (.torrent files), [`wire`] (peer
//!   messages), [`tracker::announce`], [`tracker::http`], [`tracker::udp`]; and the engine's
//!   decisions: [`engine::picker`], [`engine::choker`], [`engine::rate`].
//! - Blocking parts, used from threaded components: [`files`], [`storage`],
//!   [`tracker::client`].
//! - Components: [`patron::TorrentPatron`], [`service::TorrentService`],
//!   [`engine::client::TorrentClient`] and what it is made of ([`engine::session`],
//!   [`engine::peer`], [`engine::storage_worker`], [`engine::announcer`]);
//!   [`maker::TorrentMaker`]; [`tracker::server::Tracker`]; [`explainer`].
//! - Messages: [`ipc`] (Kamaelia's `TIPC...` classes).
//! - Process set-up: [`allocator`] (the C allocator's settings for streaming).
//! - [`random`]: the pseudo-random generator the rest uses (not for secrets).
//!
//! `docs/torrent-design.md` draws the engine and follows a block through it.
//!
//! # Downloading, as a Kamaelia program does it
//!
//! A `TorrentPatron` takes `TIPCCreateNewTorrent` (or the raw .torrent bytes) on its `inbox`
//! and sends the client's replies and status updates out of its `outbox`. Here one seeds a
//! small file and another downloads it, each with its own scheduler (as two programs would),
//! on 127.0.0.1:
//!
//! ```
//! use std::time::Duration;
//! use axon::{component, Scheduler};
//! use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
//! use kamaelia_torrent::ipc::{TIPCCreateNewTorrent, TIPCTorrentStatusUpdate, TorrentState};
//! use kamaelia_torrent::metainfo::TorrentBuilder;
//! use kamaelia_torrent::patron::TorrentPatron;
//!
//! let dir = std::env::temp_dir().join(format!("kt-doc-lib-{}", std::process::id()));
//! let (seed_dir, leech_dir) = (dir.join("seed"), dir.join("leech"));
//! std::fs::create_dir_all(&seed_dir).unwrap();
//! let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 256) as u8).collect();
//! std::fs::write(seed_dir.join("hello.bin"), &data).unwrap();
//! let torrent = TorrentBuilder::new("hello.bin", 32768).single_file(&data).to_bytes();
//!
//! // The seeder: a TorrentClient listening on a free port, in a thread of its own.
//! let seeder = TorrentClient::new(ClientConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     save_folder: seed_dir,
//!     ..ClientConfig::default()
//! });
//! let seeder_addr = seeder.local_addr().unwrap();
//! let t = torrent.clone();
//! std::thread::spawn(move || {
//!     let sched = Scheduler::new();
//!     let root = sched.root();
//!     let c = root.spawn(seeder);
//!     root.link((root.id(), "outbox"), (c, "inbox")).unwrap();
//!     root.send(t, "outbox").unwrap();
//!     sched.run();
//! });
//!
//! // The downloader: a patron (so a TorrentService and its client), told where a peer is.
//! let sched = Scheduler::new();
//! let root = sched.root();
//! let config = ClientConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     peers: vec![seeder_addr],
//!     status_interval: Duration::from_millis(100),
//!     ..ClientConfig::default()
//! };
//! let patron = root.spawn(TorrentPatron::new(TorrentClient::factory(config)));
//! let watcher = root.spawn(component("Watcher", |ctx| async move {
//!     loop {
//!         while let Ok(m) = ctx.recv("inbox") {
//!             if let Some(u) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
//!                 if u.stats.state == TorrentState::Seeding {
//!                     // Done: tell the patron to finish; the service and client follow.
//!                     ctx.send(axon::ipc::ProducerFinished::default(), "signal")?;
//!                     return Ok(());
//!                 }
//!             }
//!         }
//!         ctx.pause();
//!         ctx.yield_now().await;
//!     }
//! }));
//! root.link((root.id(), "outbox"), (patron, "inbox")).unwrap();
//! root.link((patron, "outbox"), (watcher, "inbox")).unwrap();
//! root.link((watcher, "signal"), (patron, "control")).unwrap();
//! root.send(
//!     TIPCCreateNewTorrent { raw_metainfo: torrent, save_folder: Some(leech_dir.clone()) },
//!     "outbox",
//! ).unwrap();
//! let report = sched.run();
//! assert!(report.failures.is_empty(), "{report:?}");
//! assert_eq!(std::fs::read(leech_dir.join("hello.bin")).unwrap(), data);
//! # std::fs::remove_dir_all(&dir).ok();
//! ```
#![deny(missing_docs)]

pub use axon;

pub mod allocator;
pub mod bencode;
pub mod engine;
pub mod explainer;
pub mod files;
pub mod ipc;
pub mod maker;
mod mapped;
pub mod metainfo;
pub mod patron;
pub mod random;
pub mod service;
pub mod storage;
pub mod tracker;
pub mod wire;
