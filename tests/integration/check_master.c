/*
 * The master process: `proxyd -t` and `-V`, respawning a killed worker,
 * reloads under load (SIGHUP) that must not fail a single request, a bad
 * config on reload that must leave the old generation serving, graceful
 * (SIGQUIT) and fast (SIGTERM) stops, and a clear refusal to start on a
 * port already taken.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/wait.h>

#include "tests/support/harness.h"

#define LOADERS 3           /* concurrent load processes */
#define LOAD_MAX_REQS 20000 /* per loader: bounded in count... */
#define LOAD_MAX_MS 15000   /* ...and in time */

static struct harness_origin origin;
static struct harness_proxy proxy;
static struct harness_conn conn;

static void
up(const char *timeouts)
{
	struct harness_config cfg = {.timeouts = timeouts};

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
}

static const char *
proxyd_bin(void)
{
	const char *v = getenv("PROXYD_BIN");

	return v != NULL && v[0] != '\0' ? v : "build/proxyd";
}

/* One GET on a new connection, checked; 0, or -1 with why filled in. */
static int
one_request(const char *path, uint64_t want, char *why, size_t whylen)
{
	struct harness_resp r;
	int rc = -1;

	r.body = NULL;
	if (harness_conn_open(&conn, proxy.port) < 0) {
		snprintf(why, whylen, "%s: connect: %s", path, strerror(errno));
		return -1;
	}
	if (harness_conn_sendf(
	            &conn,
	            "GET http://127.0.0.1:%d%s HTTP/1.1\r\n"
	            "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	            origin.port, path, origin.port) < 0)
		snprintf(why, whylen, "%s: send failed", path);
	else if (harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) < 0)
		snprintf(why, whylen, "%s: %.200s", path, r.error);
	else if (r.status != 200 || r.body_total != want)
		snprintf(why, whylen, "%s: status %d, %llu bytes", path,
		         r.status, (unsigned long long)r.body_total);
	else
		rc = 0;
	harness_resp_free(&r);
	harness_conn_close(&conn);
	return rc;
}

/* n requests in a row that must all succeed. */
static void
requests_ok(int n)
{
	char why[256];
	int i;

	for (i = 0; i < n; i++)
		HCHECK(one_request("/size/1000", 1000, why, sizeof(why)) == 0,
		       "request %d of %d failed: %s", i + 1, n, why);
}

/* ---- load from child processes ------------------------------------- */

struct load_result {
	unsigned ok;
	unsigned failed;
	char first[256]; /* the first failure */
};

/* Requests on new connections until the deadline or the count; quick,
 * chunked and slow ones, so reloads land while some are in flight. */
static void
load_child(int fd, int duration_ms)
{
	static const char *const paths[] = {"/size/1000", "/chunked/3000",
	                                    "/slow/100"};
	static const uint64_t sizes[] = {1000, 3000, 5};
	int64_t end = harness_now_ms() + duration_ms;
	struct load_result res = {0, 0, ""};
	char why[256];
	unsigned i;

	for (i = 0; i < LOAD_MAX_REQS && harness_now_ms() < end; i++) {
		if (one_request(paths[i % 3], sizes[i % 3], why, sizeof(why)) ==
		    0) {
			res.ok++;
		} else if (res.failed++ == 0) {
			snprintf(res.first, sizeof(res.first), "%s", why);
		}
	}
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(2);
	_exit(0);
}

struct load {
	pid_t pid[LOADERS];
	int fd[LOADERS];
};

static void
load_start(struct load *l, int duration_ms)
{
	int p[2], i;

	for (i = 0; i < LOADERS; i++) {
		HCHECK(pipe(p) == 0, "pipe");
		l->pid[i] = fork();
		HCHECK(l->pid[i] >= 0, "fork");
		if (l->pid[i] == 0) {
			close(p[0]);
			load_child(p[1], duration_ms);
		}
		close(p[1]);
		l->fd[i] = p[0];
	}
}

/* Sums the loaders' results (bounded wait for each). */
static void
load_finish(struct load *l, struct load_result *sum)
{
	struct load_result r;
	struct pollfd pfd;
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < LOADERS; i++) {
		pfd.fd = l->fd[i];
		pfd.events = POLLIN;
		HCHECK(poll(&pfd, 1, LOAD_MAX_MS + 15000) == 1 &&
		               read(l->fd[i], &r, sizeof(r)) ==
		                       (ssize_t)sizeof(r),
		       "load process %d gave no result", (int)l->pid[i]);
		close(l->fd[i]);
		harness_wait_pid(l->pid[i], 5000);
		sum->ok += r.ok;
		sum->failed += r.failed;
		if (sum->first[0] == '\0')
			memcpy(sum->first, r.first, sizeof(r.first));
	}
}

/* ---- command line -------------------------------------------------- */

static void
run_proxyd(struct harness_run *r, const char *opt, const char *conf)
{
	const char *argv[] = {proxyd_bin(), opt, conf ? "-c" : NULL, conf,
	                      NULL};

	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = 20000;
	harness_run(r);
	r->argv = NULL;
}

START_TEST(config_test_good)
{
	struct harness_config cfg = {0};
	struct harness_run r;

	HCHECK(harness_proxy_init(&proxy, "good", &cfg) == 0, "init");
	run_proxyd(&r, "-t", proxy.conf);
	HCHECK(r.code == 0, "proxyd -t on a good config: exit %d\n%s%s", r.code,
	       r.out, r.err);
	harness_run_free(&r);
}
END_TEST

/* proxyd -t on text must exit 1 and name file:line. */
static void
check_bad_config(const char *name, const char *text, int line)
{
	struct harness_run r;
	char path[PATH_MAX], want[PATH_MAX + 16];

	HCHECK(harness_write_file(name, text, strlen(text), path,
	                          sizeof(path)) == 0,
	       "write %s", name);
	run_proxyd(&r, "-t", path);
	snprintf(want, sizeof(want), "%s:%d:", name, line);
	HCHECK(r.code == 1, "proxyd -t on %s: exit %d\n%s%s", name, r.code,
	       r.out, r.err);
	HCHECK(strstr(r.err, want) != NULL, "stderr does not say \"%s\":\n%s",
	       want, r.err);
	harness_run_free(&r);
}

START_TEST(config_test_bad)
{
	check_bad_config("bad1.ini", "[proxyd]\nworkers = 2\nno_such_key = 1\n",
	                 3);
	check_bad_config("bad2.ini", "[timeouts]\nclient_header = soon\n", 2);
	check_bad_config("bad3.ini",
	                 "[proxyd]\nworkers = 1\n\n[listen x]\nmode = forward\n"
	                 "address = 127.0.0.1:99999\n",
	                 6);
}
END_TEST

START_TEST(version)
{
	struct harness_run r;
	const char *p;
	int found = 0;

	run_proxyd(&r, "-V", NULL);
	for (p = r.out; *p != '\0' && !found; p++)
		found = isdigit((unsigned char)p[0]) && p[1] == '.' &&
		        isdigit((unsigned char)p[2]);
	for (p = r.err; *p != '\0' && !found; p++)
		found = isdigit((unsigned char)p[0]) && p[1] == '.' &&
		        isdigit((unsigned char)p[2]);
	HCHECK(r.code == 0 && found, "proxyd -V: exit %d, said \"%s%s\"",
	       r.code, r.out, r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- workers ------------------------------------------------------- */

START_TEST(killed_worker_respawned)
{
	pid_t before[HARNESS_MAX_PIDS], after[HARNESS_MAX_PIDS], victim;
	struct load_result res;
	struct load l;
	int n, m, i;

	up(NULL);
	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(n == 2, "%d workers, configured 2", n);
	victim = before[0];
	load_start(&l, 2000);
	harness_sleep_ms(500);
	HCHECK(kill(victim, SIGKILL) == 0, "kill -9 %d", (int)victim);
	load_finish(&l, &res);
	/* only what the victim held in flight may fail: one per loader */
	HCHECK(res.failed <= LOADERS,
	       "%u of %u requests failed around a worker crash; first: %s",
	       res.failed, res.ok + res.failed, res.first);
	HCHECK(harness_proxy_wait_workers(&proxy, n, &victim, 1, 10000) == 0,
	       "worker %d not replaced within 10 s", (int)victim);
	m = harness_proxy_workers(&proxy, after, HARNESS_MAX_PIDS);
	for (i = 0; i < m; i++)
		HCHECK(after[i] != victim, "killed worker still listed");
	requests_ok(100);
}
END_TEST

START_TEST(sighup_under_load)
{
	pid_t before[HARNESS_MAX_PIDS];
	struct load_result res;
	struct load l;
	int n, i;

	up(NULL);
	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(n == 2, "%d workers, configured 2", n);
	load_start(&l, 3000);
	harness_sleep_ms(300);
	for (i = 0; i < 5; i++) {
		HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
		harness_sleep_ms(300);
	}
	load_finish(&l, &res);
	HCHECK(res.failed == 0,
	       "%u of %u requests failed across reloads; "
	       "first: %s",
	       res.failed, res.ok + res.failed, res.first);
	HCHECK(res.ok >= 30, "only %u requests in 3 s", res.ok);
	HCHECK(harness_proxy_wait_workers(&proxy, n, before, n, 15000) == 0,
	       "the workers were not replaced by the reloads");
	requests_ok(20);
}
END_TEST

START_TEST(bad_reload_keeps_old_config)
{
	static const struct harness_config bad = {
	        .raw = "[proxyd]\nworkers = banana\n"};
	pid_t before[HARNESS_MAX_PIDS], after[HARNESS_MAX_PIDS];
	char log[16384];
	int n, m;

	up(NULL);
	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(harness_proxy_write_config(&proxy, &bad) == 0, "write config");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	harness_sleep_ms(1000);
	HCHECK(harness_pid_alive(proxy.pid), "proxyd died on a bad reload");
	requests_ok(20);
	m = harness_proxy_workers(&proxy, after, HARNESS_MAX_PIDS);
	HCHECK(m == n && memcmp(before, after, sizeof(pid_t) * (size_t)n) == 0,
	       "workers changed on a rejected reload (%d -> %d)", n, m);
	harness_proxy_log(&proxy, log, sizeof(log));
	HCHECK(strstr(log, "proxyd.ini:2") != NULL,
	       "the log does not say where the config is wrong:\n%s", log);
}
END_TEST

/* ---- stopping ------------------------------------------------------ */

START_TEST(sigquit_graceful)
{
	struct harness_resp r;
	int status;

	up("drain = 5s\n");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(
	               &conn,
	               "GET http://127.0.0.1:%d/slow/1500 HTTP/1.1\r\n"
	               "Host: 127.0.0.1:%d\r\n\r\n",
	               origin.port, origin.port) == 0,
	       "send");
	harness_sleep_ms(300); /* in flight at the origin by now */
	HCHECK(kill(proxy.pid, SIGQUIT) == 0, "SIGQUIT");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200 && strcmp(r.body, "slow\n") == 0,
	       "in-flight request lost on SIGQUIT: %d %s", r.status, r.error);
	harness_resp_free(&r);
	status = harness_proxy_wait_exit(&proxy, 8000);
	HCHECK(status != -1, "proxyd still running 8 s after SIGQUIT");
	HCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "SIGQUIT exit status 0x%x", status);
}
END_TEST

START_TEST(sigterm_exits)
{
	pid_t workers[HARNESS_MAX_PIDS];
	int64_t end;
	int n, i, status, alive = 1;

	up(NULL);
	requests_ok(5);
	n = harness_proxy_workers(&proxy, workers, HARNESS_MAX_PIDS);
	HCHECK(kill(proxy.pid, SIGTERM) == 0, "SIGTERM");
	status = harness_proxy_wait_exit(&proxy, 5000);
	HCHECK(status != -1, "proxyd still running 5 s after SIGTERM");
	HCHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
	               (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM),
	       "SIGTERM exit status 0x%x", status);
	for (end = harness_now_ms() + 5000; alive && harness_now_ms() < end;) {
		for (i = 0, alive = 0; i < n; i++)
			alive += harness_pid_alive(workers[i]);
		harness_sleep_ms(20);
	}
	HCHECK(!alive, "%d workers outlived the master", alive);
}
END_TEST

START_TEST(second_instance_fails)
{
	struct harness_config cfg = {0};
	struct harness_proxy second;
	struct harness_run r;
	const char *argv[5];
	char log[16384], port[16];

	up(NULL);
	cfg.port = proxy.port;
	HCHECK(harness_proxy_init(&second, "second", &cfg) == 0, "init");
	argv[0] = proxyd_bin();
	argv[1] = "-f";
	argv[2] = "-c";
	argv[3] = second.conf;
	argv[4] = NULL;
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = 10000;
	harness_run(&r);
	harness_proxy_log(&second, log, sizeof(log));
	snprintf(port, sizeof(port), "%d", proxy.port);
	HCHECK(!r.timed_out && r.code != 0, "a second proxyd on port %d %s",
	       proxy.port, r.timed_out ? "kept running" : "exited 0");
	HCHECK(strstr(r.err, port) != NULL || strstr(log, port) != NULL ||
	               strcasestr(r.err, "in use") != NULL ||
	               strcasestr(log, "in use") != NULL,
	       "no clear error (address or \"in use\"):\n%s%s", r.err, log);
	harness_run_free(&r);
	requests_ok(5); /* the first one is unharmed */
}
END_TEST

static Suite *
master_suite(void)
{
	Suite *s = suite_create("master");
	TCase *cli = tcase_create("cli");
	TCase *tc = tcase_create("processes");

	tcase_add_checked_fixture(cli, NULL, harness_teardown);
	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, config_test_good);
	tcase_add_test(cli, config_test_bad);
	tcase_add_test(cli, version);
	suite_add_tcase(s, cli);

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, killed_worker_respawned);
	tcase_add_test(tc, sighup_under_load);
	tcase_add_test(tc, bad_reload_keeps_old_config);
	tcase_add_test(tc, sigquit_graceful);
	tcase_add_test(tc, sigterm_exits);
	tcase_add_test(tc, second_instance_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(master_suite());
}
