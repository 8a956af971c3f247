/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admission control on the main lcore: the one writer of the ban table,
 * the allow list and the limits in the state memzone.  Workers report
 * failed authentications over a ring; this counts them per source and per
 * user in sliding windows and bans.  sipfp-control sends operator changes
 * (sipfpctl ban|allow|limit) over the from_ctl ring.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "dp.h"

#define BF_KEYS 65536          /* sources and users whose failures are counted */
#define BAN_LOG_PER_SEC 20     /* a distributed attack must not flood the log */

static const struct {
	const char *name;
	size_t off;
} limit_keys[] = {
#define LIMIT_KEY(n) { #n, offsetof(struct sfp_limits, n) },
	SFP_LIMITS(LIMIT_KEY)
#undef LIMIT_KEY
};

static void limits_from_config(struct dp *dp)
{
	struct sfp_limits *l = &dp->st->limits;
	const struct sfp_config *c = &dp->cfg;
#define FROM_CFG(n) l->n = (uint32_t)c->n;
	SFP_LIMITS(FROM_CFG)
#undef FROM_CFG
	l->gen++;
}

int dp_admit_init(struct dp *dp, char *err, size_t errlen)
{
	int sock = (int)rte_socket_id();
	limits_from_config(dp);
	if (sfp_allow_parse_list(&dp->st->allow, dp->cfg.allow, err, errlen))
		return -1;
	if (sfp_ua_parse(&dp->ua, dp->cfg.ua_block, err, errlen))
		return -1;
	dp->ood_reserve = (unsigned)((uint64_t)dp->cfg.ring_size * dp->cfg.ood_ring_reserve / 100);
	dp->auth_fail = rte_ring_create_elem("sipfp_auth_fail", sizeof(struct dp_auth_fail), 4096,
					     sock, RING_F_SC_DEQ);
	dp->bf_src = rte_zmalloc_socket("sipfp_bf_src", sfp_bf_size(BF_KEYS), 64, sock);
	dp->bf_user = rte_zmalloc_socket("sipfp_bf_user", sfp_bf_size(BF_KEYS), 64, sock);
	if (!dp->auth_fail || !dp->bf_src || !dp->bf_user) {
		snprintf(err, errlen, "admission tables: %s", rte_strerror(rte_errno));
		return -1;
	}
	sfp_bf_init(dp->bf_src, BF_KEYS);
	sfp_bf_init(dp->bf_user, BF_KEYS);
	return 0;
}

void dp_admit_free(struct dp *dp)
{
	rte_free(dp->bf_src);
	rte_free(dp->bf_user);
	rte_ring_free(dp->auth_fail);
}

static const char *ip_str(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static void ban(struct dp *dp, uint64_t *cnt, uint32_t ip, uint16_t port, uint64_t now,
		uint8_t why, uint32_t fails)
{
	static uint64_t log_sec, logged;
	const struct sfp_limits *l = &dp->st->limits;
	char a[INET_ADDRSTRLEN];

	int r = sfp_ban_add(&dp->st->bans, ip, port, now, now + (uint64_t)l->ban_time_s * 1000,
			    why, fails);
	if (r < 0) {
		cnt[SFP_CNT_BAN_FULL]++;
		return;
	}
	if (r > 0)
		return; /* already banned: packets that were in flight */
	cnt[SFP_CNT_BAN_AUTO]++;
	if (now / 1000 != log_sec) {
		if (logged > BAN_LOG_PER_SEC)
			DP_LOG(WARNING, "%" PRIu64 " more bans not logged", logged - BAN_LOG_PER_SEC);
		log_sec = now / 1000;
		logged = 0;
	}
	if (++logged <= BAN_LOG_PER_SEC)
		DP_LOG(WARNING, "banned %s%s%.0u for %u s: %u failed authentications %s within %u s",
		       ip_str(ip, a), port ? ":" : "", port, l->ban_time_s, fails,
		       why == SFP_BAN_USER_FAILS ? "for a user under attack" : "from it",
		       l->bf_window_s);
}

/* RFC 3261 26.2 (denial of service, password guessing): bans after
 * repeated failures, counted here because one source's packets may reach
 * several workers (RSS hashes the port, the ban may be per address) */
void dp_admit_poll(struct dp *dp, uint64_t now, uint64_t *cnt)
{
	struct dp_auth_fail f[64];
	const struct sfp_limits *l = &dp->st->limits;
	unsigned n = rte_ring_dequeue_burst_elem(dp->auth_fail, f, sizeof(f[0]), 64, NULL);
	uint32_t window = l->bf_window_s * 1000;

	for (unsigned i = 0; i < n; i++) {
		uint16_t port = l->ban_by_port ? f[i].port : 0;
		uint64_t key = SFP_BAN_KEY(f[i].ip, port);
		uint32_t fails = 0, ufails = 0;
		if (l->bf_max_fails)
			fails = sfp_bf_fail(dp->bf_src, key, now, window);
		if (l->bf_user_max_fails && f[i].user_hash)
			ufails = sfp_bf_fail(dp->bf_user, f[i].user_hash, now, window);
		uint8_t why = 0;
		if (l->bf_max_fails && fails >= l->bf_max_fails)
			why = SFP_BAN_SOURCE_FAILS;
		else if (l->bf_user_max_fails && ufails >= l->bf_user_max_fails)
			why = SFP_BAN_USER_FAILS;
		if (!why)
			continue;
		if (sfp_allow_match(&dp->st->allow, f[i].ip)) {
			cnt[SFP_CNT_BAN_ALLOWED]++;
			continue;
		}
		ban(dp, cnt, f[i].ip, port, now, why, why == SFP_BAN_SOURCE_FAILS ? fails : ufails);
		sfp_bf_forget(dp->bf_src, key);
	}
}

void dp_admit_tick(struct dp *dp, uint64_t now, uint64_t *cnt)
{
	unsigned n = sfp_ban_expire(&dp->st->bans, now);
	cnt[SFP_CNT_BAN_EXPIRED] += n;
	if (n)
		DP_LOG(INFO, "%u ban(s) ran out", n);
}

void dp_admit_apply(struct dp *dp, const struct sfp_msg *m, uint64_t now)
{
	const struct sfp_admit_msg *a = &m->u.adm;
	struct sfp_limits *l = &dp->st->limits;
	char ip[INET_ADDRSTRLEN];

	switch (m->h.op) {
	case SFP_OP_BAN_ADD: {
		/* automatic bans come back this way after our restart */
		bool autob = a->why == SFP_BAN_SOURCE_FAILS || a->why == SFP_BAN_USER_FAILS;
		if (sfp_ban_add(&dp->st->bans, a->ip, a->port, now,
				a->secs ? now + (uint64_t)a->secs * 1000 : 0,
				autob ? a->why : SFP_BAN_MANUAL, autob ? a->value : 0) < 0)
			DP_LOG(WARNING, "ban %s: table full (%u bans)", ip_str(a->ip, ip), SFP_BAN_MAX);
		return;
	}
	case SFP_OP_BAN_DEL:
		(void)sfp_ban_del(&dp->st->bans, a->ip, a->port);
		return;
	case SFP_OP_ALLOW_ADD:
		if (a->len > 32 || sfp_allow_add(&dp->st->allow, a->ip, a->len, false) < 0)
			DP_LOG(WARNING, "allow %s/%u: refused (bad length or %u prefixes already)",
			       ip_str(a->ip, ip), a->len, SFP_ALLOW_MAX);
		return;
	case SFP_OP_ALLOW_DEL:
		(void)sfp_allow_del(&dp->st->allow, a->ip, a->len);
		return;
	case SFP_OP_LIMIT_SET:
		for (size_t i = 0; i < RTE_DIM(limit_keys); i++) {
			if (strncmp(a->key, limit_keys[i].name, sizeof(a->key)))
				continue;
			/* sipfp-control checks values as the configuration file
			 * would; the workers clamp bursts where they use them */
			*(volatile uint32_t *)((char *)l + limit_keys[i].off) = a->value;
			l->gen++;
			DP_LOG(NOTICE, "limit %s = %u", limit_keys[i].name, a->value);
			return;
		}
		dp->st->ctl_msgs_bad++;
		return;
	case SFP_OP_ADMIT_RESET:
		sfp_ban_clear_manual(&dp->st->bans);
		sfp_allow_clear_runtime(&dp->st->allow);
		limits_from_config(dp);
		return;
	default:
		dp->st->ctl_msgs_bad++;
	}
}

/* a failure the control process saw on a TCP/TLS connection: counted by
 * dp_admit_poll with the workers' own (the same windows, the same bans) */
void dp_admit_fail_msg(struct dp *dp, const struct sfp_msg *m)
{
	struct dp_auth_fail f = { .ip = m->u.adm.ip, .port = m->u.adm.port };
	memcpy(&f.user_hash, m->u.adm.key, sizeof(f.user_hash));
	if (rte_ring_enqueue_elem(dp->auth_fail, &f, sizeof(f)))
		dp->st->stats[dp->n_workers].c[SFP_CNT_FAIL_EVENT_LOST]++;
}
