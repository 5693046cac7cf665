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
    let bg = Background::start();
    let tracker = Tracker::new();
    let (server, addr) = tracker.server("127.0.0.1:0".parse().unwrap()).unwrap();
    let handle = bg.handle(server).unwrap();
    Running {
        _bg: bg,
        _handle: handle,
        addr,
        tracker,
    }
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
