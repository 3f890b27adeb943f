# listen --broker and --chat (and `parley chat`): fan-out, bounded queues, chat rules, peers.
source "$(dirname "$0")/lib.sh"
use_quiet_input

# Three clients: what one sends reaches the other two (never back to it) and stdout; stdin
# reaches all three.
broker_fanout() {
  mkfifo "$WORK/bin"
  exec 7<>"$WORK/bin"
  start_parley_listen br --broker 127.0.0.1 0 <&7 || return 1
  python3 - "$LPORT" "$WORK/bin" <<'PY' || return 1
import socket, sys, time
port, fifo = int(sys.argv[1]), sys.argv[2]
c = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
for s in c: s.settimeout(2)
time.sleep(0.2)
c[0].sendall(b"from zero\n")
assert c[1].recv(100) == b"from zero\n"
assert c[2].recv(100) == b"from zero\n"
c[0].settimeout(0.3)
try:
    got = c[0].recv(100); assert False, f"echoed to the sender: {got!r}"
except socket.timeout:
    pass
with open(fifo, "w") as f: f.write("from stdin\n")
for s in c:
    s.settimeout(2); assert s.recv(100) == b"from stdin\n"
PY
  wait_for_line "$WORK/br.out" '^from zero$'
}

# A client that never reads is dropped once its queue is full; the others get every byte, and
# the server's memory stays bounded.
broker_slow_reader() {
  start_parley_listen bs --broker 127.0.0.1 0 <"$QUIET" || return 1
  python3 - "$LPORT" "$LPID" <<'PY' || return 1
import hashlib, os, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
stuck = socket.create_connection(("127.0.0.1", port))
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
reader = socket.create_connection(("127.0.0.1", port))
sender = socket.create_connection(("127.0.0.1", port))
time.sleep(0.2)
data = os.urandom(8 << 20)
got = bytearray()
def read():
    while len(got) < len(data):
        d = reader.recv(1 << 16)
        if not d: break
        got.extend(d)
t = threading.Thread(target=read); t.start()
sender.sendall(data)
t.join(20)
assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), f"reader got {len(got)} bytes"
rss = int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
print(f"    server RSS {rss} KiB")
PY
  wait_for_line "$WORK/bs.err" 'closed: too slow: over 1048576 bytes queued\.$' 5
}

# The chat room: names, announcements, escaping, /nick, /who, //, the operator, long lines (a
# client's and the operator's).
chat_rules() {
  mkfifo "$WORK/cin"
  exec 8<>"$WORK/cin"
  start_parley_listen ch --chat 127.0.0.1 0 <&8 || return 1
  python3 - "$LPORT" "$WORK/cin" <<'PY' || return 1
import re, socket, sys, time
port, fifo = int(sys.argv[1]), sys.argv[2]
def lines(s, n):
    buf = b""
    while buf.count(b"\n") < n:
        d = s.recv(65536)
        assert d, f"closed early; had {buf!r}"
        buf += d
    return buf.decode("utf-8", "replace").splitlines()
a = socket.create_connection(("127.0.0.1", port)); a.settimeout(3)
assert lines(a, 1) == ["<announce> welcome, <user1>. Nobody else is here yet. /nick NAME renames you, /who lists who is here."]
b = socket.create_connection(("127.0.0.1", port)); b.settimeout(3)
assert lines(b, 1) == ["<announce> welcome, <user2>. Here: <user1>. /nick NAME renames you, /who lists who is here."]
joined = lines(a, 1)[0]
assert re.fullmatch(r"<announce> 127\.0\.0\.1:\d+ is connected as <user2>\.", joined), joined
a.sendall(b"hello\n")
assert lines(a, 1) == ["<user1> hello"] and lines(b, 1) == ["<user1> hello"]
b.sendall(b"/nick ada\n")
assert lines(a, 1) == ["<announce> <user2> is now known as <ada>."]
assert lines(b, 1) == ["<announce> <user2> is now known as <ada>."]
b.sendall(b"\x1b[2J\x07bell\r\n")  # Escape sequences must not reach another terminal.
assert lines(a, 1) == [r"<ada> \x1b[2J\x07bell"]
lines(b, 1)
a.sendall(b"/nick ada\n")
assert lines(a, 1) == ["<announce> <ada> is taken"]
a.sendall(b"//not a command\n")
assert lines(a, 1) == ["<user1> /not a command"]
lines(b, 1)
a.sendall(b"/who\n")
who = lines(a, 1)[0]
assert re.fullmatch(r"<announce> here: <user1> \(127\.0\.0\.1:\d+\), <ada> \(127\.0\.0\.1:\d+\)\.", who), who
a.sendall(b"par"); time.sleep(0.1); a.sendall(b"tial\n")
assert lines(b, 1) == ["<user1> partial"]
lines(a, 1)
a.sendall(b"x" * 5000 + b"\n")  # Longer than 4096: delivered in two pieces, nothing lost.
assert lines(b, 2) == ["<user1> " + "x" * 4096, "<user1> " + "x" * 904]
lines(a, 2)
with open(fifo, "w") as f: f.write("from the operator\n")
assert lines(a, 1) == ["<server> from the operator"]
assert lines(b, 1) == ["<server> from the operator"]
# The operator's long lines too, with the short line read along with them (both were dropped).
with open(fifo, "w") as f: f.write("S" * 10000 + "\nshort\n")
for s in (a, b):
    assert lines(s, 4) == ["<server> " + "S" * 4096, "<server> " + "S" * 4096,
                           "<server> " + "S" * 1808, "<server> short"]
b.close()
assert lines(a, 1) == ["<announce> <ada> is disconnected."]
PY
  wait_for_line "$WORK/ch.out" '^<ada> \\x1b\[2J\\x07bell$' || return 1
  wait_for_line "$WORK/ch.out" '^<server> from the operator$'
}

# `parley chat` is listen --chat -v on port 12345 by default (here on a free port).
chat_command() {
  local port
  port=$(free_port)
  "$PARLEY" chat 127.0.0.1 "$port" <"$QUIET" >"$WORK/cc.out" 2>"$WORK/cc.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/cc.err" "^parley: Listening on 127.0.0.1:$port\$" || return 1
  local out
  out=$(printf 'hi\n' | timeout 5 "$PARLEY" connect 127.0.0.1 "$port") || return 1
  echo "$out" | grep -qx '<user1> hi' || fail "chat answer: $out"
}

# ncat as a client of parley's broker and chat; parley clients of ncat's broker.
ncat_peers() {
  have ncat || { echo "    (ncat missing: skipped)"; return 0; }
  start_parley_listen nb --broker 127.0.0.1 0 <"$QUIET" || return 1
  timeout 5 ncat 127.0.0.1 "$LPORT" <"$QUIET" >"$WORK/nb.got" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/nb.err" 'Connection from' || return 1
  echo "to ncat" | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  wait_for_line "$WORK/nb.got" '^to ncat$' || return 1
  local port
  port=$(free_port)
  timeout 10 ncat -l --broker 127.0.0.1 "$port" </dev/null >/dev/null &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  timeout 8 "$PARLEY" connect 127.0.0.1 "$port" <"$QUIET" >"$WORK/pb.got" &
  BG_PIDS+=($!)
  sleep 0.3
  echo "via ncat's broker" | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null || return 1
  wait_for_line "$WORK/pb.got" "^via ncat's broker\$"
}

check "broker: to every other client, never back, and stdout" broker_fanout
check "broker: a client that never reads is dropped, others get every byte" broker_slow_reader
check "chat: names, escaping, /nick, /who, //, operator, long lines" chat_rules
check "parley chat" chat_command
check "ncat clients of parley's broker; parley clients of ncat's" ncat_peers
finish
