/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmocka tests for the stateless decisions and the reply builders, and the
 * RFC 4475 / RFC 5118 torture corpus: every message gets the answer its RFC
 * expects (tests/corpus/, with its sources and licences).
 */
#define OPENSSL_API_COMPAT 10101
#include <openssl/md5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>

#include "guard.h"
#include "sip_logic.h"
#include "sipfp/config.h"
#include "sipfp/counters.h"
#include "sipfp/shm.h"

static struct guard G;
static struct sfp_logic_cfg CFG;
static struct sfp_ha1 ALICE;
static const uint32_t NOW = 1700000000;
static char NONCE[SFP_NONCE_LEN + 1];

static const struct sfp_ha1 *lookup(void *ctx, struct sfp_str user)
{
	(void)ctx;
	if (user.n == 5 && memcmp(user.p, "alice", 5) == 0)
		return &ALICE;
	return NULL;
}

static int setup(void **st)
{
	(void)st;
	memset(&CFG, 0, sizeof(CFG));
	const uint8_t secret[] = "unit-test-secret";
	sfp_auth_keys_init(&CFG.keys, secret, sizeof(secret), NULL, 0, 300, "sipfp");
	CFG.algs = SFP_ALG_MD5 | SFP_ALG_SHA256;
	CFG.sha256_first = true;
	CFG.qop = true;
	CFG.check_uri = SFP_URI_STRICT;
	CFG.retry_after = 5;
	CFG.sip_port = 5060;
	snprintf(CFG.addr, sizeof(CFG.addr), "10.77.0.2");
	sfp_ha1_from_password(&ALICE, SFP_ALG_MD5 | SFP_ALG_SHA256, "alice", "sipfp", "wonderland");
	sfp_nonce_make(&CFG.keys, NOW, 1, NONCE);
	return 0;
}

struct result {
	struct sfp_sip m;
	struct sfp_decision d;
	enum sfp_scan_err err;
	char reply[4096];
	size_t reply_len;
};

static void run(const char *msg, size_t len, bool ctl_ok, struct result *r)
{
	const char *p = guard_put(&G, msg, len);
	r->err = sfp_scan(p, len, &r->m);
	sfp_decide(&CFG, &r->m, r->err, NOW, ctl_ok, lookup, NULL, &r->d);
	r->reply_len = 0;
	if (r->d.act == SFP_ACT_REPLY) {
		struct sfp_reply_ctx rc = { .src_ip = htonl(0x0a4d0001), .src_port = 5062, .nonce = NONCE };
		r->reply_len = sfp_reply_build(r->reply, sizeof(r->reply) - 1, &CFG, &r->m, &r->d, &rc);
		assert_true(r->reply_len > 0);
		r->reply[r->reply_len] = '\0';
	}
}

static void run_s(const char *msg, bool ctl_ok, struct result *r)
{
	run(msg, strlen(msg), ctl_ok, r);
}

/* ---- the corpus ------------------------------------------------------------ */

#define HANDOFF (-1)
#define DROP    (-2)
#define ABSORB  (-3)

struct expect { const char *file; int outcome; const char *why; };

static const struct expect corpus[] = {
	/* RFC 4475 3.1.1: valid messages, processed normally */
	{ "rfc4475/wsinv.dat",    HANDOFF, "3.1.1.1 valid; its To has a tag, so it is routed in-dialog" },
	{ "rfc4475/intmeth.dat",  407, "3.1.1.2 valid unknown method, proxied: challenged" },
	{ "rfc4475/esc01.dat",    407, "3.1.1.3 valid escapes" },
	{ "rfc4475/escnull.dat",  401, "3.1.1.4 valid REGISTER with escaped NULs" },
	{ "rfc4475/esc02.dat",    407, "3.1.1.5 valid; % not an escape in the method" },
	{ "rfc4475/lwsdisp.dat",  407, "3.1.1.6 valid display name without LWS" },
	{ "rfc4475/longreq.dat",  407, "3.1.1.7 valid long values" },
	{ "rfc4475/dblreq.dat",   401, "3.1.1.8 valid; octets past Content-Length ignored" },
	{ "rfc4475/semiuri.dat",  407, "3.1.1.9 valid ';' in the user part" },
	{ "rfc4475/transports.dat", 407, "3.1.1.10 valid unknown transports in Via" },
	{ "rfc4475/mpart01.dat",  407, "3.1.1.11 valid multipart body" },
	{ "rfc4475/unreason.dat", HANDOFF, "3.1.1.12 valid response, unusual reason" },
	{ "rfc4475/noreason.dat", HANDOFF, "3.1.1.13 valid response, empty reason" },
	/* RFC 4475 3.1.2: invalid messages */
	{ "rfc4475/badinv01.dat", 400, "3.1.2.1 extraneous separators" },
	{ "rfc4475/clerr.dat",    400, "3.1.2.2 Content-Length larger than message" },
	{ "rfc4475/ncl.dat",      400, "3.1.2.3 negative Content-Length" },
	{ "rfc4475/scalar02.dat", 400, "3.1.2.4 overlarge CSeq" },
	{ "rfc4475/scalarlg.dat", DROP, "3.1.2.5 response with overlarge values: dropped" },
	{ "rfc4475/quotbal.dat",  400, "3.1.2.6 unterminated quoted string" },
	{ "rfc4475/ltgtruri.dat", 400, "3.1.2.7 <> around the Request-URI" },
	{ "rfc4475/lwsruri.dat",  400, "3.1.2.8 LWS in the Request-URI" },
	{ "rfc4475/lwsstart.dat", 400, "3.1.2.9 several SP in the Request-Line" },
	{ "rfc4475/trws.dat",     400, "3.1.2.10 SP at the end of the Request-Line" },
	{ "rfc4475/escruri.dat",  400, "3.1.2.11 escaped headers in the Request-URI" },
	{ "rfc4475/baddate.dat",  407, "3.1.2.12 bad Date: may be ignored, which we do" },
	{ "rfc4475/regbadct.dat", 400, "3.1.2.13 name-addr URI not in <>" },
	{ "rfc4475/badaspec.dat", 400, "3.1.2.14 spaces within addr-spec" },
	{ "rfc4475/baddn.dat",    400, "3.1.2.15 non-token display name" },
	{ "rfc4475/badvers.dat",  505, "3.1.2.16 unknown protocol version" },
	{ "rfc4475/mismatch01.dat", 400, "3.1.2.17 CSeq method mismatch" },
	{ "rfc4475/mismatch02.dat", 400, "3.1.2.18 unknown method, CSeq mismatch" },
	{ "rfc4475/bigcode.dat",  DROP, "3.1.2.19 overlarge response code: dropped" },
	/* RFC 4475 3.2, 3.3: transaction and application layer */
	{ "rfc4475/badbranch.dat", 407, "3.2.1 branch is only the magic cookie: still processed" },
	{ "rfc4475/insuf.dat",    400, "3.3.1 missing required headers" },
	{ "rfc4475/unkscm.dat",   416, "3.3.2 unknown Request-URI scheme" },
	{ "rfc4475/novelsc.dat",  416, "3.3.3 known but atypical scheme we do not support" },
	{ "rfc4475/unksm2.dat",   401, "3.3.4 unknown schemes in other headers are fine" },
	{ "rfc4475/bext01.dat",   420, "3.3.5 Proxy-Require of unsupported extensions" },
	{ "rfc4475/invut.dat",    407, "3.3.6 unknown body type: a proxy does not look (16.3)" },
	{ "rfc4475/regaut01.dat", 401, "3.3.7 unknown authorization scheme: challenged" },
	{ "rfc4475/multi01.dat",  400, "3.3.8 several values in single-value headers" },
	{ "rfc4475/mcl01.dat",    400, "3.3.9 several Content-Length values" },
	{ "rfc4475/bcast.dat",    HANDOFF, "3.3.10 response; the routing layer must not send it to broadcast" },
	{ "rfc4475/zeromf.dat",   483, "3.3.11 Max-Forwards 0" },
	{ "rfc4475/cparam01.dat", 401, "3.3.12 Contact parameters" },
	{ "rfc4475/cparam02.dat", 401, "3.3.13 Contact parameters" },
	{ "rfc4475/regescrt.dat", 401, "3.3.14 escaped headers in a Contact in <>" },
	{ "rfc4475/sdp01.dat",    407, "3.3.15 Accept the UAS cannot meet: a proxy does not look" },
	{ "rfc4475/inv2543.dat",  407, "3.4.1 RFC 2543 style INVITE" },
	/* RFC 5118 */
	{ "rfc5118/ipv6-good",    401, "4.1 valid IPv6 reference" },
	{ "rfc5118/port-ambiguous", 401, "4.2 valid, the port is part of the address" },
	{ "rfc5118/port-unambiguous", 401, "4.2 valid" },
	{ "rfc5118/ipv6-bad",     400, "4.3 unbracketed IPv6 Request-URI" },
	{ "rfc5118/ipv6-bug-abnf-3-colons", 407, "4.4 accepted for robustness" },
	{ "rfc5118/ipv6-correct-abnf-2-colons", 407, "4.4 valid" },
	{ "rfc5118/via-received-param-with-delim", HANDOFF, "4.5 valid, in-dialog BYE" },
	{ "rfc5118/via-received-param-no-delim", 407, "4.5 valid" },
	{ "rfc5118/mult-ip-in-header", HANDOFF, "4.6 valid, in-dialog BYE" },
	{ "rfc5118/mult-ip-in-sdp", 407, "4.7 valid" },
	{ "rfc5118/ipv4-mapped-ipv6", 407, "4.8 valid" },
	{ "rfc5118/ipv6-in-sdp",  407, "4.9 valid" },
};

static int outcome(const struct result *r)
{
	switch (r->d.act) {
	case SFP_ACT_HANDOFF: return HANDOFF;
	case SFP_ACT_DROP: return DROP;
	case SFP_ACT_ABSORB: return ABSORB;
	case SFP_ACT_REPLY: return r->d.code;
	}
	return 0;
}

static void t_corpus(void **st)
{
	(void)st;
	char path[4096];
	unsigned bad = 0;
	assert_int_equal(sizeof(corpus) / sizeof(corpus[0]), 49 + 12);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), corpus[i].file);
		size_t len = 0;
		char *buf = slurp(path, &len);
		if (!buf)
			fail_msg("cannot read %s", path);
		struct result *r = malloc(sizeof(*r));
		run(buf, len, true, r);
		int got = outcome(r);
		if (got != corpus[i].outcome) {
			print_error("%s: got %d want %d (%s); scan=%s\n", corpus[i].file, got,
				    corpus[i].outcome, corpus[i].why, sfp_scan_err_reason(r->err));
			bad++;
		}
		/* every reply to a well-formed request must itself be a
		 * well-formed response matching it; a 400 copies the faulty
		 * headers (8.2.6), so it is only checked for its status line */
		if (r->d.act == SFP_ACT_REPLY && r->err != SFP_SE_OK &&
		    strncmp(r->reply, "SIP/2.0 ", 8) != 0) {
			print_error("%s: bad status line\n", corpus[i].file);
			bad++;
		}
		if (r->d.act == SFP_ACT_REPLY && r->err == SFP_SE_OK) {
			struct sfp_sip rm;
			enum sfp_scan_err e = sfp_scan(r->reply, r->reply_len, &rm);
			if (e != SFP_SE_OK || rm.request || rm.status != r->d.code) {
				print_error("%s: reply does not parse (%s):\n%s\n", corpus[i].file,
					    sfp_scan_err_reason(e), r->reply);
				bad++;
			} else if (r->m.call_id.p && !sfp_str_eq(rm.call_id, r->m.call_id)) {
				print_error("%s: reply Call-ID differs\n", corpus[i].file);
				bad++;
			}
		}
		free(r);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- the reference flow, steps 1-5 ---------------------------------------- */

static const char *invite_fmt =
	"INVITE sip:1000@10.77.0.2 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.77.0.1:5062;branch=%s;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Contact: <sip:alice@10.77.0.1:5062>\r\n"
	"To: <sip:1000@10.77.0.2>%s\r\n"
	"From: \"alice\" <sip:alice@10.77.0.2>;tag=f2698931\r\n"
	"Call-ID: call-1@10.77.0.1\r\n"
	"CSeq: %s\r\n"
	"%s"
	"Content-Length: 0\r\n\r\n";

static void header_value(const char *reply, const char *name, char *out, size_t n)
{
	const char *p = strstr(reply, name);
	assert_non_null(p);
	p += strlen(name);
	const char *e = strstr(p, "\r\n");
	size_t l = (size_t)(e - p);
	assert_true(l < n);
	memcpy(out, p, l);
	out[l] = '\0';
}



static void test_md5_response(const struct sfp_ha1 *h, const char *nonce, const char *method,
		       const char *uri, char *out)
{
	char ha1[33], ha2[33], buf[512];
	uint8_t d[16];
	sfp_hex(h->md5, 16, ha1);
	snprintf(buf, sizeof(buf), "%s:%s", method, uri);
	MD5((const uint8_t *)buf, strlen(buf), d);
	sfp_hex(d, 16, ha2);
	snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
	MD5((const uint8_t *)buf, strlen(buf), d);
	sfp_hex(d, 16, out);
}

static void proxy_auth(char *out, size_t n, const char *user, const char *nonce,
		       const char *uri, const char *method, const struct sfp_ha1 *h)
{
	/* a valid MD5 response computed independently of sip_auth.c */
	char resp[33] = { 0 };
	test_md5_response(h, nonce, method, uri, resp);
	snprintf(out, n, "Proxy-Authorization: Digest username=\"%s\", realm=\"sipfp\", "
		 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5\r\n",
		 user, nonce, uri, resp);
}

/* the digest uri rules (RFC 2617 3.2.2.5) in each mode of check_digest_uri */
static int uri_outcome(uint8_t mode, const char *uri)
{
	char msg[4096], auth[1024];
	struct result r;
	uint8_t saved = CFG.check_uri;
	CFG.check_uri = mode;
	proxy_auth(auth, sizeof(auth), "alice", NONCE, uri, "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-uri", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	CFG.check_uri = saved;
	return r.d.act == SFP_ACT_HANDOFF ? HANDOFF : r.d.code;
}

static void t_digest_uri_modes(void **st)
{
	(void)st;
	/* the Request-URI is sip:1000@10.77.0.2 */
	assert_int_equal(uri_outcome(SFP_URI_STRICT, "sip:1000@10.77.0.2"), HANDOFF);
	assert_int_equal(uri_outcome(SFP_URI_STRICT, "sip:1000@10.77.0.2:5060"), HANDOFF);
	assert_int_equal(uri_outcome(SFP_URI_STRICT, "sip:10.77.0.2"), 400);
	/* host: SIPp's INVITE digest uri has no user part */
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:10.77.0.2"), HANDOFF);
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:10.77.0.2:5060"), HANDOFF);
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:1000@10.77.0.2"), HANDOFF);
	/* ... but another user, host, port or scheme is still refused */
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:1001@10.77.0.2"), 400);
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:10.77.0.3"), 400);
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sip:10.77.0.2:5070"), 400);
	assert_int_equal(uri_outcome(SFP_URI_HOST, "sips:10.77.0.2:5060"), 400);
	assert_int_equal(uri_outcome(SFP_URI_OFF, "sip:1001@elsewhere"), HANDOFF);
}

/* the embedded defaults are what SIPp and baresip 1.0 accept: MD5 alone
 * (both give up on a challenge set naming another algorithm first or at
 * all) and a digest uri matched by host */
static void t_defaults(void **st)
{
	(void)st;
	struct sfp_config c;
	struct sfp_logic_cfg l;
	char err[256];
	memset(&l, 0, sizeof(l));
	sfp_config_defaults(&c);
	assert_int_equal(sfp_logic_set_algs(&l, c.algorithms, err, sizeof(err)), 0);
	assert_int_equal(sfp_logic_set_uri_check(&l, c.check_digest_uri, err, sizeof(err)), 0);
	assert_int_equal(l.algs, SFP_ALG_MD5);
	assert_false(l.sha256_first);
	assert_int_equal(l.check_uri, SFP_URI_HOST);
	/* the opt-ins and the old boolean spellings */
	assert_int_equal(sfp_logic_set_algs(&l, "SHA-256,MD5", err, sizeof(err)), 0);
	assert_int_equal(l.algs, SFP_ALG_MD5 | SFP_ALG_SHA256);
	assert_true(l.sha256_first);
	assert_int_equal(sfp_logic_set_algs(&l, "MD5, SHA-256", err, sizeof(err)), 0);
	assert_false(l.sha256_first);
	assert_int_equal(sfp_logic_set_algs(&l, "SHA-512", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SHA-512"));
	assert_int_equal(sfp_logic_set_algs(&l, "", err, sizeof(err)), -1);
	assert_int_equal(sfp_logic_set_uri_check(&l, "yes", err, sizeof(err)), 0);
	assert_int_equal(l.check_uri, SFP_URI_STRICT);
	assert_int_equal(sfp_logic_set_uri_check(&l, "no", err, sizeof(err)), 0);
	assert_int_equal(l.check_uri, SFP_URI_OFF);
	assert_int_equal(sfp_logic_set_uri_check(&l, "loose", err, sizeof(err)), -1);

	/* with MD5 alone the challenge carries exactly one header */
	struct sfp_logic_cfg saved = CFG;
	CFG.algs = l.algs = SFP_ALG_MD5;
	CFG.sha256_first = false;
	struct result r;
	char msg[4096];
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-def", "", "1 INVITE", "");
	run_s(msg, true, &r);
	CFG = saved;
	assert_int_equal(r.d.code, 407);
	const char *h = strstr(r.reply, "Proxy-Authenticate:");
	assert_non_null(h);
	assert_null(strstr(h + 1, "Proxy-Authenticate:"));
	assert_null(strstr(r.reply, "SHA-256"));
	assert_non_null(strstr(h, "algorithm=MD5"));
}

static void t_reference_flow(void **st)
{
	(void)st;
	char msg[4096], hdr[1024], tag[256], nonce[256], auth[1024];
	struct result r;

	/* 1-2: INVITE without credentials -> 407, To-tag, both algorithms */
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-1", "", "1 INVITE", "");
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_REPLY);
	assert_int_equal(r.d.code, 407);
	assert_non_null(strstr(r.reply, "SIP/2.0 407 Proxy Authentication Required\r\n"));
	assert_non_null(strstr(r.reply, "Via: SIP/2.0/UDP 10.77.0.1:5062;branch=z9hG4bK-1;rport=5062;received=10.77.0.1\r\n"));
	assert_non_null(strstr(r.reply, "Proxy-Authenticate: Digest realm=\"sipfp\", nonce=\""));
	assert_non_null(strstr(r.reply, "algorithm=SHA-256, qop=\"auth\"\r\n"));
	assert_non_null(strstr(r.reply, "algorithm=MD5, qop=\"auth\"\r\n"));
	assert_true(strstr(r.reply, "algorithm=SHA-256") < strstr(r.reply, "algorithm=MD5"));
	header_value(r.reply, "To: <sip:1000@10.77.0.2>;tag=", tag, sizeof(tag));
	header_value(r.reply, "nonce=\"", nonce, sizeof(nonce));
	*strchr(nonce, '"') = '\0';
	assert_string_equal(nonce, NONCE);

	/* the same request again (a retransmission) gets the same tag */
	char first[4096];
	memcpy(first, r.reply, r.reply_len + 1);
	run_s(msg, true, &r);
	assert_string_equal(first, r.reply);

	/* 3: the ACK to the 407 is absorbed */
	snprintf(hdr, sizeof(hdr), ";tag=%s", tag);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-1", hdr, "1 ACK", "");
	memcpy(msg, "ACK   ", 6);
	memmove(msg + 3, msg + 6, strlen(msg + 6) + 1);
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_ABSORB);
	assert_int_equal(r.d.counter, SFP_CNT_ACK_ABSORBED);
	/* an ACK with another tag is not ours: it goes to the control process */
	char *tp = strstr(msg, ";tag=sfp");
	tp[8] = tp[8] == '0' ? '1' : '0';
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_HANDOFF);

	/* 4-5: INVITE with credentials -> hand-off, then 100 Trying */
	proxy_auth(auth, sizeof(auth), "alice", nonce, "sip:1000@10.77.0.2", "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-2", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_HANDOFF);
	assert_true(r.d.flags & SFP_D_TRYING);
	assert_true(r.d.rx_flags & SFP_RXF_AUTH_OK);
	assert_int_equal(r.d.auth_counter, SFP_CNT_AUTH_OK);
	assert_int_equal(r.d.user.n, 5);
	/* the 100 Trying itself: no To-tag (8.2.6.2) */
	struct sfp_decision t = { .act = SFP_ACT_REPLY, .code = 100, .reason = "Trying" };
	struct sfp_reply_ctx rc = { .src_ip = htonl(0x0a4d0001), .src_port = 5062, .nonce = NONCE };
	char out[2048];
	size_t n = sfp_reply_build(out, sizeof(out) - 1, &CFG, &r.m, &t, &rc);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "SIP/2.0 100 Trying\r\n"));
	assert_non_null(strstr(out, "To: <sip:1000@10.77.0.2>\r\n"));
	assert_non_null(strstr(out, "CSeq: 2 INVITE\r\n"));

	/* without a control process: 503 with Retry-After, never 100 */
	run_s(msg, false, &r);
	assert_int_equal(r.d.code, 503);
	assert_false(r.d.flags & SFP_D_TRYING);
	assert_non_null(strstr(r.reply, "Retry-After: 5\r\n"));
	/* and a full ring turns a hand-off into the same 503 */
	run_s(msg, true, &r);
	assert_true(sfp_decide_overload(&CFG, &r.m, &r.d));
	assert_int_equal(r.d.code, 503);

	/* in-dialog requests carrying stale credentials of another realm (steps
	 * 13 and 15 of the capture) are routed without a challenge */
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-3", ";tag=callee-tag", "3 BYE",
		 "Proxy-Authorization: Digest username=\"alice\",realm=\"ASG Switch\",nonce=\"1dbb0165\","
		 "uri=\"sip:1000@10.77.0.2\",response=\"eb3a7e40a4797c2e7b549a6c30d2d091\",algorithm=MD5\r\n");
	memcpy(msg, "BYE   ", 6);
	memmove(msg + 3, msg + 6, strlen(msg + 6) + 1);
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_HANDOFF);
	assert_true(r.d.rx_flags & SFP_RXF_IN_DIALOG);
}

static void t_wrong_and_unknown_identical(void **st)
{
	(void)st;
	char msg[4096], auth[1024], a[4096], b[4096];
	struct sfp_ha1 wrong;
	struct result r;

	sfp_ha1_from_password(&wrong, SFP_ALG_MD5, "alice", "sipfp", "guess");
	proxy_auth(auth, sizeof(auth), "alice", NONCE, "sip:1000@10.77.0.2", "INVITE", &wrong);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-9", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 403);
	assert_int_equal(r.d.auth_counter, SFP_CNT_AUTH_FAIL);
	memcpy(a, r.reply, r.reply_len + 1);

	proxy_auth(auth, sizeof(auth), "mallory", NONCE, "sip:1000@10.77.0.2", "INVITE", &wrong);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-9", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 403);
	memcpy(b, r.reply, r.reply_len + 1);
	assert_string_equal(a, b);
	assert_null(strstr(a, "100 Trying"));
}

static void t_stale_and_forged(void **st)
{
	(void)st;
	char msg[4096], auth[1024], old[SFP_NONCE_LEN + 1] = { 0 };
	struct result r;

	sfp_nonce_make(&CFG.keys, NOW - 301, 2, old);
	proxy_auth(auth, sizeof(auth), "alice", old, "sip:1000@10.77.0.2", "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-5", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 407);
	assert_non_null(strstr(r.reply, "stale=true"));
	assert_int_equal(r.d.auth_counter, SFP_CNT_AUTH_NONCE_STALE);

	old[20] = old[20] == 'a' ? 'b' : 'a';
	sfp_nonce_make(&CFG.keys, NOW, 3, old);
	old[31] = old[31] == '0' ? '1' : '0';
	proxy_auth(auth, sizeof(auth), "alice", old, "sip:1000@10.77.0.2", "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-5", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 407);
	assert_null(strstr(r.reply, "stale=true"));
	assert_int_equal(r.d.auth_counter, SFP_CNT_AUTH_NONCE_FORGED);

	/* the same target with the default port written out is the same URI */
	proxy_auth(auth, sizeof(auth), "alice", NONCE, "sip:1000@10.77.0.2:5060", "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-6", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_HANDOFF);

	/* digest for another Request-URI */
	proxy_auth(auth, sizeof(auth), "alice", NONCE, "sip:2000@10.77.0.2", "INVITE", &ALICE);
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-6", "", "2 INVITE", auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 400);
}

static void t_register_and_options(void **st)
{
	(void)st;
	struct result r;
	char msg[2048], auth[1024];
	const char *reg =
		"REGISTER sip:10.77.0.2 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.77.0.1:5070;branch=z9hG4bKr1\r\n"
		"Max-Forwards: 70\r\nTo: <sip:alice@10.77.0.2>\r\nFrom: <sip:alice@10.77.0.2>;tag=r\r\n"
		"Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.77.0.1:5070>\r\n%s"
		"Expires: 3600\r\nContent-Length: 0\r\n\r\n";
	snprintf(msg, sizeof(msg), reg, "");
	run_s(msg, true, &r);
	assert_int_equal(r.d.code, 401);
	assert_non_null(strstr(r.reply, "WWW-Authenticate: Digest realm=\"sipfp\""));
	assert_null(strstr(r.reply, "Proxy-Authenticate"));
	/* no rport: the reply goes to the Via port, received added */
	if (!strstr(r.reply, "Via: SIP/2.0/UDP 10.77.0.1:5070;branch=z9hG4bKr1\r\n"))
		fail_msg("%s", r.reply);
	uint16_t port;
	sfp_reply_dest(&r.m, 40000, &port);
	assert_int_equal(port, 5070);

	proxy_auth(auth, sizeof(auth), "alice", NONCE, "sip:10.77.0.2", "REGISTER", &ALICE);
	memcpy(auth, "Authorization:      ", 20);
	memmove(auth + 14, auth + 20, strlen(auth + 20) + 1);
	snprintf(msg, sizeof(msg), reg, auth);
	run_s(msg, true, &r);
	assert_int_equal(r.d.act, SFP_ACT_HANDOFF);
	assert_false(r.d.flags & SFP_D_TRYING);

	const char *opt =
		"OPTIONS sip:10.77.0.2 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.77.0.1:5070;branch=z9hG4bKo1\r\n"
		"Max-Forwards: 0\r\nTo: <sip:10.77.0.2>\r\nFrom: <sip:k@10.77.0.1>;tag=o\r\n"
		"Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	run_s(opt, false, &r);
	assert_int_equal(r.d.code, 200);
	assert_non_null(strstr(r.reply, "Allow: INVITE"));
	assert_int_equal(r.d.counter, SFP_CNT_REPLY_OPTIONS);

	/* challenges work with no control process */
	snprintf(msg, sizeof(msg), reg, "");
	run_s(msg, false, &r);
	assert_int_equal(r.d.code, 401);
}

/* from another node (peers): an INVITE without credentials is handed off
 * marked SFP_RXF_PEER with 100 Trying; a REGISTER is still challenged;
 * bad syntax still gets its 400 */
static void t_peer(void **st)
{
	(void)st;
	struct sfp_decision d;
	struct sfp_sip m;
	static const char inv[] =
		"INVITE sip:bob@10.77.0.1:5072 SIP/2.0\r\nVia: SIP/2.0/UDP 10.79.0.2:5060;branch=z9hG4bKp1\r\n"
		"Max-Forwards: 69\r\nFrom: <sip:alice@10.79.0.2>;tag=p\r\nTo: <sip:bob@10.79.0.2>\r\n"
		"Call-ID: peer-1\r\nCSeq: 1 INVITE\r\nContact: <sip:10.79.0.2:5060>\r\nContent-Length: 0\r\n\r\n";
	enum sfp_scan_err e = sfp_scan(inv, strlen(inv), &m);
	sfp_decide_peer(&CFG, &m, e, NOW, true, lookup, NULL, &d);
	assert_int_equal(d.act, SFP_ACT_HANDOFF);
	assert_true(d.rx_flags & SFP_RXF_PEER);
	assert_false(d.rx_flags & SFP_RXF_AUTH_OK);
	assert_true(d.flags & SFP_D_TRYING);
	sfp_decide(&CFG, &m, e, NOW, true, lookup, NULL, &d); /* not a peer: challenged */
	assert_int_equal(d.code, 407);
	static const char reg[] =
		"REGISTER sip:10.77.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.79.0.2:5060;branch=z9hG4bKp2\r\n"
		"Max-Forwards: 70\r\nTo: <sip:alice@10.77.0.2>\r\nFrom: <sip:alice@10.77.0.2>;tag=r\r\n"
		"Call-ID: peer-2\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.79.0.2>\r\nContent-Length: 0\r\n\r\n";
	e = sfp_scan(reg, strlen(reg), &m);
	sfp_decide_peer(&CFG, &m, e, NOW, true, lookup, NULL, &d);
	assert_int_equal(d.code, 401);
	static const char bad[] = "INVITE sip:bob@10.77.0.1 SIP/2.0\r\nMax-Forwards: 70\r\n"
				  "Via: SIP/2.0/UDP 10.79.0.2:5060;branch=z9hG4bKp3\r\nContent-Length: 0\r\n\r\n";
	e = sfp_scan(bad, strlen(bad), &m);
	sfp_decide_peer(&CFG, &m, e, NOW, true, lookup, NULL, &d);
	assert_int_equal(d.act, SFP_ACT_REPLY);
	assert_int_equal(d.code, 400);
}

static void t_reply_too_small(void **st)
{
	(void)st;
	struct result r;
	char msg[2048];
	snprintf(msg, sizeof(msg), invite_fmt, "z9hG4bK-1", "", "1 INVITE", "");
	run_s(msg, true, &r);
	struct sfp_reply_ctx rc = { .src_ip = htonl(0x0a4d0001), .src_port = 5062, .nonce = NONCE };
	for (size_t cap = 0; cap < r.reply_len; cap++)
		assert_int_equal(sfp_reply_build(r.reply, cap, &CFG, &r.m, &r.d, &rc), 0);
}

static void t_ip4_fmt(void **st)
{
	(void)st;
	const char *v[] = { "0.0.0.0", "10.77.0.2", "255.255.255.255", "192.168.100.9", "1.20.199.100" };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct in_addr a;
		char out[16];
		assert_int_equal(inet_pton(AF_INET, v[i], &a), 1);
		sfp_ip4_fmt(a.s_addr, out);
		assert_string_equal(out, v[i]);
	}
}

int main(void)
{
	guard_init(&G, 128 * 1024);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_corpus),
		cmocka_unit_test(t_peer),
		cmocka_unit_test(t_reference_flow),
		cmocka_unit_test(t_digest_uri_modes),
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_wrong_and_unknown_identical),
		cmocka_unit_test(t_stale_and_forged),
		cmocka_unit_test(t_register_and_options),
		cmocka_unit_test(t_reply_too_small),
		cmocka_unit_test(t_ip4_fmt),
	};
	int r = cmocka_run_group_tests_name("logic", tests, setup, NULL);
	guard_free(&G);
	return r;
}
