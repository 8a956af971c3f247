/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sipfpctl: the operator CLI of sipfp.  It does not link DPDK; it talks
 * to sipfp-control over a Unix socket (include/sipfp/cli_proto.h) and
 * prints aligned tables, or JSON with -j.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sipfp/cli_proto.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sipfpctl [-s SOCKET] [-j] COMMAND\n\n"
		"Commands:\n"
		"  user add NAME            add or change a user; the password is read from\n"
		"                           standard input (prompted, not echoed, on a terminal)\n"
		"  user add NAME --ha1 HEX  add with a known MD5 HA1 = MD5(NAME:realm:password)\n"
		"  user del NAME            remove a user\n"
		"  user list                users with their realm and digest algorithms\n"
		"  user import FILE         add users from an htdigest file (user:realm:ha1),\n"
		"                           all or none; '-' reads standard input\n"
		"  stats                    data plane and control counters\n"
		"  config show              the data plane's effective configuration\n"
		"  reg list                 current registrations\n"
		"  dialog list              calls in progress\n"
		"  media list               anchored media streams: ports, endpoints, packets, jitter\n"
		"  node list                the nodes sharing the PostgreSQL store: heartbeats, registrations\n"
		"  conn list                SIP over TCP/TLS: peers, transport, TLS version/cipher, bytes, users\n"
		"  ban list                 banned sources, why, for how long\n"
		"  ban add ADDR[:PORT] [S]  drop a source (S seconds, or until removed)\n"
		"  ban del ADDR[:PORT]      lift a ban (manual or automatic)\n"
		"  allow list               trusted prefixes (no rate limits, never banned)\n"
		"  allow add|del PREFIX     change them (a.b.c.d/len)\n"
		"  limit show               rate and brute-force limits in force\n"
		"  limit set NAME VALUE     change one at run time (kept across restarts)\n"
		"  limit reset              back to the configuration file's values\n\n"
		"Options:\n"
		"  -s, --socket PATH   sipfp-control's socket (default %s)\n"
		"  -j, --json          JSON output\n"
		"  -h, --help          this help\n\n"
		"Exit status: 0 done, 1 refused by sipfp-control, 2 usage, 3 not reachable.\n",
		SFP_CLI_SOCKET);
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap + 1);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			if (cap >= SFP_CLI_MAX_REQUEST) {
				free(b);
				return NULL;
			}
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		b[n] = '\0';
	*len = n;
	return b;
}

static char *read_password(void)
{
	static char pw[1024];
	bool tty = isatty(STDIN_FILENO);
	struct termios old, t;
	if (tty) {
		fprintf(stderr, "Password: ");
		tcgetattr(STDIN_FILENO, &old);
		t = old;
		t.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	char *r = fgets(pw, sizeof(pw), stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (!r)
		return NULL;
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw[0] ? pw : NULL;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

#define MAXCOL 16

static int split(char *line, char **f)
{
	int n = 0;
	char *p = line;
	while (n < MAXCOL) {
		f[n++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	return n;
}

/* the response body: a header row and data rows, tab-separated */
static void print_table(char *body, bool json)
{
	static char *lines[1 << 16];
	int nl = 0;
	for (char *save = NULL, *l = strtok_r(body, "\n", &save); l && nl < (1 << 16);
	     l = strtok_r(NULL, "\n", &save))
		lines[nl++] = l;
	if (!nl) {
		if (json)
			printf("[]\n");
		return;
	}
	char *head[MAXCOL], *f[MAXCOL];
	int nc = split(lines[0], head);
	if (json) {
		printf("[");
		for (int i = 1; i < nl; i++) {
			int n = split(lines[i], f);
			printf("%s\n  {", i > 1 ? "," : "");
			for (int c = 0; c < nc && c < n; c++) {
				printf("%s", c ? ", " : "");
				json_str(head[c]);
				printf(": ");
				if (is_number(f[c]))
					printf("%s", f[c]);
				else
					json_str(f[c]);
			}
			printf("}");
		}
		printf("\n]\n");
		return;
	}
	size_t w[MAXCOL] = { 0 };
	for (int c = 0; c < nc; c++)
		w[c] = strlen(head[c]);
	/* measure without splitting twice: tabs are restored afterwards */
	for (int i = 1; i < nl; i++) {
		int n = split(lines[i], f);
		for (int c = 0; c < n && c < nc; c++)
			if (strlen(f[c]) > w[c])
				w[c] = strlen(f[c]);
		for (int c = 1; c < n; c++)
			f[c][-1] = '\t';
	}
	for (int c = 0; c < nc; c++)
		printf("%-*s%s", (int)w[c], head[c], c + 1 < nc ? "  " : "\n");
	for (int i = 1; i < nl; i++) {
		int n = split(lines[i], f);
		for (int c = 0; c < nc; c++)
			printf("%-*s%s", (int)w[c], c < n ? f[c] : "", c + 1 < nc ? "  " : "\n");
	}
}

int main(int argc, char **argv)
{
	const char *sock = getenv("SIPFP_SOCKET") ? getenv("SIPFP_SOCKET") : SFP_CLI_SOCKET;
	bool json = false;
	int i = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
		else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "sipfpctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	int nw = argc - i;
	char **w = argv + i;
	if (nw > SFP_CLI_MAX_WORDS - 1) {
		fprintf(stderr, "sipfpctl: too many words\n");
		return 2;
	}

	/* the request: one line of words, then the payload */
	char *payload = NULL;
	size_t plen = 0;
	if (nw == 3 && !strcmp(w[0], "user") && !strcmp(w[1], "add")) {
		char *pw = read_password();
		if (!pw) {
			fprintf(stderr, "sipfpctl: no password on standard input\n");
			return 2;
		}
		payload = strdup(pw);
		plen = strlen(payload);
		memset(pw, 0, strlen(pw));
	} else if (nw == 3 && !strcmp(w[0], "user") && !strcmp(w[1], "import")) {
		FILE *f = strcmp(w[2], "-") ? fopen(w[2], "r") : stdin;
		if (!f) {
			fprintf(stderr, "sipfpctl: %s: %s\n", w[2], strerror(errno));
			return 2;
		}
		payload = read_all(f, &plen);
		if (f != stdin)
			fclose(f);
		if (!payload) {
			fprintf(stderr, "sipfpctl: %s: too large or unreadable\n", w[2]);
			return 2;
		}
		nw = 2; /* the file travels as payload */
	}

	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "sipfpctl: cannot reach sipfp-control at %s: %s\n", sock, strerror(errno));
		return 3;
	}
	FILE *out = fdopen(fd, "r+");
	fprintf(out, "%s", SFP_CLI_MAGIC);
	for (int k = 0; k < nw; k++) {
		if (strchr(w[k], '\t') || strchr(w[k], '\n')) {
			fprintf(stderr, "sipfpctl: arguments may not contain tabs or newlines\n");
			return 2;
		}
		fprintf(out, "\t%s", w[k]);
	}
	fprintf(out, "\n");
	if (payload) {
		fwrite(payload, 1, plen, out);
		memset(payload, 0, plen);
		free(payload);
	}
	fflush(out);
	shutdown(fd, SHUT_WR);

	size_t rlen;
	char *resp = read_all(out, &rlen);
	fclose(out);
	if (!resp || !rlen) {
		fprintf(stderr, "sipfpctl: no answer from sipfp-control\n");
		return 3;
	}
	if (!strncmp(resp, "ERR\t", 4)) {
		fprintf(stderr, "sipfpctl: %s", resp + 4);
		return 1;
	}
	if (strncmp(resp, "OK\n", 3)) {
		fprintf(stderr, "sipfpctl: unexpected answer\n");
		return 3;
	}
	print_table(resp + 3, json);
	free(resp);
	return 0;
}
