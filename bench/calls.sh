#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/calls.sh: the whole reference call at a rate, through sipfp on its
# TAP port, SIPp on both ends; CPU time of each sipfp process per call;
# control-process memory with many users loaded.
#
# Both SIPps send from 10.77.0.1, which is allow-listed: one load
# generator standing for many phones would otherwise hit the per-source
# limits (src_rate, ood_rate), as a trusted trunk would be exempted.
#
# With --registrations N, users u2.. first register with digest auth
# (bench/regload.py, REGISTER -> 401 -> REGISTER -> 200, 200 in flight),
# next to the same client's challenge-only rate as its own ceiling, and
# the control process's memory and store size per registration.
#
# Usage: bench/calls.sh [--rate CPS] [--calls N] [--users N]
#                       [--registrations N] [--build DIR]
# Root only.  Prints one table; never fails on a rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
build=$top/build
rate=200 calls=2000 users=100000 regs=0
while [ $# -gt 0 ]; do
	case $1 in
	--rate) rate=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--users) users=$2; shift 2 ;;
	--registrations) regs=$2; shift 2 ;;
		--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,18p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "calls.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "calls.sh: run as root" >&2; exit 1; }
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-bcall.XXXXXX)
export SIPFP_SOCKET=$run/ctl.sock
launcher=""
cleanup() {
	pkill -f "sipp.*$run" 2>/dev/null || true
	[ -n "$launcher" ] && kill -TERM "$launcher" 2>/dev/null && wait "$launcher" 2>/dev/null
	pkill -KILL -f "file-prefix sipfpbc" 2>/dev/null || true
	ip link del sipfpbc0 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
trap cleanup EXIT INT TERM
stat() { "$ctl" stats | awk -v k="$1" '$1 == k {print $2}'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # clock ticks
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; } # KiB

SIPFP_BINDIR=$build "$top/scripts/sipfp-launch" --rundir "$run" --file-prefix sipfpbc --iface sipfpbc0 \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set algorithms=MD5,SHA-256 --set check_digest_uri=no --set cred_capacity=262144 \
	--set allow=10.77.0.1/32 \
	>"$run/launch.log" 2>&1 &
launcher=$!
for _ in $(seq 100); do [ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.3; done
dp=$(pgrep -f "sipfp-dataplane.*file-prefix sipfpbc" | head -1)
cp=$(pgrep -f "sipfp-control.*file-prefix sipfpbc" | head -1)

# users: the caller, the callee, and many more, as htdigest lines
python3 - "$users" >"$run/users.htdigest" <<'PY'
import hashlib, sys
for i in range(int(sys.argv[1])):
    u = f"u{i}"
    print(f"{u}:sipfp:{hashlib.md5(f'{u}:sipfp:pw{i}'.encode()).hexdigest()}")
PY
rss0=$(rss "$cp")
"$ctl" user import "$run/users.htdigest" >/dev/null
for _ in $(seq 100); do [ "$(stat users)" -ge "$users" ] && break; sleep 0.2; done
rss1=$(rss "$cp")

# the callee registers (one SIPp transaction; a registrations-per-second
# figure needs a per-user digest SIPp cannot take from a CSV file: not yet)
(cd "$run" && timeout 30 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/reg_contact.xml" -key user u0 \
	-au u0 -ap pw0 -key contact_port 5072 -key expires 3600 -i 10.77.0.1 -p 5073 -m 1 \
	-timeout 20s -trace_err -nostdin >/dev/null 2>&1) || true
reg_ok=$(stat reg_ok)

# registrations per second, and what each one costs in memory and store
if [ "$regs" -gt 0 ]; then
	[ "$regs" -le $((users - 2)) ] || { echo "calls.sh: --registrations needs --users >= N + 2" >&2; exit 2; }
	python3 "$here/regload.py" --users "$regs" --challenge-only >"$run/reg0.txt"
	r0=$(rss "$cp") db0=$(du -sb "$run"/db.sqlite* | awk '{s += $1} END {print s}')
	rc0=$(cpu "$dp"); rk0=$(cpu "$cp")
	python3 "$here/regload.py" --users "$regs" >"$run/reg1.txt"
	rc1=$(cpu "$dp"); rk1=$(cpu "$cp")
	sleep 1
	r1=$(rss "$cp") db1=$(du -sb "$run"/db.sqlite* | awk '{s += $1} END {print s}')
fi

# calls: u1 calls u0 (registered at 10.77.0.1:5072 above)
(cd "$run" && timeout 600 sipp -sf "$top/tests/sipp/uas_answer.xml" -i 10.77.0.1 -p 5072 -m "$calls" \
	-nostdin >/dev/null 2>&1) &
uas=$!
sleep 0.5
c0=$(cpu "$dp"); k0=$(cpu "$cp"); a0=$(stat calls_answered)
s0=$(date +%s.%N)
(cd "$run" && timeout 600 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/uac_call.xml" -s u0 \
	-key user u1 -au u1 -ap pw1 -i 10.77.0.1 -p 5071 -r "$rate" -l 2000 -m "$calls" \
	-timeout 300s -trace_err -trace_stat -stf "$run/uac.csv" -nostdin >/dev/null 2>&1) || true
s1=$(date +%s.%N)
wait "$uas" || true
c1=$(cpu "$dp"); k1=$(cpu "$cp"); a1=$(stat calls_answered)
ok=$(tail -1 "$run/uac.csv" | awk -F';' '{print $16}')   # SuccessfulCall(C)
bad=$(tail -1 "$run/uac.csv" | awk -F';' '{print $18}')  # FailedCall(C)
hz=$(getconf CLK_TCK)

# memory per dialog: hold calls open (uas without BYE is not needed: count rows)
echo
echo "sipfp reference calls through the TAP port, SIPp both ends, $(nproc) cores, $(date -u +%F)"
awk -v n="$((a1 - a0))" -v s0="$s0" -v s1="$s1" -v c="$((c1 - c0))" -v k="$((k1 - k0))" -v hz="$hz" \
	-v ok="$ok" -v bad="$bad" -v rate="$rate" 'BEGIN {
	printf "calls offered at %d/s: %s successful, %s failed (SIPp), %d answered (sipfp)\n", rate, ok, bad, n
	printf "call rate achieved: %.0f calls/s over %.1f s\n", n / (s1 - s0), s1 - s0
	if (n > 0) printf "CPU per call: data plane %.0f us (busy-polling worker included), control %.0f us\n",
		1e6 * c / hz / n, 1e6 * k / hz / n }'
awk -v u="$users" -v a="$rss0" -v b="$rss1" 'BEGIN {
	printf "control RSS: %d KiB, %d KiB with %d users loaded (%.0f B/user)\n", a, b, u, 1024 * (b - a) / u }'
if [ "$regs" -gt 0 ]; then
	field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2"; }
	done1=$(field done "$run/reg1.txt")
	echo "registrations (REGISTER, 401, REGISTER with digest, 200; 200 in flight): $done1 of $regs," \
	     "$(field failed "$run/reg1.txt") failed, $(field per_s "$run/reg1.txt")/s;" \
	     "the same client's challenge-only ceiling: $(field per_s "$run/reg0.txt") 401/s"
	awk -v n="$done1" -v c="$((rc1 - rc0))" -v k="$((rk1 - rk0))" -v hz="$hz" 'BEGIN {
		if (n > 0) printf "CPU per registration: data plane %.0f us, control %.0f us\n",
			1e6 * c / hz / n, 1e6 * k / hz / n }'
	awk -v n="$done1" -v a="$r0" -v b="$r1" -v d0="$db0" -v d1="$db1" 'BEGIN {
		if (n > 0) printf "control RSS %d KiB -> %d KiB with %d registered (%.0f B/registration); store +%.0f B/registration\n",
			a, b, n, 1024 * (b - a) / n, (d1 - d0) / n }'
fi
echo "dialog table: fixed, $(( $(grep -o 'MAX_DIALOGS [0-9]*' "$top/control/proxy.c" | awk '{print $2}') )) entries of $(( 128 + 64 * 4 + 4 + 8 )) bytes (allocated up front)"
