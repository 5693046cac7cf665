//! Kamaelia's `TorrentMaker.py` `__main__` (spec e14): type the path of a file (or, here, a
//! folder) and its .torrent is written to `mytorrent.torrent`.
//!
//! ```python
//! Pipeline(
//!     ConsoleReader(">>> ", ""),
//!     TorrentMaker("http://example.com:12345/"),
//!     SimpleFileWriter("mytorrent.torrent"),
//! ).run()
//! ```
//!
//! ```text
//! cargo run --example torrent_maker
//! >>> Cargo.toml
//! ```
//!
//! # Differences from the Python
//!
//! - The tracker URL is only written into the .torrent; nothing contacts it.
//! - `SimpleFileWriter` appends every item to one file, as in Kamaelia: type one path per run,
//!   or the file holds several .torrents one after the other.
//! - The end of the input ends the program cleanly (Kamaelia's TorrentMaker could not even
//!   read its control box: spec (f) 5).

use kamaelia::axon::util::{ConsoleReader, SimpleFileWriter};
use kamaelia::axon::{pipeline, Scheduler};
use kamaelia::torrent::maker::TorrentMaker;

fn main() {
    let sched = Scheduler::new();
    sched.spawn(pipeline![
        ConsoleReader::new().prompt(">>> ").eol(""),
        kamaelia::axon::Threaded::new(TorrentMaker::new("http://example.com:12345/")),
        SimpleFileWriter::new("mytorrent.torrent"),
    ]);
    let report = sched.run();
    for f in &report.failures {
        eprintln!("{} failed: {}", f.component, f.error);
    }
}
