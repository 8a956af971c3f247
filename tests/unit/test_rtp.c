/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for the per-stream RTP statistics (core/rtp_stats.h):
 * loss and interarrival jitter (RFC 3550 A.1, A.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rtp_stats.h"

static void pkt(struct sfp_media_stats *s, uint16_t seq, uint32_t ts, uint64_t now_us)
{
	uint8_t h[12] = { 0x80, 0, (uint8_t)(seq >> 8), (uint8_t)seq,
			  (uint8_t)(ts >> 24), (uint8_t)(ts >> 16), (uint8_t)(ts >> 8), (uint8_t)ts };
	sfp_rtp_stats(s, h, sizeof(h), 8, now_us);
}

/* G.711, 20 ms: 160 timestamp units a packet */
static void t_steady_and_gaps(void **st)
{
	(void)st;
	struct sfp_media_stats s;
	memset(&s, 0, sizeof(s));
	uint64_t t0 = 1700000000000000ull;
	for (uint16_t i = 0; i < 100; i++)
		pkt(&s, (uint16_t)(1000 + i), 5000 + 160u * i, t0 + 20000ull * i);
	assert_int_equal(sfp_rtp_expected(&s), 100);
	assert_int_equal(sfp_rtp_lost(&s), 0);
	assert_int_equal(s.jitter_q4, 0);
	/* five lost */
	for (uint16_t i = 105; i < 110; i++)
		pkt(&s, (uint16_t)(1000 + i), 5000 + 160u * i, t0 + 20000ull * i);
	assert_int_equal(sfp_rtp_expected(&s), 110);
	assert_int_equal(sfp_rtp_lost(&s), 5);
	/* not RTP, RTCP on the RTP port, a runt: not counted */
	uint8_t rtcp[12] = { 0x80, 200 };
	sfp_rtp_stats(&s, rtcp, 12, 8, t0);
	uint8_t v1[12] = { 0x40 };
	sfp_rtp_stats(&s, v1, 12, 8, t0);
	sfp_rtp_stats(&s, v1, 4, 8, t0);
	assert_int_equal(s.rtp_pkts, 105);
}

static void t_wrap(void **st)
{
	(void)st;
	struct sfp_media_stats s;
	memset(&s, 0, sizeof(s));
	for (uint32_t i = 0; i < 20; i++)
		pkt(&s, (uint16_t)(65530 + i), 160 * i, 20000ull * i);
	assert_int_equal(s.cycles, 65536);
	assert_int_equal(sfp_rtp_expected(&s), 20);
	assert_int_equal(sfp_rtp_lost(&s), 0);
}

/* arrivals alternately on time and 2 ms late: |D| is 16 units every
 * packet, and J converges to it (A.8) */
static void t_jitter(void **st)
{
	(void)st;
	struct sfp_media_stats s;
	memset(&s, 0, sizeof(s));
	for (uint32_t i = 0; i < 500; i++)
		pkt(&s, (uint16_t)i, 160 * i, 20000ull * i + (i & 1 ? 2000 : 0));
	uint32_t j = s.jitter_q4 / 16;
	assert_true(j >= 14 && j <= 16);
	assert_int_equal(sfp_rtp_lost(&s), 0);
}

/* a source that starts its numbering and timestamps again (SIPp replaying
 * a capture; a phone after a re-INVITE): no loss, no jitter spike */
static void t_restart(void **st)
{
	(void)st;
	struct sfp_media_stats s;
	memset(&s, 0, sizeof(s));
	for (uint32_t i = 0; i < 236; i++)
		pkt(&s, (uint16_t)(7000 + i), 1000 + 160 * i, 20000ull * i);
	for (uint32_t i = 0; i < 236; i++)
		pkt(&s, (uint16_t)(7000 + i), 1000 + 160 * i, 20000000ull + 20000ull * i);
	assert_int_equal(sfp_rtp_expected(&s), 472);
	assert_int_equal(sfp_rtp_lost(&s), 0);
	assert_true(s.max_jitter_q4 / 16 <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_steady_and_gaps),
		cmocka_unit_test(t_wrap),
		cmocka_unit_test(t_jitter),
		cmocka_unit_test(t_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
