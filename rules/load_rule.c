/*
 * The keys of a [rule NAME] section (common/tbl/rule_keys.h) and of
 * [rules].  Each key's value is parsed, compiled into the rule's matchers,
 * and appended to the rule's text for `proxyctl rules`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rules/load.h"
#include "rules/users.h"

#define WHY_MAX 512

typedef int set_fn(struct rule *rl, const char *v, char *why, size_t n);

/* The folder of the rules file being loaded: @FILE paths are relative
 * to it, so one rules.ini works in the source tree and once installed.
 * (Loading happens in the master, one file at a time.) */
static char base_dir[4096];

void
rules_set_base(const char *rules_path)
{
	const char *slash = strrchr(rules_path, '/');

	if (!slash)
		snprintf(base_dir, sizeof(base_dir), ".");
	else
		snprintf(base_dir, sizeof(base_dir), "%.*s",
		         (int)(slash - rules_path), rules_path);
	if (!base_dir[0])
		snprintf(base_dir, sizeof(base_dir), "/");
}

/* "@FILE" -> the path to open. */
static const char *
list_path(const char *at, char *out, size_t n)
{
	if (at[1] == '/')
		return at + 1;
	snprintf(out, n, "%s/%s", base_dir, at + 1);
	return out;
}

/* Calls fn on each comma-separated item of v, blanks trimmed. */
static int
each_item(struct rule *rl, const char *v, set_fn *fn, char *why, size_t n)
{
	char item[1024];
	const char *end;
	size_t len;

	while (*v) {
		v += strspn(v, " \t");
		end = v + strcspn(v, ",");
		len = (size_t)(end - v);
		while (len && isblank((unsigned char)v[len - 1]))
			len--;
		if (len == 0 || len >= sizeof(item)) {
			snprintf(why, n, len ? "item too long" : "empty item");
			return -1;
		}
		memcpy(item, v, len);
		item[len] = '\0';
		if (fn(rl, item, why, n) < 0)
			return -1;
		v = *end ? end + 1 : end;
	}
	return 0;
}

static int
add_cidr(struct cidr_set **set, const char *v, char *why, size_t n)
{
	if (!*set && !(*set = cidr_set_new())) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return cidr_set_add(*set, v, why, n);
}

static int
set_src(struct rule *rl, const char *v, char *why, size_t n)
{
	return add_cidr(&rl->src, v, why, n);
}

static int
set_dst(struct rule *rl, const char *v, char *why, size_t n)
{
	rl->needs |= RULE_NEEDS_DST;
	return add_cidr(&rl->dst, v, why, n);
}

static int
add_domain(struct domain_set **set, const char *v, char *why, size_t n)
{
	if (!*set && !(*set = domain_set_new())) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	char path[8192];

	if (v[0] == '@')
		return domain_set_add_file(
		        *set, list_path(v, path, sizeof(path)), why, n);
	return domain_set_add(*set, v, why, n);
}

static int
set_host(struct rule *rl, const char *v, char *why, size_t n)
{
	return add_domain(&rl->host, v, why, n);
}

static int
set_sni(struct rule *rl, const char *v, char *why, size_t n)
{
	rl->needs |= RULE_NEEDS_SNI;
	return add_domain(&rl->sni, v, why, n);
}

static int
set_port(struct rule *rl, const char *v, char *why, size_t n)
{
	char *end;
	unsigned long p = strtoul(v, &end, 10);
	uint16_t *grown;

	if (!isdigit((unsigned char)v[0]) || *end || p < 1 || p > 65535) {
		snprintf(why, n, "bad port '%s' (1..65535)", v);
		return -1;
	}
	grown = realloc(rl->ports, (rl->n_ports + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	rl->ports = grown;
	rl->ports[rl->n_ports++] = (uint16_t)p;
	return 0;
}

/* Appends a copy of v to a string list. */
static int
add_string(char ***list, unsigned *count, const char *v, char *why, size_t n)
{
	char **grown = realloc(*list, (*count + 1) * sizeof(*grown));

	if (grown)
		*list = grown;
	if (!grown || !(grown[*count] = strdup(v))) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	++*count;
	return 0;
}

static int
set_method(struct rule *rl, const char *v, char *why, size_t n)
{
	const char *c;

	for (c = v; *c; c++)
		if (!isalpha((unsigned char)*c) && *c != '-' && *c != '_') {
			snprintf(why, n, "bad method '%s'", v);
			return -1;
		}
	return add_string(&rl->methods, &rl->n_methods, v, why, n);
}

static int
set_scheme(struct rule *rl, const char *v, char *why, size_t n)
{
	if (strcmp(v, "http") == 0)
		rl->schemes |= 1;
	else if (strcmp(v, "https") == 0)
		rl->schemes |= 2;
	else {
		snprintf(why, n, "bad scheme '%s' (http or https)", v);
		return -1;
	}
	return 0;
}

static int
url_regex(struct rule *rl, char *why, size_t n)
{
	if (!rl->url && !(rl->url = regex_set_new())) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- one setter per key of common/tbl/rule_keys.h ---- */

static int
set_url(struct rule *rl, const char *v, char *why, size_t n)
{
	return url_regex(rl, why, n) < 0 ? -1
	                                 : regex_set_add(rl->url, v, 0, why, n);
}

static int
set_url_file(struct rule *rl, const char *v, char *why, size_t n)
{
	char path[8192];

	if (v[0] != '@') {
		snprintf(why, n, "expected @FILE");
		return -1;
	}
	return url_regex(rl, why, n) < 0
	               ? -1
	               : regex_set_add_file(rl->url,
	                                    list_path(v, path, sizeof(path)), 0,
	                                    why, n);
}

static struct rule_header *
header_for(struct rule *rl, const char *name, size_t len)
{
	struct rule_header *h, *grown;
	unsigned i;

	for (i = 0; i < rl->n_headers; i++)
		if (strlen(rl->headers[i].name) == len &&
		    strncasecmp(rl->headers[i].name, name, len) == 0)
			return &rl->headers[i];
	grown = realloc(rl->headers, (rl->n_headers + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	rl->headers = grown;
	h = &grown[rl->n_headers];
	h->name = strndup(name, len);
	h->re = regex_set_new();
	if (!h->name || !h->re) {
		free(h->name);
		regex_set_free(h->re);
		return NULL;
	}
	rl->n_headers++;
	return h;
}

static int
set_header(struct rule *rl, const char *v, char *why, size_t n)
{
	size_t len = strcspn(v, ":");
	struct rule_header *h;
	const char *pat;

	if (v[len] != ':' || len == 0 || strcspn(v, " \t") < len) {
		snprintf(why, n, "expected NAME: PATTERN");
		return -1;
	}
	pat = v + len + 1 + strspn(v + len + 1, " \t");
	if (!(h = header_for(rl, v, len))) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return regex_set_add(h->re, pat, 0, why, n);
}

static int
set_time(struct rule *rl, const char *v, char *why, size_t n)
{
	struct timewin w, *grown;

	if (timewin_parse(v, &w, why, n) < 0)
		return -1;
	grown = realloc(rl->times, (rl->n_times + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	rl->times = grown;
	rl->times[rl->n_times++] = w;
	return 0;
}

static int
body_pattern(struct regex_set **set, const char *v, char *why, size_t n)
{
	if (!*set && !(*set = regex_set_new())) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return regex_set_add(*set, v, 0, why, n);
}

static int
set_req_body(struct rule *rl, const char *v, char *why, size_t n)
{
	return body_pattern(&rl->req_body, v, why, n);
}

static int
set_resp_body(struct rule *rl, const char *v, char *why, size_t n)
{
	return body_pattern(&rl->resp_body, v, why, n);
}

static int
set_content_type(struct rule *rl, const char *v, char *why, size_t n)
{
	if (strpbrk(v, " \t;") || !strchr(v, '/')) {
		snprintf(why, n, "bad media type '%s' (type/ or type/sub)", v);
		return -1;
	}
	return add_string(&rl->ctypes, &rl->n_ctypes, v, why, n);
}

static int
set_user(struct rule *rl, const char *v, char *why, size_t n)
{
	return add_string(&rl->users, &rl->n_users, v, why, n);
}

static int
set_action(struct rule *rl, const char *v, char *why, size_t n)
{
	if (rules_parse_action(v, &rl->action) == 0)
		return 0;
	snprintf(why, n, "bad action '%s' (allow, deny, redirect or auth)", v);
	return -1;
}

static int
set_status(struct rule *rl, const char *v, char *why, size_t n)
{
	char *end;
	unsigned long s = strtoul(v, &end, 10);

	if (!isdigit((unsigned char)v[0]) || *end || s < 400 || s > 599) {
		snprintf(why, n, "bad status '%s' (400..599)", v);
		return -1;
	}
	rl->status = (unsigned)s;
	return 0;
}

static int
set_message(struct rule *rl, const char *v, char *why, size_t n)
{
	if (!(rl->message = strdup(v))) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return 0;
}

static int
set_location(struct rule *rl, const char *v, char *why, size_t n)
{
	if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
	    strpbrk(v, " \t\r\n")) {
		snprintf(why, n, "location must be an http:// or https:// URL");
		return -1;
	}
	if (!(rl->location = strdup(v))) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return 0;
}

static int
set_mode(struct rule *rl, const char *v, char *why, size_t n)
{
	if (strcmp(v, "enforce") && strcmp(v, "monitor")) {
		snprintf(why, n, "bad mode '%s' (enforce or monitor)", v);
		return -1;
	}
	rl->monitor = strcmp(v, "monitor") == 0;
	return 0;
}

/* ---- dispatch, from the table ---- */

enum rule_key {
#define RULE_KEY(key, repeat, list, help) RK_##key,
#include "common/tbl/rule_keys.h"
	RK__COUNT
};

/* A list key's setter takes one item; each_item() walks the list. */
static const struct {
	const char *name;
	int repeat;
	int list;
	set_fn *set;
} rule_keys[] = {
#define RULE_KEY(key, repeat, list, help) \
	[RK_##key] = {#key, repeat, list, set_##key},
#include "common/tbl/rule_keys.h"
};

/* "key = value" lines of the rule, for proxyctl (conditions only). */
static int
append_text(struct rules_loader *ld, const char *key, const char *v)
{
	size_t add = strlen(key) + strlen(v) + 6;
	char *grown = realloc(ld->text, ld->text_len + add);

	if (!grown)
		return -1;
	ld->text = grown;
	ld->text_len += (size_t)snprintf(grown + ld->text_len, add, "%s%s = %s",
	                                 ld->text_len ? "; " : "", key, v);
	return 0;
}

static int
is_condition(enum rule_key k)
{
	return k != RK_action && k != RK_status && k != RK_message &&
	       k != RK_location && k != RK_mode;
}

int
rules_rule_key(struct rules_loader *ld, const char *key, const char *value)
{
	struct ini_file *f = ld->ini;
	char why[WHY_MAX];
	unsigned k;

	for (k = 0; k < RK__COUNT && strcmp(rule_keys[k].name, key); k++)
		;
	if (k == RK__COUNT)
		return ini_file_fail(f, f->line,
		                     "unknown key '%s' in [rule %s]", key,
		                     ld->cur->name);
	if (!rule_keys[k].repeat && (ld->seen & (UINT64_C(1) << k)))
		return ini_file_fail(f, f->line,
		                     "duplicate key '%s' in [rule %s]", key,
		                     ld->cur->name);
	ld->seen |= UINT64_C(1) << k;
	/* an empty list would make the condition hold for every request */
	if (value[0] == '\0')
		return ini_file_fail(f, f->line, "[rule %s] %s: empty value",
		                     ld->cur->name, key);
	if ((rule_keys[k].list
	             ? each_item(ld->cur, value, rule_keys[k].set, why,
	                         sizeof(why))
	             : rule_keys[k].set(ld->cur, value, why, sizeof(why))) < 0)
		return ini_file_fail(f, f->line, "[rule %s] %s: %s",
		                     ld->cur->name, key, why);
	if (is_condition((enum rule_key)k) && append_text(ld, key, value) < 0)
		return ini_file_fail(f, f->line, "out of memory");
	return 0;
}

/* What only the whole rule can tell. */
static const char *
rule_problem(struct rules_loader *ld)
{
	const struct rule *rl = ld->cur;

	if (!(ld->seen & (UINT64_C(1) << RK_action)))
		return "action is required (allow, deny, redirect or auth)";
	if ((rl->req_body || rl->resp_body) && rl->action != RULE_deny)
		return "req_body and resp_body rules can only deny";
	if (rl->n_ctypes && !rl->req_body && !rl->resp_body)
		return "content_type is for rules with req_body or resp_body";
	if ((rl->action == RULE_auth || rl->n_users) && !ld->r->users)
		return "auth and user need [rules] auth_file (before the "
		       "rules)";
	if (rl->action == RULE_redirect && !rl->location)
		return "redirect needs a location";
	if (rl->location && rl->action != RULE_redirect)
		return "location is only for action = redirect";
	if ((ld->seen & (UINT64_C(1) << RK_status)) && rl->action != RULE_deny)
		return "status is only for action = deny";
	return NULL;
}

/* Builds the prefilters; each regex set gets a scratch slot, since a
 * scratch is sized for its set. */
static int
compile_set(struct rules *r, struct regex_set *set, unsigned *slot, char *why,
            size_t n)
{
	if (!set)
		return 0;
	if (regex_set_compile(set, why, n) < 0)
		return -1;
	*slot = r->n_regex_sets++;
	return 0;
}

static int
compile_rule(struct rules *r, struct rule *rl, char *why, size_t n)
{
	unsigned i;

	if (compile_set(r, rl->url, &rl->url_slot, why, n) < 0 ||
	    compile_set(r, rl->req_body, &rl->req_body_slot, why, n) < 0 ||
	    compile_set(r, rl->resp_body, &rl->resp_body_slot, why, n) < 0)
		return -1;
	for (i = 0; i < rl->n_headers; i++)
		if (compile_set(r, rl->headers[i].re, &rl->headers[i].slot, why,
		                n) < 0)
			return -1;
	r->has_req_body |= rl->req_body != NULL;
	r->has_resp_body |= rl->resp_body != NULL;
	return 0;
}

int
rules_rule_end(struct rules_loader *ld)
{
	struct rule *rl = ld->cur;
	const char *problem = rule_problem(ld);
	char why[WHY_MAX];

	if (problem)
		return ini_file_fail(ld->ini, rl->line, "[rule %s]: %s",
		                     rl->name, problem);
	if (compile_rule(ld->r, rl, why, sizeof(why)) < 0)
		return ini_file_fail(ld->ini, rl->line, "[rule %s]: %s",
		                     rl->name, why);
	rl->text = ld->text ? ld->text : strdup("");
	ld->text = NULL;
	ld->text_len = 0;
	return rl->text ? 0 : ini_file_fail(ld->ini, 0, "out of memory");
}

/* ---- [rules] ---- */

static int
allow_deny(const char *v, int *deny)
{
	if (strcmp(v, "allow") && strcmp(v, "deny"))
		return -1;
	*deny = strcmp(v, "deny") == 0;
	return 0;
}

static int
opt_default(struct rules *r, const char *v)
{
	int deny;

	if (allow_deny(v, &deny) < 0)
		return -1;
	r->default_action = deny ? RULE_deny : RULE_allow;
	return 0;
}

static int
opt_sni_mismatch(struct rules *r, const char *v)
{
	return allow_deny(v, &r->sni_mismatch_deny);
}

static int
opt_sni_missing(struct rules *r, const char *v)
{
	return allow_deny(v, &r->sni_missing_deny);
}

/* Loads the users now: a bad file is a load error with its line. */
static int
opt_auth_file(struct rules *r, const char *v)
{
	char path[8192], err[512];

	rules_users_free(r->users);
	r->users = NULL;
	if (!v[0])
		return 0;
	if (v[0] != '/')
		snprintf(path, sizeof(path), "%s/%s", base_dir, v);
	else
		snprintf(path, sizeof(path), "%s", v);
	if (!(r->users = rules_users_load(path, err, sizeof(err)))) {
		snprintf(r->option_error, sizeof(r->option_error), "%s", err);
		return -1;
	}
	return 0;
}

static int
opt_body_scan_limit(struct rules *r, const char *v)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (!isdigit((unsigned char)v[0]))
		return -1;
	if (*end == 'k' || *end == 'm')
		n <<= *end++ == 'k' ? 10 : 20;
	if (*end || n < 512 || n > (64ULL << 20))
		return -1;
	r->body_scan_limit = (size_t)n;
	return 0;
}

static int
opt_body_scan_overflow(struct rules *r, const char *v)
{
	return allow_deny(v, &r->body_overflow_deny);
}

/* Read now: a worker never touches the disk to answer. */
static int
opt_block_page(struct rules *r, const char *v)
{
	char path[8192];
	FILE *f;
	size_t n;

	free(r->block_page);
	r->block_page = NULL;
	if (!v[0])
		return 0;
	snprintf(path, sizeof(path), "%s%s%s", v[0] == '/' ? "" : base_dir,
	         v[0] == '/' ? "" : "/", v);
	if (!(f = fopen(path, "re")) || !(r->block_page = calloc(1, 16384))) {
		snprintf(r->option_error, sizeof(r->option_error), "%.500s: %s",
		         path, f ? "out of memory" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	n = fread(r->block_page, 1, 16383, f);
	if (!feof(f) || memchr(r->block_page, 0, n))
		snprintf(r->option_error, sizeof(r->option_error),
		         "%.500s: over 16 KiB or not text", path);
	fclose(f);
	return r->option_error[0] ? -1 : 0;
}

static int
opt_auth_realm(struct rules *r, const char *v)
{
	if (strpbrk(v, "\"\\\r\n") || strlen(v) >= sizeof(r->auth_realm))
		return -1;
	snprintf(r->auth_realm, sizeof(r->auth_realm), "%s", v);
	return 0;
}

/* A zone name as in /usr/share/zoneinfo ("UTC", "Europe/Paris"). */
static int
opt_time_zone(struct rules *r, const char *v)
{
	char path[256];

	if (v[0] && (strstr(v, "..") || v[0] == '/' ||
	             snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s",
	                      v) >= (int)sizeof(path) ||
	             access(path, R_OK) != 0))
		return -1;
	snprintf(r->time_zone, sizeof(r->time_zone), "%s", v);
	return 0;
}

static const struct {
	const char *name;
	const char *def;
	int (*set)(struct rules *r, const char *v);
} options[] = {
#define RULES_OPTION(key, def, help) {#key, def, opt_##key},
#include "common/tbl/rules_options.h"
};

void
rules_option_defaults(struct rules *r)
{
	unsigned i;

	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (options[i].set(r, options[i].def) < 0)
			abort(); /* a bad default in the table */
}

int
rules_option_set(struct rules_loader *ld, const char *key, const char *value)
{
	struct ini_file *f = ld->ini;
	unsigned i, n = sizeof(options) / sizeof(options[0]);

	for (i = 0; i < n && strcmp(options[i].name, key); i++)
		;
	if (i == n)
		return ini_file_fail(f, f->line, "unknown key '%s' in [rules]",
		                     key);
	if (ld->seen & (UINT64_C(1) << i))
		return ini_file_fail(f, f->line,
		                     "duplicate key '%s' in [rules]", key);
	ld->seen |= UINT64_C(1) << i;
	ld->r->option_error[0] = '\0';
	if (options[i].set(ld->r, value) == 0)
		return 0;
	if (ld->r->option_error[0]) /* the option said why */
		return ini_file_fail(f, f->line, "[rules] %s: %s", key,
		                     ld->r->option_error);
	return ini_file_fail(f, f->line, "[rules] %s: bad value '%s'", key,
	                     value);
}
