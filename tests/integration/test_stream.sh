#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# SIP over TCP and TLS (issue 16) through the exception path: the data
# plane hands TCP for its address to a TAP interface in a network
# namespace of its own, the control process speaks SIP on the connections.
# SIPp over TCP through the challenge ladder; calls across transports (UDP
# and TCP callers, TLS and UDP callees, on the connection the callee
# registered over); TLS versions and certificates; framing (18.3); limits
# (slowloris, connection caps); brute force over TLS banned; the data plane
# killed and the phones back.  Needs root.  Cleans up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-stream.XXXXXX)
iface=sipfpst0
prefix=sipfpst
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"
ua="python3 $top/tests/integration/streamua.py"
ulimit -n 4096 # the client's side of 1000 connections

launcher_pid="" bg=()
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	teardown "$prefix" "$iface"
}
trap cleanup EXIT

# ---- certificates: a CA of the test's own, sipfp's for 10.77.0.2 -----------------
cd "$run" || exit 1
{
	test_certs "$run"
	# far ends sipfp dials: good, expired, another name, untrusted
	for c in good expired name self; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=far $c" \
			-keyout "$c.key" -out "$c.csr"
	done
	printf 'subjectAltName=IP:10.77.0.1\n' >far.ext
	printf 'subjectAltName=IP:10.77.0.9\n' >other.ext
	openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -days 2 -extfile far.ext -out good.pem
	openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key -days -1 -extfile far.ext -out expired.pem
	openssl x509 -req -in name.csr -CA ca.pem -CAkey ca.key -days 2 -extfile other.ext -out name.pem
	openssl x509 -req -in self.csr -signkey self.key -days 2 -extfile far.ext -out self.pem
	# a phone's client certificate, from the test CA
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=phone" -keyout cli.key -out cli.csr
	openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -days 2 -out cli.pem
} >"$run/certs.log" 2>&1 || { ko "test certificates"; cat "$run/certs.log"; finish; exit 1; }

start_sipfp "$prefix" "$iface" --set tls_cert="$run/srv.pem" --set tls_key="$run/srv.key" --set tls_ca="$run/ca.pem" \
	--set t1_ms=100 --set tcp_header_timeout_ms=2000 --set tcp_max_conns=1000 \
	--set tcp_max_per_source=0 --set bf_max_fails=4 --set ban_time_s=30 \
	--set ood_rate=2000 --set ood_burst=2000 ||
	{ ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started with TCP on 5060 and TLS on 5061"
check "exception interface in namespace sipfp-$prefix carries 10.77.0.2" \
	sh -c "ip -n sipfp-$prefix -4 addr | grep -q 'inet 10.77.0.2/24'"
for u in 2001 2002 2003 2004; do echo "${u}pw" | "$ctl" user add "$u" >/dev/null; done

# ---- SIPp over TCP: the challenge ladder --------------------------------------
check "SIPp over TCP (-t t1): REGISTER -> 401 -> REGISTER -> 200" \
	sipp_cmd 5090 reg_auth 10.77.0.2:5060 -t t1 -key user 2001 -au 2001 -ap 2001pw
check "the 401 over TCP came from the control process with the data plane's key (challenges counted)" \
	test "$(stat ctl_stream_challenges)" -ge 1
register 2002 2002pw 5072 300 >/dev/null
callee uas_answer
check "SIPp caller over TCP -> UDP callee: INVITE -> 407 -> ACK -> INVITE -> 100/180/200 -> ACK -> BYE" \
	sipp_cmd 5091 uac_call 10.77.0.2:5060 -t t1 -s 2002 -key user 2001 -au 2001 -ap 2001pw -d 300
callee_done "UDP callee answered the TCP caller's call"

check "a 407 over TLS is the 407 over UDP byte for byte, but for the client's Via and the nonce" \
	$ua same407

# ---- calls across transports, on the connection the callee registered over --------
$ua callee 2003 2003pw --tp tls --ca "$run/ca.pem" --calls 2 --secs 40 >"$run/callee.out" 2>&1 &
callee_pid=$!; bg+=("$callee_pid")
eventually_long grep -q registered "$run/callee.out"
check "TLS phone 2003 registered; conn list shows it on its TLS connection" \
	sh -c "'$ctl' conn list | grep -E 'tls.*TLSv1\.[23].*2003$'"
check "reg list: 2003 bound over its connection" sh -c "'$ctl' reg list | grep -q '^2003'"
check "UDP caller (SIPp) -> TLS callee: 407 ladder, 200, ACK, BYE" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 2003 -key user 2002 -au 2002 -ap 2002pw -d 300
check "TCP caller (streamua) -> TLS callee: double Record-Route, 200, BYE" \
	$ua caller 2004 2004pw 2003 --tp tcp
check "the TLS callee answered both calls down its own connection" wait "$callee_pid"
callee uas_answer
check "TLS caller -> UDP callee (SIPp): Record-Route names TLS for the caller" \
	$ua caller 2004 2004pw 2002 --tp tls --ca "$run/ca.pem"
callee_done "UDP callee answered the TLS caller's call"
check "TLS callee gone: a call to it gets 480 (its connection is the only way)" \
	env SIPFP_CALLEE=2003 "$top/tests/integration/sipclient.py" auth 2002 2002pw MD5 100 480

# ---- sipfp dials: a contact registered over UDP that asks for TLS ----------------------
# (RFC 3263: its transport parameter); the far end's certificate checked
# against tls_ca and the address dialled (RFC 5922)
k=0
for c in good expired name self; do
	k=$((k + 1))
	echo "270${k}pw" | "$ctl" user add "270$k" >/dev/null
	register "270$k" "270${k}pw" "509$k;transport=tls" 300 >/dev/null
	$ua serve "509$k" "$run/$c.pem" "$run/$c.key" --secs 20 >"$run/far-$c.out" 2>&1 &
	bg+=("$!")
done
sleep 0.5
sc="$top/tests/integration/sipclient.py"
env SIPFP_CALLEE=2701 "$sc" auth 2002 2002pw MD5 100 486 >"$run/call-good.out" 2>&1 &
cg=$!
for k in 2 3 4; do
	env SIPFP_CALLEE=270$k SIPFP_WAIT=5 "$sc" auth 2002 2002pw MD5 100 500 >"$run/call-$k.out" 2>&1 &
	eval "c$k=\$!"
done
check "sipfp dials TLS to a contact with transport=tls: the far end (good certificate) answers 486" wait "$cg"
check "... the far end saw a TLS handshake and the INVITE" grep -q "INVITE answered 486" "$run/far-good.out"
# RFC 3261 8.1.3.1: a transport error is the branch's 503; a proxy sends
# that on as 500 (16.7 step 6)
check "an expired certificate: not trusted, nothing sent, the caller gets 500 at once" wait "$c2"
check "a certificate for another address: the same" wait "$c3"
check "an untrusted (self-signed) certificate: the same" wait "$c4"
check "the three refusals logged with the verification error and counted" \
	sh -c "grep -q 'certificate: certificate has expired' '$run/launch.log' &&
	       grep -q 'certificate: .*IP address mismatch' '$run/launch.log' &&
	       grep -q 'certificate: self-signed certificate' '$run/launch.log' &&
	       [ $(stat conn_dial_failed) -ge 3 ]"

# ---- TLS: versions, certificates ---------------------------------------------------
check "TLS 1.2 accepted" $ua tlsver 1.2
check "TLS 1.3 accepted" $ua tlsver 1.3
check "TLS 1.0 refused" $ua tlsver 1.0 --expect 0
check "TLS 1.1 refused" $ua tlsver 1.1 --expect 0
check "sipfp's certificate verifies for 10.77.0.2 against the test CA" $ua verify 10.77.0.2 "$run/ca.pem"
check "... and fails for another name" $ua verify sip.example.org "$run/ca.pem" --expect 0
check "... and fails untrusted (system store only)" $ua verify 10.77.0.2 - --expect 0
check "failed handshakes counted" test "$(stat conn_tls_failed)" -ge 2

# ---- framing, keep-alives, limits -------------------------------------------------------
check "framing: one message in single bytes, five in one segment, no/bad Content-Length -> 400 + close" \
	$ua framing
check "CRLF CRLF ping -> CRLF pong (RFC 5626 4.4.1), over TLS" $ua ping --tp tls --ca "$run/ca.pem"
check "slowloris: a header section still open after 2 s is closed within 4 s" $ua slow 4 --secs 10
check "slowloris counted" test "$(stat conn_slow_closed)" -ge 1
check "1000 idle connections held (tcp_max_conns), the 1001st refused" $ua hold 1000
check "refusal counted" test "$(stat conn_refused_max)" -ge 1

# ---- torture corpus: the same answers over TCP as over UDP ----------------------------
check "RFC 4475 torture messages: the same answer over TCP as over UDP (but framing)" \
	python3 "$top/tests/integration/streamcorpus.py" "$top/tests/corpus/rfc4475"

# ---- brute force over TLS: banned like over UDP -------------------------------------------
check "wrong passwords over TLS: the source is banned (its SYN no longer reaches the kernel)" \
	$ua brute 2001 12 --tp tls --ca "$run/ca.pem"
check "failures came from the control process, the ban from the data plane" \
	sh -c "[ $(stat ctl_stream_auth_fail) -ge 4 ] && [ $(stat bans_added) -ge 1 ] && [ $(stat drop_exc_banned) -ge 1 ]"
"$ctl" ban del 10.77.0.1 >/dev/null 2>&1 || "$ctl" ban list

# ---- the other limits, on a sipfp started again with them small ----------------------------
stop_launcher "$launcher_pid"
launcher_pid=""
ip netns del "sipfp-$prefix" 2>/dev/null
start_sipfp "$prefix" "$iface" --set tls_cert="$run/srv.pem" --set tls_key="$run/srv.key" --set tls_ca="$run/ca.pem" \
	--set tls_verify_client=yes --set tcp_max_per_source=3 --set tls_handshakes_per_source=2 \
	--set tcp_max_msg=2000 --set tcp_idle_timeout_s=2 ||
	{ ko "sipfp started again with small limits"; cat "$run/launch.log"; finish; exit 1; }
check "tcp_max_per_source 3: three connections from one address held, a fourth refused" $ua cap 3
check "... counted" test "$(stat conn_refused_source)" -ge 1
check "tcp_max_msg 2000: a 5000-byte body gets 513 and the connection closed" $ua toobig
check "tcp_idle_timeout_s 2: a silent connection is closed" $ua idle 4
check "tls_verify_client: a client certificate from tls_ca is accepted" \
	$ua clientcert "$run/cli.pem" "$run/cli.key" --ca "$run/ca.pem"
check "... no client certificate: the handshake fails" $ua clientcert - - --ca "$run/ca.pem" --expect 0
check "... a self-signed one: the same" $ua clientcert "$run/self.pem" "$run/self.key" --ca "$run/ca.pem" --expect 0
sleep 1.1
check "tls_handshakes_per_source 2: of 5 handshakes within a second, some refused" \
	$ua hsrate 5 "$run/cli.pem" "$run/cli.key" --ca "$run/ca.pem"
check "... counted" test "$(stat conn_refused_hs_rate)" -ge 1
stop_launcher "$launcher_pid"
launcher_pid=""
start_sipfp "$prefix" "$iface" --set tls_cert="$run/srv.pem" --set tls_key="$run/srv.key" --set tls_ca="$run/ca.pem" ||
	{ ko "sipfp started again"; cat "$run/launch.log"; finish; exit 1; }

# ---- the data plane killed: the phone connects and registers again -----------------------
$ua callee 2003 2003pw --tp tls --ca "$run/ca.pem" --calls 1 --secs 60 --reconnect >"$run/callee2.out" 2>&1 &
callee_pid=$!; bg+=("$callee_pid")
eventually_long grep -q registered "$run/callee2.out"
pkill -KILL -f "sipfp-dataplane.*file-prefix $prefix( |$)"
sleep 2
for _ in $(seq 60); do [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.5; done
check "launcher restarted both processes" test "$(stat control_attached)" = 1
check_reg() { [ "$(grep -c registered "$run/callee2.out")" -ge 2 ]; }
eventually_long check_reg
check "the TLS phone connected and registered again" check_reg
check "registrations survived in the store (2002 still bound)" sh -c "'$ctl' reg list | grep -q '^2002'"
check "a call reaches the re-registered TLS phone" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 2003 -key user 2002 -au 2002 -ap 2002pw -d 300
check "the phone answered it" wait "$callee_pid"

finish
