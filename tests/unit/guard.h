/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers: put bytes right before a PROT_NONE page, so that any read
 * past the end of the input faults (the picohttpparser test model).
 */
#ifndef SFP_TEST_GUARD_H
#define SFP_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	char *base;
	size_t size;     /* readable bytes before the guard page */
};

static inline void guard_init(struct guard *g, size_t max)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	g->size = (max + pg - 1) / pg * pg;
	g->base = mmap(NULL, g->size + pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED)
		abort();
	if (mprotect(g->base + g->size, pg, PROT_NONE))
		abort();
}

/* copy n bytes so that they end exactly at the guard page */
static inline const char *guard_put(struct guard *g, const void *p, size_t n)
{
	if (n > g->size)
		abort();
	char *dst = g->base + g->size - n;
	if (n)
		memcpy(dst, p, n);
	return dst;
}

static inline void guard_free(struct guard *g)
{
	munmap(g->base, g->size + (size_t)sysconf(_SC_PAGESIZE));
}

/* read a whole file; NULL if missing */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* the torture corpus: $SIPFP_CORPUS (meson sets it), else tests/corpus
 * of the tree the test is run from */
static inline const char *corpus_dir(void)
{
	const char *d = getenv("SIPFP_CORPUS");
	return d ? d : "tests/corpus";
}

#endif
