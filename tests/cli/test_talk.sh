# parley talk: in a real terminal (tmux) and as a script, against real line servers.
source "$(dirname "$0")/lib.sh"
export XDG_STATE_HOME="$WORK/state"  # History goes here, not into the user's home.
# A tmux server of the test's own (-L), never the user's; a keep-alive session stops it from
# exiting (and racing the next new-session) whenever a test session ends.
TMUX_SOCKET="parley-test-$$"
tm() { tmux -L "$TMUX_SOCKET" "$@"; }
tm new-session -d -s keepalive "sleep 600"
SESSION=talk0
cleanup_tmux() {
  tm kill-server 2>/dev/null
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCKET"
  cleanup
}
trap cleanup_tmux EXIT

start_line_echo() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 -q --lines --reply 'You told me: {line}' >/dev/null 2>"$WORK/le.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/le.err" 'Listening on' || return 1
  LPORT=$(port_from "$WORK/le.err")
}

screen() { tm capture-pane -t "$SESSION" -p; }
# wait_screen REGEX: waits until the terminal shows a line matching REGEX.
wait_screen() {
  local deadline=$((SECONDS + 5))
  while [ $SECONDS -lt $deadline ]; do
    screen | grep -Eq -- "$1" && return 0
    sleep 0.1
  done
  fail "screen never showed /$1/:"$'\n'"$(screen)"
}
SESSIONS=0
start_talk() {
  tm kill-session -t "$SESSION" 2>/dev/null
  SESSIONS=$((SESSIONS + 1))
  SESSION="talk$SESSIONS"
  # env: the tmux server would otherwise hand the session its own environment, not ours.
  tm new-session -d -s "$SESSION" -x 100 -y 30 \
    "env XDG_STATE_HOME='$XDG_STATE_HOME' $PARLEY talk $*; echo EXIT=\$?; sleep 30"
  wait_screen '^parley: connected to '
}

typed_lines_and_answers() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'Hallo' Enter
  wait_screen '^< You told me: Hallo  [0-9]+\.[0-9]{2} ms$' || return 1
  tm send-keys -t "$SESSION" 'zweite Zeile' Enter
  wait_screen '^< You told me: zweite Zeile  [0-9]+\.[0-9]{2} ms$'
}

# Unsolicited data arrives while a line is half typed: it appears above, the line stays intact.
unsolicited_above_prompt() {
  mkfifo "$WORK/chat"
  exec 9<>"$WORK/chat"
  start_parley_listen chat 127.0.0.1 0 <&9 || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'half typ'
  wait_screen '^> half typ$' || return 1
  echo "broadcast from the server" >&9
  wait_screen '^\* broadcast from the server$' || return 1
  screen | grep -qx '> half typ' || fail "typed text lost: $(screen)" || return 1
  tm send-keys -t "$SESSION" 'ed' Enter
  wait_for_line "$WORK/chat.out" '^half typed$' || return 1
  exec 9>&-
}

ctrl_c_clears_ctrl_d_summary() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'never sent' C-c
  wait_screen '^\^C$' || return 1
  tm send-keys -t "$SESSION" 'one' Enter
  wait_screen '^< You told me: one ' || return 1
  tm send-keys -t "$SESSION" '/stats' Enter
  wait_screen '^parley: 1 line sent, 1 answer, round trip mean' || return 1
  tm send-keys -t "$SESSION" '/help' Enter
  wait_screen '^commands: /help this list, /quit leave' || return 1
  tm send-keys -t "$SESSION" C-d
  wait_screen '^parley: 1 line sent, 1 answer, round trip mean [0-9.]+ ms, worst [0-9.]+ ms$' || return 1
  wait_screen '^EXIT=0$'
  screen | grep -q 'never sent$' && screen | grep -q 'You told me: never' && fail "Ctrl-C line was sent"
  return 0
}

history_after_restart() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'remember me' Enter
  wait_screen '^< You told me: remember me' || return 1
  tm send-keys -t "$SESSION" C-d
  wait_screen '^EXIT=0$' || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" Up
  wait_screen '^> remember me$' || return 1
  [ -s "$XDG_STATE_HOME/parley/history" ] || fail "no history file"
}

server_gone_and_reconnect() {
  "$PARLEY" listen -v 127.0.0.1 0 </dev/null >/dev/null 2>"$WORK/gone.err" &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/gone.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/gone.err")
  start_talk 127.0.0.1 "$port" || return 1
  wait_screen '^parley: connection closed by the server; /reconnect to connect again$' || return 1
  wait_exit $pid 5
  start_parley_listen back 127.0.0.1 "$port" < <(sleep 5) || return 1
  tm send-keys -t "$SESSION" '/reconnect' Enter
  wait_screen "^parley: connected to 127.0.0.1:$port$" || return 1
  tm send-keys -t "$SESSION" 'after reconnect' Enter
  wait_for_line "$WORK/back.out" '^after reconnect$'
}

script_transcript() {
  start_line_echo || return 1
  printf 'Hallo\nwie gehts\n' >"$WORK/lines"
  "$PARLEY" talk --script "$WORK/lines" 127.0.0.1 "$LPORT" >"$WORK/t.out" || return 1
  sed -E 's/  [0-9]+\.[0-9]{2} ms$/  RTT/' "$WORK/t.out" >"$WORK/t.norm"
  assert_eq $'> Hallo\n< You told me: Hallo  RTT\n> wie gehts\n< You told me: wie gehts  RTT' "$(cat "$WORK/t.norm")"
}

script_against_ncat_sed() {
  local port
  port=$(free_port)
  bg ncat -l 127.0.0.1 "$port" -k --sh-exec 'sed -u s/^/got:/'
  wait_port "$port" || return 1
  printf 'one\ntwo\n' | "$PARLEY" talk 127.0.0.1 "$port" >"$WORK/n.out" || return 1
  assert_eq $'> one\n< got:one\n> two\n< got:two' "$(sed -E 's/  [0-9.]+ ms$//' "$WORK/n.out")"
}

# A server that writes its answer in pieces with pauses, and one that sends two lines at once.
TRICKY=0
tricky_server() {
  TRICKY=$((TRICKY + 1))
  local portfile="$WORK/tricky.$TRICKY.port"
  python3 - "$1" >"$portfile" <<'PY' &
import socket, sys, time
mode = sys.argv[1]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(10)
c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = c.makefile("rb")
for line in f:
    text = line.strip()
    if mode == "pieces":
        for piece in (b"ans", b"wer to ", text, b"\r\n"):
            c.sendall(piece); time.sleep(0.05)
    elif mode == "binary":
        c.sendall(b"bell\x07 nul\x00 esc\x1b[2J\n")
    else:
        c.sendall(b"first " + text + b"\nsecond " + text + b"\n")
PY
  BG_PIDS+=($!)
  local deadline=$((SECONDS + 5))
  until [ -s "$portfile" ]; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.05; done
  TPORT=$(cat "$portfile")
}

answer_in_pieces() {
  tricky_server pieces || return 1
  printf 'x\ny\n' | "$PARLEY" talk 127.0.0.1 "$TPORT" >"$WORK/p.out" || return 1
  assert_eq $'> x\n< answer to x\n> y\n< answer to y' "$(sed -E 's/  [0-9.]+ ms$//' "$WORK/p.out")"
}

two_answers_one_segment() {
  tricky_server double || return 1
  printf 'x\n' | "$PARLEY" talk 127.0.0.1 "$TPORT" >"$WORK/d.out" || return 1
  assert_eq $'> x\n< first x\n* second x' "$(sed -E 's/  [0-9.]+ ms$//' "$WORK/d.out")"
}

until_modes() {
  tricky_server pieces || return 1
  printf 'x\n' | "$PARLEY" talk --until idle=300ms 127.0.0.1 "$TPORT" >"$WORK/idle.out" || return 1
  assert_eq $'> x\n< answer to x' "$(sed -E 's/  [0-9.]+ ms$//' "$WORK/idle.out")" "idle" || return 1
  tricky_server pieces || return 1
  printf 'x\n' | "$PARLEY" talk --until bytes=6 --timeout 2s 127.0.0.1 "$TPORT" >"$WORK/bytes.out" || return 1
  head -2 "$WORK/bytes.out" | sed -E 's/  [0-9.]+ ms$//' >"$WORK/bytes.norm"
  assert_eq $'> x\n< answer' "$(cat "$WORK/bytes.norm")" "bytes" || return 1
  start_line_echo || return 1
  printf 'a\nb\n' | "$PARLEY" talk --until none 127.0.0.1 "$LPORT" >"$WORK/none.out" || return 1
  assert_eq $'> a\n> b' "$(grep '^>' "$WORK/none.out")" "none sends without waiting"
}

escaped_bytes() {
  tricky_server binary || return 1
  echo hi | "$PARLEY" talk 127.0.0.1 "$TPORT" >"$WORK/e.out" || return 1
  grep -q '^< bell\\x07 nul\\x00 esc\\x1b\[2J  ' "$WORK/e.out" || fail "$(cat -A "$WORK/e.out")"
}

errors_and_exit_codes() {
  local port
  port=$(free_port)
  expect_exit 1 "parley: connect to 127.0.0.1:$port: Connection refused" "$PARLEY" talk 127.0.0.1 "$port" || return 1
  expect_exit 2 "parley: talk: --until takes newline, idle=TIME, bytes=N or none" "$PARLEY" talk --until lines 127.0.0.1 1 || return 1
  # A server that never answers: timeout, exit 1.
  start_parley_listen mute 127.0.0.1 0 < <(sleep 10) || return 1
  local rc=0
  echo hello | "$PARLEY" talk --timeout 500ms 127.0.0.1 "$LPORT" >/dev/null 2>"$WORK/to.err" || rc=$?
  assert_eq 1 "$rc" "timeout exit" || return 1
  grep -qx 'parley: no answer to "hello" within 500 ms' "$WORK/to.err" || fail "$(cat "$WORK/to.err")"
}

check "terminal: lines, answers with round-trip times" typed_lines_and_answers
check "terminal: unsolicited data above a half-typed line" unsolicited_above_prompt
check "terminal: Ctrl-C clears, Ctrl-D summary" ctrl_c_clears_ctrl_d_summary
check "terminal: history recalled after restart" history_after_restart
check "terminal: server gone, /reconnect" server_gone_and_reconnect
check "script: transcript against parley echo --lines" script_transcript
check "script: ncat --sh-exec sed" script_against_ncat_sed
check "answer split over segments" answer_in_pieces
check "two answers in one segment" two_answers_one_segment
check "--until idle, bytes, none" until_modes
check "non-printable bytes escaped" escaped_bytes
check "refused, bad --until, timeout: exit codes" errors_and_exit_codes
finish
