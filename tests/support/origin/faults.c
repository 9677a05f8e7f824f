/*
 * The test origin's misbehaving endpoints (listed in origin.h): origins
 * that answer before reading an upload, send interim responses, name
 * Content-Length in Connection, reset a close-delimited body, drop a
 * pooled connection, or stop reading.  Each is what a real origin does
 * now and then, and each once tripped proxyd
 * (tests/integration/check_regressions.c).  Also two endpoints the content
 * rules suite (check_content_rules.c) drives: /record, which tells the
 * test what reached the origin, and /chunks, a response made of the
 * chunks the test names.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/harness.h"
#include "tests/support/origin/origin.h"

#define FAULT_STALL_MAX_MS (2 * ORIGIN_IDLE_S * 1000)

static int
write_str(struct origin_conn *c, const char *s)
{
	return origin_conn_write(c, s, strlen(s));
}

/* /reject413: refuses the upload unread; closing with the body still in
 * the socket makes the kernel reset the connection. */
static int
reject_413(struct origin_conn *c)
{
	origin_sleep_ms(300);
	c->close_how = ORIGIN_CLOSE_NOW;
	origin_conn_printf(
	        c,
	        "HTTP/1.1 413 Content Too Large\r\nServer: origin\r\n"
	        "%sContent-Length: 0\r\nConnection: close\r\n\r\n",
	        origin_opts.name_field);
	return -1;
}

/* /early-hints: a 103, a pause, then the final answer. */
static int
early_hints(struct origin_conn *c, struct origin_req *r)
{
	if (origin_body_drain(c, r) < 0 ||
	    origin_conn_printf(c,
	                       "HTTP/1.1 103 Early Hints\r\n%s"
	                       "Link: </style.css>; rel=preload\r\n\r\n",
	                       origin_opts.name_field) < 0)
		return -1;
	origin_sleep_ms(500);
	return origin_send_simple(c, r, 200, "hinted\n");
}

/* /conn-cl: Connection names Content-Length, which must not make a
 * proxy drop the body's framing. */
static int
conn_cl(struct origin_conn *c, struct origin_req *r)
{
	if (origin_body_drain(c, r) < 0 ||
	    origin_conn_printf(c,
	                       "HTTP/1.1 200 OK\r\nServer: origin\r\n%s"
	                       "Connection: Content-Length%s\r\n"
	                       "Content-Length: 2\r\n\r\n",
	                       origin_opts.name_field,
	                       r->keep_alive ? "" : ", close") < 0)
		return -1;
	return r->is_head ? 0 : write_str(c, "ok");
}

/* /reset-close: a close-delimited body that ends in a reset. */
static int
reset_close(struct origin_conn *c, struct origin_req *r)
{
	if (origin_body_drain(c, r) < 0)
		return -1;
	c->close_how = ORIGIN_CLOSE_RESET;
	origin_conn_printf(c,
	                   "HTTP/1.0 200 OK\r\nServer: origin\r\n%s\r\n"
	                   "hello, partial",
	                   origin_opts.name_field);
	return -1;
}

/* /close-next: keep-alive answer, then the next request on the
 * connection is read and left unanswered (as an origin closing an idle
 * connection just as the proxy reuses it). */
static int
close_next(struct origin_conn *c, struct origin_req *r)
{
	size_t head_len;

	if (origin_body_drain(c, r) < 0 ||
	    origin_send_simple(c, r, 200, "first\n") < 0 || !r->keep_alive)
		return -1;
	c->close_how = ORIGIN_CLOSE_NOW;
	origin_read_head(c, &head_len);
	return -1;
}

/* /stall-upload: never reads the body nor answers; waits (bounded) for
 * the peer to hang up, watching without reading. */
static int
stall_upload(struct origin_conn *c)
{
	int64_t end = origin_now_ms() + FAULT_STALL_MAX_MS;
	struct pollfd pfd = {c->fd, POLLRDHUP, 0};

	c->close_how = ORIGIN_CLOSE_NOW;
	while (origin_now_ms() < end) {
		if (poll(&pfd, 1, 100) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			break;
	}
	return -1;
}

/* Appends one line to path in a single write (atomic under O_APPEND). */
static void
record_line(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0) {
		/* nothing to do: the test sees the line missing */
	}
	close(fd);
}

/* /record[?TAG]: "head PATH" goes to the X-Record-File file the moment
 * the head is read, "body PATH bytes=N sum=HEX" once the body ended (or
 * the connection did: "cut" instead of "body"); then the /sink answer. */
static int
record(struct origin_conn *c, struct origin_req *r)
{
	struct harness_sum sum = {0, 0};
	char file[1024], line[1200], msg[128];
	uint64_t total = 0;
	ssize_t n;

	if (!origin_head_field(c->head, "X-Record-File", file, sizeof(file)))
		return origin_send_simple(c, r, 400, "no X-Record-File\n");
	snprintf(line, sizeof(line), "head %s\n", r->path);
	record_line(file, line);
	if (r->expect_continue && r->framing != ORIGIN_BODY_NONE &&
	    write_str(c, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
		return -1;
	while ((n = origin_body_read(c, r, c->out, ORIGIN_IO)) > 0) {
		harness_sum_update(&sum, c->out, (size_t)n);
		total += (uint64_t)n;
	}
	snprintf(line, sizeof(line), "%s %s bytes=%llu sum=%016llx\n",
	         n < 0 ? "cut" : "body", r->path, (unsigned long long)total,
	         (unsigned long long)harness_sum_value(&sum));
	record_line(file, line);
	if (n < 0)
		return -1;
	snprintf(msg, sizeof(msg), "bytes=%llu sum=%016llx\n",
	         (unsigned long long)total,
	         (unsigned long long)harness_sum_value(&sum));
	return origin_send_simple(c, r, 200, msg);
}

static int
hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A query value up to '&' or the end, %XX-decoded into out (NUL added
 * for text).  Its decoded length, or -1. */
static ssize_t
query_value(const char *v, char *out, size_t cap)
{
	size_t n = 0;
	int hi, lo;

	for (; *v != '\0' && *v != '&'; v++) {
		if (n + 1 >= cap)
			return -1;
		if (*v != '%') {
			out[n++] = *v;
			continue;
		}
		if ((hi = hex_digit(v[1])) < 0 || (lo = hex_digit(v[2])) < 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		v += 2;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

/* n pattern bytes as chunks of 16 KiB (the last shorter).  0 or -1. */
static int
pattern_chunks(struct origin_conn *c, uint64_t n)
{
	uint64_t off;
	size_t k;
	int h;

	for (off = 0; off < n; off += k) {
		k = n - off < 16384 ? (size_t)(n - off) : 16384;
		h = snprintf(c->out, 32, "%zx\r\n", k);
		harness_pattern_fill(c->out + h, k, off);
		memcpy(c->out + h + k, "\r\n", 2);
		if (origin_conn_write(c, c->out, (size_t)h + k + 2) < 0)
			return -1;
	}
	return 0;
}

/* /chunks?t=TYPE&e=CODING&p=N&c=DATA&c=DATA...: a chunked 200 of N
 * pattern bytes (p, optional), then chunks that are the c values
 * (%XX-decoded), each its own write 30 ms after the last, with
 * Content-Type t and Content-Encoding e when given. */
static int
chunks(struct origin_conn *c, struct origin_req *r)
{
	const char *q = strchr(r->path, '?'), *p;
	char type[256] = "", coding[64] = "", num[24] = "0", extra[512];
	char *data = c->out + 32;
	uint64_t pad;
	ssize_t n;
	int h;

	if (origin_body_drain(c, r) < 0)
		return -1;
	for (p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, "t=", 2) == 0 &&
		    query_value(p + 3, type, sizeof(type)) < 0)
			return origin_send_simple(c, r, 400, "bad t\n");
		if (strncmp(p + 1, "e=", 2) == 0 &&
		    query_value(p + 3, coding, sizeof(coding)) < 0)
			return origin_send_simple(c, r, 400, "bad e\n");
		if (strncmp(p + 1, "p=", 2) == 0 &&
		    query_value(p + 3, num, sizeof(num)) < 0)
			return origin_send_simple(c, r, 400, "bad p\n");
	}
	if (origin_parse_length(num, &pad) < 0)
		return origin_send_simple(c, r, 400, "bad p\n");
	snprintf(extra, sizeof(extra), "%s%s%s%s%s%s%s", origin_opts.name_field,
	         type[0] ? "Content-Type: " : "", type, type[0] ? "\r\n" : "",
	         coding[0] ? "Content-Encoding: " : "", coding,
	         coding[0] ? "\r\n" : "");
	if (origin_conn_printf(
	            c,
	            "HTTP/1.1 200 OK\r\nServer: origin\r\n%s"
	            "Transfer-Encoding: chunked\r\n%s\r\n",
	            extra, r->keep_alive ? "" : "Connection: close\r\n") < 0)
		return -1;
	if (r->is_head)
		return 0;
	if (pattern_chunks(c, pad) < 0)
		return -1;
	for (p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, "c=", 2) != 0)
			continue;
		n = query_value(p + 3, data, ORIGIN_IO);
		if (n <= 0)
			continue; /* an empty chunk would end the body */
		h = snprintf(c->out, 32, "%zx\r\n", (size_t)n);
		memmove(c->out + h, data, (size_t)n);
		memcpy(c->out + h + n, "\r\n", 2);
		origin_sleep_ms(30);
		if (origin_conn_write(c, c->out, (size_t)(h + n + 2)) < 0)
			return -1;
	}
	return write_str(c, "0\r\n\r\n");
}

int
origin_fault_dispatch(struct origin_conn *c, struct origin_req *r, int *rc)
{
	const char *p = r->path;

	if (strcmp(p, "/reject413") == 0)
		*rc = reject_413(c);
	else if (strcmp(p, "/early-hints") == 0)
		*rc = early_hints(c, r);
	else if (strcmp(p, "/conn-cl") == 0)
		*rc = conn_cl(c, r);
	else if (strcmp(p, "/reset-close") == 0)
		*rc = reset_close(c, r);
	else if (strcmp(p, "/close-next") == 0)
		*rc = close_next(c, r);
	else if (strcmp(p, "/stall-upload") == 0)
		*rc = stall_upload(c);
	else if (strncmp(p, "/record", 7) == 0 && (!p[7] || p[7] == '?'))
		*rc = record(c, r);
	else if (strncmp(p, "/chunks?", 8) == 0)
		*rc = chunks(c, r);
	else
		return 0;
	return 1;
}
