# TLS on parley's servers (issue 13): echo --tls and listen --tls (one client, -k, --broker, -e/-c)
# against parley's own clients (connect, bench, talk), openssl s_client and ncat --ssl, with a
# generated certificate (pinned) and with certificates this test makes (verified, mutual TLS);
# 64 MiB byte-exact through echo --tls; a client that does not speak TLS is refused with a log
# line and the server goes on; bench http against HAProxy terminating TLS; forward terminating
# and originating TLS.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tls_lib.sh"

use_quiet_input
make_pki || { echo "cannot make test certificates with openssl" >&2; exit 1; }

# pin_from FILE: the fingerprint a server printed for its generated certificate.
pin_from() { grep -m1 -Eo 'sha256:[0-9a-f]{64}' "$1"; }

# 64 MiB through echo --tls (two threads, a generated certificate, the client pinning it).
echo_64mib_exact() {
  start_echo e64 -q --tls --threads 2 || return 1
  grep -qxF "parley: echo: TLS certificate generated for this run; clients can pin it with --tls-pin $(pin_from "$WORK/e64.err")" "$WORK/e64.err" || {
    fail "no fingerprint line: $(cat "$WORK/e64.err")"
    return 1
  }
  grep -qxF "parley: Echo server (TLS over TCP, 2 threads). Stop with Ctrl-C; kill -USR1 $EPID prints counters." "$WORK/e64.err" ||
    fail "started line: $(cat "$WORK/e64.err")" || return 1
  head -c $((64 << 20)) /dev/urandom >"$WORK/big"
  timeout 60 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/e64.err")" 127.0.0.1 "$EPORT" \
    <"$WORK/big" >"$WORK/big.back" 2>"$WORK/c.err" || { fail "exit $?: $(cat "$WORK/c.err")"; return 1; }
  assert_eq "$(sha "$WORK/big")" "$(sha "$WORK/big.back")" "64 MiB back through TLS"
}

# Certificates from files: the client verifies chain and name; without the CA it is refused.
echo_verified() {
  start_echo ev --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" || return 1
  assert_eq hi "$(echo hi | timeout 10 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" localhost "$EPORT")" "verified" || return 1
  local rc=0
  echo hi | timeout 10 "$PARLEY" connect --tls localhost "$EPORT" >/dev/null 2>"$WORK/c.err" || rc=$?
  assert_eq 1 "$rc" "unknown issuer: exit 1" || return 1
  grep -q 'unknown issuer\|not trusted' "$WORK/c.err" || fail "$(cat "$WORK/c.err")"
}

# openssl s_client and ncat --ssl as clients.
echo_interop() {
  start_echo ei -q --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" || return 1
  (printf 'from s_client\n'; sleep 1) | timeout 10 openssl s_client -quiet -no_ign_eof \
    -CAfile "$PKI/ca.pem" -verify_return_error -connect "127.0.0.1:$EPORT" >"$WORK/s.out" 2>"$WORK/s.err"
  assert_eq "from s_client" "$(cat "$WORK/s.out")" "s_client: $(cat "$WORK/s.err")" || return 1
  have ncat || { echo "    (ncat not installed: not tested)"; return 0; }
  (printf 'from ncat\n'; sleep 1) | timeout 10 ncat --ssl 127.0.0.1 "$EPORT" >"$WORK/n.out" 2>"$WORK/n.err"
  assert_eq "from ncat" "$(cat "$WORK/n.out")" "ncat --ssl: $(cat "$WORK/n.err")"
}

# --tls-verify-client: no client certificate, no connection (both sides say why); with one, it works.
mutual_tls() {
  start_echo mt --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" \
    --tls-verify-client --tls-ca "$PKI/ca.pem" || return 1
  local rc=0
  echo hi | timeout 10 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" localhost "$EPORT" >"$WORK/c.out" 2>"$WORK/c.err" || rc=$?
  assert_eq 1 "$rc" "no client certificate: exit 1 ($(cat "$WORK/c.err"))" || return 1
  assert_eq "" "$(cat "$WORK/c.out")" "nothing echoed without a certificate" || return 1
  grep -qi 'client certificate' "$WORK/c.err" || fail "client's words: $(cat "$WORK/c.err")" || return 1
  wait_for_line "$WORK/mt.err" "refused: TLS: .*certificate" || return 1
  assert_eq hi "$(echo hi | timeout 10 "$PARLEY" connect --tls --tls-ca "$PKI/ca.pem" \
    --tls-cert "$PKI/client.pem" --tls-key "$PKI/client.key" localhost "$EPORT")" "with a client certificate"
}

# A plain client is refused with one log line; TLS clients are still served after it. The
# counters call it a failed handshake, not a full server (SIGUSR1, --metrics).
plain_client_refused() {
  local mport
  mport=$(free_port)
  start_echo pc --tls --metrics "127.0.0.1:$mport" || return 1
  printf 'not tls\n' | timeout 10 "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/null 2>&1
  wait_for_line "$WORK/pc.err" "^[0-9: .-]+ 127\.0\.0\.1:[0-9]+ refused: TLS: " || return 1
  assert_eq still "$(echo still | timeout 10 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/pc.err")" 127.0.0.1 "$EPORT")" || return 1
  kill -USR1 "$EPID"
  wait_for_line "$WORK/pc.err" " 0 refused, 0 denied, .* messages, 1 failed handshake\$" || return 1
  curl -fs "http://127.0.0.1:$mport/metrics" | grep -qxF 'parley_refused_total{reason="handshake"} 1' ||
    fail "metrics: $(curl -s "http://127.0.0.1:$mport/metrics" | grep refused)"
}

# listen --tls, one client: stdin to the client and the client's bytes to stdout, 1 MiB each way.
listen_one_client() {
  head -c $((1 << 20)) /dev/urandom >"$WORK/down"
  head -c $((1 << 20)) /dev/urandom >"$WORK/up"
  "$PARLEY" listen --tls -v 127.0.0.1 0 <"$WORK/down" >"$WORK/l.out" 2>"$WORK/l.err" &
  local lpid=$!
  BG_PIDS+=("$lpid")
  wait_for_line "$WORK/l.err" 'Listening on' || return 1
  timeout 20 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/l.err")" 127.0.0.1 "$(port_from "$WORK/l.err")" \
    <"$WORK/up" >"$WORK/c.out" 2>"$WORK/c.err" || { fail "connect: $(cat "$WORK/c.err")"; return 1; }
  wait_exit "$lpid" 10 || { fail "listen did not end: $(cat "$WORK/l.err")"; return 1; }
  assert_eq "$(sha "$WORK/down")" "$(sha "$WORK/c.out")" "listen -> client" || return 1
  assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/l.out")" "client -> listen" || return 1
  grep -qxF 'parley: TLS: TLSv1.3, TLS_AES_128_GCM_SHA256' "$WORK/l.err" || fail "-v: $(cat "$WORK/l.err")"
}

# ncat --ssl sends 1 MiB to listen --tls (ncat to ncat fails here on Debian 12).
listen_from_ncat() {
  have ncat || { echo "    (ncat not installed: not tested)"; return 0; }
  head -c $((1 << 20)) /dev/urandom >"$WORK/up"
  "$PARLEY" listen --tls -v 127.0.0.1 0 <"$QUIET" >"$WORK/ln.out" 2>"$WORK/ln.err" &
  local lpid=$!
  BG_PIDS+=("$lpid")
  wait_for_line "$WORK/ln.err" 'Listening on' || return 1
  timeout 20 ncat --ssl --send-only 127.0.0.1 "$(port_from "$WORK/ln.err")" <"$WORK/up" 2>"$WORK/n.err" ||
    { fail "ncat: $(cat "$WORK/n.err")"; return 1; }
  wait_exit "$lpid" 10 || { fail "listen did not end: $(cat "$WORK/ln.err")"; return 1; }
  assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/ln.out")" "ncat --ssl -> listen --tls"
}

# listen -e/-c --tls: the program gets socket pairs and parley relays. 1 MiB through /bin/cat
# (-k, two clients at once), end of stream both ways (the client's close_notify is EOF on the
# program's stdin; the program's exit ends the client's stream), its environment, a program that
# reads nothing and one that reads late (backpressure, nothing lost), and ncat --ssl as client.
listen_exec() {
  head -c $((1 << 20)) /dev/urandom >"$WORK/up"
  start_parley_listen lx -k --tls -e /bin/cat 127.0.0.1 0 <"$QUIET" || return 1
  local pin i pids=()
  pin=$(pin_from "$WORK/lx.err")
  for i in 1 2; do
    timeout 20 "$PARLEY" connect --tls --tls-pin "$pin" 127.0.0.1 "$LPORT" <"$WORK/up" \
      >"$WORK/x$i.out" 2>"$WORK/x$i.err" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in 1 2; do
    assert_eq "$(sha "$WORK/up")" "$(sha "$WORK/x$i.out")" "client $i through cat: $(cat "$WORK/x$i.err")" || return 1
  done
  wait_for_line "$WORK/lx.err" '/bin/cat for 127\.0\.0\.1:[0-9]+: exit status 0' || return 1
  # One client (no -k): the answer comes after the client's EOF, then listen ends, exit 0.
  start_parley_listen lc --tls -c 'n=$(wc -c); echo "got $n bytes from $PARLEY_REMOTE_ADDR"' \
    127.0.0.1 0 <"$QUIET" || return 1
  assert_eq "got 3 bytes from 127.0.0.1" \
    "$(printf abc | timeout 10 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/lc.err")" 127.0.0.1 "$LPORT")" \
    "half-close through the relay" || return 1
  wait_exit "$LPID" 10 || { fail "listen -c did not end: $(cat "$WORK/lc.err")"; return 1; }
  local rc=0
  wait "$LPID" || rc=$?
  assert_eq 0 "$rc" "listen -c --tls exit status" || return 1
  # A program that reads nothing: its output, then EOF; the client's 1 MiB is read and dropped.
  start_parley_listen lh -k --tls -c 'echo hi' 127.0.0.1 0 <"$QUIET" || return 1
  assert_eq hi "$(timeout 10 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/lh.err")" 127.0.0.1 "$LPORT" <"$WORK/up" 2>"$WORK/h.err")" \
    "a program that reads nothing: $(cat "$WORK/h.err")" || return 1
  # A program that reads late: 8 MiB wait behind the relay's bound, and all of it arrives.
  head -c $((8 << 20)) /dev/zero >"$WORK/eight"
  start_parley_listen ll -k --tls -c 'sleep 1; wc -c' 127.0.0.1 0 <"$QUIET" || return 1
  assert_eq $((8 << 20)) "$(timeout 20 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/ll.err")" 127.0.0.1 "$LPORT" <"$WORK/eight" | tr -d ' ')" \
    "8 MiB to a program that reads late" || return 1
  # --idle-timeout ends the client, and the program still running hears of it (SIGHUP), as
  # without TLS. (Its socket pairs used to be swept first, leaving it unannounced.)
  start_parley_listen li -k --tls --idle-timeout 1s -c 'cat; sleep 10' 127.0.0.1 0 <"$QUIET" || return 1
  assert_eq hi "$( (echo hi; sleep 3) | timeout 10 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/li.err")" 127.0.0.1 "$LPORT")" \
    "answer before the idle timeout" || return 1
  wait_for_line "$WORK/li.err" 'is gone; sending SIGHUP' || return 1
  wait_for_line "$WORK/li.err" 'closed: idle timeout' || return 1
  wait_for_line "$WORK/li.err" 'cat; sleep 10 for 127\.0\.0\.1:[0-9]+: killed by SIGHUP' || return 1
  have ncat || { echo "    (ncat not installed: not tested)"; return 0; }
  start_parley_listen ln -k --tls -c 'read line; echo "got $line"' 127.0.0.1 0 <"$QUIET" || return 1
  assert_eq "got from ncat" "$( (echo 'from ncat'; sleep 2) | timeout 10 ncat --ssl 127.0.0.1 "$LPORT" 2>"$WORK/n.err")" \
    "ncat --ssl: $(cat "$WORK/n.err")"
}

# listen -v says why a TLS client was refused (every failed handshake read "already 100 clients
# (-m)"), and goes on serving.
listen_refusal_cause() {
  start_parley_listen lr -k --tls -e /bin/cat 127.0.0.1 0 <"$QUIET" || return 1
  local rc=0
  echo hi | timeout 10 "$PARLEY" connect --tls 127.0.0.1 "$LPORT" >/dev/null 2>&1 || rc=$?
  assert_eq 1 "$rc" "a client that does not trust the certificate: exit" || return 1
  wait_for_line "$WORK/lr.err" \
    "^parley: Connection from 127\.0\.0\.1:[0-9]+ refused: TLS: the client does not accept this server's certificate \(unknown CA\)\.\$" ||
    return 1
  assert_eq hi "$(echo hi | timeout 10 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/lr.err")" 127.0.0.1 "$LPORT")" \
    "then a pinned client" || return 1
  ! grep -qF -- '(-m)' "$WORK/lr.err" || fail "a refusal by -m: $(cat "$WORK/lr.err")"
}

# listen --broker --tls: what one client sends reaches the other.
broker_over_tls() {
  "$PARLEY" listen --broker --tls 127.0.0.1 0 -v <"$QUIET" >/dev/null 2>"$WORK/b.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/b.err" 'Listening on' || return 1
  local port pin
  port=$(port_from "$WORK/b.err")
  pin=$(pin_from "$WORK/b.err")
  timeout 10 "$PARLEY" connect --tls --tls-pin "$pin" --recv-only 127.0.0.1 "$port" >"$WORK/b1.out" 2>/dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/b.err" 'Connection from' || return 1
  (echo hello-all; sleep 0.5) | timeout 10 "$PARLEY" connect --tls --tls-pin "$pin" 127.0.0.1 "$port" >/dev/null 2>&1
  wait_for_line "$WORK/b1.out" '^hello-all$'
}

# bench --tls against echo --tls: every answer checked; handshakes per second in connect mode;
# an unverified server is an error of the run whose cause is named (issue 13).
bench_over_tls() {
  start_echo bt -q --tls --threads 1 || return 1
  local pin
  pin=$(pin_from "$WORK/bt.err")
  "$PARLEY" bench pingpong --tls --tls-pin "$pin" -c 10 -t 1 -d 1s --verify --json 127.0.0.1 "$EPORT" >"$WORK/bp.json" || return 1
  assert_eq "True True 0" "$(json "$WORK/bp.json" 'r["tls"], r["round_trips"] > 1000, r["errors_total"]')" "pingpong --tls" || return 1
  "$PARLEY" bench connect --tls --tls-pin "$pin" -c 4 -t 1 -d 1s --json 127.0.0.1 "$EPORT" >"$WORK/bc.json" || return 1
  assert_eq "True 0" "$(json "$WORK/bc.json" 'r["connections_opened"] >= r["round_trips"] > 20, r["errors_total"]')" "connect --tls" || return 1
  local rc=0
  "$PARLEY" bench pingpong --tls -d 1s 127.0.0.1 "$EPORT" >"$WORK/bu.out" 2>&1 || rc=$?
  assert_eq 1 "$rc" "unverified: exit 1" || return 1
  grep -q '^  note            other errors: TLS: unknown issuer: the certificate (CN=parley) is self-signed' "$WORK/bu.out" ||
    fail "no cause: $(cat "$WORK/bu.out")"
}

# bench http https://: HAProxy terminates TLS with the test CA's certificate and answers itself.
bench_https() {
  have haproxy || { echo "    (haproxy not installed: not tested)"; return 0; }
  local port
  port=$(free_port)
  cat "$PKI/server.pem" "$PKI/server.key" >"$WORK/haproxy.pem"
  cat >"$WORK/https.cfg" <<EOF
global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:$port ssl crt $WORK/haproxy.pem
  http-request return status 200 content-type text/plain string "ok"
EOF
  haproxy -f "$WORK/https.cfg" -db >"$WORK/https.log" 2>&1 &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  "$PARLEY" bench http -c 4 -t 1 -d 1s --expect ok --tls --tls-ca "$PKI/ca.pem" --json "https://localhost:$port/" >"$WORK/bh.json" || {
    fail "bench http: $(cat "$WORK/bh.json")"
    return 1
  }
  assert_eq "True True 0" "$(json "$WORK/bh.json" 'r["tls"], r["status"]["200"] == r["round_trips"] > 100, r["errors_total"]')" "https"
}

# talk --tls: a transcript through TLS (-v names the session); a wrong pin is one line, exit 1.
talk_over_tls() {
  start_echo tt -q --tls --lines --reply 'got {line}' || return 1
  local pin
  pin=$(pin_from "$WORK/tt.err")
  printf 'Hallo\nwie gehts\n' | timeout 10 "$PARLEY" talk -v --tls --tls-pin "$pin" 127.0.0.1 "$EPORT" >"$WORK/t.out" 2>"$WORK/t.err" ||
    { fail "talk: $(cat "$WORK/t.err")"; return 1; }
  assert_eq $'> Hallo\n< got Hallo\n> wie gehts\n< got wie gehts' "$(sed -E 's/  [0-9.]+ ms$//' "$WORK/t.out")" || return 1
  grep -qxF 'parley: TLS: TLSv1.3, TLS_AES_128_GCM_SHA256' "$WORK/t.err" || fail "-v: $(cat "$WORK/t.err")" || return 1
  local wrong=sha256:0000000000000000000000000000000000000000000000000000000000000000
  expect_exit 1 "" "$PARLEY" talk --tls --tls-pin "$wrong" 127.0.0.1 "$EPORT" || return 1
  grep -q "^parley: connect to 127.0.0.1:$EPORT: TLS: pin mismatch: the certificate's fingerprint is $pin" "$WORK/expect.err" ||
    fail "$(cat "$WORK/expect.err")"
}

# start_forward NAME ARGS...: parley forward -v in the background; sets FPORT.
start_forward() {
  local name=$1
  shift
  "$PARLEY" forward -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/$name.err" '^parley: Forwarding' || return 1
  FPORT=$(port_from "$WORK/$name.err")
}

# forward terminates TLS (--tls), originates it (--target-tls), or both; 8 MiB back byte-exact
# each way, half-close included (the client's close_notify ends its direction only).
forward_tls() {
  head -c $((8 << 20)) /dev/urandom >"$WORK/f8"
  start_echo fplain -q || return 1
  local plain=$EPORT
  start_echo ftls -q --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" || return 1
  local tlsport=$EPORT
  start_forward fterm --tls 127.0.0.1:0 "127.0.0.1:$plain" || return 1
  timeout 20 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/fterm.err")" 127.0.0.1 "$FPORT" \
    <"$WORK/f8" >"$WORK/f8.a" 2>"$WORK/c.err" || { fail "terminate: $(cat "$WORK/c.err")"; return 1; }
  assert_eq "$(sha "$WORK/f8")" "$(sha "$WORK/f8.a")" "--tls: terminated" || return 1
  start_forward forig --target-tls --target-tls-ca "$PKI/ca.pem" 127.0.0.1:0 "localhost:$tlsport" || return 1
  timeout 20 "$PARLEY" connect 127.0.0.1 "$FPORT" <"$WORK/f8" >"$WORK/f8.b" 2>"$WORK/c.err" ||
    { fail "originate: $(cat "$WORK/c.err")"; return 1; }
  assert_eq "$(sha "$WORK/f8")" "$(sha "$WORK/f8.b")" "--target-tls: originated" || return 1
  start_forward fboth --tls --target-tls --target-tls-ca "$PKI/ca.pem" 127.0.0.1:0 "localhost:$tlsport" || return 1
  timeout 20 "$PARLEY" connect --tls --tls-pin "$(pin_from "$WORK/fboth.err")" 127.0.0.1 "$FPORT" \
    <"$WORK/f8" >"$WORK/f8.c" 2>"$WORK/c.err" || { fail "both: $(cat "$WORK/c.err")"; return 1; }
  assert_eq "$(sha "$WORK/f8")" "$(sha "$WORK/f8.c")" "--tls --target-tls" || return 1
  # A target whose certificate is not trusted: the session ends, and the log says why.
  start_forward fbad --target-tls 127.0.0.1:0 "localhost:$tlsport" || return 1
  echo hi | timeout 10 "$PARLEY" connect 127.0.0.1 "$FPORT" >"$WORK/bad.out" 2>/dev/null
  assert_eq "" "$(cat "$WORK/bad.out")" "nothing through an untrusted target" || return 1
  wait_for_line "$WORK/fbad.err" "target TLS: unknown issuer" || return 1
  # --proxy-protocol-send with --target-tls: the header first, in plain, then TLS; an echo that
  # takes both (header, then handshake) names the real client.
  start_echo fpp -q --tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" --proxy-protocol \
    --reply 'from {peer}: {line}' || return 1
  start_forward fsend --target-tls --target-tls-ca "$PKI/ca.pem" --proxy-protocol-send v2 \
    127.0.0.1:0 "localhost:$EPORT" || return 1
  local answer
  answer=$( (echo hi; sleep 0.5) | timeout 10 "$PARLEY" connect -s 127.0.0.2 127.0.0.1 "$FPORT" 2>&1)
  [[ $answer =~ ^from\ 127\.0\.0\.2:[0-9]+:\ hi ]] || fail "PROXY header, then TLS: [$answer]"
}

usage_errors() {
  expect_exit 2 "parley: echo: --udp excludes --tls" "$PARLEY" echo --tls -u || return 1
  expect_exit 2 "parley: echo: --io uring does not take --tls (TLS runs on epoll; use --io auto)" \
    "$PARLEY" echo --tls --io uring -p 0 || return 1
  expect_exit 2 "parley: listen: --udp excludes --tls" "$PARLEY" listen --tls -u -e /bin/cat 0 || return 1
  expect_exit 2 "parley: talk: --udp excludes --tls" "$PARLEY" talk --tls -u 127.0.0.1 9 || return 1
  expect_exit 2 "parley: echo: --tls-key requires --tls-cert" "$PARLEY" echo --tls --tls-key "$PKI/server.key"
}

check "echo --tls: 64 MiB byte-exact, pinned generated certificate" echo_64mib_exact
check "echo --tls: certificate files, verified; unknown issuer refused" echo_verified
check "echo --tls: openssl s_client and ncat --ssl" echo_interop
check "echo --tls --tls-verify-client: mutual TLS" mutual_tls
check "echo --tls: a plain client is refused, the server goes on" plain_client_refused
check "listen --tls: one client, 1 MiB each way" listen_one_client
check "listen --tls: from ncat --ssl" listen_from_ncat
check "listen -e/-c --tls: relayed, end of stream, backpressure, idle timeout, ncat --ssl" listen_exec
check "listen -v --tls: a failed handshake is logged with its cause" listen_refusal_cause
check "listen --broker --tls" broker_over_tls
check "bench --tls: pingpong, connect, unverified" bench_over_tls
check "bench http https://" bench_https
check "talk --tls: transcript, -v, pin mismatch" talk_over_tls
check "forward: --tls, --target-tls, both; untrusted target" forward_tls
check "usage errors" usage_errors
finish
