/*
 * The access log's line builders and the request facts they need.
 * access_log.c owns the output (a file, stderr or syslog), captures the
 * request's text before its head buffer is consumed, and turns a session
 * into a struct access_log_entry; access_log_combined.c and
 * access_log_json.c turn an entry into one line.  The builders are pure,
 * so the unit tests drive them without a worker.  The life-cycle calls
 * (open, capture, write, flush, close) are declared in worker/session.h.
 */
#ifndef WORKER_ACCESS_LOG_H
#define WORKER_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* The parts of a request head kept for its log line. */
enum access_log_part {
	ACCESS_LOG_METHOD = 0,
	ACCESS_LOG_URL, /* the target as sent: absolute URI or authority */
	ACCESS_LOG_REFERER,
	ACCESS_LOG_USER_AGENT,
	ACCESS_LOG_NPARTS,
};

/* Longest parts kept, in bytes; longer ones are cut (the parser already
 * bounds them by max_uri_size and max_header_size, but those may be large
 * and a log line should not be). */
#define ACCESS_LOG_METHOD_MAX 32
#define ACCESS_LOG_URL_MAX 4096
#define ACCESS_LOG_FIELD_MAX 1024 /* referer, user agent */
/* The entry's own strings (client, host, upstream, user, rule, action,
 * tls_sni, tls) are cut here. */
#define ACCESS_LOG_HOST_MAX 255
#define ACCESS_LOG_TLS_MAX 128 /* "TLSv1.3/TLS_AES_256_GCM_SHA384" */
/* Room for the longest line a builder writes: every byte of every string
 * escaped to six ("\u00XX"), and the keys and numbers. */
#define ACCESS_LOG_LINE_MAX                                         \
	(6 * (ACCESS_LOG_METHOD_MAX + ACCESS_LOG_URL_MAX +          \
	      2 * ACCESS_LOG_FIELD_MAX + 8 * ACCESS_LOG_HOST_MAX) + \
	 1024)

/* The capture: one allocation, the parts' bytes one after the other, as
 * the client sent them (builders escape them).  A length 0 referer or
 * user agent means the field was absent or empty. */
struct access_log_req {
	uint16_t len[ACCESS_LOG_NPARTS];
	unsigned version; /* 10 or 11 */
	char data[];
};

struct access_log_text {
	const char *p;
	size_t len;
};

/* Everything one line says.  NULL strings are unknown or not applicable:
 * "-" in combined, null in JSON. */
struct access_log_entry {
	struct timespec time; /* when the line is written */
	const char *client;   /* IP */
	unsigned client_port;
	const char *user;                 /* NULL until proxy authentication */
	const struct access_log_req *req; /* NULL: no request head parsed */
	const char *host;                 /* destination; NULL: not known */
	unsigned port;                    /* 0: not known */
	unsigned status;
	uint64_t bytes_in;    /* read from the client */
	uint64_t bytes_out;   /* written (or queued) to the client */
	const char *upstream; /* "addr:port" connected to; NULL: none */
	uint64_t duration_ms;
	int tunnel;
	const char *rule;    /* NULL until the rules engine fills it */
	const char *action;  /* likewise */
	const char *tls_sni; /* NULL until SNI peeking exists */
	const char *tls;     /* "TLSv1.3/CIPHER" of the client; NULL */
};

/* A line builder: writes the line (no newline) NUL-ended into out and
 * returns its length, or returns 0 when it does not fit in cap. */
typedef size_t access_log_build_fn(char *out, size_t cap,
                                   const struct access_log_entry *e);

/* access_log_combined.c: NCSA combined plus upstream, bytes in, time. */
access_log_build_fn access_log_combined;
/* access_log_json.c: one JSON object, ASCII only. */
access_log_build_fn access_log_json;

/* access_log.c: a capture from the parts, each cut to its maximum above;
 * free() it.  NULL when out of memory. */
struct access_log_req *
access_log_req_new(const struct access_log_text parts[ACCESS_LOG_NPARTS],
                   unsigned version);
/* A part of a capture and its length (not NUL-ended). */
const char *access_log_req_part(const struct access_log_req *r,
                                enum access_log_part i, size_t *len);

/* Bounded appending for the builders: once a write does not fit, the
 * output is marked full and everything after is ignored. */
struct access_log_out {
	char *buf;
	size_t len;
	size_t cap; /* len stays < cap: room for the NUL */
	int full;
};

static inline void
access_log_put(struct access_log_out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void
access_log_puts(struct access_log_out *o, const char *s)
{
	access_log_put(o, s, strlen(s));
}

static inline void
access_log_putu(struct access_log_out *o, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	access_log_put(o, d + i, sizeof(d) - i);
}

/* NUL-ends the output; its length, or 0 when it did not fit. */
static inline size_t
access_log_end(struct access_log_out *o)
{
	if (o->full || o->cap == 0)
		return 0;
	o->buf[o->len] = '\0';
	return o->len;
}

#endif
