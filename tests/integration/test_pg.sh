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
# finds the users and registrations again.  Needs root; cleans up.
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
launcher_pid="" bg=()
cleanup() {
	for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
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
check "sipfp made the schema itself: version 1" test "$(sql 'SELECT version FROM sipfp_schema')" = 1
for u in 1000 1002; do echo "${u}pw" | "$ctl" user add $u >/dev/null; done
check "users are rows in PostgreSQL" test "$(sql 'SELECT count(*) FROM users')" = 2
check "callee 1000 registers" register 1000 1000pw 5072 300
check "its binding is a row in PostgreSQL" test "$(sql "SELECT count(*) FROM bindings WHERE aor = '1000'")" = 1
callee uas_answer
check "a call through: INVITE -> 407 -> ... -> 200 -> ACK -> BYE -> 200" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the callee answered and got the BYE"

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
	--set t1_ms=100 || { ko "sipfp started again"; cat "$run/launch.log"; finish; exit 1; }
check "started again: the schema not migrated twice (version 1, one row)" \
	test "$(sql 'SELECT count(*), max(version) FROM sipfp_schema')" = "1|1"
check "the registration found again" sh -c "'$ctl' reg list | grep -q '^1000 '"
callee uas_answer
check "and the users: a call authenticates and goes through" \
	sipp_cmd 5071 uac_call 10.77.0.2:5060 -s 1000 -key user 1002 -au 1002 -ap 1002pw -d 300
callee_done "the callee answered"
stop_launcher "$launcher_pid"
launcher_pid=""
check "data plane exit: mbufs in use at exit: 0" sh -c "grep 'mbufs in use at exit' '$run/launch.log' | tail -1 | grep -q ': 0$'"
finish
