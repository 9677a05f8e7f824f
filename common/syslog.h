/*
 * Syslog output (RFC 5424) for the error and access logs: datagrams to the
 * local daemon's socket /dev/log, or over UDP to a server named in the
 * target "syslog:IP:PORT".  The formatter is a pure function, so the unit
 * tests drive it without sockets.  Sending never blocks the caller: a
 * datagram the receiver cannot take now is dropped and counted, because a
 * slow log server must not slow the traffic being logged.
 */
#ifndef COMMON_SYSLOG_H
#define COMMON_SYSLOG_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

/* Largest datagram sent, header included; longer ones are cut, never split
 * (RFC 5426 receivers must take 480 bytes and should take 2048). */
#define SYSLOG_MSG_MAX 2048
#define SYSLOG_DEV_LOG "/dev/log"
#define SYSLOG_APP_NAME "proxyd"
#define SYSLOG_FACILITY_DAEMON 3 /* RFC 5424 6.2.1 */

enum syslog_severity {
	SYSLOG_SEV_ERR = 3,
	SYSLOG_SEV_WARNING = 4,
	SYSLOG_SEV_INFO = 6,
	SYSLOG_SEV_DEBUG = 7,
};

/* The header fields before MSG.  Fields with bytes RFC 5424 forbids are
 * sanitized when formatted, empty ones become the NILVALUE "-". */
struct syslog_head {
	unsigned facility;
	enum syslog_severity severity;
	struct timespec time; /* CLOCK_REALTIME */
	const char *hostname;
	long pid;
	const char *msgid; /* "access", "error" */
};

/* An open destination; fd < 0 when closed. */
struct syslog_sink {
	int fd;
	int local; /* AF_UNIX: reconnect when the daemon restarts */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *msgid;
	char hostname[256];
	unsigned long dropped; /* datagrams lost since it was opened */
};

#define SYSLOG_SINK_CLOSED \
	{                  \
		.fd = -1   \
	}

/* 1 for "syslog" and "syslog:...", the targets this module handles. */
int syslog_is_target(const char *target);

/* RFC 3339 UTC with milliseconds, "2024-05-01T12:34:56.789Z", NUL-ended.
 * Returns the length (24), or 0 when cap is too small. */
size_t syslog_timestamp(char *out, size_t cap, const struct timespec *ts);

/* "<PRI>1 TIMESTAMP HOSTNAME proxyd PROCID MSGID - MSG" into out, cut to
 * fit both cap - 1 and SYSLOG_MSG_MAX bytes, NUL-ended.  CR, LF and other
 * control bytes of msg are escaped (\n, \r, \xHH) so that a message stays
 * one line in the receiver's files; an escape is never cut in half.
 * Returns the length. */
size_t syslog_format(char *out, size_t cap, const struct syslog_head *h,
                     const char *msg, size_t len);

/* Opens target ("syslog" or "syslog:IP:PORT") into s, non-blocking and
 * close-on-exec; msgid must outlive s.  0, or -1 with err set (s closed). */
int syslog_sink_open(struct syslog_sink *s, const char *target,
                     const char *msgid, char *err, size_t errlen);
void syslog_sink_close(struct syslog_sink *s);
/* Formats and sends one message.  0, or -1 when it was dropped (counted
 * in s->dropped). */
int syslog_sink_send(struct syslog_sink *s, enum syslog_severity sev,
                     const char *msg, size_t len);

#endif
