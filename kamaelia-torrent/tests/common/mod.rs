//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::Command;

/// True if `tool` can be run. Under CI=true its absence fails the test (CI must install the
/// real peers); elsewhere the test is skipped with a printed reason.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is not installed: .ci/run must install it (CI=true)");
        }
        eprintln!("skipping: {tool} is not installed (apt-get install it to run this test)");
    }
    found
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tracker that answers every announce but `stopped`, which it records and never answers.
pub fn tracker_deaf_to_stopped() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut held = Vec::new();
        for mut conn in l.incoming().flatten() {
            conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .ok();
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let stopped = line.contains("event=stopped");
            s.lock().unwrap().push(line);
            if stopped {
                held.push(conn);
                continue;
            }
            let body = b"d8:intervali1800e5:peers0:e";
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    });
    (url, seen)
}

pub mod aria2c_flags;
pub mod engine;
pub mod peers;
pub mod ports;
