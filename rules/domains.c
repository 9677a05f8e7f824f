/*
 * Host name sets for `host` conditions: exact names ("example.com") and
 * suffix names (".example.com": that name and every name below it), up to
 * millions of them from blocklist files.  Built in the master, shared
 * copy-on-write by the workers, queried per request without allocating.
 *
 * Memory: the names live once, lower-cased, in one arena of records
 * [length][flags][bytes]; an open-addressing table (linear probing, at
 * most 3/4 full) holds 8-byte slots {32-bit hash, 32-bit arena offset}.
 * One table serves both kinds: a record's flags say whether the name was
 * added exact, as a suffix, or both.  A million names of ~21 characters
 * take ~22 MiB of arena, 16 MiB of table and 1 MiB of Bloom filter (see
 * filter_*), about 40 bytes a name where a malloc'd string and a chained
 * hash node would take 80 or more.
 *
 * Lookup: the hash is computed over the host from its last byte to its
 * first, so at each dot it already holds the hash of the parent domain to
 * the right of it.  One pass therefore probes "com", "example.com",
 * "www.example.com" in turn (suffix entries only), then the full name
 * (either kind): one probe sequence per label, no copying, and only a
 * 32-bit compare until the hashes agree.
 */
#include "rules/match.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN_MAGIC 0x444f4d53U /* "DOMS" */
#define NAME_MAX_LEN 253         /* RFC 1035 2.3.4, without the root dot */
#define LABEL_MAX_LEN 63
#define F_EXACT 1
#define F_SUFFIX 2
#define ARENA_MAX UINT32_MAX /* offsets are 32-bit */

struct slot {
	uint32_t hash;
	uint32_t off; /* into the arena; 0: empty (the arena starts at 1) */
};

struct domain_set {
	unsigned magic;
	uint8_t *arena;   /* records [len][flags][len lower-case bytes] */
	size_t used, cap; /* arena bytes */
	struct slot *slot;
	uint32_t mask;    /* slots - 1; slot == NULL while empty */
	uint64_t *filter; /* 2 bits a name in slots / 16 words (filter_*) */
	size_t names;     /* occupied slots */
	size_t count;     /* distinct (name, kind) pairs */
};

static inline unsigned char
lc(unsigned char c)
{
	return (unsigned)(c - 'A') < 26 ? (unsigned char)(c + 32) : c;
}

/* FNV-1a, one byte at a time (from the right), then a 64-bit finalizer
 * so the low bits that pick the slot depend on every byte. */
static inline uint64_t
hash_step(uint64_t h, unsigned char c)
{
	return (h ^ lc(c)) * 0x100000001b3ULL;
}

static inline uint32_t
hash_end(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

#define HASH_INIT 0xcbf29ce484222325ULL

static uint32_t
hash_name(const char *name, size_t len)
{
	uint64_t h = HASH_INIT;

	while (len > 0)
		h = hash_step(h, (unsigned char)name[--len]);
	return hash_end(h);
}

/* The arena offset of name (any case, len bytes) or 0. */
static uint32_t
find(const struct domain_set *s, uint32_t h, const char *name, size_t len)
{
	const struct slot *e;
	const uint8_t *rec;
	uint32_t i;
	size_t k;

	for (i = h & s->mask;; i = (i + 1) & s->mask) {
		e = &s->slot[i];
		if (e->off == 0)
			return 0;
		if (e->hash != h)
			continue;
		rec = s->arena + e->off;
		if (rec[0] != len)
			continue;
		for (k = 0; k < len && rec[2 + k] == lc((unsigned char)name[k]);
		     k++)
			;
		if (k == len)
			return e->off;
	}
}

/* A Bloom filter over every stored hash, 4 bits a slot (5 to 11 a name),
 * two of them set per name in one 64-bit word: about 1 MiB for a million
 * names, so it stays in cache where the table cannot.  Most probes of a
 * lookup (the parents of a host that is not listed) end here without
 * touching the table: a probe costs a cache miss only when the filter
 * says maybe (3 to 10% of misses) or the name is there.  Unlisted hosts
 * are looked up 3x faster with it. */
#define FILTER_BITS 4 /* a slot */

static inline uint64_t
filter_word_bits(uint32_t h)
{
	return (uint64_t)1 << (h & 63) | (uint64_t)1 << (h >> 6 & 63);
}

static inline uint32_t
filter_word(const struct domain_set *s, uint32_t h)
{
	/* slots / 16 words: the table mask without its low 4 bits; the bits
	 * that picked the bit positions come round again above bit 20 */
	return (h >> 12 | h << 20) & (s->mask >> 4);
}

static inline int
filter_maybe(const struct domain_set *s, uint32_t h)
{
	uint64_t b = filter_word_bits(h);

	return (s->filter[filter_word(s, h)] & b) == b;
}

static inline void
filter_add(struct domain_set *s, uint32_t h)
{
	s->filter[filter_word(s, h)] |= filter_word_bits(h);
}

struct domain_set *
domain_set_new(void)
{
	struct domain_set *s = calloc(1, sizeof(*s));

	if (s)
		s->magic = DOMAIN_MAGIC;
	return s;
}

void
domain_set_free(struct domain_set *s)
{
	if (!s)
		return;
	assert(s->magic == DOMAIN_MAGIC);
	free(s->arena);
	free(s->slot);
	free(s->filter);
	s->magic = 0;
	free(s);
}

size_t
domain_set_count(const struct domain_set *s)
{
	assert(s->magic == DOMAIN_MAGIC);
	return s->count;
}

size_t
domain_set_memory(const struct domain_set *s)
{
	size_t slots = s->slot ? (size_t)s->mask + 1 : 0;

	assert(s->magic == DOMAIN_MAGIC);
	return sizeof(*s) + s->cap + slots * sizeof(struct slot) +
	       slots * FILTER_BITS / 8;
}

static void
place(struct slot *t, uint32_t mask, uint32_t h, uint32_t off)
{
	uint32_t i;

	for (i = h & mask; t[i].off; i = (i + 1) & mask)
		;
	t[i].hash = h;
	t[i].off = off;
}

/* Doubles the table (or creates it) when one more name would fill it past
 * 3/4: linear probing stays short below that. */
static int
table_reserve(struct domain_set *s)
{
	size_t n = s->slot ? (size_t)s->mask + 1 : 0, nn, i;
	struct slot *t;
	uint64_t *f;

	if ((s->names + 1) * 4 <= n * 3)
		return 0;
	nn = n ? n * 2 : 1024;
	if (nn - 1 > UINT32_MAX)
		return -1;
	t = calloc(nn, sizeof(*t));
	f = calloc(nn * FILTER_BITS / 64, sizeof(*f));
	if (!t || !f) {
		free(t);
		free(f);
		return -1;
	}
	free(s->filter);
	s->filter = f;
	s->mask = (uint32_t)(nn - 1); /* from here on, the new sizes */
	for (i = 0; i < n; i++) {
		if (s->slot[i].off == 0)
			continue;
		place(t, s->mask, s->slot[i].hash, s->slot[i].off);
		filter_add(s, s->slot[i].hash);
	}
	free(s->slot);
	s->slot = t;
	return 0;
}

/* Appends a record and returns its offset, or 0.  Grows by half: the
 * arena is the biggest block, and doubling would waste up to half. */
static uint32_t
arena_add(struct domain_set *s, const char *name, size_t len, unsigned kind)
{
	size_t need = s->used + 2 + len, cap;
	uint8_t *a;
	uint32_t off;

	if (s->used == 0)
		need++; /* offset 0 means an empty slot */
	if (need > ARENA_MAX)
		return 0;
	if (need > s->cap) {
		cap = s->cap + s->cap / 2;
		cap = cap < 65536 ? 65536 : cap;
		cap = cap < need ? need : cap > ARENA_MAX ? ARENA_MAX : cap;
		a = realloc(s->arena, cap);
		if (!a)
			return 0;
		s->arena = a;
		s->cap = cap;
	}
	off = (uint32_t)(need - 2 - len);
	s->arena[off] = (uint8_t)len;
	s->arena[off + 1] = (uint8_t)kind;
	memcpy(s->arena + off + 2, name, len);
	s->used = need;
	return off;
}

/* Adds name (lower-case, validated) with kind F_EXACT or F_SUFFIX. */
static int
insert(struct domain_set *s, const char *name, size_t len, unsigned kind)
{
	uint32_t h = hash_name(name, len), off;

	if (s->slot && (off = find(s, h, name, len)) != 0) {
		if (!(s->arena[off + 1] & kind)) {
			s->arena[off + 1] |= (uint8_t)kind;
			s->count++;
		}
		return 0;
	}
	if (table_reserve(s) < 0 || (off = arena_add(s, name, len, kind)) == 0)
		return -1;
	place(s->slot, s->mask, h, off);
	filter_add(s, h);
	s->names++;
	s->count++;
	return 0;
}

/* How much of name an error may quote: at most 80 bytes, and nothing from
 * the first unprintable byte on (a list file could hold anything, and the
 * error goes to a terminal or a log). */
static int
quote_len(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 80; i++)
		if (name[i] < ' ' || name[i] > '~')
			break;
	return (int)i;
}

static void
say_char(unsigned char c, const char *name, size_t len, char *err,
         size_t errlen)
{
	char what[8];

	if (c >= ' ' && c < 0x7f)
		snprintf(what, sizeof(what), "'%c'", c);
	else
		snprintf(what, sizeof(what), "\\x%02x", c);
	snprintf(err, errlen, "invalid character %s in \"%.*s\"", what,
	         quote_len(name, len), name);
}

/* Checks the labels of name (no leading or trailing dot any more) and
 * writes it lower-cased into out (NAME_MAX_LEN bytes). */
static int
check_labels(const char *name, size_t len, char *out, char *err, size_t errlen)
{
	size_t i, label = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = lc((unsigned char)name[i]);
		out[i] = (char)c;
		if (c == '.') {
			if (label == 0)
				goto empty;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		           c == '-' || c == '_') {
			if (++label > LABEL_MAX_LEN) {
				snprintf(err, errlen,
				         "label longer than %d characters in "
				         "\"%.*s\"",
				         LABEL_MAX_LEN, quote_len(name, len),
				         name);
				return -1;
			}
		} else {
			say_char(c, name, len, err, errlen);
			return -1;
		}
	}
	if (label == 0)
		goto empty;
	return 0;
empty:
	snprintf(err, errlen, "empty label in \"%.*s\"", quote_len(name, len),
	         name);
	return -1;
}

/* Validates one name as written in a rule or a list and adds it. */
static int
add_name(struct domain_set *s, const char *name, size_t len, char *err,
         size_t errlen)
{
	char low[NAME_MAX_LEN];
	unsigned kind = F_EXACT;

	if (len >= 2 && name[0] == '*' && name[1] == '.') {
		snprintf(err, errlen,
		         "wildcards are not supported: write "
		         "\"%.*s\" for that name and every name below it",
		         quote_len(name + 1, len - 1), name + 1);
		return -1;
	}
	if (len > 0 && name[0] == '.') {
		kind = F_SUFFIX;
		name++;
		len--;
	}
	if (len > 0 && name[len - 1] == '.')
		len--; /* the root: "example.com." is example.com */
	if (len == 0) {
		snprintf(err, errlen, "empty name");
		return -1;
	}
	if (len > NAME_MAX_LEN) {
		snprintf(err, errlen, "name longer than %d characters",
		         NAME_MAX_LEN);
		return -1;
	}
	if (check_labels(name, len, low, err, errlen) < 0)
		return -1;
	if (insert(s, low, len, kind) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
domain_set_add(struct domain_set *s, const char *name, char *err, size_t errlen)
{
	assert(s->magic == DOMAIN_MAGIC);
	return add_name(s, name, strlen(name), err, errlen);
}

/* One line of a list file: blanks around the name are dropped, and blank
 * and "#" lines skipped.  A "#" after a name is an error, not a comment,
 * so a half-edited line never silently means something else. */
static int
add_line(struct domain_set *s, const char *line, size_t len, char *err,
         size_t errlen)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
	                   line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len == 0 || *line == '#')
		return 0;
	return add_name(s, line, len, err, errlen);
}

int
domain_set_add_file(struct domain_set *s, const char *path, char *err,
                    size_t errlen)
{
	char why[256], *line = NULL;
	unsigned long lineno = 0;
	size_t cap = 0;
	ssize_t n;
	uint8_t *a;
	FILE *f;
	int rc = -1;

	assert(s->magic == DOMAIN_MAGIC);
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (add_line(s, line, (size_t)n, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno, why);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	/* A big list is loaded once: give back the arena's growth slack. */
	if (s->used && s->used < s->cap && (a = realloc(s->arena, s->used))) {
		s->arena = a;
		s->cap = s->used;
	}
	rc = 0;
fail:
	free(line);
	fclose(f);
	return rc;
}

/* Whether name is stored with one of the kinds in flags. */
static int
probe(const struct domain_set *s, uint32_t h, const char *name, size_t len,
      unsigned flags)
{
	uint32_t off;

	if (!filter_maybe(s, h))
		return 0;
	off = find(s, h, name, len);
	return off && (s->arena[off + 1] & flags);
}

int
domain_set_match(const struct domain_set *s, const char *host, size_t len)
{
	uint64_t h = HASH_INIT;
	size_t i;

	assert(s->magic == DOMAIN_MAGIC);
	/* Every trailing dot goes: "example.com.." must not slip past a
	 * deny rule, and no resolver will reach anything else with it. */
	while (len > 0 && host[len - 1] == '.')
		len--;
	if (!s->slot || len == 0)
		return 0;
	for (i = len; i > 0; i--) {
		if (host[i - 1] == '.' && host[i] != '.' &&
		    probe(s, hash_end(h), host + i, len - i, F_SUFFIX))
			return 1;
		h = hash_step(h, (unsigned char)host[i - 1]);
	}
	return probe(s, hash_end(h), host, len, F_EXACT | F_SUFFIX);
}
