# parley talk in a real terminal (tmux, UTF-8) against real line servers: typing as people do
# (umlauts and emoji, Ctrl-C, pastes, long lines while the server talks, Ctrl-R, //, /reconnect),
# history per server, and two talk panes in a `parley chat` room. The pipe side: test_talk_pipe.sh.
source "$(dirname "$0")/lib.sh"
have tmux || { echo "skipped: needs tmux"; exit 77; }
export XDG_STATE_HOME="$WORK/state"  # History goes here, not into the user's home.
export LC_ALL=C.UTF-8
PEER="$(dirname "$0")/talk_peer.py"
# A tmux server of the test's own (-L), never the user's, in UTF-8 (-u); a keep-alive session
# stops it from exiting (and racing the next new-session) whenever a test session ends.
TMUX_SOCKET="parley-test-$$"
tm() { tmux -u -L "$TMUX_SOCKET" "$@"; }
tm new-session -d -s keepalive "sleep 600"
SESSION=talk0
cleanup_tmux() {
  tm kill-server 2>/dev/null
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCKET"
  cleanup
}
trap cleanup_tmux EXIT

# start_line_echo [TEMPLATE]: `parley echo --lines` answering 'got[LINE]'; sets LPORT.
start_line_echo() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 -q --lines --reply "${1:-got[{line\}]}" >/dev/null 2>"$WORK/le.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/le.err" 'Listening on' || return 1
  LPORT=$(port_from "$WORK/le.err")
}

# start_peer MODE [ARG]: tests/cli/talk_peer.py in the background; sets PPORT.
PEERS=0
start_peer() {
  PEERS=$((PEERS + 1))
  local portfile="$WORK/peer.$PEERS.port"
  python3 "$PEER" "$@" >"$portfile" 2>"$WORK/peer.$PEERS.err" </dev/null &
  BG_PIDS+=($!)
  local deadline=$((SECONDS + 5))
  until [ -s "$portfile" ]; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.05; done
  PPORT=$(cat "$portfile")
}

screen() { tm capture-pane -t "${1:-$SESSION}" -p; }
# The whole scrollback with wrapped rows joined, as the lines were printed.
scrollback() { tm capture-pane -t "${1:-$SESSION}" -p -J -S -; }
# wait_screen REGEX [SESSION]: waits until the terminal shows a line matching REGEX.
wait_screen() {
  # Sanitized builds start and draw several times slower (and CI runs them beside other suites).
  local deadline=$((SECONDS + (${PARLEY_SANITIZED:-0} == 1 ? 12 : 5)))
  while [ $SECONDS -lt $deadline ]; do
    scrollback "${2:-$SESSION}" | grep -Eq -- "$1" && return 0
    sleep 0.1
  done
  fail "screen never showed /$1/:"$'\n'"$(screen "${2:-}")"
}
SESSIONS=0
# start_talk ARGS...: parley talk ARGS in a new 100x30 terminal; SESSION names it.
start_talk() {
  tm kill-session -t "$SESSION" 2>/dev/null
  SESSIONS=$((SESSIONS + 1))
  SESSION="talk$SESSIONS"
  # env: the tmux server would otherwise hand the session its own environment, not ours.
  tm new-session -d -s "$SESSION" -x 100 -y 30 \
    "env LC_ALL=C.UTF-8 XDG_STATE_HOME='$XDG_STATE_HOME' $PARLEY talk $*; echo EXIT=\$?; sleep 30"
  wait_screen '^parley: connected to '
}
# typed TEXT: sends the keys of TEXT one word at a time, as a person types (not one burst).
typed() {
  local word
  for word in $1; do
    tm send-keys -t "$SESSION" -l "$word "
    sleep 0.05
  done
}

typed_lines_and_answers() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'Hallo' Enter
  wait_screen '^< got\[Hallo\]  [0-9]+\.[0-9]{2} ms$' || return 1
  tm send-keys -t "$SESSION" 'zweite Zeile' Enter
  wait_screen '^< got\[zweite Zeile\]  [0-9]+\.[0-9]{2} ms$'
}

# Defect 1: UTF-8 typed at the prompt was dropped ("Gre aus Kln").
utf8_typed_and_shown() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" -l 'Grüße aus Köln 😀'
  tm send-keys -t "$SESSION" Enter
  wait_screen '^< got\[Grüße aus Köln 😀\]  [0-9.]+ ms$'
}

# Unsolicited data arrives while a line is half typed: it appears above, the line stays intact.
unsolicited_above_prompt() {
  mkfifo "$WORK/chat"
  exec 9<>"$WORK/chat"
  start_parley_listen chat 127.0.0.1 0 <&9 || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'half typ'
  wait_screen '^> half typ$' || return 1
  echo "broadcast from the server: Grüße 😀" >&9
  wait_screen '^\* broadcast from the server: Grüße 😀$' || return 1
  screen | grep -qx '> half typ' || fail "typed text lost: $(screen)" || return 1
  tm send-keys -t "$SESSION" 'ed' Enter
  wait_for_line "$WORK/chat.out" '^half typed$' || return 1
  exec 9>&-
}

# Defect 2: Ctrl-C did not clear what a person had typed ("should not be sent ok" went out).
ctrl_c_clears() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  typed 'should not be sent'
  wait_screen '^> should not be sent $' || return 1
  tm send-keys -t "$SESSION" C-c
  wait_screen '^> should not be sent \^C$' || return 1
  typed 'ok'
  tm send-keys -t "$SESSION" BSpace Enter
  wait_screen '^< got\[ok\]  ' || return 1
  ! scrollback | grep -q 'got\[should' || fail "the cleared line was sent: $(screen)"
}

ctrl_d_summary() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'one' Enter
  wait_screen '^< got\[one\] ' || return 1
  tm send-keys -t "$SESSION" '/stats' Enter
  wait_screen '^parley: 1 line sent, 1 answer, round trip mean' || return 1
  tm send-keys -t "$SESSION" '/help' Enter
  wait_screen '^commands: /help this list, /quit leave' || return 1
  tm send-keys -t "$SESSION" C-d
  wait_screen '^parley: 1 line sent, 1 answer, round trip mean [0-9.]+ ms, worst [0-9.]+ ms$' || return 1
  wait_screen '^EXIT=0$'
}

# Defect 3: of a pasted block, only one answer was tracked, the others shown as '*'. The server
# answers each line 200 ms later, so all three lines are out before the first answer is in.
paste_answers_each_line() {
  start_peer slow 0.2 || return 1
  start_talk 127.0.0.1 "$PPORT" || return 1
  printf 'first\nsecond\nthird\n' | tm load-buffer -
  tm paste-buffer -t "$SESSION"  # As a terminal pastes: the lines arrive at once.
  wait_screen '^[<*] got: third' || return 1
  local answers
  answers=$(scrollback | grep -E '^[<*] ' | sed -E 's/  [0-9.]+ ms$//')
  assert_eq $'< got: first\n< got: second\n< got: third' "$answers"
}

# Pasted lines whose answers all arrive in one segment, framed by --until crlf (not only by
# newline): each answer still goes to its own line.
paste_answers_one_segment_crlf() {
  start_peer batch 3 || return 1
  start_talk --until crlf 127.0.0.1 "$PPORT" || return 1
  printf 'first\nsecond\nthird\n' | tm load-buffer -
  tm paste-buffer -t "$SESSION"
  wait_screen '^[<*] got: third' || return 1
  local answers
  answers=$(scrollback | grep -E '^[<*] ' | sed -E 's/  [0-9.]+ ms$//')
  assert_eq $'< got: first\n< got: second\n< got: third' "$answers"
}

# Defect 4: answers over 4,096 bytes were cut ("..."). A typed 6,000-character line comes back whole.
long_answer_whole() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  local long
  long=$(head -c 6000 /dev/zero | tr '\0' 'x')
  tm send-keys -t "$SESSION" -l "$long"
  tm send-keys -t "$SESSION" Enter
  wait_screen "^< got\[$long\]  [0-9.]+ ms$"
}

# Defect 7: a typed line longer than the terminal, the server talking meanwhile, left stale
# copies of the prompt's rows on the screen.
wrap_while_ticking() {
  start_peer tick || return 1
  start_talk 127.0.0.1 "$PPORT" || return 1
  local long
  long=$(printf 'word%03d ' $(seq 1 30))  # 240 characters: three rows of 100
  tm send-keys -t "$SESSION" -l "$long"
  wait_screen '^\* tick 4$' || return 1
  tm send-keys -t "$SESSION" C-a  # The cursor on the first row: the rows below must go too.
  wait_screen '^\* tick 7$' || return 1
  local copies
  copies=$(scrollback | grep -c 'word001')
  assert_eq 1 "$copies" "rows of the typed line on the screen: $(screen)" || return 1
  scrollback | grep -qx "> ${long% }" || fail "typed line not shown whole: $(screen)" || return 1
  tm send-keys -t "$SESSION" Enter
  wait_screen "^< got: ${long% } *  [0-9.]+ ms$" || return 1
  # Two-column characters: the one that does not fit at the end of a row starts the next.
  local wide
  wide="x$(printf '😀%.0s' $(seq 1 70))"
  tm send-keys -t "$SESSION" -l "$wide"
  wait_screen '^\* tick 10$' || return 1
  tm send-keys -t "$SESSION" C-a
  wait_screen '^\* tick 12$' || return 1
  assert_eq 1 "$(scrollback | grep -c '^> x😀')" "rows of the wide line: $(screen)"
}

# Defect 8: after a Ctrl-R search, the first Enter did nothing and the second sent the line and
# an empty one.
ctrl_r_then_enter() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" 'recall me' Enter
  wait_screen '^< got\[recall me\] ' || return 1
  tm send-keys -t "$SESSION" 'something else' Enter
  wait_screen '^< got\[something else\] ' || return 1
  tm send-keys -t "$SESSION" C-r
  sleep 0.2
  tm send-keys -t "$SESSION" -l 'reca'
  sleep 0.2
  tm send-keys -t "$SESSION" Enter
  wait_screen '^< got\[recall me\] .*' || return 1
  [ "$(scrollback | grep -c '^< got\[recall me\]')" = 2 ] || fail "the recalled line was not sent: $(screen)" || return 1
  sleep 0.5
  ! scrollback | grep -q '^< got\[\]' || fail "an empty line was sent too: $(screen)"
}

# Defect 8: /reconnect left "> /reconnect> again" in the scrollback.
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
  wait_for_line "$WORK/back.out" '^after reconnect$' || return 1
  ! scrollback | grep -q '> /reconnect>' || fail "stale prompt: $(scrollback)"
}

# Defect 9: a line starting with / could not be sent; //text sends /text.
slash_escape() {
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1
  tm send-keys -t "$SESSION" '//nick bob' Enter
  wait_screen '^< got\[/nick bob\]  ' || return 1
  tm send-keys -t "$SESSION" '/nick bob' Enter
  wait_screen '^parley: unknown command /nick; //nick sends /nick to the server \(see /help\)$'
}

# History per server, without the slash commands.
history_per_server() {
  start_line_echo || return 1
  local first=$LPORT
  start_talk 127.0.0.1 "$first" || return 1
  tm send-keys -t "$SESSION" 'remember me' Enter
  wait_screen '^< got\[remember me\]' || return 1
  tm send-keys -t "$SESSION" '/stats' Enter
  wait_screen '^parley: 1 line sent' || return 1
  tm send-keys -t "$SESSION" C-d
  wait_screen '^EXIT=0$' || return 1
  local file="$XDG_STATE_HOME/parley/talk/127.0.0.1:$first"
  [ "$(stat -c %a "$file" 2>/dev/null)" = 600 ] || fail "no history file $file (mode 600): $(ls -lR "$XDG_STATE_HOME")" || return 1
  start_talk 127.0.0.1 "$first" || return 1
  tm send-keys -t "$SESSION" Up
  wait_screen '^> remember me$' || return 1
  tm send-keys -t "$SESSION" C-d C-u C-d
  wait_screen '^EXIT=0$' || return 1
  start_line_echo || return 1
  start_talk 127.0.0.1 "$LPORT" || return 1  # Another server: another history.
  tm send-keys -t "$SESSION" Up
  sleep 0.3
  ! screen | grep -q 'remember me' || fail "another server's history recalled: $(screen)"
}

# `parley talk` in two panes in a `parley chat` room: what the other one says appears above the
# prompt at once, the half-typed line stays, and one's own line comes back as its answer.
chat_in_two_panes() {
  local port
  port=$(free_port)
  "$PARLEY" chat 127.0.0.1 "$port" </dev/null >/dev/null 2>"$WORK/chat.err" &
  BG_PIDS+=($!)
  wait_for_line "$WORK/chat.err" 'Listening on' || return 1
  start_talk 127.0.0.1 "$port" || return 1
  local a=$SESSION
  wait_screen '^\* <announce> welcome, <user1>' "$a" || return 1
  SESSION=chat_b
  tm new-session -d -s "$SESSION" -x 100 -y 30 \
    "env LC_ALL=C.UTF-8 XDG_STATE_HOME='$XDG_STATE_HOME' $PARLEY talk 127.0.0.1 $port; sleep 30"
  wait_screen '^\* <announce> welcome, <user2>' chat_b || return 1
  wait_screen '^\* <announce> 127.0.0.1:[0-9]+ is connected as <user2>\.$' "$a" || return 1
  tm send-keys -t chat_b -l 'halb getip'
  tm send-keys -t "$a" -l 'Grüß dich, B 👋'
  tm send-keys -t "$a" Enter
  wait_screen '^< <user1> Grüß dich, B 👋  [0-9.]+ ms$' "$a" || return 1
  wait_screen '^\* <user1> Grüß dich, B 👋$' chat_b || return 1
  screen chat_b | grep -qx '> halb getip' || fail "B's half-typed line lost: $(screen chat_b)" || return 1
  tm send-keys -t chat_b -l 'pt'
  tm send-keys -t chat_b Enter
  wait_screen '^\* <user2> halb getippt$' "$a" || return 1
  tm send-keys -t chat_b '//nick bea' Enter
  wait_screen '^\* <announce> <user2> is now known as <bea>\.$' "$a" || return 1
  tm kill-session -t chat_b
}

check "terminal: lines, answers with round-trip times" typed_lines_and_answers
check "terminal: umlauts and emoji typed and shown (defect 1)" utf8_typed_and_shown
check "terminal: unsolicited data above a half-typed line" unsolicited_above_prompt
check "terminal: Ctrl-C clears the line (defect 2)" ctrl_c_clears
check "terminal: /stats, /help, Ctrl-D summary" ctrl_d_summary
check "terminal: each pasted line gets its answer (defect 3)" paste_answers_each_line
check "terminal: pasted lines, answers in one segment, --until crlf" paste_answers_one_segment_crlf
check "terminal: a 6,000-character answer shown whole (defect 4)" long_answer_whole
check "terminal: long typed line while the server ticks (defect 7)" wrap_while_ticking
check "terminal: Ctrl-R then one Enter sends once (defect 8)" ctrl_r_then_enter
check "terminal: server gone, /reconnect, no stale prompt (defect 8)" server_gone_and_reconnect
check "terminal: //text sends /text (defect 9)" slash_escape
check "terminal: history per server, no slash commands" history_per_server
check "terminal: two panes in a parley chat room" chat_in_two_panes
finish
