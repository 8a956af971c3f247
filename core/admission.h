/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admission control, pure C (no DPDK), so that the unit tests drive it:
 *
 *  - per-source token buckets (one table per worker lcore, bounded,
 *    set-associative, the least recently seen source of a set evicted);
 *  - the ban table (seqlock; main lcore writes, workers and sipfp-control
 *    read) and the allow list of trusted prefixes;
 *  - the brute-force tracker the main lcore feeds with failed
 *    authentications;
 *  - the User-Agent blocklist.
 *
 * Order on the fast path (cheapest refusal first, so that a flood costs as
 * little as possible): ban lookup before parsing -> per-source bucket
 * before parsing -> parse -> User-Agent -> out-of-dialog bucket.  The allow
 * list is consulted only when a bucket is empty or a ban is about to be
 * set, so trusted sources cost nothing extra and untrusted floods pay one
 * lookup, not a walk of the list per packet.
 */
#ifndef SFP_ADMISSION_H
#define SFP_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipfp/admit.h"

/* ---- token buckets ---------------------------------------------------- */

#define SFP_RL_WAYS 8
#define SFP_RL_SCALE 1000u      /* tokens are counted in thousandths */
#define SFP_RL_BURST_MAX 4000u  /* so that a full bucket fits 32 bits */

enum sfp_rl_bucket { SFP_RL_ALL = 0, SFP_RL_OOD = 1 };

struct sfp_rl_entry {
	uint32_t ip;        /* network order; 0 with last_ms 0: free */
	uint32_t last_ms;   /* of the last refill (wraps after 49 days: harmless) */
	uint32_t tok[2];    /* enum sfp_rl_bucket */
};

struct sfp_rl {
	uint32_t mask;      /* sets - 1 */
	uint64_t evictions;
	struct sfp_rl_entry e[];
};

struct sfp_rl_limits {
	uint32_t rate[2];   /* per second; 0: unlimited */
	uint32_t burst[2];
};

/* the buckets' limits from the shared ones (sipfpctl limit set): each
 * user of the buckets, a worker or the control process's TCP/TLS side,
 * keeps a copy it refreshes when l->gen moves */
static inline void sfp_rl_limits_set(struct sfp_rl_limits *r, const struct sfp_limits *l)
{
	r->rate[SFP_RL_ALL] = l->src_rate;
	r->burst[SFP_RL_ALL] = l->src_burst < SFP_RL_BURST_MAX ? l->src_burst : SFP_RL_BURST_MAX;
	r->rate[SFP_RL_OOD] = l->ood_rate;
	r->burst[SFP_RL_OOD] = l->ood_burst < SFP_RL_BURST_MAX ? l->ood_burst : SFP_RL_BURST_MAX;
}

/* both rates 0 switches the limits off */
static inline bool sfp_rl_limits_on(const struct sfp_rl_limits *r)
{
	return (r->rate[SFP_RL_ALL] | r->rate[SFP_RL_OOD]) != 0;
}

/* 64-bit finaliser (MurmurHash3 fmix64): spreads addresses over the sets */
static inline uint64_t sfp_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* index in e[] of the set an address hashes to: 8 ways of 16 bytes */
static inline size_t sfp_rl_set(const struct sfp_rl *t, uint32_t ip)
{
	return (size_t)(sfp_mix64(ip) & t->mask) * SFP_RL_WAYS;
}

/* Touch an address's set ahead of sfp_rl_get: with thousands of sources the
 * table does not fit in L2, and the miss was 7 % of a 407 (l3fwd-style
 * prefetch one packet ahead). */
static inline void sfp_rl_prefetch(const struct sfp_rl *t, uint32_t ip)
{
	const char *s = (const char *)&t->e[sfp_rl_set(t, ip)];
	/* 128 bytes that need not start on a line: up to three lines */
	__builtin_prefetch(s);
	__builtin_prefetch(s + 64);
	__builtin_prefetch(s + 127);
}

/* bytes for a table of at least `sources` entries (rounded up to a power
 * of two, at least one set) */
size_t sfp_rl_size(uint32_t sources);
void sfp_rl_init(struct sfp_rl *t, uint32_t sources);
/* the entry of ip, refilled to now; a new source starts with full buckets */
struct sfp_rl_entry *sfp_rl_get(struct sfp_rl *t, uint32_t ip, uint32_t now_ms,
				const struct sfp_rl_limits *l);
/* spend one token; false: the bucket is empty (rate 0: always true) */
bool sfp_rl_take(struct sfp_rl_entry *e, enum sfp_rl_bucket b, const struct sfp_rl_limits *l);

/* ---- ban table ---------------------------------------------------------- */

bool sfp_ban_lookup(const struct sfp_ban_table *t, uint32_t ip, uint16_t port, uint64_t now_ms);
/* add or extend; 0 added, 1 updated, -1 table full */
int sfp_ban_add(struct sfp_ban_table *t, uint32_t ip, uint16_t port, uint64_t now_ms,
		uint64_t until_ms, uint8_t why, uint32_t fails);
/* 0 removed, -1 not there */
int sfp_ban_del(struct sfp_ban_table *t, uint32_t ip, uint16_t port);
/* remove expired bans (and, with manual_too, manual ones); count removed */
unsigned sfp_ban_expire(struct sfp_ban_table *t, uint64_t now_ms);
unsigned sfp_ban_clear_manual(struct sfp_ban_table *t);
/* a consistent copy of the live bans, for listing; count copied */
unsigned sfp_ban_snapshot(const struct sfp_ban_table *t, struct sfp_ban *out, unsigned max);

/* ---- allow list ------------------------------------------------------------ */

bool sfp_allow_match(const struct sfp_allow_list *l, uint32_t ip);
/* 0 added, 1 already there, -1 full */
int sfp_allow_add(struct sfp_allow_list *l, uint32_t net, uint8_t len, bool from_cfg);
int sfp_allow_del(struct sfp_allow_list *l, uint32_t net, uint8_t len);
void sfp_allow_clear_runtime(struct sfp_allow_list *l);
unsigned sfp_allow_snapshot(const struct sfp_allow_list *l, struct sfp_cidr *out, unsigned max);

/* "a.b.c.d" or "a.b.c.d/len" (host bits must be zero); 0 or -1 */
int sfp_cidr_parse(const char *s, uint32_t *net, uint8_t *len);
/* "a.b.c.d" (port 0: every port) or "a.b.c.d:port"; 0 or -1 */
int sfp_hostport_parse(const char *s, uint32_t *ip, uint16_t *port);
/* every comma-separated CIDR of s into l (from_cfg); -1 names the bad one */
int sfp_allow_parse_list(struct sfp_allow_list *l, const char *s, char *err, size_t errlen);

/* ---- brute-force tracker (main lcore) ---------------------------------------- */

struct sfp_bf_entry {
	uint64_t key;       /* 0: free */
	uint64_t start_ms;  /* window start */
	uint32_t fails;
	uint32_t rsvd;
};

struct sfp_bf {
	uint32_t mask;
	struct sfp_bf_entry e[];
};

size_t sfp_bf_size(uint32_t keys);
void sfp_bf_init(struct sfp_bf *t, uint32_t keys);
/* count one failure for key; returns the failures within the window so
 * far (this one included).  A full set forgets its oldest window. */
uint32_t sfp_bf_fail(struct sfp_bf *t, uint64_t key, uint64_t now_ms, uint32_t window_ms);
void sfp_bf_forget(struct sfp_bf *t, uint64_t key);

/* ---- User-Agent blocklist -------------------------------------------------------- */

#define SFP_UA_MAX 32
#define SFP_UA_LEN 64

struct sfp_ua_list {
	unsigned n;
	struct { uint8_t len; char s[SFP_UA_LEN]; } e[SFP_UA_MAX];
};

/* comma-separated patterns; -1 when one is too long or there are too many */
int sfp_ua_parse(struct sfp_ua_list *l, const char *csv, char *err, size_t errlen);
/* case-insensitive substring match of any pattern in the header value */
bool sfp_ua_match(const struct sfp_ua_list *l, const char *p, size_t n);

#endif
