#!/usr/bin/env bash
# parley conns vs ss vs netstat with 10,000 established loopback connections (20,000 sockets),
# without and with process lookup. The connections are held by `parley echo` (server side) and a
# Python helper (client side), both on 127.0.0.1 and both stopped after at most HOLD seconds.
#
#   bench/conns.sh [PARLEY_BINARY]      env: CONNS (10000), RUNS (7), HOLD (120)
# Each command runs RUNS times, interleaved (parley, ss, netstat, parley, ...); the median wall
# time is reported, and the ratio to ss.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY=${1:-$root/build/release/apps/parley/parley}
CONNS=${CONNS:-10000}
RUNS=${RUNS:-7}
HOLD=${HOLD:-120}
ulimit -n 20000

tmp=$(mktemp -d /tmp/parley-conns.XXXXXX)
pids=()
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout "$HOLD" "$PARLEY" echo -p 0 --bind 127.0.0.1 --threads 1 -q --max-conns $((CONNS + 10)) \
  </dev/null >/dev/null 2>"$tmp/echo.err" &
pids+=($!)
for _ in $(seq 100); do grep -q 'Listening on' "$tmp/echo.err" 2>/dev/null && break; sleep 0.05; done
port=$(grep -m1 -Eo 'Listening on .*:[0-9]+' "$tmp/echo.err" | grep -Eo '[0-9]+$')

timeout "$HOLD" python3 - "$port" "$CONNS" "$tmp/held" <<'PY' &
import resource, socket, sys, time
port, n, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
open(flag, "w").write(str(len(held)))
time.sleep(10**6)
PY
pids+=($!)
for _ in $(seq 600); do [ -s "$tmp/held" ] && break; sleep 0.1; done
[ -s "$tmp/held" ] || { echo "could not open $CONNS connections" >&2; exit 1; }
echo "holding $(cat "$tmp/held") connections to 127.0.0.1:$port; $(ss -Htan | wc -l) TCP sockets in all"

# time_ms CMD...: wall time of one run in milliseconds (output discarded).
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A cmds=(
  [parley_tan]="$PARLEY conns -tan" [ss_tan]="ss -tan" [netstat_tan]="netstat -tan"
  [parley_tanp]="$PARLEY conns -tanp" [ss_tanp]="ss -tanp" [netstat_tanp]="netstat -tanp"
)
order=(parley_tan ss_tan netstat_tan parley_tanp ss_tanp netstat_tanp)
for name in "${order[@]}"; do : >"$tmp/$name"; done
for _ in $(seq "$RUNS"); do
  for name in "${order[@]}"; do
    # shellcheck disable=SC2086
    time_ms ${cmds[$name]} >>"$tmp/$name"
  done
done

printf '%-14s %10s %8s\n' command median_ms x_ss
for name in "${order[@]}"; do
  m=$(median <"$tmp/$name")
  base=$(median <"$tmp/ss_${name#*_}")
  printf '%-14s %10s %8s\n' "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done
