/*
 * Idle keep-alive connections to origins, per worker, keyed by
 * "listener|host:port" (forward) or "rSERVER" (a backend server).
 */
#ifndef WORKER_UPSTREAM_POOL_H
#define WORKER_UPSTREAM_POOL_H

/* Idle connections kept per origin by a forward listener. */
#define UPSTREAM_POOL_PER_ORIGIN 64

void upstream_pool_init(void);
void upstream_pool_fini(void);
#include <sys/socket.h>

#include <openssl/ssl.h>

/* A live idle connection to key and its peer address, or -1.  The fd is
 * still in the epoll set: adopt it with side_adopt(). */
int upstream_pool_take(const char *key, struct sockaddr_storage *addr,
                       SSL **ssl);
/* Keeps fd (registered in the epoll set) for later, dropping the key's
 * oldest when it holds max_idle already (or the pool's oldest when the
 * pool is full); max_idle 0 closes fd. */
void upstream_pool_put(const char *key, int fd,
                       const struct sockaddr_storage *addr, SSL *ssl,
                       unsigned max_idle);

#endif
