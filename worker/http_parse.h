/*
 * Strict HTTP/1.1 message parsing (RFC 9112, RFC 9110): request and
 * response heads, absolute-form and authority-form targets, and the chunked
 * body coding.  Resumable state machines over a caller's buffer: they
 * allocate nothing and their results are offsets into that buffer.
 */
#ifndef WORKER_HTTP_PARSE_H
#define WORKER_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum http_rc {
	HTTP_OK = 0, /* head complete / chunk data span produced */
	HTTP_AGAIN,  /* need more bytes */
	HTTP_ERROR,  /* msg->error holds the status to answer */
	HTTP_DONE,   /* chunked body complete (trailers consumed) */
};

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_PATCH,
};

/* Request-target forms (RFC 9112 3.2). */
enum http_target_form {
	HTTP_TARGET_ORIGIN = 0, /* /path?q */
	HTTP_TARGET_ABSOLUTE,   /* http://host:port/path */
	HTTP_TARGET_AUTHORITY,  /* host:port (CONNECT only) */
	HTTP_TARGET_ASTERISK,   /* * (OPTIONS only) */
};

struct http_span {
	uint32_t off;
	uint32_t len;
};

struct http_field {
	struct http_span name;
	struct http_span value; /* trimmed of leading/trailing OWS */
};

/* msg->flags */
#define HTTP_F_CHUNKED 0x0001    /* Transfer-Encoding's last coding chunked */
#define HTTP_F_TE 0x0002         /* a Transfer-Encoding field is present */
#define HTTP_F_CL 0x0004         /* a valid Content-Length is present */
#define HTTP_F_CLOSE 0x0008      /* Connection: close */
#define HTTP_F_KEEPALIVE 0x0010  /* Connection: keep-alive */
#define HTTP_F_EXPECT_100 0x0020 /* Expect: 100-continue */
#define HTTP_F_UPGRADE 0x0040    /* Connection: upgrade / Upgrade field */
#define HTTP_F_HOST 0x0080       /* a Host field is present */

/* Limits the caller sets before parsing (from the config). */
struct http_limits {
	size_t max_head;     /* max_header_size: whole head incl. CRLFCRLF */
	size_t max_target;   /* max_uri_size */
	unsigned max_fields; /* max_headers; fields[] has this many */
};

struct http_msg {
	/* set by http_msg_init() */
	struct http_field *fields;
	const struct http_limits *limits;

	/* parser state (private) */
	unsigned state;
	size_t pos;
	size_t mark;
	size_t mark2;

	/* results, valid after HTTP_OK */
	size_t head_len; /* bytes of the head, CRLFCRLF included */
	unsigned nfields;
	unsigned version; /* 10 or 11 */
	unsigned flags;   /* HTTP_F_* */
	uint64_t content_length;
	/* request */
	enum http_method method;
	struct http_span method_name;
	struct http_span target;
	enum http_target_form target_form;
	struct http_span host; /* the Host field's value */
	/* response */
	unsigned status;
	struct http_span reason;

	/* on HTTP_ERROR: 400, 414, 431, 501 or 505 for requests, always
	 * 502 for responses; and a short reason for the log */
	unsigned error;
	const char *error_reason;
};

/* Prepares m to parse a new message; fields must hold lim->max_fields. */
void http_msg_init(struct http_msg *m, struct http_field *fields,
                   const struct http_limits *lim);

/* Parse a request head from buf[0..len).  Call again with the same buffer
 * (grown) after HTTP_AGAIN; buf may move between calls, its contents may
 * not.  Leading empty lines before the request line are skipped
 * (RFC 9112 2.2) and count in head_len. */
enum http_rc http_parse_request(struct http_msg *m, const char *buf,
                                size_t len);
/* Same for a response head.  1xx responses are returned like any other;
 * the caller loops.  error is 502-worthy on HTTP_ERROR. */
enum http_rc http_parse_response(struct http_msg *m, const char *buf,
                                 size_t len);

/* Finds a field by case-insensitive name; NULL if none.  *from lets the
 * caller iterate repeated fields (start at 0). */
const struct http_field *http_msg_field(const struct http_msg *m,
                                        const char *buf, const char *name,
                                        unsigned *from);
/* Case-insensitive comparison of a span with a C string. */
int http_span_eq(const char *buf, struct http_span s, const char *str);

/* The parts of an absolute-form target "http://host[:port]/path?query".
 * host excludes the brackets of an IPv6 literal; path is "/" when the
 * target had none (path.len == 0 means "use /").  Only the http scheme is
 * accepted; userinfo is rejected.
 *
 * host is a reg-name (letters, digits, '-', '.', '_', '~'; no
 * %-encoding), a dotted-quad IPv4 address (a name whose last label is
 * numeric must be one, so "127.1" or "0x7f.1" are rejected), or an IPv6
 * literal; fragments are rejected.  When a '?' comes before any '/'
 * ("http://h?q"), path starts at the '?': the caller prepends '/'. */
struct http_uri {
	struct http_span host;
	uint16_t port;         /* 80 when absent */
	struct http_span path; /* path and query, from the first '/' */
};
/* 0 on success, -1 if the target is not a valid absolute http URI. */
int http_parse_absolute(const char *buf, struct http_span target,
                        struct http_uri *u);
/* Same syntax for any scheme ("https://h/", "ftp://h/"): *scheme is the
 * part before "://" and u->port is 0 when absent.  0 or -1. */
int http_parse_absolute_any(const char *buf, struct http_span target,
                            struct http_span *scheme, struct http_uri *u);
/* "host:port" or "[v6]:port" (CONNECT); port is required.  0 or -1. */
int http_parse_authority(const char *buf, struct http_span target,
                         struct http_span *host, uint16_t *port);
/* "host[:port]" as in a Host field, with the host rules above; *port is
 * 0 when absent or empty ("h:").  0 or -1 (also for port 0). */
int http_parse_hostport(const char *buf, struct http_span s,
                        struct http_span *host, uint16_t *port);

/* tchar (RFC 9110 5.6.2): the bytes of methods, field names, codings. */
static inline int
http_is_tchar(unsigned char c)
{
	static const uint32_t map[8] = {
	        0x00000000,          /* 0x00-0x1f: CTL */
	        0x03ff6cfa,          /* 0x20-0x3f: ! # $ % & ' * + - . 0-9 */
	        0xc7fffffe,          /* 0x40-0x5f: A-Z ^ _ */
	        0x57ffffff,          /* 0x60-0x7f: ` a-z | ~ */
	        0,          0, 0, 0, /* obs-text */
	};

	return (int)((map[c >> 5] >> (c & 31)) & 1);
}

/* Chunked body decoder (RFC 9112 7.1).  Extensions are validated and
 * dropped; trailer fields are validated (size-bounded) and dropped. */
struct http_chunked {
	unsigned state;
	uint64_t remaining; /* data bytes left in the current chunk */
	size_t trailer_bytes;
	size_t max_trailer; /* bound for trailers; set by init */
	unsigned line;      /* size digits / extension bytes so far */
};
void http_chunked_init(struct http_chunked *c, size_t max_trailer);
/* Consumes framing from buf[0..len) until it reaches chunk data, the end
 * of the body, the end of the input, or an error:
 *   HTTP_OK:    data at buf[*data_off .. *data_off + *data_len) is body
 *               content; *consumed includes it.
 *   HTTP_AGAIN: all len bytes consumed (*consumed == len), need more.
 *   HTTP_DONE:  the last chunk and trailers ended at *consumed.
 *   HTTP_ERROR: invalid or overflowing framing.
 * Never returns HTTP_OK with *data_len == 0. */
enum http_rc http_chunked_step(struct http_chunked *c, const char *buf,
                               size_t len, size_t *consumed, size_t *data_off,
                               size_t *data_len);

/* "GET" etc.; NULL for HTTP_METHOD_OTHER (use msg->method_name). */
const char *http_method_name(enum http_method m);
/* The standard reason phrase of a status code ("Bad Request"); "Unknown"
 * for codes without one. */
const char *http_status_reason(unsigned status);

#endif
