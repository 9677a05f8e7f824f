/*
 * Session life cycle and run loop.  An event only records readiness; the
 * run loop then moves bytes and advances the state until nothing more can
 * happen, so every state transition is driven from one place.
 */
#include "worker/session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/event.h"
#include "worker/stats.h"
#include "worker/worker.h"

#define SESSION_FROM_IO(io) ((struct session *)(io)->data)

static struct session *live; /* open sessions */
static struct session *dead; /* closed, freed after the event batch */

static void on_client_io(struct event_io *io, uint32_t ev);
static void on_upstream_io(struct event_io *io, uint32_t ev);
static void on_timer(struct event_timer *t);

static void
mark_ready(struct side *sd, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		sd->readable = 1;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		sd->hup = 1;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		sd->writable = 1;
}

static void
list_add(struct session **head, struct session *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void
list_del(struct session **head, struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

struct session *
session_accept(int fd, const struct sockaddr_storage *peer,
               const struct config_listen *l)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->magic = SESSION_MAGIC;
	s->listen = l;
	s->peer = *peer;
	s->cli.io.cb = on_client_io;
	s->up.io.cb = on_upstream_io;
	s->up.io.fd = -1;
	s->pipes[0].rd = s->pipes[0].wr = s->pipes[1].rd = s->pipes[1].wr = -1;
	event_timer_init(&s->timer, on_timer, s);
	s->cli.uncounted = !session_counted(s);
	s->pp_done = !l->proxy_protocol;
	if (side_attach(&s->cli, fd, s) < 0) {
		close(fd);
		free(s);
		return NULL;
	}
	list_add(&live, s);
	worker.sessions++;
	if (session_counted(s)) {
		STATS_INC(conn_accepted);
		STATS_INC(conn_active);
	}
	session_next_request(s);
	/* A new connection gets client_header to send its first request
	 * (and, on a TLS listener, to finish its handshake first). */
	session_set_timer(s, &worker.q_client_header);
	if (l->tls && tls_accept_begin(s) < 0)
		session_close(s);
	return s;
}

void
session_set_timer(struct session *s, struct event_timer_queue *q)
{
	event_timer_start(&s->timer, q);
}

void
session_next_request(struct session *s)
{
	free(s->log_req);
	s->log_req = NULL;
	/* Between requests a connection holds no parse state either. */
	free(s->fields);
	s->fields = NULL;
	s->state = SESSION_IDLE;
	s->tunnel = s->up_reused = s->resp_started = 0;
	s->tunnel_counted = 0;
	s->req_abandoned = s->logged = s->no_pool = 0;
	s->has_denial = s->dst_none = s->sni_known = s->sni_wait = 0;
	s->dst_pending = s->expect_answered = 0;
	s->backend = s->server = -1;
	s->attempts = 0;
	s->upgrade = 0;
	memset(s->tried, 0, sizeof(s->tried));
	s->sni[0] = '\0';
	s->user[0] = '\0';
	free(s->retry_head);
	s->retry_head = NULL;
	free(s->head_copy);
	s->head_copy = NULL;
	buf_put(s->scan);
	buf_put(s->prefix);
	buf_put(s->cprefix);
	buf_put(s->held);
	s->scan = s->prefix = s->cprefix = s->held = NULL;
	s->resp_head_done = s->req_sent = 0;
	s->keep_client = 0;
	s->status = 0;
	s->cli.nread = s->cli.in ? buf_len(s->cli.in) : 0;
	s->cli.nwritten = 0;
	s->addr_next = s->addrs.n = 0;
	memset(&s->up_addr, 0, sizeof(s->up_addr));
	session_set_timer(s, &worker.q_client_idle);
}

void
session_close(struct session *s)
{
	if (s->state == SESSION_CLOSED)
		return;
	if (s->log_req && !s->logged)
		access_log_write(s); /* aborted: still on the record */
	if (s->dnsq)
		dns_cancel(s->dnsq);
	s->dnsq = NULL;
	if (s->tunnel_counted)
		STATS_DEC(tunnels_active);
	tunnel_close_pipes(s);
	side_close(&s->cli);
	upstream_close(s);
	event_timer_stop(&s->timer);
	s->state = SESSION_CLOSED;
	list_del(&live, s);
	list_add(&dead, s);
	worker.sessions--;
	if (session_counted(s))
		STATS_DEC(conn_active);
	worker_session_closed();
}

/* Stop sending, then read and drop what the client still sends until it
 * closes: closing with unread input would reset the connection and could
 * destroy the response before the client reads it. */
void
session_end(struct session *s)
{
	upstream_close(s);
	s->state = SESSION_ERROR;
	session_set_timer(s, &worker.q_linger);
}

static int
step_linger(struct session *s)
{
	int progress = 0;

	if (s->state == SESSION_ERROR) {
		progress = side_write(&s->cli, s->cli.out, 0);
		if (s->cli.failed) {
			session_close(s);
			return 0;
		}
		if (s->cli.out && buf_len(s->cli.out))
			return progress;
		side_shutdown_write(&s->cli);
		s->state = SESSION_LINGER;
	}
	while (side_read(&s->cli, 0))
		if (s->cli.in)
			buf_consume(s->cli.in, buf_len(s->cli.in));
	if (s->cli.eof)
		session_close(s);
	return 0;
}

static int
begin_request(struct session *s)
{
	s->fields = calloc(worker.limits.max_fields, sizeof(*s->fields));
	if (!s->fields) {
		session_close(s);
		return -1;
	}
	http_msg_init(&s->req, s->fields, &worker.limits);
	s->state = SESSION_HEAD;
	s->started = event_now();
	session_set_timer(s, &worker.q_client_header);
	return 0;
}

static int
step_head(struct session *s)
{
	int progress = side_read(&s->cli, 0);
	enum http_rc rc;

	if (!s->cli.in || buf_len(s->cli.in) == 0) {
		if (s->cli.eof)
			session_close(s);
		return 0;
	}
	if (!s->pp_done && client_proxy_read(s) <= 0)
		return 0;
	if (buf_len(s->cli.in) == 0)
		return progress;
	if (s->state == SESSION_IDLE && begin_request(s) < 0)
		return 0;
	rc = http_parse_request(&s->req, buf_head(s->cli.in),
	                        buf_len(s->cli.in));
	if (rc == HTTP_OK) {
		proxy_request_ready(s);
		return 1;
	}
	if (rc == HTTP_ERROR)
		http_error_send(s, s->req.error, s->req.error_reason);
	else if (s->cli.eof)
		session_close(s); /* gave up mid-head */
	return rc == HTTP_ERROR ? 1 : progress;
}

static int
step(struct session *s)
{
	switch (s->state) {
	case SESSION_IDLE:
	case SESSION_HEAD:
		return step_head(s);
	case SESSION_HANDSHAKE:
		return tls_handshake_step(s);
	case SESSION_CONNECTING:
		return upstream_connect_step(s);
	case SESSION_SCAN:
		return content_scan_request_step(s);
	case SESSION_PROXYING:
		return proxy_step(s);
	case SESSION_TUNNEL:
		return tunnel_step(s);
	case SESSION_ERROR:
	case SESSION_LINGER:
		return step_linger(s);
	case SESSION_RESOLVING:
	case SESSION_CLOSED:
		break;
	}
	return 0;
}

void
session_run(struct session *s)
{
	enum session_state before;
	int progress;

	/* Until nothing moves: a step that only changed the state (say, to
	 * ERROR with a page queued) still leaves work for the next one. */
	do {
		before = s->state;
		progress = step(s);
	} while (s->state != SESSION_CLOSED &&
	         (progress || s->state != before));
	if (s->state != SESSION_CLOSED) {
		side_release_empty(&s->cli);
		side_release_empty(&s->up);
	}
}

/* While the request waits on the origin nobody reads the client: a
 * client that hung up is noticed here, as nginx does, instead of when
 * the answer finally comes (or times out). */
static int
client_gone(struct session *s, uint32_t ev)
{
	char c;
	ssize_t n;

	if (!(ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
	    !(s->state == SESSION_RESOLVING || s->state == SESSION_CONNECTING ||
	      (s->state == SESSION_PROXYING && s->reqb.done &&
	       !s->resp_started)))
		return 0;
	n = recv(s->cli.io.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void
on_client_io(struct event_io *io, uint32_t ev)
{
	struct session *s = SESSION_FROM_IO(io);

	if (io->fd < 0 || s->state == SESSION_CLOSED)
		return;
	mark_ready(&s->cli, ev);
	if (client_gone(s, ev)) {
		s->status = 499; /* nginx's "client closed request" */
		session_close(s);
		return;
	}
	session_run(s);
}

static void
on_upstream_io(struct event_io *io, uint32_t ev)
{
	struct session *s = SESSION_FROM_IO(io);

	if (io->fd < 0 || s->state == SESSION_CLOSED)
		return;
	mark_ready(&s->up, ev);
	session_run(s);
}

static void
on_timer(struct event_timer *t)
{
	struct session *s = t->data;

	switch (s->state) {
	case SESSION_IDLE:
		STATS_INC(timeouts_client_idle);
		session_close(s);
		return;
	case SESSION_HANDSHAKE:
		tls_handshake_timeout(s);
		return;
	case SESSION_HEAD:
		STATS_INC(timeouts_client_header);
		http_error_send(s, 408, "request head not received in time");
		break;
	case SESSION_ERROR:
	case SESSION_LINGER:
		session_close(s);
		return;
	case SESSION_TUNNEL:
		if (s->sni_wait) {
			tunnel_sni_timeout(s);
			break;
		}
		proxy_timeout(s);
		break;
	default:
		proxy_timeout(s);
		break;
	}
	if (s->state != SESSION_CLOSED)
		session_run(s);
}

void
session_reap(void)
{
	struct session *s;

	while ((s = dead) != NULL) {
		dead = s->next;
		free(s->log_req);
		free(s->retry_head);
		free(s->head_copy);
		buf_put(s->scan);
		buf_put(s->prefix);
		buf_put(s->cprefix);
		buf_put(s->held);
		free(s->fields);
		s->magic = 0;
		free(s);
	}
}

/* Graceful stop: idle connections close now, busy ones after their
 * current response (which then says Connection: close). */
void
session_drain_all(void)
{
	struct session *s, *next;

	for (s = live; s; s = next) {
		next = s->next;
		/* a connection that has not sent its first request yet gets
		 * it served (with Connection: close), not refused */
		if (s->state != SESSION_IDLE || !s->served)
			continue;
		/* A request may be waiting unread in the socket: serve it. */
		s->cli.readable = 1;
		session_run(s);
		if (s->state == SESSION_IDLE)
			session_close(s);
	}
}

void
session_close_all(void)
{
	while (live)
		session_close(live);
	session_reap();
}
