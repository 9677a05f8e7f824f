/*
 * The worker's asynchronous resolver: one c-ares channel whose sockets sit
 * in the worker's epoll set and whose timeouts ride one loop timer.
 * Concurrent requests for a name share one lookup, and answers fill the
 * cache (worker/dns_cache.c).
 *
 * c-ares sockets are level-triggered: c-ares does not promise to drain a
 * socket, so an edge could be lost.  Completions are not handed to callers
 * from inside c-ares: they are queued and delivered from a zero-delay timer,
 * which the loop fires after the epoll batch, so a caller may resolve,
 * cancel or close anything from its callback, and socket records c-ares
 * dropped are freed only once no event of that batch can still name them.
 */
#include "worker/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"
#include "worker/dns_cache.h"
#include "worker/event.h"
#include "worker/stats.h"

#define TTL_MIN 1         /* s: a 0 TTL still absorbs a burst */
#define TTL_MAX 300       /* s: bounds how long a moved name stays stale */
#define NEGATIVE_TTL 5000 /* ms, for NXDOMAIN and no-address answers */
#define INFLIGHT_BUCKETS 256

/* A caller waiting for a name: the handle dns_resolve returns. */
struct dns_query {
	struct dns_query *prev;
	struct dns_query *next;
	dns_done_fn *done;
	void *arg;
	uint16_t port;
};

/* One c-ares lookup of a name, shared by all its waiters. */
struct lookup {
	struct lookup *hnext;     /* in-flight table */
	struct lookup *cnext;     /* completed queue */
	struct dns_query waiters; /* list head */
	int finished;
	int status; /* 0 or -1, once finished */
	const char *err;
	struct dns_addrs addrs; /* ports 0 */
	char name[DNS_NAME_MAX + 1];
};

/* A c-ares socket in the epoll set. */
struct sock {
	struct event_io io;
	struct sock *next;
	int dead; /* closed by c-ares; freed after the batch */
};

static int started;
static ares_channel channel;
static unsigned timeout_ms = 2000, tries = 2;
static struct event_timer ares_timer; /* c-ares' next timeout */
static struct event_timer later;      /* completions, dead sockets */
static struct sock *socks, *graves;
static struct lookup *inflight[INFLIGHT_BUCKETS];
static struct lookup *done_head, **done_tail = &done_head;
static struct lookup *submitting; /* inside ares_getaddrinfo */
static int destroying;            /* inside ares_destroy */

static void
defer(void)
{
	if (!event_timer_armed(&later))
		event_timer_after(&later, 0);
}

static void
rearm(void)
{
	struct timeval tv, *next;
	uint64_t ms;

	next = ares_timeout(channel, NULL, &tv);
	if (!next) {
		event_timer_stop(&ares_timer);
		return;
	}
	ms = (uint64_t)next->tv_sec * 1000 +
	     ((uint64_t)next->tv_usec + 999) / 1000;
	event_timer_after(&ares_timer, ms ? ms : 1);
}

static void
on_timeout(struct event_timer *t)
{
	(void)t;
	ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm();
}

static void
on_io(struct event_io *io, uint32_t events)
{
	struct sock *s = io->data;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (s->dead)
		return;
	/* An error shows up on whichever direction c-ares reads it from. */
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		rfd = io->fd;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		wfd = io->fd;
	ares_process_fd(channel, rfd, wfd);
	rearm();
}

static struct sock *
find_sock(ares_socket_t fd)
{
	struct sock *s;

	for (s = socks; s && s->io.fd != fd; s = s->next)
		;
	return s;
}

static void
add_sock(ares_socket_t fd, uint32_t events)
{
	struct sock *s = calloc(1, sizeof(*s));

	if (!s) {
		log_error("dns: out of memory watching a resolver socket");
		return; /* its queries will time out */
	}
	s->io.fd = fd;
	s->io.cb = on_io;
	s->io.data = s;
	if (event_add(&s->io, events) < 0) {
		log_error("dns: epoll add: %s", strerror(errno));
		free(s);
		return;
	}
	s->next = socks;
	socks = s;
}

/* The batch being dispatched may still hold an event for s. */
static void
bury(struct sock *s)
{
	struct sock **p = &socks;

	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	event_del(&s->io);
	s->dead = 1;
	s->next = graves;
	graves = s;
	defer();
}

static void
on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct sock *s = find_sock(fd);
	uint32_t events = 0;

	(void)data;
	if (readable)
		events |= EPOLLIN;
	if (writable)
		events |= EPOLLOUT;
	if (!events) {
		if (s)
			bury(s);
	} else if (!s) {
		add_sock(fd, events);
	} else if (event_mod(&s->io, events) < 0) {
		log_error("dns: epoll mod: %s", strerror(errno));
	}
}

static void
reap(void)
{
	struct sock *s;

	while ((s = graves)) {
		graves = s->next;
		free(s);
	}
}

static struct lookup **
inflight_slot(const char *name)
{
	struct lookup **p;

	p = &inflight[dns_cache_hash(name) % INFLIGHT_BUCKETS];
	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->hnext;
	return p;
}

static void
inflight_remove(struct lookup *l)
{
	struct lookup **p;

	p = &inflight[dns_cache_hash(l->name) % INFLIGHT_BUCKETS];
	while (*p && *p != l)
		p = &(*p)->hnext;
	if (*p)
		*p = l->hnext;
}

static void
attach(struct lookup *l, struct dns_query *q)
{
	q->next = &l->waiters;
	q->prev = l->waiters.prev;
	l->waiters.prev->next = q;
	l->waiters.prev = q;
}

static void
detach(struct dns_query *q)
{
	q->prev->next = q->next;
	q->next->prev = q->prev;
}

static void
free_lookup(struct lookup *l)
{
	struct dns_query *q;

	while ((q = l->waiters.next) != &l->waiters) {
		detach(q);
		free(q);
	}
	free(l);
}

static int
known(const struct dns_addrs *a, const struct sockaddr *sa)
{
	const struct sockaddr_in *x4, *y4;
	const struct sockaddr_in6 *x6, *y6;
	unsigned i;

	for (i = 0; i < a->n; i++) {
		if (a->addr[i].ss_family != sa->sa_family)
			continue;
		x4 = (const struct sockaddr_in *)&a->addr[i];
		y4 = (const struct sockaddr_in *)sa;
		x6 = (const struct sockaddr_in6 *)&a->addr[i];
		y6 = (const struct sockaddr_in6 *)sa;
		if (sa->sa_family == AF_INET
		            ? x4->sin_addr.s_addr == y4->sin_addr.s_addr
		            : !memcmp(&x6->sin6_addr, &y6->sin6_addr, 16))
			return 1;
	}
	return 0;
}

static void
add_addr(struct dns_addrs *a, const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	if (a->n == DNS_MAX_ADDRS || len > sizeof(a->addr[0]) || known(a, sa))
		return;
	memcpy(&a->addr[a->n], sa, len);
	a->len[a->n++] = len;
}

/* Fills a from res in c-ares' order; returns the TTL to cache it for
 * (ms): the shortest in the answer, CNAMEs included, clamped. */
static uint64_t
collect(struct dns_addrs *a, const struct ares_addrinfo *res)
{
	const struct ares_addrinfo_node *n;
	const struct ares_addrinfo_cname *c;
	int ttl = TTL_MAX;

	for (c = res->cnames; c; c = c->next)
		if (c->ttl < ttl)
			ttl = c->ttl;
	for (n = res->nodes; n; n = n->ai_next) {
		if (n->ai_ttl < ttl)
			ttl = n->ai_ttl;
		add_addr(a, n->ai_addr, (socklen_t)n->ai_addrlen);
	}
	if (ttl < TTL_MIN)
		ttl = TTL_MIN;
	return (uint64_t)ttl * 1000;
}

static const char *
reason(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "no address";
	case ARES_ETIMEOUT:
		return "timeout";
	default:
		return ares_strerror(status);
	}
}

static void
finish(struct lookup *l, int status, const struct ares_addrinfo *res)
{
	uint64_t ttl = 0;

	l->finished = 1;
	if (status == ARES_SUCCESS && res)
		ttl = collect(&l->addrs, res);
	if (l->addrs.n) {
		l->status = 0;
		dns_cache_put(l->name, &l->addrs, NULL, ttl, event_now());
		log_debug("dns: %s: %u address(es), ttl %llus", l->name,
		          l->addrs.n, (unsigned long long)ttl / 1000);
		return;
	}
	l->status = -1;
	l->err = status == ARES_SUCCESS ? "no address" : reason(status);
	STATS_INC(dns_failures);
	log_debug("dns: %s: %s", l->name, l->err);
	/* Only a definite "no such name" is remembered; a timeout or a
	 * server failure is worth asking again at once. */
	if (status == ARES_SUCCESS || status == ARES_ENOTFOUND ||
	    status == ARES_ENODATA)
		dns_cache_put(l->name, NULL, l->err, NEGATIVE_TTL, event_now());
}

static void
on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct lookup *l = arg;

	(void)timeouts;
	inflight_remove(l);
	if (destroying) {
		/* dns_fini: whatever the status, nobody may be called. */
		if (res)
			ares_freeaddrinfo(res);
		free_lookup(l);
		return;
	}
	finish(l, status, res);
	if (res)
		ares_freeaddrinfo(res);
	if (l == submitting)
		return; /* dns_resolve answers it at once */
	*done_tail = l;
	done_tail = &l->cnext;
	defer();
}

static void
with_port(struct dns_addrs *out, const struct dns_addrs *in, uint16_t port)
{
	unsigned i;

	*out = *in;
	for (i = 0; i < out->n; i++) {
		if (out->addr[i].ss_family == AF_INET)
			((struct sockaddr_in *)&out->addr[i])->sin_port =
			        htons(port);
		else
			((struct sockaddr_in6 *)&out->addr[i])->sin6_port =
			        htons(port);
	}
}

/* Calls every waiter of a finished lookup, then frees it.  A callback may
 * call dns_fini: the rest are then dropped unanswered. */
static void
dispatch(struct lookup *l)
{
	struct dns_addrs addrs;
	struct dns_query *q;
	dns_done_fn *done;
	void *arg;

	while (channel && (q = l->waiters.next) != &l->waiters) {
		detach(q);
		done = q->done;
		arg = q->arg;
		if (l->status == 0) {
			with_port(&addrs, &l->addrs, q->port);
			free(q);
			done(arg, 0, &addrs, NULL);
		} else {
			free(q);
			done(arg, -1, NULL, l->err);
		}
	}
	free_lookup(l);
}

static void
on_later(struct event_timer *t)
{
	struct lookup *l;

	(void)t;
	reap();
	while (channel && (l = done_head)) {
		done_head = l->cnext;
		if (!done_head)
			done_tail = &done_head;
		dispatch(l);
	}
}

static int
literal(const char *host, uint16_t port, struct dns_addrs *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr[0];

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len[0] = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len[0] = sizeof(*sin6);
	} else {
		return 0;
	}
	out->n = 1;
	return 1;
}

static int
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Writes host lower-cased, less one final dot, into key (DNS_NAME_MAX + 1
 * bytes).  Letters, digits, '-' and the '_' real zones use; labels of
 * 1-63 bytes.  A numeric last label is refused: no TLD is numeric, and
 * c-ares would read "0177.0.0.1" the way inet_aton() does. */
static int
normalize(const char *host, char *key)
{
	size_t len = strnlen(host, DNS_NAME_MAX + 2), i, label = 0;
	int digits = 1;

	if (len && host[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (host[i] == '.') {
			if (label == 0)
				return -1;
			label = 0;
			digits = 1;
		} else if (!name_char((unsigned char)host[i]) || ++label > 63) {
			return -1;
		} else if (host[i] < '0' || host[i] > '9') {
			digits = 0;
		}
		key[i] = host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32
		                                          : host[i];
	}
	key[len] = '\0';
	return label == 0 || digits ? -1 : 0;
}

static struct dns_query *
fail(dns_done_fn *done, void *arg, const char *err)
{
	done(arg, -1, NULL, err);
	return NULL;
}

static int
from_cache(const char *key, uint16_t port, dns_done_fn *done, void *arg)
{
	struct dns_addrs addrs;
	const char *err = NULL;

	switch (dns_cache_get(key, port, event_now(), &addrs, &err)) {
	case DNS_CACHE_HIT:
		STATS_INC(dns_cache_hits);
		done(arg, 0, &addrs, NULL);
		return 1;
	case DNS_CACHE_NEGATIVE:
		STATS_INC(dns_cache_hits);
		done(arg, -1, NULL, err);
		return 1;
	case DNS_CACHE_MISS:
		break;
	}
	return 0;
}

/* Starts a lookup for q's name in *slot of the in-flight table. */
static struct dns_query *
submit(struct lookup **slot, const char *key, struct dns_query *q)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l) {
		fail(q->done, q->arg, "out of memory");
		free(q);
		return NULL;
	}
	memcpy(l->name, key, strlen(key) + 1);
	l->waiters.next = l->waiters.prev = &l->waiters;
	attach(l, q);
	*slot = l;
	STATS_INC(dns_lookups);
	submitting = l;
	ares_getaddrinfo(channel, l->name, NULL, &hints, on_answer, l);
	submitting = NULL;
	rearm();
	if (!l->finished)
		return q;
	dispatch(l); /* answered at once: /etc/hosts, or an error */
	return NULL;
}

struct dns_query *
dns_resolve(const char *host, uint16_t port, dns_done_fn *done, void *arg)
{
	char key[DNS_NAME_MAX + 1];
	struct dns_addrs addrs;
	struct dns_query *q;
	struct lookup **slot;

	if (literal(host, port, &addrs)) {
		done(arg, 0, &addrs, NULL);
		return NULL;
	}
	if (normalize(host, key) < 0)
		return fail(done, arg, "bad host name");
	if (from_cache(key, port, done, arg))
		return NULL;
	if (!channel)
		return fail(done, arg, "resolver not started");
	q = calloc(1, sizeof(*q));
	if (!q)
		return fail(done, arg, "out of memory");
	q->done = done;
	q->arg = arg;
	q->port = port;
	slot = inflight_slot(key);
	if (!*slot)
		return submit(slot, key, q);
	attach(*slot, q);
	return q;
}

/* The lookup itself runs on: its answer still fills the cache. */
void
dns_cancel(struct dns_query *q)
{
	if (!q)
		return;
	detach(q);
	free(q);
}

void
dns_set_timeout(unsigned ms, unsigned n)
{
	timeout_ms = ms ? ms : 1;
	tries = n ? n : 1;
}

static long
parse_port(const char *s)
{
	long p = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		p = p * 10 + (*s - '0');
	}
	return p >= 1 && p <= 65535 ? p : -1;
}

/* Copies the address part of spec into host; returns what follows it
 * ("" or ":PORT"), or NULL. */
static const char *
split_host(const char *spec, char *host, size_t size, int *v6)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *end, *rest;

	*v6 = 1;
	if (spec[0] == '[') {
		end = strchr(++spec, ']');
		if (!end)
			return NULL;
		rest = end + 1;
	} else if (inet_pton(AF_INET6, spec, buf) == 1) {
		rest = end = spec + strlen(spec);
	} else {
		*v6 = 0;
		rest = end = spec + strcspn(spec, ":");
	}
	if ((size_t)(end - spec) >= size)
		return NULL;
	memcpy(host, spec, (size_t)(end - spec));
	host[end - spec] = '\0';
	return rest;
}

/* "IP", "IP:PORT", "IPv6", "[IPv6]" or "[IPv6]:PORT" to c-ares' form. */
static int
server_csv(const char *spec, char *csv, size_t size, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *rest;
	long port = 53;
	int v6;

	rest = split_host(spec, host, sizeof(host), &v6);
	if (!rest || inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1 ||
	    (*rest && (*rest != ':' || (port = parse_port(rest + 1)) < 0))) {
		snprintf(err, errlen,
		         "resolver \"%s\": expected IP, IP:PORT or "
		         "[IPv6]:PORT",
		         spec);
		return -1;
	}
	if (v6)
		snprintf(csv, size, "[%s]:%ld", host, port);
	else
		snprintf(csv, size, "%s:%ld", host, port);
	return 0;
}

/* No search list (ndomains 0, NOSEARCH): a proxy resolves the names
 * clients send as they are, as nginx and Squid do; no HOSTALIASES
 * either, the environment must not redirect traffic. */
static int
open_channel(char *err, size_t errlen)
{
	struct ares_options o;
	int rc, mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB |
	               ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NOROTATE |
	               ARES_OPT_DOMAINS;

	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.sock_state_cb = on_sock_state;
	o.timeout = (int)timeout_ms;
	o.tries = (int)tries;
	o.domains = NULL;
	o.ndomains = 0;
	rc = ares_init_options(&channel, &o, mask);
	if (rc != ARES_SUCCESS) {
		channel = NULL;
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	return 0;
}

int
dns_init(const char *resolver, char *err, size_t errlen)
{
	char csv[INET6_ADDRSTRLEN + 16];
	int rc;

	if (started) {
		snprintf(err, errlen, "resolver already started");
		return -1;
	}
	if (resolver[0] &&
	    server_csv(resolver, csv, sizeof(csv), err, errlen) < 0)
		return -1;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	started = 1;
	event_timer_init(&ares_timer, on_timeout, NULL);
	event_timer_init(&later, on_later, NULL);
	if (dns_cache_init(DNS_CACHE_MAX) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (open_channel(err, errlen) < 0)
		goto fail;
	rc = resolver[0] ? ares_set_servers_ports_csv(channel, csv)
	                 : ARES_SUCCESS;
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver \"%s\": %s", resolver,
		         ares_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	dns_fini();
	return -1;
}

void
dns_fini(void)
{
	struct lookup *l;
	struct sock *s;

	if (!started)
		return;
	if (channel) {
		destroying = 1;
		ares_destroy(channel); /* on_answer frees each lookup */
		destroying = 0;
		channel = NULL;
	}
	while ((l = done_head)) {
		done_head = l->cnext;
		free_lookup(l);
	}
	done_tail = &done_head;
	while ((s = socks))
		bury(s);
	event_timer_stop(&ares_timer);
	event_timer_stop(&later);
	reap();
	dns_cache_fini();
	ares_library_cleanup();
	started = 0;
}
