/*
 * Content rules, proxy authentication and the rules read-back in the
 * running proxy: real proxyd, the test origin and curl.  A req_body rule
 * stops an upload before the origin sees a byte of it (the origin's
 * /record endpoint writes down, from its side, every request head and body
 * that reached it); a resp_body rule blocks a page whose word straddles
 * two chunks, and content_type limits it; the proxy asks for identity
 * encoding when a response rule may apply and refuses a coded body unless
 * body_scan_overflow = allow; body_scan_limit (exactly at it, over it,
 * and the scan buffer growing towards it); 407 then success with
 * credentials (CONNECT too); `proxyctl rules` hits equal the requests
 * made; `proxyctl explain` names the rule the proxy applied.  The
 * origin's /chunks endpoint sends the pages: the chunks a test names.
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tests/support/harness.h"

#define LOG_MAX 262144
#define UPLOAD_LEN 20000
#define MARK_AT 12345
#define BIG_LEN (100u * 1024)
#define GROW_LEN 300000u

static struct harness_origin origin;     /* plain HTTP */
static struct harness_origin tls_origin; /* HTTPS, for CONNECT */
static struct harness_proxy proxy;
static struct harness_proxy lax;  /* a second proxyd with other rules */
static struct harness_proxy bare; /* one with no rules at all */
static struct harness_conn conn;
static char record_path[PATH_MAX]; /* the origin's /record file */

/* A gzip member of "<html><body>a blockedword in a gzip body</body>
 * </html>\n" (made with Python's gzip, mtime 0). */
static const unsigned char gz_page[] = {
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xb3, 0xc9,
        0x28, 0xc9, 0xcd, 0xb1, 0xb3, 0x49, 0xca, 0x4f, 0xa9, 0xb4, 0x4b, 0x54,
        0x48, 0xca, 0xc9, 0x4f, 0xce, 0x4e, 0x4d, 0x29, 0xcf, 0x2f, 0x4a, 0x51,
        0xc8, 0xcc, 0x53, 0x48, 0x54, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0x00, 0x49,
        0xda, 0xe8, 0x83, 0x95, 0xd8, 0xe8, 0x83, 0xd5, 0x73, 0x01, 0x00, 0x4b,
        0x08, 0x93, 0x87, 0x37, 0x00, 0x00, 0x00,
};
static const char gz_plain[] =
        "<html><body>a blockedword in a gzip body</body></html>\n";

static const char *read_log(const char *path);

/* Stops the proxies this suite started and fails the test when one of
 * them (a worker, or the master at exit) reported a sanitizer error: with
 * SANITIZE=1 a passing test must not hide one in a log. */
static void
teardown(void)
{
	struct harness_proxy *ps[] = {&proxy, &lax, &bare};
	const char *log, *bad;
	size_t i;

	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		if (ps[i]->pid <= 0)
			continue;
		harness_proxy_stop(ps[i], SIGTERM, 5000);
		log = read_log(ps[i]->stderr_log);
		bad = strstr(log, "runtime error:");
		if (!bad)
			bad = strstr(log, "Sanitizer");
		if (bad) {
			fprintf(stderr, "---- %s ----\n%s\n", ps[i]->stderr_log,
			        log);
			harness_teardown();
			ck_abort_msg("proxyd %s: sanitizer report: %.200s",
			             ps[i]->name, bad);
		}
	}
	harness_teardown();
}

/* ---- files and logs ------------------------------------------------- */

static char log_buf[LOG_MAX];

/* The whole of a (small) file, NUL-terminated, in a static buffer. */
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

/* The first line of path holding both a and b (b may be NULL), or NULL. */
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

/* find_line, waited for (bounded): the access log is flushed once a
 * second, and the origin writes /record lines as bodies end. */
static const char *
wait_line(const char *path, const char *a, const char *b)
{
	int64_t deadline = harness_now_ms() + 5000;
	const char *line;

	do {
		if ((line = find_line(path, a, b)))
			return line;
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	return NULL;
}

static void
access_logged(const char *a, const char *b)
{
	HCHECK(wait_line(proxy.access_log, a, b) != NULL,
	       "no access log line with '%s' and '%s':\n%s", a, b ? b : "",
	       read_log(proxy.access_log));
}

static void
write_text(const char *name, const char *text, char *path, size_t cap)
{
	HCHECK(harness_write_file(name, text, strlen(text), path, cap) == 0,
	       "write %s", name);
}

/* ---- proxyd with a rules file ---------------------------------------- */

/* Starts proxy p (file prefix name) running rules (written to
 * rules_file); CONNECT is allowed to the TLS origin. */
static void
start_proxy(struct harness_proxy *p, const char *name, const char *rules,
            const char *rules_file)
{
	struct harness_config cfg = {0};
	char path[PATH_MAX], extra[PATH_MAX + 32], listen_extra[64];

	write_text(rules_file, rules, path, sizeof(path));
	snprintf(extra, sizeof(extra), "rules = %s\n", path);
	snprintf(listen_extra, sizeof(listen_extra),
	         "connect_ports = 443, %d\n", tls_origin.port);
	cfg.proxyd_extra = extra;
	cfg.listen_extra = listen_extra;
	HCHECK(harness_proxy_init(p, name, &cfg) == 0 &&
	               harness_proxy_start(p) == 0,
	       "proxyd %s did not start", name);
}

/* Both origins and proxyd running rules; conn open to it. */
static void
up(const char *rules)
{
	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_origin_start(&tls_origin, 1) == 0,
	       "TLS origin did not start");
	HCHECK(snprintf(record_path, sizeof(record_path), "%s/record.log",
	                harness_tmpdir()) < (int)sizeof(record_path),
	       "temp path too long");
	start_proxy(&proxy, "proxyd", rules, "rules.ini");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect to proxyd");
}

static void
reconnect(void)
{
	harness_conn_close(&conn);
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "reconnect");
}

static void
origin_url(char *out, size_t n, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", origin.port, path);
}

/* ---- curl ------------------------------------------------------------ */

/* curl was run with -w "\n%{http_code}": takes the status off its output
 * (out_len is then the body's length).  The status, or -1. */
static int
curl_split(struct harness_run *c)
{
	char *nl = c->out ? memrchr(c->out, '\n', c->out_len) : NULL;

	if (c->code != 0 || !nl)
		return -1;
	*nl = '\0';
	c->out_len = (size_t)(nl - c->out);
	return atoi(nl + 1);
}

/* POST the file at body_path to url through proxy (chunked when asked),
 * with the origin's record file named; the status, c keeps the body. */
static int
curl_post(struct harness_run *c, const struct harness_proxy *p, const char *url,
          const char *body_path, int chunked)
{
	char data[PATH_MAX + 2], rec[PATH_MAX + 32];

	memset(c, 0, sizeof(*c));
	snprintf(data, sizeof(data), "@%s", body_path);
	snprintf(rec, sizeof(rec), "X-Record-File: %s", record_path);
	harness_curl(c, 30, "-x", p->url, "-o", "-", "-w", "\n%{http_code}",
	             "-H", rec, "-H", "Content-Type: text/plain", "-H",
	             chunked ? "Transfer-Encoding: chunked" : "X-No-Op: 1",
	             "--data-binary", data, url, NULL);
	return curl_split(c);
}

/* GET url through proxy; the status, c keeps the body. */
static int
curl_get(struct harness_run *c, const struct harness_proxy *p, const char *url)
{
	memset(c, 0, sizeof(*c));
	harness_curl(c, 30, "-x", p->url, "-o", "-", "-w", "\n%{http_code}",
	             url, NULL);
	return curl_split(c);
}

static uint64_t
sum_of(const void *data, size_t len)
{
	struct harness_sum s = {0, 0};

	harness_sum_update(&s, data, len);
	return harness_sum_value(&s);
}

/* The origin's answer (and record line) for a body of len bytes. */
static void
body_line(char *out, size_t n, const char *tag, const void *data, size_t len)
{
	snprintf(out, n, "body /record?%s bytes=%zu sum=%016llx", tag, len,
	         (unsigned long long)sum_of(data, len));
}

/* The upload (tag) was answered 200 by the origin, which got exactly
 * data[0..len): its answer and its record line say so.  Frees c. */
static void
origin_got(struct harness_run *c, int status, const char *tag, const void *data,
           size_t len)
{
	char want[160];

	body_line(want, sizeof(want), tag, data, len);
	if (c->out_len > 0 && c->out[c->out_len - 1] == '\n')
		c->out[--c->out_len] = '\0';
	HCHECK(status == 200 && strcmp(c->out, strstr(want, "bytes=")) == 0,
	       "%s: status %d, the origin answered '%s', want '%s': %s", tag,
	       status, c->out, strstr(want, "bytes="), c->err);
	harness_run_free(c);
	HCHECK(wait_line(record_path, want, NULL) != NULL,
	       "the origin did not record '%s':\n%s", want,
	       read_log(record_path));
}

/* ---- 1. DLP: req_body ------------------------------------------------ */

static const char dlp_rules[] =
        "[rules]\ndefault = deny\n"
        "[rule dlp]\nreq_body = CONFIDENTIAL\naction = deny\n"
        "message = Confidential documents stay inside.\n"
        "[rule lan]\nsrc = 127.0.0.0/8\naction = allow\n";

/* UPLOAD_LEN pattern bytes with word written at MARK_AT. */
static char *
upload_body(const char *word)
{
	char *b = malloc(UPLOAD_LEN);

	HCHECK(b != NULL, "malloc");
	harness_pattern_fill(b, UPLOAD_LEN, 0);
	memcpy(b + MARK_AT, word, strlen(word));
	return b;
}

static void
blocked_by(struct harness_run *c, int status, const char *rule,
           const char *what)
{
	char want[128];

	snprintf(want, sizeof(want), "rule <b>%s</b>", rule);
	HCHECK(status == 403 && strstr(c->out, want),
	       "%s: status %d (want 403 naming %s): %s%s", what, status, rule,
	       c->out ? c->out : "", c->err);
}

/* POST /record?tag on conn, chunked: part1, 200 ms later part2; the
 * answer into r. */
static void
raw_split_upload(const char *tag, const char *part1, const char *part2,
                 struct harness_resp *r)
{
	HCHECK(harness_conn_sendf(
	               &conn,
	               "POST http://127.0.0.1:%d/record?%s HTTP/1.1\r\n"
	               "Host: 127.0.0.1:%d\r\nX-Record-File: %s\r\n"
	               "Transfer-Encoding: chunked\r\n\r\n"
	               "%zx\r\n%s\r\n",
	               origin.port, tag, origin.port, record_path,
	               strlen(part1), part1) == 0,
	       "send");
	harness_sleep_ms(200);
	HCHECK(harness_conn_sendf(&conn, "%zx\r\n%s\r\n0\r\n\r\n",
	                          strlen(part2), part2) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer to upload %s: %s", tag, r->error);
}

/*
 * How "the origin never receives the body" is proven: the origin's
 * /record endpoint appends "head /record?TAG" to a file the moment a
 * request head reaches it and "body|cut /record?TAG bytes=N sum=X" when
 * its body ends (or the connection does), so anything that reached the
 * origin leaves a line tagged with its own query.  The refused uploads
 * go first; the clean uploads after them go through the same proxy and
 * origin, and once their lines are there (plus a short settle) a refused
 * upload that had been forwarded, even in part, would have left its tag.
 */
START_TEST(dlp_upload_never_reaches_origin)
{
	struct harness_run c;
	char *secret = upload_body("CONFIDENTIAL");
	char *clean = upload_body("confidential");
	char secret_path[PATH_MAX], clean_path[PATH_MAX], url[256];
	struct harness_resp r;
	const char *rec;
	int status;

	up(dlp_rules);
	HCHECK(harness_write_file("secret.txt", secret, UPLOAD_LEN, secret_path,
	                          sizeof(secret_path)) == 0 &&
	               harness_write_file("clean.txt", clean, UPLOAD_LEN,
	                                  clean_path, sizeof(clean_path)) == 0,
	       "write uploads");

	origin_url(url, sizeof(url), "/record?secret-length");
	status = curl_post(&c, &proxy, url, secret_path, 0);
	blocked_by(&c, status, "dlp", "Content-Length upload");
	HCHECK(strstr(c.out, "Confidential documents stay inside."),
	       "block page lacks the message:\n%s", c.out);
	harness_run_free(&c);

	origin_url(url, sizeof(url), "/record?secret-chunked");
	status = curl_post(&c, &proxy, url, secret_path, 1);
	blocked_by(&c, status, "dlp", "chunked upload");
	harness_run_free(&c);

	/* on one connection: a clean chunked upload, then one with the word
	 * split across two chunks sent 200 ms apart */
	raw_split_upload("clean-split", "the plan is conf", "idential, really",
	                 &r);
	HCHECK(r.status == 200 && strncmp(r.body, "bytes=32 ", 9) == 0,
	       "clean split upload: %d\n%s%s", r.status, r.head, r.body);
	harness_resp_free(&r);
	raw_split_upload("secret-split", "the plan is CONF", "IDENTIAL, really",
	                 &r);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>dlp</b>"),
	       "word split across chunks: %d\n%s%s", r.status, r.head, r.body);
	harness_resp_free(&r);

	origin_url(url, sizeof(url), "/record?clean-length");
	status = curl_post(&c, &proxy, url, clean_path, 0);
	origin_got(&c, status, "clean-length", clean, UPLOAD_LEN);
	origin_url(url, sizeof(url), "/record?clean-chunked");
	status = curl_post(&c, &proxy, url, clean_path, 1);
	origin_got(&c, status, "clean-chunked", clean, UPLOAD_LEN);

	harness_sleep_ms(300);
	rec = read_log(record_path);
	HCHECK(strstr(rec, "secret") == NULL,
	       "a refused upload reached the origin:\n%s", rec);
	access_logged("/record?secret-length", " rule=dlp action=deny");
	access_logged("/record?secret-split", " rule=dlp action=deny");
	access_logged("/record?clean-length", " rule=lan action=allow");
	free(secret);
	free(clean);
}
END_TEST

/* RFC 9110 10.1.1: a proxy given Expect: 100-continue answers at once
 * or forwards the head.  Holding the head while it reads the body for a
 * req_body rule, it must send the 100 itself, or the client waits (curl
 * 1 s, others longer) for a 100 that never comes. */
START_TEST(dlp_expect_continue)
{
	struct harness_resp r;

	up(dlp_rules);
	HCHECK(harness_conn_sendf(&conn,
	                          "POST http://127.0.0.1:%d/record?expect "
	                          "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                          "X-Record-File: %s\r\nContent-Length: 11\r\n"
	                          "Expect: 100-continue\r\n\r\n",
	                          origin.port, origin.port, record_path) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, 3000) == 0,
	       "no 100 Continue (nor any answer) within 3 s to an upload "
	       "with Expect: 100-continue: %s",
	       r.error);
	HCHECK(r.status == 100, "Expect: 100-continue answered %d\n%s",
	       r.status, r.head);
	harness_resp_free(&r);
	HCHECK(harness_conn_send(&conn, "public data", 11) == 0, "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer after the body: %s", r.error);
	HCHECK(r.status == 200 && strncmp(r.body, "bytes=11 ", 9) == 0,
	       "upload after the 100: %d\n%s%s", r.status, r.head, r.body);
	harness_resp_free(&r);
}
END_TEST

/* ---- 2. resp_body across chunks, content_type ------------------------ */

/* A page the origin's /chunks sends. */
struct page {
	const char *type;         /* Content-Type (%XX-encoded), or NULL */
	const char *coding;       /* Content-Encoding, or NULL */
	uint64_t pad;             /* pattern bytes first */
	const char *const *parts; /* then these chunks, NULL-terminated */
	const size_t *lens;       /* their lengths; NULL: strlen */
};

static size_t
part_len(const struct page *pg, size_t i)
{
	return pg->lens ? pg->lens[i] : strlen(pg->parts[i]);
}

/* The /chunks URL for pg, chunks %XX-encoded as needed. */
static void
chunks_url(char *out, size_t n, const struct page *pg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o, i, k;

	o = (size_t)snprintf(out, n, "http://127.0.0.1:%d/chunks?p=%llu",
	                     origin.port, (unsigned long long)pg->pad);
	if (pg->type)
		o += (size_t)snprintf(out + o, n - o, "&t=%s", pg->type);
	if (pg->coding)
		o += (size_t)snprintf(out + o, n - o, "&e=%s", pg->coding);
	for (i = 0; o + 4 < n && pg->parts[i]; i++) {
		o += (size_t)snprintf(out + o, n - o, "&c=");
		for (k = 0; k < part_len(pg, i) && o + 4 < n; k++) {
			unsigned char ch = (unsigned char)pg->parts[i][k];

			if ((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' ||
			    ch == '-' || ch == '_') {
				out[o++] = (char)ch;
				continue;
			}
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
		out[o] = '\0';
	}
	HCHECK(o + 4 < n, "URL too long");
}

/* The body pg makes (malloc'd); its length into len. */
static char *
page_body(const struct page *pg, size_t *len)
{
	size_t n = (size_t)pg->pad, i;
	char *b;

	for (i = 0; pg->parts[i]; i++)
		n += part_len(pg, i);
	b = malloc(n + 1);
	HCHECK(b != NULL, "malloc");
	harness_pattern_fill(b, (size_t)pg->pad, 0);
	for (*len = (size_t)pg->pad, i = 0; pg->parts[i]; i++) {
		memcpy(b + *len, pg->parts[i], part_len(pg, i));
		*len += part_len(pg, i);
	}
	return b;
}

/* GET of pg through proxy p: want_status; a 403 names rule, and a 200
 * carries the page's bytes exactly. */
static void
chunks_get(const struct harness_proxy *p, const char *what,
           const struct page *pg, int want_status, const char *rule)
{
	struct harness_run c;
	char url[2048], *body;
	size_t n;
	int status;

	chunks_url(url, sizeof(url), pg);
	body = page_body(pg, &n);
	status = curl_get(&c, p, url);
	if (want_status == 403) {
		blocked_by(&c, status, rule, what);
	} else {
		HCHECK(status == want_status && c.out_len == n &&
		               memcmp(c.out, body, n) == 0,
		       "%s: status %d, %zu bytes (want %d, %zu bytes as sent): "
		       "%.300s %s",
		       what, status, c.out_len, want_status, n, c.out, c.err);
	}
	harness_run_free(&c);
	free(body);
}

/* GET url on conn; the answer into r. */
static void
raw_get(const char *url, struct harness_resp *r)
{
	HCHECK(harness_conn_sendf(
	               &conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
	               url, origin.port) == 0,
	       "send GET");
	HCHECK(harness_conn_response(&conn, r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer to GET %s: %s", url, r->error);
}

static const char words_rules[] =
        "[rules]\ndefault = allow\n"
        "[rule words]\nresp_body = (?i)blockedword\ncontent_type = text/\n"
        "action = deny\n";

START_TEST(resp_body_word_across_chunks)
{
	static const char *const straddle[] = {
	        "<html><body><p>This page holds a BLOCKED",
	        "Word, split between two chunks.</p></body></html>\n", NULL};
	static const char *const apart[] = {
	        "<html><body><p>This page holds a BLOCKED",
	        " Word, split between two chunks.</p></body></html>\n", NULL};
	static const char *const three[] = {"blo", "ckedw", "ord", NULL};
	struct harness_resp r;
	char url[2048];
	const struct page html = {"text/html", NULL, 0, straddle, NULL};
	const struct page plain = {"Text/Plain%3B%20charset%3Dutf-8", NULL, 0,
	                           three, NULL};
	const struct page clean = {"text/html", NULL, 0, apart, NULL};
	const struct page octets = {"application/octet-stream", NULL, 0,
	                            straddle, NULL};
	char *want;
	size_t n;

	up(words_rules);
	chunks_get(&proxy, "text/html, word across two chunks", &html, 403,
	           "words");
	chunks_get(&proxy, "text/plain; charset, word across three chunks",
	           &plain, 403, "words");
	chunks_get(&proxy, "text/html without the word", &clean, 200, NULL);
	chunks_get(&proxy, "application/octet-stream with the word", &octets,
	           200, NULL);
	access_logged("/chunks?", " rule=words action=deny");

	/* a scanned page goes on with its length; the connection stays
	 * usable for the next request, which is scanned too */
	chunks_url(url, sizeof(url), &clean);
	raw_get(url, &r);
	want = page_body(&clean, &n);
	HCHECK(r.status == 200 && r.body_len == n &&
	               memcmp(r.body, want, n) == 0,
	       "scanned page on a kept-alive connection: %d\n%s", r.status,
	       r.head);
	free(want);
	harness_resp_free(&r);
	chunks_url(url, sizeof(url), &html);
	raw_get(url, &r);
	HCHECK(r.status == 403 && strstr(r.body, "rule <b>words</b>"),
	       "second request on the connection: %d\n%s", r.status, r.head);
	harness_resp_free(&r);
}
END_TEST

/* A response rule that does not apply to a request (its url does not
 * match) leaves that request alone: the answer passes unchanged. */
START_TEST(resp_body_rule_elsewhere)
{
	struct harness_run c = {.check_pattern = 1};
	char url[256];

	up("[rules]\ndefault = allow\n"
	   "[rule words]\nurl = /scanned/\nresp_body = (?i)blockedword\n"
	   "action = deny\n");
	origin_url(url, sizeof(url), "/size/5000");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 5000 && c.pattern_ok,
	       "GET with a resp_body rule for other URLs: exit %d, %llu "
	       "bytes: %s",
	       c.code, (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
	access_logged("/size/5000", " 200 ");
}
END_TEST

/* ---- 3. compressed responses ----------------------------------------- */

static const char gz_rules[] =
        "[rules]\ndefault = allow\n"
        "[rule words]\nmethod = GET\nresp_body = (?i)blockedword\n"
        "content_type = text/\naction = deny\n";

/* The head the origin received for a GET (post: a POST) of /headers
 * sent with Accept-Encoding: gzip, br; into out. */
static void
origin_saw(const char *method, char *out, size_t n)
{
	struct harness_run c = {0};
	char url[256];
	int status;

	origin_url(url, sizeof(url), "/headers");
	harness_curl(&c, 30, "-x", proxy.url, "-o", "-", "-w", "\n%{http_code}",
	             "-X", method, "-H", "Accept-Encoding: gzip, br", url,
	             NULL);
	status = curl_split(&c);
	HCHECK(status == 200, "%s /headers: %d %s", method, status, c.err);
	snprintf(out, n, "%s", c.out);
	harness_run_free(&c);
}

START_TEST(compressed_responses)
{
	static const char *const gz[] = {(const char *)gz_page, NULL};
	static const size_t gz_len[] = {sizeof(gz_page)};
	const struct page gz_html = {"text/html", "gzip", 0, gz, gz_len};
	const struct page gz_octets = {"application/octet-stream", "gzip", 0,
	                               gz, gz_len};
	struct harness_run c;
	char head[8192], url[2048];
	int status;

	up(gz_rules);
	/* a response rule applies to GETs: the origin is asked for identity */
	origin_saw("GET", head, sizeof(head));
	HCHECK(strstr(head, "\r\nAccept-Encoding: identity\r\n") &&
	               !strstr(head, "gzip") &&
	               harness_head_count(head, "Accept-Encoding") == 1,
	       "GET: the origin was not asked for identity:\n%s", head);
	/* ...and not to POSTs: the client's wish goes on unchanged */
	origin_saw("POST", head, sizeof(head));
	HCHECK(strstr(head, "\r\nAccept-Encoding: gzip, br\r\n"),
	       "POST (no rule applies): Accept-Encoding changed:\n%s", head);

	/* the origin compresses anyway: refused by default */
	chunks_get(&proxy, "gzip text/html, body_scan_overflow = deny",
	           &gz_html, 403, "body_scan_encoded");
	access_logged("e=gzip", " 403 ");
	/* content_type still limits the rule on a coded body */
	chunks_get(&proxy, "gzip application/octet-stream", &gz_octets, 200,
	           NULL);

	/* body_scan_overflow = allow: passed (unscanned, by policy) */
	start_proxy(&lax, "lax",
	            "[rules]\ndefault = allow\nbody_scan_overflow = allow\n"
	            "[rule words]\nmethod = GET\nresp_body = (?i)blockedword\n"
	            "content_type = text/\naction = deny\n",
	            "lax-rules.ini");
	chunks_url(url, sizeof(url), &gz_html);
	status = curl_get(&c, &lax, url);
	HCHECK(status == 200 && c.out_len == sizeof(gz_page) &&
	               memcmp(c.out, gz_page, sizeof(gz_page)) == 0,
	       "gzip with body_scan_overflow = allow: %d, %zu bytes: %s",
	       status, c.out_len, c.err);
	harness_run_free(&c);
	memset(&c, 0, sizeof(c));
	harness_curl(&c, 30, "-x", lax.url, "--compressed", "-o", "-", url,
	             NULL);
	HCHECK(c.code == 0 && strcmp(c.out, gz_plain) == 0,
	       "the passed gzip body does not decode: %s %s", c.out, c.err);
	harness_run_free(&c);
}
END_TEST

/* ---- 4. body_scan_limit ---------------------------------------------- */

static const char limit_rules[] =
        "[rules]\ndefault = allow\nbody_scan_limit = 4k\n"
        "body_scan_overflow = %s\n"
        "[rule dlp]\nreq_body = CONFIDENTIAL\naction = deny\n"
        "[rule words]\nresp_body = (?i)blockedword\ncontent_type = text/\n"
        "action = deny\n";

static const char *const the_end[] = {"the end\n", NULL};

START_TEST(body_scan_limit_overflow)
{
	const struct page long_page = {"text/plain", NULL, BIG_LEN, the_end,
	                               NULL};
	const struct page short_page = {"text/plain", NULL, 1000, the_end,
	                                NULL};
	char rules[512], big_path[PATH_MAX], url[256];
	struct harness_run c;
	char *big = malloc(BIG_LEN);
	int status;

	HCHECK(big != NULL, "malloc");
	harness_pattern_fill(big, BIG_LEN, 0);
	snprintf(rules, sizeof(rules), limit_rules, "deny");
	up(rules);
	HCHECK(harness_write_pattern_file("big.bin", BIG_LEN, big_path,
	                                  sizeof(big_path)) == 0,
	       "write upload");

	/* over the limit, body_scan_overflow = deny: refused, never sent */
	origin_url(url, sizeof(url), "/record?over-length");
	status = curl_post(&c, &proxy, url, big_path, 0);
	HCHECK(status == 403, "100 KiB over a 4k limit: %d %s", status, c.err);
	harness_run_free(&c);
	origin_url(url, sizeof(url), "/record?over-chunked");
	status = curl_post(&c, &proxy, url, big_path, 1);
	HCHECK(status == 403, "chunked 100 KiB over a 4k limit: %d %s", status,
	       c.err);
	harness_run_free(&c);
	access_logged("/record?over-length", " rule=body_scan_overflow");
	/* responses: over the limit refused, under it scanned and passed */
	chunks_get(&proxy, "100 KiB text page over a 4k limit", &long_page, 403,
	           "body_scan_overflow");
	chunks_get(&proxy, "1000-byte text page under a 4k limit", &short_page,
	           200, NULL);

	/* body_scan_overflow = allow: all of it reaches the origin intact */
	snprintf(rules, sizeof(rules), limit_rules, "allow");
	start_proxy(&lax, "lax", rules, "lax-rules.ini");
	chunks_get(&lax, "100 KiB text page, overflow allowed", &long_page, 200,
	           NULL);
	origin_url(url, sizeof(url), "/record?allow-length");
	status = curl_post(&c, &lax, url, big_path, 0);
	origin_got(&c, status, "allow-length", big, BIG_LEN);
	origin_url(url, sizeof(url), "/record?allow-chunked");
	status = curl_post(&c, &lax, url, big_path, 1);
	origin_got(&c, status, "allow-chunked", big, BIG_LEN);

	harness_sleep_ms(300);
	HCHECK(strstr(read_log(record_path), "over-") == NULL,
	       "a refused oversize upload reached the origin:\n%s",
	       read_log(record_path));
	free(big);
}
END_TEST

/* A body of exactly body_scan_limit bytes fits: it is scanned whole, not
 * treated as an overflow; one byte more is an overflow (either
 * framing). */
START_TEST(body_scan_limit_exact_fit)
{
	char rules[512], fit[PATH_MAX], over[PATH_MAX], url[256];
	struct harness_run c;
	char body[4097];
	int status, chunked;

	snprintf(rules, sizeof(rules), limit_rules, "deny");
	up(rules);
	harness_pattern_fill(body, sizeof(body), 0);
	HCHECK(harness_write_file("fit.bin", body, 4096, fit, sizeof(fit)) ==
	                       0 &&
	               harness_write_file("over.bin", body, 4097, over,
	                                  sizeof(over)) == 0,
	       "write uploads");
	for (chunked = 0; chunked < 2; chunked++) {
		const char *tag = chunked ? "fit-chunked" : "fit-length";

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/record?%s",
		         origin.port, tag);
		status = curl_post(&c, &proxy, url, fit, chunked);
		origin_got(&c, status, tag, body, 4096);
		origin_url(url, sizeof(url), "/record?one-over");
		status = curl_post(&c, &proxy, url, over, chunked);
		blocked_by(&c, status, "body_scan_overflow",
		           chunked ? "4097 bytes, chunked" : "4097 bytes");
		harness_run_free(&c);
	}
}
END_TEST

/* "Bodies are scanned ... up to body_scan_limit (over it:
 * body_scan_overflow)": with overflow allowed, what was read is still
 * scanned, so a word inside the first body_scan_limit bytes of a longer
 * upload is refused and never reaches the origin. */
START_TEST(body_scan_limit_prefix_scanned)
{
	char rules[512], path[PATH_MAX], url[256];
	struct harness_run c;
	char *big = malloc(BIG_LEN);
	int status;

	HCHECK(big != NULL, "malloc");
	harness_pattern_fill(big, BIG_LEN, 0);
	memcpy(big + 100, "CONFIDENTIAL", 12);
	snprintf(rules, sizeof(rules), limit_rules, "allow");
	up(rules);
	HCHECK(harness_write_file("head-secret.bin", big, BIG_LEN, path,
	                          sizeof(path)) == 0,
	       "write upload");
	origin_url(url, sizeof(url), "/record?prefix-secret");
	status = curl_post(&c, &proxy, url, path, 0);
	HCHECK(status == 403,
	       "CONFIDENTIAL at byte 100 of a 100 KiB upload (limit 4k, "
	       "overflow allow): %d, origin '%s'",
	       status, c.out);
	harness_run_free(&c);
	harness_sleep_ms(300);
	HCHECK(strstr(read_log(record_path), "prefix-secret") == NULL,
	       "the refused upload reached the origin:\n%s",
	       read_log(record_path));
	free(big);
}
END_TEST

/* Under the default limit (1m) the scan buffer starts small and grows
 * with the body: a word near the end of a 300 KB upload or page is still
 * found, and clean ones pass intact. */
START_TEST(scan_buffer_grows)
{
	static const char *const word[] = {"a blocked", "Word.\n", NULL};
	static const char *const words[] = {"a blocked", " Word.\n", NULL};
	const struct page bad = {"text/plain", NULL, GROW_LEN, word, NULL};
	const struct page good = {"text/plain", NULL, GROW_LEN, words, NULL};
	char secret_path[PATH_MAX], clean_path[PATH_MAX], url[256];
	char *body = malloc(GROW_LEN);
	struct harness_run c;
	int chunked, status;

	HCHECK(body != NULL, "malloc");
	up("[rules]\ndefault = allow\n"
	   "[rule dlp]\nreq_body = CONFIDENTIAL\naction = deny\n"
	   "[rule words]\nresp_body = (?i)blockedword\ncontent_type = text/\n"
	   "action = deny\n");
	harness_pattern_fill(body, GROW_LEN, 0);
	HCHECK(harness_write_file("clean.bin", body, GROW_LEN, clean_path,
	                          sizeof(clean_path)) == 0,
	       "write upload");
	memcpy(body + GROW_LEN - 20, "CONFIDENTIAL", 12);
	HCHECK(harness_write_file("secret.bin", body, GROW_LEN, secret_path,
	                          sizeof(secret_path)) == 0,
	       "write upload");
	harness_pattern_fill(body, GROW_LEN, 0);
	for (chunked = 0; chunked < 2; chunked++) {
		origin_url(url, sizeof(url),
		           chunked ? "/record?grow-secret-chunked"
		                   : "/record?grow-secret-length");
		status = curl_post(&c, &proxy, url, secret_path, chunked);
		blocked_by(&c, status, "dlp", "word near the end of 300 KB");
		harness_run_free(&c);
		origin_url(url, sizeof(url),
		           chunked ? "/record?grow-chunked"
		                   : "/record?grow-length");
		status = curl_post(&c, &proxy, url, clean_path, chunked);
		origin_got(&c, status, strchr(url, '?') + 1, body, GROW_LEN);
	}
	chunks_get(&proxy, "word near the end of a 300 KB page", &bad, 403,
	           "words");
	chunks_get(&proxy, "300 KB page without the word", &good, 200, NULL);
	harness_sleep_ms(300);
	HCHECK(strstr(read_log(record_path), "secret") == NULL,
	       "a refused upload reached the origin:\n%s",
	       read_log(record_path));
	free(body);
}
END_TEST

/* ---- 5. proxy authentication ----------------------------------------- */

static const char auth_rules[] =
        "[rules]\ndefault = deny\nauth_file = users.txt\n"
        "[rule login]\naction = auth\n"
        "[rule alice]\nuser = alice\naction = allow\n";

/* users.txt beside rules.ini: alice's password is "right". */
static void
write_users(void)
{
	static struct crypt_data cd;
	char line[256], path[PATH_MAX];
	const char *hash;

	memset(&cd, 0, sizeof(cd));
	hash = crypt_r("right", "$6$saltsalt$", &cd);
	HCHECK(hash && strncmp(hash, "$6$saltsalt$", 12) == 0, "crypt_r: %s",
	       hash ? hash : strerror(errno));
	snprintf(line, sizeof(line), "alice:%s\n", hash);
	write_text("users.txt", line, path, sizeof(path));
}

/* The proxy's status for url with credentials user (for https: the
 * status of the CONNECT). */
static int
curl_auth(const char *url, const char *user, int tls)
{
	struct harness_run c = {0};
	int status;

	harness_curl(&c, 30, "-x", proxy.url, "-k", "-U", user, "-o",
	             "/dev/null", "-w",
	             tls ? "%{http_connect}" : "%{http_code}", url, NULL);
	status = c.out ? atoi(c.out) : -1;
	harness_run_free(&c);
	return status;
}

/* Origins and proxyd running auth_rules (users.txt written first: it is
 * read with rules.ini). */
static void
auth_up(void)
{
	HCHECK(harness_origin_start(&origin, 0) == 0, "origin did not start");
	HCHECK(harness_origin_start(&tls_origin, 1) == 0, "TLS origin");
	write_users();
	start_proxy(&proxy, "proxyd", auth_rules, "rules.ini");
	HCHECK(harness_conn_open(&conn, proxy.port) == 0, "connect");
}

START_TEST(proxy_auth)
{
	struct harness_run c = {0};
	struct harness_resp r;
	char url[256], v[256], host[64];
	int status;

	auth_up();

	origin_url(url, sizeof(url), "/size/1000");
	snprintf(host, sizeof(host), "127.0.0.1:%d", origin.port);
	HCHECK(harness_conn_sendf(&conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	                          url, host) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 0, HARNESS_WAIT_MS) == 0,
	       "no answer: %s", r.error);
	HCHECK(r.status == 407 &&
	               harness_head_value(r.head, "Proxy-Authenticate", v,
	                                  sizeof(v)) &&
	               strncmp(v, "Basic realm=\"proxyd\"", 20) == 0,
	       "no credentials: %d\n%s", r.status, r.head);
	harness_resp_free(&r);

	harness_curl(&c, 30, "-x", proxy.url, "-U", "alice:right", "-o", "-",
	             url, NULL);
	c.check_pattern = 0;
	HCHECK(c.code == 0 && c.out_len == 1000 &&
	               harness_pattern_check(c.out, 1000, 0) == 0,
	       "alice:right: exit %d, %zu bytes: %s", c.code, c.out_len, c.err);
	harness_run_free(&c);
	access_logged("/size/1000", " - alice [");

	status = curl_auth(url, "alice:wrong", 0);
	HCHECK(status == 407, "wrong password: %d", status);
	status = curl_auth(url, "bob:right", 0);
	HCHECK(status == 407, "unknown user: %d", status);

	/* CONNECT: 407 without credentials, a working tunnel with them */
	reconnect();
	HCHECK(harness_conn_sendf(&conn,
	                          "CONNECT 127.0.0.1:%d HTTP/1.1\r\n"
	                          "Host: 127.0.0.1:%d\r\n\r\n",
	                          tls_origin.port, tls_origin.port) == 0,
	       "send");
	HCHECK(harness_conn_response(&conn, &r, 1, HARNESS_WAIT_MS) == 0 &&
	               r.status == 407,
	       "CONNECT without credentials: %d %s\n%s", r.status, r.error,
	       r.head);
	harness_resp_free(&r);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/size/3000",
	         tls_origin.port);
	memset(&c, 0, sizeof(c));
	c.check_pattern = 1;
	harness_curl(&c, 30, "-x", proxy.url, "-k", "-U", "alice:right", "-o",
	             "-", url, NULL);
	HCHECK(c.code == 0 && c.out_total == 3000 && c.pattern_ok,
	       "CONNECT with credentials: exit %d, %llu bytes: %s", c.code,
	       (unsigned long long)c.out_total, c.err);
	harness_run_free(&c);
	snprintf(v, sizeof(v), "\"CONNECT 127.0.0.1:%d ", tls_origin.port);
	access_logged(v, " - alice [");
	status = curl_auth(url, "alice:wrong", 1);
	HCHECK(status == 407, "CONNECT with a wrong password: %d", status);
}
END_TEST

/* ---- proxyctl --------------------------------------------------------- */

/* `proxyctl -s SHM a1 [a2...]` for p, bounded; r->out is its output. */
static void
proxyctl(struct harness_run *r, const struct harness_proxy *p,
         const char *const *args)
{
	const char *bin = getenv("PROXYCTL_BIN");
	const char *argv[16];
	int n = 0;

	argv[n++] = bin && bin[0] ? bin : "build/proxyctl";
	argv[n++] = "-s";
	argv[n++] = p->shm_file;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = 10000;
	harness_run(r);
	r->argv = NULL;
	HCHECK(r->code == 0, "proxyctl %s: exit %d: %s", argv[3], r->code,
	       r->err);
}

/* The line of rules text starting [rule name]. */
static int
rule_line(const char *text, const char *name)
{
	char want[96];
	const char *p = text;
	int line = 1;

	snprintf(want, sizeof(want), "[rule %s]", name);
	for (; *p; p++) {
		if (p == text || p[-1] == '\n') {
			if (strncmp(p, want, strlen(want)) == 0)
				return line;
		}
		if (*p == '\n')
			line++;
	}
	return -1;
}

/* ---- 6. proxyctl rules ------------------------------------------------ */

static const char count_rules[] =
        "[rules]\ndefault = deny\n"
        "[rule watch]\nurl = /size/\nmode = monitor\naction = deny\n"
        "[rule no-exe]\nurl = (?i)\\.exe$\naction = deny\n"
        "[rule dlp]\nreq_body = SECRET\naction = deny\n"
        "[rule moved]\nurl = /old$\naction = redirect\n"
        "location = http://127.0.0.1/new\n"
        "[rule lan]\nsrc = 127.0.0.0/8\naction = allow\n";

static void
expect_status(int status, int want, const char *what)
{
	HCHECK(status == want, "%s: %d, want %d", what, status, want);
}

START_TEST(proxyctl_rules_hits)
{
	static const struct {
		const char *name, *action, *mode;
		unsigned long long hits;
	} want[] = {
	        {"watch", "deny", "monitor", 4},
	        {"no-exe", "deny", "enforce", 3},
	        {"dlp", "deny", "enforce", 2},
	        {"moved", "redirect", "enforce", 1},
	        {"lan", "allow", "enforce", 6},
	};
	static const char *const rules_arg[] = {"rules", NULL};
	char url[256], secret[PATH_MAX], clean[PATH_MAX], row[256], got[256];
	char out[8192];
	char name[80], action[16], mode[16], where[128], *line, *save = NULL;
	unsigned long long hits;
	unsigned id, seen = 0, i;
	struct harness_run c;

	up(count_rules);
	write_text("secret.txt", "a SECRET plan\n", secret, sizeof(secret));
	write_text("clean.txt", "a public plan\n", clean, sizeof(clean));
	/* watch 4, lan 3 */
	origin_url(url, sizeof(url), "/size/10");
	for (i = 0; i < 3; i++) {
		expect_status(curl_get(&c, &proxy, url), 200, "/size/10");
		harness_run_free(&c);
	}
	/* no-exe 3 (and watch once more) */
	origin_url(url, sizeof(url), "/a.exe");
	for (i = 0; i < 2; i++) {
		expect_status(curl_get(&c, &proxy, url), 403, "/a.exe");
		harness_run_free(&c);
	}
	origin_url(url, sizeof(url), "/size/a.EXE");
	expect_status(curl_get(&c, &proxy, url), 403, "/size/a.EXE");
	harness_run_free(&c);
	/* moved 1 */
	origin_url(url, sizeof(url), "/old");
	expect_status(curl_get(&c, &proxy, url), 302, "/old");
	harness_run_free(&c);
	/* lan decides the uploads (3), dlp refuses two of them */
	origin_url(url, sizeof(url), "/record?count");
	for (i = 0; i < 2; i++) {
		expect_status(curl_post(&c, &proxy, url, secret, i), 403,
		              "SECRET upload");
		harness_run_free(&c);
	}
	expect_status(curl_post(&c, &proxy, url, clean, 0), 200,
	              "clean upload");
	harness_run_free(&c);

	proxyctl(&c, &proxy, rules_arg);
	snprintf(out, sizeof(out), "%s", c.out);
	HCHECK(strstr(out, "default deny") != NULL, "no default:\n%s", out);
	for (line = strtok_r(c.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%u %79s %15s %15s %127s %llu", &id, name,
		           action, mode, where, &hits) != 6)
			continue;
		HCHECK(id >= 1 && id <= 5 && !(seen & (1u << id)),
		       "bad or repeated id %u:\n%s", id, out);
		seen |= 1u << id;
		i = id - 1;
		snprintf(row, sizeof(row), "%s %s %s rules.ini:%d %llu",
		         want[i].name, want[i].action, want[i].mode,
		         rule_line(count_rules, want[i].name), want[i].hits);
		snprintf(got, sizeof(got), "%s %s %s %s %llu", name, action,
		         mode, where, hits);
		HCHECK(strcmp(got, row) == 0,
		       "rule %u: got '%s', want '%s' (name action mode "
		       "file:line hits):\n%s",
		       id, got, row, out);
	}
	HCHECK(seen == 0x3e, "not every rule listed:\n%s", out);
	harness_run_free(&c);
}
END_TEST

/* ---- 7. proxyctl explain ---------------------------------------------- */

static const char explain_rules[] =
        "[rules]\ndefault = deny\n"
        "[rule metadata]\ndst = 169.254.0.0/16\naction = deny\n"
        "[rule no-exe]\nurl = (?i)\\.exe$\naction = deny\n"
        "[rule office]\nsrc = 10.0.0.0/8\naction = deny\n"
        "[rule posts]\nmethod = POST\naction = deny\n"
        "[rule lan]\nsrc = 127.0.0.0/8\naction = allow\n";

/* explain url --src src --dst 127.0.0.1 on p; the output in r. */
static void
explain(struct harness_run *r, const struct harness_proxy *p, const char *url,
        const char *src)
{
	const char *const args[] = {"explain", url,         "--src", src,
	                            "--dst",   "127.0.0.1", NULL};

	proxyctl(r, p, args);
}

/* The "rule=NAME action=ACTION" the access log gave path's request. */
static void
applied(const char *path, char *out, size_t n)
{
	const char *line = wait_line(proxy.access_log, path, " rule=");
	const char *at = line ? strstr(line, " rule=") : NULL;

	HCHECK(at != NULL, "no rule= for %s in the access log:\n%s", path,
	       read_log(proxy.access_log));
	snprintf(out, n, "%s", at + 1);
	out[strcspn(out, " \n")] = '\0';
	if (strstr(at, " action="))
		snprintf(out + strlen(out), n - strlen(out), " %s",
		         strstr(at, " action=") + 1);
	out[strcspn(out, "\n")] = '\0';
}

/* The explain output's decision matches the access log's rule=/action=
 * for the same request. */
static void
same_decision(const char *path)
{
	char url[256], got[128], name[80], action[16], want[160];
	struct harness_run r;

	origin_url(url, sizeof(url), path);
	applied(path, got, sizeof(got));
	HCHECK(sscanf(got, "rule=%79s action=%15s", name, action) == 2,
	       "access log: %s", got);
	snprintf(want, sizeof(want), "decision: %s (rule %s)\n", action, name);
	explain(&r, &proxy, url, "127.0.0.1");
	HCHECK(strstr(r.out, want) != NULL,
	       "the proxy applied %s to %s; explain says:\n%s", got, path,
	       r.out);
	harness_run_free(&r);
}

static void
has_line(const char *out, const char *rules, const char *name, unsigned id,
         const char *tail)
{
	char want[160];

	snprintf(want, sizeof(want), "rule %u %s (line %d): %s\n", id, name,
	         rule_line(rules, name), tail);
	HCHECK(strstr(out, want) != NULL, "explain lacks '%s':\n%s", want, out);
}

START_TEST(proxyctl_explain)
{
	static const char *const rules_arg[] = {"rules", NULL};
	struct harness_config cfg = {0};
	struct harness_run r;
	char url[256], path[PATH_MAX], edited[1024];

	up(explain_rules);
	/* real requests from 127.0.0.1 */
	origin_url(url, sizeof(url), "/x");
	expect_status(curl_get(&r, &proxy, url), 404, "/x (the origin's 404)");
	harness_run_free(&r);
	origin_url(url, sizeof(url), "/tool.exe");
	expect_status(curl_get(&r, &proxy, url), 403, "/tool.exe");
	harness_run_free(&r);
	same_decision("/x");
	same_decision("/tool.exe");

	/* from the office: an earlier rule decides; the ones before it say
	 * which condition failed */
	origin_url(url, sizeof(url), "/x");
	explain(&r, &proxy, url, "10.0.0.1");
	has_line(r.out, explain_rules, "metadata", 1, "no match (dst)");
	has_line(r.out, explain_rules, "no-exe", 2, "no match (url)");
	has_line(r.out, explain_rules, "office", 3, "matches");
	HCHECK(strstr(r.out, "decision: deny (rule office)\n") &&
	               !strstr(r.out, "posts") && !strstr(r.out, "changed"),
	       "explain from 10.0.0.1:\n%s", r.out);
	harness_run_free(&r);
	explain(&r, &proxy, url, "127.0.0.1");
	has_line(r.out, explain_rules, "office", 3, "no match (src)");
	has_line(r.out, explain_rules, "posts", 4, "no match (method)");
	has_line(r.out, explain_rules, "lan", 5, "matches");
	harness_run_free(&r);

	/* the file edited, not reloaded: the note, and the file as it is */
	snprintf(edited, sizeof(edited),
	         "[rules]\ndefault = deny\n"
	         "[rule x-first]\nurl = /x$\naction = deny\n%s",
	         strchr(explain_rules + 1, '['));
	write_text("rules.ini", edited, path, sizeof(path));
	explain(&r, &proxy, url, "127.0.0.1");
	HCHECK(strstr(r.out, "changed since proxyd loaded it") &&
	               strstr(r.out, "decision: deny (rule x-first)\n"),
	       "explain after editing rules.ini:\n%s", r.out);
	harness_run_free(&r);
	/* the proxy still runs what it loaded */
	expect_status(curl_get(&r, &proxy, url), 404, "/x after the edit");
	harness_run_free(&r);

	/* no rules loaded */
	HCHECK(harness_proxy_init(&bare, "bare", &cfg) == 0 &&
	               harness_proxy_start(&bare) == 0,
	       "proxyd without rules did not start");
	explain(&r, &bare, url, "127.0.0.1");
	HCHECK(strstr(r.out, "no rules loaded") != NULL,
	       "explain without rules:\n%s", r.out);
	harness_run_free(&r);
	proxyctl(&r, &bare, rules_arg);
	HCHECK(strstr(r.out, "no rules loaded") != NULL,
	       "rules without rules:\n%s", r.out);
	harness_run_free(&r);
}
END_TEST

/* explain --user: the rule the proxy applies to alice's request (an auth
 * rule asks only for credentials not yet given); without --user, the
 * auth rule. */
START_TEST(explain_with_user)
{
	const char *const as_alice[] = {"explain", NULL, "--user", "alice",
	                                NULL};
	const char *const anonymous[] = {"explain", NULL, NULL};
	const char *args[5];
	struct harness_run c = {0};
	char url[256], got[128], name[80], action[16], want[160];

	auth_up();
	origin_url(url, sizeof(url), "/size/20");
	harness_curl(&c, 30, "-x", proxy.url, "-U", "alice:right", "-o",
	             "/dev/null", url, NULL);
	HCHECK(c.code == 0, "curl: %s", c.err);
	harness_run_free(&c);
	applied("/size/20", got, sizeof(got));
	HCHECK(sscanf(got, "rule=%79s action=%15s", name, action) == 2 &&
	               strcmp(name, "alice") == 0,
	       "alice's request: %s", got);
	snprintf(want, sizeof(want), "decision: %s (rule %s)\n", action, name);
	memcpy(args, as_alice, sizeof(as_alice));
	args[1] = url;
	proxyctl(&c, &proxy, args);
	HCHECK(strstr(c.out, want) != NULL,
	       "the proxy applied %s to alice; explain --user alice says:\n%s",
	       got, c.out);
	harness_run_free(&c);
	memcpy(args, anonymous, sizeof(anonymous));
	args[1] = url;
	proxyctl(&c, &proxy, args);
	HCHECK(strstr(c.out, "decision: auth (rule login)\n") != NULL,
	       "explain without --user:\n%s", c.out);
	harness_run_free(&c);
}
END_TEST

static Suite *
content_rules_suite(void)
{
	Suite *s = suite_create("content_rules");
	TCase *tc = tcase_create("content_rules");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, dlp_upload_never_reaches_origin);
	tcase_add_test(tc, dlp_expect_continue);
	tcase_add_test(tc, resp_body_word_across_chunks);
	tcase_add_test(tc, resp_body_rule_elsewhere);
	tcase_add_test(tc, compressed_responses);
	tcase_add_test(tc, body_scan_limit_overflow);
	tcase_add_test(tc, body_scan_limit_exact_fit);
	tcase_add_test(tc, body_scan_limit_prefix_scanned);
	tcase_add_test(tc, scan_buffer_grows);
	tcase_add_test(tc, proxy_auth);
	tcase_add_test(tc, proxyctl_rules_hits);
	tcase_add_test(tc, proxyctl_explain);
	tcase_add_test(tc, explain_with_user);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_main(content_rules_suite());
}
