# The Debian package (issue 19): CPack builds parley_VERSION_ARCH.deb from the build tree; it holds
# the binary, a manual page per command, the three completions and the example units; its Depends
# name the packages of every shared library the binary needs, so apt can install it on a Debian 12
# that has none of them; and `cmake --install` lays out the same files. Nothing is installed on
# this machine: the package is unpacked into a throw-away root, apt only simulates (a real
# install-and-purge runs with PARLEY_TEST_APT_INSTALL=1).
source "$(dirname "$0")/lib.sh"

BUILD=${PARLEY_BUILD_DIR:-}
if [ -z "$BUILD" ] || [ ! -f "$BUILD/CPackConfig.cmake" ] || ! have dpkg-deb || ! have cpack; then
  echo "SKIP: needs a configured build tree (PARLEY_BUILD_DIR) with CPack, and dpkg-deb"
  exit 77
fi
ARCH=$(dpkg --print-architecture)
VERSION=$("$PARLEY" --version | awk '{print $2}')
DEB=$WORK/out/parley_${VERSION}_$ARCH.deb

commands() { "$PARLEY" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+ ' | awk '{print $1}' | grep -vx help; }

# The files a tree holds, as "usr/bin/parley" lines.
files_of() { (cd "$1" && find . -type f -o -type l | sed 's|^\./||' | sort); }

build_package() {
  mkdir -p "$WORK/out"
  cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/out" >"$WORK/cpack.log" 2>&1 ||
    { fail "cpack: $(tail -5 "$WORK/cpack.log")"; return 1; }
  [ -f "$DEB" ] || fail "no $DEB: $(ls "$WORK/out")"
}

contents() {
  dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./||' >"$WORK/list" || return 1
  local f c
  for f in usr/bin/parley usr/share/man/man1/parley.1.gz \
    usr/share/bash-completion/completions/parley usr/share/zsh/vendor-completions/_parley \
    usr/share/fish/vendor_completions.d/parley.fish \
    usr/lib/systemd/system/parley-echo.socket usr/lib/systemd/system/parley-echo.service; do
    grep -qx "$f" "$WORK/list" || { fail "the package lacks /$f"; return 1; }
  done
  for c in $(commands); do
    grep -qx "usr/share/man/man1/parley-$c.1.gz" "$WORK/list" || { fail "no page for $c"; return 1; }
  done
  dpkg-deb -c "$DEB" | grep -E ' \./usr/bin/parley$' | grep -q '^-rwxr-xr-x root/root' ||
    fail "/usr/bin/parley is not root's 0755"
}

# Every shared library the binary links (DT_NEEDED; the libraries' own dependencies are theirs)
# belongs to a package the .deb depends on.
depends() {
  local field lib pkg needed
  field=$(dpkg-deb -f "$DEB" Depends)
  needed=$(readelf -d "$PARLEY" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | tr '\n' '|')
  assert_eq parley "$(dpkg-deb -f "$DEB" Package)" "Package" || return 1
  assert_eq "$VERSION" "$(dpkg-deb -f "$DEB" Version)" "Version" || return 1
  assert_eq "$ARCH" "$(dpkg-deb -f "$DEB" Architecture)" "Architecture" || return 1
  for lib in $(ldd "$PARLEY" | awk -v n="|$needed" '$2 == "=>" && $3 ~ /^\// && index(n, "|" $1 "|") {print $3}'); do
    pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null ||
      dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || { fail "no package owns $lib"; return 1; }
    [[ ", $field" == *", $pkg "* || ", $field," == *", $pkg,"* ]] ||
      { fail "Depends [$field] lacks $pkg (for $lib)"; return 1; }
  done
  # fmt, libstdc++, libedit, PCRE2 and liburing are linked in (release builds, see
  # cmake/StaticLibs.cmake), so none is a dependency; libnftables (doctor) and libssl3 (TLS) are
  # loaded with dlopen when needed and named by hand.
  for pkg in libnftables1 libssl3 libc6; do
    [[ ", $field," =~ [\ ,]$pkg[\ ,] ]] || { fail "Depends [$field] lacks $pkg"; return 1; }
  done
  # A library linked in is no dependency: Depends names no package whose library parley does not
  # load.
  local so
  for pkg in libedit2:libedit.so.2 libpcre2-8-0:libpcre2-8.so.0 liburing2:liburing.so.2; do
    so=${pkg#*:} pkg=${pkg%%:*}
    [[ "|$needed" == *"|$so|"* ]] && continue
    [[ ", $field," =~ [\ ,]$pkg[\ ,] ]] && { fail "Depends [$field] names $pkg, which is linked in"; return 1; }
  done
  return 0
}

# apt on a machine with nothing installed: every dependency must exist in Debian's archive under
# the name the package gives. Simulation only (-s), against an empty package database.
apt_resolves() {
  apt-cache policy libc6 2>/dev/null | grep -q 'Candidate: [0-9]' ||
    { echo "    (no apt package lists: skipped)"; return 0; }
  : >"$WORK/empty-status"
  apt-get install -s -o Dir::State::status="$WORK/empty-status" "$DEB" >"$WORK/apt.log" 2>&1 ||
    { fail "apt cannot install it on an empty system: $(grep -E '^E:|Depends' "$WORK/apt.log")"; return 1; }
  grep -q '^Inst libnftables1 ' "$WORK/apt.log" && grep -q '^Inst parley ' "$WORK/apt.log" ||
    fail "apt's plan: $(grep '^Inst' "$WORK/apt.log")"
}

unpacked_works() {
  dpkg -x "$DEB" "$WORK/root" || return 1
  assert_eq "parley $VERSION" "$("$WORK/root/usr/bin/parley" --version)" "unpacked binary" || return 1
  local text
  text=$(MANWIDTH=100 man -l "$WORK/root/usr/share/man/man1/parley-conns.1.gz") || return 1
  grep -q '^       parley-conns - list listening sockets' <<<"$text" || { fail "man: $text"; return 1; }
  bash -c "source '$WORK/root/usr/share/bash-completion/completions/parley' && complete -p parley" |
    grep -q -- '-F _parley parley' || fail "the bash completion does not register"
}

# cmake --install lays out exactly what the package holds.
install_tree_matches() {
  DESTDIR=$WORK/inst cmake --install "$BUILD" --prefix /usr >"$WORK/install.log" 2>&1 ||
    { fail "cmake --install: $(tail -3 "$WORK/install.log")"; return 1; }
  [ -d "$WORK/root" ] || dpkg -x "$DEB" "$WORK/root"
  diff <(files_of "$WORK/inst") <(files_of "$WORK/root") >"$WORK/diff" ||
    { fail "install tree and package differ: $(cat "$WORK/diff")"; return 1; }
  cmp -s "$WORK/inst/usr/share/man/man1/parley-echo.1.gz" "$WORK/root/usr/share/man/man1/parley-echo.1.gz"
}

# Opt-in: a real apt install and purge, for a machine where that is allowed.
real_install() {
  [ "${PARLEY_TEST_APT_INSTALL:-0}" = 1 ] || { echo "    (PARLEY_TEST_APT_INSTALL=1 to run)"; return 0; }
  dpkg -s parley >/dev/null 2>&1 && { fail "parley is installed already; not touching it"; return 1; }
  apt-get install -y -qq "$DEB" >"$WORK/apt-install.log" 2>&1 || { fail "$(tail -3 "$WORK/apt-install.log")"; return 1; }
  local ok=0
  [ "$(/usr/bin/parley --version)" = "parley $VERSION" ] && man -w parley-conns >/dev/null || ok=1
  apt-get purge -y -qq parley >/dev/null 2>&1
  dpkg -s parley >/dev/null 2>&1 && { fail "purge left parley installed"; return 1; }
  return $ok
}

system_untouched() {
  ! dpkg -s parley 2>/dev/null | grep -q '^Status: install ok installed' || [ "${PARLEY_TEST_APT_INSTALL:-0}" = 1 ] ||
    fail "parley is installed on this machine"
}

check "cpack builds parley_${VERSION}_$ARCH.deb" build_package
check "the package holds binary, pages, completions, units" contents
check "Depends names the package of every shared library" depends
check "apt installs it on an empty Debian (simulated)" apt_resolves
check "unpacked: the binary, man and completion work" unpacked_works
check "cmake --install lays out the same tree" install_tree_matches
check "real apt install and purge (opt-in)" real_install
check "this machine has no parley package installed" system_untouched
finish
