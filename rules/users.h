/*
 * Proxy users for action = auth (rules/users.c).
 */
#ifndef RULES_USERS_H
#define RULES_USERS_H

#include <stddef.h>

struct rules_users;

/* "user:crypt-hash" lines; # comments.  NULL with err "file:line: ...". */
struct rules_users *rules_users_load(const char *path, char *err,
                                     size_t errlen);
void rules_users_free(struct rules_users *us);
/* The user's stored name, or NULL. */
const char *rules_users_find(const struct rules_users *us, const char *name,
                             size_t len);
/* The stored name when password is right (crypt(3)), else NULL. */
const char *rules_users_check(const struct rules_users *us, const char *name,
                              size_t len, const char *password);

#endif
