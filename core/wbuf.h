/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Appending to a fixed buffer that remembers it overflowed, so a builder
 * writes straight through and checks once at the end.  Used by the reply
 * builders of the fast path and by the control process's proxy.
 */
#ifndef SFP_WBUF_H
#define SFP_WBUF_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sip_scan.h"

struct sfp_wbuf {
	char *p;
	size_t n, cap;
	bool full;   /* something did not fit: the result is unusable */
};

static inline void sfp_put(struct sfp_wbuf *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->n) {
		w->full = true;
		return;
	}
	if (!n)
		return; /* an empty slice may have a NULL pointer: memcpy forbids it */
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

/* always inline: with a literal the length is folded at compile time */
static inline __attribute__((always_inline)) void sfp_puts(struct sfp_wbuf *w, const char *s)
{
	sfp_put(w, s, __builtin_strlen(s));
}

static inline void sfp_putstr(struct sfp_wbuf *w, struct sfp_str s)
{
	sfp_put(w, s.p, s.n);
}

static inline void sfp_putu(struct sfp_wbuf *w, uint32_t v)
{
	char b[10];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sfp_put(w, b + i, sizeof(b) - i);
}

#endif
