#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Two real softphones through sipfp with nothing configured: baresip 1.0
# (Debian's baresip-core) as alice and bob register with digest auth on
# sipfp's embedded defaults, alice calls bob, both report the call
# established, the media is anchored on sipfp, each records what it hears
# (sndfile) and the recording holds the other's tone (ausine, 440 and
# 660 Hz), rtcpsummary reports no loss, alice hangs up and bob sees it.
# This is what a new user does first; it failed before MD5 became the
# default (libre gives up on a challenge set naming SHA-256).
# Only paths, the DPDK prefix and the TAP name differ from the defaults, so
# the test can run beside anything else.  Needs root; cleans up after itself.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-baresip.XXXXXX)
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"
dev=sipfpbs0

command -v baresip >/dev/null || { echo "baresip not installed (apt-get install baresip-core)"; exit 1; }

launcher_pid=""
cleanup() {
	pkill -KILL -f "baresip -f $run/" 2>/dev/null
	teardown sipfpbs $dev
}
trap cleanup EXIT

# SIPFP_MODE=b2bua: the same calls through the back-to-back mode.
# SIPFP_ALICE_TP, SIPFP_BOB_TP = udp (default) | tcp | tls: each phone's
# transport (TLS: sipfp's certificate from a CA of the test's own, which
# the phones are given as sip_cafile)
atp=${SIPFP_ALICE_TP:-udp} btp=${SIPFP_BOB_TP:-udp}
tls=()
if [ "$atp" = tls ] || [ "$btp" = tls ]; then
	test_certs "$run" >"$run/certs.log" 2>&1 || { ko "test certificates"; finish; exit 1; }
	tls=(--set tls_cert="$run/srv.pem" --set tls_key="$run/srv.key")
fi
start_sipfp sipfpbs $dev ${SIPFP_MODE:+--set mode=$SIPFP_MODE} "${tls[@]+"${tls[@]}"}" ||
	{ ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started on its embedded defaults${SIPFP_MODE:+ but mode = $SIPFP_MODE}${tls[0]:+ and a TLS certificate} (TAP $dev); alice over $atp, bob over $btp"
check "config show: MD5 only, digest uri matched by host" \
	sh -c "'$ctl' config show | grep -Eq '^algorithms +MD5 *\$' && '$ctl' config show | grep -Eq '^check_digest_uri +host *\$'"
for u in alice bob; do check "user add $u" sh -c "echo secret-$u | '$ctl' user add $u"; done

# phone NAME SIP_PORT CONSOLE_PORT: a baresip config folder.  The SIP
# ports are 10 apart because baresip also opens TCP/TLS on port + 1.
# ausine is the microphone (48 kHz stereo, as baresip 1.0's ausine needs);
# cons takes commands on a UDP console port.
phone() {
	mkdir -p "$run/$1"
	cat >"$run/$1/config" <<EOF
poll_method		epoll
sip_listen		10.77.0.1:$2
audio_source		ausine,$4
audio_player		aufile,/dev/null
audio_alert		aufile,/dev/null
ausrc_srate		48000
ausrc_channels		2
module_path		/usr/lib/baresip/modules
module			cons.so
module			ausine.so
module			aufile.so
module			g711.so
module			sndfile.so
module			rtcpsummary.so
snd_path		$run/$1
module_app		account.so
module_app		menu.so
cons_listen		127.0.0.1:$3
EOF
	local tp=$5 param=""
	[ "$tp" != udp ] && param=";transport=$tp"
	[ "$tp" = tls ] && echo "sip_cafile		$run/ca.pem" >>"$run/$1/config"
	echo "<sip:$1@10.77.0.2$param>;auth_pass=secret-$1;answermode=auto;regint=600" >"$run/$1/accounts"
	timeout 60 baresip -f "$run/$1" >"$run/$1.log" 2>&1 &
	disown # killed at the end: no job report
}
say() { printf '%s\n' "$2" >"/dev/udp/127.0.0.1/$1"; }
logged() { grep -q "$2" "$run/$1.log"; }

phone bob 5080 5552 660 "$btp"
phone alice 5070 5551 440 "$atp"
check "bob registers (200 OK from sipfp)" eventually_long logged bob "bob@10.77.0.2: .*200 OK"
check "alice registers (200 OK from sipfp)" eventually_long logged alice "alice@10.77.0.2: .*200 OK"
check "both listed by sipfpctl reg list" \
	sh -c "'$ctl' reg list | grep -q '^bob ' && '$ctl' reg list | grep -q '^alice '"
[ "$atp$btp" != udpudp ] && check "conn list: the phones' connections, with their users" \
	sh -c "'$ctl' conn list; for p in alice:$atp bob:$btp; do case \$p in *:udp) continue ;; esac;
	       '$ctl' conn list | grep -E \" \${p#*:} .* \${p%:*} *\$\" >/dev/null || exit 1; done"

say 5551 "/dial sip:bob@10.77.0.2"
check "alice: call established" eventually_long logged alice "Call established: sip:bob@10.77.0.2"
check "bob: call established (auto answer)" eventually_long logged bob "Call established: sip:alice@10.77.0.2"
check "bob receives alice's audio" eventually_long logged bob "incoming rtp for 'audio' established"
check "the dialog is listed" sh -c "'$ctl' dialog list | grep -q confirmed"
[ "${SIPFP_MODE:-}" = b2bua ] && check "b2bua: two dialogs, two Call-IDs (the control process's log)" \
	grep -q "b2bua: call alice -> bob answered; A-leg .*, B-leg [0-9a-f]*@10.77.0.2" "$run/launch.log"
sleep 7 # long enough for RTCP reports (every 5 s) both ways
say 5551 "/hangup"
check "bob sees the hang-up" eventually_long logged bob "sip:alice@10.77.0.2: session closed"
check "no dialog left" eventually_long sh -c "[ \$('$ctl' dialog list | grep -c confirmed) = 0 ]"
check "nothing refused on the way (auth failures 0)" test "$(stat auth_fail)" = 0
check "the media was anchored: bob heard alice from 10.77.0.2:20002" logged bob "receiving from 10.77.0.2:20002"
check "... and alice heard bob from 10.77.0.2:20000" logged alice "receiving from 10.77.0.2:20000"
# what each phone recorded (sndfile: *-dec.wav is what it heard)
tone_in() { python3 "$top/tests/integration/tone.py" "$(ls "$run/$1"/dump-*-dec.wav | head -1)"; }
hz_ok() { awk -v f="$1" -v want="$2" 'BEGIN { exit !(f > want * 0.98 && f < want * 1.02) }'; }
b=$(tone_in bob); a=$(tone_in alice)
check "bob's recording holds alice's 440 Hz tone ($b)" hz_ok "$(echo "$b" | sed 's/freq=\([0-9.]*\).*/\1/')" 440
check "alice's recording holds bob's 660 Hz tone ($a)" hz_ok "$(echo "$a" | sed 's/freq=\([0-9.]*\).*/\1/')" 660
# rtcpsummary's line at the call's end: PL=lost here,lost there (RFC 3550 RTCP)
for f in alice bob; do
	check "$f: rtcpsummary reports no loss either way ($(tr '\r' '\n' <"$run/$f.log" | grep -o 'PR=[0-9]*;PS=[0-9]*;PL=[0-9,]*' | head -1))" \
		sh -c "tr '\r' '\n' <'$run/$f.log' | grep -q 'EX=BareSip;.*PL=0,0;.*IP=.*,10.77.0.2:2000[02];'"
done

pkill -TERM -f "baresip -f $run/" 2>/dev/null
stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" grep -q "mbufs in use at exit: 0" "$run/launch.log"
if [ "$fail" != 0 ]; then
	for f in alice bob; do echo "# ---- $f"; tr '\r' '\n' <"$run/$f.log" | grep -v "audio=" | tail -20 | sed 's/^/#   /'; done
fi
finish
