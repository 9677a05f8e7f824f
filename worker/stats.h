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

/* Points at this worker's slot (shared memory once attached). */
extern uint64_t *stats_slot;

#define STATS_ADD(name, n)                                                     \
	__atomic_fetch_add(&stats_slot[STAT_##name], (uint64_t)(n),            \
			   __ATOMIC_RELAXED)
#define STATS_INC(name) STATS_ADD(name, 1)
#define STATS_DEC(name)                                                        \
	__atomic_fetch_sub(&stats_slot[STAT_##name], 1, __ATOMIC_RELAXED)

#endif
