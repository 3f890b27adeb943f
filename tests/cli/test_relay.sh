# End-of-stream rules and relay options, against real servers on loopback.
source "$(dirname "$0")/lib.sh"

# A server that reads until the client half-closes, waits, then answers: only a client that
# half-closes and keeps reading gets the answer (ncat #1229).
socat_after_eof() {
  local port
  port=$(free_port)
  # -t 10: socat would otherwise close 0.5 s after the client's half-close.
  bg socat -t 10 TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr SYSTEM:"$1"
  wait_port "$port" || return 1
  SPORT=$port
}

half_close_whole_reply() {
  socat_after_eof 'read l; cat >/dev/null; sleep 0.3; echo "got: $l"; sleep 0.2; echo done' || return 1
  local out
  out=$(echo req | timeout 10 "$PARLEY" connect 127.0.0.1 "$SPORT") || return 1
  assert_eq $'got: req\ndone' "$out" "reply after half-close"
}

no_shutdown_keeps_write_side() {
  socat_after_eof 'read l; if timeout 1 cat >/dev/null; then echo EOF-SEEN; else echo NO-EOF; fi' || return 1
  local out
  out=$(echo req | timeout 10 "$PARLEY" connect --no-shutdown 127.0.0.1 "$SPORT") || return 1
  assert_eq "NO-EOF" "$out" "--no-shutdown"
}

# cpu_ticks PID: user+system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# stdin closed (<&-) or /dev/null: immediate EOF, then wait for the server without spinning.
quiet_stdin() {
  local redirect=$1
  socat_after_eof 'cat >/dev/null; sleep 1.6; echo late answer' || return 1
  if [ "$redirect" = closed ]; then
    "$PARLEY" connect 127.0.0.1 "$SPORT" >"$WORK/q.out" 2>&1 <&- &
  else
    "$PARLEY" connect 127.0.0.1 "$SPORT" >"$WORK/q.out" 2>&1 </dev/null &
  fi
  local pid=$!
  # Count only the ticks spent waiting: start-up (tens of ms under ASan) is not a busy loop, a
  # spinning relay would use all of the second between the two readings (~100 ticks).
  sleep 0.4
  local ticks0 ticks
  ticks0=$(cpu_ticks $pid)
  sleep 1
  ticks=$(($(cpu_ticks $pid) - ticks0))
  wait_exit $pid 10 || return 1
  [ "$ticks" -le 5 ] || fail "busy loop: $ticks CPU ticks in 1 s of waiting" || return 1
  assert_eq "late answer" "$(cat "$WORK/q.out")"
}

# A person at a terminal: when the server closes, parley exits at once (ncat #894).
peer_close_ends_terminal_session() {
  start_parley_listen srv 127.0.0.1 0 --send-only <<<"bye" || return 1
  # script(1) gives parley a pseudo-terminal as stdin; sleep keeps that terminal open and silent.
  # (timeout also gives script a process group of its own; without one it waits for its stdin.)
  timeout 9 script -qec "$PARLEY connect 127.0.0.1 $LPORT" /dev/null >"$WORK/tty.out" < <(sleep 8) &
  wait_exit $! 3 || return 1
  grep -q "bye" "$WORK/tty.out" || fail "no output: $(cat "$WORK/tty.out")"
}

# A silent pipe that stays open does not keep parley alive long after the peer closed.
peer_close_with_silent_pipe() {
  start_parley_listen srv2 127.0.0.1 0 </dev/null || return 1
  "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null < <(sleep 8) &
  wait_exit $! 3
}

idle_timeout() {
  start_parley_listen idle 127.0.0.1 0 < <(sleep 5) || return 1
  "$PARLEY" connect -i 500ms 127.0.0.1 "$LPORT" 2>"$WORK/idle.cerr" < <(sleep 8) &
  local rc=0
  wait_exit $! 3 || rc=$?
  assert_eq 1 "$rc" "exit status" || return 1
  grep -qx "parley: Idle timeout expired (500 ms)." "$WORK/idle.cerr" || fail "message: $(cat "$WORK/idle.cerr")"
}

send_only() {
  # The server keeps its side open and talks; --send-only ignores that and exits at stdin EOF.
  start_parley_listen so 127.0.0.1 0 < <(echo chatter; sleep 5) || return 1
  local out
  out=$(echo hi | timeout 5 "$PARLEY" connect --send-only 127.0.0.1 "$LPORT") || return 1
  assert_eq "" "$out" "--send-only output" || return 1
  wait_for_line "$WORK/so.out" '^hi$'
}

recv_only() {
  start_parley_listen ro 127.0.0.1 0 --send-only <<<"data" || return 1
  local out
  out=$(echo mine | timeout 5 "$PARLEY" connect --recv-only 127.0.0.1 "$LPORT") || return 1
  assert_eq "data" "$out" "--recv-only output" || return 1
  wait_exit "$LPID" 5 || return 1
  assert_eq "" "$(cat "$WORK/ro.out")" "server must receive nothing"
}

crlf() {
  start_parley_listen crlf 127.0.0.1 0 --recv-only || return 1
  printf 'a\nb\r\nc\n' | timeout 5 "$PARLEY" connect -C 127.0.0.1 "$LPORT" || return 1
  wait_exit "$LPID" 5 || return 1
  assert_eq "610d0a620d0a630d0a" "$(od -An -tx1 "$WORK/crlf.out" | tr -d ' \n')" "-C bytes"
}

verbose_messages() {
  start_parley_listen vm 127.0.0.1 0 </dev/null || return 1
  printf 'hello\n' | timeout 5 "$PARLEY" connect -v 127.0.0.1 "$LPORT" 2>"$WORK/vm.cerr" >/dev/null || return 1
  wait_exit "$LPID" 5 || return 1
  grep -qx "parley: Connected to 127.0.0.1:$LPORT." "$WORK/vm.cerr" || fail "client: $(cat "$WORK/vm.cerr")" || return 1
  grep -Eqx 'parley: 6 bytes sent, 0 bytes received in [0-9]+\.[0-9]{2} seconds\.' "$WORK/vm.cerr" || fail "client summary" || return 1
  grep -qx "parley: Listening on 127.0.0.1:$LPORT" "$WORK/vm.err" || fail "server listening line" || return 1
  grep -Eqx 'parley: Connection from 127\.0\.0\.1:[0-9]+\.' "$WORK/vm.err" || fail "server: $(cat "$WORK/vm.err")" || return 1
  grep -Eqx 'parley: 0 bytes sent, 6 bytes received in [0-9]+\.[0-9]{2} seconds\.' "$WORK/vm.err" || fail "server summary"
}

both_families_by_default() {
  start_parley_listen dual 0 </dev/null || return 1
  grep -qx "parley: Listening on \[::\]:$LPORT" "$WORK/dual.err" || fail "no [::] listener" || return 1
  grep -qx "parley: Listening on 0.0.0.0:$LPORT" "$WORK/dual.err" || fail "no 0.0.0.0 listener" || return 1
  echo six | timeout 5 "$PARLEY" connect ::1 "$LPORT" || return 1
  wait_exit "$LPID" 5 && assert_eq "six" "$(cat "$WORK/dual.out")"
}

source_address_and_port() {
  start_parley_listen src 127.0.0.1 0 </dev/null || return 1
  local sport
  sport=$(free_port)
  echo hi | timeout 5 "$PARLEY" connect -s 127.0.0.1 -p "$sport" 127.0.0.1 "$LPORT" >/dev/null || return 1
  wait_for_line "$WORK/src.err" "^parley: Connection from 127\\.0\\.0\\.1:$sport\\.\$"
}

family_mismatch() {
  expect_exit 2 "parley: connect to 127.0.0.1:1: no address of the requested family" "$PARLEY" connect -6 127.0.0.1 1
}

check "-s/-p choose the local address and port" source_address_and_port
check "-6 with an IPv4 address: exit 2" family_mismatch
check "half-close: whole reply after stdin EOF" half_close_whole_reply
check "--no-shutdown" no_shutdown_keeps_write_side
check "closed stdin: no hang, no busy loop" quiet_stdin closed
check "/dev/null stdin: no hang, no busy loop" quiet_stdin devnull
check "peer close ends a terminal session" peer_close_ends_terminal_session
check "peer close with a silent pipe" peer_close_with_silent_pipe
check "idle timeout: exit 1" idle_timeout
check "--send-only" send_only
check "--recv-only" recv_only
check "-C sends CRLF" crlf
check "-v messages in ncat's shape" verbose_messages
check "listens on [::] and 0.0.0.0" both_families_by_default
finish
