#!/usr/bin/env bash
# Axon pipeline benchmark, Rust beside Python, interleaved in one run (machines here are noisy:
# compare the ratio of medians, not the absolute figures).
#
#   bash scripts/bench-axon.sh [N_RUST] [N_PYTHON] [K] [ROUNDS]
#
# Needs the Python Axon and Kamaelia: pip install kamaelia-axon==1.14.32 kamaelia==1.14.32
set -euo pipefail
cd "$(dirname "$0")/.."
n_rust=${1:-2000000}
n_py=${2:-100000}
k=${3:-10}
rounds=${4:-3}
py_bench=../shared/bench/axon_pipeline_bench.py
cargo build --quiet --release --example pipeline_bench
field() { sed -E "s/.*$1=([0-9.]+).*/\1/"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rust_rates=(); py_rates=()
for _ in $(seq "$rounds"); do
  r=$(target/release/examples/pipeline_bench "$n_rust" "$k" | tail -n 1); echo "$r"
  rust_rates+=("$(echo "$r" | field msgs_per_s)")
  p=$(python3 "$py_bench" "$n_py" "$k" | tail -n 1); echo "$p"
  py_rates+=("$(echo "$p" | field msgs_per_s)")
done
r=$(target/release/examples/pipeline_bench "$n_rust" "$k" | tail -n 1); echo "$r"
rust_rates+=("$(echo "$r" | field msgs_per_s)")

rust_med=$(printf '%s\n' "${rust_rates[@]}" | median)
py_med=$(printf '%s\n' "${py_rates[@]}" | median)
echo "median msgs_per_s: rust=$rust_med python=$py_med ratio=$(python3 -c "print(round($rust_med / $py_med))")"

echo "memory in N (peak RSS, KiB):"
for n in 100000 1000000 10000000; do
  target/release/examples/pipeline_bench "$n" "$k" | tail -n 1 |
    sed -E 's/.*N=([0-9]+).*peak_rss_kib=([0-9]+).*/  N=\1 peak_rss_kib=\2/'
done
