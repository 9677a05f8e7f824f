/*
 * The test origin's misbehaving endpoints (listed in origin.h): origins
 * that answer before reading an upload, send interim responses, name
 * Content-Length in Connection, reset a close-delimited body, drop a
 * pooled connection, or stop reading.  Each is what a real origin does
 * now and then, and each once tripped proxyd
 * (tests/integration/check_regressions.c).
 */
#include <poll.h>
#include <string.h>

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
	write_str(c, "HTTP/1.1 413 Content Too Large\r\nServer: origin\r\n"
	             "Content-Length: 0\r\nConnection: close\r\n\r\n");
	return -1;
}

/* /early-hints: a 103, a pause, then the final answer. */
static int
early_hints(struct origin_conn *c, struct origin_req *r)
{
	if (origin_body_drain(c, r) < 0 ||
	    write_str(c, "HTTP/1.1 103 Early Hints\r\n"
	                 "Link: </style.css>; rel=preload\r\n\r\n") < 0)
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
	                       "HTTP/1.1 200 OK\r\nServer: origin\r\n"
	                       "Connection: Content-Length%s\r\n"
	                       "Content-Length: 2\r\n\r\n",
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
	write_str(c, "HTTP/1.0 200 OK\r\nServer: origin\r\n\r\nhello, partial");
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
	else
		return 0;
	return 1;
}
