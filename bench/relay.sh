#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/relay.sh: sipfp's media relay side by side with rtpengine 10.5
# (Debian's rtpengine-daemon, userspace forwarding: no kernel module,
# one worker thread), same run, same streams, same path: a veth pair into
# a network namespace where bench/rtpgen sends G.711 packets for --streams
# anchored calls and counts what comes back, with the latency of each.
#
#   sipfp: the data plane on the host end of the veth (net_af_packet), one
#          worker lcore busy-polling CPU 1; the streams' flows installed
#          by bench/media_flows
#   rtpengine: on the same veth end with its address in the kernel, its
#          process pinned to CPU 1; the calls set up over ng (bench/ng.py)
#   rtpgen runs on CPU 0 in the namespace: first at --lat-rate packets/s
#   (10,000) for the latency each relay adds (p50, p99; send to receive on
#   one clock, through the veth both ways, rtpgen's threads sharing CPU 0),
#   then as fast as it can: packets relayed per second, the relay's
#   capacity on one core when it relays less than was offered; then at
#   --cpu-rate packets/s (50,000, what both carry) with sipfp not busy
#   polling (it sleeps 1 ms whenever a poll finds nothing): CPU 1's busy
#   time (/proc/stat: all but idle and iowait) per relayed packet, the
#   cost per packet on one core where neither relay saturates.
#
# Usage: bench/relay.sh [--secs S] [--streams N] [--lat-rate PPS] [--cpu-rate PPS] [--build DIR]
# Root only.  Prints one table; never fails on a rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
secs=5
streams=1000
lat_rate=10000
cpu_rate=50000
while [ $# -gt 0 ]; do
	case $1 in
	--secs) secs=$2; shift 2 ;;
	--streams) streams=$2; shift 2 ;;
	--lat-rate) lat_rate=$2; shift 2 ;;
	--cpu-rate) cpu_rate=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,24p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "relay.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "relay.sh: run as root" >&2; exit 1; }
dp=$build/dataplane/sipfp-dataplane
flows=$build/bench/media_flows
gen=$build/bench/rtpgen
for b in "$dp" "$flows" "$gen"; do [ -x "$b" ] || { echo "relay.sh: $b missing: build first" >&2; exit 1; }; done
command -v rtpengine >/dev/null || { echo "relay.sh: rtpengine missing (apt-get install rtpengine-daemon)" >&2; exit 1; }
[ "$streams" -ge 1 ] && [ "$streams" -le 10000 ] || { echo "relay.sh: --streams 1..10000" >&2; exit 2; }

work=$(mktemp -d /tmp/sipfp-bench-relay.XXXXXX)
prefix=sipfpbr
ns=sipfpbg
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	ip link del bg0 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$work" "/var/run/dpdk/$prefix"
	rm -f /dev/hugepages/"$prefix"map_* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)" -lt 512 ]; then
	echo 512 > /proc/sys/vm/nr_hugepages
fi
grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

# the path: bg0 (host: the relay) <-> bg1 (namespace: 10.88.0.1, rtpgen).
# veth leaves UDP checksums to offload: computed on the sending side.
ip netns add "$ns"
ip link add bg0 type veth peer name bg1 netns "$ns"
ip link set bg0 up
ethtool -K bg0 tx off >/dev/null
ip netns exec "$ns" sh -c 'ip addr add 10.88.0.1/24 dev bg1 && ip link set bg1 up && ip link set lo up &&
	ethtool -K bg1 tx off >/dev/null'
gen_mac=$(ip netns exec "$ns" cat /sys/class/net/bg1/address)
last=$((20000 + 4 * streams - 1))
run_gen() { # RATE: one rtpgen run, its output line
	ip netns exec "$ns" taskset -c 0 "$gen" 10.88.0.1 10.88.0.2 "$work/ports" 5000 "$1" "$secs"
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
busy1() { awk '$1 == "cpu1" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; } # jiffies
# one rtpgen run at RATE measuring CPU 1: "RX_PPS US_PER_PACKET"
cpu_run() {
	local b0 b1 out
	b0=$(busy1)
	out=$(run_gen "$1")
	b1=$(busy1)
	echo "$out" | awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" -v s="$secs" '{
		for (i = 1; i <= NF; i++) if ($i ~ /^rx_pps=/) { split($i, kv, "="); r = kv[2] }
		us = 0
		if (r > 0) us = 1e6 * b / hz / (r * s)
		printf "%s %.2f\n", r, us }'
}
start_dp() { # sipfp's data plane on bg0, its flows installed; extra --set options
	"$dp" --lcores 0@0,1@1 --no-pci --file-prefix "$prefix" --vdev net_af_packet0,iface=bg0 -- \
		--addr 10.88.0.2 -r "$work/ready" --set "media_ports=20000-$last" \
		--set src_rate=0 --set ood_rate=0 "$@" \
		--set "ctl_socket=$work/ctl.sock" --set "db_path=$work/sipfp.db" >"$work/dp.log" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
	[ -e "$work/ready" ] || { echo "relay.sh: data plane did not start" >&2; cat "$work/dp.log" >&2; exit 1; }
	"$flows" --proc-type=secondary --lcores 2@0 --no-pci --file-prefix "$prefix" --log-level=lib.eal:error -- \
		"$streams" 20000 10.88.0.1 5000 "$gen_mac" >&2
	sleep 1
}

echo "== sipfp, 1 worker lcore on CPU 1, $streams streams" >&2
seq 0 $((streams - 1)) | awk '{print 20000 + 4 * $1}' >"$work/ports"
start_dp --set busy_poll=yes
# latency first, at a rate both relays carry, with nothing queued yet
s_lat=$(run_gen "$lat_rate")
s_max=$(run_gen 0)
kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
rm -f "$work/ready"
echo "== sipfp again, not busy polling (1 ms sleeps when idle), at $cpu_rate pkts/s for CPU per packet" >&2
start_dp --set busy_poll=no --set idle_sleep_us=1000
s_cpu=$(cpu_run "$cpu_rate")
kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true

echo "== rtpengine $(rtpengine --version 2>&1 | head -1 | awk '{print $NF}'), userspace, 1 thread on CPU 1" >&2
ip addr add 10.88.0.2/24 dev bg0
taskset -c 1 rtpengine --interface=10.88.0.2 --listen-ng=127.0.0.1:22230 --table=-1 --foreground \
	--log-stderr --log-level=4 --num-threads=1 --port-min=20000 --port-max=60000 \
	--pidfile="$work/rtpengine.pid" >"$work/rtpengine.log" 2>&1 &
re_pid=$!
pids+=("$re_pid")
sleep 1
python3 "$here/ng.py" 127.0.0.1:22230 "$streams" 10.88.0.1 4000 10.88.0.1 5000 "$work/ports"
r_lat=$(run_gen "$lat_rate")
r_cpu=$(cpu_run "$cpu_rate") # before the flood, which rtpengine may not recover from at once
r_max=$(run_gen 0)
kill "$re_pid"; wait "$re_pid" 2>/dev/null || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "media relay, $streams streams over a veth pair from a network namespace, ${secs}s a figure"
echo "CPU: $cpu, $(nproc) cores; relay on CPU 1, rtpgen on CPU 0"
printf '%-12s %14s %14s %10s %10s %12s\n' relay "relayed/s" "offered/s" "p50 us" "p99 us" "at pkts/s"
for r in sipfp rtpengine; do
	if [ $r = sipfp ]; then m=$s_max l=$s_lat; else m=$r_max l=$r_lat; fi
	printf '%-12s %14s %14s %10s %10s %12s\n' $r "$(echo "$m" | field rx_pps)" "$(echo "$m" | field tx_pps)" \
		"$(echo "$l" | field p50_us)" "$(echo "$l" | field p99_us)" "$lat_rate"
done
echo "sipfp relayed $(ratio "$(echo "$s_max" | field rx_pps)" "$(echo "$r_max" | field rx_pps)") what rtpengine did on one core" \
	"(a relay that passed all it was offered was not saturated: rtpgen on one core is the limit then)"
set -- $s_cpu; sc_pps=$1 sc_us=$2
set -- $r_cpu; rc_pps=$1 rc_us=$2
echo "CPU 1 busy per relayed packet at $cpu_rate pkts/s offered: sipfp $sc_us us ($sc_pps/s relayed)," \
	"rtpengine $rc_us us ($rc_pps/s relayed): $(ratio "$rc_us" "$sc_us") less for sipfp," \
	"one core's capacity $(awk -v a="$sc_us" 'BEGIN { if (a > 0) printf "%.0f", 1e6 / a }')/s against" \
	"$(awk -v a="$rc_us" 'BEGIN { if (a > 0) printf "%.0f", 1e6 / a }')/s"
