/*
 * TLS end to end: the real proxyd with `tls = on` listeners and backend
 * servers marked tls, driven by curl, openssl s_client and a small TLS
 * client of the kit's, with certificates each test makes in its temp
 * folder (a test CA; leaves for a.test, b.test, *.w.test and the default
 * default.test).  Certificates chosen by SNI; TLS 1.0/1.1 refused and the
 * TLS 1.2 cipher list; session resumption across workers, reloads and
 * respawns, and only for the name and listener it was made for; OCSP
 * stapling; pipelining and a PROXY header before the handshake; backends
 * over TLS (verification, names, health checks, PROXY header, session
 * reuse, a handshake that never answers); HTTPS forward proxying, CONNECT
 * and SNI rules through it; X-Forwarded-Proto and the access log's tls=;
 * a certificate replaced by SIGHUP under load, and a bad one refused by
 * it; what proxyd -t says about bad certificates; handshakes that never
 * come, are not TLS, or refuse our certificate.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/support/harness.h"

#define SETTLE_MS 5000 /* a counter or a log line catches up */
#define CURL_S 20      /* one curl run */
#define STDIN_MS 300   /* s_client's stdin stays open: tickets arrive */
#define LOAD_CLIENTS 3
#define LOAD_REQS 200 /* per client, in test 7 */

static struct harness_proxy proxy;
static struct harness_origin origin; /* plain, -n b1 */

/* Bounds on waits for something proxyd does by itself: longer when a
 * wrapper (valgrind) slows it down. */
static int
slow(int ms)
{
	const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
	int k = m != NULL ? atoi(m) : 1;

	return ms * (k > 1 ? k : 1);
}

/* The test PKI: made by pki() in each test's temp folder. */
static struct harness_cert ca = {.name = "ca", .cn = "proxyd test CA", .ca = 1};
static struct harness_cert cert_a = {
        .name = "a", .cn = "a.test", .san = "DNS:a.test", .issuer = "ca"};
static struct harness_cert cert_b = {
        .name = "b", .cn = "b.test", .san = "DNS:b.test", .issuer = "ca"};
static struct harness_cert cert_w = {
        .name = "w", .cn = "*.w.test", .san = "DNS:*.w.test", .issuer = "ca"};
static struct harness_cert cert_d = {.name = "default",
                                     .cn = "default.test",
                                     .san = "DNS:default.test",
                                     .issuer = "ca"};

static void
make(struct harness_cert *c)
{
	HCHECK(harness_cert_make(c) == 0, "cannot make certificate %s",
	       c->name);
}

static void
pki(void)
{
	make(&ca);
	make(&cert_a);
	make(&cert_b);
	make(&cert_w);
	make(&cert_d);
}

/* ---- set-up -------------------------------------------------------- */

static void
origin_up(void)
{
	static const char *const args[] = {"-n", "b1", NULL};

	HCHECK(harness_origin_start_args(&origin, 0, args) == 0,
	       "origin did not start");
}

/* Port and file names of proxyd, before its config can be written. */
static void
proxy_init(void)
{
	struct harness_config cfg = {0};

	HCHECK(harness_proxy_init(&proxy, "proxyd", &cfg) == 0, "proxyd init");
}

static void write_conf(const char *proxyd_extra, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
static void conf(const char *proxyd_extra, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void start(const char *proxyd_extra, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* The config: [proxyd] (files in the temp folder, 2 workers, extra
 * lines), then body (listeners, backends, routes); written, not started. */
static void
write_conf(const char *proxyd_extra, const char *fmt, va_list ap)
{
	static char body[12288], text[16384];
	struct harness_config cfg = {0};
	int n = vsnprintf(body, sizeof(body), fmt, ap);

	HCHECK(n > 0 && (size_t)n < sizeof(body), "config body too long");
	n = snprintf(text, sizeof(text),
	             "# written by tests/integration/check_tls.c\n"
	             "[proxyd]\nworkers = 2\npid_file = %s\nshm_file = %s\n"
	             "error_log = %s\naccess_log = %s\nlog_level = info\n"
	             "%s\n%s",
	             proxy.pid_file, proxy.shm_file, proxy.error_log,
	             proxy.access_log, proxyd_extra ? proxyd_extra : "", body);
	HCHECK(n > 0 && (size_t)n < sizeof(text), "config too long");
	cfg.raw = text;
	HCHECK(harness_proxy_write_config(&proxy, &cfg) == 0,
	       "write the config");
}

static void
conf(const char *proxyd_extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_conf(proxyd_extra, fmt, ap);
	va_end(ap);
}

static void
start(const char *proxyd_extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_conf(proxyd_extra, fmt, ap);
	va_end(ap);
	HCHECK(harness_proxy_start(&proxy) == 0, "proxyd did not start");
}

/* [listen web] on port: a reverse TLS site for a.test, b.test and
 * *.w.test (default.test otherwise) in front of b1, plus extra lines. */
static const char *
site(int port, const char *extra)
{
	static char out[4][4096];
	static int turn;
	char *o = out[turn++ % 4];
	int n;

	n = snprintf(o, sizeof(out[0]),
	             "[listen web%d]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	             "tls = on\ntls_cert = %s\ntls_key = %s\n"
	             "certificate = %s %s\ncertificate = %s %s\n"
	             "certificate = %s %s\ndefault_backend = b1\n%s",
	             port, port, cert_d.cert, cert_d.key, cert_a.cert,
	             cert_a.key, cert_b.cert, cert_b.key, cert_w.cert,
	             cert_w.key, extra ? extra : "");
	HCHECK(n > 0 && (size_t)n < sizeof(out[0]), "listener too long");
	return o;
}

/* The origin as backend b1. */
static const char *
backend_b1(void)
{
	static char out[128];

	snprintf(out, sizeof(out), "[backend b1]\nserver = 127.0.0.1:%d\n",
	         origin.port);
	return out;
}

/* The usual: the PKI, origin b1, proxyd with the TLS site on its port. */
static void
site_up(const char *proxyd_extra, const char *timeouts)
{
	pki();
	origin_up();
	proxy_init();
	start(proxyd_extra, "%s%s%s%s", site(proxy.port, NULL), backend_b1(),
	      timeouts ? "[timeouts]\n" : "", timeouts ? timeouts : "");
}

/* ---- clients ------------------------------------------------------- */

/* curl -sS --max-time CURL_S --cacert CA --resolve NAME:PORT:127.0.0.1
 * [more...] NULL https://NAME:PORT/PATH; the URL goes last. */
static void
site_curl(struct harness_run *r, const char *name, int port, const char *path,
          ...)
{
	const char *argv[48];
	char resolve[300], url[400], max[16];
	va_list ap;
	int n = 0;

	snprintf(max, sizeof(max), "%d", CURL_S);
	snprintf(resolve, sizeof(resolve), "%s:%d:127.0.0.1", name, port);
	snprintf(url, sizeof(url), "https://%s:%d%s", name, port, path);
	argv[n++] = "curl";
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = max;
	argv[n++] = "--cacert";
	argv[n++] = ca.cert;
	argv[n++] = "--resolve";
	argv[n++] = resolve;
	va_start(ap, path);
	while (n < 46 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n++] = url;
	argv[n] = NULL;
	r->argv = argv;
	r->timeout_ms = (CURL_S + 10) * 1000;
	harness_run(r);
	r->argv = NULL;
}

/* The subject line s_client printed ("subject=CN = a.test"), or "". */
static const char *
subject_of(const struct harness_run *r, char *out, size_t n)
{
	const char *s = strstr(r->out, "subject=");

	out[0] = '\0';
	if (s != NULL)
		snprintf(out, n, "%.*s", (int)strcspn(s, "\r\n"), s);
	return out;
}

/* s_client to port with SNI name (NULL: none), verified against the test
 * CA and for name; r->out (to be freed) is what it printed. */
static void
s_client_name(struct harness_run *r, int port, const char *name)
{
	memset(r, 0, sizeof(*r));
	if (name == NULL)
		harness_s_client(r, port, slow(STDIN_MS), "-noservername",
		                 "-CAfile", ca.cert, NULL);
	else
		harness_s_client(r, port, slow(STDIN_MS), "-servername", name,
		                 "-CAfile", ca.cert, "-verify_hostname", name,
		                 NULL);
}

static uint64_t
stat_total(const char *name)
{
	uint64_t v = 0;

	HCHECK(harness_stat(&proxy, name, -1, &v) == 0, "no counter %s", name);
	return v;
}

/* Waits for counter name to reach at least min; its value. */
static uint64_t
stat_reaches(const char *name, uint64_t min)
{
	uint64_t v = 0;

	HCHECK(harness_stat_wait(&proxy, name, -1, min, slow(SETTLE_MS), &v) ==
	               0,
	       "%s is %llu, wanted at least %llu", name, (unsigned long long)v,
	       (unsigned long long)min);
	return v;
}

/* How many times needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* A file's contents (up to cap-1 bytes), NUL-terminated; its length. */
static size_t
slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return 0;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

/* Waits until path holds needle (an access log is flushed every second);
 * 1 when it does. */
static int
file_has(const char *path, const char *needle, char *buf, size_t cap)
{
	int64_t deadline = harness_now_ms() + slow(SETTLE_MS);

	do {
		slurp(path, buf, cap);
		if (strstr(buf, needle) != NULL)
			return 1;
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	return 0;
}

/* The workers did not die on us (same pids as at start-up). */
static void
same_workers(const pid_t *before, int n)
{
	pid_t now[HARNESS_MAX_PIDS];
	int k = harness_proxy_workers(&proxy, now, HARNESS_MAX_PIDS), i;

	HCHECK(k >= n, "%d workers now, %d before", k, n);
	for (i = 0; i < n; i++)
		HCHECK(now[i] == before[i], "worker %d was replaced by %d",
		       (int)before[i], (int)now[i]);
}

/* ---- 1. certificates by SNI ---------------------------------------- */

START_TEST(sni_picks_certificate)
{
	static const char *const names[] = {"a.test", "b.test", "x.w.test"};
	static const char *const cns[] = {"a.test", "b.test", "*.w.test"};
	/* no subjectAltName: its names come from the CN */
	struct harness_cert cert_c = {
	        .name = "c", .cn = "c.test", .issuer = "ca"};
	struct harness_run r;
	char subj[256], want[128], more[2 * PATH_MAX + 32];
	unsigned i;

	pki();
	make(&cert_c);
	origin_up();
	proxy_init();
	snprintf(more, sizeof(more), "certificate = %s %s\n", cert_c.cert,
	         cert_c.key);
	start(NULL, "%s%s", site(proxy.port, more), backend_b1());
	for (i = 0; i < 3; i++) {
		memset(&r, 0, sizeof(r));
		site_curl(&r, names[i], proxy.port, "/whoami", "-w",
		          "verify=%{ssl_verify_result}", NULL);
		HCHECK(r.code == 0 && strcmp(r.out, "b1\nverify=0") == 0,
		       "curl %s: exit %d, out \"%s\": %s", names[i], r.code,
		       r.out, r.err);
		harness_run_free(&r);

		s_client_name(&r, proxy.port, names[i]);
		snprintf(want, sizeof(want), "subject=CN = %s", cns[i]);
		HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)), want) == 0,
		       "SNI %s: \"%s\", wanted \"%s\"\n%s%s", names[i], subj,
		       want, r.out, r.err);
		HCHECK(strstr(r.out, "Verify return code: 0 (ok)") != NULL,
		       "SNI %s: not verified:\n%s", names[i], r.out);
		harness_run_free(&r);
	}

	s_client_name(&r, proxy.port, "c.test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = c.test") == 0,
	       "SNI c.test (a certificate with a CN only): \"%s\"\n%s", subj,
	       r.out);
	harness_run_free(&r);

	/* SNI is matched without regard to case */
	s_client_name(&r, proxy.port, "B.Test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = b.test") == 0,
	       "SNI B.Test: \"%s\"\n%s", subj, r.out);
	harness_run_free(&r);

	/* a wildcard covers one label only */
	s_client_name(&r, proxy.port, "y.x.w.test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = default.test") == 0,
	       "SNI y.x.w.test: \"%s\", wanted the default\n%s", subj, r.out);
	harness_run_free(&r);

	/* an unknown name gets the default certificate, which is not for
	 * that name */
	memset(&r, 0, sizeof(r));
	site_curl(&r, "unknown.test", proxy.port, "/whoami", "-w",
	          "verify=%{ssl_verify_result}", NULL);
	HCHECK(r.code != 0 && strstr(r.out, "verify=0") == NULL &&
	               strstr(r.out, "verify=") != NULL,
	       "curl unknown.test: exit %d, out \"%s\" (wanted a name "
	       "mismatch): %s",
	       r.code, r.out, r.err);
	harness_run_free(&r);
	s_client_name(&r, proxy.port, "unknown.test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = default.test") == 0,
	       "SNI unknown.test: \"%s\"\n%s", subj, r.out);
	HCHECK(strstr(r.out, "Verify return code: 0 (ok)") == NULL &&
	               strstr(r.out, "Verify return code: ") != NULL,
	       "unknown.test verified with the default certificate:\n%s",
	       r.out);
	harness_run_free(&r);

	/* no SNI at all: the default */
	s_client_name(&r, proxy.port, NULL);
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = default.test") == 0,
	       "no SNI: \"%s\"\n%s", subj, r.out);
	harness_run_free(&r);
	HCHECK(stat_total("tls_handshakes") >= 9, "handshakes not counted");
}
END_TEST

/* ---- 2. protocol versions ------------------------------------------ */

/* s_client with a forced version; 1 when the handshake succeeded. */
static int
handshake_with(int port, const char *version, struct harness_run *r)
{
	memset(r, 0, sizeof(*r));
	/* OpenSSL 3 offers TLS 1.0/1.1 at security level 0 only: without
	 * it, s_client would not even send its ClientHello */
	harness_s_client(r, port, slow(STDIN_MS), "-servername", "a.test",
	                 version, "-cipher", "DEFAULT@SECLEVEL=0", NULL);
	return r->code == 0 && strstr(r->out, "Cipher is (NONE)") == NULL &&
	       strstr(r->out, ", Cipher is ") != NULL;
}

START_TEST(old_protocols_refused)
{
	struct harness_run r;
	uint64_t start0, p0, v12, v13;
	int port13 = harness_free_port();

	pki();
	origin_up();
	proxy_init();
	HCHECK(port13 > 0, "free port");
	start(NULL, "%s%s%s", site(proxy.port, NULL),
	      site(port13, "tls_protocols = TLSv1.3\n"), backend_b1());

	start0 = p0 = stat_total("tls_failures_protocol");
	HCHECK(!handshake_with(proxy.port, "-tls1_1", &r),
	       "TLS 1.1 accepted:\n%s", r.out);
	harness_run_free(&r);
	p0 = stat_reaches("tls_failures_protocol", p0 + 1);
	HCHECK(!handshake_with(proxy.port, "-tls1", &r),
	       "TLS 1.0 accepted:\n%s", r.out);
	harness_run_free(&r);
	p0 = stat_reaches("tls_failures_protocol", p0 + 1);

	v12 = stat_total("tls_v12");
	v13 = stat_total("tls_v13");
	HCHECK(handshake_with(proxy.port, "-tls1_2", &r),
	       "TLS 1.2 refused: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
	HCHECK(handshake_with(proxy.port, "-tls1_3", &r),
	       "TLS 1.3 refused: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
	stat_reaches("tls_v12", v12 + 1);
	stat_reaches("tls_v13", v13 + 1);

	/* tls_protocols = TLSv1.3 */
	HCHECK(!handshake_with(port13, "-tls1_2", &r),
	       "TLS 1.2 accepted by a TLSv1.3-only listener:\n%s", r.out);
	harness_run_free(&r);
	stat_reaches("tls_failures_protocol", p0 + 1);
	HCHECK(handshake_with(port13, "-tls1_3", &r),
	       "TLS 1.3 refused by a TLSv1.3-only listener: exit %d\n%s%s",
	       r.code, r.out, r.err);
	harness_run_free(&r);
	/* each refusal counted once, as a protocol failure */
	p0 = stat_total("tls_failures_protocol");
	HCHECK(p0 == start0 + 3,
	       "3 versions refused, %llu counted as protocol failures",
	       (unsigned long long)(p0 - start0));
}
END_TEST

/* ---- 3. resumption ------------------------------------------------- */

#define RESUME_ROUNDS 6

/* Waits until the gauge conn_active totals n. */
static void
active_is(uint64_t n)
{
	int64_t deadline = harness_now_ms() + slow(SETTLE_MS);
	uint64_t v = 0;

	do {
		if (harness_stat(&proxy, "conn_active", -1, &v) == 0 && v == n)
			return;
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	HCHECK(0, "conn_active is %llu, wanted %llu", (unsigned long long)v,
	       (unsigned long long)n);
}

START_TEST(resumption_across_workers)
{
	struct harness_run r;
	struct harness_conn *hold = calloc(1, sizeof(*hold));
	char sess[PATH_MAX];
	int slots[8], n, i;
	uint64_t res[2] = {0, 0}, hs[2] = {0, 0};

	HCHECK(hold != NULL, "calloc");
	/* One connection per worker at most: while a raw connection is held
	 * open on one worker, the next one goes to the other, so the
	 * resumptions below alternate between the two workers whichever
	 * issued the ticket. */
	site_up("max_connections = 1\n", NULL);
	snprintf(sess, sizeof(sess), "%s/a.sess", harness_tmpdir());
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-servername",
	                 "a.test", "-sess_out", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "New, TLSv1.3") != NULL,
	       "first handshake: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
	active_is(0);

	for (i = 0; i < RESUME_ROUNDS; i++) {
		HCHECK(harness_conn_open(hold, proxy.port) == 0, "connect");
		active_is(1);
		memset(&r, 0, sizeof(r));
		harness_s_client(&r, proxy.port, slow(STDIN_MS), "-servername",
		                 "a.test", "-sess_in", sess, NULL);
		HCHECK(r.code == 0 && strstr(r.out, "Reused, TLSv1.3") != NULL,
		       "round %d: not resumed: exit %d\n%s%s", i, r.code, r.out,
		       r.err);
		harness_run_free(&r);
		harness_conn_close(hold);
		active_is(0);
	}
	stat_reaches("tls_resumptions", RESUME_ROUNDS);

	/* both workers resumed sessions: a ticket one issued opens on the
	 * other (their ticket keys are shared) */
	n = harness_stat_slots(&proxy, slots, 8);
	HCHECK(n == 2, "%d workers in proxyctl stats", n);
	for (i = 0; i < 2; i++) {
		HCHECK(harness_stat(&proxy, "tls_resumptions", slots[i],
		                    &res[i]) == 0 &&
		               harness_stat(&proxy, "tls_handshakes", slots[i],
		                            &hs[i]) == 0,
		       "no counters for slot %d", slots[i]);
	}
	HCHECK(res[0] > 0 && res[1] > 0,
	       "resumptions per worker: slot %d %llu (of %llu handshakes), "
	       "slot %d %llu (of %llu)",
	       slots[0], (unsigned long long)res[0], (unsigned long long)hs[0],
	       slots[1], (unsigned long long)res[1], (unsigned long long)hs[1]);
	free(hold);
}
END_TEST

START_TEST(resumption_tls12_reconnect)
{
	struct harness_run r;
	uint64_t res0, v12;

	site_up(NULL, NULL);
	res0 = stat_total("tls_resumptions");
	v12 = stat_total("tls_v12");
	memset(&r, 0, sizeof(r));
	/* -reconnect: the first connection, then five with its session */
	harness_s_client(&r, proxy.port, slow(1000), "-servername", "a.test",
	                 "-tls1_2", "-reconnect", NULL);
	HCHECK(r.code == 0 && count_of(r.out, "New, TLSv1.2") == 1 &&
	               count_of(r.out, "Reused, TLSv1.2") == 5,
	       "TLS 1.2 -reconnect: exit %d, %d new, %d reused\n%s%s", r.code,
	       count_of(r.out, "New, TLSv1.2"),
	       count_of(r.out, "Reused, TLSv1.2"), r.out, r.err);
	harness_run_free(&r);
	stat_reaches("tls_resumptions", res0 + 5);
	stat_reaches("tls_v12", v12 + 6);
}
END_TEST

/* RFC 6066, 3: a server MUST NOT resume a TLS 1.2 session when the
 * client asks for another server_name; it does a full handshake, so the
 * client sees the certificate for the name it asked for. */
START_TEST(resumption_keeps_to_its_name)
{
	struct harness_run r;
	char sess[PATH_MAX], subj[256];

	site_up(NULL, NULL);
	snprintf(sess, sizeof(sess), "%s/a12.sess", harness_tmpdir());
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_2",
	                 "-servername", "a.test", "-sess_out", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "New, TLSv1.2") != NULL,
	       "first handshake: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
	/* the same name resumes */
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_2",
	                 "-servername", "a.test", "-sess_in", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "Reused, TLSv1.2") != NULL,
	       "a.test's session did not resume for a.test:\n%s", r.out);
	harness_run_free(&r);
	/* another name (another certificate) does not */
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_2",
	                 "-servername", "b.test", "-sess_in", sess, NULL);
	subject_of(&r, subj, sizeof(subj));
	HCHECK(r.code == 0 && strstr(r.out, "Reused,") == NULL &&
	               strcmp(subj, "subject=CN = b.test") == 0,
	       "a TLS 1.2 session made with a.test's certificate was %s for "
	       "SNI b.test (the client saw \"%s\")",
	       strstr(r.out, "Reused,") ? "resumed" : "not resumed", subj);
	harness_run_free(&r);
}
END_TEST

/* A session is its listener's: the ticket keys are shared by every
 * listener, but a session made on one (with a.test's certificate) must
 * not open on another that never showed that certificate.  Otherwise a
 * network attacker can move a client's connection for a.test to the
 * other listener, the client resumes without seeing any certificate, and
 * its requests for a.test go to that listener's backend ("virtual host
 * confusion", Delignat-Lavaud and Bhargavan, 2015). */
START_TEST(resumption_stays_on_its_listener)
{
	static const char *const b2_args[] = {"-n", "b2-other", NULL};
	struct harness_origin b2;
	struct harness_run r;
	char sess[PATH_MAX], connect[32];
	const char *argv[8];
	int other = harness_free_port();

	pki();
	origin_up();
	HCHECK(harness_origin_start_args(&b2, 0, b2_args) == 0,
	       "origin b2 did not start");
	HCHECK(other > 0, "free port");
	proxy_init();
	start(NULL,
	      "%s%s"
	      "[listen other]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	      "tls = on\ntls_cert = %s\ntls_key = %s\n"
	      "default_backend = b2\n"
	      "[backend b2]\nserver = 127.0.0.1:%d\n",
	      site(proxy.port, NULL), backend_b1(), other, cert_b.cert,
	      cert_b.key, b2.port);
	snprintf(sess, sizeof(sess), "%s/a.sess", harness_tmpdir());
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-servername",
	                 "a.test", "-sess_out", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "New, TLSv1.3") != NULL,
	       "first handshake: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);

	/* the a.test session offered to the other listener, with a request
	 * for a.test once connected */
	snprintf(connect, sizeof(connect), "127.0.0.1:%d", other);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = "(printf 'GET /whoami HTTP/1.1\\r\\nHost: a.test\\r\\n"
	          "Connection: close\\r\\n\\r\\n'; sleep 0.5) | "
	          "openssl s_client -connect \"$1\" -servername a.test "
	          "-CAfile \"$2\" -verify_hostname a.test -sess_in \"$3\"";
	argv[3] = "sh";
	argv[4] = connect;
	argv[5] = ca.cert;
	argv[6] = sess;
	argv[7] = NULL;
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = slow(HARNESS_WAIT_MS);
	harness_run(&r);
	HCHECK(strstr(r.out, "Reused,") == NULL,
	       "a session made on listener web (a.test's certificate) was "
	       "resumed on listener other, which never showed that "
	       "certificate; the request for a.test was answered by:\n%s",
	       strstr(r.out, "X-Origin") ? strstr(r.out, "X-Origin") : r.out);
	harness_run_free(&r);
}
END_TEST

/* tls_ciphers limits TLS 1.2's suites; a client with none of them is
 * refused and counted. */
START_TEST(tls12_cipher_list)
{
	struct harness_run r;
	uint64_t p0;

	pki();
	origin_up();
	proxy_init();
	start(NULL, "%s%s",
	      site(proxy.port, "tls_ciphers = ECDHE-ECDSA-CHACHA20-POLY1305\n"),
	      backend_b1());
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_2",
	                 "-servername", "a.test", NULL);
	HCHECK(r.code == 0 &&
	               strstr(r.out, "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"),
	       "TLS 1.2 not with the one suite allowed:\n%s%s", r.out, r.err);
	harness_run_free(&r);
	p0 = stat_total("tls_failures_protocol");
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_2",
	                 "-servername", "a.test", "-cipher",
	                 "ECDHE-ECDSA-AES128-GCM-SHA256", NULL);
	HCHECK(r.code != 0 && strstr(r.out, "Cipher is (NONE)") != NULL,
	       "a suite outside tls_ciphers was accepted:\n%s%s", r.out, r.err);
	harness_run_free(&r);
	stat_reaches("tls_failures_protocol", p0 + 1);
	/* TLS 1.3 keeps OpenSSL's suites */
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-tls1_3",
	                 "-servername", "a.test", NULL);
	HCHECK(r.code == 0 && strstr(r.out, "New, TLSv1.3") != NULL,
	       "TLS 1.3 refused with tls_ciphers set:\n%s%s", r.out, r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- reloads, respawns and resumption ----------------------------- */

/* Waits for the master's children to be as many as in old, none of them
 * one of old. */
static void
replaced(const pid_t *old, int nold, const char *what)
{
	HCHECK(harness_proxy_wait_workers(&proxy, nold, old, nold,
	                                  slow(20000)) == 0,
	       "the workers were not replaced after %s", what);
}

/* -sess_in: resumed? */
static void
resumes(const char *sess, const char *what)
{
	struct harness_run r;

	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-servername",
	                 "a.test", "-sess_in", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "Reused, TLSv1.3") != NULL,
	       "%s: the session was not resumed: exit %d\n%s%s", what, r.code,
	       r.out, r.err);
	harness_run_free(&r);
}

/* The ticket keys are the master's: a ticket stays good across a reload
 * (new workers) and a worker's respawn. */
START_TEST(resumption_survives_reload_and_respawn)
{
	struct harness_run r;
	pid_t old[HARNESS_MAX_PIDS], w[HARNESS_MAX_PIDS];
	char sess[PATH_MAX];
	int nold, nw;

	site_up(NULL, NULL);
	snprintf(sess, sizeof(sess), "%s/a.sess", harness_tmpdir());
	memset(&r, 0, sizeof(r));
	harness_s_client(&r, proxy.port, slow(STDIN_MS), "-servername",
	                 "a.test", "-sess_out", sess, NULL);
	HCHECK(r.code == 0 && strstr(r.out, "New, TLSv1.3") != NULL,
	       "first handshake: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);

	nold = harness_proxy_workers(&proxy, old, HARNESS_MAX_PIDS);
	HCHECK(nold >= 2, "%d children", nold);
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	replaced(old, nold, "SIGHUP");
	resumes(sess, "after SIGHUP");

	/* a worker killed: its replacement has the same keys */
	nw = harness_proxy_workers(&proxy, w, HARNESS_MAX_PIDS);
	HCHECK(nw >= 2 && kill(w[0], SIGKILL) == 0, "kill a worker");
	HCHECK(harness_proxy_wait_workers(&proxy, nw, w, 1, slow(20000)) == 0,
	       "worker %d was not replaced", (int)w[0]);
	resumes(sess, "after a worker's respawn");
	resumes(sess, "after a worker's respawn, again");
}
END_TEST

/* A reload whose certificate is bad is rejected as a whole: the running
 * workers go on with the certificates they have. */
START_TEST(reload_bad_certificate_keeps_serving)
{
	struct harness_run r;
	pid_t before[HARNESS_MAX_PIDS];
	char subj[256], log[16384], junk[PATH_MAX];
	int nw;

	site_up(NULL, NULL);
	nw = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	/* a.test's certificate replaced by b.test's: its key no longer
	 * matches */
	HCHECK(harness_cat_files("a.pem", junk, sizeof(junk), cert_b.cert,
	                         NULL) == 0,
	       "overwrite a.pem");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");
	HCHECK(file_has(proxy.stderr_log, "reload rejected", log,
	                sizeof(log)) ||
	               file_has(proxy.error_log, "reload rejected", log,
	                        sizeof(log)),
	       "no \"reload rejected\" after SIGHUP with a bad "
	       "certificate:\n%s",
	       log);
	HCHECK(strstr(log, "match") != NULL,
	       "the rejection does not say the key does not match:\n%s", log);
	s_client_name(&r, proxy.port, "a.test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = a.test") == 0 &&
	               strstr(r.out, "Verify return code: 0 (ok)") != NULL,
	       "after a rejected reload a.test gets \"%s\"\n%s", subj, r.out);
	harness_run_free(&r);
	memset(&r, 0, sizeof(r));
	site_curl(&r, "a.test", proxy.port, "/whoami", NULL);
	HCHECK(r.code == 0 && strcmp(r.out, "b1\n") == 0,
	       "after a rejected reload: exit %d \"%s\": %s", r.code, r.out,
	       r.err);
	harness_run_free(&r);
	same_workers(before, nw);
}
END_TEST

/* ---- OCSP stapling ------------------------------------------------- */

/* An OCSP response for c (serial c->serial) signed by the test CA, made
 * by `openssl ocsp` as a responder over an index of one; its path. */
static void
ocsp_for(const struct harness_cert *c, char *out, size_t outlen)
{
	char index[256], idx[PATH_MAX], name[64];
	const char *argv[24];
	struct harness_run r;
	int n = 0;

	/* V, expiry (YYMMDDHHMMSSZ), revocation (none), serial (hex),
	 * file, subject */
	snprintf(index, sizeof(index),
	         "V\t491231235959Z\t\t%lX\tunknown\t/CN=%s\n", c->serial,
	         c->cn);
	snprintf(name, sizeof(name), "%s.index", c->name);
	HCHECK(harness_write_file(name, index, strlen(index), idx,
	                          sizeof(idx)) == 0,
	       "write the OCSP index");
	snprintf(name, sizeof(name), "%s.ocsp", c->name);
	HCHECK(snprintf(out, outlen, "%s/%s", harness_tmpdir(), name) <
	               (int)outlen,
	       "path");
	argv[n++] = "openssl";
	argv[n++] = "ocsp";
	argv[n++] = "-index";
	argv[n++] = idx;
	argv[n++] = "-rsigner";
	argv[n++] = ca.cert;
	argv[n++] = "-rkey";
	argv[n++] = ca.key;
	argv[n++] = "-CA";
	argv[n++] = ca.cert;
	argv[n++] = "-issuer";
	argv[n++] = ca.cert;
	argv[n++] = "-cert";
	argv[n++] = c->cert;
	argv[n++] = "-respout";
	argv[n++] = out;
	argv[n++] = "-ndays";
	argv[n++] = "1";
	argv[n] = NULL;
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = 20000;
	harness_run(&r);
	HCHECK(r.code == 0 && access(out, R_OK) == 0,
	       "openssl ocsp: exit %d\n%s%s", r.code, r.out, r.err);
	harness_run_free(&r);
}

/* s_client -status for name: what it printed. */
static void
s_client_status(struct harness_run *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	harness_s_client(r, proxy.port, slow(STDIN_MS), "-servername", name,
	                 "-CAfile", ca.cert, "-status", NULL);
}

START_TEST(ocsp_stapling)
{
	struct harness_cert sa = {.name = "sa",
	                          .cn = "a.test",
	                          .san = "DNS:a.test",
	                          .issuer = "ca",
	                          .serial = 0x5a5a01};
	struct harness_cert sd = {.name = "sd",
	                          .cn = "default.test",
	                          .san = "DNS:default.test",
	                          .issuer = "ca",
	                          .serial = 0x5a5a02};
	struct harness_run r;
	char ocsp_a[PATH_MAX], ocsp_d[PATH_MAX];

	pki();
	make(&sa);
	make(&sd);
	ocsp_for(&sa, ocsp_a, sizeof(ocsp_a));
	ocsp_for(&sd, ocsp_d, sizeof(ocsp_d));
	origin_up();
	proxy_init();
	start(NULL,
	      "[listen web]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	      "tls = on\ntls_cert = %s\ntls_key = %s\ntls_ocsp = %s\n"
	      "certificate = %s %s ocsp=%s\ncertificate = %s %s\n"
	      "default_backend = b1\n%s",
	      proxy.port, sd.cert, sd.key, ocsp_d, sa.cert, sa.key, ocsp_a,
	      cert_b.cert, cert_b.key, backend_b1());

	s_client_status(&r, "a.test");
	HCHECK(r.code == 0 &&
	               strstr(r.out, "OCSP Response Status: successful") &&
	               strstr(r.out, "Cert Status: good") &&
	               strstr(r.out, "Serial Number: 5A5A01"),
	       "a.test: no stapled response for its certificate:\n%s%s", r.out,
	       r.err);
	harness_run_free(&r);
	s_client_status(&r, "unknown.test");
	HCHECK(r.code == 0 &&
	               strstr(r.out, "OCSP Response Status: successful") &&
	               strstr(r.out, "Serial Number: 5A5A02"),
	       "default: no stapled response for its certificate:\n%s%s", r.out,
	       r.err);
	harness_run_free(&r);
	s_client_status(&r, "b.test");
	HCHECK(r.code == 0 && strstr(r.out, "OCSP response: no response sent"),
	       "b.test (no ocsp=) stapled something:\n%s%s", r.out, r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- our own TLS client: pipelining, PROXY before TLS -------------- */

#define PIPELINED 120

START_TEST(pipelining_over_tls)
{
	struct harness_tls_conn c;
	static char req[PIPELINED * 400], resp[1 << 20], pad[300];
	int i, n = 0;
	ssize_t got;

	site_up(NULL, NULL);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	/* some 40 kB of requests in one write: several TLS records, more
	 * than one read of proxyd's buffer */
	for (i = 0; i < PIPELINED; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n,
		              "GET /size/%d HTTP/1.1\r\nHost: a.test\r\n"
		              "X-Pad: %s\r\n%s\r\n",
		              1000 + i, pad,
		              i == PIPELINED - 1 ? "Connection: close\r\n"
		                                 : "");
	HCHECK(harness_tls_open(&c, proxy.port, "a.test", ca.cert, NULL, 0) ==
	               0,
	       "TLS connection");
	HCHECK(harness_tls_send(&c, req, (size_t)n) == 0, "send");
	got = harness_tls_read_all(&c, resp, sizeof(resp),
	                           slow(HARNESS_WAIT_MS));
	harness_tls_close(&c);
	HCHECK(got > 0, "no answer to %d pipelined requests", PIPELINED);
	HCHECK(count_of(resp, "HTTP/1.1 200 ") == PIPELINED,
	       "%d of %d pipelined requests answered (%zd bytes)",
	       count_of(resp, "HTTP/1.1 200 "), PIPELINED, got);
	HCHECK(strstr(resp, "Content-Length: 1119\r\n") != NULL,
	       "the last response is missing");
}
END_TEST

START_TEST(proxy_protocol_before_tls)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.7 127.0.0.1 5555 443\r\n";
	static const char get[] = "GET /headers HTTP/1.1\r\nHost: a.test\r\n"
	                          "Connection: close\r\n\r\n";
	struct harness_tls_conn c;
	struct harness_run r;
	char resp[65536];
	uint64_t e0;

	pki();
	origin_up();
	proxy_init();
	start(NULL, "%s%s", site(proxy.port, "proxy_protocol = on\n"),
	      backend_b1());
	HCHECK(harness_tls_open(&c, proxy.port, "a.test", ca.cert, hdr,
	                        strlen(hdr)) == 0,
	       "TLS after a PROXY header");
	HCHECK(harness_tls_send(&c, get, strlen(get)) == 0, "send");
	HCHECK(harness_tls_read_all(&c, resp, sizeof(resp),
	                            slow(HARNESS_WAIT_MS)) > 0,
	       "no answer");
	harness_tls_close(&c);
	HCHECK(strstr(resp, "HTTP/1.1 200 ") != NULL &&
	               strstr(resp, "X-Forwarded-For: 192.0.2.7\r\n") != NULL &&
	               strstr(resp, "X-Forwarded-Proto: https\r\n") != NULL,
	       "the backend did not see the PROXY header's client:\n%s", resp);

	/* TLS without the header: refused */
	e0 = stat_total("proxy_protocol_errors");
	s_client_name(&r, proxy.port, "a.test");
	HCHECK(strstr(r.out, "subject=") == NULL,
	       "a handshake without the PROXY header went through:\n%s", r.out);
	harness_run_free(&r);
	stat_reaches("proxy_protocol_errors", e0 + 1);
}
END_TEST

/* ---- 4. backends over TLS ------------------------------------------ */

/* GET /whoami with Host: host through the plain listener on proxy.port;
 * the status, and the body in body (-1, and why in body, when no
 * response came). */
static int
get_host(const char *host, char *body, size_t cap)
{
	struct harness_conn *c = calloc(1, sizeof(*c));
	struct harness_resp r;
	int st;

	HCHECK(c != NULL, "calloc");
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(c,
	                          "GET /whoami HTTP/1.1\r\nHost: %s\r\n"
	                          "Connection: close\r\n\r\n",
	                          host) == 0,
	       "send");
	if (harness_conn_response(c, &r, 0, slow(HARNESS_WAIT_MS)) == 0) {
		st = r.status;
		snprintf(body, cap, "%.*s", (int)r.body_len,
		         r.body ? r.body : "");
		harness_resp_free(&r);
	} else {
		st = -1;
		snprintf(body, cap, "no response: %s", r.error);
	}
	harness_conn_close(c);
	free(c);
	return st;
}

#define PLAIN_LISTENER                                             \
	"[listen front]\naddress = 127.0.0.1:%d\nmode = reverse\n" \
	"default_backend = %s\n"

START_TEST(backend_tls_verify_off)
{
	static const char *const args[] = {"-n", "t1", NULL};
	struct harness_origin tls_origin;
	char body[256];
	int st;

	HCHECK(harness_origin_start_args(&tls_origin, 1, args) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER "[backend off]\nserver = 127.0.0.1:%d tls\n"
	                     "tls_verify = off\n",
	      proxy.port, "off", tls_origin.port);
	st = get_host("x.test", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "t1\n") == 0,
	       "tls_verify = off: %d \"%s\"", st, body);
	stat_reaches("tls_upstream_handshakes", 1);
	HCHECK(stat_total("tls_upstream_failures") == 0, "failures counted");
}
END_TEST

START_TEST(backend_tls_wrong_ca)
{
	static const char *const args[] = {"-n", "t1", NULL};
	struct harness_origin tls_origin;
	char body[1024], log[16384];
	int st;

	pki();
	/* the origin's own self-signed certificate, checked against the
	 * test CA */
	HCHECK(harness_origin_start_args(&tls_origin, 1, args) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER "[backend wrong]\nserver = 127.0.0.1:%d tls\n"
	                     "tls_ca = %s\nretries = 0\n",
	      proxy.port, "wrong", tls_origin.port, ca.cert);
	st = get_host("x.test", body, sizeof(body));
	HCHECK(st == 502, "unverified server: %d \"%.200s\"", st, body);
	stat_reaches("tls_upstream_failures", 1);
	HCHECK(file_has(proxy.stderr_log, "certificate verification", log,
	                sizeof(log)) ||
	               file_has(proxy.error_log, "certificate verification",
	                        log, sizeof(log)),
	       "no \"certificate verification\" in the error log:\n%s", log);
	HCHECK(stat_total("tls_upstream_handshakes") == 0,
	       "a handshake with an unverified server counted as done");
}
END_TEST

START_TEST(backend_tls_verified)
{
	struct harness_cert ip = {.name = "origin-ip",
	                          .cn = "127.0.0.1",
	                          .san = "IP:127.0.0.1",
	                          .issuer = "ca"};
	struct harness_origin o_ip, o_a;
	const char *args_ip[] = {"-n", "ip", "-C", NULL, "-K", NULL, NULL};
	const char *args_a[] = {"-n", "sni", "-C", NULL, "-K", NULL, NULL};
	char body[1024], log[16384];
	int st;

	pki();
	make(&ip);
	args_ip[3] = ip.cert;
	args_ip[5] = ip.key;
	args_a[3] = cert_a.cert;
	args_a[5] = cert_a.key;
	HCHECK(harness_origin_start_args(&o_ip, 1, args_ip) == 0,
	       "origin with the 127.0.0.1 certificate did not start");
	HCHECK(harness_origin_start_args(&o_a, 1, args_a) == 0,
	       "origin with the a.test certificate did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend ip]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "[backend sni]\nserver = 127.0.0.1:%d tls sni=a.test\n"
	      "tls_ca = %s\n"
	      "[backend badname]\nserver = 127.0.0.1:%d tls sni=b.test\n"
	      "tls_ca = %s\nretries = 0\n"
	      "[route sni]\nhost = sni.test\nbackend = sni\n"
	      "[route bad]\nhost = bad.test\nbackend = badname\n",
	      proxy.port, "ip", o_ip.port, ca.cert, o_a.port, ca.cert, o_a.port,
	      ca.cert);
	st = get_host("ip.test", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "ip\n") == 0,
	       "server verified by IP: %d \"%.200s\"", st, body);
	st = get_host("sni.test", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "sni\n") == 0,
	       "server verified by sni=a.test: %d \"%.200s\"", st, body);
	/* the right CA, the wrong name */
	st = get_host("bad.test", body, sizeof(body));
	HCHECK(st == 502, "server verified for a name not its own: %d", st);
	HCHECK(file_has(proxy.stderr_log, "certificate verification", log,
	                sizeof(log)) ||
	               file_has(proxy.error_log, "certificate verification",
	                        log, sizeof(log)),
	       "no \"certificate verification\" in the error log:\n%s", log);
	stat_reaches("tls_upstream_handshakes", 2);
	stat_reaches("tls_upstream_failures", 1);
}
END_TEST

/* The state and last check result of server 127.0.0.1:port in `proxyctl
 * backends --json`; 0 or -1. */
static int
server_state(int port, char *state, size_t slen, char *check, size_t clen)
{
	const char *bin = getenv("PROXYCTL_BIN");
	const char *argv[] = {bin && bin[0] ? bin : "build/proxyctl",
	                      "-s",
	                      proxy.shm_file,
	                      "backends",
	                      "--json",
	                      NULL};
	struct harness_run r;
	char pat[64];
	const char *at, *st, *ck;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = 10000;
	harness_run(&r);
	snprintf(pat, sizeof(pat), "\"server\":\"127.0.0.1:%d\"", port);
	if (r.code == 0 && (at = strstr(r.out, pat)) != NULL &&
	    (st = strstr(at, "\"state\":\"")) != NULL &&
	    (ck = strstr(at, "\"result\":\"")) != NULL) {
		st += 9;
		ck += 10;
		snprintf(state, slen, "%.*s", (int)strcspn(st, "\""), st);
		snprintf(check, clen, "%.*s", (int)strcspn(ck, "\""), ck);
		rc = 0;
	}
	harness_run_free(&r);
	return rc;
}

/* Waits until server 127.0.0.1:port is in state want, its last check
 * saying want_check (a part of it; NULL: any). */
static void
state_is(int port, const char *want, const char *want_check)
{
	int64_t deadline = harness_now_ms() + slow(10000);
	char st[32] = "", check[128] = "";

	do {
		if (server_state(port, st, sizeof(st), check, sizeof(check)) ==
		            0 &&
		    strcmp(st, want) == 0 &&
		    (want_check == NULL || strstr(check, want_check) != NULL))
			return;
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	HCHECK(0,
	       "server 127.0.0.1:%d is %s (last check \"%s\"), wanted %s (%s)",
	       port, st, check, want, want_check ? want_check : "any");
}

/* Active checks of servers marked tls go over TLS, verified as requests
 * are. */
START_TEST(backend_tls_health_check)
{
	struct harness_cert ip = {.name = "origin-ip",
	                          .cn = "127.0.0.1",
	                          .san = "IP:127.0.0.1",
	                          .issuer = "ca"};
	struct harness_origin good, bad;
	const char *args[] = {"-n", "good", "-C", NULL, "-K",
	                      NULL, "-H",   NULL, NULL};
	static const char *const bad_args[] = {"-n", "bad", NULL};
	char health[PATH_MAX], body[1024];
	int st;

	pki();
	make(&ip);
	snprintf(health, sizeof(health), "%s/unhealthy", harness_tmpdir());
	args[3] = ip.cert;
	args[5] = ip.key;
	args[7] = health;
	HCHECK(harness_origin_start_args(&good, 1, args) == 0,
	       "TLS origin did not start");
	HCHECK(harness_origin_start_args(&bad, 1, bad_args) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend good]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "check = GET /healthz\ncheck_interval = 200ms\nrise = 1\n"
	      "fall = 1\n"
	      "[backend bad]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "check = GET /healthz\ncheck_interval = 200ms\nrise = 1\n"
	      "fall = 1\n"
	      "[route bad]\nhost = bad.test\nbackend = bad\n",
	      proxy.port, "good", good.port, ca.cert, bad.port, ca.cert);
	state_is(good.port, "up", "ok");
	/* a certificate the CA did not sign: down, and why */
	state_is(bad.port, "down", "TLS");
	st = get_host("bad.test", body, sizeof(body));
	HCHECK(st == 503, "a request to the unverified server: %d", st);
	/* the check's HTTP answer over TLS counts */
	HCHECK(harness_write_file("unhealthy", "", 0, health, sizeof(health)) ==
	               0,
	       "health file");
	state_is(good.port, "down", "bad status");
	HCHECK(unlink(health) == 0, "remove the health file");
	state_is(good.port, "up", "ok");
	st = get_host("good.test", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "good\n") == 0, "good: %d \"%.200s\"",
	       st, body);
}
END_TEST

/* send_proxy to a tls server: the PROXY header goes before the
 * handshake (origin -P with -t wants it there). */
START_TEST(backend_tls_send_proxy)
{
	static const char *const args1[] = {"-n", "v1", "-P", NULL};
	static const char *const args2[] = {"-n", "v2", "-P", NULL};
	struct harness_origin o1, o2;
	struct harness_conn *c = calloc(1, sizeof(*c));
	struct harness_resp r;
	char want[64];
	int i;

	HCHECK(c != NULL, "calloc");
	HCHECK(harness_origin_start_args(&o1, 1, args1) == 0 &&
	               harness_origin_start_args(&o2, 1, args2) == 0,
	       "TLS origins did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend p1]\nserver = 127.0.0.1:%d tls\ntls_verify = off\n"
	      "send_proxy = v1\n"
	      "[backend p2]\nserver = 127.0.0.1:%d tls\ntls_verify = off\n"
	      "send_proxy = v2\n"
	      "[route p2]\nhost = p2.test\nbackend = p2\n",
	      proxy.port, "p1", o1.port, o2.port);
	for (i = 0; i < 2; i++) {
		HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
		HCHECK(harness_conn_sendf(c,
		                          "GET /proxy HTTP/1.1\r\nHost: %s\r\n"
		                          "Connection: close\r\n\r\n",
		                          i ? "p2.test" : "p1.test") == 0,
		       "send");
		HCHECK(harness_conn_response(c, &r, 0, slow(HARNESS_WAIT_MS)) ==
		               0,
		       "v%d: no response: %s", i + 1, r.error);
		snprintf(want, sizeof(want), " dst=127.0.0.1:%d\n",
		         i ? o2.port : o1.port);
		HCHECK(r.status == 200 && r.body &&
		               strncmp(r.body, "src=127.0.0.1:", 14) == 0 &&
		               strstr(r.body, want) != NULL,
		       "v%d: %d, the origin saw \"%.*s\"", i + 1, r.status,
		       (int)r.body_len, r.body ? r.body : "");
		harness_resp_free(&r);
		harness_conn_close(c);
	}
	free(c);
}
END_TEST

/* A listener on 127.0.0.1 that never accepts: the kernel completes TCP
 * handshakes into its backlog, and nothing ever answers.  Its port. */
static int
silent_listener(int *fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	HCHECK(*fd >= 0 && bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	               listen(*fd, 16) == 0 &&
	               getsockname(*fd, (struct sockaddr *)&sa, &len) == 0,
	       "silent listener");
	return ntohs(sa.sin_port);
}

/* A server that takes the TCP connection and never answers the
 * ClientHello: the handshake ends at connect_timeout, and the request
 * goes on to the next server (the backup, once fall = 1 took the first
 * out). */
START_TEST(backend_tls_handshake_timeout_failover)
{
	static const char *const args[] = {"-n", "t1", NULL};
	struct harness_origin tls_origin;
	pid_t before[HARNESS_MAX_PIDS];
	char body[1024];
	int silent_fd, silent, nw, st;
	int64_t ms;

	silent = silent_listener(&silent_fd);
	HCHECK(harness_origin_start_args(&tls_origin, 1, args) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER "[backend hang]\nserver = 127.0.0.1:%d tls\n"
	                     "server = 127.0.0.1:%d tls backup\n"
	                     "tls_verify = off\nconnect_timeout = 1s\n"
	                     "fall = 1\nretries = 1\n",
	      proxy.port, "hang", silent, tls_origin.port);
	nw = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	ms = harness_now_ms();
	st = get_host("x.test", body, sizeof(body));
	ms = harness_now_ms() - ms;
	HCHECK(st == 200 && strcmp(body, "t1\n") == 0,
	       "after a TLS handshake that timed out: %d \"%.200s\" after "
	       "%lld ms",
	       st, body, (long long)ms);
	same_workers(before, nw);
	close(silent_fd);
}
END_TEST

#define REUSE_REQS 6

START_TEST(backend_tls_session_reuse)
{
	struct harness_cert ip = {.name = "origin-ip",
	                          .cn = "127.0.0.1",
	                          .san = "IP:127.0.0.1",
	                          .issuer = "ca"};
	struct harness_origin o;
	const char *args[] = {"-n", "o", "-C", NULL, "-K", NULL, NULL};
	char body[256];
	uint64_t hs0, hs, res;
	int i, st;

	pki();
	make(&ip);
	args[3] = ip.cert;
	args[5] = ip.key;
	HCHECK(harness_origin_start_args(&o, 1, args) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend pooled]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "[backend fresh]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "keepalive = 0\n"
	      "[route fresh]\nhost = fresh.test\nbackend = fresh\n",
	      proxy.port, "pooled", o.port, ca.cert, o.port, ca.cert);

	/* pooled: one handshake per worker at most */
	for (i = 0; i < REUSE_REQS; i++) {
		st = get_host("pooled.test", body, sizeof(body));
		HCHECK(st == 200 && strcmp(body, "o\n") == 0,
		       "pooled request %d: %d \"%.200s\"", i, st, body);
	}
	hs0 = stat_reaches("tls_upstream_handshakes", 1);
	HCHECK(hs0 <= 2,
	       "%llu TLS handshakes for %d requests with a connection pool",
	       (unsigned long long)hs0, REUSE_REQS);

	/* no pool: a handshake each, resuming the session of the last */
	for (i = 0; i < REUSE_REQS; i++) {
		st = get_host("fresh.test", body, sizeof(body));
		HCHECK(st == 200 && strcmp(body, "o\n") == 0,
		       "unpooled request %d: %d \"%.200s\"", i, st, body);
	}
	hs = stat_reaches("tls_upstream_handshakes", hs0 + REUSE_REQS);
	res = stat_total("tls_upstream_resumptions");
	HCHECK(res >= REUSE_REQS - 2,
	       "%llu of %llu backend handshakes resumed a session",
	       (unsigned long long)res, (unsigned long long)hs);
	HCHECK(stat_total("tls_upstream_failures") == 0, "failures counted");
}
END_TEST

/* ---- 5. HTTPS proxy ------------------------------------------------ */

START_TEST(https_forward_proxy)
{
	struct harness_cert ip = {.name = "proxy-ip",
	                          .cn = "127.0.0.1",
	                          .san = "IP:127.0.0.1",
	                          .issuer = "ca"};
	struct harness_origin tls_origin;
	struct harness_run r = {.check_pattern = 1};
	char px[64], url[128], file[PATH_MAX], at[PATH_MAX + 1];

	pki();
	make(&ip);
	origin_up();
	HCHECK(harness_origin_start(&tls_origin, 1) == 0,
	       "TLS origin did not start");
	proxy_init();
	start(NULL,
	      "[listen fwd]\naddress = 127.0.0.1:%d\nmode = forward\n"
	      "allow_loopback = on\ntls = on\ntls_cert = %s\ntls_key = %s\n"
	      "connect_ports = 443, %d\n",
	      proxy.port, ip.cert, ip.key, tls_origin.port);
	snprintf(px, sizeof(px), "https://127.0.0.1:%d", proxy.port);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/100", origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert, "-o",
	             "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == 100 && r.pattern_ok,
	       "GET via the HTTPS proxy: exit %d, %llu bytes: %s", r.code,
	       (unsigned long long)r.out_total, r.err);
	harness_run_free(&r);

	/* big bodies both ways: partial TLS writes, WANT_READ/WANT_WRITE */
	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/3000000",
	         origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert, "-o",
	             "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == 3000000 && r.pattern_ok,
	       "3 MB via the HTTPS proxy: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);
	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	HCHECK(harness_write_pattern_file("up.bin", 2000000, file,
	                                  sizeof(file)) == 0,
	       "write up.bin");
	snprintf(at, sizeof(at), "@%s", file);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert,
	             "--data-binary", at, url, NULL);
	HCHECK(r.code == 0 && r.out_total == 2000000 && r.pattern_ok,
	       "2 MB POST echo via the HTTPS proxy: exit %d, %llu bytes: %s",
	       r.code, (unsigned long long)r.out_total, r.err);
	harness_run_free(&r);

	/* CONNECT through the HTTPS proxy to a TLS origin: TLS in TLS */
	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/size/1000000",
	         tls_origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert, "-k",
	             "-o", "-", url, NULL);
	HCHECK(r.code == 0 && r.out_total == 1000000 && r.pattern_ok,
	       "CONNECT via the HTTPS proxy: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);

	/* the proxy's certificate is checked by the client as usual */
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/10", origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, url, NULL);
	HCHECK(r.code != 0, "an HTTPS proxy with an unknown CA was trusted");
	harness_run_free(&r);
}
END_TEST

/* Rules on the SNI of a tunnel read the ClientHello inside the HTTPS
 * proxy's own TLS. */
START_TEST(https_proxy_sni_rules)
{
	static const char rules[] = "[rules]\ndefault = allow\n"
	                            "[rule no-evil]\nsni = evil.test\n"
	                            "action = deny\n";
	struct harness_cert ip = {.name = "proxy-ip",
	                          .cn = "127.0.0.1",
	                          .san = "IP:127.0.0.1",
	                          .issuer = "ca"};
	struct harness_origin tls_origin;
	struct harness_run r;
	char px[64], url[128], to[128], rules_path[PATH_MAX],
	        extra[PATH_MAX + 16], log[65536];

	pki();
	make(&ip);
	HCHECK(harness_origin_start(&tls_origin, 1) == 0,
	       "TLS origin did not start");
	HCHECK(harness_write_file("rules.ini", rules, strlen(rules), rules_path,
	                          sizeof(rules_path)) == 0,
	       "write rules.ini");
	snprintf(extra, sizeof(extra), "rules = %s\n", rules_path);
	proxy_init();
	start(extra,
	      "[listen fwd]\naddress = 127.0.0.1:%d\nmode = forward\n"
	      "allow_loopback = on\ntls = on\ntls_cert = %s\ntls_key = %s\n"
	      "connect_ports = 443, %d\n",
	      proxy.port, ip.cert, ip.key, tls_origin.port);
	snprintf(px, sizeof(px), "https://127.0.0.1:%d", proxy.port);

	/* CONNECT 127.0.0.1:PORT with an inner SNI good.test: passes */
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "https://good.test:%d/size/10",
	         tls_origin.port);
	snprintf(to, sizeof(to), "good.test:%d:127.0.0.1:%d", tls_origin.port,
	         tls_origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert, "-k",
	             "--connect-to", to, url, NULL);
	HCHECK(r.code == 0 && r.out_total == 10,
	       "SNI good.test through the HTTPS proxy: exit %d: %s", r.code,
	       r.err);
	harness_run_free(&r);
	/* the same with evil.test: the tunnel is closed */
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "https://evil.test:%d/size/10",
	         tls_origin.port);
	snprintf(to, sizeof(to), "evil.test:%d:127.0.0.1:%d", tls_origin.port,
	         tls_origin.port);
	harness_curl(&r, CURL_S, "--proxy", px, "--proxy-cacert", ca.cert, "-k",
	             "--connect-to", to, url, NULL);
	HCHECK(r.code != 0 && r.out_total == 0,
	       "SNI evil.test went through the HTTPS proxy: exit %d", r.code);
	harness_run_free(&r);
	HCHECK(file_has(proxy.access_log, "sni=evil.test", log, sizeof(log)),
	       "no sni=evil.test in the access log:\n%s", log);
	HCHECK(strstr(log, "rule=no-evil action=deny") != NULL,
	       "the denial is not logged:\n%s", log);
}
END_TEST

/* ---- 6. X-Forwarded-Proto, the access log -------------------------- */

START_TEST(forwarded_proto_and_access_log)
{
	struct harness_run r;
	char log[65536], url[128];
	int plain = harness_free_port();
	const char *line;

	pki();
	origin_up();
	proxy_init();
	HCHECK(plain > 0, "free port");
	start(NULL,
	      "%s%s[listen plain]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	      "default_backend = b1\n",
	      site(proxy.port, "forwarded = on\n"), backend_b1(), plain);

	memset(&r, 0, sizeof(r));
	/* a client's own X-Forwarded-Proto is not believed */
	site_curl(&r, "a.test", proxy.port, "/headers", "-H",
	          "X-Forwarded-Proto: http", NULL);
	HCHECK(r.code == 0, "curl: exit %d: %s", r.code, r.err);
	HCHECK(harness_head_count(r.out, "X-Forwarded-Proto") == 1 &&
	               strstr(r.out, "X-Forwarded-Proto: https\r\n") != NULL,
	       "the backend saw:\n%s", r.out);
	HCHECK(strstr(r.out, ";proto=https") != NULL,
	       "no Forwarded: ...;proto=https:\n%s", r.out);
	harness_run_free(&r);

	memset(&r, 0, sizeof(r));
	site_curl(&r, "b.test", proxy.port, "/size/5", "--tlsv1.2", "--tls-max",
	          "1.2", NULL);
	HCHECK(r.code == 0, "curl TLS 1.2: exit %d: %s", r.code, r.err);
	harness_run_free(&r);

	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/7", plain);
	harness_curl(&r, CURL_S, "-H", "Host: plain.test", url, NULL);
	HCHECK(r.code == 0, "plain curl: exit %d: %s", r.code, r.err);
	harness_run_free(&r);

	HCHECK(file_has(proxy.access_log, "/size/7 ", log, sizeof(log)) &&
	               file_has(proxy.access_log, "/size/5 ", log,
	                        sizeof(log)) &&
	               file_has(proxy.access_log, "/headers ", log,
	                        sizeof(log)),
	       "access log lines missing:\n%s", log);
	line = strstr(log, "\"GET /headers ");
	HCHECK(line != NULL && strstr(line, " tls=TLSv1.3/TLS_") != NULL &&
	               strstr(line, " tls=TLSv1.3/TLS_") <
	                       line + strcspn(line, "\n"),
	       "no tls=TLSv1.3/CIPHER on the TLS 1.3 request's line:\n%s", log);
	line = strstr(log, "\"GET /size/5 ");
	HCHECK(line != NULL && strstr(line, " tls=TLSv1.2/ECDHE-") != NULL &&
	               strstr(line, " tls=TLSv1.2/ECDHE-") <
	                       line + strcspn(line, "\n"),
	       "no tls=TLSv1.2/CIPHER on the TLS 1.2 request's line:\n%s", log);
	line = strstr(log, "\"GET /size/7 ");
	HCHECK(line != NULL &&
	               (strstr(line, " tls=") == NULL ||
	                strstr(line, " tls=") > line + strcspn(line, "\n")),
	       "tls= on a plain request's line:\n%s", log);
}
END_TEST

START_TEST(json_access_log_tls)
{
	struct harness_run r;
	char log[65536], url[128];
	int plain = harness_free_port();
	const char *line;

	pki();
	origin_up();
	proxy_init();
	HCHECK(plain > 0, "free port");
	start("access_log_format = json\n",
	      "%s%s[listen plain]\naddress = 127.0.0.1:%d\nmode = reverse\n"
	      "default_backend = b1\n",
	      site(proxy.port, NULL), backend_b1(), plain);
	memset(&r, 0, sizeof(r));
	site_curl(&r, "a.test", proxy.port, "/size/3", NULL);
	HCHECK(r.code == 0, "curl: exit %d: %s", r.code, r.err);
	harness_run_free(&r);
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/size/4", plain);
	harness_curl(&r, CURL_S, url, NULL);
	HCHECK(r.code == 0, "plain curl: exit %d: %s", r.code, r.err);
	harness_run_free(&r);
	HCHECK(file_has(proxy.access_log, "/size/3", log, sizeof(log)) &&
	               file_has(proxy.access_log, "/size/4", log, sizeof(log)),
	       "access log lines missing:\n%s", log);
	line = strstr(log, "/size/3");
	while (line > log && line[-1] != '\n')
		line--;
	HCHECK(strstr(line, "\"tls\":\"TLSv1.3/TLS_") != NULL &&
	               strstr(line, "\"tls\":\"TLSv1.3/TLS_") <
	                       line + strcspn(line, "\n"),
	       "no \"tls\":\"TLSv1.3/...\" on the TLS request's line:\n%s",
	       log);
	line = strstr(log, "/size/4");
	while (line > log && line[-1] != '\n')
		line--;
	HCHECK(strstr(line, "\"tls\":null") != NULL &&
	               strstr(line, "\"tls\":null") <
	                       line + strcspn(line, "\n"),
	       "no \"tls\":null on the plain request's line:\n%s", log);
}
END_TEST

/* ---- 7. a new certificate by SIGHUP, under load -------------------- */

/* What the load clients' output says: requests answered 200, and how
 * many connections were shown the old and the new certificate. */
struct load_count {
	int ok, old_cert, new_cert;
};

static void
count_load(const char *path, struct load_count *n)
{
	const size_t cap = 4u << 20;
	char *buf = malloc(cap);
	const char *p;

	memset(n, 0, sizeof(*n));
	HCHECK(buf != NULL, "malloc");
	slurp(path, buf, cap);
	/* each request writes "CODE NUM_CERTS\n" and then its certificates
	 * as curl describes them ("Subject:CN = ...") */
	for (p = buf; (p = strstr(p, "200 1\n")) != NULL; p += 6)
		if (p == buf || p[-1] == '\n')
			n->ok++;
	n->old_cert = count_of(buf, "Subject:CN = a.test\n");
	n->new_cert = count_of(buf, "Subject:CN = a.test v2\n");
	free(buf);
}

START_TEST(sighup_new_certificate_under_load)
{
	struct harness_cert next = {.name = "a-next",
	                            .cn = "a.test v2",
	                            .san = "DNS:a.test",
	                            .issuer = "ca"};
	const char *argv[20];
	char cfg[PATH_MAX], out[LOAD_CLIENTS][PATH_MAX], resolve[64];
	char subj[256], log[16384];
	struct load_count c, all = {0, 0, 0};
	pid_t pids[LOAD_CLIENTS];
	struct harness_run r;
	int i, k, done, st;
	int64_t deadline;
	FILE *f;

	site_up(NULL, NULL);
	make(&next);
	/* one curl per client: LOAD_REQS requests, each on a new
	 * connection (Connection: close) with a full handshake (no session
	 * reuse), so each sees the certificate served at that moment; the
	 * origin waits 5 ms before each answer, so the load lasts */
	snprintf(cfg, sizeof(cfg), "%s/load.curl", harness_tmpdir());
	f = fopen(cfg, "we");
	HCHECK(f != NULL, "write %s", cfg);
	for (k = 0; k < LOAD_REQS; k++)
		fprintf(f,
		        "url = \"https://a.test:%d/slow/5\"\n"
		        "output = \"/dev/null\"\n",
		        proxy.port);
	HCHECK(fclose(f) == 0, "write %s", cfg);
	snprintf(resolve, sizeof(resolve), "a.test:%d:127.0.0.1", proxy.port);
	for (i = 0; i < LOAD_CLIENTS; i++) {
		snprintf(out[i], sizeof(out[i]), "%s/load-%d.out",
		         harness_tmpdir(), i);
		k = 0;
		argv[k++] = "curl";
		argv[k++] = "-sS";
		argv[k++] = "--max-time";
		argv[k++] = "20";
		argv[k++] = "--cacert";
		argv[k++] = ca.cert;
		argv[k++] = "--resolve";
		argv[k++] = resolve;
		argv[k++] = "--no-sessionid";
		argv[k++] = "-H";
		argv[k++] = "Connection: close";
		argv[k++] = "-w";
		argv[k++] = "%{http_code} %{num_certs}\\n%{certs}";
		argv[k++] = "-K";
		argv[k++] = cfg;
		argv[k] = NULL;
		pids[i] = harness_start_bg(argv, out[i]);
		HCHECK(pids[i] > 0, "start load client %d", i);
	}
	/* the reload while the clients are busy: after some requests */
	deadline = harness_now_ms() + slow(20000);
	do {
		for (i = 0, done = 0; i < LOAD_CLIENTS; i++) {
			count_load(out[i], &c);
			done += c.ok;
		}
		if (done >= 30)
			break;
		harness_sleep_ms(20);
	} while (harness_now_ms() < deadline);
	HCHECK(done >= 30 && done < LOAD_CLIENTS * LOAD_REQS,
	       "%d requests done before the reload", done);
	/* the new certificate replaces the old files, as an operator's
	 * renewal would */
	HCHECK(rename(next.cert, cert_a.cert) == 0 &&
	               rename(next.key, cert_a.key) == 0,
	       "replace a.test's certificate");
	HCHECK(kill(proxy.pid, SIGHUP) == 0, "SIGHUP");

	for (i = 0; i < LOAD_CLIENTS; i++) {
		st = harness_wait_pid(pids[i], slow(60000));
		HCHECK(st != -1, "load client %d did not finish", i);
	}
	for (i = 0; i < LOAD_CLIENTS; i++) {
		count_load(out[i], &c);
		slurp(out[i], log, 2048);
		HCHECK(c.ok == LOAD_REQS,
		       "client %d: %d of %d requests got 200 (%d done at the "
		       "SIGHUP); its output starts:\n%s",
		       i, c.ok, LOAD_REQS, done, log);
		all.ok += c.ok;
		all.old_cert += c.old_cert;
		all.new_cert += c.new_cert;
	}
	/* the load ran across the reload: both certificates were seen */
	HCHECK(all.old_cert + all.new_cert == all.ok && all.old_cert > 0 &&
	               all.new_cert > 0,
	       "%d requests: %d saw the old certificate, %d the new one",
	       all.ok, all.old_cert, all.new_cert);

	/* and from now on the new one is served */
	s_client_name(&r, proxy.port, "a.test");
	subject_of(&r, subj, sizeof(subj));
	HCHECK(strcmp(subj, "subject=CN = a.test v2") == 0 &&
	               strstr(r.out, "Verify return code: 0 (ok)") != NULL,
	       "after SIGHUP a.test gets \"%s\"\n%s", subj, r.out);
	harness_run_free(&r);
	/* the others are still served */
	s_client_name(&r, proxy.port, "b.test");
	HCHECK(strcmp(subject_of(&r, subj, sizeof(subj)),
	              "subject=CN = b.test") == 0,
	       "after SIGHUP b.test gets \"%s\"", subj);
	harness_run_free(&r);
	slurp(proxy.stderr_log, log, sizeof(log));
	HCHECK(strstr(log, "reload rejected") == NULL,
	       "the reload was rejected:\n%s", log);
}
END_TEST

/* ---- 8. proxyd -t -------------------------------------------------- */

static const char *
proxyd_bin(void)
{
	const char *v = getenv("PROXYD_BIN");

	return v != NULL && v[0] != '\0' ? v : "build/proxyd";
}

/* Writes a config whose [listen web] (at line LISTEN_LINE) has the
 * lines given, runs proxyd -t on it; r holds what it said. */
#define LISTEN_LINE 10

static void
test_config(struct harness_run *r, const char *listen_lines)
{
	const char *argv[] = {proxyd_bin(), "-t", "-c", proxy.conf, NULL};

	conf(NULL,
	     "[listen web]\naddress = 127.0.0.1:%d\nmode = reverse\n%s"
	     "default_backend = b1\n[backend b1]\nserver = 127.0.0.1:9\n",
	     proxy.port, listen_lines);
	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = 20000;
	harness_run(r);
	r->argv = NULL;
}

/* proxyd -t refused it: exit 1 and "CONF:LINE: [listen web]" and want
 * in what it said. */
static void
refused(const char *what, const char *listen_lines, int line, const char *want)
{
	struct harness_run r;
	char where[PATH_MAX + 64];

	test_config(&r, listen_lines);
	snprintf(where, sizeof(where), "%s:%d: [listen web]", proxy.conf, line);
	HCHECK(r.code == 1, "%s: proxyd -t exit %d:\n%s%s", what, r.code, r.out,
	       r.err);
	HCHECK(strstr(r.err, where) != NULL,
	       "%s: no \"%s\" in what proxyd -t said:\n%s", what, where, r.err);
	HCHECK(strcasestr(r.err, want) != NULL,
	       "%s: no \"%s\" in what proxyd -t said:\n%s", what, want, r.err);
	harness_run_free(&r);
}

/* [listen web]'s TLS lines: tls = on, tls_cert, tls_key (lines 13 to
 * 15), then more (from line 16). */
static const char *
tls_lines(const char *cert, const char *key, const char *more)
{
	static char out[3 * PATH_MAX];
	int n = snprintf(out, sizeof(out),
	                 "tls = on\ntls_cert = %s\ntls_key = %s\n%s", cert, key,
	                 more ? more : "");

	HCHECK(n > 0 && (size_t)n < sizeof(out), "lines too long");
	return out;
}

START_TEST(config_test_errors)
{
	struct harness_cert expired = {.name = "expired",
	                               .cn = "a.test",
	                               .san = "DNS:a.test",
	                               .issuer = "ca",
	                               .not_before_s = -30L * 86400,
	                               .not_after_s = -86400};
	struct harness_cert future = {.name = "future",
	                              .cn = "a.test",
	                              .san = "DNS:a.test",
	                              .issuer = "ca",
	                              .not_before_s = 86400,
	                              .not_after_s = 30L * 86400};
	struct harness_cert inter = {.name = "inter",
	                             .cn = "test intermediate",
	                             .issuer = "ca",
	                             .ca = 1};
	struct harness_cert leaf2 = {.name = "leaf2",
	                             .cn = "c.test",
	                             .san = "DNS:c.test",
	                             .issuer = "inter"};
	struct harness_cert soon = {.name = "soon",
	                            .cn = "a.test",
	                            .san = "DNS:a.test",
	                            .issuer = "ca",
	                            .not_after_s = 10L * 86400};
	struct harness_run r;
	char chain[PATH_MAX], bad[PATH_MAX], more[2 * PATH_MAX + 32];

	pki();
	make(&expired);
	make(&future);
	make(&inter);
	make(&leaf2);
	make(&soon);
	proxy_init();

	/* a valid one first: leaf, then its issuer */
	HCHECK(harness_cat_files("good-chain.pem", chain, sizeof(chain),
	                         leaf2.cert, inter.cert, NULL) == 0,
	       "write the chain");
	snprintf(more, sizeof(more), "certificate = %s %s\n", cert_a.cert,
	         cert_a.key);
	test_config(&r, tls_lines(chain, leaf2.key, more));
	HCHECK(r.code == 0, "a good configuration refused: exit %d\n%s%s",
	       r.code, r.out, r.err);
	harness_run_free(&r);
	/* ending within 30 days: valid, with a warning */
	test_config(&r, tls_lines(soon.cert, soon.key, NULL));
	HCHECK(r.code == 0 && (strstr(r.err, "expires within 30 days") ||
	                       strstr(r.out, "expires within 30 days")),
	       "a certificate ending in 10 days: exit %d, no warning:\n%s%s",
	       r.code, r.out, r.err);
	harness_run_free(&r);

	refused("key of another certificate",
	        tls_lines(cert_a.cert, cert_b.key, NULL), LISTEN_LINE, "match");
	/* the same in a certificate = line: that line is named */
	snprintf(more, sizeof(more), "certificate = %s %s\n", cert_b.cert,
	         cert_a.key);
	refused("certificate = with the key of another",
	        tls_lines(cert_d.cert, cert_d.key, more), LISTEN_LINE + 6,
	        "match");
	refused("expired certificate",
	        tls_lines(expired.cert, expired.key, NULL), LISTEN_LINE,
	        "expired");
	refused("certificate not valid yet",
	        tls_lines(future.cert, future.key, NULL), LISTEN_LINE,
	        "not valid yet");
	/* leaf, root, intermediate: the root does not issue the leaf */
	HCHECK(harness_cat_files("bad-chain.pem", bad, sizeof(bad), leaf2.cert,
	                         ca.cert, inter.cert, NULL) == 0,
	       "write the chain");
	refused("chain out of order (leaf, root, intermediate)",
	        tls_lines(bad, leaf2.key, NULL), LISTEN_LINE, "out of order");
	refused("tls = on without tls_cert", "tls = on\n", LISTEN_LINE,
	        "tls_cert");
	snprintf(more, sizeof(more), "tls_key = %s\n", cert_a.key);
	refused("tls_key without tls_cert", more, LISTEN_LINE, "tls_cert");
	refused("missing certificate file",
	        tls_lines("/nonexistent/cert.pem", cert_a.key, NULL),
	        LISTEN_LINE, "/nonexistent/cert.pem");
	snprintf(more, sizeof(more), "certificate = %s %s\n", cert_a.cert,
	         cert_a.key);
	refused("certificate = without tls = on", more, LISTEN_LINE + 3,
	        "tls = on");
	refused("TLS 1.1 asked for",
	        tls_lines(cert_a.cert, cert_a.key, "tls_protocols = TLSv1.1\n"),
	        LISTEN_LINE + 6, "TLSv1.1");
	refused("a cipher list OpenSSL does not know",
	        tls_lines(cert_a.cert, cert_a.key,
	                  "tls_ciphers = NO-SUCH-CIPHER\n"),
	        LISTEN_LINE, "tls_ciphers");
}
END_TEST

/* The brief's case of a chain out of order: the CA first, then the leaf
 * (cat ca.pem a.pem).  proxyd -t must refuse it, and say why. */
START_TEST(config_test_chain_ca_first)
{
	struct harness_run r;
	char bad[PATH_MAX], where[PATH_MAX + 64];

	pki();
	proxy_init();
	HCHECK(harness_cat_files("ca-first.pem", bad, sizeof(bad), ca.cert,
	                         cert_a.cert, NULL) == 0,
	       "write the chain");
	/* it cannot tell the order from the key's mismatch with the first
	 * certificate, but it must point at it */
	test_config(&r, tls_lines(bad, cert_a.key, NULL));
	snprintf(where, sizeof(where), "%s:%d: [listen web]", proxy.conf,
	         LISTEN_LINE);
	HCHECK(r.code == 1 && strstr(r.err, where) != NULL,
	       "CA, then leaf: exit %d, no \"%s\":\n%s", r.code, where, r.err);
	HCHECK(strcasestr(r.err, "order") != NULL ||
	               strcasestr(r.err, "leaf certificate first") != NULL,
	       "CA, then leaf: nothing says the leaf must come first:\n%s",
	       r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- 9. handshakes that do not happen ------------------------------ */

START_TEST(handshake_timeout_and_not_tls)
{
	struct harness_conn *c = calloc(1, sizeof(*c));
	struct harness_run r;
	pid_t before[HARNESS_MAX_PIDS];
	char junk[4096];
	uint64_t t0, p0, o0;
	int64_t ms;
	int nw, closed;

	HCHECK(c != NULL, "calloc");
	site_up(NULL, "client_header = 1s\n");
	nw = harness_proxy_workers(&proxy, before, HARNESS_MAX_PIDS);
	HCHECK(nw >= 2, "%d workers", nw);

	/* connected, silent: closed after client_header */
	t0 = stat_total("tls_failures_timeout");
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	ms = harness_now_ms();
	closed = harness_conn_closed(c, slow(5000));
	ms = harness_now_ms() - ms;
	HCHECK(closed == 1, "a silent connection was %s after %lld ms",
	       closed == 0 ? "answered" : "not closed", (long long)ms);
	HCHECK(ms >= 800 && ms < slow(4000),
	       "a silent connection closed after %lld ms (client_header 1s)",
	       (long long)ms);
	harness_conn_close(c);
	stat_reaches("tls_failures_timeout", t0 + 1);

	/* half a ClientHello, then silence: the same */
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	HCHECK(harness_conn_send(c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
	                         9) == 0,
	       "send");
	HCHECK(harness_conn_closed(c, slow(5000)) == 1,
	       "a half handshake was not closed");
	harness_conn_close(c);
	stat_reaches("tls_failures_timeout", t0 + 2);

	/* plain HTTP to the TLS port: refused, counted, nothing breaks */
	p0 = stat_total("tls_failures_protocol");
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(c, "GET /whoami HTTP/1.1\r\nHost: a.test\r\n"
	                             "\r\n") == 0,
	       "send");
	HCHECK(harness_conn_read_all(c, junk, sizeof(junk), slow(5000)) >= 0,
	       "plain HTTP on the TLS port was not closed");
	HCHECK(strstr(junk, "b1") == NULL, "plain HTTP was served: %s", junk);
	harness_conn_close(c);
	stat_reaches("tls_failures_protocol", p0 + 1);

	/* bytes that are nothing at all */
	o0 = stat_total("tls_failures_protocol") +
	     stat_total("tls_failures_other");
	memset(junk, 0xa5, sizeof(junk));
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	HCHECK(harness_conn_send(c, junk, 512) == 0, "send");
	HCHECK(harness_conn_read_all(c, junk, sizeof(junk), slow(5000)) >= 0,
	       "junk on the TLS port was not closed");
	harness_conn_close(c);
	HCHECK(stat_total("tls_failures_protocol") +
	                       stat_total("tls_failures_other") >
	               o0,
	       "junk was not counted as a failed handshake");

	/* and the site still works, on the same workers */
	memset(&r, 0, sizeof(r));
	site_curl(&r, "a.test", proxy.port, "/whoami", NULL);
	HCHECK(r.code == 0 && strcmp(r.out, "b1\n") == 0,
	       "after the failures: exit %d \"%s\": %s", r.code, r.out, r.err);
	harness_run_free(&r);
	same_workers(before, nw);
	free(c);
}
END_TEST

/* A client that does not trust our certificate says so (an alert):
 * counted as a certificate failure. */
START_TEST(client_refuses_certificate)
{
	struct harness_run r;
	char resolve[64], url[96];
	uint64_t c0;

	site_up(NULL, NULL);
	c0 = stat_total("tls_failures_certificate");
	snprintf(resolve, sizeof(resolve), "a.test:%d:127.0.0.1", proxy.port);
	snprintf(url, sizeof(url), "https://a.test:%d/whoami", proxy.port);
	memset(&r, 0, sizeof(r));
	/* the system's store, which does not hold the test CA */
	harness_curl(&r, CURL_S, "--resolve", resolve, url, NULL);
	HCHECK(r.code == 60, "curl trusted the test CA: exit %d: %s", r.code,
	       r.err);
	harness_run_free(&r);
	stat_reaches("tls_failures_certificate", c0 + 1);
}
END_TEST

/* ---- bodies over a TLS site ---------------------------------------- */

START_TEST(large_bodies_over_tls)
{
	struct harness_run r = {.check_pattern = 1};
	char file[PATH_MAX], at[PATH_MAX + 1];

	site_up(NULL, NULL);
	site_curl(&r, "a.test", proxy.port, "/size/4000000", "-o", "-", NULL);
	HCHECK(r.code == 0 && r.out_total == 4000000 && r.pattern_ok,
	       "4 MB download: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);
	memset(&r, 0, sizeof(r));
	r.check_pattern = 1;
	HCHECK(harness_write_pattern_file("up.bin", 3000000, file,
	                                  sizeof(file)) == 0,
	       "write up.bin");
	snprintf(at, sizeof(at), "@%s", file);
	site_curl(&r, "b.test", proxy.port, "/echo", "-H",
	          "Transfer-Encoding: chunked", "--data-binary", at, NULL);
	HCHECK(r.code == 0 && r.out_total == 3000000 && r.pattern_ok,
	       "3 MB chunked echo: exit %d, %llu bytes%s: %s", r.code,
	       (unsigned long long)r.out_total,
	       r.pattern_ok ? "" : ", not the pattern", r.err);
	harness_run_free(&r);
}
END_TEST

/* ---- mutual TLS to a backend ---------------------------------------- */

/* The client certificate proxyd shows its backends (the test CA's). */
static struct harness_cert cert_client = {
        .name = "client", .cn = "proxyd-client", .issuer = "ca"};

/* GET path with Host: host through the plain listener on proxy.port, as
 * get_host does; the status (-1 when no response came). */
static int
get_path(const char *host, const char *path, char *body, size_t cap)
{
	struct harness_conn *c = calloc(1, sizeof(*c));
	struct harness_resp r;
	int st;

	HCHECK(c != NULL, "calloc");
	HCHECK(harness_conn_open(c, proxy.port) == 0, "connect");
	HCHECK(harness_conn_sendf(c,
	                          "GET %s HTTP/1.1\r\nHost: %s\r\n"
	                          "Connection: close\r\n\r\n",
	                          path, host) == 0,
	       "send");
	if (harness_conn_response(c, &r, 0, slow(HARNESS_WAIT_MS)) == 0) {
		st = r.status;
		snprintf(body, cap, "%.*s", (int)r.body_len,
		         r.body ? r.body : "");
		harness_resp_free(&r);
	} else {
		st = -1;
		snprintf(body, cap, "no response: %s", r.error);
	}
	harness_conn_close(c);
	free(c);
	return st;
}

/* The PKI, the client certificate, and a TLS origin (-n mtls) with a
 * certificate for 127.0.0.1 that wants a client certificate the test CA
 * signed (-A); TLS 1.2 at most with tls12 (-2). */
static void
mtls_origin_up(struct harness_origin *o, int tls12)
{
	static struct harness_cert ip = {.name = "origin-ip",
	                                 .cn = "127.0.0.1",
	                                 .san = "IP:127.0.0.1",
	                                 .issuer = "ca"};
	const char *args[] = {"-n", "mtls", "-C", NULL, "-K",
	                      NULL, "-A",   NULL, NULL, NULL};
	struct harness_run r;
	char url[96];

	pki();
	make(&ip);
	make(&cert_client);
	args[3] = ip.cert;
	args[5] = ip.key;
	args[7] = ca.cert;
	args[8] = tls12 ? "-2" : NULL;
	HCHECK(harness_origin_start_args(o, 1, args) == 0,
	       "TLS origin with -A did not start");
	/* the origin itself: no client certificate, no answer */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/clientcert", o->port);
	memset(&r, 0, sizeof(r));
	harness_curl(&r, CURL_S, "--cacert", ca.cert, url, NULL);
	HCHECK(r.code != 0 && strstr(r.out, "proxyd-client") == NULL,
	       "the -A origin answered a client without a certificate: exit "
	       "%d \"%s\"",
	       r.code, r.out);
	harness_run_free(&r);
	/* and with one, it names it */
	memset(&r, 0, sizeof(r));
	harness_curl(&r, CURL_S, "--cacert", ca.cert, "--cert",
	             cert_client.cert, "--key", cert_client.key, url, NULL);
	HCHECK(r.code == 0 && strcmp(r.out, "proxyd-client\n") == 0,
	       "the -A origin with curl's client certificate: exit %d \"%s\": "
	       "%s",
	       r.code, r.out, r.err);
	harness_run_free(&r);
}

/* tls_client_cert/tls_client_key: the backend server asks for a client
 * certificate and gets proxyd's, pooled or not (resumed sessions keep
 * it). */
START_TEST(backend_tls_mutual)
{
	struct harness_origin o;
	char body[1024];
	uint64_t hs;
	int i, st;

	mtls_origin_up(&o, 0);
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend mtls]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "tls_client_cert = %s\ntls_client_key = %s\n"
	      "[backend fresh]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "tls_client_cert = %s\ntls_client_key = %s\nkeepalive = 0\n"
	      "[route fresh]\nhost = fresh.test\nbackend = fresh\n",
	      proxy.port, "mtls", o.port, ca.cert, cert_client.cert,
	      cert_client.key, o.port, ca.cert, cert_client.cert,
	      cert_client.key);
	st = get_path("m.test", "/clientcert", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "proxyd-client\n") == 0,
	       "mutual TLS: %d, the origin saw \"%.200s\"", st, body);
	st = get_path("m.test", "/whoami", body, sizeof(body));
	HCHECK(st == 200 && strcmp(body, "mtls\n") == 0,
	       "mutual TLS, /whoami: %d \"%.200s\"", st, body);
	/* a handshake each: the later ones resume, and still identify */
	for (i = 0; i < REUSE_REQS; i++) {
		st = get_path("fresh.test", "/clientcert", body, sizeof(body));
		HCHECK(st == 200 && strcmp(body, "proxyd-client\n") == 0,
		       "mutual TLS without a pool, request %d: %d \"%.200s\"",
		       i, st, body);
	}
	hs = stat_reaches("tls_upstream_handshakes", REUSE_REQS + 1);
	HCHECK(stat_total("tls_upstream_resumptions") >= 1,
	       "no backend session resumed in %llu mutual TLS handshakes",
	       (unsigned long long)hs);
	HCHECK(stat_total("tls_upstream_failures") == 0, "failures counted");
}
END_TEST

/* The same server, a backend with no client certificate: the server
 * ends the handshake, the client gets a 502, the error log says why and
 * the failure is counted.  With TLS 1.2 the refusal (an alert) ends the
 * client's handshake; with TLS 1.3 the client's side of the handshake is
 * over when it sends its (empty) Certificate, and the alert comes on its
 * first read.  Both are a failed TLS handshake with the server. */
static void
no_client_cert(int tls12)
{
	struct harness_origin o;
	char body[1024], log[16384];
	int st;

	mtls_origin_up(&o, tls12);
	proxy_init();
	start(NULL,
	      PLAIN_LISTENER
	      "[backend nocert]\nserver = 127.0.0.1:%d tls\ntls_ca = %s\n"
	      "retries = 0\n",
	      proxy.port, "nocert", o.port, ca.cert);
	st = get_path("n.test", "/clientcert", body, sizeof(body));
	HCHECK(st == 502, "TLS 1.%d, no client certificate: %d \"%.200s\"",
	       tls12 ? 2 : 3, st, body);
	HCHECK(file_has(proxy.stderr_log, "TLS handshake", log, sizeof(log)) ||
	               file_has(proxy.error_log, "TLS handshake", log,
	                        sizeof(log)),
	       "TLS 1.%d, a server that refused our missing client "
	       "certificate: no \"TLS handshake\" in the error log:\n%s",
	       tls12 ? 2 : 3, log);
	HCHECK(strstr(log, "backend nocert") != NULL,
	       "the TLS handshake line does not name the backend:\n%s", log);
	stat_reaches("tls_upstream_failures", 1);
	/* and the same again: no stale connection or session answers */
	st = get_path("n.test", "/clientcert", body, sizeof(body));
	HCHECK(st == 502, "no client certificate, again: %d \"%.200s\"", st,
	       body);
}

START_TEST(backend_tls_mutual_no_client_cert_tls12)
{
	no_client_cert(1);
}
END_TEST

START_TEST(backend_tls_mutual_no_client_cert)
{
	no_client_cert(0);
}
END_TEST

/* proxyd -t: a tls_client_key that is not tls_client_cert's key. */
START_TEST(config_test_client_key_mismatch)
{
	const char *argv[] = {proxyd_bin(), "-t", "-c", proxy.conf, NULL};
	struct harness_run r;
	char where[PATH_MAX + 64];

	pki();
	make(&cert_client);
	proxy_init();
	/* [backend mtls] at line LISTEN_LINE + 4, after the listener */
	conf(NULL,
	     PLAIN_LISTENER
	     "[backend mtls]\nserver = 127.0.0.1:9 tls\ntls_ca = %s\n"
	     "tls_client_cert = %s\ntls_client_key = %s\n",
	     proxy.port, "mtls", ca.cert, cert_client.cert, cert_a.key);
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = 20000;
	harness_run(&r);
	r.argv = NULL;
	snprintf(where, sizeof(where), "%s:%d: [backend mtls] tls_client_cert",
	         proxy.conf, LISTEN_LINE + 4);
	HCHECK(r.code == 1,
	       "a client key of another certificate: proxyd -t "
	       "exit %d:\n%s%s",
	       r.code, r.out, r.err);
	HCHECK(strstr(r.err, "[backend mtls] tls_client_cert") != NULL,
	       "no \"[backend mtls] tls_client_cert\" in what proxyd -t "
	       "said:\n%s",
	       r.err);
	HCHECK(strstr(r.err, where) != NULL,
	       "no \"%s\" in what proxyd -t said:\n%s", where, r.err);
	HCHECK(strstr(r.err, cert_client.cert) != NULL,
	       "the file is not named in what proxyd -t said:\n%s", r.err);
	harness_run_free(&r);

	/* and the matching key passes */
	conf(NULL,
	     PLAIN_LISTENER
	     "[backend mtls]\nserver = 127.0.0.1:9 tls\ntls_ca = %s\n"
	     "tls_client_cert = %s\ntls_client_key = %s\n",
	     proxy.port, "mtls", ca.cert, cert_client.cert, cert_client.key);
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.timeout_ms = 20000;
	harness_run(&r);
	r.argv = NULL;
	HCHECK(r.code == 0, "a matching client key refused: exit %d\n%s%s",
	       r.code, r.out, r.err);
	harness_run_free(&r);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, NULL, harness_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sni_picks_certificate);
	tcase_add_test(tc, old_protocols_refused);
	tcase_add_test(tc, resumption_across_workers);
	tcase_add_test(tc, resumption_tls12_reconnect);
	tcase_add_test(tc, resumption_survives_reload_and_respawn);
	tcase_add_test(tc, resumption_keeps_to_its_name);
	tcase_add_test(tc, resumption_stays_on_its_listener);
	tcase_add_test(tc, tls12_cipher_list);
	tcase_add_test(tc, reload_bad_certificate_keeps_serving);
	tcase_add_test(tc, ocsp_stapling);
	tcase_add_test(tc, pipelining_over_tls);
	tcase_add_test(tc, proxy_protocol_before_tls);
	tcase_add_test(tc, backend_tls_verify_off);
	tcase_add_test(tc, backend_tls_wrong_ca);
	tcase_add_test(tc, backend_tls_verified);
	tcase_add_test(tc, backend_tls_health_check);
	tcase_add_test(tc, backend_tls_send_proxy);
	tcase_add_test(tc, backend_tls_handshake_timeout_failover);
	tcase_add_test(tc, backend_tls_session_reuse);
	tcase_add_test(tc, https_forward_proxy);
	tcase_add_test(tc, https_proxy_sni_rules);
	tcase_add_test(tc, forwarded_proto_and_access_log);
	tcase_add_test(tc, json_access_log_tls);
	tcase_add_test(tc, sighup_new_certificate_under_load);
	tcase_add_test(tc, config_test_errors);
	tcase_add_test(tc, config_test_chain_ca_first);
	tcase_add_test(tc, handshake_timeout_and_not_tls);
	tcase_add_test(tc, client_refuses_certificate);
	tcase_add_test(tc, large_bodies_over_tls);
	tcase_add_test(tc, backend_tls_mutual);
	tcase_add_test(tc, backend_tls_mutual_no_client_cert_tls12);
	tcase_add_test(tc, backend_tls_mutual_no_client_cert);
	tcase_add_test(tc, config_test_client_key_mismatch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(tls_suite());
}
