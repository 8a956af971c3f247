/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>
#include "ring_msg.h"

unsigned sfp_ring_pack(struct sfp_msg *msgs, uint16_t op, const struct sfp_sip_meta *mt,
		       const void *p, uint32_t len)
{
	if (len > SFP_SIP_MAX)
		return 0;
	const uint8_t *src = p;
	unsigned nseg = sfp_msg_nseg(len);
	struct sfp_msg *f = &msgs[0];
	uint32_t c = len < SFP_FIRST_DATA ? len : (uint32_t)SFP_FIRST_DATA;

	f->h = (struct sfp_msg_hdr){ .version = SFP_MSG_VERSION, .op = op,
				     .nseg = (uint16_t)nseg, .len = (uint16_t)c };
	f->u.sip.m = *mt;
	f->u.sip.m.total_len = len;
	memcpy(f->u.sip.data, src, c);
	for (unsigned i = 1; i < nseg; i++) {
		uint32_t k = len - c < SFP_SEG_DATA ? len - c : (uint32_t)SFP_SEG_DATA;
		msgs[i].h = (struct sfp_msg_hdr){ .version = SFP_MSG_VERSION, .op = SFP_OP_SEG,
						  .nseg = (uint16_t)(nseg - i), .len = (uint16_t)k };
		memcpy(msgs[i].u.seg, src + c, k);
		c += k;
	}
	return nseg;
}

unsigned sfp_ring_unpack_head(struct sfp_ring_unpack *u, const struct sfp_msg *head, char *buf)
{
	u->buf = buf;
	u->m = head->u.sip.m;
	u->m.user[SFP_USER_MAX - 1] = '\0';
	u->op = head->h.op;
	u->got = 0;
	u->want = head->h.nseg >= 1 && head->h.nseg <= SFP_MAX_NSEG ? head->h.nseg - 1u : 0;
	u->ok = head->h.version == SFP_MSG_VERSION && head->h.nseg >= 1 &&
		head->h.nseg <= SFP_MAX_NSEG && u->m.total_len <= SFP_SIP_MAX &&
		head->h.len <= SFP_FIRST_DATA && head->h.len <= u->m.total_len &&
		head->h.nseg == sfp_msg_nseg(u->m.total_len);
	if (u->ok) {
		memcpy(buf, head->u.sip.data, head->h.len);
		u->got = head->h.len;
	}
	return u->want;
}

void sfp_ring_unpack_seg(struct sfp_ring_unpack *u, const struct sfp_msg *seg)
{
	if (!u->want) {
		u->ok = false;
		return;
	}
	/* SEG elements count down to 1: a mismatch means a lost or foreign element */
	if (!u->ok || seg->h.version != SFP_MSG_VERSION || seg->h.op != SFP_OP_SEG ||
	    seg->h.nseg != u->want || seg->h.len > SFP_SEG_DATA ||
	    u->got + seg->h.len > u->m.total_len)
		u->ok = false;
	else {
		memcpy(u->buf + u->got, seg->u.seg, seg->h.len);
		u->got += seg->h.len;
	}
	u->want--;
}

bool sfp_ring_unpack_done(const struct sfp_ring_unpack *u)
{
	return u->ok && u->want == 0 && u->got == u->m.total_len;
}
