//! Announcing to trackers: HTTP (BEP 3, 23), UDP (BEP 15) and multi-tracker tiers (BEP 12).
//! These calls block, each bounded by a time-out; run them off the scheduler's thread (in a
//! threaded component). The `_or_stop` forms also give up, within [`STOP_CHECK`], once a
//! function of the caller's says it is stopping (a torrent closed while its tracker is slow
//! does not wait out the time-out).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use super::announce::{AnnounceRequest, AnnounceResponse, TrackerError};
use super::http::{self, TrackerUrl};
use super::udp;
use crate::random::Rng;
use axon::internet::tcp_client::still_connecting;

/// How a client talks to trackers.
#[derive(Clone, Debug)]
pub struct TrackerClient {
    /// The longest an HTTP announce may take, connection included.
    pub http_timeout: Duration,
    /// The first UDP time-out; each retry doubles it (BEP 15 uses 15 s; we start lower).
    pub udp_timeout: Duration,
    /// How many times a UDP request is sent before giving up.
    pub udp_attempts: u32,
    /// No call waits past this instant, whatever the time-outs above leave (`None`: no such
    /// limit). A call that reaches it gives up with [`TrackerError::Timeout`]; for one
    /// deadline over several trackers, such as a `stopped` announce's. It stays until it is
    /// changed: a client kept for later announces should have it cleared after such a call.
    pub give_up_at: Option<Instant>,
}

impl Default for TrackerClient {
    fn default() -> Self {
        TrackerClient {
            http_timeout: Duration::from_secs(15),
            udp_timeout: Duration::from_secs(3),
            udp_attempts: 4,
            give_up_at: None,
        }
    }
}

/// How often a blocked announce looks at its caller's stop function.
pub const STOP_CHECK: Duration = Duration::from_millis(200);

/// An HTTP answer up to this size is parsed again after every read (real answers are a few
/// hundred bytes); a longer one only as it doubles, when the tracker pauses, and at its end.
const QUICK_PARSE: usize = 64 * 1024;

/// Never stopping: for the plain forms of the calls.
fn never() -> bool {
    false
}

fn io_err(e: std::io::Error) -> TrackerError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            TrackerError::Timeout(e.to_string())
        }
        _ => TrackerError::Io(e.to_string()),
    }
}

/// Connects, giving up at `deadline` or once `stop` says so (looked at every [`STOP_CHECK`]).
/// The connection is one non-blocking attempt waited on in slices, so a slow one is not
/// cut short and started again at each look (the system's own SYN retries go on as usual).
fn connect_or_stop(
    addr: &SocketAddr,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<TcpStream, TrackerError> {
    if stop() {
        return Err(TrackerError::Stopped);
    }
    let mut stream = mio::net::TcpStream::connect(*addr).map_err(io_err)?;
    let mut poll = mio::Poll::new().map_err(io_err)?;
    poll.registry()
        .register(&mut stream, mio::Token(0), mio::Interest::WRITABLE)
        .map_err(io_err)?;
    let mut events = mio::Events::with_capacity(4);
    loop {
        // mio's recipe: an error, or a peer address once connected.
        if let Some(e) = stream.take_error().map_err(io_err)? {
            return Err(io_err(e));
        }
        match stream.peer_addr() {
            Ok(_) => break,
            Err(e) if still_connecting(&e) => {}
            Err(e) => return Err(io_err(e)),
        }
        if stop() {
            return Err(TrackerError::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TrackerError::Timeout(format!(
                "no connection to {addr} in time"
            )));
        }
        match poll.poll(&mut events, Some(left.min(STOP_CHECK))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    poll.registry().deregister(&mut stream).map_err(io_err)?;
    // The rest of the exchange uses blocking calls with time-outs.
    let stream = TcpStream::from(stream);
    stream.set_nonblocking(false).map_err(io_err)?;
    Ok(stream)
}

/// The addresses of the tracker in `u`. An IP address is used as it is; a host name is
/// looked up on a thread of its own, waited for in [`STOP_CHECK`] slices, so that neither a
/// stop nor `deadline` waits for a slow name server (the lookup, which cannot be cut short,
/// then ends alone and its answer is dropped).
fn resolve(
    u: &TrackerUrl,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<SocketAddr>, TrackerError> {
    if let Ok(ip) = u.host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, u.port)]);
    }
    let (host, port) = (u.host.clone(), u.port);
    let lookup = move || -> std::io::Result<Vec<SocketAddr>> {
        Ok((host.as_str(), port).to_socket_addrs()?.collect())
    };
    let addrs = lookup_or_stop(lookup, deadline, stop)?
        .map_err(|e| TrackerError::Io(format!("cannot resolve {}: {e}", u.host)))?;
    if addrs.is_empty() {
        return Err(TrackerError::Io(format!("{} has no address", u.host)));
    }
    Ok(addrs)
}

/// Runs `lookup` on a thread of its own and waits for its answer until `deadline` or until
/// `stop` says so (asked every [`STOP_CHECK`]).
fn lookup_or_stop<T: Send + 'static>(
    lookup: impl FnOnce() -> T + Send + 'static,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
) -> Result<T, TrackerError> {
    let late = || TrackerError::Timeout("the tracker's name was not found in time".into());
    if stop() {
        return Err(TrackerError::Stopped);
    }
    if Instant::now() >= deadline {
        return Err(late());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("tracker-lookup".into())
        .spawn(move || {
            let _ = tx.send(lookup());
        })
        .map_err(|e| TrackerError::Io(format!("cannot start a name lookup: {e}")))?;
    loop {
        if stop() {
            return Err(TrackerError::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        match rx.recv_timeout(left.min(STOP_CHECK)) {
            Ok(answer) => return Ok(answer),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(TrackerError::Io("the name lookup failed".into()))
            }
        }
    }
}

impl TrackerClient {
    /// `now + wait`, or [`give_up_at`](Self::give_up_at) if that comes first.
    /// (A wait too long for the clock, such as `Duration::MAX`, is a century.)
    fn deadline(&self, wait: Duration) -> Instant {
        let now = Instant::now();
        let own = now
            .checked_add(wait)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        self.give_up_at.map_or(own, |at| at.min(own))
    }

    /// Announces to one tracker, HTTP or UDP according to its URL.
    pub fn announce(
        &self,
        url: &str,
        req: &AnnounceRequest,
    ) -> Result<AnnounceResponse, TrackerError> {
        self.announce_or_stop(url, req, &never)
    }

    /// [`announce`](Self::announce), given up with [`TrackerError::Stopped`] once `stop`
    /// returns true (it is asked every [`STOP_CHECK`] while the call waits).
    pub fn announce_or_stop(
        &self,
        url: &str,
        req: &AnnounceRequest,
        stop: &dyn Fn() -> bool,
    ) -> Result<AnnounceResponse, TrackerError> {
        let u = TrackerUrl::parse(url)?;
        match u.scheme.as_str() {
            "http" => self.http_announce(&u, url, req, stop),
            "udp" => self.udp_announce(&u, req, stop),
            other => Err(TrackerError::BadUrl(format!(
                "{url}: scheme {other} is not supported"
            ))),
        }
    }

    fn http_announce(
        &self,
        u: &TrackerUrl,
        url: &str,
        req: &AnnounceRequest,
        stop: &dyn Fn() -> bool,
    ) -> Result<AnnounceResponse, TrackerError> {
        let started = Instant::now();
        let deadline = self.deadline(self.http_timeout);
        let late = || {
            TrackerError::Timeout(format!(
                "{url}: no answer within {:.1} s",
                deadline.duration_since(started).as_secs_f64()
            ))
        };
        let full = req.to_url(url);
        let path = TrackerUrl::parse(&full)?.path;
        let mut last = TrackerError::Io("no address".into());
        for addr in resolve(u, deadline, stop)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(late());
            }
            let mut s = match connect_or_stop(&addr, deadline, stop) {
                Ok(s) => s,
                Err(TrackerError::Stopped) => return Err(TrackerError::Stopped),
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            // The connection may have taken most of the time left.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(late());
            }
            s.set_write_timeout(Some(left)).map_err(io_err)?;
            s.write_all(&http::get_request(&u.authority(), &path))
                .map_err(io_err)?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 16 * 1024];
            // Parsing looks at the whole answer again: past QUICK_PARSE bytes, try it only
            // when the answer has doubled since, when the tracker pauses (a read waits
            // STOP_CHECK in vain: it may have sent all and be keeping the connection open),
            // and at its end, so that a hostile tracker trickling megabytes costs linear time,
            // not quadratic.
            let mut parsed = 0;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(late());
                }
                if stop() {
                    return Err(TrackerError::Stopped);
                }
                s.set_read_timeout(Some(left.min(STOP_CHECK)))
                    .map_err(io_err)?;
                let (n, pause) = match s.read(&mut chunk) {
                    Ok(n) => (n, false),
                    Err(e) => match io_err(e) {
                        // A slice of the wait passed: look at `stop` and the deadline again.
                        TrackerError::Timeout(_) => (0, true),
                        other => return Err(other),
                    },
                };
                let at_eof = n == 0 && !pause;
                buf.extend_from_slice(&chunk[..n]);
                let due = at_eof
                    || (pause && buf.len() > parsed)
                    || buf.len() <= QUICK_PARSE
                    || buf.len() >= 2 * parsed
                    || buf.len() > http::MAX_MESSAGE;
                if !due || (pause && buf.len() == parsed) {
                    continue;
                }
                parsed = buf.len();
                if let Some(resp) = http::parse_response(&buf, at_eof)? {
                    if resp.status != 200 {
                        return Err(TrackerError::BadResponse(format!(
                            "{url}: HTTP status {}",
                            resp.status
                        )));
                    }
                    return AnnounceResponse::from_bencode(&resp.body);
                }
                if at_eof {
                    return Err(TrackerError::BadResponse(format!(
                        "{url}: closed without an answer"
                    )));
                }
            }
        }
        Err(last)
    }

    fn udp_exchange(
        &self,
        sock: &UdpSocket,
        packet: &[u8],
        stop: &dyn Fn() -> bool,
        mut check: impl FnMut(&[u8]) -> Result<bool, TrackerError>,
    ) -> Result<(), TrackerError> {
        let mut buf = [0u8; 2048];
        let mut sent = 0;
        for attempt in 0..self.udp_attempts.max(1) {
            if self.give_up_at.is_some_and(|at| Instant::now() >= at) {
                break;
            }
            sock.send(packet).map_err(io_err)?;
            sent += 1;
            let deadline = self.deadline(
                self.udp_timeout
                    .saturating_mul(2u32.saturating_pow(attempt)),
            );
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if stop() {
                    return Err(TrackerError::Stopped);
                }
                sock.set_read_timeout(Some(left.min(STOP_CHECK)))
                    .map_err(io_err)?;
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        // A stray or late datagram for another transaction is skipped.
                        if check(&buf[..n])? {
                            return Ok(());
                        }
                    }
                    Err(e) => match io_err(e) {
                        TrackerError::Timeout(_) => continue,
                        other => return Err(other),
                    },
                }
            }
        }
        Err(TrackerError::Timeout(if sent == 0 {
            "no time left for a UDP request".into()
        } else {
            format!("no UDP answer after {sent} attempts")
        }))
    }

    fn udp_announce(
        &self,
        u: &TrackerUrl,
        req: &AnnounceRequest,
        stop: &dyn Fn() -> bool,
    ) -> Result<AnnounceResponse, TrackerError> {
        // The name lookup gets the first attempt's wait once per attempt (not the exchange's
        // doubling waits: a name server that slow is given up on sooner).
        let attempts = self.udp_attempts.max(1);
        let lookup_deadline = self.deadline(self.udp_timeout.saturating_mul(attempts));
        let addr = resolve(u, lookup_deadline, stop)?[0];
        let local: SocketAddr = if addr.is_ipv6() {
            "[::]:0".parse().expect("address")
        } else {
            "0.0.0.0:0".parse().expect("address")
        };
        let sock = UdpSocket::bind(local).map_err(io_err)?;
        sock.connect(addr).map_err(io_err)?;
        // Transaction ids need only to differ from other requests' (BEP 15).
        let mut rng = Rng::from_clock();
        let tid = rng.next_u64() as u32;
        let mut connection_id = 0u64;
        self.udp_exchange(&sock, &udp::connect_request(tid), stop, |b| {
            match udp::parse_connect_response(b, tid) {
                Ok(id) => {
                    connection_id = id;
                    Ok(true)
                }
                Err(TrackerError::BadResponse(r)) if r.contains("transaction id") => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        let tid = rng.next_u64() as u32;
        let mut answer = None;
        self.udp_exchange(
            &sock,
            &udp::announce_request(connection_id, tid, req),
            stop,
            |b| match udp::parse_announce_response(b, tid, addr.is_ipv6()) {
                Ok(r) => {
                    answer = Some(r);
                    Ok(true)
                }
                Err(TrackerError::BadResponse(r)) if r.contains("transaction id") => Ok(false),
                Err(e) => Err(e),
            },
        )?;
        answer.ok_or_else(|| TrackerError::BadResponse("no announce answer".into()))
    }

    /// Announces through tiers of trackers (BEP 12): each tier in order, each tracker of a tier
    /// in order until one answers; the one that answered moves to the front of its tier.
    /// Returns the URL that answered and its answer, or every tracker's error.
    pub fn announce_tiers(
        &self,
        tiers: &mut [Vec<String>],
        req: &AnnounceRequest,
    ) -> Result<(String, AnnounceResponse), Vec<(String, TrackerError)>> {
        self.announce_tiers_or_stop(tiers, req, &never)
    }

    /// [`announce_tiers`](Self::announce_tiers), given up once `stop` returns true: the
    /// tracker being asked then reports [`TrackerError::Stopped`], and no other is asked.
    pub fn announce_tiers_or_stop(
        &self,
        tiers: &mut [Vec<String>],
        req: &AnnounceRequest,
        stop: &dyn Fn() -> bool,
    ) -> Result<(String, AnnounceResponse), Vec<(String, TrackerError)>> {
        let mut errors = Vec::new();
        for tier in tiers.iter_mut() {
            for i in 0..tier.len() {
                if stop() {
                    errors.push((tier[i].clone(), TrackerError::Stopped));
                    return Err(errors);
                }
                match self.announce_or_stop(&tier[i], req, stop) {
                    Ok(resp) => {
                        let url = tier.remove(i);
                        tier.insert(0, url.clone());
                        return Ok((url, resp));
                    }
                    Err(e) => errors.push((tier[i].clone(), e)),
                }
            }
        }
        Err(errors)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;
    use crate::tracker::announce::PeerId;
    use std::cell::Cell;
    use std::net::TcpListener;
    use std::os::fd::FromRawFd;

    /// A loopback listener with room for one connection waiting to be accepted, and that
    /// connection. While it waits, the system drops the SYNs of any other, whose connect
    /// then stays pending (until its own time-out, about two minutes).
    fn full_listener() -> (TcpListener, TcpStream) {
        // std's listeners have a long queue: make one with a queue of one.
        // SAFETY: plain socket calls on a descriptor owned by `listener` from the start.
        let listener = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let listener = TcpListener::from_raw_fd(fd);
            let mut a: libc::sockaddr_in = std::mem::zeroed();
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&a as *const libc::sockaddr_in).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            assert_eq!(
                libc::listen(fd, 0),
                0,
                "{}",
                std::io::Error::last_os_error()
            );
            listener
        };
        let queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener, queued)
    }

    /// A stop function that says yes from its `n`th look on, and counts its looks.
    fn stop_at(n: usize, looks: &Cell<usize>) -> impl Fn() -> bool + '_ {
        move || {
            looks.set(looks.get() + 1);
            looks.get() >= n
        }
    }

    #[test]
    fn a_connection_that_never_completes_ends_at_the_stop_or_the_deadline() {
        let (listener, _queued) = full_listener();
        let addr = listener.local_addr().unwrap();
        // Only the stop can end these waits: the deadline is an hour away.
        let far = Instant::now() + Duration::from_secs(3600);
        let looks = Cell::new(0);
        let got = connect_or_stop(&addr, far, &stop_at(4, &looks));
        assert!(matches!(got, Err(TrackerError::Stopped)), "{got:?}");
        assert_eq!(looks.get(), 4);
        // The same through an announce.
        let client = TrackerClient {
            http_timeout: Duration::from_secs(3600),
            ..TrackerClient::default()
        };
        let req = AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId(*b"-KR0100-aaaaaaaaaaaa"),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 1,
            event: None,
            numwant: None,
            key: 0,
        };
        let looks = Cell::new(0);
        let url = format!("http://{addr}/announce");
        let got = client.announce_or_stop(&url, &req, &stop_at(3, &looks));
        assert!(matches!(got, Err(TrackerError::Stopped)), "{got:?}");
        // Without a stop, the deadline ends it.
        let got = connect_or_stop(&addr, Instant::now() + STOP_CHECK * 2, &never);
        assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
    }

    #[test]
    fn a_connection_that_completes_late_is_used() {
        let (listener, queued) = full_listener();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // Make room after a while: the SYN the system sends again then gets through.
            std::thread::sleep(STOP_CHECK * 3);
            let first = listener.accept().unwrap();
            let (mut late, _) = listener.accept().unwrap();
            late.write_all(b"late").unwrap();
            drop((first, late, queued));
        });
        let looks = Cell::new(0);
        let far = Instant::now() + Duration::from_secs(60);
        let mut s = connect_or_stop(&addr, far, &stop_at(usize::MAX, &looks)).unwrap();
        assert!(looks.get() >= 2, "the connection was not pending");
        // A blocking stream, connected to the listener.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"late");
        server.join().unwrap();
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;
    use std::sync::mpsc;

    fn url(host: &str) -> TrackerUrl {
        TrackerUrl {
            scheme: "http".into(),
            host: host.into(),
            port: 6969,
            path: "/announce".into(),
        }
    }

    #[test]
    fn an_ip_address_needs_no_lookup() {
        let never = || -> bool { panic!("nothing to wait for") };
        let past = Instant::now(); // a lookup would time out at once
        let v4 = resolve(&url("127.0.0.1"), past, &never).unwrap();
        assert_eq!(v4, vec!["127.0.0.1:6969".parse().unwrap()]);
        let v6 = resolve(&url("::1"), past, &never).unwrap();
        assert_eq!(v6, vec!["[::1]:6969".parse().unwrap()]);
    }

    #[test]
    fn a_name_is_looked_up() {
        let later = Instant::now() + Duration::from_secs(60);
        let addrs = resolve(&url("localhost"), later, &|| false).unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 6969));
    }

    /// A lookup that answers only when the test lets it (so that its thread ends).
    fn stuck_lookup() -> (mpsc::Sender<()>, impl FnOnce() -> u32 + Send + 'static) {
        let (release, wait) = mpsc::channel::<()>();
        (release, move || {
            let _ = wait.recv();
            7
        })
    }

    #[test]
    fn a_stop_does_not_wait_for_a_slow_lookup() {
        let (release, lookup) = stuck_lookup();
        let later = Instant::now() + Duration::from_secs(3600);
        let asked = std::cell::Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            asked.get() > 2
        };
        let got = lookup_or_stop(lookup, later, &stop);
        assert!(matches!(got, Err(TrackerError::Stopped)), "{got:?}");
        assert_eq!(asked.get(), 3, "asked again after each slice");
        release.send(()).unwrap();
    }

    #[test]
    fn a_slow_lookup_ends_at_the_deadline() {
        let (release, lookup) = stuck_lookup();
        let soon = Instant::now() + STOP_CHECK / 2;
        let got = lookup_or_stop(lookup, soon, &|| false);
        assert!(matches!(got, Err(TrackerError::Timeout(_))), "{got:?}");
        release.send(()).unwrap();
    }

    #[test]
    fn a_lookup_that_answers_is_used() {
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(lookup_or_stop(|| 42, later, &|| false).unwrap(), 42);
    }
}
