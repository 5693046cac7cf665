//! Kamaelia's SimpleServer echo demo: every byte a client sends comes straight back.
//!
//! ```text
//! cargo run --release --example echo_server                 # 127.0.0.1:1601
//! cargo run --release --example echo_server -- --port 12345
//! cargo run --release --example echo_server -- --port 0     # any free port
//! cargo run --release --example echo_server -- --read-chunk 131072   # read up to 128 KiB at a time
//! telnet 127.0.0.1 1601   (or: nc 127.0.0.1 1601)
//! ```
//!
//! The first line printed is `listening on 127.0.0.1:<port>`. It listens on the loopback
//! address only and runs until interrupted.
//!
//! The protocol is Kamaelia's `EchoProtocol`, plus what Rust's non-blocking sends ask of it:
//! when the connection's inbox is full, keep the message and stop taking more until woken, so
//! that a client that reads slowly is slowed down instead of filling the server's memory.

use std::io::Write;

use kamaelia::axon::internet::server_core::SimpleServer;
use kamaelia::axon::internet::tcp_server::{PeerClose, SocketConfig};
use kamaelia::axon::util::PassThrough;
use kamaelia::axon::Scheduler;

/// The value after `--name`, if given.
fn option<T: std::str::FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let i = args.iter().position(|a| a == name)?;
    match args.get(i + 1).and_then(|v| v.parse().ok()) {
        Some(v) => Some(v),
        None => {
            eprintln!("usage: echo_server [--port N] [--read-chunk BYTES]");
            std::process::exit(2)
        }
    }
}

fn main() {
    env_logger::init();
    let server = SimpleServer::new(option("--port").unwrap_or(1601), || PassThrough).map(|s| {
        let mut config = SocketConfig {
            peer_close: PeerClose::HalfClose,
            ..SocketConfig::default()
        };
        if let Some(n) = option("--read-chunk") {
            config.read_chunk = n;
        }
        s.into_inner().with_socket_config(config)
    });
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_server: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    let sched = Scheduler::new();
    sched.spawn(server);
    let report = sched.run();
    eprintln!("echo_server: stopped: {report:?}");
}
