# parley bench against real protocols: request templates, answer framing (--until), expected
# answers (--expect), pipelining, --interval series, and `bench http` against Python's HTTP/1.1
# server (Content-Length, chunked, Connection: close, 404) and HAProxy.
source "$(dirname "$0")/lib.sh"

# A multi-line server: every request line gets "1 LINE\n2 LINE\n.\n" (SMTP/POP-style answers).
start_multiline() {
  start_py_server ml <<'PY' || return 1
from pyserve import lines, serve_tcp
def serve(c):
    for line in lines(c):
        # Two writes: the answer arrives in pieces, and must still be one answer.
        c.sendall(b"1 " + line + b"\n")
        c.sendall(b"2 " + line + b"\n.\n")
serve_tcp(serve, lifetime=60)
PY
  MPORT=$PY_PORT
}

# Python's HTTP/1.1 server: / (Content-Length), /chunked, /close (Connection: close), /slow
# (chunks 20 ms apart), anything else 404.
start_http() {
  start_py_server http 2>/dev/null <<'PY' || return 1
import http.server, socket, socketserver, threading, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def setup(self):
        super().setup()  # Head and body are separate writes: no Nagle wait between them.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        if self.path == "/":
            body = b"hello world\n"
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        elif self.path in ("/chunked", "/slow"):
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for part in (b"hel", b"lo ", b"chunks\n"):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part)); self.wfile.flush()
                if self.path == "/slow": time.sleep(0.02)
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif self.path == "/close":
            body = b"bye\n"
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body)
            self.close_connection = True
        else:
            self.send_error(404)
    def do_HEAD(self):  # The head of / alone: a HEAD response has no body.
        self.send_response(200); self.send_header("Content-Length", "12"); self.end_headers()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
threading.Timer(60, s.shutdown).start()  # Bounded: the helper ends by itself.
s.serve_forever()
PY
  HPORT=$PY_PORT
}

# {conn}, {n} and {rand:N} make every request different; --verify checks each echo against the
# request that was sent.
templates_verified() {
  "$PARLEY" bench pingpong -c 3 -d 1s -m 'c{conn} n{n} r{rand:1000}\n' --verify --json 127.0.0.1 "$LPORT" >"$WORK/t.json" || return 1
  assert_eq True "$(json "$WORK/t.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" "$(json "$WORK/t.json" 'r["errors"], r["mismatches"]')" || return 1
  # What the server saw: the fields rendered (the echo server logs each line).
  "$PARLEY" echo -p 0 --bind 127.0.0.1 --lines --log-data >"$WORK/seen.out" 2>"$WORK/seen.err" </dev/null &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/seen.err" 'Listening on' || return 1
  # Paced, so that both connections take turns: unpaced, the first one can finish all 40 round
  # trips before the second has connected (CI saw c2 send one line).
  "$PARLEY" bench pingpong -c 2 -n 40 --rate 400 --threads 1 -m 'c{conn} n{n} r{rand:10}\t\x41\n' --json 127.0.0.1 "$(port_from "$WORK/seen.err")" >/dev/null || return 1
  kill $pid
  wait_for_line "$WORK/seen.err" 'sent 11 bytes: c2 n3 r[0-9]\\tA\\n' || return 1
  wait_for_line "$WORK/seen.err" 'sent 11 bytes: c1 n1 r[0-9]\\tA\\n'
}

# --expect: a different answer is a mismatch, exit 1, and the first ones are shown.
expect_mismatch_shown() {
  local rc=0
  "$PARLEY" bench pingpong -d 300ms -m 'PING\n' --expect PONG 127.0.0.1 "$RPORT" >"$WORK/e.out" || rc=$?
  assert_eq 1 "$rc" "exit" || return 1
  grep -qxF "  mismatch        expected 'PONG', got 'ERR PING\n'" "$WORK/e.out" || fail "$(cat "$WORK/e.out")" || return 1
  [ "$(grep -c '^  mismatch' "$WORK/e.out")" -eq 3 ] || fail "three samples: $(cat "$WORK/e.out")" || return 1
  "$PARLEY" bench pingpong -d 300ms -m 'PING\n' --expect 'regex=^ERR P.NG$' --json 127.0.0.1 "$RPORT" >"$WORK/e.json" || return 1
  assert_eq 0 "$(json "$WORK/e.json" 'r["errors_total"]')" "regex expect"
}

# --until: a three-line answer written in two pieces is one answer with regex= framing; with
# newline framing the extra lines are data nobody asked for.
until_framing() {
  start_multiline || return 1
  "$PARLEY" bench pingpong -c 2 -d 1s -m 'hi\n' --until 'regex=\n\.\n' --expect 'regex=^1 hi\n2 hi\n\.\n$' --json 127.0.0.1 "$MPORT" >"$WORK/u.json" || return 1
  assert_eq True "$(json "$WORK/u.json" 'r["round_trips"] > 50 and r["errors_total"] == 0')" "regex framing: $(json "$WORK/u.json" 'r["errors"], r["mismatches"]')" || return 1
  assert_eq True "$(json "$WORK/u.json" '0 <= r["bytes_received"] - r["round_trips"] * 12 < 24')" "answer bytes (+ the last ones in flight)" || return 1
  "$PARLEY" bench pingpong -d 1s -m 'hi\n' --until idle=30ms --json 127.0.0.1 "$MPORT" >"$WORK/i.json" || return 1
  assert_eq True "$(json "$WORK/i.json" '10 < r["round_trips"] < 40 and r["errors_total"] == 0 and r["latency"]["p50_us"] < 20000')" "idle framing: $(json "$WORK/i.json" 'r["round_trips"], r["latency"]["p50_us"]')" || return 1
  "$PARLEY" bench pingpong -d 1s -m 'hi\r\n' --until bytes=14 --json 127.0.0.1 "$MPORT" >"$WORK/b.json" || return 1
  assert_eq True "$(json "$WORK/b.json" 'r["round_trips"] > 50 and r["errors_total"] == 0')" "bytes framing" || return 1
  local rc=0
  "$PARLEY" bench pingpong -d 300ms -m 'hi\n' --json 127.0.0.1 "$MPORT" >"$WORK/n.json" || rc=$?
  assert_eq 1 "$rc" "newline framing: exit" || return 1
  assert_eq True "$(json "$WORK/n.json" 'r["errors"]["mismatch"] > 0 and "nobody asked for" in r["mismatches"][0]')" "unasked lines"
}

# --pipeline: several requests in flight per connection, answers matched in order.
pipelined_lines() {
  "$PARLEY" bench pingpong -c 2 --pipeline 8 -d 1s -m 'pipelined\n' --verify --json 127.0.0.1 "$LPORT" >"$WORK/p.json" || return 1
  assert_eq True "$(json "$WORK/p.json" 'r["round_trips"] > 1000 and r["errors_total"] == 0 and r["pipeline"] == 8')" "$(json "$WORK/p.json" 'r["errors"], r["mismatches"]')" || return 1
  # A template, pipelined: each batch is rendered; answers still come one line per request.
  "$PARLEY" bench pingpong -c 2 --pipeline 8 -d 1s -m 'p{n}\n' --expect 'regex=^p[0-9]+$' --json 127.0.0.1 "$LPORT" >"$WORK/pt.json" || return 1
  assert_eq True "$(json "$WORK/pt.json" 'r["round_trips"] > 1000 and r["errors_total"] == 0')" "$(json "$WORK/pt.json" 'r["errors"], r["mismatches"]')"
}

# --interval: a line per interval, and a JSON series whose round trips add up.
interval_series() {
  "$PARLEY" bench pingpong -d 1s --interval 250ms --json 127.0.0.1 "$LPORT" -m 'x\n' >"$WORK/s.json" || return 1
  assert_eq True "$(json "$WORK/s.json" '4 <= len(r["series"]) <= 5 and sum(s["round_trips"] for s in r["series"]) == r["round_trips"]')" "series: $(json "$WORK/s.json" '[(s["start_s"], s["round_trips"]) for s in r["series"]]')" || return 1
  assert_eq True "$(json "$WORK/s.json" 'all(s["p50_us"] <= s["p99_us"] <= s["max_us"] for s in r["series"])')" "percentiles" || return 1
  "$PARLEY" bench pingpong -c 2 --threads 2 -d 1s --interval 500ms 127.0.0.1 "$LPORT" -m 'x\n' >"$WORK/s.out" || return 1
  grep -Eq '^ +interval +rt/s +MB/s in +p50 +p99 +max +errors$' "$WORK/s.out" || fail "$(cat "$WORK/s.out")" || return 1
  assert_eq 2 "$(grep -Ec '^ +0\.[05]-(0\.5|1\.0) s +[0-9]+ ' "$WORK/s.out")" "interval lines: $(cat "$WORK/s.out")"
}

udp_message() {
  "$PARLEY" bench pingpong -u -c 2 -d 500ms -m 'ping {n}' --verify --json 127.0.0.1 "$UPORT" >"$WORK/um.json" || return 1
  assert_eq True "$(json "$WORK/um.json" 'r["round_trips"] > 100 and r["errors_total"] == 0')" "$(json "$WORK/um.json" 'r["errors"], r["mismatches"]')"
}

http_statuses_and_framing() {
  start_http || return 1
  local url="http://127.0.0.1:$HPORT"
  "$PARLEY" bench http -c 4 -d 1s --expect 'hello world' --json "$url/" >"$WORK/h.json" || return 1
  assert_eq True "$(json "$WORK/h.json" 'r["round_trips"] > 100 and r["errors_total"] == 0 and r["status"] == {"200": r["round_trips"]}')" "keep-alive: $(json "$WORK/h.json" 'r["status"], r["errors"], r["mismatches"]')" || return 1
  assert_eq True "$(json "$WORK/h.json" 'r["connections_opened"] == 4')" "one connection each (keep-alive)" || return 1
  "$PARLEY" bench http -c 2 -d 1s --expect 'hello chunks' --json "$url/slow" >"$WORK/hc.json" || return 1
  assert_eq True "$(json "$WORK/hc.json" 'r["round_trips"] > 10 and r["errors_total"] == 0 and r["latency"]["p50_us"] > 35000')" "chunked: $(json "$WORK/hc.json" 'r["round_trips"], r["errors"], r["latency"]["p50_us"]')" || return 1
  "$PARLEY" bench http -c 2 -d 1s --json "$url/close" >"$WORK/hx.json" || return 1
  assert_eq True "$(json "$WORK/hx.json" 'r["round_trips"] > 50 and r["errors_total"] == 0 and r["connections_opened"] >= r["round_trips"]')" "Connection: close" || return 1
  "$PARLEY" bench http --method HEAD -d 500ms --json "$url/" >"$WORK/hh.json" || return 1
  assert_eq True "$(json "$WORK/hh.json" 'r["round_trips"] > 50 and r["errors_total"] == 0')" "HEAD" || return 1
  local rc=0
  "$PARLEY" bench http -d 500ms "$url/missing" >"$WORK/h404.out" || rc=$?
  assert_eq 1 "$rc" "404: exit" || return 1
  grep -Eq '^  status +404 [0-9]+$' "$WORK/h404.out" && grep -Eq '^  errors +non_2xx [0-9]+$' "$WORK/h404.out" || fail "$(cat "$WORK/h404.out")"
}

http_haproxy_pipelined() {
  have haproxy || { echo "    (skipped: no haproxy)"; return 0; }
  local port
  port=$(free_port)
  cat >"$WORK/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 1000
defaults
  mode http
  timeout client 10s
  timeout server 10s
  timeout connect 1s
frontend fe
  bind 127.0.0.1:$port
  http-request return status 200 content-type text/plain string "ok"
EOF
  haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  "$PARLEY" bench http -c 4 --pipeline 4 -d 1s --expect ok --json "http://127.0.0.1:$port/" >"$WORK/hp.json" || return 1
  assert_eq True "$(json "$WORK/hp.json" 'r["round_trips"] > 1000 and r["errors_total"] == 0 and r["status"] == {"200": r["round_trips"]}')" "$(json "$WORK/hp.json" 'r["status"], r["errors"], r["mismatches"]')"
}

usage_errors() {
  expect_exit 2 "parley: bench http: 'ftp://x/' is not an http:// or https:// URL (http://HOST[:PORT][/PATH])" "$PARLEY" bench http ftp://x/ || return 1
  expect_exit 2 "parley: bench: --method, --header and --body are for 'bench http'" "$PARLEY" bench pingpong --method POST 127.0.0.1 9 || return 1
  expect_exit 2 "parley: bench: --pipeline needs a closed loop over TCP (pingpong or http, no --rate)" "$PARLEY" bench pingpong --pipeline 2 --rate 10 127.0.0.1 9 || return 1
  expect_exit 2 "parley: bench: --until takes newline, crlf, bytes=N, idle=TIME or regex=RE: missing closing parenthesis at offset 1" "$PARLEY" bench pingpong -m x --until 'regex=(' 127.0.0.1 9 || return 1
  expect_exit 2 "" "$PARLEY" bench pingpong -m 'a {nope}' 127.0.0.1 9 || return 1
  grep -qF "bench: --message 'a {nope}': bad escape or field" "$WORK/expect.err" || fail "$(cat "$WORK/expect.err")" || return 1
  expect_exit 2 "parley: bench: a --message with fields has no fixed answer length: say what ends an answer with --until (newline, crlf, bytes=N, idle=TIME, regex=RE)" "$PARLEY" bench pingpong -m 'a {n}' 127.0.0.1 9
}

start_echo lines -q --lines || exit 1
LPORT=$EPORT
start_echo reply -q --lines --reply 'ERR {line}' || exit 1
RPORT=$EPORT
start_echo udp -q -u || exit 1
UPORT=$EPORT

check "templates: fields rendered, each echo verified" templates_verified
check "--expect: mismatches counted and shown; regex" expect_mismatch_shown
check "--until regex, idle, bytes; newline sees the extra lines" until_framing
check "--pipeline 8 with --verify" pipelined_lines
check "--interval lines and JSON series" interval_series
check "UDP with a template" udp_message
check "http: statuses, Content-Length, chunked, close, HEAD, 404" http_statuses_and_framing
check "http: HAProxy, pipelined" http_haproxy_pipelined
check "usage errors in words" usage_errors
finish
