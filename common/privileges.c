/*
 * Dropping root in a child process: the groups first, while still allowed
 * to change them, the user last.
 */
#include "common/privileges.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int
privileges_drop(uid_t uid, gid_t gid)
{
	if (getuid() != 0 || uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		log_error("cannot drop privileges to uid %u: %s", (unsigned)uid,
		          strerror(errno));
		return -1;
	}
	return 0;
}
