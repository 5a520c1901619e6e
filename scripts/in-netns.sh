#!/usr/bin/env bash
# Runs a command in a fresh network namespace whose only interface is loopback, in
# its own PID namespace so that every child (workers, Chromium) dies with it.
# Test traffic can reach nothing but 127.0.0.1 there.
set -euo pipefail
args=(--net --pid --fork --kill-child --mount-proc)
if [ "$(id -u)" != 0 ]; then
  args=(-r "${args[@]}")
fi
# The module proxy is unreachable in there: fail fast instead of hanging.
export GOPROXY=off GOFLAGS=-mod=readonly
exec unshare "${args[@]}" sh -c 'ip link set lo up && exec "$@"' sh "$@"
