# --allow/--deny/--allowfile/--denyfile on echo and every listen mode: deny wins, IPv6, IPv4-mapped
# clients, host names, a refused client closed unread, logged with its rule; bad rules exit 2.
source "$(dirname "$0")/lib.sh"
use_quiet_input

# connect_from SRC PORT [HOST]: sends "hi" from SRC and prints what came back (empty if refused).
connect_from() {
  python3 - "$1" "$2" "${3:-127.0.0.1}" <<'PY'
import socket, sys
src, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam); s.settimeout(3); s.bind((src, 0)); s.connect((host, port))
try:
    s.sendall(b"hi\n"); print(s.recv(100).decode().strip())
except (ConnectionResetError, BrokenPipeError):
    print("")
PY
}

echo_ipv4_deny_wins() {
  start_echo e4 --allow 127.0.0.0/8 --deny 127.0.0.2 || return 1
  assert_eq hi "$(connect_from 127.0.0.1 "$EPORT")" "allowed client" || return 1
  assert_eq "" "$(connect_from 127.0.0.2 "$EPORT")" "denied client" || return 1
  wait_for_line "$WORK/e4.err" '127\.0\.0\.2:[0-9]+ refused by deny 127\.0\.0\.2$' || return 1
  kill -USR1 "$EPID"
  wait_for_line "$WORK/e4.err" 'stats: 0 active, 1 total, 0 refused, 1 denied'
}

echo_allow_only() {
  start_echo ea --allow 127.0.0.3 || return 1
  assert_eq hi "$(connect_from 127.0.0.3 "$EPORT")" "listed client" || return 1
  assert_eq "" "$(connect_from 127.0.0.1 "$EPORT")" "unlisted client" || return 1
  wait_for_line "$WORK/ea.err" 'refused by not in any --allow rule$'
}

echo_ipv6_and_names() {
  "$PARLEY" echo -p 0 --bind ::1 --allow localhost --deny ::1/128 >/dev/null 2>"$WORK/e6.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/e6.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/e6.err")
  assert_eq "" "$(connect_from ::1 "$port" ::1)" "::1 denied although localhost is allowed" || return 1
  wait_for_line "$WORK/e6.err" 'refused by deny ::1/128$'
}

allowfile_and_bad_rules() {
  printf '# lab\n127.0.0.4   # the one machine\n' >"$WORK/allow"
  start_echo af --allowfile "$WORK/allow" || return 1
  assert_eq hi "$(connect_from 127.0.0.4 "$EPORT")" "client from the file" || return 1
  assert_eq "" "$(connect_from 127.0.0.1 "$EPORT")" "client not in the file" || return 1
  expect_exit 2 "parley: echo: --allow: '10.0.0.0/33' is not an address, prefix or host name" \
    "$PARLEY" echo -p 0 --allow 10.0.0.0/33 || return 1
  expect_exit 2 "parley: echo: --denyfile /nonexistent/list: No such file or directory" \
    "$PARLEY" echo -p 0 --denyfile /nonexistent/list || return 1
  expect_exit 2 "parley: listen: --deny no-such-host.invalid: name not resolved" \
    "$PARLEY" listen --deny no-such-host.invalid 0
}

# Every listen mode: one client, -k, --broker, --chat, -e; the refused one never reaches stdout.
listen_modes() {
  local mode
  for mode in "" "-k" "--broker" "-k -e /bin/cat"; do
    # shellcheck disable=SC2086
    start_parley_listen lm $mode --deny 127.0.0.2 127.0.0.1 0 <"$QUIET" || return 1
    assert_eq "" "$(connect_from 127.0.0.2 "$LPORT")" "denied client, listen $mode" || return 1
    wait_for_line "$WORK/lm.err" 'Connection from 127\.0\.0\.2:[0-9]+ refused by deny 127\.0\.0\.2\.$' || return 1
    grep -q hi "$WORK/lm.out" && fail "a denied client's data reached stdout ($mode)" && return 1
    if [ "$mode" = "-k -e /bin/cat" ]; then
      assert_eq hi "$(connect_from 127.0.0.1 "$LPORT")" "allowed client, listen $mode" || return 1
    else
      echo hello | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null
      wait_for_line "$WORK/lm.out" '^hello$' || return 1
    fi
    kill "$LPID" 2>/dev/null
    wait "$LPID" 2>/dev/null
  done
  return 0
}

# listen -u uses one dual-stack socket: IPv4 senders arrive as ::ffff:a.b.c.d and must still match
# IPv4 rules.
udp_mapped() {
  "$PARLEY" listen -u -k -v --deny 127.0.0.2 0 <"$QUIET" >"$WORK/um.out" 2>"$WORK/um.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/um.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/um.err")
  python3 - "$port" <<'PY' || return 1
import socket, sys, time
port = int(sys.argv[1])
for src, msg in (("127.0.0.2", b"denied\n"), ("127.0.0.1", b"allowed\n")):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0))
    s.sendto(msg, ("127.0.0.1", port))
    time.sleep(0.2)
PY
  wait_for_line "$WORK/um.out" '^allowed$' || return 1
  grep -q denied "$WORK/um.out" && fail "a denied sender's datagram was shown" && return 1
  grep -Eq 'Datagrams from 127\.0\.0\.2:[0-9]+ refused by deny 127\.0\.0\.2\.' "$WORK/um.err" ||
    fail "no refusal line: $(cat "$WORK/um.err")"
}

check "echo: IPv4 prefixes, deny wins, logged and counted" echo_ipv4_deny_wins
check "echo: --allow alone refuses the rest" echo_allow_only
check "echo: IPv6 and host names" echo_ipv6_and_names
check "--allowfile; bad rules and files exit 2" allowfile_and_bad_rules
check "listen: every mode refuses denied clients unread" listen_modes
check "listen -u: IPv4-mapped senders match IPv4 rules" udp_mapped
finish
