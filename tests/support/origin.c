/*
 * origin: the HTTP/1.1 origin server the integration suites put behind
 * proxyd.  `origin -p PORT_FILE [-t [-C CERT -K KEY] [-A CAFILE] [-2]]
 * [-n NAME] [-l PORT] [-P] [-H FILE]`
 * listens on an ephemeral 127.0.0.1 port, writes the port into PORT_FILE
 * once listening, and serves until SIGTERM.
 *
 *   -t        TLS, with a self-signed certificate made at start-up
 *   -C CERT   with -t: serve this certificate chain (PEM, leaf first)
 *   -K KEY    and this key (PEM) instead; both or neither
 *   -A CAFILE with -t: mutual TLS; every client must show a certificate
 *             that CAFILE (PEM) verifies, or its handshake fails
 *   -2        with -t: TLS 1.2 at most (a refused client certificate then
 *             fails the client's handshake, not its first read)
 *   -n NAME   every response carries "X-Origin: NAME" (but the broken
 *             ones of /malformed and /smuggle), and GET /whoami answers
 *             "NAME\n": which of several backends served
 *   -l PORT   listens on that 127.0.0.1 port instead (SO_REUSEADDR), so a
 *             test can stop a backend and bring it back on the same port;
 *             PORT_FILE is still written
 *   -P        every connection must start with a PROXY protocol header,
 *             v1 or v2 (before the TLS handshake with -t); without a valid
 *             one it is closed unanswered
 *   -H FILE   GET /healthz answers 503 while FILE exists
 *
 * Test support, so simple before fast: a thread per connection (bounded),
 * blocking sockets with timeouts, a strict-enough keep-alive parser.  Bodies
 * are streamed, never held whole, so multi-gigabyte transfers stay small.
 *
 *   GET /size/N      N pattern bytes with Content-Length
 *   GET /chunked/N   the same, chunked
 *   GET /close/N     the same, close-delimited (Connection: close)
 *   GET /slow/MS     waits MS, then a small body
 *   GET /status/C    empty body with status C (204/304 bodiless)
 *   GET /headers     the request head as received, as text/plain
 *   POST|PUT /echo   the request body back (chunked, or with its length)
 *   POST|PUT /sink   "bytes=N sum=HEX pattern=yes|no\n" for the body
 *   GET /malformed   a broken status line;  GET /smuggle  CL and TE both
 *   GET /hang        reads the request, never answers
 *   GET /whoami      "NAME\n" (with -n; 404 without)
 *   GET /healthz     200 "ok\n", or 503 "unhealthy\n" while -H's FILE exists
 *   GET /count       "N\n": the requests this process has served, counting
 *                    neither /count nor /healthz (a balancer's checks)
 *   GET /proxy       "src=IP:PORT dst=IP:PORT\n" from this connection's
 *                    PROXY header (IPv6 as [IP]:PORT), "local\n" for
 *                    LOCAL/UNKNOWN/UNSPEC, "none\n" without -P
 *   GET /clientcert  "CN\n": the subject CN of the client certificate
 *                    this connection verified (-A), "none\n" without one
 *   GET /ws          a WebSocket upgrade (101), then an echo of every frame
 *                    until a close (tests/support/origin/ws.c); 400
 *                    without the upgrade fields
 * The new endpoints also answer with a query string (/healthz?x).  HEAD
 * works everywhere; Expect: 100-continue gets an interim 100.
 *
 * This file is main, the accept loop and the per-connection threads; the
 * parts are in tests/support/origin/ (origin.h says which is where).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "tests/support/origin/origin.h"

#define ORIGIN_MAX_THREADS 256

/* tests/support/origin/tls.c (not in origin.h, which stays as it is) */
SSL_CTX *origin_tls_from_files(const char *cert, const char *key);
int origin_tls_require_client(SSL_CTX *ctx, const char *ca);
void origin_tls_client_cn(SSL *ssl, char *out, size_t cap);

static SSL_CTX *origin_tls;
static int origin_want_tls;
static const char *origin_cert, *origin_key; /* -C, -K */
static const char *origin_client_ca;         /* -A */
static int origin_tls12;                     /* -2 */
static atomic_int origin_threads;

struct origin_options origin_opts;
atomic_ulong origin_served;

/* ---- connections --------------------------------------------------- */

/* GET /clientcert (here, not in response.c: origin.h stays as it is):
 * 1 when the path is it (*rc as for origin_dispatch), else 0. */
static int
client_cert_dispatch(struct origin_conn *c, struct origin_req *r, int *rc)
{
	static const char name[] = "/clientcert";
	size_t k = sizeof(name) - 1;
	char cn[256], msg[260];

	if (strncmp(r->path, name, k) != 0 ||
	    (r->path[k] != '\0' && r->path[k] != '?'))
		return 0;
	atomic_fetch_add(&origin_served, 1);
	if (origin_body_drain(c, r) < 0) {
		*rc = -1;
		return 1;
	}
	origin_tls_client_cn(c->ssl, cn, sizeof(cn));
	snprintf(msg, sizeof(msg), "%s\n", cn);
	*rc = origin_send_simple(c, r, 200, msg);
	return 1;
}

static int
serve_one(struct origin_conn *c)
{
	struct origin_req r;
	char *scratch;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = origin_read_head(c, &r.head_len);
	if (rc <= 0)
		return -1;
	/* a NUL would cut the C-string parse short: refuse it up front */
	scratch = memchr(c->head, '\0', r.head_len) ? NULL : strdup(c->head);
	if (scratch == NULL || origin_parse_head(&r, scratch) < 0) {
		free(scratch);
		r.keep_alive = 0;
		origin_send_simple(c, &r, 400, "bad request\n");
		return -1;
	}
	/* r.path points into scratch; keep it until the reply is sent */
	if (!client_cert_dispatch(c, &r, &rc))
		rc = origin_dispatch(c, &r);
	free(scratch);
	return rc < 0 || !r.keep_alive ? -1 : 0;
}

static void *
conn_thread(void *arg)
{
	struct origin_conn *c = arg;

	if (origin_opts.proxy_protocol && origin_read_proxy_header(c) < 0) {
		c->close_how = ORIGIN_CLOSE_NOW;
		origin_conn_finish(c);
		atomic_fetch_sub(&origin_threads, 1);
		return NULL;
	}
	if (c->ssl != NULL && SSL_accept(c->ssl) != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
		free(c);
		atomic_fetch_sub(&origin_threads, 1);
		return NULL;
	}
	while (serve_one(c) == 0)
		;
	origin_conn_finish(c);
	atomic_fetch_sub(&origin_threads, 1);
	return NULL;
}

/* ---- set-up -------------------------------------------------------- */

/* On *port, or an ephemeral port when it is 0 (then *port says which). */
static int
listen_on(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	sa.sin_port = htons((uint16_t)*port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* PORT_FILE appears whole or not at all: tmp file, then rename. */
static int
write_port(const char *path, int port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static void
start_conn(int fd)
{
	struct timeval tv = {ORIGIN_IDLE_S, 0};
	struct origin_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;
	int one = 1;

	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (origin_tls != NULL && ((c->ssl = SSL_new(origin_tls)) == NULL ||
	                           SSL_set_fd(c->ssl, fd) != 1))
		goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&origin_threads, 1);
	if (pthread_create(&t, &attr, conn_thread, c) != 0) {
		atomic_fetch_sub(&origin_threads, 1);
		pthread_attr_destroy(&attr);
		goto fail;
	}
	pthread_attr_destroy(&attr);
	return;
fail:
	SSL_free(c->ssl);
	close(fd);
	free(c);
}

/* Accepts until SIGTERM/SIGINT; at the thread cap, waits for a slot. */
static int
serve(int lfd, int sfd)
{
	struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
	int fd, busy;

	for (;;) {
		busy = atomic_load(&origin_threads) >= ORIGIN_MAX_THREADS;
		if (poll(pfd, busy ? 1 : 2, busy ? 20 : -1) < 0 &&
		    errno != EINTR)
			return -1;
		if (pfd[0].revents & POLLIN)
			return 0;
		if (busy || !(pfd[1].revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			start_conn(fd);
	}
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: origin -p PORT_FILE [-t [-C CERT -K KEY] "
	        "[-A CAFILE] [-2]] [-n NAME] [-l PORT] [-P] [-H FILE]\n");
	exit(2);
}

/* -n: it goes into a header field, so printable and bounded. */
static int
set_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > ORIGIN_NAME_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return -1;
	origin_opts.name = name;
	snprintf(origin_opts.name_field, sizeof(origin_opts.name_field),
	         "X-Origin: %s\r\n", name);
	return 0;
}

/* -l: 1..65535 in decimal. */
static int
parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 1 && v <= 65535 ? (int)v : -1;
}

int
main(int argc, char **argv)
{
	const char *port_file = NULL;
	sigset_t set;
	int opt, lfd, sfd, port = 0, rc;

	while ((opt = getopt(argc, argv, "p:tn:l:PH:C:K:A:2")) != -1) {
		if (opt == 'p')
			port_file = optarg;
		else if (opt == 't')
			origin_want_tls = 1;
		else if (opt == 'n' && set_name(optarg) == 0)
			continue;
		else if (opt == 'l' && (port = parse_port(optarg)) > 0)
			continue;
		else if (opt == 'P')
			origin_opts.proxy_protocol = 1;
		else if (opt == 'H')
			origin_opts.health_file = optarg;
		else if (opt == 'C')
			origin_cert = optarg;
		else if (opt == 'K')
			origin_key = optarg;
		else if (opt == 'A')
			origin_client_ca = optarg;
		else if (opt == '2')
			origin_tls12 = 1;
		else
			usage();
	}
	if (port_file == NULL || optind != argc ||
	    (origin_cert == NULL) != (origin_key == NULL) ||
	    (origin_cert != NULL && !origin_want_tls) ||
	    ((origin_client_ca != NULL || origin_tls12) && !origin_want_tls))
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* blocked before any thread exists, so only the signalfd sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (origin_want_tls &&
	    (origin_tls = origin_cert != NULL ? origin_tls_from_files(
	                                                origin_cert, origin_key)
	                                      : origin_tls_new()) == NULL) {
		fprintf(stderr, "origin: cannot set up TLS\n");
		return 1;
	}
	if (origin_client_ca != NULL &&
	    origin_tls_require_client(origin_tls, origin_client_ca) < 0) {
		fprintf(stderr, "origin: cannot use -A %s\n", origin_client_ca);
		return 1;
	}
	if (origin_tls12 &&
	    SSL_CTX_set_max_proto_version(origin_tls, TLS1_2_VERSION) != 1) {
		fprintf(stderr, "origin: cannot use -2\n");
		return 1;
	}
	lfd = listen_on(&port);
	if (sfd < 0 || lfd < 0 || write_port(port_file, port) < 0) {
		perror("origin: start-up");
		return 1;
	}
	rc = serve(lfd, sfd);
	close(lfd);
	SSL_CTX_free(origin_tls);
	return rc < 0 ? 1 : 0;
}
