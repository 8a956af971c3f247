/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control process's transaction and dialog layer, inside: what its
 * modules share.  proxy.h is its face to the rest of the control process.
 *
 *   px_sip.c        SIP text helpers (header fields, URIs, Via, branches)
 *   registrar.c     bindings (RFC 3261 10.3)
 *   dialogs.c       dialogs (12), persisted
 *   transactions.c  client transactions (17.1) and forked groups (16.7)
 *   proxy.c         routing (16): requests, responses, timers
 */
#ifndef SFP_PX_H
#define SFP_PX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hidx.h"
#include "proxy.h"
#include "sip_auth.h"
#include "wbuf.h"

#define BRANCH_MAGIC "z9hG4bK"     /* RFC 3261 8.1.1.7 */
#define OUR_BRANCH   "z9hG4bKsfp"
#define MSG_MAX      SFP_SIP_MAX

extern struct px_env px_e;
uint32_t px_pow2(uint32_t n);

/* ---- px_sip.c ---------------------------------------------------------------- */

/* one raw header field: name, and the whole field with continuation lines */
struct px_rawh {
	struct sfp_str name;
	const char *start, *end; /* end: after the CRLF of the last line */
	struct sfp_str value;
};


void px_putf(struct sfp_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void px_cstr(char *d, size_t cap, struct sfp_str s);
bool px_str_is(struct sfp_str s, const char *c);
bool px_name_is(struct sfp_str n, const char *full, char compact);
/* iterate header fields of p[0..len): *off starts after the start line */
bool px_hdr_next(const char *p, size_t len, size_t *off, struct px_rawh *h);
size_t px_first_line_end(const char *p, size_t len);
struct sfp_str px_first_value(struct sfp_str v, struct sfp_str *rest);
struct sfp_str px_addr_uri(struct sfp_str v, struct sfp_str *params);
struct sfp_str px_param(struct sfp_str ps, const char *name);
bool px_ip4(struct sfp_str host, uint32_t *out);
long px_num(struct sfp_str s);
bool px_uri_is_us(const struct sfp_uri_parts *u);
/* transports: where ip:port is reached (a connection from there, or UDP),
 * and how we name ourselves on each */
uint8_t px_out_tp(uint32_t ip, uint16_t port);
const char *px_tp_name(uint8_t tp);
uint16_t px_tp_port(uint8_t tp);
const char *px_tp_param(uint8_t tp);
void px_put_via(struct sfp_wbuf *w, uint8_t tp, const char *branch);
uint8_t px_uri_tp(struct sfp_str uri);
uint8_t px_target_tp(uint32_t ip, uint16_t port, struct sfp_str uri);
void px_send_tp(uint32_t ip, uint16_t port, uint8_t tp, const char *p, uint32_t len);
bool px_reliable(const char *msg, uint32_t len);
bool px_port_is_ours(uint16_t port);
bool px_via_dest(struct sfp_str value, uint32_t *ip, uint16_t *port);
void px_make_branch(struct sfp_str call_id, struct sfp_str in_branch, const char *salt,
		    char out[48]);
const char *px_ipstr(uint32_t ip, char b[16]);
uint64_t px_hs(const char *c);
uint64_t px_hstr(struct sfp_str v);

/* ---- registrar.c ------------------------------------------------------------- */

/*
 * Bindings live in slots that keep their number while they exist (freed
 * slots are reused), found by address-of-record (INVITE, REGISTER) and by
 * contact (in-dialog requests) through two hash indexes: 100 000
 * registered users cost no scan per message.
 */
struct binding {
	struct store_binding b;
	bool used;
	uint32_t next_free;
};

/* walk the bindings of one address-of-record */
#define FOR_AOR(i, key) \
	for (uint32_t i = hidx_first(&px_by_aor, px_hs(key)); i != HIDX_NONE; i = hidx_next(&px_by_aor, i)) \
		if (!strcmp(px_binds[i].b.aor, (key)))


extern struct binding *px_binds;
extern struct hidx px_by_aor, px_by_contact;
int px_reg_init(void);
struct binding *px_bind_find(const char *aor, const char *contact);
struct binding *px_bind_by_contact(const char *contact);
struct binding *px_bind_any(const char *aor);
void px_bind_remove(unsigned i);
void px_bind_reset(void);
void px_reach(const struct store_binding *b, uint32_t *ip, uint16_t *port);
void px_registrar(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m);
void px_registrar_tick(uint64_t now);
/* the live bindings of aor held by other nodes (PostgreSQL), each with the
 * node's address as where to send; a node found gone is named in gone */
unsigned px_remote_targets(const char *aor, uint64_t now, struct binding *out, char gone[48], uint64_t *gone_age);

/* ---- dialogs.c --------------------------------------------------------------- */

extern struct store_dialog *px_dlg;
extern unsigned px_n_dlg, px_max_dlg;
int px_dlg_init(uint32_t max);
struct store_dialog *px_dlg_find(struct sfp_str callid, struct sfp_str t1, struct sfp_str t2);
struct store_dialog *px_dlg_add(const struct store_dialog *d);
void px_dlg_remove(struct store_dialog *d);
void px_dlg_drop_early(const char *call_id, const char *to_tag);
void px_dlg_tick(uint64_t now);

/* ---- transactions.c ---------------------------------------------------------- */

/* INVITE (17.1.1) and non-INVITE (17.1.2) client transactions share the
 * table: CALLING is "Trying" for a non-INVITE one, timer A is E, B is F,
 * t_end is D or K */
enum itx_state { ITX_FREE, ITX_CALLING, ITX_PROCEEDING, ITX_COMPLETED };

#define T2_MS 4000u  /* RFC 3261 17.1.2.2: E's ceiling */
#define T4_MS 5000u  /* 17.1.2.2: timer K over UDP */

struct itx {
	enum itx_state state;
	bool non_invite;
	bool reinvite;            /* in a dialog: no call counters */
	bool own;                 /* a request of sipfp's own (px_end_call): nobody upstream */
	char *resp;               /* the final response in the form relayed */
	uint32_t resp_len;        /* (non-INVITE: for the sender's retransmissions, */
	uint32_t resp_ip;         /* 17.2.2; INVITE: kept until every branch */
	uint16_t resp_port;       /* has ended, 16.7 step 6) */
	char reason[64];          /* its reason phrase */
	char branch[64];          /* ours, toward the callee */
	char in_branch[128];      /* the caller's, to match retransmissions, ACK and CANCEL */
	char call_id[128];
	char caller[64], callee[64];
	char early_tag[64];       /* the To-tag of its last provisional (12.1) */
	uint32_t dst_ip;
	uint16_t dst_port;
	char *fwd;                /* the INVITE as we sent it */
	uint32_t fwd_len;
	char *orig;               /* the INVITE as the caller sent it (for our 408) */
	uint32_t orig_len;
	struct sfp_sip_meta orig_mt;
	uint64_t t_a, a_int, t_b, t_c, t_end;
	uint16_t final;
	bool cancelled;           /* CANCEL sent, or due at the first provisional */
	bool caller_cancel;       /* ... because the caller cancelled */
	bool upstream_final;      /* the caller has had a final answer (every branch) */
	bool best;                /* ... and it was this branch's */
	uint32_t live_pos;        /* its place in px_itx_live */
	/* the back-to-back mode's (b2b.c): its call's slot + 1 (0: a proxy
	 * transaction), that slot's generation, what the request is */
	uint32_t b2b, b2b_gen;
	uint8_t b2b_kind;         /* enum b2b_kind */
	uint8_t b2b_leg;          /* the leg it was sent on */
};

#define MAX_FORK 8    /* parallel branches of one INVITE (16.6) */
/* every branch of the INVITE t belongs to (never free one inside) */
#define FOR_GROUP(s, t) \
	for (struct itx *s = px_group_from((t), hidx_first(&px_itx_by_theirs, px_hs((t)->in_branch))); s; \
	     s = px_group_from((t), hidx_next(&px_itx_by_theirs, (uint32_t)(s - px_itx))))


extern struct itx *px_itx;
extern uint32_t px_max_itx;
extern struct hidx px_itx_by_ours, px_itx_by_theirs;
extern uint32_t *px_itx_live, px_n_itx_live;
int px_itx_init(uint32_t max);
struct itx *px_itx_by_branch(struct sfp_str b);
struct itx *px_itx_by_in_branch(struct sfp_str b, struct sfp_str callid, bool non_invite);
struct itx *px_group_from(const struct itx *t, uint32_t i);
struct itx *px_group_best(const struct itx *t);
struct itx *px_itx_alloc(void);
void px_itx_index(struct itx *t);
struct itx *px_itx_start(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			 const char *br, const char *out, size_t n, uint32_t ip, uint16_t port,
			 bool non_invite);
void px_itx_free(struct itx *t);
void px_itx_send_sibling(struct itx *t, const char *method, struct sfp_str to_override);
/* a CANCEL or an ACK of ours for an INVITE (9.1, 17.1.1.3): its Request-URI,
 * top Via, From, To, Call-ID and CSeq number, to ip:port */
void px_send_sibling(const char *method, struct sfp_str ruri, struct sfp_str via, struct sfp_str from,
		     struct sfp_str to, struct sfp_str call_id, uint32_t cseq, uint32_t ip, uint16_t port);
void px_itx_reply_caller(struct itx *t, uint16_t code, const char *reason);
void px_itx_trim(struct itx *t);
/* the response context of a (forked) INVITE, 16.7 */
void px_branch_cancel(struct itx *s);
void px_send_final(struct itx *s);
void px_group_settle(struct itx *t);
void px_branch_timeout(struct itx *t, const char *why, uint64_t now);
/* ... and its user's part once the caller has had its final: best is the
 * branch whose answer it got, n the branches (proxy.c) */
void px_settled(struct itx *t, struct itx *best, unsigned n);
enum px_ict_ev {
	PX_ICT_1XX,   /* a provisional (the transaction is Proceeding) */
	PX_ICT_2XX,   /* a 2xx: the transaction is over (17.1.1.2) */
	PX_ICT_ERROR, /* the first 3xx-6xx: ACKed (17.1.1.3), t->final set */
	PX_ICT_AGAIN, /* an error retransmitted: ACKed again, nothing else to do */
};
enum px_ict_ev px_ict_take(struct itx *t, const struct sfp_sip *m, uint64_t now);
bool px_invite_again(const struct sfp_sip *m);

/* ---- b2b.c: the back-to-back mode ------------------------------------------------- */

enum b2b_kind {
	B2B_K_INVITE = 0,  /* the caller's INVITE, sent on as ours to the callee */
	B2B_K_RELAY,       /* an in-dialog request, sent on to the other leg (orig: as received) */
	B2B_K_BYE,         /* a BYE of ours */
	B2B_K_REFRESH,     /* a session refresh of ours (RFC 4028 UPDATE) */
};

int b2b_init(void);
/* a request in b2bua mode: false when it is not the back-to-back mode's
 * (the proxy's routing takes it) */
bool b2b_request(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m);
/* a response to a transaction of the back-to-back mode (t->b2b) */
void b2b_response(struct itx *t, const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m);
/* a response no transaction claims: a 2xx the callee retransmits; true if taken */
bool b2b_stray_response(const struct sfp_sip_meta *mt, const struct sfp_sip *m);
/* every branch of the callee leg's INVITE has failed; the caller has its answer */
void b2b_settled(struct itx *t, struct itx *best);
/* a request of ours on a leg went unanswered (timer F) */
void b2b_nict_timeout(struct itx *t);
/* end the call whose caller's Call-ID this is (media timeout); false if none */
bool b2b_end_by_key(const char *a_call_id, const char *why, uint64_t now);
bool b2b_strip_tag(struct sfp_str v, struct sfp_str tag, char *out, size_t cap);
void b2b_tick(uint64_t now);
unsigned b2b_calls(void);
void b2b_list(px_row_fn row, void *ctx, uint64_t now);

/* ---- proxy.c ----------------------------------------------------------------- */

extern char px_obuf[MSG_MAX + 1];
unsigned px_invite_targets(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			   char callee[64], struct binding *bs[MAX_FORK], struct sfp_str *body);
/* Content-Length and the body: the end of a message we build; its length, 0 when it did not fit */
size_t px_put_body(struct sfp_wbuf *w, struct sfp_str body);

#endif
