/*
 * Reverse proxying end to end: the real proxyd with mode = reverse
 * listeners in front of test origins started with -n (their X-Origin
 * field says which one served), and, where an origin cannot say what is
 * needed, a small fake backend in this process.  Routing (host exact and
 * .suffix, path prefix and regex, file order, listen =, default_backend,
 * 404, strict_host's 421), the head a backend gets (X-Forwarded-*,
 * Forwarded, real-IP fields, trusted proxies, Via), hidden response
 * fields, PROXY protocol in and out, WebSocket upgrades, CONNECT and
 * absolute-form targets, and keep-alive toward the backends.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/harness.h"

#define N_ORIGINS 3
#define SETTLE_MS 5000 /* a counter reaches what the clients saw */
#define CTL_MS 10000   /* one proxyctl run */
#define KEEPALIVE_REQS 100

static struct harness_origin origin[N_ORIGINS];
static struct harness_proxy proxy;
static struct harness_conn conn;
/* "[backend bN]\nserver = 127.0.0.1:PORT\n" for every origin started */
static char backends_cfg[512];

/* The common part of every reverse listener: name, port, mode. */
#define LISTEN(name) \
	"[listen " name "]\naddress = 127.0.0.1:%d\nmode = reverse\n"

/* ---- set-up -------------------------------------------------------- */

/* Origins b1..bn (-n bN) plus extra arguments, and their [backend]s. */
static void
origins_args(int n, const char *const *extra)
{
	const char *args[8];
	char name[16];
	size_t len = 0;
	int i, k;

	backends_cfg[0] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "b%d", i + 1);
		args[0] = "-n";
		args[1] = name;
		for (k = 0; extra != NULL && extra[k] != NULL && k < 5; k++)
			args[2 + k] = extra[k];
		args[2 + k] = NULL;
		HCHECK(harness_origin_start_args(&origin[i], 0, args) == 0,
		       "origin %s did not start", name);
		len += (size_t)snprintf(backends_cfg + len,
		                        sizeof(backends_cfg) - len,
		                        "[backend %s]\nserver = 127.0.0.1:%d\n",
		                        name, origin[i].port);
	}
}

static void
origins(int n)
{
	origins_args(n, NULL);
}

/* Port and file names of proxyd, before its config can be written. */
static void
rp_init(void)
{
	struct harness_config cfg = {0};

	HCHECK(harness_proxy_init(&proxy, "proxyd", &cfg) == 0, "proxyd init");
}

/* Writes [proxyd] (every file in the temp folder) and then fmt, which
 * holds the listeners, backends and routes; starts proxyd. */
static void
rp_start(const char *fmt, ...)
{
	struct harness_config cfg = {0};
	static char body[8192], text[12288];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	HCHECK(n > 0 && (size_t)n < sizeof(body), "config body too long");
	n = snprintf(text, sizeof(text),
	             "# written by tests/integration/check_reverse.c\n"
	             "[proxyd]\nworkers = 2\npid_file = %s\nshm_file = %s\n"
	             "error_log = %s\naccess_log = %s\nlog_level = info\n\n%s",
	             proxy.pid_file, proxy.shm_file, proxy.error_log,
	             proxy.access_log, body);
	HCHECK(n > 0 && (size_t)n < sizeof(text), "config too long");
	cfg.raw = text;
	HCHECK(harness_proxy_write_config(&proxy, &cfg) == 0,
	       "write the config");
	HCHECK(harness_proxy_start(&proxy) == 0, "proxyd did not start:\n%s",
	       text);
}

/* ---- requests ------------------------------------------------------ */

static void
open_conn(int port)
{
	HCHECK(harness_conn_open(&conn, port) == 0, "connect to 127.0.0.1:%d",
	       port);
}

/* Reads one response on conn and checks its status. */
static void
response(struct harness_resp *r, int status, const char *what)
{
	int rc = harness_conn_response(&conn, r, 0, HARNESS_WAIT_MS);

	HCHECK(rc == 0, "%s: no response: %s", what, r->error);
	HCHECK(r->status == status, "%s: status %d, wanted %d; head:\n%s", what,
	       r->status, status, r->head);
}

/* Checks which origin served r: who, or "" for none (proxyd answered). */
static void
served_by(const struct harness_resp *r, const char *who, const char *what)
{
	char v[64];

	if (who[0] == '\0') {
		HCHECK(harness_head_count(r->head, "X-Origin") == 0,
		       "%s: an origin answered, not proxyd:\n%s", what,
		       r->head);
		return;
	}
	HCHECK(harness_head_value(r->head, "X-Origin", v, sizeof(v)) != NULL,
	       "%s: no X-Origin, wanted %s:\n%s", what, who, r->head);
	HCHECK(strcmp(v, who) == 0, "%s: served by %s, wanted %s", what, v,
	       who);
}

/* One request (fmt...) on a fresh connection to port: its status, and
 * which origin served it (who; "" for proxyd itself, NULL: not judged). */
static void
exchange(int port, int status, const char *who, const char *fmt, ...)
{
	struct harness_resp r;
	char req[2048], what[4200];
	va_list ap;
	size_t len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	HCHECK(n > 0 && (size_t)n < sizeof(req), "request too long");
	/* the request line and the next one (Host, mostly) */
	len = strcspn(req, "\r");
	snprintf(what, sizeof(what), "%.*s | %.*s", (int)len, req,
	         req[len] ? (int)strcspn(req + len + 2, "\r") : 0,
	         req[len] ? req + len + 2 : "");
	open_conn(port);
	HCHECK(harness_conn_send(&conn, req, (size_t)n) == 0, "%s: send", what);
	response(&r, status, what);
	if (who != NULL)
		served_by(&r, who, what);
	harness_resp_free(&r);
	harness_conn_close(&conn);
}

/* GET path with Host: host on a fresh connection to the first listener. */
static void
route_get(const char *host, const char *path, int status, const char *who)
{
	exchange(proxy.port, status, who, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	         path, host);
}

/* GET /headers through proxyd on conn (already open): what the backend
 * received, as r->body. */
static void
backend_view(struct harness_resp *r, const char *host, const char *extra)
{
	HCHECK(harness_conn_sendf(&conn,
	                          "GET /headers HTTP/1.1\r\nHost: %s\r\n%s\r\n",
	                          host, extra) == 0,
	       "send GET /headers");
	response(r, 200, "GET /headers");
	HCHECK(r->body != NULL && strstr(r->body, "\r\n\r\n") != NULL,
	       "/headers gave no request head: %s",
	       r->body != NULL ? r->body : "(none)");
}

/* The value of field name in a head; the test fails when it is absent,
 * or when there is more than one. */
static const char *
one_field(const char *head, const char *name, char *v, size_t len)
{
	int n = harness_head_count(head, name);

	HCHECK(n == 1, "%d %s fields in what the backend got:\n%s", n, name,
	       head);
	harness_head_value(head, name, v, len);
	return v;
}

static void
field_is(const char *head, const char *name, const char *want)
{
	char v[512];

	one_field(head, name, v, sizeof(v));
	HCHECK(strcmp(v, want) == 0, "%s: \"%s\", wanted \"%s\":\n%s", name, v,
	       want, head);
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
field_absent(const char *head, const char *name)
{
	HCHECK(harness_head_count(head, name) == 0,
	       "%s should not be there:\n%s", name, head);
}

/* GET /count straight from an origin (not through proxyd). */
static unsigned long
origin_count(const struct harness_origin *o)
{
	struct harness_resp r;
	unsigned long n;

	open_conn(o->port);
	HCHECK(harness_conn_sendf(&conn, "GET /count HTTP/1.1\r\n"
	                                 "Host: 127.0.0.1\r\n\r\n") == 0,
	       "send /count");
	response(&r, 200, "GET /count");
	n = strtoul(r.body, NULL, 10);
	harness_resp_free(&r);
	harness_conn_close(&conn);
	return n;
}

/* ---- counters ------------------------------------------------------ */

/* totals.name from `proxyctl -s SHM stats --json`, or -1. */
static long long
counter(const char *name)
{
	const char *bin = getenv("PROXYCTL_BIN");
	const char *argv[] = {bin != NULL && bin[0] ? bin : "build/proxyctl",
	                      "-s",
	                      proxy.shm_file,
	                      "stats",
	                      "--json",
	                      NULL};
	struct harness_run r = {.argv = argv, .timeout_ms = CTL_MS};
	char pat[96];
	const char *p;
	long long v = -1;

	harness_run(&r);
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	if (r.code == 0 && r.out != NULL &&
	    (p = strstr(r.out, "\"totals\":{")) != NULL &&
	    (p = strstr(p, pat)) != NULL)
		v = strtoll(p + strlen(pat), NULL, 10);
	harness_run_free(&r);
	return v;
}

/* Waits (bounded) for totals.name to reach want; returns the last value. */
static long long
counter_wait(const char *name, long long want)
{
	int64_t deadline = harness_now_ms() + SETTLE_MS;
	long long v;

	while ((v = counter(name)) < want && harness_now_ms() < deadline)
		harness_sleep_ms(50);
	return v;
}

/* ---- a fake backend ------------------------------------------------ */

/* For what the origin cannot do: answers every request head on every
 * connection with one fixed response, counts connections and requests,
 * and keeps the last head it got.  A thread of the test process; it dies
 * with it. */
#define FAKE_CONNS 32
#define FAKE_BUF 16384

struct fake {
	int fd;
	int port;
	const char *resp;
	atomic_int accepts;
	atomic_int requests;
	pthread_mutex_t mu;
	char head[FAKE_BUF];
};

static struct fake fake = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

static void
fake_heads(struct fake *f, int fd, char *buf, size_t *len)
{
	char *end;
	size_t n;

	while ((end = memmem(buf, *len, "\r\n\r\n", 4)) != NULL) {
		n = (size_t)(end + 4 - buf);
		pthread_mutex_lock(&f->mu);
		memcpy(f->head, buf, n);
		f->head[n] = '\0';
		pthread_mutex_unlock(&f->mu);
		atomic_fetch_add(&f->requests, 1);
		if (write(fd, f->resp, strlen(f->resp)) < 0)
			return;
		memmove(buf, buf + n, *len - n);
		*len -= n;
	}
}

static void *
fake_loop(void *arg)
{
	static char buf[FAKE_CONNS][FAKE_BUF];
	static size_t len[FAKE_CONNS];
	struct fake *f = arg;
	struct pollfd pfd[FAKE_CONNS + 1];
	struct timeval tv = {5, 0};
	ssize_t k;
	int i, fd;

	pfd[0] = (struct pollfd){f->fd, POLLIN, 0};
	for (i = 1; i <= FAKE_CONNS; i++)
		pfd[i] = (struct pollfd){-1, POLLIN, 0};
	for (;;) {
		if (poll(pfd, FAKE_CONNS + 1, 1000) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			fd = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
			for (i = 1; fd >= 0 && i <= FAKE_CONNS; i++)
				if (pfd[i].fd < 0)
					break;
			if (fd >= 0 && i > FAKE_CONNS) {
				close(fd);
			} else if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				           sizeof(tv));
				pfd[i].fd = fd;
				len[i - 1] = 0;
				atomic_fetch_add(&f->accepts, 1);
			}
		}
		for (i = 1; i <= FAKE_CONNS; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			k = read(pfd[i].fd, buf[i - 1] + len[i - 1],
			         FAKE_BUF - 1 - len[i - 1]);
			if (k <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			len[i - 1] += (size_t)k;
			fake_heads(f, pfd[i].fd, buf[i - 1], &len[i - 1]);
		}
	}
	return NULL;
}

static void
fake_start(const char *resp)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	pthread_t t;

	fake.resp = resp;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	HCHECK(fake.fd >= 0 &&
	               bind(fake.fd, (struct sockaddr *)&a, alen) == 0 &&
	               listen(fake.fd, 64) == 0 &&
	               getsockname(fake.fd, (struct sockaddr *)&a, &alen) == 0,
	       "fake backend: %s", strerror(errno));
	fake.port = ntohs(a.sin_port);
	HCHECK(pthread_create(&t, NULL, fake_loop, &fake) == 0,
	       "fake backend thread");
	pthread_detach(t);
}

/* A copy of the last request head the fake backend got. */
static void
fake_last_head(char *out, size_t len)
{
	pthread_mutex_lock(&fake.mu);
	snprintf(out, len, "%s", fake.head);
	pthread_mutex_unlock(&fake.mu);
}

/* ---- 1. routing ---------------------------------------------------- */

START_TEST(route_host_exact)
{
	origins(3);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b3\n%s"
	                       "[route a]\nhost = a.test\nbackend = b1\n"
	                       "[route b]\nhost = b.test\nbackend = b2\n"
	                       "[route up]\nhost = Up.Test\nbackend = b2\n"
	                       "[route ip]\nhost = 127.0.0.1\nbackend = b1\n",
	         proxy.port, backends_cfg);
	route_get("a.test", "/whoami", 200, "b1");
	route_get("b.test", "/whoami", 200, "b2");
	route_get("up.test", "/whoami", 200, "b2");
	route_get("127.0.0.1:8080", "/whoami", 200, "b1");
	route_get("127.0.0.10", "/whoami", 200, "b3");
	/* case and port do not matter; a subdomain is another name */
	route_get("A.Test:8080", "/whoami", 200, "b1");
	route_get("x.a.test", "/whoami", 200, "b3");
	route_get("c.test", "/whoami", 200, "b3");
	route_get("a.tes", "/whoami", 200, "b3");
}
END_TEST

/* An IPv6 literal is bracketed in Host; the config takes it bracketed
 * too (and bare), and both must name the same host. */
START_TEST(route_host_ipv6_literal)
{
	origins(3);
	rp_init();
	rp_start(
	        LISTEN("web") "default_backend = b3\n%s"
	                      "[route v6]\nhost = [2001:db8::1]\nbackend = b1\n"
	                      "[route v6b]\nhost = 2001:db8::2\nbackend = b2\n",
	        proxy.port, backends_cfg);
	route_get("[2001:db8::2]:8080", "/whoami", 200, "b2");
	route_get("[2001:db8::1]", "/whoami", 200, "b1");
	route_get("[2001:db8::1]:8080", "/whoami", 200, "b1");
}
END_TEST

START_TEST(route_host_suffix)
{
	origins(2);
	rp_init();
	rp_start(
	        LISTEN("web") "default_backend = b2\n%s"
	                      "[route ex]\nhost = .example.com\nbackend = b1\n",
	        proxy.port, backends_cfg);
	route_get("example.com", "/whoami", 200, "b1");
	route_get("www.example.com", "/whoami", 200, "b1");
	route_get("a.b.example.com:81", "/whoami", 200, "b1");
	route_get("evilexample.com", "/whoami", 200, "b2");
	route_get("example.com.evil", "/whoami", 200, "b2");
	route_get("xample.com", "/whoami", 200, "b2");
}
END_TEST

/* The origin's /size/N answers any N: prefixes of its path tell the
 * routes apart while every origin still answers. */
START_TEST(route_path_prefix)
{
	origins(3);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b3\n%s"
	                       "[route one]\nhost = a.test\npath = /size/1\n"
	                       "backend = b1\n"
	                       "[route a]\nhost = a.test\nbackend = b2\n",
	         proxy.port, backends_cfg);
	route_get("a.test", "/size/1", 200, "b1");
	route_get("a.test", "/size/15", 200, "b1");
	route_get("a.test", "/size/1?x", 200, "b1");
	route_get("a.test", "/size/21", 200, "b2");
	route_get("a.test", "/whoami", 200, "b2");
	/* the path alone is not enough when the host differs */
	route_get("b.test", "/size/15", 200, "b3");
}
END_TEST

START_TEST(route_path_regex)
{
	origins(2);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b2\n%s"
	                       "[route re]\npath_regex = ^/size/[0-9]*5$\n"
	                       "backend = b1\n"
	                       "[route q]\npath_regex = "
	                       "[?&]img=[0-9]+\\.(png|jpg)$\n"
	                       "backend = b1\n",
	         proxy.port, backends_cfg);
	route_get("r.test", "/size/5", 200, "b1");
	route_get("r.test", "/size/125", 200, "b1");
	route_get("r.test", "/size/126", 200, "b2");
	route_get("r.test", "/size/125?x", 200, "b2");
	/* the pattern sees the query too */
	route_get("r.test", "/whoami?img=12.png", 200, "b1");
	route_get("r.test", "/whoami?a=1&img=7.jpg", 200, "b1");
	route_get("r.test", "/whoami?img=7.gif", 200, "b2");
	route_get("r.test", "/whoami?img=x.png", 200, "b2");
}
END_TEST

START_TEST(route_first_match_in_file_order)
{
	origins(3);
	rp_init();
	/* the longer prefix and the host come later: file order, not the
	 * most specific route, decides */
	rp_start(LISTEN("web") "%s"
	                       "[route short]\npath = /size/1\nbackend = b1\n"
	                       "[route long]\npath = /size/12\nbackend = b2\n"
	                       "[route host]\nhost = h.test\nbackend = b3\n"
	                       "[route rest]\npath = /\nbackend = b2\n",
	         proxy.port, backends_cfg);
	route_get("x.test", "/size/123", 200, "b1");
	route_get("h.test", "/size/123", 200, "b1");
	route_get("h.test", "/size/2", 200, "b3");
	route_get("x.test", "/size/2", 200, "b2");
}
END_TEST

START_TEST(route_listen_restriction)
{
	int alt;

	origins(3);
	rp_init();
	alt = harness_free_port();
	HCHECK(alt > 0 && alt != proxy.port, "no second port");
	rp_start(LISTEN("web") "\n" LISTEN(
	                 "alt") "default_backend = b3\n%s"
	                        "[route only_alt]\nlisten = alt\n"
	                        "path = /\nbackend = b2\n"
	                        "[route all]\nbackend = b1\n",
	         proxy.port, alt, backends_cfg);
	HCHECK(harness_wait_port(alt, 5000) == 0, "alt listener not up");
	route_get("x.test", "/whoami", 200, "b1");
	exchange(alt, 200, "b2",
	         "GET /whoami HTTP/1.1\r\nHost: x.test\r\n\r\n");
}
END_TEST

START_TEST(route_listen_restriction_default)
{
	int alt;

	origins(3);
	rp_init();
	alt = harness_free_port();
	HCHECK(alt > 0 && alt != proxy.port, "no second port");
	/* a route of another listener is not taken: the default is */
	rp_start(LISTEN("web") "default_backend = b1\n\n" LISTEN(
	                 "alt") "default_backend = b3\n%s"
	                        "[route only_alt]\nlisten = alt\n"
	                        "host = a.test\nbackend = b2\n",
	         proxy.port, alt, backends_cfg);
	HCHECK(harness_wait_port(alt, 5000) == 0, "alt listener not up");
	route_get("a.test", "/whoami", 200, "b1");
	exchange(alt, 200, "b2",
	         "GET /whoami HTTP/1.1\r\nHost: a.test\r\n\r\n");
	exchange(alt, 200, "b3",
	         "GET /whoami HTTP/1.1\r\nHost: z.test\r\n\r\n");
}
END_TEST

START_TEST(route_no_match_404)
{
	long long misses;

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "%s[route a]\nhost = a.test\nbackend = b1\n",
	         proxy.port, backends_cfg);
	route_get("a.test", "/whoami", 200, "b1");
	route_get("z.test", "/whoami", 404, "");
	route_get("x.a.test", "/whoami", 404, "");
	HCHECK(origin_count(&origin[0]) == 1,
	       "the origin got more than the routed request");
	misses = counter_wait("route_misses", 2);
	HCHECK(misses == 2, "route_misses %lld, wanted 2", misses);
}
END_TEST

START_TEST(strict_host_421)
{
	origins(3);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b3\nstrict_host = on\n%s"
	                       "[route a]\nhost = a.test\nbackend = b1\n"
	                       "[route b]\nhost = .b.test\nbackend = b2\n"
	                       "[route p]\npath = /size/7\nbackend = b3\n",
	         proxy.port, backends_cfg);
	route_get("unknown.test", "/whoami", 421, "");
	/* a path-only route names no host */
	route_get("unknown.test", "/size/7", 421, "");
	route_get("a.test", "/whoami", 200, "b1");
	route_get("b.test", "/whoami", 200, "b2");
	route_get("x.b.test:8080", "/whoami", 200, "b2");
	HCHECK(origin_count(&origin[2]) == 0,
	       "the default backend served an unknown host");
}
END_TEST

/* ---- 2. what the backend gets ------------------------------------- */

/* One origin behind listener web with the extra listener lines. */
static void
one_backend(const char *listen_extra)
{
	origins(1);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%s\n%s", proxy.port,
	         listen_extra, backends_cfg);
	open_conn(proxy.port);
}

START_TEST(headers_defaults)
{
	struct harness_resp r;

	one_backend("");
	backend_view(&r, "site.test:8080", "X-Kept: yes\r\n");
	HCHECK(starts_with(r.body, "GET /headers HTTP/1.1\r\n"),
	       "the target changed:\n%s", r.body);
	field_is(r.body, "Host", "site.test:8080");
	field_is(r.body, "X-Forwarded-For", "127.0.0.1");
	field_is(r.body, "X-Forwarded-Proto", "http");
	field_is(r.body, "X-Forwarded-Host", "site.test:8080");
	field_is(r.body, "X-Kept", "yes");
	field_absent(r.body, "Forwarded");
	field_absent(r.body, "X-Real-IP");
	field_absent(r.body, "True-Client-IP");
	HCHECK(harness_head_count(r.body, "Via") == 1 &&
	               strstr(r.body, "(proxyd)") != NULL,
	       "no Via naming proxyd toward the backend:\n%s", r.body);
	harness_resp_free(&r);
}
END_TEST

/* Target and Host as the client wrote them: the fake backend shows the
 * request line, which the origin's /headers only has for /headers. */
START_TEST(headers_target_and_host_as_sent)
{
	static const char resp[] =
	        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	static char head[FAKE_BUF];

	fake_start(resp);
	rp_init();
	rp_start(LISTEN("web") "default_backend = fake\n"
	                       "[backend fake]\nserver = 127.0.0.1:%d\n",
	         proxy.port, fake.port);
	exchange(proxy.port, 200, NULL,
	         "GET /p/a%%20b/c;x=1?q=1&r=%%2F&s=a+b HTTP/1.1\r\n"
	         "Host: Site.Example:8080\r\n\r\n");
	fake_last_head(head, sizeof(head));
	HCHECK(starts_with(head,
	                   "GET /p/a%20b/c;x=1?q=1&r=%2F&s=a+b HTTP/1.1\r\n"),
	       "the target changed:\n%s", head);
	field_is(head, "Host", "Site.Example:8080");
	field_is(head, "X-Forwarded-Host", "Site.Example:8080");
	exchange(proxy.port, 200, NULL,
	         "POST /form?x HTTP/1.1\r\nHost: site.example\r\n"
	         "Content-Length: 0\r\n\r\n");
	fake_last_head(head, sizeof(head));
	HCHECK(starts_with(head, "POST /form?x HTTP/1.1\r\n"),
	       "the method or target changed:\n%s", head);
	/* absolute-form without a path: "/" and the query */
	exchange(proxy.port, 200, NULL,
	         "GET http://site.example?x=1 HTTP/1.1\r\nHost: "
	         "site.example\r\n\r\n");
	fake_last_head(head, sizeof(head));
	HCHECK(starts_with(head, "GET /?x=1 HTTP/1.1\r\n"),
	       "absolute-form target not made origin-form:\n%s", head);
}
END_TEST

START_TEST(headers_untrusted_forwarding_fields_replaced)
{
	struct harness_resp r;

	one_backend("");
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 6.6.6.6\r\n"
	             "X-Forwarded-For: 7.7.7.7, 8.8.8.8\r\n"
	             "X-Forwarded-Proto: https\r\n"
	             "X-Forwarded-Host: evil.test\r\n"
	             "X-Real-IP: 6.6.6.6\r\n"
	             "True-Client-IP: 6.6.6.6\r\n"
	             "Forwarded: for=6.6.6.6;proto=https\r\n");
	field_is(r.body, "X-Forwarded-For", "127.0.0.1");
	field_is(r.body, "X-Forwarded-Proto", "http");
	field_is(r.body, "X-Forwarded-Host", "site.test");
	field_absent(r.body, "X-Real-IP");
	field_absent(r.body, "True-Client-IP");
	field_absent(r.body, "Forwarded");
	HCHECK(strstr(r.body, "6.6.6.6") == NULL,
	       "the client's claimed address reached the backend:\n%s", r.body);
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_trusted_xff_kept)
{
	struct harness_resp r;

	one_backend("trusted_proxies = 127.0.0.0/8\n");
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 203.0.113.9, 10.1.2.3\r\n");
	field_is(r.body, "X-Forwarded-For", "203.0.113.9, 10.1.2.3, 127.0.0.1");
	harness_resp_free(&r);
	/* two fields: one list, in order */
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 203.0.113.9\r\n"
	             "X-Forwarded-For: 10.1.2.3\r\n");
	field_is(r.body, "X-Forwarded-For", "203.0.113.9, 10.1.2.3, 127.0.0.1");
	harness_resp_free(&r);
	/* none: ours alone */
	backend_view(&r, "site.test", "");
	field_is(r.body, "X-Forwarded-For", "127.0.0.1");
	harness_resp_free(&r);
	/* a trusted proxy's protocol and host are believed */
	backend_view(&r, "site.test",
	             "X-Forwarded-Proto: https\r\n"
	             "X-Forwarded-Host: public.example\r\n");
	field_is(r.body, "X-Forwarded-Proto", "https");
	field_is(r.body, "X-Forwarded-Host", "public.example");
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_forwarded_rfc7239)
{
	struct harness_resp r;

	one_backend("forwarded = on\n");
	backend_view(&r, "site.test:8080", "Forwarded: for=6.6.6.6\r\n");
	field_is(r.body, "Forwarded",
	         "for=127.0.0.1;proto=http;host=\"site.test:8080\"");
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_real_ip_untrusted)
{
	struct harness_resp r;

	one_backend("real_ip_header = x-real-ip\n");
	backend_view(&r, "site.test",
	             "X-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n");
	field_is(r.body, "X-Real-IP", "127.0.0.1");
	field_absent(r.body, "True-Client-IP");
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_true_client_ip)
{
	struct harness_resp r;

	one_backend("real_ip_header = true-client-ip\n");
	backend_view(&r, "site.test",
	             "True-Client-IP: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n");
	field_is(r.body, "True-Client-IP", "127.0.0.1");
	field_absent(r.body, "X-Real-IP");
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_real_ip_trusted_rightmost_untrusted)
{
	struct harness_resp r;

	one_backend("trusted_proxies = 127.0.0.0/8\n"
	            "real_ip_header = x-real-ip\n");
	/* from the right: 127.0.0.5 is a trusted hop, 198.51.100.1 is not */
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 203.0.113.9,198.51.100.1,127.0.0.5\r\n");
	field_is(r.body, "X-Real-IP", "198.51.100.1");
	harness_resp_free(&r);
	/* the same list as proxies write it, ", " between the items */
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 203.0.113.9, 198.51.100.1, 127.0.0.5\r\n"
	             "X-Real-IP: 6.6.6.6\r\n");
	field_is(r.body, "X-Real-IP", "198.51.100.1");
	field_is(r.body, "X-Forwarded-For",
	         "203.0.113.9, 198.51.100.1, 127.0.0.5, 127.0.0.1");
	harness_resp_free(&r);
	/* across fields too */
	backend_view(&r, "site.test",
	             "X-Forwarded-For: 203.0.113.9\r\n"
	             "X-Forwarded-For: 127.0.0.7, 127.0.0.5\r\n");
	field_is(r.body, "X-Real-IP", "203.0.113.9");
	harness_resp_free(&r);
	/* without an XFF, the peer */
	backend_view(&r, "site.test", "");
	field_is(r.body, "X-Real-IP", "127.0.0.1");
	harness_resp_free(&r);
}
END_TEST

START_TEST(headers_via_loop_detected)
{
	struct harness_resp r;
	char via[256], extra[300];

	one_backend("");
	backend_view(&r, "site.test", "");
	one_field(r.body, "Via", via, sizeof(via));
	harness_resp_free(&r);
	/* our own Via coming back is a loop, not a request to forward */
	snprintf(extra, sizeof(extra), "Via: %s\r\n", via);
	HCHECK(harness_conn_sendf(&conn,
	                          "GET /whoami HTTP/1.1\r\nHost: site.test\r\n"
	                          "%s\r\n",
	                          extra) == 0,
	       "send");
	response(&r, 508, "GET with our Via");
	served_by(&r, "", "GET with our Via");
	harness_resp_free(&r);
	harness_conn_close(&conn);
	HCHECK(origin_count(&origin[0]) == 1,
	       "the looped request reached the backend");
}
END_TEST

/* ---- 3. the response ---------------------------------------------- */

static const char tell_all[] =
        "HTTP/1.1 200 OK\r\nServer: secret\r\nX-Powered-By: php\r\n"
        "X-Other: kept\r\nContent-Length: 3\r\n\r\nok\n";

/* The fake backend behind listener web with the extra lines; one GET. */
static void
hide_case(const char *listen_extra, struct harness_resp *r)
{
	fake_start(tell_all);
	rp_init();
	rp_start(LISTEN("web") "default_backend = fake\n%s"
	                       "[backend fake]\nserver = 127.0.0.1:%d\n",
	         proxy.port, listen_extra, fake.port);
	open_conn(proxy.port);
	HCHECK(harness_conn_sendf(
	               &conn, "GET / HTTP/1.1\r\nHost: h.test\r\n\r\n") == 0,
	       "send");
	response(r, 200, "GET /");
	HCHECK(r->body_len == 3 && memcmp(r->body, "ok\n", 3) == 0,
	       "body changed");
}

START_TEST(response_hide_default)
{
	struct harness_resp r;

	hide_case("", &r);
	field_absent(r.head, "Server");
	field_absent(r.head, "X-Powered-By");
	field_is(r.head, "X-Other", "kept");
	field_absent(r.head, "Via");
	harness_resp_free(&r);
}
END_TEST

START_TEST(response_hide_off)
{
	struct harness_resp r;

	hide_case("hide_headers = off\n", &r);
	field_is(r.head, "Server", "secret");
	field_is(r.head, "X-Powered-By", "php");
	field_is(r.head, "X-Other", "kept");
	field_absent(r.head, "Via");
	harness_resp_free(&r);
}
END_TEST

START_TEST(response_hide_list)
{
	struct harness_resp r;

	hide_case("hide_headers = x-other, X-POWERED-BY\n", &r);
	field_is(r.head, "Server", "secret");
	field_absent(r.head, "X-Powered-By");
	field_absent(r.head, "X-Other");
	harness_resp_free(&r);
}
END_TEST

START_TEST(response_origin_server_hidden)
{
	struct harness_resp r;

	one_backend("");
	HCHECK(harness_conn_sendf(&conn, "GET /size/100 HTTP/1.1\r\n"
	                                 "Host: h.test\r\n\r\n") == 0,
	       "send");
	response(&r, 200, "GET /size/100");
	HCHECK(r.body_total == 100 &&
	               harness_pattern_check(r.body, r.body_len, 0) == 0,
	       "body differs from the origin's pattern");
	field_absent(r.head, "Server");
	field_absent(r.head, "Via");
	harness_resp_free(&r);
}
END_TEST

/* ---- 4. PROXY protocol in ----------------------------------------- */

/* A v2 PROXY header for TCP over IPv4 (or LOCAL) into out; its length. */
static size_t
pp_v2(unsigned char *out, int local, const char *src, unsigned sport,
      const char *dst, unsigned dport)
{
	static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a,
	                                      0x00, 0x0d, 0x0a, 0x51,
	                                      0x55, 0x49, 0x54, 0x0a};
	struct in_addr s, d;

	memcpy(out, sig, 12);
	out[12] = local ? 0x20 : 0x21;
	out[13] = local ? 0x00 : 0x11;
	out[14] = 0;
	out[15] = local ? 0 : 12;
	if (local)
		return 16;
	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	memcpy(out + 16, &s, 4);
	memcpy(out + 20, &d, 4);
	out[24] = (unsigned char)(sport >> 8);
	out[25] = (unsigned char)sport;
	out[26] = (unsigned char)(dport >> 8);
	out[27] = (unsigned char)dport;
	return 28;
}

static void
pp_listener(void)
{
	one_backend("proxy_protocol = on\n");
}

START_TEST(pp_in_v1)
{
	struct harness_resp r;

	pp_listener();
	HCHECK(harness_conn_sendf(&conn,
	                          "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
	                          "GET /headers HTTP/1.1\r\nHost: pp.test\r\n"
	                          "\r\n") == 0,
	       "send");
	response(&r, 200, "GET /headers after PROXY v1");
	field_is(r.body, "X-Forwarded-For", "203.0.113.7");
	harness_resp_free(&r);
	/* the header holds for the whole connection */
	backend_view(&r, "pp.test", "");
	field_is(r.body, "X-Forwarded-For", "203.0.113.7");
	harness_resp_free(&r);
	HCHECK(counter("proxy_protocol_errors") == 0,
	       "a good header counted as an error");
}
END_TEST

START_TEST(pp_in_v1_split)
{
	struct harness_resp r;

	pp_listener();
	/* a header that arrives in pieces */
	HCHECK(harness_conn_sendf(&conn, "PROXY TCP4 203.0.") == 0, "send");
	harness_sleep_ms(100);
	HCHECK(harness_conn_sendf(&conn, "113.7 127.0.0.1 5555 80\r") == 0,
	       "send");
	harness_sleep_ms(100);
	HCHECK(harness_conn_sendf(&conn, "\nGET /headers HTTP/1.1\r\n") == 0,
	       "send");
	harness_sleep_ms(100);
	HCHECK(harness_conn_sendf(&conn, "Host: pp.test\r\n\r\n") == 0, "send");
	response(&r, 200, "GET /headers after a split PROXY v1");
	field_is(r.body, "X-Forwarded-For", "203.0.113.7");
	harness_resp_free(&r);
}
END_TEST

START_TEST(pp_in_v2)
{
	struct harness_resp r;
	unsigned char hdr[64];
	size_t n;

	pp_listener();
	n = pp_v2(hdr, 0, "203.0.113.8", 4444, "127.0.0.1", 80);
	HCHECK(harness_conn_send(&conn, hdr, n) == 0, "send");
	backend_view(&r, "pp.test", "X-Forwarded-For: 6.6.6.6\r\n");
	field_is(r.body, "X-Forwarded-For", "203.0.113.8");
	harness_resp_free(&r);
	backend_view(&r, "pp.test", "");
	field_is(r.body, "X-Forwarded-For", "203.0.113.8");
	harness_resp_free(&r);
	harness_conn_close(&conn);

	/* v1 UNKNOWN: the peer stays the client */
	open_conn(proxy.port);
	HCHECK(harness_conn_sendf(&conn, "PROXY UNKNOWN\r\n") == 0, "send");
	backend_view(&r, "pp.test", "");
	field_is(r.body, "X-Forwarded-For", "127.0.0.1");
	harness_resp_free(&r);
	harness_conn_close(&conn);

	/* LOCAL (a balancer's own check): the peer stays the client */
	open_conn(proxy.port);
	n = pp_v2(hdr, 1, NULL, 0, NULL, 0);
	HCHECK(harness_conn_send(&conn, hdr, n) == 0, "send");
	backend_view(&r, "pp.test", "");
	field_is(r.body, "X-Forwarded-For", "127.0.0.1");
	harness_resp_free(&r);
}
END_TEST

/* The address of the PROXY header is the peer that trusted_proxies
 * judges: a trusted balancer's X-Forwarded-For is believed. */
START_TEST(pp_in_trusted)
{
	struct harness_resp r;

	one_backend("proxy_protocol = on\ntrusted_proxies = 10.0.0.0/8\n"
	            "real_ip_header = x-real-ip\n");
	HCHECK(harness_conn_sendf(
	               &conn, "PROXY TCP4 10.1.1.1 127.0.0.1 5555 80\r\n") == 0,
	       "send");
	backend_view(&r, "pp.test", "X-Forwarded-For: 198.51.100.7\r\n");
	field_is(r.body, "X-Forwarded-For", "198.51.100.7, 10.1.1.1");
	field_is(r.body, "X-Real-IP", "198.51.100.7");
	harness_resp_free(&r);
	harness_conn_close(&conn);
	/* an untrusted one's is replaced */
	open_conn(proxy.port);
	HCHECK(harness_conn_sendf(
	               &conn, "PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n") ==
	               0,
	       "send");
	backend_view(&r, "pp.test", "X-Forwarded-For: 198.51.100.7\r\n");
	field_is(r.body, "X-Forwarded-For", "192.0.2.1");
	field_is(r.body, "X-Real-IP", "192.0.2.1");
	harness_resp_free(&r);
}
END_TEST

START_TEST(pp_in_missing_closed)
{
	static char rest[4096];
	long long errs;
	ssize_t n;

	pp_listener();
	HCHECK(harness_conn_sendf(&conn, "GET /headers HTTP/1.1\r\n"
	                                 "Host: pp.test\r\n\r\n") == 0,
	       "send");
	n = harness_conn_read_all(&conn, rest, sizeof(rest), HARNESS_WAIT_MS);
	HCHECK(n == 0,
	       "a connection without a PROXY header got %zd bytes "
	       "(or was not closed): %s",
	       n, n > 0 ? rest : "");
	harness_conn_close(&conn);
	/* a bad header the same */
	open_conn(proxy.port);
	HCHECK(harness_conn_sendf(&conn,
	                          "PROXY TCP4 not-an-ip 127.0.0.1 1 2\r\n"
	                          "GET /headers HTTP/1.1\r\nHost: pp.test\r\n"
	                          "\r\n") == 0,
	       "send");
	n = harness_conn_read_all(&conn, rest, sizeof(rest), HARNESS_WAIT_MS);
	HCHECK(n == 0,
	       "a connection with a bad PROXY header got %zd bytes "
	       "(or was not closed): %s",
	       n, n > 0 ? rest : "");
	harness_conn_close(&conn);
	errs = counter_wait("proxy_protocol_errors", 2);
	HCHECK(errs == 2, "proxy_protocol_errors %lld, wanted 2", errs);
	HCHECK(origin_count(&origin[0]) == 0,
	       "a request without a PROXY header reached the backend");
}
END_TEST

/* ---- 5. PROXY protocol out ---------------------------------------- */

static int
local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	HCHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0,
	       "getsockname");
	return ntohs(a.sin_port);
}

/* GET /proxy on conn: the origin's "src=... dst=..." line. */
static void
proxy_said(char *out, size_t len)
{
	struct harness_resp r;

	HCHECK(harness_conn_sendf(&conn, "GET /proxy HTTP/1.1\r\n"
	                                 "Host: pp.test\r\n\r\n") == 0,
	       "send");
	response(&r, 200, "GET /proxy");
	snprintf(out, len, "%.*s", (int)strcspn(r.body, "\n"), r.body);
	harness_resp_free(&r);
}

static void
send_proxy_case(const char *version)
{
	static const char *const dash_p[] = {"-P", NULL};
	char got[128], want[128];
	int port;

	origins_args(1, dash_p);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%ssend_proxy = %s\n",
	         proxy.port, backends_cfg, version);
	open_conn(proxy.port);
	port = local_port(conn.fd);
	proxy_said(got, sizeof(got));
	snprintf(want, sizeof(want), "src=127.0.0.1:%d dst=127.0.0.1:%d", port,
	         origin[0].port);
	HCHECK(strcmp(got, want) == 0,
	       "send_proxy = %s: origin saw \"%s\", "
	       "wanted \"%s\"",
	       version, got, want);
	/* the same client again, on the same upstream connection or not */
	proxy_said(got, sizeof(got));
	HCHECK(strcmp(got, want) == 0, "second request: \"%s\", wanted \"%s\"",
	       got, want);
}

START_TEST(pp_out_v1)
{
	send_proxy_case("v1");
}
END_TEST

START_TEST(pp_out_v2)
{
	send_proxy_case("v2");
}
END_TEST

/* A pooled connection told the server who the client was: another
 * client must not be sent over it. */
START_TEST(pp_out_not_shared)
{
	static const char *const dash_p[] = {"-P", NULL};
	static struct harness_conn other;
	char got[128], want[128];
	int port;

	origins_args(1, dash_p);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%ssend_proxy = v1\n",
	         proxy.port, backends_cfg);
	for (int i = 0; i < 4; i++) {
		open_conn(proxy.port);
		port = local_port(conn.fd);
		proxy_said(got, sizeof(got));
		snprintf(want, sizeof(want), "src=127.0.0.1:%d dst=", port);
		HCHECK(strncmp(got, want, strlen(want)) == 0,
		       "client %d: origin saw \"%s\", wanted \"%s...\"", i, got,
		       want);
		/* keep the first connection open while the others run */
		if (i == 0) {
			other = conn;
			conn.fd = -1;
		} else {
			harness_conn_close(&conn);
		}
	}
	/* and the first is still itself */
	conn = other;
	proxy_said(got, sizeof(got));
	HCHECK(strncmp(got, "src=127.0.0.1:", 14) == 0 &&
	               atoi(got + 14) == local_port(conn.fd),
	       "first client again: origin saw \"%s\"", got);
}
END_TEST

START_TEST(pp_in_to_out)
{
	static const char *const dash_p[] = {"-P", NULL};
	char got[128];

	origins_args(1, dash_p);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\nproxy_protocol = on\n"
	                       "%ssend_proxy = v2\n",
	         proxy.port, backends_cfg);
	open_conn(proxy.port);
	HCHECK(harness_conn_sendf(
	               &conn, "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n") ==
	               0,
	       "send");
	proxy_said(got, sizeof(got));
	HCHECK(strncmp(got, "src=203.0.113.7:5555 ", 21) == 0,
	       "the backend's PROXY header said \"%s\", wanted "
	       "src=203.0.113.7:5555",
	       got);
}
END_TEST

/* ---- 6. WebSocket -------------------------------------------------- */

START_TEST(ws_echo_default_backend)
{
	char err[512];
	long long n;

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%s", proxy.port,
	         backends_cfg);
	HCHECK(harness_ws_echo(proxy.port, "ws.test", "hello through proxyd",
	                       err, sizeof(err)) == 0,
	       "WebSocket echo: %s", err);
	n = counter_wait("backend_upgrades", 1);
	HCHECK(n == 1, "backend_upgrades %lld, wanted 1", n);
}
END_TEST

START_TEST(ws_echo_route)
{
	char err[512];

	origins(2);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b2\n%s"
	                       "[route ws]\nhost = ws.test\nupgrade = "
	                       "websocket\n"
	                       "backend = b1\n",
	         proxy.port, backends_cfg);
	HCHECK(harness_ws_echo(proxy.port, "ws.test", "first", err,
	                       sizeof(err)) == 0,
	       "WebSocket echo: %s", err);
	HCHECK(harness_ws_echo(proxy.port, "ws.test", "second", err,
	                       sizeof(err)) == 0,
	       "WebSocket echo: %s", err);
	HCHECK(origin_count(&origin[0]) == 2 && origin_count(&origin[1]) == 0,
	       "the upgrades did not all go to the route's backend");
}
END_TEST

static const char ws_upgrade_req[] =
        "GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";

START_TEST(ws_101_head)
{
	struct harness_resp r;
	char v[128];

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%s", proxy.port,
	         backends_cfg);
	open_conn(proxy.port);
	HCHECK(harness_conn_send(&conn, ws_upgrade_req,
	                         strlen(ws_upgrade_req)) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 1, HARNESS_WAIT_MS) == 0,
	       "no answer to the upgrade: %s", r.error);
	HCHECK(r.status == 101, "upgrade answered %d:\n%s", r.status, r.head);
	HCHECK(harness_head_value(r.head, "Sec-WebSocket-Accept", v,
	                          sizeof(v)) &&
	               strcmp(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	       "bad Sec-WebSocket-Accept:\n%s", r.head);
	HCHECK(harness_head_value(r.head, "Upgrade", v, sizeof(v)) &&
	               strcasecmp(v, "websocket") == 0,
	       "no Upgrade: websocket:\n%s", r.head);
	served_by(&r, "b1", "101");
	field_absent(r.head, "Server");
	field_absent(r.head, "Via");
	harness_resp_free(&r);
}
END_TEST

START_TEST(ws_upgrade_off)
{
	struct harness_resp r;

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "%s[route ws]\nupgrade = off\nbackend = b1\n",
	         proxy.port, backends_cfg);
	open_conn(proxy.port);
	HCHECK(harness_conn_send(&conn, ws_upgrade_req,
	                         strlen(ws_upgrade_req)) == 0,
	       "send");
	response(&r, 400, "upgrade with upgrade = off");
	served_by(&r, "b1", "upgrade with upgrade = off");
	harness_resp_free(&r);
	/* and the fields did not reach the backend */
	backend_view(&r, "ws.test",
	             "Upgrade: websocket\r\nConnection: Upgrade\r\n");
	field_absent(r.body, "Upgrade");
	HCHECK(!strcasestr(r.body, "connection: upgrade"),
	       "Connection: upgrade reached the backend:\n%s", r.body);
	harness_resp_free(&r);
	HCHECK(counter("backend_upgrades") == 0, "an upgrade was counted");
}
END_TEST

START_TEST(ws_upgrade_other_protocol)
{
	struct harness_resp r;

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "%s[route ws]\nupgrade = websocket\nbackend = "
	                       "b1\n",
	         proxy.port, backends_cfg);
	open_conn(proxy.port);
	/* h2c is not in the list: the backend never hears of it */
	backend_view(&r, "ws.test",
	             "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
	             "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n");
	field_absent(r.body, "Upgrade");
	field_absent(r.body, "HTTP2-Settings");
	harness_resp_free(&r);
}
END_TEST

/* ---- 7. CONNECT and absolute-form -------------------------------- */

START_TEST(connect_501)
{
	origins(1);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%s", proxy.port,
	         backends_cfg);
	exchange(proxy.port, 501, "",
	         "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
	         origin[0].port, origin[0].port);
	HCHECK(origin_count(&origin[0]) == 0, "CONNECT reached the backend");
	/* the listener still serves */
	route_get("x.test", "/whoami", 200, "b1");
}
END_TEST

START_TEST(absolute_form_routed_by_uri_host)
{
	origins(3);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b3\n%s"
	                       "[route a]\nhost = a.test\nbackend = b1\n"
	                       "[route b]\nhost = b.test\nbackend = b2\n"
	                       "[route p]\npath = /size/1\nbackend = b2\n",
	         proxy.port, backends_cfg);
	exchange(proxy.port, 200, "b2",
	         "GET http://b.test/whoami HTTP/1.1\r\nHost: a.test\r\n\r\n");
	exchange(proxy.port, 200, "b1",
	         "GET http://A.TEST:8080/whoami?x HTTP/1.1\r\nHost: "
	         "b.test\r\n\r\n");
	exchange(proxy.port, 200, "b3",
	         "GET http://c.test/whoami HTTP/1.1\r\nHost: a.test\r\n\r\n");
	/* the path comes from the URI too */
	exchange(proxy.port, 200, "b2",
	         "GET http://c.test/size/15 HTTP/1.1\r\nHost: a.test\r\n\r\n");
	exchange(proxy.port, 200, "b3",
	         "GET http://c.test/size/25 HTTP/1.1\r\nHost: a.test\r\n\r\n");
}
END_TEST

/* RFC 9112 3.2: the Host a request carries is the target URI's authority,
 * port included; the backend gets the target in origin-form. */
START_TEST(absolute_form_host_to_backend)
{
	struct harness_resp r;

	one_backend("");
	HCHECK(harness_conn_sendf(&conn,
	                          "GET http://b.test:8080/headers HTTP/1.1\r\n"
	                          "Host: a.test\r\n\r\n") == 0,
	       "send");
	response(&r, 200, "absolute-form GET /headers");
	HCHECK(starts_with(r.body, "GET /headers HTTP/1.1\r\n"),
	       "not origin-form toward the backend:\n%s", r.body);
	field_is(r.body, "Host", "b.test:8080");
	field_is(r.body, "X-Forwarded-Host", "b.test:8080");
	harness_resp_free(&r);
}
END_TEST

/* The same bug seen through an IPv6 literal: without its brackets the
 * Host is not even a valid field value. */
START_TEST(absolute_form_ipv6_host_to_backend)
{
	struct harness_resp r;

	one_backend("");
	HCHECK(harness_conn_sendf(
	               &conn, "GET http://[2001:db8::1]/headers HTTP/1.1\r\n"
	                      "Host: a.test\r\n\r\n") == 0,
	       "send");
	response(&r, 200, "absolute-form GET /headers");
	field_is(r.body, "Host", "[2001:db8::1]");
	harness_resp_free(&r);
}
END_TEST

/* ---- 8. keep-alive ------------------------------------------------- */

START_TEST(keepalive_100_requests)
{
	struct harness_resp r;
	char what[64];
	int i;

	origins(1);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b1\n%s", proxy.port,
	         backends_cfg);
	open_conn(proxy.port);
	for (i = 0; i < KEEPALIVE_REQS; i++) {
		snprintf(what, sizeof(what), "request %d of %d", i + 1,
		         KEEPALIVE_REQS);
		HCHECK(harness_conn_sendf(&conn,
		                          "GET /size/%d HTTP/1.1\r\n"
		                          "Host: ka.test\r\n\r\n",
		                          100 + i) == 0,
		       "%s: send", what);
		response(&r, 200, what);
		HCHECK(r.body_total == (uint64_t)(100 + i) &&
		               harness_pattern_check(r.body, r.body_len, 0) ==
		                       0,
		       "%s: body differs from the pattern", what);
		harness_resp_free(&r);
	}
	harness_conn_close(&conn);
	HCHECK(origin_count(&origin[0]) == KEEPALIVE_REQS,
	       "the origin served %lu requests, wanted %d",
	       origin_count(&origin[0]), KEEPALIVE_REQS);
}
END_TEST

/* Each request of a keep-alive connection is routed on its own: one
 * after the other, and pipelined. */
START_TEST(keepalive_routes_per_request)
{
	static const char *const hosts[] = {"a.test", "b.test", "a.test",
	                                    "c.test", "b.test", "b.test"};
	static const char *const who[] = {"b1", "b2", "b1", "b3", "b2", "b2"};
	struct harness_resp r;
	char req[2048], what[64];
	size_t n = 0;
	unsigned i;

	origins(3);
	rp_init();
	rp_start(LISTEN("web") "default_backend = b3\n%s"
	                       "[route a]\nhost = a.test\nbackend = b1\n"
	                       "[route b]\nhost = b.test\nbackend = b2\n",
	         proxy.port, backends_cfg);
	open_conn(proxy.port);
	for (i = 0; i < 6; i++) {
		snprintf(what, sizeof(what), "request %u (%s)", i + 1,
		         hosts[i]);
		HCHECK(harness_conn_sendf(&conn,
		                          "GET /whoami HTTP/1.1\r\nHost: %s\r\n"
		                          "\r\n",
		                          hosts[i]) == 0,
		       "%s: send", what);
		response(&r, 200, what);
		served_by(&r, who[i], what);
		harness_resp_free(&r);
	}
	for (i = 0; i < 6; i++)
		n += (size_t)snprintf(
		        req + n, sizeof(req) - n,
		        "GET /whoami HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
	HCHECK(harness_conn_send(&conn, req, n) == 0, "send pipelined");
	for (i = 0; i < 6; i++) {
		snprintf(what, sizeof(what), "pipelined request %u (%s)", i + 1,
		         hosts[i]);
		response(&r, 200, what);
		served_by(&r, who[i], what);
		harness_resp_free(&r);
	}
}
END_TEST

START_TEST(keepalive_few_backend_connections)
{
	static const char resp[] =
	        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	struct harness_resp r;
	char what[64];
	int i, accepts;

	fake_start(resp);
	rp_init();
	rp_start(LISTEN("web") "default_backend = fake\n"
	                       "[backend fake]\nserver = 127.0.0.1:%d\n",
	         proxy.port, fake.port);
	open_conn(proxy.port);
	for (i = 0; i < KEEPALIVE_REQS; i++) {
		snprintf(what, sizeof(what), "request %d of %d", i + 1,
		         KEEPALIVE_REQS);
		HCHECK(harness_conn_sendf(&conn,
		                          "GET /k/%d HTTP/1.1\r\n"
		                          "Host: ka.test\r\n\r\n",
		                          i) == 0,
		       "%s: send", what);
		response(&r, 200, what);
		HCHECK(r.body_len == 3 && memcmp(r.body, "ok\n", 3) == 0,
		       "%s: body changed", what);
		harness_resp_free(&r);
	}
	accepts = atomic_load(&fake.accepts);
	HCHECK(atomic_load(&fake.requests) == KEEPALIVE_REQS,
	       "the backend got %d requests, wanted %d",
	       atomic_load(&fake.requests), KEEPALIVE_REQS);
	HCHECK(accepts >= 1 && accepts <= 2,
	       "%d backend connections for %d sequential requests on one "
	       "client connection",
	       accepts, KEEPALIVE_REQS);
}
END_TEST

static Suite *
reverse_suite(void)
{
	Suite *s = suite_create("reverse");
	TCase *route = tcase_create("route");
	TCase *head = tcase_create("head");
	TCase *resp = tcase_create("response");
	TCase *pp = tcase_create("proxy_protocol");
	TCase *ws = tcase_create("websocket");
	TCase *misc = tcase_create("misc");
	TCase *all[] = {route, head, resp, pp, ws, misc};
	unsigned i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], NULL, harness_teardown);
		tcase_set_timeout(all[i], 60);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(route, route_host_exact);
	tcase_add_test(route, route_host_ipv6_literal);
	tcase_add_test(route, route_host_suffix);
	tcase_add_test(route, route_path_prefix);
	tcase_add_test(route, route_path_regex);
	tcase_add_test(route, route_first_match_in_file_order);
	tcase_add_test(route, route_listen_restriction);
	tcase_add_test(route, route_listen_restriction_default);
	tcase_add_test(route, route_no_match_404);
	tcase_add_test(route, strict_host_421);

	tcase_add_test(head, headers_defaults);
	tcase_add_test(head, headers_target_and_host_as_sent);
	tcase_add_test(head, headers_untrusted_forwarding_fields_replaced);
	tcase_add_test(head, headers_trusted_xff_kept);
	tcase_add_test(head, headers_forwarded_rfc7239);
	tcase_add_test(head, headers_real_ip_untrusted);
	tcase_add_test(head, headers_true_client_ip);
	tcase_add_test(head, headers_real_ip_trusted_rightmost_untrusted);
	tcase_add_test(head, headers_via_loop_detected);

	tcase_add_test(resp, response_hide_default);
	tcase_add_test(resp, response_hide_off);
	tcase_add_test(resp, response_hide_list);
	tcase_add_test(resp, response_origin_server_hidden);

	tcase_add_test(pp, pp_in_v1);
	tcase_add_test(pp, pp_in_v1_split);
	tcase_add_test(pp, pp_in_v2);
	tcase_add_test(pp, pp_in_trusted);
	tcase_add_test(pp, pp_in_missing_closed);
	tcase_add_test(pp, pp_out_v1);
	tcase_add_test(pp, pp_out_v2);
	tcase_add_test(pp, pp_out_not_shared);
	tcase_add_test(pp, pp_in_to_out);

	tcase_add_test(ws, ws_echo_default_backend);
	tcase_add_test(ws, ws_echo_route);
	tcase_add_test(ws, ws_101_head);
	tcase_add_test(ws, ws_upgrade_off);
	tcase_add_test(ws, ws_upgrade_other_protocol);

	tcase_add_test(misc, connect_501);
	tcase_add_test(misc, absolute_form_routed_by_uri_host);
	tcase_add_test(misc, absolute_form_host_to_backend);
	tcase_add_test(misc, keepalive_100_requests);
	tcase_add_test(misc, absolute_form_ipv6_host_to_backend);
	tcase_add_test(misc, keepalive_routes_per_request);
	tcase_add_test(misc, keepalive_few_backend_connections);
	return s;
}

int
main(void)
{
	return harness_main(reverse_suite());
}
