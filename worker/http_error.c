/*
 * Error answers from the proxy itself: a small HTML page, always with
 * Connection: close, counted by status (common/tbl/http_errors.h).
 */
#include "worker/session.h"

#include <stdio.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/stats.h"

static const char *
explanation(unsigned status)
{
	switch (status) {
#define HTTP_ERROR(code, counter, text)                                        \
	case code:                                                             \
		return text;
#include "common/tbl/http_errors.h"
	}
	return "The proxy could not complete the request.";
}

static void
count_error(unsigned status)
{
	switch (status) {
#define HTTP_ERROR(code, counter, text)                                        \
	case code:                                                             \
		STATS_INC(counter);                                            \
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

static int
write_page(struct buf *out, unsigned status, const char *text)
{
	const char *reason = http_status_reason(status);
	char body[512];
	int n;

	n = snprintf(body, sizeof(body),
	             "<!DOCTYPE html>\n<html><head><title>%u %s</title></head>"
	             "<body><h1>%u %s</h1><p>%s</p><hr><p>proxyd</p></body>"
	             "</html>\n",
	             status, reason, status, reason, text);
	return http_head_printf(
	        out,
	        "HTTP/1.1 %u %s\r\nContent-Type: text/html\r\n"
	        "Content-Length: %d\r\nCache-Control: no-store\r\n"
	        "Connection: close\r\n\r\n%s",
	        status, reason, n, body);
}

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
	if (s->dnsq)
		dns_cancel(s->dnsq);
	s->dnsq = NULL;
	buf_consume(out, buf_len(out));
	(void)write_page(out, status, text);
	s->status = status;
	s->resp_started = 1;
	if (session_counted(s)) {
		count_error(status);
		http_count_status(status);
	}
	access_log_write(s);
	session_end(s);
}
