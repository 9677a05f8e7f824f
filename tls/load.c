/*
 * Building the TLS contexts from proxyd.ini, in the master, before any
 * worker exists: certificates and keys are read while the master still
 * has the rights to (keys may be readable by root only), and every
 * problem is a "file:line: message" at start-up, at `proxyd -t` and at a
 * reload (which then keeps the running certificates).
 *
 * Checked per certificate: the chain loads, the key loads and matches,
 * the leaf is valid now (not expired, not yet valid is refused; expiring
 * within 30 days is a warning), and the chain is in order (each
 * certificate issued by the next).
 */
#include "tls/tls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/log.h"

#define WARN_DAYS 30
#define OCSP_MAX (64 * 1024)

static const unsigned char alpn_http11[] = "\x08http/1.1";

/* The reason OpenSSL gave for the last failure, and clears its queue. */
static const char *
ssl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		snprintf(buf, n, "unknown error");
	else
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}

/* ALPN: we speak HTTP/1.1; a client offering only others (h2) goes on
 * without ALPN, which every client takes as HTTP/1.1. */
static int
alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
        const unsigned char *in, unsigned inlen, void *arg)
{
	unsigned char *sel;

	(void)s;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_http11,
	                          sizeof(alpn_http11) - 1, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Staples the certificate's OCSP response when the client asks. */
static int
status_cb(SSL *s, void *arg)
{
	const struct tls_cert *c = arg;
	unsigned char *copy;

	if (!c || !c->ocsp)
		return SSL_TLSEXT_ERR_NOACK;
	if (!(copy = OPENSSL_malloc(c->ocsp_len)))
		return SSL_TLSEXT_ERR_NOACK;
	memcpy(copy, c->ocsp, c->ocsp_len);
	SSL_set_tlsext_status_ocsp_resp(s, copy, (long)c->ocsp_len);
	return SSL_TLSEXT_ERR_OK;
}

/* The host_name of a ClientHello's server_name extension, or "". */
static void
hello_sni(SSL *s, char *name, size_t n)
{
	const unsigned char *p;
	size_t len, list, nlen;

	name[0] = '\0';
	if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len) ||
	    len < 5)
		return;
	list = (size_t)p[0] << 8 | p[1];
	nlen = (size_t)p[3] << 8 | p[4];
	if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name ||
	    nlen + 5 > len || nlen == 0 || nlen >= n)
		return;
	memcpy(name, p + 5, nlen);
	name[nlen] = '\0';
}

/* The certificate is chosen here, at the very start of the handshake:
 * before OpenSSL decides whether a session resumes, so that a session is
 * only resumed under the certificate (and listener: each context has
 * its own session id context) it was made under (RFC 6066 3). */
static int
client_hello_cb(SSL *s, int *alert, void *arg)
{
	const struct tls_listener *l = arg;
	const struct tls_cert *c;
	char name[256];

	(void)alert;
	hello_sni(s, name, sizeof(name));
	c = tls_cert_for(l, name[0] ? name : NULL);
	if (c->ctx != SSL_get_SSL_CTX(s))
		SSL_set_SSL_CTX(s, c->ctx);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* SNI: the certificate was chosen in client_hello_cb; this only tells
 * OpenSSL to acknowledge the name. */
static int
servername_cb(SSL *s, int *alert, void *arg)
{
	(void)s;
	(void)alert;
	(void)arg;
	return SSL_TLSEXT_ERR_OK;
}

static int
configure(SSL_CTX *ctx, const struct config_listen *l, const char *file,
          char *err, size_t n)
{
	char why[256];

	SSL_CTX_set_min_proto_version(ctx, (l->tls_protocols & CONFIG_TLS_V12)
	                                           ? TLS1_2_VERSION
	                                           : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, (l->tls_protocols & CONFIG_TLS_V13)
	                                           ? TLS1_3_VERSION
	                                           : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                 SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (l->tls_ciphers[0] &&
	    SSL_CTX_set_cipher_list(ctx, l->tls_ciphers) != 1) {
		snprintf(err, n, "%s:%d: [listen %s] tls_ciphers: %s", file,
		         l->line, l->name, ssl_reason(why, sizeof(why)));
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	/* resumption by tickets only: a per-worker session cache would
	 * miss whenever another worker accepts the next connection */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	tls_tickets_attach(ctx);
	return 0;
}

static int
read_ocsp(struct tls_cert *c, const char *path, char *why, size_t n)
{
	FILE *f = fopen(path, "rb");
	size_t got;

	if (!f) {
		snprintf(why, n, "%s: cannot open", path);
		return -1;
	}
	c->ocsp = malloc(OCSP_MAX);
	got = c->ocsp ? fread(c->ocsp, 1, OCSP_MAX, f) : 0;
	fclose(f);
	if (got == 0 || got == OCSP_MAX) {
		snprintf(why, n, "%s: empty or larger than 64k", path);
		return -1;
	}
	c->ocsp_len = got;
	return 0;
}

/* The leaf is valid now; warns when it ends soon. */
static int
check_dates(X509 *x, const char *path, char *why, size_t n)
{
	time_t soon = time(NULL) + (time_t)WARN_DAYS * 86400;

	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		snprintf(why, n, "%s: certificate not valid yet", path);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		snprintf(why, n, "%s: certificate expired", path);
		return -1;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &soon) < 0)
		log_warn("%s: certificate expires within %d days", path,
		         WARN_DAYS);
	return 0;
}

/* Leaf first, then each certificate's issuer. */
static int
check_chain(SSL_CTX *ctx, X509 *leaf, const char *path, char *why, size_t n)
{
	STACK_OF(X509) *chain = NULL;
	X509 *prev = leaf;
	int i;

	SSL_CTX_get0_chain_certs(ctx, &chain);
	for (i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_check_issued(x, prev) != X509_V_OK) {
			snprintf(why, n,
			         "%s: chain out of order: certificate %d does "
			         "not issue certificate %d (leaf first, then "
			         "each issuer)",
			         path, i + 2, i + 1);
			return -1;
		}
		prev = x;
	}
	return 0;
}

static int
load_cert(struct tls_cert *c, const struct config_listen *l,
          const struct config_cert *cc, char *why, size_t n)
{
	char reason[256];
	X509 *leaf;

	if (!(c->ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(why, n, "%s", ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cc->cert) != 1) {
		snprintf(why, n, "%s: cannot load the certificate chain: %s",
		         cc->cert, ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, cc->key, SSL_FILETYPE_PEM) !=
	    1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(why, n,
			         "%s does not match the certificate %s (is the "
			         "leaf certificate first in the file?)",
			         cc->key, cc->cert);
			return -1;
		}
		snprintf(why, n, "%s: cannot load the private key: %s", cc->key,
		         ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		ERR_clear_error();
		snprintf(why, n, "%s does not match the certificate %s",
		         cc->key, cc->cert);
		return -1;
	}
	leaf = SSL_CTX_get0_certificate(c->ctx);
	if (check_dates(leaf, cc->cert, why, n) < 0 ||
	    check_chain(c->ctx, leaf, cc->cert, why, n) < 0 ||
	    (cc->ocsp[0] && read_ocsp(c, cc->ocsp, why, n) < 0))
		return -1;
	if (tls_cert_names(leaf, &c->names, &c->n_names) < 0) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	(void)l;
	SSL_CTX_set_tlsext_status_cb(c->ctx, status_cb);
	SSL_CTX_set_tlsext_status_arg(c->ctx, c);
	return 0;
}

static void
free_listener(struct tls_listener *t)
{
	unsigned i, j;

	if (!t)
		return;
	for (i = 0; i < t->n_certs; i++) {
		SSL_CTX_free(t->certs[i].ctx);
		for (j = 0; j < t->certs[i].n_names; j++)
			free(t->certs[i].names[j]);
		free(t->certs[i].names);
		free(t->certs[i].ocsp);
	}
	free(t->certs);
	free(t);
}

static unsigned
certs_of(const struct config *cfg, unsigned li)
{
	unsigned i, n = 1; /* tls_cert */

	for (i = 0; i < cfg->n_certs; i++)
		n += cfg->certs[i].listen == li;
	return n;
}

static struct tls_listener *
load_listener(const struct config *cfg, unsigned li, char *err, size_t n)
{
	const struct config_listen *l = &cfg->listens[li];
	struct tls_listener *t = calloc(1, sizeof(*t));
	struct config_cert def = {.listen = li, .line = l->line};
	unsigned want = certs_of(cfg, li), i;
	char why[2 * PATH_MAX + 512] = "";
	int line;

	snprintf(def.cert, sizeof(def.cert), "%s", l->tls_cert);
	snprintf(def.key, sizeof(def.key), "%s", l->tls_key);
	snprintf(def.ocsp, sizeof(def.ocsp), "%s", l->tls_ocsp);
	if (!t || !(t->certs = calloc(want, sizeof(*t->certs)))) {
		snprintf(err, n, "%s: out of memory", cfg->path);
		free(t);
		return NULL;
	}
	for (i = 0; t->n_certs < want; i++) {
		const struct config_cert *cc =
		        t->n_certs == 0 ? &def : &cfg->certs[i - 1];

		if (t->n_certs > 0 && cc->listen != li)
			continue;
		line = cc->line;
		if (load_cert(&t->certs[t->n_certs++], l, cc, why,
		              sizeof(why)) < 0 ||
		    configure(t->certs[t->n_certs - 1].ctx, l, cfg->path, err,
		              n) < 0) {
			if (why[0]) /* else configure() wrote err */
				snprintf(err, n, "%s:%d: [listen %s] %s: %s",
				         cfg->path, line, l->name,
				         t->n_certs == 1 ? "tls_cert"
				                         : "certificate",
				         why);
			free_listener(t);
			return NULL;
		}
		why[0] = '\0';
	}
	/* each certificate of each listener its own session id context:
	 * tickets are sealed with keys all share, and a session must not
	 * resume under another certificate or on another listener */
	for (i = 0; i < t->n_certs; i++) {
		char sid[SSL_MAX_SID_CTX_LENGTH];
		int len = snprintf(sid, sizeof(sid), "proxyd/%u/%u", li, i);

		SSL_CTX_set_session_id_context(t->certs[i].ctx,
		                               (const unsigned char *)sid,
		                               (unsigned)len);
	}
	/* the first context sees the ClientHello and picks by SNI */
	SSL_CTX_set_client_hello_cb(t->certs[0].ctx, client_hello_cb, t);
	SSL_CTX_set_tlsext_servername_callback(t->certs[0].ctx, servername_cb);
	return t;
}

static struct tls_backend *
load_backend(const struct config *cfg, unsigned bi, char *err, size_t n)
{
	const struct config_backend *b = &cfg->backends[bi];
	struct tls_backend *t = calloc(1, sizeof(*t));
	char reason[256];
	const char *what = NULL, *path = "";

	if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method()))) {
		free(t);
		snprintf(err, n, "%s: out of memory", cfg->path);
		return NULL;
	}
	t->verify = b->tls_verify;
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_protos(t->ctx, alpn_http11, sizeof(alpn_http11) - 1);
	SSL_CTX_set_verify(t->ctx,
	                   b->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	                   NULL);
	if (b->tls_ca[0] &&
	    SSL_CTX_load_verify_locations(t->ctx, b->tls_ca, NULL) != 1)
		what = "tls_ca", path = b->tls_ca;
	else if (!b->tls_ca[0] && SSL_CTX_set_default_verify_paths(t->ctx) != 1)
		what = "tls_ca", path = "(system store)";
	else if (b->tls_client_cert[0] &&
	         (SSL_CTX_use_certificate_chain_file(t->ctx,
	                                             b->tls_client_cert) != 1 ||
	          SSL_CTX_use_PrivateKey_file(t->ctx, b->tls_client_key,
	                                      SSL_FILETYPE_PEM) != 1 ||
	          SSL_CTX_check_private_key(t->ctx) != 1))
		what = "tls_client_cert", path = b->tls_client_cert;
	if (what) {
		snprintf(err, n, "%s:%d: [backend %s] %s: %s: %s", cfg->path,
		         b->line, b->name, what, path,
		         ssl_reason(reason, sizeof(reason)));
		SSL_CTX_free(t->ctx);
		free(t);
		return NULL;
	}
	SSL_CTX_set_session_cache_mode(
	        t->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	return t;
}

static int
backend_has_tls(const struct config *cfg, unsigned bi)
{
	unsigned j;

	for (j = 0; j < cfg->backends[bi].n_servers; j++)
		if (cfg->servers[cfg->backends[bi].server[j]].tls)
			return 1;
	return 0;
}

int
tls_load(const struct config *cfg, struct tls_set **out, char *err,
         size_t errlen)
{
	struct tls_set *t;
	unsigned i, used = 0;

	*out = NULL;
	for (i = 0; i < cfg->n_listens; i++)
		used |= (unsigned)cfg->listens[i].tls;
	for (i = 0; i < cfg->n_backends; i++)
		used |= (unsigned)backend_has_tls(cfg, i);
	if (!used)
		return 0; /* no contexts, no ticket keys */
	t = calloc(1, sizeof(*t));
	if (!t || tls_tickets_init() < 0) {
		free(t);
		snprintf(err, errlen, "%s: TLS set-up: out of memory",
		         cfg->path);
		return -1;
	}
	for (i = 0; i < cfg->n_listens; i++)
		if (cfg->listens[i].tls &&
		    !(t->listen[i] = load_listener(cfg, i, err, errlen)))
			goto fail;
	for (i = 0; i < cfg->n_backends; i++)
		if (backend_has_tls(cfg, i) &&
		    !(t->backend[i] = load_backend(cfg, i, err, errlen)))
			goto fail;
	*out = t;
	return 0;
fail:
	tls_free(t);
	return -1;
}

void
tls_free(struct tls_set *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < CONFIG_MAX_LISTENS; i++)
		free_listener(t->listen[i]);
	for (i = 0; i < CONFIG_MAX_BACKENDS; i++)
		if (t->backend[i]) {
			SSL_CTX_free(t->backend[i]->ctx);
			free(t->backend[i]);
		}
	free(t);
}
