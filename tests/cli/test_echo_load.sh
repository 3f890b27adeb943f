# parley echo with many big clients: 50 concurrent connections each echoing 100 MB byte-exact,
# and 100 clients that send 100 MB but never read, which must not make the server's memory grow
# without bound nor stop it from serving others.
source "$(dirname "$0")/lib.sh"

MB=${PARLEY_ECHO_MB:-100}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

fifty_times_100mb() {
  start_echo big -q --threads 2 || return 1
  head -c $((MB << 20)) /dev/urandom >"$WORK/payload"
  local want i
  want=$(sha "$WORK/payload")
  local pids=()
  for i in $(seq 1 50); do
    (timeout 300 "$PARLEY" connect 127.0.0.1 "$EPORT" <"$WORK/payload" | sha256sum | cut -d' ' -f1 >"$WORK/sha.$i") &
    pids+=($!)
  done
  wait "${pids[@]}"  # Not a bare wait: the server is a child too.
  local bad=0
  for i in $(seq 1 50); do
    [ "$(cat "$WORK/sha.$i")" = "$want" ] || bad=$((bad + 1))
  done
  assert_eq 0 "$bad" "connections whose echo differs"
}

# Clients that write and never read: the server stops reading from each once its reply is stuck,
# so it holds at most one read buffer (64 KiB) per such client.
BOUND_KB=$((100 * 64 + 16 * 1024))  # 100 stuck replies of 64 KiB, plus 16 MiB for everything else.
never_reading_clients() {
  start_echo bp -q --threads 2 || return 1
  local rss0 i
  rss0=$(rss_kb "$EPID")
  local pids=()
  for i in $(seq 1 100); do
    head -c $((MB << 20)) /dev/zero | "$PARLEY" connect --send-only 127.0.0.1 "$EPORT" &
    pids+=($!)
  done
  BG_PIDS+=("${pids[@]}")
  sleep 3
  local rss1
  rss1=$(rss_kb "$EPID")
  # Someone else is still served, byte-exact.
  head -c $((4 << 20)) /dev/urandom >"$WORK/small"
  timeout 20 "$PARLEY" connect 127.0.0.1 "$EPORT" <"$WORK/small" >"$WORK/small.back" || fail "other client not served" || return 1
  assert_eq "$(sha "$WORK/small")" "$(sha "$WORK/small.back")" "other client's echo" || return 1
  local rss2
  rss2=$(rss_kb "$EPID")
  echo "    server RSS: ${rss0} KiB idle, ${rss1} KiB with 100 stuck clients, ${rss2} KiB after another client; bound $((rss0 + BOUND_KB)) KiB"
  kill "${pids[@]}" 2>/dev/null
  # RSS means nothing under a sanitizer (its quarantine keeps freed blocks: on io_uring, the
  # small stashes of each round); the release build's run holds the bound.
  [ "${PARLEY_SANITIZED:-0}" = 1 ] && return 0
  [ "$rss1" -le $((rss0 + BOUND_KB)) ] && [ "$rss2" -le $((rss0 + BOUND_KB)) ] || fail "RSS over the bound"
}

# Line mode used to defeat its own backpressure: one 64 KiB read of newlines became ~900 KB of
# replies. It now answers at most ~64 KiB ahead of the client and keeps the rest of the input
# unanswered, so a never-reading client costs about two read buffers.
LINES_BOUND_KB=$((200 * 160 + 16 * 1024))
never_reading_line_clients() {
  start_echo lb -q --threads 2 --lines --reply 'You told me: {line}' || return 1
  local rss0
  rss0=$(rss_kb "$EPID")
  python3 - "$EPORT" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    socks.append(s)
chunk = b"\n" * 65536
end = time.time() + 4
while time.time() < end:
    for s in socks:
        try: s.send(chunk)
        except BlockingIOError: pass
    time.sleep(0.01)
time.sleep(30)
PY
  local flood=$!
  BG_PIDS+=($flood)
  sleep 5
  local rss1
  rss1=$(rss_kb "$EPID")
  echo "    server RSS: ${rss0} KiB idle, ${rss1} KiB with 200 never-reading line clients; bound $((rss0 + LINES_BOUND_KB)) KiB"
  kill_tree $flood
  [ "$rss1" -le $((rss0 + LINES_BOUND_KB)) ] || fail "RSS over the bound"
}

check "50 connections x ${MB} MB, byte-exact" fifty_times_100mb
check "100 never-reading clients x ${MB} MB: bounded memory, others served" never_reading_clients
if [ "${PARLEY_SANITIZED:-0}" != 1 ]; then  # RSS means nothing under a sanitizer.
  check "200 never-reading line-mode clients: bounded memory" never_reading_line_clients
fi
finish
