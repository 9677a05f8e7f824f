/*
 * libFuzzer target for the chunked decoder.  The input is decoded in one
 * piece and again in small uneven pieces (byte by byte for short inputs),
 * each piece in its own exact-size allocation; the results, the bytes
 * consumed and the decoded data must be the same, and every call must keep
 * the contract of http_chunked_step.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http_parse.h"

#define MAX_TRAILER 256

#define check(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct run {
	enum http_rc rc;
	size_t consumed;
	char *out;
	size_t nout;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One call on data[pos..pos+n) from its own copy; returns bytes used. */
static size_t
step(struct http_chunked *c, const uint8_t *data, size_t n, struct run *r)
{
	size_t used = (size_t)-1, off = (size_t)-1, len = (size_t)-1;
	char *p = malloc(n > 0 ? n : 1);

	check(p != NULL);
	if (n > 0)
		memcpy(p, data, n);
	r->rc = http_chunked_step(c, p, n, &used, &off, &len);
	check(used <= n);
	switch (r->rc) {
	case HTTP_OK:
		check(len > 0 && off + len == used);
		memcpy(r->out + r->nout, p + off, len);
		r->nout += len;
		break;
	case HTTP_AGAIN:
		check(used == n && len == 0);
		break;
	case HTTP_DONE:
	case HTTP_ERROR:
		check(len == 0);
		break;
	}
	free(p);
	return used;
}

static void
decode(const uint8_t *data, size_t size, int small, struct run *r)
{
	struct http_chunked c;
	uint32_t seed = (uint32_t)size;
	size_t pos = 0, n;

	http_chunked_init(&c, MAX_TRAILER);
	r->out = malloc(size > 0 ? size : 1);
	check(r->out != NULL);
	r->nout = 0;
	r->rc = HTTP_AGAIN;
	while (pos < size && (r->rc == HTTP_OK || r->rc == HTTP_AGAIN)) {
		n = size - pos;
		if (small) {
			seed = seed * 1103515245u + 12345u;
			if (size > 512 && n > 1 + (seed >> 16) % 64)
				n = 1 + (seed >> 16) % 64;
			else if (size <= 512)
				n = 1;
		}
		pos += step(&c, data + pos, n, r);
	}
	r->consumed = pos;
	check(r->nout <= r->consumed);
	if (r->rc == HTTP_DONE)
		check(c.remaining == 0 && c.trailer_bytes <= MAX_TRAILER);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run one, pieces;

	decode(data, size, 0, &one);
	decode(data, size, 1, &pieces);
	check(one.rc == pieces.rc);
	check(one.consumed == pieces.consumed);
	check(one.nout == pieces.nout);
	check(memcmp(one.out, pieces.out, one.nout) == 0);
	free(one.out);
	free(pieces.out);
	return 0;
}
