#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target of the module for $1 (default 60s) each,
# one at a time, in a loopback-only namespace (some targets open sockets).
# A crash leaves its input under the package's testdata/fuzz/<Target>/: keep it
# as a seed once fixed (make test runs every seed).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-60s}
go test -count=1 -run '^$' ./... >/dev/null # compile while the module proxy is reachable
failed=0
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    if ! scripts/in-netns.sh go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"; then
      failed=1
    fi
  done
done
exit $failed
