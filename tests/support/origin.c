/*
 * origin: the HTTP/1.1 origin server the integration suites put behind
 * proxyd.  `origin -p PORT_FILE [-t]` listens on an ephemeral 127.0.0.1
 * port, writes the port into PORT_FILE once listening, and serves until
 * SIGTERM; -t serves TLS with a self-signed certificate made at start-up.
 *
 * Test support, so simple before fast: a thread per connection (bounded),
 * blocking sockets with timeouts, a strict-enough keep-alive parser.  Bodies
 * are streamed, never held whole, so multi-gigabyte transfers stay small.
 *
 *   GET /size/N      N pattern bytes with Content-Length
 *   GET /chunked/N   the same, chunked
 *   GET /close/N     the same, close-delimited (Connection: close)
 *   GET /slow/MS     waits MS, then a small body
 *   GET /status/C    empty body with status C (204/304 bodiless)
 *   GET /headers     the request head as received, as text/plain
 *   POST|PUT /echo   the request body back (chunked, or with its length)
 *   POST|PUT /sink   "bytes=N sum=HEX pattern=yes|no\n" for the body
 *   GET /malformed   a broken status line;  GET /smuggle  CL and TE both
 *   GET /hang        reads the request, never answers
 * HEAD works everywhere; Expect: 100-continue gets an interim 100.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/support/harness.h"

#define ORIGIN_MAX_THREADS 256
#define ORIGIN_HEAD_MAX 65536
#define ORIGIN_IO 65536
#define ORIGIN_IDLE_S 60 /* keep-alive and per-read timeout */
#define ORIGIN_MAX_SLOW_MS 120000
#define ORIGIN_LINE_MAX 4096 /* chunk-size and trailer lines */

enum origin_framing {
	BODY_NONE = 0,
	BODY_LENGTH,
	BODY_CHUNKED,
};

struct origin_conn {
	int fd;
	SSL *ssl;
	size_t len; /* bytes in in[] */
	size_t pos; /* consumed */
	char in[ORIGIN_HEAD_MAX];
	char head[ORIGIN_HEAD_MAX + 1]; /* the current request head */
	char out[ORIGIN_IO + 64];
};

struct origin_req {
	char method[16];
	const char *path; /* in serve_one's scratch copy of the head */
	size_t head_len;
	int minor;
	int keep_alive;
	int expect_continue;
	int is_head;
	enum origin_framing framing;
	uint64_t length;     /* BODY_LENGTH: bytes left */
	uint64_t chunk_left; /* BODY_CHUNKED: bytes left in this chunk */
	int chunk_done;      /* last chunk and trailers read */
	int chunk_crlf;      /* a chunk's data ended; its CRLF is due */
};

static SSL_CTX *origin_tls;
static int origin_want_tls;
static atomic_int origin_threads;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- connection I/O ------------------------------------------------ */

static ssize_t
raw_read(struct origin_conn *c, void *buf, size_t len)
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

static int
conn_write(struct origin_conn *c, const void *buf, size_t len)
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

static int conn_printf(struct origin_conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
conn_printf(struct origin_conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return conn_write(c, buf, (size_t)n);
}

/* Reads more into in[], moving unconsumed bytes to the front first.
 * >0 bytes read, 0 EOF, -1 error or full. */
static ssize_t
conn_fill(struct origin_conn *c)
{
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->in, c->in + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->in))
		return -1;
	n = raw_read(c, c->in + c->len, sizeof(c->in) - c->len);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

/* Buffered bytes first, else straight from the socket into buf. */
static ssize_t
conn_read_some(struct origin_conn *c, char *buf, size_t len)
{
	size_t n = c->len - c->pos;

	if (n == 0)
		return raw_read(c, buf, len);
	if (n > len)
		n = len;
	memcpy(buf, c->in + c->pos, n);
	c->pos += n;
	return (ssize_t)n;
}

/* A CRLF-terminated line (CRLF stripped, NUL-terminated) of at most
 * ORIGIN_LINE_MAX bytes.  0 or -1. */
static int
conn_line(struct origin_conn *c, char *line)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->in + c->pos, '\n', c->len - c->pos);
		if (nl != NULL)
			break;
		if (c->len - c->pos >= ORIGIN_LINE_MAX || conn_fill(c) <= 0)
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

/* Lingering close, so a reply is not destroyed by a reset. */
static void
conn_finish(struct origin_conn *c)
{
	struct timeval tv = {1, 0};
	char buf[4096];
	int64_t end = now_ms() + 2000;

	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	shutdown(c->fd, SHUT_WR);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (now_ms() < end && read(c->fd, buf, sizeof(buf)) > 0)
		;
	close(c->fd);
	free(c);
}

/* ---- request head -------------------------------------------------- */

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch);
}

/* Waits for a whole head; copies it into c->head.  1 done, 0 clean EOF
 * before any byte, -1 error (or over-size). */
static int
read_head(struct origin_conn *c, size_t *head_len)
{
	char *end;
	ssize_t n;

	for (;;) {
		/* tolerate the empty lines RFC 9112 2.2 allows first */
		while (c->len - c->pos >= 2 && c->in[c->pos] == '\r' &&
		       c->in[c->pos + 1] == '\n')
			c->pos += 2;
		end = memmem(c->in + c->pos, c->len - c->pos, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		n = conn_fill(c);
		if (n <= 0)
			return n == 0 && c->len == c->pos ? 0 : -1;
	}
	*head_len = (size_t)(end + 4 - (c->in + c->pos));
	memcpy(c->head, c->in + c->pos, *head_len);
	c->head[*head_len] = '\0';
	c->pos += *head_len;
	return 1;
}

static int
parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

/* Has the comma-separated list v the token tok? */
static int
has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, tok, n) == 0 &&
		    (v[n] == '\0' || v[n] == ',' || v[n] == ' ' ||
		     v[n] == '\t'))
			return 1;
		while (*v != '\0' && *v != ',')
			v++;
	}
	return 0;
}

/* Is the last coding of a Transfer-Encoding value "chunked"? */
static int
te_is_chunked(const char *v)
{
	const char *last = v, *p;
	size_t n;

	for (p = v; *p != '\0'; p++)
		if (*p == ',')
			last = p + 1;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strlen(last);
	while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
		n--;
	return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/* One "name: value" line (NUL-terminated, no CRLF) into r.  0 or -1. */
static int
parse_field(struct origin_req *r, char *line, int *seen_cl, int *seen_te)
{
	char *colon = strchr(line, ':'), *v, *e;
	uint64_t len;

	if (colon == NULL || colon == line)
		return -1;
	for (v = line; v < colon; v++)
		if (!is_tchar((unsigned char)*v))
			return -1; /* also space before the colon */
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	if (strcasecmp(line, "content-length") == 0) {
		if (parse_length(v, &len) < 0 || (*seen_cl && len != r->length))
			return -1;
		*seen_cl = 1;
		r->length = len;
	} else if (strcasecmp(line, "transfer-encoding") == 0) {
		if (!te_is_chunked(v))
			return -1;
		*seen_te = 1;
	} else if (strcasecmp(line, "connection") == 0) {
		if (has_token(v, "close"))
			r->keep_alive = 0;
		else if (has_token(v, "keep-alive"))
			r->keep_alive = 1;
	} else if (strcasecmp(line, "expect") == 0) {
		r->expect_continue = strcasecmp(v, "100-continue") == 0;
	}
	return 0;
}

/* "METHOD SP target SP HTTP/1.x" into r; target trimmed to the path. */
static int
parse_request_line(struct origin_req *r, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2, *path;

	if (sp1 == NULL || (size_t)(sp1 - line) >= sizeof(r->method))
		return -1;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1') || sp2[9] != '\0')
		return -1;
	memcpy(r->method, line, (size_t)(sp1 - line));
	r->method[sp1 - line] = '\0';
	r->minor = sp2[8] - '0';
	*sp2 = '\0';
	path = sp1 + 1;
	/* absolute-form, should a client come straight here */
	if (strncasecmp(path, "http://", 7) == 0 ||
	    strncasecmp(path, "https://", 8) == 0) {
		path = strchr(strstr(path, "//") + 2, '/');
		if (path == NULL)
			path = sp2; /* empty: "" */
	}
	r->path = path;
	return 0;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

/* Parses c->head (a scratch copy, so /headers can still echo c->head). */
static int
parse_head(struct origin_req *r, char *head)
{
	char *line = head, *next;
	int seen_cl = 0, seen_te = 0;

	next = strstr(line, "\r\n");
	*next = '\0';
	if (has_ctl(line) || parse_request_line(r, line) < 0)
		return -1;
	r->keep_alive = r->minor == 1;
	for (line = next + 2; *line != '\r'; line = next + 2) {
		next = strstr(line, "\r\n");
		*next = '\0';
		if (*line == ' ' || *line == '\t' || has_ctl(line))
			return -1; /* obs-fold, bare CR or LF, controls */
		if (parse_field(r, line, &seen_cl, &seen_te) < 0)
			return -1;
	}
	if (seen_cl && seen_te)
		return -1;
	r->framing = seen_te ? BODY_CHUNKED : seen_cl ? BODY_LENGTH : BODY_NONE;
	if (r->framing == BODY_LENGTH && r->length == 0)
		r->framing = BODY_NONE;
	r->is_head = strcmp(r->method, "HEAD") == 0;
	return 0;
}

/* ---- request body -------------------------------------------------- */

/* Reads the next chunk-size line; sets chunk_left / chunk_done. */
static int
chunk_next(struct origin_conn *c, struct origin_req *r)
{
	char line[ORIGIN_LINE_MAX + 1], *p;
	uint64_t n = 0;
	int digits = 0;

	if (r->chunk_crlf && (conn_line(c, line) < 0 || line[0] != '\0'))
		return -1;
	r->chunk_crlf = 0;
	if (conn_line(c, line) < 0)
		return -1;
	for (p = line; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t';
	     p++, digits++) {
		if (digits == 15 || !isxdigit((unsigned char)*p))
			return -1;
		n = n * 16 +
		    (uint64_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
	}
	if (digits == 0)
		return -1;
	if (n > 0) {
		r->chunk_left = n;
		return 0;
	}
	do /* trailer fields, up to the empty line */
		if (conn_line(c, line) < 0)
			return -1;
	while (line[0] != '\0');
	r->chunk_done = 1;
	return 0;
}

/* Up to len body bytes into buf: >0, 0 at the body's end, -1 on error. */
static ssize_t
body_read(struct origin_conn *c, struct origin_req *r, char *buf, size_t len)
{
	uint64_t *left =
	        r->framing == BODY_LENGTH ? &r->length : &r->chunk_left;
	ssize_t n;

	if (r->framing == BODY_NONE)
		return 0;
	if (r->framing == BODY_CHUNKED && r->chunk_left == 0) {
		if (r->chunk_done)
			return 0;
		if (chunk_next(c, r) < 0)
			return -1;
		if (r->chunk_done)
			return 0;
	}
	if (*left == 0)
		return 0;
	if (len > *left)
		len = (size_t)*left;
	n = conn_read_some(c, buf, len);
	if (n <= 0)
		return -1; /* EOF inside a framed body */
	*left -= (uint64_t)n;
	if (r->framing == BODY_CHUNKED && r->chunk_left == 0)
		r->chunk_crlf = 1;
	return n;
}

/* Reads and drops what is left of the body. */
static int
body_drain(struct origin_conn *c, struct origin_req *r)
{
	ssize_t n;

	while ((n = body_read(c, r, c->out, ORIGIN_IO)) > 0)
		;
	return (int)n;
}

/* ---- responses ----------------------------------------------------- */

static const char *const reasons[] = {
        [200] = "OK",           [204] = "No Content",
        [304] = "Not Modified", [400] = "Bad Request",
        [404] = "Not Found",    [405] = "Method Not Allowed",
};

static const char *
reason(int code)
{
	if (code < (int)(sizeof(reasons) / sizeof(reasons[0])) &&
	    reasons[code] != NULL)
		return reasons[code];
	return "Status";
}

/* A response head; length < 0 means none (the caller frames the body). */
static int
send_head(struct origin_conn *c, struct origin_req *r, int code, int64_t length,
          const char *extra)
{
	char len[48] = "";

	if (length >= 0)
		snprintf(len, sizeof(len), "Content-Length: %lld\r\n",
		         (long long)length);
	return conn_printf(c,
	                   "HTTP/1.1 %d %s\r\nServer: origin\r\n%s%s%s"
	                   "\r\n",
	                   code, reason(code), len, extra,
	                   r->keep_alive ? "" : "Connection: close\r\n");
}

/* A whole small response. */
static int
send_simple(struct origin_conn *c, struct origin_req *r, int code,
            const char *body)
{
	size_t n = strlen(body);

	if (send_head(c, r, code, (int64_t)n, "Content-Type: text/plain\r\n") <
	    0)
		return -1;
	return r->is_head ? 0 : conn_write(c, body, n);
}

/* N pattern bytes with Content-Length, or close-delimited. */
static int
send_pattern(struct origin_conn *c, struct origin_req *r, uint64_t n,
             int close_delimited)
{
	uint64_t off;
	size_t k;

	if (close_delimited)
		r->keep_alive = 0;
	if (send_head(c, r, 200, close_delimited ? -1 : (int64_t)n,
	              "Content-Type: application/octet-stream\r\n") < 0)
		return -1;
	for (off = 0; !r->is_head && off < n; off += k) {
		k = n - off < ORIGIN_IO ? (size_t)(n - off) : ORIGIN_IO;
		harness_pattern_fill(c->out, k, off);
		if (conn_write(c, c->out, k) < 0)
			return -1;
	}
	return 0;
}

/* The same bytes chunked, in chunks of varied sizes to exercise the
 * proxy's chunk parser across reads. */
static int
send_chunked(struct origin_conn *c, struct origin_req *r, uint64_t n)
{
	static const size_t sizes[] = {8192, 1, 1000, ORIGIN_IO, 17};
	uint64_t off = 0;
	size_t k, h, i = 0;

	if (send_head(c, r, 200, -1,
	              "Content-Type: application/octet-stream\r\n"
	              "Transfer-Encoding: chunked\r\n") < 0)
		return -1;
	if (r->is_head)
		return 0;
	for (; off < n; off += k, i++) {
		k = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		if (k > n - off)
			k = (size_t)(n - off);
		h = (size_t)snprintf(c->out, 32, "%zx\r\n", k);
		harness_pattern_fill(c->out + h, k, off);
		memcpy(c->out + h + k, "\r\n", 2);
		if (conn_write(c, c->out, h + k + 2) < 0)
			return -1;
	}
	return conn_write(c, "0\r\n\r\n", 5);
}

static int
send_100(struct origin_conn *c, struct origin_req *r)
{
	if (!r->expect_continue || r->framing == BODY_NONE)
		return 0;
	r->expect_continue = 0;
	return conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* POST|PUT /echo: the body straight back, framed like the request's. */
static int
do_echo(struct origin_conn *c, struct origin_req *r)
{
	int chunked = r->framing == BODY_CHUNKED;
	char hdr[32];
	ssize_t n;
	int h;

	if (send_100(c, r) < 0 ||
	    send_head(c, r, 200,
	              chunked ? -1
	                      : (int64_t)(r->framing == BODY_LENGTH ? r->length
	                                                            : 0),
	              chunked ? "Transfer-Encoding: chunked\r\n" : "") < 0)
		return -1;
	while ((n = body_read(c, r, c->out + 32, ORIGIN_IO)) > 0) {
		if (!chunked) {
			if (conn_write(c, c->out + 32, (size_t)n) < 0)
				return -1;
			continue;
		}
		/* chunk-size line right before the data, in one write */
		h = snprintf(hdr, sizeof(hdr), "%zx\r\n", (size_t)n);
		memcpy(c->out + 32 - h, hdr, (size_t)h);
		memcpy(c->out + 32 + n, "\r\n", 2);
		if (conn_write(c, c->out + 32 - h, (size_t)(h + n + 2)) < 0)
			return -1;
	}
	if (n < 0)
		return -1;
	return chunked ? conn_write(c, "0\r\n\r\n", 5) : 0;
}

/* POST|PUT /sink: counts, checksums and pattern-checks the body. */
static int
do_sink(struct origin_conn *c, struct origin_req *r)
{
	struct harness_sum sum = {0, 0};
	char pat[ORIGIN_IO], msg[128];
	uint64_t total = 0;
	int is_pattern = 1;
	ssize_t n;

	if (send_100(c, r) < 0)
		return -1;
	while ((n = body_read(c, r, c->out, ORIGIN_IO)) > 0) {
		harness_sum_update(&sum, c->out, (size_t)n);
		if (is_pattern) {
			harness_pattern_fill(pat, (size_t)n, total);
			is_pattern = memcmp(pat, c->out, (size_t)n) == 0;
		}
		total += (uint64_t)n;
	}
	if (n < 0)
		return -1;
	snprintf(msg, sizeof(msg), "bytes=%llu sum=%016llx pattern=%s\n",
	         (unsigned long long)total,
	         (unsigned long long)harness_sum_value(&sum),
	         is_pattern ? "yes" : "no");
	return send_simple(c, r, 200, msg);
}

static int
do_status(struct origin_conn *c, struct origin_req *r, uint64_t code)
{
	if (code < 200 || code > 599)
		return send_simple(c, r, 400, "bad status\n");
	if (code == 204 || code == 304)
		return send_head(c, r, (int)code, -1, "");
	return send_head(c, r, (int)code, 0, "");
}

/* Waits for the peer to go away (bounded), never answering. */
static int
do_hang(struct origin_conn *c)
{
	int64_t end = now_ms() + 2 * ORIGIN_IDLE_S * 1000;
	char buf[4096];
	ssize_t n;

	while (now_ms() < end) {
		n = raw_read(c, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN &&
		               errno != EWOULDBLOCK && errno != EINTR))
			break;
	}
	return -1;
}

static int
do_broken(struct origin_conn *c, struct origin_req *r, const char *resp)
{
	r->keep_alive = 0;
	return conn_write(c, resp, strlen(resp));
}

/* "/size/N" -> N; -1 if the path has another prefix or a bad number. */
static int
path_num(const char *path, const char *prefix, uint64_t *n)
{
	size_t k = strlen(prefix);
	char num[24];
	size_t i;

	if (strncmp(path, prefix, k) != 0)
		return -1;
	path += k;
	for (i = 0; path[i] != '\0' && path[i] != '?' && i < 20; i++)
		num[i] = path[i];
	num[i] = '\0';
	return parse_length(num, n);
}

static int
is_upload(const struct origin_req *r)
{
	return strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0;
}

/* Routes one parsed request; 0 to keep the connection, -1 to close. */
static int
dispatch(struct origin_conn *c, struct origin_req *r)
{
	const char *p = r->path;
	uint64_t n;

	if (strcmp(p, "/echo") == 0 || strcmp(p, "/sink") == 0) {
		if (is_upload(r))
			return p[1] == 'e' ? do_echo(c, r) : do_sink(c, r);
		if (body_drain(c, r) < 0)
			return -1;
		return send_simple(c, r, 405, "POST or PUT\n");
	}
	/* every other endpoint ignores a request body */
	if (send_100(c, r) < 0 || body_drain(c, r) < 0)
		return -1;
	if (path_num(p, "/size/", &n) == 0)
		return send_pattern(c, r, n, 0);
	if (path_num(p, "/close/", &n) == 0)
		return send_pattern(c, r, n, 1);
	if (path_num(p, "/chunked/", &n) == 0)
		return send_chunked(c, r, n);
	if (path_num(p, "/status/", &n) == 0)
		return do_status(c, r, n);
	if (path_num(p, "/slow/", &n) == 0) {
		sleep_ms(n > ORIGIN_MAX_SLOW_MS ? ORIGIN_MAX_SLOW_MS : (int)n);
		return send_simple(c, r, 200, "slow\n");
	}
	if (strcmp(p, "/headers") == 0)
		return send_simple(c, r, 200, c->head);
	if (strcmp(p, "/hang") == 0)
		return do_hang(c);
	if (strcmp(p, "/malformed") == 0)
		return do_broken(c, r,
		                 "HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n"
		                 "\r\nok");
	if (strcmp(p, "/smuggle") == 0)
		return do_broken(c, r,
		                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		                 "Transfer-Encoding: chunked\r\n\r\n"
		                 "5\r\nhello\r\n0\r\n\r\n");
	return send_simple(c, r, 404, "not found\n");
}

static int
serve_one(struct origin_conn *c)
{
	struct origin_req r;
	char *scratch;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = read_head(c, &r.head_len);
	if (rc <= 0)
		return -1;
	/* a NUL would cut the C-string parse short: refuse it up front */
	scratch = memchr(c->head, '\0', r.head_len) ? NULL : strdup(c->head);
	if (scratch == NULL || parse_head(&r, scratch) < 0) {
		free(scratch);
		r.keep_alive = 0;
		send_simple(c, &r, 400, "bad request\n");
		return -1;
	}
	/* r.path points into scratch; keep it until the reply is sent */
	rc = dispatch(c, &r);
	free(scratch);
	return rc < 0 || !r.keep_alive ? -1 : 0;
}

static void *
conn_thread(void *arg)
{
	struct origin_conn *c = arg;

	if (c->ssl != NULL && SSL_accept(c->ssl) != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
		free(c);
		atomic_fetch_sub(&origin_threads, 1);
		return NULL;
	}
	while (serve_one(c) == 0)
		;
	conn_finish(c);
	atomic_fetch_sub(&origin_threads, 1);
	return NULL;
}

/* ---- set-up -------------------------------------------------------- */

static X509 *
make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	if (x == NULL)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"127.0.0.1", -1, -1,
	                           0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	                          "IP:127.0.0.1,DNS:localhost");
	if (ext == NULL || !X509_add_ext(x, ext, -1) ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_EXTENSION_free(ext);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(ext);
	return x;
}

/* A server context with a fresh P-256 key and self-signed certificate. */
static SSL_CTX *
make_tls(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key != NULL ? make_cert(key) : NULL;
	SSL_CTX *ctx = cert != NULL ? SSL_CTX_new(TLS_server_method()) : NULL;

	if (ctx != NULL && (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	                    SSL_CTX_use_PrivateKey(ctx, key) != 1)) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	if (ctx == NULL)
		ERR_print_errors_fp(stderr);
	return ctx;
}

static int
listen_any(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* PORT_FILE appears whole or not at all: tmp file, then rename. */
static int
write_port(const char *path, int port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static void
start_conn(int fd)
{
	struct timeval tv = {ORIGIN_IDLE_S, 0};
	struct origin_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;
	int one = 1;

	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (origin_tls != NULL && ((c->ssl = SSL_new(origin_tls)) == NULL ||
	                           SSL_set_fd(c->ssl, fd) != 1))
		goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&origin_threads, 1);
	if (pthread_create(&t, &attr, conn_thread, c) != 0) {
		atomic_fetch_sub(&origin_threads, 1);
		pthread_attr_destroy(&attr);
		goto fail;
	}
	pthread_attr_destroy(&attr);
	return;
fail:
	SSL_free(c->ssl);
	close(fd);
	free(c);
}

/* Accepts until SIGTERM/SIGINT; at the thread cap, waits for a slot. */
static int
serve(int lfd, int sfd)
{
	struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
	int fd, busy;

	for (;;) {
		busy = atomic_load(&origin_threads) >= ORIGIN_MAX_THREADS;
		if (poll(pfd, busy ? 1 : 2, busy ? 20 : -1) < 0 &&
		    errno != EINTR)
			return -1;
		if (pfd[0].revents & POLLIN)
			return 0;
		if (busy || !(pfd[1].revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			start_conn(fd);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: origin -p PORT_FILE [-t]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *port_file = NULL;
	sigset_t set;
	int opt, lfd, sfd, port, rc;

	while ((opt = getopt(argc, argv, "p:t")) != -1) {
		if (opt == 'p')
			port_file = optarg;
		else if (opt == 't')
			origin_want_tls = 1;
		else
			usage();
	}
	if (port_file == NULL || optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* blocked before any thread exists, so only the signalfd sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (origin_want_tls && (origin_tls = make_tls()) == NULL) {
		fprintf(stderr, "origin: cannot set up TLS\n");
		return 1;
	}
	lfd = listen_any(&port);
	if (sfd < 0 || lfd < 0 || write_port(port_file, port) < 0) {
		perror("origin: start-up");
		return 1;
	}
	rc = serve(lfd, sfd);
	close(lfd);
	SSL_CTX_free(origin_tls);
	return rc < 0 ? 1 : 0;
}
