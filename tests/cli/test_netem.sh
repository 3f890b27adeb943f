# Data integrity over a faulty link (issue 18): two network namespaces joined by a veth pair whose
# both ends lose, delay, reorder and duplicate packets (tc netem). PARLEY_NETEM_BYTES (64 MiB) of
# random bytes go through connect -> listen, through echo and back, and through forward to an echo
# server and back; the sha256 must match every time, and every transfer ends within its bound.
# Kernels without sch_netem (no modules, as in some containers) get random loss from nftables
# instead (a netdev ingress rule that drops 1 packet in 50): loss only, said in the output.
# Addresses: 10.218.0.0/24 inside the test's own namespaces; nothing leaves them.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have tc; then
  echo "skipped: needs root, ip and tc"
  exit 77
fi

SIZE=${PARLEY_NETEM_BYTES:-$((64 << 20))}
NA="parley-netem-a-$$" NB="parley-netem-b-$$"
A=10.218.0.1 B=10.218.0.2
# Whatever still runs in the namespaces goes with them (a process left behind would keep ctest's
# pipes, and the CPU lock of whoever started the test, forever).
cleanup_ns() {
  local ns
  cleanup
  for ns in "$NA" "$NB"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  ip netns del "$NA" 2>/dev/null
  ip netns del "$NB" 2>/dev/null
}
trap cleanup_ns EXIT
if ! ip netns add "$NA" || ! ip netns add "$NB"; then
  echo "skipped: cannot make network namespaces"
  exit 77
fi
in_a() { ip netns exec "$NA" "$@"; }
in_b() { ip netns exec "$NB" "$@"; }
ip link add va netns "$NA" type veth peer name vb netns "$NB" || exit 1
in_a ip addr add "$A/24" dev va
in_b ip addr add "$B/24" dev vb
for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
# One wire packet per skb (no TSO/GSO super-packets), so a fault hits a segment, not 64 KiB.
in_a ip link set va gso_max_segs 1 gso_max_size 1500 2>/dev/null
in_b ip link set vb gso_max_segs 1 gso_max_size 1500 2>/dev/null
in_a ip link set va up
in_b ip link set vb up

# Faults on both ends, so that data and acknowledgements both suffer.
FAULTS="tc netem: loss 1%, delay 4ms +-2ms, reorder 5%, duplicate 1% (both directions)"
if ! in_a tc qdisc add dev va root netem loss 1% delay 4ms 2ms reorder 5% duplicate 1% 2>/dev/null; then
  FAULTS="nftables: 2% random loss (both directions; no sch_netem in this kernel)"
  for side in "$NA va" "$NB vb"; do
    set -- $side
    printf 'table netdev faults {\n chain in {\n  type filter hook ingress device %s priority 0;\n  numgen random mod 100 < 2 counter drop\n }\n}\n' \
      "$2" | ip netns exec "$1" nft -f - || { echo "skipped: neither netem nor nftables"; exit 77; }
  done
else
  in_b tc qdisc add dev vb root netem loss 1% delay 4ms 2ms reorder 5% duplicate 1% || exit 1
fi
echo "    faults: $FAULTS; $SIZE bytes per transfer"

head -c "$SIZE" /dev/urandom >"$WORK/payload"
WANT=$(sha "$WORK/payload")

# dropped: how many packets the faults removed so far (nftables counters; netem's own stats).
dropped() {
  local ns
  for ns in "$NA" "$NB"; do
    ip netns exec "$ns" nft list ruleset 2>/dev/null | grep -Eo 'packets [0-9]+'
    ip netns exec "$ns" tc -s qdisc show 2>/dev/null | grep -Eo 'dropped [0-9]+'
  done | awk '{ n += $2 } END { print n + 0 }'
}

# A server in namespace A on a fixed port (the namespaces are ours, so the port is free).
serve_in_a() {
  local name=$1
  shift
  # Not through in_a: a function in the background is a subshell, and $! would be its pid.
  ip netns exec "$NA" "$PARLEY" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  SPID=$!
  BG_PIDS+=("$SPID")
  wait_for_line "$WORK/$name.err" 'Listening on' || return 1
}

connect_to_listen() {
  local before
  before=$(dropped)
  serve_in_a l listen -v --recv-only "$A" 5001 || return 1
  in_b timeout 300 "$PARLEY" connect "$A" 5001 <"$WORK/payload" || fail "connect failed" || return 1
  wait_exit "$SPID" 60 || return 1
  assert_eq "$WANT" "$(sha "$WORK/l.out")" "sha256 received by listen" || return 1
  echo "    connect -> listen: $(($(dropped) - before)) packets dropped on the way"
  rm -f "$WORK/l.out"
}

through_echo() {
  local before
  before=$(dropped)
  serve_in_a e echo --bind "$A" -p 5002 || return 1
  in_b timeout 300 "$PARLEY" connect "$A" 5002 <"$WORK/payload" >"$WORK/e.back" ||
    fail "connect failed" || return 1
  assert_eq "$WANT" "$(sha "$WORK/e.back")" "sha256 echoed" || return 1
  echo "    echo round trip: $(($(dropped) - before)) packets dropped on the way"
  kill "$SPID"
  wait_exit "$SPID" 10 || fail "echo did not end on SIGTERM: $(tail -3 "$WORK/e.err")" || return 1
  rm -f "$WORK/e.back"
}

# Client in B -> forward in A -> echo in B -> back: four crossings of the faulty link.
through_forward() {
  local before
  before=$(dropped)
  ip netns exec "$NB" "$PARLEY" echo --bind "$B" -p 5003 >/dev/null 2>"$WORK/fe.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/fe.err" 'Listening on' || return 1
  serve_in_a f forward -v "$A:5004" "$B:5003" || return 1
  in_b timeout 300 "$PARLEY" connect "$A" 5004 <"$WORK/payload" >"$WORK/f.back" ||
    fail "connect failed: $(cat "$WORK/f.err")" || return 1
  assert_eq "$WANT" "$(sha "$WORK/f.back")" "sha256 through forward and echo" || return 1
  echo "    forward -> echo round trip: $(($(dropped) - before)) packets dropped on the way"
  rm -f "$WORK/f.back"
}

check "connect -> listen over a faulty link: sha-equal" connect_to_listen
check "echo over a faulty link: sha-equal" through_echo
check "forward over a faulty link: sha-equal" through_forward
finish
