/*
 * Destinations proxyd refuses whatever the rules say (worker/dest_policy.c):
 * metadata services, link-local, unspecified, loopback unless the listener
 * allows it; and CONNECT ports not listed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker/session.h"

static int
allowed(const char *ip, int allow_loopback)
{
	struct config_listen l;
	struct sockaddr_storage ss;

	memset(&l, 0, sizeof(l));
	memset(&ss, 0, sizeof(ss));
	l.allow_loopback = allow_loopback;
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return dest_policy_allowed(&l, (struct sockaddr *)&ss);
}

START_TEST(metadata_refused)
{
	ck_assert_int_eq(allowed("169.254.169.254", 1), 0);
	ck_assert_int_eq(allowed("169.254.1.1", 1), 0);
	ck_assert_int_eq(allowed("100.100.100.200", 1), 0);
	ck_assert_int_eq(allowed("fd00:ec2::254", 1), 0);
	ck_assert_int_eq(allowed("::ffff:169.254.169.254", 1), 0);
	ck_assert_int_eq(allowed("fe80::1", 1), 0);
}
END_TEST

START_TEST(unspecified_refused)
{
	ck_assert_int_eq(allowed("0.0.0.0", 1), 0);
	ck_assert_int_eq(allowed("0.1.2.3", 1), 0);
	ck_assert_int_eq(allowed("::", 1), 0);
}
END_TEST

START_TEST(loopback_needs_the_switch)
{
	ck_assert_int_eq(allowed("127.0.0.1", 0), 0);
	ck_assert_int_eq(allowed("127.9.9.9", 0), 0);
	ck_assert_int_eq(allowed("::1", 0), 0);
	ck_assert_int_eq(allowed("::ffff:127.0.0.1", 0), 0);
	ck_assert_int_eq(allowed("127.0.0.1", 1), 1);
	ck_assert_int_eq(allowed("::1", 1), 1);
}
END_TEST

START_TEST(ordinary_addresses_allowed)
{
	ck_assert_int_eq(allowed("93.184.216.34", 0), 1);
	ck_assert_int_eq(allowed("10.1.2.3", 0), 1);
	ck_assert_int_eq(allowed("100.100.100.201", 0), 1);
	ck_assert_int_eq(allowed("169.255.0.1", 0), 1);
	ck_assert_int_eq(allowed("2001:db8::1", 0), 1);
	ck_assert_int_eq(allowed("fd00:ec2::253", 0), 1);
}
END_TEST

START_TEST(connect_ports)
{
	struct config_listen l;

	memset(&l, 0, sizeof(l));
	l.connect_ports[0] = 443;
	l.connect_ports[1] = 8443;
	l.n_connect_ports = 2;
	ck_assert_int_eq(dest_policy_port_allowed(&l, 443), 1);
	ck_assert_int_eq(dest_policy_port_allowed(&l, 8443), 1);
	ck_assert_int_eq(dest_policy_port_allowed(&l, 22), 0);
	ck_assert_int_eq(dest_policy_port_allowed(&l, 80), 0);
}
END_TEST

static Suite *
dest_policy_suite(void)
{
	Suite *s = suite_create("dest_policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, metadata_refused);
	tcase_add_test(tc, unspecified_refused);
	tcase_add_test(tc, loopback_needs_the_switch);
	tcase_add_test(tc, ordinary_addresses_allowed);
	tcase_add_test(tc, connect_ports);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dest_policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
