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
# Ephemeral ports from 50000 up in there: the tests that bind fixed ports
# (server/control from 41000, server/worker's 46xxx, roomhost's 49xxx) run
# beside the other tests of their package, and a client socket the kernel
# placed on one of their ports made a bind or a TURN relay fail now and then
# (the kernel's default range starts at 32768). make test runs each test
# binary in a namespace of its own (go test -exec scripts/in-netns.sh).
exec unshare "${args[@]}" sh -c 'ip link set lo up && echo "50000 65535" >/proc/sys/net/ipv4/ip_local_port_range && exec "$@"' sh "$@"
