#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The back-to-back mode (mode = b2bua) on a TAP port, SIPp at both ends:
# the reference ladder checked leg by leg from a tshark capture against the
# capture's shape (on B a Call-ID and From-tag of sipfp's, its Via and
# Contact only, Session-Expires; on A no trace of B), then CANCEL while
# ringing, busy (486), no answer (408), BYE from the callee, hold and
# resume by re-INVITE with RTP relayed, a forked callee answering twice, a
# missed session refresh ending both legs, and the control process
# SIGKILLed mid-call with the call hung up afterwards.  Needs root; cleans
# up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-b2b.XXXXXX)
iface=sipfpbb0
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"

launcher_pid="" bg=()
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	teardown sipfpbb "$iface"
}
trap cleanup EXIT

sipp_secs=60 # SIPp runs of the longer calls below
sc="$top/tests/integration/sipclient.py"

# session_expires 4 / min_se 2: RFC 4028 wants 90 at least, a test cannot wait that long
start_sipfp sipfpbb "$iface" --set mode=b2bua --set t1_ms=100 --set timer_c_s=3 \
	--set session_expires=4 --set min_se=2 --set media_port_quarantine_s=0 ||
	{ ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started in b2bua mode (TAP $iface)"
check "the control process says so" grep -q "mode b2bua: two dialogs per call" "$run/launch.log"
for u in 1000 1002; do echo "${u}pw" | "$ctl" user add $u >/dev/null; done

# ---- the reference ladder, captured ------------------------------------------------
tshark -i "$iface" -f "udp port 5060" -w "$run/call.pcap" -q >/dev/null 2>&1 &
tshark_pid=$!; bg+=("$tshark_pid")
sleep 1.5
check "callee 1000 registers" register 1000 1000pw 5072 300
callee uas_answer
check "caller 1002: INVITE -> 407 -> ACK -> INVITE -> 100 -> 180 -> 200 -> ACK -> BYE -> 200" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "callee 1000: INVITE, 180, 200, ACK, BYE -> 200"
sleep 1
kill -INT "$tshark_pid"; wait "$tshark_pid" 2>/dev/null

check_ladder "$run/call.pcap" "capture, leg A: the caller's ladder in order" \
	"capture, leg B: the callee's ladder in order"

# each message's header fields, one line per message, to compare the legs
tshark -r "$run/call.pcap" -Y 'sip && !(udp.port == 5073)' -T fields -E separator='|' -e udp.srcport -e udp.dstport \
	-e sip.Call-ID -e sip.from.tag -e sip.Via -e sip.Contact -e sip.Session-Expires -e sip.Record-Route \
	-e sip.Max-Forwards -e sip.CSeq.seq -e sip.Method 2>/dev/null >"$run/fields.txt"
python3 - "$run/fields.txt" >"$run/legs.txt" 2>&1 <<'PY'
import sys
a, b = [], []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("|")
    (a if "5071" in f[:2] else b if "5072" in f[:2] else []).append(f)
def fail(msg):
    print("FAIL", msg); sys.exit(1)
a_cids = {f[2] for f in a}; b_cids = {f[2] for f in b}
a_tags = {f[3] for f in a if f[3]}; b_tags = {f[3] for f in b if f[3]}
print("A Call-IDs", a_cids, "B Call-IDs", b_cids)
if len(a_cids) != 1 or len(b_cids) != 1 or a_cids & b_cids: fail("one Call-ID per leg, different")
if a_tags & b_tags: fail("the From-tags of the legs must differ: %s %s" % (a_tags, b_tags))
b_inv = [f for f in b if f[10] == "INVITE" and f[0] == "5060"]
if not b_inv: fail("no INVITE on B")
f = b_inv[0]
if f[4].count("SIP/2.0/UDP") != 1 or "10.77.0.2:5060" not in f[4]: fail("B's INVITE Via: %s" % f[4])
if f[5] != "<sip:10.77.0.2:5060>": fail("B's INVITE Contact: %s" % f[5])
if not f[6]: fail("B's INVITE has no Session-Expires")
if f[7]: fail("B's INVITE has a Record-Route: %s" % f[7])
if f[8] != "69": fail("B's INVITE Max-Forwards %s (A's 70 less one)" % f[8])
for f in b:   # nothing of A's on B
    if "5071" in f[4] + f[5] + f[7] or f[2] in a_cids: fail("A's topology on B: %s" % f)
for f in a:   # nothing of B's on A
    if "5072" in f[4] + f[5] + f[7] or f[2] in b_cids: fail("B's topology on A: %s" % f)
print("ok: B's INVITE Via", b_inv[0][4], "Contact", b_inv[0][5], "Session-Expires", b_inv[0][6])
PY
if [ $? = 0 ]; then ok "capture: B has its own Call-ID and From-tag, sipfp's Via and Contact only, Session-Expires, Max-Forwards 69; A sees nothing of B"
else ko "capture: the legs"; sed 's/^/#   /' "$run/legs.txt"; fi
sed 's/^/# /' "$run/legs.txt" | head -3
# byte by byte: every datagram of one leg, SDP included, searched for the
# other leg's Call-ID, tags and phone address
tshark -r "$run/call.pcap" -Y 'sip && !(udp.port == 5073)' -T fields -E separator='|' -e udp.srcport -e udp.dstport \
	-e sip.Call-ID -e sip.from.tag -e sip.to.tag -e udp.payload 2>/dev/null >"$run/raw.txt"
python3 - "$run/raw.txt" >"$run/raw.out" 2>&1 <<'PY'
import sys
legs = {"a": [], "b": []}
for line in open(sys.argv[1]):
    sp, dp, cid, ft, tt, hexp = line.rstrip("\n").split("|")
    legs["a" if "5071" in (sp, dp) else "b"].append((cid, ft, tt, bytes.fromhex(hexp.replace(":", ""))))
def secrets(leg, phone):
    s = {phone.encode()}
    for cid, ft, tt, _ in legs[leg]:
        s |= {cid.encode()} | {t.encode() for t in (ft, tt) if t}
    return s
# the tags sipfp gives each leg are its own; the phones' tags and Call-IDs must not cross
a_secrets = {x for x in secrets("a", "10.77.0.1:5071") if b"SIPpTag" in x or b"@" in x or b":" in x}
b_secrets = {x for x in secrets("b", "10.77.0.1:5072") if b"SIPpTag" in x or b"@" in x or b":" in x}
bad = [(x, "A on B") for x in a_secrets for m in legs["b"] if x in m[3]]
bad += [(x, "B on A") for x in b_secrets for m in legs["a"] if x in m[3]]
print(len(legs["a"]), "datagrams on A,", len(legs["b"]), "on B; searched for", len(a_secrets), "and", len(b_secrets), "strings")
if bad:
    print("FAIL", bad[:5]); sys.exit(1)
PY
if [ $? = 0 ]; then ok "byte by byte: no datagram of one leg holds the other's Call-ID, phone tags or phone address ($(cat "$run/raw.out"))"
else ko "byte by byte"; sed 's/^/#   /' "$run/raw.out"; fi
check "b2b_calls 1, dialogs_ended 1, no call left" \
	sh -c "[ $(stat b2b_calls) = 1 ] && [ $(stat dialogs_ended) = 1 ] && [ $(stat dialogs_active) = 0 ]"

# ---- failures -------------------------------------------------------------------------
callee uas_ring
check "caller CANCELs while ringing: 200 for the CANCEL, 487 for the INVITE" \
	sipp_cmd 5071 uac_cancel 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw
callee_done "callee got sipfp's CANCEL on B, answered 487, got the ACK"
callee "$(reject 486 'Busy Here')" -d 0
check "callee busy: the caller gets 100, 180, 486" "$sc" auth 1002 1002pw MD5 100 180 486
callee_done "the 486 was ACKed on B"
callee uas_ring
check "no answer within timer_c_s (3 s): 100, 180, 408" env SIPFP_WAIT=8 "$sc" auth 1002 1002pw MD5 100 180 408
callee_done "timer C: the callee got sipfp's CANCEL and its ACK"
callee uas_bye
check "callee hangs up: its BYE on B ends A with sipfp's BYE" \
	sipp_cmd 5071 uac_bye_in 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw
callee_done "the callee's BYE was answered 200"
check "no call left" test "$(stat dialogs_active)" = 0

# ---- hold and resume, RTP relayed -------------------------------------------------------
callee uas_media -rtp_echo -mp 7000
check "caller: setup, audio, hold (re-INVITE), resume (re-INVITE), audio, BYE" \
	sipp_cmd 5070 uac_media 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -mp 6000
callee_done "callee: answered, held, resumed, hung up"
check "re-INVITEs went across the legs (b2b_relayed $(stat b2b_relayed))" test "$(stat b2b_relayed)" -ge 2
check "the media was relayed both ways (media_relayed $(stat media_relayed))" test "$(stat media_relayed)" -ge 400

# ---- a forked callee answering twice --------------------------------------------------
check "callee 1000 registers a second contact" register 1000 1000pw 5074 300
callee uas_answer_direct -d 0
callee -p 5074 uas_answer_direct -d 400
f0=$(stat b2b_fork_bye)
check "forked call answered by both contacts: the caller's call goes through once" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 1500
callee_done "the first 2xx won: ACK, then the caller's BYE"
callee_done "the second 2xx was ACKed and BYEd by sipfp (13.2.2.4)" 5074
check "b2b_fork_bye counted" test "$(stat b2b_fork_bye)" -gt "$f0"
check "second contact of 1000 removed" register 1000 1000pw 5074 0

# ---- a missed session refresh ------------------------------------------------------------
# the callee takes the refresher's part (refresher=uas) and never refreshes:
# sipfp ends both legs min(32, SE/3) before the 4 s interval runs out
sed '/SIP\/2.0 200 OK/,/Content-Type/ s/^\(      Content-Type: application\/sdp\)/      Session-Expires: 4;refresher=uas\n\1/' \
	"$top/tests/sipp/uas_answer.xml" >"$run/uas_se.xml"
callee uas_se
t0=$(date +%s)
check "callee never refreshes: the caller gets sipfp's BYE" \
	sipp_cmd 5071 uac_wait_bye 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw
callee_done "... and so does the callee, after $(( $(date +%s) - t0 )) s"
check "b2b_expired 1" test "$(stat b2b_expired)" = 1

# ---- the control process SIGKILLed mid-call ---------------------------------------------
answered() { # N0: wait (10 s) until more than N0 calls were answered
	for _ in $(seq 50); do [ "$(stat b2b_calls 2>/dev/null)" -gt "$1" ] 2>/dev/null && return 0; sleep 0.2; done
	return 1
}
callee uas_answer
c0=$(stat b2b_calls)
sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 4000 >"$run/caller_k.out" 2>&1 &
caller=$!; bg+=("$caller")
answered "$c0"
sleep 0.5
pkill -KILL -f "sipfp-control .*file-prefix sipfpbb( |$)"
sleep 0.3
for _ in $(seq 50); do [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "control restarted by the launcher, the call restored (b2b_restored $(stat b2b_restored))" \
	test "$(stat b2b_restored)" = 1
if wait "$caller"; then ok "the caller hung up after the restart: its BYE answered"; else ko "caller after the restart"; sed 's/^/#   /' "$run/caller_k.out"; fi
callee_done "the BYE reached the callee on B"
# the callee hangs up 3 s after its 200 (uas_bye.xml waits 300 ms)
sed 's/<pause milliseconds="300"\/>/<pause milliseconds="3000"\/>/' "$top/tests/sipp/uas_bye.xml" >"$run/uas_bye_late.xml"
callee uas_bye_late
c0=$(stat b2b_calls)
sipp_cmd 5071 uac_bye_in 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw >"$run/caller_k2.out" 2>&1 &
caller=$!; bg+=("$caller")
answered "$c0"
sleep 0.5
pkill -KILL -f "sipfp-control .*file-prefix sipfpbb( |$)"
if wait "$caller"; then ok "killed again, the callee hung up: its BYE reached the caller"; else ko "callee's BYE after a restart"; sed 's/^/#   /' "$run/caller_k2.out"; fi
callee_done "the callee's BYE was answered"
check "no call left" eventually_long sh -c "[ \$(SIPFP_SOCKET='$run/ctl.sock' '$ctl' stats | awk '\$1 == \"dialogs_active\" {print \$2}') = 0 ]"

stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" grep -q "mbufs in use at exit: 0" "$run/launch.log"
finish
