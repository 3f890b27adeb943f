# parley echo, black-box: byte-exact echo, UDP, line mode and its limits, max-conns, idle timeout,
# graceful drain on SIGTERM, out-of-descriptors recovery, and every resource released.
source "$(dirname "$0")/lib.sh"


# A python client for small exchanges: sends its arguments' bytes, half-closes, prints the answer.
exchange() {
  python3 - "$@" <<'PY'
import socket, sys
port, data = int(sys.argv[1]), sys.argv[2].encode().decode('unicode_escape').encode('latin-1')
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(data); s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.buffer.write(out)
PY
}

echo_exact_small() {
  start_echo e1 || return 1
  assert_eq "Hallo" "$(echo Hallo | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT")" || return 1
  wait_for_line "$WORK/e1.err" '127\.0\.0\.1:[0-9]+ connected$' || return 1
  wait_for_line "$WORK/e1.err" 'closed \(closed by peer\): 6 bytes in, 6 out, [0-9.]+ s$'
}

echo_binary_10mb() {
  start_echo e2 --threads 2 || return 1
  head -c $((10 << 20)) /dev/urandom >"$WORK/bin"
  timeout 20 "$PARLEY" connect 127.0.0.1 "$EPORT" <"$WORK/bin" >"$WORK/bin.back" || return 1
  assert_eq "$(sha "$WORK/bin")" "$(sha "$WORK/bin.back")" "echoed bytes"
}

udp_echo() {
  start_echo u -u || return 1
  head -c 1000 /dev/urandom >"$WORK/dg"
  timeout 5 "$PARLEY" connect -u 127.0.0.1 "$EPORT" <"$WORK/dg" >"$WORK/dg.back" || return 1
  assert_eq "$(sha "$WORK/dg")" "$(sha "$WORK/dg.back")" "datagram" || return 1
  local out
  out=$(python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
for m in (b'one', b'two', b'three'):
    s.sendto(m, ('127.0.0.1', $EPORT)); print(s.recvfrom(100)[0].decode())")
  assert_eq $'one\ntwo\nthree' "$out" "one datagram back per datagram" || return 1
  # Line mode over UDP: each datagram answered in one, {peer} naming the sender.
  start_echo ul -u --udp-amplify --lines --reply '{line} from {peer}' || return 1
  out=$(python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.bind(('127.0.0.1', 0))
s.sendto(b'hi', ('127.0.0.1', $EPORT)); print(s.recvfrom(100)[0].decode() == 'hi from 127.0.0.1:%d\n' % s.getsockname()[1])")
  assert_eq True "$out" "UDP line reply with {peer}"
}

line_mode_fields() {
  start_echo l --lines --reply 'You told me: {line} [#{n} {len}B from {peer}]' || return 1
  local out
  out=$(exchange "$EPORT" 'Hallo\r\nserver\nlast') || return 1
  local peer
  peer=$(grep -Eo '127\.0\.0\.1:[0-9]+ connected' "$WORK/l.err" | head -1 | cut -d' ' -f1)
  assert_eq "You told me: Hallo [#1 5B from $peer]"$'\r\n'"You told me: server [#2 6B from $peer]"$'\n'"You told me: last [#3 4B from $peer]"$'\n' "$out"$'\n' "replies" || return 1
  # The seed's other server, one flag away; literal braces.
  start_echo l2 --lines --reply 'server got: {{{line}}}' || return 1
  assert_eq "server got: {Hallo}" "$(exchange "$EPORT" 'Hallo\n')"
}

line_split_across_reads() {
  start_echo ls --lines --reply '<{line}>' || return 1
  local out
  out=$(python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $EPORT))
for piece in (b'hel', b'lo\nwor', b'ld\n'):
    s.sendall(piece); time.sleep(0.1)
s.shutdown(socket.SHUT_WR)
print(s.makefile('rb').read().decode(), end='')")
  assert_eq $'<hello>\n<world>' "$out"
}

oversized_line() {
  start_echo big --lines --max-line 1000 || return 1
  local out
  out=$(python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $EPORT)); s.settimeout(5)
s.sendall(b'ok\n' + b'x' * 5000)
data = b''
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data.decode(), end='')")
  assert_eq $'ok\nerror: line longer than 1000 bytes; closing' "$out" || return 1
  wait_for_line "$WORK/big.err" 'closed \(line too long\)'
}

# --max-line counts the line, not its ending: 10 bytes with CRLF were "longer than 10 bytes" where
# the same line with LF was echoed.
max_line_with_crlf() {
  start_echo ml --lines --max-line 10 || return 1
  local out
  out=$(printf '0123456789\r\n0123456789\n' | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" | od -An -c -w64 | tr -s ' ')
  assert_eq " 0 1 2 3 4 5 6 7 8 9 \r \n 0 1 2 3 4 5 6 7 8 9 \n" "$out"
}

bad_template() {
  expect_exit 2 "parley: echo: --reply: unknown field or unmatched brace (fields: {line} {peer} {n} {len})" \
    "$PARLEY" echo -p 0 --lines --reply 'hi {nope}'
}

# Without --lines a reply template answers each chunk read, as the seed's servers answer each
# recv(): a client that sends "Hallo" without a newline gets "You told me: Hallo".
reply_per_chunk() {
  start_echo rc --reply 'You told me: {line}' || return 1
  local out
  out=$(python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $EPORT)); s.settimeout(3)
s.sendall(b'Hallo'); print(s.recv(1024).decode())")
  assert_eq "You told me: Hallo" "$out" "a reply per chunk"
}

max_conns_refusal() {
  start_echo mc -m 2 || return 1  # -m, as listen and forward spell --max-conns
  local i
  for i in 1 2; do
    "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null < <(sleep 4) &
    BG_PIDS+=($!)
  done
  wait_for_line "$WORK/mc.err" 'connected$' || return 1
  sleep 0.3
  local out
  out=$(timeout 5 "$PARLEY" connect --recv-only 127.0.0.1 "$EPORT") || return 1
  assert_eq "error: server full (2 connections), try again later" "$out" || return 1
  wait_for_line "$WORK/mc.err" 'refused: server full \(2 connections\)$'
}

idle_timeout() {
  start_echo it --idle-timeout 300ms || return 1
  local start=$SECONDS
  timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" < <(sleep 4) >/dev/null &
  wait_exit $! 3 || return 1
  wait_for_line "$WORK/it.err" 'closed \(idle timeout\)'
}

sigterm_summary() {
  start_echo st || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null || return 1
  kill -TERM "$EPID"
  local rc=0
  wait_exit "$EPID" 5 || rc=$?
  assert_eq 0 "$rc" "exit status" || return 1
  grep -Eq '^parley: 1 connection served \(0 refused, 0 denied\), 3 bytes in, 3 bytes out, 1 message in [0-9.]+ s\.$' "$WORK/st.err" ||
    fail "summary: $(cat "$WORK/st.err")"
}

port_in_use() {
  start_echo pu || return 1
  expect_exit 2 "parley: echo: cannot listen on 127.0.0.1 port $EPORT: Address already in use" "$PARLEY" echo -p "$EPORT" --bind 127.0.0.1
}

log_data_and_reachable() {
  "$PARLEY" echo -p 0 --log-data >/dev/null 2>"$WORK/ld.err" </dev/null &
  EPID=$!
  BG_PIDS+=("$EPID")
  wait_for_line "$WORK/ld.err" 'Listening on' || return 1
  EPORT=$(port_from "$WORK/ld.err")
  grep -qx "parley: Listening on \[::\]:$EPORT" "$WORK/ld.err" || fail "no [::] listener" || return 1
  grep -qx "parley: Listening on 0.0.0.0:$EPORT" "$WORK/ld.err" || fail "no 0.0.0.0 listener" || return 1
  grep -qx "parley: Reachable at 127.0.0.1:$EPORT (lo)" "$WORK/ld.err" || fail "no reachable line: $(cat "$WORK/ld.err")" || return 1
  echo Hallo | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null || return 1
  wait_for_line "$WORK/ld.err" '127\.0\.0\.1:[0-9]+ sent 6 bytes: Hallo\\n$'
}

# SIGUSR1 and --stats-interval print counters; a second SIGTERM does not wait for the drain.
stats_and_second_signal() {
  start_echo ss --stats-interval 200ms --drain-timeout 30s || return 1
  wait_for_line "$WORK/ss.err" '^parley: stats: 0 active, 0 total, 0 refused, 0 denied, 0 bytes in, 0 bytes out, 0 messages$' || return 1
  # A client that sends a lot and never reads keeps the drain waiting.
  head -c $((20 << 20)) /dev/zero | "$PARLEY" connect --send-only 127.0.0.1 "$EPORT" &
  BG_PIDS+=($!)
  sleep 0.5
  kill -USR1 "$EPID"
  wait_for_line "$WORK/ss.err" '^parley: stats: 1 active, 1 total, 0 refused, 0 denied, [1-9][0-9]* bytes in' || return 1
  kill -TERM "$EPID"
  wait_for_line "$WORK/ss.err" '^parley: Stopping: finishing what clients sent' || return 1
  sleep 0.5
  kill -0 "$EPID" || fail "first SIGTERM should wait for the stuck client" || return 1
  kill -TERM "$EPID"
  local rc=0
  wait_exit "$EPID" 3 || rc=$?
  assert_eq 0 "$rc" "exit status after the second signal"
}

# `--bind ADDR PORT`: the port is the positional, not a second address (issue 16, item 10).
bind_then_port() {
  local port
  port=$(free_port)
  "$PARLEY" echo --bind 127.0.0.1 "$port" </dev/null >/dev/null 2>"$WORK/bp.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/bp.err" "^parley: Listening on 127.0.0.1:$port\$" || return 1
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "echo on --bind ADDR PORT"
}

# The flag table (docs/FLAGS.md): echo takes -s for --bind and -m for --max-conns, as listen does;
# listen and chat take --bind and --port for -s and -p.
same_flags_as_listen() {
  local port
  port=$(free_port)
  "$PARLEY" echo -s 127.0.0.1 -m 5 -p "$port" </dev/null >/dev/null 2>"$WORK/sf.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/sf.err" "^parley: Listening on 127.0.0.1:$port\$" || return 1
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "echo -s ADDR" || return 1
  port=$(free_port)
  echo from-listen | "$PARLEY" listen --bind 127.0.0.1 --port "$port" >"$WORK/sl.out" 2>"$WORK/sl.err" &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  assert_eq from-listen "$(echo to-listen | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "listen --bind --port" || return 1
  wait_for_line "$WORK/sl.out" '^to-listen$'
}

# -4/-6 (issue 19): one family's wildcard only; -6 is V6ONLY, so IPv4 clients are refused.
one_family() {
  local port
  port=$(free_port)
  "$PARLEY" echo -4 -q -p "$port" </dev/null >/dev/null 2>"$WORK/f4.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/f4.err" "^parley: Listening on 0.0.0.0:$port\$" || return 1
  assert_eq "" "$(ss -Hltn "sport = :$port" | grep -F '[::]')" "-4: no IPv6 listener" || return 1
  assert_eq hi4 "$(echo hi4 | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "-4" || return 1
  port=$(free_port)
  "$PARLEY" echo -6 -q -p "$port" </dev/null >/dev/null 2>"$WORK/f6.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/f6.err" "^parley: Listening on \[::\]:$port\$" || return 1
  assert_eq hi6 "$(echo hi6 | timeout 5 "$PARLEY" connect ::1 "$port")" "-6" || return 1
  expect_exit 1 "parley: connect to 127.0.0.1:$port: Connection refused" "$PARLEY" connect 127.0.0.1 "$port" || return 1
  expect_exit 2 "parley: echo: cannot listen on 127.0.0.1 port $port: no address of the requested family (-6: give IPv6 addresses)" \
    "$PARLEY" echo -6 --bind 127.0.0.1 -p "$port" || return 1
  expect_exit 2 "parley: echo: -4 excludes -6" "$PARLEY" echo -4 -6
}

check "echo: bytes back exactly, logged" echo_exact_small
check "-4 and -6: one family only" one_family
check "echo -s/-m, listen --bind/--port" same_flags_as_listen
check "--bind ADDR PORT" bind_then_port
check "--log-data, both families, reachable addresses" log_data_and_reachable
check "SIGUSR1, --stats-interval, second SIGTERM" stats_and_second_signal
check "echo: 10 MiB binary, 2 threads" echo_binary_10mb
check "UDP echo" udp_echo
check "line mode: {line} {n} {len} {peer}, CRLF and LF" line_mode_fields
check "line mode: line split over reads" line_split_across_reads
check "line mode: oversized line" oversized_line
check "line mode: --max-line leaves out the CR of a CRLF" max_line_with_crlf
check "bad reply template: exit 2" bad_template
check "--reply without --lines: a reply per chunk" reply_per_chunk
check "--max-conns: one-line refusal" max_conns_refusal
check "--idle-timeout" idle_timeout
check "SIGTERM: summary, exit 0" sigterm_summary
check "port in use (even with SO_REUSEPORT)" port_in_use
finish
