/*
 * Integration test kit (see harness.h): child processes, their files, a
 * raw HTTP/1.1 client and a curl runner.  Everything here is bounded in
 * time, because a hung test teaches nothing; and only ever talks to
 * 127.0.0.1, because tests must not depend on the network.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static int
left_ms(int64_t deadline)
{
	int64_t d = deadline - harness_now_ms();

	return d < 0 ? 0 : (int)d;
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

int
harness_pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
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
static int
connect_port(int port, int timeout_ms)
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
		fd = connect_port(port, 500);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	return -1;
}

/* ---- processes ----------------------------------------------------- */

/* fork + exec with the given stdio; the child dies with the test. */
static pid_t
spawn(const char *const *argv, int in, int out, int err)
{
	pid_t parent = getpid(), pid = fork();
	sigset_t none;

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	close_range(3, ~0u, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], (char *const *)(uintptr_t)argv);
	fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int
pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Fields of /proc/PID/stat after the command: state and ppid. */
static int
proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	int fd, n, pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

/* Adds the live (not zombie) pids of a children file to pids. */
static int
add_children(const char *path, pid_t *pids, int n, int max)
{
	char buf[8192], *p, *end, st;
	pid_t pp;
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC), len;

	if (fd < 0)
		return -1;
	len = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (p = buf; n < max; p = end) {
		v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (proc_stat((pid_t)v, &st, &pp) == 0 && st != 'Z')
			pids[n++] = (pid_t)v;
	}
	return n;
}

/* The slow way, when the kernel lacks CONFIG_PROC_CHILDREN. */
static int
scan_children(pid_t parent, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t pp;
	char st;
	long v;
	int n = 0;

	if (d == NULL)
		return -1;
	while (n < max && (e = readdir(d)) != NULL) {
		v = strtol(e->d_name, NULL, 10);
		if (v > 0 && proc_stat((pid_t)v, &st, &pp) == 0 &&
		    pp == parent && st != 'Z')
			pids[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}

int
harness_children(pid_t pid, pid_t *pids, int max)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0, k;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	/* children are listed under the thread that forked them */
	while ((e = readdir(d)) != NULL && n >= 0) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children",
		         (int)pid, e->d_name);
		k = add_children(path, pids, n, max);
		n = k < 0 ? -1 : k;
	}
	closedir(d);
	if (n < 0)
		n = scan_children(pid, pids, max);
	if (n > 0)
		qsort(pids, (size_t)n, sizeof(*pids), pid_cmp);
	return n;
}

long
harness_proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* waitpid bounded by timeout_ms: the status, or -1 if still running. */
static int
wait_bounded(pid_t pid, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (harness_now_ms() >= deadline)
			return -1;
		harness_sleep_ms(5);
	}
}

/* SIGKILL and reap: for children that must not outlive a test. */
static void
kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	wait_bounded(pid, 5000);
}

int
harness_wait_pid(pid_t pid, int timeout_ms)
{
	int status = wait_bounded(pid, timeout_ms);

	if (status == -1)
		kill_reap(pid);
	return status;
}

/* ---- harness_run / curl -------------------------------------------- */

struct run_io {
	struct harness_run *r;
	size_t cap;
	uint64_t fed;
	size_t err_len;
};

static void
run_got_out(struct run_io *io, const char *buf, size_t n)
{
	struct harness_run *r = io->r;
	size_t keep = r->out_len + n > io->cap ? io->cap - r->out_len : n;

	if (r->check_pattern && r->pattern_ok &&
	    harness_pattern_check(buf, n, r->out_total) < 0)
		r->pattern_ok = 0;
	memcpy(r->out + r->out_len, buf, keep);
	r->out_len += keep;
	r->out[r->out_len] = '\0';
	r->out_total += n;
}

/* One round of the child's pipes; returns how many are still open. */
static int
run_pump(struct run_io *io, struct pollfd *pfd, int timeout_ms)
{
	struct harness_run *r = io->r;
	char buf[65536];
	size_t n;
	ssize_t k;
	int i, open = 0;

	if (poll(pfd, 3, timeout_ms) < 0 && errno != EINTR)
		return -1;
	for (i = 0; i < 3; i++) {
		if (pfd[i].fd < 0 || pfd[i].revents == 0)
			continue;
		if (i == 0) {
			n = r->stdin_pattern - io->fed < sizeof(buf)
			            ? (size_t)(r->stdin_pattern - io->fed)
			            : sizeof(buf);
			harness_pattern_fill(buf, n, io->fed);
			k = write(pfd[0].fd, buf, n);
			if (k > 0)
				io->fed += (uint64_t)k;
			if (k < 0 || io->fed == r->stdin_pattern) {
				close(pfd[0].fd);
				pfd[0].fd = -1;
			}
			continue;
		}
		k = read(pfd[i].fd, buf, sizeof(buf));
		if (k <= 0) {
			close(pfd[i].fd);
			pfd[i].fd = -1;
		} else if (i == 1) {
			run_got_out(io, buf, (size_t)k);
		} else {
			n = sizeof(r->err) - 1 - io->err_len;
			n = (size_t)k < n ? (size_t)k : n;
			memcpy(r->err + io->err_len, buf, n);
			io->err_len += n;
			r->err[io->err_len] = '\0';
		}
	}
	for (i = 0; i < 3; i++)
		open += pfd[i].fd >= 0;
	return open;
}

static int
run_pipes(int in[2], int out[2], int err[2], int feed)
{
	in[0] = in[1] = -1;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0)
		return -1;
	if (feed)
		return pipe2(in, O_CLOEXEC);
	in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return in[0] < 0 ? -1 : 0;
}

int
harness_run(struct harness_run *r)
{
	static struct run_io io;
	struct pollfd pfd[3];
	int in[2], out[2], err[2], status, timeout = r->timeout_ms;
	int64_t deadline;
	pid_t pid;

	memset(&io, 0, sizeof(io));
	io.r = r;
	io.cap = r->out_cap > 0 ? r->out_cap : 1u << 20;
	r->code = -1;
	r->timed_out = 0;
	r->out_len = 0;
	r->out_total = 0;
	r->pattern_ok = 1;
	r->err[0] = '\0';
	r->out = malloc(io.cap + 1);
	if (r->out == NULL || run_pipes(in, out, err, r->stdin_pattern > 0))
		return -1;
	r->out[0] = '\0';
	pid = spawn(r->argv, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (pid < 0)
		return -1;
	pfd[0] = (struct pollfd){in[1], POLLOUT, 0};
	pfd[1] = (struct pollfd){out[0], POLLIN, 0};
	pfd[2] = (struct pollfd){err[0], POLLIN, 0};
	deadline = harness_now_ms() + (timeout > 0 ? timeout : 60000);
	while (run_pump(&io, pfd, left_ms(deadline)) > 0)
		if (harness_now_ms() >= deadline) {
			r->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
	for (int i = 0; i < 3; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	status = wait_bounded(pid, r->timed_out ? 5000 : left_ms(deadline));
	if (status == -1) {
		r->timed_out = 1;
		kill_reap(pid);
	} else if (WIFEXITED(status)) {
		r->code = WEXITSTATUS(status);
	}
	return r->timed_out ? -1 : 0;
}

void
harness_run_free(struct harness_run *r)
{
	free(r->out);
	r->out = NULL;
}

int
harness_curl(struct harness_run *r, int max_time_s, ...)
{
	const char *argv[64];
	char max[16];
	va_list ap;
	int n = 0, rc;

	snprintf(max, sizeof(max), "%d", max_time_s);
	argv[n++] = "curl";
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = max;
	va_start(ap, max_time_s);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	r->argv = argv;
	if (r->timeout_ms == 0)
		r->timeout_ms = (max_time_s + 10) * 1000;
	rc = harness_run(r);
	r->argv = NULL;
	return rc;
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
	o->pid = spawn(argv, null, 2, 2);
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
	kill_reap(o->pid);
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
	if (wait_bounded(o->pid, 5000) == -1)
		kill_reap(o->pid);
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
		if (!up && (fd = connect_port(p->port, 200)) >= 0) {
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
	const char *argv[] = {env_or("PROXYD_BIN", "build/proxyd"), "-f", "-c",
	                      p->conf, NULL};
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int log = open(p->stderr_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	               0644);

	if (null < 0 || log < 0)
		return -1;
	p->pid = spawn(argv, null, log, log);
	close(null);
	close(log);
	if (p->pid < 0)
		return -1;
	proxy_register(p);
	if (proxy_wait_up(p, harness_now_ms() + START_MS) == 0)
		return 0;
	harness_proxy_dump_log(p);
	if (p->pid > 0) {
		kill_reap(p->pid);
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
	status = wait_bounded(p->pid, timeout_ms);
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
		kill_reap(p->pid);
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
			kill_reap(proxies[i].pid);
		}
	for (i = 0; i < MAX_ORIGINS; i++)
		kill_reap(origins[i].pid);
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

/* ---- raw-socket client --------------------------------------------- */

int
harness_conn_open(struct harness_conn *c, int port)
{
	c->len = c->pos = 0;
	c->fd = connect_port(port, HARNESS_WAIT_MS);
	return c->fd < 0 ? -1 : 0;
}

void
harness_conn_close(struct harness_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int
harness_conn_send(struct harness_conn *c, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
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
harness_conn_sendf(struct harness_conn *c, const char *fmt, ...)
{
	char buf[65536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return harness_conn_send(c, buf, (size_t)n);
}

/* Reads more bytes into c->buf before the deadline: >0, 0 on EOF (or a
 * reset), -1 on timeout or a full buffer. */
static ssize_t
conn_fill(struct harness_conn *c, int64_t deadline)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	for (;;) {
		if (poll(&pfd, 1, left_ms(deadline)) == 0)
			return -1;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNRESET)
			return -1;
		if (n <= 0)
			return 0;
		c->len += (size_t)n;
		return n;
	}
}

static void resp_error(struct harness_resp *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
resp_error(struct harness_resp *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void
resp_append(struct harness_resp *r, const char *data, size_t n)
{
	size_t keep = n, cap;
	char *b;

	r->body_total += n;
	if (r->body_len + keep > HARNESS_BODY_CAP)
		keep = HARNESS_BODY_CAP - r->body_len;
	cap = 4096;
	while (cap < r->body_len + keep + 1)
		cap *= 2;
	b = realloc(r->body, cap);
	if (b == NULL)
		return;
	r->body = b;
	memcpy(r->body + r->body_len, data, keep);
	r->body_len += keep;
	r->body[r->body_len] = '\0';
}

static int
read_head(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	char *end;
	size_t n;
	ssize_t k;

	for (;;) {
		end = memmem(c->buf + c->pos, c->len - c->pos, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		k = conn_fill(c, deadline);
		if (k <= 0) {
			resp_error(r, "%s after %zu bytes of head",
			           k == 0 ? "closed" : "timed out",
			           c->len - c->pos);
			return -1;
		}
	}
	n = (size_t)(end + 4 - (c->buf + c->pos));
	if (n >= sizeof(r->head)) {
		resp_error(r, "head of %zu bytes", n);
		return -1;
	}
	memcpy(r->head, c->buf + c->pos, n);
	r->head[n] = '\0';
	r->head_len = n;
	c->pos += n;
	if (sscanf(r->head, "HTTP/1.%d %3d", &r->minor, &r->status) != 2) {
		resp_error(r, "bad status line: %.80s", r->head);
		return -1;
	}
	return 0;
}

/* Exactly n bytes of body (n may be huge: not all kept). */
static int
read_len(struct harness_conn *c, struct harness_resp *r, uint64_t n,
         int64_t deadline)
{
	size_t k;

	while (n > 0) {
		if (c->pos == c->len && conn_fill(c, deadline) <= 0) {
			resp_error(r, "body ended %llu bytes short",
			           (unsigned long long)n);
			return -1;
		}
		k = c->len - c->pos < n ? c->len - c->pos : (size_t)n;
		resp_append(r, c->buf + c->pos, k);
		c->pos += k;
		n -= k;
	}
	return 0;
}

/* A CRLF-ended line, NUL-terminated in place; NULL on error. */
static char *
read_line(struct harness_conn *c, int64_t deadline)
{
	char *nl, *line;

	while ((nl = memchr(c->buf + c->pos, '\n', c->len - c->pos)) == NULL)
		if (c->len - c->pos > 4096 || conn_fill(c, deadline) <= 0)
			return NULL;
	line = c->buf + c->pos;
	if (nl == line || nl[-1] != '\r')
		return NULL;
	nl[-1] = '\0';
	c->pos = (size_t)(nl + 1 - c->buf);
	return line;
}

static int
read_chunked(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	unsigned long long size;
	char *line, *end;

	for (;;) {
		line = read_line(c, deadline);
		if (line == NULL) {
			resp_error(r, "bad or missing chunk-size line");
			return -1;
		}
		size = strtoull(line, &end, 16);
		if (end == line || (*end != '\0' && *end != ';')) {
			resp_error(r, "bad chunk-size line: %.40s", line);
			return -1;
		}
		if (size == 0)
			break;
		if (read_len(c, r, size, deadline) < 0)
			return -1;
		line = read_line(c, deadline);
		if (line == NULL || line[0] != '\0') {
			resp_error(r, "chunk data not followed by CRLF");
			return -1;
		}
	}
	do /* trailers */
		line = read_line(c, deadline);
	while (line != NULL && line[0] != '\0');
	if (line == NULL)
		resp_error(r, "bad chunked trailer section");
	return line == NULL ? -1 : 0;
}

static int
read_to_close(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	ssize_t k;

	for (;;) {
		resp_append(r, c->buf + c->pos, c->len - c->pos);
		c->pos = c->len;
		k = conn_fill(c, deadline);
		if (k == 0)
			return 0;
		if (k < 0) {
			resp_error(r, "close-delimited body: timed out");
			return -1;
		}
	}
}

int
harness_conn_response(struct harness_conn *c, struct harness_resp *r,
                      int is_head, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	char v[256];
	unsigned long long len;

	memset(r, 0, offsetof(struct harness_resp, head));
	r->head[0] = r->error[0] = '\0';
	r->head_len = r->body_len = 0;
	r->body_total = 0;
	r->body = NULL;
	r->chunked = r->close_delimited = 0;
	resp_append(r, "", 0);
	if (read_head(c, r, deadline) < 0)
		return -1;
	if (is_head || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		return 0;
	if (harness_head_value(r->head, "Transfer-Encoding", v, sizeof(v))) {
		r->chunked = 1;
		return read_chunked(c, r, deadline);
	}
	if (harness_head_value(r->head, "Content-Length", v, sizeof(v))) {
		len = strtoull(v, NULL, 10);
		return read_len(c, r, len, deadline);
	}
	r->close_delimited = 1;
	return read_to_close(c, r, deadline);
}

void
harness_resp_free(struct harness_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int
harness_conn_closed(struct harness_conn *c, int timeout_ms)
{
	ssize_t k;

	if (c->pos < c->len)
		return 0;
	k = conn_fill(c, harness_now_ms() + timeout_ms);
	return k == 0 ? 1 : k > 0 ? 0 : -1;
}

ssize_t
harness_conn_read_all(struct harness_conn *c, char *out, size_t cap,
                      int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	size_t n = 0, k;
	ssize_t got;

	for (;;) {
		k = c->len - c->pos;
		if (k > cap - 1 - n)
			k = cap - 1 - n;
		memcpy(out + n, c->buf + c->pos, k);
		n += k;
		out[n] = '\0';
		c->pos = c->len; /* past the cap: dropped */
		got = conn_fill(c, deadline);
		if (got == 0)
			return (ssize_t)n;
		if (got < 0)
			return -1;
	}
}

/* ---- heads --------------------------------------------------------- */

/* The next field line called name after p (which is inside a head);
 * *value points past its colon.  NULL at the end of the head. */
static const char *
next_field(const char *p, const char *name, const char **value)
{
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (p[0] == '\r')
			return NULL;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			*value = p + n + 1;
			return p + n;
		}
	}
	return NULL;
}

const char *
harness_head_value(const char *head, const char *name, char *out, size_t outlen)
{
	const char *v, *end;
	size_t n;

	if (next_field(head, name, &v) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	end = strstr(v, "\r\n");
	n = (size_t)(end - v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
	return out;
}

int
harness_head_count(const char *head, const char *name)
{
	const char *v;
	int n = 0;

	while ((head = next_field(head, name, &v)) != NULL)
		n++;
	return n;
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
		kill_reap(left[i]);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
