#!/usr/bin/env bash
# Echo server cost: `parley echo --threads 1` against a bare C epoll echo server (the floor), a
# bare C io_uring one (the floor of io_uring's design: parley-uring is compared with it to tell
# parley's own cost from the design's), the seed assignment's Python thread-per-client server and
# a Node.js net server, all on 127.0.0.1.
#
#   bench/echo.sh [PARLEY_BINARY]     (default: build/release/apps/parley/parley)
#   env: ROUNDS (5), DURATION (5, whole seconds), IDLE_CONNS (10000), LOADS ("1 50 1000")
#
# parley runs twice: `parley` on its epoll workers (--io epoll) and `parley-uring` on io_uring
# (--io uring). System calls per echo: one more run per parley server and load with
# `perf stat -e raw_syscalls:sys_enter` on the server (kept out of the timed rounds).
#
# Method: server pinned to core 0, load generator (bench/pingpong.c, single-threaded epoll,
# 64-byte ping-pong) pinned to core 1, so neither steals the other's core. For each server and
# load (1 and 50 connections): round trips per second and p50/p99 latency from the client, and
# the server's CPU time (utime+stime from /proc/PID/stat) over the run divided by round trips =
# CPU microseconds per round trip; that is the fair figure when the client, not the server, is
# the bottleneck (likely at 50 conns for the fast servers: the client does the same syscalls).
# The machine is noisy, so servers run interleaved in ROUNDS rounds (each round starts at a
# different server) and MEDIANS are reported. Then RSS per idle connection: VmRSS before and
# after IDLE_CONNS idle connections (1000 for Python and Node: thread-per-client at 10k tells
# nothing new). RSS counts user memory only; kernel socket buffers are the same for all.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
IDLE_CONNS=${IDLE_CONNS:-10000}
SMALL_IDLE=$((IDLE_CONNS < 1000 ? IDLE_CONNS : 1000))  # for python-seed and node
SIZE=${SIZE:-64}  # SIZE=16384 for the 16 KiB rows
LOADS=(${LOADS:-1 50 1000})
HOLD_SECS=8
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $IDLE_CONNS =~ ^[1-9][0-9]*$ ]] ||
  { echo "ROUNDS, DURATION and IDLE_CONNS must be positive integers" >&2; exit 2; }
# Every server process is bounded too: one round is 2 loads, the RSS step is one hold.
SERVER_LIMIT=$((${#LOADS[@]} * (DURATION + 15) + HOLD_SECS + 60))
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # 10,000 conns = 10,000 fds per side

for c in cc taskset ss python3 timeout getconf pgrep; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done
out=$root/bench/out
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/epoll_echo" "$root/bench/epoll_echo.c"
cc -O2 -Wall -Wextra -o "$out/pingpong" "$root/bench/pingpong.c"
have_uring_echo=0
if cc -O2 -Wall -Wextra -o "$out/uring_echo" "$root/bench/uring_echo.c" -luring 2>/dev/null; then
  have_uring_echo=1
else
  echo "skipping c-uring: bench/uring_echo.c did not build (liburing-dev)" >&2
fi
PP=$out/pingpong
TCK=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/parley-echo.XXXXXX)
srv='' cli=''  # pids of the running server's and client's `timeout` wrappers ('' = none)
cleanup() {
  local p
  for p in $cli $srv; do kill "$p" 2>/dev/null || true; done  # timeout passes it on
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # exit runs the EXIT trap, which does the cleanup

servers=()
if timeout 5 "$PARLEY" echo --help >/dev/null 2>&1; then servers+=(parley)
  if timeout 5 "$PARLEY" echo --help 2>/dev/null | grep -q -- '--io'; then servers+=(parley-uring); fi
else echo "skipping parley: '$PARLEY echo --help' failed (not built yet?)" >&2
fi
servers+=(c-epoll)
if ((have_uring_echo)); then servers+=(c-uring); fi
servers+=(python-seed)
if command -v node >/dev/null; then servers+=(node); else echo "skipping node: not installed" >&2; fi

server_cmd() {  # $1 server, $2 port -> array S
  case $1 in
    parley) S=("$PARLEY" echo -q --threads 1 -p "$2" --bind 127.0.0.1 --max-conns $((IDLE_CONNS + 100))) ;;
    parley-uring) S=("$PARLEY" echo --io uring -q --threads 1 -p "$2" --bind 127.0.0.1 --max-conns $((IDLE_CONNS + 100))) ;;
    c-epoll) S=("$out/epoll_echo" "$2") ;;
    c-uring) S=("$out/uring_echo" "$2") ;;
    python-seed) S=(python3 "$root/bench/seed_server.py" "$2") ;;
    node) S=(node "$root/bench/node_echo.js" "$2") ;;
  esac
}

# start_server NAME: sets port, srv (timeout wrapper) and spid (the server itself, for /proc).
# Not run in a $(subshell), so that the EXIT trap sees srv.
start_server() {
  local i
  port=$(free_port)
  server_cmd "$1" "$port"
  timeout "$SERVER_LIMIT" taskset -c 0 "${S[@]}" </dev/null >/dev/null 2>"$tmp/server.err" &
  srv=$!
  for ((i = 0; i < 200; i++)); do  # up to ~5 s to listen
    [[ -n $(ss -Hltn "sport = :$port") ]] && break
    kill -0 "$srv" 2>/dev/null || { note="server exited: $(head -c 300 "$tmp/server.err")"; srv=''; return 1; }
    sleep 0.025
  done
  ((i < 200)) || { note="server never listened"; stop_server; return 1; }
  spid=$(pgrep -P "$srv" | head -n 1)  # timeout forked it; taskset exec'd into it
  [[ -n $spid ]] || { note="server pid not found"; stop_server; return 1; }
}

stop_server() {
  local i
  [[ -n $srv ]] || return 0
  kill -TERM "$srv" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$srv" 2>/dev/null || break; sleep 0.05; done
  ((i < 100)) || { kill -KILL "${spid:-$srv}" "$srv" 2>/dev/null || true; }
  wait "$srv" 2>/dev/null || true
  srv=''
}

cpu_ticks() {  # utime+stime of all threads of pid $1; fields after "(comm) " start at 3
  local s f
  s=$(<"/proc/$1/stat")
  read -ra f <<<"${s##*) }"
  echo $((f[11] + f[12]))
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
field() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }  # KEY LINE -> value

# load CONNS: one pingpong run against the running server. Sets line, cpu (us per rt), note.
load() {
  local c0 c1 rc=0 rtts
  line='' cpu='' note=''
  c0=$(cpu_ticks "$spid")
  timeout $((DURATION + 15)) taskset -c 1 "$PP" -p "$port" -c "$1" -s "$SIZE" -d "$DURATION" \
    >"$tmp/pp.out" 2>"$tmp/pp.err" &
  cli=$!
  wait "$cli" || rc=$?
  cli=''
  c1=$(cpu_ticks "$spid")
  line=$(head -n 1 "$tmp/pp.out")
  rtts=$(field rtts "$line")
  if ((rc != 0)) || [[ -z $rtts || $rtts == 0 ]]; then
    note="pingpong rc=$rc (124 = timeout): $line $(head -c 200 "$tmp/pp.err")"
    line=''
    return
  fi
  [[ $(field errors "$line") == 0 ]] || note="(connection errors!)"
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$TCK" -v n="$rtts" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
}


echo "servers: ${servers[*]}; $ROUNDS rounds of ${DURATION}s, $SIZE-byte ping-pong, conns: ${LOADS[*]}"
declare -A vals=()
n=${#servers[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    s=${servers[(k + r - 1) % n]}
    if ! start_server "$s"; then printf 'round %d  %-12s FAILED %s\n' "$r" "$s" "$note"; continue; fi
    for c in "${LOADS[@]}"; do
      load "$c"
      if [[ -z $line ]]; then printf 'round %d  %-12s c=%-3s FAILED %s\n' "$r" "$s" "$c" "$note"; continue; fi
      for key in rps p50_us p99_us; do vals[$s,$c,$key]+="$(field "$key" "$line") "; done
      vals[$s,$c,cpu]+="$cpu "
      printf 'round %d  %-12s c=%-3s rps=%-7s p50_us=%-7s p99_us=%-7s cpu_us/rt=%s %s\n' "$r" "$s" "$c" \
        "$(field rps "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" "$cpu" "$note"
    done
    stop_server
  done
done

# System calls per echo: perf on the server during one more run per load (not a timed round:
# perf costs the server CPU). Needs perf (linux-perf) and permission to trace the server.
declare -A sys=()
if command -v perf >/dev/null; then
  for s in "${servers[@]}"; do
    [[ $s == parley || $s == parley-uring || $s == c-epoll || $s == c-uring ]] || continue
    if ! start_server "$s"; then echo "syscalls $s: FAILED $note"; continue; fi
    for c in "${LOADS[@]}"; do
      timeout $((DURATION + 20)) perf stat -x, -e raw_syscalls:sys_enter -p "$spid" -o "$tmp/perf.out" &
      perf_pid=$!
      sleep 0.3
      load "$c"
      kill -INT "$perf_pid" 2>/dev/null || true
      wait "$perf_pid" 2>/dev/null || true
      calls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1; exit }' "$tmp/perf.out")
      rtts=$(field rtts "$line")
      if [[ -n $calls && $calls =~ ^[0-9]+$ && -n $rtts && $rtts != 0 ]]; then
        sys[$s,$c]=$(awk -v a="$calls" -v b="$rtts" 'BEGIN { printf "%.2f", a / b }')
      else
        echo "syscalls $s c=$c: FAILED ($(head -c 200 "$tmp/perf.out"))"
      fi
    done
    stop_server
  done
else
  echo "no perf (apt-get install linux-perf): system calls per echo not measured" >&2
fi

# RSS per idle connection, one run per server (it barely varies between runs).
declare -A rss=() rss_n=()
for s in "${servers[@]}"; do
  case $s in python-seed | node) m=$SMALL_IDLE ;; *) m=$IDLE_CONNS ;; esac
  if ! start_server "$s"; then echo "rss $s: FAILED $note"; continue; fi
  r0=$(rss_kb "$spid")
  timeout $((HOLD_SECS + 20)) taskset -c 1 "$PP" --hold -p "$port" -c "$m" -d "$HOLD_SECS" \
    >"$tmp/hold.out" 2>&1 &
  cli=$!
  for ((i = 0; i < 300; i++)); do  # connecting is bounded by 10 s in pingpong itself
    grep -q 'held=' "$tmp/hold.out" && break
    kill -0 "$cli" 2>/dev/null || break
    sleep 0.05
  done
  held=$(field held "$(grep -m1 'held=' "$tmp/hold.out" || true)")
  # Connected is not yet accepted: wait until the listener's accept queue (Recv-Q) is empty.
  for ((i = 0; i < 100; i++)); do
    [[ $(ss -Hltn "sport = :$port" | awk '{ print $2; exit }') == 0 ]] && break
    sleep 0.05
  done
  sleep 1
  r1=$(rss_kb "$spid")
  kill "$cli" 2>/dev/null || true
  wait "$cli" 2>/dev/null || true
  cli=''
  stop_server
  if [[ -z $held || $held == 0 ]]; then echo "rss $s: FAILED, no connection held: $(head -c 300 "$tmp/hold.out")"; continue; fi
  ((held == m)) || echo "rss $s: only $held of $m connections held" >&2
  rss[$s]=$(((r1 - r0) * 1024 / held))
  rss_n[$s]=$held
done

declare -A med=()
for s in "${servers[@]}"; do
  for c in "${LOADS[@]}"; do
    for key in rps p50_us p99_us cpu; do
      # shellcheck disable=SC2086  # word-splitting the space-separated list is intended
      med[$s,$c,$key]=$(median_of 2 ${vals[$s,$c,$key]-})
    done
  done
done

echo
echo "medians of $ROUNDS rounds:"
printf '%-12s %5s %9s %8s %8s %10s %8s %8s %8s %8s\n' server conns rps p50_us p99_us cpu_us/rt rps_xC cpu_xC rps_xP cpu_xP
for s in "${servers[@]}"; do
  for c in "${LOADS[@]}"; do
    if [[ -z ${med[$s,$c,rps]} ]]; then printf '%-12s %5s %9s\n' "$s" "$c" FAILED; continue; fi
    printf '%-12s %5s %9.0f %8s %8s %10s %8s %8s %8s %8s\n' "$s" "$c" "${med[$s,$c,rps]}" "${med[$s,$c,p50_us]}" \
      "${med[$s,$c,p99_us]}" "${med[$s,$c,cpu]}" \
      "$(ratio "${med[$s,$c,rps]}" "${med[c-epoll,$c,rps]-}")" "$(ratio "${med[$s,$c,cpu]}" "${med[c-epoll,$c,cpu]-}")" \
      "$(ratio "${med[$s,$c,rps]}" "${med[parley,$c,rps]-}")" "$(ratio "${med[$s,$c,cpu]}" "${med[parley,$c,cpu]-}")"
  done
done
echo
for s in "${servers[@]}"; do
  for c in "${LOADS[@]}"; do
    [[ -n ${sys[$s,$c]-} ]] && printf 'system calls per echo: %-12s c=%-4s %s\n' "$s" "$c" "${sys[$s,$c]}"
  done
done
echo
for s in "${servers[@]}"; do
  [[ -n ${rss[$s]-} ]] && printf 'RSS per idle connection: %-12s %8s bytes (%s connections)\n' "$s" "${rss[$s]}" "${rss_n[$s]}"
done
echo
if [[ " ${servers[*]} " == *" parley "* ]]; then
  for c in "${LOADS[@]}"; do
    echo "parley/C at $c conns: rps $(ratio "${med[parley,$c,rps]-}" "${med[c-epoll,$c,rps]-}")x," \
      "cpu per rt $(ratio "${med[parley,$c,cpu]-}" "${med[c-epoll,$c,cpu]-}")x"
  done
  echo "parley RSS per idle conn: ${rss[parley]-FAILED} bytes"
  if [[ " ${servers[*]} " == *" parley-uring "* ]]; then
    for c in "${LOADS[@]}"; do
      echo "parley io_uring/epoll at $c conns: rps $(ratio "${med[parley-uring,$c,rps]}" "${med[parley,$c,rps]}")x," \
        "cpu per rt $(ratio "${med[parley-uring,$c,cpu]}" "${med[parley,$c,cpu]}")x;" \
        "vs C epoll: rps $(ratio "${med[parley-uring,$c,rps]}" "${med[c-epoll,$c,rps]-}")x," \
        "cpu $(ratio "${med[parley-uring,$c,cpu]}" "${med[c-epoll,$c,cpu]-}")x"
      if [[ -n ${med[c-uring,$c,rps]-} ]]; then
        echo "  vs C io_uring: rps $(ratio "${med[parley-uring,$c,rps]}" "${med[c-uring,$c,rps]}")x," \
          "cpu $(ratio "${med[parley-uring,$c,cpu]}" "${med[c-uring,$c,cpu]}")x;" \
          "C io_uring vs C epoll: cpu $(ratio "${med[c-uring,$c,cpu]}" "${med[c-epoll,$c,cpu]-}")x"
      fi
    done
    echo "parley io_uring RSS per idle conn: ${rss[parley-uring]-FAILED} bytes"
  fi
else
  echo "parley: skipped (no 'parley echo' in $PARLEY)"
fi
