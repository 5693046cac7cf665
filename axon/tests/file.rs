//! `TriggeredFileReader`, `SimpleFileWriter` and `WholeFileWriter` (spec B7 and the Python
//! originals `File/TriggeredFileReader.py`, `File/Writing.py`, `File/WholeFileWriter.py`):
//! their file behaviour, errors reported on the `error` outbox rather than raised, and the
//! uniform stop rule of issue 3 (fixing spec (f)5).
//!
//! Files live in a fresh directory under the system temp dir, removed at the end of each test.
//! To catch a component in the middle of a file (so that a stop-now message can arrive while
//! it works), some tests use a named pipe, which blocks its reader or writer until the test
//! plays the other end; those are Unix-only.
//!
//! Every test runs its scheduler on a spawned thread and fails if it takes longer than a
//! generous timeout, so that nothing can hang.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axon::ipc::{ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::util::file::{FileError, SimpleFileWriter, TriggeredFileReader, WholeFileWriter};
use axon::{Component, ComponentId, Message, Scheduler};
use common::{drain, sink, step_until, within};

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A directory of its own under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "axon-test-file-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file component wired up: the test feeds `inbox` and `control` from the root and reads
/// `outbox`, `signal` and `error` from three sinks.
struct Rig {
    sched: Scheduler,
    id: ComponentId,
    out: ComponentId,
    sig: ComponentId,
    err: ComponentId,
}

impl Rig {
    /// Created, not yet activated.
    fn new(c: impl Component) -> Rig {
        let sched = Scheduler::new();
        let root = sched.root();
        let id = root.create(c);
        let (out, sig, err) = (sink(&root, "Out"), sink(&root, "Sig"), sink(&root, "Err"));
        root.link((root.id(), "outbox"), (id, "inbox")).unwrap();
        root.link((root.id(), "signal"), (id, "control")).unwrap();
        root.link((id, "outbox"), (out, "inbox")).unwrap();
        root.link((id, "signal"), (sig, "inbox")).unwrap();
        root.link((id, "error"), (err, "inbox")).unwrap();
        Rig {
            sched,
            id,
            out,
            sig,
            err,
        }
    }

    fn send<T: Send + 'static>(&self, item: T) {
        self.sched.root().send(item, "outbox").unwrap();
    }

    fn stop<T: Send + 'static>(&self, stop: T) {
        self.sched.root().send(stop, "signal").unwrap();
    }

    fn start(&self) {
        self.sched.root().activate(self.id).unwrap();
    }

    /// Runs until the component has ended; it must end cleanly.
    fn finish(&self) {
        let report = self.sched.run();
        assert!(report.is_clean(), "{report:?}");
        assert!(self.sched.root().is_stopped(self.id));
    }

    /// Steps until the proxy has handed everything waiting to the thread.
    fn hand_over(&self) {
        let ctx = self.sched.ctx(self.id);
        step_until(&self.sched, || {
            ctx.data_ready("inbox") == 0 && ctx.data_ready("control") == 0
        });
    }

    fn outputs<T: 'static>(&self) -> Vec<T> {
        drain(&self.sched, self.out, "inbox")
            .into_iter()
            .map(|m| m.downcast().unwrap())
            .collect()
    }

    fn errors(&self) -> Vec<FileError> {
        drain(&self.sched, self.err, "inbox")
            .into_iter()
            .map(|m| m.downcast().unwrap())
            .collect()
    }

    fn signals(&self) -> Vec<Message> {
        drain(&self.sched, self.sig, "inbox")
    }
}

fn stop_now_messages() -> Vec<Message> {
    vec![
        Message::new(ShutdownMicroprocess::default()),
        Message::new(Shutdown),
    ]
}

fn assert_passed_on_stop_now(signals: &[Message]) {
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert!(signals[0].is::<ShutdownMicroprocess>() || signals[0].is::<Shutdown>());
}

fn assert_passed_on_producer_finished(signals: &[Message]) {
    assert_eq!(signals.len(), 1, "{signals:?}");
    // The one received (no caller), not a fresh one of its own as Python sent.
    assert_eq!(
        signals[0]
            .downcast_ref::<ProducerFinished>()
            .unwrap()
            .caller,
        None
    );
}

/// Makes a named pipe.
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

// ----- TriggeredFileReader ----------------------------------------------------------------

/// Spec B7: "each inbox item is a path. It reads the whole file in binary, and sends the
/// bytes on outbox", one message per file, in order. Paths may be String, &str or PathBuf.
#[test]
fn reader_sends_each_whole_file_in_binary() {
    within(TIMEOUT, || {
        let dir = TempDir::new("reader");
        let all_bytes: Vec<u8> = (0..=255u8).collect();
        std::fs::write(dir.join("binary"), &all_bytes).unwrap();
        std::fs::write(dir.join("text"), "text file\n").unwrap();
        std::fs::write(dir.join("empty"), "").unwrap();
        let rig = Rig::new(TriggeredFileReader::new());
        rig.send(dir.join("binary"));
        rig.send(dir.join("text").to_string_lossy().into_owned());
        let leaked: &'static str = Box::leak(
            dir.join("empty")
                .to_string_lossy()
                .into_owned()
                .into_boxed_str(),
        );
        rig.send(leaked);
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(
            rig.outputs::<Vec<u8>>(),
            vec![all_bytes, b"text file\n".to_vec(), Vec::new()]
        );
        assert!(rig.errors().is_empty());
    });
}

/// A file that cannot be read is reported on "error" (Python raised into the scheduler) and
/// reading goes on; so is an item that is not a path.
#[test]
fn reader_reports_unreadable_files_and_goes_on() {
    within(TIMEOUT, || {
        let dir = TempDir::new("reader-errors");
        std::fs::write(dir.join("there"), "here I am").unwrap();
        let rig = Rig::new(TriggeredFileReader::new());
        rig.send(dir.join("missing"));
        rig.send(17u32);
        rig.send(dir.join("there"));
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(rig.outputs::<Vec<u8>>(), vec![b"here I am".to_vec()]);
        let errors = rig.errors();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].path, dir.join("missing"));
        assert_eq!(errors[0].error.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(errors[1].path, PathBuf::new());
        assert_eq!(errors[1].error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(errors[1].error.to_string().contains("u32"));
    });
}

/// Uniform stop rule: ProducerFinished reads every path waiting first, then is passed on.
#[test]
fn reader_finishes_waiting_files_on_producer_finished() {
    within(TIMEOUT, || {
        let dir = TempDir::new("reader-pf");
        for i in 0..20 {
            std::fs::write(dir.join(&i.to_string()), i.to_string()).unwrap();
        }
        let rig = Rig::new(TriggeredFileReader::new());
        for i in 0..20 {
            rig.send(dir.join(&i.to_string()));
        }
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        let got: Vec<String> = rig
            .outputs::<Vec<u8>>()
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
        assert_passed_on_producer_finished(&rig.signals());
    });
}

/// Uniform stop rule: ShutdownMicroprocess and Shutdown stop the reader at once (Python's
/// ignored shutdownMicroprocess). Caught in the middle of reading a named pipe, it finishes
/// that file, then reads none of the paths waiting behind it.
#[cfg(unix)]
#[test]
fn reader_stops_at_once_on_stop_now_messages() {
    within(TIMEOUT, || {
        for stop in stop_now_messages() {
            let dir = TempDir::new("reader-now");
            let pipe = dir.join("pipe");
            mkfifo(&pipe);
            std::fs::write(dir.join("later"), "later").unwrap();
            let rig = Rig::new(TriggeredFileReader::new());
            rig.start();
            rig.send(pipe.clone());
            rig.hand_over();
            // Opening the pipe's writing end returns once the reader has opened it: the
            // reader is now inside the first file.
            let mut w = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
            rig.send(dir.join("later"));
            rig.send(dir.join("later"));
            rig.stop(stop);
            rig.hand_over();
            std::io::Write::write_all(&mut w, b"from the pipe").unwrap();
            drop(w);
            rig.finish();
            assert_eq!(rig.outputs::<Vec<u8>>(), vec![b"from the pipe".to_vec()]);
            assert_passed_on_stop_now(&rig.signals());
        }
    });
}

// ----- SimpleFileWriter -------------------------------------------------------------------

/// `Writing.py`: SimpleFileWriter opens its file (mode "wb": created or emptied) when it
/// starts, and writes each item to it, in order. Items may be Vec<u8>, String or &str.
#[test]
fn simple_writer_writes_items_in_order_replacing_old_content() {
    within(TIMEOUT, || {
        let dir = TempDir::new("writer");
        let path = dir.join("out");
        std::fs::write(&path, "old content that must go").unwrap();
        let rig = Rig::new(SimpleFileWriter::new(&path));
        rig.send(b"one ".to_vec());
        rig.send(String::from("two "));
        rig.send("three");
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one two three");
        assert!(rig.errors().is_empty());
        assert_passed_on_producer_finished(&rig.signals());
    });
}

/// Python's `mode="ab"`: `SimpleFileWriter::appending` adds to what is there.
#[test]
fn simple_writer_appending_keeps_old_content() {
    within(TIMEOUT, || {
        let dir = TempDir::new("writer-append");
        let path = dir.join("log");
        std::fs::write(&path, "before;").unwrap();
        let rig = Rig::new(SimpleFileWriter::appending(&path));
        rig.send("after");
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before;after");
    });
}

/// `Writing.py` opens the file at the start of main: with no items the file is still made.
#[test]
fn simple_writer_creates_its_file_when_it_starts() {
    within(TIMEOUT, || {
        let dir = TempDir::new("writer-empty");
        let path = dir.join("made");
        let rig = Rig::new(SimpleFileWriter::new(&path));
        rig.stop(ShutdownMicroprocess::default());
        rig.start();
        rig.finish();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        assert_passed_on_stop_now(&rig.signals());
    });
}

/// Failures are reported on "error" (Python raised), the item concerned is dropped, and the
/// writer goes on: a file it could not open is tried again with the next item; an item that
/// is not bytes is refused.
#[test]
fn simple_writer_reports_failures_and_retries_opening() {
    within(TIMEOUT, || {
        let dir = TempDir::new("writer-errors");
        let sub = dir.join("not-yet");
        let path = sub.join("out");
        let rig = Rig::new(SimpleFileWriter::new(&path));
        rig.start();
        rig.send("lost");
        let err_ctx = rig.sched.ctx(rig.err);
        // One error for the open at start, one for the item.
        step_until(&rig.sched, || err_ctx.data_ready("inbox") == 2);
        std::fs::create_dir(&sub).unwrap();
        rig.send(3.5f64);
        rig.send("kept");
        rig.stop(ProducerFinished::default());
        rig.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept");
        let errors = rig.errors();
        assert_eq!(errors.len(), 3);
        assert!(errors[..2]
            .iter()
            .all(|e| e.path == path && e.error.kind() == std::io::ErrorKind::NotFound));
        assert_eq!(errors[2].error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(errors[2].error.to_string().contains("f64"));
    });
}

/// Uniform stop rule: ShutdownMicroprocess and Shutdown stop the writer at once (Python's
/// ignored `shutdown`). Caught in the middle of writing a big item to a named pipe, it
/// finishes that item, then writes none of the items waiting behind it.
#[cfg(unix)]
#[test]
fn simple_writer_stops_at_once_on_stop_now_messages() {
    use std::io::Read;

    within(TIMEOUT, || {
        for stop in stop_now_messages() {
            let dir = TempDir::new("writer-now");
            let pipe = dir.join("pipe");
            mkfifo(&pipe);
            let big = vec![b'x'; 1 << 20];
            let rig = Rig::new(SimpleFileWriter::new(&pipe));
            rig.start();
            rig.send(big.clone());
            rig.hand_over();
            // Blocks until the writer has opened the pipe; one byte read means it is inside
            // the big item, which cannot fit in the pipe.
            let mut r = std::fs::File::open(&pipe).unwrap();
            let mut first = [0u8; 1];
            r.read_exact(&mut first).unwrap();
            rig.send("must not be written");
            rig.stop(stop);
            rig.hand_over();
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).unwrap();
            rig.finish();
            assert_eq!(1 + rest.len(), big.len());
            assert_passed_on_stop_now(&rig.signals());
        }
    });
}

// ----- WholeFileWriter --------------------------------------------------------------------

/// `WholeFileWriter.py`: each item is [filename, contents]; the file is created (or replaced)
/// with exactly those contents, and the filename is sent on outbox. Here the filename goes
/// on as the type it came in.
#[test]
fn whole_writer_writes_each_job_as_a_whole_file() {
    within(TIMEOUT, || {
        let dir = TempDir::new("whole");
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&b, "a much longer old content").unwrap();
        let rig = Rig::new(WholeFileWriter::new());
        let a_name = a.to_string_lossy().into_owned();
        rig.send((a_name.clone(), b"contents of a".to_vec()));
        rig.send((b.clone(), String::from("new b")));
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "contents of a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        let out = drain(&rig.sched, rig.out, "inbox");
        assert_eq!(out[0].downcast_ref::<String>(), Some(&a_name));
        assert_eq!(out[1].downcast_ref::<PathBuf>(), Some(&b));
        assert!(rig.errors().is_empty());
        assert_passed_on_producer_finished(&rig.signals());
    });
}

/// A file that cannot be written, or an item that is not a (path, contents) pair, is
/// reported on "error" (Python raised) and its path is not sent on; the writer goes on.
#[test]
fn whole_writer_reports_failures_and_goes_on() {
    within(TIMEOUT, || {
        let dir = TempDir::new("whole-errors");
        let rig = Rig::new(WholeFileWriter::new());
        rig.send((dir.join("no-dir").join("x"), b"lost".to_vec()));
        rig.send("not a pair");
        rig.send((dir.join("ok"), "fine"));
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(rig.outputs::<PathBuf>(), vec![dir.join("ok")]);
        assert_eq!(std::fs::read_to_string(dir.join("ok")).unwrap(), "fine");
        let errors = rig.errors();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].path, dir.join("no-dir").join("x"));
        assert_eq!(errors[1].error.kind(), std::io::ErrorKind::InvalidInput);
    });
}

/// Uniform stop rule (Python's WholeFileWriter never stopped): ShutdownMicroprocess and
/// Shutdown stop it at once. Caught in the middle of a big file on a named pipe, it finishes
/// that file, then writes none of the jobs waiting behind it.
#[cfg(unix)]
#[test]
fn whole_writer_stops_at_once_on_stop_now_messages() {
    use std::io::Read;

    within(TIMEOUT, || {
        for stop in stop_now_messages() {
            let dir = TempDir::new("whole-now");
            let pipe = dir.join("pipe");
            mkfifo(&pipe);
            let big = vec![b'y'; 1 << 20];
            let rig = Rig::new(WholeFileWriter::new());
            rig.start();
            rig.send((pipe.clone(), big.clone()));
            rig.hand_over();
            let mut r = std::fs::File::open(&pipe).unwrap();
            let mut first = [0u8; 1];
            r.read_exact(&mut first).unwrap();
            rig.send((dir.join("never"), "must not be written"));
            rig.stop(stop);
            rig.hand_over();
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).unwrap();
            rig.finish();
            assert_eq!(1 + rest.len(), big.len());
            assert_eq!(rig.outputs::<PathBuf>(), vec![pipe.clone()]);
            assert!(!dir.join("never").exists());
            assert_passed_on_stop_now(&rig.signals());
        }
    });
}

/// Uniform stop rule: ProducerFinished writes every job waiting first.
#[test]
fn whole_writer_finishes_waiting_jobs_on_producer_finished() {
    within(TIMEOUT, || {
        let dir = TempDir::new("whole-pf");
        let rig = Rig::new(WholeFileWriter::new());
        for i in 0..20 {
            rig.send((dir.join(&i.to_string()), i.to_string()));
        }
        rig.stop(ProducerFinished::default());
        rig.start();
        rig.finish();
        assert_eq!(rig.outputs::<PathBuf>().len(), 20);
        for i in 0..20 {
            assert_eq!(
                std::fs::read_to_string(dir.join(&i.to_string())).unwrap(),
                i.to_string()
            );
        }
        assert_passed_on_producer_finished(&rig.signals());
    });
}
