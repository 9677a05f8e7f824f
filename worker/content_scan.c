/*
 * Content rules (req_body, resp_body): a body some rule may refuse is read
 * whole, decoded, up to the rules' body_scan_limit, before any of it goes
 * on: so a refused upload never reaches the origin and a refused page
 * never reaches the client.  What was read then goes first (the prefix),
 * and the rest of the body, if any, streams after it as usual.  A body
 * that cannot be read whole (over the limit, or compressed) is refused or
 * passed unscanned as body_scan_overflow says: never silently unscanned.
 */
#include "worker/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "worker/stats.h"
#include "worker/worker.h"

#define PREFIX_ROOM 32 /* before the body: room for a chunk header */

/* The index of the deciding rule: content rules before it may refuse. */
static unsigned
upto(const struct session *s)
{
	return s->rstate.rule ? s->rstate.rule->id - 1 : worker.rules->n;
}

static const char *
media_type(const struct http_msg *m, const char *b, char *out, size_t cap)
{
	const struct http_field *f;
	unsigned from = 0;

	f = http_msg_field(m, b, "content-type", &from);
	if (!f)
		return NULL;
	snprintf(out, cap, "%.*s", (int)f->value.len, b + f->value.off);
	return out;
}

#define SCAN_FIRST 65536 /* grown by doubling up to the limit */

/* A buffer for the body, with room for chunk framing around it (8 bytes
 * kept past cap for a "\r\n"); buf_put() frees it, its size not being
 * the pool's. */
static struct buf *
scan_buf(void)
{
	/* one byte over the limit: a body of exactly the limit still has
	 * room to read its end (a chunked body's last chunk), and a body
	 * that fills it is over the limit */
	size_t want = worker.rules->body_scan_limit + 1 < SCAN_FIRST
	                      ? worker.rules->body_scan_limit + 1
	                      : SCAN_FIRST;
	struct buf *b = malloc(sizeof(*b) + PREFIX_ROOM + want + 8);

	if (b) {
		b->start = b->end = PREFIX_ROOM;
		b->cap = PREFIX_ROOM + want;
		b->next_free = NULL;
	}
	return b;
}

/* Doubles a full scan buffer, up to body_scan_limit: memory follows the
 * body's size, not the limit.  0, or -1 at the limit (or no memory). */
static int
grow(struct buf **bp)
{
	size_t limit = PREFIX_ROOM + worker.rules->body_scan_limit + 1;
	size_t cap = (*bp)->cap * 2 > limit ? limit : (*bp)->cap * 2;
	struct buf *b;

	if ((*bp)->cap >= limit || !(b = realloc(*bp, sizeof(*b) + cap + 8)))
		return -1;
	b->cap = cap;
	*bp = b;
	return 0;
}

/* Frames the read part as one chunk when the body goes on chunked. */
static void
frame_prefix(struct buf *b, enum body_kind out)
{
	char head[24];
	int n;

	if (out != BODY_CHUNKED || buf_len(b) == 0)
		return;
	n = snprintf(head, sizeof(head), "%zx\r\n", buf_len(b));
	b->start -= (size_t)n;
	memcpy(b->data + b->start, head, (size_t)n);
	b->cap += 8;
	buf_append(b, "\r\n", 2);
}

static const struct rule *
match(struct session *s, int resp, const char *ctype, const struct buf *b)
{
	struct rules_request rq;
	char method[32];

	access_rules_describe(s, &rq, method, sizeof(method));
	rq.dst = (const struct sockaddr *)&s->up_addr;
	return rules_body_match(worker.rules, worker.rules_scratch, &rq,
	                        upto(s), resp, ctype, b->data + b->start,
	                        buf_len(b), worker.rule_hits);
}

static int
applies(struct session *s, int resp, const char *ctype, int check_type)
{
	struct rules_request rq;
	char method[32];

	/* the rules are an egress policy: reverse listeners do not run
	 * them, on heads or on bodies */
	if (!worker.rules || s->backend >= 0 ||
	    s->rstate.action != RULE_allow ||
	    !(resp ? worker.rules->has_resp_body : worker.rules->has_req_body))
		return 0;
	access_rules_describe(s, &rq, method, sizeof(method));
	rq.dst = (const struct sockaddr *)&s->up_addr;
	return rules_body_pending(worker.rules, worker.rules_scratch, &rq,
	                          upto(s), resp, ctype, check_type);
}

/* More than body_scan_limit bytes (the buffer holds one byte more), or
 * the body did not end within them. */
static int
over_limit(const struct session *s)
{
	return !s->scanb.done ||
	       buf_len(s->scan) > worker.rules->body_scan_limit;
}

/* Refuses on a content rule (or the overflow policy when rl is NULL). */
static void
refuse(struct session *s, const struct rule *rl, const char *why)
{
	s->rule_name = rl ? rl->name : why;
	s->rule_action = "deny";
	STATS_INC(rules_denied);
	if (s->up.io.fd >= 0)
		side_close(&s->up);
	buf_put(s->scan);
	s->scan = NULL;
	http_block_send(s, rl);
}

/* Keeps a copy of the request head: cli.in moves past it while the body
 * is read, and a response refused later still names the URL. */
int
content_scan_keep_head(struct session *s)
{
	if (s->head_copy)
		return 0;
	s->head_copy = malloc(s->req.head_len);
	if (!s->head_copy)
		return -1;
	memcpy(s->head_copy, buf_head(s->cli.in), s->req.head_len);
	return 0;
}

/* A response content rule may apply: ask the origin for an uncompressed
 * body (and keep the head for a block page). */
int
content_scan_wants_identity(struct session *s)
{
	return applies(s, 1, NULL, 0);
}

/* Upstream connected: 1 when the request body is read for the rules
 * first (state SESSION_SCAN), 0 when it streams as usual. */
int
content_scan_request_begin(struct session *s)
{
	char ct[256];
	const char *ctype;

	if (s->reqb.done)
		return 0; /* no body */
	ctype = media_type(&s->req, buf_head(s->cli.in), ct, sizeof(ct));
	if (!applies(s, 0, ctype, 1))
		return 0;
	if (content_scan_keep_head(s) < 0 || !(s->scan = scan_buf())) {
		http_error_send(s, 503, "out of memory");
		return 1;
	}
	buf_consume(s->cli.in, s->req.head_len);
	/* the origin sees no head until the body is judged: the 100 the
	 * client waits for comes from us, and Expect is not passed on */
	if ((s->req.flags & HTTP_F_EXPECT_100) && s->req.version == 11 &&
	    side_out(&s->cli))
		buf_append(s->cli.out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	s->expect_answered = (s->req.flags & HTTP_F_EXPECT_100) != 0;
	s->scanb = s->reqb;
	s->scanb.out = BODY_LENGTH; /* decoded, unframed */
	s->scan_resp = 0;
	s->state = SESSION_SCAN;
	session_set_timer(s, &worker.q_client_idle);
	return 1;
}

/* The read part goes first, then the rest streams (overflow) or nothing
 * does (the whole body was read). */
static void
request_go_on(struct session *s, int whole)
{
	enum body_kind out = s->reqb.out;

	if (whole) {
		s->req.content_length = buf_len(s->scan);
		s->req.flags =
		        (s->req.flags & ~(unsigned)HTTP_F_CHUNKED) | HTTP_F_CL;
		body_init(&s->reqb, BODY_LENGTH, BODY_LENGTH, 0);
	} else {
		s->reqb = s->scanb; /* the decoder goes on from here */
		s->reqb.out = out;
		frame_prefix(s->scan, out);
	}
	s->prefix = s->scan;
	s->scan = NULL;
	s->state = SESSION_PROXYING;
	proxy_arm_timer(s);
	(void)proxy_send_request_head(s);
}

int
content_scan_request_step(struct session *s)
{
	const struct rule *rl;
	char ct[256];
	int p = side_write(&s->cli, s->cli.out, 0), r; /* the 100 */

	p |= side_read(&s->cli, 0);
	if (buf_space(s->scan) == 0)
		(void)grow(&s->scan);
	r = body_move(&s->scanb, s->cli.in, s->cli.eof, s->scan);
	if (r < 0) {
		http_error_send(s, 400, "bad chunked request body");
		return 0;
	}
	p |= r;
	if (!s->scanb.done && buf_space(s->scan) == 0 && grow(&s->scan) == 0)
		return 1;
	if (!s->scanb.done && buf_space(s->scan) > 0) {
		if (s->cli.eof && !(s->cli.in && buf_len(s->cli.in)))
			session_close(s); /* gave up mid-body */
		return p;
	}
	/* what was read is judged either way: a refused word in the part
	 * read refuses the body even when the rest could not be read */
	rl = match(s, 0, media_type(&s->req, session_head(s), ct, sizeof(ct)),
	           s->scan);
	if (rl)
		refuse(s, rl, NULL);
	else if (over_limit(s) && worker.rules->body_overflow_deny)
		refuse(s, NULL, "body_scan_overflow");
	else
		request_go_on(s, s->scanb.done);
	return 1;
}

/* A coded body (gzip, br, ...) cannot be scanned as it comes. */
static int
encoded(struct session *s)
{
	const char *b = buf_head(s->up.in);
	const struct http_field *f;
	unsigned from = 0;

	while ((f = http_msg_field(&s->resp, b, "content-encoding", &from)))
		if (!http_span_eq(b, f->value, "identity"))
			return 1;
	return 0;
}

/* Final response head parsed: 1 when it is held back while the body is
 * read for the rules (or it was refused), 0 when it goes on as usual. */
int
content_scan_response_begin(struct session *s)
{
	const char *ctype;

	/* no head kept: when the request went out no response rule could
	 * apply to it (content_scan_wants_identity said no) */
	if (s->respb.done || !worker.rules || !s->head_copy)
		return 0;
	ctype = media_type(&s->resp, buf_head(s->up.in), s->scan_ctype,
	                   sizeof(s->scan_ctype));
	if (!applies(s, 1, ctype, 1))
		return 0;
	if (encoded(s)) {
		if (!worker.rules->body_overflow_deny)
			return 0; /* passed unscanned, by policy */
		refuse(s, NULL, "body_scan_encoded");
		return 1;
	}
	if (!(s->held = buf_get()) || !(s->scan = scan_buf()) ||
	    proxy_response_head_fields(s, s->held) < 0) {
		http_error_send(s, 502, "cannot hold the response");
		return 1;
	}
	if (!ctype)
		s->scan_ctype[0] = '\0';
	buf_consume(s->up.in, s->resp.head_len);
	s->scanb = s->respb;
	s->scanb.out = BODY_LENGTH; /* decoded, unframed */
	s->scan_resp = 1;
	s->resp_head_done = 1;
	return 1;
}

/* The held head goes out with framing for what follows. */
static void
response_go_on(struct session *s, int whole)
{
	enum body_kind out = s->respb.out;
	char framing[64] = "";

	if (whole) {
		snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n",
		         buf_len(s->scan));
		body_init(&s->respb, BODY_LENGTH, BODY_LENGTH, 0);
	} else {
		s->respb = s->scanb;
		s->respb.out = out;
		if (out == BODY_CHUNKED)
			snprintf(framing, sizeof(framing),
			         "Transfer-Encoding: chunked\r\n");
		else if (out == BODY_LENGTH)
			snprintf(framing, sizeof(framing),
			         "Content-Length: %llu\r\n",
			         (unsigned long long)s->resp.content_length);
		frame_prefix(s->scan, out);
	}
	if (proxy_response_head_finish(s, s->held, framing) < 0 ||
	    (buf_len(s->cli.out ? s->cli.out : s->held) && s->cli.out &&
	     buf_append(s->cli.out, buf_head(s->held), buf_len(s->held)) < 0)) {
		http_error_send(s, 502, "response head too large");
		return;
	}
	if (!s->cli.out || !buf_len(s->cli.out)) {
		buf_put(s->cli.out);
		s->cli.out = s->held;
	} else {
		buf_put(s->held);
	}
	s->held = NULL;
	s->cprefix = s->scan;
	s->scan = NULL;
	proxy_response_started(s);
}

int
content_scan_response_step(struct session *s)
{
	int eof = s->up.eof && !s->up.failed;
	const struct rule *rl;
	int r;

	if (buf_space(s->scan) == 0)
		(void)grow(&s->scan);
	r = body_move(&s->scanb, s->up.in, eof, s->scan);
	if (!s->scanb.done && buf_space(s->scan) == 0 && grow(&s->scan) == 0)
		return 1;
	if (r < 0 || (!s->scanb.done && buf_space(s->scan) > 0 && s->up.eof &&
	              !(s->up.in && buf_len(s->up.in)))) {
		session_close(s); /* cut short: no answer is right */
		return 0;
	}
	if (!s->scanb.done && buf_space(s->scan) > 0)
		return r;
	rl = match(s, 1, s->scan_ctype[0] ? s->scan_ctype : NULL, s->scan);
	if (!rl && over_limit(s)) {
		if (worker.rules->body_overflow_deny)
			refuse(s, NULL, "body_scan_overflow");
		else
			response_go_on(s, s->scanb.done);
		return 1;
	}
	if (rl)
		refuse(s, rl, NULL);
	else
		response_go_on(s, 1);
	return 1;
}
