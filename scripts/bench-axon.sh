#!/usr/bin/env bash
# Axon pipeline benchmark, Rust beside Python, in one run (machines here are noisy: compare the
# ratio, not the absolute figures).
#
#   bash scripts/bench-axon.sh [N_RUST] [N_PYTHON] [K]
#
# Needs the Python Axon and Kamaelia: pip install kamaelia-axon==1.14.32 kamaelia==1.14.32
set -euo pipefail
cd "$(dirname "$0")/.."
n_rust=${1:-2000000}
n_py=${2:-200000}
k=${3:-10}
py_bench=../shared/bench/axon_pipeline_bench.py
cargo build --quiet --release --example pipeline_bench
rust_line() { target/release/examples/pipeline_bench "$1" "$k" | tail -n 1; }
field() { sed -E "s/.*$1=([0-9.]+).*/\1/"; }

r1=$(rust_line "$n_rust"); echo "$r1"
p=$(python3 "$py_bench" "$n_py" "$k" | tail -n 1); echo "$p"
r2=$(rust_line "$n_rust"); echo "$r2"

rust_best=$(printf '%s\n%s\n' "$(echo "$r1" | field msgs_per_s)" "$(echo "$r2" | field msgs_per_s)" | sort -n | tail -n 1)
py_rate=$(echo "$p" | field msgs_per_s)
echo "ratio rust/python msgs_per_s = $(python3 -c "print(round($rust_best / $py_rate))")"

echo "memory in N (peak RSS, KiB):"
for n in 100000 1000000 10000000; do
  rust_line "$n" | sed -E 's/.*N=([0-9]+).*peak_rss_kib=([0-9]+).*/  N=\1 peak_rss_kib=\2/'
done
