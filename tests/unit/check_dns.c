/*
 * The worker's resolver against a real c-ares channel and a local test DNS
 * server (tests/support/dnsd.c, included: unit tests link only
 * libproxyd.a).  Every query goes to 127.0.0.1; the loop is driven with
 * event_run_once() under an iteration cap and a deadline.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/dnsd.c"
#include "worker/dns.h"
#include "worker/dns_cache.h"
#include "worker/event.h"
#include "worker/stats.h"

uint64_t *stats_slot;

static uint64_t counters[STAT__COUNT];
static struct dnsd *dnsd;
static struct event_timer wake;

static const struct dnsd_name names[] = {
        {"www.example.test", {"192.0.2.10", "2001:db8::10"}, 60},
        {"dup.example.test", {"192.0.2.20", "192.0.2.21", "192.0.2.20"}, 60},
        {"short.example.test", {"192.0.2.30"}, 1},
        {"zero.example.test", {"192.0.2.40"}, 0},
        {"other.example.test", {"192.0.2.50"}, 60},
        {"intranet", {"192.0.2.60"}, 60},
        {NULL, {NULL}, 0},
};

struct result {
	int calls;
	int status;
	struct dns_addrs addrs;
	char err[64];
};

static void
on_done(void *arg, int status, const struct dns_addrs *addrs, const char *err)
{
	struct result *r = arg;

	r->calls++;
	r->status = status;
	if (addrs)
		r->addrs = *addrs;
	ck_assert(status == 0 ? addrs && !err : !addrs && err);
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static void
on_wake(struct event_timer *t)
{
	(void)t;
}

/* Runs the loop until *count reaches want or ms pass. */
static int
run_until(const int *count, int want, uint64_t ms)
{
	uint64_t deadline;
	int i;

	event_update_time();
	deadline = event_now() + ms;
	event_timer_init(&wake, on_wake, NULL);
	event_timer_after(&wake, ms);
	for (i = 0; i < 10000 && *count < want && event_now() < deadline; i++)
		ck_assert_int_eq(event_run_once(NULL), 0);
	event_timer_stop(&wake);
	return *count >= want;
}

static void
run_for(uint64_t ms)
{
	int never = 0;

	run_until(&never, 1, ms);
}

static int
has_addr(const struct dns_addrs *a, const char *ip, uint16_t port)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char buf[INET6_ADDRSTRLEN];
	unsigned i;

	for (i = 0; i < a->n; i++) {
		sin = (const struct sockaddr_in *)&a->addr[i];
		sin6 = (const struct sockaddr_in6 *)&a->addr[i];
		if (a->addr[i].ss_family == AF_INET &&
		    a->len[i] == sizeof(*sin) && sin->sin_port == htons(port) &&
		    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) &&
		    strcmp(buf, ip) == 0)
			return 1;
		if (a->addr[i].ss_family == AF_INET6 &&
		    a->len[i] == sizeof(*sin6) &&
		    sin6->sin6_port == htons(port) &&
		    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)) &&
		    strcmp(buf, ip) == 0)
			return 1;
	}
	return 0;
}

static void
start_resolver(void)
{
	char spec[64], err[256] = "";

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", (unsigned)dnsd->port);
	ck_assert_msg(dns_init(spec, err, sizeof(err)) == 0, "%s", err);
}

static void
setup(void)
{
	memset(counters, 0, sizeof(counters));
	stats_slot = counters;
	ck_assert_int_eq(event_init(), 0);
	dnsd = dnsd_start(names);
	ck_assert_ptr_nonnull(dnsd);
	dns_set_timeout(300, 1);
	start_resolver();
}

static void
teardown(void)
{
	dns_fini();
	event_fini();
	dnsd_stop(dnsd);
	dnsd = NULL;
}

/* Resolves name and waits for the answer, which must come from the loop. */
static void
resolve_async(const char *name, uint16_t port, struct result *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_ptr_nonnull(dns_resolve(name, port, on_done, r));
	ck_assert_int_eq(r->calls, 0);
	ck_assert_msg(run_until(&r->calls, 1, 2000), "no answer for %s", name);
	ck_assert_int_eq(r->calls, 1);
}

/* Resolves name, which must be answered before dns_resolve returns. */
static void
resolve_now(const char *name, uint16_t port, struct result *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_ptr_null(dns_resolve(name, port, on_done, r));
	ck_assert_int_eq(r->calls, 1);
}

START_TEST(test_literal_v4)
{
	struct result r;

	resolve_now("192.0.2.7", 8080, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.addrs.n, 1);
	ck_assert(has_addr(&r.addrs, "192.0.2.7", 8080));
	ck_assert_uint_eq(dnsd_queries(dnsd), 0);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 0);
	ck_assert_uint_eq(dns_cache_count(), 0);
}
END_TEST

START_TEST(test_literal_v6)
{
	struct result r;

	resolve_now("2001:db8::7", 443, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.addrs.n, 1);
	ck_assert(has_addr(&r.addrs, "2001:db8::7", 443));
	resolve_now("::1", 80, &r);
	ck_assert(has_addr(&r.addrs, "::1", 80));
	ck_assert_uint_eq(dnsd_queries(dnsd), 0);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 0);
}
END_TEST

START_TEST(test_name_answered)
{
	struct result r;

	resolve_async("www.example.test", 8443, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.addrs.n, 2);
	ck_assert(has_addr(&r.addrs, "192.0.2.10", 8443));
	ck_assert(has_addr(&r.addrs, "2001:db8::10", 8443));
	ck_assert_uint_ge(dnsd_queries(dnsd), 1);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 1);
	ck_assert_uint_eq(counters[STAT_dns_failures], 0);
	ck_assert_uint_eq(counters[STAT_dns_cache_hits], 0);
}
END_TEST

START_TEST(test_duplicates_dropped)
{
	struct result r;

	resolve_async("dup.example.test", 80, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.addrs.n, 2);
	ck_assert(has_addr(&r.addrs, "192.0.2.20", 80));
	ck_assert(has_addr(&r.addrs, "192.0.2.21", 80));
}
END_TEST

START_TEST(test_single_label_as_is)
{
	struct result r;

	resolve_async("intranet", 80, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert(has_addr(&r.addrs, "192.0.2.60", 80));
}
END_TEST

START_TEST(test_cache_hit)
{
	struct result r;
	unsigned queries;

	resolve_async("www.example.test", 80, &r);
	queries = dnsd_queries(dnsd);
	resolve_now("www.example.test", 8080, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.addrs.n, 2);
	ck_assert(has_addr(&r.addrs, "192.0.2.10", 8080));
	ck_assert(has_addr(&r.addrs, "2001:db8::10", 8080));
	/* Same name, other spelling. */
	resolve_now("WWW.Example.TEST.", 81, &r);
	ck_assert(has_addr(&r.addrs, "192.0.2.10", 81));
	ck_assert_uint_eq(dnsd_queries(dnsd), queries);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 1);
	ck_assert_uint_eq(counters[STAT_dns_cache_hits], 2);
}
END_TEST

START_TEST(test_zero_ttl_cached_briefly)
{
	struct result r;
	unsigned queries;

	resolve_async("zero.example.test", 80, &r);
	queries = dnsd_queries(dnsd);
	resolve_now("zero.example.test", 80, &r);
	ck_assert(has_addr(&r.addrs, "192.0.2.40", 80));
	ck_assert_uint_eq(dnsd_queries(dnsd), queries);
}
END_TEST

START_TEST(test_ttl_expiry)
{
	struct result r;
	unsigned queries;

	resolve_async("short.example.test", 80, &r);
	queries = dnsd_queries(dnsd);
	resolve_now("short.example.test", 80, &r);
	run_for(1200);
	resolve_async("short.example.test", 80, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert(has_addr(&r.addrs, "192.0.2.30", 80));
	ck_assert_uint_gt(dnsd_queries(dnsd), queries);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 2);
}
END_TEST

START_TEST(test_nxdomain)
{
	struct result r;
	unsigned queries;

	resolve_async("nope.example.test", 80, &r);
	ck_assert_int_eq(r.status, -1);
	ck_assert_str_eq(r.err, "NXDOMAIN");
	ck_assert_uint_eq(counters[STAT_dns_failures], 1);
	queries = dnsd_queries(dnsd);
	resolve_now("nope.example.test", 80, &r);
	ck_assert_int_eq(r.status, -1);
	ck_assert_str_eq(r.err, "NXDOMAIN");
	ck_assert_uint_eq(dnsd_queries(dnsd), queries);
	ck_assert_uint_eq(counters[STAT_dns_cache_hits], 1);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 1);
}
END_TEST

START_TEST(test_silent_server_times_out)
{
	struct result r;
	uint64_t start;

	dnsd_set_silent(dnsd, 1);
	event_update_time();
	start = event_now();
	resolve_async("www.example.test", 80, &r);
	ck_assert_int_eq(r.status, -1);
	ck_assert_str_eq(r.err, "timeout");
	ck_assert_uint_lt(event_now() - start, 1500);
	ck_assert_uint_eq(counters[STAT_dns_failures], 1);
	/* A timeout is not remembered: the next request asks again. */
	dnsd_set_silent(dnsd, 0);
	resolve_async("www.example.test", 80, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 2);
}
END_TEST

START_TEST(test_cancel)
{
	struct result r = {0}, again;
	struct dns_query *q;
	int i;

	q = dns_resolve("www.example.test", 80, on_done, &r);
	ck_assert_ptr_nonnull(q);
	dns_cancel(q);
	dns_cancel(NULL);
	/* The lookup runs on and fills the cache: by then, and a little
	 * later, the callback had every chance to run. */
	for (i = 0; i < 100 && dns_cache_count() == 0; i++)
		run_for(20);
	ck_assert_uint_eq(dns_cache_count(), 1);
	run_for(50);
	ck_assert_int_eq(r.calls, 0);
	resolve_now("www.example.test", 80, &again);
	ck_assert_int_eq(again.status, 0);
}
END_TEST

START_TEST(test_fini_with_pending)
{
	struct result r = {0}, s = {0};

	dnsd_set_silent(dnsd, 1);
	ck_assert_ptr_nonnull(dns_resolve("www.example.test", 80, on_done, &r));
	ck_assert_ptr_nonnull(dns_resolve("www.example.test", 81, on_done, &s));
	run_for(20);
	dns_fini();
	run_for(20);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(s.calls, 0);
	ck_assert_uint_eq(counters[STAT_dns_failures], 0);
}
END_TEST

START_TEST(test_two_waiters_one_query)
{
	struct result a = {0}, b = {0}, c;
	unsigned per_lookup;

	resolve_async("other.example.test", 80, &c);
	per_lookup = dnsd_queries(dnsd);
	ck_assert_ptr_nonnull(dns_resolve("www.example.test", 80, on_done, &a));
	ck_assert_ptr_nonnull(dns_resolve("www.example.test", 81, on_done, &b));
	ck_assert(run_until(&b.calls, 1, 2000));
	run_until(&a.calls, 1, 2000);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
	ck_assert(has_addr(&a.addrs, "192.0.2.10", 80));
	ck_assert(has_addr(&b.addrs, "192.0.2.10", 81));
	ck_assert_uint_eq(dnsd_queries(dnsd), 2 * per_lookup);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 2);
}
END_TEST

static struct dns_query *victim;
static struct result victim_result, nested;

/* A first waiter that cancels the second and resolves again. */
static void
on_first(void *arg, int status, const struct dns_addrs *addrs, const char *err)
{
	on_done(arg, status, addrs, err);
	dns_cancel(victim);
	memset(&nested, 0, sizeof(nested));
	ck_assert_ptr_null(
	        dns_resolve("www.example.test", 90, on_done, &nested));
}

START_TEST(test_callback_reentry)
{
	struct result first = {0};

	memset(&victim_result, 0, sizeof(victim_result));
	ck_assert_ptr_nonnull(
	        dns_resolve("www.example.test", 80, on_first, &first));
	victim = dns_resolve("www.example.test", 81, on_done, &victim_result);
	ck_assert_ptr_nonnull(victim);
	ck_assert(run_until(&first.calls, 1, 2000));
	run_for(50);
	ck_assert_int_eq(victim_result.calls, 0);
	ck_assert_int_eq(nested.calls, 1);
	ck_assert(has_addr(&nested.addrs, "192.0.2.10", 90));
}
END_TEST

START_TEST(test_localhost_from_hosts_file)
{
	struct result r = {0};
	unsigned i;

	if (dns_resolve("localhost", 80, on_done, &r))
		ck_assert(run_until(&r.calls, 1, 2000));
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_ge(r.addrs.n, 1);
	for (i = 0; i < r.addrs.n; i++)
		ck_assert(has_addr(&r.addrs, "127.0.0.1", 80) ||
		          has_addr(&r.addrs, "::1", 80));
	ck_assert_uint_eq(dnsd_queries(dnsd), 0);
}
END_TEST

START_TEST(test_bad_names)
{
	static const char *const bad[] = {
	        "",
	        ".",
	        "a..b",
	        ".a",
	        "a b",
	        "a/b",
	        "[::1]",
	        "1.2.3",
	        "0177.0.0.1",
	        "example.com:80",
	        "ex\xc3\xa4mple.com",
	        "fe80::1%eth0",
	};
	char longname[300], label[70];
	struct result r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		resolve_now(bad[i], 80, &r);
		ck_assert_int_eq(r.status, -1);
		ck_assert_str_eq(r.err, "bad host name");
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (i = 63; i < sizeof(longname); i += 64)
		longname[i] = '.';
	resolve_now(longname, 80, &r);
	ck_assert_str_eq(r.err, "bad host name");
	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	resolve_now(label, 80, &r);
	ck_assert_str_eq(r.err, "bad host name");
	ck_assert_uint_eq(dnsd_queries(dnsd), 0);
	ck_assert_uint_eq(counters[STAT_dns_lookups], 0);
}
END_TEST

START_TEST(test_refused)
{
	struct result r;
	uint16_t port = dnsd->port;
	char spec[64], err[256] = "";

	dns_fini();
	dnsd_stop(dnsd);
	dnsd = NULL;
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", (unsigned)port);
	ck_assert_msg(dns_init(spec, err, sizeof(err)) == 0, "%s", err);
	resolve_async("www.example.test", 80, &r);
	ck_assert_int_eq(r.status, -1);
	ck_assert_uint_eq(counters[STAT_dns_failures], 1);
}
END_TEST

START_TEST(test_resolver_specs)
{
	static const char *const good[] = {
	        "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:53",
	};
	static const char *const bad[] = {
	        "localhost",       "127.0.0.1:",     "127.0.0.1:0",
	        "127.0.0.1:65536", "127.0.0.1:53x",  "[::1",
	        "[::1]53",         "[127.0.0.1]:53", "1.2.3",
	};
	char err[256];
	size_t i;

	dns_fini();
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(dns_init(good[i], err, sizeof(err)) == 0,
		              "%s: %s", good[i], err);
		dns_fini();
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(dns_init(bad[i], err, sizeof(err)) == -1, "%s",
		              bad[i]);
		ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
	}
	start_resolver();
	ck_assert_int_eq(dns_init("", err, sizeof(err)), -1);
}
END_TEST

static void
put_v4(const char *name, const char *ip, uint64_t ttl, uint64_t now)
{
	struct dns_addrs a = {.n = 1};
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.addr[0];

	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	a.len[0] = sizeof(*sin);
	dns_cache_put(name, &a, NULL, ttl, now);
}

static enum dns_cache_result
get(const char *name, uint64_t now, struct dns_addrs *out)
{
	const char *err = NULL;

	return dns_cache_get(name, 443, now, out, &err);
}

START_TEST(test_cache_eviction)
{
	struct dns_addrs out;
	const char *err = NULL;

	ck_assert_int_eq(dns_cache_init(3), 0);
	put_v4("a", "192.0.2.1", 100000, 0);
	put_v4("b", "192.0.2.2", 10, 0);
	put_v4("c", "192.0.2.3", 100000, 0);
	put_v4("d", "192.0.2.4", 100000, 2000); /* sweeps b, expired */
	ck_assert_uint_eq(dns_cache_count(), 3);
	ck_assert_int_eq(get("a", 2000, &out), DNS_CACHE_HIT);
	ck_assert(has_addr(&out, "192.0.2.1", 443));
	ck_assert_int_eq(get("b", 2000, &out), DNS_CACHE_MISS);
	put_v4("e", "192.0.2.5", 100000, 2001); /* evicts a, the oldest */
	ck_assert_int_eq(get("a", 2001, &out), DNS_CACHE_MISS);
	ck_assert_int_eq(get("c", 2001, &out), DNS_CACHE_HIT);
	ck_assert_int_eq(get("e", 2001, &out), DNS_CACHE_HIT);
	dns_cache_put("c", NULL, "NXDOMAIN", 5000, 2001);
	ck_assert_int_eq(dns_cache_get("c", 1, 2002, &out, &err),
	                 DNS_CACHE_NEGATIVE);
	ck_assert_str_eq(err, "NXDOMAIN");
	ck_assert_int_eq(get("c", 7001, &out), DNS_CACHE_MISS);
	dns_cache_fini();
}
END_TEST

START_TEST(test_cache_bounded)
{
	struct dns_addrs out;
	char name[32];
	unsigned i;

	ck_assert_int_eq(dns_cache_init(DNS_CACHE_MAX), 0);
	for (i = 0; i < DNS_CACHE_MAX + 100; i++) {
		snprintf(name, sizeof(name), "host%u.example", i);
		put_v4(name, "192.0.2.1", 60000, i);
	}
	ck_assert_uint_eq(dns_cache_count(), DNS_CACHE_MAX);
	ck_assert_int_eq(get("host0.example", i, &out), DNS_CACHE_MISS);
	snprintf(name, sizeof(name), "host%u.example", i - 1);
	ck_assert_int_eq(get(name, i, &out), DNS_CACHE_HIT);
	dns_cache_fini();
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("resolve");
	TCase *cache = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_literal_v4);
	tcase_add_test(tc, test_literal_v6);
	tcase_add_test(tc, test_name_answered);
	tcase_add_test(tc, test_duplicates_dropped);
	tcase_add_test(tc, test_single_label_as_is);
	tcase_add_test(tc, test_cache_hit);
	tcase_add_test(tc, test_zero_ttl_cached_briefly);
	tcase_add_test(tc, test_ttl_expiry);
	tcase_add_test(tc, test_nxdomain);
	tcase_add_test(tc, test_silent_server_times_out);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_fini_with_pending);
	tcase_add_test(tc, test_two_waiters_one_query);
	tcase_add_test(tc, test_callback_reentry);
	tcase_add_test(tc, test_localhost_from_hosts_file);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_resolver_specs);
	suite_add_tcase(s, tc);
	tcase_add_test(cache, test_cache_eviction);
	tcase_add_test(cache, test_cache_bounded);
	suite_add_tcase(s, cache);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dns_suite());
	int failed;

	/* Fork mode is Check's default; CK_FORK=no runs in one process
	 * (valgrind, gdb): every test cleans up after itself. */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
