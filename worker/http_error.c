/*
 * Error answers from the proxy itself: a small HTML page, always with
 * Connection: close, counted by status (common/tbl/http_errors.h).
 */
#include "worker/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/stats.h"
#include "worker/worker.h"

static const char *
explanation(unsigned status)
{
	switch (status) {
#define HTTP_ERROR(code, counter, text) \
	case code:                      \
		return text;
#include "common/tbl/http_errors.h"
	}
	return "The proxy could not complete the request.";
}

static void
count_error(unsigned status)
{
	switch (status) {
#define HTTP_ERROR(code, counter, text) \
	case code:                      \
		STATS_INC(counter);     \
		break;
#include "common/tbl/http_errors.h"
	}
}

void
http_count_status(unsigned status)
{
	switch (status / 100) {
	case 1:
		STATS_INC(responses_1xx);
		break;
	case 2:
		STATS_INC(responses_2xx);
		break;
	case 3:
		STATS_INC(responses_3xx);
		break;
	case 4:
		STATS_INC(responses_4xx);
		break;
	default:
		STATS_INC(responses_5xx);
		break;
	}
}

/* The page: status, then the html paragraphs (already escaped). */
static int
write_page(struct buf *out, unsigned status, const char *html)
{
	const char *reason = http_status_reason(status);
	char body[4096];
	int n;

	n = snprintf(body, sizeof(body),
	             "<!DOCTYPE html>\n<html><head><title>%u %s</title></head>"
	             "<body><h1>%u %s</h1>%s<hr><p>proxyd</p></body>"
	             "</html>\n",
	             status, reason, status, reason, html);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	return http_head_printf(
	        out,
	        "HTTP/1.1 %u %s\r\nContent-Type: text/html\r\n"
	        "Content-Length: %d\r\nCache-Control: no-store\r\n"
	        "Connection: close\r\n\r\n%s",
	        status, reason, n, body);
}

/* Text into HTML: what a client sent must not become markup. */
static void
html_escape(char *out, size_t cap, const char *in, size_t len)
{
	size_t o = 0, i;
	const char *rep;
	char c[2] = "";

	for (i = 0; i < len && o + 7 < cap; i++) {
		switch (in[i]) {
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '&':
			rep = "&amp;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			c[0] = (unsigned char)in[i] < 0x20 ? '?' : in[i];
			rep = c;
		}
		o += (size_t)snprintf(out + o, cap - o, "%s", rep);
	}
	out[o] = '\0';
}

struct block_vars {
	const char *rule;
	const char *url;
	const char *client;
	const char *message;
	unsigned status;
};

static int block_page_render(struct buf *out, const char *tpl,
                             const struct block_vars *v);
static void answered(struct session *s, unsigned status);
static void send_answer(struct session *s, struct buf *out, unsigned status,
                        int error, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

void
http_error_send(struct session *s, unsigned status, const char *why)
{
	char peer[SOCK_ADDRSTRLEN];
	const char *text = explanation(status);
	struct buf *out;

	log_debug("%s: %u: %s",
	          sock_addr_str((const struct sockaddr *)&s->peer, peer,
	                        sizeof(peer)),
	          status, why);
	/* Too late for a clean answer once any response byte (a final head
	 * or an interim 100) is queued or sent: close instead. */
	if (s->resp_started || (s->cli.out && buf_len(s->cli.out)) ||
	    (s->state == SESSION_PROXYING && s->cli.nwritten) ||
	    !(out = side_out(&s->cli))) {
		session_close(s);
		return;
	}
	send_answer(s, out, status, 1, "<p>%s</p>", text);
}

/* The answer is queued: log it, count it, end the connection. */
static void
answered(struct session *s, unsigned status)
{
	if (s->dnsq)
		dns_cancel(s->dnsq);
	s->dnsq = NULL;
	s->status = status;
	s->resp_started = 1;
	if (session_counted(s))
		http_count_status(status);
	access_log_write(s);
	session_end(s);
}

/* Queues a whole answer built by fmt, logs it and ends the connection. */
static void
send_answer(struct session *s, struct buf *out, unsigned status, int error,
            const char *fmt, ...)
{
	char html[3072];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(html, sizeof(html), fmt, ap);
	va_end(ap);
	buf_consume(out, buf_len(out));
	(void)write_page(out, status, html);
	if (session_counted(s) && error)
		count_error(status);
	answered(s, status);
}

/* A rule said no: the block page names the rule (NULL: the default
 * policy), the URL, the client and the rule's message. */
void
http_block_send(struct session *s, const struct rule *rl)
{
	char url[1024], msg[512], peer[SOCK_ADDRSTRLEN];
	const char *b = s->head_copy || s->cli.in ? session_head(s) : "";
	struct buf *out = side_out(&s->cli);

	if (!out || s->resp_started) {
		session_close(s);
		return;
	}
	const char *name = rl             ? rl->name
	                   : s->rule_name ? s->rule_name
	                                  : "default";
	unsigned status = rl ? rl->status : 403;

	html_escape(url, sizeof(url), b + s->req.target.off, s->req.target.len);
	html_escape(msg, sizeof(msg), rl && rl->message ? rl->message : "",
	            rl && rl->message ? strlen(rl->message) : 0);
	sock_ip_str((const struct sockaddr *)&s->peer, peer, sizeof(peer));
	if (worker.rules && worker.rules->block_page) {
		struct block_vars v = {name, url, peer, msg, status};

		buf_consume(out, buf_len(out));
		if (block_page_render(out, worker.rules->block_page, &v) == 0) {
			answered(s, status);
			return;
		}
		buf_consume(out, buf_len(out)); /* too big: the built-in */
	}
	send_answer(s, out, status, 0,
	            "<p>Access to <code>%s</code> is not allowed by the "
	            "proxy's policy (rule <b>%s</b>).</p>%s%s%s"
	            "<p>Your address: %s</p>",
	            url, name, msg[0] ? "<p>" : "", msg, msg[0] ? "</p>" : "",
	            peer);
}

/* The admin's block page: {rule} {url} {client} {message} {status} are
 * replaced (values already HTML-escaped).  0, or -1 if it does not fit. */
static int
block_page_render(struct buf *out, const char *tpl, const struct block_vars *v)
{
	char body[16384], num[8];
	const char *p = tpl, *val;
	size_t n = 0, len;

	snprintf(num, sizeof(num), "%u", v->status);
	while (*p && n < sizeof(body) - 1) {
		val = !strncmp(p, "{rule}", 6)      ? v->rule
		      : !strncmp(p, "{url}", 5)     ? v->url
		      : !strncmp(p, "{client}", 8)  ? v->client
		      : !strncmp(p, "{message}", 9) ? v->message
		      : !strncmp(p, "{status}", 8)  ? num
		                                    : NULL;
		if (!val) {
			body[n++] = *p++;
			continue;
		}
		p = strchr(p, '}') + 1;
		len = strlen(val);
		if (n + len >= sizeof(body))
			return -1;
		memcpy(body + n, val, len);
		n += len;
	}
	if (*p)
		return -1;
	return http_head_printf(out,
	                        "HTTP/1.1 %u %s\r\nContent-Type: text/html; "
	                        "charset=utf-8\r\nContent-Length: %zu\r\n"
	                        "Cache-Control: no-store\r\nConnection: close"
	                        "\r\n\r\n%.*s",
	                        v->status, http_status_reason(v->status), n,
	                        (int)n, body);
}

/* An answer that is a head only (redirect, authentication request). */
static void __attribute__((format(printf, 3, 4)))
head_only(struct session *s, unsigned status, const char *fmt, ...)
{
	struct buf *out = side_out(&s->cli);
	va_list ap;
	int n;

	if (!out || s->resp_started) {
		session_close(s);
		return;
	}
	buf_consume(out, buf_len(out));
	va_start(ap, fmt);
	n = vsnprintf(buf_tail(out), buf_space(out), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < buf_space(out))
		out->end += (size_t)n;
	answered(s, status);
}

void
http_redirect_send(struct session *s, const char *location)
{
	head_only(s, 302,
	          "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
	          "Content-Length: 0\r\nConnection: close\r\n\r\n",
	          location);
}

/* 407: who are you?  The client retries with Proxy-Authorization. */
void
http_auth_send(struct session *s, const char *realm)
{
	head_only(
	        s, 407,
	        "HTTP/1.1 407 Proxy Authentication Required\r\n"
	        "Proxy-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n"
	        "Content-Length: 0\r\nConnection: close\r\n\r\n",
	        realm);
}
