/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration file format shared by sipfp-dataplane and sipfp-control.
 * One file serves both; each process reads the keys it needs and ignores
 * the others.  Command-line options override the file; embedded defaults
 * make both run with no file at all.
 *
 * Syntax: `key = value` lines, `#` starts a comment, blank lines ignored.
 * Unknown keys and malformed values are errors (a typo must not silently
 * fall back to a default on a public edge).
 */
#ifndef SIPFP_CONFIG_H
#define SIPFP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFP_CFG_STR_MAX 256

/* _(key, type, default, help)   type: STR, U32 or BOOL */
#define SFP_CONFIG_KEYS(_) \
	_(addr,              STR,  "10.77.0.2",  "IPv4 address sipfp answers on") \
	_(prefix_len,        U32,  "24",         "length of the local subnet prefix") \
	_(gateway,           STR,  "",           "default gateway for destinations off the subnet (empty: none)") \
	_(sip_port,          U32,  "5060",       "UDP port for SIP") \
	_(domain,            STR,  "",           "SIP domain served; OPTIONS to it get 200 (empty: addr)") \
	_(realm,             STR,  "sipfp",      "digest realm (RFC 3261 22.1)") \
	_(nonce_secret,      STR,  "",           "nonce MAC key shared by sipfp nodes (empty: random at each data plane start)") \
	_(nonce_secret_prev, STR,  "",           "previous key: its nonces get stale=true during a rotation") \
	_(nonce_lifetime,    U32,  "300",        "seconds a nonce stays valid") \
	_(qop,               BOOL, "yes",        "offer qop=\"auth\" in challenges (RFC 7616)") \
	_(algorithms,        STR,  "MD5",        "digest algorithms offered, preferred first (RFC 8760); SHA-256,MD5 only for fleets that read every challenge") \
	_(check_digest_uri,  STR,  "host",       "digest uri vs Request-URI (RFC 2617 3.2.2.5): host (same scheme, host, port; user part equal or absent), strict (user too), no") \
	_(retry_after,       U32,  "5",          "Retry-After seconds in 503 replies") \
	_(busy_poll,         BOOL, "no",         "poll without ever sleeping (dedicated cores)") \
	_(idle_sleep_us,     U32,  "50",         "sleep when idle, microseconds (ignored with busy_poll)") \
	_(mbufs,             U32,  "32767",      "packet buffers in the mempool") \
	_(ring_size,         U32,  "8192",       "elements in each ring between the processes (power of 2)") \
	_(rx_desc,           U32,  "1024",       "RX descriptors per queue") \
	_(tx_desc,           U32,  "1024",       "TX descriptors per queue") \
	_(frag_entries,      U32,  "1024",       "IPv4 datagrams under reassembly, per worker (x8 fragments x workers <= mbufs/2)") \
	_(frag_timeout_ms,   U32,  "2000",       "reassembly timeout") \
	_(frag_per_source,   U32,  "16",         "incomplete datagrams one source address may hold per worker; more are refused (0: no quota)") \
	_(cred_capacity,     U32,  "131072",     "users the data plane replica can hold") \
	_(ctl_timeout_ms,    U32,  "1500",       "control process counts as gone after this heartbeat silence") \
	_(ctl_queue_s,       U32,  "32",         "while it is gone, responses and in-dialog requests wait in the ring for its successor this long (64*T1)") \
	_(t1_ms,             U32,  "500",        "SIP timer T1 (RFC 3261 17): INVITE retransmissions, timer B = 64*T1") \
	_(timer_c_s,         U32,  "180",        "a call ringing this long without an answer gets CANCEL and 408 (16.6)") \
	_(dialog_max_s,      U32,  "7200",       "a dialog is forgotten after this long (its BYE was lost)") \
	_(max_transactions,  U32,  "65536",      "client transactions the control process keeps: calls ringing, finals held, in-dialog requests") \
	_(max_dialogs,       U32,  "16384",      "dialogs the control process tracks (early and confirmed)") \
	_(reg_min_expires,   U32,  "60",         "shortest registration accepted; shorter gets 423 (RFC 3261 10.3)") \
	_(reg_max_expires,   U32,  "86400",      "longest registration granted") \
	_(reg_default_expires, U32, "3600",      "registration time when the REGISTER names none") \
	_(media,             BOOL, "yes",        "anchor media: rewrite SDP, relay RTP/RTCP on the fast path (no: signalling only)") \
	_(media_addr,        STR,  "",           "IPv4 address(es) in the SDP sipfp writes, media relayed on; comma-separated, up to 16, each holds media_ports (empty: addr)") \
	_(media_ports,       STR,  "20000-39999","local UDP ports for relayed media, FIRST-LAST (4 per audio/video stream)") \
	_(media_port_quarantine_s, U32, "2",     "a freed port is not given to another call for this long (stale packets of the call that ended)") \
	_(media_latch,       STR,  "on",         "symmetric RTP: on (latch to the first source), strict (only the SIP source address), off") \
	_(media_latch_window_s, U32, "10",       "latching allowed this long after a stream starts or a re-INVITE") \
	_(media_timeout_s,   U32,  "60",         "no media either way this long: sipfp ends the call with BYE to both sides (0: never)") \
	_(media_hold_timeout_s, U32, "3600",     "the same for a call on hold (sendonly/recvonly/inactive, c=0.0.0.0)") \
	_(mode,              STR,  "proxy",      "proxy (record-routing, end to end) or b2bua (two dialogs per call: topology hidden, session timers)") \
	_(session_expires,   U32,  "1800",       "b2bua: session interval sipfp offers the callee (RFC 4028 Session-Expires)") \
	_(min_se,            U32,  "90",         "b2bua: smallest session interval accepted (Min-SE; RFC 4028 says at least 90)") \
	_(src_rate,          U32,  "200",        "SIP messages per second accepted from one source address (0: no limit)") \
	_(src_burst,         U32,  "400",        "messages a source may send at once before src_rate applies (at most 4000)") \
	_(ood_rate,          U32,  "20",         "out-of-dialog requests per second from one source address (0: no limit)") \
	_(ood_burst,         U32,  "40",         "out-of-dialog requests a source may send at once (at most 4000)") \
	_(src_table,         U32,  "65536",      "source addresses each worker tracks for rate limits (least recently seen evicted)") \
	_(allow,             STR,  "",           "trusted prefixes, comma-separated CIDR, exempt from rate limits and bans") \
	_(bf_max_fails,      U32,  "10",         "failed authentications from one source within bf_window_s that ban it (0: off)") \
	_(bf_user_max_fails, U32,  "50",         "failed authentications for one user within bf_window_s after which every failing source is banned (0: off)") \
	_(bf_window_s,       U32,  "60",         "window for counting failed authentications") \
	_(ban_time_s,        U32,  "600",        "how long an automatic ban lasts") \
	_(ban_by_port,       BOOL, "no",         "ban address and port, not the whole address (one phone, not a whole office behind NAT)") \
	_(ua_block,          STR,  "friendly-scanner,sipvicious,sipcli,VaxSIPUserAgent,pplsip", "User-Agent substrings dropped silently (comma-separated, case-insensitive)") \
	_(ood_ring_reserve,  U32,  "25",         "percent of the ring to control kept for responses and in-dialog requests") \
	_(ctl_socket,        STR,  "/run/sipfp/sipfpctl.sock", "Unix socket of sipfp-control for sipfpctl") \
	_(db_path,           STR,  "/var/lib/sipfp/sipfp.db",  "SQLite store of sipfp-control (store = sqlite)") \
	_(store,             STR,  "sqlite",     "sqlite (one node, db_path) or postgresql (shared by several nodes, pg_conninfo)") \
	_(pg_conninfo,       STR,  "",           "libpq connection string of the PostgreSQL store, e.g. host=db1 dbname=sipfp user=sipfp") \
	_(peers,             STR,  "",           "the other nodes' IPv4 addresses, comma-separated: their INVITEs for phones registered here are taken without a challenge") \
	_(journal_max,       U32,  "10000",      "REGISTER writes kept in memory while the store is unreachable, replayed in order when it is back; past it REGISTER gets 503") \
	_(tcp,               BOOL, "yes",        "SIP over TCP on sip_port (and TLS on tls_port), through the kernel exception path (RFC 3261 18)") \
	_(exc_netns,         STR,  "",           "network namespace of the exception interface that carries addr for TCP/TLS (empty: sipfp-FILEPREFIX)") \
	_(tls_port,          U32,  "5061",       "TCP port for SIP over TLS (RFC 3261 26.2); listened on when tls_cert and tls_key are set") \
	_(tls_cert,          STR,  "",           "PEM certificate chain of sipfp's TLS listener (empty: no TLS)") \
	_(tls_key,           STR,  "",           "PEM private key of tls_cert") \
	_(tls_min_version,   STR,  "TLSv1.2",    "oldest TLS version accepted or offered: TLSv1.2 or TLSv1.3") \
	_(tls_ciphers,       STR,  "",           "OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's default)") \
	_(tls_ca,            STR,  "",           "PEM CA file: client certificates (tls_verify_client) and servers sipfp connects to (empty: the system store)") \
	_(tls_verify_client, BOOL, "no",         "require a client certificate signed by tls_ca") \
	_(tcp_max_conns,     U32,  "4096",       "TCP and TLS connections held at most; more are refused (closed at accept)") \
	_(tcp_max_per_source, U32, "64",         "connections one source address may hold (0: no cap)") \
	_(tcp_idle_timeout_s, U32, "900",        "a connection silent this long is closed (clients keep theirs with CRLF pings, RFC 5626)") \
	_(tcp_header_timeout_ms, U32, "5000",    "a message's header section must be complete this long after its first byte (slowloris)") \
	_(tcp_max_msg,       U32,  "65535",      "largest SIP message on a stream; larger gets 513 and the connection closed") \
	_(tls_handshakes_per_source, U32, "20",  "TLS handshakes per second one source address may start (0: no limit)")

#define SFP_CFG_T_STR  char
#define SFP_CFG_T_U32  uint32_t
#define SFP_CFG_T_BOOL bool
#define SFP_CFG_D_STR  [SFP_CFG_STR_MAX]
#define SFP_CFG_D_U32
#define SFP_CFG_D_BOOL

struct sfp_config {
#define SFP_CFG_FIELD(k, t, d, h) SFP_CFG_T_##t k SFP_CFG_D_##t;
	SFP_CONFIG_KEYS(SFP_CFG_FIELD)
#undef SFP_CFG_FIELD
};

void sfp_config_defaults(struct sfp_config *c);
/* set one key from text; 0, or -1 with a message in err */
int sfp_config_set(struct sfp_config *c, const char *key, const char *val,
		   char *err, size_t errlen);
/* "key=value" form, for --set */
int sfp_config_set_kv(struct sfp_config *c, const char *kv, char *err, size_t errlen);
/* read a file; 0, or -1 with "file:line: message" in err */
int sfp_config_load(struct sfp_config *c, const char *path, char *err, size_t errlen);
/* the effective configuration as `key = value` lines; bytes written */
size_t sfp_config_dump(const struct sfp_config *c, char *buf, size_t len);
/* "FIRST-LAST" (media_ports): 0, or -1 with a message in err */
int sfp_config_port_range(const char *s, uint32_t *first, uint32_t *last, char *err, size_t errlen);
/* documented template with every key, its default and help */
void sfp_config_print_template(void *stdio_file);

#endif
