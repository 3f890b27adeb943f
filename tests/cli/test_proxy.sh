# connect through real proxies from Debian: ncat's HTTP CONNECT proxy (with and without
# --proxy-auth), dante-server (SOCKS5 with and without a password, and SOCKS4) and microsocks.
# Every proxy failure is one line saying what the proxy answered, exit 1.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have danted || ! have ncat || ! have unshare || ! have openssl; then
  echo "skipped: needs root, danted (dante-server), ncat, unshare and openssl"
  exit 77
fi

start_echo echo || exit 1
DEAD=$(free_port)

# ncat as an HTTP proxy, without and with a password.
HTTP=$(free_port)
bg ncat -lk 127.0.0.1 "$HTTP" --proxy-type http </dev/null >/dev/null 2>&1
HTTPA=$(free_port)
bg ncat -lk 127.0.0.1 "$HTTPA" --proxy-type http --proxy-auth alice:s3cret </dev/null >/dev/null 2>&1

# dante: its "username" method checks the system's password database, so the SOCKS5 password
# server runs in a mount namespace of its own whose /etc/passwd and /etc/shadow have a test user.
dante_conf() {  # FILE PORT METHOD
  cat >"$1" <<CONF
logoutput: $WORK/dante.log
internal: 127.0.0.1 port = $2
external: 127.0.0.1
clientmethod: none
socksmethod: $3
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
CONF
}
cp /etc/passwd "$WORK/passwd"
cp /etc/shadow "$WORK/shadow"
echo "ptest:x:4242:4242::/nonexistent:/usr/sbin/nologin" >>"$WORK/passwd"
echo "ptest:$(openssl passwd -6 pw0rd):19000:0:99999:7:::" >>"$WORK/shadow"
SOCKS=$(free_port)
dante_conf "$WORK/socks.conf" "$SOCKS" none
bg danted -f "$WORK/socks.conf" -p "$WORK/socks.pid" </dev/null
SOCKSA=$(free_port)
dante_conf "$WORK/socksa.conf" "$SOCKSA" username
bg unshare -m sh -c 'mount --bind "$0" /etc/passwd && mount --bind "$1" /etc/shadow && exec danted -f "$2" -p "$3"' \
  "$WORK/passwd" "$WORK/shadow" "$WORK/socksa.conf" "$WORK/socksa.pid" </dev/null
for p in "$HTTP" "$HTTPA" "$SOCKS" "$SOCKSA"; do wait_port "$p" || exit 1; done

# through ARGS...: sends one line through the proxy options ARGS to the echo server.
through() {
  local out
  out=$(echo "via $*" | timeout 10 "$PARLEY" connect "$@" 127.0.0.1 "$EPORT") || { fail "exit $?"; return 1; }
  assert_eq "via $*" "$out" "echo through the proxy"
}
http_plain() { through --proxy "127.0.0.1:$HTTP" --proxy-type http; }
http_nc_spelling() { through -X connect -x "127.0.0.1:$HTTP"; }
http_auth() { through --proxy "127.0.0.1:$HTTPA" --proxy-type http --proxy-auth alice:s3cret; }
socks5_plain() { through --proxy "127.0.0.1:$SOCKS"; }
socks5_nc_spelling() { through -X 5 -x "127.0.0.1:$SOCKS"; }
socks5_auth() { through --proxy "127.0.0.1:$SOCKSA" --proxy-auth ptest:pw0rd; }
socks4_plain() { through --proxy "127.0.0.1:$SOCKS" --proxy-type socks4; }
socks4_nc_spelling() { through -X 4 -x "127.0.0.1:$SOCKS"; }
# The name goes to the proxy, which resolves it (dante, remote DNS, the default for SOCKS5).
socks5_remote_name() {
  local out
  out=$(echo named | timeout 10 "$PARLEY" connect --proxy "127.0.0.1:$SOCKS" localhost "$EPORT") || return 1
  assert_eq named "$out"
}

# refused ARGS... LINE: connect through the proxy to $DEAD fails with exit 1 and LINE.
refused() {
  local line=${*: -1}
  expect_exit 1 "parley: connect to 127.0.0.1:$DEAD through proxy $line" "$PARLEY" connect "${@:1:$#-1}" 127.0.0.1 "$DEAD"
}
http_needs_auth() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$HTTPA: proxy requires authentication (HTTP 407)" \
    "$PARLEY" connect --proxy "127.0.0.1:$HTTPA" --proxy-type http 127.0.0.1 "$EPORT"
}
http_wrong_password() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$HTTPA: proxy rejected the user name or password (HTTP 407)" \
    "$PARLEY" connect --proxy "127.0.0.1:$HTTPA" --proxy-type http --proxy-auth alice:nope 127.0.0.1 "$EPORT"
}
http_refused_target() { refused --proxy "127.0.0.1:$HTTP" --proxy-type http "127.0.0.1:$HTTP: proxy refused: gateway timeout (HTTP 504)"; }
socks5_refused_target() { refused --proxy "127.0.0.1:$SOCKS" "127.0.0.1:$SOCKS: proxy refused: connection refused (SOCKS5 reply 5)"; }
socks4_refused_target() { refused -X 4 -x "127.0.0.1:$SOCKS" "127.0.0.1:$SOCKS: proxy refused: request rejected or failed (SOCKS4 reply 91)"; }
socks5_needs_auth() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$SOCKSA: proxy requires authentication (SOCKS5: no acceptable method)" \
    "$PARLEY" connect --proxy "127.0.0.1:$SOCKSA" 127.0.0.1 "$EPORT"
}
socks5_wrong_password() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$SOCKSA: proxy rejected the user name or password (SOCKS5 auth status 1)" \
    "$PARLEY" connect --proxy "127.0.0.1:$SOCKSA" --proxy-auth ptest:wrong 127.0.0.1 "$EPORT"
}
proxy_down() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$DEAD: cannot reach the proxy: Connection refused" \
    "$PARLEY" connect --proxy "127.0.0.1:$DEAD" 127.0.0.1 "$EPORT"
}
# A "proxy" that reads the request and hangs up without a word.
proxy_hangs_up() {
  local port
  port=$(free_port)
  bg socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:'head -c 3 >/dev/null'
  wait_port "$port" || return 1
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$port: the proxy closed the connection during the handshake" \
    "$PARLEY" connect --proxy "127.0.0.1:$port" 127.0.0.1 "$EPORT"
}
# A fake HTTP proxy that records the request line and refuses: shows which name went where.
# request_line DNS: the CONNECT line parley sent for localhost with --proxy-dns DNS.
request_line() {
  local port
  port=$(free_port)
  printf '%s\n' "head -n1 >$WORK/req" "printf 'HTTP/1.0 403 Forbidden\\r\\n\\r\\n'" >"$WORK/fake_http.sh"
  bg socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:"sh $WORK/fake_http.sh"
  wait_port "$port" || return 1
  expect_exit 1 "parley: connect to localhost:80 through proxy 127.0.0.1:$port: proxy refused: forbidden (HTTP 403)" \
    "$PARLEY" connect -4 --proxy "127.0.0.1:$port" --proxy-type http --proxy-dns "$1" localhost 80 || return 1
  REQ=$(tr -d '\r' <"$WORK/req")
}
dns_remote() { request_line remote && assert_eq "CONNECT localhost:80 HTTP/1.1" "$REQ"; }
dns_local() { request_line local && assert_eq "CONNECT 127.0.0.1:80 HTTP/1.1" "$REQ"; }
# SOCKS4a sends the name (dante does not serve SOCKS4a, so a fake server records the request).
socks4a_request() {
  local port
  port=$(free_port)
  printf '%s\n' "head -c 21 >$WORK/req4a" "printf '\\000\\133\\000\\000\\000\\000\\000\\000'" >"$WORK/fake_s4a.sh"
  bg socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:"sh $WORK/fake_s4a.sh"
  wait_port "$port" || return 1
  expect_exit 1 "parley: connect to localhost:80 through proxy 127.0.0.1:$port: proxy refused: request rejected or failed (SOCKS4 reply 91)" \
    "$PARLEY" connect --proxy "127.0.0.1:$port" --proxy-type socks4a --proxy-auth me:x localhost 80 || return 1
  assert_eq "0401005000000001 6d6500 6c6f63616c686f737400" \
    "$(od -An -tx1 -v "$WORK/req4a" | tr -d ' \n' | sed -E 's/^(.{16})(.{6})/\1 \2 /')"
}
usage_errors() {
  expect_exit 2 "parley: connect: socks4 cannot send names to the proxy: use --proxy-type socks4a for remote DNS" \
    "$PARLEY" connect --proxy 127.0.0.1:1 --proxy-type socks4 --proxy-dns remote localhost 80 || return 1
  expect_exit 2 "parley: connect: -x 127.0.0.1:1080 looks like a proxy: add -X 5 (or -X 4, -X connect) to go through it, or use --hex-dump FILE for a hex dump" \
    "$PARLEY" connect -x 127.0.0.1:1080 localhost 80 || return 1
  expect_exit 2 "parley: connect: proxies carry TCP only; drop -u or the proxy" \
    "$PARLEY" connect -u --proxy 127.0.0.1:1 localhost 80 || return 1
  expect_exit 2 "parley: connect: --proxy-type excludes -X" \
    "$PARLEY" connect -X 5 --proxy-type http --proxy 127.0.0.1:1 localhost 80
}

# Half-close through proxies. ncat's HTTP proxy and microsocks close the whole tunnel when the
# client half-closes, so `printf req | nc -N -X ... host port` loses the reply; parley holds the
# half-close until the reply pauses. Server: answers a line 0.3 s later without waiting for EOF.
HC=$(free_port)
bg socat -t 10 TCP-LISTEN:"$HC",bind=127.0.0.1,reuseaddr,fork SYSTEM:'read l; sleep 0.3; echo "got: $l"'
wait_port "$HC" || exit 1
reply_through() {
  local out
  out=$(printf 'req\n' | timeout 10 "$PARLEY" connect "$@" 127.0.0.1 "$HC") || { fail "exit $?"; return 1; }
  assert_eq "got: req" "$out" "reply through $*"
}
half_close_http() { reply_through --proxy "127.0.0.1:$HTTP" --proxy-type http; }
half_close_microsocks() {
  have microsocks || { echo "    (microsocks not installed: not tested)"; return 0; }
  local port
  port=$(free_port)
  bg microsocks -i 127.0.0.1 -p "$port" >/dev/null 2>&1
  wait_port "$port" || return 1
  reply_through --proxy "127.0.0.1:$port"
}
# dante passes the half-close on: a server that answers only after EOF still gets it, 1 s late.
half_close_reaches_server() {
  local port out
  port=$(free_port)
  bg socat -t 10 TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:'cat >/dev/null; echo after-eof'
  wait_port "$port" || return 1
  out=$(printf 'req\n' | timeout 10 "$PARLEY" connect --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$port") || return 1
  assert_eq "after-eof" "$out"
}
scan_through_proxy() {
  local out rc=0
  out=$(timeout 20 "$PARLEY" scan --json --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$EPORT,$DEAD" 2>"$WORK/sp.err") || rc=$?
  assert_eq 0 "$rc" "exit ($(cat "$WORK/sp.err"))" || return 1
  assert_eq "open closed" "$(grep -o '"state":"[a-z|]*"' <<<"$out" | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//')" "states"
}

# bench through proxies: every connection opens its own tunnel (connect mode: one per round trip).
# bench_json ARGS...: runs bench --json with ARGS; BJ holds "round_trips errors_total".
bench_json() {
  local out
  out=$(timeout 30 "$PARLEY" bench --json "$@" 2>"$WORK/bench.err") || { fail "exit $?: $(cat "$WORK/bench.err")"; return 1; }
  # -n N stops once N are done; answers already in flight are counted too.
  BJ=$(python3 -c 'import json,sys; j=json.load(sys.stdin); print(min(j["round_trips"], int(sys.argv[1])), j["errors_total"])' "$N" <<<"$out")
}
bench_socks5_verified() {
  N=2000 bench_json pingpong -c 20 -t 2 -n 2000 --verify --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$EPORT" || return 1
  assert_eq "2000 0" "$BJ" "round trips, errors"
}
bench_http_auth_connect_mode() {
  N=200 bench_json connect -c 4 -t 1 -n 200 --proxy "127.0.0.1:$HTTPA" --proxy-type http \
    --proxy-auth alice:s3cret 127.0.0.1 "$EPORT" || return 1
  assert_eq "200 0" "$BJ" "round trips, errors"
}
bench_proxy_errors() {
  expect_exit 1 "parley: bench: 127.0.0.1:$EPORT through proxy 127.0.0.1:$HTTPA: proxy requires authentication (HTTP 407)" \
    "$PARLEY" bench pingpong -n 10 --proxy "127.0.0.1:$HTTPA" --proxy-type http 127.0.0.1 "$EPORT" || return 1
  expect_exit 1 "parley: bench: 127.0.0.1:$DEAD through proxy 127.0.0.1:$SOCKS: proxy refused: connection refused (SOCKS5 reply 5)" \
    "$PARLEY" bench pingpong -n 10 --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$DEAD" || return 1
  expect_exit 2 "parley: bench: proxies carry TCP only; drop -u or the proxy" \
    "$PARLEY" bench pingpong -u --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$EPORT"
}

check "HTTP CONNECT (ncat)" http_plain
check "HTTP CONNECT, nc's -X connect -x" http_nc_spelling
check "HTTP CONNECT with Basic auth" http_auth
check "HTTP: no credentials -> 407" http_needs_auth
check "HTTP: wrong password -> 407" http_wrong_password
check "HTTP: refused target" http_refused_target
check "SOCKS5 (dante)" socks5_plain
check "SOCKS5, nc's -X 5 -x" socks5_nc_spelling
check "SOCKS5 with user/password" socks5_auth
check "SOCKS5: no credentials" socks5_needs_auth
check "SOCKS5: wrong password" socks5_wrong_password
check "SOCKS5: refused target" socks5_refused_target
check "SOCKS5: name resolved by the proxy" socks5_remote_name
check "SOCKS4 (dante)" socks4_plain
check "SOCKS4, nc's -X 4 -x" socks4_nc_spelling
check "SOCKS4: refused target" socks4_refused_target
check "SOCKS4a request carries the name" socks4a_request
check "proxy down" proxy_down
check "proxy hangs up mid-handshake" proxy_hangs_up
check "--proxy-dns remote sends the name" dns_remote
check "--proxy-dns local sends the address" dns_local
check "proxy usage errors" usage_errors
check "bench through SOCKS5: 2,000 verified round trips over 20 tunnels" bench_socks5_verified
check "bench connect mode through an HTTP proxy with a password: a tunnel per round trip" bench_http_auth_connect_mode
check "bench: proxy errors said once, before the run" bench_proxy_errors
check "half-close held: reply through ncat's HTTP proxy" half_close_http
check "half-close held: reply through microsocks" half_close_microsocks
check "half-close reaches the server through dante" half_close_reaches_server
check "scan through a SOCKS5 proxy" scan_through_proxy
finish
