#!/usr/bin/env bash
# parley bench http against wrk (Debian's wrk 4.1), both loading HAProxy answering by itself
# (`http-request return status 200`, nbthread 1, started here with its own config on loopback):
# `parley bench http --threads 1 -c 50` against `wrk -t1 -c50`, keep-alive GET of a 2-byte body.
#
# Method (the same as bench/loadgen.sh, because this machine's speed drifts by ±30% within
# seconds): ROUNDS short pairs, the two clients back to back in each pair, the order alternating;
# HAProxy pinned to core 0, the client to core 1; the figures are medians of the per-pair ratios.
# Per client: requests/s, its own CPU time per request (user + system, whole process), and the
# latency percentiles each reports (wrk --latency: p50 p90 p99; parley --json the same) and the
# mean latency, beside what Little's law says it must be (requests in flight / rate): the two
# clients' distributions differ in shape (wrk serves its connections less evenly: a lower p50, a
# longer tail), so the mean is where they can be checked against each other and the law.
# HAProxy's single core is the bottleneck for both at 50 connections, so requests/s can only tie;
# the client CPU per request is what shows which client would give out first.
#
#   bench/http.sh [PARLEY]     env: ROUNDS (10), DURATION (2 s), CONNS (50), PIPELINE (1)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
PARLEY=${1:-$root/build/release/apps/parley/parley}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-2}
CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-1}
for tool in haproxy wrk; do
  command -v $tool >/dev/null || { echo "http.sh: needs $tool (scripts/install-deps.sh)" >&2; exit 2; }
done
ulimit -n 20000
tmp=$(mktemp -d /tmp/parley-http.XXXXXX)
port=23980
# maxconn stays under half of `ulimit -n`, or HAProxy refuses to start.
cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout client 30s
  timeout server 30s
  timeout connect 5s
frontend fe
  bind 127.0.0.1:$port
  http-request return status 200 content-type text/plain string "ok"
EOF
taskset -c 0 timeout 1800 haproxy -f "$tmp/haproxy.cfg" -db >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.05; done
url="http://127.0.0.1:$port/"

TIMEFORMAT='%U %S'
# Each run prints "REQUESTS_PER_S CPU_US_PER_REQUEST P50_US P90_US P99_US MEAN_US".
wrk_run() {
  local script=()
  if [ "$PIPELINE" -gt 1 ]; then
    # wrk pipelines only through Lua: a request() that returns PIPELINE requests at once.
    cat >"$tmp/pipeline.lua" <<EOF
init = function(args)
  local r = {}
  for i = 1, $PIPELINE do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
EOF
    script=(-s "$tmp/pipeline.lua")
  fi
  { time taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$url" >"$tmp/run"; } 2>"$tmp/time"
  read -r user sys <"$tmp/time"
  python3 - "$tmp/run" "$user" "$sys" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def us(v):
    n, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
reqs = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
pct = {p: us(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
mean = us(re.search(r"^\s+Latency\s+(\S+)", text, re.M).group(1))
cpu = (float(sys.argv[2]) + float(sys.argv[3])) * 1e6 / reqs
print(f"{rps:.0f} {cpu:.3f} {pct['50']:.1f} {pct['90']:.1f} {pct['99']:.1f} {mean:.1f}")
PY
}
parley_run() {
  { time taskset -c 1 "$PARLEY" bench http --threads 1 -c "$CONNS" --pipeline "$PIPELINE" \
    -d "${DURATION}s" --json "$url" >"$tmp/run"; } 2>"$tmp/time"
  read -r user sys <"$tmp/time"
  python3 - "$tmp/run" "$user" "$sys" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors_total"] == 0, r["errors"]
l = r["latency"]
cpu = (float(sys.argv[2]) + float(sys.argv[3])) * 1e6 / r["round_trips"]
print(f'{r["round_trips_per_s"]:.0f} {cpu:.3f} {l["p50_us"]:.1f} {l["p90_us"]:.1f} {l["p99_us"]:.1f} {l["mean_us"]:.1f}')
PY
}
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then read -r w_rps w_cpu w50 w90 w99 wmean < <(wrk_run); read -r p_rps p_cpu p50 p90 p99 pmean < <(parley_run)
  else read -r p_rps p_cpu p50 p90 p99 pmean < <(parley_run); read -r w_rps w_cpu w50 w90 w99 wmean < <(wrk_run); fi
  echo "$w_rps" >>"$tmp/w"; echo "$p_rps" >>"$tmp/p"
  echo "$w_cpu" >>"$tmp/wc"; echo "$p_cpu" >>"$tmp/pc"
  ratio "$p_rps" "$w_rps" 4 >>"$tmp/r"
  ratio "$p_cpu" "$w_cpu" 4 >>"$tmp/u"
  for q in 50 90 99 mean; do
    eval "echo \$w$q" >>"$tmp/w$q"; eval "echo \$p$q" >>"$tmp/p$q"
  done
  echo "round $r  wrk $w_rps req/s ($w_cpu us CPU/req, p50 $w50 p90 $w90 p99 $w99 mean $wmean us)" \
    " parley $p_rps req/s ($p_cpu us CPU/req, p50 $p50 p90 $p90 p99 $p99 mean $pmean us)"
done
echo
echo "HAProxy (1 thread), $CONNS connections, pipeline $PIPELINE, $ROUNDS rounds of ${DURATION}s, medians:"
# Little's law: with CONNS x PIPELINE requests always in flight, the mean latency is that many
# over the rate. A client whose mean is off it measures latency from the wrong moments.
little() { awk -v n=$((CONNS * PIPELINE)) -v r="$1" 'BEGIN { printf "%.1f", (r > 0 ? n * 1e6 / r : 0) }'; }
printf '  %-8s %10s req/s  %7s us CPU/req  p50 %7s  p90 %7s  p99 %7s  mean %7s us (in flight/rate %s)\n' \
  wrk "$(median <"$tmp/w")" "$(median <"$tmp/wc")" "$(median <"$tmp/w50")" "$(median <"$tmp/w90")" "$(median <"$tmp/w99")" \
  "$(median <"$tmp/wmean")" "$(little "$(median <"$tmp/w")")" \
  parley "$(median <"$tmp/p")" "$(median <"$tmp/pc")" "$(median <"$tmp/p50")" "$(median <"$tmp/p90")" "$(median <"$tmp/p99")" \
  "$(median <"$tmp/pmean")" "$(little "$(median <"$tmp/p")")"
echo "  parley/wrk: requests/s $(median <"$tmp/r" | awk '{printf "%.2f", $1}')x," \
  "client CPU per request $(median <"$tmp/u" | awk '{printf "%.2f", $1}')x (median of pairs)"
