/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Differential test: sipfp's scanner against libosip2, a second SIP parser
 * written by others.  For every message libosip2 parses, the two must agree
 * on method or status, Call-ID, CSeq, the top Via's branch and sent-by,
 * the From and To tags and Content-Length; and the scanner must accept it.
 * Every disagreement is either a bug (fails the test) or listed, with the
 * reason, in known.txt ("file field  why"), which the test also checks is
 * not stale.
 *
 *   diff_osip KNOWN_FILE MESSAGE_FILE...
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "sip_scan.h"

struct known {
	char file[128], field[32];
	int used;
};
static struct known known[256];
static int nknown, unexplained;

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void load_known(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f) && nknown < 256) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%127s %31s", known[nknown].file, known[nknown].field) == 2)
			nknown++;
	}
	fclose(f);
}

static void differ(const char *file, const char *field, const char *ours, const char *theirs)
{
	for (int i = 0; i < nknown; i++) {
		if (!strcmp(known[i].file, base(file)) && !strcmp(known[i].field, field)) {
			known[i].used = 1;
			printf("known   %-28s %-14s sipfp=[%.60s] osip=[%.60s]\n", base(file), field, ours, theirs);
			return;
		}
	}
	unexplained++;
	printf("DIFFERS %-28s %-14s sipfp=[%.60s] osip=[%.60s]\n", base(file), field, ours, theirs);
}

static void str_of(struct sfp_str s, char *out, size_t n)
{
	size_t k = s.p ? (s.n < n - 1 ? s.n : n - 1) : 0;
	memcpy(out, s.p ? s.p : "", k);
	out[k] = 0;
}

static void cmp_str(const char *file, const char *field, struct sfp_str ours, const char *theirs,
		    int nocase)
{
	const char *t = theirs ? theirs : "";
	size_t n = ours.p ? ours.n : 0;
	if (strlen(t) == n && !(nocase ? strncasecmp(ours.p ? ours.p : "", t, n)
				       : memcmp(ours.p ? ours.p : "", t, n)))
		return;
	char o[512];
	str_of(ours, o, sizeof(o));
	differ(file, field, o, t);
}

static void check(const char *file)
{
	FILE *f = fopen(file, "rb");
	static char buf[70000];
	if (!f) {
		perror(file);
		exit(2);
	}
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;

	osip_message_t *o;
	osip_message_init(&o);
	if (osip_message_parse(o, buf, len) != 0) {
		osip_message_free(o);
		return; /* the harness compares what libosip2 accepts */
	}
	struct sfp_sip m;
	enum sfp_scan_err err = sfp_scan(buf, len, &m);
	if (err != SFP_SE_OK) {
		differ(file, "accept", sfp_scan_err_reason(err), "parsed");
		osip_message_free(o);
		return;
	}
	char a[64], b[64];
	if (MSG_IS_REQUEST(o)) {
		cmp_str(file, "method", m.method_name, o->sip_method, 0);
	} else {
		snprintf(a, sizeof(a), "%u", m.status);
		snprintf(b, sizeof(b), "%d", o->status_code);
		if (strcmp(a, b))
			differ(file, "status", a, b);
	}
	osip_call_id_t *cid = osip_message_get_call_id(o);
	char *cs = NULL;
	if (cid)
		osip_call_id_to_str(cid, &cs);
	cmp_str(file, "call-id", m.call_id, cs, 0);
	osip_free(cs);

	osip_cseq_t *cq = osip_message_get_cseq(o);
	snprintf(a, sizeof(a), "%u", m.cseq_num);
	/* compared as numbers: "0009" is 9 (RFC 4475 wsinv) */
	if (!cq || !cq->number || strtoul(cq->number, NULL, 10) != m.cseq_num)
		differ(file, "cseq", a, cq && cq->number ? cq->number : "");
	cmp_str(file, "cseq-method", m.cseq_method, cq ? cq->method : NULL, 0);

	osip_via_t *v = NULL;
	osip_message_get_via(o, 0, &v);
	osip_generic_param_t *br = NULL;
	if (v)
		osip_via_param_get_byname(v, "branch", &br);
	cmp_str(file, "via-branch", m.top_via.branch, br ? br->gvalue : NULL, 0);
	struct sfp_str h = m.top_via.host;
	if (h.n >= 2 && h.p[0] == '[') { /* libosip2 keeps IPv6 references without brackets */
		h.p++;
		h.n -= 2;
	}
	cmp_str(file, "via-host", h, v ? v->host : NULL, 1);
	snprintf(a, sizeof(a), "%u", m.top_via.port);
	snprintf(b, sizeof(b), "%s", v && v->port ? v->port : "0");
	if (strcmp(a, b))
		differ(file, "via-port", a, b);

	osip_generic_param_t *tag = NULL;
	if (osip_message_get_from(o))
		osip_from_get_tag(osip_message_get_from(o), &tag);
	cmp_str(file, "from-tag", m.from_tag, tag ? tag->gvalue : NULL, 0);
	tag = NULL;
	if (osip_message_get_to(o))
		osip_to_get_tag(osip_message_get_to(o), &tag);
	cmp_str(file, "to-tag", m.to_tag, tag ? tag->gvalue : NULL, 0);

	osip_content_length_t *cl = osip_message_get_content_length(o);
	snprintf(a, sizeof(a), "%lld", (long long)m.content_length);
	snprintf(b, sizeof(b), "%s", cl && cl->value ? cl->value : "-1");
	if (strcmp(a, b))
		differ(file, "content-length", a, b);
	osip_message_free(o);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s KNOWN_FILE MESSAGE_FILE...\n", argv[0]);
		return 2;
	}
	parser_init();
	/* libosip2's own error lines would drown the report */
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	load_known(argv[1]);
	for (int i = 2; i < argc; i++)
		check(argv[i]);
	int stale = 0;
	for (int i = 0; i < nknown; i++) {
		if (!known[i].used) {
			printf("STALE   %s %s: listed in known.txt but the parsers agree now\n",
			       known[i].file, known[i].field);
			stale++;
		}
	}
	printf("%d files, %d unexplained disagreements, %d stale explanations\n", argc - 2,
	       unexplained, stale);
	return unexplained || stale ? 1 : 0;
}
