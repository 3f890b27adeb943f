# Output faults (issue 18), for every command: a closed stdout pipe ends it quietly; a full disk
# is one line and exit 1; a message that cannot be written (stderr full or closed) is dropped,
# never an abort, and never sent to a client.
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


FULL="parley: cannot write output: No space left on device"

# expect_full RC ERRFILE WHAT: the status is 1 and stderr has the one line naming the failure.
expect_full() {
  assert_eq 1 "$1" "exit status of $3" || return 1
  grep -qxF "$FULL" "$2" || fail "$3: message: $(cat "$2")" || return 1
  no_crash "$2"
}

# --help and --version are results too: lost on a full disk, they are an error; into a closed
# pipe, they end quietly.
help_every_command() {
  local c rc
  for c in "" connect listen echo conns talk bench chat doctor scan forward; do
    rc=0
    # shellcheck disable=SC2086
    timeout 5 "$PARLEY" $c --help >/dev/full 2>"$WORK/h.err" || rc=$?
    expect_full "$rc" "$WORK/h.err" "parley $c --help >/dev/full" || return 1
    # shellcheck disable=SC2086
    rc=$( { { sleep 0.2; timeout 5 "$PARLEY" $c --help 2>"$WORK/hp.err"; echo $? >"$WORK/hp.rc"; } | true; }; cat "$WORK/hp.rc")
    assert_eq 0 "$rc" "parley $c --help | (closed)" || return 1
    [ ! -s "$WORK/hp.err" ] || fail "parley $c --help | (closed) said: $(cat "$WORK/hp.err")" || return 1
  done
  rc=0
  timeout 5 "$PARLEY" --version >/dev/full 2>"$WORK/v.err" || rc=$?
  expect_full "$rc" "$WORK/v.err" "parley --version >/dev/full"
}

# connect: what the server sends cannot be written.
connect_faults() {
  start_echo ce || return 1
  local rc=0
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$EPORT" >/dev/full 2>"$WORK/cf.err" || rc=$?
  expect_full "$rc" "$WORK/cf.err" "connect >/dev/full" || return 1
  # The reader is gone: the download ends quietly, the upload still completes.
  rc=$( { { sleep 0.2; head -c 100000 /dev/zero | timeout 10 "$PARLEY" connect 127.0.0.1 "$EPORT" 2>"$WORK/cp.err"; echo $? >"$WORK/cp.rc"; } | true; }; cat "$WORK/cp.rc")
  assert_eq 0 "$rc" "connect | (closed)" || return 1
  [ ! -s "$WORK/cp.err" ] || fail "connect | (closed) said: $(cat "$WORK/cp.err")" || return 1
  # Messages with stderr closed or full: the relay is unaffected.
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect -v 127.0.0.1 "$EPORT" 2>&-)" "connect -v 2>&-" || return 1
  assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect -v 127.0.0.1 "$EPORT" 2>/dev/full)" "connect -v 2>/dev/full"
}

# listen: what the client sends cannot be written; the client never sees a log line, even with
# stderr closed (descriptor 2 must not become the client's socket).
listen_faults() {
  local port rc=0
  port=$(free_port)
  timeout 10 "$PARLEY" listen 127.0.0.1 "$port" </dev/null >/dev/full 2>"$WORK/lf.err" &
  local pid=$!
  wait_port "$port" || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null 2>&1
  wait "$pid" || rc=$?
  expect_full "$rc" "$WORK/lf.err" "listen >/dev/full" || return 1
  port=$(free_port)
  { timeout 10 "$PARLEY" listen 127.0.0.1 "$port" </dev/null 2>"$WORK/lp.err"; echo $? >"$WORK/lp.rc"; } | true &
  pid=$!
  wait_port "$port" || return 1
  head -c 100000 /dev/zero | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null 2>&1
  wait "$pid"
  assert_eq 0 "$(cat "$WORK/lp.rc")" "listen | (closed)" || return 1
  no_crash "$WORK/lp.err" || return 1
  port=$(free_port)
  timeout 10 "$PARLEY" listen -v -v 127.0.0.1 "$port" </dev/null >"$WORK/ls.out" 2>&- &
  pid=$!
  wait_port "$port" || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >"$WORK/ls.client" 2>/dev/null
  rc=0
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "listen -v 2>&-" || return 1
  assert_eq hi "$(cat "$WORK/ls.out")" "listen -v 2>&- output" || return 1
  assert_eq "" "$(cat "$WORK/ls.client")" "what the client got from listen -v 2>&-" || return 1
  # listen -k shows what clients send; with the output on a full disk it ends with the one line.
  port=$(free_port)
  rc=0
  timeout 10 "$PARLEY" listen -k 127.0.0.1 "$port" </dev/null >/dev/full 2>"$WORK/lk.err" &
  pid=$!
  wait_port "$port" || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port" >/dev/null 2>&1
  wait "$pid" || rc=$?
  expect_full "$rc" "$WORK/lk.err" "listen -k >/dev/full"
}

# The broker and chat rooms go on without their output (the clients still talk to each other),
# but a full disk is said when it happens and in the exit status; it was silent, exit 0.
hub_full_disk() {
  local mode port pid rc
  for mode in --broker --chat; do
    port=$(free_port)
    rc=0
    "$PARLEY" listen "$mode" 127.0.0.1 "$port" </dev/null >/dev/full 2>"$WORK/hf.err" &
    pid=$!
    BG_PIDS+=("$pid")
    wait_port "$port" || return 1
    printf 'hello\n' | timeout 5 "$PARLEY" connect -q 0.5 127.0.0.1 "$port" >/dev/null 2>&1
    wait_for_line "$WORK/hf.err" '^parley: cannot write output: No space left on device; the clients go on without it$' || return 1
    # Still serving: a client is answered (chat's welcome, or the broker's fan-out).
    printf 'again\n' | timeout 5 "$PARLEY" connect -q 0.5 127.0.0.1 "$port" >/dev/null || return 1
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    expect_full "$rc" "$WORK/hf.err" "listen $mode >/dev/full" || return 1
  done
}

# talk: the transcript cannot be written.
talk_faults() {
  start_echo te --lines || return 1
  local rc=0
  printf 'a\nb\n' | timeout 10 "$PARLEY" talk 127.0.0.1 "$EPORT" >/dev/full 2>"$WORK/tf.err" || rc=$?
  expect_full "$rc" "$WORK/tf.err" "talk >/dev/full" || return 1
  rc=$( { { sleep 0.2; printf 'a\nb\n' | timeout 10 "$PARLEY" talk 127.0.0.1 "$EPORT" 2>"$WORK/tp.err"; echo $? >"$WORK/tp.rc"; } | true; }; cat "$WORK/tp.rc")
  assert_eq 0 "$rc" "talk | (closed)" || return 1
  no_crash "$WORK/tp.err"
}

# bench and doctor: the report cannot be written.
report_faults() {
  start_echo be || return 1
  local args rc
  for args in "bench pingpong 127.0.0.1:$EPORT -d 300ms -c 2" "doctor 127.0.0.1 $EPORT" \
    "doctor --json 127.0.0.1 $EPORT" "doctor --listen $EPORT"; do
    rc=0
    # shellcheck disable=SC2086
    timeout 10 "$PARLEY" $args >/dev/full 2>"$WORK/rf.err" || rc=$?
    expect_full "$rc" "$WORK/rf.err" "$args >/dev/full" || return 1
    # shellcheck disable=SC2086
    rc=$( { { sleep 0.2; timeout 10 "$PARLEY" $args 2>"$WORK/rp.err"; echo $? >"$WORK/rp.rc"; } | true; }; cat "$WORK/rp.rc")
    no_crash "$WORK/rp.err" || return 1
    ! grep -q "cannot write output" "$WORK/rp.err" || fail "$args | (closed): $(cat "$WORK/rp.err")" || return 1
    [ "$rc" -le 1 ] || fail "$args | (closed): exit $rc" || return 1
  done
}

# The servers and scan log to stderr: closed or full, they serve and end as usual.
stderr_faults_servers() {
  local port eport rc err
  for err in /dev/full closed; do
    port=$(free_port)
    eport=$(free_port)
    if [ $err = closed ]; then
      "$PARLEY" echo -p "$eport" --bind 127.0.0.1 </dev/null 2>&- &
    else
      "$PARLEY" echo -p "$eport" --bind 127.0.0.1 </dev/null 2>"$err" &
    fi
    local epid=$!
    BG_PIDS+=("$epid")
    wait_port "$eport" || return 1
    if [ $err = closed ]; then
      "$PARLEY" forward -v "127.0.0.1:$port" "127.0.0.1:$eport" </dev/null 2>&- &
    else
      "$PARLEY" forward -v "127.0.0.1:$port" "127.0.0.1:$eport" </dev/null 2>"$err" &
    fi
    local fpid=$!
    BG_PIDS+=("$fpid")
    wait_port "$port" || return 1
    assert_eq hi "$(echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$port")" "echo and forward, stderr $err" || return 1
    rc=0
    if [ $err = closed ]; then
      timeout 5 "$PARLEY" scan 127.0.0.1 "$port" 2>&- || rc=$?
    else
      timeout 5 "$PARLEY" scan 127.0.0.1 "$port" 2>"$err" || rc=$?
    fi
    assert_eq 0 "$rc" "scan of an open port, stderr $err" || return 1
    kill -TERM "$fpid" "$epid"
    rc=0
    wait_exit "$fpid" 10 || rc=$?
    assert_eq 0 "$rc" "forward after SIGTERM, stderr $err" || return 1
    rc=0
    wait_exit "$epid" 10 || rc=$?
    assert_eq 0 "$rc" "echo after SIGTERM, stderr $err" || return 1
  done
}

check "closed stdout pipe: quiet, exit 0" closed_pipe
check "conns --watch | head -1 ends" watch_closed_pipe
check "conns: the reader leaves in the middle of a big listing" big_listing_cut_short
check "/dev/full: one line, exit 1" full_disk
check "conns --watch >/dev/full: one line, exit 1" watch_full_disk
check "stderr on /dev/full: messages dropped, status kept" stderr_full
check "echo: SIGUSR1 and SIGTERM after the log reader left" echo_log_reader_gone
check "--help and --version of every command: full disk, closed pipe" help_every_command
check "connect: full disk, closed pipe, stderr closed or full" connect_faults
check "listen: full disk, closed pipe, stderr closed; listen -k on a full disk" listen_faults
check "broker and chat on a full disk: said, exit 1, the room goes on" hub_full_disk
check "talk: full disk, closed pipe" talk_faults
check "bench, doctor: full disk, closed pipe" report_faults
check "echo, forward, scan: stderr full or closed" stderr_faults_servers
finish
