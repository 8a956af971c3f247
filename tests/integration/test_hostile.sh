#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The project's hostile corpus (tests/hostile/gen.py) through the real data
# plane on a net_pcap port: every message gets its defined answer (a 400
# naming the problem, another status the RFC gives, or a drop counted under
# its reason), the data plane survives all of them, and no mbuf leaks.
# Rate limits are off here: this is about parsing, not admission.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
run=$(mktemp -d /tmp/sipfp-hostile.XXXXXX)
prefix=sipfphost
. "$top/tests/integration/lib.sh"
tm() { python3 "$top/bench/telemetry.py" "$prefix" "$@"; }
hc() { python3 "$top/tests/integration/hostilecase.py" "$@"; }
dp_pid=""
cleanup() {
	[ -n "$dp_pid" ] && kill -KILL "$dp_pid" 2>/dev/null
	rm -rf "$run" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

n=$(hc gen "$run/in.pcap")
"$build/dataplane/sipfp-dataplane" -l 0,1 --no-huge -m 256 --no-pci --file-prefix "$prefix" \
	--vdev "net_pcap0,rx_pcap=$run/in.pcap,tx_pcap=$run/out.pcap" -- \
	--addr 10.77.0.2 --set src_rate=0 --set ood_rate=0 -r "$run/ready" >"$run/dp.log" 2>&1 &
dp_pid=$!
for _ in $(seq 100); do [ -e "$run/ready" ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(tm /sipfp/stats rx_packets 2>/dev/null)" = "$n" ] && break; sleep 0.1; done
rx=$(tm /sipfp/stats rx_packets 2>/dev/null)
[ "$rx" = "$n" ] && ok "all $n hostile frames received" || { ko "received $rx of $n frames"; cat "$run/dp.log"; }
while read -r c want how; do
	v=$(tm /sipfp/stats "$c")
	if [ "$how" = exact ]; then
		[ "$v" = "$want" ] && ok "counter $c = $want" || ko "counter $c = $v, want $want"
	else
		[ "$v" -ge "$want" ] && ok "counter $c = $v (at least $want)" || ko "counter $c = $v, want at least $want"
	fi
done < <(hc drops)

stop_dp "$dp_pid" "$run/dp.log"
dp_pid=""

out=$(hc check "$run/out.pcap")
echo "$out"
pass=$((pass + $(echo "$out" | grep -c '^ok'))); fail=$((fail + $(echo "$out" | grep -c '^not ok')))
finish
