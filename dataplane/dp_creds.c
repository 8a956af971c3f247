/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane's replica of the users' credentials: HA1 values only,
 * pushed by sipfp-control over the ring.
 *
 * One writer (the main lcore) and lock-free readers (the workers):
 * rte_hash with RW_CONCURRENCY_LF, and RCU (QSBR) so that an entry that is
 * replaced or deleted is freed only after every worker has passed a
 * quiescent state.  Each entry carries the generation of the resync that
 * last wrote it; RESYNC_END removes entries of older generations, which is
 * how users deleted while the control process was away disappear.
 */
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp.h"

struct cred_entry {
	uint32_t gen;
	struct sfp_ha1 ha1;
};

static uint32_t cur_gen;
/* live users: rte_hash_count() also counts deleted keys still waiting for
 * their RCU grace period */
static uint32_t n_users;

static void free_entry(void *p, void *elems, unsigned n)
{
	(void)p;
	void **e = elems;
	for (unsigned i = 0; i < n; i++)
		rte_free(e[i]);
}

static void free_key_data(void *p, void *data)
{
	(void)p;
	rte_free(data);
}

int dp_creds_init(struct dp *dp)
{
	struct rte_hash_parameters hp = {
		.name = SFP_HASH_CREDS,
		.entries = dp->cfg.cred_capacity,
		.key_len = SFP_USER_MAX,
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	dp->creds = rte_hash_create(&hp);
	if (!dp->creds)
		return -1;

	size_t sz = rte_rcu_qsbr_get_memsize(dp->n_workers);
	dp->qsv = rte_zmalloc("sipfp_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (!dp->qsv || rte_rcu_qsbr_init(dp->qsv, dp->n_workers))
		return -1;

	/* deletes: rte_hash frees key slots and our entries after a grace period */
	struct rte_hash_rcu_config rc = {
		.v = dp->qsv,
		.mode = RTE_HASH_QSBR_MODE_DQ,
		.dq_size = 0,
		.free_key_data_func = free_key_data,
	};
	if (rte_hash_rcu_qsbr_add(dp->creds, &rc))
		return -1;

	/* replacements: the old entry goes through our own defer queue */
	struct rte_rcu_qsbr_dq_parameters dq = {
		.name = "sipfp_cred_dq",
		.size = dp->cfg.cred_capacity,
		.esize = sizeof(void *),
		.trigger_reclaim_limit = 64,
		.max_reclaim_size = 256,
		.free_fn = free_entry,
		.v = dp->qsv,
	};
	dp->cred_dq = rte_rcu_qsbr_dq_create(&dq);
	if (!dp->cred_dq)
		return -1;
	dp->st->cred_capacity = dp->cfg.cred_capacity;
	return 0;
}

static void make_key(uint8_t key[SFP_USER_MAX], const char *user, size_t n)
{
	memset(key, 0, SFP_USER_MAX);
	memcpy(key, user, n < SFP_USER_MAX - 1 ? n : SFP_USER_MAX - 1);
}

static void cred_set(struct dp *dp, const struct sfp_cred_msg *c, uint32_t gen)
{
	uint8_t key[SFP_USER_MAX];
	struct cred_entry *e, *old = NULL;

	make_key(key, c->user, strnlen(c->user, SFP_USER_MAX));
	e = rte_zmalloc("sipfp_cred", sizeof(*e), 0);
	if (!e) {
		dp->st->ctl_msgs_bad++;
		DP_LOG(ERR, "no memory for user %.*s", SFP_USER_MAX, c->user);
		return;
	}
	e->gen = gen;
	e->ha1.algs = c->algs & (SFP_CRED_MD5 | SFP_CRED_SHA256);
	memcpy(e->ha1.md5, c->ha1_md5, 16);
	memcpy(e->ha1.sha256, c->ha1_sha256, 32);
	if (rte_hash_lookup_data(dp->creds, key, (void **)&old) < 0)
		old = NULL;
	if (rte_hash_add_key_data(dp->creds, key, e) < 0) {
		rte_free(e);
		dp->st->ctl_msgs_bad++;
		DP_LOG(ERR, "credential table full (%u users): raise cred_capacity",
		       dp->cfg.cred_capacity);
		return;
	}
	if (!old)
		n_users++;
	if (old && rte_rcu_qsbr_dq_enqueue(dp->cred_dq, &old)) {
		/* the queue is sized for the table; if it is full anyway, wait
		 * for the grace period rather than free under a reader */
		rte_rcu_qsbr_synchronize(dp->qsv, RTE_QSBR_THRID_INVALID);
		rte_free(old);
	}
}

static void cred_del(struct dp *dp, const struct sfp_cred_msg *c)
{
	uint8_t key[SFP_USER_MAX];
	make_key(key, c->user, strnlen(c->user, SFP_USER_MAX));
	if (rte_hash_del_key(dp->creds, key) >= 0)
		n_users--;
}

/* drop every entry not written by resync generation gen */
static void sweep(struct dp *dp, uint32_t gen)
{
	const void *key;
	void *data;
	uint32_t it = 0;
	unsigned n = 0, cap = (unsigned)rte_hash_count(dp->creds);
	/* rte_hash_iterate() skips keys already deleted */
	uint8_t (*dead)[SFP_USER_MAX] = cap ? rte_malloc(NULL, (size_t)cap * SFP_USER_MAX, 0) : NULL;

	if (cap && !dead) {
		DP_LOG(ERR, "no memory to sweep old credentials");
		return;
	}
	while (rte_hash_iterate(dp->creds, &key, &data, &it) >= 0 && n < cap) {
		const struct cred_entry *e = data;
		if (e->gen != gen)
			memcpy(dead[n++], key, SFP_USER_MAX);
	}
	for (unsigned i = 0; i < n; i++)
		if (rte_hash_del_key(dp->creds, dead[i]) >= 0)
			n_users--;
	rte_free(dead);
	if (n)
		DP_LOG(INFO, "resync %u removed %u users no longer in the store", gen, n);
}

void dp_creds_apply(struct dp *dp, const struct sfp_msg *m)
{
	switch (m->h.op) {
	case SFP_OP_RESYNC_BEGIN:
		cur_gen = m->h.gen;
		DP_LOG(INFO, "credential resync %u started", m->h.gen);
		break;
	case SFP_OP_CRED_SET:
		cred_set(dp, &m->u.cred, m->h.gen ? m->h.gen : cur_gen);
		break;
	case SFP_OP_CRED_DEL:
		cred_del(dp, &m->u.cred);
		break;
	case SFP_OP_RESYNC_END:
		if (m->h.gen == cur_gen) {
			sweep(dp, cur_gen);
			dp->st->cred_gen = cur_gen;
		}
		DP_LOG(INFO, "credential resync %u complete: %u users", m->h.gen, n_users);
		break;
	}
	dp->st->cred_count = n_users;
}

void dp_creds_reclaim(struct dp *dp)
{
	unsigned freed, pending, avail;
	/* rte_hash reclaims deleted entries by itself as it is written to */
	(void)rte_rcu_qsbr_dq_reclaim(dp->cred_dq, 256, &freed, &pending, &avail);
}

const struct sfp_ha1 *dp_creds_lookup(void *worker, struct sfp_str user)
{
	struct dp_worker *w = worker;
	void *data;
	make_key(w->key, user.p, user.n);
	if (rte_hash_lookup_data(g_dp.creds, w->key, &data) < 0)
		return NULL;
	return &((const struct cred_entry *)data)->ha1;
}
