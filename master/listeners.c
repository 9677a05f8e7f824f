/*
 * Listening sockets.  They outlive configurations: a reload that keeps an
 * address keeps its socket, so connections waiting in the backlog are
 * served by the new workers instead of being refused.
 */
#include "master/master.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/sock.h"

#define BACKLOG 4096

struct bound {
	struct sockaddr_storage addr;
	socklen_t len;
	int fd;
};

static struct bound bound[CONFIG_MAX_LISTENS * 2];
static unsigned nbound;

static int
find(const struct sockaddr_storage *ss, socklen_t len)
{
	unsigned i;

	for (i = 0; i < nbound; i++)
		if (bound[i].len == len && memcmp(&bound[i].addr, ss, len) == 0)
			return (int)i;
	return -1;
}

static void
forget(unsigned i)
{
	close(bound[i].fd);
	bound[i] = bound[--nbound];
}

int
master_listeners_bind(const struct config *cfg, int *fds, char *err,
                      size_t errlen)
{
	unsigned i, first_new = nbound;
	const struct config_listen *l;
	int k;

	for (i = 0; i < cfg->n_listens; i++) {
		l = &cfg->listens[i];
		if ((k = find(&l->addr, l->addrlen)) >= 0) {
			fds[i] = bound[k].fd;
			continue;
		}
		if (nbound == sizeof(bound) / sizeof(bound[0]))
			goto fail;
		fds[i] = sock_listen((const struct sockaddr *)&l->addr,
		                     l->addrlen, BACKLOG, err, errlen);
		if (fds[i] < 0)
			goto fail;
		bound[nbound].addr = l->addr;
		bound[nbound].len = l->addrlen;
		bound[nbound++].fd = fds[i];
	}
	return 0;
fail:
	if (nbound == sizeof(bound) / sizeof(bound[0]))
		snprintf(err, errlen, "too many listening sockets");
	while (nbound > first_new)
		forget(nbound - 1);
	return -1;
}

void
master_listeners_keep_only(const int *fds, unsigned n)
{
	unsigned i = 0, j;
	int used;

	while (i < nbound) {
		for (used = 0, j = 0; j < n; j++)
			used |= fds[j] == bound[i].fd;
		if (used)
			i++;
		else
			forget(i);
	}
}

void
master_listeners_close_all(void)
{
	while (nbound)
		forget(nbound - 1);
}
