# parley connect --tls against real TLS servers (openssl s_server, ncat --ssl) with certificates
# this test makes: verification by default, the exact words of every refusal, pins, client
# certificates, ALPN, SNI, and 1 MiB byte-exact both ways.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tls_lib.sh"

use_quiet_input
make_pki || { echo "cannot make test certificates with openssl" >&2; exit 1; }
head -c $((1 << 20)) /dev/urandom >"$WORK/up"
head -c $((1 << 20)) /dev/urandom >"$WORK/down"

# s_server CERT ARGS...: s_server with that certificate (server, other, expired, rogue).
s_server() {
  local cert=$1
  shift
  start_s_server srv -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" "$@"
}

# Upload: every byte arrives, and the s_server ends cleanly on parley's close_notify (a bare FIN
# would make it print an error and exit non-zero).
upload_verified() {
  s_server server || return 1
  timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" -v localhost "$SPORT" \
    <"$WORK/up" >"$WORK/c.out" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$SPID" 10 || { fail "s_server: $(cat "$WORK/srv.err")"; return 1; }
  assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/srv.out")" "sha256 at the server" || return 1
  grep -qxF 'parley: TLS: TLSv1.3, TLS_AES_128_GCM_SHA256' "$WORK/c.err" &&
    grep -qxF "parley: TLS: peer fingerprint: $(fingerprint "$PKI/server.pem")" "$WORK/c.err" &&
    grep -qxF 'parley: TLS: peer certificate: CN=localhost (issued by CN=parley test CA, valid until '"$(openssl x509 -in "$PKI/server.pem" -noout -enddate | sed 's/notAfter=//' | xargs -I{} date -u -d {} '+%Y-%m-%d %H:%M:%S UTC')"')' "$WORK/c.err" &&
    grep -qF 'parley: TLS: peer verified (chain and name)' "$WORK/c.err" ||
    fail "-v lines: $(cat "$WORK/c.err")"
}

# TLS over a Unix socket, where TCP_CORK does not exist (multi-record writes are corked on TCP):
# 1 MiB each way, byte-exact, both ends exiting 0.
unix_socket() {
  local sock=$WORK/tls.sock
  timeout 20 "$PARLEY" listen --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" \
    -U "$sock" <"$WORK/down" >"$WORK/l.out" 2>"$WORK/l.err" &
  local lpid=$!
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
  timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" --tls-servername localhost -U "$sock" \
    <"$WORK/up" >"$WORK/c.out" 2>"$WORK/c.err" || { fail "connect exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait "$lpid" || { fail "listen exit $?: $(cat "$WORK/l.err")"; return 1; }
  assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/l.out")" "sha256 at the listener" &&
    assert_eq "$(sha "$WORK/down")" "$(sha "$WORK/c.out")" "sha256 at the client"
}

# s_server reads its stdin and the socket with one select() and a blocking SSL_read: if the file's
# first block and the ClientHello are ready together, it sends one record and then blocks reading
# the silent client for good. So the file reaches s_server only once the connection is up.
download_verified() {
  mkfifo "$WORK/down.fifo"
  local port
  port=$(free_port)
  bg bash -c 'exec >"$1"
    for _ in $(seq 100); do ss -Htn state established "sport = :$2" | grep -q . && break; sleep 0.05; done
    sleep 0.3; cat "$3"' _ "$WORK/down.fifo" "$port" "$WORK/down"
  S_PORT=$port SRV_IN=$WORK/down.fifo s_server server || return 1
  timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" --recv-only 127.0.0.1 "$SPORT" \
    >"$WORK/c.out" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  assert_eq "$(sha "$WORK/down")" "$(sha "$WORK/c.out")" "sha256 at parley"
}

# TLS 1.2 is spoken too, with an AEAD suite.
tls12() {
  s_server server -tls1_2 || return 1
  echo hi | timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" -v localhost "$SPORT" \
    >/dev/null 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  grep -qxF 'parley: TLS: TLSv1.2, ECDHE-ECDSA-AES128-GCM-SHA256' "$WORK/c.err" ||
    fail "$(cat "$WORK/c.err")"
}

# The regression the issue names: `ncat --ssl` fails with "Input/output error" sending 1 MiB to
# `ncat --ssl -l` on Debian 12. parley's client delivers every byte to the same server.
ncat_server_gets_1mib() {
  local port
  port=$(free_port)
  bg ncat --ssl -l 127.0.0.1 "$port" --ssl-cert "$PKI/server.pem" --ssl-key "$PKI/server.key" \
    --recv-only >"$WORK/ncat.out" 2>"$WORK/ncat.err"
  local npid=$!
  wait_port "$port" || return 1
  timeout 20 "$PARLEY" connect --ssl --tls-ca "$PKI/ca.pem" localhost "$port" <"$WORK/up" \
    2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$npid" 10 || return 1
  assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/ncat.out")" "sha256 at ncat"
}

# refused CERT 'S_SERVER ARGS' LINE CONNECT-ARGS...: the handshake fails with exactly LINE
# (@PORT@: the port), exit 1.
refused() {
  local cert=$1 srv_args=$2 line=$3
  shift 3
  # shellcheck disable=SC2086 # The server's arguments are words.
  s_server "$cert" $srv_args || return 1
  expect_exit 1 "${line//@PORT@/$SPORT}" "$PARLEY" connect --tls "$@" "$SPORT"
}

pin_ok() {
  s_server server || return 1
  echo pinned | timeout 20 "$PARLEY" connect --tls --tls-pin "$(fingerprint "$PKI/server.pem")" \
    127.0.0.1 "$SPORT" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$SPID" 10 && assert_eq pinned "$(cat "$WORK/srv.out")"
}

insecure_says_so() {
  s_server rogue || return 1
  echo x | timeout 20 "$PARLEY" connect --tls --tls-insecure localhost "$SPORT" 2>"$WORK/c.err" ||
    { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  grep -qxF "parley: connect: warning: --tls-insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection" \
    "$WORK/c.err" || fail "no warning: $(cat "$WORK/c.err")"
}

# SNI: the server only serves "localhost" (an unknown name is a fatal alert), so the name parley
# sends for an address given with --tls-servername must be that one.
sni_sent() {
  s_server server -servername localhost -servername_fatal -cert2 "$PKI/server.pem" \
    -key2 "$PKI/server.key" || return 1
  echo sni | timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" --tls-servername localhost \
    127.0.0.1 "$SPORT" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$SPID" 10 && assert_eq sni "$(cat "$WORK/srv.out")"
}

client_cert() {
  s_server server -Verify 1 -CAfile "$PKI/ca.pem" || return 1
  echo mutual | timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" --tls-cert \
    "$PKI/client.pem" --tls-key "$PKI/client.key" localhost "$SPORT" 2>"$WORK/c.err" ||
    { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$SPID" 10 && assert_eq mutual "$(cat "$WORK/srv.out")"
}

alpn_agreed() {
  s_server server -alpn http/1.1 || return 1
  echo a | timeout 20 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" --tls-alpn h2,http/1.1 -v \
    localhost "$SPORT" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  grep -qxF 'parley: TLS: TLSv1.3, TLS_AES_128_GCM_SHA256, ALPN http/1.1' "$WORK/c.err" ||
    fail "$(cat "$WORK/c.err")"
}

# A plain echo server returns our ClientHello.
not_tls() {
  start_echo plain || return 1
  expect_exit 1 "parley: connect to 127.0.0.1:$EPORT: TLS: the server sent our own TLS hello back: it does not speak TLS (an echo service?)" \
    "$PARLEY" connect --tls --tls-insecure 127.0.0.1 "$EPORT"
}

check "upload 1 MiB, verified, close_notify at EOF" upload_verified
check "download 1 MiB, verified by IP address" download_verified
check "TLS 1.2 with AES-GCM" tls12
check "1 MiB each way over a Unix socket" unix_socket
check "1 MiB to ncat --ssl -l (ncat's own client fails here)" ncat_server_gets_1mib
P='parley: connect to localhost:@PORT@: TLS:'
check "name mismatch lists the certificate's names" refused other "" \
  "$P name mismatch: the certificate is for other.example, www.other.example, not for localhost (--tls-servername NAME checks another name)" \
  --tls-ca "$PKI/ca.pem" localhost
check "expired certificate with its date" refused expired "" \
  "$P the certificate expired on 2021-01-01 00:00:00 UTC (CN=localhost)" --tls-ca "$PKI/ca.pem" localhost
check "unknown issuer names the issuer" refused rogue "" \
  "$P unknown issuer: the certificate (CN=localhost) is issued by CN=rogue CA, which is not trusted (trust its CA with --tls-ca FILE, or accept exactly this certificate with --tls-pin)" \
  --tls-ca "$PKI/ca.pem" localhost
check "the system trust store does not know the test CA" refused server "" \
  "$P unknown issuer: the certificate (CN=localhost) is issued by CN=parley test CA, which is not trusted (trust its CA with --tls-ca FILE, or accept exactly this certificate with --tls-pin)" \
  localhost
check "--tls-servername is the name checked" refused server "" \
  "parley: connect to 127.0.0.1:@PORT@: TLS: name mismatch: the certificate is for localhost, 127.0.0.1, ::1, not for other.example (--tls-servername NAME checks another name)" \
  --tls-ca "$PKI/ca.pem" --tls-servername other.example 127.0.0.1
check "pin mismatch shows the fingerprint seen" refused server "" \
  "parley: connect to 127.0.0.1:@PORT@: TLS: pin mismatch: the certificate's fingerprint is $(fingerprint "$PKI/server.pem") (CN=localhost)" \
  --tls-pin "sha256:$(printf '%064d' 0)" 127.0.0.1
check "TLS 1.1 only is refused" refused server "-tls1_1" \
  "$P protocol version: the server accepts no TLS version parley speaks (1.2, 1.3)" \
  --tls-ca "$PKI/ca.pem" localhost
check "client certificate required (TLS 1.2)" refused server "-tls1_2 -Verify 1 -CAfile $PKI/ca.pem" \
  "$P the server requires a client certificate" --tls-ca "$PKI/ca.pem" localhost
check "no ALPN in common" refused server "-alpn http/1.1" \
  "$P no application protocol (ALPN) in common with the server" --tls-ca "$PKI/ca.pem" \
  --tls-alpn h2 localhost
check "pin accepts a self-signed certificate" pin_ok
check "--tls-insecure warns" insecure_says_so
check "SNI is sent" sni_sent
check "client certificate" client_cert
check "ALPN agreed, shown with -v" alpn_agreed
check "a plain echo server is not TLS" not_tls
check "--tls-ca without --tls" expect_exit 2 "parley: connect: --tls-ca requires --tls" \
  "$PARLEY" connect --tls-ca "$PKI/ca.pem" localhost 1
check "--tls with -u" expect_exit 2 "parley: connect: --udp excludes --tls" \
  "$PARLEY" connect --tls -u localhost 1
check "--tls-insecure with --tls-pin" expect_exit 2 "parley: connect: --tls-pin excludes --tls-insecure" \
  "$PARLEY" connect --tls --tls-insecure --tls-pin "$(fingerprint "$PKI/server.pem")" localhost 1
check "a malformed pin" expect_exit 2 \
  "parley: connect: TLS: a pin is sha256: and 64 hex digits (colons allowed, as 'connect --tls -v' prints it), not 'abc'" \
  "$PARLEY" connect --tls --tls-pin abc localhost 1
check "an unreadable CA file" expect_exit 2 \
  "parley: connect: TLS: cannot read CA $WORK/none.pem: No such file or directory" \
  "$PARLEY" connect --tls --tls-ca "$WORK/none.pem" localhost 1

# OpenSSL is loaded when TLS is first used, not at every start: a libssl that cannot be loaded
# (here a broken one found first through LD_LIBRARY_PATH) is one line and exit 2 for TLS, and
# commands without TLS do not notice it.
no_libssl() {
  mkdir -p "$WORK/nolib" && : >"$WORK/nolib/libssl.so.3"
  expect_exit 2 "parley: connect: TLS: $WORK/nolib/libssl.so.3: file too short (TLS needs OpenSSL 3: Debian's libssl3)" \
    env LD_LIBRARY_PATH="$WORK/nolib" "$PARLEY" connect --tls 127.0.0.1 1 || return 1
  expect_exit 2 "parley: echo: TLS: $WORK/nolib/libssl.so.3: file too short (TLS needs OpenSSL 3: Debian's libssl3)" \
    env LD_LIBRARY_PATH="$WORK/nolib" "$PARLEY" echo --tls -p 0 || return 1
  local out
  out=$(env LD_LIBRARY_PATH="$WORK/nolib" "$PARLEY" conns -s) || { fail "conns -s without libssl"; return 1; }
  [[ $out == Total:* ]] || fail "conns -s: $out"
}
check "libssl that cannot be loaded: TLS says so, the rest works" no_libssl
finish
