/*
 * Supervising the health checker (worker/health_check.c): one process per
 * configuration generation that has backends.  A reload starts the new
 * generation's checker on the new backends area and stops the old one; a
 * checker that dies is started again, with backoff if it keeps dying.
 */
#include "master/master.h"
#include "common/clock.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/health_check.h"

#define BACKOFF_MAX_MS 10000

static struct {
	struct health_check_heritage h;
	pid_t pid;           /* the running checker, 0 = none */
	uint64_t started;    /* ms */
	uint64_t respawn_at; /* ms; 0 = not waiting */
	unsigned backoff;
} ck;

static void
spawn(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("health checker: fork: %s", strerror(errno));
		ck.respawn_at = clock_mono_ms() + 1000;
		return;
	}
	if (pid == 0) {
		master_close_inherited(NULL, 0);
		health_check_main(&ck.h);
	}
	ck.pid = pid;
	ck.started = clock_mono_ms();
	ck.respawn_at = 0;
	log_info("health checker started (pid %d)", (int)pid);
}

void
master_checker_start(const struct config *cfg, void *area,
                     const struct tls_set *tls, uid_t uid, gid_t gid)
{
	master_checker_stop();
	if (!area)
		return;
	ck.h = (struct health_check_heritage){
	        .cfg = cfg,
	        .area = area,
	        .tls = tls,
	        .master_pid = getpid(),
	        .uid = uid,
	        .gid = gid,
	};
	ck.backoff = 0;
	spawn();
}

void
master_checker_stop(void)
{
	if (ck.pid > 0 && kill(ck.pid, SIGTERM) < 0 && errno != ESRCH)
		log_error("cannot stop the health checker (pid %d): %s",
		          (int)ck.pid, strerror(errno));
	ck.pid = 0;
	ck.respawn_at = 0;
	ck.h.area = NULL;
}

int
master_checker_reaped(pid_t pid, int status, int stopping)
{
	if (pid != ck.pid || pid <= 0)
		return 0; /* not the current one (an old one, or a worker) */
	ck.pid = 0;
	if (stopping || !ck.h.area)
		return 1;
	ck.backoff = clock_mono_ms() - ck.started < 2000
	                     ? (ck.backoff ? ck.backoff * 2 : 100)
	                     : 0;
	if (ck.backoff > BACKOFF_MAX_MS)
		ck.backoff = BACKOFF_MAX_MS;
	log_error(
	        "health checker (pid %d) %s %d; restarting in %u ms", (int)pid,
	        WIFSIGNALED(status) ? "killed by signal" : "exited with status",
	        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	        ck.backoff);
	ck.respawn_at = clock_mono_ms() + ck.backoff + 1;
	return 1;
}

void
master_checker_tick(void)
{
	if (ck.respawn_at && clock_mono_ms() >= ck.respawn_at && ck.h.area)
		spawn();
}
