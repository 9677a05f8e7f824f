/*
 * Evaluating rules: in file order, the first rule whose conditions all
 * hold decides; monitor-mode rules are counted and remembered, never
 * obeyed.  Conditions are tried cheapest first, and a condition on
 * something not known yet (the resolved address, the TLS server name)
 * only suspends evaluation when everything else about the rule holds.
 */
#include "rules/rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rules_scratch {
	unsigned n;
	struct regex_scratch *re[]; /* one per regex set (its slot) */
};

struct rules_scratch *
rules_scratch_new(const struct rules *r)
{
	struct rules_scratch *sc;
	const struct rule *rl;
	unsigned i, h;

	sc = calloc(1, sizeof(*sc) + r->n_regex_sets * sizeof(sc->re[0]));
	if (!sc)
		return NULL;
	sc->n = r->n_regex_sets;
	for (i = 0; i < r->n; i++) {
		rl = &r->rule[i];
		if ((rl->url &&
		     !(sc->re[rl->url_slot] = regex_scratch_new(rl->url))) ||
		    (rl->req_body &&
		     !(sc->re[rl->req_body_slot] =
		               regex_scratch_new(rl->req_body))) ||
		    (rl->resp_body &&
		     !(sc->re[rl->resp_body_slot] =
		               regex_scratch_new(rl->resp_body))))
			goto fail;
		for (h = 0; h < rl->n_headers; h++)
			if (!(sc->re[rl->headers[h].slot] =
			              regex_scratch_new(rl->headers[h].re)))
				goto fail;
	}
	return sc;
fail:
	rules_scratch_free(sc);
	return NULL;
}

void
rules_scratch_free(struct rules_scratch *sc)
{
	unsigned i;

	if (!sc)
		return;
	for (i = 0; i < sc->n; i++)
		regex_scratch_free(sc->re[i]);
	free(sc);
}

/* One writer per hit row (its worker): a relaxed load and store, no
 * locked add; readers (proxyctl) never see a torn value. */
static void
count_hit(uint64_t *hits, unsigned i)
{
	if (hits)
		__atomic_store_n(&hits[i],
		                 __atomic_load_n(&hits[i], __ATOMIC_RELAXED) +
		                         1,
		                 __ATOMIC_RELAXED);
}

static int
port_ok(const struct rule *rl, uint16_t port)
{
	unsigned i;

	for (i = 0; i < rl->n_ports; i++)
		if (rl->ports[i] == port)
			return 1;
	return rl->n_ports == 0;
}

static int
method_ok(const struct rule *rl, const char *method)
{
	unsigned i;

	for (i = 0; i < rl->n_methods; i++)
		if (strcmp(rl->methods[i], method) == 0)
			return 1;
	return rl->n_methods == 0;
}

static int
user_ok(const struct rule *rl, const char *user)
{
	unsigned i;

	for (i = 0; user && i < rl->n_users; i++)
		if (strcmp(rl->users[i], user) == 0)
			return 1;
	return rl->n_users == 0;
}

static int
time_ok(const struct rule *rl, const struct tm *now)
{
	unsigned i;

	if (!now) /* no clock given: a time condition cannot hold */
		return rl->n_times == 0;
	for (i = 0; i < rl->n_times; i++)
		if (timewin_match(&rl->times[i], now))
			return 1;
	return rl->n_times == 0;
}

/* Any value of the header matches its pattern list. */
static int
header_ok(const struct rule_header *h, struct rules_scratch *sc,
          const struct rules_request *req)
{
	const char *v;
	size_t len;
	unsigned i;

	for (i = 0; req->header &&
	            (v = req->header(req->header_arg, h->name, i, &len));
	     i++)
		if (regex_set_match(h->re, sc->re[h->slot], v, len) >= 0)
			return 1;
	return 0;
}

static int
headers_ok(const struct rule *rl, struct rules_scratch *sc,
           const struct rules_request *req)
{
	unsigned i;

	for (i = 0; i < rl->n_headers; i++)
		if (!header_ok(&rl->headers[i], sc, req))
			return 0;
	return 1;
}

static int
src_ok(const struct rule *rl, const struct rules_request *req)
{
	return !rl->src || (req->src && cidr_set_match(rl->src, req->src));
}

static int
host_ok(const struct rule *rl, const struct rules_request *req)
{
	return !rl->host || (req->host && domain_set_match(rl->host, req->host,
	                                                   strlen(req->host)));
}

static int
scheme_ok(const struct rule *rl, const struct rules_request *req)
{
	return !rl->schemes || (rl->schemes & (req->https ? 2u : 1u));
}

static int
url_ok(const struct rule *rl, struct rules_scratch *sc,
       const struct rules_request *req)
{
	return !rl->url ||
	       (req->url && regex_set_match(rl->url, sc->re[rl->url_slot],
	                                    req->url, req->url_len) >= 0);
}

/* The known conditions, cheapest first: the name of the first that
 * fails, or NULL when all hold. */
static const char *
first_failing(const struct rule *rl, struct rules_scratch *sc,
              const struct rules_request *req)
{
	if (!src_ok(rl, req))
		return "src";
	if (!port_ok(rl, req->port))
		return "port";
	if (!scheme_ok(rl, req))
		return "scheme";
	if (!method_ok(rl, req->method))
		return "method";
	if (!time_ok(rl, req->now))
		return "time";
	if (!host_ok(rl, req))
		return "host";
	if (!url_ok(rl, sc, req))
		return "url";
	if (!headers_ok(rl, sc, req))
		return "header";
	if (!user_ok(rl, req->user))
		return "user";
	return NULL;
}

/* The conditions that wait for later facts: "" (hold), a failing
 * condition's name, or NULL (not known yet). */
static const char *
late_conditions(const struct rule *rl, const struct rules_request *req)
{
	if (rl->dst) {
		if (!req->dst)
			return req->dst_none ? "dst" : NULL;
		if (!cidr_set_match(rl->dst, req->dst))
			return "dst";
	}
	if (rl->sni) {
		if (!req->https)
			return "sni";
		if (!req->sni_known)
			return NULL;
		if (!req->sni ||
		    !domain_set_match(rl->sni, req->sni, strlen(req->sni)))
			return "sni";
	}
	return "";
}

const char *
rules_explain_rule(const struct rules *r, struct rules_scratch *sc,
                   const struct rules_request *req, unsigned i)
{
	const char *why = first_failing(&r->rule[i], sc, req);

	if (why)
		return why;
	if (r->rule[i].req_body || r->rule[i].resp_body)
		return "a content rule: judged on the body";
	why = late_conditions(&r->rule[i], req);
	return why ? why : "unknown";
}

enum rules_verdict
rules_eval(const struct rules *r, struct rules_scratch *sc,
           const struct rules_request *req, struct rules_state *st,
           uint64_t *hits)
{
	const struct rule *rl;
	const char *late;

	for (; st->next < r->n; st->next++) {
		rl = &r->rule[st->next];
		/* content rules are judged on the body, later */
		if (rl->req_body || rl->resp_body || first_failing(rl, sc, req))
			continue;
		if (!(late = late_conditions(rl, req)))
			return rl->dst && !req->dst ? RULES_NEED_DST
			                            : RULES_NEED_SNI;
		if (*late)
			continue;
		count_hit(hits, st->next);
		if (req->log && req->log->n < RULES_HIT_LOG_MAX)
			req->log->idx[req->log->n++] = st->next;
		else if (req->log)
			req->log->overflow = 1;
		if (rl->monitor) {
			if (!st->monitored)
				st->monitored = rl;
			continue;
		}
		/* auth asks for credentials; once given, later rules decide
		 * (they may name the user) */
		if (rl->action == RULE_auth && req->user)
			continue;
		st->rule = rl;
		st->action = rl->action;
		st->next++;
		return RULES_DECIDED;
	}
	st->rule = NULL;
	st->action = r->default_action;
	return RULES_DECIDED;
}

/* The media type (before any ';') starts with one of the rule's. */
static int
ctype_ok(const struct rule *rl, const char *ctype)
{
	unsigned i;

	for (i = 0; i < rl->n_ctypes; i++)
		if (ctype &&
		    !strncasecmp(ctype, rl->ctypes[i], strlen(rl->ctypes[i])))
			return 1;
	return rl->n_ctypes == 0;
}

/* Content rule i of phase resp applies to this request and type. */
static int
body_rule_applies(const struct rules *r, struct rules_scratch *sc,
                  const struct rules_request *req, unsigned i, int resp,
                  const char *ctype, int check_type)
{
	const struct rule *rl = &r->rule[i];
	const char *late;

	if (!(resp ? rl->resp_body : rl->req_body) ||
	    first_failing(rl, sc, req))
		return 0;
	late = late_conditions(rl, req);
	if (late && *late)
		return 0;
	return !check_type || ctype_ok(rl, ctype);
}

int
rules_body_pending(const struct rules *r, struct rules_scratch *sc,
                   const struct rules_request *req, unsigned upto, int resp,
                   const char *ctype, int check_type)
{
	unsigned i;

	for (i = 0; i < upto && i < r->n; i++)
		if (body_rule_applies(r, sc, req, i, resp, ctype, check_type))
			return 1;
	return 0;
}

const struct rule *
rules_body_match(const struct rules *r, struct rules_scratch *sc,
                 const struct rules_request *req, unsigned upto, int resp,
                 const char *ctype, const char *body, size_t len,
                 uint64_t *hits)
{
	const struct rule *rl;
	unsigned i;

	for (i = 0; i < upto && i < r->n; i++) {
		if (!body_rule_applies(r, sc, req, i, resp, ctype, 1))
			continue;
		rl = &r->rule[i];
		if (regex_set_match(resp ? rl->resp_body : rl->req_body,
		                    sc->re[resp ? rl->resp_body_slot
		                                : rl->req_body_slot],
		                    body, len) < 0)
			continue;
		count_hit(hits, i);
		if (!rl->monitor)
			return rl;
	}
	return NULL;
}
