/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>
#include "frag_guard.h"

#define PROBE 8 /* slots looked at per key: bounded work per fragment */

enum { FREE, HOLD, DEAD };

static uint32_t pow2(uint32_t v)
{
	uint32_t p = 16;
	while (p < v && p < (1u << 24))
		p <<= 1;
	return p;
}

size_t sfp_fg_size(uint32_t entries)
{
	uint32_t n = pow2(entries);
	return sizeof(struct sfp_fg) + (size_t)n * sizeof(struct sfp_fg_entry) +
	       (size_t)n * sizeof(struct sfp_fg_src);
}

void sfp_fg_init(struct sfp_fg *g, uint32_t entries, uint32_t timeout_ms, uint32_t per_source,
		 uint64_t seed, sfp_fg_release_fn release, void *ctx)
{
	uint32_t n = pow2(entries);
	g->mask = n - 1;
	g->timeout_ms = timeout_ms;
	g->per_source = per_source;
	g->seed = seed | 1;
	g->release = release;
	g->ctx = ctx;
	g->holding = 0;
	memset(g->e, 0, (size_t)n * sizeof(g->e[0]));
	g->src = (struct sfp_fg_src *)&g->e[n];
	memset(g->src, 0, (size_t)n * sizeof(g->src[0]));
}

static uint32_t mix(const struct sfp_fg *g, uint64_t v)
{
	v = (v ^ g->seed) * 0x9e3779b97f4a7c15ull;
	v ^= v >> 29;
	v *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(v >> 32);
}

/* ---- per-source counts: linear probing, backward-shift deletion --------- */

static struct sfp_fg_src *src_find(struct sfp_fg *g, uint32_t ip, bool add)
{
	for (uint32_t i = mix(g, ip) & g->mask;; i = (i + 1) & g->mask) {
		struct sfp_fg_src *s = &g->src[i];
		if (s->n && s->ip == ip)
			return s;
		if (!s->n) {
			if (!add)
				return NULL;
			s->ip = ip;
			return s;
		}
	}
}

static void src_dec(struct sfp_fg *g, uint32_t ip)
{
	struct sfp_fg_src *s = src_find(g, ip, false);
	if (!s || --s->n)
		return;
	/* the slot emptied: pull later members of its run back over it, so
	 * lookups never stop early at a hole */
	uint32_t hole = (uint32_t)(s - g->src);
	for (uint32_t i = (hole + 1) & g->mask; g->src[i].n; i = (i + 1) & g->mask) {
		uint32_t home = mix(g, g->src[i].ip) & g->mask;
		/* may it move to the hole?  only if its home is not in (hole, i] */
		if (((i - home) & g->mask) >= ((i - hole) & g->mask)) {
			g->src[hole] = g->src[i];
			g->src[i].n = 0;
			hole = i;
		}
	}
}

/* ---- entries ------------------------------------------------------------- */

static bool same(const struct sfp_fg_key *a, const struct sfp_fg_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->id == b->id && a->proto == b->proto;
}

static bool expired(const struct sfp_fg *g, const struct sfp_fg_entry *e, uint64_t now)
{
	return now - e->first_ms >= g->timeout_ms;
}

/* let go of whatever e holds; it becomes free, or a tombstone */
static void drop_held(struct sfp_fg *g, struct sfp_fg_entry *e, enum sfp_fg_release why, uint8_t state)
{
	if (e->state == HOLD) {
		for (unsigned i = 0; i < e->n; i++)
			g->release(g->ctx, e->frag[i], why);
		src_dec(g, e->k.src);
		g->holding--;
	}
	e->n = 0;
	e->state = state;
}

static struct sfp_fg_entry *find(struct sfp_fg *g, const struct sfp_fg_key *k, uint64_t now,
				 struct sfp_fg_entry **victim)
{
	uint64_t h = (uint64_t)k->src << 32 | k->dst;
	uint32_t s = mix(g, h ^ ((uint64_t)k->id << 8 | k->proto) * 0xc2b2ae3d27d4eb4full);
	struct sfp_fg_entry *free_slot = NULL, *dead = NULL, *old = NULL;
	for (uint32_t i = 0; i < PROBE; i++) {
		struct sfp_fg_entry *e = &g->e[(s + i) & g->mask];
		if (e->state != FREE && expired(g, e, now))
			drop_held(g, e, SFP_FG_R_TIMEOUT, FREE);
		if (e->state == FREE) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (same(&e->k, k))
			return e;
		struct sfp_fg_entry **best = e->state == DEAD ? &dead : &old;
		if (!*best || e->first_ms < (*best)->first_ms)
			*best = e;
	}
	*victim = free_slot ? free_slot : dead ? dead : old;
	return NULL;
}

/* the datagram is refused: its fragments go, a tombstone stays */
static enum sfp_fg_verdict poison(struct sfp_fg *g, struct sfp_fg_entry *e, enum sfp_fg_verdict v)
{
	drop_held(g, e, SFP_FG_R_REFUSED, DEAD);
	e->refused = (uint8_t)v;
	return v;
}

enum sfp_fg_verdict sfp_fg_add(struct sfp_fg *g, const struct sfp_fg_key *k, uint32_t off,
			       uint32_t len, bool more, void *frag, uint64_t now_ms,
			       void *out[SFP_FG_MAX_FRAGS], unsigned *n)
{
	struct sfp_fg_entry *victim = NULL, *e = find(g, k, now_ms, &victim);
	uint32_t end = off + len;

	*n = 0;
	if (!e) {
		/* a new datagram: within its source's quota, in a slot of its
		 * neighbourhood, the oldest occupant's if need be */
		bool fits = end <= SFP_FG_MAX_BYTES;
		if (fits && g->per_source) {
			const struct sfp_fg_src *s = src_find(g, k->src, false);
			if (s && s->n >= g->per_source)
				return SFP_FG_QUOTA;
		}
		e = victim;
		drop_held(g, e, SFP_FG_R_EVICTED, FREE);
		memset(e, 0, sizeof(*e));
		e->k = *k;
		e->first_ms = now_ms;
		if (!fits) {
			e->state = DEAD;
			e->refused = SFP_FG_TOO_BIG;
			return SFP_FG_TOO_BIG;
		}
		e->state = HOLD;
		g->holding++;
		/* looked up again: an eviction may have moved the counts */
		src_find(g, k->src, true)->n++;
	}
	if (e->state == DEAD)
		return (enum sfp_fg_verdict)e->refused;
	if (end > SFP_FG_MAX_BYTES)
		return poison(g, e, SFP_FG_TOO_BIG);
	for (unsigned i = 0; i < e->n; i++) {
		if (e->start[i] == off && e->end[i] == end)
			return SFP_FG_DUP;
		if (off < e->end[i] && e->start[i] < end)
			return poison(g, e, SFP_FG_OVERLAP);
	}
	/* the last fragment fixes the length: nothing may lie beyond it, and
	 * no other fragment may claim to be last elsewhere */
	if (!more) {
		if (e->have_last && e->total != end)
			return poison(g, e, SFP_FG_OVERLAP);
		for (unsigned i = 0; i < e->n; i++)
			if (e->end[i] > end)
				return poison(g, e, SFP_FG_OVERLAP);
		e->have_last = 1;
		e->total = end;
	} else if (e->have_last && end > e->total) {
		return poison(g, e, SFP_FG_OVERLAP);
	}
	if (e->n == SFP_FG_MAX_FRAGS)
		return poison(g, e, SFP_FG_TOO_MANY);
	e->start[e->n] = off;
	e->end[e->n] = end;
	e->frag[e->n] = frag;
	e->n++;
	e->got += len;
	/* no overlaps and nothing past total: total bytes held is all of it */
	if (!e->have_last || e->got != e->total)
		return SFP_FG_HELD;
	for (unsigned i = 0; i < e->n; i++) {
		unsigned j = i;
		while (j > 0 && e->start[j - 1] > e->start[i])
			j--;
		uint32_t st = e->start[i];
		void *f = e->frag[i];
		memmove(&e->start[j + 1], &e->start[j], (i - j) * sizeof(e->start[0]));
		memmove(&e->frag[j + 1], &e->frag[j], (i - j) * sizeof(e->frag[0]));
		e->start[j] = st;
		e->frag[j] = f;
	}
	memcpy(out, e->frag, e->n * sizeof(out[0]));
	*n = e->n;
	e->n = 0; /* handed over: nothing to release */
	src_dec(g, e->k.src);
	g->holding--;
	e->state = FREE;
	return SFP_FG_DONE;
}

void sfp_fg_sweep(struct sfp_fg *g, uint64_t now_ms)
{
	for (uint32_t i = 0; i <= g->mask; i++) {
		struct sfp_fg_entry *e = &g->e[i];
		if (e->state != FREE && expired(g, e, now_ms))
			drop_held(g, e, SFP_FG_R_TIMEOUT, FREE);
	}
}

void sfp_fg_flush(struct sfp_fg *g)
{
	for (uint32_t i = 0; i <= g->mask; i++)
		drop_held(g, &g->e[i], SFP_FG_R_FLUSH, FREE);
}
