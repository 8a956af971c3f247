/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media anchoring in the control process: one media session per call,
 * its local ports (four per stream: RTP and RTCP facing the caller, RTP
 * and RTCP facing the callee), the SDP each side sees rewritten to name
 * sipfp (sdp.h), and the fast path's flows installed to match
 * (include/sipfp/media.h).
 *
 * Ports come from media_ports in units of four, handed out from the head
 * of a FIFO and put back at its tail when a call ends: O(1) both ways, and
 * a unit is given out again only media_port_quarantine_s after it was put
 * back, so stale packets of a finished call never reach the next one.
 */
#ifndef SFP_MEDIA_H
#define SFP_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy.h"
#include "sdp.h"

enum md_rc {
	MD_OK = 0,        /* *body is what to send (rewritten, or the original) */
	MD_NO_PORTS = -1, /* media_ports exhausted: 503 for a new call */
	MD_BAD_SDP = -2,  /* 488 for a request; a response goes on unchanged */
};

struct md_unit_pool {
	uint32_t first, n;      /* first port; units of 4 */
	uint32_t *q;            /* FIFO of free units */
	uint64_t *freed_ms;     /* when each unit was put back */
	uint32_t head, count;
	uint32_t quarantine_ms;
};

/* the pool, pure and unit-tested: 0, or -1 (no memory, range too small) */
int md_pool_init(struct md_unit_pool *p, uint32_t first, uint32_t last, uint32_t quarantine_ms);
/* a unit's first port, or 0 when none is free (or all free ones are in
 * quarantine) */
uint16_t md_pool_get(struct md_unit_pool *p, uint64_t now_ms);
void md_pool_put(struct md_unit_pool *p, uint16_t port, uint64_t now_ms);
/* take the unit of port out of the free ones (at start: in use already);
 * 0, or -1 when it is not free */
int md_pool_take(struct md_unit_pool *p, uint16_t port);
void md_pool_free(struct md_unit_pool *p);

int md_init(void);
/* the SDP of message m (from the side it describes), rewritten for the
 * other side into out; *body is the body to send */
enum md_rc md_message(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
		      bool new_call, char *out, size_t cap, struct sfp_str *body);
/* the same for a call whose sides have Call-IDs of their own (b2bua):
 * key is the caller's Call-ID, side 0 the caller's SDP, 1 the callee's */
enum md_rc md_message_leg(const char *key, unsigned side, const struct sfp_sip_meta *mt, const char *p,
			  const struct sfp_sip *m, char *out, size_t cap, struct sfp_str *body);
void md_reclaim(const char *call_id, const char *a_tag);
/* the call's INVITE was answered 2xx */
void md_confirm(struct sfp_str call_id, uint64_t now_ms);
/* the call is over: its flows removed, its ports back to the pool, a
 * CDR-like log line (duration, packets each way, loss, worst jitter) */
void md_end(const char *call_id, const char *why);
void md_tick(uint64_t now_ms);
unsigned md_sessions(void);
void md_list(px_row_fn row, void *ctx, uint64_t now_ms);

#endif
