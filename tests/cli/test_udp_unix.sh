# UDP (-u), Unix stream (-U) and Unix datagram (-U -u) sockets for connect and listen.
source "$(dirname "$0")/lib.sh"

udp_roundtrip() {
  start_parley_listen u1 -u 127.0.0.1 0 < <(sleep 0.3; echo pong; sleep 4) || return 1
  local out
  out=$(echo ping | timeout 5 "$PARLEY" connect -u 127.0.0.1 "$LPORT") || return 1
  assert_eq "pong" "$out" "client got" || return 1
  wait_for_line "$WORK/u1.out" '^ping$' || return 1
  grep -Eqx 'parley: Connection from 127\.0\.0\.1:[0-9]+\.' "$WORK/u1.err" || fail "no peer line"
}

udp_refused() {
  local port
  port=$(free_port)
  # The ICMP port-unreachable comes back as ECONNREFUSED on the connected socket.
  expect_exit 1 "parley: Connection refused." sh -c "echo x | '$PARLEY' connect -u -i 2s 127.0.0.1 $port"
}

udp_keep_open_many_peers() {
  mkfifo "$WORK/uin"
  exec 8<>"$WORK/uin"
  start_parley_listen uk -u -k 127.0.0.1 0 <&8 || return 1
  local i
  for i in 1 2; do
    "$PARLEY" connect -u -i 3s 127.0.0.1 "$LPORT" >"$WORK/uc$i.out" < <(echo "hello $i"; sleep 3) &
    BG_PIDS+=($!)
  done
  wait_for_line "$WORK/uk.out" '^hello 1$' && wait_for_line "$WORK/uk.out" '^hello 2$' || return 1
  echo "all of you" >&8
  for i in 1 2; do wait_for_line "$WORK/uc$i.out" '^all of you$' || return 1; done
  exec 8>&-
}

udp_binary_datagram() {
  head -c 1400 /dev/urandom >"$WORK/dgram"
  start_parley_listen ub -u 127.0.0.1 0 </dev/null || return 1
  timeout 5 "$PARLEY" connect -u 127.0.0.1 "$LPORT" <"$WORK/dgram" || return 1
  sleep 0.2
  assert_eq "$(sha "$WORK/dgram")" "$(sha "$WORK/ub.out")" "datagram bytes"
}

unix_roundtrip() {
  local path="$WORK/s.sock"
  "$PARLEY" listen -v -U "$path" >"$WORK/x.out" 2>"$WORK/x.err" < <(echo "from server") &
  local pid=$!
  wait_for_line "$WORK/x.err" "^parley: Listening on $path\$" || return 1
  local out
  out=$(echo "from client" | timeout 5 "$PARLEY" connect -U "$path") || return 1
  assert_eq "from server" "$out" || return 1
  wait_exit $pid 5 || return 1
  assert_eq "from client" "$(cat "$WORK/x.out")" || return 1
  [ ! -e "$path" ] || fail "socket file left behind"
}

unix_stale_file_replaced_live_one_refused() {
  local path="$WORK/stale.sock"
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$path"
  [ -S "$path" ] || fail "no stale socket made" || return 1
  "$PARLEY" listen -v -U "$path" >/dev/null 2>"$WORK/st.err" </dev/null &
  local pid=$!
  BG_PIDS+=($pid)
  wait_for_line "$WORK/st.err" "Listening on" || return 1
  expect_exit 2 "parley: listen: cannot listen on $path: Address already in use" "$PARLEY" listen -U "$path"
}

unix_socat_interop() {
  local path="$WORK/so.sock"
  "$PARLEY" listen -v -U "$path" >"$WORK/so.out" 2>"$WORK/so.err" </dev/null &
  local pid=$!
  wait_for_line "$WORK/so.err" "Listening on" || return 1
  echo "via socat" | timeout 5 socat - UNIX-CONNECT:"$path" || return 1
  wait_exit $pid 5 && assert_eq "via socat" "$(cat "$WORK/so.out")"
}

unix_connect_missing() {
  expect_exit 1 "parley: connect to $WORK/none.sock: No such file or directory" "$PARLEY" connect -U "$WORK/none.sock"
}

# Unix datagram sockets (-U -u): the client autobinds an abstract name, so the server can answer.
unix_dgram_roundtrip() {
  local path="$WORK/d.sock"
  start_parley_listen ud -U "$path" -u < <(sleep 0.5; echo "from server"; sleep 4) || return 1
  [ -S "$path" ] || fail "no socket file" || return 1
  local out
  out=$(echo "from client" | timeout 5 "$PARLEY" connect -U "$path" -u) || return 1
  assert_eq "from server" "$out" "client got" || return 1
  wait_for_line "$WORK/ud.out" '^from client$' || return 1
  grep -Eqx 'parley: Connection from @[0-9a-f]+\.' "$WORK/ud.err" || fail "peer line: $(cat "$WORK/ud.err")"
}

unix_dgram_binary_and_stale() {
  local path="$WORK/db.sock"
  # A stale datagram socket file (its owner is gone) is replaced.
  python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])" "$path"
  head -c 3000 /dev/urandom >"$WORK/ddata"
  start_parley_listen udb -U "$path" -u </dev/null || return 1
  # While it runs, a second listener on the same path is refused, whichever socket type it asks.
  expect_exit 2 "parley: listen: cannot listen on $path: Address already in use" "$PARLEY" listen -U "$path" -u || return 1
  expect_exit 2 "parley: listen: cannot listen on $path: Address already in use" "$PARLEY" listen -U "$path" || return 1
  timeout 5 "$PARLEY" connect -U "$path" -u -i 300ms <"$WORK/ddata" || return 1
  sleep 0.2
  assert_eq "$(sha "$WORK/ddata")" "$(sha "$WORK/udb.out")" "datagram bytes"
}

# An unbound sender (socat UNIX-SENDTO) has no address to answer: its data is shown, with a note.
unix_dgram_unnamed_sender() {
  local path="$WORK/du.sock"
  start_parley_listen udu -U "$path" -u </dev/null || return 1
  echo "anonymous" | timeout 5 socat - UNIX-SENDTO:"$path" || return 1
  wait_for_line "$WORK/udu.out" '^anonymous$' || return 1
  grep -qF "parley: the sender's socket has no name (it was never bound): its datagrams are shown, but nothing can be sent back" "$WORK/udu.err" ||
    fail "no note: $(cat "$WORK/udu.err")"
}

unix_dgram_ncat_interop() {
  local path="$WORK/dn.sock"
  ncat -l -U -u "$path" >"$WORK/dn.out" 2>"$WORK/dn.err" < <(sleep 0.5; echo "from ncat"; sleep 4) &
  BG_PIDS+=($!)
  local i
  for i in $(seq 50); do [ -S "$path" ] && break; sleep 0.05; done
  local out
  out=$(echo "from parley" | timeout 5 "$PARLEY" connect -U "$path" -u -i 1500ms) || return 1
  assert_eq "from ncat" "$out" "parley got" || return 1
  wait_for_line "$WORK/dn.out" '^from parley$'
}

# SIGTERM or SIGHUP while waiting for a client must not leave the socket file behind. (SIGINT is
# handled alike, but a script's background job inherits it ignored, and parley respects that.)
unix_file_removed_on_signal() {
  local mode sig path pid rc
  use_quiet_input
  for mode in stream dgram; do
    for sig in TERM HUP; do
      path="$WORK/sig-$mode-$sig.sock"
      local args=(-U "$path")
      [ $mode = dgram ] && args+=(-u)
      "$PARLEY" listen "${args[@]}" >/dev/null 2>&1 <"$QUIET" &
      pid=$!
      BG_PIDS+=($pid)
      for _ in $(seq 100); do [ -S "$path" ] && break; sleep 0.05; done
      [ -S "$path" ] || fail "$mode: no socket file" || return 1
      kill -$sig $pid
      rc=0
      wait $pid || rc=$?
      assert_eq $((128 + $(kill -l $sig))) "$rc" "$mode SIG$sig: exit status" || return 1
      [ ! -e "$path" ] || fail "$mode SIG$sig: socket file left behind" || return 1
    done
  done
}

# listen -U removes only the socket it created: not a regular file put there since, nor a second
# server's socket after ours was replaced (issue 18, item 12).
unix_unlinks_only_its_own() {
  use_quiet_input
  local path=$WORK/own.sock pid
  "$PARLEY" listen -U "$path" >/dev/null 2>&1 <"$QUIET" &
  pid=$!
  BG_PIDS+=($pid)
  for _ in $(seq 100); do [ -S "$path" ] && break; sleep 0.05; done
  rm "$path" && echo "precious" >"$path"
  kill -TERM $pid
  wait $pid 2>/dev/null
  assert_eq precious "$(cat "$path" 2>/dev/null)" "a regular file at the path survives" || return 1
  rm -f "$path"
  "$PARLEY" listen -U "$path" >/dev/null 2>&1 <"$QUIET" &
  local first=$!
  BG_PIDS+=($first)
  for _ in $(seq 100); do [ -S "$path" ] && break; sleep 0.05; done
  rm "$path"
  "$PARLEY" listen -U "$path" >"$WORK/second.out" 2>&1 <"$QUIET" &
  BG_PIDS+=($!)
  for _ in $(seq 100); do [ -S "$path" ] && break; sleep 0.05; done
  kill -TERM $first
  wait $first 2>/dev/null
  [ -S "$path" ] || fail "the second server's socket was removed" || return 1
  echo "to the second" | timeout 5 "$PARLEY" connect -U "$path" >/dev/null || return 1
  wait_for_line "$WORK/second.out" '^to the second$'
}

check "UDP: datagram each way" udp_roundtrip
check "UDP: refused port, exit 1" udp_refused
check "UDP -k: two peers, broadcast" udp_keep_open_many_peers
check "UDP: binary datagram intact" udp_binary_datagram
check "Unix: both ways, file removed at exit" unix_roundtrip
check "Unix: stale file replaced, live one refused" unix_stale_file_replaced_live_one_refused
check "Unix: socat client" unix_socat_interop
check "Unix: missing path, exit 1" unix_connect_missing
check "Unix: SIGTERM/SIGHUP while waiting remove the socket file" unix_file_removed_on_signal
check "Unix: only our own socket file is removed" unix_unlinks_only_its_own
check "Unix datagram: both ways, client autobinds" unix_dgram_roundtrip
check "Unix datagram: binary intact, stale file replaced, live one refused" unix_dgram_binary_and_stale
check "Unix datagram: unnamed sender received, told why no reply" unix_dgram_unnamed_sender
check "Unix datagram: ncat listener" unix_dgram_ncat_interop
finish
