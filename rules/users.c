/*
 * The proxy users of action = auth: an auth_file of "user:crypt-hash"
 * lines (the format of htpasswd -B or mkpasswd), checked with crypt(3).
 * Hashing is slow on purpose; the worker caches what it verified.
 */
#include "rules/users.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rules_user {
	char *name;
	char *hash;
};

struct rules_users {
	struct rules_user *u;
	unsigned n;
};

static int
add_user(struct rules_users *us, const char *name, size_t len, const char *hash)
{
	struct rules_user *grown = realloc(us->u, (us->n + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	us->u = grown;
	grown[us->n].name = strndup(name, len);
	grown[us->n].hash = strdup(hash);
	if (!grown[us->n].name || !grown[us->n].hash) {
		free(grown[us->n].name);
		free(grown[us->n].hash);
		return -1;
	}
	us->n++;
	return 0;
}

/* One line: 0 added or skipped, -1 with why set. */
static int
parse_line(struct rules_users *us, char *line, char *why, size_t n)
{
	char *colon;
	size_t len = strcspn(line, "\r\n");

	line[len] = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return 0;
	colon = strchr(line, ':');
	if (!colon || colon == line || strpbrk(line, " \t")) {
		snprintf(why, n, "expected user:hash");
		return -1;
	}
	if (colon[1] != '$' || strlen(colon + 1) < 13) {
		snprintf(why, n, "not a crypt(3) hash (mkpasswd -m yescrypt)");
		return -1;
	}
	if (rules_users_find(us, line, (size_t)(colon - line))) {
		snprintf(why, n, "duplicate user");
		return -1;
	}
	if (add_user(us, line, (size_t)(colon - line), colon + 1) < 0) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	return 0;
}

struct rules_users *
rules_users_load(const char *path, char *err, size_t errlen)
{
	struct rules_users *us = calloc(1, sizeof(*us));
	char line[1024], why[128];
	FILE *f = fopen(path, "re");
	int lineno = 0;

	if (!us || !f) {
		snprintf(err, errlen, "%s: %s", path,
		         strerror(f ? ENOMEM : errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (parse_line(us, line, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
	}
	fclose(f);
	return us;
fail:
	if (f)
		fclose(f);
	rules_users_free(us);
	return NULL;
}

void
rules_users_free(struct rules_users *us)
{
	unsigned i;

	if (!us)
		return;
	for (i = 0; i < us->n; i++) {
		free(us->u[i].name);
		free(us->u[i].hash);
	}
	free(us->u);
	free(us);
}

const char *
rules_users_find(const struct rules_users *us, const char *name, size_t len)
{
	unsigned i;

	for (i = 0; us && i < us->n; i++)
		if (strlen(us->u[i].name) == len &&
		    memcmp(us->u[i].name, name, len) == 0)
			return us->u[i].name;
	return NULL;
}

/* The stored name when the password is right, else NULL. */
const char *
rules_users_check(const struct rules_users *us, const char *name, size_t len,
                  const char *password)
{
	struct crypt_data cd;
	const char *out;
	unsigned i;

	for (i = 0; us && i < us->n; i++) {
		if (strlen(us->u[i].name) != len ||
		    memcmp(us->u[i].name, name, len) != 0)
			continue;
		memset(&cd, 0, sizeof(cd));
		out = crypt_r(password, us->u[i].hash, &cd);
		return out && strcmp(out, us->u[i].hash) == 0 ? us->u[i].name
		                                              : NULL;
	}
	return NULL;
}
