# --io on echo and forward: the I/O backend, its usage errors, and -v saying which one runs and
# why. (The echo and forward suites themselves run once more on io_uring: cli.test_echo.uring,
# cli.test_forward.uring etc.)
source "$(dirname "$0")/lib.sh"

usage_errors() {
  expect_exit 2 "" "$PARLEY" echo --io poll -p 0 || return 1
  grep -q -- '--io' "$WORK/expect.err" || fail "$(cat "$WORK/expect.err")" || return 1
  expect_exit 2 "parley: echo: --io uring is for TCP; UDP echo runs on epoll" \
    "$PARLEY" echo --io uring -u -p 0 || return 1
  expect_exit 2 "parley: echo: --io uring does not take --proxy-protocol (it runs on epoll; use --io auto)" \
    "$PARLEY" echo --io uring --proxy-protocol -p 0 || return 1
  expect_exit 2 "parley: forward: --io uring is for TCP and Unix streams; UDP forwarding runs on epoll" \
    "$PARLEY" forward --io uring -u 0 127.0.0.1:9 || return 1
  expect_exit 2 "parley: forward: --io uring does not take --tls (TLS runs on epoll; use --io auto)" \
    "$PARLEY" forward --io uring --tls 0 127.0.0.1:9 || return 1
  expect_exit 2 "parley: forward: --io uring does not take --proxy-protocol (it runs on epoll; use --io auto)" \
    "$PARLEY" forward --io uring --proxy-protocol 0 127.0.0.1:9
}

says_which() {
  start_echo d -v || return 1
  grep -qx 'parley: I/O: epoll (--io epoll, the default)' "$WORK/d.err" || fail "$(cat "$WORK/d.err")" || return 1
  start_echo a -v --io auto || return 1
  grep -Eq 'parley: I/O: (io_uring \(--io auto: the kernel gives each worker a ring|epoll \(--io auto: io_uring unavailable: )' "$WORK/a.err" ||
    fail "$(cat "$WORK/a.err")" || return 1
  start_echo au -v --io auto -u || return 1
  grep -qx 'parley: I/O: epoll (--io auto: UDP runs on epoll)' "$WORK/au.err" || fail "$(cat "$WORK/au.err")" || return 1
  # forward says it with -v too; --target-tls runs on io_uring (its sides are polled), --tls not.
  "$PARLEY" forward -v --io auto --target-tls-insecure --target-tls 127.0.0.1:0 127.0.0.1:9 \
    2>"$WORK/fa.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/fa.err" '^parley: Forwarding' || return 1
  grep -Eq 'parley: I/O: (io_uring \(--io auto: the kernel gives each worker a ring|epoll \(--io auto: io_uring unavailable: )' "$WORK/fa.err" ||
    fail "$(cat "$WORK/fa.err")" || return 1
  "$PARLEY" forward -v --io auto --tls 127.0.0.1:0 127.0.0.1:9 2>"$WORK/ft.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/ft.err" '^parley: Forwarding' || return 1
  grep -qx 'parley: I/O: epoll (--io auto: --tls runs on epoll)' "$WORK/ft.err" || fail "$(cat "$WORK/ft.err")"
}

# Both backends echo the same bytes and log the same lines.
same_on_both() {
  local io
  head -c 300000 /dev/urandom >"$WORK/data"
  for io in epoll uring; do
    start_echo "s_$io" --io "$io" || {
      [ "$io" = uring ] && grep -q 'io_uring unavailable' "$WORK/s_$io.err" && continue
      return 1
    }
    timeout 10 "$PARLEY" connect 127.0.0.1 "$EPORT" <"$WORK/data" >"$WORK/back_$io" || return 1
    assert_eq "$(sha "$WORK/data")" "$(sha "$WORK/back_$io")" "echo on $io" || return 1
    wait_for_line "$WORK/s_$io.err" 'closed \(closed by peer\): 300000 bytes in, 300000 out' || return 1
    kill -TERM "$EPID"
    wait_for_line "$WORK/s_$io.err" '1 connection served \(0 refused, 0 denied\), 300000 bytes in, 300000 bytes out' || return 1
  done
}

check "--io: usage errors (echo, forward)" usage_errors
check "-v says which backend and why (echo, forward)" says_which
check "epoll and io_uring: same bytes, same log" same_on_both
finish
