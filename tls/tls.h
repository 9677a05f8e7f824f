/*
 * TLS with OpenSSL: the contexts the master builds from proxyd.ini before
 * the workers start (certificates and keys are read while still root),
 * certificate checks for `proxyd -t`, the choice of certificate by SNI,
 * session-ticket keys shared by every worker, and the client contexts for
 * backend servers marked `tls`.  Workers inherit all of it across fork.
 */
#ifndef TLS_TLS_H
#define TLS_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/config-t.h"

/* A certificate a TLS listener can present, and the names it is for. */
struct tls_cert {
	SSL_CTX *ctx;
	char **names; /* lower case; "*.example.com" for a wildcard */
	unsigned n_names;
	unsigned char *ocsp; /* DER OCSP response to staple, or NULL */
	size_t ocsp_len;
};

/* What a TLS listener serves: certs[0] is the default (tls_cert). */
struct tls_listener {
	struct tls_cert *certs;
	unsigned n_certs;
};

/* The client side for a backend with tls servers. */
struct tls_backend {
	SSL_CTX *ctx;
	int verify;
};

struct tls_set {
	struct tls_listener *listen[CONFIG_MAX_LISTENS]; /* NULL: plain */
	struct tls_backend *backend[CONFIG_MAX_BACKENDS];
};

/* Builds every context cfg asks for (*out NULL when nothing uses TLS,
 * and then no ticket keys either).  Errors are "FILE:LINE: message";
 * certificates expiring within 30 days are logged as warnings.  0, or -1
 * with err (nothing allocated then). */
int tls_load(const struct config *cfg, struct tls_set **out, char *err,
             size_t errlen);
void tls_free(struct tls_set *t);

/* The certificate of l for an SNI name (NULL: none sent): an exact name,
 * then a wildcard, then the default. */
const struct tls_cert *tls_cert_for(const struct tls_listener *l,
                                    const char *sni);
/* 1 if the name pattern (exact, or "*.example.com" for one label)
 * covers host; both lower case. */
int tls_name_matches(const char *pattern, const char *host);
/* The DNS names of a certificate (SAN dNSNames, else the CN), lower
 * case, malloc'd.  0 or -1. */
int tls_cert_names(X509 *x, char ***names, unsigned *n);

/* An SSL object on fd (non-blocking) for either side, with the modes
 * proxyd's buffers need; NULL on failure. */
SSL *tls_ssl_new(SSL_CTX *ctx, int fd);
/* A client connection to server sv of backend b on fd (connected,
 * non-blocking), set to connect with SNI and name checks; NULL on
 * failure. */
SSL *tls_client_new(const struct tls_backend *b, const struct config_server *sv,
                    int fd);

/* Session-ticket keys, one set for all workers (memory shared across
 * fork) so that a ticket from one worker resumes on any: created by the
 * master, rotated by it every TLS_TICKET_ROTATE_S; the previous key still
 * decrypts.  0 or -1. */
#define TLS_TICKET_ROTATE_S 3600
int tls_tickets_init(void);
void tls_tickets_rotate(void);
/* Installs the shared keys on a server context. */
void tls_tickets_attach(SSL_CTX *ctx);

#endif
