/*
 * The shared-memory segment: the ABI between proxyd (writer) and proxyctl
 * (reader).  Offsets from the base and fixed-width integers only, never
 * pointers.  ABI: any change to a record below bumps SHM_ABI_MAJOR;
 * fields appended to the header at its end bump SHM_ABI_MINOR.
 *
 *   header | counter descriptions | retired | master | slot 0 .. slot N-1
 *
 * Counter blocks are arrays of n_counters uint64_t in the order of the
 * descriptions.  A worker writes only its own slot's counters (relaxed
 * atomics); the master writes everything else, under the header seqlock
 * when a reader could see a half-done change (folding a slot).
 */
#ifndef SHM_SHM_T_H
#define SHM_SHM_T_H

#include <assert.h>
#include <stdint.h>

#define SHM_MAGIC 0x48534d4459585250ULL	/* "PRXYDMSH" little-endian */
#define SHM_ABI_MAJOR 1
#define SHM_ABI_MINOR 0
#define SHM_LINE 64			/* cache line: one writer per line */
#define SHM_NAME_MAX 48
#define SHM_HELP_MAX 112
#define SHM_MAX_COUNTERS 1024
#define SHM_MAX_SLOTS 4096

enum shm_state {
	SHM_STATE_STARTING = 0,
	SHM_STATE_READY = 1,
	SHM_STATE_STOPPED = 2,
};

enum shm_kind {
	SHM_KIND_COUNTER = 0,	/* only goes up */
	SHM_KIND_GAUGE = 1,	/* a level; not folded when a worker exits */
};

enum shm_slot_state {
	SHM_SLOT_FREE = 0,
	SHM_SLOT_RUNNING = 1,
	SHM_SLOT_DRAINING = 2,
};

/* ABI: bump the major version. */
struct shm_header {
	uint64_t magic;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t size;		/* bytes in the file */
	int64_t master_pid;
	uint64_t start_time;	/* master start, unix ms */
	uint32_t state;		/* enum shm_state */
	uint32_t seq;		/* seqlock: odd while the master writes */
	uint32_t generation;	/* configuration generation */
	uint32_t n_counters;
	uint32_t n_slots;
	uint32_t slot_size;	/* bytes per slot, multiple of SHM_LINE */
	uint64_t desc_off;
	uint64_t retired_off;	/* counters of workers that exited */
	uint64_t master_off;	/* counters the master keeps */
	uint64_t slots_off;
	uint64_t rules_off;	/* 0 until the rules engine publishes */
	uint64_t rules_size;
	uint64_t reserved[4];
};
static_assert(sizeof(struct shm_header) == 144, "ABI: shm_header");

/* ABI: bump the major version. */
struct shm_counter_desc {
	char name[SHM_NAME_MAX];	/* NUL-terminated */
	char help[SHM_HELP_MAX];	/* NUL-terminated */
	uint32_t kind;			/* enum shm_kind */
	uint32_t reserved;
};
static_assert(sizeof(struct shm_counter_desc) == 168, "ABI: counter desc");

/* The head of a worker slot; its counters follow at the next line.
 * ABI: bump the major version. */
struct shm_slot {
	uint32_t state;		/* enum shm_slot_state, written by master */
	int32_t pid;
	uint32_t generation;
	uint32_t reserved;
	uint64_t start_time;	/* unix ms */
	uint64_t heartbeat;	/* unix ms, written by the worker */
	uint64_t reserved2[4];
};
static_assert(sizeof(struct shm_slot) == SHM_LINE, "ABI: shm_slot");

#endif
