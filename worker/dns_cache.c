/*
 * Per-worker DNS cache.  Entries hang off a power-of-two bucket array (twice
 * the entry limit, so chains stay short) and off an age list, oldest first.
 * Addresses are stored packed, without ports, since one name serves many
 * ports.  Expired entries die when looked up, or in a sweep when the table
 * is full; sweeps run at most once a second so a table full of live entries
 * costs O(1) per insertion (the oldest goes).
 */
#include "worker/dns_cache.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_INTERVAL 1000 /* ms */

struct entry {
	struct entry *hnext; /* bucket chain */
	struct entry *older; /* age list */
	struct entry *newer;
	uint64_t expires; /* ms, on the caller's clock */
	const char *err;  /* set for a negative answer */
	unsigned n;
	sa_family_t family[DNS_MAX_ADDRS];
	unsigned char addr[DNS_MAX_ADDRS][16];
	char name[];
};

static struct entry **buckets;
static uint32_t mask;
static uint32_t seed;
static unsigned count, limit;
static struct entry *oldest, *newest;
static uint64_t last_sweep;

uint32_t
dns_cache_hash(const char *name)
{
	uint32_t h = 2166136261u ^ seed; /* FNV-1a, seeded */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static uint32_t
random_seed(void)
{
	uint32_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	/* No entropy yet (early boot): any per-process value beats none. */
	return (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
}

int
dns_cache_init(unsigned max_entries)
{
	uint32_t n = 1;

	dns_cache_fini();
	while (n < 2 * max_entries)
		n <<= 1;
	buckets = calloc(n, sizeof(*buckets));
	if (!buckets)
		return -1;
	mask = n - 1;
	limit = max_entries;
	last_sweep = 0;
	seed = random_seed();
	return 0;
}

static void
unlink_age(struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		newest = e->older;
}

static void
drop(struct entry *e)
{
	struct entry **p = &buckets[dns_cache_hash(e->name) & mask];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	unlink_age(e);
	count--;
	free(e);
}

void
dns_cache_fini(void)
{
	struct entry *e;

	while ((e = oldest)) {
		oldest = e->newer;
		free(e);
	}
	free(buckets);
	buckets = NULL;
	newest = NULL;
	count = 0;
}

static struct entry *
find(const char *name)
{
	struct entry *e;

	if (!buckets)
		return NULL;
	e = buckets[dns_cache_hash(name) & mask];
	while (e && strcmp(e->name, name) != 0)
		e = e->hnext;
	return e;
}

static void
unpack(const struct entry *e, uint16_t port, struct dns_addrs *out)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	unsigned i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < e->n; i++) {
		if (e->family[i] == AF_INET) {
			sin = (struct sockaddr_in *)&out->addr[i];
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			memcpy(&sin->sin_addr, e->addr[i], 4);
			out->len[i] = sizeof(*sin);
		} else {
			sin6 = (struct sockaddr_in6 *)&out->addr[i];
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			memcpy(&sin6->sin6_addr, e->addr[i], 16);
			out->len[i] = sizeof(*sin6);
		}
	}
	out->n = e->n;
}

enum dns_cache_result
dns_cache_get(const char *name, uint16_t port, uint64_t now,
              struct dns_addrs *out, const char **err)
{
	struct entry *e = find(name);

	if (!e)
		return DNS_CACHE_MISS;
	if (e->expires <= now) {
		drop(e);
		return DNS_CACHE_MISS;
	}
	if (e->err) {
		*err = e->err;
		return DNS_CACHE_NEGATIVE;
	}
	unpack(e, port, out);
	return DNS_CACHE_HIT;
}

static void
pack(struct entry *e, const struct dns_addrs *a)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	unsigned i;

	for (i = 0; i < a->n && e->n < DNS_MAX_ADDRS; i++) {
		if (a->addr[i].ss_family == AF_INET) {
			sin = (const struct sockaddr_in *)&a->addr[i];
			memcpy(e->addr[e->n], &sin->sin_addr, 4);
		} else if (a->addr[i].ss_family == AF_INET6) {
			sin6 = (const struct sockaddr_in6 *)&a->addr[i];
			memcpy(e->addr[e->n], &sin6->sin6_addr, 16);
		} else {
			continue;
		}
		e->family[e->n++] = a->addr[i].ss_family;
	}
}

static void
make_room(uint64_t now)
{
	struct entry *e, *next;

	if (now >= last_sweep + SWEEP_INTERVAL) {
		last_sweep = now;
		for (e = oldest; e; e = next) {
			next = e->newer;
			if (e->expires <= now)
				drop(e);
		}
	}
	while (count >= limit && oldest)
		drop(oldest);
}

void
dns_cache_put(const char *name, const struct dns_addrs *addrs, const char *err,
              uint64_t ttl, uint64_t now)
{
	size_t len = strlen(name);
	struct entry *e;
	uint32_t h;

	if (!buckets)
		return;
	if ((e = find(name)))
		drop(e);
	if (count >= limit)
		make_room(now);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return; /* the answer still reaches its waiters */
	memcpy(e->name, name, len + 1);
	e->expires = now + ttl;
	e->err = addrs ? NULL : err;
	if (addrs)
		pack(e, addrs);
	h = dns_cache_hash(name) & mask;
	e->hnext = buckets[h];
	buckets[h] = e;
	e->older = newest;
	if (newest)
		newest->newer = e;
	else
		oldest = e;
	newest = e;
	count++;
}

unsigned
dns_cache_count(void)
{
	return count;
}
