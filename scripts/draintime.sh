#!/usr/bin/env bash
# How long a drain takes: over `make cluster`'s three hosts a loadgen run joins
# $1 rooms (default 30; 1 publisher and $LISTENERS listeners each) through the
# API, then `voicectl servers drain` empties the server on 127.0.0.11 (a third of
# the rooms): its log says how many rooms and peers it had and how long it took
# until nothing was left (its rooms moved, their peers rejoined elsewhere); the
# loadgen report gives the listeners' longest gaps. The cluster's supervisor
# starts the server again.
#   make build && scripts/in-netns.sh scripts/draintime.sh [rooms]
set -euo pipefail
bin=${BIN:-bin/voicectl}
rooms=${1:-30}
listeners=${LISTENERS:-3}
export VOICECTL_AUTH_API_KEY=draintime-api-key-0123456789 VOICECTL_AUTH_ADMIN_KEY=draintime-admin-key-0123456789
. scripts/cluster-bg.sh
api=(--api http://127.0.0.1:7870 --api-key "$VOICECTL_AUTH_API_KEY")
peers=$((rooms * (1 + listeners)))
"$bin" loadgen run "${api[@]}" --loopback-only --rooms "$rooms" --publishers 1 --listeners "$listeners" \
  --join-rate "${JOIN_RATE:-60}" --warmup 2s --duration "${DURATION:-15s}" -o json >"$dir/run.json" &
lg=$!
for _ in $(seq 600); do
  n=$("$bin" servers "${api[@]}" | awk -F'\t' '{s += $5} END {print s + 0}')
  [ "$n" -ge "$peers" ] && break
  sleep 0.2
done
sleep 3
id=$("$bin" servers "${api[@]}" | awk -F'\t' '$2 ~ /127\.0\.0\.11:/ {print $1}')
"$bin" servers drain "$id" --deadline 1m "${api[@]}"
for _ in $(seq 600); do grep -q '"drain' "$dir/serve-1.log" && grep -Eq 'drained|drain deadline' "$dir/serve-1.log" && break; sleep 0.1; done
grep -E '"msg":"(draining|drained|drain deadline)' "$dir/serve-1.log" | tail -2
wait $lg || true
grep -oE '"(peers_joined|peers_rejoined|rejoins|listener_gap_ms_p50|listener_gap_ms_max)": *[0-9.]+' "$dir/run.json"
