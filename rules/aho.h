/*
 * The regex prefilter's internals, private to rules/regex_set.c and its
 * unit suite: an Aho-Corasick automaton that finds many literals in one
 * pass over a subject, and the scan that finds the literal every match of
 * a pattern must contain.  One header for both, as rules/match.h is for
 * the matchers: they are two halves of one job.
 */
#ifndef RULES_AHO_H
#define RULES_AHO_H

#include <stddef.h>
#include <stdint.h>

/* ---- rules/aho.c ---- */

/* Keys are matched ASCII case-insensitively (a key and the text are both
 * folded to lower case), which is what a prefilter for caseless patterns
 * needs; a case-sensitive user checks the hit's bytes itself. */
struct aho;

/* Called for every occurrence of every key: end is the offset of the
 * occurrence's last byte in the text. */
typedef void (*aho_hit_fn)(void *ctx, uint32_t id, size_t end);

struct aho *aho_new(void);
void aho_free(struct aho *a);
/* Adds a key (len >= 1 bytes, any bytes) reported as id; the same key may
 * be added under several ids.  Only before aho_build.  0, or -1 (ENOMEM,
 * or EINVAL for an empty key). */
int aho_add(struct aho *a, const char *key, size_t len, uint32_t id);
/* Builds the automaton once after the last add.  0, or -1 (ENOMEM). */
int aho_build(struct aho *a);
void aho_scan(const struct aho *a, const char *text, size_t len, aho_hit_fn hit,
              void *ctx);
size_t aho_states(const struct aho *a);
size_t aho_memory(const struct aho *a); /* bytes, after aho_build */

/* ---- rules/regex_literal.c ---- */

/* The longest literal kept: longer ones filter no better, and every byte
 * is a state in the automaton. */
#define REGEX_LITERAL_MAX 32
/* Shorter literals occur in too many subjects to be worth a lookup. */
#define REGEX_LITERAL_MIN 3

/* Writes to out (REGEX_LITERAL_MAX bytes, not NUL-terminated) a byte
 * string that every match of pattern contains, as long as a conservative
 * scan of the syntax finds, and returns its length: 0 when there is none
 * (or the scan does not understand the pattern).  *lit_caseless is set
 * when the literal may match in any case (caseless, or an inline (?i)
 * anywhere); such a literal is written in lower case.  pattern must have
 * compiled (the scan assumes valid syntax). */
size_t regex_literal_extract(const char *pattern, int caseless, char *out,
                             int *lit_caseless);

#endif
