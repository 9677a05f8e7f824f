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

#include <sys/random.h>
#include <sys/socket.h>

#include <openssl/evp.h>

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

/* ---- WebSocket ----------------------------------------------------- */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes */

struct ws_try {
	struct harness_conn *c;
	struct harness_resp *r;
	int64_t deadline;
	char *err;
	size_t errlen;
};

static int ws_fail(struct ws_try *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
ws_fail(struct ws_try *t, const char *fmt, ...)
{
	va_list ap;

	if (t->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(t->err, t->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Exactly n bytes of the peer's stream into out, before the deadline. */
static int
ws_take(struct ws_try *t, void *out, size_t n)
{
	while (t->c->len - t->c->pos < n)
		if (conn_fill(t->c, t->deadline) <= 0)
			return -1;
	memcpy(out, t->c->buf + t->c->pos, n);
	t->c->pos += n;
	return 0;
}

/* The upgrade request, and a 101 that proves the origin saw our key. */
static int
ws_upgrade(struct ws_try *t, int port, const char *host)
{
	unsigned char nonce[16], md[EVP_MAX_MD_SIZE];
	char key[WS_KEY_LEN + 1], want[64], got[128];
	char buf[WS_KEY_LEN + sizeof(WS_GUID)];
	unsigned md_len;

	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		return ws_fail(t, "getrandom failed");
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	if (EVP_Digest(buf, strlen(buf), md, &md_len, EVP_sha1(), NULL) != 1)
		return ws_fail(t, "SHA-1 failed");
	EVP_EncodeBlock((unsigned char *)want, md, (int)md_len);
	if (harness_conn_sendf(t->c,
	                       "GET /ws HTTP/1.1\r\nHost: %s\r\n"
	                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                       "Sec-WebSocket-Key: %s\r\n"
	                       "Sec-WebSocket-Version: 13\r\n\r\n",
	                       host, key) < 0)
		return ws_fail(t, "sending the upgrade to port %d failed",
		               port);
	if (harness_conn_response(t->c, t->r, 0, harness_left_ms(t->deadline)) <
	    0)
		return ws_fail(t, "upgrade response: %s", t->r->error);
	if (t->r->status != 101)
		return ws_fail(t, "upgrade answered %d, not 101: %.200s",
		               t->r->status, t->r->head);
	if (!harness_head_value(t->r->head, "Sec-WebSocket-Accept", got,
	                        sizeof(got)) ||
	    strcmp(got, want) != 0)
		return ws_fail(t, "Sec-WebSocket-Accept is not %s: %.300s",
		               want, t->r->head);
	return 0;
}

/* A masked client frame (RFC 6455 5.2) of opcode op; 0 or -1. */
static int
ws_send(struct ws_try *t, unsigned op, const void *data, size_t len)
{
	unsigned char *f = malloc(len + 14), mask[4];
	const unsigned char *p = data;
	size_t n = 2, i;
	int rc;

	if (f == NULL || getrandom(mask, 4, 0) != 4) {
		free(f);
		return ws_fail(t, "no memory or randomness for a frame");
	}
	f[0] = (unsigned char)(0x80 | op);
	if (len < 126) {
		f[1] = (unsigned char)(0x80 | len);
	} else if (len <= 0xffff) {
		f[1] = 0x80 | 126;
		f[n++] = (unsigned char)(len >> 8);
		f[n++] = (unsigned char)len;
	} else {
		f[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			f[n++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(f + n, mask, 4);
	n += 4;
	for (i = 0; i < len; i++)
		f[n + i] = p[i] ^ mask[i & 3];
	rc = harness_conn_send(t->c, f, n + len);
	free(f);
	return rc < 0 ? ws_fail(t, "sending a frame failed") : 0;
}

/* The echo: one final, unmasked text frame whose payload is msg. */
static int
ws_expect_echo(struct ws_try *t, const char *msg)
{
	size_t want = strlen(msg), k, off;
	unsigned char h[2], ext[8];
	uint64_t len = 0;
	int i, n;

	if (ws_take(t, h, 2) < 0)
		return ws_fail(t, "no echo frame (closed or timed out)");
	if (h[0] != 0x81 || (h[1] & 0x80))
		return ws_fail(t,
		               "echo frame starts %02x %02x, not a final "
		               "unmasked text frame",
		               h[0], h[1]);
	n = (h[1] & 0x7f) == 126 ? 2 : (h[1] & 0x7f) == 127 ? 8 : 0;
	if (ws_take(t, ext, (size_t)n) < 0)
		return ws_fail(t, "echo frame cut in its length");
	for (i = 0; i < n; i++)
		len = len << 8 | ext[i];
	if (n == 0)
		len = h[1] & 0x7f;
	if (len != want)
		return ws_fail(t, "echo of %llu bytes, sent %zu",
		               (unsigned long long)len, want);
	for (off = 0; off < want; off += k) {
		if (t->c->pos == t->c->len && conn_fill(t->c, t->deadline) <= 0)
			return ws_fail(t, "echo cut after %zu of %zu bytes",
			               off, want);
		k = t->c->len - t->c->pos;
		if (k > want - off)
			k = want - off;
		if (memcmp(t->c->buf + t->c->pos, msg + off, k) != 0)
			return ws_fail(t,
			               "echo differs from the message within "
			               "bytes %zu..%zu",
			               off, off + k);
		t->c->pos += k;
	}
	return 0;
}

int
harness_ws_echo(int port, const char *host, const char *msg, char *errmsg,
                size_t errlen)
{
	static const unsigned char normal_close[] = {0x03, 0xe8}; /* 1000 */
	struct ws_try t = {NULL, NULL, harness_now_ms() + HARNESS_WAIT_MS,
	                   errmsg, errmsg != NULL ? errlen : 0};
	char hostport[32];
	int rc = -1, wait;

	if (t.errlen > 0)
		errmsg[0] = '\0';
	if (host == NULL) {
		snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", port);
		host = hostport;
	}
	/* both are large: off the stack */
	t.c = calloc(1, sizeof(*t.c));
	t.r = calloc(1, sizeof(*t.r));
	if (t.c != NULL)
		t.c->fd = -1;
	if (t.c == NULL || t.r == NULL) {
		ws_fail(&t, "out of memory");
		goto out;
	}
	if (harness_conn_open(t.c, port) < 0) {
		ws_fail(&t, "cannot connect to 127.0.0.1:%d", port);
		goto out;
	}
	if (ws_upgrade(&t, port, host) < 0 ||
	    ws_send(&t, 0x1, msg, strlen(msg)) < 0 ||
	    ws_expect_echo(&t, msg) < 0)
		goto out;
	rc = 0;
	/* a clean end, so the proxy sees the close handshake; the answer is
	 * waited for briefly and not judged */
	wait = harness_left_ms(t.deadline);
	if (ws_send(&t, 0x8, normal_close, sizeof(normal_close)) == 0)
		harness_conn_closed(t.c, wait < 1000 ? wait : 1000);
out:
	if (t.c != NULL)
		harness_conn_close(t.c); /* fd is -1 when the open failed */
	if (t.r != NULL)
		harness_resp_free(t.r);
	free(t.r);
	free(t.c);
	return rc;
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
