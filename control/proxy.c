/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing: the record-routing proxy (see proxy.h; px.h for its modules).
 *
 * Routing follows RFC 3261 16: the authenticated INVITE is forwarded to
 * every registered contact of the callee (parallel forking, 16.6; at most
 * MAX_FORK, the freshest first) with our Via on top, a Record-Route, one
 * hop less in Max-Forwards and our own Proxy-Authorization removed (22.3).
 * Each branch is an INVITE client transaction (17.1.1: timers A, B, C, D)
 * in one response context: provisionals and the first 2xx go back at once
 * by Via (16.7, 18.2.2), a 2xx CANCELs the other branches (16.7 step 10),
 * error finals are ACKed hop by hop and held until every branch is final,
 * then the best one is sent (16.7 step 6: a 6xx wins, else the lowest
 * class; 503 becomes 500).  CANCEL from the caller is answered and sent
 * down every branch (16.10).  In-dialog requests follow Route (loose
 * routing, 16.12) and get a branch derived from theirs: non-INVITE ones
 * (BYE, INFO, UPDATE...) get a non-INVITE client transaction (17.1.2:
 * timers E, F, K), a re-INVITE an INVITE one, so retransmissions are
 * absorbed, a lost request is retransmitted and a silent far end gets 408.
 * ACK has none (17.1.1.3).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "media.h"
#include "px.h"

struct px_counters px_cnt;
struct px_env px_e;

/* ---- forwarding -------------------------------------------------------------------- */

/*
 * A request as we forward it: new Request-URI (or the same), our Via on top
 * and the sender's marked with received/rport (18.2.1, RFC 3581), one hop
 * less, Record-Route for a new dialog, our Route entry removed (16.12),
 * our own credentials removed (22.3).
 */
/* the end of a message we build: Content-Length for the body it carries
 * (the original, or its SDP rewritten for media anchoring), the body */
size_t px_put_body(struct sfp_wbuf *w, struct sfp_str body)
{
	px_putf(w, "Content-Length: %u\r\n\r\n", body.n);
	sfp_putstr(w, body);
	return w->full ? 0 : w->n;
}

static bool is_content_length(struct sfp_str name)
{
	return px_name_is(name, "content-length", 'l');
}

/*
 * A Contact naming an IPv4 address other than the one the message came
 * from belongs to a UA behind NAT (its private address): the far end would
 * send its in-dialog requests (the ACK, the BYE) there, where nothing
 * reaches.  Such a Contact goes on naming the address and port the message
 * came from, the public side of the NAT's mapping, as sipfp's registrar
 * already does for bindings (RFC 3581's reasoning, what NAT helpers such as
 * Kamailio's fix_nated_contact do).  False when h was left alone.
 */
static bool put_nated_contact(struct sfp_wbuf *w, const struct px_rawh *h, const struct sfp_sip_meta *mt)
{
	struct sfp_str rest, v = px_first_value(h->value, &rest);
	struct sfp_str uri = px_addr_uri(v, NULL);
	struct sfp_uri_parts up;
	uint32_t ip;
	/* over a connection, the connection is the way back whatever the
	 * Contact says (the phone's listening port is not reachable behind
	 * NAT; RFC 5626's flow): it names the connection's far end */
	if (!uri.p || sfp_uri_parse(uri, &up) < 0 || !px_ip4(up.host, &ip) ||
	    (ip == mt->src_ip && mt->transport == SFP_TP_UDP))
		return false;
	/* the host and its :port, then whatever follows them in the URI */
	const char *hp_end = up.host.p + up.host.n;
	if (up.port)
		while (hp_end < uri.p + uri.n && (*hp_end == ':' || (*hp_end >= '0' && *hp_end <= '9')))
			hp_end++;
	char a[16];
	sfp_puts(w, "Contact: ");
	sfp_put(w, v.p, (size_t)(up.host.p - v.p));
	px_putf(w, "%s:%u", px_ipstr(mt->src_ip, a), mt->src_port);
	sfp_put(w, hp_end, (size_t)(v.p + v.n - hp_end));
	if (rest.n) {
		sfp_puts(w, ", ");
		sfp_putstr(w, rest);
	}
	sfp_puts(w, "\r\n");
	return true;
}

/*
 * Our Record-Route (16.6 step 4).  One entry when both sides use UDP; when
 * a side uses TCP or TLS, two (RFC 5658 double record-routing): the top one
 * names the transport the callee reaches us on, the other the caller's, so
 * each side's route set starts with the entry for its own transport.
 */
static void put_record_route(struct sfp_wbuf *w, uint8_t in_tp, uint8_t out_tp)
{
	if (in_tp == SFP_TP_UDP && out_tp == SFP_TP_UDP) {
		px_putf(w, "Record-Route: <sip:%s:%u;lr>\r\n", px_e.lcfg->addr, px_e.lcfg->sip_port);
		return;
	}
	uint8_t tps[2] = { out_tp, in_tp };
	for (unsigned i = 0; i < 2; i++)
		px_putf(w, "Record-Route: <sip:%s:%u%s;lr>\r\n", px_e.lcfg->addr, px_tp_port(tps[i]),
			px_tp_param(tps[i]));
}

static size_t fwd_request(char *out, size_t cap, const struct sfp_sip_meta *mt, const char *p,
			  const struct sfp_sip *m, struct sfp_str ruri, const char *branch,
			  bool record_route, bool pop_route, bool strip_pauthz, struct sfp_str body,
			  uint8_t out_tp)
{
	struct sfp_wbuf w = { out, 0, cap, false };
	sfp_putstr(&w, m->method_name);
	sfp_put(&w, " ", 1);
	sfp_putstr(&w, ruri);
	sfp_puts(&w, " SIP/2.0\r\n");
	px_put_via(&w, out_tp, branch);
	if (record_route)
		put_record_route(&w, mt->transport, out_tp);
	bool vias_done = false, mf_done = false, route_popped = !pop_route;
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h)) {
		if (px_name_is(h.name, "via", 'v')) {
			if (vias_done)
				continue;
			vias_done = true;
			sfp_put_vias(&w, m, mt->src_ip, mt->src_port);
		} else if (px_name_is(h.name, "max-forwards", 0)) {
			mf_done = true;
			px_putf(&w, "Max-Forwards: %d\r\n", m->max_forwards > 0 ? m->max_forwards - 1 : 0);
		} else if ((strip_pauthz && px_name_is(h.name, "proxy-authorization", 0)) ||
			   is_content_length(h.name)) {
			continue;
		} else if (px_name_is(h.name, "contact", 'm') && put_nated_contact(&w, &h, mt)) {
			continue;
		} else if (!route_popped && px_name_is(h.name, "route", 0)) {
			/* 16.4: our entry goes; both, when we double
			 * record-routed (RFC 5658) */
			struct sfp_str rest = h.value;
			unsigned popped = 0;
			while (rest.n && popped < 2) {
				struct sfp_str r2, v = px_first_value(rest, &r2);
				struct sfp_str u = px_addr_uri(v, NULL);
				struct sfp_uri_parts up;
				if (!u.p || sfp_uri_parse(u, &up) < 0 || !px_uri_is_us(&up))
					break;
				popped++;
				rest = r2;
			}
			route_popped = popped == 2 || rest.n;
			if (!popped) {
				route_popped = true;
				sfp_put(&w, h.start, (size_t)(h.end - h.start));
			} else if (rest.n) {
				sfp_puts(&w, "Route: ");
				sfp_putstr(&w, rest);
				sfp_puts(&w, "\r\n");
			}
		} else {
			sfp_put(&w, h.start, (size_t)(h.end - h.start));
		}
	}
	if (!mf_done)
		sfp_puts(&w, "Max-Forwards: 70\r\n");
	px_put_body(&w, body);
	return w.full ? 0 : w.n;
}

char px_obuf[MSG_MAX + 1];
static char sdp_buf[16384]; /* an SDP body rewritten for media anchoring */

/* the body message m is to carry on: its SDP rewritten when media is
 * anchored.  A response whose SDP we cannot read goes on as it came. */
static struct sfp_str out_body(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct sfp_str body;
	if (md_message(mt, p, m, false, sdp_buf, sizeof(sdp_buf), &body) != MD_OK)
		body = m->body;
	return body;
}

/* the caller has had the best final of t's INVITE (px_group_settle) */
void px_settled(struct itx *t, struct itx *best, unsigned n)
{
	if (t->b2b) {
		b2b_settled(t, best);
		return;
	}
	if (t->reinvite) {
		px_e.log("re-INVITE in call %s: %u %s", t->call_id, best->final, best->reason);
		return;
	}
	px_dlg_drop_early(t->call_id, NULL);
	if (best->final == 408 && !best->resp)
		px_cnt.calls_408++;
	if (!t->caller_cancel)
		px_cnt.calls_failed++;
	px_e.log("call %s -> %s failed: %u %s%s", t->caller, t->callee, best->final, best->reason,
		 n > 1 ? " (the best of the branches' answers)" : "");
}

/* the response as relayed upstream (16.7 step 9): our Via removed; in
 * px_obuf, 0 when it does not fit */
static size_t relay_form(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			 struct sfp_str body)
{
	struct sfp_wbuf w = { px_obuf, 0, sizeof(px_obuf), false };
	size_t off = px_first_line_end(p, m->msg_len);
	sfp_put(&w, p, off);
	bool popped = false;
	struct px_rawh h;
	while (px_hdr_next(p, m->msg_len, &off, &h)) {
		if (!popped && px_name_is(h.name, "via", 'v')) {
			popped = true;
			struct sfp_str rest;
			px_first_value(h.value, &rest);
			if (rest.n) {
				sfp_puts(&w, "Via: ");
				sfp_putstr(&w, rest);
				sfp_puts(&w, "\r\n");
			}
			continue;
		}
		if (is_content_length(h.name) ||
		    (px_name_is(h.name, "contact", 'm') && put_nated_contact(&w, &h, mt)))
			continue;
		sfp_put(&w, h.start, (size_t)(h.end - h.start));
	}
	px_put_body(&w, body);
	return w.full ? 0 : w.n;
}

/* t's final error response from px_obuf[0..n), kept until every branch has
 * ended; a 503 becomes 500 (16.7 step 6: the caller would take it for
 * ours and stop using us) */
static void keep_final(struct itx *t, size_t n, uint32_t ip, uint16_t port)
{
	static const char l500[] = "SIP/2.0 500 Server Internal Error\r\n";
	bool was503 = t->final == 503;
	if (was503) { /* also when the copy below fails: send_final answers 500 then */
		t->final = 500;
		snprintf(t->reason, sizeof(t->reason), "Server Internal Error");
	}
	size_t eol = px_first_line_end(px_obuf, n), head = was503 ? sizeof(l500) - 1 : eol;
	char *r = malloc(head + n - eol);
	if (!r)
		return; /* answered from the transaction instead */
	memcpy(r, was503 ? l500 : px_obuf, head);
	memcpy(r + head, px_obuf + eol, n - eol);
	t->resp = r;
	t->resp_len = (uint32_t)(head + n - eol);
	t->resp_ip = ip;
	t->resp_port = port;
}

/* 16.5, 16.6: the contacts an INVITE to callee goes to, one branch each,
 * all at once; the freshest MAX_FORK when there are more.  Branch k of the
 * INVITE is our branch derived from the caller's, with suffix .k */
static unsigned branches(const char *callee, uint64_t now, struct binding *bs[MAX_FORK])
{
	unsigned nb = 0;
	FOR_AOR(i, callee) {
		struct binding *b = &px_binds[i];
		if (b->b.expires_ms <= now)
			continue;
		/* bound over a connection that is gone: nothing reaches the
		 * phone until it connects and registers again (RFC 5626 4.2) */
		if (b->b.transport != SFP_TP_UDP && px_out_tp(b->b.ip, b->b.port) != b->b.transport) {
			char ipb[16];
			px_e.log("%s: contact %s registered over %s from %s:%u, that connection is gone", callee,
				 b->b.contact, px_tp_name(b->b.transport), px_ipstr(b->b.ip, ipb), b->b.port);
			continue;
		}
		unsigned j = nb < MAX_FORK ? nb++ : MAX_FORK;
		for (; j > 0 && bs[j - 1]->b.expires_ms < b->b.expires_ms; j--)
			if (j < MAX_FORK)
				bs[j] = bs[j - 1];
		if (j < MAX_FORK)
			bs[j] = b;
	}
	return nb;
}

/* an authenticated INVITE for one of our users (16.5): the contacts it
 * goes to (at most MAX_FORK, the freshest first) and the body they get (its
 * SDP anchored, media.h); 0 once the caller has been answered (403, 404,
 * 480, 488, 503) */
unsigned px_invite_targets(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m,
			   char callee[64], struct binding *bs[MAX_FORK], struct sfp_str *bodyp)
{
	px_cnt.calls_attempted++;
	px_cstr(callee, 64, m->ruri_parts.user);
	if (!px_uri_is_us(&m->ruri_parts) || !m->ruri_parts.user.n) {
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 403, "Relaying Not Allowed", NULL);
		return 0;
	}
	if (!px_user_known(callee)) {
		px_cnt.calls_404++;
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 404, "Not Found", NULL);
		px_e.log("INVITE %s -> %s: no such user, 404", mt->user, callee);
		return 0;
	}
	unsigned nb = branches(callee, mt->rx_ms, bs);
	if (!nb) {
		/* registered through another node: reached through it, which
		 * holds the phone's NAT binding (several nodes, PostgreSQL) */
		static struct binding remote[MAX_FORK];
		char gone[48] = "";
		uint64_t age = 0;
		nb = px_remote_targets(callee, mt->rx_ms, remote, gone, &age);
		for (unsigned k = 0; k < nb; k++)
			bs[k] = &remote[k];
		if (!nb && gone[0])
			px_e.log("INVITE %s -> %s: registered through node %s, gone (last heard %lu s ago): 480 "
				 "until the phone registers again", mt->user, callee, gone, (unsigned long)(age / 1000));
	}
	if (!nb) {
		px_cnt.calls_480++;
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 480, "Temporarily Unavailable", NULL);
		px_e.log("INVITE %s -> %s: not registered, 480", mt->user, callee);
		return 0;
	}
	/* media anchored: the callee sees sipfp's address and ports */
	switch (md_message(mt, p, m, true, sdp_buf, sizeof(sdp_buf), bodyp)) {
	case MD_OK:
		break;
	case MD_NO_PORTS: {
		char ra[32];
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", px_e.lcfg->retry_after);
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 503, "Service Unavailable", ra);
		return 0;
	}
	case MD_BAD_SDP:
		px_cnt.calls_failed++;
		px_e.respond(mt, m, 488, "Not Acceptable Here", NULL);
		return 0;
	}
	return nb;
}

static void new_invite(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct itx *t;
	if (px_invite_again(m))
		return;
	char callee[64];
	struct binding *bs[MAX_FORK];
	struct sfp_str body;
	unsigned nb = px_invite_targets(mt, p, m, callee, bs, &body);
	if (!nb)
		return;
	/* our branches derive from the caller's (keyed, see branch_is_ours),
	 * one suffix per contact */
	char br0[48];
	px_make_branch(m->call_id, m->top_via.branch, "inv", br0);
	unsigned started = 0;
	bool too_big = false;
	for (unsigned k = 0; k < nb; k++) {
		char br[64];
		snprintf(br, sizeof(br), "%s.%u", br0, k);
		struct sfp_str ruri = { bs[k]->b.contact, strlen(bs[k]->b.contact) };
		uint32_t ip;
		uint16_t port;
		px_reach(&bs[k]->b, &ip, &port);
		uint8_t tp = px_target_tp(ip, port, ruri);
		size_t n = fwd_request(px_obuf, sizeof(px_obuf), mt, p, m, ruri, br, true, false, true, body, tp);
		if (!n) {
			too_big = true;
			continue;
		}
		if (!(t = px_itx_start(mt, p, m, br, px_obuf, n, ip, port, false)))
			break;
		snprintf(t->caller, sizeof(t->caller), "%s", mt->user);
		snprintf(t->callee, sizeof(t->callee), "%s", callee);
		px_send_tp(t->dst_ip, t->dst_port, tp, t->fwd, t->fwd_len);
		started++;
		char ipb[16];
		px_e.log("INVITE %s -> %s at %s:%u (%s)%s", t->caller, callee, px_ipstr(t->dst_ip, ipb),
		      t->dst_port, bs[k]->b.contact, nb > 1 ? ", forked" : "");
	}
	if (started)
		return;
	char cid[128];
	px_cstr(cid, sizeof(cid), m->call_id);
	md_end(cid, "not routed");
	px_cnt.calls_failed++;
	if (too_big) {
		px_e.respond(mt, m, 513, "Message Too Large", NULL);
		px_e.log("INVITE %s -> %s: too large to forward with our headers, 513", mt->user, callee);
	} else {
		/* 21.5.4: overloaded; the caller may try again (or elsewhere) */
		px_cnt.calls_503++;
		px_e.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
		px_e.log("INVITE %s -> %s: transaction table full (max_transactions %u), 503", mt->user,
		      callee, px_max_itx);
	}
}

/* an INVITE another node sends on for a phone registered here (its
 * Request-URI the phone's contact): proxied to where the phone
 * registered from, its NAT binding (record-routed; the body as it came:
 * the sending node anchors the media) */
static void peer_invite(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	struct itx *t;
	if (px_invite_again(m))
		return;
	char c[256], ipb[16];
	px_cstr(c, sizeof(c), m->ruri);
	struct binding *b = px_bind_by_contact(c);
	if (!b || b->b.expires_ms <= mt->rx_ms) {
		px_cnt.calls_480++;
		px_e.respond(mt, m, 480, "Temporarily Unavailable", NULL);
		px_e.log("INVITE from node %s for %s: no such registration here, 480", px_ipstr(mt->src_ip, ipb), c);
		return;
	}
	char br0[48], br[64];
	px_make_branch(m->call_id, m->top_via.branch, "inv", br0);
	snprintf(br, sizeof(br), "%s.0", br0);
	uint32_t ip;
	uint16_t port;
	px_reach(&b->b, &ip, &port);
	size_t n = fwd_request(px_obuf, sizeof(px_obuf), mt, p, m, m->ruri, br, true, false, false, m->body,
			       px_out_tp(ip, port));
	if (!n || !(t = px_itx_start(mt, p, m, br, px_obuf, n, ip, port, false))) {
		px_e.respond(mt, m, 503, "Service Unavailable", "Retry-After: 5\r\n");
		return;
	}
	snprintf(t->caller, sizeof(t->caller), "node %s", px_ipstr(mt->src_ip, ipb));
	snprintf(t->callee, sizeof(t->callee), "%s", b->b.aor);
	px_e.send(ip, port, t->fwd, t->fwd_len);
	px_e.log("INVITE from node %s -> %s at %s:%u", ipb, b->b.aor, px_ipstr(ip, (char[16]){ 0 }), port);
}

static void cancel(const struct sfp_sip_meta *mt, const struct sfp_sip *m)
{
	struct itx *t = px_itx_by_in_branch(m->top_via.branch, m->call_id, false);
	if (!t) {
		/* an INVITE forwarded before this process restarted: its
		 * transaction is gone, but its branches were derived from the
		 * caller's, one per contact in freshness order, so each can be
		 * CANCELled as the lost transaction would have (16.10, 9.1: the
		 * INVITE's Request-URI, top Via, To and CSeq number).  Without
		 * a registered callee there is nothing it can have been */
		char callee[64], br0[48], via[160];
		struct binding *bs[MAX_FORK];
		if (px_e.b2bua) { /* b2bua: the callee's INVITE was ours, and is gone with its call */
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
			return;
		}
		px_cstr(callee, sizeof(callee), m->ruri_parts.user);
		unsigned nb = px_uri_is_us(&m->ruri_parts) ? branches(callee, mt->rx_ms, bs) : 0;
		if (!nb) {
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
			return;
		}
		px_e.respond(mt, m, 200, "OK", NULL);
		px_make_branch(m->call_id, m->top_via.branch, "inv", br0);
		for (unsigned k = 0; k < nb; k++) {
			uint32_t ip;
			uint16_t port;
			px_reach(&bs[k]->b, &ip, &port);
			uint8_t tp = px_out_tp(ip, port);
			snprintf(via, sizeof(via), "SIP/2.0/%s %s:%u;branch=%s.%u", px_tp_name(tp), px_e.lcfg->addr,
				 px_tp_port(tp), br0, k);
			px_send_sibling("CANCEL", (struct sfp_str){ bs[k]->b.contact, strlen(bs[k]->b.contact) },
					(struct sfp_str){ via, strlen(via) }, m->from, m->to, m->call_id,
					m->cseq_num, ip, port);
		}
		/* and the caller gets the INVITE's 487 now: a UAS may answer
		 * with the CANCEL's Via alone (ours), and then only the lost
		 * transaction knew where the caller was */
		struct sfp_wbuf w = { px_obuf, 0, sizeof(px_obuf), false };
		char tag[SFP_TAG_LEN];
		sfp_tag_make(&px_e.lcfg->keys, m->call_id, m->from_tag, m->top_via.branch, tag);
		sfp_puts(&w, "SIP/2.0 487 Request Terminated\r\n");
		sfp_put_vias(&w, m, mt->src_ip, mt->src_port);
		sfp_puts(&w, "From: ");
		sfp_putstr(&w, m->from);
		sfp_puts(&w, "\r\nTo: ");
		sfp_putstr(&w, m->to);
		px_putf(&w, ";tag=%.*s\r\nCall-ID: ", SFP_TAG_LEN, tag);
		sfp_putstr(&w, m->call_id);
		px_putf(&w, "\r\nCSeq: %u INVITE\r\nContent-Length: 0\r\n\r\n", m->cseq_num);
		uint16_t rport;
		sfp_reply_dest(m, mt->src_port, &rport);
		if (!w.full)
			px_e.send(mt->src_ip, rport, px_obuf, (uint32_t)w.n);
		px_cnt.calls_cancelled++;
		px_e.log("CANCEL %s -> %s of an INVITE from before a restart: %u branch(es), 487", mt->user,
			 callee, nb);
		return;
	}
	/* 16.10: answer the CANCEL, then cancel every pending branch */
	px_e.respond(mt, m, 200, "OK", NULL);
	if (t->upstream_final || t->caller_cancel)
		return; /* too late (the final is on its way), or said already */
	FOR_GROUP(s, t) {
		s->caller_cancel = true;
		px_branch_cancel(s);
	}
	px_cnt.calls_cancelled++;
	px_e.log("CANCEL %s -> %s", t->caller, t->callee);
}

/* route a request by Route / Request-URI (16.12) */
static void in_dialog(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	bool nict = m->method != SFP_M_ACK && m->method != SFP_M_INVITE;
	if (nict) {
		/* 17.2.2: a retransmission of a request we are working on is
		 * answered from its transaction, not forwarded again */
		struct itx *t = px_itx_by_in_branch(m->top_via.branch, m->call_id, true);
		if (t) {
			px_cnt.req_absorbed++;
			if (t->resp)
				px_e.send(t->resp_ip, t->resp_port, t->resp, t->resp_len);
			return;
		}
	} else {
		/* a re-INVITE retransmitted (17.2.1), or the ACK to an error
		 * we relayed: that ends at us (17.1.1.3: we sent our own ACK
		 * to the callee already) */
		struct itx *t = px_itx_by_in_branch(m->top_via.branch, m->call_id, false);
		if (t && m->method == SFP_M_INVITE) {
			px_cnt.req_absorbed++;
			if (!t->upstream_final)
				px_e.respond(mt, m, 100, "Trying", NULL);
			struct itx *best = px_group_best(t);
			if (best)
				px_send_final(best);
			return;
		}
		if (t && px_group_best(t)) {
			px_cnt.req_absorbed++;
			return;
		}
	}
	/* the first Route must be ours: we record-routed this dialog */
	struct sfp_str next_uri = m->ruri;
	bool ours = false, more = false;
	size_t off = px_first_line_end(p, m->msg_len);
	struct px_rawh h;
	unsigned skipped = 0;
	bool done = false;
	while (!done && px_hdr_next(p, m->msg_len, &off, &h)) {
		if (!px_name_is(h.name, "route", 0))
			continue;
		/* our entry, or our two (RFC 5658), then the next hop */
		for (struct sfp_str rest = h.value; rest.n && !done;) {
			struct sfp_str v = px_first_value(rest, &rest);
			struct sfp_str u = px_addr_uri(v, NULL);
			struct sfp_uri_parts up;
			bool us = u.p && sfp_uri_parse(u, &up) >= 0 && px_uri_is_us(&up);
			if (!skipped && !us) {
				done = true;
			} else if (us && skipped < 2) {
				ours = true;
				skipped++;
			} else {
				next_uri = u;
				more = true;
				done = true;
			}
		}
	}
	if (!ours) {
		px_cnt.indialog_bad++;
		if (m->method != SFP_M_ACK)
			px_e.respond(mt, m, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	struct sfp_uri_parts up;
	uint32_t ip;
	if (!next_uri.p || sfp_uri_parse(next_uri, &up) < 0 || !px_ip4(up.host, &ip)) {
		px_cnt.no_route++;
		if (m->method != SFP_M_ACK)
			px_e.respond(mt, m, 404, "Not Found", NULL);
		return;
	}
	uint16_t port = up.port ? up.port : 5060;
	/* RFC 3581 spirit: a registered contact is reached where it registered from */
	if (!more) {
		char c[256];
		px_cstr(c, sizeof(c), m->ruri);
		const struct binding *b = px_bind_by_contact(c);
		if (b)
			px_reach(&b->b, &ip, &port);
	}
	char br[48];
	px_make_branch(m->call_id, m->top_via.branch, m->method == SFP_M_ACK ? "ack" : "dlg", br);
	struct sfp_str body;
	switch (md_message(mt, p, m, false, sdp_buf, sizeof(sdp_buf), &body)) {
	case MD_OK:
		break;
	case MD_NO_PORTS:
	case MD_BAD_SDP:
		if (m->method != SFP_M_ACK)
			px_e.respond(mt, m, 488, "Not Acceptable Here", NULL);
		return;
	}
	uint8_t tp = px_target_tp(ip, port, next_uri);
	size_t n = fwd_request(px_obuf, sizeof(px_obuf), mt, p, m, m->ruri, br, false, true, false, body, tp);
	if (!n)
		return;
	px_cnt.indialog_routed++;
	struct store_dialog *d = px_dlg_find(m->call_id, m->from_tag, m->to_tag);
	/* a client transaction of its own (17.1.1 for a re-INVITE, 17.1.2);
	 * without a free slot it goes out statelessly all the same (16.11) */
	if (m->method != SFP_M_ACK) {
		struct itx *t = px_itx_start(mt, p, m, br, px_obuf, n, ip, port, nict);
		if (!t) {
			px_cnt.nict_untracked++;
		} else if (!nict) {
			t->reinvite = true;
			if (d) {
				snprintf(t->caller, sizeof(t->caller), "%s", d->caller);
				snprintf(t->callee, sizeof(t->callee), "%s", d->callee);
			}
			/* 16.2: a stateful proxy answers an INVITE with 100 itself */
			px_e.respond(mt, m, 100, "Trying", NULL);
		}
	}
	px_send_tp(ip, port, tp, px_obuf, (uint32_t)n);
	if (d && m->method == SFP_M_ACK && d->state == PX_DLG_EARLY) {
		d->state = PX_DLG_CONFIRMED;
		store_dialog_put(px_e.db, d);
	} else if (d && m->method == SFP_M_BYE && d->state != PX_DLG_ENDING) {
		d->state = PX_DLG_ENDING;
		store_dialog_put(px_e.db, d);
	}
}

static void request(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	if ((mt->flags & SFP_RXF_PEER) && m->method == SFP_M_INVITE && !m->to_tag.p) {
		peer_invite(mt, p, m);
		return;
	}
	if (px_e.b2bua && b2b_request(mt, p, m))
		return;
	bool auth = mt->flags & SFP_RXF_AUTH_OK;
	if (m->to_tag.p) {
		in_dialog(mt, p, m);
	} else if (m->method == SFP_M_REGISTER && auth) {
		px_registrar(mt, p, m);
	} else if (m->method == SFP_M_INVITE && auth) {
		new_invite(mt, p, m);
	} else if (m->method == SFP_M_CANCEL) {
		cancel(mt, m);
	} else if (m->method == SFP_M_ACK) {
		px_cnt.indialog_bad++; /* an ACK with no To-tag matches nothing of ours */
	} else {
		px_e.respond(mt, m, 501, "Not Implemented", NULL);
	}
}

/* the dialog a tagged response to t's INVITE belongs to, made if new */
static struct store_dialog *dlg_get(const struct itx *t, const struct sfp_sip *m, uint64_t now)
{
	struct store_dialog *d = px_dlg_find(m->call_id, m->from_tag, m->to_tag), nd;
	if (d)
		return d;
	memset(&nd, 0, sizeof(nd));
	px_cstr(nd.call_id, sizeof(nd.call_id), m->call_id);
	px_cstr(nd.from_tag, sizeof(nd.from_tag), m->from_tag);
	px_cstr(nd.to_tag, sizeof(nd.to_tag), m->to_tag);
	snprintf(nd.caller, sizeof(nd.caller), "%s", t->caller);
	snprintf(nd.callee, sizeof(nd.callee), "%s", t->callee);
	nd.state = PX_DLG_EARLY;
	nd.created_ms = now;
	return px_dlg_add(&nd);
}

/* ---- responses --------------------------------------------------------------- */

/* our branches are keyed on the caller's (px_make_branch), plus ".k" for
 * the k-th branch of a forked INVITE */
static bool branch_is_ours(const struct sfp_sip *m)
{
	struct sfp_via v1;
	char br[48];
	if (m->n_via < 2 || sfp_via_parse(m->via[1], &v1) < 0)
		return false;
	struct sfp_str b = m->top_via.branch;
	px_make_branch(m->call_id, v1.branch, "dlg", br);
	if (px_str_is(b, br))
		return true;
	while (b.n && b.p[b.n - 1] >= '0' && b.p[b.n - 1] <= '9')
		b.n--;
	if (!b.n || b.p[b.n - 1] != '.')
		return false;
	b.n--;
	px_make_branch(m->call_id, v1.branch, "inv", br);
	return px_str_is(b, br);
}

static void response(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	const struct sfp_via *v = &m->top_via;
	char host[64];
	if (!m->top_via_ok) {
		px_cnt.resp_stray++;
		return;
	}
	px_cstr(host, sizeof(host), v->host);
	if (strcmp(host, px_e.lcfg->addr) || !px_port_is_ours(v->port ? v->port : 5060) ||
	    v->branch.n < strlen(OUR_BRANCH) || memcmp(v->branch.p, OUR_BRANCH, strlen(OUR_BRANCH))) {
		px_cnt.resp_stray++; /* 18.1.2: not a Via of ours on top */
		return;
	}
	bool invite = px_str_is(m->cseq_method, "INVITE");
	/* a CANCEL of ours carries its INVITE's branch: not its transaction */
	struct itx *t = px_str_is(m->cseq_method, "CANCEL") ? NULL : px_itx_by_branch(v->branch);
	struct itx *nt = t && t->non_invite && !invite ? t : NULL;
	if (t && t->non_invite == invite)
		t = NULL;
	if (nt) {
		t = NULL;
		if (m->status < 200) {
			if (nt->state == ITX_CALLING)
				nt->state = ITX_PROCEEDING; /* E now fires every T2 */
			if (m->status == 100)
				return;
		} else if (nt->state == ITX_COMPLETED) {
			px_cnt.req_absorbed++; /* the far end retransmitted its final */
			return;
		} else {
			nt->state = ITX_COMPLETED;
			nt->t_end = mt->rx_ms + T4_MS;
			if (!nt->b2b) /* the back-to-back mode answers from the request: it trims */
				px_itx_trim(nt);
		}
	}
	if (nt && nt->b2b) {
		b2b_response(nt, mt, p, m);
		return;
	}
	if (nt && nt->own)
		return; /* the answer to a BYE of our own: ends here */
	if (t && t->b2b) {
		b2b_response(t, mt, p, m);
		return;
	}
	if (t) {
		enum px_ict_ev ev = px_ict_take(t, m, mt->rx_ms);
		if (ev == PX_ICT_1XX) {
			/* hop by hop: the caller had our 100; nothing after its final */
			if (m->status == 100 || t->upstream_final)
				return;
			if (m->to_tag.p && !t->reinvite) {
				dlg_get(t, m, mt->rx_ms); /* early dialog (12.1) */
				px_cstr(t->early_tag, sizeof(t->early_tag), m->to_tag);
			}
		} else if (ev == PX_ICT_2XX) {
			if (!t->upstream_final) {
				/* 16.7 step 10: the other branches are no use now */
				FOR_GROUP(s, t) {
					s->upstream_final = true;
					if (s != t)
						px_branch_cancel(s);
				}
				if (!t->reinvite) {
					px_cnt.calls_answered++;
					px_e.log("call %s -> %s answered", t->caller, t->callee);
				}
			}
			/* a 2xx makes the dialog (12.1); the ACK is end to end,
			 * and so are the 2xx's retransmissions: relayed without
			 * the transaction (they carry a branch of ours, see
			 * branch_is_ours) */
			struct store_dialog *d = t->reinvite ? NULL : dlg_get(t, m, mt->rx_ms);
			if (d) {
				d->state = PX_DLG_CONFIRMED;
				store_dialog_put(px_e.db, d);
			}
		} else if (ev == PX_ICT_AGAIN) {
			px_cnt.req_absorbed++;
			return;
		} else {
			/* the error goes to the caller once every branch has
			 * ended (16.7 step 6).  Without a next Via (a UAS that
			 * answered with our CANCEL's Via stack), the caller is
			 * answered from the transaction rather than not at all */
			uint32_t ip;
			uint16_t port;
			size_t n;
			if (m->n_via >= 2 && px_via_dest(m->via[1], &ip, &port) &&
			    (n = relay_form(mt, p, m, out_body(mt, p, m))))
				keep_final(t, n, ip, port);
			if (m->status >= 600) /* 16.7 step 5: no other answer will do */
				FOR_GROUP(s, t)
					px_branch_cancel(s);
			px_group_settle(t);
			return;
		}
	} else if (px_str_is(m->cseq_method, "BYE") && m->status >= 200) {
		struct store_dialog *d = px_dlg_find(m->call_id, m->from_tag, m->to_tag);
		if (d) {
			px_cnt.dialogs_ended++;
			px_e.log("call %s -> %s ended", d->caller, d->callee);
			px_dlg_remove(d);
		}
	} else if (px_str_is(m->cseq_method, "CANCEL")) {
		return; /* the answer to our own CANCEL (16.10): ends here */
	}
	if (!t && !nt && invite && m->status >= 300) {
		/* the INVITE's transaction was lost (a restart of this
		 * process): ACK the error hop by hop as it would have
		 * (17.1.1.3).  Its Request-URI is not known any more; the To
		 * URI stands for it (a UAS matches the ACK by branch, 17.2.3) */
		px_send_sibling("ACK", px_addr_uri(m->to, NULL), m->via[0], m->from, m->to, m->call_id,
				m->cseq_num, mt->src_ip, mt->src_port);
	}
	/* 16.7 step 3: 100 Trying is hop by hop, never forwarded: without a
	 * transaction (after a restart of this process the callee's answer to
	 * a retransmitted INVITE may be one) it stops here too */
	if (m->status == 100)
		return;
	if (!t && !nt && px_e.b2bua && b2b_stray_response(mt, m))
		return;
	if (!t && !nt && !branch_is_ours(m)) {
		/* 16.7 step 1 relays a response with no transaction (a 2xx
		 * retransmitted after it ended); but only one to a request
		 * we forwarded: our branch is keyed on the next Via's, so a
		 * forged one cannot make us reflect it to any address */
		px_cnt.resp_stray++;
		return;
	}
	/* 16.7: relay with our Via removed, to where the next Via says */
	uint32_t ip;
	uint16_t port;
	size_t n;
	if (m->n_via < 2 || !px_via_dest(m->via[1], &ip, &port)) {
		px_cnt.resp_stray++;
		return;
	}
	if (invite && m->status >= 200 && m->status < 300)
		md_confirm(m->call_id, mt->rx_ms);
	if (!(n = relay_form(mt, p, m, out_body(mt, p, m))))
		return;
	px_cnt.resp_relayed++;
	px_e.send(ip, port, px_obuf, (uint32_t)n);
	if (nt && m->status >= 200 && !nt->resp && (nt->resp = malloc(n))) {
		memcpy(nt->resp, px_obuf, n);
		nt->resp_len = (uint32_t)n;
		nt->resp_ip = ip;
		nt->resp_port = port;
	}
}

/* a BYE of ours to one side: From is the other side's identity, To this
 * side's (12.2.1.1: in its dialog, as seen from the other end) */
static void own_bye(const char *call_id, const struct px_leg *to, const struct px_leg *from,
		    unsigned k, uint64_t now)
{
	struct sfp_wbuf w = { px_obuf, 0, sizeof(px_obuf), false };
	char br[64];
	px_make_branch((struct sfp_str){ call_id, strlen(call_id) }, (struct sfp_str){ to->id, strlen(to->id) },
		       k ? "bye1" : "bye0", br);
	px_putf(&w, "BYE %s SIP/2.0\r\n", to->target);
	px_put_via(&w, px_out_tp(to->ip, to->port), br);
	px_putf(&w, "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u BYE\r\n",
		from->id, to->id, call_id, from->cseq + 1);
	px_putf(&w, "Reason: SIP;cause=408;text=\"no media\"\r\n");
	px_put_body(&w, (struct sfp_str){ NULL, 0 });
	if (w.full)
		return;
	struct itx *t = px_itx_alloc();
	if (!t || !(t->fwd = malloc(w.n))) {
		if (t)
			px_itx_free(t);
		px_e.send(to->ip, to->port, px_obuf, (uint32_t)w.n); /* untracked, but sent */
		return;
	}
	memcpy(t->fwd, px_obuf, w.n);
	t->fwd_len = (uint32_t)w.n;
	t->own = true;
	t->non_invite = true;
	snprintf(t->branch, sizeof(t->branch), "%s", br);
	snprintf(t->call_id, sizeof(t->call_id), "%s", call_id);
	t->dst_ip = to->ip;
	t->dst_port = to->port;
	t->state = ITX_CALLING;
	px_itx_index(t);
	t->a_int = px_e.t1_ms;
	t->t_a = now + t->a_int;
	t->t_b = now + 64ull * px_e.t1_ms;
	px_cnt.own_bye++;
	px_e.send(to->ip, to->port, t->fwd, t->fwd_len);
}

void px_end_call(const char *call_id, const char *a_tag, const char *b_tag,
		 const struct px_leg *a, const struct px_leg *b, uint64_t now)
{
	if (px_e.b2bua && b2b_end_by_key(call_id, "no media", now))
		return;
	if (a->known && b->known) {
		own_bye(call_id, b, a, 0, now);
		own_bye(call_id, a, b, 1, now);
	}
	struct store_dialog *d = px_dlg_find((struct sfp_str){ call_id, strlen(call_id) },
					     (struct sfp_str){ a_tag, strlen(a_tag) },
					     (struct sfp_str){ b_tag, strlen(b_tag) });
	if (d) {
		px_cnt.dialogs_ended++;
		px_dlg_remove(d);
	}
}

void px_rx(const struct sfp_sip_meta *mt, const char *p, const struct sfp_sip *m)
{
	if (m->request)
		request(mt, p, m);
	else
		response(mt, p, m);
}

/* ---- timers ----------------------------------------------------------------- */

/* 17.1.2.2: E retransmits, doubling up to T2 (at T2 once a provisional
 * came); F gives up: the sender gets 408 (16.7 step 6: as if the far end
 * had sent it), and a BYE's dialog is over anyway (15.1.1) */
static void nict_timers(struct itx *t, uint64_t now)
{
	if (now >= t->t_b) {
		px_cnt.nict_timeout++;
		px_itx_reply_caller(t, 408, "Request Timeout");
		if (t->b2b) {
			b2b_nict_timeout(t);
			px_itx_free(t);
			return;
		}
		struct sfp_sip o;
		if (t->own)
			px_e.log("BYE of ours in call %s: no answer from %s", t->call_id,
				 px_ipstr(t->dst_ip, (char[16]){ 0 }));
		else if (sfp_scan(t->orig, t->orig_len, &o) == SFP_SE_OK) {
			px_e.log("%.*s in call %s: no answer from %s, 408", (int)o.method_name.n,
			      o.method_name.p, t->call_id, px_ipstr(t->dst_ip, (char[16]){ 0 }));
			struct store_dialog *d;
			if (o.method == SFP_M_BYE && (d = px_dlg_find(o.call_id, o.from_tag, o.to_tag))) {
				px_cnt.dialogs_ended++;
				px_dlg_remove(d);
			}
		}
		px_itx_free(t);
	} else if (now >= t->t_a) {
		px_cnt.nict_retrans++;
		if (!px_reliable(t->fwd, t->fwd_len))
			px_e.send(t->dst_ip, t->dst_port, t->fwd, t->fwd_len);
		if (t->state == ITX_PROCEEDING || t->a_int * 2 > T2_MS)
			t->a_int = T2_MS;
		else
			t->a_int *= 2;
		t->t_a = now + t->a_int;
	}
}

void px_tick(uint64_t now)
{
	/* timers need no finer grain than 10 ms (T1 is hundreds): the
	 * transaction table is not walked at every poll of the rings */
	static uint64_t last_walk;
	if (now - last_walk < 10)
		return;
	last_walk = now;
	/* a freed transaction's place is taken by the last one: look at
	 * the same place again */
	for (uint32_t k = 0; k < px_n_itx_live;) {
		struct itx *t = &px_itx[px_itx_live[k]];
		switch (t->state) {
		case ITX_FREE:
			break;
		case ITX_CALLING:
		case ITX_PROCEEDING:
			if (t->non_invite) {
				nict_timers(t, now);
				break;
			}
			if (t->state == ITX_PROCEEDING) {
				if (now >= t->t_c) {
					/* timer C (16.6 step 11): ringing too long */
					px_itx_send_sibling(t, "CANCEL", (struct sfp_str){ NULL, 0 });
					t->cancelled = true;
					px_branch_timeout(t, "not answered in time (timer C), CANCEL sent", now);
				}
				break;
			}
			if (now >= t->t_b) {
				px_branch_timeout(t, "no answer (timer B)", now);
			} else if (now >= t->t_a) {
				/* timer A: UDP, retransmit, doubling (over TCP/TLS
				 * only timer B runs, 17.1.1.2) */
				if (!px_reliable(t->fwd, t->fwd_len)) {
					px_cnt.invite_retrans++;
					px_e.send(t->dst_ip, t->dst_port, t->fwd, t->fwd_len);
				}
				t->a_int *= 2;
				t->t_a = now + t->a_int;
			}
			break;
		case ITX_COMPLETED:
			/* a branch's final is kept until the caller has had
			 * the best of them (16.7 step 6) */
			if (now >= t->t_end && (t->non_invite || t->upstream_final))
				px_itx_free(t);
			break;
		}
		if (t->state != ITX_FREE)
			k++;
	}
	if (px_e.b2bua)
		b2b_tick(now);
	static uint64_t last;
	if (now - last < 1000)
		return;
	last = now;
	px_registrar_tick(now);
	px_dlg_tick(now);
	md_tick(now);
}

/* the power of two at or above n (bucket counts) */
uint32_t px_pow2(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 31))
		p <<= 1;
	return p;
}

int px_init(const struct px_env *env)
{
	uint64_t k[2];
	px_e = *env;
	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		return -1;
	hidx_seed(k[0], k[1]);
	if (px_itx_init(px_e.max_itx) || px_dlg_init(px_e.max_dialogs) || px_reg_init() || md_init() ||
	    (px_e.b2bua && b2b_init()))
		return -1;
	return 0;
}
