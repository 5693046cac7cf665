//! `Announcer`: a torrent's tracker announces on their own thread (they block on the
//! network), through the tiers of its trackers (BEP 12).
//!
//! It announces `started` at once, then regularly at the interval the tracker asks for (at
//! least [`MIN_INTERVAL`]), `completed` when told the download finished, and `stopped` when it
//! is told to stop. Each answer's peers go out of `outbox`. A download that got no peers asks
//! again sooner (see [`NO_PEERS_RETRY`]), so that a leecher that arrived before its seeder
//! does not wait for the tracker's whole interval.
//!
//! The `stopped` announce has one deadline for all trackers, [`STOPPED_DEADLINE`]: it goes
//! first to the tracker that last answered (the one that knows us), then through the tiers
//! as usual until one takes it or the deadline passes, so that stopping is prompt however
//! many dead trackers the .torrent lists.
//!
//! | box | what |
//! |---|---|
//! | `inbox` | [`AnnounceProgress`]: the torrent's totals, and `completed` when it finishes |
//! | `control` | any stop message: announce `stopped` (within [`STOPPED_DEADLINE`]) and end |
//! | `outbox` | [`TrackerPeers`] after each successful announce |
//! | `signal` | [`ProducerFinished`] when it ends |

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axon::ipc::ProducerFinished;
use axon::{BoxSpec, ComponentResult, ThreadCtx, ThreadedComponent};

use crate::metainfo::InfoHash;
use crate::tracker::announce::{AnnounceRequest, Event, PeerId, TrackerError};
use crate::tracker::client::TrackerClient;

/// The shortest wait between regular announces, whatever the tracker says.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);

/// How long to wait before trying again after every tracker failed.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(15);

/// While downloading with no peers from the tracker, the first wait before asking again; it
/// doubles each time the answer is empty, up to the tracker's interval (and never below its
/// `min interval`).
pub const NO_PEERS_RETRY: Duration = Duration::from_secs(2);

/// The longest the `stopped` announce may take, all trackers together (each one tried gets
/// at most 2 s of it over HTTP, one 1 s attempt over UDP). It is the tracker client's
/// [`give_up_at`](crate::tracker::client::TrackerClient::give_up_at), so no wait for a
/// connection, an answer or a host name's lookup goes past it.
pub const STOPPED_DEADLINE: Duration = Duration::from_secs(3);

/// The torrent's totals, sent to the announcer whenever they change much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceProgress {
    /// Bytes sent.
    pub uploaded: u64,
    /// Bytes received.
    pub downloaded: u64,
    /// Bytes still needed.
    pub left: u64,
    /// True once: the download has just completed (announce `completed` now).
    pub completed: bool,
}

/// Peers a tracker gave us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerPeers {
    /// Their addresses.
    pub peers: Vec<SocketAddr>,
}

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "AnnounceProgress: totals, and completed"),
    BoxSpec::new("control", "Any stop message: announce stopped and end"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "TrackerPeers after each successful announce"),
    BoxSpec::new("signal", "ProducerFinished when it ends"),
];

/// A torrent's announces (see the module documentation).
///
/// ```
/// use axon::{Scheduler, Threaded};
/// use kamaelia_torrent::engine::announcer::Announcer;
/// use kamaelia_torrent::metainfo::InfoHash;
/// use kamaelia_torrent::tracker::announce::PeerId;
///
/// // No trackers: it has nothing to do but wait to be stopped.
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let a = root.create(Threaded::new(Announcer::new(vec![], InfoHash([0; 20]), PeerId::generate(), 6881, 100)));
/// root.link((root.id(), "signal"), (a, "control")).unwrap();
/// root.activate(a).unwrap();
/// root.send(axon::ipc::ShutdownMicroprocess::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// ```
pub struct Announcer {
    tiers: Vec<Vec<String>>,
    info_hash: InfoHash,
    peer_id: PeerId,
    port: u16,
    left: u64,
    client: TrackerClient,
    /// Empty answers in a row while downloading.
    empty: u32,
    /// The tracker that answered last.
    last_answered: Option<String>,
}

impl Announcer {
    /// Announces `info_hash` for the client `peer_id` listening on `port`, to the trackers in
    /// `tiers` (BEP 12 order), with `left` bytes still needed at start.
    pub fn new(
        tiers: Vec<Vec<String>>,
        info_hash: InfoHash,
        peer_id: PeerId,
        port: u16,
        left: u64,
    ) -> Announcer {
        Announcer {
            tiers,
            info_hash,
            peer_id,
            port,
            left,
            client: TrackerClient::default(),
            empty: 0,
            last_answered: None,
        }
    }

    /// With these time-outs and retries instead of the defaults.
    pub fn with_client(mut self, client: TrackerClient) -> Announcer {
        self.client = client;
        self
    }

    fn announce(
        &mut self,
        ctx: &ThreadCtx,
        progress: &AnnounceProgress,
        event: Option<Event>,
        stop: &dyn Fn() -> bool,
    ) -> Option<(Duration, bool)> {
        if self.tiers.is_empty() {
            return None;
        }
        let req = AnnounceRequest {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: progress.uploaded,
            downloaded: progress.downloaded,
            left: progress.left,
            event,
            numwant: Some(50),
            key: u32::from_be_bytes(self.peer_id.0[16..20].try_into().unwrap_or([0; 4])),
        };
        match self
            .client
            .announce_tiers_or_stop(&mut self.tiers, &req, stop)
        {
            Ok((url, resp)) => {
                self.last_answered = Some(url.clone());
                if let Some(w) = &resp.warning {
                    log::warn!("{}: tracker {url} warns: {w}", ctx.name());
                }
                log::debug!(
                    "{}: {url} gave {} peers, interval {} s",
                    ctx.name(),
                    resp.peers.len(),
                    resp.interval
                );
                let min = Duration::from_secs(resp.min_interval.unwrap_or(0) as u64);
                let interval = Duration::from_secs(resp.interval as u64)
                    .max(min)
                    .max(MIN_INTERVAL);
                if resp.peers.is_empty() && progress.left > 0 && event != Some(Event::Stopped) {
                    let backoff = NO_PEERS_RETRY * 2u32.saturating_pow(self.empty.min(16));
                    self.empty += 1;
                    return Some((backoff.min(interval).max(min), true));
                }
                self.empty = 0;
                if !resp.peers.is_empty() {
                    let _ = ctx.send_waiting(TrackerPeers { peers: resp.peers }, "outbox");
                }
                Some((interval, true))
            }
            Err(errors) => {
                for (url, e) in errors {
                    if matches!(e, TrackerError::Stopped) {
                        log::debug!("{}: announce to {url} given up: stopping", ctx.name());
                    } else {
                        log::warn!("{}: announce to {url} failed: {e}", ctx.name());
                    }
                }
                Some((RETRY_INTERVAL, false))
            }
        }
    }
}

impl ThreadedComponent for Announcer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    fn main(mut self, ctx: ThreadCtx) -> ComponentResult {
        let mut progress = AnnounceProgress {
            uploaded: 0,
            downloaded: 0,
            left: self.left,
            completed: false,
        };
        let mut started = false;
        // `completed` is owed until a tracker has taken it; `fresh` while it has not been tried.
        let mut owe_completed = false;
        let mut fresh = false;
        let mut next = Instant::now();
        loop {
            while let Ok(m) = ctx.recv("inbox") {
                if let Ok(p) = m.downcast::<AnnounceProgress>() {
                    if p.completed && !owe_completed {
                        owe_completed = true;
                        fresh = true;
                    }
                    progress = p;
                }
            }
            if ctx.recv("control").is_ok() || ctx.should_stop() {
                break;
            }
            let now = Instant::now();
            // Announce when due; a new `completed` at once (once `started` went through). A
            // failed announce of any kind waits its retry time: no tight loop on a dead tracker.
            if now >= next || (fresh && started) {
                let event = if !started {
                    Some(Event::Started)
                } else if owe_completed {
                    fresh = false;
                    Some(Event::Completed)
                } else {
                    None
                };
                // A stop message gives up an announce still waiting for its tracker.
                let stopping = || ctx.data_ready("control") > 0 || ctx.should_stop();
                match self.announce(&ctx, &progress, event, &stopping) {
                    Some((wait, ok)) => {
                        if ok {
                            match event {
                                Some(Event::Started) => started = true,
                                Some(Event::Completed) => owe_completed = false,
                                _ => {}
                            }
                        }
                        next = Instant::now() + wait;
                    }
                    None => {
                        started = true;
                        owe_completed = false;
                        fresh = false;
                        next = now + Duration::from_secs(3600);
                    }
                }
                continue;
            }
            ctx.pause(Some(next - now));
        }
        if started && !self.tiers.is_empty() {
            // Leaving: tell the tracker, but do not keep the torrent waiting for long: one
            // deadline for every tracker, the one that knows us first.
            self.client.http_timeout = Duration::from_secs(2);
            self.client.udp_timeout = Duration::from_secs(1);
            self.client.udp_attempts = 1;
            if let Some(url) = self.last_answered.clone() {
                for tier in self.tiers.iter_mut() {
                    tier.retain(|u| *u != url);
                }
                self.tiers.retain(|tier| !tier.is_empty());
                self.tiers.insert(0, vec![url]);
            }
            let deadline = Instant::now() + STOPPED_DEADLINE;
            self.client.give_up_at = Some(deadline);
            let give_up = || ctx.should_stop() || Instant::now() >= deadline;
            self.announce(&ctx, &progress, Some(Event::Stopped), &give_up);
        }
        let _ = ctx.send(ProducerFinished::default(), "signal");
        Ok(())
    }
}
