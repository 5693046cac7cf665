#!/usr/bin/env python3
"""Writes the corpus of hostile .torrent files used by kamaelia-torrent/tests/metainfo.rs.

Each file is named for what is wrong with it; the test maps each name to the error expected.
Run from the repository root: python3 scripts/make-hostile-torrents.py
"""
import hashlib
import os

OUT = "kamaelia-torrent/tests/corpus/hostile"


def enc(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(enc(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(enc(k) + enc(x) for k, x in items) + b"e"
    raise TypeError(v)


def pieces(data, plen):
    return b"".join(hashlib.sha1(data[i:i + plen]).digest() for i in range(0, len(data), plen))


DATA = b"x" * 100
GOOD_INFO = {"name": "ok.txt", "piece length": 32, "length": 100, "pieces": pieces(DATA, 32)}


def torrent(info, **top):
    d = {"announce": "http://127.0.0.1:6969/announce", "info": info}
    d.update(top)
    return enc(d)


def multi(files, plen=32):
    total = sum(f["length"] for f in files)
    count = -(-total // plen)
    fake = pieces(b"x" * total, plen) if total < 1 << 20 else b"a" * 20 * min(count, 4)
    return {"name": "dir", "piece length": plen, "files": files, "pieces": fake}


cases = {
    "empty": b"",
    "truncated": torrent(GOOD_INFO)[:-7],
    "top_not_dict": enc(["not", "a", "dict"]),
    "trailing_garbage": torrent(GOOD_INFO) + b"garbage",
    "unsorted_keys": b"d4:infod4:name2:ok12:piece lengthi32e6:lengthi1e6:pieces20:" + b"a" * 20 + b"ee",
    "duplicate_key": b"d4:infod6:lengthi1e6:lengthi1e4:name2:ok12:piece lengthi32e6:pieces20:" + b"a" * 20 + b"ee",
    "leading_zero": b"d4:infod6:lengthi01e4:name2:ok12:piece lengthi32e6:pieces20:" + b"a" * 20 + b"ee",
    "integer_too_big": torrent(dict(GOOD_INFO, length=10**20)),
    "string_longer_than_file": b"d4:infod4:name999999999:ok",
    "nesting_bomb": b"d8:announce" + b"l" * 5000 + b"e" * 5000 + b"4:info" + enc(GOOD_INFO) + b"e",
    "missing_info": enc({"announce": "http://127.0.0.1/"}),
    "info_not_dict": torrent("nope"),
    "name_not_string": torrent(dict(GOOD_INFO, name=5)),
    "missing_pieces": torrent({k: v for k, v in GOOD_INFO.items() if k != "pieces"}),
    "pieces_not_multiple_of_20": torrent(dict(GOOD_INFO, pieces=GOOD_INFO["pieces"][:-1])),
    "pieces_count_mismatch": torrent(dict(GOOD_INFO, pieces=GOOD_INFO["pieces"][:-20])),
    "zero_piece_length": torrent(dict(GOOD_INFO, **{"piece length": 0})),
    "absurd_piece_length": torrent(dict(GOOD_INFO, **{"piece length": 1 << 40, "pieces": b"a" * 20})),
    "negative_length": torrent(dict(GOOD_INFO, length=-100)),
    "both_length_and_files": torrent(dict(GOOD_INFO, files=[{"length": 1, "path": ["a"]}])),
    "neither_length_nor_files": torrent({k: v for k, v in GOOD_INFO.items() if k != "length"}),
    "overflowing_lengths": torrent(multi([{"length": 2**63 - 1, "path": ["a"]},
                                          {"length": 2**63 - 1, "path": ["b"]}], plen=1 << 20)),
    "name_dotdot": torrent(dict(GOOD_INFO, name="..")),
    "name_with_slash": torrent(dict(GOOD_INFO, name="../../etc/passwd")),
    "name_absolute": torrent(dict(GOOD_INFO, name="/etc/passwd")),
    "name_with_nul": torrent(dict(GOOD_INFO, name="ok\0.txt")),
    "name_drive_prefix": torrent(dict(GOOD_INFO, name="C:evil.txt")),
    "name_empty": torrent(dict(GOOD_INFO, name="")),
    "path_dotdot": torrent(multi([{"length": 100, "path": ["..", "..", "escape.txt"]}])),
    "path_dot": torrent(multi([{"length": 100, "path": [".", "a.txt"]}])),
    "path_empty_component": torrent(multi([{"length": 100, "path": ["a", "", "b.txt"]}])),
    "path_absolute_component": torrent(multi([{"length": 100, "path": ["/etc", "passwd"]}])),
    "path_backslash": torrent(multi([{"length": 100, "path": ["..\\..\\evil.txt"]}])),
    "path_drive_prefix": torrent(multi([{"length": 100, "path": ["C:", "evil.txt"]}])),
    "path_empty_list": torrent(multi([{"length": 100, "path": []}])),
    "path_twice": torrent(multi([{"length": 50, "path": ["a"]}, {"length": 50, "path": ["a"]}])),
    "path_inside_file": torrent(multi([{"length": 50, "path": ["a"]}, {"length": 50, "path": ["a", "b"]}])),
    "files_empty": torrent(multi([])),
    "files_not_list": torrent(dict({k: v for k, v in GOOD_INFO.items() if k != "length"}, files="x")),
}

os.makedirs(OUT, exist_ok=True)
for name, data in sorted(cases.items()):
    with open(os.path.join(OUT, name + ".torrent"), "wb") as f:
        f.write(data)
print(f"wrote {len(cases)} files to {OUT}")
