# parley conns: what each view shows, for the defects of issue 15 -- names that are not UTF-8 or
# hold spaces or control bytes, -i's byte counts, v4-mapped peers, SO_REUSEPORT grouping, -x's
# type column, netstat's layout, --watch, -o, -m, -H, -O. Sockets are made on loopback ports
# the test owns, and every listing is filtered to them.
source "$(dirname "$0")/lib.sh"

# py NAME SCRIPT ARGS...: runs a Python socket holder in the background; it writes "ready" into
# $WORK/NAME.ready (with what it wants to tell, e.g. a port) and then sleeps (at most 120 s).
py() {
  local name=$1 script=$2
  shift 2
  python3 -c "$script" "$WORK/$name.ready" "$@" 2>"$WORK/$name.err" </dev/null &
  BG_PIDS+=($!)
  local i
  for i in $(seq 100); do [ -s "$WORK/$name.ready" ] && return 0; sleep 0.05; done
  fail "$name did not start: $(cat "$WORK/$name.err")"
}
ready() { cat "$WORK/$1.ready"; }

# Runs the parley binary under another name (the kernel's process name is the file's).
named_copy() {
  mkdir -p "$WORK/bin"
  cp "$PARLEY" "$WORK/bin/$1"
  printf '%s' "$WORK/bin/$1"
}

json_names_not_utf8() {
  local bin port
  bin=$(named_copy $'\xff\xfeparley')
  "$bin" listen -v 127.0.0.1 0 </dev/null >/dev/null 2>"$WORK/bad.err" &
  BG_PIDS+=($!)
  local lpid=$!
  wait_for_line "$WORK/bad.err" 'Listening on' || return 1
  port=$(port_from "$WORK/bad.err")
  py badpath 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[2].encode()+b"/bad-\xff\xfe.sock"); s.listen()
open(sys.argv[1],"w").write("ok"); time.sleep(120)' "$WORK" || return 1
  "$PARLEY" conns -x -l --json >"$WORK/ux.json" || { fail "-x --json failed"; return 1; }
  "$PARLEY" conns -p --json --port "$port" >"$WORK/px.json" || { fail "-p --json failed"; return 1; }
  python3 - "$WORK" "$lpid" <<'PY' || return 1
import json, sys
work, pid = sys.argv[1], int(sys.argv[2])
path = [json.loads(l) for l in open(work + "/ux.json", "rb")]
mine = [o for o in path if o.get("path_hex", "").endswith("2f6261642dfffe2e736f636b")]
assert len(mine) == 1, path
assert bytes.fromhex(mine[0]["path_hex"]) == work.encode() + b"/bad-\xff\xfe.sock"
assert mine[0]["path"].endswith("/bad-\ufffd\ufffd.sock"), mine[0]["path"]
procs = [p for l in open(work + "/px.json", "rb") for p in json.loads(l)["processes"]]
assert procs and all(p["pid"] == pid for p in procs), procs
assert procs[0]["name_hex"] == "fffe706172"+"6c6579" and procs[0]["name"] == "\ufffd\ufffdparley", procs
PY
}

names_with_spaces() {
  local bin port lpid
  bin=$(named_copy "my server")
  "$bin" listen -v 127.0.0.1 0 </dev/null >/dev/null 2>"$WORK/sp.err" &
  lpid=$!
  BG_PIDS+=($lpid)
  wait_for_line "$WORK/sp.err" 'Listening on' || return 1
  port=$(port_from "$WORK/sp.err")
  "$PARLEY" conns -p --port "$port" >"$WORK/sp.out" || return 1
  grep -Eq "^LISTEN .* my server pid=$lpid fd=[0-9]+$" "$WORK/sp.out" || fail "-p: $(cat "$WORK/sp.out")" || return 1
  "$PARLEY" conns -H --process 'my server' >"$WORK/spn.out" || return 1
  grep -q "127.0.0.1:$port" "$WORK/spn.out" || fail "--process 'my server': $(cat "$WORK/spn.out")" || return 1
  # /proc/net/unix: a path with spaces is the rest of the line.
  py spaced 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]+"/my app.sock"); s.listen()
open(sys.argv[1],"w").write("ok"); time.sleep(120)' "$WORK" || return 1
  "$PARLEY" conns --source proc -x -l >"$WORK/spx.out" || return 1  # --backend's old name
  grep -qF "$WORK/my app.sock" "$WORK/spx.out" || fail "/proc path: $(cat "$WORK/spx.out")"
}

# A client that sent 100 bytes has bytes_sent 100 (bytes_acked counts one more: the SYN).
info_bytes_sent() {
  py sent 'import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen()
c=socket.create_connection(l.getsockname()); a,_=l.accept()
c.sendall(b"x"*100); assert len(a.recv(1000)) == 100
open(sys.argv[1],"w").write("%d %d" % (l.getsockname()[1], c.getsockname()[1])); time.sleep(120)' || return 1
  local port cport
  read -r port cport < <(ready sent)
  sleep 0.3  # Let the ACK of the data arrive.
  # An ephemeral port may serve other connections too: select by both ends.
  local sel="sport = :$cport and dport = :$port"
  "$PARLEY" conns -i -H "$sel" >"$WORK/i.out" || return 1
  local detail
  detail=$(sed -n 2p "$WORK/i.out")
  [[ $detail == *" bytes_sent:100 "* && $detail == *" bytes_acked:101 "* ]] || fail "-i: $detail" || return 1
  local tok
  for tok in rto: rtt: mss: cwnd: lastsnd: lastrcv: lastack: rcv_space: minrtt: snd_wnd:; do
    [[ $detail == *" $tok"* ]] || { fail "no $tok in: $detail"; return 1; }
  done
  # The same values as ss shows for the socket.
  local ss_detail
  ss_detail=$(ss -Htin "$sel" | tail -1)
  for tok in mss cwnd bytes_sent bytes_acked segs_out data_segs_out; do
    assert_eq "$(grep -Eo " $tok:[0-9]+" <<<"$ss_detail")" "$(grep -Eo " $tok:[0-9]+" <<<"$detail")" "$tok as ss" || return 1
  done
  "$PARLEY" conns -i --json "$sel" >"$WORK/i.json" || return 1
  python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); t=o["tcp_info"]
assert t["bytes_sent"]==100 and t["bytes_acked"]==101 and t["congestion"], t' "$WORK/i.json"
}

# IPv4 clients of a dual-stack listener: IPv6 sockets, shown and counted as such (as ss does).
mapped_peers() {
  py dual 'import socket,sys,time
l=socket.socket(socket.AF_INET6); l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
l.bind(("::",0)); l.listen(); p=l.getsockname()[1]
c=socket.create_connection(("127.0.0.1",p)); a,_=l.accept()
open(sys.argv[1],"w").write("%d %d" % (p, c.getsockname()[1])); time.sleep(120)' || return 1
  local port cport
  read -r port cport < <(ready dual)
  "$PARLEY" conns --port "$port" >"$WORK/m.out" || return 1
  grep -Eq "^  ESTAB .* \[::ffff:127\.0\.0\.1\]:$port +\[::ffff:127\.0\.0\.1\]:$cport$" "$WORK/m.out" ||
    fail "table: $(cat "$WORK/m.out")" || return 1
  "$PARLEY" conns -H -4 --port "$port" >"$WORK/m4.out" || return 1
  assert_eq "ESTAB 127.0.0.1:$cport 127.0.0.1:$port" "$(awk '{print $1, $4, $5}' "$WORK/m4.out")" "-4" || return 1
  "$PARLEY" conns -H -6 --port "$port" >"$WORK/m6.out" || return 1
  assert_eq 2 "$(wc -l <"$WORK/m6.out")" "-6: the listener and the accepted socket" || return 1
  "$PARLEY" conns --json -6 --sport "$port" --state established >"$WORK/m.json" || return 1
  python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read())
assert o["family"]=="ipv6" and o["peer"]["address"]=="::ffff:127.0.0.1", o' "$WORK/m.json"
}

# Two SO_REUSEPORT listeners in two processes: each connection under the listener of the process
# that accepted it; an outgoing connection from the same port on its own; connections nobody
# accepted yet marked '?' (either listener may take them).
reuseport_groups() {
  local listener='import socket,sys,time
l=socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
l.bind(("127.0.0.1",int(sys.argv[2]))); l.listen(64); l.settimeout(0.2)
open(sys.argv[1],"w").write("ok"); held=[]; end=time.time()+120
while time.time()<end and sys.argv[3]=="accept":
    try: held.append(l.accept()[0])
    except OSError: pass
time.sleep(max(0,end-time.time()))'
  local port queued
  port=$(free_port)
  queued=$(free_port)
  py la "$listener" "$port" accept || return 1
  py lb "$listener" "$port" accept || return 1
  py qa "$listener" "$queued" never || return 1
  py qb "$listener" "$queued" never || return 1
  py clients 'import socket,sys,time
p,q=int(sys.argv[2]),int(sys.argv[3])
cs=[socket.create_connection(("127.0.0.1",p)) for _ in range(12)]
cs+=[socket.create_connection(("127.0.0.1",q)) for _ in range(4)]
o=socket.socket(); o.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
o.bind(("127.0.0.1",p)); o.connect(("127.0.0.1",q)); cs.append(o)
open(sys.argv[1],"w").write("ok"); time.sleep(120)' "$port" "$queued" || return 1
  sleep 0.5  # Let both listeners accept.
  local opt
  for opt in -p ""; do
    # shellcheck disable=SC2086
    "$PARLEY" conns $opt -e -a --port "$port" >"$WORK/g.out" || return 1
    python3 - "$WORK/g.out" "$port" "$queued" <<'PY' || return 1
import re, subprocess, sys
path, port, queued = sys.argv[1], sys.argv[2], sys.argv[3]
owner = {}  # inode -> pid, from ss -p
ss = subprocess.run(["ss", "-Htanpe"], capture_output=True, text=True, errors="replace")
for line in ss.stdout.splitlines():
    m, p = re.search(r"ino:(\d+)", line), re.search(r"pid=(\d+)", line)
    if m and p:
        owner[m.group(1)] = p.group(1)
listener, groups, top = None, 0, []
for line in open(path).read().splitlines()[1:]:
    f = line.split()
    if f[0] == "?":
        f = f[1:]
    inode = f[6]  # State Recv-Q Send-Q Local Peer Uid Inode [Process]
    if line.startswith("LISTEN"):
        listener = inode
        groups += 1
    elif line.startswith("  ESTAB") and f[3].endswith(":" + port):
        assert owner[inode] == owner[listener], "accepted by another process: " + line
    elif line.startswith("ESTAB") and f[3].endswith(":" + port):
        top.append(f[4])
assert groups == 2, open(path).read()
assert top == ["127.0.0.1:" + queued], "outgoing connection not on its own: %s" % top
PY
  done
  "$PARLEY" conns -H --port "$queued" --sport "$queued" >"$WORK/q.out" || return 1
  # 4 clients and the outgoing connection from the other port wait in the accept queues.
  assert_eq 5 "$(grep -c '^? ESTAB ' "$WORK/q.out")" "connections not accepted yet: $(cat "$WORK/q.out")" || return 1
  "$PARLEY" conns --json --sport "$queued" >"$WORK/q.json" || return 1
  python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o["listener"]: continue
    assert o["accepted_by"] is None and len(o["accepted_by_one_of"])==2, o; n+=1
assert n==5, n' "$WORK/q.json"
}

unix_type_column() {
  "$PARLEY" listen -U "$WORK/t.sock" </dev/null >/dev/null 2>&1 &
  BG_PIDS+=($!)
  local i
  for i in $(seq 50); do [ -S "$WORK/t.sock" ] && break; sleep 0.05; done
  "$PARLEY" conns -x -l >"$WORK/x.out" || return 1
  head -1 "$WORK/x.out" | grep -q '^Proto  State' || fail "header: $(head -1 "$WORK/x.out")" || return 1
  grep -Eq "^u_str +LISTEN .*$WORK/t.sock" "$WORK/x.out" || fail "$(cat "$WORK/x.out")"
}

# netstat shows a listener's Send-Q as 0 and IPv6 addresses without brackets.
netstat_layout() {
  py nsl 'import socket,sys,time
l=socket.socket(socket.AF_INET6); l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
l.bind(("::",0)); l.listen(77)
open(sys.argv[1],"w").write(str(l.getsockname()[1])); time.sleep(120)' || return 1
  local port
  port=$(ready nsl)
  "$PARLEY" conns --netstat --port "$port" >"$WORK/n.out" || return 1
  assert_eq "tcp6        0      0 :::$port                :::*                    LISTEN" \
    "$(sed -n 2p "$WORK/n.out" | sed 's/ *$//')" "netstat line"
}

# Control bytes never reach the terminal raw; columns are measured in display width.
escaped_and_aligned() {
  local bin port
  bin=$(named_copy $'evil\e[2J')
  "$bin" listen -v 127.0.0.1 0 </dev/null >/dev/null 2>"$WORK/ev.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/ev.err" 'Listening on' || return 1
  port=$(port_from "$WORK/ev.err")
  py paths 'import socket,sys,time
held=[]
for n in ("wü.sock", "wu.sock", "w\x1b[31m.sock"):
    s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]+"/"+n); s.listen(); held.append(s)
open(sys.argv[1],"w").write("ok"); time.sleep(120)' "$WORK" || return 1
  "$PARLEY" conns -x -l >"$WORK/e.out" || return 1
  "$PARLEY" conns -p --port "$port" >>"$WORK/e.out" || return 1
  ! grep -q $'\e' "$WORK/e.out" || fail "raw ESC in the output: $(cat -v "$WORK/e.out")" || return 1
  grep -qF 'evil\x1b[2J pid=' "$WORK/e.out" || fail "process name: $(cat "$WORK/e.out")" || return 1
  grep -qF "$WORK/w\\x1b[31m.sock" "$WORK/e.out" || fail "path: $(cat "$WORK/e.out")" || return 1
  python3 - "$WORK/e.out" "$WORK" <<'PY'
import sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
cols = {}
for l in lines:
    for name in ("/wü.sock", "/wu.sock"):
        if (sys.argv[2] + name) in l:
            cols[name] = l.rindex("*")  # Characters, each one column wide here.
assert len(cols) == 2 and cols["/wü.sock"] == cols["/wu.sock"], (cols, lines)
PY
}

watch_durations_and_json() {
  py w 'import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen()
open(sys.argv[1],"w").write(str(l.getsockname()[1])); time.sleep(120)' || return 1
  local port rc=0
  port=$(ready w)
  timeout 3 "$PARLEY" conns --watch 2s --port "$port" >"$WORK/w2.out" 2>"$WORK/w2.err" || rc=$?
  assert_eq 124 "$rc" "--watch 2s runs until stopped ($(cat "$WORK/w2.err"))" || return 1
  grep -q "127.0.0.1:$port" "$WORK/w2.out" || fail "$(cat "$WORK/w2.out")" || return 1
  timeout 2 "$PARLEY" conns --watch=500ms --json --port "$port" >"$WORK/wj.out"
  python3 - "$WORK/wj.out" "$port" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "" and len(lines) >= 3, lines
for l in lines[:-1]:
    snap = json.loads(l)  # No blank lines: each line is one snapshot.
    assert snap["time"].endswith("Z") and snap["sockets"][0]["local"]["port"] == int(sys.argv[2]), snap
PY
}

# On a terminal with fewer lines than sockets the header stays on top. (A tmux server of the
# test's own, never the user's.)
watch_keeps_header() {
  have tmux || { echo "    (tmux missing: skipped)"; return 0; }
  local tm=(tmux -L "parley-conns-$$")
  if ! "${tm[@]}" new-session -d -s probe "sleep 30" 2>"$WORK/tm.err"; then
    echo "    (tmux cannot start a server here: $(cat "$WORK/tm.err"); skipped)"
    return 0
  fi
  py many 'import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen(64)
cs=[socket.create_connection(l.getsockname()) for _ in range(30)]
open(sys.argv[1],"w").write(str(l.getsockname()[1])); time.sleep(120)' || return 1
  local port
  port=$(ready many)
  "${tm[@]}" new-session -d -s watch -x 100 -y 12 "'$PARLEY' conns --watch 500ms --port $port; sleep 5" || return 1
  sleep 1.5
  "${tm[@]}" capture-pane -p -t watch >"$WORK/tm.out"
  "${tm[@]}" kill-server 2>/dev/null
  head -1 "$WORK/tm.out" | grep -q '^ *State ' || fail "first line: $(cat "$WORK/tm.out")" || return 1
  grep -Eq '^\.\.\. and [0-9]+ more$' "$WORK/tm.out" || fail "no '... more' line: $(cat "$WORK/tm.out")"
}

flags_as_ss() {
  expect_exit 0 "" "$PARLEY" conns -rn --port 1 || return 1
  expect_exit 2 "parley: conns: --info excludes --netstat" "$PARLEY" conns --netstat -i || return 1
  expect_exit 2 "parley: conns: --memory excludes --netstat" "$PARLEY" conns --netstat -m
}

timers_memory_oneline() {
  py tm 'import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen(); p=l.getsockname()[1]
k=socket.create_connection(("127.0.0.1",p)); k.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
a,_=l.accept()
t=socket.create_connection(("127.0.0.1",p)); b,_=l.accept(); t.close(); time.sleep(0.05); b.close()
open(sys.argv[1],"w").write("%d %d" % (p, k.getsockname()[1])); time.sleep(120)' || return 1
  local port kport
  read -r port kport < <(ready tm)
  "$PARLEY" conns -a -o --dport "$port" >"$WORK/o.out" || return 1
  grep -Eq "^ESTAB .*127\.0\.0\.1:$kport .* timer:\(keepalive,[0-9.a-z]+,0\)$" "$WORK/o.out" ||
    fail "keepalive: $(cat "$WORK/o.out")" || return 1
  grep -Eq "^TIME-WAIT .* timer:\(timewait,[0-9.a-z]+,0\)$" "$WORK/o.out" || fail "timewait: $(cat "$WORK/o.out")" || return 1
  "$PARLEY" conns -m --port "$port" >"$WORK/mem.out" || return 1
  local rows
  rows=$(grep -vc $'^\t\|^State' "$WORK/mem.out")
  assert_eq "$rows" "$(grep -Ec $'^\tskmem:\\(r[0-9]+,rb[0-9]+,t[0-9]+,tb[0-9]+,f[0-9]+,w[0-9]+,o[0-9]+,bl[0-9]+,d[0-9]+\\)$' "$WORK/mem.out")" "skmem lines" || return 1
  "$PARLEY" conns -m -i -O -H --port "$port" >"$WORK/O.out" || return 1
  assert_eq "$rows" "$(wc -l <"$WORK/O.out")" "-O: one line per socket" || return 1
  grep -q 'skmem:(r0.* cwnd:' "$WORK/O.out" || fail "-O details: $(cat "$WORK/O.out")"
}

# A closed stdout (not a pipe: no descriptor 1 at all) ends quietly with exit 0, as ss does.
closed_stdout() {
  local args rc
  for args in "-tan" "--json" "-s" "--netstat" "-xa -p"; do
    rc=0
    # shellcheck disable=SC2086
    timeout 5 "$PARLEY" conns $args >&- 2>"$WORK/cs.err" || rc=$?
    assert_eq 0 "$rc" "conns $args >&-" || return 1
    assert_eq "" "$(cat "$WORK/cs.err")" "conns $args >&- said" || return 1
  done
}

check "--json: names that are not UTF-8 are escaped, with their bytes in _hex" json_names_not_utf8
check "process names and Unix paths with spaces" names_with_spaces
check "-i: bytes_sent is bytes sent; ss's fields" info_bytes_sent
check "v4-mapped peers are IPv6 sockets everywhere" mapped_peers
check "SO_REUSEPORT listeners: grouped by process, outgoing apart, unsure marked" reuseport_groups
check "-x has the socket type column" unix_type_column
check "--netstat: listener Send-Q 0, :::PORT" netstat_layout
check "control bytes escaped, columns in display width" escaped_and_aligned
check "--watch 2s, --watch --json" watch_durations_and_json
check "--watch on a small terminal keeps the header" watch_keeps_header
check "-rn works, --netstat -i is refused" flags_as_ss
check "-o timers, -m skmem, -O one line" timers_memory_oneline
check "closed stdout: quiet, exit 0" closed_stdout
finish
