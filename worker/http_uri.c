/*
 * Request-target and Host syntax (RFC 9112 3.2, RFC 3986 3.2): absolute-form
 * URIs, CONNECT's authority-form, and the host[:port] of a Host field.  The
 * host rules are deliberately narrower than RFC 3986's reg-name: whatever
 * passes here is later matched by access rules and handed to the resolver,
 * so an address must have exactly one spelling ("127.1", "0x7f.0.0.1" and
 * %-encoded names are refused rather than interpreted).
 */
#include "worker/http_parse.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 255 /* a DNS name's limit; longer hosts are refused */

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int
reg_name_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* inet_pton() wants a C string; p[0..n) is copied to one. */
static int
is_ip(int af, const char *p, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char addr[sizeof(struct in6_addr)];

	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(af, tmp, addr) == 1;
}

/* Whether the last label of a name (ignoring one trailing dot) looks like
 * a number: resolvers read such names as IPv4 addresses in odd notations,
 * so they must be plain dotted quads (WHATWG URL does the same). */
static int
ends_in_number(const char *p, size_t n)
{
	size_t i;

	if (n > 0 && p[n - 1] == '.')
		n--;
	i = n;
	while (i > 0 && p[i - 1] != '.')
		i--;
	if (i == n)
		return 0;
	if (n - i >= 2 && p[i] == '0' && (p[i + 1] | 0x20) == 'x')
		return 1;
	for (; i < n; i++)
		if (!is_digit((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
valid_reg_name(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > HOST_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!reg_name_char((unsigned char)p[i]))
			return 0;
	if (ends_in_number(p, n))
		return is_ip(AF_INET, p, n);
	return 1;
}

/* 1..65535 from 1*DIGIT; leading zeros are harmless. */
static int
parse_port(const char *p, size_t n, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (uint32_t)(p[i] - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Splits "host[:port]" or "[v6][:port]"; *port is 0 without a port, and
 * need_port refuses that. */
static int
hostport(const char *buf, struct http_span s, int need_port,
         struct http_span *host, uint16_t *port)
{
	const char *p = buf + s.off;
	const char *rest;
	size_t hlen;

	*port = 0;
	if (s.len > 0 && p[0] == '[') {
		rest = memchr(p, ']', s.len);
		if (rest == NULL ||
		    !is_ip(AF_INET6, p + 1, (size_t)(rest - p - 1)))
			return -1;
		host->off = s.off + 1;
		host->len = (uint32_t)(rest - p - 1);
		rest++;
	} else {
		rest = memchr(p, ':', s.len);
		if (rest == NULL)
			rest = p + s.len;
		hlen = (size_t)(rest - p);
		if (!valid_reg_name(p, hlen))
			return -1;
		host->off = s.off;
		host->len = (uint32_t)hlen;
	}
	hlen = (size_t)(rest - p);
	if (hlen == s.len)
		return need_port ? -1 : 0;
	if (*rest != ':')
		return -1;
	if (hlen + 1 == s.len)
		return need_port ? -1 : 0; /* "host:" means the default */
	return parse_port(rest + 1, s.len - hlen - 1, port);
}

int
http_parse_hostport(const char *buf, struct http_span s, struct http_span *host,
                    uint16_t *port)
{
	return hostport(buf, s, 0, host, port);
}

int
http_parse_authority(const char *buf, struct http_span target,
                     struct http_span *host, uint16_t *port)
{
	return hostport(buf, target, 1, host, port);
}

/* Length of a "scheme://" prefix's scheme (RFC 3986 3.1), 0 if none. */
static size_t
scheme_len(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !is_alpha((unsigned char)p[0]))
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' &&
		    c != '.')
			break;
	}
	if (n - i < 3 || memcmp(p + i, "://", 3) != 0)
		return 0;
	return i;
}

int
http_parse_absolute_any(const char *buf, struct http_span target,
                        struct http_span *scheme, struct http_uri *u)
{
	const char *p = buf + target.off;
	struct http_span auth;
	size_t slen = scheme_len(p, target.len);
	size_t i;

	if (slen == 0 || memchr(p, '#', target.len) != NULL)
		return -1;
	scheme->off = target.off;
	scheme->len = (uint32_t)slen;
	i = slen + 3;
	auth.off = (uint32_t)(target.off + i);
	while (i < target.len && p[i] != '/' && p[i] != '?')
		i++;
	auth.len = (uint32_t)(target.off + i - auth.off);
	/* userinfo would be '@'-separated; the host rules refuse '@' */
	if (hostport(buf, auth, 0, &u->host, &u->port) < 0)
		return -1;
	u->path.off = (uint32_t)(target.off + i);
	u->path.len = (uint32_t)(target.len - i);
	return 0;
}

int
http_parse_absolute(const char *buf, struct http_span target,
                    struct http_uri *u)
{
	struct http_span scheme;

	if (http_parse_absolute_any(buf, target, &scheme, u) < 0)
		return -1;
	if (!http_span_eq(buf, scheme, "http"))
		return -1;
	if (u->port == 0)
		u->port = 80;
	return 0;
}
