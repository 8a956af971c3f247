/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for what the data plane does to bytes: packing SIP payloads
 * into ring elements and back, and the Internet checksum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cksum.h"
#include "ring_msg.h"

static struct sfp_msg msgs[SFP_MAX_NSEG + 1];
static char in[SFP_SIP_MAX + 1], out[SFP_SIP_MAX + 1];

static unsigned pack(uint32_t len)
{
	struct sfp_sip_meta mt;
	memset(&mt, 0, sizeof(mt));
	mt.src_ip = 0x0a4d0001;
	mt.src_port = 5061;
	memcpy(mt.user, "alice", 5);
	for (uint32_t i = 0; i < len; i++)
		in[i] = (char)('a' + i % 26);
	return sfp_ring_pack(msgs, SFP_OP_SIP_RX, &mt, in, len);
}

/* feed n elements as the reader would dequeue them */
static bool unpack(unsigned n)
{
	struct sfp_ring_unpack u;
	unsigned want = sfp_ring_unpack_head(&u, &msgs[0], out);
	unsigned i = 1;
	while (want--) {
		if (i >= n)
			return false;
		sfp_ring_unpack_seg(&u, &msgs[i++]);
	}
	if (!sfp_ring_unpack_done(&u))
		return false;
	assert_int_equal(u.m.src_port, 5061);
	assert_string_equal(u.m.user, "alice");
	assert_int_equal(u.op, SFP_OP_SIP_RX);
	return memcmp(u.buf, in, u.m.total_len) == 0;
}

static void t_round_trip_every_boundary(void **st)
{
	(void)st;
	const uint32_t lens[] = { 0, 1, SFP_FIRST_DATA - 1, SFP_FIRST_DATA, SFP_FIRST_DATA + 1,
				  SFP_FIRST_DATA + SFP_SEG_DATA, SFP_FIRST_DATA + SFP_SEG_DATA + 1,
				  1400, 8000, SFP_SIP_MAX };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned n = pack(lens[i]);
		assert_int_equal(n, sfp_msg_nseg(lens[i]));
		assert_true(n <= SFP_MAX_NSEG);
		assert_true(unpack(n));
	}
}

static void t_too_big(void **st)
{
	(void)st;
	assert_int_equal(pack(SFP_SIP_MAX + 1), 0);
}

static void t_corrupt_rejected(void **st)
{
	(void)st;
	unsigned n = pack(3000);
	assert_true(n >= 3);
	/* a segment claiming more than the total */
	msgs[1].h.len = SFP_SEG_DATA + 1;
	assert_false(unpack(n));
	n = pack(3000);
	/* a lost segment: the next one's countdown does not match */
	memmove(&msgs[1], &msgs[2], sizeof(msgs[0]) * (n - 2));
	assert_false(unpack(n - 1));
	n = pack(3000);
	/* total_len that does not fit the element count */
	msgs[0].u.sip.m.total_len = 100;
	assert_false(unpack(n));
	n = pack(100);
	msgs[0].h.version = 99;
	assert_false(unpack(n));
	n = pack(3000);
	msgs[0].h.nseg = 0;
	assert_false(unpack(n));
	/* a head that is not a head */
	n = pack(100);
	msgs[0].h.len = SFP_FIRST_DATA + 1;
	assert_false(unpack(n));
}

static void t_reader_skips_a_bad_message_whole(void **st)
{
	(void)st;
	/* even when the head is corrupt the reader is told how many elements
	 * to consume, so the ring stays aligned on message boundaries */
	unsigned n = pack(5000);
	msgs[0].u.sip.m.total_len = SFP_SIP_MAX + 5;
	struct sfp_ring_unpack u;
	assert_int_equal(sfp_ring_unpack_head(&u, &msgs[0], out), n - 1);
	for (unsigned i = 1; i < n; i++)
		sfp_ring_unpack_seg(&u, &msgs[i]);
	assert_false(sfp_ring_unpack_done(&u));
}

/* RFC 1071 the slow way: 16-bit words in memory order */
static uint16_t csum_ref(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;
	for (i = 0; i + 1 < n; i += 2) {
		uint16_t w;
		memcpy(&w, p + i, 2);
		s += w;
	}
	if (i < n) {
		uint16_t w = 0;
		memcpy(&w, p + i, 1);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void t_checksum(void **st)
{
	(void)st;
	static uint8_t buf[2100];
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof(buf); n += (n < 200 ? 1 : 97))
			assert_int_equal(sfp_csum_fold(sfp_csum_partial(buf + off, n, 0)),
					 csum_ref(buf + off, n));
	/* all ones: the carries must wrap around */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(sfp_csum_fold(sfp_csum_partial(buf, 1501, 0)), csum_ref(buf, 1501));
	/* chaining at even offsets equals one pass */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	uint64_t s = sfp_csum_partial(buf, 12, 0);
	s = sfp_csum_partial(buf + 12, 8, s);
	s = sfp_csum_partial(buf + 20, 733, s);
	assert_int_equal(sfp_csum_fold(s), csum_ref(buf, 753));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_round_trip_every_boundary),
		cmocka_unit_test(t_too_big),
		cmocka_unit_test(t_corrupt_rejected),
		cmocka_unit_test(t_reader_skips_a_bad_message_whole),
		cmocka_unit_test(t_checksum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
