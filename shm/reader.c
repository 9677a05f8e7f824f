/*
 * The reader side: map a segment read-only, refuse anything that is not a
 * complete proxyd segment of our ABI, and take consistent snapshots.  The
 * file is untrusted input: every offset and count is bounded before use.
 */
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define SNAPSHOT_TRIES 10000

static int
within(uint64_t off, uint64_t len, uint64_t size)
{
	return off % 8 == 0 && off <= size && len <= size - off;
}

static int
check_layout(const struct shm_header *h, size_t size)
{
	uint64_t block = (uint64_t)h->n_counters * sizeof(uint64_t);

	if (h->n_counters == 0 || h->n_counters > SHM_MAX_COUNTERS ||
	    h->n_slots > SHM_MAX_SLOTS ||
	    h->slot_size < sizeof(struct shm_slot) + block ||
	    h->slot_size % SHM_LINE != 0)
		return -1;
	if (!within(h->desc_off,
	            (uint64_t)h->n_counters * sizeof(struct shm_counter_desc),
	            size) ||
	    !within(h->retired_off, block, size) ||
	    !within(h->master_off, block, size) ||
	    !within(h->slots_off, (uint64_t)h->n_slots * h->slot_size, size))
		return -1;
	return 0;
}

static int
check_descs(const struct shm_view *v)
{
	const struct shm_counter_desc *d;
	unsigned i;

	for (i = 0; i < v->h->n_counters; i++) {
		d = shm_view_desc(v, i);
		if (!memchr(d->name, 0, sizeof(d->name)) ||
		    !memchr(d->help, 0, sizeof(d->help)) || d->kind > 1)
			return -1;
	}
	return 0;
}

int
shm_view_init(struct shm_view *v, const void *base, size_t size, char *err,
              size_t errlen)
{
	const struct shm_header *h = base;

	v->base = base;
	v->size = size;
	v->h = h;
	if (size < sizeof(*h) || h->magic != SHM_MAGIC) {
		snprintf(err, errlen, "not a proxyd shared-memory segment");
		return -1;
	}
	if (h->abi_major != SHM_ABI_MAJOR) {
		snprintf(err, errlen,
		         "segment ABI version %u.%u; this proxyctl reads %u.x",
		         h->abi_major, h->abi_minor, SHM_ABI_MAJOR);
		return -1;
	}
	if (h->size != size || check_layout(h, size) < 0 ||
	    check_descs(v) < 0) {
		snprintf(err, errlen, "segment truncated or corrupted");
		return -1;
	}
	return 0;
}

static void
open_error(const char *path, char *err, size_t errlen)
{
	if (errno == ENOENT)
		snprintf(err, errlen, "%s: no such file (is proxyd running?)",
		         path);
	else if (errno == EACCES)
		snprintf(err, errlen,
		         "%s: permission denied (run as root or as a member "
		         "of the file's group)",
		         path);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
}

int
shm_attach(struct shm_view *v, const char *path, char *err, size_t errlen)
{
	char why[256];
	struct stat st;
	void *p;
	int fd;

	memset(v, 0, sizeof(*v));
	/* O_NONBLOCK: a FIFO put in its place must not hang the reader. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		open_error(path, err, errlen);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size < sizeof(struct shm_header)) {
		close(fd);
		snprintf(err, errlen, "%s: not a proxyd shared-memory segment",
		         path);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	if (shm_view_init(v, p, (size_t)st.st_size, why, sizeof(why)) < 0) {
		munmap(p, (size_t)st.st_size);
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	v->mapped = 1;
	return 0;
}

void
shm_detach(struct shm_view *v)
{
	if (v->mapped && v->base)
		munmap((void *)(uintptr_t)v->base, v->size);
	memset(v, 0, sizeof(*v));
}

/* The process is proxyd: its name says so, or one of its arguments is a
 * proxyd program (proxyd under valgrind has the tool's name). */
static int
runs_proxyd(pid_t pid)
{
	char path[64], args[4096], *a, *base;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((f = fopen(path, "r"))) {
		n = fread(args, 1, 6, f);
		fclose(f);
		if (n == 6 && strncmp(args, "proxyd", 6) == 0)
			return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(args, 1, sizeof(args) - 1, f);
	fclose(f);
	args[n] = '\0';
	for (a = args; a < args + n; a += strlen(a) + 1) {
		base = strrchr(a, '/');
		base = base ? base + 1 : a;
		if (strncmp(base, "proxyd", 6) == 0)
			return 1;
	}
	return 0;
}

int
shm_master_alive(const struct shm_view *v)
{
	pid_t pid = (pid_t)v->h->master_pid;

	if (LOAD(&v->h->state) != SHM_STATE_READY || pid <= 0 ||
	    (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	return runs_proxyd(pid);
}

const struct shm_counter_desc *
shm_view_desc(const struct shm_view *v, unsigned i)
{
	return (const struct shm_counter_desc *)((const char *)v->base +
	                                         v->h->desc_off) +
	       i;
}

static const uint64_t *
block(const struct shm_view *v, uint64_t off)
{
	return (const uint64_t *)(const void *)((const char *)v->base + off);
}

static const struct shm_slot *
slot_at(const struct shm_view *v, unsigned i)
{
	return (const struct shm_slot *)(const void *)((const char *)v->base +
	                                               v->h->slots_off +
	                                               (uint64_t)i *
	                                                       v->h->slot_size);
}

static void
copy_slot(const struct shm_slot *src, struct shm_slot *dst)
{
	dst->state = LOAD(&src->state);
	dst->pid = LOAD(&src->pid);
	dst->generation = LOAD(&src->generation);
	dst->start_time = LOAD(&src->start_time);
	dst->heartbeat = LOAD(&src->heartbeat);
}

/* One pass; the caller checks the seqlock around it. */
static void
read_once(const struct shm_view *v, struct shm_snapshot *s)
{
	const uint64_t *retired = block(v, v->h->retired_off);
	const uint64_t *master = block(v, v->h->master_off);
	const uint64_t *c;
	unsigned i, k, n = s->n_counters;

	s->generation = LOAD(&v->h->generation);
	for (k = 0; k < n; k++) {
		s->master[k] = LOAD(&master[k]);
		s->totals[k] = LOAD(&retired[k]) + s->master[k];
	}
	s->n_workers = 0;
	for (i = 0; i < v->h->n_slots; i++) {
		struct shm_worker_snap *w = &s->workers[s->n_workers];

		copy_slot(slot_at(v, i), &w->head);
		if (w->head.state == SHM_SLOT_FREE)
			continue;
		w->slot = i;
		c = (const uint64_t *)(const void *)(slot_at(v, i) + 1);
		for (k = 0; k < n; k++) {
			w->counters[k] = LOAD(&c[k]);
			s->totals[k] += w->counters[k];
		}
		s->n_workers++;
	}
}

static int
alloc_snapshot(const struct shm_view *v, struct shm_snapshot *s)
{
	unsigned n = v->h->n_counters, slots = v->h->n_slots, i;

	memset(s, 0, sizeof(*s));
	s->n_counters = n;
	s->totals = calloc((size_t)n * (2 + slots), sizeof(uint64_t));
	s->workers = calloc(slots ? slots : 1, sizeof(*s->workers));
	if (!s->totals || !s->workers) {
		shm_snapshot_free(s);
		return -1;
	}
	s->master = s->totals + n;
	for (i = 0; i < slots; i++)
		s->workers[i].counters = s->totals + (size_t)n * (2 + i);
	return 0;
}

int
shm_snapshot_take(const struct shm_view *v, struct shm_snapshot *s)
{
	struct timespec ts;
	uint32_t s1, s2;
	int tries;

	if (alloc_snapshot(v, s) < 0)
		return -1;
	s->master_pid = v->h->master_pid;
	s->start_time = v->h->start_time;
	for (tries = 0; tries < SNAPSHOT_TRIES; tries++) {
		s1 = __atomic_load_n(&v->h->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		read_once(v, s);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = LOAD(&v->h->seq);
		if (s1 == s2) {
			clock_gettime(CLOCK_REALTIME, &ts);
			s->taken_at = (uint64_t)ts.tv_sec * 1000 +
			              (uint64_t)ts.tv_nsec / 1000000;
			return 0;
		}
	}
	shm_snapshot_free(s);
	return -1;
}

void
shm_snapshot_free(struct shm_snapshot *s)
{
	free(s->totals);
	free(s->workers);
	memset(s, 0, sizeof(*s));
}
