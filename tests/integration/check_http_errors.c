/*
 * proxyd's own error answers, driven with raw sockets: every request the
 * strict parser must refuse (400, 414, 431, 501, 505), clients too slow to
 * send a head (408), and origins that are dead, unresolvable, broken or
 * silent (502, 504).  Each answer must have the right status, Connection:
 * close and a small HTML body, and the connection must then close: never
 * a desynchronised stream.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "tests/support/dnsd.h"
#include "tests/support/harness.h"

#define ERR_BODY_MAX 4096 /* "small HTML body" */

static struct harness_origin origin;
static struct harness_proxy proxy;
static struct harness_conn conn;

static void
up_with(const char *proxyd_extra, const char *timeouts)
{
	struct harness_config cfg = {.proxyd_extra = proxyd_extra,
	                             .timeouts = timeouts};

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect to proxyd");
}

static void
up(void)
{
	up_with(NULL, NULL);
}

/* The answer on conn is proxyd's error page for status, then a close. */
static void
expect_error_within(int status, int timeout_ms)
{
	struct harness_resp r;
	char v[128];
	int rc = harness_conn_response(&conn, &r, 0, timeout_ms);

	HCHECK(rc == 0, "no %d answer: %s", status, r.error);
	HCHECK(r.status == status, "status %d, wanted %d; head:\n%s", r.status,
	       status, r.head);
	HCHECK(harness_head_value(r.head, "Connection", v, sizeof(v)) &&
	               strcasecmp(v, "close") == 0,
	       "%d without Connection: close:\n%s", status, r.head);
	HCHECK(harness_head_value(r.head, "Content-Type", v, sizeof(v)) &&
	               strncasecmp(v, "text/html", 9) == 0,
	       "%d is not text/html:\n%s", status, r.head);
	HCHECK(r.body_len > 0 && r.body_len < ERR_BODY_MAX,
	       "%d body of %zu bytes", status, r.body_len);
	HCHECK(harness_conn_closed(&conn, 5000) == 1,
	       "connection still open (or more bytes) after %d", status);
	harness_resp_free(&r);
}

static void
expect_error(int status)
{
	expect_error_within(status, HARNESS_WAIT_MS);
}

/* Sends text with "@P" standing for the origin's port everywhere. */
static void
send_fmt(const char *fmt)
{
	char buf[4096];
	const char *p;
	size_t n = 0;

	for (p = fmt; *p != '\0' && n + 8 < sizeof(buf); p++) {
		if (p[0] == '@' && p[1] == 'P') {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d",
			                      origin.port);
			p++;
			continue;
		}
		buf[n++] = *p;
	}
	HCHECK(harness_conn_send(&conn, buf, n) == 0, "send");
}

/* A request with the given extra field lines; @P is the origin port. */
static void
send_with(const char *method, const char *path, const char *fields)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
	         "%s http://127.0.0.1:@P%s HTTP/1.1\r\n%s\r\n", method, path,
	         fields);
	send_fmt(buf);
}

/* ---- 400 ----------------------------------------------------------- */

START_TEST(cl_and_te_400)
{
	up();
	send_with("POST", "/sink",
	          "Host: 127.0.0.1:@P\r\nContent-Length: 5\r\n"
	          "Transfer-Encoding: chunked\r\n");
	send_fmt("0\r\n\r\n");
	expect_error(400);
}
END_TEST

START_TEST(duplicate_cl_400)
{
	up();
	send_with("POST", "/sink",
	          "Host: 127.0.0.1:@P\r\nContent-Length: 5\r\n"
	          "Content-Length: 6\r\n");
	send_fmt("hello!");
	expect_error(400);
}
END_TEST

START_TEST(te_not_chunked_last_400)
{
	up();
	send_with("POST", "/sink",
	          "Host: 127.0.0.1:@P\r\nTransfer-Encoding: chunked, gzip\r\n");
	send_fmt("0\r\n\r\n");
	expect_error(400);
}
END_TEST

START_TEST(obs_fold_400)
{
	up();
	send_with("GET", "/size/1",
	          "Host: 127.0.0.1:@P\r\nX-A: one\r\n  two\r\n");
	expect_error(400);
}
END_TEST

START_TEST(space_before_colon_400)
{
	up();
	send_with("GET", "/size/1", "Host: 127.0.0.1:@P\r\nX-A : one\r\n");
	expect_error(400);
}
END_TEST

START_TEST(bare_cr_400)
{
	up();
	send_with("GET", "/size/1", "Host: 127.0.0.1:@P\r\nX-A: one\rtwo\r\n");
	expect_error(400);
}
END_TEST

START_TEST(nul_in_header_400)
{
	static const char tail[] = "X-A: one\0two\r\n\r\n";
	char head[256];

	up();
	snprintf(head, sizeof(head),
	         "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	         "Host: 127.0.0.1:%d\r\n",
	         origin.port, origin.port);
	HCHECK(harness_conn_send(&conn, head, strlen(head)) == 0 &&
	               harness_conn_send(&conn, tail, sizeof(tail) - 1) == 0,
	       "send");
	expect_error(400);
}
END_TEST

/* Bad framing found after the head went upstream: the client gets a 400
 * and a close, never the pipelined request's answer (that would be a
 * desync). */
static void
check_bad_chunk(const char *chunks)
{
	struct harness_resp r;
	int rc;

	up();
	send_with("POST", "/sink",
	          "Host: 127.0.0.1:@P\r\nTransfer-Encoding: chunked\r\n");
	send_fmt(chunks);
	send_with("GET", "/size/7", "Host: 127.0.0.1:@P\r\n");
	rc = harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS);
	HCHECK(rc == 0, "no answer to bad chunked framing: %s", r.error);
	HCHECK(r.status == 400, "bad chunk got status %d:\n%s%s", r.status,
	       r.head, r.body);
	HCHECK(harness_conn_closed(&conn, 5000) == 1,
	       "connection open (or more bytes) after %d", r.status);
	harness_resp_free(&r);
}

START_TEST(bad_chunk_size)
{
	check_bad_chunk("5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n");
}
END_TEST

START_TEST(overflowing_chunk_size)
{
	check_bad_chunk("5\r\nhello\r\n1000000000000000000000001\r\nx\r\n"
	                "0\r\n\r\n");
}
END_TEST

START_TEST(missing_host_400)
{
	up();
	send_with("GET", "/size/1", "");
	expect_error(400);
}
END_TEST

START_TEST(duplicate_host_400)
{
	up();
	send_with("GET", "/size/1",
	          "Host: 127.0.0.1:@P\r\nHost: 127.0.0.1:@P\r\n");
	expect_error(400);
}
END_TEST

START_TEST(origin_form_400)
{
	up();
	send_fmt("GET / HTTP/1.1\r\nHost: 127.0.0.1:@P\r\n\r\n");
	expect_error(400);
}
END_TEST

/* ---- limits -------------------------------------------------------- */

START_TEST(head_too_large_431)
{
	static char big[40000];

	up();
	memset(big, 'a', sizeof(big) - 1);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\nX-Big: %s\r\n\r\n",
	                          origin.port, origin.port, big) == 0,
	       "send");
	expect_error(431);
}
END_TEST

START_TEST(too_many_fields_431)
{
	int i;

	up();
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n",
	                          origin.port, origin.port) == 0,
	       "send");
	for (i = 0; i < 150; i++)
		HCHECK(harness_conn_sendf(&conn, "X-F%d: %d\r\n", i, i) == 0,
		       "send field %d", i);
	HCHECK(harness_conn_send(&conn, "\r\n", 2) == 0, "send");
	expect_error(431);
}
END_TEST

START_TEST(long_uri_414)
{
	static char path[12000];

	up();
	memset(path, 'u', sizeof(path) - 1);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://127.0.0.1:%d/%s HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          origin.port, path, origin.port) == 0,
	       "send");
	expect_error(414);
}
END_TEST

START_TEST(http2_version_505)
{
	up();
	send_fmt("GET http://127.0.0.1:@P/size/1 HTTP/2.0\r\n"
	         "Host: 127.0.0.1:@P\r\n\r\n");
	expect_error(505);
}
END_TEST

START_TEST(unknown_coding_501)
{
	up();
	send_with("POST", "/sink",
	          "Host: 127.0.0.1:@P\r\nTransfer-Encoding: foo, chunked\r\n");
	send_fmt("0\r\n\r\n");
	expect_error(501);
}
END_TEST

/* ---- slow clients -------------------------------------------------- */

START_TEST(unfinished_head_408)
{
	int64_t t0;

	up_with(NULL, "client_header = 500ms\n");
	t0 = harness_now_ms();
	send_fmt("GET http://127.0.0.1:@P/size/1 HTTP/1.1\r\nHost: 127.0");
	expect_error_within(408, 5000);
	HCHECK(harness_now_ms() - t0 >= 400, "408 before client_header");
}
END_TEST

START_TEST(slow_client_cut)
{
	char req[512];
	struct pollfd pfd;
	struct harness_resp r;
	int64_t t0, cut = -1;
	size_t i, n;

	up_with(NULL, "client_header = 500ms\n");
	n = (size_t)snprintf(req, sizeof(req),
	                     "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	                     "Host: 127.0.0.1:%d\r\nX-Pad: %060d\r\n\r\n",
	                     origin.port, origin.port, 0);
	t0 = harness_now_ms();
	/* one byte per 100 ms would take n/10 s: far past client_header */
	for (i = 0; i < n && cut < 0; i++) {
		if (harness_conn_send(&conn, req + i, 1) < 0)
			cut = harness_now_ms() - t0;
		pfd.fd = conn.fd;
		pfd.events = POLLIN;
		if (cut < 0 && poll(&pfd, 1, 100) == 1)
			cut = harness_now_ms() - t0;
	}
	HCHECK(cut >= 0 && cut < 3000,
	       "slow client not cut (%zu of %zu bytes sent in %lld ms)", i, n,
	       (long long)(harness_now_ms() - t0));
	/* a 408 page or a bare close; never the response */
	if (harness_conn_response(&conn, &r, 0, 5000) == 0)
		HCHECK(r.status == 408, "slow client got %d", r.status);
	harness_resp_free(&r);
}
END_TEST

/* ---- upstream failures --------------------------------------------- */

START_TEST(dead_origin_502)
{
	int dead;

	up();
	dead = harness_free_port();
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://127.0.0.1:%d/size/1 HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          dead, dead) == 0,
	       "send");
	expect_error(502);
}
END_TEST

START_TEST(nxdomain_502)
{
	static const struct dnsd_name names[] = {
	        {"known.test", {"127.0.0.1", NULL}, 60},
	        {NULL, {NULL}, 0},
	};
	struct dnsd *d = dnsd_start(names);
	char extra[64];

	HCHECK(d != NULL, "test DNS server did not start");
	snprintf(extra, sizeof(extra), "resolver = 127.0.0.1:%u\n",
	         (unsigned)d->port);
	up_with(extra, NULL);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://nonexistent.invalid/ HTTP/1.1\r\n"
	                          "Host: nonexistent.invalid\r\n\r\n") == 0,
	       "send");
	expect_error(502);
	HCHECK(dnsd_queries(d) > 0, "proxyd never asked the test resolver");
	dnsd_stop(d);
}
END_TEST

START_TEST(resolver_down_502)
{
	char extra[64];

	/* a resolver port where nothing answers: no query leaves the host */
	snprintf(extra, sizeof(extra), "resolver = 127.0.0.1:%d\n",
	         harness_free_port());
	up_with(extra, NULL);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://nonexistent.invalid/ HTTP/1.1\r\n"
	                          "Host: nonexistent.invalid\r\n\r\n") == 0,
	       "send");
	expect_error_within(502, 30000);
}
END_TEST

START_TEST(malformed_response_502)
{
	up();
	send_with("GET", "/malformed", "Host: 127.0.0.1:@P\r\n");
	expect_error(502);
}
END_TEST

START_TEST(smuggling_response_502)
{
	up();
	send_with("GET", "/smuggle", "Host: 127.0.0.1:@P\r\n");
	expect_error(502);
}
END_TEST

START_TEST(slow_origin_504)
{
	int64_t t0;

	up_with(NULL, "upstream_response = 1s\n");
	t0 = harness_now_ms();
	send_with("GET", "/slow/3000", "Host: 127.0.0.1:@P\r\n");
	expect_error(504);
	HCHECK(harness_now_ms() - t0 < 2900,
	       "504 came after %lld ms, not at upstream_response",
	       (long long)(harness_now_ms() - t0));
}
END_TEST

START_TEST(hanging_origin_504)
{
	up_with(NULL, "upstream_response = 1s\n");
	send_with("GET", "/hang", "Host: 127.0.0.1:@P\r\n");
	expect_error(504);
}
END_TEST

static Suite *
errors_suite(void)
{
	Suite *s = suite_create("http_errors");
	TCase *tc = tcase_create("errors");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, cl_and_te_400);
	tcase_add_test(tc, duplicate_cl_400);
	tcase_add_test(tc, te_not_chunked_last_400);
	tcase_add_test(tc, obs_fold_400);
	tcase_add_test(tc, space_before_colon_400);
	tcase_add_test(tc, bare_cr_400);
	tcase_add_test(tc, nul_in_header_400);
	tcase_add_test(tc, bad_chunk_size);
	tcase_add_test(tc, overflowing_chunk_size);
	tcase_add_test(tc, missing_host_400);
	tcase_add_test(tc, duplicate_host_400);
	tcase_add_test(tc, origin_form_400);
	tcase_add_test(tc, head_too_large_431);
	tcase_add_test(tc, too_many_fields_431);
	tcase_add_test(tc, long_uri_414);
	tcase_add_test(tc, http2_version_505);
	tcase_add_test(tc, unknown_coding_501);
	tcase_add_test(tc, unfinished_head_408);
	tcase_add_test(tc, slow_client_cut);
	tcase_add_test(tc, dead_origin_502);
	tcase_add_test(tc, nxdomain_502);
	tcase_add_test(tc, resolver_down_502);
	tcase_add_test(tc, malformed_response_502);
	tcase_add_test(tc, smuggling_response_502);
	tcase_add_test(tc, slow_origin_504);
	tcase_add_test(tc, hanging_origin_504);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(errors_suite());
}
