/*
 * The test origin's -P: every connection must open with a PROXY protocol
 * header (v1 or v2), as on a server behind a balancer that sends one.  It
 * is parsed with proxyd's own codec (worker/proxy_protocol.c) and kept on
 * the connection for GET /proxy, so the suites can check what proxyd's
 * reverse mode sends.  A connection without a valid header is closed
 * unanswered, as HAProxy and nginx do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/support/origin/origin.h"

#define V2_HDR 16

/* How many bytes may be read without going past the header: one at a
 * time while a v1 line could end at any byte, the rest of the fixed part
 * and then of the address block for v2. */
static size_t
header_room(const unsigned char *b, size_t n)
{
	if (n == 0 || b[0] != '\r')
		return 1;
	if (n < V2_HDR)
		return V2_HDR - n;
	return V2_HDR + ((size_t)b[14] << 8 | b[15]) - n;
}

int
origin_read_proxy_header(struct origin_conn *c)
{
	unsigned char *b = malloc(PROXY_PROTOCOL_V2_MAX);
	enum proxy_protocol_rc rc;
	const char *why = NULL;
	size_t n = 0;
	ssize_t k;

	if (b == NULL)
		return -1;
	/* reads straight from the socket: with -t the TLS handshake
	 * follows, and OpenSSL must see all of it */
	while ((rc = proxy_protocol_parse((const char *)b, n, &c->pp, &why)) ==
	       PROXY_PROTOCOL_AGAIN) {
		do
			k = read(c->fd, b + n, header_room(b, n));
		while (k < 0 && errno == EINTR);
		if (k <= 0) {
			why = k == 0 ? "connection closed inside the header"
			             : "no header in time";
			break;
		}
		n += (size_t)k;
	}
	free(b);
	if (rc == PROXY_PROTOCOL_OK)
		return 0;
	fprintf(stderr, "origin: PROXY header refused after %zu bytes: %s\n", n,
	        why);
	return -1;
}

/* "IP:PORT", or "[IP]:PORT" for IPv6. */
static void
endpoint(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
	} else {
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip,
		         (unsigned)ntohs(sin6->sin6_port));
	}
}

void
origin_proxy_describe(const struct origin_conn *c, char *out, size_t cap)
{
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];

	if (!origin_opts.proxy_protocol) {
		snprintf(out, cap, "none\n");
		return;
	}
	if (c->pp.local) {
		snprintf(out, cap, "local\n");
		return;
	}
	endpoint(&c->pp.src, src, sizeof(src));
	endpoint(&c->pp.dst, dst, sizeof(dst));
	snprintf(out, cap, "src=%s dst=%s\n", src, dst);
}
