//! `ConsoleReader` and `ConsoleEchoer`: lines from the console in, items to the console out
//! (Kamaelia's `Kamaelia.Util.Console`).
//!
//! Both take their console from the caller if asked: [`ConsoleReader::from_reader`] reads any
//! `BufRead`, and [`ConsoleEchoer::to_writer`] writes to any `Write`, so that they work (and
//! are tested) without a terminal.
//!
//! # Differences from Kamaelia
//!
//! `ConsoleReader`:
//! - At the end of its input it sends [`ProducerFinished`] out of `signal` and ends. Kamaelia's
//!   `input()` raises `EOFError` there, and the exception reaches the scheduler.
//! - It reads `control` **before** each line, not after (Kamaelia documents that the last line
//!   is always consumed). A read in progress still cannot be interrupted: a stop message is
//!   seen when the line it is waiting for arrives.
//! - It follows the [uniform rule](crate::util::pass_through#the-uniform-stop-rule)
//!   (`ProducerFinished`, `ShutdownMicroprocess` and `Shutdown` all stop it; it holds no work
//!   to finish). Kamaelia's ignores `shutdown`. Its `control` and `signal` are therefore
//!   described "Shutdown signalling" rather than Kamaelia's "NOT USED".
//! - The prompt goes to stdout for [`ConsoleReader::new`], and nowhere for
//!   [`ConsoleReader::from_reader`] unless given a writer with
//!   [`prompt_to`](ConsoleReader::prompt_to).
//!
//! `ConsoleEchoer`:
//! - Kamaelia's `str()` and `repr()` work on any Python object. Here an item is written by
//!   `Display` (or `Debug` with [`use_repr`](ConsoleEchoer::use_repr)) when its type is one
//!   the echoer knows: text (`String`, `&'static str`, `Box<str>`, `Arc<str>`, `char`),
//!   numbers, `bool`, and the types added with [`showing`](ConsoleEchoer::showing). Bytes
//!   (`Vec<u8>`, `&'static [u8]`, `Box<[u8]>`, `Arc<[u8]>`) are written as they are, or as
//!   `b"..."` with `use_repr`. Axon's IPC messages are written by `Debug`. Any other item is
//!   written as `<` its type name `>`, e.g. `<my_crate::Reading>`.
//! - `use_repr` writes Rust's `Debug` form: strings in double quotes (`"hi"`), where Python
//!   writes `'hi'`.
//! - It stops by the uniform rule. Kamaelia's stops on **any** control message (spec (f)5)
//!   and passes every one on. Here other control messages are ignored, and with a
//!   `ProducerFinished` it first echoes what is waiting in `inbox`, as Kamaelia's does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{Debug, Display};
use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::ipc::{self, ProducerFinished};
use crate::message::Message;
use crate::threaded::{ThreadCtx, Threaded, ThreadedComponent};
use crate::util::pass_through::{classify, read_control, Control};

// ----- ConsoleReader ----------------------------------------------------------------------

/// Reads lines from the console (or any `BufRead`) on a thread of its own and sends each out
/// of `outbox` as a `String`, its line ending replaced by `eol` (Kamaelia's
/// `ConsoleReader(prompt=">>> ", eol="\n")`).
///
/// Before each line it writes its prompt and reads `control`: a
/// [`ProducerFinished`], [`ShutdownMicroprocess`](ipc::ShutdownMicroprocess) or
/// [`Shutdown`](ipc::Shutdown) there stops it, and goes out of `signal`. At the end of the
/// input it sends a `ProducerFinished` of its own out of `signal` and ends. A read error (input
/// that is not UTF-8, say) ends it too: it sends a `ProducerFinished` out of `signal`, then
/// fails with the error, which the scheduler reports.
///
/// Boxes: `inbox` ("NOT USED"), `control` ("Shutdown signalling"), `outbox` ("Lines that were
/// typed at the console"), `signal` ("Shutdown signalling"): Kamaelia's descriptions, except
/// that its `control` and `signal` say "NOT USED", which is no longer true.
///
/// ```
/// use std::io::Cursor;
/// use axon::ipc::ProducerFinished;
/// use axon::util::console::ConsoleReader;
/// use axon::Scheduler;
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let input = Cursor::new("first\nsecond\n");
/// let reader = root.spawn(ConsoleReader::from_reader(input).eol("!"));
/// root.link((reader, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((reader, "signal"), (root.id(), "control")).unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "first!");
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), "second!");
/// assert!(root.recv("control").unwrap().is::<ProducerFinished>());
/// ```
pub struct ConsoleReader {
    input: Box<dyn BufRead + Send>,
    prompt_out: Option<Box<dyn Write + Send>>,
    prompt: String,
    eol: String,
}

impl ConsoleReader {
    /// Reads standard input, prompting `">>> "` on standard output, and ends lines with
    /// `"\n"` (Kamaelia's defaults).
    pub fn new() -> ConsoleReader {
        ConsoleReader {
            input: Box::new(std::io::BufReader::new(std::io::stdin())),
            prompt_out: Some(Box::new(std::io::stdout())),
            prompt: ">>> ".into(),
            eol: "\n".into(),
        }
    }

    /// Reads `input` instead of standard input, and writes the prompt nowhere (see
    /// [`prompt_to`](ConsoleReader::prompt_to)).
    pub fn from_reader(input: impl BufRead + Send + 'static) -> ConsoleReader {
        ConsoleReader {
            input: Box::new(input),
            prompt_out: None,
            prompt: ">>> ".into(),
            eol: "\n".into(),
        }
    }

    /// Prompts with `prompt` (Kamaelia's `prompt`; default `">>> "`).
    pub fn prompt(mut self, prompt: impl Into<String>) -> ConsoleReader {
        self.prompt = prompt.into();
        self
    }

    /// Writes the prompt to `out` before each line.
    pub fn prompt_to(mut self, out: impl Write + Send + 'static) -> ConsoleReader {
        self.prompt_out = Some(Box::new(out));
        self
    }

    /// Ends each line sent with `eol` instead of its own line ending (Kamaelia's `eol`;
    /// default `"\n"`).
    pub fn eol(mut self, eol: impl Into<String>) -> ConsoleReader {
        self.eol = eol.into();
        self
    }
}

impl Default for ConsoleReader {
    /// Same as [`ConsoleReader::new`].
    fn default() -> ConsoleReader {
        ConsoleReader::new()
    }
}

impl std::fmt::Debug for ConsoleReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleReader")
            .field("prompt", &self.prompt)
            .field("eol", &self.eol)
            .finish_non_exhaustive()
    }
}

const READER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "NOT USED"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const READER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Lines that were typed at the console"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

/// The thread body of a [`ConsoleReader`].
struct ReaderBody(ConsoleReader);

impl ThreadedComponent for ReaderBody {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        READER_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        READER_OUTBOXES.into()
    }

    fn main(self, ctx: ThreadCtx) -> ComponentResult {
        let ConsoleReader {
            mut input,
            mut prompt_out,
            prompt,
            eol,
        } = self.0;
        let mut line = String::new();
        loop {
            match classify(|| ctx.recv("control").ok(), |_| Ok(()))? {
                Control::Now(stop) | Control::Finish(stop) => {
                    return Ok(ctx.send_waiting(stop, "signal")?);
                }
                Control::Carry => {}
            }
            if ctx.should_stop() {
                return Ok(());
            }
            if let Some(out) = prompt_out.as_mut() {
                // A prompt that cannot be shown is no reason to stop reading.
                let _ = out.write_all(prompt.as_bytes()).and_then(|()| out.flush());
            }
            line.clear();
            let read = input.read_line(&mut line);
            match read {
                Ok(0) => {
                    return Ok(ctx.send_waiting(ProducerFinished::from(ctx.id()), "signal")?);
                }
                Ok(_) => {
                    if line.ends_with('\n') {
                        line.pop();
                        if line.ends_with('\r') {
                            line.pop();
                        }
                    }
                    ctx.send_waiting(format!("{line}{eol}"), "outbox")?;
                }
                Err(e) => {
                    log::error!("{}: reading the console failed: {e}", ctx.name());
                    ctx.send_waiting(ProducerFinished::from(ctx.id()), "signal")?;
                    return Err(e.into());
                }
            }
        }
    }
}

impl Component for ConsoleReader {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        READER_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        READER_OUTBOXES.into()
    }

    fn main(self, ctx: Ctx) -> impl std::future::Future<Output = ComponentResult> + 'static {
        Component::main(Threaded::new(ReaderBody(self)), ctx)
    }
}

// ----- ConsoleEchoer ----------------------------------------------------------------------

/// Writes one item if it is of the type this function is for; `repr` picks `Debug`.
type ShowFn = fn(&Message, bool, &mut dyn Write) -> Option<std::io::Result<()>>;

fn show_as<T: Display + Debug + 'static>(
    m: &Message,
    repr: bool,
    out: &mut dyn Write,
) -> Option<std::io::Result<()>> {
    let v = m.downcast_ref::<T>()?;
    Some(if repr {
        write!(out, "{v:?}")
    } else {
        write!(out, "{v}")
    })
}

fn show_debug<T: Debug + 'static>(
    m: &Message,
    _repr: bool,
    out: &mut dyn Write,
) -> Option<std::io::Result<()>> {
    let v = m.downcast_ref::<T>()?;
    Some(write!(out, "{v:?}"))
}

fn show_bytes<T: AsRef<[u8]> + 'static>(
    m: &Message,
    repr: bool,
    out: &mut dyn Write,
) -> Option<std::io::Result<()>> {
    let bytes = m.downcast_ref::<T>()?.as_ref();
    Some(if repr {
        write!(out, "b\"{}\"", bytes.escape_ascii())
    } else {
        out.write_all(bytes)
    })
}

/// The types a new echoer knows, by type name.
fn standard_shows() -> HashMap<&'static str, Vec<ShowFn>> {
    fn add(map: &mut HashMap<&'static str, Vec<ShowFn>>, name: &'static str, f: ShowFn) {
        map.entry(name).or_default().push(f);
    }
    macro_rules! shown {
        ($map:ident, $how:ident, $($t:ty),* $(,)?) => {
            $( add(&mut $map, std::any::type_name::<$t>(), $how::<$t>); )*
        };
    }
    let mut map = HashMap::new();
    shown!(
        map,
        show_as,
        String,
        &'static str,
        Box<str>,
        Arc<str>,
        Arc<String>,
        char,
        bool,
        u8,
        u16,
        u32,
        u64,
        u128,
        usize,
        i8,
        i16,
        i32,
        i64,
        i128,
        isize,
        f32,
        f64,
    );
    shown!(
        map,
        show_bytes,
        Vec<u8>,
        &'static [u8],
        Box<[u8]>,
        Arc<[u8]>
    );
    shown!(
        map,
        show_debug,
        ipc::ProducerFinished,
        ipc::ShutdownMicroprocess,
        ipc::Shutdown,
        ipc::Status,
        ipc::WouldBlock,
        ipc::ErrorInformation,
        ipc::NewComponent,
        (),
    );
    map
}

/// Writes each item on `inbox` to standard output (or any `Write`), after its tag and with no
/// newline added, flushing after each (Kamaelia's
/// `ConsoleEchoer(forwarder=False, use_repr=False, tag="")`).
///
/// Items are written by `Display` (`Debug` with [`use_repr`](ConsoleEchoer::use_repr)) for
/// the types it knows; see the [module documentation](self) for the list and the fallback.
/// With [`forwarder`](ConsoleEchoer::forwarder) each item is then sent on out of `outbox`.
/// It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
///
/// Boxes, as Kamaelia's: `inbox` ("Stuff that will be echoed to standard output"), `control`
/// ("Shutdown signalling"), `outbox` ("Stuff forwarded from 'inbox' inbox (if enabled)"),
/// `signal` ("Shutdown signalling").
///
/// ```
/// use std::io::Write;
/// use std::sync::{Arc, Mutex};
/// use axon::ipc::ProducerFinished;
/// use axon::util::console::ConsoleEchoer;
/// use axon::Scheduler;
///
/// /// A writer the test can read afterwards.
/// #[derive(Clone, Default)]
/// struct Shared(Arc<Mutex<Vec<u8>>>);
/// impl Write for Shared {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().write(b)
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let out = Shared::default();
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let echo = root.spawn(ConsoleEchoer::to_writer(out.clone()).tag("> "));
/// root.link((root.id(), "outbox"), (echo, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (echo, "control")).unwrap();
/// root.send("hello\n", "outbox").unwrap();
/// root.send(42u32, "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
/// assert_eq!(String::from_utf8(out.0.lock().unwrap().clone()).unwrap(), "> hello\n> 42");
/// ```
pub struct ConsoleEchoer {
    out: Box<dyn Write + Send>,
    forwarder: bool,
    use_repr: bool,
    tag: String,
    shows: HashMap<&'static str, Vec<ShowFn>>,
}

impl ConsoleEchoer {
    /// Echoes to standard output, with no tag, by `Display`, forwarding nothing (Kamaelia's
    /// defaults).
    pub fn new() -> ConsoleEchoer {
        ConsoleEchoer::to_writer(std::io::stdout())
    }

    /// Echoes to `out` instead of standard output.
    pub fn to_writer(out: impl Write + Send + 'static) -> ConsoleEchoer {
        ConsoleEchoer {
            out: Box::new(out),
            forwarder: false,
            use_repr: false,
            tag: String::new(),
            shows: standard_shows(),
        }
    }

    /// Also sends each item on out of `outbox` after echoing it (Kamaelia's `forwarder`).
    pub fn forwarder(mut self, forwarder: bool) -> ConsoleEchoer {
        self.forwarder = forwarder;
        self
    }

    /// Writes items by `Debug` rather than `Display` (Kamaelia's `use_repr`).
    pub fn use_repr(mut self, use_repr: bool) -> ConsoleEchoer {
        self.use_repr = use_repr;
        self
    }

    /// Writes `tag` before each item (Kamaelia's `tag`).
    pub fn tag(mut self, tag: impl Into<String>) -> ConsoleEchoer {
        self.tag = tag.into();
        self
    }

    /// Also writes items of type `T`, by its `Display` (or `Debug` with `use_repr`).
    pub fn showing<T: Display + Debug + 'static>(mut self) -> ConsoleEchoer {
        let f: ShowFn = show_as::<T>;
        self.shows
            .entry(std::any::type_name::<T>())
            .or_default()
            .insert(0, f);
        self
    }

    /// Writes the tag and one item.
    fn echo(&mut self, m: &Message) -> std::io::Result<()> {
        let out: &mut dyn Write = &mut self.out;
        out.write_all(self.tag.as_bytes())?;
        let shown = self
            .shows
            .get(m.type_name())
            .and_then(|fns| fns.iter().find_map(|f| f(m, self.use_repr, &mut *out)));
        match shown {
            Some(result) => result?,
            None => write!(out, "<{}>", m.type_name())?,
        }
        out.flush()
    }
}

impl Default for ConsoleEchoer {
    /// Same as [`ConsoleEchoer::new`].
    fn default() -> ConsoleEchoer {
        ConsoleEchoer::new()
    }
}

impl std::fmt::Debug for ConsoleEchoer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleEchoer")
            .field("forwarder", &self.forwarder)
            .field("use_repr", &self.use_repr)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

const ECHOER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Stuff that will be echoed to standard output"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const ECHOER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Stuff forwarded from 'inbox' inbox (if enabled)"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for ConsoleEchoer {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        ECHOER_INBOXES.into()
    }

    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        ECHOER_OUTBOXES.into()
    }

    async fn main(mut self, ctx: Ctx) -> ComponentResult {
        loop {
            let control = read_control(&ctx, |_| Ok(()))?;
            if let Control::Now(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            while let Ok(item) = ctx.recv("inbox") {
                self.echo(&item)?;
                if self.forwarder {
                    ctx.send(item, "outbox")?;
                }
            }
            if let Control::Finish(stop) = control {
                ctx.send(stop, "signal")?;
                return Ok(());
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}
