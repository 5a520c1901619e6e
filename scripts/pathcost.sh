#!/usr/bin/env bash
# The server's CPU per forwarded packet by the listeners' transport: one
# `voicectl serve` (one worker, ICE over TCP, the embedded TURN server on UDP
# and TLS with a self-signed certificate), then loadgen runs back to back
# against it with the same publishers and listeners, one per transport,
# ROUNDS times alternated. The worker's CPU per forwarded packet comes from
# loadgen's report; the TURN server runs in the serve process, whose CPU is
# read from /proc over 10 s inside each measurement window. One line per run:
#   transport  worker µs/pkt  serve-process µs/pkt  sum  packets forwarded  loss  listener paths
#   make build && scripts/in-netns.sh scripts/pathcost.sh [transport ...]   (default: udp tcp turn-udp turn-tls)
set -euo pipefail
bin=${BIN:-bin/voicectl}
transports=("$@")
[ ${#transports[@]} -gt 0 ] || transports=(udp tcp turn-udp turn-tls)
rounds=${ROUNDS:-3} rooms=${ROOMS:-2} publishers=${PUBLISHERS:-2} listeners=${LISTENERS:-20}
dir=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=pathcost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
export SSL_CERT_FILE=$dir/cert.pem # loadgen's TURN/TLS client trusts it
export VOICECTL_AUTH_SECRET=pathcost-secret-0123456789abcdef VOICECTL_AUTH_ADMIN_KEY=pathcost-admin-key-0123456789
server=http://127.0.0.1:7880
VOICECTL_RTC_TCP=true VOICECTL_TURN_ENABLED=true VOICECTL_TURN_CERT_FILE=$dir/cert.pem VOICECTL_TURN_KEY_FILE=$dir/key.pem \
  "$bin" serve --dev --http-addr 127.0.0.1:7880 --rtc-port 50000 --workers 1 --data-dir "$dir" --log-level warn \
  >"$dir/serve.out" 2>"$dir/serve.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$bin" workers --server $server >/dev/null 2>&1 && break; sleep 0.1; done
ticks() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
peers=$((rooms * (publishers + listeners)))
for r in $(seq "$rounds"); do
  for t in "${transports[@]}"; do
    "$bin" loadgen run --server $server --rooms "$rooms" --publishers "$publishers" --listeners "$listeners" \
      --warmup 2s --duration 16s --transport "$t" --room-prefix "$t-$r" -o json >"$dir/$t-$r.json" 2>"$dir/$t-$r.err" &
    lg=$!
    for _ in $(seq 300); do # joined: then past the warmup, 10 s of the window
      n=$("$bin" rooms list --server $server -o json 2>/dev/null | jq '[.[].peers] | add // 0')
      [ "$n" -ge "$peers" ] && break
      sleep 0.1
    done
    sleep 3
    c0=$(ticks)
    sleep 10
    c1=$(ticks)
    wait $lg || true
    jq -r --arg t "$t" --argjson c "$(((c1 - c0) * 10000))" '
      (.forwarded_packets / .duration_seconds * 10) as $pkts |
      ($c / $pkts) as $serve |
      [$t, (.cpu_us_per_forwarded_packet * 100 | round / 100), ($serve * 100 | round / 100),
       ((.cpu_us_per_forwarded_packet + $serve) * 100 | round / 100), .forwarded_packets, .loss_ratio,
       (.listener_paths // {} | to_entries | map("\(.key)=\(.value)") | join(",")), .join_error // ""] | @tsv' "$dir/$t-$r.json"
  done
done
