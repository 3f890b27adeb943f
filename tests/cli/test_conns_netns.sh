# parley conns -N (ip netns), -K (SOCK_DESTROY) and -s, in network namespaces this test makes, so
# the socket table is exactly what the test put there.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have ss; then
  echo "skipped: needs root, ip and ss"
  exit 77
fi
NS="parley-cns-$$"
ip netns add "$NS" || { echo "skipped: cannot make a network namespace"; exit 77; }
cleanup_ns() { cleanup; ip netns del "$NS" 2>/dev/null; }
trap cleanup_ns EXIT
ip -n "$NS" link set lo up

# In the namespace: a listener on 127.0.0.1:7777 with 3 accepted connections (one kept for -K on
# port 7778's listener), 2 TIME-WAIT sockets, a UDP socket per family, a Unix socket pair and a
# Unix datagram socket. The client of port 7778 reports when it is reset.
ip netns exec "$NS" python3 -c '
import socket, sys, time
held = []
l = socket.socket(); l.bind(("127.0.0.1", 7777)); l.listen(); held.append(l)
for _ in range(3):
    held.append(socket.create_connection(("127.0.0.1", 7777))); held.append(l.accept()[0])
for _ in range(2):
    c = socket.create_connection(("127.0.0.1", 7777)); a = l.accept()[0]
    c.close(); time.sleep(0.05); a.close()
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind(("127.0.0.1", 5353))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 5353))
held += [u4, u6] + list(socket.socketpair()) + [socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)]
k = socket.socket(); k.bind(("127.0.0.1", 7778)); k.listen(); held.append(k)
victim = socket.create_connection(("127.0.0.1", 7778)); held.append(k.accept()[0])
open(sys.argv[1], "w").write("ok")
victim.settimeout(60)
try:
    victim.recv(1)
    print("eof", flush=True)
except OSError as e:
    print("reset:", e.errno, flush=True)
time.sleep(60)
' "$WORK/ready" >"$WORK/holder.out" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || { echo "FAIL setup: $(cat "$WORK/holder.out")"; exit 1; }

netns_listing() {
  "$PARLEY" conns -N "$NS" -H -l >"$WORK/l.out" || return 1
  assert_eq "LISTEN 127.0.0.1:7777
LISTEN 127.0.0.1:7778" "$(awk '{print $1, $4}' "$WORK/l.out")" "listeners in the namespace" || return 1
  expect_exit 2 "parley: conns: network namespace 'no-such-ns-$$': No such file or directory (see ip netns list)" \
    "$PARLEY" conns -N "no-such-ns-$$" || return 1
  expect_exit 2 "parley: conns: network namespace '../x': Invalid argument" "$PARLEY" conns -N ../x
}

# -s counts every socket of every kind (TIME-WAIT and UDP included), as ss -s does.
summary_counts_everything() {
  "$PARLEY" conns -N "$NS" -s --json >"$WORK/s.json" || return 1
  "$PARLEY" conns -N "$NS" -s >"$WORK/s.out" || return 1
  ss -N "$NS" -Htan >"$WORK/t" && ss -N "$NS" -Huan >"$WORK/u" && ss -N "$NS" -Hxan >"$WORK/x" || return 1
  python3 - "$WORK" <<'PY'
import collections, json, sys
w = sys.argv[1]
s = json.load(open(w + "/s.json"))
tcp = collections.Counter(l.split()[0] for l in open(w + "/t"))
udp = sum(1 for _ in open(w + "/u"))
unix = collections.Counter(l.split()[0] for l in open(w + "/x"))
p = s["protocols"]
assert tcp["TIME-WAIT"] == 2 and p["tcp"]["states"] == dict(tcp), (p["tcp"], tcp)
assert p["tcp"]["total"] == sum(tcp.values()) == p["tcp"]["ipv4"] and p["tcp"]["ipv6"] == 0
assert p["udp"] == {"total": 2, "ipv4": 1, "ipv6": 1, "states": {"UNCONN": 2}}, p["udp"]
assert p["u_str"]["total"] == unix["u_str"] == 2 and p["u_dgr"]["total"] == unix["u_dgr"] == 1, p
assert s["total"] == sum(tcp.values()) + udp + sum(unix.values()), s
text = open(w + "/s.out").read().splitlines()
assert text[0] == "Total: %d sockets" % s["total"], text
assert text[1].split() == ["Proto", "Total", "IPv4", "IPv6", "States"], text
PY
}

kill_sockets() {
  expect_exit 2 "parley: conns: -K closes TCP and UDP sockets only, not Unix sockets (-x)" \
    "$PARLEY" conns -N "$NS" -K -x || return 1
  have setpriv && {
    local bin="/tmp/parley-unprivileged.$$" rc=0
    install -m 755 "$PARLEY" "$bin" || return 1
    # Unprivileged: no namespace to enter, so on the host, on a port of ours.
    "$PARLEY" listen 127.0.0.1 0 -v </dev/null >/dev/null 2>"$WORK/k.err" &
    BG_PIDS+=($!)
    wait_for_line "$WORK/k.err" 'Listening on' || return 1
    local port
    port=$(port_from "$WORK/k.err")
    setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" conns -K "sport = :$port" \
      >/dev/null 2>"$WORK/np.err" || rc=$?
    rm -f "$bin"
    assert_eq 2 "$rc" "exit status as nobody" || return 1
    assert_eq "parley: conns: -K: killing sockets needs CAP_NET_ADMIN (run as root)" "$(cat "$WORK/np.err")" || return 1
    ss -Htln "sport = :$port" | grep -q LISTEN || fail "the listener was killed anyway" || return 1
  }
  "$PARLEY" conns -N "$NS" -H -K "dport = :7778" >"$WORK/k.out" || return 1
  assert_eq "ESTAB 127.0.0.1:7778" "$(awk '{print $1, $5}' "$WORK/k.out")" "the killed socket is listed" || return 1
  wait_for_line "$WORK/holder.out" '^reset: 103$' 5 || return 1  # ECONNABORTED
  assert_eq "" "$(ss -N "$NS" -Htn state established '( sport = :7778 or dport = :7778 )')" "connection gone"
}

# -o's retransmit ("on") and zero-window ("persist") timers and -i's fields, against ss: a SYN the
# namespace's firewall drops stays in SYN-SENT and is retransmitted; a sender whose peer never
# reads faces a zero window.
timers_and_info_as_ss() {
  have nft || { echo "    (nft missing: skipped)"; return 0; }
  ip netns exec "$NS" nft -f - <<'NFT' || return 1
table inet parley_conns { chain in { type filter hook input priority 0; tcp dport 7780 drop; }; }
NFT
  ip netns exec "$NS" python3 -c '
import socket, sys, time
s = socket.socket(); s.setblocking(False)
try: s.connect(("127.0.0.1", 7780))
except BlockingIOError: pass
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
l.bind(("127.0.0.1", 7779)); l.listen()
c = socket.create_connection(("127.0.0.1", 7779)); a = l.accept()[0]; c.setblocking(False)
try:
    while True: c.send(b"x" * 65536)
except BlockingIOError: pass
open(sys.argv[1], "w").write("ok"); time.sleep(40)' "$WORK/tready" 2>"$WORK/t.err" &
  BG_PIDS+=($!)
  local i
  for i in $(seq 100); do [ -s "$WORK/tready" ] && break; sleep 0.05; done
  # Until the SYN was retransmitted and the zero-window probes started (a few seconds).
  for i in $(seq 100); do
    ss -N "$NS" -Htno state syn-sent dport = :7780 | grep -q 'timer:(on,.*,[1-9][0-9]*)' &&
      ss -N "$NS" -Htno dport = :7779 | grep -q 'timer:(persist,' && break
    sleep 0.1
  done
  local sel=(exclude listening "( dport = :7780 or sport = :7779 or dport = :7779 )")
  ss -N "$NS" -Htano "${sel[@]}" >"$WORK/ss1.o" && ss -N "$NS" -Htin "${sel[@]}" >"$WORK/ss.i" || return 1
  "$PARLEY" conns -N "$NS" -Htano "${sel[@]}" >"$WORK/p.o" || return 1
  "$PARLEY" conns -N "$NS" -Htin "${sel[@]}" >"$WORK/p.i" || return 1
  ss -N "$NS" -Htano "${sel[@]}" >"$WORK/ss2.o" || return 1
  python3 - "$WORK" <<'PY'
import re, sys
w = sys.argv[1]
def timers(path):  # local port -> (timer name, retransmits)
    out = {}
    for line in open(w + path):
        m = re.search(r"timer:\((\w+),[^,]+,(\d+)\)", line)
        out[line.split()[3].rsplit(":", 1)[1]] = (m.group(1), int(m.group(2))) if m else None
    return out
before, mine, after = timers("/ss1.o"), timers("/p.o"), timers("/ss2.o")
assert set(mine) == set(before), (mine, before)
kinds = sorted(t[0] for t in mine.values() if t)
assert kinds == ["on", "persist"], mine
for port, t in mine.items():
    if t is None:
        assert before[port] is None, (port, before[port])
        continue
    b, a = before[port], after[port]
    assert t[0] == b[0] and b[1] <= t[1] <= a[1], (port, b, t, a)
    if t[0] == "on":
        assert t[1] >= 1, t  # The SYN was retransmitted.
# -i: every field ss shows is shown, except the congestion module's own block (bbr:(...)).
def details(path):
    rows, out = open(w + path).read().split("\n"), {}
    for head, detail in zip(rows[0::2], rows[1::2]):
        port = head.split()[3].rsplit(":", 1)[1]
        words = detail.split()
        keys = {re.split(r"[:(]", x)[0] for x in words if not re.match(r"^[0-9]", x)}
        out[port] = (words[0], keys - {words[0]})
    return out
ss, pa = details("/ss.i"), details("/p.i")
assert set(ss) == set(pa), (ss, pa)
for port in ss:
    assert ss[port][0] == pa[port][0], ("congestion control", ss[port][0], pa[port][0])
    missing = ss[port][1] - pa[port][1] - {ss[port][0]}
    assert not missing, (port, missing, open(w + "/p.i").read())
want = {"retrans", "unacked", "pacing_rate", "delivery_rate", "rwnd_limited", "notsent", "backoff"}
assert want <= set().union(*(k for _, k in pa.values())), pa
PY
}

check "-N: the namespace's sockets; unknown namespaces named" netns_listing
check "-s counts every socket, --json too" summary_counts_everything
check "-o timers (on, persist) and -i fields as ss" timers_and_info_as_ss
check "-K kills what the filter selects; needs root; not Unix" kill_sockets
finish
