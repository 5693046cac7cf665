#!/usr/bin/env bash
# Echo server benchmark: our ServerCore echo beside Kamaelia's Python ServerCore echo
# (PassThrough protocol), in one run. Machines here are noisy: rounds are interleaved and the
# medians compared.
#
#   bash scripts/bench-echo.sh [CLIENTS] [MIB_EACH] [ROUNDS] [--event-loop]   # defaults: 10 64 3
#
# --event-loop: the clients run in one event loop on one thread instead of two threads each.
#
# Each round runs examples/echo_bench (C clients, each sending M MiB and checking every byte
# it reads back) three times:
#   rust            our echo server inside the bench process (peak_rss_kib includes the clients)
#   rust-process    examples/echo_server as a process of its own (peak_rss_kib: the server alone)
#   python          scripts/python_echo_server.py (peak_rss_kib: the server alone)
# then prints the median MiB/s of each and the ratios, and the same for MiB echoed per
# CPU-second of the server (on a small machine the clients share the CPUs with the server, so
# the wall-clock rate of a fast server is held back by its clients; CPU per MiB is not).
#
# Needs the Python Axon and Kamaelia: pip install kamaelia-axon==1.14.32 kamaelia==1.14.32
# Many clients (e.g. 1000): each takes a descriptor in the bench and one in the server; the
# soft descriptor limit is raised to the hard one here (ulimit -n), and the servers ask for a
# listen backlog of 1024 (capped by net.core.somaxconn).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-10}
mib=${2:-64}
rounds=${3:-3}
mode=${4:-}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --quiet --release --example echo_bench --example echo_server
bench=target/release/examples/echo_bench

tmp=$(mktemp -d)
py_pid=""
rs_pid=""
cleanup() {
  [ -n "${py_server_pid:-}" ] && kill "$py_server_pid" 2>/dev/null || true
  [ -n "$py_pid" ] && kill "$py_pid" 2>/dev/null || true
  [ -n "$rs_pid" ] && kill "$rs_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

python3 -u scripts/python_echo_server.py 0 >"$tmp/py.log" 2>&1 &
py_pid=$!
target/release/examples/echo_server --port 0 >"$tmp/rs.log" 2>&1 &
rs_pid=$!

# The port a server printed in its "listening on 127.0.0.1:<port>" line.
port_of() {
  for _ in $(seq 200); do
    p=$(sed -nE 's/^listening on 127\.0\.0\.1:([0-9]+).*$/\1/p' "$1")
    if [ -n "$p" ]; then
      echo "$p"
      return
    fi
    sleep 0.05
  done
  echo "the server did not start:" >&2
  cat "$1" >&2
  exit 1
}
py_port=$(port_of "$tmp/py.log")
rs_port=$(port_of "$tmp/rs.log")
# Python's own pid (python3 may be a shim that runs it as a child), for its memory.
py_server_pid=$(sed -nE 's/^listening on .* pid ([0-9]+)$/\1/p' "$tmp/py.log")

field() { sed -nE "s/.*$1=([0-9.]+).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rust=(); rust_proc=(); py=(); rust_cpu=(); proc_cpu=(); py_cpu=()
run() { # run <label> <echo_bench args...>: prints both result lines, keeps the figures
  local label=$1
  shift
  out=$("$bench" "$clients" "$mib" $mode "$@" | tail -n 2)
  echo "$out" | tail -n 1 | sed "s/^/$label /"
  echo "$out" | head -n 1 | sed "s/^/$(printf '%*s' ${#label} '') /"
  rate=$(echo "$out" | tail -n 1 | field mib_per_s)
  cpu=$(echo "$out" | head -n 1 | field mib_per_server_cpu_s)
  cpu=${cpu:-0} # too short a run to measure
}
for _ in $(seq "$rounds"); do
  run "rust        " ; rust+=("$rate"); rust_cpu+=("$cpu")
  run "rust-process" --target "127.0.0.1:$rs_port" --server-pid "$rs_pid"
  rust_proc+=("$rate"); proc_cpu+=("$cpu")
  run "python      " --target "127.0.0.1:$py_port" --server-pid "$py_server_pid"
  py+=("$rate"); py_cpu+=("$cpu")
done

med() { printf '%s\n' "$@" | median; }
ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print(f'{float(a) / float(b):.1f}' if a and b and float(a) and float(b) else 'n/a')" "$1" "$2"; }
r=$(med "${rust[@]}"); p=$(med "${rust_proc[@]}"); y=$(med "${py[@]}")
rc=$(med "${rust_cpu[@]}"); pc=$(med "${proc_cpu[@]}"); yc=$(med "${py_cpu[@]}")
echo "median mib_per_s (clients=$clients mib_each=$mib ${mode:---threaded}): rust=$r rust-process=$p python=$y"
echo "ratio mib_per_s: rust/python=$(ratio "$r" "$y") rust-process/python=$(ratio "$p" "$y")"
echo "median mib_per_server_cpu_s: rust=$rc rust-process=$pc python=$yc"
echo "ratio per server CPU-second: rust/python=$(ratio "$rc" "$yc") rust-process/python=$(ratio "$pc" "$yc")"
