/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP text helpers of the control process's transaction and dialog layer:
 * header fields, URIs, Via, branches.  Shared by the registrar, the
 * transactions and the routing (px.h).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px.h"

/* ---- small helpers -------------------------------------------------------------- */

void px_putf(struct sfp_wbuf *w, const char *fmt, ...)
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

void px_cstr(char *d, size_t cap, struct sfp_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(d, s.p, n);
	d[n] = '\0';
}

bool px_str_is(struct sfp_str s, const char *c)
{
	return s.n == strlen(c) && !memcmp(s.p, c, s.n);
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c; }

bool px_name_is(struct sfp_str n, const char *full, char compact)
{
	if (compact && n.n == 1 && lower(n.p[0]) == compact)
		return true;
	return sfp_str_ieq(n, full);
}

/* iterate header fields of p[0..len): *off starts after the start line */
bool px_hdr_next(const char *p, size_t len, size_t *off, struct px_rawh *h)
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

size_t px_first_line_end(const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	return lf ? (size_t)(lf - p) + 1 : len;
}

/* split a header value at its first top-level comma (outside <> and quotes) */
struct sfp_str px_first_value(struct sfp_str v, struct sfp_str *rest)
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
struct sfp_str px_addr_uri(struct sfp_str v, struct sfp_str *params)
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
struct sfp_str px_param(struct sfp_str ps, const char *name)
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

bool px_ip4(struct sfp_str host, uint32_t *out)
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

long px_num(struct sfp_str s)
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

/* ---- transports (RFC 3261 18; SIP over TCP/TLS through transport.c) --------- */

uint8_t px_out_tp(uint32_t ip, uint16_t port)
{
	return px_e.transport_of ? (uint8_t)px_e.transport_of(ip, port) : SFP_TP_UDP;
}

const char *px_tp_name(uint8_t tp)
{
	return tp == SFP_TP_TLS ? "TLS" : tp == SFP_TP_TCP ? "TCP" : "UDP";
}

/* the port we are reached on over tp */
uint16_t px_tp_port(uint8_t tp)
{
	return tp == SFP_TP_TLS && px_e.tls_port ? px_e.tls_port : px_e.lcfg->sip_port;
}

/* the URI parameter that names tp ("" for UDP, the default) */
const char *px_tp_param(uint8_t tp)
{
	return tp == SFP_TP_TLS ? ";transport=tls" : tp == SFP_TP_TCP ? ";transport=tcp" : "";
}

/* the transport a URI asks for (RFC 3261 19.1.1, 26.2: sips is TLS;
 * RFC 3263 4.1: its transport parameter) */
uint8_t px_uri_tp(struct sfp_str uri)
{
	if (uri.n >= 5 && !strncasecmp(uri.p, "sips:", 5))
		return SFP_TP_TLS;
	struct sfp_str t = px_param(uri, "transport");
	return sfp_str_ieq(t, "tls") ? SFP_TP_TLS : sfp_str_ieq(t, "tcp") ? SFP_TP_TCP : SFP_TP_UDP;
}

/* where a request to uri, reached at ip:port, goes: down a connection
 * from there if one is open, else what the URI asks for */
uint8_t px_target_tp(uint32_t ip, uint16_t port, struct sfp_str uri)
{
	uint8_t tp = px_out_tp(ip, port);
	return tp != SFP_TP_UDP ? tp : px_uri_tp(uri);
}

void px_send_tp(uint32_t ip, uint16_t port, uint8_t tp, const char *p, uint32_t len)
{
	if (tp != SFP_TP_UDP && px_e.send_tp)
		px_e.send_tp(ip, port, tp, p, len);
	else
		px_e.send(ip, port, p, len);
}

/* a message we built goes over a reliable transport (our Via on top
 * says which): no retransmissions of our own (17.1.1.2, 17.1.2.2) */
bool px_reliable(const char *msg, uint32_t len)
{
	static const char v[] = "\r\nVia: SIP/2.0/";
	const char *e = memchr(msg, '\n', len);
	if (!e || e == msg || (size_t)(msg + len - (e - 1)) < sizeof(v) + 2 ||
	    memcmp(e - 1, v, sizeof(v) - 1))
		return false;
	return memcmp(e - 1 + sizeof(v) - 1, "UDP", 3) != 0;
}

void px_put_via(struct sfp_wbuf *w, uint8_t tp, const char *branch)
{
	px_putf(w, "Via: SIP/2.0/%s %s:%u;branch=%s\r\n", px_tp_name(tp), px_e.lcfg->addr, px_tp_port(tp),
		branch);
}

bool px_port_is_ours(uint16_t port)
{
	return port == px_e.lcfg->sip_port || (px_e.tls_port && port == px_e.tls_port);
}

bool px_uri_is_us(const struct sfp_uri_parts *u)
{
	uint16_t port = u->port ? u->port : 5060;
	if (!px_port_is_ours(port))
		return false;
	return sfp_str_ieq(u->host, px_e.lcfg->addr) ||
	       (px_e.lcfg->domain[0] && sfp_str_ieq(u->host, px_e.lcfg->domain));
}

/* where a Via says responses go (RFC 3261 18.2.2, RFC 3581 4) */
bool px_via_dest(struct sfp_str value, uint32_t *ip, uint16_t *port)
{
	struct sfp_via v;
	if (sfp_via_parse(value, &v))
		return false;
	if (!(v.received.p ? px_ip4(v.received, ip) : px_ip4(v.host, ip)))
		return false;
	*port = v.port ? v.port : 5060;
	if (v.rport && v.rport_has_value) {
		struct sfp_str r = { v.value.p + v.rport_end + 1, 0 };
		while (r.p + r.n < v.value.p + v.value.n && r.p[r.n] >= '0' && r.p[r.n] <= '9')
			r.n++;
		long pv = px_num(r);
		if (pv > 0 && pv < 65536)
			*port = (uint16_t)pv;
	}
	return true;
}

void px_make_branch(struct sfp_str call_id, struct sfp_str in_branch, const char *salt,
			char out[48])
{
	char tag[SFP_TAG_LEN];
	sfp_tag_make(&px_e.lcfg->keys, call_id, (struct sfp_str){ salt, strlen(salt) }, in_branch, tag);
	snprintf(out, 48, OUR_BRANCH "%.*s", SFP_TAG_LEN - 3, tag + 3);
}

const char *px_ipstr(uint32_t ip, char b[16])
{
	sfp_ip4_fmt(ip, b);
	return b;
}

uint64_t px_hs(const char *c) { return hidx_hash(c, strlen(c)); }
uint64_t px_hstr(struct sfp_str v) { return hidx_hash(v.p, v.n); }
