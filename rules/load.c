/*
 * Loading rules.ini: [rules] options and one [rule NAME] section per rule,
 * in file order.  Everything is compiled here, in the master, before any
 * worker forks: huge lists are built once and shared copy-on-write.
 * Errors are "file:line: message" and the first one stops the load.
 */
#include "rules/rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ini_file.h"
#include "rules/load.h"

static const char *const action_names[] = {
#define RULE_ACTION(name, help) [RULE_##name] = #name,
#include "common/tbl/rule_actions.h"
};

const char *
rules_action_name(enum rule_action a)
{
	return (unsigned)a < RULE__ACTIONS ? action_names[a] : "?";
}

int
rules_parse_action(const char *v, enum rule_action *a)
{
	unsigned i;

	for (i = 0; i < RULE__ACTIONS; i++)
		if (strcmp(v, action_names[i]) == 0) {
			*a = (enum rule_action)i;
			return 0;
		}
	return -1;
}

/* Grows the rule array by one, zeroed. */
static struct rule *
new_rule(struct rules *r)
{
	struct rule *grown;

	if (r->n == RULES_MAX)
		return NULL;
	grown = realloc(r->rule, (r->n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->rule = grown;
	memset(&r->rule[r->n], 0, sizeof(r->rule[0]));
	r->rule[r->n].id = r->n + 1;
	r->rule[r->n].status = 403;
	return &r->rule[r->n++];
}

static int
rule_begin(struct rules_loader *ld, const char *name)
{
	struct ini_file *f = ld->ini;
	unsigned i;

	if (!ini_file_valid_name(name, RULES_NAME_MAX))
		return ini_file_fail(f, f->line,
		                     "[rule NAME]: NAME is 1..%d of A-Z a-z "
		                     "0-9 _ . -",
		                     RULES_NAME_MAX - 1);
	for (i = 0; i < ld->r->n; i++)
		if (strcmp(ld->r->rule[i].name, name) == 0)
			return ini_file_fail(f, f->line,
			                     "duplicate rule '%s' (first at "
			                     "line %d)",
			                     name, ld->r->rule[i].line);
	if (!(ld->cur = new_rule(ld->r)))
		return ini_file_fail(f, f->line, "too many rules (max %d)",
		                     RULES_MAX);
	snprintf(ld->cur->name, sizeof(ld->cur->name), "%s", name);
	ld->cur->line = f->line;
	return 0;
}

static int
on_section(struct ini_file *f, const char *word, const char *name)
{
	struct rules_loader *ld = f->user;

	ld->ini = f;
	if (ld->cur && rules_rule_end(ld) < 0)
		return -1;
	ld->cur = NULL;
	ld->in_options = 0;
	ld->seen = 0;
	if (strcmp(word, "rule") == 0)
		return rule_begin(ld, name);
	if (strcmp(word, "rules") != 0)
		return ini_file_fail(f, f->line,
		                     "unknown section [%s] ([rules] or "
		                     "[rule NAME])",
		                     word);
	if (name[0] || ld->options_line)
		return ini_file_fail(f, f->line,
		                     name[0] ? "[rules] takes no name"
		                             : "duplicate [rules] section");
	ld->in_options = 1;
	ld->options_line = f->line;
	return 0;
}

static int
on_key(struct ini_file *f, const char *key, const char *value)
{
	struct rules_loader *ld = f->user;

	ld->ini = f;
	if (ld->in_options)
		return rules_option_set(ld, key, value);
	if (!ld->cur)
		return ini_file_fail(f, f->line,
		                     "key '%s' before any [rule NAME]", key);
	return rules_rule_key(ld, key, value);
}

static int
on_end(struct ini_file *f)
{
	struct rules_loader *ld = f->user;

	ld->ini = f;
	return ld->cur ? rules_rule_end(ld) : 0;
}

struct rules *
rules_load(const char *path, char *err, size_t errlen)
{
	struct rules_loader ld = {0};

	if (!(ld.r = calloc(1, sizeof(*ld.r)))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	snprintf(ld.r->path, sizeof(ld.r->path), "%s", path);
	rules_option_defaults(ld.r);
	rules_set_base(path);
	if (ini_file_parse(path, on_section, on_key, on_end, &ld, err, errlen) <
	    0) {
		free(ld.text);
		rules_free(ld.r);
		return NULL;
	}
	free(ld.text);
	return ld.r;
}
