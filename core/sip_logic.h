/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stateless part of sipfp: given one scanned SIP message, decide what
 * the fast path does with it.  Pure C, no DPDK: the data plane calls it per
 * packet, the unit tests call it on the RFC 4475/5118 corpus.
 *
 * Order of checks (proxy role, RFC 3261 16.3; registrar role, 10.3 / 8.2):
 *   syntax (400/505) -> URI scheme (416) -> Max-Forwards (483)
 *   -> Proxy-Require / Require (420) -> credentials (401/407/403)
 *   -> 100 Trying and hand-off to the control process.
 * In-dialog requests (with a To-tag) and responses are handed off without
 * a challenge; the ACK to one of our own challenges is absorbed.
 */
#ifndef SFP_SIP_LOGIC_H
#define SFP_SIP_LOGIC_H

#include "sip_auth.h"
#include "sip_scan.h"

/* how the digest uri must match the Request-URI (RFC 2617 3.2.2.5) */
enum sfp_uri_check {
	SFP_URI_OFF,     /* not checked */
	SFP_URI_HOST,    /* scheme, host and port; a user part, if any, equal */
	SFP_URI_STRICT,  /* scheme, user, host and port */
};

struct sfp_logic_cfg {
	struct sfp_auth_keys keys;
	uint8_t algs;            /* SFP_ALG_* offered */
	bool sha256_first;       /* order of the challenge headers (RFC 8760 2.4) */
	bool qop;                /* offer qop="auth" */
	uint8_t check_uri;       /* enum sfp_uri_check */
	uint32_t retry_after;
	uint16_t sip_port;
	char addr[64];           /* our IPv4 address as text */
	char domain[256];        /* our SIP domain */
};

/* look up a user's HA1 values; NULL when unknown.  Called at most once per
 * message, on the worker that owns the message. */
typedef const struct sfp_ha1 *(*sfp_cred_lookup_fn)(void *ctx, struct sfp_str user);

enum sfp_action {
	SFP_ACT_DROP,      /* count d->counter, send nothing */
	SFP_ACT_ABSORB,    /* the ACK to our challenge: count, send nothing */
	SFP_ACT_REPLY,     /* send the reply described by d */
	SFP_ACT_HANDOFF,   /* to the control process; TRYING: then 100 */
};

#define SFP_D_CHALLENGE   0x01u  /* add *-Authenticate headers */
#define SFP_D_PROXY       0x02u  /* Proxy-Authenticate (407) vs WWW- (401) */
#define SFP_D_STALE       0x04u
#define SFP_D_TRYING      0x08u  /* send 100 Trying once handed off */
#define SFP_D_UNSUPPORTED 0x10u  /* add Unsupported: d->unsupported */
#define SFP_D_RETRY_AFTER 0x20u
#define SFP_D_ALLOW       0x40u  /* OPTIONS 200: Allow, Accept */

struct sfp_decision {
	enum sfp_action act;
	uint16_t counter;        /* enum sfp_counter for DROP, ABSORB, REPLY */
	uint16_t code;
	const char *reason;
	uint32_t flags;          /* SFP_D_* */
	uint16_t rx_flags;       /* SFP_RXF_* for a hand-off */
	struct sfp_str unsupported;
	struct sfp_str user;     /* authenticated user, for a hand-off */
	uint16_t auth_counter;   /* an extra auth event counter, or SFP_CNT_MAX */
	const char *extra;       /* raw header lines (each ending CRLF) to add */
};

/* configuration text to the fields above; 0, or -1 with a message in err */
int sfp_logic_set_algs(struct sfp_logic_cfg *cfg, const char *list, char *err, size_t errlen);
int sfp_logic_set_uri_check(struct sfp_logic_cfg *cfg, const char *v, char *err, size_t errlen);
/* everything above from a configuration and the nonce key in use (the
 * data plane's workers and the control process's TCP/TLS transport decide
 * alike from it: one key, one realm, one algorithm list); addr is ours as
 * text.  0, or -1 with a message in err */
struct sfp_config;
int sfp_logic_from_config(struct sfp_logic_cfg *l, const struct sfp_config *c, const char *addr,
			  const uint8_t *secret, size_t secret_len, char *err, size_t errlen);

void sfp_decide(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
		enum sfp_scan_err err, uint32_t now, bool ctl_ok,
		sfp_cred_lookup_fn lookup, void *lookup_ctx, struct sfp_decision *d);

/* the same for a message from another node of the service (config peers):
 * an out-of-dialog request other than REGISTER is handed off without a
 * challenge, marked SFP_RXF_PEER */
void sfp_decide_peer(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m, enum sfp_scan_err err,
		     uint32_t now, bool ctl_ok, sfp_cred_lookup_fn lookup, void *lookup_ctx,
		     struct sfp_decision *d);

/* turn a decision into a 503 because the ring to the control process is
 * full (RFC 3261 21.5.4); false when the message cannot be answered */
bool sfp_decide_overload(const struct sfp_logic_cfg *cfg, const struct sfp_sip *m,
			 struct sfp_decision *d);

/* where a response goes (RFC 3261 18.2.2 for UDP, RFC 3581 rport).
 * maddr is deliberately ignored: replying to an address named inside the
 * packet would make sipfp a reflector. */
/* dotted quad of an address in network byte order; out holds 16 bytes,
 * NUL-terminated.  inet_ntop goes through stdio, too slow per packet. */
void sfp_ip4_fmt(uint32_t addr_be, char out[16]);

struct sfp_wbuf;
/* every Via of m as reply and proxy copy them: the top one marked with
 * received and rport for where the request came from (18.2.1, RFC 3581) */
void sfp_put_vias(struct sfp_wbuf *w, const struct sfp_sip *m, uint32_t src_ip, uint16_t src_port);

void sfp_reply_dest(const struct sfp_sip *m, uint16_t src_port, uint16_t *dst_port);

struct sfp_reply_ctx {
	uint32_t src_ip;          /* network byte order */
	uint16_t src_port;
	const char *nonce;        /* SFP_NONCE_LEN characters, for challenges */
};

/* Write the SIP response for decision d (or for code/reason overriding it:
 * 100 Trying, 503) into out.  Copies every Via (the top one with received
 * and rport filled in), From, To (with our tag), Call-ID and CSeq (RFC 3261
 * 8.2.6).  Returns the length, or 0 when it does not fit. */
size_t sfp_reply_build(char *out, size_t cap, const struct sfp_logic_cfg *cfg,
		       const struct sfp_sip *m, const struct sfp_decision *d,
		       const struct sfp_reply_ctx *rc);

#endif
