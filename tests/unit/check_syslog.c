/*
 * Log formats as pure functions: the RFC 5424 formatter of common/syslog.c
 * (PRI, timestamp, header fields, escaping of MSG, truncation), the JSON
 * and combined line builders of worker/access_log_*.c (every field, nulls,
 * escaping of what a client sent), and one datagram through a syslog sink
 * on loopback.
 */
#include "common/syslog.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/access_log.h"

/* 2024-05-01T12:34:56.789Z */
static const struct timespec when = {1714566896, 789123456};

static size_t
fmt(char *out, size_t cap, enum syslog_severity sev, const char *host,
    const char *msg)
{
	struct syslog_head h = {
	        .facility = SYSLOG_FACILITY_DAEMON,
	        .severity = sev,
	        .time = when,
	        .hostname = host,
	        .pid = 4242,
	        .msgid = "access",
	};

	return syslog_format(out, cap, &h, msg, strlen(msg));
}

/* ---- RFC 5424 ------------------------------------------------------ */

START_TEST(rfc5424_whole_message)
{
	char out[SYSLOG_MSG_MAX + 1];
	size_t n = fmt(out, sizeof(out), SYSLOG_SEV_INFO, "gw1", "hello");

	ck_assert_str_eq(out, "<30>1 2024-05-01T12:34:56.789Z gw1 proxyd 4242 "
	                      "access - hello");
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

START_TEST(rfc5424_pri)
{
	char out[256];

	/* daemon (3) * 8 + severity */
	fmt(out, sizeof(out), SYSLOG_SEV_ERR, "h", "m");
	ck_assert(strncmp(out, "<27>1 ", 6) == 0);
	fmt(out, sizeof(out), SYSLOG_SEV_WARNING, "h", "m");
	ck_assert(strncmp(out, "<28>1 ", 6) == 0);
	fmt(out, sizeof(out), SYSLOG_SEV_DEBUG, "h", "m");
	ck_assert(strncmp(out, "<31>1 ", 6) == 0);
}
END_TEST

START_TEST(rfc5424_timestamp)
{
	struct timespec t = {0, 999999999};
	char out[64];

	ck_assert_uint_eq(syslog_timestamp(out, sizeof(out), &when), 24);
	ck_assert_str_eq(out, "2024-05-01T12:34:56.789Z");
	syslog_timestamp(out, sizeof(out), &t);
	ck_assert_str_eq(out, "1970-01-01T00:00:00.999Z");
	ck_assert_uint_eq(syslog_timestamp(out, 24, &when), 0);
}
END_TEST

START_TEST(rfc5424_hostname)
{
	char out[1024], longname[400];

	fmt(out, sizeof(out), SYSLOG_SEV_INFO, "my host\x01\xff", "m");
	ck_assert_str_eq(out, "<30>1 2024-05-01T12:34:56.789Z my-host-- proxyd "
	                      "4242 access - m");
	fmt(out, sizeof(out), SYSLOG_SEV_INFO, "", "m");
	ck_assert(strstr(out, ".789Z - proxyd 4242 ") != NULL);
	fmt(out, sizeof(out), SYSLOG_SEV_INFO, NULL, "m");
	ck_assert(strstr(out, ".789Z - proxyd 4242 ") != NULL);
	memset(longname, 'h', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	fmt(out, sizeof(out), SYSLOG_SEV_INFO, longname, "m");
	/* RFC 5424 6.2.4: at most 255 */
	ck_assert_uint_eq(strspn(out + 31, "h"), 255);
	ck_assert(strncmp(out + 31 + 255, " proxyd ", 8) == 0);
}
END_TEST

START_TEST(rfc5424_msg_escaped)
{
	char out[256];
	const char *msg;

	fmt(out, sizeof(out), SYSLOG_SEV_INFO, "h",
	    "a\nb\r\nc\x01\x7f\td\\ \"e\" \xc3\xa9");
	msg = strstr(out, " access - ") + 10;
	/* one line, whatever the message held; tab and UTF-8 pass */
	ck_assert_str_eq(msg, "a\\nb\\r\\nc\\x01\\x7f\td\\ \"e\" \xc3\xa9");
	ck_assert(strchr(out, '\n') == NULL && strchr(out, '\r') == NULL);
}
END_TEST

START_TEST(rfc5424_truncated)
{
	static char big[5000], out[8192];
	size_t n;

	memset(big, 'x', sizeof(big) - 1);
	n = fmt(out, sizeof(out), SYSLOG_SEV_INFO, "h", big);
	ck_assert_uint_eq(n, SYSLOG_MSG_MAX);
	ck_assert_uint_eq(strlen(out), SYSLOG_MSG_MAX);
	/* a smaller buffer wins */
	n = fmt(out, 100, SYSLOG_SEV_INFO, "h", big);
	ck_assert_uint_eq(n, 99);
	ck_assert_uint_eq(strlen(out), 99);
	/* escapes are never cut in half */
	memset(big, '\n', sizeof(big) - 1);
	n = fmt(out, sizeof(out), SYSLOG_SEV_INFO, "h", big);
	ck_assert(n <= SYSLOG_MSG_MAX && n >= SYSLOG_MSG_MAX - 1);
	ck_assert(out[n - 1] == 'n' && out[n - 2] == '\\');
	ck_assert_uint_eq(fmt(out, 0, SYSLOG_SEV_INFO, "h", "m"), 0);
}
END_TEST

START_TEST(targets)
{
	struct syslog_sink s;
	char err[256];

	ck_assert(syslog_is_target("syslog"));
	ck_assert(syslog_is_target("syslog:127.0.0.1:514"));
	ck_assert(!syslog_is_target("syslogd"));
	ck_assert(!syslog_is_target("/var/log/syslog"));
	ck_assert(!syslog_is_target("stderr"));
	ck_assert_int_eq(syslog_sink_open(&s, "syslog:nohost", "error", err,
	                                  sizeof(err)),
	                 -1);
	ck_assert(strstr(err, "syslog:IP:PORT") != NULL);
	ck_assert_int_eq(s.fd, -1);
	if (access(SYSLOG_DEV_LOG, F_OK) == 0)
		return;
	/* no local daemon here: say so when opening, not when sending */
	ck_assert_int_eq(
	        syslog_sink_open(&s, "syslog", "error", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "syslog: /dev/log: ") == err, "%s", err);
	ck_assert(strstr(err, "syslog daemon") != NULL);
}
END_TEST

START_TEST(udp_datagram)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct pollfd pfd;
	struct syslog_sink s;
	char target[64], err[256], got[SYSLOG_MSG_MAX + 16];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(fd >= 0);
	ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(target, sizeof(target), "syslog:127.0.0.1:%u",
	         (unsigned)ntohs(sa.sin_port));
	ck_assert_msg(syslog_sink_open(&s, target, "error", err, sizeof(err)) ==
	                      0,
	              "%s", err);
	ck_assert_int_eq(syslog_sink_send(&s, SYSLOG_SEV_ERR, "x\ny", 3), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	n = recv(fd, got, sizeof(got) - 1, 0);
	ck_assert(n > 0);
	got[n] = '\0';
	ck_assert(strncmp(got, "<27>1 ", 6) == 0);
	ck_assert_msg(strstr(got, " proxyd ") && strstr(got, " error - x\\ny"),
	              "%s", got);
	syslog_sink_close(&s);
	close(fd);
}
END_TEST

/* ---- JSON line ----------------------------------------------------- */

static struct access_log_req *
req(const char *method, const char *url, const char *referer, const char *ua)
{
	struct access_log_text t[ACCESS_LOG_NPARTS] = {
	        [ACCESS_LOG_METHOD] = {method, strlen(method)},
	        [ACCESS_LOG_URL] = {url, strlen(url)},
	        [ACCESS_LOG_REFERER] = {referer, referer ? strlen(referer) : 0},
	        [ACCESS_LOG_USER_AGENT] = {ua, ua ? strlen(ua) : 0},
	};
	struct access_log_req *r = access_log_req_new(t, 11);

	ck_assert(r != NULL);
	return r;
}

START_TEST(json_every_field)
{
	struct access_log_req *r = req("GET", "http://example.com:8080/a?b=c",
	                               "http://ref.example/", "curl/8.5.0");
	struct access_log_entry e = {
	        .time = when,
	        .client = "192.0.2.7",
	        .client_port = 50123,
	        .user = "alice",
	        .req = r,
	        .host = "example.com",
	        .port = 8080,
	        .status = 200,
	        .bytes_in = 87,
	        .bytes_out = 1234567890123ull,
	        .upstream = "198.51.100.1:8080",
	        .duration_ms = 42,
	        .tunnel = 0,
	        .rule = "allow-web",
	        .action = "allow",
	        .tls_sni = "example.com",
	        .tls = "TLSv1.3/TLS_AES_128_GCM_SHA256",
	};
	char out[ACCESS_LOG_LINE_MAX];
	size_t n = access_log_json(out, sizeof(out), &e);

	ck_assert_str_eq(
	        out,
	        "{\"time\":\"2024-05-01T12:34:56.789Z\",\"client\":\"192.0.2."
	        "7\","
	        "\"client_port\":50123,\"user\":\"alice\",\"method\":\"GET\","
	        "\"url\":\"http://example.com:8080/a?b=c\","
	        "\"host\":\"example.com\",\"port\":8080,\"version\":\"HTTP/"
	        "1.1\","
	        "\"status\":200,\"bytes_in\":87,\"bytes_out\":1234567890123,"
	        "\"upstream\":\"198.51.100.1:8080\",\"duration_ms\":42,"
	        "\"tunnel\":false,\"rule\":\"allow-web\",\"action\":\"allow\","
	        "\"tls_sni\":\"example.com\","
	        "\"tls\":\"TLSv1.3/TLS_AES_128_GCM_SHA256\","
	        "\"referer\":\"http://ref.example/"
	        "\","
	        "\"user_agent\":\"curl/8.5.0\"}");
	ck_assert_uint_eq(n, strlen(out));
	free(r);
}
END_TEST

START_TEST(json_nulls)
{
	struct access_log_entry e = {
	        .time = when,
	        .client = "::1",
	        .client_port = 1,
	        .status = 400,
	        .bytes_in = 10,
	        .bytes_out = 150,
	};
	struct access_log_req *r = req("CONNECT", "example.com:443", NULL, "");
	char out[ACCESS_LOG_LINE_MAX];

	/* no request head parsed (a 400): nothing from it */
	access_log_json(out, sizeof(out), &e);
	ck_assert_str_eq(
	        out,
	        "{\"time\":\"2024-05-01T12:34:56.789Z\",\"client\":\"::1\","
	        "\"client_port\":1,\"user\":null,\"method\":null,\"url\":null,"
	        "\"host\":null,\"port\":null,\"version\":null,\"status\":400,"
	        "\"bytes_in\":10,\"bytes_out\":150,\"upstream\":null,"
	        "\"duration_ms\":0,\"tunnel\":false,\"rule\":null,"
	        "\"action\":null,\"tls_sni\":null,\"tls\":null,"
	        "\"referer\":null,"
	        "\"user_agent\":null}");
	/* a tunnel: absent and empty fields are null alike */
	e.req = r;
	e.tunnel = 1;
	access_log_json(out, sizeof(out), &e);
	ck_assert(strstr(out, "\"method\":\"CONNECT\",\"url\":\"example.com:"
	                      "443\",") != NULL);
	ck_assert(strstr(out, "\"tunnel\":true,") != NULL);
	ck_assert(strstr(out, "\"referer\":null,\"user_agent\":null}") != NULL);
	free(r);
}
END_TEST

START_TEST(json_escaping)
{
	struct access_log_req *r =
	        req("GET", "http://h/\x7f\xff", "a\\b",
	            "x\"y\\z\t\n\r\x01\x1f\x7f\xc3\xa9\xff end");
	struct access_log_entry e = {.time = when, .client = "1", .req = r};
	char out[ACCESS_LOG_LINE_MAX];
	size_t i, n = access_log_json(out, sizeof(out), &e);

	ck_assert(strstr(out, "\"url\":\"http://h/\\u007f\\u00ff\"") != NULL);
	ck_assert(strstr(out, "\"referer\":\"a\\\\b\"") != NULL);
	ck_assert_msg(strstr(out, "\"user_agent\":\"x\\\"y\\\\z\\t\\n\\r"
	                          "\\u0001\\u001f\\u007f\\u00c3\\u00a9"
	                          "\\u00ff end\"}") != NULL,
	              "%s", out);
	for (i = 0; i < n; i++) /* printable ASCII only, always */
		ck_assert(out[i] >= 0x20 && out[i] < 0x7f);
	free(r);
}
END_TEST

START_TEST(json_does_not_fit)
{
	struct access_log_entry e = {.time = when, .client = "127.0.0.1"};
	char out[64];

	ck_assert_uint_eq(access_log_json(out, sizeof(out), &e), 0);
	ck_assert_uint_eq(access_log_json(out, 0, &e), 0);
}
END_TEST

START_TEST(capture_cut)
{
	static char url[ACCESS_LOG_URL_MAX * 2], method[100];
	struct access_log_req *r;
	const char *p;
	size_t len;

	memset(url, 'u', sizeof(url) - 1);
	memset(method, 'M', sizeof(method) - 1);
	r = req(method, url, "ref", NULL);
	p = access_log_req_part(r, ACCESS_LOG_METHOD, &len);
	ck_assert_uint_eq(len, ACCESS_LOG_METHOD_MAX);
	ck_assert(p[0] == 'M');
	p = access_log_req_part(r, ACCESS_LOG_URL, &len);
	ck_assert_uint_eq(len, ACCESS_LOG_URL_MAX);
	ck_assert(p[0] == 'u' && p[len - 1] == 'u');
	p = access_log_req_part(r, ACCESS_LOG_REFERER, &len);
	ck_assert(len == 3 && memcmp(p, "ref", 3) == 0);
	access_log_req_part(r, ACCESS_LOG_USER_AGENT, &len);
	ck_assert_uint_eq(len, 0);
	free(r);
}
END_TEST

/* The longest capture escapes into a line that still fits. */
START_TEST(longest_line_fits)
{
	static char url[ACCESS_LOG_URL_MAX], f[ACCESS_LOG_FIELD_MAX];
	static char line[ACCESS_LOG_LINE_MAX];
	char m[ACCESS_LOG_METHOD_MAX + 1], host[ACCESS_LOG_HOST_MAX + 1];
	struct access_log_req *r;
	struct access_log_entry e = {.time = when};

	memset(url, 0x01, sizeof(url) - 1);
	memset(f, 0x01, sizeof(f) - 1);
	memset(m, 0x01, sizeof(m) - 1);
	m[sizeof(m) - 1] = '\0';
	memset(host, 0x01, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	r = req(m, url, f, f);
	e.req = r;
	e.client = e.host = e.upstream = e.user = host;
	e.rule = e.action = e.tls_sni = e.tls = host;
	ck_assert_uint_gt(access_log_json(line, sizeof(line), &e), 0);
	ck_assert_uint_gt(access_log_combined(line, sizeof(line), &e), 0);
	free(r);
}
END_TEST

/* ---- combined line ------------------------------------------------- */

START_TEST(combined_line)
{
	struct access_log_req *r =
	        req("GET", "http://h/p\"q", NULL, "ua \"quoted\" \\ \x01\xff");
	struct access_log_entry e = {
	        .time = when,
	        .client = "192.0.2.7",
	        .req = r,
	        .status = 404,
	        .bytes_in = 90,
	        .bytes_out = 512,
	        .upstream = "127.0.0.1:80",
	        .duration_ms = 3,
	};
	char out[ACCESS_LOG_LINE_MAX];

	setenv("TZ", "UTC", 1);
	tzset();
	access_log_combined(out, sizeof(out), &e);
	ck_assert_str_eq(out, "192.0.2.7 - - [01/May/2024:12:34:56 +0000] "
	                      "\"GET http://h/p\\x22q HTTP/1.1\" 404 512 \"-\" "
	                      "\"ua \\x22quoted\\x22 \\x5c \\x01\\xff\" "
	                      "up=127.0.0.1:80 rx=90 ms=3");
	e.req = NULL;
	e.upstream = NULL;
	access_log_combined(out, sizeof(out), &e);
	ck_assert(strstr(out, "] \"-\" 404 512 \"-\" \"-\" up=- rx=90") !=
	          NULL);
	free(r);
}
END_TEST

static Suite *
syslog_suite(void)
{
	Suite *s = suite_create("syslog");
	TCase *tc = tcase_create("rfc5424");
	TCase *tj = tcase_create("lines");

	tcase_add_test(tc, rfc5424_whole_message);
	tcase_add_test(tc, rfc5424_pri);
	tcase_add_test(tc, rfc5424_timestamp);
	tcase_add_test(tc, rfc5424_hostname);
	tcase_add_test(tc, rfc5424_msg_escaped);
	tcase_add_test(tc, rfc5424_truncated);
	tcase_add_test(tc, targets);
	tcase_add_test(tc, udp_datagram);
	suite_add_tcase(s, tc);
	tcase_add_test(tj, json_every_field);
	tcase_add_test(tj, json_nulls);
	tcase_add_test(tj, json_escaping);
	tcase_add_test(tj, json_does_not_fit);
	tcase_add_test(tj, capture_cut);
	tcase_add_test(tj, longest_line_fits);
	tcase_add_test(tj, combined_line);
	suite_add_tcase(s, tj);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(syslog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
