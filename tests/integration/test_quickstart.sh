#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The README cannot rot: every ```sh block of its "Quick start" section is
# run verbatim, the first (./sipfp.sh run) in the background as the first
# shell, the others in order as the second shell, with sipfp on its
# embedded defaults (TAP sipfp0, prefix sipfp, /var/lib/sipfp/sipfp.db,
# /run/sipfp).  What the quick start leaves on the machine is put back:
# an existing store is moved aside and restored, a new one removed.
# Needs root.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-quickstart.XXXXXX)
. "$top/tests/integration/lib.sh"
export SIPFP_SOCKET=/run/sipfp/sipfpctl.sock
db=/var/lib/sipfp/sipfp.db

# the blocks, one file each: qs.1, qs.2, ...
awk -v out="$run/qs" '
	/<!-- quickstart/ { on = 1; next }
	/<!-- \/quickstart -->/ { on = 0 }
	on && /^```sh$/ { n++; blk = 1; next }
	blk && /^```$/ { blk = 0; next }
	blk { print > (out "." n) }
' "$top/README.md"
nblk=$(ls "$run"/qs.* 2>/dev/null | wc -l)
check "README quick start has its blocks ($nblk)" test "$nblk" -ge 2
check "the first block is the run command" grep -qx './sipfp.sh run' "$run/qs.1"

if [ -e /sys/class/net/sipfp0 ] || pgrep -f "file-prefix sipfp " >/dev/null; then
	ko "sipfp is already running on the defaults here: not touching it"
	finish; exit 1
fi
saved=""
for f in "$db" "$db-wal" "$db-shm"; do
	[ -e "$f" ] && mv "$f" "$run/$(basename "$f").saved" && saved="$saved $f"
done
had_rundir=0; [ -d /run/sipfp ] && had_rundir=1
had_dbdir=0; [ -d "$(dirname "$db")" ] && had_dbdir=1
qs_pid=""
cleanup() {
	if [ -n "$qs_pid" ]; then
		kill -TERM -- "-$qs_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 -- "-$qs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$qs_pid" 2>/dev/null
	fi
	pkill -KILL -f "file-prefix sipfp " 2>/dev/null
	ip link del sipfp0 2>/dev/null
	rm -f "$db" "$db-wal" "$db-shm"
	for f in $saved; do mv "$run/$(basename "$f").saved" "$f"; done
	[ $had_rundir = 1 ] || rm -rf /run/sipfp
	[ $had_dbdir = 1 ] || rmdir "$(dirname "$db")" 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT

# shell one: the first block, in a process group of its own
(cd "$top" && exec setsid bash -e "$run/qs.1") >"$run/run.log" 2>&1 &
qs_pid=$!
for _ in $(seq 300); do
	[ -S "$SIPFP_SOCKET" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break
	kill -0 "$qs_pid" 2>/dev/null || break
	sleep 0.2
done
check "./sipfp.sh run: sipfp up on its defaults" test "$(stat control_attached 2>/dev/null)" = 1 \
	|| { tail -20 "$run/run.log"; }

# shell two: the other blocks, verbatim, each stopping at its first failure
for i in $(seq 2 "$nblk"); do
	if (cd "$top" && bash -e "$run/qs.$i") >"$run/out.$i" 2>&1; then
		ok "quick start block $i ran verbatim ($(grep -c . "$run/qs.$i") lines)"
	else
		ko "quick start block $i"; sed 's/^/#   /' "$run/qs.$i"; tail -30 "$run/out.$i" | sed 's/^/#   /'
	fi
done
check "SIPp reached 100 Trying: the call was authenticated and handed on" \
	test "$(stat auth_ok)" -ge 1 -a "$(stat trying_100)" -ge 1 -a "$(stat ack_absorbed)" -ge 1
check "nothing was refused on the way (auth_fail 0, no 400)" \
	test "$(stat auth_fail)" = 0 -a "$(stat reply_400)" = 0
finish
