/*
 * The compiled rules: built by rules_load() in the master before fork,
 * then read-only and shared copy-on-write by the workers.
 */
#ifndef RULES_RULES_T_H
#define RULES_RULES_T_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rules/match.h"

#define RULES_NAME_MAX 64
#define RULES_MAX 100000

enum rule_action {
#define RULE_ACTION(name, help) RULE_##name,
#include "common/tbl/rule_actions.h"
	RULE__ACTIONS
};

/* What a condition needs to be known; evaluation waits for it. */
#define RULE_NEEDS_DST 0x1 /* the resolved address */
#define RULE_NEEDS_SNI 0x2 /* the TLS server name in a tunnel */

/* A request header condition: NAME: PATTERN. */
struct rule_header {
	char *name;
	struct regex_set *re;
	unsigned slot; /* its regex scratch in a rules_scratch */
};

struct rule {
	unsigned id; /* 1.. in file order */
	char name[RULES_NAME_MAX];
	int line; /* of the [rule NAME] header */
	enum rule_action action;
	int monitor;     /* count and log, never enforce */
	unsigned status; /* deny: 403 unless set */
	char *message;   /* deny: shown on the block page */
	char *location;  /* redirect */
	unsigned needs;  /* RULE_NEEDS_* */
	/* conditions: NULL / 0 = absent (always holds) */
	struct cidr_set *src;
	struct cidr_set *dst;
	struct domain_set *host;
	struct domain_set *sni;
	uint16_t *ports;
	unsigned n_ports;
	char **methods; /* as written, matched exactly */
	unsigned n_methods;
	unsigned schemes; /* bit 0 http, bit 1 https; 0 = any */
	struct regex_set *url;
	unsigned url_slot; /* its regex scratch */
	struct rule_header *headers;
	unsigned n_headers;
	struct timewin *times;
	unsigned n_times;
	char **users;
	unsigned n_users;
	/* content: deny rules only; judged on the whole (decoded) body */
	struct regex_set *req_body;
	unsigned req_body_slot;
	struct regex_set *resp_body;
	unsigned resp_body_slot;
	char **ctypes; /* content_type prefixes; 0 = any */
	unsigned n_ctypes;
	char *text; /* the conditions as written */
};

struct rules {
	char path[4096];
	struct rule *rule;
	unsigned n;
	enum rule_action default_action; /* [rules] default = deny */
	int sni_mismatch_deny;           /* [rules] sni_mismatch = deny */
	int sni_missing_deny;            /* [rules] sni_missing = allow */
	char time_zone[64];              /* [rules] time_zone; "" = local */
	char auth_realm[64];             /* [rules] auth_realm */
	char *block_page;                /* [rules] block_page, read in */
	size_t body_scan_limit;          /* [rules] body_scan_limit */
	int body_overflow_deny;          /* [rules] body_scan_overflow */
	int has_req_body;                /* some rule reads request bodies */
	int has_resp_body;               /* some rule reads response bodies */
	struct rules_users *users;       /* [rules] auth_file, or NULL */
	char option_error[600];          /* why an option was refused */
	unsigned n_regex_sets;           /* scratch slots a worker needs */
};

#endif
