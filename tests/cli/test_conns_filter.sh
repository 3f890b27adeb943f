# parley conns against ss on a socket table of our own: inside a network namespace this test
# makes, tests/cli/conns_table.py builds listeners, connections in several states, UDP and Unix
# sockets; then every filter expression of ss(8) (and more) must select the same sockets in
# `parley conns -N NS` as in `ss -N NS`. Rows are compared as (local, peer) pairs for TCP and
# UDP, and by inode for Unix sockets.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have ss; then
  echo "skipped: needs root, ip and ss"
  exit 77
fi
NS="parley-conns-$$"
ip netns add "$NS" || { echo "skipped: cannot make a network namespace"; exit 77; }
cleanup_ns() { cleanup; ip netns del "$NS" 2>/dev/null; }
trap cleanup_ns EXIT
ip -n "$NS" link set lo up
ip -n "$NS" addr add 10.1.2.3/8 dev lo
ip -n "$NS" addr add 193.233.7.1/24 dev lo
ip -n "$NS" addr add 193.233.7.9/32 dev lo
ip netns exec "$NS" python3 "$(dirname "$0")/conns_table.py" "$WORK" 2>"$WORK/table.err" &
BG_PIDS+=($!)
for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
[ -e "$WORK/ready" ] || { echo "FAIL setup: $(cat "$WORK/table.err")"; exit 1; }

# rows FILE: "local peer" per socket (TCP/UDP), ss's forms written as parley writes them; or
# the inode (Unix: ss's local port column, parley's -e Inode column).
rows() {
  python3 - "$1" "$2" <<'PY'
import re, sys
tool, path = sys.argv[1], sys.argv[2]
out = []
for line in open(path):
    f = line.split()
    if not f:
        continue
    if tool in ("unix", "ss-unix"):
        out.append(f[-1] if tool == "unix" else f[-3])  # parley -e: Inode last; ss: local port
        continue
    local, peer = f[-2], f[-1]
    def norm(a):
        a = re.sub(r"%[^:\]]+", "", a)  # ss shows the bound device: 127.0.0.1%lo:22
        if a in ("*:*", "0.0.0.0:*", "[::]:*"):
            return "*"
        if a.startswith("*:"):
            return "[::]:" + a[2:]  # ss: a dual-stack [::] listener
        return a
    out.append(norm(local) + " " + norm(peer))
print("\n".join(sorted(out)))
PY
}

# same_rows ARGS...: ss and parley list the same sockets for these options and filter.
same_rows() {
  local ss_rc=0 p_rc=0 kind=inet extra=() a
  for a in "$@"; do [[ $a == -* && $a == *x* ]] && kind=unix extra=(-e); done
  ss -N "$NS" -H "$@" >"$WORK/ss.out" 2>"$WORK/ss.err" || ss_rc=$?
  "$PARLEY" conns -N "$NS" -H "${extra[@]}" "$@" >"$WORK/p.out" 2>"$WORK/p.err" || p_rc=$?
  [ "$ss_rc" -eq 0 ] || { fail "ss failed ($ss_rc): $(cat "$WORK/ss.err")"; return 1; }
  [ "$p_rc" -eq 0 ] || { fail "parley exit $p_rc: $(cat "$WORK/p.err")"; return 1; }
  if [ "$kind" = unix ]; then
    assert_eq "$(rows ss-unix "$WORK/ss.out")" "$(rows unix "$WORK/p.out")" "inodes of $*" || return 1
  else
    assert_eq "$(rows ss "$WORK/ss.out")" "$(rows parley "$WORK/p.out")" "rows of $*" || return 1
  fi
  # A comparison of two empty sets proves little: most expressions here select something.
  [ -n "$ALLOW_EMPTY" ] || [ -s "$WORK/ss.out" ] || fail "ss selected nothing for $*"
}

X11="$WORK/.X11-unix"
mapfile -t CASES <<EOF
-tan
-tln
-tan state established '( dport = :ssh or sport = :ssh )'
-tan state established '(' dport = :ssh or sport = :ssh ')'
-tan '( sport = :http or sport = :https )' dst 193.233.7/24
EMPTY -tan state fin-wait-1 '( sport = :http or sport = :https )' dst 193.233.7/24
-tan dst 10.0.0.0/8
-tan src 10.1.2.3:5000
-tan src [::1]
-tan dst [::1]:8080
-tan 'src [::1]:443'
-tan 'sport > :1024'
-tan 'sport >= :80 and sport <= :443'
-tan 'dport gt :1024 and dport lt :9000'
-tan 'dport = :http'
-tan 'dport == 80' or 'sport eq 0x16'
-tan 'dport != :http'
-tan 'not dst 127.0.0.1'
-tan 'dst 127.0.0.1'
-tan 'dst 127.0.0.0/8 and sport = :https'
-tan '! ( sport = :ssh )'
-tan 'sport = :ssh or sport = :http and dport > :1024'
-tan 'sport = :ssh || sport = :http && dport > :1024'
-tan 'src 127.0.0.1 or src [::1]'
-tan 'src *:8080'
-tan 'src 127.0.0.1:22'
-tan 'dst [::ffff:127.0.0.1]'
-tan autobound
-tan 'not autobound'
-tan 'fwmark = 0x10'
-tan 'fwmark = 0x10/0xf0'
-tan 'fwmark != 0x10'
-tan 'dev = lo'
-tan dst localhost
EMPTY -tan 'dev != lo' and sport = :7001
-tan state connected
-tan state synchronized
-tan state bucket
-tan state big
-tan state listening
-tan state time-wait
-tan state close-wait
-tan state fin-wait-2
EMPTY -tan state syn-recv
-tan exclude established
-tan state established state close-wait
-tan state connected exclude established
-4 -tan
-6 -tan
EMPTY -4 -tan 'sport = :https'
-4 -tan 'dport = :https'
-tan 'src inet:127.0.0.1'
-tan 'src inet6:*:443'
-uan
-uan 'sport = :domain'
-uan dst 127.0.0.1
-uan 'src [::]:5353'
-tuan 'sport = :53 or sport = :22'
-xan
-xan src "$X11/*"
-xan 'src unix:$WORK/*'
-xan 'src unix:$WORK/run/*'
-xan state listening
-xln
-xan src '@parley-test-*'
EOF
for line in "${CASES[@]}"; do
  eval "args=($line)"
  ALLOW_EMPTY=
  [ "${args[0]}" = EMPTY ] && { ALLOW_EMPTY=1; args=("${args[@]:1}"); }
  check "$line" same_rows "${args[@]}"
done

# cgroup PATH: ss takes a path on the cgroup2 file system. ss -N cannot see that file system (it
# remounts /sys for the namespace), so this one runs on the host, on a listener of ours.
cgroup_filter() {
  local mnt cg port
  mnt=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
  cg=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
  [ -n "$mnt" ] && [ -n "$cg" ] || { echo "    (no cgroup2: skipped)"; return 0; }
  python3 -c 'import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen(); c=socket.create_connection(l.getsockname())
open(sys.argv[1],"w").write(str(l.getsockname()[1])); time.sleep(60)' "$WORK/cg.port" &
  BG_PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/cg.port" ] && break; sleep 0.05; done
  port=$(cat "$WORK/cg.port")
  local expr="cgroup $mnt$cg and ( sport = :$port or dport = :$port )"
  ss -Htan "$expr" >"$WORK/ss.out" || return 1
  "$PARLEY" conns -Htan "$expr" >"$WORK/p.out" || return 1
  [ -s "$WORK/ss.out" ] || fail "ss selected nothing" || return 1
  assert_eq "$(rows ss "$WORK/ss.out")" "$(rows parley "$WORK/p.out")" "rows of $expr" || return 1
  "$PARLEY" conns -Htan "cgroup / and sport = :$port" >"$WORK/root.out" || return 1
  [ "$cg" != / ] || [ -s "$WORK/root.out" ] || fail "'cgroup /' (the root) selected nothing"
}
check "cgroup PATH" cgroup_filter

# parley's default view is ss's (connected, not TIME-WAIT or SYN-RECV) plus the listeners.
default_view() {
  { ss -N "$NS" -Htn; ss -N "$NS" -Htn state listening; } >"$WORK/ss.out"
  "$PARLEY" conns -N "$NS" -Htn >"$WORK/p.out" || return 1
  assert_eq "$(rows ss "$WORK/ss.out")" "$(rows parley "$WORK/p.out")" "rows of -tn"
}
check "default view: ss's plus listeners" default_view

# Errors: ss and parley both refuse what is not a filter.
bad_filter() {
  expect_exit 2 "parley: conns: filter: '(dport': put spaces around parentheses, e.g. '( dport = :22 )'" \
    "$PARLEY" conns -N "$NS" '(dport = :22 )' || return 1
  expect_exit 2 "parley: conns: filter: 'nosuch' is neither a port number nor a service" \
    "$PARLEY" conns -N "$NS" sport = :nosuch || return 1
  expect_exit 2 "parley: conns: filter: '(' without a matching ')'" \
    "$PARLEY" conns -N "$NS" '( sport = :22' || return 1
  # Nesting that overflowed the stack (a segfault); ss says "memory exhausted".
  expect_exit 2 "parley: conns: filter: the filter nests '(' and 'not' more than 100 deep" \
    "$PARLEY" conns -N "$NS" $(printf 'not %.0s' {1..30000}) sport = :22 || return 1
  # -6 and an IPv4 address: ss refuses too.
  ! ss -N "$NS" -6 -tan dst 127.0.0.1 >/dev/null 2>&1 || fail "ss accepted it" || return 1
  expect_exit 2 "parley: conns: filter: '127.0.0.1': 127.0.0.1 is an IPv4 address, but the filter is for IPv6 (-4, -6 or a FAMILY: prefix)" \
    "$PARLEY" conns -N "$NS" -6 -tan dst 127.0.0.1
}
check "filter mistakes: one line, exit 2" bad_filter

# The kernel evaluates what it can: a filter that rules out IPv4 does not ask for the IPv4 table.
kernel_filters() {
  have strace || { echo "    (strace missing: skipped)"; return 0; }
  # (LeakSanitizer cannot work under ptrace.)
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -e trace=sendto -s 200 -o "$WORK/st" \
    "$PARLEY" conns -N "$NS" dst '[::1]' >/dev/null || return 1
  assert_eq 1 "$(grep -c 'NETLINK_SOCK_DIAG\|sendto(' "$WORK/st")" "one dump (IPv6 only)" || return 1
  # ...and the request carries bytecode: longer than a bare inet_diag_req_v2 (16 + 56 bytes).
  local len
  len=$(grep -o 'nlmsg_len=[0-9]*' "$WORK/st" | head -1 | cut -d= -f2)
  [ "${len:-0}" -gt 72 ] || fail "request of ${len:-?} bytes: $(cat "$WORK/st")"
}
check "a filter that rules out IPv4 asks for IPv6 only" kernel_filters
finish
