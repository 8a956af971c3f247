/* SPDX-License-Identifier: BSD-3-Clause */
/* sipfp data plane: what the main lcore and the workers share in-process. */
#ifndef SFP_DP_H
#define SFP_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "admission.h"
#include "arp_cache.h"
#include "frag_guard.h"
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "sip_logic.h"
#include "sipfp/config.h"
#include "sipfp/shm.h"

#define DP_BURST 32
#define DP_SCRATCH (SFP_SIP_MAX + 1)

extern int sfp_logtype;
#define DP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, sfp_logtype, "sipfp: " fmt "\n", ##__VA_ARGS__)

struct dp_worker {
	unsigned lcore_id;
	uint16_t idx;            /* worker index: RX/TX queue, stats slot, RCU thread id */
	struct rte_ring *tx_in;  /* frames from the main lcore to send, SP/SC */
	struct sfp_fg *frag_guard;      /* IPv4 reassembly (frag_guard.h) */
	uint32_t fg_refused;     /* fragments a refused datagram gave back, to count */
	uint64_t *cnt;           /* state->stats[idx].c */
	uint32_t nonce_sec;      /* second of the cached nonce */
	uint32_t nonce_seq;
	char nonce[SFP_NONCE_LEN];
	uint16_t ip_id;
	char *scratch;           /* DP_SCRATCH bytes: linearised input */
	char *out;               /* DP_SCRATCH bytes: replies */
	struct sfp_msg *msgs;    /* SFP_MAX_NSEG elements for one hand-off */
	uint8_t key[SFP_USER_MAX];
	struct sfp_rl *rl;       /* per-source token buckets, this lcore's sources */
	struct sfp_rl_limits rll;/* copy of the shared limits, refreshed on change */
	uint32_t limits_gen;
	uint64_t now_ms;         /* at the start of the burst */
	uint64_t now_us;         /* the same instant, microseconds (RTP jitter) */
	bool ood_reserved;       /* this burst found the ring below ood_reserve */
};

/* a failed authentication, worker -> main lcore (brute-force bans) */
struct dp_auth_fail {
	uint32_t ip;             /* network byte order */
	uint16_t port;
	uint16_t rsvd;
	uint64_t user_hash;      /* 0: no user name */
};

/* what a worker saw in an ARP packet, for the main lcore's cache */
struct dp_arp_news {
	uint32_t ip;
	uint8_t mac[6];
	uint16_t rsvd;
};

struct dp {
	struct sfp_config cfg;
	struct sfp_logic_cfg lcfg;
	uint16_t port;
	struct rte_ether_addr mac;
	uint32_t addr;           /* network byte order */
	uint32_t netmask;        /* network byte order */
	uint32_t gateway;        /* network byte order, 0: none */
#define DP_MAX_PEERS 16
	uint32_t peers[DP_MAX_PEERS]; /* the other nodes (config peers), network byte order */
	unsigned n_peers;
	struct sfp_arp *arp;     /* neighbours; main lcore only */
	struct rte_ring *arp_learn; /* workers -> main lcore: struct dp_arp_news, MP/SC */
	bool tx_ip_cksum, tx_udp_cksum; /* offloads */
	struct rte_mempool *mp;
	struct rte_ring *to_ctl, *from_ctl;
	struct rte_ring *auth_fail; /* workers -> main lcore: struct dp_auth_fail, MP/SC */
	struct sfp_bf *bf_src, *bf_user; /* failure windows; main lcore only */
	struct sfp_ua_list ua;   /* read-only after start */
	unsigned ood_reserve;    /* ring slots out-of-dialog requests leave free */
	struct sfp_state *st;
	volatile bool ctl_queue;  /* attached, or gone for less than ctl_queue_s */
	struct sfp_media_table *media; /* NULL: media = no */
	struct rte_hash *creds;
	struct rte_rcu_qsbr *qsv;
	struct rte_rcu_qsbr_dq *cred_dq;
	unsigned n_workers;
	struct dp_worker workers[SFP_MAX_LCORES];
	uint64_t tsc_hz;
	volatile bool quit;
	/* the nonce key in use (config or random), for the shared state */
	uint8_t nonce_key[SFP_CFG_STR_MAX];
	uint32_t nonce_key_len;
	/* the exception path (dp_exc.c): TCP/TLS through the kernel */
	bool exc;
	uint16_t exc_port;
	struct rte_ring *exc_in;  /* workers -> main lcore: segments for the kernel, MP/SC */
	struct rte_ether_addr exc_mac; /* the kernel side of the TAP */
	char exc_netns[64];
	char exc_if[16];
};

/* the kernel's own local ports in the exception namespace (connections
 * sipfp dials): TCP to these is handed over too */
#define DP_EXC_LPORT_LO 40000u
#define DP_EXC_LPORT_HI 60999u

extern struct dp g_dp;

/* wall clock in ms, read once per burst.  From the system clock (vDSO,
 * no syscall), not extrapolated from the TSC: that drifted from it by
 * over 100 ms within a minute on a VM, and nonce times, ban expiries and
 * the rx_ms handed to the control process must agree with the system
 * clock other processes and nodes read */
static inline uint64_t dp_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t dp_now_ms(void)
{
	return dp_now_us() / 1000;
}

/* dp_creds.c: the credential replica (main lcore writes, workers read) */
int dp_creds_init(struct dp *dp);
void dp_creds_apply(struct dp *dp, const struct sfp_msg *m);
const struct sfp_ha1 *dp_creds_lookup(void *worker, struct sfp_str user);
void dp_creds_reclaim(struct dp *dp);

/* dp_admit.c: admission control on the main lcore */
int dp_admit_init(struct dp *dp, char *err, size_t errlen);
void dp_admit_free(struct dp *dp);
void dp_admit_poll(struct dp *dp, uint64_t now, uint64_t *cnt);
void dp_admit_tick(struct dp *dp, uint64_t now, uint64_t *cnt);
void dp_admit_apply(struct dp *dp, const struct sfp_msg *m, uint64_t now);

/* dp_media.c: the media flow table and relay */
int dp_media_init(struct dp *dp, char *err, size_t errlen);
void dp_media_apply(struct dp *dp, const struct sfp_msg *m, uint64_t now);
/* m is a UDP datagram for a port of the media range: relayed into tx (at
 * most cap), or dropped and counted */
/* the index of ip among the media addresses, or -1 */
static inline int dp_media_addr_idx(const struct sfp_media_table *t, uint32_t ip)
{
	for (unsigned k = 0; t && k < t->n_addr; k++)
		if (t->addr[k] == ip)
			return (int)k;
	return -1;
}
void dp_media_relay(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth,
		    struct rte_ipv4_hdr *ip, struct rte_udp_hdr *udp, uint32_t ulen, unsigned addr_idx,
		    struct rte_mbuf **tx, unsigned *ntx, unsigned cap);

/* dp_exc.c: the exception path */
int dp_exc_init(struct dp *dp, char *err, size_t errlen);
void dp_exc_fini(struct dp *dp);
/* an admitted TCP segment for our address: true when queued for the
 * kernel; false: the caller frees it (counted) */
bool dp_exc_in(struct dp_worker *w, struct rte_mbuf *m);
/* main lcore: both directions; how many frames it moved */
unsigned dp_exc_poll(struct dp *dp, struct dp_worker *mw, uint64_t now);
/* dp_main.c: a frame to dst_ip's next hop (resolved, or parked for ARP) */
void dp_send_routed(struct dp_worker *mw, struct rte_mbuf *m, uint32_t dst_ip, uint64_t now);
/* dp_admit.c: SFP_OP_AUTH_FAIL from the control process */
void dp_admit_fail_msg(struct dp *dp, const struct sfp_msg *m);

/* dp_worker.c */
int dp_worker_main(void *arg);
/* the reassembly table's release callback: ctx is the worker */
void dp_frag_release(void *ctx, void *frag, enum sfp_fg_release why);
/* frames of one UDP datagram from our address, IPv4-fragmented when it
 * does not fit one 1500-byte frame; appended to tx[*n..cap).  0, or -1
 * (too big, or no mbuf: nothing appended) */
int dp_udp_frames(struct dp_worker *w, const struct rte_ether_addr *dst_mac, uint32_t dst_ip,
		  uint16_t dst_port, const char *payload, uint32_t len,
		  struct rte_mbuf **tx, unsigned *n, unsigned cap);

#endif
