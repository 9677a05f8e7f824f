/*
 * Where the worker meets the rules engine: describing a request to it at
 * each point more becomes known (the head; each resolved address before
 * connecting; the TLS server name in a tunnel), and carrying out what it
 * decides: allow, deny with a block page, or redirect.
 */
#include "worker/session.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/stats.h"
#include "worker/worker.h"

/* The i-th value of a request header, for header = conditions. */
static const char *
header_value(void *arg, const char *name, unsigned i, size_t *len)
{
	struct session *s = arg;
	const char *b = session_head(s);
	const struct http_field *f = NULL;
	unsigned from = 0;

	do {
		f = http_msg_field(&s->req, b, name, &from);
	} while (f && i-- > 0);
	if (!f)
		return NULL;
	*len = f->value.len;
	return b + f->value.off;
}

static const struct tm *
now_tm(void)
{
	static struct tm tm;
	static time_t at;
	time_t t = time(NULL);

	if (t != at) {
		localtime_r(&t, &tm); /* TZ is the rules' time zone */
		at = t;
	}
	return &tm;
}

/* The request as the rules see it. */
void
access_rules_describe(struct session *s, struct rules_request *rq, char *method,
                      size_t cap)
{
	const char *b = session_head(s);
	const struct http_span *m = &s->req.method_name;

	snprintf(method, cap, "%.*s", (int)m->len, b + m->off);
	memset(rq, 0, sizeof(*rq));
	rq->src = (const struct sockaddr *)&s->peer;
	rq->host = s->host;
	rq->port = s->port;
	rq->method = method;
	rq->https = s->tunnel;
	rq->url = b + s->req.target.off;
	rq->url_len = s->req.target.len;
	rq->header = header_value;
	rq->header_arg = s;
	rq->now = now_tm();
	rq->user = s->user[0] ? s->user : NULL;
	if (s->sni_known) {
		rq->sni_known = 1;
		rq->sni = s->sni[0] ? s->sni : NULL;
	}
}

/* What goes in the access log: the deciding rule, or the monitor-mode
 * rule that matched when the default decided. */
static void
note(struct session *s, const struct rules_state *st)
{
	if (st->rule) {
		s->rule_name = st->rule->name;
		s->rule_action = rules_action_name(st->action);
	} else if (st->monitored) {
		s->rule_name = st->monitored->name;
		s->rule_action = "monitor";
	} else {
		s->rule_name = "default";
		s->rule_action = rules_action_name(st->action);
	}
	if (st->monitored && st->rule)
		log_info("rule %s (monitor) matched %s:%u; %s decided",
		         st->monitored->name, s->host, (unsigned)s->port,
		         st->rule->name);
}

/* Carries out a decision: 0 to go on, -1 when the answer was sent. */
static int
apply(struct session *s, const struct rules_state *st)
{
	note(s, st);
	if (st->action == RULE_allow) {
		STATS_INC(rules_allowed);
		return 0;
	}
	STATS_INC(rules_denied);
	if (st->action == RULE_redirect)
		http_redirect_send(s, st->rule->location);
	else if (st->action == RULE_auth)
		http_auth_send(s, worker.rules->auth_realm);
	else
		http_block_send(s, st->rule);
	return -1;
}

static enum rules_verdict
eval_hits(struct session *s, struct rules_state *st, const struct sockaddr *dst,
          uint64_t *hits, struct rules_hit_log *log)
{
	struct rules_request rq;
	char method[32];

	access_rules_describe(s, &rq, method, sizeof(method));
	rq.dst = dst;
	rq.dst_none = s->dst_none;
	rq.log = log;
	return rules_eval(worker.rules, worker.rules_scratch, &rq, st, hits);
}

static enum rules_verdict
eval(struct session *s, struct rules_state *st, const struct sockaddr *dst)
{
	return eval_hits(s, st, dst, worker.rule_hits, NULL);
}

/* Counts the hits an evaluation noted, now that its result is used. */
static void
count_logged(const struct rules_hit_log *log)
{
	uint64_t *h = worker.rule_hits;
	unsigned i;

	for (i = 0; i < log->n; i++)
		__atomic_store_n(
		        &h[log->idx[i]],
		        __atomic_load_n(&h[log->idx[i]], __ATOMIC_RELAXED) + 1,
		        __ATOMIC_RELAXED);
}

int
access_rules_request(struct session *s)
{
	s->rule_name = s->rule_action = NULL;
	s->rverdict = RULES_DECIDED;
	if (!worker.rules)
		return 0;
	memset(&s->rstate, 0, sizeof(s->rstate));
	proxy_auth_identify(s);
	s->rverdict = eval(s, &s->rstate, NULL);
	s->rpre = s->rstate; /* where each address's judgement starts */
	s->dst_pending = s->rverdict == RULES_NEED_DST;
	return s->rverdict == RULES_DECIDED ? apply(s, &s->rstate) : 0;
}

int
access_rules_address(struct session *s, const struct sockaddr *dst)
{
	struct rules_hit_log log = {0};
	struct rules_state st;
	enum rules_verdict v;

	if (!worker.rules || !s->dst_pending)
		return 0;
	/* every address is judged afresh (a fallback one too); hits are
	 * counted once, for the address used or the refusal answered */
	st = s->rpre;
	v = eval_hits(s, &st, dst, NULL, &log);
	if (v == RULES_DECIDED && st.action != RULE_allow) {
		s->rdenied = s->rpre;
		s->rdenied_addr =
		        *(const struct sockaddr_storage *)(const void *)dst;
		s->has_denial = 1;
		return 1; /* try the next address */
	}
	if (log.overflow) { /* rare: many monitor rules matched */
		st = s->rpre;
		v = eval(s, &st, dst);
	} else {
		count_logged(&log);
	}
	s->rstate = st;
	s->rverdict = v;
	return v == RULES_DECIDED ? apply(s, &s->rstate) : 0;
}

/* Every address was refused by a rule: answer as the rule says. */
int
access_rules_refuse(struct session *s)
{
	if (!s->has_denial)
		return 0;
	(void)eval(s, &s->rdenied, (const struct sockaddr *)&s->rdenied_addr);
	(void)apply(s, &s->rdenied);
	return 1;
}

/* Names equal but for case and a trailing dot ("a.test." is "a.test"). */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Built-in tunnel checks: the SNI must name the CONNECT host (else it is
 * domain fronting), and a ClientHello may need to carry one. */
static const char *
sni_refusal(struct session *s)
{
	const struct rules *r = worker.rules;

	if (s->sni[0] && r->sni_mismatch_deny && !sock_is_ip_literal(s->host) &&
	    !same_name(s->sni, s->host))
		return "sni_mismatch";
	if (!s->sni[0] && r->sni_missing_deny)
		return "sni_missing";
	return NULL;
}

/* The address connected to, or NULL before the upstream connection. */
static const struct sockaddr *
connected_to(struct session *s)
{
	return s->up_addr.ss_family ? (const struct sockaddr *)&s->up_addr
	                            : NULL;
}

/* A decision reached inside a tunnel: 1 when it refuses (after the 200
 * only closing is left). */
static int
sni_decided(struct session *s, const struct rules_state *st)
{
	note(s, st);
	if (st->action == RULE_allow) {
		STATS_INC(rules_allowed);
		return 0;
	}
	STATS_INC(rules_denied);
	return 1;
}

/* host rules apply to the server name too: a tunnel to an IP address
 * (or another name) must not reach a refused host by its SNI. */
static int
host_rules_on_sni(struct session *s)
{
	char host[SESSION_HOST_MAX];
	struct rules_state st;

	if (!s->sni[0] || same_name(s->sni, s->host))
		return 0;
	snprintf(host, sizeof(host), "%s", s->host);
	snprintf(s->host, sizeof(s->host), "%s", s->sni);
	memset(&st, 0, sizeof(st));
	if (eval(s, &st, connected_to(s)) == RULES_DECIDED &&
	    st.action != RULE_allow && sni_decided(s, &st)) {
		snprintf(s->host, sizeof(s->host), "%s", host);
		return -1;
	}
	snprintf(s->host, sizeof(s->host), "%s", host);
	return 0;
}

int
access_rules_sni(struct session *s)
{
	const char *refusal;

	if (!worker.rules)
		return 0;
	s->sni_known = 1;
	if ((refusal = sni_refusal(s)) != NULL) {
		s->rule_name = refusal;
		s->rule_action = "deny";
		STATS_INC(rules_denied);
		return -1;
	}
	if (s->rverdict == RULES_NEED_SNI) {
		s->rverdict = eval(s, &s->rstate, connected_to(s));
		if (s->rverdict == RULES_NEED_DST) { /* judged per address */
			s->rpre = s->rstate;
			s->dst_pending = 1;
		}
		if (s->rverdict == RULES_DECIDED && sni_decided(s, &s->rstate))
			return -1;
	}
	return host_rules_on_sni(s);
}

/* The name did not resolve: rules waiting for its address cannot match,
 * and a later rule may still refuse the request (better than a 502). */
int
access_rules_unresolved(struct session *s)
{
	if (!worker.rules || s->rverdict != RULES_NEED_DST)
		return 0;
	s->dst_none = 1;
	s->rverdict = eval(s, &s->rstate, NULL);
	if (s->rverdict != RULES_DECIDED || s->rstate.action == RULE_allow)
		return 0;
	return apply(s, &s->rstate) < 0;
}
