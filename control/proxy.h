/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stateful part of sipfp, in the control process: the registrar
 * (RFC 3261 10.3), a record-routing proxy (16) with INVITE client
 * transactions and their timers (17.1.1), and the dialogs it has seen.
 *
 * No DPDK here: messages come in already scanned, and everything that
 * leaves goes through the callbacks in struct px_env (the ring to the
 * data plane, in production).
 */
#ifndef SFP_PROXY_H
#define SFP_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_logic.h"
#include "sip_scan.h"
#include "sipfp/media.h"
#include "sipfp/shm.h"
#include "store.h"

enum px_dialog_state { PX_DLG_EARLY = 1, PX_DLG_CONFIRMED = 2, PX_DLG_ENDING = 3 };

struct px_env {
	/* send a UDP payload to ip:port (network byte order ip, host order port) */
	void (*send)(uint32_t ip, uint16_t port, const char *p, uint32_t len);
	/* answer request m (as received with meta mt) statelessly */
	void (*respond)(const struct sfp_sip_meta *mt, const struct sfp_sip *m, uint16_t code,
			const char *reason, const char *extra);
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
	struct store *db;
	const struct sfp_logic_cfg *lcfg; /* our address, port, domain, tag keys */
	uint32_t addr;                    /* ours, network byte order */
	uint32_t t1_ms;                   /* RFC 3261 T1 (500) */
	uint32_t timer_c_ms;              /* no final answer after a provisional (180 s) */
	uint32_t dialog_max_ms;           /* a dialog whose BYE was lost */
	uint32_t max_itx, max_dialogs;    /* table sizes */
	uint32_t reg_min, reg_max, reg_default; /* expiry bounds, seconds */
	/* media anchoring (media.h); media false: signalling only */
	bool media;
	char media_addrs[SFP_MEDIA_MAX_ADDRS][16]; /* dotted quads in the SDP we write */
	unsigned media_n_addr;            /* 0 counts as 1 */
	uint32_t media_first, media_last; /* media_ports */
	uint32_t media_quarantine_ms;
	uint8_t media_latch;              /* enum sfp_latch */
	uint32_t media_latch_window_ms;
	uint32_t media_timeout_ms, media_hold_timeout_ms;
	/* install (SFP_OP_MEDIA_SET) or remove (SFP_OP_MEDIA_DEL) one flow */
	void (*media_push)(uint16_t op, const struct sfp_media_msg *mm);
	const struct sfp_media_table *media_tab; /* the fast path's counters */
	/* mode = b2bua (b2b.c): two dialogs per call, session timers */
	bool b2bua;
	uint32_t session_expires, min_se;  /* RFC 4028, seconds */
	uint32_t journal_max;             /* REGISTER writes kept while the store is away */
	char node_id[48];                 /* ADDR:PORT: this node, in the bindings it registers */
	/* the transport a message to ip:port leaves on (enum sfp_transport):
	 * a connection from there, or UDP.  NULL: UDP always */
	int (*transport_of)(uint32_t ip, uint16_t port);
	uint16_t tls_port;                /* 0: no TLS */
	/* send over TCP or TLS to ip:port, connecting when no connection is
	 * open (a URI with transport=tcp|tls, or sips).  NULL: UDP only */
	void (*send_tp)(uint32_t ip, uint16_t port, uint8_t tp, const char *p, uint32_t len);
};

#define PX_COUNTERS(_) \
	_(reg_ok,            "REGISTERs accepted") \
	_(reg_rejected,      "REGISTERs refused (4xx)") \
	_(reg_expired,       "bindings expired") \
	_(calls_attempted,   "authenticated INVITEs routed or refused") \
	_(calls_answered,    "calls answered (2xx relayed)") \
	_(calls_failed,      "calls ended by an error or timeout before an answer") \
	_(calls_404,         "callee unknown") \
	_(calls_480,         "callee not registered") \
	_(calls_408,         "callee did not answer in time") \
	_(calls_503,         "INVITEs refused 503: transaction table full (max_transactions)") \
	_(calls_cancelled,   "CANCELs from callers propagated") \
	_(invite_retrans,    "INVITE retransmissions to callees (timer A)") \
	_(nict_retrans,      "in-dialog non-INVITE retransmissions (timer E)") \
	_(nict_timeout,      "in-dialog non-INVITE requests unanswered: 408 to the sender (timer F)") \
	_(nict_untracked,    "in-dialog requests forwarded without a transaction (table full)") \
	_(req_absorbed,      "request retransmissions absorbed") \
	_(indialog_routed,   "in-dialog requests routed (Route/Record-Route)") \
	_(indialog_bad,      "in-dialog requests not routable: dropped or 481") \
	_(resp_relayed,      "responses relayed upstream") \
	_(resp_stray,        "responses dropped: not through us, or no next Via") \
	_(dialogs_ended,     "dialogs ended by BYE") \
	_(dialogs_timed_out, "dialogs removed at dialog_max_s (BYE lost)") \
	_(dialogs_untracked, "dialogs not tracked: dialog table full (max_dialogs); calls still routed") \
	_(dialogs_restored,  "dialogs restored from the store at start") \
	_(no_route,          "messages dropped: destination not an IPv4 literal") \
	_(media_sessions,    "calls whose media sipfp anchored") \
	_(media_no_ports,    "calls refused 503: media_ports exhausted") \
	_(media_bad_sdp,     "SDP bodies sipfp could not read: 488 (requests) or relayed as is (responses)") \
	_(media_ended,       "media sessions ended (their ports in quarantine)") \
	_(media_timeouts,    "calls ended by sipfp: no media for media_timeout_s (on hold: media_hold_timeout_s)") \
	_(own_bye,           "BYEs sipfp sent itself to end a call") \
	_(media_adopted,     "calls still relayed by the data plane, adopted at start (after a restart)") \
	_(store_away,        "times the store became unreachable (REGISTER writes journaled meanwhile)") \
	_(reg_journaled,     "REGISTERs answered 200 while the store was away, their writes journaled") \
	_(reg_journal_replayed, "journaled REGISTER writes replayed in order when the store came back") \
	_(reg_journal_full,  "REGISTERs refused 503: the store away and the journal full (journal_max)") \
	_(b2b_calls,         "b2bua: calls answered, two dialogs each") \
	_(b2b_restored,      "b2bua: calls restored from the store at start") \
	_(b2b_relayed,       "b2bua: in-dialog requests sent on to the other leg") \
	_(b2b_local,         "b2bua: in-dialog requests answered by sipfp itself (session refresh UPDATE, OPTIONS)") \
	_(b2b_refused,       "b2bua: in-dialog requests refused (REFER 403, CSeq out of order 500)") \
	_(b2b_no_ack,        "b2bua: calls ended because the caller never ACKed the 2xx (13.3.1.4)") \
	_(b2b_fork_bye,      "b2bua: a second 2xx of a forked INVITE, ACKed and BYEd (13.2.2.4)") \
	_(b2b_422,           "b2bua: INVITEs sent again with a larger Session-Expires after 422 (RFC 4028)") \
	_(b2b_refresh_sent,  "b2bua: session refreshes sipfp sent (UPDATE)") \
	_(b2b_expired,       "b2bua: calls ended because a session refresh was missed (RFC 4028 10)") \
	_(b2b_leg_gone,      "b2bua: calls ended because a leg answered 481 or 408")

struct px_counters {
#define PX_F(n, h) uint64_t n;
	PX_COUNTERS(PX_F)
#undef PX_F
};

extern struct px_counters px_cnt;

int px_init(const struct px_env *env);
/* a SIP request or response from the data plane */
void px_rx(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m);
/* a message to ip:port could not be sent over TCP/TLS (no connection, a
 * dial refused, a certificate not trusted): its transactions fail as if
 * they had a 503 (RFC 3261 8.1.3.1) */
void px_transport_failed(uint32_t ip, uint16_t port, uint64_t now);
/* timers; call often (every few ms) */
void px_tick(uint64_t now_ms);

/* one side of a call, as sipfp must address it to end the call itself:
 * its Contact, where it is reached, its identity (From or To value, with
 * its tag) and the CSeq of its last request */
struct px_leg {
	char target[256];
	char id[256];
	uint32_t ip;
	uint16_t port;
	uint32_t cseq;
	bool known;
};

/* end a call from the middle (RFC 3261 15: either UA may, and sipfp acts
 * as both here): a BYE to each side, each in a client transaction of its
 * own, and the dialog forgotten */
void px_end_call(const char *call_id, const char *a_tag, const char *b_tag,
		 const struct px_leg *a, const struct px_leg *b, uint64_t now_ms);

unsigned px_registrations(void);
/* the users, as the control process knows them (kept by whoever changes
 * the store: sipfpctl, the other nodes' news) */
bool px_user_known(const char *name);
void px_user_add(const char *name);
void px_user_del(const char *name);
/* REGISTER writes waiting for the store to come back */
unsigned px_journal_len(void);
unsigned px_dialogs(void);
typedef void (*px_row_fn)(void *ctx, const char *line);
void px_reg_list(px_row_fn row, void *ctx, uint64_t now_ms);
void px_dialog_list(px_row_fn row, void *ctx, uint64_t now_ms);

#endif
