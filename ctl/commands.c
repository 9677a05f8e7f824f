/*
 * proxyctl commands that print a snapshot or signal the master.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
take(const struct shm_view *v, struct shm_snapshot *s)
{
	if (shm_snapshot_take(v, s) == 0)
		return 0;
	fprintf(stderr, "proxyctl: could not read a consistent snapshot\n");
	return -1;
}

int
ctl_stats(const struct shm_view *v, enum ctl_format format)
{
	struct shm_snapshot s;

	if (take(v, &s) < 0)
		return 1;
	if (format == CTL_FORMAT_JSON)
		shm_render_json(v, &s, stdout);
	else if (format == CTL_FORMAT_PROMETHEUS)
		shm_render_prometheus(v, &s, stdout);
	else
		shm_render_table(v, &s, NULL, stdout);
	shm_snapshot_free(&s);
	return 0;
}

int
ctl_workers(const struct shm_view *v)
{
	struct shm_snapshot s;

	if (take(v, &s) < 0)
		return 1;
	shm_render_workers(v, &s, stdout);
	shm_snapshot_free(&s);
	return 0;
}

int
ctl_signal_master(const struct shm_view *v, int sig, const char *what)
{
	pid_t pid = (pid_t)v->h->master_pid;

	if (!shm_master_alive(v)) {
		fprintf(stderr,
		        "proxyctl: master pid %d is not a running "
		        "proxyd\n",
		        (int)pid);
		return 1;
	}
	if (kill(pid, sig) < 0) {
		fprintf(stderr, "proxyctl: %s pid %d: %s\n", what, (int)pid,
		        strerror(errno));
		return 1;
	}
	printf("proxyctl: sent %s to proxyd pid %d\n", what, (int)pid);
	return 0;
}
