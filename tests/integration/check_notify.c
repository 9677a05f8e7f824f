/*
 * proxyd under a service manager: the sd_notify messages it sends to
 * $NOTIFY_SOCKET (READY, RELOADING with MONOTONIC_USEC, READY again,
 * STOPPING, STATUS) in order, the worker's core-dump setting, and the
 * privilege drop of workers started by root.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/support/harness.h"

static struct harness_proxy proxy;
static int nsock = -1;

/* A datagram socket standing in for systemd's notify socket; proxyd (a
 * child) finds it through the inherited environment. */
static void
notify_listen(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify.sock",
	         harness_tmpdir());
	nsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	HCHECK(nsock >= 0, "socket: %s", strerror(errno));
	unlink(sun.sun_path);
	HCHECK(bind(nsock, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	       "bind %s: %s", sun.sun_path, strerror(errno));
	/* the workers drop to nobody; the master (root) sends */
	HCHECK(setenv("NOTIFY_SOCKET", sun.sun_path, 1) == 0, "setenv");
}

/* The next message, or "" after timeout_ms. */
static void
next_message(char *out, size_t cap, int timeout_ms)
{
	struct pollfd p = {.fd = nsock, .events = POLLIN};
	ssize_t n;

	out[0] = '\0';
	if (poll(&p, 1, timeout_ms) != 1)
		return;
	n = recv(nsock, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
}

/* Waits for a message containing want, skipping STATUS-only ones. */
static void
expect_message(const char *want, char *msg, size_t cap)
{
	int64_t end = harness_now_ms() + HARNESS_WAIT_MS;

	do {
		next_message(msg, cap, 500);
		if (strstr(msg, want))
			return;
		HCHECK(msg[0] == '\0' || strncmp(msg, "STATUS=", 7) == 0,
		       "expected %s, got: %s", want, msg);
	} while (harness_now_ms() < end);
	HCHECK(0, "no %s notification within %d ms", want, HARNESS_WAIT_MS);
}

START_TEST(ready_reload_stopping)
{
	struct harness_config cfg = {0};
	char msg[1024], pid[32];

	notify_listen();
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	expect_message("READY=1", msg, sizeof(msg));
	snprintf(pid, sizeof(pid), "MAINPID=%d", (int)proxy.pid);
	HCHECK(strstr(msg, pid) != NULL, "READY without %s: %s", pid, msg);

	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	expect_message("RELOADING=1", msg, sizeof(msg));
	HCHECK(strstr(msg, "MONOTONIC_USEC=") != NULL,
	       "RELOADING without MONOTONIC_USEC: %s", msg);
	expect_message("READY=1", msg, sizeof(msg));
	HCHECK(strstr(msg, "reloaded") != NULL, "no reload status: %s", msg);

	HCHECK(kill(proxy.pid, SIGQUIT) == 0, "SIGQUIT");
	expect_message("STOPPING=1", msg, sizeof(msg));
	HCHECK(harness_proxy_wait_exit(&proxy, HARNESS_WAIT_MS) == 0,
	       "proxyd did not exit");
}
END_TEST

START_TEST(rejected_reload_is_ready_again)
{
	struct harness_config cfg = {0};
	struct harness_config bad = {.raw = "[proxyd]\nworkers = none\n"};
	char msg[1024];

	notify_listen();
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	expect_message("READY=1", msg, sizeof(msg));
	HCHECK(harness_proxy_write_config(&proxy, &bad) == 0, "write");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	expect_message("RELOADING=1", msg, sizeof(msg));
	expect_message("READY=1", msg, sizeof(msg));
	HCHECK(strstr(msg, "rejected") != NULL, "status should say so: %s",
	       msg);
}
END_TEST

/* "Max core file size" of a worker, from /proc/PID/limits: the soft
 * limit as text ("0", "unlimited", ...); out holds 32 bytes. */
static void
core_limit(pid_t pid, char out[32])
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	out[0] = '\0';
	f = fopen(path, "r");
	HCHECK(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Max core file size", 18) == 0)
			sscanf(line + 26, "%31s", out);
	fclose(f);
}

/* With a hard limit of 0 nothing can turn dumps on. */
static int
getrlimit_hard_zero(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max == 0;
}

static void
check_core(const char *extra, int want_zero)
{
	struct harness_config cfg = {.proxyd_extra = extra};
	pid_t w[HARNESS_MAX_PIDS];
	struct rlimit rl;
	char limit[32];

	/* proxyd inherits a raised soft limit: the worker must lower it */
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
	}
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_proxy_workers(&proxy, w, HARNESS_MAX_PIDS) >= 1,
	       "no workers");
	core_limit(w[0], limit);
	if (want_zero)
		HCHECK(strcmp(limit, "0") == 0, "core limit %s, want 0", limit);
	else
		HCHECK(strcmp(limit, "0") != 0 || getrlimit_hard_zero(),
		       "core limit 0 with core_dumps = on");
}

START_TEST(no_core_dumps_by_default)
{
	check_core(NULL, 1);
}
END_TEST

START_TEST(core_dumps_on)
{
	check_core("core_dumps = on\n", 0);
}
END_TEST

/* "Uid:" / "Gid:" / "Groups:" line of /proc/PID/status, after the tag. */
static void
status_line(pid_t pid, const char *tag, char *out, size_t cap)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	out[0] = '\0';
	f = fopen(path, "r");
	HCHECK(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, tag, strlen(tag)) == 0)
			snprintf(out, cap, "%s", line + strlen(tag));
	fclose(f);
}

/* Started as root, the workers run as `user` (nobody) with no
 * supplementary groups; the master stays root to bind and reload. */
START_TEST(workers_drop_root)
{
	struct harness_config cfg = {0};
	pid_t w[HARNESS_MAX_PIDS];
	struct passwd *pw = getpwnam("nobody");
	char uid[128], groups[256], want[64];

	if (geteuid() != 0 || !pw)
		return; /* only root can drop; CI runs as root */
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_proxy_workers(&proxy, w, HARNESS_MAX_PIDS) >= 1,
	       "no workers");
	status_line(w[0], "Uid:", uid, sizeof(uid));
	snprintf(want, sizeof(want), "\t%u\t%u\t%u", (unsigned)pw->pw_uid,
	         (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
	HCHECK(strncmp(uid, want, strlen(want)) == 0, "worker Uid:%s want%s",
	       uid, want);
	status_line(w[0], "Groups:", groups, sizeof(groups));
	HCHECK(strspn(groups, " \t\n") == strlen(groups),
	       "worker keeps groups:%s", groups);
	status_line(proxy.pid, "Uid:", uid, sizeof(uid));
	HCHECK(strncmp(uid, "\t0\t", 3) == 0, "master Uid:%s", uid);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ready_reload_stopping);
	tcase_add_test(tc, rejected_reload_is_ready_again);
	tcase_add_test(tc, no_core_dumps_by_default);
	tcase_add_test(tc, core_dumps_on);
	tcase_add_test(tc, workers_drop_root);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(notify_suite());
}
