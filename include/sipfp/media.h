/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media anchored on the fast path: the flow table the data plane's workers
 * relay RTP/RTCP with, and the ring message the control process installs
 * flows with.  Crosses the process boundary, so: fixed layout, no
 * pointers, every address IPv4 in network byte order, ports host order.
 *
 * One entry per local port of the media range (media_ports) on each media
 * address (media_addr, up to SFP_MEDIA_MAX_ADDRS: one address holds
 * 16,384 streams of 4 ports), indexed by address * n + port - base: the
 * lookup is an array index, no hashing, and a packet for the media range
 * never reaches the SIP scanner.  A call's streams all use one address.  Flows come in pairs:
 * what arrives on one leg's port leaves from the other leg's port
 * (out_port) towards the other leg's endpoint.
 *
 * Writers: the main lcore writes the configuration half (from
 * SFP_OP_MEDIA_SET/DEL, under a sequence lock); the worker that receives a
 * port's packets writes the state half (latched source, counters).  The
 * control process only reads (sipfpctl media list, the CDR at call end,
 * the media timeout).
 */
#ifndef SIPFP_MEDIA_H
#define SIPFP_MEDIA_H

#include <stdint.h>

#define SFP_MZ_MEDIA        "sipfp_media"   /* struct sfp_media_table */
#define SFP_MEDIA_MAGIC     0x7369706d65643032ULL /* "sipmed02" */
#define SFP_MEDIA_MAX_PORTS 65536
#define SFP_MEDIA_MAX_ADDRS 16

/* media_latch: symmetric RTP (RFC 4961's behaviour, without asking) */
enum sfp_latch {
	SFP_LATCH_OFF = 0,    /* send where the SDP says, accept any source */
	SFP_LATCH_ON = 1,     /* latch to the first source within the window */
	SFP_LATCH_STRICT = 2, /* ... only if it is the SIP source address */
};

struct sfp_media_cfg {
	volatile uint32_t seq;    /* sequence lock: odd while the main lcore writes */
	uint32_t gen;             /* the control process's generation */
	uint8_t active;
	uint8_t latch;            /* enum sfp_latch */
	uint8_t rtcp;             /* an RTCP port: no RTP statistics */
	uint8_t mac_ok;           /* to_mac is usable */
	uint16_t out_port;        /* the other leg's local port: we send from it */
	uint16_t to_port;         /* where the other leg's SDP says to send (0: not yet) */
	uint32_t to_ip;
	uint32_t expect_ip;       /* this leg's SIP source (strict latching) */
	uint8_t to_mac[6];        /* next hop towards to_ip */
	uint16_t clock_khz;       /* RTP clock, kHz (8 for G.711), for jitter */
	uint64_t latch_until_ms;  /* latching (again) allowed until then */
	uint32_t session;         /* the control process's session id */
	uint8_t stream, leg;      /* m= line, leg (0: caller side, 1: callee side) */
	uint16_t sdp_seq;         /* new SDP for the flow (a re-INVITE) since install */
	uint64_t call_key;        /* keyed hash of Call-ID and caller's tag, stable
				   * across control restarts: the call is found again */
};

struct sfp_media_stats {      /* the receiving worker's */
	uint8_t latched;
	uint8_t seq_init;
	uint8_t src_mac[6];
	uint32_t src_ip;
	uint16_t src_port;
	uint16_t latched_seq;     /* the cfg's sdp_seq when it latched */
	uint16_t max_seq;
	uint32_t cycles;          /* RFC 3550 A.1: sequence number wraps << 16 */
	uint32_t base_seq;
	uint64_t pkts, bytes;     /* relayed */
	uint64_t drop_src;        /* from a source other than the latched one */
	uint64_t drop_other;      /* no peer yet, no next hop, not relayable */
	uint64_t last_ms;         /* wall clock of the last packet relayed */
	uint64_t last_transit;    /* RFC 3550 A.8, in RTP clock units */
	uint32_t jitter_q4;       /* interarrival jitter, RTP units, x16 */
	uint32_t max_jitter_q4;
	uint64_t rtp_pkts;        /* RTP packets seen (loss = expected - these) */
	uint64_t expected_prior;  /* packets expected before the last restart of numbering */
};

struct sfp_media_flow {
	struct sfp_media_cfg c;
	struct sfp_media_stats s __attribute__((aligned(64)));
} __attribute__((aligned(64)));

struct sfp_media_table {
	uint64_t magic;           /* SFP_MEDIA_MAGIC */
	uint32_t base;            /* first local port */
	uint32_t n;               /* ports in the range, on each address */
	uint32_t n_addr;          /* media addresses */
	uint32_t rsvd;
	uint32_t addr[SFP_MEDIA_MAX_ADDRS]; /* ours, network byte order */
	struct sfp_media_flow f[];          /* n_addr * n */
};

/* SFP_OP_MEDIA_SET / SFP_OP_MEDIA_DEL (u.media) */
struct sfp_media_msg {
	uint16_t port;            /* the local port this flow receives on */
	uint16_t out_port;
	uint32_t to_ip;
	uint16_t to_port;
	uint8_t latch;
	uint8_t rtcp;
	uint32_t expect_ip;
	uint8_t to_mac[6];        /* from signalling; zero: resolve */
	uint16_t clock_khz;
	uint32_t latch_window_ms; /* from now; 0: keep the current window */
	uint32_t session;
	uint8_t stream, leg;
	uint8_t reset;            /* a new flow: forget latch and counters */
	uint8_t addr;             /* the media address (index in the table) of both ports */
	uint64_t call_key;
};

#endif
