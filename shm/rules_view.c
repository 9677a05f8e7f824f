/*
 * The reader of the rules area.  The file is untrusted input, as the
 * segment is: sizes, offsets and strings are bounded before any use.
 */
#include "shm/rules_view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int
layout_ok(const struct shm_rules_header *h, size_t size)
{
	uint64_t rules = (uint64_t)h->n_rules * sizeof(struct shm_rule);
	uint64_t hits = (uint64_t)h->n_rows * h->n_rules * sizeof(uint64_t);

	return h->size == size && h->n_rules <= SHM_RULES_MAX &&
	       h->n_rows <= SHM_RULES_MAX_ROWS && h->rules_off >= sizeof(*h) &&
	       h->rules_off <= size && rules <= size - h->rules_off &&
	       h->strings_off <= size &&
	       h->strings_size <= size - h->strings_off &&
	       h->hits_off % 8 == 0 && h->hits_off <= size &&
	       hits <= size - h->hits_off &&
	       memchr(h->path, 0, sizeof(h->path)) != NULL;
}

static int
map(struct shm_rules_view *v, int fd, const char *path, char *err,
    size_t errlen)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size < sizeof(struct shm_rules_header)) {
		snprintf(err, errlen, "%s: not a proxyd rules area", path);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	v->base = p;
	v->size = (size_t)st.st_size;
	v->h = p;
	return 0;
}

int
shm_rules_attach(struct shm_rules_view *v, const char *shm_path, char *err,
                 size_t errlen)
{
	char path[4200];
	int fd, rc;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_RULES_SUFFIX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = map(v, fd, path, err, errlen);
	close(fd);
	if (rc < 0)
		return -1;
	if (v->h->magic != SHM_RULES_MAGIC ||
	    v->h->abi_major != SHM_ABI_MAJOR || !layout_ok(v->h, v->size)) {
		snprintf(err, errlen, "%s: not a proxyd rules area of ABI %u",
		         path, SHM_ABI_MAJOR);
		shm_rules_detach(v);
		return -1;
	}
	return 0;
}

void
shm_rules_detach(struct shm_rules_view *v)
{
	if (v->base)
		munmap((void *)(uintptr_t)v->base, v->size);
	memset(v, 0, sizeof(*v));
}

const struct shm_rule *
shm_rules_rule(const struct shm_rules_view *v, unsigned i)
{
	return (const struct shm_rule *)(const void *)((const char *)v->base +
	                                               v->h->rules_off) +
	       i;
}

const char *
shm_rules_str(const struct shm_rules_view *v, uint64_t off)
{
	const char *s = (const char *)v->base + v->h->strings_off;

	if (off >= v->h->strings_size ||
	    !memchr(s + off, 0, v->h->strings_size - off))
		return "";
	return s + off;
}

uint64_t
shm_rules_hit_total(const struct shm_rules_view *v, unsigned i)
{
	const uint64_t *hits =
	        (const uint64_t *)(const void *)((const char *)v->base +
	                                         v->h->hits_off);
	uint64_t sum = 0;
	unsigned r;

	for (r = 0; r < v->h->n_rows; r++)
		sum += __atomic_load_n(&hits[(size_t)r * v->h->n_rules + i],
		                       __ATOMIC_RELAXED);
	return sum;
}
