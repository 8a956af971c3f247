/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp-control: the DPDK secondary process that owns state.
 *
 * It owns the users' credentials (SQLite), pushes their HA1 values to the
 * data plane's replica over the from-control ring (a full resync with a
 * new generation at every start), keeps a heartbeat in the shared state
 * so the data plane knows it is there, takes the SIP messages that need
 * state from the to-control ring, and serves sipfpctl on a Unix socket.
 *
 * What it does with those messages (registrar, stateful proxy, dialogs)
 * is in proxy.c; this file is the process around it: configuration, the
 * store, the rings, the transmit path and the CLI socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_ring_peek.h>

#include "admission.h"
#include "media.h"
#include "proxy.h"
#include "ring_msg.h"
#include "sip_logic.h"
#include "sipfp/cli_proto.h"
#include "sipfp/config.h"
#include "sipfp/shm.h"
#include "store.h"
#include "transport.h"

#define LOG(fmt, ...) do { \
	fprintf(stderr, "sipfp-control: " fmt "\n", ##__VA_ARGS__); \
	fflush(stderr); \
} while (0)

/* process-local counters, shown by `sipfpctl stats` after the data plane's */
#define CTL_COUNTERS(_) \
	_(rx_msgs, "messages received from the data plane") \
	_(rx_bad, "messages from the data plane dropped: malformed") \
	_(rx_stale, "messages that waited in the ring longer than ctl_queue_s: dropped, their transactions are over") \
	_(rx_requests, "requests received (the proxy's counters say what became of them)") \
	_(rx_responses, "responses received") \
	_(tx_msgs, "SIP messages sent through the data plane") \
	_(tx_full, "SIP messages not sent: ring to the data plane full") \
	_(cred_pushed, "credential updates pushed to the data plane") \
	_(stream_auth_ok, "TCP/TLS: credentials verified") \
	_(stream_auth_fail, "TCP/TLS: credentials rejected (reported to the data plane for bans)") \
	_(stream_challenges, "TCP/TLS: 401/407 challenges sent") \
	_(stream_replies, "TCP/TLS: requests answered statelessly (OPTIONS 200, 4xx, 503)") \
	_(stream_absorbed, "TCP/TLS: messages absorbed or dropped by the fast path's rules (ACK to a challenge, unparseable)") \
	_(stream_ua_blocked, "TCP/TLS: messages dropped: User-Agent on the blocklist") \
	_(stream_banned, "TCP/TLS: messages dropped: their source was banned meanwhile") \
	_(stream_rate, "TCP/TLS: messages dropped: source over src_rate or ood_rate (as over UDP)") \
	_(stream_handoff, "TCP/TLS: messages handed to the registrar/proxy") \
	_(stream_no_conn, "responses for a TCP/TLS request not sent: its connection is gone")

static struct {
#define F(n, h) uint64_t n;
	CTL_COUNTERS(F)
#undef F
} cnt;


static struct {
	struct sfp_config cfg;
	char realm[SFP_CFG_STR_MAX];
	struct sfp_state *st;
	struct rte_ring *to_ctl, *from_ctl;
	struct store *db;
	int lfd;
	uint32_t gen;
	struct sfp_logic_cfg lcfg;     /* for reply building: tags, realm */
	/* SIP over TCP/TLS (transport.c): decided as the fast path decides,
	 * with the data plane's nonce key */
	bool tp;
	struct sfp_logic_cfg tcfg;
	struct sfp_ua_list ua;
	struct sfp_rl *rl;             /* per-source buckets for messages on connections */
	struct sfp_rl_limits rll;
	uint32_t limits_gen;
	uint32_t nonce_sec, nonce_seq;
	char nonce[SFP_NONCE_LEN];
	char tx[SFP_SIP_MAX + 1];
	volatile bool quit;
	char *rxbuf;
	char node_id[48];              /* ADDR:PORT */
	uint64_t started_ms;
} C;

static void on_signal(int sig)
{
	(void)sig;
	C.quit = true;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vlog(const char *fmt, va_list ap)
{
	fprintf(stderr, "sipfp-control: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(1);
}

static void usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n\n"
	       "sipfp control process: the DPDK secondary that owns users, registrations\n"
	       "and calls, speaks SIP over TCP and TLS (sip_port, tls_port) on the data\n"
	       "plane's exception interface, and serves sipfpctl.  Start it after\n"
	       "sipfp-dataplane, with the same --file-prefix, --proc-type=secondary and\n"
	       "lcore ids the data plane does not use, e.g.\n"
	       "  %s --proc-type=secondary --file-prefix sipfp --lcores 2@0 -- -c /etc/sipfp/sipfp.conf\n\n"
	       "Options:\n"
	       "  -c, --config FILE    configuration file (same file as the data plane)\n"
	       "  -s, --set KEY=VALUE  override one key (repeatable)\n"
	       "  -h, --help           this help\n\n"
	       "It exits with status 3 when the data plane goes away; the launcher (or\n"
	       "systemd) starts it again once the data plane is back, and it resyncs.\n",
	       prog, prog);
}

/* ---- pushing to the data plane --------------------------------------------- */

/* the control plane may wait for the ring, the data plane never does */
static int push(const struct sfp_msg *m, unsigned n)
{
	for (int tries = 0; tries < 5000 && !C.quit; tries++) {
		if (rte_ring_enqueue_bulk_elem(C.from_ctl, m, SFP_MSG_SIZE, n, NULL) == n)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* a one-element message to the data plane, zeroed but for its header */
static void msg_head(struct sfp_msg *m, uint16_t op)
{
	memset(m, 0, sizeof(*m));
	m->h.version = SFP_MSG_VERSION;
	m->h.op = op;
	m->h.nseg = 1;
}

static int push_cred(uint16_t op, const char *user, const struct sfp_ha1 *h, uint32_t gen)
{
	struct sfp_msg m;
	msg_head(&m, op);
	m.h.gen = gen;
	snprintf(m.u.cred.user, sizeof(m.u.cred.user), "%s", user);
	if (h) {
		m.u.cred.algs = h->algs;
		memcpy(m.u.cred.ha1_md5, h->md5, 16);
		memcpy(m.u.cred.ha1_sha256, h->sha256, 32);
	}
	if (push(&m, 1))
		return -1;
	cnt.cred_pushed++;
	return 0;
}

static int resync_cb(void *ctx, const char *user, const char *realm, const struct sfp_ha1 *h)
{
	(void)ctx;
	if (strcmp(realm, C.realm))
		return 0; /* stored for another realm: not ours to serve */
	px_user_add(user);
	return push_cred(SFP_OP_CRED_SET, user, h, C.gen);
}

static void resync(void)
{
	struct sfp_msg m;
	C.gen = store_next_gen(C.db);
	msg_head(&m, SFP_OP_RESYNC_BEGIN);
	m.h.gen = C.gen;
	if (push(&m, 1) || store_user_each(C.db, resync_cb, NULL))
		die("resync %u failed: data plane not draining its ring", C.gen);
	m.h.op = SFP_OP_RESYNC_END;
	if (push(&m, 1))
		die("resync %u failed", C.gen);
	LOG("resync %u: %ld users pushed to the data plane", C.gen, store_user_count(C.db));
}

static void sip_send(const struct sfp_sip_meta *to, uint16_t dst_port, const char *p, uint32_t len)
{
	static struct sfp_msg msgs[SFP_MAX_NSEG];
	struct sfp_sip_meta mt;

	memset(&mt, 0, sizeof(mt));
	mt.dst_ip = to->src_ip;
	mt.dst_port = dst_port;
	/* no MAC: the data plane resolves the next hop (ARP, gateway) */
	unsigned nseg = sfp_ring_pack(msgs, SFP_OP_SIP_TX, &mt, p, len);
	if (nseg && rte_ring_enqueue_bulk_elem(C.from_ctl, msgs, SFP_MSG_SIZE, nseg, NULL) == nseg)
		cnt.tx_msgs++;
	else
		cnt.tx_full++;
}

/* media flows: a full ring waits a little (push), never for ever */
static void media_push(uint16_t op, const struct sfp_media_msg *mm)
{
	struct sfp_msg m;
	msg_head(&m, op);
	m.h.gen = C.gen;
	m.u.media = *mm;
	if (push(&m, 1))
		cnt.tx_full++;
}

/* ---- SIP ------------------------------------------------------------------------ */

static void respond(const struct sfp_sip_meta *mt, const struct sfp_sip *m, uint16_t code,
		    const char *reason, const char *extra)
{
	static char out[SFP_SIP_MAX];
	struct sfp_decision d = { .act = SFP_ACT_REPLY, .code = code, .reason = reason,
				  .extra = extra };
	struct sfp_reply_ctx rc = { .src_ip = mt->src_ip, .src_port = mt->src_port };
	uint16_t port;
	size_t n = sfp_reply_build(out, sizeof(out), &C.lcfg, m, &d, &rc);
	if (!n)
		return;
	/* over a connection: back down it (RFC 3261 18.2.2) */
	if (mt->transport != SFP_TP_UDP) {
		if (tp_send(mt->src_ip, mt->src_port, out, n))
			cnt.stream_no_conn++;
		return;
	}
	sfp_reply_dest(m, mt->src_port, &port);
	sip_send(mt, port, out, (uint32_t)n);
}

/* the proxy's way out: a payload to ip:port through the data plane */
static void px_send(uint32_t ip, uint16_t port, const char *p, uint32_t len)
{
	struct sfp_sip_meta to;
	/* a connection from ip:port is the way to it (RFC 5923's alias, the
	 * NAT binding a phone registered over) */
	if (tp_send(ip, port, p, len) == 0)
		return;
	memset(&to, 0, sizeof(to));
	to.src_ip = ip;
	sip_send(&to, port, p, len);
}

/* destinations whose connection failed, handed to the transaction layer
 * from the main loop (never from inside the proxy's own sending) */
static struct { uint32_t ip; uint16_t port; } tp_failed[32];
static unsigned n_tp_failed;

static void stream_dial_failed(uint32_t ip, uint16_t port)
{
	if (n_tp_failed < sizeof(tp_failed) / sizeof(tp_failed[0])) {
		tp_failed[n_tp_failed].ip = ip;
		tp_failed[n_tp_failed++].port = port;
	}
}

/* over TCP/TLS to a target no connection leads to: sipfp dials (TLS:
 * the certificate checked against the address, RFC 5922) */
static void send_dialling(uint32_t ip, uint16_t port, uint8_t tp, const char *p, uint32_t len)
{
	if (tp_send_to(ip, port, tp, NULL, p, len)) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &ip, a, sizeof(a));
		LOG("transport: cannot send to %s:%u over %s (no connection, cannot dial)", a, port,
		    tp == SFP_TP_TLS ? "TLS" : "TCP");
		stream_dial_failed(ip, port);
	}
}

static int px_transport_of(uint32_t ip, uint16_t port)
{
	int t = tp_transport(ip, port);
	return t < 0 ? SFP_TP_UDP : t;
}

static void px_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void px_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static void handle_sip(const struct sfp_sip_meta *dmt, const char *p, uint32_t len)
{
	/* the control process's timers and expiries run on its own clock:
	 * the message is "received" when it comes off the ring */
	struct sfp_sip_meta mtc = *dmt;
	const struct sfp_sip_meta *mt = &mtc;
	mtc.rx_ms = now_ms();
	struct sfp_sip m;
	enum sfp_scan_err e = sfp_scan(p, len, &m);
	if (e != SFP_SE_OK) {
		cnt.rx_bad++;
		return;
	}
	if (m.request)
		cnt.rx_requests++;
	else
		cnt.rx_responses++;
	px_rx(mt, p, &m);
}

/* ---- SIP over TCP/TLS: the fast path's decisions, then the proxy --------------------- */

static const struct sfp_ha1 *stream_creds(void *ctx, struct sfp_str user)
{
	static struct sfp_ha1 h;
	char name[SFP_USER_MAX], realm[SFP_CFG_STR_MAX];
	(void)ctx;
	if (!user.n || user.n >= sizeof(name))
		return NULL;
	memcpy(name, user.p, user.n);
	name[user.n] = '\0';
	if (store_user_get(C.db, name, realm, &h) != 1 || strcmp(realm, C.realm))
		return NULL;
	return &h;
}

static void stream_reply(const struct tp_peer *from, const struct sfp_sip *m, const struct sfp_decision *d)
{
	uint32_t now_s = (uint32_t)(now_ms() / 1000);
	if (now_s != C.nonce_sec) {
		/* one nonce a second, as a worker makes them; the index 0xfe
		 * is no worker's, so the two never coincide */
		C.nonce_sec = now_s;
		sfp_nonce_make(&C.tcfg.keys, now_s, (0xfeu << 16) | (C.nonce_seq++ & 0xffff), C.nonce);
	}
	struct sfp_reply_ctx rc = { .src_ip = from->ip, .src_port = from->port, .nonce = C.nonce };
	size_t n = sfp_reply_build(C.tx, sizeof(C.tx), &C.tcfg, m, d, &rc);
	if (n && tp_send(from->ip, from->port, C.tx, n))
		cnt.stream_no_conn++;
}

/* the fast path's per-source limits, with the data plane's current values
 * (sipfpctl limit set): a connection's messages count as its datagrams
 * would; the allow list exempts as it does there */
static bool stream_over_limit(uint32_t ip, bool ood)
{
	const struct sfp_limits *l = &C.st->limits;
	if (C.limits_gen != l->gen || !C.limits_gen) {
		C.limits_gen = l->gen;
		sfp_rl_limits_set(&C.rll, l);
	}
	if (!C.rl || !sfp_rl_limits_on(&C.rll))
		return false;
	struct sfp_rl_entry *e = sfp_rl_get(C.rl, ip, (uint32_t)now_ms(), &C.rll);
	if (sfp_rl_take(e, SFP_RL_ALL, &C.rll) && (!ood || sfp_rl_take(e, SFP_RL_OOD, &C.rll)))
		return false;
	return !sfp_allow_match(&C.st->allow, ip);
}

static void stream_message(const struct tp_peer *from, const char *p, size_t len)
{
	struct sfp_sip m;
	struct sfp_decision d;
	enum sfp_scan_err err = sfp_scan(p, len, &m);

	if (sfp_ban_lookup(&C.st->bans, from->ip, from->port, now_ms())) {
		cnt.stream_banned++;
		return;
	}
	if (stream_over_limit(from->ip, m.request && !m.to_tag.p && m.method != SFP_M_ACK)) {
		cnt.stream_rate++;
		return;
	}
	if (m.user_agent.p && sfp_ua_match(&C.ua, m.user_agent.p, m.user_agent.n)) {
		cnt.stream_ua_blocked++;
		return;
	}
	sfp_decide(&C.tcfg, &m, err, (uint32_t)(now_ms() / 1000), true, stream_creds, NULL, &d);
	if (d.auth_counter == SFP_CNT_AUTH_OK)
		cnt.stream_auth_ok++;
	if (d.auth_counter == SFP_CNT_AUTH_FAIL) {
		/* counted for bans where the workers' failures are: the source
		 * address (a TCP source port names a connection, not a phone) */
		struct sfp_msg am;
		msg_head(&am, SFP_OP_AUTH_FAIL);
		am.u.adm.ip = from->ip;
		uint64_t uh = sfp_user_hash(d.user.p, d.user.n);
		memcpy(am.u.adm.key, &uh, sizeof(uh));
		cnt.stream_auth_fail++;
		/* one try: a full ring delays a ban, it must not stall the
		 * control process (a flood of failures is what fills it) */
		if (rte_ring_enqueue_bulk_elem(C.from_ctl, &am, SFP_MSG_SIZE, 1, NULL) != 1)
			cnt.tx_full++;
	}
	switch (d.act) {
	case SFP_ACT_DROP:
	case SFP_ACT_ABSORB:
		cnt.stream_absorbed++;
		return;
	case SFP_ACT_REPLY:
		if (d.code == 401 || d.code == 407)
			cnt.stream_challenges++;
		else
			cnt.stream_replies++;
		stream_reply(from, &m, &d);
		return;
	case SFP_ACT_HANDOFF:
		break;
	}
	if (d.flags & SFP_D_TRYING) {
		struct sfp_decision t = { .act = SFP_ACT_REPLY, .code = 100, .reason = "Trying" };
		stream_reply(from, &m, &t);
	}
	struct sfp_sip_meta mt;
	memset(&mt, 0, sizeof(mt));
	mt.src_ip = from->ip;
	mt.src_port = from->port;
	mt.transport = from->transport;
	mt.flags = d.rx_flags | ((d.flags & SFP_D_TRYING) ? SFP_RXF_TRYING : 0);
	if (d.user.n && d.user.n < SFP_USER_MAX)
		memcpy(mt.user, d.user.p, d.user.n);
	cnt.stream_handoff++;
	if (m.method == SFP_M_REGISTER && mt.user[0])
		tp_set_user(from->ip, from->port, mt.user);
	handle_sip(&mt, p, (uint32_t)len);
}

/* a message a stream cannot carry on from: answered if it is a request
 * whose header section can be read, then the connection is closed */
static void stream_frame_error(const struct tp_peer *from, const char *hdr, size_t len, int code,
			       const char *reason)
{
	struct sfp_sip m;
	if (sfp_scan(hdr, len, &m) != SFP_SE_OK && !m.request)
		return;
	if (!m.request || m.method == SFP_M_ACK)
		return;
	struct sfp_decision d = { .act = SFP_ACT_REPLY, .code = (uint16_t)code, .reason = reason };
	stream_reply(from, &m, &d);
}

static void stream_init(void)
{
	char err[512];
	struct sfp_config c = C.cfg;
	C.tp = false;
	if (!C.cfg.tcp)
		return;
	if (!C.st->exc_ready) {
		LOG("transport: the data plane has no exception path (started with tcp = no?): UDP only");
		return;
	}
	snprintf(c.realm, sizeof(c.realm), "%s", C.realm);
	if (C.st->nonce_key_len > sizeof(C.st->nonce_key))
		die("data plane state: nonce key of %u bytes", C.st->nonce_key_len);
	if (sfp_logic_from_config(&C.tcfg, &c, C.lcfg.addr, C.st->nonce_key, C.st->nonce_key_len, err,
				  sizeof(err)))
		die("%s", err);
	if (sfp_ua_parse(&C.ua, C.cfg.ua_block, err, sizeof(err)))
		die("ua_block: %s", err);
	/* a descriptor per connection: the soft limit (often 1024) raised
	 * to what tcp_max_conns needs, as far as the hard limit allows */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)C.cfg.tcp_max_conns + 256) {
		rlim_t want = (rlim_t)C.cfg.tcp_max_conns + 256;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
			LOG("transport: warning: %lu file descriptors at most, fewer than tcp_max_conns %u needs",
			    (unsigned long)rl.rlim_cur, C.cfg.tcp_max_conns);
	}
	C.rl = malloc(sfp_rl_size(4096));
	if (!C.rl)
		die("out of memory");
	sfp_rl_init(C.rl, 4096);
	struct tp_cfg tc = {
		.sip_port = (uint16_t)C.cfg.sip_port, .tls_port = (uint16_t)C.cfg.tls_port,
		.tls_cert = C.cfg.tls_cert, .tls_key = C.cfg.tls_key, .tls_ca = C.cfg.tls_ca,
		.tls_ciphers = C.cfg.tls_ciphers, .tls_min_version = C.cfg.tls_min_version,
		.tls_verify_client = C.cfg.tls_verify_client,
		.max_conns = C.cfg.tcp_max_conns, .max_per_source = C.cfg.tcp_max_per_source,
		.idle_timeout_ms = C.cfg.tcp_idle_timeout_s * 1000,
		.header_timeout_ms = C.cfg.tcp_header_timeout_ms, .max_msg = C.cfg.tcp_max_msg,
		.tls_hs_per_source = C.cfg.tls_handshakes_per_source,
	};
	snprintf(tc.netns, sizeof(tc.netns), "%s", C.st->exc_netns);
	struct tp_ops ops = { .message = stream_message, .frame_error = stream_frame_error, .log = px_log,
			      .dial_failed = stream_dial_failed };
	if (tp_init(&tc, &ops, err, sizeof(err)))
		die("%s", err);
	C.tp = true;
}

/*
 * Messages are taken off the ring only once handled (the ring's peek API:
 * read, handle, then finish): a control process killed while handling one
 * leaves it in the ring, and its successor handles it again.  At least
 * once, then, never lost; SIP's retransmission rules make a second
 * handling harmless (the same deterministic branch: the far end sees a
 * retransmission).
 */
static void poll_rx(void)
{
	static struct sfp_msg seg[SFP_MAX_NSEG];
	for (int k = 0; k < 256; k++) {
		if (rte_ring_dequeue_bulk_elem_start(C.to_ctl, seg, SFP_MSG_SIZE, 1, NULL) != 1)
			return;
		unsigned nseg = seg[0].h.nseg;
		cnt.rx_msgs++;
		if (seg[0].h.version != SFP_MSG_VERSION || seg[0].h.op != SFP_OP_SIP_RX ||
		    nseg < 1 || nseg > SFP_MAX_NSEG) {
			cnt.rx_bad++;
			rte_ring_dequeue_elem_finish(C.to_ctl, 1);
			continue;
		}
		/* enqueued as one bulk: the segments are behind it already */
		if (nseg > 1) {
			rte_ring_dequeue_elem_finish(C.to_ctl, 0);
			if (rte_ring_dequeue_bulk_elem_start(C.to_ctl, seg, SFP_MSG_SIZE, nseg, NULL) != nseg) {
				/* segments missing: the head goes alone, as bad */
				rte_ring_dequeue_elem_finish(C.to_ctl, 0);
				unsigned one = rte_ring_dequeue_bulk_elem_start(C.to_ctl, seg, SFP_MSG_SIZE, 1, NULL);
				rte_ring_dequeue_elem_finish(C.to_ctl, one);
				cnt.rx_bad++;
				continue;
			}
		}
		struct sfp_ring_unpack u;
		sfp_ring_unpack_head(&u, &seg[0], C.rxbuf);
		for (unsigned i = 1; i < nseg; i++)
			sfp_ring_unpack_seg(&u, &seg[i]);
		if (!sfp_ring_unpack_done(&u))
			cnt.rx_bad++;
		else if (u.m.rx_ms + C.cfg.ctl_queue_s * 1000ull < now_ms())
			cnt.rx_stale++; /* waited for a control process too long */
		else
			handle_sip(&u.m, u.buf, u.m.total_len);
		rte_ring_dequeue_elem_finish(C.to_ctl, nseg);
	}
}

/* ---- the CLI socket -------------------------------------------------------------- */

struct out {
	char *p;
	size_t n, cap;
};

static void oprintf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void oprintf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int r = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
		va_end(ap);
		if (r < 0)
			return;
		if ((size_t)r < o->cap - o->n) {
			o->n += (size_t)r;
			return;
		}
		size_t nc = o->cap * 2 + (size_t)r;
		char *np = realloc(o->p, nc);
		if (!np)
			return;
		o->p = np;
		o->cap = nc;
	}
}

static bool valid_user(const char *u)
{
	size_t n = strlen(u);
	if (!n || n >= SFP_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == ':' || u[i] == '"' || u[i] == '\\' ||
		    (unsigned char)u[i] >= 0x7f)
			return false;
	return true;
}

static int list_cb(void *ctx, const char *user, const char *realm, const struct sfp_ha1 *h)
{
	struct out *o = ctx;
	oprintf(o, "%s\t%s\t%s%s%s\n", user, realm, (h->algs & SFP_ALG_SHA256) ? "SHA-256" : "",
		(h->algs & SFP_ALG_SHA256) && (h->algs & SFP_ALG_MD5) ? "," : "",
		(h->algs & SFP_ALG_MD5) ? "MD5" : "");
	return 0;
}

static int user_set(const char *user, const struct sfp_ha1 *h, char *err, size_t errlen)
{
	if (store_user_set(C.db, user, C.realm, h)) {
		snprintf(err, errlen, "store: %s", store_error(C.db));
		return -1;
	}
	px_user_add(user);
	char news[96];
	snprintf(news, sizeof(news), "user %s", user);
	(void)store_notify(C.db, news); /* the other nodes' fast paths, within a second */
	if (push_cred(SFP_OP_CRED_SET, user, h, C.gen)) {
		snprintf(err, errlen, "saved, but the data plane did not take it (it gets it at the next resync)");
		return -1;
	}
	return 0;
}

/* htdigest lines: user:realm:ha1-md5-hex; all or nothing */
static int import(char *payload, struct out *o, char *err, size_t errlen)
{
	unsigned ln = 0, n = 0;
	char *save = NULL;
	if (store_begin(C.db)) {
		snprintf(err, errlen, "store: %s", store_error(C.db));
		return -1;
	}
	struct { char user[SFP_USER_MAX]; struct sfp_ha1 h; } *list = NULL;
	size_t cap = 0;
	for (char *l = strtok_r(payload, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ln++;
		size_t L = strlen(l);
		if (L && l[L - 1] == '\r')
			l[--L] = '\0';
		if (!L || l[0] == '#')
			continue;
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2) {
			snprintf(err, errlen, "line %u: not user:realm:ha1", ln);
			goto fail;
		}
		*c1 = *c2 = '\0';
		struct sfp_ha1 h = { .algs = SFP_ALG_MD5 };
		if (!valid_user(l)) {
			snprintf(err, errlen, "line %u: bad user name", ln);
			goto fail;
		}
		if (strcmp(c1 + 1, C.realm)) {
			snprintf(err, errlen, "line %u: realm '%s' is not sipfp's realm '%s'", ln, c1 + 1, C.realm);
			goto fail;
		}
		if (sfp_unhex(c2 + 1, strlen(c2 + 1), h.md5, 16)) {
			snprintf(err, errlen, "line %u: HA1 must be 32 hex digits (MD5)", ln);
			goto fail;
		}
		if (store_user_set(C.db, l, C.realm, &h)) {
			snprintf(err, errlen, "line %u: store: %s", ln, store_error(C.db));
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			void *np = realloc(list, cap * sizeof(*list));
			if (!np) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			list = np;
		}
		snprintf(list[n].user, SFP_USER_MAX, "%s", l);
		list[n].h = h;
		n++;
	}
	if (store_commit(C.db)) {
		snprintf(err, errlen, "store: %s", store_error(C.db));
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		px_user_add(list[i].user);
		(void)push_cred(SFP_OP_CRED_SET, list[i].user, &list[i].h, C.gen);
	}
	free(list);
	(void)store_notify(C.db, "users");
	oprintf(o, "imported\n%u\n", n);
	LOG("imported %u users", n);
	return 0;
fail:
	free(list);
	store_rollback(C.db);
	return -1;
}

static void stats(struct out *o)
{
	static const char *const names[SFP_CNT_MAX] = {
#define N(e, n, h) [SFP_CNT_##e] = n,
		SFP_COUNTERS(N)
#undef N
	};
	struct sfp_state *st = C.st;
	oprintf(o, "counter\tvalue\n");
	for (unsigned c = 0; c < SFP_CNT_MAX; c++) {
		uint64_t s = 0;
		for (unsigned i = 0; i <= st->n_workers && i < SFP_MAX_LCORES; i++)
			s += st->stats[i].c[c];
		oprintf(o, "%s\t%lu\n", names[c], (unsigned long)s);
	}
	oprintf(o, "users\t%u\nuser_generation\t%u\ncontrol_attached\t%u\n", st->cred_count,
		st->cred_gen, st->ctl_attached);
	oprintf(o, "mbuf_in_use\t%lu\nmbuf_total\t%lu\nhugepage_bytes\t%lu\n",
		(unsigned long)st->mbuf_in_use, (unsigned long)st->mbuf_total,
		(unsigned long)st->hugepage_bytes);
	oprintf(o, "port_rx_nombuf\t%lu\nport_imissed\t%lu\nport_ierrors\t%lu\nport_oerrors\t%lu\n",
		(unsigned long)st->port_rx_nombuf, (unsigned long)st->port_imissed,
		(unsigned long)st->port_ierrors, (unsigned long)st->port_oerrors);
	oprintf(o, "ring_to_control\t%u\nring_from_control\t%u\n", rte_ring_count(C.to_ctl),
		rte_ring_count(C.from_ctl));
	oprintf(o, "registrations\t%u\ndialogs_active\t%u\n", px_registrations(), px_dialogs());
#define PXP(n, h) oprintf(o, "%s\t%lu\n", #n, (unsigned long)px_cnt.n);
	PX_COUNTERS(PXP)
#undef PXP
#define P(n, h) oprintf(o, "ctl_%s\t%lu\n", #n, (unsigned long)cnt.n);
	CTL_COUNTERS(P)
#undef P
	oprintf(o, "connections\t%u\nconnection_slot_bytes\t%zu\n", tp_count(), tp_slot_bytes());
#define TPP(n, h) oprintf(o, "conn_%s\t%lu\n", #n, (unsigned long)tp_cnt.n);
	TP_COUNTERS(TPP)
#undef TPP
}

/* ---- admission control: sipfpctl ban | allow | limit ------------------------------- */

/* one admission message; key for LIMIT_SET (NULL otherwise) */
static int push_admit(uint16_t op, struct sfp_admit_msg a, const char *key)
{
	struct sfp_msg m;
	msg_head(&m, op);
	m.u.adm = a;
	if (key)
		snprintf(m.u.adm.key, sizeof(m.u.adm.key), "%s", key);
	return push(&m, 1);
}

#define ADM(...) ((struct sfp_admit_msg){ __VA_ARGS__ })

static bool is_limit(const char *k)
{
#define IS_LIMIT(n) if (!strcmp(k, #n)) return true;
	SFP_LIMITS(IS_LIMIT)
#undef IS_LIMIT
	return false;
}

static int replay_cb(void *ctx, const char *kind, const char *key, uint64_t value)
{
	unsigned *n = ctx;
	uint64_t now = now_ms();
	uint32_t ip;
	uint16_t port;
	uint8_t len;
	int r = 0;

	if (!strcmp(kind, "allow") && !sfp_cidr_parse(key, &ip, &len)) {
		r = push_admit(SFP_OP_ALLOW_ADD, ADM(.ip = ip, .len = len), NULL);
	} else if (!strcmp(kind, "ban") && !sfp_hostport_parse(key, &ip, &port)) {
		if (value && value <= now)
			return 0; /* ran out while we were away */
		r = push_admit(SFP_OP_BAN_ADD, ADM(.ip = ip, .port = port,
				 .secs = value ? (uint32_t)((value - now + 999) / 1000) : 0), NULL);
	} else if (!strcmp(kind, "limit") && is_limit(key)) {
		r = push_admit(SFP_OP_LIMIT_SET, ADM(.value = (uint32_t)value), key);
	} else {
		LOG("store: ignoring admission entry %s '%s'", kind, key);
		return 0;
	}
	(*n)++;
	return r;
}

/*
 * The automatic bans known to be in the store (key as the data plane's
 * ban table has it, SFP_BAN_KEY), with their end: a ban the
 * replay put into the data plane, or the mirror stored, is not stored
 * again.  Without this, two nodes would store and announce each other's
 * bans back and forth for ever.  Rebuilt at each replay.
 */
#define KNOWN_SLOTS (2 * SFP_BAN_MAX)
static struct { uint64_t key, until_ms; } known_bans[KNOWN_SLOTS];

static uint64_t *known_ban(uint64_t key, bool add)
{
	uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) % KNOWN_SLOTS;
	for (uint32_t i = 0; i < KNOWN_SLOTS; i++, h = (h + 1) % KNOWN_SLOTS) {
		if (known_bans[h].key == key + 1)
			return &known_bans[h].until_ms;
		if (!known_bans[h].key) {
			if (!add)
				return NULL;
			known_bans[h].key = key + 1; /* 0 marks a free slot */
			return &known_bans[h].until_ms;
		}
	}
	return NULL;
}

static int replay_autoban_cb(void *ctx, const struct store_autoban *b)
{
	unsigned *n = ctx;
	uint64_t now = now_ms();
	uint32_t ip;
	uint16_t port;
	if (b->until_ms <= now || sfp_hostport_parse(b->source, &ip, &port))
		return 0; /* ran out while the data plane was away */
	uint64_t *u = known_ban(SFP_BAN_KEY(ip, port), true);
	if (u)
		*u = b->until_ms;
	(*n)++;
	return push_admit(SFP_OP_BAN_ADD, ADM(.ip = ip, .port = port, .why = b->why, .value = b->fails,
						 .secs = (uint32_t)((b->until_ms - now + 999) / 1000)), NULL);
}

/* the data plane forgets operator decisions and its own bans when it
 * restarts, and may have missed some while we were away: give it the whole
 * stored set (a restart must not pardon an attacker) */
static int admit_replay(void)
{
	unsigned n = 0, a = 0;
	memset(known_bans, 0, sizeof(known_bans));
	if (push_admit(SFP_OP_ADMIT_RESET, ADM(.ip = 0), NULL) ||
	    store_admit_each(C.db, replay_cb, &n) ||
	    store_autoban_each(C.db, replay_autoban_cb, &a))
		return -1;
	LOG("admission: %u stored allow/ban/limit entries and %u automatic bans pushed to the "
	    "data plane", n, a);
	return 0;
}

static void autoban_sync(uint64_t now);

/* news from the other nodes sharing the PostgreSQL store: what changed
 * there reaches this node's fast path (store.h) */
static void on_news(void *ctx, const char *what)
{
	(void)ctx;
	if (!strncmp(what, "user ", 5)) {
		char realm[64];
		struct sfp_ha1 h;
		int k = store_user_get(C.db, what + 5, realm, &h);
		if (k == 1 && !strcmp(realm, C.realm)) {
			px_user_add(what + 5);
			(void)push_cred(SFP_OP_CRED_SET, what + 5, &h, C.gen);
		} else if (k == 0) {
			px_user_del(what + 5);
			(void)push_cred(SFP_OP_CRED_DEL, what + 5, NULL, C.gen);
		}
		LOG("news from another node: user %s %s", what + 5, k == 1 ? "set" : k == 0 ? "deleted" : "unreadable");
	} else if (!strcmp(what, "users") || !strcmp(what, "reconnected")) {
		LOG("news from another node: %s: every user pushed again", what);
		resync();
		if (!strcmp(what, "reconnected"))
			goto admit;
	} else if (!strcmp(what, "admit")) {
	admit:
		/* this node's own fresh bans go to the store first: the
		 * replay starts from an empty table */
		autoban_sync(now_ms());
		if (admit_replay())
			LOG("news from another node: admission replay failed (%s)", store_error(C.db));
	}
}

static const char *why_name(uint8_t why)
{
	switch (why) {
	case SFP_BAN_MANUAL: return "manual";
	case SFP_BAN_SOURCE_FAILS: return "failed-auth";
	case SFP_BAN_USER_FAILS: return "user-attacked";
	}
	return "?";
}

static void fmt_source(char *buf, size_t n, uint32_t ip, uint16_t port)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (port)
		snprintf(buf, n, "%s:%u", a, port);
	else
		snprintf(buf, n, "%s", a);
}

static struct sfp_ban ban_snap[SFP_BAN_MAX];

/* a live ban of exactly ip:port in the data plane's table */
static bool ban_present(uint32_t ip, uint16_t port)
{
	unsigned n = sfp_ban_snapshot(&C.st->bans, ban_snap, SFP_BAN_MAX);
	for (unsigned i = 0; i < n; i++)
		if (ban_snap[i].key == SFP_BAN_KEY(ip, port))
			return true;
	return false;
}

/*
 * Automatic bans live in the data plane's table, which its restart empties.
 * Mirror them into the store once a second when the table changed: write
 * those set since the last look (never one the operator lifted, which left
 * the store at once) and forget those that ran out.
 */
static struct {
	uint64_t mark;     /* since_ms of the newest ban already stored */
	uint32_t seq;      /* the table's sequence at the last look */
	bool looked;
} autoban;

static void autoban_sync(uint64_t now)
{
	static struct store_autoban sb[SFP_BAN_MAX];
	uint32_t seq = C.st->bans.seq;
	if (autoban.looked && seq == autoban.seq)
		return;
	unsigned n = sfp_ban_snapshot(&C.st->bans, ban_snap, SFP_BAN_MAX), k = 0;
	uint64_t mark = autoban.mark;
	for (unsigned i = 0; i < n; i++) {
		const struct sfp_ban *b = &ban_snap[i];
		if (b->why == SFP_BAN_MANUAL || !b->until_ms || b->since_ms < autoban.mark)
			continue;
		/* in the store already (a replay put it here, or we stored it):
		 * the replay rounds its end to the second */
		uint64_t *u = known_ban(b->key, false);
		if (u && *u + 2000 >= b->until_ms)
			continue;
		fmt_source(sb[k].source, sizeof(sb[k].source), (uint32_t)(b->key >> 16),
			   (uint16_t)b->key);
		sb[k].why = b->why;
		sb[k].fails = b->fails;
		sb[k].until_ms = b->until_ms;
		k++;
		if (b->since_ms > mark)
			mark = b->since_ms;
	}
	if (store_autoban_put(C.db, sb, k) || store_autoban_expire(C.db, now) < 0) {
		LOG("store: cannot keep automatic bans: %s (retrying)", store_error(C.db));
		return;
	}
	for (unsigned i = 0; i < k; i++) {
		uint32_t ip;
		uint16_t port;
		uint64_t *u;
		if (!sfp_hostport_parse(sb[i].source, &ip, &port) && (u = known_ban(SFP_BAN_KEY(ip, port), true)))
			*u = sb[i].until_ms;
	}
	if (k)
		(void)store_notify(C.db, "admit"); /* an attacker banned here is banned on every node */
	autoban.mark = mark;
	autoban.seq = seq;
	autoban.looked = true;
}

static int cmd_ban(char **w, int nw, struct out *o, char *err, size_t errlen)
{
	uint32_t ip;
	uint16_t port;
	char src[32];
	uint64_t now = now_ms();

	if (nw == 2 && !strcmp(w[1], "list")) {
		struct sfp_ban *b = ban_snap;
		unsigned n = sfp_ban_snapshot(&C.st->bans, b, SFP_BAN_MAX);
		oprintf(o, "source\treason\tfails\tage_s\texpires_in_s\n");
		for (unsigned i = 0; i < n; i++) {
			if (b[i].until_ms && b[i].until_ms <= now)
				continue;
			fmt_source(src, sizeof(src), (uint32_t)(b[i].key >> 16), (uint16_t)b[i].key);
			oprintf(o, "%s\t%s\t%u\t%lu\t", src, why_name(b[i].why), b[i].fails,
				(unsigned long)(now > b[i].since_ms ? (now - b[i].since_ms) / 1000 : 0));
			if (b[i].until_ms)
				oprintf(o, "%lu\n", (unsigned long)((b[i].until_ms - now + 999) / 1000));
			else
				oprintf(o, "never\n");
		}
		return 0;
	}
	if ((nw == 3 || nw == 4) && !strcmp(w[1], "add")) {
		unsigned long secs = 0;
		char *end = NULL;
		if (sfp_hostport_parse(w[2], &ip, &port)) {
			snprintf(err, errlen, "'%s' is not ADDRESS or ADDRESS:PORT (IPv4)", w[2]);
			return -1;
		}
		if (nw == 4 && (secs = strtoul(w[3], &end, 10), *end || !secs || secs > 10ul * 365 * 86400)) {
			snprintf(err, errlen, "'%s' is not a number of seconds (omit it: until removed)", w[3]);
			return -1;
		}
		fmt_source(src, sizeof(src), ip, port);
		if (store_admit_put(C.db, "ban", src, secs ? now + secs * 1000 : 0) ||
		    push_admit(SFP_OP_BAN_ADD, ADM(.ip = ip, .port = port, .secs = (uint32_t)secs), NULL)) {
			snprintf(err, errlen, "store or data plane refused: %s", store_error(C.db));
			return -1;
		}
		(void)store_notify(C.db, "admit");
		LOG("ban %s added by the operator (%s)", src, secs ? w[3] : "until removed");
		oprintf(o, "banned\texpires_in_s\n%s\t%s\n", src, secs ? w[3] : "never");
		return 0;
	}
	if (nw == 3 && !strcmp(w[1], "del")) {
		if (sfp_hostport_parse(w[2], &ip, &port)) {
			snprintf(err, errlen, "'%s' is not ADDRESS or ADDRESS:PORT (IPv4)", w[2]);
			return -1;
		}
		fmt_source(src, sizeof(src), ip, port);
		/* a ban set a moment ago is stored first, then lifted everywhere */
		autoban_sync(now);
		int stored = store_admit_del(C.db, "ban", src);
		int autos = store_autoban_del(C.db, src);
		if (stored <= 0 && autos <= 0 && !ban_present(ip, port)) {
			snprintf(err, errlen, "no ban on %s (see ban list)", src);
			return -1;
		}
		if (push_admit(SFP_OP_BAN_DEL, ADM(.ip = ip, .port = port), NULL)) {
			snprintf(err, errlen, "data plane not draining its ring");
			return -1;
		}
		(void)store_notify(C.db, "admit");
		LOG("ban %s removed by the operator", src);
		oprintf(o, "unbanned\n%s\n", src);
		return 0;
	}
	snprintf(err, errlen, "usage: ban list | ban add ADDRESS[:PORT] [SECONDS] | ban del ADDRESS[:PORT]");
	return -1;
}

static int cmd_allow(char **w, int nw, struct out *o, char *err, size_t errlen)
{
	struct sfp_cidr c[SFP_ALLOW_MAX];
	unsigned n = sfp_allow_snapshot(&C.st->allow, c, SFP_ALLOW_MAX);
	char a[INET_ADDRSTRLEN], cidr[40];
	uint32_t net;
	uint8_t len;

	if (nw == 2 && !strcmp(w[1], "list")) {
		oprintf(o, "prefix\torigin\n");
		for (unsigned i = 0; i < n; i++)
			oprintf(o, "%s/%u\t%s\n", inet_ntop(AF_INET, &c[i].net, a, sizeof(a)), c[i].len,
				c[i].from_cfg ? "config" : "sipfpctl");
		return 0;
	}
	if (nw == 3 && (!strcmp(w[1], "add") || !strcmp(w[1], "del"))) {
		bool add = !strcmp(w[1], "add");
		if (sfp_cidr_parse(w[2], &net, &len)) {
			snprintf(err, errlen, "'%s' is not an IPv4 prefix (a.b.c.d/len, host bits zero)", w[2]);
			return -1;
		}
		snprintf(cidr, sizeof(cidr), "%s/%u", inet_ntop(AF_INET, &net, a, sizeof(a)), len);
		if (add) {
			if (n >= SFP_ALLOW_MAX) {
				snprintf(err, errlen, "the allow list is full (%u prefixes)", SFP_ALLOW_MAX);
				return -1;
			}
			if (store_admit_put(C.db, "allow", cidr, 0)) {
				snprintf(err, errlen, "store: %s", store_error(C.db));
				return -1;
			}
		} else {
			bool there = false;
			for (unsigned i = 0; i < n; i++)
				there |= c[i].net == net && c[i].len == len;
			if (store_admit_del(C.db, "allow", cidr) <= 0 && !there) {
				snprintf(err, errlen, "%s is not on the allow list", cidr);
				return -1;
			}
		}
		if (push_admit(add ? SFP_OP_ALLOW_ADD : SFP_OP_ALLOW_DEL, ADM(.ip = net, .len = len), NULL)) {
			snprintf(err, errlen, "data plane not draining its ring");
			return -1;
		}
		(void)store_notify(C.db, "admit");
		LOG("allow %s %s by the operator", cidr, add ? "added" : "removed");
		oprintf(o, "%s\n%s\n", add ? "allowed" : "removed", cidr);
		return 0;
	}
	snprintf(err, errlen, "usage: allow list | allow add PREFIX | allow del PREFIX");
	return -1;
}

enum {
#define LIMIT_BIT(n) LIMIT_BIT_##n,
	SFP_LIMITS(LIMIT_BIT)
#undef LIMIT_BIT
};

/* which limits the operator set (bit per SFP_LIMITS entry) */
static int stored_limits_cb(void *ctx, const char *kind, const char *key, uint64_t value)
{
	uint32_t *set = ctx;
	(void)value;
	if (strcmp(kind, "limit"))
		return 0;
#define LIMIT_SET_BIT(n) if (!strcmp(key, #n)) *set |= 1u << LIMIT_BIT_##n;
	SFP_LIMITS(LIMIT_SET_BIT)
#undef LIMIT_SET_BIT
	return 0;
}

static int cmd_limit(char **w, int nw, struct out *o, char *err, size_t errlen)
{
	const struct sfp_limits *l = &C.st->limits;
	if (nw == 2 && !strcmp(w[1], "show")) {
		uint32_t set = 0;
		if (store_admit_each(C.db, stored_limits_cb, &set)) {
			snprintf(err, errlen, "store: %s", store_error(C.db));
			return -1;
		}
		oprintf(o, "limit\tvalue\tset_by\n");
#define SHOW(n) oprintf(o, "%s\t%u\t%s\n", #n, l->n, \
			set & (1u << LIMIT_BIT_##n) ? "sipfpctl" : "config");
		SFP_LIMITS(SHOW)
#undef SHOW
		return 0;
	}
	if (nw == 4 && !strcmp(w[1], "set")) {
		struct sfp_config tmp = C.cfg;
		uint32_t v = 0;
		if (!is_limit(w[2])) {
			snprintf(err, errlen, "'%s' is not a limit (see limit show)", w[2]);
			return -1;
		}
		/* the configuration parser checks the value as the file would */
		if (sfp_config_set(&tmp, w[2], w[3], err, errlen))
			return -1;
#define GET(n) if (!strcmp(w[2], #n)) v = (uint32_t)tmp.n;
		SFP_LIMITS(GET)
#undef GET
		if (store_admit_put(C.db, "limit", w[2], v) ||
		    push_admit(SFP_OP_LIMIT_SET, ADM(.value = v), w[2])) {
			snprintf(err, errlen, "store or data plane refused: %s", store_error(C.db));
			return -1;
		}
		(void)store_notify(C.db, "admit");
		LOG("limit %s set to %u by the operator", w[2], v);
		oprintf(o, "limit\tvalue\n%s\t%u\n", w[2], v);
		return 0;
	}
	if (nw == 2 && !strcmp(w[1], "reset")) {
		if (store_admit_del(C.db, "limit", NULL) < 0) {
			snprintf(err, errlen, "store: %s", store_error(C.db));
			return -1;
		}
		if (admit_replay()) {
			snprintf(err, errlen, "data plane not draining its ring, or store: %s",
				 store_error(C.db));
			return -1;
		}
		(void)store_notify(C.db, "admit");
		LOG("limits reset to the configuration by the operator");
		oprintf(o, "reset\nlimits from the configuration\n");
		return 0;
	}
	snprintf(err, errlen, "usage: limit show | limit set NAME VALUE | limit reset");
	return -1;
}

/* a node is alive while its heartbeat (every second) is under 3 s old */
#define NODE_GONE_MS 3000
struct node_list {
	struct out *o;
	uint64_t now;
	unsigned rows;
};

static int node_row(void *ctx, const char *id, uint64_t started_ms, uint64_t seen_ms, uint64_t regs)
{
	struct node_list *nl = ctx;
	uint64_t age = nl->now > seen_ms ? nl->now - seen_ms : 0;
	oprintf(nl->o, "%s\t%s\t%lu\t%lu\t%lu\n", id,
		age < NODE_GONE_MS ? "alive" : "gone (its registrations unreachable)",
		(unsigned long)(age / 1000),
		(unsigned long)(seen_ms > started_ms ? (seen_ms - started_ms) / 1000 : 0), (unsigned long)regs);
	nl->rows++;
	return 0;
}

static void out_row(void *ctx, const char *line)
{
	oprintf(ctx, "%s\n", line);
}

static void conn_row(void *ctx, const struct tp_info *i)
{
	char a[INET_ADDRSTRLEN], tls[96] = "-";
	inet_ntop(AF_INET, &i->ip, a, sizeof(a));
	if (i->tls_version)
		snprintf(tls, sizeof(tls), "%s/%s", i->tls_version, i->tls_cipher ? i->tls_cipher : "?");
	oprintf(ctx, "%s:%u\t%s\t%s\t%s\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%s\n", a, i->port,
		i->transport == SFP_TP_TLS ? "tls" : "tcp", i->outbound ? "out" : "in", tls,
		(unsigned long)(i->age_ms / 1000), (unsigned long)(i->idle_ms / 1000),
		(unsigned long)i->bytes_in, (unsigned long)i->bytes_out, (unsigned long)i->msgs_in,
		(unsigned long)i->msgs_out, i->user[0] ? i->user : "-");
}

static int command(char **w, int nw, char *payload, struct out *o, char *err, size_t errlen)
{
	if (nw >= 3 && !strcmp(w[0], "user") && !strcmp(w[1], "add")) {
		struct sfp_ha1 h;
		if (!valid_user(w[2])) {
			snprintf(err, errlen, "bad user name '%s' (1-63 printable characters, no ':' or quotes)", w[2]);
			return -1;
		}
		if (nw == 5 && !strcmp(w[3], "--ha1")) {
			memset(&h, 0, sizeof(h));
			h.algs = SFP_ALG_MD5;
			if (sfp_unhex(w[4], strlen(w[4]), h.md5, 16)) {
				snprintf(err, errlen, "--ha1 needs 32 hex digits: MD5(user:realm:password)");
				return -1;
			}
		} else if (nw == 3) {
			size_t L = payload ? strcspn(payload, "\r\n") : 0;
			if (!L) {
				snprintf(err, errlen, "no password given (on standard input)");
				return -1;
			}
			payload[L] = '\0';
			sfp_ha1_from_password(&h, SFP_ALG_MD5 | SFP_ALG_SHA256, w[2], C.realm, payload);
			memset(payload, 0, L);
		} else {
			snprintf(err, errlen, "usage: user add NAME [--ha1 HEX]");
			return -1;
		}
		if (user_set(w[2], &h, err, errlen))
			return -1;
		LOG("user %s added", w[2]);
		oprintf(o, "user\trealm\n%s\t%s\n", w[2], C.realm);
		return 0;
	}
	if (nw == 3 && !strcmp(w[0], "user") && !strcmp(w[1], "del")) {
		int r = store_user_del(C.db, w[2]);
		if (r < 0) {
			snprintf(err, errlen, "store: %s", store_error(C.db));
			return -1;
		}
		if (r == 0) {
			snprintf(err, errlen, "no user '%s'", w[2]);
			return -1;
		}
		(void)push_cred(SFP_OP_CRED_DEL, w[2], NULL, C.gen);
		px_user_del(w[2]);
		char news[96];
		snprintf(news, sizeof(news), "user %s", w[2]);
		(void)store_notify(C.db, news);
		LOG("user %s deleted", w[2]);
		oprintf(o, "deleted\n%s\n", w[2]);
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "user") && !strcmp(w[1], "list")) {
		oprintf(o, "user\trealm\talgorithms\n");
		return store_user_each(C.db, list_cb, o);
	}
	if (nw == 2 && !strcmp(w[0], "user") && !strcmp(w[1], "import"))
		return import(payload ? payload : (char[]){ 0 }, o, err, errlen);
	if (nw == 1 && !strcmp(w[0], "stats")) {
		stats(o);
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "config") && !strcmp(w[1], "show")) {
		oprintf(o, "key\tvalue\n");
		char text[sizeof(C.st->config_text)], *save = NULL;
		memcpy(text, C.st->config_text, sizeof(text));
		text[sizeof(text) - 1] = '\0';
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *eq = strstr(l, " = ");
			if (eq) {
				*eq = '\0';
				oprintf(o, "%s\t%s\n", l, eq + 3);
			}
		}
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "reg") && !strcmp(w[1], "list")) {
		oprintf(o, "aor\tcontact\tsource\texpires_in\n");
		px_reg_list(out_row, o, now_ms());
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "node") && !strcmp(w[1], "list")) {
		oprintf(o, "node\tstate\tlast_seen_s\tup_s\tregistrations\n");
		struct node_list nl = { o, now_ms(), 0 };
		if (store_node_each(C.db, nl.now, node_row, &nl) < 0) {
			snprintf(err, errlen, "store: %s", store_error(C.db));
			return -1;
		}
		if (!nl.rows) /* one node (SQLite): this one */
			oprintf(o, "%s\talive\t0\t%lu\t%u\n", C.node_id,
				(unsigned long)((nl.now - C.started_ms) / 1000), px_registrations());
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "media") && !strcmp(w[1], "list")) {
		oprintf(o, "call_id\tstream\tcaller_port\tcaller\tcallee_port\tcallee\t"
			   "pkts_from_caller\tpkts_from_callee\tjitter_caller_ms\tjitter_callee_ms\tidle_s\tmedia_addr\n");
		md_list(out_row, o, now_ms());
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "dialog") && !strcmp(w[1], "list")) {
		oprintf(o, "state\tcaller\tcallee\tcall_id\tage\tcallee_call_id\n");
		px_dialog_list(out_row, o, now_ms());
		return 0;
	}
	if (nw == 2 && !strcmp(w[0], "conn") && !strcmp(w[1], "list")) {
		oprintf(o, "peer\ttransport\tdirection\ttls\tage_s\tidle_s\tbytes_in\tbytes_out\t"
			   "msgs_in\tmsgs_out\tuser\n");
		tp_each(conn_row, o);
		return 0;
	}
	if (nw >= 1 && !strcmp(w[0], "ban"))
		return cmd_ban(w, nw, o, err, errlen);
	if (nw >= 1 && !strcmp(w[0], "allow"))
		return cmd_allow(w, nw, o, err, errlen);
	if (nw >= 1 && !strcmp(w[0], "limit"))
		return cmd_limit(w, nw, o, err, errlen);
	snprintf(err, errlen, "unknown command (try: user add|del|list|import, stats, config show, "
			      "reg list, dialog list, media list, node list, conn list, ban list|add|del, allow list|add|del, "
			      "limit show|set|reset)");
	return -1;
}

static void serve_client(int fd)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	struct pollfd pfd = { fd, POLLIN, 0 };
	uint64_t deadline = now_ms() + 3000;

	if (!buf)
		goto out;
	/* read the request until the client shuts down its side */
	for (;;) {
		int left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			goto out;
		if (n == cap) {
			if (cap >= SFP_CLI_MAX_REQUEST)
				goto out;
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	char *nl = strchr(buf, '\n'), *payload = NULL;
	if (nl) {
		*nl = '\0';
		payload = nl + 1;
	}
	char *w[SFP_CLI_MAX_WORDS], *save = NULL, err[512] = "";
	int nw = 0;
	for (char *t = strtok_r(buf, "\t", &save); t && nw < SFP_CLI_MAX_WORDS; t = strtok_r(NULL, "\t", &save))
		w[nw++] = t;
	struct out o = { malloc(4096), 0, 4096 };
	if (!o.p)
		goto out;
	int rc;
	if (nw < 2 || strcmp(w[0], SFP_CLI_MAGIC)) {
		snprintf(err, sizeof(err), "protocol mismatch: expected %s", SFP_CLI_MAGIC);
		rc = -1;
	} else {
		rc = command(w + 1, nw - 1, payload, &o, err, sizeof(err));
	}
	char head[600];
	int hl = rc ? snprintf(head, sizeof(head), "ERR\t%s\n", err) : snprintf(head, sizeof(head), "OK\n");
	(void)!write(fd, head, (size_t)hl);
	if (!rc)
		for (size_t off = 0; off < o.n;) {
			ssize_t r = write(fd, o.p + off, o.n - off);
			if (r <= 0)
				break;
			off += (size_t)r;
		}
	free(o.p);
out:
	if (buf)
		memset(buf, 0, n); /* may hold a password */
	free(buf);
	close(fd);
}

static void mkdirs(const char *path)
{
	char d[SFP_CFG_STR_MAX];
	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(d, 0755);
			*p = '/';
		}
	}
}

static void socket_init(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(C.cfg.ctl_socket) >= sizeof(a.sun_path))
		die("ctl_socket path too long");
	mkdirs(C.cfg.ctl_socket);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", C.cfg.ctl_socket);
	(void)unlink(a.sun_path);
	C.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0077);
	if (C.lfd < 0 || bind(C.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(C.lfd, 16))
		die("socket %s: %s", C.cfg.ctl_socket, strerror(errno));
	umask(old);
}

/* the data plane is gone when its process is, or its heartbeat stops */
static bool dp_alive(void)
{
	if (kill((pid_t)C.st->dp_pid, 0) && errno == ESRCH)
		return false;
	uint64_t hb = C.st->dp_heartbeat_ms, now = now_ms();
	return !(hb && now > hb + 5000);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || (!strcmp(argv[i], "-h") && !strcmp(argv[i - 1], "--"))) {
			usage(argv[0]);
			return 0;
		}
	sfp_config_defaults(&C.cfg);
	int r = rte_eal_init(argc, argv);
	if (r < 0)
		die("EAL init failed: %s.  Is sipfp-dataplane running with the same --file-prefix, "
		    "and are these lcores free of it?", rte_strerror(rte_errno));
	if (rte_eal_process_type() != RTE_PROC_SECONDARY)
		die("must run as a DPDK secondary process (--proc-type=secondary)");
	argc -= r;
	argv += r;

	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char err[512];
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:h", lo, NULL)) != -1)
		if (o == 'c' && sfp_config_load(&C.cfg, optarg, err, sizeof(err)))
			die("%s", err);
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:h", lo, NULL)) != -1) {
		if (o == 's' && sfp_config_set_kv(&C.cfg, optarg, err, sizeof(err)))
			die("--set %s: %s", optarg, err);
		if (o == '?')
			die("see --help");
	}

	const struct rte_memzone *mz = rte_memzone_lookup(SFP_MZ_STATE);
	if (!mz)
		die("no %s memzone: the data plane is not a sipfp-dataplane", SFP_MZ_STATE);
	C.st = mz->addr;
	if (C.st->magic != SFP_STATE_MAGIC || C.st->version != SFP_STATE_VERSION)
		die("data plane state version %u, this control process speaks %u: upgrade both together",
		    C.st->version, SFP_STATE_VERSION);
	/* the ring from the data plane has one consumer: a second control
	 * process would take messages from under the first (and rewind its
	 * head, below) */
	pid_t other = (pid_t)C.st->ctl_pid;
	if (other && other != getpid() && kill(other, 0) == 0 && C.st->ctl_heartbeat_ms &&
	    now_ms() - C.st->ctl_heartbeat_ms < C.cfg.ctl_timeout_ms)
		die("another sipfp-control (pid %d) is attached to this data plane", (int)other);
	C.to_ctl = rte_ring_lookup(SFP_RING_TO_CTL);
	/* the ring's only consumer: a predecessor that died between reading
	 * a message and finishing it left the consumer head ahead of the
	 * tail; what lies between is to be handled again (poll_rx) */
	if (C.to_ctl)
		C.to_ctl->cons.head = C.to_ctl->cons.tail;
	C.from_ctl = rte_ring_lookup(SFP_RING_FROM_CTL);
	if (!C.to_ctl || !C.from_ctl)
		die("rings %s/%s not found", SFP_RING_TO_CTL, SFP_RING_FROM_CTL);

	/* the realm the data plane actually uses, from its effective config */
	char text[sizeof(C.st->config_text)], *save = NULL;
	memcpy(text, C.st->config_text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	snprintf(C.realm, sizeof(C.realm), "%s", C.cfg.realm);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "realm = ", 8))
			snprintf(C.realm, sizeof(C.realm), "%s", l + 8);

	C.lcfg.retry_after = 5;
	C.rxbuf = malloc(SFP_SIP_MAX + 1);
	if (!C.rxbuf)
		die("out of memory");

	mkdirs(C.cfg.db_path);
	if (!strcasecmp(C.cfg.store, "postgresql")) {
		if (!C.cfg.pg_conninfo[0])
			die("store = postgresql needs pg_conninfo (a libpq connection string)");
		C.db = store_open_pg(C.cfg.pg_conninfo, err, sizeof(err));
		if (C.db)
			LOG("store: PostgreSQL (%s)", C.cfg.pg_conninfo);
	} else if (!strcasecmp(C.cfg.store, "sqlite")) {
		C.db = store_open(C.cfg.db_path, err, sizeof(err));
	} else {
		die("store '%s' is neither sqlite nor postgresql", C.cfg.store);
	}
	if (!C.db)
		die("store: %s", err);
	uint8_t key[32];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		die("getrandom: %s", strerror(errno));
	if (store_key(C.db, key))
		die("store: cannot keep the tag key: %s", store_error(C.db));
	sfp_auth_keys_init(&C.lcfg.keys, key, sizeof(key), NULL, 0, 300, C.realm);
	snprintf(C.lcfg.addr, sizeof(C.lcfg.addr), "%.63s", C.cfg.addr);
	snprintf(C.lcfg.domain, sizeof(C.lcfg.domain), "%s", C.cfg.domain);
	C.lcfg.sip_port = (uint16_t)C.cfg.sip_port;
	struct in_addr ia;
	if (inet_pton(AF_INET, C.cfg.addr, &ia) != 1)
		die("addr '%s' is not an IPv4 address", C.cfg.addr);
	struct px_env pe = {
		.send = px_send, .respond = respond, .log = px_log, .db = C.db, .lcfg = &C.lcfg,
		.addr = ia.s_addr, .t1_ms = C.cfg.t1_ms ? C.cfg.t1_ms : 500,
		.timer_c_ms = C.cfg.timer_c_s * 1000, .dialog_max_ms = C.cfg.dialog_max_s * 1000,
		.max_itx = C.cfg.max_transactions, .max_dialogs = C.cfg.max_dialogs,
		.reg_min = C.cfg.reg_min_expires, .reg_max = C.cfg.reg_max_expires,
		.reg_default = C.cfg.reg_default_expires,
		.media = C.cfg.media, .media_push = media_push,
		.media_quarantine_ms = C.cfg.media_port_quarantine_s * 1000,
		.media_latch_window_ms = C.cfg.media_latch_window_s * 1000,
		.media_timeout_ms = C.cfg.media_timeout_s * 1000,
		.media_hold_timeout_ms = C.cfg.media_hold_timeout_s * 1000,
		.session_expires = C.cfg.session_expires, .min_se = C.cfg.min_se,
		.journal_max = C.cfg.journal_max, .transport_of = px_transport_of, .send_tp = send_dialling,
		.tls_port = (uint16_t)(C.cfg.tcp && C.cfg.tls_cert[0] ? C.cfg.tls_port : 0),
	};
	snprintf(C.node_id, sizeof(C.node_id), "%.31s:%u", C.cfg.addr, C.cfg.sip_port);
	snprintf(pe.node_id, sizeof(pe.node_id), "%s", C.node_id);
	C.started_ms = now_ms();
	if (!strcasecmp(C.cfg.mode, "b2bua"))
		pe.b2bua = true;
	else if (strcasecmp(C.cfg.mode, "proxy"))
		die("mode '%s' is neither proxy nor b2bua", C.cfg.mode);
	if (pe.b2bua) {
		if (!C.cfg.min_se || C.cfg.session_expires < C.cfg.min_se)
			die("session_expires (%u) must be at least min_se (%u), which must not be 0",
			    C.cfg.session_expires, C.cfg.min_se);
		if (C.cfg.min_se < 90)
			LOG("warning: min_se %u is below RFC 4028's 90 s (for tests only)", C.cfg.min_se);
		LOG("mode b2bua: two dialogs per call, session_expires %u s, min_se %u s", C.cfg.session_expires,
		    C.cfg.min_se);
	}
	if (pe.media) {
		const struct rte_memzone *mmz = rte_memzone_lookup(SFP_MZ_MEDIA);
		if (!mmz || ((const struct sfp_media_table *)mmz->addr)->magic != SFP_MEDIA_MAGIC)
			die("media = yes but the data plane has no %s memzone (started with media = no?)",
			    SFP_MZ_MEDIA);
		pe.media_tab = mmz->addr;
		if (sfp_config_port_range(C.cfg.media_ports, &pe.media_first, &pe.media_last, err,
					  sizeof(err)))
			die("media_ports: %s", err);
		pe.media_n_addr = pe.media_tab->n_addr;
		if (!pe.media_n_addr || pe.media_n_addr > SFP_MEDIA_MAX_ADDRS)
			die("the data plane's media table names %u media addresses", pe.media_n_addr);
		for (unsigned a = 0; a < pe.media_n_addr; a++) {
			struct in_addr ma = { pe.media_tab->addr[a] };
			inet_ntop(AF_INET, &ma, pe.media_addrs[a], sizeof(pe.media_addrs[a]));
		}
		if (!strcasecmp(C.cfg.media_latch, "on"))
			pe.media_latch = SFP_LATCH_ON;
		else if (!strcasecmp(C.cfg.media_latch, "strict"))
			pe.media_latch = SFP_LATCH_STRICT;
		else if (!strcasecmp(C.cfg.media_latch, "off"))
			pe.media_latch = SFP_LATCH_OFF;
		else
			die("media_latch '%s' is none of on, strict, off", C.cfg.media_latch);
	}
	if (px_init(&pe))
		die("store: cannot load registrations and dialogs: %s", store_error(C.db));
	LOG("%u registrations and %u dialogs restored from the store", px_registrations(), px_dialogs());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	socket_init();
	stream_init();

	C.st->ctl_pid = (uint32_t)getpid();
	C.st->ctl_heartbeat_ms = now_ms();
	resync();
	if (admit_replay())
		die("admission replay failed: data plane not draining its ring, or store: %s",
		    store_error(C.db));
	LOG("ready: data plane pid %u, realm \"%s\", store %s, socket %s", C.st->dp_pid, C.realm,
	    C.cfg.db_path, C.cfg.ctl_socket);

	uint64_t last_hb = 0, last_bans = 0, last_news = 0, last_beat = 0;
	int rc = 0;
	while (!C.quit) {
		uint64_t now = now_ms();
		if (now - last_hb >= 100) {
			C.st->ctl_pid = (uint32_t)getpid();
			C.st->ctl_heartbeat_ms = now;
			last_hb = now;
			if (!dp_alive()) {
				LOG("the data plane (pid %u) is gone: exiting so the launcher restarts "
				    "this process against the new one", C.st->dp_pid);
				rc = 3;
				break;
			}
		}
		/* with other nodes to tell (PostgreSQL), bans go out within a second */
		if (now - last_bans >= (store_news_fd(C.db) >= 0 ? 200u : 1000u)) {
			autoban_sync(now);
			last_bans = now;
		}
		px_tick(now);
		unsigned pending = rte_ring_count(C.to_ctl);
		poll_rx();
		/* the store's news fd may be -1 (SQLite): poll ignores it */
		struct pollfd pfd[3] = { { C.lfd, POLLIN, 0 }, { store_news_fd(C.db), POLLIN, 0 },
					 { tp_fd(), POLLIN, 0 } };
		if (poll(pfd, 3, pending ? 0 : 5) > 0 && (pfd[0].revents & POLLIN)) {
			int fd = accept4(C.lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				serve_client(fd);
		}
		if (C.tp)
			tp_poll(now_ms());
		for (unsigned i = 0; i < n_tp_failed; i++)
			px_transport_failed(tp_failed[i].ip, tp_failed[i].port, now_ms());
		n_tp_failed = 0;
		if (pfd[1].fd >= 0 && (pfd[1].revents || now - last_news >= 1000)) {
			(void)store_news(C.db, on_news, NULL);
			last_news = now;
		}
		/* the heartbeat the other nodes see (node list) */
		if (now - last_beat >= 1000) {
			(void)store_node_beat(C.db, C.node_id, C.started_ms, now);
			last_beat = now;
		}
	}
	/* Leaving on SIGTERM/SIGINT is, most of the time, a restart (an
	 * upgrade, the launcher, systemd): the heartbeat is left as it is, so
	 * for ctl_timeout_ms the data plane goes on queueing what needs a
	 * control process in the ring, which outlives this process, and the
	 * successor answers it; a stop for good costs ctl_timeout_ms of that,
	 * then the data plane answers 503.  When the data plane is gone there
	 * is nobody to tell. */
	if (C.tp)
		tp_fini();
	close(C.lfd);
	(void)unlink(C.cfg.ctl_socket);
	store_close(C.db);
	LOG("stopped");
	rte_eal_cleanup();
	return rc;
}
