//! .torrent parsing against hostile files (the corpus in tests/corpus/hostile, written by
//! scripts/make-hostile-torrents.py) and against every truncation and many corruptions of a
//! good file: always a typed error, never a panic, a hang or a huge allocation.

use std::path::Path;

use kamaelia_torrent::metainfo::{Metainfo, MetainfoError, TorrentBuilder};

/// What each hostile file must be refused as.
fn expected(name: &str) -> fn(&MetainfoError) -> bool {
    fn bencode(e: &MetainfoError) -> bool {
        matches!(e, MetainfoError::Bencode(_))
    }
    fn missing(e: &MetainfoError) -> bool {
        matches!(e, MetainfoError::Missing(_))
    }
    fn wrong_type(e: &MetainfoError) -> bool {
        matches!(e, MetainfoError::WrongType { .. })
    }
    fn invalid(e: &MetainfoError) -> bool {
        matches!(e, MetainfoError::Invalid { .. })
    }
    fn unsafe_path(e: &MetainfoError) -> bool {
        matches!(e, MetainfoError::UnsafePath { .. })
    }
    match name {
        "empty"
        | "truncated"
        | "top_not_dict"
        | "trailing_garbage"
        | "unsorted_keys"
        | "duplicate_key"
        | "leading_zero"
        | "integer_too_big"
        | "string_longer_than_file"
        | "nesting_bomb" => bencode,
        "missing_info" | "missing_pieces" | "neither_length_nor_files" => missing,
        "info_not_dict" | "name_not_string" | "files_not_list" => wrong_type,
        "pieces_not_multiple_of_20"
        | "pieces_count_mismatch"
        | "zero_piece_length"
        | "absurd_piece_length"
        | "negative_length"
        | "both_length_and_files"
        | "overflowing_lengths"
        | "files_empty" => invalid,
        "name_dotdot"
        | "name_with_slash"
        | "name_absolute"
        | "name_with_nul"
        | "name_drive_prefix"
        | "name_empty"
        | "path_dotdot"
        | "path_dot"
        | "path_empty_component"
        | "path_absolute_component"
        | "path_backslash"
        | "path_drive_prefix"
        | "path_empty_list"
        | "path_twice"
        | "path_inside_file" => unsafe_path,
        other => panic!("corpus file {other} has no expected error: add it to the table"),
    }
}

// new: issue 4 (hostile files get a typed error with a clear message)
#[test]
fn every_hostile_file_is_refused_with_the_right_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder") {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let err = Metainfo::from_bytes(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{name}.torrent was accepted"));
        assert!(
            expected(&name)(&err),
            "{name}.torrent: unexpected error {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.len() > 10 && !text.contains('\n'),
            "{name}: message {text:?}"
        );
        seen += 1;
    }
    assert!(seen >= 39, "only {seen} corpus files");
}

fn good() -> Vec<u8> {
    TorrentBuilder::new("dir", 16)
        .tracker("http://127.0.0.1:6969/announce")
        .comment("a comment")
        .multi_file(&[(&["a.txt"], &[7u8; 40]), (&["sub", "b.bin"], &[9u8; 25])])
        .to_bytes()
}

// new: issue 4 (truncated bencode is an error, never a panic)
#[test]
fn every_truncation_of_a_good_file_is_an_error() {
    let bytes = good();
    assert!(Metainfo::from_bytes(&bytes).is_ok());
    for len in 0..bytes.len() {
        assert!(
            Metainfo::from_bytes(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
}

// new: issue 4 (corrupt input never panics; whatever is accepted is self-consistent)
#[test]
fn corrupting_any_byte_never_panics() {
    let bytes = good();
    for i in 0..bytes.len() {
        for replacement in [b'0', b'9', b'e', b'i', b'l', b'd', b':', b'-', 0xff] {
            let mut b = bytes.clone();
            b[i] = replacement;
            if let Ok(m) = Metainfo::from_bytes(&b) {
                let expected_pieces = m.info.total_length().div_ceil(m.info.piece_length);
                assert_eq!(m.info.piece_count() as u64, expected_pieces);
                for f in &m.info.files {
                    assert!(f
                        .path
                        .iter()
                        .all(|c| !c.is_empty() && c != ".." && c != "."));
                }
            }
        }
    }
}

// new: issue 4 (the info-hash is the SHA-1 of the info dictionary's raw bytes)
#[test]
fn info_hash_is_over_the_raw_info_even_with_unknown_keys() {
    // An info dictionary with a key we do not know ("x-extra") must hash as written.
    let info =
        b"d6:lengthi3e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:x-extra3:yese";
    let mut file = b"d4:info".to_vec();
    file.extend_from_slice(info);
    file.push(b'e');
    // The pieces hash is not checked against data here, only its count.
    let m = Metainfo::from_bytes(&file).unwrap();
    use sha1::{Digest, Sha1};
    assert_eq!(m.info_hash.0, <[u8; 20]>::from(Sha1::digest(&info[..])));
    assert_eq!(m.raw_info(), &info[..]);
    assert_eq!(m.to_bytes(), file);
}
