//! Files: `TriggeredFileReader`, `SimpleFileWriter` and `WholeFileWriter` (Kamaelia's
//! `Kamaelia.File.TriggeredFileReader`, `Kamaelia.File.Writing.SimpleFileWriter` and
//! `Kamaelia.File.WholeFileWriter`).
//!
//! File I/O blocks, so each of these runs its body on a thread of its own (a
//! [`Threaded`] component); they are created and linked like any other component.
//!
//! # Errors
//!
//! A file that cannot be read or written does not stop a component. The failure is sent out of
//! an extra outbox, `error`, as a [`FileError`] naming the path, and the component goes on
//! with the next item. An item of a type the component cannot use (a number where a path was
//! expected, say) is reported the same way, with the path empty and the error kind
//! `InvalidInput`. Link `error` somewhere to see them; unlinked, they are dropped (and logged
//! at `debug` level).
//!
//! # Differences from Kamaelia
//!
//! - Errors go out of `error` as above. Kamaelia's components raise, and the exception
//!   reaches the scheduler.
//! - All three follow the [uniform rule](crate::util::pass_through#the-uniform-stop-rule):
//!   `ProducerFinished` finishes the files waiting in `inbox` first, `ShutdownMicroprocess`
//!   and `Shutdown` stop at once, and the message received goes out of `signal`. Kamaelia's
//!   `TriggeredFileReader` ignores `shutdownMicroprocess` (spec (f)5) and sends a fresh
//!   `producerFinished`; its `SimpleFileWriter` ignores `shutdown`; its `WholeFileWriter`
//!   never stops. Other control messages are ignored.
//! - `TriggeredFileReader` logs `readFile(<path>)` at `debug` level instead of printing it.
//! - `SimpleFileWriter` opens its file when it starts, as Kamaelia's does (mode `"wb"`:
//!   created or truncated); [`SimpleFileWriter::appending`] is mode `"ab"`. If the file cannot
//!   be opened it reports that, and tries again when the next item comes.
//! - Bytes may be given as `Vec<u8>`, `String`, `&'static str` and the other types listed on
//!   each component; paths as `String`, `&'static str` or `PathBuf`.

use std::borrow::Cow;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::component::{BoxSpec, Component};
use crate::ctx::Ctx;
use crate::error::ComponentResult;
use crate::message::Message;
use crate::threaded::{ThreadCtx, Threaded, ThreadedComponent};
use crate::util::pass_through::thread_loop;

/// A file that could not be read or written, sent out of a file component's `error` outbox.
///
/// ```
/// use axon::util::file::FileError;
///
/// let e = FileError::new("/no/such/file", std::io::ErrorKind::NotFound.into());
/// assert_eq!(e.path.to_str(), Some("/no/such/file"));
/// assert_eq!(e.error.kind(), std::io::ErrorKind::NotFound);
/// assert!(e.to_string().starts_with("/no/such/file: "));
/// ```
#[derive(Debug)]
pub struct FileError {
    /// The file concerned (empty when the item was not a usable path at all).
    pub path: PathBuf,
    /// What went wrong.
    pub error: std::io::Error,
}

impl FileError {
    /// An error about `path`.
    pub fn new(path: impl Into<PathBuf>, error: std::io::Error) -> FileError {
        FileError {
            path: path.into(),
            error,
        }
    }

    /// The error for an item of a type that could not be used.
    fn wrong_item(path: impl Into<PathBuf>, expected: &str, m: &Message) -> FileError {
        FileError::new(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("expected {expected}, got a {}", m.type_name()),
            ),
        )
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Sends a file error out of `error`.
fn report(ctx: &ThreadCtx, e: FileError) -> ComponentResult {
    log::debug!("{}: {e}", ctx.name());
    Ok(ctx.send_waiting(e, "error")?)
}

/// The path an item names, if it is a path type we take.
fn path_of(m: &Message) -> Option<&Path> {
    if let Some(s) = m.downcast_ref::<String>() {
        Some(Path::new(s))
    } else if let Some(s) = m.downcast_ref::<&'static str>() {
        Some(Path::new(s))
    } else {
        m.downcast_ref::<PathBuf>().map(PathBuf::as_path)
    }
}

const PATH_TYPES: &str = "a path (String, &'static str or PathBuf)";

/// The bytes an item holds, if it is a bytes type we take.
fn bytes_of(m: &Message) -> Option<&[u8]> {
    macro_rules! try_types {
        ($($t:ty),*) => {
            $( if let Some(v) = m.downcast_ref::<$t>() {
                let b: &[u8] = AsRef::<[u8]>::as_ref(&**v);
                return Some(b);
            } )*
        };
    }
    try_types!(
        Vec<u8>,
        String,
        &'static str,
        &'static [u8],
        Box<[u8]>,
        Arc<[u8]>,
        Arc<Vec<u8>>,
        Arc<str>,
        Arc<String>
    );
    None
}

const BYTES_TYPES: &str = "bytes (Vec<u8>, String, &'static str, &'static [u8], Box<[u8]>, \
                           Arc<[u8]>, Arc<Vec<u8>>, Arc<str> or Arc<String>)";

/// `Component` for a public type whose body runs on a thread.
macro_rules! threaded_component {
    ($public:ty, $body:ident, $inboxes:ident, $outboxes:ident) => {
        impl Component for $public {
            fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
                $inboxes.into()
            }

            fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
                $outboxes.into()
            }

            fn main(
                self,
                ctx: Ctx,
            ) -> impl std::future::Future<Output = ComponentResult> + 'static {
                Component::main(Threaded::new($body(self)), ctx)
            }
        }

        impl ThreadedComponent for $body {
            fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
                $inboxes.into()
            }

            fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
                $outboxes.into()
            }

            fn main(self, ctx: ThreadCtx) -> ComponentResult {
                self.run(&ctx)
            }
        }
    };
}

// ----- TriggeredFileReader ----------------------------------------------------------------

/// Reads the whole file named by each item on `inbox`, and sends its contents out of `outbox`
/// as one `Vec<u8>` (Kamaelia's `TriggeredFileReader()`).
///
/// Paths are `String`, `&'static str` or `PathBuf`. A file that cannot be read is reported
/// out of `error` as a [`FileError`], and reading goes on with the next path. It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
///
/// Boxes: `inbox` ("filepaths to read"), `control` ("Shut me down"), `outbox` ("file
/// contents, 1 per message"), `signal` ("Shutdown signalling: the stop message received"),
/// `error` ("A FileError for each file that could not be read").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::file::{FileError, TriggeredFileReader};
/// use axon::Scheduler;
///
/// let dir = std::env::temp_dir().join(format!("axon-doc-reader-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("hello.txt");
/// std::fs::write(&path, b"hello, file").unwrap();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let reader = root.spawn(TriggeredFileReader::new());
/// let errors = root.create(axon::component("Errors", |_| async { Ok(()) }));
/// root.link((root.id(), "outbox"), (reader, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (reader, "control")).unwrap();
/// root.link((reader, "outbox"), (root.id(), "inbox")).unwrap();
/// root.link((reader, "error"), (errors, "inbox")).unwrap();
///
/// root.send(path.clone(), "outbox").unwrap();
/// root.send(dir.join("missing.txt"), "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<Vec<u8>>("inbox").unwrap(), b"hello, file");
/// let e: FileError = sched.ctx(errors).recv_as("inbox").unwrap();
/// assert_eq!(e.path, dir.join("missing.txt"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TriggeredFileReader;

impl TriggeredFileReader {
    /// A reader.
    pub fn new() -> TriggeredFileReader {
        TriggeredFileReader
    }
}

const READER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "filepaths to read"),
    BoxSpec::new("control", "Shut me down"),
];

const READER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "file contents, 1 per message"),
    BoxSpec::new("signal", "Shutdown signalling: the stop message received"),
    BoxSpec::new("error", "A FileError for each file that could not be read"),
];

/// The thread body of a [`TriggeredFileReader`].
struct ReaderBody(TriggeredFileReader);

impl ReaderBody {
    fn run(self, ctx: &ThreadCtx) -> ComponentResult {
        thread_loop(ctx, |ctx, item| {
            let Some(path) = path_of(&item) else {
                return report(ctx, FileError::wrong_item("", PATH_TYPES, &item));
            };
            log::debug!("readFile({})", path.display());
            match std::fs::read(path) {
                Ok(data) => Ok(ctx.send_waiting(data, "outbox")?),
                Err(e) => report(ctx, FileError::new(path, e)),
            }
        })
    }
}

threaded_component!(
    TriggeredFileReader,
    ReaderBody,
    READER_INBOXES,
    READER_OUTBOXES
);

// ----- SimpleFileWriter -------------------------------------------------------------------

/// Writes each item on `inbox` to one file, one after the other (Kamaelia's
/// `SimpleFileWriter(filename, mode="wb")`).
///
/// The file is created (or truncated) when the component starts; with
/// [`appending`](SimpleFileWriter::appending) it is opened for appending instead. Each item's
/// bytes are written at once, unbuffered, as in Kamaelia. Items are `Vec<u8>`, `String`,
/// `&'static str`, `&'static [u8]`, `Box<[u8]>`, `Arc<[u8]>`, `Arc<Vec<u8>>`, `Arc<str>` or
/// `Arc<String>`. Failures are reported out of `error` as [`FileError`]s; the item concerned
/// is dropped and writing goes on. It stops by the
/// [uniform rule](crate::util::pass_through#the-uniform-stop-rule), and closes the file.
///
/// Boxes: `inbox` ("data to write to file"), `control` ("to receive shutdown/finished
/// messages"), `outbox` ("not used"), `signal` ("shutdown/finished signalling"), `error`
/// ("A FileError for each item that could not be written").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::file::SimpleFileWriter;
/// use axon::Scheduler;
///
/// let dir = std::env::temp_dir().join(format!("axon-doc-writer-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.txt");
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let writer = root.spawn(SimpleFileWriter::new(&path));
/// root.link((root.id(), "outbox"), (writer, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (writer, "control")).unwrap();
/// root.send(b"Hello, ".to_vec(), "outbox").unwrap();
/// root.send("world", "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "Hello, world");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleFileWriter {
    path: PathBuf,
    append: bool,
}

impl SimpleFileWriter {
    /// Writes to `path`, creating it or emptying it first (Kamaelia's mode `"wb"`).
    pub fn new(path: impl Into<PathBuf>) -> SimpleFileWriter {
        SimpleFileWriter {
            path: path.into(),
            append: false,
        }
    }

    /// Appends to `path`, creating it if need be (Kamaelia's mode `"ab"`).
    pub fn appending(path: impl Into<PathBuf>) -> SimpleFileWriter {
        SimpleFileWriter {
            path: path.into(),
            append: true,
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> std::io::Result<File> {
        let mut options = OpenOptions::new();
        if self.append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        options.create(true).open(&self.path)
    }
}

const WRITER_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "data to write to file"),
    BoxSpec::new("control", "to receive shutdown/finished messages"),
];

const WRITER_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "not used"),
    BoxSpec::new("signal", "shutdown/finished signalling"),
    BoxSpec::new(
        "error",
        "A FileError for each item that could not be written",
    ),
];

/// The thread body of a [`SimpleFileWriter`].
struct WriterBody(SimpleFileWriter);

impl WriterBody {
    fn run(self, ctx: &ThreadCtx) -> ComponentResult {
        let spec = self.0;
        let mut file = match spec.open() {
            Ok(f) => Some(f),
            Err(e) => {
                report(ctx, FileError::new(&spec.path, e))?;
                None
            }
        };
        thread_loop(ctx, |ctx, item| {
            let Some(bytes) = bytes_of(&item) else {
                return report(ctx, FileError::wrong_item(&spec.path, BYTES_TYPES, &item));
            };
            if file.is_none() {
                match spec.open() {
                    Ok(f) => file = Some(f),
                    Err(e) => return report(ctx, FileError::new(&spec.path, e)),
                }
            }
            let f = file.as_mut().expect("opened just above");
            match f.write_all(bytes) {
                Ok(()) => Ok(()),
                Err(e) => report(ctx, FileError::new(&spec.path, e)),
            }
        })
    }
}

threaded_component!(
    SimpleFileWriter,
    WriterBody,
    WRITER_INBOXES,
    WRITER_OUTBOXES
);

// ----- WholeFileWriter --------------------------------------------------------------------

/// Writes each item on `inbox`, a `(path, contents)` pair, as a whole new file, then sends the
/// path out of `outbox` (Kamaelia's `WholeFileWriter()`, whose items are
/// `[filename, contents]`).
///
/// The path is a `String`, `&'static str` or `PathBuf`, and is sent on as it came; the
/// contents are a `Vec<u8>`, `String` or `&'static str`. A file that exists is replaced.
/// Failures are reported out of `error` as [`FileError`]s, and the path is then not sent on.
/// It stops by the [uniform rule](crate::util::pass_through#the-uniform-stop-rule).
///
/// Boxes: `inbox` ("file creation jobs"), `control` ("Shutdown signalling"), `outbox`
/// ("filename written"), `signal` ("Shutdown signalling"), `error` ("A FileError for each
/// file that could not be written").
///
/// ```
/// use axon::ipc::ProducerFinished;
/// use axon::util::file::WholeFileWriter;
/// use axon::Scheduler;
///
/// let dir = std::env::temp_dir().join(format!("axon-doc-whole-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("whole.txt").to_string_lossy().into_owned();
///
/// let sched = Scheduler::new();
/// let root = sched.root();
/// let writer = root.spawn(WholeFileWriter::new());
/// root.link((root.id(), "outbox"), (writer, "inbox")).unwrap();
/// root.link((root.id(), "signal"), (writer, "control")).unwrap();
/// root.link((writer, "outbox"), (root.id(), "inbox")).unwrap();
/// root.send((path.clone(), b"all of it".to_vec()), "outbox").unwrap();
/// root.send(ProducerFinished::default(), "signal").unwrap();
/// assert!(sched.run().is_clean());
///
/// assert_eq!(root.recv_as::<String>("inbox").unwrap(), path);
/// assert_eq!(std::fs::read(&path).unwrap(), b"all of it");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WholeFileWriter;

impl WholeFileWriter {
    /// A writer.
    pub fn new() -> WholeFileWriter {
        WholeFileWriter
    }
}

const WHOLE_INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "file creation jobs"),
    BoxSpec::new("control", "Shutdown signalling"),
];

const WHOLE_OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "filename written"),
    BoxSpec::new("signal", "Shutdown signalling"),
    BoxSpec::new(
        "error",
        "A FileError for each file that could not be written",
    ),
];

/// One file to write: where, what, and the path as it came, to send on.
struct Job {
    path: PathBuf,
    data: Vec<u8>,
    reply: Message,
}

/// Splits a `(path, contents)` item, or gives it back.
fn job_of(m: Message) -> Result<Job, Message> {
    macro_rules! try_pairs {
        ($m:ident; $(($p:ty, $d:ty)),*) => {
            $(
                let $m = match $m.downcast::<($p, $d)>() {
                    Ok((p, d)) => {
                        let path = AsRef::<Path>::as_ref(&p).to_path_buf();
                        let data: Vec<u8> = d.into();
                        return Ok(Job { path, data, reply: Message::new(p) });
                    }
                    Err(e) => e.into_message(),
                };
            )*
        };
    }
    try_pairs!(m;
        (String, Vec<u8>), (&'static str, Vec<u8>), (PathBuf, Vec<u8>),
        (String, String), (&'static str, String), (PathBuf, String),
        (String, &'static str), (&'static str, &'static str), (PathBuf, &'static str)
    );
    Err(m)
}

const JOB_TYPES: &str = "a (path, contents) pair: path String, &'static str or PathBuf; \
                         contents Vec<u8>, String or &'static str";

/// The thread body of a [`WholeFileWriter`].
struct WholeBody(WholeFileWriter);

impl WholeBody {
    fn run(self, ctx: &ThreadCtx) -> ComponentResult {
        thread_loop(ctx, |ctx, item| {
            let job = match job_of(item) {
                Ok(job) => job,
                Err(item) => return report(ctx, FileError::wrong_item("", JOB_TYPES, &item)),
            };
            match std::fs::write(&job.path, &job.data) {
                Ok(()) => Ok(ctx.send_waiting(job.reply, "outbox")?),
                Err(e) => report(ctx, FileError::new(job.path, e)),
            }
        })
    }
}

threaded_component!(WholeFileWriter, WholeBody, WHOLE_INBOXES, WHOLE_OUTBOXES);
