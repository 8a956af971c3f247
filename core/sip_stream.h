/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP on a stream (TCP, TLS): where one message ends (RFC 3261 18.3).
 *
 * On a stream the Content-Length header field is the only way to find the
 * end of a message, so it is mandatory; CRLFs between messages are
 * keep-alives (RFC 5626 4.4.1: a double CRLF "ping" is answered with a
 * single CRLF "pong").  The scanner model: (buf, len) in, a length out, no
 * allocation, nothing read past len.
 */
#ifndef SFP_SIP_STREAM_H
#define SFP_SIP_STREAM_H

#include <stddef.h>

enum sfp_frame {
	SFP_FR_MORE,     /* incomplete: read more (*n: header bytes seen complete, 0: not yet) */
	SFP_FR_MSG,      /* a message of *n bytes (header section and body) */
	SFP_FR_PING,     /* *n bytes of CRLFCRLF: answer "\r\n" */
	SFP_FR_PONG,     /* *n bytes of a lone CRLF: consume it */
	SFP_FR_NO_CL,    /* a header section of *n bytes without Content-Length: 400, close */
	SFP_FR_BAD_CL,   /* Content-Length unreadable or given twice differently: 400, close */
	SFP_FR_TOO_BIG,  /* the header section or the whole message beyond max: 513, close */
};

enum sfp_frame sfp_frame(const char *buf, size_t len, size_t max, size_t *n);

#endif
