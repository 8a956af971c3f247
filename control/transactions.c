/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client transactions (RFC 3261 17.1): the table INVITE and non-INVITE
 * ones share, found by our branch and by the caller's, the branches of one
 * forked INVITE as a group (16.6/16.7), and what a transaction sends by
 * itself (CANCEL/ACK siblings, the final to the caller).  Their timers are
 * run by the routing (proxy.c), which decides what a timeout means.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px.h"

/* ---- INVITE client transactions (RFC 3261 17.1.1) -------------------------------- */

/* max_transactions entries, allocated at start.  Found by our branch
 * (responses from the callee), by the caller's branch (retransmissions,
 * CANCEL, ACK; all the branches of a forked INVITE share it); free slots
 * on a stack; the slots in use listed densely, so the timers walk only
 * those */
struct itx *px_itx;
uint32_t px_max_itx;
struct hidx px_itx_by_ours, px_itx_by_theirs;
uint32_t *px_itx_free_slots, px_n_itx_free;
uint32_t *px_itx_live, px_n_itx_live;

struct itx *px_itx_by_branch(struct sfp_str b)
{
	uint32_t i = hidx_first(&px_itx_by_ours, px_hstr(b));
	for (; i != HIDX_NONE; i = hidx_next(&px_itx_by_ours, i))
		if (px_itx[i].state != ITX_FREE && px_str_is(b, px_itx[i].branch))
			return &px_itx[i];
	return NULL;
}

/* the INVITE (or non-INVITE) client transaction made for the caller's
 * request with this branch; for a forked INVITE, any one of its branches */
struct itx *px_itx_by_in_branch(struct sfp_str b, struct sfp_str callid, bool non_invite)
{
	uint32_t i = hidx_first(&px_itx_by_theirs, px_hstr(b));
	for (; i != HIDX_NONE; i = hidx_next(&px_itx_by_theirs, i))
		if (px_itx[i].state != ITX_FREE && px_itx[i].non_invite == non_invite &&
		    px_str_is(b, px_itx[i].in_branch) && px_str_is(callid, px_itx[i].call_id))
			return &px_itx[i];
	return NULL;
}

/* the next branch of t's INVITE from slot i on (t's own included) */
struct itx *px_group_from(const struct itx *t, uint32_t i)
{
	for (; i != HIDX_NONE; i = hidx_next(&px_itx_by_theirs, i))
		if (px_itx[i].state != ITX_FREE && !px_itx[i].non_invite &&
		    !strcmp(px_itx[i].in_branch, t->in_branch) && !strcmp(px_itx[i].call_id, t->call_id))
			return &px_itx[i];
	return NULL;
}

/* the branch whose error final the caller was sent, if any */
struct itx *px_group_best(const struct itx *t)
{
	FOR_GROUP(s, t)
		if (s->best)
			return s;
	return NULL;
}

struct itx *px_itx_alloc(void)
{
	if (!px_n_itx_free)
		return NULL;
	uint32_t i = px_itx_free_slots[--px_n_itx_free];
	struct itx *t = &px_itx[i];
	memset(t, 0, sizeof(*t));
	t->live_pos = px_n_itx_live;
	px_itx_live[px_n_itx_live++] = i;
	return t;
}

/* indexed once its branches are known */
void px_itx_index(struct itx *t)
{
	uint32_t i = (uint32_t)(t - px_itx);
	hidx_add(&px_itx_by_ours, i, px_hs(t->branch));
	hidx_add(&px_itx_by_theirs, i, px_hs(t->in_branch));
}

void px_itx_free(struct itx *t)
{
	uint32_t i = (uint32_t)(t - px_itx);
	if (t->state != ITX_FREE) {
		hidx_del(&px_itx_by_ours, i, px_hs(t->branch));
		hidx_del(&px_itx_by_theirs, i, px_hs(t->in_branch));
	}
	free(t->fwd);
	free(t->orig);
	free(t->resp);
	uint32_t last = px_itx_live[--px_n_itx_live];
	px_itx_live[t->live_pos] = last;
	px_itx[last].live_pos = t->live_pos;
	memset(t, 0, sizeof(*t));
	px_itx_free_slots[px_n_itx_free++] = i;
}

/* a request of ours toward the callee about the forwarded INVITE: the
 * hop-by-hop ACK to an error (17.1.1.3) or a CANCEL (9.1) */
void px_send_sibling(const char *method, struct sfp_str ruri, struct sfp_str via, struct sfp_str from,
		     struct sfp_str to, struct sfp_str call_id, uint32_t cseq, uint32_t ip, uint16_t port)
{
	static char out[4096];
	struct sfp_wbuf w = { out, 0, sizeof(out), false };
	px_putf(&w, "%s ", method);
	sfp_putstr(&w, ruri);
	sfp_puts(&w, " SIP/2.0\r\nVia: ");
	sfp_putstr(&w, via);
	sfp_puts(&w, "\r\nMax-Forwards: 70\r\nFrom: ");
	sfp_putstr(&w, from);
	sfp_puts(&w, "\r\nTo: ");
	sfp_putstr(&w, to);
	sfp_puts(&w, "\r\nCall-ID: ");
	sfp_putstr(&w, call_id);
	px_putf(&w, "\r\nCSeq: %u %s\r\nContent-Length: 0\r\n\r\n", cseq, method);
	if (!w.full)
		px_e.send(ip, port, out, (uint32_t)w.n);
}

void px_itx_send_sibling(struct itx *t, const char *method, struct sfp_str to_override)
{
	struct sfp_sip f;
	if (!t->fwd || sfp_scan(t->fwd, t->fwd_len, &f) != SFP_SE_OK)
		return;
	px_send_sibling(method, f.ruri, f.via[0], f.from, to_override.p ? to_override : f.to,
			f.call_id, f.cseq_num, t->dst_ip, t->dst_port);
}

void px_itx_reply_caller(struct itx *t, uint16_t code, const char *reason)
{
	struct sfp_sip o;
	if (t->orig && sfp_scan(t->orig, t->orig_len, &o) == SFP_SE_OK)
		px_e.respond(&t->orig_mt, &o, code, reason, NULL);
}

/* a transaction that will neither send its request again nor answer the
 * caller from it (a 2xx came, or a non-INVITE final) keeps only what
 * matches retransmissions: most of its memory goes back at once */
void px_itx_trim(struct itx *t)
{
	free(t->fwd);
	free(t->orig);
	t->fwd = t->orig = NULL;
	t->fwd_len = t->orig_len = 0;
}

int px_itx_init(uint32_t max)
{
	px_max_itx = max ? max : 1;
	px_itx = calloc(px_max_itx, sizeof(*px_itx));
	px_itx_free_slots = calloc(px_max_itx, sizeof(*px_itx_free_slots));
	px_itx_live = calloc(px_max_itx, sizeof(*px_itx_live));
	if (!px_itx || !px_itx_free_slots || !px_itx_live ||
	    hidx_init(&px_itx_by_ours, px_pow2(px_max_itx), px_max_itx) ||
	    hidx_init(&px_itx_by_theirs, px_pow2(px_max_itx), px_max_itx))
		return -1;
	px_n_itx_free = px_n_itx_live = 0;
	for (uint32_t i = px_max_itx; i-- > 0;)
		px_itx_free_slots[px_n_itx_free++] = i;
	return 0;
}
