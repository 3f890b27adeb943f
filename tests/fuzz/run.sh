#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after another, at the lowest
# CPU priority, over its seed corpus plus the inputs earlier runs found (build/fuzz/.../found).
# Prints one line per target: runs, coverage, and whether it stayed clean. A crash leaves its
# input as build/fuzz/tests/fuzz/crash-<target>-*; add it to corpus/<target>/ with the fix.
#   usage: tests/fuzz/run.sh SECONDS [TARGET...]     (after cmake --build --preset fuzz)
set -u
seconds=${1:?usage: run.sh SECONDS [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BUILD:-$here/../../build/fuzz/tests/fuzz}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bin"/fuzz_*; do targets+=("${f##*/fuzz_}"); done
fi
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$bin/found/$t"
  log="$bin/fuzz-$t.log"
  nice -n 19 "$bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$bin/crash-$t-" "$bin/found/$t" "$here/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then verdict=clean; else verdict="CRASH (exit $rc, see $log)"; failed=1; fi
  printf '%-22s %4ss  runs %-10s %-32s %s\n' "$t" "$seconds" "${runs:-?}" "$cov" "$verdict"
done
exit $failed
