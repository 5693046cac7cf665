//! Echo server benchmark: C concurrent clients each send M MiB and read every byte back.
//!
//! ```text
//! cargo run --release --example echo_bench -- <C> <MiB>
//! cargo run --release --example echo_bench -- <C> <MiB> --target 127.0.0.1:1601 [--server-pid PID]
//! cargo run --release --example echo_bench -- <C> <MiB> --event-loop
//! ```
//!
//! Without `--target` it starts our echo server (ServerCore with an echo protocol) in this
//! process, on a thread of its own, on 127.0.0.1 with a port chosen by the system. With
//! `--target HOST:PORT` it runs the same clients against a server already running (the Python
//! Kamaelia one, say: `scripts/python_echo_server.py`); `--server-pid` then names that server's
//! process, whose peak memory is reported.
//!
//! Each client runs on two threads of its own, a writer and a reader with blocking sockets (so
//! back-pressure can never deadlock it), and every byte read is checked against what was
//! sent. With `--event-loop` all clients run instead on one thread, in one `mio` event loop
//! (each writes while its socket takes data and reads while data waits): a load generator
//! that takes less CPU and no thread switches, which on a small machine leaves more of the
//! CPUs to the server. The two load a server differently, and both figures are reported in
//! docs/performance.md. All clients connect first; the clock runs from when all are connected
//! to when the last has read its last byte. The last line reads
//! `echo-bench clients=<c> mib_each=<m> seconds=<s> mib_per_s=<x> peak_rss_kib=<k>`, where
//! `mib_per_s` is the MiB echoed per second (all clients together, one way) and `peak_rss_kib`
//! is the peak resident memory of the server's process (with the server in this process, that
//! includes the clients). The line before it gives the server's CPU time over the run
//! (`server_cpu_s`: the server's two threads in-process, or the `--server-pid` process) and
//! `mib_per_server_cpu_s`, the MiB echoed per CPU-second of server: on a small machine where
//! the clients and the server share the CPUs, that is the fairer comparison of two servers.
//!
//! For many clients: each needs a descriptor here and one in the server, so the bench raises
//! its own descriptor limit to the hard limit (`ulimit -Hn`) and says if that is too few;
//! the server asks for a listen backlog of 1024 (capped by `net.core.somaxconn`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kamaelia::axon::internet::server_core::ServerCore;
use kamaelia::axon::util::PassThrough;
use kamaelia::axon::Scheduler;

/// The test data: stream position `p` of a client holds `TABLE[(offset + p) % PRIME]`, so
/// writing and checking are slices of one table (memcpy and memcmp speed), and a lost,
/// repeated or reordered chunk shows (chunks are never a multiple of the prime long).
const PRIME: usize = 1_048_573;

fn table() -> Arc<Vec<u8>> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let t = (0..PRIME)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    Arc::new(t)
}

/// Calls `f` with the table slices that make up `len` bytes from stream position `pos`.
fn slices(pos: u64, len: usize, mut f: impl FnMut(usize, std::ops::Range<usize>) -> bool) -> bool {
    let mut done = 0;
    while done < len {
        let start = ((pos + done as u64) % PRIME as u64) as usize;
        let n = (len - done).min(PRIME - start);
        if !f(done, start..start + n) {
            return false;
        }
        done += n;
    }
    true
}

fn peak_rss_kib(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Raises this process's descriptor limit to its hard limit; returns the limit now in force.
#[cfg(target_os = "linux")]
fn raise_fd_limit() -> u64 {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7;
    let mut r = RLimit { cur: 0, max: 0 };
    // SAFETY: both calls only read or fill the one struct passed, laid out as the C struct.
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.cur < r.max {
            let want = RLimit {
                cur: r.max,
                max: r.max,
            };
            if setrlimit(RLIMIT_NOFILE, &want) == 0 {
                r.cur = r.max;
            }
        }
    }
    r.cur
}

#[cfg(not(target_os = "linux"))]
fn raise_fd_limit() -> u64 {
    u64::MAX
}

/// CPU time (user + system, in clock ticks) of the process or thread whose `stat` file this
/// is, or of every thread of this process named `name`.
fn cpu_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may hold spaces) : state is field 3, utime 14,
    // stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The CPU ticks of this process's threads named `name`.
fn thread_ticks(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| {
            let dir = t.ok()?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            (comm.trim() == name).then(|| cpu_ticks(dir.join("stat").to_str()?))?
        })
        .sum()
}

/// The server's CPU ticks so far: the external server's process, or (in-process) the server's
/// scheduler thread (which polls its sockets itself), plus any private selector's thread.
fn server_ticks(external: Option<u32>) -> Option<u64> {
    match external {
        Some(pid) => cpu_ticks(&format!("/proc/{pid}/stat")),
        None => Some(thread_ticks("echo-server") + thread_ticks("axon-selector")),
    }
}

/// Clock ticks per second.
#[cfg(target_os = "linux")]
fn ticks_per_second() -> f64 {
    extern "C" {
        fn sysconf(name: i32) -> i64;
    }
    const SC_CLK_TCK: i32 = 2;
    // SAFETY: sysconf takes an integer and returns one.
    let t = unsafe { sysconf(SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(not(target_os = "linux"))]
fn ticks_per_second() -> f64 {
    100.0
}

/// Starts our echo server on its own thread; returns its address.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let server = ServerCore::bind("127.0.0.1:0", |_| PassThrough).expect("cannot listen");
            tx.send(server.local_addr()).unwrap();
            let sched = Scheduler::new();
            sched.spawn(server);
            sched.run();
        })
        .unwrap();
    rx.recv().expect("server started")
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut wait = Duration::from_millis(10);
    let mut tries = 0;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(30)) {
            Ok(s) => return Ok(s),
            Err(e) if tries < 8 => {
                tries += 1;
                eprintln!("connect to {addr} failed ({e}); retrying");
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One client's progress.
struct Client {
    stream: mio::net::TcpStream,
    /// Stream position 0 of this client is table position `offset`.
    offset: u64,
    sent: u64,
    got: u64,
    /// Edge-triggered readiness: true until a write or read says `WouldBlock`.
    can_write: bool,
    can_read: bool,
}

/// `--event-loop`: every client, driven by one event loop until each has read back all `total` bytes.
/// Returns the bytes checked, or the first failure.
fn run_clients(
    streams: Vec<TcpStream>,
    total: u64,
    table: &[u8],
    read_buf: usize,
) -> Result<u64, String> {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut clients = Vec::with_capacity(streams.len());
    for (id, s) in streams.into_iter().enumerate() {
        let _ = s.set_nodelay(true);
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut stream = mio::net::TcpStream::from_std(s);
        poll.registry()
            .register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| e.to_string())?;
        clients.push(Client {
            stream,
            offset: (id as u64 * 7919) % PRIME as u64,
            sent: 0,
            got: 0,
            can_write: true,
            can_read: true,
        });
    }
    let mut buf = vec![0u8; read_buf];
    let mut events = Events::with_capacity(1024);
    let mut left = clients.len();
    // Clients with readiness not yet used up; all of them at first.
    let mut busy: Vec<usize> = (0..clients.len()).collect();
    while left > 0 {
        for id in std::mem::take(&mut busy) {
            let c = &mut clients[id];
            let was_done = c.got == total;
            pump(id, c, total, table, &mut buf)?;
            if c.got == total && !was_done {
                left -= 1;
            }
        }
        if left == 0 {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            return Err("no progress for 120 s".into());
        }
        for ev in events.iter() {
            let id = ev.token().0;
            let c = &mut clients[id];
            c.can_read |= ev.is_readable() || ev.is_read_closed() || ev.is_error();
            c.can_write |= ev.is_writable() || ev.is_error();
            busy.push(id);
        }
    }
    Ok(clients.iter().map(|c| c.got).sum())
}

/// Writes while the socket takes data and reads (checking) while data waits, until both say
/// `WouldBlock` or the client is done.
fn pump(id: usize, c: &mut Client, total: u64, table: &[u8], buf: &mut [u8]) -> Result<(), String> {
    use std::io::ErrorKind::{Interrupted, WouldBlock};
    while c.can_write && c.sent < total {
        let len = (total - c.sent).min(256 * 1024) as usize;
        let start = ((c.offset + c.sent) % PRIME as u64) as usize;
        let chunk = &table[start..start + len.min(PRIME - start)];
        match c.stream.write(chunk) {
            Ok(n) => c.sent += n as u64,
            Err(e) if e.kind() == WouldBlock => c.can_write = false,
            Err(e) if e.kind() == Interrupted => {}
            Err(e) => return Err(format!("client {id}: write after {} bytes: {e}", c.sent)),
        }
    }
    while c.can_read && c.got < total {
        match c.stream.read(buf) {
            Ok(0) => {
                return Err(format!(
                    "client {id}: connection closed after {} of {total} bytes",
                    c.got
                ))
            }
            Ok(n) => {
                let ok = slices(c.offset + c.got, n, |at, range| {
                    buf[at..at + range.len()] == table[range]
                });
                if !ok {
                    return Err(format!("client {id}: wrong data near byte {}", c.got));
                }
                c.got += n as u64;
            }
            Err(e) if e.kind() == WouldBlock => c.can_read = false,
            Err(e) if e.kind() == Interrupted => {}
            Err(e) => return Err(format!("client {id}: read after {} bytes: {e}", c.got)),
        }
    }
    Ok(())
}

/// Every client on two threads of its own; `clock` is set when they are all ready. Returns the bytes checked, or the first failures.
fn run_threaded(
    streams: Vec<TcpStream>,
    total: u64,
    table: &Arc<Vec<u8>>,
    read_buf: usize,
    clock: &mut Instant,
) -> Result<u64, String> {
    let start = Arc::new(Barrier::new(streams.len() + 1));
    let threads: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(id, stream)| {
            let (table, start) = (table.clone(), start.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || threaded_client(stream, id, total, table, start, read_buf))
                .expect("cannot start a client thread")
        })
        .collect();
    start.wait();
    // The clock starts when every client thread is ready.
    *clock = Instant::now();
    let mut checked = 0;
    let mut failures = Vec::new();
    for th in threads {
        match th.join() {
            Ok(Ok(n)) => checked += n,
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("a client panicked".into()),
        }
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(format!(
            "{} clients failed; first: {}",
            failures.len(),
            failures[0]
        ))
    }
}

/// One client on two threads of its own, a writer and (this one) a reader, with blocking
/// sockets. Returns the bytes checked.
fn threaded_client(
    stream: TcpStream,
    id: usize,
    total: u64,
    table: Arc<Vec<u8>>,
    start: Arc<Barrier>,
    read_buf: usize,
) -> Result<u64, String> {
    let offset = (id as u64 * 7919) % PRIME as u64;
    start.wait();
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let _ = w.set_write_timeout(Some(Duration::from_secs(120)));
    let wt = table.clone();
    let writer = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || -> Result<(), String> {
            let mut sent = 0u64;
            while sent < total {
                let len = (total - sent).min(256 * 1024) as usize;
                let ok = slices(offset + sent, len, |_, r| w.write_all(&wt[r]).is_ok());
                if !ok {
                    return Err(format!("client {id}: write failed after {sent} bytes"));
                }
                sent += len as u64;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let mut r = stream;
    let mut buf = vec![0u8; read_buf];
    let mut got = 0u64;
    while got < total {
        let n = r
            .read(&mut buf)
            .map_err(|e| format!("client {id}: read after {got} bytes: {e}"))?;
        if n == 0 {
            return Err(format!(
                "client {id}: connection closed after {got} of {total} bytes"
            ));
        }
        let ok = slices(offset + got, n, |at, range| {
            buf[at..at + range.len()] == table[range]
        });
        if !ok {
            return Err(format!("client {id}: wrong data near byte {got}"));
        }
        got += n as u64;
    }
    writer.join().map_err(|_| "writer panicked".to_string())??;
    Ok(got)
}

fn usage() -> ! {
    eprintln!(
        "usage: echo_bench <clients> <MiB each> [--target HOST:PORT] [--server-pid PID] [--event-loop]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let mut target: Option<SocketAddr> = None;
    let mut server_pid: Option<u32> = None;
    let mut event_loop = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--target" => {
                i += 1;
                let t = args.get(i).unwrap_or_else(|| usage());
                target = Some(
                    std::net::ToSocketAddrs::to_socket_addrs(t.as_str())
                        .ok()
                        .and_then(|mut a| a.next())
                        .unwrap_or_else(|| usage()),
                );
            }
            "--server-pid" => {
                i += 1;
                server_pid = args.get(i).and_then(|p| p.parse().ok());
                if server_pid.is_none() {
                    usage()
                }
            }
            "--event-loop" => event_loop = true,
            a => pos.push(a.to_string()),
        }
        i += 1;
    }
    let clients: usize = pos.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let mib: u64 = pos.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);

    let fds = raise_fd_limit();
    let needed = (clients as u64) * if target.is_none() { 2 } else { 1 } + 64;
    if fds < needed {
        eprintln!(
            "note: the descriptor limit is {fds}, {needed} are needed for {clients} clients; \
             raise it (ulimit -n) or expect failures"
        );
    }

    let (addr, who) = match target {
        Some(a) => (a, format!("external server at {a}")),
        None => (
            start_server(),
            "our ServerCore echo, in-process".to_string(),
        ),
    };
    let table = table();
    let total = mib << 20;
    // Large reads cost the clients less CPU (which they share with the server); with many
    // clients, smaller buffers keep this process's memory down.
    let read_buf = if clients <= 100 {
        256 * 1024
    } else {
        16 * 1024
    };
    let mut streams = Vec::with_capacity(clients);
    for id in 0..clients {
        match connect(addr) {
            Ok(s) => streams.push(s),
            Err(e) => {
                eprintln!("client {id}: connect: {e}");
                eprintln!("echo-bench: client {id} of {clients} could not connect");
                std::process::exit(1);
            }
        }
    }
    let measured_pid = if target.is_some() { server_pid } else { None };
    let cpu_before = if target.is_none() || server_pid.is_some() {
        server_ticks(measured_pid)
    } else {
        None
    };
    let mut t = Instant::now();
    let outcome = if event_loop {
        run_clients(streams, total, &table, read_buf)
    } else {
        run_threaded(streams, total, &table, read_buf, &mut t)
    };
    let checked = match outcome {
        Ok(n) => n,
        Err(e) => {
            eprintln!("echo-bench: {e}");
            std::process::exit(1);
        }
    };
    let seconds = t.elapsed().as_secs_f64();
    let server_cpu = match (cpu_before, server_ticks(measured_pid)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / ticks_per_second()),
        _ => None,
    };
    assert_eq!(checked, total * clients as u64);
    let rss = peak_rss_kib(if target.is_some() { server_pid } else { None });
    let mib_total = checked as f64 / (1 << 20) as f64;
    let cpu = match server_cpu {
        Some(c) if c > 0.0 => format!(
            "server_cpu_s={c:.2} mib_per_server_cpu_s={:.1}",
            mib_total / c
        ),
        _ => "server_cpu_s=unknown".to_string(),
    };
    println!(
        "server: {who}; every byte of {} MiB checked; {cpu}; client process peak_rss_kib={}",
        checked >> 20,
        peak_rss_kib(None)
    );
    println!(
        "echo-bench clients={clients} mib_each={mib} seconds={seconds:.3} mib_per_s={:.1} peak_rss_kib={rss}",
        mib_total / seconds
    );
}
