//! The flags every aria2c we run gets, shared by the interop tests and `examples/swarm_bench.rs`
//! (which includes this file by path), so that the network rules live in one place.

/// The flags every aria2c gets: loopback only, no DHT/LPD/PEX, plain handshakes accepted,
/// short plain output (see the module's notes).
#[allow(dead_code)]
pub const ARIA2C_FLAGS: &[&str] = &[
    "--no-conf",
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--disable-ipv6=true",
    "--interface=127.0.0.1",
    "--bt-external-ip=127.0.0.1",
    "--async-dns=false",
    "--bt-require-crypto=false",
    "--bt-min-crypto-level=plain",
    "--file-allocation=none",
    "--allow-overwrite=true",
    "--auto-save-interval=0",
    "--summary-interval=0",
    "--console-log-level=notice",
    "--enable-color=false",
    "--show-console-readout=false",
    "--bt-tracker-connect-timeout=10",
    "--bt-tracker-timeout=10",
];
