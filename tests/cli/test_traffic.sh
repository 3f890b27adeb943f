# Traffic logs (-o, -x, --append-output) byte-exact for a known conversation, on every data path
# (pipe, file, socket); and the netcat extras: -d (delay between lines), -t (Telnet refusal),
# -q (quit after stdin EOF), -N (accepted).
source "$(dirname "$0")/lib.sh"
use_quiet_input

# A server that reads one line and answers another: the conversation is "ping" then "pong".
PP=$(free_port)
bg socat -t 5 TCP-LISTEN:"$PP",bind=127.0.0.1,reuseaddr,fork SYSTEM:'read l; echo pong'
wait_port "$PP" || exit 1

expected_hex() {
  printf '> 0000   70 69 6e 67 0a                                    ping.           \n'
  printf '< 0000   70 6f 6e 67 0a                                    pong.           \n'
}

# conversation IN OUT: stdin from a pipe or a file, stdout to a pipe or a file.
conversation() {
  local in=$1 out=$2 got
  rm -f "$WORK/c.log" "$WORK/c.hex" "$WORK/c.out"
  printf 'ping\n' >"$WORK/ping"
  if [ "$in" = pipe ] && [ "$out" = pipe ]; then
    got=$(printf 'ping\n' | timeout 10 "$PARLEY" connect -o "$WORK/c.log" -x "$WORK/c.hex" 127.0.0.1 "$PP" | cat)
  elif [ "$in" = pipe ]; then
    printf 'ping\n' | timeout 10 "$PARLEY" connect -o "$WORK/c.log" --hex-dump "$WORK/c.hex" 127.0.0.1 "$PP" >"$WORK/c.out"
    got=$(cat "$WORK/c.out")
  else
    got=$(timeout 10 "$PARLEY" connect -o "$WORK/c.log" -x "$WORK/c.hex" 127.0.0.1 "$PP" <"$WORK/ping" | cat)
  fi
  assert_eq pong "$got" "output" || return 1
  assert_eq "$(printf 'ping\npong\n' | sha256sum)" "$(sha256sum <"$WORK/c.log")" "-o contents: $(od -c "$WORK/c.log")" || return 1
  assert_eq "$(expected_hex | sha256sum)" "$(sha256sum <"$WORK/c.hex")" "-x contents: $(cat "$WORK/c.hex")"
}

# Without its direction marker, a chunk's dump is exactly ncat's.
hex_like_ncat() {
  have ncat || { echo "    (ncat not installed)"; return 0; }
  local port
  port=$(free_port)
  printf 'Hello, world\nsecond line that is longer than sixteen\n' >"$WORK/hello"
  ncat -l 127.0.0.1 "$port" --recv-only -x "$WORK/ncat.hex" </dev/null >/dev/null &
  local npid=$!
  BG_PIDS+=($npid)
  wait_port "$port" || return 1
  timeout 10 "$PARLEY" connect -x "$WORK/ours.hex" 127.0.0.1 "$port" <"$WORK/hello" || return 1
  wait_exit $npid 5 || return 1
  assert_eq "$(cat "$WORK/ncat.hex")" "$(sed 's/^> //' "$WORK/ours.hex")" "hex dump vs ncat -x"
}

append_output() {
  printf 'old\n' >"$WORK/a.log"
  printf 'ping\n' | timeout 10 "$PARLEY" connect --append-output -o "$WORK/a.log" 127.0.0.1 "$PP" >/dev/null || return 1
  printf 'ping\n' | timeout 10 "$PARLEY" connect --append-output -o "$WORK/a.log" 127.0.0.1 "$PP" >/dev/null || return 1
  assert_eq "$(printf 'old\nping\npong\nping\npong')" "$(cat "$WORK/a.log")" "appended" || return 1
  printf 'ping\n' | timeout 10 "$PARLEY" connect -o "$WORK/a.log" 127.0.0.1 "$PP" >/dev/null || return 1
  assert_eq "$(printf 'ping\npong')" "$(cat "$WORK/a.log")" "truncated without --append-output"
}

listen_logs() {
  start_parley_listen ll 127.0.0.1 0 -o "$WORK/l.log" -x "$WORK/l.hex" <"$WORK/ping" || return 1
  printf 'hi\n' | timeout 10 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  wait_exit "$LPID" 5 || return 1
  # Order between the two directions depends on timing: compare each direction's lines.
  assert_eq "$(printf 'hi\nping' | sort)" "$(sort "$WORK/l.log")" "listen -o" || return 1
  grep -qx '> 0000   70 69 6e 67 0a                                    ping.           ' "$WORK/l.hex" &&
    grep -qx '< 0000   68 69 0a                                          hi.             ' "$WORK/l.hex" ||
    fail "listen -x: $(cat "$WORK/l.hex")"
}

udp_logs() {
  local port
  port=$(free_port)
  bg "$PARLEY" echo -u -q -p "$port" --bind 127.0.0.1 </dev/null 2>/dev/null
  wait_port "$port" udp || return 1
  printf 'dgram\n' | timeout 10 "$PARLEY" connect -u -q 300ms -o "$WORK/u.log" 127.0.0.1 "$port" >/dev/null || return 1
  assert_eq "$(printf 'dgram\ndgram')" "$(cat "$WORK/u.log")"
}

# 64 MiB through the zero-copy paths with -o: the log holds every byte.
bulk_log() {
  local port
  port=$(free_port)
  head -c $((64 << 20)) /dev/urandom >"$WORK/bulk"
  bg socat -u TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr OPEN:/dev/null
  wait_port "$port" || return 1
  timeout 30 "$PARLEY" connect -o "$WORK/bulk.log" 127.0.0.1 "$port" <"$WORK/bulk" || return 1
  assert_eq "$(sha "$WORK/bulk")" "$(sha "$WORK/bulk.log")" "file -> socket log" || return 1
  port=$(free_port)
  bg socat -u FILE:"$WORK/bulk" TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr
  wait_port "$port" || return 1
  timeout 30 "$PARLEY" connect -o "$WORK/bulk2.log" 127.0.0.1 "$port" </dev/null | cat >"$WORK/bulk2.out" || return 1
  assert_eq "$(sha "$WORK/bulk")" "$(sha "$WORK/bulk2.out")" "socket -> pipe data" || return 1
  assert_eq "$(sha "$WORK/bulk")" "$(sha "$WORK/bulk2.log")" "socket -> pipe log"
}

# A log that cannot be written: the conversation still happens, one line, exit 1.
log_disk_full() {
  local out rc=0
  out=$(printf 'ping\n' | timeout 10 "$PARLEY" connect --append-output -o /dev/full 127.0.0.1 "$PP" 2>"$WORK/full.err") || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  assert_eq pong "$out" "reply" || return 1
  assert_eq "parley: cannot write /dev/full: No space left on device" "$(cat "$WORK/full.err")"
}

log_cannot_open() {
  expect_exit 2 "parley: connect: cannot open $WORK/no/such: No such file or directory" \
    "$PARLEY" connect -o "$WORK/no/such" 127.0.0.1 "$PP"
}

# -d 300ms: three lines arrive at least 300 ms apart.
delay_between_lines() {
  start_parley_listen dl 127.0.0.1 0 --recv-only || return 1
  local start ms
  start=$(date +%s%N)
  printf 'a\nb\nc\n' | timeout 10 "$PARLEY" connect -d 300ms 127.0.0.1 "$LPORT" || return 1
  ms=$((($(date +%s%N) - start) / 1000000))
  wait_exit "$LPID" 5 || return 1
  assert_eq "$(printf 'a\nb\nc')" "$(cat "$WORK/dl.out")" "lines" || return 1
  [ "$ms" -ge 600 ] || fail "3 lines with -d 300ms took only ${ms} ms"
}

# A Telnet server that asks DO ECHO and WILL SUPPRESS-GO-AHEAD, then sends a prompt and records
# the client's answer. -t refuses both and shows only the prompt.
telnet_refusal() {
  local port
  port=$(free_port)
  printf '%s\n' "printf '\\377\\375\\001\\377\\373\\003login: '" "head -c 6 >$WORK/tn.answer" >"$WORK/tn.sh"
  bg socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:"sh $WORK/tn.sh"
  wait_port "$port" || return 1
  timeout 10 "$PARLEY" connect -t -q 1s 127.0.0.1 "$port" <"$QUIET" >"$WORK/tn.out" &
  local pid=$!
  wait_for_line "$WORK/tn.out" 'login: ' 5 || return 1
  sleep 0.3
  kill $pid 2>/dev/null
  assert_eq "fffc01fffe03" "$(od -An -tx1 "$WORK/tn.answer" | tr -d ' \n')" "answers (WONT ECHO, DONT SGA)" || return 1
  assert_eq "login: " "$(cat "$WORK/tn.out")" "output without negotiation"
}

# -q: the server never closes; parley quits this long after stdin EOF.
quit_after_eof() {
  start_parley_listen q1 127.0.0.1 0 <"$QUIET" || return 1
  local start ms rc=0
  start=$(date +%s%N)
  printf 'bye\n' | timeout 10 "$PARLEY" connect -q 500ms 127.0.0.1 "$LPORT" || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  assert_eq 0 "$rc" "exit status" || return 1
  [ "$ms" -ge 450 ] && [ "$ms" -lt 3000 ] || fail "quit after ${ms} ms, expected ~500" || return 1
  wait_for_line "$WORK/q1.out" '^bye$'
}
quit_zero() {
  start_parley_listen q0 127.0.0.1 0 <"$QUIET" || return 1
  printf 'now\n' | timeout 3 "$PARLEY" connect -q 0 127.0.0.1 "$LPORT" || return 1
  wait_for_line "$WORK/q0.out" '^now$'
}
shutdown_flag() {
  local out
  out=$(printf 'ping\n' | timeout 10 "$PARLEY" connect -N 127.0.0.1 "$PP") || return 1
  assert_eq pong "$out" || return 1
  expect_exit 2 "parley: connect: --no-shutdown excludes -N" "$PARLEY" connect -N --no-shutdown 127.0.0.1 1 || return 1
  expect_exit 2 "parley: connect: --udp excludes --delay" "$PARLEY" connect -u -d 1s 127.0.0.1 1
}

check "-o/-x: pipe in, pipe out" conversation pipe pipe
check "-o/--hex-dump: pipe in, file out" conversation pipe file
check "-o/-x: file in (sendfile path), pipe out" conversation file pipe
check "-x chunk equals ncat -x" hex_like_ncat
check "--append-output" append_output
check "listen -o/-x" listen_logs
check "UDP -o" udp_logs
check "64 MiB with -o: every byte logged" bulk_log
check "log on a full disk: exit 1, one line" log_disk_full
check "log that cannot be opened: exit 2" log_cannot_open
check "-d: delay between lines" delay_between_lines
check "-t: refuses Telnet options" telnet_refusal
check "-q: quit after stdin EOF" quit_after_eof
check "-q 0" quit_zero
check "-N accepted" shutdown_flag
finish
