#!/usr/bin/env bash
# Data channel benchmark: libtandem native <-> native against Chromium <-> Chromium, in a private network namespace.
# Usage: bench/datachannel/run.sh [--dc-bench PATH] [--megabytes N] [--rounds N] [--setups N] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec tests/interop/isolated.sh "$(command -v node)" bench/datachannel/run.mjs "$@"
