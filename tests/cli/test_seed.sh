# The seed assignment's own programs (tests/seed/, from ../shared/seed/) against parley, as the
# README shows them: its client against parley's servers, parley's clients against its server.
source "$(dirname "$0")/lib.sh"
SEED=$(cd "$(dirname "$0")/../seed" && pwd)

# The client sends "Hallo" without a newline and waits in recv(): the server must answer each
# chunk, not wait for a line end.
seed_client_vs_echo() {
  local reply out n=0
  for reply in 'You told me: {line}' 'server got: {line}'; do
    n=$((n + 1))
    start_echo "sc$n" --reply "$reply" || return 1
    out=$(printf 'Hallo\n\n' | timeout 5 python3 "$SEED/network-client.py" "$EPORT") || return 1
    assert_eq "Eingabe: Response from server: ${reply/\{line\}/Hallo}" "$(echo "$out" | head -1)" \
      "seed client against echo --reply '$reply'" || return 1
    kill "$EPID"
  done
  start_echo raw || return 1
  out=$(printf 'Hallo\n\n' | timeout 5 python3 "$SEED/network-client.py" "$EPORT") || return 1
  assert_eq "Eingabe: Response from server: Hallo" "$(echo "$out" | head -1)" "seed client against echo"
}

# parley's line client and netcat client against the seed's multi-threaded server.
parley_vs_seed_server() {
  local port
  port=$(free_port)
  python3 "$SEED/network-server-threaded.py" "$port" >"$WORK/seed.out" 2>&1 &
  BG_PIDS+=($!)
  wait_port "$port" || return 1
  local out
  out=$(printf 'Hallo\n' | timeout 5 "$PARLEY" talk 127.0.0.1 "$port") || return 1
  echo "$out" | grep -Eq '^< You told me: Hallo  [0-9.]+ ms$' || fail "talk transcript: $out" || return 1
  out=$(printf 'Hallo\n' | timeout 5 "$PARLEY" connect -i 1s 127.0.0.1 "$port")
  assert_eq "You told me: Hallo" "$out" "connect against the seed's server"
}

check "the seed's client against parley echo (--reply, raw)" seed_client_vs_echo
check "parley talk and connect against the seed's threaded server" parley_vs_seed_server
finish
