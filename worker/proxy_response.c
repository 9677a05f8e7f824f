/*
 * The proxying phase of a request: the request body flows to the origin
 * while the response head and body flow back, both at once (an origin may
 * answer before the upload ends, and Expect: 100-continue needs the 100 to
 * reach the client while the body waits).
 */
#include "worker/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker/backend.h"
#include "worker/stats.h"
#include "worker/worker.h"

static int
buffered(const struct buf *b)
{
	return b && buf_len(b) > 0;
}

/* The origin stopped taking the body (it answered early, or failed):
 * stop sending it; the response decides what the client gets. */
static void
abandon_request_body(struct session *s)
{
	s->reqb.done = 1;
	s->req_abandoned = 1; /* the rest of it must never parse as a
	                       * request: this connection ends here */
	s->keep_client = 0;
	if (s->up.out)
		buf_consume(s->up.out, buf_len(s->up.out));
}

static int
request_half(struct session *s)
{
	int p = 0, r;

	if (!s->reqb.done && !s->prefix) { /* the read part goes first */
		p |= side_read(&s->cli, 0);
		r = body_forward(&s->reqb, s->cli.in, s->cli.eof, &s->up, 1);
		if (r < 0) {
			http_error_send(s, 400, "bad chunked request body");
			return 0;
		}
		p |= r;
		if (!s->reqb.done && s->cli.eof && !buffered(s->cli.in)) {
			session_close(s); /* client gave up mid-body */
			return 0;
		}
	}
	p |= side_write(&s->up, s->up.out, 1);
	if (s->prefix && !buffered(s->up.out) &&
	    (p |= side_write(&s->up, s->prefix, 1), !buffered(s->prefix))) {
		buf_put(s->prefix);
		s->prefix = NULL;
	}
	if (s->up.failed && !s->req_sent)
		abandon_request_body(s);
	if (s->reqb.done && !buffered(s->up.out) && !s->prefix)
		s->req_sent = 1;
	return p;
}

static enum body_kind
response_body_in(const struct session *s)
{
	const struct http_msg *r = &s->resp;

	if (s->req.method == HTTP_METHOD_HEAD || r->status < 200 ||
	    r->status == 204 || r->status == 304)
		return BODY_NONE;
	if (r->flags & HTTP_F_CHUNKED)
		return BODY_CHUNKED;
	if (r->flags & HTTP_F_TE)
		return BODY_CLOSE;
	if (r->flags & HTTP_F_CL)
		return BODY_LENGTH;
	return BODY_CLOSE;
}

/* Framing fields are written by us, from what the parser understood:
 * never copied, never removed by a Connection field's say-so. */
static const char *const response_skip[] = {"content-length", NULL};

/* Status line and end-to-end fields of the response, as the client gets
 * them.  Transfer-Encoding is written by the caller. */
static int
response_head_common(struct session *s, struct buf *out, const char *b)
{
	const struct http_span *r = &s->resp.reason;
	const char *const *skip =
	        s->backend >= 0 ? reverse_response_skip(s) : response_skip;

	return http_head_put(out, "HTTP/1.1 ", 9) < 0 ||
	                       http_head_putu(out, s->resp.status) < 0 ||
	                       http_head_put(out, " ", 1) < 0 ||
	                       http_head_put(out, b + r->off, r->len) < 0 ||
	                       http_head_put(out, "\r\n", 2) < 0 ||
	                       http_head_copy_fields(out, &s->resp, b, skip) < 0
	               ? -1
	               : 0;
}

static int
framing_field(struct session *s, struct buf *out, const char *b)
{
	const struct http_field *f;
	unsigned from = 0;
	/* A bodiless answer (HEAD, 304) describes its fields as the full
	 * response would: pass them on as they are. */
	int keep_te =
	        s->respb.in == BODY_NONE ||
	        (s->respb.out == BODY_CHUNKED && s->respb.in == BODY_CHUNKED) ||
	        (s->respb.out == BODY_CLOSE && (s->resp.flags & HTTP_F_TE) &&
	         !(s->resp.flags & HTTP_F_CHUNKED));

	if (keep_te) {
		while ((f = http_msg_field(&s->resp, b, "transfer-encoding",
		                           &from)))
			if (http_head_printf(out, "Transfer-Encoding: %.*s\r\n",
			                     (int)f->value.len,
			                     b + f->value.off) < 0)
				return -1;
	} else if (s->respb.out == BODY_CHUNKED &&
	           http_head_printf(out, "Transfer-Encoding: chunked\r\n") <
	                   0) {
		return -1;
	}
	/* length bodies, and HEAD and 304 answers (never with chunked) */
	if ((s->resp.flags & HTTP_F_CL) && s->respb.out != BODY_CHUNKED)
		return http_head_content_length(out, s->resp.content_length);
	return 0;
}

/* A 1xx other than 101: pass it on to HTTP/1.1 clients and wait for the
 * final response. */
static int
interim_response(struct session *s)
{
	struct buf *out = side_out(&s->cli);
	const char *b = buf_head(s->up.in);

	if (s->resp.status == 101)
		return reverse_upgrade(s);
	if (s->req.version == 11 &&
	    (!out || response_head_common(s, out, b) < 0 ||
	     http_head_printf(out, "\r\n") < 0)) {
		http_error_send(s, 502, "interim response too large");
		return 0;
	}
	http_count_status(s->resp.status);
	buf_consume(s->up.in, s->resp.head_len);
	http_msg_init(&s->resp, s->fields, &worker.limits);
	return 1;
}

static void
choose_response_framing(struct session *s)
{
	enum body_kind in = response_body_in(s), out = in;

	s->keep_client = s->req.version == 11 &&
	                 !(s->req.flags & HTTP_F_CLOSE) && !worker.draining &&
	                 s->reqb.done && !s->req_abandoned;
	if (in == BODY_CHUNKED || in == BODY_CLOSE)
		out = s->req.version == 11 ? BODY_CHUNKED : BODY_CLOSE;
	if (in == BODY_CLOSE && (s->resp.flags & HTTP_F_TE))
		out = BODY_CLOSE; /* codings we cannot re-chunk */
	if (out == BODY_CLOSE)
		s->keep_client = 0;
	body_init(&s->respb, in, out, s->resp.content_length);
}

/* Transfer-Encoding names only chunked (which we can take off). */
static int
te_only_chunked(const struct session *s, const char *b)
{
	const struct http_field *f;
	unsigned from = 0;

	while ((f = http_msg_field(&s->resp, b, "transfer-encoding", &from)))
		if (!http_span_eq(b, f->value, "chunked"))
			return 0;
	return 1;
}

static int
final_response(struct session *s)
{
	struct buf *out = side_out(&s->cli);
	const char *b = buf_head(s->up.in);

	choose_response_framing(s);
	/* An HTTP/1.0 client has no Transfer-Encoding: a body still coded
	 * (gzip, ...) after de-chunking would reach it undeclared. */
	if (s->req.version == 10 && s->respb.in != BODY_NONE &&
	    (s->resp.flags & HTTP_F_TE) && !te_only_chunked(s, b)) {
		http_error_send(s, 502,
		                "transfer coding an HTTP/1.0 client "
		                "cannot receive");
		return 0;
	}
	if (content_scan_response_begin(s))
		return 1; /* the body is read for the rules first */
	if (!out || response_head_common(s, out, b) < 0 ||
	    framing_field(s, out, b) < 0 ||
	    proxy_response_head_finish(s, out, "") < 0) {
		http_error_send(s, 502, "response head too large");
		return 0;
	}
	proxy_response_started(s);
	buf_consume(s->up.in, s->resp.head_len);
	return 1;
}

int
proxy_response_head_fields(struct session *s, struct buf *out)
{
	return response_head_common(s, out, buf_head(s->up.in));
}

/* framing (a field line or ""), Via, Connection, and the end. */
int
proxy_response_head_finish(struct session *s, struct buf *out,
                           const char *framing)
{
	/* a reverse proxy does not name itself to the clients */
	return http_head_puts(out, framing) < 0 ||
	                       (s->backend < 0 &&
	                        http_head_field(out, "Via", worker.via,
	                                        worker.via_len) < 0) ||
	                       (!s->keep_client &&
	                        http_head_puts(out, "Connection: close\r\n") <
	                                0) ||
	                       http_head_put(out, "\r\n", 2) < 0
	               ? -1
	               : 0;
}

void
proxy_response_started(struct session *s)
{
	s->status = s->resp.status;
	s->resp_started = s->resp_head_done = 1;
	http_count_status(s->resp.status);
	if (s->backend >= 0)
		backend_success(s);
}

static int
response_head(struct session *s)
{
	enum http_rc rc;

	if (!buffered(s->up.in)) {
		if (s->up.eof && s->retry_head && s->up.nread == 0)
			return upstream_retry(s);
		if (s->up.eof && s->backend >= 0) {
			(void)tls_upstream_refused(s); /* logs and counts */
			backend_failure(s);
		}
		if (s->up.eof)
			http_error_send(s, 502, "upstream closed, no response");
		return 0;
	}
	free(s->retry_head); /* it answered: no retry needed */
	s->retry_head = NULL;
	rc = http_parse_response(&s->resp, buf_head(s->up.in),
	                         buf_len(s->up.in));
	if (rc == HTTP_ERROR) {
		log_info("%s:%u: bad response: %s", s->host, (unsigned)s->port,
		         s->resp.error_reason ? s->resp.error_reason : "?");
		http_error_send(s, 502, "malformed response from upstream");
		return 0;
	}
	if (rc == HTTP_AGAIN) {
		if (s->up.eof)
			http_error_send(s, 502, "truncated response head");
		return 0;
	}
	return s->resp.status < 200 ? interim_response(s) : final_response(s);
}

static void
request_done(struct session *s)
{
	const struct http_msg *r = &s->resp;
	int reusable = s->respb.in != BODY_CLOSE &&
	               !(r->flags & HTTP_F_CLOSE) &&
	               (r->version == 11 || (r->flags & HTTP_F_KEEPALIVE)) &&
	               s->req_sent && !s->up.eof && !s->up.failed &&
	               !buffered(s->up.in);

	access_log_write(s);
	upstream_release(s, reusable);
	s->served = 1;
	if (s->keep_client && !worker.draining && !s->req_abandoned) {
		session_next_request(s);
		return;
	}
	session_end(s);
}

/* The response went out whole but the client is still sending a body
 * nobody will read: the connection cannot carry another request. */
static void
response_done_early(struct session *s)
{
	access_log_write(s);
	upstream_release(s, 0);
	session_end(s);
}

static int
response_body(struct session *s)
{
	/* a reset is not an end: a close-delimited body must not be taken
	 * as complete when the origin's connection failed */
	int eof = s->up.eof && !s->up.failed;
	int r = body_forward(&s->respb, s->up.in, eof, &s->cli, 0);

	if (r < 0 || (!s->respb.done && s->up.eof && !buffered(s->up.in))) {
		log_info("%s:%u: response body cut short", s->host,
		         (unsigned)s->port);
		session_close(s);
		return -1;
	}
	return r;
}

static int
response_half(struct session *s)
{
	int p = side_read(&s->up, 1), r;

	if (!s->resp_head_done) {
		p |= response_head(s);
		if (s->state != SESSION_PROXYING)
			return p;
	}
	if (s->scan && s->scan_resp)
		return p | content_scan_response_step(s);
	/* the body read for the rules (cprefix) goes before the rest */
	if (s->resp_head_done && !s->respb.done && !s->cprefix) {
		if ((r = response_body(s)) < 0)
			return 0;
		p |= r;
	}
	/* interim responses (100, 103) go out now, not with the final one */
	p |= side_write(&s->cli, s->cli.out, 0);
	if (s->cprefix && !buffered(s->cli.out) &&
	    (p |= side_write(&s->cli, s->cprefix, 0), !buffered(s->cprefix))) {
		buf_put(s->cprefix);
		s->cprefix = NULL;
	}
	if (s->cli.failed) {
		session_close(s);
		return 0;
	}
	if (!s->resp_head_done || !s->respb.done || buffered(s->cli.out) ||
	    s->cprefix)
		return p;
	if (s->req_sent)
		request_done(s);
	else if (!s->keep_client)
		response_done_early(s);
	return 1;
}

int
proxy_step(struct session *s)
{
	int p = request_half(s);

	if (s->state != SESSION_PROXYING)
		return p;
	p |= response_half(s);
	if (p && s->state == SESSION_PROXYING)
		proxy_arm_timer(s);
	return p;
}

/* While the client still owes body bytes, a stall is the client's
 * (client_idle); after that it is the origin's (upstream_response). */
void
proxy_arm_timer(struct session *s)
{
	session_set_timer(s, s->reqb.done ? backend_response_queue(s)
	                                  : &worker.q_client_idle);
}

/* Body bytes are waiting and the origin is not taking them. */
static int
origin_stalled(const struct session *s)
{
	return (buffered(s->cli.in) || buffered(s->up.out)) && !s->up.writable;
}

void
proxy_timeout(struct session *s)
{
	if (s->state == SESSION_RESOLVING || s->state == SESSION_CONNECTING) {
		STATS_INC(timeouts_connect);
		if (tls_upstream_handshaking(s))
			STATS_INC(tls_upstream_failures);
		if (s->backend >= 0)
			(void)reverse_failover(s, 504, "connect timed out");
		else
			http_error_send(s, 504, "upstream connect timed out");
	} else if (s->state == SESSION_TUNNEL) {
		STATS_INC(timeouts_tunnel_idle);
		access_log_write(s);
		session_close(s);
	} else if (!s->reqb.done && !origin_stalled(s)) {
		STATS_INC(timeouts_client_idle);
		http_error_send(s, 408, "request body stalled");
	} else {
		STATS_INC(timeouts_upstream_response);
		backend_failure(s);
		http_error_send(s, 504, "upstream response timed out");
	}
}
