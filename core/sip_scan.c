/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp SIP scanner (see sip_scan.h for the contract).
 *
 * Every helper takes an explicit end index and checks it before each read;
 * nothing relies on a terminator.  Header values may contain folded lines
 * (CRLF followed by SP/HT, RFC 3261 7.3.1); sub-parsers treat CR and LF as
 * linear white space for that reason.
 */
#include <string.h>

#include "sip_scan.h"

static const struct {
	uint16_t status;
	const char *reason;
} scan_errs[SFP_SE_MAX] = {
#define SFP_SE_TAB(e, s, r) [SFP_SE_##e] = { s, r },
	SFP_SCAN_ERRORS(SFP_SE_TAB)
#undef SFP_SE_TAB
};

uint16_t sfp_scan_err_status(enum sfp_scan_err e)
{
	return e < SFP_SE_MAX ? scan_errs[e].status : 0;
}

const char *sfp_scan_err_reason(enum sfp_scan_err e)
{
	return e < SFP_SE_MAX ? scan_errs[e].reason : "Bad Request";
}

/* ---- character classes ------------------------------------------------ */

/*
 * One table lookup per byte instead of a chain of compares: the scanner
 * classifies every octet of the header section, and on the fast path this
 * is most of the cost of answering a request.  The table is built by the
 * compiler from the same definitions the grammar gives (RFC 3261 25.1).
 */
enum {
	C_TOKEN = 1 << 0, /* token */
	C_LWS   = 1 << 1, /* SP HT CR LF (CR/LF: folded lines, 7.3.1) */
	C_URI   = 1 << 2, /* printable, not "<" ">" DQUOTE: may appear in a URI */
	C_HEX   = 1 << 3,
	C_PVAL  = 1 << 4, /* token ":" "[" "]" "/": parameter values, hosts */
	C_HOST  = 1 << 5, /* alphanum "-" "." "_": hostname */
	C_LIST  = 1 << 6, /* "," DQUOTE "<" ">": what a list splitter stops at */
	C_SCHEME= 1 << 7, /* alphanum "+" "-" ".": URI scheme */
};

#define CC_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define CC_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define CC_ALNUM(c) (CC_DIGIT(c) || CC_ALPHA(c))
/* RFC 3261 25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" /
 * "+" / "`" / "'" / "~") */
#define CC_TOKEN(c) (CC_ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '!' || (c) == '%' || \
		     (c) == '*' || (c) == '_' || (c) == '+' || (c) == '`' || (c) == '\'' || (c) == '~')
#define CC(c) ((CC_TOKEN(c) ? C_TOKEN : 0) | \
	       ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n' ? C_LWS : 0) | \
	       ((c) > 0x20 && (c) < 0x7f && (c) != '<' && (c) != '>' && (c) != '"' ? C_URI : 0) | \
	       (CC_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F') ? C_HEX : 0) | \
	       (CC_TOKEN(c) || (c) == ':' || (c) == '[' || (c) == ']' || (c) == '/' ? C_PVAL : 0) | \
	       (CC_ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_' ? C_HOST : 0) | \
	       ((c) == ',' || (c) == '"' || (c) == '<' || (c) == '>' ? C_LIST : 0) | \
	       (CC_ALNUM(c) || (c) == '+' || (c) == '-' || (c) == '.' ? C_SCHEME : 0))
#define CC4(c) CC(c), CC((c) + 1), CC((c) + 2), CC((c) + 3)
#define CC16(c) CC4(c), CC4((c) + 4), CC4((c) + 8), CC4((c) + 12)
#define CC64(c) CC16(c), CC16((c) + 16), CC16((c) + 32), CC16((c) + 48)

static const uint8_t cclass[256] = { CC64(0), CC64(64) }; /* 128..255: none */

static inline bool cc_is(char c, unsigned f) { return cclass[(unsigned char)c] & f; }

static inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }
static inline bool is_lws(char c) { return cc_is(c, C_LWS); }
static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
static inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c; }
static inline bool is_token(char c) { return cc_is(c, C_TOKEN); }
static inline bool is_hex(char c) { return cc_is(c, C_HEX); }

bool sfp_str_eq(struct sfp_str a, struct sfp_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline struct sfp_str mkstr(const char *p, size_t n)
{
	return (struct sfp_str){ p, (uint32_t)n };
}

static inline size_t skip_lws(const char *p, size_t i, size_t end)
{
	while (i < end && is_lws(p[i]))
		i++;
	return i;
}

static inline size_t skip_token(const char *p, size_t i, size_t end)
{
	while (i < end && is_token(p[i]))
		i++;
	return i;
}

/* a quoted-string starting at p[i] == '"'; returns the index just after the
 * closing quote, or 0 if it is not terminated (RFC 3261 25.1 quoted-pair) */
static size_t skip_quoted(const char *p, size_t i, size_t end)
{
	i++;
	while (i < end) {
		if (p[i] == '\\') {
			if (i + 1 >= end)
				return 0;
			i += 2;
			continue;
		}
		if (p[i] == '"')
			return i + 1;
		i++;
	}
	return 0;
}

/* parse 1*DIGIT at p[i..end); fails on overflow of max */
static bool parse_uint(const char *p, size_t *i, size_t end, uint64_t max, uint64_t *out)
{
	size_t j = *i;
	uint64_t v = 0;
	if (j >= end || !is_digit(p[j]))
		return false;
	while (j < end && is_digit(p[j])) {
		v = v * 10 + (uint64_t)(p[j] - '0');
		if (v > max)
			return false;
		j++;
	}
	*i = j;
	*out = v;
	return true;
}

/* ---- URIs ---------------------------------------------------------------- */

/* host = hostname / IPv4address / IPv6reference (RFC 3261 25.1, RFC 5118).
 * Returns the index after the host, or 0 on error. */
static size_t scan_host(const char *p, size_t i, size_t end)
{
	size_t s = i;
	if (i < end && p[i] == '[') {
		unsigned colons = 0;
		i++;
		while (i < end && (is_hex(p[i]) || p[i] == ':' || p[i] == '.')) {
			colons += p[i] == ':';
			i++;
		}
		if (i >= end || p[i] != ']' || colons < 2)
			return 0;
		return i + 1;
	}
	while (i < end && cc_is(p[i], C_HOST))
		i++;
	return i > s ? i : 0;
}

/* anything printable except what can never appear unescaped in a URI */
static inline bool uri_char_ok(char c) { return cc_is(c, C_URI); }

int sfp_uri_parse(struct sfp_str uri, struct sfp_uri_parts *u)
{
	const char *p = uri.p;
	size_t end = uri.n, i = 0, at = SIZE_MAX;

	memset(u, 0, sizeof(*u));
	if (end == 0 || !is_alpha(p[0]))
		return -1;
	while (i < end && cc_is(p[i], C_SCHEME))
		i++;
	if (i >= end || p[i] != ':')
		return -1;
	u->scheme = mkstr(p, i);
	i++;
	for (size_t k = i; k < end; k++) {
		if (!uri_char_ok(p[k]))
			return -1;
		/* RFC 3261 25.1: escaped = "%" HEXDIG HEXDIG */
		if (p[k] == '%' && (end - k < 3 || !is_hex(p[k + 1]) || !is_hex(p[k + 2])))
			return -1;
		if (p[k] == '@' && at == SIZE_MAX)
			at = k;
	}
	if (at != SIZE_MAX) {
		u->user = mkstr(p + i, at - i);
		i = at + 1;
	}
	size_t h = scan_host(p, i, end);
	if (!h)
		return -1;
	u->host = mkstr(p + i, h - i);
	i = h;
	if (i < end && p[i] == ':') {
		uint64_t port;
		i++;
		if (!parse_uint(p, &i, end, 65535, &port))
			return -1;
		u->port = (uint16_t)port;
	}
	if (i < end && p[i] != ';' && p[i] != '?')
		return -1;
	/* uri-parameters: ";name[=value]" with non-empty names */
	while (i < end && p[i] == ';') {
		size_t n = ++i;
		while (i < end && p[i] != ';' && p[i] != '?' && p[i] != '=')
			i++;
		if (i == n)
			return -1;
		if (i < end && p[i] == '=') {
			i++;
			while (i < end && p[i] != ';' && p[i] != '?')
				i++;
		}
	}
	if (i < end && p[i] == '?')
		return 1; /* headers part (RFC 3261 19.1.1) */
	return 0;
}

/* ---- generic params: *( LWS ";" LWS name [ LWS "=" LWS value ] ) -------- */

typedef void (*param_cb)(void *ctx, struct sfp_str name, struct sfp_str val,
			 size_t name_end);

/* token, plus ':' '[' ']' for hosts and RFC 5118 IPv6 received= forms */
static inline bool is_pval(char c) { return cc_is(c, C_PVAL); }

static int scan_params(const char *p, size_t i, size_t end, param_cb cb, void *ctx)
{
	for (;;) {
		i = skip_lws(p, i, end);
		if (i >= end)
			return 0;
		if (p[i] != ';')
			return -1;
		i = skip_lws(p, i + 1, end);
		size_t ns = i;
		i = skip_token(p, i, end);
		if (i == ns)
			return -1; /* empty parameter, e.g. ";;" */
		struct sfp_str name = mkstr(p + ns, i - ns), val = SFP_STR_NULL;
		size_t name_end = i;
		size_t j = skip_lws(p, i, end);
		if (j < end && p[j] == '=') {
			j = skip_lws(p, j + 1, end);
			if (j < end && p[j] == '"') {
				size_t q = skip_quoted(p, j, end);
				if (!q)
					return -1;
				val = mkstr(p + j + 1, q - j - 2);
				j = q;
			} else {
				size_t vs = j;
				while (j < end && is_pval(p[j]))
					j++;
				if (j == vs)
					return -1;
				val = mkstr(p + vs, j - vs);
			}
			i = j;
		}
		if (cb)
			cb(ctx, name, val, name_end);
	}
}

/* ---- Via (RFC 3261 20.42) ---------------------------------------------- */

static void via_param(void *ctx, struct sfp_str name, struct sfp_str val, size_t name_end)
{
	struct sfp_via *v = ctx;
	if (sfp_str_ieq(name, "branch"))
		v->branch = val;
	else if (sfp_str_ieq(name, "received"))
		v->received = val;
	else if (sfp_str_ieq(name, "maddr"))
		v->maddr = val;
	else if (sfp_str_ieq(name, "rport")) {
		v->rport = true;
		v->rport_has_value = val.p != NULL;
		v->rport_end = (uint32_t)name_end;
	}
}

int sfp_via_parse(struct sfp_str s, struct sfp_via *v)
{
	const char *p = s.p;
	size_t end = s.n, i, t;

	memset(v, 0, sizeof(*v));
	v->value = s;
	i = skip_lws(p, 0, end);
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport,
	 * with LWS allowed around each SLASH */
	t = skip_token(p, i, end);
	if (!sfp_str_ieq(mkstr(p + i, t - i), "SIP"))
		return -1;
	i = skip_lws(p, t, end);
	if (i >= end || p[i] != '/')
		return -1;
	i = skip_lws(p, i + 1, end);
	t = skip_token(p, i, end);
	if (!sfp_str_ieq(mkstr(p + i, t - i), "2.0"))
		return -1;
	i = skip_lws(p, t, end);
	if (i >= end || p[i] != '/')
		return -1;
	i = skip_lws(p, i + 1, end);
	t = skip_token(p, i, end);
	if (t == i)
		return -1;
	v->transport = mkstr(p + i, t - i);
	i = t;
	if (i >= end || !is_lws(p[i]))
		return -1;
	i = skip_lws(p, i, end);
	t = scan_host(p, i, end);
	if (!t)
		return -1;
	v->host = mkstr(p + i, t - i);
	i = skip_lws(p, t, end);
	if (i < end && p[i] == ':') {
		uint64_t port;
		i = skip_lws(p, i + 1, end);
		if (!parse_uint(p, &i, end, 65535, &port) || port == 0)
			return -1;
		v->port = (uint16_t)port;
	}
	return scan_params(p, i, end, via_param, v);
}

/* ---- name-addr / addr-spec (From, To, Contact: RFC 3261 20.10, 20.20) -- */

static void tag_param(void *ctx, struct sfp_str name, struct sfp_str val, size_t name_end)
{
	(void)name_end;
	struct sfp_str *tag = ctx;
	if (tag && sfp_str_ieq(name, "tag") && !tag->p)
		*tag = val.p ? val : mkstr(name.p + name.n, 0);
}

int sfp_nameaddr_check(struct sfp_str s, struct sfp_str *tag)
{
	const char *p = s.p;
	size_t end = s.n, i = skip_lws(p, 0, end), lt = SIZE_MAX;
	struct sfp_str tg = SFP_STR_NULL;

	if (i >= end)
		return -1;
	if (p[i] == '"') {
		size_t q = skip_quoted(p, i, end);
		if (!q)
			return -1; /* RFC 4475 3.1.2.6 unterminated quoted string */
		i = skip_lws(p, q, end);
		if (i >= end || p[i] != '<')
			return -1;
		lt = i;
	} else {
		/* display-name = *(token LWS); stop at '<' if there is one */
		size_t j = i;
		while (j < end && (is_token(p[j]) || is_lws(p[j])))
			j++;
		if (j < end && p[j] == '<')
			lt = j;
	}
	if (lt != SIZE_MAX) {
		size_t gt = lt + 1;
		while (gt < end && p[gt] != '>')
			gt++;
		if (gt >= end || gt == lt + 1)
			return -1;
		struct sfp_uri_parts up;
		struct sfp_str uri = mkstr(p + lt + 1, gt - lt - 1);
		/* RFC 4475 3.1.2.14: no white space inside the angle brackets
		 * (sfp_uri_parse checks every octet of a SIP URI itself) */
		if (sfp_str_ieq(mkstr(uri.p, uri.n < 4 ? uri.n : 4), "sip:") ||
		    sfp_str_ieq(mkstr(uri.p, uri.n < 5 ? uri.n : 5), "sips:")) {
			if (sfp_uri_parse(uri, &up) < 0)
				return -1;
		} else {
			for (size_t k = 0; k < uri.n; k++)
				if (!uri_char_ok(uri.p[k]))
					return -1;
			if (!memchr(uri.p, ':', uri.n))
				return -1;
		}
		i = gt + 1;
	} else {
		/* addr-spec form: the URI ends at ';' (header params) or LWS;
		 * it cannot carry '?' headers or a display name (RFC 3261 20.10) */
		size_t us = i;
		while (i < end && p[i] != ';' && !is_lws(p[i])) {
			if (!uri_char_ok(p[i]) || p[i] == '?' || p[i] == ',')
				return -1;
			i++;
		}
		if (i == us || !memchr(p + us, ':', i - us))
			return -1;
	}
	if (scan_params(p, i, end, tag_param, &tg) < 0)
		return -1;
	if (tag)
		*tag = tg;
	return 0;
}

/* ---- lists: split a header value at commas outside quotes and <> -------- */

typedef int (*item_cb)(void *ctx, struct sfp_str item);

static int split_list(struct sfp_str v, item_cb cb, void *ctx)
{
	const char *p = v.p;
	size_t end = v.n, i = 0, s = 0;
	int angle = 0;

	while (i <= end) {
		/* most octets are none of , " < >: skip them in a tight loop */
		while (i < end && !cc_is(p[i], C_LIST))
			i++;
		if (i == end || (p[i] == ',' && !angle)) {
			size_t a = skip_lws(p, s, i), b = i;
			while (b > a && is_lws(p[b - 1]))
				b--;
			if (b == a)
				return -1; /* empty list element */
			int r = cb(ctx, mkstr(p + a, b - a));
			if (r)
				return r;
			s = i + 1;
			i++;
			continue;
		}
		if (p[i] == '"') {
			size_t q = skip_quoted(p, i, end);
			if (!q)
				return -1;
			i = q;
			continue;
		}
		if (p[i] == '<')
			angle = 1;
		else if (p[i] == '>')
			angle = 0;
		i++;
	}
	return 0;
}

static int via_item(void *ctx, struct sfp_str item)
{
	struct sfp_sip *m = ctx;
	if (m->n_via >= SFP_MAX_VIA)
		return 2;
	m->via[m->n_via++] = item;
	if (m->n_via == 1) {
		m->top_via_ok = sfp_via_parse(item, &m->top_via) == 0;
		return m->top_via_ok ? 0 : 1;
	}
	/* the other values are only copied, but a malformed one still makes
	 * the message malformed */
	struct sfp_via tmp;
	return sfp_via_parse(item, &tmp) ? 1 : 0;
}

static int contact_item(void *ctx, struct sfp_str item)
{
	(void)ctx;
	if (item.n == 1 && item.p[0] == '*')
		return 0;
	return sfp_nameaddr_check(item, NULL) ? 1 : 0;
}

/* ---- Digest credentials (RFC 2617 3.2.2, RFC 7616 3.4) ------------------ */

int sfp_digest_parse(struct sfp_str v, struct sfp_digest_cred *c)
{
	const char *p = v.p;
	size_t end = v.n, i = skip_lws(p, 0, end), t;

	memset(c, 0, sizeof(*c));
	t = skip_token(p, i, end);
	if (!sfp_str_ieq(mkstr(p + i, t - i), "Digest"))
		return 0;
	i = t;
	for (;;) {
		i = skip_lws(p, i, end);
		if (i >= end)
			break;
		size_t ns = i;
		i = skip_token(p, i, end);
		if (i == ns)
			return -1;
		struct sfp_str name = mkstr(p + ns, i - ns), val;
		i = skip_lws(p, i, end);
		if (i >= end || p[i] != '=')
			return -1;
		i = skip_lws(p, i + 1, end);
		if (i < end && p[i] == '"') {
			size_t q = skip_quoted(p, i, end);
			if (!q)
				return -1;
			val = mkstr(p + i + 1, q - i - 2);
			i = q;
		} else {
			size_t vs = i;
			while (i < end && !is_lws(p[i]) && p[i] != ',')
				i++;
			if (i == vs)
				return -1;
			val = mkstr(p + vs, i - vs);
		}
		if (sfp_str_ieq(name, "username")) c->username = val;
		else if (sfp_str_ieq(name, "realm")) c->realm = val;
		else if (sfp_str_ieq(name, "nonce")) c->nonce = val;
		else if (sfp_str_ieq(name, "uri")) c->uri = val;
		else if (sfp_str_ieq(name, "response")) c->response = val;
		else if (sfp_str_ieq(name, "algorithm")) c->algorithm = val;
		else if (sfp_str_ieq(name, "cnonce")) c->cnonce = val;
		else if (sfp_str_ieq(name, "opaque")) c->opaque = val;
		else if (sfp_str_ieq(name, "qop")) c->qop = val;
		else if (sfp_str_ieq(name, "nc")) c->nc = val;
		else if (sfp_str_ieq(name, "userhash")) c->userhash = sfp_str_ieq(val, "true");
		i = skip_lws(p, i, end);
		if (i >= end)
			break;
		if (p[i] != ',')
			return -1;
		i++;
	}
	if (!c->username.p || !c->realm.p || !c->nonce.p || !c->uri.p || !c->response.p)
		return -1;
	return 1;
}

/* ---- methods ------------------------------------------------------------ */

static enum sfp_method method_of(struct sfp_str s)
{
	/* methods are case-sensitive (RFC 3261 7.1) */
#define M(lit, e) { lit, sizeof(lit) - 1, e }
	static const struct { const char *n; size_t len; enum sfp_method m; } tab[] = {
		M("INVITE", SFP_M_INVITE), M("ACK", SFP_M_ACK), M("BYE", SFP_M_BYE),
		M("CANCEL", SFP_M_CANCEL), M("REGISTER", SFP_M_REGISTER),
		M("OPTIONS", SFP_M_OPTIONS), M("PRACK", SFP_M_PRACK),
		M("SUBSCRIBE", SFP_M_SUBSCRIBE), M("NOTIFY", SFP_M_NOTIFY),
		M("PUBLISH", SFP_M_PUBLISH), M("INFO", SFP_M_INFO),
		M("REFER", SFP_M_REFER), M("MESSAGE", SFP_M_MESSAGE),
		M("UPDATE", SFP_M_UPDATE),
	};
#undef M
	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++)
		if (tab[k].len == s.n && memcmp(tab[k].n, s.p, s.n) == 0)
			return tab[k].m;
	return SFP_M_UNKNOWN;
}

/* ---- header names (full and compact forms, RFC 3261 7.3.3) ------------- */

enum hdr {
	H_OTHER, H_VIA, H_FROM, H_TO, H_CALLID, H_CSEQ, H_MAXFWD, H_CLEN,
	H_CONTACT, H_REQUIRE, H_PREQUIRE, H_UA, H_EXPIRES, H_AUTHZ, H_PAUTHZ,
};

static enum hdr hdr_of(struct sfp_str n)
{
	if (n.n == 1) {
		switch (lower(n.p[0])) {
		case 'v': return H_VIA;
		case 'f': return H_FROM;
		case 't': return H_TO;
		case 'i': return H_CALLID;
		case 'l': return H_CLEN;
		case 'm': return H_CONTACT;
		}
		return H_OTHER;
	}
	/* by length first: one or two compares per header line */
	switch (n.n) {
	case 2: return sfp_str_ieq(n, "to") ? H_TO : H_OTHER;
	case 3: return sfp_str_ieq(n, "via") ? H_VIA : H_OTHER;
	case 4: return sfp_str_ieq(n, "from") ? H_FROM : sfp_str_ieq(n, "cseq") ? H_CSEQ : H_OTHER;
	case 7:
		return sfp_str_ieq(n, "call-id") ? H_CALLID : sfp_str_ieq(n, "contact") ? H_CONTACT :
		       sfp_str_ieq(n, "require") ? H_REQUIRE : sfp_str_ieq(n, "expires") ? H_EXPIRES :
		       H_OTHER;
	case 10: return sfp_str_ieq(n, "user-agent") ? H_UA : H_OTHER;
	case 12: return sfp_str_ieq(n, "max-forwards") ? H_MAXFWD : H_OTHER;
	case 13:
		return sfp_str_ieq(n, "proxy-require") ? H_PREQUIRE :
		       sfp_str_ieq(n, "authorization") ? H_AUTHZ : H_OTHER;
	case 14: return sfp_str_ieq(n, "content-length") ? H_CLEN : H_OTHER;
	case 19: return sfp_str_ieq(n, "proxy-authorization") ? H_PAUTHZ : H_OTHER;
	}
	return H_OTHER;
}

/* ---- the message -------------------------------------------------------- */

/* end of the line starting at i: *eol = index of CR/LF, returns the index of
 * the next line, or 0 if no LF follows before end */
static size_t next_line(const char *p, size_t i, size_t end, size_t *eol)
{
	const char *lf = memchr(p + i, '\n', end - i);
	if (!lf)
		return 0;
	size_t e = (size_t)(lf - p);
	*eol = (e > i && p[e - 1] == '\r') ? e - 1 : e;
	return e + 1;
}

/* a NUL is only valid as a quoted-pair ("\\" %x00, RFC 3261 25.1; RFC 4475
 * 3.1.1.2 has one); anywhere else in the header section it is an error */
static bool has_bare_nul(const char *p, size_t n)
{
	const char *z = p, *end = p + n;
	while ((z = memchr(z, 0, (size_t)(end - z)))) {
		if (z == p || z[-1] != '\\')
			return true;
		z++;
	}
	return false;
}

#define SET_ERR(x) do { if (err == SFP_SE_OK) err = (x); } while (0)

static enum sfp_scan_err scan_request_line(const char *p, size_t s, size_t e, struct sfp_sip *m)
{
	size_t i = skip_token(p, s, e), u;
	uint64_t d;

	if (i == s || i >= e || p[i] != ' ')
		return SFP_SE_BAD_REQUEST_LINE;
	m->method_name = mkstr(p + s, i - s);
	m->method = method_of(m->method_name);
	u = ++i;
	while (i < e && p[i] != ' ')
		i++;
	if (i == u || i >= e)
		return SFP_SE_BAD_REQUEST_LINE; /* RFC 4475 3.1.2.9: one SP only */
	m->ruri = mkstr(p + u, i - u);
	i++;
	/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, then CRLF right away
	 * (RFC 4475 3.1.2.8, 3.1.2.10: no LWS in the URI, none at the end) */
	if (e - i < 4 || !sfp_str_ieq(mkstr(p + i, 4), "SIP/"))
		return SFP_SE_BAD_REQUEST_LINE;
	size_t v = i + 4;
	if (!parse_uint(p, &v, e, 999, &d) || v >= e || p[v] != '.')
		return SFP_SE_BAD_REQUEST_LINE;
	v++;
	if (!parse_uint(p, &v, e, 999, &d) || v != e)
		return SFP_SE_BAD_REQUEST_LINE;
	if (e - i != 7 || memcmp(p + i + 3, "/2.0", 4) != 0)
		return SFP_SE_BAD_VERSION;
	int r = sfp_uri_parse(m->ruri, &m->ruri_parts);
	if (r < 0) {
		/* a syntactically valid scheme we do not speak is a 416 later,
		 * not a 400 (RFC 4475 3.3.2) */
		size_t k = 0;
		if (m->ruri.n && is_alpha(m->ruri.p[0])) {
			while (k < m->ruri.n && (is_alnum(m->ruri.p[k]) || m->ruri.p[k] == '+' ||
						 m->ruri.p[k] == '-' || m->ruri.p[k] == '.'))
				k++;
			struct sfp_str sch = mkstr(m->ruri.p, k);
			bool ok = true;
			for (size_t j = 0; j < m->ruri.n; j++)
				ok = ok && uri_char_ok(m->ruri.p[j]);
			if (k < m->ruri.n && m->ruri.p[k] == ':' && ok &&
			    !sfp_str_ieq(sch, "sip") && !sfp_str_ieq(sch, "sips")) {
				m->ruri_parts.scheme = sch;
				return SFP_SE_OK;
			}
		}
		return SFP_SE_BAD_RURI;
	}
	if (r == 1 && (sfp_str_ieq(m->ruri_parts.scheme, "sip") ||
		       sfp_str_ieq(m->ruri_parts.scheme, "sips")))
		return SFP_SE_RURI_HEADERS; /* RFC 4475 3.1.2.11 */
	return SFP_SE_OK;
}

static enum sfp_scan_err scan_status_line(const char *p, size_t s, size_t e, struct sfp_sip *m)
{
	/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
	if (e - s < 12 || !sfp_str_ieq(mkstr(p + s, 8), "SIP/2.0 "))
		return SFP_SE_BAD_STATUS;
	size_t i = s + 8;
	if (!is_digit(p[i]) || !is_digit(p[i + 1]) || !is_digit(p[i + 2]) || p[i + 3] != ' ')
		return SFP_SE_BAD_STATUS; /* RFC 4475 3.1.2.19: exactly 3 digits */
	m->status = (uint16_t)((p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0'));
	if (m->status < 100 || m->status > 699)
		return SFP_SE_BAD_STATUS;
	m->reason = mkstr(p + i + 4, e - i - 4);
	return SFP_SE_OK;
}

static enum sfp_scan_err header(struct sfp_sip *m, enum hdr h, struct sfp_str v,
				bool *seen_clen)
{
	const char *p = v.p;
	size_t end = v.n, i = 0;
	uint64_t num;

	switch (h) {
	case H_VIA: {
		int r = split_list(v, via_item, m);
		if (r == 2)
			return SFP_SE_TOO_MANY_VIA;
		if (r || !m->top_via_ok)
			return SFP_SE_BAD_VIA;
		return SFP_SE_OK;
	}
	case H_FROM:
		if (m->from.p)
			return SFP_SE_DUP_FROM;
		m->from = v;
		return sfp_nameaddr_check(v, &m->from_tag) ? SFP_SE_BAD_FROM : SFP_SE_OK;
	case H_TO:
		if (m->to.p)
			return SFP_SE_DUP_TO;
		m->to = v;
		return sfp_nameaddr_check(v, &m->to_tag) ? SFP_SE_BAD_TO : SFP_SE_OK;
	case H_CALLID:
		if (m->call_id.p)
			return SFP_SE_DUP_CALLID;
		m->call_id = v;
		/* callid = word [ "@" word ]: no white space inside */
		for (i = 0; i < end; i++)
			if (is_lws(p[i]) || (unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
				return SFP_SE_BAD_CALLID;
		return end ? SFP_SE_OK : SFP_SE_BAD_CALLID;
	case H_CSEQ: {
		if (m->cseq.p)
			return SFP_SE_DUP_CSEQ;
		m->cseq = v;
		/* RFC 3261 8.1.1.5: the number MUST be less than 2**31 */
		if (!parse_uint(p, &i, end, 0x7fffffffu, &num) || i >= end || !is_lws(p[i]))
			return SFP_SE_BAD_CSEQ;
		m->cseq_num = (uint32_t)num;
		i = skip_lws(p, i, end);
		size_t t = skip_token(p, i, end);
		if (t == i || skip_lws(p, t, end) != end)
			return SFP_SE_BAD_CSEQ;
		m->cseq_method = mkstr(p + i, t - i);
		return SFP_SE_OK;
	}
	case H_MAXFWD:
		if (m->max_forwards >= 0)
			return SFP_SE_DUP_MAXFWD;
		if (!parse_uint(p, &i, end, 255, &num) || i != end) {
			m->max_forwards = 70; /* present but unusable */
			return SFP_SE_BAD_MAXFWD;
		}
		m->max_forwards = (int32_t)num;
		return SFP_SE_OK;
	case H_CLEN:
		if (*seen_clen)
			return SFP_SE_DUP_CLEN;
		*seen_clen = true;
		if (!parse_uint(p, &i, end, SFP_SCAN_MAX_CLEN, &num) || i != end)
			return SFP_SE_BAD_CLEN; /* RFC 4475 3.1.2.3 negative */
		m->content_length = (int64_t)num;
		return SFP_SE_OK;
	case H_CONTACT:
		if (!m->contact.p)
			m->contact = v;
		return split_list(v, contact_item, NULL) ? SFP_SE_BAD_CONTACT : SFP_SE_OK;
	case H_REQUIRE:
		if (!m->require.p)
			m->require = v;
		return SFP_SE_OK;
	case H_PREQUIRE:
		if (!m->proxy_require.p)
			m->proxy_require = v;
		return SFP_SE_OK;
	case H_UA:
		if (!m->user_agent.p)
			m->user_agent = v;
		return SFP_SE_OK;
	case H_EXPIRES:
		if (!m->expires.p)
			m->expires = v;
		return SFP_SE_OK;
	case H_AUTHZ:
		if (m->n_authz < SFP_MAX_AUTH)
			m->authz[m->n_authz++] = v;
		return SFP_SE_OK;
	case H_PAUTHZ:
		if (m->n_pauthz < SFP_MAX_AUTH)
			m->pauthz[m->n_pauthz++] = v;
		return SFP_SE_OK;
	case H_OTHER:
		break;
	}
	return SFP_SE_OK;
}

enum sfp_scan_err sfp_scan(const char *p, size_t len, struct sfp_sip *m)
{
	enum sfp_scan_err err = SFP_SE_OK, r;
	size_t i = 0, eol, nx;
	bool seen_clen = false;

	memset(m, 0, offsetof(struct sfp_sip, via));
	m->max_forwards = -1;
	m->content_length = -1;
	if (len > SFP_SCAN_MAX_LEN)
		len = SFP_SCAN_MAX_LEN;

	/* RFC 3261 7.5: CRLFs before the start-line are ignored */
	while (i < len && (p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i >= len)
		return SFP_SE_EMPTY;
	const char *nul = memchr(p + i, 0, len - i);
	nx = next_line(p, i, len, &eol);
	if (!nx) {
		/* a start line cut before its end: still say whether it was
		 * a request, so the drop is counted under the right name */
		m->request = !(len - i >= 4 && sfp_str_ieq(mkstr(p + i, 4), "SIP/"));
		return SFP_SE_BAD_START_LINE;
	}
	if (eol - i >= 4 && sfp_str_ieq(mkstr(p + i, 4), "SIP/")) {
		r = scan_status_line(p, i, eol, m);
		if (r != SFP_SE_OK)
			return r;
	} else {
		m->request = true;
		SET_ERR(scan_request_line(p, i, eol, m));
		if (!m->method_name.p)
			return SFP_SE_BAD_START_LINE;
	}

	/* header fields, until the empty line */
	for (i = nx;;) {
		/* no empty line before the end: the header section is cut */
		if (i >= len || !(nx = next_line(p, i, len, &eol))) {
			SET_ERR(SFP_SE_TRUNCATED);
			m->msg_len = (uint32_t)len;
			goto checks;
		}
		if (eol == i) {
			i = nx;
			break;
		}
		if (is_wsp(p[i])) {
			/* a continuation line with no header before it */
			SET_ERR(SFP_SE_BAD_HEADER);
			i = nx;
			continue;
		}
		size_t ns = i, ne = skip_token(p, i, eol), c = ne;
		while (c < eol && is_wsp(p[c]))
			c++;
		/* fold continuation lines into this header's value */
		size_t vend = eol, j = nx;
		while (j < len && is_wsp(p[j])) {
			size_t e2, n2 = next_line(p, j, len, &e2);
			if (!n2) {
				vend = len;
				j = len;
				break;
			}
			vend = e2;
			j = n2;
		}
		m->n_headers++;
		/* one search for NULs over the datagram, not one per header:
		 * almost no message has any */
		while (nul && nul < p + ns)
			nul = memchr(nul + 1, 0, len - (size_t)(nul + 1 - p));
		if (nul && nul < p + vend && has_bare_nul(p + ns, vend - ns))
			SET_ERR(SFP_SE_NUL_IN_HEADER);
		if (ne == ns || c >= eol || p[c] != ':') {
			SET_ERR(SFP_SE_BAD_HEADER);
			i = j;
			continue;
		}
		size_t vs = skip_lws(p, c + 1, vend), ve = vend;
		while (ve > vs && is_lws(p[ve - 1]))
			ve--;
		r = header(m, hdr_of(mkstr(p + ns, ne - ns)), mkstr(p + vs, ve - vs), &seen_clen);
		SET_ERR(r);
		i = j;
	}

	/* body: RFC 3261 18.3, over UDP an absent Content-Length means the
	 * rest of the datagram; bytes past Content-Length are discarded */
	if (m->content_length >= 0) {
		if ((uint64_t)m->content_length > len - i) {
			SET_ERR(SFP_SE_CLEN_TOO_BIG);
			m->body = mkstr(p + i, len - i);
			m->msg_len = (uint32_t)len;
		} else {
			m->body = mkstr(p + i, (size_t)m->content_length);
			m->msg_len = (uint32_t)(i + (size_t)m->content_length);
		}
	} else {
		m->body = mkstr(p + i, len - i);
		m->msg_len = (uint32_t)len;
	}

checks:
	if (m->n_via == 0)
		SET_ERR(SFP_SE_MISSING_VIA);
	if (!m->from.p)
		SET_ERR(SFP_SE_MISSING_FROM);
	if (!m->to.p)
		SET_ERR(SFP_SE_MISSING_TO);
	if (!m->call_id.p)
		SET_ERR(SFP_SE_MISSING_CALLID);
	if (!m->cseq.p)
		SET_ERR(SFP_SE_MISSING_CSEQ);
	/* RFC 3261 8.1.1.5 / RFC 4475 3.1.2.17-18 */
	if (m->request && m->cseq_method.p && m->method_name.p &&
	    !sfp_str_eq(m->cseq_method, m->method_name))
		SET_ERR(SFP_SE_CSEQ_MISMATCH);
	return err;
}
