#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Media anchored on the fast path, end to end on a TAP port: SIPp as caller
# (playing G.711 audio) and callee (echoing it, -rtp_echo), sipfp between
# them on its default media settings but for a one-call port range.  A
# tshark capture of the TAP port is the referee: each side's SDP names only
# sipfp, every RTP packet the caller sends reaches the callee from sipfp's
# address and the echo comes back, the per-stream counters equal the
# capture, hold and resume keep the ports, a third host sending into the
# stream is dropped and counted, a call that finds no free port gets 503,
# and the BYE frees the ports.  Needs root; cleans up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-media.XXXXXX)
iface=sipfpme0
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"

launcher_pid="" bg=() fwd0=""
ns=sipfpnat
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	nft delete table ip sipfpnat 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	ip link del sipfpnat0 2>/dev/null
	[ -n "$fwd0" ] && echo "$fwd0" >/proc/sys/net/ipv4/ip_forward
	pkill -f "sipp .*-i 10.77.0.1 -p 50[67][0-9] .*$run" 2>/dev/null
	teardown sipfpme "$iface"
}
trap cleanup EXIT

sipp_run() { # port scenario [args]: one SIPp call, errors to stdout
	local port=$1 sc=$2; shift 2
	(cd "$run" && timeout 60 sipp -sf "$top/tests/sipp/$sc.xml" -i 10.77.0.1 -p "$port" -m 1 \
		-timeout 50s -timeout_error -trace_err -nostdin "$@" >/dev/null 2>&1)
	local rc=$?
	[ $rc = 0 ] || cat "$run"/"${sc}"_*_errors.log 2>/dev/null | head -30
	return $rc
}

start_sipfp sipfpme "$iface" --set media_ports=20000-20003 --set media_port_quarantine_s=3 \
	--set media_timeout_s=4 || { ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started, media on ports 20000-20003 (one call)"
ip addr add 10.77.0.9/24 dev "$iface"
for u in alice bob carol; do check "user add $u" sh -c "echo secret | '$ctl' user add $u"; done
check "bob registers (contact port 5072)" sipp_run 5073 reg_contact 10.77.0.2:5060 -key user bob \
	-au bob -ap secret -key contact_port 5072 -key expires 300

tshark -q -i "$iface" -w "$run/cap.pcap" -f "udp" >/dev/null 2>&1 &
bg+=("$!")
tpid=$!
sleep 1.5

sipp_run 5072 uas_media -rtp_echo -mp 7000 >"$run/callee.out" 2>&1 &
callee=$!
bg+=("$!")
sleep 0.5
sipp_run 5070 uac_media 10.77.0.2:5060 -s bob -key user alice -au alice -ap secret -mp 6000 \
	>"$run/caller.out" 2>&1 &
caller=$!
bg+=("$!")

# while the first audio plays: the stream is up, the only port unit is
# taken, and a third host tries to send into the caller's stream
sleep 3
check "media list shows the stream: caller at 10.77.0.1:6000 on 20000, callee at 10.77.0.1:7000 on 20002" \
	sh -c "'$ctl' media list | grep -Eq ' 0 +20000 +10\.77\.0\.1:6000 +20002 +10\.77\.0\.1:7000 '"
sed 's/<recv response="480"\/>/<recv response="503"\/>/' "$top/tests/sipp/uac_auth.xml" >"$run/uac_503.xml"
call_503() {
	rm -f "$run"/uac_503_*_errors.log
	(cd "$run" && timeout 20 sipp -sf uac_503.xml 10.77.0.2:5060 -i 10.77.0.1 -p 5075 -m 1 -s bob \
		-key user alice -au alice -ap secret -timeout 15s -timeout_error -trace_err -nostdin \
		>/dev/null 2>&1) || { cat "$run"/uac_503_*_errors.log 2>/dev/null | head -20; return 1; }
}
check "a call that finds no free media port gets 503" call_503
check "media_no_ports counted" test "$(stat media_no_ports)" -ge 1
src0=$(stat drop_media_source)
python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.9", 6000))
for i in range(5):
    s.sendto(bytes([0x80, 0, 0, i]) + b"\0" * 168, ("10.77.0.2", 20000))
EOF
sleep 0.3
check "a third host sending into the latched stream is dropped and counted (drop_media_source +$(( $(stat drop_media_source) - src0 )))" \
	test "$(( $(stat drop_media_source) - src0 ))" -ge 5

# the control process dies mid-call: the fast path goes on relaying, and
# the restarted control process adopts the call's flows and finds the call
# again at its next message (the hold re-INVITE), so hold, resume and BYE
# work as before and no packet is lost
relayed0=$(stat media_relayed)
pkill -KILL -f "sipfp-control .*file-prefix sipfpme( |$)"
sleep 0.5
check "control process gone: the fast path still relays (media_relayed $relayed0 -> $(stat media_relayed 2>/dev/null || echo ?))" \
	sh -c "[ \$(python3 '$top/bench/telemetry.py' sipfpme /sipfp/stats media_relayed) -gt $relayed0 ]"
for _ in $(seq 50); do [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "control process restarted by the launcher" test "$(stat control_attached)" = 1
check "it adopted the call's flows (media_adopted 1)" test "$(stat media_adopted)" = 1
if wait "$caller"; then ok "caller: setup, audio, hold, resume, audio, BYE"; else ko "caller"; sed 's/^/#   /' "$run/caller.out"; fi
if wait "$callee"; then ok "callee: answered, held, resumed, hung up"; else ko "callee"; sed 's/^/#   /' "$run/callee.out"; fi
check "the freed ports wait out their quarantine (media_port_quarantine_s 3): a call right after gets 503" call_503
sleep 1
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null

# ---- the capture -----------------------------------------------------------
flows() { # count UDP packets src:sport -> dst:dport
	tshark -r "$run/cap.pcap" -Y "ip.src==$1 && udp.srcport==$2 && ip.dst==$3 && udp.dstport==$4" 2>/dev/null | wc -l
}
c_in=$(flows 10.77.0.1 6000 10.77.0.2 20000)
b_out=$(flows 10.77.0.2 20002 10.77.0.1 7000)
b_in=$(flows 10.77.0.1 7000 10.77.0.2 20002)
c_out=$(flows 10.77.0.2 20000 10.77.0.1 6000)
echo "# capture: caller->sipfp $c_in, sipfp->callee $b_out, callee->sipfp $b_in, sipfp->caller $c_out"
check "the caller's audio was sent ($c_in RTP packets, two plays of 236)" test "$c_in" -ge 400
check "every RTP packet the caller sent reached the callee from 10.77.0.2:20002 ($b_out of $c_in)" \
	test "$b_out" = "$c_in"
check "the callee's echo came back to the caller from 10.77.0.2:20000 ($c_out of $b_in)" \
	test "$c_out" = "$b_in" -a "$b_in" -gt 0
check "no RTP went between the phones directly" \
	test "$(tshark -r "$run/cap.pcap" -Y 'ip.src==10.77.0.1 && ip.dst==10.77.0.1' 2>/dev/null | wc -l)" = 0
sdp() { # what SDP reached one side: the address, owner and port of each body
	tshark -r "$run/cap.pcap" -Y "sdp && ip.dst==10.77.0.1 && udp.dstport==$1" -T fields \
		-e sdp.connection_info.address -e sdp.owner.address -e sdp.media.port 2>/dev/null
}
sdp 5072 >"$run/sdp_callee.txt"
sdp 5070 >"$run/sdp_caller.txt"
check "the callee's SDP names only sipfp, port 20002, in every offer ($(wc -l <"$run/sdp_callee.txt") bodies)" \
	sh -c "[ \$(wc -l <'$run/sdp_callee.txt') -ge 3 ] && ! grep -v '^10.77.0.2	10.77.0.2	20002$' '$run/sdp_callee.txt'"
check "the caller's SDP names only sipfp, port 20000, in every answer ($(wc -l <"$run/sdp_caller.txt") bodies)" \
	sh -c "[ \$(wc -l <'$run/sdp_caller.txt') -ge 3 ] && ! grep -v '^10.77.0.2	10.77.0.2	20000$' '$run/sdp_caller.txt'"
check "hold reached the callee as a=sendonly, on the same port" \
	sh -c "tshark -r '$run/cap.pcap' -Y 'sdp.media_attr == \"sendonly\" && ip.dst==10.77.0.1 && udp.dstport==5072' -T fields -e sdp.media.port 2>/dev/null | grep -qx 20002"

# ---- the counters ------------------------------------------------------------
cdr=$(grep "sipfp-control: media " "$run/launch.log" | tail -1)
echo "# $cdr"
check "the call-end line counts what the capture saw (caller->callee $c_in, callee->caller $b_in)" \
	sh -c "echo '$cdr' | grep -q 'caller->callee $c_in pkts 0 lost.*callee->caller $b_in pkts'"
check "media_relayed counts both ways ($(stat media_relayed) = $b_out + $c_out)" \
	test "$(stat media_relayed)" = "$((b_out + c_out))"
check "the BYE freed the ports: no stream listed" test -z "$("$ctl" media list | tail -n +2)"
check "no dialog left" test -z "$("$ctl" dialog list | tail -n +2)"

# ---- media timeout: a call that sends no media is ended by sipfp ------------------
sleep 3.5
sipp_run 5072 uas_answer >"$run/callee2.out" 2>&1 &
callee=$!
bg+=("$!")
sleep 0.5
t0=$(date +%s)
if sipp_run 5070 uac_wait_bye 10.77.0.2:5060 -s bob -key user alice -au alice -ap secret >"$run/caller2.out" 2>&1; then
	ok "no media for media_timeout_s (4 s): the caller got sipfp's BYE after $(( $(date +%s) - t0 )) s"
else
	ko "media timeout: caller"; sed 's/^/#   /' "$run/caller2.out"
fi
if wait "$callee"; then ok "... and so did the callee"; else ko "media timeout: callee"; sed 's/^/#   /' "$run/callee2.out"; fi
check "the call was found again after the restart" grep -q "found again after the restart" "$run/launch.log"
check "media_timeouts 1, own_bye 2" test "$(stat media_timeouts)" = 1 -a "$(stat own_bye)" = 2
check "the call-end line says why" grep -q "call ended\|media timeout;" "$run/launch.log"
check "no dialog and no stream left" test -z "$("$ctl" dialog list | tail -n +2)$("$ctl" media list | tail -n +2)"

# ---- NAT: a callee behind a NAT, its SDP naming its private address ------------------
# carol lives in a network namespace (192.168.77.2) behind this host, which
# masquerades her traffic to 10.77.0.1 and drops anything new towards her
# private address: only packets to the address her NAT mapped reach her.
ip netns add "$ns"
ip link add sipfpnat0 type veth peer name sipfpnat1 netns "$ns"
ip addr add 192.168.77.1/24 dev sipfpnat0
ip link set sipfpnat0 up
ip netns exec "$ns" sh -c 'ip addr add 192.168.77.2/24 dev sipfpnat1 && ip link set sipfpnat1 up &&
	ip link set lo up && ip route add default via 192.168.77.1 && ethtool -K sipfpnat1 tx off >/dev/null'
fwd0=$(cat /proc/sys/net/ipv4/ip_forward)
echo 1 >/proc/sys/net/ipv4/ip_forward
nft -f - <<EOF
table ip sipfpnat {
	chain nat_out { type nat hook postrouting priority srcnat; oifname "$iface" ip saddr 192.168.77.0/24 masquerade; }
	chain guard { type filter hook forward priority 0; iifname "$iface" ip daddr 192.168.77.0/24 ct state new drop; }
}
EOF
check "carol registers from behind the NAT (contact 192.168.77.2:5072)" \
	ip netns exec "$ns" python3 "$top/tests/integration/edgeclient.py" register 192.168.77.2 carol secret 5072
sleep 3 # the quarantine of the timeout call's ports
tshark -q -i "$iface" -w "$run/nat.pcap" -f "udp" >/dev/null 2>&1 &
bg+=("$!")
tpid=$!
sleep 1.5
(cd "$run" && ip netns exec "$ns" timeout 60 sipp -sf "$top/tests/sipp/uas_nat.xml" -i 192.168.77.2 -p 5072 \
	-mp 7000 -m 1 -timeout 50s -timeout_error -trace_err -nostdin >/dev/null 2>&1) &
callee=$!
bg+=("$!")
sleep 0.5
if sipp_run 5070 uac_media 10.77.0.2:5060 -s carol -key user alice -au alice -ap secret -mp 6000 \
	>"$run/caller3.out" 2>&1; then ok "a call to carol behind the NAT: setup, audio, hold, resume, BYE"
else ko "call to carol behind the NAT"; sed 's/^/#   /' "$run/caller3.out"; fi
if wait "$callee"; then ok "carol answered, played audio, hung up"; else ko "carol's SIPp"; fi
sleep 1
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
nat() { tshark -r "$run/nat.pcap" -Y "$1" 2>/dev/null | wc -l; }
c_in=$(nat "ip.src==10.77.0.1 && udp.srcport==6000 && udp.dstport==20000")
to_private=$(nat "ip.src==10.77.0.2 && udp.srcport==20002 && ip.dst==192.168.77.2")
to_nat=$(nat "ip.src==10.77.0.2 && udp.srcport==20002 && ip.dst==10.77.0.1")
carol_in=$(nat "ip.src==10.77.0.1 && udp.dstport==20002")
carol_port=$(tshark -r "$run/nat.pcap" -Y "ip.src==10.77.0.1 && udp.dstport==20002" -T fields -e udp.srcport 2>/dev/null | sort -u | head -1)
to_caller=$(nat "ip.src==10.77.0.2 && udp.srcport==20000 && ip.dst==10.77.0.1 && udp.dstport==6000")
echo "# NAT: caller->sipfp $c_in; sipfp->carol's SDP address $to_private, ->her NAT address (10.77.0.1:$carol_port) $to_nat; carol->sipfp $carol_in; sipfp->caller $to_caller"
check "carol's audio reached sipfp from her NAT address, not her SDP address ($carol_in packets from 10.77.0.1:$carol_port)" \
	test "$carol_in" -ge 200
check "sipfp latched to it: the caller's audio went to 10.77.0.1:$carol_port ($to_nat packets)" \
	test "$to_nat" -ge 400
check "before latching, at most the first packets went to the private address ($to_private, dropped by the NAT)" \
	test "$to_private" -lt 20
check "every caller packet went one way or the other ($c_in = $to_nat + $to_private)" \
	test "$c_in" = "$((to_nat + to_private))"
check "carol's audio reached the caller from 10.77.0.2:20000 ($to_caller of $carol_in)" \
	test "$to_caller" = "$carol_in"

stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" grep -q "mbufs in use at exit: 0" "$run/launch.log"
finish
