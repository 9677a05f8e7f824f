/*
 * Unit tests for the reverse-proxy part of proxyd.ini: the value parsers of
 * common/config_reverse.c, the [backend NAME] and [route NAME] sections and
 * the reverse keys of [listen] as the loader (common/config.c) reads them,
 * each refusal with its exact "proxyd.ini:LINE: [section NAME] key: ..."
 * text, the cross-checks made once the whole file is in (finish_reverse),
 * and config_dump reading back to the same configuration.  Each file test
 * runs in its own mkdtemp directory, so messages read "proxyd.ini:3: ...".
 */
#include "common/config.h"
#include "common/config_reverse.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Lines 1-4: a reverse listener sending everything to [backend b]. */
#define REV                                                      \
	"[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n" \
	"default_backend = b\n"
/* Lines 1-3: a reverse listener whose next line (4) is under test. */
#define LREV "[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n"
/* Lines 5-6 after REV. */
#define BACK "[backend b]\nserver = 127.0.0.1:9000\n"
/* Six lines: a valid reverse configuration; line 7 is under test. */
#define RB REV BACK

/* One folder per run, made before the tests fork and removed after them
 * (a failed test leaves its own folder in it); one folder per test. */
static char rundir[64];
static char tmpdir[96];
static int oldcwd = -1;
/* static: a struct config is several megabytes */
static struct config cfg, cfg2;
static char err[1024];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", rundir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	oldcwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(oldcwd, 0);
	ck_assert_int_eq(chdir(tmpdir), 0);
	err[0] = '\0';
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	if (fchdir(oldcwd) == 0)
		nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	close(oldcwd);
}

static void
write_file(const char *name, const char *text, size_t len)
{
	FILE *f = fopen(name, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Writes text as proxyd.ini and loads it into c. */
static int
load_into(struct config *c, const char *text)
{
	write_file("proxyd.ini", text, strlen(text));
	return config_load(c, "proxyd.ini", err, sizeof(err));
}

static void
load_ok(const char *text)
{
	int rc = load_into(&cfg, text);

	ck_assert_msg(rc == 0, "load failed: %s\n--- file:\n%s", err, text);
}

static void
load_fails(const char *text, const char *want)
{
	int rc = load_into(&cfg, text);

	ck_assert_msg(rc == -1, "loaded, want '%s'\n--- file:\n%s", want, text);
	ck_assert_str_eq(err, want);
}

/* RB plus "key = value" in [backend b] (line 7). */
static const struct config_backend *
backend_with(const char *line)
{
	char text[2048];

	snprintf(text, sizeof(text), RB "%s\n", line);
	load_ok(text);
	ck_assert_uint_eq(cfg.n_backends, 1);
	return &cfg.backends[0];
}

/* RB plus "key = value" in [backend b], which must be refused. */
static void
backend_refuses(const char *line, const char *why)
{
	char text[2048], want[1024];

	snprintf(text, sizeof(text), RB "%s\n", line);
	snprintf(want, sizeof(want), "proxyd.ini:7: [backend b] %s", why);
	load_fails(text, want);
}

/* LREV plus one line in [listen r] (line 4). */
static const struct config_listen *
listen_with(const char *line)
{
	char text[2048];

	snprintf(text, sizeof(text), LREV "%s\ndefault_backend = b\n" BACK,
	         line);
	load_ok(text);
	return &cfg.listens[0];
}

static void
listen_refuses(const char *line, const char *why)
{
	char text[2048], want[1024];

	snprintf(text, sizeof(text), LREV "%s\ndefault_backend = b\n" BACK,
	         line);
	snprintf(want, sizeof(want), "proxyd.ini:4: [listen r] %s", why);
	load_fails(text, want);
}

/* RB plus [route x] (line 7) with backend = b and one more line (9). */
static const struct config_route *
route_with(const char *line)
{
	char text[2048];

	snprintf(text, sizeof(text), RB "[route x]\nbackend = b\n%s\n", line);
	load_ok(text);
	ck_assert_uint_eq(cfg.n_routes, 1);
	return &cfg.routes[0];
}

static void
route_refuses(const char *line, const char *why)
{
	char text[2048], want[1024];

	snprintf(text, sizeof(text), RB "[route x]\nbackend = b\n%s\n", line);
	snprintf(want, sizeof(want), "proxyd.ini:9: [route x] %s", why);
	load_fails(text, want);
}

static char *
dump_text(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	config_dump(c, f);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

static const char *
ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a =
	        ss->ss_family == AF_INET6
	                ? (const void *)&((const struct sockaddr_in6 *)ss)
	                          ->sin6_addr
	                : (const void *)&((const struct sockaddr_in *)ss)
	                          ->sin_addr;

	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len);
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6
	               ? ntohs(((const struct sockaddr_in6 *)ss)->sin6_port)
	               : ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* ---- the value parsers, called directly ---- */

START_TEST(parse_enums)
{
	static const char *const balances[] = {"roundrobin", "leastconn",
	                                       "hash", "random"};
	static const char *const proxies[] = {"off", "v1", "v2"};
	static const char *const real_ips[] = {"off", "x-real-ip",
	                                       "true-client-ip"};
	enum balance b = BALANCE_HASH;
	enum send_proxy p = SEND_PROXY_V2;
	enum real_ip_header h = REAL_IP_X_REAL_IP;
	size_t i;

	for (i = 0; i < N_ELEMS(balances); i++) {
		ck_assert_int_eq(config_parse_balance(balances[i], &b), 0);
		ck_assert_int_eq(b, (int)i);
		ck_assert_str_eq(config_balance_name(b), balances[i]);
	}
	for (i = 0; i < N_ELEMS(proxies); i++) {
		ck_assert_int_eq(config_parse_send_proxy(proxies[i], &p), 0);
		ck_assert_int_eq(p, (int)i);
		ck_assert_str_eq(config_send_proxy_name(p), proxies[i]);
	}
	for (i = 0; i < N_ELEMS(real_ips); i++) {
		ck_assert_int_eq(config_parse_real_ip(real_ips[i], &h), 0);
		ck_assert_int_eq(h, (int)i);
		ck_assert_str_eq(config_real_ip_name(h), real_ips[i]);
	}
	b = BALANCE_RANDOM;
	ck_assert_int_eq(config_parse_balance("RoundRobin", &b), -1);
	ck_assert_int_eq(config_parse_balance("", &b), -1);
	ck_assert_int_eq(config_parse_balance("round robin", &b), -1);
	ck_assert_int_eq(b, BALANCE_RANDOM);
	ck_assert_int_eq(config_parse_send_proxy("v3", &p), -1);
	ck_assert_int_eq(config_parse_send_proxy("on", &p), -1);
	ck_assert_int_eq(config_parse_real_ip("X-Real-IP", &h), -1);
	ck_assert_str_eq(config_balance_name((enum balance)99), "?");
	ck_assert_str_eq(config_send_proxy_name((enum send_proxy)99), "?");
	ck_assert_str_eq(config_real_ip_name((enum real_ip_header)99), "?");
}
END_TEST

START_TEST(parse_hash_key)
{
	static const char *const bad[] = {
	        "",           "header:", "header:a b",
	        "header:X:Y", "Source",  "cookie:id",
	        "header",     "uri ",    "header:\xc3\xa9",
	};
	enum hash_key k = HASH_KEY_URI;
	char header[64];
	size_t i;

	ck_assert_int_eq(
	        config_parse_hash_key("source", &k, header, sizeof(header)), 0);
	ck_assert_int_eq(k, HASH_KEY_SOURCE);
	ck_assert_int_eq(
	        config_parse_hash_key("uri", &k, header, sizeof(header)), 0);
	ck_assert_int_eq(k, HASH_KEY_URI);
	ck_assert_int_eq(config_parse_hash_key("header:X-Session-Key", &k,
	                                       header, sizeof(header)),
	                 0);
	ck_assert_int_eq(k, HASH_KEY_HEADER);
	ck_assert_str_eq(header, "x-session-key");
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_hash_key(bad[i], &k, header,
		                                    sizeof(header)) == -1,
		              "'%s'", bad[i]);
	/* a name that does not fit the buffer is refused, not cut */
	ck_assert_int_eq(
	        config_parse_hash_key("header:abcdefgh", &k, header, 8), -1);
}
END_TEST

START_TEST(parse_check)
{
	static const char *const good[] = {"off", "tcp", "GET /healthz",
	                                   "HEAD /", "GET /a?b=c&d=%20"};
	static const char *const bad[] = {
	        "",      "on",      "TCP",    "get /x",    "GET x",
	        "GET",   "GET ",    " /x",    "GET /a b",  "GET  /x",
	        "Get /", "GET\t/x", "G3T /x", "GET /\x01", "/healthz",
	};
	size_t i;

	for (i = 0; i < N_ELEMS(good); i++)
		ck_assert_msg(config_parse_check(good[i]) == 0, "'%s'",
		              good[i]);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_check(bad[i]) == -1, "'%s'", bad[i]);
}
END_TEST

START_TEST(parse_status_range)
{
	static const struct {
		const char *s;
		unsigned lo, hi;
	} good[] = {
	        {"200", 200, 200},     {"200-299", 200, 299},
	        {"2xx", 200, 299},     {"1xx", 100, 199},
	        {"5xx", 500, 599},     {"100-599", 100, 599},
	        {"404-404", 404, 404}, {"599", 599, 599},
	};
	static const char *const bad[] = {
	        "",        "299-200", "600",  "6xx",      "0xx",
	        "099",     "20",      "2000", "200-",     "-200",
	        "200-600", "2XX",     "2x",   "x00",      "200-2xx",
	        "abc",     " 200",    "200 ", "200--299", "+200",
	};
	unsigned lo, hi;
	size_t i;

	for (i = 0; i < N_ELEMS(good); i++) {
		lo = hi = 0;
		ck_assert_msg(config_parse_status_range(good[i].s, &lo, &hi) ==
		                      0,
		              "'%s'", good[i].s);
		ck_assert_uint_eq(lo, good[i].lo);
		ck_assert_uint_eq(hi, good[i].hi);
	}
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_status_range(bad[i], &lo, &hi) == -1,
		              "'%s'", bad[i]);
}
END_TEST

START_TEST(parse_server)
{
	struct config_server sv;
	char why[256], ip[INET6_ADDRSTRLEN];

	ck_assert_int_eq(
	        config_parse_server("10.1.2.3:8080", &sv, why, sizeof(why)), 0);
	ck_assert_str_eq(sv.name, "10.1.2.3:8080");
	ck_assert_int_eq(sv.addr.ss_family, AF_INET);
	ck_assert_uint_eq(sv.addrlen, sizeof(struct sockaddr_in));
	ck_assert_str_eq(ntop(&sv.addr, ip, sizeof(ip)), "10.1.2.3");
	ck_assert_uint_eq(port_of(&sv.addr), 8080);
	ck_assert_uint_eq(sv.weight, 1);
	ck_assert_uint_eq(sv.max_conns, 0);
	ck_assert_int_eq(sv.backup, 0);

	ck_assert_int_eq(config_parse_server("[2001:db8::5]:443 weight=256 "
	                                     "max_conns=1000000\tbackup",
	                                     &sv, why, sizeof(why)),
	                 0);
	ck_assert_str_eq(sv.name, "[2001:db8::5]:443");
	ck_assert_int_eq(sv.addr.ss_family, AF_INET6);
	ck_assert_uint_eq(sv.addrlen, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(ntop(&sv.addr, ip, sizeof(ip)), "2001:db8::5");
	ck_assert_uint_eq(port_of(&sv.addr), 443);
	ck_assert_uint_eq(sv.weight, 256);
	ck_assert_uint_eq(sv.max_conns, 1000000);
	ck_assert_int_eq(sv.backup, 1);

	/* a name is resolved when the file is read */
	ck_assert_msg(config_parse_server("localhost:80 weight=1", &sv, why,
	                                  sizeof(why)) == 0,
	              "%s", why);
	ck_assert_str_eq(sv.name, "localhost:80");
	ck_assert_uint_eq(port_of(&sv.addr), 80);
	ntop(&sv.addr, ip, sizeof(ip));
	ck_assert_msg(strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0,
	              "localhost resolved to %s", ip);

	ck_assert_int_eq(config_parse_server("", &sv, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "bad server '' (HOST:PORT [options])");
	ck_assert_int_eq(config_parse_server("10.0.0.1", &sv, why, sizeof(why)),
	                 -1);
	ck_assert_str_eq(why, "bad server address '10.0.0.1' (HOST:PORT)");
	ck_assert_int_eq(
	        config_parse_server("10.0.0.1:0", &sv, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "bad server address '10.0.0.1:0' (HOST:PORT)");
	ck_assert_int_eq(config_parse_server("10.0.0.1:80 weight=0", &sv, why,
	                                     sizeof(why)),
	                 -1);
	ck_assert_str_eq(why, "bad server option 'weight=0' (weight=1..256, "
	                      "max_conns=N, backup, tls, sni=NAME)");
}
END_TEST

START_TEST(parse_cidrs)
{
	struct config_cidr c[CONFIG_MAX_CIDRS];
	char list[512];
	size_t used = 0;
	unsigned n = 99, i;

	ck_assert_int_eq(config_parse_cidr("10.0.0.0/8", c), 0);
	ck_assert_int_eq(c[0].family, AF_INET);
	ck_assert_uint_eq(c[0].prefix, 8);
	ck_assert_uint_eq(c[0].addr[0], 10);
	ck_assert_int_eq(config_parse_cidr("192.168.1.1", c), 0);
	ck_assert_uint_eq(c[0].prefix, 32);
	ck_assert_int_eq(config_parse_cidr("::1", c), 0);
	ck_assert_int_eq(c[0].family, AF_INET6);
	ck_assert_uint_eq(c[0].prefix, 128);
	ck_assert_uint_eq(c[0].addr[15], 1);
	ck_assert_int_eq(config_parse_cidr("2001:db8::/32", c), 0);
	ck_assert_uint_eq(c[0].prefix, 32);
	ck_assert_int_eq(config_parse_cidr("0.0.0.0/0", c), 0);
	ck_assert_uint_eq(c[0].prefix, 0);
	ck_assert_int_eq(config_parse_cidr("::/0", c), 0);

	ck_assert_int_eq(config_parse_cidr("10.0.0.0/33", c), -1);
	ck_assert_int_eq(config_parse_cidr("::/129", c), -1);
	ck_assert_int_eq(config_parse_cidr("10.0.0.0/", c), -1);
	ck_assert_int_eq(config_parse_cidr("10.0.0.0/x", c), -1);
	ck_assert_int_eq(config_parse_cidr("10.0.0.0/-1", c), -1);
	ck_assert_int_eq(config_parse_cidr("10.0.0.0/8/8", c), -1);
	ck_assert_int_eq(config_parse_cidr("10.0.0.300", c), -1);
	ck_assert_int_eq(config_parse_cidr("/8", c), -1);
	ck_assert_int_eq(config_parse_cidr("", c), -1);
	ck_assert_int_eq(config_parse_cidr("example.com", c), -1);
	ck_assert_int_eq(config_parse_cidr("[::1]", c), -1);

	ck_assert_int_eq(config_parse_cidrs(" 10.0.0.0/8 ,::1,\t2001:db8::/32",
	                                    c, CONFIG_MAX_CIDRS, &n),
	                 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(c[1].family, AF_INET6);
	ck_assert_uint_eq(c[2].prefix, 32);
	ck_assert_int_eq(config_parse_cidrs("10.0.0.0/8, , ::1", c,
	                                    CONFIG_MAX_CIDRS, &n),
	                 -1);
	/* exactly 32 fit, one more does not */
	for (i = 1; i <= CONFIG_MAX_CIDRS; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		                         "%s::%x", i > 1 ? "," : "", i);
	ck_assert_int_eq(config_parse_cidrs(list, c, CONFIG_MAX_CIDRS, &n), 0);
	ck_assert_uint_eq(n, CONFIG_MAX_CIDRS);
	strcat(list, ",::ff");
	ck_assert_int_eq(config_parse_cidrs(list, c, CONFIG_MAX_CIDRS, &n), -1);
}
END_TEST

static int
matches(const char *list, const char *ip)
{
	struct config_cidr c[CONFIG_MAX_CIDRS];
	struct sockaddr_storage ss;
	unsigned n;

	memset(&ss, 0, sizeof(ss));
	ck_assert_int_eq(config_parse_cidrs(list, c, CONFIG_MAX_CIDRS, &n), 0);
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		ck_assert_int_eq(
		        inet_pton(AF_INET6, ip,
		                  &((struct sockaddr_in6 *)&ss)->sin6_addr),
		        1);
	} else {
		ss.ss_family = AF_INET;
		ck_assert_int_eq(
		        inet_pton(AF_INET, ip,
		                  &((struct sockaddr_in *)&ss)->sin_addr),
		        1);
	}
	return config_cidr_match(c, n, (const struct sockaddr *)&ss);
}

START_TEST(cidr_match)
{
	struct config_cidr c;
	struct sockaddr_storage un = {.ss_family = AF_UNIX};

	ck_assert(matches("10.0.0.0/8", "10.255.1.2"));
	ck_assert(!matches("10.0.0.0/8", "11.0.0.1"));
	ck_assert(matches("192.168.1.128/25", "192.168.1.200"));
	ck_assert(!matches("192.168.1.128/25", "192.168.1.127"));
	ck_assert(matches("172.16.0.0/12", "172.31.255.255"));
	ck_assert(!matches("172.16.0.0/12", "172.32.0.0"));
	ck_assert(matches("127.0.0.1", "127.0.0.1"));
	ck_assert(!matches("127.0.0.1", "127.0.0.2"));
	ck_assert(matches("0.0.0.0/0", "203.0.113.9"));
	ck_assert(!matches("0.0.0.0/0", "::1"));
	ck_assert(matches("::1", "::1"));
	ck_assert(!matches("::1", "::2"));
	ck_assert(matches("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!matches("2001:db8::/32", "2001:db9::1"));
	ck_assert(matches("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!matches("2001:db8::/33", "2001:db8:8000::1"));
	ck_assert(!matches("::/0", "10.0.0.1"));
	ck_assert(matches("10.0.0.0/8, 2001:db8::/32, 192.168.0.1",
	                  "192.168.0.1"));
	ck_assert(!matches("", "10.0.0.1"));
	ck_assert_int_eq(config_parse_cidr("0.0.0.0/0", &c), 0);
	ck_assert(!config_cidr_match(&c, 1, (const struct sockaddr *)&un));
}
END_TEST

START_TEST(parse_field_names)
{
	char names[CONFIG_MAX_HIDE][64];
	unsigned n = 99;

	ck_assert_int_eq(
	        config_parse_field_names("off", names, CONFIG_MAX_HIDE, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(config_parse_field_names("Server, X-Powered-By", names,
	                                          CONFIG_MAX_HIDE, &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "server");
	ck_assert_str_eq(names[1], "x-powered-by");
	ck_assert_int_eq(
	        config_parse_field_names("a b", names, CONFIG_MAX_HIDE, &n),
	        -1);
	ck_assert_int_eq(
	        config_parse_field_names("a:b", names, CONFIG_MAX_HIDE, &n),
	        -1);
	ck_assert_int_eq(config_parse_field_names("Off, Server", names,
	                                          CONFIG_MAX_HIDE, &n),
	                 0);
	ck_assert_str_eq(names[0], "off");
	ck_assert_int_eq(config_parse_upgrade("websocket, h2c"), 0);
	ck_assert_int_eq(config_parse_upgrade("off"), 0);
	ck_assert_int_eq(config_parse_upgrade("web socket"), -1);
	ck_assert_int_eq(config_parse_upgrade("websocket/13"), -1);
}
END_TEST

/* A comma list refuses an empty item as connect_ports does ("443,,80",
 * ",443", "443,"); each_item() means to (its `*tok == '\0'` test), but
 * strtok_r() never hands it an empty token. */
START_TEST(parse_lists_empty_item)
{
	static const char *const bad[] = {"a,,b", ",a", "a,", ","};
	struct config_cidr c[CONFIG_MAX_CIDRS];
	char names[CONFIG_MAX_HIDE][64];
	unsigned n;
	size_t i;

	ck_assert_int_eq(
	        config_parse_field_names("a, ,b", names, CONFIG_MAX_HIDE, &n),
	        -1);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_field_names(
		                      bad[i], names, CONFIG_MAX_HIDE, &n) == -1,
		              "hide list '%s' accepted (%u names)", bad[i], n);
	ck_assert_msg(config_parse_cidrs("10.0.0.0/8,,::1", c, CONFIG_MAX_CIDRS,
	                                 &n) == -1,
	              "CIDR list '10.0.0.0/8,,::1' accepted (%u networks)", n);
}
END_TEST

START_TEST(parse_route_values)
{
	static const char *const hosts[] = {
	        "",      "example.com", ".example.com", "EXAMPLE.com",
	        "[::1]", "10.0.0.1",    "a-b.c",
	};
	static const char *const bad_hosts[] = {
	        "a b", "a/b", "*.example.com", "a_b", "a,b", "\xc3\xa9.example",
	};
	static const char *const paths[] = {"", "/", "/api/", "/a?b=%20"};
	static const char *const bad_paths[] = {"api", "/a b", " /a", "*"};
	char why[256];
	size_t i;

	for (i = 0; i < N_ELEMS(hosts); i++)
		ck_assert_msg(config_parse_route_host(hosts[i]) == 0, "'%s'",
		              hosts[i]);
	for (i = 0; i < N_ELEMS(bad_hosts); i++)
		ck_assert_msg(config_parse_route_host(bad_hosts[i]) == -1,
		              "'%s'", bad_hosts[i]);
	for (i = 0; i < N_ELEMS(paths); i++)
		ck_assert_msg(config_parse_route_path(paths[i]) == 0, "'%s'",
		              paths[i]);
	for (i = 0; i < N_ELEMS(bad_paths); i++)
		ck_assert_msg(config_parse_route_path(bad_paths[i]) == -1,
		              "'%s'", bad_paths[i]);
	ck_assert_int_eq(config_parse_regex("", why, sizeof(why)), 0);
	ck_assert_int_eq(config_parse_regex("^/api/v[0-9]+/", why, sizeof(why)),
	                 0);
	ck_assert_int_eq(config_parse_regex("a(b", why, sizeof(why)), -1);
	ck_assert_str_eq(why, "bad regex at offset 3: missing closing "
	                      "parenthesis");
	ck_assert_int_eq(config_parse_regex("ab)", why, sizeof(why)), -1);
	ck_assert_str_eq(why, "bad regex at offset 2: unmatched closing "
	                      "parenthesis");
}
END_TEST

/* ---- defaults of the new sections ---- */

START_TEST(defaults_reverse)
{
	const struct config_backend *b;
	const struct config_listen *l;
	const struct config_route *r;

	load_ok(RB "[route x]\nbackend = b\n[listen f]\naddress = :3128\n");
	b = &cfg.backends[0];
	ck_assert_str_eq(b->name, "b");
	ck_assert_int_eq(b->line, 5);
	ck_assert_uint_eq(b->n_servers, 1);
	ck_assert_uint_eq(b->server[0], 0);
	ck_assert_int_eq(b->balance, BALANCE_ROUNDROBIN);
	ck_assert_str_eq(b->hash_key, "source");
	ck_assert_int_eq(b->hash_kind, HASH_KEY_SOURCE);
	ck_assert_str_eq(b->hash_header, "");
	ck_assert_str_eq(b->check, "off");
	ck_assert_uint_eq(b->check_interval, 2000);
	ck_assert_uint_eq(b->check_timeout, 2000);
	ck_assert_str_eq(b->check_status, "200-399");
	ck_assert_uint_eq(b->check_status_lo, 200);
	ck_assert_uint_eq(b->check_status_hi, 399);
	ck_assert_uint_eq(b->rise, 2);
	ck_assert_uint_eq(b->fall, 3);
	ck_assert_uint_eq(b->connect_timeout, 0);
	ck_assert_uint_eq(b->response_timeout, 0);
	ck_assert_uint_eq(b->retries, 2);
	ck_assert_int_eq(b->send_proxy, SEND_PROXY_OFF);
	ck_assert_uint_eq(b->keepalive, 32);
	ck_assert_uint_eq(cfg.n_servers, 1);
	ck_assert_uint_eq(cfg.servers[0].backend, 0);
	ck_assert_int_eq(cfg.servers[0].line, 6);

	l = &cfg.listens[0];
	ck_assert_int_eq(l->mode, LISTEN_REVERSE);
	ck_assert_str_eq(l->default_backend, "b");
	ck_assert_uint_eq(l->default_backend_idx, 0);
	ck_assert_int_eq(l->strict_host, 0);
	ck_assert_int_eq(l->proxy_protocol, 0);
	ck_assert_int_eq(l->forwarded, 0);
	ck_assert_int_eq(l->real_ip_header, REAL_IP_OFF);
	ck_assert_str_eq(l->trusted_proxies, "");
	ck_assert_uint_eq(l->n_trusted, 0);
	ck_assert_str_eq(l->hide_headers, "Server, X-Powered-By");
	ck_assert_uint_eq(l->n_hide, 2);
	ck_assert_str_eq(l->hide[0], "server");
	ck_assert_str_eq(l->hide[1], "x-powered-by");
	/* a forward listener gets the same defaults, unused */
	ck_assert_int_eq(cfg.listens[1].mode, LISTEN_FORWARD);
	ck_assert_str_eq(cfg.listens[1].default_backend, "");
	ck_assert_uint_eq(cfg.listens[1].n_hide, 2);

	r = &cfg.routes[0];
	ck_assert_str_eq(r->name, "x");
	ck_assert_int_eq(r->line, 7);
	ck_assert_str_eq(r->listen, "");
	ck_assert_str_eq(r->host, "");
	ck_assert_str_eq(r->path, "");
	ck_assert_str_eq(r->path_regex, "");
	ck_assert_str_eq(r->backend, "b");
	ck_assert_uint_eq(r->backend_idx, 0);
	ck_assert_str_eq(r->upgrade, "websocket");
}
END_TEST

/* ---- [backend]: good values ---- */

START_TEST(server_forms)
{
	const struct config_server *sv = cfg.servers;
	char ip[INET6_ADDRSTRLEN];

	load_ok(REV "[backend b]\n"
	            "server = 127.0.0.1:9000\n"
	            "server = [::1]:9001 weight=3\n"
	            "server = localhost:80 max_conns=10\n"
	            "server = 10.0.0.1:81 weight=1 max_conns=0 backup\n"
	            "server = 10.0.0.2:82   backup   weight=256\n"
	            "server = 10.0.0.3:83 max_conns=1000000\n"
	            "server = 10.0.0.4:443 tls sni=API.example.com\n");
	ck_assert_uint_eq(cfg.n_servers, 7);
	ck_assert_uint_eq(cfg.backends[0].n_servers, 7);

	ck_assert_str_eq(sv[0].name, "127.0.0.1:9000");
	ck_assert_int_eq(sv[0].addr.ss_family, AF_INET);
	ck_assert_str_eq(ntop(&sv[0].addr, ip, sizeof(ip)), "127.0.0.1");
	ck_assert_uint_eq(port_of(&sv[0].addr), 9000);
	ck_assert_uint_eq(sv[0].weight, 1);

	ck_assert_str_eq(sv[1].name, "[::1]:9001");
	ck_assert_int_eq(sv[1].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(sv[1].addrlen, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(ntop(&sv[1].addr, ip, sizeof(ip)), "::1");
	ck_assert_uint_eq(port_of(&sv[1].addr), 9001);
	ck_assert_uint_eq(sv[1].weight, 3);

	ck_assert_str_eq(sv[2].name, "localhost:80");
	ck_assert_uint_eq(port_of(&sv[2].addr), 80);
	ntop(&sv[2].addr, ip, sizeof(ip));
	ck_assert_msg(strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0,
	              "localhost resolved to %s", ip);
	ck_assert_uint_eq(sv[2].max_conns, 10);

	ck_assert_int_eq(sv[3].backup, 1);
	ck_assert_uint_eq(sv[3].max_conns, 0);
	ck_assert_str_eq(sv[4].name, "10.0.0.2:82");
	ck_assert_int_eq(sv[4].backup, 1);
	ck_assert_uint_eq(sv[4].weight, 256);
	ck_assert_uint_eq(sv[5].max_conns, 1000000);
	ck_assert_int_eq(sv[5].backup, 0);
	ck_assert_int_eq(sv[5].line, 11);
	ck_assert_int_eq(sv[5].tls, 0);
	ck_assert_str_eq(sv[5].sni, "");
	ck_assert_int_eq(sv[6].tls, 1);
	ck_assert_str_eq(sv[6].sni, "API.example.com");
}
END_TEST

/* server lines accumulate, per backend and in file order overall */
START_TEST(servers_accumulate)
{
	const struct config_backend *b = cfg.backends;

	load_ok(REV "[backend b]\n"
	            "server = 10.0.0.1:80\n"
	            "balance = leastconn\n"
	            "server = 10.0.0.2:80\n"
	            "server = 10.0.0.3:80\n"
	            "[backend c]\n"
	            "server = 10.0.1.1:80\n"
	            "server = 10.0.1.2:80\n"
	            "[route x]\nbackend = c\n");
	ck_assert_uint_eq(cfg.n_backends, 2);
	ck_assert_uint_eq(cfg.n_servers, 5);
	ck_assert_uint_eq(b[0].n_servers, 3);
	ck_assert_uint_eq(b[0].server[0], 0);
	ck_assert_uint_eq(b[0].server[1], 1);
	ck_assert_uint_eq(b[0].server[2], 2);
	ck_assert_int_eq(b[0].balance, BALANCE_LEASTCONN);
	ck_assert_uint_eq(b[1].n_servers, 2);
	ck_assert_uint_eq(b[1].server[0], 3);
	ck_assert_uint_eq(b[1].server[1], 4);
	ck_assert_str_eq(cfg.servers[2].name, "10.0.0.3:80");
	ck_assert_int_eq(cfg.servers[2].line, 9);
	ck_assert_uint_eq(cfg.servers[2].backend, 0);
	ck_assert_str_eq(cfg.servers[4].name, "10.0.1.2:80");
	ck_assert_uint_eq(cfg.servers[4].backend, 1);
	ck_assert_uint_eq(cfg.routes[0].backend_idx, 1);
}
END_TEST

START_TEST(backend_keys_good)
{
	const struct config_backend *b;
	static const char *const balances[] = {"roundrobin", "leastconn",
	                                       "hash", "random"};
	size_t i;

	for (i = 0; i < N_ELEMS(balances); i++) {
		char line[64];

		snprintf(line, sizeof(line), "balance = %s", balances[i]);
		b = backend_with(line);
		ck_assert_int_eq(b->balance, (int)i);
	}
	b = backend_with("hash_key = source");
	ck_assert_int_eq(b->hash_kind, HASH_KEY_SOURCE);
	b = backend_with("hash_key = uri");
	ck_assert_int_eq(b->hash_kind, HASH_KEY_URI);
	ck_assert_str_eq(b->hash_key, "uri");
	b = backend_with("hash_key = header:X-Key");
	ck_assert_int_eq(b->hash_kind, HASH_KEY_HEADER);
	ck_assert_str_eq(b->hash_key, "header:X-Key");
	ck_assert_str_eq(b->hash_header, "x-key");

	b = backend_with("check = off");
	ck_assert_str_eq(b->check, "off");
	b = backend_with("check = tcp");
	ck_assert_str_eq(b->check, "tcp");
	b = backend_with("check = GET /healthz");
	ck_assert_str_eq(b->check, "GET /healthz");
	b = backend_with("check = HEAD /ping?full=1");
	ck_assert_str_eq(b->check, "HEAD /ping?full=1");

	b = backend_with("check_status = 200");
	ck_assert_uint_eq(b->check_status_lo, 200);
	ck_assert_uint_eq(b->check_status_hi, 200);
	ck_assert_str_eq(b->check_status, "200");
	b = backend_with("check_status = 200-299");
	ck_assert_uint_eq(b->check_status_lo, 200);
	ck_assert_uint_eq(b->check_status_hi, 299);
	b = backend_with("check_status = 2xx");
	ck_assert_uint_eq(b->check_status_lo, 200);
	ck_assert_uint_eq(b->check_status_hi, 299);
	ck_assert_str_eq(b->check_status, "2xx");

	b = backend_with("check_interval = 100ms");
	ck_assert_uint_eq(b->check_interval, 100);
	b = backend_with("check_interval = 1h");
	ck_assert_uint_eq(b->check_interval, 3600000);
	b = backend_with("check_timeout = 10ms");
	ck_assert_uint_eq(b->check_timeout, 10);
	b = backend_with("check_timeout = 1m");
	ck_assert_uint_eq(b->check_timeout, 60000);

	b = backend_with("rise = 1");
	ck_assert_uint_eq(b->rise, 1);
	b = backend_with("rise = 100");
	ck_assert_uint_eq(b->rise, 100);
	b = backend_with("fall = 1");
	ck_assert_uint_eq(b->fall, 1);
	b = backend_with("fall = 100");
	ck_assert_uint_eq(b->fall, 100);

	b = backend_with("connect_timeout = 0");
	ck_assert_uint_eq(b->connect_timeout, 0);
	b = backend_with("connect_timeout = 24h");
	ck_assert_uint_eq(b->connect_timeout, 86400000);
	b = backend_with("response_timeout = 1500ms");
	ck_assert_uint_eq(b->response_timeout, 1500);

	b = backend_with("retries = 0");
	ck_assert_uint_eq(b->retries, 0);
	b = backend_with("retries = 16");
	ck_assert_uint_eq(b->retries, 16);

	b = backend_with("send_proxy = off");
	ck_assert_int_eq(b->send_proxy, SEND_PROXY_OFF);
	b = backend_with("send_proxy = v1");
	ck_assert_int_eq(b->send_proxy, SEND_PROXY_V1);
	b = backend_with("send_proxy = v2");
	ck_assert_int_eq(b->send_proxy, SEND_PROXY_V2);

	b = backend_with("keepalive = 0");
	ck_assert_uint_eq(b->keepalive, 0);
	b = backend_with("keepalive = 10000");
	ck_assert_uint_eq(b->keepalive, 10000);
}
END_TEST

/* ---- [backend]: refusals, with their exact text ---- */

#define SERVER_OPTS "(weight=1..256, max_conns=N, backup, tls, sni=NAME)"

static const struct {
	const char *line;
	const char *why;
} backend_bad[] = {
        {"server = 127.0.0.1:9001 weight=0",
         "server: bad server option 'weight=0' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 weight=257",
         "server: bad server option 'weight=257' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 weight=",
         "server: bad server option 'weight=' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 weight=-1",
         "server: bad server option 'weight=-1' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 weight=1.5",
         "server: bad server option 'weight=1.5' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 max_conns=1000001",
         "server: bad server option 'max_conns=1000001' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 max_conns=many",
         "server: bad server option 'max_conns=many' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 slow_start=10s",
         "server: bad server option 'slow_start=10s' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 Backup",
         "server: bad server option 'Backup' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 sni=",
         "server: bad server option 'sni=' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 sni=.example.com",
         "server: bad server option 'sni=.example.com' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 sni=a/b",
         "server: bad server option 'sni=a/b' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 TLS",
         "server: bad server option 'TLS' " SERVER_OPTS},
        {"server = 127.0.0.1:9001 weight = 2",
         "server: bad server option 'weight' " SERVER_OPTS},
        {"server = 127.0.0.1:9001, 127.0.0.1:9002",
         "server: bad server address '127.0.0.1:9001,' (HOST:PORT)"},
        {"server = 127.0.0.1", "server: bad server address '127.0.0.1' "
                               "(HOST:PORT)"},
        {"server = 127.0.0.1:", "server: bad server address '127.0.0.1:' "
                                "(HOST:PORT)"},
        {"server = 127.0.0.1:0", "server: bad server address '127.0.0.1:0' "
                                 "(HOST:PORT)"},
        {"server = 127.0.0.1:65536",
         "server: bad server address '127.0.0.1:65536' (HOST:PORT)"},
        {"server = [::1]", "server: bad server address '[::1]' (HOST:PORT)"},
        {"server = localhost", "server: bad server address 'localhost' "
                               "(HOST:PORT)"},
        {"server = localhost:http",
         "server: bad server address 'localhost:http' (HOST:PORT)"},
        {"server =", "server: bad server '' (HOST:PORT [options])"},
        {"balance = fastest", "balance: bad balance 'fastest' (roundrobin, "
                              "leastconn, hash or random)"},
        {"balance = RoundRobin", "balance: bad balance 'RoundRobin' "
                                 "(roundrobin, leastconn, hash or random)"},
        {"balance =", "balance: bad balance '' (roundrobin, leastconn, hash "
                      "or random)"},
        {"hash_key = header:", "hash_key: bad hash key 'header:' (source, uri "
                               "or header:NAME)"},
        {"hash_key = header:X Key", "hash_key: bad hash key 'header:X Key' "
                                    "(source, uri or header:NAME)"},
        {"hash_key = cookie", "hash_key: bad hash key 'cookie' (source, uri or "
                              "header:NAME)"},
        {"check = get /x", "check: bad check 'get /x' (off, tcp, or GET "
                           "/path)"},
        {"check = GET x", "check: bad check 'GET x' (off, tcp, or GET /path)"},
        {"check = GET", "check: bad check 'GET' (off, tcp, or GET /path)"},
        {"check = http", "check: bad check 'http' (off, tcp, or GET /path)"},
        {"check = GET /a b", "check: bad check 'GET /a b' (off, tcp, or GET "
                             "/path)"},
        {"check_status = 299-200", "check_status: bad status range '299-200' "
                                   "(200, 200-299 or 2xx)"},
        {"check_status = 600", "check_status: bad status range '600' (200, "
                               "200-299 or 2xx)"},
        {"check_status = 6xx", "check_status: bad status range '6xx' (200, "
                               "200-299 or 2xx)"},
        {"check_status = 99", "check_status: bad status range '99' (200, "
                              "200-299 or 2xx)"},
        {"check_status = 200-600", "check_status: bad status range '200-600' "
                                   "(200, 200-299 or 2xx)"},
        {"check_status = ok", "check_status: bad status range 'ok' (200, "
                              "200-299 or 2xx)"},
        {"check_interval = 99ms", "check_interval: 99ms is out of range "
                                  "(100ms..1h)"},
        {"check_interval = 61m", "check_interval: 61m is out of range "
                                 "(100ms..1h)"},
        {"check_interval = soon", "check_interval: bad duration 'soon' (e.g. "
                                  "500ms, 10s, 2m, 1h)"},
        {"check_timeout = 9ms", "check_timeout: 9ms is out of range "
                                "(10ms..1m)"},
        {"check_timeout = 61s", "check_timeout: 61s is out of range "
                                "(10ms..1m)"},
        {"rise = 0", "rise: 0 is out of range (1..100)"},
        {"rise = 101", "rise: 101 is out of range (1..100)"},
        {"fall = 0", "fall: 0 is out of range (1..100)"},
        {"fall = 101", "fall: 101 is out of range (1..100)"},
        {"fall = -1", "fall: bad number '-1' (decimal digits)"},
        {"retries = 17", "retries: 17 is out of range (0..16)"},
        {"retries = 4294967296", "retries: 4294967296 is out of range (0..16)"},
        {"send_proxy = v3", "send_proxy: bad send_proxy 'v3' (off, v1 or v2)"},
        {"send_proxy = on", "send_proxy: bad send_proxy 'on' (off, v1 or v2)"},
        {"keepalive = 10001", "keepalive: 10001 is out of range (0..10000)"},
        {"connect_timeout = 25h", "connect_timeout: 25h is out of range "
                                  "(0ms..24h)"},
        {"response_timeout = 1x", "response_timeout: bad duration '1x' (e.g. "
                                  "500ms, 10s, 2m, 1h)"},
};

START_TEST(backend_key_bad)
{
	backend_refuses(backend_bad[_i].line, backend_bad[_i].why);
}
END_TEST

START_TEST(server_unresolvable)
{
	static const char want[] = "proxyd.ini:7: [backend b] server: cannot "
	                           "resolve server 'no-such-host.invalid': ";

	ck_assert_int_eq(
	        load_into(&cfg, RB "server = no-such-host.invalid:80\n"), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* "*:80" and ":80" are how a listener says "every address" (config.h);
 * a server must name a host to connect to.  The parser means to refuse
 * the wildcard (server_address() sends "*..." away from the IP path), but
 * glibc's getaddrinfo() takes the name "*" as no name at all and answers
 * with the loopback address, and ":80" passes as 0.0.0.0:80. */
START_TEST(server_wildcard_star)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (load_into(&cfg, RB "server = *:80\n") == 0)
		ntop(&cfg.servers[1].addr, ip, sizeof(ip));
	ck_assert_msg(err[0] != '\0', "server = *:80 accepted as %s:%u", ip,
	              port_of(&cfg.servers[1].addr));
	ck_assert_msg(strncmp(err, "proxyd.ini:7: [backend b] server: ", 34) ==
	                      0,
	              "%s", err);
}
END_TEST

START_TEST(server_wildcard_empty)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (load_into(&cfg, RB "server = :80\n") == 0)
		ntop(&cfg.servers[1].addr, ip, sizeof(ip));
	ck_assert_msg(err[0] != '\0', "server = :80 accepted as %s:%u", ip,
	              port_of(&cfg.servers[1].addr));
	ck_assert_str_eq(err, "proxyd.ini:7: [backend b] server: bad server "
	                      "address ':80' (HOST:PORT)");
}
END_TEST

/* ---- [listen]: the reverse keys ---- */

START_TEST(listen_keys_good)
{
	const struct config_listen *l;
	char line[256];
	size_t used;
	unsigned i;

	l = listen_with("trusted_proxies = 10.0.0.0/8, 192.168.1.1, ::1, "
	                "2001:db8::/32");
	ck_assert_uint_eq(l->n_trusted, 4);
	ck_assert_int_eq(l->trusted[0].family, AF_INET);
	ck_assert_uint_eq(l->trusted[0].prefix, 8);
	ck_assert_uint_eq(l->trusted[1].prefix, 32);
	ck_assert_int_eq(l->trusted[2].family, AF_INET6);
	ck_assert_uint_eq(l->trusted[2].prefix, 128);
	ck_assert_uint_eq(l->trusted[3].prefix, 32);
	ck_assert_str_eq(l->trusted_proxies,
	                 "10.0.0.0/8, 192.168.1.1, ::1, 2001:db8::/32");
	/* 32 networks in one line */
	used = (size_t)snprintf(line, sizeof(line), "trusted_proxies = ");
	for (i = 1; i <= CONFIG_MAX_CIDRS; i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
		                         "%s::%x", i > 1 ? "," : "", i);
	l = listen_with(line);
	ck_assert_uint_eq(l->n_trusted, CONFIG_MAX_CIDRS);

	l = listen_with("real_ip_header = off");
	ck_assert_int_eq(l->real_ip_header, REAL_IP_OFF);
	l = listen_with("real_ip_header = x-real-ip");
	ck_assert_int_eq(l->real_ip_header, REAL_IP_X_REAL_IP);
	l = listen_with("real_ip_header = true-client-ip");
	ck_assert_int_eq(l->real_ip_header, REAL_IP_TRUE_CLIENT_IP);

	l = listen_with("hide_headers = off");
	ck_assert_uint_eq(l->n_hide, 0);
	l = listen_with("hide_headers = X-Powered-By,X-AspNet-Version ,Via");
	ck_assert_uint_eq(l->n_hide, 3);
	ck_assert_str_eq(l->hide[0], "x-powered-by");
	ck_assert_str_eq(l->hide[1], "x-aspnet-version");
	ck_assert_str_eq(l->hide[2], "via");
	l = listen_with("hide_headers = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p");
	ck_assert_uint_eq(l->n_hide, CONFIG_MAX_HIDE);
	ck_assert_str_eq(l->hide[15], "p");

	l = listen_with("strict_host = on");
	ck_assert_int_eq(l->strict_host, 1);
	l = listen_with("proxy_protocol = yes");
	ck_assert_int_eq(l->proxy_protocol, 1);
	l = listen_with("forwarded = true");
	ck_assert_int_eq(l->forwarded, 1);
}
END_TEST

START_TEST(listen_keys_bad)
{
	char line[256], why[512];
	size_t used;
	unsigned i;

	listen_refuses("trusted_proxies = 10.0.0.0/33",
	               "trusted_proxies: bad CIDR list '10.0.0.0/33' (e.g. "
	               "10.0.0.0/8, ::1; at most 32)");
	listen_refuses("trusted_proxies = ::1, 2001:db8::/129",
	               "trusted_proxies: bad CIDR list '::1, 2001:db8::/129' "
	               "(e.g. 10.0.0.0/8, ::1; at most 32)");
	listen_refuses("trusted_proxies = 10.0.0.0/x",
	               "trusted_proxies: bad CIDR list '10.0.0.0/x' (e.g. "
	               "10.0.0.0/8, ::1; at most 32)");
	listen_refuses("trusted_proxies = proxy.example.com",
	               "trusted_proxies: bad CIDR list 'proxy.example.com' "
	               "(e.g. 10.0.0.0/8, ::1; at most 32)");
	used = (size_t)snprintf(line, sizeof(line), "trusted_proxies = ");
	for (i = 1; i <= CONFIG_MAX_CIDRS + 1; i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
		                         "%s::%x", i > 1 ? "," : "", i);
	snprintf(why, sizeof(why),
	         "trusted_proxies: bad CIDR list '%s' (e.g. 10.0.0.0/8, ::1; "
	         "at most 32)",
	         line + strlen("trusted_proxies = "));
	listen_refuses(line, why);

	listen_refuses("real_ip_header = X-Real-IP",
	               "real_ip_header: bad value 'X-Real-IP' (off, x-real-ip "
	               "or true-client-ip)");
	listen_refuses("real_ip_header = on",
	               "real_ip_header: bad value 'on' (off, x-real-ip or "
	               "true-client-ip)");

	listen_refuses("hide_headers = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
	               "hide_headers: bad field list "
	               "'a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q' (off, or field "
	               "names separated by commas; at most 16)");
	listen_refuses("hide_headers = X Powered By",
	               "hide_headers: bad field list 'X Powered By' (off, or "
	               "field names separated by commas; at most 16)");
	listen_refuses("hide_headers = Server: x",
	               "hide_headers: bad field list 'Server: x' (off, or "
	               "field names separated by commas; at most 16)");

	listen_refuses("default_backend = a/b",
	               "default_backend: bad section name 'a/b' (1..63 of A-Z "
	               "a-z 0-9 _ . -)");
	listen_refuses("strict_host = maybe",
	               "strict_host: bad boolean 'maybe' (on or off)");
	listen_refuses("proxy_protocol = v2",
	               "proxy_protocol: bad boolean 'v2' (on or off)");
}
END_TEST

/* ---- [route] ---- */

START_TEST(route_keys_good)
{
	const struct config_route *r;

	r = route_with("host = example.com");
	ck_assert_str_eq(r->host, "example.com");
	r = route_with("host = .Example.COM");
	ck_assert_str_eq(r->host, ".example.com");
	/* an IPv6 literal, kept with or without its brackets */
	r = route_with("host = [::1]");
	ck_assert_msg(strcmp(r->host, "[::1]") == 0 ||
	                      strcmp(r->host, "::1") == 0,
	              "%s", r->host);
	r = route_with("path = /api/");
	ck_assert_str_eq(r->path, "/api/");
	r = route_with("path_regex = ^/static/.*\\.(css|js)$");
	ck_assert_str_eq(r->path_regex, "^/static/.*\\.(css|js)$");
	r = route_with("upgrade = off");
	ck_assert_str_eq(r->upgrade, "off");
	r = route_with("upgrade = websocket, h2c");
	ck_assert_str_eq(r->upgrade, "websocket, h2c");
	r = route_with("listen = r");
	ck_assert_str_eq(r->listen, "r");

	/* a route may name a backend and a listener defined below it */
	load_ok("[route early]\nlisten = late\nbackend = later\n"
	        "[listen late]\naddress = 127.0.0.1:8080\nmode = reverse\n"
	        "[backend later]\nserver = 127.0.0.1:9000\n");
	ck_assert_uint_eq(cfg.routes[0].backend_idx, 0);
	ck_assert_int_eq(cfg.routes[0].line, 1);
}
END_TEST

START_TEST(route_keys_bad)
{
	route_refuses("host = exa mple.com",
	              "host: bad host 'exa mple.com' (a name, or .suffix)");
	route_refuses("host = *.example.com",
	              "host: bad host '*.example.com' (a name, or .suffix)");
	route_refuses("host = a/b",
	              "host: bad host 'a/b' (a name, or .suffix)");
	route_refuses("path = api",
	              "path: bad path 'api' (a prefix starting with /)");
	route_refuses("path = /a b",
	              "path: bad path '/a b' (a prefix starting with /)");
	route_refuses("path_regex = ^/api/(v1",
	              "path_regex: bad regex at offset 9: missing closing "
	              "parenthesis");
	route_refuses("path_regex = [z-a]",
	              "path_regex: bad regex at offset 3: range out of order "
	              "in character class");
	route_refuses("upgrade = web socket",
	              "upgrade: bad protocol list 'web socket' (off, or tokens "
	              "such as websocket)");
	route_refuses("listen = a b",
	              "listen: bad section name 'a b' (1..63 of A-Z a-z 0-9 _ "
	              ". -)");
}
END_TEST

/* ---- cross-section errors, and the sections themselves ---- */

static const struct {
	const char *text;
	const char *want;
} errors[] = {
        /* a [backend] without a server, at the end and before another */
        {REV "[backend b]\nbalance = leastconn\n",
         "proxyd.ini:5: [backend b]: server is required"},
        {REV "[backend b]\n[route x]\nbackend = b\n",
         "proxyd.ini:5: [backend b]: server is required"},
        {RB "[backend b]\nserver = 127.0.0.1:9001\n",
         "proxyd.ini:7: duplicate section [backend b] (first at line 5)"},
        {RB "balance = random\nbalance = hash\n",
         "proxyd.ini:8: duplicate key 'balance' (first at line 7)"},
        {RB "weight = 3\n", "proxyd.ini:7: unknown key 'weight' in [backend "
                            "b]"},
        {REV "[backend]\nserver = 127.0.0.1:9000\n",
         "proxyd.ini:5: [backend] needs a name: [backend NAME]"},
        {REV "[backend a/b]\nserver = 127.0.0.1:9000\n",
         "proxyd.ini:5: bad backend name 'a/b' (1..63 of A-Z a-z 0-9 _ . -)"},
        {RB "[route]\nbackend = b\n",
         "proxyd.ini:7: [route] needs a name: [route NAME]"},
        {RB "[route x]\nhost = a.example\n",
         "proxyd.ini:7: [route x]: backend is required"},
        {RB "[route x]\nbackend =\n",
         "proxyd.ini:8: [route x] backend: must not be empty"},
        {RB "[route x]\nbackend = b\n[route x]\nbackend = b\n",
         "proxyd.ini:9: duplicate section [route x] (first at line 7)"},
        {RB "[route x]\nbackend = b\nbackend = c\n",
         "proxyd.ini:9: duplicate key 'backend' (first at line 8)"},
        {RB "[route x]\nbackend = b\nserver = 127.0.0.1:1\n",
         "proxyd.ini:9: unknown key 'server' in [route x]"},
        {RB "[route x]\nbackend = nope\n",
         "proxyd.ini:7: [route x] backend: no [backend nope]"},
        {"[listen r]\naddress = 127.0.0.1:8080\nmode = reverse\n"
         "default_backend = nope\n" BACK,
         "proxyd.ini:1: [listen r] default_backend: no [backend nope]"},
        {"[listen f]\naddress = 127.0.0.1:3128\ndefault_backend = b\n" BACK,
         "proxyd.ini:1: [listen f] default_backend: only for mode = reverse"},
        {LREV BACK, "proxyd.ini:1: [listen r]: mode = reverse needs a "
                    "default_backend or a [route]"},
        /* a route for another listener does not count */
        {REV "[listen s]\naddress = 127.0.0.1:8081\nmode = reverse\n" BACK
             "[route x]\nlisten = r\nbackend = b\n",
         "proxyd.ini:5: [listen s]: mode = reverse needs a default_backend or "
         "a [route]"},
        {"[listen f]\naddress = 127.0.0.1:3128\n" RB
         "[route x]\nlisten = f\nbackend = b\n",
         "proxyd.ini:9: [route x] listen: no reverse [listen f]"},
        {RB "[route x]\nlisten = nope\nbackend = b\n",
         "proxyd.ini:7: [route x] listen: no reverse [listen nope]"},
        /* a backend with only forward listeners is fine; this route is not */
        {"[listen f]\naddress = 127.0.0.1:3128\n" BACK
         "[route x]\nbackend = b\nlisten = f\n",
         "proxyd.ini:5: [route x] listen: no reverse [listen f]"},
};

START_TEST(load_error)
{
	load_fails(errors[_i].text, errors[_i].want);
}
END_TEST

/* Routes without a listener serve every reverse listener. */
START_TEST(route_for_every_listener)
{
	load_ok(LREV
	        "[listen s]\naddress = 127.0.0.1:8081\nmode = reverse\n" BACK
	        "[route x]\nbackend = b\n");
	ck_assert_uint_eq(cfg.n_listens, 2);
	load_ok("[listen f]\naddress = 127.0.0.1:3128\n" BACK);
	ck_assert_uint_eq(cfg.n_backends, 1);
}
END_TEST

START_TEST(too_many_servers)
{
	static char text[CONFIG_MAX_SERVERS * 40 + 512];
	char want[256];
	size_t used;
	unsigned i;

	used = (size_t)snprintf(text, sizeof(text), REV "[backend b]\n");
	for (i = 0; i < CONFIG_MAX_SERVERS; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		                         "server = 10.0.%u.%u:80\n", i / 256,
		                         i % 256);
	load_ok(text);
	ck_assert_uint_eq(cfg.n_servers, CONFIG_MAX_SERVERS);
	ck_assert_uint_eq(cfg.backends[0].n_servers, CONFIG_MAX_SERVERS);
	snprintf(text + used, sizeof(text) - used,
	         "[backend c]\nserver = 10.1.0.0:80\n");
	snprintf(want, sizeof(want),
	         "proxyd.ini:%u: [backend c] server: too many servers (max %d "
	         "in all backends)",
	         5 + CONFIG_MAX_SERVERS + 2, CONFIG_MAX_SERVERS);
	load_fails(text, want);
}
END_TEST

START_TEST(too_many_backends)
{
	static char text[CONFIG_MAX_BACKENDS * 64 + 512];
	char want[256];
	size_t used;
	unsigned i;

	used = (size_t)snprintf(text, sizeof(text), "%s", REV);
	for (i = 0; i < CONFIG_MAX_BACKENDS; i++) {
		char name[16] = "b";

		if (i > 0)
			snprintf(name, sizeof(name), "b%u", i);
		used += (size_t)snprintf(
		        text + used, sizeof(text) - used,
		        "[backend %s]\nserver = 10.0.0.%u:80\n", name, i);
	}
	load_ok(text);
	ck_assert_uint_eq(cfg.n_backends, CONFIG_MAX_BACKENDS);
	snprintf(text + used, sizeof(text) - used,
	         "[backend extra]\nserver = 10.0.0.1:80\n");
	snprintf(want, sizeof(want),
	         "proxyd.ini:%u: too many [backend] sections (max %d)",
	         5 + 2 * CONFIG_MAX_BACKENDS, CONFIG_MAX_BACKENDS);
	load_fails(text, want);
}
END_TEST

/* ---- the dump reads back to the same configuration ---- */

static const char full_reverse[] =
        "[proxyd]\n"
        "workers = 2\n"
        "[listen fwd]\n"
        "address = 127.0.0.1:3128\n"
        "[listen web]\n"
        "address = 127.0.0.1:8080\n"
        "mode = reverse\n"
        "default_backend = app\n"
        "strict_host = on\n"
        "proxy_protocol = on\n"
        "trusted_proxies = 10.0.0.0/8, 2001:db8::/32, 192.168.1.1\n"
        "forwarded = on\n"
        "real_ip_header = x-real-ip\n"
        "hide_headers = Server, X-Powered-By, X-AspNet-Version\n"
        "[listen web6]\n"
        "address = [::1]:8443\n"
        "mode = reverse\n"
        "hide_headers = off\n"
        "real_ip_header = true-client-ip\n"
        "[backend app]\n"
        "server = 127.0.0.1:9001 weight=3\n"
        "server = [::1]:9002 max_conns=100\n"
        "server = localhost:9003 weight=256 max_conns=1000000 backup\n"
        "server = 127.0.0.1:9004 weight=1 tls sni=app.internal\n"
        "balance = hash\n"
        "hash_key = header:X-Session\n"
        "check = GET /healthz?deep=1\n"
        "check_interval = 500ms\n"
        "check_timeout = 1s\n"
        "check_status = 2xx\n"
        "rise = 5\n"
        "fall = 7\n"
        "connect_timeout = 3s\n"
        "response_timeout = 2m\n"
        "retries = 16\n"
        "send_proxy = v2\n"
        "keepalive = 0\n"
        "[backend static]\n"
        "server = 10.0.0.1:80\n"
        "balance = leastconn\n"
        "check = tcp\n"
        "check_status = 200-204\n"
        "send_proxy = v1\n"
        "[backend rand]\n"
        "server = 10.0.0.2:80\n"
        "server = 10.0.0.3:80 weight=2\n"
        "balance = random\n"
        "hash_key = uri\n"
        "[route api]\n"
        "listen = web\n"
        "host = API.Example.com\n"
        "path = /api/\n"
        "backend = app\n"
        "upgrade = off\n"
        "[route static]\n"
        "host = .example.com\n"
        "path_regex = ^/static/.*\\.(css|js)$\n"
        "backend = static\n"
        "upgrade = websocket, h2c\n"
        "[route rest]\n"
        "listen = web6\n"
        "host = [::1]\n"
        "backend = rand\n";

static void
round_trip(const char *text, char **first_out)
{
	char *first, *second;

	load_ok(text);
	first = dump_text(&cfg);
	write_file("dump.ini", first, strlen(first));
	ck_assert_msg(config_load(&cfg2, "dump.ini", err, sizeof(err)) == 0,
	              "the dump does not load: %s", err);
	strcpy(cfg2.path, cfg.path);
	second = dump_text(&cfg2);
	ck_assert_str_eq(first, second);
	free(second);
	*first_out = first;
}

START_TEST(dump_round_trip)
{
	char *dump;
	unsigned i;

	round_trip(full_reverse, &dump);
	ck_assert_uint_eq(cfg2.n_listens, 3);
	ck_assert_uint_eq(cfg2.n_backends, 3);
	ck_assert_uint_eq(cfg2.n_servers, 7);
	ck_assert_uint_eq(cfg2.n_routes, 3);
	for (i = 0; i < cfg.n_servers; i++) {
		ck_assert_str_eq(cfg2.servers[i].name, cfg.servers[i].name);
		ck_assert_uint_eq(cfg2.servers[i].weight,
		                  cfg.servers[i].weight);
		ck_assert_uint_eq(cfg2.servers[i].max_conns,
		                  cfg.servers[i].max_conns);
		ck_assert_int_eq(cfg2.servers[i].backup, cfg.servers[i].backup);
		ck_assert_int_eq(cfg2.servers[i].tls, cfg.servers[i].tls);
		ck_assert_str_eq(cfg2.servers[i].sni, cfg.servers[i].sni);
		ck_assert_uint_eq(cfg2.servers[i].backend,
		                  cfg.servers[i].backend);
		ck_assert_int_eq(memcmp(&cfg2.servers[i].addr,
		                        &cfg.servers[i].addr,
		                        cfg.servers[i].addrlen),
		                 0);
	}
	for (i = 0; i < cfg.n_routes; i++)
		ck_assert_uint_eq(cfg2.routes[i].backend_idx,
		                  cfg.routes[i].backend_idx);
	ck_assert_uint_eq(cfg2.listens[1].n_trusted, 3);
	ck_assert_uint_eq(cfg2.listens[1].n_hide, 3);
	ck_assert_uint_eq(cfg2.listens[2].n_hide, 0);
	ck_assert_uint_eq(cfg2.backends[0].check_status_lo, 200);
	ck_assert_uint_eq(cfg2.backends[0].check_status_hi, 299);
	ck_assert_str_eq(cfg2.backends[0].hash_header, "x-session");
	ck_assert_ptr_nonnull(strstr(dump, "\n[backend app]\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\n[route static]\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\nserver = 127.0.0.1:9001 "
	                                   "weight=3\nserver = [::1]:9002 "
	                                   "max_conns=100\nserver = "
	                                   "localhost:9003 weight=256 "
	                                   "max_conns=1000000 backup\nserver "
	                                   "= 127.0.0.1:9004 tls "
	                                   "sni=app.internal\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\nhash_key = header:X-Session\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\nhost = api.example.com\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\ncheck_interval = 500ms\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\nsend_proxy = v2\n"));
	ck_assert_ptr_nonnull(strstr(dump, "\nreal_ip_header = "
	                                   "true-client-ip\n"));
	free(dump);
}
END_TEST

/* A backend of 256 servers, each line as long as a server can be written
 * (an IPv6 literal and every option): the dump must still hold them all. */
START_TEST(dump_round_trip_many_servers)
{
	static char text[CONFIG_MAX_SERVERS * 128 + 512];
	char *dump;
	size_t used;
	unsigned i;

	used = (size_t)snprintf(text, sizeof(text), RB);
	for (i = 1; i < CONFIG_MAX_SERVERS; i++)
		used += (size_t)snprintf(
		        text + used, sizeof(text) - used,
		        "server = "
		        "[2001:db8:1234:5678:9abc:def0:1234:%04x]:65535 "
		        "weight=256 max_conns=1000000 backup\n",
		        i);
	load_ok(text);
	ck_assert_uint_eq(cfg.n_servers, CONFIG_MAX_SERVERS);
	round_trip(text, &dump);
	ck_assert_uint_eq(cfg2.n_servers, CONFIG_MAX_SERVERS);
	free(dump);
}
END_TEST

static Suite *
config_reverse_suite(void)
{
	Suite *s = suite_create("config_reverse");
	TCase *tc;

	tc = tcase_create("values");
	tcase_add_test(tc, parse_enums);
	tcase_add_test(tc, parse_hash_key);
	tcase_add_test(tc, parse_check);
	tcase_add_test(tc, parse_status_range);
	tcase_add_test(tc, parse_server);
	tcase_add_test(tc, parse_cidrs);
	tcase_add_test(tc, cidr_match);
	tcase_add_test(tc, parse_field_names);
	tcase_add_test(tc, parse_lists_empty_item);
	tcase_add_test(tc, parse_route_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_reverse);
	tcase_add_test(tc, server_forms);
	tcase_add_test(tc, servers_accumulate);
	tcase_add_test(tc, backend_keys_good);
	tcase_add_test(tc, listen_keys_good);
	tcase_add_test(tc, route_keys_good);
	tcase_add_test(tc, route_for_every_listener);
	tcase_add_test(tc, dump_round_trip);
	tcase_add_test(tc, dump_round_trip_many_servers);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, backend_key_bad, 0, (int)N_ELEMS(backend_bad));
	tcase_add_test(tc, server_unresolvable);
	tcase_add_test(tc, server_wildcard_star);
	tcase_add_test(tc, server_wildcard_empty);
	tcase_add_test(tc, listen_keys_bad);
	tcase_add_test(tc, route_keys_bad);
	tcase_add_loop_test(tc, load_error, 0, (int)N_ELEMS(errors));
	tcase_add_test(tc, too_many_servers);
	tcase_add_test(tc, too_many_backends);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_reverse_suite());
	int failed;

	snprintf(rundir, sizeof(rundir), "/tmp/check_config_reverse.XXXXXX");
	if (!mkdtemp(rundir)) {
		perror(rundir);
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(rundir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
