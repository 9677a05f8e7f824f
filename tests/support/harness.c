/*
 * Integration test kit (see harness.h), the core: the temp folder and its
 * files, loopback ports, starting and stopping proxyd and the origin, and
 * what a failing test shows.  Processes and curl are in harness_proc.c, the
 * raw HTTP client in harness_http.c.  Everything here is bounded in time,
 * because a hung test teaches nothing; and only ever talks to 127.0.0.1,
 * because tests must not depend on the network.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/support/harness.h"
#include "tests/support/harness_int.h"

#define MAX_PROXIES 8
#define MAX_ORIGINS 8
#define START_MS 10000 /* proxyd or the origin up and accepting */
#define LOG_TAIL 16384

/* What a failure report and the teardown need, copied out of the test's
 * own structs (which live on the test function's stack). */
static struct harness_proxy proxies[MAX_PROXIES];
static struct harness_origin origins[MAX_ORIGINS];
static char tmpdir[PATH_MAX];

/* ---- small things -------------------------------------------------- */

int64_t
harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
harness_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
harness_pattern_check(const char *buf, size_t len, uint64_t off)
{
	char want[4096];
	size_t n;

	while (len > 0) {
		n = len < sizeof(want) ? len : sizeof(want);
		harness_pattern_fill(want, n, off);
		if (memcmp(want, buf, n) != 0)
			return -1;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* ---- files --------------------------------------------------------- */

const char *
harness_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return tmpdir;
	snprintf(tmpdir, sizeof(tmpdir), "%s/proxyd-test.XXXXXX",
	         base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("harness: mkdtemp");
		tmpdir[0] = '\0';
		return "/nonexistent";
	}
	/* workers started as root drop to an unprivileged user */
	chmod(tmpdir, 0755);
	return tmpdir;
}

static int
tmp_path(char *out, size_t outlen, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", harness_tmpdir(), name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
harness_write_file(const char *name, const void *data, size_t len, char *out,
                   size_t outlen)
{
	int fd, rc;

	if (tmp_path(out, outlen, name) < 0)
		return -1;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	rc = write_all(fd, data, len);
	return close(fd) < 0 ? -1 : rc;
}

int
harness_write_pattern_file(const char *name, uint64_t len, char *out,
                           size_t outlen)
{
	static char block[1 << 20];
	uint64_t off;
	size_t n;
	int fd, rc = 0;

	if (tmp_path(out, outlen, name) < 0)
		return -1;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < sizeof(block) ? (size_t)(len - off)
		                              : sizeof(block);
		harness_pattern_fill(block, n, off);
		rc = write_all(fd, block, n);
	}
	return close(fd) < 0 ? -1 : rc;
}

/* The last cap-1 bytes of a file, appended at buf+*len. */
static void
read_tail(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	if (fd < 0 || *len + 1 >= cap) {
		if (fd >= 0)
			close(fd);
		return;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)(cap - 1 - *len))
		lseek(fd, size - (off_t)(cap - 1 - *len), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	while (*len + 1 < cap && (n = read(fd, buf + *len, cap - 1 - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	close(fd);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* ---- ports --------------------------------------------------------- */

static void
loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
harness_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	loopback(&sa, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Non-blocking connect bounded by timeout_ms; the fd comes back blocking,
 * with send/receive timeouts so no single call can hang a test. */
int
harness_connect_port(int port, int timeout_ms)
{
	struct timeval tv = {HARNESS_WAIT_MS / 1000, 0};
	struct sockaddr_in sa;
	struct pollfd pfd;
	int fd, err = 0, one = 1;
	socklen_t elen = sizeof(err);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	loopback(&sa, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (errno != EINPROGRESS || poll(&pfd, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ||
		    err != 0) {
			close(fd);
			return -1;
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
harness_wait_port(int port, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int fd;

	do {
		fd = harness_connect_port(port, 500);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	return -1;
}

/* ---- the origin ---------------------------------------------------- */

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : dflt;
}

static int
read_port_file(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

static void
origin_register(const struct harness_origin *o)
{
	int i;

	for (i = 0; i < MAX_ORIGINS; i++)
		if (origins[i].pid == 0) {
			origins[i] = *o;
			return;
		}
}

int
harness_origin_start(struct harness_origin *o, int tls)
{
	static int seq;
	const char *argv[5];
	char port_file[PATH_MAX], name[32];
	int64_t deadline = harness_now_ms() + START_MS;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	memset(o, 0, sizeof(*o));
	snprintf(name, sizeof(name), "origin-%d.port", seq++);
	if (null < 0 || tmp_path(port_file, sizeof(port_file), name) < 0)
		return -1;
	argv[0] = env_or("ORIGIN_BIN", "build/tests/origin");
	argv[1] = "-p";
	argv[2] = port_file;
	argv[3] = tls ? "-t" : NULL;
	argv[4] = NULL;
	o->tls = tls;
	o->pid = harness_spawn(argv, null, 2, 2);
	close(null);
	while (o->pid > 0 && harness_now_ms() < deadline) {
		o->port = read_port_file(port_file);
		if (o->port > 0) {
			origin_register(o);
			return 0;
		}
		if (waitpid(o->pid, NULL, WNOHANG) == o->pid)
			break;
		harness_sleep_ms(10);
	}
	fprintf(stderr, "harness: origin %s did not start\n", argv[0]);
	harness_kill_reap(o->pid);
	o->pid = 0;
	return -1;
}

#define ORIGIN_ARGS_MAX 32

int
harness_origin_start_args(struct harness_origin *o, int tls,
                          const char *const *args)
{
	static int seq;
	const char *argv[ORIGIN_ARGS_MAX + 5];
	char port_file[PATH_MAX], name[40];
	int64_t deadline = harness_now_ms() + START_MS;
	int null, n = 0, i;

	memset(o, 0, sizeof(*o));
	/* its own names: harness_origin_start() counts origin-N.port */
	snprintf(name, sizeof(name), "origin-args-%d.port", seq++);
	if (tmp_path(port_file, sizeof(port_file), name) < 0)
		return -1;
	argv[n++] = env_or("ORIGIN_BIN", "build/tests/origin");
	argv[n++] = "-p";
	argv[n++] = port_file;
	if (tls)
		argv[n++] = "-t";
	for (i = 0; args != NULL && args[i] != NULL; i++) {
		if (i == ORIGIN_ARGS_MAX) {
			fprintf(stderr, "harness: more than %d origin args\n",
			        ORIGIN_ARGS_MAX);
			return -1;
		}
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0)
		return -1;
	o->tls = tls;
	o->pid = harness_spawn(argv, null, 2, 2);
	close(null);
	while (o->pid > 0 && harness_now_ms() < deadline) {
		o->port = read_port_file(port_file);
		if (o->port > 0) {
			origin_register(o);
			return 0;
		}
		/* e.g. -l PORT still taken: it exits at once */
		if (waitpid(o->pid, NULL, WNOHANG) == o->pid) {
			o->pid = 0;
			break;
		}
		harness_sleep_ms(10);
	}
	fprintf(stderr, "harness: origin %s did not start\n", argv[0]);
	harness_kill_reap(o->pid);
	o->pid = 0;
	return -1;
}

void
harness_origin_stop(struct harness_origin *o)
{
	int i;

	if (o->pid <= 0)
		return;
	kill(o->pid, SIGTERM);
	if (harness_wait_bounded(o->pid, 5000) == -1)
		harness_kill_reap(o->pid);
	for (i = 0; i < MAX_ORIGINS; i++)
		if (origins[i].pid == o->pid)
			origins[i].pid = 0;
	o->pid = 0;
}

/* ---- proxyd -------------------------------------------------------- */

static int
proxy_paths(struct harness_proxy *p)
{
	static const char *const suffix[] = {".ini",        "-error.log",
	                                     "-stderr.log", "-access.log",
	                                     ".pid",        ".shm"};
	char *dst[] = {p->conf,       p->error_log, p->stderr_log,
	               p->access_log, p->pid_file,  p->shm_file};
	char name[64];
	unsigned i;

	for (i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
		snprintf(name, sizeof(name), "%.32s%s", p->name, suffix[i]);
		if (tmp_path(dst[i], PATH_MAX, name) < 0)
			return -1;
	}
	return 0;
}

int
harness_proxy_write_config(struct harness_proxy *p,
                           const struct harness_config *cfg)
{
	char text[8192];
	int n;

	if (cfg->raw != NULL)
		return harness_write_file(strrchr(p->conf, '/') + 1, cfg->raw,
		                          strlen(cfg->raw), p->conf, PATH_MAX);
	n = snprintf(text, sizeof(text),
	             "# written by tests/support/harness.c\n"
	             "[proxyd]\nworkers = %u\npid_file = %s\nshm_file = %s\n"
	             "error_log = %s\naccess_log = %s\nlog_level = %s\n%s\n"
	             "[listen main]\naddress = 127.0.0.1:%d\nmode = forward\n"
	             "allow_loopback = on\n"
	             "%s\n%s%s",
	             p->workers, p->pid_file, p->shm_file, p->error_log,
	             p->access_log, cfg->log_level ? cfg->log_level : "info",
	             cfg->proxyd_extra ? cfg->proxyd_extra : "", p->port,
	             cfg->listen_extra ? cfg->listen_extra : "",
	             cfg->timeouts ? "[timeouts]\n" : "",
	             cfg->timeouts ? cfg->timeouts : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return harness_write_file(strrchr(p->conf, '/') + 1, text, (size_t)n,
	                          p->conf, PATH_MAX);
}

int
harness_proxy_init(struct harness_proxy *p, const char *name,
                   const struct harness_config *cfg)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->workers = cfg->workers > 0 ? cfg->workers : 2;
	p->port = cfg->port > 0 ? cfg->port : harness_free_port();
	if (p->port <= 0 || proxy_paths(p) < 0)
		return -1;
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
	return harness_proxy_write_config(p, cfg);
}

static void
proxy_register(const struct harness_proxy *p)
{
	int i;

	for (i = 0; i < MAX_PROXIES; i++)
		if (proxies[i].pid == 0) {
			proxies[i] = *p;
			return;
		}
}

static void
proxy_unregister(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_PROXIES; i++)
		if (proxies[i].pid == pid)
			proxies[i].pid = 0;
}

/* Up means: the port accepts and the master has its workers. */
static int
proxy_wait_up(struct harness_proxy *p, int64_t deadline)
{
	pid_t pids[HARNESS_MAX_PIDS];
	int fd, up = 0, status;

	while (harness_now_ms() < deadline) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			fprintf(stderr,
			        "harness: proxyd exited at start-up "
			        "(status 0x%x)\n",
			        status);
			proxy_unregister(p->pid);
			p->pid = 0;
			return -1;
		}
		if (!up && (fd = harness_connect_port(p->port, 200)) >= 0) {
			close(fd);
			up = 1;
		}
		if (up && harness_children(p->pid, pids, HARNESS_MAX_PIDS) >=
		                  (int)p->workers)
			return 0;
		harness_sleep_ms(20);
	}
	fprintf(stderr, "harness: proxyd not up within %d ms (%s)\n", START_MS,
	        up ? "no workers" : "port closed");
	return -1;
}

int
harness_proxy_start(struct harness_proxy *p)
{
	const char *bin = env_or("PROXYD_BIN", "build/proxyd");
	const char *wrap = getenv("PROXYD_WRAPPER");
	const char *plain[] = {bin, "-f", "-c", p->conf, NULL};
	/* PROXYD_WRAPPER (e.g. valgrind and its options) runs proxyd under
	 * it; exec keeps proxyd's pid the one the harness knows. */
	const char *wrapped[] = {"sh", "-c",    "exec $PROXYD_WRAPPER \"$@\"",
	                         "sh", bin,     "-f",
	                         "-c", p->conf, NULL};
	const char *const *argv = wrap && *wrap ? wrapped : plain;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int log = open(p->stderr_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	               0644);

	if (null < 0 || log < 0)
		return -1;
	p->pid = harness_spawn(argv, null, log, log);
	close(null);
	close(log);
	if (p->pid < 0)
		return -1;
	proxy_register(p);
	if (proxy_wait_up(p, harness_now_ms() + START_MS) == 0)
		return 0;
	harness_proxy_dump_log(p);
	if (p->pid > 0) {
		harness_kill_reap(p->pid);
		proxy_unregister(p->pid);
	}
	p->pid = 0;
	return -1;
}

int
harness_proxy_up(struct harness_proxy *p, const struct harness_config *c)
{
	if (harness_proxy_init(p, "proxyd", c) < 0)
		return -1;
	return harness_proxy_start(p);
}

int
harness_proxy_wait_exit(struct harness_proxy *p, int timeout_ms)
{
	int status;

	if (p->pid <= 0)
		return -1;
	status = harness_wait_bounded(p->pid, timeout_ms);
	if (status != -1) {
		proxy_unregister(p->pid);
		p->pid = 0;
	}
	return status;
}

int
harness_proxy_stop(struct harness_proxy *p, int sig, int timeout_ms)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	status = harness_proxy_wait_exit(p, timeout_ms);
	if (status == -1) {
		fprintf(stderr,
		        "harness: proxyd %d ignored signal %d for "
		        "%d ms; killed\n",
		        (int)p->pid, sig, timeout_ms);
		harness_kill_reap(p->pid);
		proxy_unregister(p->pid);
		p->pid = 0;
	}
	return status;
}

size_t
harness_proxy_log(const struct harness_proxy *p, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	read_tail(p->error_log, buf, cap / 2, &len);
	read_tail(p->stderr_log, buf, cap, &len);
	return len;
}

void
harness_proxy_dump_log(const struct harness_proxy *p)
{
	static char buf[LOG_TAIL];

	harness_proxy_log(p, buf, sizeof(buf));
	fprintf(stderr, "---- proxyd %s logs (%s, %s) ----\n%s---- end ----\n",
	        p->name, p->error_log, p->stderr_log, buf);
}

int
harness_proxy_workers(const struct harness_proxy *p, pid_t *pids, int max)
{
	return harness_children(p->pid, pids, max);
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

int
harness_proxy_wait_workers(const struct harness_proxy *p, int n,
                           const pid_t *old, int nold, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	pid_t pids[HARNESS_MAX_PIDS];
	int k, i, stale;

	do {
		k = harness_children(p->pid, pids, HARNESS_MAX_PIDS);
		for (i = 0, stale = 0; i < k; i++)
			stale += pid_in(pids[i], old, nold);
		if (k == n && stale == 0)
			return 0;
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	return -1;
}

/* ---- failure and teardown ------------------------------------------ */

void
harness_on_failure(const char *expr, const char *file, int line)
{
	int i;

	fprintf(stderr, "%s:%d: HCHECK(%s) failed; files kept in %s\n", file,
	        line, expr, tmpdir[0] ? tmpdir : "(none)");
	for (i = 0; i < MAX_PROXIES; i++)
		if (proxies[i].pid > 0) {
			harness_proxy_dump_log(&proxies[i]);
			harness_kill_reap(proxies[i].pid);
		}
	for (i = 0; i < MAX_ORIGINS; i++)
		harness_kill_reap(origins[i].pid);
}

void
harness_teardown(void)
{
	int i;

	for (i = 0; i < MAX_PROXIES; i++)
		if (proxies[i].pid > 0)
			harness_proxy_stop(&proxies[i], SIGTERM, 5000);
	for (i = 0; i < MAX_ORIGINS; i++)
		harness_origin_stop(&origins[i]);
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* ---- main ---------------------------------------------------------- */

int
harness_main(struct Suite *s)
{
	SRunner *sr = srunner_create(s);
	pid_t left[HARNESS_MAX_PIDS];
	int failed, n, i;

	/* a test killed on timeout orphans the proxy's workers: adopt them
	 * here, so they can be killed below rather than linger */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	n = harness_children(getpid(), left, HARNESS_MAX_PIDS);
	for (i = 0; i < n; i++)
		harness_kill_reap(left[i]);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
