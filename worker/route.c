/*
 * Reverse routing: which backend serves a request, from the [route]
 * sections in file order (host exact or .suffix, path prefix, path
 * regex), else the listener's default_backend.  Regexes are compiled
 * (and JIT-compiled) once per worker.
 */
#include "worker/route.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static pcre2_code **regex; /* per route, NULL without one */
static pcre2_match_data *match;
static const struct config *routes_cfg;

int
route_init(const struct config *cfg)
{
	unsigned i;
	int err;
	PCRE2_SIZE off;

	routes_cfg = cfg;
	if (cfg->n_routes == 0)
		return 0;
	regex = calloc(cfg->n_routes, sizeof(*regex));
	match = pcre2_match_data_create(1, NULL);
	if (!regex || !match)
		return -1;
	for (i = 0; i < cfg->n_routes; i++) {
		const char *re = cfg->routes[i].path_regex;

		if (!re[0])
			continue;
		/* the loader compiled it already: this cannot fail but
		 * for memory */
		regex[i] = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
		                         0, &err, &off, NULL);
		if (!regex[i])
			return -1;
		(void)pcre2_jit_compile(regex[i], PCRE2_JIT_COMPLETE);
	}
	return 0;
}

void
route_fini(void)
{
	unsigned i;

	if (regex && routes_cfg)
		for (i = 0; i < routes_cfg->n_routes; i++)
			pcre2_code_free(regex[i]);
	free(regex);
	regex = NULL;
	pcre2_match_data_free(match);
	match = NULL;
}

/* host is the request's, lower case, no port; pattern "" matches any,
 * ".example.com" the name and its subdomains. */
static int
host_matches(const char *pattern, const char *host)
{
	size_t hl = strlen(host), pl = strlen(pattern);

	if (!pattern[0])
		return 1;
	if (pattern[0] != '.')
		return strcmp(pattern, host) == 0;
	if (hl == pl - 1 && strcmp(pattern + 1, host) == 0)
		return 1;
	return hl > pl && strcmp(host + hl - pl, pattern) == 0;
}

static int
path_matches(unsigned i, const char *target, size_t len)
{
	const struct config_route *r = &routes_cfg->routes[i];
	size_t pl = strlen(r->path);

	if (pl && (len < pl || memcmp(target, r->path, pl) != 0))
		return 0;
	return !regex || !regex[i] ||
	       pcre2_match(regex[i], (PCRE2_SPTR)target, len, 0, 0, match,
	                   NULL) >= 0;
}

static int
for_listener(const struct config_route *r, const struct config_listen *l)
{
	return r->listen_idx < 0 ||
	       r->listen_idx == (int)(l - routes_cfg->listens);
}

/* strict_host: does any route of this listener name the host? */
static int
host_known(const struct config_listen *l, const char *host)
{
	unsigned i;

	for (i = 0; i < routes_cfg->n_routes; i++) {
		const struct config_route *r = &routes_cfg->routes[i];

		if (for_listener(r, l) && r->host[0] &&
		    host_matches(r->host, host))
			return 1;
	}
	return 0;
}

int
route_find(const struct config_listen *l, const char *host, const char *target,
           size_t len, const struct config_route **out)
{
	unsigned i;

	*out = NULL;
	if (l->strict_host && !host_known(l, host))
		return ROUTE_MISDIRECTED;
	for (i = 0; i < routes_cfg->n_routes; i++) {
		const struct config_route *r = &routes_cfg->routes[i];

		if (for_listener(r, l) && host_matches(r->host, host) &&
		    path_matches(i, target, len)) {
			*out = r;
			return (int)r->backend_idx;
		}
	}
	return l->default_backend[0] ? (int)l->default_backend_idx : ROUTE_NONE;
}
