/*
 * Regressions: one test per proxy bug a code review found, each failing on
 * the old behaviour.  Smuggling through the rest of an upload the origin
 * refused, a pooled connection carrying one listener's permission to
 * another, interim responses (100, 103) held back, Content-Length dropped
 * because Connection named it, listeners kept alive by workers after a
 * reload moved them, a reset close-delimited body passed off as complete,
 * aborted requests missing from the access log, first requests refused
 * while draining, a closed pooled connection failing a request, and an
 * origin's upload stall blamed on the client.  The misbehaving origins are
 * tests/support/origin/faults.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/support/harness.h"

#define SMUGGLE_BODY (8u << 20) /* upload the origin refuses unread */
#define STALL_BODY (20u << 20)  /* upload the origin never reads */
#define LOG_WAIT_MS 5000        /* the access log is flushed every second */
#define REST_MAX 65536          /* bytes kept after a first response */

static struct harness_origin origin;
static struct harness_proxy proxy;
static struct harness_conn conn;
static struct harness_conn other;
static pid_t sender; /* child streaming an upload body */

/* ---- set-up -------------------------------------------------------- */

static void
up_cfg(const struct harness_config *cfg)
{
	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, cfg) == 0, "proxyd did not start");
}

static void
up(void)
{
	static const struct harness_config dflt = {0};

	up_cfg(&dflt);
}

static void
stop_sender(void)
{
	if (sender <= 0)
		return;
	kill(sender, SIGKILL);
	waitpid(sender, NULL, 0);
	sender = 0;
}

static void
teardown(void)
{
	stop_sender();
	harness_teardown();
}

/* ---- requests ------------------------------------------------------ */

/* GET of an origin path on c, absolute-form as a proxy client sends. */
static void
send_get(struct harness_conn *c, const char *path)
{
	HCHECK(harness_conn_sendf(c,
	                          "GET http://127.0.0.1:%d%s HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          origin.port, path, origin.port) == 0,
	       "send GET %s", path);
}

/* A request head announcing a body of len bytes (and more fields). */
static void
send_upload_head(const char *path, uint64_t len, const char *fields)
{
	HCHECK(harness_conn_sendf(&conn,
	                          "POST http://127.0.0.1:%d%s HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n%s"
	                          "Content-Length: %llu\r\n\r\n",
	                          origin.port, path, origin.port, fields,
	                          (unsigned long long)len) == 0,
	       "send POST %s", path);
}

/* The status of one GET through the proxy listening on port (a fresh
 * connection each time); -1 when no answer came. */
static int
status_via(int port, const char *path)
{
	struct harness_resp r;
	int status = -1;

	if (harness_conn_open(&other, port) < 0)
		return -1;
	send_get(&other, path);
	if (harness_conn_response(&other, &r, 0, HARNESS_WAIT_MS) == 0)
		status = r.status;
	harness_resp_free(&r);
	harness_conn_close(&other);
	return status;
}

/* Reads one response on conn; fails the test when none comes. */
static void
response(struct harness_resp *r, int timeout_ms, const char *what)
{
	HCHECK(harness_conn_response(&conn, r, 0, timeout_ms) == 0,
	       "no answer to %s: %s", what, r->error);
}

/* ---- a body sent by a child ---------------------------------------- */

/* Sends len bytes of unit repeated (phase kept across sends) on conn. */
static void
send_repeated(const char *unit, size_t unit_len, uint64_t len)
{
	static char block[65536];
	size_t fill = sizeof(block) - sizeof(block) % unit_len, n, i;
	uint64_t sent;

	for (i = 0; i < fill; i += unit_len)
		memcpy(block + i, unit, unit_len);
	for (sent = 0; sent < len; sent += n) {
		n = len - sent < fill ? (size_t)(len - sent) : fill;
		if (harness_conn_send(&conn, block, n) < 0)
			return;
	}
}

/* Streams the body from a child, so the test can read answers while the
 * upload goes on; the child stops at the first failed send. */
static void
start_sender(const char *unit, size_t unit_len, uint64_t len)
{
	sender = fork();
	HCHECK(sender >= 0, "fork: %s", strerror(errno));
	if (sender > 0)
		return;
	send_repeated(unit, unit_len, len);
	_exit(0);
}

/* ---- 1: smuggling after an abandoned upload ------------------------ */

/* The origin answers 413 and resets without reading the upload; the rest
 * of the body is full of requests and must never be parsed as one. */
START_TEST(abandoned_upload_not_parsed)
{
	static char rest[REST_MAX];
	struct harness_resp r;
	char unit[160];
	int n;
	ssize_t got;

	up();
	n = snprintf(unit, sizeof(unit),
	             "\r\n\r\nGET http://127.0.0.1:%d/size/5 HTTP/1.1\r\n"
	             "Host: x\r\n\r\n",
	             origin.port);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_upload_head("/reject413", SMUGGLE_BODY, "");
	start_sender(unit, (size_t)n, SMUGGLE_BODY);
	response(&r, HARNESS_WAIT_MS, "the refused upload");
	HCHECK(r.status == 413, "status %d, wanted 413:\n%s", r.status, r.head);
	harness_resp_free(&r);
	got = harness_conn_read_all(&conn, rest, sizeof(rest), HARNESS_WAIT_MS);
	HCHECK(got >= 0,
	       "connection still open after the 413 (read %zu "
	       "bytes):\n%.300s",
	       strlen(rest), rest);
	HCHECK(strstr(rest, "HTTP/1.") == NULL,
	       "the upload's bytes were parsed as a request:\n%.300s", rest);
}
END_TEST

/* ---- 2: upstream pool across listeners ----------------------------- */

/* A connection pooled for a listener that may reach loopback must not
 * serve a listener that may not. */
START_TEST(pool_per_listener)
{
	struct harness_config cfg = {.workers = 1};
	char extra[128];
	int strict = harness_free_port(), st;

	snprintf(extra, sizeof(extra),
	         "\n[listen strict]\naddress = 127.0.0.1:%d\nmode = forward\n",
	         strict);
	cfg.listen_extra = extra;
	up_cfg(&cfg);
	st = status_via(strict, "/size/5");
	HCHECK(st == 403, "strict listener, first GET: %d, wanted 403", st);
	st = status_via(proxy.port, "/size/5");
	HCHECK(st == 200, "main listener: %d, wanted 200", st);
	st = status_via(strict, "/size/5");
	HCHECK(st == 403,
	       "strict listener after main pooled the connection: %d, "
	       "wanted 403",
	       st);
}
END_TEST

/* ---- 3: interim responses relayed at once -------------------------- */

/* /sink sends its 100 and then waits for the body: the 100 must reach a
 * client that waits for it before sending the body. */
START_TEST(continue_relayed_at_once)
{
	struct harness_resp r;

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_upload_head("/sink", 5, "Expect: 100-continue\r\n");
	HCHECK(harness_conn_response(&conn, &r, 0, 1000) == 0,
	       "no 100 within 1 s: %s", r.error);
	HCHECK(r.status == 100, "status %d, wanted 100:\n%s", r.status, r.head);
	harness_resp_free(&r);
	HCHECK(harness_conn_send(&conn, "hello", 5) == 0, "send body");
	response(&r, HARNESS_WAIT_MS, "the upload");
	HCHECK(r.status == 200 && strncmp(r.body, "bytes=5 ", 8) == 0,
	       "after the 100: %d %s", r.status, r.body);
	harness_resp_free(&r);
}
END_TEST

/* The origin sends 103, then its 200 half a second later: the 103 must
 * not wait for the 200. */
START_TEST(early_hints_relayed_at_once)
{
	struct harness_resp r;
	int64_t t103, t200;

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_get(&conn, "/early-hints");
	response(&r, HARNESS_WAIT_MS, "/early-hints");
	t103 = harness_now_ms();
	HCHECK(r.status == 103, "status %d, wanted 103:\n%s", r.status, r.head);
	harness_resp_free(&r);
	response(&r, HARNESS_WAIT_MS, "/early-hints (final)");
	t200 = harness_now_ms();
	HCHECK(r.status == 200 && strcmp(r.body, "hinted\n") == 0,
	       "final answer %d %s", r.status, r.body);
	harness_resp_free(&r);
	HCHECK(t200 - t103 >= 300,
	       "the 103 came only %lld ms before the 200 (sent 500 ms "
	       "apart)",
	       (long long)(t200 - t103));
}
END_TEST

/* ---- 4: Content-Length named by Connection ------------------------- */

START_TEST(content_length_named_by_connection)
{
	struct harness_resp r;
	char v[64];

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_get(&conn, "/conn-cl");
	send_get(&conn, "/size/5");
	response(&r, 5000, "/conn-cl");
	HCHECK(harness_head_value(r.head, "Content-Length", v, sizeof(v)) &&
	               strcmp(v, "2") == 0,
	       "no Content-Length: 2:\n%s", r.head);
	HCHECK(r.status == 200 && strcmp(r.body, "ok") == 0, "/conn-cl: %d %s",
	       r.status, r.body);
	harness_resp_free(&r);
	response(&r, 5000, "the pipelined /size/5");
	HCHECK(r.status == 200 && r.body_len == 5 &&
	               harness_pattern_check(r.body, 5, 0) == 0,
	       "pipelined /size/5: %d, %zu bytes: %.20s", r.status, r.body_len,
	       r.body);
	harness_resp_free(&r);
}
END_TEST

/* ---- 5: reload retires listeners ----------------------------------- */

/* The harness's config with the listener on another port. */
static void
write_config_port(int port)
{
	char text[4096];
	struct harness_config cfg = {.raw = text};
	int n;

	n = snprintf(text, sizeof(text),
	             "[proxyd]\nworkers = %u\npid_file = %s\nshm_file = %s\n"
	             "error_log = %s\naccess_log = %s\n\n"
	             "[listen main]\naddress = 127.0.0.1:%d\nmode = forward\n"
	             "allow_loopback = on\n",
	             proxy.workers, proxy.pid_file, proxy.shm_file,
	             proxy.error_log, proxy.access_log, port);
	HCHECK(n > 0 && (size_t)n < sizeof(text), "config too long");
	HCHECK(harness_proxy_write_config(&proxy, &cfg) == 0, "write config");
}

/* 1 when a connect to 127.0.0.1:port is refused, 0 when it is taken
 * (or hangs for 500 ms). */
static int
port_refuses(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pollfd pfd;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return 0;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (err == EINPROGRESS && poll(&pfd, 1, 500) == 1)
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	close(fd);
	return err == ECONNREFUSED;
}

/* Polls until port refuses connections; 0, or -1 at the deadline. */
static int
wait_refused(int port, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	do {
		if (port_refuses(port))
			return 0;
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	return -1;
}

START_TEST(reload_retires_listener)
{
	pid_t before[HARNESS_MAX_PIDS];
	int a, b = harness_free_port(), n, st;

	up();
	a = proxy.port;
	n = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(n > 0, "no workers");
	write_config_port(b);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	HCHECK(harness_proxy_wait_workers(&proxy, n, before, n, 15000) == 0,
	       "the old workers did not drain");
	HCHECK(wait_refused(a, 5000) == 0,
	       "port %d still accepts after the reload moved the listener "
	       "to %d",
	       a, b);
	st = status_via(b, "/size/5");
	HCHECK(st == 200, "new port %d answered %d", b, st);
}
END_TEST

/* ---- 6: a close-delimited response cut by a reset ------------------ */

static int
ends_with(const char *s, size_t len, const char *tail)
{
	size_t n = strlen(tail);

	return len >= n && memcmp(s + len - n, tail, n) == 0;
}

/* Re-chunked for an HTTP/1.1 client, a body the origin reset must not
 * end with the last chunk, which says it is complete. */
START_TEST(reset_body_not_complete)
{
	static char all[REST_MAX];
	ssize_t got;

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_get(&conn, "/reset-close");
	got = harness_conn_read_all(&conn, all, sizeof(all), 5000);
	HCHECK(!ends_with(all, strlen(all), "\r\n0\r\n\r\n"),
	       "a reset body was ended as complete:\n%s", all);
	HCHECK(got >= 0, "connection kept open after the origin's reset:\n%s",
	       all);
}
END_TEST

/* ---- 7: aborted requests are logged -------------------------------- */

/* 1 when the access log has a line with want in it. */
static int
log_has(const char *want)
{
	static char text[1 << 16];
	int fd = open(proxy.access_log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return strstr(text, want) != NULL;
}

START_TEST(aborted_request_logged)
{
	int64_t deadline;
	char want[128];

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_get(&conn, "/hang");
	harness_sleep_ms(200);
	harness_conn_close(&conn);
	snprintf(want, sizeof(want), ":%d/hang HTTP/1.1\" 499 ", origin.port);
	deadline = harness_now_ms() + LOG_WAIT_MS;
	while (!log_has(want) && harness_now_ms() < deadline)
		harness_sleep_ms(100);
	HCHECK(log_has(want), "no access log line with '%s' within %d ms", want,
	       LOG_WAIT_MS);
}
END_TEST

/* ---- 8: drain serves first requests -------------------------------- */

START_TEST(drain_serves_first_request)
{
	struct harness_resp r;
	char v[64];

	up();
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	harness_sleep_ms(100); /* accepted by a worker of this generation */
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	harness_sleep_ms(300);
	send_get(&conn, "/size/5");
	response(&r, HARNESS_WAIT_MS, "the first request while draining");
	HCHECK(r.status == 200, "status %d while draining:\n%s", r.status,
	       r.head);
	HCHECK(harness_head_value(r.head, "Connection", v, sizeof(v)) &&
	               strcasecmp(v, "close") == 0,
	       "a draining worker kept the connection:\n%s", r.head);
	harness_resp_free(&r);
}
END_TEST

/* ---- 9: retry on a closed pooled connection ------------------------ */

/* /close-next drops each connection on its second request: every reuse
 * of a pooled connection meets a close, and must be retried. */
START_TEST(closed_pooled_connection_retried)
{
	struct harness_config cfg = {.workers = 1};
	struct harness_run r;
	char url[128];
	int i;

	up_cfg(&cfg);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/close-next",
	         origin.port);
	for (i = 0; i < 4; i++) {
		memset(&r, 0, sizeof(r));
		harness_curl(&r, 10, "-x", proxy.url, "-o", "/dev/null", "-w",
		             "%{http_code}", url, NULL);
		HCHECK(r.code == 0 && strcmp(r.out, "200") == 0,
		       "GET %d: curl exit %d, status %s: %s", i + 1, r.code,
		       r.out, r.err);
		harness_run_free(&r);
	}
}
END_TEST

/* ---- 10: an upload stall is the origin's when it stops reading ----- */

START_TEST(origin_upload_stall_504)
{
	struct harness_config cfg = {
	        .timeouts = "client_idle = 1s\nupstream_response = 2s\n"};
	struct harness_resp r;

	up_cfg(&cfg);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
	send_upload_head("/stall-upload", STALL_BODY, "");
	start_sender("x", 1, STALL_BODY);
	response(&r, HARNESS_WAIT_MS, "the stalled upload");
	HCHECK(r.status == 504,
	       "status %d, wanted 504 (the origin stopped reading):\n%s",
	       r.status, r.head);
	harness_resp_free(&r);
}
END_TEST

static Suite *
regressions_suite(void)
{
	Suite *s = suite_create("regressions");
	TCase *tc = tcase_create("regressions");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, abandoned_upload_not_parsed);
	tcase_add_test(tc, pool_per_listener);
	tcase_add_test(tc, continue_relayed_at_once);
	tcase_add_test(tc, early_hints_relayed_at_once);
	tcase_add_test(tc, content_length_named_by_connection);
	tcase_add_test(tc, reload_retires_listener);
	tcase_add_test(tc, reset_body_not_complete);
	tcase_add_test(tc, aborted_request_logged);
	tcase_add_test(tc, drain_serves_first_request);
	tcase_add_test(tc, closed_pooled_connection_retried);
	tcase_add_test(tc, origin_upload_stall_504);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(regressions_suite());
}
