/*
 * The error log: one line per event, "time [level] role[pid]: message",
 * written with one write(2) so lines from several processes never mix.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include "common/config-t.h"

/* Where lines go: "stderr" or a file path (opened O_APPEND, mode 0640).
 * Returns 0, or -1 with err set; the old target stays on failure. */
int log_open(const char *target, char *err, size_t errlen);
void log_set_level(enum log_level level);
/* "master", "worker 2": shown in each line. */
void log_set_role(const char *role);
/* The fd lines go to (for dup2 onto stderr when daemonized). */
int log_fd(void);
int log_enabled(enum log_level level);
/* The descriptor lines actually travel on (a file, stderr, or the syslog
 * socket): what a forked worker must keep open. */
int log_carrier_fd(void);

void log_msg(enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                         \
	do {                                                   \
		if (log_enabled(LOG_LEVEL_DEBUG))              \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
