/*
 * The required literal of a PCRE2 pattern: a byte string that every match
 * contains, found by walking the top-level sequence of the pattern.  Runs
 * of literal characters that must appear one after another are collected
 * and the longest wins.  Anything that may match nothing, or something we
 * cannot see into (groups, classes, escapes like \d, optional atoms),
 * ends a run; a top-level alternation means no literal at all.
 *
 * The scan only has to be safe, not complete: a wrong literal would make
 * the prefilter skip a pattern that matches, so wherever the syntax is not
 * plainly understood (verbs, callouts, extended mode, unusual escapes or
 * braces) it gives up and the pattern simply runs on every subject.  It
 * follows PCRE2's parser where the two could disagree: quantifiers may
 * follow \Q...\E, \E and comments (so those are transparent, and a
 * quantifier after one makes us give up), a class may start with ] or \E,
 * and POSIX [:name:] is recognised as pcre2_compile.c does.
 */
#include "rules/aho.h"

#include <string.h>

enum atom {
	ATOM_LIT,   /* one literal byte */
	ATOM_OTHER, /* matches something we cannot see into */
	ATOM_NOP,   /* \Q, \E, comments, option settings */
	ATOM_ALT,   /* top-level | */
	ATOM_BAIL,  /* not understood */
	ATOM_END,
};

struct walk {
	const char *p; /* next pattern byte */
	int inq;       /* inside \Q...\E */
	int caseless;  /* fold literal bytes to lower case */
	unsigned char run[REGEX_LITERAL_MAX];
	size_t run_len;
	char *best; /* the caller's buffer */
	size_t best_len;
};

/* How often the atom before must repeat: at least min times; fixed when
 * exactly min times. */
struct quant {
	unsigned min;
	int fixed;
};

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The letters PCRE2 accepts in (?imnsxJU^-) and (?i:...). */
static int
is_optchar(char c)
{
	return c != '\0' && strchr("imnsxJU^-", c) != NULL;
}

/* Options anywhere change what literal text means: x makes white space
 * and # comments vanish (give up), i makes a literal match in any case.
 * Verbs (*...) and callouts can accept early or switch to UTF: give up.
 * Escaped parentheses are not told apart: that only errs on the safe
 * side.  Returns -1 to give up, else 1 when some (?i) occurs. */
static int
scan_options(const char *pattern)
{
	const char *p, *q;
	int i = 0;

	for (p = pattern; (p = strchr(p, '(')) != NULL; p++) {
		if (p[1] == '*' ||
		    (p[1] == '?' && (p[2] == 'C' || p[2] == '[')))
			return -1;
		if (p[1] != '?')
			continue;
		for (q = p + 2; is_optchar(*q); q++)
			if (*q == 'x')
				return -1;
		if (*q == ':' || *q == ')')
			i |= memchr(p + 2, 'i', (size_t)(q - p - 2)) != NULL;
	}
	return i;
}

/* p is at "[:", "[." or "[=" inside a class: as check_posix_syntax() in
 * pcre2_compile.c.  Returns the byte after the closing ":]", or NULL. */
static const char *
posix_end(const char *p)
{
	char term = p[1];

	for (p += 2; p[0] != '\0' && p[1] != '\0'; p++) {
		if (p[0] == '\\' && (p[1] == ']' || p[1] == '\\'))
			p++;
		else if ((p[0] == '[' && p[1] == term) || p[0] == ']')
			return NULL;
		else if (p[0] == term && p[1] == ']')
			return p + 2;
	}
	return NULL;
}

/* p is at "\Q": returns the byte after the matching \E, or NULL. */
static const char *
quote_end(const char *p)
{
	const char *e = strstr(p + 2, "\\E");

	return e ? e + 2 : NULL;
}

/* A class may open with ^, \E and \Q\E in any order, and then a ] that
 * is a literal member rather than the end. */
static const char *
class_start(const char *p)
{
	int neg = 0;

	for (;;) {
		if (p[0] == '\\' && p[1] == 'E')
			p += 2;
		else if (strncmp(p, "\\Q\\E", 4) == 0)
			p += 4;
		else if (*p == '^' && !neg)
			neg = 1, p++;
		else
			break;
	}
	return *p == ']' ? p + 1 : p;
}

/* p is at '['.  Returns the byte after the class, or NULL. */
static const char *
skip_class(const char *p)
{
	const char *e;

	for (p = class_start(p + 1);; p++) {
		if (*p == '\0')
			return NULL;
		if (*p == ']')
			return p + 1;
		if (p[0] == '\\' && p[1] == 'Q') {
			if (!(e = quote_end(p)))
				return NULL;
			p = e - 1;
		} else if (*p == '\\') {
			if (*++p == '\0')
				return NULL;
		} else if (*p == '[' &&
		           (p[1] == ':' || p[1] == '.' || p[1] == '=') &&
		           (e = posix_end(p)) != NULL) {
			p = e - 1;
		}
	}
}

/* p is at '('.  Returns the byte after the balancing ')', or NULL. */
static const char *
skip_group(const char *p)
{
	unsigned depth = 0;
	const char *e;

	for (;; p++) {
		if (*p == '\0')
			return NULL;
		if (p[0] == '\\' && p[1] == 'Q')
			e = quote_end(p);
		else if (*p == '\\')
			e = p[1] ? p + 2 : NULL;
		else if (*p == '[')
			e = skip_class(p);
		else if (strncmp(p, "(?#", 3) == 0) {
			if ((e = strchr(p, ')')) != NULL) /* no nesting */
				e++;
		} else {
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				return p + 1;
			continue;
		}
		if (!e)
			return NULL;
		p = e - 1;
	}
}

static enum atom
group_atom(struct walk *w)
{
	const char *p = w->p, *q;

	if (strncmp(p, "(?#", 3) == 0) {
		if (!(q = strchr(p, ')')))
			return ATOM_BAIL;
		w->p = q + 1;
		return ATOM_NOP;
	}
	if (p[1] == '?') {
		/* (?i) and friends change options, they match nothing. */
		for (q = p + 2; is_optchar(*q); q++)
			;
		if (*q == ')') {
			w->p = q + 1;
			return ATOM_NOP;
		}
	}
	if (!(w->p = skip_group(p)))
		return ATOM_BAIL;
	return ATOM_OTHER;
}

/* \xh, \xhh, \x{h..} with a value below 256. */
static enum atom
hex_atom(struct walk *w, unsigned char *c)
{
	const char *p = w->p + 2;
	unsigned v = 0, n = 0;
	int d;

	if (*p == '{') {
		for (p++; (d = hexval((unsigned char)*p)) >= 0 && v < 256; p++)
			v = v * 16 + (unsigned)d, n++;
		if (*p != '}' || n == 0 || v > 255)
			return ATOM_BAIL;
		p++;
	} else {
		for (; n < 2 && (d = hexval((unsigned char)*p)) >= 0; p++)
			v = v * 16 + (unsigned)d, n++;
		if (n == 0)
			return ATOM_BAIL;
	}
	w->p = p;
	*c = (unsigned char)v;
	return ATOM_LIT;
}

/* w->p is at a backslash outside \Q...\E. */
static enum atom
escape_atom(struct walk *w, unsigned char *c)
{
	static const char ctl[] = "a\007e\033f\014n\012r\015t\011";
	unsigned char e = (unsigned char)w->p[1];
	const char *k;

	if (e == 'Q' || e == 'E') {
		w->inq = e == 'Q';
		w->p += 2;
		return ATOM_NOP;
	}
	if (e == 'x')
		return hex_atom(w, c);
	if (e == '\0' || e >= 0x80)
		return ATOM_BAIL;
	w->p += 2;
	if (!is_alnum(e)) {
		*c = e; /* \. \/ \? ...: the character itself */
		return ATOM_LIT;
	}
	if ((k = strchr(ctl, e)) != NULL && (k - ctl) % 2 == 0) {
		*c = (unsigned char)k[1];
		return ATOM_LIT;
	}
	if (strchr("dDwWsShHvVRXbBAzZGK", e) || (e == 'N' && *w->p != '{'))
		return ATOM_OTHER;
	return ATOM_BAIL; /* back references, \p, \c, octal, ... */
}

static enum atom
next_atom(struct walk *w, unsigned char *c)
{
	const char *p = w->p;

	if (w->inq) {
		if (p[0] == '\\' && p[1] == 'E') {
			w->inq = 0;
			w->p += 2;
			return ATOM_NOP;
		}
		if (*p == '\0')
			return ATOM_END;
		*c = (unsigned char)*w->p++;
		return ATOM_LIT;
	}
	switch (*p) {
	case '\0':
		return ATOM_END;
	case '\\':
		return escape_atom(w, c);
	case '(':
		return group_atom(w);
	case '[':
		return (w->p = skip_class(p)) ? ATOM_OTHER : ATOM_BAIL;
	case '|':
		return ATOM_ALT;
	case '.':
	case '^':
	case '$':
		w->p++;
		return ATOM_OTHER;
	case ')':
	case '*':
	case '+':
	case '?':
	case '{':
		return ATOM_BAIL; /* stray, or a quantifier on a NOP */
	default:
		*c = (unsigned char)*w->p++;
		return ATOM_LIT;
	}
}

/* Only the plain {n}, {n,} and {n,m}: anything else in braces means
 * different things in different PCRE2 versions. */
static int
brace_quant(struct walk *w, struct quant *q)
{
	const char *p = w->p + 1;
	unsigned long min = 0, max = 0;
	int comma = 0, nmax = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9' && min < 65536; p++)
		min = min * 10 + (unsigned long)(*p - '0');
	if (*p == ',') {
		comma = 1;
		for (p++; *p >= '0' && *p <= '9' && max < 65536; p++)
			max = max * 10 + (unsigned long)(*p - '0'), nmax = 1;
	}
	if (*p != '}' || min >= 65536 || max >= 65536)
		return -1;
	w->p = p + 1;
	q->min = (unsigned)min;
	q->fixed = !comma || (nmax && max == min);
	return 0;
}

/* Reads the quantifier after an atom, if any, with its lazy (?) or
 * possessive (+) suffix.  -1 when not understood. */
static int
quantifier(struct walk *w, struct quant *q)
{
	q->min = 1;
	q->fixed = 1;
	if (w->inq) {
		if (w->p[0] != '\\' || w->p[1] != 'E')
			return 0; /* the next byte is literal too */
		w->inq = 0;       /* a\E+ repeats the a */
		w->p += 2;
	}
	switch (*w->p) {
	case '?':
	case '*':
		q->min = 0;
		q->fixed = 0;
		w->p++;
		break;
	case '+':
		q->fixed = 0;
		w->p++;
		break;
	case '{':
		if (brace_quant(w, q) < 0)
			return -1;
		break;
	default:
		return 0;
	}
	if (*w->p == '?' || *w->p == '+')
		w->p++;
	return 0;
}

static void
end_run(struct walk *w)
{
	if (w->run_len > w->best_len) {
		memcpy(w->best, w->run, w->run_len);
		w->best_len = w->run_len;
	}
	w->run_len = 0;
}

static void
push(struct walk *w, unsigned char c, unsigned n)
{
	if (w->caseless && c >= 'A' && c <= 'Z')
		c = (unsigned char)(c + 'a' - 'A');
	/* A prefix of a required run is required too: drop the excess. */
	while (n-- > 0 && w->run_len < REGEX_LITERAL_MAX)
		w->run[w->run_len++] = c;
}

/* A literal the quantifier makes optional ends the run; one repeated an
 * open number of times ends the run after its required copies, and the
 * last copies start the next run (ab+c holds both "ab" and "bc"). */
static void
literal(struct walk *w, unsigned char c, const struct quant *q)
{
	if (q->min == 0) {
		end_run(w);
		return;
	}
	push(w, c, q->min);
	if (!q->fixed) {
		end_run(w);
		push(w, c, q->min);
	}
}

size_t
regex_literal_extract(const char *pattern, int caseless, char *out,
                      int *lit_caseless)
{
	struct walk w = {.p = pattern, .best = out};
	struct quant q;
	enum atom a;
	unsigned char c = 0;
	int opt = scan_options(pattern);

	*lit_caseless = caseless || opt > 0;
	if (opt < 0)
		return 0;
	w.caseless = *lit_caseless;
	for (;;) {
		a = next_atom(&w, &c);
		if (a == ATOM_END)
			break;
		if (a == ATOM_ALT || a == ATOM_BAIL)
			return 0;
		if (a == ATOM_NOP)
			continue;
		if (quantifier(&w, &q) < 0)
			return 0;
		if (a == ATOM_OTHER)
			end_run(&w);
		else
			literal(&w, c, &q);
	}
	end_run(&w);
	return w.best_len;
}
