/*
 * proxyctl's commands.  Each reads the segment through a shm_view and
 * returns the process exit code (0 ok, 1 failure with one line on stderr).
 */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include "shm/shm.h"

enum ctl_format {
	CTL_FORMAT_TABLE = 0,
	CTL_FORMAT_JSON,
	CTL_FORMAT_PROMETHEUS,
};

int ctl_stats(const struct shm_view *v, enum ctl_format format);
int ctl_workers(const struct shm_view *v);
/* rules.c: the rules area next to the segment at shm_path. */
int ctl_rules(const char *shm_path);
/* backends.c: the reverse-proxy backends and their servers. */
int ctl_backends(const char *shm_path, int json);
const char *ctl_action_name(uint32_t a);
/* explain.c: which rule decides a request, and why the others did not. */
int ctl_explain(const char *shm_path, int argc, char **argv);
/* Live view, refreshed every second until 'q'; once = print one. */
int ctl_top(const struct shm_view *v, int once);
/* Sends sig to the master after checking it is a live proxyd. */
int ctl_signal_master(const struct shm_view *v, int sig, const char *what);

#endif
