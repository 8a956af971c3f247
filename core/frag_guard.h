/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 reassembly for the fast path, in place of DPDK 22.11's rte_ip_frag,
 * which checks none of what an attacker exploits and refuses every new
 * datagram once a few hundred incomplete ones fill its buckets.
 *
 * What it checks: overlapping fragments (RFC 1858 4, the "Teardrop"
 * family; RFC 5722 drops the whole datagram, and so does sipfp for IPv4),
 * exact duplicates, more than SFP_FG_MAX_FRAGS fragments, data beyond
 * SFP_FG_MAX_BYTES, a last fragment that contradicts what is held.
 *
 * Why an attacker cannot starve it:
 *  - a new datagram never finds the table "full": when its neighbourhood
 *    has no free slot it takes the place of the oldest entry there, a
 *    refused datagram's tombstone first, else the oldest incomplete one
 *    (which has waited longest and is the least likely to complete);
 *  - one source address holds at most per_source incomplete datagrams;
 *    beyond that its new datagrams are refused at their first fragment
 *    and take no slot, so a few sources cannot churn everyone out;
 *  - a refused datagram gives its fragments back at once and leaves only
 *    a tombstone (no packets) until the timeout, so its later fragments
 *    are dropped without holding anything;
 *  - slots are chosen by a keyed hash, so nobody aims at a neighbourhood.
 *
 * Pure C, no DPDK: fragments are opaque handles; whatever the table lets
 * go (evicted, timed out, refused) goes to the release callback with the
 * reason, and a complete datagram comes back in offset order.  One table
 * per worker lcore, memory given by the caller, bounded work per fragment.
 */
#ifndef SFP_FRAG_GUARD_H
#define SFP_FRAG_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8 fragments of 1480 bytes (a 1500-byte MTU): 11,840 bytes of IP payload.
 * Larger SIP messages belong on TCP (RFC 3261 18.1.1); the bound also caps
 * what one datagram holds of the mempool (frag_entries x 8 x workers). */
#define SFP_FG_MAX_FRAGS 8
#define SFP_FG_MAX_BYTES (SFP_FG_MAX_FRAGS * 1480u)

/* A datagram refused once stays refused until its timeout: each later
 * fragment of it gets the verdict that refused it (OVERLAP, TOO_MANY,
 * TOO_BIG), so all its fragments are counted under one reason. */
enum sfp_fg_verdict {
	SFP_FG_HELD,      /* kept until the rest arrives */
	SFP_FG_DONE,      /* the datagram is complete: see sfp_fg_add */
	SFP_FG_DUP,       /* same offset and length as one held: drop it alone */
	SFP_FG_OVERLAP,   /* overlaps one held, or contradicts the last: poisons */
	SFP_FG_TOO_MANY,  /* one fragment more than SFP_FG_MAX_FRAGS: poisons */
	SFP_FG_TOO_BIG,   /* data beyond SFP_FG_MAX_BYTES: poisons */
	SFP_FG_QUOTA,     /* its source holds per_source datagrams already: drop */
};

/* why held fragments were given back */
enum sfp_fg_release {
	SFP_FG_R_EVICTED,  /* its slot went to a newer datagram */
	SFP_FG_R_TIMEOUT,  /* never completed within the timeout (RFC 791) */
	SFP_FG_R_REFUSED,  /* its datagram was poisoned (the verdict says why) */
	SFP_FG_R_FLUSH,    /* sfp_fg_flush: the table is being torn down */
};

typedef void (*sfp_fg_release_fn)(void *ctx, void *frag, enum sfp_fg_release why);

struct sfp_fg_key {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
};

struct sfp_fg_entry {
	struct sfp_fg_key k;
	uint8_t state;       /* free, holding, or a refused datagram's tombstone */
	uint8_t n;           /* fragments held */
	uint8_t have_last;
	uint8_t refused;     /* a tombstone's verdict */
	uint32_t total;      /* payload bytes, known once the last fragment came */
	uint32_t got;        /* payload bytes held */
	uint64_t first_ms;
	uint32_t start[SFP_FG_MAX_FRAGS], end[SFP_FG_MAX_FRAGS]; /* end exclusive */
	void *frag[SFP_FG_MAX_FRAGS];
};

/* incomplete datagrams per source address: open addressing, as many slots
 * as entries (each holding entry has one source, so it never fills) */
struct sfp_fg_src {
	uint32_t ip;
	uint32_t n;          /* 0: free */
};

struct sfp_fg {
	uint32_t mask;       /* entries - 1 (a power of two) */
	uint32_t timeout_ms;
	uint32_t per_source;
	uint64_t seed;
	sfp_fg_release_fn release;
	void *ctx;
	uint32_t holding;    /* entries holding fragments */
	struct sfp_fg_src *src; /* mask + 1 of them, after e[] */
	struct sfp_fg_entry e[];
};

/* entries rounded up to a power of two; bytes to give sfp_fg_init */
size_t sfp_fg_size(uint32_t entries);
/* per_source 0: no quota.  seed keys the slot hash (random per table) */
void sfp_fg_init(struct sfp_fg *g, uint32_t entries, uint32_t timeout_ms, uint32_t per_source,
		 uint64_t seed, sfp_fg_release_fn release, void *ctx);

/* One fragment: payload bytes [off, off + len) of datagram k, more = the MF
 * flag.  HELD and DONE take frag; every other verdict leaves it with the
 * caller, to drop.  DONE: out[0..*n) are the datagram's fragments in offset
 * order (frag among them), their payloads exactly [0, total), and the table
 * keeps none of them. */
enum sfp_fg_verdict sfp_fg_add(struct sfp_fg *g, const struct sfp_fg_key *k, uint32_t off,
			       uint32_t len, bool more, void *frag, uint64_t now_ms,
			       void *out[SFP_FG_MAX_FRAGS], unsigned *n);

/* give back the fragments of datagrams past the timeout; call often enough
 * that an idle table lets go of them (the data plane: every 100 ms) */
void sfp_fg_sweep(struct sfp_fg *g, uint64_t now_ms);
/* give back everything */
void sfp_fg_flush(struct sfp_fg *g);

#endif
