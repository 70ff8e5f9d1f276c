#!/bin/sh
# Signaling relay benchmark, `tandem signal` vs a minimal Node.js `ws` relay (see docs/benchmarks.md
# "Signaling"). Arguments go to run.py (--help lists them); run.py re-executes itself in a private network namespace
# (needs root).
#
# Environment (scripts/run-benchmarks.sh, i.e. `make bench`, sets the first two):
#   TANDEM_BIN          tandem binary (default build/release/apps/tandem/tandem)
#   TANDEM_BENCH_OUT    directory for signaling.json (default: no JSON file)
#   TANDEM_BENCH_BUILD  where to build sig_load (and tandem) when the release build has none
#                       (default build/bench-signaling)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${TANDEM_BENCH_BUILD:-$ROOT/build/bench-signaling}
TANDEM=${TANDEM_BIN:-$ROOT/build/release/apps/tandem/tandem}
TOOL=$ROOT/build/release/bench/signaling/sig_load
TARGETS=
[ -x "$TOOL" ] || { TARGETS=sig_load; TOOL=$BUILD/bench/signaling/sig_load; }
[ -x "$TANDEM" ] || { TARGETS="$TARGETS tandem"; TANDEM=$BUILD/apps/tandem/tandem; }
if [ -n "$TARGETS" ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_TESTS=OFF >/dev/null
  fi
  echo "building $TARGETS in $BUILD" >&2
  ninja -C "$BUILD" -j2 $TARGETS >/dev/null
fi
# The Node relay needs the pinned `ws` package (package-lock.json).
if [ ! -d "$ROOT/node_modules/ws" ] && command -v npm >/dev/null 2>&1; then
  (cd "$ROOT" && npm ci --no-audit --no-fund >/dev/null)
fi
set -- --sig-load "$TOOL" --tandem "$TANDEM" "$@"
if [ -n "${TANDEM_BENCH_OUT:-}" ]; then
  mkdir -p "$TANDEM_BENCH_OUT"
  set -- "$@" --json-out "$TANDEM_BENCH_OUT/signaling.json"
fi
exec /usr/bin/python3 "$ROOT/bench/signaling/run.py" "$@"
