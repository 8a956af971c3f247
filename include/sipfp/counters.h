/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfp counters: one X-macro list, so that the enum, the names printed by
 * telemetry and by `sipfpctl stats`, and the help text cannot drift apart
 * (the VPP error-counter model).
 *
 * Every packet a worker receives ends in exactly one "fate" counter
 * (answered, handed off, absorbed or dropped with a reason); the remaining
 * counters describe events along the way.
 *
 * This header crosses the process boundary: the data plane writes the
 * counters into the shared state memzone, sipfp-control reads them there.
 * Append new counters at the end of a group only between releases; the
 * layout is versioned by SFP_STATE_VERSION in shm.h.
 */
#ifndef SIPFP_COUNTERS_H
#define SIPFP_COUNTERS_H

#include <stdint.h>

/* _(enum suffix, name, help) */
#define SFP_COUNTERS(_) \
	_(RX_PKTS,            "rx_packets",            "frames received by workers") \
	_(TX_PKTS,            "tx_packets",            "frames transmitted by workers") \
	_(TX_FULL,            "drop_tx_full",          "replies dropped: NIC TX queue full") \
	_(NO_MBUF,            "drop_no_mbuf",          "replies dropped: mempool exhausted") \
	_(ETH_OTHER,          "drop_ethertype",        "frames dropped: not IPv4 or ARP") \
	_(ETH_NOT_US,         "drop_not_for_us",       "frames dropped: other MAC or IP destination") \
	_(ARP_REPLY,          "arp_replies",           "ARP requests for our address answered") \
	_(ARP_REQUEST,        "arp_requests",          "ARP requests sent to resolve a next hop") \
	_(ARP_LEARNED,        "arp_learned",           "neighbours learned or refreshed from ARP") \
	_(ARP_UNRESOLVED,     "drop_arp_unresolved",   "frames dropped: next hop did not answer ARP") \
	_(ARP_QUEUE_FULL,     "drop_arp_queue_full",   "frames dropped: too many waiting for ARP") \
	_(NO_ROUTE,           "drop_no_route",         "frames dropped: destination off-subnet and no gateway") \
	_(ARP_OTHER,          "drop_arp_other",        "ARP frames dropped: not a request for us") \
	_(IP_BAD,             "drop_ip_malformed",     "IPv4 dropped: bad version, header or length") \
	_(IP_CSUM,            "drop_ip_checksum",      "IPv4 dropped: header checksum wrong") \
	_(IP_PROTO,           "drop_ip_proto",         "IPv4 dropped: neither UDP nor ICMP") \
	_(ICMP_ECHO,          "icmp_echo_replies",     "ICMP echo requests answered") \
	_(ICMP_OTHER,         "drop_icmp_other",       "ICMP dropped: not an echo request") \
	_(FRAG_IN,            "frag_received",         "IPv4 fragments received") \
	_(FRAG_REASM,         "frag_reassembled",      "datagrams reassembled from fragments") \
	_(FRAG_BAD,           "drop_frag_malformed",   "fragments dropped: overlapping, contradicting the last one, tiny, or beyond 65535 bytes (RFC 1858)") \
	_(FRAG_DUP,           "drop_frag_duplicate",   "fragments dropped: duplicate of one already held") \
	_(FRAG_TOO_MANY,      "drop_frag_too_many",    "fragments dropped: their datagram came in more than 8 fragments") \
	_(FRAG_TOO_BIG,       "drop_frag_too_big",     "fragments dropped: their datagram exceeds 11840 bytes (8 x 1480; use TCP, RFC 3261 18.1.1)") \
	_(FRAG_QUOTA,         "drop_frag_quota",       "fragments dropped: their source already holds frag_per_source incomplete datagrams") \
	_(FRAG_EVICTED,       "drop_frag_evicted",     "fragments dropped: their incomplete datagram gave its slot to a newer one") \
	_(FRAG_TIMEOUT,       "drop_frag_timeout",     "fragments dropped: their datagram never completed (swept)") \
	_(MEDIA_RELAYED,      "media_relayed",         "RTP/RTCP packets relayed between the legs of a call") \
	_(MEDIA_LATCHED,      "media_latched",         "media legs latched to their source (symmetric RTP)") \
	_(MEDIA_NO_FLOW,      "drop_media_no_flow",    "media dropped: no call uses that port") \
	_(MEDIA_SRC,          "drop_media_source",     "media dropped: from a source other than the leg's latched one") \
	_(MEDIA_NO_PEER,      "drop_media_no_peer",    "media dropped: the other leg's address is not known yet") \
	_(MEDIA_BAD,          "drop_media_malformed",  "media dropped: fragmented, or no room to send") \
	_(UDP_BAD,            "drop_udp_malformed",    "UDP dropped: bad length") \
	_(UDP_CSUM,           "drop_udp_checksum",     "UDP dropped: checksum wrong") \
	_(UDP_PORT,           "drop_udp_port",         "UDP dropped: not our SIP port") \
	_(SIP_KEEPALIVE,      "sip_keepalive_crlf",    "CRLF keepalives (RFC 5626) absorbed") \
	_(SIP_UNPARSEABLE,    "drop_sip_unparseable",  "SIP dropped: cannot be parsed far enough to answer") \
	_(SIP_BAD_RESPONSE,   "drop_sip_bad_response", "SIP responses dropped: malformed") \
	_(SIP_NO_CTL,         "drop_sip_no_control",   "SIP dropped: needs control process, none attached, cannot be answered") \
	_(SIP_RING_FULL,      "drop_sip_ring_full",    "SIP dropped: ring to control full, cannot be answered") \
	_(SIP_TOO_BIG,        "drop_sip_too_big",      "SIP dropped: reply or hand-off larger than supported") \
	_(REPLY_400,          "reply_400",             "400 Bad Request sent") \
	_(REPLY_505,          "reply_505",             "505 Version Not Supported sent") \
	_(REPLY_416,          "reply_416",             "416 Unsupported URI Scheme sent") \
	_(REPLY_420,          "reply_420",             "420 Bad Extension sent") \
	_(REPLY_483,          "reply_483",             "483 Too Many Hops sent") \
	_(REPLY_401,          "challenge_401",         "401 challenges sent (REGISTER)") \
	_(REPLY_407,          "challenge_407",         "407 challenges sent") \
	_(REPLY_STALE,        "challenge_stale",       "challenges sent with stale=true") \
	_(REPLY_403,          "reply_403",             "403 Forbidden sent (bad credentials)") \
	_(REPLY_OPTIONS,      "options_200",           "OPTIONS keepalives answered 200") \
	_(REPLY_100,          "trying_100",            "100 Trying sent for authenticated INVITEs") \
	_(REPLY_503,          "reply_503",             "503 sent: control process absent or ring full") \
	_(ACK_ABSORBED,       "ack_absorbed",          "ACKs to our own challenges absorbed") \
	_(AUTH_OK,            "auth_ok",               "credentials verified") \
	_(AUTH_FAIL,          "auth_fail",             "credentials rejected (wrong response or unknown user)") \
	_(AUTH_NONCE_FORGED,  "auth_nonce_forged",     "nonces rejected: MAC wrong") \
	_(AUTH_NONCE_STALE,   "auth_nonce_stale",      "nonces expired or from an older secret") \
	_(AUTH_UNSUPPORTED,   "auth_unsupported",      "credentials with an algorithm or qop we did not offer") \
	_(HANDOFF,            "handoff",               "SIP messages handed to the control process") \
	_(HANDOFF_RESPONSE,   "handoff_responses",     "of which responses") \
	_(HANDOFF_INDIALOG,   "handoff_in_dialog",     "of which in-dialog requests") \
	_(HANDOFF_QUEUED,     "handoff_queued",        "responses and in-dialog requests queued while no control process was attached") \
	_(CTL_TX,             "ctl_tx",                "packets sent on behalf of the control process") \
	_(CTL_TX_DROP,        "drop_ctl_tx",           "control-process packets dropped (no ARP, no mbuf, malformed)") \
	_(BANNED,             "drop_banned",           "SIP dropped before parsing: source banned") \
	_(RATE,               "drop_rate_limited",     "SIP dropped before parsing: source over src_rate") \
	_(RATE_OOD,           "drop_rate_limited_ood", "out-of-dialog requests dropped: source over ood_rate") \
	_(UA_BLOCKED,         "drop_user_agent",       "SIP dropped: User-Agent on the blocklist") \
	_(ALLOW_BYPASS,       "allow_bypass",          "messages over a rate limit let through: source on the allow list") \
	_(RL_EVICT,           "ratelimit_evictions",   "sources forgotten by a full rate-limit table") \
	_(OVERLOAD_OOD,       "overload_ood_503",      "out-of-dialog requests refused (503) to keep ring room for in-dialog traffic") \
	_(FAIL_EVENT_LOST,    "drop_auth_fail_event",  "failed authentications not counted for bans: queue to main lcore full") \
	_(BAN_AUTO,           "bans_added",            "sources banned for failed authentications") \
	_(BAN_ALLOWED,        "bans_spared",           "bans not set: source on the allow list") \
	_(BAN_FULL,           "bans_table_full",       "bans not set: ban table full") \
	_(BAN_EXPIRED,        "bans_expired",          "bans that ran out") \
	_(EXC_IN,             "exc_to_kernel",         "TCP segments for SIP/TLS handed to the exception interface (kernel TCP)") \
	_(EXC_IN_FULL,        "drop_exc_queue_full",   "TCP segments dropped: queue to the main lcore full") \
	_(EXC_BANNED,         "drop_exc_banned",       "TCP segments dropped before the kernel: source banned") \
	_(EXC_SYN_RATE,       "drop_exc_syn_rate",     "TCP connection attempts (SYN) dropped: source over ood_rate") \
	_(EXC_PORT,           "drop_tcp_port",         "TCP dropped: not a SIP port and no connection of sipfp's own") \
	_(EXC_OUT,            "exc_from_kernel",       "frames the kernel sent out of the exception interface, sent on the port") \
	_(EXC_OUT_OTHER,      "drop_exc_other",        "frames from the exception interface dropped: not IPv4 from our address") \
	_(EXC_TX_FULL,        "drop_exc_tx_full",      "segments for the kernel dropped: exception interface queue full")

enum sfp_counter {
#define SFP_CNT_ENUM(e, n, h) SFP_CNT_##e,
	SFP_COUNTERS(SFP_CNT_ENUM)
#undef SFP_CNT_ENUM
	SFP_CNT_MAX
};

#endif
