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
# --pairs P runs P caller SIPps and P callee SIPps at once (one SIPp
# tops out at a few thousand calls/s), pair k: caller u(2k+1) calls
# u(2k), --rate and --calls shared among them; --hold MS is how long each
# call stays up (the peak of concurrent dialogs gives the control
# process's memory per dialog).
#
# With --registrations N, users u(2P).. first register with digest auth
# (bench/regload.py, REGISTER -> 401 -> REGISTER -> 200, 200 in flight),
# next to the same client's challenge-only rate as its own ceiling, and
# the control process's memory and store size per registration.
#
# Usage: bench/calls.sh [--rate CPS] [--calls N] [--pairs P] [--hold MS]
#                       [--users N] [--registrations N] [--set KEY=VALUE]... [--build DIR]
# (--set: a configuration key for sipfp, e.g. --set media=no)
# Root only.  Prints one table; never fails on a rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
build=$top/build
rate=200 calls=2000 users=100000 regs=0 pairs=1 hold=300 sets=()
while [ $# -gt 0 ]; do
	case $1 in
	--rate) rate=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--users) users=$2; shift 2 ;;
	--registrations) regs=$2; shift 2 ;;
	--pairs) pairs=$2; shift 2 ;;
	--hold) hold=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--set) sets+=(--set "$2"); shift 2 ;;
	-h|--help) sed -n 3,24p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "calls.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "calls.sh: run as root" >&2; exit 1; }
[ "$pairs" -ge 1 ] && [ "$users" -ge $((2 * pairs + regs)) ] ||
	{ echo "calls.sh: needs --pairs >= 1 and --users >= 2 x pairs + registrations" >&2; exit 2; }
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-bcall.XXXXXX)
export SIPFP_SOCKET=$run/ctl.sock
launcher="" uas=() uac=()
cleanup() {
	set +e # every step, whatever the one before did
	for p in "${uas[@]}" "${uac[@]}"; do kill "$p" 2>/dev/null; done
	pkill -f "sipp.*$run" 2>/dev/null || true
	[ -n "$launcher" ] && kill -TERM "$launcher" 2>/dev/null && wait "$launcher" 2>/dev/null
	pkill -KILL -f "file-prefix sipfpbc" 2>/dev/null || true
	# a killed data plane unmaps its hugepages before it closes its files:
	# wait until none holds the EAL's lock, so the next run can start
	for _ in $(seq 50); do
		find /proc/[0-9]*/fd -lname '*/dpdk/sipfpbc/*' 2>/dev/null | grep -q . || break
		sleep 0.2
	done
	ip link del sipfpbc0 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stat() { "$ctl" stats | awk -v k="$1" '$1 == k {print $2}'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # clock ticks
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; } # KiB

SIPFP_BINDIR=$build "$top/scripts/sipfp-launch" --rundir "$run" --file-prefix sipfpbc --iface sipfpbc0 \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set cred_capacity=262144 \
	--set allow=10.77.0.1/32 "${sets[@]+"${sets[@]}"}" \
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

# the callees register (one SIPp transaction each)
for k in $(seq 0 $((pairs - 1))); do
	(cd "$run" && timeout 30 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/reg_contact.xml" -key user "u$((2 * k))" \
		-au "u$((2 * k))" -ap "pw$((2 * k))" -key contact_port $((5200 + k)) -key expires 3600 \
		-i 10.77.0.1 -p 5073 -m 1 -timeout 20s -trace_err -nostdin >/dev/null 2>&1) || true
done
[ "$(stat registrations)" = "$pairs" ] || echo "calls.sh: only $(stat registrations) of $pairs callees registered" >&2

# registrations per second, and what each one costs in memory and store
if [ "$regs" -gt 0 ]; then
	python3 "$here/regload.py" --first $((2 * pairs)) --users "$regs" --challenge-only >"$run/reg0.txt"
	r0=$(rss "$cp") db0=$(du -sb "$run"/db.sqlite* | awk '{s += $1} END {print s}')
	rc0=$(cpu "$dp"); rk0=$(cpu "$cp")
	python3 "$here/regload.py" --first $((2 * pairs)) --users "$regs" >"$run/reg1.txt"
	rc1=$(cpu "$dp"); rk1=$(cpu "$cp")
	sleep 1
	r1=$(rss "$cp") db1=$(du -sb "$run"/db.sqlite* | awk '{s += $1} END {print s}')
fi

# calls: in pair k, u(2k+1) calls u(2k) (registered at 10.77.0.1:5200+k
# above), from port 5100+k; the callees answer, the callers hang up
cps=$(( (rate + pairs - 1) / pairs )) per=$(( (calls + pairs - 1) / pairs ))
uas=() uac=()
for k in $(seq 0 $((pairs - 1))); do
	(cd "$run" && exec timeout 900 sipp -sf "$top/tests/sipp/uas_answer.xml" -i 10.77.0.1 -p $((5200 + k)) \
		-m "$per" -nostdin >/dev/null 2>&1) &
	uas+=($!)
done
sleep 0.5
c0=$(cpu "$dp"); k0=$(cpu "$cp"); a0=$(stat calls_answered); f0=$(stat calls_failed); m0=$(rss "$cp")
s0=$(date +%s.%N)
for k in $(seq 0 $((pairs - 1))); do
	(cd "$run" && exec timeout 900 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/uac_call.xml" -s "u$((2 * k))" \
		-key user "u$((2 * k + 1))" -au "u$((2 * k + 1))" -ap "pw$((2 * k + 1))" -i 10.77.0.1 -p $((5100 + k)) \
		-r "$cps" -l $((cps * (hold / 1000 + 5) + 100)) -m "$per" -d "$hold" -timeout 600s \
		-trace_err -trace_stat -stf "$run/uac$k.csv" -nostdin >/dev/null 2>&1) &
	uac+=($!)
done
# the peak of concurrent dialogs, and the control process's memory then
alive() { for p; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
peak=0 mpeak=$m0
while alive "${uac[@]}"; do
	d=$(stat dialogs_active 2>/dev/null || echo 0) m=$(rss "$cp")
	[ "${d:-0}" -gt "$peak" ] && peak=$d mpeak=$m
	sleep 0.5
done
for p in "${uac[@]}"; do wait "$p" || true; done
s1=$(date +%s.%N)
# a callee left waiting for calls that failed on the way: give it 10 s
for _ in $(seq 20); do alive "${uas[@]}" || break; sleep 0.5; done
for p in "${uas[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
c1=$(cpu "$dp"); k1=$(cpu "$cp"); a1=$(stat calls_answered); f1=$(stat calls_failed)
ok=0 bad=0
for k in $(seq 0 $((pairs - 1))); do
	ok=$((ok + $(tail -1 "$run/uac$k.csv" | awk -F';' '{print $16}')))   # SuccessfulCall(C)
	bad=$((bad + $(tail -1 "$run/uac$k.csv" | awk -F';' '{print $18}')))  # FailedCall(C)
done
hz=$(getconf CLK_TCK)

echo
echo "sipfp reference calls through the TAP port, SIPp both ends, $(nproc) cores, $(date -u +%F)"
awk -v n="$((a1 - a0))" -v s0="$s0" -v s1="$s1" -v c="$((c1 - c0))" -v k="$((k1 - k0))" -v hz="$hz" \
	-v ok="$ok" -v bad="$bad" -v rate="$((cps * pairs))" -v p="$pairs" -v h="$hold" -v f="$((f1 - f0))" 'BEGIN {
	printf "calls offered at %d/s by %d SIPp pair(s), %d ms each: %s successful, %s failed (SIPp); sipfp: %d answered, %d failed\n",
		rate, p, h, ok, bad, n, f
	printf "call rate achieved: %.0f calls/s over %.1f s (without the hold time of the last calls)\n", n / (s1 - s0 - h / 1000), s1 - s0 - h / 1000
	if (n > 0) printf "CPU per call: data plane %.0f us (its idle polling included), control %.0f us\n",
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
awk -v d="$peak" -v a="$m0" -v b="$mpeak" 'BEGIN {
	if (d > 0) printf "control RSS %d KiB -> %d KiB at the peak of %d dialogs up (%.0f B/dialog, its transactions included)\n",
		a, b, d, 1024 * (b - a) / d }'
