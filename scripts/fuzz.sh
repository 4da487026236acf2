#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each (default 10s).
# Usage: scripts/fuzz.sh [DURATION] [PACKAGE-PATTERN]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
pat=${2:-./...}
for pkg in $(go list "$pat"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "-- $pkg $t ($dur)"
		go test -run '^$' -fuzz "^$t\$" -fuzztime "$dur" -parallel 1 "$pkg"
	done
done
