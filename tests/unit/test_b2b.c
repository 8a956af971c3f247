/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The back-to-back mode's leg mapping without an EAL: a caller (leg A)
 * and a callee with two registered contacts (leg B forks), every message
 * sipfp sends captured from the px_env callbacks.  Checked: B's INVITE is
 * a new dialog (Call-ID, From-tag, CSeq, Via, Contact of sipfp; nothing
 * of A's topology), responses and in-dialog requests go across with each
 * leg's own Call-ID, tags and CSeq numbering, a BYE on either leg ends
 * both, the second fork's 2xx is ACKed and BYEd, errors settle into one
 * final (503 as 500), REFER and CSeq out of order are refused, 422 makes
 * sipfp try again, and a missed session refresh ends both legs.
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
#include "px.h"
#include "sip_auth.h"

#define CALLER_IP "10.0.0.9"
#define C1_IP     "10.0.0.5" /* bob's first contact, port 5001 */
#define C2_IP     "10.0.0.6" /* bob's second contact, port 5002 */

#include "px_harness.h"

static struct sfp_logic_cfg lcfg;
static struct store *db;
static char dbpath[] = "/tmp/sipfp-test-b2b.XXXXXX";
static uint64_t now = 1000000;

static int setup(void **state)
{
	(void)state;
	db = harness_store(dbpath);
	harness_contact(db, "sip:bob@" C1_IP ":5001", C1_IP, 5001, now + 3600000, "reg-a");
	harness_contact(db, "sip:bob@" C2_IP ":5002", C2_IP, 5002, now + 1800000, "reg-b");
	harness_lcfg(&lcfg);
	struct px_env env = harness_env(db, &lcfg);
	env.b2bua = true;
	env.session_expires = 1800;
	env.min_se = 90;
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

/* the value of header name in text (first one), "" if none */
static const char *hv(const char *text, const char *name)
{
	static char v[8][512];
	static unsigned k;
	char *o = v[k++ & 7];
	o[0] = '\0';
	size_t nl = strlen(name);
	for (const char *l = strstr(text, "\r\n"); l && strncmp(l, "\r\n\r\n", 4); l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, name, nl) && l[2 + nl] == ':') {
			const char *s = l + 3 + nl, *e = strstr(s, "\r\n");
			while (*s == ' ')
				s++;
			snprintf(o, 512, "%.*s", (int)(e - s), s);
			break;
		}
	}
	return o;
}

static unsigned count_hdr(const char *text, const char *name)
{
	unsigned n = 0;
	size_t nl = strlen(name);
	for (const char *l = strstr(text, "\r\n"); l && strncmp(l, "\r\n\r\n", 4); l = strstr(l + 2, "\r\n"))
		if (!strncasecmp(l + 2, name, nl) && l[2 + nl] == ':')
			n++;
	return n;
}

/* the header section of text (the SDP is not anchored here: media off) */
static const char *head(const char *text)
{
	static char h[4096];
	const char *e = strstr(text, "\r\n\r\n");
	snprintf(h, sizeof(h), "%.*s", e ? (int)(e - text) : (int)strlen(text), text);
	return h;
}

/* the output that starts with text and went to ip; NULL if none */
static const struct out *sent_to(const char *text, const char *to)
{
	for (unsigned i = 0; i < n_out; i++)
		if (!strncmp(outs[i].text, text, strlen(text)) && outs[i].ip == ip(to))
			return &outs[i];
	return NULL;
}

static unsigned n_sent(const char *text, const char *to)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n_out; i++)
		if (!strncmp(outs[i].text, text, strlen(text)) && outs[i].ip == ip(to))
			k++;
	return k;
}

static const char SDP[] = "v=0\r\no=a 1 1 IN IP4 " CALLER_IP "\r\ns=-\r\nc=IN IP4 " CALLER_IP
			  "\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";

static char a_cid[64], a_branch[64];
static struct out fork_inv[2];

/* alice's INVITE (with Session-ID and a timer of her own); the two INVITEs on B */
static void invite(const char *extra)
{
	static unsigned n;
	char msg[2048];
	snprintf(a_cid, sizeof(a_cid), "a-leg-%u@" CALLER_IP, ++n);
	snprintf(a_branch, sizeof(a_branch), "z9hG4bK-alice-%u", n);
	snprintf(msg, sizeof(msg),
		 "INVITE sip:bob@10.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=%s;rport\r\n"
		 "Max-Forwards: 42\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@10.0.0.1>\r\nCall-ID: %s\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:alice@192.168.1.9:5070>\r\nRecord-Route: <sip:hidden.example;lr>\r\n"
		 "Session-ID: ab30317f1a784dc48ff824d0d3715d86\r\n%s"
		 "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		 a_branch, a_cid, extra ? extra : "", strlen(SDP), SDP);
	n_out = 0;
	feed(CALLER_IP, 5070, true, msg);
	assert_int_equal(n_sent("INVITE ", C1_IP), 1);
	assert_int_equal(n_sent("INVITE ", C2_IP), 1);
	fork_inv[0] = *sent_to("INVITE ", C1_IP);
	fork_inv[1] = *sent_to("INVITE ", C2_IP);
	n_out = 0;
}

/* a callee's response to one of sipfp's requests: Via, From, To (+tag),
 * Call-ID, CSeq copied (8.2.6.2), then extra and a Contact */
static void answer(const struct out *req, const char *from, uint16_t port, unsigned code, const char *reason,
		   const char *tag, const char *extra)
{
	char msg[4096];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "SIP/2.0 %u %s\r\n", code, reason);
	const char *l = strstr(req->text, "\r\n") + 2;
	while (strncmp(l, "\r\n", 2)) {
		const char *e = strstr(l, "\r\n");
		int len = (int)(e - l);
		if (!strncmp(l, "Via:", 4) || !strncmp(l, "From:", 5) || !strncmp(l, "Call-ID:", 8) ||
		    !strncmp(l, "CSeq:", 5))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s\r\n", len, l);
		else if (!strncmp(l, "To:", 3))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%.*s%s%s\r\n", len, l,
					      tag && !strstr(l, ";tag=") ? ";tag=" : "",
					      tag && !strstr(l, ";tag=") ? tag : "");
		l = e + 2;
	}
	snprintf(msg + n, sizeof(msg) - n, "Contact: <sip:bob@%s:%u>\r\n%sContent-Length: 0\r\n\r\n", from, port,
		 extra ? extra : "");
	feed(from, port, false, msg);
}

/* a new dialog on B, nothing of A's topology in it */
static void test_b_leg_is_a_new_dialog(void **state)
{
	(void)state;
	invite(NULL);
	for (unsigned k = 0; k < 2; k++) {
		const char *t = fork_inv[k].text;
		const char *cid = hv(t, "Call-ID");
		assert_string_not_equal(cid, a_cid);
		assert_null(strstr(head(t), "a-leg-"));
		assert_null(strstr(head(t), CALLER_IP));
		assert_null(strstr(head(t), "192.168.1.9"));
		assert_null(strstr(head(t), "hidden.example"));
		assert_int_equal(count_hdr(t, "Via"), 1);
		assert_non_null(strstr(hv(t, "Via"), "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK"));
		assert_string_equal(hv(t, "Contact"), "<sip:10.0.0.1:5060>");
		assert_string_equal(hv(t, "Max-Forwards"), "41"); /* RFC 7332 */
		assert_string_equal(hv(t, "CSeq"), "1 INVITE");
		assert_string_equal(hv(t, "Session-ID"), "ab30317f1a784dc48ff824d0d3715d86");
		assert_string_equal(hv(t, "Session-Expires"), "1800");
		assert_string_equal(hv(t, "To"), "<sip:bob@10.0.0.1>");
		assert_non_null(strstr(hv(t, "From"), "\"Alice\" <sip:alice@10.0.0.1>;tag="));
		assert_null(strstr(hv(t, "From"), "tag=a1"));
		assert_int_equal(count_hdr(t, "Record-Route"), 0);
	}
	/* both forks: one dialog's request, two branches */
	assert_string_equal(hv(fork_inv[0].text, "Call-ID"), hv(fork_inv[1].text, "Call-ID"));
	assert_string_equal(hv(fork_inv[0].text, "From"), hv(fork_inv[1].text, "From"));
	assert_string_not_equal(hv(fork_inv[0].text, "Via"), hv(fork_inv[1].text, "Via"));
	/* and the caller gets the callee's answers in its own dialog */
	answer(&fork_inv[0], C1_IP, 5001, 180, "Ringing", "b1", NULL);
	const struct out *r = sent_to("SIP/2.0 180 Ringing", CALLER_IP);
	assert_non_null(r);
	assert_string_equal(hv(r->text, "Call-ID"), a_cid);
	assert_string_equal(hv(r->text, "CSeq"), "10 INVITE");
	assert_non_null(strstr(hv(r->text, "Via"), "branch=z9hG4bK-alice-"));
	assert_int_equal(count_hdr(r->text, "Via"), 1);
	assert_string_equal(hv(r->text, "Contact"), "<sip:10.0.0.1:5060>");
	assert_null(strstr(head(r->text), C1_IP));
	assert_null(strstr(r->text, "tag=b1"));
	n_out = 0;
	answer(&fork_inv[0], C1_IP, 5001, 200, "OK", "b1", "Session-Expires: 1800;refresher=uac\r\n");
	const struct out *ok = sent_to("SIP/2.0 200 OK", CALLER_IP);
	assert_non_null(ok);
	assert_string_equal(hv(ok->text, "Call-ID"), a_cid);
	assert_null(strstr(head(ok->text), C1_IP));
	assert_int_equal(n_sent("CANCEL ", C2_IP), 0); /* the other fork had no provisional yet (9.1) */
	/* A's ACK: B's 2xx ACKed now, in B's dialog */
	char tag_a[64];
	const char *to = strstr(hv(ok->text, "To"), ";tag=");
	assert_non_null(to);
	snprintf(tag_a, sizeof(tag_a), "%s", to + 5);
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "ACK sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-ack1\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.1>;tag=%s\r\n"
		 "Call-ID: %s\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n", tag_a, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	const struct out *ack = sent_to("ACK sip:bob@" C1_IP ":5001 SIP/2.0", C1_IP);
	assert_non_null(ack);
	assert_string_equal(hv(ack->text, "Call-ID"), hv(fork_inv[0].text, "Call-ID"));
	assert_string_equal(hv(ack->text, "CSeq"), "1 ACK");
	assert_non_null(strstr(hv(ack->text, "To"), ";tag=b1"));
	/* the second fork answers too late: ACKed and BYEd (13.2.2.4) */
	n_out = 0;
	answer(&fork_inv[1], C2_IP, 5002, 200, "OK", "b2", NULL);
	assert_int_equal(n_sent("ACK ", C2_IP), 1);
	assert_int_equal(n_sent("BYE ", C2_IP), 1);
	assert_int_equal(n_sent("SIP/2.0 200", CALLER_IP), 0);

	/* the callee's re-INVITE (its CSeq space) reaches A in A's */
	snprintf(msg, sizeof(msg),
		 "INVITE sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " C1_IP ":5001;branch=z9hG4bK-bob-re\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:bob@10.0.0.1>;tag=b1\r\nTo: %s\r\nCall-ID: %s\r\n"
		 "CSeq: 7 INVITE\r\nContact: <sip:bob@" C1_IP ":5001>\r\nContent-Type: application/sdp\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 hv(fork_inv[0].text, "From"), hv(fork_inv[0].text, "Call-ID"), strlen(SDP), SDP);
	n_out = 0;
	feed(C1_IP, 5001, false, msg);
	const struct out *re = sent_to("INVITE sip:alice@192.168.1.9:5070 SIP/2.0", CALLER_IP);
	assert_non_null(re);
	assert_int_equal(re->port, 5070);
	assert_string_equal(hv(re->text, "Call-ID"), a_cid);
	assert_string_equal(hv(re->text, "CSeq"), "1 INVITE");
	assert_string_equal(hv(re->text, "To"), "\"Alice\" <sip:alice@10.0.0.1>;tag=a1");
	assert_non_null(strstr(hv(re->text, "From"), tag_a));
	assert_null(strstr(head(re->text), C1_IP));
	struct out re_copy = *re;
	n_out = 0;
	answer(&re_copy, CALLER_IP, 5070, 200, "OK", NULL, NULL);
	const struct out *ok2 = sent_to("SIP/2.0 200 OK", C1_IP);
	assert_non_null(ok2);
	assert_string_equal(hv(ok2->text, "CSeq"), "7 INVITE");
	assert_string_equal(hv(ok2->text, "Call-ID"), hv(fork_inv[0].text, "Call-ID"));
	assert_int_equal(n_sent("ACK ", CALLER_IP), 1); /* A's 2xx ACKed on A at once */

	/* REFER is refused; a request older than the last is out of order */
	snprintf(msg, sizeof(msg),
		 "REFER sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-refer\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.1>;tag=%s\r\n"
		 "Call-ID: %s\r\nCSeq: 11 REFER\r\nRefer-To: <sip:carol@10.0.0.1>\r\nContent-Length: 0\r\n\r\n",
		 tag_a, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].code, 403);
	snprintf(msg, sizeof(msg),
		 "INFO sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-info\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.1>;tag=%s\r\n"
		 "Call-ID: %s\r\nCSeq: 3 INFO\r\nContent-Length: 0\r\n\r\n", tag_a, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].code, 500);

	/* A's BYE: 200 on A, a BYE of ours on B in B's CSeq space */
	snprintf(msg, sizeof(msg),
		 "BYE sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-bye\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.1>;tag=%s\r\n"
		 "Call-ID: %s\r\nCSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n", tag_a, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(outs[0].code, 200);
	const struct out *bye = sent_to("BYE sip:bob@" C1_IP ":5001 SIP/2.0", C1_IP);
	assert_non_null(bye);
	assert_string_equal(hv(bye->text, "CSeq"), "2 BYE");
	assert_string_equal(hv(bye->text, "Call-ID"), hv(fork_inv[0].text, "Call-ID"));
	assert_int_equal(b2b_calls(), 0);
}

/* errors of every fork settle into one final on A: 503 as 500 */
static void test_errors_settle(void **state)
{
	(void)state;
	invite(NULL);
	answer(&fork_inv[0], C1_IP, 5001, 503, "Service Unavailable", "b1", NULL);
	assert_int_equal(n_sent("ACK ", C1_IP), 1);
	assert_int_equal(n_sent("SIP/2.0", CALLER_IP), 0);
	answer(&fork_inv[1], C2_IP, 5002, 503, "Service Unavailable", "b2", NULL);
	assert_int_equal(n_out, 3);
	assert_int_equal(outs[2].code, 500);
	assert_int_equal(b2b_calls(), 0);
}

/* a CANCEL on A cancels both forks, A gets its 487 from sipfp */
static void test_cancel(void **state)
{
	(void)state;
	invite(NULL);
	answer(&fork_inv[0], C1_IP, 5001, 180, "Ringing", "b1", NULL);
	answer(&fork_inv[1], C2_IP, 5002, 180, "Ringing", "b2", NULL);
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "CANCEL sip:bob@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: <sip:bob@10.0.0.1>\r\n"
		 "Call-ID: %s\r\nCSeq: 10 CANCEL\r\nContent-Length: 0\r\n\r\n", a_branch, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(outs[0].code, 200);
	assert_int_equal(n_sent("CANCEL ", C1_IP), 1);
	assert_int_equal(n_sent("CANCEL ", C2_IP), 1);
	assert_string_equal(hv(sent_to("CANCEL ", C1_IP)->text, "Call-ID"), hv(fork_inv[0].text, "Call-ID"));
	n_out = 0;
	answer(&fork_inv[0], C1_IP, 5001, 487, "Request Terminated", "b1", NULL);
	answer(&fork_inv[1], C2_IP, 5002, 487, "Request Terminated", "b2", NULL);
	unsigned k = 0;
	for (unsigned i = 0; i < n_out; i++)
		k += outs[i].code == 487;
	assert_int_equal(k, 1);
	assert_int_equal(b2b_calls(), 0);
}

/* 422: the INVITE again, with the callee's Min-SE and the next CSeq */
static void test_422(void **state)
{
	(void)state;
	invite(NULL);
	answer(&fork_inv[1], C2_IP, 5002, 486, "Busy Here", "b2", NULL);
	answer(&fork_inv[0], C1_IP, 5001, 422, "Session Interval Too Small", "b1", "Min-SE: 3600\r\n");
	const struct out *again = sent_to("INVITE ", C1_IP);
	assert_non_null(again);
	assert_string_equal(hv(again->text, "Session-Expires"), "3600");
	assert_string_equal(hv(again->text, "CSeq"), "2 INVITE");
	assert_string_equal(hv(again->text, "Call-ID"), hv(fork_inv[0].text, "Call-ID"));
	assert_int_equal(n_sent("SIP/2.0", CALLER_IP), 0);
	struct out a2 = *again;
	n_out = 0;
	answer(&a2, C1_IP, 5001, 480, "Temporarily Unavailable", "b1", NULL);
	unsigned finals = 0;
	for (unsigned i = 0; i < n_out; i++)
		finals += outs[i].ip == ip(CALLER_IP) && outs[i].code >= 400;
	assert_int_equal(finals, 1);
	assert_int_equal(b2b_calls(), 0);
}

/* the callee is the refresher (refresher=uas) and never refreshes: both
 * legs get a BYE before the interval ends (RFC 4028 10) */
static void test_missed_refresh(void **state)
{
	(void)state;
	invite("Supported: timer\r\n");
	answer(&fork_inv[1], C2_IP, 5002, 486, "Busy Here", "b2", NULL);
	answer(&fork_inv[0], C1_IP, 5001, 200, "OK", "b1", "Session-Expires: 90;refresher=uas\r\n");
	const struct out *ok = sent_to("SIP/2.0 200 OK", CALLER_IP);
	assert_non_null(ok);
	/* A said Supported: timer and named no interval: ours, A refreshes */
	assert_string_equal(hv(ok->text, "Session-Expires"), "1800;refresher=uac");
	assert_string_equal(hv(ok->text, "Require"), "timer");
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "ACK sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-ack2\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n", hv(ok->text, "To"), a_cid);
	feed(CALLER_IP, 5070, false, msg);
	now += 50000; /* 90 - min(32, 30) = 60 s: not yet */
	n_out = 0;
	px_tick(now);
	assert_int_equal(n_sent("BYE ", C1_IP), 0);
	now += 11000;
	px_tick(now);
	assert_int_equal(n_sent("BYE ", C1_IP), 1);
	assert_int_equal(n_sent("BYE ", CALLER_IP), 1);
	assert_int_equal(b2b_calls(), 0);
	now += 40000;
	px_tick(now);
}

/* sipfp is B's refresher (refresher=uac in B's 2xx): UPDATE at half the
 * interval; its 2xx on A goes again until A's ACK (13.3.1.4); a 481 on a
 * relayed request ends both legs */
static void test_refresh_retransmit_481(void **state)
{
	(void)state;
	invite(NULL);
	answer(&fork_inv[1], C2_IP, 5002, 486, "Busy Here", "b2", NULL);
	answer(&fork_inv[0], C1_IP, 5001, 200, "OK", "b1", "Session-Expires: 120;refresher=uac\r\n");
	const struct out *ok = sent_to("SIP/2.0 200 OK", CALLER_IP);
	assert_non_null(ok);
	assert_string_equal(hv(ok->text, "Session-Expires"), ""); /* A named no timer */
	char to[256];
	snprintf(to, sizeof(to), "%s", hv(ok->text, "To"));
	n_out = 0;
	now += 150; /* T1 (500 ms) not yet */
	px_tick(now);
	assert_int_equal(n_sent("SIP/2.0 200 OK", CALLER_IP), 0);
	now += 400;
	px_tick(now);
	assert_int_equal(n_sent("SIP/2.0 200 OK", CALLER_IP), 1);
	assert_int_equal(n_sent("ACK ", C1_IP), 0); /* B waits for A's ACK */
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "ACK sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-ack3\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 10 ACK\r\nContent-Length: 0\r\n\r\n", to, a_cid);
	feed(CALLER_IP, 5070, false, msg);
	assert_int_equal(n_sent("ACK ", C1_IP), 1);
	n_out = 0;
	now += 1100;
	px_tick(now);
	assert_int_equal(n_sent("SIP/2.0 200 OK", CALLER_IP), 0); /* ACKed: no more */
	now += 60000; /* half of 120 s */
	px_tick(now);
	const struct out *up = sent_to("UPDATE sip:bob@" C1_IP ":5001 SIP/2.0", C1_IP);
	assert_non_null(up);
	assert_string_equal(hv(up->text, "Session-Expires"), "120;refresher=uac");
	assert_string_equal(hv(up->text, "CSeq"), "2 UPDATE");
	struct out upc = *up;
	answer(&upc, C1_IP, 5001, 200, "OK", NULL, NULL);
	/* an INFO from A that B no longer knows: 481 ends both legs */
	snprintf(msg, sizeof(msg),
		 "INFO sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-info2\r\n"
		 "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@10.0.0.1>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 11 INFO\r\nContent-Length: 0\r\n\r\n", to, a_cid);
	n_out = 0;
	feed(CALLER_IP, 5070, false, msg);
	const struct out *info = sent_to("INFO ", C1_IP);
	assert_non_null(info);
	assert_string_equal(hv(info->text, "CSeq"), "3 INFO");
	struct out ic = *info;
	n_out = 0;
	answer(&ic, C1_IP, 5001, 481, "Call/Transaction Does Not Exist", NULL, NULL);
	assert_non_null(sent_to("SIP/2.0 481", CALLER_IP));
	assert_int_equal(n_sent("BYE ", CALLER_IP), 1);
	assert_int_equal(b2b_calls(), 0);
}

/* an extension the caller requires and sipfp does not do: 420 (8.2.2.3) */
static void test_require(void **state)
{
	(void)state;
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "INVITE sip:bob@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-req\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a9\r\nTo: <sip:bob@10.0.0.1>\r\n"
		 "Call-ID: req-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@" CALLER_IP ":5070>\r\n"
		 "Require: timer, 100rel\r\nContent-Length: 0\r\n\r\n");
	n_out = 0;
	feed(CALLER_IP, 5070, true, msg);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].code, 420);
	assert_non_null(strstr(outs[0].text, "Unsupported: 100rel\r\n"));
	assert_int_equal(b2b_calls(), 0);
}

/* strip_tag: the tag parameter goes, the rest stays */
static void test_strip_tag(void **state)
{
	(void)state;
	char out[128];
	const char v[] = "\"A\" <sip:a@x;tag=no>;x=1 ; tag=abc;y=2";
	struct sfp_str s = { v, strlen(v) }, t = { strstr(v, "abc"), 3 };
	assert_true(b2b_strip_tag(s, t, out, sizeof(out)));
	assert_string_equal(out, "\"A\" <sip:a@x;tag=no>;x=1 ;y=2");
	assert_true(b2b_strip_tag(s, (struct sfp_str){ NULL, 0 }, out, sizeof(out)));
	assert_string_equal(out, v);
	assert_false(b2b_strip_tag(s, t, out, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_tag),
		cmocka_unit_test(test_b_leg_is_a_new_dialog),
		cmocka_unit_test(test_errors_settle),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_422),
		cmocka_unit_test(test_missed_refresh),
		cmocka_unit_test(test_refresh_retransmit_481),
		cmocka_unit_test(test_require),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
