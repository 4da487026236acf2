#!/usr/bin/env bash
# A short benchmark smoke run: each figure that matters is compared with a
# baseline measured in the same run, on the same machine, and the ratio must
# stay under a limit about ten times the ratio measured when the limit was
# set (2026-12-02, 2-core test machine, load average 11). Generous enough
# not to flake on a busy machine; it catches an order-of-magnitude
# regression. Each benchmark runs 3 times and the fastest run counts; a fixed
# iteration count per package spares the setup of calibration rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

# package  figure  baseline  limit   (measured ratio when the limit was set)
checks='
./wire/              DecodeBindingUpdate               BaselineChecksum    40   3.9
./wire/              DecodeVerifyBindingUpdate         BaselineChecksum    200  21.7
./wire/              EncodeBindingAcknowledgement      BaselineChecksum    170  17.1
./internal/binding/  ProcessBindingUpdate              BaselineMapRefresh  12   1.1
./internal/role/ha/  HomeAgentRefresh                  BaselineHMAC        250  21.5
'

fail=0
for pkg in $(echo "$checks" | awk 'NF {print $1}' | sort -u); do
	names=$(echo "$checks" | awk -v p="$pkg" '$1 == p {print $2; print $3}' | sort -u | paste -sd'|')
	case "$pkg" in ./wire/) n=200000x ;; *) n=20000x ;; esac
	out=$(go test -run '^$' -bench "^Benchmark($names)\$" -benchtime "$n" -count 3 "$pkg")
	# Fastest ns/op of each benchmark (the -N GOMAXPROCS suffix removed).
	best=$(echo "$out" | awk '/^Benchmark/ {
		n = $1; sub(/^Benchmark/, "", n); sub(/-[0-9]+$/, "", n)
		for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") v = $i
		if (!(n in m) || v < m[n]) m[n] = v
	} END { for (n in m) print n, m[n] }')
	while read -r p fig base limit was; do
		[ "$p" = "$pkg" ] || continue
		f=$(echo "$best" | awk -v n="$fig" '$1 == n {print $2}')
		b=$(echo "$best" | awk -v n="$base" '$1 == n {print $2}')
		if [ -z "$f" ] || [ -z "$b" ]; then
			echo "FAIL $fig / $base: benchmark missing from the run"
			fail=1
			continue
		fi
		verdict=$(awk -v f="$f" -v b="$b" -v l="$limit" -v w="$was" 'BEGIN {
			r = f / b; printf "%s %s / %s = %.1f (limit %s, was %s)", (r <= l ? "ok  " : "FAIL"), f, b, r, l, w }')
		echo "$verdict  $fig / $base"
		case "$verdict" in FAIL*) fail=1 ;; esac
	done <<<"$(echo "$checks" | awk 'NF')"
done
exit $fail
