/*
 * Test DNS server (see dnsd.h).  The socket is bound before fork, so the
 * port is known and queries queue up even before the child runs.  The
 * counter and the silent switch live in a MAP_SHARED page; the child
 * bumps the counter before it replies, so a client that has its answer
 * always sees its query counted.  PR_SET_PDEATHSIG kills the child when
 * the test process dies, whatever way it dies.
 */
#include "tests/support/dnsd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DNSD_MSG_MAX 512
#define DNSD_HEADER 12
#define DNSD_TYPE_A 1
#define DNSD_TYPE_AAAA 28

struct dnsd_shared {
	unsigned queries;
	int silent;
};

/* The question's name, dotted, into name; returns the offset after the
 * question (name, type, class) or -1. */
static int
dnsd_question(const unsigned char *q, int n, char *name, size_t size)
{
	size_t len = 0;
	int pos = DNSD_HEADER;

	while (pos < n && q[pos] != 0) {
		int label = q[pos++];

		if (label > 63 || pos + label > n ||
		    len + (size_t)label + 2 > size)
			return -1;
		if (len)
			name[len++] = '.';
		memcpy(name + len, q + pos, (size_t)label);
		len += (size_t)label;
		pos += label;
	}
	name[len] = '\0';
	return pos + 5 <= n ? pos + 5 : -1;
}

static const struct dnsd_name *
dnsd_find(const struct dnsd_name *table, const char *name)
{
	for (; table->name; table++)
		if (strcasecmp(table->name, name) == 0)
			return table;
	return NULL;
}

/* Appends the answers of entry e for qtype to r at *len; returns count. */
static int
dnsd_records(const struct dnsd_name *e, int qtype, unsigned char *r, int *len)
{
	unsigned char addr[16];
	int i, count = 0, family = qtype == DNSD_TYPE_A ? AF_INET : AF_INET6;
	int alen = family == AF_INET ? 4 : 16;

	if (qtype != DNSD_TYPE_A && qtype != DNSD_TYPE_AAAA)
		return 0;
	for (i = 0; e->addrs[i] && i < DNSD_MAX_ADDRS; i++) {
		if (inet_pton(family, e->addrs[i], addr) != 1 ||
		    *len + 12 + alen > DNSD_MSG_MAX)
			continue;
		r[*len] = 0xc0; /* name: pointer to the question's */
		r[*len + 1] = DNSD_HEADER;
		r[*len + 2] = 0;
		r[*len + 3] = (unsigned char)qtype;
		r[*len + 4] = 0;
		r[*len + 5] = 1; /* class IN */
		r[*len + 6] = (unsigned char)(e->ttl >> 24);
		r[*len + 7] = (unsigned char)(e->ttl >> 16);
		r[*len + 8] = (unsigned char)(e->ttl >> 8);
		r[*len + 9] = (unsigned char)e->ttl;
		r[*len + 10] = 0;
		r[*len + 11] = (unsigned char)alen;
		memcpy(r + *len + 12, addr, (size_t)alen);
		*len += 12 + alen;
		count++;
	}
	return count;
}

/* Builds the reply to query q into r; returns its length or -1. */
static int
dnsd_reply(const struct dnsd_name *table, const unsigned char *q, int n,
           unsigned char *r)
{
	const struct dnsd_name *e;
	char name[256];
	int end, len, count = 0;

	if (n < DNSD_HEADER || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
		return -1;
	end = dnsd_question(q, n, name, sizeof(name));
	if (end < 0)
		return -1;
	memcpy(r, q, (size_t)end);
	len = end;
	e = dnsd_find(table, name);
	if (e)
		count = dnsd_records(e, (q[end - 4] << 8) | q[end - 3], r,
		                     &len);
	/* QR, opcode and RD echoed, AA; RA; NOERROR or NXDOMAIN. */
	r[2] = (unsigned char)(0x80 | (q[2] & 0x79) | 0x04);
	r[3] = (unsigned char)(0x80 | (e ? 0 : 3));
	r[6] = 0;
	r[7] = (unsigned char)count;
	memset(r + 8, 0, 4); /* no authority, no additional */
	return len;
}

static void
dnsd_serve(int fd, const struct dnsd_name *table, struct dnsd_shared *sh)
{
	unsigned char q[DNSD_MSG_MAX], r[DNSD_MSG_MAX];
	struct sockaddr_storage from;
	socklen_t fromlen;
	ssize_t n;
	int len;

	for (;;) {
		fromlen = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		             &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(1);
		__atomic_add_fetch(&sh->queries, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&sh->silent, __ATOMIC_SEQ_CST))
			continue;
		len = dnsd_reply(table, q, (int)n, r);
		if (len > 0)
			(void)sendto(fd, r, (size_t)len, 0,
			             (struct sockaddr *)&from, fromlen);
	}
}

static int
dnsd_bind(uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

struct dnsd *
dnsd_start(const struct dnsd_name *table)
{
	struct dnsd *d = calloc(1, sizeof(*d));
	pid_t parent = getpid();
	int fd;

	if (!d || (fd = dnsd_bind(&d->port)) < 0)
		goto fail;
	d->shared = mmap(NULL, sizeof(*d->shared), PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->shared == MAP_FAILED || (d->pid = fork()) < 0) {
		close(fd);
		goto fail;
	}
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0); /* the parent died before prctl */
		dnsd_serve(fd, table, d->shared);
	}
	close(fd);
	return d;
fail:
	fprintf(stderr, "dnsd_start: %s\n", strerror(errno));
	if (d && d->shared && d->shared != MAP_FAILED)
		munmap(d->shared, sizeof(*d->shared));
	free(d);
	return NULL;
}

unsigned
dnsd_queries(const struct dnsd *d)
{
	return __atomic_load_n(&d->shared->queries, __ATOMIC_SEQ_CST);
}

void
dnsd_set_silent(struct dnsd *d, int silent)
{
	__atomic_store_n(&d->shared->silent, silent, __ATOMIC_SEQ_CST);
}

void
dnsd_stop(struct dnsd *d)
{
	if (!d)
		return;
	kill(d->pid, SIGKILL);
	while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
		;
	munmap(d->shared, sizeof(*d->shared));
	free(d);
}
