# Output faults (issue 18): a closed stdout pipe ends a command quietly; a full disk is one line
# and exit 1; a message that cannot be written is dropped, never an abort.
source "$(dirname "$0")/lib.sh"
FIX="$(dirname "$0")/../fixtures/conns"

# stderr must show no abort, exception or sanitizer report.
no_crash() {
  ! grep -Eq 'terminate|Abort|exception|Sanitizer|runtime error' "$1" || fail "crashed: $(cat "$1")"
}

# The reader is gone before parley writes (like `| head` that already exited).
closed_pipe() {
  local args rc
  for args in "conns -tan" "conns --json" "conns -s" "conns --netstat" "--help" "bench --help" \
    "conns -tani" "conns -tanp" "conns -tano -m" "conns -xa" "conns -O -i -m" "conns -s --json" \
    "conns -a sport > :0" "conns --replay $FIX/proc -a -u -x"; do
    # shellcheck disable=SC2086
    rc=$( { { sleep 0.3; timeout 5 "$PARLEY" $args 2>"$WORK/cp.err"; echo $? >"$WORK/cp.rc"; } | true; } ; cat "$WORK/cp.rc")
    no_crash "$WORK/cp.err" || return 1
    assert_eq 0 "$rc" "exit status of 'parley $args | (closed)'" || return 1
  done
}

# `conns --watch | head -1` ends by itself once head exits.
watch_closed_pipe() {
  local rc=0 args
  for args in "--watch 0.2" "--watch=200ms --json" "--watch=200ms -s"; do
    rc=0
    timeout 10 bash -c "'$PARLEY' conns $args 2>'$WORK/w.err' | head -1 >/dev/null" || rc=$?
    assert_eq 0 "$rc" "conns $args | head -1 ends" || return 1
    no_crash "$WORK/w.err" || return 1
  done
}

# The reader leaves in the middle of a listing bigger than the pipe: quiet, exit 0.
big_listing_cut_short() {
  local d=$WORK/big i args
  mkdir -p "$d/net"
  {
    head -1 "$FIX/proc/net/tcp"
    for i in $(seq 3000); do
      printf '%4d: 0100007F:%04X 0100007F:3039 01 00000000:00000000 00:00000000 00000000  1000        0 %d 1\n' \
        "$i" $((20000 + i)) $((100000 + i))
    done
  } >"$d/net/tcp"
  for f in tcp6 udp udp6 unix; do head -1 "$FIX/proc/net/$f" >"$d/net/$f"; done
  for args in "" "--json" "--netstat" "-e -o"; do
    # shellcheck disable=SC2086
    timeout 10 bash -c "'$PARLEY' conns --replay '$d' -a $args 2>'$WORK/b.err' | head -1 >/dev/null; exit \${PIPESTATUS[0]}" ||
      { fail "conns --replay (3000 rows) $args | head -1: exit $?"; return 1; }
    no_crash "$WORK/b.err" || return 1
    [ ! -s "$WORK/b.err" ] || fail "said: $(cat "$WORK/b.err")" || return 1
  done
}

full_disk() {
  local args rc
  for args in "conns -tan" "conns --json" "conns -s" "conns --netstat" "conns -tani" "conns -xa" \
    "conns -s --json" "conns -O -m" "conns --replay $FIX/proc -a"; do
    rc=0
    # shellcheck disable=SC2086
    timeout 5 "$PARLEY" $args >/dev/full 2>"$WORK/fd.err" || rc=$?
    assert_eq 1 "$rc" "parley $args >/dev/full" || return 1
    grep -qxF "parley: cannot write output: No space left on device" "$WORK/fd.err" ||
      fail "message: $(cat "$WORK/fd.err")" || return 1
  done
}

# --watch to a full disk stops at the first refresh: one line, exit 1.
watch_full_disk() {
  local rc=0
  timeout 10 "$PARLEY" conns --watch 200ms >/dev/full 2>"$WORK/wf.err" || rc=$?
  assert_eq 1 "$rc" "conns --watch >/dev/full" || return 1
  assert_eq "parley: cannot write output: No space left on device" "$(cat "$WORK/wf.err")"
}

# Messages to a full stderr are dropped; the exit status still tells what happened.
stderr_full() {
  local port rc=0
  port=$(free_port)
  timeout 5 "$PARLEY" connect 127.0.0.1 "$port" </dev/null >/dev/null 2>/dev/full || rc=$?
  assert_eq 1 "$rc" "refused with stderr on /dev/full" || return 1
  rc=0
  timeout 5 "$PARLEY" connect --bogus 2>/dev/full || rc=$?
  assert_eq 2 "$rc" "usage error with stderr on /dev/full" || return 1
  rc=0
  timeout 5 "$PARLEY" 2>/dev/full || rc=$?
  assert_eq 2 "$rc" "no arguments with stderr on /dev/full"
}

# echo prints counters on SIGUSR1 and a summary on SIGTERM; with its log reader gone it must go on
# serving and then stop cleanly.
echo_log_reader_gone() {
  local port
  port=$(free_port)
  mkfifo "$WORK/log"
  "$PARLEY" echo --bind 127.0.0.1 -p "$port" 2>"$WORK/log" </dev/null >/dev/null &
  local pid=$!
  BG_PIDS+=($pid)
  timeout 5 head -1 "$WORK/log" >/dev/null || return 1  # Reads one line, then the reader is gone.
  wait_port "$port" || return 1
  kill -USR1 $pid
  sleep 0.2
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >"$WORK/e.out" || return 1
  assert_eq hi "$(cat "$WORK/e.out")" "echo after its log reader left" || return 1
  kill -TERM $pid
  wait_exit $pid 10
}

check "closed stdout pipe: quiet, exit 0" closed_pipe
check "conns --watch | head -1 ends" watch_closed_pipe
check "conns: the reader leaves in the middle of a big listing" big_listing_cut_short
check "/dev/full: one line, exit 1" full_disk
check "conns --watch >/dev/full: one line, exit 1" watch_full_disk
check "stderr on /dev/full: messages dropped, status kept" stderr_full
check "echo: SIGUSR1 and SIGTERM after the log reader left" echo_log_reader_gone
finish
