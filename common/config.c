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

_Static_assert(N_ELEMS(keys) <= 64, "loader.seen is a 64-bit set");

/* The state of one load, shared by reader() and handle(). */
struct loader {
	struct config *cfg;
	struct ini_file *ini;         /* the file, its line, its error */
	struct config_listen *listen; /* the [listen] being read */
	enum section sect;
	int sect_line;                    /* its header's line */
	char label[CONFIG_NAME_MAX + 16]; /* "[listen NAME]" for messages */
	uint64_t seen;                    /* keys set in this section */
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
	default:
		abort(); /* a section row without a case here */
	}
}

static void *
field_of(struct loader *ld, const struct key *k)
{
	size_t i = ld->listen ? (size_t)(ld->listen - ld->cfg->listens) : 0;

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

	if (config_parse_mode(v, &mode) < 0)
		return bad(why, n, "mode", v, "forward");
	/* the enum has it so the core can be written for it already */
	if (mode == LISTEN_ADMIN) {
		snprintf(why, n, "admin is set by the [admin] section");
		return -1;
	}
	if (mode == LISTEN_REVERSE) {
		snprintf(why, n, "reverse is not supported yet (only forward)");
		return -1;
	}
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

struct type_def {
	set_fn set;
	fmt_fn fmt;
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
	ld->seen = 0;
	snprintf(ld->label, sizeof(ld->label), "[%s%s%s]", sections[sect].name,
	         name[0] ? " " : "", name);
}

/* The checks a section can only make once all its keys are in. */
static int
section_end(struct loader *ld)
{
	if (ld->sect == SECT_listen &&
	    !(ld->seen & (UINT64_C(1) << KEY_listen_address)))
		return fail(ld, ld->sect_line, "%s: address is required",
		            ld->label);
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

/* [listen NAME]: a new listener with the listen defaults. */
static int
listen_begin(struct loader *ld, const char *name)
{
	struct config *cfg = ld->cfg;
	unsigned i;

	if (name[0] == '\0')
		return fail(ld, ld->ini->line,
		            "[listen] needs a name: [listen NAME]");
	if (!ini_file_valid_name(name, CONFIG_NAME_MAX))
		return fail(ld, ld->ini->line,
		            "bad listen name '%s' (1..63 of A-Z a-z 0-9 _ . -)",
		            name);
	for (i = 0; i < cfg->n_listens; i++)
		if (strcmp(cfg->listens[i].name, name) == 0)
			return fail(ld, ld->ini->line,
			            "duplicate section [listen %s] (first at "
			            "line %d)",
			            name, cfg->listens[i].line);
	if (cfg->n_listens == CONFIG_MAX_LISTENS)
		return fail(ld, ld->ini->line,
		            "too many [listen] sections (max %d)",
		            CONFIG_MAX_LISTENS);
	ld->listen = &cfg->listens[cfg->n_listens++];
	memset(ld->listen, 0, sizeof(*ld->listen));
	strcpy(ld->listen->name, name);
	ld->listen->line = ld->ini->line;
	enter(ld, SECT_listen, name);
	apply_defaults(ld, SECT_listen);
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
		/* listen is the only named kind so far */
		if (sections[i].kind == KIND_named)
			return listen_begin(ld, name);
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
	uint64_t bit;
	char why[384];

	if (ld->sect == SECT_NONE)
		return fail(ld, ld->ini->line, "key '%s' before any [section]",
		            name);
	k = find_key(ld->sect, name);
	if (k == NULL)
		return fail(ld, ld->ini->line, "unknown key '%s' in %s", name,
		            ld->label);
	bit = UINT64_C(1) << (k - keys);
	if (ld->seen & bit)
		return fail(ld, ld->ini->line,
		            "duplicate key '%s' (first at line %d)", name,
		            ld->key_line[k - keys]);
	if (types[k->type].set(ld, k, value, why, sizeof(why)) < 0)
		return fail(ld, ld->ini->line, "%s %s: %s", ld->label, name,
		            why);
	ld->seen |= bit;
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
	if (add_admin_listener(ld) < 0)
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
	char value[1024];

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
	size_t s, i;

	fprintf(out, "; proxyd configuration%s%s\n", cfg->path[0] ? ": " : "",
	        cfg->path);
	for (s = 0; s < N_ELEMS(sections); s++) {
		if (sections[s].kind == KIND_single) {
			dump_section(out, cfg, (enum section)s, 0, "");
			continue;
		}
		/* listen is the only named kind so far; [admin] made its
		 * own listener, dumped above as [admin] */
		for (i = 0; i < cfg->n_listens; i++)
			if (cfg->listens[i].mode != LISTEN_ADMIN)
				dump_section(out, cfg, (enum section)s, i,
				             cfg->listens[i].name);
	}
}
