/*
 * The worker's counters, named in common/tbl/counters.h.  Incremented by the
 * owning worker only; readers sum the workers' slots.
 */
#ifndef WORKER_STATS_H
#define WORKER_STATS_H

#include <stdint.h>

enum stat_id {
#define COUNTER(name, kind, help) STAT_##name,
#include "common/tbl/counters.h"
	STAT__COUNT
};

/* Points at this worker's slot in the shared-memory segment. */
extern uint64_t *stats_slot;

/* One writer per slot, so a relaxed load and store suffice: no locked
 * instruction on the hot path, and readers still never see a torn value. */
static inline void
stats_add(enum stat_id id, uint64_t n)
{
#ifndef PROXYD_NO_STATS /* bench/counter_cost.sh measures their cost */
	uint64_t *p = &stats_slot[id];

	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
	                 __ATOMIC_RELAXED);
#else
	(void)id;
	(void)n;
#endif
}

#define STATS_ADD(name, n) stats_add(STAT_##name, (uint64_t)(n))
#define STATS_INC(name) stats_add(STAT_##name, 1)
#define STATS_DEC(name) stats_add(STAT_##name, (uint64_t)-1)

#endif
