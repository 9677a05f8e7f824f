/*
 * Proxy authentication (rules with action = auth): who a request is, from
 * its Proxy-Authorization: Basic credentials checked against the rules'
 * auth_file.  crypt(3) is slow by design, so each worker remembers recent
 * answers (right for a minute, wrong for a few seconds) and a busy client
 * costs one hash, not one per request.
 */
#include "worker/session.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/users.h"
#include "worker/event.h"
#include "worker/worker.h"

#define CACHE_SLOTS 256
#define CACHE_OK_MS 60000
#define CACHE_BAD_MS 5000
#define CRED_MAX 512

struct cached {
	char cred[CRED_MAX]; /* the base64 text as sent */
	char user[64];       /* "" when the credentials were wrong */
	uint64_t expires;
};

static struct cached cache[CACHE_SLOTS];

static unsigned
slot_of(const char *cred, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)cred[i]) * 16777619u;
	return h % CACHE_SLOTS;
}

/* Decodes "user:password" and checks it; the user name or "". */
static void
verify(const char *cred, size_t len, char *user, size_t cap)
{
	unsigned char plain[CRED_MAX];
	const char *colon, *name;
	int n;

	user[0] = '\0';
	n = EVP_DecodeBlock(plain, (const unsigned char *)cred, (int)len);
	if (n <= 0)
		return;
	while (len > 0 && cred[len - 1] == '=' && n > 0) { /* padding */
		n--;
		len--;
	}
	plain[n] = '\0';
	colon = memchr(plain, ':', (size_t)n);
	if (!colon || strlen((const char *)plain) != (size_t)n)
		return;
	name = rules_users_check(worker.rules->users, (const char *)plain,
	                         (size_t)(colon - (const char *)plain),
	                         colon + 1);
	if (name)
		snprintf(user, cap, "%s", name);
}

/* Sets s->user from the request's Proxy-Authorization ("" if none). */
void
proxy_auth_identify(struct session *s)
{
	const char *b = session_head(s), *v;
	const struct http_field *f;
	unsigned from = 0;
	struct cached *c;
	size_t len;

	s->user[0] = '\0';
	if (!worker.rules || !worker.rules->users ||
	    !(f = http_msg_field(&s->req, b, "proxy-authorization", &from)))
		return;
	v = b + f->value.off;
	len = f->value.len;
	if (len < 7 || strncasecmp(v, "Basic ", 6) != 0)
		return;
	v += 6;
	len -= 6;
	if (len >= CRED_MAX)
		return;
	c = &cache[slot_of(v, len)];
	if (c->expires <= event_now() || strlen(c->cred) != len ||
	    memcmp(c->cred, v, len) != 0) {
		memcpy(c->cred, v, len);
		c->cred[len] = '\0';
		verify(v, len, c->user, sizeof(c->user));
		c->expires =
		        event_now() + (c->user[0] ? CACHE_OK_MS : CACHE_BAD_MS);
	}
	snprintf(s->user, sizeof(s->user), "%s", c->user);
}
