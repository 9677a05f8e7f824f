/*
 * Address sets for `src` and `dst` conditions: one path-compressed binary
 * prefix tree per family, built in the master at load time and walked per
 * request without allocating.  Every key is a 128-bit number (an IPv4
 * address sits in its top 32 bits), so one walk serves both families; the
 * nodes live in one array and point at each other by index, which keeps
 * the tree compact (32 bytes a node, at most two nodes a prefix) and lets
 * the array grow by realloc.  A query stops at the first stored prefix on
 * its path: membership is all a rule asks, not the longest match.
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4 both when stored and when
 * queried, so a client reaching a dual-stack listener is judged by its
 * IPv4 rules.
 */
#include "rules/match.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIDR_MAGIC 0x43494452U /* "CIDR" */
#define NIL 0                  /* node 0 is never used: index 0 = none */

enum { FAM_V4, FAM_V6 };

struct key {
	uint64_t hi, lo; /* the address, most significant bit first */
};

struct cnode {
	struct key key;    /* the first len bits matter, the rest are 0 */
	uint32_t child[2]; /* by the bit at position len */
	uint8_t len;       /* prefix length, 0..128 */
	uint8_t term;      /* 1: a stored prefix; 0: only a fork */
};

struct cidr_set {
	unsigned magic;
	uint32_t root[2]; /* by FAM_ */
	struct cnode *node;
	uint32_t n_node, cap_node;
	size_t count;
};

/* The top len bits of a 64-bit half (len 0..64). */
static uint64_t
mask64(unsigned len)
{
	if (len == 0)
		return 0; /* a shift by 64 would be undefined */
	if (len >= 64)
		return ~(uint64_t)0;
	return ~(uint64_t)0 << (64 - len);
}

static struct key
key_mask(struct key k, unsigned len)
{
	k.hi &= mask64(len);
	k.lo &= mask64(len > 64 ? len - 64 : 0);
	return k;
}

static int
key_bit(const struct key *k, unsigned i)
{
	return i < 64 ? (int)(k->hi >> (63 - i)) & 1
	              : (int)(k->lo >> (127 - i)) & 1;
}

/* How many leading bits a and b share (0..128). */
static unsigned
key_common(const struct key *a, const struct key *b)
{
	uint64_t x = a->hi ^ b->hi;

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a->lo ^ b->lo;
	return x ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

/* Whether k lies under node n's prefix. */
static int
key_under(const struct key *k, const struct cnode *n)
{
	struct key m = key_mask(*k, n->len);

	return m.hi == n->key.hi && m.lo == n->key.lo;
}

static struct key
key_from_v4(const uint8_t b[4])
{
	struct key k;

	k.hi = (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 |
	       (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32;
	k.lo = 0;
	return k;
}

static struct key
key_from_v6(const uint8_t b[16])
{
	struct key k = {0, 0};
	unsigned i;

	for (i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | b[i];
		k.lo = k.lo << 8 | b[8 + i];
	}
	return k;
}

static int
v4_mapped(const uint8_t b[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0,    0,
	                                0, 0, 0, 0, 0xff, 0xff};

	return memcmp(b, pfx, sizeof(pfx)) == 0;
}

struct cidr_set *
cidr_set_new(void)
{
	struct cidr_set *s = calloc(1, sizeof(*s));

	if (s)
		s->magic = CIDR_MAGIC;
	return s;
}

void
cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	assert(s->magic == CIDR_MAGIC);
	free(s->node);
	s->magic = 0;
	free(s);
}

size_t
cidr_set_count(const struct cidr_set *s)
{
	assert(s->magic == CIDR_MAGIC);
	return s->count;
}

/* Room for two more nodes, so an insert never reallocates midway and the
 * indexes it holds stay valid. */
static int
reserve(struct cidr_set *s)
{
	struct cnode *n;
	uint32_t cap;

	if (s->n_node + 2 <= s->cap_node)
		return 0;
	if (s->cap_node > UINT32_MAX / 2)
		return -1;
	cap = s->cap_node ? s->cap_node * 2 : 64;
	n = realloc(s->node, cap * sizeof(*n));
	if (!n)
		return -1;
	if (s->n_node == 0)
		s->n_node = 1; /* skip NIL */
	s->node = n;
	s->cap_node = cap;
	return 0;
}

static uint32_t
node_add(struct cidr_set *s, struct key k, unsigned len, int term)
{
	struct cnode *n = &s->node[s->n_node];

	n->key = key_mask(k, len);
	n->len = (uint8_t)len;
	n->term = (uint8_t)term;
	n->child[0] = n->child[1] = NIL;
	return s->n_node++;
}

/* Puts prefix k/len into the tree whose root index is *root.  The caller
 * reserved room for the (at most) two nodes it adds. */
static void
insert(struct cidr_set *s, uint32_t *root, struct key k, unsigned len)
{
	uint32_t *link = root, at, top, leaf;
	struct cnode *n;
	unsigned common;

	while ((at = *link) != NIL) {
		n = &s->node[at];
		common = key_common(&k, &n->key);
		if (common > len)
			common = len;
		if (common >= n->len) {
			if (len == n->len) { /* this very prefix */
				s->count += !n->term;
				n->term = 1;
				return;
			}
			link = &n->child[key_bit(&k, n->len)];
			continue;
		}
		/* k parts from n's path before n: a new node goes above n */
		if (common == len) { /* k/len covers n */
			top = node_add(s, k, len, 1);
			s->node[top].child[key_bit(&n->key, len)] = at;
		} else { /* a fork where they part, n and k/len below it */
			top = node_add(s, k, common, 0);
			leaf = node_add(s, k, len, 1);
			s->node[top].child[key_bit(&n->key, common)] = at;
			s->node[top].child[key_bit(&k, common)] = leaf;
		}
		*link = top;
		s->count++;
		return;
	}
	*link = node_add(s, k, len, 1);
	s->count++;
}

/* The prefix length after the '/', digits only and no leading zero (as
 * inet_pton reads IPv4 octets): "/08", "/+8" and "/8 " are typos. */
static int
parse_len(const char *p, unsigned max, unsigned *len, char *err, size_t errlen)
{
	unsigned v = 0;
	const char *d;

	if (*p == '\0' || (p[0] == '0' && p[1] != '\0'))
		goto bad;
	for (d = p; *d; d++) {
		if (*d < '0' || *d > '9' || d - p >= 3)
			goto bad;
		v = v * 10 + (unsigned)(*d - '0');
	}
	if (v > max) {
		snprintf(err, errlen, "prefix length /%u out of range (0..%u)",
		         v, max);
		return -1;
	}
	*len = v;
	return 0;
bad:
	snprintf(err, errlen, "invalid prefix length \"/%s\"", p);
	return -1;
}

/* Refuses "10.1.2.3/8": the writer meant 10.0.0.0/8 or mistyped the
 * length, and guessing either could open a hole in a policy. */
static int
check_host_bits(int af, const uint8_t *addr, unsigned len, const char *text,
                char *err, size_t errlen)
{
	uint8_t net[16];
	char buf[INET6_ADDRSTRLEN];
	size_t n = af == AF_INET ? 4 : 16, i;
	unsigned bits;

	for (i = 0; i < n; i++) {
		bits = len > 8 * i ? len - 8 * (unsigned)i : 0;
		net[i] = bits >= 8 ? addr[i]
		                   : addr[i] & (uint8_t)(0xff00 >> bits);
	}
	if (memcmp(net, addr, n) == 0)
		return 0;
	inet_ntop(af, net, buf, sizeof(buf));
	snprintf(err, errlen, "host bits set in %s: say %s/%u", text, buf, len);
	return -1;
}

int
cidr_set_add(struct cidr_set *s, const char *text, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint8_t addr[16];
	unsigned len, max;
	int af;

	assert(s->magic == CIDR_MAGIC);
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "invalid address \"%.60s...\"", text);
		return -1;
	}
	if (*text == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, buf, addr) != 1) {
		snprintf(err, errlen, "invalid address \"%s\"", buf);
		return -1;
	}
	max = af == AF_INET ? 32 : 128;
	len = max;
	if (slash && parse_len(slash + 1, max, &len, err, errlen) < 0)
		return -1;
	if (check_host_bits(af, addr, len, text, err, errlen) < 0)
		return -1;
	if (reserve(s) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (af == AF_INET)
		insert(s, &s->root[FAM_V4], key_from_v4(addr), len);
	else if (len >= 96 && v4_mapped(addr)) /* ::ffff:a.b.c.d/n */
		insert(s, &s->root[FAM_V4], key_from_v4(addr + 12), len - 96);
	else
		insert(s, &s->root[FAM_V6], key_from_v6(addr), len);
	return 0;
}

static int
lookup(const struct cidr_set *s, uint32_t at, const struct key *k)
{
	const struct cnode *n;

	while (at != NIL) {
		n = &s->node[at];
		if (!key_under(k, n))
			return 0;
		if (n->term)
			return 1;
		if (n->len >= 128)
			return 0;
		at = n->child[key_bit(k, n->len)];
	}
	return 0;
}

int
cidr_set_match(const struct cidr_set *s, const struct sockaddr *sa)
{
	const uint8_t *b;
	struct key k;

	assert(s->magic == CIDR_MAGIC);
	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&(
		            (const struct sockaddr_in *)(const void *)sa)
		            ->sin_addr;
		k = key_from_v4(b);
		return lookup(s, s->root[FAM_V4], &k);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (v4_mapped(b)) {
		k = key_from_v4(b + 12);
		return lookup(s, s->root[FAM_V4], &k);
	}
	k = key_from_v6(b);
	return lookup(s, s->root[FAM_V6], &k);
}
