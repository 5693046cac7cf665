//! Hashing speed: TorrentMaker on a large file, beside `openssl speed -evp sha1` (one core)
//! and `mktorrent` on the same file, in the same run.
//!
//! ```text
//! cargo run --release --example hash_bench            # 1 GiB
//! cargo run --release --example hash_bench -- 256     # MiB
//! ```
//! Prints one line per contender and then
//! `hash-bench mib=<m> ours_gib_per_s=<x> threads=<t> per_core_vs_openssl=<r> vs_mktorrent=<r>`.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use kamaelia::torrent::maker::TorrentMaker;
use kamaelia::torrent::metainfo::Metainfo;

fn make_file(path: &Path, mib: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create data file"));
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).expect("write data file");
    }
    f.flush().expect("flush data file");
}

/// OpenSSL's single-core SHA-1 rate in bytes per second, on 256 KiB blocks.
fn openssl_rate() -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-evp", "sha1", "-bytes", "262144", "-seconds", "3"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with("sha1"))?;
    let k = line.split_whitespace().last()?.trim_end_matches('k');
    Some(k.parse::<f64>().ok()? * 1000.0)
}

fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let dir = std::env::temp_dir().join(format!("hash-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.bin");
    make_file(&data, mib);
    let bytes = (mib << 20) as f64;
    let gib = |secs: f64| bytes / secs / (1u64 << 30) as f64;

    // Warm the page cache so that every contender reads from memory.
    let _ = std::fs::read(&data).map(|v| v.len());

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let maker = TorrentMaker::new("http://127.0.0.1:6969/announce").with_threads(threads);
    let req = maker.request_for(data.clone());
    let t = Instant::now();
    let torrent = maker.make(&req).expect("make torrent");
    let ours = t.elapsed().as_secs_f64();
    let m = Metainfo::from_bytes(&torrent).unwrap();
    println!(
        "ours: {:.3} s, {:.2} GiB/s on {threads} threads ({} pieces, info-hash {})",
        ours,
        gib(ours),
        m.info.piece_count(),
        m.info_hash
    );

    let mk_out = dir.join("mk.torrent");
    let t = Instant::now();
    let mk = Command::new("mktorrent")
        .args(["-l", "18", "-o"])
        .arg(&mk_out)
        .arg(&data)
        .output();
    let mk_secs = t.elapsed().as_secs_f64();
    let mk_ok = mk.as_ref().map(|o| o.status.success()).unwrap_or(false);
    if mk_ok {
        println!("mktorrent: {:.3} s, {:.2} GiB/s", mk_secs, gib(mk_secs));
    } else {
        println!("mktorrent: not available");
    }

    let ssl = openssl_rate();
    match ssl {
        Some(r) => println!(
            "openssl speed -evp sha1 (one core): {:.2} GiB/s",
            r / (1u64 << 30) as f64
        ),
        None => println!("openssl: not available"),
    }

    let per_core = ssl.map(|r| (bytes / ours) / threads as f64 / r);
    println!(
        "hash-bench mib={mib} ours_gib_per_s={:.2} threads={threads} per_core_vs_openssl={} vs_mktorrent={}",
        gib(ours),
        per_core.map(|r| format!("{r:.2}")).unwrap_or_else(|| "n/a".into()),
        if mk_ok { format!("{:.2}", mk_secs / ours) } else { "n/a".into() }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
