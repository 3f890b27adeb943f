# parley conns against the kernel's truth (ss), and replayed recordings with exact expected output.
source "$(dirname "$0")/lib.sh"
FIX="$(dirname "$0")/../fixtures/conns"

# Recorded /proc files and netlink answers always give the same output.
replay_exact() {
  local expected=$1
  shift
  "$PARLEY" conns "$@" >"$WORK/replay.out" || return 1
  diff -u "$FIX/expected/$expected" "$WORK/replay.out" >&2 || fail "output differs from $expected"
}

start_echo_with_clients() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 --threads 1 -q >/dev/null 2>"$WORK/echo.err" </dev/null &
  EPID=$!
  BG_PIDS+=("$EPID")
  wait_for_line "$WORK/echo.err" 'Listening on' || return 1
  EPORT=$(port_from "$WORK/echo.err")
  CPIDS=()
  local i
  use_quiet_input  # No EOF on the clients' stdin: that would start closing the connections.
  for i in $(seq 1 25); do
    "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null <"$QUIET" &
    CPIDS+=($!)
  done
  BG_PIDS+=("${CPIDS[@]}")
  local deadline=$((SECONDS + 10))
  while [ "$(ss -Htn state established "( sport = :$EPORT )" | wc -l)" -lt 25 ]; do
    [ $SECONDS -lt $deadline ] || { fail "clients did not connect"; return 1; }
    sleep 0.1
  done
}

# (state local peer) triples, sorted, from ss and from parley's table.
ss_set() { ss -Htan "( sport = :$EPORT or dport = :$EPORT )" | awk '{print $1, $4, $5}' | sed 's/0\.0\.0\.0:\*/*/' | sort; }
table_set() { awk 'NR > 1 {print $1, $4, $5}' "$1" | sort; }

live_matches_ss() {
  "$PARLEY" conns --port "$EPORT" >"$WORK/live.out" || return 1
  assert_eq 1 "$(grep -c '^LISTEN ' "$WORK/live.out")" "listeners" || return 1
  assert_eq 25 "$(grep -c '^  ESTAB ' "$WORK/live.out")" "connections grouped under the listener" || return 1
  assert_eq 25 "$(grep -c '^ESTAB ' "$WORK/live.out")" "client sides" || return 1
  assert_eq "$(ss_set)" "$(table_set "$WORK/live.out")" "same sockets as ss"
}

processes_named() {
  "$PARLEY" conns --port "$EPORT" -p >"$WORK/p.out" || return 1
  assert_eq 26 "$(grep -c "parley pid=$EPID fd=" "$WORK/p.out")" "rows owned by the server" || return 1
  local pid
  for pid in "${CPIDS[@]}"; do
    grep -Eq "^ESTAB .*:$EPORT +parley pid=$pid fd=[0-9]+$" "$WORK/p.out" || { fail "client $pid not named"; return 1; }
  done
  "$PARLEY" conns --pid "$EPID" >"$WORK/pid.out" || return 1
  assert_eq 27 "$(wc -l <"$WORK/pid.out")" "--pid rows (header + 26)"
}

json_matches() {
  "$PARLEY" conns --port "$EPORT" --json -p >"$WORK/j.out" || return 1
  python3 - "$WORK/j.out" "$EPID" >"$WORK/j.set" <<'PY' || return 1
import json, sys
pid = int(sys.argv[2])
for line in open(sys.argv[1]):
    o = json.loads(line)
    peer = "*" if o["peer"]["port"] == 0 else f'{o["peer"]["address"]}:{o["peer"]["port"]}'
    print(o["state"], f'{o["local"]["address"]}:{o["local"]["port"]}', peer)
    assert o["proto"] == "tcp" and o["family"] == "ipv4", o
    assert o["processes"], "no owner"
    if o["local"]["port"] == int(o["local"]["port"]) and o["listener"]:
        assert o["processes"][0]["pid"] == pid
PY
  assert_eq "$(ss_set)" "$(sort "$WORK/j.set")" "JSON set"
}

proc_fallback_same() {
  "$PARLEY" conns --port "$EPORT" --backend proc >"$WORK/proc.out" || return 1
  assert_eq "$(table_set "$WORK/live.out")" "$(table_set "$WORK/proc.out")" "netlink vs /proc"
}

summary_counts() {
  "$PARLEY" conns --port "$EPORT" -s >"$WORK/s.out" || return 1
  grep -qx "tcp         51      51       0  ESTAB 50, LISTEN 1" "$WORK/s.out" || fail "$(cat "$WORK/s.out")"
}

udp_and_unix() {
  "$PARLEY" echo -u -p 0 --bind 127.0.0.1 -q >/dev/null 2>"$WORK/u.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/u.err" 'Listening on' || return 1
  local uport
  uport=$(port_from "$WORK/u.err")
  "$PARLEY" conns -u --port "$uport" >"$WORK/u.out" || return 1
  grep -Eq "^UNCONN +0 +0 +127\.0\.0\.1:$uport +\*$" "$WORK/u.out" || fail "udp: $(cat "$WORK/u.out")" || return 1
  "$PARLEY" listen -U "$WORK/x.sock" </dev/null >/dev/null 2>&1 &
  BG_PIDS+=($!)
  sleep 0.3
  "$PARLEY" conns -x -l >"$WORK/x.out" || return 1
  grep -Eq "^u_str +LISTEN +0 +[0-9]+ +$WORK/x.sock +\*$" "$WORK/x.out" || fail "unix: $(cat "$WORK/x.out")" || return 1
  "$PARLEY" conns -tux -l >"$WORK/all.out" || return 1
  grep -Eq "^udp +UNCONN .*127\.0\.0\.1:$uport" "$WORK/all.out" && grep -Eq "^u_str +LISTEN .*$WORK/x.sock" "$WORK/all.out" ||
    fail "proto column: $(cat "$WORK/all.out")"
}

bad_state() {
  expect_exit 2 "" "$PARLEY" conns --state bogus && grep -q "unknown state" "$WORK/expect.err"
}

check "replay /proc: default view" replay_exact proc-default.txt --replay "$FIX/proc"
check "replay /proc: -a -u -x -e" replay_exact proc-udp-unix-ext.txt --replay "$FIX/proc" -a -u -x -e
check "replay /proc: --netstat -a" replay_exact proc-netstat-all.txt --replay "$FIX/proc" --netstat -a
check "replay /proc: -s" replay_exact proc-summary.txt --replay "$FIX/proc" -s -tux -a
check "replay /proc: --json --state established" replay_exact proc-json-established.txt --replay "$FIX/proc" --json --state established
check "replay netlink recording" replay_exact netlink-port.txt --replay "$FIX/netlink" --port "$(cat "$FIX/netlink/PORT")"
start_echo_with_clients || { echo "FAIL setup"; exit 1; }
check "live: 1 listener, 25 + 25 connections, same as ss" live_matches_ss
check "-p and --pid name the right processes" processes_named
check "--json parses and matches ss" json_matches
check "--backend proc gives the same set" proc_fallback_same
check "-s counts" summary_counts
filters_and_info() {
  "$PARLEY" conns --sport "$EPORT" >"$WORK/sp.out" || return 1
  assert_eq 26 "$(grep -c 'ESTAB\|LISTEN' "$WORK/sp.out")" "--sport: listener + server sides" || return 1
  "$PARLEY" conns --dport "$EPORT" >"$WORK/dp.out" || return 1
  assert_eq 25 "$(grep -c '^ESTAB' "$WORK/dp.out")" "--dport: client sides" || return 1
  "$PARLEY" conns -H --port "$EPORT" --process parley --state established >"$WORK/pn.out" || return 1
  assert_eq 50 "$(wc -l <"$WORK/pn.out")" "--process and --state" || return 1
  "$PARLEY" conns --port "$EPORT" -i -e >"$WORK/i.out" || return 1
  assert_eq 51 "$(grep -Ec $'^\t.*cwnd:[0-9]+' "$WORK/i.out")" "-i lines" || return 1
  assert_eq 50 "$(grep -Ec $'^\t.* rtt:[0-9.]+/[0-9.]+ ' "$WORK/i.out")" "-i lines of connections" || return 1
  head -1 "$WORK/i.out" | grep -q 'Uid  *Inode' || fail "-e columns: $(head -1 "$WORK/i.out")"
}

watch_marks_new() {
  "$PARLEY" conns --port "$EPORT" --watch 0.5 >"$WORK/w.out" &
  local pid=$!
  BG_PIDS+=($pid)
  sleep 0.3
  "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null < <(sleep 3) &
  BG_PIDS+=($!)
  sleep 1
  kill -INT $pid
  wait_exit $pid 3 || return 1
  grep -Eq '^\+ +ESTAB ' "$WORK/w.out" || fail "no + mark: $(cat "$WORK/w.out")"
}

# Without privileges: sockets are listed, owners of other users' processes are not, and parley
# says so instead of failing.
unprivileged() {
  have setpriv || { echo "    (setpriv missing: skipped)"; return 0; }
  # A copy the unprivileged user can reach, wherever the build tree lives.
  local bin="/tmp/parley-unprivileged.$$"
  install -m 755 "$PARLEY" "$bin" || return 1
  setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" conns --port "$EPORT" -p >"$WORK/np.out" 2>"$WORK/np.err"
  local rc=$?
  rm -f "$bin"
  [ $rc -eq 0 ] || fail "exit $rc: $(cat "$WORK/np.err")" || return 1
  "$PARLEY" conns --port "$EPORT" >"$WORK/root.out" || return 1
  assert_eq "$(table_set "$WORK/root.out")" "$(awk 'NR > 1 {print $1, $4, $5}' "$WORK/np.out" | sort)" "same sockets as root sees" || return 1
  grep -q "parley" "$WORK/np.out" && fail "owners of root's processes shown" && return 1
  grep -Eq '^parley: process names hidden for [0-9]+ processes of other users; run as root to see them$' "$WORK/np.err" ||
    fail "no note: $(cat "$WORK/np.err")"
}
check "--sport, --dport, --process, -i, -e" filters_and_info
check "--watch marks new connections" watch_marks_new
check "unprivileged: listed, owners hidden, said so" unprivileged
check "UDP and Unix sockets" udp_and_unix
check "unknown --state: exit 2" bad_state
finish
