#!/usr/bin/env bash
# What one steady-state hop of ring_bench costs, counted by cachegrind's cache simulator
# rather than timed: instructions, and data reads and writes that miss a last-level cache of
# 2 MiB (this machine's L2), per hop. Two runs that differ only in RING_LAPS (10 and 20) are
# subtracted, so creation, the first lap and shutdown cancel out. The simulator has no
# hardware prefetcher: a miss it counts is a line fetched from memory unless the processor
# guessed it in time. The same from run to run.
#
#   bash scripts/ring-misses.sh [BIN] [N]
#
# BIN: a ring_bench binary (default: this checkout's release build, built first); N: the
# ring's size (default 100000, 130 MB, well past the simulated cache). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
n=${2:-100000}
if [ -z "$bin" ]; then
  cargo build --quiet --release --example ring_bench
  bin=$PWD/target/release/examples/ring_bench
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
count() {
  RING_LAPS=$1 valgrind --tool=cachegrind --cache-sim=yes --LL=2097152,16,64 \
    --cachegrind-out-file="$dir/cg.$1" "$bin" "$n" >/dev/null 2>&1
  # events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
  awk '/^summary:/ {print $2, $7, $10}' "$dir/cg.$1"
}
read -r i10 r10 w10 < <(count 10)
read -r i20 r20 w20 < <(count 20)
hops=$((n * 10))
awk -v n="$n" -v h="$hops" -v i="$((i20 - i10))" -v r="$((r20 - r10))" -v w="$((w20 - w10))" \
  'BEGIN { printf "ring-misses N=%d instructions_per_hop=%.1f ll_read_misses_per_hop=%.2f ll_write_misses_per_hop=%.2f\n", n, i / h, r / h, w / h }'
