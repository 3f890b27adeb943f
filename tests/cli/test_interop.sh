# Interoperability with the real tools from Debian: parley's client against ncat, socat and
# OpenBSD nc servers, their clients against parley's server, in both directions, with a text and
# a binary payload; the bytes must arrive unchanged (sha256).
source "$(dirname "$0")/lib.sh"

printf 'Hallo\nserver got: Hallo\r\nline with tab\tand UTF-8: grüß dich\n' >"$WORK/text"
head -c $((4 << 20)) /dev/urandom >"$WORK/binary"

# peer_server TOOL DIRECTION PORT FILE: start TOOL listening on 127.0.0.1:PORT that either
# receives into FILE (recv) or sends FILE (send).
peer_server() {
  local tool=$1 dir=$2 port=$3 file=$4
  case "$tool:$dir" in
    ncat:recv) bg ncat -l 127.0.0.1 "$port" --recv-only >"$file" ;;
    ncat:send) bg ncat -l 127.0.0.1 "$port" --send-only <"$file" ;;
    nc.openbsd:recv) bg nc.openbsd -l 127.0.0.1 "$port" >"$file" </dev/null ;;
    nc.openbsd:send) bg nc.openbsd -N -l 127.0.0.1 "$port" <"$file" ;;
    socat:recv) bg socat -u TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr CREATE:"$file" ;;
    socat:send) bg socat -u FILE:"$file" TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr ;;
  esac
  wait_port "$port"
}

# peer_client TOOL DIRECTION PORT FILE: TOOL connects and sends FILE (send) or receives into it.
peer_client() {
  local tool=$1 dir=$2 port=$3 file=$4
  case "$tool:$dir" in
    ncat:send) timeout 20 ncat --send-only 127.0.0.1 "$port" <"$file" ;;
    ncat:recv) timeout 20 ncat --recv-only 127.0.0.1 "$port" >"$file" ;;
    nc.openbsd:send) timeout 20 nc.openbsd -N 127.0.0.1 "$port" <"$file" ;;
    nc.openbsd:recv) timeout 20 nc.openbsd -d 127.0.0.1 "$port" >"$file" ;;
    socat:send) timeout 20 socat -u FILE:"$file" TCP:127.0.0.1:"$port" ;;
    socat:recv) timeout 20 socat -u TCP:127.0.0.1:"$port" CREATE:"$file" ;;
  esac
}

# parley connects to TOOL's server; payload goes parley -> TOOL, then TOOL -> parley.
parley_client_vs() {
  local tool=$1 payload=$2 port out="$WORK/$1.$2.out"
  port=$(free_port)
  peer_server "$tool" recv "$port" "$out" || return 1
  timeout 20 "$PARLEY" connect 127.0.0.1 "$port" <"$WORK/$payload" >/dev/null || fail "parley send" || return 1
  wait_exit "${BG_PIDS[-1]}" 10 || return 1
  assert_eq "$(sha "$WORK/$payload")" "$(sha "$out")" "parley -> $tool" || return 1
  port=$(free_port)
  peer_server "$tool" send "$port" "$WORK/$payload" || return 1
  timeout 20 "$PARLEY" connect --recv-only 127.0.0.1 "$port" >"$out.back" || fail "parley recv" || return 1
  assert_eq "$(sha "$WORK/$payload")" "$(sha "$out.back")" "$tool -> parley"
}

# TOOL connects to parley's server; payload goes TOOL -> parley, then parley -> TOOL.
peer_client_vs_parley() {
  local tool=$1 payload=$2 out="$WORK/p.$1.$2.out"
  start_parley_listen "srv.$tool.$payload" --recv-only 127.0.0.1 0 || return 1
  peer_client "$tool" send "$LPORT" "$WORK/$payload" || fail "$tool send" || return 1
  wait_exit "$LPID" 10 || return 1
  assert_eq "$(sha "$WORK/$payload")" "$(sha "$WORK/srv.$tool.$payload.out")" "$tool -> parley" || return 1
  start_parley_listen "snd.$tool.$payload" --send-only 127.0.0.1 0 <"$WORK/$payload" || return 1
  peer_client "$tool" recv "$LPORT" "$out" || fail "$tool recv" || return 1
  assert_eq "$(sha "$WORK/$payload")" "$(sha "$out")" "parley -> $tool"
}

for tool in ncat socat nc.openbsd; do
  if ! have "$tool"; then
    echo "FAIL $tool is not installed (scripts/install-deps.sh installs it)"
    FAILED=$((FAILED + 1))
    continue
  fi
  for payload in text binary; do
    check "parley client <-> $tool server ($payload)" parley_client_vs "$tool" "$payload"
    check "$tool client <-> parley server ($payload)" peer_client_vs_parley "$tool" "$payload"
  done
done
finish
