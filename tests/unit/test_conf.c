/* SPDX-License-Identifier: BSD-3-Clause */
/* cmocka tests for the configuration file parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipfp/config.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/sipfp-conf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void t_defaults(void **st)
{
	(void)st;
	struct sfp_config c;
	sfp_config_defaults(&c);
	assert_string_equal(c.addr, "10.77.0.2");
	assert_int_equal(c.sip_port, 5060);
	assert_int_equal(c.nonce_lifetime, 300);
	assert_true(c.qop);
	assert_false(c.busy_poll);
	assert_string_equal(c.realm, "sipfp");
}

static void t_file_and_overrides(void **st)
{
	(void)st;
	struct sfp_config c;
	char err[256];
	sfp_config_defaults(&c);
	char *p = write_tmp("# comment\n\nrealm = soft3000   # trailing comment\n"
			    "sip_port=5070\nqop = no\n");
	assert_int_equal(sfp_config_load(&c, p, err, sizeof(err)), 0);
	unlink(p);
	assert_string_equal(c.realm, "soft3000");
	assert_int_equal(c.sip_port, 5070);
	assert_false(c.qop);
	assert_int_equal(sfp_config_set_kv(&c, "sip_port = 5080", err, sizeof(err)), 0);
	assert_int_equal(c.sip_port, 5080);

	char dump[8192];
	sfp_config_set_kv(&c, "nonce_secret=hunter2", err, sizeof(err));
	sfp_config_dump(&c, dump, sizeof(dump));
	assert_non_null(strstr(dump, "realm = soft3000\n"));
	assert_non_null(strstr(dump, "nonce_secret = (set)\n"));
	assert_null(strstr(dump, "hunter2"));
}

static void t_errors(void **st)
{
	(void)st;
	struct sfp_config c;
	char err[256];
	sfp_config_defaults(&c);
	char *p = write_tmp("realm = x\nrelam = typo\n");
	assert_int_equal(sfp_config_load(&c, p, err, sizeof(err)), -1);
	unlink(p);
	assert_non_null(strstr(err, ":2: unknown configuration key 'relam'"));
	assert_int_equal(sfp_config_set_kv(&c, "sip_port=-1", err, sizeof(err)), -1);
	assert_int_equal(sfp_config_set_kv(&c, "sip_port=99999999999", err, sizeof(err)), -1);
	assert_int_equal(sfp_config_set_kv(&c, "qop=maybe", err, sizeof(err)), -1);
	assert_int_equal(sfp_config_set_kv(&c, "novalue", err, sizeof(err)), -1);
	assert_int_equal(sfp_config_load(&c, "/nonexistent/sipfp.conf", err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_file_and_overrides),
		cmocka_unit_test(t_errors),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
