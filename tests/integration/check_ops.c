/*
 * Operations, as an administrator meets them: `make install` into a
 * temporary DESTDIR (what lands where, with which modes, configuration
 * never overwritten), `make uninstall` leaving nothing behind but changed
 * configuration; the installed init script driven through a whole life
 * (start, status, reload, a bad configuration refused while the old
 * workers keep serving, restart, stop, a master killed under it), with
 * start-stop-daemon and with plain signals; a log rotation under load that
 * loses, splits and duplicates no line; and the installed man pages, unit,
 * logrotate file and init script passing the linters found on the host.
 *
 * The daemon detaches, so this test makes itself a child subreaper: the
 * master lands here when its starter exits, and is reaped here (a zombie
 * would still look alive to the init script).  Every wait is bounded.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/support/harness.h"

#define RUN_MS 60000      /* one make or init script run */
#define INIT_MS 30000     /* one init script action */
#define GONE_MS 10000     /* killed processes disappear */
#define LOAD_REQS 300     /* requests across the log rotations... */
#define LOAD_GAP_MS 15    /* ...one every so often... */
#define LOAD_MAX_MS 60000 /* ...within this */
#define OUT_CAP 65536

static struct harness_origin origin;

/* The temporary tree: DESTDIR, the installed files the tests drive, and
 * the test configuration with its pid file, segment and logs. */
static struct {
	char dest[PATH_MAX];
	char init[PATH_MAX];
	char daemon[PATH_MAX];
	char ctl[PATH_MAX];
	char defaults[PATH_MAX];
	char conf[PATH_MAX];
	char pidfile[PATH_MAX];
	char shm[PATH_MAX];
	char logdir[PATH_MAX];
	char access_log[PATH_MAX];
	char error_log[PATH_MAX];
	int port;
	pid_t master; /* the last master seen, for the failure path */
} t;

/* snprintf whose truncation (never expected: temp paths are short) is
 * caught by the checks that use the result, not by the compiler. */
static void __attribute__((format(printf, 3, 4)))
sfmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* ---- running programs ---------------------------------------------- */

struct orun {
	int code; /* exit code; -1 if signalled or timed out */
	int timed_out;
	size_t len;
	char out[OUT_CAP]; /* stdout and stderr together, truncated */
};

static struct orun run;

/* Reaps whatever has exited: the daemon's orphans land here. */
static void
reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int
gone(pid_t pid)
{
	reap_orphans();
	return pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH);
}

/* Runs argv to completion, bounded, with stdout and stderr captured
 * together.  Every exited child is reaped meanwhile (a stopping master
 * must not linger as a zombie while the init script waits for it). */
static void
run_argv(struct orun *r, int timeout_ms, const char *const *argv)
{
	int64_t deadline = harness_now_ms() + timeout_ms, exited_at = 0;
	int p[2], status = 0, done = 0, null;
	struct pollfd pfd;
	pid_t pid, w;
	ssize_t n;
	char sink[4096];
	sigset_t none;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 ||
		    dup2(p[1], 2) < 0)
			_exit(127);
		close_range(3, ~0u, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return;
	}
	for (;;) {
		if (p[0] >= 0) {
			pfd.fd = p[0];
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 20) > 0) {
				if (r->len + 1 < sizeof(r->out))
					n = read(p[0], r->out + r->len,
					         sizeof(r->out) - 1 - r->len);
				else
					n = read(p[0], sink, sizeof(sink));
				if (n <= 0) {
					close(p[0]);
					p[0] = -1;
				} else if (r->len + 1 < sizeof(r->out)) {
					r->len += (size_t)n;
				}
			}
		} else {
			harness_sleep_ms(20);
		}
		while ((w = waitpid(-1, &status, WNOHANG)) > 0)
			if (w == pid) {
				done = 1;
				exited_at = harness_now_ms();
				if (WIFEXITED(status))
					r->code = WEXITSTATUS(status);
			}
		/* a daemon holding the pipe must not hold the test */
		if (done && (p[0] < 0 || harness_now_ms() - exited_at > 500))
			break;
		if (!done && harness_now_ms() >= deadline) {
			r->timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			harness_wait_pid(pid, 5000);
			break;
		}
	}
	if (p[0] >= 0)
		close(p[0]);
	r->out[r->len] = '\0';
}

/* sh -c "printf-formatted command" */
static void
run_sh(struct orun *r, int timeout_ms, const char *fmt, ...)
{
	char cmd[8192];
	const char *argv[] = {"sh", "-c", cmd, NULL};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	run_argv(r, timeout_ms, argv);
}

/* The installed init script with one action, through PROXYD_DEFAULTS. */
static int
init(const char *action)
{
	const char *argv[] = {t.init, action, NULL};

	run_argv(&run, INIT_MS, argv);
	return run.code;
}

static int
have(const char *prog)
{
	struct orun *r = malloc(sizeof(*r));
	int ok;

	if (r == NULL)
		return 0;
	run_sh(r, 10000, "command -v %s >/dev/null 2>&1", prog);
	ok = r->code == 0;
	free(r);
	return ok;
}

/* ---- files --------------------------------------------------------- */

/* The whole file, NUL-terminated and malloc'd; NULL if unreadable. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (f == NULL)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap = n + 65536 * 2 + 1);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		k = fread(buf + n, 1, 65536, f);
		n += k;
	} while (k > 0);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static int
spew(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int
mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

static void
path_in(char *out, const char *dir, const char *rel)
{
	sfmt(out, PATH_MAX, "%s/%s", dir, rel);
}

/* ---- the failure path ---------------------------------------------- */

static pid_t
pidfile_pid(void)
{
	char *s = slurp(t.pidfile, NULL);
	pid_t pid = s != NULL ? (pid_t)atoi(s) : 0;

	free(s);
	return pid;
}

/* SIGKILL for the daemon (it is no harness proxy, so nobody else would). */
static void
kill_daemon(void)
{
	pid_t kids[HARNESS_MAX_PIDS], m[2] = {pidfile_pid(), t.master};
	int i, j, n;

	for (i = 0; i < 2; i++) {
		if (m[i] <= 0 || gone(m[i]))
			continue;
		n = harness_children(m[i], kids, HARNESS_MAX_PIDS);
		kill(m[i], SIGKILL);
		for (j = 0; j < n; j++)
			kill(kids[j], SIGKILL);
	}
	reap_orphans();
}

static void
ops_failure(void)
{
	char *log = t.error_log[0] ? slurp(t.error_log, NULL) : NULL;
	size_t n = log != NULL ? strlen(log) : 0;

	fprintf(stderr, "---- last command (exit %d%s) ----\n%s\n", run.code,
	        run.timed_out ? ", timed out" : "", run.out);
	if (log != NULL)
		fprintf(stderr, "---- %s (tail) ----\n%s---- end ----\n",
		        t.error_log, log + (n > 6000 ? n - 6000 : 0));
	free(log);
	kill_daemon();
}

/* HCHECK that first shows the last command and the daemon's error log,
 * and kills the daemon. */
#define OCHECK(cond, ...)                                              \
	do {                                                           \
		if (!(cond)) {                                         \
			ops_failure();                                 \
			harness_on_failure(#cond, __FILE__, __LINE__); \
			ck_abort_msg(__VA_ARGS__);                     \
		}                                                      \
	} while (0)

static void
setup(void)
{
	memset(&t, 0, sizeof(t));
	/* the detached master is re-parented to us, and reaped here */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	unsetenv("NOTIFY_SOCKET");
}

static void
teardown(void)
{
	kill_daemon();
	harness_teardown();
}

/* ---- make install ---------------------------------------------------- */

static const char *
srcdir(void)
{
	const char *v = getenv("PROXYD_SRCDIR");

	return v != NULL && v[0] != '\0' ? v : ".";
}

/* The build the suite runs (PROXYD_BIN's directory), as an absolute path:
 * make installs exactly those binaries. */
static void
build_dir(char *out)
{
	const char *bin = getenv("PROXYD_BIN");
	char dir[PATH_MAX], *slash;

	sfmt(dir, sizeof(dir), "%s",
	     bin != NULL && bin[0] != '\0' ? bin : "build/proxyd");
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		sfmt(dir, sizeof(dir), ".");
	if (realpath(dir, out) == NULL)
		sfmt(out, PATH_MAX, "%s", dir);
}

/* make -C SRCDIR TARGET DESTDIR=dest PREFIX=/usr, with the suite's build:
 * -o keeps make from relinking the binaries (PREFIX=/usr would change the
 * compiled-in config path and rebuild the tree under the running suites),
 * and the parent make's flags are dropped. */
static void
make(const char *target)
{
	char bld[PATH_MAX];

	build_dir(bld);
	run_sh(&run, RUN_MS,
	       "unset MAKEFLAGS MFLAGS MAKELEVEL; exec make -C '%s' "
	       "--no-print-directory -o '%s/proxyd' -o '%s/proxyctl' "
	       "BUILD='%s' DESTDIR='%s' PREFIX=/usr %s",
	       srcdir(), bld, bld, bld, t.dest, target);
	OCHECK(run.code == 0, "make %s DESTDIR=%s PREFIX=/usr: exit %d", target,
	       t.dest, run.code);
}

static void
install_tree(void)
{
	const char *tmp = harness_tmpdir();

	path_in(t.dest, tmp, "dest");
	make("install");
	path_in(t.init, t.dest, "etc/init.d/proxyd");
	path_in(t.daemon, t.dest, "usr/sbin/proxyd");
	path_in(t.ctl, t.dest, "usr/sbin/proxyctl");
}

/* Regular files and links left under dest, one per line. */
static void
files_left(char *out, size_t cap)
{
	run_sh(&run, 10000, "cd '%s' && find . ! -type d | sort", t.dest);
	OCHECK(run.code == 0, "find in %s", t.dest);
	sfmt(out, cap, "%s", run.out);
}

/* ---- the test configuration ----------------------------------------- */

static void
write_conf(const char *extra)
{
	char text[4096];

	sfmt(text, sizeof(text),
	     "# written by tests/integration/check_ops.c\n"
	     "[proxyd]\nworkers = 2\npid_file = %s\nshm_file = %s\n"
	     "error_log = %s\naccess_log = %s\n"
	     "access_log_format = combined\nlog_level = info\n"
	     "[timeouts]\ndrain = 3s\n"
	     "[listen main]\naddress = 127.0.0.1:%d\nmode = forward\n"
	     "allow_loopback = on\n%s",
	     t.pidfile, t.shm, t.error_log, t.access_log, t.port,
	     extra != NULL ? extra : "");
	OCHECK(spew(t.conf, text) == 0, "write %s", t.conf);
}

/* Installs, then points the installed init script at a test
 * configuration whose pid file, segment and logs are in directories that
 * do not exist yet (the init script creates them, as after a boot). */
static void
prepare(int use_ssd)
{
	const char *tmp = harness_tmpdir();
	char text[4096];

	install_tree();
	path_in(t.defaults, tmp, "defaults");
	path_in(t.conf, tmp, "proxyd.ini");
	path_in(t.pidfile, tmp, "run/proxyd.pid");
	path_in(t.shm, tmp, "run/proxyd.shm");
	path_in(t.logdir, tmp, "log");
	path_in(t.access_log, tmp, "log/access.log");
	path_in(t.error_log, tmp, "log/error.log");
	t.port = harness_free_port();
	OCHECK(t.port > 0, "no free port");
	write_conf(NULL);
	sfmt(text, sizeof(text),
	     "DAEMON=%s\nCONFIG=%s\nPIDFILE=%s\nPROXYCTL=%s\n"
	     "STOP_TIMEOUT=15\nSTART_STOP_DAEMON=%s\n",
	     t.daemon, t.conf, t.pidfile, t.ctl, use_ssd ? "auto" : "no");
	OCHECK(spew(t.defaults, text) == 0, "write %s", t.defaults);
	OCHECK(setenv("PROXYD_DEFAULTS", t.defaults, 1) == 0, "setenv");
	OCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
}

/* ---- the daemon ------------------------------------------------------ */

static int
workers_of(pid_t master, pid_t *pids)
{
	return harness_children(master, pids, HARNESS_MAX_PIDS);
}

/* Waits until the master has exactly 2 workers, none of them in old. */
static int
wait_workers(pid_t master, pid_t *now, const pid_t *old, int nold)
{
	int64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;
	int n, i, j, stale;

	do {
		n = workers_of(master, now);
		for (i = 0, stale = 0; i < n; i++)
			for (j = 0; j < nold; j++)
				stale += now[i] == old[j];
		if (n == 2 && stale == 0)
			return 0;
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	return -1;
}

static int
same_pids(const pid_t *a, const pid_t *b, int n)
{
	return memcmp(a, b, sizeof(*a) * (size_t)n) == 0;
}

/* A GET through the proxy with curl -x; 0, or -1 with why. */
static int
request(const char *path, uint64_t size, char *why, size_t whylen)
{
	struct harness_run r;
	char proxy[64], url[256];
	int rc;

	sfmt(proxy, sizeof(proxy), "http://127.0.0.1:%d", t.port);
	sfmt(url, sizeof(url), "http://127.0.0.1:%d%s", origin.port, path);
	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	harness_curl(&r, 10, "-x", proxy, url, NULL);
	rc = r.code == 0 && r.out_total == size && r.pattern_ok ? 0 : -1;
	if (rc < 0)
		sfmt(why, whylen, "curl -x %s %s: exit %d, %llu bytes%s: %s",
		     proxy, url, r.code, (unsigned long long)r.out_total,
		     r.pattern_ok ? "" : " (not the pattern)", r.err);
	harness_run_free(&r);
	return rc;
}

static void
requests_ok(int n, const char *when)
{
	char why[1024];
	int i;

	for (i = 0; i < n; i++)
		OCHECK(request("/size/1000", 1000, why, sizeof(why)) == 0,
		       "%s: request %d of %d: %s", when, i + 1, n, why);
}

/* start through the init script; the master's pid, its workers. */
static pid_t
start(pid_t *workers)
{
	OCHECK(init("start") == 0, "init start: exit %d:\n%s", run.code,
	       run.out);
	t.master = pidfile_pid();
	OCHECK(t.master > 0 && !gone(t.master),
	       "no live master in %s after start", t.pidfile);
	OCHECK(wait_workers(t.master, workers, NULL, 0) == 0,
	       "master %d has no 2 workers", (int)t.master);
	return t.master;
}

static void
status_is(int want, const char *when)
{
	OCHECK(init("status") == want, "%s: init status: exit %d, not %d:\n%s",
	       when, run.code, want, run.out);
}

/* ---- install and uninstall ------------------------------------------ */

static void
check_mode(const char *rel, int want)
{
	char path[PATH_MAX];
	int mode;

	path_in(path, t.dest, rel);
	mode = mode_of(path);
	OCHECK(mode == want, "%s: mode %04o, not %04o", rel, mode, want);
}

/* No @WORD@ placeholder left in an installed file. */
static void
check_substituted(const char *rel)
{
	regex_t re;
	regmatch_t m;
	char path[PATH_MAX], *text;

	path_in(path, t.dest, rel);
	text = slurp(path, NULL);
	OCHECK(text != NULL, "cannot read %s", path);
	OCHECK(regcomp(&re, "@[A-Z_]+@", REG_EXTENDED) == 0, "regcomp");
	OCHECK(regexec(&re, text, 1, &m, 0) != 0, "%s: placeholder %.*s left",
	       rel, (int)(m.rm_eo - m.rm_so), text + m.rm_so);
	regfree(&re);
	free(text);
}

static void
check_contains(const char *rel, const char *want)
{
	char path[PATH_MAX], *text;

	path_in(path, t.dest, rel);
	text = slurp(path, NULL);
	OCHECK(text != NULL && strstr(text, want) != NULL,
	       "%s does not contain \"%s\"", rel, want);
	free(text);
}

START_TEST(install_layout)
{
	char src[PATH_MAX], rel[PATH_MAX], *a, *b;
	const char *man[] = {"5", "8"};
	unsigned i;

	install_tree();
	check_mode("usr/sbin/proxyd", 0755);
	check_mode("usr/sbin/proxyctl", 0755);
	check_mode("etc/init.d/proxyd", 0755);
	check_mode("etc/default/proxyd", 0644);
	check_mode("etc/proxyd/proxyd.ini", 0644);
	check_mode("etc/proxyd/proxyd.ini.dist", 0644);
	check_mode("usr/lib/systemd/system/proxyd.service", 0644);
	check_mode("etc/logrotate.d/proxyd", 0644);
	/* the workers, not root, reopen their logs in it */
	check_mode("var/log/proxyd", 0755);
	check_substituted("etc/init.d/proxyd");
	check_substituted("etc/default/proxyd");
	check_substituted("usr/lib/systemd/system/proxyd.service");
	check_substituted("etc/logrotate.d/proxyd");
	check_contains("etc/init.d/proxyd", "DAEMON=/usr/sbin/proxyd\n");
	check_contains("etc/init.d/proxyd", "CONFIG=/etc/proxyd/proxyd.ini\n");
	check_contains("etc/init.d/proxyd", ":-/etc/default/proxyd}");
	check_contains("usr/lib/systemd/system/proxyd.service",
	               "ExecStart=/usr/sbin/proxyd -f -c "
	               "/etc/proxyd/proxyd.ini\n");
	check_contains("etc/logrotate.d/proxyd", "/var/log/proxyd/*.log {");

	/* the shipped configuration, installed as is and valid */
	path_in(src, srcdir(), "etc/proxyd.ini");
	path_in(rel, t.dest, "etc/proxyd/proxyd.ini");
	a = slurp(src, NULL);
	b = slurp(rel, NULL);
	OCHECK(a != NULL && b != NULL && strcmp(a, b) == 0,
	       "%s differs from %s", rel, src);
	free(a);
	free(b);
	run_sh(&run, 20000, "'%s/usr/sbin/proxyd' -t -c '%s'", t.dest, rel);
	OCHECK(run.code == 0, "the installed proxyd.ini is not valid:\n%s",
	       run.out);

	/* every man page of the tree */
	for (i = 0; i < 2; i++) {
		run_sh(&run, 10000,
		       "cd '%s/man' && for f in *.%s; do "
		       "[ -e \"$f\" ] || continue; "
		       "cmp \"$f\" '%s/usr/share/man/man%s/'\"$f\" || "
		       "echo \"missing or different: $f\"; done",
		       srcdir(), man[i], t.dest, man[i]);
		OCHECK(run.code == 0 && run.len == 0,
		       "man pages of section %s:\n%s", man[i], run.out);
	}

	/* a second install keeps a changed configuration */
	OCHECK(spew(rel, "; changed by the admin\n[listen x]\n"
	                 "address = 127.0.0.1:3128\n") == 0,
	       "write %s", rel);
	make("install");
	check_contains("etc/proxyd/proxyd.ini", "; changed by the admin\n");
	path_in(rel, t.dest, "etc/proxyd/proxyd.ini.dist");
	a = slurp(src, NULL);
	b = slurp(rel, NULL);
	OCHECK(a != NULL && b != NULL && strcmp(a, b) == 0,
	       "%s is not the shipped file", rel);
	free(a);
	free(b);
}
END_TEST

START_TEST(uninstall_clean)
{
	char left[OUT_CAP], path[PATH_MAX];

	install_tree();
	make("uninstall");
	files_left(left, sizeof(left));
	OCHECK(left[0] == '\0', "make uninstall left files behind:\n%s", left);
	path_in(path, t.dest, "etc/proxyd");
	OCHECK(access(path, F_OK) < 0, "%s is still there", path);
	path_in(path, t.dest, "var/log/proxyd");
	OCHECK(access(path, F_OK) < 0, "%s is still there", path);

	/* changed configuration and the logs stay */
	install_tree();
	path_in(path, t.dest, "etc/proxyd/proxyd.ini");
	OCHECK(spew(path, "[listen x]\naddress = 127.0.0.1:3128\n") == 0,
	       "write");
	path_in(path, t.dest, "etc/default/proxyd");
	OCHECK(spew(path, "STOP_TIMEOUT=60\n") == 0, "write");
	path_in(path, t.dest, "var/log/proxyd/access.log");
	OCHECK(spew(path, "a line\n") == 0, "write");
	make("uninstall");
	files_left(left, sizeof(left));
	OCHECK(strcmp(left, "./etc/default/proxyd\n"
	                    "./etc/proxyd/proxyd.ini\n"
	                    "./var/log/proxyd/access.log\n") == 0,
	       "after make uninstall with a changed config and a log:\n%s",
	       left);
}
END_TEST

/* ---- linters --------------------------------------------------------- */

START_TEST(man_pages_lint)
{
	int groff = have("groff"), mandoc = have("mandoc");

	install_tree();
	if (!groff && !mandoc) {
		fprintf(stderr, "check_ops: neither groff nor mandoc: man "
		                "pages not linted\n");
		return;
	}
	/* groff -ww: every warning; mandoc -Tlint -Wwarning: warnings and
	 * errors (not its style hints) */
	run_sh(&run, 30000,
	       "n=0; for f in '%s'/usr/share/man/man*/*; do n=$((n+1)); "
	       "if [ %d = 1 ]; then out=$(groff -man -ww -Tutf8 -z \"$f\" "
	       "2>&1); "
	       "[ -z \"$out\" ] || echo \"groff: $f: $out\"; fi; "
	       "if [ %d = 1 ]; then out=$(mandoc -Tlint -Wwarning \"$f\" "
	       "2>&1); "
	       "[ -z \"$out\" ] || echo \"$out\"; fi; done; "
	       "[ $n -ge 3 ] || echo \"only $n man pages installed\"",
	       t.dest, groff ? 1 : 0, mandoc ? 1 : 0);
	OCHECK(run.code == 0 && run.len == 0, "man page warnings:\n%s",
	       run.out);
}
END_TEST

START_TEST(scripts_lint)
{
	char unit[PATH_MAX];

	install_tree();
	run_sh(&run, 10000, "sh -n '%s' && sh -n '%s/etc/default/proxyd'",
	       t.init, t.dest);
	OCHECK(run.code == 0, "sh -n:\n%s", run.out);
	if (have("shellcheck")) {
		run_sh(&run, 30000,
		       "shellcheck -s sh '%s' '%s/etc/default/proxyd'", t.init,
		       t.dest);
		OCHECK(run.code == 0, "shellcheck:\n%s", run.out);
	} else {
		fprintf(stderr, "check_ops: no shellcheck: skipped\n");
	}
	if (have("logrotate")) {
		/* -d: parse and plan only */
		run_sh(&run, 30000,
		       "logrotate -d -s '%s/lr.state' "
		       "'%s/etc/logrotate.d/proxyd' 2>&1",
		       harness_tmpdir(), t.dest);
		OCHECK(run.code == 0 && strstr(run.out, "error") == NULL,
		       "logrotate -d:\n%s", run.out);
	} else {
		fprintf(stderr, "check_ops: no logrotate: skipped\n");
	}
	if (have("systemd-analyze")) {
		/* the unit as installed, its binaries found in DESTDIR and its
		 * Documentation= pages in DESTDIR's man pages */
		path_in(unit, harness_tmpdir(), "proxyd.service");
		run_sh(&run, 60000,
		       "sed 's|/usr/sbin/|%s/usr/sbin/|g' "
		       "'%s/usr/lib/systemd/system/proxyd.service' > '%s' && "
		       "if command -v man >/dev/null; then "
		       "MANPATH='%s/usr/share/man' systemd-analyze verify "
		       "'%s'; "
		       "else systemd-analyze verify --man=no '%s'; fi",
		       t.dest, t.dest, unit, t.dest, unit, unit);
		OCHECK(run.code == 0 && run.len == 0,
		       "systemd-analyze verify: exit %d\n%s", run.code,
		       run.out);
	} else {
		fprintf(stderr, "check_ops: no systemd-analyze: skipped\n");
	}
}
END_TEST

/* ---- the init script ------------------------------------------------- */

static void
lifecycle(int use_ssd)
{
	pid_t w1[HARNESS_MAX_PIDS], w2[HARNESS_MAX_PIDS], w3[HARNESS_MAX_PIDS];
	pid_t master, again;
	char bad[256];

	prepare(use_ssd);
	status_is(3, "before start");
	OCHECK(init("configtest") == 0, "configtest: exit %d:\n%s", run.code,
	       run.out);

	master = start(w1);
	OCHECK(init("start") == 0 && pidfile_pid() == master,
	       "a second start: exit %d, pid file %d:\n%s", run.code,
	       (int)pidfile_pid(), run.out);
	status_is(0, "after start");
	OCHECK(strstr(run.out, "is running") != NULL &&
	               strstr(run.out, "requests") != NULL,
	       "status shows no proxyctl summary:\n%s", run.out);
	requests_ok(3, "after start");

	/* reload: a new generation of workers, the same master */
	OCHECK(init("reload") == 0, "reload: exit %d:\n%s", run.code, run.out);
	OCHECK(wait_workers(master, w2, w1, 2) == 0,
	       "the workers were not replaced after reload");
	OCHECK(pidfile_pid() == master && !gone(master), "master changed");
	status_is(0, "after reload");
	requests_ok(3, "after reload");
	OCHECK(init("force-reload") == 0, "force-reload: exit %d:\n%s",
	       run.code, run.out);
	OCHECK(wait_workers(master, w3, w2, 2) == 0,
	       "the workers were not replaced after force-reload");

	/* a bad configuration: refused with the error shown, the running
	 * workers untouched */
	write_conf("no_such_key = 1\n");
	sfmt(bad, sizeof(bad), "%s:", t.conf);
	OCHECK(init("configtest") != 0 && strstr(run.out, bad) != NULL,
	       "configtest on a bad file: exit %d:\n%s", run.code, run.out);
	OCHECK(init("reload") == 6 && strstr(run.out, bad) != NULL &&
	               strstr(run.out, "no_such_key") != NULL,
	       "reload with a bad config: exit %d, the error not shown:\n%s",
	       run.code, run.out);
	OCHECK(init("restart") == 6 && strstr(run.out, bad) != NULL,
	       "restart with a bad config: exit %d:\n%s", run.code, run.out);
	OCHECK(pidfile_pid() == master && !gone(master),
	       "the master went away on a refused reload or restart");
	OCHECK(workers_of(master, w2) == 2 && same_pids(w2, w3, 2),
	       "the workers changed on a refused reload");
	status_is(0, "after a refused reload");
	requests_ok(3, "after a refused reload");

	/* restart: a new master */
	write_conf(NULL);
	OCHECK(init("restart") == 0, "restart: exit %d:\n%s", run.code,
	       run.out);
	again = pidfile_pid();
	OCHECK(again > 0 && again != master && gone(master) && !gone(again),
	       "restart: master %d, before %d", (int)again, (int)master);
	t.master = again;
	OCHECK(wait_workers(again, w1, NULL, 0) == 0, "no workers");
	requests_ok(3, "after restart");

	/* stop: graceful, complete */
	OCHECK(init("stop") == 0, "stop: exit %d:\n%s", run.code, run.out);
	OCHECK(gone(again), "master %d still there after stop", (int)again);
	OCHECK(gone(w1[0]) && gone(w1[1]), "workers still there after stop");
	OCHECK(access(t.pidfile, F_OK) < 0, "pid file left after stop");
	status_is(3, "after stop");
	OCHECK(harness_wait_port(t.port, 200) < 0, "port %d still open",
	       t.port);
	OCHECK(init("stop") == 0, "stop when stopped: exit %d:\n%s", run.code,
	       run.out);
	OCHECK(init("reload") == 7, "reload when stopped: exit %d:\n%s",
	       run.code, run.out);

	/* start refused on a bad configuration */
	write_conf("workers = many\n");
	OCHECK(init("start") == 6 && strstr(run.out, bad) != NULL,
	       "start with a bad config: exit %d:\n%s", run.code, run.out);
	status_is(3, "after a refused start");
}

START_TEST(init_lifecycle_ssd)
{
	if (!have("start-stop-daemon")) {
		fprintf(stderr, "check_ops: no start-stop-daemon: the plain "
		                "signals test covers the init script\n");
		return;
	}
	lifecycle(1);
}
END_TEST

START_TEST(init_lifecycle_signals)
{
	lifecycle(0);
}
END_TEST

/* A master killed with its workers: status 1 (dead, pid file left); the
 * next start and stop work. */
START_TEST(init_stale_pidfile)
{
	pid_t w[HARNESS_MAX_PIDS], master;
	int64_t deadline;

	prepare(1);
	master = start(w);
	kill(master, SIGKILL);
	kill(w[0], SIGKILL);
	kill(w[1], SIGKILL);
	deadline = harness_now_ms() + GONE_MS;
	while (!(gone(master) && gone(w[0]) && gone(w[1])) &&
	       harness_now_ms() < deadline)
		harness_sleep_ms(20);
	OCHECK(gone(master) && gone(w[0]) && gone(w[1]),
	       "killed processes still there");
	OCHECK(access(t.pidfile, F_OK) == 0, "the pid file went away");
	status_is(1, "after kill -9");
	OCHECK(init("reload") == 7, "reload of a dead master: exit %d:\n%s",
	       run.code, run.out);
	master = start(w);
	status_is(0, "after a start over a stale pid file");
	requests_ok(2, "after a start over a stale pid file");
	OCHECK(init("stop") == 0, "stop: exit %d:\n%s", run.code, run.out);
	status_is(3, "after stop");
}
END_TEST

/* ---- log rotation under load ---------------------------------------- */

struct load_state {
	volatile int sent; /* requests done (ok or not) */
	volatile int ok;
	volatile int finished;
	char first_error[256];
};

/* LOAD_REQS requests, each on its own connection, each with its number
 * in the URL, one every LOAD_GAP_MS: the rotations land among them. */
static void
load_child(struct load_state *st, int proxy_port)
{
	static struct harness_conn c;
	struct harness_resp r;
	int64_t end = harness_now_ms() + LOAD_MAX_MS;
	int i, ok;

	for (i = 0; i < LOAD_REQS && harness_now_ms() < end; i++) {
		memset(&r, 0, sizeof(r));
		ok = harness_conn_open(&c, proxy_port) == 0 &&
		     harness_conn_sendf(
		             &c,
		             "GET http://127.0.0.1:%d/size/200?seq=%d "
		             "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		             "Connection: close\r\n\r\n",
		             origin.port, i, origin.port) == 0 &&
		     harness_conn_response(&c, &r, 0, HARNESS_WAIT_MS) == 0 &&
		     r.status == 200 && r.body_total == 200;
		if (ok)
			st->ok++;
		else if (st->first_error[0] == '\0')
			sfmt(st->first_error, sizeof(st->first_error),
			     "request %d: status %d: %s", i, r.status, r.error);
		harness_resp_free(&r);
		harness_conn_close(&c);
		st->sent = i + 1;
		harness_sleep_ms(LOAD_GAP_MS);
	}
	st->finished = 1;
	_exit(0);
}

static void
wait_sent(const struct load_state *st, int n)
{
	int64_t deadline = harness_now_ms() + LOAD_MAX_MS;

	while (st->sent < n && !st->finished && harness_now_ms() < deadline)
		harness_sleep_ms(5);
	OCHECK(st->sent >= n, "the load stalled at %d requests", st->sent);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : st.st_size;
}

/* Waits until the workers have flushed something into path (they write
 * their buffered lines once a second). */
static void
wait_nonempty(const char *path)
{
	int64_t deadline = harness_now_ms() + HARNESS_WAIT_MS;

	while (file_size(path) <= 0 && harness_now_ms() < deadline)
		harness_sleep_ms(20);
	OCHECK(file_size(path) > 0, "%s stays empty", path);
}

/* Checks every line of one rotated piece: complete, combined format, for
 * one of our requests, each request once over all pieces.  Returns the
 * number of lines. */
static int
check_log_piece(const char *path, unsigned char *seen, const regex_t *re)
{
	regmatch_t m[2];
	char *text, *line, *nl;
	size_t len;
	int lines = 0, seq;

	text = slurp(path, &len);
	OCHECK(text != NULL, "cannot read %s", path);
	OCHECK(len == 0 || text[len - 1] == '\n',
	       "%s ends in a partial line: \"%s\"", path,
	       strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text);
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		OCHECK(regexec(re, line, 2, m, 0) == 0,
		       "%s: not a complete combined line: \"%s\"", path, line);
		seq = atoi(line + m[1].rm_so);
		OCHECK(seq >= 0 && seq < LOAD_REQS && !seen[seq],
		       "%s: request %d logged twice (or unknown): \"%s\"", path,
		       seq, line);
		seen[seq] = 1;
		lines++;
	}
	free(text);
	return lines;
}

START_TEST(log_rotation_under_load)
{
	char rotated_a[PATH_MAX + 8], rotated_b[PATH_MAX + 8], lrconf[PATH_MAX],
	        lrstate[PATH_MAX], ere[1024];
	unsigned char seen[LOAD_REQS];
	struct load_state *st;
	pid_t w[HARNESS_MAX_PIDS], master, loader;
	int use_logrotate = have("logrotate"), a, b, c, i;
	int64_t deadline;
	regex_t re;

	prepare(1);
	master = start(w);
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	OCHECK(st != MAP_FAILED, "mmap");
	memset(st, 0, sizeof(*st));
	loader = fork();
	OCHECK(loader >= 0, "fork");
	if (loader == 0)
		load_child(st, t.port);

	/* rotation 1, by logrotate itself with the installed file (paths
	 * moved into the test tree): rename, then its postrotate script
	 * runs the installed init script's rotate (SIGUSR1) */
	sfmt(rotated_a, sizeof(rotated_a), "%s.1", t.access_log);
	wait_sent(st, LOAD_REQS / 3);
	wait_nonempty(t.access_log);
	if (use_logrotate) {
		path_in(lrconf, harness_tmpdir(), "logrotate.conf");
		path_in(lrstate, harness_tmpdir(), "logrotate.state");
		run_sh(&run, 20000,
		       "sed -e 's|/var/log/proxyd/|%s/|' "
		       "-e 's|/etc/init.d/proxyd|%s|g' "
		       "-e 's|/run/proxyd/proxyd.pid|%s|g' "
		       "'%s/etc/logrotate.d/proxyd' > '%s' && "
		       "logrotate -f -s '%s' '%s'",
		       t.logdir, t.init, t.pidfile, t.dest, lrconf, lrstate,
		       lrconf);
		OCHECK(run.code == 0, "logrotate: exit %d", run.code);
	} else {
		fprintf(stderr, "check_ops: no logrotate: rotating by hand\n");
		OCHECK(rename(t.access_log, rotated_a) == 0, "rename: %s",
		       strerror(errno));
		OCHECK(init("rotate") == 0, "init rotate: exit %d", run.code);
	}
	OCHECK(file_size(rotated_a) > 0, "%s was not rotated", t.access_log);

	/* rotation 2, as logrotate without the init script would: rename,
	 * then SIGUSR1 to the pid in the pid file */
	sfmt(rotated_b, sizeof(rotated_b), "%s.2nd", t.access_log);
	wait_sent(st, 2 * LOAD_REQS / 3);
	wait_nonempty(t.access_log);
	OCHECK(rename(t.access_log, rotated_b) == 0, "rename: %s",
	       strerror(errno));
	OCHECK(kill(pidfile_pid(), SIGUSR1) == 0, "kill -USR1: %s",
	       strerror(errno));

	/* (its exit may be reaped by the orphan reaping: the flag says) */
	deadline = harness_now_ms() + LOAD_MAX_MS + 10000;
	while (!st->finished && harness_now_ms() < deadline)
		harness_sleep_ms(20);
	OCHECK(st->finished, "the load did not finish");
	waitpid(loader, NULL, 0);
	OCHECK(st->sent == LOAD_REQS && st->ok == LOAD_REQS,
	       "%d of %d requests sent, %d ok; first error: %s", st->sent,
	       LOAD_REQS, st->ok, st->first_error);
	/* the workers flush what they hold when they stop */
	OCHECK(init("stop") == 0, "stop: exit %d:\n%s", run.code, run.out);
	OCHECK(gone(master), "master still there after stop");

	sfmt(ere, sizeof(ere),
	     "^127\\.0\\.0\\.1 - - "
	     "\\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:"
	     "[0-9]{2} [+-][0-9]{4}\\] "
	     "\"GET http://127\\.0\\.0\\.1:%d/size/200\\?seq=([0-9]+) "
	     "HTTP/1\\.1\" 200 [0-9]+ \"[^\"]*\" \"[^\"]*\"( .*)?$",
	     origin.port);
	OCHECK(regcomp(&re, ere, REG_EXTENDED) == 0, "regcomp");
	memset(seen, 0, sizeof(seen));
	a = check_log_piece(rotated_a, seen, &re);
	b = check_log_piece(rotated_b, seen, &re);
	c = check_log_piece(t.access_log, seen, &re);
	regfree(&re);
	for (i = 0; i < LOAD_REQS; i++)
		OCHECK(seen[i], "request %d is in no log file", i);
	OCHECK(a + b + c == LOAD_REQS, "%d + %d + %d lines for %d requests", a,
	       b, c, LOAD_REQS);
	/* each piece has lines: the workers did reopen, twice */
	OCHECK(a > 0 && b > 0 && c > 0,
	       "lines per piece: %d, %d, %d (a reopen missed)", a, b, c);
	munmap(st, sizeof(*st));
}
END_TEST

static Suite *
ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *inst = tcase_create("install");
	TCase *initd = tcase_create("init script");

	tcase_add_checked_fixture(inst, setup, teardown);
	tcase_set_timeout(inst, 180);
	tcase_add_test(inst, install_layout);
	tcase_add_test(inst, uninstall_clean);
	tcase_add_test(inst, man_pages_lint);
	tcase_add_test(inst, scripts_lint);
	suite_add_tcase(s, inst);

	tcase_add_checked_fixture(initd, setup, teardown);
	tcase_set_timeout(initd, 180);
	tcase_add_test(initd, init_lifecycle_ssd);
	tcase_add_test(initd, init_lifecycle_signals);
	tcase_add_test(initd, init_stale_pidfile);
	tcase_add_test(initd, log_rotation_under_load);
	suite_add_tcase(s, initd);
	return s;
}

int
main(void)
{
	return harness_main(ops_suite());
}
