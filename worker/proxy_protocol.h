/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 (a text
 * line) and 2 (binary): the header a load balancer puts in front of a
 * connection to say whose it really is, and the one proxyd sends to an
 * origin that wants to know.  Pure code over a caller's buffer: no sockets,
 * no allocation, no state between calls.
 *
 * Parsing is strict, because the header decides the client address that
 * access rules and logs trust: v1 must match the grammar exactly (single
 * spaces, canonical addresses, ports without leading zeros, CRLF within 107
 * bytes); v2 must have version 2, a known command, and an address block at
 * least as long as its family needs, and its TLVs (skipped) must tile the
 * rest of the block.
 */
#ifndef WORKER_PROXY_PROTOCOL_H
#define WORKER_PROXY_PROTOCOL_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6
 * addresses and ports); longest v2 header is 16 + 65535. */
#define PROXY_PROTOCOL_V1_MAX 107
#define PROXY_PROTOCOL_V2_MAX (16 + 65535)
/* Room that proxy_protocol_write() never exceeds (a v2 TCP6 header is 52
 * bytes, a v1 TCP6 line at most 104). */
#define PROXY_PROTOCOL_WRITE_MAX 108

enum proxy_protocol_rc {
	PROXY_PROTOCOL_OK,
	PROXY_PROTOCOL_AGAIN,
	PROXY_PROTOCOL_ERROR,
};

struct proxy_protocol_info {
	size_t len; /* bytes the header takes at the start of the input */
	int local;  /* LOCAL command, UNKNOWN or UNSPEC: keep the
	             * connection's own addresses (src/dst then zeroed) */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
};

/* Parses a PROXY header (v1 or v2, told apart by the first bytes) at the
 * start of b[0..n).  OK: *pi describes it and the payload starts at
 * b + pi->len (bytes after the header are not looked at).  AGAIN: a valid
 * prefix, more bytes needed (never more than 107 for v1, 16 + 65535 for
 * v2; the caller bounds it by its buffer).  ERROR: *why (when why is not
 * NULL) says what is wrong, a static string.  Input that cannot start a
 * header is refused at its first byte, so a client that does not speak
 * the protocol is not left waiting. */
enum proxy_protocol_rc proxy_protocol_parse(const char *b, size_t n,
                                            struct proxy_protocol_info *pi,
                                            const char **why);

/* Writes a header of version 1 or 2 saying src -> dst (both AF_INET or
 * both AF_INET6) into out[0..cap).  Mixed or other families, or a NULL
 * address, give v1 "PROXY UNKNOWN\r\n" or a v2 LOCAL/UNSPEC header.
 * Returns its length, or -1 if cap is too small or version is neither 1
 * nor 2.  Nothing is NUL-terminated. */
int proxy_protocol_write(int version, const struct sockaddr *src,
                         const struct sockaddr *dst, char *out, size_t cap);

#endif
