/*
 * The reader of the backends area, for proxyctl.  The file is untrusted
 * input, as the segment is: sizes, offsets, indexes and strings are
 * checked before any use.
 */
#include "shm/backends.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SERVERS 65536

static int
names_ok(const struct shm_backends_view *v)
{
	unsigned i;

	for (i = 0; i < v->h->n_backends; i++) {
		const struct shm_backend *b = shm_backends_view_backend(v, i);

		if (!memchr(b->name, 0, sizeof(b->name)) ||
		    !memchr(b->check, 0, sizeof(b->check)) ||
		    b->first_server > v->h->n_servers ||
		    b->n_servers > v->h->n_servers - b->first_server)
			return 0;
	}
	for (i = 0; i < v->h->n_servers; i++)
		if (!memchr(shm_backends_view_server(v, i)->name, 0,
		            sizeof(((struct shm_server *)0)->name)))
			return 0;
	return 1;
}

static int
layout_ok(const struct shm_backends_header *h, size_t size)
{
	uint64_t b = (uint64_t)h->n_backends * sizeof(struct shm_backend);
	uint64_t s = (uint64_t)h->n_servers * sizeof(struct shm_server);
	uint64_t r = (uint64_t)h->n_rows * h->n_servers *
	             sizeof(struct shm_server_row);

	return h->size == size && h->n_servers <= MAX_SERVERS &&
	       h->n_backends <= MAX_SERVERS &&
	       h->n_rows <= SHM_BACKENDS_MAX_ROWS &&
	       h->backends_off >= sizeof(*h) && h->backends_off % 8 == 0 &&
	       h->backends_off <= size && b <= size - h->backends_off &&
	       h->servers_off % 8 == 0 && h->servers_off <= size &&
	       s <= size - h->servers_off && h->rows_off % 8 == 0 &&
	       h->rows_off <= size && r <= size - h->rows_off;
}

int
shm_backends_attach(struct shm_backends_view *v, const char *shm_path,
                    char *err, size_t errlen)
{
	char path[4200];
	struct stat st;
	void *p = MAP_FAILED;
	int fd;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_BACKENDS_SUFFIX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size >= sizeof(struct shm_backends_header))
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
		         0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: not a proxyd backends area", path);
		return -1;
	}
	v->base = p;
	v->size = (size_t)st.st_size;
	v->h = p;
	if (v->h->magic != SHM_BACKENDS_MAGIC ||
	    v->h->abi_major != SHM_ABI_MAJOR || !layout_ok(v->h, v->size) ||
	    !names_ok(v)) {
		snprintf(err, errlen,
		         "%s: not a proxyd backends area of ABI %u", path,
		         SHM_ABI_MAJOR);
		shm_backends_detach(v);
		return -1;
	}
	return 0;
}

void
shm_backends_detach(struct shm_backends_view *v)
{
	if (v->base)
		munmap((void *)(uintptr_t)v->base, v->size);
	memset(v, 0, sizeof(*v));
}

const char *
shm_check_result_name(uint32_t r)
{
	static const char *const names[] = {
	        [SHM_CHECK_NONE] = "-",
	        [SHM_CHECK_OK] = "ok",
	        [SHM_CHECK_REFUSED] = "connect failed",
	        [SHM_CHECK_TIMEOUT] = "timed out",
	        [SHM_CHECK_STATUS] = "bad status",
	        [SHM_CHECK_BAD] = "not HTTP",
	        [SHM_CHECK_PASSIVE] = "requests failed",
	        [SHM_CHECK_TLS] = "TLS failed",
	};

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const struct shm_backend *
shm_backends_view_backend(const struct shm_backends_view *v, unsigned i)
{
	return (const struct shm_backend *)((const char *)v->base +
	                                    v->h->backends_off) +
	       i;
}

const struct shm_server *
shm_backends_view_server(const struct shm_backends_view *v, unsigned i)
{
	return (const struct shm_server *)((const char *)v->base +
	                                   v->h->servers_off) +
	       i;
}

void
shm_backends_view_sum(const struct shm_backends_view *v, unsigned i,
                      struct shm_server_row *sum)
{
	const struct shm_server_row *rows =
	        (const struct shm_server_row *)((const char *)v->base +
	                                        v->h->rows_off);
	unsigned r;

	memset(sum, 0, sizeof(*sum));
	for (r = 0; r < v->h->n_rows; r++) {
		const struct shm_server_row *x =
		        &rows[(size_t)r * v->h->n_servers + i];

		sum->active += __atomic_load_n(&x->active, __ATOMIC_RELAXED);
		sum->requests +=
		        __atomic_load_n(&x->requests, __ATOMIC_RELAXED);
		sum->failures +=
		        __atomic_load_n(&x->failures, __ATOMIC_RELAXED);
		sum->retries += __atomic_load_n(&x->retries, __ATOMIC_RELAXED);
		if (x->fail_streak > sum->fail_streak)
			sum->fail_streak = x->fail_streak;
		if (x->last_fail > sum->last_fail)
			sum->last_fail = x->last_fail;
	}
}
