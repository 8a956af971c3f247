/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for the SIP scanner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>

#include "guard.h"
#include "sip_scan.h"

static struct guard G;

#define S(lit) (struct sfp_str){ lit, sizeof(lit) - 1 }

static bool str_is(struct sfp_str s, const char *lit)
{
	return s.p && s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static enum sfp_scan_err scan_lit(const char *txt, struct sfp_sip *m)
{
	const char *p = guard_put(&G, txt, strlen(txt));
	return sfp_scan(p, strlen(txt), m);
}

/* the reference capture's authenticated INVITE (step 4), spaces restored */
static const char ref_invite[] =
	"INVITE sip:1000@192.168.50.34 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.168.50.32:2445;branch=z9hG4bK-d8754z-344b5a077e1cc11e-1---d8754z-;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Contact: <sip:1002@192.168.50.32:2445>\r\n"
	"To: <sip:1000@192.168.50.34>\r\n"
	"From: \"1002\"<sip:1002@192.168.50.34>;tag=f2698931\r\n"
	"Call-ID: OTUzZGM2MzQ2ODZkM2Q0NTczOTgxZDhlOWY5MjA3ODU.\r\n"
	"CSeq: 2 INVITE\r\n"
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n"
	"Content-Type: application/sdp\r\n"
	"Proxy-Authorization: Digest username=\"1002\",realm=\"soft3000\",nonce=\"1dbb0165\",uri=\"sip:1000@192.168.50.34\",response=\"eb3a7e40a4797c2e7b549a6c30d2d091\",algorithm=MD5\r\n"
	"Supported: replaces\r\n"
	"User-Agent: Bria Professional release 2.4 stamp 49381\r\n"
	"Content-Length: 10\r\n"
	"\r\n"
	"v=0\r\no=- 1";

static void t_reference_invite(void **st)
{
	(void)st;
	struct sfp_sip m;
	assert_int_equal(scan_lit(ref_invite, &m), SFP_SE_OK);
	assert_true(m.request);
	assert_int_equal(m.method, SFP_M_INVITE);
	assert_true(str_is(m.ruri, "sip:1000@192.168.50.34"));
	assert_true(str_is(m.ruri_parts.user, "1000"));
	assert_true(str_is(m.ruri_parts.host, "192.168.50.34"));
	assert_int_equal(m.n_via, 1);
	assert_true(m.top_via_ok);
	assert_true(str_is(m.top_via.transport, "UDP"));
	assert_true(str_is(m.top_via.host, "192.168.50.32"));
	assert_int_equal(m.top_via.port, 2445);
	assert_true(m.top_via.rport);
	assert_false(m.top_via.rport_has_value);
	assert_true(str_is(m.top_via.branch, "z9hG4bK-d8754z-344b5a077e1cc11e-1---d8754z-"));
	assert_true(str_is(m.from_tag, "f2698931"));
	assert_null(m.to_tag.p);
	assert_true(str_is(m.call_id, "OTUzZGM2MzQ2ODZkM2Q0NTczOTgxZDhlOWY5MjA3ODU."));
	assert_int_equal(m.cseq_num, 2);
	assert_true(str_is(m.cseq_method, "INVITE"));
	assert_int_equal(m.max_forwards, 70);
	assert_int_equal(m.content_length, 10);
	assert_true(str_is(m.body, "v=0\r\no=- 1"));
	assert_int_equal(m.n_pauthz, 1);

	struct sfp_digest_cred c;
	assert_int_equal(sfp_digest_parse(m.pauthz[0], &c), 1);
	assert_true(str_is(c.username, "1002"));
	assert_true(str_is(c.realm, "soft3000"));
	assert_true(str_is(c.nonce, "1dbb0165"));
	assert_true(str_is(c.uri, "sip:1000@192.168.50.34"));
	assert_true(str_is(c.response, "eb3a7e40a4797c2e7b549a6c30d2d091"));
	assert_true(str_is(c.algorithm, "MD5"));
	assert_null(c.qop.p);
}

static void t_compact_and_folding(void **st)
{
	(void)st;
	struct sfp_sip m;
	const char *msg =
		"OPTIONS sip:10.77.0.2 SIP/2.0\r\n"
		"v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP / 2.0 / UDP\r\n"
		"  b.example.com:5070 ;branch=z9hG4bK2\r\n"
		"V:SIP/2.0/TCP c.example.com;branch=z9hG4bK3\r\n"
		"f: <sip:a@example.com>\r\n ;tag=abc\r\n"
		"t: sip:b@example.com\r\n"
		"i: cid-1@host\r\n"
		"CSEQ: 7\r\n\tOPTIONS\r\n"
		"mAx-FoRwArDs: 0068\r\n"
		"m: <sip:a@1.2.3.4>\r\n"
		"l: 0\r\n"
		"\r\n";
	assert_int_equal(scan_lit(msg, &m), SFP_SE_OK);
	assert_int_equal(m.n_via, 3);
	assert_true(str_is(m.top_via.host, "a.example.com"));
	assert_true(str_is(m.via[2], "SIP/2.0/TCP c.example.com;branch=z9hG4bK3"));
	assert_true(str_is(m.from_tag, "abc"));
	assert_true(str_is(m.call_id, "cid-1@host"));
	assert_int_equal(m.cseq_num, 7);
	assert_true(str_is(m.cseq_method, "OPTIONS"));
	assert_int_equal(m.max_forwards, 68);
	assert_int_equal(m.content_length, 0);
	struct sfp_via v;
	assert_int_equal(sfp_via_parse(m.via[1], &v), 0);
	assert_true(str_is(v.host, "b.example.com"));
	assert_int_equal(v.port, 5070);
	assert_true(str_is(v.branch, "z9hG4bK2"));
}

static void t_response(void **st)
{
	(void)st;
	struct sfp_sip m;
	const char *msg =
		"SIP/2.0 180 Ringing\r\n"
		"Via: SIP/2.0/UDP 10.77.0.2;branch=z9hG4bKx\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
		"Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(scan_lit(msg, &m), SFP_SE_OK);
	assert_false(m.request);
	assert_int_equal(m.status, 180);
	assert_true(str_is(m.reason, "Ringing"));
	assert_true(str_is(m.to_tag, "2"));
}

struct bad { const char *msg; enum sfp_scan_err err; };

static void t_malformed(void **st)
{
	(void)st;
	const char *H = "Via: SIP/2.0/UDP h;branch=z9hG4bKa\r\nFrom: <sip:a@h>;tag=1\r\n"
			"To: <sip:b@h>\r\nCall-ID: x\r\n";
	char buf[2048];
	static const struct bad cases[] = {
		{ "", SFP_SE_EMPTY },
		{ "\r\n\r\n", SFP_SE_EMPTY },
		{ "INVITE sip:a@h SIP/2.0", SFP_SE_BAD_START_LINE },
		{ "INVITE sip:a@h SIP/3.0\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_VERSION },
		{ "INVITE sip:a@h SIP/2.0 \r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_REQUEST_LINE },
		{ "INVITE  sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_REQUEST_LINE },
		{ "INVITE <sip:a@h> SIP/2.0\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_RURI },
		{ "INVITE sip:a@h?x=y SIP/2.0\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_RURI_HEADERS },
		{ "INVITE sip:2001:db8::1 SIP/2.0\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_RURI },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nNoColon\r\n\r\n", SFP_SE_BAD_HEADER },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nX: aZb\r\n\r\n", SFP_SE_NUL_IN_HEADER },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 BYE\r\n\r\n", SFP_SE_CSEQ_MISMATCH },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 2147483648 INVITE\r\n\r\n", SFP_SE_BAD_CSEQ },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: INVITE\r\n\r\n", SFP_SE_BAD_CSEQ },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nMax-Forwards: 256\r\n\r\n", SFP_SE_BAD_MAXFWD },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nl: -1\r\n\r\n", SFP_SE_BAD_CLEN },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nl: 5\r\n\r\nab", SFP_SE_CLEN_TOO_BIG },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nl: 0\r\nl: 0\r\n\r\n", SFP_SE_DUP_CLEN },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nCall-ID: y\r\n\r\n", SFP_SE_DUP_CALLID },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nTo: <sip:c@h>\r\n\r\n", SFP_SE_DUP_TO },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP h;;\r\n\r\n", SFP_SE_BAD_VIA },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\nContact: sip:a@h?x=1\r\n\r\n", SFP_SE_BAD_CONTACT },
		{ "INVITE sip:a@h SIP/2.0\r\n%sCSeq: 1 INVITE\r\n", SFP_SE_TRUNCATED },
		{ "SIP/2.0 1000 Big\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_STATUS },
		{ "SIP/2.0 99 Small\r\n%sCSeq: 1 INVITE\r\n\r\n", SFP_SE_BAD_STATUS },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sfp_sip m;
		/* the NUL case needs its explicit length */
		const char *fmt = cases[i].msg;
		int n;
		if (strstr(fmt, "%s"))
			n = snprintf(buf, sizeof(buf), fmt, H);
		else
			n = snprintf(buf, sizeof(buf), "%s", fmt);
		size_t len = (size_t)n;
		if (cases[i].err == SFP_SE_NUL_IN_HEADER)
			*strstr(buf, "aZb") = '\0';
		enum sfp_scan_err e = sfp_scan(guard_put(&G, buf, len), len, &m);
		if (e != cases[i].err)
			fail_msg("case %zu: got %d want %d (%s)", i, e, cases[i].err, fmt);
	}
	/* a missing Via cannot be answered; its error says so */
	assert_int_equal(sfp_scan_err_status(SFP_SE_MISSING_VIA), 0);
	assert_int_equal(sfp_scan_err_status(SFP_SE_BAD_VERSION), 505);
	assert_string_equal(sfp_scan_err_reason(SFP_SE_MISSING_CALLID), "Missing Call-ID Header");
}

static void t_too_many_via(void **st)
{
	(void)st;
	char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "OPTIONS sip:a@h SIP/2.0\r\n");
	for (int i = 0; i < SFP_MAX_VIA + 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d\r\n", i, i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
	struct sfp_sip m;
	assert_int_equal(sfp_scan(guard_put(&G, buf, n), n, &m), SFP_SE_TOO_MANY_VIA);
	assert_int_equal(m.n_via, SFP_MAX_VIA);
}

/* every prefix of a valid message, ending at the guard page: no read past
 * the end, and never "OK" for a message cut inside its body or headers */
static void t_truncation_every_byte(void **st)
{
	(void)st;
	size_t len = strlen(ref_invite);
	for (size_t n = 0; n < len; n++) {
		struct sfp_sip m;
		enum sfp_scan_err e = sfp_scan(guard_put(&G, ref_invite, n), n, &m);
		if (e == SFP_SE_OK)
			fail_msg("prefix of %zu bytes accepted", n);
	}
}

/* every corpus message, whole and cut at every byte, at the guard page */
static void t_corpus_guard(void **st)
{
	(void)st;
	const char *sub[] = { "rfc4475", "rfc5118" };
	char path[4096];
	unsigned files = 0;
	for (int s = 0; s < 2; s++) {
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), sub[s]);
		DIR *d = opendir(path);
		assert_non_null(d);
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", corpus_dir(), sub[s], e->d_name);
			size_t len = 0;
			char *buf = slurp(path, &len);
			assert_non_null(buf);
			for (size_t n = 0; n <= len; n++) {
				struct sfp_sip m;
				(void)sfp_scan(guard_put(&G, buf, n), n, &m);
			}
			free(buf);
			files++;
		}
		closedir(d);
	}
	assert_int_equal(files, 49 + 12);
}

static void t_uri(void **st)
{
	(void)st;
	struct sfp_uri_parts u;
	assert_int_equal(sfp_uri_parse(S("sip:[2001:db8::10]:5070"), &u), 0);
	assert_true(str_is(u.host, "[2001:db8::10]"));
	assert_int_equal(u.port, 5070);
	assert_int_equal(sfp_uri_parse(S("sip:[2001:db8::10:5070]"), &u), 0);
	assert_int_equal(u.port, 0);
	assert_int_equal(sfp_uri_parse(S("sip:user;par=u%40example.net@example.com"), &u), 0);
	assert_true(str_is(u.user, "user;par=u%40example.net"));
	assert_int_equal(sfp_uri_parse(S("sip:a@h:99999"), &u), -1);
	assert_int_equal(sfp_uri_parse(S("sip:a@h;;x"), &u), -1);
	assert_int_equal(sfp_uri_parse(S("sip:a@h?subject=x"), &u), 1);
	assert_int_equal(sfp_uri_parse(S("sip:a b@h"), &u), -1);
	/* RFC 3261 25.1: "%" HEXDIG HEXDIG, nothing else, not cut short */
	assert_int_equal(sfp_uri_parse(S("sip:%ZZ@h"), &u), -1);
	assert_int_equal(sfp_uri_parse(S("sip:a%4@h"), &u), -1);
	assert_int_equal(sfp_uri_parse(S("sip:a@h;x=%4"), &u), -1);
	assert_int_equal(sfp_uri_parse(S("sip:a%4a@h"), &u), 0);
}

static void t_start_line_cut(void **st)
{
	(void)st;
	struct sfp_sip m;
	/* counted as a request (unanswerable) or as a response by what it is */
	assert_int_equal(sfp_scan("INVITE sip:a@h SIP/2.0", 22, &m), SFP_SE_BAD_START_LINE);
	assert_true(m.request);
	assert_int_equal(sfp_scan("SIP/2.0 200 OK", 14, &m), SFP_SE_BAD_START_LINE);
	assert_false(m.request);
}

static void t_nameaddr(void **st)
{
	(void)st;
	struct sfp_str tag;
	assert_int_equal(sfp_nameaddr_check(S("\"A \\\"B\\\"\" <sip:a@h>;tag=x1"), &tag), 0);
	assert_true(str_is(tag, "x1"));
	assert_int_equal(sfp_nameaddr_check(S("sip:a@h ;  tag  =  y2"), &tag), 0);
	assert_true(str_is(tag, "y2"));
	assert_int_equal(sfp_nameaddr_check(S("caller<sip:a@h>"), &tag), 0);
	assert_null(tag.p);
	assert_int_equal(sfp_nameaddr_check(S("\"unterminated <sip:a@h>"), &tag), -1);
	assert_int_equal(sfp_nameaddr_check(S("Bell, Alexander <sip:a@h>"), &tag), -1);
	assert_int_equal(sfp_nameaddr_check(S("< sip:a@h >"), &tag), -1);
	assert_int_equal(sfp_nameaddr_check(S("<sip:a@h"), &tag), -1);
	assert_int_equal(sfp_nameaddr_check(S("<sip:a@h>;;"), &tag), -1);
}

static void t_digest_parse(void **st)
{
	(void)st;
	struct sfp_digest_cred c;
	assert_int_equal(sfp_digest_parse(S("Basic dXNlcjpwYXNz"), &c), 0);
	assert_int_equal(sfp_digest_parse(S("Digest username=\"a\", realm=\"r\""), &c), -1);
	assert_int_equal(sfp_digest_parse(S("Digest username=\"a\", realm=\"r\", nonce=\"n\", "
					     "uri=\"sip:x\", response=\"00\", qop=auth, nc=00000001, "
					     "cnonce=\"c\", algorithm=SHA-256"), &c), 1);
	assert_true(str_is(c.qop, "auth"));
	assert_true(str_is(c.nc, "00000001"));
	assert_true(str_is(c.algorithm, "SHA-256"));
	assert_int_equal(sfp_digest_parse(S("Digest username=\"a"), &c), -1);
	assert_int_equal(sfp_digest_parse(S("Digest username"), &c), -1);
}

/* The NUL search is done once per datagram and resumed header by header:
 * a NUL in the body, an escaped one (RFC 4475 3.1.1.2) followed by a bare
 * one further down, and a bare one after several escaped ones. */
static void t_nul_positions(void **st)
{
	(void)st;
	static const struct {
		const char *msg; /* '#' stands for a NUL octet */
		enum sfp_scan_err err;
	} cases[] = {
		{ "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@h>;tag=1\r\n"
		  "To: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nl: 3\r\n\r\na#b", SFP_SE_OK },
		{ "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: \"a\\#\" <sip:a@h>;tag=1\r\n"
		  "To: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n", SFP_SE_OK },
		{ "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: \"a\\#\" <sip:a@h>;tag=1\r\n"
		  "To: <sip:b@h>\r\nCall-ID: x\r\nX: y#\r\nCSeq: 1 OPTIONS\r\n\r\n", SFP_SE_NUL_IN_HEADER },
		{ "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: \"\\#\\#\" <sip:a@h>;tag=1\r\n"
		  "To: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nY: #\r\nl: 1\r\n\r\n#", SFP_SE_NUL_IN_HEADER },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[512];
		size_t len = strlen(cases[i].msg);
		memcpy(buf, cases[i].msg, len);
		for (size_t k = 0; k < len; k++)
			if (buf[k] == '#')
				buf[k] = '\0';
		struct sfp_sip m;
		enum sfp_scan_err e = sfp_scan(guard_put(&G, buf, len), len, &m);
		if (e != cases[i].err)
			fail_msg("case %zu: got %d want %d", i, e, cases[i].err);
	}
}

int main(void)
{
	guard_init(&G, 128 * 1024);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_reference_invite),
		cmocka_unit_test(t_compact_and_folding),
		cmocka_unit_test(t_response),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_too_many_via),
		cmocka_unit_test(t_truncation_every_byte),
		cmocka_unit_test(t_corpus_guard),
		cmocka_unit_test(t_uri),
		cmocka_unit_test(t_start_line_cut),
		cmocka_unit_test(t_nameaddr),
		cmocka_unit_test(t_digest_parse),
		cmocka_unit_test(t_nul_positions),
	};
	int r = cmocka_run_group_tests_name("scanner", tests, NULL, NULL);
	guard_free(&G);
	return r;
}
