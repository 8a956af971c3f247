/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp SIP scanner: (buf, len) in, slices out.
 *
 * Pure C, no DPDK, no allocation, no copies: every result points into the
 * caller's buffer, which must stay alive while the result is used.  Every
 * read is bounds-checked against len; the scanner never reads buf[len] and
 * needs no NUL terminator (tests end the input at a guard page).
 *
 * It parses what the fast path needs to answer statelessly (RFC 3261 8.2.6,
 * 16.3, 22) and no more; everything else is left as raw slices (lazy
 * parsing, as in Kamailio).
 */
#ifndef SFP_SIP_SCAN_H
#define SFP_SIP_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sfp_str {
	const char *p;
	uint32_t n;
};

#define SFP_STR_NULL ((struct sfp_str){ NULL, 0 })

enum sfp_method {
	SFP_M_UNKNOWN = 0,
	SFP_M_INVITE, SFP_M_ACK, SFP_M_BYE, SFP_M_CANCEL, SFP_M_REGISTER,
	SFP_M_OPTIONS, SFP_M_PRACK, SFP_M_SUBSCRIBE, SFP_M_NOTIFY,
	SFP_M_PUBLISH, SFP_M_INFO, SFP_M_REFER, SFP_M_MESSAGE, SFP_M_UPDATE,
};

/*
 * Scan results.  `answerable` in the X-macro says whether a request with
 * this defect can still get a 4xx/5xx (RFC 3261 21.4.1: the reason phrase
 * names the problem); the others can only be dropped and counted.
 * _(enum suffix, status, reason phrase)
 */
#define SFP_SCAN_ERRORS(_) \
	_(OK,              0,   "OK") \
	_(EMPTY,           0,   "Empty datagram") \
	_(TRUNCATED,       400, "Incomplete Message") \
	_(BAD_START_LINE,  0,   "Malformed Start Line") \
	_(BAD_REQUEST_LINE,400, "Malformed Request-Line") \
	_(BAD_VERSION,     505, "Version Not Supported") \
	_(BAD_RURI,        400, "Malformed Request-URI") \
	_(RURI_HEADERS,    400, "Headers Not Allowed in Request-URI") \
	_(BAD_STATUS,      0,   "Malformed Status-Line") \
	_(BAD_HEADER,      400, "Malformed Header Line") \
	_(NUL_IN_HEADER,   400, "NUL Octet in Header") \
	_(BAD_VIA,         400, "Malformed Via Header") \
	_(TOO_MANY_VIA,    400, "Too Many Via Values") \
	_(BAD_FROM,        400, "Malformed From Header") \
	_(BAD_TO,          400, "Malformed To Header") \
	_(BAD_CONTACT,     400, "Malformed Contact Header") \
	_(BAD_CALLID,      400, "Malformed Call-ID Header") \
	_(BAD_CSEQ,        400, "Malformed CSeq Header") \
	_(BAD_MAXFWD,      400, "Malformed Max-Forwards Header") \
	_(BAD_CLEN,        400, "Malformed Content-Length Header") \
	_(CLEN_TOO_BIG,    400, "Content-Length Larger Than Message") \
	_(DUP_FROM,        400, "Multiple From Headers") \
	_(DUP_TO,          400, "Multiple To Headers") \
	_(DUP_CALLID,      400, "Multiple Call-ID Headers") \
	_(DUP_CSEQ,        400, "Multiple CSeq Headers") \
	_(DUP_MAXFWD,      400, "Multiple Max-Forwards Headers") \
	_(DUP_CLEN,        400, "Multiple Content-Length Headers") \
	_(MISSING_VIA,     0,   "Missing Via Header") \
	_(MISSING_FROM,    400, "Missing From Header") \
	_(MISSING_TO,      400, "Missing To Header") \
	_(MISSING_CALLID,  400, "Missing Call-ID Header") \
	_(MISSING_CSEQ,    400, "Missing CSeq Header") \
	_(CSEQ_MISMATCH,   400, "CSeq Method Does Not Match Request Method")

enum sfp_scan_err {
#define SFP_SE_ENUM(e, s, r) SFP_SE_##e,
	SFP_SCAN_ERRORS(SFP_SE_ENUM)
#undef SFP_SE_ENUM
	SFP_SE_MAX
};

/* 0 when the defect cannot be answered */
uint16_t sfp_scan_err_status(enum sfp_scan_err e);
const char *sfp_scan_err_reason(enum sfp_scan_err e);

#define SFP_SCAN_MAX_LEN   65535u /* one UDP datagram */
#define SFP_SCAN_MAX_CLEN  65535u
/* one value per hop: 70 is the Max-Forwards a UAC starts with (8.1.1.6) */
#define SFP_MAX_VIA   70
#define SFP_MAX_AUTH  4

struct sfp_via {
	struct sfp_str value;     /* the whole via-parm */
	struct sfp_str transport; /* "UDP", "TCP", ... */
	struct sfp_str host;      /* sent-by host, brackets kept for IPv6 */
	uint16_t port;            /* 0 when absent */
	bool rport;               /* rport parameter present (RFC 3581) */
	bool rport_has_value;
	uint32_t rport_end;       /* offset in value just after "rport" */
	struct sfp_str branch;
	struct sfp_str received;
	struct sfp_str maddr;
};

struct sfp_uri_parts {
	struct sfp_str scheme;
	struct sfp_str user;      /* empty when no userinfo */
	struct sfp_str host;      /* brackets kept for IPv6 */
	uint16_t port;
};

struct sfp_sip {
	bool request;
	enum sfp_method method;
	struct sfp_str method_name;
	struct sfp_str ruri;
	struct sfp_uri_parts ruri_parts;   /* valid for sip/sips */
	uint16_t status;
	struct sfp_str reason;

	uint32_t n_via;
	bool top_via_ok;
	struct sfp_via top_via;

	struct sfp_str from, from_tag;
	struct sfp_str to, to_tag;
	struct sfp_str call_id;
	struct sfp_str cseq;               /* the whole header value */
	uint32_t cseq_num;
	struct sfp_str cseq_method;
	int32_t max_forwards;              /* -1 when absent */
	int64_t content_length;            /* -1 when absent */

	struct sfp_str contact;            /* first Contact header value */
	struct sfp_str require, proxy_require; /* first of each */
	struct sfp_str user_agent;
	struct sfp_str expires;

	uint32_t n_authz;
	uint32_t n_pauthz;

	struct sfp_str body;
	uint32_t msg_len;      /* bytes of this message; more in the datagram are ignored */
	uint32_t n_headers;

	/* Arrays last: sfp_scan() clears the fields above, and these only up
	 * to their counts, so a 1.5 KB memset is not paid per packet. */
	struct sfp_str via[SFP_MAX_VIA];       /* every via-parm, in order */
	struct sfp_str authz[SFP_MAX_AUTH];    /* Authorization values */
	struct sfp_str pauthz[SFP_MAX_AUTH];   /* Proxy-Authorization values */
};

/*
 * Scan one SIP message.  On error, the fields found so far stay filled in so
 * that a 400 can still copy Via, From, To, Call-ID and CSeq (RFC 3261 8.2.6).
 */
enum sfp_scan_err sfp_scan(const char *buf, size_t len, struct sfp_sip *m);

/* Parse a SIP/SIPS URI's hostport (RFC 3261 19.1.1, RFC 5118 IPv6 forms).
 * 0 on success. */
int sfp_uri_parse(struct sfp_str uri, struct sfp_uri_parts *u);

/* Parse one via-parm (RFC 3261 20.42).  0 on success. */
int sfp_via_parse(struct sfp_str v, struct sfp_via *out);

/* Check a name-addr or addr-spec with header parameters (From, To, Contact:
 * RFC 3261 20.10, 20.20, 20.39) and find its tag parameter.  0 when well
 * formed (*tag empty when there is none), -1 when malformed: unterminated
 * quotes, a non-token display name, LWS inside <>, '?' in an addr-spec. */
int sfp_nameaddr_check(struct sfp_str v, struct sfp_str *tag);

/* Compare a slice with a C string, case-insensitively. */
/* ASCII case-insensitive compare with a C string.  Inline so that with a
 * literal the compiler folds the length: this runs for every header name
 * and parameter on the fast path. */
static inline __attribute__((always_inline)) bool sfp_str_ieq(struct sfp_str s, const char *lit)
{
	size_t n = __builtin_strlen(lit);
	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.p[i], b = lit[i];
		a = (a >= 'A' && a <= 'Z') ? (char)(a | 0x20) : a;
		b = (b >= 'A' && b <= 'Z') ? (char)(b | 0x20) : b;
		if (a != b)
			return false;
	}
	return true;
}
bool sfp_str_eq(struct sfp_str a, struct sfp_str b);

/* Digest credentials (RFC 2617 3.2.2, RFC 7616 3.4).  Values are the raw
 * slices, quotes removed; escapes inside quoted strings are left as-is. */
struct sfp_digest_cred {
	struct sfp_str username, realm, nonce, uri, response, algorithm,
		cnonce, opaque, qop, nc;
	bool userhash;
};

/* 1: Digest credentials parsed; 0: another scheme; -1: malformed */
int sfp_digest_parse(struct sfp_str v, struct sfp_digest_cred *c);

#endif
