/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admission control state shared by the data plane (which enforces it) and
 * sipfp-control (which lists it for `sipfpctl ban|allow|limit`).  These live
 * in the state memzone (shm.h); their layout crosses the process boundary.
 *
 * Writers: only the data plane's main lcore.  Readers: workers (per packet)
 * and the control process.  Each structure carries a sequence counter
 * (seqlock): odd while the writer is changing it, readers retry when it
 * moved.  No pointers inside, so either process can read them.
 */
#ifndef SIPFP_ADMIT_H
#define SIPFP_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#define SFP_BAN_SLOTS   8192u   /* open addressing, linear probing */
#define SFP_BAN_MAX     4096u   /* at most half full: probes stay short */
#define SFP_ALLOW_MAX   256u

enum sfp_ban_why {
	SFP_BAN_MANUAL = 1,       /* sipfpctl ban add */
	SFP_BAN_SOURCE_FAILS = 2, /* too many failed authentications from it */
	SFP_BAN_USER_FAILS = 3,   /* failed for a user under attack from many sources */
};

/* key: 1 << 48 | ipv4 (network order) << 16 | port; port 0 = every port */
#define SFP_BAN_KEY(ip, port) ((1ull << 48) | ((uint64_t)(ip) << 16) | (uint16_t)(port))

/* a user name's hash, as failures per user are counted (FNV-1a; 0: no
 * name): the workers and the control process (TCP/TLS) report failures
 * with it, the main lcore counts them */
static inline uint64_t sfp_user_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return n ? (h | 1) : 0;
}

struct sfp_ban {
	uint64_t key;       /* 0: free slot */
	uint64_t since_ms;
	uint64_t until_ms;  /* 0: until removed */
	uint32_t fails;     /* failed authentications that led to it */
	uint8_t why;        /* enum sfp_ban_why */
	uint8_t rsvd[3];
};

struct sfp_ban_table {
	volatile uint32_t seq;
	volatile uint32_t count;
	struct sfp_ban slot[SFP_BAN_SLOTS];
};

struct sfp_cidr {
	uint32_t net;       /* network byte order, host bits zero */
	uint32_t mask;      /* network byte order */
	uint8_t len;
	uint8_t from_cfg;   /* from the configuration file, not from sipfpctl */
	uint8_t rsvd[2];
};

struct sfp_allow_list {
	volatile uint32_t seq;
	volatile uint32_t n;
	struct sfp_cidr e[SFP_ALLOW_MAX];
};

/*
 * Limits the operator can change at run time (`sipfpctl limit set`), with
 * the same names as their configuration keys.  _(name)
 */
#define SFP_LIMITS(_) \
	_(src_rate) _(src_burst) _(ood_rate) _(ood_burst) \
	_(bf_max_fails) _(bf_user_max_fails) _(bf_window_s) _(ban_time_s) _(ban_by_port)

struct sfp_limits {
#define SFP_LIMIT_FIELD(n) volatile uint32_t n;
	SFP_LIMITS(SFP_LIMIT_FIELD)
#undef SFP_LIMIT_FIELD
	volatile uint32_t gen;  /* bumped at every change */
};

#endif
