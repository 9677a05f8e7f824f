/*
 * Types of the worker's event loop: registered descriptors and timers.
 */
#ifndef WORKER_EVENT_T_H
#define WORKER_EVENT_T_H

#include <stdint.h>

struct event_io;
struct event_timer;

typedef void event_io_fn(struct event_io *io, uint32_t events);
typedef void event_timer_fn(struct event_timer *t);

/* A descriptor in the epoll set (edge-triggered unless added otherwise). */
struct event_io {
	int fd;
	uint32_t events; /* as registered */
	event_io_fn *cb;
	void *data;
};

/* Timers of one duration live in one queue, which stays sorted because
 * every timer appended has the latest expiry: start, restart and stop are
 * O(1).  The loop's "misc" queue takes timers of any duration, sorted on
 * insertion; it holds only a few (DNS, log flush). */
struct event_timer {
	struct event_timer *prev;
	struct event_timer *next;
	struct event_timer_queue *queue; /* NULL when not armed */
	uint64_t expires;                /* ms, monotonic */
	event_timer_fn *cb;
	void *data;
};

struct event_timer_queue {
	struct event_timer head; /* sentinel of a circular list */
	uint64_t duration;       /* ms; 0 for the misc queue */
	struct event_timer_queue *next_queue;
};

#endif
