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
# (the control process's RSS growth plus the kernel's socket memory in the
# exception namespace's kernel, slab), for TCP and TLS; calls/s (8 caller
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
slot=$("$ctl" stats | awk '$1 == "connection_slot_bytes" {print $2}')
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; } # kB, the whole kernel's
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
sipfp_held() { "$ctl" stats | awk '$1 == "connections" {print $2}'; }
printf "%-10s %8s %16s %16s %14s\n" transport held "server B/conn" "kernel B/conn" "total B/conn"
for tp in tcp tls; do
	r0=$(rss)
	read -r held r1 sl < <(hold "$tp" "$conns" sipfp_held rss)
	awk -v n="$held" -v r=$((r1 - r0)) -v k="$sl" -v tp="$tp" -v slot="$slot" 'BEGIN {
		if (!n) { printf "%-10s %8d\n", tp, 0; exit }
		c = r * 1024 / n + slot; kk = k * 1024 / n / 2
		printf "%-10s %8d %16.0f %16.0f %14.0f\n", tp, n, c, kk, c + kk }'
done
echo "(server: the control process's RSS growth per connection plus its $slot-byte slot, allocated at start;"
echo " kernel: the growth of the kernel's slab memory per connection, halved: client and server both on this host)"
echo
# calls: pairs of caller and callee on one transport each time
# calls_rows NAME CPU_COMMAND
calls_rows() {
	printf "%-10s %12s %10s %18s\n" transport calls "per second" "$1 us/call"
	for tp in udp tcp tls; do
		local c0 c1 out n r us
		c0=$($2)
		out=$(python3 "$here/streamload.py" calls "$tp" "$pairs" "$calls" bench benchpw) || true
		c1=$($2)
		n=$(echo "$out" | sed -n 's/.* calls \([0-9]*\)\/.*/\1/p')
		r=$(echo "$out" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p')
		us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$tck" 'BEGIN { if (n) printf "%.0f", c / t * 1e6 / n; else print "?" }')
		printf "%-10s %12s %10s %18s\n" "$tp" "${n:-?}/$((pairs * calls))" "${r:-?}" "$us"
	done
}
calls_rows control cpu

# ---- Kamailio: the same client, the same scenarios, on loopback ---------------------------
kam_rows() {
	local mods=/usr/lib/x86_64-linux-gnu/kamailio/modules schema=/usr/share/kamailio/db_sqlite
	echo
	if [ "$kam" = 0 ]; then echo "kamailio: skipped (--no-kamailio)"; return; fi
	if ! command -v kamailio >/dev/null || [ ! -f "$mods/db_sqlite.so" ] || [ ! -f "$mods/tls.so" ]; then
		echo "kamailio: not run (apt-get install kamailio kamailio-sqlite-modules kamailio-tls-modules)"
		return
	fi
	local db=$run/kam.sqlite
	for t in standard auth_db; do sqlite3 "$db" <"$schema/$t-create.sql"; done
	python3 - "$db" "$pairs" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for u, pw in [("bench", "benchpw")] + [(f"c{k}", "cpw") for k in range(int(sys.argv[2]))]:
    db.execute("INSERT INTO subscriber (username, domain, password, ha1) VALUES (?,?,?,?)",
               (u, "127.0.0.1", pw, hashlib.md5(f"{u}:127.0.0.1:{pw}".encode()).hexdigest()))
db.commit()
PY
	cat >"$run/kam-tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $run/srv.key
certificate = $run/srv.pem
EOF
	cat >"$run/kamailio.cfg" <<EOF
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
mpath="$mods/"
loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "ctl.so"
loadmodule "kex.so"
modparam("tls", "config", "$run/kam-tls.cfg")
modparam("ctl", "binrpc", "unix:$run/kamailio_ctl")
modparam("auth_db", "db_url", "sqlite://$db")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("usrloc", "db_mode", 0)
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
		sl_send_reply("404", "Not Here"); exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
	if (is_method("REGISTER")) {
		if (!www_authorize("\$fd", "subscriber")) { www_challenge("\$fd", "1"); exit; }
		save("location"); exit;
	}
	if (is_method("INVITE")) {
		if (!proxy_authorize("\$fd", "subscriber")) { proxy_challenge("\$fd", "0"); exit; }
		consume_credentials();
		record_route();
		if (!lookup("location")) { sl_send_reply("480", "Not Registered"); exit; }
		t_relay(); exit;
	}
	sl_send_reply("501", "Not Implemented");
}
EOF
	kamailio -f "$run/kamailio.cfg" -P "$run/kam.pid" -Y "$run" -m 512 -M 32 -E >"$run/kam.log" 2>&1 || true
	sleep 1.5
	[ -s "$run/kam.pid" ] || { echo "kamailio: did not start ($(grep -i error "$run/kam.log" | tail -1))"; return; }
	kcpu() { local s=0; for p in $(pgrep -f "kamailio -f $run/"); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
	kshm() { { kamcmd -s "unix:$run/kamailio_ctl" core.shmmem 2>/dev/null || true; } | awk '$1 == "used:" {print $2}'; }
	kconns() { { kamcmd -s "unix:$run/kamailio_ctl" core.tcp_info 2>/dev/null || true; } |
		awk '$1 == "opened_connections:" || $1 == "opened_tls_connections:" {n += $2} END {print n + 0}'; }
	export SL_HOST=127.0.0.1 SL_PORT=5190 SL_TLS_PORT=5191 SL_LOCAL=127.0.0.1
	echo "Kamailio 5.6 (loopback, children=2, tcp_children=2), the same client"
	printf "%-10s %14s %12s %16s\n" transport "registrations" "per second" "kamailio us/reg"
	for tp in udp tcp tls; do
		local c0 c1 out n r us
		c0=$(kcpu)
		out=$(python3 "$here/streamload.py" reg "$tp" "$procs" "$regs" bench benchpw) || true
		c1=$(kcpu)
		n=$(echo "$out" | sed -n 's/.* registrations \([0-9]*\)\/.*/\1/p')
		r=$(echo "$out" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p')
		us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$tck" 'BEGIN { if (n) printf "%.0f", c / t * 1e6 / n; else print "?" }')
		printf "%-10s %14s %12s %16s\n" "$tp" "${n:-?}/$((procs * regs))" "${r:-?}" "$us"
	done
	echo
	printf "%-10s %8s %16s %16s %14s\n" transport held "server B/conn" "kernel B/conn" "total B/conn"
	for tp in tcp tls; do
		local m0 m1 held sl
		m0=$(kshm)
		read -r held m1 sl < <(hold "$tp" "$conns" kconns kshm)
		awk -v n="$held" -v m=$((${m1:-0} - ${m0:-0})) -v k="$sl" -v tp="$tp" 'BEGIN {
			if (!n) { printf "%-10s %8d\n", tp, 0; exit }
			c = m / n; kk = k * 1024 / n / 2
			printf "%-10s %8d %16.0f %16.0f %14.0f\n", tp, n, c, kk, c + kk }'
	done
	echo "(server: Kamailio's shared memory growth per connection, kamcmd core.shmmem; measured while held)"
	echo
	calls_rows kamailio kcpu
	# last: Kamailio 5.6.3's tls module has been seen to abort under this
	# load (a double free in tls_init.c with OpenSSL 3); said if it does
	echo
	local c0 c1 out n us
	c0=$(kcpu)
	out=$(python3 "$here/streamload.py" hs "$procs" 5)
	c1=$(kcpu)
	n=$(echo "$out" | sed -n 's/tls handshakes \([0-9]*\) .*/\1/p')
	us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$tck" 'BEGIN { if (n && c >= 0) printf "%.0f", c / t * 1e6 / n; else print "?" }')
	echo "TLS handshakes: $out; kamailio $us us each"
	if grep -q "core was generated\|exited by a signal" "$run/kam.log"; then
		echo "kamailio: a process died during the handshakes: $(grep -m1 -o 'BUG: [^,]*' "$run/kam.log" || true)"
	fi
	unset SL_HOST SL_PORT SL_TLS_PORT SL_LOCAL
	kill "$(cat "$run/kam.pid" 2>/dev/null)" 2>/dev/null || true
}
kam_rows
