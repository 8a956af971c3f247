#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The two processes on a TAP port, under the real EAL, driven by SIPp and
# by an independent Python client (tests/integration/sipclient.py).
# Needs root.  Cleans up every process, TAP device and file it creates.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-it.XXXXXX)
secret=integration-test-secret-0001
export SIPFP_SOCKET=$run/ctl.sock SIPFP_SECRET=$secret
. "$top/tests/integration/lib.sh"

launcher_pid=""
trap 'teardown sipfpit sipfpit0' EXIT

sipp_run() { # scenario user password [extra sipp args]
	local sc=$1 user=$2 pw=$3; shift 3
	(cd "$run" && timeout 20 sipp 10.77.0.2:5060 -sf "$top/tests/sipp/$sc.xml" -s 1000 \
		-key user "$user" -au "$user" -ap "$pw" -i 10.77.0.1 -p 5071 -m 1 \
		-timeout 10s -timeout_error -trace_err -nostdin "$@" >/dev/null 2>&1)
	local rc=$?
	[ $rc = 0 ] || cat "$run"/*_errors.log 2>/dev/null | head -20
	rm -f "$run"/*_errors.log
	return $rc
}

# SIPp only speaks MD5 and takes the first challenge header, so MD5 comes
# first; SHA-256 is offered too for sipclient.py's RFC 8760 check.  The
# digest uri check is the default (host): SIPp's INVITE uri has no user part.
"$top/scripts/sipfp-launch" --rundir "$run" --file-prefix sipfpit --iface sipfpit0 \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set algorithms=MD5,SHA-256 --set nonce_secret=$secret \
	--set ctl_timeout_ms=1000 >"$run/launch.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 100); do [ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.3; done
if [ "$(stat control_attached 2>/dev/null)" != 1 ]; then
	ko "sipfp started"; cat "$run/launch.log"; finish; exit 1
fi
ok "sipfp started (data plane + control, TAP sipfpit0)"
mbuf0=$(stat mbuf_in_use)

check "user add (password on stdin)" sh -c "echo wonderland | '$ctl' user add alice"
check "user add --ha1" "$ctl" user add bob --ha1 "$(printf 'bob:sipfp:builder' | md5sum | cut -d' ' -f1)"
# the callee of these calls exists but never registers: calls to it get 480
check "user add 1000 (a callee that is not registered)" sh -c "echo x | '$ctl' user add 1000"
check "user list shows both" sh -c "'$ctl' -j user list | grep -q '\"user\": \"bob\"'"
check "OPTIONS keepalive -> 200" "$top/tests/integration/sipclient.py" options

# steps 1-5 of the reference call, and the REGISTER challenge
check "SIPp: INVITE -> 407 -> ACK -> INVITE+auth -> 100 Trying (alice)" sipp_run uac_auth alice wonderland
check "ACK to the 407 absorbed" test "$(stat ack_absorbed)" -ge 1
check "SIPp: REGISTER -> 401 -> REGISTER+auth -> 200 from control" sipp_run reg_auth alice wonderland
check "registration reached the control process" sh -c "'$ctl' reg list | grep -q '^alice '"
check "SIPp: htdigest-style user (bob) authenticates" sipp_run uac_auth bob builder
check "SIPp: wrong password -> 403, no 100 Trying" sipp_run uac_auth_403 alice wrong
check "unknown user -> the same 403" sipp_run uac_auth_403 mallory wonderland
check "SHA-256 digest with qop=auth (RFC 8760)" "$top/tests/integration/sipclient.py" auth alice wonderland SHA-256 100 480
check "stale nonce -> 407 stale=true; fresh nonce of the shared secret accepted" \
	"$top/tests/integration/sipclient.py" stale wonderland

# user changes reach the wire
check "user add carol" sh -c "echo c4r0l | '$ctl' user add carol"
check "carol authenticates at once" sipp_run uac_auth carol c4r0l
check "user del carol" "$ctl" user del carol
check "carol is refused after the delete" sipp_run uac_auth_403 carol c4r0l

# the control process sends without a MAC: the data plane resolves the next
# hop.  A second kernel address it has never heard of makes it ask (ARP).
ip addr add 10.77.0.3/24 dev sipfpit0
arp0=$(stat arp_requests)
check "control reply to an unknown neighbour: ARP request, then the 480 arrives" \
	env SIPFP_HOST=10.77.0.3 "$top/tests/integration/sipclient.py" auth alice wonderland MD5 100 480
check "ARP request sent and answer learned" sh -c "[ $(stat arp_requests) -gt $arp0 ] && [ $(stat arp_learned) -ge 1 ]"
ip addr del 10.77.0.3/24 dev sipfpit0

# the primary initialised pdump: dpdk-dumpcap (a secondary) captures the port
timeout 20 dpdk-dumpcap --file-prefix=sipfpit -i 0 -c 2 -q -w "$run/cap.pcapng" >"$run/dumpcap.log" 2>&1 &
dumpcap_pid=$!
for _ in $(seq 50); do grep -qi "capturing" "$run/dumpcap.log" && break; sleep 0.1; done
sleep 0.5
"$top/tests/integration/sipclient.py" options >/dev/null 2>&1
wait "$dumpcap_pid"
check "dpdk-dumpcap captures the port (OPTIONS and its 200)" \
	sh -c "tshark -r '$run/cap.pcapng' -Y sip 2>/dev/null | grep -q 'OPTIONS' && tshark -r '$run/cap.pcapng' -Y 'sip.Status-Code == 200' 2>/dev/null | grep -q 200"

# control process SIGKILLed: challenges go on, hand-offs get 503; restarted
# by the launcher, it restores every credential
kill -STOP "$launcher_pid"   # hold the supervisor while we look at the gap
pkill -KILL -f "sipfp-control.*file-prefix sipfpit"
for _ in $(seq 50); do grep -q 'control process gone' "$run/launch.log" && break; sleep 0.1; done
check "control gone: challenge still 407" "$top/tests/integration/sipclient.py" challenge
check "control gone: authenticated INVITE -> 503" "$top/tests/integration/sipclient.py" auth alice wonderland MD5 503
kill -CONT "$launcher_pid"
for _ in $(seq 100); do [ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "control restarted by the launcher" test "$(stat control_attached)" = 1
check "after restart: alice still authenticates" sipp_run uac_auth alice wonderland
check "after restart: bob still authenticates" sipp_run uac_auth bob builder
check "after restart: carol still refused" sipp_run uac_auth_403 carol c4r0l
check "user count survived: $(stat users) in the replica" test "$(stat users)" = 3

sleep 1
mbuf1=$(stat mbuf_in_use)
check "no mbuf leaked (in use $mbuf0 -> $mbuf1)" test "$mbuf1" = "$mbuf0"
check "drops are counted, never silent: rx_packets accounted" test "$(stat rx_packets)" -gt 0

# the data plane SIGKILLed: the launcher restarts both, the control process
# resyncs the new replica from its store
dp_old=$(pgrep -f "sipfp-dataplane.*file-prefix sipfpit" | head -1)
kill -KILL "$dp_old"
for _ in $(seq 150); do
	dp_new=$(pgrep -f "sipfp-dataplane.*file-prefix sipfpit" | head -1)
	[ -n "$dp_new" ] && [ "$dp_new" != "$dp_old" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] &&
		[ "$(stat users 2>/dev/null)" = 3 ] && break
	sleep 0.2
done
check "data plane killed: launcher restarted it (pid $dp_old -> ${dp_new:-none})" test -n "$dp_new" -a "$dp_new" != "$dp_old"
check "after data plane restart: control resynced 3 users" test "$(stat users)" = 3
check "after data plane restart: alice authenticates" sipp_run uac_auth alice wonderland

stop_launcher "$launcher_pid"
check "launcher stopped both processes on SIGTERM" sh -c "! pgrep -f 'file-prefix [s]ipfpit' >/dev/null"
launcher_pid=""
finish
