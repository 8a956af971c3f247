/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media relay on the fast path (include/sipfp/media.h): RTP and RTCP for
 * sipfp's media ports are looked up by local port before any SIP work,
 * their Ethernet, IPv4 and UDP headers rewritten in the received mbuf (no
 * payload copy; the UDP checksum updated incrementally, RFC 1624) and sent
 * out towards the other leg.  No locks, no allocation, no syscalls per
 * packet; the next hop's MAC was resolved when the flow was installed, or
 * latched from the endpoint's own packets.
 */
#include <arpa/inet.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_udp.h>

#include "cksum.h"
#include "rtp_stats.h"
#include "dp.h"

#define CNT(w, x) ((w)->cnt[SFP_CNT_##x]++)

int dp_media_init(struct dp *dp, char *err, size_t errlen)
{
	uint32_t first, last;
	if (!dp->cfg.media)
		return 0;
	if (sfp_config_port_range(dp->cfg.media_ports, &first, &last, err, errlen))
		return -1;
	/* media_addr: a list; empty, the SIP address */
	uint32_t addrs[SFP_MEDIA_MAX_ADDRS];
	unsigned na = 0;
	if (!dp->cfg.media_addr[0]) {
		addrs[na++] = dp->addr;
	} else {
		char list[SFP_CFG_STR_MAX], *save = NULL;
		snprintf(list, sizeof(list), "%s", dp->cfg.media_addr);
		for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
			if (na == SFP_MEDIA_MAX_ADDRS) {
				snprintf(err, errlen, "media_addr: more than %d addresses", SFP_MEDIA_MAX_ADDRS);
				return -1;
			}
			if (inet_pton(AF_INET, a, &addrs[na]) != 1) {
				snprintf(err, errlen, "media_addr '%s' is not an IPv4 address", a);
				return -1;
			}
			for (unsigned k = 0; k < na; k++)
				if (addrs[k] == addrs[na]) {
					snprintf(err, errlen, "media_addr: %s named twice", a);
					return -1;
				}
			na++;
		}
		if (!na) {
			snprintf(err, errlen, "media_addr: no address in '%s'", dp->cfg.media_addr);
			return -1;
		}
	}
	uint32_t n = last - first + 1;
	size_t sz = sizeof(struct sfp_media_table) + (size_t)na * n * sizeof(struct sfp_media_flow);
	const struct rte_memzone *mz = rte_memzone_reserve_aligned(SFP_MZ_MEDIA, sz, SOCKET_ID_ANY,
								   0, RTE_CACHE_LINE_SIZE);
	if (!mz) {
		snprintf(err, errlen, "media flow table (%u ports on %u address(es), %zu bytes): %s", n, na, sz,
			 rte_strerror(rte_errno));
		return -1;
	}
	memset(mz->addr, 0, sz);
	struct sfp_media_table *t = mz->addr;
	t->base = first;
	t->n = n;
	t->n_addr = na;
	memcpy(t->addr, addrs, na * sizeof(addrs[0]));
	t->magic = SFP_MEDIA_MAGIC;
	dp->media = t;
	DP_LOG(INFO, "media flow table: %u ports on %u address(es), %zu bytes (%zu a port, %zu a stream of 4 ports)",
	       n, na, sz, sizeof(struct sfp_media_flow), 4 * sizeof(struct sfp_media_flow));
	return 0;
}

/* main lcore: install, update or remove one flow, under its sequence lock */
void dp_media_apply(struct dp *dp, const struct sfp_msg *m, uint64_t now)
{
	struct sfp_media_table *t = dp->media;
	const struct sfp_media_msg *q = &m->u.media;
	uint32_t i = (uint32_t)q->port - (t ? t->base : 0);
	if (!t || i >= t->n || q->addr >= t->n_addr ||
	    (m->h.op == SFP_OP_MEDIA_SET && (uint32_t)q->out_port - t->base >= t->n)) {
		dp->st->ctl_msgs_bad++;
		return;
	}
	struct sfp_media_flow *f = &t->f[(size_t)q->addr * t->n + i];
	__atomic_store_n(&f->c.seq, f->c.seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (m->h.op == SFP_OP_MEDIA_DEL) {
		f->c.active = 0;
	} else {
		if (q->reset || !f->c.active) {
			memset(&f->s, 0, sizeof(f->s));
			f->c.sdp_seq = 0;
		} else if (q->latch_window_ms) {
			f->c.sdp_seq++; /* new SDP (a re-INVITE): one new source allowed, in the window */
		}
		f->c.gen = m->h.gen;
		f->c.latch = q->latch;
		f->c.rtcp = q->rtcp;
		f->c.out_port = q->out_port;
		f->c.to_ip = q->to_ip;
		f->c.to_port = q->to_port;
		f->c.expect_ip = q->expect_ip;
		f->c.clock_khz = q->clock_khz ? q->clock_khz : 8;
		f->c.session = q->session;
		f->c.stream = q->stream;
		f->c.leg = q->leg;
		f->c.call_key = q->call_key;
		if (q->latch_window_ms)
			f->c.latch_until_ms = now + q->latch_window_ms;
		/* the next hop: the neighbour cache, else the MAC the signalling
		 * came from (the endpoint's, or the router in front of it) */
		const uint8_t *mac = NULL;
		uint32_t nh = q->to_ip ? sfp_arp_next_hop(dp->arp, q->to_ip) : 0;
		if (nh)
			mac = sfp_arp_lookup(dp->arp, nh, now);
		static const uint8_t zero[6];
		if (!mac && memcmp(q->to_mac, zero, 6))
			mac = q->to_mac;
		f->c.mac_ok = mac != NULL;
		if (mac)
			memcpy(f->c.to_mac, mac, 6);
		f->c.active = 1;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&f->c.seq, f->c.seq + 1, __ATOMIC_RELEASE);
}

void dp_media_relay(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth,
		    struct rte_ipv4_hdr *ip, struct rte_udp_hdr *udp, uint32_t ulen, unsigned ai,
		    struct rte_mbuf **tx, unsigned *ntx, unsigned cap)
{
	struct sfp_media_table *t = g_dp.media;
	struct sfp_media_flow *fa = &t->f[(size_t)ai * t->n]; /* this address's ports */
	struct sfp_media_flow *f = &fa[rte_be_to_cpu_16(udp->dst_port) - t->base];
	struct sfp_media_cfg c;

	/* the configuration half, consistent or not at all */
	uint32_t s1 = __atomic_load_n(&f->c.seq, __ATOMIC_ACQUIRE);
	memcpy(&c, (const void *)&f->c, sizeof(c));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if ((s1 & 1) || s1 != __atomic_load_n(&f->c.seq, __ATOMIC_RELAXED) || !c.active) {
		CNT(w, MEDIA_NO_FLOW);
		goto drop;
	}
	struct sfp_media_stats *s = &f->s;
	/* one segment, not a fragment: relayed as it came */
	if (m->nb_segs != 1 || *ntx >= cap) {
		s->drop_other++;
		CNT(w, MEDIA_BAD);
		goto drop;
	}
	/* symmetric RTP: the leg's endpoint is who sends to this port.  The
	 * first source is taken (latched) within the window after the stream
	 * starts (strict: only the SIP source address), and after the window
	 * only the SIP source address is; once latched, any other source is
	 * refused, so a third party cannot take the stream, until a new SDP
	 * (a re-INVITE: the endpoint may have moved) allows one new source
	 * within the window it reopens.  Until then the old source keeps
	 * getting the stream: an endpoint behind NAT that stays silent after
	 * a re-INVITE is still reached. */
	uint32_t src = ip->src_addr;
	uint16_t sport = rte_be_to_cpu_16(udp->src_port);
	if (c.latch != SFP_LATCH_OFF && (!s->latched || s->src_ip != src || s->src_port != sport)) {
		bool window = w->now_ms < c.latch_until_ms;
		bool ok = !s->latched ?
			(window && c.latch == SFP_LATCH_ON) || src == c.expect_ip :
			s->latched_seq != c.sdp_seq && window &&
			(c.latch == SFP_LATCH_ON || src == c.expect_ip);
		if (!ok) {
			s->drop_src++;
			CNT(w, MEDIA_SRC);
			goto drop;
		}
		s->src_ip = src;
		s->src_port = sport;
		memcpy(s->src_mac, eth->src_addr.addr_bytes, 6);
		s->latched = 1;
		s->latched_seq = c.sdp_seq;
		CNT(w, MEDIA_LATCHED);
	}
	/* where the other leg is: where its packets come from, once latched,
	 * else where its SDP said */
	const struct sfp_media_flow *o = &fa[c.out_port - t->base];
	uint32_t dst;
	uint16_t dport;
	const uint8_t *mac;
	if (o->s.latched) {
		dst = o->s.src_ip;
		dport = o->s.src_port;
		mac = o->s.src_mac;
	} else if (c.to_port && c.to_ip && c.mac_ok) {
		dst = c.to_ip;
		dport = c.to_port;
		mac = c.to_mac;
	} else {
		s->drop_other++;
		CNT(w, MEDIA_NO_PEER);
		goto drop;
	}
	if (!c.rtcp)
		sfp_rtp_stats(s, (const uint8_t *)(udp + 1), ulen - sizeof(*udp), c.clock_khz, w->now_us);

	/* rewrite in place: UDP checksum first, from the old words */
	uint16_t old[6], new[6];
	memcpy(old, &ip->src_addr, 4);
	memcpy(old + 2, &ip->dst_addr, 4);
	old[4] = udp->src_port;
	old[5] = udp->dst_port;
	memcpy(new, &t->addr[ai], 4);
	memcpy(new + 2, &dst, 4);
	new[4] = rte_cpu_to_be_16(c.out_port);
	new[5] = rte_cpu_to_be_16(dport);
	if (udp->dgram_cksum) {
		uint16_t ck = sfp_csum_update(udp->dgram_cksum, old, new, 6);
		udp->dgram_cksum = ck ? ck : 0xffff; /* RFC 768: 0 means none */
	}
	udp->src_port = new[4];
	udp->dst_port = new[5];
	ip->src_addr = t->addr[ai];
	ip->dst_addr = dst;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memcpy(eth->dst_addr.addr_bytes, mac, 6);
	rte_ether_addr_copy(&g_dp.mac, &eth->src_addr);
	m->ol_flags = 0;
	s->pkts++;
	s->bytes += ulen - sizeof(*udp);
	s->last_ms = w->now_ms;
	CNT(w, MEDIA_RELAYED);
	tx[(*ntx)++] = m;
	return;
drop:
	rte_pktmbuf_free(m);
}
