/*
 * Getting a connection to the origin: from the keep-alive pool, or by
 * resolving the host and connecting to its addresses in turn.
 */
#include "worker/session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "worker/backend.h"
#include "worker/event.h"
#include "worker/stats.h"
#include "worker/upstream_pool.h"
#include "worker/worker.h"

static void try_next_address(struct session *s);

/* Connected (or taken from the pool): start the exchange. */
static void
connected(struct session *s)
{
	if (s->tunnel) {
		tunnel_start(s);
		return;
	}
	if (s->backend >= 0 && reverse_connected(s) < 0)
		return;
	if (content_scan_request_begin(s))
		return; /* the body is read for the rules first */
	s->state = SESSION_PROXYING;
	proxy_arm_timer(s);
	(void)proxy_send_request_head(s);
}

static int
keep_allowed(struct session *s, const struct dns_addrs *a)
{
	unsigned i;

	s->addrs.n = 0;
	for (i = 0; i < a->n; i++) {
		if (!dest_policy_allowed(s->listen,
		                         (const struct sockaddr *)&a->addr[i]))
			continue;
		s->addrs.addr[s->addrs.n] = a->addr[i];
		s->addrs.len[s->addrs.n++] = a->len[i];
	}
	return s->addrs.n > 0;
}

static void
on_resolved(void *arg, int status, const struct dns_addrs *a, const char *err)
{
	struct session *s = arg;
	/* Cached answers arrive inside dns_resolve(), from the run loop;
	 * only a later answer has to drive the session itself. */
	int later = s->dnsq != NULL;

	s->dnsq = NULL;
	if (status < 0) {
		log_info("cannot resolve %s: %s", s->host, err ? err : "?");
		if (!access_rules_unresolved(s))
			http_error_send(s, 502, "cannot resolve host");
	} else if (!keep_allowed(s, a)) {
		http_error_send(s, 403, "destination address not allowed");
	} else {
		s->addr_next = 0;
		try_next_address(s);
	}
	if (later && s->state != SESSION_CLOSED)
		session_run(s);
}

/* A pooled connection for this request, if there is one it may use. */
static int
from_pool(struct session *s)
{
	SSL *ssl = NULL;
	int fd;

	if (s->tunnel || s->no_pool ||
	    (fd = upstream_pool_take(s->pool_key, &s->up_addr, &ssl)) < 0)
		return 0;
	/* a dst rule judges the address this request reaches, the pooled
	 * connection's; refused, the request resolves and is refused there
	 * with the rule's answer */
	if (access_rules_address(s, (const struct sockaddr *)&s->up_addr) ||
	    side_adopt(&s->up, fd, s) < 0) {
		if (ssl)
			SSL_free(ssl);
		close(fd);
		s->up.io.fd = -1;
		return 0;
	}
	s->up.ssl = ssl;
	STATS_INC(upstream_reuses);
	s->up_reused = 1;
	s->up.writable = 1;
	connected(s);
	return 1;
}

void
upstream_start(struct session *s)
{
	struct dns_query *q;

	/* A decision waits for the TLS server name: answer 200 and read the
	 * ClientHello first, so that nothing is connected to (and no port
	 * probed) before the rules have decided. */
	if (s->tunnel && s->rverdict == RULES_NEED_SNI && !s->sni_known) {
		tunnel_start(s);
		return;
	}
	if (from_pool(s))
		return;
	if (s->backend >= 0) { /* a server of a backend: its address */
		s->addr_next = 0;
		try_next_address(s);
		return;
	}
	s->state = SESSION_RESOLVING;
	session_set_timer(s, &worker.q_connect);
	q = dns_resolve(s->host, s->port, on_resolved, s);
	if (s->state == SESSION_RESOLVING)
		s->dnsq = q; /* still waiting: the answer comes later */
}

static void
try_next_address(struct session *s)
{
	char name[SOCK_ADDRSTRLEN];
	const struct sockaddr *sa;
	int fd, rc;

	while (s->addr_next < s->addrs.n) {
		sa = (const struct sockaddr *)&s->addrs.addr[s->addr_next];
		if ((rc = access_rules_address(s, sa)) != 0) {
			if (rc < 0)
				return; /* answered */
			s->addr_next++;
			continue; /* a rule refuses this address */
		}
		fd = sock_connect(sa, s->addrs.len[s->addr_next++]);
		if (fd >= 0 && side_attach(&s->up, fd, s) == 0) {
			memcpy(&s->up_addr, sa, s->addrs.len[s->addr_next - 1]);
			s->state = SESSION_CONNECTING;
			session_set_timer(s, backend_connect_queue(s));
			return;
		}
		STATS_INC(upstream_connect_failures);
		log_info("connect to %s (%s): %s", s->host,
		         sock_addr_str(sa, name, sizeof(name)),
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		s->up.io.fd = -1;
	}
	if (s->backend >= 0)
		(void)reverse_failover(s, 502, "cannot connect");
	else if (!access_rules_refuse(s))
		http_error_send(s, 502, "cannot connect to upstream");
}

/* The TLS handshake with a server marked tls, after the TCP connect. */
static int
tls_step(struct session *s)
{
	int rc;

	if (!s->up.readable && !s->up.writable)
		return 0;
	if ((rc = tls_upstream_step(s)) == 0)
		return 0;
	if (rc < 0) {
		(void)reverse_failover(s, 502, "TLS handshake failed");
		return 1;
	}
	connected(s);
	return 1;
}

int
upstream_connect_step(struct session *s)
{
	char name[SOCK_ADDRSTRLEN];
	int err;

	if (tls_upstream_handshaking(s))
		return tls_step(s);
	if (!s->up.writable)
		return 0;
	err = sock_connect_result(s->up.io.fd);
	if (err == EINPROGRESS || err == EALREADY) {
		s->up.writable = 0;
		return 0;
	}
	if (err) {
		STATS_INC(upstream_connect_failures);
		log_info("connect to %s (%s): %s", s->host,
		         sock_addr_str((const struct sockaddr *)&s->up_addr,
		                       name, sizeof(name)),
		         strerror(err));
		side_close(&s->up);
		try_next_address(s);
		return 1;
	}
	STATS_INC(upstream_connects);
	if (s->backend >= 0 && worker.cfg->servers[s->server].tls) {
		if (reverse_proxy_before_tls(s) < 0 ||
		    tls_upstream_begin(s) < 0) {
			(void)reverse_failover(s, 502, "TLS set-up failed");
			return 1;
		}
		return tls_step(s) | 1;
	}
	connected(s);
	return 1;
}

/* The upstream side is given up: its server no longer carries this
 * request, and its socket, TLS state and buffers go. */
void
upstream_close(struct session *s)
{
	backend_detach(s);
	side_close(&s->up);
}

/* The request is over: keep the connection for the next request to the
 * same host, or close it. */
void
upstream_release(struct session *s, int reusable)
{
	int fd = s->up.io.fd;
	SSL *ssl = s->up.ssl;

	if (fd < 0 || !reusable || worker.draining) {
		upstream_close(s);
		return;
	}
	backend_detach(s);
	s->up.io.fd = -1; /* the pool re-points the registration */
	s->up.io.events = 0;
	s->up.ssl = NULL; /* and keeps the TLS state */
	side_close(&s->up);
	upstream_pool_put(s->pool_key, fd, &s->up_addr, ssl,
	                  s->backend >= 0
	                          ? backends.b[s->backend].cfg->keepalive
	                          : UPSTREAM_POOL_PER_ORIGIN);
}

/* The pooled connection closed before answering: send the request again
 * on a fresh connection, once. */
int
upstream_retry(struct session *s)
{
	if (s->backend >= 0 && tls_upstream_refused(s))
		return reverse_failover(s, 502, "TLS handshake refused");
	if (s->backend >= 0 && !s->up_reused)
		return reverse_failover(s, 502, "closed without answering");
	log_debug("%s:%u: pooled connection closed; retrying", s->host,
	          (unsigned)s->port);
	side_close(&s->up);
	s->up_reused = 0;
	s->no_pool = 1;
	upstream_start(s);
	return 1;
}
