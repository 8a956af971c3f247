/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exception path: SIP over TCP and TLS through the kernel.
 *
 * The poll-mode cores stay stateless and UDP-only.  TCP segments for our
 * address and SIP ports go to a TAP interface whose kernel side carries our
 * own address, in a network namespace of its own (so that the host's
 * routing never short-circuits traffic for that address, and the kernel
 * there has one interface and one default route: back through us).  The
 * kernel runs TCP; sipfp-control opens its TCP and TLS sockets in that
 * namespace.  What the kernel sends comes back out of the TAP and leaves
 * through the port, with the next hop resolved by our own ARP cache: the
 * kernel interface is NOARP, so it never asks the wire anything.
 *
 * Workers admit segments as they admit datagrams (dp_worker.c: bans, the
 * SYN rate limit: a banned source's SYN never reaches the kernel) and
 * enqueue them; the main lcore does the TAP's I/O, as DPDK's "virtio-user
 * as exception path" and grout do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"

#define EXC_VDEV "net_tap_sipfpx"
#define EXC_RING 4096

/* run a command (no shell); 0 when it exited 0 */
static int run(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define RUN(...) run((char *const[]){ __VA_ARGS__, NULL })

static void netns_name(struct dp *dp, char *out, size_t n)
{
	if (dp->cfg.exc_netns[0]) {
		snprintf(out, n, "%.63s", dp->cfg.exc_netns);
		return;
	}
	/* one namespace per data plane: the file prefix tells them apart */
	char rd[256];
	snprintf(rd, sizeof(rd), "%s", rte_eal_get_runtime_dir());
	snprintf(out, n, "sipfp-%.40s", basename(rd));
}

int dp_exc_init(struct dp *dp, char *err, size_t errlen)
{
	struct sfp_config *c = &dp->cfg;
	int r;

	if (!c->tcp)
		return 0;
	if (!c->tls_port || c->tls_port > 65535 || c->tls_port == c->sip_port) {
		snprintf(err, errlen, "tls_port %u: 1..65535 and not sip_port", c->tls_port);
		return -1;
	}
	netns_name(dp, dp->exc_netns, sizeof(dp->exc_netns));
	snprintf(dp->exc_if, sizeof(dp->exc_if), "sfpx%u", (unsigned)getpid() % 10000000u);
	char args[64];
	snprintf(args, sizeof(args), "iface=%s", dp->exc_if);
	if ((r = rte_vdev_init(EXC_VDEV, args)) || rte_eth_dev_get_port_by_name(EXC_VDEV, &dp->exc_port)) {
		snprintf(err, errlen, "exception path: TAP %s: %s (tcp = no runs UDP only)", dp->exc_if,
			 rte_strerror(r < 0 ? -r : EINVAL));
		return -1;
	}
	struct rte_eth_conf conf = { 0 };
	if ((r = rte_eth_dev_configure(dp->exc_port, 1, 1, &conf)) ||
	    (r = rte_eth_rx_queue_setup(dp->exc_port, 0, 512, rte_socket_id(), NULL, dp->mp)) ||
	    (r = rte_eth_tx_queue_setup(dp->exc_port, 0, 512, rte_socket_id(), NULL)) ||
	    (r = rte_eth_dev_start(dp->exc_port))) {
		snprintf(err, errlen, "exception path: TAP %s: %s", dp->exc_if, rte_strerror(-r));
		return -1;
	}
	dp->exc_in = rte_ring_create("sipfp_exc_in", EXC_RING, rte_socket_id(), RING_F_SC_DEQ);
	if (!dp->exc_in) {
		snprintf(err, errlen, "exception path: ring: %s", rte_strerror(rte_errno));
		return -1;
	}
	/* the kernel side's MAC: locally administered, derived from ours, so
	 * frames for it are told apart from frames for the wire */
	dp->exc_mac = dp->mac;
	dp->exc_mac.addr_bytes[0] = 0x02;
	dp->exc_mac.addr_bytes[5] ^= 0x5a;
	char mac[32], cidr[40], ip[INET_ADDRSTRLEN], lo[8], hi[8];
	snprintf(mac, sizeof(mac), RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(&dp->exc_mac));
	inet_ntop(AF_INET, &dp->addr, ip, sizeof(ip));
	snprintf(cidr, sizeof(cidr), "%s/%u", ip, c->prefix_len);
	snprintf(lo, sizeof(lo), "%u", DP_EXC_LPORT_LO);
	snprintf(hi, sizeof(hi), "%u", DP_EXC_LPORT_HI);
	char range[64];
	snprintf(range, sizeof(range), "net.ipv4.ip_local_port_range=%s %s", lo, hi);
	char *ns = dp->exc_netns, *ifn = dp->exc_if;
	/* a namespace left by a data plane that was killed goes first */
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if (access(path, F_OK) == 0)
		(void)RUN("ip", "netns", "del", ns);
	if (RUN("ip", "netns", "add", ns) ||
	    RUN("ip", "link", "set", ifn, "netns", ns) ||
	    RUN("ip", "-n", ns, "link", "set", "dev", ifn, "address", mac, "arp", "off", "mtu", "1500") ||
	    RUN("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", range) ||
	    RUN("ip", "-n", ns, "addr", "add", cidr, "dev", ifn) ||
	    RUN("ip", "-n", ns, "link", "set", "lo", "up") ||
	    RUN("ip", "-n", ns, "link", "set", ifn, "up") ||
	    RUN("ip", "-n", ns, "route", "replace", "default", "dev", ifn)) {
		snprintf(err, errlen, "exception path: setting up %s in network namespace %s failed "
			 "(iproute2 installed? running as root?); tcp = no runs UDP only", ifn, ns);
		(void)RUN("ip", "netns", "del", ns);
		return -1;
	}
	dp->exc = true;
	DP_LOG(INFO, "exception path: TCP for %s ports %u, %u and %s-%s through %s in network "
		     "namespace %s", ip, c->sip_port, c->tls_port, lo, hi, ifn, ns);
	return 0;
}

void dp_exc_fini(struct dp *dp)
{
	if (!dp->exc)
		return;
	struct rte_mbuf *m;
	while (rte_ring_dequeue(dp->exc_in, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_eth_dev_stop(dp->exc_port);
	rte_eth_dev_close(dp->exc_port);
	(void)rte_vdev_uninit(EXC_VDEV);
	(void)RUN("ip", "netns", "del", dp->exc_netns);
	dp->exc = false;
}

/* ---- workers ------------------------------------------------------------------------ */

/* a TCP segment the worker has admitted: to the main lcore, never
 * waiting (a full queue is a counted drop, TCP sends it again) */
bool dp_exc_in(struct dp_worker *w, struct rte_mbuf *m)
{
	if (rte_ring_enqueue(g_dp.exc_in, m)) {
		w->cnt[SFP_CNT_EXC_IN_FULL]++;
		return false;
	}
	w->cnt[SFP_CNT_EXC_IN]++;
	return true;
}

/* ---- the main lcore ----------------------------------------------------------------- */

unsigned dp_exc_poll(struct dp *dp, struct dp_worker *mw, uint64_t now)
{
	struct rte_mbuf *b[DP_BURST];
	unsigned n, done = 0;

	if (!dp->exc)
		return 0;
	/* to the kernel: addressed to its side of the TAP */
	n = rte_ring_dequeue_burst(dp->exc_in, (void **)b, DP_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(b[i], struct rte_ether_hdr *);
		rte_ether_addr_copy(&dp->exc_mac, &eth->dst_addr);
		b[i]->ol_flags = 0;
	}
	if (n) {
		uint16_t sent = rte_eth_tx_burst(dp->exc_port, 0, b, (uint16_t)n);
		if (sent < n) {
			mw->cnt[SFP_CNT_EXC_TX_FULL] += n - sent;
			rte_pktmbuf_free_bulk(b + sent, n - sent);
		}
	}
	done += n;
	/* from the kernel: out of the port, to the next hop */
	n = rte_eth_rx_burst(dp->exc_port, 0, b, DP_BURST);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = b[i];
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*ip) ||
		    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ip->src_addr != dp->addr) {
			mw->cnt[SFP_CNT_EXC_OUT_OTHER]++;
			rte_pktmbuf_free(m);
			continue;
		}
		rte_ether_addr_copy(&dp->mac, &eth->src_addr);
		mw->cnt[SFP_CNT_EXC_OUT]++;
		dp_send_routed(mw, m, ip->dst_addr, now);
	}
	return done + n;
}
