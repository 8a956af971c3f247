/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP read and rewrite on libosip2's parser and writer (sdp.h).  libosip2
 * is the SIP stack the design names; its SDP code handles the grammar
 * (RFC 4566 line order, per-media attributes, several c= lines), so sipfp
 * only decides what to change.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stdbool.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "sdp.h"

#define SDP_BODY_MAX 16384

const char *sdp_strerror(enum sdp_err e)
{
	switch (e) {
	case SDP_OK: return "ok";
	case SDP_BAD: return "malformed SDP";
	case SDP_NOT_IP4: return "SDP address not IPv4";
	case SDP_TOO_MANY: return "too many media streams";
	case SDP_TOO_BIG: return "SDP too large";
	}
	return "?";
}

/*
 * Before libosip2 sees it, the body must follow RFC 4566's grammar (9)
 * line by line: "x=" lines of the known types, v=0 first, and the lines
 * libosip2 takes apart (o=, c=, m=, t=, r=, z=, b=, k=, a=) with the
 * fields their grammar names, in ASCII token characters where it says
 * token.  libosip2 5.3 reads past the end of its input on some malformed
 * lines (our fuzzer found "m=audi$ 49217 \x8a"): nothing malformed
 * reaches it.  RFC 4566 5: a receiver may reject what does not parse;
 * the request gets 488.
 */

/* RFC 4566 9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39
 * / %x41-5A / %x5E-7E */
static bool token_char(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
	       c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x5e && c <= 0x7e);
}

/* the space-separated fields of v[0..n): how many; each non-empty (no
 * double space, none leading or trailing), each made of printable ASCII
 * (or of token characters when token) */
static int fields(const char *v, size_t n, bool token)
{
	int k = 0;
	size_t i = 0;
	while (i < n) {
		size_t s = i;
		while (i < n && v[i] != ' ') {
			unsigned char c = (unsigned char)v[i];
			if (token ? !token_char(c) : (c <= 0x20 || c >= 0x7f))
				return -1;
			i++;
		}
		if (i == s)
			return -1; /* an empty field */
		k++;
		if (i < n && ++i == n)
			return -1; /* a trailing space */
	}
	return k;
}

static bool digits(const char *v, size_t n)
{
	if (!n || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* field k (from 0) of a line known to have it */
static void field(const char *v, size_t n, int k, const char **f, size_t *fn)
{
	size_t i = 0;
	for (; k > 0 && i < n; i++)
		if (v[i] == ' ')
			k--;
	size_t s = i;
	while (i < n && v[i] != ' ')
		i++;
	*f = v + s;
	*fn = i - s;
}

static bool line_ok(char type, const char *v, size_t n, bool first)
{
	const char *f;
	size_t fn;
	if (first != (type == 'v'))
		return false;
	for (size_t i = 0; i < n; i++) /* no control characters but tab (9: text) */
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return false;
	switch (type) {
	case 'v':
		return n == 1 && v[0] == '0';
	case 'o': /* username sess-id sess-version nettype addrtype unicast-address */
		if (fields(v, n, false) != 6)
			return false;
		field(v, n, 1, &f, &fn);
		if (!digits(f, fn))
			return false;
		field(v, n, 2, &f, &fn);
		return digits(f, fn);
	case 'c': /* nettype addrtype connection-address */
		return fields(v, n, false) == 3;
	case 'm': { /* media port[/integer] proto 1*(SP fmt) */
		if (fields(v, n, false) < 4)
			return false;
		field(v, n, 0, &f, &fn);
		for (size_t i = 0; i < fn; i++)
			if (!token_char((unsigned char)f[i]))
				return false;
		field(v, n, 1, &f, &fn);
		const char *sl = memchr(f, '/', fn);
		if (!digits(f, sl ? (size_t)(sl - f) : fn) || (sl && !digits(sl + 1, fn - (size_t)(sl + 1 - f))))
			return false;
		field(v, n, 2, &f, &fn); /* token *("/" token) */
		for (size_t i = 0; i < fn; i++)
			if (!token_char((unsigned char)f[i]) && !(f[i] == '/' && i && i + 1 < fn && f[i - 1] != '/'))
				return false;
		return true;
	}
	case 't': /* start-time stop-time */
		if (fields(v, n, false) != 2)
			return false;
		field(v, n, 0, &f, &fn);
		if (!digits(f, fn))
			return false;
		field(v, n, 1, &f, &fn);
		return digits(f, fn);
	case 'r': /* repeat-interval typed-time 1*(SP typed-time) */
		return fields(v, n, false) >= 3;
	case 'z': { /* time adjustments: pairs */
		int k = fields(v, n, false);
		return k >= 2 && k % 2 == 0;
	}
	case 'b': { /* bwtype ":" bandwidth */
		const char *c = memchr(v, ':', n);
		if (!c || c == v)
			return false;
		for (const char *q = v; q < c; q++)
			if (!token_char((unsigned char)*q))
				return false;
		return digits(c + 1, n - (size_t)(c + 1 - v));
	}
	case 'k': /* method [":" key]: a token first */
	case 'a': { /* att-field [":" att-value] */
		size_t i = 0;
		while (i < n && v[i] != ':' && token_char((unsigned char)v[i]))
			i++;
		return i > 0 && (i == n || v[i] == ':');
	}
	case 's': case 'i': case 'u': case 'e': case 'p':
		return n > 0;
	default:
		return false;
	}
}

static bool plausible(const char *b, size_t len)
{
	size_t i = 0;
	bool first = true;
	while (i < len) {
		size_t e = i;
		while (e < len && b[e] != '\n')
			e++;
		size_t n = e - i;
		if (n && b[i + n - 1] == '\r')
			n--;
		if (n == 0) {
			if (e + 1 < len) /* an empty line inside the body */
				return false;
			i = e + 1;
			continue;
		}
		if (n < 2 || b[i + 1] != '=' || !line_ok(b[i], b + i + 2, n - 2, first))
			return false;
		first = false;
		i = e + 1;
	}
	return !first;
}

/* libosip2 wants a NUL-terminated copy; the copy has zeros to spare
 * behind it, so a parser that steps over the terminator still reads
 * inside it */
#define SDP_PAD 64
static sdp_message_t *parse(const char *body, size_t len)
{
	if (len == 0 || len > SDP_BODY_MAX || !plausible(body, len))
		return NULL;
	char *b = calloc(1, len + SDP_PAD);
	sdp_message_t *sdp = NULL;
	if (!b)
		return NULL;
	memcpy(b, body, len);
	if (sdp_message_init(&sdp) != 0 || sdp_message_parse(sdp, b) != 0) {
		sdp_message_free(sdp);
		sdp = NULL;
	}
	free(b);
	return sdp;
}

static int port_of(const char *s)
{
	char *e;
	if (!s || !*s)
		return -1;
	long v = strtol(s, &e, 10);
	return *e || v < 0 || v > 65535 ? -1 : (int)v;
}

/* the connection of media pos: its own, else the session's (RFC 4566 5.7) */
static sdp_connection_t *conn_of(sdp_message_t *sdp, int pos)
{
	sdp_connection_t *c = sdp_message_connection_get(sdp, pos, 0);
	return c ? c : sdp->c_connection;
}

static enum sdp_err addr_of(const sdp_connection_t *c, uint32_t *ip)
{
	if (!c || !c->c_addr || !c->c_addrtype)
		return SDP_BAD;
	if (strcasecmp(c->c_addrtype, "IP4"))
		return SDP_NOT_IP4;
	struct in_addr a;
	if (inet_pton(AF_INET, c->c_addr, &a) != 1)
		return SDP_BAD;
	*ip = a.s_addr;
	return SDP_OK;
}

/* the clock of the first format: a=rtpmap, else the static payload
 * types of RFC 3551 (all 8 kHz audio but G.722's nominal 8 kHz too) */
static uint16_t clock_of(sdp_message_t *sdp, int pos)
{
	const char *pt = osip_list_get(&((sdp_media_t *)osip_list_get(&sdp->m_medias, pos))->m_payloads, 0);
	if (!pt)
		return 8;
	for (int i = 0;; i++) {
		const char *f = sdp_message_a_att_field_get(sdp, pos, i);
		if (!f)
			break;
		const char *v = sdp_message_a_att_value_get(sdp, pos, i);
		size_t n = strlen(pt);
		if (strcasecmp(f, "rtpmap") || !v || strncmp(v, pt, n) || v[n] != ' ')
			continue;
		const char *slash = strchr(v + n, '/');
		long hz = slash ? strtol(slash + 1, NULL, 10) : 0;
		return hz >= 1000 && hz <= 192000 ? (uint16_t)(hz / 1000) : 8;
	}
	/* static video payload types run at 90 kHz */
	long t = strtol(pt, NULL, 10);
	return (t >= 24 && t <= 34) ? 90 : 8;
}

enum sdp_err sdp_read(const char *body, size_t len, struct sdp_info *info)
{
	sdp_message_t *sdp = parse(body, len);
	enum sdp_err rc = SDP_OK;
	memset(info, 0, sizeof(*info));
	if (!sdp)
		return SDP_BAD;
	for (int pos = 0; !sdp_message_endof_media(sdp, pos); pos++) {
		if (pos >= SDP_MAX_STREAMS) {
			rc = SDP_TOO_MANY;
			break;
		}
		struct sdp_stream *s = &info->s[pos];
		int port = port_of(sdp_message_m_port_get(sdp, pos));
		if (port < 0) {
			rc = SDP_BAD;
			break;
		}
		s->port = (uint16_t)port;
		s->rtcp_port = port ? (uint16_t)(port + 1) : 0;
		s->dir = SDP_SENDRECV;
		s->clock_khz = clock_of(sdp, pos);
		info->n = (unsigned)pos + 1;
		if (port && (rc = addr_of(conn_of(sdp, pos), &s->ip)) != SDP_OK)
			break;
		/* session-level direction applies unless the media says otherwise */
		for (int lvl = -1; lvl <= pos; lvl += pos + 1) {
			for (int i = 0;; i++) {
				const char *f = sdp_message_a_att_field_get(sdp, lvl, i);
				if (!f)
					break;
				const char *v = sdp_message_a_att_value_get(sdp, lvl, i);
				if (!strcasecmp(f, "sendonly"))
					s->dir = SDP_SENDONLY;
				else if (!strcasecmp(f, "recvonly"))
					s->dir = SDP_RECVONLY;
				else if (!strcasecmp(f, "inactive"))
					s->dir = SDP_INACTIVE;
				else if (!strcasecmp(f, "sendrecv"))
					s->dir = SDP_SENDRECV;
				else if (lvl == pos && !strcasecmp(f, "rtcp-mux"))
					s->mux = 1;
				else if (lvl == pos && !strcasecmp(f, "rtcp") && v) {
					/* RFC 3605: port [nettype addrtype address] */
					int rp = (int)strtol(v, NULL, 10);
					if (rp > 0 && rp <= 65535)
						s->rtcp_port = (uint16_t)rp;
				}
			}
			if (lvl == pos)
				break;
		}
	}
	if (rc == SDP_OK && info->n == 0)
		rc = SDP_BAD;
	sdp_message_free(sdp);
	return rc;
}

static bool is_ice(const char *f)
{
	static const char *const ice[] = { "candidate", "ice-ufrag", "ice-pwd", "ice-options",
					   "ice-lite", "ice-mismatch", "remote-candidates",
					   "end-of-candidates", "ice-pacing" };
	for (size_t i = 0; i < sizeof(ice) / sizeof(ice[0]); i++)
		if (!strcasecmp(f, ice[i]))
			return true;
	return false;
}

static void drop_ice(osip_list_t *attrs)
{
	for (int i = 0; i < osip_list_size(attrs);) {
		sdp_attribute_t *a = osip_list_get(attrs, i);
		if (a && a->a_att_field && is_ice(a->a_att_field)) {
			osip_list_remove(attrs, i);
			sdp_attribute_free(a);
		} else {
			i++;
		}
	}
}

static int set_str(char **field, const char *v)
{
	char *n = osip_strdup(v);
	if (!n)
		return -1;
	osip_free(*field);
	*field = n;
	return 0;
}

/* a connection is ours unless it says 0.0.0.0 (hold, RFC 3264 8.4 notes
 * the old convention): that stays */
static int own_conn(sdp_connection_t *c, const char *addr)
{
	if (!c || !c->c_addr || !strcmp(c->c_addr, "0.0.0.0"))
		return 0;
	return set_str(&c->c_addr, addr);
}

enum sdp_err sdp_write(const char *body, size_t len, const char *addr, const uint16_t *ports,
		       unsigned nports, char *out, size_t cap, size_t *out_len)
{
	sdp_message_t *sdp = parse(body, len);
	enum sdp_err rc = SDP_OK;
	char num[16], *str = NULL;
	if (!sdp)
		return SDP_BAD;
	if (sdp->o_addr && set_str(&sdp->o_addr, addr))
		rc = SDP_BAD;
	if (rc == SDP_OK && own_conn(sdp->c_connection, addr))
		rc = SDP_BAD;
	drop_ice(&sdp->a_attributes);
	for (int pos = 0; rc == SDP_OK && !sdp_message_endof_media(sdp, pos); pos++) {
		if ((unsigned)pos >= nports) {
			rc = SDP_TOO_MANY;
			break;
		}
		sdp_media_t *m = osip_list_get(&sdp->m_medias, pos);
		if (port_of(m->m_port) == 0)
			continue; /* rejected: stays rejected, port 0 */
		snprintf(num, sizeof(num), "%u", ports[pos]);
		if (set_str(&m->m_port, num)) {
			rc = SDP_BAD;
			break;
		}
		for (int i = 0; i < osip_list_size(&m->c_connections); i++)
			if (own_conn(osip_list_get(&m->c_connections, i), addr))
				rc = SDP_BAD;
		drop_ice(&m->a_attributes);
		for (int i = 0; i < osip_list_size(&m->a_attributes); i++) {
			sdp_attribute_t *a = osip_list_get(&m->a_attributes, i);
			if (!a->a_att_field || strcasecmp(a->a_att_field, "rtcp"))
				continue;
			char v[64];
			/* RFC 3605: keep the form the endpoint used */
			if (a->a_att_value && strchr(a->a_att_value, ' '))
				snprintf(v, sizeof(v), "%u IN IP4 %s", ports[pos] + 1u, addr);
			else
				snprintf(v, sizeof(v), "%u", ports[pos] + 1u);
			if (set_str(&a->a_att_value, v))
				rc = SDP_BAD;
		}
	}
	if (rc == SDP_OK && (sdp_message_to_str(sdp, &str) != 0 || !str))
		rc = SDP_BAD;
	if (rc == SDP_OK) {
		size_t n = strlen(str);
		if (n > cap)
			rc = SDP_TOO_BIG;
		else {
			memcpy(out, str, n);
			*out_len = n;
		}
	}
	osip_free(str);
	sdp_message_free(sdp);
	return rc;
}
