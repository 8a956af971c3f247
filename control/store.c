/* SPDX-License-Identifier: BSD-3-Clause */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct store {
	sqlite3 *db;
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
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

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
	return s;
}

void store_close(struct store *s)
{
	if (s) {
		sqlite3_close(s->db);
		free(s);
	}
}

const char *store_error(struct store *s)
{
	return sqlite3_errmsg(s->db);
}

static int exec(struct store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_begin(struct store *s) { return exec(s, "BEGIN IMMEDIATE"); }
int store_commit(struct store *s) { return exec(s, "COMMIT"); }
void store_rollback(struct store *s) { (void)exec(s, "ROLLBACK"); }

int store_user_set(struct store *s, const char *user, const char *realm, const struct sfp_ha1 *h)
{
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
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT name, realm, ha1_md5, ha1_sha256 FROM users ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sfp_ha1 h = { 0 };
		const char *md5 = (const char *)sqlite3_column_text(st, 2);
		const char *sha = (const char *)sqlite3_column_text(st, 3);
		if (md5 && !sfp_unhex(md5, strlen(md5), h.md5, 16))
			h.algs |= SFP_ALG_MD5;
		if (sha && !sfp_unhex(sha, strlen(sha), h.sha256, 32))
			h.algs |= SFP_ALG_SHA256;
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
