/*
 * Moving bytes between a session's sockets and its buffers.  Sockets are
 * edge-triggered: `readable`/`writable` stay set until a call meets EAGAIN,
 * so the run loop can stop for back-pressure and resume without an event.
 */
#include "worker/session.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker/event.h"
#include "worker/stats.h"

void
side_count_in(int upstream, size_t n)
{
	if (upstream)
		STATS_ADD(bytes_from_upstreams, n);
	else
		STATS_ADD(bytes_from_clients, n);
}

void
side_count_out(int upstream, size_t n)
{
	if (upstream)
		STATS_ADD(bytes_to_upstreams, n);
	else
		STATS_ADD(bytes_to_clients, n);
}

/* Reads once into sd->in.  1 if something changed (bytes, EOF, error). */
int
side_read(struct side *sd, int upstream)
{
	ssize_t n;

	if (!sd->readable || sd->eof || sd->io.fd < 0)
		return 0;
	if (!sd->in && !(sd->in = buf_get()))
		return 0;
	if (buf_space(sd->in) == 0)
		buf_compact(sd->in);
	if (buf_space(sd->in) == 0)
		return 0;
	n = sd->ssl ? tls_read(sd, buf_tail(sd->in), buf_space(sd->in))
	            : read(sd->io.fd, buf_tail(sd->in), buf_space(sd->in));
	if (n > 0) {
		/* A short read took all there was: the next bytes bring a
		 * new edge, so no read is spent to meet EAGAIN.  Not after
		 * a close was reported (its edge is spent), nor with TLS
		 * (OpenSSL reads a record at a time). */
		if ((size_t)n < buf_space(sd->in) && !sd->hup && !sd->ssl)
			sd->readable = 0;
		sd->in->end += (size_t)n;
		sd->nread += (uint64_t)n;
		if (!sd->uncounted)
			side_count_in(upstream, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		sd->readable = 0;
		return 0;
	}
	if (n < 0)
		sd->failed = 1;
	sd->eof = 1;
	sd->readable = 0;
	return 1;
}

/* Writes up to max bytes of `from`, as many as the socket takes.  1 if
 * bytes moved or the socket failed. */
int
side_write_max(struct side *sd, struct buf *from, size_t max, int upstream)
{
	size_t len;
	int moved = 0;
	ssize_t n;

	while (from && (len = buf_len(from)) && max && sd->writable &&
	       !sd->failed) {
		n = sd->ssl ? tls_write(sd, buf_head(from),
		                        len < max ? len : max)
		            : send(sd->io.fd, buf_head(from),
		                   len < max ? len : max, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(from, (size_t)n);
			max -= (size_t)n;
			sd->nwritten += (uint64_t)n;
			if (!sd->uncounted)
				side_count_out(upstream, (size_t)n);
			moved = 1;
		} else if (n < 0 && errno == EINTR) {
			if (sd->ssl)
				break; /* TLS wants to read first */
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			sd->writable = 0;
		} else {
			sd->failed = 1;
			moved = 1;
		}
	}
	return moved;
}

int
side_write(struct side *sd, struct buf *from, int upstream)
{
	return side_write_max(sd, from, SIZE_MAX, upstream);
}

struct buf *
side_out(struct side *sd)
{
	if (!sd->out)
		sd->out = buf_get();
	return sd->out;
}

/* Gives empty buffers back to the pool: idle connections hold none. */
void
side_release_empty(struct side *sd)
{
	if (sd->in && buf_len(sd->in) == 0) {
		buf_put(sd->in);
		sd->in = NULL;
	}
	if (sd->out && buf_len(sd->out) == 0) {
		buf_put(sd->out);
		sd->out = NULL;
	}
}

static void
side_reset(struct side *sd, int fd, void *owner)
{
	sd->io.fd = fd;
	sd->io.data = owner;
	sd->io.events = 0;
	sd->readable = sd->writable = 0;
	sd->eof = sd->shut = sd->failed = sd->hup = 0;
	sd->tls_error = 0;
	sd->nread = sd->nwritten = 0;
}

int
side_attach(struct side *sd, int fd, void *owner)
{
	side_reset(sd, fd, owner);
	return event_add(&sd->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

/* An fd already in the epoll set (from the pool): one MOD re-points its
 * registration here (and re-arms the edges). */
int
side_adopt(struct side *sd, int fd, void *owner)
{
	side_reset(sd, fd, owner);
	return event_mod(&sd->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

/* Our sending direction is over: close_notify first on TLS. */
void
side_shutdown_write(struct side *sd)
{
	tls_shutdown_write(sd);
	shutdown(sd->io.fd, SHUT_WR);
	sd->shut = 1;
}

void
side_close(struct side *sd)
{
	tls_side_free(sd);
	if (sd->io.fd >= 0) {
		event_del(&sd->io);
		close(sd->io.fd);
		sd->io.fd = -1;
	}
	buf_put(sd->in);
	buf_put(sd->out);
	sd->in = sd->out = NULL;
	sd->readable = sd->writable = 0;
}
