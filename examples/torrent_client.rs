//! Kamaelia's `TorrentClient.py` `__main__` (spec e13): the TorrentPatron example's Pipeline
//! with a TorrentClient in it directly. Kamaelia marked it "do not follow this example": a
//! program may hold only one client, which is why TorrentService and TorrentPatron exist. (Ours
//! allows several clients, each on its own port; the patrons are still the way to share one.)
//!
//! ```python
//! Pipeline(
//!     ConsoleReader(">>> ", ""),
//!     TriggeredFileReader(),
//!     TorrentClient(),
//!     BasicTorrentExplainer(),
//!     ConsoleEchoer(),
//! ).run()
//! ```
//!
//! ```text
//! cargo run --example torrent_client -- [--listen 0.0.0.0:6881] [--output .]
//! ```
//!
//! Differences from the Python are those of the `torrent_patron` example: `--listen` and
//! `--output`, and the end of the input ends the program cleanly (the client, told to finish,
//! closes its torrents), so keep the input open while a download runs.

#[path = "shared/torrent_args.rs"]
mod torrent_args;

use kamaelia::axon::util::{ConsoleEchoer, ConsoleReader, TriggeredFileReader};
use kamaelia::axon::{pipeline, Scheduler};
use kamaelia::torrent::engine::client::TorrentClient;
use kamaelia::torrent::explainer::basic_torrent_explainer;

fn main() {
    let config = torrent_args::client_config();
    let sched = Scheduler::new();
    sched.spawn(pipeline![
        ConsoleReader::new().prompt(">>> ").eol(""),
        TriggeredFileReader::new(),
        TorrentClient::new(config),
        basic_torrent_explainer(),
        ConsoleEchoer::new(),
    ]);
    let report = sched.run();
    for f in &report.failures {
        eprintln!("{} failed: {}", f.component, f.error);
    }
}
