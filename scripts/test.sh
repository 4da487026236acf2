#!/usr/bin/env bash
# Installs what the test suite needs and runs all of it: unit tests, the
# tshark cross-check, namespace integration tests (root), and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Namespaces, routes and raw sockets need root: ask sudo for it (keeping the
# PATH that finds go), or say so on a machine without sudo.
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "scripts/test.sh needs root (network namespaces, apt-get): run it as root" >&2
		exit 1
	fi
	exec sudo env "PATH=$PATH" "$PWD/scripts/test.sh" "$@"
fi

need=()
for p in tshark:tshark iperf3:iperf3 nft:nftables ethtool:ethtool ip:iproute2 tcpdump:tcpdump; do
	command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== go vet"
go vet ./...

echo "== go test"
# -p 1: namespace integration tests measure rates and delays; running test
# binaries one at a time keeps them from competing for the 2 cores.
MONAMI_REQUIRE_ROOT_TESTS=1 go test -p 1 -count=1 -timeout 25m ./...

echo "== benchmark smoke run (ratios against baselines of the same run)"
./scripts/bench-smoke.sh

echo "== short fuzz runs"
# A count, not a duration: with a time limit Go's fuzzer sometimes ends a
# short run with "context deadline exceeded" while minimising.
./scripts/fuzz.sh 30000x
