#!/usr/bin/env bash
# listen's server modes against ncat and socat (issue 10).
#
#   bench/serve.sh [PARLEY_BINARY]     (default: build/release/apps/parley/parley)
#   env: ROUNDS (5), DURATION (5, seconds per run)
#
# 1. The floor: what starting a process costs here (posix_spawn of /bin/true), which bounds every
#    exec rate below.
# 2. Exec: connections per second, each connect -> 64-byte round trip -> close (parley bench
#    connect), with 1 and 8 clients at once, for `parley listen -k -e /bin/cat`,
#    `ncat -lk --exec /bin/cat` and `socat TCP-LISTEN:P,fork EXEC:cat`.
# 3. Broker: lines delivered per second with 50 clients sending 64-byte lines (bench/broker_load.c,
#    each client at most 4 rounds ahead), parley --broker against ncat --broker, and the server's
#    CPU time per delivered line.
# Servers on core 0, load on core 1; servers alternate in each round; medians are printed with the
# ratios parley/peer.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] ||
  { echo "ROUNDS and DURATION must be positive integers" >&2; exit 2; }
for c in cc taskset ss python3 timeout ncat socat; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done
out=$root/bench/out
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/broker_load" "$root/bench/broker_load.c"
TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d /tmp/parley-serve.XXXXXX)
srv=''
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start NAME PORT: one server on core 0, bounded in time; sets srv (the server's own pid).
start() {
  local name=$1 port=$2 limit=$((DURATION + 30))
  case $name in
    parley-exec) taskset -c 0 timeout $limit "$PARLEY" listen -k -m 100 -e /bin/cat 127.0.0.1 "$port" </dev/null >/dev/null 2>&1 & ;;
    ncat-exec) taskset -c 0 timeout $limit ncat -lk -m 100 --exec /bin/cat 127.0.0.1 "$port" </dev/null >/dev/null 2>&1 & ;;
    socat-exec) taskset -c 0 timeout $limit socat TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr EXEC:cat </dev/null >/dev/null 2>&1 & ;;
    parley-broker) taskset -c 0 timeout $limit "$PARLEY" listen --broker 127.0.0.1 "$port" </dev/null >/dev/null 2>&1 & ;;
    ncat-broker) taskset -c 0 timeout $limit ncat -l --broker 127.0.0.1 "$port" </dev/null >/dev/null 2>&1 & ;;
  esac
  local wrapper=$!
  wait_port "$port"
  srv=$(pgrep -P "$wrapper" | head -1)
  [ -n "$srv" ] || srv=$wrapper
}
stop() {
  kill "$srv" 2>/dev/null || true
  wait 2>/dev/null || true
  srv=''
}

echo "== The floor: posix_spawn of /bin/true"
python3 - <<'PY' | tee "$tmp/spawn"
import os, statistics, time
t = []
for _ in range(200):
    a = time.perf_counter()
    pid = os.posix_spawn("/bin/true", ["true"], {})
    os.waitpid(pid, 0)
    t.append((time.perf_counter() - a) * 1000)
m = statistics.median(t)
print(f"spawn+exit of /bin/true: median {m:.2f} ms (so at most ~{1000 / m:.0f} programs/s per core)")
PY

echo
echo "== Exec: connections/s (connect, 64-byte round trip, close)"
for r in $(seq "$ROUNDS"); do
  for clients in 1 8; do
    servers=(parley-exec ncat-exec socat-exec)
    ((r % 2)) || servers=(socat-exec ncat-exec parley-exec)
    for s in "${servers[@]}"; do
      port=$(free_port)
      start "$s" "$port"
      taskset -c 1 "$PARLEY" bench connect --threads 1 -c "$clients" -s 64 -d "${DURATION}s" --json \
        127.0.0.1 "$port" >"$tmp/run" 2>/dev/null || true
      stop
      rate=$(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(round(r["round_trips_per_s"]))' "$tmp/run" 2>/dev/null || echo 0)
      echo "$rate" >>"$tmp/exec.$s.$clients"
      echo "round $r  clients=$clients  $s  $rate conn/s"
    done
  done
done

echo
echo "== Broker: 50 clients, 64-byte lines, lines delivered/s"
for r in $(seq "$ROUNDS"); do
  servers=(parley-broker ncat-broker)
  ((r % 2)) || servers=(ncat-broker parley-broker)
  for s in "${servers[@]}"; do
    port=$(free_port)
    start "$s" "$port"
    t0=$(cpu_ticks "$srv")
    taskset -c 1 "$out/broker_load" -p "$port" -c 50 -s 64 -d "$DURATION" >"$tmp/run"
    t1=$(cpu_ticks "$srv")
    stop
    rate=$(sed -E 's/.*delivered_per_s=([0-9]+).*/\1/' "$tmp/run")
    delivered=$(sed -E 's/.*delivered=([0-9]+) .*/\1/' "$tmp/run")
    cpu=$(awk -v t=$((t1 - t0)) -v k="$TCK" -v d="$delivered" 'BEGIN {printf "%.3f", (d > 0 ? t / k * 1e6 / d : 0)}')
    echo "$rate" >>"$tmp/broker.$s"
    echo "$cpu" >>"$tmp/brokercpu.$s"
    echo "round $r  $s  $rate lines/s  $cpu us CPU/line  ($(cat "$tmp/run"))"
  done
done

echo
echo "== Summary (medians of $ROUNDS rounds)"
cat "$tmp/spawn"
for clients in 1 8; do
  p=$(median <"$tmp/exec.parley-exec.$clients")
  n=$(median <"$tmp/exec.ncat-exec.$clients")
  s=$(median <"$tmp/exec.socat-exec.$clients")
  echo "exec, $clients client(s): parley $p conn/s, ncat $n, socat $s;" \
    "parley/ncat $(awk -v a="$p" -v b="$n" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')x" \
    "parley/socat $(awk -v a="$p" -v b="$s" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')x"
done
p=$(median <"$tmp/broker.parley-broker")
n=$(median <"$tmp/broker.ncat-broker")
pc=$(median <"$tmp/brokercpu.parley-broker")
nc=$(median <"$tmp/brokercpu.ncat-broker")
echo "broker, 50 clients: parley $p lines/s ($pc us CPU/line), ncat $n lines/s ($nc us CPU/line);" \
  "parley/ncat $(awk -v a="$p" -v b="$n" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')x rate," \
  "$(awk -v a="$pc" -v b="$nc" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')x CPU per line"
