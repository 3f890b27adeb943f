# listen -k: many clients at once, stdin broadcast to all, every client's data on stdout; -m.
source "$(dirname "$0")/lib.sh"
use_quiet_input

# Three clients connect and stay; one line on the server's stdin reaches all three; each client's
# own line reaches the server's stdout.
broadcast_three() {
  mkfifo "$WORK/in"
  exec 7<>"$WORK/in"  # Keeps the fifo open so the server's stdin does not end.
  start_parley_listen hub -k 127.0.0.1 0 <&7 || return 1
  local i
  for i in 1 2 3; do
    "$PARLEY" connect 127.0.0.1 "$LPORT" >"$WORK/c$i.out" < <(echo "from client $i"; sleep 4) &
    BG_PIDS+=($!)
  done
  for i in 1 2 3; do wait_for_line "$WORK/hub.out" "^from client $i\$" || return 1; done
  [ "$(grep -c 'Connection from' "$WORK/hub.err")" -eq 3 ] || fail "expected 3 connections" || return 1
  echo "to everyone" >&7
  for i in 1 2 3; do wait_for_line "$WORK/c$i.out" '^to everyone$' || return 1; done
  exec 7>&-
}

# -m 2: the third client is accepted and closed at once; the first two keep working.
max_clients() {
  start_parley_listen cap -k -m 2 127.0.0.1 0 < <(sleep 6) || return 1
  local i
  for i in 1 2; do
    "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null < <(sleep 5) &
    BG_PIDS+=($!)
  done
  wait_for_line "$WORK/cap.err" 'Connection from .*:[0-9]+\.$' || return 1
  sleep 0.3
  local start=$SECONDS rc=0
  timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null < <(sleep 5) || rc=$?
  assert_eq 0 "$rc" "refused client sees a close" || return 1
  [ $((SECONDS - start)) -le 2 ] || fail "third client was not closed at once" || return 1
  grep -Eq 'refused: already 2 clients \(-m\)\.$' "$WORK/cap.err" || fail "no refusal line: $(cat "$WORK/cap.err")"
}

# A client leaving does not disturb the others, and the server keeps accepting.
clients_come_and_go() {
  start_parley_listen churn -k 127.0.0.1 0 < <(sleep 8) || return 1
  local i
  for i in $(seq 1 20); do
    echo "msg $i" | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  done
  wait_for_line "$WORK/churn.out" '^msg 20$' || return 1
  assert_eq 20 "$(grep -c '^msg' "$WORK/churn.out")" "messages received"
}

# SIGTERM stops the hub with its summary line and status 0.
sigterm_summary() {
  start_parley_listen term -k 127.0.0.1 0 < <(sleep 8) || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  wait_for_line "$WORK/term.out" '^hi$' || return 1
  kill -TERM "$LPID"
  wait_exit "$LPID" 5 || return 1
  grep -Eq '^parley: 0 bytes sent, 3 bytes received in' "$WORK/term.err" || fail "summary: $(cat "$WORK/term.err")"
}

# Input that arrives before the first client is kept for it (ncat delivers it too): a file piped
# in, a client one second later. More than the 1 MiB bound: the rest waits unread, then follows.
early_input() {
  head -c 3000000 /dev/urandom >"$WORK/early"
  (cat "$WORK/early"; sleep 4) | "$PARLEY" listen -vk 127.0.0.1 0 >/dev/null 2>"$WORK/ei.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/ei.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/ei.err")
  sleep 1
  timeout 5 "$PARLEY" connect --recv-only -i 1500ms 127.0.0.1 "$port" >"$WORK/early.got"
  assert_eq "$(sha "$WORK/early")" "$(sha "$WORK/early.got")" "input sent before the first client"
}

# One client that stops reading must not stall the broadcast for the others (ncat stalls): it is
# dropped when its queue is full.
stuck_client_dropped() {
  mkfifo "$WORK/sin"
  exec 6<>"$WORK/sin"
  start_parley_listen sc -k 127.0.0.1 0 <&6 || return 1
  python3 - "$LPORT" "$WORK/sin" <<'PY' || return 1
import hashlib, os, socket, sys, threading
port, fifo = int(sys.argv[1]), sys.argv[2]
stuck = socket.create_connection(("127.0.0.1", port))
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
reader = socket.create_connection(("127.0.0.1", port)); reader.settimeout(20)
import time; time.sleep(0.3)
data = os.urandom(6 << 20)
got = bytearray()
def read():
    while len(got) < len(data):
        d = reader.recv(1 << 16)
        if not d: break
        got.extend(d)
def write():
    with open(fifo, "wb") as f: f.write(data)
t = threading.Thread(target=read, daemon=True); t.start()
threading.Thread(target=write, daemon=True).start()  # Blocks for good if the server stalls.
t.join(20)
assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), f"reader got {len(got)} bytes"
PY
  wait_for_line "$WORK/sc.err" 'closed: too slow: over 1048576 bytes queued\.$' 5
}

# Churn: 2,000 clients come and go, a third of them resetting. Afterwards the broadcast still
# reaches a new client and no descriptor is left behind.
churn_with_resets() {
  mkfifo "$WORK/chin"
  exec 5<>"$WORK/chin"
  start_parley_listen cr -k -m 3000 127.0.0.1 0 <&5 || return 1
  local fds0
  fds0=$(ls "/proc/$LPID/fd" | wc -l)
  python3 - "$LPORT" <<'PY' || return 1
import socket, struct, sys
port = int(sys.argv[1])
for i in range(2000):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"c%d\n" % i)
    if i % 3 == 0:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
  wait_for_line "$WORK/cr.out" '^c1999$' || return 1
  local deadline=$((SECONDS + 5))
  while [ "$(ls "/proc/$LPID/fd" | wc -l)" -ne "$fds0" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  assert_eq "$fds0" "$(ls "/proc/$LPID/fd" | wc -l)" "descriptors after churn" || return 1
  timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$QUIET" >"$WORK/after.got" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/cr.err" 'Connection from .*\.$' || return 1
  sleep 0.3
  echo "still broadcasting" >&5
  wait_for_line "$WORK/after.got" '^still broadcasting$'
}

# The reader of the output going away ends listen -k quietly.
output_reader_gone() {
  "$PARLEY" listen -k 127.0.0.1 0 -v <"$QUIET" 2>"$WORK/og.err" | head -c 1 >/dev/null &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/og.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/og.err")
  echo "abc" | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null
  echo "def" | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null
  wait_exit $pid 5
}

# -o and -x log every client's bytes both ways; options only the one-client relay has are refused.
traffic_log_and_refusals() {
  mkfifo "$WORK/tin"
  exec 4<>"$WORK/tin"
  start_parley_listen tl -k -o "$WORK/k.log" -x "$WORK/k.hex" 127.0.0.1 0 <&4 || return 1
  timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$QUIET" >"$WORK/tl.got" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/tl.err" 'Connection from' || return 1
  echo "to the client" >&4
  wait_for_line "$WORK/tl.got" '^to the client$' || return 1
  python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $LPORT)); s.sendall(b'from a client\n'); s.close()"
  wait_for_line "$WORK/tl.out" '^from a client$' || return 1
  grep -qx 'to the client' "$WORK/k.log" && grep -qx 'from a client' "$WORK/k.log" ||
    fail "-o log: $(cat "$WORK/k.log")" || return 1
  grep -q '^> 0000   74 6f 20 74 68 65' "$WORK/k.hex" && grep -q '^< 0000   66 72 6f 6d 20 61' "$WORK/k.hex" ||
    fail "-x log: $(cat "$WORK/k.hex")" || return 1
  expect_exit 2 "parley: listen: -d works with one client; drop it, or -k/--broker/--chat/-e" \
    "$PARLEY" listen -k -d 1s 0 || return 1
  expect_exit 2 "parley: listen: -o/-x cannot log -e/-c: the program owns the connection, parley never sees its bytes" \
    "$PARLEY" listen -k -e /bin/cat -o "$WORK/x.log" 0
}

check "-k: three clients, broadcast and collect" broadcast_three
check "-k: -o/-x log every client; relay-only options refused" traffic_log_and_refusals
check "-k: input before the first client is kept for it" early_input
check "-k: a client that stops reading is dropped, not waited for" stuck_client_dropped
check "-k: 2,000 clients with resets; the broadcast goes on" churn_with_resets
check "-k: output reader gone: ends" output_reader_gone
check "-m 2 refuses the third client" max_clients
check "-k: 20 clients one after another" clients_come_and_go
check "-k: SIGTERM prints the summary, exit 0" sigterm_summary
finish
