# SPDX-License-Identifier: BSD-3-Clause
#
# bench/kamailio.sh, sourced by the benchmarks that run Kamailio 5.6
# beside sipfp (b2bua.sh, stream.sh): the part of its set-up they share.
# Kamailio is the same service in both: a registrar with digest (auth_db
# on SQLite, usrloc in memory) and a record-routing proxy; each benchmark
# adds its own listeners and modules (topos; tls).

KAM_MODS=/usr/lib/x86_64-linux-gnu/kamailio/modules

# kam_users DB DOMAIN USER:PASSWORD...: Kamailio's SQLite tables with these
# subscribers (HA1 for DOMAIN, the realm its challenges name)
kam_users() {
	local db=$1 domain=$2 schema=/usr/share/kamailio/db_sqlite
	shift 2
	for t in standard auth_db; do sqlite3 "$db" <"$schema/$t-create.sql"; done
	python3 - "$db" "$domain" "$@" <<'PY'
import hashlib, sqlite3, sys
db, domain = sqlite3.connect(sys.argv[1]), sys.argv[2]
for up in sys.argv[3:]:
    u, pw = up.split(":", 1)
    db.execute("INSERT INTO subscriber (username, domain, password, ha1) VALUES (?,?,?,?)",
               (u, domain, pw, hashlib.md5(f"{u}:{domain}:{pw}".encode()).hexdigest()))
db.commit()
PY
}

# kam_service RUN DB QOP: the modules, their parameters and the request
# route of that service, for the end of a kamailio.cfg (after the
# benchmark's own globals, listeners and loadmodule lines); QOP 1 offers
# qop="auth" in REGISTER challenges
kam_service() {
	local run=$1 db=$2 qop=$3
	cat <<EOF
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "ctl.so"
loadmodule "kex.so"
modparam("ctl", "binrpc", "unix:$run/kamailio_ctl")
modparam("auth_db", "db_url", "sqlite://$db")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("usrloc", "db_mode", 0)
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
		sl_send_reply("404", "Not Here"); exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
	if (is_method("REGISTER")) {
		if (!www_authorize("\$fd", "subscriber")) { www_challenge("\$fd", "$qop"); exit; }
		save("location"); exit;
	}
	if (is_method("INVITE")) {
		if (!proxy_authorize("\$fd", "subscriber")) { proxy_challenge("\$fd", "0"); exit; }
		consume_credentials();
		record_route();
		if (!lookup("location")) { sl_send_reply("480", "Not Registered"); exit; }
		t_relay(); exit;
	}
	sl_send_reply("501", "Not Implemented");
}
EOF
}

# kam_cpu RUN: CPU clock ticks of all of Kamailio's processes
kam_cpu() {
	local s=0 p
	for p in $(pgrep -f "kamailio -f $1/"); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo $s
}

# kam_shm RUN: bytes of shared memory Kamailio uses (kamcmd core.shmmem)
kam_shm() {
	{ kamcmd -s "unix:$1/kamailio_ctl" core.shmmem 2>/dev/null || true; } | awk '$1 == "used:" {print $2}'
}
