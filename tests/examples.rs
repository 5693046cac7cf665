//! Runs the top-level examples and compares what they print with what the Python originals
//! print (recorded by running Kamaelia/Axon under python3).
//!
//! Each example is built with `cargo build --example`, then its binary is run as a child
//! process, killed (and the test failed) if it has not exited within a generous limit.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Anti-hang limit for one example run (not a performance bound).
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// Output of `python3 all.py` (Axon `Examples/Simple/all.py`), verbatim.
const SIMPLE_ALL_PY: &str = "\
__main__.Producer_6  sent --> hello29
__main__.Producer_6  sent --> hello28
__main__.Consumer_7 received -->  hello29
__main__.Producer_6  sent --> hello27
__main__.Consumer_7 received -->  hello28
__main__.Producer_6  sent --> hello26
__main__.Consumer_7 received -->  hello27
__main__.Producer_6  sent --> hello25
__main__.Consumer_7 received -->  hello26
__main__.Producer_6  sent --> hello24
__main__.Consumer_7 received -->  hello25
__main__.Producer_6  sent --> hello23
__main__.Consumer_7 received -->  hello24
__main__.Producer_6  sent --> hello22
__main__.Consumer_7 received -->  hello23
__main__.Producer_6  sent --> hello21
__main__.Consumer_7 received -->  hello22
__main__.Producer_6  sent --> hello20
__main__.Consumer_7 received -->  hello21
__main__.Producer_6  sent --> hello19
__main__.Consumer_7 received -->  hello20
__main__.Producer_6  sent --> hello18
__main__.Consumer_7 received -->  hello19
__main__.Producer_6  sent --> hello17
__main__.Consumer_7 received -->  hello18
__main__.Producer_6  sent --> hello16
__main__.Consumer_7 received -->  hello17
__main__.Producer_6  sent --> hello15
__main__.Consumer_7 received -->  hello16
__main__.Producer_6  sent --> hello14
__main__.Consumer_7 received -->  hello15
__main__.Producer_6  sent --> hello13
__main__.Consumer_7 received -->  hello14
__main__.Producer_6  sent --> hello12
__main__.Consumer_7 received -->  hello13
__main__.Producer_6  sent --> hello11
__main__.Consumer_7 received -->  hello12
__main__.Producer_6  sent --> hello10
__main__.Consumer_7 received -->  hello11
__main__.Producer_6  sent --> hello9
__main__.Consumer_7 received -->  hello10
__main__.Producer_6  sent --> hello8
__main__.Consumer_7 received -->  hello9
__main__.Producer_6  sent --> hello7
__main__.Consumer_7 received -->  hello8
__main__.Producer_6  sent --> hello6
__main__.Consumer_7 received -->  hello7
__main__.Producer_6  sent --> hello5
__main__.Consumer_7 received -->  hello6
__main__.Producer_6  sent --> hello4
__main__.Consumer_7 received -->  hello5
__main__.Producer_6  sent --> hello3
__main__.Consumer_7 received -->  hello4
__main__.Producer_6  sent --> hello2
__main__.Consumer_7 received -->  hello3
__main__.Producer_6  sent --> hello1
__main__.Consumer_7 received -->  hello2
__main__.Producer_6  sent --> hello0
__main__.Consumer_7 received -->  hello1
Producer has finished production !!!
__main__.Consumer_7 received -->  hello0
Consumer has finished consumption !!!
consumer finished with result:  hello0 !
";

/// Output of `python3 SystemShutdown.py` (Axon `Examples/SystemShutdown.py`), verbatim. The
/// number of "tick" lines depends on timing.
const SYSTEM_SHUTDOWN_PY: &str = "\
tick
tick
tick
tick
stopped
Urgent shutdown here, honest gov!
";

/// What the Python `Chargen.py` `tests()` prints: "Hello World" over and over, with no
/// separator and no newline, until it is killed.
const CHARGEN_PY_UNIT: &str = "Hello World";

/// Strips Kamaelia's module prefix (`__main__.`) and the `_<number>` suffix of component
/// names, so that `__main__.Producer_6` and `Producer_12` both read `Producer`.
fn normalize(text: &str) -> String {
    let text = text.replace("__main__.", "");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '_' && i > 0 && chars[i - 1].is_alphanumeric() {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let ends_word = j == chars.len() || !(chars[j].is_alphanumeric() || chars[j] == '_');
            if j > i + 1 && ends_word {
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Builds an example and returns the path of its binary, as cargo reports it.
fn build_example(name: &str) -> PathBuf {
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

/// What one run of an example did.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Builds and runs an example with `args`; fails the test if it runs longer than
/// [`HANG_LIMIT`].
fn run_example(name: &str, args: &[&str]) -> Run {
    let exe = build_example(name);
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        out_pipe.read_to_string(&mut s).map(|_| s)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err_pipe.read_to_string(&mut s).map(|_| s)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name} {args:?} did not exit within {HANG_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader
        .join()
        .expect("stdout reader")
        .expect("stdout is UTF-8");
    let stderr = err_reader
        .join()
        .expect("stderr reader")
        .expect("stderr is UTF-8");
    Run {
        success: status.success(),
        stdout,
        stderr,
    }
}

#[test]
fn normalize_strips_module_prefix_and_id_suffix() {
    assert_eq!(
        normalize("__main__.Producer_6  sent --> hello29"),
        "Producer  sent --> hello29"
    );
    assert_eq!(
        normalize("Consumer_123 received -->  hello_world"),
        "Consumer received -->  hello_world"
    );
    assert_eq!(normalize("ConsoleEchoer_7\n"), "ConsoleEchoer\n");
}

#[test]
fn simple_all_prints_what_python_prints() {
    let run = run_example("simple_all", &[]);
    assert!(run.success, "simple_all failed; stderr:\n{}", run.stderr);
    assert_eq!(normalize(&run.stdout), normalize(SIMPLE_ALL_PY));
}

#[test]
fn system_shutdown_ticks_then_stops_everything() {
    let run = run_example("system_shutdown", &[]);
    assert!(
        run.success,
        "system_shutdown failed; stderr:\n{}",
        run.stderr
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    let ticks = lines.iter().take_while(|l| **l == "tick").count();
    assert!(
        (3..=5).contains(&ticks),
        "expected 3 to 5 ticks, got {ticks}; output:\n{}",
        run.stdout
    );
    assert_eq!(
        &lines[ticks..],
        ["stopped", "Urgent shutdown here, honest gov!"],
        "output:\n{}",
        run.stdout
    );
    // The same shape as the recorded Python output.
    let py: Vec<&str> = SYSTEM_SHUTDOWN_PY.lines().collect();
    let py_ticks = py.iter().take_while(|l| **l == "tick").count();
    assert_eq!(&py[py_ticks..], &lines[ticks..]);
    assert!(run.stdout.ends_with('\n'));
}

#[test]
fn chargen_echoes_hello_world_n_times() {
    let n = 25;
    let run = run_example("chargen", &[&n.to_string()]);
    assert!(run.success, "chargen failed; stderr:\n{}", run.stderr);
    assert_eq!(run.stdout, CHARGEN_PY_UNIT.repeat(n));
}

#[test]
fn chargen_rejects_a_bad_count() {
    let run = run_example("chargen", &["many"]);
    assert!(!run.success);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("usage"), "stderr: {}", run.stderr);
}
