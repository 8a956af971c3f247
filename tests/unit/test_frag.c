/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for IPv4 reassembly: overlap, duplicates, bounds, and the
 * policies that keep a flood of bad fragments from starving good ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "frag_guard.h"

/* a fragment handle is just a number here; the callback counts releases */
static unsigned released[4];
static unsigned live_frags;

static void release(void *ctx, void *frag, enum sfp_fg_release why)
{
	(void)ctx;
	(void)frag;
	released[why]++;
	live_frags--;
}

static struct sfp_fg *mk(uint32_t n, uint32_t timeout, uint32_t per_source)
{
	struct sfp_fg *g = malloc(sfp_fg_size(n));
	assert_non_null(g);
	sfp_fg_init(g, n, timeout, per_source, 0x1234567, release, NULL);
	for (unsigned i = 0; i < 4; i++)
		released[i] = 0;
	live_frags = 0;
	return g;
}

static void done(struct sfp_fg *g)
{
	sfp_fg_flush(g);
	assert_int_equal(live_frags, 0);
	assert_int_equal(g->holding, 0);
	for (uint32_t i = 0; i <= g->mask; i++)
		assert_int_equal(g->src[i].n, 0);
	free(g);
}

static const struct sfp_fg_key K = { 0x0a000001, 0x0a4d0002, 77, 17 };
static void *out[SFP_FG_MAX_FRAGS];
static unsigned nout;

/* add one fragment; the handle is its offset + 1, so order can be checked */
static enum sfp_fg_verdict add(struct sfp_fg *g, const struct sfp_fg_key *k, uint32_t off,
			       uint32_t len, bool more, uint64_t now)
{
	enum sfp_fg_verdict v = sfp_fg_add(g, k, off, len, more, (void *)(uintptr_t)(off + 1),
					   now, out, &nout);
	if (v == SFP_FG_HELD)
		live_frags++;
	if (v == SFP_FG_DONE)
		live_frags -= nout - 1;
	return v;
}

static void t_in_order_and_reverse(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000, 0);
	assert_int_equal(add(g, &K, 0, 1480, true, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &K, 1480, 1480, true, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &K, 2960, 100, false, 11), SFP_FG_DONE);
	assert_int_equal(nout, 3);
	assert_ptr_equal(out[0], (void *)1);
	assert_ptr_equal(out[1], (void *)1481);
	assert_ptr_equal(out[2], (void *)2961);
	/* the same id again later is a new datagram, in any order */
	assert_int_equal(add(g, &K, 2960, 100, false, 20), SFP_FG_HELD);
	assert_int_equal(add(g, &K, 0, 1480, true, 20), SFP_FG_HELD);
	assert_int_equal(add(g, &K, 1480, 1480, true, 20), SFP_FG_DONE);
	assert_ptr_equal(out[0], (void *)1);
	assert_ptr_equal(out[1], (void *)1481);
	assert_ptr_equal(out[2], (void *)2961);
	/* a hole keeps it waiting */
	struct sfp_fg_key k2 = K;
	k2.id = 9;
	assert_int_equal(add(g, &k2, 0, 1480, true, 20), SFP_FG_HELD);
	assert_int_equal(add(g, &k2, 2960, 8, false, 20), SFP_FG_HELD);
	assert_int_equal(g->holding, 1);
	done(g);
}

static void t_overlap_poisons(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000, 0);
	assert_int_equal(add(g, &K, 0, 1480, true, 10), SFP_FG_HELD);
	/* Teardrop: the second starts inside the first; the first is let go */
	assert_int_equal(add(g, &K, 1000, 1480, true, 10), SFP_FG_OVERLAP);
	assert_int_equal(released[SFP_FG_R_REFUSED], 1);
	assert_int_equal(live_frags, 0);
	/* everything after that, even a clean piece, is refused */
	assert_int_equal(add(g, &K, 2480, 8, false, 10), SFP_FG_OVERLAP);
	/* other datagrams are unaffected */
	struct sfp_fg_key k2 = K;
	k2.id++;
	assert_int_equal(add(g, &k2, 0, 1480, true, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &k2, 8, 16, true, 10), SFP_FG_OVERLAP);   /* inside */
	struct sfp_fg_key k3 = K;
	k3.src++;
	assert_int_equal(add(g, &k3, 800, 800, true, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &k3, 0, 4000, true, 10), SFP_FG_OVERLAP);  /* covering */
	/* a second "last" fragment elsewhere, data beyond the last */
	struct sfp_fg_key k4 = K;
	k4.id = 500;
	assert_int_equal(add(g, &k4, 1480, 100, false, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &k4, 2960, 100, true, 10), SFP_FG_OVERLAP);
	k4.id = 501;
	assert_int_equal(add(g, &k4, 2960, 100, true, 10), SFP_FG_HELD);
	assert_int_equal(add(g, &k4, 1480, 100, false, 10), SFP_FG_OVERLAP);
	/* poisoning ends with the timeout */
	assert_int_equal(add(g, &K, 0, 1480, true, 2011), SFP_FG_HELD);
	done(g);
}

static void t_duplicate_too_many_too_big(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(64, 2000, 0);
	assert_int_equal(add(g, &K, 0, 8, true, 1), SFP_FG_HELD);
	assert_int_equal(add(g, &K, 0, 8, true, 1), SFP_FG_DUP);
	for (uint32_t i = 1; i < SFP_FG_MAX_FRAGS; i++)
		assert_int_equal(add(g, &K, i * 8, 8, true, 1), SFP_FG_HELD);
	/* the ninth: refused, and the eight held are given back at once */
	assert_int_equal(add(g, &K, 800, 8, true, 1), SFP_FG_TOO_MANY);
	assert_int_equal(released[SFP_FG_R_REFUSED], SFP_FG_MAX_FRAGS);
	assert_int_equal(live_frags, 0);
	assert_int_equal(add(g, &K, 900, 8, false, 1), SFP_FG_TOO_MANY);
	/* 8 x 1480 fits exactly; a byte more does not, whichever comes first */
	struct sfp_fg_key k = K;
	k.id = 2;
	for (uint32_t i = 0; i < SFP_FG_MAX_FRAGS - 1; i++)
		assert_int_equal(add(g, &k, i * 1480, 1480, true, 1), SFP_FG_HELD);
	assert_int_equal(add(g, &k, 7 * 1480, 1480, false, 1), SFP_FG_DONE);
	assert_int_equal(nout, SFP_FG_MAX_FRAGS);
	k.id = 3;
	assert_int_equal(add(g, &k, SFP_FG_MAX_BYTES, 8, false, 1), SFP_FG_TOO_BIG);
	assert_int_equal(add(g, &k, 0, 1480, true, 1), SFP_FG_TOO_BIG);
	assert_int_equal(live_frags, 0);
	k.id = 4;
	assert_int_equal(add(g, &k, 0, 1480, true, 1), SFP_FG_HELD);
	assert_int_equal(add(g, &k, SFP_FG_MAX_BYTES - 8, 16, false, 1), SFP_FG_TOO_BIG);
	assert_int_equal(live_frags, 0);
	done(g);
}

/* never-completed datagrams take the oldest slot, not the new one's: the
 * table never refuses a new datagram, and a flood's entries are swept */
static void t_evicts_oldest(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(16, 100, 0);
	struct sfp_fg_key k = K;
	for (uint32_t i = 0; i < 1000; i++) {
		k.src = 0x0b000000 + i;
		assert_int_equal(add(g, &k, 0, 8, true, 50), SFP_FG_HELD);
	}
	assert_true(g->holding <= 16);
	assert_int_equal(released[SFP_FG_R_EVICTED] + g->holding, 1000);
	/* a good two-fragment datagram still completes */
	k.src = 0x0c000001;
	assert_int_equal(add(g, &k, 0, 1480, true, 60), SFP_FG_HELD);
	assert_int_equal(add(g, &k, 1480, 100, false, 60), SFP_FG_DONE);
	/* the sweep lets go of the rest on time, not before */
	sfp_fg_sweep(g, 149);
	assert_int_equal(released[SFP_FG_R_TIMEOUT], 0);
	sfp_fg_sweep(g, 150);
	assert_int_equal(g->holding, 0);
	assert_int_equal(live_frags, 0);
	/* tombstones of refused datagrams are taken before held datagrams */
	struct sfp_fg *h = mk(16, 1000, 0);
	struct sfp_fg_key good = { 0x0d000001, 0x0a4d0002, 1, 17 };
	assert_int_equal(add(h, &good, 0, 1480, true, 1), SFP_FG_HELD);
	for (uint32_t i = 0; i < 5000; i++) {
		k.src = 0x0e000000 + i;
		assert_int_equal(add(h, &k, SFP_FG_MAX_BYTES, 8, false, 2), SFP_FG_TOO_BIG);
	}
	assert_int_equal(add(h, &good, 1480, 100, false, 3), SFP_FG_DONE);
	done(h);
	free(g);
}

/* one source holds at most per_source incomplete datagrams; its further
 * ones are refused at the first fragment and take no slot */
static void t_per_source_quota(void **st)
{
	(void)st;
	struct sfp_fg *g = mk(1024, 2000, 4);
	struct sfp_fg_key k = K;
	for (uint32_t i = 0; i < 4; i++) {
		k.id = (uint16_t)i;
		assert_int_equal(add(g, &k, 0, 1480, true, 10), SFP_FG_HELD);
	}
	for (uint32_t i = 4; i < 2000; i++) {
		k.id = (uint16_t)i;
		assert_int_equal(add(g, &k, 0, 1480, true, 10), SFP_FG_QUOTA);
	}
	assert_int_equal(g->holding, 4);
	assert_int_equal(released[SFP_FG_R_EVICTED], 0);
	/* held datagrams still complete, and free the quota */
	k.id = 0;
	assert_int_equal(add(g, &k, 1480, 8, false, 11), SFP_FG_DONE);
	k.id = 4000;
	assert_int_equal(add(g, &k, 0, 1480, true, 11), SFP_FG_HELD);
	/* other sources are not affected */
	struct sfp_fg_key o = K;
	o.src = 0x0a000002;
	assert_int_equal(add(g, &o, 0, 1480, true, 12), SFP_FG_HELD);
	assert_int_equal(add(g, &o, 1480, 1480, true, 12), SFP_FG_HELD);
	assert_int_equal(add(g, &o, 2960, 10, false, 12), SFP_FG_DONE);
	/* many sources coming and going: the counts stay exact (backward-shift
	 * deletion in the per-source table), whatever was evicted on the way */
	for (uint32_t round = 0; round < 50; round++) {
		for (uint32_t i = 0; i < 300; i++) {
			struct sfp_fg_key x = { 0x0f000000 + i * 7919, 0x0a4d0002, (uint16_t)round, 17 };
			add(g, &x, 0, 8, true, 100 + round);
		}
		for (uint32_t i = 0; i < 300; i++) {
			struct sfp_fg_key x = { 0x0f000000 + i * 7919, 0x0a4d0002, (uint16_t)round, 17 };
			add(g, &x, 8, 8, false, 100 + round);
		}
		uint32_t counted = 0;
		for (uint32_t i = 0; i <= g->mask; i++)
			counted += g->src[i].n;
		assert_int_equal(counted, g->holding);
	}
	sfp_fg_sweep(g, 100000);
	assert_int_equal(g->holding, 0);
	done(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_in_order_and_reverse),
		cmocka_unit_test(t_overlap_poisons),
		cmocka_unit_test(t_duplicate_too_many_too_big),
		cmocka_unit_test(t_evicts_oldest),
		cmocka_unit_test(t_per_source_quota),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
