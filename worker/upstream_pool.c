/*
 * The upstream keep-alive pool.  An idle connection is watched for input:
 * an origin that closes it (or sends anything unasked) gets it dropped.
 * Entries are recycled, never freed while the loop runs, so a stale event
 * for a reused entry only meets a harmless check.  A connection stays in
 * the epoll set while it moves between a session and the pool: each move
 * re-points its registration with one EPOLL_CTL_MOD (closing it is what
 * removes it).
 *
 * Connections are grouped by key (origin, or backend server) in a small
 * hash table, most recently used first, so taking one is a lookup, not a
 * scan, and each key can be held to its own bound (a backend's
 * keepalive); one list across all keys, least recently used last, holds
 * the whole pool to POOL_MAX.
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
#include "worker/session.h"
#include "worker/worker.h"

#define POOL_MAX 1024
#define POOL_BUCKETS 256 /* power of two */

struct pool_key;

struct pooled {
	struct event_io io;
	struct event_timer timer;
	struct sockaddr_storage addr; /* the peer, for the next user */
	struct pooled *prev;          /* all idle: most recent first */
	struct pooled *next;
	struct pooled *kprev; /* this key's: most recent first */
	struct pooled *knext;
	struct pool_key *key;
	SSL *ssl;    /* a TLS connection's state, or NULL */
	int evented; /* epoll said something since it was pooled */
};

/* The idle connections of one key; kept while the worker runs (a
 * worker talks to a bounded set of origins between restarts, and an
 * empty key costs a few hundred bytes). */
struct pool_key {
	struct pool_key *chain;
	struct pooled *head;
	unsigned count;
	char name[SESSION_HOST_MAX + 16];
};

static struct pooled *idle_head; /* most recently used first */
static struct pooled *idle_tail;
static struct pooled *spare;
static unsigned idle_count;
static struct pool_key *buckets[POOL_BUCKETS];
static unsigned n_keys;

static unsigned
bucket_of(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h & (POOL_BUCKETS - 1);
}

static struct pool_key *
find_key(const char *name, int create)
{
	unsigned b = bucket_of(name);
	struct pool_key *k;

	for (k = buckets[b]; k; k = k->chain)
		if (strcmp(k->name, name) == 0)
			return k;
	/* a bound on keys too: each costs memory for the worker's life */
	if (!create || n_keys >= 4 * POOL_MAX || !(k = calloc(1, sizeof(*k))))
		return NULL;
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->chain = buckets[b];
	buckets[b] = k;
	n_keys++;
	return k;
}

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
	if (p->kprev)
		p->kprev->knext = p->knext;
	else
		p->key->head = p->knext;
	if (p->knext)
		p->knext->kprev = p->kprev;
	p->key->count--;
	idle_count--;
}

/* Detach p from the pool; returns its fd (still open, still in the
 * epoll set: its next owner re-points it, or closing removes it) and
 * gives its TLS state to *ssl (NULL: freed with a close_notify). */
static int
drop_entry(struct pooled *p, SSL **ssl)
{
	int fd = p->io.fd;

	if (ssl)
		*ssl = p->ssl;
	else if (p->ssl) {
		(void)SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
	}
	p->ssl = NULL;
	unlink_entry(p);
	event_timer_stop(&p->timer);
	p->io.fd = -1;
	p->next = spare;
	spare = p;
	return fd;
}

/* Still usable: no EOF, no unexpected bytes, no error pending. */
static int
alive(int fd, SSL *ssl)
{
	char c;
	ssize_t n;

	if (ssl)
		return tls_alive(ssl);
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
on_idle_io(struct event_io *io, uint32_t ev)
{
	struct pooled *p = io->data;

	(void)ev;
	if (io->fd >= 0)
		p->evented = 1;
	if (io->fd < 0 || alive(io->fd, p->ssl))
		return;
	close(drop_entry(p, NULL));
}

static void
on_idle_timeout(struct event_timer *t)
{
	close(drop_entry(t->data, NULL));
}

void
upstream_pool_init(void)
{
	idle_head = idle_tail = spare = NULL;
	idle_count = n_keys = 0;
	memset(buckets, 0, sizeof(buckets));
}

void
upstream_pool_fini(void)
{
	struct pooled *p;
	struct pool_key *k;
	unsigned b;

	while (idle_head)
		close(drop_entry(idle_head, NULL));
	while ((p = spare) != NULL) {
		spare = p->next;
		free(p);
	}
	for (b = 0; b < POOL_BUCKETS; b++)
		while ((k = buckets[b]) != NULL) {
			buckets[b] = k->chain;
			free(k);
		}
	n_keys = 0;
}

int
upstream_pool_take(const char *key, struct sockaddr_storage *addr, SSL **ssl)
{
	struct pool_key *k = find_key(key, 0);
	int fd;

	while (k && k->head) {
		/* quiet since pooled: an origin's close would have been an
		 * event, so no recv is spent to ask */
		int quiet = !k->head->evented;

		*addr = k->head->addr;
		fd = drop_entry(k->head, ssl);
		if (quiet || alive(fd, *ssl))
			return fd;
		if (*ssl)
			SSL_free(*ssl);
		*ssl = NULL;
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

static void
link_entry(struct pooled *p, struct pool_key *k)
{
	p->key = k;
	p->prev = NULL;
	p->next = idle_head;
	if (idle_head)
		idle_head->prev = p;
	idle_head = p;
	if (!idle_tail)
		idle_tail = p;
	p->kprev = NULL;
	p->knext = k->head;
	if (k->head)
		k->head->kprev = p;
	k->head = p;
	k->count++;
	idle_count++;
}

/* The least recently used connection of key k. */
static struct pooled *
oldest_of(struct pool_key *k)
{
	struct pooled *p = k->head;

	while (p && p->knext)
		p = p->knext;
	return p;
}

/* A connection that is not kept. */
static void
discard(int fd, SSL *ssl)
{
	if (ssl) {
		(void)SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
}

void
upstream_pool_put(const char *key, int fd, const struct sockaddr_storage *addr,
                  SSL *ssl, unsigned max_idle)
{
	struct pool_key *k = find_key(key, 1);
	struct pooled *p;

	if (!k || max_idle == 0) {
		discard(fd, ssl);
		return;
	}
	if (k->count >= max_idle)
		close(drop_entry(oldest_of(k), NULL));
	else if (idle_count >= POOL_MAX)
		close(drop_entry(idle_tail, NULL));
	if (!(p = new_entry())) {
		discard(fd, ssl);
		return;
	}
	p->ssl = ssl;
	p->evented = 0;
	p->addr = *addr;
	p->io.fd = fd;
	p->io.cb = on_idle_io;
	p->io.data = p;
	p->io.events = 0; /* registered by the session: re-point it */
	if (event_mod(&p->io, EPOLLIN | EPOLLRDHUP) < 0) {
		p->io.fd = -1;
		p->ssl = NULL;
		p->next = spare;
		spare = p;
		discard(fd, ssl);
		return;
	}
	event_timer_init(&p->timer, on_idle_timeout, p);
	event_timer_start(&p->timer, &worker.q_upstream_idle);
	link_entry(p, k);
}
