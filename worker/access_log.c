/*
 * The access log: one line per request or tunnel, built by the format's
 * builder (access_log_combined.c, access_log_json.c) and sent where
 * access_log says.  To a file or stderr, lines are gathered in a buffer
 * written when it fills and once a second, so the loop never waits for
 * the disk on every request.  To syslog, each line is one non-blocking
 * datagram (common/syslog.c): a receiver that falls behind loses lines,
 * counted and reported, and never stalls the traffic.
 */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "common/syslog.h"
#include "worker/access_log.h"
#include "worker/event.h"
#include "worker/worker.h"

#define LOG_BUF 65536
#define DROP_REPORT_MS 60000 /* at most one "lines dropped" a minute */

_Static_assert(SESSION_HOST_MAX - 1 <= ACCESS_LOG_HOST_MAX,
               "a session's host fits a log line's host");
_Static_assert(ACCESS_LOG_LINE_MAX < LOG_BUF, "a line fits the buffer");

static const uint16_t part_max[ACCESS_LOG_NPARTS] = {
        [ACCESS_LOG_METHOD] = ACCESS_LOG_METHOD_MAX,
        [ACCESS_LOG_URL] = ACCESS_LOG_URL_MAX,
        [ACCESS_LOG_REFERER] = ACCESS_LOG_FIELD_MAX,
        [ACCESS_LOG_USER_AGENT] = ACCESS_LOG_FIELD_MAX,
};

static access_log_build_fn *const builders[] = {
        [ACCESS_LOG_COMBINED] = access_log_combined,
        [ACCESS_LOG_JSON] = access_log_json,
};

static int alog_fd = -1;
static struct syslog_sink alog_sink = SYSLOG_SINK_CLOSED;
static access_log_build_fn *alog_build = access_log_combined;
static char log_buf[LOG_BUF];
static size_t log_len;
static struct event_timer flush_timer;
static unsigned long drops_reported;
static uint64_t drops_reported_at;

static int
log_on(void)
{
	return alog_fd >= 0 || alog_sink.fd >= 0;
}

/* Lines a busy syslog receiver lost, said once in a while: not per line,
 * or the error log would flood when the access log does. */
static void
report_drops(void)
{
	unsigned long n = alog_sink.dropped - drops_reported;

	if (n == 0 || event_now() - drops_reported_at < DROP_REPORT_MS)
		return;
	log_warn("access log: %lu lines dropped (syslog receiver busy)", n);
	drops_reported = alog_sink.dropped;
	drops_reported_at = event_now();
}

static void
on_flush_timer(struct event_timer *t)
{
	access_log_flush();
	report_drops();
	event_timer_after(t, 1000);
}

static int
open_file(const char *path, char *err, size_t errlen)
{
	int fd;

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
	syslog_sink_close(&alog_sink);
	return 0;
}

static int
open_syslog(const char *target, char *err, size_t errlen)
{
	struct syslog_sink s;

	if (syslog_sink_open(&s, target, "access", err, errlen) < 0)
		return -1;
	s.dropped = alog_sink.dropped; /* reopened (SIGUSR1): keep counting */
	access_log_flush();
	if (alog_fd >= 0)
		close(alog_fd);
	alog_fd = -1;
	syslog_sink_close(&alog_sink);
	alog_sink = s;
	return 0;
}

static access_log_build_fn *
builder(void)
{
	enum access_log_format f = worker.cfg ? worker.cfg->access_log_format
	                                      : ACCESS_LOG_COMBINED;

	if ((size_t)f >= sizeof(builders) / sizeof(builders[0]) || !builders[f])
		return access_log_combined;
	return builders[f];
}

int
access_log_open(const char *path, char *err, size_t errlen)
{
	if (!path[0]) {
		access_log_close();
		return 0;
	}
	if ((syslog_is_target(path) ? open_syslog(path, err, errlen)
	                            : open_file(path, err, errlen)) < 0)
		return -1;
	alog_build = builder();
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
			break; /* disk full or gone: drop, don't spin */
		off += (size_t)n;
	}
	log_len = 0;
}

void
access_log_close(void)
{
	access_log_flush();
	report_drops();
	if (alog_fd >= 0)
		close(alog_fd);
	alog_fd = -1;
	syslog_sink_close(&alog_sink);
	event_timer_stop(&flush_timer);
}

/* ---- capture ------------------------------------------------------- */

struct access_log_req *
access_log_req_new(const struct access_log_text parts[ACCESS_LOG_NPARTS],
                   unsigned version)
{
	struct access_log_req *r;
	size_t total = 0, len[ACCESS_LOG_NPARTS], off = 0;
	int i;

	for (i = 0; i < ACCESS_LOG_NPARTS; i++) {
		len[i] = parts[i].p ? parts[i].len : 0;
		if (len[i] > part_max[i])
			len[i] = part_max[i];
		total += len[i];
	}
	r = malloc(sizeof(*r) + total);
	if (!r)
		return NULL;
	r->version = version;
	for (i = 0; i < ACCESS_LOG_NPARTS; i++) {
		r->len[i] = (uint16_t)len[i];
		if (len[i])
			memcpy(r->data + off, parts[i].p, len[i]);
		off += len[i];
	}
	return r;
}

const char *
access_log_req_part(const struct access_log_req *r, enum access_log_part i,
                    size_t *len)
{
	size_t off = 0;
	int k;

	for (k = 0; k < (int)i; k++)
		off += r->len[k];
	*len = r->len[i];
	return r->data + off;
}

static struct access_log_text
field(struct session *s, const char *b, const char *name)
{
	struct access_log_text t = {NULL, 0};
	const struct http_field *f;
	unsigned from = 0;

	f = http_msg_field(&s->req, b, name, &from);
	if (f) {
		t.p = b + f->value.off;
		t.len = f->value.len;
	}
	return t;
}

/* Saves what the log line needs from the request head, which is consumed
 * before the line is written: one allocation, raw bytes (the format's
 * builder escapes them). */
void
access_log_capture(struct session *s)
{
	const char *b = buf_head(s->cli.in);
	struct access_log_text t[ACCESS_LOG_NPARTS];

	/* On a kept-alive connection these still name the previous request's
	 * destination; parsing this request's target sets them again, so a
	 * line for a request refused before that says null, not a lie. */
	s->host[0] = '\0';
	s->port = 0;
	if (!log_on())
		return;
	t[ACCESS_LOG_METHOD].p = b + s->req.method_name.off;
	t[ACCESS_LOG_METHOD].len = s->req.method_name.len;
	t[ACCESS_LOG_URL].p = b + s->req.target.off;
	t[ACCESS_LOG_URL].len = s->req.target.len;
	t[ACCESS_LOG_REFERER] = field(s, b, "referer");
	t[ACCESS_LOG_USER_AGENT] = field(s, b, "user-agent");
	free(s->log_req);
	s->log_req = access_log_req_new(t, s->req.version);
}

/* ---- writing ------------------------------------------------------- */

/* The entry for a session; its strings live in the caller's buffers. */
static void
fill(struct access_log_entry *e, struct session *s, char *peer, char *up,
     char *tls)
{
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &e->time);
	e->client = sock_ip_str((const struct sockaddr *)&s->peer, peer,
	                        SOCK_ADDRSTRLEN);
	e->client_port = sock_port((const struct sockaddr *)&s->peer);
	e->req = s->log_req;
	if (e->req && s->host[0]) {
		e->host = s->host;
		e->port = s->port;
	}
	e->status = s->status;
	e->bytes_in = s->cli.nread;
	e->bytes_out = s->cli.nwritten + (s->cli.out ? buf_len(s->cli.out) : 0);
	if (s->up_addr.ss_family)
		e->upstream =
		        sock_addr_str((const struct sockaddr *)&s->up_addr, up,
		                      SOCK_ADDRSTRLEN);
	e->duration_ms = event_now() - s->started;
	e->tunnel = s->tunnel;
	e->user = s->user[0] ? s->user : NULL;
	e->rule = s->rule_name;
	e->action = s->rule_action;
	e->tls_sni = s->sni_known && s->sni[0] ? s->sni : NULL;
	e->tls = tls_describe(s->cli.ssl, tls, ACCESS_LOG_TLS_MAX);
}

/* Into the buffer, flushing first when the line does not fit. */
static void
buffer_line(const struct access_log_entry *e)
{
	size_t n = alog_build(log_buf + log_len, LOG_BUF - log_len, e);

	if (n == 0 && log_len > 0) {
		access_log_flush();
		n = alog_build(log_buf, LOG_BUF, e);
	}
	if (n == 0)
		return; /* cannot happen: a line fits an empty buffer */
	log_buf[log_len + n] = '\n'; /* over the builder's NUL */
	log_len += n + 1;
}

void
access_log_write(struct session *s)
{
	static char line[ACCESS_LOG_LINE_MAX];
	char peer[SOCK_ADDRSTRLEN], up[SOCK_ADDRSTRLEN],
	        tls[ACCESS_LOG_TLS_MAX];
	struct access_log_entry e;
	size_t n;

	s->logged = 1;
	if (!log_on())
		return;
	fill(&e, s, peer, up, tls);
	if (alog_sink.fd < 0) {
		buffer_line(&e);
		return;
	}
	n = alog_build(line, sizeof(line), &e);
	if (n > 0)
		(void)syslog_sink_send(&alog_sink, SYSLOG_SEV_INFO, line, n);
}
