#!/usr/bin/env bash
# Checks the JavaScript client (sdk/js, @voicectl/client): installs its
# locked dev tools (npm ci), type-checks it, runs its unit tests, rebuilds it
# and fails if the page's committed bundle (server/web/static/voicectl-client.js,
# embedded in the Go binary) is not what the sources build. The rebuilt bundle
# goes to a temp file: make test builds the Go binary at the same time.
set -euo pipefail
cd "$(dirname "$0")/../sdk/js"
bundle=../../server/web/static/voicectl-client.js
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm ci --no-audit --no-fund --loglevel=error
npm run --silent typecheck
if ! npm test --silent >"$tmp/test.out" 2>&1; then
  cat "$tmp/test.out" >&2
  echo "sdk-check: the unit tests failed" >&2
  exit 1
fi
grep -E '^# (tests|pass|fail)' "$tmp/test.out" | tr '\n' ' '
echo
VOICECTL_BUNDLE_OUT="$tmp/voicectl-client.js" npm run --silent build
if ! cmp -s "$tmp/voicectl-client.js" "$bundle"; then
  echo "sdk-check: server/web/static/voicectl-client.js is not what sdk/js builds: run make sdk and commit it" >&2
  exit 1
fi
echo "sdk-check: bundle up to date ($(wc -c <"$bundle") bytes, $(gzip -9c "$bundle" | wc -c) gzipped)"
