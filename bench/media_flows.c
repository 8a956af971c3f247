/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * media_flows: install N anchored streams in a running data plane, as the
 * control process would after N calls' SDP, for bench/media.sh.  A DPDK
 * secondary that pushes SFP_OP_MEDIA_SET messages into the ring from the
 * control process (run it with no control process attached).
 *
 * Stream i: the caller-facing RTP port BASE + 4 i receives from anyone
 * (latching on, the window one hour) and relays to 10.79.x.y:5000 from
 * port BASE + 4 i + 2, the next hop's MAC given, as bench/mkpcap.py --rtp
 * sends them.
 *
 *   media_flows EAL-OPTIONS --proc-type=secondary --file-prefix P -- N [BASE [TO_IP TO_PORT TO_MAC]]
 *
 * With TO_*: every stream relays to that one address (bench/relay.sh's
 * receiver), through that next hop.  With SFP_BENCH_ADDRS=K in the
 * environment the streams are spread over the data plane's first K media
 * addresses in blocks (stream i on address i / ceil(N/K), its port
 * BASE + 4 (i mod ceil(N/K))), as bench/mkpcap.py --per-addr sends them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "sipfp/media.h"
#include "sipfp/shm.h"

int main(int argc, char **argv)
{
	int k = rte_eal_init(argc, argv);
	if (k < 0) {
		fprintf(stderr, "media_flows: EAL init failed\n");
		return 1;
	}
	argc -= k;
	argv += k;
	if (argc < 2) {
		fprintf(stderr, "usage: media_flows EAL-OPTIONS -- N [BASE]\n");
		return 2;
	}
	unsigned n = (unsigned)strtoul(argv[1], NULL, 10);
	unsigned base = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
	struct in_addr to_ip = { 0 };
	unsigned to_port = 0, mac[6] = { 0 };
	if (argc > 5 && (inet_pton(AF_INET, argv[3], &to_ip) != 1 ||
			 sscanf(argv[5], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
				&mac[4], &mac[5]) != 6)) {
		fprintf(stderr, "media_flows: TO_IP TO_PORT TO_MAC: an address, a port, a MAC\n");
		return 2;
	}
	if (argc > 5)
		to_port = (unsigned)strtoul(argv[4], NULL, 10);
	const char *ka = getenv("SFP_BENCH_ADDRS");
	unsigned naddr = ka ? (unsigned)strtoul(ka, NULL, 10) : 1;
	if (!naddr || naddr > SFP_MEDIA_MAX_ADDRS) {
		fprintf(stderr, "media_flows: SFP_BENCH_ADDRS: 1..%d\n", SFP_MEDIA_MAX_ADDRS);
		return 2;
	}
	unsigned per = (n + naddr - 1) / naddr;
	struct rte_ring *r = rte_ring_lookup(SFP_RING_FROM_CTL);
	if (!r || base + 4ull * per > 65536) {
		fprintf(stderr, "media_flows: no ring %s (data plane running?), or too many streams\n",
			SFP_RING_FROM_CTL);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct sfp_msg m;
		memset(&m, 0, sizeof(m));
		m.h.version = SFP_MSG_VERSION;
		m.h.op = SFP_OP_MEDIA_SET;
		m.h.nseg = 1;
		struct sfp_media_msg *q = &m.u.media;
		q->port = (uint16_t)(base + 4 * (i % per));
		q->addr = (uint8_t)(i / per);
		q->out_port = (uint16_t)(q->port + 2);
		q->to_ip = htonl(0x0a4f0000u | ((i >> 8) & 255) << 8 | (1 + (i & 255) % 254));
		q->to_port = 5000;
		q->latch = SFP_LATCH_ON;
		q->clock_khz = 8;
		q->latch_window_ms = 3600 * 1000;
		q->to_mac[0] = 0x02;
		q->to_mac[5] = 0x42;
		if (to_port) {
			q->to_ip = to_ip.s_addr;
			q->to_port = (uint16_t)to_port;
			for (int b = 0; b < 6; b++)
				q->to_mac[b] = (uint8_t)mac[b];
		}
		q->session = i + 1;
		q->reset = 1;
		while (rte_ring_enqueue_elem(r, &m, SFP_MSG_SIZE) != 0)
			usleep(100);
	}
	printf("media_flows: %u streams installed from port %u on %u address(es)\n", n, base, naddr);
	rte_eal_cleanup();
	return 0;
}
