/*
 * Freeing compiled rules (a failed load, or the master dropping an old
 * generation after a reload).
 */
#include "rules/rules.h"
#include "rules/users.h"

#include <stdlib.h>

static void
free_strings(char **list, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
free_rule(struct rule *rl)
{
	unsigned i;

	cidr_set_free(rl->src);
	cidr_set_free(rl->dst);
	domain_set_free(rl->host);
	domain_set_free(rl->sni);
	free(rl->ports);
	free_strings(rl->methods, rl->n_methods);
	regex_set_free(rl->url);
	for (i = 0; i < rl->n_headers; i++) {
		free(rl->headers[i].name);
		regex_set_free(rl->headers[i].re);
	}
	free(rl->headers);
	free(rl->times);
	free_strings(rl->users, rl->n_users);
	regex_set_free(rl->req_body);
	regex_set_free(rl->resp_body);
	free_strings(rl->ctypes, rl->n_ctypes);
	free(rl->message);
	free(rl->location);
	free(rl->text);
}

void
rules_free(struct rules *r)
{
	unsigned i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free_rule(&r->rule[i]);
	free(r->rule);
	rules_users_free(r->users);
	free(r->block_page);
	free(r);
}
