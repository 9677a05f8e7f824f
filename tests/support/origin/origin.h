/*
 * The test origin's parts (see tests/support/origin.c for what it serves):
 * connection I/O over a socket or TLS (io.c), the request parser (request.c),
 * responses and the endpoints (response.c) and the in-memory certificate
 * (tls.c), the misbehaving endpoints (faults.c), the PROXY protocol header
 * of -P (proxy_hdr.c) and the WebSocket echo of /ws (ws.c).  origin.c holds
 * main, the accept loop and the threads.  Built only into
 * build/tests/origin, never into the suites.
 *
 * faults.c serves origins that break the rules in the ways real ones do,
 * for tests/integration/check_regressions.c (any method unless said):
 *
 *   /reject413     reads only the head, waits 300 ms, answers 413 with
 *                  Content-Length: 0 and closes with the body unread (so
 *                  the kernel resets the connection)
 *   /early-hints   103 Early Hints, then 500 ms later a 200 "hinted\n"
 *   /conn-cl       200 "ok" whose Content-Length is also named by
 *                  Connection (Connection: Content-Length); keep-alive
 *   /reset-close   HTTP/1.0 close-delimited "hello, partial", then a reset
 *                  (SO_LINGER 0) instead of a clean end
 *   /close-next    a keep-alive 200 "first\n"; the next request on that
 *                  connection is read and the connection closed unanswered
 *   /stall-upload  reads only the head; never reads the body nor answers,
 *                  until the peer goes away (bounded)
 *
 * and for tests/integration/check_content_rules.c:
 *
 *   /record[?TAG]  appends "head PATH\n" to the file named by the request's
 *                  X-Record-File field as soon as the head is read, then
 *                  "body PATH bytes=N sum=HEX\n" when the body ended ("cut"
 *                  instead of "body" when the connection did first), and
 *                  answers like /sink ("bytes=N sum=HEX\n"): what reached
 *                  the origin, seen from the origin's side
 *   /chunks?t=TYPE&e=CODING&p=N&c=DATA&c=DATA...
 *                  a chunked 200: N pattern bytes (p, optional), then
 *                  chunks that are the c values (%XX-decoded), each
 *                  written 30 ms after the last; t and e (optional) become
 *                  Content-Type and Content-Encoding
 */
#ifndef TESTS_SUPPORT_ORIGIN_ORIGIN_H
#define TESTS_SUPPORT_ORIGIN_ORIGIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "worker/proxy_protocol.h"

#define ORIGIN_HEAD_MAX 65536
#define ORIGIN_IO 65536
#define ORIGIN_IDLE_S 60 /* keep-alive and per-read timeout */
#define ORIGIN_MAX_SLOW_MS 120000
#define ORIGIN_LINE_MAX 4096 /* chunk-size and trailer lines */
#define ORIGIN_NAME_MAX 64   /* -n NAME */

/* What main() read from the command line; set before any thread starts,
 * read-only after. */
struct origin_options {
	const char *name;        /* -n: /whoami's answer; NULL without -n */
	const char *health_file; /* -H: /healthz is 503 while it exists */
	int proxy_protocol;      /* -P: every connection starts with a header */
	char name_field[ORIGIN_NAME_MAX + 16]; /* "X-Origin: NAME\r\n" or "" */
};

extern struct origin_options origin_opts;
/* Requests served (GET /count), all but /count and /healthz themselves. */
extern atomic_ulong origin_served;

enum origin_framing {
	ORIGIN_BODY_NONE = 0,
	ORIGIN_BODY_LENGTH,
	ORIGIN_BODY_CHUNKED,
};

/* How origin_conn_finish() ends a connection. */
enum origin_close {
	ORIGIN_CLOSE_LINGER = 0, /* shutdown, read what is left, close */
	ORIGIN_CLOSE_NOW,        /* close at once (unread input: a reset) */
	ORIGIN_CLOSE_RESET,      /* SO_LINGER 0: always a reset */
};

struct origin_conn {
	int fd;
	enum origin_close close_how;
	SSL *ssl;
	/* -P: the header this connection sent */
	struct proxy_protocol_info pp;
	size_t len; /* bytes in in[] */
	size_t pos; /* consumed */
	char in[ORIGIN_HEAD_MAX];
	char head[ORIGIN_HEAD_MAX + 1]; /* the current request head */
	char out[ORIGIN_IO + 64];
};

struct origin_req {
	char method[16];
	const char *path; /* in serve_one's scratch copy of the head */
	size_t head_len;
	int minor;
	int keep_alive;
	int expect_continue;
	int is_head;
	enum origin_framing framing;
	uint64_t length;     /* ORIGIN_BODY_LENGTH: bytes left */
	uint64_t chunk_left; /* ORIGIN_BODY_CHUNKED: bytes left in this chunk */
	int chunk_done;      /* last chunk and trailers read */
	int chunk_crlf;      /* a chunk's data ended; its CRLF is due */
};

/* ---- io.c: connection I/O, plain or TLS ---------------------------- */

int64_t origin_now_ms(void);
void origin_sleep_ms(int64_t ms);
/* Straight from the socket (or TLS): >0, 0 on EOF, -1 on error. */
ssize_t origin_conn_read(struct origin_conn *c, void *buf, size_t len);
/* All of buf, or -1. */
int origin_conn_write(struct origin_conn *c, const void *buf, size_t len);
int origin_conn_printf(struct origin_conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Reads more into in[]: >0 bytes read, 0 EOF, -1 error or full. */
ssize_t origin_conn_fill(struct origin_conn *c);
/* Buffered bytes first, else straight from the socket into buf. */
ssize_t origin_conn_read_some(struct origin_conn *c, char *buf, size_t len);
/* A CRLF line, stripped, into line[ORIGIN_LINE_MAX + 1].  0 or -1. */
int origin_conn_line(struct origin_conn *c, char *line);
/* Closes as c->close_how says (lingering by default), then frees c. */
void origin_conn_finish(struct origin_conn *c);

/* ---- request.c: the request head and body -------------------------- */

/* Waits for a whole head and copies it into c->head.  1 done, 0 clean EOF
 * before any byte, -1 error (or over-size). */
int origin_read_head(struct origin_conn *c, size_t *head_len);
/* Parses a scratch copy of c->head into r (r->path points into it). */
int origin_parse_head(struct origin_req *r, char *head);
/* A decimal length with no sign or space.  0 or -1. */
int origin_parse_length(const char *v, uint64_t *out);
/* Up to len body bytes into buf: >0, 0 at the body's end, -1 on error. */
ssize_t origin_body_read(struct origin_conn *c, struct origin_req *r, char *buf,
                         size_t len);
/* Reads and drops what is left of the body.  0 or -1. */
int origin_body_drain(struct origin_conn *c, struct origin_req *r);
/* The value of a head's first field called name (case-insensitive),
 * copied into out[cap]; NULL when absent or too long. */
const char *origin_head_field(const char *head, const char *name, char *out,
                              size_t cap);
/* Has the comma-separated list v the token tok (case-insensitive)? */
int origin_has_token(const char *v, const char *tok);

/* ---- response.c: responses and the endpoints ----------------------- */

/* A whole small text/plain response. */
int origin_send_simple(struct origin_conn *c, struct origin_req *r, int code,
                       const char *body);
/* The standard reason phrase of code ("Status" for the unlisted). */
const char *origin_reason(int code);
/* Routes one parsed request; 0 to keep the connection, -1 to close. */
int origin_dispatch(struct origin_conn *c, struct origin_req *r);

/* ---- faults.c: the misbehaving endpoints (listed above) ----------- */

/* 1 when the path is one of faults.c's (*rc then says, as for
 * origin_dispatch, whether to keep the connection), else 0. */
int origin_fault_dispatch(struct origin_conn *c, struct origin_req *r, int *rc);

/* ---- proxy_hdr.c: -P ----------------------------------------------- */

/* Reads the PROXY header that must open the connection into c->pp,
 * consuming no byte past it (with -t, the TLS handshake follows on the
 * same socket).  0, or -1 when it is missing, invalid or late. */
int origin_read_proxy_header(struct origin_conn *c);
/* GET /proxy's body: "src=IP:PORT dst=IP:PORT\n" (IPv6 in brackets),
 * "local\n", or "none\n" without -P. */
void origin_proxy_describe(const struct origin_conn *c, char *out, size_t cap);

/* ---- ws.c: GET /ws ------------------------------------------------- */

/* The WebSocket upgrade, then the echo until a close frame or an error
 * (400 without the upgrade fields).  As origin_dispatch: 0 or -1. */
int origin_websocket(struct origin_conn *c, struct origin_req *r);

/* ---- tls.c --------------------------------------------------------- */

/* A server context with a fresh P-256 key and self-signed certificate
 * for 127.0.0.1 and localhost; NULL (errors printed) on failure. */
SSL_CTX *origin_tls_new(void);

#endif
