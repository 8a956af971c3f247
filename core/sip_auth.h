/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Digest authentication for the fast path: HA1, response verification
 * (RFC 2617 3.2.2.1, RFC 7616 3.4.1, RFC 8760 SHA-256 for SIP), stateless
 * nonces and deterministic challenge To-tags.
 *
 * Pure C on OpenSSL's one-shot-free hash contexts: nothing here allocates,
 * so it can run per packet.
 */
#ifndef SFP_SIP_AUTH_H
#define SFP_SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip_scan.h"

#define SFP_ALG_MD5     0x01u
#define SFP_ALG_SHA256  0x02u

#define SFP_NONCE_LEN   32   /* hex characters */
#define SFP_TAG_LEN     19   /* "sfp" + 16 hex */

struct sfp_ha1 {
	uint8_t algs;          /* SFP_ALG_* present */
	uint8_t md5[16];
	uint8_t sha256[32];
};

/* HA1 = H(user ":" realm ":" password) for every algorithm in algs */
void sfp_ha1_from_password(struct sfp_ha1 *h, uint8_t algs, const char *user,
			   const char *realm, const char *password);

/* lowercase hex, NUL terminated (out must hold 2n+1) */
void sfp_hex(const uint8_t *in, size_t n, char *out);
/* parse exactly 2n hex characters; 0 on success */
int sfp_unhex(const char *in, size_t len, uint8_t *out, size_t n);

struct sfp_hmac_key {
	uint8_t ipad_state[112];  /* opaque SHA256_CTX after the inner pad */
	uint8_t opad_state[112];
	uint8_t fp;               /* key fingerprint carried in the nonce */
	bool set;
};

struct sfp_auth_keys {
	struct sfp_hmac_key cur, prev;
	uint64_t tag_k0, tag_k1;  /* SipHash key for To-tags */
	uint32_t lifetime;        /* seconds */
	char realm[256];
	size_t realm_len;
};

/* secret: the current key; prev: the key before a rotation (may be NULL) */
void sfp_auth_keys_init(struct sfp_auth_keys *k, const uint8_t *secret, size_t secret_len,
			const uint8_t *prev, size_t prev_len, uint32_t lifetime,
			const char *realm);

/* nonce = hex(fp | issue time | salt | MAC): anyone holding the key can
 * check it, no state is kept (RFC 7616 3.3 leaves the form to the server) */
void sfp_nonce_make(const struct sfp_auth_keys *k, uint32_t now, uint32_t salt,
		    char out[SFP_NONCE_LEN]);

enum sfp_nonce_res {
	SFP_NONCE_OK,
	SFP_NONCE_STALE,    /* expired, or issued under another key */
	SFP_NONCE_FORGED,   /* our key, wrong MAC */
	SFP_NONCE_MALFORMED,
};
enum sfp_nonce_res sfp_nonce_check(const struct sfp_auth_keys *k, struct sfp_str nonce,
				   uint32_t now);

/* deterministic To-tag for a challenge: the same request (and the ACK that
 * ends its transaction, RFC 3261 17.1.1.3) always gives the same tag */
void sfp_tag_make(const struct sfp_auth_keys *k, struct sfp_str call_id,
		  struct sfp_str from_tag, struct sfp_str branch, char out[SFP_TAG_LEN]);

enum sfp_auth_res {
	SFP_AUTH_OK,
	SFP_AUTH_FAIL,         /* wrong response, unknown user, uri mismatch */
	SFP_AUTH_UNSUPPORTED,  /* algorithm or qop we did not offer */
};

/* Verify a digest response.  ha1 == NULL (unknown user) runs the same
 * computation against a dummy key so both cases cost the same. */
enum sfp_auth_res sfp_digest_verify(const struct sfp_digest_cred *c, struct sfp_str method,
				    const struct sfp_ha1 *ha1, uint8_t algs_offered);

/* the algorithm the credentials name (absent means MD5, RFC 2617 3.2.2) */
uint8_t sfp_digest_alg(const struct sfp_digest_cred *c);

uint64_t sfp_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
