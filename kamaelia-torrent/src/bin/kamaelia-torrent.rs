//! The `kamaelia-torrent` command: make and inspect .torrent files, run a tracker.
//!
//! ```text
//! kamaelia-torrent make <PATH> --tracker <URL> [--piece-size <BYTES>] [--output <FILE>] [--comment <TEXT>] [--private]
//! kamaelia-torrent info <FILE>
//! kamaelia-torrent tracker [--listen <ADDR:PORT>]
//! ```
//! Errors end the program with a non-zero status and one line on stderr.

use std::path::PathBuf;
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
    /// Make a .torrent of a file or a folder and print its info-hash.
    Make {
        /// The file or folder.
        path: PathBuf,
        /// The tracker's announce URL.
        #[arg(long)]
        tracker: String,
        /// Bytes per piece: a power of two from 1024 to 268435456 (default 262144).
        #[arg(long, default_value_t = 1 << 18)]
        piece_size: u64,
        /// Where to write the .torrent (default: the path's name plus ".torrent").
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The comment to put in it.
        #[arg(long)]
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
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:6969")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
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
    let maker = TorrentMaker::new(tracker);
    let mut req = maker.request_for(path.clone());
    req.log2_piece_size_bytes = piece_size.trailing_zeros() as u8;
    req.comment = comment.unwrap_or_default();
    let bytes = maker.make_with(&req, private)?;
    let m = Metainfo::from_bytes(&bytes)?;
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{}.torrent", m.info.name)));
    std::fs::write(&output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!("{}", m.info_hash);
    Ok(())
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

fn info(file: &PathBuf) -> CliResult {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    // Refuse a huge file before reading it: no .torrent is larger than a bencoded document
    // may be.
    let size = std::fs::metadata(file).map_err(cannot)?.len();
    if size > kamaelia_torrent::bencode::MAX_DOCUMENT as u64 {
        return Err(format!(
            "{}: {size} bytes is too large for a torrent file (at most {})",
            file.display(),
            kamaelia_torrent::bencode::MAX_DOCUMENT
        )
        .into());
    }
    let bytes = std::fs::read(file).map_err(cannot)?;
    let m = Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    println!("name: {}", m.info.name);
    println!("info-hash: {}", m.info_hash);
    println!("total size: {}", human(m.info.total_length()));
    println!("piece length: {}", human(m.info.piece_length));
    println!("pieces: {}", m.info.piece_count());
    println!("private: {}", if m.info.private { "yes" } else { "no" });
    if let Some(c) = &m.comment {
        println!("comment: {c}");
    }
    if let Some(c) = &m.created_by {
        println!("created by: {c}");
    }
    println!("files: {}", m.info.files.len());
    for f in &m.info.files {
        println!("  {} ({} bytes)", f.path.join("/"), f.length);
    }
    println!("trackers:");
    for (i, tier) in m.trackers().iter().enumerate() {
        for url in tier {
            println!("  tier {}: {url}", i + 1);
        }
    }
    Ok(())
}

fn tracker(listen: std::net::SocketAddr) -> CliResult {
    use kamaelia_torrent::tracker::server::Tracker;
    let sched = axon::Scheduler::new();
    let (server, addr) = Tracker::new()
        .server(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    sched.spawn(server);
    let stop = sched.stop_handle();
    ctrlc::set_handler(move || stop.stop()).map_err(|e| format!("cannot catch signals: {e}"))?;
    println!("tracker listening on http://{addr}/announce (Ctrl-C to stop)");
    let report = sched.run();
    if !report.failures.is_empty() {
        return Err(format!("the tracker failed: {}", report.failures[0].error).into());
    }
    Ok(())
}
