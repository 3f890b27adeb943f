# Command-line handling: help, version, netcat habits, and every kind of bad input gets one clear
# line and exit status 2 (usage) -- never a stack trace.
source "$(dirname "$0")/lib.sh"

help_exits_zero() {
  "$PARLEY" --help >"$WORK/h" && grep -q "connect" "$WORK/h" && grep -q "listen" "$WORK/h" &&
    "$PARLEY" connect --help | grep -q -- "--send-only" && "$PARLEY" listen --help | grep -q -- "--keep-open"
}
version() { [ "$("$PARLEY" --version)" = "parley 0.1.0" ]; }
no_args() { expect_exit 2 "" "$PARLEY" && grep -q "Usage" "$WORK/expect.err"; }

bad_port() { expect_exit 2 "parley: connect: port must be a number from 0 to 65535" "$PARLEY" connect localhost 70000; }
bad_port_colon() { expect_exit 2 "parley: connect: port must be a number from 0 to 65535" "$PARLEY" localhost:70000; }
bad_listen_port() { expect_exit 2 "parley: listen: port must be a number from 0 to 65535" "$PARLEY" -l 70000; }
unknown_flag() {
  expect_exit 2 "parley: connect: unknown option '--bogus'" "$PARLEY" connect --bogus localhost 1
}
# CLI11 alone reported these as "target: At Most 2 required but received 3".
unknown_flag_with_value() {
  expect_exit 2 "parley: listen: unknown option '--frobnicate'" "$PARLEY" listen --frobnicate X 127.0.0.1 1
}
unknown_flag_suggests() {
  expect_exit 2 "parley: connect: unknown option '--send-onyl'; did you mean '--send-only'?" \
    "$PARLEY" connect --send-onyl localhost 1
}
unknown_short_in_cluster() {
  expect_exit 2 "parley: listen: unknown option '-Z'" "$PARLEY" -lvZ 1234
}
unknown_bench_option() {
  expect_exit 2 "parley: bench: unknown option '--frobnicate'" "$PARLEY" bench --frobnicate 1s 127.0.0.1 1
}
command_typo_with_args() {
  expect_exit 2 "" "$PARLEY" conect localhost 1 &&
    grep -Eqx "parley: unknown command 'conect' \(did you mean 'connect'\?\)\. Commands: connect, listen, .*\. See parley --help\." "$WORK/expect.err"
}
too_many_arguments() {
  expect_exit 2 "parley: echo: too many arguments: port takes at most 1, got 2" "$PARLEY" echo 1 2 || return 1
  grep -qx "Run 'parley echo --help' for usage." "$WORK/expect.err"
}
missing_port() {
  expect_exit 2 "parley: connect: no port given for 'localhost': give the server as HOST PORT or HOST:PORT" \
    "$PARLEY" connect localhost
}
# Clusters with a digit in them, netcat style: -4lp PORT, -lkv4p PORT, -vl4p PORT, -4l PORT.
digit_clusters() {
  local args port
  for args in "-4lp" "-lkv4p" "-vl4p" "-4l"; do
    port=$(free_port)
    # shellcheck disable=SC2086
    "$PARLEY" $args "$port" -v </dev/null >/dev/null 2>"$WORK/dc.err" &
    local pid=$!
    BG_PIDS+=($pid)
    wait_for_line "$WORK/dc.err" "^parley: Listening on 0.0.0.0:$port\$" || return 1
    kill $pid
    wait $pid 2>/dev/null
  done
  return 0
}
unknown_command() {
  expect_exit 2 "" "$PARLEY" lisen &&
    grep -Eqx "parley: unknown command 'lisen' \(did you mean 'listen'\?\)\. Commands: connect, listen, .*\. See parley --help\." "$WORK/expect.err"
}
families_conflict() { expect_exit 2 "parley: connect: -4 excludes -6" "$PARLEY" connect -4 -6 localhost 1; }
send_recv_conflict() {
  expect_exit 2 "parley: listen: --send-only excludes --recv-only" "$PARLEY" listen --send-only --recv-only 1
}
unix_ipv4_conflict() { expect_exit 2 "parley: connect: -4 excludes --unixsock" "$PARLEY" connect -U /tmp/x -4; }
bad_time() { expect_exit 2 "" "$PARLEY" connect -w 5x localhost 1 && grep -q "is not a time" "$WORK/expect.err"; }
listen_with_remote_host() {
  expect_exit 2 "parley: listen: the address to listen on must be a local IP address; to connect to a host, use 'parley connect HOST PORT'" \
    "$PARLEY" -l example.org 80
}
connect_with_l() {
  expect_exit 2 "parley: connect: -l listens; use 'parley listen PORT' (or 'parley -l PORT')" "$PARLEY" connect -l localhost 1
}
missing_target() {
  expect_exit 2 "parley: connect: say where to: HOST PORT, HOST:PORT or -U PATH (see parley connect --help)" "$PARLEY" connect -v
}
port_twice() {
  expect_exit 2 "parley: listen: give the port once, as PORT, ADDR PORT, ADDR:PORT or -p PORT" "$PARLEY" listen -p 1 2
}
name_not_resolved() {
  expect_exit 2 "parley: connect to example.invalid:80: name not resolved" "$PARLEY" connect example.invalid 80
}
numeric_only() {
  expect_exit 2 "parley: connect to localhost:80: name not resolved" "$PARLEY" connect -n localhost 80
}
refused() {
  local port
  port=$(free_port)
  expect_exit 1 "parley: connect to 127.0.0.1:$port: Connection refused" "$PARLEY" 127.0.0.1 "$port"
}
refused_v6_brackets() {
  local port
  port=$(free_port)
  expect_exit 1 "parley: connect to [::1]:$port: Connection refused" "$PARLEY" connect "[::1]:$port"
}
port_in_use() {
  start_parley_listen busy 127.0.0.1 0 || return 1
  expect_exit 2 "parley: listen: cannot listen on 127.0.0.1:$LPORT: Address already in use" "$PARLEY" listen 127.0.0.1 "$LPORT"
}
# Setting up a listener is local: exit 2, naming what could not be bound and why.
local_errors() {
  local port
  port=$(free_port)
  expect_exit 2 "parley: listen: cannot listen on 10.9.9.9:$port: Cannot assign requested address (not an address of this machine)" \
    "$PARLEY" listen -s 10.9.9.9 "$port" || return 1
  expect_exit 2 "parley: listen: cannot listen on /nonexistent/x.sock: No such file or directory" \
    "$PARLEY" listen -U /nonexistent/x.sock || return 1
  expect_exit 2 "parley: echo: cannot listen on 10.9.9.9 port $port: Cannot assign requested address (not an address of this machine)" \
    "$PARLEY" echo --bind 10.9.9.9 "$port" || return 1
  expect_exit 2 "parley: listen: the address to listen on must be a local IP address (-n: no names, not even localhost); to connect to a host, use 'parley connect HOST PORT'" \
    "$PARLEY" listen -n localhost "$port" || return 1
  # connect's -s/-p are local too: named as the source, never as if the target were wrong.
  expect_exit 2 "parley: connect: source address no.such.name.invalid: name not resolved" \
    "$PARLEY" connect -s no.such.name.invalid 127.0.0.1 "$port" || return 1
  expect_exit 2 "parley: connect: cannot use source 10.9.9.9: Cannot assign requested address (not an address of this machine)" \
    "$PARLEY" connect -s 10.9.9.9 127.0.0.1 "$port" || return 1
  start_parley_listen held 127.0.0.1 0 || return 1
  expect_exit 2 "parley: connect: cannot use source 127.0.0.1 port $LPORT: Address already in use" \
    "$PARLEY" connect -s 127.0.0.1 -p "$LPORT" 127.0.0.1 "$port" </dev/null || return 1
  [ "$(id -u)" = 0 ] && command -v runuser >/dev/null || { echo "    (not root: the nobody case skipped)"; return 0; }
  # A stale socket file of root's: nobody may not connect to it, so it is "permission denied".
  local dir
  dir=$(mktemp -d /tmp/parley-nobody.XXXXXX)
  chmod 755 "$dir"
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$dir/root.sock"
  expect_exit 2 "parley: listen: cannot listen on $dir/root.sock: Permission denied" \
    runuser -u nobody -- "$PARLEY" listen -U "$dir/root.sock"
  local rc=$?
  rm -rf "$dir"
  return $rc
}

bind_twice() {
  local port
  port=$(free_port)
  "$PARLEY" echo --bind 127.0.0.1 --bind 127.0.0.1 "$port" </dev/null >/dev/null 2>"$WORK/bt.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/bt.err" "^parley: Listening on 127.0.0.1:$port\$" || return 1
  assert_eq 1 "$(grep -c 'Listening on' "$WORK/bt.err")" "listeners"
}

combined_short_flags() {
  # -lvk: listen, verbose, keep open -- all in one group, netcat style; -v -v counts.
  "$PARLEY" -lvk -v 127.0.0.1 0 >/dev/null 2>"$WORK/lvk.err" </dev/null &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/lvk.err" '^parley: Listening on 127.0.0.1:[0-9]+$' || return 1
  local port
  port=$(port_from "$WORK/lvk.err")
  echo one | "$PARLEY" 127.0.0.1 "$port" && echo two | "$PARLEY" 127.0.0.1 "$port" || return 1
  wait_for_line "$WORK/lvk.err" 'Connection from 127.0.0.1:[0-9]+ closed' || return 1
  kill -0 $pid  # Still running after two clients: -k took effect.
}


# An empty host was taken for this machine without a word (ncat: "You must specify a host").
empty_host() {
  local cmd
  for cmd in connect talk doctor; do
    expect_exit 2 "parley: $cmd: no host given: give the server as HOST PORT or HOST:PORT" \
      "$PARLEY" $cmd '' 40999 || return 1
  done
  expect_exit 2 "parley: connect: no host given: give the server as HOST PORT or HOST:PORT" \
    "$PARLEY" connect :40999 || return 1
  expect_exit 2 "parley: bench: no host given: give the server as HOST PORT or HOST:PORT" \
    "$PARLEY" bench pingpong '' 40999 || return 1
  expect_exit 2 "parley: scan: no host given: HOST PORTS (e.g. 20-30,80,443,http)" \
    "$PARLEY" scan '' 80 || return 1
  # HOST:PORT and a PORT as well: it read "connect to [127.0.0.1:40995]:40996: name not resolved".
  expect_exit 2 "parley: connect: '127.0.0.1:40995' has a port already: give the server as HOST PORT or HOST:PORT" \
    "$PARLEY" connect 127.0.0.1:40995 40996
}

# Values that mean nothing (a zero time, a negative count) are refused, not run.
meaningless_values() {
  expect_exit 2 "parley: doctor: --wait: must be longer than 0" "$PARLEY" doctor -w 0 127.0.0.1 1 || return 1
  expect_exit 2 "parley: forward: --connect-timeout: must be longer than 0" \
    "$PARLEY" forward --connect-timeout 0 1 2 || return 1
  expect_exit 2 "parley: forward: --udp-timeout requires --udp" "$PARLEY" forward --udp-timeout 1s 1 2 || return 1
  expect_exit 2 "parley: echo: --udp excludes --idle-timeout" "$PARLEY" echo -u --idle-timeout 1s || return 1
  expect_exit 2 "parley: bench: --count: Value -1 not in range 1 to 1000000000000" \
    "$PARLEY" bench pingpong -n -1 127.0.0.1 1 || return 1
  expect_exit 2 "parley: bench: --count: Value 18446744073709551616 not in range 1 to 1000000000000" \
    "$PARLEY" bench pingpong -n 18446744073709551616 127.0.0.1 1 || return 1
  expect_exit 2 "parley: conns: --pid: Value -1 not in range 1 to 2147483647" "$PARLEY" conns --pid -1 || return 1
  # A scan moves no data: a traffic log or -q would be accepted and do nothing.
  expect_exit 2 "parley: connect: --output excludes -z" "$PARLEY" connect -z -o "$WORK/z.log" 127.0.0.1 1 || return 1
  expect_exit 2 "parley: connect: -q excludes -z" "$PARLEY" -z 127.0.0.1 1 -q 1
}

check "--help exits 0 and teaches" help_exits_zero
check "--version" version
check "no arguments: usage, exit 2" no_args
check "port 70000" bad_port
check "host:70000" bad_port_colon
check "listen port 70000" bad_listen_port
check "unknown flag" unknown_flag
check "unknown option with a value" unknown_flag_with_value
check "unknown option: closest suggested" unknown_flag_suggests
check "unknown option inside a short cluster" unknown_short_in_cluster
check "bench: unknown option named" unknown_bench_option
check "command typo followed by arguments" command_typo_with_args
check "connect HOST without a port" missing_port
check "too many arguments said in words" too_many_arguments
check "flag clusters with a digit" digit_clusters
check "unknown command" unknown_command
check "-4 with -6" families_conflict
check "--send-only with --recv-only" send_recv_conflict
check "-U with -4" unix_ipv4_conflict
check "malformed time" bad_time
check "-l with a host to connect to" listen_with_remote_host
check "connect -l" connect_with_l
check "no target" missing_target
check "port given twice" port_twice
check "name not resolved: exit 2" name_not_resolved
check "-n refuses names" numeric_only
check "connection refused: exit 1" refused
check "[v6]:port form" refused_v6_brackets
check "port in use" port_in_use
check "combined short flags -lvk -v" combined_short_flags
check "local listen errors name the address or path, exit 2" local_errors
check "--bind A --bind A listens once" bind_twice
check "an empty host, or HOST:PORT with a PORT too: exit 2" empty_host
check "a zero time, a negative or huge count: exit 2" meaningless_values
finish
