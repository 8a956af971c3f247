/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp-control's persistent store (SQLite, WAL, synchronous=FULL): a
 * committed change survives a crash of the process or of the machine.
 */
#ifndef SFP_STORE_H
#define SFP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sip_auth.h"

struct store;

struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_error(struct store *s);

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

#endif
