/*
 * Forward proxying end to end: the real proxyd between raw sockets or curl
 * and the test origin.  Methods, keep-alive, pipelining, every body framing
 * both ways, Expect: 100-continue, bodiless responses, the header rewrites
 * a forward proxy owes (hop-by-hop removal, Via, Host, X-Forwarded-For),
 * and 1 GiB each way with the workers' memory staying small.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/support/dnsd.h"
#include "tests/support/harness.h"

#define GIB (1ull << 30)

/* Peak RSS a worker may reach while moving 1 GiB.  ASan keeps freed memory
 * in quarantine and shadows what it touches, so it gets more room. */
#if defined(__SANITIZE_ADDRESS__)
#define FWD_HWM_KB (256L * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FWD_HWM_KB (256L * 1024)
#endif
#endif
#ifndef FWD_HWM_KB
#define FWD_HWM_KB (64L * 1024)
#endif

static struct harness_origin origin;
static struct harness_proxy proxy;
static struct harness_conn conn;

static void
up(const char *listen_extra)
{
	struct harness_config cfg = {.listen_extra = listen_extra};

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect to proxyd");
}

/* One absolute-form request on conn, no body. */
static void
send_req(const char *method, const char *path, const char *extra)
{
	HCHECK(harness_conn_sendf(&conn,
	                          "%s http://127.0.0.1:%d%s HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n%s\r\n",
	                          method, origin.port, path, origin.port,
	                          extra ? extra : "") == 0,
	       "send %s %s", method, path);
}

static void
get_resp(struct harness_resp *r, int is_head, int status)
{
	int rc = harness_conn_response(&conn, r, is_head, HARNESS_WAIT_MS);

	HCHECK(rc == 0, "no response: %s", r->error);
	HCHECK(r->status == status, "status %d, wanted %d; head:\n%s",
	       r->status, status, r->head);
}

static void
check_pattern(const struct harness_resp *r, uint64_t n)
{
	HCHECK(r->body_total == n, "body of %llu bytes, wanted %llu",
	       (unsigned long long)r->body_total, (unsigned long long)n);
	HCHECK(harness_pattern_check(r->body, r->body_len, 0) == 0,
	       "body differs from the origin's pattern");
}

/* Is there a field line called name in head (after the first line)? */
static int
has_field(const char *head, const char *name)
{
	return harness_head_count(head, name) > 0;
}

/* Workers' peak RSS must stay under the bound after a big transfer. */
static void
check_workers_hwm(void)
{
	pid_t pids[HARNESS_MAX_PIDS];
	int n = harness_proxy_workers(&proxy, pids, HARNESS_MAX_PIDS), i;
	long kb;

	HCHECK(n > 0, "no workers found under proxyd %d", (int)proxy.pid);
	for (i = 0; i < n; i++) {
		kb = harness_proc_kb(pids[i], "VmHWM");
		HCHECK(kb > 0 && kb < FWD_HWM_KB,
		       "worker %d peak RSS %ld kB (bound %ld kB)", (int)pids[i],
		       kb, FWD_HWM_KB);
	}
}

/* ---- methods ------------------------------------------------------- */

START_TEST(get_raw)
{
	struct harness_resp r;

	up(NULL);
	send_req("GET", "/size/1000", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 1000);
	harness_resp_free(&r);
}
END_TEST

START_TEST(head_raw_no_body)
{
	struct harness_resp r;
	char v[64];

	up(NULL);
	send_req("HEAD", "/size/12345", NULL);
	get_resp(&r, 1, 200);
	HCHECK(harness_head_value(r.head, "Content-Length", v, sizeof(v)) &&
	               strcmp(v, "12345") == 0,
	       "HEAD lost its Content-Length:\n%s", r.head);
	harness_resp_free(&r);
	/* had any body byte followed, this next response would not parse */
	send_req("GET", "/size/10", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 10);
	harness_resp_free(&r);
	send_req("HEAD", "/chunked/5000", NULL);
	get_resp(&r, 1, 200);
	harness_resp_free(&r);
	send_req("GET", "/size/20", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 20);
	harness_resp_free(&r);
}
END_TEST

START_TEST(post_raw)
{
	static char body[10000];
	struct harness_resp r;

	up(NULL);
	harness_pattern_fill(body, sizeof(body), 0);
	send_req("POST", "/echo", "Content-Length: 10000\r\n");
	HCHECK(harness_conn_send(&conn, body, sizeof(body)) == 0, "send body");
	get_resp(&r, 0, 200);
	check_pattern(&r, sizeof(body));
	harness_resp_free(&r);
}
END_TEST

START_TEST(curl_get_head_post)
{
	struct harness_run r = {.check_pattern = 1};
	char url[128], file[PATH_MAX], at[PATH_MAX + 1];

	up(NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/100000",
	         origin.port);
	harness_curl(&r, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(r.code == 0, "curl exit %d: %s", r.code, r.err);
	HCHECK(r.out_total == 100000 && r.pattern_ok, "GET body %llu bytes%s",
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern");
	harness_run_free(&r);

	memset(&r, 0, sizeof(r));
	harness_curl(&r, 30, "-x", proxy.url, "-I", url, NULL);
	HCHECK(r.code == 0 && strstr(r.out, " 200") != NULL &&
	               strcasestr(r.out, "Content-Length: 100000") != NULL,
	       "curl -I: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);

	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	HCHECK(harness_write_pattern_file("post.bin", 300000, file,
	                                  sizeof(file)) == 0,
	       "write post.bin");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", origin.port);
	snprintf(at, sizeof(at), "@%s", file);
	harness_curl(&r, 30, "-x", proxy.url, "--data-binary", at, url, NULL);
	HCHECK(r.code == 0 && r.out_total == 300000 && r.pattern_ok,
	       "POST echo: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- connection handling ------------------------------------------- */

START_TEST(keep_alive)
{
	struct harness_resp r;
	char v[64];

	up(NULL);
	send_req("GET", "/size/100", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 100);
	HCHECK(!harness_head_value(r.head, "Connection", v, sizeof(v)) ||
	               strcasecmp(v, "close") != 0,
	       "proxyd closes a keep-alive connection:\n%s", r.head);
	harness_resp_free(&r);
	send_req("GET", "/size/200", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 200);
	harness_resp_free(&r);
}
END_TEST

START_TEST(pipelining)
{
	static const int sizes[] = {11, 222, 3333};
	struct harness_resp r;
	char req[1024];
	int n = 0, i;

	up(NULL);
	for (i = 0; i < 3; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n,
		              "GET http://127.0.0.1:%d/%s/%d HTTP/1.1\r\n"
		              "Host: 127.0.0.1:%d\r\n\r\n",
		              origin.port, i == 1 ? "chunked" : "size",
		              sizes[i], origin.port);
	HCHECK(harness_conn_send(&conn, req, (size_t)n) == 0, "send");
	for (i = 0; i < 3; i++) {
		get_resp(&r, 0, 200);
		check_pattern(&r, (uint64_t)sizes[i]);
		harness_resp_free(&r);
	}
}
END_TEST

/* ---- bodies -------------------------------------------------------- */

START_TEST(chunked_request_curl)
{
	struct harness_run r = {.check_pattern = 1};
	char url[128], file[PATH_MAX], at[PATH_MAX + 1];

	up(NULL);
	HCHECK(harness_write_pattern_file("chunked.bin", 777777, file,
	                                  sizeof(file)) == 0,
	       "write chunked.bin");
	snprintf(at, sizeof(at), "@%s", file);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", origin.port);
	harness_curl(&r, 30, "-x", proxy.url, "-H",
	             "Transfer-Encoding: chunked", "--data-binary", at, url,
	             NULL);
	HCHECK(r.code == 0 && r.out_total == 777777 && r.pattern_ok,
	       "chunked echo: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);
}
END_TEST

START_TEST(chunked_request_raw)
{
	struct harness_resp r;
	struct harness_sum sum = {0, 0};
	char chunk[5000], want[64];
	int i;

	up(NULL);
	send_req("POST", "/sink", "Transfer-Encoding: chunked\r\n");
	/* chunk sizes and an extension, in separate writes */
	for (i = 1; i <= 5; i++) {
		memset(chunk, 'a' + i, (size_t)i * 1000);
		harness_sum_update(&sum, chunk, (size_t)i * 1000);
		HCHECK(harness_conn_sendf(&conn, "%X;ext=%d\r\n", i * 1000,
		                          i) == 0 &&
		               harness_conn_send(&conn, chunk,
		                                 (size_t)i * 1000) == 0 &&
		               harness_conn_send(&conn, "\r\n", 2) == 0,
		       "send chunk %d", i);
	}
	HCHECK(harness_conn_send(&conn, "0\r\n\r\n", 5) == 0, "send last");
	get_resp(&r, 0, 200);
	snprintf(want, sizeof(want), "bytes=15000 sum=%016llx",
	         (unsigned long long)harness_sum_value(&sum));
	HCHECK(strncmp(r.body, want, strlen(want)) == 0, "sink said %s",
	       r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(chunked_response)
{
	struct harness_run c = {.check_pattern = 1};
	struct harness_resp r;
	char url[128];

	up(NULL);
	send_req("GET", "/chunked/100000", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 100000);
	harness_resp_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/300001",
	         origin.port);
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 300001 && c.pattern_ok,
	       "curl chunked: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
}
END_TEST

START_TEST(close_delimited_response)
{
	struct harness_run c = {.check_pattern = 1};
	struct harness_resp r;
	char url[128];

	up(NULL);
	send_req("GET", "/close/50000", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 50000);
	harness_resp_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/close/123456",
	         origin.port);
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 123456 && c.pattern_ok,
	       "curl close-delimited: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
}
END_TEST

START_TEST(expect_100_continue)
{
	static char body[1000];
	struct harness_run c = {.check_pattern = 1};
	struct harness_resp r;
	char url[128], file[PATH_MAX], at[PATH_MAX + 1];

	up(NULL);
	/* the body is held back until the interim answer arrives */
	send_req("POST", "/echo",
	         "Content-Length: 1000\r\nExpect: 100-continue\r\n");
	get_resp(&r, 0, 100);
	harness_resp_free(&r);
	harness_pattern_fill(body, sizeof(body), 0);
	HCHECK(harness_conn_send(&conn, body, sizeof(body)) == 0, "send");
	get_resp(&r, 0, 200);
	check_pattern(&r, sizeof(body));
	harness_resp_free(&r);

	HCHECK(harness_write_pattern_file("expect.bin", 2000000, file,
	                                  sizeof(file)) == 0,
	       "write expect.bin");
	snprintf(at, sizeof(at), "@%s", file);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", origin.port);
	harness_curl(&c, 30, "-x", proxy.url, "-H", "Expect: 100-continue",
	             "--expect100-timeout", "20", "--data-binary", at, url,
	             NULL);
	HCHECK(c.code == 0 && c.out_total == 2000000 && c.pattern_ok,
	       "curl Expect: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
}
END_TEST

START_TEST(bodiless_204_304)
{
	struct harness_resp r;

	up(NULL);
	send_req("GET", "/status/204", NULL);
	get_resp(&r, 0, 204);
	harness_resp_free(&r);
	send_req("GET", "/status/304", NULL);
	get_resp(&r, 0, 304);
	harness_resp_free(&r);
	/* a stray body byte after either would break this one */
	send_req("GET", "/size/30", NULL);
	get_resp(&r, 0, 200);
	check_pattern(&r, 30);
	harness_resp_free(&r);
	send_req("GET", "/status/404", NULL);
	get_resp(&r, 0, 404);
	harness_resp_free(&r);
}
END_TEST

/* ---- header rewrites ----------------------------------------------- */

/* GET /headers: what the origin received, as the response body. */
static void
origin_view(struct harness_resp *r, const char *host, const char *extra)
{
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://127.0.0.1:%d/headers HTTP/1.1\r\n"
	                          "Host: %s\r\n%s\r\n",
	                          origin.port, host, extra) == 0,
	       "send");
	get_resp(r, 0, 200);
}

START_TEST(hop_by_hop_removed)
{
	static const char *const gone[] = {"X-Foo",
	                                   "Keep-Alive",
	                                   "Proxy-Connection",
	                                   "Proxy-Authorization",
	                                   "TE",
	                                   "Upgrade",
	                                   "Trailer"};
	struct harness_resp r;
	char host[64], v[256];
	unsigned i;

	up(NULL);
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_view(&r, host,
	            "Connection: X-Foo, keep-alive\r\nX-Foo: 1\r\n"
	            "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
	            "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
	            "TE: trailers\r\nUpgrade: websocket\r\n"
	            "Trailer: X-Checksum\r\nX-Kept: yes\r\n");
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		HCHECK(!has_field(r.body, gone[i]),
		       "%s reached the origin:\n%s", gone[i], r.body);
	/* proxyd may say Connection for its own hop, never the client's */
	HCHECK(!harness_head_value(r.body, "Connection", v, sizeof(v)) ||
	               strcasestr(v, "x-foo") == NULL,
	       "the client's Connection reached the origin:\n%s", r.body);
	HCHECK(has_field(r.body, "X-Kept"), "an end-to-end field was lost:\n%s",
	       r.body);
	HCHECK(has_field(r.body, "Via"), "no Via toward the origin:\n%s",
	       r.body);
	HCHECK(strncmp(r.body, "GET /headers HTTP/1.1\r\n", 23) == 0,
	       "not origin-form toward the origin:\n%s", r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(via_on_response)
{
	struct harness_resp r;

	up(NULL);
	send_req("GET", "/size/1", NULL);
	get_resp(&r, 0, 200);
	/* RFC 9110 7.6.3: a proxy sends Via in each message it forwards */
	HCHECK(has_field(r.head, "Via"), "no Via on the response:\n%s", r.head);
	harness_resp_free(&r);
}
END_TEST

START_TEST(xff_off_by_default)
{
	struct harness_resp r;
	char host[64];

	up(NULL);
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_view(&r, host, "");
	HCHECK(!has_field(r.body, "X-Forwarded-For"),
	       "the client was revealed:\n%s", r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(xff_on)
{
	struct harness_resp r;
	char host[64], v[128];

	up("x_forwarded_for = on\n");
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_view(&r, host, "");
	HCHECK(harness_head_value(r.body, "X-Forwarded-For", v, sizeof(v)) &&
	               strstr(v, "127.0.0.1") != NULL,
	       "no X-Forwarded-For with the client's address:\n%s", r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(host_from_absolute_uri)
{
	struct harness_resp r;
	char want[64], v[128];

	up(NULL);
	/* RFC 9112 3.2.2: the target's authority wins over Host */
	origin_view(&r, "wrong.example", "");
	snprintf(want, sizeof(want), "127.0.0.1:%d", origin.port);
	HCHECK(harness_head_count(r.body, "Host") == 1 &&
	               harness_head_value(r.body, "Host", v, sizeof(v)) &&
	               strcmp(v, want) == 0,
	       "origin saw Host other than %s:\n%s", want, r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(name_from_resolver)
{
	static const struct dnsd_name names[] = {
	        {"origin.test", {"127.0.0.1", NULL}, 60},
	        {NULL, {NULL}, 0},
	};
	struct dnsd *d = dnsd_start(names);
	struct harness_config cfg = {0};
	struct harness_resp r;
	char extra[64], v[128], want[64];

	HCHECK(d != NULL, "test DNS server did not start");
	snprintf(extra, sizeof(extra), "resolver = 127.0.0.1:%u\n",
	         (unsigned)d->port);
	cfg.proxyd_extra = extra;
	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(
	               &conn,
	               "GET http://origin.test:%d/headers HTTP/1.1\r\n"
	               "Host: origin.test:%d\r\n\r\n",
	               origin.port, origin.port) == 0,
	       "send");
	get_resp(&r, 0, 200);
	snprintf(want, sizeof(want), "origin.test:%d", origin.port);
	HCHECK(harness_head_value(r.body, "Host", v, sizeof(v)) &&
	               strcmp(v, want) == 0,
	       "origin saw Host other than %s:\n%s", want, r.body);
	HCHECK(dnsd_queries(d) > 0, "proxyd never asked the test resolver");
	harness_resp_free(&r);
	dnsd_stop(d);
}
END_TEST

/* ---- 1 GiB each way ------------------------------------------------ */

START_TEST(download_1gib_bounded_rss)
{
	struct harness_run r = {.check_pattern = 1};
	char url[128];
	int64_t t0;

	up(NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/%llu", origin.port,
	         (unsigned long long)GIB);
	t0 = harness_now_ms();
	harness_curl(&r, 240, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == GIB && r.pattern_ok,
	       "1 GiB download: exit %d, %llu bytes%s after %lld ms: %s",
	       r.code, (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern",
	       (long long)(harness_now_ms() - t0), r.err);
	harness_run_free(&r);
	check_workers_hwm();
}
END_TEST

START_TEST(upload_1gib_bounded_rss)
{
	struct harness_run r = {0};
	char url[128], file[PATH_MAX];

	up(NULL);
	HCHECK(harness_write_pattern_file("upload.bin", GIB, file,
	                                  sizeof(file)) == 0,
	       "write upload.bin");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sink", origin.port);
	harness_curl(&r, 240, "-x", proxy.url, "-T", file, url, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "bytes=1073741824 ") != NULL &&
	               strstr(r.out, "pattern=yes") != NULL,
	       "1 GiB upload: exit %d, origin said \"%s\": %s", r.code, r.out,
	       r.err);
	harness_run_free(&r);
	check_workers_hwm();
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("forward");
	TCase *big = tcase_create("big");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, get_raw);
	tcase_add_test(tc, head_raw_no_body);
	tcase_add_test(tc, post_raw);
	tcase_add_test(tc, curl_get_head_post);
	tcase_add_test(tc, keep_alive);
	tcase_add_test(tc, pipelining);
	tcase_add_test(tc, chunked_request_curl);
	tcase_add_test(tc, chunked_request_raw);
	tcase_add_test(tc, chunked_response);
	tcase_add_test(tc, close_delimited_response);
	tcase_add_test(tc, expect_100_continue);
	tcase_add_test(tc, bodiless_204_304);
	tcase_add_test(tc, hop_by_hop_removed);
	tcase_add_test(tc, via_on_response);
	tcase_add_test(tc, xff_off_by_default);
	tcase_add_test(tc, xff_on);
	tcase_add_test(tc, host_from_absolute_uri);
	tcase_add_test(tc, name_from_resolver);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(big, NULL, harness_teardown);
	tcase_set_timeout(big, 300);
	tcase_add_test(big, download_1gib_bounded_rss);
	tcase_add_test(big, upload_1gib_bounded_rss);
	suite_add_tcase(s, big);
	return s;
}

int
main(void)
{
	return harness_main(forward_suite());
}
