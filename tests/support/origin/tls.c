/*
 * The test origin's TLS (-t): a key and a self-signed certificate made in
 * memory at start-up, so no key file is kept in the tree or left behind;
 * or, with -C CERT -K KEY, a chain and key a test made (PEM files), so a
 * proxy that verifies its backends can be shown a certificate it trusts.
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
