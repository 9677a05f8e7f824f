/*
 * Value parsers for proxyd.ini, and the printers the dump uses to write the
 * values back.  A parser takes the whole value as inih hands it over
 * (blanks around it already trimmed) and accepts it only if it understands
 * every byte: a sign, an inner blank, an unknown unit, trailing text or a
 * number that overflows is an error, never a silent truncation.  Nothing
 * here knows about files or lines; config.c adds that context.
 */
#include "common/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARN] = "warn",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

static const char *const log_format_names[] = {
        [ACCESS_LOG_COMBINED] = "combined",
        [ACCESS_LOG_JSON] = "json",
};

static const char *const mode_names[] = {
        [LISTEN_FORWARD] = "forward",
        [LISTEN_REVERSE] = "reverse",
        [LISTEN_ADMIN] = "admin",
};

/* Decimal digits at *s into *v, advancing *s.  Not strtoull: it would take
 * a sign or leading blanks, and wrap "-1" around to a huge number. */
static int
digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0, d;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		d = (uint64_t)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*s = p;
	*v = n;
	return 0;
}

/* n * unit, refusing a product over max instead of wrapping. */
static int
scale(uint64_t n, uint64_t unit, uint64_t max, uint64_t *out)
{
	if (n > max / unit)
		return -1;
	*out = n * unit;
	return 0;
}

int
config_parse_uint(const char *s, uint64_t *v)
{
	uint64_t n;

	if (digits(&s, &n) < 0 || *s != '\0')
		return -1;
	*v = n;
	return 0;
}

int
config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	        {"ms", 1},    {"", 1000},     {"s", 1000},
	        {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	uint64_t n;
	size_t i;

	if (digits(&s, &n) < 0)
		return -1;
	for (i = 0; i < N_ELEMS(units); i++)
		if (strcmp(s, units[i].unit) == 0)
			return scale(n, units[i].ms, UINT64_MAX, ms);
	return -1;
}

int
config_parse_size(const char *s, size_t *bytes)
{
	uint64_t n, unit, v;

	if (digits(&s, &n) < 0)
		return -1;
	switch (*s) {
	case '\0':
		unit = 1;
		break;
	case 'k':
	case 'K':
		unit = 1024;
		break;
	case 'm':
	case 'M':
		unit = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		unit = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*s != '\0' && s[1] != '\0')
		return -1;
	if (scale(n, unit, SIZE_MAX, &v) < 0)
		return -1;
	*bytes = (size_t)v;
	return 0;
}

int
config_parse_bool(const char *s, int *b)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	size_t i;

	for (i = 0; i < N_ELEMS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = 0;
			return 0;
		}
	}
	return -1;
}

int
config_parse_port(const char *s, uint16_t *port)
{
	uint64_t n;

	if (config_parse_uint(s, &n) < 0 || n < 1 || n > 65535)
		return -1;
	*port = (uint16_t)n;
	return 0;
}

/* One item of a port list: s..end with the blanks around it dropped. */
static int
port_item(const char *s, const char *end, uint16_t *port)
{
	char item[8];
	size_t len;

	while (s < end && isblank((unsigned char)*s))
		s++;
	while (end > s && isblank((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(item))
		return -1;
	memcpy(item, s, len);
	item[len] = '\0';
	return config_parse_port(item, port);
}

int
config_parse_ports(const char *s, uint16_t *ports, unsigned max, unsigned *n)
{
	const char *end;
	unsigned count = 0, i;
	uint16_t port;

	for (;;) {
		end = s + strcspn(s, ",");
		if (port_item(s, end, &port) < 0 || count == max)
			return -1;
		/* a repeat is a typo for some other port more often than not */
		for (i = 0; i < count; i++)
			if (ports[i] == port)
				return -1;
		ports[count++] = port;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	*n = count;
	return 0;
}

/* "auto" follows the CPUs online now, as nginx's worker_processes does;
 * a reload re-reads it, so hot-plugged CPUs are picked up then. */
int
config_parse_workers(const char *s, unsigned *n)
{
	uint64_t v;
	long cpus;

	if (strcmp(s, "auto") == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		if (cpus < 1)
			cpus = 1;
		if (cpus > CONFIG_MAX_WORKERS)
			cpus = CONFIG_MAX_WORKERS;
		*n = (unsigned)cpus;
		return 0;
	}
	if (config_parse_uint(s, &v) < 0 || v < 1 || v > CONFIG_MAX_WORKERS)
		return -1;
	*n = (unsigned)v;
	return 0;
}

int
config_name_lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
config_name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "?";
}

int
config_parse_log_level(const char *s, enum log_level *level)
{
	int i = config_name_lookup(level_names, N_ELEMS(level_names), s);

	if (i < 0)
		return -1;
	*level = (enum log_level)i;
	return 0;
}

int
config_parse_log_format(const char *s, enum access_log_format *f)
{
	int i = config_name_lookup(log_format_names, N_ELEMS(log_format_names),
	                           s);

	if (i < 0)
		return -1;
	*f = (enum access_log_format)i;
	return 0;
}

int
config_parse_mode(const char *s, enum listen_mode *mode)
{
	int i = config_name_lookup(mode_names, N_ELEMS(mode_names), s);

	if (i < 0)
		return -1;
	*mode = (enum listen_mode)i;
	return 0;
}

const char *
config_log_format_name(enum access_log_format f)
{
	if ((size_t)f >= N_ELEMS(log_format_names))
		return "?";
	return log_format_names[f];
}

const char *
config_log_level_name(enum log_level level)
{
	if ((size_t)level >= N_ELEMS(level_names))
		return "?";
	return level_names[level];
}

const char *
config_listen_mode_name(enum listen_mode mode)
{
	if ((size_t)mode >= N_ELEMS(mode_names))
		return "?";
	return mode_names[mode];
}

/* A numeric host of the given family (never a name: there is no DNS at
 * load time) and a port, into *ss. */
static int
fill_addr(int family, const char *host, uint16_t port,
          struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return -1;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	*len = sizeof(*in6);
	return 0;
}

/* "[v6]:PORT" or "v4:PORT" into host, family and port text.  An IPv6 host
 * must be bracketed, or "::1:3128" would have no single reading. */
static int
split_host_port(const char *s, char *host, size_t hostlen, int *family,
                const char **port)
{
	const char *end;

	*family = AF_INET;
	if (*s == '[') {
		*family = AF_INET6;
		end = strchr(++s, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		*port = end + 2;
	} else {
		end = strchr(s, ':');
		if (end == NULL || strchr(end + 1, ':') != NULL)
			return -1;
		*port = end + 1;
	}
	if ((size_t)(end - s) >= hostlen)
		return -1;
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	return 0;
}

int
config_parse_address(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_text;
	uint16_t port;
	int family;

	if (split_host_port(s, host, sizeof(host), &family, &port_text) < 0 ||
	    config_parse_port(port_text, &port) < 0)
		return -1;
	/* "*:3128" and ":3128" mean every IPv4 address; "[::]:3128" is the
	 * IPv6 spelling, so each family stays explicit. */
	if (family == AF_INET && (host[0] == '\0' || strcmp(host, "*") == 0))
		strcpy(host, "0.0.0.0");
	return fill_addr(family, host, port, ss, len);
}

int
config_parse_resolver(const char *s, struct sockaddr_storage *ss,
                      socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	/* Without a port: a bare address, or a bracketed IPv6 one. */
	if (fill_addr(AF_INET, s, 53, ss, len) == 0 ||
	    fill_addr(AF_INET6, s, 53, ss, len) == 0)
		return 0;
	if (s[0] == '[' && n > 2 && s[n - 1] == ']' && n < sizeof(host)) {
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		return fill_addr(AF_INET6, host, 53, ss, len);
	}
	/* With a port; "*" and an empty host only make sense for a listener */
	if (s[0] == '*' || s[0] == ':')
		return -1;
	return config_parse_address(s, ss, len);
}

/* The wildcard counts as every address of its family, as bind() sees it;
 * IPv4 and IPv6 never clash here, since IPV6_V6ONLY decides that. */
int
config_address_clash(const struct sockaddr_storage *a,
                     const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       (a4->sin_addr.s_addr == b4->sin_addr.s_addr ||
		        a4->sin_addr.s_addr == INADDR_ANY ||
		        b4->sin_addr.s_addr == INADDR_ANY);
	return a6->sin6_port == b6->sin6_port &&
	       (IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr) ||
	        IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
	        IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr));
}

void
config_format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	        {"d", 86400000},
	        {"h", 3600000},
	        {"m", 60000},
	        {"s", 1000},
	};
	size_t i;

	for (i = 0; i < N_ELEMS(units); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s",
			         (unsigned long long)(ms / units[i].ms),
			         units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

void
config_format_size(size_t bytes, char *buf, size_t len)
{
	static const char units[] = "gmk";
	size_t i, unit;

	for (i = 0; i < 3; i++) {
		unit = (size_t)1 << (10 * (3 - i));
		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, len, "%zu%c", bytes / unit, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%zu", bytes);
}
