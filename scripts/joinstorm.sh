#!/usr/bin/env bash
# The join-storm figure: one host with 2 workers, 10 running rooms, 1,000 listeners
# joining as fast as the server admits them. Run inside scripts/in-netns.sh:
#   scripts/in-netns.sh scripts/joinstorm.sh [extra `loadgen storm` flags]
set -euo pipefail
bin=${BIN:-bin/voicectl}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$dir"' EXIT
export VOICECTL_AUTH_SECRET=joinstorm-secret-0123456789abcdef VOICECTL_AUTH_ADMIN_KEY=joinstorm-admin-key-0123456789
export VOICECTL_SIGNAL_MAX_CONNECTIONS_PER_ADDRESS=0 # every listener comes from 127.0.0.1
"$bin" serve --http-addr 127.0.0.1:17880 --rtc-port 47000 --workers 2 --data-dir "$dir" --log-level warn >"$dir/serve.log" 2>&1 &
for _ in $(seq 100); do curl -sf http://127.0.0.1:17880/readyz >/dev/null && break; sleep 0.1; done
"$bin" loadgen storm --server http://127.0.0.1:17880 --admin-key "$VOICECTL_AUTH_ADMIN_KEY" --loopback-only -o json "$@"
