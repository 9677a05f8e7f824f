/*
 * The shared-memory segment (shm/): the ABI layout, creation, folding an
 * exited worker's slot into the retired block, the seqlock that keeps a
 * reader from seeing half a fold (alone and against a concurrent writer
 * process), attach's refusal of anything that is not a complete segment of
 * our ABI (and never a crash on a damaged one), and the JSON and Prometheus
 * renderings.  Segments live in a private mkdtemp folder removed at exit.
 * Every wait is bounded in time and every loop in count.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"

/* The counters table as the tests expect the segment to describe it. */
static const struct {
	const char *name;
	const char *kind;
	const char *help;
} table[] = {
#define COUNTER(n, k, h) {#n, #k, h},
#include "common/tbl/counters.h"
};

#define N_TABLE ((unsigned)(sizeof(table) / sizeof(table[0])))
#define NOBODY 65534

static char tmpdir[256]; /* short: paths in it fit PATH_MAX */

/* ---- helpers ------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
is_gauge(unsigned k)
{
	return strcmp(table[k].kind, "gauge") == 0;
}

static int
counter_index(const char *name)
{
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		if (strcmp(table[k].name, name) == 0)
			return (int)k;
	ck_abort_msg("no counter %s in common/tbl/counters.h", name);
	return -1;
}

static void
path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static void
create(struct shm_segment *seg, const char *name, unsigned n_slots)
{
	char path[PATH_MAX], err[512];

	path_of(path, sizeof(path), name);
	ck_assert_msg(shm_create(seg, path, n_slots, (gid_t)-1, err,
	                         sizeof(err)) == 0,
	              "shm_create %s: %s", path, err);
}

static void
attach_ok(struct shm_view *v, const char *path)
{
	char err[512];

	ck_assert_msg(shm_attach(v, path, err, sizeof(err)) == 0,
	              "attach %s: %s", path, err);
}

static void
snap_ok(const struct shm_view *v, struct shm_snapshot *s)
{
	ck_assert_msg(shm_snapshot_take(v, s) == 0, "snapshot failed");
}

static uint64_t *
retired_block(const struct shm_segment *seg)
{
	return (uint64_t *)(void *)((char *)seg->base +
	                            shm_header(seg)->retired_off);
}

static struct shm_counter_desc *
desc_w(const struct shm_segment *seg, unsigned k)
{
	char *base = seg->base;

	return (struct shm_counter_desc *)(void *)(base +
	                                           shm_header(seg)->desc_off) +
	       k;
}

/* Writes len bytes of data to path with mode. */
static void
put_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_msg(write(fd, data, len) == (ssize_t)len, "write %s", path);
	close(fd);
}

/* shm_attach(path) must fail with one line naming the file and saying
 * want. */
static void
attach_fails(const char *path, const char *want)
{
	struct shm_view v;
	char err[1024] = "";

	ck_assert_msg(shm_attach(&v, path, err, sizeof(err)) == -1,
	              "%s: attached, want \"%s\"", path, want);
	ck_assert_msg(strstr(err, want) != NULL,
	              "%s: error \"%s\", want \"%s\"", path, err, want);
	ck_assert_msg(strstr(err, path) != NULL, "error does not name %s: %s",
	              path, err);
	ck_assert_msg(strchr(err, '\n') == NULL, "error is not one line: %s",
	              err);
}

/* Renders through fn into a malloc'd string. */
static char *
render(void (*fn)(const struct shm_view *, const struct shm_snapshot *, FILE *),
       const struct shm_view *v, const struct shm_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert(f != NULL);
	fn(v, s, f);
	fclose(f);
	return text;
}

/* xorshift64: deterministic "random" bytes, so a failure reproduces. */
static uint64_t
rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* ---- layout -------------------------------------------------------- */

/* clang-format off */
#define OFF(type, field, want) {#type "." #field, offsetof(type, field), want}
/* clang-format on */

START_TEST(test_abi_sizes)
{
	/* the offsets are the ABI as much as the sizes: a reordered field
	 * must fail here, not in a proxyctl of another build */
	static const struct {
		const char *what;
		size_t got;
		size_t want;
	} offs[] = {
	        OFF(struct shm_header, magic, 0),
	        OFF(struct shm_header, abi_major, 8),
	        OFF(struct shm_header, abi_minor, 12),
	        OFF(struct shm_header, size, 16),
	        OFF(struct shm_header, master_pid, 24),
	        OFF(struct shm_header, start_time, 32),
	        OFF(struct shm_header, state, 40),
	        OFF(struct shm_header, seq, 44),
	        OFF(struct shm_header, generation, 48),
	        OFF(struct shm_header, n_counters, 52),
	        OFF(struct shm_header, n_slots, 56),
	        OFF(struct shm_header, slot_size, 60),
	        OFF(struct shm_header, desc_off, 64),
	        OFF(struct shm_header, retired_off, 72),
	        OFF(struct shm_header, master_off, 80),
	        OFF(struct shm_header, slots_off, 88),
	        OFF(struct shm_header, rules_off, 96),
	        OFF(struct shm_header, rules_size, 104),
	        OFF(struct shm_header, reserved, 112),
	        OFF(struct shm_counter_desc, name, 0),
	        OFF(struct shm_counter_desc, help, 48),
	        OFF(struct shm_counter_desc, kind, 160),
	        OFF(struct shm_slot, state, 0),
	        OFF(struct shm_slot, pid, 4),
	        OFF(struct shm_slot, generation, 8),
	        OFF(struct shm_slot, start_time, 16),
	        OFF(struct shm_slot, heartbeat, 24),
	};
	unsigned i;

	ck_assert_uint_eq(sizeof(struct shm_header), 144);
	ck_assert_uint_eq(sizeof(struct shm_slot), 64);
	ck_assert_uint_eq(sizeof(struct shm_counter_desc), 168);
	ck_assert_uint_eq(SHM_LINE, 64);
	ck_assert_uint_eq(SHM_MAGIC, 0x48534d4459585250ULL);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		ck_assert_msg(offs[i].got == offs[i].want,
		              "offsetof(%s) = %zu, ABI says %zu", offs[i].what,
		              offs[i].got, offs[i].want);
}
END_TEST

/* Every region starts on its own cache line, in order, without overlap,
 * and the file is exactly as big as the header says. */
static void
check_regions(const struct shm_segment *seg, unsigned n_slots)
{
	const struct shm_header *h = shm_header(seg);
	uint64_t block = (uint64_t)N_TABLE * sizeof(uint64_t);
	struct stat st;

	ck_assert_uint_eq(h->desc_off % SHM_LINE, 0);
	ck_assert_uint_eq(h->retired_off % SHM_LINE, 0);
	ck_assert_uint_eq(h->master_off % SHM_LINE, 0);
	ck_assert_uint_eq(h->slots_off % SHM_LINE, 0);
	ck_assert_uint_eq(h->slot_size % SHM_LINE, 0);
	ck_assert_uint_ge(h->slot_size, sizeof(struct shm_slot) + block);
	ck_assert_uint_ge(h->desc_off, sizeof(*h));
	ck_assert_uint_ge(h->retired_off,
	                  h->desc_off +
	                          N_TABLE * sizeof(struct shm_counter_desc));
	ck_assert_uint_ge(h->master_off, h->retired_off + block);
	ck_assert_uint_ge(h->slots_off, h->master_off + block);
	ck_assert_uint_eq(h->size,
	                  h->slots_off + (uint64_t)n_slots * h->slot_size);
	ck_assert_int_eq(stat(seg->path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, h->size);
	ck_assert_uint_eq(seg->size, h->size);
}

static void
check_slot_addresses(const struct shm_segment *seg, unsigned n_slots)
{
	const struct shm_header *h = shm_header(seg);
	const char *base = seg->base;
	unsigned i;

	for (i = 0; i < n_slots; i++) {
		const char *slot = (const char *)shm_slot(seg, i);
		const char *c = (const char *)shm_slot_counters(seg, i);

		ck_assert_uint_eq((uint64_t)(slot - base),
		                  h->slots_off + (uint64_t)i * h->slot_size);
		/* a slot's counters start on the line after its head */
		ck_assert_uint_eq((uint64_t)(c - slot), SHM_LINE);
		ck_assert_uint_eq((uint64_t)(c - base) % SHM_LINE, 0);
	}
	ck_assert_uint_eq(
	        (uint64_t)((const char *)shm_master_counters(seg) - base),
	        h->master_off);
}

START_TEST(test_segment_layout)
{
	static const unsigned slot_counts[] = {0, 1, 5, 64};
	struct shm_segment seg;
	const struct shm_header *h;
	unsigned i, n;
	char name[32];

	for (i = 0; i < sizeof(slot_counts) / sizeof(slot_counts[0]); i++) {
		n = slot_counts[i];
		snprintf(name, sizeof(name), "layout%u.shm", n);
		create(&seg, name, n);
		h = shm_header(&seg);
		ck_assert_uint_eq(h->magic, SHM_MAGIC);
		ck_assert_uint_eq(h->abi_major, SHM_ABI_MAJOR);
		ck_assert_uint_eq(h->abi_minor, SHM_ABI_MINOR);
		ck_assert_uint_eq(h->n_counters, N_TABLE);
		ck_assert_uint_eq(h->n_slots, n);
		ck_assert_uint_eq(h->state, SHM_STATE_READY);
		ck_assert_uint_eq(h->seq % 2, 0);
		ck_assert_uint_eq(h->generation, 1);
		ck_assert_int_eq(h->master_pid, getpid());
		ck_assert_uint_eq(h->rules_off, 0);
		ck_assert_msg(h->start_time + 10000 > unix_ms() &&
		                      h->start_time <= unix_ms(),
		              "start_time %llu is not now",
		              (unsigned long long)h->start_time);
		check_regions(&seg, n);
		check_slot_addresses(&seg, n);
		shm_destroy(&seg);
	}
}
END_TEST

static int
metric_name_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || !(islower((unsigned char)p[0]) || p[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!(islower((unsigned char)p[i]) ||
		      isdigit((unsigned char)p[i]) || p[i] == '_'))
			return 0;
	return 1;
}

START_TEST(test_descriptions)
{
	struct shm_segment seg;
	struct shm_view v;
	const struct shm_counter_desc *d;
	unsigned k, j;

	create(&seg, "desc.shm", 2);
	attach_ok(&v, seg.path);
	for (k = 0; k < N_TABLE; k++) {
		d = shm_view_desc(&v, k);
		ck_assert_str_eq(d->name, table[k].name);
		/* equal, so not truncated to SHM_HELP_MAX */
		ck_assert_str_eq(d->help, table[k].help);
		ck_assert_uint_eq(d->kind, is_gauge(k) ? SHM_KIND_GAUGE
		                                       : SHM_KIND_COUNTER);
		ck_assert_msg(metric_name_ok(d->name, strlen(d->name)),
		              "counter name \"%s\" is not a metric name",
		              d->name);
		for (j = 0; j < k; j++)
			ck_assert_str_ne(d->name, table[j].name);
	}
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

static unsigned
entries_in(const char *dir)
{
	char cmd[PATH_MAX + 32];
	unsigned n = 0;
	FILE *p;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	p = popen(cmd, "r");
	ck_assert(p != NULL);
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

START_TEST(test_create_mode_and_rename)
{
	struct shm_segment seg;
	struct shm_view v;
	char dir[PATH_MAX];
	struct stat st;

	umask(022);
	path_of(dir, sizeof(dir), "mode");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	create(&seg, "mode/proxyd.shm", 4);
	ck_assert_int_eq(stat(seg.path, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "not a regular file");
	ck_assert_msg((st.st_mode & 07777) == 0640, "mode %04o, want 0640",
	              (unsigned)(st.st_mode & 07777));
	/* built under a temporary name, renamed into place: nothing else
	 * is left in the folder */
	ck_assert_uint_eq(entries_in(dir), 1);
	attach_ok(&v, seg.path);
	ck_assert_uint_eq(v.size, (size_t)st.st_size);
	ck_assert_uint_eq(v.h->n_slots, 4);
	shm_detach(&v);
	shm_destroy(&seg);
	ck_assert_uint_eq(entries_in(dir), 0);
}
END_TEST

/* A segment left by a crashed master is replaced atomically: a reader of
 * the old one keeps its mapping, a new reader gets the new one. */
START_TEST(test_create_replaces_stale)
{
	struct shm_segment old, fresh;
	struct shm_view vold, vnew;
	struct shm_snapshot s;

	create(&old, "stale.shm", 2);
	shm_set_generation(&old, 9);
	attach_ok(&vold, old.path);
	create(&fresh, "stale.shm", 2);
	attach_ok(&vnew, fresh.path);
	snap_ok(&vnew, &s);
	ck_assert_uint_eq(s.generation, 1);
	shm_snapshot_free(&s);
	snap_ok(&vold, &s);
	ck_assert_uint_eq(s.generation, 9);
	shm_snapshot_free(&s);
	shm_detach(&vold);
	shm_detach(&vnew);
	shm_destroy(&fresh);
}
END_TEST

START_TEST(test_create_error)
{
	struct shm_segment seg;
	char path[PATH_MAX], err[512] = "";

	path_of(path, sizeof(path), "no/such/dir/proxyd.shm");
	ck_assert_int_eq(shm_create(&seg, path, 2, (gid_t)-1, err, sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, path) != NULL &&
	                      strstr(err, strerror(ENOENT)) != NULL,
	              "unclear error: %s", err);
	ck_assert_ptr_null(seg.base);
	shm_destroy(&seg); /* harmless on a failed create */
}
END_TEST

/* shm_destroy removes the file; a reader still mapping it sees STOPPED
 * and no live master. */
START_TEST(test_destroy)
{
	struct shm_segment seg;
	struct shm_view v;
	struct stat st;

	prctl(PR_SET_NAME, "proxyd");
	create(&seg, "destroy.shm", 2);
	attach_ok(&v, seg.path);
	ck_assert_int_eq(shm_master_alive(&v), 1);
	shm_destroy(&seg);
	ck_assert_int_eq(stat(seg.path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(v.h->state, SHM_STATE_STOPPED);
	ck_assert_int_eq(shm_master_alive(&v), 0);
	shm_detach(&v);
}
END_TEST

/* ---- fold on exit -------------------------------------------------- */

START_TEST(test_slot_start_state_generation)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	uint64_t t0 = unix_ms();

	create(&seg, "start.shm", 4);
	attach_ok(&v, seg.path);
	snap_ok(&v, &s);
	ck_assert_uint_eq(s.n_workers, 0);
	shm_snapshot_free(&s);
	shm_slot_start(&seg, 2, 4321, 3);
	shm_slot_set_state(&seg, 2, SHM_SLOT_DRAINING);
	shm_set_generation(&seg, 4);
	snap_ok(&v, &s);
	ck_assert_uint_eq(s.generation, 4);
	ck_assert_uint_eq(s.n_workers, 1);
	ck_assert_uint_eq(s.workers[0].slot, 2);
	ck_assert_int_eq(s.workers[0].head.pid, 4321);
	ck_assert_uint_eq(s.workers[0].head.generation, 3);
	ck_assert_uint_eq(s.workers[0].head.state, SHM_SLOT_DRAINING);
	ck_assert_uint_ge(s.workers[0].head.start_time, t0);
	ck_assert_uint_eq(s.workers[0].head.heartbeat,
	                  s.workers[0].head.start_time);
	ck_assert_int_eq(s.master_pid, getpid());
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* Fills slot i's counters as its worker would: value base + k. */
static void
fill_slot(const struct shm_segment *seg, unsigned i, uint64_t base)
{
	uint64_t *c = shm_slot_counters(seg, i);
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		__atomic_store_n(&c[k], base + k, __ATOMIC_RELAXED);
}

START_TEST(test_fold_on_exit)
{
	static const struct shm_slot zero;
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot before, after;
	uint64_t *master, *retired;
	uint32_t seq;
	unsigned k;

	create(&seg, "fold.shm", 4);
	attach_ok(&v, seg.path);
	master = shm_master_counters(&seg);
	for (k = 0; k < N_TABLE; k++)
		master[k] = 7;
	shm_slot_start(&seg, 1, 1001, 1);
	shm_slot_start(&seg, 2, 1002, 1);
	fill_slot(&seg, 1, 100);
	fill_slot(&seg, 2, 1000);
	snap_ok(&v, &before);
	ck_assert_uint_eq(before.n_workers, 2);
	for (k = 0; k < N_TABLE; k++)
		ck_assert_uint_eq(before.totals[k], 7 + 100 + k + 1000 + k);

	seq = shm_header(&seg)->seq;
	shm_slot_retire(&seg, 1);
	/* one write section: odd while folding, even again after */
	ck_assert_uint_eq(shm_header(&seg)->seq, seq + 2);
	snap_ok(&v, &after);
	ck_assert_uint_eq(after.n_workers, 1);
	ck_assert_uint_eq(after.workers[0].slot, 2);
	retired = retired_block(&seg);
	for (k = 0; k < N_TABLE; k++) {
		/* counters keep their total; a dead worker's gauges (its
		 * open connections) are gone with it */
		ck_assert_msg(
		        after.totals[k] ==
		                (is_gauge(k) ? 7 + 1000 + k : before.totals[k]),
		        "%s: %llu before the fold, %llu after", table[k].name,
		        (unsigned long long)before.totals[k],
		        (unsigned long long)after.totals[k]);
		ck_assert_uint_eq(retired[k], is_gauge(k) ? 0 : 100 + k);
		ck_assert_uint_eq(shm_slot_counters(&seg, 1)[k], 0);
	}
	ck_assert_msg(memcmp(shm_slot(&seg, 1), &zero, sizeof(zero)) == 0,
	              "the retired slot's head is not cleared");
	shm_snapshot_free(&before);
	shm_snapshot_free(&after);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

static void
check_totals(const struct shm_view *v, const uint64_t *want, unsigned step)
{
	struct shm_snapshot s;
	unsigned k;

	snap_ok(v, &s);
	for (k = 0; k < N_TABLE; k++)
		ck_assert_msg(s.totals[k] == want[k],
		              "step %u: %s total %llu, want %llu", step,
		              table[k].name, (unsigned long long)s.totals[k],
		              (unsigned long long)want[k]);
	shm_snapshot_free(&s);
}

/* Slot i's worker is gone: its gauges leave the expected totals. */
static void
retire_expect(const struct shm_segment *seg, unsigned i, uint64_t *want)
{
	const uint64_t *c = shm_slot_counters(seg, i);
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		if (is_gauge(k))
			want[k] -= c[k];
	shm_slot_retire(seg, i);
}

/* Workers crash and respawn in their slots, two generations overlap, a
 * free slot is retired again: after every step the counter totals are
 * exactly what was ever written, and the gauges those of live slots. */
START_TEST(test_fold_many_lives)
{
	struct shm_segment seg;
	struct shm_view v;
	uint64_t want[N_TABLE], state = 42, add;
	unsigned life, slot, k;
	uint64_t *c;

	memset(want, 0, sizeof(want));
	create(&seg, "lives.shm", 3);
	attach_ok(&v, seg.path);
	for (life = 0; life < 60; life++) {
		slot = life % 3;
		shm_slot_start(&seg, slot, (pid_t)(2000 + life), life / 3 + 1);
		c = shm_slot_counters(&seg, slot);
		for (k = 0; k < N_TABLE; k++) {
			add = rnd(&state) % 100000;
			__atomic_fetch_add(&c[k], add, __ATOMIC_RELAXED);
			want[k] += add;
		}
		check_totals(&v, want, life);
		/* the next slot: free after slots 0 and 1 (retiring a free
		 * slot must change nothing), the oldest worker after 2 */
		retire_expect(&seg, (slot + 1) % 3, want);
		check_totals(&v, want, life);
		if (slot == 2)
			for (k = 0; k < 3; k++)
				retire_expect(&seg, k, want);
		check_totals(&v, want, life);
	}
	for (k = 0; k < N_TABLE; k++)
		ck_assert_uint_eq(is_gauge(k) ? want[k] : 0, 0);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* ---- seqlock ------------------------------------------------------- */

/* Waits (bounded) for a child of this test; SIGKILL after 10 s. */
static void
reap(pid_t pid)
{
	int64_t end = now_ms() + 10000;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("writer child %d hung", (int)pid);
		}
		usleep(1000);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "writer child status 0x%x", status);
}

START_TEST(test_seqlock_busy_fails)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	struct shm_header *h;
	int64_t t0;

	create(&seg, "busy.shm", 2);
	attach_ok(&v, seg.path);
	h = shm_header(&seg);
	/* as if the master stopped between write_begin and write_end */
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	t0 = now_ms();
	ck_assert_int_eq(shm_snapshot_take(&v, &s), -1);
	ck_assert_msg(now_ms() - t0 < 5000, "gave up only after %lld ms",
	              (long long)(now_ms() - t0));
	ck_assert_ptr_null(s.totals);
	shm_snapshot_free(&s); /* harmless after a failure */
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	snap_ok(&v, &s);
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* The writer child: begins a fold (seq odd) and leaves it half done, slot
 * 0 emptied and nothing added to retired yet, so its counters are counted
 * nowhere; says so on ready; finishes when go is readable, or after
 * hold_us when go is -1. */
static void __attribute__((noreturn))
torn_fold(const struct shm_segment *seg, int ready, int go, unsigned hold_us)
{
	struct shm_header *h = shm_header(seg);
	uint64_t *c = shm_slot_counters(seg, 0), *retired = retired_block(seg);
	struct pollfd p = {.fd = go, .events = POLLIN};
	uint64_t v[N_TABLE];
	unsigned k;

	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (k = 0; k < N_TABLE; k++)
		v[k] = __atomic_exchange_n(&c[k], 0, __ATOMIC_RELAXED);
	if (write(ready, "x", 1) != 1)
		_exit(1);
	if (go >= 0)
		(void)poll(&p, 1, 10000);
	else
		usleep(hold_us);
	for (k = 0; k < N_TABLE; k++)
		__atomic_fetch_add(&retired[k], v[k], __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	_exit(0);
}

/* Forks torn_fold and returns once the fold is half done. */
static pid_t
start_torn_fold(const struct shm_segment *seg, int go, unsigned hold_us)
{
	struct pollfd p;
	int fds[2];
	pid_t pid;
	char b;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		torn_fold(seg, fds[1], go, hold_us);
	}
	close(fds[1]);
	p.fd = fds[0];
	p.events = POLLIN;
	ck_assert_msg(poll(&p, 1, 10000) == 1 && read(fds[0], &b, 1) == 1,
	              "writer child did not begin its fold");
	close(fds[0]);
	return pid;
}

/* After round folds of slot values 1 + k, every total is round * (1 + k);
 * a torn read would show one fold less. */
static void
check_folds(const struct shm_snapshot *s, unsigned round)
{
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		ck_assert_msg(s->totals[k] == (uint64_t)round * (1 + k),
		              "round %u: %s = %llu, want %llu (a torn read)",
		              round, table[k].name,
		              (unsigned long long)s->totals[k],
		              (unsigned long long)round * (1 + k));
}

START_TEST(test_seqlock_reader_waits)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	unsigned round, ok = 0;
	int go[2], rc;
	pid_t pid;

	create(&seg, "torn.shm", 2);
	attach_ok(&v, seg.path);
	shm_slot_start(&seg, 0, getpid(), 1);
	/* a writer that stays in its fold: the reader gives up rather
	 * than return what it sees */
	fill_slot(&seg, 0, 1);
	ck_assert_int_eq(pipe(go), 0);
	pid = start_torn_fold(&seg, go[0], 0);
	ck_assert_int_eq(shm_snapshot_take(&v, &s), -1);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	reap(pid);
	snap_ok(&v, &s);
	check_folds(&s, 1);
	shm_snapshot_free(&s);
	/* a writer that finishes in 200 us: the reader retries and gets
	 * the state after the fold, never the one in the middle */
	for (round = 2; round <= 20; round++) {
		fill_slot(&seg, 0, 1);
		pid = start_torn_fold(&seg, -1, 200);
		rc = shm_snapshot_take(&v, &s);
		reap(pid);
		if (rc < 0)
			continue;
		ok++;
		check_folds(&s, round);
		shm_snapshot_free(&s);
	}
	ck_assert_msg(ok > 0, "no snapshot waited out a 200 us fold");
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

#define RACE_ROUNDS 3000000 /* writer: bounded in rounds... */
#define RACE_MS 2000        /* ...and in time */
#define RACE_FOLD_EVERY 7   /* rounds between a worker's exit and respawn */
#define RACE_SNAPS 200000   /* reader: bounded in snapshots */

/* Shared between the test and its writer child. */
struct race {
	uint64_t claimed; /* rounds begun */
	uint64_t rounds;  /* rounds done, once finished */
	int finished;
};

/* The writer child: a worker's increments (every counter k by k + 1 a
 * round) and the master's folds and respawns, as fast as it can. */
static void __attribute__((noreturn))
race_writer(const struct shm_segment *seg, struct race *r)
{
	unsigned slot = 0, n_slots = shm_header(seg)->n_slots, k;
	int64_t end = now_ms() + RACE_MS;
	uint64_t i, *c;

	shm_slot_start(seg, slot, getpid(), 1);
	for (i = 0; i < RACE_ROUNDS && (i % 1024 || now_ms() < end); i++) {
		__atomic_store_n(&r->claimed, i + 1, __ATOMIC_RELEASE);
		c = shm_slot_counters(seg, slot);
		/* release: a reader that sees this increment sees claimed
		 * (the workers use relaxed; this is the test's bound) */
		for (k = 0; k < N_TABLE; k++)
			if (!is_gauge(k))
				__atomic_fetch_add(&c[k], k + 1,
				                   __ATOMIC_RELEASE);
		if (i % RACE_FOLD_EVERY == RACE_FOLD_EVERY - 1) {
			shm_slot_retire(seg, slot);
			slot = (slot + 1) % n_slots;
			shm_slot_start(seg, slot, getpid(), 1);
		}
	}
	__atomic_store_n(&r->rounds, i, __ATOMIC_RELAXED);
	__atomic_store_n(&r->finished, 1, __ATOMIC_RELEASE);
	_exit(0);
}

/* lo rounds had begun before the snapshot, hi after it. */
static void
check_race(const struct shm_snapshot *s, uint64_t *prev, uint64_t lo,
           uint64_t hi)
{
	unsigned k;

	for (k = 0; k < N_TABLE; k++) {
		if (is_gauge(k)) {
			ck_assert_uint_eq(s->totals[k], 0);
			continue;
		}
		ck_assert_msg(s->totals[k] >= prev[k],
		              "%s went backwards: %llu then %llu",
		              table[k].name, (unsigned long long)prev[k],
		              (unsigned long long)s->totals[k]);
		ck_assert_msg(s->totals[k] <= hi * (k + 1),
		              "%s = %llu after %llu rounds: counted twice",
		              table[k].name, (unsigned long long)s->totals[k],
		              (unsigned long long)hi);
		ck_assert_msg(s->totals[k] + (k + 1) >= lo * (k + 1),
		              "%s = %llu after %llu rounds: counted nowhere",
		              table[k].name, (unsigned long long)s->totals[k],
		              (unsigned long long)lo);
		prev[k] = s->totals[k];
	}
}

/* Snapshots taken while the writer runs; returns how many succeeded. */
static unsigned
race_reader(const struct shm_view *v, struct race *r, unsigned *busy)
{
	int64_t end = now_ms() + RACE_MS + 5000;
	uint64_t prev[N_TABLE], lo, hi;
	struct shm_snapshot s;
	unsigned n, ok = 0;
	int done = 0;

	memset(prev, 0, sizeof(prev));
	for (n = 0; n < RACE_SNAPS && !done && now_ms() < end; n++) {
		done = __atomic_load_n(&r->finished, __ATOMIC_ACQUIRE);
		lo = __atomic_load_n(&r->claimed, __ATOMIC_ACQUIRE);
		if (shm_snapshot_take(v, &s) < 0) {
			(*busy)++;
			continue;
		}
		hi = __atomic_load_n(&r->claimed, __ATOMIC_ACQUIRE);
		check_race(&s, prev, lo, hi);
		shm_snapshot_free(&s);
		ok++;
	}
	return ok;
}

START_TEST(test_seqlock_concurrent)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	unsigned ok, busy = 0, k;
	struct race *r;
	pid_t pid;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	create(&seg, "race.shm", 4);
	attach_ok(&v, seg.path);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		race_writer(&seg, r);
	ok = race_reader(&v, r, &busy);
	reap(pid);
	ck_assert_msg(ok >= 10, "only %u snapshots succeeded (%u busy)", ok,
	              busy);
	snap_ok(&v, &s);
	for (k = 0; k < N_TABLE; k++)
		ck_assert_uint_eq(s.totals[k],
		                  is_gauge(k) ? 0 : r->rounds * (k + 1));
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
	munmap(r, sizeof(*r));
}
END_TEST

/* ---- attach -------------------------------------------------------- */

/* The bytes of a valid segment with a worker and some counters, for
 * damaging copies; its size in *size. */
static char *
valid_image(size_t *size)
{
	struct shm_segment seg;
	char *img;

	create(&seg, "image.shm", 3);
	shm_slot_start(&seg, 1, 77, 1);
	fill_slot(&seg, 1, 5);
	img = malloc(seg.size);
	ck_assert_ptr_nonnull(img);
	memcpy(img, seg.base, seg.size);
	*size = seg.size;
	shm_destroy(&seg);
	return img;
}

START_TEST(test_attach_missing)
{
	char path[PATH_MAX];

	path_of(path, sizeof(path), "missing.shm");
	attach_fails(path, "no such file (is proxyd running?)");
}
END_TEST

START_TEST(test_attach_truncated)
{
	size_t size, cuts[12], i;
	char path[PATH_MAX], *img = valid_image(&size);
	const struct shm_header *h = (const struct shm_header *)(void *)img;

	cuts[0] = 0;
	cuts[1] = 1;
	cuts[2] = 8;
	cuts[3] = sizeof(*h) - 1;
	cuts[4] = sizeof(*h);
	cuts[5] = sizeof(*h) + 1;
	cuts[6] = h->desc_off + 10;
	cuts[7] = h->retired_off;
	cuts[8] = h->slots_off;
	cuts[9] = size / 2;
	cuts[10] = size - SHM_LINE;
	cuts[11] = size - 1;
	path_of(path, sizeof(path), "cut.shm");
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		put_file(path, img, cuts[i], 0640);
		attach_fails(path,
		             cuts[i] < sizeof(*h)
		                     ? "not a proxyd shared-memory segment"
		                     : "segment truncated or corrupted");
	}
	/* longer than the header says is as wrong as shorter */
	img = realloc(img, size + 4096);
	ck_assert_ptr_nonnull(img);
	memset(img + size, 0, 4096);
	put_file(path, img, size + 4096, 0640);
	attach_fails(path, "segment truncated or corrupted");
	free(img);
}
END_TEST

START_TEST(test_attach_random)
{
	uint64_t state = 0x243f6a8885a308d3ULL, magic = SHM_MAGIC;
	size_t size, i;
	char path[PATH_MAX], *img = valid_image(&size);

	path_of(path, sizeof(path), "random.shm");
	for (i = 0; i < size; i++)
		img[i] = (char)rnd(&state);
	put_file(path, img, size, 0640);
	attach_fails(path, "not a proxyd shared-memory segment");
	memset(img, 0, size);
	put_file(path, img, size, 0640);
	attach_fails(path, "not a proxyd shared-memory segment");
	/* our magic, then noise: refused for its version or its layout */
	for (i = 0; i < size; i++)
		img[i] = (char)rnd(&state);
	memcpy(img, &magic, sizeof(magic));
	put_file(path, img, size, 0640);
	attach_fails(path, "ABI version");
	free(img);
}
END_TEST

START_TEST(test_attach_abi)
{
	size_t size;
	char path[PATH_MAX], *img = valid_image(&size);
	struct shm_header *h = (struct shm_header *)(void *)img;
	struct shm_view v;

	path_of(path, sizeof(path), "abi.shm");
	h->abi_major = SHM_ABI_MAJOR + 1;
	put_file(path, img, size, 0640);
	attach_fails(path, "segment ABI version 2.0; this proxyctl reads 1.x");
	h->abi_major = SHM_ABI_MAJOR - 1;
	put_file(path, img, size, 0640);
	attach_fails(path, "ABI version");
	/* a newer minor only appends: still readable */
	h->abi_major = SHM_ABI_MAJOR;
	h->abi_minor = SHM_ABI_MINOR + 1;
	put_file(path, img, size, 0640);
	attach_ok(&v, path);
	shm_detach(&v);
	free(img);
}
END_TEST

START_TEST(test_attach_not_regular)
{
	attach_fails(tmpdir, "not a proxyd shared-memory segment");
	attach_fails("/dev/null", "not a proxyd shared-memory segment");
}
END_TEST

/* A FIFO at the path (a mistake, or a trap) must be refused, not waited
 * on forever: shm_attach runs in a child given 3 s. */
START_TEST(test_attach_fifo)
{
	char path[PATH_MAX], err[512];
	struct shm_view v;
	int64_t end;
	int status;
	pid_t pid;

	path_of(path, sizeof(path), "fifo.shm");
	ck_assert_int_eq(mkfifo(path, 0640), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(shm_attach(&v, path, err, sizeof(err)) == -1 &&
		                      strstr(err, "not a proxyd") != NULL
		              ? 0
		              : 1);
	for (end = now_ms() + 3000; now_ms() < end;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ck_assert_msg(WIFEXITED(status) &&
			                      WEXITSTATUS(status) == 0,
			              "FIFO: no \"not a proxyd\" error");
			return;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ck_abort_msg("shm_attach(%s) blocks on a FIFO (open without "
	             "O_NONBLOCK): proxyctl -s FIFO hangs",
	             path);
}
END_TEST

/* As root, drops to nobody (this test runs in its own process) so the
 * file's mode is what refuses; as anyone else, a mode 0 file does. */
START_TEST(test_attach_permission)
{
	const char *fork_mode = getenv("CK_FORK");
	char dir[PATH_MAX], path[PATH_MAX];
	struct shm_segment seg;

	if (geteuid() == 0 && fork_mode && strcmp(fork_mode, "no") == 0)
		return; /* dropping root would last for the other tests */
	path_of(dir, sizeof(dir), "perm");
	ck_assert_int_eq(mkdir(dir, 0711), 0);
	create(&seg, "perm/proxyd.shm", 2);
	snprintf(path, sizeof(path), "%s", seg.path);
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(tmpdir, 0711), 0);
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			return; /* no way to be refused: nothing to test */
	} else {
		ck_assert_int_eq(chmod(path, 0), 0);
	}
	attach_fails(path, "permission denied (run as root or as a member "
	                   "of the file's group)");
}
END_TEST

START_TEST(test_master_alive)
{
	struct shm_segment seg;
	struct shm_header *h;
	struct shm_view v;
	pid_t dead;

	create(&seg, "alive.shm", 2);
	attach_ok(&v, seg.path);
	h = shm_header(&seg);
	prctl(PR_SET_NAME, "check_shm");
	ck_assert_msg(!shm_master_alive(&v), "a live pid that is not proxyd");
	prctl(PR_SET_NAME, "proxyd");
	ck_assert_msg(shm_master_alive(&v), "this live \"proxyd\" is dead");
	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
	h->master_pid = dead;
	ck_assert_msg(!shm_master_alive(&v), "dead pid %d alive", (int)dead);
	h->master_pid = 0;
	ck_assert(!shm_master_alive(&v));
	h->master_pid = -1;
	ck_assert(!shm_master_alive(&v));
	h->master_pid = (int64_t)1 << 40; /* not a pid_t */
	ck_assert(!shm_master_alive(&v));
	h->master_pid = getpid();
	h->state = SHM_STATE_STARTING;
	ck_assert(!shm_master_alive(&v));
	h->state = SHM_STATE_STOPPED;
	ck_assert(!shm_master_alive(&v));
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* ---- a damaged segment never crashes a reader ---------------------- */

/* Sets one header field (of width w at off) to an awkward value. */
static void
poke_field(char *img, size_t size, uint64_t *state)
{
	static const size_t fields[][2] = {
	        {offsetof(struct shm_header, size), 8},
	        {offsetof(struct shm_header, master_pid), 8},
	        {offsetof(struct shm_header, state), 4},
	        {offsetof(struct shm_header, generation), 4},
	        {offsetof(struct shm_header, n_counters), 4},
	        {offsetof(struct shm_header, n_slots), 4},
	        {offsetof(struct shm_header, slot_size), 4},
	        {offsetof(struct shm_header, desc_off), 8},
	        {offsetof(struct shm_header, retired_off), 8},
	        {offsetof(struct shm_header, master_off), 8},
	        {offsetof(struct shm_header, slots_off), 8},
	        {offsetof(struct shm_header, rules_off), 8},
	        {offsetof(struct shm_header, rules_size), 8},
	};
	const uint64_t values[] = {
	        0,         1,          7,
	        8,         63,         64,
	        65,        size,       size - 8,
	        size + 64, UINT32_MAX, UINT64_MAX,
	        1024,      1025,       4096,
	        4097,      size / 2,   (uint64_t)1 << 31,
	        3,         2,          UINT64_MAX - 7,
	};
	size_t f = rnd(state) % (sizeof(fields) / sizeof(fields[0]));
	uint64_t v = values[rnd(state) % (sizeof(values) / sizeof(values[0]))];
	uint32_t v32 = (uint32_t)v;

	if (fields[f][1] == 8)
		memcpy(img + fields[f][0], &v, 8);
	else
		memcpy(img + fields[f][0], &v32, 4);
}

/* One damage: a header field, random header bytes, or description bytes
 * (a name without its NUL, a kind out of range). */
static void
damage(char *img, size_t size, uint64_t *state, unsigned i)
{
	const struct shm_header *h = (const struct shm_header *)(void *)img;
	size_t descs = h->desc_off, n, j;

	switch (i % 3) {
	case 0:
		poke_field(img, size, state);
		break;
	case 1:
		n = 1 + rnd(state) % 4;
		for (j = 0; j < n; j++)
			img[16 + rnd(state) % (sizeof(*h) - 16)] =
			        (char)rnd(state);
		break;
	default:
		n = 1 + rnd(state) % 16;
		for (j = 0; j < n; j++)
			img[descs + rnd(state) % (N_TABLE * 168)] =
			        (char)rnd(state);
		break;
	}
}

/* What a reader does with a segment it accepted. */
static void
use(const struct shm_view *v, FILE *null)
{
	struct shm_snapshot s, prev;

	(void)shm_master_alive(v);
	if (shm_snapshot_take(v, &s) < 0)
		return;
	if (shm_snapshot_take(v, &prev) == 0) {
		shm_render_table(v, &s, &prev, null);
		shm_snapshot_free(&prev);
	}
	shm_render_json(v, &s, null);
	shm_render_prometheus(v, &s, null);
	shm_render_workers(v, &s, null);
	shm_snapshot_free(&s);
}

START_TEST(test_damaged_never_crashes)
{
	uint64_t state = 0x13198a2e03707344ULL;
	unsigned i, accepted = 0, refused = 0;
	size_t size, len;
	char *img = valid_image(&size), *work, err[512];
	FILE *null = fopen("/dev/null", "w");
	struct shm_view v;

	/* a heap copy: ASan sees any read past the end */
	ck_assert_ptr_nonnull(work = malloc(size));
	ck_assert_ptr_nonnull(null);
	for (i = 0; i < 3000; i++) {
		memcpy(work, img, size);
		damage(work, size, &state, i);
		if (shm_view_init(&v, work, size, err, sizeof(err)) == 0) {
			accepted++;
			use(&v, null);
			continue;
		}
		refused++;
		ck_assert_msg(err[0] && !strchr(err, '\n'), "error: \"%s\"",
		              err);
	}
	for (len = 0; len < size; len += 1 + len / 4)
		ck_assert_int_eq(shm_view_init(&v, img, len, err, sizeof(err)),
		                 -1);
	ck_assert_msg(accepted > 0 && refused > 0, "%u accepted, %u refused",
	              accepted, refused);
	fclose(null);
	free(work);
	free(img);
}
END_TEST

/* ---- JSON ---------------------------------------------------------- */

/* A strict little JSON (RFC 8259) syntax checker: each returns the end
 * of what it read, or NULL. */
static const char *json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	int i;

	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL; /* also the end of the text */
		if (*p++ != '\\')
			continue;
		if (*p == 'u') {
			for (i = 1; i <= 4; i++)
				if (!isxdigit((unsigned char)p[i]))
					return NULL;
			p += 5;
		} else if (*p != '\0' && strchr("\"\\/bfnrt", *p)) {
			p++;
		} else {
			return NULL;
		}
	}
	return p + 1;
}

static const char *
json_digits(const char *p)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

static const char *
json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = json_digits(p)))
		return NULL;
	if (*p == '.' && !(p = json_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = json_digits(p);
	}
	return p;
}

/* An object or an array. */
static const char *
json_container(const char *p, int depth)
{
	int object = *p == '{';
	char close = object ? '}' : ']';

	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if (!(p = json_string(p)))
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = json_value(p, depth + 1)))
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = json_ws(p);
	}
}

static const char *
json_value(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{' || *p == '[')
		return json_container(p, depth);
	if (*p == '"')
		return json_string(p);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	return json_number(p);
}

static int
json_valid(const char *text)
{
	const char *end = json_value(text, 0);

	return end != NULL && *json_ws(end) == '\0';
}

START_TEST(test_json_checker)
{
	/* the checker itself, so a pass below means something */
	ck_assert(json_valid("{\"a\":[1,-2.5e3,\"x\\u00e9\\n\",true,null],"
	                     "\"b\":{}}\n"));
	ck_assert(!json_valid("{\"a\":1,}"));
	ck_assert(!json_valid("{\"a\":01}"));
	ck_assert(!json_valid("{\"a\":\"\x01\"}"));
	ck_assert(!json_valid("{\"a\":\"\\x\"}"));
	ck_assert(!json_valid("{\"a\" 1}"));
	ck_assert(!json_valid("{\"a\":1}}"));
	ck_assert(!json_valid("[1,2"));
	ck_assert(!json_valid("{\"a\":nan}"));
}
END_TEST

/* "name":value for every counter, comma-separated, in table order. */
static void
expect_counters(FILE *f, const uint64_t *c)
{
	unsigned k;

	fputc('{', f);
	for (k = 0; k < N_TABLE; k++)
		fprintf(f, "%s\"%s\":%llu", k ? "," : "", table[k].name,
		        (unsigned long long)c[k]);
	fputc('}', f);
}

/* A snapshot fixed to the millisecond, so the text is too. */
struct fixed {
	struct shm_snapshot s;
	struct shm_worker_snap w[2];
	uint64_t totals[N_TABLE], master[N_TABLE], wc[2][N_TABLE];
};

static void
fixed_snapshot(struct fixed *x)
{
	unsigned k;

	memset(x, 0, sizeof(*x));
	for (k = 0; k < N_TABLE; k++) {
		x->wc[0][k] = k;
		x->wc[1][k] = 2 * k;
		x->master[k] = 0;
		x->totals[k] = 1000 + 3 * k;
	}
	x->master[counter_index("worker_starts")] = 3;
	x->s = (struct shm_snapshot){
	        .taken_at = 1700000010000ULL,
	        .generation = 7,
	        .master_pid = 4242,
	        .start_time = 1700000005000ULL,
	        .n_counters = N_TABLE,
	        .totals = x->totals,
	        .master = x->master,
	        .n_workers = 2,
	        .workers = x->w,
	};
	x->w[0] = (struct shm_worker_snap){
	        .slot = 0,
	        .head = {.state = SHM_SLOT_RUNNING,
	                 .pid = 777,
	                 .generation = 7,
	                 .start_time = 1700000008000ULL},
	        .counters = x->wc[0]};
	x->w[1] = (struct shm_worker_snap){
	        .slot = 5,
	        .head = {.state = SHM_SLOT_DRAINING,
	                 .pid = 778,
	                 .generation = 6,
	                 .start_time = 1700000006000ULL},
	        .counters = x->wc[1]};
}

static char *
expected_json(const struct fixed *x)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert(f != NULL);
	fputs("{\"generation\":7,\"master\":{\"pid\":4242,\"start_time\":"
	      "1700000005000,\"uptime_seconds\":5,\"counters\":",
	      f);
	expect_counters(f, x->master);
	fputs("},\"totals\":", f);
	expect_counters(f, x->totals);
	fputs(",\"workers\":[{\"slot\":0,\"pid\":777,\"state\":\"running\","
	      "\"generation\":7,\"uptime_seconds\":2,\"counters\":",
	      f);
	expect_counters(f, x->wc[0]);
	fputs("},{\"slot\":5,\"pid\":778,\"state\":\"draining\","
	      "\"generation\":6,\"uptime_seconds\":4,\"counters\":",
	      f);
	expect_counters(f, x->wc[1]);
	fputs("}]}\n", f);
	fclose(f);
	return text;
}

START_TEST(test_json_exact)
{
	struct shm_segment seg;
	struct shm_view v;
	struct fixed x;
	char *got, *want;

	create(&seg, "json.shm", 8);
	attach_ok(&v, seg.path);
	fixed_snapshot(&x);
	got = render(shm_render_json, &v, &x.s);
	want = expected_json(&x);
	ck_assert_msg(json_valid(got), "not JSON:\n%s", got);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* Names come from the file: quotes, backslashes and control characters
 * in them must not break the JSON. */
START_TEST(test_json_escapes)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	char *got;

	create(&seg, "jsonesc.shm", 4);
	snprintf(desc_w(&seg, 0)->name, SHM_NAME_MAX, "we\"ird\\na\x01me\t");
	snprintf(desc_w(&seg, 1)->name, SHM_NAME_MAX, "%s", "");
	shm_slot_start(&seg, 3, 99, 1);
	fill_slot(&seg, 3, 1);
	attach_ok(&v, seg.path);
	snap_ok(&v, &s);
	got = render(shm_render_json, &v, &s);
	ck_assert_msg(json_valid(got), "not JSON:\n%s", got);
	ck_assert_ptr_nonnull(
	        strstr(got, "\"we\\\"ird\\\\na\\u0001me\\u0009\""));
	ck_assert_ptr_nonnull(strstr(got, "\"totals\":{"));
	ck_assert_ptr_nonnull(strstr(got, "\"state\":\"running\""));
	free(got);
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* ---- Prometheus ---------------------------------------------------- */

/* A checker for the text exposition format 0.0.4 as proxyd writes it:
 * every sample follows the # HELP and # TYPE lines of its own family,
 * each family once, names [a-z_][a-z0-9_]*, counters named *_total. */
struct prom {
	unsigned line;
	unsigned families;
	unsigned samples;
	char help[128];   /* family of the last # HELP */
	char family[128]; /* family of the last # TYPE */
	char seen[16384]; /* "|family|family|..." */
	char why[256];
};

static int
prom_fail(struct prom *p, const char *why, const char *l, size_t len)
{
	snprintf(p->why, sizeof(p->why), "line %u: %s: \"%.*s\"", p->line, why,
	         (int)(len > 100 ? 100 : len), l);
	return -1;
}

static size_t
name_len(const char *l, size_t len)
{
	size_t n = 0;

	while (n < len && (isalnum((unsigned char)l[n]) || l[n] == '_'))
		n++;
	return n;
}

static int
prom_help(struct prom *p, const char *l, size_t len)
{
	size_t n = name_len(l, len);
	char key[132];

	if (!metric_name_ok(l, n) || n >= sizeof(p->help) || n == len ||
	    l[n] != ' ')
		return prom_fail(p, "bad # HELP", l, len);
	memcpy(p->help, l, n);
	p->help[n] = '\0';
	snprintf(key, sizeof(key), "|%s|", p->help);
	if (strstr(p->seen, key))
		return prom_fail(p, "a family twice", l, len);
	if (strlen(p->seen) + n + 2 >= sizeof(p->seen))
		return prom_fail(p, "too many families", l, len);
	strcat(p->seen, key + (p->seen[0] ? 1 : 0));
	return 0;
}

static int
prom_type(struct prom *p, const char *l, size_t len)
{
	size_t n = name_len(l, len);

	if (n != strlen(p->help) || memcmp(l, p->help, n) != 0 || n == len ||
	    l[n] != ' ')
		return prom_fail(p, "# TYPE not after its # HELP", l, len);
	if (len - n - 1 == 7 && memcmp(l + n + 1, "counter", 7) == 0) {
		if (n < 6 || memcmp(l + n - 6, "_total", 6) != 0)
			return prom_fail(p, "counter not named *_total", l,
			                 len);
	} else if (len - n - 1 != 5 || memcmp(l + n + 1, "gauge", 5) != 0) {
		return prom_fail(p, "type neither counter nor gauge", l, len);
	}
	memcpy(p->family, p->help, n + 1);
	p->families++;
	return 0;
}

/* After '{': label="value" pairs up to '}'; the index after it, or 0. */
static size_t
prom_labels(const char *l, size_t len, size_t i)
{
	size_t n;

	for (;;) {
		n = name_len(l + i, len - i);
		if (n == 0 || isdigit((unsigned char)l[i]))
			return 0;
		i += n;
		if (i + 1 >= len || l[i] != '=' || l[i + 1] != '"')
			return 0;
		for (i += 2; i < len && l[i] != '"'; i++)
			if (l[i] == '\\')
				i++;
		if (++i >= len)
			return 0;
		if (l[i] == '}')
			return i + 1;
		if (l[i++] != ',')
			return 0;
	}
}

static int
prom_sample(struct prom *p, const char *l, size_t len)
{
	size_t n = name_len(l, len), i = n;
	char value[64], *end;

	if (!metric_name_ok(l, n))
		return prom_fail(p, "bad metric name", l, len);
	if (!p->family[0] || strlen(p->family) != n ||
	    memcmp(l, p->family, n) != 0)
		return prom_fail(p, "no # HELP and # TYPE of its family before",
		                 l, len);
	if (i < len && l[i] == '{' && !(i = prom_labels(l, len, i + 1)))
		return prom_fail(p, "bad labels", l, len);
	if (i >= len || l[i] != ' ' || len - i - 1 >= sizeof(value) ||
	    len - i - 1 == 0)
		return prom_fail(p, "no value", l, len);
	memcpy(value, l + i + 1, len - i - 1);
	value[len - i - 1] = '\0';
	(void)strtod(value, &end);
	if (*end != '\0')
		return prom_fail(p, "value not a number", l, len);
	p->samples++;
	return 0;
}

static int
prom_check(const char *text, struct prom *p)
{
	const char *nl;
	size_t len;
	int rc;

	memset(p, 0, sizeof(*p));
	for (; *text; text = nl + 1) {
		p->line++;
		if (!(nl = strchr(text, '\n')))
			return prom_fail(p, "no newline at the end", text,
			                 strlen(text));
		len = (size_t)(nl - text);
		if (len == 0)
			rc = prom_fail(p, "empty line", text, len);
		else if (len > 7 && strncmp(text, "# HELP ", 7) == 0)
			rc = prom_help(p, text + 7, len - 7);
		else if (len > 7 && strncmp(text, "# TYPE ", 7) == 0)
			rc = prom_type(p, text + 7, len - 7);
		else if (text[0] == '#')
			rc = prom_fail(p, "a comment proxyd does not write",
			               text, len);
		else
			rc = prom_sample(p, text, len);
		if (rc < 0)
			return -1;
	}
	return 0;
}

START_TEST(test_prom_checker)
{
	struct prom p;

	ck_assert_int_eq(prom_check("# HELP a_total x\n# TYPE a_total counter\n"
	                            "a_total 1\na_total{w=\"0\",v=\"\\\"\"} 2\n"
	                            "# HELP g y\n# TYPE g gauge\n",
	                            &p),
	                 0);
	ck_assert_uint_eq(p.families, 2);
	ck_assert_uint_eq(p.samples, 2);
	ck_assert_int_eq(prom_check("a_total 1\n", &p), -1);
	ck_assert_int_eq(prom_check("# TYPE a counter\n", &p), -1);
	ck_assert_int_eq(prom_check("# HELP a x\n# TYPE a counter\n", &p), -1);
	ck_assert_int_eq(prom_check("# HELP A x\n# TYPE A gauge\nA 1\n", &p),
	                 -1);
	ck_assert_int_eq(prom_check("# HELP a x\n# TYPE a gauge\nb 1\n", &p),
	                 -1);
	ck_assert_int_eq(prom_check("# HELP a x\n# TYPE a gauge\na x\n", &p),
	                 -1);
	ck_assert_int_eq(prom_check("# HELP a x\n# TYPE a gauge\na 1", &p), -1);
	ck_assert_int_eq(prom_check("# HELP a x\n# TYPE a gauge\n"
	                            "# HELP a x\n# TYPE a gauge\n",
	                            &p),
	                 -1);
}
END_TEST

/* A segment with two running workers and known values in every block. */
static void
busy_segment(struct shm_segment *seg, const char *name)
{
	unsigned k;

	create(seg, name, 4);
	shm_slot_start(seg, 0, 500, 1);
	shm_slot_start(seg, 2, 502, 1);
	fill_slot(seg, 0, 10);
	fill_slot(seg, 2, 20);
	for (k = 0; k < N_TABLE; k++)
		retired_block(seg)[k] = is_gauge(k) ? 0 : 100;
	shm_master_counters(seg)[counter_index("worker_starts")] = 2;
}

/* line is "\n...\n": a whole line, the first one too. */
static void
want_line(const char *text, const char *line)
{
	ck_assert_msg(strstr(text, line) != NULL ||
	                      strncmp(text, line + 1, strlen(line + 1)) == 0,
	              "no line \"%s\" in:\n%.1500s", line, text);
}

START_TEST(test_prometheus_format)
{
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	struct prom p;
	char *text, line[256];
	const char *sfx;
	unsigned k;

	busy_segment(&seg, "prom.shm");
	attach_ok(&v, seg.path);
	snap_ok(&v, &s);
	text = render(shm_render_prometheus, &v, &s);
	ck_assert_msg(prom_check(text, &p) == 0, "%s", p.why);
	ck_assert_uint_eq(p.families, 2 * N_TABLE);
	ck_assert_uint_eq(p.samples, 3 * N_TABLE);
	for (k = 0; k < N_TABLE; k++) {
		sfx = is_gauge(k) ? "" : "_total";
		snprintf(line, sizeof(line), "\nproxyd_%s%s %llu\n",
		         table[k].name, sfx, (unsigned long long)s.totals[k]);
		want_line(text, line);
		snprintf(line, sizeof(line), "\n# HELP proxyd_%s%s %s\n",
		         table[k].name, sfx, table[k].help);
		want_line(text, line);
		snprintf(line, sizeof(line),
		         "\nproxyd_worker_%s%s{worker=\"2\"} %llu\n",
		         table[k].name, sfx, (unsigned long long)(20 + k));
		want_line(text, line);
	}
	free(text);
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* Names and help come from the file: a name that is no metric name is
 * left out, help is escaped, and the text stays valid. */
START_TEST(test_prometheus_hostile_descs)
{
	static const char *const bad[] = {"Bad-Name", "", "a b", "x\ny"};
	struct shm_segment seg;
	struct shm_view v;
	struct shm_snapshot s;
	struct prom p;
	unsigned k;
	char *text;

	create(&seg, "promesc.shm", 2);
	for (k = 0; k < 4; k++)
		snprintf(desc_w(&seg, k)->name, SHM_NAME_MAX, "%s", bad[k]);
	snprintf(desc_w(&seg, 4)->help, SHM_HELP_MAX, "a\\b\nc");
	attach_ok(&v, seg.path);
	snap_ok(&v, &s);
	text = render(shm_render_prometheus, &v, &s);
	ck_assert_msg(prom_check(text, &p) == 0, "%s\n%s", p.why, text);
	ck_assert_uint_eq(p.families, 2 * (N_TABLE - 4));
	ck_assert_ptr_nonnull(strstr(text, " a\\\\b\\nc\n"));
	free(text);
	shm_snapshot_free(&s);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* ---- the human table ----------------------------------------------- */

static char *
render_table(const struct shm_view *v, const struct shm_snapshot *s,
             const struct shm_snapshot *prev)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert(f != NULL);
	shm_render_table(v, s, prev, f);
	fclose(f);
	return text;
}

/* Rates per second against prev, "-" for gauges. */
START_TEST(test_table)
{
	struct shm_segment seg;
	struct shm_view v;
	struct fixed x, prev;
	char *text, want[128];
	unsigned k;

	create(&seg, "table.shm", 8);
	attach_ok(&v, seg.path);
	fixed_snapshot(&x);
	fixed_snapshot(&prev);
	prev.s.totals = prev.totals;
	prev.s.taken_at -= 2000;
	for (k = 0; k < N_TABLE; k++)
		prev.totals[k] = x.totals[k] - 10 * k;
	text = render_table(&v, &x.s, &prev.s);
	ck_assert_ptr_nonnull(strstr(
	        text, "proxyd pid 4242, up 5s, generation 7, 2 workers\n"));
	for (k = 0; k < N_TABLE; k++) {
		if (is_gauge(k))
			snprintf(want, sizeof(want), "\n%-28s %14llu %12s\n",
			         table[k].name, (unsigned long long)x.totals[k],
			         "-");
		else
			snprintf(want, sizeof(want), "\n%-28s %14llu %12.1f\n",
			         table[k].name, (unsigned long long)x.totals[k],
			         5.0 * k);
		ck_assert_msg(strstr(text, want), "no \"%s\" in\n%s", want,
		              text);
	}
	free(text);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* One line per worker: slot, pid, state, generation, ..., requests. */
START_TEST(test_workers_table)
{
	struct shm_segment seg;
	struct shm_view v;
	struct fixed x;
	char *text, *line, state[16];
	unsigned slot, gen, n = 0;
	unsigned long long active, requests;
	int pid, req = counter_index("requests");

	create(&seg, "workers.shm", 8);
	attach_ok(&v, seg.path);
	fixed_snapshot(&x);
	text = render(shm_render_workers, &v, &x.s);
	for (line = strchr(text, '\n'); line && line[1];
	     line = strchr(line + 1, '\n')) {
		ck_assert_int_eq(sscanf(line + 1,
		                        "%u %d %15s %u %*fs %llu %llu", &slot,
		                        &pid, state, &gen, &active, &requests),
		                 6);
		ck_assert_uint_eq(slot, x.w[n].slot);
		ck_assert_int_eq(pid, x.w[n].head.pid);
		ck_assert_str_eq(state, n ? "draining" : "running");
		ck_assert_uint_eq(gen, x.w[n].head.generation);
		ck_assert_uint_eq(requests, x.wc[n][req]);
		n++;
	}
	ck_assert_uint_eq(n, 2);
	free(text);
	shm_detach(&v);
	shm_destroy(&seg);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

static Suite *
shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *layout = tcase_create("layout");
	TCase *fold = tcase_create("fold");
	TCase *seqlock = tcase_create("seqlock");
	TCase *attach = tcase_create("attach");
	TCase *rendering = tcase_create("render");

	tcase_add_test(layout, test_abi_sizes);
	tcase_add_test(layout, test_segment_layout);
	tcase_add_test(layout, test_descriptions);
	tcase_add_test(layout, test_create_mode_and_rename);
	tcase_add_test(layout, test_create_replaces_stale);
	tcase_add_test(layout, test_create_error);
	tcase_add_test(layout, test_destroy);
	suite_add_tcase(s, layout);

	tcase_add_test(fold, test_slot_start_state_generation);
	tcase_add_test(fold, test_fold_on_exit);
	tcase_add_test(fold, test_fold_many_lives);
	suite_add_tcase(s, fold);

	tcase_set_timeout(seqlock, 30);
	tcase_add_test(seqlock, test_seqlock_busy_fails);
	tcase_add_test(seqlock, test_seqlock_reader_waits);
	tcase_add_test(seqlock, test_seqlock_concurrent);
	suite_add_tcase(s, seqlock);

	tcase_set_timeout(attach, 30);
	tcase_add_test(attach, test_attach_missing);
	tcase_add_test(attach, test_attach_truncated);
	tcase_add_test(attach, test_attach_random);
	tcase_add_test(attach, test_attach_abi);
	tcase_add_test(attach, test_attach_not_regular);
	tcase_add_test(attach, test_attach_fifo);
	tcase_add_test(attach, test_attach_permission);
	tcase_add_test(attach, test_master_alive);
	tcase_add_test(attach, test_damaged_never_crashes);
	suite_add_tcase(s, attach);

	tcase_add_test(rendering, test_json_checker);
	tcase_add_test(rendering, test_json_exact);
	tcase_add_test(rendering, test_json_escapes);
	tcase_add_test(rendering, test_prom_checker);
	tcase_add_test(rendering, test_prometheus_format);
	tcase_add_test(rendering, test_prometheus_hostile_descs);
	tcase_add_test(rendering, test_table);
	tcase_add_test(rendering, test_workers_table);
	suite_add_tcase(s, rendering);
	return s;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? 0 : 0;
}

int
main(void)
{
	SRunner *sr = srunner_create(shm_suite());
	const char *base = getenv("TMPDIR");
	int failed;

	/* one folder for the whole run, made before the tests fork and
	 * removed after them, whatever they left */
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_shm.XXXXXX",
	         base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror(tmpdir);
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
