/*
 * A list of PCRE2 patterns, asked "which is the first to match?" once per
 * request.  Running 10,000 regexes one after another costs milliseconds;
 * instead each pattern's required literal (rules/regex_literal.c) goes
 * into one Aho-Corasick automaton (rules/aho.c), a single pass over the
 * subject finds the few patterns whose literal occurs, and only those,
 * with the patterns that have no usable literal, run -- in add order, so
 * the answer is exactly what the plain loop would give.
 *
 * The set is built in the master and only read afterwards, so workers
 * share it copy-on-write; everything a match writes is in the caller's
 * struct regex_scratch, and a match allocates nothing.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rules/match.h"

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/aho.h"

#define REGEX_SET_MAGIC 0x52787374u     /* "Rxst" */
#define REGEX_SCRATCH_MAGIC 0x52787363u /* "Rxsc" */

/* Always on: these guard misuse that would otherwise read freed or
 * unbuilt memory, and cost a compare. */
#define REGEX_SET_ASSERT(cond)                        \
	do {                                          \
		if (!(cond))                          \
			assert_fail(#cond, __LINE__); \
	} while (0)

struct regex_pat {
	pcre2_code *code;
	char *text;       /* as added, for regex_set_pattern */
	int jit;          /* JIT compiled: use pcre2_jit_match */
	int lit_caseless; /* the literal may occur in any case */
	size_t lit_len;   /* 0: no literal, always a candidate */
	char lit[REGEX_LITERAL_MAX];
};

struct regex_set {
	unsigned magic;
	int compiled;
	struct regex_pat *pats;
	size_t n, cap;
	uint32_t *always; /* patterns without a literal, in order */
	size_t n_always;
	struct aho *aho;       /* NULL when no pattern has a literal */
	uint32_t max_captures; /* sizes the scratch's match data */
};

struct regex_scratch {
	unsigned magic;
	const struct regex_set *set;
	pcre2_match_data *md;
	const char *subject; /* of the call in progress */
	/* stamp[i] == gen: pattern i is already a candidate of this call,
	 * so clearing the marks is one increment, not a memset */
	uint32_t gen;
	uint32_t *stamp;
	uint32_t *cand; /* this call's candidates */
	size_t ncand;
};

static _Noreturn void
assert_fail(const char *cond, int line)
{
	fprintf(stderr, "rules/regex_set.c:%d: assertion failed: %s\n", line,
	        cond);
	abort();
}

struct regex_set *
regex_set_new(void)
{
	struct regex_set *s = calloc(1, sizeof(*s));

	if (s)
		s->magic = REGEX_SET_MAGIC;
	return s;
}

void
regex_set_free(struct regex_set *s)
{
	size_t i;

	if (!s)
		return;
	REGEX_SET_ASSERT(s->magic == REGEX_SET_MAGIC);
	for (i = 0; i < s->n; i++) {
		pcre2_code_free(s->pats[i].code);
		free(s->pats[i].text);
	}
	free(s->pats);
	free(s->always);
	aho_free(s->aho);
	s->magic = 0;
	free(s);
}

/* ---- adding ---- */

static pcre2_code *
compile(const char *pattern, int caseless, char *err, size_t errlen)
{
	/* NEVER_UTF: a (*UTF) in the pattern would make every URL with a
	 * stray high byte a match error; URLs are matched as bytes. */
	uint32_t opts = PCRE2_NEVER_UTF | (caseless ? PCRE2_CASELESS : 0);
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	int rc;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
	                     &rc, &off, NULL);
	if (!code) {
		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", rc);
		snprintf(err, errlen, "at offset %zu: %s", (size_t)off,
		         (char *)msg);
	}
	return code;
}

static int
grow_pats(struct regex_set *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 16;
	struct regex_pat *np;

	if (s->n < s->cap)
		return 0;
	if (!(np = realloc(s->pats, ncap * sizeof(*np))))
		return -1;
	s->pats = np;
	s->cap = ncap;
	return 0;
}

static void
extract_literal(struct regex_pat *p, const char *pattern, int caseless)
{
	p->lit_len = regex_literal_extract(pattern, caseless, p->lit,
	                                   &p->lit_caseless);
	if (p->lit_len < REGEX_LITERAL_MIN)
		p->lit_len = 0;
}

int
regex_set_add(struct regex_set *s, const char *pattern, int caseless, char *err,
              size_t errlen)
{
	struct regex_pat *p;
	uint32_t ncap = 0;

	REGEX_SET_ASSERT(s->magic == REGEX_SET_MAGIC && !s->compiled);
	/* Indexes are returned as int and stored as uint32_t. */
	if (s->n >= INT_MAX) {
		snprintf(err, errlen, "too many patterns");
		return -1;
	}
	if (grow_pats(s) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p = &s->pats[s->n];
	memset(p, 0, sizeof(*p));
	if (!(p->code = compile(pattern, caseless, err, errlen)))
		return -1;
	if (!(p->text = strdup(pattern))) {
		pcre2_code_free(p->code);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Without JIT (not built in, or no executable memory) the
	 * interpreter gives the same answers, only slower. */
	p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &ncap);
	if (ncap > s->max_captures)
		s->max_captures = ncap;
	extract_literal(p, pattern, caseless);
	s->n++;
	return 0;
}

static void
trim(char *line, size_t *len)
{
	size_t n = *len, i = 0;

	while (n > 0 && strchr(" \t\r\n", line[n - 1]))
		n--;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	memmove(line, line + i, n - i);
	line[n - i] = '\0';
	*len = n - i;
}

/* Leading and trailing blanks are dropped (an editor's stray space would
 * otherwise make a URL pattern that can never match); write \x20 for a
 * space at either end. */
static int
add_line(struct regex_set *s, char *line, size_t len, int caseless, char *err,
         size_t errlen)
{
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "NUL byte in pattern");
		return -1;
	}
	trim(line, &len);
	if (len == 0 || line[0] == '#')
		return 0;
	return regex_set_add(s, line, caseless, err, errlen);
}

int
regex_set_add_file(struct regex_set *s, const char *path, int caseless,
                   char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, why[512];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (add_line(s, line, (size_t)n, caseless, why, sizeof(why)) <
		    0) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- compiling the prefilter ---- */

int
regex_set_compile(struct regex_set *s, char *err, size_t errlen)
{
	size_t i, nlit = 0;

	REGEX_SET_ASSERT(s->magic == REGEX_SET_MAGIC && !s->compiled);
	if (s->n && !(s->always = malloc(s->n * sizeof(*s->always))))
		goto nomem;
	for (i = 0; i < s->n; i++) {
		if (s->pats[i].lit_len == 0) {
			s->always[s->n_always++] = (uint32_t)i;
			continue;
		}
		if (!s->aho && !(s->aho = aho_new()))
			goto nomem;
		if (aho_add(s->aho, s->pats[i].lit, s->pats[i].lit_len,
		            (uint32_t)i) < 0)
			goto nomem;
		nlit++;
	}
	if (s->aho && aho_build(s->aho) < 0)
		goto nomem;
	s->compiled = 1;
	return 0;
nomem:
	snprintf(err, errlen,
	         "out of memory building the prefilter (%zu "
	         "patterns, %zu literals)",
	         s->n, nlit);
	return -1;
}

/* ---- matching ---- */

struct regex_scratch *
regex_scratch_new(const struct regex_set *s)
{
	struct regex_scratch *sc;
	size_t n = s->n ? s->n : 1;

	REGEX_SET_ASSERT(s->magic == REGEX_SET_MAGIC && s->compiled);
	if (!(sc = calloc(1, sizeof(*sc))))
		return NULL;
	sc->magic = REGEX_SCRATCH_MAGIC;
	sc->set = s;
	sc->gen = 1;
	sc->stamp = calloc(n, sizeof(*sc->stamp));
	sc->cand = malloc(n * sizeof(*sc->cand));
	sc->md = pcre2_match_data_create(s->max_captures + 1, NULL);
	if (!sc->stamp || !sc->cand || !sc->md) {
		regex_scratch_free(sc);
		return NULL;
	}
	return sc;
}

void
regex_scratch_free(struct regex_scratch *sc)
{
	if (!sc)
		return;
	REGEX_SET_ASSERT(sc->magic == REGEX_SCRATCH_MAGIC);
	pcre2_match_data_free(sc->md);
	free(sc->stamp);
	free(sc->cand);
	sc->magic = 0;
	free(sc);
}

/* An automaton hit: the pattern's literal ends at subject[end] (in some
 * case).  A case-sensitive literal must also match byte for byte. */
static void
on_hit(void *ctx, uint32_t id, size_t end)
{
	struct regex_scratch *sc = ctx;
	const struct regex_pat *p = &sc->set->pats[id];

	if (sc->stamp[id] == sc->gen)
		return;
	if (!p->lit_caseless &&
	    memcmp(sc->subject + end + 1 - p->lit_len, p->lit, p->lit_len) != 0)
		return;
	sc->stamp[id] = sc->gen;
	sc->cand[sc->ncand++] = id;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Candidates arrive in subject order; they run in add order.  There are
 * usually a handful, where insertion sort beats qsort's call overhead. */
static void
sort_candidates(struct regex_scratch *sc)
{
	size_t i, j;
	uint32_t v;

	if (sc->ncand > 16) {
		qsort(sc->cand, sc->ncand, sizeof(*sc->cand), cmp_u32);
		return;
	}
	for (i = 1; i < sc->ncand; i++) {
		v = sc->cand[i];
		for (j = i; j > 0 && sc->cand[j - 1] > v; j--)
			sc->cand[j] = sc->cand[j - 1];
		sc->cand[j] = v;
	}
}

/* A match error (a match or JIT stack limit hit by a pathological
 * pattern) counts as no match: the rule is skipped, not the request
 * failed.  The JIT's fixed 32 KiB stack is the likelier limit, so that
 * case gets a second chance in the interpreter, which uses the heap. */
static int
run(const struct regex_pat *p, pcre2_match_data *md, const char *subject,
    size_t len)
{
	PCRE2_SPTR subj = (PCRE2_SPTR)subject;
	int rc;

	if (p->jit) {
		rc = pcre2_jit_match(p->code, subj, len, 0, 0, md, NULL);
		if (rc != PCRE2_ERROR_JIT_STACKLIMIT)
			return rc >= 0;
	}
	rc = pcre2_match(p->code, subj, len, 0, PCRE2_NO_JIT, md, NULL);
	return rc >= 0;
}

static void
next_generation(struct regex_scratch *sc)
{
	sc->ncand = 0;
	if (++sc->gen == 0) {
		memset(sc->stamp, 0, sc->set->n * sizeof(*sc->stamp));
		sc->gen = 1;
	}
}

int
regex_set_match(const struct regex_set *s, struct regex_scratch *sc,
                const char *subject, size_t len)
{
	size_t i = 0, j = 0;
	uint32_t id;

	REGEX_SET_ASSERT(s->magic == REGEX_SET_MAGIC && s->compiled);
	REGEX_SET_ASSERT(sc->magic == REGEX_SCRATCH_MAGIC && sc->set == s);
	next_generation(sc);
	if (s->aho) {
		sc->subject = subject;
		aho_scan(s->aho, subject, len, on_hit, sc);
		sort_candidates(sc);
	}
	/* Merge the two sorted lists: candidates and literal-less ones. */
	while (i < sc->ncand || j < s->n_always) {
		if (j == s->n_always ||
		    (i < sc->ncand && sc->cand[i] < s->always[j]))
			id = sc->cand[i++];
		else
			id = s->always[j++];
		if (run(&s->pats[id], sc->md, subject, len))
			return (int)id;
	}
	return -1;
}

size_t
regex_set_count(const struct regex_set *s)
{
	return s->n;
}

const char *
regex_set_pattern(const struct regex_set *s, size_t i)
{
	return i < s->n ? s->pats[i].text : NULL;
}
