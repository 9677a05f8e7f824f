/*
 * Sessions (client connections) and the modules that drive them.  The
 * functions here are shared by the worker's session_*, proxy_*, body_*,
 * upstream_* and tunnel_* files; nothing outside worker/ uses them.
 */
#ifndef WORKER_SESSION_H
#define WORKER_SESSION_H

#include "worker/session-t.h"

/* Traffic counters count proxied traffic, not metrics scrapes. */
static inline int
session_counted(const struct session *s)
{
	return s->listen->mode != LISTEN_ADMIN;
}

/* The request head the parsed offsets point into. */
static inline const char *
session_head(struct session *s)
{
	return s->head_copy ? s->head_copy : buf_head(s->cli.in);
}

/* session.c: life cycle and the run loop */
struct session *session_accept(int fd, const struct sockaddr_storage *peer,
                               const struct config_listen *l);
void session_run(struct session *s);
/* Closes both sockets now; memory is freed by session_reap(). */
void session_close(struct session *s);
/* Flushes what is queued for the client, then closes gently. */
void session_end(struct session *s);
void session_reap(void);
void session_drain_all(void);
void session_close_all(void);
void session_set_timer(struct session *s, struct event_timer_queue *q);
/* Prepares for the next request on a kept-alive connection. */
void session_next_request(struct session *s);

/* session_io.c: moving bytes between sockets and buffers */
int side_read(struct side *sd, int upstream);
int side_write(struct side *sd, struct buf *from, int upstream);
int side_write_max(struct side *sd, struct buf *from, size_t max, int upstream);
/* Counters for bytes moved without side_read/side_write (splice). */
void side_count_in(int upstream, size_t n);
void side_count_out(int upstream, size_t n);
/* The side's out buffer, taken from the pool if needed; NULL if none. */
struct buf *side_out(struct side *sd);
void side_close(struct side *sd);
void side_shutdown_write(struct side *sd);
void side_release_empty(struct side *sd);
int side_attach(struct side *sd, int fd, void *owner);
int side_adopt(struct side *sd, int fd, void *owner);

/* http_error.c */
void http_error_send(struct session *s, unsigned status, const char *why);
void http_count_status(unsigned status);
void http_block_send(struct session *s, const struct rule *rl);
void http_redirect_send(struct session *s, const char *location);

/* access_rules.c: 0 = go on, -1 = answered (or, for addresses, 1 = this
 * one is refused by a rule: try the next) */
int access_rules_request(struct session *s);
int access_rules_address(struct session *s, const struct sockaddr *dst);
int access_rules_refuse(struct session *s);
int access_rules_unresolved(struct session *s);
void access_rules_describe(struct session *s, struct rules_request *rq,
                           char *method, size_t cap);

/* proxy_auth.c */
void proxy_auth_identify(struct session *s);
void http_auth_send(struct session *s, const char *realm);
int access_rules_sni(struct session *s);

/* proxy_request.c */
void proxy_request_ready(struct session *s);
void proxy_request_framing(struct session *s);
int proxy_request_framing_fields(struct session *s, struct buf *out,
                                 const char *b);

/* reverse.c, reverse_head.c: reverse listeners */
void reverse_init(const struct config *cfg);
void reverse_request(struct session *s);
int reverse_failover(struct session *s, unsigned status, const char *why);
int reverse_connected(struct session *s);
int reverse_proxy_before_tls(struct session *s);
void reverse_client_address(struct session *s, const char *b);
int reverse_head_write(struct session *s, struct buf *out, const char *b);
const char *const *reverse_response_skip(const struct session *s);
int reverse_upgrade(struct session *s);
/* tls_io.c: TLS on a session's sockets */
struct tls_set;
int tls_worker_init(const struct tls_set *t, const struct config *cfg);
void tls_worker_fini(void);
int tls_accept_begin(struct session *s);
int tls_handshake_step(struct session *s);
void tls_handshake_timeout(struct session *s);
int tls_upstream_begin(struct session *s);
int tls_upstream_step(struct session *s);
/* A TLS handshake with the server is under way (derived from the upstream
 * side's OpenSSL state, which goes with the side when it is closed). */
int tls_upstream_handshaking(const struct session *s);
int tls_upstream_refused(struct session *s);
ssize_t tls_read(struct side *sd, void *p, size_t n);
ssize_t tls_write(struct side *sd, const void *p, size_t n);
void tls_shutdown_write(struct side *sd);
void tls_side_free(struct side *sd);
int tls_alive(SSL *ssl);
const char *tls_describe(SSL *ssl, char *buf, size_t n);

/* client_proxy.c: the PROXY header in front of a connection; 1 read,
 * 0 more bytes needed, -1 closed. */
int client_proxy_read(struct session *s);
/* The same before a TLS handshake: read off the socket itself, exactly
 * the header's bytes, so OpenSSL sees the rest. */
int client_proxy_peek(struct session *s);
int proxy_send_request_head(struct session *s);

/* proxy_response.c */
int proxy_step(struct session *s);
void proxy_arm_timer(struct session *s);
int proxy_response_head_fields(struct session *s, struct buf *out);
int proxy_response_head_finish(struct session *s, struct buf *out,
                               const char *framing);
void proxy_response_started(struct session *s);

/* content_scan.c */
int content_scan_keep_head(struct session *s);
int content_scan_wants_identity(struct session *s);
int content_scan_request_begin(struct session *s);
int content_scan_request_step(struct session *s);
int content_scan_response_begin(struct session *s);
int content_scan_response_step(struct session *s);
void proxy_timeout(struct session *s);

/* http_head.c */
int http_head_is_hop(const struct http_msg *m, const char *buf,
                     const struct http_field *f);
int http_head_copy_fields(struct buf *out, const struct http_msg *m,
                          const char *buf, const char *const *skip);
/* Appends to a head being written; 0, or -1 when out is full. */
int http_head_put(struct buf *out, const char *s, size_t n);
int http_head_puts(struct buf *out, const char *s);
int http_head_putu(struct buf *out, uint64_t v);
int http_head_content_length(struct buf *out, uint64_t n);
int http_head_field(struct buf *out, const char *name, const char *v, size_t n);
int http_head_printf(struct buf *out, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* body.c */
void body_init(struct body *b, enum body_kind in, enum body_kind out,
               uint64_t length);
int body_move(struct body *b, struct buf *in, int in_eof, struct buf *out);
int body_forward(struct body *b, struct buf *in, int in_eof, struct side *dst,
                 int upstream);

/* upstream.c */
void upstream_start(struct session *s);
int upstream_retry(struct session *s);
int upstream_connect_step(struct session *s);
void upstream_release(struct session *s, int reusable);
void upstream_close(struct session *s);
void upstream_pool_init(void);
void upstream_pool_fini(void);

/* tunnel.c */
void tunnel_start(struct session *s);
int tunnel_step(struct session *s);
void tunnel_close_pipes(struct session *s);
void tunnel_sni_timeout(struct session *s);

/* dest_policy.c */
int dest_policy_allowed(const struct config_listen *l,
                        const struct sockaddr *sa);
int dest_policy_port_allowed(const struct config_listen *l, uint16_t port);

/* admin.c */
void admin_init(const void *shm_base, size_t shm_size);
void admin_request(struct session *s);

/* access_log.c */
int access_log_open(const char *path, char *err, size_t errlen);
void access_log_capture(struct session *s);
void access_log_write(struct session *s);
void access_log_flush(void);
void access_log_close(void);

#endif
