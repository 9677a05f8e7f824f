/*
 * The worker's event loop: one epoll set, timer queues, a cached clock.
 */
#ifndef WORKER_EVENT_H
#define WORKER_EVENT_H

#include <signal.h>

#include "worker/event-t.h"

/* 0 or -1 (errno set). */
int event_init(void);
void event_fini(void);

/* Register io->fd for events (EPOLLIN, EPOLLOUT, EPOLLET, ...). */
int event_add(struct event_io *io, uint32_t events);
int event_mod(struct event_io *io, uint32_t events);
void event_del(struct event_io *io);

/* Milliseconds on the monotonic clock, refreshed once per loop turn. */
uint64_t event_now(void);
void event_update_time(void);

/* A queue of timers of one duration (ms); registered with the loop. */
void event_queue_init(struct event_timer_queue *q, uint64_t duration);
void event_timer_init(struct event_timer *t, event_timer_fn *cb, void *data);
/* (Re)arms t to fire after q->duration. */
void event_timer_start(struct event_timer *t, struct event_timer_queue *q);
/* (Re)arms t to fire after ms, on the misc queue. */
void event_timer_after(struct event_timer *t, uint64_t ms);
void event_timer_stop(struct event_timer *t);
static inline int
event_timer_armed(const struct event_timer *t)
{
	return t->queue != 0;
}

/* Waits for events (signals in sigmask unblocked meanwhile), dispatches
 * them, then fires due timers.  Returns 0, or -1 on a fatal epoll error. */
int event_run_once(const sigset_t *sigmask);

#endif
