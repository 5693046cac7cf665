//! Metainfo checked against real tools from Debian (issue 4): mktorrent makes torrents we
//! read, transmission-show and aria2c read torrents we make, and everyone agrees on the
//! info-hash and the file list.
//!
//! Under CI=true a missing tool fails the test; elsewhere the test is skipped with a reason.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use kamaelia_torrent::ipc::TIPCMakeTorrent;
use kamaelia_torrent::maker::TorrentMaker;
use kamaelia_torrent::metainfo::Metainfo;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The info-hash transmission-show prints ("  Hash: <hex>").
fn transmission_hash(torrent: &Path) -> String {
    let out = run("transmission-show", &[torrent.to_str().unwrap()]);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no hash in transmission-show output:\n{out}"))
        .to_string()
}

/// The file paths transmission-show lists, without the leading folder name.
fn transmission_files(torrent: &Path, multi: bool) -> Vec<String> {
    let out = run("transmission-show", &[torrent.to_str().unwrap()]);
    let files = out.split("FILES").nth(1).expect("a FILES section");
    let mut v: Vec<String> = files
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit_once(" (").map(|(p, _)| p).unwrap_or(l).to_string())
        .map(|p| {
            if multi {
                p.split_once('/')
                    .map(|(_, rest)| rest.to_string())
                    .unwrap_or(p)
            } else {
                p
            }
        })
        .collect();
    v.sort();
    v
}

/// The info-hash and file paths `aria2c --show-files` prints.
fn aria2_hash_and_files(torrent: &Path) -> (String, Vec<String>) {
    let out = run("aria2c", &["--show-files", torrent.to_str().unwrap()]);
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("Info Hash: "))
        .unwrap_or_else(|| panic!("no info hash in aria2c output:\n{out}"))
        .to_string();
    let mut files: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_once('|'))
        .filter(|(idx, _)| idx.trim().parse::<u32>().is_ok())
        .map(|(_, p)| p.trim_start_matches("./").to_string())
        .collect();
    files.sort();
    (hash, files)
}

fn sample_folder(d: &Path) -> PathBuf {
    let root = d.join("Sample Folder");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(root.join("big.bin"), big).unwrap();
    std::fs::write(root.join("sub").join("note.txt"), b"a small file\n").unwrap();
    std::fs::write(root.join("empty.txt"), b"").unwrap();
    root
}

// new: issue 4 (torrents made by mktorrent parse with the info-hash transmission-show prints)
#[test]
fn mktorrent_torrents_parse_with_the_hash_transmission_shows() {
    if !have("mktorrent") || !have("transmission-show") {
        return;
    }
    let d = temp_dir("tools-mktorrent");
    let folder = sample_folder(&d);
    for (src, out, piece) in [
        (folder.clone(), d.join("folder.torrent"), "15"),
        (folder.join("big.bin"), d.join("single.torrent"), "18"),
    ] {
        run(
            "mktorrent",
            &[
                "-a",
                "http://127.0.0.1:6969/announce",
                "-l",
                piece,
                "-c",
                "made by mktorrent",
                "-o",
                out.to_str().unwrap(),
                src.to_str().unwrap(),
            ],
        );
        let m = Metainfo::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(
            m.info_hash.to_hex(),
            transmission_hash(&out),
            "{}",
            out.display()
        );
        assert_eq!(m.comment.as_deref(), Some("made by mktorrent"));
        let mut ours: Vec<String> = m.info.files.iter().map(|f| f.path.join("/")).collect();
        ours.sort();
        assert_eq!(ours, transmission_files(&out, m.info.multi_file));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

// new: issue 4 (torrents we make are accepted by transmission-show and aria2c with the same
// info-hash and file list; the same data gives mktorrent's info-hash too)
#[test]
fn our_torrents_are_read_alike_by_transmission_aria2_and_match_mktorrent() {
    if !have("transmission-show") || !have("aria2c") || !have("mktorrent") {
        return;
    }
    let d = temp_dir("tools-ours");
    let folder = sample_folder(&d);
    let maker = TorrentMaker::new("http://127.0.0.1:6969/announce");
    for src in [folder.clone(), folder.join("big.bin")] {
        let req = TIPCMakeTorrent {
            log2_piece_size_bytes: 15,
            comment: String::new(),
            ..maker.request_for(src.clone())
        };
        let bytes = maker.make(&req).unwrap();
        let ours = d.join("ours.torrent");
        std::fs::write(&ours, &bytes).unwrap();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        let hex = m.info_hash.to_hex();
        assert_eq!(hex, transmission_hash(&ours));
        let (aria_hash, aria_files) = aria2_hash_and_files(&ours);
        assert_eq!(hex, aria_hash);
        let mut names: Vec<String> = m
            .info
            .files
            .iter()
            .map(|f| {
                if m.info.multi_file {
                    format!("{}/{}", m.info.name, f.path.join("/"))
                } else {
                    f.path.join("/")
                }
            })
            .collect();
        names.sort();
        assert_eq!(names, aria_files);
        // mktorrent, given the same data and piece size, makes the same info dictionary
        // (it leaves empty files out of folders; so does not our check of equal hashes if
        // there is an empty file, so compare only for the single file).
        if !m.info.multi_file {
            let theirs = d.join("theirs.torrent");
            run(
                "mktorrent",
                &[
                    "-l",
                    "15",
                    "-o",
                    theirs.to_str().unwrap(),
                    src.to_str().unwrap(),
                ],
            );
            assert_eq!(hex, transmission_hash(&theirs));
        }
        std::fs::remove_file(&ours).unwrap();
    }
    std::fs::remove_dir_all(&d).unwrap();
}
