/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP framing on a stream (core/sip_stream.c, RFC 3261 18.3): every input
 * ends at a guard page, so a read past its end faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard.h"
#include "sip_stream.h"

static struct guard g;

static enum sfp_frame fr(const char *s, size_t max, size_t *n)
{
	size_t len = strlen(s);
	return sfp_frame(guard_put(&g, s, len), len, max, n);
}

#define REQ "INVITE sip:bob@10.77.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.77.0.1:5060;branch=z9hG4bK1\r\n"

static void t_whole(void **st)
{
	(void)st;
	size_t n;
	const char *m = REQ "Content-Length: 4\r\n\r\nabcd";
	assert_int_equal(fr(m, 65535, &n), SFP_FR_MSG);
	assert_int_equal(n, strlen(m));
	/* two messages in one segment: the first, then the rest */
	char two[512];
	snprintf(two, sizeof(two), "%s%s", m, m);
	assert_int_equal(fr(two, 65535, &n), SFP_FR_MSG);
	assert_int_equal(n, strlen(m));
	/* compact form, case, white space before the colon */
	assert_int_equal(fr(REQ "l  :  0 \r\n\r\n", 65535, &n), SFP_FR_MSG);
	assert_int_equal(fr(REQ "CONTENT-LENGTH:2\r\n\r\nxy", 65535, &n), SFP_FR_MSG);
}

static void t_split(void **st)
{
	(void)st;
	const char *m = REQ "Content-Length: 4\r\n\r\nabcd";
	size_t len = strlen(m), n;
	/* every prefix is incomplete, the whole is one message */
	for (size_t k = 0; k < len; k++) {
		enum sfp_frame f = sfp_frame(guard_put(&g, m, k), k, 65535, &n);
		assert_int_equal(f, SFP_FR_MORE);
	}
	assert_int_equal(sfp_frame(guard_put(&g, m, len), len, 65535, &n), SFP_FR_MSG);
	/* once the header section is complete, its length is told */
	assert_int_equal(sfp_frame(guard_put(&g, m, len - 2), len - 2, 65535, &n), SFP_FR_MORE);
	assert_int_equal(n, len - 4);
}

static void t_keepalive(void **st)
{
	(void)st;
	size_t n;
	assert_int_equal(fr("\r\n\r\n", 100, &n), SFP_FR_PING);
	assert_int_equal(n, 4);
	assert_int_equal(fr("\r\n\r\nINVITE", 100, &n), SFP_FR_PING);
	assert_int_equal(fr("\r\nINVITE", 100, &n), SFP_FR_PONG);
	assert_int_equal(n, 2);
	assert_int_equal(fr("\r", 100, &n), SFP_FR_MORE);
	assert_int_equal(fr("\r\n", 100, &n), SFP_FR_MORE);
	assert_int_equal(fr("\r\n\r", 100, &n), SFP_FR_MORE);
}

static void t_bad(void **st)
{
	(void)st;
	size_t n;
	assert_int_equal(fr(REQ "\r\n", 65535, &n), SFP_FR_NO_CL);
	assert_int_equal(n, strlen(REQ) + 2);
	/* a continuation line naming Content-Length is not the field */
	assert_int_equal(fr(REQ "Subject: a\r\n Content-Length: 3\r\n\r\n", 65535, &n), SFP_FR_NO_CL);
	/* Content-Type is not Content-Length, nor is X-Content-Length */
	assert_int_equal(fr(REQ "X-Content-Length: 3\r\nContent-Type: a/b\r\n\r\n", 65535, &n), SFP_FR_NO_CL);
	assert_int_equal(fr(REQ "Content-Length: x\r\n\r\n", 65535, &n), SFP_FR_BAD_CL);
	assert_int_equal(fr(REQ "Content-Length: -1\r\n\r\n", 65535, &n), SFP_FR_BAD_CL);
	assert_int_equal(fr(REQ "Content-Length: 99999999999999999999\r\n\r\n", 65535, &n), SFP_FR_BAD_CL);
	assert_int_equal(fr(REQ "Content-Length: 1\r\nl: 2\r\n\r\nab", 65535, &n), SFP_FR_BAD_CL);
	/* the same value twice is only redundant */
	assert_int_equal(fr(REQ "Content-Length: 1\r\nl: 1\r\n\r\na", 65535, &n), SFP_FR_MSG);
	/* too big: the body announced, or a header section that never ends */
	assert_int_equal(fr(REQ "Content-Length: 70000\r\n\r\n", 65535, &n), SFP_FR_TOO_BIG);
	assert_int_equal(fr(REQ "Content-Length: 20\r\n\r\n", 120, &n), SFP_FR_TOO_BIG);
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(fr(big, 200, &n), SFP_FR_TOO_BIG);
	assert_int_equal(fr(big, 400, &n), SFP_FR_MORE);
}

int main(void)
{
	guard_init(&g, 4096);
	const struct CMUnitTest t[] = {
		cmocka_unit_test(t_whole), cmocka_unit_test(t_split), cmocka_unit_test(t_keepalive),
		cmocka_unit_test(t_bad),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
