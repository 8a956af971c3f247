#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# sipfp on a PostgreSQL store (store = postgresql): a PostgreSQL server of
# the test's own (Debian's postgresql package: its own data directory,
# socket and port, torn down at the end), sipfp started on it in b2bua
# mode.  The schema is created by sipfp (versioned), users, bindings and
# b2bua calls are rows there, a call goes through, the control process
# SIGKILLed mid-call restores the call from PostgreSQL and the BYE
# reaches the callee, and a whole new sipfp started on the same database
# finds the users and registrations again.  Then three nodes (each its
# own DPDK file prefix, TAP port and address) on the same database: a
# user added on node 1 authenticates on node 3, a phone registered
# through node 1 is called through node 2, a password changed on node 2
# holds on node 1, bans (manual on node 1, brute force on node 2) reach
# the other nodes' fast paths within a second (LISTEN/NOTIFY), node 1
# SIGKILLed: its registrations reported unreachable, 480, its phone
# registers through node 3 and is called again.  Needs root; cleans up.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SIPFP_BUILD:-$top/build}
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-pgt.XXXXXX)
iface=sipfppg0
export SIPFP_SOCKET=$run/ctl.sock
. "$top/tests/integration/lib.sh"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL server missing (apt-get install postgresql)"; exit 1; }
pgdir=$(mktemp -d /tmp/sipfp-pgdb.XXXXXX)
pgport=55432
launcher_pid="" bg=() node2="" node3="" fwd0=""
cleanup() {
	[ -n "$fwd0" ] && echo "$fwd0" >/proc/sys/net/ipv4/ip_forward
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
	for n in "$node2" "$node3"; do [ -n "$n" ] && { stop_launcher "$n"; kill -KILL "$n" 2>/dev/null; }; done
	pkill -KILL -f "file-prefix sipfppg[23]" 2>/dev/null
	ip link del sipfppg1 2>/dev/null
	ip link del sipfppg2 2>/dev/null
	teardown sipfppg "$iface"
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$pgdir"
}
trap cleanup EXIT

chmod 755 "$pgdir"
chown postgres: "$pgdir"
runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >"$pgdir/initdb.log" 2>&1 &&
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
		-o "-k $pgdir -p $pgport -c listen_addresses=''" start >/dev/null 2>&1 &&
	runuser -u postgres -- "$pgbin/createdb" -h "$pgdir" -p $pgport sipfp ||
	{ ko "PostgreSQL started"; cat "$pgdir"/*.log; finish; exit 1; }
ok "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') started (its own data directory, socket $pgdir, port $pgport)"
conninfo="host=$pgdir port=$pgport dbname=sipfp user=postgres"
sql() { psql "$conninfo" -Atc "$1" 2>&1; }

start_sipfp sipfppg "$iface" --set store=postgresql --set "pg_conninfo=$conninfo" --set mode=b2bua \
	--set t1_ms=100 || { ko "sipfp started"; cat "$run/launch.log"; finish; exit 1; }
ok "sipfp started on the PostgreSQL store"
check "the control process says so" grep -q "store: PostgreSQL" "$run/launch.log"
check "sipfp made the schema itself: version 3" test "$(sql 'SELECT version FROM sipfp_schema')" = 3
for u in 1000 1002; do echo "${u}pw" | "$ctl" user add $u >/dev/null; done
check "users are rows in PostgreSQL" test "$(sql 'SELECT count(*) FROM users')" = 2
check "callee 1000 registers" register 1000 1000pw 5072 300
check "its binding is a row in PostgreSQL" test "$(sql "SELECT count(*) FROM bindings WHERE aor = '1000'")" = 1
callee uas_answer
check "a call through: INVITE -> 407 -> ... -> 200 -> ACK -> BYE -> 200" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the callee answered and got the BYE"

# ---- PostgreSQL stopped for 20 s under registration load ---------------------------
# the users first (u100..u399, password pwN), then the database goes away:
# REGISTERs are answered from memory and journaled, calls go on, and when
# it is back the journal drains in order: no registration answered 200 lost
python3 - >"$run/u.htdigest" <<'PY'
import hashlib
for i in range(100, 400):
    print(f"u{i}:sipfp:{hashlib.md5(f'u{i}:sipfp:pw{i}'.encode()).hexdigest()}")
PY
check "300 users imported" sh -c "'$ctl' user import '$run/u.htdigest' | grep -q 300"
# one load generator for 300 phones: the per-source limits off meanwhile
check "per-source limits off for the load" sh -c "'$ctl' limit set ood_rate 0 && '$ctl' limit set src_rate 0"
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1
t_down=$(date +%s)
ok "PostgreSQL stopped"
python3 "$top/bench/regload.py" --users 300 --first 100 --secs 15 >"$run/regload.txt" 2>&1
check "300 REGISTERs with digest while the database is away: all answered 200 ($(cat "$run/regload.txt"))" \
	grep -q "done=300 failed=0" "$run/regload.txt"
check "... their writes journaled (reg_journaled $(stat reg_journaled)), the outage logged" \
	sh -c "[ $(stat reg_journaled) = 300 ] && grep -q 'store unreachable' '$run/launch.log'"
callee uas_answer
check "a call during the outage: known users and registrations in memory" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the callee answered"
sleep $(( 20 - ($(date +%s) - t_down) > 0 ? 20 - ($(date +%s) - t_down) : 0 ))
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
	-o "-k $pgdir -p $pgport -c listen_addresses=''" start >/dev/null 2>&1
ok "PostgreSQL started again after $(( $(date +%s) - t_down )) s"
drained() { grep -q "store back: 300 journaled REGISTER write(s) replayed" "$run/launch.log"; }
check "the journal drained in order when it came back" eventually_long drained
check "every registration answered 200 is in the database (300 of u100..u399)" \
	test "$(sql "SELECT count(*) FROM bindings WHERE aor LIKE 'u%'")" = 300
check "per-source limits back to the configuration" "$ctl" limit reset

# a call up while the control process is SIGKILLed: restored from PostgreSQL
callee uas_answer
sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 4000 >"$run/caller_k.out" 2>&1 &
caller=$!; bg+=("$caller")
for _ in $(seq 50); do [ "$(sql 'SELECT count(*) FROM b2b_calls')" = 1 ] && break; sleep 0.1; done
check "the call up is a row of b2b_calls" test "$(sql 'SELECT count(*) FROM b2b_calls')" = 1
pkill -KILL -f "sipfp-control .*file-prefix sipfppg( |$)"
sleep 0.3
for _ in $(seq 50); do [ "$(stat control_attached 2>/dev/null)" = 1 ] && break; sleep 0.2; done
check "control restarted: the call restored from PostgreSQL (b2b_restored $(stat b2b_restored))" \
	test "$(stat b2b_restored)" = 1
if wait "$caller"; then ok "the caller hung up after the restart: its BYE answered"; else ko "caller"; sed 's/^/#   /' "$run/caller_k.out"; fi
callee_done "the BYE reached the callee"
no_call_rows() { [ "$(sql 'SELECT count(*) FROM b2b_calls')" = 0 ]; }
check "no call row left" eventually no_call_rows

# a whole new sipfp (both processes) on the same database
stop_launcher "$launcher_pid"
launcher_pid=""
rm -f "$run/ctl.sock"
start_sipfp sipfppg "$iface" --set store=postgresql --set "pg_conninfo=$conninfo" --set mode=b2bua \
	--set t1_ms=100 --set peers=10.79.0.2,10.80.0.2 --set gateway=10.77.0.1 ||
	{ ko "sipfp started again"; cat "$run/launch.log"; finish; exit 1; }
check "started again: the schema not migrated twice (version 3, one row)" \
	test "$(sql 'SELECT count(*), max(version) FROM sipfp_schema')" = "1|3"
check "the registration found again" sh -c "'$ctl' reg list | grep -q '^1000 '"
callee uas_answer
check "and the users: a call authenticates and goes through" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the callee answered"
# ---- three nodes on the same database -----------------------------------------------
# nodes 2 and 3 each on a TAP port of their own (10.79.0.2, 10.80.0.2),
# clients on this host's side of each (10.79.0.1, 10.80.0.1); the nodes
# reach each other through this host (each its gateway)
fwd0=$(cat /proc/sys/net/ipv4/ip_forward)
echo 1 >/proc/sys/net/ipv4/ip_forward
start_node() { # N SUBNET_OCTET PEERS: lcore ids 10N.. of its own on this machine's two CPUs
	mkdir -p "$run/n$1"
	"$top/scripts/sipfp-launch" --rundir "$run/n$1" --file-prefix "sipfppg$1" --iface "sipfppg$(($1 - 1))" \
		--lcores "$((10 * $1))@0,$((10 * $1 + 1))@1" --ctl-lcores "$((10 * $1 + 2))@0" \
		--host-addr "10.$2.0.1/24" --set "addr=10.$2.0.2" --set store=postgresql --set "pg_conninfo=$conninfo" \
		--set mode=b2bua --set ctl_socket="$run/n$1/ctl.sock" --set "peers=$3" --set "gateway=10.$2.0.1" \
		>"$run/n$1/launch.log" 2>&1 &
}
nn() { local n=$1; shift; SIPFP_SOCKET="$run/n$n/ctl.sock" "$ctl" "$@"; }
up() { [ -S "$run/n$1/ctl.sock" ] && [ "$(nn "$1" stats 2>/dev/null | awk '$1 == "control_attached" {print $2}')" = 1 ]; }
start_node 2 79 10.77.0.2,10.80.0.2
node2=$!
start_node 3 80 10.77.0.2,10.79.0.2
node3=$!
for _ in $(seq 150); do up 2 && up 3 && break; sleep 0.2; done
check "nodes 2 and 3 started on the same database (10.79.0.2, 10.80.0.2, a TAP port each)" sh -c "true" && up 2 && up 3 ||
	ko "nodes 2 and 3 attached"
sleep 1.2 # a heartbeat each
"$ctl" node list >"$run/nodes.txt"
sed 's/^/# /' "$run/nodes.txt"
check "node list: three nodes alive, node 1 holding its 301 registrations" \
	sh -c "grep -Eq '^10.77.0.2:5060 +alive .* 301 *\$' '$run/nodes.txt' && grep -Eq '^10.79.0.2:5060 +alive' '$run/nodes.txt' &&
	       grep -Eq '^10.80.0.2:5060 +alive' '$run/nodes.txt'"
# a SIPp client on this host's side of node N
n_sipp() { # N PORT SCENARIO [SIPp options]
	local n=$1 port=$2 sc=$3 o; shift 3
	o=$((n == 2 ? 79 : 80))
	(cd "$run" && timeout 30 sipp -sf "$top/tests/sipp/$sc.xml" "10.$o.0.2:5060" -i "10.$o.0.1" -p "$port" -m 1 \
		-timeout 20s -timeout_error -trace_err -nostdin "$@" >/dev/null 2>&1) ||
		{ cat "$run"/"${sc}"_*_errors.log 2>/dev/null | head -20; return 1; }
}
echo 1003pw | "$ctl" user add 1003 >/dev/null
t0=$(date +%s%N)
for _ in $(seq 10); do grep -q "news from another node: user 1003 set" "$run/n3/launch.log" && break; sleep 0.1; done
check "a user added on node 1 reaches node 3's data plane within a second ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" \
	grep -q "news from another node: user 1003 set" "$run/n3/launch.log"
check "... and authenticates on node 3's fast path (INVITE with credentials -> 100, 480)" \
	n_sipp 3 5091 uac_auth -s 1003 -key user 1003 -au 1003 -ap 1003pw
# a phone registered through node 1, called through node 2: node 2 (the
# caller's b2bua) sends the INVITE to node 1, which holds the phone's
# registration and NAT binding; the BYE follows the route back
callee uas_answer
check "1000 (registered through node 1) called through node 2: the whole ladder, BYE included" \
	n_sipp 2 5081 uac_call -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the phone got the INVITE from node 1 (its NAT binding), then the BYE"
check "node 1 took it from its peer without a challenge" grep -q "INVITE from node 10.79.0.2 -> 1000" "$run/launch.log"
echo 1002new | nn 2 user add 1002 >/dev/null
sleep 1
callee uas_answer
check "a password changed on node 2 holds on node 1: a call with the new one goes through" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002new -d 300
callee_done "the callee answered"
"$ctl" ban add 10.79.0.66 600 >/dev/null
t0=$(date +%s%N)
for _ in $(seq 10); do nn 3 ban list | grep -q '^10.79.0.66' && break; sleep 0.1; done
check "a ban placed on node 1 is on node 3's fast path within a second ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" \
	sh -c "SIPFP_SOCKET='$run/n3/ctl.sock' '$ctl' ban list | grep -q '^10.79.0.66'"
"$ctl" ban del 10.79.0.66 >/dev/null
for _ in $(seq 10); do nn 3 ban list | grep -q '^10.79.0.66' || break; sleep 0.1; done
check "... and lifted there too" sh -c "! SIPFP_SOCKET='$run/n3/ctl.sock' '$ctl' ban list | grep -q '^10.79.0.66'"
# brute force on node 2 from 10.79.0.1: the automatic ban is stored, and
# nodes 1 and 3 drop that source too
check "limit bf_max_fails 3 (set on node 1, for every node)" "$ctl" limit set bf_max_fails 3
sleep 0.5
for _ in 1 2 3 4; do n_sipp 2 5081 uac_auth_403 -s 1000 -key user 1002 -au 1002 -ap wrong >/dev/null; done
t0=$(date +%s%N)
for _ in $(seq 20); do nn 2 ban list | grep -q '^10.79.0.1 .*failed-auth' && break; sleep 0.05; done
check "node 2 banned 10.79.0.1 for failed authentications" \
	sh -c "SIPFP_SOCKET='$run/n2/ctl.sock' '$ctl' ban list | grep -q '^10.79.0.1 .*failed-auth'"
banned_13() { "$ctl" ban list | grep -q '^10.79.0.1 .*failed-auth' && nn 3 ban list | grep -q '^10.79.0.1 .*failed-auth'; }
for _ in $(seq 20); do banned_13 && break; sleep 0.05; done
check "nodes 1 and 3 banned it too within a second ($(( ($(date +%s%N) - t0) / 1000000 )) ms after node 2)" banned_13
# node 1 dies: its registrations are unreachable (480 on node 3, node list
# says so); the phone registers again through node 3 and is called there
{ kill -KILL "$launcher_pid"; wait "$launcher_pid"; } 2>/dev/null
pkill -KILL -f "file-prefix sipfppg( |$)"
launcher_pid=""
node1_gone() { nn 3 node list | grep -q '^10.77.0.2:5060 *gone'; }
check "node 1 SIGKILLed: node 3's node list says it is gone (its registrations unreachable)" eventually_long node1_gone
check "a call to 1000 through node 3 now: 480" n_sipp 3 5091 uac_auth -s 1000 -key user 1002 -au 1002 -ap 1002new
check "... and node 3 says why" grep -q "1000: registered through node 10.77.0.2:5060, gone" "$run/n3/launch.log"
check "1000 registers again, through node 3" \
	n_sipp 3 5093 reg_contact -key user 1000 -au 1000 -ap 1000pw -key contact_port 5092 -key expires 300
(cd "$run" && timeout 30 sipp -sf "$top/tests/sipp/uas_answer.xml" -i 10.80.0.1 -p 5092 -m 1 -timeout 20s -nostdin \
	>/dev/null 2>&1) &
uas2=$!; bg+=("$uas2")
sleep 0.5
check "and is called through node 3 again" n_sipp 3 5091 uac_call -s 1000 -key user 1002 -au 1002 -ap 1002new -d 300
if wait "$uas2"; then ok "the phone answered on its new registration"; else ko "the phone on its new registration"; fi
for n in 2 3; do
	stop_launcher "$(eval echo \$node$n)"
	check "node $n's data plane exit: mbufs in use at exit: 0" \
		sh -c "grep 'mbufs in use at exit' '$run/n$n/launch.log' | tail -1 | grep -q ': 0$'"
done
node2="" node3=""
finish
