#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/nodes.sh: several sipfp nodes on one PostgreSQL, beside one node on
# SQLite, same run, this machine.  A PostgreSQL of the bench's own
# (Debian's postgresql: its own data directory, socket and port), then:
#
#   1. one node on SQLite, then 1, 2 and 3 nodes on PostgreSQL (each its
#      own DPDK file prefix, TAP port and address): every node at once
#      gets --regs registrations with digest (bench/regload.py, one client
#      per node, its own users) and then --calls reference calls at --rate
#      per node (SIPp caller and callee on the node's side, both registered
#      there): registrations/s and calls/s per node and in all, 0 failures
#      asked of the calls;
#   2. the database's cost per registration, from the one-node run:
#      transactions, rows written and WAL bytes (pg_stat_database,
#      pg_current_wal_lsn).
#
# Usage: bench/nodes.sh [--regs N] [--calls N] [--rate CPS] [--build DIR]
# Root only.  Prints one table; never fails on a rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
build=$top/build
regs=2000 calls=1000 rate=100
while [ $# -gt 0 ]; do
	case $1 in
	--regs) regs=$2; shift 2 ;;
	--calls) calls=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n 3,19p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "nodes.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "nodes.sh: run as root" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "nodes.sh: PostgreSQL server missing (apt-get install postgresql)" >&2; exit 1; }
ctl=$build/control/cli/sipfpctl
run=$(mktemp -d /tmp/sipfp-bnodes.XXXXXX)
pgdir=$(mktemp -d /tmp/sipfp-bnpg.XXXXXX)
pgport=55433
launchers=() clients=()
cleanup() {
	set +e
	for p in "${clients[@]+"${clients[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${launchers[@]+"${launchers[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${launchers[@]+"${launchers[@]}"}"; do wait "$p" 2>/dev/null; done
	pkill -KILL -f "file-prefix sipfpbn" 2>/dev/null
	for k in 0 1 2; do ip link del "sipfpbn$k" 2>/dev/null; done
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$pgdir"
	[ -n "${KEEP:-}" ] || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)" -lt 512 ]; then
	echo 512 > /proc/sys/vm/nr_hugepages
fi
grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

chmod 755 "$pgdir"
chown postgres: "$pgdir"
runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
	-o "-k $pgdir -p $pgport -c listen_addresses=''" start >/dev/null
runuser -u postgres -- "$pgbin/createdb" -h "$pgdir" -p $pgport sipfp
conninfo="host=$pgdir port=$pgport dbname=sipfp user=postgres"
sql() { psql "$conninfo" -Atc "$1"; }

# users u0.. (password pwN): registrations of node k are u(k*100000 + i),
# its caller and callee u(k*100000 + 99998, 99999)
python3 - "$regs" >"$run/users.htdigest" <<'PY'
import hashlib, sys
n = int(sys.argv[1])
for k in range(1, 4):
    for i in list(range(n)) + [99998, 99999]:
        u = f"u{k * 100000 + i}"
        print(f"{u}:sipfp:{hashlib.md5(f'{u}:sipfp:pw{k * 100000 + i}'.encode()).hexdigest()}")
PY

nodes_start() { # STORE K: K nodes on that store, ready
	launchers=()
	for k in $(seq 1 "$2"); do
		mkdir -p "$run/n$k"
		rm -f "$run/n$k/"*.sqlite* "$run/n$k/ctl.sock"
		local o=$((90 + k)) peers=""
		for j in $(seq 1 "$2"); do [ "$j" != "$k" ] && peers="${peers:+$peers,}10.$((90 + j)).0.2"; done
		SIPFP_BINDIR=$build "$top/scripts/sipfp-launch" --rundir "$run/n$k" --file-prefix "sipfpbn$k" \
			--iface "sipfpbn$((k - 1))" --host-addr "10.$o.0.1/24" --set "addr=10.$o.0.2" \
			--set "store=$1" --set "pg_conninfo=$conninfo" --set "db_path=$run/n$k/db.sqlite" \
			--set "ctl_socket=$run/n$k/ctl.sock" --set "allow=10.$o.0.1/32" --set "peers=$peers" \
			--set cred_capacity=262144 --set max_dialogs=65536 >"$run/n$k/launch.log" 2>&1 &
		launchers+=($!)
	done
	for k in $(seq 1 "$2"); do
		for _ in $(seq 150); do
			[ -S "$run/n$k/ctl.sock" ] &&
				[ "$(SIPFP_SOCKET=$run/n$k/ctl.sock "$ctl" stats 2>/dev/null | awk '$1 == "control_attached" {print $2}')" = 1 ] &&
				break
			sleep 0.2
		done
	done
	# users: into the shared store once (PostgreSQL), into each file (SQLite)
	if [ "$1" = sqlite ]; then
		for k in $(seq 1 "$2"); do SIPFP_SOCKET=$run/n$k/ctl.sock "$ctl" user import "$run/users.htdigest" >/dev/null; done
	else
		SIPFP_SOCKET=$run/n1/ctl.sock "$ctl" user import "$run/users.htdigest" >/dev/null
		sleep 2 # the others take them from the news
	fi
}
nodes_stop() {
	for p in "${launchers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${launchers[@]}"; do wait "$p" 2>/dev/null || true; done
	launchers=()
	for _ in $(seq 50); do find /proc/[0-9]*/fd -lname '*/dpdk/sipfpbn*' 2>/dev/null | grep -q . || break; sleep 0.2; done
}
stat_of() { SIPFP_SOCKET=$run/n$1/ctl.sock "$ctl" stats | awk -v k="$2" '$1 == k {print $2}'; }
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2"; }

# one measured round: STORE K -> "regs_per_s_total regs_failed calls_per_s_total calls_ok calls_failed"
round() {
	local store=$1 K=$2
	nodes_start "$store" "$K"
	local t0 t1 pids=() x0 w0
	if [ "$store" = postgresql ] && [ "$K" = 1 ]; then
		x0=$(sql "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'sipfp'")
		w0=$(sql "SELECT pg_current_wal_lsn()")
	fi
	t0=$(date +%s.%N)
	for k in $(seq 1 "$K"); do
		python3 "$here/regload.py" --server "10.$((90 + k)).0.2" --local "10.$((90 + k)).0.1" \
			--users "$regs" --first $((k * 100000)) --secs 120 >"$run/reg$k.txt" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	t1=$(date +%s.%N)
	if [ "$store" = postgresql ] && [ "$K" = 1 ]; then
		# the database's work for these registrations (and the nodes'
		# heartbeats meanwhile); a backend reports its statistics at most
		# once a second
		sleep 2.5
		echo "$x0|$(sql "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'sipfp'")|$(sql "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$w0')")" >"$run/dbcost"
	fi
	local rdone=0 rfail=0
	for k in $(seq 1 "$K"); do
		rdone=$((rdone + $(field done "$run/reg$k.txt"))); rfail=$((rfail + $(field failed "$run/reg$k.txt")))
	done
	# calls: on each node its own callee and caller
	pids=() clients=()
	for k in $(seq 1 "$K"); do
		local o=$((90 + k)) cu=$((k * 100000 + 99999)) ru=$((k * 100000 + 99998))
		(cd "$run" && timeout 20 sipp "10.$o.0.2:5060" -sf "$top/tests/sipp/reg_contact.xml" -key user "u$cu" \
			-au "u$cu" -ap "pw$cu" -key contact_port 5200 -key expires 3600 -i "10.$o.0.1" -p 5073 -m 1 \
			-timeout 15s -nostdin >/dev/null 2>&1) || true
		(cd "$run" && exec timeout 300 sipp -sf "$top/tests/sipp/uas_answer.xml" -i "10.$o.0.1" -p 5200 -m "$calls" \
			-nostdin >/dev/null 2>&1) &
		clients+=($!)
	done
	sleep 0.5
	local a0=() c0 c1
	for k in $(seq 1 "$K"); do a0[$k]=$(stat_of "$k" calls_answered); done
	c0=$(date +%s.%N)
	for k in $(seq 1 "$K"); do
		local o=$((90 + k)) cu=$((k * 100000 + 99999)) ru=$((k * 100000 + 99998))
		(cd "$run" && exec timeout 300 sipp "10.$o.0.2:5060" -sf "$top/tests/sipp/uac_call.xml" -s "u$cu" \
			-key user "u$ru" -au "u$ru" -ap "pw$ru" -i "10.$o.0.1" -p 5100 -r "$rate" -m "$calls" -d 500 \
			-l $((rate * 6 + 100)) -timeout 200s -trace_stat -stf "$run/uac$k.csv" -nostdin >/dev/null 2>&1) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	c1=$(date +%s.%N)
	for p in "${clients[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	clients=()
	local cok=0 cbad=0
	for k in $(seq 1 "$K"); do
		cok=$((cok + $(tail -1 "$run/uac$k.csv" | awk -F';' '{print $16}')))
		cbad=$((cbad + $(tail -1 "$run/uac$k.csv" | awk -F';' '{print $18}')))
	done
	nodes_stop
	awk -v r="$rdone" -v rf="$rfail" -v t0="$t0" -v t1="$t1" -v ok="$cok" -v bad="$cbad" -v c0="$c0" -v c1="$c1" \
		'BEGIN { printf "%.0f %d %.0f %d %d\n", r / (t1 - t0), rf, ok / (c1 - c0 - 0.5), ok, bad }'
}

echo "== one node on SQLite" >&2
s1=$(round sqlite 1)
echo "== one node on PostgreSQL" >&2
p1=$(round postgresql 1)
echo "== two nodes on PostgreSQL" >&2
p2=$(round postgresql 2)
echo "== three nodes on PostgreSQL" >&2
p3=$(round postgresql 3)

echo
echo "sipfp nodes on one PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') beside one node on SQLite, $(nproc) cores, $(date -u +%F)"
echo "each node: $regs registrations with digest (its own client), then $calls reference calls at $rate/s (its own SIPp pair), all nodes at once"
printf '%-26s %14s %10s %12s %10s %10s\n' "" "regs/s (all)" "failed" "calls/s (all)" "ok" "failed"
for r in "1 node, SQLite:$s1" "1 node, PostgreSQL:$p1" "2 nodes, PostgreSQL:$p2" "3 nodes, PostgreSQL:$p3"; do
	set -- ${r#*:}
	printf '%-26s %14s %10s %12s %10s %10s\n' "${r%%:*}" "$1" "$2" "$3" "$4" "$5"
done
IFS='|' read -r xc0 xt0 xc1 xt1 wb <"$run/dbcost"
awk -v c="$((xc1 - xc0))" -v t="$((xt1 - xt0))" -v w="$wb" -v r="$regs" 'BEGIN {
	printf "PostgreSQL, one node, %d registrations: %d transactions, %d rows written, %.0f WAL bytes\n", r, c, t, w
	printf "  (heartbeats included): %.2f transactions, %.2f rows, %.0f WAL bytes per registration\n", c / r, t / r, w / r }'
