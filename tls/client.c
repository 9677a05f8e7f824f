/*
 * The SSL objects of proxyd's connections (tls_ssl_new, both sides), and
 * the client side of TLS to a backend server, shared by the workers and
 * the health checker: the name the server is asked for and checked
 * against (sni=, else the HOST of HOST:PORT; an IP literal is checked as
 * an address and sends no SNI), on a non-blocking socket.
 */
#include "tls/tls.h"

#include <stdio.h>

#include <openssl/x509v3.h>

#include "common/config_reverse.h"
#include "common/sock.h"

SSL *
tls_ssl_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	/* our buffers move (compaction) and writes may be partial */
	SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_ENABLE_PARTIAL_WRITE);
	return ssl;
}

SSL *
tls_client_new(const struct tls_backend *b, const struct config_server *sv,
               int fd)
{
	char name[256];
	SSL *ssl;
	int ip;

	if (!b || !(ssl = tls_ssl_new(b->ctx, fd)))
		return NULL;
	if (sv->sni[0])
		snprintf(name, sizeof(name), "%s", sv->sni);
	else
		config_server_host(sv, name, sizeof(name));
	ip = sock_is_ip_literal(name);
	if ((!ip && SSL_set_tlsext_host_name(ssl, name) != 1) ||
	    (b->verify &&
	     (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
	         : SSL_set1_host(ssl, name)) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}
