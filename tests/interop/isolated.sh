#!/bin/sh
# Runs a command in a private network namespace with only loopback (127.0.0.1, ::1) up, so that an interop test can
# neither reach nor disturb anything else. Needs root (or CAP_SYS_ADMIN); without it the test fails loudly.
PATH="$PATH:/usr/sbin:/sbin"
export PATH
if ! unshare --net true 2>/dev/null; then
  echo "isolated.sh: 'unshare --net' is not permitted here (needs root or CAP_SYS_ADMIN): cannot isolate the test" >&2
  exit 1
fi
exec unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
