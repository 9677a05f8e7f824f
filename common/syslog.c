/*
 * Syslog output (see syslog.h): the RFC 5424 formatter and the datagram
 * sink.  Sockets are connected once at open, so a missing /dev/log or a
 * bad server address is reported then, where the admin sees it, and each
 * message afterwards costs one non-blocking send(2).
 */
#include "common/syslog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/un.h>

#include "common/config.h"

/* RFC 5424 6.2: field lengths; MSGID and APP-NAME are ours, kept short. */
#define HOSTNAME_MAX 255
#define MSGID_MAX 32

int
syslog_is_target(const char *target)
{
	return strcmp(target, "syslog") == 0 ||
	       strncmp(target, "syslog:", 7) == 0;
}

size_t
syslog_timestamp(char *out, size_t cap, const struct timespec *ts)
{
	char sec[64];
	struct tm tm;
	int n;

	if (!gmtime_r(&ts->tv_sec, &tm) ||
	    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return 0;
	n = snprintf(out, cap, "%s.%03ldZ", sec, ts->tv_nsec / 1000000);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* A header field: PRINTUSASCII only (a space would shift every field after
 * it), at most max bytes, the NILVALUE "-" when empty. */
static size_t
token(char *out, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s && s[i] && i < max; i++)
		out[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '-';
	if (i == 0)
		out[i++] = '-';
	out[i++] = ' ';
	return i;
}

/* "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - ": under 400 bytes. */
static size_t
head(char *out, const struct syslog_head *h)
{
	char ts[40], pid[24];
	size_t o;

	if (syslog_timestamp(ts, sizeof(ts), &h->time) == 0)
		snprintf(ts, sizeof(ts), "-");
	snprintf(pid, sizeof(pid), "%ld", h->pid);
	o = (size_t)snprintf(out, 16, "<%u>1 ",
	                     h->facility * 8 + (unsigned)h->severity);
	o += token(out + o, ts, sizeof(ts));
	o += token(out + o, h->hostname, HOSTNAME_MAX);
	o += token(out + o, SYSLOG_APP_NAME, MSGID_MAX);
	o += token(out + o, pid, sizeof(pid));
	o += token(out + o, h->msgid, MSGID_MAX);
	out[o++] = '-'; /* no STRUCTURED-DATA */
	out[o++] = ' ';
	return o;
}

/* The escaped form of one MSG byte into esc; its length. */
static size_t
escape(char *esc, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if ((c >= 0x20 && c != 0x7f) || c == '\t') {
		esc[0] = (char)c;
		return 1;
	}
	esc[0] = '\\';
	if (c == '\n' || c == '\r') {
		esc[1] = c == '\n' ? 'n' : 'r';
		return 2;
	}
	esc[1] = 'x';
	esc[2] = hex[c >> 4];
	esc[3] = hex[c & 15];
	return 4;
}

size_t
syslog_format(char *out, size_t cap, const struct syslog_head *h,
              const char *msg, size_t len)
{
	char hdr[512], esc[4];
	size_t lim, o, i, n;

	if (cap == 0)
		return 0;
	lim = cap - 1 < SYSLOG_MSG_MAX ? cap - 1 : SYSLOG_MSG_MAX;
	o = head(hdr, h);
	o = o < lim ? o : lim;
	memcpy(out, hdr, o);
	for (i = 0; i < len; i++) {
		n = escape(esc, (unsigned char)msg[i]);
		if (o + n > lim)
			break; /* cut, never split: one message, one datagram */
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

/* The socket address of a target. */
static int
resolve(struct syslog_sink *s, const char *target, char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&s->addr;

	memset(&s->addr, 0, sizeof(s->addr));
	s->local = strcmp(target, "syslog") == 0;
	if (s->local) {
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, SYSLOG_DEV_LOG, sizeof(SYSLOG_DEV_LOG));
		s->addrlen = sizeof(*un);
		return 0;
	}
	if (!syslog_is_target(target) ||
	    config_parse_address(target + 7, &s->addr, &s->addrlen) < 0) {
		snprintf(err, errlen, "%s: not syslog or syslog:IP:PORT",
		         target);
		return -1;
	}
	return 0;
}

int
syslog_sink_open(struct syslog_sink *s, const char *target, const char *msgid,
                 char *err, size_t errlen)
{
	int e;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->msgid = msgid;
	if (resolve(s, target, err, errlen) < 0)
		return -1;
	if (gethostname(s->hostname, sizeof(s->hostname)) < 0)
		s->hostname[0] = '\0';
	s->hostname[sizeof(s->hostname) - 1] = '\0';
	s->fd = socket(s->addr.ss_family,
	               SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd >= 0 &&
	    connect(s->fd, (struct sockaddr *)&s->addr, s->addrlen) == 0)
		return 0;
	e = errno;
	if (s->local)
		snprintf(err, errlen,
		         "syslog: " SYSLOG_DEV_LOG ": %s (no local syslog "
		         "daemon? use syslog:IP:PORT or a file)",
		         strerror(e));
	else
		snprintf(err, errlen, "%s: %s", target, strerror(e));
	syslog_sink_close(s);
	return -1;
}

void
syslog_sink_close(struct syslog_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static ssize_t
send_once(struct syslog_sink *s, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* ECONNREFUSED: a local daemon restarted (its socket is new: connect
 * again), or a UDP send reported an ICMP error left by an earlier
 * datagram (this one was not sent).  Either way one retry is worth it. */
static int
retry(struct syslog_sink *s, const char *buf, size_t len)
{
	if (errno != ECONNREFUSED && errno != ENOTCONN)
		return -1;
	if (s->local &&
	    connect(s->fd, (struct sockaddr *)&s->addr, s->addrlen) < 0)
		return -1;
	return send_once(s, buf, len) < 0 ? -1 : 0;
}

int
syslog_sink_send(struct syslog_sink *s, enum syslog_severity sev,
                 const char *msg, size_t len)
{
	char buf[SYSLOG_MSG_MAX + 1];
	struct syslog_head h = {
	        .facility = SYSLOG_FACILITY_DAEMON,
	        .severity = sev,
	        .hostname = s->hostname,
	        .pid = (long)getpid(), /* per message: workers share it */
	        .msgid = s->msgid,
	};
	size_t n;
	int saved = errno;

	if (s->fd < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &h.time);
	n = syslog_format(buf, sizeof(buf), &h, msg, len);
	if (send_once(s, buf, n) < 0 && retry(s, buf, n) < 0) {
		/* EAGAIN: the receiver is behind; waiting would stall the
		 * loop, so this line is lost and counted. */
		s->dropped++;
		errno = saved;
		return -1;
	}
	errno = saved;
	return 0;
}
