//! The tracker client (issue 4): HTTP and UDP announces against opentracker (a real tracker,
//! from Debian) and against small local servers that misbehave on purpose. Loopback only.

mod common;
use common::ports::free_port;
use common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kamaelia_torrent::metainfo::InfoHash;
use kamaelia_torrent::tracker::announce::{
    failure_bencode, AnnounceRequest, Event, PeerId, TrackerError,
};
use kamaelia_torrent::tracker::client::TrackerClient;

fn request(hash: InfoHash, id: &[u8; 20], port: u16) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: hash,
        peer_id: PeerId(*id),
        port,
        uploaded: 0,
        downloaded: 0,
        left: 1000,
        event: Some(Event::Started),
        numwant: Some(50),
        key: 1,
    }
}

fn quick() -> TrackerClient {
    TrackerClient {
        http_timeout: Duration::from_secs(2),
        udp_timeout: Duration::from_millis(200),
        udp_attempts: 2,
        give_up_at: None,
    }
}

/// An opentracker on 127.0.0.1 whitelisting one torrent; killed when dropped.
struct OpenTracker {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OpenTracker {
    fn start(hash: InfoHash) -> OpenTracker {
        let dir = std::env::temp_dir().join(format!(
            "kt-opentracker-{}-{}",
            std::process::id(),
            hash.to_hex()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("whitelist.txt"), format!("{}\n", hash.to_hex())).unwrap();
        // The port is free when chosen, but another test's process may take it before
        // opentracker binds it; opentracker then exits, and a fresh port is tried.
        for _attempt in 0..5 {
            let port = free_port();
            let p = port.to_string();
            // Debian's opentracker only serves whitelisted torrents; it chroots to -d, so
            // the whitelist path is given inside it.
            let mut child = Command::new("opentracker")
                .args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-d"])
                .arg(&dir)
                .args(["-w", "/whitelist.txt"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start opentracker");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut listening = false;
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Whoever answered, opentracker must still be alive a moment later
                    // (it exits at once when it cannot bind its ports).
                    std::thread::sleep(Duration::from_millis(100));
                    listening = child.try_wait().ok().flatten().is_none();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if listening {
                return OpenTracker { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("opentracker did not start on any of 5 ports");
    }
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// new: issue 4 (our tracker client announces to opentracker, over HTTP and over UDP)
#[test]
fn announces_to_opentracker_over_http_and_udp() {
    if !have("opentracker") {
        return;
    }
    let hash = InfoHash(*b"kamaelia-torrent-t01");
    let tracker = OpenTracker::start(hash);
    let client = quick();
    for scheme in ["http", "udp"] {
        let url = format!("{scheme}://127.0.0.1:{}/announce", tracker.port);
        let first = client
            .announce(&url, &request(hash, b"-KR0100-aaaaaaaaaaaa", 7001))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(first.interval > 0);
        let second = client
            .announce(&url, &request(hash, b"-KR0100-bbbbbbbbbbbb", 7002))
            .unwrap();
        let want: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        assert!(second.peers.contains(&want), "{url}: {:?}", second.peers);
    }
    // A torrent not on the whitelist is refused with the tracker's reason.
    let url = format!("http://127.0.0.1:{}/announce", tracker.port);
    let refused = client.announce(
        &url,
        &request(InfoHash([9; 20]), b"-KR0100-cccccccccccc", 7003),
    );
    assert!(
        matches!(refused, Err(TrackerError::Failure(_))),
        "{refused:?}"
    );
}

/// A one-shot HTTP server that answers the first request with `answer`.
fn http_server(answer: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&answer);
        }
    });
    (url, h)
}

fn http_answer(body: &[u8]) -> Vec<u8> {
    let mut v = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

/// 20,000 loopback peers (127.`net`.x.y, never dialled: only parsed) and the compact answer
/// (120 KB) that lists them.
fn twenty_thousand_peers(net: u8) -> (Vec<SocketAddr>, Vec<u8>) {
    use kamaelia_torrent::tracker::announce::AnnounceResponse;
    let peers: Vec<SocketAddr> = (0..20_000u32)
        .map(|i| SocketAddr::from(([127, net, (i >> 8) as u8, i as u8], 1000 + (i % 50) as u16)))
        .collect();
    let body = AnnounceResponse {
        interval: 1800,
        min_interval: None,
        peers: peers.clone(),
        complete: None,
        incomplete: None,
        warning: None,
        tracker_id: None,
    }
    .to_bencode(true);
    (peers, body)
}

/// A long answer that trickles in is read whole: 20,000 compact peers in a chunked body of
/// one-byte chunks (720 KB), written 1,460 bytes at a time, then the connection closed. (Past
/// 64 KiB the client parses only as the answer doubles, and at its end: parsing after every
/// read made such an answer cost quadratic time.)
#[test]
fn a_long_answer_trickling_in_is_read_whole() {
    let (peers, body) = twenty_thousand_peers(1);
    let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for &b in &body {
        answer.extend_from_slice(b"1\r\n");
        answer.push(b);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            s.set_nodelay(true).unwrap();
            for part in answer.chunks(1460) {
                if s.write_all(part).is_err() {
                    return;
                }
            }
        }
    });
    let client = TrackerClient {
        http_timeout: Duration::from_secs(30),
        ..quick()
    };
    let got = client
        .announce(
            &url,
            &request(InfoHash([3; 20]), b"-KR0100-cccccccccccc", 1),
        )
        .unwrap();
    assert_eq!(got.peers, peers);
    h.join().unwrap();
}

/// A long answer from a tracker that keeps the connection open (it ignores our `Connection:
/// close`) is taken once the tracker pauses, not left to time out.
#[test]
fn a_long_answer_on_a_connection_kept_open_is_taken() {
    let (peers, body) = twenty_thousand_peers(2);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&http_answer(&body));
            // Held open until the client has its answer, or for 20 s.
            let _ = done_rx.recv_timeout(Duration::from_secs(20));
        }
    });
    let client = TrackerClient {
        http_timeout: Duration::from_secs(10),
        ..quick()
    };
    let got = client.announce(
        &url,
        &request(InfoHash([4; 20]), b"-KR0100-dddddddddddd", 1),
    );
    let _ = done_tx.send(());
    h.join().unwrap();
    assert_eq!(got.unwrap().peers, peers);
}

// new: issue 4 (failure reason and garbage answers are errors, not hangs)
#[test]
fn failure_reasons_and_garbage_are_errors() {
    let hash = InfoHash([1; 20]);
    type Check = fn(&TrackerError) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (http_answer(&failure_bencode("go away")), |e| {
            *e == TrackerError::Failure("go away".into())
        }),
        (http_answer(b"<html>not bencode</html>"), |e| {
            matches!(e, TrackerError::BadResponse(_))
        }),
        (
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            |e| matches!(e, TrackerError::BadResponse(_)),
        ),
        (b"garbage that is not HTTP\r\n\r\n".to_vec(), |e| {
            matches!(e, TrackerError::BadResponse(_))
        }),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
            |e| matches!(e, TrackerError::BadResponse(_)),
        ),
    ];
    for (answer, expected) in cases {
        let (url, h) = http_server(answer);
        let got = quick().announce(&url, &request(hash, b"-KR0100-aaaaaaaaaaaa", 1));
        assert!(got.as_ref().err().is_some_and(expected), "{got:?}");
        h.join().unwrap();
    }
}

// new: issue 4 (time-outs are errors, not hangs: a server that never answers)
/// An HTTP "tracker" that takes one connection and holds it for `hold` without a word.
fn silent_http(hold: Duration) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let keep = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(hold);
        drop(s);
    });
    (url, keep)
}

#[test]
fn silent_trackers_time_out() {
    let hash = InfoHash([2; 20]);
    // HTTP: accepts, reads, never answers.
    let (url, keep) = silent_http(Duration::from_secs(4));
    let start = Instant::now();
    let got = quick().announce(&url, &request(hash, b"-KR0100-aaaaaaaaaaaa", 1));
    assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
    assert!(start.elapsed() >= Duration::from_secs(2));
    keep.join().unwrap();
    // UDP: a socket that never answers; two attempts (200 ms, then 400 ms).
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}", silent.local_addr().unwrap());
    let got = quick().announce(&url, &request(hash, b"-KR0100-aaaaaaaaaaaa", 1));
    assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
    let mut buf = [0u8; 64];
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let (n, _) = silent.recv_from(&mut buf).unwrap();
    assert_eq!(n, 16, "a BEP 15 connect request");
}

// new: issue 4 (a closed port is a clear connection error)
#[test]
fn a_closed_port_is_an_io_error() {
    let port = free_port();
    let got = quick().announce(
        &format!("http://127.0.0.1:{port}/announce"),
        &request(InfoHash([3; 20]), b"-KR0100-aaaaaaaaaaaa", 1),
    );
    assert!(matches!(got, Err(TrackerError::Io(_))), "{got:?}");
    assert!(matches!(
        quick().announce(
            "wss://127.0.0.1/x",
            &request(InfoHash([3; 20]), b"-KR0100-aaaaaaaaaaaa", 1)
        ),
        Err(TrackerError::BadUrl(_))
    ));
}

// new: BEP 12 (tiers in order; the tracker that answered moves to the front of its tier)
#[test]
fn tiers_fall_through_to_a_working_tracker() {
    let dead = format!("http://127.0.0.1:{}/announce", free_port());
    let body = kamaelia_torrent::tracker::announce::AnnounceResponse {
        interval: 900,
        ..Default::default()
    }
    .to_bencode(true);
    let (alive, h) = http_server(http_answer(&body));
    let mut tiers = vec![vec![dead.clone()], vec![dead.clone(), alive.clone()]];
    let (url, resp) = quick()
        .announce_tiers(
            &mut tiers,
            &request(InfoHash([4; 20]), b"-KR0100-aaaaaaaaaaaa", 1),
        )
        .unwrap();
    assert_eq!(url, alive);
    assert_eq!(resp.interval, 900);
    assert_eq!(tiers[1], vec![alive, dead]);
    h.join().unwrap();
}

// new: an announce waiting on a silent tracker is given up when its caller stops
#[test]
fn a_waiting_announce_gives_up_when_told_to_stop() {
    let hash = InfoHash([4; 20]);
    let slow = TrackerClient {
        http_timeout: Duration::from_secs(30),
        udp_timeout: Duration::from_secs(10),
        udp_attempts: 3,
        give_up_at: None,
    };
    let stop_after = |d: Duration| {
        let at = Instant::now() + d;
        move || Instant::now() >= at
    };
    // HTTP: accepts, never answers.
    let (url, keep) = silent_http(Duration::from_secs(3));
    let req = request(hash, b"-KR0100-aaaaaaaaaaaa", 1);
    let got = slow.announce_or_stop(&url, &req, &stop_after(Duration::from_millis(300)));
    assert!(matches!(got, Err(TrackerError::Stopped)), "{got:?}");
    keep.join().unwrap();
    // UDP: never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}", silent.local_addr().unwrap());
    let got = slow.announce_or_stop(&url, &req, &stop_after(Duration::from_millis(300)));
    assert!(matches!(got, Err(TrackerError::Stopped)), "{got:?}");
    // Tiers: the stop ends the walk; the second tracker is never asked.
    let unasked = TcpListener::bind("127.0.0.1:0").unwrap();
    unasked.set_nonblocking(true).unwrap();
    let mut tiers = vec![
        vec![url.clone()],
        vec![format!("http://{}/announce", unasked.local_addr().unwrap())],
    ];
    let errors = slow
        .announce_tiers_or_stop(&mut tiers, &req, &stop_after(Duration::from_millis(300)))
        .unwrap_err();
    assert!(
        matches!(errors.last(), Some((_, TrackerError::Stopped))),
        "{errors:?}"
    );
    assert!(unasked.accept().is_err(), "the next tier was asked");
    assert!(TrackerError::Stopped.to_string().contains("stopping"));
}

// new: one deadline over several trackers (the `stopped` announce's) is not overrun by the
// slices in which the client waits
#[test]
fn no_announce_waits_past_give_up_at() {
    let hash = InfoHash([5; 20]);
    let req = request(hash, b"-KR0100-aaaaaaaaaaaa", 1);
    // Time-outs as long as can be: only the instant ends a wait (and none overflows).
    let slow = |at: Instant| TrackerClient {
        http_timeout: Duration::MAX,
        udp_timeout: Duration::MAX,
        udp_attempts: 3,
        give_up_at: Some(at),
    };
    // Silent trackers: the instant, 300 ms away, ends the waits (well before the HTTP
    // tracker closes, after 3 s).
    let given_up_soon = |url: &str| {
        let start = Instant::now();
        let got = slow(start + Duration::from_millis(300)).announce(url, &req);
        assert!(
            matches!(got, Err(TrackerError::Timeout(_))),
            "{url}: {got:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{url}: {:?}",
            start.elapsed()
        );
    };
    let (url, keep) = silent_http(Duration::from_secs(3));
    given_up_soon(&url);
    keep.join().unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    given_up_soon(&format!("udp://{}", silent.local_addr().unwrap()));

    // Once it has passed, no tracker is even contacted.
    let past = slow(Instant::now());
    let untouched = TcpListener::bind("127.0.0.1:0").unwrap();
    untouched.set_nonblocking(true).unwrap();
    let got = past.announce(
        &format!("http://{}/announce", untouched.local_addr().unwrap()),
        &req,
    );
    assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
    assert!(untouched.accept().is_err(), "an HTTP tracker was contacted");
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    quiet.set_nonblocking(true).unwrap();
    let got = past.announce(&format!("udp://{}", quiet.local_addr().unwrap()), &req);
    assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
    assert!(
        quiet.recv(&mut [0u8; 64]).is_err(),
        "a UDP tracker was sent to"
    );
}
