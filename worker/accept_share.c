/*
 * Sharing new connections fairly between the workers.  The listening
 * sockets wake one worker per new connection (EPOLLEXCLUSIVE), and a
 * worker that wakes drains the backlog: when a client opens many
 * connections at once (a browser, a load balancer, wrk), one worker can
 * end up with nearly all of them while the others idle.  So a worker
 * that holds more than its share of its generation's client connections
 * (read from the other workers' slots in the shm segment) stops
 * accepting for a moment; new connections then wake the others.
 */
#include "worker/accept_share.h"

#include <string.h>

#include "shm/shm.h"
#include "worker/event.h"
#include "worker/stats.h"

#define RESCAN_MS 1000 /* how often the set of peers is looked up */
#define MAX_PEERS 256
#define SLACK 2 /* connections over the even share before yielding */

static const char *base;
static const struct shm_header *hdr;
static unsigned my_slot, my_generation;
static unsigned peers[MAX_PEERS]; /* running slots of my generation */
static unsigned n_peers;
static uint64_t scanned_at;

void
accept_share_init(const void *shm_base, size_t shm_size, unsigned slot,
                  unsigned generation)
{
	struct shm_view v;
	char err[128];

	hdr = NULL;
	n_peers = 0;
	scanned_at = 0;
	if (!shm_base ||
	    shm_view_init(&v, shm_base, shm_size, err, sizeof(err)) < 0)
		return; /* alone (tests): always accept */
	base = shm_base;
	hdr = v.h;
	my_slot = slot;
	my_generation = generation;
}

static const struct shm_slot *
slot_at(unsigned i)
{
	return (const struct shm_slot *)(base + hdr->slots_off +
	                                 (size_t)i * hdr->slot_size);
}

static uint64_t
active_of(unsigned i)
{
	const uint64_t *c =
	        (const uint64_t *)((const char *)slot_at(i) + SHM_LINE);

	return __atomic_load_n(&c[STAT_conn_active], __ATOMIC_RELAXED);
}

/* The running workers of this generation: they change only when one is
 * started or ends, so a look every second is enough. */
static void
rescan(void)
{
	unsigned i;

	n_peers = 0;
	for (i = 0; i < hdr->n_slots && n_peers < MAX_PEERS; i++) {
		const struct shm_slot *s = slot_at(i);

		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) ==
		            SHM_SLOT_RUNNING &&
		    __atomic_load_n(&s->generation, __ATOMIC_RELAXED) ==
		            my_generation)
			peers[n_peers++] = i;
	}
	scanned_at = event_now();
}

int
accept_share_over(void)
{
	uint64_t total = 0, mine;
	unsigned i;

	if (!hdr)
		return 0;
	if (event_now() - scanned_at >= RESCAN_MS)
		rescan();
	if (n_peers < 2)
		return 0;
	for (i = 0; i < n_peers; i++)
		total += active_of(peers[i]);
	mine = active_of(my_slot);
	/* mine > total / n + SLACK, in integers */
	return mine * n_peers > total + (uint64_t)SLACK * n_peers;
}
