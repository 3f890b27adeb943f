# A program per connection: listen -e/-c (TCP, UDP, Unix; with and without -k), connect -e/-c.
# End of stream must be right where ncat is wrong, children are reaped, -m waits, SIGTERM stops
# the children, a reset sends SIGHUP.
source "$(dirname "$0")/lib.sh"
use_quiet_input

fds_of() { ls "/proc/$1/fd" | wc -l; }
zombies_of() { ps --ppid "$1" -o stat= 2>/dev/null | grep -c '^Z' || true; }

# The client half-closes right after sending; the child reads EOF, then answers; the answer must
# reach the client (ncat 7.93 loses it, even for -e /bin/cat).
reply_after_eof() {
  start_parley_listen ae -c 'n=$(wc -c); echo "got $n bytes"' 127.0.0.1 0 <"$QUIET" || return 1
  local out
  out=$(printf abc | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT") || return 1
  assert_eq "got 3 bytes" "$out" "answer after the client's EOF" || return 1
  wait_exit "$LPID" 5 || return 1  # Without -k: one client, then the end.
  grep -Eq '^parley: \[pid [0-9]+\] n=.* for 127\.0\.0\.1:[0-9]+: exit status 0$' "$WORK/ae.err" ||
    fail "no exit line: $(cat "$WORK/ae.err")"
}

# The same through ncat as the client, and /bin/cat with binary data both ways.
cat_with_ncat_and_parley() {
  have ncat || { echo "    (ncat missing: skipped)"; return 0; }
  start_parley_listen cat -k -e /bin/cat 127.0.0.1 0 <"$QUIET" || return 1
  head -c 1048576 /dev/urandom >"$WORK/blob"
  timeout 10 ncat 127.0.0.1 "$LPORT" <"$WORK/blob" >"$WORK/blob.ncat" || return 1
  assert_eq "$(sha "$WORK/blob")" "$(sha "$WORK/blob.ncat")" "1 MiB through -e /bin/cat, ncat client" || return 1
  timeout 10 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$WORK/blob" >"$WORK/blob.parley" || return 1
  assert_eq "$(sha "$WORK/blob")" "$(sha "$WORK/blob.parley")" "1 MiB through -e /bin/cat, parley client"
}

# The child's environment names both ends, under parley's and ncat's names.
environment() {
  start_parley_listen env -k -c 'echo "$PARLEY_REMOTE_ADDR $PARLEY_REMOTE_PORT $PARLEY_LOCAL_ADDR $PARLEY_LOCAL_PORT $PARLEY_PROTO|$NCAT_REMOTE_ADDR $NCAT_REMOTE_PORT $NCAT_LOCAL_ADDR $NCAT_LOCAL_PORT $NCAT_PROTO"' \
    127.0.0.1 0 <"$QUIET" || return 1
  local src out
  src=$(free_port)
  out=$(timeout 5 "$PARLEY" connect -p "$src" 127.0.0.1 "$LPORT" </dev/null) || return 1
  local want="127.0.0.1 $src 127.0.0.1 $LPORT tcp"
  assert_eq "$want|$want" "$out" "PARLEY_* and NCAT_* variables"
}

missing_program() {
  expect_exit 2 "parley: listen: -e /nonexistent/prog: No such file or directory" \
    "$PARLEY" listen -v -e /nonexistent/prog 0 || return 1
  grep -q 'Listening' "$WORK/expect.err" && fail "listened before checking the program" && return 1
  printf '#!/bin/sh\n' >"$WORK/noexec"
  chmod 644 "$WORK/noexec"
  expect_exit 2 "parley: listen: -e $WORK/noexec: Permission denied" "$PARLEY" listen -e "$WORK/noexec" 0 || return 1
  expect_exit 2 "parley: listen: -e no-such-program-here: No such file or directory" \
    "$PARLEY" listen -e no-such-program-here 0 || return 1
  expect_exit 2 "parley: connect: -e /nonexistent/prog: No such file or directory" \
    "$PARLEY" connect -e /nonexistent/prog 127.0.0.1 1
}

# Many short connections: every child reaped, descriptors back where they started.
no_zombies() {
  local n=${EXEC_CONNS:-10000}
  [ "${PARLEY_SANITIZED:-0}" = 1 ] && n=1000
  "$PARLEY" listen -k -m 16 -e /bin/cat 127.0.0.1 0 -v <"$QUIET" >/dev/null 2>"$WORK/z.err" &
  LPID=$!
  BG_PIDS+=("$LPID")
  wait_for_line "$WORK/z.err" 'Listening on' || return 1
  LPORT=$(port_from "$WORK/z.err")
  local fds0
  fds0=$(fds_of "$LPID")
  python3 - "$LPORT" "$n" <<'PY' || return 1
import socket, sys, threading
port, total = int(sys.argv[1]), int(sys.argv[2])
errors = []
def worker(count):
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"x" * 64); s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = s.recv(100)
            if not d: break
            got += d
        s.close()
        if got != b"x" * 64: errors.append(got)
threads = [threading.Thread(target=worker, args=(total // 8,)) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, f"{len(errors)} wrong answers, first {errors[0]!r}"
PY
  local deadline=$((SECONDS + 10))
  while [ "$(pgrep -P "$LPID" | wc -l)" -gt 0 ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  assert_eq 0 "$(zombies_of "$LPID")" "zombies after $n connections" || return 1
  assert_eq 0 "$(pgrep -P "$LPID" | wc -l)" "children left" || return 1
  assert_eq "$fds0" "$(fds_of "$LPID")" "descriptors after $n connections" || return 1
  assert_eq "$n" "$(grep -c 'exit status 0$' "$WORK/z.err")" "children that exited 0"
}

# -m 2: a third client waits in the backlog until a child exits, then is served.
max_children_wait() {
  start_parley_listen mc -k -m 2 -c 'sleep 1; echo done' 127.0.0.1 0 <"$QUIET" || return 1
  local i start=$SECONDS
  for i in 1 2 3; do
    timeout 10 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$QUIET" >"$WORK/mc$i.out" &
    BG_PIDS+=($!)
  done
  for i in 1 2 3; do wait_for_line "$WORK/mc$i.out" '^done$' 8 || return 1; done
  [ $((SECONDS - start)) -ge 2 ] || fail "the third client did not wait for a child to exit" || return 1
  grep -q 'children running (-m): further clients wait until one exits' "$WORK/mc.err" ||
    fail "no -m log line: $(cat "$WORK/mc.err")"
}

# SIGTERM to the server terminates its children and the server exits.
sigterm_stops_children() {
  start_parley_listen st -k -c 'sleep 30' 127.0.0.1 0 <"$QUIET" || return 1
  local i
  for i in 1 2; do
    timeout 20 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$QUIET" >/dev/null &
    BG_PIDS+=($!)
  done
  local deadline=$((SECONDS + 5))
  while [ "$(pgrep -P "$LPID" | wc -l)" -lt 2 ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  local children
  children=$(pgrep -P "$LPID")
  assert_eq 2 "$(echo "$children" | wc -l)" "children running" || return 1
  kill -TERM "$LPID"
  wait_exit "$LPID" 5 || return 1
  local c
  for c in $children; do
    kill -0 "$c" 2>/dev/null && fail "child $c still running" && return 1
  done
  grep -q 'stopping 2 children (SIGTERM)' "$WORK/st.err" || fail "no stop line: $(cat "$WORK/st.err")"
}

# A client that resets: the child (which neither reads nor writes) gets SIGHUP.
reset_sends_sighup() {
  start_parley_listen rs -k -c "trap 'echo hup >$WORK/hup; exit 0' HUP; sleep 30 & wait" \
    127.0.0.1 0 <"$QUIET" || return 1
  python3 - "$LPORT" <<'PY' || return 1
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()  # RST
PY
  wait_for_line "$WORK/hup" '^hup$' 5 || return 1
  wait_for_line "$WORK/rs.err" 'reset the connection; sending SIGHUP' 5
}

# The child exits while the client still holds its side open: all of the child's output
# arrives, then EOF.
output_flushed_at_exit() {
  head -c 3000000 /dev/urandom >"$WORK/big"
  start_parley_listen fl -k -c "cat $WORK/big" 127.0.0.1 0 <"$QUIET" || return 1
  timeout 10 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$QUIET" >"$WORK/big.out" || return 1
  assert_eq "$(sha "$WORK/big")" "$(sha "$WORK/big.out")" "3 MB written by the child before it exited"
}

# UDP: one child per peer; datagrams forwarded both ways.
udp_child_per_peer() {
  start_parley_listen ud -u -k -e /bin/cat 127.0.0.1 0 <"$QUIET" || return 1
  python3 - "$LPORT" <<'PY' || return 1
import socket, sys
port = int(sys.argv[1])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.settimeout(3)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.settimeout(3)
for i in range(3):
    a.sendto(b"from a %d" % i, ("127.0.0.1", port)); assert a.recv(100) == b"from a %d" % i
    b.sendto(b"from b %d" % i, ("127.0.0.1", port)); assert b.recv(100) == b"from b %d" % i
PY
  assert_eq 2 "$(grep -c '/bin/cat started for 127.0.0.1' "$WORK/ud.err")" "one child per peer"
}

unix_exec() {
  local path=$WORK/exec.sock
  start_parley_listen ux -U "$path" -k -c 'echo "proto=$PARLEY_PROTO"; cat' <"$QUIET" || return 1
  wait_for_line "$WORK/ux.err" 'Listening on' || return 1
  local out
  out=$(echo hi | timeout 5 "$PARLEY" connect -U "$path") || return 1
  assert_eq $'proto=unix\nhi' "$out" "Unix socket child"
}

# connect -e/-c: the program talks to the server; parley exits with how it ended.
connect_exec() {
  start_echo ce || return 1
  timeout 5 "$PARLEY" connect -c "printf 'ping\n'; read x; echo \"\$x \$PARLEY_REMOTE_PORT\" >$WORK/ce.got" \
    127.0.0.1 "$EPORT" || return 1
  assert_eq "ping $EPORT" "$(cat "$WORK/ce.got")" "the program's conversation" || return 1
  expect_exit 1 "parley: exit 3: exit status 3" "$PARLEY" connect -c 'exit 3' 127.0.0.1 "$EPORT"
}

# parley connect -e against ncat as the server.
connect_exec_ncat_server() {
  have ncat || { echo "    (ncat missing: skipped)"; return 0; }
  local port
  port=$(free_port)
  timeout 10 ncat -l 127.0.0.1 "$port" >"$WORK/nc.got" </dev/null &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  timeout 5 "$PARLEY" connect -c 'echo "hello from a child"' 127.0.0.1 "$port" || return 1
  wait_for_line "$WORK/nc.got" '^hello from a child$'
}

check "the answer after the client's EOF arrives (-c)" reply_after_eof
check "-e /bin/cat: 1 MiB with ncat and parley clients" cat_with_ncat_and_parley
check "PARLEY_* and NCAT_* environment" environment
check "missing or non-executable program: exit 2 before listening" missing_program
check "children reaped, descriptors back after many connections" no_zombies
check "-m: the next client waits for a child" max_children_wait
check "SIGTERM terminates the children" sigterm_stops_children
check "a reset sends the child SIGHUP" reset_sends_sighup
check "the child's output is flushed when it exits" output_flushed_at_exit
check "UDP: a child per peer" udp_child_per_peer
check "Unix socket: a child per connection" unix_exec
check "connect -c talks to the server; its status" connect_exec
check "connect -c against an ncat server" connect_exec_ncat_server
finish
