/*
 * Worker event loop.  Descriptors are edge-triggered: a handler learns
 * readiness and keeps working until EAGAIN, so the loop never re-reports
 * the same bytes.  Timers live in per-duration queues (see event-t.h).
 */
#include "worker/event.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENT_BATCH 256

static int epfd = -1;
static uint64_t now_ms;
static struct event_timer_queue misc_queue;
static struct event_timer_queue *queues;

int
event_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	queues = NULL;
	event_queue_init(&misc_queue, 0);
	event_update_time();
	return 0;
}

void
event_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

int
event_add(struct event_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	io->events = events;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int
event_mod(struct event_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void
event_del(struct event_io *io)
{
	if (io->fd >= 0)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
}

uint64_t
event_now(void)
{
	return now_ms;
}

void
event_update_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
event_queue_init(struct event_timer_queue *q, uint64_t duration)
{
	q->head.prev = q->head.next = &q->head;
	q->head.queue = q;
	q->duration = duration;
	if (q != &misc_queue) {
		q->next_queue = queues;
		queues = q;
	}
}

void
event_timer_init(struct event_timer *t, event_timer_fn *cb, void *data)
{
	t->prev = t->next = NULL;
	t->queue = NULL;
	t->cb = cb;
	t->data = data;
}

static void
insert_before(struct event_timer *t, struct event_timer *at)
{
	t->next = at;
	t->prev = at->prev;
	at->prev->next = t;
	at->prev = t;
}

void
event_timer_stop(struct event_timer *t)
{
	if (!t->queue)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->queue = NULL;
}

void
event_timer_start(struct event_timer *t, struct event_timer_queue *q)
{
	event_timer_stop(t);
	t->expires = now_ms + q->duration;
	t->queue = q;
	insert_before(t, &q->head);
}

void
event_timer_after(struct event_timer *t, uint64_t ms)
{
	struct event_timer *at;

	event_timer_stop(t);
	t->expires = now_ms + ms;
	t->queue = &misc_queue;
	at = misc_queue.head.next;
	while (at != &misc_queue.head && at->expires <= t->expires)
		at = at->next;
	insert_before(t, at);
}

static uint64_t
earliest(void)
{
	struct event_timer_queue *q;
	uint64_t min = UINT64_MAX;

	if (misc_queue.head.next != &misc_queue.head)
		min = misc_queue.head.next->expires;
	for (q = queues; q; q = q->next_queue)
		if (q->head.next != &q->head && q->head.next->expires < min)
			min = q->head.next->expires;
	return min;
}

static int
fire_queue(struct event_timer_queue *q)
{
	struct event_timer *t;
	int fired = 0;

	while ((t = q->head.next) != &q->head && t->expires <= now_ms) {
		event_timer_stop(t);
		t->cb(t);
		fired = 1;
	}
	return fired;
}

static void
fire_timers(void)
{
	struct event_timer_queue *q;

	fire_queue(&misc_queue);
	for (q = queues; q; q = q->next_queue)
		fire_queue(q);
}

int
event_run_once(const sigset_t *sigmask)
{
	struct epoll_event evs[EVENT_BATCH];
	uint64_t next = earliest();
	int timeout, n, i;

	if (next == UINT64_MAX)
		timeout = 1000;
	else if (next <= now_ms)
		timeout = 0;
	else
		timeout = next - now_ms > 1000 ? 1000 : (int)(next - now_ms);
	n = epoll_pwait(epfd, evs, EVENT_BATCH, timeout, sigmask);
	if (n < 0 && errno != EINTR)
		return -1;
	event_update_time();
	for (i = 0; i < n; i++) {
		struct event_io *io = evs[i].data.ptr;

		io->cb(io, evs[i].events);
	}
	fire_timers();
	return 0;
}
