#!/usr/bin/env bash
# User-space instructions of one leecher downloading a payload from our seeder, counted by
# callgrind: a figure that repeats from run to run (within 0.1% here), for changes too small
# to see through this machine's noise in swarm_bench. Kernel time (socket, page cache) is
# not counted. Under valgrind the sha1 crate uses its portable code (no SHA-NI), so the
# hashing is reported apart ("sha1") from everything else ("rest").
#
#   bash scripts/leecher-instructions.sh [BIN] [MIB]
#
# BIN: a kamaelia-torrent binary (default: this checkout's release build, built first); to
# compare two versions, run the script once with each binary. Needs valgrind. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
mib=${2:-64}
if [ -z "$bin" ]; then
  cargo build --quiet --release -p kamaelia-torrent --bin kamaelia-torrent
  bin=$PWD/target/release/kamaelia-torrent
fi
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/seed"
head -c $((mib << 20)) /dev/urandom >"$dir/seed/payload.bin"
port=$((20000 + RANDOM % 10000))
"$bin" tracker --listen "127.0.0.1:$port" >"$dir/tracker.log" 2>&1 &
pids+=($!)
"$bin" make --tracker "http://127.0.0.1:$port/announce" -o "$dir/p.torrent" \
  "$dir/seed/payload.bin" >/dev/null
"$bin" seed "$dir/p.torrent" --data "$dir/seed" --listen "127.0.0.1:$((port + 1))" \
  >"$dir/seed.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q seeding "$dir/seed.log" && break
  sleep 0.1
done
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" download "$dir/p.torrent" \
  --output "$dir/leech" --listen "127.0.0.1:$((port + 2))" >"$dir/leech.log" 2>&1
cmp "$dir/seed/payload.bin" "$dir/leech/payload.bin"
callgrind_annotate "$dir/cg.out" 2>/dev/null | awk -v mib="$mib" '
  /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
  /sha1::compress/ { gsub(",", "", $1); sha1 += $1 }
  END { printf "leecher-instructions mib=%d total=%d sha1=%d rest=%d\n",
        mib, total, sha1, total - sha1 }'
