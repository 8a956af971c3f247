/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media anchoring in the control process, without an EAL: the port pool
 * (O(1), FIFO, quarantine, exhaustion) and a call through the proxy with
 * media on: the SDP each side receives, the flows pushed to the fast
 * path, 503 when the ports run out, 488 for SDP that cannot be read, the
 * ports back (in quarantine) when the call ends.
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

#include "media.h"
#include "proxy.h"
#include "sip_auth.h"

/* ---- the pool ------------------------------------------------------------- */

static void t_pool(void **st)
{
	(void)st;
	struct md_unit_pool p;
	assert_int_equal(md_pool_init(&p, 20000, 20002, 0), -1); /* under one unit */
	assert_int_equal(md_pool_init(&p, 20000, 20011, 1000), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(md_pool_get(&p, 1), 20000);
	assert_int_equal(md_pool_get(&p, 1), 20004);
	assert_int_equal(md_pool_get(&p, 1), 20008);
	assert_int_equal(md_pool_get(&p, 1), 0); /* exhausted */
	md_pool_put(&p, 20004, 5000);
	md_pool_put(&p, 20000, 5500);
	assert_int_equal(md_pool_get(&p, 5999), 0); /* quarantine */
	assert_int_equal(md_pool_get(&p, 6000), 20004); /* the first put back first */
	assert_int_equal(md_pool_get(&p, 6000), 0);
	assert_int_equal(md_pool_get(&p, 6500), 20000);
	md_pool_put(&p, 12345, 7000); /* not ours: ignored */
	md_pool_put(&p, 20008, 7000);
	md_pool_put(&p, 20008, 7000); /* twice: the pool never holds more than n */
	assert_true(p.count <= p.n);
	md_pool_free(&p);

	/* units in use at start (adopted after a restart) leave the pool */
	assert_int_equal(md_pool_init(&p, 20000, 20015, 0), 0);
	assert_int_equal(md_pool_take(&p, 20004), 0);
	assert_int_equal(md_pool_take(&p, 20004), -1); /* not free any more */
	assert_int_equal(md_pool_take(&p, 19996), -1);
	assert_int_equal(md_pool_get(&p, 1), 20000);
	assert_int_equal(md_pool_get(&p, 1), 20008);
	assert_int_equal(md_pool_get(&p, 1), 20012);
	assert_int_equal(md_pool_get(&p, 1), 0);
	md_pool_free(&p);

	/* the whole default range: 5,000 units, each handed out once */
	assert_int_equal(md_pool_init(&p, 20000, 39999, 30000), 0);
	assert_int_equal(p.n, 5000);
	for (uint32_t i = 0; i < 5000; i++)
		assert_int_equal(md_pool_get(&p, 1), 20000 + 4 * i);
	assert_int_equal(md_pool_get(&p, 1), 0);
	md_pool_free(&p);
}

/* ---- a call through the proxy with media on ---------------------------------- */

#define CALLER_IP "10.0.0.9"
#define CALLEE_IP "10.0.0.5"

#include "px_harness.h"

static struct sfp_media_msg pushed[64];
static uint16_t pushed_op[64];
static unsigned n_pushed;

static void cb_push(uint16_t op, const struct sfp_media_msg *mm)
{
	assert_true(n_pushed < 64);
	pushed_op[n_pushed] = op;
	pushed[n_pushed++] = *mm;
}

static struct sfp_logic_cfg lcfg;
static struct store *db;
static char dbpath[] = "/tmp/sipfp-test-media.XXXXXX";
static uint64_t now = 1000000;

static int setup(void **state)
{
	(void)state;
	db = harness_store(dbpath);
	harness_contact(db, "sip:bob@" CALLEE_IP ":5001", CALLEE_IP, 5001, now + 3600000, "reg-a");
	harness_lcfg(&lcfg);
	lcfg.retry_after = 5;
	struct px_env env = harness_env(db, &lcfg);
	env.media = true;
	snprintf(env.media_addrs[0], sizeof(env.media_addrs[0]), "10.0.0.1");
	snprintf(env.media_addrs[1], sizeof(env.media_addrs[1]), "10.0.0.2");
#ifdef TWO_ADDRS
	env.media_n_addr = 2; /* one call each */
	env.media_last = 20003;
#else
	env.media_n_addr = 1; /* two calls */
	env.media_last = 20007;
#endif
	env.media_first = 20000;
	env.media_quarantine_ms = 1000;
	env.media_latch = SFP_LATCH_ON;
	env.media_latch_window_ms = 10000;
	env.media_push = cb_push;
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

static const char offer[] = "v=0\r\no=alice 1 1 IN IP4 " CALLER_IP "\r\ns=-\r\nc=IN IP4 " CALLER_IP
			    "\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
static const char answer[] = "v=0\r\no=bob 2 2 IN IP4 " CALLEE_IP "\r\ns=-\r\nc=IN IP4 " CALLEE_IP
			     "\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

static void invite(unsigned k, const char *sdp)
{
	char msg[2048];
	snprintf(msg, sizeof(msg),
		 "INVITE sip:bob@10.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-m%u;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a%u\r\n"
		 "To: <sip:bob@10.0.0.1>\r\nCall-ID: media-%u\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@" CALLER_IP ":5070>\r\nContent-Type: application/sdp\r\n"
		 "Content-Length: %zu\r\n\r\n%s", k, k, k, strlen(sdp), sdp);
	n_out = n_pushed = 0;
	feed(CALLER_IP, 5070, true, msg);
}

/* the callee's answer to the INVITE forwarded in outs[0] */
static void answer_it(const char *status, const char *sdp)
{
	char msg[4096], fwd[4096];
	snprintf(fwd, sizeof(fwd), "%s", outs[0].text);
	size_t n = (size_t)snprintf(msg, sizeof(msg), "SIP/2.0 %s\r\n", status);
	const char *l = strstr(fwd, "\r\n") + 2;
	while (strncmp(l, "\r\n", 2)) {
		const char *e = strstr(l, "\r\n");
		int len = (int)(e - l);
		if (!strncmp(l, "Via:", 4) || !strncmp(l, "From:", 5) || !strncmp(l, "Call-ID:", 8) ||
		    !strncmp(l, "CSeq:", 5) || !strncmp(l, "Record-Route:", 13))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s\r\n", len, l);
		else if (!strncmp(l, "To:", 3))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s;tag=b1\r\n", len, l);
		l = e + 2;
	}
	snprintf(msg + n, sizeof(msg) - n,
		 "Contact: <sip:bob@" CALLEE_IP ":5001>\r\n%sContent-Length: %zu\r\n\r\n%s",
		 sdp ? "Content-Type: application/sdp\r\n" : "", sdp ? strlen(sdp) : 0, sdp ? sdp : "");
	n_out = n_pushed = 0;
	feed(CALLEE_IP, 5001, false, msg);
}

static const struct sfp_media_msg *flow(uint16_t port)
{
	for (unsigned i = n_pushed; i-- > 0;)
		if (pushed[i].port == port && pushed_op[i] == SFP_OP_MEDIA_SET)
			return &pushed[i];
	return NULL;
}

static void __attribute__((unused)) t_call(void **st)
{
	(void)st;
	invite(1, offer);
	assert_int_equal(n_out, 1);
	/* the callee is offered sipfp's address and its B-facing port */
	assert_non_null(strstr(outs[0].text, "c=IN IP4 10.0.0.1\r\n"));
	assert_non_null(strstr(outs[0].text, "m=audio 20002 RTP/AVP 0\r\n"));
	assert_null(strstr(strstr(outs[0].text, "\r\n\r\n"), CALLER_IP));
	char cl[48];
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(strstr(outs[0].text, "\r\n\r\n") + 4));
	assert_non_null(strstr(outs[0].text, cl));
	/* four flows; the B-facing one sends to the caller's SDP address */
	assert_int_equal(n_pushed, 4);
	const struct sfp_media_msg *f = flow(20002);
	assert_non_null(f);
	assert_int_equal(f->out_port, 20000);
	assert_int_equal(f->to_ip, ip(CALLER_IP));
	assert_int_equal(f->to_port, 6000);
	assert_int_equal(f->reset, 1);
	assert_int_equal(flow(20003)->to_port, 6001); /* RTCP */
	assert_int_equal(flow(20000)->to_port, 0);    /* the callee is not known yet */

	answer_it("200 OK", answer);
	/* the caller gets sipfp's address and its A-facing port */
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].ip, ip(CALLER_IP));
	assert_non_null(strstr(outs[0].text, "m=audio 20000 RTP/AVP 0\r\n"));
	assert_null(strstr(strstr(outs[0].text, "\r\n\r\n"), CALLEE_IP));
	f = flow(20000);
	assert_int_equal(f->to_ip, ip(CALLEE_IP));
	assert_int_equal(f->to_port, 7000);
	assert_int_equal(f->out_port, 20002);
	assert_int_equal(f->expect_ip, ip(CALLER_IP));
	assert_int_equal(md_sessions(), 1);

	/* a second call takes the second unit; a third finds none: 503 */
	invite(2, offer);
	assert_non_null(strstr(outs[0].text, "m=audio 20006 "));
	invite(3, offer);
	assert_int_equal(outs[0].code, 503);
	assert_non_null(strstr(outs[0].text, "Retry-After: 5\r\n"));
	assert_int_equal(px_cnt.media_no_ports, 1);
	assert_int_equal(md_sessions(), 2);

	/* SDP that cannot be read: 488, and no ports held for it */
	invite(4, "v=0\r\nthis is not SDP\r\n");
	assert_int_equal(outs[0].code, 488);
	assert_int_equal(md_sessions(), 2);

	/* call 1 ends: its four flows go, its unit waits out the quarantine */
	char bye[1024];
	snprintf(bye, sizeof(bye),
		 "BYE sip:bob@" CALLEE_IP ":5001 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-bye1;rport\r\n"
		 "Route: <sip:10.0.0.1:5060;lr>\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@10.0.0.1>;tag=b1\r\nCall-ID: media-1\r\nCSeq: 2 BYE\r\n"
		 "Content-Length: 0\r\n\r\n");
	n_out = 0;
	feed(CALLER_IP, 5070, false, bye);
	assert_int_equal(n_out, 1);
	answer_it("200 OK", NULL);
	unsigned dels = 0;
	for (unsigned i = 0; i < n_pushed; i++)
		dels += pushed_op[i] == SFP_OP_MEDIA_DEL && pushed[i].port >= 20000 && pushed[i].port < 20004;
	assert_int_equal(dels, 4);
	assert_int_equal(md_sessions(), 1);
	assert_int_equal(px_cnt.media_sessions - px_cnt.media_ended, md_sessions());
}

/* two media addresses of one port unit each (built with -DTWO_ADDRS):
 * calls go round robin, each call's SDP and flows on its own address;
 * when both are taken the next call gets 503, and an ended call's
 * address is the one that serves again */
static void __attribute__((unused)) t_two_addrs(void **st)
{
	(void)st;
	invite(11, offer);
	assert_int_equal(n_out, 1);
	assert_non_null(strstr(outs[0].text, "c=IN IP4 10.0.0.1\r\n"));
	assert_int_equal(n_pushed, 4);
	for (unsigned i = 0; i < n_pushed; i++)
		assert_int_equal(pushed[i].addr, 0);
	invite(12, offer);
	assert_int_equal(n_out, 1);
	assert_non_null(strstr(outs[0].text, "c=IN IP4 10.0.0.2\r\n"));
	assert_non_null(strstr(outs[0].text, "m=audio 20002 RTP/AVP 0\r\n")); /* the same ports, another address */
	for (unsigned i = 0; i < n_pushed; i++)
		assert_int_equal(pushed[i].addr, 1);
	answer_it("200 OK", answer); /* its answer: the caller sees the same address */
	assert_non_null(strstr(outs[0].text, "c=IN IP4 10.0.0.2\r\n"));
	for (unsigned i = 0; i < n_pushed; i++)
		assert_int_equal(pushed[i].addr, 1);
	invite(13, offer);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].code, 503);
	md_end("media-11", "test");
	now += 2000; /* past the quarantine */
	invite(14, offer);
	assert_int_equal(n_out, 1);
	assert_non_null(strstr(outs[0].text, "c=IN IP4 10.0.0.1\r\n"));
}

int main(void)
{
	const struct CMUnitTest pool[] = { cmocka_unit_test(t_pool) };
#ifdef TWO_ADDRS
	const struct CMUnitTest call[] = { cmocka_unit_test(t_two_addrs) };
#else
	const struct CMUnitTest call[] = { cmocka_unit_test(t_call) };
#endif
	int rc = cmocka_run_group_tests(pool, NULL, NULL);
	return rc | cmocka_run_group_tests(call, setup, teardown);
}
