/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP over TCP and TLS in the control process (RFC 3261 18, 26.2; RFC 5626
 * keep-alives; RFC 5923's connection reuse).
 *
 * The kernel of the data plane's exception namespace runs TCP; this module
 * owns the sockets there: listeners on sip_port (TCP) and tls_port (TLS),
 * the accepted connections and the ones sipfp dials, TLS on them (OpenSSL
 * 3), framing (sip_stream.h) and the limits that keep one source from
 * holding them all.  It is driven from the control process's main loop
 * (tp_fd in its poll set, tp_poll when it is readable and at every turn):
 * one thread, no locks, non-blocking sockets throughout.
 *
 * A connection is known by its peer's address and port: a response goes
 * back down the connection its request came on (18.2.2), a request for a
 * user registered over a connection goes down that one (the NAT binding
 * the connection is; RFC 5626's flow, RFC 5923's alias).
 */
#ifndef SFP_TRANSPORT_H
#define SFP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_cfg {
	char netns[64];                /* the exception namespace ("": this one) */
	uint16_t sip_port, tls_port;
	const char *tls_cert, *tls_key, *tls_ca, *tls_ciphers, *tls_min_version;
	bool tls_verify_client;
	uint32_t max_conns, max_per_source;
	uint32_t idle_timeout_ms, header_timeout_ms, max_msg;
	uint32_t tls_hs_per_source;    /* per second, 0: no limit */
};

/* who sent a message */
struct tp_peer {
	uint32_t ip;                   /* network byte order */
	uint16_t port;
	uint8_t transport;             /* enum sfp_transport */
};

struct tp_ops {
	/* one complete SIP message (Content-Length bytes of body included) */
	void (*message)(const struct tp_peer *from, const char *p, size_t len);
	/* a message that cannot be framed: answer it (code 400 or 513) down
	 * the connection with tp_send, which is closed after */
	void (*frame_error)(const struct tp_peer *from, const char *hdr, size_t len, int code,
			    const char *reason);
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
	/* a connection sipfp dialled failed (connect, handshake, certificate)
	 * before what was queued on it went out */
	void (*dial_failed)(uint32_t ip, uint16_t port);
};

#define TP_COUNTERS(_) \
	_(tcp_accepted,       "TCP connections accepted") \
	_(tls_accepted,       "TLS connections accepted (handshake done)") \
	_(dialed,             "connections sipfp opened itself") \
	_(dial_failed,        "connections sipfp could not open or verify") \
	_(closed_by_peer,     "connections the peer closed") \
	_(refused_max,        "connections refused: tcp_max_conns held") \
	_(refused_source,     "connections refused: the source holds tcp_max_per_source") \
	_(refused_hs_rate,    "TLS connections refused: over tls_handshakes_per_source") \
	_(tls_failed,         "TLS handshakes failed (version, cipher, certificate)") \
	_(idle_closed,        "connections closed: silent for tcp_idle_timeout_s") \
	_(slow_closed,        "connections closed: a message not complete within tcp_header_timeout_ms (slowloris)") \
	_(frame_400,          "messages without a readable Content-Length: 400 and closed (18.3)") \
	_(frame_513,          "messages over tcp_max_msg: 513 and closed") \
	_(tx_overflow,        "connections closed: the peer did not read what sipfp sent (1 MB pending)") \
	_(msgs_in,            "SIP messages received on connections") \
	_(msgs_out,           "SIP messages sent on connections") \
	_(pings,              "CRLF keep-alive pings answered (RFC 5626 4.4.1)") \
	_(no_conn,            "messages for a connection that is gone: dropped")

struct tp_counters {
#define TP_F(n, h) uint64_t n;
	TP_COUNTERS(TP_F)
#undef TP_F
};
extern struct tp_counters tp_cnt;

/* what `sipfpctl conn list` shows */
struct tp_info {
	uint32_t ip;
	uint16_t port;
	uint8_t transport;
	bool outbound;
	const char *tls_version, *tls_cipher; /* NULL for TCP */
	uint64_t age_ms, idle_ms;
	uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
	const char *user;                     /* registered on it, "" if none */
};

int tp_init(const struct tp_cfg *cfg, const struct tp_ops *ops, char *err, size_t errlen);
void tp_fini(void);
int tp_fd(void);
void tp_poll(uint64_t now_ms);
/* send on the connection to ip:port: 0, or -1 when there is none */
int tp_send(uint32_t ip, uint16_t port, const char *p, size_t len);
/* send to ip:port over transport (TCP or TLS), dialling when no connection
 * is there (TLS: the server's certificate verified against tls_ca or the
 * system store, and its name against host, or the IP address when host is
 * NULL).  0 queued, -1 cannot */
int tp_send_to(uint32_t ip, uint16_t port, uint8_t transport, const char *host, const char *p, size_t len);
/* the transport of the connection to ip:port, or -1 */
int tp_transport(uint32_t ip, uint16_t port);
/* the user registered over the connection (conn list) */
void tp_set_user(uint32_t ip, uint16_t port, const char *user);
unsigned tp_count(void);
/* what one connection slot costs, allocated at start for tcp_max_conns */
size_t tp_slot_bytes(void);
void tp_each(void (*cb)(void *ctx, const struct tp_info *i), void *ctx);

#endif
