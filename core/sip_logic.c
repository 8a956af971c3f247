/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stateless SIP decisions and replies (see sip_logic.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sipfp/config.h"
#include "sipfp/counters.h"
#include "sipfp/shm.h"
#include "sip_logic.h"
#include "wbuf.h"

static void reply(struct sfp_decision *d, uint16_t code, const char *reason, uint16_t counter)
{
	d->act = SFP_ACT_REPLY;
	d->code = code;
	d->reason = reason;
	d->counter = counter;
}

static void drop(struct sfp_decision *d, uint16_t counter)
{
	d->act = SFP_ACT_DROP;
	d->counter = counter;
}

static uint16_t counter_for(uint16_t code)
{
	switch (code) {
	case 505: return SFP_CNT_REPLY_505;
	case 416: return SFP_CNT_REPLY_416;
	case 420: return SFP_CNT_REPLY_420;
	case 483: return SFP_CNT_REPLY_483;
	case 503: return SFP_CNT_REPLY_503;
	}
	return SFP_CNT_REPLY_400;
}

static bool scheme_supported(struct sfp_str s)
{
	return sfp_str_ieq(s, "sip") || sfp_str_ieq(s, "sips") || sfp_str_ieq(s, "tel");
}

/* OPTIONS addressed to the server itself: no user part, our host and port */
static bool to_self(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m)
{
	const struct sfp_uri_parts *u = &m->ruri_parts;
	if (u->user.n || !u->host.p)
		return false;
	if (u->port && u->port != cfg->sip_port)
		return false;
	return sfp_str_ieq(u->host, cfg->addr) || (cfg->domain[0] && sfp_str_ieq(u->host, cfg->domain));
}

static void handoff_or_503(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
			   bool ctl_ok, struct sfp_decision *d)
{
	if (ctl_ok) {
		d->act = SFP_ACT_HANDOFF;
		d->counter = SFP_CNT_HANDOFF;
		return;
	}
	if (!sfp_decide_overload(cfg, m, d))
		drop(d, SFP_CNT_SIP_NO_CTL);
}

bool sfp_decide_overload(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
			 struct sfp_decision *d)
{
	(void)cfg;
	/* ACKs and responses are never answered (RFC 3261 17.1.1.3, 18.2.1) */
	if (!m->request || m->method == SFP_M_ACK)
		return false;
	reply(d, 503, "Service Unavailable", SFP_CNT_REPLY_503);
	d->flags = SFP_D_RETRY_AFTER;
	return true;
}

static void challenge(struct sfp_decision *d, bool proxy, bool stale)
{
	if (proxy)
		reply(d, 407, "Proxy Authentication Required", SFP_CNT_REPLY_407);
	else
		reply(d, 401, "Unauthorized", SFP_CNT_REPLY_401);
	d->flags |= SFP_D_CHALLENGE | (proxy ? SFP_D_PROXY : 0) | (stale ? SFP_D_STALE : 0);
}

/* pick the Digest credentials meant for our realm (RFC 3261 22.3: a
 * request may carry credentials for several proxies) */
static bool find_cred(const struct sfp_logic_cfg *cfg, const struct sfp_str *v, uint32_t n,
		      struct sfp_digest_cred *c)
{
	for (uint32_t i = 0; i < n; i++) {
		if (sfp_digest_parse(v[i], c) != 1)
			continue;
		if (c->realm.n == cfg->keys.realm_len &&
		    memcmp(c->realm.p, cfg->keys.realm, c->realm.n) == 0)
			return true;
	}
	return false;
}

/* same target in the sense of RFC 3261 19.1.4: scheme, user, host and
 * port, with the default port made explicit (clients such as SIPp write
 * "sip:host:5060" in the digest for a Request-URI "sip:host").  Not
 * strict: a digest uri without a user part names the host the request is
 * for, which is all SIPp's INVITEs put there. */
static bool uri_same_target(struct sfp_str a, struct sfp_str b, bool strict)
{
	struct sfp_uri_parts ua, ub;
	if (sfp_str_eq(a, b))
		return true;
	if (sfp_uri_parse(a, &ua) < 0 || sfp_uri_parse(b, &ub) < 0)
		return false;
	uint16_t def = sfp_str_ieq(ua.scheme, "sips") ? 5061 : 5060;
	uint16_t pa = ua.port ? ua.port : def, pb = ub.port ? ub.port : def;
	if (!ua.host.p || !ub.host.p || ua.host.n != ub.host.n)
		return false;
	for (uint32_t i = 0; i < ua.host.n; i++)
		if ((ua.host.p[i] | 0x20) != (ub.host.p[i] | 0x20))
			return false;
	return sfp_str_ieq(ua.scheme, "sip") == sfp_str_ieq(ub.scheme, "sip") &&
	       (sfp_str_eq(ua.user, ub.user) || (!strict && ua.user.n == 0)) && pa == pb;
}

int sfp_logic_set_algs(struct sfp_logic_cfg *cfg, const char *list, char *err, size_t errlen)
{
	char algs[256], *save = NULL;
	snprintf(algs, sizeof(algs), "%s", list);
	cfg->algs = 0;
	cfg->sha256_first = false;
	bool first = true;
	for (char *t = strtok_r(algs, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (!strcasecmp(t, "MD5")) {
			cfg->algs |= SFP_ALG_MD5;
		} else if (!strcasecmp(t, "SHA-256")) {
			cfg->algs |= SFP_ALG_SHA256;
			cfg->sha256_first |= first;
		} else {
			snprintf(err, errlen, "algorithms: '%s' is neither MD5 nor SHA-256", t);
			return -1;
		}
		first = false;
	}
	if (!cfg->algs) {
		snprintf(err, errlen, "algorithms: name at least one of MD5, SHA-256");
		return -1;
	}
	return 0;
}

int sfp_logic_set_uri_check(struct sfp_logic_cfg *cfg, const char *v, char *err, size_t errlen)
{
	/* yes/no: the boolean this key was before "host" became the default */
	if (!strcasecmp(v, "host"))
		cfg->check_uri = SFP_URI_HOST;
	else if (!strcasecmp(v, "strict") || !strcasecmp(v, "yes"))
		cfg->check_uri = SFP_URI_STRICT;
	else if (!strcasecmp(v, "no"))
		cfg->check_uri = SFP_URI_OFF;
	else {
		snprintf(err, errlen, "check_digest_uri: '%s' is none of host, strict, no", v);
		return -1;
	}
	return 0;
}

static void authenticate(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
			 uint32_t now, bool ctl_ok, sfp_cred_lookup_fn lookup, void *lctx,
			 struct sfp_decision *d)
{
	bool proxy = m->method != SFP_M_REGISTER;
	struct sfp_digest_cred c;

	if (!find_cred(cfg, proxy ? m->pauthz : m->authz, proxy ? m->n_pauthz : m->n_authz, &c)) {
		challenge(d, proxy, false);
		return;
	}
	switch (sfp_nonce_check(&cfg->keys, c.nonce, now)) {
	case SFP_NONCE_OK:
		break;
	case SFP_NONCE_STALE:
		d->auth_counter = SFP_CNT_AUTH_NONCE_STALE;
		challenge(d, proxy, true);
		d->counter = SFP_CNT_REPLY_STALE;
		return;
	case SFP_NONCE_FORGED:
	case SFP_NONCE_MALFORMED:
		d->auth_counter = SFP_CNT_AUTH_NONCE_FORGED;
		challenge(d, proxy, false);
		return;
	}
	if (!sfp_digest_alg(&c) || !(sfp_digest_alg(&c) & cfg->algs)) {
		d->auth_counter = SFP_CNT_AUTH_UNSUPPORTED;
		challenge(d, proxy, false);
		return;
	}
	/* RFC 2617 3.2.2.5: the digest must be for this Request-URI */
	if (cfg->check_uri != SFP_URI_OFF &&
	    !uri_same_target(c.uri, m->ruri, cfg->check_uri == SFP_URI_STRICT)) {
		d->auth_counter = SFP_CNT_AUTH_FAIL;
		reply(d, 400, "Digest URI Does Not Match Request-URI", SFP_CNT_REPLY_400);
		return;
	}
	const struct sfp_ha1 *ha1 = NULL;
	if (c.username.n > 0 && c.username.n < SFP_USER_MAX && lookup)
		ha1 = lookup(lctx, c.username);
	switch (sfp_digest_verify(&c, m->method_name, ha1, cfg->algs)) {
	case SFP_AUTH_OK:
		break;
	case SFP_AUTH_UNSUPPORTED:
		d->auth_counter = SFP_CNT_AUTH_UNSUPPORTED;
		challenge(d, proxy, false);
		return;
	case SFP_AUTH_FAIL:
		/* unknown user and wrong password get the same 403, byte for
		 * byte (the To-tag depends only on the request), so users
		 * cannot be enumerated */
		d->auth_counter = SFP_CNT_AUTH_FAIL;
		reply(d, 403, "Forbidden", SFP_CNT_REPLY_403);
		d->user = c.username; /* for the brute-force count per user */
		return;
	}
	d->auth_counter = SFP_CNT_AUTH_OK;
	d->user = c.username;
	d->rx_flags |= SFP_RXF_AUTH_OK;
	handoff_or_503(cfg, m, ctl_ok, d);
	if (d->act == SFP_ACT_HANDOFF && m->method == SFP_M_INVITE)
		d->flags |= SFP_D_TRYING;
}

static void decide(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m, enum sfp_scan_err err,
		   uint32_t now, bool ctl_ok, sfp_cred_lookup_fn lookup, void *lookup_ctx, bool peer,
		   struct sfp_decision *d);

void sfp_decide(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
		enum sfp_scan_err err, uint32_t now, bool ctl_ok,
		sfp_cred_lookup_fn lookup, void *lookup_ctx, struct sfp_decision *d)
{
	decide(cfg, m, err, now, ctl_ok, lookup, lookup_ctx, false, d);
}

void sfp_decide_peer(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m, enum sfp_scan_err err,
		     uint32_t now, bool ctl_ok, sfp_cred_lookup_fn lookup, void *lookup_ctx,
		     struct sfp_decision *d)
{
	decide(cfg, m, err, now, ctl_ok, lookup, lookup_ctx, true, d);
}

static void decide(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m, enum sfp_scan_err err,
		   uint32_t now, bool ctl_ok, sfp_cred_lookup_fn lookup, void *lookup_ctx, bool peer,
		   struct sfp_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->auth_counter = SFP_CNT_MAX;

	if (err == SFP_SE_EMPTY) {
		drop(d, SFP_CNT_SIP_KEEPALIVE);
		return;
	}
	if (!m->request) {
		if (err != SFP_SE_OK) {
			drop(d, SFP_CNT_SIP_BAD_RESPONSE);
			return;
		}
		d->rx_flags = SFP_RXF_RESPONSE;
		if (ctl_ok) {
			d->act = SFP_ACT_HANDOFF;
			d->counter = SFP_CNT_HANDOFF;
		} else {
			drop(d, SFP_CNT_SIP_NO_CTL);
		}
		return;
	}
	if (err != SFP_SE_OK) {
		/* RFC 3261 21.4.1: say what is wrong; without a Via there is
		 * nobody to answer, and an ACK is never answered */
		uint16_t st = sfp_scan_err_status(err);
		if (!st || m->n_via == 0 || m->method == SFP_M_ACK)
			drop(d, SFP_CNT_SIP_UNPARSEABLE);
		else
			reply(d, st, sfp_scan_err_reason(err), counter_for(st));
		return;
	}

	bool in_dialog = m->to_tag.p != NULL;

	if (m->method == SFP_M_ACK) {
		char tag[SFP_TAG_LEN];
		if (in_dialog && m->to_tag.n == SFP_TAG_LEN) {
			sfp_tag_make(&cfg->keys, m->call_id, m->from_tag, m->top_via.branch, tag);
			if (memcmp(tag, m->to_tag.p, SFP_TAG_LEN) == 0) {
				d->act = SFP_ACT_ABSORB;
				d->counter = SFP_CNT_ACK_ABSORBED;
				return;
			}
		}
		d->rx_flags = in_dialog ? SFP_RXF_IN_DIALOG : 0;
		handoff_or_503(cfg, m, ctl_ok, d);
		return;
	}

	/* RFC 3261 16.3 step 2 / 8.2.2.1 */
	if (!scheme_supported(m->ruri_parts.scheme)) {
		reply(d, 416, "Unsupported URI Scheme", SFP_CNT_REPLY_416);
		return;
	}

	bool self = m->method == SFP_M_OPTIONS && to_self(cfg, m);
	bool registrar = m->method == SFP_M_REGISTER && !in_dialog;

	/* 16.3 step 3: a request we would forward with no hops left */
	if (m->max_forwards == 0 && !self && !registrar) {
		reply(d, 483, "Too Many Hops", SFP_CNT_REPLY_483);
		return;
	}

	if (in_dialog) {
		d->rx_flags = SFP_RXF_IN_DIALOG;
		handoff_or_503(cfg, m, ctl_ok, d);
		return;
	}

	/* 16.3 step 5: we support no extension as a proxy; 8.2.2.3 as the UAS
	 * of REGISTER and of OPTIONS to ourselves, likewise for Require */
	if (m->proxy_require.p && !self && !registrar) {
		reply(d, 420, "Bad Extension", SFP_CNT_REPLY_420);
		d->flags |= SFP_D_UNSUPPORTED;
		d->unsupported = m->proxy_require;
		return;
	}
	if (m->require.p && (self || registrar)) {
		reply(d, 420, "Bad Extension", SFP_CNT_REPLY_420);
		d->flags |= SFP_D_UNSUPPORTED;
		d->unsupported = m->require;
		return;
	}

	if (self) {
		reply(d, 200, "OK", SFP_CNT_REPLY_OPTIONS);
		d->flags |= SFP_D_ALLOW;
		return;
	}
	/* CANCEL cannot be challenged (RFC 3261 22.1): it matches a pending
	 * INVITE transaction, which lives in the control process */
	if (m->method == SFP_M_CANCEL) {
		handoff_or_503(cfg, m, ctl_ok, d);
		return;
	}
	/* another node of this service (peers): it authenticated the caller
	 * and sends the INVITE on to the node that holds the callee's
	 * registration (RFC 3261 26.3.2.2: hop-by-hop trust between proxies
	 * of one domain); REGISTER is never taken from a peer unchallenged */
	if (peer && m->method != SFP_M_REGISTER) {
		d->rx_flags |= SFP_RXF_PEER;
		handoff_or_503(cfg, m, ctl_ok, d);
		if (d->act == SFP_ACT_HANDOFF && m->method == SFP_M_INVITE)
			d->flags |= SFP_D_TRYING;
		return;
	}
	authenticate(cfg, m, now, ctl_ok, lookup, lookup_ctx, d);
}

/* ---- replies ----------------------------------------------------------- */

void sfp_ip4_fmt(uint32_t addr_be, char out[16])
{
	const uint8_t *b = (const uint8_t *)&addr_be;
	char *o = out;
	for (int k = 0; k < 4; k++) {
		unsigned v = b[k];
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = k < 3 ? '.' : '\0';
	}
}

void sfp_reply_dest(const struct sfp_sip *m, uint16_t src_port, uint16_t *dst_port)
{
	if (!m->top_via_ok || m->top_via.rport)
		*dst_port = src_port;
	else
		*dst_port = m->top_via.port ? m->top_via.port : 5060;
}

static void put_challenge(struct sfp_wbuf *w, const struct sfp_logic_cfg *cfg,
			  const struct sfp_decision *d, const char *nonce, uint8_t alg)
{
	sfp_puts(w, (d->flags & SFP_D_PROXY) ? "Proxy-Authenticate: Digest realm=\"" :
					    "WWW-Authenticate: Digest realm=\"");
	sfp_put(w, cfg->keys.realm, cfg->keys.realm_len);
	sfp_puts(w, "\", nonce=\"");
	sfp_put(w, nonce, SFP_NONCE_LEN);
	sfp_puts(w, alg == SFP_ALG_SHA256 ? "\", algorithm=SHA-256" : "\", algorithm=MD5");
	if (cfg->qop)
		sfp_puts(w, ", qop=\"auth\"");
	if (d->flags & SFP_D_STALE)
		sfp_puts(w, ", stale=true");
	sfp_puts(w, "\r\n");
}

/* Via: every value, in order; one per line is equivalent (7.3.1).  The
 * top one records where the request really came from (18.2.1, RFC 3581 4). */
void sfp_put_vias(struct sfp_wbuf *w, const struct sfp_sip *m, uint32_t src_ip, uint16_t src_port)
{
	char ip[16];

	sfp_ip4_fmt(src_ip, ip);
	for (uint32_t i = 0; i < m->n_via; i++) {
		sfp_puts(w, "Via: ");
		if (i == 0 && m->top_via_ok) {
			const struct sfp_via *v = &m->top_via;
			if (v->rport && !v->rport_has_value) {
				sfp_put(w, v->value.p, v->rport_end);
				sfp_puts(w, "=");
				sfp_putu(w, src_port);
				sfp_put(w, v->value.p + v->rport_end, v->value.n - v->rport_end);
			} else {
				sfp_putstr(w, v->value);
			}
			if (!v->received.p && (v->rport || !sfp_str_ieq(v->host, ip))) {
				sfp_puts(w, ";received=");
				sfp_puts(w, ip);
			}
		} else {
			sfp_putstr(w, m->via[i]);
		}
		sfp_puts(w, "\r\n");
	}
}

size_t sfp_reply_build(char *out, size_t cap, const struct sfp_logic_cfg *cfg,
		       const struct sfp_sip *m, const struct sfp_decision *d,
		       const struct sfp_reply_ctx *rc)
{
	struct sfp_wbuf w = { out, 0, cap, false };

	sfp_puts(&w, "SIP/2.0 ");
	sfp_putu(&w, d->code);
	sfp_puts(&w, " ");
	sfp_puts(&w, d->reason);
	sfp_puts(&w, "\r\n");

	sfp_put_vias(&w, m, rc->src_ip, rc->src_port);
	if (m->from.p) {
		sfp_puts(&w, "From: ");
		sfp_putstr(&w, m->from);
		sfp_puts(&w, "\r\n");
	}
	if (m->to.p) {
		sfp_puts(&w, "To: ");
		sfp_putstr(&w, m->to);
		/* 8.2.6.2: a tag on every response but 100 */
		if (!m->to_tag.p && d->code > 100) {
			char tag[SFP_TAG_LEN];
			sfp_tag_make(&cfg->keys, m->call_id, m->from_tag, m->top_via.branch, tag);
			sfp_puts(&w, ";tag=");
			sfp_put(&w, tag, SFP_TAG_LEN);
		}
		sfp_puts(&w, "\r\n");
	}
	if (m->call_id.p) {
		sfp_puts(&w, "Call-ID: ");
		sfp_putstr(&w, m->call_id);
		sfp_puts(&w, "\r\n");
	}
	if (m->cseq.p) {
		sfp_puts(&w, "CSeq: ");
		sfp_putstr(&w, m->cseq);
		sfp_puts(&w, "\r\n");
	}
	if (d->flags & SFP_D_CHALLENGE) {
		/* RFC 8760 2.4: one header per algorithm, preferred first */
		uint8_t first = cfg->sha256_first ? SFP_ALG_SHA256 : SFP_ALG_MD5;
		uint8_t second = first == SFP_ALG_SHA256 ? SFP_ALG_MD5 : SFP_ALG_SHA256;
		if (cfg->algs & first)
			put_challenge(&w, cfg, d, rc->nonce, first);
		if (cfg->algs & second)
			put_challenge(&w, cfg, d, rc->nonce, second);
	}
	if (d->flags & SFP_D_UNSUPPORTED) {
		sfp_puts(&w, "Unsupported: ");
		sfp_putstr(&w, d->unsupported);
		sfp_puts(&w, "\r\n");
	}
	if (d->flags & SFP_D_RETRY_AFTER) {
		sfp_puts(&w, "Retry-After: ");
		sfp_putu(&w, cfg->retry_after);
		sfp_puts(&w, "\r\n");
	}
	if (d->flags & SFP_D_ALLOW)
		sfp_puts(&w, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO\r\n"
			  "Accept: application/sdp\r\n");
	if (d->extra)
		sfp_puts(&w, d->extra);
	sfp_puts(&w, "Server: sipfp\r\nContent-Length: 0\r\n\r\n");
	return w.full ? 0 : w.n;
}

int sfp_logic_from_config(struct sfp_logic_cfg *l, const struct sfp_config *c, const char *addr,
			  const uint8_t *secret, size_t secret_len, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	sfp_auth_keys_init(&l->keys, secret, secret_len, (const uint8_t *)c->nonce_secret_prev,
			   strlen(c->nonce_secret_prev), c->nonce_lifetime, c->realm);
	if (sfp_logic_set_algs(l, c->algorithms, err, errlen) < 0 ||
	    sfp_logic_set_uri_check(l, c->check_digest_uri, err, errlen) < 0)
		return -1;
	l->qop = c->qop;
	l->retry_after = c->retry_after;
	l->sip_port = (uint16_t)c->sip_port;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	snprintf(l->domain, sizeof(l->domain), "%s", c->domain);
	return 0;
}
