//! The `kamaelia-torrent` command: make and inspect .torrent files, run a tracker.
//!
//! ```text
//! kamaelia-torrent make <PATH> --tracker <URL> [--piece-size <BYTES>] [--output <FILE>] [--comment <TEXT>] [--private]
//! kamaelia-torrent info <FILE>
//! kamaelia-torrent tracker [--listen <ADDR:PORT>]
//! kamaelia-torrent download <FILE> [--output <DIR>] [--listen <ADDR:PORT>] [--seed] [--peer <ADDR:PORT>]...
//! kamaelia-torrent seed <FILE> --data <DIR> [--listen <ADDR:PORT>] [--peer <ADDR:PORT>]...
//! kamaelia-torrent demo [--peers <N>] [--size <MiB>] [--keep] [--dot <FILE>]
//! ```
//! Errors end the program with a non-zero status and one line on stderr. The first Ctrl-C
//! (or SIGTERM) stops `download`, `seed` and `tracker` cleanly (telling the trackers, within a
//! few seconds); a second one exits at once, with status 130.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use kamaelia_torrent::axon;
use kamaelia_torrent::maker::TorrentMaker;
use kamaelia_torrent::metainfo::Metainfo;

#[derive(Parser)]
#[command(
    name = "kamaelia-torrent",
    version,
    about = "BitTorrent built from Kamaelia components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a .torrent of a file or a folder; print where it is written and its info-hash.
    Make {
        /// The file or folder.
        path: PathBuf,
        /// The tracker's announce URL (http://, https:// or udp://).
        #[arg(long, value_name = "URL")]
        tracker: String,
        /// Bytes per piece: a power of two from 1024 to 268435456.
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 18)]
        piece_size: u64,
        /// Where to write the .torrent (default: <NAME>.torrent in the current folder, NAME
        /// being the file's or folder's name).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The comment to put in it.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        /// Mark it private (BEP 27: peers from the tracker only).
        #[arg(long)]
        private: bool,
    },
    /// Show what a .torrent holds.
    Info {
        /// The .torrent file.
        file: PathBuf,
    },
    /// Run a tracker until Ctrl-C or SIGTERM.
    Tracker {
        /// The address to listen on (0.0.0.0 for all of this machine's addresses).
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6969")]
        listen: SocketAddr,
    },
    /// Download a torrent; exit once every piece is on disk and verified.
    Download {
        /// The .torrent file.
        file: PathBuf,
        /// The folder to save into.
        #[arg(long, short, value_name = "DIR", default_value = ".")]
        output: PathBuf,
        /// Where to accept peers (default: the first free port of 0.0.0.0:6881 to 6889).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// Keep seeding once complete, until Ctrl-C or SIGTERM.
        #[arg(long)]
        seed: bool,
        /// A peer to connect to, besides those the trackers give (repeatable).
        #[arg(long = "peer", value_name = "ADDR:PORT")]
        peers: Vec<SocketAddr>,
    },
    /// A whole swarm on 127.0.0.1: our tracker, one seeder and N downloaders, with live
    /// progress and a final check that every copy matches.
    Demo {
        /// How many downloaders, from 1 to 32.
        #[arg(long, value_name = "N", default_value_t = 3)]
        peers: usize,
        /// The payload's size in MiB, from 1 to 16384.
        #[arg(long, value_name = "MiB", default_value_t = 64)]
        size: u64,
        /// Keep the files afterwards (they are removed by default).
        #[arg(long)]
        keep: bool,
        /// Write the graph of the first downloader's components, taken at its first status
        /// half-way or later (its end, for a fast download), to this file (Graphviz dot).
        #[arg(long, value_name = "FILE")]
        dot: Option<PathBuf>,
    },
    /// Check data already on disk, then serve it until Ctrl-C or SIGTERM.
    Seed {
        /// The .torrent file.
        file: PathBuf,
        /// The folder holding the data: the torrent's file, or the torrent's folder for a
        /// multi-file torrent, is inside it.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Where to accept peers (default: the first free port of 0.0.0.0:6881 to 6889).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// A peer to connect to, besides those the trackers give (repeatable).
        #[arg(long = "peer", value_name = "ADDR:PORT")]
        peers: Vec<SocketAddr>,
    },
}

fn main() -> ExitCode {
    // Before any thread starts: freed blocks are kept for reuse, not faulted in again.
    kamaelia_torrent::allocator::tune_for_streaming();
    ignore_file_size_signal();
    // Warnings (a tracker that cannot be reached, say) as plain lines, like the errors;
    // RUST_LOG=debug gives the engine's detail, with times and where each line comes from.
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    if std::env::var_os("RUST_LOG").is_none() {
        use std::io::{IsTerminal, Write};
        // On a terminal, a warning first clears the live status line it would be written
        // into (the status line is redrawn below it).
        let clear = if std::io::stderr().is_terminal() {
            "\r\x1b[K"
        } else {
            ""
        };
        logger.format(move |out, record| {
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(out, "{clear}kamaelia-torrent: {level}: {}", record.args())
        });
    } else {
        logger.format_timestamp_millis();
    }
    logger.init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Make {
            path,
            tracker,
            piece_size,
            output,
            comment,
            private,
        } => make(path, &tracker, piece_size, output, comment, private),
        Command::Info { file } => info(&file),
        Command::Tracker { listen } => tracker(listen),
        Command::Download {
            file,
            output,
            listen,
            seed,
            peers,
        } => transfer(&file, output, listen, peers, Mode::Download { seed }),
        Command::Seed {
            file,
            data,
            listen,
            peers,
        } => transfer(&file, data, listen, peers, Mode::Seed),
        Command::Demo {
            peers,
            size,
            keep,
            dot,
        } => demo::demo(peers, size, keep, dot),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kamaelia-torrent: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// A write past the file-size limit (`ulimit -f`) raises SIGXFSZ, which kills the program
/// without a word; ignored, the write fails with `EFBIG` ("File too large") instead, and the
/// error is reported like any other. (SIGPIPE is already ignored: Rust's runtime does that
/// before `main`, so a closed pipe is a write error too.)
fn ignore_file_size_signal() {
    #[cfg(target_os = "linux")]
    // SAFETY: sets a signal's disposition to "ignore", before any thread of ours starts; no
    // handler runs, so nothing can be unsafe in one.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Catches Ctrl-C and SIGTERM: the first calls `first`, to stop cleanly; a second, while
/// that stop takes its time (a tracker slow to hear `stopped`, say), exits at once with
/// status 130 and one line on stderr.
fn on_interrupt(first: impl Fn() + Send + 'static) -> Result<(), String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let again = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if again.swap(true, Ordering::SeqCst) {
            eprintln!("kamaelia-torrent: interrupted again: exiting without finishing the stop");
            std::process::exit(130);
        }
        first();
    })
    .map_err(|e| format!("cannot catch signals: {e}"))
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
fn print_all(text: &str) -> CliResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}").into())
        }
        _ => Ok(()),
    }
}

fn make(
    path: PathBuf,
    tracker: &str,
    piece_size: u64,
    output: Option<PathBuf>,
    comment: Option<String>,
    private: bool,
) -> CliResult {
    if !piece_size.is_power_of_two() || !(1 << 10..=1 << 28).contains(&piece_size) {
        return Err(format!(
            "--piece-size {piece_size} must be a power of two from 1024 to 268435456"
        )
        .into());
    }
    check_tracker_url(tracker)?;
    let maker = TorrentMaker::new(tracker);
    let mut req = maker.request_for(path.clone());
    if req.title.is_empty() {
        // `.`, `..`, `dir/..`: the name is the folder's real one.
        let real = std::fs::canonicalize(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        req.title = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                format!(
                    "{}: a folder with no name cannot be a torrent",
                    real.display()
                )
            })?;
    }
    req.log2_piece_size_bytes = piece_size.trailing_zeros() as u8;
    req.comment = comment.unwrap_or_default();
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{}.torrent", req.title)));
    let replaced = output.exists();
    // An earlier .torrent inside the folder would be hashed into the new one, which then
    // describes a file it replaces.
    if replaced && path.is_dir() {
        let inside = std::fs::canonicalize(&output)
            .ok()
            .zip(std::fs::canonicalize(&path).ok())
            .is_some_and(|(o, p)| o.starts_with(p));
        if inside {
            return Err(format!(
                "{} is inside {}, so the new torrent would hold it: remove it, or write \
                 elsewhere with --output",
                output.display(),
                path.display()
            )
            .into());
        }
    }
    let bytes = maker.make_with(&req, private)?;
    let m = Metainfo::from_bytes(&bytes)?;
    std::fs::write(&output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    print_all(&format!(
        "wrote {}{}\ninfo-hash: {}\n",
        output.display(),
        if replaced {
            " (replacing the file that was there)"
        } else {
            ""
        },
        m.info_hash
    ))
}

/// Refuses a tracker URL no client could announce to.
fn check_tracker_url(url: &str) -> Result<(), String> {
    use kamaelia_torrent::tracker::http::TrackerUrl;
    match TrackerUrl::parse(url) {
        Ok(u)
            if ["http", "https", "udp"].contains(&u.scheme.as_str())
                && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "--tracker \"{url}\" is not a tracker URL: give http://, https:// or \
             udp://HOST:PORT, e.g. http://127.0.0.1:6969/announce"
        )),
    }
}

fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.2} {} ({bytes} bytes)", units[u])
    }
}

/// Reads and checks a .torrent, refusing a huge file before reading it: no .torrent is
/// larger than a bencoded document may be. A device or a pipe reports no size, so the limit
/// also holds while reading.
fn read_torrent(file: &Path) -> Result<(Vec<u8>, Metainfo), String> {
    use std::io::Read;
    let max = kamaelia_torrent::bencode::MAX_DOCUMENT;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    let f = std::fs::File::open(file).map_err(cannot)?;
    let size = f.metadata().map_err(cannot)?.len();
    if size > max as u64 {
        return Err(format!(
            "{}: {size} bytes is too large for a torrent file (at most {max})",
            file.display(),
        ));
    }
    let mut bytes = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > max {
        return Err(format!(
            "{}: more than {max} bytes is too large for a torrent file",
            file.display()
        ));
    }
    let m = Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((bytes, m))
}

fn info(file: &Path) -> CliResult {
    let (_, m) = read_torrent(file)?;
    use std::fmt::Write as _;
    let mut text = String::new();
    macro_rules! out {
        ($($arg:tt)*) => {
            let _ = writeln!(text, $($arg)*);
        };
    }
    out!("name: {}", m.info.name);
    out!("info-hash: {}", m.info_hash);
    out!("total size: {}", human(m.info.total_length()));
    out!("piece length: {}", human(m.info.piece_length));
    out!("pieces: {}", m.info.piece_count());
    out!("private: {}", if m.info.private { "yes" } else { "no" });
    if let Some(c) = &m.comment {
        out!("comment: {c}");
    }
    if let Some(c) = &m.created_by {
        out!("created by: {c}");
    }
    out!("files: {}", m.info.files.len());
    for f in &m.info.files {
        out!("  {} ({} bytes)", f.path.join("/"), f.length);
    }
    out!("trackers:");
    for (i, tier) in m.trackers().iter().enumerate() {
        for url in tier {
            out!("  tier {}: {url}", i + 1);
        }
    }
    print_all(&text)
}

fn tracker(listen: SocketAddr) -> CliResult {
    use kamaelia_torrent::tracker::server::Tracker;
    let sched = axon::Scheduler::new();
    let (server, addr) = Tracker::new()
        .server(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    sched.spawn(server);
    let stop = sched.stop_handle();
    on_interrupt(move || stop.stop())?;
    if addr.ip().is_unspecified() {
        // No client can announce to 0.0.0.0: show the URL that works on this machine.
        let here = match addr {
            SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], addr.port())),
            SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        };
        println!(
            "tracker listening on all addresses, port {}: announce to http://{here}/announce \
             (from another machine, with this one's address) (Ctrl-C to stop)",
            addr.port(),
        );
    } else {
        println!("tracker listening on http://{addr}/announce (Ctrl-C to stop)");
    }
    let report = sched.run();
    if !report.failures.is_empty() {
        return Err(format!("the tracker failed: {}", report.failures[0].error).into());
    }
    Ok(())
}

/// The ports `download` and `seed` try, in order, when not given `--listen`.
const PEER_PORTS: std::ops::RangeInclusive<u16> = 6881..=6889;

/// The torrent client, listening where peers are to reach it: at `--listen` if given (failing
/// clearly if it is taken), else on the first free port of [`PEER_PORTS`] on all addresses,
/// said on standard output. The client keeps the socket it bound, so no other program can
/// take the port between the choice and the start.
fn listening_client(
    listen: Option<SocketAddr>,
    config: kamaelia_torrent::engine::client::ClientConfig,
) -> Result<kamaelia_torrent::engine::client::TorrentClient, String> {
    use kamaelia_torrent::engine::client::{ClientConfig, TorrentClient};
    let cannot = |addr: SocketAddr, e: std::io::Error| {
        format!("cannot listen for peers on {addr}: {e} (choose another with --listen)")
    };
    if let Some(addr) = listen {
        let config = ClientConfig {
            listen: addr,
            ..config
        };
        return TorrentClient::try_new(config).map_err(|e| cannot(addr, e));
    }
    let (first, last) = (*PEER_PORTS.start(), *PEER_PORTS.end());
    for port in PEER_PORTS {
        let addr = SocketAddr::from(([0, 0, 0, 0], port));
        let config = ClientConfig {
            listen: addr,
            ..config.clone()
        };
        match TorrentClient::try_new(config) {
            Ok(client) => {
                let skipped = match port - first {
                    0 => String::new(),
                    1 => format!(" ({first} is in use)"),
                    _ => format!(" ({first} to {} are in use)", port - 1),
                };
                println!("listening for peers on {addr}{skipped}");
                return Ok(client);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(cannot(addr, e)),
        }
    }
    Err(format!(
        "cannot listen for peers: ports {first} to {last} of 0.0.0.0 are all in use \
         (choose another with --listen)"
    ))
}

/// What `seed --data` must name, for `info`'s torrent.
fn data_hint(info: &kamaelia_torrent::metainfo::Info) -> String {
    if info.multi_file {
        format!(
            "--data is the folder that holds the torrent's folder {}/",
            info.name
        )
    } else {
        format!("--data is the folder that holds {}", info.name)
    }
}

/// The first file of `info` that is missing or too short under `folder`, said as the path
/// looked for (empty files are skipped: they hold no piece).
fn first_gap(folder: &Path, info: &kamaelia_torrent::metainfo::Info) -> Option<String> {
    let storage = kamaelia_torrent::storage::Storage::new(folder, info);
    let mut files = storage.files().filter(|&(_, length)| length > 0);
    files.find_map(|(path, length)| match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{} is missing", path.display()))
        }
        Err(e) => Some(format!("cannot read {}: {e}", path.display())),
        Ok(meta) if !meta.is_file() => Some(format!("{} is not a file", path.display())),
        Ok(meta) if meta.len() < length => Some(format!(
            "{} is {} bytes, the torrent expects {length}",
            path.display(),
            meta.len(),
        )),
        Ok(_) => None,
    })
}

/// What `download` and `seed` are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Download { seed: bool },
    Seed,
}

/// `download` and `seed`: a TorrentPatron (so a TorrentService and its TorrentClient) and a
/// progress display, as in Kamaelia:
///
/// ```text
///   main ──TIPCCreateNewTorrent──> TorrentPatron ──replies, status──> Progress
///                                        ^                               |
///                                        └─────────── control <── signal ┘
/// ```
fn transfer(
    file: &Path,
    folder: PathBuf,
    listen: Option<SocketAddr>,
    peers: Vec<SocketAddr>,
    mode: Mode,
) -> CliResult {
    use kamaelia_torrent::engine::client::ClientConfig;
    use kamaelia_torrent::ipc::TIPCCreateNewTorrent;
    use kamaelia_torrent::patron::TorrentPatron;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    let (raw, m) = read_torrent(file)?;
    let mut incomplete_note = String::new();
    if mode == Mode::Seed {
        match std::fs::metadata(&folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "--data {} is not a folder ({})",
                    folder.display(),
                    data_hint(&m.info)
                )
                .into())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("--data {}: no such folder", folder.display()).into())
            }
            Err(e) => return Err(format!("--data {}: {e}", folder.display()).into()),
        }
        incomplete_note = match first_gap(&folder, &m.info) {
            Some(gap) => format!("; {gap} ({})", data_hint(&m.info)),
            None => "; every file is there and long enough, but pieces of them differ".into(),
        };
    }
    let config = ClientConfig {
        save_folder: folder.clone(),
        peers,
        // `seed` serves the data as it finds it, and changes no file.
        finish_files: mode != Mode::Seed,
        ..ClientConfig::default()
    };
    let client = listening_client(listen, config)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    on_interrupt(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))?;
    let outcome = Arc::new(Mutex::new(None));
    let sched = axon::Scheduler::new();
    let root = sched.root();
    // The service's client is the one already listening.
    let patron = root.create(TorrentPatron::new(client.into_factory()));
    let progress = root.create(progress::Progress::new(
        m.info.name.clone(),
        m.info.total_length(),
        mode == Mode::Download { seed: false },
        mode == Mode::Seed,
        incomplete_note,
        interrupted,
        outcome.clone(),
    ));
    root.link((root.id(), "outbox"), (patron, "inbox"))?;
    root.link((patron, "outbox"), (progress, "inbox"))?;
    root.link((progress, "signal"), (patron, "control"))?;
    root.activate(patron)?;
    root.activate(progress)?;
    root.send(
        TIPCCreateNewTorrent {
            raw_metainfo: raw,
            save_folder: Some(folder),
        },
        "outbox",
    )?;
    let report = sched.run();
    if let Some(f) = report.failures.first() {
        return Err(format!("{} failed: {}", f.component, f.error).into());
    }
    let outcome = outcome.lock().unwrap_or_else(|e| e.into_inner()).take();
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.into()),
        None => Err("the torrent client ended without finishing".into()),
    }
}

mod demo;
mod progress;
