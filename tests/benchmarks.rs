//! The benchmark programs still work and still check what they measure: each is run at a
//! tiny size (speed is never asserted here; docs/performance.md has the figures).

mod common;

use std::process::Command;

/// Runs an example with `args`; returns its standard output, asserting it succeeded.
fn run(name: &str, args: &[&str]) -> String {
    let bin = common::build_example(name);
    let out = Command::new(&bin)
        .args(args)
        .output()
        .expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn pipeline_bench_delivers_every_message() {
    let out = run("pipeline_bench", &["5000", "4"]);
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("axon-rust N=5000 K=4 received=5000 "),
        "{last}"
    );
}

#[test]
fn ring_bench_ends_cleanly() {
    let out = run("ring_bench", &["100", "1000"]);
    let rings: Vec<&str> = out.lines().filter(|l| l.starts_with("ring N=")).collect();
    assert_eq!(rings.len(), 2, "{out}");
    assert!(rings.iter().all(|l| l.ends_with("clean=true")), "{out}");
}

#[test]
fn echo_bench_checks_every_byte_with_either_load_generator() {
    for mode in [&[][..], &["--event-loop"][..]] {
        let mut args = vec!["5", "1"];
        args.extend_from_slice(mode);
        let out = run("echo_bench", &args);
        assert!(
            out.contains("every byte of 5 MiB checked"),
            "{mode:?}: {out}"
        );
        let last = out.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("echo-bench clients=5 mib_each=1 "),
            "{last}"
        );
    }
}

#[test]
fn hash_bench_makes_a_torrent_of_its_file() {
    let out = run("hash_bench", &["4"]);
    assert!(
        out.contains("ours: ") && out.contains("(16 pieces, info-hash "),
        "{out}"
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("hash-bench mib=4 "), "{last}");
}
