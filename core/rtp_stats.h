/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-stream RTP statistics from the RTP header alone, cheap enough for
 * every relayed packet: extended highest sequence number and packets
 * received for loss (RFC 3550 A.1, without the probation of a new
 * source), interarrival jitter (A.8, in its integer form: kept x16).
 * Pure C on struct sfp_media_stats (include/sipfp/media.h), so the unit
 * tests run it without an EAL.
 */
#ifndef SFP_RTP_STATS_H
#define SFP_RTP_STATS_H

#include <stdint.h>
#include "sipfp/media.h"

#define SFP_RTP_MAX_DROPOUT 3000  /* RFC 3550 A.1 */
#define SFP_RTP_MAX_MISORDER 100

/* packets the stream should have delivered so far */
static inline uint64_t sfp_rtp_expected(const struct sfp_media_stats *s)
{
	if (!s->seq_init)
		return 0;
	return s->expected_prior + s->cycles + s->max_seq - s->base_seq + 1;
}

static inline uint64_t sfp_rtp_lost(const struct sfp_media_stats *s)
{
	uint64_t e = sfp_rtp_expected(s);
	return e > s->rtp_pkts ? e - s->rtp_pkts : 0;
}

/* one packet's RTP header rtp[0..len), arrived at now_us, clock in kHz */
static inline void sfp_rtp_stats(struct sfp_media_stats *s, const uint8_t *rtp, uint32_t len,
				 uint16_t clock_khz, uint64_t now_us)
{
	if (len < 12 || (rtp[0] >> 6) != 2)
		return;
	uint8_t pt = rtp[1] & 0x7f;
	if (pt >= 72 && pt <= 76)
		return; /* RTCP multiplexed on the RTP port (RFC 5761 4) */
	uint16_t seq = (uint16_t)(rtp[2] << 8 | rtp[3]);
	uint32_t ts = (uint32_t)rtp[4] << 24 | (uint32_t)rtp[5] << 16 | (uint32_t)rtp[6] << 8 | rtp[7];
	uint32_t transit = (uint32_t)(now_us * clock_khz / 1000) - ts;
	s->rtp_pkts++;
	uint16_t delta = (uint16_t)(seq - s->max_seq);
	if (!s->seq_init || (delta >= SFP_RTP_MAX_DROPOUT && delta < 65536 - SFP_RTP_MAX_MISORDER)) {
		/* the first packet, or the numbering jumped: the source
		 * restarted (A.1 resynchronises; its timestamps jump too, so
		 * the jitter estimate carries on from the next packet) */
		if (s->seq_init)
			s->expected_prior += s->cycles + s->max_seq - s->base_seq + 1;
		s->seq_init = 1;
		s->base_seq = seq;
		s->max_seq = seq;
		s->cycles = 0;
		s->last_transit = transit;
		return;
	}
	if (delta < SFP_RTP_MAX_DROPOUT) { /* in order, maybe after a gap */
		if (seq < s->max_seq)
			s->cycles += 1u << 16;
		s->max_seq = seq;
	}
	/* A.8: J += (|D| - J) / 16 */
	/* |D| in unsigned arithmetic: D may be INT32_MIN, whose negation
	 * overflows an int32_t (found by the fuzzer) */
	uint32_t d = transit - (uint32_t)s->last_transit;
	s->last_transit = transit;
	if (d & 0x80000000u)
		d = 0u - d;
	s->jitter_q4 += d - ((s->jitter_q4 + 8) >> 4);
	if (s->jitter_q4 > s->max_jitter_q4)
		s->max_jitter_q4 = s->jitter_q4;
}

#endif
