# parley doctor without a network of its own: bad input (exit 2), the verdicts on loopback
# (open, refused), the loopback note, --help, and the startup warning of listen and echo when
# they are bound to loopback only. The real networks are in test_doctor.sh.
source "$(dirname "$0")/lib.sh"

no_target() {
  expect_exit 2 "parley: doctor: say what to check: HOST PORT (on the client) or --listen PORT (on the server); see parley doctor --help" \
    "$PARLEY" doctor
}
no_port() {
  expect_exit 2 "parley: doctor: no port given for 'example.org': give the server as HOST PORT or HOST:PORT" \
    "$PARLEY" doctor example.org
}
bad_port() {
  expect_exit 2 "parley: doctor: port must be a number from 0 to 65535" "$PARLEY" doctor 127.0.0.1 70000
}
port_zero() {
  expect_exit 2 "parley: doctor: port 0 cannot be connected to; give the server's port" \
    "$PARLEY" doctor 127.0.0.1 0
}
listen_and_target() {
  expect_exit 2 "" "$PARLEY" doctor --listen 80 127.0.0.1 80 &&
    grep -q "excludes" "$WORK/expect.err"
}
listen_and_wait() {
  expect_exit 2 "" "$PARLEY" doctor --listen 80 -w 1s && grep -q "excludes" "$WORK/expect.err"
}
listen_port_range() {
  expect_exit 2 "" "$PARLEY" doctor --listen 0 && grep -q "not in range" "$WORK/expect.err"
}
help_teaches() {
  "$PARLEY" doctor --help >"$WORK/h" || return 1
  grep -qF "parley doctor --listen 12345           on the server: who listens, firewall, router" "$WORK/h" &&
    grep -qF "  filtered           no answer within -w: a firewall drops the packets, or the host is off" "$WORK/h" ||
    fail "$(cat "$WORK/h")"
}

loopback_open() {
  start_echo lo_open || return 1
  local rc=0
  "$PARLEY" doctor 127.0.0.1 "$EPORT" >"$WORK/d.out" 2>"$WORK/d.err" || rc=$?
  assert_eq 0 "$rc" "exit status" || return 1
  grep -qE "^127\.0\.0\.1:$EPORT: open in [0-9]+\.[0-9]{2} ms$" "$WORK/d.out" &&
    grep -qxF "  route:  this machine (local)" "$WORK/d.out" &&
    grep -qxF "  reason: the server accepted the connection (TCP handshake completed)" "$WORK/d.out" &&
    grep -qxF "note: 127.0.0.1 is this machine itself (loopback): another PC must use this machine's network address ('ip -br addr')." "$WORK/d.out" &&
    grep -qxF "verdict: open" "$WORK/d.out" || fail "$(cat "$WORK/d.out" "$WORK/d.err")"
}

loopback_refused_json() {
  local port rc=0
  port=$(free_port)
  "$PARLEY" doctor --json 127.0.0.1 "$port" >"$WORK/j.out" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  python3 - "$WORK/j.out" "$port" <<'PY' || fail "$(cat "$WORK/j.out")"
import json, sys
j = json.load(open(sys.argv[1])); port = int(sys.argv[2])
a = j["addresses"][0]
assert j["verdict"] == "refused" and j["port"] == port and j["protocol"] == "tcp", j
assert j["resolver"] == "literal" and j["target"] == "127.0.0.1", j
assert a["address"] == "127.0.0.1" and a["verdict"] == "refused" and a["scope"] == "loopback", a
assert a["rtt_us"] > 0 and a["icmp"] is None and a["route"]["type"] == "local", a
assert a["reason"] == ("the host answered with a TCP reset: nothing listens on port %d there "
    "(wrong port, or the server listens on 127.0.0.1 only), or a firewall rejects with tcp reset" % port), a
assert a["next_step"] == ("on the server, run 'parley doctor --listen %d': it shows who listens on "
    "which address, and the firewall rule for the port" % port), a
PY
}

# `parley doctor -n` never asks DNS: a name is then a dns-failure (exit 1, not a usage error).
numeric_only_name() {
  local rc=0
  "$PARLEY" doctor -n localhost 80 >"$WORK/n.out" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  grep -qxF "resolver: none (-n: names are not looked up)" "$WORK/n.out" &&
    grep -qxF "reason: -n: the name localhost is not looked up" "$WORK/n.out" &&
    grep -qxF "verdict: dns-failure" "$WORK/n.out" || fail "$(cat "$WORK/n.out")"
}

echo_warns_loopback() {
  start_echo warn || return 1
  grep -qxF "parley: Warning: loopback only: other machines cannot connect (leave out --bind to listen on every address)" \
    "$WORK/warn.err" || fail "$(cat "$WORK/warn.err")"
}
listen_warns_loopback() {
  use_quiet_input
  start_parley_listen lwarn 127.0.0.1 0 <"$QUIET" || return 1
  grep -qxF "parley: Warning: loopback only: other machines cannot connect (leave out the address to listen on every address)" \
    "$WORK/lwarn.err" || fail "$(cat "$WORK/lwarn.err")"
}
# Every address, or a non-loopback one: no warning.
listen_no_warning_on_all() {
  use_quiet_input
  start_parley_listen lall 0 <"$QUIET" || return 1
  ! grep -q "Warning" "$WORK/lall.err" || fail "$(cat "$WORK/lall.err")"
}

check "doctor: no target: exit 2" no_target
check "doctor: host without port: exit 2" no_port
check "doctor: bad port: exit 2" bad_port
check "doctor: port 0: exit 2" port_zero
check "doctor: --listen and a target exclude each other" listen_and_target
check "doctor: --listen and -w exclude each other" listen_and_wait
check "doctor: --listen 0 is out of range" listen_port_range
check "doctor --help teaches with examples and verdicts" help_teaches
check "doctor: open on loopback, with the loopback note" loopback_open
check "doctor --json: refused on loopback" loopback_refused_json
check "doctor -n: a name is a dns-failure" numeric_only_name
check "echo warns when bound to loopback only" echo_warns_loopback
check "listen warns when bound to loopback only" listen_warns_loopback
check "listen on every address: no warning" listen_no_warning_on_all
finish
