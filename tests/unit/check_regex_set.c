/*
 * The URL regex matcher (rules/regex_set.c) and its prefilter: the
 * required-literal scan (rules/regex_literal.c) on a table of patterns and
 * against PCRE2 itself on random ones, the Aho-Corasick automaton
 * (rules/aho.c) against a naive search, regex_set_match against running
 * every pattern in order, errors with PCRE2's message and offset, files
 * with FILE:LINE, misuse caught by asserts, and 10,000 patterns timed
 * with and without the prefilter.  Random tests use a fixed seed
 * (REGEX_SET_SEED overrides it) and print it when they fail.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <check.h>
#include <pcre2.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rules/aho.h"
#include "rules/match.h"

/* ---- helpers ------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t seed;

static void
rng_init(void)
{
	const char *env = getenv("REGEX_SET_SEED");

	seed = env ? strtoull(env, NULL, 0) : 0x5eed2024u;
	rng_state = seed ? seed : 1;
}

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible across libcs, unlike rand() */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

/* CPU time of this thread: what a match costs the worker, unmoved by
 * whatever else the machine is running. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The reference: PCRE2 compiled on its own (with the set's options),
 * run without the prefilter. */
static pcre2_code *
ref_compile(const char *pattern, int caseless)
{
	uint32_t opts = PCRE2_NEVER_UTF | (caseless ? PCRE2_CASELESS : 0);
	PCRE2_SIZE off;
	int rc;

	return pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
	                     &rc, &off, NULL);
}

static int
ref_match(pcre2_code *code, pcre2_match_data *md, const char *s, size_t len)
{
	return pcre2_match(code, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

/* First index in codes[0..n) that matches, as a plain loop finds it. */
static int
ref_first(pcre2_code **codes, size_t n, pcre2_match_data *md, const char *s,
          size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ref_match(codes[i], md, s, len))
			return (int)i;
	return -1;
}

static struct regex_set *
build(const char *const *pats, size_t n, int caseless)
{
	struct regex_set *s = regex_set_new();
	char err[256];
	size_t i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		ck_assert_msg(regex_set_add(s, pats[i], caseless, err,
		                            sizeof(err)) == 0,
		              "%s: %s", pats[i], err);
	ck_assert_int_eq(regex_set_compile(s, err, sizeof(err)), 0);
	return s;
}

static int
match1(const struct regex_set *s, const char *subject)
{
	struct regex_scratch *sc = regex_scratch_new(s);
	int r;

	ck_assert_ptr_nonnull(sc);
	r = regex_set_match(s, sc, subject, strlen(subject));
	regex_scratch_free(sc);
	return r;
}

static int
contains(const char *hay, size_t hlen, const char *needle, size_t nlen,
         int caseless)
{
	size_t i;

	for (i = 0; i + nlen <= hlen; i++)
		if ((caseless ? strncasecmp(hay + i, needle, nlen)
		              : memcmp(hay + i, needle, nlen)) == 0)
			return 1;
	return 0;
}

/* ---- random patterns and subjects ----------------------------------- */

/* Pieces of the grammar: literals the subjects share, and every kind of
 * syntax the literal scan treats specially. */
static const char *const atoms[] = {
        "a",           "b",      "c",          "A",      "B",         "abc",
        "bca",         "cab",    "ab",         "a/b",    "\\.",       "\\/",
        ".",           "/",      "-",          "[ab]",   "[^c]",      "[]a]",
        "[[:alpha:]]", "[\\]b]", "[\\Qc]\\E]", "\\d",    "\\w",       "\\s",
        "\\b",         "\\x61",  "\\x{62}",    "\\t",    "(ab|c)",    "(?:abc)",
        "(?i:ab)",     "(?=a)",  "(?!b)",      "(?#c)",  "\\Qa.b\\E", "\\Qa\\E",
        "(a)\\1",      "(?i)",   "\\E",        "\\Q\\E", "(?<=a)",    "a{,2}",
        "(?|(a)|(b))", "\\Ab",   "C",
};
static const char *const quants[] = {
        "?",     "*",  "+",  "{2}", "{0,2}", "{1,}",
        "{2,3}", "??", "+?", "*+",  "{0}",   "{1}",
};
static const char *const frags[] = {
        "a",   "b", "c", "A", "B", "C", "abc", "ABC", "bca", "cab",
        "a.b", "/", ".", "-", "1", " ", "\t",  "x",   "ab",  "aB",
};

static void
append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "%s", s);
}

static void
random_seq(char *buf, size_t cap)
{
	unsigned i, n = 1 + rnd(5);

	for (i = 0; i < n; i++) {
		append(buf, cap, atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))]);
		if (rnd(10) < 3)
			append(buf, cap,
			       quants[rnd(sizeof(quants) / sizeof(quants[0]))]);
	}
}

/* A random pattern that compiles (with the set's options). */
static void
random_pattern(char *buf, size_t cap, int caseless)
{
	pcre2_code *c;

	do {
		buf[0] = '\0';
		if (rnd(10) == 0)
			append(buf, cap, "^");
		random_seq(buf, cap);
		if (rnd(10) == 0) {
			append(buf, cap, "|");
			random_seq(buf, cap);
		}
		if (rnd(10) == 0)
			append(buf, cap, "$");
		c = ref_compile(buf, caseless);
	} while (!c);
	pcre2_code_free(c);
}

/* The whole buffer is zeroed: PCRE2's JIT reads a few bytes past the end
 * of a subject (harmlessly, with SIMD loads that stay within the page),
 * and valgrind would call uninitialised bytes there an error. */
static size_t
random_subject(char *buf, size_t cap)
{
	unsigned i, n = rnd(8);

	memset(buf, 0, cap);
	for (i = 0; i < n; i++)
		append(buf, cap, frags[rnd(sizeof(frags) / sizeof(frags[0]))]);
	return strlen(buf);
}

/* ---- the literal scan ----------------------------------------------- */

static const struct {
	const char *pattern;
	int caseless;        /* the set's flag */
	const char *literal; /* NULL: none */
	int lit_caseless;
} lit_table[] = {
        {"^https?://ads\\.example\\.com/", 0, "://ads.example.com/", 0},
        {"foo|bar", 0, NULL, 0},
        {"abc|", 0, NULL, 0},
        {"a(bc)+def", 0, "def", 0},
        {"(?i)TRACK", 0, "track", 1},
        {"TRACK", 1, "track", 1},
        {"abc(?i)DEF", 0, "abcdef", 1},
        {"(?i:abc)def", 0, "def", 1},
        {"\\Qa.b\\E", 0, "a.b", 0},
        {"\\Qa.b", 0, "a.b", 0},
        {"x{0,3}yyy", 0, "yyy", 0},
        {"[abc]zzz", 0, "zzz", 0},
        {"abc", 0, "abc", 0},
        {"ab?cd", 0, "cd", 0},
        {"ab*cde", 0, "cde", 0},
        {"ab+cd", 0, "bcd", 0},
        {"ab{3}c", 0, "abbbc", 0},
        {"ab{2,}c", 0, "abb", 0},
        {"ab{2,2}c", 0, "abbc", 0},
        {"ab{0}cd", 0, "cd", 0},
        {"ab+?c", 0, "ab", 0},
        {"ab?+cd", 0, "cd", 0},
        {"a.b", 0, "a", 0},
        {"\\d+foo\\.js", 0, "foo.js", 0},
        {"foo(bar|baz)qux", 0, "foo", 0},
        {"(foo|bar)", 0, NULL, 0},
        {"\\x41\\x{42}C", 0, "ABC", 0},
        {"a\\tb", 0, "a\tb", 0},
        {"a\\.b\\/c\\?", 0, "a.b/c?", 0},
        {"[]x]yyy", 0, "yyy", 0},
        {"[^]x]yyy", 0, "yyy", 0},
        {"[[:alpha:]]yyy", 0, "yyy", 0},
        {"[[:alpha:]x]yyy", 0, "yyy", 0},
        {"[\\]]yyy", 0, "yyy", 0},
        {"[\\Q]\\E]yyy", 0, "yyy", 0},
        {"[\\E]x]yyy", 0, "yyy", 0},
        {"[(]abc", 0, "abc", 0},
        {"(a[)]b)cde", 0, "cde", 0},
        {"(a\\)b)cde", 0, "cde", 0},
        {"(a(?#()b)cde", 0, "cde", 0},
        {"(?#x)abc", 0, "abc", 0},
        {"ab(?#c)cd", 0, "abcd", 0},
        {"ab\\Qc\\Ede", 0, "abcde", 0},
        {"\\bword\\b", 0, "word", 0},
        {"^/ads/[0-9]+/banner\\.gif$", 0, "/banner.gif", 0},
        {"(?s).*secret.*", 0, "secret", 0},
        {"(?=abc)abd", 0, "abd", 0},
        {"x{2}", 0, "xx", 0},
        {"x{100}", 0, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0},
        /* not understood, or a quantifier we cannot place: no literal */
        {"abc(?#x)?", 0, NULL, 0},
        {"abc\\E+", 0, NULL, 0},
        {"(*LIMIT_MATCH=10)abc", 0, NULL, 0},
        {"(?x)a b c", 0, NULL, 0},
        {"(a)\\1bcd", 0, NULL, 0},
        {"\\p{L}abc", 0, NULL, 0},
        {"a{,3}bcd", 0, NULL, 0},
        {"a{x}bcd", 0, NULL, 0},
        {"", 0, NULL, 0},
        {".*", 0, NULL, 0},
};

START_TEST(literal_table)
{
	char lit[REGEX_LITERAL_MAX];
	const char *want;
	pcre2_code *c;
	size_t n, k;
	int ci;

	for (k = 0; k < sizeof(lit_table) / sizeof(lit_table[0]); k++) {
		c = ref_compile(lit_table[k].pattern, lit_table[k].caseless);
		ck_assert_msg(c, "%s does not compile", lit_table[k].pattern);
		pcre2_code_free(c);
		n = regex_literal_extract(lit_table[k].pattern,
		                          lit_table[k].caseless, lit, &ci);
		want = lit_table[k].literal;
		ck_assert_msg(n == (want ? strlen(want) : 0) &&
		                      (n == 0 || memcmp(lit, want, n) == 0),
		              "%s: got \"%.*s\", want \"%s\"",
		              lit_table[k].pattern, (int)n, lit,
		              want ? want : "(none)");
		if (want)
			ck_assert_msg(ci == lit_table[k].lit_caseless,
			              "%s: caseless %d", lit_table[k].pattern,
			              ci);
	}
}
END_TEST

/* Every subject PCRE2 says matches must contain the literal: the one
 * property the prefilter rests on. */
START_TEST(literal_property)
{
	pcre2_match_data *md = pcre2_match_data_create(16, NULL);
	char pat[256], subj[256], lit[REGEX_LITERAL_MAX];
	unsigned k, j, checked = 0;
	size_t n, len;
	pcre2_code *c;
	int caseless, ci;

	rng_init();
	for (k = 0; k < 4000; k++) {
		caseless = rnd(4) == 0;
		random_pattern(pat, sizeof(pat), caseless);
		n = regex_literal_extract(pat, caseless, lit, &ci);
		c = ref_compile(pat, caseless);
		for (j = 0; n > 0 && j < 40; j++) {
			len = random_subject(subj, sizeof(subj));
			if (!ref_match(c, md, subj, len))
				continue;
			checked++;
			ck_assert_msg(contains(subj, len, lit, n, ci),
			              "seed %#llx: /%s/%s matches \"%s\" "
			              "without its literal \"%.*s\"",
			              (unsigned long long)seed, pat,
			              caseless ? "i" : "", subj, (int)n, lit);
		}
		pcre2_code_free(c);
	}
	ck_assert_uint_gt(checked, 2000); /* the test tested something */
	pcre2_match_data_free(md);
}
END_TEST

/* ---- the automaton -------------------------------------------------- */

struct hits {
	uint64_t v[4096];
	size_t n;
};

static void
collect(void *ctx, uint32_t id, size_t end)
{
	struct hits *h = ctx;

	ck_assert_uint_lt(h->n, 4096);
	h->v[h->n++] = (uint64_t)end << 32 | id;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
naive_hits(char keys[][8], size_t nkeys, const char *text, size_t len,
           struct hits *h)
{
	size_t i, k, kl;

	h->n = 0;
	for (k = 0; k < nkeys; k++) {
		kl = strlen(keys[k]);
		for (i = 0; i + kl <= len; i++)
			if (strncasecmp(text + i, keys[k], kl) == 0)
				collect(h, (uint32_t)k, i + kl - 1);
	}
}

static void
random_key(char *k, size_t cap, const char *alphabet)
{
	size_t i, n = 1 + rnd((uint32_t)cap - 1);

	for (i = 0; i < n; i++)
		k[i] = alphabet[rnd((uint32_t)strlen(alphabet))];
	k[n] = '\0';
}

START_TEST(aho_against_naive)
{
	static struct hits got, want;
	char keys[40][8], text[64];
	size_t round, k, nkeys, t;
	struct aho *a;

	rng_init();
	for (round = 0; round < 500; round++) {
		ck_assert_ptr_nonnull(a = aho_new());
		nkeys = 1 + rnd(40);
		for (k = 0; k < nkeys; k++) {
			random_key(keys[k], 6, "abAB\x80");
			ck_assert_int_eq(aho_add(a, keys[k], strlen(keys[k]),
			                         (uint32_t)k),
			                 0);
		}
		ck_assert_int_eq(aho_build(a), 0);
		for (t = 0; t < 20; t++) {
			random_key(text, 40,
			           "abAB\x80"
			           "c");
			got.n = 0;
			aho_scan(a, text, strlen(text), collect, &got);
			naive_hits(keys, nkeys, text, strlen(text), &want);
			qsort(got.v, got.n, sizeof(got.v[0]), cmp_u64);
			qsort(want.v, want.n, sizeof(want.v[0]), cmp_u64);
			ck_assert_uint_eq(got.n, want.n);
			ck_assert(memcmp(got.v, want.v,
			                 got.n * sizeof(got.v[0])) == 0);
		}
		aho_free(a);
	}
}
END_TEST

START_TEST(aho_edges)
{
	struct hits h = {.n = 0};
	struct aho *a = aho_new();

	ck_assert_int_eq(aho_add(a, "", 0, 1), -1);
	ck_assert_int_eq(aho_add(a, "a\0b", 3, 7), 0); /* any bytes */
	ck_assert_int_eq(aho_add(a, "A\0B", 3, 8), 0); /* same key twice */
	ck_assert_int_eq(aho_build(a), 0);
	ck_assert_int_eq(aho_add(a, "c", 1, 1), -1); /* after build */
	aho_scan(a, "xa\0bx", 5, collect, &h);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_uint_eq(h.v[0] >> 32, 3);
	ck_assert_uint_eq(aho_states(a), 4);
	aho_free(a);

	h.n = 0;
	a = aho_new();
	ck_assert_int_eq(aho_build(a), 0); /* no keys at all */
	aho_scan(a, "abc", 3, collect, &h);
	ck_assert_uint_eq(h.n, 0);
	aho_free(a);
	aho_free(NULL);
}
END_TEST

/* ---- the set -------------------------------------------------------- */

START_TEST(first_in_add_order)
{
	static const char *const p[] = {"x.*y", "zzz", "abc", "b.c",
	                                "^a",   ".",   "abc"};
	struct regex_set *s = build(p, 7, 0);

	ck_assert_int_eq(match1(s, "abc"), 2);
	ck_assert_int_eq(match1(s, "xbyc"), 0);
	ck_assert_int_eq(match1(s, "qbqc"), 3);
	ck_assert_int_eq(match1(s, "aq"), 4);
	ck_assert_int_eq(match1(s, "q"), 5);
	ck_assert_int_eq(match1(s, ""), -1);
	ck_assert_uint_eq(regex_set_count(s), 7);
	ck_assert_str_eq(regex_set_pattern(s, 3), "b.c");
	ck_assert_ptr_null(regex_set_pattern(s, 7));
	regex_set_free(s);
}
END_TEST

START_TEST(empty_set)
{
	struct regex_set *s = build(NULL, 0, 0);

	ck_assert_uint_eq(regex_set_count(s), 0);
	ck_assert_int_eq(match1(s, "http://example.com/"), -1);
	ck_assert_int_eq(match1(s, ""), -1);
	regex_set_free(s);
	regex_set_free(NULL);
	regex_scratch_free(NULL);
}
END_TEST

START_TEST(caseless_patterns)
{
	static const char *const ci[] = {"ADS\\.example/", "(?-i)Track"};
	static const char *const cs[] = {"Track", "(?i)BEACON", "Abcd"};
	struct regex_set *s = build(ci, 2, 1);

	ck_assert_int_eq(match1(s, "http://ads.EXAMPLE/x"), 0);
	ck_assert_int_eq(match1(s, "http://x/Track"), 1);
	ck_assert_int_eq(match1(s, "http://x/track"), -1);
	regex_set_free(s);

	s = build(cs, 3, 0);
	ck_assert_int_eq(match1(s, "http://x/track"), -1);
	ck_assert_int_eq(match1(s, "http://x/Track"), 0);
	ck_assert_int_eq(match1(s, "http://x/beacon.gif"), 1);
	/* the literal occurs in the wrong case first, then in the right */
	ck_assert_int_eq(match1(s, "abcd-ABCD-Abcd"), 2);
	ck_assert_int_eq(match1(s, "abcd-ABCD"), -1);
	regex_set_free(s);
}
END_TEST

/* The literal is found anywhere, with any bytes around it, and a scratch
 * is reused across calls. */
START_TEST(scratch_reuse)
{
	static const char *const p[] = {"\\.gif$", "/ads/", "tracker\\.js"};
	struct regex_set *s = build(p, 3, 0);
	struct regex_scratch *sc = regex_scratch_new(s);
	char subj[] = "http://h/ads/\xff\x00tracker.js";
	int i;

	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(regex_set_match(s, sc, subj, sizeof(subj) - 1),
		                 1);
		ck_assert_int_eq(regex_set_match(s, sc, "/a.gif", 6), 0);
		ck_assert_int_eq(regex_set_match(s, sc, "/a.png", 6), -1);
		ck_assert_int_eq(regex_set_match(s, sc, subj + 15, 10), 2);
	}
	regex_scratch_free(sc);
	regex_set_free(s);
}
END_TEST

/* A JIT stack overflow is retried in the interpreter, not taken for a
 * miss. */
START_TEST(jit_stack_fallback)
{
	static const char *const p[] = {"^(a|b)*c$"};
	struct regex_set *s = build(p, 1, 0);
	size_t n = 200000;
	char *subj = malloc(n + 1);

	memset(subj, 'a', n);
	subj[n - 1] = 'c';
	subj[n] = '\0';
	ck_assert_int_eq(match1(s, subj), 0);
	free(subj);
	regex_set_free(s);
}
END_TEST

static void
check_random_set(pcre2_match_data *md)
{
	char pats[10][256], subj[256];
	pcre2_code *codes[10];
	const char *pp[10];
	struct regex_set *s;
	struct regex_scratch *sc;
	size_t n = 1 + rnd(10), i, len;
	int caseless = rnd(4) == 0, t, got, want;

	for (i = 0; i < n; i++) {
		random_pattern(pats[i], sizeof(pats[i]), caseless);
		pp[i] = pats[i];
		codes[i] = ref_compile(pats[i], caseless);
	}
	s = build(pp, n, caseless);
	sc = regex_scratch_new(s);
	for (t = 0; t < 10; t++) {
		len = random_subject(subj, sizeof(subj));
		got = regex_set_match(s, sc, subj, len);
		want = ref_first(codes, n, md, subj, len);
		ck_assert_msg(got == want,
		              "seed %#llx: \"%s\": got %d (%s), want %d (%s)",
		              (unsigned long long)seed, subj, got,
		              got >= 0 ? pats[got] : "-", want,
		              want >= 0 ? pats[want] : "-");
	}
	for (i = 0; i < n; i++)
		pcre2_code_free(codes[i]);
	regex_scratch_free(sc);
	regex_set_free(s);
}

START_TEST(same_as_plain_loop)
{
	pcre2_match_data *md = pcre2_match_data_create(16, NULL);
	int k;

	rng_init();
	for (k = 0; k < 2000; k++)
		check_random_set(md);
	pcre2_match_data_free(md);
}
END_TEST

/* ---- errors and files ----------------------------------------------- */

static void
expect_error(const char *pattern, const char *want)
{
	struct regex_set *s = regex_set_new();
	char err[256] = "";

	ck_assert_int_eq(regex_set_add(s, "ok", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(regex_set_add(s, pattern, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	/* the set is untouched and still usable */
	ck_assert_uint_eq(regex_set_count(s), 1);
	ck_assert_int_eq(regex_set_add(s, "fine", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(regex_set_compile(s, err, sizeof(err)), 0);
	ck_assert_int_eq(match1(s, "so fine"), 1);
	regex_set_free(s);
}

START_TEST(compile_errors)
{
	expect_error("a(b", "at offset 3: missing closing parenthesis");
	expect_error("*a", "at offset 0: quantifier does not follow a "
	                   "repeatable item");
	expect_error("[a", "at offset 2: missing terminating ] for "
	                   "character class");
	expect_error("a\\", "at offset 2: \\ at end of pattern");
	expect_error("(*UTF)x", "at offset 6: using UTF is disabled by the "
	                        "application");
}
END_TEST

static char *
write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_regex_set.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(file_loading)
{
	struct regex_set *s = regex_set_new();
	char *path = write_file("# ad servers\n"
	                        "\n"
	                        "  ^https?://ads\\.  \r\n"
	                        "\t\n"
	                        "/track/[0-9]+\\.gif$\n"
	                        "last-without-newline");
	char err[512];

	ck_assert_int_eq(regex_set_add_file(s, path, 0, err, sizeof(err)), 0);
	unlink(path);
	ck_assert_uint_eq(regex_set_count(s), 3);
	ck_assert_str_eq(regex_set_pattern(s, 0), "^https?://ads\\.");
	ck_assert_str_eq(regex_set_pattern(s, 2), "last-without-newline");
	ck_assert_int_eq(regex_set_compile(s, err, sizeof(err)), 0);
	ck_assert_int_eq(match1(s, "http://ads.x/"), 0);
	ck_assert_int_eq(match1(s, "http://x/track/12.gif"), 1);
	regex_set_free(s);
}
END_TEST

START_TEST(file_errors)
{
	struct regex_set *s = regex_set_new();
	char *path = write_file("ok\n# fine\n\nbad(\n");
	char err[512], want[600];

	ck_assert_int_eq(regex_set_add_file(s, path, 0, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	         "%s:4: at offset 4: missing closing parenthesis", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	ck_assert_int_eq(regex_set_add_file(s, path, 0, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	regex_set_free(s);
}
END_TEST

/* ---- misuse aborts -------------------------------------------------- */

/* The abort's message is expected: keep it out of the suite's output.
 * (Each test runs in its own child, so only that child is silenced.) */
static void
quiet(void)
{
	ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));
}

START_TEST(match_before_compile)
{
	struct regex_set *s = regex_set_new();
	char err[64];

	regex_set_add(s, "abc", 0, err, sizeof(err));
	quiet();
	regex_set_match(s, NULL, "abc", 3);
}
END_TEST

START_TEST(add_after_compile)
{
	struct regex_set *s = regex_set_new();
	char err[64];

	regex_set_compile(s, err, sizeof(err));
	quiet();
	regex_set_add(s, "abc", 0, err, sizeof(err));
}
END_TEST

START_TEST(scratch_of_another_set)
{
	struct regex_set *a = build(NULL, 0, 0), *b = build(NULL, 0, 0);

	quiet();
	regex_set_match(a, regex_scratch_new(b), "x", 1);
}
END_TEST

/* ---- 10,000 patterns ------------------------------------------------ */

#define BENCH_PATTERNS 10000
#define BENCH_SUBJECTS 100000
#define BENCH_SAMPLE 300

static void
random_word(char *w, unsigned i)
{
	unsigned n = 6 + rnd(5), k;

	for (k = 0; k < n; k++)
		w[k] = (char)('a' + rnd(26));
	/* the index in base 26 keeps every word distinct */
	for (; i > 0 || k == n; i /= 26)
		w[k++] = (char)('a' + i % 26);
	w[k] = '\0';
}

/* About 80 bytes: most hit no literal (plain browsing), one in ten hits
 * a literal and matches, one in ten hits a literal and does not. */
static void
bench_subject(char *buf, size_t cap, char words[][24])
{
	char host[24], path[24];
	unsigned kind = rnd(10);
	const char *w = words[rnd(BENCH_PATTERNS)];

	random_word(host, 0);
	random_word(path, 0);
	if (kind == 0)
		snprintf(buf, cap, "http://cdn.%s.example/static/%s/app.%u.js",
		         w, path, rnd(100000));
	else if (kind == 1)
		snprintf(buf, cap, "https://%s.example/img/%s/banner-%u.png", w,
		         path, rnd(100000));
	else
		snprintf(buf, cap,
		         "http://www.%s.com/%s/articles/2024/%u/index.html"
		         "?id=%u&ref=home",
		         host, path, rnd(1000), rnd(1000000));
}

struct bench {
	char (*words)[24];
	char (*subjects)[128];
	pcre2_code **codes;
	struct regex_set *set;
};

static void
bench_build(struct bench *b)
{
	char pat[128], err[256];
	int64_t t0;
	unsigned i;

	b->words = malloc(BENCH_PATTERNS * sizeof(*b->words));
	b->subjects = calloc(BENCH_SUBJECTS, sizeof(*b->subjects));
	b->codes = malloc(BENCH_PATTERNS * sizeof(*b->codes));
	ck_assert(b->words && b->subjects && b->codes);
	b->set = regex_set_new();
	t0 = now_ns();
	for (i = 0; i < BENCH_PATTERNS; i++) {
		random_word(b->words[i], i);
		snprintf(pat, sizeof(pat),
		         "^https?://[a-z.]*%s\\.example/.*\\.(js|gif)$",
		         b->words[i]);
		ck_assert_int_eq(
		        regex_set_add(b->set, pat, 0, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(regex_set_compile(b->set, err, sizeof(err)), 0);
	printf("regex_set: %d patterns added and compiled in %.0f ms\n",
	       BENCH_PATTERNS, (double)(now_ns() - t0) / 1e6);
	for (i = 0; i < BENCH_PATTERNS; i++) {
		b->codes[i] = ref_compile(regex_set_pattern(b->set, i), 0);
		pcre2_jit_compile(b->codes[i], PCRE2_JIT_COMPLETE);
	}
	for (i = 0; i < BENCH_SUBJECTS; i++)
		bench_subject(b->subjects[i], sizeof(b->subjects[i]), b->words);
}

static void
bench_free(struct bench *b)
{
	unsigned i;

	for (i = 0; i < BENCH_PATTERNS; i++)
		pcre2_code_free(b->codes[i]);
	regex_set_free(b->set);
	free(b->codes);
	free(b->subjects);
	free(b->words);
}

/* Without the prefilter: every pattern in order, JIT, as Squid would. */
static double
bench_plain(struct bench *b, pcre2_match_data *md, int *first)
{
	int64_t t0 = now_ns();
	unsigned i, k;
	size_t len;

	for (i = 0; i < BENCH_SAMPLE; i++) {
		len = strlen(b->subjects[i]);
		first[i] = -1;
		for (k = 0; k < BENCH_PATTERNS && first[i] < 0; k++)
			if (pcre2_jit_match(b->codes[k],
			                    (PCRE2_SPTR)b->subjects[i], len, 0,
			                    0, md, NULL) >= 0)
				first[i] = (int)k;
	}
	return (double)(now_ns() - t0) / BENCH_SAMPLE;
}

START_TEST(ten_thousand_patterns)
{
	static int first[BENCH_SAMPLE];
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	struct regex_scratch *sc;
	struct bench b;
	unsigned i, hits = 0;
	double with, without;
	int64_t t0;

	rng_init();
	bench_build(&b);
	ck_assert_ptr_nonnull(sc = regex_scratch_new(b.set));
	without = bench_plain(&b, md, first);
	for (i = 0; i < BENCH_SAMPLE; i++)
		ck_assert_int_eq(regex_set_match(b.set, sc, b.subjects[i],
		                                 strlen(b.subjects[i])),
		                 first[i]);
	t0 = now_ns();
	for (i = 0; i < BENCH_SUBJECTS; i++)
		hits += regex_set_match(b.set, sc, b.subjects[i],
		                        strlen(b.subjects[i])) >= 0;
	with = (double)(now_ns() - t0) / BENCH_SUBJECTS;
	printf("regex_set: %d patterns, %d URLs (%u matched): %.0f ns/match "
	       "with the prefilter, %.0f ns/match without (%.0fx)\n",
	       BENCH_PATTERNS, BENCH_SUBJECTS, hits, with, without,
	       without / with);
	ck_assert_uint_gt(hits, BENCH_SUBJECTS / 20);
	regex_scratch_free(sc);
	pcre2_match_data_free(md);
	bench_free(&b);
}
END_TEST

static Suite *
regex_set_suite(void)
{
	Suite *s = suite_create("regex_set");
	TCase *lit = tcase_create("literal");
	TCase *set = tcase_create("set");
	TCase *misuse = tcase_create("misuse");
	TCase *bench = tcase_create("bench");

	tcase_add_test(lit, literal_table);
	tcase_add_test(lit, literal_property);
	tcase_add_test(lit, aho_against_naive);
	tcase_add_test(lit, aho_edges);
	tcase_set_timeout(lit, 30);
	suite_add_tcase(s, lit);

	tcase_add_test(set, first_in_add_order);
	tcase_add_test(set, empty_set);
	tcase_add_test(set, caseless_patterns);
	tcase_add_test(set, scratch_reuse);
	tcase_add_test(set, jit_stack_fallback);
	tcase_add_test(set, same_as_plain_loop);
	tcase_add_test(set, compile_errors);
	tcase_add_test(set, file_loading);
	tcase_add_test(set, file_errors);
	tcase_set_timeout(set, 30);
	suite_add_tcase(s, set);

	tcase_add_test_raise_signal(misuse, match_before_compile, SIGABRT);
	tcase_add_test_raise_signal(misuse, add_after_compile, SIGABRT);
	tcase_add_test_raise_signal(misuse, scratch_of_another_set, SIGABRT);
	suite_add_tcase(s, misuse);

	tcase_add_test(bench, ten_thousand_patterns);
	tcase_set_timeout(bench, 120);
	suite_add_tcase(s, bench);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(regex_set_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
