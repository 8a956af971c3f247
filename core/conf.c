/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration file parser shared by both processes (include/sipfp/config.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipfp/config.h"

enum ktype { K_STR, K_U32, K_BOOL };

struct key {
	const char *name;
	enum ktype type;
	const char *def;
	const char *help;
	size_t off;
};

static const struct key keys[] = {
#define SFP_CFG_KEY(k, t, d, h) { #k, K_##t, d, h, offsetof(struct sfp_config, k) },
	SFP_CONFIG_KEYS(SFP_CFG_KEY)
#undef SFP_CFG_KEY
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int set_key(struct sfp_config *c, const struct key *k, const char *val,
		   char *err, size_t errlen)
{
	char *p = (char *)c + k->off;

	switch (k->type) {
	case K_STR:
		if (strlen(val) >= SFP_CFG_STR_MAX) {
			snprintf(err, errlen, "%s: value longer than %d bytes", k->name,
				 SFP_CFG_STR_MAX - 1);
			return -1;
		}
		snprintf(p, SFP_CFG_STR_MAX, "%s", val);
		return 0;
	case K_U32: {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(val, &end, 10);
		if (!*val || *end || errno || v > UINT32_MAX || val[0] == '-') {
			snprintf(err, errlen, "%s: '%s' is not a number from 0 to %u",
				 k->name, val, UINT32_MAX);
			return -1;
		}
		/* token buckets count thousandths in 32 bits (admission.h) */
		if (strstr(k->name, "_burst") && v > 4000) {
			snprintf(err, errlen, "%s: %llu is more than 4000", k->name, v);
			return -1;
		}
		if (!strcmp(k->name, "ood_ring_reserve") && v > 90) {
			snprintf(err, errlen, "%s: %llu is more than 90 percent", k->name, v);
			return -1;
		}
		*(uint32_t *)(void *)p = (uint32_t)v;
		return 0;
	}
	case K_BOOL:
		if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") ||
		    !strcasecmp(val, "on") || !strcmp(val, "1")) {
			*(bool *)(void *)p = true;
			return 0;
		}
		if (!strcasecmp(val, "no") || !strcasecmp(val, "false") ||
		    !strcasecmp(val, "off") || !strcmp(val, "0")) {
			*(bool *)(void *)p = false;
			return 0;
		}
		snprintf(err, errlen, "%s: '%s' is not yes or no", k->name, val);
		return -1;
	}
	return -1;
}

void sfp_config_defaults(struct sfp_config *c)
{
	char err[128];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		(void)set_key(c, &keys[i], keys[i].def, err, sizeof(err));
}

int sfp_config_set(struct sfp_config *c, const char *key, const char *val,
		   char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, key))
			return set_key(c, &keys[i], val, err, errlen);
	snprintf(err, errlen, "unknown configuration key '%s'", key);
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int sfp_config_set_kv(struct sfp_config *c, const char *kv, char *err, size_t errlen)
{
	char buf[SFP_CFG_STR_MAX + 64];
	if (strlen(kv) >= sizeof(buf)) {
		snprintf(err, errlen, "setting too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", kv);
	char *eq = strchr(buf, '=');
	if (!eq) {
		snprintf(err, errlen, "'%s' is not key=value", kv);
		return -1;
	}
	*eq = '\0';
	return sfp_config_set(c, trim(buf), trim(eq + 1), err, errlen);
}

int sfp_config_load(struct sfp_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024], e[256];
	unsigned ln = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		ln++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, ln);
			fclose(f);
			return -1;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		if (sfp_config_set_kv(c, s, e, sizeof(e))) {
			snprintf(err, errlen, "%s:%u: %s", path, ln, e);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

size_t sfp_config_dump(const struct sfp_config *c, char *buf, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < NKEYS && n < len; i++) {
		const char *p = (const char *)c + keys[i].off;
		int r = 0;
		switch (keys[i].type) {
		case K_STR:
			/* never show secrets */
			if (strstr(keys[i].name, "secret") && *p)
				r = snprintf(buf + n, len - n, "%s = (set)\n", keys[i].name);
			else
				r = snprintf(buf + n, len - n, "%s = %s\n", keys[i].name, p);
			break;
		case K_U32:
			r = snprintf(buf + n, len - n, "%s = %u\n", keys[i].name,
				     *(const uint32_t *)(const void *)p);
			break;
		case K_BOOL:
			r = snprintf(buf + n, len - n, "%s = %s\n", keys[i].name,
				     *(const bool *)(const void *)p ? "yes" : "no");
			break;
		}
		if (r < 0 || (size_t)r >= len - n)
			break;
		n += (size_t)r;
	}
	return n;
}

void sfp_config_print_template(void *fp)
{
	FILE *f = fp;
	fprintf(f, "# sipfp configuration: every key with its default.\n"
		   "# Read by sipfp-dataplane and sipfp-control (--config FILE);\n"
		   "# command-line --set key=value overrides it.\n\n");
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(f, "# %s\n%s = %s\n\n", keys[i].help, keys[i].name, keys[i].def);
}

int sfp_config_port_range(const char *s, uint32_t *first, uint32_t *last, char *err, size_t errlen)
{
	char *e;
	unsigned long a = strtoul(s, &e, 10), b;
	if (e == s || *e != '-') {
		snprintf(err, errlen, "'%s' is not a port range FIRST-LAST", s);
		return -1;
	}
	const char *t = e + 1;
	b = strtoul(t, &e, 10);
	if (e == t || *e) {
		snprintf(err, errlen, "'%s' is not a port range FIRST-LAST", s);
		return -1;
	}
	/* RTP on even ports (RFC 3550 11), four ports a stream */
	if (a < 1024 || b > 65535 || a > b || (a & 1) || b - a + 1 < 4) {
		snprintf(err, errlen, "port range '%s': FIRST even and >= 1024, LAST <= 65535, "
			 "at least 4 ports", s);
		return -1;
	}
	*first = (uint32_t)a;
	*last = (uint32_t)b;
	return 0;
}
