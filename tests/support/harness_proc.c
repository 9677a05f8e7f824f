/*
 * Integration test kit (see harness.h), processes: fork and exec, bounded
 * waits, what /proc says about a process and its children, and
 * harness_run(), which runs a program (curl, mostly) to completion with its
 * output captured or checked against the pattern.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/wait.h>

#include "tests/support/harness.h"
#include "tests/support/harness_int.h"

/* ---- processes ----------------------------------------------------- */

/* fork + exec with the given stdio; the child dies with the test. */
pid_t
harness_spawn(const char *const *argv, int in, int out, int err)
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
int
harness_wait_bounded(pid_t pid, int timeout_ms)
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
void
harness_kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	harness_wait_bounded(pid, 5000);
}

int
harness_wait_pid(pid_t pid, int timeout_ms)
{
	int status = harness_wait_bounded(pid, timeout_ms);

	if (status == -1)
		harness_kill_reap(pid);
	return status;
}

int
harness_pid_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
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
	pid = harness_spawn(r->argv, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (pid < 0)
		return -1;
	pfd[0] = (struct pollfd){in[1], POLLOUT, 0};
	pfd[1] = (struct pollfd){out[0], POLLIN, 0};
	pfd[2] = (struct pollfd){err[0], POLLIN, 0};
	deadline = harness_now_ms() + (timeout > 0 ? timeout : 60000);
	while (run_pump(&io, pfd, harness_left_ms(deadline)) > 0)
		if (harness_now_ms() >= deadline) {
			r->timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
	for (int i = 0; i < 3; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	status = harness_wait_bounded(
	        pid, r->timed_out ? 5000 : harness_left_ms(deadline));
	if (status == -1) {
		r->timed_out = 1;
		harness_kill_reap(pid);
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
