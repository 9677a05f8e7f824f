/*
 * The rules engine in the running proxy: real proxyd, the test origin, the
 * test DNS server and curl.  A denied URL gets the block page naming the
 * rule, an allowed one passes, a redirect rule answers 302; a dst rule
 * refuses a name that resolves into its range before any connection is
 * made (a listener of the test's own sees none); CONNECT to a denied host
 * gets 403; inside a tunnel the ClientHello is judged: a mismatched SNI or
 * an sni rule closes the tunnel before a byte reaches the upstream, a
 * matching one reaches it unchanged; monitor mode passes and logs; time
 * windows are applied.  The access log names the rule and the action.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/dnsd.h"
#include "tests/support/harness.h"

#define LOG_MAX 65536
#define HELLO_MAX 16384

static struct harness_origin origin;     /* plain HTTP */
static struct harness_origin tls_origin; /* HTTPS */
static struct harness_proxy proxy;
static struct harness_conn conn;
static struct dnsd *dns;
static int lfd = -1; /* the test's own "upstream" listener */
static int lport;

static const struct dnsd_name names[] = {
        {"origin.test", {"127.0.0.1", NULL}, 60},
        {"good.test", {"127.0.0.1", NULL}, 60},
        {"evil.test", {"127.0.0.1", NULL}, 60},
        {"inside.test", {"127.0.0.1", NULL}, 60},
        {"bad.test", {"127.0.0.1", NULL}, 60},
        {NULL, {NULL}, 0},
};

static void
teardown(void)
{
	dnsd_stop(dns);
	dns = NULL;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	harness_teardown();
}

/* ---- the test's own upstream: counts connections, sees bytes ------- */

static void
listener_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	HCHECK(lfd >= 0, "socket: %s", strerror(errno));
	HCHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	               listen(lfd, 16) == 0 &&
	               getsockname(lfd, (struct sockaddr *)&a, &len) == 0,
	       "listen: %s", strerror(errno));
	lport = ntohs(a.sin_port);
}

/* A connection made to the listener within timeout_ms, or -1. */
static int
listener_accept(int timeout_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads fd until EOF or timeout; the byte count, -1 on timeout. */
static ssize_t
read_until_eof(int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	ssize_t k;

	while (harness_now_ms() < deadline) {
		if (poll(&p, 1, (int)(deadline - harness_now_ms())) != 1)
			continue;
		k = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return (ssize_t)n;
		if (k > 0)
			n += (size_t)k;
		if (n == cap)
			return (ssize_t)n;
	}
	return -1;
}

/* Reads exactly len bytes from fd within timeout_ms; 0 or -1. */
static int
read_exact(int fd, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	ssize_t k;

	while (n < len && harness_now_ms() < deadline) {
		if (poll(&p, 1, (int)(deadline - harness_now_ms())) != 1)
			continue;
		k = recv(fd, buf + n, len - n, MSG_DONTWAIT);
		if (k <= 0)
			return -1;
		n += (size_t)k;
	}
	return n == len ? 0 : -1;
}

/* ---- proxyd with a rules file -------------------------------------- */

/* Origins, DNS, and proxyd running rules (CONNECT allowed to 443, the
 * TLS origin and the test's listener if open). */
static void
up(const char *rules)
{
	struct harness_config cfg = {0};
	char path[PATH_MAX], extra[PATH_MAX + 128], listen_extra[128];

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_origin_start(&tls_origin, 1) == 0,
	       "TLS origin did not start");
	dns = dnsd_start(names);
	HCHECK(dns != NULL, "test DNS server did not start");
	HCHECK(harness_write_file("rules.ini", rules, strlen(rules), path,
	                          sizeof(path)) == 0,
	       "write rules.ini");
	snprintf(extra, sizeof(extra), "rules = %s\nresolver = 127.0.0.1:%u\n",
	         path, (unsigned)dns->port);
	if (lfd >= 0)
		snprintf(listen_extra, sizeof(listen_extra),
		         "connect_ports = 443, %d, %d\n", tls_origin.port,
		         lport);
	else
		snprintf(listen_extra, sizeof(listen_extra),
		         "connect_ports = 443, %d\n", tls_origin.port);
	cfg.proxyd_extra = extra;
	cfg.listen_extra = listen_extra;
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect to proxyd");
}

/* Sends a GET for url (absolute) on conn and reads the answer. */
static void
get(const char *url, const char *host, struct harness_resp *r)
{
	HCHECK(harness_conn_sendf(&conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	                          url, host) == 0,
	       "send GET %s", url);
	HCHECK(harness_conn_response(&conn, r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer to GET %s: %s", url, r->error);
}

/* The answer to CONNECT host:port on conn (its head only). */
static int
connect_to(const char *host, int port)
{
	struct harness_resp r;
	int status;

	HCHECK(harness_conn_sendf(
	               &conn, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
	               host, port, host, port) == 0,
	       "send CONNECT");
	HCHECK(harness_conn_response(&conn, &r, 1, HARNESS_WAIT_MS) == 0,
	       "no answer to CONNECT: %s", r.error);
	status = r.status;
	harness_resp_free(&r);
	return status;
}

static void
origin_url(char *out, size_t n, const char *host, const char *path)
{
	snprintf(out, n, "http://%s:%d%s", host, origin.port, path);
}

/* ---- logs ---------------------------------------------------------- */

static char log_buf[LOG_MAX];

static const char *
read_log(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, log_buf, sizeof(log_buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	log_buf[n > 0 ? n : 0] = '\0';
	return log_buf;
}

/* The first line of the log holding both a and b (b may be NULL), or
 * NULL. */
static const char *
find_line(const char *path, const char *a, const char *b)
{
	static char line[4096];
	const char *p, *nl;
	size_t len;

	for (p = read_log(path); (nl = strchr(p, '\n')); p = nl + 1) {
		len = (size_t)(nl - p) < sizeof(line) - 1 ? (size_t)(nl - p)
		                                          : sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		if (strstr(line, a) && (!b || strstr(line, b)))
			return line;
	}
	return NULL;
}

/* find_line in path or path2 (may be NULL), waited for: the access log
 * is flushed once a second. */
static const char *
log_line(const char *path, const char *path2, const char *a, const char *b)
{
	int64_t deadline = harness_now_ms() + 5000;
	const char *line;

	do {
		if ((line = find_line(path, a, b)) ||
		    (path2 && (line = find_line(path2, a, b))))
			return line;
		harness_sleep_ms(100);
	} while (harness_now_ms() < deadline);
	return NULL;
}

static void
access_logged(const char *a, const char *b)
{
	HCHECK(log_line(proxy.access_log, NULL, a, b) != NULL,
	       "no access log line with '%s' and '%s':\n%s", a, b ? b : "",
	       read_log(proxy.access_log));
}

/* ---- TLS ClientHellos, made by OpenSSL on memory BIOs -------------- */

/* The first flight of a TLS client for sni (NULL: none); its length. */
static size_t
client_hello(const char *sni, unsigned char *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	char host[256];
	int n;

	HCHECK(ssl != NULL, "SSL_new");
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	if (sni) {
		snprintf(host, sizeof(host), "%s", sni);
		HCHECK(SSL_set_tlsext_host_name(ssl, host) == 1, "SNI");
	}
	HCHECK(SSL_connect(ssl) == -1 &&
	               SSL_get_error(ssl, -1) == SSL_ERROR_WANT_READ,
	       "SSL_connect did not wait for the server");
	n = BIO_read(SSL_get_wbio(ssl), out, (int)cap);
	HCHECK(n > 5 && out[0] == 22, "no ClientHello from OpenSSL");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

/* CONNECT host:lport (the test's listener), then the ClientHello for
 * sni; the upstream side's fd, accepted after the hello was sent (proxyd
 * may connect before its 200 or only once the SNI is judged). */
static int
tunnel_with_hello(const char *host, const char *sni, unsigned char *hello,
                  size_t *len)
{
	int status = connect_to(host, lport), up_fd;

	HCHECK(status == 200, "CONNECT %s answered %d", host, status);
	*len = client_hello(sni, hello, HELLO_MAX);
	HCHECK(harness_conn_send(&conn, hello, *len) == 0, "send ClientHello");
	up_fd = listener_accept(HARNESS_WAIT_MS);
	HCHECK(up_fd >= 0, "proxyd never connected to the upstream");
	return up_fd;
}

/* The tunnel was closed: the client sees EOF, and the upstream got no
 * byte (or no connection at all). */
static void
tunnel_refused(const char *why)
{
	char buf[HELLO_MAX];
	ssize_t n;
	int up_fd;

	HCHECK(harness_conn_closed(&conn, 5000) == 1,
	       "%s: the client's side of the tunnel stayed open", why);
	up_fd = listener_accept(200);
	if (up_fd < 0)
		return;
	n = read_until_eof(up_fd, buf, sizeof(buf), 5000);
	HCHECK(n == 0, "%s: the upstream got %zd bytes (or no EOF)", why, n);
	close(up_fd);
}

/* CONNECT host:lport and a ClientHello for sni, which must be refused. */
static void
hello_refused(const char *host, const char *sni, const char *why)
{
	unsigned char hello[HELLO_MAX];
	size_t len;
	int status = connect_to(host, lport);

	HCHECK(status == 200, "CONNECT %s answered %d", host, status);
	len = client_hello(sni, hello, HELLO_MAX);
	HCHECK(harness_conn_send(&conn, hello, len) == 0, "send ClientHello");
	tunnel_refused(why);
}

/* ---- plain requests ------------------------------------------------ */

static const char block_rules[] =
        "[rules]\ndefault = deny\n\n"
        "[rule no-exe]\nurl = (?i)\\.exe$\naction = deny\n"
        "message = No executables, please.\n\n"
        "[rule legal]\nurl = /legal/\naction = deny\nstatus = 451\n\n"
        "[rule moved]\nurl = /old-page$\naction = redirect\n"
        "location = http://portal.test/new-page\n\n"
        "[rule lan]\nsrc = 127.0.0.0/8\nscheme = http\naction = allow\n";

START_TEST(denied_url_block_page)
{
	struct harness_resp r;
	char url[256], host[64], v[64], want[300];

	up(block_rules);
	origin_url(url, sizeof(url), "127.0.0.1", "/downloads/Setup.EXE");
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	get(url, host, &r);
	HCHECK(r.status == 403, "denied URL answered %d\n%s", r.status, r.head);
	HCHECK(strstr(r.body, "rule <b>no-exe</b>") != NULL,
	       "block page does not name the rule:\n%s", r.body);
	snprintf(want, sizeof(want), "<code>%s</code>", url);
	HCHECK(strstr(r.body, want) != NULL, "block page lacks the URL:\n%s",
	       r.body);
	HCHECK(strstr(r.body, "No executables, please.") != NULL,
	       "block page lacks the message:\n%s", r.body);
	HCHECK(strstr(r.body, "Your address: 127.0.0.1") != NULL,
	       "block page lacks the client address:\n%s", r.body);
	HCHECK(harness_head_value(r.head, "Connection", v, sizeof(v)) &&
	               strcasecmp(v, "close") == 0,
	       "block page without Connection: close:\n%s", r.head);
	HCHECK(harness_conn_closed(&conn, 5000) == 1, "open after the 403");
	harness_resp_free(&r);
	access_logged("/downloads/Setup.EXE", " 403 ");
	access_logged("/downloads/Setup.EXE", " rule=no-exe action=deny");
}
END_TEST

START_TEST(allowed_url_passes)
{
	struct harness_run c = {.check_pattern = 1};
	char url[256];

	up(block_rules);
	origin_url(url, sizeof(url), "127.0.0.1", "/size/5000");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 5000 && c.pattern_ok,
	       "allowed GET: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
	access_logged("/size/5000", " rule=lan action=allow");
}
END_TEST

START_TEST(status_and_redirect)
{
	struct harness_resp r;
	char url[256], host[64], v[256];

	up(block_rules);
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_url(url, sizeof(url), "127.0.0.1", "/legal/case");
	get(url, host, &r);
	HCHECK(r.status == 451 && strstr(r.body, "rule <b>legal</b>"),
	       "status = 451 rule: %d\n%s%s", r.status, r.head, r.body);
	harness_resp_free(&r);
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	origin_url(url, sizeof(url), "127.0.0.1", "/old-page");
	get(url, host, &r);
	HCHECK(r.status == 302, "redirect rule answered %d\n%s", r.status,
	       r.head);
	HCHECK(harness_head_value(r.head, "Location", v, sizeof(v)) &&
	               strcmp(v, "http://portal.test/new-page") == 0,
	       "wrong Location:\n%s", r.head);
	harness_resp_free(&r);
	access_logged("/legal/case", " rule=legal action=deny");
	access_logged("/old-page", " rule=moved action=redirect");
}
END_TEST

/* Nothing matches: the default decides, and says so. */
START_TEST(default_deny_named)
{
	struct harness_resp r;
	char url[256], host[64];

	up("[rule office]\nsrc = 10.0.0.0/8\naction = allow\n");
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	get(url, host, &r);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>default</b>"),
	       "default deny: %d\n%s", r.status, r.body);
	harness_resp_free(&r);
	access_logged("/size/10", " rule=default action=deny");
}
END_TEST

START_TEST(header_rule)
{
	struct harness_run c = {0};
	struct harness_resp r;
	char url[256], host[64];

	up("[rules]\ndefault = allow\n"
	   "[rule no-curl]\nheader = User-Agent: ^curl/\naction = deny\n");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "/dev/null", "-w",
	             "%{http_code}", url, NULL);
	HCHECK(c.code == 0 && strcmp(c.out, "403") == 0,
	       "curl's User-Agent not refused: exit %d, %s %s", c.code, c.out,
	       c.err);
	harness_run_free(&c);
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET %s HTTP/1.1\r\nHost: %s\r\n"
	                          "User-Agent: Mozilla/5.0\r\n"
	                          "User-Agent: curl/8.0\r\n\r\n",
	                          url, host) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer: %s", r.error);
	HCHECK(r.status == 403, "second User-Agent value not seen: %d",
	       r.status);
	harness_resp_free(&r);
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	HCHECK(harness_conn_sendf(&conn,
	                          "GET %s HTTP/1.1\r\nHost: %s\r\n"
	                          "User-Agent: Mozilla/5.0\r\n\r\n",
	                          url, host) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0 &&
	               r.status == 200,
	       "other User-Agent: %d %s", r.status, r.error);
	harness_resp_free(&r);
}
END_TEST

/* ---- dst: judged on the resolved address, before connecting -------- */

static const char dst_rules[] =
        "[rules]\ndefault = allow\n"
        "[rule no-inside]\nhost = inside.test\ndst = 127.0.0.0/8\n"
        "action = deny\nmessage = Internal addresses are off limits.\n"
        "[rule any-ten]\ndst = 10.0.0.0/8\naction = deny\n"
        "[rule nowhere]\nhost = nowhere.test\naction = deny\nstatus = 404\n";

START_TEST(dst_refused_before_connect)
{
	struct harness_resp r;
	char url[256], host[64];
	int fd;

	listener_open();
	up(dst_rules);
	snprintf(url, sizeof(url), "http://inside.test:%d/secret", lport);
	snprintf(host, sizeof(host), "inside.test:%d", lport);
	get(url, host, &r);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>no-inside</b>"),
	       "dst rule: %d (502 would mean it tried to connect)\n%s",
	       r.status, r.body);
	harness_resp_free(&r);
	fd = listener_accept(500);
	HCHECK(fd < 0, "proxyd connected to the refused address");
	HCHECK(dnsd_queries(dns) > 0, "proxyd never asked the test resolver");
	access_logged("inside.test", " rule=no-inside action=deny");
	/* the same address under another name passes (the rule's host) */
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	origin_url(url, sizeof(url), "origin.test", "/size/100");
	snprintf(host, sizeof(host), "origin.test:%d", origin.port);
	get(url, host, &r);
	HCHECK(r.status == 200 && r.body_total == 100,
	       "origin.test (same address, no rule): %d", r.status);
	harness_resp_free(&r);
	access_logged("origin.test", " rule=default action=allow");
}
END_TEST

/* A name that does not resolve: dst conditions cannot hold, and a later
 * rule still decides (not a 502). */
START_TEST(dst_unresolved_later_rule)
{
	struct harness_resp r;

	up(dst_rules);
	get("http://nowhere.test/x", "nowhere.test", &r);
	HCHECK(r.status == 404 && strstr(r.body, "rule <b>nowhere</b>"),
	       "unresolvable name with a later deny rule: %d\n%s", r.status,
	       r.body);
	harness_resp_free(&r);
	access_logged("nowhere.test", " rule=nowhere action=deny");
}
END_TEST

START_TEST(connect_dst_refused)
{
	int status, fd;

	listener_open();
	up(dst_rules);
	status = connect_to("inside.test", lport);
	HCHECK(status == 403, "CONNECT into a dst range answered %d", status);
	fd = listener_accept(500);
	HCHECK(fd < 0, "proxyd connected to the refused address");
	access_logged("inside.test", " rule=no-inside action=deny");
}
END_TEST

/* A tunnel whose decision waits for the SNI (an earlier sni rule) must
 * still not connect to an address a later dst rule refuses: with SNI
 * evil.test the dst rule decides, so the connection should never have
 * been made (else a CONNECT probes ports the dst rule protects: 200 or
 * 502 tells open from closed). */
START_TEST(connect_sni_pending_dst)
{
	unsigned char hello[HELLO_MAX];
	char got[HELLO_MAX];
	size_t len;
	int status, fd;

	listener_open();
	up("[rules]\ndefault = allow\nsni_mismatch = allow\n"
	   "[rule tls-good]\nsni = .good.test\naction = allow\n"
	   "[rule no-inside]\ndst = 127.0.0.0/8\naction = deny\n");
	status = connect_to("inside.test", lport);
	HCHECK(status == 200 || status == 403, "CONNECT answered %d", status);
	if (status == 200) {
		len = client_hello("evil.test", hello, HELLO_MAX);
		HCHECK(harness_conn_send(&conn, hello, len) == 0, "send");
		HCHECK(harness_conn_closed(&conn, 5000) == 1,
		       "tunnel refused by dst stayed open");
	}
	fd = listener_accept(200);
	HCHECK(fd < 0,
	       "proxyd connected to 127.0.0.1:%d although rule "
	       "no-inside (dst = 127.0.0.0/8) decided the tunnel",
	       lport);
	access_logged("inside.test", " rule=no-inside action=deny");
	/* with a good SNI the earlier rule allows, and the hello goes on */
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	fd = tunnel_with_hello("inside.test", "www.good.test", hello, &len);
	HCHECK(read_exact(fd, got, len, 5000) == 0 &&
	               memcmp(got, hello, len) == 0,
	       "SNI www.good.test (rule tls-good) did not reach the upstream");
	close(fd);
}
END_TEST

/* ---- CONNECT and SNI ----------------------------------------------- */

static const char tunnel_rules[] =
        "[rules]\ndefault = allow\nsni_mismatch = deny\n"
        "[rule no-bad]\nhost = bad.test\naction = deny\n";

START_TEST(connect_denied_host)
{
	struct harness_resp r;

	up(tunnel_rules);
	HCHECK(harness_conn_sendf(&conn, "CONNECT bad.test:443 HTTP/1.1\r\n"
	                                 "Host: bad.test:443\r\n\r\n") == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer: %s", r.error);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>no-bad</b>"),
	       "CONNECT to a denied host: %d\n%s%s", r.status, r.head, r.body);
	HCHECK(harness_conn_closed(&conn, 5000) == 1, "open after the 403");
	harness_resp_free(&r);
	access_logged("bad.test:443", " rule=no-bad action=deny");
}
END_TEST

START_TEST(sni_mismatch_closes)
{
	listener_open();
	up(tunnel_rules);
	hello_refused("good.test", "evil.test",
	              "SNI evil.test in a tunnel to good.test");
	/* logged with the 200 that went before the decision */
	access_logged("\"CONNECT good.test:", " 200 ");
	access_logged("good.test", " rule=sni_mismatch action=deny");
	access_logged("good.test", " sni=evil.test");
}
END_TEST

/* The matching SNI: the ClientHello reaches the upstream unchanged, and
 * the TLS origin answers through the tunnel. */
START_TEST(sni_match_passes)
{
	unsigned char hello[HELLO_MAX];
	char got[HELLO_MAX];
	struct harness_run c = {.check_pattern = 1};
	char url[256];
	size_t len;
	int up_fd;

	listener_open();
	up(tunnel_rules);
	up_fd = tunnel_with_hello("good.test", "GOOD.test", hello, &len);
	HCHECK(read_exact(up_fd, got, len, 5000) == 0 &&
	               memcmp(got, hello, len) == 0,
	       "the ClientHello did not reach the upstream unchanged");
	close(up_fd);
	snprintf(url, sizeof(url), "https://good.test:%d/size/3000",
	         tls_origin.port);
	harness_curl(&c, 30, "-x", proxy.url, "-k", "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 3000 && c.pattern_ok,
	       "https through a checked tunnel: exit %d, %llu bytes: %s",
	       c.code, (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
	access_logged("good.test", " sni=good.test");
}
END_TEST

/* The same name in another case or with a trailing dot is no mismatch
 * (names compare that way everywhere else). */
START_TEST(sni_same_name_other_spelling)
{
	unsigned char hello[HELLO_MAX];
	char got[HELLO_MAX];
	size_t len;
	int up_fd;

	listener_open();
	up(tunnel_rules);
	up_fd = tunnel_with_hello("Good.Test", "good.test", hello, &len);
	HCHECK(read_exact(up_fd, got, len, 5000) == 0 &&
	               memcmp(got, hello, len) == 0,
	       "CONNECT Good.Test with SNI good.test was refused");
	close(up_fd);
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	up_fd = tunnel_with_hello("good.test.", "good.test", hello, &len);
	HCHECK(read_exact(up_fd, got, len, 5000) == 0 &&
	               memcmp(got, hello, len) == 0,
	       "CONNECT good.test. (trailing dot) with SNI good.test was "
	       "refused");
	close(up_fd);
}
END_TEST

/* Issue 4: "then the ClientHello is peeked and sni and host rules apply
 * to the SNI".  A CONNECT to an address literal gets no sni_mismatch
 * check, so a host rule that does not look at the SNI lets a blocked
 * name through by its address. */
START_TEST(connect_ip_sni_host_rule)
{
	listener_open();
	up(tunnel_rules);
	hello_refused("127.0.0.1", "bad.test",
	              "CONNECT 127.0.0.1 with SNI bad.test (host = bad.test "
	              "denied)");
}
END_TEST

START_TEST(sni_rule_denies)
{
	unsigned char hello[HELLO_MAX];
	char got[HELLO_MAX];
	size_t len;
	int up_fd;

	listener_open();
	up("[rules]\ndefault = allow\nsni_mismatch = allow\n"
	   "[rule no-evil-sni]\nsni = .evil.test\naction = deny\n");
	hello_refused("good.test", "www.evil.test", "sni rule");
	access_logged(" rule=no-evil-sni action=deny", " sni=www.evil.test");
	/* sni_mismatch = allow: another name that no rule refuses passes */
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	up_fd = tunnel_with_hello("good.test", "other.test", hello, &len);
	HCHECK(read_exact(up_fd, got, len, 5000) == 0 &&
	               memcmp(got, hello, len) == 0,
	       "an allowed ClientHello did not reach the upstream");
	close(up_fd);
}
END_TEST

START_TEST(sni_missing_denied)
{
	listener_open();
	up("[rules]\ndefault = allow\nsni_missing = deny\n");
	hello_refused("good.test", NULL, "ClientHello without SNI");
	access_logged("good.test", " rule=sni_missing action=deny");
}
END_TEST

/* ---- monitor mode and time windows --------------------------------- */

START_TEST(monitor_passes_and_logs)
{
	struct harness_run c = {.check_pattern = 1};
	char url[256];
	const char *line;

	up("[rule watch]\nurl = /size/\nmode = monitor\naction = deny\n"
	   "[rule lan]\nsrc = 127.0.0.0/8\naction = allow\n");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/700");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 700 && c.pattern_ok,
	       "monitor rule blocked: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
	/* in the foreground (as the harness runs it) the error log is
	 * stderr */
	line = log_line(proxy.error_log, proxy.stderr_log,
	                "rule watch (monitor) matched", NULL);
	HCHECK(line != NULL && strstr(line, "[info]"),
	       "no monitor info line in the error log: %s\n%s",
	       line ? line : "", read_log(proxy.stderr_log));
	access_logged("/size/700", " rule=lan action=allow");
}
END_TEST

/* Only a monitor rule matched: the default decides; the log names the
 * monitor rule. */
START_TEST(monitor_then_default)
{
	struct harness_run c = {.check_pattern = 1};
	char url[256];

	up("[rules]\ndefault = allow\n"
	   "[rule watch]\nurl = /size/\nmode = monitor\naction = deny\n");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/300");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 300 && c.pattern_ok,
	       "monitor rule blocked: exit %d: %s", c.code, c.err);
	harness_run_free(&c);
	access_logged("/size/300", " rule=watch action=monitor");
}
END_TEST

/* "HH:00-HH:00" for hours [from, from + n) of the day, crossing
 * midnight when needed. */
static void
hours(char *out, size_t len, int from, int n)
{
	int to = (from + n) % 24;

	snprintf(out, len, "%02d:00-%02d:00", from % 24, to ? to : 24);
}

/* time_zone = Etc/GMT-12 (UTC+12): a window around now there holds, one
 * away from it does not, and 00:00-24:00 always holds.  A worker that
 * ignored the zone would be twelve hours off. */
START_TEST(time_windows)
{
	char rules[768], url[256], host[64], now_win[32], off_win[32];
	struct harness_resp r;
	time_t t = time(NULL) + 12 * 3600;
	struct tm tm;

	gmtime_r(&t, &tm);
	hours(now_win, sizeof(now_win), tm.tm_hour, 2);
	hours(off_win, sizeof(off_win), tm.tm_hour + 3, 2);
	snprintf(rules, sizeof(rules),
	         "[rules]\ndefault = allow\ntime_zone = Etc/GMT-12\n"
	         "[rule later]\nurl = /size/\ntime = %s\n"
	         "action = deny\nstatus = 410\n"
	         "[rule now]\nurl = /size/1$\ntime = %s\n"
	         "action = deny\nstatus = 429\n"
	         "[rule always]\nurl = /size/\ntime = 00:00-24:00\n"
	         "action = deny\n",
	         off_win, now_win);
	up(rules);
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	origin_url(url, sizeof(url), "127.0.0.1", "/size/1");
	get(url, host, &r);
	HCHECK(r.status == 429 && strstr(r.body, "rule <b>now</b>"),
	       "window %s (UTC+12) did not hold, or %s did: %d\n%s", now_win,
	       off_win, r.status, r.body);
	harness_resp_free(&r);
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	get(url, host, &r);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>always</b>"),
	       "time = 00:00-24:00 did not hold: %d\n%s", r.status, r.body);
	harness_resp_free(&r);
	access_logged("/size/10", " rule=always action=deny");
}
END_TEST

/* ---- read-back and reload ------------------------------------------ */

/* `proxyctl -s SHM args...` (up to 3 arguments, NULL-terminated). */
static void
proxyctl(struct harness_run *r, const char *a1, const char *a2, const char *a3)
{
	const char *bin = getenv("PROXYCTL_BIN");
	const char *argv[] = {bin && bin[0] ? bin : "build/proxyctl",
	                      "-s",
	                      proxy.shm_file,
	                      a1,
	                      a2,
	                      a3,
	                      NULL};

	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = 10000;
	harness_run(r);
	r->argv = NULL;
	HCHECK(r->code == 0, "proxyctl %s: exit %d: %s", a1, r->code, r->err);
}

/* The hits `proxyctl rules` shows for the rule called name, or -1. */
static long long
rule_hits(const char *name)
{
	struct harness_run r;
	char row_name[80], *line, *save = NULL;
	unsigned long long hits;
	long long found = -1;
	unsigned id;

	proxyctl(&r, "rules", NULL, NULL);
	for (line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		/* id name action mode file:line hits conditions */
		if (sscanf(line, "%u %79s %*s %*s %*s %llu", &id, row_name,
		           &hits) == 3 &&
		    strcmp(row_name, name) == 0)
			found = (long long)hits;
	harness_run_free(&r);
	return found;
}

static void
curl_status(const char *url, const char *want)
{
	struct harness_run c = {0};

	harness_curl(&c, 30, "-x", proxy.url, "-o", "/dev/null", "-w",
	             "%{http_code}", url, NULL);
	HCHECK(c.code == 0 && strcmp(c.out, want) == 0,
	       "GET %s: exit %d, status %s, want %s: %s", url, c.code, c.out,
	       want, c.err);
	harness_run_free(&c);
}

/* Hits equal the requests made (monitor ones too), and proxyctl explain
 * names the rule the proxy applied. */
START_TEST(proxyctl_hits_and_explain)
{
	struct harness_run r;
	char url[256];
	long long watch, no_exe, lan;
	int i;

	up("[rule watch]\nurl = /size/\nmode = monitor\naction = deny\n"
	   "[rule no-exe]\nurl = (?i)\\.exe$\naction = deny\n"
	   "[rule lan]\nsrc = 127.0.0.0/8\naction = allow\n");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	for (i = 0; i < 3; i++)
		curl_status(url, "200");
	origin_url(url, sizeof(url), "127.0.0.1", "/a.exe");
	curl_status(url, "403");
	curl_status(url, "403");
	watch = rule_hits("watch");
	no_exe = rule_hits("no-exe");
	lan = rule_hits("lan");
	HCHECK(watch == 3 && no_exe == 2 && lan == 3,
	       "hits watch %lld, no-exe %lld, lan %lld; want 3, 2, 3", watch,
	       no_exe, lan);
	proxyctl(&r, "explain", url, NULL);
	HCHECK(strstr(r.out, "decision: deny (rule no-exe)") != NULL,
	       "explain %s:\n%s", url, r.out);
	harness_run_free(&r);
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	proxyctl(&r, "explain", url, NULL);
	HCHECK(strstr(r.out, "watch") && strstr(r.out, "monitor") &&
	               strstr(r.out, "decision: allow (rule lan)"),
	       "explain %s:\n%s", url, r.out);
	harness_run_free(&r);
}
END_TEST

static void
write_rules(const char *text)
{
	char path[PATH_MAX];

	HCHECK(harness_write_file("rules.ini", text, strlen(text), path,
	                          sizeof(path)) == 0,
	       "write rules.ini");
}

/* A reload with a broken rules file keeps the old rules running; a good
 * one replaces them. */
START_TEST(reload_rules)
{
	pid_t old[16];
	char url[256];
	int n, m;

	up("[rule first]\nurl = /size/\naction = deny\n");
	origin_url(url, sizeof(url), "127.0.0.1", "/size/10");
	curl_status(url, "403");
	n = harness_proxy_workers(&proxy, old, 16);
	write_rules("[rule second]\nurl = /size/(\naction = deny\n");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	HCHECK(log_line(proxy.error_log, proxy.stderr_log,
	                "rules.ini:2:", "at offset") != NULL,
	       "the bad rules file was not reported:\n%s",
	       read_log(proxy.stderr_log));
	m = harness_proxy_workers(&proxy, old, 16);
	HCHECK(m == n, "workers changed on a rejected reload");
	curl_status(url, "403");
	write_rules("[rules]\ndefault = allow\n"
	            "[rule second]\nurl = /size/\naction = deny\n"
	            "status = 451\n");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	HCHECK(harness_proxy_wait_workers(&proxy, (int)proxy.workers, old, n,
	                                  10000) == 0,
	       "no new generation after a good reload");
	curl_status(url, "451");
	access_logged("/size/10", " rule=second action=deny");
}
END_TEST

static Suite *
rules_proxy_suite(void)
{
	Suite *s = suite_create("rules_proxy");
	TCase *tc = tcase_create("rules_proxy");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, denied_url_block_page);
	tcase_add_test(tc, allowed_url_passes);
	tcase_add_test(tc, status_and_redirect);
	tcase_add_test(tc, default_deny_named);
	tcase_add_test(tc, header_rule);
	tcase_add_test(tc, dst_refused_before_connect);
	tcase_add_test(tc, dst_unresolved_later_rule);
	tcase_add_test(tc, connect_dst_refused);
	tcase_add_test(tc, connect_sni_pending_dst);
	tcase_add_test(tc, connect_denied_host);
	tcase_add_test(tc, sni_mismatch_closes);
	tcase_add_test(tc, sni_match_passes);
	tcase_add_test(tc, sni_same_name_other_spelling);
	tcase_add_test(tc, connect_ip_sni_host_rule);
	tcase_add_test(tc, sni_rule_denies);
	tcase_add_test(tc, sni_missing_denied);
	tcase_add_test(tc, monitor_passes_and_logs);
	tcase_add_test(tc, monitor_then_default);
	tcase_add_test(tc, time_windows);
	tcase_add_test(tc, proxyctl_hits_and_explain);
	tcase_add_test(tc, reload_rules);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(rules_proxy_suite());
}
