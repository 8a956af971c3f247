# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the integration tests: TAP-style results and the counters.
# The sourcing script sets $run (its scratch folder) and, for stat, $ctl.
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
ko() { echo "not ok - $*"; fail=$((fail + 1)); }
# check NAME CMD...: ok when CMD succeeds, else its output indented
check() {
	local name=$1; shift
	if "$@" >"$run/last.out" 2>&1; then ok "$name"; else ko "$name"; sed 's/^/#   /' "$run/last.out" | head -20; fi
}
# one counter of `sipfpctl stats`
stat() { "$ctl" stats | awk -v k="$1" '$1 == k {print $2}'; }
# the last line, and the exit status
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
# eventually CMD...: CMD succeeds within 2 s (for changes the data plane
# applies asynchronously, from its ring)
eventually() { for _ in $(seq 20); do "$@" && return 0; sleep 0.1; done; "$@"; }
# eventually_long CMD...: within 10 s (what waits on a timer of seconds)
eventually_long() { for _ in $(seq 20); do "$@" && return 0; sleep 0.5; done; "$@"; }
# stop_dp PID LOG: SIGTERM the data plane, check it stopped and gave every
# mbuf back ("mbufs in use at exit: 0" in its log)
stop_dp() {
	kill -TERM "$1"
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && ko "data plane stops on SIGTERM" || ok "data plane stops on SIGTERM"
	grep -q "mbufs in use at exit: 0$" "$2" && ok "no mbuf leaked (in use at exit: 0)" \
		|| { ko "mbuf leak"; grep "mbufs in use" "$2"; }
}
# stop_launcher PID: SIGTERM sipfp-launch and wait (10 s) for it to stop both processes
stop_launcher() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}
# teardown PREFIX IFACE: what a test that ran sipfp-launch leaves behind:
# the launcher (its pid in $launcher_pid, if still set) and both processes,
# the test's clients, the TAP interface, the scratch folder (unless KEEP)
teardown() {
	if [ -n "${launcher_pid:-}" ]; then
		stop_launcher "$launcher_pid"
		kill -KILL "$launcher_pid" 2>/dev/null
	fi
	pkill -KILL -f "file-prefix $1" 2>/dev/null
	pkill -KILL -f "edgeclient.py" 2>/dev/null
	ip link del "$2" 2>/dev/null
	# the exception path's namespace (SIP over TCP/TLS) of a killed data plane
	ip netns del "sipfp-$1" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
# test_certs DIR: TLS for the stream tests, ECDSA P-256, in DIR: a CA of the
# test's own (ca.pem, ca.key) and sipfp's certificate for 10.77.0.2 from it
# (srv.pem, srv.key); openssl's output on stdout/stderr
test_certs() {
	(cd "$1" &&
	 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=sipfp test CA" -keyout ca.key -out ca.pem &&
	 openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=10.77.0.2" \
		-keyout srv.key -out srv.csr &&
	 printf 'subjectAltName=IP:10.77.0.2\n' >srv.ext &&
	 openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile srv.ext \
		-out srv.pem)
}

# start_sipfp PREFIX IFACE [sipfp-launch options]: the launcher in the
# background ($launcher_pid, its output in $run/launch.log), its store and
# socket in $run; true once the control process is attached (30 s).  The
# sourcing script sets $top too.
start_sipfp() {
	local prefix=$1 iface=$2
	shift 2
	"$top/scripts/sipfp-launch" --rundir "$run" --file-prefix "$prefix" --iface "$iface" \
		--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" "$@" >"$run/launch.log" 2>&1 &
	launcher_pid=$!
	for _ in $(seq 150); do
		[ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

# ---- SIPp, for the call tests (test_call.sh, test_b2bua.sh) ---------------------
# sipp_cmd PORT SCENARIO [SIPp options]: one SIPp run from 10.77.0.1:PORT,
# its errors to stdout; a scenario made in $run takes the place of
# tests/sipp/'s.  $sipp_secs bounds it (30 unless set).
sipp_cmd() {
	local port=$1 sc=$2; shift 2
	local f=$top/tests/sipp/$sc.xml secs=${sipp_secs:-30}
	[ -f "$run/$sc.xml" ] && f=$run/$sc.xml
	(cd "$run" && timeout "$secs" sipp -sf "$f" -i 10.77.0.1 -p "$port" -m 1 \
		-timeout $((secs * 2 / 3))s -timeout_error -trace_err -nostdin "$@" >/dev/null 2>&1)
	local rc=$?
	[ $rc = 0 ] || cat "$run"/"${sc}"_*_errors.log 2>/dev/null | head -30
	return $rc
}
# callee [-p PORT] SCENARIO [SIPp options]: a callee SIPp in the
# background, ready for a call, on 5072 unless told (its pid in $bg too)
declare -A uas_pids
callee() {
	local port=5072
	[ "$1" = -p ] && { port=$2; shift 2; }
	sipp_cmd "$port" "$@" >"$run/callee$port.out" 2>&1 &
	uas_pids[$port]=$!; bg+=("$!")
	sleep 0.5
}
# callee_done NAME [PORT]: ok NAME when the callee's scenario ran to its end
callee_done() {
	local port=${2:-5072}
	if wait "${uas_pids[$port]}"; then ok "$1"; else ko "$1"; sed 's/^/#   /' "$run/callee$port.out" | head -30; fi
}
# reject STATUS REASON: uas_reject.xml for one final status (SIPp takes no
# keyword in a status line); prints the scenario's name
reject() {
	sed "s/\[status\] \[reason\]/$1 $2/" "$top/tests/sipp/uas_reject.xml" >"$run/uas_reject_$1.xml"
	echo "uas_reject_$1"
}
# register USER PASSWORD CONTACT_PORT EXPIRES: REGISTER with digest from 5073
register() {
	sipp_cmd 5073 reg_contact 10.77.0.2:5060 -key user "$1" -au "$1" -ap "$2" \
		-key contact_port "$3" -key expires "$4"
}

# check_ladder PCAP CALLER_NAME CALLEE_NAME: the reference call's messages
# in PCAP, one line each (source port > destination port, what), leg by
# leg (caller 5071 <-> sipfp 5060, sipfp 5060 <-> callee 5072) against
# the reference ladder (tests/reference/call-flow.md)
check_ladder() {
	tshark -r "$1" -Y 'sip' -T fields -e udp.srcport -e udp.dstport -e sip.Method \
		-e sip.Status-Code -e sip.CSeq.method 2>/dev/null |
		awk -F'\t' '{ what = $3 != "" ? $3 : $4 " (" $5 ")"; print $1 ">" $2 " " what }' >"$run/ladder.txt"
	cat >"$run/want-caller.txt" <<'W'
5071>5060 INVITE
5060>5071 407 (INVITE)
5071>5060 ACK
5071>5060 INVITE
5060>5071 100 (INVITE)
5060>5071 180 (INVITE)
5060>5071 200 (INVITE)
5071>5060 ACK
5071>5060 BYE
5060>5071 200 (BYE)
W
	cat >"$run/want-callee.txt" <<'W'
5060>5072 INVITE
5072>5060 100 (INVITE)
5072>5060 180 (INVITE)
5072>5060 200 (INVITE)
5060>5072 ACK
5060>5072 BYE
5072>5060 200 (BYE)
W
	grep -E '^(5071>5060|5060>5071) ' "$run/ladder.txt" | uniq >"$run/got-caller.txt"
	grep -E '^(5072>5060|5060>5072) ' "$run/ladder.txt" | uniq >"$run/got-callee.txt"
	check "$2" diff "$run/want-caller.txt" "$run/got-caller.txt"
	check "$3" diff "$run/want-callee.txt" "$run/got-callee.txt"
}
