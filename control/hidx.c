/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "hidx.h"
#include "sip_auth.h"

static uint64_t seed0, seed1;

void hidx_seed(uint64_t k0, uint64_t k1)
{
	seed0 = k0;
	seed1 = k1;
}

uint64_t hidx_hash(const void *key, size_t len)
{
	return sfp_siphash24(seed0, seed1, key, len);
}

int hidx_init(struct hidx *h, uint32_t buckets, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	if (!buckets || (buckets & (buckets - 1)))
		return -1;
	h->head = malloc(buckets * sizeof(*h->head));
	if (!h->head)
		return -1;
	h->mask = buckets - 1;
	memset(h->head, 0xff, buckets * sizeof(*h->head));
	return hidx_grow(h, cap);
}

int hidx_grow(struct hidx *h, uint32_t cap)
{
	if (cap <= h->cap)
		return 0;
	uint32_t *n = realloc(h->next, cap * sizeof(*n));
	if (!n)
		return -1;
	memset(n + h->cap, 0xff, (cap - h->cap) * sizeof(*n));
	h->next = n;
	h->cap = cap;
	return 0;
}

void hidx_clear(struct hidx *h)
{
	memset(h->head, 0xff, ((size_t)h->mask + 1) * sizeof(*h->head));
	memset(h->next, 0xff, (size_t)h->cap * sizeof(*h->next));
}

void hidx_free(struct hidx *h)
{
	free(h->head);
	free(h->next);
	memset(h, 0, sizeof(*h));
}

void hidx_add(struct hidx *h, uint32_t slot, uint64_t hash)
{
	uint32_t *b = &h->head[hash & h->mask];
	h->next[slot] = *b;
	*b = slot;
}

void hidx_del(struct hidx *h, uint32_t slot, uint64_t hash)
{
	for (uint32_t *p = &h->head[hash & h->mask]; *p != HIDX_NONE; p = &h->next[*p])
		if (*p == slot) {
			*p = h->next[slot];
			h->next[slot] = HIDX_NONE;
			return;
		}
}
