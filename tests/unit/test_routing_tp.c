/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxy's routing across transports without an EAL (SIP over TCP/TLS,
 * issue 16): a transport_of callback stands for the control process's
 * connections.  bob is bound over TCP with his connection open, carol
 * over TCP with hers gone, dave over UDP with a Contact asking for TLS.
 * Checked: the INVITE to bob goes down his connection with a TCP Via and a
 * double Record-Route (RFC 5658) and is not retransmitted (17.1.1.2); carol
 * gets 480; dave is dialled over TLS, and a failed dial is a 503 that the
 * caller gets as 500 (8.1.3.1, 16.7); an in-dialog request pops both our
 * Route entries; the URI and Via helpers.
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

#include "px_harness.h"

#define CALLER_IP "10.0.0.9"
#define PHONES_IP "10.0.0.5"

static struct sfp_logic_cfg lcfg;
static struct store *db;
static char dbpath[] = "/tmp/sipfp-test-rtp.XXXXXX";
static uint64_t now = 1000000;
static uint8_t dialled_tp;
static uint32_t dialled_ip;
static uint16_t dialled_port;

/* bob's connection (from 10.0.0.5:40001) is open; carol's (40002) is not */
static int cb_transport_of(uint32_t a, uint16_t port)
{
	return a == ip(PHONES_IP) && port == 40001 ? SFP_TP_TCP : SFP_TP_UDP;
}

static void cb_send_tp(uint32_t a, uint16_t port, uint8_t tp, const char *p, uint32_t len)
{
	dialled_tp = tp;
	dialled_ip = a;
	dialled_port = port;
	cb_send(a, port, p, len);
}

static void bind_user(const char *aor, const char *contact, uint16_t port, uint8_t tp)
{
	struct sfp_ha1 h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(store_user_set(db, aor, "sipfp", &h), 0);
	struct store_binding b = { .port = port, .expires_ms = now + 3600000, .cseq = 1, .transport = tp };
	snprintf(b.aor, sizeof(b.aor), "%s", aor);
	snprintf(b.contact, sizeof(b.contact), "%s", contact);
	snprintf(b.call_id, sizeof(b.call_id), "reg-%s", aor);
	b.ip = ip(PHONES_IP);
	assert_int_equal(store_binding_put(db, &b), 0);
}

static int setup(void **state)
{
	(void)state;
	db = harness_store(dbpath);
	bind_user("bob", "sip:bob@" PHONES_IP ":5062;transport=tcp", 40001, SFP_TP_TCP);
	bind_user("carol", "sip:carol@" PHONES_IP ":5063;transport=tcp", 40002, SFP_TP_TCP);
	bind_user("dave", "sip:dave@" PHONES_IP ":5064;transport=tls", 5064, SFP_TP_UDP);
	harness_lcfg(&lcfg);
	struct px_env env = harness_env(db, &lcfg);
	env.transport_of = cb_transport_of;
	env.send_tp = cb_send_tp;
	env.tls_port = 5061;
	assert_int_equal(px_init(&env), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	harness_close(db, dbpath);
	return 0;
}

/* alice's authenticated INVITE over UDP for callee */
static void invite(const char *callee, unsigned k)
{
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "INVITE sip:%s@10.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-tp-%u;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a%u\r\n"
		 "To: <sip:%s@10.0.0.1>\r\nCall-ID: tp-%u@" CALLER_IP "\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@" CALLER_IP ":5070>\r\nContent-Length: 0\r\n\r\n",
		 callee, k, k, callee, k);
	n_out = 0;
	harness_feed(CALLER_IP, 5070, true, msg, now);
}

static void t_down_the_connection(void **st)
{
	(void)st;
	invite("bob", 1);
	assert_int_equal(n_out, 1);
	const char *t = outs[0].text;
	/* to the connection's far end, not the Contact's port */
	assert_int_equal(outs[0].ip, ip(PHONES_IP));
	assert_int_equal(outs[0].port, 40001);
	assert_non_null(strstr(t, "\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch="));
	/* RFC 5658: the callee's entry (TCP) on top, the caller's (UDP) below */
	const char *rr1 = strstr(t, "Record-Route: <sip:10.0.0.1:5060;transport=tcp;lr>\r\n");
	const char *rr2 = strstr(t, "Record-Route: <sip:10.0.0.1:5060;lr>\r\n");
	assert_non_null(rr1);
	assert_non_null(rr2);
	assert_true(rr1 < rr2);
	/* reliable: timer A does not run (17.1.1.2) */
	n_out = 0;
	for (unsigned i = 1; i <= 8; i++)
		px_tick(now + i * 600);
	assert_int_equal(n_out, 0);
}

static void t_connection_gone(void **st)
{
	(void)st;
	invite("carol", 2);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].code, 480);
}

static void t_dial_and_fail(void **st)
{
	(void)st;
	dialled_tp = 0;
	invite("dave", 3);
	assert_int_equal(n_out, 1);
	/* a UDP binding whose Contact asks for TLS: dialled (RFC 3263) */
	assert_int_equal(dialled_tp, SFP_TP_TLS);
	assert_int_equal(dialled_ip, ip(PHONES_IP));
	assert_int_equal(dialled_port, 5064);
	assert_non_null(strstr(outs[0].text, "\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch="));
	assert_non_null(strstr(outs[0].text, "Record-Route: <sip:10.0.0.1:5061;transport=tls;lr>\r\n"));
	/* the handshake failed: a 503 from that branch, 500 to the caller */
	n_out = 0;
	px_transport_failed(ip(PHONES_IP), 5064, now + 10);
	unsigned k;
	for (k = 0; k < n_out; k++)
		if (!strncmp(outs[k].text, "SIP/2.0 500 ", 12))
			break;
	assert_true(k < n_out);
	assert_int_equal(outs[k].ip, ip(CALLER_IP));
}

static void t_double_route_popped(void **st)
{
	(void)st;
	/* a BYE from the UDP side with both our entries first */
	const char *bye =
		"BYE sip:bob@" PHONES_IP ":40001 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP " CALLER_IP ":5070;branch=z9hG4bK-bye-1;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a9\r\nTo: <sip:bob@10.0.0.1>;tag=b9\r\n"
		"Call-ID: dbl@" CALLER_IP "\r\nCSeq: 2 BYE\r\n"
		"Route: <sip:10.0.0.1:5060;lr>, <sip:10.0.0.1:5060;transport=tcp;lr>\r\n"
		"Content-Length: 0\r\n\r\n";
	n_out = 0;
	harness_feed(CALLER_IP, 5070, false, bye, now);
	assert_int_equal(n_out, 1);
	assert_int_equal(outs[0].port, 40001);
	assert_null(strstr(outs[0].text, "Route:"));
	assert_non_null(strstr(outs[0].text, "\r\nVia: SIP/2.0/TCP "));
}

static void t_helpers(void **st)
{
	(void)st;
	struct { const char *uri; uint8_t tp; } u[] = {
		{ "sip:a@h", SFP_TP_UDP }, { "sip:a@h;transport=tcp", SFP_TP_TCP },
		{ "sip:a@h:5;lr;transport=TLS", SFP_TP_TLS }, { "sips:a@h", SFP_TP_TLS },
		{ "sip:a@h;transport=udp", SFP_TP_UDP }, { "sip:a@h;transport=", SFP_TP_UDP },
	};
	for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		assert_int_equal(px_uri_tp((struct sfp_str){ u[i].uri, strlen(u[i].uri) }), u[i].tp);
	const char *a = "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4;branch=z\r\n\r\n";
	const char *b = "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z\r\n\r\n";
	assert_true(px_reliable(a, (uint32_t)strlen(a)));
	assert_false(px_reliable(b, (uint32_t)strlen(b)));
	assert_false(px_reliable("INVITE", 6));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(t_down_the_connection), cmocka_unit_test(t_connection_gone),
		cmocka_unit_test(t_dial_and_fail), cmocka_unit_test(t_double_route_popped),
		cmocka_unit_test(t_helpers),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
