/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for the control process's hash index (control/hidx.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hidx.h"

/* the slots of bucket `hash`, in chain order, as a bit set */
static uint64_t chain(const struct hidx *h, uint64_t hash)
{
	uint64_t set = 0;
	unsigned n = 0;
	for (uint32_t i = hidx_first(h, hash); i != HIDX_NONE; i = hidx_next(h, i)) {
		set |= 1ull << i;
		assert_true(++n <= 64); /* no cycle */
	}
	return set;
}

static void t_one_bucket(void **st)
{
	(void)st;
	struct hidx h;
	/* every key in one chain: deletion from its head, middle and tail */
	assert_int_equal(hidx_init(&h, 1, 8), 0);
	for (uint32_t i = 0; i < 5; i++)
		hidx_add(&h, i, 77 + i);
	assert_int_equal(chain(&h, 0), 0x1f);
	hidx_del(&h, 4, 81); /* head */
	hidx_del(&h, 2, 79); /* middle */
	hidx_del(&h, 0, 77); /* tail */
	assert_int_equal(chain(&h, 0), 0x0a);
	hidx_del(&h, 6, 0); /* not there: nothing happens */
	assert_int_equal(chain(&h, 0), 0x0a);
	hidx_add(&h, 2, 5);
	assert_int_equal(chain(&h, 0), 0x0e);
	hidx_free(&h);
}

static void t_buckets_grow_clear(void **st)
{
	(void)st;
	struct hidx h;
	assert_int_equal(hidx_init(&h, 3, 8), -1); /* not a power of two */
	assert_int_equal(hidx_init(&h, 16, 4), 0);
	assert_int_equal(hidx_grow(&h, 40), 0);
	for (uint32_t i = 0; i < 40; i++)
		hidx_add(&h, i, i);
	for (uint32_t b = 0; b < 16; b++) {
		uint64_t want = 0;
		for (uint32_t i = b; i < 40; i += 16)
			want |= 1ull << i;
		assert_int_equal(chain(&h, b), want);
	}
	hidx_clear(&h);
	for (uint32_t b = 0; b < 16; b++)
		assert_int_equal(hidx_first(&h, b), HIDX_NONE);
	hidx_free(&h);
}

static void t_hash_keyed(void **st)
{
	(void)st;
	hidx_seed(1, 2);
	uint64_t a = hidx_hash("alice", 5);
	assert_int_equal(a, hidx_hash("alice", 5));
	assert_int_not_equal(a, hidx_hash("alicf", 5));
	hidx_seed(3, 4); /* another key, another hash: chains cannot be aimed at */
	assert_int_not_equal(a, hidx_hash("alice", 5));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(t_one_bucket),
		cmocka_unit_test(t_buckets_grow_clear),
		cmocka_unit_test(t_hash_keyed),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
