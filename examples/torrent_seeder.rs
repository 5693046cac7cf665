//! Kamaelia's `Examples/_TorrentBasedStreaming_GSOC/TorrentSeeder/torrentseeder.py` (spec
//! e15): type the name of a file in the current folder; its .torrent is made, written next to
//! it as `<name>.torrent`, and the file is seeded through a TorrentPatron.
//!
//! ```text
//!  FILENAMEREADER ──> FILENAMESPLITTER ──toNamer──> TORRENTNAMER (name + ".torrent") ──> LISTIFIER "a"
//!                                      └─toTorrentMaker─> TORRENTMAKER ──> METASPLITTER
//!  METASPLITTER ──toTorrentPatron──> TORRENTPATRON ──> EXPLAINER ──> ECHOER
//!               └─toMetaFileWriter─> LISTIFIER "b";  LISTIFIER ──(name, bytes)──> METAWRITER
//! ```
//!
//! ```text
//! cargo run --example torrent_seeder -- [--tracker http://127.0.0.1:6969/announce] [--listen 0.0.0.0:6881]
//! >>> film.mkv
//! New torrent 1 created in .
//! Torrent 1 status : 100%
//! ```
//!
//! Run it in the folder that holds the file (the .torrent names the file only, and the client
//! looks for it in its save folder, `--output`, by default the current one), with a tracker
//! running (`kamaelia-torrent tracker`). It seeds until Ctrl-C.
//!
//! # Differences from the Python
//!
//! - `TwoSourceListifier` is written here (a small component: one item from `a` and one from
//!   `b` make a `(a, b)` pair, which is what our `WholeFileWriter` takes). A file that cannot
//!   be made into a torrent (a name that does not exist, say) is reported on the console, and
//!   its name is dropped so that later names and torrents stay in step (in the Python, the
//!   TorrentMaker's failure broke it for good: spec (f) 5).
//! - `--tracker`, `--listen`, `--output` choose the tracker, the port and the folder.
//! - The end of the input ends only the reader, as in the Python (where it raised
//!   `EOFError`): seeding goes on until Ctrl-C.

#[path = "shared/torrent_args.rs"]
mod torrent_args;

use std::borrow::Cow;
use std::collections::VecDeque;

use kamaelia::axon::ipc::stop_kind;
use kamaelia::axon::util::{
    ConsoleEchoer, ConsoleReader, Fanout, PureTransformer, WholeFileWriter,
};
use kamaelia::axon::{graphline, BoxSpec, Component, ComponentResult, Ctx, Scheduler, Threaded};
use kamaelia::torrent::engine::client::TorrentClient;
use kamaelia::torrent::explainer::basic_torrent_explainer;
use kamaelia::torrent::maker::{MakeTorrentError, TorrentMaker};
use kamaelia::torrent::patron::TorrentPatron;

/// Pairs the n-th item of `a` with the n-th item of `b` and sends `(a, b)`. A
/// `MakeTorrentError` on `failed` means the oldest unpaired `a` will get no `b`: it is dropped
/// (so that later names and torrents stay in step) and the error goes out of `errors`.
struct TwoSourceListifier;

const LISTIFIER_IN: &[BoxSpec] = &[
    BoxSpec::new("a", "First items (String)"),
    BoxSpec::new("b", "Second items (Vec<u8>)"),
    BoxSpec::new("failed", "MakeTorrentError: the next `a` has no `b`"),
    BoxSpec::new("control", "Shutdown signalling"),
];
const LISTIFIER_OUT: &[BoxSpec] = &[
    BoxSpec::new("outbox", "(a, b) pairs"),
    BoxSpec::new("errors", "Why a torrent was not made, as a line of text"),
    BoxSpec::new("signal", "Shutdown signalling"),
];

impl Component for TwoSourceListifier {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        LISTIFIER_IN.into()
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        LISTIFIER_OUT.into()
    }
    async fn main(self, ctx: Ctx) -> ComponentResult {
        let mut a: VecDeque<String> = VecDeque::new();
        let mut b: VecDeque<Vec<u8>> = VecDeque::new();
        // Names of failed torrents that came before the name itself. A failure is matched by
        // its name, not its place: it comes straight from the maker, while a torrent made
        // before it passes one more component and may arrive after it.
        let mut failed_names: Vec<String> = Vec::new();
        loop {
            while let Ok(m) = ctx.recv("failed") {
                let e: MakeTorrentError = m.downcast()?;
                ctx.send(format!("{e}\n"), "errors")?;
                let name = format!("{}.torrent", e.src_file.display());
                match a.iter().position(|n| *n == name) {
                    Some(i) => drop(a.remove(i)),
                    None => failed_names.push(name),
                }
            }
            while let Ok(m) = ctx.recv("a") {
                let name: String = m.downcast()?;
                match failed_names.iter().position(|n| *n == name) {
                    Some(i) => drop(failed_names.swap_remove(i)),
                    None => a.push_back(name),
                }
            }
            while let Ok(m) = ctx.recv("b") {
                b.push_back(m.downcast()?);
            }
            while !a.is_empty() && !b.is_empty() {
                let pair = (
                    a.pop_front().expect("checked"),
                    b.pop_front().expect("checked"),
                );
                ctx.send(pair, "outbox")?;
            }
            if let Ok(m) = ctx.recv("control") {
                if stop_kind(&m).is_some() {
                    ctx.send(m, "signal")?;
                    return Ok(());
                }
            }
            ctx.pause();
            ctx.yield_now().await;
        }
    }
}

fn main() {
    let tracker = torrent_args::option("--tracker")
        .unwrap_or_else(|| "http://127.0.0.1:6969/announce".to_string());
    let mut config = torrent_args::client_config();
    // A seeder serves its files as they are (as the `seed` command does).
    config.finish_files = false;
    let graph = graphline! {
        FILENAMEREADER = ConsoleReader::new().prompt(">>> ").eol(""),
        FILENAMESPLITTER = Fanout::new(["toNamer", "toTorrentMaker"]),
        TORRENTNAMER = PureTransformer::new(|name: String| Some(format!("{name}.torrent"))),
        TORRENTMAKER = Threaded::new(TorrentMaker::new(&tracker)),
        METASPLITTER = Fanout::new(["toTorrentPatron", "toMetaFileWriter"]),
        TORRENTPATRON = TorrentPatron::new(TorrentClient::factory(config)),
        LISTIFIER = TwoSourceListifier,
        METAWRITER = WholeFileWriter::new(),
        EXPLAINER = basic_torrent_explainer(),
        ECHOER = ConsoleEchoer::new(),
        linkages = {
            ("FILENAMEREADER", "outbox") : ("FILENAMESPLITTER", "inbox"),
            ("FILENAMESPLITTER", "toNamer") : ("TORRENTNAMER", "inbox"),
            ("FILENAMESPLITTER", "toTorrentMaker") : ("TORRENTMAKER", "inbox"),
            ("TORRENTNAMER", "outbox") : ("LISTIFIER", "a"),
            ("TORRENTMAKER", "outbox") : ("METASPLITTER", "inbox"),
            ("METASPLITTER", "toTorrentPatron") : ("TORRENTPATRON", "inbox"),
            ("METASPLITTER", "toMetaFileWriter") : ("LISTIFIER", "b"),
            ("LISTIFIER", "outbox") : ("METAWRITER", "inbox"),
            ("TORRENTMAKER", "error") : ("LISTIFIER", "failed"),
            ("LISTIFIER", "errors") : ("ECHOER", "inbox"),
            ("TORRENTPATRON", "outbox") : ("EXPLAINER", "inbox"),
            ("EXPLAINER", "outbox") : ("ECHOER", "inbox"),
        }
    };
    let graph = match graph {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let sched = Scheduler::new();
    sched.spawn(graph);
    let report = sched.run();
    for f in &report.failures {
        eprintln!("{} failed: {}", f.component, f.error);
    }
}
