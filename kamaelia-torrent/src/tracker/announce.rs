//! Tracker announces as values (BEP 3, BEP 23 compact peers, BEP 7 IPv6 peers), and their HTTP
//! encoding: the query string of a request, and the bencoded answer. Pure: no I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bencode::{self, Value};
use crate::metainfo::InfoHash;
use crate::random::Rng;

/// A peer's 20-byte id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(pub [u8; 20]);

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", String::from_utf8_lossy(&self.0))
    }
}

impl PeerId {
    /// A fresh id in the Azureus style: `-KR0100-` and twelve random characters.
    pub fn generate() -> PeerId {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut id = *b"-KR0100-000000000000";
        // Enough to tell peers apart; an id is no secret.
        let mut rng = Rng::from_clock();
        for b in id[8..].iter_mut() {
            *b = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
        }
        PeerId(id)
    }
}

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first announce of a download.
    Started,
    /// The download has just completed.
    Completed,
    /// The client is leaving the swarm.
    Stopped,
}

impl Event {
    /// The word used in HTTP queries.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
        }
    }
    /// The number used by UDP trackers (BEP 15).
    pub fn udp_code(event: Option<Event>) -> u32 {
        match event {
            None => 0,
            Some(Event::Completed) => 1,
            Some(Event::Started) => 2,
            Some(Event::Stopped) => 3,
        }
    }
}

/// What a client tells a tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The client.
    pub peer_id: PeerId,
    /// The port the client accepts peers on.
    pub port: u16,
    /// Bytes sent so far.
    pub uploaded: u64,
    /// Bytes received so far.
    pub downloaded: u64,
    /// Bytes still needed.
    pub left: u64,
    /// Why this announce, if it is not a regular one.
    pub event: Option<Event>,
    /// How many peers the client would like.
    pub numwant: Option<u32>,
    /// A random number identifying the client across address changes.
    pub key: u32,
}

/// Percent-encodes bytes for a URL query (everything but unreserved characters).
pub fn url_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Decodes a percent-encoded query value (also `+` for space). `None` if malformed.
pub fn url_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                // Two hex digits: from_str_radix alone would take a sign ("%+1").
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

impl AnnounceRequest {
    /// The full announce URL: the tracker's URL with this request's query appended.
    pub fn to_url(&self, announce_url: &str) -> String {
        let sep = if announce_url.contains('?') { '&' } else { '?' };
        let mut q = format!(
            "{announce_url}{sep}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&key={:08x}",
            url_encode(&self.info_hash.0),
            url_encode(&self.peer_id.0),
            self.port,
            self.uploaded,
            self.downloaded,
            self.left,
            self.key
        );
        if let Some(e) = self.event {
            q.push_str("&event=");
            q.push_str(e.as_str());
        }
        if let Some(n) = self.numwant {
            q.push_str(&format!("&numwant={n}"));
        }
        q
    }
}

/// A tracker's answer to an announce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds the client should wait before the next regular announce.
    pub interval: u32,
    /// Seconds the client must wait at least, if the tracker says.
    pub min_interval: Option<u32>,
    /// Peers to connect to.
    pub peers: Vec<SocketAddr>,
    /// Seeders, if the tracker says.
    pub complete: Option<u32>,
    /// Leechers, if the tracker says.
    pub incomplete: Option<u32>,
    /// A warning to show the user.
    pub warning: Option<String>,
    /// A tracker id to send back with later announces.
    pub tracker_id: Option<Vec<u8>>,
}

/// An announce that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerError {
    /// The tracker refused, with its `failure reason`.
    Failure(String),
    /// The answer could not be understood.
    BadResponse(String),
    /// No answer in time.
    Timeout(String),
    /// The connection failed.
    Io(String),
    /// The tracker's URL is not one we can use.
    BadUrl(String),
    /// The announce was given up before an answer came, because the caller is stopping.
    Stopped,
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::Failure(r) => write!(f, "tracker refused: {r}"),
            TrackerError::BadResponse(r) => write!(f, "tracker answered garbage: {r}"),
            TrackerError::Timeout(r) => write!(f, "tracker did not answer in time: {r}"),
            TrackerError::Io(r) => write!(f, "could not reach the tracker: {r}"),
            TrackerError::BadUrl(r) => write!(f, "unusable tracker URL: {r}"),
            TrackerError::Stopped => write!(f, "announce given up: stopping"),
        }
    }
}

impl std::error::Error for TrackerError {}

fn bad(reason: impl Into<String>) -> TrackerError {
    TrackerError::BadResponse(reason.into())
}

/// Decodes compact IPv4 peers: 6 bytes each.
pub fn decode_compact_v4(b: &[u8]) -> Result<Vec<SocketAddr>, TrackerError> {
    if b.len() % 6 != 0 {
        return Err(bad(format!(
            "compact peers of {} bytes, not a multiple of 6",
            b.len()
        )));
    }
    Ok(b.chunks_exact(6)
        .map(|c| {
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect())
}

/// Decodes compact IPv6 peers (BEP 7): 18 bytes each.
pub fn decode_compact_v6(b: &[u8]) -> Result<Vec<SocketAddr>, TrackerError> {
    if b.len() % 18 != 0 {
        return Err(bad(format!(
            "compact peers6 of {} bytes, not a multiple of 18",
            b.len()
        )));
    }
    Ok(b.chunks_exact(18)
        .map(|c| {
            let ip: [u8; 16] = c[..16].try_into().expect("16 bytes");
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(ip)),
                u16::from_be_bytes([c[16], c[17]]),
            )
        })
        .collect())
}

/// Encodes peers compactly: IPv4 ones in the first result, IPv6 ones in the second.
pub fn encode_compact(peers: &[SocketAddr]) -> (Vec<u8>, Vec<u8>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in peers {
        match p.ip() {
            IpAddr::V4(ip) => {
                v4.extend_from_slice(&ip.octets());
                v4.extend_from_slice(&p.port().to_be_bytes());
            }
            IpAddr::V6(ip) => {
                v6.extend_from_slice(&ip.octets());
                v6.extend_from_slice(&p.port().to_be_bytes());
            }
        }
    }
    (v4, v6)
}

fn u32_field(v: &Value, key: &str) -> Result<Option<u32>, TrackerError> {
    match v.get(key) {
        None => Ok(None),
        Some(x) => {
            let i = x
                .as_int()
                .ok_or_else(|| bad(format!("{key} is not an integer")))?;
            u32::try_from(i)
                .map(Some)
                .map_err(|_| bad(format!("{key} = {i} is out of range")))
        }
    }
}

impl AnnounceResponse {
    /// Parses a bencoded HTTP tracker answer: compact or dictionary peer lists, `failure
    /// reason`, `warning message`, `interval`, `min interval`.
    pub fn from_bencode(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
        let v = bencode::decode(body).map_err(|e| bad(e.to_string()))?;
        if v.as_dict().is_none() {
            return Err(bad("the answer is not a dictionary"));
        }
        if let Some(reason) = v.get("failure reason") {
            return Err(TrackerError::Failure(
                String::from_utf8_lossy(reason.as_bytes().unwrap_or(b"(not a string)"))
                    .into_owned(),
            ));
        }
        let interval = u32_field(&v, "interval")?.ok_or_else(|| bad("no interval"))?;
        let mut peers = Vec::new();
        match v.get("peers") {
            Some(Value::Bytes(b)) => peers.extend(decode_compact_v4(b)?),
            Some(Value::List(list)) => {
                for p in list {
                    let ip = p
                        .get("ip")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("a peer without an ip"))?;
                    let port = p
                        .get("port")
                        .and_then(Value::as_int)
                        .and_then(|i| u16::try_from(i).ok())
                        .ok_or_else(|| bad("a peer without a valid port"))?;
                    let ip: IpAddr = ip
                        .parse()
                        .map_err(|_| bad(format!("peer ip {ip:?} is not an address")))?;
                    peers.push(SocketAddr::new(ip, port));
                }
            }
            None => {}
            Some(_) => return Err(bad("peers is neither a string nor a list")),
        }
        if let Some(b) = v.get("peers6").and_then(Value::as_bytes) {
            peers.extend(decode_compact_v6(b)?);
        }
        Ok(AnnounceResponse {
            interval,
            min_interval: u32_field(&v, "min interval")?,
            peers,
            complete: u32_field(&v, "complete")?,
            incomplete: u32_field(&v, "incomplete")?,
            warning: v
                .get("warning message")
                .and_then(Value::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            tracker_id: v
                .get("tracker id")
                .and_then(Value::as_bytes)
                .map(<[u8]>::to_vec),
        })
    }

    /// Encodes the answer as a tracker sends it: compact (`peers` as bytes, `peers6` for IPv6)
    /// or as a list of dictionaries.
    pub fn to_bencode(&self, compact: bool) -> Vec<u8> {
        self.encode(compact, &[])
    }

    /// The answer as a list of dictionaries, each with its peer's id (BEP 3's form; `ids[i]`
    /// is the id of `peers[i]`, and a peer without one gets none).
    pub fn to_bencode_with_ids(&self, ids: &[PeerId]) -> Vec<u8> {
        self.encode(false, ids)
    }

    fn encode(&self, compact: bool, ids: &[PeerId]) -> Vec<u8> {
        let mut d: Vec<(&str, Value)> = vec![("interval", Value::Int(self.interval as i64))];
        if let Some(m) = self.min_interval {
            d.push(("min interval", Value::Int(m as i64)));
        }
        if let Some(c) = self.complete {
            d.push(("complete", Value::Int(c as i64)));
        }
        if let Some(i) = self.incomplete {
            d.push(("incomplete", Value::Int(i as i64)));
        }
        if let Some(w) = &self.warning {
            d.push(("warning message", Value::bytes(w.as_bytes())));
        }
        if compact {
            let (v4, v6) = encode_compact(&self.peers);
            d.push(("peers", Value::Bytes(v4)));
            if !v6.is_empty() {
                d.push(("peers6", Value::Bytes(v6)));
            }
        } else {
            d.push((
                "peers",
                Value::List(
                    self.peers
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            let mut entry = vec![
                                ("ip", Value::bytes(p.ip().to_string())),
                                ("port", Value::Int(p.port() as i64)),
                            ];
                            if let Some(id) = ids.get(i) {
                                entry.push(("peer id", Value::bytes(id.0.to_vec())));
                            }
                            Value::dict(entry)
                        })
                        .collect(),
                ),
            ));
        }
        bencode::encode(&Value::dict(d))
    }
}

/// The bencoded failure answer a tracker sends.
pub fn failure_bencode(reason: &str) -> Vec<u8> {
    bencode::encode(&Value::dict([(
        "failure reason",
        Value::bytes(reason.as_bytes()),
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let e = url_encode(&all);
        assert!(e.is_ascii());
        assert_eq!(url_decode(&e).unwrap(), all);
        assert_eq!(url_decode("%4"), None);
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("%+1"), None);
        assert_eq!(url_decode("%-1"), None);
        assert_eq!(url_decode("%1"), None);
    }

    #[test]
    fn compact_and_dictionary_answers_give_the_same_peers() {
        let r = AnnounceResponse {
            interval: 1800,
            min_interval: Some(60),
            peers: vec![
                "127.0.0.1:6881".parse().unwrap(),
                "[::1]:51413".parse().unwrap(),
                "10.1.2.3:1".parse().unwrap(),
            ],
            complete: Some(2),
            incomplete: Some(1),
            warning: Some("be nice".into()),
            tracker_id: None,
        };
        for compact in [true, false] {
            let back = AnnounceResponse::from_bencode(&r.to_bencode(compact)).unwrap();
            let mut want = r.peers.clone();
            let mut got = back.peers.clone();
            want.sort();
            got.sort();
            assert_eq!(got, want);
            assert_eq!(back.interval, 1800);
            assert_eq!(back.min_interval, Some(60));
            assert_eq!(back.warning.as_deref(), Some("be nice"));
        }
    }

    #[test]
    fn failure_and_garbage_are_errors() {
        assert_eq!(
            AnnounceResponse::from_bencode(&failure_bencode("unregistered torrent")),
            Err(TrackerError::Failure("unregistered torrent".into()))
        );
        for junk in [
            &b"<html>"[..],
            b"d8:intervali-5ee",
            b"d5:peers5:abcdee",
            b"le",
        ] {
            assert!(matches!(
                AnnounceResponse::from_bencode(junk),
                Err(TrackerError::BadResponse(_))
            ));
        }
    }

    #[test]
    fn request_url_carries_binary_fields_encoded() {
        let r = AnnounceRequest {
            info_hash: InfoHash([0xff; 20]),
            peer_id: PeerId(*b"-KR0100-abcdefghijkl"),
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Some(Event::Started),
            numwant: Some(50),
            key: 0xdead,
        };
        let url = r.to_url("http://127.0.0.1:6969/announce");
        assert!(url.starts_with("http://127.0.0.1:6969/announce?info_hash=%FF%FF"));
        assert!(url.contains("&event=started") && url.contains("&numwant=50"));
        assert!(url.contains("peer_id=-KR0100-abcdefghijkl"));
        let id = PeerId::generate();
        assert!(id.0.starts_with(b"-KR0100-"));
    }

    #[test]
    fn generated_peer_ids_differ_even_when_made_at_once() {
        let ids: std::collections::HashSet<PeerId> =
            (0..1000).map(|_| PeerId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|id| id.0[8..].iter().all(u8::is_ascii_alphanumeric)));
    }
}
