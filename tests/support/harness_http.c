/*
 * Integration test kit (see harness.h), the raw HTTP/1.1 client: a blocking
 * connection to a loopback port, requests sent byte for byte as the test
 * wrote them, and responses read strictly (Content-Length, chunked or
 * close-delimited) so that a proxy's framing mistakes show.  Every read is
 * bounded by a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/socket.h>

#include "tests/support/harness.h"
#include "tests/support/harness_int.h"

/* ---- raw-socket client --------------------------------------------- */

int
harness_conn_open(struct harness_conn *c, int port)
{
	c->len = c->pos = 0;
	c->fd = harness_connect_port(port, HARNESS_WAIT_MS);
	return c->fd < 0 ? -1 : 0;
}

void
harness_conn_close(struct harness_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int
harness_conn_send(struct harness_conn *c, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
harness_conn_sendf(struct harness_conn *c, const char *fmt, ...)
{
	char buf[65536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return harness_conn_send(c, buf, (size_t)n);
}

/* Reads more bytes into c->buf before the deadline: >0, 0 on EOF (or a
 * reset), -1 on timeout or a full buffer. */
static ssize_t
conn_fill(struct harness_conn *c, int64_t deadline)
{
	struct pollfd pfd = {c->fd, POLLIN, 0};
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	for (;;) {
		if (poll(&pfd, 1, harness_left_ms(deadline)) == 0)
			return -1;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNRESET)
			return -1;
		if (n <= 0)
			return 0;
		c->len += (size_t)n;
		return n;
	}
}

static void resp_error(struct harness_resp *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
resp_error(struct harness_resp *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void
resp_append(struct harness_resp *r, const char *data, size_t n)
{
	size_t keep = n, cap;
	char *b;

	r->body_total += n;
	if (r->body_len + keep > HARNESS_BODY_CAP)
		keep = HARNESS_BODY_CAP - r->body_len;
	cap = 4096;
	while (cap < r->body_len + keep + 1)
		cap *= 2;
	b = realloc(r->body, cap);
	if (b == NULL)
		return;
	r->body = b;
	memcpy(r->body + r->body_len, data, keep);
	r->body_len += keep;
	r->body[r->body_len] = '\0';
}

static int
read_head(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	char *end;
	size_t n;
	ssize_t k;

	for (;;) {
		end = memmem(c->buf + c->pos, c->len - c->pos, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		k = conn_fill(c, deadline);
		if (k <= 0) {
			resp_error(r, "%s after %zu bytes of head",
			           k == 0 ? "closed" : "timed out",
			           c->len - c->pos);
			return -1;
		}
	}
	n = (size_t)(end + 4 - (c->buf + c->pos));
	if (n >= sizeof(r->head)) {
		resp_error(r, "head of %zu bytes", n);
		return -1;
	}
	memcpy(r->head, c->buf + c->pos, n);
	r->head[n] = '\0';
	r->head_len = n;
	c->pos += n;
	if (sscanf(r->head, "HTTP/1.%d %3d", &r->minor, &r->status) != 2) {
		resp_error(r, "bad status line: %.80s", r->head);
		return -1;
	}
	return 0;
}

/* Exactly n bytes of body (n may be huge: not all kept). */
static int
read_len(struct harness_conn *c, struct harness_resp *r, uint64_t n,
         int64_t deadline)
{
	size_t k;

	while (n > 0) {
		if (c->pos == c->len && conn_fill(c, deadline) <= 0) {
			resp_error(r, "body ended %llu bytes short",
			           (unsigned long long)n);
			return -1;
		}
		k = c->len - c->pos < n ? c->len - c->pos : (size_t)n;
		resp_append(r, c->buf + c->pos, k);
		c->pos += k;
		n -= k;
	}
	return 0;
}

/* A CRLF-ended line, NUL-terminated in place; NULL on error. */
static char *
read_line(struct harness_conn *c, int64_t deadline)
{
	char *nl, *line;

	while ((nl = memchr(c->buf + c->pos, '\n', c->len - c->pos)) == NULL)
		if (c->len - c->pos > 4096 || conn_fill(c, deadline) <= 0)
			return NULL;
	line = c->buf + c->pos;
	if (nl == line || nl[-1] != '\r')
		return NULL;
	nl[-1] = '\0';
	c->pos = (size_t)(nl + 1 - c->buf);
	return line;
}

static int
read_chunked(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	unsigned long long size;
	char *line, *end;

	for (;;) {
		line = read_line(c, deadline);
		if (line == NULL) {
			resp_error(r, "bad or missing chunk-size line");
			return -1;
		}
		size = strtoull(line, &end, 16);
		if (end == line || (*end != '\0' && *end != ';')) {
			resp_error(r, "bad chunk-size line: %.40s", line);
			return -1;
		}
		if (size == 0)
			break;
		if (read_len(c, r, size, deadline) < 0)
			return -1;
		line = read_line(c, deadline);
		if (line == NULL || line[0] != '\0') {
			resp_error(r, "chunk data not followed by CRLF");
			return -1;
		}
	}
	do /* trailers */
		line = read_line(c, deadline);
	while (line != NULL && line[0] != '\0');
	if (line == NULL)
		resp_error(r, "bad chunked trailer section");
	return line == NULL ? -1 : 0;
}

static int
read_to_close(struct harness_conn *c, struct harness_resp *r, int64_t deadline)
{
	ssize_t k;

	for (;;) {
		resp_append(r, c->buf + c->pos, c->len - c->pos);
		c->pos = c->len;
		k = conn_fill(c, deadline);
		if (k == 0)
			return 0;
		if (k < 0) {
			resp_error(r, "close-delimited body: timed out");
			return -1;
		}
	}
}

int
harness_conn_response(struct harness_conn *c, struct harness_resp *r,
                      int is_head, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	char v[256];
	unsigned long long len;

	memset(r, 0, offsetof(struct harness_resp, head));
	r->head[0] = r->error[0] = '\0';
	r->head_len = r->body_len = 0;
	r->body_total = 0;
	r->body = NULL;
	r->chunked = r->close_delimited = 0;
	resp_append(r, "", 0);
	if (read_head(c, r, deadline) < 0)
		return -1;
	if (is_head || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		return 0;
	if (harness_head_value(r->head, "Transfer-Encoding", v, sizeof(v))) {
		r->chunked = 1;
		return read_chunked(c, r, deadline);
	}
	if (harness_head_value(r->head, "Content-Length", v, sizeof(v))) {
		len = strtoull(v, NULL, 10);
		return read_len(c, r, len, deadline);
	}
	r->close_delimited = 1;
	return read_to_close(c, r, deadline);
}

void
harness_resp_free(struct harness_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int
harness_conn_closed(struct harness_conn *c, int timeout_ms)
{
	ssize_t k;

	if (c->pos < c->len)
		return 0;
	k = conn_fill(c, harness_now_ms() + timeout_ms);
	return k == 0 ? 1 : k > 0 ? 0 : -1;
}

ssize_t
harness_conn_read_all(struct harness_conn *c, char *out, size_t cap,
                      int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	size_t n = 0, k;
	ssize_t got;

	for (;;) {
		k = c->len - c->pos;
		if (k > cap - 1 - n)
			k = cap - 1 - n;
		memcpy(out + n, c->buf + c->pos, k);
		n += k;
		out[n] = '\0';
		c->pos = c->len; /* past the cap: dropped */
		got = conn_fill(c, deadline);
		if (got == 0)
			return (ssize_t)n;
		if (got < 0)
			return -1;
	}
}

/* ---- heads --------------------------------------------------------- */

/* The next field line called name after p (which is inside a head);
 * *value points past its colon.  NULL at the end of the head. */
static const char *
next_field(const char *p, const char *name, const char **value)
{
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (p[0] == '\r')
			return NULL;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			*value = p + n + 1;
			return p + n;
		}
	}
	return NULL;
}

const char *
harness_head_value(const char *head, const char *name, char *out, size_t outlen)
{
	const char *v, *end;
	size_t n;

	if (next_field(head, name, &v) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	end = strstr(v, "\r\n");
	n = (size_t)(end - v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
	return out;
}

int
harness_head_count(const char *head, const char *name)
{
	const char *v;
	int n = 0;

	while ((head = next_field(head, name, &v)) != NULL)
		n++;
	return n;
}
