#!/usr/bin/env bash
# parley conns against ss (and netstat) on a busy host's socket table: by default ~19,000
# established TCP sockets (9,500 loopback connections, a tenth over IPv6 to a dual-stack
# listener), ~3,000 in TIME-WAIT, 21 listeners, 200 UDP and ~1,000 Unix sockets, all made by
# bench/conns_load.py on loopback and gone again after HOLD seconds.
#
#   bench/conns.sh [PARLEY_BINARY]    env: ESTAB (9500), TIMEWAIT (3000), RUNS (7), HOLD (300)
#
# Method: every command runs RUNS times, interleaved (each round runs every command once, each
# round starting at a different command), pinned to core 1 while the load sits idle on core 0;
# bench/runstat.c starts each one and takes wall time around it, and user and system time and
# peak RSS (ru_maxrss) from wait4. Medians are printed, with parley's ratio
# to ss for the same view. Views: -tan, -tanp, -tani, -tano, a filter expression the kernel
# evaluates (bytecode), -xa and -s. TIME-WAIT sockets live 60 s, so they are made again every
# 40 s of measuring.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARLEY=${1:-$root/build/release/apps/parley/parley}
ESTAB=${ESTAB:-9500}
TIMEWAIT=${TIMEWAIT:-3000}
RUNS=${RUNS:-7}
HOLD=${HOLD:-300}
[[ $ESTAB =~ ^[0-9]+$ && $TIMEWAIT =~ ^[0-9]+$ && $RUNS =~ ^[1-9][0-9]*$ ]] ||
  { echo "ESTAB, TIMEWAIT and RUNS must be whole numbers" >&2; exit 2; }
for c in cc ss python3 taskset timeout; do
  command -v "$c" >/dev/null || { echo "need $c" >&2; exit 2; }
done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d /tmp/parley-conns.XXXXXX)
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

out=$root/bench/out
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/runstat" "$root/bench/runstat.c"
export RUNSTAT=$out/runstat
# TIME-WAIT sockets of an earlier run (or of the last one's 19,000 closed connections) live 60 s;
# start from a table without them.
for _ in $(seq 70); do
  [ "$(ss -Htn state time-wait | wc -l)" -lt 500 ] && break
  sleep 1
done
load=$root/bench/conns_load.py
timeout "$HOLD" taskset -c 0 python3 "$load" server "$tmp/ports" "$HOLD" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/ports" ] && break; sleep 0.1; done
[ -s "$tmp/ports" ] || { echo "load server did not start" >&2; exit 1; }
timeout "$HOLD" taskset -c 0 python3 "$load" client "$tmp/ports" "$tmp/ready" "$HOLD" \
  "$ESTAB" 0 200 500 &
pids+=($!)
for _ in $(seq 1200); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
[ -s "$tmp/ready" ] || { echo "could not open $ESTAB connections" >&2; exit 1; }
read -r -a ports <"$tmp/ports" || true  # no newline at the end
first=${ports[0]}
v6=${ports[-1]}

# timewait N: N more TIME-WAIT sockets (connect and close to the first listener).
timewait() {
  python3 - "$first" "$1" <<'PY'
import socket, sys
for _ in range(int(sys.argv[2])):
    socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
PY
}
counts() {
  echo "$(ss -Htn state established | wc -l) established, $(ss -Htn state time-wait | wc -l)" \
    "TIME-WAIT, $(ss -Htln | wc -l) TCP listening, $(ss -Hua | wc -l) UDP, $(ss -Hxa | wc -l) Unix"
}

filter="( sport = :$v6 or dport = :$v6 ) and dst [::1]"
export PARLEY FILTER="$filter"
timewait "$TIMEWAIT"
echo "socket table: $(counts)"
echo "filter expression: '$filter' ($(ss -Htan "$filter" | wc -l) rows)"

# The harness: prints one line per command with median wall ms, user ms, sys ms, peak RSS KB.
python3 - "$RUNS" "$first" "$TIMEWAIT" <<'PY'
import os, subprocess, sys, time, socket
runs, first, tw = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
P, F = os.environ["PARLEY"], os.environ["FILTER"]
views = [
    ("-tan", ["-tan"]), ("-tanp", ["-tanp"]), ("-tani", ["-tani"]), ("-tano", ["-tano"]),
    ("filter", ["-tan", F]), ("-xa", ["-xa"]), ("-s", ["-s"]),
]
cmds = []
for name, args in views:
    cmds.append((f"parley {name}", [P, "conns"] + args))
    cmds.append((f"ss {name}", ["ss"] + args))
for name in ("-tan", "-tanp"):
    cmds.append((f"netstat {name}", ["netstat", name]))
cmds = [c for c in cmds if c[1][0] != "netstat" or subprocess.call(["which", "netstat"], stdout=subprocess.DEVNULL) == 0]
res = {name: [] for name, _ in cmds}
failed = set()

def one(name, argv):
    out = subprocess.run([os.environ["RUNSTAT"]] + argv, capture_output=True, text=True).stdout
    wall, user, sys_, rss, code = map(int, out.split())
    if code != 0:
        failed.add(f"{name} exited {code}")
    return wall / 1e3, user / 1e3, sys_ / 1e3, rss

def topup():
    for _ in range(tw):
        socket.create_connection(("127.0.0.1", first)).close()

os.sched_setaffinity(0, {1})
started = time.time()
for r in range(runs):
    if time.time() - started > 40:  # TIME-WAIT lasts 60 s: keep the table's shape
        topup(); started = time.time()
    order = cmds[r % len(cmds):] + cmds[:r % len(cmds)]
    for name, argv in order:
        res[name].append(one(name, argv))

def med(xs):
    xs = sorted(xs); return xs[len(xs) // 2]
print(f"{'command':<16}{'wall_ms':>9}{'user_ms':>9}{'sys_ms':>9}{'rss_kb':>9}{'x_ss_time':>11}{'x_ss_rss':>10}")
for name, _ in cmds:
    w, u, s, m = (med([x[i] for x in res[name]]) for i in range(4))
    tool, view = name.split(" ", 1)
    base = res.get(f"ss {view}")
    if base and tool != "ss":
        bw, bm = med([x[0] for x in base]), med([x[3] for x in base])
        ratio_t, ratio_m = f"{w / bw:.2f}", f"{m / bm:.2f}"
    else:
        ratio_t = ratio_m = ""
    print(f"{name:<16}{w:9.1f}{u:9.1f}{s:9.1f}{m:9d}{ratio_t:>11}{ratio_m:>10}")
for f in sorted(failed):
    print("FAILED:", f)
PY
echo "socket table at the end: $(counts)"
