# Scenarios that need a network of their own: a host that never answers (connect timeout) and a
# name with an unreachable first address (Happy Eyeballs). The test builds a network namespace
# with a veth pair whose far side drops every frame (static neighbour entries with a MAC nobody
# has), so SYNs vanish as they would towards a dead host -- and no packet leaves the namespace.
# Addresses come from the documentation ranges (192.0.2.0/24, 2001:db8::/32).
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have unshare; then
  echo "skipped: needs root, ip and unshare"
  exit 77
fi

NS="parley-test-$$"
ip netns add "$NS" || exit 1
cleanup_ns() { ip netns del "$NS" 2>/dev/null; cleanup; }
trap cleanup_ns EXIT
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link add va type veth peer name vb
in_ns ip link set va up
in_ns ip link set vb up
in_ns ip addr add 192.0.2.1/24 dev va
in_ns ip -6 addr add 2001:db8::1/64 dev va nodad
in_ns ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev va nud permanent
in_ns ip -6 neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev va nud permanent

# A private /etc/hosts for one command, in a mount namespace of its own.
printf '2001:db8::2 slow-first.test\n127.0.0.1 slow-first.test\n::1 dual.test\n127.0.0.1 dual.test\n' >"$WORK/hosts"
with_hosts() { in_ns unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts" "$@"; }

connect_timeout() {
  local start=$SECONDS rc=0
  in_ns timeout 10 "$PARLEY" connect -w 1s 192.0.2.2 80 </dev/null 2>"$WORK/to.err" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  grep -qx "parley: connect to 192.0.2.2:80: timed out" "$WORK/to.err" || fail "$(cat "$WORK/to.err")" || return 1
  [ $((SECONDS - start)) -le 3 ] || fail "took $((SECONDS - start))s"
}

# The first address never answers; parley starts the next one after the stagger delay and is
# connected long before the -w limit.
happy_eyeballs_past_dead_address() {
  in_ns "$PARLEY" listen -v 127.0.0.1 0 >"$WORK/he.out" 2>"$WORK/he.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/he.err" 'Listening on' || return 1
  local port start rc=0
  port=$(port_from "$WORK/he.err")
  start=$(date +%s%N)
  echo "made it" | with_hosts timeout 10 "$PARLEY" connect -v -v -w 5s slow-first.test "$port" 2>"$WORK/he.cerr" || rc=$?
  local ms=$((($(date +%s%N) - start) / 1000000))
  assert_eq 0 "$rc" "exit status ($(cat "$WORK/he.cerr"))" || return 1
  grep -qx "parley: Connected to 127.0.0.1:$port." "$WORK/he.cerr" || fail "$(cat "$WORK/he.cerr")" || return 1
  [ "$ms" -lt 2000 ] || fail "took ${ms} ms: waited for the dead address" || return 1
  # It did try the dead address first: the winner started one stagger (250 ms) later.
  [ "$ms" -ge 240 ] || fail "connected in ${ms} ms: the dead address was not tried first" || return 1
  wait_for_line "$WORK/he.out" '^made it$'
}

# "dual.test" resolves to ::1 first; the server listens on 127.0.0.1 only (ncat #157).
ipv4_fallback() {
  in_ns "$PARLEY" listen -v 127.0.0.1 0 >"$WORK/v4.out" 2>"$WORK/v4.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/v4.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/v4.err")
  echo "over v4" | with_hosts timeout 10 "$PARLEY" connect -v -v dual.test "$port" 2>"$WORK/v4.cerr" || fail "$(cat "$WORK/v4.cerr")" || return 1
  grep -qx "parley: Attempt to \[::1\]:$port failed: Connection refused." "$WORK/v4.cerr" || fail "no ::1 attempt: $(cat "$WORK/v4.cerr")" || return 1
  wait_for_line "$WORK/v4.out" '^over v4$'
}

ipv6_only_server() {
  in_ns "$PARLEY" listen -v ::1 0 >"$WORK/v6.out" 2>"$WORK/v6.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/v6.err" 'Listening on' || return 1
  echo "over v6" | with_hosts timeout 10 "$PARLEY" connect -v dual.test "$(port_from "$WORK/v6.err")" 2>"$WORK/v6.cerr" || return 1
  wait_for_line "$WORK/v6.out" '^over v6$'
}

check "connect timeout (-w) to a host that never answers: exit 1" connect_timeout
check "Happy Eyeballs: past a dead first address" happy_eyeballs_past_dead_address
check "Happy Eyeballs: ::1 refused, 127.0.0.1 works" ipv4_fallback
check "IPv6-only server reached by name" ipv6_only_server
finish
