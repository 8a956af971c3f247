/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the scanner, the stateless decision, every reply
 * builder, the digest parser, the admission parsers, the SDP reader and
 * rewriter of media anchoring (libosip2 underneath) and the RTP
 * statistics, on arbitrary bytes.
 * Built with clang -fsanitize=fuzzer,address,undefined by tests/fuzz/run.sh.
 *
 * The input is copied into a buffer of exactly its size, so any read past
 * the end is an ASan report (the guard-page test of the unit suite, on
 * every input the fuzzer invents).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "rtp_stats.h"
#include "sdp.h"
#include "sip_logic.h"
#include "sip_stream.h"
#include "sipfp/shm.h"
#include "wbuf.h"

static struct sfp_logic_cfg cfg;
static struct sfp_ha1 alice;
static char nonce[SFP_NONCE_LEN + 1];
static char out[SFP_SIP_MAX + 1];
static const uint32_t now = 1700000000;

static const struct sfp_ha1 *lookup(void *ctx, struct sfp_str user)
{
	(void)ctx;
	return user.n == 5 && !memcmp(user.p, "alice", 5) ? &alice : NULL;
}

static void init(void)
{
	const uint8_t secret[] = "fuzz-secret-0123456789";
	sfp_auth_keys_init(&cfg.keys, secret, sizeof(secret), NULL, 0, 300, "sipfp");
	cfg.algs = SFP_ALG_MD5 | SFP_ALG_SHA256;
	cfg.sha256_first = true;
	cfg.qop = true;
	cfg.check_uri = SFP_URI_HOST;
	cfg.retry_after = 5;
	cfg.sip_port = 5060;
	strcpy(cfg.addr, "10.77.0.2");
	sfp_ha1_from_password(&alice, cfg.algs, "alice", "sipfp", "wonderland");
	sfp_nonce_make(&cfg.keys, now, 1, nonce);
}

/* every reply the fast path can build, for a message the scanner took */
static void build_all(const struct sfp_sip *m, const struct sfp_reply_ctx *rc)
{
	static const struct { uint16_t code; const char *reason; uint32_t flags; } r[] = {
		{ 100, "Trying", 0 },
		{ 200, "OK", SFP_D_ALLOW },
		{ 400, "Bad Request", 0 },
		{ 401, "Unauthorized", SFP_D_CHALLENGE },
		{ 407, "Proxy Authentication Required", SFP_D_CHALLENGE | SFP_D_PROXY | SFP_D_STALE },
		{ 403, "Forbidden", 0 },
		{ 420, "Bad Extension", SFP_D_UNSUPPORTED },
		{ 483, "Too Many Hops", 0 },
		{ 503, "Service Unavailable", SFP_D_RETRY_AFTER },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct sfp_decision d = { .act = SFP_ACT_REPLY, .code = r[i].code,
					  .reason = r[i].reason, .flags = r[i].flags,
					  .unsupported = m->require, .counter = SFP_CNT_MAX,
					  .auth_counter = SFP_CNT_MAX };
		size_t n = sfp_reply_build(out, sizeof(out), &cfg, m, &d, rc);
		if (n > sizeof(out))
			abort();
		/* and into a buffer too small for it: must refuse, not overflow */
		(void)sfp_reply_build(out, 64 + (m->msg_len & 511), &cfg, m, &d, rc);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		init();
		ready = 1;
	}
	if (size > SFP_SIP_MAX)
		return 0;
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);

	struct sfp_sip m;
	struct sfp_decision d;
	struct sfp_reply_ctx rc = { .src_ip = 0x0100000a, .src_port = 5062, .nonce = nonce };
	enum sfp_scan_err err = sfp_scan(buf, size, &m);
	if (m.msg_len > size)
		abort();
	sfp_decide(&cfg, &m, err, now, (size & 1) != 0, lookup, NULL, &d);
	if (d.act == SFP_ACT_REPLY && !sfp_reply_build(out, sizeof(out), &cfg, &m, &d, &rc))
		(void)0; /* too big to answer: the data plane counts it */
	if (d.act != SFP_ACT_REPLY)
		(void)sfp_decide_overload(&cfg, &m, &d);
	if (err == SFP_SE_OK && m.n_via)
		build_all(&m, &rc);

	for (uint32_t i = 0; i < m.n_authz && i < SFP_MAX_AUTH; i++) {
		struct sfp_digest_cred c;
		if (sfp_digest_parse(m.authz[i], &c) == 1)
			(void)sfp_digest_verify(&c, m.method_name, lookup(NULL, c.username), cfg.algs);
	}
	uint16_t port;
	sfp_reply_dest(&m, 5062, &port);

	/* the same bytes as a TCP/TLS stream (RFC 3261 18.3 framing): every
	 * length it tells stays within the input and the limit */
	for (size_t off = 0, lim = 1024 + (size & 0xfff); off < size;) {
		size_t n;
		enum sfp_frame f = sfp_frame(buf + off, size - off, lim, &n);
		if (n > size - off || (f == SFP_FR_MSG && n > lim))
			abort();
		if (f != SFP_FR_MSG && f != SFP_FR_PING && f != SFP_FR_PONG)
			break;
		off += n;
	}

#ifdef FUZZ_SDP
	/* the body as SDP, as the control process reads and rewrites it;
	 * the whole input too, for bodies the scanner never gets to.  CI
	 * sets FUZZ_SDP: control/sdp.c checks RFC 4566's grammar before
	 * libosip2 5.3, whose parser reads out of bounds on malformed lines;
	 * 45 minutes (18.7 M inputs) found nothing past the check */
	static char sdp_out[16384];
	static const uint16_t ports[SDP_MAX_STREAMS] = { 20000, 20004, 20008, 20012,
							 20016, 20020, 20024, 20028 };
	struct sdp_info si;
	size_t sn;
	struct sfp_str body = err == SFP_SE_OK && m.body.n ? m.body : (struct sfp_str){ buf, size };
	if (sdp_read(body.p, body.n, &si) == SDP_OK && si.n > SDP_MAX_STREAMS)
		abort();
	if (sdp_write(body.p, body.n, "10.77.0.2", ports, SDP_MAX_STREAMS, sdp_out, sizeof(sdp_out),
		      &sn) == SDP_OK && sn > sizeof(sdp_out))
		abort();
#endif
	/* the RTP header of a relayed packet */
	static struct sfp_media_stats ms;
	sfp_rtp_stats(&ms, data, (uint32_t)size, (uint16_t)(size & 0x7f), (uint64_t)size * 20000);

	/* admission parsers take NUL-terminated operator text */
	char text[128];
	size_t tn = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, tn);
	text[tn] = 0;
	uint32_t ip;
	uint8_t len;
	(void)sfp_cidr_parse(text, &ip, &len);
	(void)sfp_hostport_parse(text, &ip, &port);
	static struct sfp_ua_list ua;
	char e[128];
	if (sfp_ua_parse(&ua, text, e, sizeof(e)) == 0)
		(void)sfp_ua_match(&ua, buf, size);

	free(buf);
	return 0;
}
