/*
 * Dropping root in a child process (workers, the health checker).
 */
#ifndef COMMON_PRIVILEGES_H
#define COMMON_PRIVILEGES_H

#include <sys/types.h>

/* When running as root and uid is not 0: no supplementary groups, then
 * gid, then uid.  0, or -1 (logged). */
int privileges_drop(uid_t uid, gid_t gid);

#endif
