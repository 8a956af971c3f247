#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The whole reference call (tests/reference/call-flow.md) through sipfp on a
# TAP port, with real SIPp on both ends and a tshark capture of the TAP
# interface checked message by message against the ladder; then the
# registrar and the failure paths.  Needs root.  Cleans up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-call.XXXXXX)
iface=sipfpca0
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"

launcher_pid="" bg=()
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	teardown sipfpca "$iface"
}
trap cleanup EXIT


"$top/scripts/sipfp-launch" --rundir "$run" --file-prefix sipfpca --iface "$iface" \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set t1_ms=100 --set timer_c_s=3 --set reg_min_expires=1 >"$run/launch.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 100); do [ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.3; done
[ "$(stat control_attached 2>/dev/null)" = 1 ] || { ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started (TAP $iface)"
mbuf0=$(stat mbuf_in_use)
echo 1000pw | "$ctl" user add 1000 >/dev/null
echo 1002pw | "$ctl" user add 1002 >/dev/null
echo 1003pw | "$ctl" user add 1003 >/dev/null

# ---- the reference call, captured ------------------------------------------
tshark -i "$iface" -f "udp port 5060" -w "$run/call.pcap" -q >/dev/null 2>&1 &
tshark_pid=$!; bg+=("$tshark_pid")
sleep 1.5
check "callee 1000 registers (REGISTER -> 401 -> REGISTER -> 200)" register 1000 1000pw 5072 300
check "reg list shows 1000 at its contact" sh -c "'$ctl' reg list | grep -q '^1000.*sip:1000@10.77.0.1:5072'"
callee uas_answer
check "caller 1002: INVITE -> 407 -> ACK -> INVITE -> 100 -> 180 -> 200 -> ACK -> BYE -> 200" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "callee 1000 answered: 100, 180, 200, ACK, BYE -> 200"
sleep 1
kill -INT "$tshark_pid"; wait "$tshark_pid" 2>/dev/null

check_ladder "$run/call.pcap" "capture, caller leg: steps 1-5, 9, 12, 13, 15, 16 in order" \
	"capture, callee leg: steps 6-8, 10, 11, 17, 18 in order"
check "capture: the forwarded INVITE has our Via, Record-Route, Max-Forwards 69, no Proxy-Authorization" \
	sh -c "tshark -r '$run/call.pcap' -Y 'sip.Method == \"INVITE\" && udp.dstport == 5072' -V 2>/dev/null |
	       grep -q 'Record-Route: <sip:10.77.0.2:5060;lr>' &&
	       tshark -r '$run/call.pcap' -Y 'sip.Method == \"INVITE\" && udp.dstport == 5072' -V 2>/dev/null | grep -q 'Max-Forwards: 69' &&
	       ! tshark -r '$run/call.pcap' -Y 'sip.Method == \"INVITE\" && udp.dstport == 5072 && sip.Proxy-Authorization' 2>/dev/null | grep -q ."
check "calls_answered 1, dialogs_ended 1, no dialog left" \
	sh -c "[ $(stat calls_answered) = 1 ] && [ $(stat dialogs_ended) = 1 ] && [ $(stat dialogs_active) = 0 ]"

# ---- failure paths ------------------------------------------------------------
sc="$top/tests/integration/sipclient.py"
check "unknown callee -> 404" env SIPFP_CALLEE=4040 "$sc" auth 1002 1002pw MD5 100 404
check "known callee, not registered -> 480" env SIPFP_CALLEE=1003 "$sc" auth 1002 1002pw MD5 100 480
# the contact registered, nobody listening there: timer B (64*T1 = 6.4 s) -> 408
check "callee 1003 registers a contact where nobody answers" register 1003 1003pw 5099 300
check "callee never answers -> 408 (timer B)" env SIPFP_CALLEE=1003 SIPFP_WAIT=12 "$sc" auth 1002 1002pw MD5 100 408
check "INVITE retransmitted to the silent callee (timer A)" test "$(stat invite_retrans)" -ge 3
check "un-REGISTER (Expires 0) removes the binding" register 1003 1003pw 5099 0
check "reg list no longer shows 1003" sh -c "! '$ctl' reg list | grep -q '^1003'"
check "registrar: bind, refresh, second contact, out-of-order CSeq 400, * misused 400, other AOR 403, * removes all" \
	"$sc" registrar 1002 1002pw 1000
check "no binding of 1002 left" sh -c "! '$ctl' reg list | grep -q '^1002'"
check "a 2 s registration expires on time" register 1003 1003pw 5099 2
sleep 3.5
check "expired binding gone (reg_expired counted)" sh -c "! '$ctl' reg list | grep -q '^1003' && [ $(stat reg_expired) -ge 1 ]"

# ---- CANCEL, timer C, BYE from the callee ---------------------------------------
callee uas_ring
check "caller CANCELs while ringing: 200 for the CANCEL, 487 for the INVITE" \
	sipp_cmd 5071 uac_cancel 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw
callee_done "callee got the CANCEL, answered 487, got the ACK"
check "CANCEL counted" test "$(stat calls_cancelled)" = 1

callee uas_ring
check "ringing longer than timer_c_s (3 s): caller gets 100, 180, 408" \
	env SIPFP_CALLEE=1000 SIPFP_WAIT=8 "$sc" auth 1002 1002pw MD5 100 180 408
callee_done "timer C: callee got sipfp's CANCEL and its ACK"

callee uas_bye
check "callee hangs up: its BYE reaches the caller through the Record-Route" \
	sipp_cmd 5071 uac_bye_in 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw
callee_done "callee's BYE answered 200 through sipfp"
check "no dialog left after the callee's BYE" test "$(stat dialogs_active)" = 0

# ---- in-dialog non-INVITE client transactions (17.1.2) -------------------------
r0=$(stat req_absorbed)
check "BYE sent once: sipfp retransmits it (timer E), relays the 200, answers our retransmission itself" \
	"$sc" bye-retrans
check "nict_retrans counted, the retransmission absorbed" \
	sh -c "[ $(stat nict_retrans) -ge 2 ] && [ $(stat req_absorbed) -gt $r0 ]"
check "far end never answers the BYE: 408 from sipfp (timer F)" "$sc" bye-timeout
check "nict_timeout counted" test "$(stat nict_timeout)" = 1

# ---- bad input from the callee's side ------------------------------------------
s0=$(stat resp_stray) b0=$(stat drop_sip_bad_response) r0=$(stat resp_relayed) d0=$(stat dialogs_active)
check "stray responses (no Via, forged branch, not through us, no next Via): nothing relayed" \
	"$sc" stray
check "counted: resp_stray +$(( $(stat resp_stray) - s0 )), drop_sip_bad_response +$(( $(stat drop_sip_bad_response) - b0 ))" \
	test $(( $(stat resp_stray) - s0 + $(stat drop_sip_bad_response) - b0 )) -ge 6
check "no dialog made from them" test "$(stat dialogs_active)" = "$d0"

# ---- forking: two contacts for 1000 (16.6, 16.7) -------------------------------
check "callee 1000 registers a second contact" register 1000 1000pw 5074 300
check "reg list shows both contacts of 1000" sh -c "[ \$('$ctl' reg list | grep -c '^1000') = 2 ]"
callee uas_answer
callee -p 5074 uas_ring
a0=$(stat calls_answered)
check "forked call: both contacts ring, one answers, the caller's call goes through" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the contact that answered: 200, ACK, BYE"
callee_done "the other contact: CANCEL from sipfp, 487, its ACK (16.7 step 10)" 5074
check "one call answered, no dialog left" \
	sh -c "[ $(stat calls_answered) = $((a0 + 1)) ] && [ $(stat dialogs_active) = 0 ]"
callee "$(reject 486 'Busy Here')" -d 0
callee -p 5074 "$(reject 603 Decline)" -d 1000
check "486 from one contact, 603 later from the other: the caller gets the 603 only (16.7 step 6)" \
	"$sc" fork 1002 1002pw 603
callee_done "busy contact got sipfp's ACK"
callee_done "declining contact got sipfp's ACK" 5074
callee "$(reject 503 'Service Unavailable')" -d 0
callee -p 5074 "$(reject 486 'Busy Here')" -d 1000
check "503 and 486: the lowest class wins, 486" "$sc" fork 1002 1002pw 486
callee_done "the 503 was ACKed"
callee_done "the 486 was ACKed" 5074
callee uas_ring
callee -p 5074 uas_ring
check "caller CANCELs a forked call: 200, then one 487" "$sc" fork-cancel 1002 1002pw
callee_done "first contact cancelled"
callee_done "second contact cancelled" 5074
check "no early dialog left behind by the branches" test "$(stat dialogs_active)" = 0
check "second contact of 1000 removed" register 1000 1000pw 5074 0

# ---- re-INVITE: an INVITE client transaction of its own (17.1.1) ---------------
check "re-INVITE turned down by the far end: 100, one 488, sipfp ACKs it, retransmission answered" \
	"$sc" reinvite

# ---- restart of the control process between two calls -------------------------
pkill -KILL -f "sipfp-control.*file-prefix sipfpca"
for _ in $(seq 100); do [ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "control restarted: registration of 1000 restored from the store" sh -c "'$ctl' reg list | grep -q '^1000'"
callee uas_answer
check "second call after the restart" sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "callee answered the second call"
check "no dialog left" test "$(stat dialogs_active)" = 0
sleep 1
check "no mbuf leaked (in use $mbuf0 -> $(stat mbuf_in_use))" test "$(stat mbuf_in_use)" = "$mbuf0"

stop_launcher "$launcher_pid"
launcher_pid=""
check "every process gone" sh -c "! pgrep -f 'file-prefix [s]ipfpca' >/dev/null"
finish
