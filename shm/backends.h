/*
 * The backends area next to the segment (layout in shm/shm-t.h): the
 * master publishes it for each generation with backends; the health
 * checker writes the servers' health into it; each worker writes its own
 * row of per-server counters; proxyctl reads it (shm/backends_view.c).
 */
#ifndef SHM_BACKENDS_H
#define SHM_BACKENDS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/config-t.h"
#include "shm/shm-t.h"

struct backends_area {
	void *base; /* NULL: no backends in this generation */
	size_t size;
};

/* Writes cfg's backends into shm_path + ".backends" with n_rows rows of
 * counters; a server also in old (same backend and name) keeps its
 * health.  Without backends, removes the file and leaves a->base NULL.
 * 0, or -1 with err. */
int shm_backends_publish(struct backends_area *a, const char *shm_path,
                         const struct config *cfg, unsigned n_rows,
                         unsigned generation, gid_t gid,
                         const struct backends_area *old, char *err,
                         size_t errlen);
void shm_backends_unmap(struct backends_area *a);
void shm_backends_remove(const char *shm_path);

static inline struct shm_backends_header *
shm_backends_header(const struct backends_area *a)
{
	return (struct shm_backends_header *)a->base;
}

static inline struct shm_server *
shm_backends_servers(const struct backends_area *a)
{
	return a->base ? (struct shm_server *)((char *)a->base +
	                                       shm_backends_header(a)
	                                               ->servers_off)
	               : NULL;
}

/* A worker's requests to a server failed `fall` times in a row since the
 * checker last changed its state (at `since`): passive checks, judged the
 * same way by the worker itself and by the checker. */
static inline int
shm_row_failing(const struct shm_server_row *r, unsigned fall, uint64_t since)
{
	return __atomic_load_n(&r->fail_streak, __ATOMIC_RELAXED) >= fall &&
	       __atomic_load_n(&r->last_fail, __ATOMIC_RELAXED) > since;
}

/* Row `row` (n_servers entries), or NULL. */
struct shm_server_row *shm_backends_row(const struct backends_area *a,
                                        unsigned row);

/* What a check result is called (proxyctl, the checker's log). */
const char *shm_check_result_name(uint32_t r);

/* The reader side, for proxyctl: the file is untrusted input. */
struct shm_backends_view {
	const void *base;
	size_t size;
	const struct shm_backends_header *h;
};

/* 0 attached; 1 no backends file; -1 error (err says). */
int shm_backends_attach(struct shm_backends_view *v, const char *shm_path,
                        char *err, size_t errlen);
void shm_backends_detach(struct shm_backends_view *v);
const struct shm_backend *
shm_backends_view_backend(const struct shm_backends_view *v, unsigned i);
const struct shm_server *
shm_backends_view_server(const struct shm_backends_view *v, unsigned i);
/* Server i's counters summed over the rows (a copy: torn reads of one
 * 64-bit counter cannot happen, rows are read one by one). */
void shm_backends_view_sum(const struct shm_backends_view *v, unsigned i,
                           struct shm_server_row *sum);

#endif
