/*
 * The upstream keep-alive pool.  An idle connection is watched for input:
 * an origin that closes it (or sends anything unasked) gets it dropped.
 * Entries are recycled, never freed while the loop runs, so a stale event
 * for a reused entry only meets a harmless check.  A connection stays in
 * the epoll set while it moves between a session and the pool: each move
 * re-points its registration with one EPOLL_CTL_MOD (closing it is what
 * removes it).
 */
#include "worker/upstream_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/event.h"
#include "worker/session-t.h"
#include "worker/worker.h"

#define POOL_MAX 1024

struct pooled {
	struct event_io io;
	struct event_timer timer;
	struct sockaddr_storage addr; /* the peer, for the next user */
	struct pooled *prev;
	struct pooled *next;
	char key[SESSION_HOST_MAX + 16];
};

static struct pooled *idle_head; /* most recently used first */
static struct pooled *idle_tail;
static struct pooled *spare;
static unsigned idle_count;

static void
unlink_entry(struct pooled *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		idle_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		idle_tail = p->prev;
	idle_count--;
}

/* Detach p from the pool; returns its fd (still open, still in the
 * epoll set: its next owner re-points it, or closing removes it). */
static int
drop_entry(struct pooled *p)
{
	int fd = p->io.fd;

	unlink_entry(p);
	event_timer_stop(&p->timer);
	p->io.fd = -1;
	p->next = spare;
	spare = p;
	return fd;
}

/* Still usable: no EOF, no unexpected bytes, no error pending. */
static int
alive(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
on_idle_io(struct event_io *io, uint32_t ev)
{
	struct pooled *p = io->data;

	(void)ev;
	if (io->fd < 0 || alive(io->fd))
		return;
	close(drop_entry(p));
}

static void
on_idle_timeout(struct event_timer *t)
{
	close(drop_entry(t->data));
}

void
upstream_pool_init(void)
{
	idle_head = idle_tail = spare = NULL;
	idle_count = 0;
}

void
upstream_pool_fini(void)
{
	struct pooled *p;

	while (idle_head)
		close(drop_entry(idle_head));
	while ((p = spare) != NULL) {
		spare = p->next;
		free(p);
	}
}

int
upstream_pool_take(const char *key, struct sockaddr_storage *addr)
{
	struct pooled *p, *next;
	int fd;

	for (p = idle_head; p; p = next) {
		next = p->next;
		if (strcmp(p->key, key) != 0)
			continue;
		*addr = p->addr;
		fd = drop_entry(p);
		if (alive(fd))
			return fd;
		close(fd);
	}
	return -1;
}

static struct pooled *
new_entry(void)
{
	struct pooled *p = spare;

	if (p) {
		spare = p->next;
		return p;
	}
	return calloc(1, sizeof(*p));
}

void
upstream_pool_put(const char *key, int fd, const struct sockaddr_storage *addr)
{
	struct pooled *p;

	if (idle_count >= POOL_MAX)
		close(drop_entry(idle_tail));
	if (!(p = new_entry())) {
		close(fd);
		return;
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->addr = *addr;
	p->io.fd = fd;
	p->io.cb = on_idle_io;
	p->io.data = p;
	p->io.events = 0; /* registered by the session: re-point it */
	if (event_mod(&p->io, EPOLLIN | EPOLLRDHUP) < 0) {
		p->io.fd = -1;
		p->next = spare;
		spare = p;
		close(fd);
		return;
	}
	event_timer_init(&p->timer, on_idle_timeout, p);
	event_timer_start(&p->timer, &worker.q_upstream_idle);
	p->prev = NULL;
	p->next = idle_head;
	if (idle_head)
		idle_head->prev = p;
	idle_head = p;
	if (!idle_tail)
		idle_tail = p;
	idle_count++;
}
