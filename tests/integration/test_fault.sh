#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Faults on a TAP port, under the real EAL:
#  - the ring to the control process held full (the control process
#    stopped with SIGSTOP): out-of-dialog requests get 503 once only the
#    reserved part of the ring is left, in-dialog requests still get in, and
#    every request that got in is answered once the control process runs
#    again;
#  - the mempool exhausted on purpose (tests/fault/mbuf_hog, a secondary
#    process taking every free buffer): the data plane counts what it
#    cannot receive or send, answers what it can, and the in-use count comes
#    back to its baseline when the buffers return.
# Needs root; cleans up everything it starts.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
hog=$build/tests/mbuf_hog
run=$(mktemp -d /tmp/sipfp-fault.XXXXXX)
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"
edge="$top/tests/integration/edgeclient.py"
dev=sipfpflt0
prefix=sipfpflt

launcher_pid="" hog_pid=""
cleanup() {
	pkill -CONT -f "sipfp-control.*file-prefix $prefix" 2>/dev/null
	[ -n "$hog_pid" ] && kill -TERM "$hog_pid" 2>/dev/null && sleep 0.5
	teardown $prefix $dev
}
trap cleanup EXIT

# field=value from the last client output
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$run/last.txt"; }

# a small ring, so that filling it takes a few hundred messages; a long
# heartbeat timeout, so that the stopped control process still counts as
# attached (stopped, not gone: the case where only the ring protects us);
# no per-source limits (one source plays every caller, and one source's
# incomplete datagrams drain the pool below: no fragment quota either)
"$top/scripts/sipfp-launch" --rundir "$run" --file-prefix $prefix --iface $dev \
	--set db_path="$run/db.sqlite" --set ctl_socket="$run/ctl.sock" \
	--set ring_size=256 --set ood_ring_reserve=25 \
	--set ctl_timeout_ms=30000 --set src_rate=0 --set ood_rate=0 --set frag_timeout_ms=5000 \
	--set frag_per_source=0 \
	>"$run/launch.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 150); do
	[ -S "$run/ctl.sock" ] && [ "$(stat control_attached 2>/dev/null)" = 1 ] && break
	sleep 0.2
done
if [ "$(stat control_attached 2>/dev/null)" != 1 ]; then
	ko "sipfp started"; cat "$run/launch.log"; finish; exit 1
fi
ok "sipfp started (TAP $dev)"
ip address add 10.77.0.51/24 dev $dev
ip address add 10.77.0.52/24 dev $dev
check "user add alice" sh -c "echo wonderland | '$ctl' user add alice"
mbuf0=$(stat mbuf_in_use)

# ---- the ring to the control process held full: in-dialog priority ----
ctl_pid=$(pgrep -f "sipfp-control.*file-prefix $prefix" | head -1)
o0=$(stat overload_ood_503) i0=$(stat handoff_in_dialog) f0=$(stat drop_sip_ring_full)
kill -STOP "$ctl_pid"
"$edge" overload 10.77.0.51 alice wonderland 300 150 "$ctl_pid" >"$run/last.txt"
echo "# overload: $(cat "$run/last.txt")"
ood_in=$(field ood_trying) ood_503=$(field ood_503)
ind_503=$(field ind_503) ind_in=$(( $(stat handoff_in_dialog) - i0 ))
echo "# ring 256, 25 % reserved: out-of-dialog accepted $ood_in, refused $ood_503;" \
     "in-dialog accepted $ind_in after that, refused $ind_503 (ring full)"
check "control stopped: authenticated INVITEs queued until the reserve (100 Trying: $ood_in)" \
	test "$ood_in" -gt 0
check "then refused with 503 (Retry-After) to keep the reserve: $ood_503" test "$ood_503" -gt 0
check "every INVITE got 100 or 503 ($ood_in + $ood_503 = 300)" test $((ood_in + ood_503)) = 300
check "overload_ood_503 counts them" test $(( $(stat overload_ood_503) - o0 )) = "$ood_503"
check "in-dialog BYEs still got into the ring while INVITEs were refused ($ind_in)" \
	test "$ind_in" -gt 0
check "in-dialog requests beyond a full ring got 503 ($ind_503; every BYE accounted)" \
	test $((ind_in + ind_503)) = 150
check "drop_sip_ring_full stays 0 (every refused request was answered)" \
	test "$(stat drop_sip_ring_full)" = "$f0"
check "control resumed: every queued INVITE answered (404, callee unknown: $(field after_404))" \
	test "$(field after_404)" = "$ood_in"
check "control resumed: every queued BYE answered (481: $(field after_481))" \
	test "$(field after_481)" = "$ind_in"
check "ring to control drained" eventually test "$(stat ring_to_control)" = 0
check "control attached throughout" test "$(stat control_attached)" = 1

# ---- the mempool exhausted on purpose ----
check "mbufs back to the baseline after the overload ($mbuf0)" \
	eventually test "$(stat mbuf_in_use)" = "$mbuf0"
total=$(stat mbuf_total)
"$hog" --proc-type=secondary --file-prefix $prefix --lcores 3@0 --no-pci \
	--log-level=lib.eal:error >"$run/hog.txt" 2>&1 &
hog_pid=$!
for _ in $(seq 50); do grep -q '^held' "$run/hog.txt" && break; sleep 0.2; done
check "mbuf_hog holds the pool's free buffers ($(head -1 "$run/hog.txt"))" grep -q '^held' "$run/hog.txt"
sleep 0.2
held=$(stat mbuf_in_use)
echo "# in use: $mbuf0 before, $held of $total with the pool held (the rest: the lcores' caches)"
check "mempool nearly exhausted (in use $held of $total)" test $((total - held)) -lt 1200
n0=$(stat port_rx_nombuf) d0=$(stat drop_no_mbuf) t0=$(stat drop_frag_timeout)
# incomplete datagrams hold a buffer each until the reassembly timeout
# (5 s here): they drain the worker's own cache until the port has nothing
# left to receive into.  Sent in small batches, stopping at the first
# failure, so that little waits in the kernel's queue behind it.
for i in $(seq 100); do
	"$edge" frags 10.77.0.52 10 $((i * 10)) >/dev/null
	sleep 0.03
	[ "$(stat port_rx_nombuf)" -gt "$n0" ] && break
done
kept=$(stat frag_received)
"$edge" options 10.77.0.52 5 >"$run/last.txt"
nombuf=$(( $(stat port_rx_nombuf) - n0 )) nomreply=$(( $(stat drop_no_mbuf) - d0 ))
echo "# exhausted: $kept fragments held, port_rx_nombuf +$nombuf, drop_no_mbuf +$nomreply," \
     "OPTIONS answered $(field answered) of 5"
check "exhaustion counted: the port had no buffer to receive into (port_rx_nombuf +$nombuf)" \
	test "$nombuf" -gt 0
check "nothing answered without buffers ($(field answered) of 5), nothing crashed" \
	test "$(field answered)" = 0 -a "$(stat control_attached)" = 1
# the reassembly sweep gives the fragments' buffers back to the worker,
# which answers again on those while the hog still holds all the rest
check "pool still held: answering resumes on the worker's own buffers after the sweep" \
	eventually_long sh -c "'$edge' options 10.77.0.52 5 | grep -q answered=5"
check "the held fragments were swept (drop_frag_timeout +$(( $(stat drop_frag_timeout) - t0 )))" \
	test "$(stat drop_frag_timeout)" -gt "$t0"
check "the pool is still held meanwhile (in use $(stat mbuf_in_use) of $total)" \
	test $((total - $(stat mbuf_in_use))) -lt 1200
kill -TERM "$hog_pid"
wait "$hog_pid"
hog_pid=""
check "mbuf_hog gave every buffer back ($(tail -1 "$run/hog.txt"))" grep -q '^released' "$run/hog.txt"
# (fragments that were still queued in the kernel are held until their
# own reassembly timeout)
check "mbuf_in_use back to the baseline ($mbuf0)" \
	eventually_long sh -c "[ \$('$ctl' stats | awk '\$1 == \"mbuf_in_use\" {print \$2}') = $mbuf0 ]"
"$edge" options 10.77.0.52 5 >"$run/last.txt"
check "OPTIONS answered after the buffers returned" test "$(field answered)" = 5
check "authenticated REGISTER reaches the control process" "$edge" register 10.77.0.52 alice wonderland

stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" grep -q "mbufs in use at exit: 0" "$run/launch.log"
finish
