/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Next-hop resolution for what the control process sends (RFC 826), pure C.
 *
 * Owned by the data plane's main lcore only (workers hand it what they
 * learn through a ring), so no locking.  Frames to a next hop that is not
 * yet resolved wait in a bounded queue while ARP requests go out; they are
 * released when the answer comes, or dropped (and counted) when it does not.
 */
#ifndef SFP_ARP_CACHE_H
#define SFP_ARP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define SFP_ARP_ENTRIES   1024  /* neighbours remembered (power of two) */
#define SFP_ARP_PENDING   256   /* frames waiting for a resolution, in all */
#define SFP_ARP_TTL_MS    300000 /* forget a neighbour after 5 min without news */
#define SFP_ARP_RETRY_MS  250   /* ARP request interval while frames wait */
#define SFP_ARP_TRIES     4     /* requests before the waiting frames are dropped */

struct sfp_arp_ent {
	uint32_t ip;        /* network byte order; 0: free */
	uint8_t mac[6];
	uint8_t resolved;
	uint8_t tries;      /* requests sent while unresolved */
	uint64_t ts_ms;     /* learned, or last request sent */
};

struct sfp_arp_pend {
	uint32_t nh;
	void *frame;        /* the caller's (an mbuf); NULL: free slot */
};

struct sfp_arp {
	uint32_t addr, mask, gw; /* ours, our subnet's mask, default gateway (0: none) */
	struct sfp_arp_ent e[SFP_ARP_ENTRIES];
	struct sfp_arp_pend q[SFP_ARP_PENDING];
	uint32_t n_pending;
};

void sfp_arp_init(struct sfp_arp *a, uint32_t addr, uint8_t prefix_len, uint32_t gw);

/* The next hop for dst: dst itself on our subnet, else the gateway.
 * Returns 0 when there is no route. */
uint32_t sfp_arp_next_hop(const struct sfp_arp *a, uint32_t dst);

/* A neighbour's address seen in an ARP packet (RFC 826's merge step).
 * Only addresses on our subnet are kept: returns the stored MAC, or NULL
 * when it was not kept. */
const uint8_t *sfp_arp_learn(struct sfp_arp *a, uint32_t ip, const uint8_t mac[6], uint64_t now);

/* Resolved MAC of nh, or NULL. */
const uint8_t *sfp_arp_lookup(struct sfp_arp *a, uint32_t nh, uint64_t now);

enum sfp_arp_q { SFP_ARPQ_QUEUED, SFP_ARPQ_QUEUED_ASK, SFP_ARPQ_FULL };
/* Park a frame for nh.  _ASK: the caller must send an ARP request now. */
enum sfp_arp_q sfp_arp_park(struct sfp_arp *a, uint32_t nh, void *frame, uint64_t now);

/* After a learn: hand back (through cb) every frame parked for nh. */
void sfp_arp_release(struct sfp_arp *a, uint32_t nh, const uint8_t mac[6],
		     void (*cb)(void *ctx, void *frame, const uint8_t mac[6]), void *ctx);

/* Periodic: ask(nh) for next hops due another request; drop(frame) for
 * frames whose next hop did not answer after SFP_ARP_TRIES requests. */
void sfp_arp_tick(struct sfp_arp *a, uint64_t now, void (*ask)(void *ctx, uint32_t nh),
		  void (*drop)(void *ctx, void *frame), void *ctx);

#endif
