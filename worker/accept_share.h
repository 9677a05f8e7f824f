/*
 * Fair sharing of new client connections between the workers of a
 * generation (worker/accept_share.c).
 */
#ifndef WORKER_ACCEPT_SHARE_H
#define WORKER_ACCEPT_SHARE_H

#include <stddef.h>

/* The segment (NULL: a worker alone, which always accepts), this
 * worker's slot and generation. */
void accept_share_init(const void *shm_base, size_t shm_size, unsigned slot,
                       unsigned generation);
/* 1 when this worker holds more than its share of the client
 * connections and should leave the next ones to the others. */
int accept_share_over(void);

#endif
