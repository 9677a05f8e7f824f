/*
 * The access log: one line per request or tunnel, in the combined format
 * followed by the upstream address, bytes received and duration.  Lines
 * are gathered in a buffer written when it fills and once a second, so the
 * loop never waits for the disk on every request.
 */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/event.h"

#define LOG_BUF 65536
#define LOG_FLUSH_AT (LOG_BUF - 4096)
#define LOG_FIELD_MAX 1024

static int alog_fd = -1;
static char log_buf[LOG_BUF];
static size_t log_len;
static struct event_timer flush_timer;

static void
on_flush_timer(struct event_timer *t)
{
	access_log_flush();
	event_timer_after(t, 1000);
}

int
access_log_open(const char *path, char *err, size_t errlen)
{
	int fd;

	if (!path[0]) {
		access_log_close();
		return 0;
	}
	if (strcmp(path, "stderr") == 0)
		fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	else
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	access_log_flush();
	if (alog_fd >= 0)
		close(alog_fd);
	alog_fd = fd;
	if (!event_timer_armed(&flush_timer)) {
		event_timer_init(&flush_timer, on_flush_timer, NULL);
		event_timer_after(&flush_timer, 1000);
	}
	return 0;
}

void
access_log_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (alog_fd >= 0 && off < log_len) {
		n = write(alog_fd, log_buf + off, log_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* disk full or gone: drop, don't spin */
		off += (size_t)n;
	}
	log_len = 0;
}

void
access_log_close(void)
{
	access_log_flush();
	if (alog_fd >= 0)
		close(alog_fd);
	alog_fd = -1;
	event_timer_stop(&flush_timer);
}

/* Copies a span into dst for a quoted log field: quotes, backslashes and
 * control bytes are escaped so a client cannot forge log lines. */
static size_t
escape(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return o;
}

static void
field(char *dst, size_t cap, struct session *s, const char *b,
      const char *name)
{
	const struct http_field *f;
	unsigned from = 0;

	f = http_msg_field(&s->req, b, name, &from);
	if (!f || f->value.len == 0)
		snprintf(dst, cap, "-");
	else
		escape(dst, cap, b + f->value.off, f->value.len);
}

/* Saves what the log line needs from the request head before the head is
 * consumed. */
void
access_log_capture(struct session *s)
{
	const char *b = buf_head(s->cli.in);
	char line[LOG_FIELD_MAX], ref[LOG_FIELD_MAX / 2], ua[LOG_FIELD_MAX / 2];
	size_t n;

	if (alog_fd < 0)
		return;
	n = escape(line, sizeof(line), b + s->req.method_name.off,
		   s->req.target.off + s->req.target.len -
			   s->req.method_name.off);
	snprintf(line + n, sizeof(line) - n, " HTTP/1.%u",
		 s->req.version == 11 ? 1 : 0);
	field(ref, sizeof(ref), s, b, "referer");
	field(ua, sizeof(ua), s, b, "user-agent");
	free(s->log_req);
	/* One allocation: the request line, a NUL, then referer and UA. */
	if (asprintf(&s->log_req, "%s \"%s\" \"%s\"", line, ref, ua) < 0)
		s->log_req = NULL;
	else
		s->log_req[strlen(line)] = '\0';
}

static const char *
clf_time(void)
{
	static char cached[40];
	static time_t cached_at;
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached_at) {
		localtime_r(&now, &tm);
		strftime(cached, sizeof(cached), "%d/%b/%Y:%H:%M:%S %z", &tm);
		cached_at = now;
	}
	return cached;
}

void
access_log_write(struct session *s)
{
	char peer[SOCK_ADDRSTRLEN], up[SOCK_ADDRSTRLEN] = "-";
	const char *req = s->log_req ? s->log_req : "-";
	const char *tail = s->log_req ? req + strlen(req) + 1 : "\"-\" \"-\"";
	int n;

	if (alog_fd < 0)
		return;
	if (log_len >= LOG_FLUSH_AT)
		access_log_flush();
	if (s->up_addr.ss_family)
		sock_addr_str((const struct sockaddr *)&s->up_addr, up,
			      sizeof(up));
	sock_ip_str((const struct sockaddr *)&s->peer, peer, sizeof(peer));
	n = snprintf(log_buf + log_len, LOG_BUF - log_len,
		     "%s - - [%s] \"%s\" %u %llu %s up=%s rx=%llu ms=%llu\n",
		     peer, clf_time(), req, s->status,
		     (unsigned long long)(s->cli.nwritten +
					  (s->cli.out ? buf_len(s->cli.out) : 0)),
		     tail, up,
		     (unsigned long long)s->cli.nread,
		     (unsigned long long)(event_now() - s->started));
	if (n > 0 && (size_t)n < LOG_BUF - log_len)
		log_len += (size_t)n;
	if (log_len >= LOG_FLUSH_AT)
		access_log_flush();
}
