/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Internet checksum (RFC 1071) eight bytes at a time.
 *
 * DPDK 22.11's __rte_raw_cksum adds 16-bit words one by one; a SIP message
 * is verified on receipt and a reply summed on transmit, so on NICs
 * without checksum offload (net_pcap, net_tap, af_packet) that loop was a
 * fifth of the cost of a 407.  One's complement addition is associative
 * and byte-order independent (RFC 1071 section 2), so 64-bit loads with an
 * end-around carry give the same 16-bit result in native order.
 */
#ifndef SFP_CKSUM_H
#define SFP_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sfp_csum_add64(uint64_t s, uint64_t v)
{
	s += v;
	return s + (s < v); /* end-around carry */
}

/* running sum over p[0..n); start with 0, chain calls on even offsets */
static inline uint64_t sfp_csum_partial(const void *buf, size_t n, uint64_t s)
{
	const uint8_t *p = buf;
	uint64_t a = 0, b = 0, v, w;
	while (n >= 16) {
		memcpy(&v, p, 8);
		memcpy(&w, p + 8, 8);
		a = sfp_csum_add64(a, v);
		b = sfp_csum_add64(b, w);
		p += 16;
		n -= 16;
	}
	s = sfp_csum_add64(s, a);
	s = sfp_csum_add64(s, b);
	if (n >= 8) {
		memcpy(&v, p, 8);
		s = sfp_csum_add64(s, v);
		p += 8;
		n -= 8;
	}
	if (n) {
		/* the tail as if padded with zero bytes (RFC 768) */
		v = 0;
		memcpy(&v, p, n);
		s = sfp_csum_add64(s, v);
	}
	return s;
}

/* fold to 16 bits, not complemented: same value as rte_raw_cksum() */
static inline uint16_t sfp_csum_fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum hc (as stored)
 * after 16-bit words of the covered data change from old to new (as
 * stored; byte order does not matter, RFC 1071 2(B)).  For relaying
 * without summing the payload again. */
static inline uint16_t sfp_csum_update(uint16_t hc, const uint16_t *old, const uint16_t *new,
				       unsigned nwords)
{
	uint64_t s = (uint16_t)~hc;
	for (unsigned i = 0; i < nwords; i++)
		s += (uint16_t)~old[i] + (uint64_t)new[i];
	return (uint16_t)~sfp_csum_fold(s);
}

#endif
