# parley talk without a terminal: transcripts from pipes and --script against real servers
# (parley echo, ncat, Python servers with habits: chatty, slow, mute, flooding, closing early),
# bounded memory, exit codes, and the netcat options (-U, -u, -o/-x, -v, -s, proxies).
source "$(dirname "$0")/lib.sh"
PEER="$(dirname "$0")/talk_peer.py"
export LC_ALL=C.UTF-8

# start_line_echo [ARGS...]: `parley echo --lines` answering 'got[LINE]'; sets LPORT.
start_line_echo() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 -q --lines --reply 'got[{line}]' "$@" >/dev/null 2>"$WORK/le.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/le.err" 'Listening on' || return 1
  LPORT=$(port_from "$WORK/le.err")
}

# start_peer MODE [ARG]: tests/cli/talk_peer.py in the background; sets PPORT (and PEER_ERR).
PEERS=0
start_peer() {
  PEERS=$((PEERS + 1))
  local portfile="$WORK/peer.$PEERS.port"
  PEER_ERR="$WORK/peer.$PEERS.err"
  python3 "$PEER" "$@" >"$portfile" 2>"$PEER_ERR" </dev/null &
  PEER_PID=$!
  BG_PIDS+=($PEER_PID)
  local deadline=$((SECONDS + 5))
  until [ -s "$portfile" ]; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.05; done
  PPORT=$(cat "$portfile")
}

# The transcript without round-trip times.
norm() { sed -E 's/  [0-9]+\.[0-9]{2} ms$//' "$1"; }

# max_rss_kb CMD...: runs CMD (stdin and stdout as given) and prints its peak RSS in kB on fd 3.
max_rss_kb() {
  python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=open("/dev/fd/3", "w"))
sys.exit(rc)' "$@"
}

script_transcript() {
  start_line_echo || return 1
  printf 'Hallo\nwie gehts\n' >"$WORK/lines"
  "$PARLEY" talk --script "$WORK/lines" 127.0.0.1 "$LPORT" >"$WORK/t.out" || return 1
  assert_eq $'> Hallo\n< got[Hallo]\n> wie gehts\n< got[wie gehts]' "$(norm "$WORK/t.out")"
}

script_against_ncat_sed() {
  local port
  port=$(free_port)
  bg ncat -l 127.0.0.1 "$port" -k --sh-exec 'sed -u s/^/got:/'
  wait_port "$port" || return 1
  printf 'one\ntwo\n' | "$PARLEY" talk 127.0.0.1 "$port" >"$WORK/n.out" || return 1
  assert_eq $'> one\n< got:one\n> two\n< got:two' "$(norm "$WORK/n.out")"
}

utf8_both_ways() {
  start_line_echo || return 1
  printf 'Grüße aus Köln 😀\n' | "$PARLEY" talk 127.0.0.1 "$LPORT" >"$WORK/u.out" || return 1
  assert_eq $'> Grüße aus Köln 😀\n< got[Grüße aus Köln 😀]' "$(norm "$WORK/u.out")"
}

answer_in_pieces() {
  start_peer pieces || return 1
  printf 'x\ny\n' | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/p.out" || return 1
  assert_eq $'> x\n< answer to x\n> y\n< answer to y' "$(norm "$WORK/p.out")"
}

two_answers_one_segment() {
  start_peer double || return 1
  printf 'x\n' | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/d.out" || return 1
  assert_eq $'> x\n< first x\n* second x' "$(norm "$WORK/d.out")"
}

until_modes() {
  start_peer pieces || return 1
  printf 'x\n' | "$PARLEY" talk --until idle=300ms 127.0.0.1 "$PPORT" >"$WORK/idle.out" || return 1
  assert_eq $'> x\n< answer to x' "$(norm "$WORK/idle.out")" "idle" || return 1
  start_peer pieces || return 1
  printf 'x\n' | "$PARLEY" talk --until bytes=6 --timeout 2s 127.0.0.1 "$PPORT" >"$WORK/bytes.out" || return 1
  assert_eq $'> x\n< answer' "$(head -2 "$WORK/bytes.out" | sed -E 's/  [0-9.]+ ms$//')" "bytes"
}

# The shared framer's crlf and regex (bench's --until): a multi-line SMTP-style reply written in
# pieces, with a bare LF inside its first line.
until_crlf_and_regex() {
  start_peer smtp || return 1
  printf 'a\nb\n' | "$PARLEY" talk --until 'regex=(?m)^[0-9]{3} .*\n' 127.0.0.1 "$PPORT" >"$WORK/re.out" || return 1
  assert_eq $'> a\n< 250-hello a\n< 250-bare LF\n< 250 done\n> b\n< 250-hello b\n< 250-bare LF\n< 250 done' "$(norm "$WORK/re.out")" "regex" || return 1
  start_peer smtp || return 1
  printf 'a\n' | "$PARLEY" talk --until crlf 127.0.0.1 "$PPORT" >"$WORK/crlf.out" || return 1
  assert_eq $'> a\n< 250-hello a\n< 250-bare LF\n* 250 done' "$(norm "$WORK/crlf.out")" "crlf"
}

escaped_bytes() {
  start_peer binary || return 1
  echo hi | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/e.out" || return 1
  grep -q '^< bell\\x07 nul\\x00 esc\\x1b\[2J  ' "$WORK/e.out" || fail "$(cat -A "$WORK/e.out")"
}

errors_and_exit_codes() {
  local port
  port=$(free_port)
  expect_exit 1 "parley: connect to 127.0.0.1:$port: Connection refused" "$PARLEY" talk 127.0.0.1 "$port" || return 1
  expect_exit 2 "parley: talk: --until takes newline, crlf, idle=TIME, bytes=N, regex=RE or none" "$PARLEY" talk --until lines 127.0.0.1 1 || return 1
  # http frames one response to a request of several lines: bench http's, not talk's.
  expect_exit 2 "parley: talk: --until takes newline, crlf, idle=TIME, bytes=N, regex=RE or none" "$PARLEY" talk --until http 127.0.0.1 1 || return 1
  expect_exit 2 "parley: talk: --until takes newline, crlf, idle=TIME, bytes=N, regex=RE or none: missing closing parenthesis at offset 3" "$PARLEY" talk --until 'regex=a(b' 127.0.0.1 1 || return 1
  expect_exit 2 "parley: talk: --until bytes=N takes at most 1048576 bytes" "$PARLEY" talk --until bytes=2000000 127.0.0.1 1 || return 1
  expect_exit 2 "parley: talk: -U takes the socket path; drop the host and port arguments" "$PARLEY" talk -U "$WORK/s" 127.0.0.1 1 || return 1
  expect_exit 2 "parley: talk: proxies carry TCP only; drop -u or the proxy" "$PARLEY" talk -u --proxy 127.0.0.1:1 127.0.0.1 1 || return 1
  # A server that never answers: timeout, exit 1.
  start_parley_listen mute 127.0.0.1 0 < <(sleep 10) || return 1
  local rc=0
  echo hello | "$PARLEY" talk --timeout 500ms 127.0.0.1 "$LPORT" >/dev/null 2>"$WORK/to.err" || rc=$?
  assert_eq 1 "$rc" "timeout exit" || return 1
  grep -qx 'parley: no answer to "hello" within 500 ms' "$WORK/to.err" || fail "$(cat "$WORK/to.err")"
}

# Defect 5: talk blocked in getline and read nothing from the socket meanwhile: the answer to
# "again" never showed and ticks were lost. The server ticks every 300 ms.
chatty_server_read_all_along() {
  start_peer tick || return 1
  (echo hello; sleep 1.2; echo again; sleep 1.2) | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/c.out" || return 1
  assert_eq $'> hello\n< got: hello' "$(norm "$WORK/c.out" | head -2)" || return 1
  grep -Eq '^< got: again  [0-9.]+ ms$' "$WORK/c.out" || fail "no answer to again: $(cat "$WORK/c.out")" || return 1
  local ticks
  ticks=$(grep -Eo '^\* tick [0-9]+$' "$WORK/c.out" | grep -Eo '[0-9]+$' | tr '\n' ' ')
  assert_eq "1 2 3 4 5 6 7 8 " "$ticks" "every tick, in order"
}

# Defect 6: --until none showed 1 of 3 answers of a server that answers 5 ms later, exit 0.
until_none_shows_everything() {
  start_peer slow 0.005 || return 1
  printf 'a\nb\nc\n' | "$PARLEY" talk --until none 127.0.0.1 "$PPORT" >"$WORK/none.out" || return 1
  assert_eq $'> a\n> b\n> c\n* got: a\n* got: b\n* got: c' "$(cat "$WORK/none.out")"
}

# A slow server: each line waits for its answer (lock-step), none is lost; --timeout ends it.
slow_server() {
  start_peer slow 0.3 || return 1
  printf 'a\nb\nc\n' | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/slow.out" || return 1
  assert_eq $'> a\n< got: a\n> b\n< got: b\n> c\n< got: c' "$(norm "$WORK/slow.out")" || return 1
  start_peer slow 0.3 || return 1
  local rc=0
  printf 'a\nb\n' | "$PARLEY" talk --timeout 100ms 127.0.0.1 "$PPORT" >/dev/null 2>"$WORK/slow.err" || rc=$?
  assert_eq 1 "$rc" "exit" && assert_eq 'parley: no answer to "a" within 100 ms' "$(cat "$WORK/slow.err")"
}

# Defect 4: lines over 4,096 bytes were cut. A 100 kB line goes out and comes back whole.
hundred_kb_lines() {
  start_line_echo --max-line 1048576 || return 1
  head -c 100000 /dev/zero | tr '\0' 'z' >"$WORK/long"
  echo >>"$WORK/long"
  "$PARLEY" talk 127.0.0.1 "$LPORT" <"$WORK/long" >"$WORK/long.out" || return 1
  local want
  want=$(head -c 100000 /dev/zero | tr '\0' 'z')
  assert_eq "> $want" "$(sed -n 1p "$WORK/long.out")" "line sent" || return 1
  assert_eq "< got[$want]" "$(norm "$WORK/long.out" | sed -n 2p)" "answer"
}

# Issue 18: an answer without a line end grew without bound, rescanned on every read. 100 MB of
# it now arrives in ~1 MiB pieces, every byte shown, in bounded memory and linear time.
endless_answer_bounded() {
  start_peer flood 100000000 || return 1
  local rc=0
  echo x | max_rss_kb timeout 20 "$PARLEY" talk --timeout 20s 127.0.0.1 "$PPORT" >"$WORK/flood.out" 3>"$WORK/flood.rss" || rc=$?
  assert_eq 0 "$rc" "exit" || return 1
  assert_eq "> x" "$(sed -n 1p "$WORK/flood.out")" || return 1
  sed -n 2p "$WORK/flood.out" | grep -Eq '^< a+$' || fail "first piece: $(sed -n 2p "$WORK/flood.out" | cut -c1-40)" || return 1
  assert_eq 0 "$(tail -n +3 "$WORK/flood.out" | grep -Evc '^\+ a+(  [0-9.]+ ms)?$')" "further pieces marked +" || return 1
  [ "$(wc -l <"$WORK/flood.out")" -gt 50 ] || fail "$(wc -l <"$WORK/flood.out") pieces" || return 1
  assert_eq 100000000 "$(tr -cd a <"$WORK/flood.out" | wc -c)" "bytes shown" || return 1
  grep -Eq '^\+ a+  [0-9.]+ ms$' "$WORK/flood.out" || fail "no round trip on the last piece" || return 1
  [ "${PARLEY_SANITIZED:-0}" = 1 ] || [ "$(cat "$WORK/flood.rss")" -lt 65536 ] ||
    fail "peak RSS $(cat "$WORK/flood.rss") kB"
}

# A line over 1 MiB to an echo server: its echo comes back while its end is still going out. The
# echo was "unsolicited", JSON kept only the line's last piece, and text mode marked received
# pieces + as if they continued the sent line. Each direction's pieces now add up, apart.
long_line_echoed() {
  start_echo le -q --threads 1 || return 1
  python3 -c 'import sys; sys.stdout.buffer.write(b"C" * (3 * 1048576 + 5) + b"\nend\n")' >"$WORK/le.in"
  "$PARLEY" talk --json 127.0.0.1 "$EPORT" <"$WORK/le.in" >"$WORK/le.json" || return 1
  python3 - "$WORK/le.json" <<'PY' || return 1
import json, sys
sent = answer = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert "unsolicited" not in o, "the echo was taken as unsolicited"
    if o.get("more"):
        assert len(o.get("sent", o.get("answer"))) == 1048576, o.keys()
    sent += len(o.get("sent", "")); answer += len(o.get("answer", ""))
assert (sent, answer) == (3 * 1048576 + 8, 3 * 1048576 + 8), (sent, answer)
assert o == {"sent": "end", "answer": "end", "rtt_ms": o["rtt_ms"]}, o
PY
  "$PARLEY" talk 127.0.0.1 "$EPORT" <"$WORK/le.in" >"$WORK/le.txt" || return 1
  python3 - "$WORK/le.txt" <<'PY'
import sys
size = {">": 0, "<": 0}
way = None
for line in open(sys.argv[1]):
    mark, _, rest = line.rstrip("\n").partition(" ")
    assert mark in (">", "<", "+", ">+", "<+"), mark
    way = way if mark == "+" else mark[0]
    size[way] += len(rest.split("  ")[0])  # Without the round trip time.
assert size == {">": 3 * 1048576 + 8, "<": 3 * 1048576 + 8}, size
PY
}

# Issue 18: input without a line end (/dev/zero) grew to hundreds of MB. It goes out in pieces.
endless_input_bounded() {
  start_peer sink || return 1
  local rc=0
  head -c 50000000 /dev/zero | max_rss_kb "$PARLEY" talk --timeout 300ms 127.0.0.1 "$PPORT" >"$WORK/zero.out" 2>"$WORK/zero.err" 3>"$WORK/zero.rss" || rc=$?
  assert_eq 1 "$rc" "exit (the line got no answer)" || return 1
  wait_exit "$PEER_PID" 10 || return 1
  assert_eq 50000001 "$(cat "$PEER_ERR")" "bytes the server got" || return 1
  assert_eq "1 47" "$(grep -c '^> ' "$WORK/zero.out") $(grep -c '^+ ' "$WORK/zero.out")" "pieces shown" || return 1
  [ "${PARLEY_SANITIZED:-0}" = 1 ] || [ "$(cat "$WORK/zero.rss")" -lt 65536 ] ||
    fail "peak RSS $(cat "$WORK/zero.rss") kB"
}

# Issue 18: a 30 MB line to a server that never reads blocked past --timeout.
server_that_never_reads() {
  start_peer mute || return 1
  head -c 30000000 /dev/zero | tr '\0' 'm' >"$WORK/30mb"
  echo >>"$WORK/30mb"
  local rc=0 start=$SECONDS
  timeout 20 "$PARLEY" talk --timeout 1s 127.0.0.1 "$PPORT" <"$WORK/30mb" >/dev/null 2>"$WORK/mute.err" || rc=$?
  assert_eq 1 "$rc" "exit" || return 1
  [ $((SECONDS - start)) -le 5 ] || fail "took $((SECONDS - start)) s" || return 1
  grep -Eq "^parley: send to 127.0.0.1:$PPORT: stalled: the server has read nothing for 1000 ms \([0-9]+ bytes not sent\)$" "$WORK/mute.err" ||
    fail "$(cat "$WORK/mute.err")"
}

# Issue 18: --timeout over ~24.8 days wrapped around to "no answer" at once.
timeout_of_weeks() {
  start_peer slow 0.2 || return 1
  echo a | "$PARLEY" talk --timeout 600h 127.0.0.1 "$PPORT" >"$WORK/weeks.out" 2>"$WORK/weeks.err" || { fail "exit $?: $(cat "$WORK/weeks.err")"; return 1; }
  assert_eq $'> a\n< got: a' "$(norm "$WORK/weeks.out")"
}

# Issue 18: a server that answers "partial" and closes gave exit 0 with lines unsent.
closed_before_all_sent() {
  start_peer partial || return 1
  local rc=0
  printf 'a\nb\nc\n' | "$PARLEY" talk 127.0.0.1 "$PPORT" >"$WORK/partial.out" 2>"$WORK/partial.err" || rc=$?
  assert_eq 1 "$rc" "exit" || return 1
  assert_eq $'> a\n< partial' "$(norm "$WORK/partial.out")" || return 1
  assert_eq "parley: connection closed by the server; the rest of the input was not sent" "$(cat "$WORK/partial.err")"
}

# Issue 18: --script DIR exited 0 silently; a missing script was found only after connecting.
script_checked_first() {
  local port
  port=$(free_port)  # Nothing listens: the script must be checked before connecting.
  expect_exit 2 "parley: talk: cannot read $WORK: Is a directory" "$PARLEY" talk --script "$WORK" 127.0.0.1 "$port" || return 1
  expect_exit 2 "parley: talk: cannot read $WORK/none.txt: No such file or directory" "$PARLEY" talk --script "$WORK/none.txt" 127.0.0.1 "$port"
}

unix_socket() {
  python3 "$PEER" -U "$WORK/peer.sock" double >/dev/null 2>&1 </dev/null &
  BG_PIDS+=($!)
  local deadline=$((SECONDS + 5))
  until [ -S "$WORK/peer.sock" ]; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.05; done
  printf 'x\n' | "$PARLEY" talk -U "$WORK/peer.sock" >"$WORK/unix.out" || return 1
  assert_eq $'> x\n< first x\n* second x' "$(norm "$WORK/unix.out")" || return 1
  expect_exit 1 "parley: connect to $WORK/none.sock: No such file or directory" "$PARLEY" talk -U "$WORK/none.sock"
}

# UDP: a datagram per line, an answer is a datagram.
udp() {
  "$PARLEY" echo -u -p 0 --bind 127.0.0.1 >/dev/null 2>"$WORK/ue.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/ue.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/ue.err")
  printf 'eins\nzwei 😀\n' | "$PARLEY" talk -u 127.0.0.1 "$port" >"$WORK/udp.out" || return 1
  assert_eq $'> eins\n< eins\n> zwei 😀\n< zwei 😀' "$(norm "$WORK/udp.out")" || return 1
  head -c 70000 /dev/zero | tr '\0' u >"$WORK/big.line"
  expect_exit 2 "parley: send to 127.0.0.1:$port: a line of 70000 bytes does not fit in a datagram" "$PARLEY" talk -u 127.0.0.1 "$port" --script "$WORK/big.line" || return 1
  local closed
  closed=$(python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local rc=0
  echo a | "$PARLEY" talk -u 127.0.0.1 "$closed" >/dev/null 2>"$WORK/ur.err" || rc=$?
  assert_eq 1 "$rc" "exit" && assert_eq "parley: connection to 127.0.0.1:$closed: Connection refused" "$(cat "$WORK/ur.err")"
}

# -o and -x: connect's traffic logs, the same files.
traffic_logs() {
  start_line_echo || return 1
  printf 'Hallo\nGrüße\n' | "$PARLEY" talk -o "$WORK/t.log" -x "$WORK/t.hex" 127.0.0.1 "$LPORT" >/dev/null || return 1
  assert_eq $'Hallo\ngot[Hallo]\nGrüße\ngot[Grüße]' "$(cat "$WORK/t.log")" || return 1
  assert_eq "> 0000   48 61 6c 6c 6f 0a                                 Hallo.          " "$(head -1 "$WORK/t.hex")" || return 1
  assert_eq "< 0000   67 6f 74 5b 48 61 6c 6c  6f 5d 0a                 got[Hallo].     " "$(sed -n 2p "$WORK/t.hex")" || return 1
  printf 'more\n' | "$PARLEY" talk -o "$WORK/t.log" --append-output 127.0.0.1 "$LPORT" >/dev/null || return 1
  assert_eq 'got[more]' "$(tail -1 "$WORK/t.log")" || return 1
  expect_exit 2 "parley: talk: -o and -x name the same file" "$PARLEY" talk -o "$WORK/same" -x "$WORK/same" 127.0.0.1 "$LPORT"
}

# -v says what happens; -s picks the source address.
verbose_and_source() {
  "$PARLEY" echo -p 0 --bind 127.0.0.1 -q --lines --reply 'from {peer}' >/dev/null 2>"$WORK/pe.err" </dev/null &
  BG_PIDS+=($!)
  wait_for_line "$WORK/pe.err" 'Listening on' || return 1
  local port
  port=$(port_from "$WORK/pe.err")
  echo hi | "$PARLEY" talk -v -s 127.0.0.2 127.0.0.1 "$port" >"$WORK/v.out" 2>"$WORK/v.err" || return 1
  grep -Eq '^< from 127\.0\.0\.2:[0-9]+  ' "$WORK/v.out" || fail "source: $(cat "$WORK/v.out")" || return 1
  assert_eq "parley: Connected to 127.0.0.1:$port." "$(sed -n 1p "$WORK/v.err")" || return 1
  grep -Eq '^parley: 1 line sent, 1 answer, round trip mean [0-9.]+ ms, worst [0-9.]+ ms$' "$WORK/v.err" || fail "$(cat "$WORK/v.err")" || return 1
  grep -Eq '^parley: 3 bytes sent, 2[0-9] bytes received in [0-9.]+ seconds\.$' "$WORK/v.err" || fail "$(cat "$WORK/v.err")"
}

# --json (issue 19): one object per answer with what was sent; bytes that are not UTF-8 kept as hex.
json_transcript() {
  start_line_echo || return 1
  local port=$LPORT
  printf 'Hallo\nwie\xff\n' | "$PARLEY" talk --json 127.0.0.1 "$port" >"$WORK/js.out" || return 1
  assert_eq '{"sent":"Hallo","answer":"got[Hallo]","rtt_ms":R}
{"sent":"wie�","sent_hex":"776965ff","answer":"got[wie�]","answer_hex":"676f745b776965ff5d","rtt_ms":R}' \
    "$(sed -E 's/"rtt_ms":[0-9.]+/"rtt_ms":R/' "$WORK/js.out")" || return 1
  printf 'a\n' | "$PARLEY" talk --json --until none 127.0.0.1 "$port" >"$WORK/jn.out" || return 1
  assert_eq $'{"sent":"a"}\n{"unsolicited":"got[a]"}' "$(cat "$WORK/jn.out")" || return 1
  expect_exit 2 "parley: talk: --json excludes --no-history" "$PARLEY" talk --json --no-history 127.0.0.1 "$port"
}

# Through an HTTP CONNECT proxy (ncat's), and a proxy that is not there.
through_proxy() {
  have ncat || { echo "    (ncat not installed: not tested)"; return 0; }
  start_line_echo || return 1
  local proxy dead
  proxy=$(free_port)
  bg ncat -lk 127.0.0.1 "$proxy" --proxy-type http </dev/null >/dev/null 2>&1
  wait_port "$proxy" || return 1
  echo 'via proxy' | "$PARLEY" talk --proxy "127.0.0.1:$proxy" --proxy-type http 127.0.0.1 "$LPORT" >"$WORK/px.out" || return 1
  assert_eq $'> via proxy\n< got[via proxy]' "$(norm "$WORK/px.out")" || return 1
  dead=$(free_port)
  expect_exit 1 "parley: connect to 127.0.0.1:$LPORT through proxy 127.0.0.1:$dead: cannot reach the proxy: Connection refused" \
    "$PARLEY" talk --proxy "127.0.0.1:$dead" 127.0.0.1 "$LPORT"
}

# A transcript that cannot be written is an error (issue 18), a closed pipe is not.
output_faults() {
  start_line_echo || return 1
  local rc=0
  echo hi | "$PARLEY" talk 127.0.0.1 "$LPORT" >/dev/full 2>"$WORK/full.err" || rc=$?
  assert_eq 1 "$rc" "exit with /dev/full" || return 1
  assert_eq "parley: cannot write output: No space left on device" "$(cat "$WORK/full.err")" || return 1
  rc=0
  printf 'a\nb\n' | "$PARLEY" talk 127.0.0.1 "$LPORT" 2>"$WORK/pipe.err" | head -c 0 || rc=$?
  assert_eq "" "$(cat "$WORK/pipe.err")" "closed pipe: nothing said"
}

check "script: transcript against parley echo --lines" script_transcript
check "script: ncat --sh-exec sed" script_against_ncat_sed
check "umlauts and emoji both ways" utf8_both_ways
check "answer split over segments" answer_in_pieces
check "two answers in one segment" two_answers_one_segment
check "--until idle, bytes" until_modes
check "--until crlf, regex=RE" until_crlf_and_regex
check "non-printable bytes escaped" escaped_bytes
check "usage errors, refused, timeout: exit codes" errors_and_exit_codes
check "chatty server: socket read all along (defect 5)" chatty_server_read_all_along
check "--until none shows every answer (defect 6)" until_none_shows_everything
check "slow server: lock-step, --timeout" slow_server
check "100 kB lines whole both ways (defect 4)" hundred_kb_lines
check "a line over 1 MiB echoed: each direction whole, in JSON and text" long_line_echoed
check "endless answer: pieces, bounded memory (issue 18)" endless_answer_bounded
check "endless input: pieces, bounded memory (issue 18)" endless_input_bounded
check "server that never reads: --timeout ends it (issue 18)" server_that_never_reads
check "--timeout of weeks does not wrap (issue 18)" timeout_of_weeks
check "server closes before the input is sent: exit 1 (issue 18)" closed_before_all_sent
check "--script checked before connecting (issue 18)" script_checked_first
check "-U: Unix socket" unix_socket
check "-u: a datagram per line" udp
check "-o/-x traffic logs" traffic_logs
check "-v and -s" verbose_and_source
check "--json: an object per answer" json_transcript
check "--proxy" through_proxy
check "output faults: /dev/full, closed pipe" output_faults
finish
