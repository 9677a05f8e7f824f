/*
 * proxyctl against a running proxyd, all through the shared-memory
 * segment: requests of known kinds give exactly those totals, still exact
 * and never lower after a worker is killed and the master reloads; the
 * workers, rules and top views; reload and stop through the master; a
 * clear one-line refusal of every damaged, foreign or orphaned segment;
 * the [admin] endpoint; and readers polling during load that never see a
 * counter go down.  Every wait is bounded, every loop in count and time.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"
#include "tests/support/harness.h"

static const struct {
	const char *name;
	const char *kind;
} table[] = {
#define COUNTER(n, k, h) {#n, #k},
#include "common/tbl/counters.h"
};

#define N_TABLE ((unsigned)(sizeof(table) / sizeof(table[0])))
#define CTL_MS 10000       /* one proxyctl run */
#define SETTLE_MS 5000     /* counters reach what the clients saw */
#define LOADERS 3          /* load processes */
#define LOAD_EACH 100      /* requests per load process... */
#define LOAD_MAX_MS 20000  /* ...within this */
#define POLLS_MAX 5000     /* stats reads while the load runs */
#define KILL_LOAD_MS 3000  /* load across a kill and a reload */
#define SNAPS_PER_POLL 200 /* direct snapshots between proxyctl runs */

static struct harness_origin origin;
static struct harness_proxy proxy;

/* What proxyctl stats --json said. */
struct stats {
	uint64_t v[N_TABLE];
	unsigned generation;
};

/* The last stats read in this test: no counter may be lower later. */
static struct stats last;

static int
gauge(unsigned k)
{
	return strcmp(table[k].kind, "gauge") == 0;
}

static unsigned
idx(const char *name)
{
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		if (strcmp(table[k].name, name) == 0)
			return k;
	ck_abort_msg("no counter %s", name);
	return 0;
}

static const char *
proxyctl_bin(void)
{
	const char *v = getenv("PROXYCTL_BIN");

	return v != NULL && v[0] != '\0' ? v : "build/proxyctl";
}

/* proxyctl -s shm cmd [opt], bounded; r to be freed by the caller. */
static void
ctl(struct harness_run *r, const char *shm, const char *cmd, const char *opt)
{
	const char *argv[] = {proxyctl_bin(), "-s", shm, cmd, opt, NULL};

	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = CTL_MS;
	harness_run(r);
	r->argv = NULL;
}

/* ---- reading the counters ------------------------------------------ */

/* The number after "key": inside [obj, end); 0 or -1. */
static int
json_u64(const char *obj, const char *end, const char *key, uint64_t *out)
{
	char pat[96];
	const char *p;
	char *stop;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = memmem(obj, (size_t)(end - obj), pat, strlen(pat));
	if (p == NULL)
		return -1;
	*out = strtoull(p + strlen(pat), &stop, 10);
	return stop == p + strlen(pat) ? -1 : 0;
}

/* Every counter of "totals":{...} and the generation, or -1 with why. */
static int
parse_stats(const char *json, struct stats *st, char *why, size_t len)
{
	const char *obj = strstr(json, "\"totals\":{"), *end;
	uint64_t gen;
	unsigned k;

	if (obj == NULL || (end = strchr(obj, '}')) == NULL) {
		snprintf(why, len, "no \"totals\":{...}");
		return -1;
	}
	for (k = 0; k < N_TABLE; k++)
		if (json_u64(obj, end, table[k].name, &st->v[k]) < 0) {
			snprintf(why, len, "no totals.%s", table[k].name);
			return -1;
		}
	if (strncmp(json, "{\"generation\":", 14) != 0 ||
	    json_u64(json, json + 32, "generation", &gen) < 0) {
		snprintf(why, len, "no leading \"generation\"");
		return -1;
	}
	st->generation = (unsigned)gen;
	return 0;
}

/* No counter lower than at the last read, by either reader. */
static void
advance(const struct stats *st, const char *who)
{
	unsigned k;

	for (k = 0; k < N_TABLE; k++)
		HCHECK(gauge(k) || st->v[k] >= last.v[k],
		       "%s: %s went down: %llu, then %llu", who, table[k].name,
		       (unsigned long long)last.v[k],
		       (unsigned long long)st->v[k]);
	HCHECK(st->generation >= last.generation, "%s: generation went down",
	       who);
	last = *st;
}

/* stats --json now. */
static void
stats(struct stats *st)
{
	struct harness_run r;
	char why[128];

	ctl(&r, proxy.shm_file, "stats", "--json");
	HCHECK(r.code == 0, "proxyctl stats --json: exit %d: %s", r.code,
	       r.err);
	HCHECK(parse_stats(r.out, st, why, sizeof(why)) == 0, "%s in:\n%.600s",
	       why, r.out);
	harness_run_free(&r);
	advance(st, "proxyctl stats --json");
}

/* The same, straight from the segment: a reader thousands of times
 * faster than a proxyctl run, to race the workers and the master. */
static void
snapshot(struct stats *st)
{
	static struct shm_view view;
	struct shm_snapshot s;
	char err[512];
	unsigned k;

	if (view.h == NULL) {
		HCHECK(shm_attach(&view, proxy.shm_file, err, sizeof(err)) == 0,
		       "shm_attach: %s", err);
		HCHECK(view.h->n_counters == N_TABLE, "%u counters, want %u",
		       view.h->n_counters, N_TABLE);
		for (k = 0; k < N_TABLE; k++)
			HCHECK(strcmp(shm_view_desc(&view, k)->name,
			              table[k].name) == 0,
			       "counter %u is not %s", k, table[k].name);
	}
	HCHECK(shm_snapshot_take(&view, &s) == 0, "no snapshot");
	memcpy(st->v, s.totals, sizeof(st->v));
	st->generation = s.generation;
	shm_snapshot_free(&s);
	advance(st, "shm_snapshot_take");
}

/* Expected values, by name. */
struct want {
	const char *name;
	uint64_t value;
};

static int
matches(const struct stats *st, const struct want *w, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (st->v[idx(w[i].name)] != w[i].value)
			return 0;
	return 1;
}

/* Waits (bounded) until every w holds, then checks it still does a
 * moment later, so a late extra count shows too. */
static void
expect(const struct want *w, unsigned n, const char *when)
{
	int64_t end = harness_now_ms() + SETTLE_MS;
	struct stats st;
	unsigned i;

	do {
		stats(&st);
		if (matches(&st, w, n))
			break;
		harness_sleep_ms(50);
	} while (harness_now_ms() < end);
	harness_sleep_ms(200);
	stats(&st);
	for (i = 0; i < n; i++)
		HCHECK(st.v[idx(w[i].name)] == w[i].value,
		       "%s: %s = %llu, want %llu", when, w[i].name,
		       (unsigned long long)st.v[idx(w[i].name)],
		       (unsigned long long)w[i].value);
}

/* Waits (bounded) until counter name reaches value. */
static void
await(const char *name, uint64_t value)
{
	int64_t end = harness_now_ms() + SETTLE_MS;
	struct stats st;

	do {
		stats(&st);
		if (st.v[idx(name)] >= value)
			return;
		harness_sleep_ms(50);
	} while (harness_now_ms() < end);
	HCHECK(0, "%s = %llu after %d ms, want %llu", name,
	       (unsigned long long)st.v[idx(name)], SETTLE_MS,
	       (unsigned long long)value);
}

/* ---- requests of known kinds --------------------------------------- */

/* 1 if the config file at path says key. */
static int
config_has(const char *path, const char *key)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int found = 0;

	HCHECK(f != NULL, "open %s", path);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strncmp(line, key, strlen(key)) == 0;
	fclose(f);
	return found;
}

/* The origin, and proxyd with 2 workers that may reach it on loopback
 * (the harness may or may not say so already: a key twice is an error). */
static void
up(const char *listen_extra)
{
	struct harness_config cfg = {.workers = 2,
	                             .listen_extra = listen_extra};
	char extra[256];

	memset(&last, 0, sizeof(last));
	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_init(&proxy, "proxyd", &cfg) == 0, "config");
	if (!config_has(proxy.conf, "allow_loopback")) {
		snprintf(extra, sizeof(extra), "allow_loopback = on\n%s",
		         listen_extra ? listen_extra : "");
		cfg.listen_extra = extra;
		HCHECK(harness_proxy_write_config(&proxy, &cfg) == 0, "config");
	}
	HCHECK(harness_proxy_start(&proxy) == 0, "proxyd did not start");
}

/* Sends text on a new connection to port; the answer's status. */
static int
exchange(int port, const char *text)
{
	static struct harness_conn conn;
	struct harness_resp r;
	int status;

	HCHECK(harness_conn_open(&conn, port) == 0, "connect to %d", port);
	HCHECK(harness_conn_send(&conn, text, strlen(text)) == 0, "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer to \"%.60s\": %s", text, r.error);
	status = r.status;
	harness_resp_free(&r);
	harness_conn_close(&conn);
	return status;
}

/* Sends the request on a new connection; its answer must be want. */
static void request(int want, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
request(int want, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	status = exchange(proxy.port, text);
	HCHECK(status == want, "\"%.60s\" got %d, want %d", text, status, want);
}

/* 5 GET 200, 2 GET to a dead port 502, 1 malformed 400, 1 CONNECT to a
 * port not in connect_ports 403: 9 connections, 8 requests (the
 * malformed head is no request). */
static void
batch(void)
{
	int i, dead = harness_free_port();

	for (i = 0; i < 5; i++)
		request(200,
		        "GET http://127.0.0.1:%d/size/100 HTTP/1.1\r\n"
		        "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
		        origin.port, origin.port);
	for (i = 0; i < 2; i++)
		request(502,
		        "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
		        "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
		        dead, dead);
	request(400,
	        "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	        "Host: 127.0.0.1:%d\r\nX-A : one\r\n\r\n",
	        origin.port, origin.port);
	request(403,
	        "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
	        origin.port, origin.port);
}

/* The totals after n batches on top of the accepted connections of
 * before (the harness's own probe of the port), with starts, deaths
 * and reloads as given. */
static void
expect_batches(unsigned n, const struct stats *before, unsigned starts,
               unsigned deaths, unsigned reloads, const char *when)
{
	const struct want w[] = {
	        {"requests", 8 * n},
	        {"responses_2xx", 5 * n},
	        {"responses_4xx", 2 * n},
	        {"responses_5xx", 2 * n},
	        {"errors_400", n},
	        {"errors_403", n},
	        {"errors_502", 2 * n},
	        {"conn_accepted", before->v[idx("conn_accepted")] + 9 * n},
	        {"conn_active", 0},
	        {"tunnels", 0},
	        {"worker_starts", starts},
	        {"worker_deaths", deaths},
	        {"reloads_ok", reloads},
	        {"reloads_failed", 0},
	};

	expect(w, sizeof(w) / sizeof(w[0]), when);
}

/* Reads until two reads 200 ms apart agree and no connection is open:
 * the harness's probe of the port has been accepted and closed. */
static void
settle(struct stats *st)
{
	int64_t end = harness_now_ms() + SETTLE_MS;
	struct stats again;

	stats(st);
	do {
		harness_sleep_ms(200);
		stats(&again);
		if (memcmp(again.v, st->v, sizeof(again.v)) == 0 &&
		    again.v[idx("conn_active")] == 0)
			return;
		*st = again;
	} while (harness_now_ms() < end);
	HCHECK(0, "counters still moving %d ms after start", SETTLE_MS);
}

START_TEST(exact_totals)
{
	pid_t before[HARNESS_MAX_PIDS], victim;
	struct stats base;
	int n;

	up(NULL);
	settle(&base);
	HCHECK(base.v[idx("requests")] == 0 &&
	               base.v[idx("conn_accepted")] <= 1 &&
	               base.v[idx("worker_starts")] == 2,
	       "at start: %llu requests, %llu connections, %llu starts",
	       (unsigned long long)base.v[idx("requests")],
	       (unsigned long long)base.v[idx("conn_accepted")],
	       (unsigned long long)base.v[idx("worker_starts")]);
	batch();
	expect_batches(1, &base, 2, 0, 0, "after one batch");

	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(n == 2, "%d workers", n);
	victim = before[0];
	HCHECK(kill(victim, SIGKILL) == 0, "kill -9 %d", (int)victim);
	HCHECK(harness_proxy_wait_workers(&proxy, 2, &victim, 1, 10000) == 0,
	       "worker %d not replaced", (int)victim);
	await("worker_starts", 3);
	expect_batches(1, &base, 3, 1, 0, "after kill -9 of a worker");
	batch();
	expect_batches(2, &base, 3, 1, 0, "after a batch on the respawn");

	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	HCHECK(harness_proxy_wait_workers(&proxy, 2, before, n, 15000) == 0,
	       "the reload did not replace the workers");
	await("reloads_ok", 1);
	expect_batches(2, &base, 5, 1, 1, "after SIGHUP");
	HCHECK(last.generation == 2, "generation %u after one reload",
	       last.generation);
	batch();
	expect_batches(3, &base, 5, 1, 1, "after a batch on generation 2");
}
END_TEST

/* ---- views --------------------------------------------------------- */

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* proxyctl workers: one line per worker, the harness's children. */
static void
check_workers(void)
{
	pid_t want[HARNESS_MAX_PIDS], got[8];
	struct harness_run r;
	unsigned slot, gen;
	char state[16], *line;
	int n, pid, k = 0;

	n = harness_proxy_workers(&proxy, want, HARNESS_MAX_PIDS);
	ctl(&r, proxy.shm_file, "workers", NULL);
	HCHECK(r.code == 0 && r.err[0] == '\0', "proxyctl workers: exit %d: %s",
	       r.code, r.err);
	for (line = strchr(r.out, '\n'); line != NULL && line[1] != '\0';
	     line = strchr(line + 1, '\n')) {
		HCHECK(sscanf(line + 1, "%u %d %15s %u", &slot, &pid, state,
		              &gen) == 4 &&
		               k < 8,
		       "bad line in:\n%s", r.out);
		HCHECK(strcmp(state, "running") == 0 && gen == 1,
		       "worker %d is %s, generation %u", pid, state, gen);
		got[k++] = pid;
	}
	qsort(got, (size_t)k, sizeof(got[0]), cmp_pid);
	qsort(want, (size_t)n, sizeof(want[0]), cmp_pid);
	HCHECK(k == 2 && n == 2 && memcmp(got, want, sizeof(pid_t) * 2) == 0,
	       "proxyctl lists %d workers, the master has %d:\n%s", k, n,
	       r.out);
	harness_run_free(&r);
}

/* proxyctl -c proxyd.ini finds the segment through shm_file. */
static void
by_config(void)
{
	const char *argv[] = {proxyctl_bin(), "-c",     proxy.conf,
	                      "stats",        "--json", NULL};
	struct harness_run r;

	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = CTL_MS;
	harness_run(&r);
	r.argv = NULL;
	HCHECK(r.code == 0 && strstr(r.out, "\"totals\":{") != NULL,
	       "proxyctl -c %s stats --json: exit %d: %s", proxy.conf, r.code,
	       r.err);
	harness_run_free(&r);
}

START_TEST(views)
{
	struct harness_run r;

	up(NULL);
	request(200,
	        "GET http://127.0.0.1:%d/size/10 HTTP/1.1\r\n"
	        "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	        origin.port, origin.port);
	check_workers();

	ctl(&r, proxy.shm_file, "rules", NULL);
	HCHECK(r.code == 0 && strstr(r.out, "no rules") != NULL,
	       "proxyctl rules: exit %d: %s%s", r.code, r.out, r.err);
	harness_run_free(&r);

	ctl(&r, proxy.shm_file, "top", "-1");
	HCHECK(r.code == 0 && !r.timed_out, "proxyctl top -1: exit %d: %s",
	       r.code, r.err);
	HCHECK(strstr(r.out, "counter") != NULL &&
	               strstr(r.out, "\nrequests ") != NULL &&
	               strstr(r.out, "running") != NULL &&
	               strchr(r.out, '\033') == NULL,
	       "top -1 printed no plain table:\n%s", r.out);
	harness_run_free(&r);

	ctl(&r, proxy.shm_file, "stats", NULL);
	HCHECK(r.code == 0 && strstr(r.out, "\nrequests ") != NULL,
	       "proxyctl stats: exit %d:\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
	by_config();
}
END_TEST

/* proxyctl top with no terminal and stdin at its end (cron, ssh -n, a
 * pipe) either quits or keeps to one frame a second: never a busy loop
 * redrawing as fast as it can. */
START_TEST(top_without_tty)
{
	const char *argv[] = {proxyctl_bin(), "-s", proxy.shm_file, "top",
	                      NULL};
	struct harness_run r;

	up(NULL);
	memset(&r, 0, sizeof(r));
	r.argv = argv; /* stdin is /dev/null */
	r.timeout_ms = 2500;
	harness_run(&r);
	r.argv = NULL;
	/* a frame is about 3 KB: 64 KB is twenty of them */
	HCHECK(r.out_total < 64 * 1024,
	       "proxyctl top, stdin at EOF: %llu bytes of frames in 2.5 s",
	       (unsigned long long)r.out_total);
	HCHECK(r.timed_out || r.code == 0, "proxyctl top: exit %d: %s", r.code,
	       r.err);
	harness_run_free(&r);
}
END_TEST

/* proxyctl reload bumps the generation; proxyctl stop ends proxyd, which
 * removes its segment (mode 0640 while it ran). */
START_TEST(reload_and_stop)
{
	pid_t before[HARNESS_MAX_PIDS];
	struct harness_run r;
	struct stats st;
	struct stat sb;
	int n, status;

	up(NULL);
	HCHECK(stat(proxy.shm_file, &sb) == 0, "no %s", proxy.shm_file);
	HCHECK(S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == 0640,
	       "%s has mode %04o, want 0640", proxy.shm_file,
	       (unsigned)(sb.st_mode & 07777));
	stats(&st);
	HCHECK(st.generation == 1, "generation %u at start", st.generation);
	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	ctl(&r, proxy.shm_file, "reload", NULL);
	HCHECK(r.code == 0, "proxyctl reload: exit %d: %s", r.code, r.err);
	harness_run_free(&r);
	HCHECK(harness_proxy_wait_workers(&proxy, 2, before, n, 15000) == 0,
	       "proxyctl reload did not replace the workers");
	await("reloads_ok", 1);
	HCHECK(last.generation == 2, "generation %u after proxyctl reload",
	       last.generation);

	ctl(&r, proxy.shm_file, "stop", NULL);
	HCHECK(r.code == 0, "proxyctl stop: exit %d: %s", r.code, r.err);
	harness_run_free(&r);
	status = harness_proxy_wait_exit(&proxy, 15000);
	HCHECK(status != -1, "proxyd still running 15 s after proxyctl stop");
	HCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "proxyd exit status 0x%x after proxyctl stop", status);
	HCHECK(stat(proxy.shm_file, &sb) == -1 && errno == ENOENT,
	       "%s left behind by a clean stop", proxy.shm_file);
}
END_TEST

/* A rejected reload is counted, and changes neither the generation nor
 * the workers; SIGTERM still removes the segment. */
START_TEST(failed_reload_and_sigterm)
{
	static const struct harness_config bad = {
	        .raw = "[proxyd]\nworkers = banana\n"};
	struct stats st;
	struct stat sb;
	int status;

	up(NULL);
	HCHECK(harness_proxy_write_config(&proxy, &bad) == 0, "write config");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	await("reloads_failed", 1);
	stats(&st);
	HCHECK(st.generation == 1 && st.v[idx("reloads_ok")] == 0 &&
	               st.v[idx("worker_starts")] == 2,
	       "after a rejected reload: generation %u, %llu ok, %llu starts",
	       st.generation, (unsigned long long)st.v[idx("reloads_ok")],
	       (unsigned long long)st.v[idx("worker_starts")]);
	status = harness_proxy_stop(&proxy, SIGTERM, 10000);
	HCHECK(status != -1, "proxyd ignored SIGTERM");
	HCHECK(stat(proxy.shm_file, &sb) == -1 && errno == ENOENT,
	       "%s left behind after SIGTERM", proxy.shm_file);
}
END_TEST

/* ---- readers during load ------------------------------------------- */

struct load_result {
	unsigned ok;
	unsigned failed;
};

/* One GET of /size/1000 on a new connection; 0 when it all came. */
static int
load_one(struct harness_conn *c)
{
	struct harness_resp r;
	int rc = -1;

	r.body = NULL;
	if (harness_conn_open(c, proxy.port) < 0)
		return -1;
	if (harness_conn_sendf(
	            c,
	            "GET http://127.0.0.1:%d/size/1000 HTTP/1.1\r\n"
	            "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	            origin.port, origin.port) == 0 &&
	    harness_conn_response(c, &r, 0, HARNESS_WAIT_MS) == 0 &&
	    r.status == 200 && r.body_total == 1000)
		rc = 0;
	harness_resp_free(&r);
	harness_conn_close(c);
	return rc;
}

/* A load process: count requests, or until ms pass; result on fd. */
static void __attribute__((noreturn)) load_child(int fd, unsigned count, int ms)
{
	static struct harness_conn c;
	int64_t end = harness_now_ms() + ms;
	struct load_result res = {0, 0};
	unsigned i;

	for (i = 0; i < count && harness_now_ms() < end; i++) {
		if (load_one(&c) == 0)
			res.ok++;
		else
			res.failed++;
	}
	_exit(write(fd, &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 1);
}

struct load {
	pid_t pid[LOADERS];
	int fd[LOADERS];
	unsigned done;
	struct load_result sum;
};

static void
load_start(struct load *l, unsigned count, int ms)
{
	int p[2], i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < LOADERS; i++) {
		HCHECK(pipe(p) == 0, "pipe");
		l->pid[i] = fork();
		HCHECK(l->pid[i] >= 0, "fork");
		if (l->pid[i] == 0) {
			close(p[0]);
			load_child(p[1], count, ms);
		}
		close(p[1]);
		l->fd[i] = p[0];
	}
}

/* Collects the results that are in; 1 when all are. */
static int
load_poll(struct load *l, int timeout_ms)
{
	struct load_result r;
	struct pollfd pfd;
	int i;

	for (i = 0; i < LOADERS; i++) {
		if (l->fd[i] < 0)
			continue;
		pfd.fd = l->fd[i];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) != 1)
			continue;
		HCHECK(read(l->fd[i], &r, sizeof(r)) == (ssize_t)sizeof(r),
		       "load process %d gave no result", (int)l->pid[i]);
		close(l->fd[i]);
		l->fd[i] = -1;
		waitpid(l->pid[i], NULL, 0);
		l->sum.ok += r.ok;
		l->sum.failed += r.failed;
		l->done++;
	}
	return l->done == LOADERS;
}

/* Reads the counters (each read checks none went down) until the load
 * is done, at least once; how many proxyctl reads. */
static unsigned
poll_during(struct load *l)
{
	int64_t end = harness_now_ms() + LOAD_MAX_MS + 10000;
	struct stats st;
	unsigned polls = 0, i;

	do {
		HCHECK(polls < POLLS_MAX && harness_now_ms() < end,
		       "load not done after %u reads", polls);
		stats(&st);
		polls++;
		for (i = 0; i < SNAPS_PER_POLL; i++)
			snapshot(&st);
	} while (!load_poll(l, 0));
	return polls;
}

/* After n more requests of /size/1000 than at base, all answered. */
static void
expect_load(unsigned n, const struct stats *base)
{
	const struct want w[] = {
	        {"requests", n},
	        {"responses_2xx", n},
	        {"conn_accepted", base->v[idx("conn_accepted")] + n},
	        {"conn_active", 0},
	};

	expect(w, sizeof(w) / sizeof(w[0]), "after the load");
}

START_TEST(monotonic_under_load)
{
	const unsigned n = LOADERS * LOAD_EACH;
	struct stats base;
	struct load l;

	up(NULL);
	settle(&base);
	load_start(&l, LOAD_EACH, LOAD_MAX_MS);
	(void)poll_during(&l);
	HCHECK(l.sum.ok == n, "%u of %u requests failed", l.sum.failed, n);
	expect_load(n, &base);
}
END_TEST

/* A worker killed and a reload while the load runs and a reader polls:
 * still nothing goes down, nothing is counted twice. */
START_TEST(monotonic_across_kill_and_reload)
{
	pid_t pids[HARNESS_MAX_PIDS];
	struct load l;
	struct stats st;
	uint64_t requests;
	int n;

	up(NULL);
	load_start(&l, 100000, KILL_LOAD_MS);
	harness_sleep_ms(500);
	stats(&st);
	n = harness_proxy_workers(&proxy, pids, HARNESS_MAX_PIDS);
	HCHECK(n == 2 && kill(pids[1], SIGKILL) == 0, "kill -9 a worker");
	stats(&st);
	harness_sleep_ms(500);
	stats(&st);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	poll_during(&l);
	await("reloads_ok", 1);
	await("worker_deaths", 1);
	harness_sleep_ms(300);
	stats(&st);
	requests = st.v[idx("requests")];
	/* a request cut by the kill may or may not have been counted */
	HCHECK(requests >= l.sum.ok && requests <= l.sum.ok + l.sum.failed,
	       "%llu requests counted; clients saw %u ok, %u failed",
	       (unsigned long long)requests, l.sum.ok, l.sum.failed);
	HCHECK(st.v[idx("responses_2xx")] >= l.sum.ok &&
	               st.v[idx("responses_2xx")] <= requests,
	       "more 2xx (%llu) than requests (%llu)",
	       (unsigned long long)st.v[idx("responses_2xx")],
	       (unsigned long long)requests);
	HCHECK(st.v[idx("worker_deaths")] == 1, "%llu worker deaths",
	       (unsigned long long)st.v[idx("worker_deaths")]);
}
END_TEST

/* ---- refusals ------------------------------------------------------ */

/* The bytes of the running proxyd's segment. */
static char *
segment_bytes(size_t *len)
{
	struct harness_run r;
	const char *argv[] = {"cat", proxy.shm_file, NULL};
	char *img;

	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.out_cap = 64u << 20;
	r.timeout_ms = CTL_MS;
	harness_run(&r);
	HCHECK(r.code == 0 && r.out_len > 0 && r.out_len == r.out_total,
	       "cat %s: exit %d", proxy.shm_file, r.code);
	img = r.out;
	*len = r.out_len;
	r.out = NULL;
	harness_run_free(&r);
	return img;
}

/* proxyctl -s path cmd: exit 1, nothing on stdout, one line on stderr
 * that says want. */
static void
refused(const char *path, const char *cmd, const char *want)
{
	struct harness_run r;
	const char *nl;

	ctl(&r, path, cmd, NULL);
	nl = strchr(r.err, '\n');
	HCHECK(!r.timed_out, "proxyctl -s %s %s still running after %d ms",
	       path, cmd, CTL_MS);
	HCHECK(r.code == 1, "proxyctl -s %s %s: exit %d, want 1: %s", path, cmd,
	       r.code, r.err);
	HCHECK(r.out_len == 0, "proxyctl %s wrote to stdout: %s", cmd, r.out);
	HCHECK(nl != NULL && nl[1] == '\0', "stderr is not one line: \"%s\"",
	       r.err);
	HCHECK(strstr(r.err, want) != NULL, "stderr \"%s\" does not say \"%s\"",
	       r.err, want);
	harness_run_free(&r);
}

/* A damaged copy of the segment: the first len bytes of img. */
static void
copy(const char *name, const char *img, size_t len, char *path)
{
	HCHECK(harness_write_file(name, img, len, path, PATH_MAX) == 0,
	       "write %s", name);
}

START_TEST(bad_segments)
{
	char path[PATH_MAX], *img;
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	struct stats st;
	uint32_t major;
	size_t len, i;

	up(NULL);
	img = segment_bytes(&len);
	copy("cut.shm", img, len / 2, path);
	refused(path, "stats", "segment truncated or corrupted");
	copy("short.shm", img, 100, path);
	refused(path, "stats", "not a proxyd shared-memory segment");
	memcpy(&major, img + 8, sizeof(major)); /* abi_major */
	major++;
	memcpy(img + 8, &major, sizeof(major));
	copy("abi.shm", img, len, path);
	refused(path, "stats", "ABI version");
	refused(path, "reload", "ABI version");
	for (i = 0; i < len; i++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		img[i] = (char)state;
	}
	copy("random.shm", img, len, path);
	refused(path, "stats", "not a proxyd shared-memory segment");
	refused(harness_tmpdir(), "stats",
	        "not a proxyd shared-memory segment");
	snprintf(path, PATH_MAX, "%s/none.shm", harness_tmpdir());
	refused(path, "stats", "is proxyd running?");
	free(img);
	stats(&st); /* the real one is unharmed */
}
END_TEST

/* A master killed with SIGKILL leaves its segment: proxyctl says so, and
 * never signals whatever has the pid now. */
START_TEST(dead_master)
{
	int status;

	up(NULL);
	HCHECK(kill(proxy.pid, SIGKILL) == 0, "kill -9 the master");
	status = harness_proxy_wait_exit(&proxy, 5000); /* and reap it */
	HCHECK(status != -1, "the master outlived SIGKILL");
	refused(proxy.shm_file, "stats", "left behind by a dead master");
	refused(proxy.shm_file, "reload", "dead master");
	refused(proxy.shm_file, "stop", "dead master");
}
END_TEST

/* A FIFO where the segment should be: refused, not waited on. */
START_TEST(fifo_segment)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/fifo.shm", harness_tmpdir());
	HCHECK(mkfifo(path, 0640) == 0, "mkfifo %s", path);
	refused(path, "stats", "not a proxyd shared-memory segment");
}
END_TEST

/* ---- the [admin] endpoint ------------------------------------------ */

/* Prometheus text 0.0.4: each sample after the # HELP and # TYPE of its
 * own family, names [a-z_][a-z0-9_]*, counters *_total.  NULL, or what
 * is wrong (static). */
static size_t
name_len(const char *p)
{
	size_t n = 0;

	if ((p[0] >= 'a' && p[0] <= 'z') || p[0] == '_')
		for (n = 1; (p[n] >= 'a' && p[n] <= 'z') || p[n] == '_' ||
		            (p[n] >= '0' && p[n] <= '9');
		     n++)
			;
	return n;
}

static const char *
prom_line(const char *l, char *help, char *family)
{
	size_t n;

	if (strncmp(l, "# HELP ", 7) == 0) {
		if ((n = name_len(l + 7)) == 0 || n >= 128 || l[7 + n] != ' ')
			return "bad # HELP";
		memcpy(help, l + 7, n);
		help[n] = '\0';
	} else if (strncmp(l, "# TYPE ", 7) == 0) {
		n = name_len(l + 7);
		if (n != strlen(help) || strncmp(l + 7, help, n) != 0)
			return "# TYPE not after its # HELP";
		if (strncmp(l + 7 + n, " counter\n", 9) == 0 &&
		    (n < 6 || strncmp(l + 7 + n - 6, "_total", 6) != 0))
			return "a counter not named *_total";
		if (strncmp(l + 7 + n, " counter\n", 9) != 0 &&
		    strncmp(l + 7 + n, " gauge\n", 7) != 0)
			return "# TYPE neither counter nor gauge";
		memcpy(family, help, n + 1);
	} else {
		n = name_len(l);
		if (n == 0 || n != strlen(family) || strncmp(l, family, n) != 0)
			return "a sample without its # HELP and # TYPE";
		if (l[n] == '{' && (l = strchr(l + n, '}')) != NULL)
			n = 1;
		if (l == NULL || l[n] != ' ' || l[n + 1] < '0' ||
		    l[n + 1] > '9')
			return "a sample without a value";
	}
	return NULL;
}

static void
check_prometheus(const char *text, unsigned *samples)
{
	char help[128] = "", family[128] = "";
	const char *l, *why;
	unsigned line = 0;

	*samples = 0;
	for (l = text; *l != '\0'; l = strchr(l, '\n') + 1) {
		line++;
		HCHECK(strchr(l, '\n') != NULL, "last line unterminated");
		why = prom_line(l, help, family);
		HCHECK(why == NULL, "/metrics line %u: %s: %.80s", line, why,
		       l);
		*samples += l[0] != '#';
	}
}

/* The # lines of a Prometheus text, in order. */
static char *
comments(const char *text)
{
	size_t len = strlen(text), n = 0;
	char *out = malloc(len + 1);
	const char *l, *nl;

	HCHECK(out != NULL, "malloc");
	for (l = text; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
		if (l[0] == '#') {
			memcpy(out + n, l, (size_t)(nl - l + 1));
			n += (size_t)(nl - l + 1);
		}
	out[n] = '\0';
	return out;
}

/* method path on the admin port; the status, body in *body (malloc'd). */
static int
admin(int port, const char *method, const char *target, char **body)
{
	static struct harness_conn conn;
	struct harness_resp r;
	int status;

	HCHECK(harness_conn_open(&conn, port) == 0, "connect to admin");
	HCHECK(harness_conn_sendf(&conn,
	                          "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                          "Content-Length: 0\r\n\r\n",
	                          method, target, port) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer to %s %s: %s", method, target, r.error);
	status = r.status;
	*body = r.body;
	r.body = NULL;
	harness_resp_free(&r);
	harness_conn_close(&conn);
	return status;
}

static void
admin_status(int port, const char *method, const char *target, int want)
{
	char *body = NULL;
	int status = admin(port, method, target, &body);

	free(body);
	HCHECK(status == want, "admin %s %s: %d, want %d", method, target,
	       status, want);
}

START_TEST(admin_endpoint)
{
	struct harness_run r;
	char extra[96], url[96], *body, *a, *b;
	unsigned samples;
	int port = harness_free_port();

	snprintf(extra, sizeof(extra), "\n[admin]\naddress = 127.0.0.1:%d\n",
	         port);
	up(extra);
	HCHECK(harness_wait_port(port, 5000) == 0, "admin port %d closed",
	       port);
	HCHECK(admin(port, "GET", "/metrics", &body) == 200, "GET /metrics");
	check_prometheus(body, &samples);
	HCHECK(samples >= N_TABLE, "/metrics has %u samples", samples);
	ctl(&r, proxy.shm_file, "stats", "--prometheus");
	HCHECK(r.code == 0, "stats --prometheus: exit %d", r.code);
	a = comments(body);
	b = comments(r.out);
	HCHECK(strcmp(a, b) == 0, "/metrics and proxyctl stats --prometheus "
	                          "differ in their # lines");
	free(a);
	free(b);
	free(body);
	harness_run_free(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats.json", port);
	memset(&r, 0, sizeof(r));
	harness_curl(&r, 10, "--noproxy", "*", "-f", url, NULL);
	HCHECK(r.code == 0 && strncmp(r.out, "{\"generation\":", 14) == 0 &&
	               strstr(r.out, "\"totals\":{\"conn_accepted\":") != NULL,
	       "curl /stats.json: exit %d: %.200s%s", r.code, r.out, r.err);
	harness_run_free(&r);

	admin_status(port, "GET", "/other", 404);
	admin_status(port, "GET", "/metrics/", 404);
	admin_status(port, "POST", "/metrics", 405);
	admin_status(port, "DELETE", "/stats.json", 405);
	/* not a proxy: an absolute URL is no admin page */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/10", origin.port);
	admin_status(port, "GET", url, 404);
}
END_TEST

static Suite *
proxyctl_suite(void)
{
	Suite *s = suite_create("proxyctl");
	TCase *st = tcase_create("stats");
	TCase *bad = tcase_create("refusals");
	TCase *adm = tcase_create("admin");

	tcase_add_checked_fixture(st, NULL, harness_teardown);
	tcase_set_timeout(st, 180);
	tcase_add_test(st, exact_totals);
	tcase_add_test(st, views);
	tcase_add_test(st, top_without_tty);
	tcase_add_test(st, reload_and_stop);
	tcase_add_test(st, failed_reload_and_sigterm);
	tcase_add_test(st, monotonic_under_load);
	tcase_add_test(st, monotonic_across_kill_and_reload);
	suite_add_tcase(s, st);

	tcase_add_checked_fixture(bad, NULL, harness_teardown);
	tcase_set_timeout(bad, 60);
	tcase_add_test(bad, bad_segments);
	tcase_add_test(bad, dead_master);
	tcase_add_test(bad, fifo_segment);
	suite_add_tcase(s, bad);

	tcase_add_checked_fixture(adm, NULL, harness_teardown);
	tcase_set_timeout(adm, 60);
	tcase_add_test(adm, admin_endpoint);
	suite_add_tcase(s, adm);
	return s;
}

int
main(void)
{
	return harness_main(proxyctl_suite());
}
