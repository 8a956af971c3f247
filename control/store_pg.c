/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store on PostgreSQL (store = postgresql, pg_conninfo): the same
 * tables as the SQLite store, so that several sipfp nodes can share one
 * database.  libpq, text parameters ($1...), one statement per call; a
 * lost connection is reset once per call before it fails.
 *
 * The schema is sipfp's own and versioned (table sipfp_schema): each
 * start takes a lock on that table, reads the version and applies the
 * migrations after it in one transaction, so nodes starting together
 * migrate once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <libpq-fe.h>

#include "store_pg.h"

struct store_pg {
	PGconn *c;
	char err[256];
	bool lost_news;   /* the connection was reset: news may have been missed */
	uint64_t retry_ms;   /* the server unreachable: no new attempt before this */
	uint32_t backoff_ms; /* 250 ms, doubling to 5 s */
	bool resetting;      /* a non-blocking reset under way */
	uint64_t reset_until_ms;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* the connection usable, reset if it broke.  The reset does not block:
 * it is started (PQresetStart) and moved on by each later call
 * (PQresetPoll, on libpq's non-blocking socket) until it succeeds, fails
 * or takes longer than 4 s; meanwhile, and while attempts back off after
 * a failure, calls fail at once, so a database that is away does not
 * hold up SIP */
static bool connected(struct store_pg *p)
{
	if (!p->resetting && PQstatus(p->c) == CONNECTION_OK)
		return true;
	uint64_t now = mono_ms();
	if (!p->resetting) {
		if (now < p->retry_ms)
			return false;
		if (!PQresetStart(p->c))
			goto failed;
		p->resetting = true;
		p->reset_until_ms = now + 4000;
	}
	switch (PQresetPoll(p->c)) {
	case PGRES_POLLING_OK:
		p->resetting = false;
		p->backoff_ms = 0;
		PQclear(PQexec(p->c, "LISTEN sipfp"));
		p->lost_news = true;
		return true;
	case PGRES_POLLING_FAILED:
		break;
	default:
		if (now < p->reset_until_ms)
			return false; /* still connecting */
		break;
	}
	p->resetting = false;
failed:
	p->backoff_ms = p->backoff_ms ? (p->backoff_ms * 2 > 5000 ? 5000 : p->backoff_ms * 2) : 250;
	p->retry_ms = mono_ms() + p->backoff_ms;
	return false;
}

/* migration k takes the schema from version k to k + 1 */
static const char *const migrations[] = {
	"CREATE TABLE users (name TEXT PRIMARY KEY, realm TEXT NOT NULL, ha1_md5 TEXT, ha1_sha256 TEXT,"
	"  updated BIGINT NOT NULL DEFAULT extract(epoch from now())::bigint);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);"
	"CREATE TABLE bindings (aor TEXT NOT NULL, contact TEXT NOT NULL, ip BIGINT NOT NULL,"
	"  port INTEGER NOT NULL, expires_ms BIGINT NOT NULL, call_id TEXT NOT NULL, cseq BIGINT NOT NULL,"
	"  PRIMARY KEY (aor, contact));"
	"CREATE TABLE dialogs (call_id TEXT NOT NULL, from_tag TEXT NOT NULL, to_tag TEXT NOT NULL,"
	"  caller TEXT NOT NULL, callee TEXT NOT NULL, state INTEGER NOT NULL, created_ms BIGINT NOT NULL,"
	"  PRIMARY KEY (call_id, from_tag, to_tag));"
	"CREATE TABLE admit (kind TEXT NOT NULL, key TEXT NOT NULL, value BIGINT NOT NULL,"
	"  PRIMARY KEY (kind, key));"
	"CREATE TABLE b2b_calls (key TEXT PRIMARY KEY, rec BYTEA NOT NULL);"
	"CREATE TABLE autobans (source TEXT PRIMARY KEY, why INTEGER NOT NULL, fails BIGINT NOT NULL,"
	"  until_ms BIGINT NOT NULL);",
	/* 2: the node a binding registered through; the nodes' heartbeats */
	"ALTER TABLE bindings ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE nodes (id TEXT PRIMARY KEY, started_ms BIGINT NOT NULL, seen_ms BIGINT NOT NULL);",
	/* 3: the transport a binding registered over (SIP over TCP/TLS) */
	"ALTER TABLE bindings ADD COLUMN transport INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION (sizeof(migrations) / sizeof(migrations[0]))

static void fail(struct store_pg *p, const char *what, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(p->c);
	snprintf(p->err, sizeof(p->err), "%s: %s", what, m && *m ? m : "failed");
	size_t n = strlen(p->err);
	while (n && (p->err[n - 1] == '\n' || p->err[n - 1] == ' '))
		p->err[--n] = '\0';
}

/* one statement with n text parameters (a NULL one is SQL NULL; lens
 * and fmts for binary ones, else NULL); its result if it is want, else
 * NULL with the error kept.  A broken connection is reset once. */
static PGresult *run(struct store_pg *p, const char *sql, int n, const char *const *v, const int *lens,
		     const int *fmts, int result_fmt, ExecStatusType want)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!connected(p))
			break;
		PGresult *r = PQexecParams(p->c, sql, n, NULL, v, lens, fmts, result_fmt);
		if (r && PQresultStatus(r) == want)
			return r;
		fail(p, sql, r);
		PQclear(r);
		if (PQstatus(p->c) == CONNECTION_OK)
			return NULL; /* the statement failed, not the connection */
	}
	fail(p, "connection", NULL);
	return NULL;
}

static int cmd(struct store_pg *p, const char *sql, int n, const char *const *v)
{
	PGresult *r = run(p, sql, n, v, NULL, NULL, 0, PGRES_COMMAND_OK);
	if (!r)
		return -1;
	int k = atoi(PQcmdTuples(r));
	PQclear(r);
	return k;
}

/* one setup statement (no parameters); false with err filled on failure */
static bool setup(struct store_pg *p, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(p->c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "PostgreSQL %s: %s", what, PQerrorMessage(p->c));
	PQclear(r);
	return ok;
}

struct store_pg *store_pg_open(const char *conninfo, char *err, size_t errlen)
{
	struct store_pg *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* a server that does not answer must not hold the control process
	 * for minutes: 2 s unless the operator says otherwise (keyword/value
	 * form; a URI is taken as written) */
	char ci[1024];
	if (!strstr(conninfo, "connect_timeout") && strncmp(conninfo, "postgres", 8))
		snprintf(ci, sizeof(ci), "%s connect_timeout=2", conninfo);
	else
		snprintf(ci, sizeof(ci), "%s", conninfo);
	p->c = PQconnectdb(ci);
	if (PQstatus(p->c) != CONNECTION_OK) {
		snprintf(err, errlen, "PostgreSQL (%s): %s", conninfo, PQerrorMessage(p->c));
		goto fail;
	}
	/* quiet NOTICEs (CREATE ... IF NOT EXISTS) */
	if (!setup(p, "SET client_min_messages = warning;"
		      "CREATE TABLE IF NOT EXISTS sipfp_schema (version INTEGER NOT NULL);"
		      "BEGIN; LOCK TABLE sipfp_schema IN EXCLUSIVE MODE;", "schema", err, errlen))
		goto fail;
	PGresult *r = PQexec(p->c, "SELECT version FROM sipfp_schema");
	unsigned have = 0;
	bool row = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
	if (row)
		have = (unsigned)atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (have > SCHEMA_VERSION) {
		snprintf(err, errlen, "PostgreSQL schema version %u is newer than this sipfp's (%zu)", have,
			 SCHEMA_VERSION);
		goto fail;
	}
	for (unsigned k = have; k < SCHEMA_VERSION; k++) {
		char what[48];
		snprintf(what, sizeof(what), "schema, migration to version %u", k + 1);
		if (!setup(p, migrations[k], what, err, errlen))
			goto fail;
	}
	char sql[96];
	snprintf(sql, sizeof(sql), row ? "UPDATE sipfp_schema SET version = %zu; COMMIT"
				      : "INSERT INTO sipfp_schema VALUES (%zu); COMMIT", SCHEMA_VERSION);
	if (!setup(p, sql, "schema", err, errlen) || !setup(p, "LISTEN sipfp", "LISTEN", err, errlen))
		goto fail;
	return p;
fail:
	PQfinish(p->c);
	free(p);
	return NULL;
}

void store_pg_close(struct store_pg *p)
{
	if (p) {
		PQfinish(p->c);
		free(p);
	}
}

const char *store_pg_error(struct store_pg *p) { return p->err; }

int store_pg_exec(struct store_pg *p, const char *sql) { return cmd(p, sql, 0, NULL) < 0 ? -1 : 0; }

/* ---- users -------------------------------------------------------------- */

int store_pg_user_set(struct store_pg *p, const char *user, const char *realm, const struct sfp_ha1 *h)
{
	char md5[33], sha[65];
	sfp_hex(h->md5, 16, md5);
	sfp_hex(h->sha256, 32, sha);
	const char *v[] = { user, realm, (h->algs & SFP_ALG_MD5) ? md5 : NULL,
			    (h->algs & SFP_ALG_SHA256) ? sha : NULL };
	return cmd(p, "INSERT INTO users (name, realm, ha1_md5, ha1_sha256) VALUES ($1, $2, $3, $4) "
		      "ON CONFLICT (name) DO UPDATE SET realm = $2, ha1_md5 = $3, ha1_sha256 = $4, "
		      "updated = extract(epoch from now())::bigint", 4, v) < 0 ? -1 : 0;
}

int store_pg_user_del(struct store_pg *p, const char *user)
{
	const char *v[] = { user };
	int k = cmd(p, "DELETE FROM users WHERE name = $1", 1, v);
	return k < 0 ? -1 : k > 0;
}

static const char *text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int store_pg_user_each(struct store_pg *p, store_user_cb cb, void *ctx)
{
	PGresult *r = run(p, "SELECT name, realm, ha1_md5, ha1_sha256 FROM users ORDER BY name", 0, NULL, NULL,
			  NULL, 0, PGRES_TUPLES_OK);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct sfp_ha1 h;
		store_ha1_from_hex(text_or_null(r, i, 2), text_or_null(r, i, 3), &h);
		if (cb(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &h))
			break;
	}
	PQclear(r);
	return 0;
}

/* the first column of the first row of a query, as a number; dflt if none */
static long long scalar(struct store_pg *p, const char *sql, int n, const char *const *v, long long dflt)
{
	PGresult *r = run(p, sql, n, v, NULL, NULL, 0, PGRES_TUPLES_OK);
	if (!r)
		return dflt;
	long long x = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : dflt;
	PQclear(r);
	return x;
}

long store_pg_user_count(struct store_pg *p)
{
	return (long)scalar(p, "SELECT count(*) FROM users", 0, NULL, -1);
}

int store_pg_user_exists(struct store_pg *p, const char *user)
{
	const char *v[] = { user };
	PGresult *r = run(p, "SELECT 1 FROM users WHERE name = $1", 1, v, NULL, NULL, 0, PGRES_TUPLES_OK);
	if (!r)
		return -1;
	int k = PQntuples(r) > 0;
	PQclear(r);
	return k;
}

int store_pg_user_get(struct store_pg *p, const char *user, char *realm, struct sfp_ha1 *h)
{
	const char *v[] = { user };
	PGresult *r = run(p, "SELECT realm, ha1_md5, ha1_sha256 FROM users WHERE name = $1", 1, v, NULL, NULL, 0,
			  PGRES_TUPLES_OK);
	if (!r)
		return -1;
	int k = PQntuples(r) > 0;
	if (k) {
		snprintf(realm, 64, "%s", PQgetvalue(r, 0, 0));
		store_ha1_from_hex(text_or_null(r, 0, 1), text_or_null(r, 0, 2), h);
	}
	PQclear(r);
	return k;
}

/* ---- the nodes ------------------------------------------------------------- */

int store_pg_node_beat(struct store_pg *p, const char *id, uint64_t started_ms, uint64_t now_ms)
{
	char st[24], now[24];
	snprintf(st, sizeof(st), "%" PRIu64, started_ms);
	snprintf(now, sizeof(now), "%" PRIu64, now_ms);
	const char *v[] = { id, st, now };
	return cmd(p, "INSERT INTO nodes VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET started_ms = $2, "
		      "seen_ms = $3", 3, v) < 0 ? -1 : 0;
}

uint64_t store_pg_node_seen(struct store_pg *p, const char *id)
{
	const char *v[] = { id };
	long long s = scalar(p, "SELECT seen_ms FROM nodes WHERE id = $1", 1, v, 0);
	return s > 0 ? (uint64_t)s : 0;
}

int store_pg_node_each(struct store_pg *p, uint64_t now_ms, store_node_cb cb, void *ctx)
{
	char now[24];
	snprintf(now, sizeof(now), "%" PRIu64, now_ms);
	const char *v[] = { now };
	PGresult *r = run(p, "SELECT n.id, n.started_ms, n.seen_ms, (SELECT count(*) FROM bindings b "
			     "WHERE b.node = n.id AND b.expires_ms > $1) FROM nodes n ORDER BY n.id", 1, v, NULL,
			  NULL, 0, PGRES_TUPLES_OK);
	if (!r)
		return -1;
	int k = 0;
	for (int i = 0; i < PQntuples(r) && !k; i++)
		k = cb(ctx, PQgetvalue(r, i, 0), strtoull(PQgetvalue(r, i, 1), NULL, 10),
		       strtoull(PQgetvalue(r, i, 2), NULL, 10), strtoull(PQgetvalue(r, i, 3), NULL, 10));
	PQclear(r);
	return k;
}

/* ---- news between nodes (LISTEN/NOTIFY on channel sipfp) ------------------------ */

int store_pg_notify(struct store_pg *p, const char *what)
{
	const char *v[] = { what };
	PGresult *r = run(p, "SELECT pg_notify('sipfp', $1)", 1, v, NULL, NULL, 0, PGRES_TUPLES_OK);
	PQclear(r);
	return r ? 0 : -1;
}

int store_pg_news_fd(struct store_pg *p)
{
	return PQsocket(p->c);
}

int store_pg_news(struct store_pg *p, store_news_cb cb, void *ctx)
{
	/* news sent while we were cut off is lost: say so (lost_news), the
	 * caller reloads everything */
	if (!connected(p))
		return -1;
	if (p->lost_news) {
		p->lost_news = false;
		cb(ctx, "reconnected");
	}
	if (!PQconsumeInput(p->c))
		return -1;
	int me = PQbackendPID(p->c);
	PGnotify *n;
	while ((n = PQnotifies(p->c))) {
		if (n->be_pid != me)
			cb(ctx, n->extra);
		PQfreemem(n);
	}
	return 0;
}

/* ---- meta -------------------------------------------------------------- */

uint32_t store_pg_next_gen(struct store_pg *p)
{
	long long g = scalar(p, "INSERT INTO meta (key, value) VALUES ('gen', 1) ON CONFLICT (key) "
				"DO UPDATE SET value = meta.value + 1 RETURNING value", 0, NULL, 1);
	return g > 0 ? (uint32_t)g : 1;
}

int store_pg_key(struct store_pg *p, uint8_t key[32])
{
	/* the first node to start writes its key; every other node (and
	 * every restart) reads that one: branches and tags agree across nodes */
	char vals[4][24], names[4][16];
	for (unsigned i = 0; i < 4; i++) {
		int64_t v;
		memcpy(&v, key + 8 * i, 8);
		snprintf(vals[i], sizeof(vals[i]), "%" PRId64, v);
		snprintf(names[i], sizeof(names[i]), "tag_key%u", i);
		const char *pv[] = { names[i], vals[i] };
		if (cmd(p, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", 2, pv) < 0)
			return -1;
	}
	PGresult *r = run(p, "SELECT key, value FROM meta WHERE key LIKE 'tag_key_'", 0, NULL, NULL, NULL, 0,
			  PGRES_TUPLES_OK);
	if (!r)
		return -1;
	unsigned found = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *k = PQgetvalue(r, i, 0);
		unsigned j = (unsigned)(k[7] - '0');
		int64_t v = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		if (j < 4) {
			memcpy(key + 8 * j, &v, 8);
			found |= 1u << j;
		}
	}
	PQclear(r);
	return found == 0xf ? 0 : -1;
}

/* ---- bindings, dialogs, b2b calls ------------------------------------------ */

int store_pg_binding_put(struct store_pg *p, const struct store_binding *b)
{
	char ip[16], port[8], exp[24], cseq[16], tp[4];
	snprintf(ip, sizeof(ip), "%u", b->ip);
	snprintf(port, sizeof(port), "%u", b->port);
	snprintf(exp, sizeof(exp), "%" PRIu64, b->expires_ms);
	snprintf(cseq, sizeof(cseq), "%u", b->cseq);
	snprintf(tp, sizeof(tp), "%u", b->transport);
	const char *v[] = { b->aor, b->contact, ip, port, exp, b->call_id, cseq, b->node, tp };
	return cmd(p, "INSERT INTO bindings (aor, contact, ip, port, expires_ms, call_id, cseq, node, transport) "
		      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (aor, contact) "
		      "DO UPDATE SET ip = $3, port = $4, expires_ms = $5, call_id = $6, cseq = $7, node = $8, "
		      "transport = $9",
		   9, v) < 0 ? -1 : 0;
}

int store_pg_binding_del(struct store_pg *p, const char *aor, const char *contact)
{
	const char *v[] = { aor, contact };
	return cmd(p, contact ? "DELETE FROM bindings WHERE aor = $1 AND contact = $2"
			      : "DELETE FROM bindings WHERE aor = $1", contact ? 2 : 1, v) < 0 ? -1 : 0;
}

static int bindings_of(PGresult *r, store_binding_cb cb, void *ctx);

int store_pg_binding_each(struct store_pg *p, store_binding_cb cb, void *ctx)
{
	PGresult *r = run(p, "SELECT aor, contact, ip, port, expires_ms, call_id, cseq, node, transport FROM bindings "
			     "ORDER BY aor, contact", 0, NULL, NULL, NULL, 0, PGRES_TUPLES_OK);
	return r ? bindings_of(r, cb, ctx) : -1;
}

int store_pg_binding_aor_each(struct store_pg *p, const char *aor, store_binding_cb cb, void *ctx)
{
	const char *v[] = { aor };
	PGresult *r = run(p, "SELECT aor, contact, ip, port, expires_ms, call_id, cseq, node, transport FROM bindings "
			     "WHERE aor = $1 ORDER BY expires_ms DESC", 1, v, NULL, NULL, 0, PGRES_TUPLES_OK);
	return r ? bindings_of(r, cb, ctx) : -1;
}

/* the rows of a bindings query to cb; r cleared */
static int bindings_of(PGresult *r, store_binding_cb cb, void *ctx)
{
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_binding b = { .node = "" };
		snprintf(b.aor, sizeof(b.aor), "%s", PQgetvalue(r, i, 0));
		snprintf(b.contact, sizeof(b.contact), "%s", PQgetvalue(r, i, 1));
		b.ip = (uint32_t)strtoull(PQgetvalue(r, i, 2), NULL, 10);
		b.port = (uint16_t)strtoul(PQgetvalue(r, i, 3), NULL, 10);
		b.expires_ms = strtoull(PQgetvalue(r, i, 4), NULL, 10);
		snprintf(b.call_id, sizeof(b.call_id), "%s", PQgetvalue(r, i, 5));
		b.cseq = (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10);
		snprintf(b.node, sizeof(b.node), "%s", PQgetvalue(r, i, 7));
		b.transport = (uint8_t)strtoul(PQgetvalue(r, i, 8), NULL, 10);
		if (cb(ctx, &b))
			break;
	}
	PQclear(r);
	return 0;
}

int store_pg_dialog_put(struct store_pg *p, const struct store_dialog *d)
{
	char st[8], cr[24];
	snprintf(st, sizeof(st), "%d", d->state);
	snprintf(cr, sizeof(cr), "%" PRIu64, d->created_ms);
	const char *v[] = { d->call_id, d->from_tag, d->to_tag, d->caller, d->callee, st, cr };
	return cmd(p, "INSERT INTO dialogs VALUES ($1, $2, $3, $4, $5, $6, $7) "
		      "ON CONFLICT (call_id, from_tag, to_tag) DO UPDATE SET caller = $4, callee = $5, "
		      "state = $6, created_ms = $7", 7, v) < 0 ? -1 : 0;
}

int store_pg_dialog_del(struct store_pg *p, const struct store_dialog *d)
{
	const char *v[] = { d->call_id, d->from_tag, d->to_tag };
	return cmd(p, "DELETE FROM dialogs WHERE call_id = $1 AND from_tag = $2 AND to_tag = $3", 3, v) < 0 ? -1 : 0;
}

int store_pg_dialog_each(struct store_pg *p, store_dialog_cb cb, void *ctx)
{
	PGresult *r = run(p, "SELECT call_id, from_tag, to_tag, caller, callee, state, created_ms FROM dialogs",
			  0, NULL, NULL, NULL, 0, PGRES_TUPLES_OK);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_dialog d;
		snprintf(d.call_id, sizeof(d.call_id), "%s", PQgetvalue(r, i, 0));
		snprintf(d.from_tag, sizeof(d.from_tag), "%s", PQgetvalue(r, i, 1));
		snprintf(d.to_tag, sizeof(d.to_tag), "%s", PQgetvalue(r, i, 2));
		snprintf(d.caller, sizeof(d.caller), "%s", PQgetvalue(r, i, 3));
		snprintf(d.callee, sizeof(d.callee), "%s", PQgetvalue(r, i, 4));
		d.state = atoi(PQgetvalue(r, i, 5));
		d.created_ms = strtoull(PQgetvalue(r, i, 6), NULL, 10);
		if (cb(ctx, &d))
			break;
	}
	PQclear(r);
	return 0;
}

int store_pg_b2b_put(struct store_pg *p, const char *key, const void *rec, size_t len)
{
	const char *v[] = { key, rec };
	const int lens[] = { 0, (int)len }, fmts[] = { 0, 1 };
	PGresult *r = run(p, "INSERT INTO b2b_calls VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET rec = $2", 2,
			  v, lens, fmts, 0, PGRES_COMMAND_OK);
	PQclear(r);
	return r ? 0 : -1;
}

int store_pg_b2b_del(struct store_pg *p, const char *key)
{
	const char *v[] = { key };
	return cmd(p, "DELETE FROM b2b_calls WHERE key = $1", 1, v) < 0 ? -1 : 0;
}

int store_pg_b2b_each(struct store_pg *p, store_b2b_cb cb, void *ctx)
{
	/* binary results: the record as it was written */
	PGresult *r = run(p, "SELECT rec FROM b2b_calls", 0, NULL, NULL, NULL, 1, PGRES_TUPLES_OK);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		if (cb(ctx, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0)))
			break;
	PQclear(r);
	return 0;
}

/* ---- admission ------------------------------------------------------------ */

int store_pg_admit_put(struct store_pg *p, const char *kind, const char *key, uint64_t value)
{
	char val[24];
	snprintf(val, sizeof(val), "%" PRIu64, value);
	const char *v[] = { kind, key, val };
	return cmd(p, "INSERT INTO admit VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET value = $3",
		   3, v) < 0 ? -1 : 0;
}

int store_pg_admit_del(struct store_pg *p, const char *kind, const char *key)
{
	const char *v[] = { kind, key };
	return cmd(p, key ? "DELETE FROM admit WHERE kind = $1 AND key = $2" : "DELETE FROM admit WHERE kind = $1",
		   key ? 2 : 1, v);
}

int store_pg_admit_each(struct store_pg *p, store_admit_cb cb, void *ctx)
{
	PGresult *r = run(p, "SELECT kind, key, value FROM admit ORDER BY kind, key", 0, NULL, NULL, NULL, 0,
			  PGRES_TUPLES_OK);
	if (!r)
		return -1;
	int k = 0;
	for (int i = 0; i < PQntuples(r) && !k; i++)
		k = cb(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), strtoull(PQgetvalue(r, i, 2), NULL, 10));
	PQclear(r);
	return k;
}

int store_pg_autoban_put(struct store_pg *p, const struct store_autoban *b, unsigned n)
{
	if (!n)
		return 0;
	if (store_pg_exec(p, "BEGIN"))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char why[8], fails[16], until[24];
		snprintf(why, sizeof(why), "%u", b[i].why);
		snprintf(fails, sizeof(fails), "%u", b[i].fails);
		snprintf(until, sizeof(until), "%" PRIu64, b[i].until_ms);
		const char *v[] = { b[i].source, why, fails, until };
		if (cmd(p, "INSERT INTO autobans VALUES ($1, $2, $3, $4) ON CONFLICT (source) "
			   "DO UPDATE SET why = $2, fails = $3, until_ms = $4", 4, v) < 0) {
			(void)store_pg_exec(p, "ROLLBACK");
			return -1;
		}
	}
	return store_pg_exec(p, "COMMIT");
}

int store_pg_autoban_del(struct store_pg *p, const char *source)
{
	const char *v[] = { source };
	return cmd(p, "DELETE FROM autobans WHERE source = $1", 1, v);
}

int store_pg_autoban_expire(struct store_pg *p, uint64_t now_ms)
{
	char now[24];
	snprintf(now, sizeof(now), "%" PRIu64, now_ms);
	const char *v[] = { now };
	return cmd(p, "DELETE FROM autobans WHERE until_ms <= $1", 1, v);
}

int store_pg_autoban_each(struct store_pg *p, store_autoban_cb cb, void *ctx)
{
	PGresult *r = run(p, "SELECT source, why, fails, until_ms FROM autobans", 0, NULL, NULL, NULL, 0,
			  PGRES_TUPLES_OK);
	if (!r)
		return -1;
	int k = 0;
	for (int i = 0; i < PQntuples(r) && !k; i++) {
		struct store_autoban b = {
			.why = (uint8_t)atoi(PQgetvalue(r, i, 1)),
			.fails = (uint32_t)strtoul(PQgetvalue(r, i, 2), NULL, 10),
			.until_ms = strtoull(PQgetvalue(r, i, 3), NULL, 10),
		};
		snprintf(b.source, sizeof(b.source), "%s", PQgetvalue(r, i, 0));
		k = cb(ctx, &b);
	}
	PQclear(r);
	return k;
}
