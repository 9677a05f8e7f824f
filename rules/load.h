/*
 * The rules loader's private state, shared by rules/load.c (sections and
 * files) and rules/load_rule.c (the keys of a rule and of [rules]).
 */
#ifndef RULES_LOAD_H
#define RULES_LOAD_H

#include "common/ini_file.h"
#include "rules/rules.h"

struct rules_loader {
	struct rules *r;
	struct ini_file *ini;
	struct rule *cur; /* the [rule] being read, or NULL */
	int in_options;   /* in [rules] */
	int options_line; /* where [rules] was, 0 if not yet */
	uint64_t seen;    /* keys given in this section */
	char *text;       /* the current rule's conditions as written */
	size_t text_len;
};

int rules_rule_key(struct rules_loader *ld, const char *key, const char *value);
int rules_rule_end(struct rules_loader *ld);
int rules_option_set(struct rules_loader *ld, const char *key,
                     const char *value);
int rules_parse_action(const char *v, enum rule_action *a);
void rules_option_defaults(struct rules *r);
void rules_set_base(const char *rules_path);

#endif
