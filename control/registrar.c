/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The registrar (RFC 3261 10.3): bindings in memory, found by
 * address-of-record and by contact, persisted in the store before the 200.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px.h"


struct binding *px_binds;
unsigned px_n_binds;            /* live bindings */
static unsigned hw_binds, cap_binds;/* slots ever used; slots allocated */
static uint32_t free_binds = HIDX_NONE;
struct hidx px_by_aor, px_by_contact;

static int load_binding(void *ctx, const struct store_binding *b)
{
	(void)ctx;
	uint32_t i = free_binds;
	if (i != HIDX_NONE) {
		free_binds = px_binds[i].next_free;
	} else {
		if (hw_binds == cap_binds) {
			unsigned nc = cap_binds ? cap_binds * 2 : 1024;
			struct binding *nb = realloc(px_binds, nc * sizeof(*nb));
			if (!nb || hidx_grow(&px_by_aor, nc) || hidx_grow(&px_by_contact, nc)) {
				if (nb)
					px_binds = nb;
				return 1;
			}
			px_binds = nb;
			cap_binds = nc;
		}
		i = hw_binds++;
	}
	px_binds[i].b = *b;
	px_binds[i].used = true;
	hidx_add(&px_by_aor, i, px_hs(b->aor));
	hidx_add(&px_by_contact, i, px_hs(b->contact));
	px_n_binds++;
	return 0;
}

struct binding *px_bind_find(const char *aor, const char *contact)
{
	FOR_AOR(i, aor)
		if (!strcmp(px_binds[i].b.contact, contact))
			return &px_binds[i];
	return NULL;
}

struct binding *px_bind_by_contact(const char *contact)
{
	uint32_t i = hidx_first(&px_by_contact, px_hs(contact));
	for (; i != HIDX_NONE; i = hidx_next(&px_by_contact, i))
		if (!strcmp(px_binds[i].b.contact, contact))
			return &px_binds[i];
	return NULL;
}

void px_bind_remove(unsigned i)
{
	hidx_del(&px_by_aor, i, px_hs(px_binds[i].b.aor));
	hidx_del(&px_by_contact, i, px_hs(px_binds[i].b.contact));
	px_binds[i].used = false;
	px_binds[i].next_free = free_binds;
	free_binds = i;
	px_n_binds--;
}

struct binding *px_bind_any(const char *aor)
{
	FOR_AOR(i, aor)
		return &px_binds[i];
	return NULL;
}

void px_bind_reset(void)
{
	px_n_binds = hw_binds = 0;
	free_binds = HIDX_NONE;
	hidx_clear(&px_by_aor);
	hidx_clear(&px_by_contact);
}

unsigned px_registrations(void) { return px_n_binds; }

/*
 * Where to send to a registered contact.  When the Contact names the
 * address the REGISTER came from, it is reachable as written; when it names
 * another address (a private one behind NAT, typically), the source address
 * and port seen on the wire are used instead (RFC 3581's reasoning applied
 * to the binding), as the binding keeps them.
 */
void px_reach(const struct store_binding *b, uint32_t *ip, uint16_t *port)
{
	struct sfp_uri_parts up;
	uint32_t cip;
	struct sfp_str c = { b->contact, strlen(b->contact) };
	/* over a connection: only down that connection (its peer's address;
	 * RFC 5626's flow) */
	if (b->transport != SFP_TP_UDP) {
		*ip = b->ip;
		*port = b->port;
	} else if (sfp_uri_parse(c, &up) >= 0 && px_ip4(up.host, &cip) && cip == b->ip) {
		*ip = cip;
		*port = up.port ? up.port : 5060;
	} else {
		*ip = b->ip;
		*port = b->port;
	}
}

/* ---- the registrar's writes, and the journal while the store is away ---------- */

enum reg_op_kind { REG_PUT, REG_DEL, REG_DEL_ALL };
struct reg_op {
	uint8_t op;            /* enum reg_op_kind */
	struct store_binding b; /* REG_DEL: aor and contact; REG_DEL_ALL: aor */
};

static struct reg_op *journal;
static unsigned j_head, j_len, j_cap;
static bool store_away;

static void apply_op(const struct reg_op *o)
{
	struct binding *b;
	switch (o->op) {
	case REG_DEL_ALL:
		while ((b = px_bind_any(o->b.aor)))
			px_bind_remove((unsigned)(b - px_binds));
		break;
	case REG_DEL:
		if ((b = px_bind_find(o->b.aor, o->b.contact)))
			px_bind_remove((unsigned)(b - px_binds));
		break;
	case REG_PUT:
		if ((b = px_bind_find(o->b.aor, o->b.contact)))
			b->b = o->b;
		else
			(void)load_binding(NULL, &o->b);
		break;
	}
}

/* ops in one store transaction; false when the store did not take them
 * (unreachable), or when the journal is not empty: order is kept */
static bool store_ops(const struct reg_op *ops, unsigned n)
{
	if (j_len || store_begin(px_e.db))
		goto away;
	int err = 0;
	for (unsigned i = 0; i < n; i++)
		err |= ops[i].op == REG_PUT ? store_binding_put(px_e.db, &ops[i].b)
					    : store_binding_del(px_e.db, ops[i].b.aor,
								ops[i].op == REG_DEL ? ops[i].b.contact : NULL);
	if (!err && !store_commit(px_e.db))
		return true;
	store_rollback(px_e.db);
away:
	if (!store_away) {
		store_away = true;
		px_cnt.store_away++;
		px_e.log("store unreachable (%s): REGISTER writes go to the journal (room for %u), "
			 "calls go on with the registrations in memory", store_error(px_e.db), j_cap);
	}
	return false;
}

/* once a second while the store is away: the journal, in order, in one
 * transaction */
static void journal_drain(void)
{
	if (!j_len || store_begin(px_e.db))
		return;
	int err = 0;
	for (unsigned k = 0; k < j_len && !err; k++) {
		const struct reg_op *o = &journal[(j_head + k) % j_cap];
		err |= o->op == REG_PUT ? store_binding_put(px_e.db, &o->b)
					: store_binding_del(px_e.db, o->b.aor, o->op == REG_DEL ? o->b.contact : NULL);
	}
	if (err || store_commit(px_e.db)) {
		store_rollback(px_e.db);
		return;
	}
	px_cnt.reg_journal_replayed += j_len;
	px_e.log("store back: %u journaled REGISTER write(s) replayed in order", j_len);
	j_head = j_len = 0;
	store_away = false;
}

unsigned px_journal_len(void) { return j_len; }

struct contact_in {
	struct sfp_str uri;
	long expires;  /* -1: not given */
};

void px_registrar(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct sfp_uri_parts to;
	struct sfp_str tp;
	struct sfp_str to_uri = px_addr_uri(m->to, &tp);
	char aor[64];
	uint64_t now = mt->rx_ms;

	/* 10.3 step 6: a user registers only its own address of record */
	if (!to_uri.p || sfp_uri_parse(to_uri, &to) < 0 || !to.user.n) {
		px_cnt.reg_rejected++;
		px_e.respond(mt, m, 400, "Bad To Header", NULL);
		return;
	}
	px_cstr(aor, sizeof(aor), to.user);
	if (strcmp(aor, mt->user)) {
		px_cnt.reg_rejected++;
		px_e.respond(mt, m, 403, "Not Allowed To Register This Address", NULL);
		return;
	}
	long hdr_exp = m->expires.p ? px_num(m->expires) : -1;

	/* every Contact value of every Contact header */
	struct contact_in cs[16];
	unsigned nc = 0;
	bool star = false, bad = false;
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h)) {
		if (!px_name_is(h.name, "contact", 'm'))
			continue;
		struct sfp_str rest = h.value;
		while (rest.n) {
			struct sfp_str v = px_first_value(rest, &rest), ps = { NULL, 0 };
			if (v.n == 1 && v.p[0] == '*') {
				star = true;
				continue;
			}
			struct sfp_str u = px_addr_uri(v, &ps);
			struct sfp_uri_parts up;
			if (!u.p || sfp_uri_parse(u, &up) < 0) {
				bad = true;
				continue;
			}
			if (nc < 16) {
				struct sfp_str e = px_param(ps, "expires");
				cs[nc].uri = u;
				cs[nc].expires = e.p ? px_num(e) : -1;
				nc++;
			}
		}
	}
	if (bad || (star && (nc || hdr_exp != 0))) {
		/* 10.3 step 6: "*" only alone and with Expires: 0 */
		px_cnt.reg_rejected++;
		px_e.respond(mt, m, 400, bad ? "Bad Contact" : "Contact * Needs Expires 0 Alone", NULL);
		return;
	}
	char callid[128];
	px_cstr(callid, sizeof(callid), m->call_id);

	/* 10.3 step 7: check the whole request before changing anything */
	for (unsigned i = 0; i < nc; i++) {
		long e = cs[i].expires >= 0 ? cs[i].expires : hdr_exp >= 0 ? hdr_exp : (long)px_e.reg_default;
		if (e > 0 && e < (long)px_e.reg_min) {
			char extra[64];
			snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", px_e.reg_min);
			px_cnt.reg_rejected++;
			px_e.respond(mt, m, 423, "Interval Too Brief", extra);
			return;
		}
		char c[256];
		px_cstr(c, sizeof(c), cs[i].uri);
		struct binding *b = px_bind_find(aor, c);
		if (b && !strcmp(b->b.call_id, callid) && m->cseq_num <= b->b.cseq) {
			px_cnt.reg_rejected++;
			px_e.respond(mt, m, 400, "Out Of Order CSeq", NULL);
			return;
		}
	}
	/* the writes this REGISTER makes, decided before anything changes */
	struct reg_op ops[17];
	unsigned nops = 0;
	if (star)
		ops[nops++] = (struct reg_op){ .op = REG_DEL_ALL, .b = { .expires_ms = 0 } };
	if (star)
		snprintf(ops[0].b.aor, sizeof(ops[0].b.aor), "%s", aor);
	for (unsigned i = 0; i < nc; i++) {
		long e = cs[i].expires >= 0 ? cs[i].expires : hdr_exp >= 0 ? hdr_exp : (long)px_e.reg_default;
		if (e > (long)px_e.reg_max)
			e = px_e.reg_max;
		struct reg_op *o = &ops[nops];
		memset(o, 0, sizeof(*o));
		snprintf(o->b.aor, sizeof(o->b.aor), "%s", aor);
		px_cstr(o->b.contact, sizeof(o->b.contact), cs[i].uri);
		if (e == 0) {
			if (!px_bind_find(aor, o->b.contact))
				continue;
			o->op = REG_DEL;
		} else {
			o->op = REG_PUT;
			o->b.ip = mt->src_ip;
			o->b.port = mt->src_port;
			o->b.transport = mt->transport;
			o->b.expires_ms = now + (uint64_t)e * 1000;
			snprintf(o->b.call_id, sizeof(o->b.call_id), "%s", callid);
			o->b.cseq = m->cseq_num;
			snprintf(o->b.node, sizeof(o->b.node), "%s", px_e.node_id);
		}
		nops++;
	}
	/* into the store before the 200; while it is unreachable, into the
	 * journal, replayed in order when it is back; past the journal's
	 * bound, 503 (nothing changed, the phone tries again) */
	if (!store_ops(ops, nops)) {
		if (j_len + nops > j_cap) {
			px_cnt.reg_journal_full++;
			char ra[32];
			snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", px_e.lcfg->retry_after);
			px_e.respond(mt, m, 503, "Service Unavailable", ra);
			return;
		}
		for (unsigned i = 0; i < nops; i++)
			journal[(j_head + j_len++) % j_cap] = ops[i];
		px_cnt.reg_journaled++;
	}
	for (unsigned i = 0; i < nops; i++)
		apply_op(&ops[i]);
	/* 10.3 step 8: 200 with every current binding and its remaining time */
	char extra[4096];
	struct sfp_wbuf w = { extra, 0, sizeof(extra) - 1, false };
	unsigned left = 0;
	FOR_AOR(i, aor) {
		left++;
		uint64_t rem = px_binds[i].b.expires_ms > now ? (px_binds[i].b.expires_ms - now + 999) / 1000 : 0;
		px_putf(&w, "Contact: <%s>;expires=%lu\r\n", px_binds[i].b.contact, (unsigned long)rem);
	}
	extra[w.full ? 0 : w.n] = '\0';
	px_cnt.reg_ok++;
	px_e.respond(mt, m, 200, "OK", extra);
	char ipb[16];
	px_e.log("REGISTER %s from %s:%u: %u contact(s) now", aor, px_ipstr(mt->src_ip, ipb), mt->src_port, left);
}

void px_registrar_tick(uint64_t now)
{
	journal_drain();
	for (unsigned i = 0; i < hw_binds; i++) {
		if (px_binds[i].used && px_binds[i].b.expires_ms <= now) {
			px_e.log("binding %s -> %s expired", px_binds[i].b.aor, px_binds[i].b.contact);
			struct reg_op o = { .op = REG_DEL, .b = px_binds[i].b };
			if (!store_ops(&o, 1) && j_len < j_cap)
				journal[(j_head + j_len++) % j_cap] = o;
			px_cnt.reg_expired++;
			px_bind_remove(i);
		}
	}
}

/* ---- the users, in memory: a call to an unknown user gets 404 without
 * asking the store (one query less per INVITE; and with the store away,
 * calls go on) ---------------------------------------------------------------- */

static char (*users)[SFP_USER_MAX];
static unsigned n_user_slots, cap_users;
static uint32_t free_users = HIDX_NONE;
static uint32_t *user_next_free;
static struct hidx by_user;

static uint32_t user_slot(const char *name)
{
	for (uint32_t i = hidx_first(&by_user, px_hs(name)); i != HIDX_NONE; i = hidx_next(&by_user, i))
		if (!strcmp(users[i], name))
			return i;
	return HIDX_NONE;
}

bool px_user_known(const char *name)
{
	return users && user_slot(name) != HIDX_NONE;
}

void px_user_add(const char *name)
{
	if (!users || strlen(name) >= SFP_USER_MAX || user_slot(name) != HIDX_NONE)
		return;
	uint32_t i = free_users;
	if (i != HIDX_NONE) {
		free_users = user_next_free[i];
	} else {
		if (n_user_slots == cap_users) {
			unsigned nc = cap_users * 2;
			void *nu = realloc(users, (size_t)nc * SFP_USER_MAX), *nf;
			if (!nu)
				return;
			users = nu;
			if (!(nf = realloc(user_next_free, nc * sizeof(*user_next_free))) || hidx_grow(&by_user, nc))
				return;
			user_next_free = nf;
			cap_users = nc;
		}
		i = n_user_slots++;
	}
	snprintf(users[i], SFP_USER_MAX, "%s", name);
	hidx_add(&by_user, i, px_hs(name));
}

void px_user_del(const char *name)
{
	uint32_t i = users ? user_slot(name) : HIDX_NONE;
	if (i == HIDX_NONE)
		return;
	hidx_del(&by_user, i, px_hs(name));
	users[i][0] = '\0';
	user_next_free[i] = free_users;
	free_users = i;
}

/* at start, this node's bindings (another node's phone is reached
 * through that node: px_remote_targets) */
static int load_own(void *ctx, const struct store_binding *b)
{
	if (b->node[0] && strcmp(b->node, px_e.node_id))
		return 0;
	return load_binding(ctx, b);
}

/* ---- registrations held by the other nodes (PostgreSQL) ------------------------- */

struct remote_ctx {
	struct binding *out;
	unsigned n;
	uint64_t now;
	char gone[48];          /* a node found gone, for the log */
	uint64_t gone_age_ms;
};

/* a node is gone after 3 s without a heartbeat (ctl_main.c writes one a second) */
#define PX_NODE_GONE_MS 3000

static int remote_cb(void *ctx, const struct store_binding *b)
{
	struct remote_ctx *rc = ctx;
	if (rc->n == MAX_FORK || b->expires_ms <= rc->now || !b->node[0] || !strcmp(b->node, px_e.node_id))
		return 0;
	uint64_t seen = store_node_seen(px_e.db, b->node);
	if (!seen || rc->now > seen + PX_NODE_GONE_MS) {
		snprintf(rc->gone, sizeof(rc->gone), "%s", b->node);
		rc->gone_age_ms = seen && rc->now > seen ? rc->now - seen : 0;
		return 0;
	}
	/* reached through its node: the Request-URI is the phone's contact,
	 * the next hop the node's SIP address */
	struct binding *o = &rc->out[rc->n];
	memset(o, 0, sizeof(*o));
	o->b = *b;
	const char *colon = strrchr(b->node, ':');
	char ipb[16];
	snprintf(ipb, sizeof(ipb), "%.*s", colon ? (int)(colon - b->node) : 0, b->node);
	if (!colon || !px_ip4((struct sfp_str){ ipb, strlen(ipb) }, &o->b.ip))
		return 0;
	o->b.port = (uint16_t)atoi(colon + 1);
	o->used = true;
	rc->n++;
	return 0;
}

unsigned px_remote_targets(const char *aor, uint64_t now, struct binding *out, char gone[48], uint64_t *gone_age)
{
	struct remote_ctx rc = { out, 0, now, "", 0 };
	if (store_binding_aor_each(px_e.db, aor, remote_cb, &rc) < 0)
		return 0;
	snprintf(gone, 48, "%s", rc.gone);
	*gone_age = rc.gone_age_ms;
	return rc.n;
}

static int load_user(void *ctx, const char *user, const char *realm, const struct sfp_ha1 *h)
{
	(void)ctx, (void)realm, (void)h;
	px_user_add(user);
	return 0;
}

void px_reg_list(px_row_fn row, void *ctx, uint64_t now)
{
	char line[512], ipb[16];
	for (unsigned i = 0; i < hw_binds; i++) {
		if (!px_binds[i].used)
			continue;
		const struct store_binding *b = &px_binds[i].b;
		snprintf(line, sizeof(line), "%s\t%s\t%s:%u\t%lu", b->aor, b->contact, px_ipstr(b->ip, ipb),
			 b->port, (unsigned long)(b->expires_ms > now ? (b->expires_ms - now) / 1000 : 0));
		row(ctx, line);
	}
}

int px_reg_init(void)
{
	/* buckets: about one per entry at the sizes sipfp is built for */
	if (hidx_init(&px_by_aor, 1u << 17, 1024) || hidx_init(&px_by_contact, 1u << 17, 1024) ||
	    hidx_init(&by_user, 1u << 17, 1024))
		return -1;
	j_cap = px_e.journal_max ? px_e.journal_max : 1;
	journal = calloc(j_cap, sizeof(*journal));
	cap_users = 1024;
	users = calloc(cap_users, SFP_USER_MAX);
	user_next_free = calloc(cap_users, sizeof(*user_next_free));
	if (!journal || !users || !user_next_free)
		return -1;
	px_bind_reset();
	return store_binding_each(px_e.db, load_own, NULL) || store_user_each(px_e.db, load_user, NULL);
}
