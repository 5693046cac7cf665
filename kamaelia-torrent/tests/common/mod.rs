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
pub mod aria2c_flags;
pub mod engine;
pub mod peers;
