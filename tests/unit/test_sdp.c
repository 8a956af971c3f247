/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for SDP reading and rewriting (control/sdp.c, libosip2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sdp.h"

/* the caller's offer in the reference capture (Bria), line ends restored;
 * its second INVITE carried the same body */
static const char capture_offer[] =
	"v=0\r\n"
	"o=- 1 2 IN IP4 192.168.50.32\r\n"
	"s=CounterPath Bria\r\n"
	"c=IN IP4 192.168.50.32\r\n"
	"t=0 0\r\n"
	"m=audio 3564 RTP/AVP 107 119 100 106 0 98 8 18 101\r\n"
	"a=alt:1 3 : 3RJcASQD J+MIobg5 192.168.50.32 3564\r\n"
	"a=fmtp:18 annexb=yes\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=rtpmap:107 BV32/16000\r\n"
	"a=rtpmap:119 BV32-FEC/16000\r\n"
	"a=rtpmap:100 SPEEX/16000\r\n"
	"a=rtpmap:106 SPEEX-FEC/16000\r\n"
	"a=rtpmap:98 iLBC/8000\r\n"
	"a=rtpmap:18 G729/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=sendrecv\r\n"
	"a=x-rtp-session-id:56A9F9BE76774F7C962FD8ACDB1B86E1\r\n";

/* the server's offer to the callee in the capture: its own address */
static const char capture_server[] =
	"v=0\r\n"
	"o=root 1062270166 1062270166 IN IP4 192.168.50.34\r\n"
	"s=session\r\n"
	"c=IN IP4 192.168.50.34\r\n"
	"t=0 0\r\n"
	"m=audio 45294 RTP/AVP 0 8 18 3 114 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static char out[16384];
static size_t n;

static void rewrite(const char *in, const uint16_t *ports, unsigned np)
{
	enum sdp_err e = sdp_write(in, strlen(in), "10.77.0.2", ports, np, out, sizeof(out) - 1, &n);
	assert_int_equal(e, SDP_OK);
	out[n] = '\0';
}

static void t_capture(void **st)
{
	(void)st;
	struct sdp_info in;
	assert_int_equal(sdp_read(capture_offer, strlen(capture_offer), &in), SDP_OK);
	assert_int_equal(in.n, 1);
	assert_int_equal(in.s[0].ip, inet_addr("192.168.50.32"));
	assert_int_equal(in.s[0].port, 3564);
	assert_int_equal(in.s[0].rtcp_port, 3565);
	assert_int_equal(in.s[0].dir, SDP_SENDRECV);
	assert_int_equal(in.s[0].clock_khz, 16); /* BV32/16000 first */
	uint16_t p[] = { 20000 };
	rewrite(capture_offer, p, 1);
	assert_non_null(strstr(out, "c=IN IP4 10.77.0.2\r\n"));
	assert_non_null(strstr(out, "o=- 1 2 IN IP4 10.77.0.2\r\n"));
	assert_non_null(strstr(out, "m=audio 20000 RTP/AVP 107 119 100 106 0 98 8 18 101\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\n"));
	assert_non_null(strstr(out, "a=sendrecv\r\n"));
	assert_null(strstr(out, "m=audio 3564"));
	assert_null(strstr(out, "c=IN IP4 192.168.50.32"));
	struct sdp_info back;
	assert_int_equal(sdp_read(out, n, &back), SDP_OK);
	assert_int_equal(back.s[0].ip, inet_addr("10.77.0.2"));
	assert_int_equal(back.s[0].port, 20000);

	assert_int_equal(sdp_read(capture_server, strlen(capture_server), &in), SDP_OK);
	assert_int_equal(in.s[0].clock_khz, 8);
	assert_int_equal(in.s[0].port, 45294);
}

static void t_streams_rtcp_mux_ice(void **st)
{
	(void)st;
	static const char two[] =
		"v=0\r\no=alice 7 9 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\n"
		"a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\n"
		"m=audio 40000 RTP/AVP 0\r\nc=IN IP4 192.0.2.10\r\n"
		"a=rtcp:40005 IN IP4 192.0.2.10\r\na=rtcp-mux\r\n"
		"a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host\r\n"
		"a=end-of-candidates\r\n"
		"m=video 40002 RTP/AVP 96\r\nc=IN IP4 192.0.2.11\r\na=rtpmap:96 H264/90000\r\na=rtcp:40009\r\n"
		"m=video 0 RTP/AVP 97\r\n"
		"m=audio 40010 RTP/SAVP 0\r\nc=IN IP4 192.0.2.10\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
	struct sdp_info in;
	assert_int_equal(sdp_read(two, strlen(two), &in), SDP_OK);
	assert_int_equal(in.n, 4);
	assert_int_equal(in.s[0].rtcp_port, 40005);
	assert_true(in.s[0].mux);
	assert_int_equal(in.s[1].ip, inet_addr("192.0.2.11"));
	assert_int_equal(in.s[1].clock_khz, 90);
	assert_int_equal(in.s[1].rtcp_port, 40009);
	assert_int_equal(in.s[2].port, 0);
	uint16_t p[] = { 20000, 20004, 20008, 20012 };
	rewrite(two, p, 4);
	assert_non_null(strstr(out, "m=audio 20000 RTP/AVP 0\r\n"));
	assert_non_null(strstr(out, "a=rtcp:20001 IN IP4 10.77.0.2\r\n"));
	assert_non_null(strstr(out, "a=rtcp-mux\r\n"));
	assert_non_null(strstr(out, "m=video 20004 RTP/AVP 96\r\n"));
	assert_non_null(strstr(out, "a=rtcp:20005\r\n"));
	assert_non_null(strstr(out, "m=video 0 RTP/AVP 97\r\n"));         /* rejected stays so */
	assert_non_null(strstr(out, "m=audio 20012 RTP/SAVP 0\r\n"));
	assert_non_null(strstr(out, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:")); /* opaque */
	assert_null(strstr(out, "candidate"));
	assert_null(strstr(out, "ice-"));
	assert_null(strstr(out, "192.0.2."));
	assert_non_null(strstr(out, "o=alice 7 9 IN IP4 10.77.0.2\r\n"));
	/* fewer ports than streams: refused, not half written */
	assert_int_equal(sdp_write(two, strlen(two), "10.77.0.2", p, 2, out, sizeof(out), &n), SDP_TOO_MANY);
}

static void t_hold(void **st)
{
	(void)st;
	static const char hold_old[] =
		"v=0\r\no=- 1 3 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
		"m=audio 40000 RTP/AVP 0\r\na=sendonly\r\n";
	static const char hold_new[] =
		"v=0\r\no=- 1 4 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
		"a=inactive\r\nm=audio 40000 RTP/AVP 0\r\n";
	struct sdp_info in;
	assert_int_equal(sdp_read(hold_old, strlen(hold_old), &in), SDP_OK);
	assert_int_equal(in.s[0].ip, 0);
	assert_int_equal(in.s[0].dir, SDP_SENDONLY);
	uint16_t p[] = { 20000 };
	rewrite(hold_old, p, 1);
	assert_non_null(strstr(out, "c=IN IP4 0.0.0.0\r\n"));    /* still hold */
	assert_non_null(strstr(out, "a=sendonly\r\n"));
	assert_non_null(strstr(out, "o=- 1 3 IN IP4 10.77.0.2\r\n")); /* version kept */
	assert_int_equal(sdp_read(hold_new, strlen(hold_new), &in), SDP_OK);
	assert_int_equal(in.s[0].dir, SDP_INACTIVE);              /* session level */
}

static void t_malformed(void **st)
{
	(void)st;
	static const char *const bad[] = {
		"",
		"hello",
		"v=0\r\n",                                             /* no m= */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", /* no c= */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 not-an-address\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		/* RFC 4566 9's grammar, line by line: what libosip2 must never see */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audi$ 49217 \x8a 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio  4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4x00 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP//AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nb=AS\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=:x\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nq=x\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	};
	struct sdp_info in;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(sdp_read(bad[i], strlen(bad[i]), &in), SDP_OK);
	static const char v6[] =
		"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
	assert_int_equal(sdp_read(v6, strlen(v6), &in), SDP_NOT_IP4);
	/* and what the grammar allows still reads: a port count, b=, a= flags, LF only */
	static const char ok[] = "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nb=AS:64\nt=0 0\n"
				 "m=audio 4000/2 RTP/AVP 0 8\na=sendrecv\na=rtpmap:0 PCMU/8000\n\n";
	assert_int_equal(sdp_read(ok, strlen(ok), &in), SDP_OK);
	char many[4096] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n";
	for (int i = 0; i < SDP_MAX_STREAMS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "m=audio %d RTP/AVP 0\r\n", 4000 + 2 * i);
	assert_int_equal(sdp_read(many, strlen(many), &in), SDP_TOO_MANY);
	/* every prefix of a valid body: an answer, never a crash */
	for (size_t k = 0; k < sizeof(capture_offer) - 1; k++) {
		sdp_read(capture_offer, k, &in);
		uint16_t p[] = { 20000 };
		sdp_write(capture_offer, k, "10.77.0.2", p, 1, out, sizeof(out), &n);
	}
	/* too small an output buffer */
	uint16_t p[] = { 20000 };
	assert_int_equal(sdp_write(capture_offer, strlen(capture_offer), "10.77.0.2", p, 1, out, 10, &n),
			 SDP_TOO_BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_capture),
		cmocka_unit_test(t_streams_rtcp_mux_ice),
		cmocka_unit_test(t_hold),
		cmocka_unit_test(t_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
