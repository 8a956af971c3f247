/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for digest computation, nonces and tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sip_auth.h"

#define S(lit) (struct sfp_str){ lit, sizeof(lit) - 1 }

static struct sfp_digest_cred cred(const char *user, const char *realm, const char *nonce,
				   const char *uri, const char *resp, const char *alg,
				   const char *qop, const char *nc, const char *cnonce)
{
	struct sfp_digest_cred c;
	memset(&c, 0, sizeof(c));
#define F(f, v) if (v) c.f = (struct sfp_str){ v, (uint32_t)strlen(v) }
	F(username, user); F(realm, realm); F(nonce, nonce); F(uri, uri);
	F(response, resp); F(algorithm, alg); F(qop, qop); F(nc, nc); F(cnonce, cnonce);
#undef F
	return c;
}

/* RFC 2617 3.5 */
static void t_rfc2617_example(void **st)
{
	(void)st;
	struct sfp_ha1 h;
	sfp_ha1_from_password(&h, SFP_ALG_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life");
	struct sfp_digest_cred c = cred("Mufasa", "testrealm@host.com",
		"dcd98b7102dd2f0e8b11d0f600bfb0c093", "/dir/index.html",
		"6629fae49393a05397450978507c4ef1", NULL, "auth", "00000001", "0a4f113b");
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5), SFP_AUTH_OK);
	/* upper-case hex is the same response */
	c.response = S("6629FAE49393A05397450978507C4EF1");
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5), SFP_AUTH_OK);
	c.response = S("6629fae49393a05397450978507c4ef0");
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5), SFP_AUTH_FAIL);
	c.response = S("6629fae49393a05397450978507c4e");
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5), SFP_AUTH_FAIL);
}

/* RFC 7616 3.9.1, both algorithms */
static void t_rfc7616_example(void **st)
{
	(void)st;
	struct sfp_ha1 h;
	sfp_ha1_from_password(&h, SFP_ALG_MD5 | SFP_ALG_SHA256, "Mufasa",
			      "http-auth@example.org", "Circle of Life");
	const char *n = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	const char *cn = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	struct sfp_digest_cred c = cred("Mufasa", "http-auth@example.org", n, "/dir/index.html",
		"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
		"SHA-256", "auth", "00000001", cn);
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5 | SFP_ALG_SHA256), SFP_AUTH_OK);
	/* not offered: unsupported, not a failure */
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5), SFP_AUTH_UNSUPPORTED);
	c = cred("Mufasa", "http-auth@example.org", n, "/dir/index.html",
		 "8ca523f5e9506fed4657c9700eebdbec", "MD5", "auth", "00000001", cn);
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5 | SFP_ALG_SHA256), SFP_AUTH_OK);
	c.algorithm = S("MD5-sess");
	assert_int_equal(sfp_digest_verify(&c, S("GET"), &h, SFP_ALG_MD5 | SFP_ALG_SHA256), SFP_AUTH_UNSUPPORTED);
}

/* the reference capture's shape: user 1002, realm soft3000, nonce 1dbb0165,
 * no qop (RFC 2617 without qop); the capture's password is unknown, so the
 * expected values were computed independently (Python hashlib) for
 * password "secret1002" */
static void t_reference_shape(void **st)
{
	(void)st;
	struct sfp_ha1 h;
	char hex[65];
	sfp_ha1_from_password(&h, SFP_ALG_MD5, "1002", "soft3000", "secret1002");
	sfp_hex(h.md5, 16, hex);
	assert_string_equal(hex, "fab410cc2ced85c4982abcb93634073c");
	struct sfp_digest_cred c = cred("1002", "soft3000", "1dbb0165", "sip:1000@192.168.50.34",
		"a70814c6f6fdcba21cf0805167fd6bdb", "MD5", NULL, NULL, NULL);
	assert_int_equal(sfp_digest_verify(&c, S("INVITE"), &h, SFP_ALG_MD5), SFP_AUTH_OK);
	/* the same digest for another method is not valid */
	assert_int_equal(sfp_digest_verify(&c, S("BYE"), &h, SFP_ALG_MD5), SFP_AUTH_FAIL);
	/* unknown user: same computation against a dummy key, FAIL */
	assert_int_equal(sfp_digest_verify(&c, S("INVITE"), NULL, SFP_ALG_MD5), SFP_AUTH_FAIL);
	/* qop=auth without nc/cnonce is malformed */
	c.qop = S("auth");
	assert_int_equal(sfp_digest_verify(&c, S("INVITE"), &h, SFP_ALG_MD5), SFP_AUTH_FAIL);
	c.qop = S("auth-int");
	assert_int_equal(sfp_digest_verify(&c, S("INVITE"), &h, SFP_ALG_MD5), SFP_AUTH_UNSUPPORTED);
}

static void t_hex(void **st)
{
	(void)st;
	uint8_t b[4];
	assert_int_equal(sfp_unhex("0aFf1234", 8, b, 4), 0);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(sfp_unhex("0aFf12", 6, b, 4), -1);
	assert_int_equal(sfp_unhex("0aFg1234", 8, b, 4), -1);
}

static void t_nonce(void **st)
{
	(void)st;
	struct sfp_auth_keys k, k2, krot, other_realm;
	const uint8_t s1[] = "first secret", s2[] = "second secret";
	char n[SFP_NONCE_LEN];
	struct sfp_str ns = { n, SFP_NONCE_LEN };

	sfp_auth_keys_init(&k, s1, sizeof(s1), NULL, 0, 300, "sipfp");
	sfp_nonce_make(&k, 1000000, 7, n);
	assert_int_equal(sfp_nonce_check(&k, ns, 1000000), SFP_NONCE_OK);
	assert_int_equal(sfp_nonce_check(&k, ns, 1000300), SFP_NONCE_OK);
	assert_int_equal(sfp_nonce_check(&k, ns, 1000301), SFP_NONCE_STALE);
	/* issued "in the future": forged */
	assert_int_equal(sfp_nonce_check(&k, ns, 999000), SFP_NONCE_FORGED);

	/* any bit flipped in the MAC or the time: forged */
	for (int i = 2; i < SFP_NONCE_LEN; i++) {
		char save = n[i];
		n[i] = n[i] == '0' ? '1' : '0';
		enum sfp_nonce_res r = sfp_nonce_check(&k, ns, 1000001);
		assert_true(r == SFP_NONCE_FORGED || r == SFP_NONCE_STALE);
		if (i >= 2 && i < 10)
			assert_true(r == SFP_NONCE_FORGED || r == SFP_NONCE_STALE);
		n[i] = save;
	}
	assert_int_equal(sfp_nonce_check(&k, (struct sfp_str){ n, 31 }, 1000000), SFP_NONCE_MALFORMED);
	assert_int_equal(sfp_nonce_check(&k, S("1dbb0165"), 1000000), SFP_NONCE_MALFORMED);

	/* another node with the same secret accepts it */
	sfp_auth_keys_init(&k2, s1, sizeof(s1), NULL, 0, 300, "sipfp");
	assert_int_equal(sfp_nonce_check(&k2, ns, 1000010), SFP_NONCE_OK);

	/* after a rotation, the old key's nonces are stale, not forged */
	sfp_auth_keys_init(&krot, s2, sizeof(s2), s1, sizeof(s1), 300, "sipfp");
	assert_int_equal(sfp_nonce_check(&krot, ns, 1000010), SFP_NONCE_STALE);
	/* and a node that only knows the new key calls it stale too: the
	 * key fingerprint is not its own */
	sfp_auth_keys_init(&k2, s2, sizeof(s2), NULL, 0, 300, "sipfp");
	if (k2.cur.fp != k.cur.fp)
		assert_int_equal(sfp_nonce_check(&k2, ns, 1000010), SFP_NONCE_STALE);

	/* a nonce is bound to its realm */
	sfp_auth_keys_init(&other_realm, s1, sizeof(s1), NULL, 0, 300, "other");
	assert_int_equal(sfp_nonce_check(&other_realm, ns, 1000010), SFP_NONCE_FORGED);
}

static void t_tag(void **st)
{
	(void)st;
	struct sfp_auth_keys k;
	const uint8_t s1[] = "k";
	char a[SFP_TAG_LEN], b[SFP_TAG_LEN];
	sfp_auth_keys_init(&k, s1, 1, NULL, 0, 300, "r");
	sfp_tag_make(&k, S("call"), S("ft"), S("z9hG4bK1"), a);
	sfp_tag_make(&k, S("call"), S("ft"), S("z9hG4bK1"), b);
	assert_memory_equal(a, b, SFP_TAG_LEN);
	assert_memory_equal(a, "sfp", 3);
	sfp_tag_make(&k, S("call"), S("ft"), S("z9hG4bK2"), b);
	assert_memory_not_equal(a, b, SFP_TAG_LEN);
	sfp_tag_make(&k, S("cal"), S("lft"), S("z9hG4bK1"), b);
	assert_memory_not_equal(a, b, SFP_TAG_LEN);
}

/* SipHash-2-4 reference vectors (key 00..0f) */
static void t_siphash(void **st)
{
	(void)st;
	uint8_t msg[15];
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
	assert_true(sfp_siphash24(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(sfp_siphash24(k0, k1, msg, 15) == 0xa129ca6149be45e5ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc2617_example),
		cmocka_unit_test(t_rfc7616_example),
		cmocka_unit_test(t_reference_shape),
		cmocka_unit_test(t_hex),
		cmocka_unit_test(t_nonce),
		cmocka_unit_test(t_tag),
		cmocka_unit_test(t_siphash),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
