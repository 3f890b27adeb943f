# Soak (issue 18): echo under 1,000 idle holders (bench hold) and 200 churning connections at a
# time, a third of which end with a reset, for PARLEY_SOAK_SECONDS (sanitized builds: 120, as CI's
# ASan stage runs it; release: 20; `make soak`: 30 minutes). The server's descriptors must come
# back to the holders' count, its memory must stay flat (release only: a sanitizer's quarantine
# makes RSS meaningless), and it must end cleanly on SIGTERM with no sanitizer report.
source "$(dirname "$0")/lib.sh"

if [ "${PARLEY_SANITIZED:-0}" = 1 ]; then
  SECONDS_SOAK=${PARLEY_SOAK_SECONDS:-120}
else
  SECONDS_SOAK=${PARLEY_SOAK_SECONDS:-20}
fi
HOLDERS=1000
fds_of() { ls "/proc/$1/fd" | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# churn PORT SECONDS: rounds of 200 connections that each send a line and read it back; every
# third leaves with a reset (SO_LINGER 0). Prints the rounds and connections done.
churn() {
  python3 - "$1" "$2" <<'EOF'
import socket, struct, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + seconds
rounds = conns = 0
while time.monotonic() < end:
    socks = []
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"soak %d\n" % i)
        socks.append(s)
    for i, s in enumerate(socks):
        want = b"soak %d\n" % i
        got = b""
        while len(got) < len(want):
            chunk = s.recv(len(want) - len(got))
            if not chunk:
                sys.exit("echo closed a connection early")
            got += chunk
        if got != want:
            sys.exit("echo answered %r to %r" % (got, want))
        if i % 3 == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    rounds += 1
    conns += len(socks)
print(rounds, conns)
EOF
}

soak() {
  start_echo soak || return 1
  # The server's descriptors before any holder: counted after bench started, the first holders
  # could already be in the base, and the wait below would never end (seen once in CI).
  local base deadline=$((SECONDS + 30))
  base=$(fds_of "$EPID")
  "$PARLEY" bench hold "127.0.0.1:$EPORT" -c "$HOLDERS" -d "$((SECONDS_SOAK + 30))s" \
    >"$WORK/hold.out" 2>"$WORK/hold.err" </dev/null &
  local hold=$!
  BG_PIDS+=("$hold")
  # Wait until the holders are in (each is a descriptor of the server's).
  while [ "$(fds_of "$EPID")" -lt $((base + HOLDERS)) ]; do
    [ $SECONDS -lt $deadline ] ||
      fail "holders not in after 30s: $(fds_of "$EPID") fds, $base before: $(cat "$WORK/hold.err")" ||
      return 1
    sleep 0.2
  done
  local fds0 rss0 fds1 rss1 done
  fds0=$(fds_of "$EPID")
  # A first short round warms the allocator, so that the later comparison is of steady states.
  churn "$EPORT" 2 >/dev/null || fail "churn failed" || return 1
  rss0=$(rss_kb "$EPID")
  done=$(churn "$EPORT" "$SECONDS_SOAK") || fail "churn failed: $done" || return 1
  sleep 1
  fds1=$(fds_of "$EPID")
  rss1=$(rss_kb "$EPID")
  echo "    ${SECONDS_SOAK}s: rounds, connections: $done; fds $fds0 -> $fds1; RSS ${rss0} -> ${rss1} KiB"
  assert_eq "$fds0" "$fds1" "descriptors after the churn" || return 1
  if [ "${PARLEY_SANITIZED:-0}" != 1 ]; then
    [ "$rss1" -le $((rss0 + rss0 / 5 + 8192)) ] || fail "RSS grew ${rss0} -> ${rss1} KiB" || return 1
  fi
  kill "$hold"
  kill -TERM "$EPID"
  wait_exit "$EPID" 30 || fail "echo exit status $?: $(tail -5 "$WORK/soak.err")" || return 1
  ! grep -Eq 'Sanitizer|runtime error' "$WORK/soak.err" || fail "$(cat "$WORK/soak.err")"
}

check "echo soak: 1,000 holders, 200 churning (a third reset): flat, clean exit" soak
finish
