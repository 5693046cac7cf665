//! Kamaelia's `TorrentPatron.py` `__main__` (spec e12): type the path of a .torrent and it is
//! downloaded, through a TorrentPatron (and so the shared TorrentService and its
//! TorrentClient), with the client's news explained on the console.
//!
//! ```python
//! Pipeline(
//!     ConsoleReader(">>> ", ""),
//!     TriggeredFileReader(),
//!     TorrentPatron(),
//!     BasicTorrentExplainer(),
//!     ConsoleEchoer(),
//! ).run()
//! ```
//!
//! ```text
//! cargo run --example torrent_patron -- [--listen 0.0.0.0:6881] [--output .]
//! >>> ubuntu.torrent
//! New torrent 1 created in .
//! Torrent 1 status : 0%
//! ...
//! Torrent 1 status : 100%
//! ```
//!
//! # Differences from the Python
//!
//! - `--listen` and `--output` choose the port and the folder (Kamaelia always used port
//!   6881 and `./<name>`).
//! - The end of the input (Ctrl-D) ends the program cleanly: `ProducerFinished` goes down the
//!   Pipeline, and the patron, told to finish, leaves the service, which stops the client and
//!   its downloads. Kamaelia's ConsoleReader died of `EOFError` instead, and its patron ignored
//!   `producerFinished` (spec (f) 5). To let a download finish, keep the input open.

#[path = "shared/torrent_args.rs"]
mod torrent_args;

use kamaelia::axon::util::{ConsoleEchoer, ConsoleReader, TriggeredFileReader};
use kamaelia::axon::{pipeline, Scheduler};
use kamaelia::torrent::engine::client::TorrentClient;
use kamaelia::torrent::explainer::basic_torrent_explainer;
use kamaelia::torrent::patron::TorrentPatron;

fn main() {
    let config = torrent_args::client_config();
    let sched = Scheduler::new();
    sched.spawn(pipeline![
        ConsoleReader::new().prompt(">>> ").eol(""),
        TriggeredFileReader::new(),
        TorrentPatron::new(TorrentClient::factory(config)),
        basic_torrent_explainer(),
        ConsoleEchoer::new(),
    ]);
    let report = sched.run();
    for f in &report.failures {
        eprintln!("{} failed: {}", f.component, f.error);
    }
}
