/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media sessions (media.h): which ports a call uses, what each side's SDP
 * said, and the flows the fast path relays with.
 *
 * Sides: 0 is the caller's (A, whose From-tag started the call), 1 the
 * callee's (B).  An SDP body always comes from the side it describes: a
 * request from A or an answer by A describes A.  Each stream has a unit
 * of four ports: A-facing RTP and RTCP (what A sends to), B-facing RTP
 * and RTCP.  What arrives on an A-facing port leaves from the matching
 * B-facing port towards B, and the other way round.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "media.h"
#include "px.h"
#include "rtp_stats.h"

/* ---- the port pool ---------------------------------------------------------- */

int md_pool_init(struct md_unit_pool *p, uint32_t first, uint32_t last, uint32_t quarantine_ms)
{
	memset(p, 0, sizeof(*p));
	if (last < first || last - first + 1 < 4 || last > 65535)
		return -1;
	p->first = first;
	p->n = (last - first + 1) / 4;
	p->quarantine_ms = quarantine_ms;
	p->q = calloc(p->n, sizeof(*p->q));
	p->freed_ms = calloc(p->n, sizeof(*p->freed_ms));
	if (!p->q || !p->freed_ms)
		return -1;
	for (uint32_t i = 0; i < p->n; i++)
		p->q[i] = i;
	p->count = p->n;
	return 0;
}

uint16_t md_pool_get(struct md_unit_pool *p, uint64_t now_ms)
{
	if (!p->count)
		return 0;
	/* the head was put back first: if it is still in quarantine, so is
	 * every other free unit */
	uint32_t u = p->q[p->head];
	if (p->freed_ms[u] && now_ms - p->freed_ms[u] < p->quarantine_ms)
		return 0;
	p->head = (p->head + 1) % p->n;
	p->count--;
	return (uint16_t)(p->first + 4 * u);
}

void md_pool_put(struct md_unit_pool *p, uint16_t port, uint64_t now_ms)
{
	uint32_t u = (port - p->first) / 4;
	if (port < p->first || u >= p->n || p->count == p->n)
		return;
	p->freed_ms[u] = now_ms ? now_ms : 1;
	p->q[(p->head + p->count) % p->n] = u;
	p->count++;
}

int md_pool_take(struct md_unit_pool *p, uint16_t port)
{
	uint32_t u = (port - p->first) / 4;
	if (port < p->first || u >= p->n)
		return -1;
	for (uint32_t k = 0; k < p->count; k++) {
		uint32_t at = (p->head + k) % p->n;
		if (p->q[at] != u)
			continue;
		/* close the gap: later ones move up one place */
		for (uint32_t j = k; j + 1 < p->count; j++)
			p->q[(p->head + j) % p->n] = p->q[(p->head + j + 1) % p->n];
		p->count--;
		return 0;
	}
	return -1;
}

void md_pool_free(struct md_unit_pool *p)
{
	free(p->q);
	free(p->freed_ms);
	memset(p, 0, sizeof(*p));
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- sessions ----------------------------------------------------------------- */

struct md_stream {
	uint16_t port;               /* unit: A-facing RTP = port, B-facing RTP = port + 2 */
	struct sdp_stream side[2];
	uint8_t known[2];
};

struct md_sess {
	bool used;
	bool confirmed;
	bool orphan;                 /* adopted from the fast path after a restart */
	uint32_t id;
	uint64_t key;                /* call_key (media.h) */
	char call_id[128];
	char a_tag[64];
	uint32_t sig_ip[2];          /* where each side's signalling came from */
	uint8_t mac[2][6];
	uint64_t created_ms, confirmed_ms;
	char b_tag[64];
	struct px_leg leg[2];        /* to end the call ourselves (media timeout) */
	uint8_t addr;                /* its media address (every stream on it) */
	bool addr_set;
	unsigned n;
	struct md_stream st[SDP_MAX_STREAMS];
};

static struct md_sess *sess;
static uint32_t max_sess, n_sess, next_id;
static uint32_t *free_sess, n_free;
static struct hidx by_call;
static struct md_unit_pool pool[SFP_MEDIA_MAX_ADDRS]; /* one per media address */
static unsigned n_pool, next_pool;
static unsigned n_orphans;        /* adopted sessions not yet found again */

unsigned md_sessions(void) { return n_sess; }

/*
 * After a restart of the control process the data plane still relays the
 * calls that were up (their flows live in shared memory).  Their ports
 * must not go to new calls, and their flows must go once the calls end:
 * each session found in the flow table is adopted, its units taken from
 * the pool, and it ends (flows removed, ports back) when its media stops
 * for media_timeout_s.  Its Call-ID was not kept, so a BYE does not end
 * it at once, and sipfp sends no BYE of its own for it.
 */
static void adopt(void)
{
	const struct sfp_media_table *t = px_e.media_tab;
	if (!t)
		return;
	uint64_t now = wall_ms();
	for (uint32_t ai = 0; ai < n_pool; ai++)
	for (uint32_t i = 0; i < t->n; i++) {
		const struct sfp_media_flow *fa = &t->f[(size_t)ai * t->n];
		const struct sfp_media_cfg *c = &fa[i].c;
		uint32_t port = t->base + i;
		if (!c->active || c->leg != 0 || c->rtcp || c->stream >= SDP_MAX_STREAMS || i + 3 >= t->n ||
		    port < px_e.media_first || port + 3 > px_e.media_last || md_pool_take(&pool[ai], (uint16_t)port))
			continue; /* one caller-side RTP flow per stream stands for its unit */
		struct md_sess *s = NULL;
		for (uint32_t k = 0; k < max_sess && !s; k++)
			if (sess[k].used && sess[k].orphan && sess[k].id == c->session)
				s = &sess[k];
		if (!s && n_free) {
			uint32_t k = free_sess[--n_free];
			s = &sess[k];
			memset(s, 0, sizeof(*s));
			s->used = s->confirmed = s->orphan = s->addr_set = true;
			s->addr = (uint8_t)ai;
			s->id = c->session;
			s->key = c->call_key;
			n_orphans++;
			snprintf(s->call_id, sizeof(s->call_id), "(before restart, session %u)", c->session);
			s->created_ms = s->confirmed_ms = now;
			n_sess++;
			px_cnt.media_adopted++;
		}
		if (!s)
			continue;
		/* each side's address, as the flows towards it still say */
		struct md_stream *st = &s->st[c->stream];
		st->port = (uint16_t)port;
		for (unsigned side = 0; side < 2; side++) {
			const struct sfp_media_cfg *to = &fa[i + (side ? 0 : 2)].c;
			const struct sfp_media_cfg *rt = &fa[i + (side ? 1 : 3)].c;
			st->side[side].ip = to->to_ip;
			st->side[side].port = to->to_port;
			st->side[side].rtcp_port = rt->to_port;
			st->side[side].clock_khz = to->clock_khz;
			st->known[side] = to->to_port != 0;
		}
		if (c->stream >= s->n)
			s->n = c->stream + 1u;
		if (c->session >= next_id)
			next_id = c->session;
	}
	if (n_sess)
		px_e.log("media: %u call(s) still relayed by the data plane adopted; they end when "
			 "their media stops", n_sess);
}

int md_init(void)
{
	if (!px_e.media)
		return 0;
	max_sess = px_e.max_dialogs ? px_e.max_dialogs : 1;
	sess = calloc(max_sess, sizeof(*sess));
	free_sess = calloc(max_sess, sizeof(*free_sess));
	n_pool = px_e.media_n_addr ? px_e.media_n_addr : 1;
	if (n_pool > SFP_MEDIA_MAX_ADDRS)
		return -1;
	if (!sess || !free_sess || hidx_init(&by_call, px_pow2(max_sess), max_sess))
		return -1;
	for (unsigned a = 0; a < n_pool; a++)
		if (md_pool_init(&pool[a], px_e.media_first, px_e.media_last, px_e.media_quarantine_ms))
			return -1;
	for (uint32_t i = max_sess; i-- > 0;)
		free_sess[n_free++] = i;
	px_e.log("media: %u sessions of %zu bytes allocated, %u port units of 4 in %u-%u on %u address(es)",
		 max_sess, sizeof(struct md_sess), pool[0].n, px_e.media_first, px_e.media_last, n_pool);
	adopt();
	return 0;
}

static struct md_sess *find(struct sfp_str call_id)
{
	if (!sess)
		return NULL;
	for (uint32_t i = hidx_first(&by_call, px_hstr(call_id)); i != HIDX_NONE;
	     i = hidx_next(&by_call, i))
		if (sess[i].used && px_str_is(call_id, sess[i].call_id))
			return &sess[i];
	return NULL;
}

/* Call-ID and the caller's tag, hashed with the store's key (the one
 * sipfp's branches and tags derive from): the same after a restart */
static uint64_t call_key(struct sfp_str call_id, struct sfp_str a_tag)
{
	char t[SFP_TAG_LEN];
	sfp_tag_make(&px_e.lcfg->keys, call_id, a_tag, (struct sfp_str){ "media", 5 }, t);
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the tag's hex */
	for (unsigned i = 0; i < SFP_TAG_LEN; i++)
		h = (h ^ (uint8_t)t[i]) * 0x100000001b3ull;
	return h;
}

/* a session adopted after a restart, found again by a message of its call
 * (whichever side sent it): it gets its Call-ID and caller's tag back */
static struct md_sess *reclaim(const struct sfp_sip *m)
{
	if (!n_orphans)
		return NULL;
	uint64_t kf = call_key(m->call_id, m->from_tag), kt = call_key(m->call_id, m->to_tag);
	for (uint32_t i = 0; i < max_sess; i++) {
		struct md_sess *s = &sess[i];
		if (!s->used || !s->orphan || (s->key != kf && s->key != kt))
			continue;
		px_cstr(s->call_id, sizeof(s->call_id), m->call_id);
		px_cstr(s->a_tag, sizeof(s->a_tag), s->key == kf ? m->from_tag : m->to_tag);
		s->orphan = false;
		n_orphans--;
		hidx_add(&by_call, i, px_hs(s->call_id));
		px_e.log("media: call %s found again after the restart", s->call_id);
		return s;
	}
	return NULL;
}

static struct md_sess *create(const struct sfp_sip *m, uint64_t now)
{
	if (!n_free || m->call_id.n >= sizeof(sess[0].call_id) || m->from_tag.n >= sizeof(sess[0].a_tag))
		return NULL;
	uint32_t i = free_sess[--n_free];
	struct md_sess *s = &sess[i];
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->id = ++next_id;
	px_cstr(s->call_id, sizeof(s->call_id), m->call_id);
	px_cstr(s->a_tag, sizeof(s->a_tag), m->from_tag);
	s->key = call_key(m->call_id, m->from_tag);
	s->created_ms = now;
	hidx_add(&by_call, i, px_hs(s->call_id));
	n_sess++;
	px_cnt.media_sessions++;
	return s;
}

/* what it takes to send side k a BYE: its Contact, address, identity */
static void note_leg(struct md_sess *s, unsigned k, const struct sfp_sip_meta *mt,
		     const struct sfp_sip *m, struct sfp_str id)
{
	struct px_leg *l = &s->leg[k];
	struct sfp_str uri = px_addr_uri(m->contact, NULL);
	if (!uri.p || !uri.n || id.n >= sizeof(l->id))
		return;
	px_cstr(l->target, sizeof(l->target), uri);
	px_cstr(l->id, sizeof(l->id), id);
	l->ip = mt->src_ip;
	l->port = mt->src_port;
	l->known = true;
}

/* the Content-Type says SDP (RFC 3261 20.15; 'c' compact) */
static bool is_sdp(const char *p, const struct sfp_sip *m)
{
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h))
		if (px_name_is(h.name, "content-type", 'c')) {
			struct sfp_str v = h.value;
			while (v.n && (*v.p == ' ' || *v.p == '\t'))
				v.p++, v.n--;
			return v.n >= 15 && !strncasecmp(v.p, "application/sdp", 15);
		}
	return false;
}

static void push(uint16_t op, uint16_t port, uint16_t out_port, const struct sdp_stream *to,
		 bool rtcp, const struct md_sess *s, unsigned stream, unsigned leg, bool reset)
{
	struct sfp_media_msg mm;
	memset(&mm, 0, sizeof(mm));
	mm.port = port;
	mm.out_port = out_port;
	if (to) {
		mm.to_ip = to->ip;
		mm.to_port = to->port ? (rtcp ? to->rtcp_port : to->port) : 0;
	}
	/* the jitter of what arrives here is in its sender's clock */
	const struct md_stream *st = &s->st[stream];
	mm.clock_khz = st->known[leg] ? st->side[leg].clock_khz : to ? to->clock_khz : 8;
	mm.latch = px_e.media_latch;
	mm.rtcp = rtcp;
	mm.expect_ip = s->sig_ip[leg];
	memcpy(mm.to_mac, s->mac[!leg], 6);
	mm.latch_window_ms = px_e.media_latch_window_ms;
	mm.session = s->id;
	mm.stream = (uint8_t)stream;
	mm.leg = (uint8_t)leg;
	mm.reset = reset;
	mm.addr = s->addr;
	mm.call_key = s->key;
	px_e.media_push(op, &mm);
}

/* the four flows of stream i, as far as the sides are known */
static void install(const struct md_sess *s, unsigned i, bool reset)
{
	const struct md_stream *st = &s->st[i];
	const struct sdp_stream *a = st->known[0] ? &st->side[0] : NULL;
	const struct sdp_stream *b = st->known[1] ? &st->side[1] : NULL;
	/* A-facing ports receive from A and send to B, from B-facing ports */
	push(SFP_OP_MEDIA_SET, st->port, st->port + 2, b, false, s, i, 0, reset);
	push(SFP_OP_MEDIA_SET, st->port + 1, st->port + 3, b, true, s, i, 0, reset);
	push(SFP_OP_MEDIA_SET, st->port + 2, st->port, a, false, s, i, 1, reset);
	push(SFP_OP_MEDIA_SET, st->port + 3, st->port + 1, a, true, s, i, 1, reset);
}

static void release(struct md_sess *s, uint64_t now)
{
	uint32_t i = (uint32_t)(s - sess);
	for (unsigned k = 0; k < s->n; k++) {
		if (!s->st[k].port)
			continue;
		for (uint16_t d = 0; d < 4; d++) {
			struct sfp_media_msg mm = { .port = (uint16_t)(s->st[k].port + d), .addr = s->addr };
			px_e.media_push(SFP_OP_MEDIA_DEL, &mm);
		}
		md_pool_put(&pool[s->addr], s->st[k].port, now);
	}
	if (!s->orphan)
		hidx_del(&by_call, i, px_hs(s->call_id));
	else
		n_orphans--;
	s->used = false;
	free_sess[n_free++] = i;
	n_sess--;
	px_cnt.media_ended++;
}

static enum md_rc rewrite(struct md_sess *s, unsigned side, bool new_call, const struct sfp_sip_meta *mt,
			  const char *p, const struct sfp_sip *m, char *out, size_t cap, struct sfp_str *body);

enum md_rc md_message(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
		      bool new_call, char *out, size_t cap, struct sfp_str *body)
{
	*body = m->body;
	if (!px_e.media)
		return MD_OK;
	/* a call from before a restart is found again, even by a
	 * retransmission of its INVITE: it keeps its ports */
	struct md_sess *s = find(m->call_id);
	if (!s)
		s = reclaim(m);
	if (!s && new_call && !(s = create(m, mt->rx_ms))) {
		/* no room to track it: the call goes unanchored, as a proxy */
		return MD_OK;
	}
	if (!s)
		return MD_OK;
	/* which side sent it (and so what its SDP describes) */
	bool from_a = px_str_is(m->from_tag, s->a_tag);
	return rewrite(s, m->request ? !from_a : from_a, new_call, mt, p, m, out, cap, body);
}

enum md_rc md_message_leg(const char *key, unsigned side, const struct sfp_sip_meta *mt, const char *p,
			  const struct sfp_sip *m, char *out, size_t cap, struct sfp_str *body)
{
	*body = m->body;
	if (!px_e.media)
		return MD_OK;
	struct md_sess *s = find((struct sfp_str){ key, strlen(key) });
	return s ? rewrite(s, side & 1, false, mt, p, m, out, cap, body) : MD_OK;
}

/* the session of the caller's Call-ID and tag, adopted after a restart
 * (the back-to-back mode finds its calls in the store, not by messages) */
void md_reclaim(const char *call_id, const char *a_tag)
{
	struct sfp_sip m;
	memset(&m, 0, sizeof(m));
	m.call_id = (struct sfp_str){ call_id, strlen(call_id) };
	m.from_tag = (struct sfp_str){ a_tag, strlen(a_tag) };
	m.to_tag = m.from_tag;
	if (!find(m.call_id))
		reclaim(&m);
}

static enum md_rc rewrite(struct md_sess *s, unsigned side, bool new_call, const struct sfp_sip_meta *mt,
			  const char *p, const struct sfp_sip *m, char *out, size_t cap, struct sfp_str *body)
{
	if (m->request) {
		if (new_call)
			note_leg(s, 0, mt, m, m->from);
		if (m->cseq_num > s->leg[side].cseq)
			s->leg[side].cseq = m->cseq_num;
	} else if (side == 1 && m->status >= 200 && m->status < 300 &&
		   px_str_is(m->cseq_method, "INVITE") && !s->leg[1].known) {
		note_leg(s, 1, mt, m, m->to);
		px_cstr(s->b_tag, sizeof(s->b_tag), m->to_tag);
	}
	if (!m->body.n || !is_sdp(p, m))
		return MD_OK;
	struct sdp_info in;
	enum sdp_err e = sdp_read(m->body.p, m->body.n, &in);
	if (e != SDP_OK) {
		px_cnt.media_bad_sdp++;
		px_e.log("call %s: %s from the %s, %s", s->call_id, sdp_strerror(e),
			 side ? "callee" : "caller", m->request ? "488" : "relayed as is");
		if (new_call)
			release(s, mt->rx_ms);
		return MD_BAD_SDP;
	}
	/* a unit of ports for every stream not seen before */
	uint16_t ports[SDP_MAX_STREAMS];
	bool fresh[SDP_MAX_STREAMS] = { false };
	for (unsigned i = 0; i < in.n; i++) {
		if (i >= s->n || !s->st[i].port) {
			/* a call's first unit: the next address that has one
			 * (round robin); its other streams on the same address */
			uint16_t u = 0;
			if (!s->addr_set) {
				for (unsigned k = 0; k < n_pool && !u; k++) {
					unsigned a = (next_pool + k) % n_pool;
					if ((u = md_pool_get(&pool[a], mt->rx_ms))) {
						s->addr = (uint8_t)a;
						s->addr_set = true;
						next_pool = a + 1;
					}
				}
			} else {
				u = md_pool_get(&pool[s->addr], mt->rx_ms);
			}
			if (!u) {
				px_cnt.media_no_ports++;
				px_e.log("call %s: media_ports exhausted", s->call_id);
				if (new_call)
					release(s, mt->rx_ms);
				return MD_NO_PORTS;
			}
			s->st[i].port = u;
			fresh[i] = true;
			if (i >= s->n)
				s->n = i + 1;
		}
		/* what the other side is to send to: the ports facing this one's
		 * peer... which face the other side */
		ports[i] = (uint16_t)(s->st[i].port + (side == 0 ? 2 : 0));
	}
	size_t n;
	e = sdp_write(m->body.p, m->body.n, px_e.media_addrs[s->addr], ports, in.n, out, cap, &n);
	if (e != SDP_OK) {
		px_cnt.media_bad_sdp++;
		if (new_call)
			release(s, mt->rx_ms);
		return MD_BAD_SDP;
	}
	s->sig_ip[side] = mt->src_ip;
	memcpy(s->mac[side], mt->mac, 6);
	for (unsigned i = 0; i < in.n; i++) {
		s->st[i].side[side] = in.s[i];
		s->st[i].known[side] = 1;
		install(s, i, fresh[i]);
	}
	body->p = out;
	body->n = n;
	return MD_OK;
}

void md_confirm(struct sfp_str call_id, uint64_t now)
{
	struct md_sess *s = find(call_id);
	if (s && !s->confirmed) {
		s->confirmed = true;
		s->confirmed_ms = now;
	}
}

/* the fast path's flow of port + d on session s's address; NULL if none */
static const struct sfp_media_flow *flow(const struct md_sess *s, uint16_t port, unsigned d)
{
	const struct sfp_media_table *t = px_e.media_tab;
	if (!t || !port || s->addr >= t->n_addr)
		return NULL;
	uint32_t i = (uint32_t)port + d - t->base;
	return i < t->n ? &t->f[(size_t)s->addr * t->n + i] : NULL;
}

/* packets, loss and worst jitter of what one leg sent (the flows of its
 * facing RTP port), read from the fast path's counters */
struct leg_sum {
	uint64_t pkts, bytes, lost, drops;
	uint32_t max_jitter_ms;
};

static void leg_sum(const struct md_sess *s, unsigned leg, struct leg_sum *o)
{
	const struct sfp_media_table *t = px_e.media_tab;
	memset(o, 0, sizeof(*o));
	if (!t)
		return;
	for (unsigned k = 0; k < s->n; k++) {
		for (unsigned d = 0; d < 2; d++) {
			const struct sfp_media_flow *f = flow(s, s->st[k].port, 2 * leg + d);
			if (!f)
				continue;
			o->pkts += f->s.pkts;
			o->bytes += f->s.bytes;
			o->drops += f->s.drop_src + f->s.drop_other;
			if (d == 0 && f->s.seq_init) {
				o->lost += sfp_rtp_lost(&f->s);
				uint32_t khz = f->c.clock_khz ? f->c.clock_khz : 8;
				uint32_t j = f->s.max_jitter_q4 / 16 / khz;
				if (j > o->max_jitter_ms)
					o->max_jitter_ms = j;
			}
		}
	}
}

static void end_session(struct md_sess *s, const char *why);

void md_end(const char *call_id, const char *why)
{
	struct md_sess *s = find((struct sfp_str){ call_id, strlen(call_id) });
	if (s)
		end_session(s, why);
}

static void end_session(struct md_sess *s, const char *why)
{
	uint64_t now = 0, wall = wall_ms();
	for (unsigned k = 0; k < s->n; k++)
		for (unsigned d = 0; d < 4; d++) {
			const struct sfp_media_flow *f = flow(s, s->st[k].port, d);
			if (f && f->s.last_ms > now)
				now = f->s.last_ms;
		}
	struct leg_sum a, b;
	leg_sum(s, 0, &a);
	leg_sum(s, 1, &b);
	uint64_t start = s->confirmed ? s->confirmed_ms : s->created_ms;
	px_e.log("media %s: %s; %u stream(s), %.1f s; caller->callee %lu pkts %lu lost, max jitter %u ms; "
		 "callee->caller %lu pkts %lu lost, max jitter %u ms; dropped %lu",
		 s->call_id, why, s->n, now > start ? (double)(now - start) / 1000.0 : 0.0,
		 (unsigned long)a.pkts, (unsigned long)a.lost, a.max_jitter_ms,
		 (unsigned long)b.pkts, (unsigned long)b.lost, b.max_jitter_ms,
		 (unsigned long)(a.drops + b.drops));
	release(s, wall);
}

/* the newest packet relayed on any of the call's ports; 0 for none */
static uint64_t last_media(const struct md_sess *s)
{
	uint64_t last = 0;
	for (unsigned k = 0; k < s->n; k++)
		for (unsigned d = 0; d < 4; d++) {
			const struct sfp_media_flow *f = flow(s, s->st[k].port, d);
			if (f && f->s.last_ms > last)
				last = f->s.last_ms;
		}
	return last;
}

/* on hold: a side offered or answered with something other than
 * sendrecv, or the old c=0.0.0.0 (RFC 3264 8.4) */
static bool on_hold(const struct md_sess *s)
{
	for (unsigned k = 0; k < s->n; k++)
		for (unsigned side = 0; side < 2; side++)
			if (s->st[k].known[side] && s->st[k].side[side].port &&
			    (s->st[k].side[side].dir != SDP_SENDRECV || !s->st[k].side[side].ip))
				return true;
	return false;
}

/* no media for media_timeout_s (media_hold_timeout_s on hold): the
 * endpoints are gone, or cannot reach each other; end the call with a BYE
 * to each, so neither is billed for silence nor holds a line for ever */
static void media_timeout(struct md_sess *s, uint64_t now)
{
	uint64_t last = last_media(s);
	if (!last || last < s->confirmed_ms)
		last = s->confirmed_ms;
	bool hold = on_hold(s);
	uint64_t limit = hold ? px_e.media_hold_timeout_ms : px_e.media_timeout_ms;
	if (!limit || now - last <= limit)
		return;
	if (s->orphan) {
		end_session(s, "media stopped (adopted after a restart)");
		return;
	}
	char cid[128], atag[64], btag[64];
	struct px_leg a = s->leg[0], b = s->leg[1];
	snprintf(cid, sizeof(cid), "%s", s->call_id);
	snprintf(atag, sizeof(atag), "%s", s->a_tag);
	snprintf(btag, sizeof(btag), "%s", s->b_tag);
	px_cnt.media_timeouts++;
	px_e.log("call %s: no media for %lu s%s: BYE to both sides", cid,
		 (unsigned long)((now - last) / 1000), hold ? " (on hold)" : "");
	md_end(cid, hold ? "media timeout on hold" : "media timeout");
	px_end_call(cid, atag, btag, &a, &b, now);
}

void md_tick(uint64_t now)
{
	/* calls that never got their 2xx (and whose failure we did not see,
	 * e.g. a table full), or whose dialog was never tracked */
	uint64_t setup_max = px_e.timer_c_ms + 64ull * px_e.t1_ms + 5000;
	for (uint32_t i = 0; sess && i < max_sess; i++) {
		struct md_sess *s = &sess[i];
		if (!s->used)
			continue;
		if ((!s->confirmed && now - s->created_ms > setup_max) ||
		    (s->confirmed && now - s->confirmed_ms > px_e.dialog_max_ms))
			end_session(s, s->confirmed ? "dialog_max_s reached" : "never answered");
		else if (s->confirmed)
			media_timeout(s, now);
	}
}

void md_list(px_row_fn row, void *ctx, uint64_t now)
{
	char line[512], ab[16], bb[16];
	for (uint32_t i = 0; sess && i < max_sess; i++) {
		const struct md_sess *s = &sess[i];
		if (!s->used)
			continue;
		for (unsigned k = 0; k < s->n; k++) {
			const struct md_stream *st = &s->st[k];
			uint64_t p[2] = { 0, 0 }, last = 0;
			uint32_t jit[2] = { 0, 0 };
			for (unsigned leg = 0; leg < 2; leg++) {
				const struct sfp_media_flow *f = flow(s, st->port, 2 * leg);
				if (!f)
					continue;
				p[leg] = f->s.pkts;
				jit[leg] = f->s.jitter_q4 / 16 / (f->c.clock_khz ? f->c.clock_khz : 8);
				if (f->s.last_ms > last)
					last = f->s.last_ms;
			}
			snprintf(line, sizeof(line), "%.127s\t%u\t%u\t%s:%u\t%u\t%s:%u\t%lu\t%lu\t%u\t%u\t%lu\t%s",
				 s->call_id, k, st->port, px_ipstr(st->side[0].ip, ab), st->side[0].port,
				 st->port + 2, px_ipstr(st->side[1].ip, bb), st->side[1].port,
				 (unsigned long)p[0], (unsigned long)p[1], jit[0], jit[1],
				 (unsigned long)(last && now > last ? (now - last) / 1000 : 0),
				 px_e.media_addrs[s->addr < n_pool ? s->addr : 0]);
			row(ctx, line);
		}
	}
}
