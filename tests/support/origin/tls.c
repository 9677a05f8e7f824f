/*
 * The test origin's TLS (-t): a key and a self-signed certificate made in
 * memory at start-up, so no key file is kept in the tree or left behind;
 * or, with -C CERT -K KEY, a chain and key a test made (PEM files), so a
 * proxy that verifies its backends can be shown a certificate it trusts;
 * with -A CAFILE as well, mutual TLS: a client certificate signed by
 * CAFILE is required, and GET /clientcert names it (origin.c).
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/support/origin/origin.h"

/* Declared here and in origin.c, which alone calls it (origin.h is the
 * parts' shared header and stays as it is). */
SSL_CTX *origin_tls_from_files(const char *cert, const char *key);
int origin_tls_require_client(SSL_CTX *ctx, const char *ca);
void origin_tls_client_cn(SSL *ssl, char *out, size_t cap);

/* ---- key and certificate ------------------------------------------- */

static X509 *
make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	if (x == NULL)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"127.0.0.1", -1, -1,
	                           0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	                          "IP:127.0.0.1,DNS:localhost");
	if (ext == NULL || !X509_add_ext(x, ext, -1) ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_EXTENSION_free(ext);
		X509_free(x);
		return NULL;
	}
	X509_EXTENSION_free(ext);
	return x;
}

/* A server context with a fresh P-256 key and self-signed certificate. */
SSL_CTX *
origin_tls_new(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key != NULL ? make_cert(key) : NULL;
	SSL_CTX *ctx = cert != NULL ? SSL_CTX_new(TLS_server_method()) : NULL;

	if (ctx != NULL && (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	                    SSL_CTX_use_PrivateKey(ctx, key) != 1)) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	if (ctx == NULL)
		ERR_print_errors_fp(stderr);
	return ctx;
}

/* A server context with the chain (PEM, leaf first) and key of -C/-K. */
SSL_CTX *
origin_tls_from_files(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	if (ctx == NULL)
		ERR_print_errors_fp(stderr);
	return ctx;
}

/* ---- client certificates (-A) -------------------------------------- */

/* Every handshake must show a client certificate that CAFILE's
 * certificates verify; without one it fails (an alert).  0 or -1. */
int
origin_tls_require_client(SSL_CTX *ctx, const char *ca)
{
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);

	if (names == NULL ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		ERR_print_errors_fp(stderr);
		return -1;
	}
	/* the CAs named in the CertificateRequest */
	SSL_CTX_set_client_CA_list(ctx, names);
	/* with SSL_VERIFY_PEER, a resumption without a session id context
	 * is a fatal error in OpenSSL, not a cache miss */
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"origin",
	                                   6) != 1) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	SSL_CTX_set_verify(
	        ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

/* The subject CN of the client certificate this connection verified,
 * "none" without one (no -A, or not TLS). */
void
origin_tls_client_cn(SSL *ssl, char *out, size_t cap)
{
	X509 *peer = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	X509_NAME *subject = peer != NULL ? X509_get_subject_name(peer) : NULL;

	snprintf(out, cap, "none");
	if (subject == NULL || SSL_get_verify_result(ssl) != X509_V_OK ||
	    X509_NAME_get_text_by_NID(subject, NID_commonName, out, (int)cap) <
	            0)
		snprintf(out, cap, "none");
}
