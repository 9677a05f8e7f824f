/*
 * CONNECT tunnels: after "200 Connection established" the bytes of each
 * side are written to the other straight from the buffer they were read
 * into.  A half-close is passed on (shutdown of the write side) so
 * protocols that signal the end of a message by closing still work.
 */
#include "worker/session.h"

#include <sys/socket.h>

#include "common/log.h"
#include "worker/stats.h"
#include "worker/worker.h"

#define ESTABLISHED "HTTP/1.1 200 Connection established\r\n\r\n"

void
tunnel_start(struct session *s)
{
	struct buf *out = side_out(&s->cli);

	if (!out) {
		http_error_send(s, 503, "out of memory");
		return;
	}
	buf_append(out, ESTABLISHED, sizeof(ESTABLISHED) - 1);
	buf_consume(s->cli.in, s->req.head_len);
	s->state = SESSION_TUNNEL;
	s->status = 200;
	s->resp_started = 1;
	http_count_status(200);
	STATS_INC(tunnels);
	STATS_INC(tunnels_active);
	session_set_timer(s, &worker.q_tunnel_idle);
}

static int
pending(const struct buf *b)
{
	return b && buf_len(b) > 0;
}

/* Passes on an EOF once everything before it has been written. */
static void
half_close(struct side *from, struct side *to, const struct buf *queued)
{
	if (from->eof && !pending(queued) && !to->shut) {
		shutdown(to->io.fd, SHUT_WR);
		to->shut = 1;
	}
}

int
tunnel_step(struct session *s)
{
	int p = 0;

	p |= side_read(&s->cli, 0);
	p |= side_write(&s->up, s->cli.in, 1);
	p |= side_read(&s->up, 1);
	if (pending(s->cli.out))
		p |= side_write(&s->cli, s->cli.out, 0);
	if (!pending(s->cli.out))
		p |= side_write(&s->cli, s->up.in, 0);
	if (s->cli.failed || s->up.failed) {
		access_log_write(s);
		session_close(s);
		return 0;
	}
	half_close(&s->cli, &s->up, s->cli.in);
	if (!pending(s->cli.out))
		half_close(&s->up, &s->cli, s->up.in);
	if (s->cli.shut && s->up.shut) {
		access_log_write(s);
		session_close(s);
		return 0;
	}
	if (p)
		session_set_timer(s, &worker.q_tunnel_idle);
	return p;
}
