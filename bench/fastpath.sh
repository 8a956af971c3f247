#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/fastpath.sh: the fast path's rates next to dpdk-testpmd's, same run,
# same net_pcap port (infinite_rx replay of distinct ~730-byte INVITEs, TX to
# /dev/null), same cores.
#
#   1. testpmd --forward-mode=macswap, 1 forwarding core      (baseline)
#   2. sipfp, 1 worker: 407 challenges per second
#   3. testpmd macswap, 2 forwarding cores, 2 queues          (baseline)
#   4. sipfp, 2 workers: 407 challenges per second
#   5. sipfp, 1 worker + control process: authenticated INVITEs
#      verified and answered per second (100 Trying + hand-off, or 503 when
#      the ring to the control process is full), with nonces valid for the
#      benchmark's secret; hugepage memory in use.
#   6. admission control, 1 worker: the 407 rate with it on (limits that
#      admit the whole replay, 1000 bans and 100 allow prefixes loaded, none
#      matching: every lookup paid, nothing dropped) next to 2 (off); with
#      the default limits (the replay is then a flood of 4096 sources at a
#      few hundred INVITEs/s each): answered and dropped; and a replay from
#      256 banned sources: drops per second next to testpmd's rate.
# Figures 1-5 run with admission control off (no rate limits, no
# brute-force bans: the authenticated replay fails until its users are
# loaded, and would get every source banned; no User-Agent list).
#
# Usage: bench/fastpath.sh [--secs S] [--count N] [--build DIR]
# Root only (hugepages).  Prints one table; exits non-zero only on errors,
# never on a rate (no timing thresholds).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
secs=5
count=4096
while [ $# -gt 0 ]; do
	case $1 in
	--secs) secs=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,20p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "fastpath.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "fastpath.sh: run as root (hugepages)" >&2; exit 1; }
dp=$build/dataplane/sipfp-dataplane
ctl=$build/control/sipfp-control
cli=$build/control/cli/sipfpctl
for b in "$dp" "$ctl" "$cli"; do [ -x "$b" ] || { echo "fastpath.sh: $b missing: build first" >&2; exit 1; }; done
command -v dpdk-testpmd >/dev/null || { echo "fastpath.sh: dpdk-testpmd missing (apt-get install dpdk-dev)" >&2; exit 1; }

work=$(mktemp -d /tmp/sipfp-bench.XXXXXX)
prefix=sipfpbench
secret=bench-secret-0001
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$work" "/var/run/dpdk/$prefix"
	rm -f /dev/hugepages/"$prefix"map_* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# hugepages (the control process is a secondary: it cannot attach otherwise)
if [ "$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)" -lt 512 ]; then
	echo 512 > /proc/sys/vm/nr_hugepages
fi
grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

python3 "$here/mkpcap.py" "$work/invite.pcap" --count "$count"
python3 "$here/mkpcap.py" "$work/invite-b.pcap" --count "$count"
python3 "$here/mkpcap.py" "$work/banned.pcap" --count "$count" --sources 256 \
	--sources-file "$work/banned.txt"
python3 "$here/mkpcap.py" "$work/auth.pcap" --count "$count" --auth --users 64 \
	--secret "$secret" --users-file "$work/users.htdigest"

eal=(--no-pci --file-prefix "$prefix")
vdev1="net_pcap0,rx_pcap=$work/invite.pcap,tx_pcap=/dev/null,infinite_rx=1"
vdev2="net_pcap0,rx_pcap=$work/invite.pcap,rx_pcap=$work/invite-b.pcap,tx_pcap=/dev/null,tx_pcap=/dev/null,infinite_rx=1"
lc1="0@0,1@1"          # main on CPU 0, one worker on CPU 1
lc2="0@0,1@1,2@0"      # a second worker shares CPU 0 with the (sleeping) main lcore

# testpmd LCORES VDEV NQ: forwarded packets per second over $secs
testpmd_rate() {
	local fifo=$work/tp.fifo out=$work/tp.out
	rm -f "$fifo"; mkfifo "$fifo"
	dpdk-testpmd --lcores "$1" "${eal[@]}" --vdev "$2" -- -i --forward-mode=macswap \
		--nb-cores="$3" --rxq="$3" --txq="$3" --total-num-mbufs=32768 <"$fifo" >"$out" 2>&1 &
	local tp=$!
	{
		echo "start"; sleep 2
		echo "show port stats 0"; sleep "$secs"
		echo "show port stats 0"; echo "stop"; echo "quit"; sleep 2
	} >"$fifo"
	wait "$tp" || true
	awk '/Tx-pps:/ {v=$2} END {print v+0}' "$out"
}

# sipfp_start LCORES VDEV [--set ...]: start the data plane, wait until ready
sipfp_start() {
	local lc=$1 vd=$2; shift 2
	rm -f "$work/ready"
	"$dp" --lcores "$lc" "${eal[@]}" --vdev "$vd" -- --addr 10.77.0.2 -r "$work/ready" \
		--set busy_poll=yes --set nonce_secret=$secret --set mbufs=32767 \
		--set "ctl_socket=$work/ctl.sock" --set "db_path=$work/sipfp.db" "$@" \
		>"$work/dp.log" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	for _ in $(seq 100); do [ -e "$work/ready" ] && return 0; sleep 0.1; done
	echo "fastpath.sh: data plane did not start:" >&2; cat "$work/dp.log" >&2; exit 1
}
sipfp_stop() {
	kill "$dp_pid"; wait "$dp_pid" 2>/dev/null || true
}
tm() { python3 "$here/telemetry.py" "$prefix" "$@"; }
# ctl_start [--set ...]: the control process on lcore 2 (CPU 0), until its socket is up
ctl_start() {
	rm -f "$work/ctl.sock"
	"$ctl" --proc-type=secondary --lcores 2@0 --no-pci --file-prefix "$prefix" -- \
		--set "ctl_socket=$work/ctl.sock" --set "db_path=$work/sipfp.db" "$@" >"$work/ctl.log" 2>&1 &
	ctl_pid=$!
	pids+=("$ctl_pid")
	for _ in $(seq 100); do [ -S "$work/ctl.sock" ] && return 0; sleep 0.1; done
	echo "fastpath.sh: control process did not start:" >&2; cat "$work/ctl.log" >&2; exit 1
}
ctl_stop() { kill "$ctl_pid"; wait "$ctl_pid" 2>/dev/null || true; }
cli() { SIPFP_SOCKET=$work/ctl.sock "$cli" "$@"; }
off=(--set src_rate=0 --set ood_rate=0 --set bf_max_fails=0 --set bf_user_max_fails=0 --set ua_block=)

# sipfp_407_rate LCORES VDEV VAR: 407 challenges per second over $secs into VAR
# (not in a subshell: the data plane must stay this shell's child for cleanup)
sipfp_407_rate() {
	sipfp_start "$1" "$2" "${off[@]}"
	sleep 1
	printf -v "$3" '%s' "$(tm rate /sipfp/stats challenge_407 --secs "$secs" | cut -d= -f2)"
	sipfp_stop
}

echo "== 1 core: testpmd macswap, then sipfp 407" >&2
tp1=$(testpmd_rate "$lc1" "$vdev1" 1)
sipfp_407_rate "$lc1" "$vdev1" s1
echo "== 2 cores: testpmd macswap, then sipfp 407" >&2
tp2=$(testpmd_rate "$lc2" "$vdev2" 2)
sipfp_407_rate "$lc2" "$vdev2" s2

echo "== sipfp authenticated INVITEs, 1 worker + control process" >&2
vdeva="net_pcap0,rx_pcap=$work/auth.pcap,tx_pcap=/dev/null,infinite_rx=1"
sets=(--set algorithms=MD5,SHA-256 --set check_digest_uri=no --set nonce_secret=$secret)
sipfp_start "$lc1" "$vdeva" "${sets[@]}" "${off[@]}"
ctl_start "${sets[@]}"
cli user import "$work/users.htdigest" >&2
for _ in $(seq 50); do [ "$(tm /sipfp/info users)" = 64 ] && break; sleep 0.1; done
sleep 1
auth=$(tm rate /sipfp/stats auth_ok trying_100 reply_503 auth_fail --secs "$secs")
huge=$(tm /sipfp/info hugepage_bytes)
ctl_stop
sipfp_stop

echo "== admission control on: limits admit the replay, 1000 bans, 100 allow prefixes" >&2
rm -f "$work/sipfp.db"*
sipfp_start "$lc1" "$vdev1" --set src_rate=1000000 --set src_burst=4000 \
	--set ood_rate=1000000 --set ood_burst=4000
ctl_start
for i in $(seq 0 999); do cli ban add "172.16.$((i / 250)).$((i % 250 + 1))" >/dev/null; done
for i in $(seq 1 100); do cli allow add "192.168.$i.0/24" >/dev/null; done
sleep 1
adm_on=$(tm rate /sipfp/stats challenge_407 --secs "$secs" | cut -d= -f2)
adm_bans=$(cli ban list | tail -n +2 | wc -l)
ctl_stop
sipfp_stop

echo "== admission control with its default limits: the replay as a flood" >&2
sipfp_start "$lc1" "$vdev1"
sleep 1
flood=$(tm rate /sipfp/stats rx_packets challenge_407 drop_rate_limited drop_rate_limited_ood --secs "$secs")
sipfp_stop
f_rx=$(echo "$flood" | awk -F= '/^rx_packets=/ {print $2}')
f_407=$(echo "$flood" | awk -F= '/^challenge_407=/ {print $2}')
f_rl=$(echo "$flood" | awk -F= '/^drop_rate_limited=/ {print $2}')
f_rlo=$(echo "$flood" | awk -F= '/^drop_rate_limited_ood=/ {print $2}')

echo "== 256 banned sources" >&2
rm -f "$work/sipfp.db"*
sipfp_start "$lc1" "net_pcap0,rx_pcap=$work/banned.pcap,tx_pcap=/dev/null,infinite_rx=1"
ctl_start
while read -r a; do cli ban add "$a" >/dev/null; done <"$work/banned.txt"
sleep 1
banned=$(tm rate /sipfp/stats drop_banned --secs "$secs" | cut -d= -f2)
ctl_stop
sipfp_stop
a_ok=$(echo "$auth" | awk -F= '/^auth_ok=/ {print $2}')
a_100=$(echo "$auth" | awk -F= '/^trying_100=/ {print $2}')
a_503=$(echo "$auth" | awk -F= '/^reply_503=/ {print $2}')
a_fail=$(echo "$auth" | awk -F= '/^auth_fail=/ {print $2}')

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "sipfp fast path vs dpdk-testpmd macswap, net_pcap infinite_rx, $count distinct INVITEs, ${secs}s per figure"
echo "CPU: $cpu, $(nproc) cores; DPDK $(pkg-config --modversion libdpdk 2>/dev/null)"
printf '%-46s %12s %12s %8s\n' "figure" "sipfp/s" "testpmd/s" "ratio"
printf '%-46s %12s %12s %8s\n' "407 challenges, 1 worker" "$s1" "$tp1" "$(pct "$s1" "$tp1")"
printf '%-46s %12s %12s %8s\n' "407 challenges, 2 workers" "$s2" "$tp2" "$(pct "$s2" "$tp2")"
printf '%-46s %12s %12s %8s\n' "authenticated INVITEs verified, 1 worker" "$a_ok" "$tp1" "$(pct "$a_ok" "$tp1")"
printf '%-46s %12s\n' "  of which 100 Trying + handed off" "$a_100"
printf '%-46s %12s\n' "  of which 503 (control ring full)" "$a_503"
printf '%-46s %12s\n' "  credentials rejected (must be 0)" "$a_fail"
printf '%-46s %12s %12s %8s\n' "407, admission on ($adm_bans bans, 100 allow)" "$adm_on" "$s1" "$(pct "$adm_on" "$s1")"
printf '%-46s %12s %12s %8s\n' "banned sources dropped, 1 worker" "$banned" "$tp1" "$(pct "$banned" "$tp1")"
echo "default limits, replay as a flood of 4096 sources: received $f_rx/s, answered 407 $f_407/s," \
     "dropped $f_rl/s (src_rate) + $f_rlo/s (ood_rate)"
echo "(the admission row compares with sipfp's own 1-worker 407 rate, admission off)"
echo "scaling 1 -> 2 workers: $(pct "$s2" "$s1") of the 1-worker rate"
echo "hugepage heap in use by the data plane: $((huge / 1048576)) MiB"
