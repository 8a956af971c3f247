#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/media.sh: RTP relayed by one worker lcore next to dpdk-testpmd's
# macswap, same run, same net_pcap port (infinite_rx replay of one G.711
# packet, 214-byte frame, for each of --streams anchored streams; TX to
# /dev/null), same cores.
#
#   1. testpmd --forward-mode=macswap, 1 forwarding core      (baseline)
#   2. sipfp, 1 worker, --streams flows installed (bench/media_flows, as the
#      control process would after that many calls' SDP): packets relayed
#      per second (media_relayed), each looked up by port, latched, its
#      RTP loss and jitter counted, headers rewritten, checksum updated
#   3. memory: the flow table's bytes per stream (4 ports) and per port
#
# One media address holds 11,250 streams here (ports 20000-64999); more
# streams are spread over more addresses (media_addr = 10.77.0.2,
# 10.77.0.3, ...), up to 16: --streams 100000 uses 9.
#
# Usage: bench/media.sh [--secs S] [--streams N] [--build DIR]
# Root only (hugepages).  Prints one table; never fails on a rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
secs=5
streams=10000
while [ $# -gt 0 ]; do
	case $1 in
	--secs) secs=$2; shift 2 ;;
	--streams) streams=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,16p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "media.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "media.sh: run as root (hugepages)" >&2; exit 1; }
dp=$build/dataplane/sipfp-dataplane
flows=$build/bench/media_flows
for b in "$dp" "$flows"; do [ -x "$b" ] || { echo "media.sh: $b missing: build first" >&2; exit 1; }; done
command -v dpdk-testpmd >/dev/null || { echo "media.sh: dpdk-testpmd missing (apt-get install dpdk-dev)" >&2; exit 1; }
[ "$streams" -ge 1 ] && [ "$streams" -le 180000 ] || { echo "media.sh: --streams 1..180000 (4 ports each, 20000-64999, 16 addresses)" >&2; exit 2; }
naddr=$(( (streams + 11249) / 11250 ))
per=$(( (streams + naddr - 1) / naddr ))
addrs=$(seq 2 $((naddr + 1)) | sed 's/^/10.77.0./' | paste -sd,)
# net_pcap's infinite_rx holds the whole capture in mbufs: one per stream, and room
nmbuf=32767
[ "$streams" -gt 16000 ] && nmbuf=$(( (streams * 2 + 16383) / 16384 * 16384 - 1 ))

work=$(mktemp -d /tmp/sipfp-bench-media.XXXXXX)
prefix=sipfpbm
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$work" "/var/run/dpdk/$prefix"
	rm -f /dev/hugepages/"$prefix"map_* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)" -lt 512 ]; then
	echo 512 > /proc/sys/vm/nr_hugepages
fi
grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

python3 "$here/mkpcap.py" "$work/rtp.pcap" --rtp "$streams" --media-addrs "$addrs" --per-addr "$per"
eal=(--no-pci --file-prefix "$prefix")
vdev="net_pcap0,rx_pcap=$work/rtp.pcap,tx_pcap=/dev/null,infinite_rx=1"
lc="0@0,1@1"
last=$((20000 + 4 * per - 1))

echo "== testpmd macswap, 1 core" >&2
fifo=$work/tp.fifo
mkfifo "$fifo"
dpdk-testpmd --lcores "$lc" "${eal[@]}" --vdev "$vdev" -- -i --forward-mode=macswap \
	--nb-cores=1 --total-num-mbufs=$((nmbuf + 1)) <"$fifo" >"$work/tp.out" 2>&1 &
tp=$!
{
	echo "start"; sleep 2
	echo "show port stats 0"; sleep "$secs"
	echo "show port stats 0"; echo "stop"; echo "quit"; sleep 2
} >"$fifo"
wait "$tp" || true
tp1=$(awk '/Tx-pps:/ {v=$2} END {print v+0}' "$work/tp.out")

echo "== sipfp, 1 worker, $streams streams" >&2
"$dp" --lcores "$lc" "${eal[@]}" --vdev "$vdev" -- --addr 10.77.0.2 -r "$work/ready" \
	--set busy_poll=yes --set mbufs=$nmbuf --set "media_ports=20000-$last" --set "media_addr=$addrs" \
	--set "ctl_socket=$work/ctl.sock" --set "db_path=$work/sipfp.db" >"$work/dp.log" 2>&1 &
dp_pid=$!
pids+=("$dp_pid")
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || { echo "media.sh: data plane did not start" >&2; cat "$work/dp.log" >&2; exit 1; }
SFP_BENCH_ADDRS=$naddr "$flows" --proc-type=secondary --lcores 2@0 "${eal[@]}" --log-level=lib.eal:error -- "$streams" >&2
tm() { python3 "$here/telemetry.py" "$prefix" "$@"; }
sleep 2
relay=$(tm rate /sipfp/stats media_relayed drop_media_no_flow drop_media_source --secs "$secs")
kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
r=$(echo "$relay" | awk -F= '/^media_relayed=/ {print $2}')
nf=$(echo "$relay" | awk -F= '/^drop_media_no_flow=/ {print $2}')
ns=$(echo "$relay" | awk -F= '/^drop_media_source=/ {print $2}')

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "sipfp media relay vs dpdk-testpmd macswap, net_pcap infinite_rx, $streams streams on $naddr media address(es), 214-byte frames, ${secs}s"
echo "CPU: $cpu, $(nproc) cores; DPDK $(pkg-config --modversion libdpdk 2>/dev/null)"
printf '%-46s %12s %12s %8s\n' "figure" "sipfp/s" "testpmd/s" "ratio"
printf '%-46s %12s %12s %8s\n' "RTP relayed, 1 worker" "$r" "$tp1" "$(pct "$r" "$tp1")"
printf '%-46s %12s\n' "  dropped: no flow (must be 0)" "$nf"
printf '%-46s %12s\n' "  dropped: not the latched source (must be 0)" "$ns"
sed -n 's/.*\(media flow table: .*\)/\1/p' "$work/dp.log"
