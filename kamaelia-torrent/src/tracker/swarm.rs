//! A tracker's memory: which peers are in which swarm, and the answers to announce and scrape
//! requests (BEP 3, BEP 23, BEP 48 scrape). Pure: requests and the time in, answers out; the
//! component that serves it over TCP is [`super::server`].
//!
//! Its memory and work are bounded against hostile clients:
//!
//! - A peer entry is keyed by its peer id *and* IP address, so someone who learns a peer's id
//!   (dictionary answers carry them) cannot move or stop that peer from another address.
//! - Entries expire [`PEER_TTL`] after their last announce. Every announce is also queued in
//!   time order, and expiry takes entries off the front of that queue: its cost is amortised
//!   over the announces, instead of a scan of every peer on every announce. Counts and
//!   answers therefore never include an expired peer. A re-announce updates its entry where
//!   it is (moving it only when a leecher becomes a seed or back).
//! - At most [`MAX_SWARMS`] swarms, [`MAX_PEERS_PER_SWARM`] peers in one, [`MAX_PEERS_TOTAL`]
//!   peers in all, [`MAX_PEERS_PER_IP`] entries of one address in a swarm and
//!   [`MAX_PEERS_PER_HOST`] in all swarms (an IPv6 /64 counts as one address; loopback is
//!   exempt, as tests and demos run whole swarms on it).
//! - A completed download is counted only for a peer known to the swarm as a leecher, once
//!   per entry, and the count goes with its swarm.
//! - A scrape must name its torrents (at most [`MAX_SCRAPE_HASHES`]): a full scrape is
//!   refused with a failure reason (BEP 48 allows it), so a tiny request cannot get an answer
//!   the size of the whole tracker.
//! - Answers hold a random sample of the swarm when it has more peers than asked for.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::announce::{failure_bencode, AnnounceResponse, PeerId};
use super::http::{self, Request};
use crate::bencode::{self, Value};
use crate::engine::addresses::HostCounts;
use crate::random::Rng;

/// How often peers are told to announce.
pub const INTERVAL: Duration = Duration::from_secs(1800);

/// How long a peer is kept after its last announce.
pub const PEER_TTL: Duration = Duration::from_secs(2 * 1800);

/// How many peers an answer holds at most.
pub const MAX_PEERS: usize = 200;

/// How many swarms one tracker keeps at most (a bound on its memory).
pub const MAX_SWARMS: usize = 100_000;

/// How many peers one swarm keeps at most.
pub const MAX_PEERS_PER_SWARM: usize = 10_000;

/// How many peers the whole tracker keeps at most.
pub const MAX_PEERS_TOTAL: usize = 200_000;

/// How many entries one IP address (an IPv6 /64) may have in one swarm; loopback is exempt.
pub const MAX_PEERS_PER_IP: usize = 8;

/// How many entries one IP address (an IPv6 /64) may have in all swarms together; loopback
/// is exempt. Without it, one address could take its share of every swarm until the
/// tracker's [`MAX_PEERS_TOTAL`] was reached, and no one else's announce would be stored.
pub const MAX_PEERS_PER_HOST: usize = 64;

/// How many torrents one scrape may name.
pub const MAX_SCRAPE_HASHES: usize = 100;

/// A peer entry's key: its id and the address it announced from.
type PeerKey = ([u8; 20], IpAddr);

#[derive(Clone, Debug)]
struct PeerEntry {
    key: PeerKey,
    addr: SocketAddr,
    left: u64,
    seen: Instant,
    /// Whether its completed download has been counted.
    counted: bool,
}

/// One torrent's peers: seeds and leechers in two dense lists (so that a random sample is
/// cheap), found by key through `index`.
#[derive(Debug)]
struct Swarm {
    /// Where each peer is (see [`Place`]).
    index: HashMap<PeerKey, Place>,
    seeds: Vec<PeerEntry>,
    leechers: Vec<PeerEntry>,
    /// Entries per address, at most [`MAX_PEERS_PER_IP`] (loopback not counted).
    per_ip: HostCounts,
    /// Completed downloads (the scrape's `downloaded`).
    completed: u64,
}

/// Where an entry is in its swarm: in `seeds` (true) or `leechers` (false), at which position.
type Place = (bool, usize);

impl Default for Swarm {
    fn default() -> Swarm {
        Swarm {
            index: HashMap::new(),
            seeds: Vec::new(),
            leechers: Vec::new(),
            per_ip: HostCounts::new(MAX_PEERS_PER_IP),
            completed: 0,
        }
    }
}

/// What all the swarms hold together. Changed only where an entry comes into a swarm or
/// goes out of it ([`Swarm::insert`], [`Swarm::remove`]), so that it is always their sum.
#[derive(Debug)]
struct Held {
    /// Peers held in all swarms.
    peers: usize,
    /// Entries held in all swarms per address, at most [`MAX_PEERS_PER_HOST`] (loopback not
    /// counted).
    per_host: HostCounts,
}

impl Swarm {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn at(&self, (seed, i): Place) -> &PeerEntry {
        if seed {
            &self.seeds[i]
        } else {
            &self.leechers[i]
        }
    }

    fn get(&self, key: &PeerKey) -> Option<&PeerEntry> {
        self.index.get(key).map(|&place| self.at(place))
    }

    fn list(&mut self, seed: bool) -> &mut Vec<PeerEntry> {
        if seed {
            &mut self.seeds
        } else {
            &mut self.leechers
        }
    }

    /// Appends `entry` to its list and returns its place there (for the caller to index).
    fn push(&mut self, entry: PeerEntry) -> Place {
        let seed = entry.left == 0;
        let list = self.list(seed);
        if list.len() == list.capacity() && list.len() < 4 {
            // Most swarms are small: grow one at a time at first (a push would make room for
            // four entries).
            list.reserve_exact(1);
        }
        list.push(entry);
        (seed, list.len() - 1)
    }

    /// Takes the entry at `place` out of its list, the list's last entry taking its place
    /// (and its index following it); the index of the entry taken is the caller's to change.
    fn take_at(&mut self, (seed, i): Place) -> PeerEntry {
        let list = self.list(seed);
        let entry = list.swap_remove(i);
        let moved = list.get(i).map(|p| p.key);
        // A swarm that shrank gives its memory back (amortised: only once it is a quarter
        // full), so that a swarm once grown large does not keep that size for one peer.
        if list.len() < list.capacity() / 4 {
            list.shrink_to(list.len() * 2);
        }
        if let Some(moved) = moved {
            self.index.insert(moved, (seed, i));
        }
        entry
    }

    /// Puts `entry` in (its key must not be in the swarm), counting it here and in `held`.
    fn insert(&mut self, entry: PeerEntry, held: &mut Held) {
        let (key, ip) = (entry.key, entry.key.1);
        let place = self.push(entry);
        self.index.insert(key, place);
        self.per_ip.add(ip);
        held.peers += 1;
        held.per_host.add(ip);
    }

    /// Takes the entry of `key` out, if there is one, counting it out here and of `held`.
    fn remove(&mut self, key: &PeerKey, held: &mut Held) -> Option<PeerEntry> {
        let place = self.index.remove(key)?;
        if self.index.len() < self.index.capacity() / 4 {
            self.index.shrink_to(self.index.len() * 2);
        }
        let entry = self.take_at(place);
        self.per_ip.remove(key.1);
        held.peers -= 1;
        held.per_host.remove(key.1);
        Some(entry)
    }

    /// Stores an announce as `entry` (not counted as completed yet). The entry held for its
    /// key is updated: where it is when it stays a seed or a leecher, moved to the other list
    /// when it does not, its completed download counted when it completes as a leecher known
    /// here (`completed`: the announce says it did) and was not counted before. A key new to
    /// the swarm is put in if there is room for it here and, as `room` says, in the tracker.
    /// Returns whether the entry was stored with a time it did not have (and so needs a queue
    /// item for expiry).
    fn announce(
        &mut self,
        mut entry: PeerEntry,
        completed: bool,
        room: bool,
        held: &mut Held,
    ) -> bool {
        let Some(&place) = self.index.get(&entry.key) else {
            let room =
                room && self.len() < MAX_PEERS_PER_SWARM && !self.per_ip.is_full(entry.key.1);
            if room {
                self.insert(entry, held);
            }
            return room;
        };
        let old = self.at(place);
        // An entry last seen at this same instant has its queue item already.
        let new_time = old.seen != entry.seen;
        entry.counted = old.counted;
        if completed && entry.left == 0 && old.left > 0 && !old.counted {
            self.completed += 1;
            entry.counted = true;
        }
        if (entry.left == 0) == place.0 {
            self.list(place.0)[place.1] = entry;
        } else {
            let key = entry.key;
            self.take_at(place);
            let place = self.push(entry);
            self.index.insert(key, place);
        }
        new_time
    }
}

/// Every swarm the tracker knows.
#[derive(Debug)]
pub struct Swarms {
    swarms: HashMap<[u8; 20], Swarm>,
    /// Every announce that stored an entry, oldest first: (time, torrent, entry key); a
    /// repeat at the same instant adds nothing, so every entry held has an item of its last
    /// announce's time. An item is stale when its entry has announced since (or is gone).
    queue: VecDeque<(Instant, [u8; 20], PeerKey)>,
    /// What the swarms hold in all.
    held: Held,
    /// Queue items looked at by expiry and compaction (a measure of its work, for tests).
    #[cfg(test)]
    expiry_work: u64,
    /// The most peers held in all.
    max_peers: usize,
    rng: Rng,
}

impl Default for Swarms {
    fn default() -> Swarms {
        Swarms {
            swarms: HashMap::new(),
            queue: VecDeque::new(),
            held: Held {
                peers: 0,
                per_host: HostCounts::new(MAX_PEERS_PER_HOST),
            },
            #[cfg(test)]
            expiry_work: 0,
            max_peers: MAX_PEERS_TOTAL,
            rng: Rng::from_clock(),
        }
    }
}

fn array20(b: Option<&[u8]>) -> Option<[u8; 20]> {
    b.and_then(|b| b.try_into().ok())
}

fn number<T: std::str::FromStr>(r: &Request, name: &str) -> Option<T> {
    std::str::from_utf8(r.param(name)?).ok()?.parse().ok()
}

impl Swarms {
    /// An empty tracker.
    pub fn new() -> Swarms {
        Swarms::default()
    }

    /// Holds at most `max` peers in all, instead of [`MAX_PEERS_TOTAL`]: a new peer beyond
    /// them is answered but not stored.
    pub fn with_max_peers(mut self, max: usize) -> Swarms {
        self.max_peers = max;
        self
    }

    /// How many peers are held for the swarm of `info_hash`, including any past their expiry
    /// that no announce or scrape has swept out yet (those answers never include them).
    pub fn peer_count(&self, info_hash: &[u8; 20]) -> usize {
        self.swarms.get(info_hash).map_or(0, Swarm::len)
    }

    /// How many peers all the swarms hold.
    pub fn total_peers(&self) -> usize {
        self.held.peers
    }

    /// How many swarms there are.
    pub fn swarm_count(&self) -> usize {
        self.swarms.len()
    }

    /// How many queued announces expiry has looked at so far, in all: its cost, which stays
    /// proportional to the announces made, however many peers are held (for the tests that
    /// show it).
    #[cfg(test)]
    fn expiry_work(&self) -> u64 {
        self.expiry_work
    }

    /// Forgets peers that have not announced for [`PEER_TTL`], and swarms left empty. Only
    /// the announces that have come due are looked at.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&(at, hash, key)) = self.queue.front() {
            if now.saturating_duration_since(at) < PEER_TTL {
                break;
            }
            self.queue.pop_front();
            #[cfg(test)]
            {
                self.expiry_work += 1;
            }
            let Some(swarm) = self.swarms.get_mut(&hash) else {
                continue;
            };
            if swarm.get(&key).is_some_and(|p| p.seen == at) {
                swarm.remove(&key, &mut self.held);
                if swarm.len() == 0 {
                    self.swarms.remove(&hash);
                }
            }
        }
    }

    /// Queues an announce for expiry; rebuilds the queue from the entries once stale items
    /// outnumber them, so that it stays within twice the peers held (amortised: a rebuild
    /// follows at least as many announces as it looks at entries).
    fn enqueue(&mut self, at: Instant, hash: [u8; 20], key: PeerKey) {
        self.queue.push_back((at, hash, key));
        if self.queue.len() > 2 * self.held.peers + 64 {
            // The queue is in time order already: keep each entry's latest item.
            #[cfg(test)]
            {
                self.expiry_work += self.queue.len() as u64;
            }
            let swarms = &self.swarms;
            self.queue.retain(|(at, h, k)| {
                swarms
                    .get(h)
                    .and_then(|s| s.get(k))
                    .is_some_and(|p| p.seen == *at)
            });
        }
    }

    /// Handles one HTTP request from `remote` and returns the whole HTTP response.
    pub fn handle(&mut self, req: &Request, remote: SocketAddr, now: Instant) -> Vec<u8> {
        let body = match req.path.as_str() {
            "/announce" => self.announce(req, remote, now),
            "/scrape" => self.scrape(req, now),
            _ => {
                return http::response(404, "Not Found", "text/plain", b"not a tracker path\n");
            }
        };
        http::response(200, "OK", "text/plain", &body)
    }

    /// Answers an announce (the bencoded body).
    pub fn announce(&mut self, req: &Request, remote: SocketAddr, now: Instant) -> Vec<u8> {
        let Some(info_hash) = array20(req.param("info_hash")) else {
            return failure_bencode("missing or malformed info_hash");
        };
        let Some(peer_id) = array20(req.param("peer_id")) else {
            return failure_bencode("missing or malformed peer_id");
        };
        let Some(port) = number::<u16>(req, "port").filter(|&p| p != 0) else {
            return failure_bencode("missing or malformed port");
        };
        // `left` decides seed or leecher: without it (or with a negative one) we cannot tell.
        let Some(left) = number::<u64>(req, "left") else {
            return failure_bencode("missing or malformed left");
        };
        let event = req.param("event").and_then(|e| std::str::from_utf8(e).ok());
        let compact = req.param("compact").is_none_or(|c| c != b"0");
        let want: usize = number::<usize>(req, "numwant").unwrap_or(50).min(MAX_PEERS);
        // The peer's address: the one it connected from (an IPv4 client of a dual-stack
        // listener as itself, not as ::ffff:a.b.c.d); a loopback client may name another
        // loopback address with `ip` (never a non-loopback one: no third-party announces).
        let remote_ip = remote.ip().to_canonical();
        let ip: IpAddr = req
            .param("ip")
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .filter(|ip| remote_ip.is_loopback() && ip.is_loopback())
            .unwrap_or(remote_ip);
        let addr = SocketAddr::new(ip, port);
        let key: PeerKey = (peer_id, ip);

        self.expire(now);
        let tracker_full = self.swarms.len() >= MAX_SWARMS;
        let room = self.held.peers < self.max_peers && !self.held.per_host.is_full(ip);
        let swarm = match self.swarms.entry(info_hash) {
            Entry::Occupied(swarm) => swarm.into_mut(),
            Entry::Vacant(_) if event == Some("stopped") => {
                return answer(&mut self.rng, None, &key, left, want, compact, req);
            }
            Entry::Vacant(_) if tracker_full => return failure_bencode("this tracker is full"),
            Entry::Vacant(place) => place.insert(Swarm::default()),
        };
        // Whether the entry needs a new queue item for expiry.
        let new_item = if event == Some("stopped") {
            swarm.remove(&key, &mut self.held);
            false
        } else {
            let entry = PeerEntry {
                key,
                addr,
                left,
                seen: now,
                counted: false,
            };
            swarm.announce(entry, event == Some("completed"), room, &mut self.held)
        };
        // A swarm left empty answers as no swarm would.
        let body = answer(&mut self.rng, Some(&*swarm), &key, left, want, compact, req);
        if swarm.len() == 0 {
            self.swarms.remove(&info_hash);
        }
        if new_item {
            self.enqueue(now, info_hash, key);
        }
        body
    }

    /// Answers a scrape (the bencoded body): counts for the torrents it names. A scrape that
    /// names none (a full scrape) or more than [`MAX_SCRAPE_HASHES`] gets a failure reason.
    pub fn scrape(&mut self, req: &Request, now: Instant) -> Vec<u8> {
        self.expire(now);
        let asked: Vec<[u8; 20]> = req
            .params("info_hash")
            .filter_map(|b| array20(Some(b)))
            .collect();
        if asked.is_empty() {
            return failure_bencode("full scrape is not supported: name each info_hash");
        }
        if asked.len() > MAX_SCRAPE_HASHES {
            return failure_bencode(&format!(
                "too many info_hash in one scrape (at most {MAX_SCRAPE_HASHES})"
            ));
        }
        let files = asked
            .into_iter()
            .map(|h| {
                let s = self.swarms.get(&h);
                let count = |f: fn(&Swarm) -> usize| s.map_or(0, f) as i64;
                (
                    h.to_vec(),
                    Value::dict([
                        ("complete", Value::Int(count(|s| s.seeds.len()))),
                        (
                            "downloaded",
                            Value::Int(s.map_or(0, |s| s.completed) as i64),
                        ),
                        ("incomplete", Value::Int(count(|s| s.leechers.len()))),
                    ]),
                )
            })
            .collect();
        bencode::encode(&Value::dict([("files", Value::Dict(files))]))
    }
}

/// The bencoded answer to an announce by the entry `asker` (which is left out of it): the
/// swarm's counts and a random sample of up to `want` of its peers (leechers only, for a
/// seed).
fn answer(
    rng: &mut Rng,
    swarm: Option<&Swarm>,
    asker: &PeerKey,
    left: u64,
    want: usize,
    compact: bool,
    req: &Request,
) -> Vec<u8> {
    let (complete, incomplete) = swarm.map_or((0, 0), |s| (s.seeds.len(), s.leechers.len()));
    let mut picked: Vec<&PeerEntry> = Vec::new();
    if let Some(s) = swarm {
        // A seed needs no other seeds.
        let seeds: &[PeerEntry] = if left > 0 { &s.seeds } else { &[] };
        let n = seeds.len() + s.leechers.len();
        let at = |i: usize| -> &PeerEntry {
            if i < seeds.len() {
                &seeds[i]
            } else {
                &s.leechers[i - seeds.len()]
            }
        };
        if n <= 2 * want + 2 {
            // Few enough to shuffle them all (Fisher-Yates), then take the first.
            let mut all: Vec<&PeerEntry> = (0..n).map(at).collect();
            for i in (1..all.len()).rev() {
                all.swap(i, rng.below(i as u64 + 1) as usize);
            }
            picked = all.into_iter().filter(|p| &p.key != asker).collect();
            picked.truncate(want);
        } else {
            // Many more than wanted: draw positions at random, without repeats. At
            // most half of them are ever taken, so few draws are wasted.
            let mut taken = HashSet::new();
            while picked.len() < want && taken.len() < n {
                let i = rng.below(n as u64) as usize;
                if taken.insert(i) && &at(i).key != asker {
                    picked.push(at(i));
                }
            }
        }
    }
    let ids: Vec<PeerId> = picked.iter().map(|p| PeerId(p.key.0)).collect();
    let answer = AnnounceResponse {
        interval: INTERVAL.as_secs() as u32,
        min_interval: Some(60),
        peers: picked.iter().map(|p| p.addr).collect(),
        complete: Some(complete as u32),
        incomplete: Some(incomplete as u32),
        warning: None,
        tracker_id: None,
    };
    // Each peer's id in the list of dictionaries, unless the client asks for none (BEP 23).
    let no_peer_id = req.param("no_peer_id").is_some_and(|v| v == b"1");
    match (compact, no_peer_id) {
        (true, _) => answer.to_bencode(true),
        (false, true) => answer.to_bencode(false),
        (false, false) => answer.to_bencode_with_ids(&ids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::announce::{url_encode, AnnounceResponse, TrackerError};

    fn req(hash: u8, peer: u8, port: u16, left: u64, extra: &str) -> Request {
        let q = format!(
            "GET /announce?info_hash={}&peer_id={}&port={port}&left={left}&compact=1{extra} HTTP/1.0\r\n\r\n",
            url_encode(&[hash; 20]),
            url_encode(&[peer; 20])
        );
        http::parse_request(q.as_bytes()).unwrap().unwrap().0
    }

    /// An announce built directly (no parsing): torrent `hash`, peer id from `id`.
    fn ann(hash: [u8; 20], id: u32, left: u64, event: Option<&str>) -> Request {
        let mut peer_id = [b'x'; 20];
        peer_id[..4].copy_from_slice(&id.to_be_bytes());
        let mut query = vec![
            ("info_hash".to_string(), hash.to_vec()),
            ("peer_id".to_string(), peer_id.to_vec()),
            ("port".to_string(), b"6881".to_vec()),
            ("left".to_string(), left.to_string().into_bytes()),
        ];
        if let Some(e) = event {
            query.push(("event".to_string(), e.as_bytes().to_vec()));
        }
        Request {
            path: "/announce".into(),
            query,
        }
    }

    fn hash_of(i: u32) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.to_be_bytes());
        h
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn scrape_counts(s: &mut Swarms, hash: [u8; 20], now: Instant) -> (i64, i64, i64) {
        let r = Request {
            path: "/scrape".into(),
            query: vec![("info_hash".into(), hash.to_vec())],
        };
        let v = bencode::decode(&s.scrape(&r, now)).unwrap();
        let f = v.get("files").unwrap().get_bytes_key(&hash).unwrap();
        let n = |k: &str| f.get(k).and_then(Value::as_int).unwrap();
        (n("complete"), n("downloaded"), n("incomplete"))
    }

    trait GetBytesKey {
        fn get_bytes_key(&self, k: &[u8]) -> Option<&Value>;
    }
    impl GetBytesKey for Value {
        fn get_bytes_key(&self, k: &[u8]) -> Option<&Value> {
            self.as_dict()?.get(k)
        }
    }

    #[test]
    fn peers_meet_and_leave() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let remote: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let first =
            AnnounceResponse::from_bencode(&s.announce(&req(1, 1, 7001, 10, ""), remote, now))
                .unwrap();
        assert!(first.peers.is_empty());
        let second =
            AnnounceResponse::from_bencode(&s.announce(&req(1, 2, 7002, 0, ""), remote, now))
                .unwrap();
        assert_eq!(second.peers, vec!["127.0.0.1:7001".parse().unwrap()]);
        assert_eq!((second.complete, second.incomplete), (Some(1), Some(1)));
        // Another torrent is another swarm.
        let other =
            AnnounceResponse::from_bencode(&s.announce(&req(2, 3, 7003, 5, ""), remote, now))
                .unwrap();
        assert!(other.peers.is_empty());
        // Stopped leaves; old peers expire.
        s.announce(&req(1, 1, 7001, 10, "&event=stopped"), remote, now);
        assert_eq!(s.peer_count(&[1; 20]), 1);
        s.expire(now + INTERVAL * 3);
        assert_eq!(s.peer_count(&[1; 20]), 0);
        assert_eq!((s.total_peers(), s.swarm_count()), (0, 0));
    }

    #[test]
    fn dictionary_answers_give_each_peer_its_id_unless_asked_not_to() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let remote: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        s.announce(&req(1, 7, 7001, 10, ""), remote, now);
        let ask = |extra: &str| {
            let q = format!(
                "GET /announce?info_hash={}&peer_id={}&port=7002&left=5&compact=0{extra} \
                 HTTP/1.0\r\n\r\n",
                url_encode(&[1; 20]),
                url_encode(&[8; 20])
            );
            http::parse_request(q.as_bytes()).unwrap().unwrap().0
        };
        let peer_ids = |answer: &[u8]| -> Vec<Option<Vec<u8>>> {
            let v = bencode::decode(answer).unwrap();
            let list = v.get("peers").and_then(Value::as_list).unwrap().to_vec();
            list.iter()
                .map(|p| {
                    p.get("peer id")
                        .and_then(Value::as_bytes)
                        .map(<[u8]>::to_vec)
                })
                .collect()
        };
        let with = s.announce(&ask(""), remote, now);
        assert_eq!(peer_ids(&with), vec![Some(vec![7u8; 20])]);
        let parsed = AnnounceResponse::from_bencode(&with).unwrap();
        assert_eq!(parsed.peers, vec!["127.0.0.1:7001".parse().unwrap()]);
        let without = s.announce(&ask("&no_peer_id=1"), remote, now);
        assert_eq!(peer_ids(&without), vec![None]);
    }

    #[test]
    fn bad_announces_get_a_failure_reason() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let remote = at("127.0.0.1:1");
        let r = http::parse_request(b"GET /announce?info_hash=abc&port=1 HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        let failure = |body: &[u8]| match AnnounceResponse::from_bencode(body) {
            Err(TrackerError::Failure(reason)) => reason,
            other => panic!("not a failure: {other:?}"),
        };
        failure(&s.announce(&r, remote, now));
        // Without `left` a peer is neither seed nor leecher; a negative one is nonsense.
        let mut no_left = ann([1; 20], 1, 0, None);
        no_left.query.retain(|(k, _)| k != "left");
        assert!(failure(&s.announce(&no_left, remote, now)).contains("left"));
        let mut negative = ann([1; 20], 1, 0, None);
        negative.query[3].1 = b"-5".to_vec();
        assert!(failure(&s.announce(&negative, remote, now)).contains("left"));
        assert_eq!(s.total_peers(), 0);
    }

    #[test]
    fn expiry_looks_only_at_announces_that_came_due() {
        let mut s = Swarms::new();
        let t0 = Instant::now();
        let remote = at("127.0.0.1:1");
        // 5,000 peers in 5,000 swarms, then 1,000 more announces: expiry looks at none of
        // the held peers (a scan per announce would look at millions).
        for i in 0..5_000 {
            s.announce(&ann(hash_of(i), i, 1, None), remote, t0);
        }
        let t1 = t0 + INTERVAL;
        for i in 0..1_000 {
            s.announce(&ann(hash_of(i), i, 1, None), remote, t1);
        }
        assert_eq!(s.expiry_work(), 0);
        assert_eq!(s.total_peers(), 5_000);
        // Once the first 5,000 announces are due, the 4,000 peers that did not announce again
        // go, each looked at once; the 1,000 that did stay.
        let t2 = t0 + PEER_TTL;
        let (complete, _, incomplete) = scrape_counts(&mut s, hash_of(4_999), t2);
        assert_eq!(
            (complete, incomplete),
            (0, 0),
            "an expired peer is not counted"
        );
        assert_eq!(s.expiry_work(), 5_000);
        assert_eq!((s.total_peers(), s.swarm_count()), (1_000, 1_000));
        assert_eq!(scrape_counts(&mut s, hash_of(0), t2), (0, 0, 1));
        // A peer that announces over and over does not grow the queue without bound.
        for k in 0..10_000u32 {
            s.announce(
                &ann(hash_of(0), 0, 1, None),
                remote,
                t2 + Duration::from_millis(k.into()),
            );
        }
        assert!(s.queue.len() <= 2 * s.total_peers() + 64 + 1);
        assert!(s.expiry_work() < 5_000 + 20_000, "rebuilds are amortised");
    }

    #[test]
    fn one_address_cannot_fill_a_swarm_and_the_tracker_has_a_total() {
        let mut s = Swarms::new();
        let now = Instant::now();
        for i in 0..20 {
            s.announce(&ann([1; 20], i, 1, None), at("192.0.2.1:1"), now);
            s.announce(&ann([1; 20], 100 + i, 1, None), at("[2001:db8::1]:1"), now);
            s.announce(
                &ann([1; 20], 200 + i, 1, None),
                at(&format!("[2001:db8::{}]:1", i + 2)),
                now,
            );
            s.announce(&ann([1; 20], 300 + i, 1, None), at("127.0.0.1:1"), now);
        }
        // 8 for the IPv4 address, 8 for the IPv6 /64, 20 for loopback.
        assert_eq!(s.peer_count(&[1; 20]), 8 + 8 + 20);
        // The same address in another swarm has its own 8.
        s.announce(&ann([2; 20], 1, 1, None), at("192.0.2.1:1"), now);
        assert_eq!(s.peer_count(&[2; 20]), 1);

        assert_eq!(Swarms::new().max_peers, MAX_PEERS_TOTAL);
        let mut s = Swarms::new().with_max_peers(2_000);
        let remote = at("127.0.0.1:1");
        for i in 0..2_010 {
            s.announce(&ann(hash_of(i / 500), i, 1, None), remote, now);
        }
        assert_eq!(s.total_peers(), 2_000);
        assert_eq!(
            s.peer_count(&hash_of(4)),
            0,
            "the full tracker stored none of them"
        );
        // A known peer still announces; a stopped one makes room.
        s.announce(&ann(hash_of(0), 1, 0, None), remote, now);
        assert_eq!(scrape_counts(&mut s, hash_of(0), now), (1, 0, 499));
        s.announce(&ann(hash_of(0), 0, 1, Some("stopped")), remote, now);
        s.announce(&ann(hash_of(0), 7_777_777, 1, None), remote, now);
        assert_eq!(s.total_peers(), 2_000);
        assert_eq!(s.peer_count(&hash_of(0)), 500);
    }

    /// The entry counts of `ip`: in the swarm of `hash` and in the whole tracker.
    fn ip_counts(s: &Swarms, hash: [u8; 20], ip: &str) -> (usize, usize) {
        let ip: IpAddr = ip.parse().unwrap();
        let in_swarm = s.swarms.get(&hash).map_or(0, |w| w.per_ip.count(ip));
        (in_swarm, s.held.per_host.count(ip))
    }

    /// The held entry of the peer whose id comes from `id`, from `ip`.
    fn entry(s: &Swarms, hash: [u8; 20], id: u32, ip: &str) -> Option<PeerEntry> {
        let mut peer_id = [b'x'; 20];
        peer_id[..4].copy_from_slice(&id.to_be_bytes());
        s.swarms
            .get(&hash)?
            .get(&(peer_id, ip.parse().unwrap()))
            .cloned()
    }

    #[test]
    fn reannounces_update_the_entry_and_keep_the_counts_and_expiry() {
        let mut s = Swarms::new();
        let t0 = Instant::now();
        let (h, ip) = ([6; 20], "192.0.2.7");
        let remote = at("192.0.2.7:1");
        let mut t = t0;
        // A leecher announces 1,000 times from new ports with less left each time; another
        // leecher and a seed share the swarm.
        s.announce(&ann(h, 2, 50, None), at("198.51.100.2:1"), t0);
        s.announce(&ann(h, 3, 0, None), at("198.51.100.3:1"), t0);
        for k in 0..1_000u32 {
            t = t0 + Duration::from_secs(k.into());
            let mut r = ann(h, 1, 10_000 - u64::from(k), None);
            r.query[2].1 = (7_000 + k).to_string().into_bytes();
            s.announce(&r, remote, t);
        }
        let e = entry(&s, h, 1, ip).unwrap();
        assert_eq!((e.addr, e.left, e.seen), (at("192.0.2.7:7999"), 9_001, t));
        assert_eq!(scrape_counts(&mut s, h, t), (1, 0, 2));
        assert_eq!((s.total_peers(), ip_counts(&s, h, ip)), (3, (1, 1)));
        assert!(
            s.queue.len() <= 2 * s.total_peers() + 64 + 1,
            "{}",
            s.queue.len()
        );
        // The others see its latest port.
        let answer = s.announce(&ann(h, 2, 50, None), at("198.51.100.2:1"), t);
        let peers = AnnounceResponse::from_bencode(&answer).unwrap().peers;
        assert!(peers.contains(&at("192.0.2.7:7999")), "{peers:?}");

        // It completes: a seed now, counted once however often it says so.
        for k in 1..=3 {
            t += Duration::from_secs(1);
            let event = (k < 3).then_some("completed");
            s.announce(&ann(h, 1, 0, event), remote, t);
            assert_eq!(scrape_counts(&mut s, h, t), (2, 1, 1));
        }
        assert_eq!((s.total_peers(), ip_counts(&s, h, ip)), (3, (1, 1)));
        // Back to a leecher (it lost data) and a seed again: no second completion.
        s.announce(&ann(h, 1, 5, None), remote, t);
        assert_eq!(scrape_counts(&mut s, h, t), (1, 1, 2));
        t += Duration::from_secs(1);
        s.announce(&ann(h, 1, 0, Some("completed")), remote, t);
        assert_eq!(scrape_counts(&mut s, h, t), (2, 1, 1));
        assert_eq!((s.total_peers(), ip_counts(&s, h, ip)), (3, (1, 1)));

        // Silent from now on, it expires PEER_TTL after its last announce, with the others
        // (who last announced earlier); everything it was counted in is freed.
        s.expire(t + PEER_TTL - Duration::from_millis(1));
        assert!(entry(&s, h, 1, ip).is_some());
        s.expire(t + PEER_TTL);
        assert_eq!((s.total_peers(), s.swarm_count()), (0, 0));
        assert_eq!(ip_counts(&s, h, ip), (0, 0));
        assert!(s.held.per_host.is_empty());
        assert!(s.queue.is_empty(), "{}", s.queue.len());
    }

    /// Checks what `s` keeps in step with its entries against a recount of them: the peers in
    /// all, each entry's place in the index, and the entries per address in each swarm and in
    /// all (loopback not counted; each address used is a host of its own).
    fn assert_in_step(s: &Swarms) {
        let mut in_all: HashMap<IpAddr, usize> = HashMap::new();
        for swarm in s.swarms.values() {
            assert!(swarm.len() > 0, "an empty swarm is not kept");
            assert_eq!(swarm.seeds.len() + swarm.leechers.len(), swarm.len());
            let mut in_swarm: HashMap<IpAddr, usize> = HashMap::new();
            for (seed, list) in [(true, &swarm.seeds), (false, &swarm.leechers)] {
                for (i, p) in list.iter().enumerate() {
                    assert_eq!(p.left == 0, seed);
                    assert_eq!(swarm.index.get(&p.key), Some(&(seed, i)));
                    *in_swarm.entry(p.key.1).or_default() += 1;
                }
            }
            for (ip, n) in in_swarm {
                let counted = if ip.is_loopback() { 0 } else { n };
                assert_eq!(swarm.per_ip.count(ip), counted, "{ip}");
                *in_all.entry(ip).or_default() += counted;
            }
        }
        for (ip, n) in in_all {
            assert_eq!(s.held.per_host.count(ip), n, "{ip}");
        }
        let peers: usize = s.swarms.values().map(Swarm::len).sum();
        assert_eq!(s.total_peers(), peers);
    }

    #[test]
    fn totals_stay_right_through_announces_completions_stops_and_expiry() {
        let mut s = Swarms::new();
        let t0 = Instant::now();
        let secs = |n: u64| t0 + Duration::from_secs(n);
        let (h1, h2) = ([11; 20], [12; 20]);
        let (a, b, c, local) = ("192.0.2.1", "2001:db8::1", "198.51.100.1", "127.0.0.1");
        let from = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 1);
        // In h1: leechers 1 and 2 from `a`, seed 3 from `b`; in h2: leecher 4 from `c`; a
        // loopback leecher 5 in both.
        s.announce(&ann(h1, 1, 10, Some("started")), from(a), t0);
        s.announce(&ann(h1, 2, 10, Some("started")), from(a), t0);
        s.announce(&ann(h1, 3, 0, Some("started")), from(b), t0);
        s.announce(&ann(h2, 4, 10, None), from(c), t0);
        for h in [h1, h2] {
            s.announce(&ann(h, 5, 10, None), from(local), t0);
        }
        assert_in_step(&s);
        assert_eq!(s.total_peers(), 6);
        assert_eq!(scrape_counts(&mut s, h1, t0), (1, 0, 3));
        assert_eq!(scrape_counts(&mut s, h2, t0), (0, 0, 2));
        assert_eq!(ip_counts(&s, h1, a), (2, 2));
        assert_eq!(ip_counts(&s, h1, local), (0, 0));

        // Re-announces, at the same instant and later, change no count.
        s.announce(&ann(h1, 1, 8, None), from(a), t0);
        s.announce(&ann(h1, 2, 9, None), from(a), secs(10));
        s.announce(&ann(h1, 3, 0, None), from(b), secs(10));
        assert_in_step(&s);
        assert_eq!(s.total_peers(), 6);
        assert_eq!(scrape_counts(&mut s, h1, secs(10)), (1, 0, 3));
        assert_eq!(ip_counts(&s, h1, a), (2, 2));

        // Leecher 1 completes: a seed now, its download counted once. 4 completes in h2 and
        // joins h1 as a seed (no completion there: h1 never knew it as a leecher).
        s.announce(&ann(h1, 1, 0, Some("completed")), from(a), secs(20));
        s.announce(&ann(h1, 1, 0, Some("completed")), from(a), secs(20));
        s.announce(&ann(h2, 4, 0, Some("completed")), from(c), secs(20));
        s.announce(&ann(h1, 4, 0, Some("completed")), from(c), secs(20));
        assert_in_step(&s);
        assert_eq!(s.total_peers(), 7);
        assert_eq!(scrape_counts(&mut s, h1, secs(20)), (3, 1, 2));
        assert_eq!(scrape_counts(&mut s, h2, secs(20)), (1, 1, 1));
        assert_eq!(
            (ip_counts(&s, h1, a), ip_counts(&s, h1, c)),
            ((2, 2), (1, 2))
        );

        // Stops: seed 3, leecher 2, an id never seen, and 1's id from another address (which
        // stops nothing).
        s.announce(&ann(h1, 3, 0, Some("stopped")), from(b), secs(30));
        s.announce(&ann(h1, 2, 9, Some("stopped")), from(a), secs(30));
        s.announce(&ann(h1, 9, 9, Some("stopped")), from(a), secs(30));
        s.announce(&ann(h1, 1, 0, Some("stopped")), from(c), secs(30));
        assert_in_step(&s);
        assert_eq!(s.total_peers(), 5);
        assert_eq!(scrape_counts(&mut s, h1, secs(30)), (2, 1, 1));
        assert_eq!(
            (ip_counts(&s, h1, a), ip_counts(&s, h1, b)),
            ((1, 1), (0, 0))
        );

        // Expiry: the loopback leechers (last seen at t0) go first, from both swarms; the
        // rest (last seen 20 s later) go 20 s later, and with them every count.
        s.expire(t0 + PEER_TTL);
        assert_in_step(&s);
        assert_eq!(s.total_peers(), 3);
        assert_eq!(scrape_counts(&mut s, h1, t0 + PEER_TTL), (2, 1, 0));
        assert_eq!(scrape_counts(&mut s, h2, t0 + PEER_TTL), (1, 1, 0));
        s.expire(secs(20) + PEER_TTL);
        assert_in_step(&s);
        assert_eq!((s.total_peers(), s.swarm_count()), (0, 0));
        assert_eq!(
            (ip_counts(&s, h1, a), ip_counts(&s, h2, c)),
            ((0, 0), (0, 0))
        );
        assert!(s.held.per_host.is_empty());
        assert!(s.queue.is_empty(), "{}", s.queue.len());
    }

    #[test]
    fn reannounces_at_one_instant_add_one_queue_item() {
        let mut s = Swarms::new();
        let now = Instant::now();
        for k in 0..1_000 {
            // Leecher and seed in turn: the entry moves between the lists each time.
            s.announce(&ann([7; 20], 1, k % 2, None), at("192.0.2.8:1"), now);
        }
        assert_eq!(s.total_peers(), 1);
        assert_eq!(s.queue.len(), 1);
        s.expire(now + PEER_TTL);
        assert_eq!((s.total_peers(), s.swarm_count()), (0, 0));
        assert!(s.held.per_host.is_empty());
    }

    #[test]
    fn reannounces_keep_the_caps_of_an_address() {
        let mut s = Swarms::new();
        let t0 = Instant::now();
        let (h, ip) = ([8; 20], "192.0.2.9");
        let remote = at("192.0.2.9:1");
        for round in 0..100u32 {
            let t = t0 + Duration::from_secs(round.into());
            for id in 0..MAX_PEERS_PER_IP as u32 {
                // Some stay leechers, some switch kind every round.
                let left = if id % 2 == 0 { 5 } else { u64::from(round % 2) };
                s.announce(&ann(h, id, left, None), remote, t);
            }
            // One more from that address is never stored, however often the others announce.
            s.announce(&ann(h, 99, 5, None), remote, t);
            assert_eq!(s.peer_count(&h), MAX_PEERS_PER_IP);
        }
        assert_eq!(ip_counts(&s, h, ip), (MAX_PEERS_PER_IP, MAX_PEERS_PER_IP));
        assert_eq!(s.total_peers(), MAX_PEERS_PER_IP);
        let (seeds, _, leechers) = scrape_counts(&mut s, h, t0);
        assert_eq!((seeds + leechers) as usize, MAX_PEERS_PER_IP);
        // The address's whole-tracker count is still right: it fills up to the cap and no more.
        let mut id = 1_000;
        for swarm in 0..(MAX_PEERS_PER_HOST / MAX_PEERS_PER_IP) as u32 {
            for _ in 0..MAX_PEERS_PER_IP {
                id += 1;
                s.announce(&ann(hash_of(swarm), id, 5, None), remote, t0);
            }
        }
        assert_eq!(s.total_peers(), MAX_PEERS_PER_HOST);
        assert_eq!(ip_counts(&s, h, ip), (MAX_PEERS_PER_IP, MAX_PEERS_PER_HOST));
    }

    #[test]
    fn a_peer_id_from_another_address_cannot_move_or_stop_a_peer() {
        let mut s = Swarms::new();
        let now = Instant::now();
        s.announce(&ann([1; 20], 1, 5, None), at("192.0.2.1:1"), now);
        // The same id from elsewhere: stopped removes nothing, an announce is another entry.
        s.announce(
            &ann([1; 20], 1, 5, Some("stopped")),
            at("198.51.100.9:1"),
            now,
        );
        assert_eq!(s.peer_count(&[1; 20]), 1);
        s.announce(&ann([1; 20], 1, 5, None), at("198.51.100.9:1"), now);
        let answer = s.announce(&ann([1; 20], 2, 5, None), at("203.0.113.1:1"), now);
        let mut peers = AnnounceResponse::from_bencode(&answer).unwrap().peers;
        peers.sort();
        assert_eq!(peers, vec![at("192.0.2.1:6881"), at("198.51.100.9:6881")]);
        // From its own address it stops.
        s.announce(&ann([1; 20], 1, 5, Some("stopped")), at("192.0.2.1:1"), now);
        assert_eq!(s.peer_count(&[1; 20]), 2);
    }

    #[test]
    fn completions_count_once_for_a_known_leecher_and_go_with_the_swarm() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let remote = at("192.0.2.1:1");
        let h = [1; 20];
        // A stranger saying "completed" counts for nothing.
        s.announce(&ann(h, 1, 0, Some("completed")), remote, now);
        assert_eq!(scrape_counts(&mut s, h, now), (1, 0, 0));
        s.announce(&ann(h, 2, 100, Some("started")), remote, now);
        s.announce(&ann(h, 2, 0, Some("completed")), remote, now);
        s.announce(&ann(h, 2, 0, Some("completed")), remote, now);
        assert_eq!(scrape_counts(&mut s, h, now), (2, 1, 0));
        // Completed with bytes left is no completion.
        s.announce(&ann(h, 3, 100, None), remote, now);
        s.announce(&ann(h, 3, 100, Some("completed")), remote, now);
        assert_eq!(scrape_counts(&mut s, h, now).1, 1);
        for id in 1..=3 {
            s.announce(&ann(h, id, 0, Some("stopped")), remote, now);
        }
        assert_eq!(s.swarm_count(), 0);
        assert_eq!(scrape_counts(&mut s, h, now), (0, 0, 0));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_stored_as_ipv4() {
        let mut s = Swarms::new();
        let now = Instant::now();
        s.announce(&ann([1; 20], 1, 5, None), at("[::ffff:192.0.2.5]:1"), now);
        let answer = s.announce(&ann([1; 20], 2, 5, None), at("192.0.2.6:1"), now);
        let v = bencode::decode(&answer).unwrap();
        assert!(v.get("peers6").is_none());
        let peers = AnnounceResponse::from_bencode(&answer).unwrap().peers;
        assert_eq!(peers, vec![at("192.0.2.5:6881")]);
        // And it counts under its IPv4 address's cap.
        for i in 10..20 {
            s.announce(&ann([1; 20], i, 5, None), at("[::ffff:192.0.2.5]:1"), now);
        }
        assert_eq!(s.peer_count(&[1; 20]), MAX_PEERS_PER_IP + 1);
    }

    #[test]
    fn one_address_holds_at_most_its_share_of_the_whole_tracker() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let hash = |n: u32| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&n.to_be_bytes());
            h
        };
        // Its cap in each of many swarms, until the tracker-wide cap stops it.
        let mut id = 0;
        for swarm in 0..(MAX_PEERS_PER_HOST / MAX_PEERS_PER_IP + 5) as u32 {
            for _ in 0..MAX_PEERS_PER_IP {
                id += 1;
                s.announce(&ann(hash(swarm), id, 5, None), at("192.0.2.9:1"), now);
            }
        }
        assert_eq!(s.total_peers(), MAX_PEERS_PER_HOST);
        // Another address is still stored; the capped one is answered but not stored.
        s.announce(&ann(hash(999), 1, 5, None), at("192.0.2.10:1"), now);
        s.announce(&ann(hash(999), 2, 5, None), at("192.0.2.9:1"), now);
        assert_eq!(s.peer_count(&hash(999)), 1);
        // Once one of its entries stops, it has a place again.
        s.announce(&ann(hash(0), 1, 5, Some("stopped")), at("192.0.2.9:1"), now);
        s.announce(&ann(hash(999), 2, 5, None), at("192.0.2.9:1"), now);
        assert_eq!(s.peer_count(&hash(999)), 2);
        assert_eq!(s.total_peers(), MAX_PEERS_PER_HOST + 1);
    }

    #[test]
    fn a_swarm_that_shrinks_gives_its_memory_back() {
        let mut s = Swarms::new();
        let now = Instant::now();
        for i in 0..2_000 {
            s.announce(&ann([3; 20], i, 5, None), at("127.0.0.1:1"), now);
        }
        for i in 1..2_000 {
            s.announce(&ann([3; 20], i, 5, Some("stopped")), at("127.0.0.1:1"), now);
        }
        let swarm = &s.swarms[&[3; 20]];
        assert_eq!(swarm.len(), 1);
        assert!(
            swarm.leechers.capacity() <= 8,
            "{}",
            swarm.leechers.capacity()
        );
        assert!(swarm.index.capacity() <= 64, "{}", swarm.index.capacity());
    }

    #[test]
    fn only_the_askers_own_entry_is_left_out_of_its_answer() {
        // The same peer id from another address is another entry (a copied id, or a peer
        // that moved): it is a peer like any other.
        let mut s = Swarms::new();
        let now = Instant::now();
        s.announce(&ann([4; 20], 1, 5, None), at("192.0.2.20:1"), now);
        let answer = s.announce(&ann([4; 20], 1, 5, None), at("192.0.2.21:1"), now);
        let peers = AnnounceResponse::from_bencode(&answer).unwrap().peers;
        assert_eq!(peers, vec![at("192.0.2.20:6881")]);
    }

    #[test]
    fn full_and_oversized_scrapes_are_refused() {
        let mut s = Swarms::new();
        let now = Instant::now();
        s.announce(&ann([1; 20], 1, 5, None), at("127.0.0.1:1"), now);
        let full = Request {
            path: "/scrape".into(),
            query: vec![],
        };
        let v = bencode::decode(&s.scrape(&full, now)).unwrap();
        assert!(v.get("failure reason").is_some() && v.get("files").is_none());
        let many = Request {
            path: "/scrape".into(),
            query: (0..=MAX_SCRAPE_HASHES as u32)
                .map(|i| ("info_hash".to_string(), hash_of(i).to_vec()))
                .collect(),
        };
        let v = bencode::decode(&s.scrape(&many, now)).unwrap();
        assert!(v.get("failure reason").is_some());
        assert_eq!(scrape_counts(&mut s, [1; 20], now), (0, 0, 1));
    }

    #[test]
    fn answers_are_random_samples_without_the_asker() {
        let mut s = Swarms::new();
        let now = Instant::now();
        let remote = at("127.0.0.1:1");
        for i in 0..300 {
            s.announce(&ann([1; 20], i, 5, None), remote, now);
        }
        // Every peer has the same address here: tell them apart by id (dictionary answers).
        let mut ids = HashSet::new();
        for _ in 0..20 {
            let mut r = ann([1; 20], 0, 5, None);
            r.query.push(("numwant".into(), b"50".to_vec()));
            r.query.push(("compact".into(), b"0".to_vec()));
            let v = bencode::decode(&s.announce(&r, remote, now)).unwrap();
            let list = v.get("peers").and_then(Value::as_list).unwrap().to_vec();
            assert_eq!(list.len(), 50);
            for p in list {
                let id = p.get("peer id").and_then(Value::as_bytes).unwrap().to_vec();
                assert_ne!(&id[..4], &0u32.to_be_bytes(), "never the asker");
                ids.insert(id);
            }
        }
        assert!(
            ids.len() > 100,
            "20 answers of 50 cover more than 50 peers: {}",
            ids.len()
        );
        // A small swarm: everyone but the asker.
        let mut s = Swarms::new();
        for i in 0..5 {
            s.announce(&ann([2; 20], i, 5, None), remote, now);
        }
        let answer = s.announce(&ann([2; 20], 0, 5, None), remote, now);
        assert_eq!(
            AnnounceResponse::from_bencode(&answer).unwrap().peers.len(),
            4
        );
    }
}
