# --proxy-protocol on accepting sockets, behind a real HAProxy (send-proxy, send-proxy-v2): logs,
# {peer} and --deny see the real client; no header or an untrusted proxy is refused and logged.
source "$(dirname "$0")/lib.sh"
use_quiet_input
have haproxy || { echo "haproxy missing: skipped"; exit 77; }

# start_haproxy NAME FRONT_PORT BACKEND_PORT SEND: HAProxy in tcp mode that prefixes each
# connection to the backend with a PROXY header (SEND: send-proxy or send-proxy-v2).
start_haproxy() {
  local name=$1 front=$2 back=$3 send=$4
  cat >"$WORK/$name.cfg" <<EOF
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen front
  bind 127.0.0.1:$front
  server back 127.0.0.1:$back $send
EOF
  haproxy -f "$WORK/$name.cfg" -db >"$WORK/$name.log" 2>&1 &
  BG_PIDS+=($!)
  wait_port "$front"
}

# from_client SRC PORT TEXT: sends TEXT from the address SRC, prints the answer.
from_client() {
  python3 - "$1" "$2" "$3" <<'PY'
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.connect(("127.0.0.1", int(sys.argv[2])))
s.settimeout(3); s.sendall(sys.argv[3].encode()); s.shutdown(socket.SHUT_WR)
out = b""
try:
    while True:
        d = s.recv(1000)
        if not d: break
        out += d
except (ConnectionResetError, socket.timeout):
    pass
print(out.decode().strip())
PY
}

# echo sees the real client in {peer} and its log, for both header versions.
echo_sees_real_client() {
  local send
  for send in send-proxy send-proxy-v2; do
    start_echo "pp$send" --proxy-protocol --reply 'from {peer}: {line}' || return 1
    local front
    front=$(free_port)
    start_haproxy "h$send" "$front" "$EPORT" "$send" || return 1
    local out
    out=$(from_client 127.0.0.2 "$front" hello)
    [[ $out =~ ^from\ 127\.0\.0\.2:[0-9]+:\ hello$ ]] || fail "$send: answer [$out]" || return 1
    wait_for_line "$WORK/pp$send.err" '127\.0\.0\.2:[0-9]+ connected$' || return 1
  done
}

# --deny applies to the real client, although the connection comes from HAProxy (127.0.0.1).
deny_applies_to_real_client() {
  start_echo pd --proxy-protocol --deny 127.0.0.2 || return 1
  local front
  front=$(free_port)
  start_haproxy hd "$front" "$EPORT" send-proxy-v2 || return 1
  assert_eq "" "$(from_client 127.0.0.2 "$front" hello)" "denied real client" || return 1
  assert_eq "hello" "$(from_client 127.0.0.3 "$front" hello)" "allowed real client" || return 1
  wait_for_line "$WORK/pd.err" '127\.0\.0\.2:[0-9]+ refused by deny 127\.0\.0\.2$'
}

# A client that connects directly, without a header, is refused and logged; so is a header from
# an address not in --proxy-protocol-from.
no_header_and_untrusted() {
  start_echo pn --proxy-protocol --proxy-protocol-from 127.0.0.1 || return 1
  assert_eq "" "$(from_client 127.0.0.1 "$EPORT" "GET / HTTP/1.0")" "no header" || return 1
  wait_for_line "$WORK/pn.err" 'refused: no valid PROXY header: no PROXY protocol header$' || return 1
  python3 - "$EPORT" <<'PY'
import socket, sys
s = socket.socket(); s.bind(("127.0.0.4", 0)); s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 10.0.0.1 10.0.0.2 1000 2000\r\nhello\n")
PY
  wait_for_line "$WORK/pn.err" '127\.0\.0\.4:[0-9]+ refused by --proxy-protocol-from \(not a trusted proxy: not in any --allow rule\)$' || return 1
  # A header that never comes: refused after the timeout (5 s).
  python3 - "$EPORT" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(b"PROXY TCP4 1.2"); time.sleep(8)
PY
  BG_PIDS+=($!)
  wait_for_line "$WORK/pn.err" 'refused: no PROXY header within 5000 ms$' 8
}

# listen -k and forward take the header too; forward passes only the payload on.
listen_and_forward() {
  start_parley_listen lk -k --proxy-protocol 127.0.0.1 0 <"$QUIET" || return 1
  local front
  front=$(free_port)
  start_haproxy hl "$front" "$LPORT" send-proxy || return 1
  from_client 127.0.0.5 "$front" "to listen" >/dev/null
  wait_for_line "$WORK/lk.err" '^parley: Connection from 127\.0\.0\.5:[0-9]+\.$' || return 1
  wait_for_line "$WORK/lk.out" '^to listen$' || return 1
  start_echo fe -q || return 1
  "$PARLEY" forward -v --proxy-protocol 127.0.0.1:0 "127.0.0.1:$EPORT" </dev/null >/dev/null 2>"$WORK/fw.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/fw.err" '^parley: Forwarding' || return 1
  local fport
  fport=$(port_from "$WORK/fw.err")
  front=$(free_port)
  start_haproxy hf "$front" "$fport" send-proxy-v2 || return 1
  assert_eq "payload only" "$(from_client 127.0.0.6 "$front" "payload only")" "forward" || return 1
  wait_for_line "$WORK/fw.err" '127\.0\.0\.6:[0-9]+ to 127\.0\.0\.1:[0-9]+, 12 bytes up, 12 down: closed'
}

usage_errors() {
  expect_exit 2 "parley: listen: --proxy-protocol works with -k, --broker, --chat and -e over TCP or Unix" \
    "$PARLEY" listen --proxy-protocol 0 || return 1
  expect_exit 2 "parley: echo: --proxy-protocol is for TCP connections, not UDP" \
    "$PARLEY" echo -u --proxy-protocol -p 0 || return 1
  expect_exit 2 "parley: echo: --proxy-protocol-from requires --proxy-protocol" \
    "$PARLEY" echo --proxy-protocol-from 127.0.0.1 -p 0
}

check "echo sees the real client (send-proxy, send-proxy-v2)" echo_sees_real_client
check "--deny applies to the real client" deny_applies_to_real_client
check "no header, untrusted proxy, header that never comes: refused" no_header_and_untrusted
check "listen -k and forward behind HAProxy" listen_and_forward
check "usage errors" usage_errors
finish
