/*
 * The proxyd.ini loader.  Every section and key is a row of
 * common/tbl/config_keys.h; this file turns the rows into arrays and
 * applies them: defaults, dispatch by value type, unknown and duplicate
 * keys, the checks that span keys, and the annotated dump.
 *
 * inih does the tokenising, but Debian's build calls the handler without a
 * line number, cuts section names at 49 bytes, splits a line longer than
 * its 200-byte buffer and glues an indented line onto the previous value.
 * So lines reach it through reader(), which counts them, refuses an
 * over-long one whole, strips leading blanks, and handles [section]
 * headers itself (which is also how an empty [listen x] gets checked).
 * The first error stops the load: reader() then reports end of file.
 */
#include "common/config.h"
#include "common/config_reverse.h"
#include "common/ini_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum section {
#define CONFIG_SECTION(section, st, kind, help) SECT_##section,
#include "common/tbl/config_keys.h"
	SECT_NONE, /* before the first header */
};

enum key_id {
#define CONFIG_KEY(section, st, key, type, min, max, def, help) \
	KEY_##section##_##key,
#include "common/tbl/config_keys.h"
	KEY_COUNT
};

enum kind {
	KIND_single,
	KIND_named,
};

/* How a value's text is read and printed: see types[]. */
enum type {
	T_uint,
	T_size,
	T_duration,
	T_bool,
	T_name,
	T_path,
	T_access_log,
	T_resolver,
	T_workers,
	T_log_level,
	T_address,
	T_mode,
	T_ports,
	T_admin_address,
	T_log_format,
	T_ref,
	T_cidrs,
	T_real_ip,
	T_hide,
	T_server,
	T_balance,
	T_hash_key,
	T_check,
	T_status_range,
	T_send_proxy,
	T_route_host,
	T_route_path,
	T_regex,
	T_upgrade,
	T_certificate,
	T_tls_protocols,
	T_tls_ciphers,
};

/* The C type each value type writes, so that a row naming a member of
 * another type fails to compile instead of scribbling over the struct. */
#define CTYPE_uint unsigned
#define CTYPE_size size_t
#define CTYPE_duration uint64_t
#define CTYPE_bool int
#define CTYPE_name char *
#define CTYPE_path char *
#define CTYPE_access_log char *
#define CTYPE_resolver char *
#define CTYPE_workers unsigned
#define CTYPE_log_level enum log_level
#define CTYPE_address char *
#define CTYPE_mode enum listen_mode
#define CTYPE_ports uint16_t *
#define CTYPE_admin_address char *
#define CTYPE_log_format enum access_log_format
#define CTYPE_ref char *
#define CTYPE_cidrs char *
#define CTYPE_real_ip enum real_ip_header
#define CTYPE_hide char *
#define CTYPE_server unsigned *
#define CTYPE_balance enum balance
#define CTYPE_hash_key char *
#define CTYPE_check char *
#define CTYPE_status_range char *
#define CTYPE_send_proxy enum send_proxy
#define CTYPE_route_host char *
#define CTYPE_route_path char *
#define CTYPE_regex char *
#define CTYPE_upgrade char *
#define CTYPE_certificate char *
#define CTYPE_tls_protocols unsigned
#define CTYPE_tls_ciphers char *

#define CONFIG_KEY(section, st, key, type, min, max, def, help)          \
	_Static_assert(_Generic(((struct st *)0)->key, CTYPE_##type : 1, \
	                        default : 0),                            \
	               "struct " #st " member " #key " is not a " #type);
#include "common/tbl/config_keys.h"

struct section_def {
	const char *name;
	const char *st;
	enum kind kind;
	const char *help;
};

static const struct section_def sections[] = {
#define CONFIG_SECTION(section, st, kind, help) \
	[SECT_##section] = {#section, #st, KIND_##kind, help},
#include "common/tbl/config_keys.h"
};

struct key {
	enum section sect;
	enum type type;
	const char *st;
	const char *name;
	size_t off;
	size_t size;
	const char *min, *max, *def, *help;
};

static const struct key keys[] = {
#define CONFIG_KEY(section, st, key, type, min, max, def, help)   \
	[KEY_##section##_##key] = {SECT_##section,                \
	                           T_##type,                      \
	                           #st,                           \
	                           #key,                          \
	                           offsetof(struct st, key),      \
	                           sizeof(((struct st *)0)->key), \
	                           min,                           \
	                           max,                           \
	                           def,                           \
	                           help},
#include "common/tbl/config_keys.h"
};

/* The state of one load, shared by reader() and handle(). */
struct loader {
	struct config *cfg;
	struct ini_file *ini;           /* the file, its line, its error */
	struct config_listen *listen;   /* the [listen] being read */
	struct config_backend *backend; /* the [backend] being read */
	size_t inst;                    /* its index among its kind */
	enum section sect;
	int sect_line;                    /* its header's line */
	char label[CONFIG_NAME_MAX + 16]; /* "[listen NAME]" for messages */
	unsigned char seen[KEY_COUNT];    /* keys set in this section */
	int key_line[KEY_COUNT];          /* where each was last set */
	int single_line[SECT_NONE];       /* where a single section opened */
};

typedef int (*set_fn)(struct loader *ld, const struct key *k, const char *v,
                      char *why, size_t n);
typedef void (*fmt_fn)(const void *base, const struct key *k, char *buf,
                       size_t n);

/* Errors go through the INI reader: "file:line: message", first wins. */
#define fail(ld, line, ...) ini_file_fail((ld)->ini, (line), __VA_ARGS__)

/* Where a section's struct lives in struct config; i picks the instance
 * of a named section.  The loader and the dump both go through here. */
static size_t
section_off(enum section sect, size_t i)
{
	switch (sect) {
	case SECT_proxyd:
		return 0;
	case SECT_timeouts:
		return offsetof(struct config, timeouts);
	case SECT_admin:
		return offsetof(struct config, admin);
	case SECT_listen:
		return offsetof(struct config, listens) +
		       i * sizeof(struct config_listen);
	case SECT_backend:
		return offsetof(struct config, backends) +
		       i * sizeof(struct config_backend);
	case SECT_route:
		return offsetof(struct config, routes) +
		       i * sizeof(struct config_route);
	default:
		abort(); /* a section row without a case here */
	}
}

static void *
field_of(struct loader *ld, const struct key *k)
{
	size_t i = sections[k->sect].kind == KIND_named ? ld->inst : 0;

	return (char *)ld->cfg + section_off(k->sect, i) + k->off;
}

static const void *
cfield(const void *base, const struct key *k)
{
	return (const char *)base + k->off;
}

/* ---- Setters: parse v into the key's member, or say why not. ---- */

static int
bad(char *why, size_t n, const char *what, const char *v, const char *hint)
{
	snprintf(why, n, "bad %s '%s' (%s)", what, v, hint);
	return -1;
}

/* A numeric type: its parser, and how it is named in errors. */
struct num_kind {
	int (*parse)(const char *s, uint64_t *v);
	const char *what;
	const char *hint;
};

static int
parse_size64(const char *s, uint64_t *v)
{
	size_t bytes;

	if (config_parse_size(s, &bytes) < 0)
		return -1;
	*v = bytes;
	return 0;
}

static const struct num_kind num_uint = {config_parse_uint, "number",
                                         "decimal digits"};
static const struct num_kind num_size = {parse_size64, "size",
                                         "e.g. 512, 32k, 1m, 1g"};
static const struct num_kind num_duration = {config_parse_duration, "duration",
                                             "e.g. 500ms, 10s, 2m, 1h"};

/* Parses v as nk and checks it against the row's bounds, which are
 * written in the same syntax as values. */
static int
number(const struct key *k, const char *v, const struct num_kind *nk,
       uint64_t limit, uint64_t *out, char *why, size_t n)
{
	uint64_t lo = 0, hi = limit;

	if (nk->parse(v, out) < 0)
		return bad(why, n, nk->what, v, nk->hint);
	if ((k->min[0] && nk->parse(k->min, &lo) < 0) ||
	    (k->max[0] && nk->parse(k->max, &hi) < 0))
		abort(); /* a bad bound in the table; the unit tests load it */
	if (*out >= lo && *out <= hi && *out <= limit)
		return 0;
	snprintf(why, n, "%s is out of range (%s..%s)", v, k->min, k->max);
	return -1;
}

static int
set_uint(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	uint64_t x;

	if (number(k, v, &num_uint, UINT_MAX, &x, why, n) < 0)
		return -1;
	*(unsigned *)field_of(ld, k) = (unsigned)x;
	return 0;
}

static int
set_size(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	uint64_t x;

	if (number(k, v, &num_size, SIZE_MAX, &x, why, n) < 0)
		return -1;
	*(size_t *)field_of(ld, k) = (size_t)x;
	return 0;
}

static int
set_duration(struct loader *ld, const struct key *k, const char *v, char *why,
             size_t n)
{
	uint64_t x;

	if (number(k, v, &num_duration, UINT64_MAX, &x, why, n) < 0)
		return -1;
	*(uint64_t *)field_of(ld, k) = x;
	return 0;
}

static int
set_bool(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	int b;

	if (config_parse_bool(v, &b) < 0)
		return bad(why, n, "boolean", v, "on or off");
	*(int *)field_of(ld, k) = b;
	return 0;
}

/* Copies v into a char[] member, within the row's length bounds. */
static int
set_str(struct loader *ld, const struct key *k, const char *v, char *why,
        size_t n)
{
	size_t len = strlen(v);
	uint64_t lo = 0, hi = k->size - 1;

	if ((k->min[0] && config_parse_uint(k->min, &lo) < 0) ||
	    (k->max[0] && config_parse_uint(k->max, &hi) < 0))
		abort(); /* a bad bound in the table */
	if (len == 0 && lo > 0) {
		snprintf(why, n, "must not be empty");
		return -1;
	}
	if (len < lo || len > hi || len >= k->size) {
		snprintf(why, n, "'%.64s' is %s (%s..%llu bytes)", v,
		         len < lo ? "too short" : "too long",
		         k->min[0] ? k->min : "0",
		         (unsigned long long)(hi < k->size ? hi : k->size - 1));
		return -1;
	}
	memcpy(field_of(ld, k), v, len + 1);
	return 0;
}

/* A user or group name: getpwnam() would take almost anything, so refuse
 * only what no name can hold and what would garble /etc/passwd. */
static int
set_name(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	const char *p;

	for (p = v; *p; p++)
		if (!isgraph((unsigned char)*p) || *p == ':' || *p == '/')
			return bad(why, n, "name", v, "no blanks, ':' or '/'");
	return set_str(ld, k, v, why, n);
}

static int
set_path(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	const char *p;

	for (p = v; *p; p++)
		if (iscntrl((unsigned char)*p))
			return bad(why, n, "path", v, "control character");
	return set_str(ld, k, v, why, n);
}

/* "off" is stored as "" so that the worker tests one thing. */
static int
set_access_log(struct loader *ld, const struct key *k, const char *v, char *why,
               size_t n)
{
	if (strcmp(v, "off") == 0) {
		*(char *)field_of(ld, k) = '\0';
		return 0;
	}
	return set_path(ld, k, v, why, n);
}

static int
set_resolver(struct loader *ld, const struct key *k, const char *v, char *why,
             size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (v[0] != '\0' && config_parse_resolver(v, &ss, &len) < 0)
		return bad(why, n, "resolver", v,
		           "IP, IP:PORT, [IPv6] or [IPv6]:PORT");
	return set_str(ld, k, v, why, n);
}

static int
set_workers(struct loader *ld, const struct key *k, const char *v, char *why,
            size_t n)
{
	unsigned w;

	if (config_parse_workers(v, &w) < 0)
		return bad(why, n, "workers", v, "auto or 1..256");
	*(unsigned *)field_of(ld, k) = w;
	return 0;
}

static int
set_log_level(struct loader *ld, const struct key *k, const char *v, char *why,
              size_t n)
{
	enum log_level level;

	if (config_parse_log_level(v, &level) < 0)
		return bad(why, n, "log level", v,
		           "error, warn, info or debug");
	*(enum log_level *)field_of(ld, k) = level;
	return 0;
}

static int
set_log_format(struct loader *ld, const struct key *k, const char *v, char *why,
               size_t n)
{
	enum access_log_format f;

	if (config_parse_log_format(v, &f) < 0)
		return bad(why, n, "access log format", v, "combined or json");
	*(enum access_log_format *)field_of(ld, k) = f;
	return 0;
}

static int
set_mode(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	enum listen_mode mode;

	if (config_parse_mode(v, &mode) < 0 || mode == LISTEN_ADMIN)
		return bad(why, n, "mode", v, "forward or reverse");
	*(enum listen_mode *)field_of(ld, k) = mode;
	return 0;
}

/* [admin] address: "off", or where to serve metrics. */
static int
set_admin_address(struct loader *ld, const struct key *k, const char *v,
                  char *why, size_t n)
{
	struct config_admin *a = &ld->cfg->admin;

	if (strcmp(v, "off") == 0) {
		a->address[0] = '\0';
		a->addrlen = 0;
		return 0;
	}
	if (config_parse_address(v, &a->addr, &a->addrlen) < 0)
		return bad(why, n, "address", v,
		           "off, IP:PORT, [IPv6]:PORT or *:PORT");
	return set_str(ld, k, v, why, n);
}

static void
fmt_admin_address(const void *base, const struct key *k, char *buf, size_t n)
{
	const char *v = cfield(base, k);

	snprintf(buf, n, "%s", v[0] ? v : "off");
}

/* Fills the listen's connect_ports (the row's member) and its count. */
static int
set_ports(struct loader *ld, const struct key *k, const char *v, char *why,
          size_t n)
{
	uint16_t ports[CONFIG_MAX_PORTS];
	unsigned count;

	if (config_parse_ports(v, ports, CONFIG_MAX_PORTS, &count) < 0)
		return bad(why, n, "port list", v,
		           "e.g. 443, 8443: distinct ports 1..65535, at most "
		           "64");
	memcpy(field_of(ld, k), ports, count * sizeof(ports[0]));
	ld->listen->n_connect_ports = count;
	return 0;
}

/* Fills the listen's address (the row's member) and addr/addrlen. */
static int
set_address(struct loader *ld, const struct key *k, const char *v, char *why,
            size_t n)
{
	struct config_listen *l = ld->listen, *other;
	struct sockaddr_storage ss;
	socklen_t len;

	if (config_parse_address(v, &ss, &len) < 0)
		return bad(why, n, "address", v,
		           "IP:PORT, [IPv6]:PORT or *:PORT");
	for (other = ld->cfg->listens; other < l; other++) {
		if (config_address_clash(&ss, &other->addr)) {
			snprintf(why, n,
			         "%s is already used by [listen %s] "
			         "(line %d)",
			         v, other->name, other->line);
			return -1;
		}
	}
	if (set_str(ld, k, v, why, n) < 0)
		return -1;
	l->addr = ss;
	l->addrlen = len;
	return 0;
}

/* ---- Setters of the reverse-proxy keys (parsers: config_reverse.c) ---- */

/* A section name another section refers to; checked at the end. */
static int
set_ref(struct loader *ld, const struct key *k, const char *v, char *why,
        size_t n)
{
	if (v[0] && !ini_file_valid_name(v, CONFIG_NAME_MAX))
		return bad(why, n, "section name", v,
		           "1..63 of A-Z a-z 0-9 _ . -");
	return set_str(ld, k, v, why, n);
}

static int
set_cidrs(struct loader *ld, const struct key *k, const char *v, char *why,
          size_t n)
{
	struct config_listen *l = ld->listen;

	if (config_parse_cidrs(v, l->trusted, CONFIG_MAX_CIDRS, &l->n_trusted) <
	    0)
		return bad(why, n, "CIDR list", v,
		           "e.g. 10.0.0.0/8, ::1; at most 32");
	return set_str(ld, k, v, why, n);
}

static int
set_real_ip(struct loader *ld, const struct key *k, const char *v, char *why,
            size_t n)
{
	if (config_parse_real_ip(v, (enum real_ip_header *)field_of(ld, k)) < 0)
		return bad(why, n, "value", v,
		           "off, x-real-ip or true-client-ip");
	return 0;
}

static int
set_hide(struct loader *ld, const struct key *k, const char *v, char *why,
         size_t n)
{
	struct config_listen *l = ld->listen;

	if (config_parse_field_names(v, l->hide, CONFIG_MAX_HIDE, &l->n_hide) <
	    0)
		return bad(why, n, "field list", v,
		           "off, or field names separated by commas; at "
		           "most 16");
	return set_str(ld, k, v, why, n);
}

/* A `server =` line: one more server of this backend. */
static int
set_server(struct loader *ld, const struct key *k, const char *v, char *why,
           size_t n)
{
	struct config *cfg = ld->cfg;
	struct config_backend *b = ld->backend;
	struct config_server *sv;

	(void)k;
	if (cfg->n_servers == CONFIG_MAX_SERVERS) {
		snprintf(why, n, "too many servers (max %d in all backends)",
		         CONFIG_MAX_SERVERS);
		return -1;
	}
	sv = &cfg->servers[cfg->n_servers];
	if (config_parse_server(v, sv, why, n) < 0)
		return -1;
	sv->backend = (unsigned)ld->inst;
	sv->line = ld->ini->line;
	b->server[b->n_servers++] = cfg->n_servers++;
	return 0;
}

static int
set_balance(struct loader *ld, const struct key *k, const char *v, char *why,
            size_t n)
{
	if (config_parse_balance(v, (enum balance *)field_of(ld, k)) < 0)
		return bad(why, n, "balance", v,
		           "roundrobin, leastconn, hash or random");
	return 0;
}

static int
set_hash_key(struct loader *ld, const struct key *k, const char *v, char *why,
             size_t n)
{
	struct config_backend *b = ld->backend;

	if (config_parse_hash_key(v, &b->hash_kind, b->hash_header,
	                          sizeof(b->hash_header)) < 0)
		return bad(why, n, "hash key", v, "source, uri or header:NAME");
	return set_str(ld, k, v, why, n);
}

static int
set_check(struct loader *ld, const struct key *k, const char *v, char *why,
          size_t n)
{
	if (config_parse_check(v) < 0)
		return bad(why, n, "check", v, "off, tcp, or GET /path");
	return set_str(ld, k, v, why, n);
}

static int
set_status_range(struct loader *ld, const struct key *k, const char *v,
                 char *why, size_t n)
{
	struct config_backend *b = ld->backend;

	if (config_parse_status_range(v, &b->check_status_lo,
	                              &b->check_status_hi) < 0)
		return bad(why, n, "status range", v, "200, 200-299 or 2xx");
	return set_str(ld, k, v, why, n);
}

static int
set_send_proxy(struct loader *ld, const struct key *k, const char *v, char *why,
               size_t n)
{
	if (config_parse_send_proxy(v, (enum send_proxy *)field_of(ld, k)) < 0)
		return bad(why, n, "send_proxy", v, "off, v1 or v2");
	return 0;
}

static int
set_route_host(struct loader *ld, const struct key *k, const char *v, char *why,
               size_t n)
{
	char *p;

	char bare[256];
	size_t len = strlen(v);

	if (config_parse_route_host(v) < 0)
		return bad(why, n, "host", v, "a name, or .suffix");
	/* requests' hosts are kept without an IPv6 literal's brackets */
	if (len >= 2 && len < sizeof(bare) && v[0] == '[' &&
	    v[len - 1] == ']') {
		memcpy(bare, v + 1, len - 2);
		bare[len - 2] = '\0';
		v = bare;
	}
	if (set_str(ld, k, v, why, n) < 0)
		return -1;
	for (p = field_of(ld, k); *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int
set_route_path(struct loader *ld, const struct key *k, const char *v, char *why,
               size_t n)
{
	if (config_parse_route_path(v) < 0)
		return bad(why, n, "path", v, "a prefix starting with /");
	return set_str(ld, k, v, why, n);
}

static int
set_regex(struct loader *ld, const struct key *k, const char *v, char *why,
          size_t n)
{
	if (config_parse_regex(v, why, n) < 0)
		return -1;
	return set_str(ld, k, v, why, n);
}

static int
set_upgrade(struct loader *ld, const struct key *k, const char *v, char *why,
            size_t n)
{
	if (config_parse_upgrade(v) < 0)
		return bad(why, n, "protocol list", v,
		           "off, or tokens such as websocket");
	return set_str(ld, k, v, why, n);
}

/* A `certificate =` line: one more certificate for this listener ("",
 * the default, adds none). */
static int
set_certificate(struct loader *ld, const struct key *k, const char *v,
                char *why, size_t n)
{
	struct config *cfg = ld->cfg;
	struct config_cert *c;

	(void)k;
	if (!v[0])
		return 0;
	if (cfg->n_certs == CONFIG_MAX_CERTS) {
		snprintf(why, n, "too many certificates (max %d)",
		         CONFIG_MAX_CERTS);
		return -1;
	}
	c = &cfg->certs[cfg->n_certs];
	if (config_parse_certificate(v, c) < 0)
		return bad(why, n, "certificate", v, "CERT KEY [ocsp=FILE]");
	c->listen = (unsigned)ld->inst;
	c->line = ld->ini->line;
	cfg->n_certs++;
	return 0;
}

static int
set_tls_protocols(struct loader *ld, const struct key *k, const char *v,
                  char *why, size_t n)
{
	if (config_parse_tls_protocols(v, (unsigned *)field_of(ld, k)) < 0)
		return bad(why, n, "protocol list", v,
		           "TLSv1.2 and/or TLSv1.3; older ones are unsafe");
	return 0;
}

static int
set_tls_ciphers(struct loader *ld, const struct key *k, const char *v,
                char *why, size_t n)
{
	const char *p;

	for (p = v; *p; p++)
		if (!isgraph((unsigned char)*p))
			return bad(why, n, "cipher list", v,
			           "OpenSSL syntax, no blanks");
	return set_str(ld, k, v, why, n);
}

/* ---- Printers, for the dump: the inverse of the setters. ---- */

static void
fmt_uint(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%u", *(const unsigned *)cfield(base, k));
}

static void
fmt_size(const void *base, const struct key *k, char *buf, size_t n)
{
	config_format_size(*(const size_t *)cfield(base, k), buf, n);
}

static void
fmt_duration(const void *base, const struct key *k, char *buf, size_t n)
{
	config_format_duration(*(const uint64_t *)cfield(base, k), buf, n);
}

static void
fmt_bool(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s", *(const int *)cfield(base, k) ? "on" : "off");
}

static void
fmt_str(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s", (const char *)cfield(base, k));
}

static void
fmt_access_log(const void *base, const struct key *k, char *buf, size_t n)
{
	const char *path = cfield(base, k);

	snprintf(buf, n, "%s", path[0] ? path : "off");
}

static void
fmt_log_level(const void *base, const struct key *k, char *buf, size_t n)
{
	const enum log_level *level = cfield(base, k);

	snprintf(buf, n, "%s", config_log_level_name(*level));
}

static void
fmt_log_format(const void *base, const struct key *k, char *buf, size_t n)
{
	const enum access_log_format *f = cfield(base, k);

	snprintf(buf, n, "%s", config_log_format_name(*f));
}

static void
fmt_mode(const void *base, const struct key *k, char *buf, size_t n)
{
	const enum listen_mode *mode = cfield(base, k);

	snprintf(buf, n, "%s", config_listen_mode_name(*mode));
}

/* The listen's connect_ports, as "443, 8443". */
static void
fmt_ports(const void *base, const struct key *k, char *buf, size_t n)
{
	const struct config_listen *l = base;
	size_t used = 0;
	unsigned i;

	(void)k;
	buf[0] = '\0';
	for (i = 0; i < l->n_connect_ports && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%u",
		                         i ? ", " : "", l->connect_ports[i]);
}

static void
fmt_real_ip(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s",
	         config_real_ip_name(
	                 *(const enum real_ip_header *)cfield(base, k)));
}

static void
fmt_balance(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s",
	         config_balance_name(*(const enum balance *)cfield(base, k)));
}

static void
fmt_send_proxy(const void *base, const struct key *k, char *buf, size_t n)
{
	snprintf(buf, n, "%s",
	         config_send_proxy_name(
	                 *(const enum send_proxy *)cfield(base, k)));
}

/* Every server of the backend, one `server =` line each (the dump
 * writes the first "server = "). */
static const struct config *dump_cfg;

static void
fmt_server(const void *base, const struct key *k, char *buf, size_t n)
{
	const struct config_backend *b = base;
	const struct config_server *sv;
	size_t used = 0;
	unsigned i;

	(void)k;
	buf[0] = '\0';
	for (i = 0; i < b->n_servers && used < n; i++) {
		sv = &dump_cfg->servers[b->server[i]];
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
		                         i ? "\nserver = " : "", sv->name);
		if (sv->weight != 1 && used < n)
			used += (size_t)snprintf(buf + used, n - used,
			                         " weight=%u", sv->weight);
		if (sv->max_conns && used < n)
			used += (size_t)snprintf(buf + used, n - used,
			                         " max_conns=%u",
			                         sv->max_conns);
		if (sv->backup && used < n)
			used += (size_t)snprintf(buf + used, n - used,
			                         " backup");
		if (sv->tls && used < n)
			used += (size_t)snprintf(buf + used, n - used, " tls");
		if (sv->sni[0] && used < n)
			used += (size_t)snprintf(buf + used, n - used,
			                         " sni=%s", sv->sni);
	}
}

static void
fmt_certificate(const void *base, const struct key *k, char *buf, size_t n)
{
	const struct config_listen *l = base;
	size_t used = 0;
	unsigned i, listen = (unsigned)(l - dump_cfg->listens);

	(void)k;
	buf[0] = '\0';
	for (i = 0; i < dump_cfg->n_certs && used < n; i++) {
		const struct config_cert *c = &dump_cfg->certs[i];

		if (c->listen != listen)
			continue;
		used += (size_t)snprintf(buf + used, n - used, "%s%s %s%s%s",
		                         used ? "\ncertificate = " : "",
		                         c->cert, c->key,
		                         c->ocsp[0] ? " ocsp=" : "", c->ocsp);
	}
}

static void
fmt_tls_protocols(const void *base, const struct key *k, char *buf, size_t n)
{
	unsigned m = *(const unsigned *)cfield(base, k);

	snprintf(buf, n, "%s%s%s", m & CONFIG_TLS_V12 ? "TLSv1.2" : "",
	         (m & CONFIG_TLS_V12) && (m & CONFIG_TLS_V13) ? " " : "",
	         m & CONFIG_TLS_V13 ? "TLSv1.3" : "");
}

struct type_def {
	set_fn set;
	fmt_fn fmt;
	int repeat; /* each line adds one more (server, certificate) */
};

static const struct type_def types[] = {
        [T_uint] = {set_uint, fmt_uint},
        [T_size] = {set_size, fmt_size},
        [T_duration] = {set_duration, fmt_duration},
        [T_bool] = {set_bool, fmt_bool},
        [T_name] = {set_name, fmt_str},
        [T_path] = {set_path, fmt_str},
        [T_access_log] = {set_access_log, fmt_access_log},
        [T_resolver] = {set_resolver, fmt_str},
        [T_workers] = {set_workers, fmt_uint},
        [T_log_level] = {set_log_level, fmt_log_level},
        [T_address] = {set_address, fmt_str},
        [T_mode] = {set_mode, fmt_mode},
        [T_ports] = {set_ports, fmt_ports},
        [T_admin_address] = {set_admin_address, fmt_admin_address},
        [T_log_format] = {set_log_format, fmt_log_format},
        [T_ref] = {set_ref, fmt_str},
        [T_cidrs] = {set_cidrs, fmt_str},
        [T_real_ip] = {set_real_ip, fmt_real_ip},
        [T_hide] = {set_hide, fmt_str},
        [T_server] = {set_server, fmt_server, 1},
        [T_balance] = {set_balance, fmt_balance},
        [T_hash_key] = {set_hash_key, fmt_str},
        [T_check] = {set_check, fmt_str},
        [T_status_range] = {set_status_range, fmt_str},
        [T_send_proxy] = {set_send_proxy, fmt_send_proxy},
        [T_route_host] = {set_route_host, fmt_str},
        [T_route_path] = {set_route_path, fmt_str},
        [T_regex] = {set_regex, fmt_str},
        [T_upgrade] = {set_upgrade, fmt_str},
        [T_certificate] = {set_certificate, fmt_certificate, 1},
        [T_tls_protocols] = {set_tls_protocols, fmt_tls_protocols},
        [T_tls_ciphers] = {set_tls_ciphers, fmt_str},
};

/* ---- Sections. ---- */

/* Sets every key of sect that has a default.  A default that does not
 * parse, or a row stored outside its section's struct, is a bug in the
 * table, caught the first time any config is built. */
static void
apply_defaults(struct loader *ld, enum section sect)
{
	const struct key *k;
	char why[384];

	for (k = keys; k < keys + N_ELEMS(keys); k++) {
		if (k->sect != sect)
			continue;
		if (strcmp(k->st, sections[sect].st) != 0)
			abort();
		if (k->def != NULL &&
		    types[k->type].set(ld, k, k->def, why, sizeof(why)) < 0)
			abort();
	}
}

static void
enter(struct loader *ld, enum section sect, const char *name)
{
	ld->sect = sect;
	ld->sect_line = ld->ini->line;
	memset(ld->seen, 0, sizeof(ld->seen));
	snprintf(ld->label, sizeof(ld->label), "[%s%s%s]", sections[sect].name,
	         name[0] ? " " : "", name);
}

/* The checks a section can only make once all its keys are in: every
 * key without a default was given. */
static int
section_end(struct loader *ld)
{
	const struct key *k;

	if (ld->sect == SECT_NONE)
		return 0;
	for (k = keys; k < keys + N_ELEMS(keys); k++)
		if (k->sect == ld->sect && k->def == NULL &&
		    !ld->seen[k - keys])
			return fail(ld, ld->sect_line, "%s: %s is required",
			            ld->label, k->name);
	return 0;
}

static int
single_begin(struct loader *ld, enum section sect, const char *name)
{
	if (name[0] != '\0')
		return fail(ld, ld->ini->line, "section [%s] takes no name",
		            sections[sect].name);
	if (ld->single_line[sect] != 0)
		return fail(ld, ld->ini->line,
		            "duplicate section [%s] (first at line %d)",
		            sections[sect].name, ld->single_line[sect]);
	ld->single_line[sect] = ld->ini->line;
	enter(ld, sect, "");
	return 0;
}

/* Where the instances of a named section live in struct config: their
 * count, capacity, and each one's name and header line. */
struct named {
	size_t count; /* offset of the unsigned count */
	unsigned max;
	size_t size;  /* of one instance */
	size_t first; /* offset of instance 0, whose name leads it */
	size_t line;  /* offset of its `int line` in an instance */
};

#define NAMED(arr, n, max, st)                                      \
	(struct named)                                              \
	{                                                           \
		offsetof(struct config, n), max, sizeof(struct st), \
		        offsetof(struct config, arr),               \
		        offsetof(struct st, line)                   \
	}

static struct named
named_of(enum section sect)
{
	switch (sect) {
	case SECT_listen:
		return NAMED(listens, n_listens, CONFIG_MAX_LISTENS,
		             config_listen);
	case SECT_backend:
		return NAMED(backends, n_backends, CONFIG_MAX_BACKENDS,
		             config_backend);
	case SECT_route:
		return NAMED(routes, n_routes, CONFIG_MAX_ROUTES, config_route);
	default:
		abort(); /* a named section without a case here */
	}
}

_Static_assert(offsetof(struct config_listen, name) == 0 &&
                       offsetof(struct config_backend, name) == 0 &&
                       offsetof(struct config_route, name) == 0,
               "a named section's struct starts with its name");

/* [listen NAME], [backend NAME], [route NAME]: a new instance with the
 * section's defaults. */
static int
named_begin(struct loader *ld, enum section sect, const char *name)
{
	struct named nd = named_of(sect);
	const char *word = sections[sect].name;
	char *base = (char *)ld->cfg, *inst;
	unsigned *count = (unsigned *)(base + nd.count), i;

	if (name[0] == '\0')
		return fail(ld, ld->ini->line, "[%s] needs a name: [%s NAME]",
		            word, word);
	if (!ini_file_valid_name(name, CONFIG_NAME_MAX))
		return fail(ld, ld->ini->line,
		            "bad %s name '%s' (1..63 of A-Z a-z 0-9 _ . -)",
		            word, name);
	for (i = 0; i < *count; i++) {
		inst = base + nd.first + i * nd.size;
		if (strcmp(inst, name) == 0)
			return fail(ld, ld->ini->line,
			            "duplicate section [%s %s] (first at "
			            "line %d)",
			            word, name, *(int *)(inst + nd.line));
	}
	if (*count == nd.max)
		return fail(ld, ld->ini->line,
		            "too many [%s] sections (max %u)", word, nd.max);
	ld->inst = (*count)++;
	inst = base + nd.first + ld->inst * nd.size;
	memset(inst, 0, nd.size);
	strcpy(inst, name);
	*(int *)(inst + nd.line) = ld->ini->line;
	ld->listen = sect == SECT_listen ? (struct config_listen *)inst : NULL;
	ld->backend =
	        sect == SECT_backend ? (struct config_backend *)inst : NULL;
	enter(ld, sect, name);
	apply_defaults(ld, sect);
	return 0;
}

static int
section_begin(struct loader *ld, const char *word, const char *name)
{
	size_t i;

	if (section_end(ld) < 0)
		return -1;
	for (i = 0; i < N_ELEMS(sections); i++) {
		if (strcmp(sections[i].name, word) != 0)
			continue;
		if (sections[i].kind == KIND_named)
			return named_begin(ld, (enum section)i, name);
		return single_begin(ld, (enum section)i, name);
	}
	return fail(ld, ld->ini->line, "unknown section [%s%s%s]", word,
	            name[0] ? " " : "", name);
}

/* ---- Keys. ---- */

static const struct key *
find_key(enum section sect, const char *name)
{
	const struct key *k;

	for (k = keys; k < keys + N_ELEMS(keys); k++)
		if (k->sect == sect && strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static int
key_set(struct loader *ld, const char *name, const char *value)
{
	const struct key *k;
	char why[384];

	if (ld->sect == SECT_NONE)
		return fail(ld, ld->ini->line, "key '%s' before any [section]",
		            name);
	k = find_key(ld->sect, name);
	if (k == NULL)
		return fail(ld, ld->ini->line, "unknown key '%s' in %s", name,
		            ld->label);
	/* server and certificate lines repeat: each adds one more */
	if (ld->seen[k - keys] && !types[k->type].repeat)
		return fail(ld, ld->ini->line,
		            "duplicate key '%s' (first at line %d)", name,
		            ld->key_line[k - keys]);
	if (types[k->type].set(ld, k, value, why, sizeof(why)) < 0)
		return fail(ld, ld->ini->line, "%s %s: %s", ld->label, name,
		            why);
	ld->seen[k - keys] = 1;
	ld->key_line[k - keys] = ld->ini->line;
	return 0;
}

/* ---- Loading. ---- */

/* [admin] on: serve it from a listener of its own kind, so binding,
 * reloads and accepting work as for any other listener. */
static int
add_admin_listener(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct config_listen *l;
	unsigned i;

	if (!cfg->admin.address[0])
		return 0;
	for (i = 0; i < cfg->n_listens; i++)
		if (config_address_clash(&cfg->admin.addr,
		                         &cfg->listens[i].addr))
			return fail(ld, ld->key_line[KEY_admin_address],
			            "[admin] address: %s is already used by "
			            "[listen %s]",
			            cfg->admin.address, cfg->listens[i].name);
	if (cfg->n_listens == CONFIG_MAX_LISTENS)
		return fail(ld, ld->key_line[KEY_admin_address],
		            "[admin] address: too many listeners");
	l = &cfg->listens[cfg->n_listens++];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "admin");
	snprintf(l->address, sizeof(l->address), "%s", cfg->admin.address);
	l->addr = cfg->admin.addr;
	l->addrlen = cfg->admin.addrlen;
	l->mode = LISTEN_ADMIN;
	l->line = ld->key_line[KEY_admin_address];
	return 0;
}

/* "syslog:IP:PORT" log targets name a UDP syslog server: check it now,
 * not when the log is first opened. */
static int
check_syslog_target(struct loader *ld, const char *v, const char *key, int line)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strncmp(v, "syslog:", 7) != 0 ||
	    config_parse_address(v + 7, &ss, &len) == 0)
		return 0;
	return fail(ld, line,
	            "[proxyd] %s: bad syslog server '%s' (syslog, or "
	            "syslog:IP:PORT)",
	            key, v + 7);
}

static int
find_backend(const struct config *cfg, const char *name, unsigned *idx)
{
	unsigned i;

	for (i = 0; i < cfg->n_backends; i++)
		if (strcmp(cfg->backends[i].name, name) == 0) {
			*idx = i;
			return 0;
		}
	return -1;
}

static const struct config_listen *
find_listen(const struct config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->n_listens; i++)
		if (strcmp(cfg->listens[i].name, name) == 0)
			return &cfg->listens[i];
	return NULL;
}

/* A reverse listener needs somewhere to send requests. */
static int
listen_has_route(const struct config *cfg, const struct config_listen *l)
{
	unsigned i;

	if (l->default_backend[0])
		return 1;
	for (i = 0; i < cfg->n_routes; i++)
		if (!cfg->routes[i].listen[0] ||
		    strcmp(cfg->routes[i].listen, l->name) == 0)
			return 1;
	return 0;
}

/* TLS keys hang together: a TLS listener has its certificate, and a
 * plain one none. */
static int
finish_tls(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	const struct config_listen *l;
	unsigned i;

	for (l = cfg->listens; l < cfg->listens + cfg->n_listens; l++) {
		if (l->tls && (!l->tls_cert[0] || !l->tls_key[0]))
			return fail(ld, l->line,
			            "[listen %s]: tls = on needs tls_cert and "
			            "tls_key",
			            l->name);
		if (!l->tls &&
		    (l->tls_cert[0] || l->tls_key[0] || l->tls_ocsp[0]))
			return fail(
			        ld, l->line,
			        "[listen %s]: tls_cert, tls_key and tls_ocsp "
			        "need tls = on",
			        l->name);
	}
	for (i = 0; i < cfg->n_backends; i++) {
		const struct config_backend *b = &cfg->backends[i];

		if (!b->tls_client_cert[0] != !b->tls_client_key[0])
			return fail(ld, b->line,
			            "[backend %s]: tls_client_cert and "
			            "tls_client_key go together",
			            b->name);
	}
	for (i = 0; i < cfg->n_certs; i++)
		if (!cfg->listens[cfg->certs[i].listen].tls)
			return fail(ld, cfg->certs[i].line,
			            "[listen %s] certificate: needs tls = on",
			            cfg->listens[cfg->certs[i].listen].name);
	return 0;
}

/* The names sections give each other, once every section is in. */
static int
finish_reverse(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct config_listen *l;
	struct config_route *r;
	const struct config_listen *rl;

	for (l = cfg->listens; l < cfg->listens + cfg->n_listens; l++) {
		if (l->default_backend[0] && l->mode != LISTEN_REVERSE)
			return fail(ld, l->line,
			            "[listen %s] default_backend: only for "
			            "mode = reverse",
			            l->name);
		if (l->default_backend[0] &&
		    find_backend(cfg, l->default_backend,
		                 &l->default_backend_idx) < 0)
			return fail(ld, l->line,
			            "[listen %s] default_backend: no [backend "
			            "%s]",
			            l->name, l->default_backend);
		if (l->mode == LISTEN_REVERSE && !listen_has_route(cfg, l))
			return fail(ld, l->line,
			            "[listen %s]: mode = reverse needs a "
			            "default_backend or a [route]",
			            l->name);
	}
	for (r = cfg->routes; r < cfg->routes + cfg->n_routes; r++) {
		if (find_backend(cfg, r->backend, &r->backend_idx) < 0)
			return fail(ld, r->line,
			            "[route %s] backend: no [backend %s]",
			            r->name, r->backend);
		r->listen_idx = -1;
		if (!r->listen[0])
			continue;
		rl = find_listen(cfg, r->listen);
		if (!rl || rl->mode != LISTEN_REVERSE)
			return fail(ld, r->line,
			            "[route %s] listen: no reverse [listen %s]",
			            r->name, r->listen);
		r->listen_idx = (int)(rl - cfg->listens);
	}
	return 0;
}

/* What can only be checked at the end of the file. */
static int
finish(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	char uri[32], hdr[32];
	int uri_line = ld->key_line[KEY_proxyd_max_uri_size];
	int hdr_line = ld->key_line[KEY_proxyd_max_header_size];

	if (section_end(ld) < 0 ||
	    check_syslog_target(ld, cfg->error_log, "error_log",
	                        ld->key_line[KEY_proxyd_error_log]) < 0 ||
	    check_syslog_target(ld, cfg->access_log, "access_log",
	                        ld->key_line[KEY_proxyd_access_log]) < 0)
		return -1;
	if (cfg->n_listens == 0)
		return fail(ld, 0, "no [listen] section");
	if (finish_reverse(ld) < 0 || finish_tls(ld) < 0 ||
	    add_admin_listener(ld) < 0)
		return -1;
	if (cfg->max_uri_size <= cfg->max_header_size)
		return 0;
	config_format_size(cfg->max_uri_size, uri, sizeof(uri));
	config_format_size(cfg->max_header_size, hdr, sizeof(hdr));
	/* blame whichever of the two was written last */
	if (uri_line >= hdr_line)
		return fail(ld, uri_line,
		            "[proxyd] max_uri_size: %s is larger than "
		            "max_header_size (%s)",
		            uri, hdr);
	return fail(ld, hdr_line,
	            "[proxyd] max_header_size: %s is smaller than "
	            "max_uri_size (%s)",
	            hdr, uri);
}

void
config_defaults(struct config *cfg)
{
	struct loader ld;
	size_t s;

	memset(cfg, 0, sizeof(*cfg));
	memset(&ld, 0, sizeof(ld));
	ld.cfg = cfg;
	/* named sections get theirs as each instance opens */
	for (s = 0; s < N_ELEMS(sections); s++)
		if (sections[s].kind == KIND_single)
			apply_defaults(&ld, (enum section)s);
}

static int
on_section(struct ini_file *f, const char *word, const char *name)
{
	struct loader *ld = f->user;

	ld->ini = f;
	return section_begin(ld, word, name);
}

static int
on_key(struct ini_file *f, const char *name, const char *value)
{
	struct loader *ld = f->user;

	ld->ini = f;
	return key_set(ld, name, value);
}

static int
on_end(struct ini_file *f)
{
	struct loader *ld = f->user;

	ld->ini = f;
	return finish(ld);
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct loader ld;

	config_defaults(cfg);
	if (strlen(path) >= sizeof(cfg->path)) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(cfg->path, path);
	memset(&ld, 0, sizeof(ld));
	ld.cfg = cfg;
	ld.sect = SECT_NONE;
	return ini_file_parse(path, on_section, on_key, on_end, &ld, err,
	                      errlen);
}

/* ---- The dump. ---- */

/* Instance i of sect (named name, or "" for a single section). */
static void
dump_section(FILE *out, const struct config *cfg, enum section sect, size_t i,
             const char *name)
{
	const void *base = (const char *)cfg + section_off(sect, i);
	const struct key *k;
	/* every server line of a backend: 256 lines of up to ~450 bytes */
	static char value[CONFIG_MAX_SERVERS * 512];

	fprintf(out, "\n; %s\n[%s%s%s]\n", sections[sect].help,
	        sections[sect].name, name[0] ? " " : "", name);
	for (k = keys; k < keys + N_ELEMS(keys); k++) {
		if (k->sect != sect)
			continue;
		types[k->type].fmt(base, k, value, sizeof(value));
		fprintf(out, "; %s\n%s = %s\n", k->help, k->name, value);
	}
}

void
config_dump(const struct config *cfg, FILE *out)
{
	struct named nd;
	size_t s, i, n;

	dump_cfg = cfg;
	fprintf(out, "; proxyd configuration%s%s\n", cfg->path[0] ? ": " : "",
	        cfg->path);
	for (s = 0; s < N_ELEMS(sections); s++) {
		if (sections[s].kind == KIND_single) {
			dump_section(out, cfg, (enum section)s, 0, "");
			continue;
		}
		nd = named_of((enum section)s);
		n = *(const unsigned *)((const char *)cfg + nd.count);
		for (i = 0; i < n; i++) {
			/* [admin] made its own listener, dumped as [admin] */
			if (s == SECT_listen &&
			    cfg->listens[i].mode == LISTEN_ADMIN)
				continue;
			dump_section(out, cfg, (enum section)s, i,
			             (const char *)cfg + nd.first +
			                     i * nd.size);
		}
	}
}
