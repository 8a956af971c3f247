#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/b2bua.sh: what the back-to-back mode costs over the proxy, in one
# run.  The reference call at one rate through sipfp in proxy mode, then
# in b2bua mode (bench/calls.sh each time, the same arguments), then
# through Kamailio 5.6 (Debian's `kamailio`, `kamailio-sqlite-modules`)
# as its nearest equivalent: a record-routing proxy with digest auth and
# the topos module (topology stripping, its state in db_text) - Kamailio
# has no B2BUA module.  Kamailio listens on loopback (SIPp beside it),
# a cheaper path than sipfp's TAP port; its CPU is all its processes'.
#
# Prints per mode: calls/s with SIPp's successes and failures, control
# CPU per call, control memory per call up at the peak.
#
# Usage: bench/b2bua.sh [--rate CPS] [--calls N] [--hold MS] [--no-kamailio] [--build DIR]
# Root only.  Installs nothing: without kamailio its row says why.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
. "$here/kamailio.sh"
rate=300 calls=3000 hold=2000 kam=1 build=$top/build
while [ $# -gt 0 ]; do
	case $1 in
	--rate) rate=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--hold) hold=$2; shift 2 ;;
	--no-kamailio) kam=0; shift ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,17p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "b2bua.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "b2bua.sh: run as root" >&2; exit 1; }
run=$(mktemp -d /tmp/sipfp-bb2b.XXXXXX)
kpid=""
cleanup() {
	set +e
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null
	pkill -f "kamailio -f $run/" 2>/dev/null
	pkill -f "sipp.*-p 5[12]9[0-9] .*$run" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

args=(--rate "$rate" --calls "$calls" --hold "$hold" --users 1000 --build "$build")
"$here/calls.sh" "${args[@]}" --set mode=proxy >"$run/proxy.txt" 2>&1 || true
"$here/calls.sh" "${args[@]}" --set mode=b2bua >"$run/b2bua.txt" 2>&1 || true

# one row from calls.sh's output: mode, calls/s, ok, failed, control us/call, B/call
row() {
	local f=$1 name=$2
	local ok bad cps cpu mem
	ok=$(sed -n 's/.*: \([0-9]*\) successful, \([0-9]*\) failed (SIPp).*/\1/p' "$f")
	bad=$(sed -n 's/.*: \([0-9]*\) successful, \([0-9]*\) failed (SIPp).*/\2/p' "$f")
	cps=$(sed -n 's/^call rate achieved: \([0-9]*\) calls.*/\1/p' "$f")
	cpu=$(sed -n 's/.*, control \([0-9]*\) us$/\1/p' "$f")
	mem=$(sed -n 's/.*(\([0-9]*\) B\/dialog.*/\1/p' "$f")
	printf "%-34s %8s %8s %8s %14s %14s\n" "$name" "${cps:-?}" "${ok:-?}" "${bad:-?}" "${cpu:-?}" "${mem:-?}"
}

# ---- Kamailio: proxy + auth_db + topos, on loopback -------------------------------
kam_row() {
	if [ "$kam" = 0 ]; then echo "kamailio: skipped (--no-kamailio)"; return; fi
	if ! command -v kamailio >/dev/null || [ ! -f "$KAM_MODS/topos.so" ] || [ ! -f "$KAM_MODS/db_sqlite.so" ]; then
		echo "kamailio: not run (apt-get install kamailio kamailio-sqlite-modules)"
		return
	fi
	# users in SQLite (read only here); topos's state in db_text, which
	# keeps its tables in memory: SQLite shared by Kamailio's worker
	# processes fails under load with "database is locked"
	local db=$run/kam.sqlite
	kam_users "$db" 127.0.0.1 u0:pw0 u1:pw1
	mkdir -p "$run/dbtext"
	cp /usr/share/kamailio/dbtext/kamailio/version /usr/share/kamailio/dbtext/kamailio/topos_d \
		/usr/share/kamailio/dbtext/kamailio/topos_t "$run/dbtext/"
	{
		cat <<EOF
#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:5190
mpath="$KAM_MODS/"
loadmodule "db_text.so"
loadmodule "topos.so"
modparam("topos", "db_url", "text://$run/dbtext")
EOF
		kam_service "$run" "$db" 0
	} >"$run/kamailio.cfg"
	kamailio -f "$run/kamailio.cfg" -P "$run/kam.pid" -Y "$run" -m 256 -M 32 -E >"$run/kam.log" 2>&1 || true
	sleep 1
	kpid=$(cat "$run/kam.pid" 2>/dev/null || true)
	[ -n "$kpid" ] || { echo "kamailio: did not start ($(tail -1 "$run/kam.log"))"; return; }
	local T=$top/tests/sipp
	(cd "$run" && timeout 20 sipp 127.0.0.1:5190 -sf "$T/reg_contact.xml" -key user u0 -au u0 -ap pw0 \
		-key contact_port 5290 -key expires 3600 -i 127.0.0.1 -p 5193 -m 1 -timeout 10s -nostdin >/dev/null 2>&1) ||
		{ echo "kamailio: the callee could not register"; return; }
	kcpu() { kam_cpu "$run"; }
	shm() { kam_shm "$run"; }
	(cd "$run" && exec timeout 900 sipp -sf "$T/uas_answer.xml" -i 127.0.0.1 -p 5290 -m "$calls" -nostdin >/dev/null 2>&1) &
	local uas=$!
	sleep 0.5
	local c0 s0 m0 peak=0
	c0=$(kcpu) m0=$(shm)
	s0=$(date +%s.%N)
	(cd "$run" && exec timeout 900 sipp 127.0.0.1:5190 -sf "$T/uac_call.xml" -s u0 -key user u1 -au u1 -ap pw1 \
		-i 127.0.0.1 -p 5191 -r "$rate" -l $((rate * (hold / 1000 + 5) + 100)) -m "$calls" -d "$hold" \
		-timeout 600s -trace_stat -stf "$run/kuac.csv" -nostdin >/dev/null 2>&1) &
	local uac=$!
	while kill -0 "$uac" 2>/dev/null; do
		local m; m=$(shm); [ "${m:-0}" -gt "$peak" ] && peak=$m
		sleep 0.5
	done
	wait "$uac" || true
	local s1 c1; s1=$(date +%s.%N) c1=$(kcpu)
	for _ in $(seq 20); do kill -0 "$uas" 2>/dev/null || break; sleep 0.5; done
	kill "$uas" 2>/dev/null || true
	local ok bad
	ok=$(tail -1 "$run/kuac.csv" | awk -F';' '{print $16}')
	bad=$(tail -1 "$run/kuac.csv" | awk -F';' '{print $18}')
	awk -v ok="$ok" -v bad="$bad" -v s0="$s0" -v s1="$s1" -v h="$hold" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
		-v m0="${m0:-0}" -v mp="$peak" -v r="$rate" 'BEGIN {
		t = s1 - s0 - h / 1000; up = r * h / 1000
		us = ok > 0 ? 1e6 * c / hz / ok : 0
		mem = "?"
		if (up > 0 && mp > m0) mem = sprintf("%.0f", (mp - m0) / up)
		printf "%-34s %8.0f %8s %8s %14.0f %14s\n", "kamailio 5.6 + topos (loopback)", ok / t, ok, bad, us, mem }'
	kill "$kpid" 2>/dev/null; kpid=""
}

echo
echo "b2bua over proxy: the reference call at $rate/s, $calls calls held $hold ms, $(nproc) cores, $(date -u +%F)"
printf "%-34s %8s %8s %8s %14s %14s\n" "" "calls/s" "ok" "failed" "ctl us/call" "B/call up"
row "$run/proxy.txt" "sipfp proxy"
row "$run/b2bua.txt" "sipfp b2bua"
kam_row
echo "(sipfp: control process CPU and RSS per dialog up at the peak, bench/calls.sh; kamailio: all its"
echo " processes' CPU, shared memory used per call up, kamcmd core.shmmem)"
