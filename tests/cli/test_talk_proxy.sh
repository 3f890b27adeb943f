# parley talk through real proxies from Debian, with connect's proxy options and messages (the
# same dial() and proxy code): dante-server (SOCKS5, SOCKS4), microsocks, ncat's HTTP CONNECT
# proxy (with a password), nc's -X/-x spelling, a refused target, and the -o/-x traffic logs,
# which hold the conversation and never the proxy's handshake.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have danted || ! have ncat; then
  echo "skipped: needs root, danted (dante-server) and ncat"
  exit 77
fi
export LC_ALL=C.UTF-8

start_echo echo || exit 1
DEAD=$(free_port)

HTTPA=$(free_port)
bg ncat -lk 127.0.0.1 "$HTTPA" --proxy-type http --proxy-auth alice:s3cret </dev/null >/dev/null 2>&1
SOCKS=$(free_port)
cat >"$WORK/socks.conf" <<CONF
logoutput: $WORK/dante.log
internal: 127.0.0.1 port = $SOCKS
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
CONF
bg danted -f "$WORK/socks.conf" -p "$WORK/socks.pid" </dev/null
for p in "$HTTPA" "$SOCKS"; do wait_port "$p" || exit 1; done

# The transcript without round-trip times.
norm() { sed -E 's/  [0-9]+\.[0-9]{2} ms$//' "$1"; }

# Function names never shadow a command (a function "microsocks" would call itself in bg).
# through ARGS...: two lines through the proxy options ARGS to the echo server; each line's
# answer (the echo) comes back as its answer.
through() {
  printf 'via %s\nGrüße 😀\n' "$1" | timeout 10 "$PARLEY" talk "$@" 127.0.0.1 "$EPORT" >"$WORK/through.out" 2>"$WORK/through.err" ||
    { fail "exit $?: $(cat "$WORK/through.err")"; return 1; }
  assert_eq "> via $1"$'\n'"< via $1"$'\n> Grüße 😀\n< Grüße 😀' "$(norm "$WORK/through.out")"
}
via_socks5() { through --proxy "127.0.0.1:$SOCKS"; }
via_socks5_nc_spelling() { through -X 5 -x "127.0.0.1:$SOCKS"; }
via_socks4_nc_spelling() { through -X 4 -x "127.0.0.1:$SOCKS"; }
via_http_auth() { through --proxy "127.0.0.1:$HTTPA" --proxy-type http --proxy-auth alice:s3cret; }
http_nc_spelling_needs_auth() {
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT through proxy 127.0.0.1:$HTTPA: proxy requires authentication (HTTP 407)" \
    "$PARLEY" talk -X connect -x "127.0.0.1:$HTTPA" 127.0.0.1 "$EPORT"
}
via_microsocks() {
  have microsocks || { echo "    (microsocks not installed: not tested)"; return 0; }
  local port
  port=$(free_port)
  bg microsocks -i 127.0.0.1 -p "$port" >/dev/null 2>&1
  wait_port "$port" || return 1
  through --proxy "127.0.0.1:$port"
}
# The name goes to the proxy, which resolves it (SOCKS5's default).
via_remote_name() {
  echo named | timeout 10 "$PARLEY" talk --proxy "127.0.0.1:$SOCKS" localhost "$EPORT" >"$WORK/named.out" || return 1
  assert_eq $'> named\n< named' "$(norm "$WORK/named.out")"
}
refused_target() {
  expect_exit 1 "parley: connect to 127.0.0.1:$DEAD through proxy 127.0.0.1:$SOCKS: proxy refused: connection refused (SOCKS5 reply 5)" \
    "$PARLEY" talk --proxy "127.0.0.1:$SOCKS" 127.0.0.1 "$DEAD"
}
usage_errors() {
  expect_exit 2 "parley: talk: -x 127.0.0.1:1080 looks like a proxy: add -X 5 (or -X 4, -X connect) to go through it, or use --hex-dump FILE for a hex dump" \
    "$PARLEY" talk -x 127.0.0.1:1080 localhost 80 || return 1
  expect_exit 2 "parley: talk: proxies carry TCP only; drop -U or the proxy" \
    "$PARLEY" talk -U "$WORK/s.sock" --proxy 127.0.0.1:1 || return 1
  expect_exit 2 "parley: talk: --proxy-type excludes -X" \
    "$PARLEY" talk -X 5 --proxy-type http --proxy 127.0.0.1:1 localhost 80
}
# -v names the proxy; -o and --hex-dump (with -X, -x names the proxy) log what talk said and
# heard, not the SOCKS handshake.
logs_and_verbose() {
  printf 'logged\n' | timeout 10 "$PARLEY" talk -v -X 5 -x "127.0.0.1:$SOCKS" -o "$WORK/p.log" --hex-dump "$WORK/p.hex" \
    127.0.0.1 "$EPORT" >"$WORK/log.out" 2>"$WORK/log.err" || { fail "exit $?: $(cat "$WORK/log.err")"; return 1; }
  assert_eq "parley: Connected to 127.0.0.1:$EPORT through proxy 127.0.0.1:$SOCKS." "$(head -1 "$WORK/log.err")" || return 1
  assert_eq $'logged\nlogged' "$(cat "$WORK/p.log")" "-o" || return 1
  assert_eq "> 0000   6c 6f 67 67 65 64 0a                              logged.         "$'\n'"< 0000   6c 6f 67 67 65 64 0a                              logged.         " \
    "$(cat "$WORK/p.hex")" "--hex-dump"
}

check "SOCKS5 (dante)" via_socks5
check "SOCKS5, nc's -X 5 -x" via_socks5_nc_spelling
check "SOCKS4, nc's -X 4 -x" via_socks4_nc_spelling
check "HTTP CONNECT with Basic auth (ncat)" via_http_auth
check "HTTP CONNECT, -X connect -x, no credentials: 407" http_nc_spelling_needs_auth
check "SOCKS5 (microsocks)" via_microsocks
check "SOCKS5: the proxy resolves the name" via_remote_name
check "SOCKS5: refused target" refused_target
check "proxy usage errors" usage_errors
check "-v, -o and --hex-dump through a proxy" logs_and_verbose
finish
