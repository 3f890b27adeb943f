# parley bench: regressions for the defects of issues 17 and 18 -- --rate's own delay, the probe
# connection, unpaced stream --rate, greetings taken for answers, options and durations, TIME-WAIT
# and port exhaustion, impossible counts, "server full" lines, bad rates and -d 0.
source "$(dirname "$0")/lib.sh"

# A line server that greets first ("220 ready"), then answers every line with itself.
start_greeter() {
  start_py_server greeter <<'PY' || return 1
from pyserve import lines, serve_tcp
def serve(c):
    c.sendall(b"220 ready\n")
    for line in lines(c):
        c.sendall(line + b"\n")
serve_tcp(serve, lifetime=40)
PY
  GPORT=$PY_PORT
}

# 1. --rate added up to a millisecond of its own (a whole-millisecond epoll timeout), charged to
# the server: p50 at --rate 1000 must be within 100 us of the closed loop's. Up to three tries:
# the defect adds ~500 us every time, while a machine busy with other tests (ctest -j2) can delay
# the wakeup of one paced run by about 100 us (seen once in CI: 5.6 us closed, 114 us paced).
rate_adds_no_delay() {
  local closed paced try
  for try in 1 2 3; do
    "$PARLEY" bench pingpong -c 1 -d 1s --json 127.0.0.1 "$EPORT" >"$WORK/closed.json" || return 1
    "$PARLEY" bench pingpong -c 1 --rate 1000 -d 2s --json 127.0.0.1 "$EPORT" >"$WORK/paced.json" || return 1
    closed=$(json "$WORK/closed.json" 'r["latency"]["p50_us"]')
    paced=$(json "$WORK/paced.json" 'r["latency"]["p50_us"]')
    python3 -c "import sys; sys.exit(0 if $paced - $closed < 100 else 1)" && return 0
    echo "    try $try: p50 closed loop $closed us, at --rate 1000 $paced us" >&2
  done
  fail "p50 at --rate 1000 more than 100 us over the closed loop's in three tries"
}

# 2. No probe connection: a server that takes exactly one connection (socat without fork) serves
# the whole run, by name (two addresses to pick from) and by address.
one_connection_server() {
  local host
  for host in localhost 127.0.0.1; do
    local port
    port=$(free_port)
    socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr PIPE 2>/dev/null &
    BG_PIDS+=($!)
    wait_port "$port" || return 1
    "$PARLEY" bench pingpong -c 1 -d 500ms --json "$host" "$port" >"$WORK/one.json" ||
      { fail "$host: $(cat "$WORK/one.json")"; return 1; }
    assert_eq True "$(json "$WORK/one.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" \
      "$host: $(json "$WORK/one.json" 'r["round_trips"], r["errors"]')" || return 1
  done
}

# 3. stream --rate paces: 200 messages/s of 1000 B for 1 s is about 200 kB, not a flood; over
# UDP the report has loss, reordering and jitter.
stream_rate_paced() {
  "$PARLEY" bench stream --rate 200 -s 1000 -d 1s --json 127.0.0.1 "$EPORT" >"$WORK/sr.json" || return 1
  assert_eq True "$(json "$WORK/sr.json" '150000 <= r["bytes_sent"] <= 220000')" "TCP bytes sent: $(json "$WORK/sr.json" 'r["bytes_sent"]')" || return 1
  "$PARLEY" bench stream -u --rate 1000 -d 1s --json 127.0.0.1 "$UPORT" >"$WORK/usr.json" || return 1
  assert_eq True "$(json "$WORK/usr.json" '800 <= r["datagrams"]["sent"] <= 1100')" "UDP datagrams: $(json "$WORK/usr.json" 'r["datagrams"]')" || return 1
  assert_eq True "$(json "$WORK/usr.json" 'r["datagrams"]["lost"] == r["datagrams"]["sent"] - r["datagrams"]["received"] and r["datagrams"]["jitter_us"] >= 0')" "loss, jitter" || return 1
  "$PARLEY" bench stream -u --rate 1000 -d 500ms 127.0.0.1 "$UPORT" >"$WORK/usr.out" || return 1
  grep -Eq '^  datagrams +[0-9]+ sent, [0-9]+ received, [0-9]+ lost \([0-9.]+%\), [0-9]+ reordered, jitter [0-9.]+ (us|ms)$' "$WORK/usr.out" ||
    fail "no datagram line: $(cat "$WORK/usr.out")"
}

# 4. A server that speaks first: refused with words (not silently off by one); --greeting skip
# waits for it on every connection; --greeting expect=TEXT checks it.
greeting_detected() {
  start_greeter || return 1
  expect_exit 2 "parley: bench: 127.0.0.1:$GPORT speaks first ('220 ready\n'): its greeting would be taken for the first answer; use --greeting skip, or --greeting expect=TEXT to check it" \
    "$PARLEY" bench pingpong --lines -d 500ms 127.0.0.1 "$GPORT" || return 1
  "$PARLEY" bench pingpong --lines -c 3 -d 1s --verify --greeting skip --json 127.0.0.1 "$GPORT" >"$WORK/g.json" || return 1
  assert_eq True "$(json "$WORK/g.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" "skip: $(json "$WORK/g.json" 'r["errors"], r["mismatches"]')" || return 1
  "$PARLEY" bench connect -m 'hi\n' -c 2 -d 500ms --greeting 'expect=220 ready' --json 127.0.0.1 "$GPORT" >"$WORK/g2.json" || return 1
  assert_eq True "$(json "$WORK/g2.json" 'r["round_trips"] > 10 and r["errors_total"] == 0')" "expect" || return 1
  local rc=0
  "$PARLEY" bench pingpong -m 'hi\n' -d 300ms --greeting 'expect=250 ok' 127.0.0.1 "$GPORT" >"$WORK/g3.out" || rc=$?
  assert_eq 1 "$rc" "wrong greeting: exit" || return 1
  grep -qxF "  mismatch        greeting: expected '250 ok', got '220 ready\n'" "$WORK/g3.out" || fail "$(cat "$WORK/g3.out")"
}

# 6. Options and durations: --warmup and -m exist; -d 0 is refused at parse time; 1h30m and
# 1500us are times.
options_and_durations() {
  "$PARLEY" bench pingpong --warmup 300ms -d 500ms -m PING --json 127.0.0.1 "$EPORT" >"$WORK/w.json" || return 1
  assert_eq True "$(json "$WORK/w.json" '0.45 < r["seconds"] < 0.6 and r["round_trips"] > 100')" "warmup excluded: $(json "$WORK/w.json" 'r["seconds"]')" || return 1
  expect_exit 2 "" "$PARLEY" bench pingpong -d 0s 127.0.0.1 "$EPORT" || return 1
  grep -q -- "-d.*must be longer than 0" "$WORK/expect.err" || fail "$(cat "$WORK/expect.err")" || return 1
  expect_exit 2 "" "$PARLEY" bench pingpong -d 0 127.0.0.1 "$EPORT" || return 1
  "$PARLEY" bench pingpong -d 1h30m -n 200 --timeout 1500us --json 127.0.0.1 "$EPORT" >"$WORK/d.json" || return 1
  assert_eq 200 "$(json "$WORK/d.json" 'r["round_trips"]')" "-n with -d 1h30m"
}

# 18.10: rates that are not rates are refused in words (no DBL_MAX, no unpaced run).
bad_rates_refused() {
  local rate
  for rate in nan 1e-300 0 -5 inf; do
    expect_exit 2 "" "$PARLEY" bench pingpong --rate "$rate" -d 300ms 127.0.0.1 "$EPORT" || return 1
    grep -qF "'$rate' is not a rate: give 0.001 to 100000000 per second" "$WORK/expect.err" || fail "$rate: $(cat "$WORK/expect.err")" || return 1
    grep -q 17976931348623157 "$WORK/expect.err" && fail "DBL_MAX printed" && return 1
  done
  return 0
}

# 7. connect mode with --linger0 leaves no TIME-WAIT behind.
# The port is the kernel's choice, so an earlier listener of another test may have had it and left
# TIME-WAIT towards it: only sockets that were not there before the run count.
linger0_no_time_wait() {
  local main=$EPORT
  start_echo linger -q || return 1  # A server of its own: earlier cases left TIME-WAIT behind.
  ss -Htan state time-wait "dport = :$EPORT" | awk '{print $3}' | sort >"$WORK/tw.before"
  "$PARLEY" bench connect -d 500ms --linger0 --json 127.0.0.1 "$EPORT" >"$WORK/l0.json" || return 1
  assert_eq True "$(json "$WORK/l0.json" 'r["round_trips"] > 50')" "connects" || return 1
  ss -Htan state time-wait "dport = :$EPORT" | awk '{print $3}' | sort >"$WORK/tw.after"
  EPORT=$main
  assert_eq "" "$(comm -13 "$WORK/tw.before" "$WORK/tw.after")" "new TIME-WAIT sockets towards the server"
}

# 18.10: hold against a full server: its "server full" line is no mismatch (the close is
# "closed early"), and the report quotes it.
hold_server_full() {
  local main=$EPORT rc=0
  start_echo full -q --max-conns 2 || return 1
  "$PARLEY" bench hold -c 4 -d 500ms --threads 1 127.0.0.1 "$EPORT" >"$WORK/full.out" || rc=$?
  EPORT=$main
  assert_eq 1 "$rc" "exit" || return 1
  grep -q mismatch "$WORK/full.out" && { fail "mismatch counted: $(cat "$WORK/full.out")"; return 1; }
  grep -Eq '^  errors +closed_early [0-9]+$' "$WORK/full.out" || fail "$(cat "$WORK/full.out")" || return 1
  grep -qF "  server said     'error: server full (2 connections), try again later\n' (unasked)" "$WORK/full.out" || fail "$(cat "$WORK/full.out")"
}

# 7 and 18.10: in a network namespace with 10 local ports, connects fail at once with
# EADDRNOTAVAIL: the report names port exhaustion, and the open count stays a real number.
ports_run_out() {
  if ! unshare -n true 2>/dev/null; then
    echo "    (skipped: cannot create a network namespace)"
    return 0
  fi
  unshare -n bash -c '
    ip link set lo up
    sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
    port=12345  # Outside the range: port 0 would take one of the ten.
    "$0" echo -p $port --bind 127.0.0.1 -q >/dev/null 2>"$1/ns.err" </dev/null &
    pid=$!
    for i in $(seq 100); do grep -q "Listening on" "$1/ns.err" && break; sleep 0.05; done
    # --linger0: the first run leaves no TIME-WAIT to take the second run'"'"'s ports.
    "$0" bench hold -c 30 -d 500ms --threads 1 --linger0 127.0.0.1 "$port" >"$1/ports.out" 2>&1
    "$0" bench hold -c 30 -d 500ms --threads 1 --linger0 --json 127.0.0.1 "$port" >"$1/ports.json" 2>&1
    kill $pid' "$PARLEY" "$WORK"
  grep -Eq '^  connections +10 opened, 10 open at the end, 10 at most$' "$WORK/ports.out" || fail "counts: $(cat "$WORK/ports.out")" || return 1
  grep -Eq '^  note +[0-9]+ connects failed: no local port left \(EADDRNOTAVAIL; range 40000-40009, 10 ports$' "$WORK/ports.out" || fail "no note: $(cat "$WORK/ports.out")" || return 1
  assert_eq True "$(json "$WORK/ports.json" 'r["open_at_end"] == 10 and r["peak_open"] == 10')" "json counts"
}

# 18.10: opening thousands of connections at once took longer than the connect timeout, so they
# all timed out before the loop looked at a single completion (hold -c 30000 reported ~1,000
# open while the kernel had 20,556). Connections are opened in bursts between event handling.
# The server never accepts: the kernel completes each handshake into its 4096-deep backlog, so
# every connect succeeds at once, however fast the server is.
hold_many_no_spurious_timeouts() {
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4000 ]; then
    echo "    (skipped: ulimit -n $(ulimit -n) < 4000)"
    return 0
  fi
  rm -f "$WORK/backlog.port"
  python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096)
print(s.getsockname()[1], flush=True)
time.sleep(20)' >"$WORK/backlog.port" &
  BG_PIDS+=($!)
  local deadline=$((SECONDS + 5))
  until [ -s "$WORK/backlog.port" ]; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.05; done
  "$PARLEY" bench hold -c 3500 --timeout 100ms -d 1s --threads 1 --json 127.0.0.1 "$(cat "$WORK/backlog.port")" >"$WORK/many.json"
  assert_eq True "$(json "$WORK/many.json" 'r["open_at_end"] == 3500 and r["errors_total"] == 0 and r["not_open_at_end"] == 0')" \
    "$(json "$WORK/many.json" 'r["open_at_end"], r["errors"]')"
}

start_echo main -q || exit 1
MAIN_PORT=$EPORT
start_echo udp -q -u || exit 1
UPORT=$EPORT
EPORT=$MAIN_PORT

check "--rate 1000: p50 within 100 us of the closed loop" rate_adds_no_delay
check "no probe connection: a one-connection server serves the run" one_connection_server
check "stream --rate paces TCP and UDP; UDP loss and jitter" stream_rate_paced
check "a greeting is refused in words, skipped or checked" greeting_detected
check "--warmup, -m, -d 0 refused, 1h30m and 1500us" options_and_durations
check "--rate nan, 1e-300, 0, -5, inf refused" bad_rates_refused
check "connect --linger0: no TIME-WAIT" linger0_no_time_wait
check "hold vs a full server: no mismatch, its line quoted" hold_server_full
check "out of local ports: named, counts stay real" ports_run_out
check "hold -c 3500 --timeout 100ms: no spurious timeouts while opening" hold_many_no_spurious_timeouts
finish
