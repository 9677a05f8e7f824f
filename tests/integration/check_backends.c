/*
 * Reverse-proxy backends end to end: the real proxyd in front of several
 * test origins (each started with -n bN, so every response says which
 * served it in X-Origin, and with -H so a test can fail its /healthz).
 * Balancing (weighted roundrobin, leastconn, consistent hash and its
 * behaviour across a reload that adds a server, random two-choices),
 * failover when a server is killed under load, active health checks
 * taking servers out and bringing them back, all servers down, backup
 * servers, which requests may be retried on another server, max_conns,
 * and `proxyctl backends` (table and --json) against what the origins
 * counted.
 *
 * Every load loop is bounded in count and in time; every wait is bounded;
 * nothing talks to anything but 127.0.0.1.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/harness.h"

#define NSRV 4        /* origins b1..b4 at most */
#define NCONN 4       /* keep-alive client connections */
#define LOADERS 4     /* failover: concurrent client processes... */
#define LOAD_REQS 300 /* ...of this many requests each... */
#define LOAD_MS 15000 /* ...and at most this long */
#define CTL_MS 10000  /* one proxyctl run */
#define CONF_MAX 16384

static struct harness_proxy proxy;
static struct harness_origin org[NSRV];
static struct harness_conn conns[NCONN];
static struct harness_conn side;    /* straight to an origin (/count) */
static char addr[NSRV][32];         /* "127.0.0.1:PORT" of bN */
static char health[NSRV][PATH_MAX]; /* bN's /healthz says 503 while here */
static char conf[CONF_MAX];

/* Active health checks, quick ones. */
static const char *const checked =
        "check = GET /healthz\ncheck_interval = 200ms\ncheck_timeout = "
        "500ms\nrise = 2\nfall = 2\n";

/* Bounds on waits for something proxyd does by itself (health checks):
 * longer when a wrapper (valgrind) slows it down. */
static int
slow(int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	int k = m != NULL ? atoi(m) : 1;

	return ms * (k > 1 ? k : 1);
}

static const char *
proxyctl_bin(void)
{
	const char *v = getenv("PROXYCTL_BIN");

	return v != NULL && v[0] != '\0' ? v : "build/proxyctl";
}

/* ---- origins -------------------------------------------------------- */

/* Starts bi (i from 0) with -n bN and -H its health file; port > 0 asks
 * for that port (-l), to bring a killed server back where it was. */
static void
origin_up(int i, int port)
{
	char name[16], portstr[16];
	const char *args[] = {"-n", name, "-H", health[i], NULL, NULL, NULL};

	snprintf(name, sizeof(name), "b%d", i + 1);
	if (health[i][0] == '\0')
		snprintf(health[i], sizeof(health[i]), "%s/down-b%d",
		         harness_tmpdir(), i + 1);
	if (port > 0) {
		snprintf(portstr, sizeof(portstr), "%d", port);
		args[4] = "-l";
		args[5] = portstr;
	}
	HCHECK(harness_origin_start_args(&org[i], 0, args) == 0,
	       "origin b%d did not start", i + 1);
	snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", org[i].port);
}

static void
origins_up(int n)
{
	int i;

	for (i = 0; i < n; i++)
		origin_up(i, 0);
}

/* SIGKILL, then reaped (and forgotten by the harness). */
static void
origin_kill(int i)
{
	HCHECK(kill(org[i].pid, SIGKILL) == 0, "kill -9 b%d", i + 1);
	harness_origin_stop(&org[i]);
}

/* Makes bi's /healthz answer 503 (down = 1) or 200 again. */
static void
set_unhealthy(int i, int down)
{
	char path[PATH_MAX], name[32];

	snprintf(name, sizeof(name), "down-b%d", i + 1);
	if (down)
		HCHECK(harness_write_file(name, "x", 1, path, sizeof(path)) ==
		               0,
		       "write %s", name);
	else
		HCHECK(unlink(health[i]) == 0, "unlink %s", health[i]);
}

/* What bi's GET /count says: the requests it served. */
static long
origin_count(int i)
{
	struct harness_resp r;
	long n = -1;

	HCHECK(harness_conn_open(&side, org[i].port) == 0, "connect to b%d",
	       i + 1);
	HCHECK(harness_conn_sendf(&side,
	                          "GET /count HTTP/1.1\r\nHost: %s\r\n"
	                          "Connection: close\r\n\r\n",
	                          addr[i]) == 0,
	       "send to b%d", i + 1);
	HCHECK(harness_conn_response(&side, &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200,
	       "b%d /count: %d %s", i + 1, r.status, r.error);
	n = strtol(r.body, NULL, 10);
	harness_resp_free(&r);
	harness_conn_close(&side);
	return n;
}

static void
origin_counts(int n, long *out)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = origin_count(i);
}

/* ---- proxyd ---------------------------------------------------------- */

/* The whole config: [proxyd] keeping every file in the temp folder, the
 * reverse listener (default backend "app"), then body. */
static void
proxy_write(unsigned workers, const char *body)
{
	struct harness_config cfg = {0};
	int n;

	n = snprintf(conf, sizeof(conf),
	             "# written by tests/integration/check_backends.c\n"
	             "[proxyd]\nworkers = %u\npid_file = %s\nshm_file = %s\n"
	             "error_log = %s\naccess_log = %s\nlog_level = info\n\n"
	             "[listen web]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	             "default_backend = app\n\n%s",
	             workers, proxy.pid_file, proxy.shm_file, proxy.error_log,
	             proxy.access_log, proxy.port, body);
	HCHECK(n > 0 && (size_t)n < sizeof(conf), "config too long");
	cfg.raw = conf;
	HCHECK(harness_proxy_write_config(&proxy, &cfg) == 0, "write config");
}

/* Starts proxyd; up means the workers and the health checker run. */
static void
proxy_up(unsigned workers, const char *fmt, ...)
{
	struct harness_config cfg = {.workers = workers};
	char body[CONF_MAX / 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	HCHECK(n > 0 && (size_t)n < sizeof(body), "config body too long");
	HCHECK(harness_proxy_init(&proxy, "proxyd", &cfg) == 0, "init");
	proxy_write(workers, body);
	HCHECK(harness_proxy_start(&proxy) == 0, "proxyd did not start");
	HCHECK(harness_proxy_wait_workers(&proxy, (int)workers + 1, NULL, 0,
	                                  slow(10000)) == 0,
	       "not %u workers and a health checker", workers);
}

/* proxyctl -s shm cmd [opt]; r to be freed by the caller. */
static void
ctl(struct harness_run *r, const char *cmd, const char *opt)
{
	const char *argv[] = {
	        proxyctl_bin(), "-s", proxy.shm_file, cmd, opt, NULL};

	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = CTL_MS;
	harness_run(r);
	r->argv = NULL;
	HCHECK(r->code == 0, "proxyctl %s %s: exit %d: %s", cmd, opt ? opt : "",
	       r->code, r->err);
}

/* The number after "key": in [p, end); 0 or -1. */
static int
json_u64(const char *p, const char *end, const char *key, uint64_t *out)
{
	char pat[64];
	const char *at;
	char *stop;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = memmem(p, (size_t)(end - p), pat, strlen(pat));
	if (at == NULL)
		return -1;
	*out = strtoull(at + strlen(pat), &stop, 10);
	return stop == at + strlen(pat) ? -1 : 0;
}

/* One server as proxyctl shows it. */
struct srv {
	char state[16];
	uint64_t weight, active, requests, failures, retries;
};

/* Server bi of backend name in `proxyctl backends --json`; 0 or -1. */
static int
json_server(const char *json, const char *backend, int i, struct srv *sv)
{
	char pat[192];
	const char *b, *s, *end, *next, *st;

	memset(sv, 0, sizeof(*sv));
	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", backend);
	if ((b = strstr(json, pat)) == NULL)
		return -1;
	if ((end = strstr(b + 1, "{\"name\":\"")) == NULL)
		end = b + strlen(b);
	snprintf(pat, sizeof(pat), "{\"server\":\"%s\"", addr[i]);
	if ((s = strstr(b, pat)) == NULL || s > end)
		return -1;
	if ((next = strstr(s + 1, "{\"server\":")) == NULL || next > end)
		next = end;
	st = memmem(s, (size_t)(next - s), "\"state\":\"", 9);
	if (st == NULL || sscanf(st + 9, "%15[a-z]", sv->state) != 1)
		return -1;
	return json_u64(s, next, "weight", &sv->weight) < 0 ||
	                       json_u64(s, next, "active", &sv->active) < 0 ||
	                       json_u64(s, next, "requests", &sv->requests) <
	                               0 ||
	                       json_u64(s, next, "failures", &sv->failures) <
	                               0 ||
	                       json_u64(s, next, "retries", &sv->retries) < 0
	               ? -1
	               : 0;
}

/* Servers b1..bn of backend name, from --json. */
static void
backends_json(const char *backend, int n, struct srv *out)
{
	struct harness_run r;
	int i;

	ctl(&r, "backends", "--json");
	for (i = 0; i < n; i++)
		HCHECK(json_server(r.out, backend, i, &out[i]) == 0,
		       "no server %s of backend %s in:\n%s", addr[i], backend,
		       r.out);
	harness_run_free(&r);
}

/* The same from the table (backend balance server state weight active
 * requests failures retries ...). */
static void
backends_table(const char *backend, int n, struct srv *out)
{
	struct harness_run r;
	char be[64], bal[16], server[128], state[16], *line, *save = NULL;
	unsigned long long w, a, rq, f, rt;
	int i, found = 0;

	ctl(&r, "backends", NULL);
	memset(out, 0, sizeof(*out) * (size_t)n);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line,
		           "%63s %15s %127s %15s %llu %llu %llu %llu %llu", be,
		           bal, server, state, &w, &a, &rq, &f, &rt) != 9 ||
		    strcmp(be, backend) != 0)
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(server, addr[i]) == 0) {
				snprintf(out[i].state, sizeof(out[i].state),
				         "%s", state);
				out[i].weight = w;
				out[i].active = a;
				out[i].requests = rq;
				out[i].failures = f;
				out[i].retries = rt;
				found++;
			}
	}
	harness_run_free(&r);
	HCHECK(found == n, "%d of %d servers of %s in the table", found, n,
	       backend);
}

/* Waits until bi of backend shows state; the ms it took, or fails. */
static int
wait_state(const char *backend, int i, const char *state, int timeout_ms)
{
	int64_t t0 = harness_now_ms(), end = t0 + slow(timeout_ms);
	struct harness_run r;
	struct srv sv;

	for (;;) {
		ctl(&r, "backends", "--json");
		HCHECK(json_server(r.out, backend, i, &sv) == 0,
		       "no server %s in:\n%s", addr[i], r.out);
		if (strcmp(sv.state, state) == 0) {
			harness_run_free(&r);
			return (int)(harness_now_ms() - t0);
		}
		HCHECK(harness_now_ms() < end,
		       "b%d still %s, not %s, after %d ms:\n%s", i + 1,
		       sv.state, state, slow(timeout_ms), r.out);
		harness_run_free(&r);
		harness_sleep_ms(50);
	}
}

/* A counter of `proxyctl stats --json`'s totals. */
static uint64_t
stat_total(const char *name)
{
	struct harness_run r;
	const char *t;
	uint64_t v = 0;

	ctl(&r, "stats", "--json");
	t = strstr(r.out, "\"totals\":{");
	HCHECK(t != NULL && json_u64(t, t + strlen(t), name, &v) == 0,
	       "no totals.%s in:\n%.800s", name, r.out);
	harness_run_free(&r);
	return v;
}

/* checker_pid of `proxyctl backends --json`, once the checker has
 * written it (bounded). */
static pid_t
checker_pid(void)
{
	int64_t end = harness_now_ms() + slow(5000);
	struct harness_run r;
	uint64_t pid;

	for (;;) {
		pid = 0;
		ctl(&r, "backends", "--json");
		HCHECK(json_u64(r.out, r.out + strlen(r.out), "checker_pid",
		                &pid) == 0,
		       "no checker_pid in:\n%s", r.out);
		if (pid > 0) {
			harness_run_free(&r);
			return (pid_t)pid;
		}
		HCHECK(harness_now_ms() < end, "checker_pid still 0:\n%s",
		       r.out);
		harness_run_free(&r);
		harness_sleep_ms(20);
	}
}

/* Running: alive and not a zombie waiting for its parent. */
static int
running(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ok = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		ok = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return ok;
}

static int
pid_in(pid_t pid, const pid_t *set, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == pid)
			return 1;
	return 0;
}

/* After a SIGHUP: no old worker left, and workers + 1 (the new checker)
 * new children.  The old checker is not waited for here: the test
 * checker_follows_master judges it. */
static void
wait_reloaded(const pid_t *old, int nold, pid_t old_checker, unsigned workers)
{
	int64_t end = harness_now_ms() + slow(15000);
	pid_t now[HARNESS_MAX_PIDS];
	int n, i, fresh, stale;

	for (;;) {
		n = harness_proxy_workers(&proxy, now, HARNESS_MAX_PIDS);
		for (i = 0, fresh = 0, stale = 0; i < n; i++) {
			if (!pid_in(now[i], old, nold))
				fresh++;
			else if (now[i] != old_checker)
				stale++;
		}
		if (stale == 0 && fresh == (int)workers + 1)
			return;
		HCHECK(harness_now_ms() < end,
		       "reload: %d old workers left, %d new processes", stale,
		       fresh);
		harness_sleep_ms(20);
	}
}

/* The line of a file (up to 1 MiB read) that has needle, into out;
 * 0 when none. */
static int
log_line(const char *path, const char *needle, char *out, size_t outlen)
{
	static char text[1 << 20];
	const char *at, *eol;
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if ((at = strstr(text, needle)) == NULL)
		return 0;
	while (at > text && at[-1] != '\n')
		at--;
	eol = strchr(at, '\n');
	snprintf(out, outlen, "%.*s", (int)(eol ? eol - at : 200), at);
	return 1;
}

/* No proxyd process died of a signal (a crash) so far: the master logs
 * each (to the error log, or to stderr in the foreground). */
static void
no_crash(void)
{
	char line[512];
	int crashed;

	harness_sleep_ms(200); /* the master logs a crash on SIGCHLD */
	crashed = log_line(proxy.error_log, "killed by signal", line,
	                   sizeof(line)) ||
	          log_line(proxy.stderr_log, "killed by signal", line,
	                   sizeof(line));
	HCHECK(!crashed, "a proxyd process crashed: %s", line);
}

/* ---- clients --------------------------------------------------------- */

static void
conns_reset(void)
{
	int i;

	for (i = 0; i < NCONN; i++)
		harness_conn_close(&conns[i]);
}

/* "bN" -> N-1, else -1. */
static int
who_of(const char *head)
{
	char v[32];
	int n;

	if (!harness_head_value(head, "X-Origin", v, sizeof(v)) ||
	    v[0] != 'b' || (n = atoi(v + 1)) < 1 || n > NSRV)
		return -1;
	return n - 1;
}

/* One keep-alive GET on c (opened when closed) to the reverse listener.
 * The status (0: no response, why says what happened); *who: the server
 * that answered (X-Origin), or -1. */
static int
get_on(struct harness_conn *c, const char *host, const char *path,
       const char *extra, int *who, char *why, size_t whylen)
{
	struct harness_resp r;
	char v[32];
	int st;

	*who = -1;
	r.body = NULL;
	if (c->fd < 0 && harness_conn_open(c, proxy.port) < 0) {
		snprintf(why, whylen, "%s: connect: %s", path, strerror(errno));
		return 0;
	}
	if (harness_conn_sendf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path,
	                       host, extra ? extra : "") < 0) {
		snprintf(why, whylen, "%s: send: %s", path, strerror(errno));
		harness_conn_close(c);
		return 0;
	}
	if (harness_conn_response(c, &r, 0, HARNESS_WAIT_MS) < 0) {
		snprintf(why, whylen, "%s: %.200s", path, r.error);
		harness_resp_free(&r);
		harness_conn_close(c);
		return 0;
	}
	st = r.status;
	*who = who_of(r.head);
	if (st != 200)
		snprintf(why, whylen, "%s: status %d: %.100s", path, st,
		         r.body ? r.body : "");
	if ((harness_head_value(r.head, "Connection", v, sizeof(v)) &&
	     strcasecmp(v, "close") == 0) ||
	    r.close_delimited)
		harness_conn_close(c);
	harness_resp_free(&r);
	return st;
}

/* A GET that must succeed; returns the server index. */
static int
get_ok(int conn, const char *host, const char *path, const char *extra)
{
	char why[320];
	int who, st;

	st = get_on(&conns[conn], host, path, extra, &who, why, sizeof(why));
	HCHECK(st == 200, "GET %s (Host %s) failed: %s", path, host, why);
	HCHECK(who >= 0, "GET %s: no X-Origin", path);
	return who;
}

/* n GETs of path over the NCONN connections in turn, all must succeed;
 * count[i] += what bi answered.  Bounded: n requests, each bounded. */
static void
spread(int n, const char *host, const char *path, long *count)
{
	int k;

	for (k = 0; k < n; k++)
		count[get_ok(k % NCONN, host, path, NULL)]++;
}

/* Sends GET path on c without reading the answer (a slow request that
 * will stay in flight). */
static void
send_only(struct harness_conn *c, const char *path)
{
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect to proxyd");
	HCHECK(harness_conn_sendf(c,
	                          "GET %s HTTP/1.1\r\nHost: app.test\r\n\r\n",
	                          path) == 0,
	       "send %s", path);
}

/* Waits until the origins served more than before in total (by want). */
static void
wait_served(int n, const long *before, long want, long *now)
{
	int64_t end = harness_now_ms() + slow(5000);
	long more;
	int i;

	for (;;) {
		origin_counts(n, now);
		for (i = 0, more = 0; i < n; i++)
			more += now[i] - before[i];
		if (more >= want)
			return;
		HCHECK(harness_now_ms() < end,
		       "the origins got %ld of %ld requests within 5 s", more,
		       want);
		harness_sleep_ms(20);
	}
}

/* Quick GETs on conns[c] while a slow request of slow_ms sent at t0 is
 * surely still in flight: at most 30, and none later than 1 s before it
 * may end.  Counts who answered; returns how many ran (at least 5, or
 * the test fails).  One connection, so one worker: it has released one
 * quick request's server before it reads the next, where another worker
 * might still count the previous one in flight for a moment. */
static int
quick_while_busy(int c, int64_t t0, int slow_ms, long *got)
{
	int k;

	for (k = 0; k < 30 && harness_now_ms() < t0 + slow_ms - 1000; k++)
		got[get_ok(c, "app.test", "/whoami", NULL)]++;
	HCHECK(k >= 5, "only %d quick requests within the slow one's %d ms", k,
	       slow_ms);
	return k;
}

/* ---- balancing ------------------------------------------------------- */

START_TEST(roundrobin_weights)
{
	static const int weight[3] = {1, 2, 3};
	long got[NSRV] = {0}, served[NSRV];
	struct srv js[3], tb[3];
	double want;
	int i;

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nbalance = roundrobin\n"
	         "server = %s weight=1\nserver = %s weight=2\n"
	         "server = %s weight=3\n",
	         addr[0], addr[1], addr[2]);
	spread(3000, "app.test", "/whoami", got);
	for (i = 0; i < 3; i++) {
		want = 3000.0 * weight[i] / 6;
		HCHECK(got[i] >= want * 0.95 && got[i] <= want * 1.05,
		       "b%d (weight %d) answered %ld of 3000, want %.0f +-5%% "
		       "(b1 %ld, b2 %ld, b3 %ld)",
		       i + 1, weight[i], got[i], want, got[0], got[1], got[2]);
	}
	/* proxyctl backends agrees with what the origins counted */
	origin_counts(3, served);
	backends_json("app", 3, js);
	backends_table("app", 3, tb);
	for (i = 0; i < 3; i++) {
		HCHECK(served[i] == got[i], "b%d counted %ld, X-Origin %ld",
		       i + 1, served[i], got[i]);
		HCHECK(js[i].requests == (uint64_t)served[i] &&
		               tb[i].requests == js[i].requests,
		       "b%d: origin served %ld, proxyctl says %llu (table "
		       "%llu)",
		       i + 1, served[i], (unsigned long long)js[i].requests,
		       (unsigned long long)tb[i].requests);
		HCHECK(strcmp(js[i].state, "up") == 0 &&
		               strcmp(tb[i].state, "up") == 0,
		       "b%d state %s / %s", i + 1, js[i].state, tb[i].state);
		HCHECK(js[i].weight == (uint64_t)weight[i] &&
		               tb[i].weight == js[i].weight,
		       "b%d weight %llu / %llu", i + 1,
		       (unsigned long long)js[i].weight,
		       (unsigned long long)tb[i].weight);
		HCHECK(js[i].failures == 0 && js[i].active == 0 &&
		               tb[i].failures == 0 && tb[i].active == 0,
		       "b%d: failures %llu, active %llu after a clean run",
		       i + 1, (unsigned long long)js[i].failures,
		       (unsigned long long)js[i].active);
	}
	no_crash();
}
END_TEST

START_TEST(leastconn_avoids_busy)
{
	long base[NSRV], now[NSRV], got[NSRV] = {0};
	struct harness_resp r;
	int busy[NSRV] = {0}, idle = -1, i, k, n;
	int64_t t0;

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nbalance = leastconn\n"
	         "server = %s\nserver = %s\nserver = %s\n",
	         addr[0], addr[1], addr[2]);
	/* two slow requests in flight: on two different servers */
	origin_counts(3, base);
	t0 = harness_now_ms();
	send_only(&conns[0], "/slow/3000");
	wait_served(3, base, 1, now);
	send_only(&conns[1], "/slow/3000");
	wait_served(3, base, 2, now);
	for (i = 0, k = 0; i < 3; i++) {
		busy[i] = now[i] > base[i];
		k += busy[i];
		if (!busy[i])
			idle = i;
	}
	HCHECK(k == 2,
	       "the two slow requests went to %d server(s) "
	       "(b1 +%ld, b2 +%ld, b3 +%ld)",
	       k, now[0] - base[0], now[1] - base[1], now[2] - base[2]);
	/* while they are in flight, quick ones go to the idle server */
	n = quick_while_busy(2, t0, 3000, got);
	HCHECK(got[idle] == n,
	       "with b%d idle and the others busy, quick requests went "
	       "b1 %ld, b2 %ld, b3 %ld",
	       idle + 1, got[0], got[1], got[2]);
	for (k = 0; k < 2; k++) {
		HCHECK(harness_conn_response(&conns[k], &r, 0,
		                             HARNESS_WAIT_MS) == 0 &&
		               r.status == 200,
		       "slow request %d: %d %s", k, r.status, r.error);
		harness_resp_free(&r);
	}
	/* all idle again: every server gets its share */
	memset(got, 0, sizeof(got));
	spread(60, "app.test", "/whoami", got);
	for (i = 0; i < 3; i++)
		HCHECK(got[i] >= 10, "all idle: b1 %ld, b2 %ld, b3 %ld of 60",
		       got[0], got[1], got[2]);
	no_crash();
}
END_TEST

#define KEYS 1000

/* Where each of KEYS X-Key values goes.  twice: every key is asked on
 * two connections (so, often, two workers) that must agree. */
static void
map_keys(int *where, int twice)
{
	char hdr[64];
	int k, a, b;

	for (k = 0; k < KEYS; k++) {
		snprintf(hdr, sizeof(hdr), "X-Key: key-%d\r\n", k);
		a = get_ok(k % NCONN, "app.test", "/whoami", hdr);
		if (twice) {
			b = get_ok((k + 1) % NCONN, "app.test", "/whoami", hdr);
			HCHECK(a == b, "key-%d went to b%d, then to b%d", k,
			       a + 1, b + 1);
		}
		where[k] = a;
	}
}

START_TEST(hash_header_consistent)
{
	static int before[KEYS], after[KEYS];
	pid_t old[HARNESS_MAX_PIDS], ck;
	long per[NSRV] = {0};
	int nold, k, moved = 0, wrong = 0, first_wrong = -1;
	char body[2048];

	origins_up(4); /* b4 joins on reload */
	proxy_up(2,
	         "[backend app]\nbalance = hash\nhash_key = header:X-Key\n"
	         "server = %s\nserver = %s\nserver = %s\n",
	         addr[0], addr[1], addr[2]);
	map_keys(before, 1);
	for (k = 0; k < KEYS; k++)
		per[before[k]]++;
	for (k = 0; k < 3; k++)
		HCHECK(per[k] >= KEYS / 10,
		       "keys over b1 %ld, b2 %ld, b3 %ld: uneven ring", per[0],
		       per[1], per[2]);

	/* a fourth server, by reload */
	conns_reset();
	ck = checker_pid();
	nold = harness_proxy_workers(&proxy, old, HARNESS_MAX_PIDS);
	snprintf(body, sizeof(body),
	         "[backend app]\nbalance = hash\nhash_key = header:X-Key\n"
	         "server = %s\nserver = %s\nserver = %s\nserver = %s\n",
	         addr[0], addr[1], addr[2], addr[3]);
	proxy_write(2, body);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	wait_reloaded(old, nold, ck, 2);
	map_keys(after, 1);
	for (k = 0; k < KEYS; k++) {
		if (after[k] == before[k])
			continue;
		moved++;
		if (after[k] != 3 && wrong++ == 0)
			first_wrong = k;
	}
	HCHECK(moved <= KEYS * 35 / 100,
	       "%d of %d keys changed server when a 4th was added", moved,
	       KEYS);
	HCHECK(moved >= KEYS * 10 / 100,
	       "only %d of %d keys moved to the new server", moved, KEYS);
	HCHECK(wrong == 0,
	       "%d keys moved between old servers (e.g. key-%d: b%d -> b%d)",
	       wrong, first_wrong,
	       first_wrong >= 0 ? before[first_wrong] + 1 : 0,
	       first_wrong >= 0 ? after[first_wrong] + 1 : 0);
	no_crash();
}
END_TEST

/* A server taken out hands its keys to its ring neighbours and no other
 * key moves; back in, it gets the same keys again. */
START_TEST(hash_server_down_moves_its_keys)
{
	static int before[KEYS], during[KEYS], after[KEYS];
	int k, bad = -1, lost = 0;

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nbalance = hash\nhash_key = header:X-Key\n"
	         "server = %s\nserver = %s\nserver = %s\n%s",
	         addr[0], addr[1], addr[2], checked);
	map_keys(before, 0);
	set_unhealthy(1, 1);
	wait_state("app", 1, "down", 3000);
	map_keys(during, 0);
	for (k = 0; k < KEYS; k++) {
		lost += before[k] == 1;
		if (during[k] == 1 ||
		    (before[k] != 1 && during[k] != before[k]))
			bad = bad < 0 ? k : bad;
	}
	HCHECK(bad < 0,
	       "b2 down: key-%d went from b%d to b%d (only b2's keys may "
	       "move)",
	       bad, before[bad < 0 ? 0 : bad] + 1,
	       during[bad < 0 ? 0 : bad] + 1);
	HCHECK(lost > 0, "b2 had no keys");
	set_unhealthy(1, 0);
	wait_state("app", 1, "up", 3000);
	map_keys(after, 0);
	for (k = 0; k < KEYS && bad < 0; k++)
		if (after[k] != before[k])
			bad = k;
	HCHECK(bad < 0, "b2 back: key-%d on b%d, was on b%d", bad,
	       after[bad < 0 ? 0 : bad] + 1, before[bad < 0 ? 0 : bad] + 1);
	no_crash();
}
END_TEST

START_TEST(hash_source_and_uri)
{
	long src[NSRV] = {0};
	char path[64];
	int k, used = 0, i, first[50], w;

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nserver = %s\n\n"
	         "[backend bysrc]\nbalance = hash\nhash_key = source\n"
	         "server = %s\nserver = %s\nserver = %s\n\n"
	         "[backend byuri]\nbalance = hash\nhash_key = uri\n"
	         "server = %s\nserver = %s\nserver = %s\n\n"
	         "[route src]\nhost = src.test\nbackend = bysrc\n\n"
	         "[route uri]\nhost = uri.test\nbackend = byuri\n",
	         addr[0], addr[0], addr[1], addr[2], addr[0], addr[1], addr[2]);
	/* one client address: one server, whatever the connection */
	for (k = 0; k < 200; k++) {
		if (k % 50 == 0)
			conns_reset(); /* new connections, maybe new workers */
		src[get_ok(k % NCONN, "src.test", "/whoami", NULL)]++;
	}
	for (i = 0; i < 3; i++)
		used += src[i] > 0;
	HCHECK(used == 1,
	       "hash_key = source spread one client: b1 %ld, "
	       "b2 %ld, b3 %ld",
	       src[0], src[1], src[2]);
	/* uri: the same URI on the same server, different URIs spread */
	memset(src, 0, sizeof(src));
	for (k = 0; k < 50; k++) {
		snprintf(path, sizeof(path), "/whoami?k=%d", k);
		first[k] = get_ok(k % NCONN, "uri.test", path, NULL);
		src[first[k]]++;
	}
	for (k = 0; k < 50; k++) {
		snprintf(path, sizeof(path), "/whoami?k=%d", k);
		w = get_ok((k + 1) % NCONN, "uri.test", path, NULL);
		HCHECK(w == first[k], "%s went to b%d, then b%d", path,
		       first[k] + 1, w + 1);
	}
	for (i = 0, used = 0; i < 3; i++)
		used += src[i] > 0;
	HCHECK(used == 3, "50 URIs over b1 %ld, b2 %ld, b3 %ld", src[0], src[1],
	       src[2]);
	no_crash();
}
END_TEST

START_TEST(random_spreads)
{
	long got[NSRV] = {0};
	int i;

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nbalance = random\n"
	         "server = %s\nserver = %s\nserver = %s\n",
	         addr[0], addr[1], addr[2]);
	spread(600, "app.test", "/whoami", got);
	for (i = 0; i < 3; i++)
		HCHECK(got[i] >= 60,
		       "random: b1 %ld, b2 %ld, b3 %ld of 600 (each >= 60)",
		       got[0], got[1], got[2]);
	HCHECK(got[0] + got[1] + got[2] == 600, "lost answers");
	no_crash();
}
END_TEST

/* ---- failover -------------------------------------------------------- */

struct load_result {
	unsigned ok;
	unsigned failed;
	unsigned per[NSRV];
	char first[256]; /* the first failure */
};

/* One client process: keep-alive GETs until LOAD_REQS or LOAD_MS.  No
 * HCHECK here: it would stop the test's children from this process. */
static void
load_child(int fd, int conn)
{
	int64_t end = harness_now_ms() + LOAD_MS;
	struct load_result res;
	char why[256];
	int k, st, who;

	memset(&res, 0, sizeof(res));
	conns[conn].fd = -1;
	for (k = 0; k < LOAD_REQS && harness_now_ms() < end; k++) {
		st = get_on(&conns[conn], "app.test", "/slow/5", NULL, &who,
		            why, sizeof(why));
		if (st == 200 && who >= 0) {
			res.ok++;
			res.per[who]++;
		} else if (res.failed++ == 0) {
			snprintf(res.first, sizeof(res.first),
			         "request %d: %.200s", k, why);
		}
	}
	_exit(write(fd, &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 2);
}

START_TEST(failover_on_kill)
{
	pid_t pid[LOADERS];
	int fd[LOADERS], p[2], i;
	struct load_result r, sum;
	struct pollfd pfd;
	long served[NSRV];
	struct srv js[3], tb[3];

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nbalance = roundrobin\n"
	         "server = %s\nserver = %s\nserver = %s\n"
	         "check = GET /healthz\ncheck_interval = 300ms\n"
	         "fall = 3\nrise = 2\n",
	         addr[0], addr[1], addr[2]);
	conns_reset();
	for (i = 0; i < LOADERS; i++) {
		HCHECK(pipe(p) == 0, "pipe");
		pid[i] = fork();
		HCHECK(pid[i] >= 0, "fork");
		if (pid[i] == 0) {
			close(p[0]);
			load_child(p[1], i);
		}
		close(p[1]);
		fd[i] = p[0];
	}
	harness_sleep_ms(500);
	origin_kill(1); /* b2, mid-load */
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < LOADERS; i++) {
		pfd.fd = fd[i];
		pfd.events = POLLIN;
		HCHECK(poll(&pfd, 1, LOAD_MS + 15000) == 1 &&
		               read(fd[i], &r, sizeof(r)) == (ssize_t)sizeof(r),
		       "load process %d gave no result", (int)pid[i]);
		close(fd[i]);
		harness_wait_pid(pid[i], 5000);
		sum.ok += r.ok;
		sum.failed += r.failed;
		sum.per[0] += r.per[0];
		sum.per[1] += r.per[1];
		sum.per[2] += r.per[2];
		if (sum.first[0] == '\0')
			memcpy(sum.first, r.first, sizeof(r.first));
	}
	no_crash();
	HCHECK(sum.failed <= LOADERS,
	       "%u of %u requests failed around a server kill; first: %s",
	       sum.failed, sum.ok + sum.failed, sum.first);
	HCHECK(sum.ok + sum.failed == LOADERS * LOAD_REQS,
	       "only %u of %d requests ran within %d ms", sum.ok + sum.failed,
	       LOADERS * LOAD_REQS, LOAD_MS);
	HCHECK(sum.per[1] > 0 && sum.per[0] > sum.per[1] &&
	               sum.per[2] > sum.per[1],
	       "b2 killed at 500 ms, yet b1 %u, b2 %u, b3 %u", sum.per[0],
	       sum.per[1], sum.per[2]);
	HCHECK(stat_total("backend_failovers") > 0,
	       "no failover counted after a kill under load");

	/* proxyctl backends: b2 down with failures, the others match */
	wait_state("app", 1, "down", 5000);
	served[0] = origin_count(0);
	served[2] = origin_count(2);
	backends_json("app", 3, js);
	backends_table("app", 3, tb);
	for (i = 0; i < 3; i++)
		HCHECK(strcmp(js[i].state, tb[i].state) == 0 &&
		               js[i].requests == tb[i].requests &&
		               js[i].failures == tb[i].failures &&
		               js[i].retries == tb[i].retries,
		       "b%d: table (%s, %llu requests, %llu failures) and json "
		       "(%s, %llu, %llu) differ",
		       i + 1, tb[i].state, (unsigned long long)tb[i].requests,
		       (unsigned long long)tb[i].failures, js[i].state,
		       (unsigned long long)js[i].requests,
		       (unsigned long long)js[i].failures);
	HCHECK(strcmp(js[1].state, "down") == 0 && js[1].failures > 0,
	       "killed b2: state %s, failures %llu", js[1].state,
	       (unsigned long long)js[1].failures);
	HCHECK(js[1].requests >= sum.per[1],
	       "b2: %llu requests in proxyctl, %u answered by it",
	       (unsigned long long)js[1].requests, sum.per[1]);
	for (i = 0; i < 3; i += 2) {
		HCHECK(strcmp(js[i].state, "up") == 0 && js[i].failures == 0,
		       "survivor b%d: state %s, failures %llu", i + 1,
		       js[i].state, (unsigned long long)js[i].failures);
		HCHECK(js[i].requests == (uint64_t)served[i] &&
		               served[i] == (long)sum.per[i],
		       "b%d: proxyctl %llu requests, origin served %ld, "
		       "clients saw %u",
		       i + 1, (unsigned long long)js[i].requests, served[i],
		       sum.per[i]);
	}
	no_crash();
}
END_TEST

/* ---- health checks --------------------------------------------------- */

START_TEST(health_check_file)
{
	long got[NSRV] = {0}, c0, c1;
	int ms;

	origins_up(3);
	proxy_up(2, "[backend app]\nserver = %s\nserver = %s\nserver = %s\n%s",
	         addr[0], addr[1], addr[2], checked);
	wait_state("app", 1, "up", 3000);
	set_unhealthy(1, 1);
	ms = wait_state("app", 1, "down", 3000);
	/* fall = 2 checks 200 ms apart: well under 2 s */
	HCHECK(ms < slow(2000), "b2 shown down %d ms after failing", ms);
	c0 = origin_count(1);
	spread(300, "app.test", "/whoami", got);
	c1 = origin_count(1);
	HCHECK(got[1] == 0 && c1 == c0,
	       "down b2 still served %ld requests (its count +%ld)", got[1],
	       c1 - c0);
	HCHECK(got[0] >= 140 && got[2] >= 140, "b1 %ld, b3 %ld of 300", got[0],
	       got[2]);

	set_unhealthy(1, 0);
	ms = wait_state("app", 1, "up", 3000);
	HCHECK(ms < slow(2000), "b2 back up %d ms after healing", ms);
	memset(got, 0, sizeof(got));
	spread(300, "app.test", "/whoami", got);
	HCHECK(got[0] >= 80 && got[1] >= 80 && got[2] >= 80,
	       "b2 back: b1 %ld, b2 %ld, b3 %ld of 300", got[0], got[1],
	       got[2]);
	no_crash();
}
END_TEST

START_TEST(health_check_kill_restart)
{
	long got[NSRV] = {0};
	int port;

	origins_up(3);
	proxy_up(2, "[backend app]\nserver = %s\nserver = %s\nserver = %s\n%s",
	         addr[0], addr[1], addr[2], checked);
	wait_state("app", 2, "up", 3000);
	port = org[2].port;
	origin_kill(2);
	wait_state("app", 2, "down", 3000);
	spread(100, "app.test", "/whoami", got);
	HCHECK(got[2] == 0 && got[0] + got[1] == 100,
	       "dead b3: b1 %ld, b2 %ld, b3 %ld", got[0], got[1], got[2]);

	origin_up(2, port); /* back on the same port */
	HCHECK(org[2].port == port, "b3 came back on %d, not %d", org[2].port,
	       port);
	wait_state("app", 2, "up", 3000);
	memset(got, 0, sizeof(got));
	spread(300, "app.test", "/whoami", got);
	HCHECK(got[2] >= 90, "restarted b3 got %ld of 300 (b1 %ld, b2 %ld)",
	       got[2], got[0], got[1]);
	no_crash();
}
END_TEST

/* proxyctl's states: a server taken out while a request is on it is
 * "draining" until that request is done, then "down". */
START_TEST(state_draining_then_down)
{
	long base[NSRV], now[NSRV];
	struct harness_resp r;
	struct srv js[2];
	int busy;

	origins_up(2);
	proxy_up(1, "[backend app]\nserver = %s\nserver = %s\n%s", addr[0],
	         addr[1], checked);
	origin_counts(2, base);
	send_only(&conns[0], "/slow/3500");
	wait_served(2, base, 1, now);
	busy = now[0] > base[0] ? 0 : 1;
	backends_json("app", 2, js);
	HCHECK(js[busy].active == 1 && js[1 - busy].active == 0,
	       "active: b1 %llu, b2 %llu with one request on b%d",
	       (unsigned long long)js[0].active,
	       (unsigned long long)js[1].active, busy + 1);
	set_unhealthy(busy, 1);
	wait_state("app", busy, "draining", 2000);
	HCHECK(harness_conn_response(&conns[0], &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200 && who_of(r.head) == busy,
	       "the request on the draining server: %d %s", r.status, r.error);
	harness_resp_free(&r);
	wait_state("app", busy, "down", 2000);
	backends_json("app", 2, js);
	HCHECK(js[busy].active == 0 && js[busy].failures == 0,
	       "b%d after draining: active %llu, failures %llu", busy + 1,
	       (unsigned long long)js[busy].active,
	       (unsigned long long)js[busy].failures);
	no_crash();
}
END_TEST

/* ---- no server ------------------------------------------------------- */

/* Ports nothing listens on (connect refused). */
static void
dead_servers(int n)
{
	int i, port;

	for (i = 0; i < n; i++) {
		port = harness_free_port();
		HCHECK(port > 0, "free port");
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", port);
	}
}

/* GETs that must each be answered (with one of two statuses) in under
 * limit_ms; returns how many were 503. */
static int
answered_fast(int n, int st_a, int st_b, int limit_ms)
{
	char why[320];
	int64_t t0;
	int k, st, who, n503 = 0, ms;

	for (k = 0; k < n; k++) {
		t0 = harness_now_ms();
		st = get_on(&conns[k % NCONN], "app.test", "/whoami", NULL,
		            &who, why, sizeof(why));
		ms = (int)(harness_now_ms() - t0);
		HCHECK(st == st_a || st == st_b,
		       "request %d: status %d, want %d or %d: %s", k, st, st_a,
		       st_b, why);
		HCHECK(ms < limit_ms,
		       "request %d: %d answered after %d ms (connect_timeout "
		       "2s)",
		       k, st, ms);
		n503 += st == 503;
	}
	return n503;
}

/* A server whose connects hang: a listener with a backlog of 0, its one
 * queue slot taken by a connection nobody accepts, so the kernel drops
 * further SYNs.  Its address goes into addr[i]; the fds stay open until
 * the test ends. */
static void
blackhole(int i)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct pollfd pfd;
	int lfd, fd, k;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	HCHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	               listen(lfd, 0) == 0 &&
	               getsockname(lfd, (struct sockaddr *)&sa, &len) == 0,
	       "blackhole listener: %s", strerror(errno));
	snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", ntohs(sa.sin_port));
	/* fill the queue; the last connect must then hang */
	for (k = 0; k < 3; k++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            0);
		HCHECK(fd >= 0, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			continue;
		HCHECK(errno == EINPROGRESS, "connect: %s", strerror(errno));
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 200) == 0)
			return; /* hangs: the queue is full */
	}
	HCHECK(0, "connects to a full backlog did not hang");
}

START_TEST(all_down_503_fast)
{
	uint64_t nosrv0, e503_0;
	struct harness_run r;
	struct srv js[3];
	const char *p;
	int i;

	for (i = 0; i < 3; i++)
		blackhole(i);
	/* connects hang: the checks time out and take every server out */
	proxy_up(2,
	         "[backend app]\nserver = %s\nserver = %s\nserver = %s\n"
	         "connect_timeout = 2s\ncheck = tcp\ncheck_interval = 200ms\n"
	         "check_timeout = 300ms\nfall = 2\n",
	         addr[0], addr[1], addr[2]);
	for (i = 0; i < 3; i++)
		wait_state("app", i, "down", 5000);
	ctl(&r, "backends", "--json");
	for (p = r.out, i = 0;
	     (p = strstr(p, "\"result\":\"timed out\"")) != NULL; p++)
		i++;
	HCHECK(i == 3, "not every check timed out (connects hang):\n%s", r.out);
	harness_run_free(&r);
	nosrv0 = stat_total("backend_no_server");
	e503_0 = stat_total("errors_503");
	/* no server is tried: 503 at once, not after the connect timeout */
	HCHECK(answered_fast(20, 503, 503, 1500) == 20, "not all 503");
	HCHECK(stat_total("backend_no_server") - nosrv0 == 20,
	       "backend_no_server counted %llu of 20",
	       (unsigned long long)(stat_total("backend_no_server") - nosrv0));
	HCHECK(stat_total("errors_503") - e503_0 == 20,
	       "errors_503 counted %llu of 20",
	       (unsigned long long)(stat_total("errors_503") - e503_0));
	backends_json("app", 3, js);
	for (i = 0; i < 3; i++)
		HCHECK(js[i].requests == 0, "down b%d was sent %llu requests",
		       i + 1, (unsigned long long)js[i].requests);
	no_crash();
}
END_TEST

START_TEST(all_refused_fast)
{
	int n503;

	dead_servers(3);
	/* no active check: requests find out; fall = 1 takes a server out
	 * at its first failure, until check_interval (10 s) has passed */
	proxy_up(2,
	         "[backend app]\nserver = %s\nserver = %s\nserver = %s\n"
	         "connect_timeout = 2s\nfall = 1\ncheck_interval = 10s\n",
	         addr[0], addr[1], addr[2]);
	/* the first requests try the servers (502: none accepts), the rest
	 * find none up (503); each answered at once, not at the timeout */
	n503 = answered_fast(20, 502, 503, 1500);
	HCHECK(n503 >= 10,
	       "only %d of 20 requests got 503 once every server "
	       "had refused",
	       n503);
	HCHECK(stat_total("backend_no_server") >= (uint64_t)n503,
	       "backend_no_server below the %d 503s", n503);
	no_crash();
}
END_TEST

/* ---- backup ---------------------------------------------------------- */

START_TEST(backup_only_when_primaries_down)
{
	long got[NSRV] = {0};
	struct srv js[3];

	origins_up(3);
	proxy_up(2,
	         "[backend app]\nserver = %s\nserver = %s\n"
	         "server = %s backup\n%s",
	         addr[0], addr[1], addr[2], checked);
	backends_json("app", 3, js);
	HCHECK(strcmp(js[2].state, "backup") == 0, "backup b3 shown %s",
	       js[2].state);
	spread(200, "app.test", "/whoami", got);
	HCHECK(got[2] == 0 && got[0] >= 90 && got[1] >= 90,
	       "primaries up: b1 %ld, b2 %ld, backup b3 %ld", got[0], got[1],
	       got[2]);

	/* one primary down: the other takes it all */
	set_unhealthy(0, 1);
	wait_state("app", 0, "down", 3000);
	memset(got, 0, sizeof(got));
	spread(100, "app.test", "/whoami", got);
	HCHECK(got[1] == 100, "b1 down: b1 %ld, b2 %ld, backup b3 %ld", got[0],
	       got[1], got[2]);

	/* both down: the backup serves */
	set_unhealthy(1, 1);
	wait_state("app", 1, "down", 3000);
	memset(got, 0, sizeof(got));
	spread(100, "app.test", "/whoami", got);
	HCHECK(got[2] == 100, "primaries down: b1 %ld, b2 %ld, backup b3 %ld",
	       got[0], got[1], got[2]);

	/* a primary back: the backup stops */
	set_unhealthy(0, 0);
	wait_state("app", 0, "up", 3000);
	memset(got, 0, sizeof(got));
	spread(100, "app.test", "/whoami", got);
	HCHECK(got[0] == 100, "b1 back: b1 %ld, b2 %ld, backup b3 %ld", got[0],
	       got[1], got[2]);
	no_crash();
}
END_TEST

/* ---- retries --------------------------------------------------------- */

/* A server that accepts, reads one request (head and Content-Length
 * body) and closes without a word; counts what it read. */
struct closer {
	int fd;
	int port;
	int stop;
	int heads; /* requests read */
	int posts; /* of which POSTs */
	pthread_t thread;
};

/* Reads until the head and its body are in, bounded by 2 s. */
static void
closer_read(struct closer *cl, int fd)
{
	char buf[8192], *eoh, *cl_field;
	size_t len = 0, need = 0;
	int64_t end = harness_now_ms() + 2000;
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;

	while (harness_now_ms() < end && len < sizeof(buf) - 1) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		eoh = strstr(buf, "\r\n\r\n");
		if (eoh == NULL)
			continue;
		if (need == 0) {
			cl_field = strcasestr(buf, "\r\nContent-Length:");
			need = (size_t)(eoh + 4 - buf);
			if (cl_field != NULL && cl_field < eoh)
				need += strtoul(cl_field + 17, NULL, 10);
		}
		if (len >= need)
			break;
	}
	if (len == 0)
		return;
	__atomic_add_fetch(&cl->heads, 1, __ATOMIC_SEQ_CST);
	if (strncmp(buf, "POST ", 5) == 0)
		__atomic_add_fetch(&cl->posts, 1, __ATOMIC_SEQ_CST);
}

static void *
closer_main(void *arg)
{
	struct closer *cl = arg;
	struct pollfd pfd = {cl->fd, POLLIN, 0};
	int fd;

	while (!__atomic_load_n(&cl->stop, __ATOMIC_SEQ_CST)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept4(cl->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		closer_read(cl, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

static void
closer_start(struct closer *cl)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	memset(cl, 0, sizeof(*cl));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	HCHECK(cl->fd >= 0 &&
	               bind(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	               listen(cl->fd, 64) == 0 &&
	               getsockname(cl->fd, (struct sockaddr *)&sa, &len) == 0,
	       "closing server: %s", strerror(errno));
	cl->port = ntohs(sa.sin_port);
	HCHECK(pthread_create(&cl->thread, NULL, closer_main, cl) == 0,
	       "thread");
}

static void
closer_stop(struct closer *cl)
{
	__atomic_store_n(&cl->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(cl->thread, NULL);
	close(cl->fd);
}

START_TEST(post_not_retried_get_moved)
{
	static char body[5000];
	struct closer cl;
	struct srv js[2];
	struct harness_resp r;
	long c0, c1;
	int who, st;
	char why[320];

	origins_up(1);
	closer_start(&cl);
	/* the closer first: weight 100 to 1 makes it every worker's pick
	 * for its first 50 requests; fall = 100 keeps it in */
	proxy_up(2,
	         "[backend app]\nserver = 127.0.0.1:%d weight=100\n"
	         "server = %s\nfall = 100\nretries = 2\n",
	         cl.port, addr[0]);
	c0 = origin_count(0);

	/* POST with a body: sent once, to the closer, never again */
	harness_pattern_fill(body, sizeof(body), 0);
	HCHECK(harness_conn_open(&conns[0], proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(&conns[0],
	                          "POST /echo HTTP/1.1\r\nHost: app.test\r\n"
	                          "Content-Length: %zu\r\n\r\n",
	                          sizeof(body)) == 0 &&
	               harness_conn_send(&conns[0], body, sizeof(body)) == 0,
	       "send POST");
	HCHECK(harness_conn_response(&conns[0], &r, 0, HARNESS_WAIT_MS) == 0,
	       "POST: no answer: %s", r.error);
	st = r.status;
	harness_resp_free(&r);
	harness_conn_close(&conns[0]);
	c1 = origin_count(0);
	HCHECK(st == 502 || st == 504, "POST to a closing server: status %d",
	       st);
	HCHECK(__atomic_load_n(&cl.posts, __ATOMIC_SEQ_CST) == 1,
	       "the closing server read the POST %d times",
	       __atomic_load_n(&cl.posts, __ATOMIC_SEQ_CST));
	HCHECK(c1 == c0, "the POST was sent again, to b1 (count +%ld)",
	       c1 - c0);

	/* GET: the closer drops it, b1 answers it */
	st = get_on(&conns[1], "app.test", "/whoami", NULL, &who, why,
	            sizeof(why));
	no_crash();
	HCHECK(st == 200 && who == 0, "GET not moved to b1: %d, from b%d: %s",
	       st, who + 1, why);
	HCHECK(__atomic_load_n(&cl.heads, __ATOMIC_SEQ_CST) == 2,
	       "the closing server read %d requests, want the POST and the "
	       "GET",
	       __atomic_load_n(&cl.heads, __ATOMIC_SEQ_CST));
	HCHECK(origin_count(0) == c1 + 1, "b1 served the GET %ld times",
	       origin_count(0) - c1);
	HCHECK(stat_total("backend_failovers") == 1, "backend_failovers %llu",
	       (unsigned long long)stat_total("backend_failovers"));
	/* proxyctl: the closer failed twice and gave one request away */
	snprintf(addr[1], sizeof(addr[1]), "127.0.0.1:%d", cl.port);
	backends_json("app", 2, js);
	HCHECK(js[1].requests == 2 && js[1].failures == 2 && js[1].retries == 1,
	       "closer: requests %llu, failures %llu, retries %llu (want 2, "
	       "2, 1)",
	       (unsigned long long)js[1].requests,
	       (unsigned long long)js[1].failures,
	       (unsigned long long)js[1].retries);
	HCHECK(js[0].requests == 1 && js[0].failures == 0,
	       "b1: requests %llu, failures %llu (want 1, 0)",
	       (unsigned long long)js[0].requests,
	       (unsigned long long)js[0].failures);
	closer_stop(&cl);
	no_crash();
}
END_TEST

/* A server that hangs after the request went out: the request times out
 * (504) and is not sent to another server, POST or GET. */
START_TEST(response_timeout_not_retried)
{
	static const char *const reqs[] = {
	        "POST /hang HTTP/1.1\r\nHost: app.test\r\n"
	        "Content-Length: 5\r\n\r\nhello",
	        "GET /hang HTTP/1.1\r\nHost: app.test\r\n\r\n"};
	struct harness_resp r;
	long before[NSRV], after[NSRV];
	int64_t t0;
	int k, ms;

	origins_up(2);
	proxy_up(2,
	         "[backend app]\nserver = %s\nserver = %s\n"
	         "response_timeout = 500ms\n",
	         addr[0], addr[1]);
	for (k = 0; k < 2; k++) {
		origin_counts(2, before);
		HCHECK(harness_conn_open(&conns[0], proxy.port) == 0,
		       "connect");
		HCHECK(harness_conn_send(&conns[0], reqs[k], strlen(reqs[k])) ==
		               0,
		       "send");
		t0 = harness_now_ms();
		HCHECK(harness_conn_response(&conns[0], &r, 0,
		                             HARNESS_WAIT_MS) == 0,
		       "%.4s /hang: no answer: %s", reqs[k], r.error);
		ms = (int)(harness_now_ms() - t0);
		HCHECK(r.status == 504 && ms < slow(3000),
		       "%.4s /hang: %d after %d ms", reqs[k], r.status, ms);
		harness_resp_free(&r);
		harness_conn_close(&conns[0]);
		origin_counts(2, after);
		HCHECK(after[0] - before[0] + after[1] - before[1] == 1,
		       "%.4s /hang reached the servers %ld times", reqs[k],
		       after[0] - before[0] + after[1] - before[1]);
	}
	no_crash();
}
END_TEST

/* ---- max_conns ------------------------------------------------------- */

START_TEST(max_conns_moves_next)
{
	long base[NSRV], now[NSRV], got[NSRV] = {0};
	struct harness_resp r;
	int busy, n;
	int64_t t0;

	origins_up(2);
	proxy_up(1,
	         "[backend app]\nserver = %s max_conns=1\n"
	         "server = %s max_conns=1\n",
	         addr[0], addr[1]);
	origin_counts(2, base);
	t0 = harness_now_ms();
	send_only(&conns[0], "/slow/2500");
	wait_served(2, base, 1, now);
	busy = now[0] > base[0] ? 0 : 1;
	n = quick_while_busy(1, t0, 2500, got);
	HCHECK(got[1 - busy] == n,
	       "b%d holds its one connection, yet b1 %ld, b2 %ld of %d",
	       busy + 1, got[0], got[1], n);
	HCHECK(harness_conn_response(&conns[0], &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200 && who_of(r.head) == busy,
	       "slow request: %d %s", r.status, r.error);
	harness_resp_free(&r);
	/* free again: both take requests */
	memset(got, 0, sizeof(got));
	spread(20, "app.test", "/whoami", got);
	HCHECK(got[0] >= 8 && got[1] >= 8, "after: b1 %ld, b2 %ld of 20",
	       got[0], got[1]);
	no_crash();
}
END_TEST

/* ---- the checker process --------------------------------------------- */

/* The health checker goes with its generation: a reload replaces it, a
 * stop ends it, as it does the workers. */
START_TEST(checker_follows_master)
{
	pid_t old[HARNESS_MAX_PIDS], ck1, ck2;
	int64_t end;
	int nold, status;

	origins_up(1);
	proxy_up(1, "[backend app]\nserver = %s\n%s", addr[0], checked);
	ck1 = checker_pid();
	nold = harness_proxy_workers(&proxy, old, HARNESS_MAX_PIDS);
	HCHECK(pid_in(ck1, old, nold), "checker %d is not the master's child",
	       (int)ck1);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	wait_reloaded(old, nold, ck1, 1);
	ck2 = checker_pid();
	HCHECK(ck2 != ck1 && running(ck2), "checker after reload: %d (was %d)",
	       (int)ck2, (int)ck1);
	for (end = harness_now_ms() + slow(5000);
	     running(ck1) && harness_now_ms() < end;)
		harness_sleep_ms(20);
	HCHECK(!running(ck1),
	       "the old generation's checker (pid %d) still runs 5 s after "
	       "the reload",
	       (int)ck1);
	HCHECK(kill(proxy.pid, SIGTERM) == 0, "SIGTERM");
	status = harness_proxy_wait_exit(&proxy, slow(5000));
	HCHECK(status != -1, "proxyd still running 5 s after SIGTERM");
	for (end = harness_now_ms() + slow(5000);
	     running(ck2) && harness_now_ms() < end;)
		harness_sleep_ms(20);
	HCHECK(!running(ck2), "the checker (pid %d) outlived the master by 5 s",
	       (int)ck2);
}
END_TEST

static void
setup(void)
{
	int i;

	for (i = 0; i < NCONN; i++)
		conns[i].fd = -1;
	side.fd = -1;
	memset(health, 0, sizeof(health));
	memset(addr, 0, sizeof(addr));
}

static Suite *
backends_suite(void)
{
	Suite *s = suite_create("backends");
	TCase *bal = tcase_create("balance");
	TCase *fail = tcase_create("failover");

	tcase_add_checked_fixture(bal, setup, harness_teardown);
	tcase_set_timeout(bal, 60);
	tcase_add_test(bal, roundrobin_weights);
	tcase_add_test(bal, leastconn_avoids_busy);
	tcase_add_test(bal, hash_header_consistent);
	tcase_add_test(bal, hash_server_down_moves_its_keys);
	tcase_add_test(bal, hash_source_and_uri);
	tcase_add_test(bal, random_spreads);
	tcase_add_test(bal, max_conns_moves_next);
	suite_add_tcase(s, bal);

	tcase_add_checked_fixture(fail, setup, harness_teardown);
	tcase_set_timeout(fail, 60);
	tcase_add_test(fail, failover_on_kill);
	tcase_add_test(fail, health_check_file);
	tcase_add_test(fail, health_check_kill_restart);
	tcase_add_test(fail, state_draining_then_down);
	tcase_add_test(fail, all_down_503_fast);
	tcase_add_test(fail, all_refused_fast);
	tcase_add_test(fail, backup_only_when_primaries_down);
	tcase_add_test(fail, post_not_retried_get_moved);
	tcase_add_test(fail, response_timeout_not_retried);
	tcase_add_test(fail, checker_follows_master);
	suite_add_tcase(s, fail);
	return s;
}

int
main(void)
{
	return harness_main(backends_suite());
}
