#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/stream.sh: SIP over TCP and TLS beside UDP, in one run, through the
# same sipfp (TAP port, exception path for TCP) and the same client
# (bench/streamload.py: Debian's SIPp has no TLS).
#
# Prints per transport: digest registrations/s (REGISTER -> 401 -> REGISTER
# -> 200, every one checked), the control process's CPU per registration;
# TLS handshakes/s and CPU per handshake; memory per idle connection held
# (the control process's RSS growth plus the kernel's slab growth), for
# TCP and TLS; calls/s (8 caller
# and callee pairs, INVITE -> 407 -> ... -> BYE -> 200, all over one
# transport) with failures and the control process's CPU per call.
# Then the same for Kamailio 5.6 (Debian's kamailio, kamailio-sqlite-modules,
# kamailio-tls-modules) as registrar and record-routing proxy with digest
# on loopback (a cheaper path than sipfp's TAP port), its CPU all its
# processes', its memory per connection its shared memory's growth.
#
# Usage: bench/stream.sh [--procs N] [--regs N] [--conns N] [--pairs N] [--calls N_EACH]
#                        [--no-kamailio] [--build DIR]
# Root only.  Installs nothing: without Kamailio its rows say why.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
. "$here/kamailio.sh"
procs=4 regs=1500 conns=3000 pairs=8 calls=250 build=$top/build kam=1
while [ $# -gt 0 ]; do
	case $1 in
	--procs) procs=$2; shift 2 ;;
	--regs) regs=$2; shift 2 ;;
	--conns) conns=$2; shift 2 ;;
	--pairs) pairs=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--no-kamailio) kam=0; shift ;;
	-h|--help) sed -n 3,23p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
	pkill -f "kamailio -f $run/" 2>/dev/null
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
for k in $(seq 0 $((pairs - 1))); do echo cpw | "$ctl" user add "c$k" >/dev/null; done
cpid=$(pgrep -f "sipfp-control.*file-prefix $prefix" | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$cpid/stat"; } # clock ticks
tck=$(getconf CLK_TCK)
rss_bytes() { echo $(($(awk '/VmRSS/ {print $2}' "/proc/$cpid/status") * 1024)); }
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; } # kB, the whole kernel's

# per_ok C0 C1 N: CPU microseconds per success between two clock-tick
# readings (? when nothing succeeded, or the processes counted changed)
per_ok() { awk -v c=$(($2 - $1)) -v n="${3:-0}" -v t="$tck" 'BEGIN { if (n && c >= 0) printf "%.0f", c / t * 1e6 / n; else print "?" }'; }

# load_rows CMD HEADING TOTAL LABEL CPU ARGS...: streamload.py CMD over UDP,
# TCP and TLS, a row each: successes, their rate, the server's CPU (the
# command CPU prints its clock ticks) per success
load_rows() {
	local cmd=$1 heading=$2 total=$3 label=$4 cpu_cmd=$5
	shift 5
	printf "%-10s %14s %12s %18s\n" transport "$heading" "per second" "$label"
	for tp in udp tcp tls; do
		local c0 c1 out n r
		c0=$($cpu_cmd)
		out=$(python3 "$here/streamload.py" "$cmd" "$tp" "$@") || true
		c1=$($cpu_cmd)
		n=$(echo "$out" | sed -n 's/^[a-z]* [a-z]* \([0-9]*\)\/.*/\1/p')
		r=$(echo "$out" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p')
		printf "%-10s %14s %12s %18s\n" "$tp" "${n:-?}/$total" "${r:-?}" "$(per_ok "$c0" "$c1" "$n")"
	done
}

# hs_row LABEL CPU: TLS handshakes on new connections for 5 s
hs_row() {
	local c0 c1 out n
	c0=$($2)
	out=$(python3 "$here/streamload.py" hs "$procs" 5)
	c1=$($2)
	n=$(echo "$out" | sed -n 's/tls handshakes \([0-9]*\) .*/\1/p')
	echo "TLS handshakes (ECDSA P-256, new connection each): $out; $1 $(per_ok "$c0" "$c1" "$n") us each"
}

# hold TRANSPORT N COUNT MEASURE: N connections held by the client; once the
# server holds them (COUNT prints how many; 60 s at most) prints "held
# MEASURE's figure slab growth in kB"
hold() {
	local tp=$1 n=$2 count=$3 measure=$4 s0 held=0
	s0=$(slab)
	python3 "$here/streamload.py" hold "$tp" "$n" 90 >"$run/hold.out" 2>&1 &
	local hp=$!
	for _ in $(seq 120); do
		held=$($count)
		[ "${held:-0}" -ge "$n" ] && break
		sleep 0.5
	done
	sleep 1
	echo "${held:-0} $($measure) $(($(slab) - s0))"
	kill "$hp" 2>/dev/null; wait "$hp" 2>/dev/null || true
	sleep 3
}

# mem_rows COUNT MEASURE FIXED: memory per idle connection over TCP and TLS:
# the server's growth (MEASURE prints its bytes) plus FIXED bytes it
# allocated per connection at start, and the kernel's slab growth, halved
# (client and server both on this host)
mem_rows() {
	printf "%-10s %8s %16s %16s %14s\n" transport held "server B/conn" "kernel B/conn" "total B/conn"
	for tp in tcp tls; do
		local m0 m1 held sl
		m0=$($2)
		read -r held m1 sl < <(hold "$tp" "$conns" "$1" "$2")
		awk -v n="$held" -v m=$((${m1:-0} - ${m0:-0})) -v k="$sl" -v tp="$tp" -v x="$3" 'BEGIN {
			if (!n) { printf "%-10s %8d\n", tp, 0; exit }
			c = m / n + x; kk = k * 1024 / n / 2
			printf "%-10s %8d %16.0f %16.0f %14.0f\n", tp, n, c, kk, c + kk }'
	done
}

# the rows of one server: registrations, memory per connection, calls,
# then TLS handshakes (last: they have brought Kamailio down)
server_rows() {
	local name=$1 cpu_cmd=$2 count=$3 measure=$4 fixed=$5
	load_rows reg registrations $((procs * regs)) "$name us/reg" "$cpu_cmd" "$procs" "$regs" bench benchpw
	echo
	mem_rows "$count" "$measure" "$fixed"
	echo
	load_rows calls calls $((pairs * calls)) "$name us/call" "$cpu_cmd" "$pairs" "$calls" bench benchpw
	echo
	hs_row "$name" "$cpu_cmd"
}

echo "sipfp SIP over TCP/TLS beside UDP, $(date -u +%F), $(nproc) CPUs, one client for all (bench/streamload.py, $procs processes)"
echo
slot=$("$ctl" stats | awk '$1 == "connection_slot_bytes" {print $2}')
sipfp_held() { "$ctl" stats | awk '$1 == "connections" {print $2}'; }
server_rows control cpu sipfp_held rss_bytes "$slot"
echo "(memory: the control process's RSS growth per connection plus its $slot-byte slot, allocated at start)"

# ---- Kamailio: the same client, the same scenarios, on loopback ---------------------------
kam_rows() {
	echo
	if [ "$kam" = 0 ]; then echo "kamailio: skipped (--no-kamailio)"; return; fi
	if ! command -v kamailio >/dev/null || [ ! -f "$KAM_MODS/db_sqlite.so" ] || [ ! -f "$KAM_MODS/tls.so" ]; then
		echo "kamailio: not run (apt-get install kamailio kamailio-sqlite-modules kamailio-tls-modules)"
		return
	fi
	local db=$run/kam.sqlite users=(bench:benchpw)
	for k in $(seq 0 $((pairs - 1))); do users+=("c$k:cpw"); done
	kam_users "$db" 127.0.0.1 "${users[@]}"
	cat >"$run/kam-tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $run/srv.key
certificate = $run/srv.pem
EOF
	{
		cat <<EOF
#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=2
tcp_children=2
auto_aliases=no
enable_tls=yes
tcp_max_connections=$((conns + 1000))
tls_max_connections=$((conns + 1000))
listen=udp:127.0.0.1:5190
listen=tcp:127.0.0.1:5190
listen=tls:127.0.0.1:5191
mpath="$KAM_MODS/"
loadmodule "tls.so"
modparam("tls", "config", "$run/kam-tls.cfg")
EOF
		kam_service "$run" "$db" 1
	} >"$run/kamailio.cfg"
	kamailio -f "$run/kamailio.cfg" -P "$run/kam.pid" -Y "$run" -m 512 -M 32 -E >"$run/kam.log" 2>&1 || true
	sleep 1.5
	[ -s "$run/kam.pid" ] || { echo "kamailio: did not start ($(grep -i error "$run/kam.log" | tail -1))"; return; }
	kcpu() { kam_cpu "$run"; }
	kshm() { kam_shm "$run"; }
	kconns() { { kamcmd -s "unix:$run/kamailio_ctl" core.tcp_info 2>/dev/null || true; } |
		awk '$1 == "opened_connections:" || $1 == "opened_tls_connections:" {n += $2} END {print n + 0}'; }
	export SL_HOST=127.0.0.1 SL_PORT=5190 SL_TLS_PORT=5191 SL_LOCAL=127.0.0.1
	echo "Kamailio 5.6 (loopback, children=2, tcp_children=2), the same client"
	server_rows kamailio kcpu kconns kshm 0
	echo "(memory: Kamailio's shared memory growth per connection, kamcmd core.shmmem, measured while held)"
	# Kamailio 5.6.3's tls module has been seen to abort under the
	# handshake loop (a double free in tls_init.c with OpenSSL 3)
	if grep -q "core was generated\|exited by a signal" "$run/kam.log"; then
		echo "kamailio: a process died during the handshakes: $(grep -m1 -o 'BUG: [^,]*' "$run/kam.log" || true)"
	fi
	unset SL_HOST SL_PORT SL_TLS_PORT SL_LOCAL
	kill "$(cat "$run/kam.pid" 2>/dev/null)" 2>/dev/null || true
}
kam_rows
echo "(kernel: the growth of the kernel's slab memory per connection, halved: client and server both on this host)"
