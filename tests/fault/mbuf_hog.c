/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection for the integration tests: exhaust the data plane's
 * mempool on purpose.  A DPDK secondary process that takes every free
 * packet buffer from the shared pool and keeps taking whatever comes back
 * to it, until it is told to stop (SIGTERM or SIGINT); then it puts every
 * buffer back and exits.
 *
 * It takes buffers with no per-lcore cache, straight from the pool's common
 * store, so they return there and not into a cache of ours no one else
 * could reach.  Buffers kept in the workers' own caches stay theirs: that
 * is how a real exhaustion looks to a worker too (it runs on what it holds).
 *
 *   mbuf_hog EAL-OPTIONS --proc-type=secondary --file-prefix P
 * prints "held N" once it holds the pool's free buffers, then "released N".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mempool.h>

#include "sipfp/shm.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* take free objects until the pool says no; returns how many were added */
static unsigned grab(struct rte_mempool *mp, void **held, unsigned *n, unsigned cap)
{
	unsigned got = 0;
	while (*n < cap && rte_mempool_generic_get(mp, &held[*n], 1, NULL) == 0) {
		(*n)++;
		got++;
	}
	return got;
}

int main(int argc, char **argv)
{
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "mbuf_hog: EAL init failed (is sipfp-dataplane running with this "
				"--file-prefix?)\n");
		return 1;
	}
	struct rte_mempool *mp = rte_mempool_lookup(SFP_MP_MBUF);
	if (!mp) {
		fprintf(stderr, "mbuf_hog: no mempool %s\n", SFP_MP_MBUF);
		rte_eal_cleanup();
		return 1;
	}
	unsigned cap = mp->size, n = 0;
	void **held = calloc(cap, sizeof(*held));
	if (!held) {
		fprintf(stderr, "mbuf_hog: out of memory\n");
		rte_eal_cleanup();
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	grab(mp, held, &n, cap);
	printf("held %u of %u\n", n, cap);
	fflush(stdout);
	/* keep the pool dry: whatever the data plane frees beyond its caches
	 * lands in the common store, and is taken again within a millisecond */
	while (!quit) {
		usleep(1000);
		grab(mp, held, &n, cap);
	}
	rte_mempool_generic_put(mp, held, n, NULL);
	printf("released %u\n", n);
	fflush(stdout);
	free(held);
	rte_eal_cleanup();
	return 0;
}
