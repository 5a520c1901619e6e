#!/usr/bin/env bash
# The soak (make soak): one server with 2 workers on loopback, `voicectl loadgen
# soak` against it for $1 (default 1h), its samples, plot and report in
# bin/soak/. Run inside scripts/in-netns.sh:
#   scripts/in-netns.sh scripts/soak.sh 1h [extra `loadgen soak` flags]
set -euo pipefail
length=${1:-1h}
shift || true
bin=${BIN:-bin/voicectl}
out=${SOAK_DIR:-bin/soak}
mkdir -p "$out"
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$dir"' EXIT
export VOICECTL_AUTH_SECRET=soak-secret-0123456789abcdef VOICECTL_AUTH_ADMIN_KEY=soak-admin-key-0123456789
"$bin" serve --http-addr 127.0.0.1:17880 --rtc-port 47000 --workers 2 --data-dir "$dir" --log-level info >"$out/serve.log" 2>&1 &
for _ in $(seq 100); do curl -sf http://127.0.0.1:17880/readyz >/dev/null && break; sleep 0.1; done
# A short soak judges growth after a shorter warm-up.
warmup=5m
case "$length" in *s) warmup=$(( ${length%s} / 6 ))s ;; *m) [ "${length%m}" -lt 30 ] && warmup=$(( ${length%m} * 10 ))s ;; esac
"$bin" loadgen soak --server http://127.0.0.1:17880 --admin-key "$VOICECTL_AUTH_ADMIN_KEY" --length "$length" --warmup "$warmup" \
  --csv "$out/soak.csv" --plot "$out/soak.png" -o json "$@" >"$out/report.json" 2>"$out/soak.log" && rc=0 || rc=$?
cat "$out/report.json"
[ $rc = 0 ] || tail -5 "$out/soak.log"
exit $rc
