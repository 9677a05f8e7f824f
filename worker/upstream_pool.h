/*
 * Idle keep-alive connections to origins, per worker, keyed by "host:port".
 */
#ifndef WORKER_UPSTREAM_POOL_H
#define WORKER_UPSTREAM_POOL_H

void upstream_pool_init(void);
void upstream_pool_fini(void);
/* A live idle connection to key, or -1. */
int upstream_pool_take(const char *key);
/* Keeps fd for later (or closes it when the pool is full). */
void upstream_pool_put(const char *key, int fd);

#endif
