#!/bin/sh
# TURN relay and STUN Binding benchmark, coturn vs `tandem turn` (see docs/benchmarks.md). Arguments go to run.py
# (--help lists them); run.py re-executes itself in a private network namespace (needs root).
#
# Environment (scripts/run-benchmarks.sh, i.e. `make bench`, sets the first two):
#   TANDEM_BIN          tandem binary (default build/release/apps/tandem/tandem)
#   TANDEM_BENCH_OUT    directory for turn.json (default: no JSON file)
#   TANDEM_BENCH_BUILD  where to build turn_load (and tandem) when the release build has none (build/bench-turn)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${TANDEM_BENCH_BUILD:-$ROOT/build/bench-turn}
TANDEM=${TANDEM_BIN:-$ROOT/build/release/apps/tandem/tandem}
TOOL=$ROOT/build/release/bench/turn/turn_load
TARGETS=
[ -x "$TOOL" ] || { TARGETS=turn_load; TOOL=$BUILD/bench/turn/turn_load; }
[ -x "$TANDEM" ] || { TARGETS="$TARGETS tandem"; TANDEM=$BUILD/apps/tandem/tandem; }
if [ -n "$TARGETS" ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_TESTS=OFF >/dev/null
  fi
  echo "building $TARGETS in $BUILD" >&2
  ninja -C "$BUILD" -j2 $TARGETS >/dev/null
fi
set -- --turn-load "$TOOL" --tandem "$TANDEM" "$@"
if [ -n "${TANDEM_BENCH_OUT:-}" ]; then
  mkdir -p "$TANDEM_BENCH_OUT"
  set -- "$@" --json-out "$TANDEM_BENCH_OUT/turn.json"
fi
exec /usr/bin/python3 "$ROOT/bench/turn/run.py" "$@"
