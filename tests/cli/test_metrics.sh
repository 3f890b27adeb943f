# --metrics: Prometheus text at /metrics, the clients at /clients.json, and a live page at / that
# headless Chromium (Debian's) renders with one row per client -- counted in a screenshot.
source "$(dirname "$0")/lib.sh"
use_quiet_input

metrics_port() { grep -m1 -Eo 'Metrics on http://127\.0\.0\.1:[0-9]+' "$1" | grep -Eo '[0-9]+$'; }

# Two clients hold a connection open; one has sent "hello\n".
two_clients() {
  local port=$1
  (echo hello; cat "$QUIET") | timeout 30 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null &
  BG_PIDS+=($!)
  timeout 30 "$PARLEY" connect 127.0.0.1 "$port" <"$QUIET" >/dev/null &
  BG_PIDS+=($!)
}

prometheus_and_json() {
  start_echo m --metrics 127.0.0.1:0 || return 1
  local mport
  mport=$(metrics_port "$WORK/m.err")
  two_clients "$EPORT"
  local deadline=$((SECONDS + 10))
  # Both connected and the greeting echoed: the counters are settled.
  until curl -fs "http://127.0.0.1:$mport/metrics" | grep -c -x -e 'parley_connections_active 2' \
    -e 'parley_bytes_sent_total 6' | grep -qx 2; do
    [ $SECONDS -lt $deadline ] || { fail "never settled: $(curl -s "http://127.0.0.1:$mport/metrics")"; return 1; }
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$mport/metrics" >"$WORK/prom"
  local line
  for line in 'parley_connections_total 2' 'parley_bytes_received_total 6' 'parley_bytes_sent_total 6' \
    'parley_refused_total{reason="full"} 0' 'parley_refused_total{reason="denied"} 0' \
    'parley_refused_total{reason="handshake"} 0' \
    '# TYPE parley_connections_active gauge'; do
    grep -qxF "$line" "$WORK/prom" || { fail "no line [$line] in: $(cat "$WORK/prom")"; return 1; }
  done
  curl -fs "http://127.0.0.1:$mport/clients.json" >"$WORK/clients.json" || return 1
  python3 - "$WORK/clients.json" <<'PY' || return 1
import json, sys
j = json.load(open(sys.argv[1]))
assert j["active"] == 2 and len(j["clients"]) == 2, j
assert all(c["peer"].startswith("127.0.0.1:") for c in j["clients"]), j
assert sorted(c["bytes_in"] for c in j["clients"]) == [0, 6], j
PY
  assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/nothing")" "unknown path" || return 1
  assert_eq 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")" "POST"
}

# The live page in a real browser: the client list in the DOM, and one green row per client in
# the screenshot.
live_page_in_chromium() {
  have chromium || { echo "    (chromium missing: skipped)"; return 0; }
  start_echo p --metrics 127.0.0.1:0 || return 1
  local mport
  mport=$(metrics_port "$WORK/p.err")
  two_clients "$EPORT"
  local deadline=$((SECONDS + 10))
  until curl -fs "http://127.0.0.1:$mport/metrics" | grep -qx 'parley_connections_active 2'; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$WORK/chromium" --virtual-time-budget=3000 --window-size=1000,700)
  timeout 60 chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$mport/" >"$WORK/dom.html" 2>/dev/null || return 1
  assert_eq 2 "$(grep -o '<tr class="client">' "$WORK/dom.html" | wc -l)" "client rows in the DOM" || return 1
  grep -q '<h1 id="title">parley echo</h1>' "$WORK/dom.html" || fail "title: $(head -c 300 "$WORK/dom.html")" || return 1
  timeout 60 chromium "${flags[@]}" --screenshot="$WORK/page.png" "http://127.0.0.1:$mport/" >/dev/null 2>&1 || return 1
  python3 - "$WORK/page.png" <<'PY' || return 1
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack("!I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack("!IIBB", body[:10])
        assert depth == 8 and color in (2, 6), (depth, color)
        bpp = 3 if color == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw = zlib.decompress(idat)
stride = width * bpp
rows, prev, i = [], bytearray(stride), 0
for _ in range(height):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
# Down a column inside the table (24 px margin + 12 px padding before any text), count the bands of the rows' green (#2e7d32).
x = 28 * bpp  # in the first cell's left padding, left of its text
green = [abs(r[x] - 0x2e) < 8 and abs(r[x + 1] - 0x7d) < 8 and abs(r[x + 2] - 0x32) < 8 for r in rows]
bands = sum(1 for y in range(1, height) if green[y] and not green[y - 1]) + (1 if green[0] else 0)
assert bands == 2, f"{bands} green client rows in the screenshot, expected 2"
PY
}

forward_and_listen_expose_metrics() {
  start_echo fe -q || return 1
  "$PARLEY" forward --metrics 127.0.0.1:0 127.0.0.1:0 "127.0.0.1:$EPORT" </dev/null >/dev/null 2>"$WORK/fm.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/fm.err" 'Metrics on' || return 1
  local mport fport
  mport=$(metrics_port "$WORK/fm.err")
  fport=$(grep -m1 -Eo 'Listening on 127\.0\.0\.1:[0-9]+' "$WORK/fm.err" | grep -Eo '[0-9]+$')
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$fport" >/dev/null || return 1
  curl -fs "http://127.0.0.1:$mport/metrics" | grep -qx 'parley_connections_total 1' || fail "forward metrics" || return 1
  start_parley_listen lm -k --metrics 127.0.0.1:0 127.0.0.1 0 <"$QUIET" || return 1
  wait_for_line "$WORK/lm.err" 'Metrics on' || return 1
  curl -fs "http://127.0.0.1:$(metrics_port "$WORK/lm.err")/metrics" | grep -qx 'parley_connections_active 0' ||
    fail "listen -k metrics" || return 1
  expect_exit 2 "parley: listen: --metrics works with -k, --broker, --chat and -e" "$PARLEY" listen --metrics 127.0.0.1:0 0
}

check "/metrics and /clients.json" prometheus_and_json
check "the live page in headless Chromium: one row per client" live_page_in_chromium
check "forward and listen -k have --metrics too" forward_and_listen_expose_metrics
finish
