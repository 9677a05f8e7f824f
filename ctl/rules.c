/*
 * `proxyctl rules`: the rules the workers run, read back from the rules
 * area next to the segment (never from rules.ini), with hits summed over
 * the workers.
 */
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>

#include "rules/rules.h"
#include "shm/rules_view.h"

/* The name of an action as stored in the area (out of range: "?"). */
const char *
ctl_action_name(uint32_t a)
{
	return rules_action_name(a < RULE__ACTIONS ? (enum rule_action)a
	                                           : RULE__ACTIONS);
}

static void
print_rules(const struct shm_rules_view *v)
{
	const struct shm_rule *r;
	unsigned i;

	printf("rules from %s (generation %u), default %s\n", v->h->path,
	       v->h->generation, ctl_action_name(v->h->default_action));
	const char *file = strrchr(v->h->path, '/');
	char where[96];

	file = file ? file + 1 : v->h->path;
	printf("%-5s %-20s %-8s %-8s %-18s %10s  %s\n", "id", "name", "action",
	       "mode", "file:line", "hits", "conditions");
	for (i = 0; i < v->h->n_rules; i++) {
		r = shm_rules_rule(v, i);
		snprintf(where, sizeof(where), "%.80s:%u", file, r->line);
		printf("%-5u %-20.64s %-8s %-8s %-18s %10llu  %s\n", r->id,
		       shm_rules_str(v, r->name), ctl_action_name(r->action),
		       r->monitor ? "monitor" : "enforce", where,
		       (unsigned long long)shm_rules_hit_total(v, i),
		       shm_rules_str(v, r->text));
	}
}

int
ctl_rules(const char *shm_path)
{
	struct shm_rules_view v;
	char err[4400];
	int rc = shm_rules_attach(&v, shm_path, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "proxyctl: %s\n", err);
		return 1;
	}
	if (rc > 0) {
		printf("no rules loaded\n");
		return 0;
	}
	print_rules(&v);
	shm_rules_detach(&v);
	return 0;
}
