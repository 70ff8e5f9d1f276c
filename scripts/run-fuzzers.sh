#!/usr/bin/env bash
# Runs every libFuzzer binary (*_fuzzer) under BUILD_DIR for SECONDS each. Each fuzzer starts from a scratch copy of
# its committed seeds, fuzz/corpus/<name without _fuzzer>/, so new inputs never land in the repository; crash
# artifacts go to build/fuzz-run/<name>/. Exits non-zero if any fuzzer found a crash, leak or timeout.
# Usage: scripts/run-fuzzers.sh [BUILD_DIR=build/fuzz] [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/fuzz}
seconds=${2:-60}
run_root=build/fuzz-run

mapfile -t fuzzers < <(find "$build_dir" -type f -name '*_fuzzer' -perm -u+x -not -path '*/CMakeFiles/*' | sort)
if ((${#fuzzers[@]} == 0)); then
  echo "run-fuzzers: no *_fuzzer binaries under $build_dir"
  exit 0
fi

failed=()
for bin in "${fuzzers[@]}"; do
  name=$(basename "$bin")
  seeds="fuzz/corpus/${name%_fuzzer}"
  work="$run_root/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "$seeds" ]]; then
    cp -R "$seeds/." "$work/corpus/"
  fi
  echo "== $name: ${seconds}s from $(find "$work/corpus" -type f | wc -l) seeds ($seeds)"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log.txt" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log.txt" | sed 's/^/   /' || true
  else
    echo "!! $name failed; last lines of $work/log.txt:"
    tail -n 40 "$work/log.txt" | sed 's/^/   /'
    ls "$work/artifacts" | sed 's/^/   artifact: /' || true
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "run-fuzzers: ${#failed[@]} of ${#fuzzers[@]} fuzzers failed: ${failed[*]}"
  exit 1
fi
echo "run-fuzzers: ${#fuzzers[@]} fuzzers ran ${seconds}s each without a crash"
