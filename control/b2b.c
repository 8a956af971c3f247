/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The back-to-back mode (mode = b2bua): RFC 7092's signalling-and-media
 * B2BUA, as the reference capture's server behaves.
 *
 * For every call it routes, sipfp is the UAS of the caller's dialog (leg
 * A) and the UAC of a dialog of its own towards the callee (leg B): a new
 * Call-ID (random, nothing of A's in it), From-tag, CSeq space, Via and
 * Contact of sipfp, Max-Forwards one less than A's (RFC 7332), Session-ID
 * carried (RFC 7989), From/To URIs and display names as A sent them.
 * Nothing of one side's Via, Contact, Record-Route or Call-ID reaches the
 * other: each message on a leg is written from that leg's dialog state,
 * with a short list of end-to-end header fields copied (copy_e2e).
 *
 * Transactions are the proxy's (transactions.c): the INVITE on B forks to
 * every contact of the callee as a group whose errors settle into one
 * final on A (16.7 step 6, built from A's INVITE, never relayed); CANCEL
 * on A cancels the group.  A 2xx on B becomes a 2xx on A, retransmitted
 * until A's ACK (13.3.1.4); B's 2xx is ACKed when A's ACK arrives, with
 * A's ACK body if it has one (late offer).  A second 2xx from another fork
 * is ACKed and BYEd (13.2.2.4).  In-dialog requests go to the other leg
 * in its own CSeq space, in a client transaction whose answer goes back
 * as a new response on the first leg; BYE ends both legs at once, 481 or
 * 408 on one leg ends both, REFER gets 403.
 *
 * Session timers (RFC 4028): sipfp offers Session-Expires on B; 422 with
 * Min-SE makes it try again with the larger interval; on each leg where it
 * is the refresher it sends UPDATE at half the interval, where the other
 * side is, it ends both legs with BYE when no refresh came in time (10).
 *
 * A call's dialog state is persisted (SQLite, one record per call) when
 * it is answered and whenever a CSeq of ours moves: after a restart of
 * the control process a call that was up can still be hung up from either
 * side, and sipfp's own requests go on in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "media.h"
#include "px.h"

#define B2B_VERSION 2
#define T2_RETX_MS  4000u

enum b2b_state { B2B_FREE = 0, B2B_CALLING, B2B_ANSWERED, B2B_UP };

/* one leg as sipfp sees it: its dialog (RFC 3261 12) from our end */
struct b2b_leg {
	char call_id[128];
	char local[320];      /* our identity on it, with our tag: From of our requests */
	char remote[320];     /* the far end's, with its tag: To of our requests */
	char local_tag[64], remote_tag[64];
	char target[256];     /* its Contact: Request-URI of our requests (12.2.1.1) */
	uint32_t ip;          /* where it is reached: the address its messages come from */
	uint16_t port;
	uint32_t local_cseq, remote_cseq;
	uint32_t se;          /* session interval, s; 0: no session timer on this leg */
	uint8_t we_refresh;   /* sipfp is the refresher (RFC 4028 refresher param) */
	char route[256];      /* its route set as a Route value (12.1.2: the 2xx's
			       * Record-Route reversed), "" for none */
};

/* what is persisted: the dialog state of both legs */
struct b2b_rec {
	uint32_t version;
	uint32_t state;
	char caller[64], callee[64];
	char a_branch[128];   /* A's INVITE: its retransmissions */
	uint32_t a_cseq;
	uint64_t created_ms;
	struct b2b_leg leg[2]; /* 0: A, the caller (we are its UAS); 1: B, the callee */
};

struct b2b_call {
	struct b2b_rec r;
	uint32_t gen;         /* the slot's generation: a late transaction of an ended call is ignored */
	uint32_t live_pos;
	uint64_t refresh_at[2], expire_at[2];
	/* a 2xx of ours retransmitted until its ACK (13.3.1.4) */
	char *ok;
	uint32_t ok_len, ok_ip, ok_cseq;
	uint16_t ok_port;
	uint8_t ok_leg;
	uint64_t ok_next, ok_int, ok_giveup;
	bool ok_initial;      /* the answer to A's INVITE (B waits for the ACK) */
	char *ack;            /* our ACK to B's 2xx, sent again for its retransmissions */
	uint32_t ack_len;
	uint32_t ack_cseq;     /* the CSeq of B's INVITE whose 2xx awaits our ACK */
	bool retried_422;
};

static struct b2b_call *calls;
static uint32_t max_calls, n_live, *live, *free_slots, n_free, gen_next;
static struct hidx by_a, by_b; /* the legs' Call-IDs */
static char obuf[MSG_MAX + 1];
static char sdp_out[16384];

unsigned b2b_calls(void) { return n_live; }

static uint32_t slot(const struct b2b_call *c) { return (uint32_t)(c - calls); }

static struct b2b_call *call_alloc(void)
{
	if (!n_free)
		return NULL;
	struct b2b_call *c = &calls[free_slots[--n_free]];
	memset(c, 0, sizeof(*c));
	c->gen = ++gen_next;
	c->live_pos = n_live;
	live[n_live++] = slot(c);
	return c;
}

static void call_index(struct b2b_call *c)
{
	hidx_add(&by_a, slot(c), px_hs(c->r.leg[0].call_id));
	hidx_add(&by_b, slot(c), px_hs(c->r.leg[1].call_id));
}

static void rec_key(const struct b2b_call *c, char *k, size_t cap)
{
	snprintf(k, cap, "%s;%s", c->r.leg[0].call_id, c->r.leg[0].remote_tag);
}

static void persist(const struct b2b_call *c)
{
	char k[200];
	rec_key(c, k, sizeof(k));
	store_b2b_put(px_e.db, k, &c->r, sizeof(c->r));
}

static void call_free(struct b2b_call *c)
{
	uint32_t i = slot(c);
	if (c->r.state >= B2B_ANSWERED) {
		char k[200];
		rec_key(c, k, sizeof(k));
		store_b2b_del(px_e.db, k);
	}
	hidx_del(&by_a, i, px_hs(c->r.leg[0].call_id));
	hidx_del(&by_b, i, px_hs(c->r.leg[1].call_id));
	free(c->ok);
	free(c->ack);
	uint32_t last = live[--n_live];
	live[c->live_pos] = last;
	calls[last].live_pos = c->live_pos;
	memset(&c->r, 0, sizeof(c->r));
	c->ok = c->ack = NULL;
	c->gen = 0;
	free_slots[n_free++] = i;
}

/* the call and leg a message's Call-ID belongs to */
static struct b2b_call *find(struct sfp_str call_id, unsigned *leg)
{
	for (uint32_t i = hidx_first(&by_a, px_hstr(call_id)); i != HIDX_NONE; i = hidx_next(&by_a, i))
		if (calls[i].r.state && px_str_is(call_id, calls[i].r.leg[0].call_id)) {
			*leg = 0;
			return &calls[i];
		}
	for (uint32_t i = hidx_first(&by_b, px_hstr(call_id)); i != HIDX_NONE; i = hidx_next(&by_b, i))
		if (calls[i].r.state && px_str_is(call_id, calls[i].r.leg[1].call_id)) {
			*leg = 1;
			return &calls[i];
		}
	return NULL;
}

static struct b2b_call *of_itx(const struct itx *t)
{
	if (!t->b2b || t->b2b > max_calls)
		return NULL;
	struct b2b_call *c = &calls[t->b2b - 1];
	return c->gen == t->b2b_gen && c->r.state ? c : NULL;
}

static void bind_itx(struct itx *t, const struct b2b_call *c, enum b2b_kind k, unsigned leg)
{
	t->b2b = slot(c) + 1;
	t->b2b_gen = c->gen;
	t->b2b_kind = (uint8_t)k;
	t->b2b_leg = (uint8_t)leg;
}

/* ---- SIP text ------------------------------------------------------------------ */

static void hexrand(char *out, size_t bytes)
{
	uint8_t r[32];
	if (bytes > sizeof(r))
		bytes = sizeof(r);
	if (getrandom(r, bytes, 0) != (ssize_t)bytes)
		for (size_t i = 0; i < bytes; i++) /* never in practice; still distinct per call */
			r[i] = (uint8_t)(rand() ^ (int)(i * 131u) ^ (int)gen_next);
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

/* v (a From or To value) without its ;tag=... parameter */
bool b2b_strip_tag(struct sfp_str v, struct sfp_str tag, char *out, size_t cap)
{
	if (!tag.p || tag.p < v.p || tag.p + tag.n > v.p + v.n) {
		if (v.n >= cap)
			return false;
		px_cstr(out, cap, v);
		return true;
	}
	const char *q = tag.p;
	if (q - v.p < 5 || strncasecmp(q - 4, "tag=", 4))
		return false;
	q -= 4;
	while (q > v.p && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q == v.p || q[-1] != ';')
		return false;
	q--;
	size_t a = (size_t)(q - v.p), b = (size_t)(v.p + v.n - (tag.p + tag.n));
	if (a + b >= cap)
		return false;
	memcpy(out, v.p, a);
	memcpy(out + a, tag.p + tag.n, b);
	out[a + b] = '\0';
	return true;
}

/* the first value of header field name in message m, or p==NULL */
static struct sfp_str hdr(const char *p, const struct sfp_sip *m, const char *name, char compact)
{
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h))
		if (px_name_is(h.name, name, compact))
			return h.value;
	return (struct sfp_str){ NULL, 0 };
}

/* an option tag in a Supported/Require list */
static bool lists(struct sfp_str v, const char *tag)
{
	size_t n = strlen(tag);
	for (size_t i = 0; v.p && i + n <= v.n; i++)
		if (!strncasecmp(v.p + i, tag, n) && (i == 0 || v.p[i - 1] == ',' || v.p[i - 1] == ' ') &&
		    (i + n == v.n || v.p[i + n] == ',' || v.p[i + n] == ' ' || v.p[i + n] == ';'))
			return true;
	return false;
}

/* RFC 4028 4: Session-Expires: delta-seconds [;refresher=uac|uas] */
struct se_hdr {
	long se;           /* -1: absent */
	int refresher;     /* 0 none, 1 uac, 2 uas */
};

static struct se_hdr session_expires(const char *p, const struct sfp_sip *m)
{
	struct se_hdr r = { -1, 0 };
	struct sfp_str v = hdr(p, m, "session-expires", 'x');
	if (!v.p)
		return r;
	size_t n = 0;
	while (n < v.n && v.p[n] >= '0' && v.p[n] <= '9')
		n++;
	r.se = px_num((struct sfp_str){ v.p, n });
	struct sfp_str rf = px_param((struct sfp_str){ v.p + n, v.n - n }, "refresher");
	if (rf.n == 3 && !strncasecmp(rf.p, "uac", 3))
		r.refresher = 1;
	else if (rf.n == 3 && !strncasecmp(rf.p, "uas", 3))
		r.refresher = 2;
	return r;
}

/* end-to-end header fields one leg's message hands to the other's: what
 * describes the body or the request, nothing that names a host */
static void copy_e2e(struct sfp_wbuf *w, const char *p, const struct sfp_sip *m)
{
	static const struct { const char *name; char compact; } keep[] = {
		{ "content-type", 'c' }, { "content-disposition", 0 }, { "content-encoding", 'e' },
		{ "content-language", 0 }, { "accept", 0 }, { "session-id", 0 }, { "subject", 's' },
		{ "event", 'o' }, { "subscription-state", 0 }, { "allow-events", 'u' },
		{ "info-package", 0 }, { "recv-info", 0 }, { "reason", 0 }, { "privacy", 0 },
	};
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h))
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (px_name_is(h.name, keep[k].name, keep[k].compact)) {
				sfp_put(w, h.start, (size_t)(h.end - h.start));
				break;
			}
}

/* our Contact on a leg: the transport that leg uses, so the far end's
 * requests come back on it */
static void put_contact(struct sfp_wbuf *w, uint8_t tp)
{
	px_putf(w, "Contact: <sip:%s:%u%s>\r\n", px_e.lcfg->addr, px_tp_port(tp), px_tp_param(tp));
}

/* the transport a leg is reached on: a connection from its address, else
 * what its Contact asks for (RFC 3263: sipfp dials), else UDP */
static uint8_t leg_tp(const struct b2b_leg *l)
{
	return px_target_tp(l->ip, l->port, (struct sfp_str){ l->target, strlen(l->target) });
}

/* a request of ours (or our ACK) to leg l */
static void leg_send(const struct b2b_leg *l, const char *p, uint32_t n)
{
	px_send_tp(l->ip, l->port, leg_tp(l), p, n);
}

static const char allow[] = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, NOTIFY, MESSAGE\r\n";

/* Session-Expires of a request of ours on leg l: who refreshes, from the
 * point of view of this transaction (RFC 4028 7.4: uac is us) */
static void put_se_request(struct sfp_wbuf *w, const struct b2b_leg *l)
{
	if (!l->se)
		return;
	px_putf(w, "Supported: timer\r\nSession-Expires: %u;refresher=%s\r\n", l->se,
		l->we_refresh ? "uac" : "uas");
}

/* ... and of a 2xx of ours to a request from l (9: Require when the other
 * side, the UAC of that transaction, is the refresher) */
static void put_se_response(struct sfp_wbuf *w, const struct b2b_leg *l)
{
	if (!l->se)
		return;
	px_putf(w, "Session-Expires: %u;refresher=%s\r\n", l->se, l->we_refresh ? "uas" : "uac");
	if (!l->we_refresh)
		sfp_puts(w, "Require: timer\r\n");
}

/* the start of a request of ours on leg l (12.2.1.1): Request-URI its
 * Contact, our Via, From us, To it, its Call-ID, CSeq of our space */
static void leg_request(struct sfp_wbuf *w, const struct b2b_leg *l, const char *method, uint32_t cseq,
			const char *branch, int max_fwd)
{
	px_putf(w, "%s %s SIP/2.0\r\n", method, l->target);
	px_put_via(w, leg_tp(l), branch);
	px_putf(w, "Max-Forwards: %d\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u %s\r\n", max_fwd,
		l->local, l->remote, l->call_id, cseq, method);
	if (l->route[0])
		px_putf(w, "Route: %s\r\n", l->route);
}

/* 12.1.2: the UAC's route set is the 2xx's Record-Route, reversed */
static void route_set(struct b2b_leg *l, const char *p, const struct sfp_sip *m)
{
	struct sfp_str v[8];
	unsigned n = 0;
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h)) {
		if (!px_name_is(h.name, "record-route", 0))
			continue;
		struct sfp_str rest = h.value;
		while (rest.n && n < 8)
			v[n++] = px_first_value(rest, &rest);
	}
	struct sfp_wbuf w = { l->route, 0, sizeof(l->route) - 1, false };
	while (n--) {
		sfp_putstr(&w, v[n]);
		if (n)
			sfp_puts(&w, ", ");
	}
	l->route[w.full ? 0 : w.n] = '\0'; /* too long: none, rather than a wrong one */
}

/* a response of ours to request o (as received, with meta omt): its Via
 * stack, From, To (with tag, when o had none), Call-ID and CSeq; then
 * Contact where it makes a dialog or a target refresh */
static void leg_response_head(struct sfp_wbuf *w, const struct sfp_sip_meta *omt, const struct sfp_sip *o,
			      uint16_t code, const char *reason, const char *tag)
{
	px_putf(w, "SIP/2.0 %u %s\r\n", code, reason);
	sfp_put_vias(w, o, omt->src_ip, omt->src_port);
	sfp_puts(w, "From: ");
	sfp_putstr(w, o->from);
	sfp_puts(w, "\r\nTo: ");
	sfp_putstr(w, o->to);
	if (!o->to_tag.p && tag && code > 100)
		px_putf(w, ";tag=%s", tag);
	sfp_puts(w, "\r\nCall-ID: ");
	sfp_putstr(w, o->call_id);
	sfp_puts(w, "\r\nCSeq: ");
	sfp_putstr(w, o->cseq);
	sfp_puts(w, "\r\n");
	if (code > 100 && code < 300 && (o->method == SFP_M_INVITE || o->method == SFP_M_UPDATE))
		put_contact(w, omt->transport);
}

static void reply_to(const struct sfp_sip_meta *omt, const struct sfp_sip *o, const char *out, size_t n)
{
	uint16_t port;
	sfp_reply_dest(o, omt->src_port, &port);
	px_e.send(omt->src_ip, port, out, (uint32_t)n);
}

/* a 2xx of ours to an INVITE, retransmitted until its ACK (13.3.1.4) */
static void ok_keep(struct b2b_call *c, unsigned leg, const struct sfp_sip_meta *omt, const struct sfp_sip *o,
		    const char *out, size_t n, bool initial, uint64_t now)
{
	free(c->ok);
	c->ok = malloc(n);
	if (!c->ok)
		return;
	memcpy(c->ok, out, n);
	c->ok_len = (uint32_t)n;
	sfp_reply_dest(o, omt->src_port, &c->ok_port);
	c->ok_ip = omt->src_ip;
	c->ok_leg = (uint8_t)leg;
	c->ok_cseq = o->cseq_num;
	c->ok_initial = initial;
	c->ok_int = px_e.t1_ms;
	c->ok_next = now + c->ok_int;
	c->ok_giveup = now + 64ull * px_e.t1_ms;
}

/* a non-INVITE request of ours on leg l, in a client transaction of its own */
static void own_request(struct b2b_call *c, unsigned l, const char *method, enum b2b_kind k,
			const char *extra, uint64_t now)
{
	struct b2b_leg *lg = &c->r.leg[l];
	struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
	char br[48], salt[24];
	uint32_t cseq = ++lg->local_cseq;
	snprintf(salt, sizeof(salt), "own%u.%u", l, cseq);
	px_make_branch((struct sfp_str){ lg->call_id, strlen(lg->call_id) },
		       (struct sfp_str){ lg->local_tag, strlen(lg->local_tag) }, salt, br);
	leg_request(&w, lg, method, cseq, br, 70);
	if (extra)
		sfp_puts(&w, extra);
	size_t n = px_put_body(&w, (struct sfp_str){ NULL, 0 });
	if (!n)
		return;
	struct itx *t = px_itx_alloc();
	if (!t || !(t->fwd = malloc(n))) {
		if (t)
			px_itx_free(t);
		leg_send(lg, obuf, (uint32_t)n); /* untracked, but sent */
		return;
	}
	memcpy(t->fwd, obuf, n);
	t->fwd_len = (uint32_t)n;
	t->own = true;
	t->non_invite = true;
	snprintf(t->branch, sizeof(t->branch), "%s", br);
	snprintf(t->call_id, sizeof(t->call_id), "%s", lg->call_id);
	t->dst_ip = lg->ip;
	t->dst_port = lg->port;
	t->state = ITX_CALLING;
	px_itx_index(t);
	t->a_int = px_e.t1_ms;
	t->t_a = now + t->a_int;
	t->t_b = now + 64ull * px_e.t1_ms;
	bind_itx(t, c, k, l);
	leg_send(lg, t->fwd, t->fwd_len);
}

/* the call is over: BYE on each leg in bye_mask (bit 0 A, bit 1 B) that
 * has a dialog, media released, the record gone */
static void end_call(struct b2b_call *c, unsigned bye_mask, const char *why, uint64_t now)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "Reason: SIP;text=\"%.100s\"\r\n", why);
	if (c->r.state >= B2B_ANSWERED)
		for (unsigned l = 0; l < 2; l++)
			if (bye_mask & (1u << l)) {
				own_request(c, l, "BYE", B2B_K_BYE, reason, now);
				px_cnt.own_bye++;
			}
	px_e.log("b2bua: call %s -> %s ended (%s); A-leg %s, B-leg %s", c->r.caller, c->r.callee, why,
		 c->r.leg[0].call_id, c->r.leg[1].call_id);
	md_end(c->r.leg[0].call_id, why);
	px_cnt.dialogs_ended++;
	call_free(c);
}

bool b2b_end_by_key(const char *a_call_id, const char *why, uint64_t now)
{
	unsigned l;
	struct b2b_call *c = find((struct sfp_str){ a_call_id, strlen(a_call_id) }, &l);
	if (!c || l != 0)
		return false;
	end_call(c, 3, why, now);
	return true;
}

/* session timers of leg l restarted: a refresh went through (RFC 4028 10) */
static void timers_arm(struct b2b_call *c, unsigned l, uint64_t now)
{
	uint32_t se = c->r.leg[l].se;
	if (!se)
		return;
	c->refresh_at[l] = now + (uint64_t)se * 500;
	/* 10: the side that does not refresh gives up min(32, SE/3) before the end */
	uint32_t margin = se / 3 < 32 ? se / 3 : 32;
	c->expire_at[l] = now + (uint64_t)(se - margin) * 1000;
}

/* ---- leg A's INVITE: a new call ---------------------------------------------- */

static void new_call(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct itx *t;
	unsigned l;
	struct b2b_call *c;
	if (px_invite_again(m)) /* ringing, or failed */
		return;
	if ((c = find(m->call_id, &l)) && l == 0) {
		px_cnt.req_absorbed++; /* answered: our 2xx is retransmitted by its timer */
		if (c->ok && c->ok_initial)
			px_e.send(c->ok_ip, c->ok_port, c->ok, c->ok_len);
		return;
	}
	/* RFC 3261 8.2.2.3: an extension the caller requires that sipfp, its
	 * UAS, does not do gets 420 (100rel among them: no reliable
	 * provisionals on A); timer is the one it does (RFC 4028) */
	if (m->require.p) {
		struct sfp_str rq = hdr(p, m, "require", 0);
		char unsup[128] = "";
		size_t i = 0;
		while (rq.p && i < rq.n) {
			while (i < rq.n && (rq.p[i] == ' ' || rq.p[i] == ','))
				i++;
			size_t s = i;
			while (i < rq.n && rq.p[i] != ',' && rq.p[i] != ' ')
				i++;
			if (i > s && !(i - s == 5 && !strncasecmp(rq.p + s, "timer", 5)))
				snprintf(unsup + strlen(unsup), sizeof(unsup) - strlen(unsup), "%s%.*s",
					 unsup[0] ? ", " : "", (int)(i - s), rq.p + s);
		}
		if (unsup[0]) {
			char x[160];
			snprintf(x, sizeof(x), "Unsupported: %s\r\n", unsup);
			px_cnt.calls_failed++;
			px_e.respond(mt, m, 420, "Bad Extension", x);
			return;
		}
	}
	/* RFC 4028 8.1: an interval below ours is refused with our Min-SE */
	struct se_hdr ase = session_expires(p, m);
	bool a_timer = ase.se >= 0 || lists(hdr(p, m, "supported", 'k'), "timer");
	if (ase.se >= 0 && ase.se < (long)px_e.min_se) {
		char x[40];
		snprintf(x, sizeof(x), "Min-SE: %u\r\n", px_e.min_se);
		px_e.respond(mt, m, 422, "Session Interval Too Small", x);
		return;
	}
	char callee[64];
	struct binding *bs[MAX_FORK];
	struct sfp_str body;
	unsigned nb = px_invite_targets(mt, p, m, callee, bs, &body);
	if (!nb)
		return;
	char cid[128];
	px_cstr(cid, sizeof(cid), m->call_id);
	if (m->call_id.n >= sizeof(c->r.leg[0].call_id) || m->from_tag.n >= sizeof(c->r.leg[0].remote_tag) ||
	    !m->from_tag.n || !(c = call_alloc())) {
		md_end(cid, "not routed");
		px_cnt.calls_failed++;
		px_cnt.calls_503++;
		px_e.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
		px_e.log("b2bua: INVITE %s -> %s: no call slot (max_dialogs %u), 503", mt->user, callee, max_calls);
		return;
	}
	struct b2b_leg *a = &c->r.leg[0], *b = &c->r.leg[1];
	c->r.version = B2B_VERSION;
	c->r.state = B2B_CALLING;
	snprintf(c->r.caller, sizeof(c->r.caller), "%s", mt->user);
	snprintf(c->r.callee, sizeof(c->r.callee), "%s", callee);
	px_cstr(c->r.a_branch, sizeof(c->r.a_branch), m->top_via.branch);
	c->r.a_cseq = m->cseq_num;
	c->r.created_ms = mt->rx_ms;
	/* leg A: our tag is the one the fast path would give (keyed on
	 * A's INVITE), so our own error finals carry it too */
	char tag[SFP_TAG_LEN + 1];
	sfp_tag_make(&px_e.lcfg->keys, m->call_id, m->from_tag, m->top_via.branch, tag);
	tag[SFP_TAG_LEN] = '\0';
	snprintf(a->call_id, sizeof(a->call_id), "%s", cid);
	snprintf(a->local_tag, sizeof(a->local_tag), "%s", tag);
	px_cstr(a->remote_tag, sizeof(a->remote_tag), m->from_tag);
	char to_a[320], from_b[320];
	bool ok = m->from.n < sizeof(a->remote) && b2b_strip_tag(m->to, m->to_tag, to_a, sizeof(to_a) - 80) &&
		  b2b_strip_tag(m->from, m->from_tag, from_b, sizeof(from_b) - 80);
	struct sfp_str curi = px_addr_uri(m->contact, NULL);
	if (!ok || !curi.n || curi.n >= sizeof(a->target)) {
		md_end(cid, "not routed");
		call_free(c);
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 400, "Bad Request", NULL);
		return;
	}
	px_cstr(a->remote, sizeof(a->remote), m->from);
	snprintf(a->local, sizeof(a->local), "%.240s;tag=%.63s", to_a, tag);
	px_cstr(a->target, sizeof(a->target), curi);
	a->ip = mt->src_ip;
	a->port = mt->src_port;
	a->remote_cseq = m->cseq_num;
	a->local_cseq = 0;
	if (a_timer) {
		/* A supports timers: its interval (ours if it named none); A
		 * refreshes unless it asked us to (RFC 4028 9) */
		a->se = ase.se >= 0 ? (uint32_t)ase.se : px_e.session_expires;
		if (a->se < px_e.min_se)
			a->se = px_e.min_se;
		a->we_refresh = ase.refresher == 2;
	}
	/* leg B: a dialog of our own */
	char rnd[40];
	hexrand(rnd, 16);
	snprintf(b->call_id, sizeof(b->call_id), "%s@%s", rnd, px_e.lcfg->addr);
	hexrand(b->local_tag, 8);
	snprintf(b->local, sizeof(b->local), "%.240s;tag=%.63s", from_b, b->local_tag);
	snprintf(b->remote, sizeof(b->remote), "%s", to_a);
	b->local_cseq = 1;
	b->se = px_e.session_expires;
	b->we_refresh = 1; /* until the 2xx says otherwise */
	call_index(c);
	/* one branch per contact of the callee, as the proxy forks (16.6) */
	char br0[48];
	px_make_branch((struct sfp_str){ b->call_id, strlen(b->call_id) }, m->top_via.branch, "inv", br0);
	int mf = m->max_forwards >= 0 ? m->max_forwards - 1 : 69;
	unsigned started = 0;
	for (unsigned k = 0; k < nb; k++) {
		char br[64];
		snprintf(br, sizeof(br), "%s.%u", br0, k);
		struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
		snprintf(b->target, sizeof(b->target), "%s", bs[k]->b.contact);
		px_reach(&bs[k]->b, &b->ip, &b->port);
		leg_request(&w, b, "INVITE", b->local_cseq, br, mf < 0 ? 0 : mf);
		put_contact(&w, leg_tp(b));
		px_putf(&w, "Supported: timer\r\nSession-Expires: %u\r\nMin-SE: %u\r\n%s", b->se, px_e.min_se, allow);
		copy_e2e(&w, p, m);
		size_t n = px_put_body(&w, body);
		uint32_t ip;
		uint16_t port;
		px_reach(&bs[k]->b, &ip, &port);
		if (!n || !(t = px_itx_start(mt, p, m, br, obuf, n, ip, port, false)))
			continue;
		bind_itx(t, c, B2B_K_INVITE, 1);
		snprintf(t->caller, sizeof(t->caller), "%s", mt->user);
		snprintf(t->callee, sizeof(t->callee), "%s", callee);
		px_send_tp(t->dst_ip, t->dst_port, leg_tp(b), t->fwd, t->fwd_len);
		started++;
		char ipb[16];
		px_e.log("b2bua: INVITE %s -> %s at %s:%u (%s)%s; A-leg %s, B-leg %s", mt->user, callee,
			 px_ipstr(ip, ipb), port, bs[k]->b.contact, nb > 1 ? ", forked" : "", a->call_id, b->call_id);
	}
	if (started)
		return;
	md_end(cid, "not routed");
	call_free(c);
	px_cnt.calls_failed++;
	px_cnt.calls_503++;
	px_e.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
	px_e.log("b2bua: INVITE %s -> %s: transaction table full or message too large, 503", mt->user, callee);
}

/* ---- in-dialog requests ---------------------------------------------------------- */

/* request m arrived on leg x; send it on as ours on the other leg */
static void relay_request(struct b2b_call *c, unsigned x, const struct sfp_sip_meta *mt, const char *p,
			  const struct sfp_sip *m)
{
	unsigned y = !x;
	struct b2b_leg *ly = &c->r.leg[y];
	struct sfp_str body;
	if (md_message_leg(c->r.leg[0].call_id, x, mt, p, m, sdp_out, sizeof(sdp_out), &body) != MD_OK) {
		px_e.respond(mt, m, 488, "Not Acceptable Here", NULL);
		return;
	}
	char br[48];
	px_make_branch(m->call_id, m->top_via.branch, "b2b", br);
	struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
	char method[32];
	px_cstr(method, sizeof(method), m->method_name);
	int mf = m->max_forwards >= 0 ? m->max_forwards - 1 : 69;
	uint32_t cseq = ly->local_cseq + 1;
	leg_request(&w, ly, method, cseq, br, mf < 0 ? 0 : mf);
	bool refresh = m->method == SFP_M_INVITE || m->method == SFP_M_UPDATE;
	if (refresh) {
		put_contact(&w, leg_tp(ly));
		put_se_request(&w, ly);
	}
	copy_e2e(&w, p, m);
	size_t n = px_put_body(&w, body);
	if (!n) {
		px_e.respond(mt, m, 513, "Message Too Large", NULL);
		return;
	}
	bool nict = m->method != SFP_M_INVITE;
	struct itx *t = px_itx_start(mt, p, m, br, obuf, n, ly->ip, ly->port, nict);
	if (!t) {
		px_e.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
		return;
	}
	ly->local_cseq = cseq;
	persist(c);
	bind_itx(t, c, B2B_K_RELAY, y);
	t->reinvite = !nict;
	snprintf(t->caller, sizeof(t->caller), "%s", c->r.caller);
	snprintf(t->callee, sizeof(t->callee), "%s", c->r.callee);
	if (!nict)
		px_e.respond(mt, m, 100, "Trying", NULL);
	px_cnt.b2b_relayed++;
	leg_send(ly, t->fwd, t->fwd_len);
}

/* the ACK to A's 2xx: the call is up; B's 2xx is ACKed now, with A's
 * body when A answered a late offer in its ACK (13.2.2.4) */
static void ack_b(struct b2b_call *c, const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct b2b_leg *b = &c->r.leg[1];
	struct sfp_str body = { NULL, 0 };
	if (m && m->body.n &&
	    md_message_leg(c->r.leg[0].call_id, 0, mt, p, m, sdp_out, sizeof(sdp_out), &body) != MD_OK)
		body = (struct sfp_str){ NULL, 0 };
	char br[48], salt[16];
	snprintf(salt, sizeof(salt), "ack%u", b->local_cseq);
	px_make_branch((struct sfp_str){ b->call_id, strlen(b->call_id) },
		       (struct sfp_str){ b->local_tag, strlen(b->local_tag) }, salt, br);
	struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
	leg_request(&w, b, "ACK", c->ack_cseq, br, 70);
	if (body.n)
		sfp_puts(&w, "Content-Type: application/sdp\r\n");
	size_t n = px_put_body(&w, body);
	if (!n)
		return;
	free(c->ack);
	if ((c->ack = malloc(n))) {
		memcpy(c->ack, obuf, n);
		c->ack_len = (uint32_t)n;
	}
	leg_send(b, obuf, (uint32_t)n);
}

/* a 2xx from a callee's dialog we will not use (a second fork's, 13.2.2.4,
 * or one for a call that ended meanwhile): ACK it and BYE it at once */
static void ack_and_bye(const struct sfp_sip_meta *mt, const struct sfp_sip *m, const struct b2b_leg *b)
{
	struct b2b_leg d = *b;
	struct sfp_str curi = px_addr_uri(m->contact, NULL);
	if (!m->to_tag.n || m->to.n >= sizeof(d.remote) || !curi.n || curi.n >= sizeof(d.target))
		return;
	px_cstr(d.remote, sizeof(d.remote), m->to);
	px_cstr(d.target, sizeof(d.target), curi);
	for (unsigned k = 0; k < 2; k++) {
		char br[48], salt[24];
		snprintf(salt, sizeof(salt), "fork%u.%u", k, m->cseq_num);
		px_make_branch(m->call_id, m->to_tag, salt, br);
		struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
		leg_request(&w, &d, k ? "BYE" : "ACK", m->cseq_num + k, br, 70);
		size_t n = px_put_body(&w, (struct sfp_str){ NULL, 0 });
		if (n)
			px_e.send(mt->src_ip, mt->src_port, obuf, (uint32_t)n);
	}
}

static void in_dialog(struct b2b_call *c, unsigned x, const struct sfp_sip_meta *mt, const char *p,
		      const struct sfp_sip *m)
{
	struct b2b_leg *lx = &c->r.leg[x];
	uint64_t now = mt->rx_ms;
	if (m->method == SFP_M_ACK) {
		/* the ACK of a 2xx of ours; any other (an error's, a copy) ends here */
		if (c->ok && c->ok_leg == x && m->cseq_num == c->ok_cseq) {
			bool initial = c->ok_initial;
			free(c->ok);
			c->ok = NULL;
			if (initial) {
				c->r.state = B2B_UP;
				ack_b(c, mt, p, m);
				persist(c);
				px_e.log("b2bua: call %s -> %s up", c->r.caller, c->r.callee);
			}
		} else {
			px_cnt.req_absorbed++;
		}
		return;
	}
	bool nict = m->method != SFP_M_INVITE;
	struct itx *t = px_itx_by_in_branch(m->top_via.branch, m->call_id, nict);
	if (t) {
		/* a retransmission of a request we are working on (17.2.1, 17.2.2) */
		px_cnt.req_absorbed++;
		if (nict && t->resp)
			px_e.send(t->resp_ip, t->resp_port, t->resp, t->resp_len);
		else if (!nict && (t = px_group_best(t)))
			px_send_final(t);
		return;
	}
	if (!nict && c->ok && c->ok_leg == x && c->ok_cseq == m->cseq_num) {
		px_cnt.req_absorbed++;
		px_e.send(c->ok_ip, c->ok_port, c->ok, c->ok_len);
		return;
	}
	if (c->r.state == B2B_CALLING) {
		/* only A's early dialog exists: a BYE in it is a CANCEL (15) */
		if (m->method == SFP_M_BYE && x == 0) {
			px_e.respond(mt, m, 200, "OK", NULL);
			struct itx *g = px_itx_by_in_branch((struct sfp_str){ c->r.a_branch, strlen(c->r.a_branch) },
							    m->call_id, false);
			if (g)
				FOR_GROUP(s, g) {
					s->caller_cancel = true;
					px_branch_cancel(s);
				}
		} else {
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
		}
		return;
	}
	/* 12.2.2: a request older than the last one is out of order */
	if (m->method != SFP_M_CANCEL && m->cseq_num < lx->remote_cseq) {
		px_cnt.b2b_refused++;
		px_e.respond(mt, m, 500, "CSeq Out of Order", NULL);
		return;
	}
	if (m->cseq_num > lx->remote_cseq)
		lx->remote_cseq = m->cseq_num;
	switch (m->method) {
	case SFP_M_BYE:
		px_e.respond(mt, m, 200, "OK", NULL);
		end_call(c, 1u << !x, x ? "BYE from the callee" : "BYE from the caller", now);
		return;
	case SFP_M_CANCEL: {
		/* of a re-INVITE (9.2): the other leg's is cancelled */
		struct itx *g = px_itx_by_in_branch(m->top_via.branch, m->call_id, false);
		if (!g) {
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
			return;
		}
		px_e.respond(mt, m, 200, "OK", NULL);
		px_branch_cancel(g);
		return;
	}
	case SFP_M_REFER:
		/* no call transfer through sipfp: the far end would be told
		 * to call a target by a party it does not see */
		px_cnt.b2b_refused++;
		px_e.respond(mt, m, 403, "Forbidden", NULL);
		return;
	case SFP_M_UPDATE:
		timers_arm(c, x, now);
		if (!m->body.n) {
			/* a session refresh and nothing else (RFC 4028 7.4):
			 * this leg's business, answered here */
			struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
			leg_response_head(&w, mt, m, 200, "OK", NULL);
			put_se_response(&w, lx);
			size_t n = px_put_body(&w, (struct sfp_str){ NULL, 0 });
			if (n)
				reply_to(mt, m, obuf, n);
			px_cnt.b2b_local++;
			return;
		}
		break;
	case SFP_M_INVITE:
		timers_arm(c, x, now); /* a re-INVITE refreshes the session (RFC 4028 7.4) */
		break;
	default:
		break;
	}
	/* a new target of this leg (12.2.2: target refresh) */
	struct sfp_str curi = px_addr_uri(m->contact, NULL);
	if ((m->method == SFP_M_INVITE || m->method == SFP_M_UPDATE) && curi.n && curi.n < sizeof(lx->target))
		px_cstr(lx->target, sizeof(lx->target), curi);
	relay_request(c, x, mt, p, m);
}

bool b2b_request(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	if (!calls)
		return false;
	if (!m->to_tag.p) {
		if (m->method == SFP_M_INVITE && (mt->flags & SFP_RXF_AUTH_OK)) {
			new_call(mt, p, m);
			return true;
		}
		return false; /* REGISTER, the CANCEL of a new call: the proxy's */
	}
	unsigned x;
	struct b2b_call *c = find(m->call_id, &x);
	if (!c)
		return false;
	struct b2b_leg *lx = &c->r.leg[x];
	if (!px_str_is(m->to_tag, lx->local_tag) || !px_str_is(m->from_tag, lx->remote_tag)) {
		if (m->method != SFP_M_ACK)
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
		return true;
	}
	in_dialog(c, x, mt, p, m);
	return true;
}

/* ---- responses ----------------------------------------------------------------- */

/* the response of leg y to request t->orig from leg x, as a new response on x */
static size_t map_response(struct b2b_call *c, struct itx *t, const struct sfp_sip_meta *mt, const char *p,
			   const struct sfp_sip *m, struct sfp_sip *o, uint16_t code)
{
	if (!t->orig || sfp_scan(t->orig, t->orig_len, o) != SFP_SE_OK)
		return 0;
	unsigned x = !t->b2b_leg;
	char reason[64];
	px_cstr(reason, sizeof(reason), m->reason);
	if (code != m->status)
		snprintf(reason, sizeof(reason), "Server Internal Error");
	struct sfp_str body = { NULL, 0 };
	if (code < 300 && m->body.n &&
	    md_message_leg(c->r.leg[0].call_id, t->b2b_leg, mt, p, m, sdp_out, sizeof(sdp_out), &body) != MD_OK)
		body = m->body;
	struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
	leg_response_head(&w, &t->orig_mt, o, code, reason, c->r.leg[x].local_tag);
	if (code >= 200 && code < 300 && (o->method == SFP_M_INVITE || o->method == SFP_M_UPDATE))
		put_se_response(&w, &c->r.leg[x]);
	if (code >= 200 && code < 300 && o->method == SFP_M_INVITE)
		sfp_puts(&w, allow);
	if (body.n)
		copy_e2e(&w, p, m);
	return px_put_body(&w, body);
}

static void invite_response(struct b2b_call *c, struct itx *t, const struct sfp_sip_meta *mt, const char *p,
			    const struct sfp_sip *m)
{
	uint64_t now = mt->rx_ms;
	struct sfp_sip o;
	if (m->status < 200) {
		px_ict_take(t, m, now);
		if (m->status == 100 || t->upstream_final || !c || !m->to_tag.p)
			return;
		/* a provisional of B, as one of ours on A (its SDP anchored) */
		size_t n = map_response(c, t, mt, p, m, &o, m->status);
		if (n)
			reply_to(&t->orig_mt, &o, obuf, n);
		return;
	}
	if (m->status < 300) {
		struct b2b_leg *a, *b;
		if (!c || c->r.state != B2B_CALLING) {
			if (c && px_str_is(m->to_tag, c->r.leg[1].remote_tag)) {
				if (c->ack) /* B did not hear our ACK */
					leg_send(&c->r.leg[1], c->ack, c->ack_len);
			} else {
				px_cnt.b2b_fork_bye++;
				if (c)
					ack_and_bye(mt, m, &c->r.leg[1]);
			}
			px_ict_take(t, m, now);
			t->upstream_final = true;
			return;
		}
		a = &c->r.leg[0];
		b = &c->r.leg[1];
		struct sfp_str curi = px_addr_uri(m->contact, NULL);
		if (!m->to_tag.n || m->to_tag.n >= sizeof(b->remote_tag) || m->to.n >= sizeof(b->remote)) {
			px_e.log("b2bua: call %s -> %s: a 2xx without a usable To-tag, ignored", c->r.caller,
				 c->r.callee);
			return;
		}
		px_cstr(b->remote_tag, sizeof(b->remote_tag), m->to_tag);
		px_cstr(b->remote, sizeof(b->remote), m->to);
		struct sfp_sip f;
		if (curi.n && curi.n < sizeof(b->target))
			px_cstr(b->target, sizeof(b->target), curi);
		else if (t->fwd && sfp_scan(t->fwd, t->fwd_len, &f) == SFP_SE_OK && f.ruri.n < sizeof(b->target))
			px_cstr(b->target, sizeof(b->target), f.ruri); /* the contact that answered */
		b->ip = mt->src_ip;
		b->port = mt->src_port;
		route_set(b, p, m); /* another node on the way (the callee registered through it) */
		/* RFC 4028 7.2: no Session-Expires in the 2xx, no timer on B */
		struct se_hdr bse = session_expires(p, m);
		if (bse.se > 0) {
			b->se = (uint32_t)bse.se;
			b->we_refresh = bse.refresher != 2;
		} else {
			b->se = 0;
		}
		c->ack_cseq = m->cseq_num;
		md_confirm((struct sfp_str){ a->call_id, strlen(a->call_id) }, now);
		size_t n = map_response(c, t, mt, p, m, &o, m->status);
		FOR_GROUP(s, t) {
			s->upstream_final = true;
			if (s != t)
				px_branch_cancel(s);
		}
		c->r.state = B2B_ANSWERED;
		if (n) {
			ok_keep(c, 0, &t->orig_mt, &o, obuf, n, true, now);
			reply_to(&t->orig_mt, &o, obuf, n);
		}
		px_ict_take(t, m, now);
		persist(c);
		timers_arm(c, 0, now);
		timers_arm(c, 1, now);
		px_cnt.calls_answered++;
		px_cnt.b2b_calls++;
		px_e.log("b2bua: call %s -> %s answered; A-leg %s timer %us%s, B-leg %s timer %us%s", c->r.caller,
			 c->r.callee, a->call_id, a->se, a->se ? (a->we_refresh ? " (we refresh)" : " (A refreshes)") : "",
			 b->call_id, b->se, b->se ? (b->we_refresh ? " (we refresh)" : " (B refreshes)") : "");
		return;
	}
	/* RFC 4028 6: 422 with a Min-SE: the same INVITE with that interval */
	uint16_t st = m->status;
	struct sfp_str mse = hdr(p, m, "min-se", 0);
	size_t dn = 0;
	while (mse.p && dn < mse.n && mse.p[dn] >= '0' && mse.p[dn] <= '9')
		dn++;
	long min_se = mse.p ? px_num((struct sfp_str){ mse.p, dn }) : -1;
	if (st == 422 && c && c->r.state == B2B_CALLING && !c->retried_422 && t->state != ITX_COMPLETED &&
	    min_se > 0 && min_se <= 86400 && t->orig && sfp_scan(t->orig, t->orig_len, &o) == SFP_SE_OK) {
		struct sfp_sip f;
		struct b2b_leg *b = &c->r.leg[1];
		if (t->fwd && sfp_scan(t->fwd, t->fwd_len, &f) == SFP_SE_OK) {
			char br[64];
			snprintf(br, sizeof(br), "%.60sr", t->branch);
			b->se = (uint32_t)min_se;
			b->local_cseq++;
			px_cstr(b->target, sizeof(b->target), f.ruri);
			struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
			leg_request(&w, b, "INVITE", b->local_cseq, br, f.max_forwards >= 0 ? f.max_forwards : 69);
			put_contact(&w, leg_tp(b));
			px_putf(&w, "Supported: timer\r\nSession-Expires: %u\r\nMin-SE: %u\r\n%s", b->se, b->se, allow);
			copy_e2e(&w, t->fwd, &f);
			size_t n = px_put_body(&w, f.body);
			struct itx *r = n ? px_itx_start(&t->orig_mt, t->orig, &o, br, obuf, n, t->dst_ip, t->dst_port, false)
					  : NULL;
			if (r) {
				c->retried_422 = true;
				px_ict_take(t, m, now); /* ACKed */
				bind_itx(r, c, B2B_K_INVITE, 1);
				snprintf(r->caller, sizeof(r->caller), "%s", t->caller);
				snprintf(r->callee, sizeof(r->callee), "%s", t->callee);
				px_itx_free(t);
				px_cnt.b2b_422++;
				px_e.log("b2bua: call %s -> %s: 422, INVITE again with Session-Expires %ld", r->caller,
					 r->callee, min_se);
				px_send_tp(r->dst_ip, r->dst_port, leg_tp(b), r->fwd, r->fwd_len);
				return;
			}
		}
	}
	if (px_ict_take(t, m, now) == PX_ICT_AGAIN) {
		px_cnt.req_absorbed++;
		return;
	}
	if (st >= 600) /* 16.7 step 5 */
		FOR_GROUP(s, t)
			px_branch_cancel(s);
	px_group_settle(t);
}

/* the answer to a re-INVITE we sent on for the other leg */
static void reinvite_response(struct b2b_call *c, struct itx *t, const struct sfp_sip_meta *mt, const char *p,
			      const struct sfp_sip *m)
{
	uint64_t now = mt->rx_ms;
	unsigned y = t->b2b_leg, x = !y;
	struct sfp_sip o;
	if (m->status < 200) {
		px_ict_take(t, m, now);
		return;
	}
	if (m->status < 300) {
		/* ACK at once on y (in our own transaction space), the 2xx to x
		 * retransmitted until x's ACK */
		struct b2b_leg *ly = &c->r.leg[y];
		struct sfp_str curi = px_addr_uri(m->contact, NULL);
		if (curi.n && curi.n < sizeof(ly->target))
			px_cstr(ly->target, sizeof(ly->target), curi);
		char br[48], salt[24];
		snprintf(salt, sizeof(salt), "ack%u", m->cseq_num);
		px_make_branch((struct sfp_str){ ly->call_id, strlen(ly->call_id) },
			       (struct sfp_str){ ly->local_tag, strlen(ly->local_tag) }, salt, br);
		char ackb[1024];
		struct sfp_wbuf aw = { ackb, 0, sizeof(ackb), false };
		leg_request(&aw, ly, "ACK", m->cseq_num, br, 70);
		size_t an = px_put_body(&aw, (struct sfp_str){ NULL, 0 });
		if (an)
			leg_send(ly, ackb, (uint32_t)an);
		if (t->state == ITX_COMPLETED) /* a 2xx again: the ACK again, nothing else */
			return;
		size_t n = map_response(c, t, mt, p, m, &o, m->status);
		if (n) {
			ok_keep(c, x, &t->orig_mt, &o, obuf, n, false, now);
			reply_to(&t->orig_mt, &o, obuf, n);
		}
		struct se_hdr se = session_expires(p, m);
		if (se.se > 0 && c->r.leg[y].se)
			c->r.leg[y].se = (uint32_t)se.se;
		timers_arm(c, y, now);
		px_ict_take(t, m, now);
		t->upstream_final = true;
		return;
	}
	if (px_ict_take(t, m, now) == PX_ICT_AGAIN)
		return;
	uint16_t code = m->status == 503 ? 500 : m->status;
	size_t n = map_response(c, t, mt, p, m, &o, code);
	if (n)
		reply_to(&t->orig_mt, &o, obuf, n);
	t->final = code;
	t->best = t->upstream_final = true;
	if (m->status == 481 || m->status == 408) {
		px_cnt.b2b_leg_gone++;
		end_call(c, 1u << x, m->status == 481 ? "481 on a leg" : "408 on a leg", now);
	}
}

void b2b_response(struct itx *t, const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct b2b_call *c = of_itx(t);
	uint64_t now = mt->rx_ms;
	switch (t->b2b_kind) {
	case B2B_K_INVITE:
		invite_response(c, t, mt, p, m);
		return;
	case B2B_K_BYE:
		return;
	case B2B_K_REFRESH:
		if (!c || m->status < 200)
			return;
		if (m->status < 300) {
			timers_arm(c, t->b2b_leg, now);
		} else if (m->status == 481 || m->status == 408) {
			px_cnt.b2b_leg_gone++;
			end_call(c, 1u << !t->b2b_leg, "session refresh answered 481/408", now);
		} else {
			/* 405/501 and the like: that side will not be refreshed
			 * by UPDATE; the media timeout polices the call */
			px_e.log("b2bua: call %s -> %s: session refresh on leg %c refused (%u): no timer on it",
				 c->r.caller, c->r.callee, t->b2b_leg ? 'B' : 'A', m->status);
			c->r.leg[t->b2b_leg].se = 0;
			persist(c);
		}
		return;
	case B2B_K_RELAY:
		if (!c) {
			if (t->non_invite && m->status >= 200)
				px_itx_trim(t);
			return;
		}
		if (!t->non_invite) {
			reinvite_response(c, t, mt, p, m);
			return;
		}
		if (m->status < 200)
			return;
		{
			struct sfp_sip o;
			unsigned x = !t->b2b_leg;
			uint16_t code = m->status == 503 ? 500 : m->status;
			size_t n = map_response(c, t, mt, p, m, &o, code);
			if (n) {
				reply_to(&t->orig_mt, &o, obuf, n);
				if (!t->resp && (t->resp = malloc(n))) {
					memcpy(t->resp, obuf, n);
					t->resp_len = (uint32_t)n;
					t->resp_ip = t->orig_mt.src_ip;
					sfp_reply_dest(&o, t->orig_mt.src_port, &t->resp_port);
				}
			}
			if (n && o.method == SFP_M_UPDATE && m->status < 300)
				timers_arm(c, t->b2b_leg, now);
			px_itx_trim(t);
			if (m->status == 481 || m->status == 408) {
				px_cnt.b2b_leg_gone++;
				end_call(c, 1u << x, m->status == 481 ? "481 on a leg" : "408 on a leg", now);
			}
		}
		return;
	}
}

bool b2b_stray_response(const struct sfp_sip_meta *mt, const struct sfp_sip *m)
{
	unsigned l;
	struct b2b_call *c = calls ? find(m->call_id, &l) : NULL;
	if (!c || l != 1 || m->status < 200 || m->status >= 300 || !px_str_is(m->cseq_method, "INVITE"))
		return false;
	if (px_str_is(m->to_tag, c->r.leg[1].remote_tag)) {
		if (c->ack) /* 13.2.2.4: each retransmitted 2xx gets the ACK again */
			leg_send(&c->r.leg[1], c->ack, c->ack_len);
	} else {
		px_cnt.b2b_fork_bye++;
		ack_and_bye(mt, m, &c->r.leg[1]);
	}
	return true;
}

void b2b_settled(struct itx *t, struct itx *best)
{
	struct b2b_call *c = of_itx(t);
	if (!c)
		return;
	if (t->b2b_kind != B2B_K_INVITE) {
		/* a re-INVITE that timed out (timer B): the leg is gone */
		if (best->final == 408 || best->final == 481) {
			px_cnt.b2b_leg_gone++;
			end_call(c, 1u << !t->b2b_leg, "re-INVITE unanswered", t->t_end);
		}
		return;
	}
	if (best->final == 408 && !best->resp)
		px_cnt.calls_408++;
	if (!t->caller_cancel)
		px_cnt.calls_failed++;
	px_e.log("b2bua: call %s -> %s failed: %u %s", c->r.caller, c->r.callee, best->final, best->reason);
	call_free(c);
}

void b2b_nict_timeout(struct itx *t)
{
	struct b2b_call *c = of_itx(t);
	if (!c || t->b2b_kind == B2B_K_BYE)
		return;
	px_cnt.b2b_leg_gone++;
	end_call(c, 1u << !t->b2b_leg, "a request on a leg went unanswered", t->t_b);
}

/* ---- timers -------------------------------------------------------------------- */

void b2b_tick(uint64_t now)
{
	for (uint32_t k = 0; k < n_live;) {
		struct b2b_call *c = &calls[live[k]];
		uint32_t g = c->gen;
		if (c->ok && now >= c->ok_next) {
			if (now >= c->ok_giveup) {
				/* 13.3.1.4: no ACK in 64*T1: the dialog is confirmed,
				 * then ended with BYE */
				px_cnt.b2b_no_ack++;
				free(c->ok);
				c->ok = NULL;
				end_call(c, 3, "no ACK for the 2xx", now);
			} else {
				px_e.send(c->ok_ip, c->ok_port, c->ok, c->ok_len);
				c->ok_int = c->ok_int * 2 > T2_RETX_MS ? T2_RETX_MS : c->ok_int * 2;
				c->ok_next = now + c->ok_int;
			}
		}
		if (c->gen == g && c->r.state >= B2B_ANSWERED) {
			for (unsigned l = 0; l < 2 && c->gen == g; l++) {
				struct b2b_leg *lg = &c->r.leg[l];
				if (!lg->se)
					continue;
				if (lg->we_refresh && now >= c->refresh_at[l]) {
					char x[256];
					snprintf(x, sizeof(x),
						 "Contact: <sip:%s:%u>\r\nSupported: timer\r\nSession-Expires: %u;refresher=uac\r\n",
						 px_e.lcfg->addr, px_e.lcfg->sip_port, lg->se);
					c->refresh_at[l] = now + (uint64_t)lg->se * 500;
					own_request(c, l, "UPDATE", B2B_K_REFRESH, x, now);
					px_cnt.b2b_refresh_sent++;
					persist(c);
				} else if (!lg->we_refresh && now >= c->expire_at[l]) {
					px_cnt.b2b_expired++;
					px_e.log("b2bua: call %s -> %s: no session refresh from %s within %u s", c->r.caller,
						 c->r.callee, l ? "the callee" : "the caller", lg->se);
					end_call(c, 3, "session expired (RFC 4028)", now);
				}
			}
		}
		if (c->gen == g && now - c->r.created_ms > px_e.dialog_max_ms && px_e.dialog_max_ms) {
			px_cnt.dialogs_timed_out++;
			end_call(c, 3, "dialog_max_s reached", now);
		}
		if (c->gen == g)
			k++;
	}
}

void b2b_list(px_row_fn row, void *ctx, uint64_t now)
{
	static const char *const st[] = { "?", "early", "confirmed", "confirmed" };
	char line[640];
	for (uint32_t k = 0; k < n_live; k++) {
		const struct b2b_call *c = &calls[live[k]];
		snprintf(line, sizeof(line), "%s\t%.63s\t%.63s\t%.127s\t%lu\t%.127s", st[c->r.state & 3], c->r.caller,
			 c->r.callee, c->r.leg[0].call_id,
			 (unsigned long)(now > c->r.created_ms ? (now - c->r.created_ms) / 1000 : 0), c->r.leg[1].call_id);
		row(ctx, line);
	}
}

/* ---- start -------------------------------------------------------------------- */

static int restore(void *ctx, const void *rec, size_t len)
{
	uint64_t now = *(const uint64_t *)ctx;
	if (len != sizeof(struct b2b_rec) || ((const struct b2b_rec *)rec)->version != B2B_VERSION)
		return 0; /* another layout: not ours to read */
	struct b2b_call *c = call_alloc();
	if (!c)
		return 1;
	memcpy(&c->r, rec, sizeof(c->r));
	c->r.state = B2B_UP;
	for (unsigned l = 0; l < 2; l++) {
		c->r.leg[l].call_id[sizeof(c->r.leg[l].call_id) - 1] = '\0';
		c->r.leg[l].remote_tag[sizeof(c->r.leg[l].remote_tag) - 1] = '\0';
		timers_arm(c, l, now);
	}
	call_index(c);
	md_reclaim(c->r.leg[0].call_id, c->r.leg[0].remote_tag);
	px_cnt.b2b_restored++;
	return 0;
}

int b2b_init(void)
{
	/* the control process's clock is the wall clock (ctl_main.c): a
	 * restored call keeps its age; its session timers start again */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	max_calls = px_e.max_dialogs ? px_e.max_dialogs : 1;
	calls = calloc(max_calls, sizeof(*calls));
	live = calloc(max_calls, sizeof(*live));
	free_slots = calloc(max_calls, sizeof(*free_slots));
	if (!calls || !live || !free_slots || hidx_init(&by_a, px_pow2(max_calls), max_calls) ||
	    hidx_init(&by_b, px_pow2(max_calls), max_calls))
		return -1;
	for (uint32_t i = max_calls; i-- > 0;)
		free_slots[n_free++] = i;
	if (store_b2b_each(px_e.db, restore, &now))
		return -1;
	px_e.log("b2bua: %u calls of %zu bytes allocated, %u restored from the store", max_calls,
		 sizeof(struct b2b_call), n_live);
	return 0;
}
