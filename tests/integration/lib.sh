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
