/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp worker lcores: burst RX, validate L2/L3/L4, answer ARP and ICMP
 * echo, reassemble IPv4 fragments, and run the stateless SIP decisions.
 * No locks, no allocation but mbufs, no syscalls except the idle sleep.
 */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "cksum.h"
#include "dp.h"
#include "ring_msg.h"

#define CNT(w, x) ((w)->cnt[SFP_CNT_##x]++)
#define TX_CAP 256
#define MAX_FRAGS 48  /* 65535 / 1480, rounded up */
#define DP_IP_MTU 1500

/* ---- reassembly ------------------------------------------------------------ */

/* what the reassembly table lets go of (frag_guard.h): free it, count why */
void dp_frag_release(void *ctx, void *frag, enum sfp_fg_release why)
{
	struct dp_worker *w = ctx;
	rte_pktmbuf_free(frag);
	if (why == SFP_FG_R_EVICTED)
		CNT(w, FRAG_EVICTED);
	else if (why == SFP_FG_R_TIMEOUT)
		CNT(w, FRAG_TIMEOUT);
	else if (why == SFP_FG_R_REFUSED)
		w->fg_refused++; /* counted by the caller, under the verdict's reason */
}

/* a complete datagram's fragments, in offset order, chained into one
 * packet behind the first fragment's headers (RFC 791 reassembly) */
static struct rte_mbuf *reassemble(void *frags[], unsigned n)
{
	struct rte_mbuf *head = frags[0];
	uint32_t len = rte_pktmbuf_pkt_len(head) - head->l2_len - head->l3_len;
	for (unsigned i = 1; i < n; i++) {
		struct rte_mbuf *f = frags[i];
		rte_pktmbuf_adj(f, (uint16_t)(f->l2_len + f->l3_len));
		len += rte_pktmbuf_pkt_len(f);
		/* cannot fail: at most SFP_FG_MAX_FRAGS segments */
		rte_pktmbuf_chain(head, f);
	}
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(head, struct rte_ipv4_hdr *, head->l2_len);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(head->l3_len + len));
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return head;
}

/* ---- transmit -------------------------------------------------------------- */

static uint16_t udp_cksum(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			  const char *p, uint32_t len)
{
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
	} __rte_packed ph = { src, dst, 0, IPPROTO_UDP, htons((uint16_t)(len + 8)) };
	struct rte_udp_hdr uh = { htons(sport), htons(dport), htons((uint16_t)(len + 8)), 0 };
	uint64_t sum = sfp_csum_partial(&ph, sizeof(ph), 0);
	sum = sfp_csum_partial(&uh, sizeof(uh), sum);
	sum = sfp_csum_partial(p, len, sum);
	uint16_t c = (uint16_t)~sfp_csum_fold(sum);
	return c ? c : 0xffff; /* RFC 768: zero means "no checksum" */
}

/* RFC 768: the sum over pseudo header, UDP header and data is all ones */
static bool udp_cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
			 const struct rte_udp_hdr *udp, uint32_t l4_off, uint16_t ulen)
{
	if (m->nb_segs != 1 || rte_pktmbuf_data_len(m) < l4_off + ulen)
		return rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, (uint16_t)l4_off) == 0;
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
	} __rte_packed ph = { ip->src_addr, ip->dst_addr, 0, IPPROTO_UDP, udp->dgram_len };
	uint64_t sum = sfp_csum_partial(&ph, sizeof(ph), 0);
	return sfp_csum_fold(sfp_csum_partial(udp, ulen, sum)) == 0xffff;
}

int dp_udp_frames(struct dp_worker *w, const struct rte_ether_addr *dst_mac, uint32_t dst_ip,
		  uint16_t dst_port, const char *payload, uint32_t len,
		  struct rte_mbuf **tx, unsigned *n, unsigned cap)
{
	const uint32_t total = len + sizeof(struct rte_udp_hdr); /* IP payload */
	const uint32_t per = (DP_IP_MTU - sizeof(struct rte_ipv4_hdr)) & ~7u;
	uint16_t id = w->ip_id++;
	unsigned start = *n;
	uint32_t off = 0;

	if (total > 65535 - sizeof(struct rte_ipv4_hdr))
		return -1;
	uint16_t ck = udp_cksum(g_dp.addr, dst_ip, g_dp.cfg.sip_port, dst_port, payload, len);
	while (off < total) {
		uint32_t chunk = total - off > per ? per : total - off;
		struct rte_mbuf *m;
		if (*n >= cap || !(m = rte_pktmbuf_alloc(g_dp.mp)))
			goto fail;
		tx[(*n)++] = m;
		uint16_t flen = (uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + chunk);
		char *b = rte_pktmbuf_append(m, flen);
		if (!b)
			goto fail;
		struct rte_ether_hdr *eth = (struct rte_ether_hdr *)b;
		rte_ether_addr_copy(dst_mac, &eth->dst_addr);
		rte_ether_addr_copy(&g_dp.mac, &eth->src_addr);
		eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = 0;
		ip->total_length = htons((uint16_t)(sizeof(*ip) + chunk));
		ip->packet_id = htons(id);
		ip->fragment_offset = htons((uint16_t)((off >> 3) |
			(off + chunk < total ? RTE_IPV4_HDR_MF_FLAG : 0)));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = g_dp.addr;
		ip->dst_addr = dst_ip;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		char *d = (char *)(ip + 1);
		uint32_t data_off = 0, copy = chunk;
		if (off == 0) {
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)d;
			u->src_port = htons(g_dp.cfg.sip_port);
			u->dst_port = htons(dst_port);
			u->dgram_len = htons((uint16_t)total);
			u->dgram_cksum = ck;
			d += sizeof(*u);
			copy -= sizeof(*u);
		} else {
			data_off = off - sizeof(struct rte_udp_hdr);
		}
		rte_memcpy(d, payload + data_off, copy);
		off += chunk;
	}
	return 0;
fail:
	while (*n > start)
		rte_pktmbuf_free(tx[--(*n)]);
	return -1;
}

static void flush_tx(struct dp_worker *w, struct rte_mbuf **tx, unsigned *n)
{
	if (!*n)
		return;
	uint16_t sent = rte_eth_tx_burst(g_dp.port, w->idx, tx, (uint16_t)*n);
	w->cnt[SFP_CNT_TX_PKTS] += sent;
	if (sent < *n) {
		w->cnt[SFP_CNT_TX_FULL] += *n - sent;
		rte_pktmbuf_free_bulk(tx + sent, *n - sent);
	}
	*n = 0;
}

/* ---- SIP -------------------------------------------------------------------- */

struct rx {
	struct rte_ether_addr src_mac;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
};

static void send_reply(struct dp_worker *w, const struct rx *rx, const struct sfp_sip *m,
		       const struct sfp_decision *d, struct rte_mbuf **tx, unsigned *ntx)
{
	struct sfp_reply_ctx rc = { .src_ip = rx->src_ip, .src_port = rx->src_port,
				    .nonce = w->nonce };
	uint16_t port;
	size_t n = sfp_reply_build(w->out, DP_SCRATCH, &g_dp.lcfg, m, d, &rc);
	if (!n) {
		CNT(w, SIP_TOO_BIG);
		return;
	}
	sfp_reply_dest(m, rx->src_port, &port);
	if (dp_udp_frames(w, &rx->src_mac, rx->src_ip, port, w->out, (uint32_t)n, tx, ntx, TX_CAP))
		CNT(w, NO_MBUF);
	else
		w->cnt[d->counter]++;
}

static int handoff(struct dp_worker *w, const struct rx *rx, const char *p, uint32_t len,
		   const struct sfp_decision *d)
{
	struct sfp_sip_meta mt;

	memset(&mt, 0, sizeof(mt));
	mt.src_ip = rx->src_ip;
	mt.dst_ip = rx->dst_ip;
	mt.src_port = rx->src_port;
	mt.dst_port = rx->dst_port;
	mt.lcore = w->idx;
	mt.flags = d->rx_flags | ((d->flags & SFP_D_TRYING) ? SFP_RXF_TRYING : 0);
	mt.rx_ms = w->now_ms;
	memcpy(mt.mac, rx->src_mac.addr_bytes, 6);
	if (d->user.n && d->user.n < SFP_USER_MAX)
		memcpy(mt.user, d->user.p, d->user.n);
	unsigned nseg = sfp_ring_pack(w->msgs, SFP_OP_SIP_RX, &mt, p, len);
	if (!nseg)
		return -1;
	/* all or nothing, never blocking: a full ring is the caller's 503 */
	return rte_ring_enqueue_bulk_elem(g_dp.to_ctl, w->msgs, SFP_MSG_SIZE, nseg, NULL) == nseg ? 0 : -1;
}

static void report_auth_fail(struct dp_worker *w, const struct rx *rx, struct sfp_str user)
{
	struct dp_auth_fail f = { .ip = rx->src_ip, .port = rx->src_port,
				  .user_hash = sfp_user_hash(user.p, user.n) };
	/* never blocks: a full queue only delays a ban */
	if (rte_ring_enqueue_elem(g_dp.auth_fail, &f, sizeof(f)))
		CNT(w, FAIL_EVENT_LOST);
}

static inline bool limits_on(const struct dp_worker *w)
{
	return sfp_rl_limits_on(&w->rll);
}

/* over a limit: trusted prefixes pass anyway (looked up only now, so the
 * allow list costs nothing while sources stay under their limits) */
static bool over_limit(struct dp_worker *w, uint32_t src_ip, enum sfp_counter drop)
{
	if (sfp_allow_match(&g_dp.st->allow, src_ip)) {
		CNT(w, ALLOW_BYPASS);
		return false;
	}
	w->cnt[drop]++;
	return true;
}

static void handle_sip(struct dp_worker *w, const struct rx *rx, const char *p, uint32_t len,
		       struct sfp_rl_entry *src, struct rte_mbuf **tx, unsigned *ntx)
{
	struct sfp_sip m;
	struct sfp_decision d;
	enum sfp_scan_err err = sfp_scan(p, len, &m);

	/* scanners name themselves; they get no answer that confirms a SIP
	 * server is here */
	if (m.user_agent.p && sfp_ua_match(&g_dp.ua, m.user_agent.p, m.user_agent.n)) {
		CNT(w, UA_BLOCKED);
		return;
	}
	bool ood = m.request && !m.to_tag.p && m.method != SFP_M_ACK;
	if (ood && src && !sfp_rl_take(src, SFP_RL_OOD, &w->rll) &&
	    over_limit(w, rx->src_ip, SFP_CNT_RATE_OOD))
		return;

	bool attached = g_dp.st->ctl_attached != 0;
	bool peer = false;
	for (unsigned k = 0; k < g_dp.n_peers && !peer; k++)
		peer = g_dp.peers[k] == rx->src_ip;
	(peer ? sfp_decide_peer : sfp_decide)(&g_dp.lcfg, &m, err, w->nonce_sec, attached || g_dp.ctl_queue,
					      dp_creds_lookup, w, &d);
	/* no control process, but one is expected back: responses and
	 * in-dialog requests wait for it in the ring; a new request gets its
	 * 503 (the caller may try again) */
	if (d.act == SFP_ACT_HANDOFF && !attached) {
		if (!(d.rx_flags & (SFP_RXF_RESPONSE | SFP_RXF_IN_DIALOG)) &&
		    !sfp_decide_overload(&g_dp.lcfg, &m, &d)) {
			CNT(w, SIP_NO_CTL);
			return;
		}
		if (d.act == SFP_ACT_HANDOFF)
			CNT(w, HANDOFF_QUEUED);
	}
	if (d.auth_counter < SFP_CNT_MAX) {
		w->cnt[d.auth_counter]++;
		if (d.auth_counter == SFP_CNT_AUTH_FAIL)
			report_auth_fail(w, rx, d.user);
	}
	switch (d.act) {
	case SFP_ACT_DROP:
	case SFP_ACT_ABSORB:
		w->cnt[d.counter]++;
		return;
	case SFP_ACT_REPLY:
		send_reply(w, rx, &m, &d, tx, ntx);
		return;
	case SFP_ACT_HANDOFF:
		break;
	}
	/* in-dialog requests and responses keep priority: out-of-dialog
	 * requests leave part of the ring free for them (a new call can be
	 * retried after 503; a BYE or a 200 lost would break a call).  Once a
	 * burst has found the ring below the reserve, the rest of its
	 * out-of-dialog requests get the same answer without reading the
	 * ring's shared cache lines again: under overload most end here. */
	bool reserve = ood && (w->ood_reserved ||
			       rte_ring_free_count(g_dp.to_ctl) < g_dp.ood_reserve);
	if (reserve)
		w->ood_reserved = true;
	if (!reserve && handoff(w, rx, p, m.msg_len, &d) == 0) {
		CNT(w, HANDOFF);
		if (d.rx_flags & SFP_RXF_RESPONSE)
			CNT(w, HANDOFF_RESPONSE);
		if (d.rx_flags & SFP_RXF_IN_DIALOG)
			CNT(w, HANDOFF_INDIALOG);
		if (d.flags & SFP_D_TRYING) {
			/* RFC 3261 16.2: 100 Trying at once, so the caller stops
			 * retransmitting while the control process routes */
			struct sfp_decision t = { .act = SFP_ACT_REPLY, .code = 100,
						  .reason = "Trying", .counter = SFP_CNT_REPLY_100 };
			send_reply(w, rx, &m, &t, tx, ntx);
		}
		return;
	}
	if (reserve)
		CNT(w, OVERLOAD_OOD);
	if (sfp_decide_overload(&g_dp.lcfg, &m, &d))
		send_reply(w, rx, &m, &d, tx, ntx);
	else
		CNT(w, SIP_RING_FULL);
}

/* ---- L2 / L3 ------------------------------------------------------------------ */

/* returns true when the mbuf was reused for a reply (now in tx[]) */
static bool handle_arp(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth,
		       struct rte_mbuf **tx, unsigned *ntx)
{
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(struct rte_arp_hdr)) {
		CNT(w, ARP_OTHER);
		return false;
	}
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	if (a->arp_hardware != htons(RTE_ARP_HRD_ETHER) || a->arp_protocol != htons(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != 6 || a->arp_plen != 4 ||
	    (a->arp_data.arp_tip != g_dp.addr && dp_media_addr_idx(g_dp.media, a->arp_data.arp_tip) < 0)) {
		CNT(w, ARP_OTHER);
		return false;
	}
	/* RFC 826 merge: whoever asks for us or answers us is a neighbour the
	 * main lcore may need (it never blocks us: a full ring loses news) */
	struct dp_arp_news nw = { .ip = a->arp_data.arp_sip };
	memcpy(nw.mac, a->arp_data.arp_sha.addr_bytes, 6);
	rte_ring_enqueue_elem(g_dp.arp_learn, &nw, sizeof(nw));
	if (a->arp_opcode != htons(RTE_ARP_OP_REQUEST) || *ntx >= TX_CAP) {
		CNT(w, ARP_OTHER);
		return false;
	}
	/* RFC 826: answer in place */
	uint32_t asked = a->arp_data.arp_tip; /* ours: checked above */
	a->arp_opcode = htons(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	rte_ether_addr_copy(&g_dp.mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = asked;
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&g_dp.mac, &eth->src_addr);
	tx[(*ntx)++] = m;
	CNT(w, ARP_REPLY);
	return true;
}

static bool handle_icmp(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth,
			struct rte_ipv4_hdr *ip, uint32_t ihl, struct rte_mbuf **tx, unsigned *ntx)
{
	uint32_t plen = rte_be_to_cpu_16(ip->total_length) - ihl;
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((char *)ip + ihl);
	if (m->nb_segs != 1 || plen < sizeof(*ic) || ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    ic->icmp_code != 0 || *ntx >= TX_CAP) {
		CNT(w, ICMP_OTHER);
		return false;
	}
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, plen);
	uint32_t pinged = ip->dst_addr; /* ours (checked): the SIP or a media address */
	ip->dst_addr = ip->src_addr;
	ip->src_addr = pinged;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&g_dp.mac, &eth->src_addr);
	m->ol_flags = 0;
	tx[(*ntx)++] = m;
	CNT(w, ICMP_ECHO);
	return true;
}

/* TCP for our address (SIP over TCP/TLS): admitted as a datagram is, then
 * handed to the kernel through the main lcore (dp_exc.c).  True when
 * taken. */
static bool handle_tcp(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t ihl)
{
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)((const char *)ip + ihl);
	if (m->nb_segs != 1 || rte_be_to_cpu_16(ip->total_length) < ihl + sizeof(*th) ||
	    rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) + ihl + sizeof(*th)) {
		CNT(w, IP_BAD);
		return false;
	}
	uint16_t dport = rte_be_to_cpu_16(th->dst_port);
	/* our listeners, and the kernel's own connections (sipfp dialling
	 * out): its local ports are confined to this range in the namespace */
	if (dport != g_dp.cfg.sip_port && dport != g_dp.cfg.tls_port &&
	    (dport < DP_EXC_LPORT_LO || dport > DP_EXC_LPORT_HI)) {
		CNT(w, EXC_PORT);
		return false;
	}
	if (sfp_ban_lookup(&g_dp.st->bans, ip->src_addr, rte_be_to_cpu_16(th->src_port), w->now_ms)) {
		CNT(w, EXC_BANNED);
		return false;
	}
	/* a new connection is an out-of-dialog request's worth of work (and a
	 * TLS handshake far more): it takes from the same bucket */
	if ((th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG && limits_on(w) &&
	    !sfp_rl_take(sfp_rl_get(w->rl, ip->src_addr, (uint32_t)w->now_ms, &w->rll), SFP_RL_OOD, &w->rll) &&
	    over_limit(w, ip->src_addr, SFP_CNT_EXC_SYN_RATE))
		return false;
	return dp_exc_in(w, m);
}

/* consume m: free it, reuse it for a reply, or keep it for reassembly */
static void process(struct dp_worker *w, struct rte_mbuf *m, struct rte_mbuf **tx, unsigned *ntx)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t dlen = rte_pktmbuf_data_len(m);

	CNT(w, RX_PKTS);
	if (dlen < sizeof(*eth)) {
		CNT(w, IP_BAD);
		goto free;
	}
	if (!rte_is_same_ether_addr(&eth->dst_addr, &g_dp.mac) &&
	    !rte_is_broadcast_ether_addr(&eth->dst_addr)) {
		CNT(w, ETH_NOT_US);
		goto free;
	}
	if (eth->ether_type == htons(RTE_ETHER_TYPE_ARP)) {
		if (handle_arp(w, m, eth, tx, ntx))
			return;
		goto free;
	}
	if (eth->ether_type != htons(RTE_ETHER_TYPE_IPV4)) {
		CNT(w, ETH_OTHER);
		goto free;
	}

	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	if (dlen < sizeof(*eth) + sizeof(*ip) || (ip->version_ihl >> 4) != 4) {
		CNT(w, IP_BAD);
		goto free;
	}
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (ihl < sizeof(*ip) || dlen < sizeof(*eth) + ihl || tot < ihl ||
	    tot > rte_pktmbuf_pkt_len(m) - sizeof(*eth)) {
		CNT(w, IP_BAD);
		goto free;
	}
	uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && rte_raw_cksum(ip, ihl) != 0xffff)) {
		CNT(w, IP_CSUM);
		goto free;
	}
	int media_ai = dp_media_addr_idx(g_dp.media, ip->dst_addr);
	if (ip->dst_addr != g_dp.addr && media_ai < 0) {
		CNT(w, ETH_NOT_US);
		goto free;
	}
	/* drop Ethernet padding so lengths below are the datagram's */
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - sizeof(*eth) - tot));

	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	if (fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		uint32_t off = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8, plen = tot - ihl;
		bool more = fo & RTE_IPV4_HDR_MF_FLAG;
		CNT(w, FRAG_IN);
		/* before the reassembly table: the datagram may not exceed
		 * 65535 bytes, and every fragment but the last carries a
		 * multiple of 8 bytes (RFC 791) */
		if (off + plen + ihl > 65535 || (more && (plen == 0 || (plen & 7))) ||
		    (off == 0 && plen < sizeof(struct rte_udp_hdr))) {
			/* the last test: a first fragment too short for the UDP
			 * header is the "tiny fragment" attack (RFC 1858 3.1) */
			CNT(w, FRAG_BAD);
			goto free;
		}
		m->l2_len = sizeof(*eth);
		m->l3_len = ihl;
		struct sfp_fg_key fk = { ip->src_addr, ip->dst_addr, ip->packet_id, ip->next_proto_id };
		void *frags[SFP_FG_MAX_FRAGS];
		unsigned nf;
		enum sfp_fg_verdict v = sfp_fg_add(w->frag_guard, &fk, off, plen, more, m, w->now_ms,
						   frags, &nf);
		/* a refused datagram's held fragments count where it does */
		static const uint16_t why[] = {
			[SFP_FG_DUP] = SFP_CNT_FRAG_DUP, [SFP_FG_OVERLAP] = SFP_CNT_FRAG_BAD,
			[SFP_FG_TOO_MANY] = SFP_CNT_FRAG_TOO_MANY,
			[SFP_FG_TOO_BIG] = SFP_CNT_FRAG_TOO_BIG, [SFP_FG_QUOTA] = SFP_CNT_FRAG_QUOTA,
		};
		if (v == SFP_FG_HELD)
			return;
		if (v != SFP_FG_DONE) {
			w->cnt[why[v]] += 1 + w->fg_refused;
			w->fg_refused = 0;
			goto free;
		}
		m = reassemble(frags, nf);
		CNT(w, FRAG_REASM);
		eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		ip = (struct rte_ipv4_hdr *)(eth + 1);
		ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
		tot = rte_be_to_cpu_16(ip->total_length);
	}

	if (ip->next_proto_id == IPPROTO_ICMP) {
		if (handle_icmp(w, m, eth, ip, ihl, tx, ntx))
			return;
		goto free;
	}
	/* TCP (SIP over TCP/TLS): to the kernel, through the main lcore */
	if (ip->next_proto_id == IPPROTO_TCP && g_dp.exc && ip->dst_addr == g_dp.addr) {
		if (handle_tcp(w, m, ip, ihl))
			return;
		goto free;
	}
	if (ip->next_proto_id != IPPROTO_UDP) {
		CNT(w, IP_PROTO);
		goto free;
	}
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((char *)ip + ihl);
	uint32_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (tot - ihl < sizeof(*udp) || rte_pktmbuf_data_len(m) < sizeof(*eth) + ihl + sizeof(*udp) ||
	    ulen < sizeof(*udp) || ulen > tot - ihl) {
		CNT(w, UDP_BAD);
		goto free;
	}
	/* media: looked up by port before any SIP work */
	if (media_ai >= 0 && (uint32_t)rte_be_to_cpu_16(udp->dst_port) - g_dp.media->base < g_dp.media->n) {
		dp_media_relay(w, m, eth, ip, udp, ulen, (unsigned)media_ai, tx, ntx, TX_CAP);
		return;
	}
	if (udp->dst_port != htons(g_dp.cfg.sip_port)) {
		CNT(w, UDP_PORT);
		goto free;
	}
	uint64_t l4ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (udp->dgram_cksum != 0 && (l4ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	    (l4ck != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	     !udp_cksum_ok(m, ip, udp, (uint32_t)(sizeof(*eth) + ihl), ulen)))) {
		CNT(w, UDP_CSUM);
		goto free;
	}

	struct rx rx = { .src_ip = ip->src_addr, .dst_ip = ip->dst_addr,
			 .src_port = rte_be_to_cpu_16(udp->src_port),
			 .dst_port = rte_be_to_cpu_16(udp->dst_port) };
	/* admission before parsing: a banned or flooding source costs one
	 * table lookup, not a parse */
	if (sfp_ban_lookup(&g_dp.st->bans, rx.src_ip, rx.src_port, w->now_ms)) {
		CNT(w, BANNED);
		goto free;
	}
	struct sfp_rl_entry *src = NULL;
	if (limits_on(w)) {
		src = sfp_rl_get(w->rl, rx.src_ip, (uint32_t)w->now_ms, &w->rll);
		if (!sfp_rl_take(src, SFP_RL_ALL, &w->rll) && over_limit(w, rx.src_ip, SFP_CNT_RATE))
			goto free;
	}
	rte_ether_addr_copy(&eth->src_addr, &rx.src_mac);
	uint32_t off = (uint32_t)sizeof(*eth) + ihl + sizeof(*udp), plen = ulen - sizeof(*udp);
	/* reassembled datagrams are chained mbufs: linearise them */
	const char *p = rte_pktmbuf_read(m, off, plen, w->scratch);
	if (!p) {
		CNT(w, UDP_BAD);
		goto free;
	}
	handle_sip(w, &rx, p, plen, src, tx, ntx);
free:
	rte_pktmbuf_free(m);
}

/* the rate-limit set of an IPv4 packet's source; anything else: nothing
 * (a prefetch of the wrong line costs nothing but the bandwidth) */
static inline void prefetch_source(const struct dp_worker *w, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(struct rte_ipv4_hdr) ||
	    eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return;
	sfp_rl_prefetch(w->rl, ((const struct rte_ipv4_hdr *)(eth + 1))->src_addr);
}

static void refresh_nonce(struct dp_worker *w)
{
	uint32_t now = (uint32_t)(w->now_ms / 1000);
	if (now == w->nonce_sec)
		return;
	/* one nonce per lcore per second: unforgeable and time-stamped, and
	 * computing it once keeps the MAC off the per-packet path */
	w->nonce_sec = now;
	sfp_nonce_make(&g_dp.lcfg.keys, now, ((uint32_t)w->idx << 16) | (w->nonce_seq++ & 0xffff),
		       w->nonce);
}

static void refresh_limits(struct dp_worker *w)
{
	const struct sfp_limits *l = &g_dp.st->limits;
	w->cnt[SFP_CNT_RL_EVICT] = w->rl->evictions;
	if (w->limits_gen == l->gen)
		return;
	w->limits_gen = l->gen;
	sfp_rl_limits_set(&w->rll, l);
}

/* Datagrams that never complete hold their mbufs until a newer datagram
 * takes their slot; a flood of first fragments followed by silence would
 * keep them for ever.  Sweep them out on time, busy or idle (RFC 791: the
 * reassembly timer). */
static void frag_sweep(struct dp_worker *w, uint64_t *next)
{
	uint64_t now = rte_rdtsc();
	if (now < *next)
		return;
	*next = now + g_dp.tsc_hz / 10;
	sfp_fg_sweep(w->frag_guard, dp_now_ms());
}

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *rx[DP_BURST], *tx[TX_CAP];
	unsigned ntx = 0, idle = 0;
	uint64_t next_sweep = 0;

	rte_rcu_qsbr_thread_register(g_dp.qsv, w->idx);
	rte_rcu_qsbr_thread_online(g_dp.qsv, w->idx);
	DP_LOG(INFO, "worker %u on lcore %u: RX/TX queue %u", w->idx, w->lcore_id, w->idx);

	while (!g_dp.quit) {
		rte_rcu_qsbr_quiescent(g_dp.qsv, w->idx);
		uint16_t nb = rte_eth_rx_burst(g_dp.port, w->idx, rx, DP_BURST);
		unsigned nt = rte_ring_dequeue_burst(w->tx_in, (void **)tx, DP_BURST, NULL);
		ntx = nt;
		frag_sweep(w, &next_sweep);
		if (nb == 0 && nt == 0) {
			if (g_dp.cfg.busy_poll)
				continue;
			/* back off when idle, so sipfp can share a small machine
			 * with its load generator: spin a little, then sleep */
			if (++idle < 256)
				rte_pause();
			else
				usleep(g_dp.cfg.idle_sleep_us);
			continue;
		}
		idle = 0;
		w->now_us = dp_now_us(); /* once per burst: nonce, bans, buckets, RTP */
		w->now_ms = w->now_us / 1000;
		refresh_nonce(w);
		refresh_limits(w);
		w->ood_reserved = false;
		bool rl_on = limits_on(w);
		if (nb)
			rte_prefetch0(rte_pktmbuf_mtod(rx[0], void *));
		if (nb > 1)
			rte_prefetch0(rte_pktmbuf_mtod(rx[1], void *));
		for (uint16_t i = 0; i < nb; i++) {
			/* two packets ahead: its headers; one ahead (headers now
			 * in cache): its source's rate-limit set */
			if (i + 2 < nb)
				rte_prefetch0(rte_pktmbuf_mtod(rx[i + 2], void *));
			if (rl_on && i + 1 < nb)
				prefetch_source(w, rx[i + 1]);
			if (ntx + MAX_FRAGS + 2 > TX_CAP)
				flush_tx(w, tx, &ntx);
			process(w, rx[i], tx, &ntx);
		}
		flush_tx(w, tx, &ntx);
	}
	rte_rcu_qsbr_thread_offline(g_dp.qsv, w->idx);
	rte_rcu_qsbr_thread_unregister(g_dp.qsv, w->idx);
	return 0;
}
