# parley forward: byte-exact relaying both ways, half-close and resets passed on, a client that
# never reads, round robin past a dead target, UDP sessions, Unix sides, PROXY headers, SIGTERM
# with connections in flight (a stop without grace resets what it cuts), bad input.
source "$(dirname "$0")/lib.sh"
use_quiet_input

# start_forward NAME ARGS...: `parley forward -v ARGS` in the background; sets FPID and FPORT
# (the port of its first "Listening on" line).
start_forward() {
  local name=$1
  shift
  "$PARLEY" forward -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  FPID=$!
  BG_PIDS+=("$FPID")
  wait_for_line "$WORK/$name.err" '^parley: Forwarding' || return 1
  FPORT=$(port_from "$WORK/$name.err")
}

both_ways_32mib() {
  start_echo e32 -q || return 1
  start_forward f32 127.0.0.1:0 "127.0.0.1:$EPORT" || return 1
  head -c $((32 << 20)) /dev/urandom >"$WORK/blob"
  timeout 20 "$PARLEY" connect 127.0.0.1 "$FPORT" <"$WORK/blob" >"$WORK/blob.back" || return 1
  assert_eq "$(sha "$WORK/blob")" "$(sha "$WORK/blob.back")" "32 MiB there and back" || return 1
  wait_for_line "$WORK/f32.err" "to 127\\.0\\.0\\.1:$EPORT, 33554432 bytes up, 33554432 down: closed"
}

# The target answers only once the client has half-closed: the FIN must pass through.
half_close_passed_on() {
  start_parley_listen t -k -c 'n=$(wc -c); echo "got $n bytes"' 127.0.0.1 0 <"$QUIET" || return 1
  start_forward fh 127.0.0.1:0 "127.0.0.1:$LPORT" || return 1
  assert_eq "got 3 bytes" "$(printf abc | timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT")" \
    "answer after the client's FIN"
}

# A target that resets in the middle: the client sees a reset too, not a clean end.
reset_passed_on() {
  local port
  port=$(free_port)
  python3 - "$port" <<'PY' &
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(10)
c, _ = s.accept(); c.recv(10); c.sendall(b"partial answer")
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
PY
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  start_forward fr 127.0.0.1:0 "127.0.0.1:$port" || return 1
  local rc=0
  (echo hello; sleep 3) | timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT" >"$WORK/fr.got" 2>"$WORK/fr.cerr" || rc=$?
  assert_eq 1 "$rc" "client exit status after a reset" || return 1
  grep -q "Connection reset by peer" "$WORK/fr.cerr" || fail "client: $(cat "$WORK/fr.cerr")" || return 1
  wait_for_line "$WORK/fr.err" 'target reset the connection'
}

# A client that sends and never reads: the forwarder holds at most a pipe per direction; another
# client is served meanwhile, byte-exact.
never_reading_client() {
  start_echo nr -q || return 1
  start_forward fn 127.0.0.1:0 "127.0.0.1:$EPORT" || return 1
  local rss0
  rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$FPID/status")
  python3 - "$FPORT" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.setblocking(False)
end = time.time() + 6
while time.time() < end:
    try: s.send(b"x" * 65536)
    except BlockingIOError: time.sleep(0.01)
PY
  local flood=$!
  BG_PIDS+=($flood)
  sleep 2
  head -c $((4 << 20)) /dev/urandom >"$WORK/other"
  timeout 10 "$PARLEY" connect 127.0.0.1 "$FPORT" <"$WORK/other" >"$WORK/other.back" || return 1
  assert_eq "$(sha "$WORK/other")" "$(sha "$WORK/other.back")" "another client meanwhile" || return 1
  local rss1
  rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$FPID/status")
  echo "    forwarder RSS ${rss0} KiB -> ${rss1} KiB with a client that never reads"
  kill_tree $flood
  [ "${PARLEY_SANITIZED:-0}" = 1 ] || [ "$rss1" -le $((rss0 + 8192)) ] || fail "RSS grew to $rss1 KiB"
}

# Three targets, the middle one dead: every client gets an answer, from both live ones.
round_robin_past_dead() {
  start_echo ra --reply 'A:{line}' || return 1
  local a=$EPORT
  start_echo rb --reply 'B:{line}' || return 1
  local b=$EPORT dead
  dead=$(free_port)
  start_forward frr --threads 1 127.0.0.1:0 "127.0.0.1:$a" "127.0.0.1:$dead" "127.0.0.1:$b" || return 1
  local i out=""
  for i in $(seq 1 10); do
    out+=$(printf 'x' | timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT") || return 1
    out+=" "
  done
  echo "    answers: $out"
  [[ $out == *A:x* && $out == *B:x* ]] || fail "not both targets: $out" || return 1
  [ "$(echo "$out" | grep -o '[AB]:x' | wc -l)" -eq 10 ] || fail "a client got no answer: $out" || return 1
  grep -q "target 127.0.0.1:$dead failed: Connection refused; trying the next" "$WORK/frr.err" ||
    fail "no failover line: $(cat "$WORK/frr.err")"
}

# UDP: two clients' sessions are kept apart, and expire after --udp-timeout.
udp_sessions() {
  start_echo ue -u -q || return 1
  start_forward fu -u --udp-timeout 1s 127.0.0.1:0 "127.0.0.1:$EPORT" || return 1
  FPORT=$(grep -m1 -Eo 'Listening on 127\.0\.0\.1:[0-9]+' "$WORK/fu.err" | grep -Eo '[0-9]+$')
  python3 - "$FPORT" <<'PY' || return 1
import socket, sys
port = int(sys.argv[1])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.settimeout(3)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.settimeout(3)
for i in range(5):
    a.sendto(b"a%d" % i, ("127.0.0.1", port)); assert a.recv(100) == b"a%d" % i
    b.sendto(b"b%d" % i, ("127.0.0.1", port)); assert b.recv(100) == b"b%d" % i
PY
  wait_for_line "$WORK/fu.err" 'to 127\.0\.0\.1:[0-9]+, 10 bytes up, 10 down: expired' 5 || return 1
  # The two sessions expire at the same sweep or the next one: wait (bounded) for the second.
  local deadline=$((SECONDS + 5))
  while [ "$(grep -c ': expired' "$WORK/fu.err")" -lt 2 ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  assert_eq 2 "$(grep -c ': expired' "$WORK/fu.err")" "sessions expired"
}

unix_sides() {
  start_echo ux -q || return 1
  local path=$WORK/front.sock
  "$PARLEY" forward -v "unix:$path" "127.0.0.1:$EPORT" </dev/null >/dev/null 2>"$WORK/ux.ferr" &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/ux.ferr" '^parley: Forwarding' || return 1
  assert_eq "via unix" "$(echo "via unix" | timeout 5 "$PARLEY" connect -U "$path")" "Unix front" || return 1
  start_parley_listen back -k -U "$WORK/back.sock" -e /bin/cat <"$QUIET" || return 1
  start_forward fb 127.0.0.1:0 "unix:$WORK/back.sock" || return 1
  assert_eq "to unix" "$(echo "to unix" | timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT")" "Unix target" || return 1
  kill -TERM $pid
  wait_exit $pid 5 || return 1
  [ ! -e "$path" ] || fail "the front socket file was left behind"
}

# --proxy-protocol-send: the target reads who the client was.
proxy_headers() {
  local v
  for v in v1 v2; do
    local port
    port=$(free_port)
    python3 - "$port" "$WORK/hdr.$v" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(10)
c, _ = s.accept(); data = b""
while not data.endswith(b"hello\n"):
    d = c.recv(1000)
    if not d: break
    data += d
open(sys.argv[2], "wb").write(data); c.sendall(b"ok\n"); c.close()
PY
    BG_PIDS+=($!)
    wait_port "$port" || return 1
    start_forward "fp$v" --proxy-protocol-send "$v" 127.0.0.1:0 "127.0.0.1:$port" || return 1
    local src
    src=$(free_port)
    assert_eq ok "$(echo hello | timeout 5 "$PARLEY" connect -p "$src" 127.0.0.1 "$FPORT")" "answer ($v)" || return 1
    python3 - "$WORK/hdr.$v" "$v" "$src" "$FPORT" <<'PY' || return 1
import socket, struct, sys
data, v, src, dst = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if v == "v1":
    want = b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\nhello\n" % (src, dst)
    assert data == want, data
else:
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    assert data[:12] == sig and data[12] == 0x21 and data[13] == 0x11, data[:16]
    length = struct.unpack("!H", data[14:16])[0]
    assert length == 12
    sa, da = socket.inet_ntoa(data[16:20]), socket.inet_ntoa(data[20:24])
    sp, dp = struct.unpack("!HH", data[24:28])
    assert (sa, da, sp, dp) == ("127.0.0.1", "127.0.0.1", src, dst), (sa, da, sp, dp)
    assert data[28:] == b"hello\n", data[28:]
PY
  done
}

# SIGTERM while 100 connections are mid-transfer: every one of them completes, byte-exact.
sigterm_loses_nothing() {
  start_echo st -q || return 1
  start_forward fs 127.0.0.1:0 "127.0.0.1:$EPORT" || return 1
  python3 - "$FPORT" "$FPID" <<'PY' || return 1
import hashlib, os, signal, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
data = os.urandom(2 << 20)
want = hashlib.sha256(data).digest()
bad = []
def client():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
    def send():
        for i in range(0, len(data), 65536):
            s.sendall(data[i:i + 65536]); time.sleep(0.002)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send); t.start()
    got = bytearray()
    while True:
        d = s.recv(1 << 16)
        if not d: break
        got += d
    t.join()
    if hashlib.sha256(got).digest() != want: bad.append(len(got))
threads = [threading.Thread(target=client) for _ in range(100)]
for t in threads: t.start()
time.sleep(0.5)
os.kill(pid, signal.SIGTERM)
for t in threads: t.join()
assert not bad, f"{len(bad)} of 100 connections lost data: {bad[:5]}"
PY
  wait_exit "$FPID" 10 || return 1
  grep -q '^parley: 100 connections forwarded' "$WORK/fs.err" || fail "summary: $(tail -3 "$WORK/fs.err")"
}

bad_input() {
  expect_exit 2 "parley: forward: target 'no-such-host.invalid:80': name not resolved" \
    "$PARLEY" forward 0 no-such-host.invalid:80 || return 1
  expect_exit 2 "parley: forward: target '127.0.0.1:99999': port must be a number from 0 to 65535" \
    "$PARLEY" forward 0 127.0.0.1:99999 || return 1
  expect_exit 2 "parley: forward: give where to listen and at least one target: LISTEN TARGET... (e.g. 8080 127.0.0.1:80)" \
    "$PARLEY" forward 8080 || return 1
  expect_exit 2 "parley: forward: -u forwards UDP to UDP; 'unix:/tmp/x' is a Unix socket" \
    "$PARLEY" forward -u 0 unix:/tmp/x || return 1
  # Said as echo and listen say it (TEST-NET-1: never an address of this machine; nothing is sent).
  expect_exit 2 "parley: forward: cannot listen on 192.0.2.1:0: Cannot assign requested address (not an address of this machine)" \
    "$PARLEY" forward 192.0.2.1:0 127.0.0.1:9 || return 1
  # A target that is the forwarder itself: each client opened another connection to it, until
  # descriptors ran out ('forward 8080 8080' is an easy typo: a bare target port is this machine).
  local port
  port=$(free_port)
  expect_exit 2 "parley: forward: target '$port' is this forwarder's own listening address: each client would be forwarded to itself" \
    "$PARLEY" forward "$port" "$port" || return 1
  expect_exit 2 "parley: forward: target '127.0.0.1:$port' is this forwarder's own listening address: each client would be forwarded to itself" \
    "$PARLEY" forward "127.0.0.1:$port" 127.0.0.1:9 "127.0.0.1:$port" || return 1
  expect_exit 2 "parley: forward: target 'unix:$WORK/self.sock' is this forwarder's own listening address: each client would be forwarded to itself" \
    "$PARLEY" forward "unix:$WORK/self.sock" "unix:$WORK/self.sock" || return 1
  [ ! -e "$WORK/self.sock" ] || fail "the refused forwarder left its socket file"
}

# A target that is down at startup is not fatal: it is logged when a client comes, and the
# client gets a clean close. No test connection is made to the targets at startup.
target_down_at_start() {
  local dead
  dead=$(free_port)
  start_forward fd 127.0.0.1:0 "127.0.0.1:$dead" || return 1
  local rc=0 out
  out=$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT") || rc=$?
  assert_eq "0|" "$rc|$out" "a clean close, nothing received" || return 1
  wait_for_line "$WORK/fd.err" "target 127.0.0.1:$dead failed: Connection refused; trying the next" || return 1
  wait_for_line "$WORK/fd.err" 'no target reachable \(Connection refused\)'
}

access_and_limits() {
  start_echo al -q || return 1
  start_forward fa --deny 127.0.0.2 -m 1 127.0.0.1:0 "127.0.0.1:$EPORT" || return 1
  local out
  out=$(python3 -c "
import socket
s = socket.socket(); s.bind(('127.0.0.2', 0)); s.connect(('127.0.0.1', $FPORT)); s.settimeout(3)
try:
    s.sendall(b'hi'); print(repr(s.recv(10)))
except ConnectionResetError:
    print(repr(b''))  # Closed unread: the unread 'hi' turns the close into a reset.")
  assert_eq "b''" "$out" "denied client closed unread" || return 1
  wait_for_line "$WORK/fa.err" 'refused by deny 127\.0\.0\.2$' || return 1
  # -m 1: while one client is connected, the next is closed at once, with nothing injected.
  timeout 10 "$PARLEY" connect 127.0.0.1 "$FPORT" <"$QUIET" >/dev/null &
  BG_PIDS+=($!)
  sleep 0.5
  # It sends nothing: bytes it had sent before the close would be unread, and closing a socket
  # with unread input is a reset (as with ncat), which would race with the clean close.
  out=$(timeout 5 "$PARLEY" connect 127.0.0.1 "$FPORT" </dev/null) || return 1
  assert_eq "" "$out" "the client over -m gets a clean close" || return 1
  wait_for_line "$WORK/fa.err" 'refused: server full \(1 connection\)$'
}

# trickle_sink PORT: a target that counts what arrives and says how it ended (a reset, or a FIN).
trickle_sink() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(10)
c, _ = s.accept(); c.settimeout(10); n = 0
try:
    while True:
        d = c.recv(65536)
        if not d:
            print("clean EOF after", n); break
        n += len(d)
except ConnectionResetError:
    print("reset after", n)
PY
}

# trickle_client PORT COUNT: sends COUNT x 1000 bytes, one every 20 ms, then half-closes and reads
# to the end; says how that went.
trickle_client() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); n = 0
try:
    for _ in range(int(sys.argv[2])):
        c.sendall(b"x" * 1000); n += 1000; time.sleep(0.02)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536): pass
    print("sent", n, "and closed")
except OSError as e:
    print("cut after", n, type(e).__name__)
PY
}

# A stop without grace (here --drain-timeout running out) cuts a transfer still moving: both sides
# get a reset. They got a FIN, and the target took the cut upload for a whole one.
cut_transfer_is_reset() {
  local port sink client
  port=$(free_port)
  trickle_sink "$port" >"$WORK/cut.sink" &
  sink=$!
  BG_PIDS+=("$sink")
  wait_port "$port" || return 1
  start_forward fcut --drain-timeout 300ms 127.0.0.1:0 "127.0.0.1:$port" || return 1
  trickle_client "$FPORT" 200 >"$WORK/cut.client" &
  client=$!
  BG_PIDS+=("$client")
  sleep 0.5
  kill -TERM "$FPID"
  wait_exit "$FPID" 5 || return 1
  wait "$sink" "$client"
  grep -q '^reset after [0-9]*$' "$WORK/cut.sink" || fail "target: $(cat "$WORK/cut.sink")" || return 1
  grep -Eq '^cut after [0-9]+ (BrokenPipeError|ConnectionResetError)$' "$WORK/cut.client" ||
    fail "client: $(cat "$WORK/cut.client")" || return 1
  wait_for_line "$WORK/fcut.err" 'server stopped'
}

# GNU timeout sends its SIGTERM to parley and then to its process group: that is one stop, and
# the transfer in flight still finishes whole (it was cut at once, as by a second signal).
timeout_signal_is_one_stop() {
  local port sink rc=0
  port=$(free_port)
  trickle_sink "$port" >"$WORK/ts.sink" &
  sink=$!
  BG_PIDS+=("$sink")
  wait_port "$port" || return 1
  timeout 1 "$PARLEY" forward -v 127.0.0.1:0 "127.0.0.1:$port" </dev/null 2>"$WORK/ts.err" &
  local fwd=$!
  BG_PIDS+=("$fwd")
  wait_for_line "$WORK/ts.err" '^parley: Forwarding' || return 1
  trickle_client "$(port_from "$WORK/ts.err")" 60 >"$WORK/ts.client"  # 1.2 s: past the timeout.
  wait "$fwd" || rc=$?
  wait "$sink"
  assert_eq "sent 60000 and closed" "$(cat "$WORK/ts.client")" "client" || return 1
  assert_eq "clean EOF after 60000" "$(cat "$WORK/ts.sink")" "target" || return 1
  assert_eq 124 "$rc" "timeout's exit status" || return 1
  grep -q '^parley: 1 connection forwarded' "$WORK/ts.err" || fail "$(cat "$WORK/ts.err")"
}

check "32 MiB byte-exact both ways" both_ways_32mib
check "a FIN passes through (answer after the client's EOF)" half_close_passed_on
check "a reset passes through" reset_passed_on
check "a client that never reads: bounded, others served" never_reading_client
check "round robin past a dead target" round_robin_past_dead
check "UDP: sessions kept apart, expired" udp_sessions
check "Unix front and Unix target" unix_sides
check "PROXY protocol v1 and v2 headers" proxy_headers
check "SIGTERM with 100 connections in flight loses nothing" sigterm_loses_nothing
check "a transfer cut by a stop without grace is reset on both sides" cut_transfer_is_reset
check "GNU timeout's doubled SIGTERM is one stop: the transfer finishes" timeout_signal_is_one_stop
check "bad input: exit 2 with one line" bad_input
check "a target down at startup is not fatal" target_down_at_start
check "--deny and -m" access_and_limits
finish
