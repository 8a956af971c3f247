/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>
#include "frag_guard.h"

#define PROBE 8 /* slots looked at per key: bounded work per fragment */

static uint32_t pow2(uint32_t v)
{
	uint32_t p = 16;
	while (p < v && p < (1u << 24))
		p <<= 1;
	return p;
}

size_t sfp_fg_size(uint32_t entries)
{
	return sizeof(struct sfp_fg) + (size_t)pow2(entries) * sizeof(struct sfp_fg_entry);
}

void sfp_fg_init(struct sfp_fg *g, uint32_t entries, uint32_t timeout_ms)
{
	uint32_t n = pow2(entries);
	g->mask = n - 1;
	g->timeout_ms = timeout_ms;
	memset(g->e, 0, (size_t)n * sizeof(g->e[0]));
}

static bool same(const struct sfp_fg_key *a, const struct sfp_fg_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->id == b->id && a->proto == b->proto;
}

static uint32_t slot0(const struct sfp_fg *g, const struct sfp_fg_key *k)
{
	uint64_t h = ((uint64_t)k->src << 32 | k->dst) * 0x9e3779b97f4a7c15ull;
	h ^= ((uint64_t)k->id << 8 | k->proto) * 0xc2b2ae3d27d4eb4full;
	return (uint32_t)(h >> 40) & g->mask;
}

static bool live(const struct sfp_fg *g, const struct sfp_fg_entry *e, uint64_t now)
{
	return e->first_ms && now - e->first_ms < g->timeout_ms;
}

static struct sfp_fg_entry *find(struct sfp_fg *g, const struct sfp_fg_key *k, uint64_t now,
				 struct sfp_fg_entry **free_slot)
{
	uint32_t s = slot0(g, k);
	*free_slot = NULL;
	for (uint32_t i = 0; i < PROBE; i++) {
		struct sfp_fg_entry *e = &g->e[(s + i) & g->mask];
		if (!live(g, e, now)) {
			if (!*free_slot)
				*free_slot = e;
			continue;
		}
		if (same(&e->k, k))
			return e;
	}
	return NULL;
}

enum sfp_fg_verdict sfp_fg_check(struct sfp_fg *g, const struct sfp_fg_key *k,
				 uint32_t off, uint32_t len, uint64_t now_ms)
{
	struct sfp_fg_entry *fs, *e = find(g, k, now_ms, &fs);
	uint32_t end = off + len;

	if (!e) {
		if (!fs)
			return SFP_FG_FULL;
		e = fs;
		memset(e, 0, sizeof(*e));
		e->k = *k;
		e->first_ms = now_ms ? now_ms : 1;
	}
	if (e->poisoned)
		return SFP_FG_POISONED;
	for (unsigned i = 0; i < e->n; i++) {
		if (e->start[i] == off && e->end[i] == end)
			return SFP_FG_DUP;
		if (off < e->end[i] && e->start[i] < end) {
			e->poisoned = 1;
			return SFP_FG_OVERLAP;
		}
	}
	if (e->n == SFP_FG_MAX_FRAGS) {
		e->poisoned = 1;
		return SFP_FG_TOO_MANY;
	}
	e->start[e->n] = off;
	e->end[e->n] = end;
	e->n++;
	return SFP_FG_OK;
}

void sfp_fg_forget(struct sfp_fg *g, const struct sfp_fg_key *k, uint64_t now_ms)
{
	struct sfp_fg_entry *fs, *e = find(g, k, now_ms, &fs);
	(void)fs;
	if (e)
		e->first_ms = 0;
}
