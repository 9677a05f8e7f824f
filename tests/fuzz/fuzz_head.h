/*
 * What the request and response fuzz targets share: limits small enough
 * that the fuzzer reaches them, a checker that aborts (so libFuzzer keeps
 * the input), the invariants of an accepted head, and the incremental
 * re-parse that must agree with a one-shot parse.  Included by exactly one
 * translation unit per fuzz binary, hence the static definitions.
 */
#ifndef TESTS_FUZZ_FUZZ_HEAD_H
#define TESTS_FUZZ_FUZZ_HEAD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http_parse.h"

#define FUZZ_MAX_HEAD 1024
#define FUZZ_MAX_TARGET 200
#define FUZZ_MAX_FIELDS 16

typedef enum http_rc (*fuzz_parse_fn)(struct http_msg *, const char *, size_t);

static const struct http_limits fuzz_limits = {
        .max_head = FUZZ_MAX_HEAD,
        .max_target = FUZZ_MAX_TARGET,
        .max_fields = FUZZ_MAX_FIELDS,
};

#define fuzz_check(cond)                  \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* An exact-size heap copy, so that ASan sees any read past the end. */
static char *
fuzz_copy(const uint8_t *data, size_t n)
{
	char *p = malloc(n > 0 ? n : 1);

	fuzz_check(p != NULL);
	if (n > 0)
		memcpy(p, data, n);
	return p;
}

static void
fuzz_check_span(struct http_span s, size_t end)
{
	fuzz_check((size_t)s.off + s.len <= end);
}

static int
fuzz_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Every field of an accepted head: a token name, a value with no CTL but
 * HTAB and no OWS at either end. */
static void
fuzz_check_field(const struct http_field *f, const char *buf, size_t end)
{
	uint32_t i;

	fuzz_check_span(f->name, end);
	fuzz_check_span(f->value, end);
	fuzz_check(f->name.len > 0);
	fuzz_check(f->value.off > f->name.off + f->name.len);
	fuzz_check(buf[f->name.off + f->name.len] == ':');
	for (i = 0; i < f->name.len; i++)
		fuzz_check(http_is_tchar((unsigned char)buf[f->name.off + i]));
	for (i = 0; i < f->value.len; i++) {
		unsigned char c = (unsigned char)buf[f->value.off + i];

		fuzz_check(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	if (f->value.len > 0) {
		fuzz_check(!fuzz_ows(buf[f->value.off]));
		fuzz_check(!fuzz_ows(buf[f->value.off + f->value.len - 1]));
	}
}

static void
fuzz_check_head(const struct http_msg *m, const char *buf, size_t len)
{
	unsigned i;

	fuzz_check(m->head_len >= 4 && m->head_len <= len);
	fuzz_check(m->head_len <= FUZZ_MAX_HEAD);
	fuzz_check(memcmp(buf + m->head_len - 4, "\r\n\r\n", 4) == 0);
	fuzz_check(m->version == 10 || m->version == 11);
	fuzz_check(m->nfields <= FUZZ_MAX_FIELDS);
	fuzz_check(m->error == 0);
	for (i = 0; i < m->nfields; i++)
		fuzz_check_field(&m->fields[i], buf, m->head_len);
	if (m->flags & HTTP_F_CHUNKED)
		fuzz_check(m->flags & HTTP_F_TE);
	if (m->flags & HTTP_F_TE)
		fuzz_check(!(m->flags & HTTP_F_CL));
	if (m->flags & HTTP_F_CL)
		fuzz_check(m->content_length <= (uint64_t)INT64_MAX);
}

/* Parses the input again in growing prefixes, each from a fresh exact-size
 * copy: byte by byte for short inputs, in uneven steps for long ones. */
static enum http_rc
fuzz_pieces(struct http_msg *m, const uint8_t *data, size_t size,
            fuzz_parse_fn parse)
{
	enum http_rc rc = HTTP_AGAIN;
	uint32_t seed = (uint32_t)size * 2654435761u;
	size_t n = 0;
	char *p;

	while (rc == HTTP_AGAIN && n <= size) {
		p = fuzz_copy(data, n);
		rc = parse(m, p, n);
		free(p);
		if (n == size)
			break;
		seed = seed * 1103515245u + 12345u;
		n += size <= 256 ? 1 : 1 + (seed >> 16) % (size / 16);
		if (n > size)
			n = size;
	}
	return rc;
}

static void
fuzz_check_same(const struct http_msg *a, const struct http_msg *b)
{
	unsigned i;

	fuzz_check(a->error == b->error && a->head_len == b->head_len);
	fuzz_check(a->nfields == b->nfields && a->version == b->version);
	fuzz_check(a->flags == b->flags);
	fuzz_check(a->content_length == b->content_length);
	fuzz_check(a->method == b->method && a->status == b->status);
	fuzz_check(a->target_form == b->target_form);
	fuzz_check(!memcmp(&a->target, &b->target, sizeof(a->target)));
	fuzz_check(!memcmp(&a->host, &b->host, sizeof(a->host)));
	fuzz_check(!memcmp(&a->reason, &b->reason, sizeof(a->reason)));
	fuzz_check(!memcmp(&a->method_name, &b->method_name,
	                   sizeof(a->method_name)));
	for (i = 0; i < a->nfields; i++)
		fuzz_check(!memcmp(&a->fields[i], &b->fields[i],
		                   sizeof(a->fields[i])));
}

#endif
