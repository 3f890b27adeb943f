# Shared helpers for the black-box tests. Each test script sources this, calls `check NAME CMD...`
# for every case, and ends with `finish`. Everything runs on loopback or inside network namespaces
# the test itself creates; every wait is bounded.
set -u
PARLEY=${PARLEY:?PARLEY must point at the parley binary}
WORK=$(mktemp -d /tmp/parley-test.XXXXXX)
# PARLEY_IO=epoll|uring: every `parley echo` and `parley forward` of the script runs with --io
# PARLEY_IO (ctest runs the echo and forward suites once more this way, so that both I/O backends
# pass the same tests). UDP, --proxy-protocol and TLS on the listening side run on epoll whatever
# is asked, so --io uring is left off those.
if [ -n "${PARLEY_IO:-}" ]; then
  printf '%s\n' '#!/usr/bin/env bash' \
    "real=$(printf '%q' "$PARLEY") io=$(printf '%q' "$PARLEY_IO")" \
    'if [ "${1:-}" = echo ] || [ "${1:-}" = forward ]; then' \
    '  command=$1' \
    '  shift' \
    '  case " $* " in' \
    '    *" -u "* | *" --udp "* | *" --proxy-protocol "* | *" --tls "* | *" --ssl "*)' \
    '      [ "$io" = uring ] || set -- --io "$io" "$@" ;;' \
    '    *) set -- --io "$io" "$@" ;;' \
    '  esac' \
    '  exec "$real" "$command" "$@"' \
    'fi' \
    'exec "$real" "$@"' >"$WORK/parley"
  chmod +x "$WORK/parley"
  PARLEY=$WORK/parley
  if [ "$PARLEY_IO" = uring ]; then  # A kernel without io_uring: nothing to test here.
    timeout 1 "$PARLEY" echo -q -p 0 --bind 127.0.0.1 </dev/null >/dev/null 2>"$WORK/io.err"
    if grep -q 'io_uring unavailable' "$WORK/io.err"; then
      echo "skip: $(cat "$WORK/io.err")"
      rm -rf "$WORK"
      exit 77
    fi
  fi
fi
PASSED=0
FAILED=0
BG_PIDS=()

# kill_tree PID: the process and everything it started (pipelines in subshells included).
kill_tree() {
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null
}

# Every process the test started goes, whether or not a case failed half-way: a leftover child
# would keep ctest's output pipe open and stall the run until its timeout.
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}" $(pgrep -P $$); do kill_tree "$pid"; done
  for pid in "${BG_PIDS[@]}"; do timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "    FAIL: $*" >&2; return 1; }

# use_quiet_input: sets QUIET to a FIFO this shell holds open and never writes. Reading it yields
# neither data nor EOF while the script runs, and unlike <(sleep N) it leaves no process behind
# to hold ctest's output pipe open. Call it in the script's own shell, not inside $(...).
use_quiet_input() {
  QUIET=$WORK/quiet
  [ -p "$QUIET" ] && return 0
  mkfifo "$QUIET" && exec 9<>"$QUIET"
}

# check NAME FUNCTION [ARGS...]: runs one case and counts it.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $name"
    FAILED=$((FAILED + 1))
  fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# bg CMD...: runs CMD in the background (killed at exit), keeping the caller's stdin.
bg() {
  "$@" <&0 &
  BG_PIDS+=($!)
}

# wait_for_line FILE REGEX [SECONDS]: waits until FILE has a line matching REGEX.
wait_for_line() {
  local file=$1 regex=$2 limit=${3:-10}
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt "$deadline" ]; do
    grep -Eq -- "$regex" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no line matching '$regex' in $file within ${limit}s: $(cat "$file" 2>/dev/null)"
}

# port_from FILE: the port of the first "Listening on ...:PORT" line parley printed.
port_from() { grep -m1 -Eo 'Listening on .*:[0-9]+' "$1" | grep -Eo '[0-9]+$'; }

# start_parley_listen NAME ARGS...: starts `parley listen -v ARGS` in the background with stdout in
# $WORK/NAME.out and stderr in $WORK/NAME.err; sets LPID and LPORT.
start_parley_listen() {
  local name=$1
  shift
  # A file left by an earlier run under this name could match the wait below before the new
  # process has truncated it (the redirection happens in the background job), and LPORT would
  # then be read from the emptied file.
  rm -f "$WORK/$name.out" "$WORK/$name.err"
  # <&0: a background job would otherwise get /dev/null as stdin instead of the caller's.
  "$PARLEY" listen -v "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" <&0 &
  LPID=$!
  BG_PIDS+=("$LPID")
  wait_for_line "$WORK/$name.err" 'Listening on' || return 1
  LPORT=$(port_from "$WORK/$name.err") || LPORT=''  # None for a Unix socket path.
}

# start_echo NAME ARGS...: `parley echo` on 127.0.0.1, port 0, in the background, with stdout in
# $WORK/NAME.out and stderr in $WORK/NAME.err; sets EPID and EPORT.
start_echo() {
  local name=$1
  shift
  rm -f "$WORK/$name.out" "$WORK/$name.err"  # As in start_parley_listen.
  "$PARLEY" echo -p 0 --bind 127.0.0.1 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  EPID=$!
  BG_PIDS+=("$EPID")
  wait_for_line "$WORK/$name.err" 'Listening on' || return 1
  EPORT=$(port_from "$WORK/$name.err")
}

# start_py_server NAME [ARGS...] <<'PY' ... PY: runs the Python program on stdin in the background
# (it may `from pyserve import ...`, tests/cli/pyserve.py) with ARGS; it must print its port
# first. Sets PY_PORT.
start_py_server() {
  local name=$1
  shift
  rm -f "$WORK/$name.port"  # A second server of the same name must not find the old port.
  PYTHONPATH="$(dirname "${BASH_SOURCE[0]}")" python3 - "$@" <&0 >"$WORK/$name.port" &
  BG_PIDS+=($!)
  local deadline=$((SECONDS + 5))
  until [ -s "$WORK/$name.port" ]; do
    [ $SECONDS -lt $deadline ] || { fail "$name did not start"; return 1; }
    sleep 0.05
  done
  PY_PORT=$(head -1 "$WORK/$name.port")
}

# json FILE EXPR: evaluates a Python expression over the JSON document in FILE, parsed as `r`.
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# free_port: a TCP port nobody listens on right now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT [tcp|udp]: waits until something listens on 127.0.0.1:PORT.
wait_port() {
  local port=$1 proto=${2:-tcp} flag=-ltn
  [ "$proto" = udp ] && flag=-lun
  local deadline=$((SECONDS + 10))
  while [ $SECONDS -lt $deadline ]; do
    ss -H "$flag" "sport = :$port" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  fail "nothing listens on port $port"
}

# wait_exit PID SECONDS: waits for a background process; returns its exit status, or fails if it
# is still running after SECONDS (and kills it).
wait_exit() {
  local pid=$1 limit=$2
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge "$deadline" ]; then
      kill "$pid" 2>/dev/null
      fail "process $pid still running after ${limit}s"
      return 124
    fi
    sleep 0.05
  done
  wait "$pid"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

assert_eq() {
  [ "$1" == "$2" ] || fail "${3:-values differ}: expected [$1], got [$2]"
}

# expect_exit CODE STDERR_LINE CMD...: runs CMD, checks its exit status and that its stderr
# contains STDERR_LINE exactly as one line (empty: not checked).
expect_exit() {
  local code=$1 line=$2
  shift 2
  local rc=0
  timeout 20 "$@" >"$WORK/expect.out" 2>"$WORK/expect.err" </dev/null || rc=$?
  [ "$rc" -eq "$code" ] || { fail "exit $rc, expected $code: $* -- $(cat "$WORK/expect.err")"; return 1; }
  if [ -n "$line" ] && ! grep -qxF -- "$line" "$WORK/expect.err"; then
    fail "stderr lacks [$line]: $(cat "$WORK/expect.err")"
    return 1
  fi
}

# have TOOL: true when the program exists (interop peers are installed by scripts/install-deps.sh).
have() { command -v "$1" >/dev/null 2>&1; }
