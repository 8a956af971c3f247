/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "sip_stream.h"

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* one header field line [p, e) (without CRLF) names Content-Length, full
 * or compact (RFC 3261 7.3.3, 20.14): its value in *v, or -1 unreadable */
static int content_length(const char *p, const char *e, size_t *v, int *named)
{
	static const char full[] = "content-length";
	const char *c = p;
	*named = 0;
	while (c < e && *c != ':' && *c != ' ' && *c != '\t')
		c++;
	size_t nl = (size_t)(c - p);
	if (!(nl == 1 && lower(p[0]) == 'l')) {
		if (nl != sizeof(full) - 1)
			return 0;
		for (size_t i = 0; i < nl; i++)
			if (lower(p[i]) != full[i])
				return 0;
	}
	while (c < e && (*c == ' ' || *c == '\t'))
		c++;
	if (c == e || *c != ':')
		return 0; /* not a header field of that name after all */
	*named = 1;
	c++;
	while (c < e && (*c == ' ' || *c == '\t'))
		c++;
	size_t x = 0;
	const char *d = c;
	while (c < e && *c >= '0' && *c <= '9') {
		if (x > 100000000)
			return -1;
		x = x * 10 + (size_t)(*c++ - '0');
	}
	if (c == d)
		return -1;
	while (c < e && (*c == ' ' || *c == '\t'))
		c++;
	if (c != e)
		return -1;
	*v = x;
	return 0;
}

enum sfp_frame sfp_frame(const char *buf, size_t len, size_t max, size_t *n)
{
	*n = 0;
	/* keep-alives between messages (RFC 5626 4.4.1; 3261 7.5 lets
	 * CRLFs before a request be ignored) */
	if (len >= 1 && buf[0] == '\r') {
		if (len < 2)
			return SFP_FR_MORE;
		if (buf[1] == '\n') {
			if (len >= 4 && buf[2] == '\r' && buf[3] == '\n') {
				*n = 4;
				return SFP_FR_PING;
			}
			if (len < 4 && (len == 2 || buf[2] == '\r'))
				return SFP_FR_MORE;
			*n = 2;
			return SFP_FR_PONG;
		}
	}
	/* the end of the header section: an empty line */
	size_t lim = len < max ? len : max, h = 0;
	for (size_t i = 3; i < lim; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			h = i + 1;
			break;
		}
	if (!h)
		return len >= max ? SFP_FR_TOO_BIG : SFP_FR_MORE;
	/* Content-Length, in the header field lines after the start line;
	 * a line starting with white space continues the one before (7.3.1)
	 * and is not a field of its own */
	size_t cl = 0;
	int seen = 0;
	const char *p = memchr(buf, '\n', h);
	const char *end = buf + h - 2;
	for (p = p ? p + 1 : end; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p) + 1);
		if (!e)
			break;
		const char *le = e > p && e[-1] == '\r' ? e - 1 : e;
		size_t v;
		int named;
		if (*p != ' ' && *p != '\t') {
			if (content_length(p, le, &v, &named) < 0) {
				*n = h;
				return SFP_FR_BAD_CL;
			}
			if (named) {
				if (seen && v != cl) {
					*n = h;
					return SFP_FR_BAD_CL;
				}
				cl = v;
				seen = 1;
			}
		}
		p = e + 1;
	}
	*n = h;
	if (!seen)
		return SFP_FR_NO_CL;
	if (cl > max - h)
		return SFP_FR_TOO_BIG;
	if (len < h + cl)
		return SFP_FR_MORE;
	*n = h + cl;
	return SFP_FR_MSG;
}
