//! A scheduler with a selector polls it itself and, with every component paused, sleeps in its
//! `epoll_wait`: these tests check what may wake it there (a thread, a `Handle`, a timer, a
//! selector deadline, a socket), that it still returns when nothing can wake anything, and
//! that two schedulers in one process each serve their own sockets. Loopback only; every
//! wait is bounded by `within`, so a bug fails a test instead of hanging it. Linux only: the
//! tests read `/proc` to see the scheduler's thread blocked in `epoll_wait` before waking it.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axon::internet::selector::{Registration, Selector};
use axon::internet::server_core::ServerCore;
use axon::ipc::ShutdownMicroprocess;
use axon::util::PassThrough;
use axon::{component, Background, Ctx, Scheduler};
use common::within;
use mio::net::UdpSocket;
use mio::Interest;

const LIMIT: Duration = Duration::from_secs(120);

/// A UDP socket registered for reading with the scheduler's selector: nothing is ever sent to
/// it, so it never wakes anyone, but it gives the scheduler a selector to sleep in and
/// something that may still wake a component (so the scheduler waits instead of returning).
fn quiet_socket(ctx: &Ctx) -> std::io::Result<(UdpSocket, Registration)> {
    let mut sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    let reg = Selector::for_scheduler(ctx)?.register(
        &mut sock,
        Interest::READABLE,
        ctx.remote_waker(),
    )?;
    Ok((sock, reg))
}

/// The `/proc` directory of the calling thread (the scheduler's, when a component calls it).
fn this_thread() -> std::path::PathBuf {
    // The link reads "<pid>/task/<tid>", relative to /proc.
    std::path::Path::new("/proc")
        .join(std::fs::read_link("/proc/thread-self").expect("Linux /proc"))
}

/// Returns once the thread whose `/proc` directory is `task` is blocked in `epoll_wait`. A
/// kernel that hides `wchan` (it then reads "0" or cannot be read) gives no answer: after
/// 5 s this returns anyway, saying so, and the test goes on to check the wake itself.
fn until_asleep_in_epoll(task: &std::path::Path) {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let wchan = std::fs::read_to_string(task.join("wchan")).unwrap_or_default();
        if wchan.contains("epoll") || wchan.contains("ep_poll") {
            return;
        }
        if Instant::now() > give_up {
            eprintln!(
                "{}/wchan reads {wchan:?}: going on without seeing epoll_wait",
                task.display()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn asleep_in_its_selector_a_scheduler_is_woken_by_a_thread() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        let (tx, rx) = mpsc::channel::<u32>();
        sched.spawn(component("Waiter", move |ctx| async move {
            let quiet = quiet_socket(&ctx)?;
            let waker = ctx.remote_waker();
            let me = this_thread();
            let thread = std::thread::spawn(move || {
                until_asleep_in_epoll(&me);
                tx.send(42).unwrap();
                waker.wake();
            });
            loop {
                if let Ok(v) = rx.try_recv() {
                    assert_eq!(v, 42);
                    thread.join().unwrap();
                    drop(quiet);
                    return Ok(());
                }
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        assert!(sched.run().is_clean());
    });
}

#[test]
fn asleep_in_its_selector_a_background_scheduler_is_woken_by_a_handle() {
    within(LIMIT, || {
        let bg = Background::start();
        let handle = bg
            .handle(component("Echo", |ctx| async move {
                let quiet = quiet_socket(&ctx)?;
                ctx.send(this_thread(), "outbox")?;
                loop {
                    while let Ok(m) = ctx.recv("inbox") {
                        let n = m.downcast::<u32>()?;
                        if n == 0 {
                            drop(quiet);
                            return Ok(());
                        }
                        ctx.send(n + 1, "outbox")?;
                    }
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }))
            .unwrap();
        let task = handle
            .get_timeout("outbox", LIMIT)
            .unwrap()
            .downcast::<std::path::PathBuf>()
            .unwrap();
        for n in 1..=3u32 {
            until_asleep_in_epoll(&task);
            handle.put(n, "inbox").unwrap();
            let back = handle.get_timeout("outbox", LIMIT).unwrap();
            assert_eq!(back.downcast::<u32>().unwrap(), n + 1);
        }
        handle.put(0u32, "inbox").unwrap();
        drop(handle);
        assert!(bg.finish().is_clean());
    });
}

#[test]
fn asleep_in_its_selector_a_scheduler_is_woken_by_its_timer() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        sched.spawn(component("Sleeper", |ctx| async move {
            let quiet = quiet_socket(&ctx)?;
            let at = Instant::now() + Duration::from_millis(30);
            ctx.wake_at(at);
            // Nothing but the timer can wake it: the socket stays quiet.
            while Instant::now() < at {
                ctx.pause();
                ctx.yield_now().await;
            }
            assert!(quiet.1.take_ready().is_empty());
            drop(quiet);
            Ok(())
        }));
        assert!(sched.run().is_clean());
    });
}

#[test]
fn asleep_in_its_selector_a_scheduler_is_woken_by_a_selector_deadline() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        sched.spawn(component("Timeout", |ctx| async move {
            let (_sock, reg) = quiet_socket(&ctx)?;
            let at = Instant::now() + Duration::from_millis(30);
            reg.set_deadline(Some(at));
            loop {
                let ready = reg.take_ready();
                if ready.deadline_passed {
                    assert!(Instant::now() >= at);
                    assert!(!ready.readable && !ready.writable);
                    return Ok(());
                }
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        assert!(sched.run().is_clean());
    });
}

#[test]
fn asleep_in_its_selector_a_scheduler_is_woken_by_a_socket() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        sched.spawn(component("Receiver", |ctx| async move {
            let (sock, reg) = quiet_socket(&ctx)?;
            let to = sock.local_addr()?;
            let me = this_thread();
            let sender = std::thread::spawn(move || {
                until_asleep_in_epoll(&me);
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.send_to(b"ping", to).unwrap();
            });
            let mut buf = [0u8; 16];
            loop {
                if reg.take_ready().readable {
                    if let Ok(n) = sock.recv(&mut buf) {
                        assert_eq!(&buf[..n], b"ping");
                        sender.join().unwrap();
                        return Ok(());
                    }
                }
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        assert!(sched.run().is_clean());
    });
}

#[test]
fn a_scheduler_with_a_selector_returns_when_nothing_can_wake_anything() {
    within(LIMIT, || {
        let sched = Scheduler::new();
        sched.spawn(component("Forgotten", |ctx| async move {
            let quiet = quiet_socket(&ctx)?;
            drop(quiet); // the last thing that could wake it
            loop {
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        let report = sched.run();
        assert_eq!(report.left_paused.len(), 1);
        assert!(report.left_paused[0].starts_with("Forgotten"));
        assert!(report.failures.is_empty() && !report.stopped);
    });
}

#[test]
fn two_schedulers_in_one_process_each_serve_their_own_sockets() {
    within(LIMIT, || {
        let servers: Vec<_> = (0..2)
            .map(|_| {
                let server = ServerCore::bind("127.0.0.1:0", |_| PassThrough).unwrap();
                let addr = server.local_addr();
                let bg = Background::start();
                let handle = bg.handle(server).unwrap();
                (bg, handle, addr)
            })
            .collect();
        // Clients of both at once, each echoing 1 MiB in 4 KiB pieces.
        let clients: Vec<_> = servers
            .iter()
            .flat_map(|(_, _, addr)| [*addr, *addr])
            .enumerate()
            .map(|(k, addr)| {
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(LIMIT)).unwrap();
                    let piece: Vec<u8> = (0..4096).map(|i| (i * 7 + k) as u8).collect();
                    let mut back = vec![0u8; piece.len()];
                    for _ in 0..256 {
                        s.write_all(&piece).unwrap();
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, piece);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        // No selector thread anywhere: each scheduler polls its own.
        let selector_threads = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter(|t| {
                let comm = t.as_ref().unwrap().path().join("comm");
                std::fs::read_to_string(comm).unwrap_or_default().trim() == "axon-selector"
            })
            .count();
        assert_eq!(selector_threads, 0);
        for (bg, handle, _) in servers {
            handle
                .put(ShutdownMicroprocess::default(), "control")
                .unwrap();
            drop(handle);
            assert!(bg.finish().is_clean());
        }
    });
}

#[test]
fn a_socket_on_this_schedulers_selector_wakes_a_component_of_another_scheduler() {
    within(LIMIT, || {
        // The other scheduler's component hands out its waker, takes a registration made on
        // this scheduler's selector, and says when it has seen the socket readable.
        let bg = Background::start();
        let other = bg
            .handle(component("OtherSide", |ctx| async move {
                ctx.send(ctx.remote_waker(), "outbox")?;
                let mut reg: Option<Registration> = None;
                loop {
                    if let Ok(m) = ctx.recv("inbox") {
                        reg = Some(m.downcast::<Registration>()?);
                    }
                    if reg.as_ref().is_some_and(|r| r.take_ready().readable) {
                        ctx.send(true, "outbox")?;
                        return Ok(());
                    }
                    ctx.pause();
                    ctx.yield_now().await;
                }
            }))
            .unwrap();
        let waker = other
            .get_timeout("outbox", LIMIT)
            .unwrap()
            .downcast::<axon::RemoteWaker>()
            .unwrap();
        let sched = Scheduler::new();
        sched.spawn(component("ThisSide", move |ctx| async move {
            let mut sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
            let to = sock.local_addr()?;
            let reg =
                Selector::for_scheduler(&ctx)?.register(&mut sock, Interest::READABLE, waker)?;
            other.put(reg, "inbox").unwrap();
            std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(b"x", to)?;
            // This scheduler polls the socket; the wake goes through the other's door. Look
            // for its answer now and then (a timer keeps this scheduler running meanwhile).
            loop {
                if let Ok(m) = other.get("outbox") {
                    assert!(m.downcast::<bool>()?);
                    drop(sock);
                    return Ok(());
                }
                ctx.wake_at(Instant::now() + Duration::from_millis(1));
                ctx.pause();
                ctx.yield_now().await;
            }
        }));
        assert!(sched.run().is_clean());
        assert!(bg.finish().is_clean());
    });
}
