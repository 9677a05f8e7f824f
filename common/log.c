/*
 * Error log.  Each line is formatted into a stack buffer and written with a
 * single write(2) on an O_APPEND descriptor, so master and workers can
 * share one file without interleaving and without locks.  With a syslog
 * target each line is one datagram instead (common/syslog.c), sent on a
 * socket the workers inherit; the receiver stamps nothing, we do.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/syslog.h"

static int log_target = STDERR_FILENO;
static struct syslog_sink log_sink = SYSLOG_SINK_CLOSED;
static unsigned long log_sink_reported; /* drops already reported */
static enum log_level log_level_cur = LOG_LEVEL_INFO;
static char log_role[32] = "proxyd";

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARN] = "warn",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

static const enum syslog_severity level_severity[] = {
        [LOG_LEVEL_ERROR] = SYSLOG_SEV_ERR,
        [LOG_LEVEL_WARN] = SYSLOG_SEV_WARNING,
        [LOG_LEVEL_INFO] = SYSLOG_SEV_INFO,
        [LOG_LEVEL_DEBUG] = SYSLOG_SEV_DEBUG,
};

/* Switches to a syslog target; the old target stays if it cannot open. */
static int
open_syslog(const char *target, char *err, size_t errlen)
{
	struct syslog_sink s;

	if (syslog_sink_open(&s, target, "error", err, errlen) < 0)
		return -1;
	syslog_sink_close(&log_sink);
	log_sink = s;
	log_sink_reported = 0;
	if (log_target != STDERR_FILENO)
		close(log_target);
	log_target = STDERR_FILENO;
	return 0;
}

int
log_open(const char *target, char *err, size_t errlen)
{
	int fd;

	if (syslog_is_target(target))
		return open_syslog(target, err, errlen);
	if (target[0] == '\0' || strcmp(target, "stderr") == 0) {
		syslog_sink_close(&log_sink);
		if (log_target != STDERR_FILENO)
			close(log_target);
		log_target = STDERR_FILENO;
		return 0;
	}
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", target, strerror(errno));
		return -1;
	}
	syslog_sink_close(&log_sink);
	if (log_target != STDERR_FILENO)
		close(log_target);
	log_target = fd;
	return 0;
}

void
log_set_level(enum log_level level)
{
	log_level_cur = level;
}

void
log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

/* With a syslog target this is stderr: a daemon then points stderr at
 * /dev/null rather than making stray writes into malformed datagrams, and
 * a worker sees nothing to reopen (a datagram socket has no file to
 * rotate). */
int
log_fd(void)
{
	return log_target;
}

int
log_carrier_fd(void)
{
	return log_sink.fd >= 0 ? log_sink.fd : log_target;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

/* "time [level] role[pid]: message\n" with one write(2). */
static void
write_line(enum log_level level, const char *msg, size_t len)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " [%s] %s[%d]: %.*s",
	              level_names[level], log_role, (int)getpid(), (int)len,
	              msg);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_target, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing log; drop the line. */
	}
}

/* One datagram per line.  The header carries time, pid and (in PRI) the
 * level, so MSG is "role: message".  Lines lost to a busy receiver are
 * owned up to as soon as one gets through again. */
static void
send_syslog(enum log_level level, const char *msg, size_t len)
{
	char line[SYSLOG_MSG_MAX];
	int n;

	n = snprintf(line, sizeof(line), "%s: %.*s", log_role, (int)len, msg);
	n = n < (int)sizeof(line) ? n : (int)sizeof(line) - 1;
	if (syslog_sink_send(&log_sink, level_severity[level], line,
	                     (size_t)n) < 0 ||
	    log_sink.dropped == log_sink_reported)
		return;
	n = snprintf(line, sizeof(line),
	             "%s: %lu error log lines dropped (syslog receiver busy)",
	             log_role, log_sink.dropped - log_sink_reported);
	if (syslog_sink_send(&log_sink, SYSLOG_SEV_WARNING, line, (size_t)n) ==
	    0)
		log_sink_reported = log_sink.dropped;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int n, saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n >= (int)sizeof(msg))
		n = (int)sizeof(msg) - 1;
	if (log_sink.fd >= 0)
		send_syslog(level, msg, (size_t)n);
	else
		write_line(level, msg, (size_t)n);
	errno = saved;
}
