/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy's forking logic without an EAL (RFC 3261 16.6, 16.7, 16.10):
 * a callee with two registered contacts, the forwarded INVITEs captured
 * from the px_env callbacks, the callees' responses fed back, and what
 * reaches the caller checked: only the best final once both branches
 * have ended (6xx first, else the lowest class, 503 sent up as 500), a
 * 2xx relayed at once with the other branch CANCELled, the caller's
 * CANCEL sent down both branches, ACKs hop by hop.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy.h"
#include "sip_auth.h"

#define CALLER_IP "10.0.0.9"
#define A_IP      "10.0.0.5" /* bob's first contact, port 5001 */
#define B_IP      "10.0.0.6" /* bob's second contact, port 5002 */

/* everything the proxy sent: by E.send (ip, port, text) or E.respond (code) */
#include "px_harness.h"

static struct sfp_logic_cfg lcfg;
static struct store *db;
static char dbpath[] = "/tmp/sipfp-test-proxy.XXXXXX";
static uint64_t now = 1000000;

static int setup(void **state)
{
	(void)state;
	db = harness_store(dbpath);
	/* two live contacts, each registered from its own address */
	harness_contact(db, "sip:bob@" A_IP ":5001", A_IP, 5001, now + 3600000, "reg-a");
	harness_contact(db, "sip:bob@" B_IP ":5002", B_IP, 5002, now + 1800000, "reg-b");
	harness_lcfg(&lcfg);
	struct px_env env = harness_env(db, &lcfg);
	assert_int_equal(px_init(&env), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	harness_close(db, dbpath);
	return 0;
}

static void feed(const char *src, uint16_t port, bool auth, const char *msg)
{
	harness_feed(src, port, auth, msg, now);
}

static char call_id[64], caller_branch[64];

/* the caller's authenticated INVITE; the two forwarded copies, A's first */
static void invite(struct out fwd[2])
{
	static unsigned n;
	char msg[1024];
	snprintf(call_id, sizeof(call_id), "fork-%u@" CALLER_IP, ++n);
	snprintf(caller_branch, sizeof(caller_branch), "z9hG4bK-caller-%u", n);
	snprintf(msg, sizeof(msg),
		 "INVITE sip:bob@10.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@10.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@" CALLER_IP ":5070>\r\nContent-Length: 0\r\n\r\n",
		 caller_branch, call_id);
	n_out = 0;
	feed(CALLER_IP, 5070, true, msg);
	assert_int_equal(n_out, 2);
	for (unsigned i = 0; i < 2; i++)
		assert_memory_equal(outs[i].text, "INVITE ", 7);
	/* the fresher binding (A) first */
	assert_int_equal(outs[0].ip, ip(A_IP));
	assert_int_equal(outs[0].port, 5001);
	assert_int_equal(outs[1].ip, ip(B_IP));
	fwd[0] = outs[0];
	fwd[1] = outs[1];
	n_out = 0;
}

/* the callee's response to a forwarded INVITE: its Via, From, To (with
 * a tag), Call-ID and CSeq, as a UAS copies them (8.2.6.2) */
static void respond(const struct out *fwd, unsigned code, const char *reason, const char *tag)
{
	char msg[4096];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "SIP/2.0 %u %s\r\n", code, reason);
	const char *l = strstr(fwd->text, "\r\n") + 2;
	while (strncmp(l, "\r\n", 2)) {
		const char *e = strstr(l, "\r\n");
		int len = (int)(e - l);
		if (!strncmp(l, "Via:", 4) || !strncmp(l, "From:", 5) || !strncmp(l, "Call-ID:", 8) ||
		    !strncmp(l, "CSeq:", 5))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s\r\n", len, l);
		else if (!strncmp(l, "To:", 3))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s;tag=%s\r\n", len, l, tag);
		l = e + 2;
	}
	snprintf(msg + n, sizeof(msg) - n, "Content-Length: 0\r\n\r\n");
	feed(fwd->ip == ip(A_IP) ? A_IP : B_IP, fwd->ip == ip(A_IP) ? 5001 : 5002, false, msg);
}

/* how many of the outputs since the last reset start with text and went to ip */
static unsigned sent(const char *text, const char *to)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n_out; i++)
		if (!strncmp(outs[i].text, text, strlen(text)) && outs[i].ip == ip(to))
			k++;
	return k;
}

static void caller_gets_nothing_final(void)
{
	for (unsigned i = 0; i < n_out; i++)
		if (outs[i].ip == ip(CALLER_IP))
			assert_true(strncmp(outs[i].text, "SIP/2.0 1", 9) == 0);
}

/* 16.7 step 6: the 486 waits for the other branch; the later 603 wins */
static void test_6xx_wins(void **state)
{
	(void)state;
	struct out f[2];
	invite(f);
	respond(&f[0], 486, "Busy Here", "ta");
	assert_int_equal(sent("ACK ", A_IP), 1); /* 17.1.1.3, hop by hop */
	caller_gets_nothing_final();
	respond(&f[1], 603, "Decline", "tb");
	assert_int_equal(sent("ACK ", B_IP), 1);
	assert_int_equal(sent("SIP/2.0 603 Decline", CALLER_IP), 1);
	assert_int_equal(sent("SIP/2.0 486", CALLER_IP), 0);
}

/* the lowest class wins; a 6xx CANCELs the branches still ringing */
static void test_lowest_class_and_6xx_cancels(void **state)
{
	(void)state;
	struct out f[2];
	invite(f);
	respond(&f[1], 180, "Ringing", "tb");
	assert_int_equal(sent("SIP/2.0 180", CALLER_IP), 1);
	n_out = 0;
	respond(&f[0], 600, "Busy Everywhere", "ta");
	assert_int_equal(sent("CANCEL ", B_IP), 1); /* 16.7 step 5 */
	caller_gets_nothing_final();
	respond(&f[1], 487, "Request Terminated", "tb");
	assert_int_equal(sent("SIP/2.0 600 Busy Everywhere", CALLER_IP), 1);

	invite(f);
	respond(&f[0], 503, "Service Unavailable", "ta");
	respond(&f[1], 486, "Busy Here", "tb");
	assert_int_equal(sent("SIP/2.0 486 Busy Here", CALLER_IP), 1);
	assert_int_equal(sent("SIP/2.0 5", CALLER_IP), 0);
}

/* a 503 is not passed up as such: the caller would take it for ours */
static void test_503_becomes_500(void **state)
{
	(void)state;
	struct out f[2];
	invite(f);
	respond(&f[0], 503, "Service Unavailable", "ta");
	respond(&f[1], 503, "Service Unavailable", "tb");
	assert_int_equal(sent("SIP/2.0 500 Server Internal Error", CALLER_IP), 1);
	assert_int_equal(sent("SIP/2.0 503", CALLER_IP), 0);
}

/* 16.7 step 10: a 2xx goes up at once and the other branch is CANCELled */
static void test_2xx_cancels_the_rest(void **state)
{
	(void)state;
	struct out f[2];
	invite(f);
	respond(&f[0], 180, "Ringing", "ta");
	respond(&f[1], 180, "Ringing", "tb");
	n_out = 0;
	respond(&f[1], 200, "OK", "tb");
	assert_int_equal(sent("SIP/2.0 200 OK", CALLER_IP), 1);
	assert_int_equal(sent("CANCEL ", A_IP), 1);
	assert_int_equal(sent("CANCEL ", B_IP), 0);
	n_out = 0;
	respond(&f[0], 487, "Request Terminated", "ta");
	assert_int_equal(sent("ACK ", A_IP), 1);
	assert_int_equal(n_out, 1); /* nothing for the caller: it has its 200 */
}

/* 16.10: the caller's CANCEL is answered and goes down both branches, one
 * of them only once it has sent a provisional (9.1); one 487 comes back */
static void test_caller_cancel(void **state)
{
	(void)state;
	struct out f[2];
	char msg[1024];
	invite(f);
	respond(&f[0], 180, "Ringing", "ta");
	n_out = 0;
	snprintf(msg, sizeof(msg),
		 "CANCEL sip:bob@10.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@10.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
		 "Content-Length: 0\r\n\r\n",
		 caller_branch, call_id);
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(outs[0].code, 200);
	assert_int_equal(sent("CANCEL ", A_IP), 1);
	assert_int_equal(sent("CANCEL ", B_IP), 0); /* no provisional from B yet */
	n_out = 0;
	respond(&f[1], 180, "Ringing", "tb");
	assert_int_equal(sent("CANCEL ", B_IP), 1);
	respond(&f[0], 487, "Request Terminated", "ta");
	respond(&f[1], 487, "Request Terminated", "tb");
	assert_int_equal(sent("SIP/2.0 487", CALLER_IP), 1);
	assert_int_equal(px_cnt.calls_cancelled, 1);
}

/* the store away (here: a transaction of the test's own holds it, so the
 * registrar's BEGIN fails): a REGISTER is answered 200 from memory and its
 * write journaled; past the journal's bound (journal_max, 1 here) 503;
 * once the store takes writes again, the journal is replayed */
static int count_binding(void *ctx, const struct store_binding *b)
{
	if (!strcmp(b->aor, "alice"))
		++*(unsigned *)ctx;
	return 0;
}

static void test_store_away_journal(void **state)
{
	(void)state;
	char msg[1024];
	uint64_t j0 = px_cnt.reg_journaled, f0 = px_cnt.reg_journal_full;
	assert_int_equal(store_begin(db), 0);
	for (unsigned k = 1; k <= 2; k++) {
		snprintf(msg, sizeof(msg),
			 "REGISTER sip:10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-reg%u\r\n"
			 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=r%u\r\nTo: <sip:alice@10.0.0.1>\r\n"
			 "Call-ID: reg-journal@" CALLER_IP "\r\nCSeq: %u REGISTER\r\n"
			 "Contact: <sip:alice@" CALLER_IP ":50%u0>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
			 k, k, k, k);
		n_out = 0;
		feed(CALLER_IP, 5070, true, msg);
		assert_int_equal(n_out, 1);
		assert_int_equal(outs[0].code, k == 1 ? 200 : 503);
	}
	assert_int_equal(px_cnt.reg_journaled, j0 + 1);
	assert_int_equal(px_cnt.reg_journal_full, f0 + 1);
	store_rollback(db);
	unsigned n = 0;
	assert_int_equal(store_binding_each(db, count_binding, &n), 0);
	assert_int_equal(n, 0); /* not written yet */
	now += 2000;
	px_tick(now); /* the registrar's second: the journal replayed */
	assert_int_equal(store_binding_each(db, count_binding, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(px_journal_len(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_6xx_wins),
		cmocka_unit_test(test_lowest_class_and_6xx_cancels),
		cmocka_unit_test(test_503_becomes_500),
		cmocka_unit_test(test_2xx_cancels_the_rest),
		cmocka_unit_test(test_caller_cancel),
		cmocka_unit_test(test_store_away_journal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
