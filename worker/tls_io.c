/*
 * TLS on a session's sockets: the non-blocking handshakes inside the
 * event loop (clients of a `tls = on` listener, servers marked `tls`),
 * reads and writes through OpenSSL, clean close_notify, the backends'
 * session cache, and what the access log and counters say about it.
 *
 * OpenSSL may need to read while we write and the other way round
 * (SSL_ERROR_WANT_READ/WANT_WRITE both ways); the sockets stay
 * registered for both directions, so either event runs the session again
 * and the call is retried.  Renegotiation is refused by the contexts
 * (tls/load.c); a handshake is bounded by the session's timer.
 */
#include "worker/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common/log.h"
#include "tls/tls.h"
#include "worker/backend.h"
#include "worker/stats.h"
#include "worker/worker.h"

static const struct tls_set *tls;
static SSL_SESSION **server_sessions; /* per backend server, or NULL */
static unsigned n_sessions;
static int server_index = -1; /* SSL ex_data: server index + 1 */

/* A backend connection's new session: kept for the next connection to
 * the same server (TLS 1.3 sends it after the handshake). */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	uintptr_t i = (uintptr_t)SSL_get_ex_data(ssl, server_index);

	if (i == 0 || i > n_sessions)
		return 0;
	SSL_SESSION_free(server_sessions[i - 1]);
	server_sessions[i - 1] = sess;
	return 1; /* we keep the reference */
}

int
tls_worker_init(const struct tls_set *t, const struct config *cfg)
{
	unsigned i;

	tls = t;
	if (!t)
		return 0;
	server_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	n_sessions = cfg->n_servers;
	if (n_sessions &&
	    !(server_sessions = calloc(n_sessions, sizeof(*server_sessions))))
		return -1;
	for (i = 0; i < cfg->n_backends; i++)
		if (t->backend[i])
			SSL_CTX_sess_set_new_cb(t->backend[i]->ctx,
			                        new_session);
	return 0;
}

void
tls_worker_fini(void)
{
	unsigned i;

	for (i = 0; i < n_sessions; i++)
		SSL_SESSION_free(server_sessions[i]);
	free(server_sessions);
	server_sessions = NULL;
	n_sessions = 0;
}

int
tls_accept_begin(struct session *s)
{
	const struct tls_listener *l =
	        tls ? tls->listen[s->listen - worker.cfg->listens] : NULL;

	if (!l || !(s->cli.ssl = tls_ssl_new(l->certs[0].ctx, s->cli.io.fd)))
		return -1;
	SSL_set_accept_state(s->cli.ssl);
	s->state = SESSION_HANDSHAKE;
	return 0;
}

/* Which counter a failed client handshake goes to. */
static void
count_failure(unsigned long e)
{
	int r = ERR_GET_REASON(e);

	if (ERR_GET_LIB(e) != ERR_LIB_SSL || e == 0)
		STATS_INC(tls_failures_other);
	else if (r == SSL_R_UNSUPPORTED_PROTOCOL ||
	         r == SSL_R_NO_SHARED_CIPHER ||
	         r == SSL_R_WRONG_VERSION_NUMBER ||
	         r == SSL_R_VERSION_TOO_LOW || r == SSL_R_HTTP_REQUEST ||
	         r == SSL_R_NO_PROTOCOLS_AVAILABLE ||
	         r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
		STATS_INC(tls_failures_protocol);
	else if (r == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
	         r == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
	         r == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
	         r == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
	         r == SSL_R_TLSV1_ALERT_ACCESS_DENIED)
		STATS_INC(tls_failures_certificate);
	else
		STATS_INC(tls_failures_other);
}

static void
count_success(SSL *ssl)
{
	STATS_INC(tls_handshakes);
	if (SSL_session_reused(ssl))
		STATS_INC(tls_resumptions);
	if (SSL_version(ssl) == TLS1_3_VERSION)
		STATS_INC(tls_v13);
	else
		STATS_INC(tls_v12);
}

/* Drives a handshake: 1 done, 0 waiting, -1 failed (*e: the error). */
static int
handshake(struct side *sd, unsigned long *e)
{
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(sd->ssl);
	if (rc == 1)
		return 1;
	switch (SSL_get_error(sd->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		sd->readable = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		sd->writable = 0;
		return 0;
	default:
		*e = ERR_peek_last_error();
		ERR_clear_error();
		sd->failed = 1;
		return -1;
	}
}

int
tls_handshake_step(struct session *s)
{
	unsigned long e = 0;
	int rc;

	if (!s->cli.readable && !s->cli.writable)
		return 0;
	/* an L4 balancer's PROXY header comes before the TLS bytes */
	if (!s->pp_done && (rc = client_proxy_peek(s)) <= 0)
		return 0;
	rc = handshake(&s->cli, &e);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		char why[256];

		count_failure(e);
		ERR_error_string_n(e, why, sizeof(why));
		log_debug("[listen %s]: TLS handshake failed: %s",
		          s->listen->name, e ? why : "connection closed");
		session_close(s);
		return 0;
	}
	count_success(s->cli.ssl);
	s->state = SESSION_IDLE;
	s->cli.readable = 1; /* a request may be buffered in OpenSSL */
	session_set_timer(s, &worker.q_client_header);
	return 1;
}

void
tls_handshake_timeout(struct session *s)
{
	STATS_INC(tls_failures_timeout);
	session_close(s);
}

int
tls_upstream_begin(struct session *s)
{
	const struct tls_backend *b = tls ? tls->backend[s->backend] : NULL;
	SSL *ssl =
	        tls_client_new(b, &worker.cfg->servers[s->server], s->up.io.fd);

	if (!(s->up.ssl = ssl))
		return -1;
	SSL_set_ex_data(ssl, server_index, (void *)(uintptr_t)(s->server + 1));
	if (server_sessions[s->server])
		SSL_set_session(ssl, server_sessions[s->server]);
	return 0;
}

int
tls_upstream_handshaking(const struct session *s)
{
	return s->up.ssl && !SSL_is_init_finished(s->up.ssl);
}

/* 1 done, 0 waiting, -1 failed (logged, counted). */
int
tls_upstream_step(struct session *s)
{
	unsigned long e = 0;
	long v;
	int rc = handshake(&s->up, &e);
	char why[256];

	if (rc > 0) {
		STATS_INC(tls_upstream_handshakes);
		if (SSL_session_reused(s->up.ssl))
			STATS_INC(tls_upstream_resumptions);
		return 1;
	}
	if (rc == 0)
		return 0;
	STATS_INC(tls_upstream_failures);
	v = SSL_get_verify_result(s->up.ssl);
	if (v != X509_V_OK)
		snprintf(why, sizeof(why), "certificate verification: %s",
		         X509_verify_cert_error_string(v));
	else
		ERR_error_string_n(e, why, sizeof(why));
	log_error("backend %s: server %s: TLS handshake failed: %s",
	          backends.b[s->backend].cfg->name,
	          worker.cfg->servers[s->server].name, why);
	return -1;
}

ssize_t
tls_read(struct side *sd, void *p, size_t n)
{
	size_t got = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_read_ex(sd->ssl, p, n, &got);
	if (rc == 1)
		return (ssize_t)got;
	switch (SSL_get_error(sd->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN: /* close_notify */
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = ECONNRESET;
		ERR_clear_error();
		return -1;
	default: /* a protocol error (an alert), or EOF without close_notify */
		sd->tls_error = ERR_peek_last_error();
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* A server that refused us after our side of the handshake was done
 * (TLS 1.3: a client certificate it does not accept) says so in an
 * alert on the first read: name it, and count it as a handshake
 * failure.  1 if that is what happened. */
int
tls_upstream_refused(struct session *s)
{
	char why[256];

	if (!s->up.ssl || !s->up.tls_error || s->up.nread != 0)
		return 0;
	ERR_error_string_n(s->up.tls_error, why, sizeof(why));
	STATS_INC(tls_upstream_failures);
	log_error("backend %s: server %s: TLS handshake refused by the "
	          "server: %s",
	          backends.b[s->backend].cfg->name,
	          worker.cfg->servers[s->server].name, why);
	return 1;
}

ssize_t
tls_write(struct side *sd, const void *p, size_t n)
{
	size_t put = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_write_ex(sd->ssl, p, n, &put);
	if (rc == 1)
		return (ssize_t)put;
	switch (SSL_get_error(sd->ssl, rc)) {
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_READ:
		/* nothing to wait for on this side: retried on the next
		 * event of either kind */
		errno = EINTR;
		return -1;
	default:
		ERR_clear_error();
		errno = EPIPE;
		return -1;
	}
}

/* Our close_notify: the sending direction is over. */
void
tls_shutdown_write(struct side *sd)
{
	if (!sd->ssl || sd->failed)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(sd->ssl);
	ERR_clear_error();
}

void
tls_side_free(struct side *sd)
{
	if (!sd->ssl)
		return;
	if (!sd->shut)
		tls_shutdown_write(sd);
	SSL_free(sd->ssl);
	sd->ssl = NULL;
}

/* A pooled TLS connection is still usable: no close_notify, no stray
 * application data (a TLS 1.3 session ticket is read and kept). */
int
tls_alive(SSL *ssl)
{
	char c;
	size_t got;
	int rc;

	ERR_clear_error();
	rc = SSL_peek_ex(ssl, &c, 1, &got);
	if (rc == 1)
		return 0;
	rc = SSL_get_error(ssl, rc);
	ERR_clear_error();
	return rc == SSL_ERROR_WANT_READ;
}

const char *
tls_describe(SSL *ssl, char *buf, size_t n)
{
	if (!ssl)
		return NULL;
	snprintf(buf, n, "%s/%s", SSL_get_version(ssl),
	         SSL_get_cipher_name(ssl));
	return buf;
}
