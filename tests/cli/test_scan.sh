# Port scans (parley scan, parley connect -z) inside a network namespace of their own: a few open
# ports, closed ones, and a range an nftables rule silently drops; the open set must equal
# OpenBSD nc's, nc's output shape and exit status must hold, and the dropped ports must be waited
# for at once, not one after the other as nc does.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have nft || ! have nc.openbsd; then
  echo "skipped: needs root, ip, nft (nftables) and nc.openbsd"
  exit 77
fi
NS="parley-scan-$$"
ip netns add "$NS" || { echo "skipped: cannot create a network namespace"; exit 77; }
cleanup_ns() { cleanup; ip netns del "$NS" 2>/dev/null; }
trap cleanup_ns EXIT
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns nft -f - <<'RULES' || exit 1
table inet scantest {
  chain input {
    type filter hook input priority 0;
    tcp dport 7000-7999 drop
    udp dport 7000-7999 drop
  }
}
RULES

# Open TCP ports 80 (http), 5001 and 5003; 5002 and 5004 closed; 7000-7999 dropped.
for port in 80 5001 5003; do
  in_ns "$PARLEY" echo -q -p "$port" --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
  BG_PIDS+=($!)
done
# UDP: 5101 answers (echo), 5102 is silent (a receiver that never answers), 5103 is closed.
in_ns "$PARLEY" echo -u -q -p 5101 --bind 127.0.0.1 </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
in_ns socat -u UDP-RECV:5102,bind=127.0.0.1 OPEN:/dev/null &
BG_PIDS+=($!)
wait_open() {
  local deadline=$((SECONDS + 10))
  until in_ns ss -Hltn 'sport = :5003' | grep -q . && in_ns ss -Hlun 'sport = :5102' | grep -q .; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}
wait_open || { echo "servers did not start"; exit 1; }

PORTS="80 5001 5002 5003 5004 7000 7001"

# nc -z prints nothing without -v; with -v its "succeeded!" lines are the ones parley prints.
open_set_equals_nc() {
  local ours theirs
  # shellcheck disable=SC2086
  theirs=$(in_ns timeout 30 nc.openbsd -z -v -w 1 127.0.0.1 $PORTS 2>&1 | grep succeeded | sed 's/^/parley: /')
  # shellcheck disable=SC2086
  ours=$(in_ns timeout 30 "$PARLEY" connect -z -w 1s 127.0.0.1 $PORTS 2>&1)
  assert_eq "$theirs" "$ours" "open ports, in nc's words" || return 1
  assert_eq "parley: Connection to 127.0.0.1 80 port [tcp/http] succeeded!
parley: Connection to 127.0.0.1 5001 port [tcp/*] succeeded!
parley: Connection to 127.0.0.1 5003 port [tcp/*] succeeded!" "$ours"
}

verbose_states() {
  local rc=0
  in_ns timeout 30 "$PARLEY" scan -v -w 500ms 127.0.0.1 5001-5002,7000 2>"$WORK/v.err" || rc=$?
  assert_eq 0 "$rc" "exit status" || return 1
  assert_eq "parley: Connection to 127.0.0.1 5001 port [tcp/*] succeeded!
parley: connect to 127.0.0.1 port 5002 (tcp) failed: Connection refused
parley: connect to 127.0.0.1 port 7000 (tcp) failed: timed out (filtered)" "$(cat "$WORK/v.err")"
}

json_lines() {
  local out
  out=$(in_ns timeout 30 "$PARLEY" scan --json -w 500ms 127.0.0.1:80,5002,7001) || return 1
  out=$(sed -E 's/"rtt_us":[0-9]+/"rtt_us":N/' <<<"$out")
  assert_eq '{"host":"127.0.0.1","port":80,"proto":"tcp","rtt_us":N,"service":"http","state":"open"}
{"host":"127.0.0.1","port":5002,"proto":"tcp","rtt_us":N,"service":null,"state":"closed"}
{"host":"127.0.0.1","port":7001,"proto":"tcp","rtt_us":null,"service":null,"state":"filtered"}' "$out"
}

exit_statuses() {
  local rc=0
  in_ns "$PARLEY" scan -w 500ms 127.0.0.1 5002,5004,7000 2>/dev/null || rc=$?
  assert_eq 1 "$rc" "nothing open" || return 1
  expect_exit 2 "parley: scan: bad port list '1-70000': '70000' is not a port (1-65535)" "$PARLEY" scan 127.0.0.1 1-70000 || return 1
  expect_exit 2 "parley: connect: bad port list 'htp': unknown service 'htp'" "$PARLEY" connect -z 127.0.0.1 htp || return 1
  expect_exit 2 "parley: scan: give the host and the ports: HOST PORTS (e.g. 20-30,80,443,http)" "$PARLEY" scan 127.0.0.1
}

# 300 dropped ports with -w 1s: one wave of probes, so about a second (nc: 300 seconds).
dropped_ports_in_parallel() {
  local start rc=0 ms
  start=$(date +%s%N)
  in_ns timeout 30 "$PARLEY" scan -w 1s --json 127.0.0.1 7000-7299 >"$WORK/drop.json" 2>&1 || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  assert_eq 1 "$rc" "exit status" || return 1
  assert_eq 300 "$(grep -c '"state":"filtered"' "$WORK/drop.json")" "filtered ports" || return 1
  [ "$ms" -lt 5000 ] || fail "took ${ms} ms: probes did not overlap"
}

random_order() {
  in_ns timeout 30 "$PARLEY" scan -r --json 127.0.0.1 5001-5040 >"$WORK/r.json" 2>/dev/null
  local order
  order=$(grep -o '"port":[0-9]*' "$WORK/r.json" | cut -d: -f2)
  assert_eq "$(seq 5001 5040)" "$(sort -n <<<"$order")" "each port once" || return 1
  [ "$order" != "$(seq 5001 5040)" ] || fail "-r kept the order"
}

udp_states() {
  local out rc=0
  out=$(in_ns timeout 30 "$PARLEY" scan -u --json -w 500ms 127.0.0.1 5101,5102,5103,7005) || rc=$?
  assert_eq 0 "$rc" "exit status" || return 1
  assert_eq "5101 open
5102 open|filtered
5103 closed
7005 open|filtered" "$(sed -E 's/.*"port":([0-9]+).*"state":"([a-z|]+)".*/\1 \2/' <<<"$out")"
}

udp_lines() {
  in_ns timeout 30 "$PARLEY" connect -z -u -v -w 500ms 127.0.0.1 5101-5103 2>"$WORK/u.err"
  assert_eq "parley: Connection to 127.0.0.1 5101 port [udp/*] succeeded!
parley: 127.0.0.1 5102 port [udp/*] open|filtered: no answer
parley: connect to 127.0.0.1 port 5103 (udp) failed: Connection refused" "$(cat "$WORK/u.err")"
}

# --quiet (issue 19): nothing printed, the exit status says it.
quiet_exit_status() {
  local rc=0
  in_ns "$PARLEY" scan --quiet -w 500ms 127.0.0.1 5001,5002 >"$WORK/q.out" 2>&1 || rc=$?
  assert_eq "0 " "$rc $(cat "$WORK/q.out")" "one open" || return 1
  rc=0
  in_ns "$PARLEY" scan --quiet -w 500ms 127.0.0.1 5002,7000 >"$WORK/q.out" 2>&1 || rc=$?
  assert_eq "1 " "$rc $(cat "$WORK/q.out")" "none open" || return 1
  expect_exit 2 "parley: scan: --verbose excludes --quiet" "$PARLEY" scan --quiet -v 127.0.0.1 1
}

check "open set and lines equal nc.openbsd -z" open_set_equals_nc
check "--quiet: the exit status only" quiet_exit_status
check "-v: closed and filtered ports" verbose_states
check "--json: one object per port" json_lines
check "exit 0 / 1 / 2" exit_statuses
check "dropped ports probed in parallel" dropped_ports_in_parallel
check "-r: random order, each port once" random_order
check "UDP: open, open|filtered, closed" udp_states
check "UDP: nc's lines" udp_lines
finish
