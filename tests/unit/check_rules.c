/*
 * The rules engine as the worker and proxyctl use it (rules/rules.h):
 * rules_load on files written into a private temporary folder, with every
 * loader error checked to the byte as "file:line: message"; rules_eval in
 * file order with the default, monitor mode and its hit counters, each
 * condition (src v4/v6, host exact/.suffix/@FILE and case, port, method,
 * scheme, url any-of, header through the callback, time windows across
 * midnight), evaluation suspended for dst and sni and resumed; and
 * rules_explain_rule naming the condition that failed.  The shipped
 * etc/rules.ini must load and do what its comments say.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rules/rules.h"

#define ERR_MAX 1024

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static char dir[256];
static char path[320]; /* dir/rules.ini */

/* ---- files --------------------------------------------------------- */

static void
make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/check_rules.XXXXXX",
	         tmp && tmp[0] ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rules.ini", dir);
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
remove_dir(void)
{
	if (dir[0])
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to dir/name. */
static void
put_file(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static struct rules *
load_ok(const char *text)
{
	char err[ERR_MAX] = "";
	struct rules *r;

	put_file("rules.ini", text);
	r = rules_load(path, err, sizeof(err));
	ck_assert_msg(r != NULL, "load failed: %s", err);
	return r;
}

/* The load fails with exactly "PATH:line: msg". */
static void
load_fails(const char *text, int line, const char *msg)
{
	char err[ERR_MAX] = "", want[ERR_MAX];
	struct rules *r;

	put_file("rules.ini", text);
	r = rules_load(path, err, sizeof(err));
	ck_assert_msg(r == NULL, "loaded, expected: %s", msg);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	ck_assert_str_eq(err, want);
}

/* ---- requests ------------------------------------------------------ */

static struct sockaddr_storage src_ss, dst_ss;
static struct tm now;
/* "Name", "value" pairs, NULL-terminated, for the header callback */
static const char *const *hdrs;

static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *ip)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		v6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &v6->sin6_addr), 1);
	} else {
		v4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &v4->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static const char *
header_cb(void *arg, const char *name, unsigned i, size_t *len)
{
	const char *const *h;

	(void)arg;
	for (h = hdrs; h && h[0]; h += 2)
		if (strcasecmp(h[0], name) == 0 && i-- == 0) {
			*len = strlen(h[1]);
			return h[1];
		}
	return NULL;
}

static void
set_time(int wday, int hour, int min)
{
	memset(&now, 0, sizeof(now));
	now.tm_year = 125;
	now.tm_mday = 1;
	now.tm_wday = wday;
	now.tm_hour = hour;
	now.tm_min = min;
}

static void
set_url(struct rules_request *rq, const char *url)
{
	rq->url = url;
	rq->url_len = url ? strlen(url) : 0;
}

/* GET http://example.com/index.html from 192.168.1.10, Wednesday noon. */
static struct rules_request
base_req(void)
{
	struct rules_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.src = addr(&src_ss, "192.168.1.10");
	rq.host = "example.com";
	rq.port = 80;
	rq.method = "GET";
	set_url(&rq, "http://example.com/index.html");
	rq.header = header_cb;
	set_time(WED, 12, 0);
	rq.now = &now;
	hdrs = NULL;
	return rq;
}

/* CONNECT example.com:443, ClientHello not read yet. */
static struct rules_request
tunnel_req(void)
{
	struct rules_request rq = base_req();

	rq.port = 443;
	rq.method = "CONNECT";
	rq.https = 1;
	set_url(&rq, "example.com:443");
	return rq;
}

/* ---- evaluation ---------------------------------------------------- */

static enum rules_verdict
eval(const struct rules *r, const struct rules_request *rq,
     struct rules_state *st, uint64_t *hits)
{
	struct rules_scratch *sc = rules_scratch_new(r);
	enum rules_verdict v;

	ck_assert_ptr_nonnull(sc);
	v = rules_eval(r, sc, rq, st, hits);
	rules_scratch_free(sc);
	return v;
}

/* "NAME action" of the decision on rq, "default action" when no rule. */
static const char *
decide_hits(const struct rules *r, const struct rules_request *rq,
            uint64_t *hits)
{
	static char out[RULES_NAME_MAX + 32];
	struct rules_state st;
	enum rules_verdict v;

	memset(&st, 0, sizeof(st));
	v = eval(r, rq, &st, hits);
	ck_assert_msg(v == RULES_DECIDED, "verdict %d, want decided", v);
	snprintf(out, sizeof(out), "%s %s", st.rule ? st.rule->name : "default",
	         rules_action_name(st.action));
	return out;
}

static const char *
decide(const struct rules *r, const struct rules_request *rq)
{
	return decide_hits(r, rq, NULL);
}

static const char *
explain(const struct rules *r, const struct rules_request *rq, unsigned i)
{
	struct rules_scratch *sc = rules_scratch_new(r);
	const char *why;

	ck_assert_ptr_nonnull(sc);
	why = rules_explain_rule(r, sc, rq, i);
	rules_scratch_free(sc);
	return why;
}

/* ---- loader errors ------------------------------------------------- */

struct bad_case {
	const char *text;
	int line;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
        {"[rule a]\nhost = a.test\ncolour = red\naction = deny\n", 3,
         "unknown key 'colour' in [rule a]"},
        {"[rule a]\nhost = a.test\naction = deny\nhost = b.test\n", 4,
         "duplicate key 'host' in [rule a]"},
        {"[rule a]\naction = deny\naction = allow\n", 3,
         "duplicate key 'action' in [rule a]"},
        {"[rule a]\nhost = a.test\naction = block\n", 3,
         "[rule a] action: bad action 'block' (allow, deny, redirect or "
         "auth)"},
        {"[rule a]\nhost = a.test\n", 1,
         "[rule a]: action is required (allow, deny, redirect or auth)"},
        /* reported at the rule's header, also when a section follows */
        {"[rules]\ndefault = allow\n\n[rule go]\nhost = a.test\n"
         "action = redirect\n\n[rule b]\naction = allow\n",
         4, "[rule go]: redirect needs a location"},
        {"[rule a]\naction = deny\nlocation = http://x.test/\n", 1,
         "[rule a]: location is only for action = redirect"},
        {"[rule a]\naction = redirect\nlocation = ftp://x.test/\n", 3,
         "[rule a] location: location must be an http:// or https:// "
         "URL"},
        {"[rule a]\nstatus = 451\naction = allow\n", 1,
         "[rule a]: status is only for action = deny"},
        {"[rule a]\naction = deny\nstatus = 302\n", 3,
         "[rule a] status: bad status '302' (400..599)"},
        {"[rule a]\naction = deny\nstatus = 600\n", 3,
         "[rule a] status: bad status '600' (400..599)"},
        {"[rule a]\naction = deny\nmode = audit\n", 3,
         "[rule a] mode: bad mode 'audit' (enforce or monitor)"},
        {"[rule a]\nsrc = 10.1.2.3/8\naction = deny\n", 2,
         "[rule a] src: host bits set in 10.1.2.3/8: say 10.0.0.0/8"},
        {"[rule a]\naction = deny\ndst = 10.0.0.0/8, 300.1.2.3\n", 3,
         "[rule a] dst: invalid address \"300.1.2.3\""},
        {"[rule a]\nsrc = 10.0.0.0/33\naction = deny\n", 2,
         "[rule a] src: prefix length /33 out of range (0..32)"},
        {"[rule a]\nsrc = 2001:db8::1/32\naction = deny\n", 2,
         "[rule a] src: host bits set in 2001:db8::1/32: say "
         "2001:db8::/32"},
        {"[rule a]\nsrc = 10.0.0.0/8,,11.0.0.0/8\naction = deny\n", 2,
         "[rule a] src: empty item"},
        {"[rule a]\nport = 0\naction = deny\n", 2,
         "[rule a] port: bad port '0' (1..65535)"},
        {"[rule a]\nport = 443, 70000\naction = deny\n", 2,
         "[rule a] port: bad port '70000' (1..65535)"},
        {"[rule a]\nscheme = ftp\naction = deny\n", 2,
         "[rule a] scheme: bad scheme 'ftp' (http or https)"},
        {"[rule a]\nmethod = GET, P*ST\naction = deny\n", 2,
         "[rule a] method: bad method 'P*ST'"},
        {"[rule a]\nurl = ^http://(a|b\naction = deny\n", 2,
         "[rule a] url: at offset 12: missing closing parenthesis"},
        {"[rule a]\nheader = User-Agent curl\naction = deny\n", 2,
         "[rule a] header: expected NAME: PATTERN"},
        {"[rule a]\nheader = User-Agent: [curl\naction = deny\n", 2,
         "[rule a] header: at offset 5: missing terminating ] for "
         "character class"},
        {"[rule a]\nurl_file = urls.txt\naction = deny\n", 2,
         "[rule a] url_file: expected @FILE"},
        {"[rule a]\naction = deny\n[rule b]\naction = allow\n"
         "[rule a]\naction = allow\n",
         5, "duplicate rule 'a' (first at line 1)"},
        {"[rule bad/name]\naction = deny\n", 1,
         "[rule NAME]: NAME is 1..63 of A-Z a-z 0-9 _ . -"},
        {"[rule a]\naction = deny\n[policy]\ndefault = deny\n", 3,
         "unknown section [policy] ([rules] or [rule NAME])"},
        {"host = a.test\n[rule a]\naction = deny\n", 1,
         "key 'host' before any [rule NAME]"},
        {"[rules]\ndefault = maybe\n", 2, "[rules] default: bad value 'maybe'"},
        {"[rules]\ndefault = allow\ndefault = deny\n", 3,
         "duplicate key 'default' in [rules]"},
        {"[rules]\nsni_mismatch = warn\n", 2,
         "[rules] sni_mismatch: bad value 'warn'"},
        {"[rules]\ntime_zone = Nowhere/Atlantis\n", 2,
         "[rules] time_zone: bad value 'Nowhere/Atlantis'"},
        {"[rules]\nlog = on\n", 2, "unknown key 'log' in [rules]"},
        {"[rules]\ndefault = deny\n[rules]\n", 3, "duplicate [rules] section"},
        {"[rules main]\n", 1, "[rules] takes no name"},
        {"[rule a]\naction = deny\ntime = Mon-Fri 08:00\n", 3, NULL},
};

/* Only the start of the timewin message is ours to pin here. */
static void
load_fails_prefix(const char *text, int line, const char *prefix)
{
	char err[ERR_MAX] = "", want[ERR_MAX];
	struct rules *r;

	put_file("rules.ini", text);
	r = rules_load(path, err, sizeof(err));
	ck_assert_msg(r == NULL, "loaded, expected an error at line %d", line);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, prefix);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	              "got '%s', want '%s...'", err, want);
}

START_TEST(loader_errors)
{
	const struct bad_case *c = &bad_cases[_i];

	if (c->msg)
		load_fails(c->text, c->line, c->msg);
	else
		load_fails_prefix(c->text, c->line, "[rule a] time: ");
}
END_TEST

START_TEST(list_file_errors)
{
	char msg[ERR_MAX];

	snprintf(msg, sizeof(msg),
	         "[rule a] host: %s/missing.txt: No such file or directory",
	         dir);
	load_fails("[rule a]\nhost = a.test, @missing.txt\naction = deny\n", 2,
	           msg);
	snprintf(msg, sizeof(msg),
	         "[rule a] url_file: %s/nourls.txt: No such file or directory",
	         dir);
	load_fails("[rule a]\naction = deny\nurl_file = @nourls.txt\n", 3, msg);
	/* an error inside a list names the list's own line too */
	put_file("urls.txt", "# comment\n\n^http://ok\\.test/\n(unclosed\n");
	snprintf(msg, sizeof(msg),
	         "[rule a] url_file: %s/urls.txt:4: at offset 9: missing "
	         "closing parenthesis",
	         dir);
	load_fails("[rule a]\nurl_file = @urls.txt\naction = deny\n", 2, msg);
	put_file("names.txt", "good.test\n\nbad name.test\n");
	snprintf(msg, sizeof(msg), "[rule a] sni: %s/names.txt:3: ", dir);
	load_fails_prefix("[rule a]\naction = deny\nsni = @names.txt\n", 3,
	                  msg);
}
END_TEST

START_TEST(no_file)
{
	char err[ERR_MAX] = "", want[ERR_MAX], absent[512];

	snprintf(absent, sizeof(absent), "%s/absent.ini", dir);
	snprintf(want, sizeof(want), "%s: No such file or directory", absent);
	ck_assert_ptr_null(rules_load(absent, err, sizeof(err)));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(loads_what_it_reads)
{
	struct rules *r = load_ok(
	        "; comment\n[rules]\ndefault = allow\nsni_mismatch = allow\n"
	        "sni_missing = deny\ntime_zone = UTC\n\n"
	        "[rule first]\nhost = a.test\nurl = ^http://\nurl = x\n"
	        "action = deny\nstatus = 451\nmessage = Not here.\n\n"
	        "[rule second]\naction = redirect\n"
	        "location = https://portal.test/\nmode = monitor\n");

	ck_assert_uint_eq(r->n, 2);
	ck_assert(r->default_action == RULE_allow);
	ck_assert_int_eq(r->sni_mismatch_deny, 0);
	ck_assert_int_eq(r->sni_missing_deny, 1);
	ck_assert_str_eq(r->time_zone, "UTC");
	ck_assert_uint_eq(r->rule[0].id, 1);
	ck_assert_str_eq(r->rule[0].name, "first");
	ck_assert_int_eq(r->rule[0].line, 8);
	ck_assert(r->rule[0].action == RULE_deny);
	ck_assert_uint_eq(r->rule[0].status, 451);
	ck_assert_str_eq(r->rule[0].message, "Not here.");
	ck_assert_str_eq(r->rule[0].text,
	                 "host = a.test; url = ^http://; url = x");
	ck_assert_int_eq(r->rule[0].monitor, 0);
	ck_assert_uint_eq(r->rule[1].id, 2);
	ck_assert_int_eq(r->rule[1].line, 16);
	ck_assert(r->rule[1].action == RULE_redirect);
	ck_assert_str_eq(r->rule[1].location, "https://portal.test/");
	ck_assert_uint_eq(r->rule[1].status, 403);
	ck_assert_int_eq(r->rule[1].monitor, 1);
	ck_assert_str_eq(r->rule[1].text, "");
	rules_free(r);
}
END_TEST

START_TEST(shipped_defaults)
{
	char err[ERR_MAX] = "";
	struct rules *r = load_ok("[rule a]\naction = allow\n");

	ck_assert(r->default_action == RULE_deny);
	ck_assert_int_eq(r->sni_mismatch_deny, 1);
	ck_assert_int_eq(r->sni_missing_deny, 0);
	ck_assert_str_eq(r->time_zone, "");
	rules_free(r);
	/* an empty file: no rules, the defaults */
	put_file("rules.ini", "");
	r = rules_load(path, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(r->n, 0);
	ck_assert(r->default_action == RULE_deny);
	rules_free(r);
	rules_free(NULL);
}
END_TEST

/* ---- evaluation ---------------------------------------------------- */

START_TEST(first_match_in_file_order)
{
	struct rules *r = load_ok("[rule deny-ex]\nhost = example.com\n"
	                          "action = deny\n"
	                          "[rule allow-ex]\nhost = example.com\n"
	                          "action = allow\n");
	struct rules_request rq = base_req();

	ck_assert_str_eq(decide(r, &rq), "deny-ex deny");
	rules_free(r);
	r = load_ok("[rule allow-ex]\nhost = example.com\naction = allow\n"
	            "[rule deny-ex]\nhost = example.com\naction = deny\n");
	ck_assert_str_eq(decide(r, &rq), "allow-ex allow");
	rules_free(r);
}
END_TEST

START_TEST(default_policy)
{
	struct rules *r = load_ok("[rule other]\nhost = other.test\n"
	                          "action = allow\n");
	struct rules_request rq = base_req();

	ck_assert_str_eq(decide(r, &rq), "default deny");
	rules_free(r);
	r = load_ok("[rules]\ndefault = allow\n"
	            "[rule other]\nhost = other.test\naction = deny\n");
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rq.host = "other.test";
	ck_assert_str_eq(decide(r, &rq), "other deny");
	rules_free(r);
	r = load_ok("[rules]\ndefault = allow\n");
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

START_TEST(monitor_skipped_but_counted)
{
	struct rules *r = load_ok(
	        "[rule watch]\nhost = example.com\nmode = monitor\n"
	        "action = deny\n"
	        "[rule other]\nhost = other.test\naction = deny\n"
	        "[rule watch2]\nurl = index\nmode = monitor\naction = allow\n"
	        "[rule pass]\nhost = .example.com\naction = allow\n");
	struct rules_request rq = base_req();
	struct rules_state st;
	uint64_t hits[4] = {0};

	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, hits), RULES_DECIDED);
	ck_assert_ptr_eq(st.rule, &r->rule[3]);
	ck_assert(st.action == RULE_allow);
	ck_assert_ptr_eq(st.monitored, &r->rule[0]); /* the first one */
	ck_assert_uint_eq(hits[0], 1);
	ck_assert_uint_eq(hits[1], 0);
	ck_assert_uint_eq(hits[2], 1);
	ck_assert_uint_eq(hits[3], 1);
	ck_assert_str_eq(decide_hits(r, &rq, hits), "pass allow");
	ck_assert(hits[0] == 2 && hits[1] == 0 && hits[2] == 2 && hits[3] == 2);
	rules_free(r);
}
END_TEST

/* A monitor rule never enforces: the default decides, deny or allow. */
START_TEST(monitor_never_enforces)
{
	struct rules *r = load_ok("[rule watch]\nhost = example.com\n"
	                          "mode = monitor\naction = allow\n");
	struct rules_request rq = base_req();
	struct rules_state st;
	uint64_t hits[1] = {0};

	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, hits), RULES_DECIDED);
	ck_assert_ptr_null(st.rule);
	ck_assert(st.action == RULE_deny);
	ck_assert_ptr_eq(st.monitored, &r->rule[0]);
	ck_assert_uint_eq(hits[0], 1);
	rules_free(r);
	r = load_ok("[rules]\ndefault = allow\n[rule watch]\nhost = "
	            "example.com\nmode = monitor\naction = deny\n");
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

START_TEST(src_cidrs)
{
	struct rules *r = load_ok("[rules]\ndefault = allow\n[rule lan]\n"
	                          "src = 10.0.0.0/8, 192.168.1.128/25, "
	                          "2001:db8::/32, ::1\naction = deny\n");
	struct rules_request rq = base_req();
	static const char *const in[] = {
	        "10.0.0.0",      "10.255.255.255",  "192.168.1.128",
	        "192.168.1.255", "2001:db8::",      "2001:db8:ffff::1",
	        "::1",           "::ffff:10.1.2.3", "::ffff:192.168.1.200",
	};
	static const char *const out[] = {
	        "9.255.255.255",   "11.0.0.0", "192.168.1.127",   "2001:db9::",
	        "2001:db7:ffff::", "::2",      "::ffff:11.0.0.1", "0.0.0.1",
	};
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		rq.src = addr(&src_ss, in[i]);
		ck_assert_msg(strcmp(decide(r, &rq), "lan deny") == 0, "%s",
		              in[i]);
	}
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		rq.src = addr(&src_ss, out[i]);
		ck_assert_msg(strcmp(decide(r, &rq), "default allow") == 0,
		              "%s", out[i]);
	}
	rq.src = NULL; /* unknown: a src condition cannot hold */
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

START_TEST(host_exact_suffix_case)
{
	struct rules *r;
	struct rules_request rq = base_req();
	char text[512];
	static const char *const in[] = {
	        "example.com", "EXAMPLE.com",   "example.com.", "corp.test",
	        "a.corp.test", "A.B.Corp.Test", "dot.test",     "listed.test",
	        "sub.test",    "x.y.sub.test",
	};
	static const char *const out[] = {
	        "www.example.com",
	        "example.co",
	        "xexample.com",
	        "xcorp.test",
	        "corp.test.evil",
	        "dot.test.x",
	        "a.listed.test",
	        "ub.test",
	        "test",
	        "",
	};
	size_t i;

	put_file("names.txt", "# a comment\n\nlisted.test\n.sub.test\n");
	snprintf(text, sizeof(text),
	         "[rules]\ndefault = allow\n[rule h]\n"
	         "host = Example.COM, .corp.test, dot.test., @names.txt\n"
	         "action = deny\n");
	r = load_ok(text);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		rq.host = in[i];
		ck_assert_msg(strcmp(decide(r, &rq), "h deny") == 0, "%s",
		              in[i]);
	}
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		rq.host = out[i];
		ck_assert_msg(strcmp(decide(r, &rq), "default allow") == 0,
		              "'%s'", out[i]);
	}
	rq.host = NULL;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

/* @/absolute works too, wherever the rules file is. */
START_TEST(host_file_absolute)
{
	struct rules *r;
	struct rules_request rq = base_req();
	char text[512];

	put_file("abs.txt", "example.com\n");
	snprintf(text, sizeof(text),
	         "[rule h]\nhost = @%s/abs.txt\naction = allow\n", dir);
	r = load_ok(text);
	ck_assert_str_eq(decide(r, &rq), "h allow");
	rules_free(r);
}
END_TEST

START_TEST(port_method_scheme)
{
	struct rules *r =
	        load_ok("[rules]\ndefault = allow\n"
	                "[rule p]\nport = 8080, 8443\naction = deny\n"
	                "[rule m]\nmethod = POST, PUT\naction = deny\n"
	                "[rule s]\nscheme = https\naction = deny\n"
	                "[rule both]\nscheme = http, https\n"
	                "method = DELETE\naction = deny\n");
	struct rules_request rq = base_req();

	ck_assert_str_eq(decide(r, &rq), "default allow");
	rq.port = 8443;
	ck_assert_str_eq(decide(r, &rq), "p deny");
	rq.port = 80;
	rq.method = "PUT";
	ck_assert_str_eq(decide(r, &rq), "m deny");
	rq.method = "put"; /* methods are case-sensitive */
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rq.method = "DELETE";
	ck_assert_str_eq(decide(r, &rq), "both deny");
	rq = tunnel_req();
	ck_assert_str_eq(decide(r, &rq), "s deny");
	rules_free(r);
}
END_TEST

START_TEST(url_any_of)
{
	struct rules *r;
	struct rules_request rq = base_req();
	static const char *const in[] = {
	        "http://a.test/",          "http://a.test/x?y",
	        "http://b.test/setup.EXE", "http://b.test/tools/setup.exe",
	        "http://c.test/admin/",    "http://c.test/x/admin/y",
	};
	static const char *const out[] = {
	        "http://b.a.test/",
	        "https://a.test/",
	        "http://b.test/setup.exe?x",
	        "http://c.test/admin",
	        "http://example.com/index.html",
	};
	size_t i;

	put_file("urls.txt", "# admin pages\n/admin/\n");
	r = load_ok("[rules]\ndefault = allow\n[rule u]\n"
	            "url = ^http://a\\.test/\nurl = (?i)\\.exe$\n"
	            "url_file = @urls.txt\naction = deny\n");
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		set_url(&rq, in[i]);
		ck_assert_msg(strcmp(decide(r, &rq), "u deny") == 0, "%s",
		              in[i]);
	}
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		set_url(&rq, out[i]);
		ck_assert_msg(strcmp(decide(r, &rq), "default allow") == 0,
		              "%s", out[i]);
	}
	/* url_len bounds the subject, not the NUL */
	rq.url = "http://a.test/";
	rq.url_len = 7;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	set_url(&rq, NULL);
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

START_TEST(header_conditions)
{
	static const char *const none[] = {"Accept", "*/*", NULL};
	static const char *const moz[] = {"User-Agent", "Mozilla/5.0", NULL};
	static const char *const curl[] = {"user-agent", "curl/8.5", NULL};
	static const char *const second[] = {
	        "User-Agent", "x",         "Accept", "*/*",
	        "USER-AGENT", "Wget/1.21", NULL};
	static const char *const tag[] = {"X-Tag", "secret", NULL};
	static const char *const tag_sub[] = {"X-Tag", "not secret", NULL};
	static const char *const only_a[] = {"X-A", "1", "X-C", "2", NULL};
	static const char *const a_and_b[] = {"x-b", "2", "X-A", "1", NULL};
	struct rules *r = load_ok("[rules]\ndefault = allow\n[rule ua]\n"
	                          "header = User-Agent: ^curl/\n"
	                          "header = user-agent: (?i)^wget/\n"
	                          "action = deny\n"
	                          "[rule tag]\nheader = X-Tag: ^secret$\n"
	                          "action = deny\n"
	                          "[rule both]\nheader = X-A: 1\n"
	                          "header = X-B: 2\naction = deny\n");
	struct rules_request rq = base_req();

	hdrs = none;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	hdrs = moz;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	hdrs = curl;
	ck_assert_str_eq(decide(r, &rq), "ua deny");
	hdrs = second; /* any value of the header */
	ck_assert_str_eq(decide(r, &rq), "ua deny");
	hdrs = tag;
	ck_assert_str_eq(decide(r, &rq), "tag deny");
	hdrs = tag_sub;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	/* headers of different names must all match */
	hdrs = only_a;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	hdrs = a_and_b;
	ck_assert_str_eq(decide(r, &rq), "both deny");
	rq.header = NULL; /* no callback: header conditions cannot hold */
	hdrs = curl;
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

START_TEST(time_windows)
{
	struct rules *r = load_ok("[rules]\ndefault = allow\n[rule night]\n"
	                          "time = 22:00-06:00\n"
	                          "time = Sat,Sun 00:00-24:00\naction = deny\n"
	                          "[rule fri]\ntime = Fri 23:00-02:00\n"
	                          "action = deny\n");
	struct rules_request rq = base_req();
	static const struct {
		int wday, hour, min;
		const char *want;
	} cases[] = {
	        {WED, 12, 0, "default allow"}, {WED, 21, 59, "default allow"},
	        {WED, 22, 0, "night deny"},    {WED, 23, 59, "night deny"},
	        {THU, 0, 0, "night deny"},     {THU, 5, 59, "night deny"},
	        {THU, 6, 0, "default allow"},  {MON, 3, 0, "night deny"},
	        {SAT, 12, 0, "night deny"},    {SUN, 23, 30, "night deny"},
	        {MON, 6, 30, "default allow"}, {FRI, 12, 0, "default allow"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_time(cases[i].wday, cases[i].hour, cases[i].min);
		ck_assert_msg(strcmp(decide(r, &rq), cases[i].want) == 0,
		              "day %d %02d:%02d: %s, want %s", cases[i].wday,
		              cases[i].hour, cases[i].min, decide(r, &rq),
		              cases[i].want);
	}
	rules_free(r);
	/* the small hours belong to the start day's window */
	r = load_ok("[rules]\ndefault = allow\n[rule fri]\n"
	            "time = Fri 23:00-02:00\naction = deny\n");
	set_time(SAT, 1, 0);
	ck_assert_str_eq(decide(r, &rq), "fri deny");
	set_time(SAT, 2, 0);
	ck_assert_str_eq(decide(r, &rq), "default allow");
	set_time(FRI, 1, 0);
	ck_assert_str_eq(decide(r, &rq), "default allow");
	set_time(FRI, 23, 0);
	ck_assert_str_eq(decide(r, &rq), "fri deny");
	set_time(THU, 23, 30);
	ck_assert_str_eq(decide(r, &rq), "default allow");
	rules_free(r);
}
END_TEST

/* "Unknown parts are NULL": a rule with a time window on a request
 * without a clock does not match (and nothing crashes). */
START_TEST(time_unknown)
{
	struct rules *r = load_ok("[rules]\ndefault = allow\n[rule t]\n"
	                          "time = 00:00-24:00\naction = deny\n"
	                          "[rule any]\naction = allow\n");
	struct rules_request rq = base_req();

	rq.now = NULL;
	ck_assert_str_eq(decide(r, &rq), "any allow");
	ck_assert_str_eq(explain(r, &rq, 0), "time");
	rules_free(r);
}
END_TEST

START_TEST(dst_suspends_then_resumes)
{
	struct rules *r =
	        load_ok("[rule watch]\nurl = example\nmode = monitor\n"
	                "action = deny\n"
	                "[rule inside]\ndst = 10.0.0.0/8, fd00::/8\n"
	                "action = deny\nstatus = 451\n"
	                "[rule rest]\naction = allow\n");
	struct rules_request rq = base_req();
	struct rules_state st, again;
	uint64_t hits[3] = {0};

	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, hits), RULES_NEED_DST);
	ck_assert_uint_eq(st.next, 1);
	ck_assert_uint_eq(hits[0], 1);
	/* resumed once per resolved address, each from the saved state */
	again = st;
	rq.dst = addr(&dst_ss, "10.9.8.7");
	ck_assert_int_eq(eval(r, &rq, &again, hits), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[1]);
	ck_assert(again.action == RULE_deny);
	ck_assert_ptr_eq(again.monitored, &r->rule[0]);
	ck_assert(hits[0] == 1 && hits[1] == 1 && hits[2] == 0);
	again = st;
	rq.dst = addr(&dst_ss, "fd12::1");
	ck_assert_int_eq(eval(r, &rq, &again, hits), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[1]);
	again = st;
	rq.dst = addr(&dst_ss, "192.0.2.1");
	ck_assert_int_eq(eval(r, &rq, &again, hits), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[2]);
	ck_assert(hits[0] == 1 && hits[1] == 2 && hits[2] == 1);
	rules_free(r);
}
END_TEST

START_TEST(dst_none_is_false)
{
	struct rules *r = load_ok("[rule inside]\ndst = 0.0.0.0/0, ::/0\n"
	                          "action = deny\n"
	                          "[rule rest]\naction = allow\n");
	struct rules_request rq = base_req();
	struct rules_state st;

	rq.dst_none = 1;
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_DECIDED);
	ck_assert_ptr_eq(st.rule, &r->rule[1]);
	ck_assert_str_eq(explain(r, &rq, 0), "dst");
	rules_free(r);
}
END_TEST

/* A dst rule only waits when everything else about it holds, and not
 * at all behind an earlier decision. */
START_TEST(dst_waits_only_when_needed)
{
	struct rules *r = load_ok("[rules]\ndefault = allow\n"
	                          "[rule first]\nhost = first.test\n"
	                          "action = allow\n"
	                          "[rule inside]\nhost = other.test\n"
	                          "dst = 10.0.0.0/8\naction = deny\n");
	struct rules_request rq = base_req();
	struct rules_state st;

	ck_assert_str_eq(decide(r, &rq), "default allow");
	rq.host = "first.test";
	ck_assert_str_eq(decide(r, &rq), "first allow");
	rq.host = "other.test";
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_NEED_DST);
	ck_assert_uint_eq(st.next, 1);
	rules_free(r);
}
END_TEST

START_TEST(sni_suspends_only_for_https)
{
	struct rules *r = load_ok("[rules]\ndefault = allow\n"
	                          "[rule good]\nsni = .good.test\n"
	                          "action = allow\n"
	                          "[rule rest]\naction = deny\n");
	struct rules_request rq = base_req();
	struct rules_state st, again;

	/* plain http: no ClientHello will come; sni cannot hold */
	ck_assert_str_eq(decide(r, &rq), "rest deny");
	rq = tunnel_req();
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_NEED_SNI);
	ck_assert_uint_eq(st.next, 0);
	rq.sni_known = 1;
	rq.sni = "www.good.test";
	again = st;
	ck_assert_int_eq(eval(r, &rq, &again, NULL), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[0]);
	rq.sni = "good.test.evil";
	again = st;
	ck_assert_int_eq(eval(r, &rq, &again, NULL), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[1]);
	rq.sni = NULL; /* a ClientHello without SNI */
	again = st;
	ck_assert_int_eq(eval(r, &rq, &again, NULL), RULES_DECIDED);
	ck_assert_ptr_eq(again.rule, &r->rule[1]);
	rules_free(r);
}
END_TEST

/* dst and sni on one tunnel rule: the address first, then the name. */
START_TEST(dst_then_sni)
{
	struct rules *r = load_ok("[rule both]\ndst = 10.0.0.0/8\n"
	                          "sni = good.test\naction = allow\n");
	struct rules_request rq = tunnel_req();
	struct rules_state st;

	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_NEED_DST);
	rq.dst = addr(&dst_ss, "10.0.0.1");
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_NEED_SNI);
	rq.sni_known = 1;
	rq.sni = "good.test";
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_DECIDED);
	ck_assert_ptr_eq(st.rule, &r->rule[0]);
	rules_free(r);
}
END_TEST

START_TEST(explain_names_condition)
{
	struct rules *r = load_ok(
	        "[rule src]\nsrc = 10.0.0.0/8\naction = deny\n"
	        "[rule port]\nport = 443\naction = deny\n"
	        "[rule scheme]\nscheme = https\naction = deny\n"
	        "[rule method]\nmethod = POST\naction = deny\n"
	        "[rule time]\ntime = Sat 00:00-24:00\naction = deny\n"
	        "[rule host]\nhost = other.test\naction = deny\n"
	        "[rule url]\nurl = ^https:\naction = deny\n"
	        "[rule header]\nheader = X-A: .\naction = deny\n"
	        "[rule dst]\ndst = 10.0.0.0/8\naction = deny\n"
	        "[rule sni]\nsni = example.com\naction = deny\n"
	        "[rule first]\nurl = nomatch\nsrc = 10.0.0.0/8\naction = deny\n"
	        "[rule ok]\nhost = example.com\nurl = index\naction = deny\n");
	static const char *const want[] = {
	        "src", "port",   "scheme",  "method", "time", "host",
	        "url", "header", "unknown", "sni",    "src",  "",
	};
	struct rules_request rq = base_req();
	unsigned i;

	ck_assert_uint_eq(r->n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < r->n; i++)
		ck_assert_msg(strcmp(explain(r, &rq, i), want[i]) == 0,
		              "rule %s: '%s', want '%s'", r->rule[i].name,
		              explain(r, &rq, i), want[i]);
	rq.dst = addr(&dst_ss, "10.1.1.1");
	ck_assert_str_eq(explain(r, &rq, 8), "");
	rq.dst = addr(&dst_ss, "192.0.2.1");
	ck_assert_str_eq(explain(r, &rq, 8), "dst");
	rq.dst = NULL;
	rq.dst_none = 1;
	ck_assert_str_eq(explain(r, &rq, 8), "dst");
	rules_free(r);
}
END_TEST

/* etc/rules.ini as shipped: loads, and each rule does what it says. */
START_TEST(shipped_rules)
{
	char err[ERR_MAX] = "";
	struct rules *r = rules_load("etc/rules.ini", err, sizeof(err));
	struct rules_request rq = base_req();
	struct rules_state st;

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert(r->default_action == RULE_deny && r->sni_mismatch_deny == 1 &&
	          r->sni_missing_deny == 0);
	/* the blocklist needs no DNS: it decides before the dst rule */
	rq.host = "ads.doubleclick.net";
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_DECIDED);
	ck_assert_str_eq(decide(r, &rq), "blocklist deny");
	rq.host = "example.com";
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(eval(r, &rq, &st, NULL), RULES_NEED_DST);
	rq.dst = addr(&dst_ss, "169.254.169.254");
	ck_assert_str_eq(decide(r, &rq), "metadata deny");
	rq.dst = addr(&dst_ss, "192.0.2.1");
	ck_assert_str_eq(decide(r, &rq), "lan-http allow");
	rq.src = addr(&src_ss, "203.0.113.9"); /* not a LAN client */
	ck_assert_str_eq(decide(r, &rq), "default deny");
	rq = tunnel_req();
	rq.dst = addr(&dst_ss, "192.0.2.1");
	ck_assert_str_eq(decide(r, &rq), "lan-https allow");
	rq.port = 8443; /* CONNECT only to 443 */
	ck_assert_str_eq(decide(r, &rq), "default deny");
	rules_free(r);
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *ld = tcase_create("load");
	TCase *ev = tcase_create("eval");

	tcase_add_checked_fixture(ld, make_dir, remove_dir);
	tcase_add_loop_test(ld, loader_errors, 0,
	                    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(ld, list_file_errors);
	tcase_add_test(ld, no_file);
	tcase_add_test(ld, loads_what_it_reads);
	tcase_add_test(ld, shipped_defaults);
	suite_add_tcase(s, ld);
	tcase_add_checked_fixture(ev, make_dir, remove_dir);
	tcase_add_test(ev, first_match_in_file_order);
	tcase_add_test(ev, default_policy);
	tcase_add_test(ev, monitor_skipped_but_counted);
	tcase_add_test(ev, monitor_never_enforces);
	tcase_add_test(ev, src_cidrs);
	tcase_add_test(ev, host_exact_suffix_case);
	tcase_add_test(ev, host_file_absolute);
	tcase_add_test(ev, port_method_scheme);
	tcase_add_test(ev, url_any_of);
	tcase_add_test(ev, header_conditions);
	tcase_add_test(ev, time_windows);
	tcase_add_test(ev, time_unknown);
	tcase_add_test(ev, dst_suspends_then_resumes);
	tcase_add_test(ev, dst_none_is_false);
	tcase_add_test(ev, dst_waits_only_when_needed);
	tcase_add_test(ev, sni_suspends_only_for_https);
	tcase_add_test(ev, dst_then_sni);
	tcase_add_test(ev, explain_names_condition);
	tcase_add_test(ev, shipped_rules);
	suite_add_tcase(s, ev);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rules_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
