#!/usr/bin/env bash
# The audio gap of a room move, measured at the listeners: over `make cluster`'s
# three hosts, MOVES times (default 10) a loadgen run joins one room through the
# API (2 publishers, $LISTENERS listeners), `voicectl rooms move` sends the room
# to the freest other server inside the measurement window, and the run's
# report gives each listener's longest gap. Prints each move's worst listener
# gap and, over the moves, the p50 and the worst.
# Run it in a loopback-only namespace (it puts 127.0.0.11-13 on lo there):
#   make build && scripts/in-netns.sh scripts/movegap.sh
set -euo pipefail
bin=${BIN:-bin/voicectl}
moves=${MOVES:-10}
listeners=${LISTENERS:-10}
export VOICECTL_AUTH_API_KEY=movegap-api-key-0123456789 VOICECTL_AUTH_ADMIN_KEY=movegap-admin-key-0123456789
. scripts/cluster-bg.sh
api=(--api http://127.0.0.1:7870 --api-key "$VOICECTL_AUTH_API_KEY")
worst=()
for m in $(seq "$moves"); do
  "$bin" loadgen run "${api[@]}" --loopback-only --rooms 1 --room-prefix movegap --publishers 2 --listeners "$listeners" \
    --join-rate 50 --warmup 1s --duration 5s -o json >"$dir/run-$m.json" &
  lg=$!
  sleep 3 # joined (~0.3 s) and 1 s warmup: inside the window
  "$bin" rooms move movegap-0 "${api[@]}" >"$dir/move-$m.out"
  wait $lg
  gap=$(grep -o '"listener_gap_ms_max": *[0-9.]*' "$dir/run-$m.json" | grep -o '[0-9.]*$')
  p50=$(grep -o '"listener_gap_ms_p50": *[0-9.]*' "$dir/run-$m.json" | grep -o '[0-9.]*$')
  rejoined=$(grep -o '"peers_rejoined": *[0-9]*' "$dir/run-$m.json" | grep -o '[0-9]*$')
  echo "move $m: $(cat "$dir/move-$m.out"); listeners' gap p50 ${p50} ms, worst ${gap} ms; ${rejoined} peers followed"
  worst+=("$gap")
done
sorted=$(printf '%s\n' "${worst[@]}" | sort -g)
n=${#worst[@]}
echo "over $n moves, the worst listener's gap per move: p50 $(echo "$sorted" | sed -n "$(((n + 1) / 2))p") ms, worst $(echo "$sorted" | tail -1) ms"
