/*
 * The worker's view of the reverse-proxy backends: which server a request
 * goes to (worker/balance.c), whether a server may take it (health from
 * the checker, failures seen by requests, max_conns), and the per-server
 * counters this worker keeps in its row of the backends area.
 */
#ifndef WORKER_BACKEND_H
#define WORKER_BACKEND_H

#include <stdint.h>

#include "common/config-t.h"
#include "shm/shm-t.h"
#include "worker/event-t.h"

struct session;

/* One backend as this worker runs it. */
struct backend_rt {
	const struct config_backend *cfg;
	struct event_timer_queue q_connect;
	struct event_timer_queue q_response;
	uint64_t *ring; /* hash: sorted (point << 16 | server) */
	unsigned ring_len;
	unsigned rr_next; /* leastconn / random tie-breaking */
};

/* One server as this worker runs it. */
struct backend_server_rt {
	const struct config_server *cfg;
	unsigned active; /* this worker's requests on it now */
	int rr_current;  /* smooth weighted round robin */
};

struct backend_state {
	struct backend_rt *b;
	struct backend_server_rt *sv;
	unsigned n_backends;
	unsigned n_servers;
	const struct shm_server *health;   /* NULL: no area (tests) */
	struct shm_server_row *row;        /* this worker's counters */
	const struct shm_server_row *rows; /* every worker's */
	unsigned n_rows;
	uint64_t rng;
};

extern struct backend_state backends;

/* area: the backends area's base (NULL without backends); row: this
 * worker's row in it.  0, or -1 (out of memory, logged). */
int backend_init(const struct config *cfg, void *area, unsigned row);
void backend_fini(void);

/* May server i take one more request from this worker? */
int backend_usable(unsigned i);
/* A server of the session's backend it has not tried yet, by the
 * backend's balance; hash is the request's key for balance = hash.
 * -1: none usable. */
int backend_pick(struct session *s, uint64_t hash);

/* The request is on server s->server now / no longer. */
void backend_attach(struct session *s);
void backend_detach(struct session *s);
/* It answered / it failed (connect error, timeout, closed unanswered). */
void backend_success(struct session *s);
void backend_failure(struct session *s);
/* The request moves from its server to another. */
void backend_retry(struct session *s);

struct event_timer_queue *backend_connect_queue(const struct session *s);
struct event_timer_queue *backend_response_queue(const struct session *s);

/* balance.c: the consistent-hash ring of a backend.  0 or -1. */
int backend_ring_build(struct backend_rt *b);

/* 64-bit FNV-1a, for hash keys and ring points. */
uint64_t backend_hash(const void *data, size_t len, uint64_t seed);

#endif
