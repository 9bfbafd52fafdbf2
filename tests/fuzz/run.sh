#!/usr/bin/env bash
# run.sh: runs libFuzzer targets for a fixed time each and fails on a crash.
#
#   bash tests/fuzz/run.sh SECONDS JOBS build-fuzz/fuzz_a build-fuzz/fuzz_b ...
#
# Each target fuzzes its corpus folder build-fuzz/corpus/<target>/ (new
# inputs are added there), with tests/fuzz/<target>.dict when it exists,
# JOBS targets at a time (one process each: the machine has 2 cores).
# Crashes, leaks, timeouts and out-of-memory inputs go to
# build-fuzz/artifacts/<target>-*; logs to build-fuzz/logs/<target>.log.
# A summary line per target (executions, exec/s, coverage, features,
# corpus) is appended to build-fuzz/fuzz-stats.txt and printed.
# Exit status 1 when any target failed.
set -uo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 SECONDS JOBS FUZZER..." >&2
  exit 2
fi
SECONDS_EACH=$1
JOBS=$2
shift 2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=build-fuzz
mkdir -p "$OUT/logs" "$OUT/artifacts"
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() { # fuzzer binary
  local bin=$1 name corpus dict log
  name=$(basename "$bin")
  corpus="$OUT/corpus/$name"
  log="$OUT/logs/$name.log"
  mkdir -p "$corpus"
  dict=()
  [[ -f "$HERE/$name.dict" ]] && dict=(-dict="$HERE/$name.dict")
  "$bin" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$name-" "$corpus" >"$log" 2>&1
}

# One line for a finished target, from its log (libFuzzer's final stats).
summary() { # name rc
  local name=$1 rc=$2 log="$OUT/logs/$1.log" last execs eps files
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  files=$(find "$OUT/corpus/$name" -type f | wc -l)
  printf '%-18s %s %4ss execs=%s exec/s=%s cov=%s ft=%s corpus=%s files (%s) rc=%s\n' \
    "$name" "$(date -u +%FT%TZ)" "$SECONDS_EACH" "${execs:-?}" "${eps:-?}" \
    "$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")" \
    "$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")" "$files" \
    "$(sed -n 's/.*corp: [0-9]*\/\([0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")" "$rc"
}

declare -A pid_of
fail=0
running=0
finish() { # wait for one job, report it
  local done_pid rc name
  wait -n -p done_pid
  rc=$?
  name=${pid_of[$done_pid]}
  summary "$name" "$rc" | tee -a "$OUT/fuzz-stats.txt"
  if [[ $rc -ne 0 ]]; then
    fail=1
    echo "== $name FAILED (rc $rc); end of $OUT/logs/$name.log:" >&2
    tail -n 40 "$OUT/logs/$name.log" >&2
    ls -1 "$OUT/artifacts/$name-"* 2>/dev/null >&2
  fi
  running=$((running - 1))
}

for bin in "$@"; do
  [[ -x "$bin" ]] || { echo "run.sh: $bin is not built" >&2; exit 2; }
  while [[ $running -ge $JOBS ]]; do finish; done
  run_one "$bin" &
  pid_of[$!]=$(basename "$bin")
  running=$((running + 1))
done
while [[ $running -gt 0 ]]; do finish; done
exit $fail
