/*
 * Reverse proxying: a request to a reverse listener is routed to a
 * backend, given a server by the backend's balance, and moved to another
 * server when the first cannot take it.  The head the server gets is
 * written by worker/reverse_head.c; the connection itself is made by
 * worker/upstream.c as for forward requests (pool, connect, retry).
 *
 * Failover: a request is moved to another server (up to `retries` times)
 * when its connection failed or timed out before anything was sent, and,
 * for a bodiless idempotent request, when the server closed without
 * answering.  A request whose body went out is never sent twice.
 */
#include "worker/session.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/backend.h"
#include "worker/proxy_protocol.h"
#include "worker/route.h"
#include "worker/stats.h"
#include "worker/worker.h"

/* Host (lower case, no port) from the absolute-form target or the Host
 * field; "" for an HTTP/1.0 request without either. */
static int
request_host(struct session *s, const char *b, struct http_span *path)
{
	struct http_span host = {0, 0};
	struct http_uri u;
	uint16_t port;
	uint32_t i;

	s->authority.len = 0;
	*path = s->req.target;
	if (s->req.target_form == HTTP_TARGET_ABSOLUTE) {
		if (http_parse_absolute(b, s->req.target, &u) < 0)
			return -1;
		host = u.host;
		*path = u.path;
		/* "http://" then the authority, up to the path or query */
		s->authority.off = s->req.target.off + 7;
		for (i = s->authority.off;
		     i < s->req.target.off + s->req.target.len && b[i] != '/' &&
		     b[i] != '?';
		     i++)
			;
		s->authority.len = i - s->authority.off;
	} else if ((s->req.flags & HTTP_F_HOST) &&
	           http_parse_hostport(b, s->req.host, &host, &port) < 0) {
		return -1;
	}
	if (host.len >= sizeof(s->host))
		return -1;
	for (i = 0; i < host.len; i++)
		s->host[i] = (char)tolower((unsigned char)b[host.off + i]);
	s->host[host.len] = '\0';
	s->path = *path;
	return 0;
}

/* Upgrade: allowed when the route lists the protocol the client asks
 * for (the first of its Upgrade list). */
static int
upgrade_allowed(const struct session *s, const char *b,
                const struct config_route *r)
{
	const char *allow = r ? r->upgrade : "websocket";
	const struct http_field *f;
	unsigned from = 0;
	size_t n, al;
	const char *v, *p;

	if (!(s->req.flags & HTTP_F_UPGRADE) ||
	    !(f = http_msg_field(&s->req, b, "upgrade", &from)))
		return 0;
	v = b + f->value.off;
	for (n = 0;
	     n < f->value.len && v[n] != ',' && v[n] != ' ' && v[n] != '/'; n++)
		;
	for (p = allow; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		for (al = 0; p[al] && p[al] != ',' && p[al] != ' '; al++)
			;
		if (al == n && n && strncasecmp(p, v, n) == 0)
			return strcmp(allow, "off") != 0;
		p += al;
	}
	return 0;
}

/* The balance = hash key of this request. */
static uint64_t
request_hash(const struct session *s, const char *b)
{
	const struct config_backend *bk = backends.b[s->backend].cfg;
	const struct http_field *f;
	unsigned from = 0;
	char ip[SOCK_ADDRSTRLEN];

	if (bk->balance != BALANCE_HASH)
		return 0;
	if (bk->hash_kind == HASH_KEY_URI)
		return backend_hash(b + s->req.target.off, s->req.target.len,
		                    0);
	if (bk->hash_kind == HASH_KEY_HEADER &&
	    (f = http_msg_field(&s->req, b, bk->hash_header, &from)))
		return backend_hash(b + f->value.off, f->value.len, 0);
	/* source, and a request without the header */
	sock_ip_str((const struct sockaddr *)&s->client, ip, sizeof(ip));
	return backend_hash(ip, strlen(ip), 0);
}

/* Gives the request a server, or answers 503.  0 or -1. */
static int
choose_server(struct session *s)
{
	const struct config_server *sv;
	/* the hash was taken from the head while it was there: a failover
	 * comes after the head has gone to the first server */
	int i = backend_pick(s, s->balance_hash);

	if (i < 0) {
		STATS_INC(backend_no_server);
		log_info("backend %s: no server up",
		         backends.b[s->backend].cfg->name);
		http_error_send(s, 503, "no server of the backend is up");
		return -1;
	}
	s->server = i;
	backend_attach(s);
	sv = &worker.cfg->servers[i];
	s->addrs.addr[0] = sv->addr;
	s->addrs.len[0] = sv->addrlen;
	s->addrs.n = 1;
	s->addr_next = 0;
	s->port = sock_port((const struct sockaddr *)&sv->addr);
	if (backends.b[s->backend].cfg->send_proxy != SEND_PROXY_OFF) {
		/* the PROXY header speaks for one client: its connections
		 * are that client's only */
		char ip[SOCK_ADDRSTRLEN];

		snprintf(s->pool_key, sizeof(s->pool_key), "r%d|%s", i,
		         sock_addr_str((const struct sockaddr *)&s->client, ip,
		                       sizeof(ip)));
	} else {
		snprintf(s->pool_key, sizeof(s->pool_key), "r%d", i);
	}
	return 0;
}

static void
reverse_route(struct session *s, const char *b)
{
	const struct config_route *r;
	struct http_span path;
	int be;

	if (request_host(s, b, &path) < 0) {
		http_error_send(s, 400, "bad Host");
		return;
	}
	be = route_find(s->listen, s->host, b + path.off, path.len, &r);
	if (be < 0) {
		STATS_INC(route_misses);
		if (be == ROUTE_MISDIRECTED)
			http_error_send(s, 421, "no route names this host");
		else
			http_error_send(s, 404, "no route for this request");
		return;
	}
	s->backend = be;
	s->upgrade = upgrade_allowed(s, b, r);
	reverse_client_address(s, b);
	s->balance_hash = request_hash(s, b);
	proxy_request_framing(s);
	if (choose_server(s) == 0)
		upstream_start(s);
}

void
reverse_request(struct session *s)
{
	const char *b = buf_head(s->cli.in);

	STATS_INC(reverse_requests);
	if (s->req.method == HTTP_METHOD_CONNECT) {
		http_error_send(s, 501, "CONNECT on a reverse listener");
		return;
	}
	if (s->req.target_form != HTTP_TARGET_ORIGIN &&
	    s->req.target_form != HTTP_TARGET_ABSOLUTE) {
		http_error_send(s, 400, "request target not served here");
		return;
	}
	reverse_route(s, b);
}

/* The server failed this request before anything of it was sent (or, if
 * bodiless and idempotent, closed without answering): another server,
 * while retries last.  1 when the request goes on, 0 when answered. */
int
reverse_failover(struct session *s, unsigned status, const char *why)
{
	const struct config_backend *bk = backends.b[s->backend].cfg;

	backend_failure(s);
	upstream_close(s);
	log_info("backend %s: server %s: %s", bk->name,
	         worker.cfg->servers[s->server].name, why);
	if (s->attempts > bk->retries) {
		http_error_send(s, status, why);
		return 0;
	}
	STATS_INC(backend_failovers);
	backend_retry(s);
	s->up_reused = 0;
	s->no_pool = 0;
	if (choose_server(s) < 0)
		return 0;
	upstream_start(s);
	return 1;
}

/* The PROXY header a fresh connection to a send_proxy server starts
 * with: its length, 0 for none, -1 if it cannot be written. */
static int
proxy_header(struct session *s, char *hdr, size_t cap)
{
	enum send_proxy v = backends.b[s->backend].cfg->send_proxy;

	if (v == SEND_PROXY_OFF || s->up_reused)
		return 0;
	return proxy_protocol_write(
	        v == SEND_PROXY_V2 ? 2 : 1, (const struct sockaddr *)&s->client,
	        (const struct sockaddr *)&s->up_addr, hdr, cap);
}

/* A plain server: the header goes first in the request's bytes. */
int
reverse_connected(struct session *s)
{
	char hdr[PROXY_PROTOCOL_WRITE_MAX];
	struct buf *out;
	int n;

	if (worker.cfg->servers[s->server].tls ||
	    (n = proxy_header(s, hdr, sizeof(hdr))) == 0)
		return 0;
	if (n < 0 || !(out = side_out(&s->up))) {
		http_error_send(s, 503, "cannot write the PROXY header");
		return -1;
	}
	buf_append(out, hdr, (size_t)n);
	return 0;
}

/* A tls server: the header goes on the socket before the handshake, as
 * HAProxy and nginx expect it (a just-connected socket takes a hundred
 * bytes at once).  0, or -1 when it could not be sent. */
int
reverse_proxy_before_tls(struct session *s)
{
	char hdr[PROXY_PROTOCOL_WRITE_MAX];
	int n = proxy_header(s, hdr, sizeof(hdr));

	if (n <= 0)
		return n;
	return send(s->up.io.fd, hdr, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}
