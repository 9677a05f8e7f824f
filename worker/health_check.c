/*
 * The health checker: one process (a child of the master, one per
 * configuration generation with backends) checks every server of every
 * backend and writes its state into the backends area, so every worker
 * sees the same state and a server is probed once, not once per worker.
 *
 * Active checks: `check = tcp` (a connect) or `check = METHOD /path` (an
 * HTTP/1.1 request whose status must fall in check_status), every
 * check_interval, each bounded by check_timeout; `fall` failures in a row
 * take a server out, `rise` successes bring it back.  Passive checks:
 * every tick the checker reads the workers' rows, and a server whose
 * requests failed `fall` times in a row in some worker is taken out too;
 * without active checks it is given requests again after check_interval.
 *
 * A small poll(2) loop of its own: a few non-blocking sockets, no
 * traffic, nothing else to serve.
 */
#include "worker/health_check.h"
#include "shm/backends.h"
#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/log.h"
#include "common/privileges.h"
#include "common/sock.h"
#include "worker/proxy_protocol.h"

#define TICK_MS 100
#define RESPONSE_MAX 512

enum probe_state {
	PROBE_IDLE = 0,
	PROBE_CONNECTING,
	PROBE_HANDSHAKE, /* servers marked tls */
	PROBE_SENDING,
	PROBE_READING,
};

struct probe {
	enum probe_state state;
	int fd;
	SSL *ssl;          /* servers marked tls: checked over TLS too */
	short want;        /* the poll events the next step waits for */
	uint64_t next_at;  /* monotonic ms: next check */
	uint64_t deadline; /* monotonic ms: this one fails */
	uint64_t started;
	unsigned runs_ok;  /* successes in a row */
	unsigned runs_bad; /* failures in a row */
	char req[384];
	size_t req_len, sent;
	char resp[RESPONSE_MAX];
	size_t resp_len;
};

static volatile sig_atomic_t stop;
static const struct config *cfg;
static struct shm_server *servers;
static const struct shm_server_row *rows;
static struct shm_backends_header *hdr;
static struct probe *probes;
static const struct tls_set *tls;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static const struct config_backend *
backend_of(unsigned i)
{
	return &cfg->backends[cfg->servers[i].backend];
}

static const char *
result_name(enum shm_check_result r, unsigned status, char *buf, size_t n)
{
	if (r == SHM_CHECK_STATUS)
		snprintf(buf, n, "status %u", status);
	else
		snprintf(buf, n, "%s", shm_check_result_name(r));
	return buf;
}

static void
set_state(unsigned i, enum shm_server_state st, enum shm_check_result why)
{
	struct shm_server *sv = &servers[i];
	char reason[64];

	if (sv->state == (uint32_t)st)
		return;
	__atomic_store_n(&sv->last_change, clock_unix_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&sv->changes, sv->changes + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sv->state, (uint32_t)st, __ATOMIC_RELEASE);
	if (st == SHM_SERVER_DOWN)
		log_warn("backend %s: server %s is down (%s)",
		         backend_of(i)->name, sv->name,
		         result_name(why, sv->last_status, reason,
		                     sizeof(reason)));
	else
		log_info("backend %s: server %s is up", backend_of(i)->name,
		         sv->name);
}

static void
probe_close(struct probe *p)
{
	if (p->ssl) {
		(void)SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	ERR_clear_error();
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->state = PROBE_IDLE;
}

/* A check ended: record it, and move the server up or down. */
static void
probe_done(unsigned i, enum shm_check_result r, unsigned status)
{
	struct probe *p = &probes[i];
	const struct config_backend *b = backend_of(i);
	struct shm_server *sv = &servers[i];
	uint64_t now = clock_mono_ms();

	probe_close(p);
	p->next_at = now + b->check_interval;
	sv->result = r;
	sv->last_status = status;
	sv->last_check = clock_unix_ms();
	sv->check_ms = now - p->started;
	if (r == SHM_CHECK_OK) {
		p->runs_ok++;
		p->runs_bad = 0;
		sv->streak = p->runs_ok;
		if (sv->state == SHM_SERVER_DOWN && p->runs_ok >= b->rise)
			set_state(i, SHM_SERVER_UP, r);
	} else {
		p->runs_bad++;
		p->runs_ok = 0;
		sv->streak = p->runs_bad;
		if (sv->state == SHM_SERVER_UP && p->runs_bad >= b->fall)
			set_state(i, SHM_SERVER_DOWN, r);
	}
}

static void
probe_start(unsigned i)
{
	struct probe *p = &probes[i];
	const struct config_server *cs = &cfg->servers[i];
	const char *check = backend_of(i)->check, *sp;

	p->started = clock_mono_ms();
	p->deadline = p->started + backend_of(i)->check_timeout;
	p->resp_len = p->sent = p->req_len = 0;
	if (strcmp(check, "tcp") != 0 && (sp = strchr(check, ' ')))
		p->req_len = (size_t)snprintf(
		        p->req, sizeof(p->req),
		        "%.*s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
		        "proxyd-health-check\r\nConnection: close\r\n\r\n",
		        (int)(sp - check), check, sp + 1, cs->name);
	if (p->req_len >= sizeof(p->req))
		p->req_len = sizeof(p->req) - 1;
	p->fd = sock_connect((const struct sockaddr *)&cs->addr, cs->addrlen);
	if (p->fd < 0) {
		probe_done(i, SHM_CHECK_REFUSED, 0);
		return;
	}
	p->state = PROBE_CONNECTING;
	p->want = POLLOUT;
}

/* "HTTP/1.x NNN": the status, 0 if not yet, -1 if not HTTP. */
static int
status_of(const struct probe *p)
{
	unsigned st;

	if (p->resp_len < 12)
		return 0;
	if (memcmp(p->resp, "HTTP/1.", 7) != 0 || p->resp[8] != ' ' ||
	    sscanf(p->resp + 9, "%3u", &st) != 1 || st < 100 || st > 599)
		return -1;
	return (int)st;
}

/* One read or write, plain or TLS: bytes, 0 at the end, -1 with errno
 * EAGAIN (p->want says which way) or another error. */
static ssize_t
probe_io(struct probe *p, int writing, void *buf, size_t len)
{
	size_t done = 0;
	int rc;

	if (!p->ssl)
		return writing ? send(p->fd, buf, len, MSG_NOSIGNAL)
		               : recv(p->fd, buf, len, 0);
	rc = writing ? SSL_write_ex(p->ssl, buf, len, &done)
	             : SSL_read_ex(p->ssl, buf, len, &done);
	if (rc == 1)
		return (ssize_t)done;
	switch (SSL_get_error(p->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		p->want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		p->want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static void
probe_read(unsigned i)
{
	struct probe *p = &probes[i];
	const struct config_backend *b = backend_of(i);
	ssize_t n = probe_io(p, 0, p->resp + p->resp_len,
	                     sizeof(p->resp) - p->resp_len);
	int st;

	if (n > 0)
		p->resp_len += (size_t)n;
	st = status_of(p);
	if (st < 0 || (st == 0 && (n == 0 || (n < 0 && errno != EAGAIN))))
		probe_done(i, SHM_CHECK_BAD, 0);
	else if (st > 0)
		probe_done(i,
		           (unsigned)st >= b->check_status_lo &&
		                           (unsigned)st <= b->check_status_hi
		                   ? SHM_CHECK_OK
		                   : SHM_CHECK_STATUS,
		           (unsigned)st);
}

/* Connected: a TLS server's handshake comes next. */
static void
probe_connected(unsigned i)
{
	struct probe *p = &probes[i];
	const struct config_server *cs = &cfg->servers[i];
	enum send_proxy v = backend_of(i)->send_proxy;
	char pp[PROXY_PROTOCOL_WRITE_MAX];
	int n;

	/* a server that wants a PROXY header gets one for the check too:
	 * LOCAL (v2) or UNKNOWN (v1), "the proxy's own connection" */
	if (v != SEND_PROXY_OFF &&
	    ((n = proxy_protocol_write(v == SEND_PROXY_V2 ? 2 : 1, NULL, NULL,
	                               pp, sizeof(pp))) < 0 ||
	     send(p->fd, pp, (size_t)n, MSG_NOSIGNAL) != n)) {
		probe_done(i, SHM_CHECK_REFUSED, 0);
		return;
	}
	if (!cs->tls) {
		p->state = PROBE_SENDING;
		return;
	}
	p->ssl = tls_client_new(tls ? tls->backend[cs->backend] : NULL, cs,
	                        p->fd);
	p->state = PROBE_HANDSHAKE;
}

/* 1 done, 0 waiting (p->want set), -1 failed. */
static int
probe_handshake(struct probe *p)
{
	int rc;

	if (!p->ssl)
		return -1;
	if ((rc = SSL_do_handshake(p->ssl)) == 1)
		return 1;
	switch (SSL_get_error(p->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		p->want = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		p->want = POLLOUT;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* The socket is ready for what the probe is waiting for. */
static void
probe_step(unsigned i)
{
	struct probe *p = &probes[i];
	ssize_t n;
	int rc;

	if (p->state == PROBE_CONNECTING) {
		if (sock_connect_result(p->fd) != 0) {
			probe_done(i, SHM_CHECK_REFUSED, 0);
			return;
		}
		probe_connected(i);
		if (p->state == PROBE_IDLE)
			return;
	}
	if (p->state == PROBE_HANDSHAKE) {
		if ((rc = probe_handshake(p)) <= 0) {
			if (rc < 0)
				probe_done(i, SHM_CHECK_TLS, 0);
			return;
		}
		p->state = PROBE_SENDING;
	}
	if (p->state == PROBE_SENDING && p->req_len == 0) {
		probe_done(i, SHM_CHECK_OK, 0); /* tcp: connected is enough */
		return;
	}
	if (p->state == PROBE_SENDING) {
		p->want = POLLOUT;
		n = probe_io(p, 1, p->req + p->sent, p->req_len - p->sent);
		if (n < 0 && errno != EAGAIN) {
			probe_done(i, SHM_CHECK_REFUSED, 0);
			return;
		}
		if (n > 0)
			p->sent += (size_t)n;
		if (p->sent < p->req_len)
			return;
		p->state = PROBE_READING;
		p->want = POLLIN;
	}
	if (p->state == PROBE_READING)
		probe_read(i);
}

/* A server whose requests failed `fall` times in a row, in some worker,
 * since its last change: out, for every worker. */
static void
passive(unsigned i)
{
	struct shm_server *sv = &servers[i];
	const struct config_backend *b = backend_of(i);
	unsigned r;

	if (sv->state == SHM_SERVER_DOWN) {
		/* without active checks, nothing else would bring it back */
		if (strcmp(b->check, "off") == 0 &&
		    clock_unix_ms() >= sv->last_change + b->check_interval) {
			sv->result = SHM_CHECK_NONE;
			set_state(i, SHM_SERVER_UP, SHM_CHECK_NONE);
		}
		return;
	}
	for (r = 0; r < hdr->n_rows; r++) {
		const struct shm_server_row *x =
		        &rows[(size_t)r * hdr->n_servers + i];

		if (shm_row_failing(x, b->fall, sv->last_change)) {
			sv->result = SHM_CHECK_PASSIVE;
			sv->last_status = 0;
			probes[i].runs_ok = 0;
			set_state(i, SHM_SERVER_DOWN, SHM_CHECK_PASSIVE);
			return;
		}
	}
}

static void
tick(struct pollfd *pfd, unsigned *map)
{
	uint64_t now = clock_mono_ms();
	unsigned i, n = 0;
	int wait = TICK_MS, rc;

	for (i = 0; i < cfg->n_servers; i++) {
		struct probe *p = &probes[i];

		if (strcmp(backend_of(i)->check, "off") == 0)
			continue;
		if (p->state == PROBE_IDLE && now >= p->next_at)
			probe_start(i);
		if (p->state != PROBE_IDLE && now >= p->deadline)
			probe_done(i, SHM_CHECK_TIMEOUT, 0);
		if (p->state == PROBE_IDLE)
			continue;
		pfd[n].fd = p->fd;
		pfd[n].events = p->want;
		map[n++] = i;
		if (p->deadline - now < (uint64_t)wait)
			wait = (int)(p->deadline - now);
	}
	rc = poll(pfd, n, wait);
	for (i = 0; rc > 0 && i < n; i++)
		if (pfd[i].revents)
			probe_step(map[i]);
	for (i = 0; i < cfg->n_servers; i++)
		passive(i);
	__atomic_store_n(&hdr->checker_heartbeat, clock_unix_ms(),
	                 __ATOMIC_RELAXED);
}

void
health_check_main(const struct health_check_heritage *h)
{
	struct sigaction sa = {.sa_handler = on_term};
	struct pollfd *pfd;
	unsigned *map, i;
	sigset_t all;

	prctl(PR_SET_NAME, "proxyd-health");
	log_set_role("health");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* the master blocks its signals for its signalfd; ours must reach
	 * their handlers (and the parent-death one must arrive at all) */
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (privileges_drop(h->uid, h->gid) < 0)
		_exit(1);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != h->master_pid)
		_exit(0); /* the master died before we could watch it */
	cfg = h->cfg;
	tls = h->tls;
	hdr = h->area;
	servers = (struct shm_server *)((char *)h->area + hdr->servers_off);
	rows = (const struct shm_server_row *)((const char *)h->area +
	                                       hdr->rows_off);
	hdr->checker_pid = getpid();
	probes = calloc(cfg->n_servers, sizeof(*probes));
	pfd = calloc(cfg->n_servers + 1, sizeof(*pfd));
	map = calloc(cfg->n_servers + 1, sizeof(*map));
	if (!probes || !pfd || !map) {
		log_error("health checker: out of memory");
		_exit(1);
	}
	for (i = 0; i < cfg->n_servers; i++) {
		probes[i].fd = -1;
		/* spread the first checks over the interval */
		probes[i].next_at =
		        clock_mono_ms() + (backend_of(i)->check_interval * i /
		                           (cfg->n_servers + 1)) %
		                                  1000;
	}
	while (!stop)
		tick(pfd, map);
	for (i = 0; i < cfg->n_servers; i++)
		probe_close(&probes[i]);
	free(probes);
	free(pfd);
	free(map);
	_exit(0);
}
