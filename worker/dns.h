/*
 * Asynchronous name resolution for a worker: c-ares driven by the worker's
 * epoll loop, with a per-worker cache that honours TTLs.  IP literals are
 * answered without a query.
 */
#ifndef WORKER_DNS_H
#define WORKER_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS 8

/* The answer: addresses to try in order (IPv4 and IPv6 mixed as the
 * resolver returned them), each with the port filled in. */
struct dns_addrs {
	unsigned n;
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	socklen_t len[DNS_MAX_ADDRS];
};

struct dns_query;

/* status 0 with addrs, or -1 (addrs NULL) when the name does not resolve;
 * err is a short reason for the log ("NXDOMAIN", "timeout", ...). */
typedef void dns_done_fn(void *arg, int status, const struct dns_addrs *addrs,
                         const char *err);

/* resolver: "" for /etc/resolv.conf and /etc/hosts, else "IP[:PORT]" or
 * "[IPv6]:PORT".  0, or -1 with err set.  Needs event_init() first. */
int dns_init(const char *resolver, char *err, size_t errlen);
/* Pending done() callbacks never run after it; callable from one. */
void dns_fini(void);

/* c-ares' per-try timeout and tries for the next dns_init (default
 * 2000 ms, 2 tries; a try waits longer each round); tests shorten them. */
void dns_set_timeout(unsigned ms, unsigned tries);

/* Resolves host (NUL-terminated; name, IPv4 or IPv6 literal without
 * brackets) for port.  Answers from the cache or literals call done()
 * before dns_resolve returns and it returns NULL; otherwise it returns a
 * handle and done() runs later from the event loop, exactly once, unless
 * dns_cancel(handle) is called first. */
struct dns_query *dns_resolve(const char *host, uint16_t port,
                              dns_done_fn *done, void *arg);
void dns_cancel(struct dns_query *q);

#endif
