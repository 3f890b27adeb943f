# Documentation from the command tree (issue 19): every command answers --version, -V and
# `parley help COMMAND`, usage lines read as the user types, every option has a description, the
# manual pages carry every option --help shows and read cleanly in man, and the bash, zsh and fish
# completions offer the commands, each command's options and the values of fixed sets.
source "$(dirname "$0")/lib.sh"

# The commands parley --help lists (help itself aside).
commands() { "$PARLEY" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+ ' | awk '{print $1}' | grep -vx help; }

# The option names a --help text shows, one per line, sorted.
help_options() {
  "$PARLEY" "$@" --help | grep -E '^  -' | sed -E 's/^  //; s/  .*//; s/ [^-][^,]*$//' |
    tr ',' '\n' | sed -E 's/^ +//; s/ .*//' | grep -E '^-' | sort -u
}

version_everywhere() {
  local c flag out
  for c in "" $(commands) help; do
    for flag in --version -V; do
      out=$("$PARLEY" $c $flag 2>&1) || { fail "parley $c $flag: exit $?: $out"; return 1; }
      assert_eq "parley 0.1.0" "$out" "parley $c $flag" || return 1
    done
  done
}

help_command() {
  local c
  for c in $(commands); do
    "$PARLEY" help "$c" >"$WORK/a" && "$PARLEY" "$c" --help >"$WORK/b" || return 1
    cmp -s "$WORK/a" "$WORK/b" || { fail "parley help $c differs from parley $c --help"; return 1; }
  done
  "$PARLEY" help >"$WORK/a" && "$PARLEY" --help >"$WORK/b" && cmp -s "$WORK/a" "$WORK/b" ||
    { fail "parley help differs from parley --help"; return 1; }
  expect_exit 2 "parley: help: command: nosuch not in {connect,listen,echo,conns,talk,bench,chat,doctor,scan,forward}" \
    "$PARLEY" help nosuch
}

# CLI11 wrote "target(1x)" and "[address(0x)]".
usage_lines() {
  local c line
  for c in $(commands); do
    line=$("$PARLEY" "$c" --help | grep '^Usage:')
    [[ $line =~ ^Usage:\ parley\ $c(\ \[OPTIONS\])?(\ \[?[A-Z][A-Z0-9_]*(\.\.\.)?\]?)*$ ]] ||
      { fail "usage line of $c: $line"; return 1; }
  done
  assert_eq "Usage: parley talk [OPTIONS] [TARGET...]" "$("$PARLEY" talk --help | grep '^Usage:')" &&
    assert_eq "Usage: parley listen [OPTIONS] [ADDRESS...]" "$("$PARLEY" listen --help | grep '^Usage:')"
}

all_documented() {
  expect_exit 0 "" "$PARLEY" --generate check && [ ! -s "$WORK/expect.err" ]
}

# docs/FLAGS.md's table of every flag is the generator's output, so the flag decisions next to it
# are read against the options as they are.
flags_table_current() {
  [ -n "${PARLEY_SOURCE_DIR:-}" ] || { echo "    (no PARLEY_SOURCE_DIR: skipped)"; return 0; }
  "$PARLEY" --generate flags >"$WORK/flags.md" || return 1
  awk '/^\| flag \| connect/ {on = 1} on && !/^\|/ {exit} on' "$PARLEY_SOURCE_DIR/docs/FLAGS.md" >"$WORK/flags.doc"
  diff -u "$WORK/flags.doc" "$WORK/flags.md" >"$WORK/flags.diff" ||
    fail "docs/FLAGS.md's table is stale (regenerate it with parley --generate flags): $(head -20 "$WORK/flags.diff")"
}

man_pages() {
  mkdir -p "$WORK/man" && "$PARLEY" --generate man "$WORK/man" || return 1
  local c page text name warnings
  for c in "" $(commands); do
    page=$WORK/man/parley${c:+-$c}.1
    [ -f "$page" ] || { fail "no page $page"; return 1; }
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || { fail "groff warns about $page: $warnings"; return 1; }
    text=$(MANWIDTH=100 man -l "$page" 2>&1)
    for name in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
      grep -qx "$name" <<<"$text" || { fail "$page has no $name section"; return 1; }
    done
    for name in $(help_options $c); do
      grep -qF -- "$name" <<<"$text" || { fail "$page lacks $name, which --help shows"; return 1; }
    done
    # Every example --help shows is in the page.
    while read -r name; do
      grep -qF -- "$name" <<<"$text" || { fail "$page lacks the example [$name]"; return 1; }
    done < <("$PARLEY" $c --help | sed -n '/Examples:/,$p' | grep -E '^  parley ' |
      sed -E 's/^  //; s/  .*//')
  done
  text=$(man -l "$WORK/man/parley.1")
  for c in $(commands); do
    grep -q "parley-$c(1)" <<<"$text" || { fail "parley(1) does not point at parley-$c(1)"; return 1; }
  done
  grep -A3 '^EXIT STATUS' <<<"$(man -l "$WORK/man/parley-scan.1")" | grep -qF "If a port is open."
}

# The build's copy is the one the binary generates now (no stale tree in the package).
build_tree_current() {
  local tree=${PARLEY_BUILD_DIR:-}/apps/parley/share
  [ -d "$tree" ] || { echo "    (no build tree: skipped)"; return 0; }
  "$PARLEY" --generate completion bash | cmp -s - "$tree/bash-completion/completions/parley" &&
    "$PARLEY" --generate completion zsh | cmp -s - "$tree/zsh/vendor-completions/_parley" &&
    "$PARLEY" --generate completion fish | cmp -s - "$tree/fish/vendor_completions.d/parley.fish" ||
    fail "the completions in $tree are not what $PARLEY generates"
}

# complete_bash WORDS...: what bash offers for the last word.
complete_bash() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _parley
           [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' _ "$WORK/parley.bash" "$@" | sort | tr '\n' ' '
}

bash_completion() {
  "$PARLEY" --generate completion bash >"$WORK/parley.bash" || return 1
  bash -n "$WORK/parley.bash" || return 1
  local c
  for c in $(commands); do
    assert_eq "$(help_options "$c" | tr '\n' ' ')" "$(complete_bash parley "$c" -)" "options of $c" ||
      return 1
  done
  assert_eq "connect conns " "$(complete_bash parley con)" "commands" &&
    assert_eq "socks4 socks4a socks5 " "$(complete_bash parley connect --proxy-type s)" "--proxy-type" &&
    assert_eq "socks4 socks4a socks5 " "$(complete_bash parley connect --proxy-type = s)" "--proxy-type=" &&
    assert_eq "connect hold http pingpong stream " "$(complete_bash parley bench -c 5 '')" "bench modes" &&
    assert_eq "" "$(complete_bash parley bench pingpong '')" "bench after the mode" &&
    assert_eq "connect conns " "$(complete_bash parley help co)" "help COMMAND" &&
    assert_eq "json text " "$(complete_bash parley echo --log-format '')" "--log-format" &&
    assert_eq "--keep-open " "$(complete_bash parley -lk --kee)" "netcat habit: -l means listen" &&
    assert_eq "--send-only " "$(complete_bash parley example.org 80 --send-o)" "host port: connect" &&
    (cd "$WORK" && assert_eq "parley.bash " "$(complete_bash parley listen -vo parley.b)" "-o FILE")
}

zsh_completion() {
  have zsh && zsh -fc 'zmodload zsh/zpty' 2>/dev/null || { echo "    (no zsh with zpty: skipped)"; return 0; }
  mkdir -p "$WORK/zsh" && "$PARLEY" --generate completion zsh >"$WORK/zsh/_parley" || return 1
  zsh -n "$WORK/zsh/_parley" || return 1
  # Types the words and a Tab into an interactive zsh; a compadd wrapper prints the matches.
  cat >"$WORK/capture.zsh" <<'EOF'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"  # -D: no dump file (a -d after it would turn dumping on again, over that file)
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"; local r=$?
  (( $#__hits )) && print -r -l -- "<hit>"${^__hits}
  builtin compadd "$@"; return $r
}'
zpty -w z 'bindkey "^I" complete-word; PROMPT=; print "<ready>"'
zpty -r z line '*<ready>*'
zpty -w -n z "$2"$'\t'
zpty -w z $'\C-u'"print '<done>'"
out=()
for i in {1..200}; do
  zpty -r -t z line || { sleep 0.05; continue; }
  [[ $line == *'<done>'* && $line != *print* ]] && break
  [[ $line == *'<hit>'* ]] && out+=(${${line##*<hit>}%%$'\r'*})
done
print -l -- $out | sort -u | tr '\n' ' '
zpty -d z
EOF
  local got
  got=$(cd "$WORK" && timeout 20 zsh -f capture.zsh "$WORK/zsh" "parley conns --js")
  assert_eq "--json " "$got" "zsh: conns --js" || return 1
  got=$(timeout 20 zsh -f "$WORK/capture.zsh" "$WORK/zsh" "parley connect --proxy-type ")
  assert_eq "http socks4 socks4a socks5 " "$got" "zsh: --proxy-type" || return 1
  got=$(timeout 20 zsh -f "$WORK/capture.zsh" "$WORK/zsh" "parley bench ")
  assert_eq "connect hold http pingpong stream " "$got" "zsh: bench modes" || return 1
  got=$(timeout 20 zsh -f "$WORK/capture.zsh" "$WORK/zsh" "parley con")
  assert_eq "connect conns " "$got" "zsh: commands"
}

fish_completion() {
  have fish || { echo "    (no fish: skipped)"; return 0; }
  "$PARLEY" --generate completion fish >"$WORK/parley.fish" || return 1
  fish -n "$WORK/parley.fish" || return 1
  complete_fish() { fish -c "source '$WORK/parley.fish'; complete -C '$1'" 2>&1 | cut -f1 | sort | tr '\n' ' '; }
  assert_eq "--json " "$(complete_fish 'parley conns --js')" "fish: conns --js" &&
    assert_eq "http socks4 socks4a socks5 " "$(complete_fish 'parley connect --proxy-type ')" "fish: --proxy-type" &&
    assert_eq "connect hold http pingpong stream " "$(complete_fish 'parley bench ')" "fish: bench modes" &&
    assert_eq "" "$(complete_fish 'parley bench pingpong ')" "fish: after the mode" &&
    assert_eq "--keep-open " "$(complete_fish 'parley -lk --kee')" "fish: -l means listen"
}

check "--version and -V on every command" version_everywhere
check "parley help COMMAND is COMMAND --help" help_command
check "usage lines without CLI11's (Nx)" usage_lines
check "every option has a description" all_documented
check "docs/FLAGS.md's table is the code's" flags_table_current
check "man pages: every option, examples, sections, no groff warnings" man_pages
check "the build's completions are current" build_tree_current
check "bash completion" bash_completion
check "zsh completion" zsh_completion
check "fish completion" fish_completion
finish
