# Helpers shared by the bench scripts (sourced, not run).
#
#   free_port         a free TCP port on 127.0.0.1. Racy (released before use), but a collision
#                     only fails one run.
#   wait_port PORT    until something listens on PORT (up to 10 s); 1 and a line if never.
#   median            of the numbers on stdin, one per line (the lower middle for an even count:
#                     always one of the measured values).
#   median_of DIGITS V...  of the arguments, with DIGITS decimals (the mean of the two middle
#                     ones for an even count); nothing if there are none.
#   ratio A B [DIGITS]  A / B with DIGITS decimals (2), 0 if B is 0, - if either is missing.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 200); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  echo "nothing listens on port $1" >&2
  return 1
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

median_of() {
  local digits=$1
  shift
  (($#)) || return 0
  printf '%s\n' "$@" | sort -g | awk -v d="$digits" '{ v[NR] = $1 } END {
    printf "%.*f", d, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
  if [[ -z $1 || -z $2 ]]; then echo -; return; fi
  awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f\n", d, (b > 0 ? a / b : 0) }'
}
