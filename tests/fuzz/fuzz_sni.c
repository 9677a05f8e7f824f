/*
 * libFuzzer target for the ClientHello parser (rules/sni.c).  The input is
 * parsed whole and then as its prefixes (every one for short inputs, uneven
 * steps for long ones), each from an exact-size heap copy so that ASan sees
 * any read past len.  A prefix must answer SNI_AGAIN or exactly what the
 * whole input answers (the same name too): a worker that peeks at a
 * growing buffer must never decide differently from one that waited.  A
 * found name must be a clean lower-case host name that fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match.h"

#define NAME_CAP 256
#define CANARY 0x5c

#define check(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct answer {
	enum sni_result rc;
	char name[NAME_CAP + 1]; /* one byte past cap, never written */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *name)
{
	size_t i, n = strnlen(name, NAME_CAP);

	check(n >= 1 && n <= 253);
	check(name[0] != '.' && name[n - 1] != '.');
	for (i = 0; i < n; i++) {
		check((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
		      name[i] == '_' || name[i] == '.');
		check(name[i] != '.' || name[i + 1] != '.');
	}
}

static void
parse(const uint8_t *data, size_t n, struct answer *a)
{
	uint8_t *p = malloc(n > 0 ? n : 1);

	check(p != NULL);
	if (n > 0)
		memcpy(p, data, n);
	memset(a->name, CANARY, sizeof(a->name));
	a->rc = sni_parse(p, n, a->name, NAME_CAP);
	free(p);
	check(a->rc == SNI_FOUND || a->rc == SNI_NONE || a->rc == SNI_AGAIN ||
	      a->rc == SNI_NOT_TLS);
	check((uint8_t)a->name[NAME_CAP] == CANARY);
	if (a->rc == SNI_FOUND)
		check_name(a->name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct answer whole, part;
	uint32_t seed = (uint32_t)size * 2654435761u;
	size_t n = 0;

	parse(data, size, &whole);
	while (n < size) {
		parse(data, n, &part);
		check(part.rc == SNI_AGAIN || part.rc == whole.rc);
		if (part.rc == SNI_FOUND)
			check(strcmp(part.name, whole.name) == 0);
		seed = seed * 1103515245u + 12345u;
		n += size <= 512 ? 1 : 1 + (seed >> 16) % (size / 32);
	}
	return 0;
}
