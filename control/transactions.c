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

#include "media.h"
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

/* a client transaction for the request in out[0..n) (made from the
 * caller's m), sent to ip:port: timer A/E from T1, B/F at 64*T1; NULL when the table is full */
struct itx *px_itx_start(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			 const char *br, const char *out, size_t n, uint32_t ip, uint16_t port, bool non_invite)
{
	struct itx *t = px_itx_alloc();
	if (!t)
		return NULL;
	t->fwd = malloc(n);
	t->orig = malloc(m->msg_len);
	if (!t->fwd || !t->orig) {
		px_itx_free(t);
		return NULL;
	}
	memcpy(t->fwd, out, n);
	t->fwd_len = (uint32_t)n;
	memcpy(t->orig, p, m->msg_len);
	t->orig_len = m->msg_len;
	t->orig_mt = *mt;
	t->non_invite = non_invite;
	snprintf(t->branch, sizeof(t->branch), "%s", br);
	px_cstr(t->in_branch, sizeof(t->in_branch), m->top_via.branch);
	px_cstr(t->call_id, sizeof(t->call_id), m->call_id);
	t->dst_ip = ip;
	t->dst_port = port;
	t->state = ITX_CALLING;
	px_itx_index(t);
	t->a_int = px_e.t1_ms;
	t->t_a = mt->rx_ms + t->a_int;
	t->t_b = mt->rx_ms + 64ull * px_e.t1_ms;
	return t;
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

/* ---- the branches of one INVITE (16.6, 16.7) ----------------------------------- */

/* a branch that the caller's CANCEL, or a 2xx or 6xx on another branch,
 * makes pointless (16.7 step 10, 16.10): CANCEL it now if it has had a
 * provisional, else at its first one (9.1) */
void px_branch_cancel(struct itx *s)
{
	if (s->state == ITX_COMPLETED || s->cancelled)
		return;
	s->cancelled = true;
	if (s->state == ITX_PROCEEDING)
		px_itx_send_sibling(s, "CANCEL", (struct sfp_str){ NULL, 0 });
}

/* the caller's answer from branch s: the callee's response in the form
 * relayed (proxy), or one built from the caller's request (a 408 of ours;
 * every final of the back-to-back mode, which relays none) */
void px_send_final(struct itx *s)
{
	if (!s->reinvite)
		md_end(s->call_id, "call not answered");
	if (s->resp) {
		px_cnt.resp_relayed++;
		px_e.send(s->resp_ip, s->resp_port, s->resp, s->resp_len);
	} else {
		px_itx_reply_caller(s, s->final, s->reason);
	}
}

/* 16.7 step 6: a 6xx if there is one, else the lowest class; among
 * equals, one the callee sent rather than one of ours */
static unsigned rank(const struct itx *s)
{
	unsigned c = s->final / 100;
	return (c == 6 ? 0u : c * 2) + (s->resp ? 0u : 1u);
}

/* once every branch of t's INVITE has ended and none with a 2xx, the
 * caller gets the best final response (16.7 steps 6 and 8); its user
 * (px_settled) is told */
void px_group_settle(struct itx *t)
{
	struct itx *best = NULL;
	unsigned n = 0;
	FOR_GROUP(s, t) {
		if (s->state != ITX_COMPLETED || s->upstream_final)
			return;
		if (!best || rank(s) < rank(best))
			best = s;
		n++;
	}
	if (!best)
		return;
	FOR_GROUP(s, t)
		s->upstream_final = true;
	best->best = true;
	/* 16.7 step 6: a 503 becomes 500 (the caller would take it for
	 * ours and stop using us) */
	if (best->final == 503 && !best->resp) {
		best->final = 500;
		snprintf(best->reason, sizeof(best->reason), "Server Internal Error");
	}
	px_send_final(best);
	px_settled(t, best, n);
}

/* t has ended without an answer from the callee: as if it had sent 408
 * (timer B; timer C after its CANCEL: 16.8) */
static void branch_fail(struct itx *t, uint16_t code, const char *reason, const char *why, uint64_t now)
{
	char ipb[16];
	px_e.log("INVITE %s -> %s at %s:%u: %s", t->caller, t->callee, px_ipstr(t->dst_ip, ipb), t->dst_port, why);
	t->state = ITX_COMPLETED;
	t->final = code;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	t->t_end = now + 64ull * px_e.t1_ms;
	if (t->early_tag[0])
		px_dlg_drop_early(t->call_id, t->early_tag);
	px_group_settle(t);
}

void px_branch_timeout(struct itx *t, const char *why, uint64_t now)
{
	branch_fail(t, 408, "Request Timeout", why, now);
}

/* RFC 3261 8.1.3.1, 17.1.4: a transport error (a connection that could not
 * be opened, a certificate not trusted) is a 503 from the branches sent to
 * ip:port that have had no answer; a non-INVITE one ends at once (timer
 * F, at the next tick) */
void px_transport_failed(uint32_t ip, uint16_t port, uint64_t now)
{
	uint32_t hit[64];
	unsigned n = 0;
	for (uint32_t k = 0; k < px_n_itx_live && n < 64; k++) {
		struct itx *t = &px_itx[px_itx_live[k]];
		if (t->state == ITX_CALLING && t->dst_ip == ip && t->dst_port == port)
			hit[n++] = px_itx_live[k];
	}
	/* settling a group may free transactions: the matches first, then
	 * each one that is still as it was */
	for (unsigned i = 0; i < n; i++) {
		struct itx *t = &px_itx[hit[i]];
		if (t->state != ITX_CALLING || t->dst_ip != ip || t->dst_port != port)
			continue;
		if (t->non_invite)
			t->t_b = now;
		else
			branch_fail(t, 503, "Service Unavailable", "transport error (no connection), 503", now);
	}
}

/* an INVITE whose transaction exists already: a retransmission (the fast
 * path sent 100 again); once the caller has its error, it gets it again
 * (17.2.1).  True when m was one */
bool px_invite_again(const struct sfp_sip *m)
{
	struct itx *t = px_itx_by_in_branch(m->top_via.branch, m->call_id, false);
	if (!t)
		return false;
	px_cnt.req_absorbed++;
	struct itx *best = px_group_best(t);
	if (best)
		px_send_final(best);
	return true;
}

/* 17.1.1.2: what a response does to the INVITE client transaction t */
enum px_ict_ev px_ict_take(struct itx *t, const struct sfp_sip *m, uint64_t now)
{
	if (m->status < 200) {
		if (t->state == ITX_CALLING) {
			t->state = ITX_PROCEEDING;
			t->t_c = now + px_e.timer_c_ms;
			if (t->cancelled) /* 9.1: the CANCEL waited for this */
				px_itx_send_sibling(t, "CANCEL", (struct sfp_str){ NULL, 0 });
		}
		return PX_ICT_1XX;
	}
	if (m->status < 300) {
		/* a 2xx ends the INVITE client transaction; its
		 * retransmissions go on without it, so not the 64*T1 of RFC
		 * 6026's Accepted state: only 2*T1, a round trip with margin,
		 * for INVITE retransmissions that crossed the answer.  At
		 * thousands of calls per second this is what sizes the
		 * transaction table */
		t->final = m->status;
		t->state = ITX_COMPLETED;
		t->t_end = now + 2ull * px_e.t1_ms;
		px_itx_trim(t);
		return PX_ICT_2XX;
	}
	/* 17.1.1.3: ACK the error ourselves, hop by hop */
	px_itx_send_sibling(t, "ACK", m->to);
	if (t->state == ITX_COMPLETED)
		return PX_ICT_AGAIN;
	t->final = m->status;
	t->state = ITX_COMPLETED;
	t->t_end = now + 64ull * px_e.t1_ms;
	px_cstr(t->reason, sizeof(t->reason), m->reason);
	if (t->early_tag[0])
		px_dlg_drop_early(t->call_id, t->early_tag);
	return PX_ICT_ERROR;
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
