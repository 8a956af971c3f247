/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every object shared between sipfp-dataplane (DPDK primary) and
 * sipfp-control (DPDK secondary), named in one place.  The primary creates
 * all of them; the secondary only looks them up.
 *
 * Rules for what crosses this boundary (Gatekeeper model):
 *  - fixed-size, versioned messages: struct sfp_msg, enum sfp_op + union;
 *  - no pointers and no function pointers: the two processes are different
 *    binaries, so even shared-memory addresses of code differ;
 *  - the data plane never blocks on a ring: a full ring is a counted drop
 *    (or a 503 to the sender).
 */
#ifndef SIPFP_SHM_H
#define SIPFP_SHM_H

#include <stdint.h>
#include "sipfp/admit.h"
#include "sipfp/config.h"
#include "sipfp/counters.h"
#include "sipfp/media.h"

#define SFP_MZ_STATE        "sipfp_state"      /* struct sfp_state */
#define SFP_MP_MBUF         "sipfp_mbuf"       /* packet buffers, data plane only */
#define SFP_HASH_CREDS      "sipfp_creds"      /* credential replica, data plane only */
#define SFP_RING_TO_CTL     "sipfp_to_ctl"     /* dp workers -> control, MP/SC */
#define SFP_RING_FROM_CTL   "sipfp_from_ctl"   /* control -> dp main lcore, SP/SC */

#define SFP_STATE_MAGIC     0x7369706670737431ULL /* "sipfpst1" */
#define SFP_STATE_VERSION   4u
#define SFP_MSG_VERSION     1u

#define SFP_MAX_LCORES      64
#define SFP_USER_MAX        64   /* user name bytes, NUL padded */
#define SFP_REALM_MAX       64
#define SFP_SIP_MAX         65535 /* largest SIP message (one UDP datagram) */

/* -------------------------------------------------------------------- */
/* Ring messages                                                          */
/* -------------------------------------------------------------------- */

enum sfp_op {
	SFP_OP_NONE = 0,
	/* data plane -> control */
	SFP_OP_SIP_RX = 1,      /* a SIP message that needs state; nseg elements */
	/* control -> data plane */
	SFP_OP_SIP_TX = 2,      /* send this SIP payload over UDP; nseg elements */
	SFP_OP_CRED_SET = 3,    /* add or replace one user's HA1 values */
	SFP_OP_CRED_DEL = 4,    /* remove one user */
	SFP_OP_RESYNC_BEGIN = 5,/* a full credential set follows, generation g */
	SFP_OP_RESYNC_END = 6,  /* end of set g: drop every entry older than g */
	SFP_OP_SEG = 7,         /* continuation element of SIP_RX / SIP_TX */
	/* control -> data plane: admission control (u.adm) */
	SFP_OP_BAN_ADD = 8,     /* ip, port (0: every port), secs (0: until removed),
				 * why (0: manual; else an automatic ban put back
				 * after a data plane restart), value: fails */
	SFP_OP_BAN_DEL = 9,
	SFP_OP_ALLOW_ADD = 10,  /* ip, len */
	SFP_OP_ALLOW_DEL = 11,
	SFP_OP_LIMIT_SET = 12,  /* key (a name of SFP_LIMITS), value */
	SFP_OP_ADMIT_RESET = 13,/* forget manual bans, run-time allow entries and
				 * limits set at run time: a full set follows */
	/* control -> data plane: media flows (u.media, media.h) */
	SFP_OP_MEDIA_SET = 14,  /* install or update the flow of one local port */
	SFP_OP_MEDIA_DEL = 15,  /* remove it */
	/* control -> data plane (u.adm): a failed authentication the control
	 * process saw on a TCP/TLS connection, counted for brute-force bans
	 * exactly like a worker's (ip, port; key[0..8): the user's hash) */
	SFP_OP_AUTH_FAIL = 16,
};

/* where a SIP message came from or goes (sfp_sip_meta.transport) */
enum sfp_transport { SFP_TP_UDP = 0, SFP_TP_TCP = 1, SFP_TP_TLS = 2 };

/* SIP_RX flags */
#define SFP_RXF_RESPONSE   0x01u
#define SFP_RXF_AUTH_OK    0x02u /* credentials verified on the fast path */
#define SFP_RXF_IN_DIALOG  0x04u /* request with a To-tag */
#define SFP_RXF_TRYING     0x08u /* the fast path already sent 100 Trying */
#define SFP_RXF_PEER       0x10u /* from another node of the service (peers): not challenged */

#define SFP_CRED_MD5       0x01u
#define SFP_CRED_SHA256    0x02u

#define SFP_MSG_SIZE       512u

struct sfp_msg_hdr {
	uint8_t version;  /* SFP_MSG_VERSION */
	uint8_t rsvd;
	uint16_t op;      /* enum sfp_op */
	uint16_t nseg;    /* elements in this message, this one included */
	uint16_t len;     /* payload bytes carried in this element */
	uint32_t gen;     /* credential generation (CRED_*, RESYNC_*) */
	uint32_t rsvd2;
};

/* addresses are IPv4 in network byte order, ports in host byte order */
struct sfp_sip_meta {
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t lcore;
	uint16_t flags;     /* SFP_RXF_* */
	uint8_t mac[6];     /* RX: the sender's MAC; TX: next hop (zero: resolve) */
	uint8_t transport;  /* enum sfp_transport: UDP over the ring; TCP/TLS only
			     * inside the control process (its connections) */
	uint8_t rsvd;
	uint32_t total_len; /* SIP payload bytes across all segments */
	uint64_t rx_ms;     /* wall clock at reception, milliseconds */
	char user[SFP_USER_MAX]; /* authenticated user (AUTH_OK), NUL padded */
};

struct sfp_cred_msg {
	char user[SFP_USER_MAX];
	uint8_t algs;       /* SFP_CRED_* present */
	uint8_t rsvd[7];
	uint8_t ha1_md5[16];
	uint8_t ha1_sha256[32];
};

struct sfp_admit_msg {
	uint32_t ip;        /* network byte order */
	uint16_t port;
	uint8_t len;        /* prefix length */
	uint8_t why;        /* BAN_ADD: enum sfp_ban_why (admit.h), 0 = manual */
	uint32_t secs;
	uint32_t value;
	char key[32];       /* NUL padded */
};

#define SFP_SEG_DATA      (SFP_MSG_SIZE - sizeof(struct sfp_msg_hdr))
#define SFP_FIRST_DATA    (SFP_SEG_DATA - sizeof(struct sfp_sip_meta))

struct sfp_msg {
	struct sfp_msg_hdr h;
	union {
		struct {
			struct sfp_sip_meta m;
			uint8_t data[SFP_FIRST_DATA];
		} sip;                          /* SIP_RX, SIP_TX */
		struct sfp_cred_msg cred;       /* CRED_SET, CRED_DEL */
		struct sfp_admit_msg adm;       /* BAN_*, ALLOW_*, LIMIT_SET */
		struct sfp_media_msg media;     /* MEDIA_SET, MEDIA_DEL */
		uint8_t seg[SFP_SEG_DATA];      /* SEG */
	} u;
};

_Static_assert(sizeof(struct sfp_msg) == SFP_MSG_SIZE, "ring element size");

/* elements needed to carry a SIP payload of n bytes */
static inline unsigned sfp_msg_nseg(uint32_t n)
{
	if (n <= SFP_FIRST_DATA)
		return 1;
	return 1 + (unsigned)((n - SFP_FIRST_DATA + SFP_SEG_DATA - 1) / SFP_SEG_DATA);
}

#define SFP_MAX_NSEG  (1 + (SFP_SIP_MAX - SFP_FIRST_DATA + SFP_SEG_DATA - 1) / SFP_SEG_DATA)

/* -------------------------------------------------------------------- */
/* Shared state memzone                                                   */
/* -------------------------------------------------------------------- */

struct sfp_lcore_stats {
	uint64_t c[SFP_CNT_MAX];
} __attribute__((aligned(64)));

struct sfp_state {
	uint64_t magic;             /* SFP_STATE_MAGIC */
	uint32_t version;           /* SFP_STATE_VERSION */
	uint32_t dp_pid;
	uint64_t boot_id;           /* changes at every data plane start */
	uint32_t n_workers;
	uint32_t worker_lcore[SFP_MAX_LCORES];

	/* written by the data plane main lcore */
	volatile uint64_t dp_heartbeat_ms;
	volatile uint32_t cred_gen;       /* last completed resync generation */
	volatile uint32_t cred_count;     /* entries in the replica */
	volatile uint32_t cred_capacity;
	volatile uint32_t ctl_attached;   /* 1 while the heartbeat is fresh */
	volatile uint64_t mbuf_in_use;
	volatile uint64_t mbuf_total;
	volatile uint64_t hugepage_bytes; /* heap memory in use, all sockets */
	/* the port's own counters (rte_eth_stats): what was lost before a
	 * worker ever saw it */
	volatile uint64_t port_rx_nombuf; /* no mbuf to receive into (mempool exhausted) */
	volatile uint64_t port_imissed;   /* RX queue full: the workers fell behind */
	volatile uint64_t port_ierrors;
	volatile uint64_t port_oerrors;
	volatile uint64_t ctl_msgs_applied;
	volatile uint64_t ctl_msgs_bad;

	/* written by the control process */
	volatile uint64_t ctl_heartbeat_ms;
	volatile uint32_t ctl_pid;
	volatile uint32_t ctl_rsvd;

	/* the nonce key the workers use (config nonce_secret, or the random
	 * one of this start): the control process checks credentials that
	 * come over TCP/TLS with the same key, so a nonce from either works */
	uint8_t nonce_key[SFP_CFG_STR_MAX];
	uint32_t nonce_key_len;
	/* the exception path (tcp = yes): the kernel interface carrying addr
	 * lives in this network namespace; the control process opens its
	 * TCP/TLS sockets there */
	volatile uint32_t exc_ready;
	char exc_netns[64];

	/* the effective configuration, as text, for `sipfpctl config show` */
	char config_text[8192];

	struct sfp_lcore_stats stats[SFP_MAX_LCORES];

	/* admission control (admit.h): written by the main lcore only */
	struct sfp_limits limits;
	struct sfp_allow_list allow;
	struct sfp_ban_table bans;
};

#endif
