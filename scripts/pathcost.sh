#!/usr/bin/env bash
# The server's CPU per forwarded packet by the listeners' transport: one
# `voicectl serve` (one worker, ICE over TCP on; the embedded TURN server when
# SERVE_ENV turns it on), then loadgen runs back to back against it with the
# same publishers and listeners, one per transport, ROUNDS times alternated.
# Prints one line per run: transport, CPU µs per forwarded packet, packets
# forwarded, loss, the listeners' paths as the admin API saw them.
#   make build && scripts/in-netns.sh scripts/pathcost.sh [transport ...]
# (default: udp tcp; add turn-udp turn-tls with the TURN server on; turn-tls
# needs SSL_CERT_FILE to trust the TURN certificate).
set -euo pipefail
bin=${BIN:-bin/voicectl}
transports=("$@")
[ ${#transports[@]} -gt 0 ] || transports=(udp tcp)
rounds=${ROUNDS:-3}
dir=$(mktemp -d)
export VOICECTL_AUTH_SECRET=pathcost-secret-0123456789abcdef VOICECTL_AUTH_ADMIN_KEY=pathcost-admin-key-0123456789
# shellcheck disable=SC2086
env VOICECTL_RTC_TCP=true ${SERVE_ENV:-} "$bin" serve --dev --http-addr 127.0.0.1:7880 --rtc-port 50000 --workers 1 \
  --data-dir "$dir" --log-level warn >"$dir/serve.out" 2>"$dir/serve.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$bin" workers --server http://127.0.0.1:7880 >/dev/null 2>&1 && break; sleep 0.1; done
for r in $(seq "$rounds"); do
  for t in "${transports[@]}"; do
    "$bin" loadgen run --server http://127.0.0.1:7880 --rooms "${ROOMS:-2}" --publishers "${PUBLISHERS:-2}" \
      --listeners "${LISTENERS:-20}" --warmup 2s --duration "${DURATION:-10s}" --transport "$t" \
      --room-prefix "$t-$r" -o json >"$dir/$t-$r.json" 2>"$dir/$t-$r.err" || true
    jq -r --arg t "$t" '[$t, (.cpu_us_per_forwarded_packet*100|round/100), .forwarded_packets, .loss_ratio,
      (.listener_paths // {} | to_entries | map("\(.key)=\(.value)") | join(",")), .join_error // ""] | @tsv' "$dir/$t-$r.json"
  done
done
