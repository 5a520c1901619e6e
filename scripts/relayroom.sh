#!/usr/bin/env bash
# One room over the three hosts of `make cluster`, measured with
# `voicectl loadgen run --api`: each host one worker of $CAPACITY load units, so
# the room fills a host and spreads onto the others through relays.
# Run it in a loopback-only namespace (it puts 127.0.0.11-13 on lo there):
#   make build && scripts/in-netns.sh scripts/relayroom.sh [listeners]
set -euo pipefail
listeners=${1:-300}
bin=${BIN:-bin/voicectl}
export VOICECTL_WORKER_MAX_CONSUMERS=${CAPACITY:-400} VOICECTL_WORKER_PIPE_HEADROOM=${HEADROOM:-0.2}
export VOICECTL_AUTH_API_KEY=relayroom-api-key-0123456789 VOICECTL_AUTH_ADMIN_KEY=relayroom-admin-key-0123456789
. scripts/cluster-bg.sh
"$bin" loadgen run --api http://127.0.0.1:7870 --api-key "$VOICECTL_AUTH_API_KEY" --admin-key "$VOICECTL_AUTH_ADMIN_KEY" \
  --loopback-only --rooms 1 --publishers "${PUBLISHERS:-2}" --listeners "$listeners" --join-rate "${JOIN_RATE:-40}" \
  --duration "${DURATION:-10s}" --warmup 3s -o json
curl -sf -H "Authorization: Bearer $VOICECTL_AUTH_API_KEY" http://127.0.0.1:7870/v1/servers | tr -d '\n' | head -c 2000; echo
