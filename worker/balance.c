/*
 * Choosing a server of a backend for one request: roundrobin (nginx's
 * smooth weighted round robin), leastconn (fewest requests in flight in
 * every worker, per unit of weight), hash (a consistent-hash ring, so a
 * new server takes only its share of keys) and random (the less busy of
 * two servers drawn by weight: "power of two choices").
 *
 * Only servers the request has not tried and that are usable count;
 * backup servers only when no other server is usable.
 */
#include "worker/backend.h"

#include <stdlib.h>
#include <string.h>

#include "worker/session-t.h"

#define RING_POINTS 160 /* per unit of weight, as ketama */

static int
tried(const struct session *s, unsigned i)
{
	return s->tried[i / 8] & (1u << (i % 8));
}

/* May server i (of the session's backend) take this request, in the
 * tier asked for (backup or not)? */
static int
candidate(const struct session *s, unsigned i, int backup)
{
	return backends.sv[i].cfg->backup == backup && !tried(s, i) &&
	       backend_usable(i);
}

/* Requests in flight on server i in every worker. */
static uint64_t
load_of(unsigned i)
{
	uint64_t n = 0;
	unsigned r;

	for (r = 0; r < backends.n_rows; r++)
		n += __atomic_load_n(
		        &backends.rows[(size_t)r * backends.n_servers + i]
		                 .active,
		        __ATOMIC_RELAXED);
	return n;
}

static int
pick_roundrobin(const struct session *s, const struct backend_rt *b, int backup)
{
	int best = -1, total = 0;
	unsigned j, i;

	for (j = 0; j < b->cfg->n_servers; j++) {
		struct backend_server_rt *sv;

		i = b->cfg->server[j];
		if (!candidate(s, i, backup))
			continue;
		sv = &backends.sv[i];
		sv->rr_current += (int)sv->cfg->weight;
		total += (int)sv->cfg->weight;
		if (best < 0 || sv->rr_current > backends.sv[best].rr_current)
			best = (int)i;
	}
	if (best >= 0)
		backends.sv[best].rr_current -= total;
	return best;
}

/* Fewest in flight per weight: a/wa < b/wb, as a*wb < b*wa. */
static int
pick_leastconn(const struct session *s, struct backend_rt *b, int backup)
{
	uint64_t best_load = 0, load;
	unsigned j, n = b->cfg->n_servers, i;
	int best = -1;

	/* start at a moving offset so ties do not all go to the first */
	for (j = 0; j < n; j++) {
		i = b->cfg->server[(b->rr_next + j) % n];
		if (!candidate(s, i, backup))
			continue;
		load = load_of(i);
		if (best < 0 ||
		    load * backends.sv[best].cfg->weight <
		            best_load * backends.sv[i].cfg->weight) {
			best = (int)i;
			best_load = load;
		}
	}
	b->rr_next++;
	return best;
}

static uint64_t
next_random(void)
{
	uint64_t x = backends.rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	backends.rng = x;
	return x;
}

/* One candidate drawn with probability proportional to its weight. */
static int
draw(const struct session *s, const struct backend_rt *b, int backup)
{
	uint64_t total = 0, at;
	unsigned j, i;

	for (j = 0; j < b->cfg->n_servers; j++)
		if (candidate(s, i = b->cfg->server[j], backup))
			total += backends.sv[i].cfg->weight;
	if (total == 0)
		return -1;
	at = next_random() % total;
	for (j = 0; j < b->cfg->n_servers; j++) {
		if (!candidate(s, i = b->cfg->server[j], backup))
			continue;
		if (at < backends.sv[i].cfg->weight)
			return (int)i;
		at -= backends.sv[i].cfg->weight;
	}
	return -1;
}

static int
pick_random(const struct session *s, const struct backend_rt *b, int backup)
{
	int x = draw(s, b, backup), y = draw(s, b, backup);

	if (x < 0 || y < 0 || x == y)
		return x;
	return load_of((unsigned)y) * backends.sv[x].cfg->weight <
	                       load_of((unsigned)x) * backends.sv[y].cfg->weight
	               ? y
	               : x;
}

static int
cmp_point(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Each server gets RING_POINTS x weight points, hashed from its name:
 * the same name lands on the same points in every worker and after a
 * reload, whatever the order of the lines. */
int
backend_ring_build(struct backend_rt *b)
{
	unsigned j, k, n = 0, i;

	for (j = 0; j < b->cfg->n_servers; j++)
		n += backends.sv[b->cfg->server[j]].cfg->weight * RING_POINTS;
	b->ring = malloc(n * sizeof(*b->ring));
	if (!b->ring)
		return -1;
	for (j = 0; j < b->cfg->n_servers; j++) {
		const struct config_server *cs;

		i = b->cfg->server[j];
		cs = backends.sv[i].cfg;
		for (k = 0; k < cs->weight * RING_POINTS; k++) {
			uint64_t h = backend_hash(cs->name, strlen(cs->name),
			                          (uint64_t)k + 1);

			b->ring[b->ring_len++] = (h & ~0xffffULL) | i;
		}
	}
	qsort(b->ring, b->ring_len, sizeof(*b->ring), cmp_point);
	return 0;
}

/* The first point at or after the key's that belongs to a candidate:
 * a server that is out hands its keys to its ring neighbours only. */
static int
pick_hash(const struct session *s, const struct backend_rt *b, int backup,
          uint64_t hash)
{
	unsigned lo = 0, hi = b->ring_len, k, i;
	uint64_t key = hash & ~0xffffULL;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if ((b->ring[mid] & ~0xffffULL) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = 0; k < b->ring_len; k++) {
		i = (unsigned)(b->ring[(lo + k) % b->ring_len] & 0xffff);
		if (candidate(s, i, backup))
			return (int)i;
	}
	return -1;
}

static int
pick_tier(struct session *s, struct backend_rt *b, int backup, uint64_t hash)
{
	switch (b->cfg->balance) {
	case BALANCE_LEASTCONN:
		return pick_leastconn(s, b, backup);
	case BALANCE_HASH:
		return pick_hash(s, b, backup, hash);
	case BALANCE_RANDOM:
		return pick_random(s, b, backup);
	case BALANCE_ROUNDROBIN:
		break;
	}
	return pick_roundrobin(s, b, backup);
}

int
backend_pick(struct session *s, uint64_t hash)
{
	struct backend_rt *b = &backends.b[s->backend];
	int i = pick_tier(s, b, 0, hash);

	return i >= 0 ? i : pick_tier(s, b, 1, hash);
}
