# listen -k: many clients at once, stdin broadcast to all, every client's data on stdout; -m.
source "$(dirname "$0")/lib.sh"

# Three clients connect and stay; one line on the server's stdin reaches all three; each client's
# own line reaches the server's stdout.
broadcast_three() {
  mkfifo "$WORK/in"
  exec 7<>"$WORK/in"  # Keeps the fifo open so the server's stdin does not end.
  start_parley_listen hub -k 127.0.0.1 0 <&7 || return 1
  local i
  for i in 1 2 3; do
    "$PARLEY" connect 127.0.0.1 "$LPORT" >"$WORK/c$i.out" < <(echo "from client $i"; sleep 4) &
    BG_PIDS+=($!)
  done
  for i in 1 2 3; do wait_for_line "$WORK/hub.out" "^from client $i\$" || return 1; done
  [ "$(grep -c 'Connection from' "$WORK/hub.err")" -eq 3 ] || fail "expected 3 connections" || return 1
  echo "to everyone" >&7
  for i in 1 2 3; do wait_for_line "$WORK/c$i.out" '^to everyone$' || return 1; done
  exec 7>&-
}

# -m 2: the third client is accepted and closed at once; the first two keep working.
max_clients() {
  start_parley_listen cap -k -m 2 127.0.0.1 0 < <(sleep 6) || return 1
  local i
  for i in 1 2; do
    "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null < <(sleep 5) &
    BG_PIDS+=($!)
  done
  wait_for_line "$WORK/cap.err" 'Connection from .*:[0-9]+\.$' || return 1
  sleep 0.3
  local start=$SECONDS rc=0
  timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null < <(sleep 5) || rc=$?
  assert_eq 0 "$rc" "refused client sees a close" || return 1
  [ $((SECONDS - start)) -le 2 ] || fail "third client was not closed at once" || return 1
  grep -Eq 'refused: already 2 clients \(-m\)\.$' "$WORK/cap.err" || fail "no refusal line: $(cat "$WORK/cap.err")"
}

# A client leaving does not disturb the others, and the server keeps accepting.
clients_come_and_go() {
  start_parley_listen churn -k 127.0.0.1 0 < <(sleep 8) || return 1
  local i
  for i in $(seq 1 20); do
    echo "msg $i" | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  done
  wait_for_line "$WORK/churn.out" '^msg 20$' || return 1
  assert_eq 20 "$(grep -c '^msg' "$WORK/churn.out")" "messages received"
}

# SIGTERM stops the hub with its summary line and status 0.
sigterm_summary() {
  start_parley_listen term -k 127.0.0.1 0 < <(sleep 8) || return 1
  echo hi | timeout 5 "$PARLEY" connect 127.0.0.1 "$LPORT" >/dev/null || return 1
  wait_for_line "$WORK/term.out" '^hi$' || return 1
  kill -TERM "$LPID"
  wait_exit "$LPID" 5 || return 1
  grep -Eq '^parley: 0 bytes sent, 3 bytes received in' "$WORK/term.err" || fail "summary: $(cat "$WORK/term.err")"
}

check "-k: three clients, broadcast and collect" broadcast_three
check "-m 2 refuses the third client" max_clients
check "-k: 20 clients one after another" clients_come_and_go
check "-k: SIGTERM prints the summary, exit 0" sigterm_summary
finish
