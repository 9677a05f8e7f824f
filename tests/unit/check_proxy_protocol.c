/*
 * The PROXY protocol codec (worker/proxy_protocol.c).  Headers written by
 * proxy_protocol_write() must parse back to the same addresses; every
 * prefix of a valid header must ask for more and never be refused; what the
 * spec forbids (and HAProxy refuses) must be refused with a reason.  Every
 * parse reads from an exact-size heap copy so that ASan (make check
 * SANITIZE=1) catches a read past n.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "worker/proxy_protocol.h"

#define BUF_MAX 70000

static const char sig[] = "\r\n\r\n\0\r\nQUIT\n"; /* 12 bytes + NUL */

static const char *const rcs[] = {
        [PROXY_PROTOCOL_OK] = "OK",
        [PROXY_PROTOCOL_AGAIN] = "AGAIN",
        [PROXY_PROTOCOL_ERROR] = "ERROR",
};

/* proxy_protocol_parse on an exact-size heap copy. */
static enum proxy_protocol_rc
parse(const void *b, size_t n, struct proxy_protocol_info *pi, const char **why)
{
	char *copy = malloc(n > 0 ? n : 1);
	enum proxy_protocol_rc rc;

	ck_assert_ptr_nonnull(copy);
	if (n > 0)
		memcpy(copy, b, n);
	*why = NULL;
	rc = proxy_protocol_parse(copy, n, pi, why);
	free(copy);
	return rc;
}

/* b parses OK with len n - extra, and every shorter prefix of the header
 * (the payload's bytes excluded) is AGAIN. */
static void
assert_ok(const void *b, size_t n, size_t extra, struct proxy_protocol_info *pi)
{
	struct proxy_protocol_info tmp;
	enum proxy_protocol_rc rc;
	const char *why;
	size_t k;

	rc = parse(b, n, pi, &why);
	ck_assert_msg(rc == PROXY_PROTOCOL_OK, "got %s (%s), want OK", rcs[rc],
	              why ? why : "-");
	ck_assert_uint_eq(pi->len, n - extra);
	for (k = 0; k < n - extra; k++) {
		rc = parse(b, k, &tmp, &why);
		ck_assert_msg(rc == PROXY_PROTOCOL_AGAIN,
		              "prefix %zu of %zu: %s (%s)", k, n - extra,
		              rcs[rc], why ? why : "-");
	}
}

/* Refused with a reason; no prefix is OK. */
static void
assert_error_n(const void *b, size_t n)
{
	struct proxy_protocol_info pi;
	enum proxy_protocol_rc rc;
	const char *why;
	size_t k;

	rc = parse(b, n, &pi, &why);
	ck_assert_msg(rc == PROXY_PROTOCOL_ERROR, "got %s for %zu bytes: %.*s",
	              rcs[rc], n, (int)n, (const char *)b);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_gt(strlen(why), 0);
	for (k = 0; k < n; k++)
		ck_assert_int_ne(parse(b, k, &pi, &why), PROXY_PROTOCOL_OK);
}

static void
assert_error(const char *s)
{
	assert_error_n(s, strlen(s));
}

static void
assert_v1_ok(const char *s)
{
	struct proxy_protocol_info pi;

	assert_ok(s, strlen(s), 0, &pi);
}

static struct sockaddr_in
v4(const char *ip, unsigned port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	return sa;
}

static struct sockaddr_in6
v6(const char *ip, unsigned port)
{
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
	return sa;
}

static void
assert_v4(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
          unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char got[INET_ADDRSTRLEN];

	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(*sin));
	inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got));
	ck_assert_str_eq(got, ip);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

static void
assert_v6(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
          unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(*sin6));
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &want), 1);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof(want));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
}

static void
assert_local(const struct proxy_protocol_info *pi)
{
	ck_assert_int_eq(pi->local, 1);
	ck_assert_uint_eq(pi->src_len, 0);
	ck_assert_uint_eq(pi->dst_len, 0);
}

/* A v2 header: signature, ver_cmd, fam, then len bytes of body. */
static size_t
v2_build(unsigned char *out, int ver_cmd, int fam, const void *body, size_t len)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	if (len > 0)
		memcpy(out + 16, body, len);
	return 16 + len;
}

/* ---- round trips --------------------------------------------------- */

struct pair {
	const char *src, *dst;
	unsigned sport, dport;
};

static const struct pair pairs4[] = {
        {"1.2.3.4", "5.6.7.8", 1111, 2222},
        {"0.0.0.0", "255.255.255.255", 0, 65535},
        {"127.0.0.1", "10.0.0.1", 65535, 1},
};

static const struct pair pairs6[] = {
        {"::1", "2001:db8::1", 1111, 2222},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535, 65535},
        {"::", "::ffff:192.0.2.1", 0, 80},
        {"fe80::1:2:3:4", "2001:db8:0:1:1:1:1:1", 40000, 443},
};

START_TEST(round_trip_v4)
{
	struct proxy_protocol_info pi;
	struct sockaddr_in s, d;
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int version, n;
	size_t i;

	for (version = 1; version <= 2; version++)
		for (i = 0; i < sizeof(pairs4) / sizeof(pairs4[0]); i++) {
			s = v4(pairs4[i].src, pairs4[i].sport);
			d = v4(pairs4[i].dst, pairs4[i].dport);
			n = proxy_protocol_write(version, (struct sockaddr *)&s,
			                         (struct sockaddr *)&d, out,
			                         sizeof(out));
			ck_assert_int_gt(n, 0);
			assert_ok(out, (size_t)n, 0, &pi);
			ck_assert_int_eq(pi.local, 0);
			assert_v4(&pi.src, pi.src_len, pairs4[i].src,
			          pairs4[i].sport);
			assert_v4(&pi.dst, pi.dst_len, pairs4[i].dst,
			          pairs4[i].dport);
		}
}
END_TEST

START_TEST(round_trip_v6)
{
	struct proxy_protocol_info pi;
	struct sockaddr_in6 s, d;
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int version, n;
	size_t i;

	for (version = 1; version <= 2; version++)
		for (i = 0; i < sizeof(pairs6) / sizeof(pairs6[0]); i++) {
			s = v6(pairs6[i].src, pairs6[i].sport);
			d = v6(pairs6[i].dst, pairs6[i].dport);
			n = proxy_protocol_write(version, (struct sockaddr *)&s,
			                         (struct sockaddr *)&d, out,
			                         sizeof(out));
			ck_assert_int_gt(n, 0);
			assert_ok(out, (size_t)n, 0, &pi);
			ck_assert_int_eq(pi.local, 0);
			assert_v6(&pi.src, pi.src_len, pairs6[i].src,
			          pairs6[i].sport);
			assert_v6(&pi.dst, pi.dst_len, pairs6[i].dst,
			          pairs6[i].dport);
		}
}
END_TEST

/* The exact bytes, as HAProxy writes them (spec 2.1, 2.2). */
START_TEST(write_exact_bytes)
{
	static const unsigned char v2_tcp4[] = {
	        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
	        0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 1,    2,    3,    4,
	        5,    6,    7,    8,    0x04, 0x57, 0x08, 0xae};
	struct sockaddr_in s = v4("1.2.3.4", 1111), d = v4("5.6.7.8", 2222);
	struct sockaddr_in6 s6 = v6("2001:db8::1", 1), d6 = v6("::1", 2);
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int n;

	n = proxy_protocol_write(1, (struct sockaddr *)&s,
	                         (struct sockaddr *)&d, out, sizeof(out));
	ck_assert_int_eq(n, 38);
	ck_assert_mem_eq(out, "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n", 38);
	n = proxy_protocol_write(2, (struct sockaddr *)&s,
	                         (struct sockaddr *)&d, out, sizeof(out));
	ck_assert_int_eq(n, (int)sizeof(v2_tcp4));
	ck_assert_mem_eq(out, v2_tcp4, sizeof(v2_tcp4));
	n = proxy_protocol_write(1, (struct sockaddr *)&s6,
	                         (struct sockaddr *)&d6, out, sizeof(out));
	ck_assert_int_eq(n, 32);
	ck_assert_mem_eq(out, "PROXY TCP6 2001:db8::1 ::1 1 2\r\n", 32);
	n = proxy_protocol_write(2, (struct sockaddr *)&s6,
	                         (struct sockaddr *)&d6, out, sizeof(out));
	ck_assert_int_eq(n, 16 + 36);
	ck_assert_mem_eq(out, sig, 12);
	ck_assert_int_eq(out[12], 0x21);
	ck_assert_int_eq(out[13], 0x21);
	ck_assert_int_eq(out[15], 36);
}
END_TEST

/* Mixed or other families: UNKNOWN and LOCAL, which parse as local. */
START_TEST(write_unknown_families)
{
	struct sockaddr_in s = v4("1.2.3.4", 1);
	struct sockaddr_in6 d = v6("::1", 2);
	struct sockaddr un = {.sa_family = AF_UNIX};
	struct proxy_protocol_info pi;
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int n;

	n = proxy_protocol_write(1, (struct sockaddr *)&s,
	                         (struct sockaddr *)&d, out, sizeof(out));
	ck_assert_int_eq(n, 15);
	ck_assert_mem_eq(out, "PROXY UNKNOWN\r\n", 15);
	assert_ok(out, (size_t)n, 0, &pi);
	assert_local(&pi);
	n = proxy_protocol_write(2, (struct sockaddr *)&s,
	                         (struct sockaddr *)&d, out, sizeof(out));
	ck_assert_int_eq(n, 16);
	ck_assert_mem_eq(out, "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
	assert_ok(out, (size_t)n, 0, &pi);
	assert_local(&pi);
	ck_assert_int_eq(proxy_protocol_write(1, &un, &un, out, sizeof(out)),
	                 15);
	ck_assert_int_eq(proxy_protocol_write(2, NULL, (struct sockaddr *)&d,
	                                      out, sizeof(out)),
	                 16);
}
END_TEST

/* Too small a buffer: -1 and nothing written; so is a bad version. */
START_TEST(write_capacity)
{
	struct sockaddr_in6 s =
	        v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	char out[PROXY_PROTOCOL_WRITE_MAX];
	int n, version;

	for (version = 1; version <= 2; version++) {
		n = proxy_protocol_write(version, (struct sockaddr *)&s,
		                         (struct sockaddr *)&s, out,
		                         sizeof(out));
		ck_assert_int_eq(n, version == 1 ? 104 : 52);
		memset(out, '#', sizeof(out));
		ck_assert_int_eq(proxy_protocol_write(version,
		                                      (struct sockaddr *)&s,
		                                      (struct sockaddr *)&s,
		                                      out, (size_t)n - 1),
		                 -1);
		ck_assert_int_eq(out[0], '#');
		ck_assert_int_eq(proxy_protocol_write(
		                         version, (struct sockaddr *)&s,
		                         (struct sockaddr *)&s, out, (size_t)n),
		                 n);
	}
	ck_assert_int_eq(proxy_protocol_write(3, (struct sockaddr *)&s,
	                                      (struct sockaddr *)&s, out,
	                                      sizeof(out)),
	                 -1);
	ck_assert_int_eq(proxy_protocol_write(0, (struct sockaddr *)&s,
	                                      (struct sockaddr *)&s, out,
	                                      sizeof(out)),
	                 -1);
}
END_TEST

/* ---- v1 ------------------------------------------------------------ */

/* The payload after the header is not part of it, and not looked at. */
START_TEST(v1_payload_follows)
{
	static const char in[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 "
	                         "443\r\nGET / HTTP/1.1\r\n\x01\xff\n\r";
	struct proxy_protocol_info pi;

	assert_ok(in, sizeof(in) - 1, 20, &pi);
	assert_v4(&pi.src, pi.src_len, "192.168.0.1", 56324);
	assert_v4(&pi.dst, pi.dst_len, "192.168.0.11", 443);
}
END_TEST

START_TEST(v1_unknown)
{
	/* the longest line the spec allows, exactly 107 bytes */
	static const char longest[] =
	        "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct proxy_protocol_info pi;

	assert_ok("PROXY UNKNOWN\r\n", 15, 0, &pi);
	assert_local(&pi);
	ck_assert_uint_eq(sizeof(longest) - 1, 107);
	assert_ok(longest, 107, 0, &pi);
	assert_local(&pi);
	/* what follows UNKNOWN is ignored, whatever it says */
	assert_ok("PROXY UNKNOWN whatever, 1.2.3.4 x\r\nGET", 38, 3, &pi);
	assert_local(&pi);
	assert_v1_ok("PROXY UNKNOWN \r\n");
}
END_TEST

START_TEST(v1_accepted_forms)
{
	assert_v1_ok("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n");
	assert_v1_ok("PROXY TCP6 ::ffff:1.2.3.4 ::1 10 20\r\n");
	assert_v1_ok("PROXY TCP6 2001:DB8::A 2001:db8::b 1 2\r\n");
	assert_v1_ok("PROXY TCP6 0:0:0:0:0:0:0:1 ::1 65535 1\r\n");
}
END_TEST

/* 107 bytes with no CRLF: refused, while 106 still waits. */
START_TEST(v1_too_long)
{
	struct proxy_protocol_info pi;
	char line[200];
	const char *why;

	memset(line, 'f', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	ck_assert_int_eq(parse(line, 106, &pi, &why), PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse(line, 107, &pi, &why), PROXY_PROTOCOL_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "107"));
	/* the CRLF one byte too late: a 108-byte line */
	memcpy(line + 106, "\r\n", 2);
	assert_error_n(line, 108);
	/* a CR at the last allowed byte, its LF past it */
	ck_assert_int_eq(parse(line, 107, &pi, &why), PROXY_PROTOCOL_ERROR);
	memcpy(line + 105, "\r\n", 2);
	ck_assert_int_eq(parse(line, 107, &pi, &why), PROXY_PROTOCOL_OK);
}
END_TEST

START_TEST(v1_bad_ports)
{
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 100000 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 00 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 +80 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 80\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 80 8a\r\n");
}
END_TEST

START_TEST(v1_bad_addresses)
{
	assert_error("PROXY TCP4 1.2.3.x 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n");
	assert_error("PROXY TCP4 ::1 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
	assert_error("PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n");
	assert_error("PROXY TCP6 ::1 1::2::3 1 2\r\n");
	assert_error("PROXY TCP6 ::1 00001:: 1 2\r\n");
	assert_error("PROXY TCP6 ::1 [::1] 1 2\r\n");
	assert_error("PROXY TCP4 example.com 5.6.7.8 1 2\r\n");
}
END_TEST

START_TEST(v1_bad_syntax)
{
	/* not the protocol at all: refused at the first byte */
	assert_error("GET / HTTP/1.1\r\n");
	assert_error("G");
	assert_error("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY UNKNOWNX\r\n");
	assert_error("PROXY TCP4\r\n");
	assert_error("PROXY\r\n");
	assert_error("PROXY \r\n");
	/* spaces: exactly one between fields, none at the ends */
	assert_error("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
	assert_error("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n");
	/* fields missing or extra */
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8\r\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
	/* line ends: CRLF only */
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
	assert_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n");
	assert_error("PROXY UNKNOWN a\rb\r\n");
	assert_error("PROXY UNKNOWN a\nb\r\n");
	/* bytes outside printable ASCII, even where they are ignored */
	assert_error_n("PROXY UNKNOWN \0\r\n", 17);
	assert_error("PROXY UNKNOWN \xff\r\n");
	assert_error_n("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33);
}
END_TEST

/* Bad input is refused as soon as it cannot become a header, not only
 * once a CRLF arrives: a client not speaking the protocol is not left
 * hanging. */
START_TEST(v1_early_refusal)
{
	struct proxy_protocol_info pi;
	const char *why;

	ck_assert_int_eq(parse("PROXX", 5, &pi, &why), PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("PROXY TCP7", 10, &pi, &why),
	                 PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("PROXY TCP4 1\x01", 13, &pi, &why),
	                 PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("PROXY TCP4 1.2\rx", 16, &pi, &why),
	                 PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("PROXY TCP4 1.2\r", 15, &pi, &why),
	                 PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse("PROXY UNKNOWN", 13, &pi, &why),
	                 PROXY_PROTOCOL_AGAIN);
}
END_TEST

/* ---- v2 ------------------------------------------------------------ */

START_TEST(v2_tcp4_with_tlvs_and_payload)
{
	/* addresses, then PP2_TYPE_ALPN "h2", a NOOP of 0 and of 5 bytes */
	static const unsigned char body[] = {
	        10,   0,    0,    1, 10, 0,   0,   2,    0x1f, 0x90,
	        0x00, 0x50, 0x01, 0, 2,  'h', '2', 0x04, 0,    0,
	        0x04, 0,    5,    1, 2,  3,   4,   5};
	unsigned char in[256];
	struct proxy_protocol_info pi;
	size_t n = v2_build(in, 0x21, 0x11, body, sizeof(body));

	memcpy(in + n, "GET /", 5);
	assert_ok(in, n + 5, 5, &pi);
	ck_assert_uint_eq(pi.len, 16 + sizeof(body));
	ck_assert_int_eq(pi.local, 0);
	assert_v4(&pi.src, pi.src_len, "10.0.0.1", 8080);
	assert_v4(&pi.dst, pi.dst_len, "10.0.0.2", 80);
}
END_TEST

START_TEST(v2_tcp6_with_tlv)
{
	unsigned char body[36 + 7], in[256];
	struct proxy_protocol_info pi;
	size_t n;

	memset(body, 0, sizeof(body));
	body[15] = 1;    /* ::1 */
	body[16] = 0x20; /* 2001:db8:: */
	body[17] = 0x01;
	body[18] = 0x0d;
	body[19] = 0xb8;
	body[32] = 0xff; /* 65535 */
	body[33] = 0xff;
	body[35] = 1; /* 1 */
	/* PP2_TYPE_UNIQUE_ID, 4 bytes */
	memcpy(body + 36, "\005\000\004abcd", 7);
	n = v2_build(in, 0x21, 0x21, body, sizeof(body));
	assert_ok(in, n, 0, &pi);
	assert_v6(&pi.src, pi.src_len, "::1", 65535);
	assert_v6(&pi.dst, pi.dst_len, "2001:db8::", 1);
}
END_TEST

/* LOCAL: addresses (and the family) ignored, the block skipped. */
START_TEST(v2_local)
{
	static const unsigned char junk[] = "anything at all, even \0 bytes";
	unsigned char in[256];
	struct proxy_protocol_info pi;
	size_t n;

	n = v2_build(in, 0x20, 0x00, NULL, 0);
	assert_ok(in, n, 0, &pi);
	assert_local(&pi);
	ck_assert_uint_eq(pi.len, 16);
	n = v2_build(in, 0x20, 0x11, junk, sizeof(junk));
	assert_ok(in, n, 0, &pi);
	assert_local(&pi);
	/* even a family byte the spec does not define, or too short a
	 * block for the family it names */
	n = v2_build(in, 0x20, 0x99, junk, 3);
	assert_ok(in, n, 0, &pi);
	assert_local(&pi);
	n = v2_build(in, 0x20, 0x21, junk, 12);
	assert_ok(in, n, 0, &pi);
	assert_local(&pi);
}
END_TEST

/* PROXY with UNSPEC (either half), UDP or UNIX: the connection's own
 * addresses; each family's block must still be long enough. */
START_TEST(v2_fallback_families)
{
	static const int fams[] = {0x00, 0x10, 0x20, 0x30, 0x01,
	                           0x02, 0x12, 0x22, 0x31, 0x32};
	static const size_t lens[] = {0, 0, 0, 0, 0, 0, 12, 36, 216, 216};
	unsigned char body[300], in[400];
	struct proxy_protocol_info pi;
	size_t i, n;

	memset(body, 0x7f, sizeof(body));
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		n = v2_build(in, 0x21, fams[i], body, lens[i]);
		assert_ok(in, n, 0, &pi);
		assert_local(&pi);
		if (lens[i] > 0)
			assert_error_n(in, v2_build(in, 0x21, fams[i], body,
			                            lens[i] - 1));
	}
}
END_TEST

/* The whole 16 + 65535 bytes a header may take. */
START_TEST(v2_longest)
{
	static unsigned char body[65535], in[16 + 65535];
	struct proxy_protocol_info pi;
	const char *why;
	size_t n;

	memset(body, 0, sizeof(body));
	body[12] = 0x04; /* one NOOP TLV filling the rest */
	body[13] = (unsigned char)((65535 - 15) >> 8);
	body[14] = (unsigned char)(65535 - 15);
	n = v2_build(in, 0x21, 0x11, body, sizeof(body));
	ck_assert_int_eq(parse(in, n, &pi, &why), PROXY_PROTOCOL_OK);
	ck_assert_uint_eq(pi.len, 16 + 65535);
	ck_assert_int_eq(parse(in, n - 1, &pi, &why), PROXY_PROTOCOL_AGAIN);
}
END_TEST

START_TEST(v2_malformed)
{
	unsigned char body[64], in[128];
	size_t n;

	memset(body, 1, sizeof(body));
	/* bad signature, at any of its bytes */
	for (size_t i = 0; i < 12; i++) {
		n = v2_build(in, 0x21, 0x11, body, 12);
		in[i] ^= 0x40;
		if (in[0] != 'P')
			assert_error_n(in, n);
	}
	/* version 1 or 3, commands 2 to 15 */
	assert_error_n(in, v2_build(in, 0x11, 0x11, body, 12));
	assert_error_n(in, v2_build(in, 0x31, 0x11, body, 12));
	assert_error_n(in, v2_build(in, 0x01, 0x00, body, 0));
	assert_error_n(in, v2_build(in, 0x22, 0x11, body, 12));
	assert_error_n(in, v2_build(in, 0x2f, 0x11, body, 12));
	/* families and protocols the spec does not define */
	assert_error_n(in, v2_build(in, 0x21, 0x41, body, 12));
	assert_error_n(in, v2_build(in, 0x21, 0x13, body, 12));
	assert_error_n(in, v2_build(in, 0x21, 0x03, body, 12));
	assert_error_n(in, v2_build(in, 0x21, 0x40, body, 12));
	assert_error_n(in, v2_build(in, 0x21, 0xff, body, 12));
	/* too short for the family's addresses */
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 11));
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 0));
	assert_error_n(in, v2_build(in, 0x21, 0x21, body, 35));
	assert_error_n(in, v2_build(in, 0x21, 0x21, body, 12));
}
END_TEST

/* The TLVs must tile the rest of the block exactly. */
START_TEST(v2_bad_tlvs)
{
	unsigned char body[64], in[128];

	memset(body, 0, sizeof(body));
	/* one byte, two bytes: not even a TLV header */
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 13));
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 14));
	/* a TLV claiming 4 bytes with 3 present */
	body[12] = 0x04;
	body[14] = 4;
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 12 + 3 + 3));
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 12 + 3 + 4 + 1));
	/* a length near 65535 does not wrap */
	body[13] = 0xff;
	body[14] = 0xff;
	assert_error_n(in, v2_build(in, 0x21, 0x11, body, 12 + 3 + 10));
}
END_TEST

/* Prefixes of v2 headers wait, up to the byte that is wrong. */
START_TEST(v2_early_refusal)
{
	unsigned char body[64], in[128];
	struct proxy_protocol_info pi;
	const char *why;

	memset(body, 0, sizeof(body));
	v2_build(in, 0x31, 0x11, body, 12);
	ck_assert_int_eq(parse(in, 12, &pi, &why), PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse(in, 13, &pi, &why), PROXY_PROTOCOL_ERROR);
	v2_build(in, 0x21, 0x51, body, 12);
	ck_assert_int_eq(parse(in, 13, &pi, &why), PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse(in, 14, &pi, &why), PROXY_PROTOCOL_ERROR);
	v2_build(in, 0x21, 0x21, body, 12);
	ck_assert_int_eq(parse(in, 15, &pi, &why), PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse(in, 16, &pi, &why), PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("\r\n\r\n\x01", 5, &pi, &why),
	                 PROXY_PROTOCOL_ERROR);
	ck_assert_int_eq(parse("\r\n\r\n\0", 5, &pi, &why),
	                 PROXY_PROTOCOL_AGAIN);
	ck_assert_int_eq(parse("", 0, &pi, &why), PROXY_PROTOCOL_AGAIN);
}
END_TEST

/* Any single corrupted byte of a valid header gives some answer, never a
 * crash or a read past the end; an OK still stays within the input. */
START_TEST(corrupted_bytes)
{
	static const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
	struct sockaddr_in6 s = v6("2001:db8::1", 443), d = v6("::2", 80);
	struct sockaddr_in s4 = v4("1.2.3.4", 5), d4 = v4("6.7.8.9", 10);
	struct proxy_protocol_info pi;
	char out[PROXY_PROTOCOL_WRITE_MAX];
	const char *why;
	int version, n, fam;
	size_t i, j;

	for (fam = 0; fam < 2; fam++)
		for (version = 1; version <= 2; version++) {
			n = proxy_protocol_write(version,
			                         fam ? (struct sockaddr *)&s
			                             : (struct sockaddr *)&s4,
			                         fam ? (struct sockaddr *)&d
			                             : (struct sockaddr *)&d4,
			                         out, sizeof(out));
			ck_assert_int_gt(n, 0);
			for (i = 0; i < (size_t)n; i++)
				for (j = 0; j < sizeof(flips); j++) {
					out[i] = (char)(out[i] ^ flips[j]);
					if (parse(out, (size_t)n, &pi, &why) ==
					    PROXY_PROTOCOL_OK)
						ck_assert_uint_le(pi.len,
						                  (size_t)n);
					out[i] = (char)(out[i] ^ flips[j]);
				}
		}
}
END_TEST

static Suite *
proxy_protocol_suite(void)
{
	Suite *s = suite_create("proxy_protocol");
	TCase *w = tcase_create("write");
	TCase *t1 = tcase_create("v1");
	TCase *t2 = tcase_create("v2");

	tcase_add_test(w, round_trip_v4);
	tcase_add_test(w, round_trip_v6);
	tcase_add_test(w, write_exact_bytes);
	tcase_add_test(w, write_unknown_families);
	tcase_add_test(w, write_capacity);
	tcase_add_test(w, corrupted_bytes);
	tcase_add_test(t1, v1_payload_follows);
	tcase_add_test(t1, v1_unknown);
	tcase_add_test(t1, v1_accepted_forms);
	tcase_add_test(t1, v1_too_long);
	tcase_add_test(t1, v1_bad_ports);
	tcase_add_test(t1, v1_bad_addresses);
	tcase_add_test(t1, v1_bad_syntax);
	tcase_add_test(t1, v1_early_refusal);
	tcase_add_test(t2, v2_tcp4_with_tlvs_and_payload);
	tcase_add_test(t2, v2_tcp6_with_tlv);
	tcase_add_test(t2, v2_local);
	tcase_add_test(t2, v2_fallback_families);
	tcase_add_test(t2, v2_longest);
	tcase_add_test(t2, v2_malformed);
	tcase_add_test(t2, v2_bad_tlvs);
	tcase_add_test(t2, v2_early_refusal);
	suite_add_tcase(s, w);
	suite_add_tcase(s, t1);
	suite_add_tcase(s, t2);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxy_protocol_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
