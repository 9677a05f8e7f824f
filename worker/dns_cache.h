/*
 * The worker's DNS cache: answers keyed by lower-cased host name, each kept
 * for the TTL the resolver gave (the caller clamps it), negative answers
 * too.  A hash table bounded in size; when full, expired entries go first,
 * then the oldest.  One per worker process, so no locking.
 */
#ifndef WORKER_DNS_CACHE_H
#define WORKER_DNS_CACHE_H

#include <stdint.h>

#include "worker/dns.h"

#define DNS_CACHE_MAX 4096 /* entries per worker */
#define DNS_NAME_MAX 253   /* longest host name, without a final dot */

enum dns_cache_result {
	DNS_CACHE_MISS = 0,
	DNS_CACHE_HIT,      /* out filled */
	DNS_CACHE_NEGATIVE, /* the name is known not to resolve; err set */
};

/* 0, or -1 when out of memory.  max_entries > 0. */
int dns_cache_init(unsigned max_entries);
void dns_cache_fini(void);

/* Looks name up at time now (ms); on a hit fills out with port set in
 * every address, on a negative hit sets *err to the cached reason. */
enum dns_cache_result dns_cache_get(const char *name, uint16_t port,
                                    uint64_t now, struct dns_addrs *out,
                                    const char **err);

/* Stores addrs (ports ignored) for ttl ms, replacing any older entry; with
 * addrs NULL stores a negative answer whose reason is err (a string that
 * outlives the cache, e.g. a literal).  Silently drops it without memory. */
void dns_cache_put(const char *name, const struct dns_addrs *addrs,
                   const char *err, uint64_t ttl, uint64_t now);

/* Entries held now, expired ones included until swept (for tests). */
unsigned dns_cache_count(void);

/* The table's hash of a name, seeded per process so that clients cannot
 * choose names that collide; dns.c hashes its in-flight lookups with it. */
uint32_t dns_cache_hash(const char *name);

#endif
