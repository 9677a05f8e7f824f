/*
 * The master process: binds listeners, forks and supervises workers,
 * reloads, stops.  Only master/ knows that processes exist.
 */
#ifndef MASTER_MASTER_H
#define MASTER_MASTER_H

#include <sys/types.h>

#include "common/config-t.h"
#include "rules/rules-t.h"
#include "shm/shm.h"

#define MASTER_MAX_SLOTS 520 /* two generations of up to 256 workers */

/* master.c: runs until stopped; returns the exit code.  Takes cfg (heap,
 * freed when replaced by a reload) and the bound listeners fds[]. */
struct tls_set;
int master_run(struct config *cfg, struct rules *rules, struct tls_set *tls,
               const int *fds, uid_t uid, gid_t gid,
               const struct shm_segment *shm, int foreground);
/* Compiles cfg's rules and builds its TLS contexts (each NULL when not
 * configured).  0, or -1 with err and nothing kept. */
int master_load_policy(const struct config *cfg, struct rules **rules,
                       struct tls_set **tls, char *err, size_t errlen);

/* listeners.c: the bound sockets, kept across reloads by address. */
/* Binds (or reuses) a socket for every [listen] of cfg; fills fds[] in
 * cfg->listens order.  0, or -1 with err set and nothing changed. */
int master_listeners_bind(const struct config *cfg, int *fds, char *err,
                          size_t errlen);
/* Closes sockets no longer in fds[0..n). */
void master_listeners_keep_only(const int *fds, unsigned n);
void master_listeners_close_all(void);

/* process.c: daemon, pid file, limits, users */
int master_daemonize(char *err, size_t errlen);
/* Lets the starter of a daemonized proxyd exit 0: we are serving. */
void master_daemon_ready(void);
int master_pidfile_write(const char *path, char *err, size_t errlen);
void master_pidfile_remove(const char *path);
/* Raises RLIMIT_NOFILE for max_connections, capping it if the host
 * cannot (and saying so). */
void master_fit_nofile(struct config *cfg);
/* checker.c: the health checker of the current generation. */
void master_checker_start(const struct config *cfg, void *area,
                          const struct tls_set *tls, uid_t uid, gid_t gid);
void master_checker_stop(void);
/* 1 when pid was the current checker (restarted later unless stopping). */
int master_checker_reaped(pid_t pid, int status, int stopping);
void master_checker_tick(void);
/* In a child: closes every fd but stdio, the log's and fds[0..n). */
void master_close_inherited(const int *fds, unsigned n);
/* uid/gid the workers switch to when started as root (0 otherwise). */
int master_lookup_user(const struct config *cfg, uid_t *uid, gid_t *gid,
                       char *err, size_t errlen);
/* The group the shm segment is readable by: `group` when set, else -1
 * (the master's). */
gid_t master_shm_group(const struct config *cfg);
/* notify.c: sd_notify to $NOTIFY_SOCKET when set ("READY=1", ...). */
void master_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned long long master_monotonic_usec(void);

/* Makes the log files writable by the workers after they drop root. */
void master_prepare_logs(const struct config *cfg, uid_t uid, gid_t gid,
                         int foreground);

#endif
