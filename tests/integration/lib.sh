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
	[ -n "${KEEP:-}" ] || rm -rf "$run"
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
