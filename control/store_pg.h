/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The PostgreSQL backend of store.h (store_pg.c): the same operations,
 * called by store.c when the store was opened with store_open_pg.
 */
#ifndef SFP_STORE_PG_H
#define SFP_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_pg;
/* store.c's, for both backends */
void store_ha1_from_hex(const char *md5, const char *sha, struct sfp_ha1 *h);
struct store_pg *store_pg_open(const char *conninfo, char *err, size_t errlen);
void store_pg_close(struct store_pg *p);
const char *store_pg_error(struct store_pg *p);
int store_pg_exec(struct store_pg *p, const char *sql);
int store_pg_user_set(struct store_pg *p, const char *user, const char *realm, const struct sfp_ha1 *h);
int store_pg_user_del(struct store_pg *p, const char *user);
int store_pg_user_each(struct store_pg *p, store_user_cb cb, void *ctx);
long store_pg_user_count(struct store_pg *p);
int store_pg_user_exists(struct store_pg *p, const char *user);
int store_pg_user_get(struct store_pg *p, const char *user, char *realm, struct sfp_ha1 *h);
uint64_t store_pg_node_seen(struct store_pg *p, const char *id);
int store_pg_binding_aor_each(struct store_pg *p, const char *aor, store_binding_cb cb, void *ctx);
int store_pg_node_beat(struct store_pg *p, const char *id, uint64_t started_ms, uint64_t now_ms);
int store_pg_node_each(struct store_pg *p, uint64_t now_ms, store_node_cb cb, void *ctx);
int store_pg_notify(struct store_pg *p, const char *what);
int store_pg_news_fd(struct store_pg *p);
int store_pg_news(struct store_pg *p, store_news_cb cb, void *ctx);
uint32_t store_pg_next_gen(struct store_pg *p);
int store_pg_key(struct store_pg *p, uint8_t key[32]);
int store_pg_binding_put(struct store_pg *p, const struct store_binding *b);
int store_pg_binding_del(struct store_pg *p, const char *aor, const char *contact);
int store_pg_binding_each(struct store_pg *p, store_binding_cb cb, void *ctx);
int store_pg_dialog_put(struct store_pg *p, const struct store_dialog *d);
int store_pg_dialog_del(struct store_pg *p, const struct store_dialog *d);
int store_pg_dialog_each(struct store_pg *p, store_dialog_cb cb, void *ctx);
int store_pg_b2b_put(struct store_pg *p, const char *key, const void *rec, size_t len);
int store_pg_b2b_del(struct store_pg *p, const char *key);
int store_pg_b2b_each(struct store_pg *p, store_b2b_cb cb, void *ctx);
int store_pg_admit_put(struct store_pg *p, const char *kind, const char *key, uint64_t value);
int store_pg_admit_del(struct store_pg *p, const char *kind, const char *key);
int store_pg_admit_each(struct store_pg *p, store_admit_cb cb, void *ctx);
int store_pg_autoban_put(struct store_pg *p, const struct store_autoban *b, unsigned n);
int store_pg_autoban_del(struct store_pg *p, const char *source);
int store_pg_autoban_expire(struct store_pg *p, uint64_t now_ms);
int store_pg_autoban_each(struct store_pg *p, store_autoban_cb cb, void *ctx);

#endif
