# parley as a service (issue 19): echo and listen serve the sockets systemd hands them
# (systemd-socket-activate plays systemd), --log-format json writes one JSON object per event,
# and the shipped units pass systemd-analyze verify while the service's system-call filter and
# sandbox leave everything parley echo does allowed (checked against strace).
source "$(dirname "$0")/lib.sh"

use_quiet_input

# json_lines FILE: every line is one JSON object with an ISO time and an event; prints the events
# as "event peer detail bytes_in bytes_out" lines (tab-separated) for grep.
json_lines() {
  python3 - "$1" <<'EOF'
import json, re, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        o = json.loads(line)
    except ValueError:
        sys.exit(f"line {n} is not JSON: {line!r}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o.get("time", "")):
        sys.exit(f"line {n}: bad time: {line!r}")
    print("\t".join(str(o.get(k, "")) for k in ("event", "peer", "detail", "bytes_in", "bytes_out", "total")))
EOF
}

# start_activated NAME ARGS...: systemd-socket-activate ARGS in the background (it becomes parley
# at the first connection: same pid); output in $WORK/NAME.out/.err; sets SPID.
start_activated() {
  local name=$1
  shift
  systemd-socket-activate "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" <"$QUIET" &
  SPID=$!
  BG_PIDS+=("$SPID")
  wait_for_line "$WORK/$name.err" '^Listening on .* as 3\.$'
}

need_activate() {
  have systemd-socket-activate && return 0
  echo "    (no systemd-socket-activate: skipped)"
  return 1
}

have_ipv6_loopback() { python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; }

echo_activated() {
  need_activate || return 0
  local p1 p2 args=() rc=0
  p1=$(free_port) p2=$(free_port)
  args=(-l "127.0.0.1:$p1")
  have_ipv6_loopback && args+=(-l "[::1]:$p2")
  start_activated act "${args[@]}" --fdname=echo "$PARLEY" echo --log-format json || return 1
  head -c 100000 /dev/urandom >"$WORK/in"
  timeout 10 "$PARLEY" connect 127.0.0.1 "$p1" <"$WORK/in" >"$WORK/back" || return 1
  assert_eq "$(sha "$WORK/in")" "$(sha "$WORK/back")" "echo through the activated socket" || return 1
  if have_ipv6_loopback; then
    echo six | timeout 5 "$PARLEY" connect ::1 "$p2" >"$WORK/six" && assert_eq six "$(cat "$WORK/six")" "second socket" || return 1
  fi
  wait_for_line "$WORK/act.err" '"event":"closed"' || return 1
  kill -TERM "$SPID"
  wait_exit "$SPID" 10 || rc=$?
  assert_eq 0 "$rc" "exit status after SIGTERM" || return 1
  grep -v '^Listening on\|^Communication attempt\|^Execing' "$WORK/act.err" >"$WORK/act.json"
  json_lines "$WORK/act.json" >"$WORK/act.events" || { fail "$(cat "$WORK/act.json")"; return 1; }
  grep -qxF "listening		127.0.0.1:$p1			" "$WORK/act.events" &&
    grep -qE "^started		Echo server \(TCP, [0-9]+ threads?\)\." "$WORK/act.events" &&
    grep -qE "^closed	127\.0\.0\.1:[0-9]+	closed by peer	100000	100000	$" "$WORK/act.events" &&
    grep -qE "^summary			[0-9]+	[0-9]+	[12]$" "$WORK/act.events" ||
    fail "events: $(cat "$WORK/act.events")"
}

echo_activated_udp() {
  need_activate || return 0
  local port
  port=$(free_port)
  start_activated udp -d -l "127.0.0.1:$port" "$PARLEY" echo || return 1
  python3 - "$port" <<'EOF' || { fail "no UDP answer: $(cat "$WORK/udp.err")"; return 1; }
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
assert s.recvfrom(100)[0] == b"ping"
EOF
  grep -qE '^parley: Echo server \(UDP, [0-9]+ threads?\)' "$WORK/udp.err" || fail "$(cat "$WORK/udp.err")"
}

# refused_when_activated NAME WHAT LINE PARLEY_ARGS...: parley under systemd-socket-activate, at the
# first connection, exits 2 with LINE (WHAT names the case).
refused_when_activated() {
  local name=$1 what=$2 line=$3 port rc=0
  shift 3
  port=$(free_port)
  start_activated "$name" -l "127.0.0.1:$port" "$PARLEY" "$@" || return 1
  timeout 5 "$PARLEY" connect 127.0.0.1 "$port" </dev/null >/dev/null 2>&1
  wait_exit "$SPID" 10 || rc=$?
  assert_eq 2 "$rc" "$what" && grep -qxF "$line" "$WORK/$name.err" ||
    { fail "$(cat "$WORK/$name.err")"; return 1; }
}

# Each mistake is one line and exit 2, at the first connection.
activated_refusals() {
  need_activate || return 0
  local port
  refused_when_activated bad1 "echo PORT under activation" \
    "parley: echo: the listening sockets come from systemd (LISTEN_FDS): leave out the port and --bind" \
    echo 7000 || return 1
  refused_when_activated bad2 "echo -u with a stream socket" \
    "parley: echo: -u: systemd passed stream sockets (ListenStream=); use ListenDatagram= for UDP" \
    echo -u || return 1
  # Accept=yes hands over one connection per process: not a listening socket.
  port=$(free_port)
  start_activated bad3 -a -l "127.0.0.1:$port" "$PARLEY" echo || return 1
  timeout 5 "$PARLEY" connect 127.0.0.1 "$port" </dev/null >/dev/null 2>&1
  wait_for_line "$WORK/bad3.err" '^parley: echo: descriptor 3 from systemd is a connection, not a listening socket: use Accept=no in the \.socket unit$' 5 || return 1
  refused_when_activated bad4 "listen -u with a stream socket" \
    "parley: listen: systemd passed stream sockets: leave out -u" \
    listen -u || return 1
}

# LISTEN_PID names another process: the sockets are not ours, parley opens its own.
not_for_us() {
  LISTEN_PID=1 LISTEN_FDS=1 start_echo notours || return 1
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT")" "echo with a foreign LISTEN_PID"
}

listen_activated() {
  need_activate || return 0
  local port rc
  # One client, relayed both ways.
  port=$(free_port)
  echo from-server >"$WORK/srv.in"
  systemd-socket-activate -l "127.0.0.1:$port" "$PARLEY" listen -v <"$WORK/srv.in" >"$WORK/l1.out" 2>"$WORK/l1.err" &
  SPID=$!
  BG_PIDS+=("$SPID")
  wait_for_line "$WORK/l1.err" 'as 3\.$' || return 1
  assert_eq from-server "$(echo from-client | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "listen's reply" || return 1
  rc=0; wait_exit "$SPID" 10 || rc=$?
  assert_eq 0 "$rc" "listen exit" && assert_eq from-client "$(cat "$WORK/l1.out")" "listen's stdout" || return 1
  grep -qxF "parley: Listening on 127.0.0.1:$port" "$WORK/l1.err" || { fail "$(cat "$WORK/l1.err")"; return 1; }
  # -k with the JSON log; -c children do not inherit the LISTEN_* variables.
  port=$(free_port)
  start_activated l2 -l "127.0.0.1:$port" "$PARLEY" listen -k --log-format json \
    -c 'echo "fds=${LISTEN_FDS:-none} pid=${LISTEN_PID:-none}"' || return 1
  assert_eq "fds=none pid=none" "$(timeout 5 "$PARLEY" connect 127.0.0.1 "$port" </dev/null)" "-c child's environment" || return 1
  wait_for_line "$WORK/l2.err" '"event":"closed"' || return 1
  kill -TERM "$SPID"
  wait_exit "$SPID" 10
  grep '^{' "$WORK/l2.err" >"$WORK/l2.json"
  json_lines "$WORK/l2.json" >"$WORK/l2.events" || { fail "$(cat "$WORK/l2.json")"; return 1; }
  grep -q "^listening		127.0.0.1:$port" "$WORK/l2.events" && grep -q "^connected	127.0.0.1:" "$WORK/l2.events" &&
    grep -q "^closed	127.0.0.1:" "$WORK/l2.events" && grep -q "^summary" "$WORK/l2.events" ||
    fail "events: $(cat "$WORK/l2.events")"
}

echo_json_log() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 --log-format json --max-conns 1 --deny 127.0.0.2 --log-data \
    >/dev/null 2>"$WORK/js.err" </dev/null &
  EPID=$!
  BG_PIDS+=("$EPID")
  wait_for_line "$WORK/js.err" '"event":"listening"' || return 1
  EPORT=$(grep -m1 -oE '"detail":"127\.0\.0\.1:[0-9]+"' "$WORK/js.err" | grep -oE '[0-9]+"$' | tr -d '"')
  exec 7<>/dev/tcp/127.0.0.1/"$EPORT" || return 1
  wait_for_line "$WORK/js.err" '"event":"connected"' || return 1
  echo extra | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null 2>&1
  echo denied | timeout 5 "$PARLEY" connect -s 127.0.0.2 127.0.0.1 "$EPORT" >/dev/null 2>&1
  printf 'Hallo' >&7
  wait_for_line "$WORK/js.err" 'sent 5 bytes' || return 1
  local reply=''
  read -r -N 5 -t 5 reply <&7
  assert_eq Hallo "$reply" "the echo" || return 1
  exec 7>&-  # After reading the echo: a close with unread data would be a reset.
  wait_for_line "$WORK/js.err" '"event":"closed"' || return 1
  kill -USR1 "$EPID"
  wait_for_line "$WORK/js.err" '"event":"stats"' || return 1
  kill -TERM "$EPID"
  wait_exit "$EPID" 10 || return 1
  json_lines "$WORK/js.err" >"$WORK/js.events" || { fail "$(cat "$WORK/js.err")"; return 1; }
  grep -qE "^refused	127\.0\.0\.1:[0-9]+	server full \(1 connection\)" "$WORK/js.events" &&
    grep -qE "^denied	127\.0\.0\.2:[0-9]+	deny 127\.0\.0\.2	" "$WORK/js.events" &&
    grep -qE "^message		127\.0\.0\.1:[0-9]+ sent 5 bytes: Hallo" "$WORK/js.events" &&
    grep -qE "^closed	127\.0\.0\.1:[0-9]+	closed by peer	5	5	$" "$WORK/js.events" &&
    grep -qE "^stats			5	5	1$" "$WORK/js.events" &&
    grep -qE "^stopping		Stopping: " "$WORK/js.events" &&
    grep -qE "^summary			5	5	1$" "$WORK/js.events" ||
    fail "events: $(cat "$WORK/js.events")"
}

# The one-client relay has no server log to format.
json_needs_server_mode() {
  expect_exit 2 "parley: listen: --log-format json is for the server modes (-k, --broker, --chat over TCP; -e, -c)" \
    "$PARLEY" listen --log-format json 127.0.0.1 0 || return 1
  expect_exit 2 "parley: listen: --log-format json is for the server modes (-k, --broker, --chat over TCP; -e, -c)" \
    "$PARLEY" listen -k -u --log-format json 127.0.0.1 0
}

# forward under activation: every side is a target, the JSON log has each connection (bytes up
# and down) and the summary; a LISTEN side next to systemd's sockets is a target that does not
# resolve, and a stream socket with -u is one line and exit 2.
forward_activated() {
  need_activate || return 0
  start_echo fwd_backend || return 1
  local port rc
  port=$(free_port)
  start_activated fwd -l "127.0.0.1:$port" "$PARLEY" forward --log-format json "127.0.0.1:$EPORT" || return 1
  head -c 300000 /dev/urandom >"$WORK/fin"
  timeout 10 "$PARLEY" connect 127.0.0.1 "$port" <"$WORK/fin" >"$WORK/fback" || return 1
  assert_eq "$(sha "$WORK/fin")" "$(sha "$WORK/fback")" "through forward and echo" || return 1
  wait_for_line "$WORK/fwd.err" '"event":"closed"' || return 1
  kill -TERM "$SPID"
  rc=0; wait_exit "$SPID" 10 || rc=$?
  assert_eq 0 "$rc" "exit status after SIGTERM" || return 1
  grep '^{' "$WORK/fwd.err" >"$WORK/fwd.json"
  json_lines "$WORK/fwd.json" >"$WORK/fwd.events" || { fail "$(cat "$WORK/fwd.json")"; return 1; }
  grep -qxF "listening		127.0.0.1:$port			" "$WORK/fwd.events" &&
    grep -qE "^started		Forwarding systemd's sockets to 127\.0\.0\.1:$EPORT \(TCP, [0-9]+ threads?\)\." "$WORK/fwd.events" &&
    grep -qE "^closed	127\.0\.0\.1:[0-9]+	[^	]+	300000	300000	$" "$WORK/fwd.events" &&
    grep -qE "^summary			300000	300000	1$" "$WORK/fwd.events" ||
    { fail "events: $(cat "$WORK/fwd.events")"; return 1; }
  [ "$(grep -vc '^{\|^Listening on\|^Communication attempt\|^Execing' "$WORK/fwd.err")" = 0 ] ||
    { fail "non-JSON lines: $(cat "$WORK/fwd.err")"; return 1; }
  refused_when_activated fwd2 "forward -u with a stream socket" \
    "parley: forward: systemd passed stream sockets: leave out -u" \
    forward -u "127.0.0.1:$EPORT" || return 1
  refused_when_activated fwd3 "forward without targets" \
    "parley: forward: the listening sockets come from systemd (LISTEN_FDS): give the targets (e.g. 127.0.0.1:80)" \
    forward || return 1
}

# forward's text log stays as it was; its JSON log without activation names the LISTEN side.
forward_json_log() {
  start_echo fj_backend || return 1
  "$PARLEY" forward --log-format json 127.0.0.1:0 "127.0.0.1:$EPORT" --deny 127.0.0.2 \
    >/dev/null 2>"$WORK/fj.err" </dev/null &
  local pid=$!
  BG_PIDS+=("$pid")
  wait_for_line "$WORK/fj.err" '"event":"started"' || return 1
  local port
  port=$(grep -m1 -oE '"detail":"127\.0\.0\.1:[0-9]+"' "$WORK/fj.err" | grep -oE '[0-9]+"$' | tr -d '"')
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "forwarded echo" || return 1
  echo no | timeout 5 "$PARLEY" connect -s 127.0.0.2 127.0.0.1 "$port" >/dev/null 2>&1
  wait_for_line "$WORK/fj.err" '"event":"denied"' || return 1
  kill -TERM "$pid"
  wait_exit "$pid" 10 || return 1
  json_lines "$WORK/fj.err" >"$WORK/fj.events" || { fail "$(cat "$WORK/fj.err")"; return 1; }
  grep -qE "^started		Forwarding 127\.0\.0\.1:0 to 127\.0\.0\.1:$EPORT " "$WORK/fj.events" &&
    grep -qE "^closed	127\.0\.0\.1:[0-9]+	[^	]+	3	3	$" "$WORK/fj.events" &&
    grep -qE "^denied	127\.0\.0\.2:[0-9]+	deny 127\.0\.0\.2	" "$WORK/fj.events" &&
    grep -qE "^stopping		Stopping: " "$WORK/fj.events" &&
    grep -qE "^summary			3	3	1$" "$WORK/fj.events" ||
    fail "events: $(cat "$WORK/fj.events")"
}

# unit_copy DIR: the shipped units with ExecStart pointing at the binary under test.
unit_copy() {
  mkdir -p "$1" && cp "$PARLEY_SOURCE_DIR"/dist/systemd/parley-echo.* "$1"/ &&
    sed -i "s|^ExecStart=/usr/bin/parley |ExecStart=$PARLEY |" "$1/parley-echo.service"
}

units_verify() {
  have systemd-analyze && [ -n "${PARLEY_SOURCE_DIR:-}" ] || { echo "    (no systemd-analyze: skipped)"; return 0; }
  unit_copy "$WORK/units" && mkdir -p "$WORK/man/man1" && "$PARLEY" --generate man "$WORK/man/man1" || return 1
  # verify also checks that the Documentation= pages exist.
  (cd "$WORK/units" && MANPATH=$WORK/man systemd-analyze verify ./parley-echo.socket ./parley-echo.service) \
    >"$WORK/verify" 2>&1 || { fail "systemd-analyze verify: $(cat "$WORK/verify")"; return 1; }
  [ ! -s "$WORK/verify" ] || { fail "systemd-analyze verify says: $(cat "$WORK/verify")"; return 1; }
  grep -qx 'ExecStart=/usr/bin/parley echo --log-format json' "$PARLEY_SOURCE_DIR/dist/systemd/parley-echo.service" &&
    grep -qx 'DynamicUser=yes' "$WORK/units/parley-echo.service" &&
    grep -qx 'NoNewPrivileges=yes' "$WORK/units/parley-echo.service" || return 1
  local exposure
  exposure=$(systemd-analyze security --offline=true "$WORK/units/parley-echo.service" 2>/dev/null |
    sed -nE 's/.*Overall exposure level for parley-echo.service: ([0-9.]+).*/\1/p')
  [ -n "$exposure" ] || { echo "    (systemd-analyze security --offline unavailable)"; return 0; }
  echo "    exposure level $exposure"
  python3 -c "import sys; sys.exit(0 if float('$exposure') < 1.0 else 1)" || fail "exposure $exposure"
}

# expand_filter GROUP...: every system call the named sets hold (nested sets expanded).
expand_filter() {
  local g entry
  for g in "$@"; do
    systemd-analyze syscall-filter "$g" | tail -n +2 | sed -E 's/^ +//' | grep -v '^#' | grep -v '^$' |
      while read -r entry; do
        if [[ $entry == @* ]]; then expand_filter "$entry"; else echo "$entry"; fi
      done
  done
}

# Everything parley echo does when systemd starts it must pass the unit's SystemCallFilter=,
# RestrictAddressFamilies=none (no socket() at all) and MemoryDenyWriteExecute=.
sandbox_tolerated() {
  need_activate && have strace && have systemd-analyze || { echo "    (needs strace and systemd-analyze)"; return 0; }
  [ "${PARLEY_SANITIZED:-0}" = 1 ] && { echo "    (sanitized build: its runtime is not what ships)"; return 0; }
  local port rc=0 pid i
  port=$(free_port)
  strace -f -qq -o "$WORK/trace" systemd-socket-activate -l "127.0.0.1:$port" "$PARLEY" echo \
    --log-format json --log-data --stats-interval 100ms >/dev/null 2>"$WORK/sb.err" </dev/null &
  local tracer=$!
  BG_PIDS+=("$tracer")
  wait_for_line "$WORK/sb.err" 'as 3\.$' || return 1
  for i in 1 2 3; do echo "hello $i" | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null || return 1; done
  wait_for_line "$WORK/sb.err" '"event":"stats"' || return 1
  pid=$(pgrep -P "$tracer")
  kill -USR1 "$pid" && sleep 0.2 && kill -TERM "$pid"
  wait_exit "$tracer" 10 || rc=$?
  assert_eq 0 "$rc" "traced echo's exit" || return 1
  # What parley did: everything from the execve that turned socket-activate into parley (the
  # program path, not an argument: socket-activate's own execve names parley among its arguments).
  awk '/execve\("[^"]*parley"/ {on = 1} on' "$WORK/trace" >"$WORK/parley.trace"
  sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$WORK/parley.trace" | sort -u >"$WORK/used"
  expand_filter @system-service | sort -u >"$WORK/allowed"
  expand_filter @privileged @resources | sort -u >"$WORK/denied"
  [ -s "$WORK/used" ] && [ -s "$WORK/allowed" ] || { fail "empty trace or filter"; return 1; }
  local bad
  bad=$(comm -23 "$WORK/used" <(comm -23 "$WORK/allowed" "$WORK/denied") | tr '\n' ' ')
  [ -z "$bad" ] || { fail "system calls the unit's filter refuses: $bad"; return 1; }
  ! grep -qE '^[0-9]+ +socket\(' "$WORK/parley.trace" ||
    { fail "parley opened a socket (RestrictAddressFamilies=none)"; return 1; }
  ! grep -E '^[0-9]+ +(mmap|mprotect|pkey_mprotect)\(' "$WORK/parley.trace" | grep 'PROT_WRITE' | grep -q 'PROT_EXEC' ||
    fail "writable and executable memory (MemoryDenyWriteExecute=yes)"
}

check "echo serves the sockets systemd passes, logs JSON" echo_activated
check "echo: an activated datagram socket is a UDP echo" echo_activated_udp
check "activation mistakes: one line, exit 2" activated_refusals
check "a LISTEN_PID of another process is ignored" not_for_us
check "listen: one client, -k, -c without LISTEN_*" listen_activated
check "echo --log-format json: every kind of event" echo_json_log
check "listen --log-format json needs a server mode" json_needs_server_mode
check "forward serves systemd's sockets, logs JSON" forward_activated
check "forward --log-format json" forward_json_log
check "units pass systemd-analyze verify" units_verify
check "the sandbox allows all that echo does (strace)" sandbox_tolerated
finish
