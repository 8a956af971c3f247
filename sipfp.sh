#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The two commands of the README, on a fresh Debian 12 machine as root:
#   ./sipfp.sh run    install what is missing, build, run sipfp (TAP port sipfp0)
#   ./sipfp.sh test   install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")"

deps=(meson ninja-build pkg-config gcc libc6-dev libdpdk-dev dpdk dpdk-dev libssl-dev
      libcmocka-dev libsqlite3-dev sqlite3 libpq-dev libosip2-dev sip-tester tshark iproute2 python3 procps)
# only for the tests: libFuzzer with ASan/UBSan, baresip for a real
# softphone pair, nftables and ethtool for a NAT in a network namespace (libosip2, which the control process links for SDP, also
# serves the differential harness as a second SIP parser); PostgreSQL for
# the test of the PostgreSQL store (a server of its own, not the package's);
# the openssl tool for the TLS test's certificates
test_deps=(clang libclang-rt-14-dev baresip-core nftables ethtool postgresql openssl)

install_deps() {
	[ "$(id -u)" = 0 ] || { echo "sipfp.sh: run as root (apt, hugepages, TAP)" >&2; exit 1; }
	local missing=()
	for p in "${deps[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	# the package lists are fetched only when something is to be installed
	if [ ${#missing[@]} -gt 0 ]; then
		echo "sipfp.sh: installing ${missing[*]}" >&2
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

build() {
	[ -f build/build.ninja ] || meson setup build
	ninja -C build
}

case ${1:-} in
run)
	shift
	install_deps
	build
	exec scripts/sipfp-launch "$@"
	;;
test)
	install_deps "${test_deps[@]}"
	# a build set up by `run` did not look for the test-only libraries
	[ -f build/build.ninja ] && meson setup --reconfigure build >/dev/null
	build
	# hugepages for the secondary process; put back what we found
	hp0=$(cat /proc/sys/vm/nr_hugepages)
	mounted=0
	grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; mounted=1; }
	[ "$hp0" -ge 256 ] || echo 512 > /proc/sys/vm/nr_hugepages
	restore() {
		[ $mounted = 1 ] && umount /dev/hugepages 2>/dev/null || true
		echo "$hp0" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
	}
	trap restore EXIT
	rc=0
	meson test -C build --print-errorlogs --num-processes 1 | tee build/test-summary.txt || rc=$?
	ok=$(awk '/^Ok:/ {print $2}' build/test-summary.txt)
	bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {s += $NF} END {print s + 0}' build/test-summary.txt)
	echo "${ok:-0} passed, ${bad:-0} failed"
	exit $rc
	;;
*)
	echo "usage: $0 run [sipfp-launch options] | test" >&2
	exit 2
	;;
esac
