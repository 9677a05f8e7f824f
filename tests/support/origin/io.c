/*
 * The test origin's connection I/O (see origin.h): the same calls over a
 * plain socket or TLS, an input buffer that holds at most one request head,
 * and a lingering close.  Sockets are blocking with timeouts, set by
 * origin.c, so no call here waits for ever.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <openssl/ssl.h>

#include "tests/support/origin/origin.h"

int64_t
origin_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
origin_sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- connection I/O ------------------------------------------------ */

ssize_t
origin_conn_read(struct origin_conn *c, void *buf, size_t len)
{
	ssize_t n;
	int r;

	if (len > INT_MAX)
		len = INT_MAX;
	if (c->ssl == NULL) {
		do
			n = read(c->fd, buf, len);
		while (n < 0 && errno == EINTR);
		return n;
	}
	r = SSL_read(c->ssl, buf, (int)len);
	if (r > 0)
		return r;
	return SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

int
origin_conn_write(struct origin_conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if (c->ssl != NULL)
			n = SSL_write(c->ssl, p,
			              len > INT_MAX ? INT_MAX : (int)len);
		else
			n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno == EINTR && c->ssl == NULL)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
origin_conn_printf(struct origin_conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return origin_conn_write(c, buf, (size_t)n);
}

/* Reads more into in[], moving unconsumed bytes to the front first.
 * >0 bytes read, 0 EOF, -1 error or full. */
ssize_t
origin_conn_fill(struct origin_conn *c)
{
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->in, c->in + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->in))
		return -1;
	n = origin_conn_read(c, c->in + c->len, sizeof(c->in) - c->len);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

/* Buffered bytes first, else straight from the socket into buf. */
ssize_t
origin_conn_read_some(struct origin_conn *c, char *buf, size_t len)
{
	size_t n = c->len - c->pos;

	if (n == 0)
		return origin_conn_read(c, buf, len);
	if (n > len)
		n = len;
	memcpy(buf, c->in + c->pos, n);
	c->pos += n;
	return (ssize_t)n;
}

/* A CRLF-terminated line (CRLF stripped, NUL-terminated) of at most
 * ORIGIN_LINE_MAX bytes.  0 or -1. */
int
origin_conn_line(struct origin_conn *c, char *line)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->in + c->pos, '\n', c->len - c->pos);
		if (nl != NULL)
			break;
		if (c->len - c->pos >= ORIGIN_LINE_MAX ||
		    origin_conn_fill(c) <= 0)
			return -1;
	}
	n = (size_t)(nl - (c->in + c->pos));
	if (n == 0 || nl[-1] != '\r' || n > ORIGIN_LINE_MAX)
		return -1;
	memcpy(line, c->in + c->pos, n - 1);
	line[n - 1] = '\0';
	c->pos += n + 1;
	return 0;
}

/* An abrupt end on purpose (faults.c): no lingering. */
static void
close_abruptly(struct origin_conn *c)
{
	struct linger lg = {1, 0};

	SSL_free(c->ssl);
	if (c->close_how == ORIGIN_CLOSE_RESET)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	free(c);
}

/* Lingering close, so a reply is not destroyed by a reset (unless an
 * endpoint asked for an abrupt end). */
void
origin_conn_finish(struct origin_conn *c)
{
	struct timeval tv = {1, 0};
	char buf[4096];
	int64_t end = origin_now_ms() + 2000;

	if (c->close_how != ORIGIN_CLOSE_LINGER) {
		close_abruptly(c);
		return;
	}
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	shutdown(c->fd, SHUT_WR);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (origin_now_ms() < end && read(c->fd, buf, sizeof(buf)) > 0)
		;
	close(c->fd);
	free(c);
}
