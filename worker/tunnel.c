/*
 * CONNECT tunnels: after "200 Connection established" the bytes of each
 * side are written to the other straight from the buffer they were read
 * into.  Once a direction has carried SPLICE_AFTER bytes it switches to
 * splice(2) through a pipe, so long transfers never cross user space;
 * short tunnels never pay for the pipe.  A half-close is passed on
 * (shutdown of the write side) so protocols that end a message by closing
 * still work.
 */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/stats.h"
#include "worker/worker.h"

#define ESTABLISHED "HTTP/1.1 200 Connection established\r\n\r\n"
#define SPLICE_AFTER (128 * 1024)
#define PIPE_BYTES 65536 /* a pipe's default capacity */
#define PIPE_FAILED (-2)

void
tunnel_start(struct session *s)
{
	struct buf *out;

	if (s->resp_started) { /* the 200 went first: SNI rules decided */
		s->state = SESSION_TUNNEL;
		session_set_timer(s, &worker.q_tunnel_idle);
		return;
	}
	if (!(out = side_out(&s->cli))) {
		http_error_send(s, 503, "out of memory");
		return;
	}
	buf_append(out, ESTABLISHED, sizeof(ESTABLISHED) - 1);
	/* Rules on the TLS server name: read the ClientHello before any
	 * byte goes upstream; the CONNECT head stays for header rules. */
	s->sni_wait = worker.rules &&
	              (worker.rules_need_sni || s->rverdict == RULES_NEED_SNI);
	if (!s->sni_wait)
		buf_consume(s->cli.in, s->req.head_len);
	s->state = SESSION_TUNNEL;
	s->status = 200;
	s->resp_started = 1;
	http_count_status(200);
	STATS_INC(tunnels);
	STATS_INC(tunnels_active);
	s->tunnel_counted = 1;
	session_set_timer(s, s->sni_wait ? &worker.q_sni_wait
	                                 : &worker.q_tunnel_idle);
}

void
tunnel_close_pipes(struct session *s)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (s->pipes[i].rd >= 0) {
			close(s->pipes[i].rd);
			close(s->pipes[i].wr);
		}
		s->pipes[i].rd = s->pipes[i].wr = -1;
	}
}

static int
pending(const struct buf *b)
{
	return b && buf_len(b) > 0;
}

/* Switches a direction to splice once it has proven long-lived. */
static void
maybe_pipe(struct splice_pipe *pp, const struct side *from)
{
	int fds[2];

	if (pp->rd != -1 || from->nread < SPLICE_AFTER || pending(from->in))
		return;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		pp->rd = PIPE_FAILED; /* out of fds: keep copying */
		return;
	}
	pp->rd = fds[0];
	pp->wr = fds[1];
}

static int
splice_in(struct side *from, struct splice_pipe *pp, int from_up)
{
	ssize_t n;

	if (!from->readable || from->eof || pp->bytes >= PIPE_BYTES)
		return 0;
	n = splice(from->io.fd, NULL, pp->wr, NULL, PIPE_BYTES - pp->bytes,
	           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		pp->bytes += (size_t)n;
		from->nread += (uint64_t)n;
		side_count_in(from_up, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		from->readable = 0;
		return 0;
	}
	if (n < 0)
		from->failed = 1;
	from->eof = 1;
	from->readable = 0;
	return 1;
}

static int
splice_out(struct splice_pipe *pp, struct side *to, int to_up)
{
	ssize_t n;

	if (!pp->bytes || !to->writable || to->failed)
		return 0;
	n = splice(pp->rd, NULL, to->io.fd, NULL, pp->bytes,
	           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		pp->bytes -= (size_t)n;
		to->nwritten += (uint64_t)n;
		side_count_out(to_up, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		to->writable = 0;
		return 0;
	}
	to->failed = 1;
	return 1;
}

/* One direction: buffered until it pays to splice, then spliced. */
static int
move(struct side *from, struct side *to, struct splice_pipe *pp, int to_up)
{
	int p = 0;

	if (pp->rd < 0 || pending(from->in)) {
		p |= side_read(from, !to_up);
		p |= side_write(to, from->in, to_up);
		/* TLS bytes must pass through OpenSSL: never spliced */
		if (!from->ssl && !to->ssl)
			maybe_pipe(pp, from);
		if (pp->rd < 0 || pending(from->in))
			return p;
	}
	p |= splice_in(from, pp, !to_up);
	p |= splice_out(pp, to, to_up);
	return p;
}

/* Passes on an EOF once everything before it has been written. */
static void
half_close(struct side *from, struct side *to, const struct splice_pipe *pp)
{
	if (from->eof && !pending(from->in) && !pp->bytes && !to->shut) {
		side_shutdown_write(to);
	}
}

static void
finish(struct session *s)
{
	access_log_write(s);
	session_close(s);
}

static int sni_decide(struct session *s);

/* Waits for the ClientHello, then lets the rules judge its SNI. */
static int
sni_step(struct session *s)
{
	const uint8_t *data;
	enum sni_result r;
	size_t len;
	int p = 0;

	if (pending(s->cli.out))
		p |= side_write(&s->cli, s->cli.out, 0);
	p |= side_read(&s->cli, 0);
	len = s->cli.in ? buf_len(s->cli.in) - s->req.head_len : 0;
	data = len ? (const uint8_t *)buf_head(s->cli.in) + s->req.head_len
	           : (const uint8_t *)"";
	r = sni_parse(data, len, s->sni, sizeof(s->sni));
	if (r == SNI_AGAIN && !s->cli.eof &&
	    !(s->cli.in && buf_space(s->cli.in) == 0 && s->cli.in->start == 0))
		return p;
	if (r != SNI_FOUND)
		s->sni[0] = '\0';
	return sni_decide(s);
}

/* The ClientHello was read (or will not come): the rules decide. */
static int
sni_decide(struct session *s)
{
	if (access_rules_sni(s) < 0) {
		finish(s);
		return 0;
	}
	buf_consume(s->cli.in, s->req.head_len);
	s->sni_wait = 0;
	session_set_timer(s, &worker.q_tunnel_idle);
	if (s->up.io.fd < 0)
		upstream_start(s); /* allowed: connect only now */
	return 1;
}

/* The client sent nothing: a protocol where the server speaks first
 * (SMTP, SSH) has no ClientHello to wait for.  Judged as "no SNI". */
void
tunnel_sni_timeout(struct session *s)
{
	s->sni[0] = '\0';
	(void)sni_decide(s);
}

int
tunnel_step(struct session *s)
{
	int p = 0;

	if (s->sni_wait)
		return sni_step(s);

	p |= move(&s->cli, &s->up, &s->pipes[0], 1);
	if (pending(s->cli.out)) /* the 200 goes first */
		p |= side_write(&s->cli, s->cli.out, 0);
	if (!pending(s->cli.out))
		p |= move(&s->up, &s->cli, &s->pipes[1], 0);
	if (s->cli.failed || s->up.failed) {
		finish(s);
		return 0;
	}
	half_close(&s->cli, &s->up, &s->pipes[0]);
	if (!pending(s->cli.out))
		half_close(&s->up, &s->cli, &s->pipes[1]);
	if (s->cli.shut && s->up.shut) {
		finish(s);
		return 0;
	}
	if (p)
		session_set_timer(s, &worker.q_tunnel_idle);
	return p;
}
