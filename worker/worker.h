/*
 * A worker process: what it inherits from the master, and the state its
 * modules share (config, limits, timer queues).
 */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "common/config-t.h"
#include "worker/event-t.h"
#include "worker/http_parse.h"

/* Everything that crosses fork from master to worker (cf. Varnish's
 * heritage): one place says what a worker inherits. */
struct tls_set;

struct worker_heritage {
	const struct config *cfg;
	const struct rules *rules; /* NULL: none configured */
	const int *listen_fds;     /* one per cfg->listens[i] */
	unsigned slot;             /* index of this worker's counters */
	unsigned generation;       /* config generation */
	uint64_t *stats;           /* this worker's counter slot */
	uint64_t *heartbeat;       /* unix ms, in this worker's slot */
	uint64_t *rule_hits;       /* its row in the rules area, or NULL */
	void *backends_area;       /* shm/backends.h; NULL: no backends */
	unsigned backend_row;      /* its row of server counters there */
	const struct tls_set *tls; /* TLS contexts (tls/tls.h); NULL */
	const void *shm_base;      /* the whole segment, for [admin] */
	size_t shm_size;
	pid_t master_pid;
	uid_t uid; /* to switch to when root; 0 = stay */
	gid_t gid;
};

struct worker_state {
	const struct config *cfg;
	struct http_limits limits;
	struct event_timer_queue q_client_header;
	struct event_timer_queue q_client_idle;
	struct event_timer_queue q_connect;
	struct event_timer_queue q_upstream_response;
	struct event_timer_queue q_upstream_idle;
	struct event_timer_queue q_tunnel_idle;
	struct event_timer_queue q_linger;
	struct event_timer_queue q_sni_wait;
	char via[300]; /* "1.1 HOST (proxyd)": Via value */
	size_t via_len;
	const struct rules *rules; /* NULL: none configured */
	struct rules_scratch *rules_scratch;
	uint64_t *rule_hits; /* per rule, this worker's */
	int own_hits;        /* rule_hits is ours to free */
	int rules_need_sni;  /* some decision waits for the SNI */
	unsigned sessions;   /* open client connections */
	int draining;
};

extern struct worker_state worker;

/* Runs the worker until it is told to stop; never returns. */
void worker_main(const struct worker_heritage *h) __attribute__((noreturn));
/* A session closed: the worker may resume accepting or finish draining. */
void worker_session_closed(void);

#endif
