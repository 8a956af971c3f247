/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtpgen: RTP load for a media relay, and what comes back.  Sends G.711
 * packets (12-byte RTP header, 160 bytes of payload whose first 8 carry the
 * send time) round robin to one destination port per stream, from one
 * source, at a paced rate or as fast as it can, for a bounded time; counts
 * what the relay delivers to the receiving port and the latency each
 * packet had (send to receive, one clock: sender and receiver are this
 * process).  For bench/relay.sh (sipfp against rtpengine).
 *
 *   rtpgen SRC_IP DST_IP PORTS_FILE RECV_PORT RATE SECS
 *     RATE: packets per second in all (0: as fast as possible)
 *   prints: sent=N received=N secs=S rx_pps=N p50_us=N p99_us=N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PKT 172
#define HIST_US 200000 /* latencies above 200 ms go in the last bucket */

static volatile int done;
static uint64_t received;
static uint64_t hist[HIST_US + 1];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *rx(void *arg)
{
	int fd = *(int *)arg;
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	static uint8_t buf[BATCH][2048];
	struct timeval tv = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (!done) {
		int n = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
		uint64_t t = now_ns();
		for (int i = 0; i < n; i++) {
			if (mm[i].msg_len < 20)
				continue;
			uint64_t sent;
			memcpy(&sent, buf[i] + 12, 8);
			uint64_t us = t > sent ? (t - sent) / 1000 : 0;
			hist[us < HIST_US ? us : HIST_US]++;
			received++;
		}
	}
	return NULL;
}

static uint64_t pct(double q)
{
	uint64_t want = (uint64_t)(q * (double)received), acc = 0;
	for (uint64_t i = 0; i <= HIST_US; i++)
		if ((acc += hist[i]) > want)
			return i;
	return HIST_US;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: rtpgen SRC_IP DST_IP PORTS_FILE RECV_PORT RATE SECS\n");
		return 2;
	}
	struct in_addr src, dst;
	if (inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "rtpgen: bad address\n");
		return 2;
	}
	FILE *pf = fopen(argv[3], "r");
	if (!pf) {
		perror(argv[3]);
		return 1;
	}
	static uint16_t ports[65536];
	unsigned np = 0, p;
	while (np < 65536 && fscanf(pf, "%u", &p) == 1)
		ports[np++] = (uint16_t)p;
	fclose(pf);
	unsigned recv_port = (unsigned)atoi(argv[4]);
	double rate = atof(argv[5]), secs = atof(argv[6]);
	if (!np || secs <= 0 || secs > 600) {
		fprintf(stderr, "rtpgen: no ports, or SECS not in (0, 600]\n");
		return 2;
	}

	int tx = socket(AF_INET, SOCK_DGRAM, 0), rxfd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = src, .sin_port = htons(4000) };
	int big = 8 << 20;
	setsockopt(rxfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	if (bind(tx, (struct sockaddr *)&a, sizeof(a))) {
		perror("bind sender");
		return 1;
	}
	a.sin_port = htons((uint16_t)recv_port);
	if (bind(rxfd, (struct sockaddr *)&a, sizeof(a))) {
		perror("bind receiver");
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, rx, &rxfd);

	static uint8_t pkt[BATCH][PKT];
	struct sockaddr_in to[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr mm[BATCH];
	uint64_t sent = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		unsigned n = BATCH;
		if (rate > 0) {
			uint64_t due = (uint64_t)((double)(t - t0) / 1e9 * rate);
			if (due <= sent) {
				usleep(200);
				continue;
			}
			if (due - sent < n)
				n = (unsigned)(due - sent);
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t k = sent + i;
			uint8_t *b = pkt[i];
			unsigned s = (unsigned)(k % np);
			uint16_t seq = (uint16_t)(k / np);
			uint32_t ts = 160u * seq, ssrc = 0x5f000000u + s;
			b[0] = 0x80;
			b[1] = 0;
			b[2] = (uint8_t)(seq >> 8);
			b[3] = (uint8_t)seq;
			memcpy(b + 4, &(uint32_t){ htonl(ts) }, 4);
			memcpy(b + 8, &(uint32_t){ htonl(ssrc) }, 4);
			memcpy(b + 12, &t, 8);
			to[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = dst,
						      .sin_port = htons(ports[s]) };
			iov[i] = (struct iovec){ b, PKT };
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = &to[i];
			mm[i].msg_hdr.msg_namelen = sizeof(to[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(tx, mm, n, 0);
		if (r > 0)
			sent += (uint64_t)r;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	usleep(300000); /* what is still on its way */
	done = 1;
	pthread_join(th, NULL);
	printf("sent=%lu received=%lu secs=%.2f tx_pps=%.0f rx_pps=%.0f p50_us=%lu p99_us=%lu\n",
	       (unsigned long)sent, (unsigned long)received, el, (double)sent / el,
	       (double)received / el, (unsigned long)pct(0.5), (unsigned long)pct(0.99));
	return 0;
}
