/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the unit tests of the control process's transaction and dialog
 * layer share: px_env callbacks that record everything the proxy sends
 * (E.send: ip, port, text) or answers itself (E.respond: code, reason,
 * extra headers), and a dotted quad to an address.  Included by one test
 * file each, so its definitions are static.
 */
#ifndef SFP_PX_HARNESS_H
#define SFP_PX_HARNESS_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

#define MAX_OUT 64

struct out {
	uint32_t ip;
	uint16_t port;
	uint16_t code; /* E.respond */
	char text[4096];
};
static struct out outs[MAX_OUT];
static unsigned n_out;

static void cb_send(uint32_t ip, uint16_t port, const char *p, uint32_t len)
{
	assert_true(n_out < MAX_OUT);
	struct out *o = &outs[n_out++];
	memset(o, 0, sizeof(*o));
	o->ip = ip;
	o->port = port;
	memcpy(o->text, p, len < sizeof(o->text) - 1 ? len : sizeof(o->text) - 1);
}

static void cb_respond(const struct sfp_sip_meta *mt, const struct sfp_sip *m, uint16_t code,
		       const char *reason, const char *extra)
{
	(void)m;
	assert_true(n_out < MAX_OUT);
	struct out *o = &outs[n_out++];
	memset(o, 0, sizeof(*o));
	o->ip = mt->src_ip;
	o->port = mt->src_port;
	o->code = code;
	snprintf(o->text, sizeof(o->text), "SIP/2.0 %u %s\r\n%s", code, reason, extra ? extra : "");
}

static void cb_log(const char *fmt, ...)
{
	(void)fmt;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* a fresh store in a temporary file path[] (mkstemp template), with user
 * bob in realm sipfp, for px_init; harness_close removes it */
static struct store *harness_store(char *path)
{
	char err[256];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct store *db = store_open(path, err, sizeof(err));
	assert_non_null(db);
	struct sfp_ha1 h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(store_user_set(db, "bob", "sipfp", &h), 0);
	return db;
}

/* one message into the transaction layer, as the data plane hands it
 * over: from src:port at rx_ms, authenticated as alice when auth */
static void harness_feed(const char *src, uint16_t port, bool auth, const char *msg, uint64_t rx_ms)
{
	struct sfp_sip_meta mt;
	memset(&mt, 0, sizeof(mt));
	mt.src_ip = ip(src);
	mt.src_port = port;
	mt.rx_ms = rx_ms;
	mt.mac[0] = 2;
	if (auth) {
		mt.flags = SFP_RXF_AUTH_OK;
		snprintf(mt.user, sizeof(mt.user), "alice");
	}
	struct sfp_sip m;
	assert_int_equal(sfp_scan(msg, strlen(msg), &m), SFP_SE_OK);
	px_rx(&mt, msg, &m);
}

/* a registered contact of bob's, reached at src:port */
static inline void harness_contact(struct store *db, const char *contact, const char *src, uint16_t port,
			    uint64_t expires_ms, const char *call_id)
{
	struct store_binding b = { .aor = "bob", .port = port, .expires_ms = expires_ms, .cseq = 1 };
	snprintf(b.contact, sizeof(b.contact), "%s", contact);
	snprintf(b.call_id, sizeof(b.call_id), "%s", call_id);
	b.ip = ip(src);
	assert_int_equal(store_binding_put(db, &b), 0);
}

/* sipfp at 10.0.0.1:5060, tags keyed on "test" */
static void harness_lcfg(struct sfp_logic_cfg *lcfg)
{
	sfp_auth_keys_init(&lcfg->keys, (const uint8_t *)"test", 4, NULL, 0, 300, "sipfp");
	snprintf(lcfg->addr, sizeof(lcfg->addr), "10.0.0.1");
	lcfg->sip_port = 5060;
}

/* the px_env every test starts from: the recording callbacks above, the
 * store, sipfp at 10.0.0.1, T1 500 ms, tables of 64, registrations of
 * 60 s to a day; a test sets what it exercises on top */
static inline struct px_env harness_env(struct store *db, const struct sfp_logic_cfg *lcfg)
{
	return (struct px_env){ .send = cb_send, .respond = cb_respond, .log = cb_log, .db = db,
				.lcfg = lcfg, .addr = ip("10.0.0.1"), .t1_ms = 500,
				.timer_c_ms = 180000, .dialog_max_ms = 7200000, .max_itx = 64,
				.max_dialogs = 64, .reg_min = 60, .reg_max = 86400, .reg_default = 3600 };
}

static void harness_close(struct store *db, const char *path)
{
	store_close(db);
	unlink(path);
}

#endif
