#!/usr/bin/env bash
# Runs the benchmarks of a release build: bench/turn/run.sh (else run.py) and bench/signaling/run.sh when present,
# then every Google Benchmark binary under BUILD_DIR/bench. Results (console text and JSON) go to OUT_DIR.
# Usage: scripts/run-benchmarks.sh [BUILD_DIR=build/release] [OUT_DIR=build/bench-results]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/release}
out=${2:-build/bench-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Interface for bench/*/run.sh: the tandem binary and the results directory come in the environment.
export TANDEM_BIN="$PWD/$build_dir/apps/tandem/tandem"
export TANDEM_BENCH_OUT="$out"

status=0
if [[ -f bench/turn/run.sh ]]; then
  echo "== bench/turn/run.sh"
  bash bench/turn/run.sh 2>&1 | tee "$out/turn.txt" || status=1
elif [[ -f bench/turn/run.py ]]; then
  # The coturn vs tandem comparison (it isolates itself in a network namespace).
  echo "== bench/turn/run.py"
  args=(--tandem "$TANDEM_BIN" --json-out "$out/turn.json")
  [[ -x "$build_dir/bench/turn/turn_load" ]] && args+=(--turn-load "$PWD/$build_dir/bench/turn/turn_load")
  /usr/bin/python3 bench/turn/run.py "${args[@]}" 2>&1 | tee "$out/turn.txt" || status=1
fi

if [[ -f bench/signaling/run.sh ]]; then
  # tandem signal vs a minimal Node.js `ws` relay (it isolates itself in a network namespace too).
  echo "== bench/signaling/run.sh"
  bash bench/signaling/run.sh 2>&1 | tee "$out/signaling.txt" || status=1
fi

if [[ -f bench/datachannel/run.sh && -x "$build_dir/bench/datachannel/dc_bench" ]]; then
  # libtandem native <-> native against Chromium <-> Chromium (in a network namespace).
  echo "== bench/datachannel/run.sh"
  bash bench/datachannel/run.sh --dc-bench "$PWD/$build_dir/bench/datachannel/dc_bench" --rounds 3 \
    --json "$out/datachannel.json" 2>&1 | tee "$out/datachannel.txt" || status=1
fi

ran=0
while IFS= read -r bin; do
  # Google Benchmark binaries link libbenchmark (or carry its flag names when static); load tools are skipped.
  readelf -d "$bin" 2>/dev/null | grep -q 'NEEDED.*libbenchmark' || grep -qa -- 'benchmark_filter' "$bin" || continue
  name=$(basename "$bin")
  echo "== $name"
  "$bin" --benchmark_out="$out/$name.json" --benchmark_out_format=json 2>&1 | tee "$out/$name.txt" || status=1
  ran=$((ran + 1))
done < <(find "$build_dir/bench" -type f -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | sort)

echo "run-benchmarks: $ran Google Benchmark binaries; results in $out"
exit $status
