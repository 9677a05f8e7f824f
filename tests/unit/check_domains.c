/*
 * Host name sets (rules/domains.c): exact against .suffix names, case and
 * trailing dots, every invalid name, list files with their line numbers,
 * and a million-name list for load time, memory and lookup correctness.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules/match.h"

static struct domain_set *set;
static char err[512];
static char tmp_path[64];

static void
setup(void)
{
	set = domain_set_new();
	ck_assert_ptr_nonnull(set);
	err[0] = '\0';
	tmp_path[0] = '\0';
}

static void
teardown(void)
{
	domain_set_free(set);
	set = NULL;
	if (tmp_path[0])
		unlink(tmp_path);
}

static void
add(const char *name)
{
	ck_assert_msg(domain_set_add(set, name, err, sizeof(err)) == 0,
	              "%s: %s", name, err);
}

static int
match(const char *host)
{
	return domain_set_match(set, host, strlen(host));
}

static void
refused(const char *name, const char *want)
{
	err[0] = '\0';
	ck_assert_msg(domain_set_add(set, name, err, sizeof(err)) == -1,
	              "\"%s\" accepted", name);
	ck_assert_msg(strstr(err, want) != NULL,
	              "\"%s\": got \"%s\", want \"%s\"", name, err, want);
}

/* A temporary file holding text; its path in tmp_path (removed by
 * teardown). */
static FILE *
tmp_open(void)
{
	int fd;
	FILE *f;

	if (tmp_path[0])
		unlink(tmp_path);
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_domains.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	return f;
}

static void
tmp_write(const char *text, size_t len)
{
	FILE *f = tmp_open();

	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Loads text as a list file; returns what domain_set_add_file did. */
static int
load_text(const char *text)
{
	tmp_write(text, strlen(text));
	err[0] = '\0';
	return domain_set_add_file(set, tmp_path, err, sizeof(err));
}

/* load_text fails with "PATH:LINE: reason" containing want. */
static void
load_refused(const char *text, unsigned line, const char *want)
{
	char where[128];

	ck_assert_int_eq(load_text(text), -1);
	snprintf(where, sizeof(where), "%s:%u: ", tmp_path, line);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0,
	              "got \"%s\", want \"%s...\"", err, where);
	ck_assert_msg(strstr(err, want) != NULL, "got \"%s\", want \"%s\"", err,
	              want);
}

START_TEST(empty_set_matches_nothing)
{
	ck_assert_int_eq(match("example.com"), 0);
	ck_assert_int_eq(match(""), 0);
	ck_assert_int_eq(match("."), 0);
	ck_assert_uint_eq(domain_set_count(set), 0);
	ck_assert_uint_gt(domain_set_memory(set), 0);
	ck_assert_uint_lt(domain_set_memory(set), 1024);
}
END_TEST

START_TEST(exact_matches_only_itself)
{
	add("example.com");
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("www.example.com"), 0);
	ck_assert_int_eq(match("a.b.example.com"), 0);
	ck_assert_int_eq(match("com"), 0);
	ck_assert_int_eq(match("badexample.com"), 0);
	ck_assert_int_eq(match("xample.com"), 0);
	ck_assert_int_eq(match("example.co"), 0);
	ck_assert_int_eq(match("example.com.au"), 0);
	ck_assert_int_eq(match("example"), 0);
	ck_assert_uint_eq(domain_set_count(set), 1);
}
END_TEST

START_TEST(suffix_matches_itself_and_below)
{
	add(".example.com");
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("www.example.com"), 1);
	ck_assert_int_eq(match("a.b.example.com"), 1);
	ck_assert_int_eq(match("-.example.com"), 1);
	ck_assert_int_eq(match("badexample.com"), 0);
	ck_assert_int_eq(match("a.badexample.com"), 0);
	ck_assert_int_eq(match("example.com.evil.net"), 0);
	ck_assert_int_eq(match("com"), 0);
	ck_assert_int_eq(match("example.org"), 0);
}
END_TEST

START_TEST(suffix_of_a_top_level_domain)
{
	add(".test");
	add("exact.example");
	ck_assert_int_eq(match("test"), 1);
	ck_assert_int_eq(match("a.b.c.test"), 1);
	ck_assert_int_eq(match("test.example"), 0);
	ck_assert_int_eq(match("atest"), 0);
	ck_assert_int_eq(match("exact.example"), 1);
	ck_assert_int_eq(match("www.exact.example"), 0);
}
END_TEST

START_TEST(exact_and_suffix_of_one_name)
{
	add("example.com");
	add("www.example.com");
	ck_assert_int_eq(match("a.www.example.com"), 0);
	add(".www.example.com"); /* the same name, now also as a suffix */
	ck_assert_int_eq(match("a.www.example.com"), 1);
	ck_assert_int_eq(match("www.example.com"), 1);
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("a.example.com"), 0);
	ck_assert_uint_eq(domain_set_count(set), 3);
	add(".www.example.com");
	add("WWW.example.com.");
	ck_assert_uint_eq(domain_set_count(set), 3);
}
END_TEST

START_TEST(case_insensitive_both_ways)
{
	add("ExAmple.COM");
	add(".Tracker.NET");
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("EXAMPLE.COM"), 1);
	ck_assert_int_eq(match("eXaMpLe.CoM"), 1);
	ck_assert_int_eq(match("ADS.TRACKER.net"), 1);
	ck_assert_int_eq(match("tracker.NET"), 1);
	ck_assert_int_eq(match("EXAMPLE.COMX"), 0);
	ck_assert_uint_eq(domain_set_count(set), 2);
}
END_TEST

START_TEST(trailing_dots)
{
	add("example.com.");
	add(".example.org.");
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("example.com."), 1);
	/* never a way around a rule: no resolver reaches another name */
	ck_assert_int_eq(match("example.com.."), 1);
	ck_assert_int_eq(match("www.example.org."), 1);
	ck_assert_int_eq(match("example.org."), 1);
	ck_assert_int_eq(match("www.example.com."), 0);
}
END_TEST

START_TEST(host_is_length_delimited)
{
	const char buf[] = "www.example.com:443";

	add(".example.com");
	add("exact.net");
	ck_assert_int_eq(domain_set_match(set, buf, 15), 1);
	ck_assert_int_eq(domain_set_match(set, buf, 19), 0);
	ck_assert_int_eq(domain_set_match(set, "exact.netXYZ", 9), 1);
	ck_assert_int_eq(domain_set_match(set, "exact.netXYZ", 8), 0);
	ck_assert_int_eq(domain_set_match(set, "exact.net", 0), 0);
}
END_TEST

START_TEST(odd_hosts_still_judged)
{
	add(".example.com");
	/* empty labels in a request host do not hide the domain */
	ck_assert_int_eq(match("a..example.com"), 1);
	ck_assert_int_eq(match(".example.com"), 1);
	ck_assert_int_eq(match("..example.com"), 1);
	ck_assert_int_eq(match("a b.example.com"), 1);
	ck_assert_int_eq(match("..."), 0);
	ck_assert_int_eq(match(""), 0);
}
END_TEST

START_TEST(long_hosts)
{
	char host[600];

	add(".example.com");
	memset(host, 'a', sizeof(host));
	memcpy(host + sizeof(host) - 12, ".example.com", 12);
	/* longer than a DNS name may be, and still caught */
	ck_assert_int_eq(domain_set_match(set, host, sizeof(host)), 1);
	memcpy(host + sizeof(host) - 12, ".example.net", 12);
	ck_assert_int_eq(domain_set_match(set, host, sizeof(host)), 0);
}
END_TEST

START_TEST(limits_at_the_edge)
{
	char name[300];
	size_t i;

	memset(name, 'a', 63);
	strcpy(name + 63, ".com");
	add(name); /* 63-character label */
	ck_assert_int_eq(match(name), 1);
	name[0] = 'A';
	ck_assert_int_eq(match(name), 1);
	/* 253 characters: 63 + 1 + 63 + 1 + 63 + 1 + 61 */
	for (i = 0; i < 253; i++)
		name[i] = (i + 1) % 64 == 0 ? '.' : 'b';
	name[253] = '\0';
	add(name);
	ck_assert_int_eq(match(name), 1);
	name[253] = '.';
	name[254] = '\0';
	add(name); /* 253 + the root dot */
	ck_assert_uint_eq(domain_set_count(set), 2);
	add("a");
	add("_dmarc.example.com");
	add("xn--bcher-kva.example");
	add("1.2.3.4");
	add("-a-.b-");
	ck_assert_int_eq(match("_DMARC.example.com"), 1);
}
END_TEST

START_TEST(invalid_names)
{
	char name[300];
	size_t i;

	refused("", "empty name");
	refused(".", "empty name");
	refused("..", "empty name");
	refused("example..com", "empty label in \"example..com\"");
	refused("example.com..", "empty label in \"example.com.\"");
	refused("..example.com", "empty label in \".example.com\"");
	refused("exa mple.com", "invalid character ' ' in \"exa mple.com\"");
	refused("example.com/", "invalid character '/'");
	refused("example.com:443", "invalid character ':'");
	refused("example.com # blocked", "invalid character ' '");
	refused("ex\tample.com", "invalid character \\x09 in \"ex\"");
	/* an error never quotes what could drive a terminal */
	refused("ex\x1b[2Jample.com", "invalid character \\x1b in \"ex\"");
	refused("b\xc3\xbc"
	        "cher.example",
	        "invalid character \\xc3");
	refused("ex*ample.com", "invalid character '*'");
	refused("*.example.com", "wildcards are not supported: write "
	                         "\".example.com\"");
	refused("[::1]", "invalid character '['");
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	refused(name, "label longer than 63 characters");
	memset(name, 'a', 254);
	name[254] = '\0';
	for (i = 63; i < 254; i += 64)
		name[i] = '.';
	refused(name, "name longer than 253 characters");
	ck_assert_uint_eq(domain_set_count(set), 0);
	ck_assert_int_eq(match("example.com"), 0);
}
END_TEST

START_TEST(file_loads_names)
{
	ck_assert_int_eq(load_text("# a blocklist\n"
	                           "\n"
	                           "example.com\r\n"
	                           "   \t\n"
	                           "  # an indented comment\n"
	                           ".Tracker.NET\n"
	                           "  padded.org \t\r\n"
	                           "\r\n"
	                           "last.example"), /* no final newline */
	                 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(domain_set_count(set), 4);
	ck_assert_int_eq(match("example.com"), 1);
	ck_assert_int_eq(match("www.example.com"), 0);
	ck_assert_int_eq(match("ads.tracker.net"), 1);
	ck_assert_int_eq(match("padded.org"), 1);
	ck_assert_int_eq(match("last.example"), 1);
	ck_assert_int_eq(match("#"), 0);
}
END_TEST

START_TEST(file_empty)
{
	ck_assert_int_eq(load_text(""), 0);
	ck_assert_uint_eq(domain_set_count(set), 0);
	ck_assert_int_eq(load_text("# nothing\n\n"), 0);
	ck_assert_uint_eq(domain_set_count(set), 0);
}
END_TEST

START_TEST(file_errors_name_the_line)
{
	load_refused("ok.com\n# comment\n\nbad name.com\n", 4,
	             "invalid character ' ' in \"bad name.com\"");
	load_refused("a.com\r\nb..com\r\n", 2, "empty label in \"b..com\"");
	load_refused("a.com\nexample.com # inline comments are not\n", 2,
	             "invalid character ' '");
	load_refused("*.example.com\n", 1, "wildcards are not supported");
	load_refused("\n\n\n\n\n\n\n\n\n\n.\n", 11, "empty name");
}
END_TEST

START_TEST(file_nul_byte_is_an_error)
{
	static const char text[] = "a.com\nb.c\0m\n";

	tmp_write(text, sizeof(text) - 1);
	ck_assert_int_eq(domain_set_add_file(set, tmp_path, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: invalid character \\x00"));
}
END_TEST

START_TEST(file_missing)
{
	ck_assert_int_eq(domain_set_add_file(set, "/nonexistent/list.txt", err,
	                                     sizeof(err)),
	                 -1);
	ck_assert_str_eq(err,
	                 "/nonexistent/list.txt: No such file or directory");
}
END_TEST

START_TEST(file_is_a_directory)
{
	ck_assert_int_eq(domain_set_add_file(set, "/tmp", err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "/tmp: Is a directory");
}
END_TEST

START_TEST(file_adds_to_inline_names)
{
	add("inline.example");
	ck_assert_int_eq(load_text("listed.example\n.inline.example\n"), 0);
	add("after.example");
	ck_assert_uint_eq(domain_set_count(set), 4);
	ck_assert_int_eq(match("inline.example"), 1);
	ck_assert_int_eq(match("a.inline.example"), 1);
	ck_assert_int_eq(match("listed.example"), 1);
	ck_assert_int_eq(match("after.example"), 1);
}
END_TEST

/* ---- a million names ---- */

enum { SCALE_N = 1000000 };

static const char *const tlds[] = {"com",   "net",  "org", "io",  "de",
                                   "co.uk", "info", "ru",  "xyz", "app"};

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
put_label(char *p, uint64_t *rng, unsigned min, unsigned span)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t n = min + splitmix(rng) % span, i;

	for (i = 0; i < n; i++)
		p[i] = abc[splitmix(rng) % (i == 0 || i == n - 1 ? 36 : 37)];
	return n;
}

/* Name i of the list, the same every time: a quarter are suffix names
 * (".s..."), the rest exact ("e..."); the index in base 36 keeps them
 * distinct, so the set must hold exactly SCALE_N. */
static size_t
scale_name(unsigned i, char *out)
{
	uint64_t rng = i;
	char *p = out;
	unsigned v = i;

	if (i % 4 == 0)
		*p++ = '.';
	*p++ = i % 4 == 0 ? 's' : 'e';
	do {
		*p++ = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
		v /= 36;
	} while (v);
	p += put_label(p, &rng, 2, 9);
	*p++ = '.';
	p += put_label(p, &rng, 3, 10);
	*p++ = '.';
	p += (size_t)sprintf(p, "%s", tlds[splitmix(&rng) % 10]);
	*p = '\0';
	return (size_t)(p - out);
}

static double
clock_s(clockid_t which)
{
	struct timespec ts;

	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void
write_scale_file(void)
{
	FILE *f = tmp_open();
	char name[128];
	unsigned i;

	fprintf(f, "# %d generated names\n", SCALE_N);
	for (i = 0; i < SCALE_N; i++) {
		scale_name(i, name);
		fputs(name, f);
		fputc('\n', f);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/* The queries, made before the clock starts: one long buffer of hosts
 * (not NUL-terminated, as a request's are not) and where each begins. */
struct queries {
	char *text;
	uint32_t *at; /* SCALE_N + 1 offsets */
	size_t used;
};

static void
query_add(struct queries *q, unsigned k, const char *prefix, const char *base)
{
	q->at[k] = (uint32_t)q->used;
	q->used += (size_t)sprintf(q->text + q->used, "%s%s", prefix, base);
}

/* Two queries per listed name (the first half of the list): query 2i must
 * hit (the name, every third upper-cased, or a name below a suffix), query
 * 2i+1 must miss (a longer first label, or a name below an exact one).
 * 48 bytes a query is more than the longest name and prefix. */
static void
make_queries(struct queries *q)
{
	char name[128], pre[16];
	const char *base;
	unsigned i;

	q->text = malloc((size_t)SCALE_N * 48);
	q->at = malloc((SCALE_N + 1) * sizeof(*q->at));
	ck_assert_ptr_nonnull(q->text);
	ck_assert_ptr_nonnull(q->at);
	q->used = 0;
	for (i = 0; i < SCALE_N / 2; i++) {
		scale_name(i, name);
		base = name[0] == '.' ? name + 1 : name;
		pre[0] = '\0';
		if (name[0] == '.')
			snprintf(pre, sizeof(pre), "w%u.", i);
		query_add(q, 2 * i, pre, base);
		if (i % 3 == 0)
			q->text[q->at[2 * i]] =
			        (char)(q->text[q->at[2 * i]] - 32);
		query_add(q, 2 * i + 1, i % 2 || name[0] == '.' ? "x" : "www.",
		          base);
	}
	q->at[SCALE_N] = (uint32_t)q->used;
}

static void
scale_lookups(void)
{
	struct queries q;
	unsigned i, wrong = 0, first = 0;
	double t0, t;
	int hit;

	make_queries(&q);
	t0 = now();
	for (i = 0; i < SCALE_N; i++) {
		hit = domain_set_match(set, q.text + q.at[i],
		                       q.at[i + 1] - q.at[i]);
		if (hit != !(i & 1) && wrong++ == 0)
			first = i;
	}
	t = now() - t0;
	printf("domains: %d lookups (half hits) in %.3f s: %.1f M/s\n", SCALE_N,
	       t, SCALE_N / t / 1e6);
	ck_assert_msg(wrong == 0, "%u wrong, the first \"%.*s\" (want %d)",
	              wrong, (int)(q.at[first + 1] - q.at[first]),
	              q.text + q.at[first], !(first & 1));
	free(q.text);
	free(q.at);
}

/* The load is judged on CPU time (wall time printed too): a test machine
 * busy with other builds must not fail it.  5 s is five times the target,
 * a sanity bound, not a benchmark. */
START_TEST(million_names)
{
	double t0, c0, t, c;
	size_t mem;

	t0 = now();
	write_scale_file();
	printf("domains: wrote %d names in %.3f s\n", SCALE_N, now() - t0);
	t0 = now();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	ck_assert_msg(domain_set_add_file(set, tmp_path, err, sizeof(err)) == 0,
	              "%s", err);
	c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	t = now() - t0;
	mem = domain_set_memory(set);
	printf("domains: loaded %zu names in %.3f s (%.3f s CPU), memory "
	       "%.1f MiB (%.1f bytes a name)\n",
	       domain_set_count(set), t, c, (double)mem / (1 << 20),
	       (double)mem / SCALE_N);
	fflush(stdout);
	ck_assert_uint_eq(domain_set_count(set), SCALE_N);
	ck_assert_uint_lt(mem, 64 << 20);
	ck_assert_msg(c < 5.0, "load took %.3f s of CPU", c);
	scale_lookups();
	fflush(stdout);
}
END_TEST

static Suite *
domains_suite(void)
{
	Suite *s = suite_create("domains");
	TCase *tc = tcase_create("match");
	TCase *tf = tcase_create("file");
	TCase *ts = tcase_create("scale");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_set_matches_nothing);
	tcase_add_test(tc, exact_matches_only_itself);
	tcase_add_test(tc, suffix_matches_itself_and_below);
	tcase_add_test(tc, suffix_of_a_top_level_domain);
	tcase_add_test(tc, exact_and_suffix_of_one_name);
	tcase_add_test(tc, case_insensitive_both_ways);
	tcase_add_test(tc, trailing_dots);
	tcase_add_test(tc, host_is_length_delimited);
	tcase_add_test(tc, odd_hosts_still_judged);
	tcase_add_test(tc, long_hosts);
	tcase_add_test(tc, limits_at_the_edge);
	tcase_add_test(tc, invalid_names);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, file_loads_names);
	tcase_add_test(tf, file_empty);
	tcase_add_test(tf, file_errors_name_the_line);
	tcase_add_test(tf, file_nul_byte_is_an_error);
	tcase_add_test(tf, file_missing);
	tcase_add_test(tf, file_is_a_directory);
	tcase_add_test(tf, file_adds_to_inline_names);
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_add_test(ts, million_names);
	tcase_set_timeout(ts, 60);
	suite_add_tcase(s, ts);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(domains_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
