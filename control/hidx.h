/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A chained hash index over the slots of an array its user owns: the
 * proxy's bindings, transactions and dialogs are found by key without
 * scanning every entry.  The index holds slot numbers only; the user
 * compares the keys it walks through (several keys share a chain).
 *
 * Keys come from the network (Call-IDs, branches, user names), so the hash
 * is SipHash with a key drawn at start: chains cannot be made long on
 * purpose (hash flooding).
 */
#ifndef SIPFP_HIDX_H
#define SIPFP_HIDX_H

#include <stddef.h>
#include <stdint.h>

#define HIDX_NONE UINT32_MAX

struct hidx {
	uint32_t mask;   /* buckets - 1 */
	uint32_t cap;    /* slots */
	uint32_t *head;  /* bucket -> first slot */
	uint32_t *next;  /* slot -> next slot in the same bucket */
};

/* buckets: a power of two; 0, or -1 when out of memory */
int hidx_init(struct hidx *h, uint32_t buckets, uint32_t cap);
/* room for slots up to cap (never shrinks) */
int hidx_grow(struct hidx *h, uint32_t cap);
void hidx_clear(struct hidx *h);
void hidx_free(struct hidx *h);
void hidx_add(struct hidx *h, uint32_t slot, uint64_t hash);
/* unlink slot from the chain of hash (a no-op when it is not there) */
void hidx_del(struct hidx *h, uint32_t slot, uint64_t hash);

static inline uint32_t hidx_first(const struct hidx *h, uint64_t hash)
{
	return h->head[hash & h->mask];
}

static inline uint32_t hidx_next(const struct hidx *h, uint32_t slot)
{
	return h->next[slot];
}

/* the keyed hash of a key; hidx_seed once before (from getrandom) */
void hidx_seed(uint64_t k0, uint64_t k1);
uint64_t hidx_hash(const void *key, size_t len);

#endif
