/*
 * Unit tests for the strict HTTP/1.1 parser (worker/http_parse.h): request
 * and response heads, their framing and Host semantics, target forms, the
 * URI and authority parsers, and the chunked decoder.  Every rejection is
 * checked with the exact status it must produce, and the resumable paths
 * are checked against one-shot parsing by feeding a byte at a time through
 * a buffer that moves between calls.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http_parse.h"

#define NFIELDS 16

static struct http_limits lim;
static struct http_field fields[NFIELDS];
static struct http_msg m;
static const char *cur; /* the buffer m was parsed from */

static void
setup(void)
{
	lim.max_head = 4096;
	lim.max_target = 256;
	lim.max_fields = NFIELDS;
}

static enum http_rc
req_n(const char *s, size_t n)
{
	cur = s;
	http_msg_init(&m, fields, &lim);
	return http_parse_request(&m, s, n);
}

static enum http_rc
req(const char *s)
{
	return req_n(s, strlen(s));
}

static enum http_rc
resp(const char *s)
{
	cur = s;
	http_msg_init(&m, fields, &lim);
	return http_parse_response(&m, s, strlen(s));
}

static int
span_is(struct http_span s, const char *str)
{
	return s.len == strlen(str) && memcmp(cur + s.off, str, s.len) == 0;
}

#define ck_span(s, str)                                                     \
	ck_assert_msg(span_is(s, str), "span '%.*s' != '%s'", (int)(s).len, \
	              cur + (s).off, str)

static void
expect_req_error(const char *s, unsigned status)
{
	enum http_rc rc = req(s);

	ck_assert_msg(rc == HTTP_ERROR && m.error == status,
	              "'%s': rc %d error %u, want error %u", s, rc, m.error,
	              status);
	ck_assert_ptr_nonnull(m.error_reason);
}

static void
expect_req_ok(const char *s)
{
	enum http_rc rc = req(s);

	ck_assert_msg(rc == HTTP_OK, "'%s': rc %d error %u (%s)", s, rc,
	              m.error, m.error_reason ? m.error_reason : "");
	ck_assert_uint_eq(m.head_len, strlen(s));
}

static void
expect_resp_error(const char *s)
{
	enum http_rc rc = resp(s);

	ck_assert_msg(rc == HTTP_ERROR && m.error == 502,
	              "'%s': rc %d error %u, want 502", s, rc, m.error);
}

#define GET(fields_) "GET / HTTP/1.1\r\nHost: example.com\r\n" fields_ "\r\n"
#define POST(fields_) "POST /p HTTP/1.1\r\nHost: h\r\n" fields_ "\r\n"

/* ---- request line ---- */

START_TEST(test_simple_get)
{
	expect_req_ok("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
	              "Accept: */*\r\n\r\n");
	ck_assert_int_eq(m.method, HTTP_METHOD_GET);
	ck_span(m.method_name, "GET");
	ck_span(m.target, "/index.html?q=1");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ORIGIN);
	ck_assert_uint_eq(m.version, 11);
	ck_assert_uint_eq(m.nfields, 2);
	ck_span(m.fields[0].name, "Host");
	ck_span(m.fields[1].value, "*/*");
	ck_span(m.host, "example.com");
	ck_assert_uint_eq(m.flags, HTTP_F_HOST);
}
END_TEST

START_TEST(test_methods)
{
	static const struct {
		const char *name;
		enum http_method m;
	} t[] = {
	        {"GET", HTTP_METHOD_GET},         {"HEAD", HTTP_METHOD_HEAD},
	        {"POST", HTTP_METHOD_POST},       {"PUT", HTTP_METHOD_PUT},
	        {"DELETE", HTTP_METHOD_DELETE},   {"TRACE", HTTP_METHOD_TRACE},
	        {"OPTIONS", HTTP_METHOD_OPTIONS}, {"PATCH", HTTP_METHOD_PATCH},
	        {"get", HTTP_METHOD_OTHER},       {"PURGE", HTTP_METHOD_OTHER},
	        {"GETX", HTTP_METHOD_OTHER},
	};
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: h\r\n\r\n",
		         t[i].name);
		expect_req_ok(buf);
		ck_assert_int_eq(m.method, t[i].m);
		ck_span(m.method_name, t[i].name);
	}
}
END_TEST

START_TEST(test_http10_no_host)
{
	expect_req_ok("GET / HTTP/1.0\r\n\r\n");
	ck_assert_uint_eq(m.version, 10);
	ck_assert_uint_eq(m.nfields, 0);
	ck_assert_uint_eq(m.flags & HTTP_F_HOST, 0);
}
END_TEST

START_TEST(test_leading_crlf_skipped)
{
	expect_req_ok("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_span(m.method_name, "GET");
	ck_span(m.target, "/");
}
END_TEST

START_TEST(test_leading_crlf_bounded)
{
	char buf[200];
	size_t i;

	lim.max_head = 64;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i + 2 < sizeof(buf); i += 2)
		memcpy(buf + i, "\r\n", 2);
	expect_req_error(buf, 431);
}
END_TEST

START_TEST(test_pipelined)
{
	const char *two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	                  "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t first;

	ck_assert_int_eq(req(two), HTTP_OK);
	first = m.head_len;
	ck_assert_uint_eq(first, strlen(two) / 2);
	ck_span(m.target, "/a");
	ck_assert_int_eq(req(two + first), HTTP_OK);
	ck_assert_uint_eq(m.head_len, strlen(two) / 2);
	ck_span(m.target, "/b");
}
END_TEST

START_TEST(test_incremental_again)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	http_msg_init(&m, fields, &lim);
	cur = s;
	ck_assert_int_eq(http_parse_request(&m, s, 0), HTTP_AGAIN);
	ck_assert_int_eq(http_parse_request(&m, s, 10), HTTP_AGAIN);
	ck_assert_int_eq(http_parse_request(&m, s, strlen(s) - 1), HTTP_AGAIN);
	ck_assert_int_eq(http_parse_request(&m, s, strlen(s)), HTTP_OK);
	ck_assert_uint_eq(m.head_len, strlen(s));
	/* asking again after the end changes nothing */
	ck_assert_int_eq(http_parse_request(&m, s, strlen(s)), HTTP_OK);
}
END_TEST

START_TEST(test_error_is_sticky)
{
	const char *s = "GET / HTTP/1.1\nHost: h\r\n\r\n";

	ck_assert_int_eq(req(s), HTTP_ERROR);
	ck_assert_int_eq(http_parse_request(&m, s, strlen(s)), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 400);
}
END_TEST

/* Inputs the request parser must reject, with their exact status. */
static const struct {
	const char *in;
	unsigned status;
} bad_requests[] = {
        /* line endings */
        {"GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
        {"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n", 400},
        {"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\n\rX", 400},
        /* separators */
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        /* method and target bytes */
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* versions */
        {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/11\r\nHost: h\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTP/9.9\r\n\r\n", 505},
        /* field syntax */
        {GET("X: a\r\n folded\r\n"), 400},
        {GET("X: a\r\n\tfolded\r\n"), 400},
        {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
        {GET("X : a\r\n"), 400},
        {GET("X\t: a\r\n"), 400},
        {GET(": a\r\n"), 400},
        {GET("X(y: a\r\n"), 400},
        {GET("X a: b\r\n"), 400},
        {GET("NoColon\r\n"), 400},
        {GET("X: a\x01b\r\n"), 400},
        {GET("X: a\x7f\r\n"), 400},
        {GET("X: \x1b\r\n"), 400},
        {GET("X: a\x0b\r\n"), 400},
        /* Content-Length */
        {POST("Content-Length: 1,2\r\n"), 400},
        {POST("Content-Length: 1\r\nContent-Length: 2\r\n"), 400},
        {POST("Content-Length: -1\r\n"), 400},
        {POST("Content-Length: +1\r\n"), 400},
        {POST("Content-Length: 0x10\r\n"), 400},
        {POST("Content-Length: 1 2\r\n"), 400},
        {POST("Content-Length:\r\n"), 400},
        {POST("Content-Length: 5,\r\n"), 400},
        {POST("Content-Length: 9223372036854775808\r\n"), 400},
        {POST("Content-Length: 18446744073709551616\r\n"), 400},
        {POST("Content-Length: 99999999999999999999999\r\n"), 400},
        /* Transfer-Encoding */
        {POST("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400},
        {POST("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400},
        {POST("Transfer-Encoding: chunked, gzip\r\n"), 400},
        {POST("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
         400},
        {POST("Transfer-Encoding: chunked, chunked\r\n"), 400},
        {POST("Transfer-Encoding: gzip\r\n"), 400},
        {POST("Transfer-Encoding: chunked,\r\n"), 400},
        {POST("Transfer-Encoding:\r\n"), 400},
        {POST("Transfer-Encoding: \"chunked\"\r\n"), 400},
        {POST("Transfer-Encoding: chunked;q=1\r\n"), 400},
        {POST("Transfer-Encoding: foo, chunked\r\n"), 501},
        {POST("Transfer-Encoding: identity\r\n"), 501},
        {POST("Transfer-Encoding: xchunked\r\n"), 501},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        /* Host */
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {GET("Host: example.com\r\n"), 400},
        {GET("host: other\r\n"), 400},
        {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h:x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h%41\r\n\r\n", 400},
        {"GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", 400},
        /* target forms */
        {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET h HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"CONNECT http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://h/#f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET https://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* Connection */
        {GET("Connection: a@b\r\n"), 400},
};

START_TEST(test_bad_request)
{
	expect_req_error(bad_requests[_i].in, bad_requests[_i].status);
}
END_TEST

START_TEST(test_nul_in_value)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";

	ck_assert_int_eq(req_n(s, sizeof(s) - 1), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 400);
}
END_TEST

START_TEST(test_nul_in_name_and_target)
{
	static const char s1[] = "GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n";
	static const char s2[] = "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n";

	ck_assert_int_eq(req_n(s1, sizeof(s1) - 1), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 400);
	ck_assert_int_eq(req_n(s2, sizeof(s2) - 1), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 400);
}
END_TEST

START_TEST(test_bare_cr_detected_early)
{
	/* no need to wait for the end of the head */
	const char *s = "GET / HTTP/1.1\r\nX: a\rb";

	ck_assert_int_eq(req(s), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 400);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_414_early)
{
	char buf[600];

	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', sizeof(buf) - 5);
	/* incomplete, but already longer than max_target */
	ck_assert_int_eq(req_n(buf, 5 + lim.max_target), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 414);
}
END_TEST

START_TEST(test_target_at_limit)
{
	char buf[600];
	size_t n;

	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', lim.max_target - 1);
	n = 4 + lim.max_target;
	strcpy(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_req_ok(buf);
	ck_assert_uint_eq(m.target.len, lim.max_target);
	buf[n] = 'a';
	strcpy(buf + n + 1, " HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_req_error(buf, 414);
}
END_TEST

START_TEST(test_431_size_incomplete)
{
	char buf[300] = "GET / HTTP/1.1\r\nHost: h\r\nX: ";

	lim.max_head = 128;
	memset(buf + strlen(buf), 'x', 200);
	buf[sizeof(buf) - 1] = '\0';
	ck_assert_int_eq(req_n(buf, 127), HTTP_AGAIN);
	ck_assert_int_eq(req_n(buf, 128), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 431);
	ck_assert_int_eq(req_n(buf, 250), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 431);
}
END_TEST

START_TEST(test_head_exactly_max)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	lim.max_head = strlen(s);
	expect_req_ok(s);
	lim.max_head = strlen(s) - 1;
	expect_req_error(s, 431);
}
END_TEST

START_TEST(test_431_count)
{
	char buf[1024] = "GET / HTTP/1.1\r\nHost: h\r\n";
	unsigned i;

	for (i = 1; i < NFIELDS; i++)
		strcat(buf, "X: y\r\n");
	strcat(buf, "\r\n");
	expect_req_ok(buf);
	ck_assert_uint_eq(m.nfields, NFIELDS);
	buf[strlen(buf) - 2] = '\0';
	strcat(buf, "Z: 1\r\n\r\n");
	expect_req_error(buf, 431);
}
END_TEST

/* ---- field values ---- */

START_TEST(test_value_trimmed)
{
	expect_req_ok(GET("X:  \t a \t b \t \r\nY:\r\nZ:   \r\nW:v\r\n"));
	ck_span(m.fields[1].value, "a \t b");
	ck_span(m.fields[2].value, "");
	ck_span(m.fields[3].value, "");
	ck_span(m.fields[4].value, "v");
}
END_TEST

START_TEST(test_value_obs_text)
{
	expect_req_ok(GET("X: caf\xc3\xa9\r\n"));
	ck_span(m.fields[1].value, "caf\xc3\xa9");
}
END_TEST

START_TEST(test_field_lookup)
{
	const struct http_field *f;
	unsigned from = 0;

	expect_req_ok(GET("Via: a\r\nX: 1\r\nvia: b\r\n"));
	f = http_msg_field(&m, cur, "VIA", &from);
	ck_assert_ptr_nonnull(f);
	ck_span(f->value, "a");
	f = http_msg_field(&m, cur, "VIA", &from);
	ck_assert_ptr_nonnull(f);
	ck_span(f->value, "b");
	ck_assert_ptr_null(http_msg_field(&m, cur, "VIA", &from));
	ck_assert_ptr_null(http_msg_field(&m, cur, "Vi", NULL));
	f = http_msg_field(&m, cur, "host", NULL);
	ck_assert_ptr_nonnull(f);
	ck_span(f->value, "example.com");
}
END_TEST

START_TEST(test_span_eq)
{
	const char *b = "xKeep-Alivey";
	struct http_span s = {1, 10};

	ck_assert(http_span_eq(b, s, "keep-alive"));
	ck_assert(!http_span_eq(b, s, "keep-aliv"));
	ck_assert(!http_span_eq(b, s, "keep-alivey"));
	ck_assert(!http_span_eq(b, s, "keep_alive"));
}
END_TEST

/* ---- Content-Length ---- */

START_TEST(test_cl_simple)
{
	expect_req_ok(POST("Content-Length: 42\r\n"));
	ck_assert_uint_eq(m.content_length, 42);
	ck_assert_uint_eq(m.flags & (HTTP_F_CL | HTTP_F_TE), HTTP_F_CL);
}
END_TEST

START_TEST(test_cl_duplicates_equal)
{
	expect_req_ok(POST("Content-Length: 5\r\nContent-Length: 5\r\n"));
	ck_assert_uint_eq(m.content_length, 5);
	expect_req_ok(POST("Content-Length: 5, 5 ,5\r\n"));
	ck_assert_uint_eq(m.content_length, 5);
	ck_assert(m.flags & HTTP_F_CL);
}
END_TEST

START_TEST(test_cl_limits)
{
	expect_req_ok(POST("Content-Length: 9223372036854775807\r\n"));
	ck_assert_uint_eq(m.content_length, INT64_MAX);
	expect_req_ok(POST("Content-Length: 0000000000000000000000007\r\n"));
	ck_assert_uint_eq(m.content_length, 7);
	expect_req_ok(POST("Content-Length: 0\r\n"));
	ck_assert_uint_eq(m.content_length, 0);
	ck_assert(m.flags & HTTP_F_CL);
}
END_TEST

/* ---- Transfer-Encoding ---- */

START_TEST(test_te_chunked)
{
	expect_req_ok(POST("Transfer-Encoding: chunked\r\n"));
	ck_assert_uint_eq(m.flags & (HTTP_F_TE | HTTP_F_CHUNKED | HTTP_F_CL),
	                  HTTP_F_TE | HTTP_F_CHUNKED);
	expect_req_ok(POST("Transfer-Encoding: ChUnKeD\r\n"));
	ck_assert(m.flags & HTTP_F_CHUNKED);
}
END_TEST

START_TEST(test_te_gzip_chunked)
{
	expect_req_ok(POST("Transfer-Encoding: gzip, chunked\r\n"));
	ck_assert(m.flags & HTTP_F_CHUNKED);
	expect_req_ok(POST("Transfer-Encoding: x-gzip,deflate ,\tcompress, "
	                   "x-compress,chunked\r\n"));
	ck_assert(m.flags & HTTP_F_CHUNKED);
}
END_TEST

START_TEST(test_te_split_fields)
{
	expect_req_ok(POST("Transfer-Encoding: gzip\r\nX: y\r\n"
	                   "Transfer-Encoding: chunked\r\n"));
	ck_assert(m.flags & HTTP_F_CHUNKED);
}
END_TEST

/* ---- Host ---- */

START_TEST(test_host_forms)
{
	static const char *const ok[] = {
	        "h",
	        "h:80",
	        "h:",
	        "[::1]",
	        "[::1]:8080",
	        "10.0.0.1:3128",
	        "a-b.c_d~e.example.",
	        "EXAMPLE.COM",
	};
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		         ok[i]);
		expect_req_ok(buf);
		ck_span(m.host, ok[i]);
		ck_assert(m.flags & HTTP_F_HOST);
	}
}
END_TEST

START_TEST(test_host_empty_absolute)
{
	expect_req_ok("GET http://h/ HTTP/1.1\r\nHost:\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ABSOLUTE);
	ck_assert_uint_eq(m.host.len, 0);
	ck_assert(m.flags & HTTP_F_HOST);
	/* absolute-form still needs the field in 1.1 */
	expect_req_error("GET http://h/ HTTP/1.1\r\n\r\n", 400);
}
END_TEST

START_TEST(test_host_numeric_names)
{
	expect_req_error("GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", 400);
	expect_req_error("GET / HTTP/1.1\r\nHost: 0x7f.0.0.1\r\n\r\n", 400);
	expect_req_error("GET / HTTP/1.1\r\nHost: 1.2.3.256\r\n\r\n", 400);
	expect_req_error("GET / HTTP/1.1\r\nHost: 01.2.3.4\r\n\r\n", 400);
	expect_req_ok("GET / HTTP/1.1\r\nHost: 1.2.3.4\r\n\r\n");
	expect_req_ok("GET / HTTP/1.1\r\nHost: 1.2.3.example\r\n\r\n");
}
END_TEST

/* ---- Connection, Upgrade, Expect ---- */

START_TEST(test_connection_flags)
{
	expect_req_ok(GET("Connection: close\r\n"));
	ck_assert_uint_eq(m.flags & ~HTTP_F_HOST, HTTP_F_CLOSE);
	expect_req_ok(GET("Connection: Keep-Alive\r\n"));
	ck_assert_uint_eq(m.flags & ~HTTP_F_HOST, HTTP_F_KEEPALIVE);
	expect_req_ok(GET("Connection: keep-alive, , UPGRADE\r\n"));
	ck_assert_uint_eq(m.flags & ~HTTP_F_HOST,
	                  HTTP_F_KEEPALIVE | HTTP_F_UPGRADE);
	expect_req_ok(GET("Connection: x-foo\r\nConnection: close\r\n"));
	ck_assert_uint_eq(m.flags & ~HTTP_F_HOST, HTTP_F_CLOSE);
	expect_req_ok(GET("Connection: closed\r\n"));
	ck_assert_uint_eq(m.flags & ~HTTP_F_HOST, 0);
}
END_TEST

START_TEST(test_upgrade_field)
{
	expect_req_ok(GET("Upgrade: websocket\r\n"));
	ck_assert(m.flags & HTTP_F_UPGRADE);
}
END_TEST

START_TEST(test_expect)
{
	expect_req_ok(POST("Expect: 100-Continue\r\nContent-Length: 1\r\n"));
	ck_assert(m.flags & HTTP_F_EXPECT_100);
	expect_req_ok(POST("Expect: something-else\r\n"));
	ck_assert_uint_eq(m.flags & HTTP_F_EXPECT_100, 0);
}
END_TEST

/* ---- target forms ---- */

START_TEST(test_asterisk)
{
	expect_req_ok("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ASTERISK);
	ck_assert_int_eq(m.method, HTTP_METHOD_OPTIONS);
}
END_TEST

START_TEST(test_connect)
{
	expect_req_ok("CONNECT example.com:443 HTTP/1.1\r\n"
	              "Host: example.com:443\r\n\r\n");
	ck_assert_int_eq(m.method, HTTP_METHOD_CONNECT);
	ck_assert_int_eq(m.target_form, HTTP_TARGET_AUTHORITY);
	ck_span(m.target, "example.com:443");
	expect_req_ok("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
	              "Host: [2001:db8::1]:443\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_AUTHORITY);
}
END_TEST

START_TEST(test_absolute_forms)
{
	expect_req_ok("GET http://example.com:8080/a?b HTTP/1.1\r\n"
	              "Host: example.com:8080\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ABSOLUTE);
	/* other schemes are the proxy's call, but must be well-formed */
	expect_req_ok("GET https://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ABSOLUTE);
	expect_req_ok("GET ftp://example.com HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(m.target_form, HTTP_TARGET_ABSOLUTE);
}
END_TEST

/* ---- byte at a time through a moving buffer ---- */

static void
msg_assert_same(const struct http_msg *a, const struct http_msg *b)
{
	unsigned i;

	ck_assert_uint_eq(a->error, b->error);
	ck_assert_uint_eq(a->head_len, b->head_len);
	ck_assert_uint_eq(a->nfields, b->nfields);
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->content_length, b->content_length);
	ck_assert_int_eq(a->method, b->method);
	ck_assert_int_eq(a->target_form, b->target_form);
	ck_assert_mem_eq(&a->target, &b->target, sizeof(a->target));
	ck_assert_mem_eq(&a->method_name, &b->method_name,
	                 sizeof(a->method_name));
	ck_assert_mem_eq(&a->host, &b->host, sizeof(a->host));
	ck_assert_uint_eq(a->status, b->status);
	ck_assert_mem_eq(&a->reason, &b->reason, sizeof(a->reason));
	for (i = 0; i < a->nfields; i++)
		ck_assert_mem_eq(&a->fields[i], &b->fields[i],
		                 sizeof(a->fields[i]));
}

/* Parses s whole, then again growing it one byte per call, each time from
 * a fresh copy so that the buffer moves; both must agree, and the parser
 * must have taken in every byte it was given (so no call rescans). */
static void
assert_bytewise(const char *s, int response)
{
	struct http_field f1[NFIELDS], f2[NFIELDS];
	struct http_msg one, inc;
	enum http_rc r1, r2 = HTTP_AGAIN;
	size_t n, len = strlen(s);
	char *copy;

	http_msg_init(&one, f1, &lim);
	r1 = response ? http_parse_response(&one, s, len)
	              : http_parse_request(&one, s, len);
	http_msg_init(&inc, f2, &lim);
	for (n = 0; n <= len && r2 == HTTP_AGAIN; n++) {
		copy = malloc(n + 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, s, n);
		r2 = response ? http_parse_response(&inc, copy, n)
		              : http_parse_request(&inc, copy, n);
		free(copy);
		/* every byte is scanned once: nothing is left to rescan */
		if (r2 == HTTP_AGAIN)
			ck_assert_uint_eq(inc.pos, n);
	}
	ck_assert_msg(r1 == r2, "'%s': one-shot %d, bytewise %d", s, r1, r2);
	msg_assert_same(&one, &inc);
}

static const char *const bytewise_requests[] = {
        "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
        "Connection: keep-alive\r\n\r\n",
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked"
        "\r\nExpect: 100-continue\r\nX-Empty:\r\n\r\n",
        "\r\nGET http://[::1]:8080/x?y HTTP/1.0\r\nContent-Length: 5, 5\r\n\r\n"
        "hello",
        "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"
        "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX:  a  b  \r\n\n",
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
};

START_TEST(test_bytewise_request)
{
	assert_bytewise(bytewise_requests[_i], 0);
}
END_TEST

START_TEST(test_bytewise_response)
{
	assert_bytewise("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	                "Connection: close\r\n\r\nabc",
	                1);
	assert_bytewise("HTTP/1.0 304\r\nX: y\r\n\r\n", 1);
	assert_bytewise("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", 1);
}
END_TEST

START_TEST(test_bytewise_431)
{
	char buf[400] = "GET / HTTP/1.1\r\nHost: h\r\nX: ";

	lim.max_head = 100;
	memset(buf + strlen(buf), 'x', 300);
	buf[sizeof(buf) - 1] = '\0';
	assert_bytewise(buf, 0);
	ck_assert_int_eq(req(buf), HTTP_ERROR);
	ck_assert_uint_eq(m.error, 431);
}
END_TEST

/* ---- absolute URI and authority ---- */

static int
absolute(const char *s, struct http_uri *u)
{
	struct http_span t = {0, (uint32_t)strlen(s)};

	cur = s;
	return http_parse_absolute(s, t, u);
}

START_TEST(test_uri_basic)
{
	struct http_uri u;

	ck_assert_int_eq(absolute("http://example.com/a/b?c=d", &u), 0);
	ck_span(u.host, "example.com");
	ck_assert_uint_eq(u.port, 80);
	ck_span(u.path, "/a/b?c=d");
}
END_TEST

START_TEST(test_uri_ports)
{
	struct http_uri u;

	ck_assert_int_eq(absolute("HTTP://Example.COM:8080", &u), 0);
	ck_span(u.host, "Example.COM");
	ck_assert_uint_eq(u.port, 8080);
	ck_assert_uint_eq(u.path.len, 0);
	ck_assert_int_eq(absolute("http://h:/x", &u), 0);
	ck_assert_uint_eq(u.port, 80);
	ck_assert_int_eq(absolute("http://h:65535/", &u), 0);
	ck_assert_uint_eq(u.port, 65535);
	ck_assert_int_eq(absolute("http://h:1/", &u), 0);
	ck_assert_uint_eq(u.port, 1);
	ck_assert_int_eq(absolute("http://h:65536/", &u), -1);
	ck_assert_int_eq(absolute("http://h:0/", &u), -1);
	ck_assert_int_eq(absolute("http://h:8a/", &u), -1);
	ck_assert_int_eq(absolute("http://h:80:80/", &u), -1);
	ck_assert_int_eq(absolute("http://h:-1/", &u), -1);
}
END_TEST

START_TEST(test_uri_ipv6)
{
	struct http_uri u;

	ck_assert_int_eq(absolute("http://[2001:db8::1]:8080/p", &u), 0);
	ck_span(u.host, "2001:db8::1");
	ck_assert_uint_eq(u.port, 8080);
	ck_span(u.path, "/p");
	ck_assert_int_eq(absolute("http://[::ffff:10.0.0.1]/", &u), 0);
	ck_span(u.host, "::ffff:10.0.0.1");
	ck_assert_uint_eq(u.port, 80);
	ck_assert_int_eq(absolute("http://[::g]/", &u), -1);
	ck_assert_int_eq(absolute("http://[::1/", &u), -1);
	ck_assert_int_eq(absolute("http://[::1]x/", &u), -1);
	ck_assert_int_eq(absolute("http://[fe80::1%25eth0]/", &u), -1);
	ck_assert_int_eq(absolute("http://[]/", &u), -1);
	ck_assert_int_eq(absolute("http://::1/", &u), -1);
}
END_TEST

START_TEST(test_uri_ipv4)
{
	struct http_uri u;

	ck_assert_int_eq(absolute("http://10.1.2.3:81/", &u), 0);
	ck_span(u.host, "10.1.2.3");
	ck_assert_int_eq(absolute("http://127.1/", &u), -1);
	ck_assert_int_eq(absolute("http://2130706433/", &u), -1);
	ck_assert_int_eq(absolute("http://0x7f000001/", &u), -1);
	ck_assert_int_eq(absolute("http://1.2.3.4.5/", &u), -1);
}
END_TEST

START_TEST(test_uri_rejects)
{
	static const char *const bad[] = {
	        "https://h/",    "ftp://h/",     "http:/h/",     "http//h/",
	        "http://",       "http:///p",    "http://:80/",  "http://u@h/",
	        "http://u:p@h/", "http://h/p#f", "http://h#f",   "http://h%2e/",
	        "http://h!/",    "http://h,g/",  "/just/a/path", "http://h\\x/",
	        "http:",         "h:80",
	};
	struct http_uri u;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(absolute(bad[i], &u) == -1, "%s accepted",
		              bad[i]);
}
END_TEST

START_TEST(test_uri_query_first)
{
	struct http_uri u;

	ck_assert_int_eq(absolute("http://h?q=1", &u), 0);
	ck_span(u.host, "h");
	ck_span(u.path, "?q=1");
	ck_assert_int_eq(absolute("http://h:81?q/x", &u), 0);
	ck_assert_uint_eq(u.port, 81);
	ck_span(u.path, "?q/x");
}
END_TEST

START_TEST(test_uri_any_scheme)
{
	const char *s = "https://secure.example:8443/x";
	struct http_span t = {0, (uint32_t)strlen(s)}, scheme;
	struct http_uri u;

	cur = s;
	ck_assert_int_eq(http_parse_absolute_any(s, t, &scheme, &u), 0);
	ck_span(scheme, "https");
	ck_span(u.host, "secure.example");
	ck_assert_uint_eq(u.port, 8443);
	ck_span(u.path, "/x");
}
END_TEST

static int
authority(const char *s, struct http_span *host, uint16_t *port)
{
	struct http_span t = {0, (uint32_t)strlen(s)};

	cur = s;
	return http_parse_authority(s, t, host, port);
}

START_TEST(test_authority)
{
	struct http_span h;
	uint16_t port;

	ck_assert_int_eq(authority("example.com:443", &h, &port), 0);
	ck_span(h, "example.com");
	ck_assert_uint_eq(port, 443);
	ck_assert_int_eq(authority("[::1]:8443", &h, &port), 0);
	ck_span(h, "::1");
	ck_assert_uint_eq(port, 8443);
	ck_assert_int_eq(authority("10.0.0.1:22", &h, &port), 0);
	ck_span(h, "10.0.0.1");
}
END_TEST

START_TEST(test_authority_rejects)
{
	static const char *const bad[] = {
	        "example.com",   "example.com:",
	        "example.com:0", "h:65536",
	        "h:443/",        "[::1]",
	        "[::1]:",        ":443",
	        "u@h:443",       "h h:443",
	        "h:4 43",        "[::1]443",
	        "1.2.3:443",     "",
	};
	struct http_span h;
	uint16_t port;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(authority(bad[i], &h, &port) == -1,
		              "'%s' accepted", bad[i]);
}
END_TEST

/* ---- responses ---- */

START_TEST(test_response_ok)
{
	ck_assert_int_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
	                 HTTP_OK);
	ck_assert_uint_eq(m.status, 200);
	ck_assert_uint_eq(m.version, 11);
	ck_span(m.reason, "OK");
	ck_assert_uint_eq(m.content_length, 10);
	ck_assert(m.flags & HTTP_F_CL);
}
END_TEST

START_TEST(test_response_reason_variants)
{
	ck_assert_int_eq(resp("HTTP/1.1 200\r\n\r\n"), HTTP_OK);
	ck_assert_uint_eq(m.reason.len, 0);
	ck_assert_int_eq(resp("HTTP/1.1 204 \r\n\r\n"), HTTP_OK);
	ck_assert_uint_eq(m.reason.len, 0);
	ck_assert_int_eq(resp("HTTP/1.0 404 Not\tFound \xe9\r\n\r\n"), HTTP_OK);
	ck_span(m.reason, "Not\tFound \xe9");
	ck_assert_uint_eq(m.version, 10);
	ck_assert_int_eq(resp("HTTP/1.1 999 Whatever\r\n\r\n"), HTTP_OK);
	ck_assert_uint_eq(m.status, 999);
	ck_assert_int_eq(resp("HTTP/1.1 100 Continue\r\n\r\n"), HTTP_OK);
	ck_assert_uint_eq(m.status, 100);
}
END_TEST

START_TEST(test_response_te)
{
	ck_assert_int_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	                      "\r\n\r\n"),
	                 HTTP_OK);
	ck_assert(m.flags & HTTP_F_CHUNKED);
	/* close-delimited: TE present, chunked off */
	ck_assert_int_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip"
	                      "\r\n\r\n"),
	                 HTTP_OK);
	ck_assert_uint_eq(m.flags & (HTTP_F_TE | HTTP_F_CHUNKED), HTTP_F_TE);
	ck_assert_int_eq(resp("HTTP/1.1 101 Switching Protocols\r\nConnection:"
	                      " upgrade\r\nUpgrade: websocket\r\n\r\n"),
	                 HTTP_OK);
	ck_assert(m.flags & HTTP_F_UPGRADE);
}
END_TEST

START_TEST(test_response_request_only_fields)
{
	/* Host and Expect mean nothing in a response */
	ck_assert_int_eq(resp("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\n"
	                      "Expect: 100-continue\r\n\r\n"),
	                 HTTP_OK);
	ck_assert_uint_eq(m.flags, 0);
}
END_TEST

static const char *const bad_responses[] = {
        "HTTP/1.1 099 Too Low\r\n\r\n",
        "HTTP/1.1 000\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1\t200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/0.9 200 OK\r\n\r\n",
        "HTTP/1.10 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
        "HTTP/1.1 200 OK\r\nX: y\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: "
         "chunked\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
};

START_TEST(test_bad_response)
{
	expect_resp_error(bad_responses[_i]);
}
END_TEST

START_TEST(test_response_431)
{
	char buf[300] = "HTTP/1.1 200 OK\r\nX: ";

	lim.max_head = 64;
	memset(buf + strlen(buf), 'x', 200);
	expect_resp_error(buf);
}
END_TEST

/* ---- names and reasons ---- */

START_TEST(test_method_names)
{
	ck_assert_str_eq(http_method_name(HTTP_METHOD_GET), "GET");
	ck_assert_str_eq(http_method_name(HTTP_METHOD_CONNECT), "CONNECT");
	ck_assert_str_eq(http_method_name(HTTP_METHOD_PATCH), "PATCH");
	ck_assert_ptr_null(http_method_name(HTTP_METHOD_OTHER));
	ck_assert_ptr_null(http_method_name((enum http_method)1000));
}
END_TEST

START_TEST(test_status_reasons)
{
	static const unsigned codes[] = {
	        100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
	        400, 401, 403, 404, 405, 407, 408, 409, 411, 413, 414, 415, 416,
	        417, 421, 426, 429, 431, 500, 501, 502, 503, 504, 505, 511,
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		ck_assert_str_ne(http_status_reason(codes[i]), "Unknown");
	ck_assert_str_eq(http_status_reason(200), "OK");
	ck_assert_str_eq(http_status_reason(431),
	                 "Request Header Fields Too Large");
	ck_assert_str_eq(http_status_reason(505), "HTTP Version Not Supported");
	ck_assert_str_eq(http_status_reason(299), "Unknown");
	ck_assert_str_eq(http_status_reason(0), "Unknown");
	ck_assert_str_eq(http_status_reason(100000), "Unknown");
}
END_TEST

START_TEST(test_tchar)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	unsigned c;
	int want;

	for (c = 0; c < 256; c++) {
		want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		       (c >= 'A' && c <= 'Z') ||
		       (c != 0 && strchr(extra, (int)c) != NULL);
		ck_assert_msg(http_is_tchar((unsigned char)c) == want,
		              "tchar 0x%02x", c);
	}
}
END_TEST

/* ---- chunked ---- */

struct dechunk {
	enum http_rc rc;
	size_t consumed; /* total, up to DONE or the error */
	char data[8192];
	size_t ndata;
};

/* Runs the decoder over s in pieces of at most step bytes, each piece in
 * its own exact-size allocation. */
static void
dechunk(const char *s, size_t len, size_t step, size_t max_trailer,
        struct dechunk *d)
{
	struct http_chunked c;
	size_t pos = 0, n, used, off, dlen;
	char *piece;

	memset(d, 0, sizeof(*d));
	http_chunked_init(&c, max_trailer);
	d->rc = HTTP_AGAIN;
	while (pos < len && d->rc != HTTP_DONE && d->rc != HTTP_ERROR) {
		n = len - pos < step ? len - pos : step;
		piece = malloc(n);
		ck_assert_ptr_nonnull(piece);
		memcpy(piece, s + pos, n);
		d->rc = http_chunked_step(&c, piece, n, &used, &off, &dlen);
		ck_assert_uint_le(used, n);
		if (d->rc == HTTP_OK) {
			ck_assert_uint_gt(dlen, 0);
			ck_assert_uint_eq(off + dlen, used);
			ck_assert_uint_le(d->ndata + dlen, sizeof(d->data));
			memcpy(d->data + d->ndata, piece + off, dlen);
			d->ndata += dlen;
		} else if (d->rc == HTTP_AGAIN) {
			ck_assert_uint_eq(used, n);
		}
		free(piece);
		pos += used;
	}
	d->consumed = pos;
}

static void
expect_chunked(const char *s, enum http_rc rc, const char *data)
{
	struct dechunk one, bytewise;

	dechunk(s, strlen(s), strlen(s) + 1, 1024, &one);
	dechunk(s, strlen(s), 1, 1024, &bytewise);
	ck_assert_msg(one.rc == rc, "'%s': rc %d want %d", s, one.rc, rc);
	ck_assert_int_eq(bytewise.rc, one.rc);
	ck_assert_uint_eq(bytewise.consumed, one.consumed);
	ck_assert_uint_eq(bytewise.ndata, one.ndata);
	ck_assert_mem_eq(bytewise.data, one.data, one.ndata);
	if (data != NULL) {
		ck_assert_uint_eq(one.ndata, strlen(data));
		ck_assert_mem_eq(one.data, data, one.ndata);
	}
}

START_TEST(test_chunked_simple)
{
	const char *s = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT";
	struct dechunk d;

	expect_chunked(s, HTTP_DONE, "hello world");
	dechunk(s, strlen(s), 1000, 0, &d);
	ck_assert_uint_eq(d.consumed, strlen(s) - 4);
}
END_TEST

START_TEST(test_chunked_hex)
{
	char s[64], data[27];

	memset(data, 'x', 26);
	data[26] = '\0';
	snprintf(s, sizeof(s), "1A\r\n%s\r\n0\r\n\r\n", data);
	expect_chunked(s, HTTP_DONE, data);
	snprintf(s, sizeof(s), "001a\r\n%s\r\n000\r\n\r\n", data);
	expect_chunked(s, HTTP_DONE, data);
}
END_TEST

START_TEST(test_chunked_extensions)
{
	expect_chunked("3;a\r\nabc\r\n0;last=yes\r\n\r\n", HTTP_DONE, "abc");
	expect_chunked("3;a=b;c=\"q \\\"x\\\\\" ;d\r\nabc\r\n0\r\n\r\n",
	               HTTP_DONE, "abc");
	expect_chunked("3 ; a = b\t;\tc\r\nabc\r\n0\r\n\r\n", HTTP_DONE, "abc");
	expect_chunked("3;a=\"\xe9\"\r\nabc\r\n0\r\n\r\n", HTTP_DONE, "abc");
}
END_TEST

static const char *const bad_chunked[] = {
        "\r\nabc\r\n0\r\n\r\n",      /* no size */
        "x\r\n",                     /* not hex */
        "0x5\r\nhello\r\n0\r\n\r\n", /* C-style hex */
        "-5\r\nhello\r\n",           /* negative */
        "+5\r\nhello\r\n",           /* sign */
        "5\nhello\r\n0\r\n\r\n",     /* bare LF after size */
        "5\rhello\r\n0\r\n\r\n",     /* bare CR after size */
        "5 \r\nhello\r\n0\r\n\r\n",  /* trailing whitespace */
        "5 5\r\nhello\r\n",          /* two sizes */
        "5;\r\nhello\r\n",           /* empty extension */
        "5;a=\r\nhello\r\n",         /* empty extension value */
        "5;a \r\nhello\r\n",         /* trailing BWS */
        "5;a b\r\nhello\r\n",        /* two names */
        "5;a=\"x\r\nhello\r\n",      /* open quoted string */
        "5;a=\"x\"y\r\nhello\r\n",   /* junk after quoted string */
        "5;a=b\"c\"\r\nhello\r\n",   /* quote in token */
        "5;a@=b\r\nhello\r\n",       /* bad name byte */
        "5;a=\"\x01\"\r\nhello\r\n", /* CTL in quoted string */
        "5\r\nhelloX\r\n0\r\n\r\n",  /* too much data */
        "5\r\nhello\n0\r\n\r\n",     /* bare LF after data */
        "5\r\nhello\n\n0\r\n\r\n",   /* LF LF after data */
        "5\r\nhelloX\n0\r\n\r\n",    /* junk before LF */
        "5\r\nhello\r0\r\n\r\n",     /* bare CR after data */
        "5\r\nhello0\r\n\r\n",       /* no CRLF after data */
        "1000000000000000\r\n",      /* 2^60 */
        "ffffffffffffffffff\r\n",    /* 2^72 - 1 */
        "0\r\nX: y\n\r\n",           /* bare LF in trailer */
        "0\r\nX : y\r\n\r\n",        /* whitespace before colon */
        "0\r\nX: y\r\n z\r\n\r\n",   /* obs-fold in trailers */
        "0\r\n: y\r\n\r\n",          /* empty trailer name */
        "0\r\nX y\r\n\r\n",          /* no colon */
        "0\r\nX: a\x01\r\n\r\n",     /* CTL in trailer value */
        "0\r\n\n",                   /* bare LF ending */
        "0\r\n\rX",                  /* bare CR ending */
};

START_TEST(test_chunked_bad)
{
	expect_chunked(bad_chunked[_i], HTTP_ERROR, NULL);
}
END_TEST

START_TEST(test_chunked_size_limit)
{
	/* 15 significant digits is the most, with any leading zeros */
	expect_chunked("fffffffffffffff\r\n", HTTP_AGAIN, NULL);
	expect_chunked("00000000000000000fffffffffffffff\r\n", HTTP_AGAIN,
	               NULL);
	expect_chunked("0fffffffffffffff0\r\n", HTTP_ERROR, NULL);
}
END_TEST

START_TEST(test_chunked_leading_zeros_bounded)
{
	char s[200];

	memset(s, '0', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	expect_chunked(s, HTTP_ERROR, NULL);
}
END_TEST

START_TEST(test_chunked_ext_limit)
{
	char s[5000];
	size_t n;

	strcpy(s, "1;a=");
	n = strlen(s);
	memset(s + n, 'b', 4092 - 1);
	strcpy(s + n + 4091, "\r\nx\r\n0\r\n\r\n");
	/* ";a=" plus 4091 bytes: 4094 bytes of extension, allowed */
	expect_chunked(s, HTTP_DONE, "x");
	memset(s + n, 'b', 4200);
	strcpy(s + n + 4200, "\r\nx\r\n0\r\n\r\n");
	expect_chunked(s, HTTP_ERROR, NULL);
}
END_TEST

START_TEST(test_chunked_trailers)
{
	const char *s = "2\r\nhi\r\n0\r\nX-Sum: abc\r\nY:\r\nZ:  v v \r\n\r\n";
	struct dechunk d;

	expect_chunked(s, HTTP_DONE, "hi");
	dechunk(s, strlen(s), 1, 1024, &d);
	ck_assert_uint_eq(d.consumed, strlen(s));
}
END_TEST

START_TEST(test_chunked_trailer_limit)
{
	const char *s = "0\r\nX-Long: 0123456789\r\n\r\n";
	struct dechunk d;

	/* "X-Long: 0123456789\r\n" is 20 bytes */
	dechunk(s, strlen(s), 1000, 20, &d);
	ck_assert_int_eq(d.rc, HTTP_DONE);
	dechunk(s, strlen(s), 1, 19, &d);
	ck_assert_int_eq(d.rc, HTTP_ERROR);
	dechunk("0\r\n\r\n", 5, 1, 0, &d);
	ck_assert_int_eq(d.rc, HTTP_DONE);
}
END_TEST

START_TEST(test_chunked_split_data)
{
	const char *s = "a\r\n0123456789\r\n0\r\n\r\n";
	struct http_chunked c;
	size_t used, off, len;

	http_chunked_init(&c, 0);
	ck_assert_int_eq(http_chunked_step(&c, s, 7, &used, &off, &len),
	                 HTTP_OK);
	ck_assert_uint_eq(off, 3);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(used, 7);
	ck_assert_uint_eq(c.remaining, 6);
	ck_assert_int_eq(http_chunked_step(&c, s + 7, 0, &used, &off, &len),
	                 HTTP_AGAIN);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(
	        http_chunked_step(&c, s + 7, strlen(s) - 7, &used, &off, &len),
	        HTTP_OK);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(http_chunked_step(&c, s + 13, strlen(s) - 13, &used,
	                                   &off, &len),
	                 HTTP_DONE);
	ck_assert_uint_eq(used, strlen(s) - 13);
	/* done stays done */
	ck_assert_int_eq(http_chunked_step(&c, "5\r\n", 3, &used, &off, &len),
	                 HTTP_DONE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_chunked_again_consumes_all)
{
	struct http_chunked c;
	size_t used, off, len;

	http_chunked_init(&c, 64);
	ck_assert_int_eq(
	        http_chunked_step(&c, "1f;ext=\"a", 9, &used, &off, &len),
	        HTTP_AGAIN);
	ck_assert_uint_eq(used, 9);
	ck_assert_int_eq(http_chunked_step(&c, "\"\r", 2, &used, &off, &len),
	                 HTTP_AGAIN);
	ck_assert_int_eq(http_chunked_step(&c, "\nabc", 4, &used, &off, &len),
	                 HTTP_OK);
	ck_assert_uint_eq(off, 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(c.remaining, 0x1f - 3);
}
END_TEST

static Suite *
http_parse_suite(void)
{
	Suite *s = suite_create("http_parse");
	TCase *tc;

	tc = tcase_create("request");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_simple_get);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_http10_no_host);
	tcase_add_test(tc, test_leading_crlf_skipped);
	tcase_add_test(tc, test_leading_crlf_bounded);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_incremental_again);
	tcase_add_test(tc, test_error_is_sticky);
	tcase_add_loop_test(tc, test_bad_request, 0,
	                    sizeof(bad_requests) / sizeof(bad_requests[0]));
	tcase_add_test(tc, test_nul_in_value);
	tcase_add_test(tc, test_nul_in_name_and_target);
	tcase_add_test(tc, test_bare_cr_detected_early);
	tcase_add_test(tc, test_414_early);
	tcase_add_test(tc, test_target_at_limit);
	tcase_add_test(tc, test_431_size_incomplete);
	tcase_add_test(tc, test_head_exactly_max);
	tcase_add_test(tc, test_431_count);
	tcase_add_test(tc, test_value_trimmed);
	tcase_add_test(tc, test_value_obs_text);
	tcase_add_test(tc, test_field_lookup);
	tcase_add_test(tc, test_span_eq);
	tcase_add_test(tc, test_cl_simple);
	tcase_add_test(tc, test_cl_duplicates_equal);
	tcase_add_test(tc, test_cl_limits);
	tcase_add_test(tc, test_te_chunked);
	tcase_add_test(tc, test_te_gzip_chunked);
	tcase_add_test(tc, test_te_split_fields);
	tcase_add_test(tc, test_host_forms);
	tcase_add_test(tc, test_host_empty_absolute);
	tcase_add_test(tc, test_host_numeric_names);
	tcase_add_test(tc, test_connection_flags);
	tcase_add_test(tc, test_upgrade_field);
	tcase_add_test(tc, test_expect);
	tcase_add_test(tc, test_asterisk);
	tcase_add_test(tc, test_connect);
	tcase_add_test(tc, test_absolute_forms);
	tcase_add_loop_test(tc, test_bytewise_request, 0,
	                    sizeof(bytewise_requests) /
	                            sizeof(bytewise_requests[0]));
	tcase_add_test(tc, test_bytewise_431);
	suite_add_tcase(s, tc);

	tc = tcase_create("uri");
	tcase_add_test(tc, test_uri_basic);
	tcase_add_test(tc, test_uri_ports);
	tcase_add_test(tc, test_uri_ipv6);
	tcase_add_test(tc, test_uri_ipv4);
	tcase_add_test(tc, test_uri_rejects);
	tcase_add_test(tc, test_uri_query_first);
	tcase_add_test(tc, test_uri_any_scheme);
	tcase_add_test(tc, test_authority);
	tcase_add_test(tc, test_authority_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_response_ok);
	tcase_add_test(tc, test_response_reason_variants);
	tcase_add_test(tc, test_response_te);
	tcase_add_test(tc, test_response_request_only_fields);
	tcase_add_loop_test(tc, test_bad_response, 0,
	                    sizeof(bad_responses) / sizeof(bad_responses[0]));
	tcase_add_test(tc, test_response_431);
	tcase_add_test(tc, test_bytewise_response);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_test(tc, test_method_names);
	tcase_add_test(tc, test_status_reasons);
	tcase_add_test(tc, test_tchar);
	suite_add_tcase(s, tc);

	tc = tcase_create("chunked");
	tcase_add_test(tc, test_chunked_simple);
	tcase_add_test(tc, test_chunked_hex);
	tcase_add_test(tc, test_chunked_extensions);
	tcase_add_loop_test(tc, test_chunked_bad, 0,
	                    sizeof(bad_chunked) / sizeof(bad_chunked[0]));
	tcase_add_test(tc, test_chunked_size_limit);
	tcase_add_test(tc, test_chunked_leading_zeros_bounded);
	tcase_add_test(tc, test_chunked_ext_limit);
	tcase_add_test(tc, test_chunked_trailers);
	tcase_add_test(tc, test_chunked_trailer_limit);
	tcase_add_test(tc, test_chunked_split_data);
	tcase_add_test(tc, test_chunked_again_consumes_all);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_parse_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
