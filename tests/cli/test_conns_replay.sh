# parley conns --replay and --record with hostile input (issue 18, items 11 and 13): empty, random,
# truncated and crafted recordings and /proc copies are errors that name the file, never an
# empty table with exit 0 or a read out of bounds; --record never writes through a planted link.
source "$(dirname "$0")/lib.sh"
FIX="$(dirname "$0")/../fixtures/conns"

# expect_corrupt DIR FILE: replaying DIR fails with exit 2 naming FILE, and prints no table.
expect_corrupt() {
  local dir=$1 file=$2 rc=0
  shift 2
  "$PARLEY" conns --replay "$dir" "$@" >"$WORK/r.out" 2>"$WORK/r.err" || rc=$?
  assert_eq 2 "$rc" "exit status ($(cat "$WORK/r.err"))" || return 1
  grep -Eq "^parley: conns: cannot read the socket table: $dir/$file: .+: Bad message$" "$WORK/r.err" ||
    fail "message: $(cat "$WORK/r.err")" || return 1
  [ ! -s "$WORK/r.out" ] || fail "printed: $(cat "$WORK/r.out")"
}

# nl DIR FILE PYTHON-EXPRESSION: writes the bytes the expression makes (helpers m(), done()).
nl() {
  mkdir -p "$1"
  python3 - "$1/$2" "$3" <<'PY'
import struct, sys
def m(t, payload=b""):
    n = 16 + len(payload)
    return struct.pack("=IHHII", n, t, 0, 1, 0) + payload + b"\0" * ((4 - n % 4) % 4)
def done():
    return m(3, struct.pack("=i", 0))
open(sys.argv[1], "wb").write(eval(sys.argv[2]))
PY
}

netlink_recordings() {
  local d=$WORK/nl
  nl "$d" inet-tcp.nl 'b""'
  expect_corrupt "$d" inet-tcp.nl || return 1
  nl "$d" inet-tcp.nl 'bytes(range(256)) * 4'
  expect_corrupt "$d" inet-tcp.nl || return 1
  head -c 500 "$FIX/netlink/inet-tcp.nl" >"$d/inet-tcp.nl"
  expect_corrupt "$d" inet-tcp.nl || return 1
  nl "$d" inet-tcp.nl 'm(2, struct.pack("=i", -2**31))'  # NLMSG_ERROR INT_MIN
  expect_corrupt "$d" inet-tcp.nl || return 1
  nl "$d" inet-tcp.nl 'm(20, b"\2\1" + b"\0" * 20) + done()'  # inet_diag_msg cut short
  expect_corrupt "$d" inet-tcp.nl || return 1
  cp "$FIX/netlink/inet-tcp.nl" "$FIX/netlink/inet6-tcp.nl" "$d/"
  # A Unix socket whose UNIX_DIAG_PEER attribute holds 2 bytes instead of 4.
  nl "$d" unix.nl 'm(20, bytes([1, 1, 1, 0]) + struct.pack("=III", 7, 0, 0) + struct.pack("=HH", 6, 2) + b"\0\0") + done()'
  expect_corrupt "$d" unix.nl -x || return 1
  # The kernel's own error code is reported as such.
  nl "$d" unix.nl 'm(2, struct.pack("=i", -13))'
  expect_exit 2 "parley: conns: cannot read the socket table: $d/unix.nl: Permission denied" \
    "$PARLEY" conns --replay "$d" -x || return 1
  # A recording without the file a view needs says which.
  rm "$d/unix.nl"
  expect_exit 2 "parley: conns: cannot read the socket table: $d/unix.nl: No such file or directory" \
    "$PARLEY" conns --replay "$d" -x
}

proc_copies() {
  local d=$WORK/proc
  mkdir -p "$d"
  cp -r "$FIX/proc/net" "$d/"
  sed -i '2s/ 0A / FF /' "$d/net/tcp"
  expect_exit 2 "parley: conns: cannot read the socket table: $d/net/tcp: line 2: bad state field: Bad message" \
    "$PARLEY" conns --replay "$d" || return 1
  : >"$d/net/tcp"
  expect_exit 2 "parley: conns: cannot read the socket table: $d/net/tcp: empty (no header line): Bad message" \
    "$PARLEY" conns --replay "$d" || return 1
  head -c 150 "$FIX/proc/net/tcp" >"$d/net/tcp"
  expect_exit 2 "parley: conns: cannot read the socket table: $d/net/tcp: line 2 is cut short (no newline): Bad message" \
    "$PARLEY" conns --replay "$d" || return 1
  head -c 3000 /dev/urandom >"$d/net/tcp"
  expect_exit 2 "" "$PARLEY" conns --replay "$d" || return 1
  grep -q "^parley: conns: cannot read the socket table: $d/net/tcp: " "$WORK/expect.err" || fail "$(cat "$WORK/expect.err")"
}

record_through_symlink() {
  local d=$WORK/rec
  mkdir -p "$d"
  echo precious >"$WORK/victim"
  ln -s "$WORK/victim" "$d/inet-tcp.nl"
  ln -s "$WORK/victim" "$d/inet6-tcp.nl"
  "$PARLEY" conns -a --record "$d" >"$WORK/live.out" || return 1
  assert_eq precious "$(cat "$WORK/victim")" "the link's target" || return 1
  [ -f "$d/inet-tcp.nl" ] && [ ! -L "$d/inet-tcp.nl" ] || fail "not replaced by a file" || return 1
  assert_eq 600 "$(stat -c %a "$d/inet-tcp.nl")" "mode" || return 1
  assert_eq "" "$(find "$d" -name '.*.nl.*')" "temporary files left" || return 1
  "$PARLEY" conns -a --replay "$d" >"$WORK/replayed.out" || return 1
  [ "$(wc -l <"$WORK/replayed.out")" -ge 1 ] || fail "nothing replayed" || return 1
  # A directory planted at the name cannot be replaced: an error naming it.
  rm "$d/inet-tcp.nl"
  mkdir "$d/inet-tcp.nl"
  expect_exit 2 "" "$PARLEY" conns -a --record "$d" || return 1
  grep -q "^parley: conns: cannot read the socket table: $d/inet-tcp.nl: " "$WORK/expect.err" ||
    fail "$(cat "$WORK/expect.err")"
}

check "netlink recordings: empty, random, truncated, crafted" netlink_recordings
check "/proc copies: state FF, empty, truncated, random" proc_copies
check "--record replaces a planted symlink, never writes through it" record_through_symlink
finish
