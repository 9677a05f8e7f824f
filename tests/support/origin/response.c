/*
 * The test origin's responses and endpoints (the list is in origin.c):
 * bodies are the harness pattern, generated as they are sent, so any size
 * costs the same little memory, and chunked bodies use varied chunk sizes
 * to exercise the proxy's chunk parser across reads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/harness.h"
#include "tests/support/origin/origin.h"

/* ---- responses ----------------------------------------------------- */

static const char *const reasons[] = {
        [101] = "Switching Protocols", [200] = "OK",
        [204] = "No Content",          [304] = "Not Modified",
        [400] = "Bad Request",         [404] = "Not Found",
        [405] = "Method Not Allowed",  [503] = "Service Unavailable",
};

const char *
origin_reason(int code)
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
	return origin_conn_printf(c,
	                          "HTTP/1.1 %d %s\r\nServer: origin\r\n%s%s%s%s"
	                          "\r\n",
	                          code, origin_reason(code),
	                          origin_opts.name_field, len, extra,
	                          r->keep_alive ? "" : "Connection: close\r\n");
}

/* A whole small response. */
int
origin_send_simple(struct origin_conn *c, struct origin_req *r, int code,
                   const char *body)
{
	size_t n = strlen(body);

	if (send_head(c, r, code, (int64_t)n, "Content-Type: text/plain\r\n") <
	    0)
		return -1;
	return r->is_head ? 0 : origin_conn_write(c, body, n);
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
		if (origin_conn_write(c, c->out, k) < 0)
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
		if (origin_conn_write(c, c->out, h + k + 2) < 0)
			return -1;
	}
	return origin_conn_write(c, "0\r\n\r\n", 5);
}

static int
send_100(struct origin_conn *c, struct origin_req *r)
{
	if (!r->expect_continue || r->framing == ORIGIN_BODY_NONE)
		return 0;
	r->expect_continue = 0;
	return origin_conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* POST|PUT /echo: the body straight back, framed like the request's. */
static int
do_echo(struct origin_conn *c, struct origin_req *r)
{
	int chunked = r->framing == ORIGIN_BODY_CHUNKED;
	char hdr[32];
	ssize_t n;
	int h;

	if (send_100(c, r) < 0 ||
	    send_head(c, r, 200,
	              chunked ? -1
	                      : (int64_t)(r->framing == ORIGIN_BODY_LENGTH
	                                          ? r->length
	                                          : 0),
	              chunked ? "Transfer-Encoding: chunked\r\n" : "") < 0)
		return -1;
	while ((n = origin_body_read(c, r, c->out + 32, ORIGIN_IO)) > 0) {
		if (!chunked) {
			if (origin_conn_write(c, c->out + 32, (size_t)n) < 0)
				return -1;
			continue;
		}
		/* chunk-size line right before the data, in one write */
		h = snprintf(hdr, sizeof(hdr), "%zx\r\n", (size_t)n);
		memcpy(c->out + 32 - h, hdr, (size_t)h);
		memcpy(c->out + 32 + n, "\r\n", 2);
		if (origin_conn_write(c, c->out + 32 - h, (size_t)(h + n + 2)) <
		    0)
			return -1;
	}
	if (n < 0)
		return -1;
	return chunked ? origin_conn_write(c, "0\r\n\r\n", 5) : 0;
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
	while ((n = origin_body_read(c, r, c->out, ORIGIN_IO)) > 0) {
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
	return origin_send_simple(c, r, 200, msg);
}

static int
do_status(struct origin_conn *c, struct origin_req *r, uint64_t code)
{
	if (code < 200 || code > 599)
		return origin_send_simple(c, r, 400, "bad status\n");
	if (code == 204 || code == 304)
		return send_head(c, r, (int)code, -1, "");
	return send_head(c, r, (int)code, 0, "");
}

/* Waits for the peer to go away (bounded), never answering. */
static int
do_hang(struct origin_conn *c)
{
	int64_t end = origin_now_ms() + 2 * ORIGIN_IDLE_S * 1000;
	char buf[4096];
	ssize_t n;

	while (origin_now_ms() < end) {
		n = origin_conn_read(c, buf, sizeof(buf));
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
	return origin_conn_write(c, resp, strlen(resp));
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
	return origin_parse_length(num, n);
}

/* The path is name, with or without a query. */
static int
is_path(const char *path, const char *name)
{
	size_t k = strlen(name);

	return strncmp(path, name, k) == 0 &&
	       (path[k] == '\0' || path[k] == '?');
}

/* The endpoints that describe this origin rather than serve content:
 * 1 when path is one of them (*rc as for origin_dispatch), else 0. */
static int
self_dispatch(struct origin_conn *c, struct origin_req *r, int *rc)
{
	char msg[160];

	if (is_path(r->path, "/whoami") && origin_opts.name != NULL) {
		snprintf(msg, sizeof(msg), "%s\n", origin_opts.name);
		*rc = origin_send_simple(c, r, 200, msg);
	} else if (is_path(r->path, "/healthz")) {
		if (origin_opts.health_file != NULL &&
		    access(origin_opts.health_file, F_OK) == 0)
			*rc = origin_send_simple(c, r, 503, "unhealthy\n");
		else
			*rc = origin_send_simple(c, r, 200, "ok\n");
	} else if (is_path(r->path, "/count")) {
		snprintf(msg, sizeof(msg), "%lu\n",
		         atomic_load(&origin_served));
		*rc = origin_send_simple(c, r, 200, msg);
	} else if (is_path(r->path, "/proxy")) {
		origin_proxy_describe(c, msg, sizeof(msg));
		*rc = origin_send_simple(c, r, 200, msg);
	} else if (is_path(r->path, "/ws")) {
		*rc = origin_websocket(c, r);
	} else {
		return 0;
	}
	return 1;
}

static int
is_upload(const struct origin_req *r)
{
	return strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0;
}

/* Routes one parsed request; 0 to keep the connection, -1 to close. */
int
origin_dispatch(struct origin_conn *c, struct origin_req *r)
{
	const char *p = r->path;
	uint64_t n;
	int rc;

	/* watching the count, or a balancer's health checks, must not move
	 * it: balancing tests compare it with the requests they sent */
	if (!is_path(p, "/count") && !is_path(p, "/healthz"))
		atomic_fetch_add(&origin_served, 1);
	if (origin_fault_dispatch(c, r, &rc))
		return rc;
	if (strcmp(p, "/echo") == 0 || strcmp(p, "/sink") == 0) {
		if (is_upload(r))
			return p[1] == 'e' ? do_echo(c, r) : do_sink(c, r);
		if (origin_body_drain(c, r) < 0)
			return -1;
		return origin_send_simple(c, r, 405, "POST or PUT\n");
	}
	/* every other endpoint ignores a request body */
	if (send_100(c, r) < 0 || origin_body_drain(c, r) < 0)
		return -1;
	if (self_dispatch(c, r, &rc))
		return rc;
	if (path_num(p, "/size/", &n) == 0)
		return send_pattern(c, r, n, 0);
	if (path_num(p, "/close/", &n) == 0)
		return send_pattern(c, r, n, 1);
	if (path_num(p, "/chunked/", &n) == 0)
		return send_chunked(c, r, n);
	if (path_num(p, "/status/", &n) == 0)
		return do_status(c, r, n);
	if (path_num(p, "/slow/", &n) == 0) {
		origin_sleep_ms(n > ORIGIN_MAX_SLOW_MS ? ORIGIN_MAX_SLOW_MS
		                                       : (int)n);
		return origin_send_simple(c, r, 200, "slow\n");
	}
	if (strcmp(p, "/headers") == 0)
		return origin_send_simple(c, r, 200, c->head);
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
	return origin_send_simple(c, r, 404, "not found\n");
}
