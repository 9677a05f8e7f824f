/*
 * The heads of reverse requests: who the client is (the peer, or what a
 * trusted proxy's X-Forwarded-For says), the request head a server gets
 * (the client's target and Host, X-Forwarded-For/-Proto/-Host, optional
 * Forwarded and X-Real-IP/True-Client-IP, Upgrade when the route allows
 * it), the response fields hidden from clients, and the switch to a
 * tunnel when a server accepts an Upgrade.
 */
#include "worker/session.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/config_reverse.h"
#include "common/sock.h"
#include "worker/backend.h"
#include "worker/stats.h"
#include "worker/worker.h"

/* Per listener: content-length and its hide_headers, NULL-terminated. */
static const char *resp_skip[CONFIG_MAX_LISTENS][CONFIG_MAX_HIDE + 2];

void
reverse_init(const struct config *cfg)
{
	unsigned i, j;

	for (i = 0; i < cfg->n_listens; i++) {
		const struct config_listen *l = &cfg->listens[i];

		resp_skip[i][0] = "content-length";
		for (j = 0; j < l->n_hide; j++)
			resp_skip[i][j + 1] = l->hide[j];
		resp_skip[i][j + 1] = NULL;
	}
}

const char *const *
reverse_response_skip(const struct session *s)
{
	return resp_skip[s->listen - worker.cfg->listens];
}

static int
trusted(const struct session *s, const struct sockaddr *sa)
{
	return config_cidr_match(s->listen->trusted, s->listen->n_trusted, sa);
}

/* One X-Forwarded-For item (an IP, maybe with brackets or a port) into
 * ss.  0 or -1. */
static int
parse_hop(const char *v, size_t len, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char ip[64];

	if (len && v[0] == '[') { /* [v6]:port */
		const char *end = memchr(v, ']', len);

		if (!end)
			return -1;
		len = (size_t)(end - v - 1);
		v++;
	}
	if (len == 0 || len >= sizeof(ip))
		return -1;
	memcpy(ip, v, len);
	ip[len] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	if (strchr(ip, ':') && strchr(ip, ':') == strrchr(ip, ':'))
		*strchr(ip, ':') = '\0'; /* 1.2.3.4:port */
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		return 0;
	}
	return -1;
}

/* From the right of the X-Forwarded-For list (the last field's last item
 * first): the first address that is not a trusted proxy is the client. */
static void
from_forwarded_for(struct session *s, const char *b)
{
	const struct http_field *f[16];
	struct sockaddr_storage hop;
	unsigned n = 0, from = 0;
	int k;

	while (n < 16 &&
	       (f[n] = http_msg_field(&s->req, b, "x-forwarded-for", &from)))
		n++;
	for (k = (int)n - 1; k >= 0; k--) {
		const char *v = b + f[k]->value.off;
		size_t end = f[k]->value.len, item, start, e;

		while (end > 0) {
			item = end;
			while (item > 0 && v[item - 1] != ',')
				item--;
			start = item;
			e = end;
			while (start < e &&
			       (v[start] == ' ' || v[start] == '\t'))
				start++;
			while (e > start &&
			       (v[e - 1] == ' ' || v[e - 1] == '\t'))
				e--;
			if (parse_hop(v + start, e - start, &hop) < 0)
				return; /* garbage: believe no further */
			s->client = hop;
			if (!trusted(s, (const struct sockaddr *)&hop))
				return;
			end = item > 0 ? item - 1 : 0; /* before the comma */
		}
	}
}

void
reverse_client_address(struct session *s, const char *b)
{
	s->client = s->peer;
	s->peer_trusted = s->listen->n_trusted &&
	                  trusted(s, (const struct sockaddr *)&s->peer);
	if (s->peer_trusted)
		from_forwarded_for(s, b);
}

/* The client's fields we do not copy: those we write ourselves, and the
 * forwarding fields of a client we do not trust. */
static const char *const *
skip_list(const struct session *s, const char **skip)
{
	static const char *const forwarding[] = {
	        "x-forwarded-proto", "x-forwarded-host", "forwarded",
	        "x-real-ip",         "true-client-ip",   NULL};
	unsigned n = 0, i;

	skip[n++] = "host";
	skip[n++] = "content-length";
	skip[n++] = "x-forwarded-for";
	if (s->expect_answered)
		skip[n++] = "expect";
	if (!s->peer_trusted)
		for (i = 0; forwarding[i]; i++)
			skip[n++] = forwarding[i];
	else if (s->listen->real_ip_header != REAL_IP_OFF)
		skip[n++] = s->listen->real_ip_header == REAL_IP_X_REAL_IP
		                    ? "x-real-ip"
		                    : "true-client-ip";
	skip[n] = NULL;
	return skip;
}

/* The Host the client asked for, as it wrote it: the absolute-form
 * target's authority (RFC 9112 3.2.2), else the Host field. */
static struct http_span
host_value(const struct session *s, const char *b, const char **base)
{
	struct http_span none = {0, 0};

	*base = b;
	if (s->req.target_form == HTTP_TARGET_ABSOLUTE)
		return s->authority;
	if (s->req.flags & HTTP_F_HOST)
		return s->req.host;
	*base = s->host;
	none.len = (uint32_t)strlen(s->host);
	return none;
}

/* The Host the head carries, found once per request. */
struct host_ref {
	const char *base;
	struct http_span span;
};

static int
start_line(struct session *s, struct buf *out, const char *b,
           const struct host_ref *host)
{
	const struct http_span *m = &s->req.method_name, *p = &s->path;
	const char *slash = (p->len == 0 || b[p->off] == '?') ? "/" : "";
	const char *hb = host->base;
	struct http_span h = host->span;

	return http_head_put(out, b + m->off, m->len) < 0 ||
	                       http_head_put(out, " ", 1) < 0 ||
	                       http_head_puts(out, slash) < 0 ||
	                       http_head_put(out, b + p->off, p->len) < 0 ||
	                       http_head_put(out, " HTTP/1.1\r\n", 11) < 0 ||
	                       http_head_field(out, "Host", hb + h.off, h.len) <
	                               0
	               ? -1
	               : 0;
}

static int
has(const struct session *s, const char *b, const char *name)
{
	unsigned from = 0;

	return http_msg_field(&s->req, b, name, &from) != NULL;
}

/* X-Forwarded-For (appended to a trusted proxy's), -Proto, -Host. */
static int
forwarded_fields(struct session *s, struct buf *out, const char *b,
                 const char *ip, const struct host_ref *host)
{
	const struct http_field *f;
	const char *hb = host->base;
	struct http_span h = host->span;
	int keep = s->peer_trusted;
	unsigned from = 0;

	if (http_head_puts(out, "X-Forwarded-For: ") < 0)
		return -1;
	while (keep &&
	       (f = http_msg_field(&s->req, b, "x-forwarded-for", &from)))
		if (http_head_put(out, b + f->value.off, f->value.len) < 0 ||
		    http_head_put(out, ", ", 2) < 0)
			return -1;
	if (http_head_puts(out, ip) < 0 || http_head_put(out, "\r\n", 2) < 0)
		return -1;
	if ((!keep || !has(s, b, "x-forwarded-proto")) &&
	    http_head_puts(out, s->cli.ssl ? "X-Forwarded-Proto: https\r\n"
	                                   : "X-Forwarded-Proto: http\r\n") < 0)
		return -1;
	if ((!keep || !has(s, b, "x-forwarded-host")) && h.len &&
	    http_head_field(out, "X-Forwarded-Host", hb + h.off, h.len) < 0)
		return -1;
	return 0;
}

/* RFC 7239: for= the peer (quoted when IPv6), proto, host. */
static int
rfc7239(struct session *s, struct buf *out, const char *ip,
        const struct host_ref *host)
{
	const char *hb = host->base;
	struct http_span h = host->span;
	int v6 = s->peer.ss_family == AF_INET6;

	if (!s->listen->forwarded)
		return 0;
	return http_head_printf(
	        out, "Forwarded: for=%s%s%s;proto=%s%s%.*s%s\r\n",
	        v6 ? "\"[" : "", ip, v6 ? "]\"" : "",
	        s->cli.ssl ? "https" : "http", h.len ? ";host=\"" : "",
	        (int)h.len, hb + h.off, h.len ? "\"" : "");
}

static int
real_ip(struct session *s, struct buf *out)
{
	char ip[SOCK_ADDRSTRLEN];
	enum real_ip_header r = s->listen->real_ip_header;

	if (r == REAL_IP_OFF)
		return 0;
	sock_ip_str((const struct sockaddr *)&s->client, ip, sizeof(ip));
	return http_head_printf(
	        out, "%s: %s\r\n",
	        r == REAL_IP_X_REAL_IP ? "X-Real-IP" : "True-Client-IP", ip);
}

static int
upgrade_fields(struct session *s, struct buf *out, const char *b)
{
	const struct http_field *f;
	unsigned from = 0;

	if (!s->upgrade || !(f = http_msg_field(&s->req, b, "upgrade", &from)))
		return 0;
	return http_head_printf(out, "Connection: upgrade\r\nUpgrade: %.*s\r\n",
	                        (int)f->value.len, b + f->value.off);
}

int
reverse_head_write(struct session *s, struct buf *out, const char *b)
{
	const char *skip[12];
	char ip[SOCK_ADDRSTRLEN];
	struct host_ref host;

	host.span = host_value(s, b, &host.base);
	sock_ip_str((const struct sockaddr *)&s->peer, ip, sizeof(ip));
	if (start_line(s, out, b, &host) < 0 ||
	    http_head_copy_fields(out, &s->req, b, skip_list(s, skip)) < 0 ||
	    upgrade_fields(s, out, b) < 0 ||
	    proxy_request_framing_fields(s, out, b) < 0 ||
	    forwarded_fields(s, out, b, ip, &host) < 0 ||
	    rfc7239(s, out, ip, &host) < 0 || real_ip(s, out) < 0)
		return -1;
	/* our Via still goes to the server: it is how a loop is seen */
	return http_head_field(out, "Via", worker.via, worker.via_len) < 0 ||
	                       http_head_put(out, "\r\n", 2) < 0
	               ? -1
	               : 0;
}

/* The server switched protocols for an allowed Upgrade: its 101 goes to
 * the client, then bytes flow both ways as in a CONNECT tunnel.  1 when
 * switched, 0 when answered with an error. */
int
reverse_upgrade(struct session *s)
{
	struct buf *out = side_out(&s->cli);
	const struct http_field *f;
	const char *b = buf_head(s->up.in);
	unsigned from = 0;

	if (!s->upgrade || !s->reqb.done ||
	    !(f = http_msg_field(&s->resp, b, "upgrade", &from))) {
		http_error_send(s, 502, "upstream switched protocols");
		return 0;
	}
	if (!out || proxy_response_head_fields(s, out) < 0 ||
	    http_head_printf(out,
	                     "Connection: upgrade\r\nUpgrade: %.*s\r\n\r\n",
	                     (int)f->value.len, b + f->value.off) < 0) {
		http_error_send(s, 502, "response head too large");
		return 0;
	}
	proxy_response_started(s);
	buf_consume(s->up.in, s->resp.head_len);
	STATS_INC(backend_upgrades);
	s->tunnel = 1;
	s->keep_client = 0;
	s->state = SESSION_TUNNEL;
	session_set_timer(s, &worker.q_tunnel_idle);
	return 1;
}
