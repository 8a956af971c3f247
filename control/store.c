/* SPDX-License-Identifier: BSD-3-Clause */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_pg.h"

/* SQLite, or PostgreSQL (store_pg.c) when pg is set: every operation
 * below hands itself to the latter first */
struct store {
	sqlite3 *db;
	struct store_pg *pg;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS users ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  realm TEXT NOT NULL,"
	"  ha1_md5 TEXT,"      /* hex, NULL when unknown */
	"  ha1_sha256 TEXT,"   /* hex, NULL when unknown (htdigest imports) */
	"  updated INTEGER NOT NULL DEFAULT (strftime('%s','now')));"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	/* RFC 3261 10.3: bindings per address-of-record, with where the
	 * REGISTER came from on the wire (RFC 3581: reach it there) */
	"CREATE TABLE IF NOT EXISTS bindings ("
	"  aor TEXT NOT NULL, contact TEXT NOT NULL, ip INTEGER NOT NULL, port INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL, call_id TEXT NOT NULL, cseq INTEGER NOT NULL,"
	"  transport INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (aor, contact));"
	"CREATE TABLE IF NOT EXISTS dialogs ("
	"  call_id TEXT NOT NULL, from_tag TEXT NOT NULL, to_tag TEXT NOT NULL,"
	"  caller TEXT NOT NULL, callee TEXT NOT NULL, state INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL, PRIMARY KEY (call_id, from_tag, to_tag));"
	/* operator decisions for admission control (sipfpctl ban|allow|limit):
	 * replayed into the data plane whenever either process starts */
	"CREATE TABLE IF NOT EXISTS admit ("
	"  kind TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, key));"
	/* back-to-back calls (mode = b2bua): both legs' dialog state, one
	 * record each (b2b.c, versioned inside), so a restart can still end
	 * a call that was up from either side */
	"CREATE TABLE IF NOT EXISTS b2b_calls (key TEXT PRIMARY KEY NOT NULL, rec BLOB NOT NULL);"
	/* bans the data plane set by itself for failed authentications: it
	 * forgets them when it restarts, the control process puts them back */
	"CREATE TABLE IF NOT EXISTS autobans ("
	"  source TEXT PRIMARY KEY NOT NULL, why INTEGER NOT NULL, fails INTEGER NOT NULL,"
	"  until_ms INTEGER NOT NULL);";

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	char *msg = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		sqlite3_close(s->db);
		free(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		sqlite3_close(s->db);
		free(s);
		return NULL;
	}
	/* a store made before bindings had a transport (SIP over TCP/TLS):
	 * the column is added; "duplicate column" means it is there */
	(void)sqlite3_exec(s->db, "ALTER TABLE bindings ADD COLUMN transport INTEGER NOT NULL DEFAULT 0",
			   NULL, NULL, NULL);
	return s;
}

struct store *store_open_pg(const char *conninfo, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!(s->pg = store_pg_open(conninfo, err, errlen))) {
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (s) {
		if (s->pg)
			store_pg_close(s->pg);
		else
			sqlite3_close(s->db);
		free(s);
	}
}

const char *store_error(struct store *s)
{
	return s->pg ? store_pg_error(s->pg) : sqlite3_errmsg(s->db);
}

static int exec(struct store *s, const char *sql)
{
	if (s->pg)
		return store_pg_exec(s->pg, strncmp(sql, "BEGIN", 5) ? sql : "BEGIN");
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_begin(struct store *s) { return exec(s, "BEGIN IMMEDIATE"); }
int store_commit(struct store *s) { return exec(s, "COMMIT"); }
void store_rollback(struct store *s) { (void)exec(s, "ROLLBACK"); }

/* a user's HA1s as both stores keep them: hex, NULL when unknown */
void store_ha1_from_hex(const char *md5, const char *sha, struct sfp_ha1 *h)
{
	memset(h, 0, sizeof(*h));
	if (md5 && !sfp_unhex(md5, strlen(md5), h->md5, 16))
		h->algs |= SFP_ALG_MD5;
	if (sha && !sfp_unhex(sha, strlen(sha), h->sha256, 32))
		h->algs |= SFP_ALG_SHA256;
}

int store_user_set(struct store *s, const char *user, const char *realm, const struct sfp_ha1 *h)
{
	if (s->pg)
		return store_pg_user_set(s->pg, user, realm, h);
	sqlite3_stmt *st;
	char md5[33], sha[65];
	int rc;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO users(name, realm, ha1_md5, ha1_sha256, updated) "
			       "VALUES(?1, ?2, ?3, ?4, strftime('%s','now')) "
			       "ON CONFLICT(name) DO UPDATE SET realm=?2, ha1_md5=?3, "
			       "ha1_sha256=?4, updated=strftime('%s','now')",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sfp_hex(h->md5, 16, md5);
	sfp_hex(h->sha256, 32, sha);
	sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, realm, -1, SQLITE_TRANSIENT);
	if (h->algs & SFP_ALG_MD5)
		sqlite3_bind_text(st, 3, md5, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	if (h->algs & SFP_ALG_SHA256)
		sqlite3_bind_text(st, 4, sha, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_user_del(struct store *s, const char *user)
{
	if (s->pg)
		return store_pg_user_del(s->pg, user);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM users WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

int store_user_each(struct store *s, store_user_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_user_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT name, realm, ha1_md5, ha1_sha256 FROM users ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sfp_ha1 h;
		store_ha1_from_hex((const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
				   &h);
		if (cb(ctx, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1), &h)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

long store_user_count(struct store *s)
{
	if (s->pg)
		return store_pg_user_count(s->pg);
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM users", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

uint32_t store_next_gen(struct store *s)
{
	if (s->pg)
		return store_pg_next_gen(s->pg);
	sqlite3_stmt *st;
	uint32_t g = 1;
	(void)exec(s, "INSERT INTO meta(key, value) VALUES('gen', 1) "
		      "ON CONFLICT(key) DO UPDATE SET value = value + 1");
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'gen'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			g = (uint32_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return g ? g : 1;
}

int store_key(struct store *s, uint8_t key[32])
{
	if (s->pg)
		return store_pg_key(s->pg, key);
	sqlite3_stmt *st;
	unsigned found = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM meta WHERE key LIKE 'tag_key_'", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		unsigned i = (unsigned)(k[7] - '0');
		uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
		if (i < 4) {
			memcpy(key + 8 * i, &v, 8);
			found |= 1u << i;
		}
	}
	sqlite3_finalize(st);
	if (found == 0xf)
		return 0;
	/* first start: the caller's fresh key becomes the stored one */
	if (store_begin(s))
		return -1;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)", -1, &st,
			       NULL) != SQLITE_OK) {
		store_rollback(s);
		return -1;
	}
	int rc = SQLITE_DONE;
	for (unsigned i = 0; i < 4 && rc == SQLITE_DONE; i++) {
		uint64_t v;
		char name[16];
		memcpy(&v, key + 8 * i, 8);
		snprintf(name, sizeof(name), "tag_key%u", i);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_rollback(s);
		return -1;
	}
	return store_commit(s);
}

/* ---- bindings and dialogs --------------------------------------------------- */

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_binding_put(struct store *s, const struct store_binding *b)
{
	if (s->pg)
		return store_pg_binding_put(s->pg, b);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT OR REPLACE INTO bindings (aor, contact, ip, port, expires_ms, call_id, cseq, "
			       "transport) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, b->aor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, b->contact, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, b->ip);
	sqlite3_bind_int64(st, 4, b->port);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)b->expires_ms);
	sqlite3_bind_text(st, 6, b->call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, b->cseq);
	sqlite3_bind_int64(st, 8, b->transport);
	return step_done(st);
}

int store_binding_del(struct store *s, const char *aor, const char *contact)
{
	if (s->pg)
		return store_pg_binding_del(s->pg, aor, contact);
	sqlite3_stmt *st;
	const char *sql = contact ? "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2"
				  : "DELETE FROM bindings WHERE aor = ?1";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, aor, -1, SQLITE_TRANSIENT);
	if (contact)
		sqlite3_bind_text(st, 2, contact, -1, SQLITE_TRANSIENT);
	return step_done(st);
}

static void cpy(char *d, size_t n, const unsigned char *s)
{
	snprintf(d, n, "%s", s ? (const char *)s : "");
}

int store_binding_each(struct store *s, store_binding_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_binding_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT aor, contact, ip, port, expires_ms, call_id, cseq, "
				      "transport FROM bindings ORDER BY aor, contact", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_binding b = { .node = "" }; /* SQLite: one node, this one */
		cpy(b.aor, sizeof(b.aor), sqlite3_column_text(st, 0));
		cpy(b.contact, sizeof(b.contact), sqlite3_column_text(st, 1));
		b.ip = (uint32_t)sqlite3_column_int64(st, 2);
		b.port = (uint16_t)sqlite3_column_int64(st, 3);
		b.expires_ms = (uint64_t)sqlite3_column_int64(st, 4);
		cpy(b.call_id, sizeof(b.call_id), sqlite3_column_text(st, 5));
		b.cseq = (uint32_t)sqlite3_column_int64(st, 6);
		b.transport = (uint8_t)sqlite3_column_int64(st, 7);
		if (cb(ctx, &b)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_dialog_put(struct store *s, const struct store_dialog *d)
{
	if (s->pg)
		return store_pg_dialog_put(s->pg, d);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO dialogs VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, d->call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->from_tag, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, d->to_tag, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, d->caller, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, d->callee, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 6, d->state);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)d->created_ms);
	return step_done(st);
}

int store_dialog_del(struct store *s, const struct store_dialog *d)
{
	if (s->pg)
		return store_pg_dialog_del(s->pg, d);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM dialogs WHERE call_id = ?1 AND from_tag = ?2 "
				      "AND to_tag = ?3", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, d->call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->from_tag, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, d->to_tag, -1, SQLITE_TRANSIENT);
	return step_done(st);
}

int store_b2b_put(struct store *s, const char *key, const void *rec, size_t len)
{
	if (s->pg)
		return store_pg_b2b_put(s->pg, key, rec, len);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO b2b_calls VALUES(?1, ?2)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, rec, (int)len, SQLITE_TRANSIENT);
	return step_done(st);
}

int store_b2b_del(struct store *s, const char *key)
{
	if (s->pg)
		return store_pg_b2b_del(s->pg, key);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM b2b_calls WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	return step_done(st);
}

int store_b2b_each(struct store *s, store_b2b_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_b2b_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT rec FROM b2b_calls", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(ctx, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0))) {
			rc = SQLITE_DONE;
			break;
		}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_dialog_each(struct store *s, store_dialog_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_dialog_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT call_id, from_tag, to_tag, caller, callee, state, "
				      "created_ms FROM dialogs", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_dialog d;
		cpy(d.call_id, sizeof(d.call_id), sqlite3_column_text(st, 0));
		cpy(d.from_tag, sizeof(d.from_tag), sqlite3_column_text(st, 1));
		cpy(d.to_tag, sizeof(d.to_tag), sqlite3_column_text(st, 2));
		cpy(d.caller, sizeof(d.caller), sqlite3_column_text(st, 3));
		cpy(d.callee, sizeof(d.callee), sqlite3_column_text(st, 4));
		d.state = sqlite3_column_int(st, 5);
		d.created_ms = (uint64_t)sqlite3_column_int64(st, 6);
		if (cb(ctx, &d)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_user_exists(struct store *s, const char *user)
{
	if (s->pg)
		return store_pg_user_exists(s->pg, user);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM users WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_user_get(struct store *s, const char *user, char *realm, struct sfp_ha1 *h)
{
	if (s->pg)
		return store_pg_user_get(s->pg, user, realm, h);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT realm, ha1_md5, ha1_sha256 FROM users WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cpy(realm, 64, sqlite3_column_text(st, 0));
		store_ha1_from_hex((const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
				   h);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_node_beat(struct store *s, const char *id, uint64_t started_ms, uint64_t now_ms)
{
	return s->pg ? store_pg_node_beat(s->pg, id, started_ms, now_ms) : 0;
}

uint64_t store_node_seen(struct store *s, const char *id)
{
	return s->pg ? store_pg_node_seen(s->pg, id) : 0;
}

int store_binding_aor_each(struct store *s, const char *aor, store_binding_cb cb, void *ctx)
{
	/* SQLite: one node, its bindings are all in memory already */
	return s->pg ? store_pg_binding_aor_each(s->pg, aor, cb, ctx) : 0;
}

int store_node_each(struct store *s, uint64_t now_ms, store_node_cb cb, void *ctx)
{
	return s->pg ? store_pg_node_each(s->pg, now_ms, cb, ctx) : 0;
}

int store_notify(struct store *s, const char *what)
{
	return s->pg ? store_pg_notify(s->pg, what) : 0;
}

int store_news_fd(struct store *s)
{
	return s->pg ? store_pg_news_fd(s->pg) : -1;
}

int store_news(struct store *s, store_news_cb cb, void *ctx)
{
	return s->pg ? store_pg_news(s->pg, cb, ctx) : 0;
}

int store_admit_put(struct store *s, const char *kind, const char *key, uint64_t value)
{
	if (s->pg)
		return store_pg_admit_put(s->pg, kind, key, value);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO admit VALUES(?1, ?2, ?3)", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)value);
	return step_done(st);
}

int store_admit_del(struct store *s, const char *kind, const char *key)
{
	if (s->pg)
		return store_pg_admit_del(s->pg, kind, key);
	sqlite3_stmt *st;
	const char *sql = key ? "DELETE FROM admit WHERE kind = ?1 AND key = ?2"
			      : "DELETE FROM admit WHERE kind = ?1";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
	if (key)
		sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	if (step_done(st))
		return -1;
	return sqlite3_changes(s->db);
}

int store_admit_each(struct store *s, store_admit_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_admit_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc, r = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT kind, key, value FROM admit ORDER BY kind, key", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !r)
		r = cb(ctx, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1), (uint64_t)sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
	return r ? r : (rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1);
}

int store_autoban_put(struct store *s, const struct store_autoban *b, unsigned n)
{
	if (s->pg)
		return store_pg_autoban_put(s->pg, b, n);
	sqlite3_stmt *st;
	if (!n)
		return 0;
	if (store_begin(s))
		return -1;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO autobans VALUES(?1, ?2, ?3, ?4)", -1,
			       &st, NULL) != SQLITE_OK) {
		store_rollback(s);
		return -1;
	}
	int rc = SQLITE_DONE;
	for (unsigned i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, b[i].source, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, b[i].why);
		sqlite3_bind_int64(st, 3, b[i].fails);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)b[i].until_ms);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_rollback(s);
		return -1;
	}
	return store_commit(s);
}

static int autoban_delete(struct store *s, const char *sql, const char *source, uint64_t now)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (source)
		sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	if (step_done(st))
		return -1;
	return sqlite3_changes(s->db);
}

int store_autoban_del(struct store *s, const char *source)
{
	if (s->pg)
		return store_pg_autoban_del(s->pg, source);
	return autoban_delete(s, "DELETE FROM autobans WHERE source = ?1", source, 0);
}

int store_autoban_expire(struct store *s, uint64_t now_ms)
{
	if (s->pg)
		return store_pg_autoban_expire(s->pg, now_ms);
	return autoban_delete(s, "DELETE FROM autobans WHERE until_ms <= ?1", NULL, now_ms);
}

int store_autoban_each(struct store *s, store_autoban_cb cb, void *ctx)
{
	if (s->pg)
		return store_pg_autoban_each(s->pg, cb, ctx);
	sqlite3_stmt *st;
	int rc, r = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT source, why, fails, until_ms FROM autobans", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !r) {
		struct store_autoban b = {
			.why = (uint8_t)sqlite3_column_int(st, 1),
			.fails = (uint32_t)sqlite3_column_int64(st, 2),
			.until_ms = (uint64_t)sqlite3_column_int64(st, 3),
		};
		snprintf(b.source, sizeof(b.source), "%s", (const char *)sqlite3_column_text(st, 0));
		r = cb(ctx, &b);
	}
	sqlite3_finalize(st);
	return r ? r : (rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1);
}
