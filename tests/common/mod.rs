//! Helpers shared by the top-level integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Builds an example and returns the path of its binary, as cargo reports it.
pub fn build_example(name: &str) -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--example",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo build runs");
    assert!(out.status.success(), "cargo build --example {name} failed");
    let stdout = String::from_utf8(out.stdout).expect("cargo prints UTF-8");
    const KEY: &str = "\"executable\":\"";
    for line in stdout.lines() {
        if !line.contains("\"reason\":\"compiler-artifact\"") {
            continue;
        }
        let Some(at) = line.find(KEY) else { continue };
        let rest = &line[at + KEY.len()..];
        let mut path = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => path.extend(chars.next()),
                c => path.push(c),
            }
        }
        let path = PathBuf::from(path);
        if path.file_stem().and_then(|s| s.to_str()) == Some(name) {
            return path;
        }
    }
    panic!("cargo did not report an executable for example {name}");
}
