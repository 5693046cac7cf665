//! Whom we upload to: BEP 3 choking, the classic tit-for-tat algorithm.
//!
//! Every [`RECHOKE_INTERVAL`] (and when peers come or go) [`Choker::rechoke`] picks:
//!
//! * **regular unchokes**: the best `upload_slots - 1` interested, non-snubbed peers, ranked
//!   by how fast they send to us while downloading, or by how fast we can send to them while
//!   seeding;
//! * **one optimistic unchoke**: a random choked interested peer, rotated every
//!   [`OPTIMISTIC_INTERVAL`]; peers connected for less than [`NEW_PEER_AGE`] are three times
//!   as likely to be picked, since they have had no chance to earn a regular slot yet;
//! * **spare slots**, if any remain, go to the other interested (snubbed) peers, so that with
//!   fewer interested peers than slots every interested peer is unchoked;
//! * **uninterested peers** that rank faster than the slowest regular peer, so they can start
//!   at once when they become interested; they do not take a slot.
//!
//! Everyone else is choked. The choker is pure: time is passed in and randomness comes from
//! a seeded [`Rng`], so a given seed and inputs always give the same answer.
//!
//! ```
//! use kamaelia_torrent::engine::choker::{Choker, PeerView};
//! use std::time::{Duration, Instant};
//!
//! let now = Instant::now();
//! let peer = |port: u16, down_rate: f64| PeerView {
//!     key: ([10, 0, 0, 1], port).into(),
//!     interested: true,
//!     down_rate,
//!     up_rate: 0.0,
//!     snubbed: false,
//!     connected_at: now - Duration::from_secs(600),
//! };
//! let peers = [peer(1, 10.0), peer(2, 300.0), peer(3, 200.0), peer(4, 5.0)];
//! let mut choker = Choker::new(3, 42);
//! let unchoked = choker.rechoke(&peers, false, now);
//! // The two fastest uploaders to us, plus one optimistic unchoke among the rest.
//! assert_eq!(unchoked.len(), 3);
//! assert_eq!(&unchoked[..2], &[peers[1].key, peers[2].key]);
//! assert_eq!(choker.optimistic(), Some(unchoked[2]));
//! ```

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::random::Rng;

/// How a peer is identified: its socket address.
pub type PeerKey = std::net::SocketAddr;

/// How often [`Choker::rechoke`] is meant to be called.
pub const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);

/// How long an optimistic unchoke lasts before it is rotated to another peer.
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// Peers connected for less than this are three times as likely to be unchoked optimistically.
pub const NEW_PEER_AGE: Duration = Duration::from_secs(60);

/// What the choker needs to know about one connected peer.
#[derive(Clone, Debug)]
pub struct PeerView {
    /// The peer's address.
    pub key: PeerKey,
    /// The peer is interested in our data.
    pub interested: bool,
    /// Bytes per second we receive from it.
    pub down_rate: f64,
    /// Bytes per second we send to it.
    pub up_rate: f64,
    /// It has not sent us a requested block for a while.
    pub snubbed: bool,
    /// When the connection started.
    pub connected_at: Instant,
}

/// Decides which peers are unchoked; keeps the optimistic unchoke between rounds.
#[derive(Clone, Debug)]
pub struct Choker {
    slots: usize,
    rng: Rng,
    optimistic: Option<(PeerKey, Instant)>,
}

impl Choker {
    /// A choker with `upload_slots` slots (at least one; one of them is the optimistic
    /// unchoke) whose random choices are driven by `seed`.
    pub fn new(upload_slots: usize, seed: u64) -> Choker {
        Choker {
            slots: upload_slots.max(1),
            rng: Rng::new(seed),
            optimistic: None,
        }
    }

    /// Runs one choking round and returns the peers to have unchoked (all others choked),
    /// without duplicates: regular peers best first, then the optimistic one, then spare-slot
    /// and uninterested peers. If `peers` lists a key twice, its first entry counts.
    ///
    /// The optimistic peer is kept for [`OPTIMISTIC_INTERVAL`] unless it leaves, loses
    /// interest or earns a regular slot; then (or when the interval is up) another is picked.
    pub fn rechoke(&mut self, peers: &[PeerView], seeding: bool, now: Instant) -> Vec<PeerKey> {
        let rate = |p: &PeerView| {
            let r = if seeding { p.up_rate } else { p.down_rate };
            r.max(0.0) // also turns NaN into 0
        };
        let mut seen = HashSet::new();
        let mut ranked: Vec<&PeerView> = peers.iter().filter(|p| seen.insert(p.key)).collect();
        // Stable: equal rates keep the caller's order.
        ranked.sort_by(|a, b| rate(b).total_cmp(&rate(a)));

        let regular: Vec<&PeerView> = ranked
            .iter()
            .copied()
            .filter(|p| p.interested && !p.snubbed)
            .take(self.slots - 1)
            .collect();
        let mut unchoked: Vec<PeerKey> = regular.iter().map(|p| p.key).collect();

        // Candidates for the optimistic unchoke: choked interested peers.
        let candidates: Vec<&PeerView> = ranked
            .iter()
            .copied()
            .filter(|p| p.interested && !unchoked.contains(&p.key))
            .collect();
        let current = self
            .optimistic
            .filter(|(key, _)| candidates.iter().any(|p| p.key == *key));
        self.optimistic = match current {
            Some((key, since)) if now.saturating_duration_since(since) < OPTIMISTIC_INTERVAL => {
                Some((key, since))
            }
            // Due for rotation: move to another peer if there is one.
            Some((key, _)) => {
                let others: Vec<&PeerView> = candidates
                    .iter()
                    .copied()
                    .filter(|p| p.key != key)
                    .collect();
                let pick = self.pick(&others, now).unwrap_or(key);
                Some((pick, now))
            }
            None => self.pick(&candidates, now).map(|key| (key, now)),
        };
        if let Some((key, _)) = self.optimistic {
            unchoked.push(key);
        }

        // Spare slots go to the remaining interested peers (those that are snubbed).
        let spare = self.slots.saturating_sub(unchoked.len());
        let fill: Vec<PeerKey> = candidates
            .iter()
            .map(|p| p.key)
            .filter(|key| !unchoked.contains(key))
            .take(spare)
            .collect();
        unchoked.extend(fill);

        // Uninterested peers faster than the slowest regular: ready for when they want data.
        if let Some(slowest) = regular.last().map(|p| rate(p)) {
            unchoked.extend(
                ranked
                    .iter()
                    .filter(|p| !p.interested && !p.snubbed && rate(p) > slowest)
                    .map(|p| p.key),
            );
        }
        unchoked
    }

    /// The peer currently unchoked optimistically, if any.
    pub fn optimistic(&self) -> Option<PeerKey> {
        self.optimistic.map(|(key, _)| key)
    }

    /// Forgets a disconnected peer; if it was the optimistic unchoke, another is picked at
    /// the next [`rechoke`](Choker::rechoke).
    pub fn peer_gone(&mut self, key: PeerKey) {
        if self.optimistic.is_some_and(|(k, _)| k == key) {
            self.optimistic = None;
        }
    }

    /// A weighted random pick: new peers weigh 3, others 1.
    fn pick(&mut self, from: &[&PeerView], now: Instant) -> Option<PeerKey> {
        let weight = |p: &PeerView| {
            if now.saturating_duration_since(p.connected_at) < NEW_PEER_AGE {
                3
            } else {
                1
            }
        };
        let total: u64 = from.iter().map(|p| weight(p)).sum();
        if total == 0 {
            return None;
        }
        let mut r = self.rng.below(total);
        for p in from {
            let w = weight(p);
            if r < w {
                return Some(p.key);
            }
            r -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> PeerKey {
        ([10, 0, 0, 1], n).into()
    }

    /// An interested, old, non-snubbed peer.
    fn peer(n: u16, down_rate: f64, up_rate: f64, now: Instant) -> PeerView {
        PeerView {
            key: key(n),
            interested: true,
            down_rate,
            up_rate,
            snubbed: false,
            connected_at: now - Duration::from_secs(3600),
        }
    }

    fn no_duplicates(keys: &[PeerKey]) -> bool {
        keys.iter().collect::<HashSet<_>>().len() == keys.len()
    }

    #[test]
    fn empty_input() {
        let mut c = Choker::new(4, 1);
        assert!(c.rechoke(&[], false, Instant::now()).is_empty());
        assert_eq!(c.optimistic(), None);
    }

    #[test]
    fn zero_slots_clamp_to_one_optimistic() {
        let now = Instant::now();
        let mut c = Choker::new(0, 1);
        let peers = [peer(1, 5.0, 0.0, now), peer(2, 9.0, 0.0, now)];
        let out = c.rechoke(&peers, false, now);
        assert_eq!(out.len(), 1);
        assert_eq!(c.optimistic(), Some(out[0]));
    }

    #[test]
    fn top_by_down_rate_while_leeching() {
        let now = Instant::now();
        let peers: Vec<PeerView> = (1..=8)
            .map(|n| peer(n, n as f64 * 10.0, 1000.0 - n as f64, now))
            .collect();
        let mut c = Choker::new(4, 7);
        let out = c.rechoke(&peers, false, now);
        assert_eq!(&out[..3], &[key(8), key(7), key(6)]);
        assert_eq!(out.len(), 4);
        assert!([1, 2, 3, 4, 5].map(key).contains(&out[3]));
        assert_eq!(c.optimistic(), Some(out[3]));
    }

    #[test]
    fn top_by_up_rate_while_seeding() {
        let now = Instant::now();
        let peers: Vec<PeerView> = (1..=8)
            .map(|n| peer(n, n as f64 * 10.0, 1000.0 - n as f64, now))
            .collect();
        let mut c = Choker::new(4, 7);
        let out = c.rechoke(&peers, true, now);
        assert_eq!(&out[..3], &[key(1), key(2), key(3)]);
        assert_eq!(out.len(), 4);
        assert!(no_duplicates(&out));
    }

    #[test]
    fn snubbed_excluded_from_regular_slots() {
        let now = Instant::now();
        let mut peers: Vec<PeerView> = (1..=6).map(|n| peer(n, n as f64, 0.0, now)).collect();
        peers[5].snubbed = true; // the fastest, key 6
        let mut c = Choker::new(3, 3);
        let out = c.rechoke(&peers, false, now);
        assert_eq!(&out[..2], &[key(5), key(4)]);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn uninterested_do_not_take_slots() {
        let now = Instant::now();
        let mut peers: Vec<PeerView> = (1..=6).map(|n| peer(n, n as f64, 0.0, now)).collect();
        peers[5].interested = false; // fastest: unchoked on top of the slots
        peers[0].interested = false; // slowest: stays choked
        let mut c = Choker::new(3, 3);
        let out = c.rechoke(&peers, false, now);
        assert_eq!(&out[..2], &[key(5), key(4)]);
        assert_eq!(out.len(), 4);
        assert!(out.contains(&key(6)));
        assert!(!out.contains(&key(1)));
        let opt = c.optimistic().unwrap();
        assert!(opt == key(2) || opt == key(3));
        assert!(no_duplicates(&out));
    }

    #[test]
    fn fewer_peers_than_slots_unchokes_all_interested() {
        let now = Instant::now();
        let mut peers = vec![
            peer(1, 1.0, 0.0, now),
            peer(2, 2.0, 0.0, now),
            peer(3, 0.0, 0.0, now),
        ];
        peers[2].snubbed = true;
        peers.push(peers[0].clone()); // a duplicate entry is ignored
        let mut c = Choker::new(5, 9);
        let mut out = c.rechoke(&peers, false, now);
        out.sort();
        assert_eq!(out, vec![key(1), key(2), key(3)]);
    }

    #[test]
    fn optimistic_rotates_after_interval_not_before() {
        let t0 = Instant::now();
        let peers: Vec<PeerView> = (1..=10).map(|n| peer(n, 0.0, 0.0, t0)).collect();
        let mut c = Choker::new(2, 11);
        c.rechoke(&peers, false, t0);
        let first = c.optimistic().unwrap();
        for s in [10, 20, 29] {
            c.rechoke(&peers, false, t0 + Duration::from_secs(s));
            assert_eq!(c.optimistic(), Some(first), "rotated early at {s} s");
        }
        c.rechoke(&peers, false, t0 + Duration::from_secs(30));
        let second = c.optimistic().unwrap();
        assert_ne!(second, first);
        c.rechoke(&peers, false, t0 + Duration::from_secs(59));
        assert_eq!(c.optimistic(), Some(second));
        c.rechoke(&peers, false, t0 + Duration::from_secs(60));
        assert_ne!(c.optimistic(), Some(second));
    }

    #[test]
    fn optimistic_replaced_when_it_becomes_regular() {
        let now = Instant::now();
        let mut peers: Vec<PeerView> = (1..=5).map(|n| peer(n, 0.0, 0.0, now)).collect();
        let mut c = Choker::new(2, 5);
        c.rechoke(&peers, false, now);
        let opt = c.optimistic().unwrap();
        let i = peers.iter().position(|p| p.key == opt).unwrap();
        peers[i].down_rate = 1e6;
        let out = c.rechoke(&peers, false, now + Duration::from_secs(10));
        assert_eq!(out[0], opt);
        assert_ne!(c.optimistic(), Some(opt));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn peer_gone_clears_optimistic() {
        let now = Instant::now();
        let mut peers: Vec<PeerView> = (1..=5).map(|n| peer(n, 0.0, 0.0, now)).collect();
        let mut c = Choker::new(2, 5);
        c.rechoke(&peers, false, now);
        let opt = c.optimistic().unwrap();
        c.peer_gone(key(99)); // someone else: no effect
        assert_eq!(c.optimistic(), Some(opt));
        c.peer_gone(opt);
        assert_eq!(c.optimistic(), None);
        peers.retain(|p| p.key != opt);
        let out = c.rechoke(&peers, false, now + Duration::from_secs(1));
        let new = c.optimistic().unwrap();
        assert_ne!(new, opt);
        assert!(out.contains(&new) && !out.contains(&opt));
    }

    #[test]
    fn new_peers_favoured() {
        let t0 = Instant::now();
        let mut c = Choker::new(1, 2024);
        let mut counts = [0u32; 10];
        for round in 0..3000u64 {
            let now = t0 + OPTIMISTIC_INTERVAL * round as u32;
            let mut peers: Vec<PeerView> = (0..10).map(|n| peer(n, 0.0, 0.0, now)).collect();
            peers[0].connected_at = now - Duration::from_secs(10); // always new
            c.rechoke(&peers, false, now);
            counts[c.optimistic().unwrap().port() as usize] += 1;
        }
        // Expected share: new 3/14, each old one 11/126 (rotation never repeats a peer).
        let old_max = *counts[1..].iter().max().unwrap();
        assert!(counts[0] as f64 > 1.8 * old_max as f64, "{counts:?}");
        assert!(counts[1..].iter().all(|&n| n > 150), "{counts:?}");
    }

    #[test]
    fn deterministic_for_seed() {
        let t0 = Instant::now();
        let peers: Vec<PeerView> = (1..=20).map(|n| peer(n, (n % 7) as f64, 0.0, t0)).collect();
        let run = |seed| {
            let mut c = Choker::new(4, seed);
            (0..20)
                .map(|r| c.rechoke(&peers, false, t0 + RECHOKE_INTERVAL * r))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(77), run(77));
        assert!(run(77)
            .iter()
            .all(|out| no_duplicates(out) && out.len() == 4));
    }
}
