/*
 * Strict HTTP/1.1 head parser (RFC 9112, RFC 9110).  This is the proxy's
 * defence against request smuggling: anything two implementations could
 * read differently (bare LF or CR, obs-fold, whitespace before a colon,
 * conflicting Content-Length, Transfer-Encoding beside Content-Length or
 * not ending in chunked) is refused rather than repaired.
 *
 * The head is scanned once, byte by byte, by resumable state machines (one
 * for each kind of start line, one for the field section they share) whose
 * state lives in the msg; every result is an offset into the caller's
 * buffer.  The meaning of the fields (framing, Host, Connection, the form
 * of the target) is worked out once the whole head is in.
 */
#include "worker/http_parse.h"

#include <string.h>
#include <strings.h>

#define CR '\r'
#define LF '\n'

/* m->state values below this belong to the start-line machines; from it on
 * to the field-section machine that requests and responses share. */
#define FIELD_STATES 64

/* What the field pass learns that later checks need. */
struct sem {
	int request;
	unsigned hosts;
	int chunked; /* chunked seen: it must stay the last coding */
};

static const char *const method_names[] = {
        [HTTP_METHOD_GET] = "GET",         [HTTP_METHOD_HEAD] = "HEAD",
        [HTTP_METHOD_POST] = "POST",       [HTTP_METHOD_PUT] = "PUT",
        [HTTP_METHOD_DELETE] = "DELETE",   [HTTP_METHOD_CONNECT] = "CONNECT",
        [HTTP_METHOD_OPTIONS] = "OPTIONS", [HTTP_METHOD_TRACE] = "TRACE",
        [HTTP_METHOD_PATCH] = "PATCH",
};

static enum http_rc
fail(struct http_msg *m, unsigned status, const char *why)
{
	m->error = status;
	m->error_reason = why;
	return HTTP_ERROR;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar: VCHAR or obs-text (RFC 9110 5.5); SP and HTAB are handled
 * by the callers because they are trimmed at the ends. */
static int
is_vchar(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* Matches one byte of "HTTP/" DIGIT "." DIGIT (case-sensitive, RFC 9112
 * 2.3) at index i, accumulating major * 10 + minor into *v. */
static int
version_char(unsigned char c, size_t i, unsigned *v)
{
	static const char pat[] = "HTTP/d.d";

	if (pat[i] != 'd')
		return c == (unsigned char)pat[i];
	if (!is_digit(c))
		return 0;
	*v = i == 5 ? (unsigned)(c - '0') * 10 : *v + (unsigned)(c - '0');
	return 1;
}

static enum http_method
method_lookup(const char *p, size_t n)
{
	size_t i;

	for (i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (strlen(method_names[i]) == n &&
		    memcmp(method_names[i], p, n) == 0)
			return (enum http_method)i;
	return HTTP_METHOD_OTHER;
}

/* After the request line's CRLF: record what it said, refuse versions we
 * do not speak, and hand over to the field section. */
static enum http_rc
request_line_done(struct http_msg *m, const char *buf, size_t pos)
{
	m->method = method_lookup(buf + m->method_name.off, m->method_name.len);
	m->pos = pos;
	m->state = FIELD_STATES;
	if (m->version != 10 && m->version != 11)
		return fail(m, 505, "unsupported HTTP version");
	return HTTP_OK;
}

/* method SP request-target SP HTTP-version CRLF, after optional empty
 * lines.  HTTP_OK once the line is complete. */
static enum http_rc
request_line(struct http_msg *m, const char *buf, size_t end)
{
	enum {
		RL_START = 0,
		RL_START_LF,
		RL_METHOD,
		RL_TARGET,
		RL_VERSION,
		RL_CR,
		RL_LF
	};
	unsigned state = m->state;
	size_t pos = m->pos;
	unsigned char c;

	for (; pos < end; pos++) {
		c = (unsigned char)buf[pos];
		switch (state) {
		case RL_START:
			if (c == CR) {
				state = RL_START_LF;
				break;
			}
			if (!http_is_tchar(c))
				return fail(m, 400, "invalid method");
			m->method_name.off = (uint32_t)pos;
			state = RL_METHOD;
			break;
		case RL_START_LF:
			if (c != LF)
				return fail(m, 400, "bare CR");
			state = RL_START;
			break;
		case RL_METHOD:
			if (http_is_tchar(c))
				break;
			if (c != ' ')
				return fail(m, 400, "invalid method");
			m->method_name.len =
			        (uint32_t)(pos - m->method_name.off);
			m->target.off = (uint32_t)(pos + 1);
			state = RL_TARGET;
			break;
		case RL_TARGET:
			if (c == ' ' && pos > m->target.off) {
				m->target.len = (uint32_t)(pos - m->target.off);
				m->mark = pos + 1;
				state = RL_VERSION;
				break;
			}
			if (c <= 0x20 || c >= 0x7f)
				return fail(m, 400, "invalid request-target");
			if (pos - m->target.off >= m->limits->max_target)
				return fail(m, 414, "request-target too long");
			break;
		case RL_VERSION:
			if (!version_char(c, pos - m->mark, &m->version))
				return fail(m, 400, "invalid HTTP version");
			if (pos - m->mark == 7)
				state = RL_CR;
			break;
		case RL_CR:
			if (c != CR)
				return fail(m, 400,
				            c == LF ? "bare LF"
				                    : "invalid HTTP version");
			state = RL_LF;
			break;
		case RL_LF:
			if (c != LF)
				return fail(m, 400, "bare CR");
			return request_line_done(m, buf, pos + 1);
		}
	}
	m->state = state;
	m->pos = pos;
	return HTTP_AGAIN;
}

/* HTTP-version SP 3DIGIT SP reason CRLF; the SP before an empty reason
 * may be missing (common in the wild and unambiguous). */
static enum http_rc
status_line(struct http_msg *m, const char *buf, size_t end)
{
	enum { SL_VERSION = 0, SL_SP, SL_STATUS, SL_AFTER, SL_REASON, SL_LF };
	unsigned state = m->state;
	size_t pos = m->pos;
	unsigned char c;

	for (; pos < end; pos++) {
		c = (unsigned char)buf[pos];
		switch (state) {
		case SL_VERSION:
			if (!version_char(c, pos, &m->version))
				return fail(m, 502, "invalid HTTP version");
			if (pos == 7)
				state = SL_SP;
			break;
		case SL_SP:
			if (c != ' ')
				return fail(m, 502, "invalid status line");
			state = SL_STATUS;
			break;
		case SL_STATUS:
			if (!is_digit(c))
				return fail(m, 502, "invalid status code");
			m->status = m->status * 10 + (unsigned)(c - '0');
			if (pos < 11)
				break;
			if (m->status < 100)
				return fail(m, 502, "invalid status code");
			state = SL_AFTER;
			break;
		case SL_AFTER:
			m->reason.off = (uint32_t)(pos + 1);
			if (c == CR) {
				m->reason.off = (uint32_t)pos;
				state = SL_LF;
				break;
			}
			if (c != ' ')
				return fail(m, 502, "invalid status line");
			state = SL_REASON;
			break;
		case SL_REASON:
			if (c == CR) {
				m->reason.len = (uint32_t)(pos - m->reason.off);
				state = SL_LF;
				break;
			}
			if (c != '\t' && (c < 0x20 || c == 0x7f))
				return fail(m, 502, "invalid reason phrase");
			break;
		case SL_LF:
			if (c != LF)
				return fail(m, 502, "bare CR");
			m->pos = pos + 1;
			m->state = FIELD_STATES;
			if (m->version != 10 && m->version != 11)
				return fail(m, 502, "unsupported HTTP version");
			return HTTP_OK;
		}
	}
	m->state = state;
	m->pos = pos;
	return HTTP_AGAIN;
}

/* Why a byte cannot start a field line. */
static const char *
bad_field_start(unsigned char c)
{
	if (is_ows(c))
		return "obs-fold";
	if (c == LF)
		return "bare LF";
	if (c == ':')
		return "empty field name";
	return "invalid field name";
}

/* *(field-line CRLF) CRLF.  Fields are recorded as they complete;
 * m->fields[m->nfields] is the one being read. */
static enum http_rc
field_section(struct http_msg *m, const char *buf, size_t end)
{
	enum { F_START = FIELD_STATES, F_NAME, F_OWS, F_VALUE, F_LF, F_END_LF };
	unsigned state = m->state;
	size_t pos = m->pos;
	unsigned char c;

#define FIELD (m->fields[m->nfields])
	for (; pos < end; pos++) {
		c = (unsigned char)buf[pos];
		switch (state) {
		case F_START:
			if (c == CR) {
				state = F_END_LF;
				break;
			}
			if (!http_is_tchar(c))
				return fail(m, 400, bad_field_start(c));
			if (m->nfields >= m->limits->max_fields)
				return fail(m, 431, "too many header fields");
			FIELD.name.off = (uint32_t)pos;
			state = F_NAME;
			break;
		case F_NAME:
			if (c == ':') {
				FIELD.name.len =
				        (uint32_t)(pos - FIELD.name.off);
				state = F_OWS;
				break;
			}
			if (!http_is_tchar(c))
				return fail(m, 400,
				            is_ows(c)
				                    ? "whitespace before colon"
				                    : "invalid field name");
			break;
		case F_OWS:
			if (is_ows(c))
				break;
			FIELD.value.off = (uint32_t)pos;
			FIELD.value.len = 0;
			if (c == CR) {
				state = F_LF;
				break;
			}
			if (!is_vchar(c))
				return fail(m, 400, "invalid field value");
			FIELD.value.len = 1;
			state = F_VALUE;
			break;
		case F_VALUE:
			if (c == CR) {
				state = F_LF;
				break;
			}
			if (is_ows(c))
				break;
			if (!is_vchar(c))
				return fail(m, 400, "invalid field value");
			FIELD.value.len = (uint32_t)(pos + 1 - FIELD.value.off);
			break;
		case F_LF:
			if (c != LF)
				return fail(m, 400, "bare CR");
			m->nfields++;
			state = F_START;
			break;
		case F_END_LF:
			if (c != LF)
				return fail(m, 400, "bare CR");
			m->pos = m->head_len = pos + 1;
			m->state = state;
			return HTTP_OK;
		}
	}
#undef FIELD
	m->state = state;
	m->pos = pos;
	return HTTP_AGAIN;
}

/* Steps through a comma-separated list (RFC 9110 5.6.1): *i is where the
 * next element starts within v; each comes out trimmed of OWS, possibly
 * empty.  0 after the last element. */
static int
list_next(const char *buf, struct http_span v, uint32_t *i,
          struct http_span *el)
{
	const char *p = buf + v.off;
	uint32_t a = *i, b;

	if (a > v.len)
		return 0;
	for (b = a; b < v.len && p[b] != ','; b++)
		;
	*i = b + 1;
	while (a < b && is_ows((unsigned char)p[a]))
		a++;
	while (b > a && is_ows((unsigned char)p[b - 1]))
		b--;
	el->off = v.off + a;
	el->len = b - a;
	return 1;
}

static int
is_token(const char *buf, struct http_span s)
{
	uint32_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++)
		if (!http_is_tchar((unsigned char)buf[s.off + i]))
			return 0;
	return 1;
}

/* 1*DIGIT that fits an off_t (RFC 9110 8.6). */
static int
parse_length(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0, d;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		d = (uint64_t)(p[i] - '0');
		if (x > ((uint64_t)INT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* Repeats ("5, 5", or two fields) are one length if they agree
 * (RFC 9110 8.6); anything else cannot be framed safely. */
static enum http_rc
content_length(struct http_msg *m, const char *buf, struct http_span v)
{
	struct http_span el;
	uint32_t i = 0;
	uint64_t n;

	while (list_next(buf, v, &i, &el)) {
		if (parse_length(buf + el.off, el.len, &n) < 0)
			return fail(m, 400, "invalid Content-Length");
		if ((m->flags & HTTP_F_CL) && n != m->content_length)
			return fail(m, 400, "conflicting Content-Length");
		m->content_length = n;
		m->flags |= HTTP_F_CL;
	}
	return HTTP_OK;
}

static int
known_coding(const char *buf, struct http_span s)
{
	static const char *const codings[] = {
	        "gzip", "x-gzip", "deflate", "compress", "x-compress",
	};
	size_t i;

	for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++)
		if (http_span_eq(buf, s, codings[i]))
			return 1;
	return 0;
}

/* Codings may be spread over several fields; chunked must come last and
 * once (RFC 9112 6.1).  Empty elements and parameters are refused: no
 * real sender uses them and they are where parsers disagree. */
static enum http_rc
transfer_encoding(struct http_msg *m, const char *buf, struct http_span v,
                  struct sem *st)
{
	struct http_span el;
	uint32_t i = 0;

	m->flags |= HTTP_F_TE;
	while (list_next(buf, v, &i, &el)) {
		if (!is_token(buf, el))
			return fail(m, 400, "invalid Transfer-Encoding");
		if (st->chunked)
			return fail(m, 400, "chunked is not the last coding");
		if (http_span_eq(buf, el, "chunked"))
			st->chunked = 1;
		else if (!known_coding(buf, el))
			return fail(m, 501, "unknown transfer coding");
	}
	return HTTP_OK;
}

/* Empty elements are skipped as RFC 9110 5.6.1 asks; they are harmless
 * here because Connection does not frame the message. */
static enum http_rc
connection(struct http_msg *m, const char *buf, struct http_span v)
{
	struct http_span el;
	uint32_t i = 0;

	while (list_next(buf, v, &i, &el)) {
		if (el.len == 0)
			continue;
		if (!is_token(buf, el))
			return fail(m, 400, "invalid Connection");
		if (http_span_eq(buf, el, "close"))
			m->flags |= HTTP_F_CLOSE;
		else if (http_span_eq(buf, el, "keep-alive"))
			m->flags |= HTTP_F_KEEPALIVE;
		else if (http_span_eq(buf, el, "upgrade"))
			m->flags |= HTTP_F_UPGRADE;
	}
	return HTTP_OK;
}

static enum http_rc
field_meaning(struct http_msg *m, const char *buf, const struct http_field *f,
              struct sem *st)
{
	if (http_span_eq(buf, f->name, "content-length"))
		return content_length(m, buf, f->value);
	if (http_span_eq(buf, f->name, "transfer-encoding"))
		return transfer_encoding(m, buf, f->value, st);
	if (http_span_eq(buf, f->name, "connection"))
		return connection(m, buf, f->value);
	if (http_span_eq(buf, f->name, "upgrade")) {
		m->flags |= HTTP_F_UPGRADE;
	} else if (!st->request) {
		return HTTP_OK;
	} else if (http_span_eq(buf, f->name, "host")) {
		st->hosts++;
		m->host = f->value;
	} else if (http_span_eq(buf, f->name, "expect")) {
		if (http_span_eq(buf, f->value, "100-continue"))
			m->flags |= HTTP_F_EXPECT_100;
	}
	return HTTP_OK;
}

/* Body framing (RFC 9112 6.1, 6.3).  A response whose codings do not end
 * in chunked is close-delimited, which HTTP_F_CHUNKED being off says. */
static enum http_rc
framing(struct http_msg *m, const struct sem *st)
{
	if (!(m->flags & HTTP_F_TE))
		return HTTP_OK;
	if (m->flags & HTTP_F_CL)
		return fail(m, 400, "Content-Length with Transfer-Encoding");
	/* 1.0 agents do not know chunked: the framing is suspect */
	if (m->version == 10)
		return fail(m, 400, "Transfer-Encoding in HTTP/1.0");
	if (st->chunked)
		m->flags |= HTTP_F_CHUNKED;
	else if (st->request)
		return fail(m, 400, "request coding does not end in chunked");
	return HTTP_OK;
}

static enum http_rc
fields_meaning(struct http_msg *m, const char *buf, struct sem *st)
{
	unsigned i;

	for (i = 0; i < m->nfields; i++)
		if (field_meaning(m, buf, &m->fields[i], st) != HTTP_OK)
			return HTTP_ERROR;
	return framing(m, st);
}

static enum http_rc
absolute_form(struct http_msg *m, const char *buf)
{
	struct http_span scheme;
	struct http_uri u;

	if (http_parse_absolute_any(buf, m->target, &scheme, &u) < 0)
		return fail(m, 400, "invalid absolute-form target");
	if (http_span_eq(buf, scheme, "http") &&
	    http_parse_absolute(buf, m->target, &u) < 0)
		return fail(m, 400, "invalid http URI");
	m->target_form = HTTP_TARGET_ABSOLUTE;
	return HTTP_OK;
}

/* RFC 9112 3.2: which form the target takes, and whether the method
 * allows it. */
static enum http_rc
target_form(struct http_msg *m, const char *buf)
{
	const char *p = buf + m->target.off;
	struct http_span host;
	uint16_t port;

	if (m->method == HTTP_METHOD_CONNECT) {
		if (http_parse_authority(buf, m->target, &host, &port) < 0)
			return fail(m, 400, "CONNECT target is not host:port");
		m->target_form = HTTP_TARGET_AUTHORITY;
		return HTTP_OK;
	}
	if (p[0] == '/') {
		if (memchr(p, '#', m->target.len) != NULL)
			return fail(m, 400, "fragment in request-target");
		m->target_form = HTTP_TARGET_ORIGIN;
		return HTTP_OK;
	}
	if (m->target.len == 1 && p[0] == '*') {
		if (m->method != HTTP_METHOD_OPTIONS)
			return fail(m, 400, "'*' target without OPTIONS");
		m->target_form = HTTP_TARGET_ASTERISK;
		return HTTP_OK;
	}
	return absolute_form(m, buf);
}

/* RFC 9112 3.2: exactly one Host in HTTP/1.1.  An absolute-form target
 * overrides Host, which may then be empty. */
static enum http_rc
host_field(struct http_msg *m, const char *buf, const struct sem *st)
{
	struct http_span host;
	uint16_t port;

	if (st->hosts > 1)
		return fail(m, 400, "duplicate Host");
	if (st->hosts == 0)
		return m->version == 11 ? fail(m, 400, "missing Host")
		                        : HTTP_OK;
	m->flags |= HTTP_F_HOST;
	if (m->host.len == 0)
		return m->target_form == HTTP_TARGET_ABSOLUTE
		               ? HTTP_OK
		               : fail(m, 400, "empty Host");
	if (http_parse_hostport(buf, m->host, &host, &port) < 0)
		return fail(m, 400, "invalid Host");
	return HTTP_OK;
}

static enum http_rc
request_meaning(struct http_msg *m, const char *buf)
{
	struct sem st = {.request = 1};

	if (fields_meaning(m, buf, &st) != HTTP_OK ||
	    target_form(m, buf) != HTTP_OK ||
	    host_field(m, buf, &st) != HTTP_OK)
		return HTTP_ERROR;
	return HTTP_OK;
}

static enum http_rc
response_meaning(struct http_msg *m, const char *buf)
{
	struct sem st = {.request = 0};

	return fields_meaning(m, buf, &st);
}

/* The scan never looks past max_head (nor past what offsets can hold). */
static size_t
head_limit(const struct http_msg *m)
{
	size_t max = m->limits->max_head;

	return max < UINT32_MAX ? max : UINT32_MAX;
}

/* An incomplete head that already fills max_head can never be accepted;
 * say so now rather than wait for the rest. */
static enum http_rc
incomplete(struct http_msg *m, enum http_rc rc)
{
	if (rc == HTTP_AGAIN && m->pos >= head_limit(m))
		return fail(m, 431, "header section too large");
	return rc;
}

static enum http_rc
parse_head(struct http_msg *m, const char *buf, size_t len, int request)
{
	size_t end = len < head_limit(m) ? len : head_limit(m);
	enum http_rc rc;

	if (m->error != 0)
		return HTTP_ERROR;
	if (m->head_len != 0)
		return HTTP_OK;
	if (m->state < FIELD_STATES) {
		rc = request ? request_line(m, buf, end)
		             : status_line(m, buf, end);
		if (rc != HTTP_OK)
			return incomplete(m, rc);
	}
	rc = field_section(m, buf, end);
	if (rc != HTTP_OK)
		return incomplete(m, rc);
	return request ? request_meaning(m, buf) : response_meaning(m, buf);
}

void
http_msg_init(struct http_msg *m, struct http_field *fields,
              const struct http_limits *lim)
{
	memset(m, 0, sizeof(*m));
	m->fields = fields;
	m->limits = lim;
}

enum http_rc
http_parse_request(struct http_msg *m, const char *buf, size_t len)
{
	return parse_head(m, buf, len, 1);
}

enum http_rc
http_parse_response(struct http_msg *m, const char *buf, size_t len)
{
	enum http_rc rc = parse_head(m, buf, len, 0);

	/* whatever is wrong with a response, the client gets a 502 */
	if (rc == HTTP_ERROR)
		m->error = 502;
	return rc;
}

const struct http_field *
http_msg_field(const struct http_msg *m, const char *buf, const char *name,
               unsigned *from)
{
	unsigned i;

	for (i = from != NULL ? *from : 0; i < m->nfields; i++) {
		if (http_span_eq(buf, m->fields[i].name, name)) {
			if (from != NULL)
				*from = i + 1;
			return &m->fields[i];
		}
	}
	if (from != NULL)
		*from = m->nfields;
	return NULL;
}

int
http_span_eq(const char *buf, struct http_span s, const char *str)
{
	return strlen(str) == s.len &&
	       strncasecmp(buf + s.off, str, s.len) == 0;
}

const char *
http_method_name(enum http_method m)
{
	if ((size_t)m >= sizeof(method_names) / sizeof(method_names[0]))
		return NULL;
	return method_names[m];
}

const char *
http_status_reason(unsigned status)
{
	static const char *const reasons[] = {
	        [100] = "Continue",
	        [101] = "Switching Protocols",
	        [102] = "Processing",
	        [103] = "Early Hints",
	        [200] = "OK",
	        [201] = "Created",
	        [202] = "Accepted",
	        [203] = "Non-Authoritative Information",
	        [204] = "No Content",
	        [205] = "Reset Content",
	        [206] = "Partial Content",
	        [207] = "Multi-Status",
	        [208] = "Already Reported",
	        [226] = "IM Used",
	        [300] = "Multiple Choices",
	        [301] = "Moved Permanently",
	        [302] = "Found",
	        [303] = "See Other",
	        [304] = "Not Modified",
	        [305] = "Use Proxy",
	        [307] = "Temporary Redirect",
	        [308] = "Permanent Redirect",
	        [400] = "Bad Request",
	        [401] = "Unauthorized",
	        [402] = "Payment Required",
	        [403] = "Forbidden",
	        [404] = "Not Found",
	        [405] = "Method Not Allowed",
	        [406] = "Not Acceptable",
	        [407] = "Proxy Authentication Required",
	        [408] = "Request Timeout",
	        [409] = "Conflict",
	        [410] = "Gone",
	        [411] = "Length Required",
	        [412] = "Precondition Failed",
	        [413] = "Content Too Large",
	        [414] = "URI Too Long",
	        [415] = "Unsupported Media Type",
	        [416] = "Range Not Satisfiable",
	        [417] = "Expectation Failed",
	        [418] = "I'm a teapot",
	        [421] = "Misdirected Request",
	        [422] = "Unprocessable Content",
	        [423] = "Locked",
	        [424] = "Failed Dependency",
	        [425] = "Too Early",
	        [426] = "Upgrade Required",
	        [428] = "Precondition Required",
	        [429] = "Too Many Requests",
	        [431] = "Request Header Fields Too Large",
	        [451] = "Unavailable For Legal Reasons",
	        [500] = "Internal Server Error",
	        [501] = "Not Implemented",
	        [502] = "Bad Gateway",
	        [503] = "Service Unavailable",
	        [504] = "Gateway Timeout",
	        [505] = "HTTP Version Not Supported",
	        [506] = "Variant Also Negotiates",
	        [507] = "Insufficient Storage",
	        [508] = "Loop Detected",
	        [510] = "Not Extended",
	        [511] = "Network Authentication Required",
	};

	if (status >= sizeof(reasons) / sizeof(reasons[0]) ||
	    reasons[status] == NULL)
		return "Unknown";
	return reasons[status];
}
