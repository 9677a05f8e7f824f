/*
 * Creating, writing and reading the shared-memory segment (layout in
 * shm/shm-t.h).  The master writes through struct shm_segment; proxyctl and
 * the admin endpoint read through struct shm_view and snapshots.
 */
#ifndef SHM_SHM_H
#define SHM_SHM_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "shm/shm-t.h"

/* --- writer (master) --- */

struct shm_segment {
	void *base;
	size_t size;
	char path[4096];
};

/* Builds the segment under a temporary name (mode 0640, group gid when
 * not -1), fills it, then renames it onto path.  0, or -1 with err. */
int shm_create(struct shm_segment *seg, const char *path, unsigned n_slots,
               gid_t gid, char *err, size_t errlen);
/* Marks the segment stopped and removes the file. */
void shm_destroy(struct shm_segment *seg);
struct shm_header *shm_header(const struct shm_segment *seg);
struct shm_slot *shm_slot(const struct shm_segment *seg, unsigned i);
uint64_t *shm_slot_counters(const struct shm_segment *seg, unsigned i);
uint64_t *shm_master_counters(const struct shm_segment *seg);
/* Master: a worker starts in slot i / changes state. */
void shm_slot_start(const struct shm_segment *seg, unsigned i, pid_t pid,
                    unsigned generation);
void shm_slot_set_state(const struct shm_segment *seg, unsigned i,
                        enum shm_slot_state state);
/* Master: the worker of slot i is gone; add its counters to the retired
 * block (gauges are dropped) and clear the slot, all under the seqlock so
 * a reader never counts them twice or not at all. */
void shm_slot_retire(const struct shm_segment *seg, unsigned i);
void shm_set_generation(const struct shm_segment *seg, unsigned generation);

/* shm/file.c: a new file mapped read-write under a temporary name
 * (mode 0640, group gid unless -1); NULL with err.  Commit renames it
 * onto path (on failure it is unmapped and removed). */
void *shm_file_new(const char *path, size_t size, gid_t gid, char *tmp,
                   size_t tmplen, char *err, size_t errlen);
int shm_file_commit(void *base, size_t size, const char *tmp, const char *path,
                    char *err, size_t errlen);

/* --- reader (proxyctl, admin endpoint) --- */

struct shm_view {
	const void *base;
	size_t size;
	const struct shm_header *h;
	int mapped; /* 1 if shm_attach mapped it (detach unmaps) */
};

/* Maps path read-only and validates it.  0, or -1 with err set to one
 * clear line (missing, unreadable, foreign, other ABI, truncated). */
int shm_attach(struct shm_view *v, const char *path, char *err, size_t errlen);
/* Validates an already mapped segment (the admin endpoint's own). */
int shm_view_init(struct shm_view *v, const void *base, size_t size, char *err,
                  size_t errlen);
void shm_detach(struct shm_view *v);
/* 1 if the master that wrote the segment is alive and is proxyd. */
int shm_master_alive(const struct shm_view *v);
const struct shm_counter_desc *shm_view_desc(const struct shm_view *v,
                                             unsigned i);

struct shm_worker_snap {
	unsigned slot;
	struct shm_slot head;
	uint64_t *counters; /* n_counters */
};

/* A consistent copy of every counter at one moment. */
struct shm_snapshot {
	uint64_t taken_at; /* unix ms */
	uint32_t generation;
	int64_t master_pid;
	uint64_t start_time;
	unsigned n_counters;
	uint64_t *totals; /* retired + master + every slot */
	uint64_t *master;
	unsigned n_workers; /* slots in use */
	struct shm_worker_snap *workers;
};

/* 0, or -1 if the segment stayed busy or memory ran out. */
int shm_snapshot_take(const struct shm_view *v, struct shm_snapshot *s);
void shm_snapshot_free(struct shm_snapshot *s);

/* --- rendering (shm/render.c) --- */

const char *shm_slot_state_name(uint32_t state);
void shm_render_json(const struct shm_view *v, const struct shm_snapshot *s,
                     FILE *out);
void shm_render_prometheus(const struct shm_view *v,
                           const struct shm_snapshot *s, FILE *out);
/* The human table; prev (may be NULL) gives per-second rates. */
void shm_render_table(const struct shm_view *v, const struct shm_snapshot *s,
                      const struct shm_snapshot *prev, FILE *out);
void shm_render_workers(const struct shm_view *v, const struct shm_snapshot *s,
                        FILE *out);

#endif
