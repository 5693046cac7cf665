//! TCP over the selector: ServerCore echo with many clients, a large transfer, clients that
//! vanish, refused connections, back-pressure, and server shutdown. Loopback only
//! (127.0.0.1), ports chosen by the system (port 0). Every wait has a generous timeout, so a
//! bug fails a test instead of hanging it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axon::internet::server_core::{ServerCore, DEFAULT_PIPE_WIDTH};
use axon::internet::tcp_client::{SocketError, TCPClient};
use axon::internet::tcp_server::SocketConfig;
use axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use axon::util::PassThrough;
use axon::{Background, Component, ComponentResult, Ctx, Handle, Scheduler, Topology};

/// How long any one wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

// ----- a protocol: echo, with back-pressure -----------------------------------------------

/// An echo server on 127.0.0.1 (port chosen by the system) in a background scheduler.
fn echo_server() -> (Background, Handle, SocketAddr) {
    let server = ServerCore::bind("127.0.0.1:0", |_| PassThrough).unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    let bg = Background::start();
    let handle = bg.handle(server).unwrap();
    // Wait until ServerCore has started its TCPServer, and note the linkages of an idle server.
    let deadline = Instant::now() + PATIENCE;
    while count(&topology(&bg), "TCPServer") == 0 {
        assert!(Instant::now() < deadline, "the server never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let idle = topology(&bg).linkages.len();
    bg.call(move |root| root.track_value("idle linkages", idle))
        .unwrap()
        .unwrap();
    (bg, handle, addr)
}

fn stop_server(bg: Background, handle: Handle) {
    handle
        .put(ShutdownMicroprocess::default(), "control")
        .unwrap();
    drop(handle);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(bg.finish());
    });
    let report = rx.recv_timeout(PATIENCE).expect("the server did not stop");
    assert!(report.failures.is_empty(), "{report:?}");
}

fn topology(bg: &Background) -> Topology {
    bg.call(|root| root.topology()).unwrap()
}

/// The components whose names start with `label`.
fn count(t: &Topology, label: &str) -> usize {
    t.components
        .iter()
        .filter(|c| c.name.starts_with(&format!("{label}_")))
        .count()
}

/// Waits until the server holds no connection (no CSA, no protocol).
fn wait_until_no_connections(bg: &Background) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let t = topology(bg);
        if count(&t, "ConnectedSocketAdapter") == 0 && count(&t, "PassThrough") == 0 {
            // Nothing of the connections is left linked to the server either.
            let idle: usize = bg
                .call(|root| root.retrieve_value("idle linkages"))
                .unwrap()
                .unwrap();
            assert_eq!(
                t.linkages.len(),
                idle,
                "linkages left after the connections ended: {:#?}",
                t.linkages
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connections never cleaned up: {t:#?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ----- test data ----------------------------------------------------------------------------

/// Byte `i` of stream `seed`: a pattern in which a lost, repeated or reordered chunk shows.
fn pattern(seed: u64, i: u64) -> u8 {
    let x = (i ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 56) as u8
}

fn fill(seed: u64, from: u64, buf: &mut [u8]) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern(seed, from + k as u64);
    }
}

/// FNV-1a, to compare a whole stream at once.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A blocking client on its own threads: one writes `total` bytes of stream `seed` (then
/// shuts its writing side), the other reads the echo and checks every byte. Returns the
/// checksum of what was sent and of what came back.
fn std_echo_client(
    addr: SocketAddr,
    seed: u64,
    total: u64,
) -> mpsc::Receiver<Result<(u64, u64), String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = (|| -> Result<(u64, u64), String> {
            let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s.set_write_timeout(Some(PATIENCE)).unwrap();
            let mut w = s.try_clone().unwrap();
            let writer = std::thread::spawn(move || -> io::Result<u64> {
                let mut buf = vec![0u8; 61 * 1024];
                let mut sent = 0u64;
                let mut h = FNV_START;
                while sent < total {
                    let n = buf.len().min((total - sent) as usize);
                    fill(seed, sent, &mut buf[..n]);
                    w.write_all(&buf[..n])?;
                    h = fnv(h, &buf[..n]);
                    sent += n as u64;
                }
                w.shutdown(Shutdown::Write)?;
                Ok(h)
            });
            let mut r = s;
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            let mut h = FNV_START;
            loop {
                let n = r
                    .read(&mut buf)
                    .map_err(|e| format!("read after {got} bytes: {e}"))?;
                if n == 0 {
                    break;
                }
                for (k, &b) in buf[..n].iter().enumerate() {
                    let at = got + k as u64;
                    if b != pattern(seed, at) {
                        return Err(format!("byte {at} of stream {seed} is wrong"));
                    }
                }
                h = fnv(h, &buf[..n]);
                got += n as u64;
            }
            if got != total {
                return Err(format!(
                    "stream {seed}: {got} bytes came back, {total} were sent"
                ));
            }
            let sent_hash = writer.join().unwrap().map_err(|e| e.to_string())?;
            Ok((sent_hash, h))
        })();
        let _ = tx.send(result);
    });
    rx
}

// ----- a client component for TCPClient -----------------------------------------------------

/// Drives one TCPClient: sends `total` bytes of stream `seed`, checks the echo, then asks the
/// client to finish and reports.
struct EchoCheck {
    seed: u64,
    total: usize,
    report: mpsc::Sender<Result<u64, String>>,
}

impl Component for EchoCheck {
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut data = vec![0u8; self.total];
        fill(self.seed, 0, &mut data);
        let mut sent = 0;
        let mut got: Vec<u8> = Vec::with_capacity(self.total);
        loop {
            // Send while the client's (size-limited) inbox takes it.
            while sent < self.total {
                let end = (sent + 10_000).min(self.total);
                match ctx.send(data[sent..end].to_vec(), "outbox") {
                    Ok(()) => sent = end,
                    Err(e) if e.is_full() => break,
                    Err(e) => return Err(e.into()),
                }
            }
            while let Ok(m) = ctx.recv("inbox") {
                got.extend(m.downcast::<Vec<u8>>()?);
            }
            if got.len() >= self.total {
                let result = if got == data {
                    Ok(fnv(FNV_START, &got))
                } else {
                    Err(format!("stream {}: the echo differs", self.seed))
                };
                let _ = self.report.send(result);
                ctx.send(ProducerFinished::from(ctx.id()), "signal")?;
                return Ok(());
            }
            if let Ok(m) = ctx.recv("control") {
                let why = match m.downcast_ref::<SocketError>() {
                    Some(e) => e.to_string(),
                    None => format!("{m:?}"),
                };
                let _ = self.report.send(Err(format!(
                    "stream {}: the client ended after {} of {} bytes: {why}",
                    self.seed,
                    got.len(),
                    self.total
                )));
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

// ----- the tests ------------------------------------------------------------------------------

#[test]
fn echo_server_with_fifty_concurrent_tcp_clients() {
    let (bg, handle, addr) = echo_server();
    const CLIENTS: u64 = 50;
    const BYTES: usize = 200_000;

    // All the clients in one scheduler, on a thread of its own.
    let (report_tx, report_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let root = sched.root();
        for seed in 0..CLIENTS {
            let client = root.create(TCPClient::connect_to(addr));
            let check = root.create(EchoCheck {
                seed,
                total: BYTES,
                report: report_tx.clone(),
            });
            root.link((check, "outbox"), (client, "inbox")).unwrap();
            root.link((client, "outbox"), (check, "inbox")).unwrap();
            root.link((check, "signal"), (client, "control")).unwrap();
            root.link((client, "signal"), (check, "control")).unwrap();
            root.activate(client).unwrap();
            root.activate(check).unwrap();
        }
        drop(report_tx);
        // Returns once every client has ended: no registration keeps it waiting.
        let _ = done_tx.send(sched.run());
    });

    let mut hashes = std::collections::BTreeSet::new();
    for _ in 0..CLIENTS {
        let r = report_rx
            .recv_timeout(PATIENCE)
            .expect("a client never reported");
        hashes.insert(r.unwrap());
    }
    assert_eq!(hashes.len(), CLIENTS as usize, "every stream is different");
    let report = done_rx
        .recv_timeout(PATIENCE)
        .expect("the client scheduler never returned");
    assert!(report.is_clean(), "{report:?}");

    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

#[test]
fn large_transfer_64_mib_comes_back_intact() {
    let (bg, handle, addr) = echo_server();
    let total = 64 << 20;
    let (sent, got) = std_echo_client(addr, 7, total)
        .recv_timeout(PATIENCE)
        .expect("the transfer did not finish")
        .unwrap();
    assert_eq!(sent, got, "checksums of what was sent and what came back");
    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

#[test]
fn concurrent_std_clients_half_close_and_get_everything_back() {
    // Each client shuts its writing side before reading the end of the echo: the server
    // (PeerClose::HalfClose) still sends everything, then closes.
    let (bg, handle, addr) = echo_server();
    let clients: Vec<_> = (0..8)
        .map(|seed| std_echo_client(addr, 100 + seed, 3 << 20))
        .collect();
    for rx in clients {
        let (a, b) = rx.recv_timeout(PATIENCE).expect("a client hung").unwrap();
        assert_eq!(a, b);
    }
    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

#[test]
fn a_close_that_follows_a_short_read_is_seen() {
    // A socket stops reading at a short read and waits for the next edge. Each client here
    // sends a few bytes, waits for their echo (so the server has read them, short), then
    // closes its side alone, or together with more bytes: the server must still see the end,
    // finish the echo and close. A lost end leaves the client waiting (and the test fails at
    // PATIENCE).
    let (bg, handle, addr) = echo_server();
    for i in 0..40u8 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(&[i; 7]).unwrap();
        let mut echo = [0u8; 7];
        s.read_exact(&mut echo).unwrap();
        assert_eq!(echo, [i; 7]);
        let tail: &[u8] = if i % 2 == 0 { &[] } else { b"tail" };
        s.write_all(tail).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest)
            .expect("the server closed after the echo");
        assert_eq!(rest, tail);
    }
    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

/// Sends `bytes` with `MSG_OOB`: TCP urgent data, whose mark is the last byte (telnet's
/// Synch and ftp's ABOR are sent so).
#[cfg(unix)]
fn send_urgent(s: &TcpStream, bytes: &[u8]) {
    use std::os::fd::AsRawFd;
    use std::os::raw::{c_int, c_void};
    extern "C" {
        fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> isize;
    }
    // Linux, macOS and the BSDs.
    const MSG_OOB: c_int = 1;
    // SAFETY: `bytes` is valid for `bytes.len()` bytes; the descriptor is `s`'s, alive for
    // the call.
    let n = unsafe { send(s.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), MSG_OOB) };
    assert_eq!(n, bytes.len() as isize, "{}", io::Error::last_os_error());
}

/// From `s`: "ab", the urgent byte "X" (out of the stream), then "cd" at once (not after the
/// ACK of "abX"); returns once all of it has long since been queued on loopback.
#[cfg(unix)]
fn urgent_then_more(s: &TcpStream) {
    s.set_nodelay(true).unwrap();
    send_urgent(s, b"abX");
    (&*s).write_all(b"cd").unwrap();
    std::thread::sleep(Duration::from_millis(50));
}

/// Runs `sched` `n` times a millisecond apart, with nothing for it to do.
#[cfg(unix)]
fn idle_steps(sched: &Scheduler, n: usize) {
    for _ in 0..n {
        sched.step(1);
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(unix)]
#[test]
fn bytes_behind_an_urgent_mark_are_read_without_a_new_edge() {
    // A read stops at TCP's urgent mark even with more bytes queued behind it, so a short
    // read there does not mean the socket was emptied: the bytes behind the mark raised
    // their edge before the read, and no other comes. Here the connection runs once with
    // nothing to read; then everything arrives at once, so that one edge covers it all.
    use axon::internet::tcp_server::ConnectedSocketAdapter;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, peer) = listener.accept().unwrap();
    stream.set_nonblocking(true).unwrap();
    let sched = Scheduler::new();
    let root = sched.root();
    let csa = root.create(ConnectedSocketAdapter::new(
        mio::net::TcpStream::from_std(stream),
        peer,
        SocketConfig::default(),
    ));
    root.link((csa, "outbox"), (root.id(), "inbox")).unwrap();
    root.activate(csa).unwrap();
    idle_steps(&sched, 10); // registered, read until WouldBlock, paused
    assert!(root.recv("inbox").is_err());
    urgent_then_more(&client);
    assert_eq!(read_past_the_urgent_mark(&sched, &root), b"abcd");
    drop(client); // the peer closes: so does the connection
    end_when_stopped(sched, &root, csa, "the connection");
}

/// Steps `sched` until the 4 bytes [`urgent_then_more`] puts in the stream have come to
/// `root`'s inbox (20 s at most), and returns them.
#[cfg(unix)]
fn read_past_the_urgent_mark(sched: &Scheduler, root: &Ctx) -> Vec<u8> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "read only {:?}: the bytes behind the urgent mark were left in the socket",
            String::from_utf8_lossy(&got)
        );
        sched.step(1);
        while let Ok(m) = root.recv("inbox") {
            got.extend(m.downcast::<Vec<u8>>().unwrap());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    got
}

/// Steps `sched` until the component `id` (`what`) has stopped, then runs it out clean.
#[cfg(unix)]
fn end_when_stopped(sched: Scheduler, root: &Ctx, id: axon::ComponentId, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !root.is_stopped(id) {
        assert!(Instant::now() < deadline, "{what} never ended");
        sched.step(1);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(sched.run().is_clean());
}

#[cfg(target_os = "linux")]
#[test]
fn urgent_data_seen_while_a_tcp_client_connects_is_not_forgotten() {
    // The client's connect phase takes the socket's readiness before its connection loop
    // runs. Here the connection completes, and the server's urgent byte and the bytes behind
    // its mark arrive, all while the client sleeps: one look at the poll finds them all, and
    // the connect phase takes them. The connection loop must still know of the urgent data.
    use std::os::fd::AsRawFd;
    use std::os::raw::c_int;
    extern "C" {
        fn listen(fd: c_int, backlog: c_int) -> c_int;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // An accept queue of one place, taken: the client's SYN is dropped, to be sent again
    // (after about a second) once there is room.
    // SAFETY: `listen` takes two integers; the descriptor is the listener's, alive here.
    assert_eq!(unsafe { listen(listener.as_raw_fd(), 0) }, 0);
    let queued = TcpStream::connect(addr).unwrap();

    let sched = Scheduler::new();
    let root = sched.root();
    let client = root.spawn(TCPClient::connect_to(addr));
    root.link((client, "outbox"), (root.id(), "inbox")).unwrap();
    idle_steps(&sched, 10); // connecting: registered, nothing ready yet, paused
    drop(listener.accept().unwrap()); // room for the client's SYN when it comes again
    let (server, _) = listener.accept().unwrap();
    drop(queued);
    urgent_then_more(&server);

    assert_eq!(read_past_the_urgent_mark(&sched, &root), b"abcd");
    drop(server); // the server closes: so does the client
    end_when_stopped(sched, &root, client, "the client");
}

#[test]
fn client_vanishing_mid_stream_leaves_the_server_running_and_clean() {
    let (bg, handle, addr) = echo_server();

    // Send a good deal, read only a little, then drop the socket with data unread (the
    // kernel resets the connection).
    {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        let mut some = [0u8; 1000];
        s.read_exact(&mut some).unwrap();
        assert!(some.iter().all(|&b| b == b'x'));
        // Dropped here, mid-stream.
    }
    wait_until_no_connections(&bg);

    // And the server still serves.
    let (a, b) = std_echo_client(addr, 3, 100_000)
        .recv_timeout(PATIENCE)
        .expect("second client hung")
        .unwrap();
    assert_eq!(a, b);
    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

#[test]
fn connect_to_a_closed_port_reports_a_clear_error_on_signal() {
    // A port that was just free: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let root = sched.root();
        let client = root.spawn(TCPClient::new("127.0.0.1", port));
        root.link((client, "signal"), (root.id(), "inbox")).unwrap();
        let report = sched.run();
        let signal = root
            .recv_as::<SocketError>("inbox")
            .map_err(|e| e.to_string());
        let _ = tx.send((report, signal));
    });
    let (report, signal) = rx.recv_timeout(PATIENCE).expect("the client never ended");
    assert!(report.is_clean(), "{report:?}");
    let e = signal.unwrap();
    assert_eq!(e.kind, io::ErrorKind::ConnectionRefused);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("connect to 127.0.0.1:{port} failed: ")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[test]
fn slow_reader_does_not_grow_the_servers_buffers() {
    let (bg, handle, addr) = echo_server();
    let seed = 11;

    // The client writes and never reads, until the server stops taking data.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let limit: u64 = 1 << 30;
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut stalled = false;
    while sent < limit {
        fill(seed, sent, &mut buf);
        match s.write(&buf) {
            Ok(n) => sent += n as u64,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                stalled = true;
                break;
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    assert!(
        stalled,
        "the server took {sent} bytes from a client that reads nothing"
    );
    // Kernel socket buffers on loopback hold some MiB each way; everything else is the
    // server's boxes, which are bounded.
    assert!(
        sent < 64 << 20,
        "the server took {sent} bytes before pushing back"
    );

    // What the connection's components hold: within their limits.
    let pipe = DEFAULT_PIPE_WIDTH;
    let csa_inbox = SocketConfig::default().inbox_size.unwrap();
    let t = topology(&bg);
    let mut held = 0;
    for c in &t.components {
        for (inbox, n) in &c.inboxes {
            held += n;
            if c.name.starts_with("Echo_") && inbox == "inbox" {
                assert!(*n <= pipe, "{c:?}");
            }
            if c.name.starts_with("ConnectedSocketAdapter_") && inbox == "inbox" {
                assert!(*n <= csa_inbox, "{c:?}");
            }
        }
    }
    // Beside these, the connection holds at most 8 messages being written and one chunk
    // read, each of at most 64 KiB.
    assert!(
        held <= pipe + csa_inbox,
        "messages waiting in the server: {held}\n{t:#?}"
    );
    eprintln!(
        "slow reader: the client wrote {sent} bytes before the server pushed back; \
         {held} messages wait in the server's boxes"
    );
    assert_eq!(count(&t, "ConnectedSocketAdapter"), 1);

    // Now read: everything comes back, in order, and nothing was lost to the back-pressure.
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = 0u64;
    let mut rbuf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut rbuf).unwrap();
        if n == 0 {
            break;
        }
        for (k, &b) in rbuf[..n].iter().enumerate() {
            assert_eq!(b, pattern(seed, got + k as u64), "byte {}", got + k as u64);
        }
        got += n as u64;
    }
    assert_eq!(got, sent);
    wait_until_no_connections(&bg);
    stop_server(bg, handle);
}

#[test]
fn producer_finished_stops_accepting_but_lets_connections_finish() {
    let (bg, handle, addr) = echo_server();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"before").unwrap();
    let mut b = [0u8; 6];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"before");

    handle.put(ProducerFinished::default(), "control").unwrap();
    // The listener closes: new connections are refused (wait until it has).
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The open connection still works...
    s.write_all(b"after").unwrap();
    let mut b = [0u8; 5];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"after");
    // ...and when it closes, the server ends by itself, passing ProducerFinished on.
    drop(s);
    let signal = handle
        .get_timeout("signal", PATIENCE)
        .expect("the server never ended");
    assert!(signal.is::<ProducerFinished>());
    drop(handle);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(bg.finish());
    });
    assert!(rx.recv_timeout(PATIENCE).unwrap().is_clean());
}

#[test]
fn shutdown_closes_every_connection_at_once() {
    let (bg, handle, addr) = echo_server();
    let mut clients: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for c in &mut clients {
        c.set_read_timeout(Some(PATIENCE)).unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap();
    }
    handle
        .put(ShutdownMicroprocess::default(), "control")
        .unwrap();
    for c in &mut clients {
        let mut rest = Vec::new();
        // End of file (or a reset): the server closed the connection.
        let _ = c.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }
    let signal = handle.get_timeout("signal", PATIENCE).expect("no signal");
    assert!(signal.is::<ShutdownMicroprocess>());
    drop(handle);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(bg.finish());
    });
    let report = rx
        .recv_timeout(PATIENCE)
        .expect("the scheduler never ended");
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn tcp_client_waits_for_the_servers_answer_after_finishing() {
    // A server that answers only once the client has shut its writing side.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        s.write_all(format!("got {} bytes", all.len()).as_bytes())
            .unwrap();
    });

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sched = Scheduler::new();
        let root = sched.root();
        let client = root.spawn(TCPClient::connect_to(addr).wait_for_server_close(true));
        root.link((root.id(), "outbox"), (client, "inbox")).unwrap();
        root.link((root.id(), "signal"), (client, "control"))
            .unwrap();
        root.link((client, "outbox"), (root.id(), "inbox")).unwrap();
        root.link((client, "signal"), (root.id(), "control"))
            .unwrap();
        root.send("hello, ", "outbox").unwrap();
        root.send(String::from("world"), "outbox").unwrap();
        root.send(ProducerFinished::default(), "signal").unwrap();
        let report = sched.run();
        let mut answer = Vec::new();
        while let Ok(m) = root.recv("inbox") {
            answer.extend(m.downcast::<Vec<u8>>().unwrap());
        }
        let end = root.recv("control").unwrap();
        let _ = tx.send((
            report,
            String::from_utf8(answer).unwrap(),
            end.is::<ProducerFinished>(),
        ));
    });
    let (report, answer, finished) = rx.recv_timeout(PATIENCE).expect("the client never ended");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(answer, "got 12 bytes");
    assert!(finished, "the client passes ProducerFinished on");
}
