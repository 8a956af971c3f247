/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp-control's persistent store: SQLite (WAL, synchronous=FULL) for one
 * node, or PostgreSQL (store_pg.c) shared by several; either way a
 * committed change survives a crash of the process or of the machine.
 */
#ifndef SFP_STORE_H
#define SFP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sip_auth.h"

struct store;

struct store *store_open(const char *path, char *err, size_t errlen);
/* the same store on PostgreSQL (a libpq connection string): shared by
 * several nodes; the schema created or migrated at open */
struct store *store_open_pg(const char *conninfo, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_error(struct store *s);

/* the key of our tags and branches, the same across restarts (so that a
 * 2xx retransmitted after one still proves it answers a request of ours):
 * loaded into key, or key (fresh random) stored on the first start */
int store_key(struct store *s, uint8_t key[32]);
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* add or replace; 0 or -1 */
int store_user_set(struct store *s, const char *user, const char *realm, const struct sfp_ha1 *h);
/* 1 deleted, 0 not there, -1 error */
int store_user_del(struct store *s, const char *user);
typedef int (*store_user_cb)(void *ctx, const char *user, const char *realm,
			     const struct sfp_ha1 *h);
int store_user_each(struct store *s, store_user_cb cb, void *ctx);
long store_user_count(struct store *s);

/* a new resync generation, persisted so it only grows */
uint32_t store_next_gen(struct store *s);

/* 1 exists, 0 not, -1 error */
int store_user_exists(struct store *s, const char *user);
/* one user's realm (64 bytes) and HA1s: 1 found, 0 not, -1 error */
int store_user_get(struct store *s, const char *user, char *realm, struct sfp_ha1 *h);

/* the nodes on one PostgreSQL store: each writes its heartbeat (its id
 * is ADDR:PORT, where phones and the other nodes reach it); SQLite: none */
int store_node_beat(struct store *s, const char *id, uint64_t started_ms, uint64_t now_ms);
typedef int (*store_node_cb)(void *ctx, const char *id, uint64_t started_ms, uint64_t seen_ms,
			     uint64_t registrations);
/* a node's last heartbeat (wall-clock ms), 0 if unknown */
uint64_t store_node_seen(struct store *s, const char *id);
/* registrations: bindings of that node not expired at now_ms */
int store_node_each(struct store *s, uint64_t now_ms, store_node_cb cb, void *ctx);

/* several nodes on one PostgreSQL store tell each other what changed
 * (LISTEN/NOTIFY): "user NAME", "users", "admit".  SQLite: one node,
 * nothing to tell.  store_news_fd: a socket to poll for the others'
 * news, -1 for none; store_news calls cb with each (never our own) */
int store_notify(struct store *s, const char *what);
int store_news_fd(struct store *s);
typedef void (*store_news_cb)(void *ctx, const char *what);
int store_news(struct store *s, store_news_cb cb, void *ctx);

struct store_binding {
	char aor[64];
	char contact[256];   /* the Contact URI, without < > */
	uint32_t ip;         /* where the REGISTER came from, network byte order */
	uint16_t port;
	uint64_t expires_ms; /* wall clock */
	char call_id[128];
	uint32_t cseq;
	char node[48];       /* the node it registered through (PostgreSQL; "" with SQLite: this one) */
	uint8_t transport;   /* enum sfp_transport it registered over: TCP/TLS reach it down
			      * that connection only (ip:port is the connection's peer) */
};
int store_binding_put(struct store *s, const struct store_binding *b);
/* contact NULL: every binding of aor */
int store_binding_del(struct store *s, const char *aor, const char *contact);
typedef int (*store_binding_cb)(void *ctx, const struct store_binding *b);
int store_binding_each(struct store *s, store_binding_cb cb, void *ctx);
/* the bindings of one address-of-record, whichever node holds them */
int store_binding_aor_each(struct store *s, const char *aor, store_binding_cb cb, void *ctx);

struct store_dialog {
	char call_id[128];
	char from_tag[64];
	char to_tag[64];
	char caller[64];
	char callee[64];
	int state;           /* enum px_dialog_state */
	uint64_t created_ms;
};
int store_dialog_put(struct store *s, const struct store_dialog *d);
int store_dialog_del(struct store *s, const struct store_dialog *d);
typedef int (*store_dialog_cb)(void *ctx, const struct store_dialog *d);
int store_dialog_each(struct store *s, store_dialog_cb cb, void *ctx);

/* back-to-back calls: an opaque record per call (b2b.c owns its layout) */
int store_b2b_put(struct store *s, const char *key, const void *rec, size_t len);
int store_b2b_del(struct store *s, const char *key);
typedef int (*store_b2b_cb)(void *ctx, const void *rec, size_t len);
int store_b2b_each(struct store *s, store_b2b_cb cb, void *ctx);

/* admission control decisions: kind "allow" (key CIDR), "ban" (key
 * address[:port], value: until, wall-clock ms, 0 for ever), "limit" (key
 * a limit's name, value) */
int store_admit_put(struct store *s, const char *kind, const char *key, uint64_t value);
/* key NULL: every entry of kind; rows deleted, or -1 */
int store_admit_del(struct store *s, const char *kind, const char *key);
typedef int (*store_admit_cb)(void *ctx, const char *kind, const char *key, uint64_t value);
int store_admit_each(struct store *s, store_admit_cb cb, void *ctx);

/* automatic bans (failed authentications), mirrored from the data plane so
 * that its restart does not pardon an attacker; until_ms is wall-clock ms */
struct store_autoban {
	char source[32];     /* address[:port] */
	uint8_t why;         /* enum sfp_ban_why */
	uint32_t fails;
	uint64_t until_ms;
};
/* upsert n bans in one transaction */
int store_autoban_put(struct store *s, const struct store_autoban *b, unsigned n);
/* rows deleted, or -1 */
int store_autoban_del(struct store *s, const char *source);
int store_autoban_expire(struct store *s, uint64_t now_ms);
typedef int (*store_autoban_cb)(void *ctx, const struct store_autoban *b);
int store_autoban_each(struct store *s, store_autoban_cb cb, void *ctx);

#endif
