/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Digest authentication (see sip_auth.h).
 *
 * OpenSSL 3.0's EVP interface allocates a context per digest; on the fast
 * path we use the low-level MD5/SHA256 contexts on the stack instead, which
 * OpenSSL keeps available under OPENSSL_API_COMPAT.
 */
#define OPENSSL_API_COMPAT 10101
#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <string.h>

#include "sip_auth.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct sfp_hmac_key *)0)->ipad_state),
	       "SHA256_CTX fits the saved HMAC state");

static const char hexd[] = "0123456789abcdef";

void sfp_hex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

int sfp_unhex(const char *in, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hexval(in[2 * i]), b = hexval(in[2 * i + 1]);
		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

/* ---- a tiny hash abstraction over MD5 and SHA-256 ----------------------- */

struct hctx {
	uint8_t alg;
	union {
		MD5_CTX md5;
		SHA256_CTX sha;
	} u;
};

static void h_init(struct hctx *h, uint8_t alg)
{
	h->alg = alg;
	if (alg == SFP_ALG_SHA256)
		SHA256_Init(&h->u.sha);
	else
		MD5_Init(&h->u.md5);
}

static void h_update(struct hctx *h, const void *p, size_t n)
{
	if (h->alg == SFP_ALG_SHA256)
		SHA256_Update(&h->u.sha, p, n);
	else
		MD5_Update(&h->u.md5, p, n);
}

static void h_str(struct hctx *h, struct sfp_str s)
{
	h_update(h, s.p, s.n);
}

static void h_colon(struct hctx *h)
{
	h_update(h, ":", 1);
}

/* finish and write lowercase hex; returns the hex length */
static size_t h_final_hex(struct hctx *h, char *out)
{
	uint8_t d[32];
	if (h->alg == SFP_ALG_SHA256) {
		SHA256_Final(d, &h->u.sha);
		sfp_hex(d, 32, out);
		return 64;
	}
	MD5_Final(d, &h->u.md5);
	sfp_hex(d, 16, out);
	return 32;
}

void sfp_ha1_from_password(struct sfp_ha1 *ha1, uint8_t algs, const char *user,
			   const char *realm, const char *password)
{
	memset(ha1, 0, sizeof(*ha1));
	ha1->algs = algs;
	if (algs & SFP_ALG_MD5) {
		MD5_CTX c;
		MD5_Init(&c);
		MD5_Update(&c, user, strlen(user));
		MD5_Update(&c, ":", 1);
		MD5_Update(&c, realm, strlen(realm));
		MD5_Update(&c, ":", 1);
		MD5_Update(&c, password, strlen(password));
		MD5_Final(ha1->md5, &c);
		OPENSSL_cleanse(&c, sizeof(c));
	}
	if (algs & SFP_ALG_SHA256) {
		SHA256_CTX c;
		SHA256_Init(&c);
		SHA256_Update(&c, user, strlen(user));
		SHA256_Update(&c, ":", 1);
		SHA256_Update(&c, realm, strlen(realm));
		SHA256_Update(&c, ":", 1);
		SHA256_Update(&c, password, strlen(password));
		SHA256_Final(ha1->sha256, &c);
		OPENSSL_cleanse(&c, sizeof(c));
	}
}

/* ---- HMAC-SHA256 (RFC 2104) with the padded key states saved once ------- */

static void hmac_key_init(struct sfp_hmac_key *k, const uint8_t *key, size_t len)
{
	uint8_t kb[64] = { 0 }, pad[64];
	SHA256_CTX c;

	if (len > 64) {
		SHA256(key, len, kb);
	} else if (len) {
		memcpy(kb, key, len);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = kb[i] ^ 0x36;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, 64);
	memcpy(k->ipad_state, &c, sizeof(c));
	for (int i = 0; i < 64; i++)
		pad[i] = kb[i] ^ 0x5c;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, 64);
	memcpy(k->opad_state, &c, sizeof(c));

	/* the fingerprint names the key inside nonces, so a node can tell a
	 * nonce of an older key (stale) from a forged one */
	uint8_t fp[32];
	SHA256_Init(&c);
	SHA256_Update(&c, "sipfp-key-fingerprint", 21);
	SHA256_Update(&c, key, len);
	SHA256_Final(fp, &c);
	k->fp = fp[0];
	k->set = true;
	OPENSSL_cleanse(kb, sizeof(kb));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
}

static void hmac(const struct sfp_hmac_key *k, const void *a, size_t alen,
		 const void *b, size_t blen, uint8_t out[32])
{
	SHA256_CTX c;
	uint8_t inner[32];

	memcpy(&c, k->ipad_state, sizeof(c));
	SHA256_Update(&c, a, alen);
	SHA256_Update(&c, b, blen);
	SHA256_Final(inner, &c);
	memcpy(&c, k->opad_state, sizeof(c));
	SHA256_Update(&c, inner, 32);
	SHA256_Final(out, &c);
}

/* ---- SipHash-2-4 (Aumasson & Bernstein), for To-tags --------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

uint64_t sfp_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		memcpy(&m, in + i, 8); /* little-endian hosts only (x86, arm64) */
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < (len & 7); j++)
		b |= (uint64_t)in[full + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- keys, nonces and tags ------------------------------------------------ */

void sfp_auth_keys_init(struct sfp_auth_keys *k, const uint8_t *secret, size_t secret_len,
			const uint8_t *prev, size_t prev_len, uint32_t lifetime,
			const char *realm)
{
	uint8_t d[32];

	memset(k, 0, sizeof(*k));
	hmac_key_init(&k->cur, secret, secret_len);
	if (prev && prev_len)
		hmac_key_init(&k->prev, prev, prev_len);
	/* the tag key is derived, so nodes sharing a secret agree on tags */
	hmac(&k->cur, "sipfp-to-tag-key", 16, "", 0, d);
	memcpy(&k->tag_k0, d, 8);
	memcpy(&k->tag_k1, d + 8, 8);
	k->lifetime = lifetime;
	k->realm_len = strnlen(realm, sizeof(k->realm) - 1);
	memcpy(k->realm, realm, k->realm_len);
	OPENSSL_cleanse(d, sizeof(d));
}

static void nonce_mac(const struct sfp_hmac_key *key, const struct sfp_auth_keys *k,
		      const uint8_t head[8], uint8_t mac[8])
{
	uint8_t d[32];
	/* the realm is bound in, so a nonce of one realm is no use in another */
	hmac(key, head, 8, k->realm, k->realm_len, d);
	memcpy(mac, d, 8);
}

void sfp_nonce_make(const struct sfp_auth_keys *k, uint32_t now, uint32_t salt,
		    char out[SFP_NONCE_LEN])
{
	uint8_t raw[16];
	char hex[33];

	raw[0] = k->cur.fp;
	raw[1] = (uint8_t)(now >> 24);
	raw[2] = (uint8_t)(now >> 16);
	raw[3] = (uint8_t)(now >> 8);
	raw[4] = (uint8_t)now;
	raw[5] = (uint8_t)(salt >> 16);
	raw[6] = (uint8_t)(salt >> 8);
	raw[7] = (uint8_t)salt;
	nonce_mac(&k->cur, k, raw, raw + 8);
	sfp_hex(raw, 16, hex);
	memcpy(out, hex, SFP_NONCE_LEN);
}

static bool ct_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

enum sfp_nonce_res sfp_nonce_check(const struct sfp_auth_keys *k, struct sfp_str nonce,
				   uint32_t now)
{
	uint8_t raw[16], mac[8];

	if (sfp_unhex(nonce.p, nonce.n, raw, 16))
		return SFP_NONCE_MALFORMED;
	uint32_t ts = (uint32_t)raw[1] << 24 | (uint32_t)raw[2] << 16 |
		      (uint32_t)raw[3] << 8 | raw[4];
	bool ok_cur = false, ok_prev = false;
	if (raw[0] == k->cur.fp) {
		nonce_mac(&k->cur, k, raw, mac);
		ok_cur = ct_eq(mac, raw + 8, 8);
	}
	if (!ok_cur && k->prev.set && raw[0] == k->prev.fp) {
		nonce_mac(&k->prev, k, raw, mac);
		ok_prev = ct_eq(mac, raw + 8, 8);
	}
	if (ok_prev)
		return SFP_NONCE_STALE;
	if (!ok_cur) {
		/* a key we do not know: issued before a secret change (e.g. a
		 * restart with a random secret); the client may simply retry
		 * (RFC 2617 3.2.1 stale) and still needs the password */
		if (raw[0] != k->cur.fp && !(k->prev.set && raw[0] == k->prev.fp))
			return SFP_NONCE_STALE;
		return SFP_NONCE_FORGED;
	}
	if (ts > now + 5) /* from the future: not ours, whatever the MAC says */
		return SFP_NONCE_FORGED;
	if (now - ts > k->lifetime)
		return SFP_NONCE_STALE;
	return SFP_NONCE_OK;
}

void sfp_tag_make(const struct sfp_auth_keys *k, struct sfp_str call_id,
		  struct sfp_str from_tag, struct sfp_str branch, char out[SFP_TAG_LEN])
{
	uint8_t buf[512];
	size_t n = 0;
	struct sfp_str parts[3] = { call_id, from_tag, branch };

	/* length-prefixed, so ("ab","c") and ("a","bc") differ; long inputs
	 * are cut, which only makes two requests share a tag */
	for (int i = 0; i < 3; i++) {
		size_t l = parts[i].n;
		if (l > 160)
			l = 160;
		buf[n++] = (uint8_t)l;
		if (l)
			memcpy(buf + n, parts[i].p, l);
		n += l;
	}
	uint64_t h = sfp_siphash24(k->tag_k0, k->tag_k1, buf, n);
	uint8_t hb[8];
	for (int i = 0; i < 8; i++)
		hb[i] = (uint8_t)(h >> (8 * i));
	char hex[17];
	sfp_hex(hb, 8, hex);
	memcpy(out, "sfp", 3);
	memcpy(out + 3, hex, 16);
}

/* ---- digest responses ------------------------------------------------------ */

uint8_t sfp_digest_alg(const struct sfp_digest_cred *c)
{
	if (!c->algorithm.p || sfp_str_ieq(c->algorithm, "MD5"))
		return SFP_ALG_MD5;
	if (sfp_str_ieq(c->algorithm, "SHA-256"))
		return SFP_ALG_SHA256;
	return 0; /* -sess variants and others are not offered */
}

static const uint8_t dummy_key[32] = { 0x5a };

enum sfp_auth_res sfp_digest_verify(const struct sfp_digest_cred *c, struct sfp_str method,
				    const struct sfp_ha1 *ha1, uint8_t algs_offered)
{
	uint8_t alg = sfp_digest_alg(c);
	struct hctx h;
	char ha1hex[65], ha2hex[65], exp[65];
	size_t hl;
	bool qop_auth = false;

	if (!(alg & algs_offered) || c->userhash)
		return SFP_AUTH_UNSUPPORTED;
	if (c->qop.p) {
		if (!sfp_str_ieq(c->qop, "auth"))
			return SFP_AUTH_UNSUPPORTED; /* auth-int is not offered */
		if (!c->nc.p || !c->cnonce.p)
			return SFP_AUTH_FAIL;
		qop_auth = true;
	}
	const uint8_t *key = dummy_key;
	bool known = ha1 && (ha1->algs & alg);
	if (known)
		key = alg == SFP_ALG_SHA256 ? ha1->sha256 : ha1->md5;
	sfp_hex(key, alg == SFP_ALG_SHA256 ? 32 : 16, ha1hex);

	/* HA2 = H(method ":" digest-uri) */
	h_init(&h, alg);
	h_str(&h, method);
	h_colon(&h);
	h_str(&h, c->uri);
	hl = h_final_hex(&h, ha2hex);

	/* response = KD(HA1, nonce [":" nc ":" cnonce ":" qop] ":" HA2) */
	h_init(&h, alg);
	h_update(&h, ha1hex, hl);
	h_colon(&h);
	h_str(&h, c->nonce);
	h_colon(&h);
	if (qop_auth) {
		h_str(&h, c->nc);
		h_colon(&h);
		h_str(&h, c->cnonce);
		h_colon(&h);
		h_str(&h, c->qop);
		h_colon(&h);
	}
	h_update(&h, ha2hex, hl);
	h_final_hex(&h, exp);

	/* constant time over the expected length, case-insensitive hex */
	unsigned diff = c->response.n != hl;
	for (size_t i = 0; i < hl; i++) {
		char r = i < c->response.n ? c->response.p[i] : 0;
		if (r >= 'A' && r <= 'F')
			r = (char)(r | 0x20);
		diff |= (unsigned)(uint8_t)(r ^ exp[i]);
	}
	return (diff == 0 && known) ? SFP_AUTH_OK : SFP_AUTH_FAIL;
}
