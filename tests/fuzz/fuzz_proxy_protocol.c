/*
 * libFuzzer target for the PROXY protocol codec (worker/proxy_protocol.c).
 * The input is parsed whole and then as its prefixes (every one for short
 * inputs, uneven steps for long ones), each from an exact-size heap copy so
 * that ASan sees any read past n.  A prefix must answer AGAIN or exactly
 * what the whole input answers (the same header too): a worker that reads a
 * header in pieces must never decide differently from one that waited.  An
 * OK header must lie within the input and hold addresses of one family; it
 * is then written back, in both versions, and must parse to the same
 * addresses.  AGAIN must stay within the spec's bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "worker/proxy_protocol.h"

#define check(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct answer {
	enum proxy_protocol_rc rc;
	struct proxy_protocol_info pi;
	const char *why;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse(const uint8_t *data, size_t n, struct answer *a)
{
	char *p = malloc(n > 0 ? n : 1);

	check(p != NULL);
	if (n > 0)
		memcpy(p, data, n);
	a->why = NULL;
	a->rc = proxy_protocol_parse(p, n, &a->pi, &a->why);
	free(p);
	check(a->rc == PROXY_PROTOCOL_OK || a->rc == PROXY_PROTOCOL_AGAIN ||
	      a->rc == PROXY_PROTOCOL_ERROR);
	check((a->rc == PROXY_PROTOCOL_ERROR) == (a->why != NULL));
	if (a->rc == PROXY_PROTOCOL_ERROR)
		check(strlen(a->why) > 0);
	if (a->rc == PROXY_PROTOCOL_AGAIN && n > 0)
		check(n < (data[0] == 'P' ? PROXY_PROTOCOL_V1_MAX
		                          : PROXY_PROTOCOL_V2_MAX));
}

/* The address, port and family of one end, whatever the struct's padding
 * holds. */
static int
same_end(const struct sockaddr_storage *a, socklen_t alen,
         const struct sockaddr_storage *b, socklen_t blen)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (alen != blen || a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static int
same_header(const struct proxy_protocol_info *a,
            const struct proxy_protocol_info *b)
{
	if (a->local || b->local)
		return a->local == b->local;
	return same_end(&a->src, a->src_len, &b->src, b->src_len) &&
	       same_end(&a->dst, a->dst_len, &b->dst, b->dst_len);
}

static void
check_ok(const struct proxy_protocol_info *pi, size_t n)
{
	check(pi->len > 0 && pi->len <= n);
	if (pi->local) {
		check(pi->src_len == 0 && pi->dst_len == 0);
		return;
	}
	check(pi->src.ss_family == AF_INET || pi->src.ss_family == AF_INET6);
	check(pi->src.ss_family == pi->dst.ss_family);
	check(pi->src_len == (pi->src.ss_family == AF_INET
	                              ? sizeof(struct sockaddr_in)
	                              : sizeof(struct sockaddr_in6)));
	check(pi->dst_len == pi->src_len);
}

/* What parsed, written back in either version, parses the same. */
static void
round_trip(const struct proxy_protocol_info *pi)
{
	static struct answer back;
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int version, n;

	for (version = 1; version <= 2; version++) {
		n = proxy_protocol_write(
		        version,
		        pi->local ? NULL : (const struct sockaddr *)&pi->src,
		        pi->local ? NULL : (const struct sockaddr *)&pi->dst,
		        out, sizeof(out));
		check(n > 0 && (size_t)n <= sizeof(out));
		parse((const uint8_t *)out, (size_t)n, &back);
		check(back.rc == PROXY_PROTOCOL_OK);
		check(back.pi.len == (size_t)n);
		check(same_header(pi, &back.pi));
		/* one byte short of room: refused, never truncated */
		check(proxy_protocol_write(
		              version,
		              pi->local ? NULL
		                        : (const struct sockaddr *)&pi->src,
		              pi->local ? NULL
		                        : (const struct sockaddr *)&pi->dst,
		              out, (size_t)n - 1) == -1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct answer whole, part;
	uint32_t seed = (uint32_t)size * 2654435761u;
	size_t n = 0;

	parse(data, size, &whole);
	if (whole.rc == PROXY_PROTOCOL_OK) {
		check_ok(&whole.pi, size);
		round_trip(&whole.pi);
	}
	while (n < size) {
		parse(data, n, &part);
		check(part.rc == PROXY_PROTOCOL_AGAIN || part.rc == whole.rc);
		if (part.rc == PROXY_PROTOCOL_OK) {
			check(part.pi.len == whole.pi.len);
			check(same_header(&part.pi, &whole.pi));
		}
		/* a whole header answers AGAIN to none of its prefixes past
		 * its own end */
		if (whole.rc == PROXY_PROTOCOL_OK && n >= whole.pi.len)
			check(part.rc == PROXY_PROTOCOL_OK);
		seed = seed * 1103515245u + 12345u;
		n += size <= 512 ? 1 : 1 + (seed >> 16) % (size / 32);
	}
	return 0;
}
