/*
 * CONNECT tunnels through proxyd: TLS to the test origin through curl, the
 * connect_ports allow-list (and its default, 443 only), half-close carried
 * through the tunnel, and tunnel_idle closing a quiet tunnel.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "tests/support/harness.h"

static struct harness_origin origin;     /* plain HTTP */
static struct harness_origin tls_origin; /* HTTPS */
static struct harness_proxy proxy;
static struct harness_conn conn;

/* Both origins, and proxyd with CONNECT allowed to the given ports
 * (NULL: the default connect_ports). */
static void
up(int allow_tls, int allow_plain, const char *timeouts)
{
	struct harness_config cfg = {.timeouts = timeouts};
	char extra[128] = "";

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_origin_start(&tls_origin, 1) == 0,
	       "TLS origin did not start");
	if (allow_tls && allow_plain)
		snprintf(extra, sizeof(extra), "connect_ports = %d, %d\n",
		         tls_origin.port, origin.port);
	else if (allow_tls || allow_plain)
		snprintf(extra, sizeof(extra), "connect_ports = %d\n",
		         allow_tls ? tls_origin.port : origin.port);
	cfg.listen_extra = extra;
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect to proxyd");
}

/* CONNECT 127.0.0.1:port on conn; the answer's status. */
static int
connect_to(int port)
{
	struct harness_resp r;
	int status;

	HCHECK(harness_conn_sendf(&conn,
	                          "CONNECT 127.0.0.1:%d HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          port, port) == 0,
	       "send CONNECT");
	/* the head only: a 2xx to CONNECT has no body, and the tunnel's
	 * bytes follow it */
	HCHECK(harness_conn_response(&conn, &r, 1, HARNESS_WAIT_MS) == 0,
	       "no answer to CONNECT: %s", r.error);
	status = r.status;
	harness_resp_free(&r);
	return status;
}

START_TEST(connect_tls_curl)
{
	struct harness_run r = {.check_pattern = 1};
	char url[128];
	int status;

	up(1, 0, NULL);
	status = connect_to(tls_origin.port);
	HCHECK(status == 200, "CONNECT answered %d", status);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/size/1000",
	         tls_origin.port);
	harness_curl(&r, 30, "-x", proxy.url, "-k", "-o", "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == 1000 && r.pattern_ok,
	       "https via CONNECT: exit %d, %llu bytes: %s", r.code,
	       (unsigned long long)r.out_total, r.err);
	harness_run_free(&r);

	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/size/20000000",
	         tls_origin.port);
	harness_curl(&r, 60, "-x", proxy.url, "-k", "-o", "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == 20000000 && r.pattern_ok,
	       "20 MB via CONNECT: exit %d, %llu bytes: %s", r.code,
	       (unsigned long long)r.out_total, r.err);
	harness_run_free(&r);
}
END_TEST

START_TEST(proxytunnel_http)
{
	struct harness_run r = {.check_pattern = 1};
	char url[128];

	up(0, 1, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/100000",
	         origin.port);
	harness_curl(&r, 30, "-x", proxy.url, "--proxytunnel", "-o", "-", url,
	             NULL);
	HCHECK(r.code == 0 && r.out_total == 100000 && r.pattern_ok,
	       "http via --proxytunnel: exit %d, %llu bytes: %s", r.code,
	       (unsigned long long)r.out_total, r.err);
	harness_run_free(&r);
}
END_TEST

START_TEST(port_not_listed_403)
{
	struct harness_resp r;
	char v[64];

	up(1, 0, NULL);
	HCHECK(harness_conn_sendf(&conn,
	                          "CONNECT 127.0.0.1:%d HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          origin.port, origin.port) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer: %s", r.error);
	HCHECK(r.status == 403, "CONNECT to an unlisted port: %d\n%s", r.status,
	       r.head);
	HCHECK(harness_head_value(r.head, "Connection", v, sizeof(v)) &&
	               strcasecmp(v, "close") == 0,
	       "403 without Connection: close:\n%s", r.head);
	HCHECK(harness_conn_closed(&conn, 5000) == 1, "still open after 403");
	harness_resp_free(&r);
}
END_TEST

START_TEST(default_ports_forbid_origin)
{
	int status;

	up(0, 0, NULL); /* connect_ports = 443 */
	status = connect_to(tls_origin.port);
	HCHECK(status == 403, "default connect_ports let %d through: %d",
	       tls_origin.port, status);
}
END_TEST

START_TEST(half_close)
{
	struct harness_resp r;
	int status;

	up(0, 1, NULL);
	status = connect_to(origin.port);
	HCHECK(status == 200, "CONNECT answered %d", status);
	/* the client's FIN arrives before the slow answer is ready */
	HCHECK(harness_conn_sendf(&conn,
	                          "GET /slow/300 HTTP/1.1\r\nHost: a\r\n\r\n"
	                          "GET /size/200000 HTTP/1.1\r\nHost: a\r\n"
	                          "\r\n") == 0,
	       "send");
	HCHECK(shutdown(conn.fd, SHUT_WR) == 0, "shutdown");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200 && strcmp(r.body, "slow\n") == 0,
	       "first answer after half-close: %d %s", r.status, r.error);
	harness_resp_free(&r);
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200 && r.body_total == 200000 &&
	               harness_pattern_check(r.body, r.body_len, 0) == 0,
	       "second answer after half-close: %d, %llu bytes %s", r.status,
	       (unsigned long long)r.body_total, r.error);
	harness_resp_free(&r);
	/* the origin saw our FIN, closed, and that came back as a close */
	HCHECK(harness_conn_closed(&conn, 5000) == 1,
	       "tunnel not closed after both sides finished");
}
END_TEST

START_TEST(tunnel_idle_closes)
{
	int64_t t0;
	int status, closed;

	up(0, 1, "tunnel_idle = 500ms\n");
	status = connect_to(origin.port);
	HCHECK(status == 200, "CONNECT answered %d", status);
	t0 = harness_now_ms();
	closed = harness_conn_closed(&conn, 5000);
	HCHECK(closed == 1, "idle tunnel %s after %lld ms",
	       closed == 0 ? "sent bytes" : "still open",
	       (long long)(harness_now_ms() - t0));
	HCHECK(harness_now_ms() - t0 >= 400, "closed before tunnel_idle");
}
END_TEST

static Suite *
connect_suite(void)
{
	Suite *s = suite_create("connect");
	TCase *tc = tcase_create("connect");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, connect_tls_curl);
	tcase_add_test(tc, proxytunnel_http);
	tcase_add_test(tc, port_not_listed_403);
	tcase_add_test(tc, default_ports_forbid_origin);
	tcase_add_test(tc, half_close);
	tcase_add_test(tc, tunnel_idle_closes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(connect_suite());
}
