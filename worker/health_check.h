/*
 * The health checker process (worker/health_check.c): started by the
 * master for each generation that has backends.
 */
#ifndef WORKER_HEALTH_CHECK_H
#define WORKER_HEALTH_CHECK_H

#include <sys/types.h>

#include "common/config-t.h"
#include "tls/tls.h"
#include "shm/shm-t.h"

struct health_check_heritage {
	const struct config *cfg;
	void *area; /* the backends area (shm/backends.h), MAP_SHARED */
	const struct tls_set *tls; /* for servers marked tls; or NULL */
	pid_t master_pid;
	uid_t uid; /* to switch to when root; 0 = stay */
	gid_t gid;
};

/* Checks until SIGTERM (or the master's death); never returns. */
void health_check_main(const struct health_check_heritage *h)
        __attribute__((noreturn));

#endif
