/*
 * Reading the rules area (layout in shm/shm-t.h) that rules/publish.c
 * writes: for proxyctl.  Everything in the file is checked before use.
 */
#ifndef SHM_RULES_VIEW_H
#define SHM_RULES_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "shm/shm-t.h"

struct shm_rules_view {
	const void *base;
	size_t size;
	const struct shm_rules_header *h;
};

/* Maps and validates shm_path + ".rules".  0; 1 when there is none (no
 * rules loaded); -1 with err. */
int shm_rules_attach(struct shm_rules_view *v, const char *shm_path, char *err,
                     size_t errlen);
void shm_rules_detach(struct shm_rules_view *v);
const struct shm_rule *shm_rules_rule(const struct shm_rules_view *v,
                                      unsigned i);
/* A string of the area; "" when the offset is out of bounds. */
const char *shm_rules_str(const struct shm_rules_view *v, uint64_t off);
/* Hits of rule i summed over the rows. */
uint64_t shm_rules_hit_total(const struct shm_rules_view *v, unsigned i);

#endif
