/*
 * Value parsers for the reverse-proxy keys of proxyd.ini ([backend],
 * [route] and the reverse keys of [listen]), their printers' names, and
 * the CIDR match the workers use for trusted_proxies.  Like
 * config_value.c, a parser takes the whole value and accepts it only if
 * it understands every byte; config.c adds the file and line.
 */
#include "common/config.h"
#include "common/config_reverse.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const balance_names[] = {
        [BALANCE_ROUNDROBIN] = "roundrobin",
        [BALANCE_LEASTCONN] = "leastconn",
        [BALANCE_HASH] = "hash",
        [BALANCE_RANDOM] = "random",
};

static const char *const send_proxy_names[] = {
        [SEND_PROXY_OFF] = "off",
        [SEND_PROXY_V1] = "v1",
        [SEND_PROXY_V2] = "v2",
};

static const char *const real_ip_names[] = {
        [REAL_IP_OFF] = "off",
        [REAL_IP_X_REAL_IP] = "x-real-ip",
        [REAL_IP_TRUE_CLIENT_IP] = "true-client-ip",
};

int
config_parse_balance(const char *s, enum balance *b)
{
	int i = config_name_lookup(balance_names, N_ELEMS(balance_names), s);

	if (i < 0)
		return -1;
	*b = (enum balance)i;
	return 0;
}

const char *
config_balance_name(enum balance b)
{
	return config_name_of(balance_names, N_ELEMS(balance_names), b);
}

int
config_parse_send_proxy(const char *s, enum send_proxy *p)
{
	int i = config_name_lookup(send_proxy_names, N_ELEMS(send_proxy_names),
	                           s);

	if (i < 0)
		return -1;
	*p = (enum send_proxy)i;
	return 0;
}

const char *
config_send_proxy_name(enum send_proxy p)
{
	return config_name_of(send_proxy_names, N_ELEMS(send_proxy_names), p);
}

int
config_parse_real_ip(const char *s, enum real_ip_header *h)
{
	int i = config_name_lookup(real_ip_names, N_ELEMS(real_ip_names), s);

	if (i < 0)
		return -1;
	*h = (enum real_ip_header)i;
	return 0;
}

const char *
config_real_ip_name(enum real_ip_header h)
{
	return config_name_of(real_ip_names, N_ELEMS(real_ip_names), h);
}

/* An HTTP field name (RFC 9110 token), copied in lower case. */
static int
field_name(const char *s, size_t len, char *out, size_t outlen)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;

	if (len == 0 || len >= outlen)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && !strchr(extra, c))
			return -1;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

int
config_parse_hash_key(const char *s, enum hash_key *k, char *header,
                      size_t hlen)
{
	header[0] = '\0';
	if (strcmp(s, "source") == 0)
		*k = HASH_KEY_SOURCE;
	else if (strcmp(s, "uri") == 0)
		*k = HASH_KEY_URI;
	else if (strncmp(s, "header:", 7) == 0 &&
	         field_name(s + 7, strlen(s + 7), header, hlen) == 0)
		*k = HASH_KEY_HEADER;
	else
		return -1;
	return 0;
}

/* "off", "tcp", or "METHOD /path": a method of capitals and an
 * origin-form target of visible characters. */
int
config_parse_check(const char *s)
{
	const char *sp = strchr(s, ' '), *p;

	if (strcmp(s, "off") == 0 || strcmp(s, "tcp") == 0)
		return 0;
	if (!sp || sp == s || sp[1] != '/')
		return -1;
	for (p = s; p < sp; p++)
		if (!isupper((unsigned char)*p))
			return -1;
	for (p = sp + 1; *p; p++)
		if (!isgraph((unsigned char)*p))
			return -1;
	return 0;
}

static int
status_code(const char *s, size_t len, unsigned *v)
{
	size_t i;

	if (len != 3)
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	*v = (unsigned)strtoul(s, NULL, 10);
	return *v >= 100 && *v <= 599 ? 0 : -1;
}

/* "200", "200-299" or "2xx". */
int
config_parse_status_range(const char *s, unsigned *lo, unsigned *hi)
{
	const char *dash = strchr(s, '-');
	size_t len = strlen(s);

	if (len == 3 && s[0] >= '1' && s[0] <= '5' && s[1] == 'x' &&
	    s[2] == 'x') {
		*lo = (unsigned)(s[0] - '0') * 100;
		*hi = *lo + 99;
		return 0;
	}
	if (!dash)
		return status_code(s, len, lo) < 0 ? -1 : (*hi = *lo, 0);
	if (status_code(s, (size_t)(dash - s), lo) < 0 ||
	    status_code(dash + 1, strlen(dash + 1), hi) < 0 || *hi < *lo)
		return -1;
	return 0;
}

/* HOST:PORT of a server: an IP literal, or a name resolved now (the
 * master reads the configuration before anything runs, and again on
 * reload, as nginx does for names outside a resolver). */
static int
server_address(const char *s, struct config_server *sv, char *why, size_t n)
{
	struct addrinfo hints = {0}, *res = NULL;
	const char *colon = strrchr(s, ':');
	char host[256];
	uint16_t port;
	int rc;

	/* ":80" and "*:80" mean every address to a listener, nothing to
	 * a server */
	if (!colon || colon == s || s[0] == '*' ||
	    (size_t)(colon - s) >= sizeof(host) ||
	    config_parse_port(colon + 1, &port) < 0) {
		snprintf(why, n, "bad server address '%s' (HOST:PORT)", s);
		return -1;
	}
	if (config_parse_address(s, &sv->addr, &sv->addrlen) == 0)
		return 0;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(why, n, "cannot resolve server '%s': %s", host,
		         gai_strerror(rc));
		return -1;
	}
	memcpy(&sv->addr, res->ai_addr, res->ai_addrlen);
	sv->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
server_option(const char *opt, struct config_server *sv, char *why, size_t n)
{
	uint64_t v;

	if (strcmp(opt, "backup") == 0) {
		sv->backup = 1;
		return 0;
	}
	if (strncmp(opt, "weight=", 7) == 0 &&
	    config_parse_uint(opt + 7, &v) == 0 && v >= 1 && v <= 256) {
		sv->weight = (unsigned)v;
		return 0;
	}
	if (strncmp(opt, "max_conns=", 10) == 0 &&
	    config_parse_uint(opt + 10, &v) == 0 && v <= 1000000) {
		sv->max_conns = (unsigned)v;
		return 0;
	}
	if (strcmp(opt, "tls") == 0) {
		sv->tls = 1;
		return 0;
	}
	if (strncmp(opt, "sni=", 4) == 0 && opt[4] &&
	    strlen(opt + 4) < sizeof(sv->sni) &&
	    config_parse_route_host(opt + 4) == 0 && opt[4] != '.') {
		strcpy(sv->sni, opt + 4);
		return 0;
	}
	snprintf(why, n,
	         "bad server option '%s' (weight=1..256, max_conns=N, "
	         "backup, tls, sni=NAME)",
	         opt);
	return -1;
}

int
config_parse_server(const char *s, struct config_server *sv, char *why,
                    size_t n)
{
	char copy[512], *tok, *save = NULL;

	if (strlen(s) >= sizeof(copy)) {
		snprintf(why, n, "server line too long");
		return -1;
	}
	strcpy(copy, s);
	memset(sv, 0, sizeof(*sv));
	sv->weight = 1;
	tok = strtok_r(copy, " \t", &save);
	if (!tok || strlen(tok) >= sizeof(sv->name)) {
		snprintf(why, n, "bad server '%s' (HOST:PORT [options])", s);
		return -1;
	}
	strcpy(sv->name, tok);
	if (server_address(tok, sv, why, n) < 0)
		return -1;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
		if (server_option(tok, sv, why, n) < 0)
			return -1;
	return 0;
}

/* The HOST of a server's HOST:PORT (brackets of an IPv6 literal
 * removed): its TLS name when no sni= is given. */
void
config_server_host(const struct config_server *sv, char *out, size_t n)
{
	const char *colon = strrchr(sv->name, ':');
	const char *start = sv->name;
	size_t len = colon ? (size_t)(colon - sv->name) : strlen(sv->name);

	if (len >= 2 && start[0] == '[' && start[len - 1] == ']') {
		start++;
		len -= 2;
	}
	snprintf(out, n, "%.*s", (int)len, start);
}

/* CERT KEY [ocsp=FILE] */
int
config_parse_certificate(const char *s, struct config_cert *c)
{
	char copy[3 * PATH_MAX], *cert, *key, *opt, *save = NULL;

	if (strlen(s) >= sizeof(copy))
		return -1;
	strcpy(copy, s);
	memset(c, 0, sizeof(*c));
	cert = strtok_r(copy, " \t", &save);
	key = strtok_r(NULL, " \t", &save);
	opt = strtok_r(NULL, " \t", &save);
	if (!cert || !key || strlen(cert) >= sizeof(c->cert) ||
	    strlen(key) >= sizeof(c->key) || strtok_r(NULL, " \t", &save))
		return -1;
	if (opt && (strncmp(opt, "ocsp=", 5) != 0 || !opt[5] ||
	            strlen(opt + 5) >= sizeof(c->ocsp)))
		return -1;
	strcpy(c->cert, cert);
	strcpy(c->key, key);
	if (opt)
		strcpy(c->ocsp, opt + 5);
	return 0;
}

/* "TLSv1.2 TLSv1.3", either or both; older versions are refused. */
int
config_parse_tls_protocols(const char *s, unsigned *mask)
{
	char copy[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(copy))
		return -1;
	strcpy(copy, s);
	*mask = 0;
	for (tok = strtok_r(copy, " ,\t", &save); tok;
	     tok = strtok_r(NULL, " ,\t", &save)) {
		if (strcmp(tok, "TLSv1.2") == 0)
			*mask |= CONFIG_TLS_V12;
		else if (strcmp(tok, "TLSv1.3") == 0)
			*mask |= CONFIG_TLS_V13;
		else
			return -1;
	}
	return *mask ? 0 : -1;
}

int
config_parse_cidr(const char *s, struct config_cidr *c)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned max;

	if (len == 0 || len >= sizeof(ip))
		return -1;
	memcpy(ip, s, len);
	ip[len] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, ip, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	if (!slash)
		prefix = max;
	else if (config_parse_uint(slash + 1, &prefix) < 0 || prefix > max)
		return -1;
	c->prefix = (unsigned)prefix;
	return 0;
}

/* Splits a comma list into trimmed items; fn gets each.  An empty item
 * ("a,,b", a leading or trailing comma) is an error, not skipped. */
static int
each_item(const char *s, int (*fn)(const char *item, void *arg), void *arg)
{
	char copy[512], *tok, *next, *end;

	if (strlen(s) >= sizeof(copy))
		return -1;
	strcpy(copy, s);
	if (!copy[0])
		return 0; /* the empty list */
	for (tok = copy; tok; tok = next) {
		if ((next = strchr(tok, ',')))
			*next++ = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0' || fn(tok, arg) < 0)
			return -1;
	}
	return 0;
}

struct cidr_list {
	struct config_cidr *out;
	unsigned max, n;
};

static int
add_cidr(const char *item, void *arg)
{
	struct cidr_list *l = arg;

	if (l->n == l->max || config_parse_cidr(item, &l->out[l->n]) < 0)
		return -1;
	l->n++;
	return 0;
}

int
config_parse_cidrs(const char *s, struct config_cidr *out, unsigned max,
                   unsigned *n)
{
	struct cidr_list l = {out, max, 0};

	if (each_item(s, add_cidr, &l) < 0)
		return -1;
	*n = l.n;
	return 0;
}

struct name_list {
	char (*out)[64];
	unsigned max, n;
};

static int
add_name(const char *item, void *arg)
{
	struct name_list *l = arg;

	if (l->n == l->max ||
	    field_name(item, strlen(item), l->out[l->n], sizeof(l->out[0])) < 0)
		return -1;
	l->n++;
	return 0;
}

int
config_parse_field_names(const char *s, char (*out)[64], unsigned max,
                         unsigned *n)
{
	struct name_list l = {out, max, 0};

	if (strcmp(s, "off") == 0) {
		*n = 0;
		return 0;
	}
	if (each_item(s, add_name, &l) < 0)
		return -1;
	*n = l.n;
	return 0;
}

/* Upgrade protocols: "off", or a comma list of tokens. */
int
config_parse_upgrade(const char *s)
{
	char names[CONFIG_MAX_HIDE][64];
	unsigned n;

	return config_parse_field_names(s, names, CONFIG_MAX_HIDE, &n);
}

/* A route host: a name of letters, digits, '-', '.', optionally
 * starting with '.', or an IP literal; kept in lower case. */
int
config_parse_route_host(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-.:[]", *p))
			return -1;
	return 0;
}

int
config_parse_route_path(const char *s)
{
	const char *p;

	if (s[0] == '\0')
		return 0;
	if (s[0] != '/')
		return -1;
	for (p = s; *p; p++)
		if (!isgraph((unsigned char)*p))
			return -1;
	return 0;
}

int
config_parse_regex(const char *s, char *why, size_t n)
{
	pcre2_code *re;
	PCRE2_UCHAR msg[128];
	PCRE2_SIZE off;
	int err;

	if (s[0] == '\0')
		return 0;
	re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, &err, &off,
	                   NULL);
	if (re) {
		pcre2_code_free(re);
		return 0;
	}
	pcre2_get_error_message(err, msg, sizeof(msg));
	snprintf(why, n, "bad regex at offset %zu: %s", (size_t)off,
	         (const char *)msg);
	return -1;
}

int
config_cidr_match(const struct config_cidr *c, unsigned n,
                  const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned i, full, rest;
	int family = sa->sa_family;

	if (family == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)
		            ->sin_addr;
	else if (family == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else
		return 0;
	/* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
	if (family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(
	            &((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		family = AF_INET;
		a += 12;
	}
	for (i = 0; i < n; i++) {
		if (c[i].family != family)
			continue;
		full = c[i].prefix / 8;
		rest = c[i].prefix % 8;
		if (memcmp(a, c[i].addr, full) != 0)
			continue;
		if (rest && ((a[full] ^ c[i].addr[full]) &
		             (0xffu << (8 - rest)) & 0xff))
			continue;
		return 1;
	}
	return 0;
}
