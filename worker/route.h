/*
 * Reverse routing: [route] sections in file order, then the listener's
 * default_backend.
 */
#ifndef WORKER_ROUTE_H
#define WORKER_ROUTE_H

#include <stddef.h>

#include "common/config-t.h"

#define ROUTE_NONE (-1)        /* 404 */
#define ROUTE_MISDIRECTED (-2) /* strict_host and an unknown Host: 421 */

/* Compiles the routes' regexes.  0, or -1 (out of memory). */
int route_init(const struct config *cfg);
void route_fini(void);

/* The backend index for a request to host (lower case, no port) with
 * target (path and query, len bytes), or ROUTE_NONE/ROUTE_MISDIRECTED;
 * *route is the route that took it (NULL: the default backend). */
int route_find(const struct config_listen *l, const char *host,
               const char *target, size_t len,
               const struct config_route **route);

#endif
