/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP for media anchoring (RFC 4566, RFC 3264), on libosip2's SDP parser
 * and writer: read what one side offers or answers, and write the same
 * session with sipfp's media address and ports in it, for the other side.
 *
 * What the rewrite does, per m= line: the port becomes ours (RTP; RTCP is
 * ours + 1), a rejected stream (port 0) stays rejected, the connection
 * address becomes ours (0.0.0.0, the old way of saying hold, stays),
 * a=rtcp names our RTCP port, a=rtcp-mux passes through (kept when both
 * sides keep it), ICE attributes are removed (sipfp is the only candidate
 * once the media is anchored; RFC 8445 would need sipfp to take part in
 * connectivity checks), direction attributes pass through, RTP/SAVP and
 * RTP/SAVPF keep their crypto and fingerprint lines (relayed opaque).  The
 * o= line names our address, with the endpoint's session id and version
 * (so they stay monotonic as the endpoint's are).
 */
#ifndef SFP_SDP_H
#define SFP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_STREAMS 8

enum sdp_dir { SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };

struct sdp_stream {
	uint32_t ip;         /* network byte order; 0: 0.0.0.0 (hold) */
	uint16_t port;       /* 0: rejected */
	uint16_t rtcp_port;  /* a=rtcp, else port + 1 */
	uint8_t mux;         /* a=rtcp-mux */
	uint8_t dir;         /* enum sdp_dir */
	uint16_t clock_khz;  /* RTP clock of the first format, kHz */
};

struct sdp_info {
	unsigned n;
	struct sdp_stream s[SDP_MAX_STREAMS];
};

enum sdp_err {
	SDP_OK = 0,
	SDP_BAD = -1,        /* not SDP libosip2 can parse, or no usable address */
	SDP_NOT_IP4 = -2,    /* an IPv6 (or other) address: sipfp relays IPv4 */
	SDP_TOO_MANY = -3,   /* more than SDP_MAX_STREAMS m= lines */
	SDP_TOO_BIG = -4,    /* the rewritten body does not fit */
};

/* what body[0..len) describes */
enum sdp_err sdp_read(const char *body, size_t len, struct sdp_info *info);

/* body[0..len) rewritten for the other side: our address addr (dotted
 * quad), stream i on local RTP port ports[i] (its RTCP on ports[i] + 1).
 * Writes at most cap bytes to out; *out_len its length. */
enum sdp_err sdp_write(const char *body, size_t len, const char *addr, const uint16_t *ports,
		       unsigned nports, char *out, size_t cap, size_t *out_len);

const char *sdp_strerror(enum sdp_err e);

#endif
