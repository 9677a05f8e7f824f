/*
 * The buffer pool: a free list of equal-sized buffers.  Per process, so no
 * locking; bounded, so a burst does not pin its peak memory forever.
 */
#include "common/buf.h"

#include <stdlib.h>

static size_t pool_size = 16384;
static unsigned pool_max_free = 64;
static unsigned pool_nfree;
static struct buf *pool_free;

void
buf_pool_init(size_t size, unsigned max_free)
{
	buf_pool_fini();
	pool_size = size;
	pool_max_free = max_free;
}

void
buf_pool_fini(void)
{
	struct buf *b;

	while ((b = pool_free) != NULL) {
		pool_free = b->next_free;
		free(b);
	}
	pool_nfree = 0;
}

struct buf *
buf_get(void)
{
	struct buf *b = pool_free;

	if (b) {
		pool_free = b->next_free;
		pool_nfree--;
	} else {
		b = malloc(sizeof(*b) + pool_size);
		if (!b)
			return NULL;
		b->cap = pool_size;
	}
	b->start = b->end = 0;
	b->next_free = NULL;
	return b;
}

void
buf_put(struct buf *b)
{
	if (!b)
		return;
	if (pool_nfree >= pool_max_free || b->cap != pool_size) {
		free(b);
		return;
	}
	b->next_free = pool_free;
	pool_free = b;
	pool_nfree++;
}
