#!/usr/bin/env bash
# Port scan against a host that silently drops packets: 1,000 ports with -w 1s, parley (probes
# in parallel) against OpenBSD nc -z (one port at a time, the full -w for each). The target is
# 127.0.0.1 inside a network namespace this script makes, where an nftables rule drops every SYN
# to ports 7000-7999, plus a handful of open ports whose set must come out the same from both.
#
#   bench/scan.sh [PATH_TO_PARLEY]        (needs root, ip, nft, nc.openbsd)
#   ROUNDS=5 NC_PORTS=5 bench/scan.sh
#
# nc needs ~1 s per dropped port, so it is timed on NC_PORTS dropped ports and its time for
# 1,000 is that figure scaled (reported as such). Medians of ROUNDS runs each.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-5}
NC_PORTS=${NC_PORTS:-5}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespace, nftables)" >&2; exit 2; }
for c in ip nft nc.openbsd taskset; do command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }; done

NS="parley-bench-scan-$$"
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns nft -f - <<'RULES'
table inet bench {
  chain input {
    type filter hook input priority 0;
    tcp dport 7000-7999 drop
  }
}
RULES
for port in 22 80 443 5432 8080; do
  # ip netns exec, not the in_ns function: $! must be the server itself (a function run with &
  # is a subshell, and killing that would leave the server running).
  ip netns exec "$NS" "$PARLEY" echo -q -p "$port" --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
  pids+=($!)
done
sleep 0.5

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

parley_times=() nc_times=()
for ((r = 1; r <= ROUNDS; r++)); do
  t0=$(date +%s%N)
  in_ns taskset -c 1 "$PARLEY" scan -w 1s 127.0.0.1 7000-7999 2>/dev/null || true
  t1=$(date +%s%N)
  parley_times+=("$(secs "$t0" "$t1")")
  t0=$(date +%s%N)
  in_ns taskset -c 1 nc.openbsd -z -w 1 127.0.0.1 7000-$((7000 + NC_PORTS - 1)) 2>/dev/null || true
  t1=$(date +%s%N)
  nc_times+=("$(secs "$t0" "$t1")")
  printf 'round %d  parley 1000 ports %6s s   nc %d ports %6s s\n' "$r" "${parley_times[-1]}" "$NC_PORTS" "${nc_times[-1]}"
done
p=$(median "${parley_times[@]}")
n=$(median "${nc_times[@]}")
n1000=$(awk -v n="$n" -v k="$NC_PORTS" 'BEGIN { printf "%.0f", n / k * 1000 }')
echo
echo "1,000 dropped ports, -w 1s: parley $p s (median of $ROUNDS); nc.openbsd ~$n1000 s (scaled from $n s for $NC_PORTS ports)"
echo "parley is $(awk -v a="$p" -v b="$n1000" 'BEGIN { printf "%.0f", b / a }') x faster"

# The open set on the host with a handful of open ports (and the dropped ones in between).
list="20-25 79-81 440-445 5430-5435 7000-7002 8079-8081"
# shellcheck disable=SC2086
theirs=$(in_ns nc.openbsd -z -v -w 1 127.0.0.1 $list 2>&1 | grep -o 'to 127.0.0.1 [0-9]* port' | awk '{print $3}')
# shellcheck disable=SC2086
ours=$(in_ns "$PARLEY" scan -w 1s 127.0.0.1 $list 2>&1 | grep -o 'to 127.0.0.1 [0-9]* port' | awk '{print $3}')
if [ "$theirs" = "$ours" ]; then
  echo "open set equal to nc's: $(echo $ours)"
else
  echo "!!! open sets differ: nc [$(echo $theirs)] parley [$(echo $ours)]"
  exit 1
fi
