/*
 * A worker process: drops privileges, accepts on the inherited listeners
 * and runs the event loop until the master tells it to stop (SIGQUIT:
 * finish in-flight requests within `drain`; SIGTERM/SIGINT: now).
 */
#include "worker/worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/privileges.h"
#include "rules/rules.h"
#include "worker/dns.h"
#include "worker/accept_share.h"
#include "worker/backend.h"
#include "worker/event.h"
#include "worker/route.h"
#include "worker/session.h"
#include "worker/stats.h"
#include "worker/upstream_pool.h"

struct worker_state worker;
uint64_t *stats_slot;

static volatile sig_atomic_t got_quit, got_term, got_usr1;
static struct event_io listeners[CONFIG_MAX_LISTENS];
static int accepting;
static struct event_timer resume_timer, drain_timer;

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGQUIT)
		got_quit = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
	errno = saved;
}

static void
set_accepting(int on)
{
	unsigned i;

	if (on == accepting || worker.draining)
		return;
	for (i = 0; i < worker.cfg->n_listens; i++) {
		if (on)
			(void)event_add(&listeners[i],
			                EPOLLIN | EPOLLEXCLUSIVE);
		else
			event_del(&listeners[i]);
	}
	accepting = on;
}

static void
on_resume(struct event_timer *t)
{
	(void)t;
	if (worker.sessions < worker.cfg->max_connections)
		set_accepting(1);
}

/* More than this worker's share of the connections: the next ones go to
 * the others (the backlog waits at most this long for us). */
#define SHARE_PAUSE_MS 5

static void
share_yield(void)
{
	set_accepting(0);
	event_timer_after(&resume_timer, SHARE_PAUSE_MS);
}

/* Out of descriptors: stop accepting for a moment instead of spinning on
 * a listener that stays readable. */
static void
accept_backoff(int err)
{
	log_warn("accept: %s; pausing accepts for 100ms", strerror(err));
	set_accepting(0);
	event_timer_after(&resume_timer, 100);
}

static void
on_accept(struct event_io *io, uint32_t ev)
{
	const struct config_listen *l = io->data;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i, one = 1;

	(void)ev;
	for (i = 0; i < 64 && accepting; i++) {
		if (worker.sessions >= worker.cfg->max_connections) {
			STATS_INC(conn_refused);
			set_accepting(0); /* the backlog holds them */
			return;
		}
		len = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_backoff(errno);
			return; /* EAGAIN: another worker took it */
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
		(void)session_accept(fd, &ss, l);
		if (accept_share_over()) {
			share_yield();
			return;
		}
	}
}

void
worker_session_closed(void)
{
	if (!accepting && !worker.draining &&
	    worker.sessions < worker.cfg->max_connections &&
	    !event_timer_armed(&resume_timer))
		set_accepting(1);
}

/* A worker's core holds the traffic it carried: none unless asked for.
 * setuid turned dumping off; core_dumps = on turns it back on. */
static void
set_core_dumps(int on)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = on ? rl.rlim_max : 0;
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
	(void)prctl(PR_SET_DUMPABLE, on ? 1 : 0);
}

#define LINGER_MS 2000
/* How long a tunnel waits for a TLS ClientHello before it is judged as
 * "no SNI" (protocols where the server speaks first send none). */
#define SNI_WAIT_MS 3000

static void
init_queues(const struct config_timeouts *t)
{
	event_queue_init(&worker.q_client_header, t->client_header);
	event_queue_init(&worker.q_client_idle, t->client_idle);
	event_queue_init(&worker.q_connect, t->connect);
	event_queue_init(&worker.q_upstream_response, t->upstream_response);
	event_queue_init(&worker.q_upstream_idle, t->upstream_idle);
	event_queue_init(&worker.q_tunnel_idle, t->tunnel_idle);
	event_queue_init(&worker.q_linger, LINGER_MS);
	event_queue_init(&worker.q_sni_wait, SNI_WAIT_MS);
}

/* Signals stay blocked except inside epoll_pwait, so handlers only ever
 * interrupt the wait, never the work. */
static void
init_signals(sigset_t *wait_mask)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block;
	int sigs[] = {SIGQUIT, SIGTERM, SIGINT, SIGUSR1};
	unsigned i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(wait_mask, sigs[i]);
}

/* The Via pseudonym names this host, so a request that comes back
 * through the same proxy can be recognised as a loop. */
static void
set_via(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(worker.via, sizeof(worker.via), "1.1 %s (proxyd)", host);
	worker.via_len = strlen(worker.via);
}

static int
needs_sni(const struct rules *r)
{
	unsigned i;

	if (r->sni_mismatch_deny || r->sni_missing_deny)
		return 1;
	for (i = 0; i < r->n; i++)
		if (r->rule[i].needs & RULE_NEEDS_SNI)
			return 1;
	return 0;
}

/* The rules this worker runs (compiled by the master, shared by fork):
 * its own regex scratch and hit counters, and the rules' time zone. */
static void
init_rules(const struct rules *r, uint64_t *hits)
{
	worker.rules = r;
	if (!r)
		return;
	if (r->time_zone[0])
		setenv("TZ", r->time_zone, 1);
	tzset();
	worker.rules_scratch = rules_scratch_new(r);
	/* hits go to this worker's row of the rules area; a private array
	 * only when there is no area (tests that run a worker alone) */
	worker.rule_hits =
	        hits ? hits : calloc(r->n ? r->n : 1, sizeof(uint64_t));
	worker.own_hits = !hits;
	if (!worker.rules_scratch || !worker.rule_hits) {
		log_error("rules: out of memory");
		exit(1);
	}
	worker.rules_need_sni = needs_sni(r);
}

static void
init_worker(const struct worker_heritage *h)
{
	const struct config *cfg = h->cfg;
	char err[512];
	size_t bufsize = cfg->max_header_size + 4096;
	unsigned i;

	worker.cfg = cfg;
	set_via();
	worker.limits.max_head = cfg->max_header_size;
	worker.limits.max_target = cfg->max_uri_size;
	worker.limits.max_fields = cfg->max_headers;
	stats_slot = h->stats;
	if (event_init() < 0 || dns_init(cfg->resolver, err, sizeof(err)) < 0) {
		log_error("worker start-up: %s", err);
		exit(1);
	}
	init_queues(&cfg->timeouts);
	buf_pool_init(bufsize < 16384 ? 16384 : bufsize, 1024);
	upstream_pool_init();
	if (access_log_open(cfg->access_log, err, sizeof(err)) < 0)
		log_error("access log: %s", err);
	admin_init(h->shm_base, h->shm_size);
	accept_share_init(h->shm_base, h->shm_size, h->slot, h->generation);
	init_rules(h->rules, h->rule_hits);
	if (backend_init(cfg, h->backends_area, h->backend_row) < 0 ||
	    route_init(cfg) < 0) {
		log_error("worker start-up: reverse proxy set-up failed");
		exit(1);
	}
	reverse_init(cfg);
	if (tls_worker_init(h->tls, cfg) < 0) {
		log_error("worker start-up: TLS: out of memory");
		exit(1);
	}
	event_timer_init(&resume_timer, on_resume, NULL);
	for (i = 0; i < cfg->n_listens; i++) {
		listeners[i].fd = h->listen_fds[i];
		listeners[i].cb = on_accept;
		listeners[i].data = (void *)(uintptr_t)&cfg->listens[i];
	}
	set_accepting(1);
}

static void
on_drain_deadline(struct event_timer *t)
{
	(void)t;
	log_warn("drain timeout: closing %u connections", worker.sessions);
	got_term = 1;
}

static void
start_drain(void)
{
	set_accepting(0);
	worker.draining = 1;
	event_timer_init(&drain_timer, on_drain_deadline, NULL);
	event_timer_after(&drain_timer, worker.cfg->timeouts.drain);
	session_drain_all();
}

static void
reopen_logs(void)
{
	char err[512];

	/* In the foreground the error log is the terminal: keep it. */
	if ((log_fd() != STDERR_FILENO &&
	     log_open(worker.cfg->error_log, err, sizeof(err)) < 0) ||
	    access_log_open(worker.cfg->access_log, err, sizeof(err)) < 0)
		log_error("reopening logs: %s", err);
}

static void __attribute__((noreturn)) finish(int code)
{
	unsigned i;

	session_close_all();
	access_log_close();
	upstream_pool_fini();
	route_fini();
	backend_fini();
	tls_worker_fini();
	dns_fini();
	rules_scratch_free(worker.rules_scratch);
	if (worker.own_hits)
		free(worker.rule_hits);
	for (i = 0; i < worker.cfg->n_listens; i++)
		close(listeners[i].fd);
	event_fini();
	buf_pool_fini();
	exit(code);
}

/* Tells readers this worker's loop is turning (at most once a second). */
static void
beat(uint64_t *heartbeat)
{
	static uint64_t last;

	if (!heartbeat || event_now() - last < 1000)
		return;
	last = event_now();
	__atomic_store_n(heartbeat, clock_unix_ms(), __ATOMIC_RELAXED);
}

void
worker_main(const struct worker_heritage *h)
{
	sigset_t wait_mask;
	char role[32];

	snprintf(role, sizeof(role), "worker %u", h->slot);
	log_set_role(role);
	init_signals(&wait_mask);
	init_worker(h);
	if (privileges_drop(h->uid, h->gid) < 0)
		exit(1);
	set_core_dumps(worker.cfg->core_dumps);
	/* After setuid, which clears it: die with the master. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != h->master_pid)
		finish(1);
	while (!got_term) {
		if (event_run_once(&wait_mask) < 0) {
			log_error("epoll: %s", strerror(errno));
			finish(1);
		}
		session_reap();
		if (got_quit && !worker.draining)
			start_drain();
		if (got_usr1) {
			got_usr1 = 0;
			reopen_logs();
		}
		if (worker.draining && worker.sessions == 0)
			break;
		beat(h->heartbeat);
	}
	finish(0);
}
