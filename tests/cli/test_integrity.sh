# 1 GiB of random bytes through parley connect -> parley listen and back, with files (sendfile,
# splice through a private pipe), with pipes (direct splice), and into an O_APPEND file (where the
# kernel refuses splice and parley falls back to read/write): the sha256 must match every time.
source "$(dirname "$0")/lib.sh"

SIZE=${PARLEY_INTEGRITY_BYTES:-$((1 << 30))}
head -c "$SIZE" /dev/urandom >"$WORK/payload"
WANT=$(sha "$WORK/payload")

# The receiving side's byte count, from its -v summary line.
received_bytes() { grep -Eo '[0-9]+ bytes received' "$1" | grep -Eo '^[0-9]+'; }

file_to_file_upload() {
  start_parley_listen up --recv-only 127.0.0.1 0 || return 1
  timeout 120 "$PARLEY" connect 127.0.0.1 "$LPORT" <"$WORK/payload" || return 1
  wait_exit "$LPID" 60 || return 1
  assert_eq "$SIZE" "$(received_bytes "$WORK/up.err")" "bytes counted" || return 1
  assert_eq "$WANT" "$(sha "$WORK/up.out")" "upload sha256"
  rm -f "$WORK/up.out"
}

file_to_file_download() {
  start_parley_listen down --send-only 127.0.0.1 0 <"$WORK/payload" || return 1
  timeout 120 "$PARLEY" connect --recv-only 127.0.0.1 "$LPORT" >"$WORK/down.file" || return 1
  wait_exit "$LPID" 60 || return 1
  assert_eq "$WANT" "$(sha "$WORK/down.file")" "download sha256"
  rm -f "$WORK/down.file"
}

pipes_upload() {
  "$PARLEY" listen -v --recv-only 127.0.0.1 0 2>"$WORK/pu.err" | sha256sum | cut -d' ' -f1 >"$WORK/pu.sha" &
  local pid=$!
  wait_for_line "$WORK/pu.err" 'Listening on' || return 1
  cat "$WORK/payload" | timeout 120 "$PARLEY" connect 127.0.0.1 "$(port_from "$WORK/pu.err")" || return 1
  wait_exit $pid 60 || return 1
  assert_eq "$WANT" "$(cat "$WORK/pu.sha")" "pipe upload sha256"
}

pipes_download() {
  cat "$WORK/payload" | "$PARLEY" listen -v --send-only 127.0.0.1 0 2>"$WORK/pd.err" &
  local pid=$!
  wait_for_line "$WORK/pd.err" 'Listening on' || return 1
  local got
  got=$(timeout 120 "$PARLEY" connect --recv-only 127.0.0.1 "$(port_from "$WORK/pd.err")" | sha256sum | cut -d' ' -f1)
  wait_exit $pid 60 || return 1
  assert_eq "$WANT" "$got" "pipe download sha256"
}

append_file_fallback() {
  : >"$WORK/append.out"
  "$PARLEY" listen -v --recv-only 127.0.0.1 0 2>"$WORK/ap.err" >>"$WORK/append.out" &
  local pid=$!
  wait_for_line "$WORK/ap.err" 'Listening on' || return 1
  timeout 120 "$PARLEY" connect 127.0.0.1 "$(port_from "$WORK/ap.err")" <"$WORK/payload" || return 1
  wait_exit $pid 60 || return 1
  assert_eq "$WANT" "$(sha "$WORK/append.out")" "O_APPEND sha256"
  rm -f "$WORK/append.out"
}

check "file -> connect -> listen -> file" file_to_file_upload
check "file -> listen -> connect -> file" file_to_file_download
check "pipe -> connect -> listen -> pipe" pipes_upload
check "pipe -> listen -> connect -> pipe" pipes_download
check "read/write fallback (O_APPEND output)" append_file_fallback
finish
