/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for the IPv4 fragment guard (overlap, duplicates, bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "frag_guard.h"

static struct sfp_fg *mk(uint32_t n, uint32_t timeout)
{
	struct sfp_fg *g = malloc(sfp_fg_size(n));
	assert_non_null(g);
	sfp_fg_init(g, n, timeout);
	return g;
}

static const struct sfp_fg_key K = { 0x0a000001, 0x0a4d0002, 77, 17 };

static void t_in_order_and_reverse(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000);
	assert_int_equal(sfp_fg_check(g, &K, 0, 1480, 10), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 1480, 1480, 10), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 2960, 100, 11), SFP_FG_OK);
	sfp_fg_forget(g, &K, 12);
	/* the same id again later is a new datagram, in any order */
	assert_int_equal(sfp_fg_check(g, &K, 2960, 100, 20), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 0, 1480, 20), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 1480, 1480, 20), SFP_FG_OK);
	free(g);
}

static void t_overlap_poisons(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000);
	assert_int_equal(sfp_fg_check(g, &K, 0, 1480, 10), SFP_FG_OK);
	/* Teardrop: the second starts inside the first */
	assert_int_equal(sfp_fg_check(g, &K, 1000, 1480, 10), SFP_FG_OVERLAP);
	/* everything after that, even a clean piece, is refused */
	assert_int_equal(sfp_fg_check(g, &K, 2480, 8, 10), SFP_FG_POISONED);
	/* other datagrams are unaffected */
	struct sfp_fg_key k2 = K;
	k2.id++;
	assert_int_equal(sfp_fg_check(g, &k2, 0, 1480, 10), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &k2, 8, 16, 10), SFP_FG_OVERLAP);   /* inside */
	struct sfp_fg_key k3 = K;
	k3.src++;
	assert_int_equal(sfp_fg_check(g, &k3, 800, 800, 10), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &k3, 0, 4000, 10), SFP_FG_OVERLAP);  /* covering */
	/* poisoning ends with the timeout */
	assert_int_equal(sfp_fg_check(g, &K, 0, 1480, 2011), SFP_FG_OK);
	free(g);
}

static void t_duplicate_and_too_many(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000);
	assert_int_equal(sfp_fg_check(g, &K, 0, 8, 1), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 0, 8, 1), SFP_FG_DUP);
	for (uint32_t i = 1; i < SFP_FG_MAX_FRAGS; i++)
		assert_int_equal(sfp_fg_check(g, &K, i * 8, 8, 1), SFP_FG_OK);
	assert_int_equal(sfp_fg_check(g, &K, 800, 8, 1), SFP_FG_TOO_MANY);
	assert_int_equal(sfp_fg_check(g, &K, 900, 8, 1), SFP_FG_POISONED);
	free(g);
}

static void t_bounded(void **st)
{
	(void)st;
	/* a flood of never-completed datagrams fills the table and is refused,
	 * then the table frees itself with the timeout */
	struct sfp_fg *g = mk(16, 100);
	unsigned full = 0;
	struct sfp_fg_key k = K;
	for (uint32_t i = 0; i < 1000; i++) {
		k.id = (uint16_t)i;
		full += sfp_fg_check(g, &k, 0, 8, 50) == SFP_FG_FULL;
	}
	assert_true(full >= 1000 - 16);
	k.id = 5000;
	assert_int_equal(sfp_fg_check(g, &k, 0, 8, 151), SFP_FG_OK);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_in_order_and_reverse),
		cmocka_unit_test(t_overlap_poisons),
		cmocka_unit_test(t_duplicate_and_too_many),
		cmocka_unit_test(t_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
