/*
 * A request head has been parsed: check it is a request a forward proxy
 * serves, choose how its body is framed, and write the head the origin
 * gets (origin-form target, Host from the URI, hop-by-hop fields removed,
 * Via and optionally X-Forwarded-For added).
 */
#include "worker/session.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sock.h"
#include "worker/stats.h"
#include "worker/worker.h"

static int
copy_host(struct session *s, const char *b, struct http_span host)
{
	uint32_t i;

	if (host.len == 0 || host.len >= sizeof(s->host)) {
		http_error_send(s, 400, "bad host in request target");
		return -1;
	}
	for (i = 0; i < host.len; i++)
		s->host[i] = (char)tolower((unsigned char)b[host.off + i]);
	s->host[host.len] = '\0';
	return 0;
}

static int
connect_target(struct session *s, const char *b)
{
	struct http_span host;

	if (http_parse_authority(b, s->req.target, &host, &s->port) < 0) {
		http_error_send(s, 400, "bad CONNECT target");
		return -1;
	}
	if (copy_host(s, b, host) < 0)
		return -1;
	if (!dest_policy_port_allowed(s->listen, s->port)) {
		http_error_send(s, 403, "CONNECT to a port not allowed");
		return -1;
	}
	s->tunnel = 1;
	return 0;
}

static int
absolute_target(struct session *s, const char *b)
{
	struct http_uri u;

	if (s->req.target_form != HTTP_TARGET_ABSOLUTE) {
		http_error_send(s, 400, "not an absolute URI (forward proxy)");
		return -1;
	}
	if (http_parse_absolute(b, s->req.target, &u) < 0) {
		http_error_send(s, 400, "only http:// URIs (https: CONNECT)");
		return -1;
	}
	if (copy_host(s, b, u.host) < 0)
		return -1;
	s->port = u.port;
	s->path = u.path;
	/* Per listener: listeners may differ in what they let clients
	 * reach, and a pooled connection must not carry one's permission
	 * over to another. */
	snprintf(s->pool_key, sizeof(s->pool_key), "%u|%s:%u",
	         (unsigned)(s->listen - worker.cfg->listens), s->host,
	         (unsigned)s->port);
	return 0;
}

void
proxy_request_framing(struct session *s)
{
	if (s->req.flags & HTTP_F_CHUNKED)
		body_init(&s->reqb, BODY_CHUNKED, BODY_CHUNKED, 0);
	else if (s->req.flags & HTTP_F_CL)
		body_init(&s->reqb, BODY_LENGTH, BODY_LENGTH,
		          s->req.content_length);
	else
		body_init(&s->reqb, BODY_NONE, BODY_NONE, 0);
}

/* Does a Via value name us as one of its hops?  Each hop is
 * "protocol received-by [comment]", hops separated by commas; ours is
 * "HOST (proxyd)" after the protocol. */
static int
names_us(const char *v, size_t len)
{
	const char *name = worker.via + 4; /* past "1.1 " */
	size_t n = strlen(name), i = 0;
	const char *hit;

	while (i + n <= len && (hit = memmem(v + i, len - i, name, n))) {
		size_t at = (size_t)(hit - v), end = at + n;

		if (at > 0 && v[at - 1] == ' ' &&
		    (end == len || v[end] == ',' || v[end] == ' '))
			return 1;
		i = at + 1;
	}
	return 0;
}

/* Our own Via in the request: it went round and came back. */
static int
looped(struct session *s, const char *b)
{
	const struct http_field *f;
	unsigned from = 0;

	while ((f = http_msg_field(&s->req, b, "via", &from)) != NULL)
		if (names_us(b + f->value.off, f->value.len))
			return 1;
	return 0;
}

void
proxy_request_ready(struct session *s)
{
	const char *b = buf_head(s->cli.in);
	int rc;

	access_log_capture(s);
	if (s->listen->mode == LISTEN_ADMIN) {
		admin_request(s);
		return;
	}
	STATS_INC(requests);
	if (looped(s, b)) {
		http_error_send(s, 508, "forwarding loop (our Via came back)");
		return;
	}
	if (s->listen->mode == LISTEN_REVERSE) {
		reverse_request(s);
		return;
	}
	if (s->req.method == HTTP_METHOD_CONNECT)
		rc = connect_target(s, b);
	else
		rc = absolute_target(s, b);
	if (rc < 0 || access_rules_request(s) < 0)
		return;
	if (!s->tunnel)
		proxy_request_framing(s);
	upstream_start(s);
}

static int
start_line(struct session *s, struct buf *out, const char *b)
{
	const struct http_span *m = &s->req.method_name, *p = &s->path;
	const char *slash = (p->len == 0 || b[p->off] == '?') ? "/" : "";
	int v6 = strchr(s->host, ':') != NULL;
	char port[8] = "";

	if (s->port != 80)
		snprintf(port, sizeof(port), ":%u", (unsigned)s->port);
	return http_head_printf(
	        out, "%.*s %s%.*s HTTP/1.1\r\nHost: %s%s%s%s\r\n", (int)m->len,
	        b + m->off, slash, (int)p->len, b + p->off, v6 ? "[" : "",
	        s->host, v6 ? "]" : "", port);
}

int
proxy_request_framing_fields(struct session *s, struct buf *out, const char *b)
{
	const struct http_field *f;
	unsigned from = 0;

	if (s->reqb.in == BODY_LENGTH)
		return http_head_content_length(out, s->req.content_length);
	if (s->reqb.in != BODY_CHUNKED)
		return 0;
	/* Keep the codings the client applied; we re-chunk the body. */
	while ((f = http_msg_field(&s->req, b, "transfer-encoding", &from)))
		if (http_head_printf(out, "Transfer-Encoding: %.*s\r\n",
		                     (int)f->value.len, b + f->value.off) < 0)
			return -1;
	return 0;
}

static int
forwarded_for(struct session *s, struct buf *out, const char *b)
{
	const struct http_field *f;
	char ip[SOCK_ADDRSTRLEN];
	unsigned from = 0;

	if (!s->listen->x_forwarded_for) {
		/* Not ours to add, and not ours to remove either. */
		while ((f = http_msg_field(&s->req, b, "x-forwarded-for",
		                           &from)))
			if (http_head_printf(out, "X-Forwarded-For: %.*s\r\n",
			                     (int)f->value.len,
			                     b + f->value.off) < 0)
				return -1;
		return 0;
	}
	sock_ip_str((const struct sockaddr *)&s->peer, ip, sizeof(ip));
	if (http_head_printf(out, "X-Forwarded-For: ") < 0)
		return -1;
	while ((f = http_msg_field(&s->req, b, "x-forwarded-for", &from)))
		if (http_head_printf(out, "%.*s, ", (int)f->value.len,
		                     b + f->value.off) < 0)
			return -1;
	return http_head_printf(out, "%s\r\n", ip);
}

/* The client's fields we do not copy: the ones we write ourselves, plus
 * Accept-Encoding when a response content rule asks for identity, and
 * Expect when the proxy read the body (and sent the 100) itself.  skip
 * holds at least 6 entries. */
static const char *const *
skip_list(const struct session *s, int identity, const char **skip)
{
	unsigned n = 0;

	skip[n++] = "host";
	skip[n++] = "content-length";
	skip[n++] = "x-forwarded-for";
	if (identity)
		skip[n++] = "accept-encoding";
	if (s->expect_answered)
		skip[n++] = "expect";
	skip[n] = NULL;
	return skip;
}

/* Methods a server may see twice (RFC 9110 9.2.2). */
static int
idempotent(enum http_method m)
{
	return m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD ||
	       m == HTTP_METHOD_OPTIONS || m == HTTP_METHOD_PUT ||
	       m == HTTP_METHOD_DELETE || m == HTTP_METHOD_TRACE;
}

/* A pooled connection may have been closed by the origin just as we
 * sent on it; a bodiless request can then be sent again on a fresh one,
 * so keep its head (from `from` in out: after a PROXY header) until the
 * first response byte.  A reverse request is also moved to another
 * server when one closes without answering, if it is idempotent. */
static void
keep_for_retry(struct session *s, const struct buf *out, size_t from)
{
	size_t len = buf_len(out) - from;

	if (s->reqb.in != BODY_NONE ||
	    (s->backend < 0 ? !s->up_reused : !idempotent(s->req.method)))
		return;
	s->retry_head = malloc(len);
	if (s->retry_head) {
		memcpy(s->retry_head, out->data + out->start + from, len);
		s->retry_len = len;
	}
}

static int
forward_head_write(struct session *s, struct buf *out, const char *b,
                   int identity)
{
	const char *skip[6];

	return start_line(s, out, b) < 0 ||
	                       http_head_copy_fields(
	                               out, &s->req, b,
	                               skip_list(s, identity, skip)) < 0 ||
	                       (identity &&
	                        http_head_printf(
	                                out, "Accept-Encoding: identity\r\n") <
	                                0) ||
	                       proxy_request_framing_fields(s, out, b) < 0 ||
	                       forwarded_for(s, out, b) < 0 ||
	                       http_head_field(out, "Via", worker.via,
	                                       worker.via_len) < 0 ||
	                       http_head_put(out, "\r\n", 2) < 0
	               ? -1
	               : 0;
}

int
proxy_send_request_head(struct session *s)
{
	struct buf *out = side_out(&s->up);
	const char *b;
	size_t before = out ? buf_len(out) : 0;
	int identity, rc;

	if (!out) {
		http_error_send(s, 503, "out of memory");
		return -1;
	}
	if (s->retry_head) { /* the retry: the client's head is gone */
		buf_append(out, s->retry_head, s->retry_len);
		if (s->backend < 0) { /* forward: one retry only */
			free(s->retry_head);
			s->retry_head = NULL;
		}
		http_msg_init(&s->resp, s->fields, &worker.limits);
		return 0;
	}
	b = session_head(s);
	/* a response content rule may apply: ask for an uncompressed body */
	identity = content_scan_wants_identity(s);
	rc = s->backend >= 0 ? reverse_head_write(s, out, b)
	                     : forward_head_write(s, out, b, identity);
	if (rc < 0) {
		http_error_send(s, 431, "request head too large to forward");
		return -1;
	}
	keep_for_retry(s, out, before);
	if (!s->head_copy) {
		/* a response content rule may refuse later, naming the URL */
		if (identity && content_scan_keep_head(s) < 0) {
			http_error_send(s, 503, "out of memory");
			return -1;
		}
		buf_consume(s->cli.in, s->req.head_len);
	}
	http_msg_init(&s->resp, s->fields, &worker.limits);
	return 0;
}
