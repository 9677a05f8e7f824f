/*
 * Byte buffers from a per-process pool.  A connection holds a buffer only
 * while it has bytes to move; idle connections hold none, so memory follows
 * traffic, not connection count.
 */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte */
	size_t cap;
	struct buf *next_free;
	char data[];
};

/* Every buffer has `size` bytes; at most max_free are kept for reuse. */
void buf_pool_init(size_t size, unsigned max_free);
void buf_pool_fini(void);
/* An empty buffer, or NULL when memory is exhausted. */
struct buf *buf_get(void);
void buf_put(struct buf *b);

static inline size_t
buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline size_t
buf_space(const struct buf *b)
{
	return b->cap - b->end;
}

static inline char *
buf_head(struct buf *b)
{
	return b->data + b->start;
}

static inline char *
buf_tail(struct buf *b)
{
	return b->data + b->end;
}

static inline void
buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

/* Moves the unconsumed bytes to the front to make room at the tail. */
static inline void
buf_compact(struct buf *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

/* Appends n bytes if they fit; 0 or -1. */
static inline int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_space(b) < n)
		return -1;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return 0;
}

#endif
