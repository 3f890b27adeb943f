# echo -u and listen -u answer from the address a datagram was sent to; a busy UDP port is
# refused; replies never exceed what a datagram holds, nor (unless asked) their request.
source "$(dirname "$0")/lib.sh"
use_quiet_input

# The client sends to 127.0.0.2; the server is bound to every address. The answer must come from
# 127.0.0.2, or the client's connected socket drops it.
echo_answers_from_destination() {
  "$PARLEY" echo -u -p 0 >/dev/null 2>"$WORK/ud.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/ud.err" 'Listening on 0\.0\.0\.0:' || return 1
  EPORT=$(grep -m1 -Eo 'Listening on 0\.0\.0\.0:[0-9]+' "$WORK/ud.err" | grep -Eo '[0-9]+$')
  local out
  out=$(echo hello | timeout 5 "$PARLEY" connect -u 127.0.0.2 "$EPORT") || return 1
  assert_eq hello "$out" "answer to a datagram sent to 127.0.0.2"
}

listen_answers_from_destination() {
  local port
  port=$(free_port)
  (sleep 1; echo "from the listener") | "$PARLEY" listen -u -v "$port" >"$WORK/lu.out" 2>"$WORK/lu.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/lu.err" 'Listening on' || return 1
  local out
  out=$( (echo "from the client"; sleep 2) | timeout 5 "$PARLEY" connect -u 127.0.0.2 "$port") || return 1
  assert_eq "from the listener" "$out" "listen -u answer to a datagram sent to 127.0.0.2" || return 1
  wait_for_line "$WORK/lu.out" '^from the client$'
}

busy_port_refused() {
  start_echo b1 -u || return 1
  expect_exit 2 "parley: echo: cannot listen on 127.0.0.1 port $EPORT: Address already in use" "$PARLEY" echo -u --bind 127.0.0.1 -p "$EPORT"
}

# A reply may not be bigger than its request unless --udp-amplify, nor bigger than 65,507 bytes;
# what is cut is logged.
reply_limits() {
  start_echo rl -u --lines --reply '{line}{line}{line}{line}' || return 1
  local out
  out=$(python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b'\\n' * 1000, ('127.0.0.1', $EPORT)); print(len(s.recv(70000)))
s.sendto(b'abcd\\n', ('127.0.0.1', $EPORT)); print(s.recv(70000).decode().strip())")
  assert_eq $'1000\nabcda' "$out" "replies cut to the request's size" || return 1
  wait_for_line "$WORK/rl.err" "reply of 17 bytes cut to 5 \\(the request's size; --udp-amplify allows more\\)" || return 1
  start_echo ra -u --udp-amplify --lines --reply '{line}{line}{line}{line}{line}{line}{line}{line}' || return 1
  out=$(python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b'x' * 10000, ('127.0.0.1', $EPORT)); print(len(s.recv(100000)))")
  assert_eq 65507 "$out" "a reply over 65,507 bytes is cut, not lost" || return 1
  wait_for_line "$WORK/ra.err" 'reply of 80001 bytes cut to 65507 \(the most a UDP datagram holds\)'
}

check "echo -u answers from the address the datagram was sent to" echo_answers_from_destination
check "listen -u answers from the address the datagram was sent to" listen_answers_from_destination
check "a second echo -u on a busy port is refused" busy_port_refused
check "UDP reply limits: the request's size, 65,507 bytes; logged" reply_limits
finish
