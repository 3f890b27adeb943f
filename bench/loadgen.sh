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
# Beside the rate, each generator's own CPU time per round trip (user + system, whole process):
# at 50 and 1000 connections the server's core is the bottleneck for both, so the rates can only
# tie, and the CPU cost is what shows which generator would give out first.
#
#   bench/loadgen.sh [PARLEY]     env: ROUNDS (20), DURATION (1 s), CONNS ("1 50 1000")
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-20}
DURATION=${DURATION:-1}
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

TIMEFORMAT='%U %S'
# Each run prints "RATE CPU_US_PER_ROUND_TRIP".
c_run() {
  { time taskset -c 1 "$out/pingpong" -p "$port" -c "$1" -s 64 -d "$DURATION" >"$tmp/run"; } 2>"$tmp/time"
  read -r user sys <"$tmp/time"
  sed -E 's/.*rtts=([0-9]+) rps=([0-9.]+).*/\2 \1/' "$tmp/run" |
    awk -v u="$user" -v s="$sys" '{printf "%d %.3f\n", $1, (u + s) * 1e6 / $2}'
}
p_run() {
  { time taskset -c 1 "$PARLEY" bench pingpong --threads 1 -c "$1" -s 64 -d "${DURATION}s" --json \
    127.0.0.1 "$port" >"$tmp/run"; } 2>"$tmp/time"
  read -r user sys <"$tmp/time"
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
print(round(r["steady_round_trips_per_s"]), "%.3f" % ((float(sys.argv[2]) + float(sys.argv[3])) * 1e6 / r["round_trips"]))' \
    "$tmp/run" "$user" "$sys"
}
for r in $(seq "$ROUNDS"); do
  for c in $CONNS; do
    if ((r % 2)); then read -r c_rps c_cpu < <(c_run "$c"); read -r p_rps p_cpu < <(p_run "$c")
    else read -r p_rps p_cpu < <(p_run "$c"); read -r c_rps c_cpu < <(c_run "$c"); fi
    echo "$c_rps" >>"$tmp/c.$c"
    echo "$p_rps" >>"$tmp/p.$c"
    ratio "$p_rps" "$c_rps" 4 >>"$tmp/r.$c"
    ratio "$p_cpu" "$c_cpu" 4 >>"$tmp/u.$c"
    echo "round $r  c=$c  C generator $c_rps rt/s ($c_cpu us CPU/rt)  parley bench $p_rps rt/s ($p_cpu us CPU/rt)"
  done
done
echo
for c in $CONNS; do
  echo "conns=$c  C generator $(median <"$tmp/c.$c") rt/s  parley bench $(median <"$tmp/p.$c") rt/s" \
    " rate ratio $(median <"$tmp/r.$c" | awk '{printf "%.2f", $1}')x" \
    " CPU/rt ratio $(median <"$tmp/u.$c" | awk '{printf "%.2f", $1}')x (parley/C, median of pairs)"
done
