#!/usr/bin/env bash
# Bulk throughput: one payload file, ONE TCP connection on 127.0.0.1, receiver -> /dev/null,
# through parley and the usual netcat-like tools, with iperf3 as the ceiling.
#
#   bench/bulk.sh [PATH_TO_PARLEY]        (default: build/release/apps/parley/parley)
#   BULK_BYTES=$((256<<20)) ROUNDS=3 bench/bulk.sh
#
# Method: the machine is noisy, so tools run interleaved in rounds (each round starts at a
# different tool, so no tool always runs first after an idle pause) and the MEDIAN wall time
# per tool is reported. Receiver is pinned to core 0, sender to core 1. Every tool is timed
# the same way: wall time from starting the sender until both sender and receiver have
# exited (receiver start-up is excluded: we wait until it listens). For iperf3 that also
# includes its control-connection handshake and result exchange (a few ms); its own
# receiver figure from -J is printed per round for reference only.
# Note: iperf3 -F does read()+write() (a userspace copy per side); parley splices when it
# can, so beating iperf3 here means "beats a copying tool", not "beats the kernel".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
BYTES=${BULK_BYTES:-$((2 << 30))}
ROUNDS=${ROUNDS:-5}
LIMIT=120  # seconds per transfer; a stuck tool must not stall the whole run

# socat moves data in 8 KiB chunks by default, a known bottleneck that a user who cares
# about bulk speed would lift with -b. ncat and nc.openbsd have no such knob, so both socat
# variants are shown: "socat" (out of the box, like every other tool here) and
# "socat-b256k" (-b 262144, the same copy size parley's pump uses without splice).
# "parley-o" is parley's sender with -o (a traffic log of every byte): the log must keep the
# data on the zero-copy path, at >= 0.5x plain parley. TOOLS="parley parley-o" runs just those.
ALL_TOOLS=(iperf3 ncat nc.openbsd socat socat-b256k parley parley-o)
[[ -n ${TOOLS:-} ]] && read -r -a ALL_TOOLS <<<"$TOOLS"

tmp=$(mktemp -d /tmp/parley-bulk.XXXXXX)
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # exit runs the EXIT trap, which does the cleanup

tools=()
for t in "${ALL_TOOLS[@]}"; do
  case $t in
    parley*) bin=$PARLEY ;;
    socat-*) bin=socat ;;
    *) bin=$t ;;
  esac
  if command -v "$bin" >/dev/null; then tools+=("$t"); else echo "skipping $t: $bin not found" >&2; fi
done
for c in taskset ss python3 timeout; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done

payload=$tmp/payload
echo "payload: $BYTES bytes, $ROUNDS rounds, tools: ${tools[*]}"
head -c "$BYTES" /dev/urandom >"$payload"
cat "$payload" >/dev/null  # into the page cache, so no tool pays for the disk


recv_cmd() {  # $1 tool, $2 port -> array R
  case $1 in
    parley*) R=("$PARLEY" listen -v --recv-only 127.0.0.1 0) ;;  # port 0: read it back from stderr
    ncat) R=(ncat -l 127.0.0.1 "$2" --recv-only) ;;
    nc.openbsd) R=(nc.openbsd -l 127.0.0.1 "$2") ;;
    socat) R=(socat -u "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr" OPEN:/dev/null) ;;
    socat-b256k) R=(socat -b 262144 -u "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr" OPEN:/dev/null) ;;
    iperf3) R=(iperf3 -s -1 -B 127.0.0.1 -p "$2") ;;
  esac
}

send_cmd() {  # $1 tool, $2 port -> array S (stdin is the payload for all)
  case $1 in
    parley) S=("$PARLEY" connect 127.0.0.1 "$2") ;;
    parley-o) S=("$PARLEY" connect -o "$tmp/traffic.log" 127.0.0.1 "$2") ;;
    ncat) S=(ncat --send-only 127.0.0.1 "$2") ;;
    nc.openbsd) S=(nc.openbsd -N 127.0.0.1 "$2") ;;
    socat) S=(socat -u "FILE:$payload" "TCP:127.0.0.1:$2") ;;
    socat-b256k) S=(socat -b 262144 -u "FILE:$payload" "TCP:127.0.0.1:$2") ;;
    iperf3) S=(iperf3 -c 127.0.0.1 -p "$2" -F "$payload" -n "$BYTES" -J) ;;
  esac
}

# One transfer. Sets status (OK/FAILED), secs and note. Not run in a $(subshell), so that
# the EXIT trap sees the pids it must kill.
transfer() {
  local tool=$1 port='' rpid spid rrc=0 src=0 t0 t1 i got note_
  local rerr=$tmp/recv.err serr=$tmp/send.err sout=$tmp/send.out
  status=FAILED secs='' note=''
  pids=()
  : >"$rerr"
  [[ $tool == parley* ]] || port=$(free_port)
  recv_cmd "$tool" "$port"
  timeout "$LIMIT" taskset -c 0 "${R[@]}" </dev/null >/dev/null 2>"$rerr" &
  rpid=$!; pids+=("$rpid")
  for ((i = 0; i < 200; i++)); do  # up to ~5 s for the receiver to listen
    if [[ $tool == parley* ]]; then
      port=$(sed -n 's/.*Listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$rerr")
      [[ -n $port ]] && break
    elif [[ -n $(ss -Hltn "sport = :$port") ]]; then break
    fi
    kill -0 "$rpid" 2>/dev/null || { note="receiver exited: $(head -c 200 "$rerr")"; return; }
    sleep 0.025
  done
  ((i < 200)) || { kill "$rpid" 2>/dev/null || true; note="receiver never listened"; return; }

  send_cmd "$tool" "$port"
  t0=$(date +%s.%N)
  # Background + wait (not a foreground child) so Ctrl-C is handled at once.
  timeout "$LIMIT" taskset -c 1 "${S[@]}" <"$payload" >"$sout" 2>"$serr" &
  spid=$!; pids+=("$spid")
  wait "$spid" || src=$?
  ((src == 0)) || kill "$rpid" 2>/dev/null || true  # a failed sender must not leave it waiting
  wait "$rpid" || rrc=$?
  t1=$(date +%s.%N)
  pids=()
  if ((src != 0 || rrc != 0)); then
    note="sender rc=$src receiver rc=$rrc (124 = timeout): $(cat "$serr" "$rerr" | head -c 300 | tr '\n' ' ')"
    return
  fi
  case $tool in
    parley*)  # -v exit line: "parley: 0 bytes sent, N bytes received in S seconds."
      got=$(sed -n 's/.* \([0-9][0-9]*\) bytes received.*/\1/p' "$rerr")
      if [[ $got != "$BYTES" ]]; then
        mismatches=$((mismatches + 1))
        note="!!!!!!!! BYTE COUNT MISMATCH: parley received '${got}' of $BYTES bytes !!!!!!!!"
        return
      fi ;;
    iperf3)
      read -r got note_ < <(python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(int(e["bytes"]), "(iperf3 own receiver figure: %.2f GB/s)" % (e["bits_per_second"] / 8e9))' "$sout" 2>/dev/null) || true
      if [[ $got != "$BYTES" ]]; then note="iperf3 received '${got}' of $BYTES bytes"; return; fi
      note=$note_ ;;
  esac
  status=OK secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}


gbps() { awk -v n="$BYTES" -v s="$1" 'BEGIN { printf "%.2f", n / s / 1e9 }'; }

declare -A times=()
mismatches=0
n=${#tools[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    tool=${tools[(k + r - 1) % n]}
    transfer "$tool"
    if [[ $status == OK ]]; then
      times[$tool]+="$secs "
      printf 'round %d  %-12s %8.3f s  %6s GB/s %s\n' "$r" "$tool" "$secs" "$(gbps "$secs")" "$note"
    else
      printf 'round %d  %-12s FAILED %s\n' "$r" "$tool" "$note"
    fi
  done
done

declare -A med=()
for t in "${tools[@]}"; do
  # shellcheck disable=SC2086  # word-splitting the space-separated list is intended
  med[$t]=$(median_of 4 ${times[$t]-})
done
speedup() { ratio "${med[$2]-}" "${med[$1]-}"; }  # how many times faster tool $1 is than $2

echo
printf '%-12s %9s %7s %9s %7s\n' tool median_s GB/s x_iperf3 x_ncat
for t in "${tools[@]}"; do
  if [[ -z ${med[$t]} ]]; then printf '%-12s %9s\n' "$t" FAILED; continue; fi
  printf '%-12s %9.3f %7s %9s %7s\n' "$t" "${med[$t]}" "$(gbps "${med[$t]}")" \
    "$(speedup "$t" iperf3)" "$(speedup "$t" ncat)"
done
if [[ -n ${med[parley-o]-} && -n ${med[parley]-} ]]; then
  echo "parley -o: $(gbps "${med[parley-o]}") GB/s = $(speedup parley-o parley) x plain parley (target >= 0.5)"
fi
if [[ -n ${med[parley]-} ]]; then
  echo "parley: $(gbps "${med[parley]}") GB/s = $(speedup parley iperf3) x iperf3, $(speedup parley ncat) x ncat"
else
  echo "parley: FAILED (no successful run)"
fi
((mismatches == 0)) || echo "!!!!!!!! parley BYTE COUNT MISMATCH in $mismatches run(s), see above !!!!!!!!"
