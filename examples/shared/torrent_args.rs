//! The few options the torrent examples take, so that they can be run on a chosen address
//! and folder (the Python originals always used port 6881 and the current folder).

use std::net::SocketAddr;
use std::path::PathBuf;

use kamaelia::torrent::engine::client::ClientConfig;

/// The value after `--name` on the command line, if given.
pub fn option(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The client's configuration: `--listen ADDR:PORT` (default 0.0.0.0:6881) and `--output DIR`
/// (default: the current folder, as in Kamaelia).
pub fn client_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    if let Some(listen) = option("--listen") {
        config.listen = listen.parse::<SocketAddr>().unwrap_or_else(|e| {
            eprintln!("--listen {listen}: {e}");
            std::process::exit(2)
        });
    }
    if let Some(dir) = option("--output") {
        config.save_folder = PathBuf::from(dir);
    }
    config
}
