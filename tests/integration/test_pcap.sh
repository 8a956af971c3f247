#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# pcap in -> pcap out: the data plane alone, under the real EAL, on a
# net_pcap port (no hugepages, no control process).  The input frames and
# the checks of what comes out are in pcapcase.py; the drop counters are
# read over DPDK telemetry, the same socket dpdk-telemetry.py uses.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
run=$(mktemp -d /tmp/sipfp-pcap.XXXXXX)
prefix=sipfppcap
secret=pcap-test-secret
export SIPFP_SECRET=$secret
. "$top/tests/integration/lib.sh"
tm() { python3 "$top/bench/telemetry.py" "$prefix" "$@"; }
dp_pid=""
cleanup() {
	[ -n "$dp_pid" ] && kill -KILL "$dp_pid" 2>/dev/null
	rm -rf "$run" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

n=$(python3 "$top/tests/integration/pcapcase.py" gen "$run/in.pcap")
"$build/dataplane/sipfp-dataplane" -l 0,1 --no-huge -m 256 --no-pci --file-prefix "$prefix" \
	--vdev "net_pcap0,rx_pcap=$run/in.pcap,tx_pcap=$run/out.pcap" -- \
	--addr 10.77.0.2 --set nonce_secret=$secret --set algorithms=SHA-256,MD5 \
	-r "$run/ready" >"$run/dp.log" 2>&1 &
dp_pid=$!
for _ in $(seq 100); do [ -e "$run/ready" ] && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(tm /sipfp/stats rx_packets 2>/dev/null)" = "$n" ] && break; sleep 0.1; done
rx=$(tm /sipfp/stats rx_packets 2>/dev/null)
[ "$rx" = "$n" ] && ok "all $n input frames received" || { ko "received $rx of $n frames"; cat "$run/dp.log"; }

# the drops the cases provoke, each under its own reason
expect() { local v; v=$(tm /sipfp/stats "$1"); [ "$v" = "$2" ] && ok "counter $1 = $2" || ko "counter $1 = $v, want $2"; }
expect drop_udp_checksum 1
expect drop_udp_port 1
expect drop_frag_malformed 3     # the overlapping fragment, the one held before it and the later one of its datagram (RFC 1858 4, RFC 5722: the whole datagram is dropped)
expect drop_frag_duplicate 1
expect frag_reassembled 4
expect drop_sip_unparseable 1
expect arp_replies 1
expect icmp_echo_replies 1
info=$(tm /sipfp/info)
echo "$info" | grep -q '"workers": 1' && ok "telemetry /sipfp/info answers" || ko "telemetry /sipfp/info: $info"
[ "$(tm /ethdev/stats,0 opackets)" -gt 0 ] && ok "ethdev telemetry: frames sent" || ko "ethdev telemetry"

stop_dp "$dp_pid" "$run/dp.log"
dp_pid=""

out=$(python3 "$top/tests/integration/pcapcase.py" check "$run/out.pcap")
echo "$out"
pass=$((pass + $(echo "$out" | grep -c '^ok'))); fail=$((fail + $(echo "$out" | grep -c '^not ok')))
finish
