/*
 * Log formats end to end.  JSON access lines: the real proxyd writes one
 * line per request (200, an origin's 404, a 502 from a dead port, a
 * CONNECT refused with 403, a hostile User-Agent, a request the parser
 * refuses); every line must pass a strict JSON reader and carry the
 * fields.  Syslog: proxyd, started as a daemon (in the foreground its error
 * log is the terminal), sends RFC 5424 datagrams for both logs to a UDP
 * socket the test holds.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/harness.h"

#define JSON_MAX_FIELDS 40
#define JSON_VAL_MAX 2048
#define LOG_LINES_MAX 32

static struct harness_origin origin;
static struct harness_proxy proxy;

/* ---- a strict reader for one flat JSON object ---------------------- */

/* A value: 's' string (decoded), 'n' number (its text), 't' true,
 * 'f' false, '0' null. */
struct jfield {
	char key[32];
	char type;
	char val[JSON_VAL_MAX];
	size_t len;
};

struct jobj {
	struct jfield f[JSON_MAX_FIELDS];
	int n;
};

struct jreader {
	const char *p;
	const char *why; /* the first error */
};

static int
jfail(struct jreader *r, const char *why)
{
	if (!r->why)
		r->why = why;
	return -1;
}

static void
jspace(struct jreader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int
jhex4(struct jreader *r, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++, r->p++) {
		if (!isxdigit((unsigned char)*r->p))
			return jfail(r, "bad \\u escape");
		*v = *v * 16 +
		     (unsigned)(isdigit((unsigned char)*r->p)
		                        ? *r->p - '0'
		                        : (tolower(*r->p) - 'a' + 10));
	}
	return 0;
}

/* One escape after the backslash; the byte it stands for into *c.  Our
 * lines only escape bytes, so \u above 00ff is refused. */
static int
jescape(struct jreader *r, char *c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k = strchr(from, *r->p);
	unsigned v;

	if (*r->p == 'u') {
		r->p++;
		if (jhex4(r, &v) < 0 || v > 0xff)
			return jfail(r, "\\u escape beyond one byte");
		*c = (char)v;
		return 0;
	}
	if (!*r->p || !k)
		return jfail(r, "unknown escape");
	*c = to[k - from];
	r->p++;
	return 0;
}

static int
jstring(struct jreader *r, char *out, size_t cap, size_t *len)
{
	unsigned char c;
	char b;

	if (*r->p++ != '"')
		return jfail(r, "string expected");
	for (*len = 0; (c = (unsigned char)*r->p) != '"'; (*len)++) {
		if (c < 0x20 || c >= 0x7f)
			return jfail(r, "raw control or non-ASCII byte");
		r->p++;
		b = (char)c;
		if (c == '\\' && jescape(r, &b) < 0)
			return -1;
		if (*len + 1 >= cap)
			return jfail(r, "string too long for the reader");
		out[*len] = b;
	}
	out[*len] = '\0';
	r->p++;
	return 0;
}

static int
jdigits(struct jreader *r)
{
	if (!isdigit((unsigned char)*r->p))
		return jfail(r, "digit expected");
	while (isdigit((unsigned char)*r->p))
		r->p++;
	return 0;
}

/* RFC 8259 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
jnumber(struct jreader *r, struct jfield *f)
{
	const char *start = r->p;

	if (*r->p == '-')
		r->p++;
	if (*r->p == '0')
		r->p++;
	else if (jdigits(r) < 0)
		return -1;
	if (*r->p == '.' && (r->p++, jdigits(r) < 0))
		return -1;
	if (*r->p == 'e' || *r->p == 'E') {
		r->p++;
		if (*r->p == '+' || *r->p == '-')
			r->p++;
		if (jdigits(r) < 0)
			return -1;
	}
	f->len = (size_t)(r->p - start);
	snprintf(f->val, sizeof(f->val), "%.*s", (int)f->len, start);
	return 0;
}

static int
jvalue(struct jreader *r, struct jfield *f)
{
	static const char *const words[] = {"true", "false", "null"};
	int i;

	f->type = *r->p == '"' ? 's' : 'n';
	if (*r->p == '"')
		return jstring(r, f->val, sizeof(f->val), &f->len);
	if (*r->p == '-' || isdigit((unsigned char)*r->p))
		return jnumber(r, f);
	for (i = 0; i < 3; i++)
		if (strncmp(r->p, words[i], strlen(words[i])) == 0) {
			f->type = "tf0"[i];
			r->p += strlen(words[i]);
			return 0;
		}
	return jfail(r, "value expected (nesting is not expected here)");
}

static int
jmember(struct jreader *r, struct jobj *o)
{
	struct jfield *f = &o->f[o->n];
	size_t len;
	int i;

	if (o->n == JSON_MAX_FIELDS)
		return jfail(r, "too many members");
	jspace(r);
	if (jstring(r, f->key, sizeof(f->key), &len) < 0)
		return -1;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->f[i].key, f->key) == 0)
			return jfail(r, "duplicate key");
	jspace(r);
	if (*r->p++ != ':')
		return jfail(r, "':' expected");
	jspace(r);
	if (jvalue(r, f) < 0)
		return -1;
	o->n++;
	jspace(r);
	return 0;
}

/* 0 when line is exactly one JSON object of scalars; else -1, *why set. */
static int
json_parse(const char *line, struct jobj *o, const char **why)
{
	struct jreader r = {line, NULL};

	o->n = 0;
	jspace(&r);
	if (*r.p++ != '{')
		return *why = "'{' expected", -1;
	jspace(&r);
	if (*r.p == '}')
		r.p++;
	else
		for (;;) {
			if (jmember(&r, o) < 0)
				return *why = r.why, -1;
			if (*r.p == '}' && r.p++)
				break;
			if (*r.p++ != ',')
				return *why = "',' or '}' expected", -1;
		}
	jspace(&r);
	if (*r.p)
		return *why = "bytes after the object", -1;
	return 0;
}

/* ---- field checks -------------------------------------------------- */

static const struct jfield *
jget(const struct jobj *o, const char *key)
{
	int i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->f[i].key, key) == 0)
			return &o->f[i];
	HCHECK(0, "no key \"%s\"", key);
	return NULL;
}

static void
jis_str(const struct jobj *o, const char *key, const char *want)
{
	const struct jfield *f = jget(o, key);

	HCHECK(f->type == 's' && f->len == strlen(want) &&
	               memcmp(f->val, want, f->len) == 0,
	       "%s: got %c '%s', wanted '%s'", key, f->type, f->val, want);
}

static void
jis_null(const struct jobj *o, const char *key)
{
	HCHECK(jget(o, key)->type == '0', "%s: not null", key);
}

static unsigned long long
jnum(const struct jobj *o, const char *key)
{
	const struct jfield *f = jget(o, key);

	HCHECK(f->type == 'n' && strspn(f->val, "0123456789") == f->len,
	       "%s: not a whole number: %s", key, f->val);
	return strtoull(f->val, NULL, 10);
}

/* "2024-05-01T12:34:56.789Z" */
static int
is_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i])
		                    : s[i] != shape[i])
			return 0;
	return s[i] == '\0';
}

/* What every line has, whatever the request. */
static void
check_common(const struct jobj *o)
{
	static const char *const keys[] = {
	        "time",       "client",      "client_port", "user",
	        "method",     "url",         "host",        "port",
	        "version",    "status",      "bytes_in",    "bytes_out",
	        "upstream",   "duration_ms", "tunnel",      "rule",
	        "action",     "tls_sni",     "tls",         "referer",
	        "user_agent",
	};
	const struct jfield *t = jget(o, "time"), *tun = jget(o, "tunnel");
	unsigned i;

	HCHECK(o->n == (int)(sizeof(keys) / sizeof(keys[0])),
	       "%d keys, wanted %zu", o->n, sizeof(keys) / sizeof(keys[0]));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		HCHECK(strcmp(o->f[i].key, keys[i]) == 0,
		       "key %u is %s, wanted %s", i, o->f[i].key, keys[i]);
	HCHECK(t->type == 's' && is_time(t->val), "time '%s'", t->val);
	jis_str(o, "client", "127.0.0.1");
	HCHECK(jnum(o, "client_port") > 0, "client_port 0");
	jis_null(o, "user");
	jis_null(o, "rule");
	jis_null(o, "action");
	jis_null(o, "tls_sni");
	(void)jnum(o, "bytes_in");
	(void)jnum(o, "bytes_out");
	HCHECK(jnum(o, "duration_ms") < 60000, "duration over a minute");
	HCHECK(tun->type == 't' || tun->type == 'f', "tunnel not a bool");
}

/* ---- driving proxyd ------------------------------------------------ */

/* One request on its own connection: the status, or -1. */
static int
exchange(const char *req)
{
	struct harness_conn *c = malloc(sizeof(*c));
	struct harness_resp r;
	int status = -1;

	if (c && harness_conn_open(c, proxy.port) == 0 &&
	    harness_conn_send(c, req, strlen(req)) == 0 &&
	    harness_conn_response(c, &r, 0, HARNESS_WAIT_MS) == 0) {
		status = r.status;
		harness_resp_free(&r);
	}
	if (c)
		harness_conn_close(c);
	free(c);
	return status;
}

static int
get(int port, const char *path, const char *extra)
{
	char req[1024];

	snprintf(req, sizeof(req),
	         "GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	         "%s\r\n",
	         port, path, extra);
	return exchange(req);
}

/* Reads the access log until it holds want lines (the workers flush once
 * a second), bounded; returns how many it holds. */
static int
read_lines(const char *path, char *buf, size_t cap, char **lines, int want)
{
	int64_t deadline = harness_now_ms() + 5000;
	int fd, n;
	ssize_t len;
	char *p, *nl;

	do {
		harness_sleep_ms(200);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd >= 0 ? read(fd, buf, cap - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[len > 0 ? len : 0] = '\0';
		for (n = 0, p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			n++;
	} while (n < want && harness_now_ms() < deadline);
	for (n = 0, p = buf; n < LOG_LINES_MAX && (nl = strchr(p, '\n'));
	     p = nl + 1) {
		*nl = '\0';
		lines[n++] = p;
	}
	return n;
}

/* The parsed line whose status and url (NULL: url null) match. */
static const struct jobj *
find(const struct jobj *objs, int n, unsigned status, const char *url)
{
	const struct jfield *u;
	int i;

	for (i = 0; i < n; i++) {
		u = jget(&objs[i], "url");
		if (jnum(&objs[i], "status") == status &&
		    (url ? u->type == 's' && strcmp(u->val, url) == 0
		         : u->type == '0'))
			return &objs[i];
	}
	HCHECK(0, "no line with status %u and url %s", status,
	       url ? url : "null");
	return NULL;
}

/* ---- JSON access lines --------------------------------------------- */

#define HOSTILE_UA "evil \"q\" back\\slash\ttab \xff\xc3\xa9 {\"x\":1}"

static int
json_requests(int dead)
{
	char req[256];

	HCHECK(get(origin.port, "/size/100",
	           "User-Agent: check_logs\r\n"
	           "Referer: http://ref.example/page\r\n") == 200,
	       "GET 200");
	HCHECK(get(origin.port, "/status/404", "") == 404, "GET 404");
	HCHECK(get(dead, "/x", "") == 502, "dead port not 502");
	snprintf(req, sizeof(req),
	         "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
	         origin.port, origin.port);
	HCHECK(exchange(req) == 403, "CONNECT to a port not listed: not 403");
	HCHECK(get(origin.port, "/size/10", "User-Agent: " HOSTILE_UA "\r\n") ==
	               200,
	       "hostile UA");
	HCHECK(get(origin.port, "/size/10", "User-Agent: a\x01z\r\n") == 400,
	       "control byte in a field: not 400");
	return 6;
}

static void
check_get_200(const struct jobj *objs, int n)
{
	char url[128];
	const struct jobj *o;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/100", origin.port);
	o = find(objs, n, 200, url);
	jis_str(o, "method", "GET");
	jis_str(o, "host", "127.0.0.1");
	HCHECK(jnum(o, "port") == (unsigned)origin.port, "port");
	jis_str(o, "version", "HTTP/1.1");
	HCHECK(jnum(o, "bytes_out") > 100, "bytes_out holds the body");
	HCHECK(jnum(o, "bytes_in") > 50, "bytes_in holds the head");
	snprintf(url, sizeof(url), "127.0.0.1:%d", origin.port);
	jis_str(o, "upstream", url);
	HCHECK(jget(o, "tunnel")->type == 'f', "not a tunnel");
	jis_str(o, "referer", "http://ref.example/page");
	jis_str(o, "user_agent", "check_logs");
}

static void
check_errors(const struct jobj *objs, int n, int dead)
{
	char url[128];
	const struct jobj *o;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/status/404",
	         origin.port);
	o = find(objs, n, 404, url);
	jis_null(o, "referer");
	jis_null(o, "user_agent");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", dead);
	o = find(objs, n, 502, url);
	HCHECK(jnum(o, "port") == (unsigned)dead, "502 port");
	snprintf(url, sizeof(url), "127.0.0.1:%d", origin.port);
	o = find(objs, n, 403, url);
	jis_str(o, "method", "CONNECT");
	jis_str(o, "host", "127.0.0.1");
	jis_null(o, "upstream");
	HCHECK(jget(o, "tunnel")->type == 'f', "a refused CONNECT");
	o = find(objs, n, 400, NULL);
	jis_null(o, "method");
	jis_null(o, "host");
	jis_null(o, "port");
	jis_null(o, "version");
	jis_null(o, "user_agent");
}

START_TEST(json_access_log)
{
	static char buf[65536];
	static struct jobj objs[LOG_LINES_MAX];
	struct harness_config cfg = {.proxyd_extra =
	                                     "access_log_format = json\n"};
	char *lines[LOG_LINES_MAX], url[128];
	const char *why;
	int i, n, want, dead = harness_free_port();

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_proxy_up(&proxy, &cfg) == 0, "proxyd did not start");
	want = json_requests(dead);
	n = read_lines(proxy.access_log, buf, sizeof(buf), lines, want);
	HCHECK(n == want, "%d access lines, wanted %d:\n%s", n, want, buf);
	for (i = 0; i < n; i++) {
		HCHECK(json_parse(lines[i], &objs[i], &why) == 0,
		       "line %d is not JSON (%s):\n%s", i + 1, why, lines[i]);
		check_common(&objs[i]);
	}
	check_get_200(objs, n);
	check_errors(objs, n, dead);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/10", origin.port);
	jis_str(find(objs, n, 200, url), "user_agent", HOSTILE_UA);
}
END_TEST

/* ---- syslog over UDP ----------------------------------------------- */

static pid_t daemon_pid;

/* Gone, or a zombie waiting for the test's subreaper. */
static int
daemon_gone(pid_t pid)
{
	char path[64], buf[256], *rp;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	rp = strrchr(buf, ')');
	return !rp || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

static void
daemon_stop(int sig)
{
	int64_t deadline = harness_now_ms() + 10000;

	if (daemon_pid <= 0)
		return;
	kill(daemon_pid, sig);
	while (!daemon_gone(daemon_pid) && harness_now_ms() < deadline)
		harness_sleep_ms(20);
	if (!daemon_gone(daemon_pid))
		kill(daemon_pid, SIGKILL);
	daemon_pid = 0;
}

/* HCHECK for while the daemon runs: it is not the harness's child, so
 * stop it here before the test ends. */
#define DCHECK(cond, ...)                                              \
	do {                                                           \
		if (!(cond)) {                                         \
			daemon_stop(SIGKILL);                          \
			harness_on_failure(#cond, __FILE__, __LINE__); \
			ck_abort_msg(__VA_ARGS__);                     \
		}                                                      \
	} while (0)

static int
udp_bind(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	HCHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	               getsockname(fd, (struct sockaddr *)&sa, &len) == 0,
	       "bind a UDP socket: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
write_syslog_config(int udp_port)
{
	static char text[3 * PATH_MAX];
	struct harness_config raw = {.raw = text};
	struct harness_config none = {0};

	HCHECK(harness_proxy_init(&proxy, "sys", &none) == 0, "proxy init");
	snprintf(text, sizeof(text),
	         "[proxyd]\nworkers = 1\npid_file = %s\nshm_file = %s\n"
	         "error_log = syslog:127.0.0.1:%d\n"
	         "access_log = syslog:127.0.0.1:%d\n"
	         "access_log_format = json\nlog_level = info\n"
	         "[listen main]\naddress = 127.0.0.1:%d\nmode = forward\n"
	         "allow_loopback = on\n",
	         proxy.pid_file, proxy.shm_file, udp_port, udp_port,
	         proxy.port);
	HCHECK(harness_proxy_write_config(&proxy, &raw) == 0, "write config");
}

/* proxyd without -f: it returns once the daemon is ready.  Run from the
 * temp folder, so nothing it might create lands in the source tree. */
static void
start_daemon(void)
{
	const char *env = getenv("PROXYD_BIN");
	char bin[PATH_MAX], pid[32] = "";
	const char *argv[] = {"sh",
	                      "-c",
	                      "cd \"$0\" && exec \"$1\" -c \"$2\"",
	                      harness_tmpdir(),
	                      bin,
	                      proxy.conf,
	                      NULL};
	struct harness_run r = {.argv = argv, .timeout_ms = 20000};
	FILE *f;

	HCHECK(realpath(env && *env ? env : "build/proxyd", bin) != NULL,
	       "proxyd binary: %s", strerror(errno));
	harness_run(&r);
	HCHECK(r.code == 0, "proxyd exit %d: %s", r.code, r.err);
	harness_run_free(&r);
	f = fopen(proxy.pid_file, "r");
	HCHECK(f && fgets(pid, sizeof(pid), f), "no pid file");
	fclose(f);
	daemon_pid = atoi(pid);
	DCHECK(daemon_pid > 1, "pid file holds '%s'", pid);
	DCHECK(harness_wait_port(proxy.port, 10000) == 0, "port not open");
}

struct dgram {
	unsigned pri;
	char app[64];
	long procid;
	char msgid[64];
	const char *msg;
};

/* "<PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID - MSG" */
static int
parse_dgram(char *buf, struct dgram *d)
{
	char ts[64], host[300];
	int used = 0;

	if (sscanf(buf, "<%u>1 %63s %299s %63s %ld %63s - %n", &d->pri, ts,
	           host, d->app, &d->procid, d->msgid, &used) != 6 ||
	    used == 0 || !is_time(ts))
		return -1;
	d->msg = buf + used;
	return 0;
}

/* Receives until an access line with status 200, the master's start line
 * and a worker's error line were seen, bounded; checks every datagram. */
static void
receive(int fd)
{
	static char all[32768];
	char buf[4096];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t deadline = harness_now_ms() + 5000;
	int access = 0, master = 0, worker = 0;
	struct dgram d;
	struct jobj *o = malloc(sizeof(*o));
	const char *why;
	ssize_t n;

	while (!(access && master && worker) && harness_now_ms() < deadline &&
	       poll(&pfd, 1, 200) >= 0) {
		if (!(pfd.revents & POLLIN) ||
		    (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s\n",
		         buf);
		DCHECK(parse_dgram(buf, &d) == 0, "not RFC 5424: %s", buf);
		DCHECK(strcmp(d.app, "proxyd") == 0, "APP-NAME: %s", buf);
		DCHECK(d.pri / 8 == 3, "facility not daemon: %s", buf);
		if (strcmp(d.msgid, "access") == 0) {
			DCHECK(d.pri == 30, "access not daemon.info: %s", buf);
			DCHECK(json_parse(d.msg, o, &why) == 0,
			       "access MSG not JSON (%s): %s", why, d.msg);
			access |= jnum(o, "status") == 200;
			continue;
		}
		DCHECK(strcmp(d.msgid, "error") == 0, "MSGID: %s", buf);
		master |= d.procid == daemon_pid && strstr(d.msg, " started");
		worker |= d.procid != daemon_pid && d.pri == 30 &&
		          strstr(d.msg, "connect to ") != NULL;
	}
	free(o);
	DCHECK(access && master && worker,
	       "access %d, master start %d, worker error %d; got:\n%s", access,
	       master, worker, all);
}

START_TEST(syslog_udp)
{
	int udp_port, fd, dead = harness_free_port();

	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	fd = udp_bind(&udp_port);
	write_syslog_config(udp_port);
	start_daemon();
	DCHECK(get(origin.port, "/size/10", "") == 200, "GET through syslog");
	DCHECK(get(dead, "/", "") == 502, "dead port not 502");
	receive(fd);
	daemon_stop(SIGTERM);
	close(fd);
}
END_TEST

static Suite *
logs_suite(void)
{
	Suite *s = suite_create("logs");
	TCase *tc = tcase_create("logs");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_access_log);
	tcase_add_test(tc, syslog_udp);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(logs_suite());
}
