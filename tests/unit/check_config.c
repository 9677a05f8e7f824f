/*
 * Unit tests for the proxyd.ini loader: every value parser with good, bad
 * and overflowing input, the defaults, a full valid file, and each load
 * error with its exact "file:line: " text.  Each test runs in its own
 * temporary directory (made with mkdtemp), so the files are named as a
 * user would name them and messages read "proxyd.ini:3: ...".
 */
#include "common/config.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define LISTEN "[listen a]\naddress = 127.0.0.1:3128\n"
/* The longest line the loader takes: inih's buffer less "\n\0". */
#define LINE_MAX_LEN (INI_MAX_LINE - 2)

static char tmpdir[64];
static int oldcwd = -1;
static struct config cfg;
static char err[1024];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/check_config.XXXXXX");
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

/* Writes text as proxyd.ini and loads it. */
static int
load(const char *text)
{
	write_file("proxyd.ini", text, strlen(text));
	return config_load(&cfg, "proxyd.ini", err, sizeof(err));
}

static void
load_ok(const char *text)
{
	int rc = load(text);

	ck_assert_msg(rc == 0, "load failed: %s", err);
}

/* "pid_file = /aaa..." of exactly len bytes. */
static char *
long_line(size_t len)
{
	static char buf[1024];
	const char *head = "pid_file = /";
	size_t n = strlen(head);

	ck_assert_uint_lt(len, sizeof(buf));
	memcpy(buf, head, n);
	memset(buf + n, 'a', len - n);
	buf[len] = '\0';
	return buf;
}

/* ---- value parsers ---- */

START_TEST(duration_good)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} t[] = {
	        {"500ms", 500},
	        {"10s", 10000},
	        {"2m", 120000},
	        {"1h", 3600000},
	        {"1d", 86400000},
	        {"10", 10000},
	        {"0", 0},
	        {"0ms", 0},
	        {"007s", 7000},
	        {"18446744073709551615ms", UINT64_MAX},
	        {"5124095576030h", UINT64_C(5124095576030) * 3600000},
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < N_ELEMS(t); i++) {
		ms = 1;
		ck_assert_msg(config_parse_duration(t[i].s, &ms) == 0, "%s",
		              t[i].s);
		ck_assert_uint_eq(ms, t[i].ms);
	}
}
END_TEST

START_TEST(duration_bad)
{
	static const char *const t[] = {
	        "",
	        "ten",
	        "10x",
	        "10 s",
	        " 10s",
	        "10s ",
	        "-1",
	        "+1",
	        "1.5s",
	        "10S",
	        "s",
	        "ms",
	        "10ss",
	        "10msx",
	        "1m30s",
	        "0x10",
	        "18446744073709551616ms", /* 2^64: overflows while reading */
	        "18446744073709552s",     /* overflows when scaled */
	        "5124095576031h",
	};
	uint64_t ms = 42;
	size_t i;

	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(config_parse_duration(t[i], &ms) == -1, "%s",
		              t[i]);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

START_TEST(size_good)
{
	static const struct {
		const char *s;
		size_t bytes;
	} t[] = {
	        {"0", 0},
	        {"512", 512},
	        {"32k", 32768},
	        {"32K", 32768},
	        {"1m", 1048576},
	        {"1M", 1048576},
	        {"1g", 1073741824},
	        {"1G", 1073741824},
	        {"17179869183g", (size_t)17179869183 << 30},
	        {"18446744073709551615", SIZE_MAX},
	};
	size_t bytes, i;

	for (i = 0; i < N_ELEMS(t); i++) {
		bytes = 1;
		ck_assert_msg(config_parse_size(t[i].s, &bytes) == 0, "%s",
		              t[i].s);
		ck_assert_uint_eq(bytes, t[i].bytes);
	}
}
END_TEST

START_TEST(size_bad)
{
	static const char *const t[] = {
	        "",
	        "k",
	        "1kb",
	        "1 k",
	        "-1",
	        "+1",
	        "1.5k",
	        "1t",
	        "1b",
	        " 1k",
	        "1k ",
	        "0x10",
	        "1kk",
	        "1e3",
	        "17179869184g",         /* 2^64 bytes */
	        "18446744073709551616", /* 2^64 */
	        "18014398509481984k",   /* 2^64 bytes */
	};
	size_t bytes = 42, i;

	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(config_parse_size(t[i], &bytes) == -1, "%s",
		              t[i]);
	ck_assert_uint_eq(bytes, 42);
}
END_TEST

START_TEST(bool_values)
{
	static const char *const on[] = {"on", "yes", "true", "1",
	                                 "ON", "Yes", "TRUE"};
	static const char *const off[] = {"off", "no",  "false",
	                                  "0",   "Off", "NO"};
	static const char *const bad[] = {"",    "2",  "enable", "onn",
	                                  " on", "of", "y",      "00"};
	size_t i;
	int b;

	for (i = 0; i < N_ELEMS(on); i++) {
		b = 0;
		ck_assert_int_eq(config_parse_bool(on[i], &b), 0);
		ck_assert_int_eq(b, 1);
	}
	for (i = 0; i < N_ELEMS(off); i++) {
		b = 1;
		ck_assert_int_eq(config_parse_bool(off[i], &b), 0);
		ck_assert_int_eq(b, 0);
	}
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_bool(bad[i], &b) == -1, "%s",
		              bad[i]);
}
END_TEST

START_TEST(uint_values)
{
	static const char *const bad[] = {"",   "-1",  "+1",
	                                  "1 ", " 1",  "0x10",
	                                  "1k", "1.0", "18446744073709551616"};
	uint64_t v;
	size_t i;

	ck_assert_int_eq(config_parse_uint("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(config_parse_uint("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(config_parse_uint("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_uint(bad[i], &v) == -1, "%s",
		              bad[i]);
}
END_TEST

START_TEST(port_values)
{
	static const char *const bad[] = {"0",    "65536", "-1",        "",
	                                  "http", "443 ",  "4294967739"};
	uint16_t port;
	size_t i;

	ck_assert_int_eq(config_parse_port("1", &port), 0);
	ck_assert_uint_eq(port, 1);
	ck_assert_int_eq(config_parse_port("65535", &port), 0);
	ck_assert_uint_eq(port, 65535);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_port(bad[i], &port) == -1, "%s",
		              bad[i]);
}
END_TEST

START_TEST(ports_values)
{
	static const char *const bad[] = {
	        "",        ",", "443,",  ",443",  "443,,80", "443 8443",
	        "443,443", "0", "443,0", "65536", "a,443",   " , ",
	};
	uint16_t ports[CONFIG_MAX_PORTS];
	char list[1024];
	unsigned n = 0, i;
	size_t used = 0;

	ck_assert_int_eq(config_parse_ports("443", ports, 64, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ports[0], 443);
	ck_assert_int_eq(config_parse_ports(" 443 ,8443,\t563", ports, 64, &n),
	                 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ports[1], 8443);
	ck_assert_uint_eq(ports[2], 563);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_ports(bad[i], ports, 64, &n) == -1,
		              "'%s'", bad[i]);
	/* exactly CONFIG_MAX_PORTS fit; one more does not */
	for (i = 1; i <= CONFIG_MAX_PORTS; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		                         "%s%u", i > 1 ? "," : "", i);
	ck_assert_int_eq(config_parse_ports(list, ports, CONFIG_MAX_PORTS, &n),
	                 0);
	ck_assert_uint_eq(n, CONFIG_MAX_PORTS);
	strcat(list, ",100");
	ck_assert_int_eq(config_parse_ports(list, ports, CONFIG_MAX_PORTS, &n),
	                 -1);
}
END_TEST

static void
check_in4(const char *s, const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	socklen_t len = 0;
	char buf[INET_ADDRSTRLEN];

	ck_assert_msg(config_parse_address(s, &ss, &len) == 0, "%s", s);
	ck_assert_int_eq(in->sin_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(*in));
	ck_assert_uint_eq(ntohs(in->sin_port), port);
	ck_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)),
	                 ip);
}

static void
check_in6(int rc, const struct sockaddr_storage *ss, socklen_t len,
          const char *ip, unsigned port)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(in6->sin6_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(*in6));
	ck_assert_uint_eq(ntohs(in6->sin6_port), port);
	ck_assert_str_eq(inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)),
	                 ip);
}

START_TEST(address_good)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rc;

	check_in4("127.0.0.1:3128", "127.0.0.1", 3128);
	check_in4("*:3128", "0.0.0.0", 3128);
	check_in4(":3128", "0.0.0.0", 3128);
	check_in4("0.0.0.0:1", "0.0.0.0", 1);
	check_in4("10.1.2.3:65535", "10.1.2.3", 65535);
	rc = config_parse_address("[::1]:3128", &ss, &len);
	check_in6(rc, &ss, len, "::1", 3128);
	rc = config_parse_address("[::]:3128", &ss, &len);
	check_in6(rc, &ss, len, "::", 3128);
	rc = config_parse_address("[2001:db8::7]:80", &ss, &len);
	check_in6(rc, &ss, len, "2001:db8::7", 80);
}
END_TEST

START_TEST(address_bad)
{
	static const char *const t[] = {
	        "",
	        "127.0.0.1",
	        "127.0.0.1:",
	        "127.0.0.1:0",
	        "127.0.0.1:65536",
	        "127.0.0.1:3128x",
	        "127.0.0.1:+80",
	        " 127.0.0.1:80",
	        "localhost:3128",
	        "::1:3128",
	        "::1",
	        "[::1]",
	        "[::1]3128",
	        "[::1]:",
	        "[::1:80",
	        "[127.0.0.1]:80",
	        "[*]:80",
	        "[]:80",
	        "1.2.3:80",
	        "256.1.1.1:80",
	        "01.2.3.4:80",
	        "*",
	        ":",
	        "**:80",
	        "[fe80::1%lo]:80",
	        "1.2.3.4:80:90",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	for (i = 0; i < N_ELEMS(t); i++)
		ck_assert_msg(config_parse_address(t[i], &ss, &len) == -1,
		              "'%s'", t[i]);
}
END_TEST

static int
clashes(const char *a, const char *b)
{
	struct sockaddr_storage sa, sb;
	socklen_t len;

	ck_assert_int_eq(config_parse_address(a, &sa, &len), 0);
	ck_assert_int_eq(config_parse_address(b, &sb, &len), 0);
	ck_assert_int_eq(config_address_clash(&sa, &sb),
	                 config_address_clash(&sb, &sa));
	return config_address_clash(&sa, &sb);
}

START_TEST(address_clash)
{
	ck_assert(clashes("127.0.0.1:80", "127.0.0.1:80"));
	ck_assert(clashes("*:80", "127.0.0.1:80"));
	ck_assert(clashes(":80", "*:80"));
	ck_assert(clashes("[::1]:80", "[::1]:80"));
	ck_assert(clashes("[::]:80", "[::1]:80"));
	ck_assert(!clashes("127.0.0.1:80", "127.0.0.1:81"));
	ck_assert(!clashes("127.0.0.1:80", "127.0.0.2:80"));
	ck_assert(!clashes("*:80", "[::]:80"));
	ck_assert(!clashes("[::1]:80", "[::2]:80"));
	ck_assert(!clashes("[::]:80", "[::]:81"));
}
END_TEST

START_TEST(resolver_values)
{
	static const char *const bad[] = {
	        "",       "dns.google",  "8.8.8.8:0", "*:53",     ":53",
	        "[::1]:", "1.2.3.4:5:6", "[::1",      "8.8.8.8:", "8.8.8.8 ",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	socklen_t len;
	size_t i;
	int rc;

	ck_assert_int_eq(config_parse_resolver("8.8.8.8", &ss, &len), 0);
	ck_assert_int_eq(in->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(in->sin_port), 53);
	ck_assert_int_eq(config_parse_resolver("8.8.8.8:5353", &ss, &len), 0);
	ck_assert_uint_eq(ntohs(in->sin_port), 5353);
	rc = config_parse_resolver("[2001:db8::1]:5300", &ss, &len);
	check_in6(rc, &ss, len, "2001:db8::1", 5300);
	rc = config_parse_resolver("[::1]", &ss, &len);
	check_in6(rc, &ss, len, "::1", 53);
	rc = config_parse_resolver("::1", &ss, &len);
	check_in6(rc, &ss, len, "::1", 53);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_resolver(bad[i], &ss, &len) == -1,
		              "'%s'", bad[i]);
}
END_TEST

START_TEST(workers_values)
{
	static const char *const bad[] = {"0",     "257", "-1", "Auto",
	                                  "auto ", "",    "1k", "4294967297"};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n;
	size_t i;

	ck_assert_int_eq(config_parse_workers("auto", &n), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, CONFIG_MAX_WORKERS);
	if (cpus >= 1 && cpus <= CONFIG_MAX_WORKERS)
		ck_assert_uint_eq(n, (unsigned)cpus);
	ck_assert_int_eq(config_parse_workers("1", &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(config_parse_workers("256", &n), 0);
	ck_assert_uint_eq(n, 256);
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(config_parse_workers(bad[i], &n) == -1, "'%s'",
		              bad[i]);
}
END_TEST

START_TEST(enum_values)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	enum log_level level;
	enum listen_mode mode;
	size_t i;

	for (i = 0; i < N_ELEMS(levels); i++) {
		ck_assert_int_eq(config_parse_log_level(levels[i], &level), 0);
		ck_assert_int_eq(level, (int)i);
		ck_assert_str_eq(config_log_level_name(level), levels[i]);
	}
	ck_assert_int_eq(config_parse_log_level("warning", &level), -1);
	ck_assert_int_eq(config_parse_log_level("INFO", &level), -1);
	ck_assert_int_eq(config_parse_log_level("", &level), -1);
	ck_assert_int_eq(config_parse_mode("forward", &mode), 0);
	ck_assert_int_eq(mode, LISTEN_FORWARD);
	ck_assert_int_eq(config_parse_mode("reverse", &mode), 0);
	ck_assert_int_eq(mode, LISTEN_REVERSE);
	ck_assert_int_eq(config_parse_mode("Forward", &mode), -1);
	ck_assert_int_eq(config_parse_mode("", &mode), -1);
	ck_assert_str_eq(config_listen_mode_name(LISTEN_REVERSE), "reverse");
	ck_assert_str_eq(config_log_level_name((enum log_level)99), "?");
}
END_TEST

START_TEST(format_values)
{
	static const uint64_t ms[] = {0,        1,         500,    1500,
	                              10000,    90000,     120000, 3600000,
	                              86400000, UINT64_MAX};
	static const size_t sizes[] = {0,     1,       1000,    1536,
	                               32768, 1048576, 1 << 30, SIZE_MAX};
	char buf[64];
	uint64_t back;
	size_t i, bytes;

	config_format_duration(10000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "10s");
	config_format_duration(90000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "90s");
	config_format_duration(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1500ms");
	config_format_size(32768, buf, sizeof(buf));
	ck_assert_str_eq(buf, "32k");
	config_format_size(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1000");
	for (i = 0; i < N_ELEMS(ms); i++) {
		config_format_duration(ms[i], buf, sizeof(buf));
		ck_assert_int_eq(config_parse_duration(buf, &back), 0);
		ck_assert_uint_eq(back, ms[i]);
	}
	for (i = 0; i < N_ELEMS(sizes); i++) {
		config_format_size(sizes[i], buf, sizeof(buf));
		ck_assert_int_eq(config_parse_size(buf, &bytes), 0);
		ck_assert_uint_eq(bytes, sizes[i]);
	}
}
END_TEST

/* ---- defaults ---- */

START_TEST(defaults)
{
	unsigned cpus;

	ck_assert_int_eq(config_parse_workers("auto", &cpus), 0);
	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.workers, cpus);
	ck_assert_str_eq(cfg.user, "nobody");
	ck_assert_str_eq(cfg.group, "");
	ck_assert_str_eq(cfg.pid_file, "/run/proxyd/proxyd.pid");
	ck_assert_str_eq(cfg.shm_file, "/run/proxyd/proxyd.shm");
	ck_assert_str_eq(cfg.error_log, "/var/log/proxyd/error.log");
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_INFO);
	ck_assert_str_eq(cfg.access_log, "/var/log/proxyd/access.log");
	ck_assert_str_eq(cfg.resolver, "");
	ck_assert_uint_eq(cfg.max_connections, 4096);
	ck_assert_uint_eq(cfg.max_header_size, 32 * 1024);
	ck_assert_uint_eq(cfg.max_headers, 100);
	ck_assert_uint_eq(cfg.max_uri_size, 8 * 1024);
	ck_assert_uint_eq(cfg.timeouts.client_header, 10000);
	ck_assert_uint_eq(cfg.timeouts.client_idle, 60000);
	ck_assert_uint_eq(cfg.timeouts.connect, 10000);
	ck_assert_uint_eq(cfg.timeouts.upstream_response, 60000);
	ck_assert_uint_eq(cfg.timeouts.upstream_idle, 30000);
	ck_assert_uint_eq(cfg.timeouts.tunnel_idle, 300000);
	ck_assert_uint_eq(cfg.timeouts.drain, 30000);
	ck_assert_uint_eq(cfg.n_listens, 0);
}
END_TEST

START_TEST(defaults_listen)
{
	const struct config_listen *l = &cfg.listens[0];

	load_ok("; just a listener\n" LISTEN);
	ck_assert_str_eq(cfg.path, "proxyd.ini");
	ck_assert_str_eq(cfg.user, "nobody");
	ck_assert_uint_eq(cfg.n_listens, 1);
	ck_assert_str_eq(l->name, "a");
	ck_assert_int_eq(l->line, 2);
	ck_assert_str_eq(l->address, "127.0.0.1:3128");
	ck_assert_int_eq(l->addr.ss_family, AF_INET);
	ck_assert_uint_eq(l->addrlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(l->mode, LISTEN_FORWARD);
	ck_assert_uint_eq(l->n_connect_ports, 1);
	ck_assert_uint_eq(l->connect_ports[0], 443);
	ck_assert_int_eq(l->x_forwarded_for, 0);
}
END_TEST

/* ---- whole files ---- */

static const char full_file[] =
        "; every key, set to something other than its default\n"
        "[proxyd]\n"
        "workers = 3\n"
        "user = proxy\n"
        "group = proxy\n"
        "pid_file = /tmp/p.pid\n"
        "shm_file = /tmp/p.shm\n"
        "error_log = stderr\n"
        "log_level = debug\n"
        "access_log = /tmp/access.log   ; inline comment\n"
        "resolver = [2001:db8::53]:5353\n"
        "max_connections = 1000000\n"
        "max_header_size = 64k\n"
        "max_headers = 200\n"
        "max_uri_size = 64k\n"
        "\n"
        "# hash comments too\n"
        "[timeouts]\n"
        "client_header = 500ms\n"
        "client_idle = 2m\n"
        "connect = 3\n"
        "upstream_response = 1h\n"
        "upstream_idle = 45s\n"
        "tunnel_idle = 24h\n"
        "drain = 1ms\n"
        "\n"
        "[listen local]\n"
        "address = 127.0.0.1:3128\n"
        "mode = forward\n"
        "connect_ports = 443, 8443,563\n"
        "x_forwarded_for = yes\n"
        "\n"
        "  [ listen   v6 ]   ; indented, spaced header\n"
        "\taddress = [::1]:3128\n"
        "    x_forwarded_for = off\n";

START_TEST(full)
{
	const struct config_listen *l = cfg.listens;

	load_ok(full_file);
	ck_assert_uint_eq(cfg.workers, 3);
	ck_assert_str_eq(cfg.user, "proxy");
	ck_assert_str_eq(cfg.group, "proxy");
	ck_assert_str_eq(cfg.pid_file, "/tmp/p.pid");
	ck_assert_str_eq(cfg.shm_file, "/tmp/p.shm");
	ck_assert_str_eq(cfg.error_log, "stderr");
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg.access_log, "/tmp/access.log");
	ck_assert_str_eq(cfg.resolver, "[2001:db8::53]:5353");
	ck_assert_uint_eq(cfg.max_connections, 1000000);
	ck_assert_uint_eq(cfg.max_header_size, 65536);
	ck_assert_uint_eq(cfg.max_headers, 200);
	ck_assert_uint_eq(cfg.max_uri_size, 65536);
	ck_assert_uint_eq(cfg.timeouts.client_header, 500);
	ck_assert_uint_eq(cfg.timeouts.client_idle, 120000);
	ck_assert_uint_eq(cfg.timeouts.connect, 3000);
	ck_assert_uint_eq(cfg.timeouts.upstream_response, 3600000);
	ck_assert_uint_eq(cfg.timeouts.upstream_idle, 45000);
	ck_assert_uint_eq(cfg.timeouts.tunnel_idle, 86400000);
	ck_assert_uint_eq(cfg.timeouts.drain, 1);
	ck_assert_uint_eq(cfg.n_listens, 2);
	ck_assert_str_eq(l[0].name, "local");
	ck_assert_int_eq(l[0].line, 27);
	ck_assert_uint_eq(l[0].n_connect_ports, 3);
	ck_assert_uint_eq(l[0].connect_ports[0], 443);
	ck_assert_uint_eq(l[0].connect_ports[1], 8443);
	ck_assert_uint_eq(l[0].connect_ports[2], 563);
	ck_assert_int_eq(l[0].x_forwarded_for, 1);
	ck_assert_str_eq(l[1].name, "v6");
	ck_assert_int_eq(l[1].line, 33);
	ck_assert_str_eq(l[1].address, "[::1]:3128");
	ck_assert_int_eq(l[1].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(l[1].n_connect_ports, 1);
	ck_assert_int_eq(l[1].x_forwarded_for, 0);
}
END_TEST

/* An indented line is a key of its own, never glued onto the value
 * above it as inih's multi-line values would. */
START_TEST(indented_not_continuation)
{
	load_ok("[proxyd]\nuser = a\n    group = b\n\t\tlog_level = "
	        "warn\n" LISTEN);
	ck_assert_str_eq(cfg.user, "a");
	ck_assert_str_eq(cfg.group, "b");
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_WARN);
}
END_TEST

START_TEST(crlf_bom_and_no_final_newline)
{
	load_ok("\xef\xbb\xbf[proxyd]\r\nuser = crlf\r\n\r\n[listen a]\r\n"
	        "address = 127.0.0.1:3128");
	ck_assert_str_eq(cfg.user, "crlf");
	ck_assert_str_eq(cfg.listens[0].address, "127.0.0.1:3128");
}
END_TEST

START_TEST(access_log_off)
{
	load_ok("[proxyd]\naccess_log = off\n" LISTEN);
	ck_assert_str_eq(cfg.access_log, "");
}
END_TEST

/* The longest line fits; inih would have split one byte more. */
START_TEST(line_at_limit)
{
	char text[2048];

	snprintf(text, sizeof(text), "[proxyd]\n%s\n" LISTEN,
	         long_line(LINE_MAX_LEN));
	load_ok(text);
	ck_assert_uint_eq(strlen(cfg.pid_file), LINE_MAX_LEN - 11);
	/* trailing CR of a CRLF line does not count */
	snprintf(text, sizeof(text), "[proxyd]\r\n%s\r\n" LISTEN,
	         long_line(LINE_MAX_LEN));
	load_ok(text);
}
END_TEST

/* 63 characters, longer than inih's own 49-byte section buffer. */
START_TEST(long_listen_name)
{
	char name[CONFIG_NAME_MAX], text[256];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "[listen %s]\naddress = :80\n", name);
	load_ok(text);
	ck_assert_str_eq(cfg.listens[0].name, name);
}
END_TEST

/* Each family's wildcard clashes only with its own family. */
START_TEST(listen_addresses_apart)
{
	load_ok("[listen a]\naddress = *:3128\n"
	        "[listen b]\naddress = [::]:3128\n"
	        "[listen c]\naddress = 127.0.0.1:3129\n"
	        "[listen d]\naddress = 127.0.0.2:3129\n"
	        "[listen e]\naddress = [::1]:3129\n");
	ck_assert_uint_eq(cfg.n_listens, 5);
}
END_TEST

static void
many_listens(char *text, size_t size, unsigned n)
{
	size_t used = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, size - used,
		                         "[listen l%u]\naddress = :%u\n", i,
		                         1000 + i);
}

START_TEST(max_listens)
{
	static char text[8192];

	many_listens(text, sizeof(text), CONFIG_MAX_LISTENS);
	load_ok(text);
	ck_assert_uint_eq(cfg.n_listens, CONFIG_MAX_LISTENS);
	many_listens(text, sizeof(text), CONFIG_MAX_LISTENS + 1);
	ck_assert_int_eq(load(text), -1);
	ck_assert_str_eq(err, "proxyd.ini:129: too many [listen] sections "
	                      "(max 64)");
}
END_TEST

START_TEST(bounds_inclusive)
{
	load_ok("[proxyd]\nmax_connections = 1\nmax_header_size = 1k\n"
	        "max_headers = 10000\nmax_uri_size = 256\n"
	        "[timeouts]\nconnect = 24h\ndrain = 1ms\n" LISTEN);
	ck_assert_uint_eq(cfg.max_header_size, 1024);
	ck_assert_uint_eq(cfg.max_uri_size, 256);
	load_ok("[proxyd]\nmax_header_size = 1m\nmax_uri_size = 1m\n" LISTEN);
	ck_assert_uint_eq(cfg.max_uri_size, 1048576);
}
END_TEST

/* What config_dump writes, config_load reads back to the same config. */
START_TEST(dump_round_trip)
{
	char *first = NULL, *second = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f;

	load_ok(full_file);
	f = open_memstream(&first, &n1);
	config_dump(&cfg, f);
	fclose(f);
	write_file("dump.ini", first, n1);
	ck_assert_int_eq(config_load(&cfg, "dump.ini", err, sizeof(err)), 0);
	strcpy(cfg.path, "proxyd.ini");
	f = open_memstream(&second, &n2);
	config_dump(&cfg, f);
	fclose(f);
	ck_assert_str_eq(first, second);
	ck_assert_ptr_nonnull(strstr(first, "\n[listen v6]\n"));
	ck_assert_ptr_nonnull(
	        strstr(first, "\nconnect_ports = 443, 8443, 563\n"));
	ck_assert_ptr_nonnull(strstr(first, "\nmax_uri_size = 64k\n"));
	free(first);
	free(second);
}
END_TEST

/* ---- errors: the first one, with its file:line ---- */

static const struct {
	const char *text;
	const char *want;
} errors[] = {
        {"[timeouts]\n\nconnect = ten\n" LISTEN,
         "proxyd.ini:3: [timeouts] connect: bad duration 'ten' (e.g. 500ms, "
         "10s, 2m, 1h)"},
        {"[proxyd]\nuser = x\nwokers = 2\n" LISTEN,
         "proxyd.ini:3: unknown key 'wokers' in [proxyd]"},
        {LISTEN "adress = :80\n",
         "proxyd.ini:3: unknown key 'adress' in [listen a]"},
        {LISTEN "[proxyd]\n[lisen x]\n",
         "proxyd.ini:4: unknown section [lisen x]"},
        {LISTEN "[timeout]\nconnect = 1\n",
         "proxyd.ini:3: unknown section [timeout]"},
        {"[proxyd]\nworkers = 2\nuser = x\nworkers = 3\n" LISTEN,
         "proxyd.ini:4: duplicate key 'workers' (first at line 2)"},
        {"[proxyd]\nworkers\n" LISTEN,
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
        {"[proxyd]\n= 2\n" LISTEN,
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
        {"[proxyd\n" LISTEN,
         "proxyd.ini:1: syntax error (no ']' after [section)"},
        {"[proxyd ; x]\n" LISTEN,
         "proxyd.ini:1: syntax error (no ']' after [section)"},
        {"[proxyd] x\n" LISTEN,
         "proxyd.ini:1: syntax error (text after [section])"},
        {"workers = 2\n" LISTEN,
         "proxyd.ini:1: key 'workers' before any [section]"},
        {"[proxyd]\n[proxyd]\n" LISTEN,
         "proxyd.ini:2: duplicate section [proxyd] (first at line 1)"},
        {"[proxyd x]\n" LISTEN, "proxyd.ini:1: section [proxyd] takes no name"},
        {"[listen]\naddress = :80\n",
         "proxyd.ini:1: [listen] needs a name: [listen NAME]"},
        {"[listen a/b]\naddress = :80\n",
         "proxyd.ini:1: bad listen name 'a/b' (1..63 of A-Z a-z 0-9 _ . -)"},
        {"[listen a b]\naddress = :80\n",
         "proxyd.ini:1: bad listen name 'a b' (1..63 of A-Z a-z 0-9 _ . -)"},
        {LISTEN "[listen a]\naddress = :81\n",
         "proxyd.ini:3: duplicate section [listen a] (first at line 1)"},
        {LISTEN "[listen b]\n; same\naddress = 127.0.0.1:3128\n",
         "proxyd.ini:5: [listen b] address: 127.0.0.1:3128 is already used by "
         "[listen a] (line 1)"},
        {LISTEN "[listen b]\naddress = *:3128\n",
         "proxyd.ini:4: [listen b] address: *:3128 is already used by "
         "[listen a] (line 1)"},
        {"[listen a]\nmode = forward\n[proxyd]\n",
         "proxyd.ini:1: [listen a]: address is required"},
        {LISTEN "[listen b]\n",
         "proxyd.ini:3: [listen b]: address is required"},
        {LISTEN "mode = reverse\n",
         "proxyd.ini:1: [listen a]: mode = reverse needs a default_backend "
         "or a [route]"},
        {LISTEN "mode = fwd\n", "proxyd.ini:3: [listen a] mode: bad mode 'fwd' "
                                "(forward or reverse)"},
        {LISTEN "address = :80\n",
         "proxyd.ini:3: duplicate key 'address' (first at line 2)"},
        {"[listen a]\naddress = localhost:3128\n",
         "proxyd.ini:2: [listen a] address: bad address 'localhost:3128' "
         "(IP:PORT, [IPv6]:PORT or *:PORT)"},
        {LISTEN "connect_ports = 443, 443\n",
         "proxyd.ini:3: [listen a] connect_ports: bad port list '443, 443' "
         "(e.g. 443, 8443: distinct ports 1..65535, at most 64)"},
        {LISTEN "x_forwarded_for = maybe\n",
         "proxyd.ini:3: [listen a] x_forwarded_for: bad boolean 'maybe' (on or "
         "off)"},
        {"[proxyd]\nworkers = 0\n" LISTEN,
         "proxyd.ini:2: [proxyd] workers: bad workers '0' (auto or 1..256)"},
        {"[proxyd]\nuser =\n" LISTEN,
         "proxyd.ini:2: [proxyd] user: must not be empty"},
        {"[proxyd]\nuser = a b\n" LISTEN,
         "proxyd.ini:2: [proxyd] user: bad name 'a b' (no blanks, ':' or '/')"},
        {"[proxyd]\npid_file =\n" LISTEN,
         "proxyd.ini:2: [proxyd] pid_file: must not be empty"},
        {"[proxyd]\nerror_log = a\tb\n" LISTEN,
         "proxyd.ini:2: [proxyd] error_log: bad path 'a?b' (control "
         "character)"},
        {"[proxyd]\nlog_level = verbose\n" LISTEN,
         "proxyd.ini:2: [proxyd] log_level: bad log level 'verbose' (error, "
         "warn, info or debug)"},
        {"[proxyd]\nresolver = dns.google\n" LISTEN,
         "proxyd.ini:2: [proxyd] resolver: bad resolver 'dns.google' (IP, "
         "IP:PORT, [IPv6] or [IPv6]:PORT)"},
        {"[proxyd]\nmax_connections = 0\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_connections: 0 is out of range "
         "(1..1000000)"},
        {"[proxyd]\nmax_connections = 99999999999999999999\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_connections: bad number "
         "'99999999999999999999' (decimal digits)"},
        {"[proxyd]\nmax_connections = -1\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_connections: bad number '-1' (decimal "
         "digits)"},
        {"[proxyd]\nmax_headers = 10001\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_headers: 10001 is out of range "
         "(1..10000)"},
        {"[proxyd]\nmax_header_size = 1023\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_header_size: 1023 is out of range "
         "(1k..1m)"},
        {"[proxyd]\nmax_header_size = 2m\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_header_size: 2m is out of range "
         "(1k..1m)"},
        {"[proxyd]\nmax_header_size = 1x\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_header_size: bad size '1x' (e.g. 512, "
         "32k, 1m, 1g)"},
        {"[proxyd]\nmax_header_size = 4k\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_header_size: 4k is smaller than "
         "max_uri_size (8k)"},
        {"[proxyd]\nmax_uri_size = 64k\n" LISTEN,
         "proxyd.ini:2: [proxyd] max_uri_size: 64k is larger than "
         "max_header_size (32k)"},
        {"[proxyd]\nmax_uri_size = 16k\nmax_header_size = 8k\n" LISTEN,
         "proxyd.ini:3: [proxyd] max_header_size: 8k is smaller than "
         "max_uri_size (16k)"},
        {"[timeouts]\nconnect = 0\n" LISTEN,
         "proxyd.ini:2: [timeouts] connect: 0 is out of range (1ms..24h)"},
        {"[timeouts]\ndrain = 25h\n" LISTEN,
         "proxyd.ini:2: [timeouts] drain: 25h is out of range (1ms..24h)"},
        {"[timeouts]\ndrain = 99999999999999999999h\n" LISTEN,
         "proxyd.ini:2: [timeouts] drain: bad duration '99999999999999999999h' "
         "(e.g. 500ms, 10s, 2m, 1h)"},
        {"", "proxyd.ini: no [listen] section"},
        {"[proxyd]\nworkers = 2\n", "proxyd.ini: no [listen] section"},
        {"[proxyd]\nuser = a\0b\n" LISTEN, "proxyd.ini:2: NUL byte in line"},
        /* the first error wins, whichever of inih and us found it */
        {"[proxyd]\nworkers\nwokers = 1\n" LISTEN,
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
        {"[proxyd]\nwokers = 1\nworkers\n" LISTEN,
         "proxyd.ini:2: unknown key 'wokers' in [proxyd]"},
        {"[proxyd]\nworkers\n[lisen x]\n" LISTEN,
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
        {"[listen a]\nworkers\n[proxyd]\n",
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
        {"[proxyd]\nworkers\n",
         "proxyd.ini:2: syntax error (expected [section] or key = value)"},
};

START_TEST(load_error)
{
	/* a NUL in the text: write up to the terminating one */
	const char *text = errors[_i].text;
	size_t len = strlen(text);

	if (strstr(errors[_i].want, "NUL byte") != NULL)
		len += 1 + strlen(text + len + 1);
	write_file("proxyd.ini", text, len);
	ck_assert_int_eq(config_load(&cfg, "proxyd.ini", err, sizeof(err)), -1);
	ck_assert_str_eq(err, errors[_i].want);
}
END_TEST

START_TEST(line_too_long)
{
	char text[2048], want[128];

	snprintf(text, sizeof(text), "[proxyd]\n%s\n" LISTEN,
	         long_line(LINE_MAX_LEN + 1));
	snprintf(want, sizeof(want),
	         "proxyd.ini:2: line too long (over %d bytes)", LINE_MAX_LEN);
	ck_assert_int_eq(load(text), -1);
	ck_assert_str_eq(err, want);
	/* comments count too: a split comment would turn into a key */
	snprintf(text, sizeof(text), LISTEN "; %s\n", long_line(500));
	snprintf(want, sizeof(want),
	         "proxyd.ini:3: line too long (over %d bytes)", LINE_MAX_LEN);
	ck_assert_int_eq(load(text), -1);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(long_listen_name_bad)
{
	char name[CONFIG_NAME_MAX + 1], text[256], want[256];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "[listen %s]\naddress = :80\n", name);
	snprintf(want, sizeof(want),
	         "proxyd.ini:1: bad listen name '%s' (1..63 of A-Z a-z 0-9 _ "
	         ". -)",
	         name);
	ck_assert_int_eq(load(text), -1);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(missing_file)
{
	ck_assert_int_eq(config_load(&cfg, "nope.ini", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "nope.ini: No such file or directory");
	ck_assert_int_eq(mkdir("dir.ini", 0700), 0);
	ck_assert_int_eq(config_load(&cfg, "dir.ini", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "dir.ini: Is a directory");
}
END_TEST

/* A small err buffer gets a cut message, never an overflow. */
START_TEST(small_err_buffer)
{
	char small[12];

	write_file("proxyd.ini", "[proxyd]\nwokers = 1\n", 20);
	ck_assert_int_eq(config_load(&cfg, "proxyd.ini", small, sizeof(small)),
	                 -1);
	ck_assert_str_eq(small, "proxyd.ini:");
}
END_TEST

/* ---- the shipped configurations ---- */

static struct config shipped;

/* etc/ of the source tree: make runs the tests from its root. */
static void
load_shipped(const char *name)
{
	const char *dir = getenv("PROXYD_SRCDIR");
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/etc/%s", dir ? dir : ".", name);
	ck_assert_msg(config_load(&shipped, path, err, sizeof(err)) == 0, "%s",
	              err);
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

static char *
read_text(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(getdelim(&text, &len, '\0', f), 0);
	fclose(f);
	return text;
}

/* Every key the dump knows (so every row of the table) is set in the
 * shipped file, and every value outside [listen] is the default. */
START_TEST(shipped_production)
{
	const struct config_listen *l = &shipped.listens[0];
	char *dump, *file, *line, *want, key[80];

	load_shipped("proxyd.ini");
	file = read_text(shipped.path);
	dump = dump_text(&shipped);
	for (line = strchr(dump, '\n'); line; line = strchr(line + 1, '\n')) {
		if (sscanf(line + 1, "%79[a-z_] =", key) != 1)
			continue;
		strcat(key, " =");
		ck_assert_msg(strstr(file, key) != NULL, "%s not set", key);
	}
	config_defaults(&cfg);
	cfg.n_listens = shipped.n_listens;
	memcpy(cfg.listens, shipped.listens, sizeof(cfg.listens));
	strcpy(cfg.path, shipped.path);
	free(dump);
	dump = dump_text(&shipped);
	want = dump_text(&cfg);
	ck_assert_str_eq(dump, want);
	ck_assert_uint_eq(shipped.n_listens, 1);
	ck_assert_str_eq(l->address, "127.0.0.1:3128");
	ck_assert_int_eq(l->mode, LISTEN_FORWARD);
	ck_assert_uint_eq(l->n_connect_ports, 1);
	ck_assert_uint_eq(l->connect_ports[0], 443);
	ck_assert_int_eq(l->x_forwarded_for, 0);
	free(want);
	free(dump);
	free(file);
}
END_TEST

START_TEST(shipped_development)
{
	load_shipped("proxyd-dev.ini");
	ck_assert_uint_eq(shipped.workers, 2);
	ck_assert_str_eq(shipped.pid_file, "run/proxyd.pid");
	ck_assert_str_eq(shipped.shm_file, "run/proxyd.shm");
	ck_assert_str_eq(shipped.error_log, "stderr");
	ck_assert_str_eq(shipped.access_log, "run/access.log");
	ck_assert_uint_eq(shipped.n_listens, 1);
	ck_assert_str_eq(shipped.listens[0].address, "127.0.0.1:3128");
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("values");
	tcase_add_test(tc, duration_good);
	tcase_add_test(tc, duration_bad);
	tcase_add_test(tc, size_good);
	tcase_add_test(tc, size_bad);
	tcase_add_test(tc, bool_values);
	tcase_add_test(tc, uint_values);
	tcase_add_test(tc, port_values);
	tcase_add_test(tc, ports_values);
	tcase_add_test(tc, address_good);
	tcase_add_test(tc, address_bad);
	tcase_add_test(tc, address_clash);
	tcase_add_test(tc, resolver_values);
	tcase_add_test(tc, workers_values);
	tcase_add_test(tc, enum_values);
	tcase_add_test(tc, format_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, defaults_listen);
	tcase_add_test(tc, full);
	tcase_add_test(tc, indented_not_continuation);
	tcase_add_test(tc, crlf_bom_and_no_final_newline);
	tcase_add_test(tc, access_log_off);
	tcase_add_test(tc, line_at_limit);
	tcase_add_test(tc, long_listen_name);
	tcase_add_test(tc, listen_addresses_apart);
	tcase_add_test(tc, max_listens);
	tcase_add_test(tc, bounds_inclusive);
	tcase_add_test(tc, dump_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, load_error, 0, (int)N_ELEMS(errors));
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, long_listen_name_bad);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("shipped");
	tcase_add_test(tc, shipped_production);
	tcase_add_test(tc, shipped_development);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
