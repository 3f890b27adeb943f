# parley echo under pressure: out of descriptors, resource release after 20,000 connections,
# graceful drain with data in flight, clients that never read, many big concurrent echoes.
source "$(dirname "$0")/lib.sh"
CLIENT=${ECHO_CLIENT:-$(dirname "$PARLEY")/../../tests/echo_client}

fds_of() { ls "/proc/$1/fd" | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# With only 32 descriptors the accept loop must neither spin nor die, and must recover. (The asan
# preset leaves out UBSan's vptr check because of this test: to tell a vptr from garbage, UBSan
# probes the memory through a pipe(), which fails when every descriptor is taken, and it then
# reported a live Conn as having an "invalid vptr", 1 run in 10 on io_uring.)
emfile_recovery() {
  ( ulimit -n 32; exec "$PARLEY" echo -p 0 --bind 127.0.0.1 --threads 1 >/dev/null 2>"$WORK/mf.err" </dev/null ) &
  EPID=$!
  BG_PIDS+=("$EPID")
  wait_for_line "$WORK/mf.err" 'Listening on' || return 1
  EPORT=$(port_from "$WORK/mf.err")
  python3 - "$EPORT" "$EPID" "$WORK" <<'PY' || return 1
import os, socket, sys, time
port, pid, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
time.sleep(0.5)
t0 = ticks(); time.sleep(1.0); spent = ticks() - t0
assert spent <= 20, f"accept loop spins: {spent} ticks in 1 s"
assert "out of file descriptors" in open(f"{work}/mf.err").read(), "no EMFILE log line"
for s in held: s.close()
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.settimeout(5); s.sendall(b"alive"); assert s.recv(10) == b"alive", "not serving after recovery"
PY
  kill -0 "$EPID"
}

# 20,000 connect/echo/close cycles; afterwards descriptors are exactly back and RSS is close.
resources_released() {
  start_echo rr -q --threads 2 || return 1
  python3 -c "import socket; s=socket.create_connection(('127.0.0.1', $EPORT)); s.sendall(b'w'); s.recv(1)"
  sleep 0.2
  local fds0 rss0
  fds0=$(fds_of "$EPID")
  rss0=$(rss_kb "$EPID")
  python3 - "$EPORT" <<'PY' || return 1
import socket, sys
port = int(sys.argv[1])
for i in range(20000):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"ping %d" % i)
    assert s.recv(64) == b"ping %d" % i
    s.close()
PY
  sleep 0.5
  local fds1 rss1
  fds1=$(fds_of "$EPID")
  rss1=$(rss_kb "$EPID")
  echo "    fds $fds0 -> $fds1, RSS ${rss0} KiB -> ${rss1} KiB"
  assert_eq "$fds0" "$fds1" "descriptor count" || return 1
  # Sanitizers keep freed memory (quarantine, shadow): RSS says nothing there.
  [ "${PARLEY_SANITIZED:-0}" = 1 ] && return 0
  [ $((rss1 - rss0)) -lt 1024 ] || fail "RSS grew by $((rss1 - rss0)) KiB"
}

# SIGTERM while a client's echo is still queued: everything it sent comes back before the close.
graceful_drain() {
  start_echo gd -q || return 1
  python3 - "$EPORT" "$EPID" <<'PY'
import hashlib, os, signal, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
payload = os.urandom(8 << 20)
s = socket.create_connection(("127.0.0.1", port))
def send():
    s.sendall(payload); s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
time.sleep(1.0)              # Not reading: the server's output backs up, its reading stops.
os.kill(pid, signal.SIGTERM)  # Data in flight in both directions.
got = bytearray()
s.settimeout(10)
while True:
    b = s.recv(1 << 20)
    if not b: break
    got += b
t.join()
assert len(got) == len(payload), f"echoed {len(got)} of {len(payload)} bytes"
assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest(), "bytes differ"
PY
  [ $? -eq 0 ] || return 1
  local rc=0
  wait_exit "$EPID" 10 || rc=$?
  assert_eq 0 "$rc" "exit status after drain"
}

check "EMFILE: no spin, no death, recovers" emfile_recovery
check "20,000 cycles: descriptors and RSS back" resources_released
check "SIGTERM drains data in flight" graceful_drain
finish
