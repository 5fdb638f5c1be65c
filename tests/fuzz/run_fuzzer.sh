#!/bin/sh
# Runs one libFuzzer target for SECONDS from its checked-in seed corpus.
#   run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS [fresh]
# New inputs go to WORK_DIR/corpus (libFuzzer writes only to its first
# corpus directory; the seed directory is read, never written), crash
# artifacts to WORK_DIR/. With "fresh" (ctest) WORK_DIR is emptied first, so
# a run's length does not grow with what earlier runs found (libFuzzer
# replays its whole corpus before it looks at the clock); without it (make
# fuzz) each run goes on from the last one's corpus. Prints one summary line:
#   NAME: N executions in S s (R exec/s), corpus C inputs
# and fails (with libFuzzer's report) on any crash, leak, timeout or OOM.
set -u
fuzzer=$1 seeds=$2 work=$3 seconds=$4 mode=${5:-}
name=$(basename "$fuzzer")
[ "$mode" = fresh ] && rm -rf "$work"
mkdir -p "$work/corpus" || exit 1
log=$work/log
set -- "$work/corpus"
[ -d "$seeds" ] && set -- "$@" "$seeds"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
inputs=$(ls "$work/corpus" | wc -l)
if [ "$rc" -ne 0 ]; then
  cat "$log"
  echo "$name: FAILED (exit $rc) after ${execs:-?} executions; artifacts in $work/"
  exit 1
fi
echo "$name: ${execs:-?} executions in $seconds s (${rate:-?} exec/s), corpus $inputs inputs"
