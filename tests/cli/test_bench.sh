# parley bench against real servers on loopback: counts add up, --verify catches corruption,
# refusals are counted, hold reaches its target, --rate exposes a stall in the tail, --json; the
# same over UDP (-u), where lost datagrams count as timeouts.
source "$(dirname "$0")/lib.sh"

# A Python echo server for special behaviour: flip (one byte per message) or stall (once, 600 ms).
start_special() {
  start_py_server "special.$1" "$1" <<'PY' || return 1
import sys, threading, time
from pyserve import serve_tcp
mode = sys.argv[1]
stalled = threading.Event()
def serve(c):
    t0 = time.monotonic()
    while True:
        d = c.recv(64)
        if not d: return
        if mode == "flip":
            d = bytes([d[0] ^ 0xFF]) + d[1:]
        if mode == "stall" and time.monotonic() - t0 > 0.5 and not stalled.is_set():
            stalled.set(); time.sleep(0.6)
        c.sendall(d)
serve_tcp(serve)
PY
  SPORT=$PY_PORT
}

# A Python UDP echo server that misbehaves: drop (answers every other datagram) or flip (one
# byte of every answer).
start_udp_special() {
  start_py_server "uspecial.$1" "$1" <<'PY' || return 1
import socket, sys, time
mode = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(1)
n, deadline = 0, time.monotonic() + 30  # Bounded: the helper ends by itself.
while time.monotonic() < deadline:
    try: d, peer = s.recvfrom(65535)
    except socket.timeout: continue
    n += 1
    if mode == "drop" and n % 2 == 0: continue
    if mode == "flip": d = bytes([d[0] ^ 0xFF]) + d[1:]
    s.sendto(d, peer)
PY
  SPORT=$PY_PORT
}

# Answer coalescing (coalesce.hpp) seen from outside, with strace counting the loop's naps. A
# server that queues (one request at a time, 1 ms each, 30 connections: answers take ~30 ms, the
# first took 1 ms) gets naps before the waits, and the report still adds up: every byte checked,
# and the mean latency is what Little's law says it must be (connections / rate). A server whose
# latency is its own work (5 ms each, all in parallel) gets a handful at most: none on an idle
# machine, 7 once in CI's ASan stage with another test beside it (the load then does queue).
naps_only_for_a_queue() {
  start_py_server "delay.$1" "$1" <<'PY' || return 1
import sys, threading, time
from pyserve import serve_tcp
serial = sys.argv[1] == "serial"
lock = threading.Lock()
def serve(c):
    while True:
        d = c.recv(64)
        if not d: return
        if serial:
            with lock:
                time.sleep(0.001)
                c.sendall(d)
        else:
            time.sleep(0.005)
            c.sendall(d)
serve_tcp(serve)
PY
  # --seccomp-bpf: only the traced calls stop parley (each stop would otherwise add to the time
  # between an answer and the next request, which Little's law counts and the latency does not).
  # LeakSanitizer cannot work under ptrace (ASan build); every other test checks for leaks.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace --seccomp-bpf -f -qq -e trace=nanosleep,clock_nanosleep -o "$WORK/naps.$1" \
    "$PARLEY" bench pingpong -c 30 -d 2s --threads 1 --verify --json 127.0.0.1 "$PY_PORT" >"$WORK/naps.$1.json" || return 1
  local naps
  # Naps are 10-50 us; the sanitizers' own threads sleep too, for far longer.
  naps=$(grep -cE 'nanosleep\(.*\{tv_sec=0, tv_nsec=[0-9]{5}\}' "$WORK/naps.$1")
  if [ "$1" = serial ]; then
    [ "$naps" -ge 200 ] || fail "$naps naps against a server that queues" || return 1
  else
    [ "$naps" -le 20 ] || fail "$naps naps against a server whose latency is its work" || return 1
  fi
  assert_eq 0 "$(json "$WORK/naps.$1.json" 'r["errors_total"]')" "errors" || return 1
  assert_eq True "$(json "$WORK/naps.$1.json" 'r["round_trips"] > 100 and r["bytes_received"] == 64 * r["round_trips"]')" \
    "round trips, each answer's 64 bytes" || return 1
  assert_eq True "$(json "$WORK/naps.$1.json" 'abs(r["latency"]["mean_us"] / (30e6 / r["round_trips_per_s"]) - 1) < 0.1')" \
    "mean latency within 10% of connections / rate ($(json "$WORK/naps.$1.json" 'r["latency"]["mean_us"], 30e6 / r["round_trips_per_s"]'))"
}

counts_add_up() {
  start_echo echo -q || return 1
  "$PARLEY" bench pingpong -c 20 -s 100 -d 1s --verify --json 127.0.0.1 "$EPORT" >"$WORK/pp.json" || return 1
  assert_eq True "$(json "$WORK/pp.json" 'r["round_trips"] > 1000')" "enough round trips" || return 1
  assert_eq True "$(json "$WORK/pp.json" 'r["bytes_received"] == r["round_trips"] * 100')" "received = round trips x size" || return 1
  assert_eq True "$(json "$WORK/pp.json" 'r["bytes_sent"] - r["bytes_received"] <= 20 * 100')" "sent = received (+ in flight)" || return 1
  assert_eq 0 "$(json "$WORK/pp.json" 'r["errors_total"]')" "errors"
}

# One connection takes the solo path (a blocking read instead of epoll); a message far bigger
# than the socket buffers must still flow both ways at once instead of deadlocking.
solo_big_messages() {
  "$PARLEY" bench pingpong -c 1 -s 4000000 -d 1s --verify --json 127.0.0.1 "$EPORT" >"$WORK/big.json" || return 1
  assert_eq True "$(json "$WORK/big.json" 'r["round_trips"] >= 5 and 0 <= r["bytes_received"] - r["round_trips"] * 4000000 < 4000000')" "4 MB round trips (+ part of the last)" || return 1
  assert_eq 0 "$(json "$WORK/big.json" 'r["errors_total"]')" "errors"
}

count_limit() {
  "$PARLEY" bench pingpong -n 5000 --threads 1 --json 127.0.0.1 "$EPORT" >"$WORK/n.json" || return 1
  assert_eq 5000 "$(json "$WORK/n.json" 'r["round_trips"]')" "-n round trips"
}

verify_catches_flips() {
  start_special flip || return 1
  local rc=0
  "$PARLEY" bench pingpong -c 2 -d 1s --verify 127.0.0.1 "$SPORT" >"$WORK/flip.out" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  grep -Eq '^  errors +mismatch [0-9]+$' "$WORK/flip.out" || fail "$(cat "$WORK/flip.out")"
}

refused_reported() {
  local port rc=0
  port=$(free_port)
  "$PARLEY" bench pingpong -c 3 -d 1s --json 127.0.0.1 "$port" >"$WORK/ref.json" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  assert_eq True "$(json "$WORK/ref.json" 'r["errors"]["refused"] >= 3 and r["round_trips"] == 0')" "refused counted"
}

hold_reaches_target() {
  "$PARLEY" bench hold -c 500 -d 2s --connect-rate 1000 --json 127.0.0.1 "$EPORT" >"$WORK/hold.json" || return 1
  assert_eq 500 "$(json "$WORK/hold.json" 'r["open_at_end"]')" "connections held" || return 1
  assert_eq 0 "$(json "$WORK/hold.json" 'r["errors_total"]')" "errors"
}

# Out of descriptors: the run goes on with what it could open, and the report says why in words.
fd_exhaustion_explained() {
  local rc=0
  ( ulimit -n 64; exec "$PARLEY" bench hold -c 200 -d 1s --threads 1 127.0.0.1 "$EPORT" ) >"$WORK/fd.out" 2>&1 || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  grep -Eq '^  connections +[1-9][0-9]* opened' "$WORK/fd.out" || fail "nothing opened: $(cat "$WORK/fd.out")" || return 1
  grep -Eq '^  note +[0-9]+ sockets could not be opened: out of file descriptors$' "$WORK/fd.out" || fail "no note: $(cat "$WORK/fd.out")" || return 1
  grep -qF "(limit 64 per thread): raise it with 'ulimit -n', or use fewer connections" "$WORK/fd.out" || fail "no limit: $(cat "$WORK/fd.out")"
}

# The server stalls once for 600 ms. At a fixed rate, every request due during the stall waits,
# and measured from its intended time that is a long tail; a closed loop would hide it.
rate_shows_stall() {
  start_special stall || return 1
  "$PARLEY" bench pingpong -c 1 --rate 500 -d 2s --threads 1 --json 127.0.0.1 "$SPORT" >"$WORK/rate.json" || return 1
  assert_eq True "$(json "$WORK/rate.json" 'r["latency"]["max_us"] > 500000')" "max covers the stall" || return 1
  assert_eq True "$(json "$WORK/rate.json" 'r["latency"]["p90_us"] > 100000')" "tail: $(json "$WORK/rate.json" 'r["latency"]')"
}

lines_mode() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 -q --lines >/dev/null 2>"$WORK/lecho.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/lecho.err" 'Listening on' || return 1
  "$PARLEY" bench pingpong --lines -s 32 -d 1s --verify --json 127.0.0.1 "$(port_from "$WORK/lecho.err")" >"$WORK/lines.json" || return 1
  assert_eq True "$(json "$WORK/lines.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" "line round trips"
}

json_schema() {
  python3 - "$WORK/pp.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
schema = {"mode": str, "target": str, "connections": int, "size": int, "threads": int, "rate": (int, float),
          "seconds": float, "interrupted": bool, "round_trips": int, "round_trips_per_s": (int, float),
          "bytes_sent": int, "bytes_received": int, "connections_opened": int, "open_at_end": int,
          "peak_open": int, "errors": dict, "errors_total": int, "latency": dict,
          "steady_round_trips_per_s": (int, float), "connect_ramp_ms": (int, float)}
for k, t in schema.items():
    assert isinstance(r[k], t), (k, r[k])
assert set(r["errors"]) == {"refused", "reset", "timeout", "mismatch", "closed_early", "malformed",
                            "non_2xx", "other"}, r["errors"]
for k in ("count", "min_us", "mean_us", "max_us", "p50_us", "p90_us", "p99_us", "p99_9_us", "p99_99_us"):
    assert isinstance(r["latency"][k], (int, float)), k
assert r["latency"]["p50_us"] <= r["latency"]["p99_us"] <= r["latency"]["max_us"]
assert r["connect_ramp_ms"] >= 0 and r["steady_round_trips_per_s"] > 0, r
# Every key can be used in a jq path.
import re
def keys(o):
    if isinstance(o, dict):
        for k, v in o.items():
            yield k
            yield from keys(v)
    elif isinstance(o, list):
        for v in o: yield from keys(v)
bad = [k for k in keys(r) if not re.fullmatch(r"[a-z][a-z0-9_]*", k)]
assert not bad, bad
# The histogram's buckets: ascending upper edges whose counts add up to the count.
b = r["latency"]["buckets"]
assert sum(n for _, n in b) == r["latency"]["count"] and [e for e, _ in b] == sorted(e for e, _ in b), b[:5]
PY
}

# Stream and hold time no round trips: their latency is null, not 0.
no_latency_is_null() {
  "$PARLEY" bench stream -d 300ms --json 127.0.0.1 "$EPORT" >"$WORK/sl.json" || return 1
  assert_eq None "$(json "$WORK/sl.json" 'r["latency"]')" "stream latency" || return 1
  "$PARLEY" bench hold -c 3 -d 300ms --json 127.0.0.1 "$EPORT" >"$WORK/hl.json" || return 1
  assert_eq None "$(json "$WORK/hl.json" 'r["latency"]')" "hold latency"
}

interrupt_partial_report() {
  "$PARLEY" bench pingpong "$@" -d 20s 127.0.0.1 "$EPORT" >"$WORK/int.out" 2>&1 &
  local pid=$!
  sleep 1
  kill -INT $pid
  wait_exit $pid 3 || return 1
  grep -q "(interrupted)" "$WORK/int.out" && grep -Eq '^  round trips +[1-9]' "$WORK/int.out" || fail "$(cat "$WORK/int.out")"
}

# On a terminal, a progress line each second: bar, elapsed/duration, rate, MB/s, open, errors.
# Both shapes: the loop on the main thread (one worker) and the main thread watching workers.
# script(1) can lose what the child wrote last when the child exits at once (seen in CI: an
# empty typescript, status 0), so the shell inside waits a moment before it exits.
progress_line_on_terminal() {
  timeout 10 script -qec "'$PARLEY' bench pingpong $* -d 2s 127.0.0.1 $EPORT; rc=\$?; sleep 0.3; exit \$rc" \
    /dev/null >"$WORK/tty.out" 2>&1 || return 1
  tr '\r' '\n' <"$WORK/tty.out" | grep -aEq '\[#+ *\] 1/2 s  [1-9][0-9]* rt/s  [0-9.]+ MB/s  [1-9][0-9]* open  0 errors' ||
    fail "no progress line: $(tr '\r' '\n' <"$WORK/tty.out" | head -5)"
}

# --quiet (issue 19): no progress line even on a terminal, the report still comes.
quiet_on_terminal() {
  timeout 10 script -qec "'$PARLEY' bench pingpong --quiet -d 2s 127.0.0.1 $EPORT; rc=\$?; sleep 0.3; exit \$rc" \
    /dev/null >"$WORK/q.out" 2>&1 || return 1
  if tr '\r' '\n' <"$WORK/q.out" | grep -aEq '^\[#* *\]'; then fail "progress line with --quiet"; return 1; fi
  grep -aq "round trips" "$WORK/q.out" || fail "no report: $(head -3 "$WORK/q.out")"
}

# -v (issue 19): the address and load before the run; progress as lines when stderr is a file.
verbose_lines() {
  "$PARLEY" bench pingpong -v -c 2 --threads 1 -d 2s localhost "$EPORT" >/dev/null 2>"$WORK/v.err" || return 1
  assert_eq "parley: bench: pingpong localhost:$EPORT at 127.0.0.1:$EPORT: 2 connections on up to 1 thread for 2.00 s" \
    "$(sed -n 1p "$WORK/v.err")" || return 1
  grep -Eq '^\[#+ *\] 1/2 s  [1-9][0-9]* rt/s  [0-9.]+ MB/s  2 open  0 errors$' "$WORK/v.err" ||
    fail "no progress line: $(cat "$WORK/v.err")" || return 1
  expect_exit 2 "parley: bench: --quiet excludes --verbose" "$PARLEY" bench pingpong -v --quiet 127.0.0.1 "$EPORT"
}

stream_and_connect_modes() {
  "$PARLEY" bench stream -d 1s --verify --json 127.0.0.1 "$EPORT" >"$WORK/st.json" || return 1
  assert_eq True "$(json "$WORK/st.json" 'r["bytes_received"] > 10**6 and r["errors_total"] == 0')" "stream bytes" || return 1
  assert_eq True "$(json "$WORK/st.json" 'r["bytes_sent"] >= r["bytes_received"]')" "stream sent >= received" || return 1
  "$PARLEY" bench connect -c 4 -d 1s --threads 2 --json 127.0.0.1 "$EPORT" >"$WORK/cn.json" || return 1
  assert_eq True "$(json "$WORK/cn.json" 'r["connections_opened"] >= r["round_trips"] > 100 and r["threads"] == 2')" "connect mode"
}

udp_counts_add_up() {
  local tcp_port=$EPORT
  start_echo uecho -q -u || return 1
  local uport=$EPORT
  EPORT=$tcp_port
  "$PARLEY" bench pingpong -u -c 5 -s 200 -d 1s --verify --json 127.0.0.1 "$uport" >"$WORK/u.json" || return 1
  assert_eq udp "$(json "$WORK/u.json" 'r["protocol"]')" "protocol" || return 1
  assert_eq True "$(json "$WORK/u.json" 'r["round_trips"] > 1000')" "enough round trips" || return 1
  assert_eq True "$(json "$WORK/u.json" 'r["bytes_received"] == r["round_trips"] * 200')" "received = round trips x size" || return 1
  assert_eq 0 "$(json "$WORK/u.json" 'r["errors_total"]')" "errors" || return 1
  # --rate paces UDP requests as it does TCP ones (loose bounds: this checks pacing, not speed).
  "$PARLEY" bench pingpong -u -c 4 --rate 2000 -d 1s --json 127.0.0.1 "$uport" >"$WORK/ur.json" || return 1
  assert_eq True "$(json "$WORK/ur.json" '1000 <= r["round_trips"] <= 2200')" "paced: $(json "$WORK/ur.json" 'r["round_trips"]')" || return 1
  "$PARLEY" bench stream -u -d 1s --verify --json 127.0.0.1 "$uport" >"$WORK/us.json" || return 1
  # Loopback may drop datagrams when the server falls behind; what arrives must be intact.
  assert_eq True "$(json "$WORK/us.json" '0 < r["bytes_received"] <= r["bytes_sent"] and r["bytes_received"] % 1472 == 0')" "stream datagrams" || return 1
  assert_eq 0 "$(json "$WORK/us.json" 'r["errors_total"]')" "stream errors"
}

# Every other datagram goes unanswered: each loss is one timeout, and the run goes on. With one
# connection the generator waits in a blocking read instead of epoll (the solo path): same result.
udp_loss_counted() {
  start_udp_special drop || return 1
  local rc=0
  "$PARLEY" bench pingpong -u -c "$1" --timeout 50ms -d 1500ms --json 127.0.0.1 "$SPORT" >"$WORK/ud.json" || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  assert_eq True "$(json "$WORK/ud.json" 'r["errors"]["timeout"] >= 3 and r["round_trips"] >= 3')" "losses: $(json "$WORK/ud.json" 'r["errors"], r["round_trips"]')" || return 1
  assert_eq True "$(json "$WORK/ud.json" 'r["errors_total"] == r["errors"]["timeout"]')" "only timeouts"
}

udp_verify_and_refused() {
  start_udp_special flip || return 1
  local rc=0 port
  "$PARLEY" bench pingpong -u -d 1s --verify 127.0.0.1 "$SPORT" >"$WORK/uf.out" || rc=$?
  assert_eq 1 "$rc" "flip: exit status" || return 1
  grep -Eq '^  errors +mismatch [0-9]+$' "$WORK/uf.out" || fail "$(cat "$WORK/uf.out")" || return 1
  port=$(python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rc=0
  "$PARLEY" bench pingpong -u -c 2 -d 500ms --json 127.0.0.1 "$port" >"$WORK/ur.json" || rc=$?
  assert_eq 1 "$rc" "closed port: exit status" || return 1
  assert_eq True "$(json "$WORK/ur.json" 'r["errors"]["refused"] >= 2 and r["round_trips"] == 0')" "refused counted"
}

udp_usage_errors() {
  local rc=0
  "$PARLEY" bench hold -u 127.0.0.1 9 >/dev/null 2>"$WORK/uu.err" || rc=$?
  assert_eq 2 "$rc" "hold -u: exit status" || return 1
  assert_eq "parley: bench: hold mode needs TCP: UDP has no connections to open or hold" "$(cat "$WORK/uu.err")" "hold -u" || return 1
  rc=0
  "$PARLEY" bench pingpong -u -s 65508 127.0.0.1 9 >/dev/null 2>"$WORK/uu.err" || rc=$?
  assert_eq 2 "$rc" "-u -s 65508: exit status" || return 1
  assert_eq "parley: bench: a UDP message is one datagram, at most 65507 bytes" "$(cat "$WORK/uu.err")" "-s too big"
}

udp_lines() {
  local tcp_port=$EPORT
  start_echo ulecho -q -u --udp-amplify --lines --reply 'ok {line}' || return 1
  local uport=$EPORT
  EPORT=$tcp_port
  "$PARLEY" bench pingpong -u --lines -s 16 -d 1s --json 127.0.0.1 "$uport" >"$WORK/ul.json" || return 1
  assert_eq True "$(json "$WORK/ul.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" "line round trips" || return 1
  # Each answer is "ok " + the 16-byte line: the template was applied, one datagram per answer.
  assert_eq True "$(json "$WORK/ul.json" 'r["bytes_received"] == r["round_trips"] * 19')" "answer bytes"
}

check "pingpong: counts add up, no mismatches" counts_add_up
check "a queueing server: naps, and the counts and Little's law hold" naps_only_for_a_queue serial
check "a server whose latency is its work: a handful of naps at most" naps_only_for_a_queue parallel
check "stream --verify and connect modes" stream_and_connect_modes
check "-n stops at the count" count_limit
check "one connection, 4 MB messages: no deadlock" solo_big_messages
check "--verify catches a flipped byte: exit 1" verify_catches_flips
check "closed port: refusals counted, exit 1" refused_reported
check "hold reaches 500 connections" hold_reaches_target
check "out of descriptors: explained, run goes on" fd_exhaustion_explained
check "--rate: a stall shows in the tail" rate_shows_stall
check "--lines against a line server" lines_mode
check "--json schema: jq-usable keys, histogram buckets" json_schema
check "--json: stream and hold latency is null" no_latency_is_null
check "Ctrl-C with two threads: partial report" interrupt_partial_report -c 4 --threads 2
check "Ctrl-C with one thread (loop on the main thread)" interrupt_partial_report --threads 1
check "progress line on a terminal, one thread" progress_line_on_terminal --threads 1
check "progress line on a terminal, two threads" progress_line_on_terminal -c 4 --threads 2
check "--quiet: no progress line on a terminal" quiet_on_terminal
check "-v: address and load, progress lines off a terminal" verbose_lines
check "UDP: pingpong counts add up, --rate paces, stream datagrams intact" udp_counts_add_up
check "UDP: lost datagrams are timeouts, the run goes on" udp_loss_counted 2
check "UDP, one connection: lost datagrams are timeouts" udp_loss_counted 1
check "UDP: --verify catches a flipped byte; closed port refused" udp_verify_and_refused
check "UDP: hold and oversized datagrams are usage errors" udp_usage_errors
check "UDP: --lines against a UDP line server" udp_lines
finish
