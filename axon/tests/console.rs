//! `ConsoleReader` and `ConsoleEchoer` (spec B6), with their console replaced by an
//! in-memory reader and writer, and the uniform stop rule of issue 3 (fixing spec (f)5).
//!
//! Every test runs its scheduler on a spawned thread and fails if it takes longer than a
//! generous timeout, so that nothing can hang; thread bodies give up waiting well before it.

mod common;

use std::io::{BufReader, Cursor, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axon::ipc::{ProducerFinished, Shutdown, ShutdownMicroprocess};
use axon::util::console::{ConsoleEchoer, ConsoleReader};
use axon::{Component, ComponentId, Message, Scheduler};
use common::{drain, sink, step_until, within};

/// How long any one test may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long an input reader waits for the test before it reports the end of its input.
const PATIENCE: Duration = Duration::from_secs(10);

/// A writer the test reads afterwards, counting flushes.
#[derive(Clone, Default)]
struct Shared {
    bytes: Arc<Mutex<Vec<u8>>>,
    flushes: Arc<Mutex<usize>>,
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
    }
    fn flushes(&self) -> usize {
        *self.flushes.lock().unwrap()
    }
}

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        *self.flushes.lock().unwrap() += 1;
        Ok(())
    }
}

/// Input that arrives when the test sends it; the end of input when the test drops its
/// sender (or after [`PATIENCE`]).
struct ChannelInput {
    rx: mpsc::Receiver<String>,
    pending: Vec<u8>,
}

impl Read for ChannelInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.recv_timeout(PATIENCE) {
                Ok(s) => self.pending = s.into_bytes(),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn channel_input() -> (mpsc::Sender<String>, BufReader<ChannelInput>) {
    let (tx, rx) = mpsc::channel();
    let input = ChannelInput {
        rx,
        pending: Vec::new(),
    };
    (tx, BufReader::new(input))
}

/// A reader wired to two sinks; returns (reader, outbox sink, signal sink).
fn wire_reader(
    sched: &Scheduler,
    reader: ConsoleReader,
) -> (ComponentId, ComponentId, ComponentId) {
    let root = sched.root();
    let r = root.spawn(reader);
    let (out, sig) = (sink(&root, "Out"), sink(&root, "Sig"));
    root.link((r, "outbox"), (out, "inbox")).unwrap();
    root.link((r, "signal"), (sig, "inbox")).unwrap();
    (r, out, sig)
}

fn strings(ms: Vec<Message>) -> Vec<String> {
    ms.into_iter().map(|m| m.downcast().unwrap()).collect()
}

// ----- ConsoleReader ----------------------------------------------------------------------

/// Spec B6: ConsoleReader "sends line + eol on outbox" for each line, default eol "\n". At
/// the end of the input it sends ProducerFinished on signal and ends (Python's input() raised
/// EOFError into the scheduler instead).
#[test]
fn console_reader_sends_lines_then_producer_finished_at_end_of_input() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let input = Cursor::new("one\ntwo\r\nthree");
        let (r, out, sig) = wire_reader(&sched, ConsoleReader::from_reader(input));
        let report = sched.run();
        assert!(report.is_clean(), "{report:?}");
        // Line endings, "\r\n" included, become eol; a last line without one still counts,
        // as Python's input() returns it before raising at the end.
        assert_eq!(
            strings(drain(&sched, out, "inbox")),
            ["one\n", "two\n", "three\n"]
        );
        let signalled = drain(&sched, sig, "inbox");
        assert_eq!(signalled.len(), 1);
        let done = signalled[0].downcast_ref::<ProducerFinished>().unwrap();
        assert_eq!(done.caller, Some(r));
    });
}

/// Spec B6: `ConsoleReader(prompt, eol)`; the prompt is written before each read (Python's
/// `input(prompt)`), including the read that finds the end of the input.
#[test]
fn console_reader_prompts_before_each_line_and_uses_its_eol() {
    within(TIMEOUT, || {
        let sched = Scheduler::new();
        let prompts = Shared::default();
        let reader = ConsoleReader::from_reader(Cursor::new("a\nb\n"))
            .prompt("? ")
            .prompt_to(prompts.clone())
            .eol("");
        let (_, out, _) = wire_reader(&sched, reader);
        assert!(sched.run().is_clean());
        assert_eq!(strings(drain(&sched, out, "inbox")), ["a", "b"]);
        assert_eq!(prompts.text(), "? ? ? ");
    });
}

/// Spec B6 box descriptions.
#[test]
fn console_reader_boxes_are_described_as_in_kamaelia() {
    let r = ConsoleReader::from_reader(Cursor::new(""));
    assert_eq!(r.inboxes()[0].description, "NOT USED");
    assert_eq!(
        r.outboxes()[0].description,
        "Lines that were typed at the console"
    );
}

/// Uniform stop rule (issue 3): each stop message stops the reader and is passed on. As in
/// Python (spec (f)12), a read already waiting for a line cannot be interrupted: the stop is
/// seen once that line has come (and been sent). Then no further line is read.
#[test]
fn console_reader_stops_on_each_stop_message() {
    within(TIMEOUT, || {
        for (stop, now) in [
            (Message::new(ProducerFinished::default()), false),
            (Message::new(ShutdownMicroprocess::default()), true),
            (Message::new(Shutdown), true),
        ] {
            let sched = Scheduler::new();
            let (tx, input) = channel_input();
            let (r, out, sig) = wire_reader(&sched, ConsoleReader::from_reader(input));
            tx.send("first\n".into()).unwrap();
            step_until(&sched, || sched.ctx(out).data_ready("inbox") == 1);
            // The reader now waits for its next line. Stop it, and let the proxy hand the
            // message to the thread.
            sched.ctx(r).deliver(stop, "control").unwrap();
            step_until(&sched, || sched.ctx(r).data_ready("control") == 0);
            tx.send("second\nthird\n".into()).unwrap();
            let report = sched.run();
            assert!(report.is_clean(), "{report:?}");
            assert_eq!(
                strings(drain(&sched, out, "inbox")),
                ["first\n", "second\n"]
            );
            let signalled = drain(&sched, sig, "inbox");
            assert_eq!(signalled.len(), 1);
            if now {
                assert!(signalled[0].is::<ShutdownMicroprocess>() || signalled[0].is::<Shutdown>());
            } else {
                // The ProducerFinished received (no caller), not one of its own.
                let pf = signalled[0].downcast_ref::<ProducerFinished>().unwrap();
                assert_eq!(pf.caller, None);
            }
        }
    });
}

// ----- ConsoleEchoer ----------------------------------------------------------------------

/// Runs an echoer over `items` then ProducerFinished; returns what it wrote and forwarded.
fn echo(echoer: ConsoleEchoer, items: Vec<Message>) -> (Vec<Message>, Vec<Message>) {
    let sched = Scheduler::new();
    let root = sched.root();
    let e = root.spawn(echoer);
    let (out, sig) = (sink(&root, "Out"), sink(&root, "Sig"));
    root.link((root.id(), "outbox"), (e, "inbox")).unwrap();
    root.link((root.id(), "signal"), (e, "control")).unwrap();
    root.link((e, "outbox"), (out, "inbox")).unwrap();
    root.link((e, "signal"), (sig, "inbox")).unwrap();
    for m in items {
        root.send(m, "outbox").unwrap();
    }
    root.send(ProducerFinished::default(), "signal").unwrap();
    let report = sched.run();
    assert!(report.is_clean(), "{report:?}");
    (drain(&sched, out, "inbox"), drain(&sched, sig, "inbox"))
}

/// Spec B6: ConsoleEchoer "writes tag + str(item) to stdout with no newline added, then
/// flushes", for each item.
#[test]
fn console_echoer_writes_tag_and_item_without_newline_and_flushes() {
    within(TIMEOUT, || {
        let w = Shared::default();
        let items = vec![
            Message::new("text"),
            Message::new(String::from(" more")),
            Message::new(42u64),
            Message::new(-1.5f64),
            Message::new(true),
            Message::new('c'),
        ];
        let (forwarded, _) = echo(ConsoleEchoer::to_writer(w.clone()).tag("|"), items);
        assert_eq!(w.text(), "|text| more|42|-1.5|true|c");
        assert_eq!(w.flushes(), 6);
        // Not a forwarder: nothing goes on.
        assert!(forwarded.is_empty());
    });
}

/// Spec B6: "When forwarder is set, it also sends the item on" (unchanged, after writing it).
#[test]
fn console_echoer_forwards_when_asked() {
    within(TIMEOUT, || {
        let w = Shared::default();
        let (forwarded, _) = echo(
            ConsoleEchoer::to_writer(w.clone()).forwarder(true),
            vec![Message::new(String::from("a")), Message::new(2u8)],
        );
        assert_eq!(w.text(), "a2");
        assert_eq!(forwarded.len(), 2);
        assert_eq!(forwarded[0].downcast_ref::<String>().unwrap(), "a");
        assert_eq!(forwarded[1].downcast_ref::<u8>(), Some(&2));
    });
}

/// Spec B6 `use_repr`: Python writes repr(item); here Rust's Debug form (strings in double
/// quotes), and bytes as b"...".
#[test]
fn console_echoer_use_repr_writes_debug_forms() {
    within(TIMEOUT, || {
        let w = Shared::default();
        echo(
            ConsoleEchoer::to_writer(w.clone()).use_repr(true),
            vec![
                Message::new("hi\n"),
                Message::new(3u8),
                Message::new(b"a\x00".to_vec()),
            ],
        );
        assert_eq!(w.text(), "\"hi\\n\"3b\"a\\x00\"");
    });
}

/// Bytes are written as they are; other known types by Display; unknown types as
/// `<type name>`, unless added with `showing`.
#[test]
fn console_echoer_bytes_unknown_types_and_showing() {
    #[derive(Debug)]
    struct Point(i32, i32);
    impl std::fmt::Display for Point {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "({}, {})", self.0, self.1)
        }
    }
    struct Opaque;

    within(TIMEOUT, || {
        let w = Shared::default();
        echo(
            ConsoleEchoer::to_writer(w.clone()).showing::<Point>(),
            vec![
                Message::new(b"raw ".to_vec()),
                Message::new(Point(1, 2)),
                Message::new(Opaque),
            ],
        );
        let text = w.text();
        assert!(text.starts_with("raw (1, 2)<"), "{text}");
        assert!(text.ends_with("Opaque>"), "{text}");
    });
}

/// Spec B6 box descriptions.
#[test]
fn console_echoer_boxes_are_described_as_in_kamaelia() {
    let e = ConsoleEchoer::to_writer(Vec::new());
    let inboxes = e.inboxes();
    let outboxes = e.outboxes();
    assert_eq!(
        inboxes[0].description,
        "Stuff that will be echoed to standard output"
    );
    assert_eq!(inboxes[1].description, "Shutdown signalling");
    assert_eq!(
        outboxes[0].description,
        "Stuff forwarded from 'inbox' inbox (if enabled)"
    );
    assert_eq!(outboxes[1].description, "Shutdown signalling");
}

/// Uniform stop rule (issue 3): ProducerFinished echoes what is waiting first; stop-now
/// messages stop it at once; the message received is passed on. Other control messages are
/// ignored (Python's echoer stopped on *any* control message, spec (f)5).
#[test]
fn console_echoer_follows_the_uniform_stop_rule() {
    within(TIMEOUT, || {
        for (stop, now) in [
            (Message::new(ProducerFinished::default()), false),
            (Message::new(ShutdownMicroprocess::default()), true),
            (Message::new(Shutdown), true),
        ] {
            let w = Shared::default();
            let sched = Scheduler::new();
            let root = sched.root();
            let e = root.create(ConsoleEchoer::to_writer(w.clone()));
            let sig = sink(&root, "Sig");
            root.link((root.id(), "outbox"), (e, "inbox")).unwrap();
            root.link((root.id(), "signal"), (e, "control")).unwrap();
            root.link((e, "signal"), (sig, "inbox")).unwrap();
            root.send("a note", "signal").unwrap();
            root.activate(e).unwrap();
            sched.run();
            assert!(!root.is_stopped(e), "any control message stopped it");
            root.send("x", "outbox").unwrap();
            root.send("y", "outbox").unwrap();
            root.send(stop, "signal").unwrap();
            assert!(sched.run().is_clean());
            assert!(root.is_stopped(e));
            assert_eq!(w.text(), if now { "" } else { "xy" });
            let signalled = drain(&sched, sig, "inbox");
            assert_eq!(signalled.len(), 1, "only the stop message is passed on");
            assert_eq!(
                signalled[0].is::<ProducerFinished>(),
                !now,
                "{:?}",
                signalled[0]
            );
        }
    });
}
