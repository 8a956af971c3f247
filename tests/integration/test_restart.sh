#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A restart of the control process that no call in progress notices: the
# reference call at 50 calls/s (SIPp caller and callee, the callee
# registered with digest, media anchored), the control process SIGKILLed
# three times at different moments of the run, then SIGTERMed twice in a
# second run, then held away for 3 s in a third.  Every call that fails
# must be one whose INVITE was answered 503 (the designed answer while no
# control process is attached: the caller may retry); with SIGTERM, an
# orderly restart, none may fail.  The gap each restart left is measured.
# Needs root; cleans up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-restart.XXXXXX)
iface=sipfprs0
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"

launcher_pid="" bg=()
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	teardown sipfprs "$iface"
}
trap cleanup EXIT

# the load generator is one address: allow-listed, as a trusted trunk
# would be (50 new calls/s from one source is over ood_rate)
start_sipfp sipfprs "$iface" --set allow=10.77.0.1/32 ||
	{ ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started"
for u in alice bob; do check "user add $u" sh -c "echo secret | '$ctl' user add $u"; done
check "bob registers" sh -c "cd '$run' && sipp 10.77.0.2:5060 -sf '$top/tests/sipp/reg_contact.xml' \
	-i 10.77.0.1 -p 5073 -m 1 -key user bob -au bob -ap secret -key contact_port 5072 -key expires 600 \
	-timeout 10s -timeout_error -nostdin >/dev/null 2>&1"

ctl_pid() { pgrep -f "sipfp-control .*file-prefix sipfprs( |$)" | head -1; }
# restart SIG: signal the control process, then how long until another
# one answers sipfpctl (the gap), in ms
restart() {
	local old t0 t1
	old=$(ctl_pid)
	t0=$(date +%s%N)
	if [ "$1" = LONG ]; then
		# a long gap: the launcher held while the control process is
		# SIGKILLed, for 3 s (over ctl_timeout_ms): new calls get 503,
		# what the calls in progress send waits in the ring
		kill -STOP "$launcher_pid"
		kill -KILL "$old"
		sleep 3
		kill -CONT "$launcher_pid"
	else
		kill "-$1" "$old"
	fi
	for _ in $(seq 300); do
		local p
		p=$(ctl_pid)
		[ -n "$p" ] && [ "$p" != "$old" ] && "$ctl" stats >/dev/null 2>&1 && break
		sleep 0.01
	done
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}

# load CALLS SIGNAL AT...: CALLS reference calls at 50/s, 1 s each; the
# control process gets SIGNAL at each of the seconds AT.  Sets failed,
# failed_503 (failed calls whose INVITE got 503), gaps.
load() {
	local calls=$1 sig=$2; shift 2
	local r=$run/$sig
	mkdir -p "$r"
	(cd "$r" && exec timeout 120 sipp -sf "$top/tests/sipp/uas_answer.xml" -i 10.77.0.1 -p 5072 \
		-m "$calls" -timeout 100s -nostdin >/dev/null 2>&1) &
	local uas=$!
	bg+=("$uas")
	(cd "$r" && exec timeout 120 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/uac_call.xml" -i 10.77.0.1 \
		-p 5070 -s bob -key user alice -au alice -ap secret -r 50 -m "$calls" -d 1000 \
		-timeout 100s -nostdin -trace_stat -stf uac.csv -fd 1 -trace_err >/dev/null 2>&1) &
	local uac=$!
	bg+=("$uac")
	local t=0
	gaps=""
	for at in "$@"; do
		sleep $((at - t))
		t=$at
		gaps="$gaps $(restart "$sig")ms"
	done
	wait "$uac"
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	local col
	col=$(head -1 "$r/uac.csv" | tr ';' '\n' | grep -nx 'FailedCall(C)' | cut -d: -f1)
	failed=$(tail -1 "$r/uac.csv" | cut -d';' -f"$col")
	succeeded=$(tail -1 "$r/uac.csv" | cut -d';' -f"$(head -1 "$r/uac.csv" | tr ';' '\n' | grep -nx 'SuccessfulCall(C)' | cut -d: -f1)")
	# each failure in SIPp's error log: what it received instead
	failed_503=$(cat "$r"/uac_call_*_errors.log 2>/dev/null | tr -d '\r' |
		awk '/Aborting call/ {a = 1; s = ""} a && /received .SIP\/2.0 503/ {s = 1}
		     a && /^CSeq: [0-9]+ INVITE/ && s {n++; a = 0} END {print n + 0}')
}

load 1000 KILL 5 10 15
echo "# SIGKILL at 5, 10, 15 s: $succeeded succeeded, $failed failed ($failed_503 of them: INVITE answered 503); gaps:$gaps"
check "SIGKILL x3 under 50 calls/s: every failed call is one whose INVITE got 503 ($failed failed, $failed_503 with 503)" \
	test "$failed" = "$failed_503"
check "... and the calls that were up or in setup went on ($succeeded of 1000 completed)" \
	test "$((succeeded + failed))" = 1000
check "the restarted control process adopted the calls' media" grep -q "still relayed by the data plane adopted" "$run/launch.log"

load 500 TERM 3 7
echo "# SIGTERM at 3, 7 s: $succeeded succeeded, $failed failed; gaps:$gaps"
check "SIGTERM x2 (an orderly restart): nothing lost, $succeeded of 500 completed" \
	test "$failed" = 0 -a "$succeeded" = 500

q0=$(stat handoff_queued)
load 500 LONG 4
echo "# a 3 s gap at 4 s: $succeeded succeeded, $failed failed ($failed_503 of them: INVITE answered 503); gap:$gaps"
check "a 3 s gap: every failed call is one whose INVITE got 503 ($failed failed, $failed_503 with 503)" \
	test "$failed" = "$failed_503" -a "$failed" -gt 0
check "... the calls in progress completed: their messages waited in the ring (handoff_queued +$(( $(stat handoff_queued) - q0 )))" \
	test "$((succeeded + failed))" = 500 -a "$(stat handoff_queued)" -gt "$q0"

# a CANCEL for an INVITE forwarded before the restart: the lost
# transaction's branch is derived from the caller's, so the CANCEL goes
# down it, the callee's 487 is ACKed and relayed, both UAs end cleanly
sleep 2
(cd "$run" && exec timeout 30 sipp -sf "$top/tests/sipp/uas_ring.xml" -i 10.77.0.1 -p 5072 -m 1 \
	-timeout 25s -timeout_error -nostdin >/dev/null 2>&1) &
uas=$!
bg+=("$uas")
sleep 0.5
(cd "$run" && exec timeout 30 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/uac_cancel.xml" -i 10.77.0.1 \
	-p 5070 -s bob -key user alice -au alice -ap secret -d 3000 -m 1 -timeout 25s -timeout_error \
	-nostdin -trace_err >/dev/null 2>&1) &
uac=$!
bg+=("$uac")
sleep 1.5
gap=$(restart KILL)
if wait "$uac"; then ok "CANCEL after a restart (gap ${gap}ms): 200, then 487 for the INVITE"
else ko "CANCEL after a restart"; cat "$run"/uac_cancel_*_errors.log 2>/dev/null | head -20; fi
if wait "$uas"; then ok "... the callee got the CANCEL, answered 487, got the ACK"; else ko "callee of the CANCEL"; fi

check "no dialog left" eventually_long sh -c "[ \$('$ctl' dialog list | tail -n +2 | wc -l) = 0 ]"
stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" grep -q "mbufs in use at exit: 0" "$run/launch.log"
finish
