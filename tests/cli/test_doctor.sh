# parley doctor on real small networks (network namespaces, veth pairs, nftables):
#
#   out (203.0.113.10) --wan-- rtr (203.0.113.1 | br0 192.168.77.1, NAT, port forward 8080)
#                                      |-- srv (192.168.77.2, 2001:db8:77::2): the server
#                                      |-- lan (192.168.77.3, 2001:db8:77::3): a PC on its LAN
#
# srv runs echo servers behind an nftables input chain: 7001 open, 7002 nothing listens, 7003
# drop, 7004 reject (icmp port-unreachable), 7005 reject admin-prohibited, 7006 reject with tcp
# reset, 7007 bound to 127.0.0.1, 7008 an iptables-nft REJECT. rtr forwards its port 8080 to
# srv:7001 and drops every other new connection from the wan side. No packet leaves the
# namespaces; every one is removed at exit, also after a failure.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! have ip || ! have nft || ! have unshare; then
  echo "skipped: needs root, ip, nft (nftables) and unshare"
  exit 77
fi
S=$$
OUT=pd-out-$S RTR=pd-rtr-$S SRV=pd-srv-$S LAN=pd-lan-$S
cleanup_ns() {
  local n
  cleanup
  for n in $OUT $RTR $SRV $LAN; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup_ns EXIT
for n in $OUT $RTR $SRV $LAN; do
  ip netns add "$n" 2>/dev/null || { echo "skipped: cannot create network namespaces"; exit 77; }
  ip -n "$n" link set lo up
done
inns() { local n=$1; shift; ip netns exec "$n" "$@"; }

build_network() {
  ip -n $RTR link add wan type veth peer name wan0 netns $OUT &&
    ip -n $RTR link add br0 type bridge forward_delay 0 &&
    ip -n $RTR link add p-srv type veth peer name eth0 netns $SRV &&
    ip -n $RTR link add p-lan type veth peer name eth0 netns $LAN || return 1
  ip -n $RTR link set p-srv master br0 && ip -n $RTR link set p-lan master br0
  for l in wan br0 p-srv p-lan; do ip -n $RTR link set $l up; done
  ip -n $RTR addr add 203.0.113.1/24 dev wan
  ip -n $RTR addr add 192.168.77.1/24 dev br0
  ip -n $RTR addr add 2001:db8:77::1/64 dev br0 nodad
  inns $RTR sysctl -qw net.ipv4.ip_forward=1
  ip -n $OUT link set wan0 up
  ip -n $OUT addr add 203.0.113.10/24 dev wan0
  ip -n $OUT route add default via 203.0.113.1
  local n a
  for n in $SRV $LAN; do
    a=$([ $n = $SRV ] && echo 2 || echo 3)
    ip -n $n link set eth0 up
    ip -n $n addr add 192.168.77.$a/24 dev eth0
    ip -n $n addr add 2001:db8:77::$a/64 dev eth0 nodad
  done
  ip -n $SRV route add default via 192.168.77.1
  ip -n $SRV -6 route add default via 2001:db8:77::1
  # An address nobody has fails after one 200 ms neighbour probe instead of three 1 s ones.
  inns $LAN sysctl -qw net.ipv4.neigh.eth0.mcast_solicit=1 net.ipv4.neigh.eth0.retrans_time_ms=200
}

srv_firewall() {
  inns $SRV nft -f - <<'NFT'
table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "lo" accept
    ct state established,related accept
    tcp dport 7003 drop
    tcp dport 7004 reject
    tcp dport 7005 reject with icmpx type admin-prohibited
    tcp dport 7006 reject with tcp reset
    ip saddr 10.0.0.0/8 tcp dport 7001 drop
  }
}
NFT
}

rtr_nat() {
  inns $RTR nft -f - <<'NFT'
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" tcp dport 8080 dnat to 192.168.77.2:7001
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state established,related accept
    ct status dnat accept
    iifname "wan" drop
  }
}
NFT
}

build_network || { echo "skipped: cannot build the veth network"; exit 77; }
srv_firewall || { fail "nft on the server"; exit 1; }
rtr_nat || { fail "nft on the router"; exit 1; }

# Servers on srv: echo on every address of 7001, 7003..7006, loopback only on 7007, UDP on 7010.
start_srv_echo() {
  local name=$1
  shift
  inns $SRV "$PARLEY" echo -q --threads 1 "$@" >/dev/null 2>"$WORK/$name.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/$name.err" 'Listening on'
}
for p in 7001 7003 7004 7005 7006; do start_srv_echo "e$p" -p $p || exit 1; done
start_srv_echo e7007 --bind 127.0.0.1 -p 7007 || exit 1
start_srv_echo e7010 -u -p 7010 || exit 1
if have iptables; then
  inns $SRV iptables -A INPUT -p tcp --dport 7008 -j REJECT && start_srv_echo e7008 -p 7008 || exit 1
fi

# doctor_in NS ARGS...: runs parley doctor in NS; stdout in $WORK/d.out, exit status in RC.
doctor_in() {
  local ns=$1
  shift
  RC=0
  inns "$ns" timeout 20 "$PARLEY" doctor "$@" >"$WORK/d.out" 2>"$WORK/d.err" || RC=$?
}
# has LINE...: every LINE is a whole line of the last doctor output.
has() {
  local line
  for line in "$@"; do
    grep -qxF -- "$line" "$WORK/d.out" || { fail "no line [$line] in: $(cat "$WORK/d.out" "$WORK/d.err")"; return 1; }
  done
}
has_re() { grep -qE -- "$1" "$WORK/d.out" || fail "no line matching [$1] in: $(cat "$WORK/d.out")"; }
PRIVATE_NOTE="note: 192.168.77.2 is a private address: it works only inside its own network (the same LAN, or over a VPN). From the internet, clients connect to the router's public address instead, and the router must forward port %s to the server."
on_server_next() {
  echo "  next:   on the server, run 'parley doctor --listen $1': it shows who listens on which address, and the firewall rule for the port"
}
refused_reason() {
  echo "  reason: the host answered with a TCP reset: nothing listens on port $1 there (wrong port, or the server listens on 127.0.0.1 only), or a firewall rejects with tcp reset"
}

lan_open() {
  doctor_in $LAN 192.168.77.2 7001
  assert_eq 0 "$RC" "exit status" || return 1
  has "parley doctor: 192.168.77.2 port 7001/tcp" \
    "resolver: none needed (192.168.77.2 is an address)" \
    "  route:  dev eth0, on this network, source 192.168.77.3" \
    "  reason: the server accepted the connection (TCP handshake completed)" \
    "$(printf "$PRIVATE_NOTE" 7001)" "verdict: open" &&
    has_re '^192\.168\.77\.2:7001: open in [0-9]+\.[0-9]{2} ms$'
}

lan_open_json() {
  doctor_in $LAN --json 192.168.77.2 7001
  assert_eq 0 "$RC" "exit status" || return 1
  python3 - "$WORK/d.out" <<'PY' || fail "$(cat "$WORK/d.out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["verdict"] == "open" and j["target"] == "192.168.77.2" and j["resolver"] == "literal", j
a, = j["addresses"]
assert a["address"] == "192.168.77.2" and a["verdict"] == "open" and a["scope"] == "private", a
assert 0 < a["rtt_us"] < 1000000 and a["icmp"] is None, a
assert a["reason"] == "the server accepted the connection (TCP handshake completed)", a
assert a["route"] == {"type": "unicast", "interface": "eth0", "gateway": None, "source": "192.168.77.3"}, a
assert j["notes"][0].startswith("192.168.77.2 is a private address"), j
PY
}

lan_nothing_listens() {
  doctor_in $LAN 192.168.77.2 7002
  assert_eq 1 "$RC" "exit status" || return 1
  has "$(refused_reason 7002)" "$(on_server_next 7002)" "verdict: refused" &&
    has_re '^192\.168\.77\.2:7002: refused in [0-9.]+ ms$'
}

lan_drop() {
  local start=$SECONDS
  doctor_in $LAN -w 1s 192.168.77.2 7003
  assert_eq 1 "$RC" "exit status" || return 1
  has "192.168.77.2:7003: filtered" \
    "  reason: no answer within 1 s: a firewall drops the packets silently, or the host is switched off" \
    "  next:   open port 7003/tcp in the server's firewall (on Linux, 'parley doctor --listen 7003' there names the rule; on Windows, allow the port in Windows Defender Firewall); behind a router, the router must forward the port" \
    "verdict: filtered" || return 1
  [ $((SECONDS - start)) -le 3 ] || fail "took $((SECONDS - start)) s"
}

# nft's "reject" answers IPv4 with ICMP port-unreachable and IPv6 with ICMPv6 port-unreachable:
# without IP_RECVERR both would look like the server's own TCP reset (ECONNREFUSED).
lan_reject_port_unreachable() {
  local a
  for a in 192.168.77.2 2001:db8:77::2; do
    doctor_in $LAN $a 7004
    assert_eq 1 "$RC" "exit status ($a)" || return 1
    local icmp="ICMP"
    [ $a = 2001:db8:77::2 ] && icmp="ICMPv6"
    has "  reason: the firewall of $a answered with $icmp port-unreachable: it blocks port 7004/tcp" \
      "  next:   open port 7004/tcp in that machine's firewall: on Linux, 'parley doctor --listen 7004' there names the rule; on Windows, allow the port in Windows Defender Firewall" \
      "verdict: rejected" || return 1
  done
}

# A name with both families, from a private /etc/hosts: one verdict per address.
printf '127.0.0.1 localhost\n2001:db8:77::2 srv.test\n192.168.77.2 srv.test\n' >"$WORK/hosts"
printf 'nameserver 127.0.0.1\n' >"$WORK/resolv.conf"
with_files() {
  inns $LAN unshare -m sh -c 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' \
    "$WORK/hosts" "$WORK/resolv.conf" "$@"
}
lan_reject_admin_by_name() {
  RC=0
  with_files timeout 20 "$PARLEY" doctor --json srv.test 7005 >"$WORK/d.out" || RC=$?
  assert_eq 1 "$RC" "exit status" || return 1
  python3 - "$WORK/d.out" <<'PY' || fail "$(cat "$WORK/d.out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["verdict"] == "rejected" and j["resolver"] == "hosts", j
got = {a["address"]: a for a in j["addresses"]}
assert set(got) == {"2001:db8:77::2", "192.168.77.2"}, got
for addr, icmp in (("192.168.77.2", "ICMP"), ("2001:db8:77::2", "ICMPv6")):
    a = got[addr]
    assert a["verdict"] == "rejected" and a["icmp"] == {"type": "admin-prohibited", "from": addr}, a
    assert a["reason"] == "the firewall of %s answered with %s admin-prohibited: it blocks port 7005/tcp" % (addr, icmp), a
PY
}

lan_reject_tcp_reset() {
  doctor_in $LAN 192.168.77.2 7006
  assert_eq 1 "$RC" "exit status" || return 1
  has "$(refused_reason 7006)" "verdict: refused"
}

lan_loopback_server() {
  grep -qxF "parley: Warning: loopback only: other machines cannot connect (leave out --bind to listen on every address)" \
    "$WORK/e7007.err" || fail "no warning: $(cat "$WORK/e7007.err")" || return 1
  doctor_in $LAN 192.168.77.2 7007
  assert_eq 1 "$RC" "exit status" || return 1
  has "$(refused_reason 7007)" "$(on_server_next 7007)"
}

lan_host_unreachable() {
  doctor_in $LAN 192.168.77.99 7001
  assert_eq 1 "$RC" "exit status" || return 1
  has "  reason: nobody answered for 192.168.77.99 on the local network (no reply to ARP or neighbour discovery): the host is off, or the address is wrong" \
    "  next:   check that the server is switched on and its address: 'ip -br addr' on Linux, 'ipconfig' on Windows" \
    "verdict: host-unreachable"
}

# The LAN PC has no default route.
lan_no_route() {
  doctor_in $LAN 198.51.100.7 80
  assert_eq 1 "$RC" "exit status" || return 1
  has "  route:  none: Network is unreachable" \
    "  reason: this machine has no route to 198.51.100.7 (no default gateway, or no network for that address)" \
    "  next:   check this machine's connection: 'ip route' should show a default route via your router" \
    "verdict: no-route" && has_re '^198\.51\.100\.7:80: no-route in [0-9.]+ ms$'
}

# resolv.conf names 127.0.0.1, where nothing answers DNS inside the namespace.
lan_dns_failure() {
  RC=0
  with_files timeout 20 "$PARLEY" doctor nosuch.test 7001 >"$WORK/d.out" || RC=$?
  assert_eq 1 "$RC" "exit status" || return 1
  has "resolver: DNS (127.0.0.1 from /etc/resolv.conf)" \
    "reason: no name server answered for nosuch.test (asked /etc/hosts, then DNS (127.0.0.1 from /etc/resolv.conf))" \
    "next: check this machine's network and its DNS servers (/etc/resolv.conf), or use the server's IP address ('ip -br addr' on the server, 'ipconfig' on Windows)" \
    "verdict: dns-failure"
}

lan_udp() {
  doctor_in $LAN -u 192.168.77.2 7010
  assert_eq 0 "$RC" "exit status (open)" || return 1
  has "  reason: the server answered the datagram" "verdict: open" || return 1
  doctor_in $LAN -u 192.168.77.2 7011
  assert_eq 1 "$RC" "exit status (closed)" || return 1
  has "  reason: 192.168.77.2 answered with ICMP port-unreachable: nothing listens on UDP port 7011 there (or a firewall rejects the datagram)" \
    "  next:   on the server, run 'parley doctor -u --listen 7011': it shows who listens on which address, and the firewall rule for the port" \
    "verdict: refused"
}

# From the internet side: only the router's forwarded port reaches the server.
out_port_forward() {
  doctor_in $OUT 203.0.113.1 8080
  assert_eq 0 "$RC" "exit status" || return 1
  has "  route:  dev wan0, on this network, source 203.0.113.10" "verdict: open" \
    "note: 203.0.113.1 is a documentation address (RFC 5737, RFC 3849): it stands for a public address in examples and tests."
}
out_private_address() {
  doctor_in $OUT -w 1s 192.168.77.2 7001
  assert_eq 1 "$RC" "exit status" || return 1
  has "192.168.77.2:7001: filtered" "  route:  dev wan0 via 203.0.113.1, source 203.0.113.10" \
    "  next:   192.168.77.2 is a private address of another network: from here, connect to the public address of that network's router instead, which must forward port 7001 to 192.168.77.2" \
    "$(printf "$PRIVATE_NOTE" 7001)"
}
out_not_forwarded() {
  doctor_in $OUT 203.0.113.1 8081
  assert_eq 1 "$RC" "exit status" || return 1
  has "$(refused_reason 8081)" "verdict: refused"
}
out_cgnat() {
  doctor_in $OUT 100.64.0.1 7001
  assert_eq 1 "$RC" "exit status" || return 1
  has "  reason: the router 203.0.113.1 answered with ICMP net-unreachable: it has no route to 100.64.0.1" \
    "note: 100.64.0.1 is in 100.64.0.0/10, the provider's shared address space (carrier-grade NAT): no port forward on a home router can make it reachable from the internet; ask the provider for a public IPv4 address, or use IPv6." \
    "verdict: no-route"
}

FORWARD_STEP="  - From the internet: 192.168.77.2 is a private address, so the router (192.168.77.1) needs a port forward: TCP port %s on its public address to 192.168.77.2:%s. Clients then connect to the router's public address. If the router's own internet address is in 100.64.0.0/10 (CGNAT), no forward can help: ask the provider for a public IPv4 address, or use IPv6."
WINDOWS_STEP="  - If the server is a Windows PC, allow the port in Windows Defender Firewall (PowerShell as administrator): New-NetFirewallRule -DisplayName \"parley %s\" -Direction Inbound -Protocol TCP -LocalPort %s -Action Allow"
handle_of() { inns $SRV nft -a list chain inet filter input | grep -F "$1 # handle" | grep -Eo '[0-9]+$'; }

srv_open() {
  doctor_in $SRV --listen 7001
  assert_eq 0 "$RC" "exit status" || return 1
  has "parley doctor: port 7001/tcp on this machine" "loopback only: no" \
    "  eth0 192.168.77.2 (private)" "  eth0 2001:db8:77::2 (documentation)" "  lo 127.0.0.1 (loopback)" \
    "router: 192.168.77.1 (dev eth0)" \
    "firewall: allowed (no rule matches port 7001/tcp; policy accept of inet filter input)" \
    "  for some senders only: 'ip saddr 10.0.0.0/8 tcp dport 7001 drop' (inet filter input)" \
    "  - Clients on the same network connect to 192.168.77.2 or 2001:db8:77::2 port 7001." \
    "$(printf "$FORWARD_STEP" 7001 7001)" "$(printf "$WINDOWS_STEP" 7001 7001)" &&
    has_re "^listening: 0\.0\.0\.0:7001 \(parley, pid [0-9]+\)$" &&
    has_re "^listening: \[::\]:7001 \(parley, pid [0-9]+\)$"
}

srv_nothing_listens() {
  doctor_in $SRV --listen 7002
  assert_eq 1 "$RC" "exit status" || return 1
  has "listening: nobody" \
    "  - Nothing listens on port 7002/tcp: start the server (for example 'parley echo 7002'), or check the port number."
}

srv_drop() {
  doctor_in $SRV --listen 7003
  assert_eq 1 "$RC" "exit status" || return 1
  has "firewall: dropped by 'tcp dport 7003 drop' (inet filter input)" \
    "  - The firewall blocks port 7003/tcp. Open it: sudo nft insert rule inet filter input position $(handle_of 'tcp dport 7003 drop') tcp dport 7003 accept" \
    "$(printf "$WINDOWS_STEP" 7003 7003)"
}

srv_rejects() {
  doctor_in $SRV --listen 7004
  has "firewall: rejected by 'tcp dport 7004 reject' (inet filter input), answering with icmpx port-unreachable" || return 1
  doctor_in $SRV --listen 7005
  has "firewall: rejected by 'tcp dport 7005 reject with icmpx admin-prohibited' (inet filter input)" || return 1
  # The client only saw a reset (refused); the server side names the firewall rule behind it.
  doctor_in $SRV --listen 7006
  assert_eq 1 "$RC" "exit status" || return 1
  has "firewall: rejected by 'tcp dport 7006 reject with tcp reset' (inet filter input)" \
    "  - The firewall blocks port 7006/tcp. Open it: sudo nft insert rule inet filter input position $(handle_of 'tcp dport 7006 reject with tcp reset') tcp dport 7006 accept"
}

srv_loopback_only() {
  doctor_in $SRV --listen 7007
  assert_eq 1 "$RC" "exit status" || return 1
  has "loopback only: yes (other machines cannot connect)" \
    "  - The server listens on loopback only: other machines cannot connect. Start it on all addresses: 'parley echo 7007' or 'parley listen 7007' without an address; in Python, bind to ('', 7007) or ('0.0.0.0', 7007), not ('127.0.0.1', 7007)." &&
    has_re "^listening: 127\.0\.0\.1:7007 \(parley, pid [0-9]+\)$"
}

srv_iptables_nft() {
  have iptables || { echo "    (iptables not installed: skipped)"; return 0; }
  doctor_in $SRV --listen 7008
  assert_eq 1 "$RC" "exit status" || return 1
  has "firewall (IPv4): rejected by 'tcp dport 7008 counter reject' (ip filter INPUT), answering with icmp port-unreachable" \
    "firewall (IPv6): allowed (no rule matches port 7008/tcp; policy accept of inet filter input)" \
    "  - The firewall blocks port 7008/tcp. Open it: sudo iptables -I INPUT -p tcp --dport 7008 -j ACCEPT"
}

srv_json() {
  doctor_in $SRV --json --listen 7003
  assert_eq 1 "$RC" "exit status" || return 1
  python3 - "$WORK/d.out" <<'PY' || fail "$(cat "$WORK/d.out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["port"] == 7003 and j["protocol"] == "tcp" and j["listening"] and not j["loopback_only"], j
assert j["firewall"] == "dropped" and j["firewall_rule"] == "tcp dport 7003 drop", j
assert j["firewall_ipv6"] == "dropped" and j["firewall_rule_ipv6"] == "tcp dport 7003 drop", j
assert j["router"] == "192.168.77.1", j
assert {"interface": "eth0", "address": "192.168.77.2", "scope": "private"} in j["addresses"], j
assert sorted(l["address"] for l in j["listeners"]) == ["0.0.0.0:7003", "[::]:7003"], j
assert all(p["name"] == "parley" for l in j["listeners"] for p in l["processes"]), j
assert j["next_steps"][0].startswith("The firewall blocks port 7003/tcp. Open it: sudo nft insert rule"), j
PY
}

srv_not_root() {
  have setpriv || { echo "    (setpriv not installed: skipped)"; return 0; }
  RC=0
  inns $SRV setpriv --reuid=65534 --regid=65534 --clear-groups "$PARLEY" doctor --listen 7001 >"$WORK/d.out" 2>"$WORK/d.err" || RC=$?
  assert_eq 1 "$RC" "exit status" || return 1
  has "firewall: unknown: cannot read the nftables ruleset: Operation not permitted (reading it needs root)" \
    "  - Run as root to read the firewall: sudo parley doctor --listen 7001" || return 1
  [ ! -s "$WORK/d.err" ] || fail "stderr: $(cat "$WORK/d.err")"
}

check "LAN: open port" lan_open
check "LAN: open port, --json" lan_open_json
check "LAN: nothing listens: refused" lan_nothing_listens
check "LAN: DROP rule: filtered" lan_drop
check "LAN: REJECT (port-unreachable), IPv4 and IPv6: rejected" lan_reject_port_unreachable
check "LAN: REJECT admin-prohibited, by name, both families (--json)" lan_reject_admin_by_name
check "LAN: REJECT with tcp reset: refused" lan_reject_tcp_reset
check "LAN: server bound to 127.0.0.1: refused (and echo warned)" lan_loopback_server
check "LAN: nobody at the address: host-unreachable" lan_host_unreachable
check "LAN: no default route: no-route" lan_no_route
check "LAN: name server silent: dns-failure" lan_dns_failure
check "LAN: UDP open and closed" lan_udp
check "internet: the router's port forward reaches the server" out_port_forward
check "internet: the server's private address: filtered, connect to the router" out_private_address
check "internet: port not forwarded: refused by the router" out_not_forwarded
check "internet: CGNAT address: no-route from the router, CGNAT note" out_cgnat
# --quiet: the verdict line only; -v: scope and ICMP sender, and the rule that decided (issue 19).
quiet_and_verbose() {
  doctor_in $LAN --quiet 192.168.77.2 7001
  assert_eq "0 verdict: open" "$RC $(cat "$WORK/d.out")" "client, open" || return 1
  doctor_in $LAN --quiet 192.168.77.2 7004
  assert_eq "1 verdict: rejected" "$RC $(cat "$WORK/d.out")" "client, rejected" || return 1
  doctor_in $LAN -v 192.168.77.2 7004
  has "  scope:  private" "  icmp:   port-unreachable from 192.168.77.2" || return 1
  doctor_in $SRV --quiet --listen 7001
  assert_eq "0 verdict: reachable" "$RC $(cat "$WORK/d.out")" "server, open" || return 1
  doctor_in $SRV --quiet --listen 7003
  assert_eq "1 verdict: not reachable" "$RC $(cat "$WORK/d.out")" "server, dropped" || return 1
  doctor_in $SRV -v --listen 7003
  has "  IPv4 decided by: 'tcp dport 7003 drop' (inet filter input)" || return 1
  has_re '^  chains on the input path: [1-9][0-9]*' || return 1
  expect_exit 2 "parley: doctor: --json excludes --quiet" "$PARLEY" doctor --quiet --json 127.0.0.1 1
}

check "server: open port, rule for some senders, next steps" srv_open
check "server: nothing listens" srv_nothing_listens
check "server: DROP rule named, with the command that opens it" srv_drop
check "server: REJECT rules (icmp default, admin-prohibited, tcp reset)" srv_rejects
check "server: bound to loopback only" srv_loopback_only
check "server: iptables-nft REJECT rule" srv_iptables_nft
check "server: --json" srv_json
check "server: without root the firewall is unknown" srv_not_root
check "--quiet: the verdict; -v: scope, ICMP, deciding rule" quiet_and_verbose
finish
