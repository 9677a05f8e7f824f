/*
 * Address sets (rules/cidr.c): IPv4 and IPv6 prefixes at their
 * boundaries, nested and adjacent prefixes, IPv4-mapped IPv6 on both
 * sides, every parse error, and the tree against a brute-force scan of
 * random prefixes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "rules/match.h"

static struct cidr_set *set;
static char err[256];

static void
setup(void)
{
	set = cidr_set_new();
	ck_assert_ptr_nonnull(set);
	err[0] = '\0';
}

static void
teardown(void)
{
	cidr_set_free(set);
	set = NULL;
}

static void
add(const char *text)
{
	ck_assert_msg(cidr_set_add(set, text, err, sizeof(err)) == 0, "%s: %s",
	              text, err);
}

static int
match(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		a6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
	} else {
		a4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
	}
	return cidr_set_match(set, (struct sockaddr *)&ss);
}

/* cidr_set_add fails and the message contains want. */
static void
refused(const char *text, const char *want)
{
	err[0] = '\0';
	ck_assert_msg(cidr_set_add(set, text, err, sizeof(err)) == -1,
	              "\"%s\" accepted", text);
	ck_assert_msg(strstr(err, want) != NULL,
	              "\"%s\": got \"%s\", want \"%s\"", text, err, want);
}

START_TEST(empty_set_matches_nothing)
{
	ck_assert_int_eq(match("10.0.0.1"), 0);
	ck_assert_int_eq(match("::1"), 0);
	ck_assert_int_eq(match("::ffff:10.0.0.1"), 0);
	ck_assert_uint_eq(cidr_set_count(set), 0);
}
END_TEST

START_TEST(v4_slash_0_matches_all_v4_only)
{
	add("0.0.0.0/0");
	ck_assert_int_eq(match("0.0.0.0"), 1);
	ck_assert_int_eq(match("255.255.255.255"), 1);
	ck_assert_int_eq(match("::ffff:1.2.3.4"), 1);
	ck_assert_int_eq(match("::1"), 0);
	ck_assert_int_eq(match("2001:db8::1"), 0);
}
END_TEST

START_TEST(v6_slash_0_matches_all_v6_only)
{
	add("::/0");
	ck_assert_int_eq(match("::"), 1);
	ck_assert_int_eq(match("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	ck_assert_int_eq(match("2001:db8::1"), 1);
	/* a mapped address is IPv4 */
	ck_assert_int_eq(match("::ffff:1.2.3.4"), 0);
	ck_assert_int_eq(match("1.2.3.4"), 0);
}
END_TEST

START_TEST(v4_host_routes)
{
	add("192.168.1.7");
	add("10.0.0.0/32");
	add("255.255.255.255/32");
	ck_assert_int_eq(match("192.168.1.7"), 1);
	ck_assert_int_eq(match("192.168.1.6"), 0);
	ck_assert_int_eq(match("192.168.1.8"), 0);
	ck_assert_int_eq(match("10.0.0.0"), 1);
	ck_assert_int_eq(match("10.0.0.1"), 0);
	ck_assert_int_eq(match("9.255.255.255"), 0);
	ck_assert_int_eq(match("255.255.255.255"), 1);
	ck_assert_int_eq(match("255.255.255.254"), 0);
	ck_assert_uint_eq(cidr_set_count(set), 3);
}
END_TEST

START_TEST(v4_prefix_boundaries)
{
	add("10.0.0.0/8");
	add("172.16.0.0/12");
	add("192.168.0.0/16");
	ck_assert_int_eq(match("10.0.0.0"), 1);
	ck_assert_int_eq(match("10.255.255.255"), 1);
	ck_assert_int_eq(match("9.255.255.255"), 0);
	ck_assert_int_eq(match("11.0.0.0"), 0);
	ck_assert_int_eq(match("172.16.0.0"), 1);
	ck_assert_int_eq(match("172.31.255.255"), 1);
	ck_assert_int_eq(match("172.15.255.255"), 0);
	ck_assert_int_eq(match("172.32.0.0"), 0);
	ck_assert_int_eq(match("192.168.255.255"), 1);
	ck_assert_int_eq(match("192.169.0.0"), 0);
	ck_assert_int_eq(match("192.167.255.255"), 0);
}
END_TEST

START_TEST(v6_boundaries)
{
	add("2001:db8::/32");
	add("::1");
	add("fe80::/10");
	add("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	ck_assert_int_eq(match("2001:db8::"), 1);
	ck_assert_int_eq(match("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	ck_assert_int_eq(match("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), 0);
	ck_assert_int_eq(match("2001:db9::"), 0);
	ck_assert_int_eq(match("::1"), 1);
	ck_assert_int_eq(match("::2"), 0);
	ck_assert_int_eq(match("::"), 0);
	ck_assert_int_eq(match("fe80::1"), 1);
	ck_assert_int_eq(match("febf:ffff::1"), 1);
	ck_assert_int_eq(match("fec0::"), 0);
	ck_assert_int_eq(match("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	ck_assert_int_eq(match("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 0);
	/* an IPv4 address is not in an IPv6 prefix with the same bits */
	ck_assert_int_eq(match("32.1.13.184"), 0);
}
END_TEST

START_TEST(v6_prefix_across_the_64_bit_halves)
{
	add("2001:db8:0:0:8000::/65");
	add("2001:db8:1::/63");
	add("2001:db8:2::1:0/112");
	ck_assert_int_eq(match("2001:db8::8000:0:0:1"), 1);
	ck_assert_int_eq(match("2001:db8::7fff:ffff:ffff:ffff"), 0);
	ck_assert_int_eq(match("2001:db8:1:1:ffff::"), 1);
	ck_assert_int_eq(match("2001:db8:1:2::"), 0);
	ck_assert_int_eq(match("2001:db8:2::1:ffff"), 1);
	ck_assert_int_eq(match("2001:db8:2::2:0"), 0);
}
END_TEST

START_TEST(adjacent_prefixes)
{
	add("10.0.0.0/25");
	add("10.0.0.128/25");
	add("10.0.2.0/24");
	ck_assert_int_eq(match("10.0.0.0"), 1);
	ck_assert_int_eq(match("10.0.0.127"), 1);
	ck_assert_int_eq(match("10.0.0.128"), 1);
	ck_assert_int_eq(match("10.0.0.255"), 1);
	ck_assert_int_eq(match("10.0.1.0"), 0);
	ck_assert_int_eq(match("10.0.1.255"), 0);
	ck_assert_int_eq(match("10.0.2.0"), 1);
	ck_assert_int_eq(match("10.0.3.0"), 0);
	ck_assert_int_eq(match("9.255.255.255"), 0);
	ck_assert_uint_eq(cidr_set_count(set), 3);
}
END_TEST

START_TEST(nested_prefixes_either_order)
{
	add("10.1.2.0/24");
	add("10.0.0.0/8"); /* above an existing node */
	add("10.1.0.0/16");
	add("10.1.2.3/32"); /* below all */
	ck_assert_int_eq(match("10.1.2.3"), 1);
	ck_assert_int_eq(match("10.1.2.4"), 1);
	ck_assert_int_eq(match("10.1.3.0"), 1);
	ck_assert_int_eq(match("10.200.0.1"), 1);
	ck_assert_int_eq(match("11.1.2.3"), 0);
	ck_assert_uint_eq(cidr_set_count(set), 4);
}
END_TEST

START_TEST(inner_prefix_alone)
{
	/* the fork node created between two prefixes is not itself one */
	add("10.1.0.0/16");
	add("10.2.0.0/16");
	ck_assert_int_eq(match("10.1.0.1"), 1);
	ck_assert_int_eq(match("10.2.255.255"), 1);
	ck_assert_int_eq(match("10.0.0.1"), 0);
	ck_assert_int_eq(match("10.3.0.1"), 0);
}
END_TEST

START_TEST(duplicates_counted_once)
{
	add("10.0.0.0/8");
	add("10.0.0.0/8");
	add("192.168.1.1");
	add("192.168.1.1/32");
	add("::ffff:192.168.1.1"); /* the same address, mapped */
	add("2001:db8::/32");
	add("2001:0db8:0000::/32");
	ck_assert_uint_eq(cidr_set_count(set), 3);
}
END_TEST

START_TEST(mapped_queries_match_v4)
{
	add("10.0.0.0/8");
	add("192.0.2.1");
	ck_assert_int_eq(match("::ffff:10.1.2.3"), 1);
	ck_assert_int_eq(match("::ffff:192.0.2.1"), 1);
	ck_assert_int_eq(match("::ffff:192.0.2.2"), 0);
	ck_assert_int_eq(match("::ffff:11.0.0.0"), 0);
	/* IPv4-compatible (deprecated) and NAT64 forms are IPv6, not IPv4 */
	ck_assert_int_eq(match("::10.1.2.3"), 0);
	ck_assert_int_eq(match("64:ff9b::10.1.2.3"), 0);
}
END_TEST

START_TEST(mapped_prefixes_are_stored_as_v4)
{
	add("::ffff:10.0.0.0/104"); /* = 10.0.0.0/8 */
	add("::ffff:192.0.2.1");    /* = 192.0.2.1/32 */
	add("::ffff:0.0.0.0/96");   /* = 0.0.0.0/0 ... */
	ck_assert_int_eq(match("10.9.9.9"), 1);
	ck_assert_int_eq(match("192.0.2.1"), 1);
	ck_assert_int_eq(match("::ffff:10.9.9.9"), 1);
	ck_assert_int_eq(match("8.8.8.8"), 1);
	ck_assert_int_eq(match("2001:db8::1"), 0); /* ... of IPv4 only */
}
END_TEST

START_TEST(mapped_prefix_narrower_than_96_stays_v6)
{
	add("::fffe:0:0/95"); /* covers ::ffff:0:0/96 */
	ck_assert_int_eq(match("::fffe:0:1"), 1);
	/* documented: mapped addresses are IPv4 whatever the v6 prefixes */
	ck_assert_int_eq(match("::ffff:1.2.3.4"), 0);
	ck_assert_int_eq(match("1.2.3.4"), 0);
}
END_TEST

START_TEST(other_families_never_match)
{
	struct sockaddr_un un;

	add("0.0.0.0/0");
	add("::/0");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	ck_assert_int_eq(cidr_set_match(set, (struct sockaddr *)&un), 0);
}
END_TEST

START_TEST(host_bits_suggest_the_network)
{
	refused("10.1.2.3/8", "say 10.0.0.0/8");
	refused("192.168.1.1/24", "say 192.168.1.0/24");
	refused("10.0.0.1/31", "say 10.0.0.0/31");
	refused("1.2.3.4/0", "say 0.0.0.0/0");
	refused("2001:db8::1/32", "say 2001:db8::/32");
	refused("2001:db8:0:0:8000::/64", "say 2001:db8::/64");
	refused("::1/0", "say ::/0");
	refused("::ffff:10.1.2.3/104", "say ::ffff:10.0.0.0/104");
	ck_assert_ptr_nonnull(
	        strstr(err, "host bits set in ::ffff:10.1.2.3/104"));
	ck_assert_uint_eq(cidr_set_count(set), 0);
}
END_TEST

START_TEST(lengths_out_of_range)
{
	refused("10.0.0.0/33", "prefix length /33 out of range (0..32)");
	refused("::/129", "prefix length /129 out of range (0..128)");
	refused("10.0.0.0/999", "out of range");
	refused("::/1000", "invalid prefix length \"/1000\"");
}
END_TEST

START_TEST(bad_lengths)
{
	refused("10.0.0.0/", "invalid prefix length \"/\"");
	refused("10.0.0.0/-1", "invalid prefix length \"/-1\"");
	refused("10.0.0.0/+8", "invalid prefix length");
	refused("10.0.0.0/08", "invalid prefix length \"/08\"");
	refused("10.0.0.0/8x", "invalid prefix length");
	refused("10.0.0.0/8 ", "invalid prefix length");
	refused("10.0.0.0/ 8", "invalid prefix length");
	refused("10.0.0.0/8/8", "invalid prefix length \"/8/8\"");
	refused("10.0.0.0/0x8", "invalid prefix length");
}
END_TEST

START_TEST(bad_addresses)
{
	refused("", "empty address");
	refused("/8", "invalid address \"\"");
	refused("10.0.0", "invalid address \"10.0.0\"");
	refused("256.0.0.0/8", "invalid address \"256.0.0.0\"");
	refused("010.0.0.0/8", "invalid address");
	refused("10.0.0.0.0", "invalid address");
	refused(" 10.0.0.0/8", "invalid address");
	refused("example.com", "invalid address \"example.com\"");
	refused("10.0.0.1:80", "invalid address");
	refused("2001:db8:::/32", "invalid address");
	refused("2001:db8::g/128", "invalid address");
	refused("[::1]", "invalid address");
	refused("fe80::1%eth0", "invalid address");
	refused("01234567890123456789012345678901234567890123456789012345678901"
	        "23"
	        "456789",
	        "invalid address");
	ck_assert_uint_eq(cidr_set_count(set), 0);
	ck_assert_int_eq(match("10.0.0.0"), 0);
}
END_TEST

/* Random prefixes (short ones rare, so most addresses miss) against a
 * linear scan: covers every split and descent in the tree. */
struct ref {
	uint8_t a[16];
	unsigned len;
	int v6;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static int
ref_match(const struct ref *r, size_t n, const uint8_t *a, int v6)
{
	size_t i;
	unsigned b;

	for (i = 0; i < n; i++) {
		if (r[i].v6 != v6)
			continue;
		for (b = 0; b < r[i].len; b++)
			if (((r[i].a[b / 8] ^ a[b / 8]) >> (7 - b % 8)) & 1)
				break;
		if (b == r[i].len)
			return 1;
	}
	return 0;
}

static void
random_addr(uint8_t *a, int v6)
{
	size_t i;

	/* a narrow top so prefixes and addresses share long paths */
	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	a[0] = (uint8_t)(v6 ? 0x20 : 10);
	a[1] &= 0x3;
}

static void
random_prefix(struct ref *r)
{
	char text[INET6_ADDRSTRLEN + 8], ip[INET6_ADDRSTRLEN];
	unsigned b, max;

	r->v6 = (int)(rnd() & 1);
	max = r->v6 ? 128 : 32;
	random_addr(r->a, r->v6);
	r->len = 10 + rnd() % (max - 9);
	for (b = r->len; b < max; b++)
		r->a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	inet_ntop(r->v6 ? AF_INET6 : AF_INET, r->a, ip, sizeof(ip));
	snprintf(text, sizeof(text), "%s/%u", ip, r->len);
	add(text);
}

static int
match_bytes(const uint8_t *a, int v6)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(v6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
	return match(ip);
}

START_TEST(random_against_linear_scan)
{
	enum { N = 2000, Q = 20000 };
	struct ref *r = calloc(N, sizeof(*r));
	uint8_t a[16];
	size_t i, j, hits = 0;
	int v6, want;

	ck_assert_ptr_nonnull(r);
	for (i = 0; i < N; i++)
		random_prefix(&r[i]);
	for (i = 0; i < Q; i++) {
		v6 = (int)(rnd() & 1);
		if (i % 2) { /* near a stored prefix: flip one bit of one */
			j = rnd() % N;
			memcpy(a, r[j].a, 16);
			v6 = r[j].v6;
			a[rnd() % (v6 ? 16 : 4)] ^= (uint8_t)(1 << rnd() % 8);
		} else {
			random_addr(a, v6);
		}
		want = ref_match(r, N, a, v6);
		hits += (size_t)want;
		ck_assert_int_eq(match_bytes(a, v6), want);
	}
	ck_assert_uint_gt(hits, Q / 20);
	free(r);
}
END_TEST

static Suite *
cidr_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("match");
	TCase *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_set_matches_nothing);
	tcase_add_test(tc, v4_slash_0_matches_all_v4_only);
	tcase_add_test(tc, v6_slash_0_matches_all_v6_only);
	tcase_add_test(tc, v4_host_routes);
	tcase_add_test(tc, v4_prefix_boundaries);
	tcase_add_test(tc, v6_boundaries);
	tcase_add_test(tc, v6_prefix_across_the_64_bit_halves);
	tcase_add_test(tc, adjacent_prefixes);
	tcase_add_test(tc, nested_prefixes_either_order);
	tcase_add_test(tc, inner_prefix_alone);
	tcase_add_test(tc, duplicates_counted_once);
	tcase_add_test(tc, mapped_queries_match_v4);
	tcase_add_test(tc, mapped_prefixes_are_stored_as_v4);
	tcase_add_test(tc, mapped_prefix_narrower_than_96_stays_v6);
	tcase_add_test(tc, other_families_never_match);
	tcase_add_test(tc, random_against_linear_scan);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_test(te, host_bits_suggest_the_network);
	tcase_add_test(te, lengths_out_of_range);
	tcase_add_test(te, bad_lengths);
	tcase_add_test(te, bad_addresses);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cidr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
