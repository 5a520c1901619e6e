#!/usr/bin/env bash
# loadgen on a bad network made by the synthetic peers' own sockets: one
# `voicectl serve` (one worker), then loadgen runs back to back with the same
# rooms under each impairment (a list of loadgen flags per run, ';'-separated
# in IMPAIRMENTS), ROUNDS times alternated. One line per run:
#   flags  raw loss %  residual loss %  other loss %  recovered  retransmissions  retransmitted bytes/all bytes %
#   NACKed  listeners NACKing  RED-recovered  listeners RED  RTP bytes per packet received  worker µs/pkt  packets forwarded
#   make build && scripts/in-netns.sh scripts/impaired.sh
# SERVE_ENV adds environment to the server (e.g. "VOICECTL_RTC_NACK=false"),
# SERVE_BIN runs another build of the server.
set -euo pipefail
bin=${BIN:-bin/voicectl} serve_bin=${SERVE_BIN:-${BIN:-bin/voicectl}}
rounds=${ROUNDS:-1} rooms=${ROOMS:-2} publishers=${PUBLISHERS:-2} listeners=${LISTENERS:-10} duration=${DURATION:-10s}
IFS=';' read -r -a runs <<<"${IMPAIRMENTS:---seed 1;--loss 5% --seed 1;--loss 10% --seed 1;--burst-loss 5% --burst-length 3 --seed 1;--loss 5% --jitter 20ms --reorder 1% --seed 1}"
dir=$(mktemp -d)
export VOICECTL_AUTH_SECRET=impaired-secret-0123456789abcdef VOICECTL_AUTH_ADMIN_KEY=impaired-admin-key-0123456789
server=http://127.0.0.1:7880
# shellcheck disable=SC2086
env ${SERVE_ENV:-} "$serve_bin" serve --dev --http-addr 127.0.0.1:7880 --rtc-port 50000 --workers 1 --data-dir "$dir" --log-level warn \
  >"$dir/serve.out" 2>"$dir/serve.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$bin" workers --server $server >/dev/null 2>&1 && break; sleep 0.1; done
for r in $(seq "$rounds"); do
  for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    "$bin" loadgen run --server $server --rooms "$rooms" --publishers "$publishers" --listeners "$listeners" \
      --warmup 2s --duration "$duration" --room-prefix "i$i-$r" ${runs[$i]} -o json >"$dir/$i-$r.json" 2>"$dir/$i-$r.err" || true
    jq -r --arg f "${runs[$i]}" '
      def pct: . * 10000 | round / 100;
      [$f, (.network.raw_loss_ratio // 0 | pct), (.loss_ratio | pct), (.network.other_loss_ratio // 0 | pct),
       (.network.recovered_packets // 0), (.network.retransmissions_received // 0), (.network.retransmission_byte_ratio // 0 | pct),
       (.network.nacked_packets // 0), (.network.listeners_nacking // 0),
       (.network.red_recovered_packets // 0), (.network.listeners_red // 0),
       (if .packets_received > 0 then (.network.bytes_received // 0) / .packets_received * 10 | round / 10 else 0 end),
       (.cpu_us_per_forwarded_packet * 100 | round / 100), .forwarded_packets, .join_error // ""] | @tsv' "$dir/$i-$r.json"
  done
done
