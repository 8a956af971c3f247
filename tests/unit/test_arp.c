/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for next-hop resolution and the queue of frames waiting on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "arp_cache.h"

static struct sfp_arp A;
static uint32_t ip(const char *s) { return inet_addr(s); }
static const uint8_t MAC1[6] = { 2, 0, 0, 0, 0, 1 };
static int asked, dropped, sent;
static void ask(void *c, uint32_t nh) { (void)c; (void)nh; asked++; }
static void drop(void *c, void *f) { (void)c; (void)f; dropped++; }
static void out(void *c, void *f, const uint8_t m[6]) { (void)c; (void)f; assert_memory_equal(m, MAC1, 6); sent++; }

static int setup(void **st)
{
	(void)st;
	sfp_arp_init(&A, ip("10.77.0.2"), 24, ip("10.77.0.254"));
	asked = dropped = sent = 0;
	return 0;
}

static void t_next_hop(void **st)
{
	(void)st;
	assert_int_equal(sfp_arp_next_hop(&A, ip("10.77.0.1")), ip("10.77.0.1"));
	assert_int_equal(sfp_arp_next_hop(&A, ip("192.0.2.9")), ip("10.77.0.254"));
	assert_int_equal(sfp_arp_next_hop(&A, ip("10.77.0.2")), 0); /* ourselves */
	struct sfp_arp b;
	sfp_arp_init(&b, ip("10.77.0.2"), 24, 0);
	assert_int_equal(sfp_arp_next_hop(&b, ip("192.0.2.9")), 0); /* no gateway: no route */
}

static void t_learn_only_neighbours(void **st)
{
	(void)st;
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	sfp_arp_learn(&A, ip("192.0.2.9"), MAC1, 1);   /* off-subnet: ignored */
	assert_null(sfp_arp_lookup(&A, ip("192.0.2.9"), 1));
	sfp_arp_learn(&A, ip("10.77.0.9"), bcast, 1);  /* multicast MAC: ignored */
	assert_null(sfp_arp_lookup(&A, ip("10.77.0.9"), 1));
	sfp_arp_learn(&A, ip("10.77.0.1"), MAC1, 1);
	assert_memory_equal(sfp_arp_lookup(&A, ip("10.77.0.1"), 2), MAC1, 6);
	/* forgotten after the TTL */
	assert_null(sfp_arp_lookup(&A, ip("10.77.0.1"), 2 + SFP_ARP_TTL_MS));
}

static void t_park_release(void **st)
{
	(void)st;
	int f1, f2;
	uint32_t nh = ip("10.77.0.1");
	assert_int_equal(sfp_arp_park(&A, nh, &f1, 10), SFP_ARPQ_QUEUED_ASK);
	assert_int_equal(sfp_arp_park(&A, nh, &f2, 11), SFP_ARPQ_QUEUED); /* one request is enough */
	sfp_arp_tick(&A, 12, ask, drop, NULL);
	assert_int_equal(asked, 0);
	sfp_arp_learn(&A, nh, MAC1, 20);
	sfp_arp_release(&A, nh, MAC1, out, NULL);
	assert_int_equal(sent, 2);
	assert_int_equal(A.n_pending, 0);
}

static void t_unanswered_dropped(void **st)
{
	(void)st;
	int f;
	uint32_t nh = ip("10.77.0.77");
	uint64_t t = 100;
	assert_int_equal(sfp_arp_park(&A, nh, &f, t), SFP_ARPQ_QUEUED_ASK);
	for (int i = 0; i < 20; i++) {
		t += SFP_ARP_RETRY_MS;
		sfp_arp_tick(&A, t, ask, drop, NULL);
	}
	assert_int_equal(asked, SFP_ARP_TRIES - 1); /* the first was the caller's */
	assert_int_equal(dropped, 1);
	assert_int_equal(A.n_pending, 0);
	/* a later frame starts over */
	assert_int_equal(sfp_arp_park(&A, nh, &f, t + 1), SFP_ARPQ_QUEUED_ASK);
}

static void t_bounded(void **st)
{
	(void)st;
	static int f[SFP_ARP_PENDING + 10];
	unsigned full = 0;
	for (unsigned i = 0; i < SFP_ARP_PENDING + 10; i++)
		full += sfp_arp_park(&A, ip("10.77.0.1"), &f[i], 1) == SFP_ARPQ_FULL;
	assert_int_equal(full, 10);
	assert_int_equal(A.n_pending, SFP_ARP_PENDING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_next_hop, setup),
		cmocka_unit_test_setup(t_learn_only_neighbours, setup),
		cmocka_unit_test_setup(t_park_release, setup),
		cmocka_unit_test_setup(t_unanswered_dropped, setup),
		cmocka_unit_test_setup(t_bounded, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
