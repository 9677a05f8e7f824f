/*
 * The backends area (shm/backends.c, shm/backends_view.c): what the master
 * publishes next to the segment (shm_file + ".backends") reads back through
 * the view as configured (names, weights, backups, each backend's servers);
 * health carries over a reload by backend and server name; the rows of
 * per-worker counters are n_rows x n_servers and sum per server; and the
 * reader, which proxyctl points at a file it does not trust, refuses a
 * foreign, damaged or truncated file with a message and never reads
 * outside it.  Every test works in its own mkdtemp directory.
 */
#include "common/config.h"
#include "shm/backends.h"
#include "shm/shm.h"
#include "worker/backend.h"
#include "worker/event.h"
#include "worker/session-t.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Two backends, five servers: web (0..2) and api (3..4). */
static const char conf_a[] =
        "[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n"
        "default_backend = web\n"
        "[backend web]\n"
        "server = 10.0.0.1:80 weight=5\n"
        "server = 10.0.0.2:80 max_conns=7\n"
        "server = 10.0.0.3:80 backup\n"
        "balance = leastconn\n"
        "check = GET /healthz\n"
        "[backend api]\n"
        "server = 10.0.1.1:8080\n"
        "server = [::1]:8081 weight=2\n"
        "balance = hash\n"
        "check = tcp\n";

/* The next generation: api first, web's 10.0.0.2:80 also in api (a
 * different server), a new server in web, the lines in another order. */
static const char conf_b[] =
        "[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n"
        "default_backend = web\n"
        "[backend api]\n"
        "server = 10.0.0.2:80\n"
        "server = 10.0.1.1:8080\n"
        "[backend web]\n"
        "server = 10.0.0.4:80\n"
        "server = 10.0.0.2:80 weight=3\n"
        "server = 10.0.0.1:80\n";

static const char conf_none[] = "[listen f]\naddress = 127.0.0.1:3128\n";

/* One folder per run, made before the tests fork and removed after them
 * (a failed test leaves its own folder in it); one folder per test. */
static char rundir[64];
static char tmpdir[96];
static char shm_path[PATH_MAX]; /* tmpdir/proxyd.shm */
static char area_path[PATH_MAX + 16];
static struct config cfg; /* static: a config is megabytes */
static char err[1024];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(shm_path, sizeof(shm_path), "%s/proxyd.shm", tmpdir);
	snprintf(area_path, sizeof(area_path), "%s%s", shm_path,
	         SHM_BACKENDS_SUFFIX);
	err[0] = '\0';
}

static void
teardown(void)
{
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
load(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/proxyd.ini", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(config_load(&cfg, path, err, sizeof(err)) == 0, "%s",
	              err);
}

static void
publish(struct backends_area *a, const char *path, unsigned rows, unsigned gen,
        const struct backends_area *old)
{
	ck_assert_msg(shm_backends_publish(a, path, &cfg, rows, gen, (gid_t)-1,
	                                   old, err, sizeof(err)) == 0,
	              "publish: %s", err);
	ck_assert_ptr_nonnull(a->base);
}

static void
attach_ok(struct shm_backends_view *v, const char *path)
{
	int rc = shm_backends_attach(v, path, err, sizeof(err));

	ck_assert_msg(rc == 0, "attach %s: %d %s", path, rc, err);
}

/* Every record the view hands out lies inside the mapping, as does every
 * row shm_backends_view_sum() reads: what a reader may rely on once
 * attach said yes. */
static void
view_in_bounds(const struct shm_backends_view *v)
{
	const char *base = v->base, *end = base + v->size;
	const struct shm_backend *b;
	struct shm_server_row sum;
	unsigned i, j, idx;

	for (i = 0; i < v->h->n_backends; i++) {
		b = shm_backends_view_backend(v, i);
		ck_assert((const char *)b >= base &&
		          (const char *)(b + 1) <= end);
		ck_assert_ptr_nonnull(memchr(b->name, 0, sizeof(b->name)));
		for (j = 0; j < b->n_servers; j++) {
			const struct shm_server *sv;

			idx = b->first_server + j;
			ck_assert_uint_lt(idx, v->h->n_servers);
			sv = shm_backends_view_server(v, idx);
			ck_assert((const char *)sv >= base &&
			          (const char *)(sv + 1) <= end);
			ck_assert_ptr_nonnull(
			        memchr(sv->name, 0, sizeof(sv->name)));
			if (v->h->n_rows)
				ck_assert_uint_le(
				        v->h->rows_off +
				                ((uint64_t)(v->h->n_rows - 1) *
				                         v->h->n_servers +
				                 idx + 1) *
				                        sizeof(struct
				                               shm_server_row),
				        v->size);
			shm_backends_view_sum(v, idx, &sum);
		}
	}
}

/* ---- publish, then read back ---- */

START_TEST(publish_and_attach)
{
	static const struct {
		const char *name;
		unsigned backend, weight, max_conns, backup;
	} want[] = {
	        {"10.0.0.1:80", 0, 5, 0, 0}, {"10.0.0.2:80", 0, 1, 7, 0},
	        {"10.0.0.3:80", 0, 1, 0, 1}, {"10.0.1.1:8080", 1, 1, 0, 0},
	        {"[::1]:8081", 1, 2, 0, 0},
	};
	struct backends_area a;
	struct shm_backends_view v;
	const struct shm_backend *b;
	const struct shm_server *sv;
	struct stat st;
	struct dirent *de;
	DIR *d;
	unsigned i;

	load(conf_a);
	publish(&a, shm_path, 4, 7, NULL);
	ck_assert_int_eq(stat(area_path, &st), 0);
	ck_assert_uint_eq((size_t)st.st_size, a.size);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	/* only the file itself: no temporary left behind */
	d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		ck_assert_msg(
		        de->d_name[0] == '.' ||
		                strcmp(de->d_name, "proxyd.ini") == 0 ||
		                strcmp(de->d_name, "proxyd.shm.backends") == 0,
		        "left behind: %s", de->d_name);
	closedir(d);

	attach_ok(&v, shm_path);
	ck_assert_uint_eq(v.size, a.size);
	ck_assert_uint_eq(v.h->magic, SHM_BACKENDS_MAGIC);
	ck_assert_uint_eq(v.h->abi_major, SHM_ABI_MAJOR);
	ck_assert_uint_eq(v.h->abi_minor, SHM_ABI_MINOR);
	ck_assert_uint_eq(v.h->size, a.size);
	ck_assert_int_eq(v.h->master_pid, getpid());
	ck_assert_uint_eq(v.h->generation, 7);
	ck_assert_uint_eq(v.h->n_backends, 2);
	ck_assert_uint_eq(v.h->n_servers, 5);
	ck_assert_uint_eq(v.h->n_rows, 4);
	ck_assert_uint_eq(v.h->backends_off % 64, 0);
	ck_assert_uint_eq(v.h->servers_off % 64, 0);
	ck_assert_uint_eq(v.h->rows_off % 64, 0);
	ck_assert_uint_eq(v.h->size,
	                  v.h->rows_off +
	                          4 * 5 * sizeof(struct shm_server_row));

	b = shm_backends_view_backend(&v, 0);
	ck_assert_str_eq(b->name, "web");
	ck_assert_str_eq(b->check, "GET /healthz");
	ck_assert_uint_eq(b->balance, BALANCE_LEASTCONN);
	ck_assert_uint_eq(b->first_server, 0);
	ck_assert_uint_eq(b->n_servers, 3);
	b = shm_backends_view_backend(&v, 1);
	ck_assert_str_eq(b->name, "api");
	ck_assert_str_eq(b->check, "tcp");
	ck_assert_uint_eq(b->balance, BALANCE_HASH);
	ck_assert_uint_eq(b->first_server, 3);
	ck_assert_uint_eq(b->n_servers, 2);
	for (i = 0; i < N_ELEMS(want); i++) {
		sv = shm_backends_view_server(&v, i);
		ck_assert_str_eq(sv->name, want[i].name);
		ck_assert_uint_eq(sv->backend, want[i].backend);
		ck_assert_uint_eq(sv->weight, want[i].weight);
		ck_assert_uint_eq(sv->max_conns, want[i].max_conns);
		ck_assert_uint_eq(sv->backup, want[i].backup);
		ck_assert_uint_eq(sv->state, SHM_SERVER_UP);
		ck_assert_uint_eq(sv->result, SHM_CHECK_NONE);
		ck_assert_uint_eq(sv->changes, 0);
		/* area index == config index, which the workers rely on */
		ck_assert_str_eq(sv->name, cfg.servers[i].name);
	}
	ck_assert_ptr_eq(shm_backends_servers(&a),
	                 (const char *)a.base + v.h->servers_off);
	view_in_bounds(&v);
	shm_backends_detach(&v);
	ck_assert_ptr_null(v.base);
	ck_assert_ptr_null(v.h);
	shm_backends_unmap(&a);
	ck_assert_ptr_null(a.base);
	shm_backends_unmap(&a); /* twice is harmless */
}
END_TEST

START_TEST(rows_and_sum)
{
	struct backends_area a;
	struct shm_backends_view v;
	struct shm_server_row *row, sum;
	const struct shm_backends_header *h;
	unsigned r, i;

	load(conf_a);
	publish(&a, shm_path, 3, 1, NULL);
	h = shm_backends_header(&a);
	for (r = 0; r < 3; r++) {
		row = shm_backends_row(&a, r);
		ck_assert_ptr_eq(row, (struct shm_server_row *)((char *)a.base +
		                                                h->rows_off) +
		                              r * 5);
		for (i = 0; i < 5; i++) {
			ck_assert_uint_eq(row[i].active, 0);
			ck_assert_uint_eq(row[i].requests, 0);
			row[i].active = r + 1;
			row[i].requests = 10 * (r + 1) + i;
			row[i].failures = i;
			row[i].fail_streak = r == 1 ? 5 + i : r;
			row[i].last_fail = 1000 * (r == 2) + i;
			row[i].retries = 1;
		}
	}
	ck_assert_ptr_null(shm_backends_row(&a, 3));
	attach_ok(&v, shm_path);
	for (i = 0; i < 5; i++) {
		shm_backends_view_sum(&v, i, &sum);
		ck_assert_uint_eq(sum.active, 1 + 2 + 3);
		ck_assert_uint_eq(sum.requests, 60 + 3 * i);
		ck_assert_uint_eq(sum.failures, 3 * i);
		ck_assert_uint_eq(sum.retries, 3);
		ck_assert_uint_eq(sum.fail_streak, 5 + i);  /* the worst row */
		ck_assert_uint_eq(sum.last_fail, 1000 + i); /* the latest */
	}

	/* a worker in row 2 counts into its own row, seen by the reader */
	ck_assert_int_eq(event_init(), 0);
	ck_assert_int_eq(backend_init(&cfg, a.base, 2), 0);
	ck_assert_ptr_eq(backends.row, shm_backends_row(&a, 2));
	{
		static struct session s;

		memset(&s, 0, sizeof(s));
		s.backend = 1;
		s.server = 4;
		backend_attach(&s);
		shm_backends_view_sum(&v, 4, &sum);
		ck_assert_uint_eq(sum.requests, 60 + 12 + 1);
		ck_assert_uint_eq(shm_backends_row(&a, 2)[4].active, 1);
		ck_assert_uint_eq(sum.active, 1 + 2 + 1);
		backend_detach(&s);
		shm_backends_view_sum(&v, 4, &sum);
		ck_assert_uint_eq(sum.active, 1 + 2 + 0);
	}
	backend_fini();
	event_fini();
	/* the rows of a server never spill into its neighbour's */
	shm_backends_view_sum(&v, 3, &sum);
	ck_assert_uint_eq(sum.requests, 60 + 9);
	shm_backends_detach(&v);
	shm_backends_unmap(&a);
}
END_TEST

/* A reload: health follows backend + server name into the new area,
 * counters start again, and the old mapping stays readable. */
START_TEST(state_carries_over)
{
	struct backends_area a1, a2;
	struct shm_backends_view v;
	struct shm_server *old;
	const struct shm_server *sv;
	struct shm_server_row sum;
	unsigned i;

	load(conf_a);
	publish(&a1, shm_path, 2, 1, NULL);
	old = (struct shm_server *)((char *)a1.base +
	                            shm_backends_header(&a1)->servers_off);
	old[1].state = SHM_SERVER_DOWN; /* web 10.0.0.2:80 */
	old[1].result = SHM_CHECK_REFUSED;
	old[1].last_status = 0;
	old[1].last_check = 111;
	old[1].last_change = 222;
	old[1].changes = 3;
	old[3].result = SHM_CHECK_OK; /* api 10.0.1.1:8080 */
	old[3].last_status = 204;
	old[3].last_check = 333;
	old[3].last_change = 44;
	old[3].changes = 1;
	shm_backends_row(&a1, 0)[1].failures = 9;

	load(conf_b);
	publish(&a2, shm_path, 3, 2, &a1);
	attach_ok(&v, shm_path);
	ck_assert_uint_eq(v.h->generation, 2);
	ck_assert_uint_eq(v.h->n_rows, 3);
	ck_assert_str_eq(shm_backends_view_backend(&v, 0)->name, "api");
	ck_assert_str_eq(shm_backends_view_backend(&v, 1)->name, "web");
	ck_assert_uint_eq(shm_backends_view_backend(&v, 1)->first_server, 2);

	/* api 10.0.0.2:80: the same name, another backend: a new server */
	sv = shm_backends_view_server(&v, 0);
	ck_assert_str_eq(sv->name, "10.0.0.2:80");
	ck_assert_uint_eq(sv->state, SHM_SERVER_UP);
	ck_assert_uint_eq(sv->result, SHM_CHECK_NONE);
	ck_assert_uint_eq(sv->changes, 0);
	ck_assert_uint_eq(sv->last_change, 0);
	/* api 10.0.1.1:8080 keeps what its checks said */
	sv = shm_backends_view_server(&v, 1);
	ck_assert_uint_eq(sv->state, SHM_SERVER_UP);
	ck_assert_uint_eq(sv->result, SHM_CHECK_OK);
	ck_assert_uint_eq(sv->last_status, 204);
	ck_assert_uint_eq(sv->last_check, 333);
	ck_assert_uint_eq(sv->last_change, 44);
	ck_assert_uint_eq(sv->changes, 1);
	/* web 10.0.0.4:80 is new */
	sv = shm_backends_view_server(&v, 2);
	ck_assert_str_eq(sv->name, "10.0.0.4:80");
	ck_assert_uint_eq(sv->state, SHM_SERVER_UP);
	ck_assert_uint_eq(sv->result, SHM_CHECK_NONE);
	/* web 10.0.0.2:80 stays down, with its new weight */
	sv = shm_backends_view_server(&v, 3);
	ck_assert_str_eq(sv->name, "10.0.0.2:80");
	ck_assert_uint_eq(sv->backend, 1);
	ck_assert_uint_eq(sv->weight, 3);
	ck_assert_uint_eq(sv->max_conns, 0);
	ck_assert_uint_eq(sv->state, SHM_SERVER_DOWN);
	ck_assert_uint_eq(sv->result, SHM_CHECK_REFUSED);
	ck_assert_uint_eq(sv->last_check, 111);
	ck_assert_uint_eq(sv->last_change, 222);
	ck_assert_uint_eq(sv->changes, 3);
	sv = shm_backends_view_server(&v, 4);
	ck_assert_str_eq(sv->name, "10.0.0.1:80");
	ck_assert_uint_eq(sv->state, SHM_SERVER_UP);
	ck_assert_uint_eq(sv->weight, 1);
	/* counters belong to a generation's workers */
	for (i = 0; i < 5; i++) {
		shm_backends_view_sum(&v, i, &sum);
		ck_assert_uint_eq(sum.failures, 0);
	}
	/* the previous generation's mapping is untouched */
	ck_assert_uint_eq(shm_backends_header(&a1)->generation, 1);
	ck_assert_uint_eq(old[1].state, SHM_SERVER_DOWN);
	ck_assert_uint_eq(shm_backends_row(&a1, 0)[1].failures, 9);
	shm_backends_detach(&v);
	shm_backends_unmap(&a2);
	shm_backends_unmap(&a1);
}
END_TEST

/* No backends in the new generation: no file at all. */
START_TEST(no_backends)
{
	struct backends_area a;
	struct shm_backends_view v;
	struct stat st;

	load(conf_a);
	publish(&a, shm_path, 1, 1, NULL);
	shm_backends_unmap(&a);
	ck_assert_int_eq(stat(area_path, &st), 0);
	load(conf_none);
	ck_assert_int_eq(shm_backends_publish(&a, shm_path, &cfg, 1, 2,
	                                      (gid_t)-1, NULL, err,
	                                      sizeof(err)),
	                 0);
	ck_assert_ptr_null(a.base);
	ck_assert_int_eq(stat(area_path, &st), -1);
	strcpy(err, "untouched");
	ck_assert_int_eq(shm_backends_attach(&v, shm_path, err, sizeof(err)),
	                 1);
	ck_assert_str_eq(err, "untouched");
	ck_assert_ptr_null(v.base);
	shm_backends_remove(shm_path); /* nothing there: harmless */
	ck_assert_ptr_null(shm_backends_row(&a, 0));
	ck_assert_ptr_null(shm_backends_servers(&a));
}
END_TEST

START_TEST(attach_missing)
{
	struct shm_backends_view v;
	char path[PATH_MAX];

	ck_assert_int_eq(shm_backends_attach(&v, shm_path, err, sizeof(err)),
	                 1);
	snprintf(path, sizeof(path), "%s/no/such/dir/proxyd.shm", tmpdir);
	ck_assert_int_eq(shm_backends_attach(&v, path, err, sizeof(err)), 1);
}
END_TEST

START_TEST(publish_error)
{
	struct backends_area a;
	char path[PATH_MAX];

	load(conf_a);
	snprintf(path, sizeof(path), "%s/no/such/dir/proxyd.shm", tmpdir);
	ck_assert_int_eq(shm_backends_publish(&a, path, &cfg, 1, 1, (gid_t)-1,
	                                      NULL, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_null(a.base);
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
}
END_TEST

/* ---- untrusted files ---- */

/* A good area's bytes, to damage. */
static unsigned char *
good_bytes(size_t *len)
{
	struct backends_area a;
	unsigned char *copy;
	char path[PATH_MAX];

	load(conf_a);
	snprintf(path, sizeof(path), "%s/good.shm", tmpdir);
	publish(&a, path, 2, 1, NULL);
	*len = a.size;
	copy = malloc(a.size + 4096);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, a.base, a.size);
	memset(copy + a.size, 0, 4096);
	shm_backends_unmap(&a);
	return copy;
}

static void
write_area(const char *path, const void *bytes, size_t len)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Writes the bytes as the area of tmpdir/bad.shm and attaches: -1 with
 * the expected message, or (once accepted) nothing out of bounds. */
static int
attach_bytes(const void *bytes, size_t len)
{
	struct shm_backends_view v;
	char shm[PATH_MAX], path[PATH_MAX + 16];
	int rc;

	snprintf(shm, sizeof(shm), "%s/bad.shm", tmpdir);
	snprintf(path, sizeof(path), "%s%s", shm, SHM_BACKENDS_SUFFIX);
	write_area(path, bytes, len);
	err[0] = '\0';
	rc = shm_backends_attach(&v, shm, err, sizeof(err));
	if (rc == 0) {
		view_in_bounds(&v);
		shm_backends_detach(&v);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
		                      strstr(err, ": not a proxyd backends "
		                                  "area") != NULL,
		              "message: %s", err);
		ck_assert_ptr_null(v.base);
	}
	return rc;
}

#define HDR(p) ((struct shm_backends_header *)(void *)(p))
#define BACKEND(p, i) \
	((struct shm_backend *)(void *)((p) + HDR(p)->backends_off) + (i))
#define SERVER(p, i) \
	((struct shm_server *)(void *)((p) + HDR(p)->servers_off) + (i))

/* One way to damage a good area; returns the length to write. */
struct damage {
	const char *what;
	size_t (*apply)(unsigned char *p, size_t len);
};

static size_t
bad_magic(unsigned char *p, size_t len)
{
	HDR(p)->magic ^= 1;
	return len;
}

static size_t
bad_abi(unsigned char *p, size_t len)
{
	HDR(p)->abi_major = SHM_ABI_MAJOR + 1;
	return len;
}

static size_t
truncated(unsigned char *p, size_t len)
{
	(void)p;
	return len - sizeof(struct shm_server_row);
}

static size_t
truncated_to_header(unsigned char *p, size_t len)
{
	(void)p;
	(void)len;
	return sizeof(struct shm_backends_header);
}

static size_t
shorter_than_header(unsigned char *p, size_t len)
{
	(void)p;
	(void)len;
	return sizeof(struct shm_backends_header) - 1;
}

static size_t
empty(unsigned char *p, size_t len)
{
	(void)p;
	(void)len;
	return 0;
}

static size_t
longer(unsigned char *p, size_t len)
{
	(void)p;
	return len + 4096;
}

static size_t
size_field_lies(unsigned char *p, size_t len)
{
	HDR(p)->size = len + 4096;
	return len;
}

static size_t
huge_n_servers(unsigned char *p, size_t len)
{
	HDR(p)->n_servers = UINT32_MAX;
	return len;
}

static size_t
many_n_servers(unsigned char *p, size_t len)
{
	HDR(p)->n_servers = 65536; /* within the limit, not within the file */
	return len;
}

static size_t
huge_n_backends(unsigned char *p, size_t len)
{
	HDR(p)->n_backends = UINT32_MAX;
	return len;
}

static size_t
more_backends(unsigned char *p, size_t len)
{
	HDR(p)->n_backends = 1000;
	return len;
}

static size_t
huge_n_rows(unsigned char *p, size_t len)
{
	HDR(p)->n_rows = UINT32_MAX;
	return len;
}

static size_t
too_many_rows(unsigned char *p, size_t len)
{
	HDR(p)->n_rows = SHM_BACKENDS_MAX_ROWS + 1;
	return len;
}

static size_t
backends_off_beyond(unsigned char *p, size_t len)
{
	HDR(p)->backends_off = len + 64;
	return len;
}

static size_t
backends_off_max(unsigned char *p, size_t len)
{
	HDR(p)->backends_off = UINT64_MAX - 63;
	return len;
}

static size_t
backends_off_in_header(unsigned char *p, size_t len)
{
	HDR(p)->backends_off = 0;
	return len;
}

static size_t
backends_off_misaligned(unsigned char *p, size_t len)
{
	HDR(p)->backends_off += 1;
	return len;
}

static size_t
servers_off_beyond(unsigned char *p, size_t len)
{
	HDR(p)->servers_off = len;
	return len;
}

static size_t
servers_off_wraps(unsigned char *p, size_t len)
{
	HDR(p)->servers_off = UINT64_MAX - 7;
	return len;
}

static size_t
servers_off_misaligned(unsigned char *p, size_t len)
{
	HDR(p)->servers_off += 4;
	return len;
}

static size_t
rows_off_beyond(unsigned char *p, size_t len)
{
	HDR(p)->rows_off = len + 64;
	return len;
}

static size_t
rows_off_near_end(unsigned char *p, size_t len)
{
	HDR(p)->rows_off = len - sizeof(struct shm_server_row);
	return len;
}

static size_t
rows_off_misaligned(unsigned char *p, size_t len)
{
	HDR(p)->rows_off += 4;
	return len;
}

static size_t
first_server_beyond(unsigned char *p, size_t len)
{
	BACKEND(p, 1)->first_server = HDR(p)->n_servers + 1;
	return len;
}

static size_t
n_servers_beyond(unsigned char *p, size_t len)
{
	BACKEND(p, 1)->n_servers = 3; /* 3..5 of 5 */
	return len;
}

static size_t
n_servers_wraps(unsigned char *p, size_t len)
{
	BACKEND(p, 1)->first_server = 1;
	BACKEND(p, 1)->n_servers = UINT32_MAX;
	return len;
}

static size_t
backend_name_unterminated(unsigned char *p, size_t len)
{
	memset(BACKEND(p, 0)->name, 'A', sizeof(BACKEND(p, 0)->name));
	return len;
}

static size_t
check_unterminated(unsigned char *p, size_t len)
{
	memset(BACKEND(p, 1)->check, 'A', sizeof(BACKEND(p, 1)->check));
	return len;
}

static size_t
server_name_unterminated(unsigned char *p, size_t len)
{
	memset(SERVER(p, 4)->name, 'A', sizeof(SERVER(p, 4)->name));
	return len;
}

static const struct damage damages[] = {
        {"wrong magic", bad_magic},
        {"another ABI", bad_abi},
        {"truncated by a row", truncated},
        {"truncated to the header", truncated_to_header},
        {"shorter than a header", shorter_than_header},
        {"empty", empty},
        {"longer than its size", longer},
        {"size field beyond the file", size_field_lies},
        {"n_servers 2^32-1", huge_n_servers},
        {"n_servers 65536", many_n_servers},
        {"n_backends 2^32-1", huge_n_backends},
        {"n_backends 1000", more_backends},
        {"n_rows 2^32-1", huge_n_rows},
        {"n_rows over the maximum", too_many_rows},
        {"backends_off beyond the size", backends_off_beyond},
        {"backends_off near 2^64", backends_off_max},
        {"backends_off inside the header", backends_off_in_header},
        {"backends_off misaligned", backends_off_misaligned},
        {"servers_off at the size", servers_off_beyond},
        {"servers_off near 2^64", servers_off_wraps},
        {"servers_off misaligned", servers_off_misaligned},
        {"rows_off beyond the size", rows_off_beyond},
        {"rows_off too near the end", rows_off_near_end},
        {"rows_off misaligned", rows_off_misaligned},
        {"a backend's first_server beyond n_servers", first_server_beyond},
        {"a backend's servers beyond n_servers", n_servers_beyond},
        {"a backend's servers wrapping around", n_servers_wraps},
        {"a backend name without its NUL", backend_name_unterminated},
        {"a check without its NUL", check_unterminated},
        {"a server name without its NUL", server_name_unterminated},
};

START_TEST(damaged_refused)
{
	unsigned char *p;
	size_t len;

	p = good_bytes(&len);
	ck_assert_int_eq(attach_bytes(p, len), 0);
	len = damages[_i].apply(p, len);
	ck_assert_msg(attach_bytes(p, len) == -1, "%s: accepted",
	              damages[_i].what);
	free(p);
}
END_TEST

START_TEST(refused_messages)
{
	unsigned char *p;
	char want[PATH_MAX + 128];
	size_t len;

	p = good_bytes(&len);
	HDR(p)->magic = 0;
	ck_assert_int_eq(attach_bytes(p, len), -1);
	snprintf(want, sizeof(want),
	         "%s/bad.shm.backends: not a proxyd backends area of ABI %d",
	         tmpdir, SHM_ABI_MAJOR);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(attach_bytes(p, 10), -1);
	snprintf(want, sizeof(want),
	         "%s/bad.shm.backends: not a proxyd backends area", tmpdir);
	ck_assert_str_eq(err, want);
	free(p);
}
END_TEST

/* Not a regular file where the area should be. */
START_TEST(not_regular)
{
	struct shm_backends_view v;
	char want[PATH_MAX + 64];

	ck_assert_int_eq(mkdir(area_path, 0700), 0);
	ck_assert_int_eq(shm_backends_attach(&v, shm_path, err, sizeof(err)),
	                 -1);
	snprintf(want, sizeof(want), "%s: not a proxyd backends area",
	         area_path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(rmdir(area_path), 0);
	ck_assert_int_eq(mkfifo(area_path, 0600), 0);
	ck_assert_int_eq(shm_backends_attach(&v, shm_path, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(v.base);
}
END_TEST

START_TEST(unreadable)
{
	struct backends_area a;
	struct shm_backends_view v;

	if (geteuid() == 0)
		return; /* root reads it anyway */
	load(conf_a);
	publish(&a, shm_path, 1, 1, NULL);
	shm_backends_unmap(&a);
	ck_assert_int_eq(chmod(area_path, 0), 0);
	ck_assert_int_eq(shm_backends_attach(&v, shm_path, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "Permission denied"));
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random bytes, and a good area with random bytes changed in its header
 * and tables: refused, or accepted with everything in bounds; never a
 * crash (the ASan build catches any read outside the mapping). */
START_TEST(garbage_never_crashes)
{
	static unsigned char junk[8192];
	unsigned char *good, *p;
	size_t len, n, i, at;
	unsigned round, accepted = 0;

	for (round = 0; round < 200; round++) {
		n = (size_t)(next_random() % sizeof(junk));
		for (i = 0; i < n; i++)
			junk[i] = (unsigned char)next_random();
		ck_assert_int_eq(attach_bytes(junk, n), -1);
	}
	good = good_bytes(&len);
	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	for (round = 0; round < 2000; round++) {
		memcpy(p, good, len);
		for (i = 0; i < 1 + next_random() % 4; i++) {
			/* mostly the header and the backend records */
			at = round % 2 ? (size_t)(next_random() % 128)
			               : (size_t)(next_random() %
			                          (len < 2048 ? len : 2048));
			p[at] = (unsigned char)next_random();
		}
		if (attach_bytes(p, len) == 0)
			accepted++;
	}
	/* some changes are harmless (a byte of a name, of padding) */
	ck_assert_uint_gt(accepted, 0);
	free(p);
	free(good);
}
END_TEST

static Suite *
backends_area_suite(void)
{
	Suite *s = suite_create("backends_area");
	TCase *tc;

	tc = tcase_create("publish");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, publish_and_attach);
	tcase_add_test(tc, rows_and_sum);
	tcase_add_test(tc, state_carries_over);
	tcase_add_test(tc, no_backends);
	tcase_add_test(tc, attach_missing);
	tcase_add_test(tc, publish_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("untrusted");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, damaged_refused, 0, (int)N_ELEMS(damages));
	tcase_add_test(tc, refused_messages);
	tcase_add_test(tc, not_regular);
	tcase_add_test(tc, unreadable);
	tcase_add_test(tc, garbage_never_crashes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backends_area_suite());
	int failed;

	snprintf(rundir, sizeof(rundir), "/tmp/check_backends_area.XXXXXX");
	if (!mkdtemp(rundir)) {
		perror(rundir);
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
