/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <string.h>
#include "arp_cache.h"

void sfp_arp_init(struct sfp_arp *a, uint32_t addr, uint8_t prefix_len, uint32_t gw)
{
	memset(a, 0, sizeof(*a));
	a->addr = addr;
	a->mask = prefix_len ? htonl(~0u << (32 - (prefix_len > 32 ? 32 : prefix_len))) : 0;
	a->gw = gw;
}

uint32_t sfp_arp_next_hop(const struct sfp_arp *a, uint32_t dst)
{
	if ((dst & a->mask) == (a->addr & a->mask))
		return dst == a->addr ? 0 : dst;
	return a->gw;
}

static uint32_t slot(uint32_t ip)
{
	return (ntohl(ip) * 2654435761u) >> 22; /* 10 bits: SFP_ARP_ENTRIES */
}

/* the entry for ip, or a free/expired one to take (NULL: table full) */
static struct sfp_arp_ent *find(struct sfp_arp *a, uint32_t ip, uint64_t now, bool create)
{
	struct sfp_arp_ent *free_e = NULL;
	uint32_t s = slot(ip);
	for (uint32_t i = 0; i < 16; i++) {
		struct sfp_arp_ent *e = &a->e[(s + i) & (SFP_ARP_ENTRIES - 1)];
		if (e->ip == ip)
			return e;
		bool stale = !e->ip || (e->resolved && now - e->ts_ms > SFP_ARP_TTL_MS);
		if (stale && !free_e)
			free_e = e;
	}
	if (!create || !free_e)
		return NULL;
	memset(free_e, 0, sizeof(*free_e));
	free_e->ip = ip;
	return free_e;
}

const uint8_t *sfp_arp_learn(struct sfp_arp *a, uint32_t ip, const uint8_t mac[6], uint64_t now)
{
	static const uint8_t zero[6];
	if (!ip || ip == a->addr || (ip & a->mask) != (a->addr & a->mask) ||
	    !memcmp(mac, zero, 6) || (mac[0] & 1))
		return NULL; /* not a neighbour, or not a unicast station */
	struct sfp_arp_ent *e = find(a, ip, now, true);
	if (!e)
		return NULL;
	memcpy(e->mac, mac, 6);
	e->resolved = 1;
	e->tries = 0;
	e->ts_ms = now;
	return e->mac;
}

const uint8_t *sfp_arp_lookup(struct sfp_arp *a, uint32_t nh, uint64_t now)
{
	struct sfp_arp_ent *e = find(a, nh, now, false);
	if (!e || !e->resolved)
		return NULL;
	if (now - e->ts_ms > SFP_ARP_TTL_MS) {
		e->resolved = 0; /* ask again rather than trust it */
		e->tries = 0;
		return NULL;
	}
	return e->mac;
}

enum sfp_arp_q sfp_arp_park(struct sfp_arp *a, uint32_t nh, void *frame, uint64_t now)
{
	if (a->n_pending == SFP_ARP_PENDING)
		return SFP_ARPQ_FULL;
	struct sfp_arp_ent *e = find(a, nh, now, true);
	if (!e)
		return SFP_ARPQ_FULL;
	for (uint32_t i = 0; i < SFP_ARP_PENDING; i++) {
		if (a->q[i].frame)
			continue;
		a->q[i].nh = nh;
		a->q[i].frame = frame;
		a->n_pending++;
		if (e->tries == 0 || (e->tries >= SFP_ARP_TRIES && now - e->ts_ms >= SFP_ARP_RETRY_MS)) {
			e->tries = 1;
			e->ts_ms = now;
			return SFP_ARPQ_QUEUED_ASK;
		}
		return SFP_ARPQ_QUEUED;
	}
	return SFP_ARPQ_FULL;
}

void sfp_arp_release(struct sfp_arp *a, uint32_t nh, const uint8_t mac[6],
		     void (*cb)(void *ctx, void *frame, const uint8_t mac[6]), void *ctx)
{
	for (uint32_t i = 0; i < SFP_ARP_PENDING && a->n_pending; i++) {
		if (!a->q[i].frame || a->q[i].nh != nh)
			continue;
		void *f = a->q[i].frame;
		a->q[i].frame = NULL;
		a->n_pending--;
		cb(ctx, f, mac);
	}
}

void sfp_arp_tick(struct sfp_arp *a, uint64_t now, void (*ask)(void *ctx, uint32_t nh),
		  void (*drop)(void *ctx, void *frame), void *ctx)
{
	if (!a->n_pending)
		return; /* the common case, every poll of the main lcore */
	for (uint32_t i = 0; i < SFP_ARP_PENDING && a->n_pending; i++) {
		struct sfp_arp_pend *p = &a->q[i];
		if (!p->frame)
			continue;
		struct sfp_arp_ent *e = find(a, p->nh, now, false);
		if (e && e->resolved)
			continue; /* released by the caller's next release() */
		if (!e || e->tries >= SFP_ARP_TRIES) {
			if (!e || now - e->ts_ms >= SFP_ARP_RETRY_MS) {
				void *f = p->frame;
				p->frame = NULL;
				a->n_pending--;
				drop(ctx, f);
			}
			continue;
		}
		if (now - e->ts_ms >= SFP_ARP_RETRY_MS) {
			e->tries++;
			e->ts_ms = now;
			ask(ctx, p->nh);
		}
	}
	/* the last waiting frames were dropped: an unresolved entry with
	 * nothing waiting is forgotten, so the next frame to it starts a
	 * fresh round of requests (a release only follows a resolution) */
	if (!a->n_pending)
		for (uint32_t i = 0; i < SFP_ARP_ENTRIES; i++)
			if (a->e[i].ip && !a->e[i].resolved && a->e[i].tries)
				a->e[i].ip = 0;
}
