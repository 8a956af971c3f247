/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP over TCP and TLS: connections, TLS, framing, limits (transport.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "hidx.h"
#include "sip_stream.h"
#include "sipfp/shm.h"
#include "transport.h"

#define TX_MAX     (1u << 20) /* bytes pending to a peer that does not read */
#define RX_FIRST   4096u
#define L_TCP      0xfffffff0u
#define L_TLS      0xfffffff1u
#define HS_SLOTS   1024u

enum st { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_DEAD };

struct conn {
	uint8_t state;             /* enum st */
	uint8_t transport;         /* SFP_TP_TCP / SFP_TP_TLS */
	bool outbound;
	bool close_after_flush;    /* a framing error was answered: close once sent */
	bool hdr_done;             /* the pending message's header section is complete */
	bool want_out;             /* EPOLLOUT armed */
	int fd;
	SSL *ssl;
	uint32_t ip;
	uint16_t port;
	uint64_t t_open, t_last, t_msg;
	char *rx;
	uint32_t rx_len, rx_cap;
	char *tx;
	uint32_t tx_len, tx_cap;
	uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
	char user[64];
	uint32_t next_free;
};

struct tp_counters tp_cnt;

static struct {
	struct tp_cfg cfg;
	struct tp_ops ops;
	int ep, l_tcp, l_tls, ns_fd, own_ns;
	SSL_CTX *srv, *cli;
	struct conn *c;
	uint32_t cap, n, free_head;
	struct hidx by_addr, by_ip;
	uint32_t *dead;            /* slots closed this turn, given back at its end */
	unsigned n_dead;
	uint64_t last_sweep, now;
	struct { uint32_t ip, sec, n; } hs[HS_SLOTS];
	uint64_t log_sec[8];
} T = { .ep = -1, .l_tcp = -1, .l_tls = -1, .ns_fd = -1, .own_ns = -1 };

#define LOG(...) T.ops.log(__VA_ARGS__)

/* at most one line a second per kind of refusal: a flood must not flood the log */
static bool log_ok(unsigned kind)
{
	uint64_t s = T.now / 1000;
	if (T.log_sec[kind] == s)
		return false;
	T.log_sec[kind] = s;
	return true;
}

static uint64_t key_addr(uint32_t ip, uint16_t port)
{
	uint64_t k = ((uint64_t)ip << 16) | port;
	return hidx_hash(&k, sizeof(k));
}

static uint64_t key_ip(uint32_t ip)
{
	return hidx_hash(&ip, sizeof(ip));
}

static const char *peer_str(const struct conn *c, char b[32])
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &c->ip, a, sizeof(a));
	snprintf(b, 32, "%s:%u", a, c->port);
	return b;
}

static const char *tp_name(uint8_t t)
{
	return t == SFP_TP_TLS ? "TLS" : "TCP";
}

/* ---- sockets in the exception namespace ------------------------------------------ */

/* a socket belongs to the namespace it was created in: switch there for
 * the call only, so the rest of the process (the store's connections)
 * stays where it is */
static int ns_socket(int type)
{
	if (T.ns_fd >= 0 && setns(T.ns_fd, CLONE_NEWNET))
		return -1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int e = errno;
	if (T.ns_fd >= 0 && setns(T.own_ns, CLONE_NEWNET)) {
		/* cannot happen with CAP_SYS_ADMIN; the process would open its
		 * store connections in the wrong place */
		LOG("transport: cannot return to the control process's network namespace: %s",
		    strerror(errno));
		abort();
	}
	errno = e;
	return fd;
}

static int listener(uint16_t port, char *err, size_t errlen)
{
	int fd = ns_socket(SOCK_STREAM), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024)) {
		snprintf(err, errlen, "transport: listening on TCP port %u in %s: %s", port,
			 T.cfg.netns[0] ? T.cfg.netns : "this namespace", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void ep_set(struct conn *c, bool add)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (c->want_out ? EPOLLOUT : 0),
				  .data.u64 = (uint64_t)(c - T.c) };
	(void)epoll_ctl(T.ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev);
}

static void want_out(struct conn *c, bool on)
{
	if (c->want_out == on)
		return;
	c->want_out = on;
	ep_set(c, false);
}

/* ---- TLS contexts ------------------------------------------------------------------ */

static int tls_version(const char *v)
{
	if (!strcasecmp(v, "TLSv1.2") || !strcmp(v, "1.2"))
		return TLS1_2_VERSION;
	if (!strcasecmp(v, "TLSv1.3") || !strcmp(v, "1.3"))
		return TLS1_3_VERSION;
	return -1;
}

static const char *ssl_err(void)
{
	static char b[256];
	unsigned long e = ERR_get_error();
	if (!e)
		return "no detail";
	ERR_error_string_n(e, b, sizeof(b));
	ERR_clear_error();
	return b;
}

static SSL_CTX *ctx_new(bool server, char *err, size_t errlen)
{
	SSL_CTX *x = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	int v = tls_version(T.cfg.tls_min_version);
	if (!x) {
		snprintf(err, errlen, "TLS: %s", ssl_err());
		return NULL;
	}
	/* RFC 8996: TLS 1.0 and 1.1 are deprecated; 1.2 at least */
	if (v < 0) {
		snprintf(err, errlen, "tls_min_version '%s': TLSv1.2 or TLSv1.3", T.cfg.tls_min_version);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(x, v);
	SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			    SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (T.cfg.tls_ciphers[0] && !SSL_CTX_set_cipher_list(x, T.cfg.tls_ciphers)) {
		snprintf(err, errlen, "tls_ciphers '%s': %s", T.cfg.tls_ciphers, ssl_err());
		goto fail;
	}
	if (T.cfg.tls_ca[0]) {
		if (!SSL_CTX_load_verify_locations(x, T.cfg.tls_ca, NULL)) {
			snprintf(err, errlen, "tls_ca %s: %s", T.cfg.tls_ca, ssl_err());
			goto fail;
		}
	} else if (!server) {
		SSL_CTX_set_default_verify_paths(x);
	}
	if (server) {
		if (SSL_CTX_use_certificate_chain_file(x, T.cfg.tls_cert) != 1) {
			snprintf(err, errlen, "tls_cert %s: %s", T.cfg.tls_cert, ssl_err());
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(x, T.cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(x) != 1) {
			snprintf(err, errlen, "tls_key %s: %s", T.cfg.tls_key, ssl_err());
			goto fail;
		}
		if (T.cfg.tls_verify_client) {
			if (!T.cfg.tls_ca[0]) {
				snprintf(err, errlen, "tls_verify_client needs tls_ca");
				goto fail;
			}
			SSL_CTX_set_verify(x, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		}
		/* no session tickets: no key to rotate; a phone reconnects rarely */
		SSL_CTX_set_num_tickets(x, 0);
	} else {
		SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
	}
	return x;
fail:
	SSL_CTX_free(x);
	return NULL;
}

/* ---- connections ------------------------------------------------------------------- */

static struct conn *find(uint32_t ip, uint16_t port)
{
	for (uint32_t i = hidx_first(&T.by_addr, key_addr(ip, port)); i != HIDX_NONE;
	     i = hidx_next(&T.by_addr, i))
		if (T.c[i].ip == ip && T.c[i].port == port && T.c[i].state != ST_DEAD)
			return &T.c[i];
	return NULL;
}

static unsigned from_source(uint32_t ip)
{
	unsigned k = 0;
	for (uint32_t i = hidx_first(&T.by_ip, key_ip(ip)); i != HIDX_NONE; i = hidx_next(&T.by_ip, i))
		k += T.c[i].ip == ip;
	return k;
}

static struct conn *conn_new(int fd, uint32_t ip, uint16_t port, uint8_t transport)
{
	if (T.free_head == HIDX_NONE)
		return NULL;
	uint32_t s = T.free_head;
	struct conn *c = &T.c[s];
	T.free_head = c->next_free;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->ip = ip;
	c->port = port;
	c->transport = transport;
	c->t_open = c->t_last = T.now;
	c->state = ST_OPEN;
	hidx_add(&T.by_addr, s, key_addr(ip, port));
	hidx_add(&T.by_ip, s, key_ip(ip));
	T.n++;
	ep_set(c, true);
	return c;
}

/* the slot is given back at the end of tp_poll: a message being handled
 * may still be reading its buffer */
static void conn_close(struct conn *c, const char *why)
{
	if (c->state == ST_DEAD || c->state == ST_FREE)
		return;
	if (why) {
		char b[32];
		LOG("transport: %s connection %s closed: %s", tp_name(c->transport), peer_str(c, b), why);
	}
	uint32_t s = (uint32_t)(c - T.c);
	(void)epoll_ctl(T.ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	hidx_del(&T.by_addr, s, key_addr(c->ip, c->port));
	hidx_del(&T.by_ip, s, key_ip(c->ip));
	c->state = ST_DEAD;
	T.n--;
	T.dead[T.n_dead++] = s; /* each slot dies once: cap entries suffice */
}

static void reclaim(void)
{
	for (unsigned i = 0; i < T.n_dead; i++) {
		struct conn *c = &T.c[T.dead[i]];
		free(c->rx);
		free(c->tx);
		memset(c, 0, sizeof(*c));
		c->state = ST_FREE;
		c->fd = -1;
		c->next_free = T.free_head;
		T.free_head = T.dead[i];
	}
	T.n_dead = 0;
}

/* ---- bytes in and out -------------------------------------------------------------- */

/* >0 bytes, 0 the peer closed, -1 nothing now, -2 an error */
static long c_read(struct conn *c, char *b, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, b, (int)n);
		if (r > 0)
			return r;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			return -1;
		case SSL_ERROR_WANT_WRITE:
			want_out(c, true);
			return -1;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		default:
			ERR_clear_error();
			return -2;
		}
	}
	ssize_t r = recv(c->fd, b, n, 0);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

/* >=0 bytes written, -1 nothing now, -2 an error */
static long c_write(struct conn *c, const char *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_write(c->ssl, p, (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return -1;
		ERR_clear_error();
		return -2;
	}
	ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

static void flush(struct conn *c)
{
	while (c->tx_len) {
		long w = c_write(c, c->tx, c->tx_len);
		if (w == -1) {
			want_out(c, true);
			return;
		}
		if (w < 0) {
			conn_close(c, "write failed");
			return;
		}
		c->bytes_out += (uint64_t)w;
		memmove(c->tx, c->tx + w, c->tx_len - (size_t)w);
		c->tx_len -= (uint32_t)w;
	}
	want_out(c, false);
	/* nothing pending: no buffer (an idle connection costs its slot) */
	if (c->tx) {
		free(c->tx);
		c->tx = NULL;
		c->tx_cap = 0;
	}
	if (c->close_after_flush)
		conn_close(c, NULL);
}

static int queue(struct conn *c, const char *p, size_t n)
{
	if (c->tx_len + n > TX_MAX) {
		tp_cnt.tx_overflow++;
		conn_close(c, "the peer does not read (1 MB pending)");
		return -1;
	}
	if (c->tx_len + n > c->tx_cap) {
		uint32_t cap = c->tx_cap ? c->tx_cap : RX_FIRST;
		while (cap < c->tx_len + n)
			cap *= 2;
		char *t = realloc(c->tx, cap);
		if (!t) {
			conn_close(c, "out of memory");
			return -1;
		}
		c->tx = t;
		c->tx_cap = cap;
	}
	memcpy(c->tx + c->tx_len, p, n);
	c->tx_len += (uint32_t)n;
	return 0;
}

static int conn_send(struct conn *c, const char *p, size_t n)
{
	/* straight out when nothing waits before it */
	if (c->state == ST_OPEN && !c->tx_len) {
		long w = c_write(c, p, n);
		if (w == -2) {
			conn_close(c, "write failed");
			return -1;
		}
		if (w > 0) {
			c->bytes_out += (uint64_t)w;
			p += w;
			n -= (size_t)w;
		}
		if (!n)
			return 0;
	}
	if (queue(c, p, n))
		return -1;
	if (c->state == ST_OPEN)
		want_out(c, true);
	return 0;
}

/* a SIP message on c (sent, or queued behind what waits), counted */
static int conn_send_msg(struct conn *c, const char *p, size_t n)
{
	if (conn_send(c, p, n))
		return -1;
	c->msgs_out++;
	tp_cnt.msgs_out++;
	return 0;
}

/* ---- framing ----------------------------------------------------------------------- */

static void consume(struct conn *c, size_t n)
{
	memmove(c->rx, c->rx + n, c->rx_len - n);
	c->rx_len -= (uint32_t)n;
	c->hdr_done = false;
	c->t_msg = c->rx_len ? T.now : 0;
}

static void frames(struct conn *c)
{
	while (c->rx_len && c->state == ST_OPEN && !c->close_after_flush) {
		size_t n;
		struct tp_peer from = { c->ip, c->port, c->transport };
		switch (sfp_frame(c->rx, c->rx_len, T.cfg.max_msg, &n)) {
		case SFP_FR_MORE:
			/* the header section is complete: the body's clock starts */
			if (n && !c->hdr_done) {
				c->hdr_done = true;
				c->t_msg = T.now;
			}
			return;
		case SFP_FR_PING:
			tp_cnt.pings++;
			consume(c, n);
			(void)conn_send(c, "\r\n", 2);
			break;
		case SFP_FR_PONG:
			consume(c, n);
			break;
		case SFP_FR_MSG:
			tp_cnt.msgs_in++;
			c->msgs_in++;
			T.ops.message(&from, c->rx, n);
			if (c->state == ST_OPEN)
				consume(c, n);
			break;
		case SFP_FR_NO_CL:
		case SFP_FR_BAD_CL:
			tp_cnt.frame_400++;
			T.ops.frame_error(&from, c->rx, n, 400, "Missing or Bad Content-Length");
			c->close_after_flush = true;
			if (c->state == ST_OPEN && !c->tx_len)
				conn_close(c, "no readable Content-Length (RFC 3261 18.3): 400");
			return;
		case SFP_FR_TOO_BIG:
			tp_cnt.frame_513++;
			T.ops.frame_error(&from, c->rx, n ? n : c->rx_len, 513, "Message Too Large");
			c->close_after_flush = true;
			if (c->state == ST_OPEN && !c->tx_len)
				conn_close(c, "message over tcp_max_msg: 513");
			return;
		}
	}
}

static void on_readable(struct conn *c)
{
	for (int rounds = 0; rounds < 64 && c->state == ST_OPEN && !c->close_after_flush; rounds++) {
		uint32_t max = T.cfg.max_msg + 1;
		if (c->rx_cap - c->rx_len < 1024 && c->rx_cap < max) {
			uint32_t cap = c->rx_cap ? c->rx_cap * 2 : RX_FIRST;
			if (cap > max)
				cap = max;
			char *r = realloc(c->rx, cap);
			if (!r) {
				conn_close(c, "out of memory");
				return;
			}
			c->rx = r;
			c->rx_cap = cap;
		}
		if (c->rx_len == c->rx_cap) {
			frames(c); /* full: framing says too big */
			return;
		}
		long r = c_read(c, c->rx + c->rx_len, c->rx_cap - c->rx_len);
		if (r == -1)
			break;
		if (r == 0 || r == -2) {
			tp_cnt.closed_by_peer++;
			conn_close(c, NULL);
			return;
		}
		if (!c->rx_len)
			c->t_msg = T.now;
		c->rx_len += (uint32_t)r;
		c->bytes_in += (uint64_t)r;
		c->t_last = T.now;
		frames(c);
	}
	/* nothing pending: no buffer kept (thousands of idle phones) */
	if (c->state == ST_OPEN && !c->rx_len && c->rx) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* ---- TLS handshakes ---------------------------------------------------------------- */

static bool hs_allowed(uint32_t ip)
{
	if (!T.cfg.tls_hs_per_source)
		return true;
	uint32_t s = (uint32_t)(T.now / 1000), h = (uint32_t)key_ip(ip) & (HS_SLOTS - 1);
	if (T.hs[h].ip != ip || T.hs[h].sec != s) {
		T.hs[h].ip = ip;
		T.hs[h].sec = s;
		T.hs[h].n = 0;
	}
	return ++T.hs[h].n <= T.cfg.tls_hs_per_source;
}

static void handshake(struct conn *c)
{
	int r = c->outbound ? SSL_connect(c->ssl) : SSL_accept(c->ssl);
	if (r == 1) {
		c->state = ST_OPEN;
		c->t_last = T.now;
		if (c->outbound)
			tp_cnt.dialed++;
		else
			tp_cnt.tls_accepted++;
		if (c->tx_len)
			flush(c);
		else
			want_out(c, false);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		want_out(c, false);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		want_out(c, true);
		return;
	}
	char b[32], why[300];
	long v = c->outbound ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	if (v != X509_V_OK)
		snprintf(why, sizeof(why), "TLS handshake failed: certificate: %s",
			 X509_verify_cert_error_string(v));
	else
		snprintf(why, sizeof(why), "TLS handshake failed: %s", ssl_err());
	if (c->outbound)
		tp_cnt.dial_failed++;
	else
		tp_cnt.tls_failed++;
	if (c->outbound || log_ok(0))
		LOG("transport: %s %s", peer_str(c, b), why);
	if (c->outbound && T.ops.dial_failed)
		T.ops.dial_failed(c->ip, c->port);
	conn_close(c, NULL);
}

/* ---- listeners --------------------------------------------------------------------- */

static void accept_all(int lfd, uint8_t transport)
{
	for (int k = 0; k < 256; k++) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		int fd = accept4(lfd, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* out of descriptors: the listener stays readable, and the
			 * main loop would spin on it; the sweep makes room */
			if ((errno == EMFILE || errno == ENFILE) && log_ok(5)) {
				tp_cnt.refused_max++;
				LOG("transport: accept: %s (raise the file descriptor limit or lower "
				    "tcp_max_conns)", strerror(errno));
			}
			return;
		}
		uint32_t ip = a.sin_addr.s_addr;
		uint16_t port = ntohs(a.sin_port);
		char s[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &ip, s, sizeof(s));
		if (T.n >= T.cfg.max_conns || T.free_head == HIDX_NONE) {
			tp_cnt.refused_max++;
			if (log_ok(1))
				LOG("transport: %s from %s:%u refused: %u connections held (tcp_max_conns)",
				    tp_name(transport), s, port, T.n);
			close(fd);
			continue;
		}
		if (T.cfg.max_per_source && from_source(ip) >= T.cfg.max_per_source) {
			tp_cnt.refused_source++;
			if (log_ok(2))
				LOG("transport: %s from %s:%u refused: that address holds %u connections "
				    "(tcp_max_per_source)", tp_name(transport), s, port, T.cfg.max_per_source);
			close(fd);
			continue;
		}
		if (transport == SFP_TP_TLS && !hs_allowed(ip)) {
			tp_cnt.refused_hs_rate++;
			if (log_ok(3))
				LOG("transport: TLS from %s:%u refused: over %u handshakes a second "
				    "(tls_handshakes_per_source)", s, port, T.cfg.tls_hs_per_source);
			close(fd);
			continue;
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = conn_new(fd, ip, port, transport);
		if (!c) {
			close(fd);
			continue;
		}
		if (transport == SFP_TP_TLS) {
			c->ssl = SSL_new(T.srv);
			if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
				conn_close(c, "TLS: out of memory");
				continue;
			}
			SSL_set_accept_state(c->ssl);
			c->state = ST_HANDSHAKE;
			handshake(c);
		} else {
			tp_cnt.tcp_accepted++;
		}
	}
}

/* ---- outbound ---------------------------------------------------------------------- */

static void connected(struct conn *c)
{
	int e = 0;
	socklen_t l = sizeof(e);
	char b[32];
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l) || e) {
		tp_cnt.dial_failed++;
		LOG("transport: connecting to %s failed: %s", peer_str(c, b), strerror(e ? e : errno));
		if (T.ops.dial_failed)
			T.ops.dial_failed(c->ip, c->port);
		conn_close(c, NULL);
		return;
	}
	if (c->transport == SFP_TP_TLS) {
		c->state = ST_HANDSHAKE;
		handshake(c);
		return;
	}
	tp_cnt.dialed++;
	c->state = ST_OPEN;
	flush(c);
}

int tp_send_to(uint32_t ip, uint16_t port, uint8_t transport, const char *host, const char *p, size_t len)
{
	struct conn *c = T.c ? find(ip, port) : NULL;
	if (c)
		return conn_send_msg(c, p, len);
	if (T.ep < 0 || (transport == SFP_TP_TLS && !T.cli) || T.n >= T.cfg.max_conns)
		return -1;
	int fd = ns_socket(SOCK_STREAM);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = ip };
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		tp_cnt.dial_failed++;
		close(fd);
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(fd, ip, port, transport);
	if (!c) {
		close(fd);
		return -1;
	}
	c->outbound = true;
	c->state = ST_CONNECTING;
	c->want_out = true;
	ep_set(c, false);
	if (transport == SFP_TP_TLS) {
		c->ssl = SSL_new(T.cli);
		char ips[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &ip, ips, sizeof(ips));
		X509_VERIFY_PARAM *vp = c->ssl ? SSL_get0_param(c->ssl) : NULL;
		/* RFC 5922: the name the request was for, or the address dialled */
		if (!c->ssl || !SSL_set_fd(c->ssl, fd) ||
		    !(host && host[0] ? SSL_set1_host(c->ssl, host) && SSL_set_tlsext_host_name(c->ssl, host)
				      : X509_VERIFY_PARAM_set1_ip_asc(vp, ips))) {
			conn_close(c, "TLS: cannot set up the client");
			return -1;
		}
		SSL_set_connect_state(c->ssl);
	}
	return conn_send_msg(c, p, len);
}

/* ---- the module's face ------------------------------------------------------------- */

int tp_init(const struct tp_cfg *cfg, const struct tp_ops *ops, char *err, size_t errlen)
{
	T.cfg = *cfg;
	T.ops = *ops;
	if (!T.cfg.max_conns)
		T.cfg.max_conns = 1;
	if (T.cfg.max_msg < 1024)
		T.cfg.max_msg = 1024;
	T.cap = T.cfg.max_conns + 64; /* dying slots are reclaimed a turn later */
	T.c = calloc(T.cap, sizeof(*T.c));
	T.dead = calloc(T.cap, sizeof(*T.dead));
	if (!T.c || !T.dead || hidx_init(&T.by_addr, 1u << 14, T.cap) || hidx_init(&T.by_ip, 1u << 14, T.cap)) {
		snprintf(err, errlen, "transport: out of memory for %u connections", T.cap);
		return -1;
	}
	T.free_head = HIDX_NONE;
	for (uint32_t i = T.cap; i-- > 0;) {
		T.c[i].fd = -1;
		T.c[i].next_free = T.free_head;
		T.free_head = i;
	}
	if (T.cfg.netns[0]) {
		char path[128];
		snprintf(path, sizeof(path), "/run/netns/%s", T.cfg.netns);
		T.ns_fd = open(path, O_RDONLY | O_CLOEXEC);
		T.own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (T.ns_fd < 0 || T.own_ns < 0) {
			snprintf(err, errlen, "transport: network namespace %s: %s", T.cfg.netns, strerror(errno));
			return -1;
		}
	}
	T.ep = epoll_create1(EPOLL_CLOEXEC);
	if (T.ep < 0) {
		snprintf(err, errlen, "transport: epoll: %s", strerror(errno));
		return -1;
	}
	if ((T.l_tcp = listener(T.cfg.sip_port, err, errlen)) < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = L_TCP };
	epoll_ctl(T.ep, EPOLL_CTL_ADD, T.l_tcp, &ev);
	if (T.cfg.tls_cert[0] || T.cfg.tls_key[0]) {
		if (!T.cfg.tls_cert[0] || !T.cfg.tls_key[0]) {
			snprintf(err, errlen, "TLS needs both tls_cert and tls_key");
			return -1;
		}
		if (!(T.srv = ctx_new(true, err, errlen)))
			return -1;
		if ((T.l_tls = listener(T.cfg.tls_port, err, errlen)) < 0)
			return -1;
		ev.data.u64 = L_TLS;
		epoll_ctl(T.ep, EPOLL_CTL_ADD, T.l_tls, &ev);
	}
	/* dialling out over TLS works with or without a listener of our own */
	char cerr[256];
	if (!(T.cli = ctx_new(false, cerr, sizeof(cerr))))
		LOG("transport: no outbound TLS: %s", cerr);
	LOG("transport: SIP over TCP on port %u%s%s, at most %u connections (%u per source)",
	    T.cfg.sip_port, T.srv ? ", TLS on port " : "", T.srv ? "" : " (no TLS: tls_cert/tls_key unset)",
	    T.cfg.max_conns, T.cfg.max_per_source);
	if (T.srv)
		LOG("transport: TLS on port %u, %s at least%s", T.cfg.tls_port, T.cfg.tls_min_version,
		    T.cfg.tls_verify_client ? ", client certificates required" : "");
	return 0;
}

void tp_fini(void)
{
	for (uint32_t i = 0; i < T.cap && T.c; i++)
		if (T.c[i].state != ST_FREE && T.c[i].state != ST_DEAD)
			conn_close(&T.c[i], NULL);
	reclaim();
	if (T.l_tcp >= 0)
		close(T.l_tcp);
	if (T.l_tls >= 0)
		close(T.l_tls);
	if (T.ep >= 0)
		close(T.ep);
	SSL_CTX_free(T.srv);
	SSL_CTX_free(T.cli);
	free(T.c);
	free(T.dead);
	T.dead = NULL;
	hidx_free(&T.by_addr);
	hidx_free(&T.by_ip);
	T.c = NULL;
	T.ep = T.l_tcp = T.l_tls = -1;
}

int tp_fd(void)
{
	return T.ep;
}

static void sweep(void)
{
	for (uint32_t i = 0; i < T.cap; i++) {
		struct conn *c = &T.c[i];
		if (c->state == ST_FREE || c->state == ST_DEAD)
			continue;
		/* a handshake, a connect or a started message: the clock of
		 * the header section (slowloris), counted from its first byte */
		uint64_t since = c->state == ST_OPEN ? c->t_msg : c->t_open;
		if (since && T.now - since > T.cfg.header_timeout_ms) {
			tp_cnt.slow_closed++;
			char b[32];
			if (log_ok(4) || c->outbound)
				LOG("transport: %s %s closed: %s not complete within %u ms", tp_name(c->transport),
				    peer_str(c, b), c->state == ST_OPEN ? "a message" : "the connection set-up",
				    T.cfg.header_timeout_ms);
			/* a dial that never completed: what waited on it fails now */
			if (c->outbound && c->state != ST_OPEN) {
				tp_cnt.dial_failed++;
				if (T.ops.dial_failed)
					T.ops.dial_failed(c->ip, c->port);
			}
			conn_close(c, NULL);
		} else if (T.cfg.idle_timeout_ms && T.now - c->t_last > T.cfg.idle_timeout_ms) {
			tp_cnt.idle_closed++;
			conn_close(c, NULL);
		}
	}
}

void tp_poll(uint64_t now)
{
	struct epoll_event ev[128];
	T.now = now;
	if (T.ep < 0)
		return;
	int n = epoll_wait(T.ep, ev, 128, 0);
	for (int i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;
		if (d == L_TCP || d == L_TLS) {
			accept_all(d == L_TCP ? T.l_tcp : T.l_tls, d == L_TCP ? SFP_TP_TCP : SFP_TP_TLS);
			continue;
		}
		struct conn *c = &T.c[d];
		uint32_t e = ev[i].events;
		if (c->state == ST_CONNECTING && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			connected(c);
		if (c->state == ST_HANDSHAKE) {
			handshake(c);
			/* a client's first request may come with its Finished */
			if (c->state != ST_OPEN)
				continue;
			e |= EPOLLIN;
		}
		if (c->state == ST_OPEN && (e & EPOLLOUT))
			flush(c);
		if (c->state == ST_OPEN && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			on_readable(c);
	}
	if (now - T.last_sweep >= 100) {
		T.last_sweep = now;
		sweep();
	}
	reclaim();
}

int tp_send(uint32_t ip, uint16_t port, const char *p, size_t len)
{
	struct conn *c = T.c ? find(ip, port) : NULL;
	return c ? conn_send_msg(c, p, len) : -1;
}

int tp_transport(uint32_t ip, uint16_t port)
{
	struct conn *c = T.c ? find(ip, port) : NULL;
	return c ? c->transport : -1;
}

void tp_set_user(uint32_t ip, uint16_t port, const char *user)
{
	struct conn *c = T.c ? find(ip, port) : NULL;
	if (c)
		snprintf(c->user, sizeof(c->user), "%s", user);
}

size_t tp_slot_bytes(void)
{
	return sizeof(struct conn) + 3 * sizeof(uint32_t); /* the slot, its two index links, the dead list */
}

unsigned tp_count(void)
{
	return T.n;
}

void tp_each(void (*cb)(void *ctx, const struct tp_info *i), void *ctx)
{
	for (uint32_t k = 0; T.c && k < T.cap; k++) {
		const struct conn *c = &T.c[k];
		if (c->state == ST_FREE || c->state == ST_DEAD)
			continue;
		struct tp_info i = {
			.ip = c->ip, .port = c->port, .transport = c->transport, .outbound = c->outbound,
			.age_ms = T.now - c->t_open, .idle_ms = T.now - c->t_last,
			.bytes_in = c->bytes_in, .bytes_out = c->bytes_out,
			.msgs_in = c->msgs_in, .msgs_out = c->msgs_out, .user = c->user,
		};
		if (c->ssl && c->state == ST_OPEN) {
			i.tls_version = SSL_get_version(c->ssl);
			i.tls_cipher = SSL_get_cipher_name(c->ssl);
		}
		cb(ctx, &i);
	}
}
