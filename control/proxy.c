/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Registrar, record-routing proxy and dialogs (see proxy.h).
 *
 * Routing follows RFC 3261 16: the authenticated INVITE is forwarded to
 * every registered contact of the callee (parallel forking, 16.6; at most
 * MAX_FORK, the freshest first) with our Via on top, a Record-Route, one
 * hop less in Max-Forwards and our own Proxy-Authorization removed (22.3).
 * Each branch is an INVITE client transaction (17.1.1: timers A, B, C, D)
 * in one response context: provisionals and the first 2xx go back at once
 * by Via (16.7, 18.2.2), a 2xx CANCELs the other branches (16.7 step 10),
 * error finals are ACKed hop by hop and held until every branch is final,
 * then the best one is sent (16.7 step 6: a 6xx wins, else the lowest
 * class; 503 becomes 500).  CANCEL from the caller is answered and sent
 * down every branch (16.10).  In-dialog requests follow Route (loose
 * routing, 16.12) and get a branch derived from theirs: non-INVITE ones
 * (BYE, INFO, UPDATE...) get a non-INVITE client transaction (17.1.2:
 * timers E, F, K), a re-INVITE an INVITE one, so retransmissions are
 * absorbed, a lost request is retransmitted and a silent far end gets 408.
 * ACK has none (17.1.1.3).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hidx.h"
#include "proxy.h"
#include "sip_auth.h"
#include "wbuf.h"

struct px_counters px_cnt;
static struct px_env E;

#define BRANCH_MAGIC "z9hG4bK"     /* RFC 3261 8.1.1.7 */
#define OUR_BRANCH   "z9hG4bKsfp"
#define MSG_MAX      SFP_SIP_MAX

/* ---- small helpers -------------------------------------------------------------- */

static void putf(struct sfp_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct sfp_wbuf *w, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(b))
		w->full = true;
	else
		sfp_put(w, b, (size_t)r);
}

static void cstr(char *d, size_t cap, struct sfp_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(d, s.p, n);
	d[n] = '\0';
}

static bool str_is(struct sfp_str s, const char *c)
{
	return s.n == strlen(c) && !memcmp(s.p, c, s.n);
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c; }

static bool name_is(struct sfp_str n, const char *full, char compact)
{
	if (compact && n.n == 1 && lower(n.p[0]) == compact)
		return true;
	return sfp_str_ieq(n, full);
}

/* one raw header field: name, and the whole field with continuation lines */
struct rawh {
	struct sfp_str name;
	const char *start, *end; /* end: after the CRLF of the last line */
	struct sfp_str value;
};

/* iterate header fields of p[0..len): *off starts after the start line */
static bool hdr_next(const char *p, size_t len, size_t *off, struct rawh *h)
{
	size_t i = *off;
	if (i >= len || p[i] == '\r' || p[i] == '\n')
		return false;
	size_t e = i;
	for (;;) {
		const char *lf = memchr(p + e, '\n', len - e);
		e = lf ? (size_t)(lf - p) + 1 : len;
		if (e >= len || (p[e] != ' ' && p[e] != '\t'))
			break;
	}
	h->start = p + i;
	h->end = p + e;
	size_t c = i;
	while (c < e && p[c] != ':')
		c++;
	size_t ne = c;
	while (ne > i && (p[ne - 1] == ' ' || p[ne - 1] == '\t'))
		ne--;
	h->name = (struct sfp_str){ p + i, ne - i };
	size_t vs = c + 1, ve = e;
	while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' ' || p[ve - 1] == '\t'))
		ve--;
	h->value = (struct sfp_str){ p + vs, ve > vs ? ve - vs : 0 };
	*off = e;
	return true;
}

static size_t first_line_end(const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	return lf ? (size_t)(lf - p) + 1 : len;
}

/* split a header value at its first top-level comma (outside <> and quotes) */
static struct sfp_str first_value(struct sfp_str v, struct sfp_str *rest)
{
	bool q = false;
	int ang = 0;
	for (size_t i = 0; i < v.n; i++) {
		char c = v.p[i];
		if (q) {
			if (c == '\\')
				i++;
			else if (c == '"')
				q = false;
		} else if (c == '"') {
			q = true;
		} else if (c == '<') {
			ang++;
		} else if (c == '>') {
			ang--;
		} else if (c == ',' && ang <= 0) {
			size_t k = i + 1;
			while (k < v.n && (v.p[k] == ' ' || v.p[k] == '\t'))
				k++;
			if (rest)
				*rest = (struct sfp_str){ v.p + k, v.n - k };
			size_t e = i;
			while (e > 0 && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
				e--;
			return (struct sfp_str){ v.p, e };
		}
	}
	if (rest)
		*rest = (struct sfp_str){ v.p + v.n, 0 };
	return v;
}

/* the URI of a name-addr or addr-spec, and its header parameters */
static struct sfp_str addr_uri(struct sfp_str v, struct sfp_str *params)
{
	const char *lt = memchr(v.p, '<', v.n);
	if (lt) {
		const char *gt = memchr(lt, '>', (size_t)(v.p + v.n - lt));
		if (!gt)
			return (struct sfp_str){ NULL, 0 };
		if (params)
			*params = (struct sfp_str){ gt + 1, (size_t)(v.p + v.n - gt - 1) };
		return (struct sfp_str){ lt + 1, (size_t)(gt - lt - 1) };
	}
	/* addr-spec: parameters after ';' belong to the header (20.10) */
	const char *sc = memchr(v.p, ';', v.n);
	size_t n = sc ? (size_t)(sc - v.p) : v.n;
	if (params)
		*params = (struct sfp_str){ v.p + n, v.n - n };
	while (n && (v.p[n - 1] == ' ' || v.p[n - 1] == '\t'))
		n--;
	return (struct sfp_str){ v.p, n };
}

/* value of ;name=value in a parameter list, or p==NULL */
static struct sfp_str param(struct sfp_str ps, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < ps.n; i++) {
		if (ps.p[i] != ';')
			continue;
		size_t k = i + 1;
		while (k < ps.n && ps.p[k] == ' ')
			k++;
		if (ps.n - k >= nl && !strncasecmp(ps.p + k, name, nl) &&
		    (k + nl == ps.n || ps.p[k + nl] == '=' || ps.p[k + nl] == ';' || ps.p[k + nl] == ' ')) {
			size_t s = k + nl;
			if (s < ps.n && ps.p[s] == '=')
				s++;
			size_t e = s;
			while (e < ps.n && ps.p[e] != ';' && ps.p[e] != ',' && ps.p[e] != ' ')
				e++;
			return (struct sfp_str){ ps.p + s, e - s };
		}
	}
	return (struct sfp_str){ NULL, 0 };
}

static bool ip4(struct sfp_str host, uint32_t *out)
{
	char b[16];
	struct in_addr a;
	if (!host.n || host.n >= sizeof(b))
		return false;
	memcpy(b, host.p, host.n);
	b[host.n] = '\0';
	if (inet_pton(AF_INET, b, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

static long num(struct sfp_str s)
{
	char b[16];
	if (!s.p || !s.n || s.n >= sizeof(b))
		return -1;
	memcpy(b, s.p, s.n);
	b[s.n] = '\0';
	char *e;
	long v = strtol(b, &e, 10);
	return *e || v < 0 ? -1 : v;
}

static bool uri_is_us(const struct sfp_uri_parts *u)
{
	uint16_t port = u->port ? u->port : 5060;
	if (port != E.lcfg->sip_port)
		return false;
	return sfp_str_ieq(u->host, E.lcfg->addr) ||
	       (E.lcfg->domain[0] && sfp_str_ieq(u->host, E.lcfg->domain));
}

/* where a Via says responses go (RFC 3261 18.2.2, RFC 3581 4) */
static bool via_dest(struct sfp_str value, uint32_t *ip, uint16_t *port)
{
	struct sfp_via v;
	if (sfp_via_parse(value, &v))
		return false;
	if (!(v.received.p ? ip4(v.received, ip) : ip4(v.host, ip)))
		return false;
	*port = v.port ? v.port : 5060;
	if (v.rport && v.rport_has_value) {
		struct sfp_str r = { v.value.p + v.rport_end + 1, 0 };
		while (r.p + r.n < v.value.p + v.value.n && r.p[r.n] >= '0' && r.p[r.n] <= '9')
			r.n++;
		long pv = num(r);
		if (pv > 0 && pv < 65536)
			*port = (uint16_t)pv;
	}
	return true;
}

static void make_branch(struct sfp_str call_id, struct sfp_str in_branch, const char *salt,
			char out[48])
{
	char tag[SFP_TAG_LEN];
	sfp_tag_make(&E.lcfg->keys, call_id, (struct sfp_str){ salt, strlen(salt) }, in_branch, tag);
	snprintf(out, 48, OUR_BRANCH "%.*s", SFP_TAG_LEN - 3, tag + 3);
}

static const char *ipstr(uint32_t ip, char b[16])
{
	sfp_ip4_fmt(ip, b);
	return b;
}

/* ---- registrar (RFC 3261 10.3) --------------------------------------------------- */

static uint64_t hs(const char *c) { return hidx_hash(c, strlen(c)); }
static uint64_t hstr(struct sfp_str v) { return hidx_hash(v.p, v.n); }

/*
 * Bindings live in slots that keep their number while they exist (freed
 * slots are reused), found by address-of-record (INVITE, REGISTER) and by
 * contact (in-dialog requests) through two hash indexes: 100 000
 * registered users cost no scan per message.
 */
struct binding {
	struct store_binding b;
	bool used;
	uint32_t next_free;
};

static struct binding *binds;
static unsigned n_binds;            /* live bindings */
static unsigned hw_binds, cap_binds;/* slots ever used; slots allocated */
static uint32_t free_binds = HIDX_NONE;
static struct hidx by_aor, by_contact;

static int load_binding(void *ctx, const struct store_binding *b)
{
	(void)ctx;
	uint32_t i = free_binds;
	if (i != HIDX_NONE) {
		free_binds = binds[i].next_free;
	} else {
		if (hw_binds == cap_binds) {
			unsigned nc = cap_binds ? cap_binds * 2 : 1024;
			struct binding *nb = realloc(binds, nc * sizeof(*nb));
			if (!nb || hidx_grow(&by_aor, nc) || hidx_grow(&by_contact, nc)) {
				if (nb)
					binds = nb;
				return 1;
			}
			binds = nb;
			cap_binds = nc;
		}
		i = hw_binds++;
	}
	binds[i].b = *b;
	binds[i].used = true;
	hidx_add(&by_aor, i, hs(b->aor));
	hidx_add(&by_contact, i, hs(b->contact));
	n_binds++;
	return 0;
}

/* walk the bindings of one address-of-record */
#define FOR_AOR(i, key) \
	for (uint32_t i = hidx_first(&by_aor, hs(key)); i != HIDX_NONE; i = hidx_next(&by_aor, i)) \
		if (!strcmp(binds[i].b.aor, (key)))

static struct binding *bind_find(const char *aor, const char *contact)
{
	FOR_AOR(i, aor)
		if (!strcmp(binds[i].b.contact, contact))
			return &binds[i];
	return NULL;
}

static struct binding *bind_by_contact(const char *contact)
{
	uint32_t i = hidx_first(&by_contact, hs(contact));
	for (; i != HIDX_NONE; i = hidx_next(&by_contact, i))
		if (!strcmp(binds[i].b.contact, contact))
			return &binds[i];
	return NULL;
}

static void bind_remove(unsigned i)
{
	hidx_del(&by_aor, i, hs(binds[i].b.aor));
	hidx_del(&by_contact, i, hs(binds[i].b.contact));
	binds[i].used = false;
	binds[i].next_free = free_binds;
	free_binds = i;
	n_binds--;
}

static struct binding *bind_any(const char *aor)
{
	FOR_AOR(i, aor)
		return &binds[i];
	return NULL;
}

static void bind_reset(void)
{
	n_binds = hw_binds = 0;
	free_binds = HIDX_NONE;
	hidx_clear(&by_aor);
	hidx_clear(&by_contact);
}

unsigned px_registrations(void) { return n_binds; }

/*
 * Where to send to a registered contact.  When the Contact names the
 * address the REGISTER came from, it is reachable as written; when it names
 * another address (a private one behind NAT, typically), the source address
 * and port seen on the wire are used instead (RFC 3581's reasoning applied
 * to the binding), as the binding keeps them.
 */
static void reach(const struct store_binding *b, uint32_t *ip, uint16_t *port)
{
	struct sfp_uri_parts up;
	uint32_t cip;
	struct sfp_str c = { b->contact, strlen(b->contact) };
	if (sfp_uri_parse(c, &up) >= 0 && ip4(up.host, &cip) && cip == b->ip) {
		*ip = cip;
		*port = up.port ? up.port : 5060;
	} else {
		*ip = b->ip;
		*port = b->port;
	}
}

struct contact_in {
	struct sfp_str uri;
	long expires;  /* -1: not given */
};

static void registrar(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct sfp_uri_parts to;
	struct sfp_str tp;
	struct sfp_str to_uri = addr_uri(m->to, &tp);
	char aor[64];
	uint64_t now = mt->rx_ms;

	/* 10.3 step 6: a user registers only its own address of record */
	if (!to_uri.p || sfp_uri_parse(to_uri, &to) < 0 || !to.user.n) {
		px_cnt.reg_rejected++;
		E.respond(mt, m, 400, "Bad To Header", NULL);
		return;
	}
	cstr(aor, sizeof(aor), to.user);
	if (strcmp(aor, mt->user)) {
		px_cnt.reg_rejected++;
		E.respond(mt, m, 403, "Not Allowed To Register This Address", NULL);
		return;
	}
	long hdr_exp = m->expires.p ? num(m->expires) : -1;

	/* every Contact value of every Contact header */
	struct contact_in cs[16];
	unsigned nc = 0;
	bool star = false, bad = false;
	size_t off = first_line_end(p, m->msg_len);
	struct rawh h;
	while (hdr_next(p, m->msg_len, &off, &h)) {
		if (!name_is(h.name, "contact", 'm'))
			continue;
		struct sfp_str rest = h.value;
		while (rest.n) {
			struct sfp_str v = first_value(rest, &rest), ps = { NULL, 0 };
			if (v.n == 1 && v.p[0] == '*') {
				star = true;
				continue;
			}
			struct sfp_str u = addr_uri(v, &ps);
			struct sfp_uri_parts up;
			if (!u.p || sfp_uri_parse(u, &up) < 0) {
				bad = true;
				continue;
			}
			if (nc < 16) {
				struct sfp_str e = param(ps, "expires");
				cs[nc].uri = u;
				cs[nc].expires = e.p ? num(e) : -1;
				nc++;
			}
		}
	}
	if (bad || (star && (nc || hdr_exp != 0))) {
		/* 10.3 step 6: "*" only alone and with Expires: 0 */
		px_cnt.reg_rejected++;
		E.respond(mt, m, 400, bad ? "Bad Contact" : "Contact * Needs Expires 0 Alone", NULL);
		return;
	}
	char callid[128];
	cstr(callid, sizeof(callid), m->call_id);

	/* 10.3 step 7: check the whole request before changing anything */
	for (unsigned i = 0; i < nc; i++) {
		long e = cs[i].expires >= 0 ? cs[i].expires : hdr_exp >= 0 ? hdr_exp : (long)E.reg_default;
		if (e > 0 && e < (long)E.reg_min) {
			char extra[64];
			snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", E.reg_min);
			px_cnt.reg_rejected++;
			E.respond(mt, m, 423, "Interval Too Brief", extra);
			return;
		}
		char c[256];
		cstr(c, sizeof(c), cs[i].uri);
		struct binding *b = bind_find(aor, c);
		if (b && !strcmp(b->b.call_id, callid) && m->cseq_num <= b->b.cseq) {
			px_cnt.reg_rejected++;
			E.respond(mt, m, 400, "Out Of Order CSeq", NULL);
			return;
		}
	}
	if (store_begin(E.db)) {
		E.respond(mt, m, 500, "Store Unavailable", "Retry-After: 5\r\n");
		return;
	}
	int err = 0;
	if (star) {
		err |= store_binding_del(E.db, aor, NULL);
		for (struct binding *b; (b = bind_any(aor));)
			bind_remove((unsigned)(b - binds));
	}
	for (unsigned i = 0; i < nc; i++) {
		long e = cs[i].expires >= 0 ? cs[i].expires : hdr_exp >= 0 ? hdr_exp : (long)E.reg_default;
		if (e > (long)E.reg_max)
			e = E.reg_max;
		char c[256];
		cstr(c, sizeof(c), cs[i].uri);
		struct binding *b = bind_find(aor, c);
		if (e == 0) {
			if (b) {
				err |= store_binding_del(E.db, aor, c);
				bind_remove((unsigned)(b - binds));
			}
			continue;
		}
		struct store_binding nb;
		memset(&nb, 0, sizeof(nb));
		snprintf(nb.aor, sizeof(nb.aor), "%s", aor);
		snprintf(nb.contact, sizeof(nb.contact), "%s", c);
		nb.ip = mt->src_ip;
		nb.port = mt->src_port;
		nb.expires_ms = now + (uint64_t)e * 1000;
		snprintf(nb.call_id, sizeof(nb.call_id), "%s", callid);
		nb.cseq = m->cseq_num;
		err |= store_binding_put(E.db, &nb);
		if (b)
			b->b = nb;
		else if (load_binding(NULL, &nb))
			err = -1;
	}
	if (err || store_commit(E.db)) {
		store_rollback(E.db);
		/* memory may be ahead of the store now: reload from it */
		bind_reset();
		store_binding_each(E.db, load_binding, NULL);
		E.respond(mt, m, 500, "Store Error", "Retry-After: 5\r\n");
		return;
	}
	/* 10.3 step 8: 200 with every current binding and its remaining time */
	char extra[4096];
	struct sfp_wbuf w = { extra, 0, sizeof(extra) - 1, false };
	unsigned left = 0;
	FOR_AOR(i, aor) {
		left++;
		uint64_t rem = binds[i].b.expires_ms > now ? (binds[i].b.expires_ms - now + 999) / 1000 : 0;
		putf(&w, "Contact: <%s>;expires=%lu\r\n", binds[i].b.contact, (unsigned long)rem);
	}
	extra[w.full ? 0 : w.n] = '\0';
	px_cnt.reg_ok++;
	E.respond(mt, m, 200, "OK", extra);
	char ipb[16];
	E.log("REGISTER %s from %s:%u: %u contact(s) now", aor, ipstr(mt->src_ip, ipb), mt->src_port, left);
}

static void registrar_tick(uint64_t now)
{
	for (unsigned i = 0; i < hw_binds; i++) {
		if (binds[i].used && binds[i].b.expires_ms <= now) {
			E.log("binding %s -> %s expired", binds[i].b.aor, binds[i].b.contact);
			store_binding_del(E.db, binds[i].b.aor, binds[i].b.contact);
			px_cnt.reg_expired++;
			bind_remove(i);
		}
	}
}

void px_reg_list(px_row_fn row, void *ctx, uint64_t now)
{
	char line[512], ipb[16];
	for (unsigned i = 0; i < hw_binds; i++) {
		if (!binds[i].used)
			continue;
		const struct store_binding *b = &binds[i].b;
		snprintf(line, sizeof(line), "%s\t%s\t%s:%u\t%lu", b->aor, b->contact, ipstr(b->ip, ipb),
			 b->port, (unsigned long)(b->expires_ms > now ? (b->expires_ms - now) / 1000 : 0));
		row(ctx, line);
	}
}

/* ---- dialogs -------------------------------------------------------------------- */

/* max_dialogs entries, allocated at start; dense (see dlg_remove) */
static struct store_dialog *dlg;
static unsigned n_dlg, max_dlg;

unsigned px_dialogs(void) { return n_dlg; }

static struct hidx by_callid; /* dialogs by Call-ID */

static struct store_dialog *dlg_find(struct sfp_str callid, struct sfp_str t1, struct sfp_str t2)
{
	uint32_t i = hidx_first(&by_callid, hstr(callid));
	for (; i != HIDX_NONE; i = hidx_next(&by_callid, i)) {
		struct store_dialog *d = &dlg[i];
		if (!str_is(callid, d->call_id))
			continue;
		/* either direction: a BYE from the callee has the tags swapped */
		if ((str_is(t1, d->from_tag) && str_is(t2, d->to_tag)) ||
		    (str_is(t2, d->from_tag) && str_is(t1, d->to_tag)))
			return d;
	}
	return NULL;
}

static struct store_dialog *dlg_add(const struct store_dialog *d)
{
	if (n_dlg == max_dlg) {
		px_cnt.dialogs_untracked++;
		return NULL;
	}
	dlg[n_dlg] = *d;
	hidx_add(&by_callid, n_dlg, hs(d->call_id));
	return &dlg[n_dlg++];
}

/* the last dialog moves into the hole: the array stays dense */
static void dlg_remove(struct store_dialog *d)
{
	uint32_t i = (uint32_t)(d - dlg), last = n_dlg - 1;
	store_dialog_del(E.db, d);
	hidx_del(&by_callid, i, hs(d->call_id));
	if (i != last) {
		hidx_del(&by_callid, last, hs(dlg[last].call_id));
		dlg[i] = dlg[last];
		hidx_add(&by_callid, i, hs(dlg[i].call_id));
	}
	n_dlg--;
}

/* early dialogs that will not be confirmed (12.3): the call's, or only
 * the one with this To-tag (a branch that lost) */
static void dlg_drop_early(const char *call_id, const char *to_tag)
{
	for (bool again = true; again;) {
		again = false;
		uint32_t i = hidx_first(&by_callid, hs(call_id));
		for (; i != HIDX_NONE; i = hidx_next(&by_callid, i))
			if (!strcmp(dlg[i].call_id, call_id) && dlg[i].state == PX_DLG_EARLY &&
			    (!to_tag || !strcmp(dlg[i].to_tag, to_tag))) {
				dlg_remove(&dlg[i]); /* changes the chain: walk it again */
				again = true;
				break;
			}
	}
}

static int load_dialog(void *ctx, const struct store_dialog *d)
{
	(void)ctx;
	if (dlg_add(d))
		px_cnt.dialogs_restored++;
	return 0;
}

void px_dialog_list(px_row_fn row, void *ctx, uint64_t now)
{
	static const char *const st[] = { "?", "early", "confirmed", "ending" };
	char line[512];
	for (unsigned i = 0; i < n_dlg; i++) {
		const struct store_dialog *d = &dlg[i];
		snprintf(line, sizeof(line), "%s\t%.63s\t%.63s\t%.127s\t%lu", d->state >= 1 && d->state <= 3 ? st[d->state] : "?",
			 d->caller, d->callee, d->call_id,
			 (unsigned long)(now > d->created_ms ? (now - d->created_ms) / 1000 : 0));
		row(ctx, line);
	}
}

/* ---- INVITE client transactions (RFC 3261 17.1.1) -------------------------------- */

/* INVITE (17.1.1) and non-INVITE (17.1.2) client transactions share the
 * table: CALLING is "Trying" for a non-INVITE one, timer A is E, B is F,
 * t_end is D or K */
enum itx_state { ITX_FREE, ITX_CALLING, ITX_PROCEEDING, ITX_COMPLETED };

#define T2_MS 4000u  /* RFC 3261 17.1.2.2: E's ceiling */
#define T4_MS 5000u  /* 17.1.2.2: timer K over UDP */

struct itx {
	enum itx_state state;
	bool non_invite;
	bool reinvite;            /* in a dialog: no call counters */
	char *resp;               /* the final response in the form relayed */
	uint32_t resp_len;        /* (non-INVITE: for the sender's retransmissions, */
	uint32_t resp_ip;         /* 17.2.2; INVITE: kept until every branch */
	uint16_t resp_port;       /* has ended, 16.7 step 6) */
	char reason[64];          /* its reason phrase */
	char branch[64];          /* ours, toward the callee */
	char in_branch[128];      /* the caller's, to match retransmissions, ACK and CANCEL */
	char call_id[128];
	char caller[64], callee[64];
	char early_tag[64];       /* the To-tag of its last provisional (12.1) */
	uint32_t dst_ip;
	uint16_t dst_port;
	char *fwd;                /* the INVITE as we sent it */
	uint32_t fwd_len;
	char *orig;               /* the INVITE as the caller sent it (for our 408) */
	uint32_t orig_len;
	struct sfp_sip_meta orig_mt;
	uint64_t t_a, a_int, t_b, t_c, t_end;
	uint16_t final;
	bool cancelled;           /* CANCEL sent, or due at the first provisional */
	bool caller_cancel;       /* ... because the caller cancelled */
	bool upstream_final;      /* the caller has had a final answer (every branch) */
	bool best;                /* ... and it was this branch's */
	uint32_t live_pos;        /* its place in itx_live */
};

#define MAX_FORK 8    /* parallel branches of one INVITE (16.6) */
/* max_transactions entries, allocated at start.  Found by our branch
 * (responses from the callee), by the caller's branch (retransmissions,
 * CANCEL, ACK; all the branches of a forked INVITE share it); free slots
 * on a stack; the slots in use listed densely, so the timers walk only
 * those */
static struct itx *itx;
static uint32_t max_itx;
static struct hidx itx_by_ours, itx_by_theirs;
static uint32_t *itx_free_slots, n_itx_free;
static uint32_t *itx_live, n_itx_live;

static struct itx *itx_by_branch(struct sfp_str b)
{
	uint32_t i = hidx_first(&itx_by_ours, hstr(b));
	for (; i != HIDX_NONE; i = hidx_next(&itx_by_ours, i))
		if (itx[i].state != ITX_FREE && str_is(b, itx[i].branch))
			return &itx[i];
	return NULL;
}

/* the INVITE (or non-INVITE) client transaction made for the caller's
 * request with this branch; for a forked INVITE, any one of its branches */
static struct itx *itx_by_in_branch(struct sfp_str b, struct sfp_str callid, bool non_invite)
{
	uint32_t i = hidx_first(&itx_by_theirs, hstr(b));
	for (; i != HIDX_NONE; i = hidx_next(&itx_by_theirs, i))
		if (itx[i].state != ITX_FREE && itx[i].non_invite == non_invite &&
		    str_is(b, itx[i].in_branch) && str_is(callid, itx[i].call_id))
			return &itx[i];
	return NULL;
}

/* the next branch of t's INVITE from slot i on (t's own included) */
static struct itx *group_from(const struct itx *t, uint32_t i)
{
	for (; i != HIDX_NONE; i = hidx_next(&itx_by_theirs, i))
		if (itx[i].state != ITX_FREE && !itx[i].non_invite &&
		    !strcmp(itx[i].in_branch, t->in_branch) && !strcmp(itx[i].call_id, t->call_id))
			return &itx[i];
	return NULL;
}

/* every branch of the INVITE t belongs to (never free one inside) */
#define FOR_GROUP(s, t) \
	for (struct itx *s = group_from((t), hidx_first(&itx_by_theirs, hs((t)->in_branch))); s; \
	     s = group_from((t), hidx_next(&itx_by_theirs, (uint32_t)(s - itx))))

/* the branch whose error final the caller was sent, if any */
static struct itx *group_best(const struct itx *t)
{
	FOR_GROUP(s, t)
		if (s->best)
			return s;
	return NULL;
}

static struct itx *itx_alloc(void)
{
	if (!n_itx_free)
		return NULL;
	uint32_t i = itx_free_slots[--n_itx_free];
	struct itx *t = &itx[i];
	memset(t, 0, sizeof(*t));
	t->live_pos = n_itx_live;
	itx_live[n_itx_live++] = i;
	return t;
}

/* indexed once its branches are known */
static void itx_index(struct itx *t)
{
	uint32_t i = (uint32_t)(t - itx);
	hidx_add(&itx_by_ours, i, hs(t->branch));
	hidx_add(&itx_by_theirs, i, hs(t->in_branch));
}

static void itx_free(struct itx *t)
{
	uint32_t i = (uint32_t)(t - itx);
	if (t->state != ITX_FREE) {
		hidx_del(&itx_by_ours, i, hs(t->branch));
		hidx_del(&itx_by_theirs, i, hs(t->in_branch));
	}
	free(t->fwd);
	free(t->orig);
	free(t->resp);
	uint32_t last = itx_live[--n_itx_live];
	itx_live[t->live_pos] = last;
	itx[last].live_pos = t->live_pos;
	memset(t, 0, sizeof(*t));
	itx_free_slots[n_itx_free++] = i;
}

/* a request of ours toward the callee about the forwarded INVITE: the
 * hop-by-hop ACK to an error (17.1.1.3) or a CANCEL (9.1) */
static void itx_send_sibling(struct itx *t, const char *method, struct sfp_str to_override)
{
	static char out[4096];
	struct sfp_sip f;
	if (!t->fwd || sfp_scan(t->fwd, t->fwd_len, &f) != SFP_SE_OK)
		return;
	struct sfp_wbuf w = { out, 0, sizeof(out), false };
	putf(&w, "%s ", method);
	sfp_putstr(&w, f.ruri);
	sfp_puts(&w, " SIP/2.0\r\nVia: ");
	sfp_putstr(&w, f.via[0]);
	sfp_puts(&w, "\r\nMax-Forwards: 70\r\nFrom: ");
	sfp_putstr(&w, f.from);
	sfp_puts(&w, "\r\nTo: ");
	sfp_putstr(&w, to_override.p ? to_override : f.to);
	sfp_puts(&w, "\r\nCall-ID: ");
	sfp_putstr(&w, f.call_id);
	putf(&w, "\r\nCSeq: %u %s\r\nContent-Length: 0\r\n\r\n", f.cseq_num, method);
	if (!w.full)
		E.send(t->dst_ip, t->dst_port, out, (uint32_t)w.n);
}

static void itx_reply_caller(struct itx *t, uint16_t code, const char *reason)
{
	struct sfp_sip o;
	if (t->orig && sfp_scan(t->orig, t->orig_len, &o) == SFP_SE_OK)
		E.respond(&t->orig_mt, &o, code, reason, NULL);
}

/* a transaction that will neither send its request again nor answer the
 * caller from it (a 2xx came, or a non-INVITE final) keeps only what
 * matches retransmissions: most of its memory goes back at once */
static void itx_trim(struct itx *t)
{
	free(t->fwd);
	free(t->orig);
	t->fwd = t->orig = NULL;
	t->fwd_len = t->orig_len = 0;
}

/* ---- forwarding -------------------------------------------------------------------- */

/*
 * A request as we forward it: new Request-URI (or the same), our Via on top
 * and the sender's marked with received/rport (18.2.1, RFC 3581), one hop
 * less, Record-Route for a new dialog, our Route entry removed (16.12),
 * our own credentials removed (22.3).
 */
static size_t fwd_request(char *out, size_t cap, const struct sfp_sip_meta *mt, const char *p,
			  const struct sfp_sip *m, struct sfp_str ruri, const char *branch,
			  bool record_route, bool pop_route, bool strip_pauthz)
{
	struct sfp_wbuf w = { out, 0, cap, false };
	sfp_putstr(&w, m->method_name);
	sfp_put(&w, " ", 1);
	sfp_putstr(&w, ruri);
	sfp_puts(&w, " SIP/2.0\r\n");
	putf(&w, "Via: SIP/2.0/UDP %s:%u;branch=%s\r\n", E.lcfg->addr, E.lcfg->sip_port, branch);
	if (record_route)
		putf(&w, "Record-Route: <sip:%s:%u;lr>\r\n", E.lcfg->addr, E.lcfg->sip_port);
	bool vias_done = false, mf_done = false, route_popped = !pop_route;
	size_t off = first_line_end(p, m->msg_len);
	struct rawh h;
	while (hdr_next(p, m->msg_len, &off, &h)) {
		if (name_is(h.name, "via", 'v')) {
			if (vias_done)
				continue;
			vias_done = true;
			sfp_put_vias(&w, m, mt->src_ip, mt->src_port);
		} else if (name_is(h.name, "max-forwards", 0)) {
			mf_done = true;
			putf(&w, "Max-Forwards: %d\r\n", m->max_forwards > 0 ? m->max_forwards - 1 : 0);
		} else if (strip_pauthz && name_is(h.name, "proxy-authorization", 0)) {
			continue;
		} else if (!route_popped && name_is(h.name, "route", 0)) {
			route_popped = true;
			struct sfp_str rest, v = first_value(h.value, &rest);
			struct sfp_str u = addr_uri(v, NULL);
			struct sfp_uri_parts up;
			if (u.p && sfp_uri_parse(u, &up) >= 0 && uri_is_us(&up)) {
				if (rest.n) {
					sfp_puts(&w, "Route: ");
					sfp_putstr(&w, rest);
					sfp_puts(&w, "\r\n");
				}
			} else {
				sfp_put(&w, h.start, (size_t)(h.end - h.start));
			}
		} else {
			sfp_put(&w, h.start, (size_t)(h.end - h.start));
		}
	}
	if (!mf_done)
		sfp_puts(&w, "Max-Forwards: 70\r\n");
	sfp_puts(&w, "\r\n");
	sfp_putstr(&w, m->body);
	return w.full ? 0 : w.n;
}

static char obuf[MSG_MAX + 1];

/* a client transaction for the request in obuf[0..n), forwarded to
 * ip:port: timer A/E from T1, B/F at 64*T1; NULL when the table is full */
static struct itx *itx_start(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			     const char *br, size_t n, uint32_t ip, uint16_t port, bool non_invite)
{
	struct itx *t = itx_alloc();
	if (!t)
		return NULL;
	t->fwd = malloc(n);
	t->orig = malloc(m->msg_len);
	if (!t->fwd || !t->orig) {
		itx_free(t);
		return NULL;
	}
	memcpy(t->fwd, obuf, n);
	t->fwd_len = (uint32_t)n;
	memcpy(t->orig, p, m->msg_len);
	t->orig_len = m->msg_len;
	t->orig_mt = *mt;
	t->non_invite = non_invite;
	snprintf(t->branch, sizeof(t->branch), "%s", br);
	cstr(t->in_branch, sizeof(t->in_branch), m->top_via.branch);
	cstr(t->call_id, sizeof(t->call_id), m->call_id);
	t->dst_ip = ip;
	t->dst_port = port;
	t->state = ITX_CALLING;
	itx_index(t);
	t->a_int = E.t1_ms;
	t->t_a = mt->rx_ms + t->a_int;
	t->t_b = mt->rx_ms + 64ull * E.t1_ms;
	return t;
}

/* ---- the branches of one INVITE (16.6, 16.7) ----------------------------------- */

/* a branch that the caller's CANCEL, or a 2xx or 6xx on another branch,
 * makes pointless (16.7 step 10, 16.10): CANCEL it now if it has had a
 * provisional, else at its first one (9.1) */
static void branch_cancel(struct itx *s)
{
	if (s->state == ITX_COMPLETED || s->cancelled)
		return;
	s->cancelled = true;
	if (s->state == ITX_PROCEEDING)
		itx_send_sibling(s, "CANCEL", (struct sfp_str){ NULL, 0 });
}

/* the caller's answer from branch s: the callee's response as we relay
 * it, or one of our own (408, or a response we could not relay as is) */
static void send_final(struct itx *s)
{
	if (s->resp) {
		px_cnt.resp_relayed++;
		E.send(s->resp_ip, s->resp_port, s->resp, s->resp_len);
	} else {
		itx_reply_caller(s, s->final, s->reason);
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
 * caller gets the best final response (16.7 steps 6 and 8) */
static void group_settle(struct itx *t)
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
	send_final(best);
	if (t->reinvite) {
		E.log("re-INVITE in call %s: %u %s", t->call_id, best->final, best->reason);
		return;
	}
	dlg_drop_early(t->call_id, NULL);
	if (best->final == 408 && !best->resp)
		px_cnt.calls_408++;
	if (!t->caller_cancel)
		px_cnt.calls_failed++;
	E.log("call %s -> %s failed: %u %s%s", t->caller, t->callee, best->final, best->reason,
	      n > 1 ? " (the best of the branches' answers)" : "");
}

/* t has ended without an answer from the callee: as if it had sent 408
 * (timer B; timer C after its CANCEL: 16.8) */
static void branch_timeout(struct itx *t, const char *why, uint64_t now)
{
	char ipb[16];
	E.log("INVITE %s -> %s at %s:%u: %s", t->caller, t->callee, ipstr(t->dst_ip, ipb), t->dst_port, why);
	t->state = ITX_COMPLETED;
	t->final = 408;
	snprintf(t->reason, sizeof(t->reason), "Request Timeout");
	t->t_end = now + 64ull * E.t1_ms;
	if (t->early_tag[0])
		dlg_drop_early(t->call_id, t->early_tag);
	group_settle(t);
}

/* the response as relayed upstream (16.7 step 9): our Via removed; in
 * obuf, 0 when it does not fit */
static size_t relay_form(const char *p, const struct sfp_sip *m)
{
	struct sfp_wbuf w = { obuf, 0, sizeof(obuf), false };
	size_t off = first_line_end(p, m->msg_len);
	sfp_put(&w, p, off);
	bool popped = false;
	struct rawh h;
	while (hdr_next(p, m->msg_len, &off, &h)) {
		if (!popped && name_is(h.name, "via", 'v')) {
			popped = true;
			struct sfp_str rest;
			first_value(h.value, &rest);
			if (rest.n) {
				sfp_puts(&w, "Via: ");
				sfp_putstr(&w, rest);
				sfp_puts(&w, "\r\n");
			}
			continue;
		}
		sfp_put(&w, h.start, (size_t)(h.end - h.start));
	}
	sfp_puts(&w, "\r\n");
	sfp_putstr(&w, m->body);
	return w.full ? 0 : w.n;
}

/* t's final error response from obuf[0..n), kept until every branch has
 * ended; a 503 becomes 500 (16.7 step 6: the caller would take it for
 * ours and stop using us) */
static void keep_final(struct itx *t, size_t n, uint32_t ip, uint16_t port)
{
	static const char l500[] = "SIP/2.0 500 Server Internal Error\r\n";
	bool was503 = t->final == 503;
	if (was503) { /* also when the copy below fails: send_final answers 500 then */
		t->final = 500;
		snprintf(t->reason, sizeof(t->reason), "Server Internal Error");
	}
	size_t eol = first_line_end(obuf, n), head = was503 ? sizeof(l500) - 1 : eol;
	char *r = malloc(head + n - eol);
	if (!r)
		return; /* answered from the transaction instead */
	memcpy(r, was503 ? l500 : obuf, head);
	memcpy(r + head, obuf + eol, n - eol);
	t->resp = r;
	t->resp_len = (uint32_t)(head + n - eol);
	t->resp_ip = ip;
	t->resp_port = port;
}

static void new_invite(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct itx *t = itx_by_in_branch(m->top_via.branch, m->call_id, false);
	if (t) {
		/* a retransmission (the fast path sent 100 again); once the
		 * caller has its error, it gets it again (17.2.1) */
		px_cnt.req_absorbed++;
		struct itx *best = group_best(t);
		if (best)
			send_final(best);
		return;
	}
	px_cnt.calls_attempted++;
	char callee[64];
	cstr(callee, sizeof(callee), m->ruri_parts.user);
	if (!uri_is_us(&m->ruri_parts) || !m->ruri_parts.user.n) {
		px_cnt.calls_failed++;
		E.respond(mt, m, 403, "Relaying Not Allowed", NULL);
		return;
	}
	if (store_user_exists(E.db, callee) != 1) {
		px_cnt.calls_404++;
		px_cnt.calls_failed++;
		E.respond(mt, m, 404, "Not Found", NULL);
		E.log("INVITE %s -> %s: no such user, 404", mt->user, callee);
		return;
	}
	/* 16.5, 16.6: one branch per registered contact, all at once; the
	 * freshest MAX_FORK when there are more */
	struct binding *bs[MAX_FORK];
	unsigned nb = 0;
	FOR_AOR(i, callee) {
		struct binding *b = &binds[i];
		if (b->b.expires_ms <= mt->rx_ms)
			continue;
		unsigned j = nb < MAX_FORK ? nb++ : MAX_FORK;
		for (; j > 0 && bs[j - 1]->b.expires_ms < b->b.expires_ms; j--)
			if (j < MAX_FORK)
				bs[j] = bs[j - 1];
		if (j < MAX_FORK)
			bs[j] = b;
	}
	if (!nb) {
		px_cnt.calls_480++;
		px_cnt.calls_failed++;
		E.respond(mt, m, 480, "Temporarily Unavailable", NULL);
		E.log("INVITE %s -> %s: not registered, 480", mt->user, callee);
		return;
	}
	/* our branches derive from the caller's (keyed, see branch_is_ours),
	 * one suffix per contact */
	char br0[48];
	make_branch(m->call_id, m->top_via.branch, "inv", br0);
	unsigned started = 0;
	bool too_big = false;
	for (unsigned k = 0; k < nb; k++) {
		char br[64];
		snprintf(br, sizeof(br), "%s.%u", br0, k);
		struct sfp_str ruri = { bs[k]->b.contact, strlen(bs[k]->b.contact) };
		size_t n = fwd_request(obuf, sizeof(obuf), mt, p, m, ruri, br, true, false, true);
		if (!n) {
			too_big = true;
			continue;
		}
		uint32_t ip;
		uint16_t port;
		reach(&bs[k]->b, &ip, &port);
		if (!(t = itx_start(mt, p, m, br, n, ip, port, false)))
			break;
		snprintf(t->caller, sizeof(t->caller), "%s", mt->user);
		snprintf(t->callee, sizeof(t->callee), "%s", callee);
		E.send(t->dst_ip, t->dst_port, t->fwd, t->fwd_len);
		started++;
		char ipb[16];
		E.log("INVITE %s -> %s at %s:%u (%s)%s", t->caller, callee, ipstr(t->dst_ip, ipb),
		      t->dst_port, bs[k]->b.contact, nb > 1 ? ", forked" : "");
	}
	if (started)
		return;
	px_cnt.calls_failed++;
	if (too_big) {
		E.respond(mt, m, 513, "Message Too Large", NULL);
		E.log("INVITE %s -> %s: too large to forward with our headers, 513", mt->user, callee);
	} else {
		/* 21.5.4: overloaded; the caller may try again (or elsewhere) */
		px_cnt.calls_503++;
		E.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
		E.log("INVITE %s -> %s: transaction table full (max_transactions %u), 503", mt->user,
		      callee, max_itx);
	}
}

static void cancel(const struct sfp_sip_meta *mt, const struct sfp_sip *m)
{
	struct itx *t = itx_by_in_branch(m->top_via.branch, m->call_id, false);
	if (!t) {
		E.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	/* 16.10: answer the CANCEL, then cancel every pending branch */
	E.respond(mt, m, 200, "OK", NULL);
	if (t->upstream_final || t->caller_cancel)
		return; /* too late (the final is on its way), or said already */
	FOR_GROUP(s, t) {
		s->caller_cancel = true;
		branch_cancel(s);
	}
	px_cnt.calls_cancelled++;
	E.log("CANCEL %s -> %s", t->caller, t->callee);
}

/* route a request by Route / Request-URI (16.12) */
static void in_dialog(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	bool nict = m->method != SFP_M_ACK && m->method != SFP_M_INVITE;
	if (nict) {
		/* 17.2.2: a retransmission of a request we are working on is
		 * answered from its transaction, not forwarded again */
		struct itx *t = itx_by_in_branch(m->top_via.branch, m->call_id, true);
		if (t) {
			px_cnt.req_absorbed++;
			if (t->resp)
				E.send(t->resp_ip, t->resp_port, t->resp, t->resp_len);
			return;
		}
	} else {
		/* a re-INVITE retransmitted (17.2.1), or the ACK to an error
		 * we relayed: that ends at us (17.1.1.3: we sent our own ACK
		 * to the callee already) */
		struct itx *t = itx_by_in_branch(m->top_via.branch, m->call_id, false);
		if (t && m->method == SFP_M_INVITE) {
			px_cnt.req_absorbed++;
			if (!t->upstream_final)
				E.respond(mt, m, 100, "Trying", NULL);
			struct itx *best = group_best(t);
			if (best)
				send_final(best);
			return;
		}
		if (t && group_best(t)) {
			px_cnt.req_absorbed++;
			return;
		}
	}
	/* the first Route must be ours: we record-routed this dialog */
	struct sfp_str next_uri = m->ruri;
	bool ours = false, more = false;
	size_t off = first_line_end(p, m->msg_len);
	struct rawh h;
	while (hdr_next(p, m->msg_len, &off, &h)) {
		if (!name_is(h.name, "route", 0))
			continue;
		struct sfp_str rest, v = first_value(h.value, &rest);
		if (!ours) {
			struct sfp_str u = addr_uri(v, NULL);
			struct sfp_uri_parts up;
			ours = u.p && sfp_uri_parse(u, &up) >= 0 && uri_is_us(&up);
			if (!ours)
				break;
			if (rest.n) {
				next_uri = addr_uri(first_value(rest, NULL), NULL);
				more = true;
				break;
			}
			continue;
		}
		next_uri = addr_uri(v, NULL);
		more = true;
		break;
	}
	if (!ours) {
		px_cnt.indialog_bad++;
		if (m->method != SFP_M_ACK)
			E.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	struct sfp_uri_parts up;
	uint32_t ip;
	if (!next_uri.p || sfp_uri_parse(next_uri, &up) < 0 || !ip4(up.host, &ip)) {
		px_cnt.no_route++;
		if (m->method != SFP_M_ACK)
			E.respond(mt, m, 404, "Not Found", NULL);
		return;
	}
	uint16_t port = up.port ? up.port : 5060;
	/* RFC 3581 spirit: a registered contact is reached where it registered from */
	if (!more) {
		char c[256];
		cstr(c, sizeof(c), m->ruri);
		const struct binding *b = bind_by_contact(c);
		if (b)
			reach(&b->b, &ip, &port);
	}
	char br[48];
	make_branch(m->call_id, m->top_via.branch, m->method == SFP_M_ACK ? "ack" : "dlg", br);
	size_t n = fwd_request(obuf, sizeof(obuf), mt, p, m, m->ruri, br, false, true, false);
	if (!n)
		return;
	px_cnt.indialog_routed++;
	struct store_dialog *d = dlg_find(m->call_id, m->from_tag, m->to_tag);
	/* a client transaction of its own (17.1.1 for a re-INVITE, 17.1.2);
	 * without a free slot it goes out statelessly all the same (16.11) */
	if (m->method != SFP_M_ACK) {
		struct itx *t = itx_start(mt, p, m, br, n, ip, port, nict);
		if (!t) {
			px_cnt.nict_untracked++;
		} else if (!nict) {
			t->reinvite = true;
			if (d) {
				snprintf(t->caller, sizeof(t->caller), "%s", d->caller);
				snprintf(t->callee, sizeof(t->callee), "%s", d->callee);
			}
			/* 16.2: a stateful proxy answers an INVITE with 100 itself */
			E.respond(mt, m, 100, "Trying", NULL);
		}
	}
	E.send(ip, port, obuf, (uint32_t)n);
	if (d && m->method == SFP_M_ACK && d->state == PX_DLG_EARLY) {
		d->state = PX_DLG_CONFIRMED;
		store_dialog_put(E.db, d);
	} else if (d && m->method == SFP_M_BYE && d->state != PX_DLG_ENDING) {
		d->state = PX_DLG_ENDING;
		store_dialog_put(E.db, d);
	}
}

static void request(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	bool auth = mt->flags & SFP_RXF_AUTH_OK;
	if (m->to_tag.p) {
		in_dialog(mt, p, m);
	} else if (m->method == SFP_M_REGISTER && auth) {
		registrar(mt, p, m);
	} else if (m->method == SFP_M_INVITE && auth) {
		new_invite(mt, p, m);
	} else if (m->method == SFP_M_CANCEL) {
		cancel(mt, m);
	} else if (m->method == SFP_M_ACK) {
		px_cnt.indialog_bad++; /* an ACK with no To-tag matches nothing of ours */
	} else {
		E.respond(mt, m, 501, "Not Implemented", NULL);
	}
}

/* the dialog a tagged response to t's INVITE belongs to, made if new */
static struct store_dialog *dlg_get(const struct itx *t, const struct sfp_sip *m, uint64_t now)
{
	struct store_dialog *d = dlg_find(m->call_id, m->from_tag, m->to_tag), nd;
	if (d)
		return d;
	memset(&nd, 0, sizeof(nd));
	cstr(nd.call_id, sizeof(nd.call_id), m->call_id);
	cstr(nd.from_tag, sizeof(nd.from_tag), m->from_tag);
	cstr(nd.to_tag, sizeof(nd.to_tag), m->to_tag);
	snprintf(nd.caller, sizeof(nd.caller), "%s", t->caller);
	snprintf(nd.callee, sizeof(nd.callee), "%s", t->callee);
	nd.state = PX_DLG_EARLY;
	nd.created_ms = now;
	return dlg_add(&nd);
}

/* ---- responses --------------------------------------------------------------- */

/* our branches are keyed on the caller's (make_branch), plus ".k" for
 * the k-th branch of a forked INVITE */
static bool branch_is_ours(const struct sfp_sip *m)
{
	struct sfp_via v1;
	char br[48];
	if (m->n_via < 2 || sfp_via_parse(m->via[1], &v1) < 0)
		return false;
	struct sfp_str b = m->top_via.branch;
	make_branch(m->call_id, v1.branch, "dlg", br);
	if (str_is(b, br))
		return true;
	while (b.n && b.p[b.n - 1] >= '0' && b.p[b.n - 1] <= '9')
		b.n--;
	if (!b.n || b.p[b.n - 1] != '.')
		return false;
	b.n--;
	make_branch(m->call_id, v1.branch, "inv", br);
	return str_is(b, br);
}

static void response(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	const struct sfp_via *v = &m->top_via;
	char host[64];
	if (!m->top_via_ok) {
		px_cnt.resp_stray++;
		return;
	}
	cstr(host, sizeof(host), v->host);
	if (strcmp(host, E.lcfg->addr) || (v->port ? v->port : 5060) != E.lcfg->sip_port ||
	    v->branch.n < strlen(OUR_BRANCH) || memcmp(v->branch.p, OUR_BRANCH, strlen(OUR_BRANCH))) {
		px_cnt.resp_stray++; /* 18.1.2: not a Via of ours on top */
		return;
	}
	bool invite = str_is(m->cseq_method, "INVITE");
	/* a CANCEL of ours carries its INVITE's branch: not its transaction */
	struct itx *t = str_is(m->cseq_method, "CANCEL") ? NULL : itx_by_branch(v->branch);
	struct itx *nt = t && t->non_invite && !invite ? t : NULL;
	if (t && t->non_invite == invite)
		t = NULL;
	if (nt) {
		t = NULL;
		if (m->status < 200) {
			if (nt->state == ITX_CALLING)
				nt->state = ITX_PROCEEDING; /* E now fires every T2 */
			if (m->status == 100)
				return;
		} else if (nt->state == ITX_COMPLETED) {
			px_cnt.req_absorbed++; /* the far end retransmitted its final */
			return;
		} else {
			nt->state = ITX_COMPLETED;
			nt->t_end = mt->rx_ms + T4_MS;
			itx_trim(nt);
		}
	}
	if (t) {
		if (m->status < 200) {
			if (t->state == ITX_CALLING) {
				t->state = ITX_PROCEEDING;
				t->t_c = mt->rx_ms + E.timer_c_ms;
				if (t->cancelled) /* 9.1: the CANCEL waited for this */
					itx_send_sibling(t, "CANCEL", (struct sfp_str){ NULL, 0 });
			}
			/* hop by hop: the caller had our 100; nothing after its final */
			if (m->status == 100 || t->upstream_final)
				return;
			if (m->to_tag.p && !t->reinvite) {
				dlg_get(t, m, mt->rx_ms); /* early dialog (12.1) */
				cstr(t->early_tag, sizeof(t->early_tag), m->to_tag);
			}
		} else if (m->status < 300) {
			if (!t->upstream_final) {
				/* 16.7 step 10: the other branches are no use now */
				FOR_GROUP(s, t) {
					s->upstream_final = true;
					if (s != t)
						branch_cancel(s);
				}
				if (!t->reinvite) {
					px_cnt.calls_answered++;
					E.log("call %s -> %s answered", t->caller, t->callee);
				}
			}
			/* a 2xx makes the dialog (12.1); the ACK is end to end */
			struct store_dialog *d = t->reinvite ? NULL : dlg_get(t, m, mt->rx_ms);
			if (d) {
				d->state = PX_DLG_CONFIRMED;
				store_dialog_put(E.db, d);
			}
			/* 17.1.1.2: a 2xx ends the INVITE client transaction;
			 * its retransmissions are relayed without it (they
			 * carry a branch of ours, see branch_is_ours), so not
			 * the 64*T1 of RFC 6026's Accepted state: only 2*T1,
			 * a round trip with margin, for INVITE retransmissions
			 * that crossed the answer.  At thousands of calls per
			 * second this is what sizes the transaction table */
			t->final = m->status;
			t->state = ITX_COMPLETED;
			t->t_end = mt->rx_ms + 2ull * E.t1_ms;
			itx_trim(t);
		} else {
			/* 17.1.1.3: ACK the error ourselves; it goes to the
			 * caller once every branch has ended (16.7 step 6) */
			itx_send_sibling(t, "ACK", m->to);
			if (t->state == ITX_COMPLETED) {
				px_cnt.req_absorbed++;
				return;
			}
			t->final = m->status;
			t->state = ITX_COMPLETED;
			t->t_end = mt->rx_ms + 64ull * E.t1_ms;
			cstr(t->reason, sizeof(t->reason), m->reason);
			if (t->early_tag[0])
				dlg_drop_early(t->call_id, t->early_tag);
			/* without a next Via (a UAS that answered with our
			 * CANCEL's Via stack), the caller is answered from the
			 * transaction rather than not at all */
			uint32_t ip;
			uint16_t port;
			size_t n;
			if (m->n_via >= 2 && via_dest(m->via[1], &ip, &port) && (n = relay_form(p, m)))
				keep_final(t, n, ip, port);
			if (m->status >= 600) /* 16.7 step 5: no other answer will do */
				FOR_GROUP(s, t)
					branch_cancel(s);
			group_settle(t);
			return;
		}
	} else if (str_is(m->cseq_method, "BYE") && m->status >= 200) {
		struct store_dialog *d = dlg_find(m->call_id, m->from_tag, m->to_tag);
		if (d) {
			px_cnt.dialogs_ended++;
			E.log("call %s -> %s ended", d->caller, d->callee);
			dlg_remove(d);
		}
	} else if (str_is(m->cseq_method, "CANCEL")) {
		return; /* the answer to our own CANCEL (16.10): ends here */
	}
	if (!t && !nt && !branch_is_ours(m)) {
		/* 16.7 step 1 relays a response with no transaction (a 2xx
		 * retransmitted after it ended); but only one to a request
		 * we forwarded: our branch is keyed on the next Via's, so a
		 * forged one cannot make us reflect it to any address */
		px_cnt.resp_stray++;
		return;
	}
	/* 16.7: relay with our Via removed, to where the next Via says */
	uint32_t ip;
	uint16_t port;
	size_t n;
	if (m->n_via < 2 || !via_dest(m->via[1], &ip, &port)) {
		px_cnt.resp_stray++;
		return;
	}
	if (!(n = relay_form(p, m)))
		return;
	px_cnt.resp_relayed++;
	E.send(ip, port, obuf, (uint32_t)n);
	if (nt && m->status >= 200 && !nt->resp && (nt->resp = malloc(n))) {
		memcpy(nt->resp, obuf, n);
		nt->resp_len = (uint32_t)n;
		nt->resp_ip = ip;
		nt->resp_port = port;
	}
}

void px_rx(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	if (m->request)
		request(mt, p, m);
	else
		response(mt, p, m);
}

/* ---- timers ----------------------------------------------------------------- */

/* 17.1.2.2: E retransmits, doubling up to T2 (at T2 once a provisional
 * came); F gives up: the sender gets 408 (16.7 step 6: as if the far end
 * had sent it), and a BYE's dialog is over anyway (15.1.1) */
static void nict_timers(struct itx *t, uint64_t now)
{
	if (now >= t->t_b) {
		px_cnt.nict_timeout++;
		itx_reply_caller(t, 408, "Request Timeout");
		struct sfp_sip o;
		if (sfp_scan(t->orig, t->orig_len, &o) == SFP_SE_OK) {
			E.log("%.*s in call %s: no answer from %s, 408", (int)o.method_name.n,
			      o.method_name.p, t->call_id, ipstr(t->dst_ip, (char[16]){ 0 }));
			struct store_dialog *d;
			if (o.method == SFP_M_BYE && (d = dlg_find(o.call_id, o.from_tag, o.to_tag))) {
				px_cnt.dialogs_ended++;
				dlg_remove(d);
			}
		}
		itx_free(t);
	} else if (now >= t->t_a) {
		px_cnt.nict_retrans++;
		E.send(t->dst_ip, t->dst_port, t->fwd, t->fwd_len);
		if (t->state == ITX_PROCEEDING || t->a_int * 2 > T2_MS)
			t->a_int = T2_MS;
		else
			t->a_int *= 2;
		t->t_a = now + t->a_int;
	}
}

void px_tick(uint64_t now)
{
	/* timers need no finer grain than 10 ms (T1 is hundreds): the
	 * transaction table is not walked at every poll of the rings */
	static uint64_t last_walk;
	if (now - last_walk < 10)
		return;
	last_walk = now;
	/* a freed transaction's place is taken by the last one: look at
	 * the same place again */
	for (uint32_t k = 0; k < n_itx_live;) {
		struct itx *t = &itx[itx_live[k]];
		switch (t->state) {
		case ITX_FREE:
			break;
		case ITX_CALLING:
		case ITX_PROCEEDING:
			if (t->non_invite) {
				nict_timers(t, now);
				break;
			}
			if (t->state == ITX_PROCEEDING) {
				if (now >= t->t_c) {
					/* timer C (16.6 step 11): ringing too long */
					itx_send_sibling(t, "CANCEL", (struct sfp_str){ NULL, 0 });
					t->cancelled = true;
					branch_timeout(t, "not answered in time (timer C), CANCEL sent", now);
				}
				break;
			}
			if (now >= t->t_b) {
				branch_timeout(t, "no answer (timer B)", now);
			} else if (now >= t->t_a) {
				/* timer A: UDP, retransmit, doubling */
				px_cnt.invite_retrans++;
				E.send(t->dst_ip, t->dst_port, t->fwd, t->fwd_len);
				t->a_int *= 2;
				t->t_a = now + t->a_int;
			}
			break;
		case ITX_COMPLETED:
			/* a branch's final is kept until the caller has had
			 * the best of them (16.7 step 6) */
			if (now >= t->t_end && (t->non_invite || t->upstream_final))
				itx_free(t);
			break;
		}
		if (t->state != ITX_FREE)
			k++;
	}
	static uint64_t last;
	if (now - last < 1000)
		return;
	last = now;
	registrar_tick(now);
	for (unsigned i = 0; i < n_dlg;) {
		if (now - dlg[i].created_ms > E.dialog_max_ms) {
			E.log("dialog %s (%s -> %s) removed after %u s without BYE", dlg[i].call_id,
			      dlg[i].caller, dlg[i].callee, E.dialog_max_ms / 1000);
			px_cnt.dialogs_timed_out++;
			dlg_remove(&dlg[i]);
		} else {
			i++;
		}
	}
}

/* the power of two at or above n (bucket counts) */
static uint32_t pow2(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

int px_init(const struct px_env *env)
{
	uint64_t k[2];
	E = *env;
	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		return -1;
	hidx_seed(k[0], k[1]);
	max_itx = E.max_itx ? E.max_itx : 1;
	max_dlg = E.max_dialogs ? E.max_dialogs : 1;
	itx = calloc(max_itx, sizeof(*itx));
	itx_free_slots = calloc(max_itx, sizeof(*itx_free_slots));
	itx_live = calloc(max_itx, sizeof(*itx_live));
	dlg = calloc(max_dlg, sizeof(*dlg));
	if (!itx || !itx_free_slots || !itx_live || !dlg)
		return -1;
	/* buckets: about one per entry at the sizes sipfp is built for */
	if (hidx_init(&by_aor, 1u << 17, 1024) || hidx_init(&by_contact, 1u << 17, 1024) ||
	    hidx_init(&by_callid, pow2(max_dlg), max_dlg) ||
	    hidx_init(&itx_by_ours, pow2(max_itx), max_itx) ||
	    hidx_init(&itx_by_theirs, pow2(max_itx), max_itx))
		return -1;
	n_itx_free = n_itx_live = 0;
	for (uint32_t i = max_itx; i-- > 0;)
		itx_free_slots[n_itx_free++] = i;
	bind_reset();
	n_dlg = 0;
	if (store_binding_each(E.db, load_binding, NULL) || store_dialog_each(E.db, load_dialog, NULL))
		return -1;
	return 0;
}
