/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp-dataplane: the DPDK primary process.
 *
 * It owns the port and the mempool and creates every shared object named in
 * include/sipfp/shm.h.  The main lcore does the slow work (configuration
 * from the control process, packets the control process sends, heartbeats,
 * RCU reclaim); worker lcores run the fast path (dp_worker.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_arp.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_pdump.h>
#include <rte_random.h>
#include <rte_telemetry.h>

#include "dp.h"
#include "ring_msg.h"

struct dp g_dp;
int sfp_logtype;

static const char *const cnt_names[SFP_CNT_MAX] = {
#define N(e, n, h) [SFP_CNT_##e] = n,
	SFP_COUNTERS(N)
#undef N
};

static void usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n\n"
	       "sipfp data plane: the DPDK primary process of the sipfp SIP edge.\n"
	       "It answers SIP over UDP on one port: digest challenges, credential checks,\n"
	       "100 Trying, OPTIONS keepalives; stateful work goes to sipfp-control.  TCP\n"
	       "for SIP and TLS goes, after the ban table, to a TAP interface carrying our\n"
	       "address in network namespace sipfp-FILEPREFIX (tcp = no: UDP only).\n\n"
	       "Options:\n"
	       "  -c, --config FILE      configuration file (default: embedded defaults)\n"
	       "  -s, --set KEY=VALUE    override one configuration key (repeatable)\n"
	       "  -a, --addr A.B.C.D     our IPv4 address (same as --set addr=...)\n"
	       "  -p, --port-id N        DPDK port to use (default 0)\n"
	       "  -r, --ready-file PATH  create PATH once the port is up (for launchers)\n"
	       "      --print-config     print a configuration file with every key, then exit\n"
	       "  -h, --help             this help\n\n"
	       "EAL example (embedded default, a TAP port named sipfp0):\n"
	       "  %s -l 0,1 --file-prefix sipfp --vdev net_tap0,iface=sipfp0 -- --addr 10.77.0.2\n"
	       "The main lcore manages; every further lcore is a worker with its own\n"
	       "RX/TX queue pair.  Counters: `sipfpctl stats` or dpdk-telemetry.py\n"
	       "(/sipfp/stats, /sipfp/info).\n", prog, prog);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "sipfp-dataplane: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	g_dp.quit = true;
}

/* ---- options ------------------------------------------------------------- */

static const char *ready_file;

static void parse_app_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port-id", required_argument, NULL, 'p' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char err[512];
	int o;
	/* the file first, then every override in order */
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:a:p:r:h", lo, NULL)) != -1)
		if (o == 'c' && sfp_config_load(&g_dp.cfg, optarg, err, sizeof(err)))
			die("%s", err);
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:a:p:r:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			break;
		case 's':
			if (sfp_config_set_kv(&g_dp.cfg, optarg, err, sizeof(err)))
				die("--set %s: %s", optarg, err);
			break;
		case 'a':
			if (sfp_config_set(&g_dp.cfg, "addr", optarg, err, sizeof(err)))
				die("%s", err);
			break;
		case 'p':
			g_dp.port = (uint16_t)atoi(optarg);
			break;
		case 'r':
			ready_file = optarg;
			break;
		case 'P':
			sfp_config_print_template(stdout);
			exit(0);
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
}

static void build_logic_cfg(void)
{
	struct sfp_config *c = &g_dp.cfg;
	struct sfp_logic_cfg *l = &g_dp.lcfg;
	struct in_addr a;
	uint8_t secret[SFP_CFG_STR_MAX];
	size_t slen;

	if (inet_pton(AF_INET, c->addr, &a) != 1)
		die("addr '%s' is not an IPv4 address", c->addr);
	g_dp.addr = a.s_addr;
	if (c->prefix_len > 32)
		die("prefix_len %u is not 0..32", c->prefix_len);
	g_dp.netmask = c->prefix_len ? htonl(~0u << (32 - c->prefix_len)) : 0;
	g_dp.gateway = 0;
	if (c->gateway[0]) {
		if (inet_pton(AF_INET, c->gateway, &a) != 1)
			die("gateway '%s' is not an IPv4 address", c->gateway);
		if ((a.s_addr & g_dp.netmask) != (g_dp.addr & g_dp.netmask))
			die("gateway %s is not on our subnet %s/%u", c->gateway, c->addr, c->prefix_len);
		g_dp.gateway = a.s_addr;
	}
	g_dp.n_peers = 0;
	if (c->peers[0]) {
		char list[SFP_CFG_STR_MAX], *save = NULL;
		snprintf(list, sizeof(list), "%s", c->peers);
		for (char *p = strtok_r(list, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
			if (g_dp.n_peers == DP_MAX_PEERS)
				die("peers: more than %d addresses", DP_MAX_PEERS);
			if (inet_pton(AF_INET, p, &a) != 1)
				die("peers: '%s' is not an IPv4 address", p);
			g_dp.peers[g_dp.n_peers++] = a.s_addr;
		}
	}
	if (!c->sip_port || c->sip_port > 65535)
		die("sip_port %u is not 1..65535", c->sip_port);
	if (!c->realm[0] || strchr(c->realm, '"') || strchr(c->realm, '\\'))
		die("realm must be non-empty, without quotes or backslashes");
	if (c->nonce_lifetime < 10)
		die("nonce_lifetime %u: at least 10 seconds", c->nonce_lifetime);

	if (c->nonce_secret[0]) {
		slen = strlen(c->nonce_secret);
		if (slen < 16)
			die("nonce_secret: at least 16 characters");
		memcpy(secret, c->nonce_secret, slen);
	} else {
		slen = 64;
		if (getrandom(secret, slen, 0) != (ssize_t)slen)
			die("getrandom: %s", strerror(errno));
		DP_LOG(NOTICE, "no nonce_secret configured: using a random one; nonces will "
			       "not survive a restart and other nodes will not accept them");
	}
	char err[256], ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &g_dp.addr, ip, sizeof(ip));
	if (sfp_logic_from_config(l, c, ip, secret, slen, err, sizeof(err)))
		die("%s", err);
	/* for the shared state (objects_init): the control process decides
	 * TCP/TLS messages with the same key */
	memcpy(g_dp.nonce_key, secret, slen);
	g_dp.nonce_key_len = (uint32_t)slen;
}

/* ---- telemetry --------------------------------------------------------------- */

static uint64_t sum_counter(unsigned c)
{
	uint64_t s = 0;
	for (unsigned i = 0; i <= g_dp.n_workers; i++)
		s += g_dp.st->stats[i].c[c];
	return s;
}

static int tm_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	rte_tel_data_start_dict(d);
	if (params && *params) {
		unsigned i = (unsigned)atoi(params);
		if (i > g_dp.n_workers)
			return -1;
		for (unsigned c = 0; c < SFP_CNT_MAX; c++)
			rte_tel_data_add_dict_u64(d, cnt_names[c], g_dp.st->stats[i].c[c]);
		return 0;
	}
	for (unsigned c = 0; c < SFP_CNT_MAX; c++)
		rte_tel_data_add_dict_u64(d, cnt_names[c], sum_counter(c));
	return 0;
}

static int tm_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "addr", g_dp.cfg.addr);
	rte_tel_data_add_dict_u64(d, "sip_port", g_dp.cfg.sip_port);
	rte_tel_data_add_dict_string(d, "realm", g_dp.cfg.realm);
	rte_tel_data_add_dict_u64(d, "workers", g_dp.n_workers);
	rte_tel_data_add_dict_u64(d, "users", g_dp.st->cred_count);
	rte_tel_data_add_dict_u64(d, "control_attached", g_dp.st->ctl_attached);
	rte_tel_data_add_dict_u64(d, "mbuf_in_use", g_dp.st->mbuf_in_use);
	rte_tel_data_add_dict_u64(d, "mbuf_total", g_dp.st->mbuf_total);
	rte_tel_data_add_dict_u64(d, "hugepage_bytes", g_dp.st->hugepage_bytes);
	rte_tel_data_add_dict_u64(d, "port_rx_nombuf", g_dp.st->port_rx_nombuf);
	rte_tel_data_add_dict_u64(d, "port_imissed", g_dp.st->port_imissed);
	rte_tel_data_add_dict_u64(d, "port_ierrors", g_dp.st->port_ierrors);
	rte_tel_data_add_dict_u64(d, "port_oerrors", g_dp.st->port_oerrors);
	return 0;
}

/* ---- setup ---------------------------------------------------------------------- */

static void port_init(void)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = { 0 };
	uint16_t q, nq = (uint16_t)g_dp.n_workers;
	int r;

	if (!rte_eth_dev_is_valid_port(g_dp.port))
		die("no DPDK port %u: give one with EAL options (-a PCI, or --vdev)", g_dp.port);
	if ((r = rte_eth_dev_info_get(g_dp.port, &info)))
		die("port %u: dev_info: %s", g_dp.port, rte_strerror(-r));
	if (nq > info.max_rx_queues || nq > info.max_tx_queues)
		die("port %u supports %u RX / %u TX queues, %u workers need as many",
		    g_dp.port, info.max_rx_queues, info.max_tx_queues, nq);
	if (nq > 1) {
		/* RSS on the IPv4 addresses only: all fragments of a datagram,
		 * which carry no UDP header after the first, and all packets of
		 * one source reach the same worker (so its reassembly and its
		 * per-source state stay on one lcore) */
		uint64_t want = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 |
				RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L3_SRC_ONLY;
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = want & info.flow_type_rss_offloads;
		if (!conf.rx_adv_conf.rss_conf.rss_hf)
			DP_LOG(WARNING, "port %u has no IPv4 RSS: one worker will get all traffic",
			       g_dp.port);
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if ((r = rte_eth_dev_configure(g_dp.port, nq, nq, &conf)))
		die("port %u: configure: %s", g_dp.port, rte_strerror(-r));
	uint16_t nrx = (uint16_t)g_dp.cfg.rx_desc, ntx = (uint16_t)g_dp.cfg.tx_desc;
	if ((r = rte_eth_dev_adjust_nb_rx_tx_desc(g_dp.port, &nrx, &ntx)))
		die("port %u: descriptors: %s", g_dp.port, rte_strerror(-r));
	int sock = rte_eth_dev_socket_id(g_dp.port);
	for (q = 0; q < nq; q++) {
		struct rte_eth_rxconf rxc = info.default_rxconf;
		rxc.offloads = conf.rxmode.offloads;
		if ((r = rte_eth_rx_queue_setup(g_dp.port, q, nrx, (unsigned)sock, &rxc, g_dp.mp)))
			die("port %u: RX queue %u: %s", g_dp.port, q, rte_strerror(-r));
		struct rte_eth_txconf txc = info.default_txconf;
		txc.offloads = conf.txmode.offloads;
		if ((r = rte_eth_tx_queue_setup(g_dp.port, q, ntx, (unsigned)sock, &txc)))
			die("port %u: TX queue %u: %s", g_dp.port, q, rte_strerror(-r));
	}
	if ((r = rte_eth_dev_start(g_dp.port)))
		die("port %u: start: %s", g_dp.port, rte_strerror(-r));
	(void)rte_eth_promiscuous_disable(g_dp.port);
	if ((r = rte_eth_macaddr_get(g_dp.port, &g_dp.mac)))
		die("port %u: MAC: %s", g_dp.port, rte_strerror(-r));
}

static void objects_init(void)
{
	int sock = (int)rte_socket_id();
	const struct rte_memzone *mz = rte_memzone_reserve(SFP_MZ_STATE, sizeof(struct sfp_state),
							   sock, 0);
	if (!mz)
		die("memzone %s: %s (is another sipfp-dataplane running with this "
		    "--file-prefix?)", SFP_MZ_STATE, rte_strerror(rte_errno));
	g_dp.st = mz->addr;
	memset(g_dp.st, 0, sizeof(*g_dp.st));
	g_dp.st->magic = SFP_STATE_MAGIC;
	g_dp.st->version = SFP_STATE_VERSION;
	g_dp.st->dp_pid = (uint32_t)getpid();
	if (getrandom(&g_dp.st->boot_id, sizeof(g_dp.st->boot_id), 0) < 0)
		g_dp.st->boot_id = rte_rdtsc();
	g_dp.st->n_workers = g_dp.n_workers;
	sfp_config_dump(&g_dp.cfg, g_dp.st->config_text, sizeof(g_dp.st->config_text));

	g_dp.mp = rte_pktmbuf_pool_create(SFP_MP_MBUF, g_dp.cfg.mbufs, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, sock);
	if (!g_dp.mp)
		die("mempool of %u mbufs: %s (more hugepages?)", g_dp.cfg.mbufs,
		    rte_strerror(rte_errno));
	g_dp.st->mbuf_total = g_dp.cfg.mbufs;

	if (!rte_is_power_of_2(g_dp.cfg.ring_size))
		die("ring_size %u is not a power of 2", g_dp.cfg.ring_size);
	g_dp.to_ctl = rte_ring_create_elem(SFP_RING_TO_CTL, SFP_MSG_SIZE, g_dp.cfg.ring_size,
					   sock, RING_F_SC_DEQ);
	g_dp.from_ctl = rte_ring_create_elem(SFP_RING_FROM_CTL, SFP_MSG_SIZE, g_dp.cfg.ring_size,
					     sock, RING_F_SP_ENQ | RING_F_SC_DEQ);
	g_dp.arp_learn = rte_ring_create_elem("sipfp_arp_learn", sizeof(struct dp_arp_news), 1024,
					      sock, RING_F_SC_DEQ);
	g_dp.arp = rte_zmalloc_socket("sipfp_arp", sizeof(*g_dp.arp), 64, sock);
	if (!g_dp.to_ctl || !g_dp.from_ctl || !g_dp.arp_learn || !g_dp.arp)
		die("rings: %s", rte_strerror(rte_errno));
	sfp_arp_init(g_dp.arp, g_dp.addr, (uint8_t)g_dp.cfg.prefix_len, g_dp.gateway);
	char err[256];
	if (dp_admit_init(&g_dp, err, sizeof(err)) || dp_media_init(&g_dp, err, sizeof(err)))
		die("%s", err);
	if (g_dp.media)
		DP_LOG(INFO, "media relayed on ports %s of %s", g_dp.cfg.media_ports,
		       g_dp.cfg.media_addr[0] ? g_dp.cfg.media_addr : g_dp.cfg.addr);
}

static void workers_init(void)
{
	unsigned lc, i = 0;
	char name[RTE_RING_NAMESIZE];

	/* workers 0..n-1 poll queues; slot n is the main lcore's, for frames
	 * it sends on behalf of the control process */
	RTE_LCORE_FOREACH_WORKER(lc) {
		struct dp_worker *w = &g_dp.workers[i];
		w->lcore_id = lc;
		w->idx = (uint16_t)i;
		g_dp.st->worker_lcore[i] = lc;
		i++;
	}
	for (i = 0; i <= g_dp.n_workers; i++) {
		struct dp_worker *w = &g_dp.workers[i];
		int sock = (int)rte_lcore_to_socket_id(i < g_dp.n_workers ? w->lcore_id : rte_get_main_lcore());
		if (i == g_dp.n_workers) {
			w->idx = (uint16_t)i;
			w->lcore_id = rte_get_main_lcore();
		}
		w->cnt = g_dp.st->stats[i].c;
		w->ip_id = (uint16_t)(i << 12);
		w->scratch = rte_malloc_socket(NULL, DP_SCRATCH, 64, sock);
		w->out = rte_malloc_socket(NULL, DP_SCRATCH, 64, sock);
		w->msgs = rte_malloc_socket(NULL, (size_t)SFP_MAX_NSEG * SFP_MSG_SIZE, 64, sock);
		if (!w->scratch || !w->out || !w->msgs)
			die("no memory for worker %u", i);
		if (i == g_dp.n_workers)
			break;
		snprintf(name, sizeof(name), "sipfp_tx_%u", i);
		w->tx_in = rte_ring_create(name, 1024, sock, RING_F_SP_ENQ | RING_F_SC_DEQ);
		/* frag_entries datagrams in flight; slots keyed per table */
		w->frag_guard = rte_zmalloc_socket("sipfp_frag_guard",
						   sfp_fg_size(g_dp.cfg.frag_entries), 64, sock);
		if (w->frag_guard)
			sfp_fg_init(w->frag_guard, g_dp.cfg.frag_entries, g_dp.cfg.frag_timeout_ms,
				    g_dp.cfg.frag_per_source, rte_rand(), dp_frag_release, w);
		w->rl = rte_malloc_socket("sipfp_ratelimit", sfp_rl_size(g_dp.cfg.src_table), 64, sock);
		if (w->rl)
			sfp_rl_init(w->rl, g_dp.cfg.src_table);
		if (!w->tx_in || !w->frag_guard || !w->rl)
			die("worker %u: ring or reassembly table: %s", i, rte_strerror(rte_errno));
	}
}

/* ---- the main lcore -------------------------------------------------------------- */

/* frames for the main lcore go out through worker 0's queue: TX queues are per lcore */
static void main_tx(struct dp_worker *mw, struct rte_mbuf **tx, unsigned n)
{
	unsigned sent = rte_ring_enqueue_burst(g_dp.workers[0].tx_in, (void **)tx, n, NULL);
	mw->cnt[SFP_CNT_CTL_TX] += sent;
	if (sent < n) {
		mw->cnt[SFP_CNT_CTL_TX_DROP] += n - sent;
		rte_pktmbuf_free_bulk(tx + sent, n - sent);
	}
}

/* RFC 826: who has nh?  Tell our address. */
static void arp_ask(void *ctx, uint32_t nh)
{
	struct dp_worker *mw = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(g_dp.mp);
	if (!m) {
		mw->cnt[SFP_CNT_NO_MBUF]++;
		return;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
		sizeof(*eth) + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	memset(eth->dst_addr.addr_bytes, 0xff, 6);
	rte_ether_addr_copy(&g_dp.mac, &eth->src_addr);
	eth->ether_type = htons(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = htons(RTE_ARP_HRD_ETHER);
	a->arp_protocol = htons(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = htons(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&g_dp.mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = g_dp.addr;
	memset(&a->arp_data.arp_tha, 0, 6);
	a->arp_data.arp_tip = nh;
	mw->cnt[SFP_CNT_ARP_REQUEST]++;
	main_tx(mw, &m, 1);
}

static void arp_drop(void *ctx, void *frame)
{
	struct dp_worker *mw = ctx;
	mw->cnt[SFP_CNT_ARP_UNRESOLVED]++;
	rte_pktmbuf_free(frame);
}

static void arp_send(void *ctx, void *frame, const uint8_t mac[6])
{
	struct rte_mbuf *m = frame;
	memcpy(rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr.addr_bytes, mac, 6);
	main_tx(ctx, &m, 1);
}

/* what the workers learned; frames waiting for those neighbours go out */
static void arp_poll(struct dp_worker *mw, uint64_t now)
{
	struct dp_arp_news nw[32];
	unsigned n = rte_ring_dequeue_burst_elem(g_dp.arp_learn, nw, sizeof(nw[0]), 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *mac = sfp_arp_learn(g_dp.arp, nw[i].ip, nw[i].mac, now);
		if (mac) {
			mw->cnt[SFP_CNT_ARP_LEARNED]++;
			if (g_dp.arp->n_pending)
				sfp_arp_release(g_dp.arp, nw[i].ip, mac, arp_send, mw);
		}
	}
	sfp_arp_tick(g_dp.arp, now, arp_ask, arp_drop, mw);
}

/* a frame with our source MAC, to dst_ip's next hop: sent when the
 * neighbour is known, otherwise kept until ARP answers (RFC 1122
 * 2.3.2.2: bounded) */
void dp_send_routed(struct dp_worker *mw, struct rte_mbuf *m, uint32_t dst_ip, uint64_t now)
{
	uint32_t nh = sfp_arp_next_hop(g_dp.arp, dst_ip);
	if (!nh) {
		mw->cnt[SFP_CNT_NO_ROUTE]++;
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *mac = sfp_arp_lookup(g_dp.arp, nh, now);
	if (mac) {
		arp_send(mw, m, mac);
		return;
	}
	switch (sfp_arp_park(g_dp.arp, nh, m, now)) {
	case SFP_ARPQ_QUEUED_ASK:
		arp_ask(mw, nh);
		break;
	case SFP_ARPQ_QUEUED:
		break;
	case SFP_ARPQ_FULL:
		mw->cnt[SFP_CNT_ARP_QUEUE_FULL]++;
		rte_pktmbuf_free(m);
		break;
	}
}

static void ctl_send(struct dp_worker *mw, const struct sfp_sip_meta *mt, const char *payload)
{
	struct rte_mbuf *tx[64];
	unsigned n = 0;
	struct rte_ether_addr dst;
	uint64_t now = dp_now_ms();

	/* a MAC from the control process (the one a request came from) is
	 * used as is; otherwise the next hop is resolved per frame */
	memcpy(dst.addr_bytes, mt->mac, 6);
	if (dp_udp_frames(mw, &dst, mt->dst_ip, mt->dst_port, payload, mt->total_len, tx, &n, 64)) {
		mw->cnt[SFP_CNT_CTL_TX_DROP]++;
		return;
	}
	if (!rte_is_zero_ether_addr(&dst)) {
		main_tx(mw, tx, n);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		dp_send_routed(mw, tx[i], mt->dst_ip, now);
}

static void poll_ctl_ring(struct dp_worker *mw)
{
	struct sfp_msg m;
	for (int k = 0; k < 256; k++) {
		if (rte_ring_dequeue_elem(g_dp.from_ctl, &m, SFP_MSG_SIZE))
			return;
		g_dp.st->ctl_msgs_applied++;
		if (m.h.version != SFP_MSG_VERSION) {
			g_dp.st->ctl_msgs_bad++;
			continue;
		}
		if (m.h.op != SFP_OP_SIP_TX) {
			if (m.h.op == SFP_OP_SEG)
				g_dp.st->ctl_msgs_bad++; /* a segment without its head */
			else if (m.h.op == SFP_OP_AUTH_FAIL)
				dp_admit_fail_msg(&g_dp, &m);
			else if (m.h.op == SFP_OP_MEDIA_SET || m.h.op == SFP_OP_MEDIA_DEL)
				dp_media_apply(&g_dp, &m, dp_now_ms());
			else if (m.h.op >= SFP_OP_BAN_ADD)
				dp_admit_apply(&g_dp, &m, dp_now_ms());
			else
				dp_creds_apply(&g_dp, &m);
			continue;
		}
		/* a multi-element message was enqueued in one bulk: its
		 * segments are already in the ring behind it */
		struct sfp_ring_unpack u;
		unsigned want = sfp_ring_unpack_head(&u, &m, mw->scratch);
		while (want--) {
			if (rte_ring_dequeue_elem(g_dp.from_ctl, &m, SFP_MSG_SIZE))
				break;
			sfp_ring_unpack_seg(&u, &m);
		}
		if (!sfp_ring_unpack_done(&u)) {
			g_dp.st->ctl_msgs_bad++;
			mw->cnt[SFP_CNT_CTL_TX_DROP]++;
			continue;
		}
		ctl_send(mw, &u.m, u.buf);
	}
}

static void housekeeping(uint64_t now)
{
	struct sfp_state *st = g_dp.st;
	uint64_t hb = st->ctl_heartbeat_ms;
	uint32_t was = st->ctl_attached;
	uint32_t is = hb && now >= hb ? (now - hb < g_dp.cfg.ctl_timeout_ms) : (hb > now);

	st->dp_heartbeat_ms = now;
	/* a control process that stopped or died is usually restarted within
	 * a fraction of a second: what the calls in progress send meanwhile
	 * waits in the ring for the successor, as long as it could still be
	 * of use (ctl_queue_s, 64*T1) */
	g_dp.ctl_queue = hb && (hb > now || now - hb < (uint64_t)g_dp.cfg.ctl_queue_s * 1000);
	if (is != was) {
		st->ctl_attached = is;
		if (is)
			DP_LOG(NOTICE, "control process attached (pid %u)", st->ctl_pid);
		else
			DP_LOG(WARNING, "control process gone (no heartbeat for %u ms): new requests "
					"that need it get 503; responses and in-dialog requests wait "
					"in the ring for %u s", g_dp.cfg.ctl_timeout_ms, g_dp.cfg.ctl_queue_s);
	}
	st->mbuf_in_use = rte_mempool_in_use_count(g_dp.mp);
	struct rte_malloc_socket_stats ms;
	uint64_t heap = 0;
	for (unsigned s = 0; s < rte_socket_count(); s++)
		if (!rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &ms))
			heap += ms.heap_allocsz_bytes;
	st->hugepage_bytes = heap;
	struct rte_eth_stats es;
	if (!rte_eth_stats_get(g_dp.port, &es)) {
		st->port_rx_nombuf = es.rx_nombuf;
		st->port_imissed = es.imissed;
		st->port_ierrors = es.ierrors;
		st->port_oerrors = es.oerrors;
	}
	dp_creds_reclaim(&g_dp);
}

static void main_loop(void)
{
	struct dp_worker *mw = &g_dp.workers[g_dp.n_workers];
	uint64_t last = 0, last_sec = 0;
	while (!g_dp.quit) {
		unsigned before = rte_ring_count(g_dp.from_ctl) + rte_ring_count(g_dp.arp_learn) +
				  rte_ring_count(g_dp.auth_fail);
		poll_ctl_ring(mw);
		uint64_t dnow = dp_now_ms();
		before += dp_exc_poll(&g_dp, mw, dnow);
		arp_poll(mw, dnow);
		dp_admit_poll(&g_dp, dnow, mw->cnt);
		if (dnow - last_sec >= 1000) {
			dp_admit_tick(&g_dp, dnow, mw->cnt);
			last_sec = dnow;
		}
		/* wall clock: the control process compares heartbeats with its own */
		uint64_t now = dp_now_ms();
		if (now - last >= 50) {
			housekeeping(now);
			last = now;
		}
		/* idle: with TCP connections through the kernel, every sleep
		 * here is added to their round trips */
		if (!before)
			usleep(g_dp.exc ? 100 : 1000);
	}
}

int main(int argc, char **argv)
{
	/* --help must not need an EAL */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || (!strcmp(argv[i], "-h") && i > 1 &&
						   !strcmp(argv[i - 1], "--"))) {
			usage(argv[0]);
			return 0;
		}
		if (!strcmp(argv[i], "--print-config")) {
			sfp_config_print_template(stdout);
			return 0;
		}
	}
	sfp_config_defaults(&g_dp.cfg);
	int r = rte_eal_init(argc, argv);
	if (r < 0)
		die("EAL init failed: %s (run as root, with hugepages; see --help)",
		    rte_strerror(rte_errno));
	sfp_logtype = rte_log_register_type_and_pick_level("sipfp", RTE_LOG_INFO);
	if (sfp_logtype < 0)
		sfp_logtype = RTE_LOGTYPE_USER1;
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		die("must run as the DPDK primary process");
	parse_app_args(argc - r, argv + r);
	build_logic_cfg();

	g_dp.n_workers = rte_lcore_count() - 1;
	if (g_dp.n_workers < 1)
		die("needs at least 2 lcores (main + one worker), e.g. -l 0,1");
	if (g_dp.n_workers + 1 > SFP_MAX_LCORES)
		die("at most %d workers", SFP_MAX_LCORES - 1);
	/* fragments held for reassembly come out of the same mempool as RX:
	 * a flood of incomplete datagrams must not be able to starve it */
	if ((uint64_t)g_dp.cfg.frag_entries * SFP_FG_MAX_FRAGS * g_dp.n_workers > (g_dp.cfg.mbufs + 1ull) / 2)
		die("frag_entries %u x %u fragments x %u worker(s) could hold more than half of the "
		    "%u mbufs: lower frag_entries or raise mbufs", g_dp.cfg.frag_entries,
		    SFP_FG_MAX_FRAGS, g_dp.n_workers, g_dp.cfg.mbufs);
	g_dp.tsc_hz = rte_get_tsc_hz();

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	objects_init();
	if (dp_creds_init(&g_dp))
		die("credential table: %s", rte_strerror(rte_errno));
	workers_init();
	port_init();
	char xerr[256];
	if (dp_exc_init(&g_dp, xerr, sizeof(xerr)))
		die("%s", xerr);
	memcpy(g_dp.st->nonce_key, g_dp.nonce_key, g_dp.nonce_key_len);
	g_dp.st->nonce_key_len = g_dp.nonce_key_len;
	snprintf(g_dp.st->exc_netns, sizeof(g_dp.st->exc_netns), "%s", g_dp.exc ? g_dp.exc_netns : "");
	g_dp.st->exc_ready = g_dp.exc;
	if (rte_pdump_init())
		DP_LOG(WARNING, "pdump not available: dpdk-dumpcap will not attach");
	rte_telemetry_register_cmd("/sipfp/stats", tm_stats,
				   "sipfp counters, summed; parameter: one worker index");
	rte_telemetry_register_cmd("/sipfp/info", tm_info, "sipfp address, users, control, memory");

	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &g_dp.addr, ip, sizeof(ip));
	DP_LOG(NOTICE, "ready: SIP at %s:%u on port %u (" RTE_ETHER_ADDR_PRT_FMT "), %u worker(s), "
		       "realm \"%s\"", ip, g_dp.cfg.sip_port, g_dp.port,
	       RTE_ETHER_ADDR_BYTES(&g_dp.mac), g_dp.n_workers, g_dp.cfg.realm);
	housekeeping(dp_now_ms());

	unsigned lc, i = 0;
	RTE_LCORE_FOREACH_WORKER(lc)
		rte_eal_remote_launch(dp_worker_main, &g_dp.workers[i++], lc);
	if (ready_file) {
		FILE *f = fopen(ready_file, "w");
		if (!f)
			die("ready file %s: %s", ready_file, strerror(errno));
		fprintf(f, "%u\n", (unsigned)getpid());
		fclose(f);
	}
	main_loop();

	DP_LOG(NOTICE, "stopping");
	rte_eal_mp_wait_lcore();
	/* give every mbuf back before counting, so the figure is a leak check:
	 * the port's descriptors, datagrams under reassembly, queued frames */
	dp_exc_fini(&g_dp);
	rte_eth_dev_stop(g_dp.port);
	rte_eth_dev_close(g_dp.port);
	for (unsigned k = 0; k < g_dp.n_workers; k++) {
		struct dp_worker *w = &g_dp.workers[k];
		struct rte_mbuf *m = NULL;
		sfp_fg_flush(w->frag_guard);
		rte_free(w->frag_guard);
		rte_free(w->rl);
		while (rte_ring_dequeue(w->tx_in, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	dp_admit_free(&g_dp);
	uint64_t in_use = rte_mempool_in_use_count(g_dp.mp);
	if (in_use)
		DP_LOG(WARNING, "mbufs in use at exit: %" PRIu64 " (leaked)", in_use);
	else
		DP_LOG(NOTICE, "mbufs in use at exit: 0");
	if (ready_file)
		unlink(ready_file);
	rte_pdump_uninit();
	rte_eal_cleanup();
	return 0;
}
