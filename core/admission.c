/* SPDX-License-Identifier: BSD-3-Clause */
/* Admission control: token buckets, bans, allow list, brute force, User-Agent. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"

/* every table here hashes with sfp_mix64 (admission.h): neighbouring
 * addresses of a scanned /24 must not land in neighbouring sets or slots */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* ---- seqlock ---------------------------------------------------------------- */

#define SEQ_TRIES 1000

static inline void seq_write_begin(volatile uint32_t *s)
{
	__atomic_store_n(s, *s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void seq_write_end(volatile uint32_t *s)
{
	__atomic_store_n(s, *s + 1, __ATOMIC_RELEASE);
}

/* false while the writer is inside */
static inline bool seq_read_begin(const volatile uint32_t *s, uint32_t *v)
{
	*v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
	return !(*v & 1);
}

static inline bool seq_read_ok(const volatile uint32_t *s, uint32_t v)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(s, __ATOMIC_RELAXED) == v;
}

/* ---- token buckets ------------------------------------------------------------- */

size_t sfp_rl_size(uint32_t sources)
{
	uint32_t sets = pow2_at_least((sources + SFP_RL_WAYS - 1) / SFP_RL_WAYS);
	return sizeof(struct sfp_rl) + (size_t)sets * SFP_RL_WAYS * sizeof(struct sfp_rl_entry);
}

void sfp_rl_init(struct sfp_rl *t, uint32_t sources)
{
	uint32_t sets = pow2_at_least((sources + SFP_RL_WAYS - 1) / SFP_RL_WAYS);
	memset(t, 0, sfp_rl_size(sources));
	t->mask = sets - 1;
}

static inline void rl_refill(struct sfp_rl_entry *e, uint32_t now, const struct sfp_rl_limits *l)
{
	uint32_t el = now - e->last_ms;
	if (!el || el > 0x80000000u) /* the clock never runs back; ignore if it seems to */
		return;
	for (int b = 0; b < 2; b++) {
		uint64_t cap = (uint64_t)l->burst[b] * SFP_RL_SCALE;
		uint64_t v = e->tok[b] + (uint64_t)el * l->rate[b];
		e->tok[b] = (uint32_t)(v > cap ? cap : v);
	}
	e->last_ms = now;
}

struct sfp_rl_entry *sfp_rl_get(struct sfp_rl *t, uint32_t ip, uint32_t now_ms,
				const struct sfp_rl_limits *l)
{
	struct sfp_rl_entry *s = &t->e[sfp_rl_set(t, ip)];
	struct sfp_rl_entry *victim = s;

	now_ms |= 1; /* last_ms 0 marks a free way */
	for (unsigned w = 0; w < SFP_RL_WAYS; w++) {
		struct sfp_rl_entry *e = &s[w];
		if (!e->last_ms) {
			victim = e; /* ways fill in order and are never freed */
			goto fresh;
		}
		if (e->ip == ip) {
			rl_refill(e, now_ms, l);
			return e;
		}
		if ((int32_t)(e->last_ms - victim->last_ms) < 0)
			victim = e;
	}
	t->evictions++;
fresh:
	victim->ip = ip;
	victim->last_ms = now_ms;
	for (int b = 0; b < 2; b++)
		victim->tok[b] = l->burst[b] * SFP_RL_SCALE;
	return victim;
}

bool sfp_rl_take(struct sfp_rl_entry *e, enum sfp_rl_bucket b, const struct sfp_rl_limits *l)
{
	if (!l->rate[b])
		return true;
	uint32_t cap = l->burst[b] * SFP_RL_SCALE;
	if (e->tok[b] > cap) /* the burst was lowered at run time */
		e->tok[b] = cap;
	if (e->tok[b] < SFP_RL_SCALE)
		return false;
	e->tok[b] -= SFP_RL_SCALE;
	return true;
}

/* ---- ban table --------------------------------------------------------------------- */

#define BAN_MASK (SFP_BAN_SLOTS - 1)

static inline uint32_t ban_home(uint64_t key)
{
	return (uint32_t)(sfp_mix64(key) & BAN_MASK);
}

static inline bool ban_live(const volatile struct sfp_ban *b, uint64_t now)
{
	uint64_t until = b->until_ms;
	return until == 0 || now < until;
}

/* slot of key, or -1; the caller holds the write side or a read section */
static int ban_find(const struct sfp_ban_table *t, uint64_t key)
{
	uint32_t i = ban_home(key);
	for (uint32_t n = 0; n < SFP_BAN_SLOTS; n++, i = (i + 1) & BAN_MASK) {
		uint64_t k = ((const volatile struct sfp_ban *)&t->slot[i])->key;
		if (k == key)
			return (int)i;
		if (!k)
			return -1;
	}
	return -1;
}

bool sfp_ban_lookup(const struct sfp_ban_table *t, uint32_t ip, uint16_t port, uint64_t now_ms)
{
	if (!t->count)
		return false;
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t v;
		if (!seq_read_begin(&t->seq, &v))
			continue;
		bool hit = false;
		int i = ban_find(t, SFP_BAN_KEY(ip, 0));
		if (i >= 0 && ban_live(&t->slot[i], now_ms))
			hit = true;
		if (!hit && port) {
			i = ban_find(t, SFP_BAN_KEY(ip, port));
			hit = i >= 0 && ban_live(&t->slot[i], now_ms);
		}
		if (seq_read_ok(&t->seq, v))
			return hit;
	}
	return false; /* the writer never finished: let the buckets decide */
}

int sfp_ban_add(struct sfp_ban_table *t, uint32_t ip, uint16_t port, uint64_t now_ms,
		uint64_t until_ms, uint8_t why, uint32_t fails)
{
	uint64_t key = SFP_BAN_KEY(ip, port);
	int i = ban_find(t, key);
	if (i < 0 && t->count >= SFP_BAN_MAX)
		return -1;
	seq_write_begin(&t->seq);
	int r = 1;
	if (i < 0) {
		uint32_t j = ban_home(key);
		while (t->slot[j].key)
			j = (j + 1) & BAN_MASK;
		i = (int)j;
		t->slot[i].key = key;
		t->slot[i].since_ms = now_ms;
		t->count++;
		r = 0;
	}
	struct sfp_ban *b = &t->slot[i];
	/* a manual ban is never shortened by an automatic one */
	if (r == 0 || why == SFP_BAN_MANUAL || b->why != SFP_BAN_MANUAL) {
		b->until_ms = until_ms;
		b->why = why;
	}
	b->fails = fails;
	seq_write_end(&t->seq);
	return r;
}

/* linear-probing deletion by backward shift: no tombstones, probes stay
 * short however many bans come and go.  Inside the write section. */
static void ban_del_at(struct sfp_ban_table *t, uint32_t i)
{
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & BAN_MASK;
		if (!t->slot[j].key)
			break;
		uint32_t k = ban_home(t->slot[j].key);
		/* j's entry may stay if its home lies cyclically in (i, j] */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		t->slot[i] = t->slot[j];
		i = j;
	}
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
	t->count--;
}

int sfp_ban_del(struct sfp_ban_table *t, uint32_t ip, uint16_t port)
{
	int i = ban_find(t, SFP_BAN_KEY(ip, port));
	if (i < 0)
		return -1;
	seq_write_begin(&t->seq);
	ban_del_at(t, (uint32_t)i);
	seq_write_end(&t->seq);
	return 0;
}

static unsigned ban_sweep(struct sfp_ban_table *t, uint64_t now_ms, bool manual)
{
	unsigned n = 0;
	if (!t->count)
		return 0;
	seq_write_begin(&t->seq);
	for (uint32_t i = 0; i < SFP_BAN_SLOTS;) {
		struct sfp_ban *b = &t->slot[i];
		if (b->key && (manual ? b->why == SFP_BAN_MANUAL : !ban_live(b, now_ms))) {
			ban_del_at(t, i); /* a later entry may have moved here: look again */
			n++;
			continue;
		}
		i++;
	}
	seq_write_end(&t->seq);
	return n;
}

unsigned sfp_ban_expire(struct sfp_ban_table *t, uint64_t now_ms)
{
	return ban_sweep(t, now_ms, false);
}

unsigned sfp_ban_clear_manual(struct sfp_ban_table *t)
{
	return ban_sweep(t, 0, true);
}

unsigned sfp_ban_snapshot(const struct sfp_ban_table *t, struct sfp_ban *out, unsigned max)
{
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t v;
		unsigned n = 0;
		if (!seq_read_begin(&t->seq, &v))
			continue;
		for (uint32_t i = 0; i < SFP_BAN_SLOTS && n < max; i++)
			if (((const volatile struct sfp_ban *)&t->slot[i])->key)
				memcpy(&out[n++], &t->slot[i], sizeof(*out));
		if (seq_read_ok(&t->seq, v))
			return n;
	}
	return 0;
}

/* ---- allow list ------------------------------------------------------------------------ */

static inline uint32_t len_mask(uint8_t len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

bool sfp_allow_match(const struct sfp_allow_list *l, uint32_t ip)
{
	if (!l->n)
		return false;
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t v;
		if (!seq_read_begin(&l->seq, &v))
			continue;
		bool hit = false;
		uint32_t n = l->n;
		for (uint32_t i = 0; i < n && i < SFP_ALLOW_MAX && !hit; i++)
			hit = (ip & l->e[i].mask) == l->e[i].net;
		if (seq_read_ok(&l->seq, v))
			return hit;
	}
	return false;
}

int sfp_allow_add(struct sfp_allow_list *l, uint32_t net, uint8_t len, bool from_cfg)
{
	uint32_t mask = len_mask(len);
	for (uint32_t i = 0; i < l->n; i++)
		if (l->e[i].net == (net & mask) && l->e[i].len == len)
			return 1;
	if (l->n >= SFP_ALLOW_MAX)
		return -1;
	seq_write_begin(&l->seq);
	struct sfp_cidr *c = &l->e[l->n];
	memset(c, 0, sizeof(*c));
	c->net = net & mask;
	c->mask = mask;
	c->len = len;
	c->from_cfg = from_cfg;
	l->n++;
	seq_write_end(&l->seq);
	return 0;
}

static void allow_remove_at(struct sfp_allow_list *l, uint32_t i)
{
	memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof(l->e[0]));
	l->n--;
}

int sfp_allow_del(struct sfp_allow_list *l, uint32_t net, uint8_t len)
{
	uint32_t mask = len_mask(len);
	for (uint32_t i = 0; i < l->n; i++) {
		if (l->e[i].net == (net & mask) && l->e[i].len == len) {
			seq_write_begin(&l->seq);
			allow_remove_at(l, i);
			seq_write_end(&l->seq);
			return 0;
		}
	}
	return -1;
}

void sfp_allow_clear_runtime(struct sfp_allow_list *l)
{
	seq_write_begin(&l->seq);
	for (uint32_t i = 0; i < l->n;) {
		if (!l->e[i].from_cfg)
			allow_remove_at(l, i);
		else
			i++;
	}
	seq_write_end(&l->seq);
}

unsigned sfp_allow_snapshot(const struct sfp_allow_list *l, struct sfp_cidr *out, unsigned max)
{
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t v;
		if (!seq_read_begin(&l->seq, &v))
			continue;
		unsigned n = l->n;
		if (n > max)
			n = max;
		if (n > SFP_ALLOW_MAX)
			n = SFP_ALLOW_MAX;
		memcpy(out, l->e, n * sizeof(*out));
		if (seq_read_ok(&l->seq, v))
			return n;
	}
	return 0;
}

/* "a.b.c.d" or "a.b.c.d<sep>N" with min <= N <= max; *num is left as it
 * is when there is no number */
static int addr_num_parse(const char *s, char sep, unsigned long min, unsigned long max,
			  uint32_t *ip, unsigned long *num)
{
	char buf[32];
	const char *p = strchr(s, sep);
	size_t n = p ? (size_t)(p - s) : strlen(s);
	struct in_addr a;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	if (p) {
		char *end;
		if (!isdigit((unsigned char)p[1]))
			return -1;
		*num = strtoul(p + 1, &end, 10);
		if (*end || *num < min || *num > max)
			return -1;
	}
	*ip = a.s_addr;
	return 0;
}

int sfp_cidr_parse(const char *s, uint32_t *net, uint8_t *len)
{
	unsigned long l = 32;
	uint32_t ip;
	if (addr_num_parse(s, '/', 0, 32, &ip, &l))
		return -1;
	/* host bits set is a typo more often than an intent: refuse it */
	if ((ip & ~len_mask((uint8_t)l)) != 0)
		return -1;
	*net = ip;
	*len = (uint8_t)l;
	return 0;
}

int sfp_hostport_parse(const char *s, uint32_t *ip, uint16_t *port)
{
	unsigned long p = 0;
	if (addr_num_parse(s, ':', 1, 65535, ip, &p))
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* next comma-separated item of *s, spaces trimmed; false at the end */
static bool next_item(const char **s, const char **p, size_t *n)
{
	const char *c = *s;
	while (*c == ' ' || *c == ',')
		c++;
	if (!*c)
		return false;
	const char *e = c;
	while (*e && *e != ',')
		e++;
	*s = e;
	while (e > c && e[-1] == ' ')
		e--;
	*p = c;
	*n = (size_t)(e - c);
	return true;
}

int sfp_allow_parse_list(struct sfp_allow_list *l, const char *s, char *err, size_t errlen)
{
	const char *p;
	size_t n;
	while (next_item(&s, &p, &n)) {
		char item[64];
		uint32_t net;
		uint8_t len;
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "allow: item too long");
			return -1;
		}
		memcpy(item, p, n);
		item[n] = 0;
		if (sfp_cidr_parse(item, &net, &len)) {
			snprintf(err, errlen, "allow: \"%s\" is not an IPv4 prefix (a.b.c.d/len, host bits zero)", item);
			return -1;
		}
		if (sfp_allow_add(l, net, len, true) < 0) {
			snprintf(err, errlen, "allow: more than %u prefixes", SFP_ALLOW_MAX);
			return -1;
		}
	}
	return 0;
}

/* ---- brute-force tracker ------------------------------------------------------------------ */

#define BF_WAYS 4

size_t sfp_bf_size(uint32_t keys)
{
	return sizeof(struct sfp_bf) +
	       (size_t)pow2_at_least((keys + BF_WAYS - 1) / BF_WAYS) * BF_WAYS * sizeof(struct sfp_bf_entry);
}

void sfp_bf_init(struct sfp_bf *t, uint32_t keys)
{
	memset(t, 0, sfp_bf_size(keys));
	t->mask = pow2_at_least((keys + BF_WAYS - 1) / BF_WAYS) - 1;
}

uint32_t sfp_bf_fail(struct sfp_bf *t, uint64_t key, uint64_t now_ms, uint32_t window_ms)
{
	struct sfp_bf_entry *s = &t->e[(size_t)(sfp_mix64(key) & t->mask) * BF_WAYS], *e = NULL;
	struct sfp_bf_entry *victim = s;
	for (unsigned w = 0; w < BF_WAYS; w++) {
		if (s[w].key == key) {
			e = &s[w];
			break;
		}
		if (!s[w].key)
			victim = &s[w];
		else if (victim->key && s[w].start_ms < victim->start_ms)
			victim = &s[w];
	}
	if (!e) {
		e = victim;
		e->key = key;
		e->start_ms = now_ms;
		e->fails = 0;
	}
	if (now_ms - e->start_ms >= window_ms) {
		e->start_ms = now_ms;
		e->fails = 0;
	}
	return ++e->fails;
}

void sfp_bf_forget(struct sfp_bf *t, uint64_t key)
{
	struct sfp_bf_entry *s = &t->e[(size_t)(sfp_mix64(key) & t->mask) * BF_WAYS];
	for (unsigned w = 0; w < BF_WAYS; w++)
		if (s[w].key == key)
			memset(&s[w], 0, sizeof(s[w]));
}

/* ---- User-Agent blocklist -------------------------------------------------------------------- */

int sfp_ua_parse(struct sfp_ua_list *l, const char *csv, char *err, size_t errlen)
{
	const char *p;
	size_t n;
	memset(l, 0, sizeof(*l));
	while (next_item(&csv, &p, &n)) {
		if (n >= SFP_UA_LEN) {
			snprintf(err, errlen, "ua_block: a pattern is longer than %d bytes", SFP_UA_LEN - 1);
			return -1;
		}
		if (l->n >= SFP_UA_MAX) {
			snprintf(err, errlen, "ua_block: more than %d patterns", SFP_UA_MAX);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			l->e[l->n].s[i] = (char)tolower((unsigned char)p[i]);
		l->e[l->n].len = (uint8_t)n;
		l->n++;
	}
	return 0;
}

/* Scanners announce themselves in the first few words; looking further
 * would let a 64 KiB User-Agent cost a pattern search per byte. */
#define UA_SCAN_MAX 256

bool sfp_ua_match(const struct sfp_ua_list *l, const char *p, size_t n)
{
	if (!l->n || !p)
		return false;
	if (n > UA_SCAN_MAX)
		n = UA_SCAN_MAX;
	char low[UA_SCAN_MAX];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	/* patterns and User-Agents are a few dozen octets: a first-octet
	 * scan beats memmem's per-call set-up (5 % of a 407 with it) */
	for (unsigned k = 0; k < l->n; k++) {
		size_t m = l->e[k].len;
		const char *pat = l->e[k].s;
		if (!m || m > n)
			continue;
		for (size_t i = 0; i + m <= n; i++)
			if (low[i] == pat[0] && memcmp(low + i + 1, pat + 1, m - 1) == 0)
				return true;
	}
	return false;
}
