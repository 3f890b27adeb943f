#!/usr/bin/env bash
# parley bench pingpong --threads 1 against the bare C epoll generator (pingpong.c), both
# driving the same bare C echo server (epoll_echo.c, pinned to core 0; load on core 1), at 1,
# 50 and 1000 connections, 64-byte messages.
#
# Method, because this machine's speed drifts by ±30% within seconds: ROUNDS short pairs, the
# two generators back to back in each pair, the order alternating from pair to pair; the figure
# is the median of the per-pair ratios (drift cancels within a pair), beside the two medians.
# Nothing else runs while a generator runs: each writes its result to a file that is parsed
# afterwards. (Piping parley's JSON into a Python parser once cost parley ~14%: the interpreter
# starts while the measurement runs and takes CPU from the server.)
# Like for like: the C generator connects everything before it starts its clock, so parley's
# figure is its steady rate (after all connections were up), not the rate over the whole run.
#
#   bench/loadgen.sh [PARLEY]     env: ROUNDS (10), DURATION (2 s), CONNS ("1 50 1000")
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-2}
CONNS=${CONNS:-1 50 1000}
ulimit -n 20000
out=$root/bench/out
mkdir -p "$out"
cc -O2 -o "$out/epoll_echo" "$root/bench/epoll_echo.c"
cc -O2 -o "$out/pingpong" "$root/bench/pingpong.c"
tmp=$(mktemp -d /tmp/parley-loadgen.XXXXXX)
port=23900
taskset -c 0 timeout 1800 "$out/epoll_echo" "$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.05; done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c_run() {
  taskset -c 1 "$out/pingpong" -p "$port" -c "$1" -s 64 -d "$DURATION" >"$tmp/run"
  sed -E 's/.*rps=([0-9.]+).*/\1/' "$tmp/run"
}
p_run() {
  taskset -c 1 "$PARLEY" bench pingpong --threads 1 -c "$1" -s 64 -d "${DURATION}s" --json \
    127.0.0.1 "$port" >"$tmp/run"
  python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["steady_round_trips_per_s"]))' "$tmp/run"
}
for r in $(seq "$ROUNDS"); do
  for c in $CONNS; do
    if ((r % 2)); then c_rps=$(c_run "$c"); p_rps=$(p_run "$c"); else p_rps=$(p_run "$c"); c_rps=$(c_run "$c"); fi
    echo "$c_rps" >>"$tmp/c.$c"
    echo "$p_rps" >>"$tmp/p.$c"
    awk -v a="$p_rps" -v b="$c_rps" 'BEGIN {printf "%.4f\n", a / b}' >>"$tmp/r.$c"
    echo "round $r  c=$c  C generator $c_rps rt/s  parley bench $p_rps rt/s"
  done
done
echo
for c in $CONNS; do
  echo "conns=$c  C generator $(median <"$tmp/c.$c") rt/s  parley bench $(median <"$tmp/p.$c") rt/s  median pair ratio $(median <"$tmp/r.$c" | awk '{printf "%.2f", $1}')x"
done
