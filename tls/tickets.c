/*
 * Session-ticket keys shared by every worker.  OpenSSL's own ticket keys
 * are per SSL_CTX, and each worker would end up with its own after a
 * reload or a respawn; a client resuming on another worker would then
 * pay a full handshake.  So the master keeps the keys in one anonymous
 * MAP_SHARED page, inherited by every worker across fork and rotated by
 * the master; the previous key still decrypts (and asks for a new
 * ticket), so a rotation costs no resumption.  Readers use the seqlock.
 */
#include "tls/tls.h"

#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/clock.h"

struct ticket_key {
	unsigned char name[16];
	unsigned char hmac[32];
	unsigned char aes[32];
};

struct ticket_keys {
	uint32_t seq; /* odd while the master writes */
	uint32_t pad;
	uint64_t rotated; /* monotonic seconds */
	struct ticket_key cur;
	struct ticket_key prev;
};

static struct ticket_keys *keys;

static int
fresh_key(struct ticket_key *k)
{
	return RAND_bytes((unsigned char *)k, sizeof(*k)) == 1 ? 0 : -1;
}

int
tls_tickets_init(void)
{
	void *p;

	if (keys)
		return 0;
	p = mmap(NULL, sizeof(*keys), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	keys = p;
	if (fresh_key(&keys->cur) < 0 || fresh_key(&keys->prev) < 0)
		return -1;
	keys->rotated = clock_mono_ms() / 1000;
	return 0;
}

void
tls_tickets_rotate(void)
{
	struct ticket_key next;

	if (!keys ||
	    clock_mono_ms() / 1000 - keys->rotated < TLS_TICKET_ROTATE_S ||
	    fresh_key(&next) < 0)
		return;
	__atomic_store_n(&keys->seq, keys->seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	keys->prev = keys->cur;
	keys->cur = next;
	keys->rotated = clock_mono_ms() / 1000;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&keys->seq, keys->seq + 1, __ATOMIC_RELEASE);
}

/* A consistent copy of both keys. */
static void
snapshot(struct ticket_key *cur, struct ticket_key *prev)
{
	uint32_t a, b;

	do {
		a = __atomic_load_n(&keys->seq, __ATOMIC_ACQUIRE);
		memcpy(cur, &keys->cur, sizeof(*cur));
		memcpy(prev, &keys->prev, sizeof(*prev));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(&keys->seq, __ATOMIC_RELAXED);
	} while ((a & 1) || a != b);
}

static int
init_mac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	static char sha256[] = "SHA256";
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                             sha256, 0);
	params[1] = OSSL_PARAM_construct_end();
	return EVP_MAC_init(hctx, key, 32, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: enc 1 seals a new ticket with the current
 * key; enc 0 opens one with the key its name says (2: with the previous
 * key, so please issue a fresh ticket); 0: unknown key, full handshake. */
static int
ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv,
          EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_key cur, prev, *k;
	int rc = 1;

	(void)s;
	snapshot(&cur, &prev);
	if (enc) {
		k = &cur;
		memcpy(name, k->name, 16);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		                       iv) != 1)
			return -1;
	} else {
		if (memcmp(name, cur.name, 16) == 0)
			k = &cur;
		else if (memcmp(name, prev.name, 16) == 0)
			k = &prev, rc = 2;
		else
			return 0;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		                       iv) != 1)
			return -1;
	}
	if (init_mac(hctx, k->hmac) < 0)
		return -1;
	OPENSSL_cleanse(&cur, sizeof(cur));
	OPENSSL_cleanse(&prev, sizeof(prev));
	return rc;
}

void
tls_tickets_attach(SSL_CTX *ctx)
{
	if (keys)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
}
