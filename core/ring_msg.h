/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packing a SIP payload into ring elements and back (no DPDK).
 *
 * One SIP message travels as a head element (SIP_RX or SIP_TX: metadata and
 * the first bytes) followed by SEG elements, all enqueued in one bulk so a
 * reader finds the segments right behind the head.  Both processes use this
 * one implementation, so the layout cannot drift between them; the reader
 * checks every length it is given because the other side may be a different
 * build.
 */
#ifndef SFP_RING_MSG_H
#define SFP_RING_MSG_H

#include <stdbool.h>
#include <stdint.h>
#include "sipfp/shm.h"

/* Fill msgs[0..n) for payload p of len bytes; returns n, or 0 when the
 * payload is larger than SFP_SIP_MAX.  msgs must hold SFP_MAX_NSEG. */
unsigned sfp_ring_pack(struct sfp_msg *msgs, uint16_t op, const struct sfp_sip_meta *mt,
		       const void *p, uint32_t len);

/* Reassembly of one message, element by element. */
struct sfp_ring_unpack {
	char *buf;             /* SFP_SIP_MAX bytes, the caller's */
	struct sfp_sip_meta m; /* copy of the head's metadata */
	uint16_t op;
	unsigned want;         /* elements still expected after the head */
	uint32_t got;
	bool ok;
};

/* Start with a head element.  Returns the number of SEG elements the
 * caller must now dequeue and feed (even when the head is bad, so the ring
 * stays aligned on message boundaries). */
unsigned sfp_ring_unpack_head(struct sfp_ring_unpack *u, const struct sfp_msg *head, char *buf);
void sfp_ring_unpack_seg(struct sfp_ring_unpack *u, const struct sfp_msg *seg);
/* True when the whole payload arrived intact: u->buf holds u->m.total_len bytes. */
bool sfp_ring_unpack_done(const struct sfp_ring_unpack *u);

#endif
