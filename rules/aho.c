/*
 * Aho-Corasick over a sparse trie, with full transitions near the root.
 *
 * Keys are collected first and sorted, so the trie is built without a
 * lookup per byte (a key's next node, if it exists, is the last child
 * added).  States are then renumbered in breadth-first order, which makes
 * the children of a state consecutive state numbers: a state needs only
 * the number of its first child and the byte on its own incoming edge, so
 * the goto function costs no table (about 17 bytes a state in all).
 *
 * Following goto and fail links costs several dependent loads a byte, and
 * a scan of URL text spends nearly all its time within a few bytes of the
 * root.  So the shallowest states (a prefix of the breadth-first order,
 * as many as fit AHO_DENSE_BYTES) also get a full DFA row over the bytes
 * that occur in keys: there a step is one load, and a deep state that
 * misses falls back along fail links into that region at once.  For
 * 10,000 URL literals (180,000 states) a warm scan went from 8.6 ns a
 * byte with only the root's row to 2 ns.  Keys and text are folded to
 * ASCII lower case.
 */
#include "rules/aho.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* Bounds the DFA rows: enough for every state of a few hundred keys and
 * the hot top levels of 10,000 URL literals (about 6,000 states). */
#define AHO_DENSE_BYTES (1u << 20)

struct aho_key {
	uint32_t off; /* into pool during the build */
	uint32_t len;
	uint32_t id;
	uint32_t next; /* next key ending at the same state + 1 */
};

struct aho {
	/* collected by aho_add, freed by aho_build */
	unsigned char *pool;
	size_t pool_len, pool_cap;
	struct aho_key *keys;
	uint32_t nkeys, keys_cap;
	int built;

	/* the automaton; states in breadth-first order, 0 is the root */
	uint32_t n;
	struct aho_node *node; /* n + 1, the last one only for its first */
	unsigned char *label;  /* byte on the edge into s */
	uint32_t *term;        /* first key ending at s + 1, or 0 */
	uint32_t *dict;        /* nearest proper suffix with a key, or 0 */
	uint64_t *has_out;     /* bit s: a key ends at s or a suffix of it */

	/* Full transitions of the first ndense states, so a scan near the
	 * root (nearly all of it) is one load a byte.  Rows are a power of
	 * two wide: a shift, not a multiply, in the loop-carried chain. */
	uint32_t ndense, ncls, shift;
	uint32_t *dense;
	uint16_t cls[256]; /* byte -> column; 0: in no key */
};

/* What a scan reads together sits together. */
struct aho_node {
	uint32_t first; /* children of s: first[s] .. first[s + 1] */
	uint32_t fail;  /* the longest proper suffix that is a state */
};

/* The trie as it is built, before renumbering. */
struct trie {
	uint32_t n, cap;
	uint32_t *child; /* first child */
	uint32_t *last;  /* last child: where a sorted insert goes */
	uint32_t *sib;   /* next sibling, in increasing byte order */
	unsigned char *label;
	uint32_t *term;
};

static inline unsigned char
fold(unsigned char c)
{
	return (unsigned char)(c | ((unsigned)(c - 'A') < 26u) << 5);
}

struct aho *
aho_new(void)
{
	return calloc(1, sizeof(struct aho));
}

void
aho_free(struct aho *a)
{
	if (!a)
		return;
	free(a->pool);
	free(a->keys);
	free(a->node);
	free(a->label);
	free(a->term);
	free(a->dict);
	free(a->has_out);
	free(a->dense);
	free(a);
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (!(np = realloc(*p, ncap * size)))
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

int
aho_add(struct aho *a, const char *key, size_t len, uint32_t id)
{
	size_t kcap = a->keys_cap, i;

	if (len == 0 || len > UINT32_MAX || a->built) {
		errno = EINVAL;
		return -1;
	}
	if (a->pool_len + len >= UINT32_MAX || a->nkeys == UINT32_MAX - 1 ||
	    grow((void **)&a->pool, &a->pool_cap, a->pool_len + len, 1) < 0 ||
	    grow((void **)&a->keys, &kcap, (size_t)a->nkeys + 1,
	         sizeof(*a->keys)) < 0) {
		errno = ENOMEM;
		return -1;
	}
	a->keys_cap = (uint32_t)kcap;
	for (i = 0; i < len; i++)
		a->pool[a->pool_len + i] = fold((unsigned char)key[i]);
	a->keys[a->nkeys] = (struct aho_key){
	        .off = (uint32_t)a->pool_len, .len = (uint32_t)len, .id = id};
	a->nkeys++;
	a->pool_len += len;
	return 0;
}

/* ---- building ---- */

static int
cmp_key(const void *x, const void *y, void *pool)
{
	const struct aho_key *p = x, *q = y;
	const unsigned char *b = pool;
	uint32_t n = p->len < q->len ? p->len : q->len;
	int c = memcmp(b + p->off, b + q->off, n);

	if (c)
		return c;
	return p->len < q->len ? -1 : p->len > q->len;
}

static int
trie_alloc(struct trie *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap;
	t->child = malloc(cap * sizeof(uint32_t));
	t->last = malloc(cap * sizeof(uint32_t));
	t->sib = malloc(cap * sizeof(uint32_t));
	t->label = malloc(cap);
	t->term = malloc(cap * sizeof(uint32_t));
	if (!t->child || !t->last || !t->sib || !t->label || !t->term)
		return -1;
	t->n = 1;
	t->child[0] = t->last[0] = t->sib[0] = NONE;
	t->term[0] = 0;
	return 0;
}

static void
trie_free(struct trie *t)
{
	free(t->child);
	free(t->last);
	free(t->sib);
	free(t->label);
	free(t->term);
}

/* Keys arrive sorted, so an existing child for c is always the last one
 * added to the node, and a new child keeps the siblings in byte order. */
static void
trie_insert(struct trie *t, const unsigned char *key, uint32_t len,
            uint32_t keyno, struct aho_key *keys)
{
	uint32_t node = 0, i, v;

	for (i = 0; i < len; i++) {
		v = t->last[node];
		if (v == NONE || t->label[v] != key[i]) {
			v = t->n++;
			t->child[v] = t->last[v] = t->sib[v] = NONE;
			t->label[v] = key[i];
			t->term[v] = 0;
			if (t->last[node] == NONE)
				t->child[node] = v;
			else
				t->sib[t->last[node]] = v;
			t->last[node] = v;
		}
		node = v;
	}
	keys[keyno].next = t->term[node];
	t->term[node] = keyno + 1;
}

static int
alloc_states(struct aho *a, uint32_t n)
{
	a->n = n;
	a->node = malloc(((size_t)n + 1) * sizeof(*a->node));
	a->label = malloc(n);
	a->term = malloc(n * sizeof(uint32_t));
	a->dict = malloc(n * sizeof(uint32_t));
	a->has_out = calloc(n / 64 + 1, sizeof(uint64_t));
	return a->node && a->label && a->term && a->dict && a->has_out ? 0 : -1;
}

/* Breadth-first renumbering: order[k] is the trie node that becomes
 * state k, and the children of state k get the next free numbers. */
static int
renumber(struct aho *a, const struct trie *t)
{
	uint32_t *order = malloc(t->n * sizeof(uint32_t));
	uint32_t k, tail = 1, v;

	if (!order || alloc_states(a, t->n) < 0) {
		free(order);
		return -1;
	}
	order[0] = 0;
	for (k = 0; k < t->n; k++) {
		a->node[k].first = tail;
		a->label[k] = t->label[order[k]];
		a->term[k] = t->term[order[k]];
		for (v = t->child[order[k]]; v != NONE; v = t->sib[v])
			order[tail++] = v;
	}
	a->node[t->n].first = tail;
	free(order);
	return 0;
}

/* The goto function: the child of s on byte c, or 0.  Children are in
 * byte order; most states have one or two, so short ranges are scanned. */
static inline uint32_t
child(const struct aho *a, uint32_t s, unsigned char c)
{
	uint32_t lo = a->node[s].first, hi = a->node[s + 1].first, mid;

	while (hi - lo > 4) {
		mid = lo + (hi - lo) / 2;
		if (a->label[mid] < c)
			lo = mid + 1;
		else
			hi = mid + 1;
	}
	for (; lo < hi; lo++)
		if (a->label[lo] == c)
			return lo;
	return 0;
}

static inline void
set_out(struct aho *a, uint32_t s)
{
	a->has_out[s / 64] |= (uint64_t)1 << (s % 64);
}

static inline int
has_out(const struct aho *a, uint32_t s)
{
	return (int)(a->has_out[s / 64] >> (s % 64) & 1);
}

/* Parents precede children in breadth-first order, so one forward pass
 * sees every fail link it follows already set. */
static void
link_states(struct aho *a)
{
	uint32_t s, v, f, t;

	a->node[0].fail = a->dict[0] = 0;
	for (s = 0; s < a->n; s++) {
		for (v = a->node[s].first; v < a->node[s + 1].first; v++) {
			t = 0;
			for (f = s; f != 0 && !t;) {
				f = a->node[f].fail;
				t = child(a, f, a->label[v]);
			}
			a->node[v].fail = t;
			a->dict[v] = a->term[t] ? t : a->dict[t];
			if (a->term[v] || a->dict[v])
				set_out(a, v);
		}
	}
}

/* Rows for the first ndense states: row s, column of byte c, is where the
 * automaton goes from s on c.  A state's fail link is shallower, hence
 * earlier, so its row is ready when a missing child needs it. */
static int
build_dense(struct aho *a)
{
	unsigned char bytes[256];
	uint32_t s, k, t, *row;
	const uint32_t *fail_row;
	unsigned c;

	a->ncls = 1;
	for (s = 1; s < a->n; s++)
		if (a->cls[a->label[s]] == 0) {
			bytes[a->ncls] = a->label[s];
			a->cls[a->label[s]] = (uint16_t)a->ncls++;
		}
	/* Upper case shares the lower-case column: a dense step folds for
	 * free. */
	for (c = 'A'; c <= 'Z'; c++)
		a->cls[c] = a->cls[c + 'a' - 'A'];
	for (a->shift = 0; (1u << a->shift) < a->ncls; a->shift++)
		;
	a->ndense = AHO_DENSE_BYTES >> (a->shift + 2);
	if (a->ndense > a->n)
		a->ndense = a->n;
	a->dense = calloc((size_t)a->ndense << a->shift, sizeof(uint32_t));
	if (!a->dense)
		return -1;
	for (s = 0; s < a->ndense; s++) {
		row = a->dense + ((size_t)s << a->shift);
		fail_row = a->dense + ((size_t)a->node[s].fail << a->shift);
		for (k = 1; k < a->ncls; k++) {
			t = child(a, s, bytes[k]);
			row[k] = t || s == 0 ? t : fail_row[k];
		}
	}
	return 0;
}

int
aho_build(struct aho *a)
{
	struct trie t;
	uint32_t k;

	if (a->built) {
		errno = EINVAL;
		return -1;
	}
	if (a->nkeys > 0)
		qsort_r(a->keys, a->nkeys, sizeof(*a->keys), cmp_key, a->pool);
	if (trie_alloc(&t, (uint32_t)a->pool_len + 1) < 0)
		goto fail;
	for (k = 0; k < a->nkeys; k++)
		trie_insert(&t, a->pool + a->keys[k].off, a->keys[k].len, k,
		            a->keys);
	if (renumber(a, &t) < 0)
		goto fail;
	link_states(a);
	if (build_dense(a) < 0)
		goto fail;
	trie_free(&t);
	free(a->pool);
	a->pool = NULL;
	a->pool_len = a->pool_cap = 0;
	a->built = 1;
	return 0;
fail:
	trie_free(&t);
	errno = ENOMEM;
	return -1;
}

/* ---- scanning ---- */

/* c is the text's byte, not yet folded: the dense rows fold by their
 * columns, only the goto function needs it done. */
static inline uint32_t
step(const struct aho *a, uint32_t s, unsigned char c)
{
	uint32_t t;

	while (s >= a->ndense) {
		if ((t = child(a, s, fold(c))) != 0)
			return t;
		s = a->node[s].fail;
	}
	return a->dense[((size_t)s << a->shift) | a->cls[c]];
}

static void
report(const struct aho *a, uint32_t s, size_t end, aho_hit_fn hit, void *ctx)
{
	uint32_t k;

	for (s = a->term[s] ? s : a->dict[s]; s != 0; s = a->dict[s])
		for (k = a->term[s]; k != 0; k = a->keys[k - 1].next)
			hit(ctx, a->keys[k - 1].id, end);
}

void
aho_scan(const struct aho *a, const char *text, size_t len, aho_hit_fn hit,
         void *ctx)
{
	const unsigned char *p = (const unsigned char *)text;
	uint32_t s = 0;
	size_t i;

	if (!a->built || a->nkeys == 0)
		return;
	for (i = 0; i < len; i++) {
		s = step(a, s, p[i]);
		if (has_out(a, s))
			report(a, s, i, hit, ctx);
	}
}

size_t
aho_states(const struct aho *a)
{
	return a->n;
}

size_t
aho_memory(const struct aho *a)
{
	return sizeof(*a) + (size_t)a->keys_cap * sizeof(*a->keys) +
	       a->pool_cap + ((size_t)a->n + 1) * sizeof(*a->node) +
	       (size_t)a->n * (1 + 2 * sizeof(uint32_t)) +
	       ((size_t)a->n / 64 + 1) * sizeof(uint64_t) +
	       ((size_t)a->ndense << a->shift) * sizeof(uint32_t);
}
