/*
 * The test origin's request parser (see origin.h): a head is read whole,
 * then parsed strictly enough to refuse what RFC 9112 says must be refused
 * (bad field names, obs-fold, CL with TE, conflicting lengths), because the
 * suites check that proxyd never forwards such a request.  Bodies are read
 * in pieces as the endpoint consumes them, framed by length or chunks.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "tests/support/origin/origin.h"

/* ---- request head -------------------------------------------------- */

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch);
}

/* Waits for a whole head; copies it into c->head.  1 done, 0 clean EOF
 * before any byte, -1 error (or over-size). */
int
origin_read_head(struct origin_conn *c, size_t *head_len)
{
	char *end;
	ssize_t n;

	for (;;) {
		/* tolerate the empty lines RFC 9112 2.2 allows first */
		while (c->len - c->pos >= 2 && c->in[c->pos] == '\r' &&
		       c->in[c->pos + 1] == '\n')
			c->pos += 2;
		end = memmem(c->in + c->pos, c->len - c->pos, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		n = origin_conn_fill(c);
		if (n <= 0)
			return n == 0 && c->len == c->pos ? 0 : -1;
	}
	*head_len = (size_t)(end + 4 - (c->in + c->pos));
	memcpy(c->head, c->in + c->pos, *head_len);
	c->head[*head_len] = '\0';
	c->pos += *head_len;
	return 1;
}

int
origin_parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

/* Has the comma-separated list v the token tok? */
int
origin_has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, tok, n) == 0 &&
		    (v[n] == '\0' || v[n] == ',' || v[n] == ' ' ||
		     v[n] == '\t'))
			return 1;
		while (*v != '\0' && *v != ',')
			v++;
	}
	return 0;
}

/* Is the last coding of a Transfer-Encoding value "chunked"? */
static int
te_is_chunked(const char *v)
{
	const char *last = v, *p;
	size_t n;

	for (p = v; *p != '\0'; p++)
		if (*p == ',')
			last = p + 1;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strlen(last);
	while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
		n--;
	return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

/* One "name: value" line (NUL-terminated, no CRLF) into r.  0 or -1. */
static int
parse_field(struct origin_req *r, char *line, int *seen_cl, int *seen_te)
{
	char *colon = strchr(line, ':'), *v, *e;
	uint64_t len;

	if (colon == NULL || colon == line)
		return -1;
	for (v = line; v < colon; v++)
		if (!is_tchar((unsigned char)*v))
			return -1; /* also space before the colon */
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	if (strcasecmp(line, "content-length") == 0) {
		if (origin_parse_length(v, &len) < 0 ||
		    (*seen_cl && len != r->length))
			return -1;
		*seen_cl = 1;
		r->length = len;
	} else if (strcasecmp(line, "transfer-encoding") == 0) {
		if (!te_is_chunked(v))
			return -1;
		*seen_te = 1;
	} else if (strcasecmp(line, "connection") == 0) {
		if (origin_has_token(v, "close"))
			r->keep_alive = 0;
		else if (origin_has_token(v, "keep-alive"))
			r->keep_alive = 1;
	} else if (strcasecmp(line, "expect") == 0) {
		r->expect_continue = strcasecmp(v, "100-continue") == 0;
	}
	return 0;
}

/* "METHOD SP target SP HTTP/1.x" into r; target trimmed to the path. */
static int
parse_request_line(struct origin_req *r, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2, *path;

	if (sp1 == NULL || (size_t)(sp1 - line) >= sizeof(r->method))
		return -1;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1') || sp2[9] != '\0')
		return -1;
	memcpy(r->method, line, (size_t)(sp1 - line));
	r->method[sp1 - line] = '\0';
	r->minor = sp2[8] - '0';
	*sp2 = '\0';
	path = sp1 + 1;
	/* absolute-form, should a client come straight here */
	if (strncasecmp(path, "http://", 7) == 0 ||
	    strncasecmp(path, "https://", 8) == 0) {
		path = strchr(strstr(path, "//") + 2, '/');
		if (path == NULL)
			path = sp2; /* empty: "" */
	}
	r->path = path;
	return 0;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

/* The value of the head's first field called name, or NULL.  The head
 * passed origin_parse_head, so every line ends in CRLF. */
const char *
origin_head_field(const char *head, const char *name, char *out, size_t cap)
{
	size_t k = strlen(name), n;
	const char *p = strstr(head, "\r\n"), *v;

	for (; p != NULL && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, k) != 0 || p[2 + k] != ':')
			continue;
		for (v = p + 3 + k; *v == ' ' || *v == '\t'; v++)
			;
		n = strcspn(v, "\r");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n >= cap)
			return NULL;
		memcpy(out, v, n);
		out[n] = '\0';
		return out;
	}
	return NULL;
}

/* Parses c->head (a scratch copy, so /headers can still echo c->head). */
int
origin_parse_head(struct origin_req *r, char *head)
{
	char *line = head, *next;
	int seen_cl = 0, seen_te = 0;

	next = strstr(line, "\r\n");
	*next = '\0';
	if (has_ctl(line) || parse_request_line(r, line) < 0)
		return -1;
	r->keep_alive = r->minor == 1;
	for (line = next + 2; *line != '\r'; line = next + 2) {
		next = strstr(line, "\r\n");
		*next = '\0';
		if (*line == ' ' || *line == '\t' || has_ctl(line))
			return -1; /* obs-fold, bare CR or LF, controls */
		if (parse_field(r, line, &seen_cl, &seen_te) < 0)
			return -1;
	}
	if (seen_cl && seen_te)
		return -1;
	r->framing = seen_te   ? ORIGIN_BODY_CHUNKED
	             : seen_cl ? ORIGIN_BODY_LENGTH
	                       : ORIGIN_BODY_NONE;
	if (r->framing == ORIGIN_BODY_LENGTH && r->length == 0)
		r->framing = ORIGIN_BODY_NONE;
	r->is_head = strcmp(r->method, "HEAD") == 0;
	return 0;
}

/* ---- request body -------------------------------------------------- */

/* Reads the next chunk-size line; sets chunk_left / chunk_done. */
static int
chunk_next(struct origin_conn *c, struct origin_req *r)
{
	char line[ORIGIN_LINE_MAX + 1], *p;
	uint64_t n = 0;
	int digits = 0;

	if (r->chunk_crlf && (origin_conn_line(c, line) < 0 || line[0] != '\0'))
		return -1;
	r->chunk_crlf = 0;
	if (origin_conn_line(c, line) < 0)
		return -1;
	for (p = line; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t';
	     p++, digits++) {
		if (digits == 15 || !isxdigit((unsigned char)*p))
			return -1;
		n = n * 16 +
		    (uint64_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
	}
	if (digits == 0)
		return -1;
	if (n > 0) {
		r->chunk_left = n;
		return 0;
	}
	do /* trailer fields, up to the empty line */
		if (origin_conn_line(c, line) < 0)
			return -1;
	while (line[0] != '\0');
	r->chunk_done = 1;
	return 0;
}

/* Up to len body bytes into buf: >0, 0 at the body's end, -1 on error. */
ssize_t
origin_body_read(struct origin_conn *c, struct origin_req *r, char *buf,
                 size_t len)
{
	uint64_t *left =
	        r->framing == ORIGIN_BODY_LENGTH ? &r->length : &r->chunk_left;
	ssize_t n;

	if (r->framing == ORIGIN_BODY_NONE)
		return 0;
	if (r->framing == ORIGIN_BODY_CHUNKED && r->chunk_left == 0) {
		if (r->chunk_done)
			return 0;
		if (chunk_next(c, r) < 0)
			return -1;
		if (r->chunk_done)
			return 0;
	}
	if (*left == 0)
		return 0;
	if (len > *left)
		len = (size_t)*left;
	n = origin_conn_read_some(c, buf, len);
	if (n <= 0)
		return -1; /* EOF inside a framed body */
	*left -= (uint64_t)n;
	if (r->framing == ORIGIN_BODY_CHUNKED && r->chunk_left == 0)
		r->chunk_crlf = 1;
	return n;
}

/* Reads and drops what is left of the body. */
int
origin_body_drain(struct origin_conn *c, struct origin_req *r)
{
	ssize_t n;

	while ((n = origin_body_read(c, r, c->out, ORIGIN_IO)) > 0)
		;
	return (int)n;
}
