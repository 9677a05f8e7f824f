/*
 * Moving a message body from the buffer it was read into to the buffer it
 * is sent from, decoding the incoming framing and applying the outgoing
 * one.  Chunked bodies are always re-chunked (each decoded span becomes one
 * chunk, extensions and trailers dropped): what the next hop parses is
 * framing we wrote, never bytes we merely passed along.
 */
#include "worker/session.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_OVERHEAD 20 /* "%zx\r\n" + "\r\n" for any size */
#define LAST_CHUNK "0\r\n\r\n"

void
body_init(struct body *b, enum body_kind in, enum body_kind out,
          uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->in = in;
	b->out = out;
	b->remaining = length;
	http_chunked_init(&b->chunked, 16384);
	if (in == BODY_NONE || (in == BODY_LENGTH && length == 0))
		b->done = 1;
}

/* Room for content in out, keeping space for the framing around it. */
static size_t
room(const struct body *b, const struct buf *out)
{
	size_t space = buf_space(out);

	if (b->out != BODY_CHUNKED)
		return space;
	return space > CHUNK_OVERHEAD ? space - CHUNK_OVERHEAD : 0;
}

static void
emit(struct body *b, struct buf *out, const char *p, size_t n)
{
	int h;

	if (b->out == BODY_CHUNKED) {
		h = snprintf(buf_tail(out), buf_space(out), "%zx\r\n", n);
		out->end += (size_t)h;
	}
	memcpy(buf_tail(out), p, n);
	out->end += n;
	if (b->out == BODY_CHUNKED)
		buf_append(out, "\r\n", 2);
	b->bytes += n;
}

/* The input ended: write the last chunk if we chunk.  1 when done. */
static int
finish(struct body *b, struct buf *out)
{
	if (b->out == BODY_CHUNKED &&
	    buf_append(out, LAST_CHUNK, sizeof(LAST_CHUNK) - 1) < 0)
		return 0;
	b->done = 1;
	return 1;
}

static int
move_plain(struct body *b, struct buf *in, int in_eof, struct buf *out)
{
	size_t n = in ? buf_len(in) : 0, r = room(b, out);

	if (b->in == BODY_LENGTH && n > b->remaining)
		n = (size_t)b->remaining;
	if (n > r)
		n = r;
	if (n) {
		emit(b, out, buf_head(in), n);
		buf_consume(in, n);
	}
	if (b->in == BODY_LENGTH) {
		b->remaining -= n;
		if (b->remaining == 0)
			b->done = 1;
		return n > 0;
	}
	if (in_eof && (!in || buf_len(in) == 0))
		return finish(b, out);
	return n > 0;
}

static int
move_chunked(struct body *b, struct buf *in, struct buf *out)
{
	size_t consumed, off, len, lim;
	enum http_rc rc;
	int moved = 0;

	while (in && buf_len(in) && (lim = room(b, out)) > 0) {
		if (lim > buf_len(in))
			lim = buf_len(in);
		rc = http_chunked_step(&b->chunked, buf_head(in), lim,
		                       &consumed, &off, &len);
		if (rc == HTTP_ERROR)
			return -1;
		if (rc == HTTP_OK)
			emit(b, out, buf_head(in) + off, len);
		if (rc == HTTP_DONE && !finish(b, out))
			return moved; /* retry once out has room */
		buf_consume(in, consumed);
		moved |= consumed > 0;
		if (rc == HTTP_DONE)
			return 1;
		if (rc == HTTP_AGAIN && lim == buf_len(in) + consumed)
			break;
	}
	return moved;
}

/* 1 if bytes moved or the body ended, 0 if stuck, -1 on bad framing. */
int
body_move(struct body *b, struct buf *in, int in_eof, struct buf *out)
{
	if (b->done || !out)
		return 0;
	if (b->in == BODY_CHUNKED)
		return move_chunked(b, in, out);
	return move_plain(b, in, in_eof, out);
}

/* A body whose framing does not change is written straight from the
 * buffer it was read into, once nothing is queued ahead of it: no copy.
 * Otherwise it is decoded and re-framed into dst's out buffer. */
int
body_forward(struct body *b, struct buf *in, int in_eof, struct side *dst,
             int upstream)
{
	size_t before;
	int p;

	if (b->done || b->in == BODY_CHUNKED || b->out != b->in ||
	    (dst->out && buf_len(dst->out)))
		return body_move(b, in, in_eof, side_out(dst));
	before = in ? buf_len(in) : 0;
	p = side_write_max(dst, in,
	                   b->in == BODY_LENGTH ? b->remaining : SIZE_MAX,
	                   upstream);
	b->bytes += before - (in ? buf_len(in) : 0);
	if (b->in == BODY_LENGTH) {
		b->remaining -= before - (in ? buf_len(in) : 0);
		b->done = b->remaining == 0;
	} else if (in_eof && (!in || buf_len(in) == 0)) {
		b->done = 1;
		p = 1;
	}
	return p;
}
