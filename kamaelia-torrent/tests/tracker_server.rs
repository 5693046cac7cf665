//! Our tracker (issue 4): an axon component serving HTTP announce and scrape, used by our own
//! tracker client and by aria2c (a real client, from Debian), on 127.0.0.1 only.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kamaelia_torrent::axon::{Background, Handle};
use kamaelia_torrent::metainfo::{InfoHash, Metainfo, TorrentBuilder};
use kamaelia_torrent::tracker::announce::{AnnounceRequest, AnnounceResponse, Event, PeerId};
use kamaelia_torrent::tracker::client::TrackerClient;
use kamaelia_torrent::tracker::server::Tracker;

mod common;
use common::*;

/// Our tracker, running on a background scheduler until dropped.
struct Running {
    _bg: Background,
    _handle: Handle,
    addr: SocketAddr,
    tracker: Tracker,
}

fn start() -> Running {
    start_with(Tracker::new())
}

fn request(hash: InfoHash, id: &[u8; 20], port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: hash,
        peer_id: PeerId(*id),
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: Some(Event::Started),
        numwant: None,
        key: 3,
    }
}

// new: issue 4 (our client and our tracker: peers meet, seeds and leechers are counted)
#[test]
fn our_client_meets_other_peers_through_our_tracker() {
    let t = start();
    let url = format!("http://{}/announce", t.addr);
    let hash = InfoHash([7; 20]);
    let client = TrackerClient::default();
    let a = client
        .announce(&url, &request(hash, b"-KR0100-aaaaaaaaaaaa", 7001, 0))
        .unwrap();
    assert!(a.peers.is_empty());
    let b = client
        .announce(&url, &request(hash, b"-KR0100-bbbbbbbbbbbb", 7002, 100))
        .unwrap();
    assert_eq!(
        b.peers,
        vec!["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)));
    assert_eq!(t.tracker.peer_count(&hash.0), 2);
    let mut stop = request(hash, b"-KR0100-aaaaaaaaaaaa", 7001, 0);
    stop.event = Some(Event::Stopped);
    client.announce(&url, &stop).unwrap();
    assert_eq!(t.tracker.peer_count(&hash.0), 1);
}

fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::Write;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let body = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    out[body..].to_vec()
}

// new: issue 4 (compact and non-compact answers, scrape, and errors as failure reasons)
#[test]
fn compact_dictionary_scrape_and_failures() {
    let t = start();
    let hash = "%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07";
    let q = |id: &str, port: u16, compact: u8| {
        format!("/announce?info_hash={hash}&peer_id={id}&port={port}&left=5&compact={compact}")
    };
    get(t.addr, &q("-KR0100-cccccccccccc", 7100, 1));
    let dict = get(t.addr, &q("-KR0100-dddddddddddd", 7101, 0));
    assert!(
        dict.windows(5).any(|w| w == b"2:ip9"),
        "a dictionary peer list"
    );
    let compact = get(t.addr, &q("-KR0100-eeeeeeeeeeee", 7102, 1));
    let r = AnnounceResponse::from_bencode(&compact).unwrap();
    assert_eq!(r.peers.len(), 2);
    let scrape = get(t.addr, &format!("/scrape?info_hash={hash}"));
    let v = kamaelia_torrent::bencode::decode(&scrape).unwrap();
    let files = v.get("files").unwrap().as_dict().unwrap();
    assert_eq!(
        files[&vec![7u8; 20]].get("incomplete").unwrap().as_int(),
        Some(3)
    );
    let bad = get(t.addr, "/announce?info_hash=short&port=1");
    assert!(String::from_utf8_lossy(&bad).contains("failure reason"));
}

// new: issue 4 (aria2c announces to our tracker and gets peers back: it connects to the peer
// our tracker gave it). DHT, local peer discovery and peer exchange are off; every address
// is 127.0.0.1.
#[test]
fn aria2c_announces_to_our_tracker_and_gets_peers() {
    if !have("aria2c") {
        return;
    }
    let t = start();
    let d = temp_dir("aria2-tracker");
    let data = vec![42u8; 300_000];
    let torrent = TorrentBuilder::new("payload.bin", 1 << 16)
        .tracker(&format!("http://{}/announce", t.addr))
        .single_file(&data)
        .to_bytes();
    let m = Metainfo::from_bytes(&torrent).unwrap();
    std::fs::write(d.join("t.torrent"), &torrent).unwrap();

    // A "seeder" that our tracker will hand to aria2c: a listening socket we watch.
    let seeder = TcpListener::bind("127.0.0.1:0").unwrap();
    let seeder_port = seeder.local_addr().unwrap().port();
    TrackerClient::default()
        .announce(
            &format!("http://{}/announce", t.addr),
            &request(m.info_hash, b"-KR0100-seedseedseed", seeder_port, 0),
        )
        .unwrap();

    let mut aria = Command::new("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-tracker-connect-timeout=10",
            "--seed-time=0",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--follow-torrent=mem",
        ])
        // aria2c wants a port of its own (1024-65535): take a free one.
        .arg(format!(
            "--listen-port={}",
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        ))
        .arg(format!("--dir={}", d.display()))
        .arg(d.join("t.torrent"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aria2c");

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        seeder.set_nonblocking(false).unwrap();
        if let Ok((mut s, _)) = seeder.accept() {
            let mut hs = [0u8; 68];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let got = s.read_exact(&mut hs).map(|_| hs.to_vec());
            let _ = tx.send(got.ok());
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let handshake = loop {
        if let Ok(h) = rx.recv_timeout(Duration::from_millis(200)) {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "aria2c never connected to the peer from our tracker"
        );
    };
    let _ = aria.kill();
    let _ = aria.wait();
    // aria2c connected to the address only our tracker gave it. It opens with an encrypted
    // (MSE) handshake by default, so its first bytes are a key exchange, not the plain
    // handshake; when they are plain, they name our torrent.
    let hs = handshake.expect("bytes from aria2c");
    if hs.starts_with(b"\x13BitTorrent protocol") {
        assert_eq!(&hs[28..48], &m.info_hash.0, "aria2c asked for our torrent");
    }
    assert!(
        t.tracker.peer_count(&m.info_hash.0) >= 2,
        "aria2c registered with our tracker"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

fn start_with(tracker: Tracker) -> Running {
    let bg = Background::start();
    let (server, addr) = tracker.server("127.0.0.1:0".parse().unwrap()).unwrap();
    let handle = bg.handle(server).unwrap();
    Running {
        _bg: bg,
        _handle: handle,
        addr,
        tracker,
    }
}

/// Everything the server sends until it closes (an error if it neither answers nor closes
/// within 20 s, or resets).
fn read_all(s: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Waits (up to 20 s) until the tracker serves `n` connections.
fn until_connections(t: &Running, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.tracker.connections() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections, not {n}",
            t.tracker.connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// Connections beyond the limit are closed at once; a finished one frees its place.
#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    use std::io::Write;
    use std::net::TcpStream;
    let t = start_with(Tracker::new().with_max_connections(2));
    let mut a = TcpStream::connect(t.addr).unwrap();
    let _b = TcpStream::connect(t.addr).unwrap();
    until_connections(&t, 2);
    let mut c = TcpStream::connect(t.addr).unwrap();
    let _ = c.write_all(b"GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n");
    // Closed without an answer (or reset, if the request arrived after the close).
    match read_all(&mut c) {
        Ok(bytes) => assert!(bytes.is_empty(), "an answer over the limit"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert_eq!(t.tracker.connections(), 2);
    // `a` is answered; its place goes to the next connection.
    a.write_all(b"GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n")
        .unwrap();
    assert!(read_all(&mut a).unwrap().starts_with(b"HTTP/1.0 200"));
    until_connections(&t, 1);
    let answer = get(t.addr, "/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa");
    assert!(answer.starts_with(b"d5:files"), "{answer:?}");
}

// A client that never finishes its request head (slowloris) is closed at its deadline.
#[test]
fn a_slow_request_head_is_closed_at_its_deadline() {
    use std::io::Write;
    let t = start_with(Tracker::new().with_head_timeout(Duration::from_millis(200)));
    let mut s = std::net::TcpStream::connect(t.addr).unwrap();
    s.write_all(b"GET /scrape HTTP/1.0\r\nX: ").unwrap();
    let got = read_all(&mut s).expect("closed by the server, not a read time-out");
    assert!(got.is_empty(), "no answer: {got:?}");
    until_connections(&t, 0);
}

// Heads ending in bare LFs are answered; requests that cannot be parsed get a bencoded
// failure reason with HTTP 200 (which our client reads as the tracker's refusal), and a
// full scrape is refused.
#[test]
fn bare_lf_heads_bad_requests_and_full_scrapes() {
    use std::io::Write;
    let t = start();
    let raw = |bytes: &[u8]| {
        let mut s = std::net::TcpStream::connect(t.addr).unwrap();
        s.write_all(bytes).unwrap();
        read_all(&mut s).unwrap()
    };
    let lf = raw(b"GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.0\n\n");
    assert!(lf.starts_with(b"HTTP/1.0 200"), "{lf:?}");
    assert!(lf.ends_with(b"incompletei0eeee"), "{lf:?}");
    for bad in [
        &b"POST /announce HTTP/1.0\r\n\r\n"[..],
        b"GET /announce?a=%+1 HTTP/1.0\r\n\r\n",
    ] {
        let answer = raw(bad);
        assert!(answer.starts_with(b"HTTP/1.0 200"), "{answer:?}");
        let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
        assert!(matches!(
            AnnounceResponse::from_bencode(body),
            Err(kamaelia_torrent::tracker::announce::TrackerError::Failure(
                _
            ))
        ));
    }
    let full = get(t.addr, "/scrape");
    assert!(String::from_utf8_lossy(&full).contains("failure reason"));
}
