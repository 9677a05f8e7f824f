/*
 * Error log.  Each line is formatted into a stack buffer and written with a
 * single write(2) on an O_APPEND descriptor, so master and workers can
 * share one file without interleaving and without locks.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_target = STDERR_FILENO;
static enum log_level log_level_cur = LOG_LEVEL_INFO;
static char log_role[32] = "proxyd";

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int
log_open(const char *target, char *err, size_t errlen)
{
	int fd;

	if (target[0] == '\0' || strcmp(target, "stderr") == 0) {
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

int
log_fd(void)
{
	return log_target;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m, saved = errno;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " [%s] %s[%d]: ",
		      level_names[level], log_role, (int)getpid());
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_target, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing log; drop the line. */
	}
	errno = saved;
}
