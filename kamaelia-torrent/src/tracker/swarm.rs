//! A tracker's memory: which peers are in which swarm, and the answers to announce and scrape
//! requests (BEP 3, BEP 23, BEP 48 scrape). Pure: requests and the time in, answers out; the
//! component that serves it over TCP is [`super::server`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::announce::{failure_bencode, AnnounceResponse, PeerId};
use super::http::{self, Request};
use crate::bencode::{self, Value};

/// How often peers are told to announce.
pub const INTERVAL: Duration = Duration::from_secs(1800);

/// How many peers an answer holds at most.
pub const MAX_PEERS: usize = 200;

/// How many swarms one tracker keeps at most (a bound on its memory).
pub const MAX_SWARMS: usize = 100_000;

/// How many peers one swarm keeps at most.
pub const MAX_PEERS_PER_SWARM: usize = 10_000;

#[derive(Clone, Debug)]
struct PeerEntry {
    addr: SocketAddr,
    left: u64,
    seen: Instant,
}

/// Every swarm the tracker knows.
#[derive(Debug, Default)]
pub struct Swarms {
    swarms: HashMap<[u8; 20], HashMap<[u8; 20], PeerEntry>>,
    /// Completed downloads per torrent (the scrape's `downloaded`).
    completed: HashMap<[u8; 20], u64>,
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

    /// How many peers are in the swarm of `info_hash`.
    pub fn peer_count(&self, info_hash: &[u8; 20]) -> usize {
        self.swarms.get(info_hash).map_or(0, HashMap::len)
    }

    /// Forgets peers that have not announced for twice the interval.
    pub fn expire(&mut self, now: Instant) {
        for swarm in self.swarms.values_mut() {
            swarm.retain(|_, p| now.duration_since(p.seen) < INTERVAL * 2);
        }
        self.swarms.retain(|_, s| !s.is_empty());
    }

    /// Handles one HTTP request from `remote` and returns the whole HTTP response.
    pub fn handle(&mut self, req: &Request, remote: SocketAddr, now: Instant) -> Vec<u8> {
        let body = match req.path.as_str() {
            "/announce" => self.announce(req, remote, now),
            "/scrape" => self.scrape(req),
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
        let left: u64 = number(req, "left").unwrap_or(0);
        let event = req.param("event").and_then(|e| std::str::from_utf8(e).ok());
        let compact = req.param("compact").is_none_or(|c| c != b"0");
        let want: usize = number::<usize>(req, "numwant").unwrap_or(50).min(MAX_PEERS);
        // The peer's address: the one it connected from; a loopback client may name another
        // loopback address with `ip` (never a non-loopback one: no third-party announces).
        let ip: IpAddr = req
            .param("ip")
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse::<IpAddr>().ok())
            .filter(|ip| remote.ip().is_loopback() && ip.is_loopback())
            .unwrap_or(remote.ip());
        let addr = SocketAddr::new(ip, port);

        self.expire(now);
        if !self.swarms.contains_key(&info_hash) && self.swarms.len() >= MAX_SWARMS {
            return failure_bencode("this tracker is full");
        }
        let swarm = self.swarms.entry(info_hash).or_default();
        match event {
            Some("stopped") => {
                swarm.remove(&peer_id);
            }
            _ => {
                if event == Some("completed") {
                    *self.completed.entry(info_hash).or_default() += 1;
                }
                if swarm.len() < MAX_PEERS_PER_SWARM || swarm.contains_key(&peer_id) {
                    swarm.insert(
                        peer_id,
                        PeerEntry {
                            addr,
                            left,
                            seen: now,
                        },
                    );
                }
            }
        }
        let swarm = self.swarms.get(&info_hash);
        let (complete, incomplete) = swarm.map_or((0, 0), |s| {
            let seeds = s.values().filter(|p| p.left == 0).count() as u32;
            (seeds, s.len() as u32 - seeds)
        });
        let (ids, peers): (Vec<PeerId>, Vec<SocketAddr>) = swarm
            .map(|s| {
                s.iter()
                    .filter(|(id, _)| **id != peer_id)
                    // A seed needs no other seeds.
                    .filter(|(_, p)| left > 0 || p.left > 0)
                    .map(|(id, p)| (PeerId(*id), p.addr))
                    .take(want)
                    .unzip()
            })
            .unwrap_or_default();
        let answer = AnnounceResponse {
            interval: INTERVAL.as_secs() as u32,
            min_interval: Some(60),
            peers,
            complete: Some(complete),
            incomplete: Some(incomplete),
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

    /// Answers a scrape: counts for the torrents asked about (all, if none is named).
    pub fn scrape(&mut self, req: &Request) -> Vec<u8> {
        let asked: Vec<[u8; 20]> = req
            .params("info_hash")
            .filter_map(|b| array20(Some(b)))
            .collect();
        let hashes: Vec<[u8; 20]> = if asked.is_empty() {
            self.swarms.keys().copied().collect()
        } else {
            asked
        };
        let files = hashes
            .into_iter()
            .map(|h| {
                let s = self.swarms.get(&h);
                let seeds = s.map_or(0, |s| s.values().filter(|p| p.left == 0).count());
                let all = s.map_or(0, HashMap::len);
                (
                    h.to_vec(),
                    Value::dict([
                        ("complete", Value::Int(seeds as i64)),
                        (
                            "downloaded",
                            Value::Int(self.completed.get(&h).copied().unwrap_or(0) as i64),
                        ),
                        ("incomplete", Value::Int((all - seeds) as i64)),
                    ]),
                )
            })
            .collect();
        bencode::encode(&Value::dict([("files", Value::Dict(files))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::announce::{url_encode, AnnounceResponse};

    fn req(hash: u8, peer: u8, port: u16, left: u64, extra: &str) -> Request {
        let q = format!(
            "GET /announce?info_hash={}&peer_id={}&port={port}&left={left}&compact=1{extra} HTTP/1.0\r\n\r\n",
            url_encode(&[hash; 20]),
            url_encode(&[peer; 20])
        );
        http::parse_request(q.as_bytes()).unwrap().unwrap().0
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
        let r = http::parse_request(b"GET /announce?info_hash=abc&port=1 HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        let body = s.announce(&r, "127.0.0.1:1".parse().unwrap(), Instant::now());
        assert!(matches!(
            AnnounceResponse::from_bencode(&body),
            Err(crate::tracker::announce::TrackerError::Failure(_))
        ));
    }
}
