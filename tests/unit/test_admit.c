/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for admission control: buckets, bans, allow list, brute force, UA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"

static uint32_t A(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void t_bucket_burst_and_refill(void **st)
{
	(void)st;
	struct sfp_rl *t = malloc(sfp_rl_size(64));
	sfp_rl_init(t, 64);
	struct sfp_rl_limits l = { .rate = { 10, 2 }, .burst = { 20, 3 } };
	struct sfp_rl_entry *e = sfp_rl_get(t, A("192.0.2.1"), 1000, &l);
	for (int i = 0; i < 20; i++)
		assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	assert_false(sfp_rl_take(e, SFP_RL_ALL, &l));
	/* the out-of-dialog bucket is separate */
	for (int i = 0; i < 3; i++)
		assert_true(sfp_rl_take(e, SFP_RL_OOD, &l));
	assert_false(sfp_rl_take(e, SFP_RL_OOD, &l));
	/* 10/s: 100 ms gives one token back; 2/s: 500 ms gives one */
	e = sfp_rl_get(t, A("192.0.2.1"), 1100, &l);
	assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	assert_false(sfp_rl_take(e, SFP_RL_ALL, &l));
	assert_false(sfp_rl_take(e, SFP_RL_OOD, &l));
	e = sfp_rl_get(t, A("192.0.2.1"), 1600, &l);
	assert_true(sfp_rl_take(e, SFP_RL_OOD, &l));
	/* a long silence refills to the burst, not beyond */
	e = sfp_rl_get(t, A("192.0.2.1"), 100000, &l);
	for (int i = 0; i < 20; i++)
		assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	assert_false(sfp_rl_take(e, SFP_RL_ALL, &l));
	/* another source is not affected */
	e = sfp_rl_get(t, A("192.0.2.2"), 100000, &l);
	assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	/* rate 0 means no limit */
	struct sfp_rl_limits off = { .rate = { 0, 0 }, .burst = { 1, 1 } };
	e = sfp_rl_get(t, A("192.0.2.3"), 1, &off);
	for (int i = 0; i < 1000; i++)
		assert_true(sfp_rl_take(e, SFP_RL_ALL, &off));
	free(t);
}

static void t_bucket_bounded_eviction(void **st)
{
	(void)st;
	/* 8 entries: one set; a scan of 1000 addresses keeps the table at 8
	 * and evicts the least recently seen */
	struct sfp_rl *t = malloc(sfp_rl_size(8));
	sfp_rl_init(t, 8);
	assert_int_equal(t->mask, 0);
	struct sfp_rl_limits l = { .rate = { 1, 1 }, .burst = { 1, 1 } };
	struct sfp_rl_entry *e = sfp_rl_get(t, A("198.51.100.1"), 10, &l);
	assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	for (uint32_t i = 0; i < 1000; i++)
		sfp_rl_get(t, htonl(0x0a000000u + i), 20 + i, &l);
	assert_int_equal(t->evictions, 1000 - 7);
	/* the evicted source comes back with a full bucket: eviction forgets,
	 * which is why the table must hold more sources than a flood has */
	e = sfp_rl_get(t, A("198.51.100.1"), 2000, &l);
	assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	/* lowering the burst at run time caps what a source had saved */
	struct sfp_rl_limits big = { .rate = { 1, 1 }, .burst = { 100, 1 } };
	e = sfp_rl_get(t, A("198.51.100.9"), 3000, &big);
	assert_true(sfp_rl_take(e, SFP_RL_ALL, &l));
	assert_false(sfp_rl_take(e, SFP_RL_ALL, &l));
	free(t);
}

static void t_ban_add_lookup_expire(void **st)
{
	(void)st;
	struct sfp_ban_table *t = calloc(1, sizeof(*t));
	uint32_t ip = A("203.0.113.7");
	assert_false(sfp_ban_lookup(t, ip, 5060, 0));
	assert_int_equal(sfp_ban_add(t, ip, 0, 100, 1100, SFP_BAN_SOURCE_FAILS, 5), 0);
	assert_true(sfp_ban_lookup(t, ip, 5060, 500));
	assert_true(sfp_ban_lookup(t, ip, 1234, 500));
	assert_false(sfp_ban_lookup(t, A("203.0.113.8"), 5060, 500));
	/* expired: not enforced even before the sweep, then swept */
	assert_false(sfp_ban_lookup(t, ip, 5060, 1100));
	assert_int_equal(sfp_ban_expire(t, 1100), 1);
	assert_int_equal(t->count, 0);
	/* by address and port: the rest of the NAT is untouched */
	assert_int_equal(sfp_ban_add(t, ip, 5062, 0, 0, SFP_BAN_MANUAL, 0), 0);
	assert_true(sfp_ban_lookup(t, ip, 5062, 99999999));
	assert_false(sfp_ban_lookup(t, ip, 5060, 0));
	/* an automatic ban does not shorten a manual one */
	assert_int_equal(sfp_ban_add(t, ip, 5062, 0, 10, SFP_BAN_SOURCE_FAILS, 3), 1);
	assert_true(sfp_ban_lookup(t, ip, 5062, 20));
	assert_int_equal(sfp_ban_del(t, ip, 5062), 0);
	assert_int_equal(sfp_ban_del(t, ip, 5062), -1);
	assert_false(sfp_ban_lookup(t, ip, 5062, 20));
	free(t);
}

static void t_ban_many_and_deletes(void **st)
{
	(void)st;
	struct sfp_ban_table *t = calloc(1, sizeof(*t));
	/* fill to the maximum, delete every third, check every survivor is
	 * still found (backward-shift deletion keeps probe chains whole) */
	for (uint32_t i = 0; i < SFP_BAN_MAX; i++)
		assert_int_equal(sfp_ban_add(t, htonl(0x0a000000u + i), 0, 0, 0, SFP_BAN_MANUAL, 0), 0);
	assert_int_equal(sfp_ban_add(t, A("1.2.3.4"), 0, 0, 0, SFP_BAN_MANUAL, 0), -1);
	for (uint32_t i = 0; i < SFP_BAN_MAX; i += 3)
		assert_int_equal(sfp_ban_del(t, htonl(0x0a000000u + i), 0), 0);
	for (uint32_t i = 0; i < SFP_BAN_MAX; i++)
		assert_int_equal(sfp_ban_lookup(t, htonl(0x0a000000u + i), 9, 0), i % 3 != 0);
	struct sfp_ban *snap = calloc(SFP_BAN_MAX, sizeof(*snap));
	unsigned n = sfp_ban_snapshot(t, snap, SFP_BAN_MAX);
	assert_int_equal(n, t->count);
	assert_int_equal(n, SFP_BAN_MAX - (SFP_BAN_MAX + 2) / 3);
	/* half expire at 50, the others are permanent; the sweep takes the
	 * first half only, and the survivors are all still found */
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < 2000; i++)
		sfp_ban_add(t, htonl(0xc0a80000u + i), (uint16_t)(i & 1 ? 5060 : 0), 0,
			    i % 2 ? 50 : 0, SFP_BAN_SOURCE_FAILS, 1);
	assert_int_equal(sfp_ban_expire(t, 60), 1000);
	for (uint32_t i = 0; i < 2000; i += 2)
		assert_true(sfp_ban_lookup(t, htonl(0xc0a80000u + i), 1, 60));
	assert_int_equal(sfp_ban_clear_manual(t), 0);
	sfp_ban_add(t, A("9.9.9.9"), 0, 0, 0, SFP_BAN_MANUAL, 0);
	assert_int_equal(sfp_ban_clear_manual(t), 1);
	assert_int_equal(t->count, 1000);
	free(snap);
	free(t);
}

static void t_allow(void **st)
{
	(void)st;
	struct sfp_allow_list *l = calloc(1, sizeof(*l));
	char err[128];
	assert_false(sfp_allow_match(l, A("10.1.2.3")));
	assert_int_equal(sfp_allow_parse_list(l, " 10.0.0.0/8, 192.0.2.17 ,", err, sizeof(err)), 0);
	assert_int_equal(l->n, 2);
	assert_true(sfp_allow_match(l, A("10.200.0.1")));
	assert_true(sfp_allow_match(l, A("192.0.2.17")));
	assert_false(sfp_allow_match(l, A("192.0.2.18")));
	assert_false(sfp_allow_match(l, A("11.0.0.1")));
	assert_int_equal(sfp_allow_parse_list(l, "10.0.0.1/8", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "10.0.0.1/8"));
	assert_int_equal(sfp_allow_parse_list(l, "10.0.0.0/33", err, sizeof(err)), -1);
	assert_int_equal(sfp_allow_parse_list(l, "banana", err, sizeof(err)), -1);
	assert_int_equal(sfp_allow_add(l, A("198.51.100.0"), 24, false), 0);
	assert_int_equal(sfp_allow_add(l, A("198.51.100.0"), 24, false), 1);
	assert_true(sfp_allow_match(l, A("198.51.100.99")));
	sfp_allow_clear_runtime(l);
	assert_false(sfp_allow_match(l, A("198.51.100.99")));
	assert_true(sfp_allow_match(l, A("10.0.0.9")));
	assert_int_equal(sfp_allow_del(l, A("10.0.0.0"), 8), 0);
	assert_int_equal(sfp_allow_del(l, A("10.0.0.0"), 8), -1);
	assert_false(sfp_allow_match(l, A("10.0.0.9")));
	struct sfp_cidr c[4];
	assert_int_equal(sfp_allow_snapshot(l, c, 4), 1);
	assert_int_equal(c[0].len, 32);
	/* 0.0.0.0/0 allows everything */
	assert_int_equal(sfp_allow_add(l, 0, 0, false), 0);
	assert_true(sfp_allow_match(l, A("8.8.8.8")));
	free(l);
}

static void t_parse_hostport(void **st)
{
	(void)st;
	uint32_t ip;
	uint16_t port;
	assert_int_equal(sfp_hostport_parse("203.0.113.9", &ip, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(ip, A("203.0.113.9"));
	assert_int_equal(sfp_hostport_parse("203.0.113.9:5062", &ip, &port), 0);
	assert_int_equal(port, 5062);
	assert_int_equal(sfp_hostport_parse("203.0.113.9:0", &ip, &port), -1);
	assert_int_equal(sfp_hostport_parse("203.0.113.9:65536", &ip, &port), -1);
	assert_int_equal(sfp_hostport_parse("203.0.113.9:", &ip, &port), -1);
	assert_int_equal(sfp_hostport_parse("host:1", &ip, &port), -1);
	assert_int_equal(sfp_hostport_parse("", &ip, &port), -1);
}

static void t_brute_force_window(void **st)
{
	(void)st;
	struct sfp_bf *t = malloc(sfp_bf_size(16));
	sfp_bf_init(t, 16);
	for (uint32_t i = 1; i <= 5; i++)
		assert_int_equal(sfp_bf_fail(t, 42, 1000 + i, 60000), i);
	/* the window restarts after it ends */
	assert_int_equal(sfp_bf_fail(t, 42, 1000 + 60001, 60000), 1);
	assert_int_equal(sfp_bf_fail(t, 43, 1000, 60000), 1);
	sfp_bf_forget(t, 42);
	assert_int_equal(sfp_bf_fail(t, 42, 70000, 60000), 1);
	/* bounded: many keys evict the oldest windows, never grow */
	for (uint64_t k = 100; k < 10000; k++)
		sfp_bf_fail(t, k, k, 60000);
	free(t);
}

static void t_user_agent(void **st)
{
	(void)st;
	struct sfp_ua_list l;
	char err[128];
	assert_int_equal(sfp_ua_parse(&l, "friendly-scanner,sipvicious,sipcli,VaxSIPUserAgent,pplsip",
				      err, sizeof(err)), 0);
	assert_int_equal(l.n, 5);
	const char *bad[] = { "friendly-scanner", "SIPVicious 0.3.4", "sipcli/v1.8",
			      "VaxSIPUserAgent/3.1", "PPLSIP" };
	for (unsigned i = 0; i < 5; i++)
		assert_true(sfp_ua_match(&l, bad[i], strlen(bad[i])));
	const char *good = "Linphone/5.2 (belle-sip/5.2)";
	assert_false(sfp_ua_match(&l, good, strlen(good)));
	assert_false(sfp_ua_match(&l, NULL, 0));
	/* at the very end, one octet short of it, and a near miss */
	assert_true(sfp_ua_match(&l, "x/PPLSIP", 8));
	assert_false(sfp_ua_match(&l, "x/PPLSIP", 7));
	assert_false(sfp_ua_match(&l, "sipclI", 5));
	assert_false(sfp_ua_match(&l, "sipviciou sipcl friendly-scanne", 31));
	/* only the start of a huge value is searched */
	char *big = malloc(70000);
	memset(big, 'x', 70000);
	memcpy(big + 60000, "sipvicious", 10);
	assert_false(sfp_ua_match(&l, big, 70000));
	memcpy(big + 10, "sipvicious", 10);
	assert_true(sfp_ua_match(&l, big, 70000));
	free(big);
	char longp[100];
	memset(longp, 'a', 99);
	longp[99] = 0;
	assert_int_equal(sfp_ua_parse(&l, longp, err, sizeof(err)), -1);
	assert_int_equal(sfp_ua_parse(&l, "", err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_bucket_burst_and_refill),
		cmocka_unit_test(t_bucket_bounded_eviction),
		cmocka_unit_test(t_ban_add_lookup_expire),
		cmocka_unit_test(t_ban_many_and_deletes),
		cmocka_unit_test(t_allow),
		cmocka_unit_test(t_parse_hostport),
		cmocka_unit_test(t_brute_force_window),
		cmocka_unit_test(t_user_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
