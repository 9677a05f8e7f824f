/*
 * Shared-memory files are built under a temporary name and renamed into
 * place when complete, so a reader never maps a half-written one.  Used
 * for the segment (shm/segment.c) and the rules area (rules/publish.c).
 */
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *
shm_file_new(const char *path, size_t size, gid_t gid, char *tmp, size_t tmplen,
             char *err, size_t errlen)
{
	void *base = MAP_FAILED;
	int fd;

	snprintf(tmp, tmplen, "%s.%d.tmp", path, (int)getpid());
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd >= 0 && (gid == (gid_t)-1 || fchown(fd, (uid_t)-1, gid) == 0) &&
	    ftruncate(fd, (off_t)size) == 0)
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		            0);
	if (base == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	return base == MAP_FAILED ? NULL : base;
}

int
shm_file_commit(void *base, size_t size, const char *tmp, const char *path,
                char *err, size_t errlen)
{
	if (rename(tmp, path) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	munmap(base, size);
	unlink(tmp);
	return -1;
}
