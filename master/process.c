/*
 * Process chores of the master: becoming a daemon, the pid file, the
 * descriptor limit, the user the workers run as, log file ownership.
 */
#include "master/master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/syslog.h"
#include "rules/rules.h"
#include "tls/tls.h"

/* Descriptors a worker needs besides two per client connection: pooled
 * upstream connections, listeners, logs, DNS. */
#define NOFILE_SPARE 1200

/* The daemon tells the process that started it, through this pipe, that
 * it is serving; until then the starter waits, so `proxyd` returns 0 only
 * once proxyd really runs (init scripts rely on that). */
static int ready_fd = -1;

#define READY_WAIT_MS 30000

static void __attribute__((noreturn)) wait_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c = 0;

	if (poll(&p, 1, READY_WAIT_MS) == 1 && read(fd, &c, 1) == 1 && c == 'R')
		_exit(0);
	fprintf(stderr, "proxyd: did not start (see the error log)\n");
	_exit(1);
}

void
master_daemon_ready(void)
{
	if (ready_fd < 0)
		return;
	if (write(ready_fd, "R", 1) != 1) {
		/* the starter is gone; nothing to tell */
	}
	close(ready_fd);
	ready_fd = -1;
}

int
master_daemonize(char *err, size_t errlen)
{
	int fds[2], fd;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		goto fail;
	if (pid > 0) {
		close(fds[1]);
		wait_ready(fds[0]);
	}
	close(fds[0]);
	ready_fd = fds[1];
	if (setsid() < 0)
		goto fail;
	if ((pid = fork()) < 0)
		goto fail;
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR)) < 0)
		goto fail;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	/* stderr goes where the error log goes: crashes stay visible. */
	dup2(log_fd() == STDERR_FILENO ? fd : log_fd(), STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
fail:
	snprintf(err, errlen, "daemonize: %s", strerror(errno));
	return -1;
}

int
master_pidfile_write(const char *path, char *err, size_t errlen)
{
	char tmp[4096], line[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) == 0)
		return 0;
fail:
	snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
	unlink(tmp);
	return -1;
}

void
master_pidfile_remove(const char *path)
{
	char line[32];
	FILE *f = fopen(path, "r");

	/* Only our own: a second proxyd that failed must not remove it. */
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && atoi(line) == (int)getpid())
		unlink(path);
	fclose(f);
}

void
master_fit_nofile(struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_connections * 2 + NOFILE_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
	                      ? want
	                      : rl.rlim_max;
	if (rl.rlim_cur < want && getuid() == 0 && rl.rlim_max != RLIM_INFINITY)
		rl.rlim_max = rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= want)
		return;
	cfg->max_connections =
	        rl.rlim_cur > NOFILE_SPARE + 2
	                ? (unsigned)((rl.rlim_cur - NOFILE_SPARE) / 2)
	                : 1;
	log_warn("RLIMIT_NOFILE is %llu: max_connections capped to %u per "
	         "worker",
	         (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

int
master_lookup_user(const struct config *cfg, uid_t *uid, gid_t *gid, char *err,
                   size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	*uid = 0;
	*gid = 0;
	if (getuid() != 0)
		return 0; /* not root: nothing to drop */
	if (!(pw = getpwnam(cfg->user))) {
		snprintf(err, errlen, "%s: user '%s' does not exist", cfg->path,
		         cfg->user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	/* Workers touch every byte from the network: running them as root
	 * must be asked for by name, never reached through an alias. */
	if (*uid == 0 && strcmp(cfg->user, "root") != 0) {
		snprintf(err, errlen,
		         "%s: user '%s' is uid 0: workers would run as root "
		         "(write user = root if that is really meant)",
		         cfg->path, cfg->user);
		return -1;
	}
	if (cfg->group[0]) {
		if (!(gr = getgrnam(cfg->group))) {
			snprintf(err, errlen, "%s: group '%s' does not exist",
			         cfg->path, cfg->group);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

static void
prepare_one(const char *path, uid_t uid, gid_t gid)
{
	int fd;

	if (!path[0] || strcmp(path, "stderr") == 0 || syslog_is_target(path))
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return;
	}
	/* owner only: the group stays the admins' (e.g. adm) */
	(void)gid;
	if (uid && fchown(fd, uid, (gid_t)-1) < 0)
		log_warn("chown %s: %s", path, strerror(errno));
	close(fd);
}

void
master_prepare_logs(const struct config *cfg, uid_t uid, gid_t gid,
                    int foreground)
{
	prepare_one(cfg->access_log, uid, gid);
	if (!foreground) /* in the foreground errors go to stderr */
		prepare_one(cfg->error_log, uid, gid);
}

gid_t
master_shm_group(const struct config *cfg)
{
	struct group *gr;

	if (!cfg->group[0] || !(gr = getgrnam(cfg->group)))
		return (gid_t)-1;
	return gr->gr_gid;
}

static int
load_rules(const struct config *cfg, struct rules **out, char *err,
           size_t errlen)
{
	*out = NULL;
	if (!cfg->rules[0])
		return 0;
	*out = rules_load(cfg->rules, err, errlen);
	return *out ? 0 : -1;
}

/* What the workers judge and serve with, built in the master: the rules
 * and the TLS contexts.  0, or -1 with err (nothing kept). */
int
master_load_policy(const struct config *cfg, struct rules **rules,
                   struct tls_set **tls, char *err, size_t errlen)
{
	*tls = NULL;
	if (load_rules(cfg, rules, err, errlen) < 0)
		return -1;
	if (tls_load(cfg, tls, err, errlen) == 0)
		return 0;
	rules_free(*rules);
	*rules = NULL;
	return -1;
}

/* A child starts with stdio, the error log and the listeners it is given
 * only: not the master's signalfd, not listeners a reload is retiring. */
void
master_close_inherited(const int *fds, unsigned n)
{
	int keep[CONFIG_MAX_LISTENS + 1], k = 0, i, j, t, low = 3;

	for (i = 0; i < (int)n; i++)
		keep[k++] = fds[i];
	keep[k++] = log_carrier_fd();
	for (i = 1; i < k; i++) /* insertion sort: a few entries */
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < k; i++) {
		if (keep[i] > low)
			close_range((unsigned)low, (unsigned)keep[i] - 1, 0);
		if (keep[i] >= low)
			low = keep[i] + 1;
	}
	close_range((unsigned)low, ~0U, 0);
}
