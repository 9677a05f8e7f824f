/*
 * Choosing a server (worker/balance.c) and the worker's view of servers
 * (worker/backend.c): smooth weighted round robin, leastconn per weight
 * (in this worker and, through the backends area, in every worker),
 * backup servers only when no other server is usable, a request's tried
 * servers left out, the consistent-hash ring (stable, and moving only the
 * keys it must when a server comes or goes), and random two-choices.
 *
 * Configurations are real proxyd.ini files loaded by config_load() in a
 * mkdtemp directory; the backends run as a worker runs them (event_init()
 * first, since backend_init() registers timer queues with the loop), with
 * private counters (no area) unless a test publishes one.
 */
#include "common/config.h"
#include "shm/backends.h"
#include "worker/backend.h"
#include "worker/event.h"
#include "worker/session-t.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* A reverse listener sending everything to [backend b], lines 1-4. */
#define REV                                                      \
	"[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n" \
	"default_backend = b\n"
#define N_KEYS 1000

static const char *const modes[] = {"roundrobin", "leastconn", "hash",
                                    "random"};

/* One folder per run, made before the tests fork and removed after them
 * (a failed test leaves its own folder in it); one folder per test. */
static char rundir[64];
static char tmpdir[96];
static int oldcwd = -1;
static struct config cfg; /* static: a config is megabytes */
static struct session s;  /* the request being balanced */
static struct session held[64];
static unsigned n_held;
static int running;
static struct backends_area area;
static char err[1024];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(oldcwd, 0);
	ck_assert_int_eq(chdir(tmpdir), 0);
	n_held = 0;
	running = 0;
	memset(&area, 0, sizeof(area));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
stop(void)
{
	if (!running)
		return;
	backend_fini();
	event_fini();
	running = 0;
}

static void
teardown(void)
{
	stop();
	shm_backends_unmap(&area);
	if (fchdir(oldcwd) == 0)
		nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	close(oldcwd);
}

/* Loads REV + the backend sections (the first is [backend b]) and runs
 * them with area a (NULL: private counters). */
static void
start_with(const char *backends_text, void *a)
{
	char text[16384];
	FILE *f;

	stop();
	snprintf(text, sizeof(text), REV "%s", backends_text);
	f = fopen("proxyd.ini", "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(config_load(&cfg, "proxyd.ini", err, sizeof(err)) == 0,
	              "%s\n--- file:\n%s", err, text);
	/* as worker_start() does: the loop first, then the backends */
	ck_assert_int_eq(event_init(), 0);
	ck_assert_int_eq(backend_init(&cfg, a, 0), 0);
	running = 1;
	n_held = 0;
}

static void
start(const char *backends_text)
{
	start_with(backends_text, NULL);
}

/* A backend b of n servers 10.0.0.1:80.. with the given weights and the
 * balance asked for, plus extra lines. */
static void
start_weights(const char *balance, const unsigned *w, unsigned n,
              const char *extra)
{
	char text[8192];
	size_t used;
	unsigned i;

	used = (size_t)snprintf(text, sizeof(text),
	                        "[backend b]\nbalance = %s\n%s", balance,
	                        extra);
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		                         "server = 10.0.0.%u:80 weight=%u\n",
		                         i + 1, w[i]);
	start(text);
}

static void
fresh(struct session *x)
{
	memset(x, 0, sizeof(*x));
	x->backend = 0;
	x->server = -1;
}

/* A new request's first pick. */
static int
pick(uint64_t hash)
{
	fresh(&s);
	return backend_pick(&s, hash);
}

/* A request in flight on server i. */
static struct session *
hold(int i)
{
	struct session *x;

	ck_assert_uint_lt(n_held, N_ELEMS(held));
	x = &held[n_held++];
	fresh(x);
	x->server = i;
	backend_attach(x);
	return x;
}

/* n requests on server i fail in a row. */
static void
fail_on(int i, unsigned n)
{
	struct session x;

	fresh(&x);
	x.server = i;
	while (n--)
		backend_failure(&x);
}

static void
succeed_on(int i)
{
	struct session x;

	fresh(&x);
	x.server = i;
	backend_success(&x);
}

static uint64_t
key_hash(unsigned k)
{
	char key[32];
	int len = snprintf(key, sizeof(key), "203.0.113.%u:key-%u", k % 256, k);

	return backend_hash(key, (size_t)len, 0);
}

static void
publish(unsigned rows)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/proxyd.shm", tmpdir);
	ck_assert_msg(shm_backends_publish(&area, path, &cfg, rows, 1,
	                                   (gid_t)-1, NULL, err,
	                                   sizeof(err)) == 0,
	              "%s", err);
}

static uint64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the backends as the worker runs them ---- */

START_TEST(init_without_area)
{
	start("[backend b]\nserver = 10.0.0.1:80\nserver = 10.0.0.2:80 "
	      "max_conns=2\n[backend c]\nserver = 10.0.1.1:80\n");
	ck_assert_uint_eq(backends.n_backends, 2);
	ck_assert_uint_eq(backends.n_servers, 3);
	ck_assert_ptr_null(backends.health);
	ck_assert_ptr_nonnull(backends.row);
	ck_assert_uint_eq(backends.n_rows, 1);
	ck_assert_ptr_eq(backends.sv[1].cfg, &cfg.servers[1]);
	ck_assert_ptr_eq(backends.b[1].cfg, &cfg.backends[1]);
	ck_assert_uint_eq(backends.b[0].q_connect.duration, 10000);
	ck_assert_uint_eq(backends.b[0].q_response.duration, 60000);
	ck_assert_ptr_null(backends.b[0].ring);
	ck_assert(backend_usable(0));
	ck_assert(backend_usable(2));
	backend_fini();
	ck_assert_ptr_null(backends.b);
	ck_assert_uint_eq(backends.n_servers, 0);
	/* again, as a worker of the next generation would */
	event_fini();
	running = 0;
	start("[backend b]\nserver = 10.0.0.1:80\nbalance = hash\n"
	      "connect_timeout = 2s\nresponse_timeout = 5s\n");
	ck_assert_uint_eq(backends.b[0].q_connect.duration, 2000);
	ck_assert_uint_eq(backends.b[0].q_response.duration, 5000);
	ck_assert_ptr_nonnull(backends.b[0].ring);
	ck_assert_uint_eq(backends.b[0].ring_len, 160);
}
END_TEST

START_TEST(attach_detach_counts)
{
	struct session *x;

	start("[backend b]\nserver = 10.0.0.1:80\nserver = 10.0.0.2:80\n");
	x = hold(1);
	ck_assert_uint_eq(backends.sv[1].active, 1);
	ck_assert_uint_eq(backends.row[1].active, 1);
	ck_assert_uint_eq(backends.row[1].requests, 1);
	ck_assert_uint_eq(x->attempts, 1);
	ck_assert_uint_eq(x->on_server, 1);
	ck_assert_uint_eq(x->tried[0], 2);
	hold(1);
	ck_assert_uint_eq(backends.row[1].active, 2);
	backend_detach(x);
	ck_assert_uint_eq(backends.sv[1].active, 1);
	ck_assert_uint_eq(backends.row[1].active, 1);
	ck_assert_uint_eq(x->on_server, 0);
	/* a second detach of the same request changes nothing */
	backend_detach(x);
	ck_assert_uint_eq(backends.sv[1].active, 1);
	ck_assert_uint_eq(backends.row[1].requests, 2);
	ck_assert_uint_eq(backends.row[0].active, 0);

	fail_on(0, 2);
	ck_assert_uint_eq(backends.row[0].failures, 2);
	ck_assert_uint_eq(backends.row[0].fail_streak, 2);
	ck_assert_uint_gt(backends.row[0].last_fail, 0);
	succeed_on(0);
	ck_assert_uint_eq(backends.row[0].fail_streak, 0);
	ck_assert_uint_eq(backends.row[0].failures, 2);
	/* no server yet: nothing to count */
	fresh(&s);
	backend_failure(&s);
	backend_success(&s);
	ck_assert_uint_eq(backends.row[0].failures, 2);
	ck_assert_uint_eq(backends.row[1].failures, 0);
}
END_TEST

START_TEST(hash_function)
{
	uint64_t a = backend_hash("abc", 3, 0);

	ck_assert_uint_eq(a, backend_hash("abc", 3, 0));
	ck_assert_uint_ne(a, backend_hash("abc", 3, 1));
	ck_assert_uint_ne(a, backend_hash("abd", 3, 0));
	ck_assert_uint_ne(a, backend_hash("ab", 2, 0));
	ck_assert_uint_ne(backend_hash("", 0, 0), backend_hash("", 0, 1));
}
END_TEST

/* ---- roundrobin ---- */

START_TEST(roundrobin_weights)
{
	static const unsigned w[] = {1, 2, 3};
	unsigned count[3] = {0}, window[3], i, j, run = 0;
	int last = -1, i_pick;

	start_weights("roundrobin", w, 3, "");
	for (i = 0; i < 600; i++) {
		i_pick = pick(0);
		ck_assert_int_ge(i_pick, 0);
		ck_assert_int_lt(i_pick, 3);
		count[i_pick]++;
		run = i_pick == last ? run + 1 : 1;
		ck_assert_msg(run <= 2,
		              "server %d %u times in a row at pick %u", i_pick,
		              run, i);
		last = i_pick;
	}
	ck_assert_uint_eq(count[0], 100);
	ck_assert_uint_eq(count[1], 200);
	ck_assert_uint_eq(count[2], 300);
	/* smooth: every period of 6 picks holds exactly 1, 2 and 3 */
	for (i = 0; i < 20; i++) {
		memset(window, 0, sizeof(window));
		for (j = 0; j < 6; j++)
			window[pick(0)]++;
		ck_assert_uint_eq(window[0], 1);
		ck_assert_uint_eq(window[1], 2);
		ck_assert_uint_eq(window[2], 3);
	}
}
END_TEST

START_TEST(roundrobin_equal_is_smooth)
{
	static const unsigned w[] = {1, 1, 1};
	unsigned count[3] = {0}, i;
	int last = -1, i_pick;

	start_weights("roundrobin", w, 3, "");
	for (i = 0; i < 300; i++) {
		i_pick = pick(0);
		ck_assert_int_ge(i_pick, 0);
		ck_assert_msg(i_pick != last, "server %d twice in a row",
		              i_pick);
		count[i_pick]++;
		last = i_pick;
	}
	ck_assert_uint_eq(count[0], 100);
	ck_assert_uint_eq(count[1], 100);
	ck_assert_uint_eq(count[2], 100);
}
END_TEST

/* A server at its max_conns is left out; the others share by weight. */
START_TEST(roundrobin_skips_full)
{
	unsigned count[3] = {0}, i;
	struct session *x;

	start("[backend b]\nserver = 10.0.0.1:80 max_conns=1\n"
	      "server = 10.0.0.2:80\nserver = 10.0.0.3:80 weight=2\n");
	x = hold(0);
	ck_assert(!backend_usable(0));
	for (i = 0; i < 300; i++)
		count[pick(0)]++;
	ck_assert_uint_eq(count[0], 0);
	ck_assert_uint_eq(count[1], 100);
	ck_assert_uint_eq(count[2], 200);
	backend_detach(x);
	ck_assert(backend_usable(0));
	memset(count, 0, sizeof(count));
	for (i = 0; i < 400; i++)
		count[pick(0)]++;
	ck_assert_uint_eq(count[0], 100);
	ck_assert_uint_eq(count[1], 100);
	ck_assert_uint_eq(count[2], 200);
}
END_TEST

/* ---- leastconn ---- */

START_TEST(leastconn_fewest)
{
	static const unsigned w[] = {1, 1, 1};
	unsigned i;

	start_weights("leastconn", w, 3, "");
	hold(0);
	hold(0);
	hold(2);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pick(0), 1);
	hold(1);
	hold(1);
	hold(1);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pick(0), 2);
	backend_detach(&held[0]);
	backend_detach(&held[1]);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pick(0), 0);
}
END_TEST

/* Fewest in flight per unit of weight: 1 on weight 1 beats 3 on
 * weight 2; 2 on weight 1 does not. */
START_TEST(leastconn_per_weight)
{
	static const unsigned w[] = {1, 2};

	start_weights("leastconn", w, 2, "");
	hold(0);
	hold(1);
	hold(1);
	hold(1);
	ck_assert_int_eq(pick(0), 0);
	hold(0);
	ck_assert_int_eq(pick(0), 1);
	hold(1);
	/* 2/1 against 4/2: a tie, either will do */
	ck_assert_int_ge(pick(0), 0);
	hold(1);
	ck_assert_int_eq(pick(0), 0);
}
END_TEST

/* With nothing in flight anywhere, ties do not all go to one server. */
START_TEST(leastconn_ties_rotate)
{
	static const unsigned w[] = {1, 1, 1};
	unsigned count[3] = {0}, i;

	start_weights("leastconn", w, 3, "");
	for (i = 0; i < 300; i++)
		count[pick(0)]++;
	ck_assert_uint_eq(count[0], 100);
	ck_assert_uint_eq(count[1], 100);
	ck_assert_uint_eq(count[2], 100);
}
END_TEST

/* Leastconn counts every worker's requests: another worker's row in the
 * backends area weighs as much as this worker's own. */
START_TEST(leastconn_every_worker)
{
	static const unsigned w[] = {1, 1, 1};
	struct shm_server_row *other;
	unsigned i;

	start_weights("leastconn", w, 3, "");
	publish(2);
	stop();
	ck_assert_int_eq(event_init(), 0);
	ck_assert_int_eq(backend_init(&cfg, area.base, 0), 0);
	running = 1;
	ck_assert_ptr_eq(backends.row, shm_backends_row(&area, 0));
	ck_assert_uint_eq(backends.n_rows, 2);
	other = shm_backends_row(&area, 1);
	other[0].active = 4;
	other[1].active = 1;
	other[2].active = 3;
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pick(0), 1);
	hold(1);
	hold(1);
	hold(1);
	/* 4 on server 1 now (1 there, 3 here), 3 on server 2 */
	ck_assert_uint_eq(shm_backends_row(&area, 0)[1].active, 3);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pick(0), 2);
	/* and a worker in a row out of range is refused */
	stop();
	ck_assert_int_eq(event_init(), 0);
	ck_assert_int_eq(backend_init(&cfg, area.base, 2), -1);
	backend_fini();
	event_fini();
}
END_TEST

/* ---- backups ---- */

/* For every balance: backups never while a primary is usable; when both
 * primaries are full or failing, the backup; back to the primaries as
 * soon as one is usable again; -1 when nothing is. */
START_TEST(backup_only_when_primaries_out)
{
	char text[512];
	struct session *x;
	unsigned i;
	int got;

	snprintf(text, sizeof(text),
	         "[backend b]\nbalance = %s\nfall = 2\n"
	         "server = 10.0.0.1:80 max_conns=1\n"
	         "server = 10.0.0.9:80 backup\n"
	         "server = 10.0.0.2:80 max_conns=1\n",
	         modes[_i]);
	start(text);
	for (i = 0; i < 200; i++) {
		got = pick(key_hash(i));
		ck_assert_msg(got == 0 || got == 2, "%s: picked %d", modes[_i],
		              got);
	}
	/* both primaries at max_conns */
	x = hold(0);
	hold(2);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), 1);
	backend_detach(x);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), 0);
	backend_detach(&held[1]);

	/* failures: `fall` in a row take a server out for this worker */
	fail_on(0, 1);
	ck_assert(backend_usable(0));
	fail_on(0, 1);
	ck_assert(!backend_usable(0));
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), 2);
	fail_on(2, 2);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), 1);
	succeed_on(2);
	ck_assert(backend_usable(2));
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), 2);
	fail_on(2, 2);
	fail_on(1, 2);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(pick(key_hash(i)), -1);
}
END_TEST

/* ---- tried servers ---- */

/* A retry walks every server once, whatever the balance; then none. */
START_TEST(tried_excluded)
{
	char text[512];
	unsigned i, seen, round;
	int got;

	snprintf(text, sizeof(text),
	         "[backend b]\nbalance = %s\nserver = 10.0.0.1:80\n"
	         "server = 10.0.0.2:80 weight=5\nserver = 10.0.0.3:80\n"
	         "server = 10.0.0.4:80 backup\n",
	         modes[_i]);
	start(text);
	for (round = 0; round < 20; round++) {
		fresh(&s);
		seen = 0;
		for (i = 0; i < 4; i++) {
			got = backend_pick(&s, key_hash(round));
			ck_assert_msg(got >= 0, "%s: nothing at try %u",
			              modes[_i], i);
			ck_assert_msg(!(seen & (1u << got)),
			              "%s: server %d picked twice", modes[_i],
			              got);
			/* the backup only once every primary was tried */
			if (i < 3)
				ck_assert_int_ne(got, 3);
			seen |= 1u << got;
			s.server = got;
			backend_attach(&s);
			backend_failure(&s);
			backend_detach(&s);
			succeed_on(got); /* keep it usable: only tried */
		}
		ck_assert_uint_eq(s.attempts, 4);
		ck_assert_int_eq(backend_pick(&s, key_hash(round)), -1);
	}
	/* tried set by hand: only server 2 is left among the primaries */
	fresh(&s);
	s.tried[0] = 0x3;
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(backend_pick(&s, key_hash(i)), 2);
}
END_TEST

/* ---- consistent hash ---- */

static void
map_keys(int *out)
{
	unsigned k;

	for (k = 0; k < N_KEYS; k++) {
		out[k] = pick(key_hash(k));
		ck_assert_int_ge(out[k], 0);
	}
}

START_TEST(hash_stable)
{
	static int a[N_KEYS], b[N_KEYS];
	static const char three[] = "[backend b]\nbalance = hash\n"
	                            "server = 10.0.0.1:80\n"
	                            "server = 10.0.0.2:80\n"
	                            "server = 10.0.0.3:80\n";
	unsigned count[3] = {0}, k;
	char name_a[128];

	start(three);
	map_keys(a);
	map_keys(b);
	for (k = 0; k < N_KEYS; k++) {
		ck_assert_int_eq(a[k], b[k]);
		count[a[k]]++;
	}
	for (k = 0; k < 3; k++)
		ck_assert_msg(count[k] >= 200, "server %u has %u keys of %u", k,
		              count[k], N_KEYS);
	/* another worker (a fresh start) maps every key the same way */
	start(three);
	map_keys(b);
	for (k = 0; k < N_KEYS; k++)
		ck_assert_int_eq(a[k], b[k]);
	/* the order of the lines does not matter: names decide */
	start("[backend b]\nbalance = hash\nserver = 10.0.0.3:80\n"
	      "server = 10.0.0.1:80\nserver = 10.0.0.2:80\n");
	map_keys(b);
	for (k = 0; k < N_KEYS; k++) {
		snprintf(name_a, sizeof(name_a), "10.0.0.%d:80", a[k] + 1);
		ck_assert_str_eq(cfg.servers[b[k]].name, name_a);
	}
}
END_TEST

/* A fourth server takes about a quarter of the keys, and only from the
 * other three: no key moves between two old servers. */
START_TEST(hash_add_server)
{
	static int a[N_KEYS], b[N_KEYS];
	unsigned k, moved = 0;

	start("[backend b]\nbalance = hash\nserver = 10.0.0.1:80\n"
	      "server = 10.0.0.2:80\nserver = 10.0.0.3:80\n");
	map_keys(a);
	start("[backend b]\nbalance = hash\nserver = 10.0.0.1:80\n"
	      "server = 10.0.0.2:80\nserver = 10.0.0.3:80\n"
	      "server = 10.0.0.4:80\n");
	map_keys(b);
	for (k = 0; k < N_KEYS; k++) {
		if (a[k] == b[k])
			continue;
		moved++;
		ck_assert_msg(b[k] == 3, "key %u moved from %d to %d", k, a[k],
		              b[k]);
	}
	ck_assert_msg(moved <= N_KEYS * 35 / 100, "%u of %u keys moved", moved,
	              N_KEYS);
	ck_assert_msg(moved >= N_KEYS * 10 / 100,
	              "only %u of %u keys went to the new server", moved,
	              N_KEYS);
}
END_TEST

/* A server out of use hands its keys to its ring neighbours; no other
 * key moves, and its keys come back when it does. */
START_TEST(hash_server_out)
{
	static int a[N_KEYS], b[N_KEYS];
	unsigned k, to[3] = {0}, moved = 0;

	start("[backend b]\nbalance = hash\nfall = 1\n"
	      "server = 10.0.0.1:80\nserver = 10.0.0.2:80\n"
	      "server = 10.0.0.3:80\n");
	map_keys(a);
	fail_on(1, 1);
	ck_assert(!backend_usable(1));
	map_keys(b);
	for (k = 0; k < N_KEYS; k++) {
		if (a[k] != 1) {
			ck_assert_msg(b[k] == a[k],
			              "key %u moved from %d to %d", k, a[k],
			              b[k]);
			continue;
		}
		ck_assert_int_ne(b[k], 1);
		to[b[k]]++;
		moved++;
	}
	ck_assert_uint_gt(moved, 0);
	/* spread over both neighbours, not dumped on one */
	ck_assert_msg(to[0] >= moved / 10 && to[2] >= moved / 10,
	              "moved keys: %u to server 0, %u to server 2", to[0],
	              to[2]);
	succeed_on(1);
	map_keys(b);
	for (k = 0; k < N_KEYS; k++)
		ck_assert_int_eq(a[k], b[k]);
}
END_TEST

START_TEST(hash_weights)
{
	static const unsigned w[] = {1, 3};
	unsigned count[2] = {0}, k;

	start_weights("hash", w, 2, "");
	ck_assert_uint_eq(backends.b[0].ring_len, 4 * 160);
	for (k = 0; k < 4 * N_KEYS; k++)
		count[pick(key_hash(k))]++;
	ck_assert_msg(count[0] >= N_KEYS * 6 / 10 &&
	                      count[0] <= N_KEYS * 14 / 10,
	              "weight 1: %u keys, weight 3: %u", count[0], count[1]);
}
END_TEST

/* ---- random (two choices) ---- */

START_TEST(random_spreads)
{
	static const unsigned eq[] = {1, 1, 1}, w[] = {1, 3};
	unsigned count[3] = {0}, i;

	start_weights("random", eq, 3, "");
	for (i = 0; i < 3000; i++)
		count[pick(0)]++;
	for (i = 0; i < 3; i++)
		ck_assert_msg(count[i] >= 800 && count[i] <= 1200,
		              "server %u: %u of 3000", i, count[i]);
	start_weights("random", w, 2, "");
	memset(count, 0, sizeof(count));
	for (i = 0; i < 4000; i++)
		count[pick(0)]++;
	ck_assert_msg(count[0] >= 800 && count[0] <= 1200,
	              "weight 1: %u of 4000, weight 3: %u", count[0], count[1]);
}
END_TEST

/* Of two servers drawn, the less loaded one: a busy server gets only the
 * picks where it was drawn twice (1 in 9 with three servers). */
START_TEST(random_prefers_less_loaded)
{
	static const unsigned eq[] = {1, 1, 1};
	unsigned count[3] = {0}, i;

	start_weights("random", eq, 3, "");
	for (i = 0; i < 10; i++)
		hold(0);
	for (i = 0; i < 3000; i++)
		count[pick(0)]++;
	ck_assert_msg(count[0] < 500, "busy server: %u of 3000", count[0]);
	ck_assert_msg(count[1] > 1000 && count[2] > 1000,
	              "idle servers: %u and %u of 3000", count[1], count[2]);
}
END_TEST

/* ---- health from the backends area ---- */

START_TEST(area_health)
{
	static const unsigned eq[] = {1, 1};
	struct shm_server *health;
	unsigned i;

	start_weights("roundrobin", eq, 2, "fall = 2\n");
	publish(1);
	stop();
	ck_assert_int_eq(event_init(), 0);
	ck_assert_int_eq(backend_init(&cfg, area.base, 0), 0);
	running = 1;
	health = shm_backends_servers(&area);
	ck_assert_ptr_eq(backends.health, health);
	ck_assert(backend_usable(0));
	health[0].state = SHM_SERVER_DOWN;
	ck_assert(!backend_usable(0));
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(pick(0), 1);
	health[0].state = SHM_SERVER_UP;
	ck_assert(backend_usable(0));

	/* requests failed `fall` times: out for this worker ... */
	health[1].last_change = unix_ms() - 1000;
	fail_on(1, 2);
	ck_assert(!backend_usable(1));
	ck_assert_uint_eq(shm_backends_row(&area, 0)[1].fail_streak, 2);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(pick(0), 0);
	/* ... until the checker changes the server's state after that */
	health[1].last_change = unix_ms() + 1000;
	ck_assert(backend_usable(1));
}
END_TEST

static Suite *
balance_suite(void)
{
	Suite *su = suite_create("balance");
	TCase *tc;

	tc = tcase_create("backend");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_without_area);
	tcase_add_test(tc, attach_detach_counts);
	tcase_add_test(tc, hash_function);
	tcase_add_test(tc, area_health);
	suite_add_tcase(su, tc);

	tc = tcase_create("roundrobin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roundrobin_weights);
	tcase_add_test(tc, roundrobin_equal_is_smooth);
	tcase_add_test(tc, roundrobin_skips_full);
	suite_add_tcase(su, tc);

	tc = tcase_create("leastconn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, leastconn_fewest);
	tcase_add_test(tc, leastconn_per_weight);
	tcase_add_test(tc, leastconn_ties_rotate);
	tcase_add_test(tc, leastconn_every_worker);
	suite_add_tcase(su, tc);

	tc = tcase_create("failover");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, backup_only_when_primaries_out, 0,
	                    (int)N_ELEMS(modes));
	tcase_add_loop_test(tc, tried_excluded, 0, (int)N_ELEMS(modes));
	suite_add_tcase(su, tc);

	tc = tcase_create("hash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hash_stable);
	tcase_add_test(tc, hash_add_server);
	tcase_add_test(tc, hash_server_out);
	tcase_add_test(tc, hash_weights);
	suite_add_tcase(su, tc);

	tc = tcase_create("random");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, random_spreads);
	tcase_add_test(tc, random_prefers_less_loaded);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(balance_suite());
	int failed;

	snprintf(rundir, sizeof(rundir), "/tmp/check_balance.XXXXXX");
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
