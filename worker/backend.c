/*
 * Backends as a worker runs them: per-backend timer queues, whether a
 * server may take a request, and this worker's row of per-server counters
 * in the backends area (only this worker writes it: relaxed load and
 * store, as for the main counters).
 *
 * A server is out when the health checker says it is down, or when this
 * worker's own requests to it failed `fall` times in a row since the
 * checker last changed its state: a worker stops sending at once, and the
 * checker, which reads every row, takes the server out for all of them.
 */
#include "worker/backend.h"
#include "shm/backends.h"
#include "common/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/event.h"
#include "worker/session-t.h"
#include "worker/worker.h"

struct backend_state backends;

/* Counters of servers when there is no area (never with a master). */
static struct shm_server_row *own_rows;

static void
row_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n,
	                 __ATOMIC_RELAXED);
}

static void
row_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

uint64_t
backend_hash(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV's low bits mix poorly: finish as splitmix64 does */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int
attach_area(void *area, unsigned row)
{
	const struct shm_backends_header *h = area;

	if (!area) {
		own_rows = calloc(backends.n_servers ? backends.n_servers : 1,
		                  sizeof(*own_rows));
		backends.row = own_rows;
		backends.rows = own_rows;
		backends.n_rows = 1;
		return own_rows ? 0 : -1;
	}
	if (h->n_servers != backends.n_servers || row >= h->n_rows)
		return -1;
	backends.health = (const struct shm_server *)((const char *)area +
	                                              h->servers_off);
	backends.rows = (const struct shm_server_row *)((const char *)area +
	                                                h->rows_off);
	backends.row = (struct shm_server_row *)((char *)area + h->rows_off) +
	               (size_t)row * h->n_servers;
	backends.n_rows = h->n_rows;
	return 0;
}

int
backend_init(const struct config *cfg, void *area, unsigned row)
{
	const struct config_timeouts *t = &cfg->timeouts;
	unsigned i;

	memset(&backends, 0, sizeof(backends));
	backends.n_backends = cfg->n_backends;
	backends.n_servers = cfg->n_servers;
	backends.rng =
	        (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ clock_unix_ms();
	if (cfg->n_backends == 0)
		return 0;
	backends.b = calloc(cfg->n_backends, sizeof(*backends.b));
	backends.sv = calloc(cfg->n_servers, sizeof(*backends.sv));
	if (!backends.b || !backends.sv || attach_area(area, row) < 0) {
		log_error("backends: cannot set up (out of memory, or the "
		          "backends area does not match the configuration)");
		return -1;
	}
	for (i = 0; i < cfg->n_servers; i++)
		backends.sv[i].cfg = &cfg->servers[i];
	for (i = 0; i < cfg->n_backends; i++) {
		struct backend_rt *b = &backends.b[i];

		b->cfg = &cfg->backends[i];
		event_queue_init(&b->q_connect,
		                 b->cfg->connect_timeout
		                         ? b->cfg->connect_timeout
		                         : t->connect);
		event_queue_init(&b->q_response,
		                 b->cfg->response_timeout
		                         ? b->cfg->response_timeout
		                         : t->upstream_response);
		if (b->cfg->balance == BALANCE_HASH &&
		    backend_ring_build(b) < 0) {
			log_error("backends: out of memory");
			return -1;
		}
	}
	return 0;
}

void
backend_fini(void)
{
	unsigned i;

	for (i = 0; i < backends.n_backends; i++)
		free(backends.b[i].ring);
	free(backends.b);
	free(backends.sv);
	free(own_rows);
	own_rows = NULL;
	memset(&backends, 0, sizeof(backends));
}

/* This worker's own requests failed `fall` times in a row since the
 * checker last changed the server's state. */
static int
failing_here(unsigned i)
{
	const struct config_backend *b =
	        backends.b[backends.sv[i].cfg->backend].cfg;
	uint64_t since = backends.health ? backends.health[i].last_change : 0;

	return shm_row_failing(&backends.row[i], b->fall, since);
}

int
backend_usable(unsigned i)
{
	const struct backend_server_rt *sv = &backends.sv[i];

	if (backends.health &&
	    __atomic_load_n(&backends.health[i].state, __ATOMIC_RELAXED) !=
	            SHM_SERVER_UP)
		return 0;
	if (sv->cfg->max_conns && sv->active >= sv->cfg->max_conns)
		return 0;
	return !failing_here(i);
}

void
backend_attach(struct session *s)
{
	struct backend_server_rt *sv = &backends.sv[s->server];

	sv->active++;
	row_set(&backends.row[s->server].active, sv->active);
	row_add(&backends.row[s->server].requests, 1);
	s->on_server = 1;
	s->tried[s->server / 8] |= (uint8_t)(1u << (s->server % 8));
	s->attempts++;
}

void
backend_detach(struct session *s)
{
	struct backend_server_rt *sv;

	if (!s->on_server)
		return;
	sv = &backends.sv[s->server];
	sv->active--;
	row_set(&backends.row[s->server].active, sv->active);
	s->on_server = 0;
}

void
backend_success(struct session *s)
{
	if (s->server >= 0 && backends.row[s->server].fail_streak)
		row_set(&backends.row[s->server].fail_streak, 0);
}

void
backend_failure(struct session *s)
{
	struct shm_server_row *r;

	if (s->server < 0)
		return;
	r = &backends.row[s->server];
	row_add(&r->failures, 1);
	row_add(&r->fail_streak, 1);
	row_set(&r->last_fail, clock_unix_ms());
}

void
backend_retry(struct session *s)
{
	row_add(&backends.row[s->server].retries, 1);
}

struct event_timer_queue *
backend_connect_queue(const struct session *s)
{
	return s->backend >= 0 ? &backends.b[s->backend].q_connect
	                       : &worker.q_connect;
}

struct event_timer_queue *
backend_response_queue(const struct session *s)
{
	return s->backend >= 0 ? &backends.b[s->backend].q_response
	                       : &worker.q_upstream_response;
}
