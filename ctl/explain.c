/*
 * `proxyctl explain URL [--src IP] [--method M] [--sni NAME] [--dst IP]`:
 * evaluates the rules file the running proxyd loaded, the way a worker
 * would, and prints which rule decides and why each earlier rule did not.
 * The rules are compiled again from the file the rules area names; when
 * that file changed since proxyd loaded it, explain says so.
 */
#include "ctl/ctl.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "rules/rules.h"
#include "shm/rules_view.h"

struct explain_args {
	const char *url;
	const char *src;
	const char *method;
	const char *sni;
	const char *dst;
	const char *user;
};

static int
parse_args(int argc, char **argv, struct explain_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->src = "127.0.0.1";
	for (i = 1; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--src")      ? &a->src
		                    : !strcmp(argv[i], "--method") ? &a->method
		                    : !strcmp(argv[i], "--sni")    ? &a->sni
		                    : !strcmp(argv[i], "--dst")    ? &a->dst
		                    : !strcmp(argv[i], "--user")   ? &a->user
		                                                   : NULL;

		if (slot && i + 1 < argc)
			*slot = argv[++i];
		else if (!slot && !a->url && argv[i][0] != '-')
			a->url = argv[i];
		else
			return -1;
	}
	return a->url ? 0 : -1;
}

/* "1.2.3.4" / "::1" into ss; 0 or -1. */
static int
ip_literal(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* The destination as a worker would meet it: --dst, else a lookup. */
static int
destination(const char *host, const char *dst, struct sockaddr_storage *ss)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;

	if (dst)
		return ip_literal(dst, ss);
	if (ip_literal(host, ss) == 0)
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* URL into host, port and whether it is a tunnel: "http://h[:p]/...",
 * "https://h[:p]/..." (a CONNECT) or "h:p" (a CONNECT). */
static int
split_url(const char *url, char *host, size_t cap, uint16_t *port, int *https)
{
	const char *p = url, *end;
	size_t n;

	*https = strncasecmp(url, "http://", 7) != 0;
	if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8))
		p = strchr(url, ':') + 3;
	*port = *https ? 443 : 80;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -1;
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":/?#");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= cap)
		return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	for (char *c = host; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (*end == ':')
		*port = (uint16_t)atoi(end + 1);
	return *port ? 0 : -1;
}

static void
say_changed(const struct shm_rules_view *v)
{
	struct stat st;

	if (stat(v->h->path, &st) < 0 ||
	    (uint64_t)st.st_size != v->h->file_size ||
	    (int64_t)st.st_mtime != v->h->file_mtime)
		printf("note: %s changed since proxyd loaded it; explaining "
		       "the file as it is now (reload to apply it)\n",
		       v->h->path);
}

static void
walk(const struct rules *r, struct rules_scratch *sc,
     const struct rules_request *rq)
{
	const char *why;
	unsigned i;

	for (i = 0; i < r->n; i++) {
		const struct rule *rl = &r->rule[i];

		why = rules_explain_rule(r, sc, rq, i);
		if (*why) {
			printf("rule %u %s (line %d): no match (%s)\n", rl->id,
			       rl->name, rl->line, why);
			continue;
		}
		if (rl->monitor) {
			printf("rule %u %s (line %d): matches; monitor mode: "
			       "counted, not enforced\n",
			       rl->id, rl->name, rl->line);
			continue;
		}
		if (rl->action == RULE_auth && rq->user) {
			printf("rule %u %s (line %d): matches; authenticated "
			       "as %s, so later rules decide\n",
			       rl->id, rl->name, rl->line, rq->user);
			continue;
		}
		printf("rule %u %s (line %d): matches\ndecision: %s (rule "
		       "%s)\n",
		       rl->id, rl->name, rl->line,
		       rules_action_name(rl->action), rl->name);
		return;
	}
	printf("decision: %s (default: no rule matched)\n",
	       rules_action_name(r->default_action));
}

/* Fills rq for the request the arguments describe.  0 or -1. */
static int
describe(const struct explain_args *a, struct rules_request *rq, char *host,
         size_t cap, char *authority, size_t acap, struct sockaddr_storage *src,
         struct sockaddr_storage *dst)
{
	uint16_t port;
	int https;

	if (split_url(a->url, host, cap, &port, &https) < 0 ||
	    ip_literal(a->src, src) < 0) {
		fprintf(stderr, "proxyctl: explain: bad URL or --src\n");
		return -1;
	}
	memset(rq, 0, sizeof(*rq));
	rq->src = (const struct sockaddr *)src;
	rq->host = host;
	rq->port = port;
	rq->https = https;
	rq->method = a->method ? a->method : https ? "CONNECT" : "GET";
	rq->user = a->user;
	if (https) { /* a CONNECT's target is host:port, as a worker sees */
		snprintf(authority, acap, "%s%s%s:%u",
		         strchr(host, ':') ? "[" : "", host,
		         strchr(host, ':') ? "]" : "", (unsigned)port);
		rq->url = authority;
	} else {
		rq->url = a->url;
	}
	rq->url_len = strlen(rq->url);
	if (destination(host, a->dst, dst) == 0)
		rq->dst = (const struct sockaddr *)dst;
	else
		rq->dst_none = 1;
	if (https) { /* a client's ClientHello names the host it asked */
		rq->sni_known = 1;
		rq->sni = a->sni ? a->sni : host;
	}
	return 0;
}

int
ctl_explain(const char *shm_path, int argc, char **argv)
{
	struct sockaddr_storage src, dst;
	struct shm_rules_view v;
	struct explain_args a;
	struct rules_request rq;
	struct rules_scratch *sc;
	struct rules *r;
	char err[4400], host[256], authority[300];
	struct tm now;
	time_t t = time(NULL);
	int rc;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "usage: proxyctl explain URL [--src IP] "
		                "[--method M] [--sni NAME] [--dst IP] "
		                "[--user NAME]\n");
		return 2;
	}
	rc = shm_rules_attach(&v, shm_path, err, sizeof(err));
	if (rc != 0) {
		if (rc > 0)
			printf("no rules loaded: everything the built-in "
			       "policy allows passes\n");
		else
			fprintf(stderr, "proxyctl: %s\n", err);
		return rc > 0 ? 0 : 1;
	}
	say_changed(&v);
	r = rules_load(v.h->path, err, sizeof(err));
	shm_rules_detach(&v);
	if (!r) {
		fprintf(stderr, "proxyctl: %s\n", err);
		return 1;
	}
	if (r->time_zone[0])
		setenv("TZ", r->time_zone, 1);
	localtime_r(&t, &now);
	sc = rules_scratch_new(r);
	rc = sc && describe(&a, &rq, host, sizeof(host), authority,
	                    sizeof(authority), &src, &dst) == 0;
	if (rc) {
		rq.now = &now;
		walk(r, sc, &rq);
	}
	rules_scratch_free(sc);
	rules_free(r);
	return rc ? 0 : 1;
}
