/*
 * A tiny authoritative DNS server for tests: UDP on 127.0.0.1, an ephemeral
 * port, A and AAAA answers from a table the test gives, NXDOMAIN for any
 * other name.  It runs in a forked child, killed when the thread that
 * started it exits, so it serves while the test's own loop blocks; a shared
 *counter tells how many queries it received and a switch makes it drop them
 *(for timeouts).
 *
 *	static const struct dnsd_name names[] = {
 *		{ "www.example.test", { "192.0.2.1", "2001:db8::1" }, 60 },
 *		{ NULL },
 *	};
 *	struct dnsd *d = dnsd_start(names);
 *	... resolver = "127.0.0.1:<d->port>" ...
 *	dnsd_stop(d);
 */
#ifndef TESTS_SUPPORT_DNSD_H
#define TESTS_SUPPORT_DNSD_H

#include <stdint.h>
#include <sys/types.h>

#define DNSD_MAX_ADDRS 8

struct dnsd_name {
	const char *name;                      /* matched case-blind */
	const char *addrs[DNSD_MAX_ADDRS + 1]; /* IPv4/IPv6 text; NULL ends */
	uint32_t ttl;                          /* seconds */
};

struct dnsd_shared;

struct dnsd {
	pid_t pid;
	uint16_t port; /* host order, on 127.0.0.1 */
	struct dnsd_shared *shared;
};

/* table ends with a NULL name and must outlive nothing (the child has its
 * copy).  Returns NULL (and says why on stderr) on failure. */
struct dnsd *dnsd_start(const struct dnsd_name *table);
/* Queries received so far, answered or not. */
unsigned dnsd_queries(const struct dnsd *d);
/* While on, queries are counted and dropped. */
void dnsd_set_silent(struct dnsd *d, int silent);
/* Kills the server and frees d (NULL is fine). */
void dnsd_stop(struct dnsd *d);

#endif
