#!/usr/bin/env bash
# parley forward against HAProxy (nbthread 1, mode tcp) and socat (TCP-LISTEN,fork) -- issue 12.
#
#   bench/forward.sh [PARLEY_BINARY]     (default: build/release/apps/parley/parley)
#   env: ROUNDS (5), DURATION (5 seconds per run), BULK_MIB (1024)
#
# The forwarder and the bare C echo server (bench/epoll_echo.c) share core 0; the load runs on
# core 1. Three loads, each forwarder in turn within a round (the order alternates):
#   rt/s    64-byte ping-pong over 50 connections (bench/pingpong.c)
#   conn/s  connect, one 64-byte round trip, close, 8 at a time (parley bench connect)
#   bulk    BULK_MIB from a file (parley connect, sendfile) through the forwarder into a sink
#           (parley listen > /dev/null); GB/s from the sender's wall time
# HAProxy runs with `option splice-auto` (its own zero-copy path) so that both relays can splice.
# Medians are printed with the ratios parley/HAProxy and parley/socat. parley runs twice: on epoll
# (`parley`) and on io_uring (`parley-uring`, --io uring: the ring waits, the sides still splice),
# and the ratio io_uring/epoll is printed too.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
BULK_MIB=${BULK_MIB:-1024}
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $BULK_MIB =~ ^[1-9][0-9]*$ ]] ||
  { echo "ROUNDS, DURATION and BULK_MIB must be positive integers" >&2; exit 2; }
for c in cc taskset ss python3 timeout haproxy socat; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done
ulimit -n 20000 2>/dev/null || true
out=$root/bench/out
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/epoll_echo" "$root/bench/epoll_echo.c"
cc -O2 -Wall -Wextra -o "$out/pingpong" "$root/bench/pingpong.c"
tmp=$(mktemp -d /tmp/parley-forward.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


echo_port=$(free_port)
taskset -c 0 timeout 3600 "$out/epoll_echo" "$echo_port" 2>/dev/null &
pids+=($!)
wait_port "$echo_port"

# start_forwarder NAME PORT TARGET_PORT: on core 0, bounded in time; sets fwd.
fwd=''
start_forwarder() {
  local name=$1 port=$2 target=$3 limit=$((DURATION * 3 + 120))
  case $name in
    parley | parley-uring)
      local io=epoll
      [[ $name == parley-uring ]] && io=uring
      taskset -c 0 timeout $limit "$PARLEY" forward --io $io --threads 1 -m 20000 \
        "127.0.0.1:$port" "127.0.0.1:$target" </dev/null >/dev/null 2>&1 & ;;
    haproxy)
      cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4000  # HAProxy wants twice this in descriptors (ulimit -n is 20,000 here)
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option splice-auto
listen fwd
  bind 127.0.0.1:$port
  server s1 127.0.0.1:$target
EOF
      taskset -c 0 timeout $limit haproxy -f "$tmp/haproxy.cfg" -db </dev/null >/dev/null 2>&1 & ;;
    socat)
      taskset -c 0 timeout $limit socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,backlog=1024" \
        "TCP:127.0.0.1:$target" </dev/null >/dev/null 2>&1 & ;;
  esac
  fwd=$!
  wait_port "$port"
}
stop_forwarder() {
  kill "$fwd" 2>/dev/null || true
  wait "$fwd" 2>/dev/null || true
  fwd=''
}

rt_run() {  # rt/s through the forwarder on port $1
  taskset -c 1 "$out/pingpong" -p "$1" -c 50 -s 64 -d "$DURATION" | sed -E 's/.*rps=([0-9.]+).*/\1/'
}
conn_run() {  # conn/s through the forwarder on port $1
  taskset -c 1 "$PARLEY" bench connect --threads 1 -c 8 -s 64 -d "${DURATION}s" --json 127.0.0.1 "$1" \
    >"$tmp/conn.json" 2>/dev/null || true
  python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["round_trips_per_s"]))' \
    "$tmp/conn.json" 2>/dev/null || echo 0
}
head -c $((BULK_MIB << 20)) /dev/zero >"$tmp/bulk"
bulk_run() {  # GB/s of BULK_MIB through the forwarder on port $1 into a sink on port $2
  local sink=$2
  taskset -c 1 timeout 120 "$PARLEY" listen 127.0.0.1 "$sink" </dev/null >/dev/null 2>&1 &
  local sp=$!
  wait_port "$sink"
  local t0 t1
  t0=$(date +%s.%N)
  taskset -c 1 timeout 120 "$PARLEY" connect 127.0.0.1 "$1" <"$tmp/bulk" >/dev/null 2>&1 || true
  wait "$sp" 2>/dev/null || true
  t1=$(date +%s.%N)
  awk -v b=$((BULK_MIB << 20)) -v a="$t0" -v z="$t1" 'BEGIN {printf "%.2f\n", b / (z - a) / 1e9}'
}

names=(parley haproxy socat)
# io_uring where the kernel gives it (forward --io uring refuses at once otherwise).
timeout 1 "$PARLEY" forward --io uring 127.0.0.1:0 127.0.0.1:9 </dev/null >/dev/null 2>"$tmp/io" || true
if grep -q 'Listening on' "$tmp/io"; then
  names=(parley parley-uring haproxy socat)
fi
for r in $(seq "$ROUNDS"); do
  order=("${names[@]}")
  ((r % 2)) || order=($(printf '%s\n' "${names[@]}" | tac))
  for n in "${order[@]}"; do
    port=$(free_port)
    start_forwarder "$n" "$port" "$echo_port"
    rt=$(rt_run "$port")
    conn=$(conn_run "$port")
    stop_forwarder
    sink=$(free_port)
    port=$(free_port)
    start_forwarder "$n" "$port" "$sink"
    bulk=$(bulk_run "$port" "$sink")
    stop_forwarder
    echo "$rt" >>"$tmp/rt.$n"
    echo "$conn" >>"$tmp/conn.$n"
    echo "$bulk" >>"$tmp/bulk.$n"
    echo "round $r  $n: $rt rt/s (64 B x 50), $conn conn/s, $bulk GB/s bulk"
  done
done

echo
echo "== Medians of $ROUNDS rounds"
for metric in rt conn bulk; do
  p=$(median <"$tmp/$metric.parley")
  h=$(median <"$tmp/$metric.haproxy")
  s=$(median <"$tmp/$metric.socat")
  echo "$metric: parley $p, HAProxy $h, socat $s;  parley/HAProxy $(ratio "$p" "$h")x, parley/socat $(ratio "$p" "$s")x"
  if [[ -f $tmp/$metric.parley-uring ]]; then
    u=$(median <"$tmp/$metric.parley-uring")
    echo "$metric: parley io_uring $u;  io_uring/epoll $(ratio "$u" "$p")x, io_uring/HAProxy $(ratio "$u" "$h")x"
  fi
done
