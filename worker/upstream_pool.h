/*
 * Idle keep-alive connections to origins, per worker, keyed by "host:port".
 */
#ifndef WORKER_UPSTREAM_POOL_H
#define WORKER_UPSTREAM_POOL_H

void upstream_pool_init(void);
void upstream_pool_fini(void);
#include <sys/socket.h>

/* A live idle connection to key and its peer address, or -1.  The fd is
 * still in the epoll set: adopt it with side_adopt(). */
int upstream_pool_take(const char *key, struct sockaddr_storage *addr);
/* Keeps fd (registered in the epoll set) for later, or closes it when the
 * pool is full. */
void upstream_pool_put(const char *key, int fd,
                       const struct sockaddr_storage *addr);

#endif
