/*
 * The writer side of the segment, used by the master only.  Workers get a
 * pointer to their slot's counters and never call in here.
 */
#include "shm/shm.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	const char *help;
	uint32_t kind;
} counter_table[] = {
#define COUNTER(n, k, h) {#n, h, SHM_KIND_##k},
#define SHM_KIND_counter SHM_KIND_COUNTER
#define SHM_KIND_gauge SHM_KIND_GAUGE
#include "common/tbl/counters.h"
};

#define N_COUNTERS (sizeof(counter_table) / sizeof(counter_table[0]))

/* Names and help texts must fit their fixed-size records whole. */
#define COUNTER(n, k, h)                                                    \
	static_assert(sizeof(#n) <= SHM_NAME_MAX, "counter name too long"); \
	static_assert(sizeof(h) <= SHM_HELP_MAX, "counter help too long");
#include "common/tbl/counters.h"
static_assert(N_COUNTERS <= SHM_MAX_COUNTERS, "too many counters");

static uint64_t
align_line(uint64_t n)
{
	return (n + SHM_LINE - 1) & ~(uint64_t)(SHM_LINE - 1);
}

static void
layout(struct shm_header *h, unsigned n_slots)
{
	uint64_t block = align_line(N_COUNTERS * sizeof(uint64_t));

	h->magic = SHM_MAGIC;
	h->abi_major = SHM_ABI_MAJOR;
	h->abi_minor = SHM_ABI_MINOR;
	h->n_counters = (uint32_t)N_COUNTERS;
	h->n_slots = n_slots;
	h->slot_size = (uint32_t)(sizeof(struct shm_slot) + block);
	h->desc_off = align_line(sizeof(*h));
	h->retired_off = align_line(
	        h->desc_off + N_COUNTERS * sizeof(struct shm_counter_desc));
	h->master_off = h->retired_off + block;
	h->slots_off = h->master_off + block;
	h->size = h->slots_off + (uint64_t)n_slots * h->slot_size;
}

static void
fill(void *base, unsigned n_slots)
{
	struct shm_header *h = base;
	struct shm_counter_desc *d;
	unsigned i;

	layout(h, n_slots);
	d = (struct shm_counter_desc *)((char *)base + h->desc_off);
	for (i = 0; i < N_COUNTERS; i++) {
		snprintf(d[i].name, sizeof(d[i].name), "%s",
		         counter_table[i].name);
		snprintf(d[i].help, sizeof(d[i].help), "%s",
		         counter_table[i].help);
		d[i].kind = counter_table[i].kind;
	}
	h->master_pid = getpid();
	h->start_time = clock_unix_ms();
	h->generation = 1;
}

/* Publishes: everything above is visible before a reader sees READY. */
static void
publish(struct shm_header *h)
{
	__atomic_store_n(&h->state, SHM_STATE_READY, __ATOMIC_RELEASE);
}

int
shm_create(struct shm_segment *seg, const char *path, unsigned n_slots,
           gid_t gid, char *err, size_t errlen)
{
	struct shm_header probe = {0};
	char tmp[sizeof(seg->path) + 32];

	layout(&probe, n_slots);
	snprintf(seg->path, sizeof(seg->path), "%s", path);
	seg->size = probe.size;
	seg->base = shm_file_new(path, seg->size, gid, tmp, sizeof(tmp), err,
	                         errlen);
	if (!seg->base)
		return -1;
	fill(seg->base, n_slots);
	publish(seg->base);
	if (shm_file_commit(seg->base, seg->size, tmp, path, err, errlen) == 0)
		return 0;
	seg->base = NULL;
	return -1;
}

void
shm_destroy(struct shm_segment *seg)
{
	if (!seg->base)
		return;
	__atomic_store_n(&shm_header(seg)->state, SHM_STATE_STOPPED,
	                 __ATOMIC_RELEASE);
	unlink(seg->path);
	munmap(seg->base, seg->size);
	seg->base = NULL;
}

struct shm_header *
shm_header(const struct shm_segment *seg)
{
	return seg->base;
}

struct shm_slot *
shm_slot(const struct shm_segment *seg, unsigned i)
{
	const struct shm_header *h = seg->base;

	return (struct shm_slot *)((char *)seg->base + h->slots_off +
	                           (uint64_t)i * h->slot_size);
}

uint64_t *
shm_slot_counters(const struct shm_segment *seg, unsigned i)
{
	return (uint64_t *)(shm_slot(seg, i) + 1);
}

uint64_t *
shm_master_counters(const struct shm_segment *seg)
{
	return (uint64_t *)((char *)seg->base + shm_header(seg)->master_off);
}

static void
write_begin(struct shm_header *h)
{
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
write_end(struct shm_header *h)
{
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

void
shm_slot_start(const struct shm_segment *seg, unsigned i, pid_t pid,
               unsigned generation)
{
	struct shm_header *h = shm_header(seg);
	struct shm_slot *s = shm_slot(seg, i);

	write_begin(h);
	s->pid = pid;
	s->generation = generation;
	s->start_time = clock_unix_ms();
	s->heartbeat = s->start_time;
	__atomic_store_n(&s->state, SHM_SLOT_RUNNING, __ATOMIC_RELAXED);
	write_end(h);
}

void
shm_slot_set_state(const struct shm_segment *seg, unsigned i,
                   enum shm_slot_state state)
{
	struct shm_header *h = shm_header(seg);

	write_begin(h);
	__atomic_store_n(&shm_slot(seg, i)->state, state, __ATOMIC_RELAXED);
	write_end(h);
}

void
shm_slot_retire(const struct shm_segment *seg, unsigned i)
{
	struct shm_header *h = shm_header(seg);
	const struct shm_counter_desc *d =
	        (const void *)((char *)seg->base + h->desc_off);
	uint64_t *retired = (uint64_t *)((char *)seg->base + h->retired_off);
	uint64_t *c = shm_slot_counters(seg, i), v;
	unsigned k;

	write_begin(h);
	for (k = 0; k < h->n_counters; k++) {
		v = __atomic_exchange_n(&c[k], 0, __ATOMIC_RELAXED);
		if (d[k].kind == SHM_KIND_COUNTER)
			__atomic_fetch_add(&retired[k], v, __ATOMIC_RELAXED);
	}
	memset(shm_slot(seg, i), 0, sizeof(struct shm_slot));
	write_end(h);
}

void
shm_set_generation(const struct shm_segment *seg, unsigned generation)
{
	struct shm_header *h = shm_header(seg);

	write_begin(h);
	__atomic_store_n(&h->generation, generation, __ATOMIC_RELAXED);
	write_end(h);
}
