/*
 * The rules engine's face: load a rules file, evaluate a request.  The
 * rules know nothing about sockets or sessions; the worker describes a
 * request in a struct rules_request and gets a decision back.
 */
#ifndef RULES_RULES_H
#define RULES_RULES_H

#include <sys/types.h>
#include <time.h>

#include "rules/rules-t.h"
#include "shm/shm-t.h"

/* Loads and compiles path.  NULL with err = "file:line: message". */
struct rules *rules_load(const char *path, char *err, size_t errlen);
void rules_free(struct rules *r);
const char *rules_action_name(enum rule_action a);

/* A request as the rules see it.  Unknown parts are NULL/0; a rule that
 * needs one (dst, sni) makes evaluation stop and ask for it. */
/* The rules an evaluation matched, when the caller counts their hits
 * itself (after deciding to use the result). */
#define RULES_HIT_LOG_MAX 16
struct rules_hit_log {
	unsigned n;
	int overflow; /* more than fit: evaluate again with counting */
	uint32_t idx[RULES_HIT_LOG_MAX];
};

struct rules_request {
	const struct sockaddr *src;
	const char *host; /* lower-case, no brackets */
	uint16_t port;
	const char *method; /* as sent */
	int https;          /* a CONNECT tunnel */
	const char *url;    /* absolute URL, or host:port for CONNECT */
	size_t url_len;
	/* request header values: the i-th value of name (case-insensitive),
	 * or NULL; len set */
	const char *(*header)(void *arg, const char *name, unsigned i,
	                      size_t *len);
	void *header_arg;
	const struct sockaddr *dst; /* after DNS, or NULL */
	int dst_none;               /* the name did not resolve: dst
	                             * conditions cannot hold */
	const char *sni;            /* after the ClientHello, or NULL */
	const char *user;           /* authenticated proxy user, or NULL */
	int sni_known;              /* 1 once the ClientHello was read */
	const struct tm *now;       /* in the rules' time zone */
	struct rules_hit_log *log;  /* if set, matches are noted here */
};

/* Per-worker scratch for evaluation (regex match data). */
struct rules_scratch;
struct rules_scratch *rules_scratch_new(const struct rules *r);
void rules_scratch_free(struct rules_scratch *sc);

enum rules_verdict {
	RULES_DECIDED = 0,
	RULES_NEED_DST, /* call again once req->dst is known */
	RULES_NEED_SNI, /* call again once req->sni_known */
};

/* Where evaluation stands: start zeroed; rules_eval resumes from it. */
struct rules_state {
	unsigned next;                /* index of the next rule to try */
	const struct rule *monitored; /* first monitor-mode match */
	const struct rule *rule;      /* deciding rule; NULL = default */
	enum rule_action action;
};

/* Evaluates rules in file order from st->next.  On RULES_DECIDED st->rule
 * and st->action say what to do.  hits (may be NULL) gets +1 for every
 * rule that matched, monitor-mode ones included (index rule id - 1). */
enum rules_verdict rules_eval(const struct rules *r, struct rules_scratch *sc,
                              const struct rules_request *req,
                              struct rules_state *st, uint64_t *hits);

/* Content rules (req_body, resp_body: deny only) before rule index upto
 * (the deciding rule; r->n for the default).  resp picks the phase.
 * pending: 1 if one applies to req (and to ctype when check_type).
 * match: the first that applies and whose pattern matches the whole
 * body, or NULL; monitor-mode ones are counted and passed over. */
int rules_body_pending(const struct rules *r, struct rules_scratch *sc,
                       const struct rules_request *req, unsigned upto, int resp,
                       const char *ctype, int check_type);
const struct rule *rules_body_match(const struct rules *r,
                                    struct rules_scratch *sc,
                                    const struct rules_request *req,
                                    unsigned upto, int resp, const char *ctype,
                                    const char *body, size_t len,
                                    uint64_t *hits);

/* Why rule i did or did not match req, for `proxyctl explain`: "" when it
 * matched, else the first condition that failed ("host", "url", ...). */
const char *rules_explain_rule(const struct rules *r, struct rules_scratch *sc,
                               const struct rules_request *req, unsigned i);

/* rules/publish.c: the rules area next to the shm segment (shm-t.h). */
struct rules_area {
	void *base;
	size_t size;
};
/* Writes r into shm_path + ".rules" with n_rows rows of hit counters
 * (one per worker).  0, or -1 with err. */
int rules_publish(struct rules_area *a, const char *shm_path,
                  const struct rules *r, unsigned n_rows, unsigned generation,
                  gid_t gid, char *err, size_t errlen);
/* Row's hit counters (n rules), or NULL. */
uint64_t *rules_area_hits(const struct rules_area *a, unsigned row);
void rules_area_unmap(struct rules_area *a);
void rules_area_remove(const char *shm_path);

#endif
