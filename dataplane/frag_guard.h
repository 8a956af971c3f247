/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What DPDK 22.11's rte_ip_frag does not check, checked before a fragment
 * reaches it: overlapping fragments (RFC 1858 section 4, the "Teardrop"
 * family; RFC 5722 treats them as an attack and drops the whole datagram,
 * and so does sipfp for IPv4), exact duplicates, and more fragments than the
 * reassembler can hold.  Pure C, no DPDK: one table per worker lcore, memory
 * given by the caller, bounded, entries expire with the reassembly timeout.
 */
#ifndef SFP_FRAG_GUARD_H
#define SFP_FRAG_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFP_FG_MAX_FRAGS 8   /* = RTE_LIBRTE_IP_FRAG_MAX_FRAG of Debian's DPDK */

enum sfp_fg_verdict {
	SFP_FG_OK,        /* pass it to the reassembler */
	SFP_FG_DUP,       /* same offset and length as one already held: drop it alone */
	SFP_FG_OVERLAP,   /* overlaps another: drop it, and the datagram is poisoned */
	SFP_FG_POISONED,  /* part of a datagram already found hostile */
	SFP_FG_TOO_MANY,  /* more fragments than the reassembler holds: poisoned */
	SFP_FG_FULL,      /* no room to track it: drop */
};

struct sfp_fg_key {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
};

struct sfp_fg_entry {
	struct sfp_fg_key k;
	uint8_t n;         /* fragments held */
	uint8_t poisoned;
	uint64_t first_ms; /* 0: free */
	uint32_t start[SFP_FG_MAX_FRAGS], end[SFP_FG_MAX_FRAGS]; /* bytes, end exclusive */
};

struct sfp_fg {
	uint32_t mask;     /* entries - 1 (a power of two) */
	uint32_t timeout_ms;
	struct sfp_fg_entry e[];
};

/* entries rounded up to a power of two; bytes to give sfp_fg_init */
size_t sfp_fg_size(uint32_t entries);
void sfp_fg_init(struct sfp_fg *g, uint32_t entries, uint32_t timeout_ms);

/* one fragment: payload bytes [off, off + len) of datagram k */
enum sfp_fg_verdict sfp_fg_check(struct sfp_fg *g, const struct sfp_fg_key *k,
				 uint32_t off, uint32_t len, uint64_t now_ms);

/* the datagram was reassembled (or given up): forget it */
void sfp_fg_forget(struct sfp_fg *g, const struct sfp_fg_key *k, uint64_t now_ms);

#endif
