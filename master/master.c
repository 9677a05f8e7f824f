/*
 * The master's life: fork a generation of workers, then wait on signals
 * (signalfd) and keep the workers running: respawn the ones that crash
 * (with backoff if they crash at once), reload on SIGHUP (validate first;
 * start the new generation before draining the old), stop on SIGQUIT
 * (gracefully) or SIGTERM/SIGINT (now), reopen logs on SIGUSR1.
 */
#include "master/master.h"
#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "rules/rules.h"
#include "shm/backends.h"
#include "tls/tls.h"
#include "shm/shm.h"
#include "worker/stats.h"
#include "worker/worker.h"

#define KILL_GRACE_MS 5000
#define BACKOFF_MAX_MS 30000
#define CRASH_LOOP_MS 2000 /* dying sooner than this counts as a loop */

enum slot_state { SLOT_FREE = 0, SLOT_RUNNING, SLOT_DRAINING, SLOT_WAITING };

struct slot {
	enum slot_state state;
	pid_t pid;
	unsigned generation;
	uint64_t started;    /* ms */
	uint64_t respawn_at; /* SLOT_WAITING */
	uint64_t kill_at;    /* SLOT_DRAINING: SIGKILL if still alive */
	unsigned backoff;    /* ms, doubles on a crash loop */
	unsigned row;        /* its row of rule hit counters */
};

/* What the master runs now. */
static struct {
	struct config *cfg;
	struct rules *rules; /* NULL: no rules file */
	struct tls_set *tls; /* the TLS contexts (tls/), inherited */
	int fds[CONFIG_MAX_LISTENS];
	uid_t uid;
	gid_t gid;
	unsigned generation;
	struct slot slots[MASTER_MAX_SLOTS];
	struct shm_segment shm;
	struct rules_area rules_area;       /* the current generation's */
	struct backends_area backends_area; /* the same; base NULL: none */
	int stopping;
	uint64_t stop_deadline;
	int foreground;
} m;

#define MASTER_STAT_INC(name)                                            \
	__atomic_fetch_add(&shm_master_counters(&m.shm)[STAT_##name], 1, \
	                   __ATOMIC_RELAXED)

/* The rules area for the generation about to start (none without
 * rules).  0, or -1 (logged). */
static int
publish_rules(struct rules_area *a)
{
	char err[512];

	a->base = NULL;
	if (!m.rules) {
		rules_area_remove(m.cfg->shm_file);
		return 0;
	}
	if (rules_publish(a, m.shm.path, m.rules, m.cfg->workers, m.generation,
	                  master_shm_group(m.cfg), err, sizeof(err)) == 0)
		return 0;
	log_error("%s", err);
	return -1;
}

/* The backends area for the generation about to start (none without
 * backends); servers also in `old` keep their health.  0, or -1. */
static int
publish_backends(struct backends_area *a, const struct backends_area *old)
{
	char err[512];

	if (shm_backends_publish(a, m.shm.path, m.cfg, m.cfg->workers,
	                         m.generation, master_shm_group(m.cfg), old,
	                         err, sizeof(err)) == 0)
		return 0;
	log_error("%s", err);
	return -1;
}

static int
spawn(unsigned i)
{
	struct worker_heritage h = {
	        .cfg = m.cfg,
	        .rules = m.rules,
	        .listen_fds = m.fds,
	        .slot = i,
	        .generation = m.generation,
	        .stats = shm_slot_counters(&m.shm, i),
	        .heartbeat = &shm_slot(&m.shm, i)->heartbeat,
	        .rule_hits = rules_area_hits(&m.rules_area, m.slots[i].row),
	        .backends_area = m.backends_area.base,
	        .tls = m.tls,
	        .backend_row = m.slots[i].row,
	        .shm_base = m.shm.base,
	        .shm_size = m.shm.size,
	        .uid = m.uid,
	        .gid = m.gid,
	        .master_pid = getpid(),
	};
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		master_close_inherited(m.fds, m.cfg->n_listens);
		worker_main(&h);
	}
	m.slots[i] = (struct slot){.state = SLOT_RUNNING,
	                           .pid = pid,
	                           .generation = m.generation,
	                           .started = clock_mono_ms(),
	                           .backoff = m.slots[i].backoff,
	                           .row = m.slots[i].row};
	shm_slot_start(&m.shm, i, pid, m.generation);
	MASTER_STAT_INC(worker_starts);
	log_info("worker %u started (pid %d, generation %u)", i, (int)pid,
	         m.generation);
	return 0;
}

/* Starts cfg->workers workers in free slots. 0, or -1 if slots run out. */
static int
spawn_generation(void)
{
	unsigned i, started = 0;

	for (i = 0; i < MASTER_MAX_SLOTS && started < m.cfg->workers; i++) {
		if (m.slots[i].state != SLOT_FREE)
			continue;
		m.slots[i].backoff = 0;
		m.slots[i].row = started; /* a respawn keeps it */
		if (spawn(i) < 0)
			return -1;
		started++;
	}
	return started == m.cfg->workers ? 0 : -1;
}

static void
signal_all(int sig, unsigned generation, int all_generations)
{
	unsigned i;

	for (i = 0; i < MASTER_MAX_SLOTS; i++) {
		struct slot *s = &m.slots[i];

		if ((s->state == SLOT_RUNNING || s->state == SLOT_DRAINING) &&
		    (all_generations || s->generation == generation) &&
		    kill(s->pid, sig) < 0 && errno != ESRCH)
			log_error("cannot signal worker %u (pid %d): %s (is "
			          "CAP_KILL missing?)",
			          i, (int)s->pid, strerror(errno));
	}
}

static int
find_pid(pid_t pid)
{
	unsigned i;

	for (i = 0; i < MASTER_MAX_SLOTS; i++)
		if (m.slots[i].pid == pid && m.slots[i].state != SLOT_FREE)
			return (int)i;
	return -1;
}

/* A worker of the current generation died without being asked to:
 * respawn it in its slot, at once the first time, later if it keeps
 * crashing right after start. */
static void
worker_crashed(unsigned i, int status)
{
	struct slot *s = &m.slots[i];
	uint64_t now = clock_mono_ms();

	MASTER_STAT_INC(worker_deaths);
	if (now - s->started < CRASH_LOOP_MS)
		s->backoff = s->backoff ? s->backoff * 2 : 100;
	else
		s->backoff = 0;
	if (s->backoff > BACKOFF_MAX_MS)
		s->backoff = BACKOFF_MAX_MS;
	if (WIFSIGNALED(status))
		log_error("worker %u (pid %d) killed by signal %d; respawning "
		          "in %u ms",
		          i, (int)s->pid, WTERMSIG(status), s->backoff);
	else
		log_error("worker %u (pid %d) exited with status %d; "
		          "respawning in %u ms",
		          i, (int)s->pid, WEXITSTATUS(status), s->backoff);
	s->state = SLOT_WAITING;
	s->respawn_at = now + s->backoff;
}

static void
reap_children(void)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (master_checker_reaped(pid, status, m.stopping))
			continue;
		if ((i = find_pid(pid)) < 0)
			continue;
		shm_slot_retire(&m.shm, (unsigned)i);
		if (m.slots[i].state == SLOT_RUNNING && !m.stopping) {
			worker_crashed((unsigned)i, status);
			continue;
		}
		log_info("worker %d (pid %d) %s", i, (int)pid,
		         m.slots[i].state == SLOT_DRAINING ? "drained"
		                                           : "stopped");
		m.slots[i].state = SLOT_FREE;
		m.slots[i].pid = 0;
	}
}

static void
respawn_due(void)
{
	uint64_t now = clock_mono_ms();
	unsigned i;

	master_checker_tick();
	tls_tickets_rotate(); /* when due */
	for (i = 0; i < MASTER_MAX_SLOTS; i++) {
		struct slot *s = &m.slots[i];

		if (s->state == SLOT_WAITING && now >= s->respawn_at &&
		    spawn(i) < 0)
			s->respawn_at = now + 1000;
		if (s->state == SLOT_DRAINING && now >= s->kill_at) {
			log_warn("worker %u (pid %d) still draining; killing",
			         i, (int)s->pid);
			kill(s->pid, SIGKILL);
			s->kill_at = UINT64_MAX;
		}
	}
}

/* Every generation but `keep`: stop accepting, finish, exit.  Slots
 * waiting to respawn are simply freed. */
static void
drain_except(unsigned keep)
{
	uint64_t kill_at =
	        clock_mono_ms() + m.cfg->timeouts.drain + KILL_GRACE_MS;
	unsigned i;

	for (i = 0; i < MASTER_MAX_SLOTS; i++) {
		struct slot *s = &m.slots[i];

		if (s->generation == keep)
			continue;
		if (s->state == SLOT_WAITING)
			s->state = SLOT_FREE;
		if (s->state != SLOT_RUNNING)
			continue;
		s->state = SLOT_DRAINING;
		s->kill_at = kill_at;
		shm_slot_set_state(&m.shm, i, SHM_SLOT_DRAINING);
		kill(s->pid, SIGQUIT);
	}
}

static int
load_new(const char *path, struct config **out, struct rules **rules,
         struct tls_set **tls, int *fds, uid_t *uid, gid_t *gid)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char err[1024];

	*rules = NULL;
	*tls = NULL;
	if (!cfg || config_load(cfg, path, err, sizeof(err)) < 0 ||
	    master_load_policy(cfg, rules, tls, err, sizeof(err)) < 0 ||
	    master_lookup_user(cfg, uid, gid, err, sizeof(err)) < 0 ||
	    master_listeners_bind(cfg, fds, err, sizeof(err)) < 0) {
		log_error("reload rejected, keeping the running configuration: "
		          "%s",
		          cfg ? err : "out of memory");
		rules_free(*rules);
		tls_free(*tls);
		*tls = NULL;
		free(cfg);
		return -1;
	}
	master_fit_nofile(cfg);
	*out = cfg;
	return 0;
}

/* What the master itself takes from a new configuration; the workers
 * take the rest by being new. */
static void
apply_master_settings(const struct config *old, const struct config *cfg)
{
	char err[512];

	log_set_level(cfg->log_level);
	if (!m.foreground && strcmp(old->error_log, cfg->error_log) != 0 &&
	    log_open(cfg->error_log, err, sizeof(err)) < 0)
		log_error("error_log: %s", err);
	if (strcmp(old->pid_file, cfg->pid_file) != 0 ||
	    strcmp(old->shm_file, cfg->shm_file) != 0)
		log_warn("pid_file and shm_file changes take effect at the "
		         "next restart");
}

static void
reload(void)
{
	struct config *cfg, *old = m.cfg;
	struct rules *rules, *old_rules = m.rules;
	struct tls_set *tls, *old_tls = m.tls;
	struct rules_area old_area;
	struct backends_area old_backends;
	int fds[CONFIG_MAX_LISTENS], old_fds[CONFIG_MAX_LISTENS];
	unsigned old_gen = m.generation;
	uid_t uid;
	gid_t gid;

	log_info("SIGHUP: reloading %s", old->path);
	master_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	              master_monotonic_usec());
	if (load_new(old->path, &cfg, &rules, &tls, fds, &uid, &gid) < 0) {
		master_listeners_keep_only(m.fds, old->n_listens);
		MASTER_STAT_INC(reloads_failed);
		master_notify("READY=1\nSTATUS=reload rejected (see the "
		              "error log); serving the previous configuration");
		return;
	}
	memcpy(old_fds, m.fds, sizeof(old_fds));
	m.cfg = cfg;
	m.rules = rules;
	m.tls = tls;
	memcpy(m.fds, fds, sizeof(fds));
	m.uid = uid;
	m.gid = gid;
	m.generation++;
	apply_master_settings(old, cfg);
	master_prepare_logs(cfg, uid, gid, m.foreground);
	old_area = m.rules_area;
	old_backends = m.backends_area;
	if (publish_rules(&m.rules_area) < 0 ||
	    publish_backends(&m.backends_area, &old_backends) < 0 ||
	    spawn_generation() < 0) {
		log_error("reload: cannot start the new workers; keeping the "
		          "old ones");
		drain_except(old_gen);
		m.generation = old_gen;
		m.cfg = old;
		m.rules = old_rules;
		m.tls = old_tls;
		rules_area_unmap(&m.rules_area);
		/* shown again (its hit counts restart) */
		if (publish_rules(&m.rules_area) == 0)
			rules_area_unmap(&old_area);
		else
			m.rules_area = old_area;
		/* the old checker goes on writing the old area: put it back */
		shm_backends_unmap(&m.backends_area);
		if (publish_backends(&m.backends_area, &old_backends) == 0) {
			master_checker_start(m.cfg, m.backends_area.base, m.tls,
			                     m.uid, m.gid);
			shm_backends_unmap(&old_backends);
		} else {
			m.backends_area = old_backends;
		}
		memcpy(m.fds, old_fds, sizeof(old_fds));
		master_listeners_keep_only(m.fds, old->n_listens);
		rules_free(rules);
		tls_free(tls);
		free(cfg);
		MASTER_STAT_INC(reloads_failed);
		master_notify("READY=1\nSTATUS=reload failed; serving the "
		              "previous configuration");
		return;
	}
	drain_except(m.generation);
	master_listeners_keep_only(m.fds, cfg->n_listens);
	master_checker_start(m.cfg, m.backends_area.base, m.tls, m.uid, m.gid);
	/* the old workers have their own copies (fork) */
	rules_free(old_rules);
	tls_free(old_tls);
	rules_area_unmap(&old_area);
	shm_backends_unmap(&old_backends);
	free(old);
	shm_set_generation(&m.shm, m.generation);
	MASTER_STAT_INC(reloads_ok);
	log_info("reload done: generation %u", m.generation);
	master_notify("READY=1\nSTATUS=reloaded: generation %u", m.generation);
}

static void
stop(int sig)
{
	uint64_t grace = sig == SIGQUIT ? m.cfg->timeouts.drain : 0;

	log_info("%s: stopping%s", strsignal(sig),
	         sig == SIGQUIT ? " gracefully" : "");
	m.stopping = 1;
	m.stop_deadline = clock_mono_ms() + grace + KILL_GRACE_MS;
	master_checker_stop();
	master_notify("STOPPING=1\nSTATUS=stopping");
	signal_all(sig == SIGQUIT ? SIGQUIT : SIGTERM, 0, 1);
}

static void
reopen_logs(void)
{
	char err[512];

	master_prepare_logs(m.cfg, m.uid, m.gid, m.foreground);
	if (!m.foreground && log_open(m.cfg->error_log, err, sizeof(err)) < 0)
		log_error("reopening the error log: %s", err);
	signal_all(SIGUSR1, 0, 1);
}

static int
live_workers(void)
{
	unsigned i;
	int n = 0;

	for (i = 0; i < MASTER_MAX_SLOTS; i++)
		n += m.slots[i].state == SLOT_RUNNING ||
		     m.slots[i].state == SLOT_DRAINING;
	return n;
}

static void
handle_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		reap_children();
		break;
	case SIGHUP:
		if (!m.stopping)
			reload();
		break;
	case SIGUSR1:
		reopen_logs();
		break;
	case SIGQUIT:
	case SIGTERM:
	case SIGINT:
		if (!m.stopping)
			stop(sig);
		else if (sig != SIGQUIT)
			signal_all(SIGTERM, 0, 1); /* hurry up */
		break;
	}
}

/* STATUS= for `systemctl status`, every few seconds: requests served. */
static void
report_status(void)
{
	static uint64_t last;
	struct shm_snapshot snap;
	struct shm_view v;
	char err[128];

	if (!getenv("NOTIFY_SOCKET") || clock_mono_ms() - last < 5000)
		return;
	last = clock_mono_ms();
	if (shm_view_init(&v, m.shm.base, m.shm.size, err, sizeof(err)) < 0 ||
	    shm_snapshot_take(&v, &snap) < 0)
		return;
	master_notify("STATUS=%llu requests served, %u workers, generation "
	              "%u",
	              (unsigned long long)snap.totals[STAT_requests],
	              snap.n_workers, m.generation);
	shm_snapshot_free(&snap);
}

static int
signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
wait_signals(int sfd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = {.fd = sfd, .events = POLLIN};

	if (poll(&pfd, 1, 200) <= 0)
		return;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		handle_signal((int)si.ssi_signo);
}

int
master_run(struct config *cfg, struct rules *rules, struct tls_set *tls,
           const int *fds, uid_t uid, gid_t gid, const struct shm_segment *shm,
           int foreground)
{
	int sfd;

	m.cfg = cfg;
	m.rules = rules;
	m.tls = tls;
	memcpy(m.fds, fds, sizeof(m.fds[0]) * cfg->n_listens);
	m.uid = uid;
	m.gid = gid;
	m.foreground = foreground;
	m.generation = 1;
	m.shm = *shm;
	shm_header(&m.shm)->master_pid = getpid(); /* after daemonizing */
	if ((sfd = signals_open()) < 0) {
		log_error("start-up: %s", strerror(errno));
		return 1;
	}
	if (publish_rules(&m.rules_area) < 0 ||
	    publish_backends(&m.backends_area, NULL) < 0 ||
	    spawn_generation() < 0)
		return 1;
	master_checker_start(m.cfg, m.backends_area.base, m.tls, m.uid, m.gid);
	master_daemon_ready();
	master_notify("READY=1\nMAINPID=%d\nSTATUS=serving with %u workers",
	              (int)getpid(), m.cfg->workers);
	while (!m.stopping || live_workers() > 0) {
		wait_signals(sfd);
		reap_children();
		if (!m.stopping) {
			respawn_due();
			report_status();
		} else if (clock_mono_ms() >= m.stop_deadline)
			signal_all(SIGKILL, 0, 1);
	}
	close(sfd);
	master_listeners_close_all();
	master_pidfile_remove(m.cfg->pid_file);
	rules_area_unmap(&m.rules_area);
	rules_area_remove(m.shm.path);
	shm_backends_unmap(&m.backends_area);
	shm_backends_remove(m.shm.path);
	shm_destroy(&m.shm);
	rules_free(m.rules);
	tls_free(m.tls);
	free(m.cfg);
	log_info("stopped");
	return 0;
}
