/*
 * Rewriting message heads as they cross the proxy: which fields are
 * hop-by-hop (RFC 9110 7.6.1) and copying the others into a new head.
 */
#include "worker/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Fields that describe one connection, never forwarded.  Transfer-Encoding
 * and Content-Length are re-framed by the callers. */
static const char *const hop_fields[] = {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization",
        "te",         "trailer",    "upgrade",          "transfer-encoding",
        NULL,
};

static int
in_list(const char *buf, struct http_span name, const char *const *list)
{
	for (; list && *list; list++)
		if (http_span_eq(buf, name, *list))
			return 1;
	return 0;
}

/* Is `name` one of the tokens of a Connection field value? */
static int
named_by(const char *buf, struct http_span value, struct http_span name)
{
	uint32_t i = value.off, end = value.off + value.len, start;

	while (i < end) {
		while (i < end &&
		       (buf[i] == ',' || buf[i] == ' ' || buf[i] == '\t'))
			i++;
		start = i;
		while (i < end && buf[i] != ',' && buf[i] != ' ' &&
		       buf[i] != '\t')
			i++;
		if (i - start == name.len &&
		    strncasecmp(buf + start, buf + name.off, name.len) == 0)
			return 1;
	}
	return 0;
}

int
http_head_is_hop(const struct http_msg *m, const char *buf,
                 const struct http_field *f)
{
	const struct http_field *c;
	unsigned from = 0;

	if (in_list(buf, f->name, hop_fields))
		return 1;
	while ((c = http_msg_field(m, buf, "connection", &from)) != NULL)
		if (named_by(buf, c->value, f->name))
			return 1;
	return 0;
}

/* The hot path writes heads piece by piece: no format to parse. */
int
http_head_put(struct buf *out, const char *s, size_t n)
{
	if (buf_space(out) < n)
		return -1;
	buf_append(out, s, n);
	return 0;
}

int
http_head_puts(struct buf *out, const char *s)
{
	return http_head_put(out, s, strlen(s));
}

int
http_head_putu(struct buf *out, uint64_t v)
{
	char digits[24], *p = digits + sizeof(digits);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return http_head_put(out, p, (size_t)(digits + sizeof(digits) - p));
}

int
http_head_content_length(struct buf *out, uint64_t n)
{
	return http_head_puts(out, "Content-Length: ") < 0 ||
	                       http_head_putu(out, n) < 0 ||
	                       http_head_put(out, "\r\n", 2) < 0
	               ? -1
	               : 0;
}

/* "Name: value\r\n" */
int
http_head_field(struct buf *out, const char *name, const char *v, size_t n)
{
	return http_head_puts(out, name) < 0 ||
	                       http_head_put(out, ": ", 2) < 0 ||
	                       http_head_put(out, v, n) < 0 ||
	                       http_head_put(out, "\r\n", 2) < 0
	               ? -1
	               : 0;
}

int
http_head_printf(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf_tail(out), buf_space(out), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= buf_space(out))
		return -1;
	out->end += (size_t)n;
	return 0;
}

static int
append_field(struct buf *out, const char *buf, const struct http_field *f)
{
	if (buf_space(out) < (size_t)f->name.len + f->value.len + 4)
		return -1;
	buf_append(out, buf + f->name.off, f->name.len);
	buf_append(out, ": ", 2);
	buf_append(out, buf + f->value.off, f->value.len);
	buf_append(out, "\r\n", 2);
	return 0;
}

/* Copies every end-to-end field not in `skip`.  0, or -1 if out is full. */
int
http_head_copy_fields(struct buf *out, const struct http_msg *m,
                      const char *buf, const char *const *skip)
{
	unsigned i;

	for (i = 0; i < m->nfields; i++) {
		const struct http_field *f = &m->fields[i];

		if (in_list(buf, f->name, skip) || http_head_is_hop(m, buf, f))
			continue;
		if (append_field(out, buf, f) < 0)
			return -1;
	}
	return 0;
}
