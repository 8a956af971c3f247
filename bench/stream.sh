#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/stream.sh: SIP over TCP and TLS beside UDP, in one run, through the
# same sipfp (TAP port, exception path for TCP) and the same client
# (bench/streamload.py for registrations, handshakes and held connections;
# SIPp for calls, UDP and TCP: Debian's SIPp has no TLS).
#
# Prints per transport: digest registrations/s (REGISTER -> 401 -> REGISTER
# -> 200, every one checked), the control process's CPU per registration;
# TLS handshakes/s and CPU per handshake; memory per idle connection held
# (the control process's RSS growth plus the kernel's socket memory in the
# exception namespace, /proc/net/sockstat), for TCP and TLS; calls/s
# with SIPp (caller over UDP or TCP, callee over UDP) and failures.
#
# Usage: bench/stream.sh [--procs N] [--regs N] [--conns N] [--rate CPS] [--calls N] [--build DIR]
# Root only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
procs=4 regs=1500 conns=3000 rate=200 calls=2000 build=$top/build
while [ $# -gt 0 ]; do
	case $1 in
	--procs) procs=$2; shift 2 ;;
	--regs) regs=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,17p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "stream.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "stream.sh: run as root" >&2; exit 1; }
run=$(mktemp -d /tmp/sipfp-bstream.XXXXXX)
prefix=sipfpbt iface=sipfpbt0
ctl=$build/control/cli/sipfpctl
export SIPFP_SOCKET=$run/ctl.sock
lpid=""
cleanup() {
	set +e
	pkill -f "sipp .*$run" 2>/dev/null
	[ -n "$lpid" ] && kill -TERM "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
	pkill -KILL -f "file-prefix $prefix" 2>/dev/null
	ip link del "$iface" 2>/dev/null
	ip netns del "sipfp-$prefix" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$run"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=10.77.0.2" \
	-addext "subjectAltName=IP:10.77.0.2" -keyout srv.key -out srv.pem >/dev/null 2>&1
"$top/scripts/sipfp-launch" --rundir "$run" --file-prefix "$prefix" --iface "$iface" \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set tls_cert="$run/srv.pem" --set tls_key="$run/srv.key" --set media=no \
	--set src_rate=0 --set ood_rate=0 --set tcp_max_conns=$((conns + 100)) --set tcp_max_per_source=0 \
	--set tls_handshakes_per_source=0 --set bf_max_fails=0 --set bf_user_max_fails=0 >"$run/launch.log" 2>&1 &
lpid=$!
for _ in $(seq 100); do
	[ -S "$run/ctl.sock" ] && "$ctl" stats 2>/dev/null | grep -q "^control_attached *1" && break
	sleep 0.3
done
echo benchpw | "$ctl" user add bench >/dev/null
echo calleepw | "$ctl" user add callee >/dev/null
cpid=$(pgrep -f "sipfp-control.*file-prefix $prefix" | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$cpid/stat"; } # clock ticks
tck=$(getconf CLK_TCK)
rss() { awk '/VmRSS/ {print $2}' "/proc/$cpid/status"; } # kB
kmem() { ip netns exec "sipfp-$prefix" awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; } # pages

echo "sipfp SIP over TCP/TLS beside UDP, $(date -u +%F), $(nproc) CPUs, one client for all (bench/streamload.py, $procs processes)"
echo
printf "%-10s %14s %12s %16s\n" transport "registrations" "per second" "control us/reg"
for tp in udp tcp tls; do
	c0=$(cpu)
	out=$(python3 "$here/streamload.py" reg "$tp" "$procs" "$regs" bench benchpw) || true
	c1=$(cpu)
	n=$(echo "$out" | sed -n 's/.* registrations \([0-9]*\)\/.*/\1/p')
	r=$(echo "$out" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p')
	us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$tck" 'BEGIN { if (n) printf "%.0f", c / t * 1e6 / n; else print "?" }')
	printf "%-10s %14s %12s %16s\n" "$tp" "${n:-?}/$((procs * regs))" "${r:-?}" "$us"
done
echo
c0=$(cpu)
out=$(python3 "$here/streamload.py" hs "$procs" 5)
c1=$(cpu)
n=$(echo "$out" | sed -n 's/tls handshakes \([0-9]*\) .*/\1/p')
us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$tck" 'BEGIN { if (n) printf "%.0f", c / t * 1e6 / n; else print "?" }')
echo "TLS handshakes (ECDSA P-256, TLS 1.3, new connection each): $out; control $us us each"
echo
printf "%-10s %12s %18s %18s %18s\n" transport "held" "control B/conn" "kernel B/conn" "total B/conn"
for tp in tcp tls; do
	r0=$(rss) k0=$(kmem)
	python3 "$here/streamload.py" hold "$tp" "$conns" 8 >"$run/hold.out" 2>&1 &
	hp=$!
	sleep 6
	held=$("$ctl" stats | awk '$1 == "connections" {print $2}')
	r1=$(rss) k1=$(kmem)
	wait "$hp" || true
	awk -v n="$held" -v r=$((r1 - r0)) -v k=$((k1 - k0)) -v tp="$tp" 'BEGIN {
		if (!n) { printf "%-10s %12s\n", tp, 0; exit }
		c = r * 1024 / n; kk = k * 4096 / n
		printf "%-10s %12d %18.0f %18.0f %18.0f\n", tp, n, c, kk, c + kk }'
	sleep 2
done
echo
# calls: SIPp, the callee over UDP, the caller over UDP then TCP
register() { (cd "$run" && timeout 20 sipp -sf "$top/tests/sipp/reg_contact.xml" -i 10.77.0.1 -p 5173 -m 1 \
	-key user callee -au callee -ap calleepw -key contact_port 5172 -key expires 3600 -nostdin \
	10.77.0.2:5060 >/dev/null 2>&1); }
register
printf "%-10s %10s %10s %10s %16s\n" caller "calls/s" ok failed "control us/call"
for t in u1 t1; do
	(cd "$run" && timeout $((calls / rate + 60)) sipp -sf "$top/tests/sipp/uas_answer.xml" -i 10.77.0.1 -p 5172 \
		-nostdin -bg >/dev/null 2>&1) || true
	sleep 0.5
	c0=$(cpu)
	t0=$(date +%s.%N)
	(cd "$run" && timeout $((calls / rate + 60)) sipp -sf "$top/tests/sipp/uac_call.xml" -i 10.77.0.1 -p 5171 \
		-t "$t" -s callee -key user bench -au bench -ap benchpw -d 100 -r "$rate" -m "$calls" \
		-timeout $((calls / rate + 40))s -nostdin -trace_stat -stf "$run/$t.csv" 10.77.0.2:5060 >/dev/null 2>&1) || true
	t1=$(date +%s.%N)
	c1=$(cpu)
	pkill -f "sipp .*uas_answer.xml.*-p 5172" 2>/dev/null || true
	ok=$(tail -1 "$run/$t.csv" | awk -F';' '{print $16}') bad=$(tail -1 "$run/$t.csv" | awk -F';' '{print $18}')
	cps=$(awk -v n="${ok:-0}" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
	us=$(awk -v c=$((c1 - c0)) -v n="${ok:-0}" -v t="$tck" 'BEGIN { if (n) printf "%.0f", c / t * 1e6 / n; else print "?" }')
	printf "%-10s %10s %10s %10s %16s\n" "$([ $t = u1 ] && echo udp || echo tcp)" "$cps" "${ok:-?}" "${bad:-?}" "$us"
	sleep 1
done
