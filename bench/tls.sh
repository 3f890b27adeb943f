#!/usr/bin/env bash
# TLS (issue 13): parley against socat's OpenSSL and openssl s_server/s_client, HAProxy
# terminating TLS, and the AES-GCM limit of this machine.
#
#   bench/tls.sh [PARLEY_BINARY]     (default: build/release/apps/parley/parley)
#   env: ROUNDS (5), DURATION (5 seconds per run), BULK_MIB (1024)
#
# Servers run on core 0, clients on core 1. One ECDSA P-256 certificate (made here) for all.
#   bulk    BULK_MIB from a file over one TLS connection into /dev/null: parley connect --tls ->
#           parley listen --tls, socat OPENSSL -> OPENSSL-LISTEN, s_client -> s_server. GB/s from
#           the sender's start to the receiver's exit.
#   limit   openssl speed -evp aes-128-gcm, 16 KiB blocks, one core: what one core can encrypt.
#   hs/s    handshakes per second: new connection, one 64-byte round trip, close (parley bench
#           connect --tls, 8 at a time) against parley echo --tls and HAProxy (nbthread 1, tcp
#           mode, ssl) in front of the bare C echo server.
#   rt/s    64-byte round trips on 50 held connections to parley echo, over TLS and plain TCP.
# The order alternates between rounds; medians and ratios at the end.
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
for c in cc taskset ss python3 timeout openssl socat haproxy; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done
out=$root/bench/out
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/epoll_echo" "$root/bench/epoll_echo.c"
tmp=$(mktemp -d /tmp/parley-tls.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json_field() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2" 2>/dev/null || echo 0; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/both.pem"
head -c $((BULK_MIB << 20)) /dev/zero >"$tmp/bulk"

# bulk_run NAME: GB/s of BULK_MIB through one TLS connection.
bulk_run() {
  local port t0 t1 rp
  port=$(free_port)
  case $1 in
    parley)
      # stdin at EOF from the start: with a stdin still open, listen would go on sending it for
      # a quiet second after the peer's end (relay.hpp, drain_quiet), so no run ended before 1 s
      # (1 GiB read as "1.06 GB/s" whatever the rate).
      taskset -c 0 timeout 120 "$PARLEY" listen --tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
        127.0.0.1 "$port" </dev/null >/dev/null 2>&1 & ;;
    socat)
      taskset -c 0 timeout 120 socat -u "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0" \
        STDOUT </dev/null >/dev/null 2>&1 & ;;
    openssl)
      taskset -c 0 timeout 120 openssl s_server -quiet -naccept 1 -accept "127.0.0.1:$port" \
        -cert "$tmp/cert.pem" -key "$tmp/key.pem" < <(sleep 120 2>/dev/null) >/dev/null 2>&1 & ;;
  esac
  rp=$!
  wait_port "$port"
  t0=$(date +%s.%N)
  case $1 in
    parley)
      taskset -c 1 timeout 120 "$PARLEY" connect --tls --tls-ca "$tmp/cert.pem" localhost "$port" \
        <"$tmp/bulk" >/dev/null 2>&1 || true ;;
    socat)
      taskset -c 1 timeout 120 socat -u OPEN:"$tmp/bulk" "OPENSSL:127.0.0.1:$port,cafile=$tmp/cert.pem,commonname=localhost" \
        >/dev/null 2>&1 || true ;;
    openssl)
      taskset -c 1 timeout 120 openssl s_client -quiet -no_ign_eof -CAfile "$tmp/cert.pem" \
        -connect "127.0.0.1:$port" <"$tmp/bulk" >/dev/null 2>&1 || true ;;
  esac
  # Each receiver ends when the sender's close_notify and FIN arrive (s_server's stdin stays open:
  # at its EOF it would end the session). Checked with 1 MiB: every pair ends within ~12 ms of
  # the last byte. A bounded wait all the same.
  for _ in $(seq 500); do kill -0 "$rp" 2>/dev/null || break; sleep 0.01; done
  t1=$(date +%s.%N)
  kill "$rp" 2>/dev/null || true
  wait "$rp" 2>/dev/null || true
  awk -v b=$((BULK_MIB << 20)) -v a="$t0" -v z="$t1" 'BEGIN {printf "%.2f\n", b / (z - a) / 1e9}'
}

echo_port=$(free_port)
taskset -c 0 timeout 3600 "$out/epoll_echo" "$echo_port" 2>/dev/null &
pids+=($!)
wait_port "$echo_port"

# start_server NAME: a TLS (or plain) echo on core 0; sets srv and sport.
srv='' sport=''
start_server() {
  sport=$(free_port)
  local limit=$((DURATION * 3 + 60))
  case $1 in
    parley)
      taskset -c 0 timeout $limit "$PARLEY" echo --tls --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
        --threads 1 -q -p "$sport" --bind 127.0.0.1 </dev/null >/dev/null 2>&1 & ;;
    plain)
      taskset -c 0 timeout $limit "$PARLEY" echo --threads 1 -q -p "$sport" --bind 127.0.0.1 \
        </dev/null >/dev/null 2>&1 & ;;
    haproxy)
      cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen tls
  bind 127.0.0.1:$sport ssl crt $tmp/both.pem
  server s1 127.0.0.1:$echo_port
EOF
      taskset -c 0 timeout $limit haproxy -f "$tmp/haproxy.cfg" -db </dev/null >/dev/null 2>&1 & ;;
  esac
  srv=$!
  wait_port "$sport"
}
stop_server() {
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
}
hs_run() {
  taskset -c 1 "$PARLEY" bench connect --tls --tls-ca "$tmp/cert.pem" --threads 1 -c 8 -d "${DURATION}s" \
    --json localhost "$sport" >"$tmp/hs.json" 2>/dev/null || true
  json_field "$tmp/hs.json" round_trips_per_s
}
rt_run() {  # --tls or nothing
  taskset -c 1 "$PARLEY" bench pingpong "$@" --threads 1 -c 50 -d "${DURATION}s" --json localhost "$sport" \
    >"$tmp/rt.json" 2>/dev/null || true
  json_field "$tmp/rt.json" round_trips_per_s
}

taskset -c 1 openssl speed -evp aes-128-gcm -seconds 3 2>/dev/null >"$tmp/speed"
limit=$(awk '/^AES-128-GCM/ {v = $NF; sub(/k$/, "", v); printf "%.2f", v * 1000 / 1e9}' "$tmp/speed")
echo "AES-128-GCM on one core (openssl speed, 16 KiB blocks): $limit GB/s"

for r in $(seq "$ROUNDS"); do
  order=(parley socat openssl)
  ((r % 2)) || order=(openssl socat parley)
  for n in "${order[@]}"; do
    b=$(bulk_run "$n")
    echo "$b" >>"$tmp/bulk.$n"
    echo "round $r  bulk $n: $b GB/s"
  done
  order=(parley haproxy)
  ((r % 2)) || order=(haproxy parley)
  for n in "${order[@]}"; do
    start_server "$n"
    h=$(hs_run)
    stop_server
    echo "$h" >>"$tmp/hs.$n"
    echo "round $r  handshakes $n: $h/s"
  done
  order=(tls plain)
  ((r % 2)) || order=(plain tls)
  for n in "${order[@]}"; do
    if [ "$n" = tls ]; then
      start_server parley
      t=$(rt_run --tls --tls-ca "$tmp/cert.pem")
    else
      start_server plain
      t=$(rt_run)
    fi
    stop_server
    echo "$t" >>"$tmp/rt.$n"
    echo "round $r  round trips $n: $t/s"
  done
done

echo
echo "== Medians of $ROUNDS rounds"
p=$(median <"$tmp/bulk.parley")
s=$(median <"$tmp/bulk.socat")
o=$(median <"$tmp/bulk.openssl")
echo "bulk: parley $p GB/s, socat $s, s_client->s_server $o, one core's AES-GCM $limit;" \
  "parley/socat $(ratio "$p" "$s")x, parley/openssl $(ratio "$p" "$o")x, limit/parley $(ratio "$limit" "$p")x"
p=$(median <"$tmp/hs.parley")
h=$(median <"$tmp/hs.haproxy")
echo "handshakes/s: parley echo --tls $p, HAProxy $h; parley/HAProxy $(ratio "$p" "$h")x"
t=$(median <"$tmp/rt.tls")
n=$(median <"$tmp/rt.plain")
echo "round trips/s on 50 connections: TLS $t, plain $n; TLS/plain $(ratio "$t" "$n")x"
