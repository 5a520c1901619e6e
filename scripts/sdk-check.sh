#!/usr/bin/env bash
# Checks the JavaScript client (sdk/js, @voicectl/client): installs its
# locked dev tools (npm ci), type-checks it, runs its unit tests, rebuilds it
# and fails if the page's committed bundle (server/web/static/voicectl-client.js,
# embedded in the Go binary) is not what the sources build.
set -euo pipefail
cd "$(dirname "$0")/../sdk/js"
bundle=../../server/web/static/voicectl-client.js
committed=$(mktemp)
trap 'rm -f "$committed"' EXIT
cp "$bundle" "$committed"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent typecheck
out=$(mktemp)
if ! npm test --silent >"$out" 2>&1; then
  cat "$out" >&2
  rm -f "$out"
  echo "sdk-check: the unit tests failed" >&2
  exit 1
fi
grep -E '^# (tests|pass|fail)' "$out" | tr '\n' ' '
echo
rm -f "$out"
npm run --silent build
if ! cmp -s "$committed" "$bundle"; then
  echo "sdk-check: $bundle is not what sdk/js builds; it was rebuilt now: commit it" >&2
  exit 1
fi
echo "sdk-check: bundle up to date ($(wc -c <"$bundle") bytes, $(gzip -9c "$bundle" | wc -c) gzipped)"
