#!/usr/bin/env bash
# Installs what Tandem needs to build, run and test on Debian 12. Idempotent and silent when everything is present:
# each package is checked with dpkg-query, and apt-get runs only for the missing ones. npm packages come from a
# lockfile (`npm ci`) when one exists. Nothing here starts, enables or relies on a system service (the coturn
# package's daemon stays off; tests run their own turnserver in a private network namespace).
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per group; add a group by adding a line.
PACKAGE_GROUPS=(
  "toolchain:  build-essential cmake ninja-build ccache clang libclang-rt-14-dev clang-format"
  "libraries:  libssl-dev openssl libboost-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev libsrtp2-dev libopus-dev libvpx-dev"
  "interop:    coturn python3 iproute2 util-linux procps libusrsctp-dev"
  "web:        nodejs chromium"
)

# npm projects installed with `npm ci` when their package-lock.json exists (paths relative to the repo root).
NPM_DIRS=(. web)

missing=()
for group in "${PACKAGE_GROUPS[@]}"; do
  for pkg in ${group#*:}; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == installed ]] || missing+=("$pkg")
  done
done

# npm: Debian's package when no npm is on PATH. NodeSource's nodejs bundles npm and conflicts with Debian's npm
# package, so asking dpkg about "npm" would try (and fail) to install it next to a nodejs that already has one.
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and no sudo: install ${missing[*]} by hand" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi

for dir in "${NPM_DIRS[@]}"; do
  lock="$dir/package-lock.json"
  [[ -f "$lock" ]] || continue
  # npm writes node_modules/.package-lock.json on install: skip when it is newer than the lockfile.
  if [[ -f "$dir/node_modules/.package-lock.json" && "$dir/node_modules/.package-lock.json" -nt "$lock" ]]; then
    continue
  fi
  command -v npm >/dev/null || { echo "install-deps: $lock exists but npm is missing (add nodejs npm above)" >&2; exit 1; }
  echo "install-deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done
