/*
 * A client connection and everything a request on it needs: the client and
 * upstream sockets, their buffers, the parsed heads and body framing.
 */
#ifndef WORKER_SESSION_T_H
#define WORKER_SESSION_T_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/config-t.h"
#include "worker/dns.h"
#include "worker/event-t.h"
#include "worker/http_parse.h"
#include "rules/rules.h"

#define SESSION_MAGIC 0x5e55104dU
#define SESSION_HOST_MAX 256

/* One socket of a session and its buffers.  `in` holds bytes read from the
 * socket not yet consumed; `out` bytes waiting to be written to it. */
struct side {
	struct event_io io;
	SSL *ssl; /* TLS on this socket (worker/tls_io.c), or NULL */
	unsigned long tls_error; /* OpenSSL's reason for a failed read */
	struct buf *in;
	struct buf *out;
	unsigned readable : 1; /* epoll said so and no EAGAIN since */
	unsigned writable : 1;
	unsigned eof : 1;       /* the peer will send nothing more */
	unsigned shut : 1;      /* we shut our sending direction */
	unsigned failed : 1;    /* a socket error happened */
	unsigned uncounted : 1; /* admin traffic: not in the byte counters */
	unsigned hup : 1;       /* epoll reported the peer's close */
	uint64_t nread;         /* bytes, for the access log */
	uint64_t nwritten;
};

/* How a body is delimited on one side of the proxy. */
enum body_kind {
	BODY_NONE = 0,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE, /* until the sender closes */
};

struct body {
	enum body_kind in;  /* framing as received */
	enum body_kind out; /* framing as sent */
	uint64_t remaining; /* BODY_LENGTH: bytes left to receive */
	struct http_chunked chunked;
	uint64_t bytes; /* content bytes moved */
	unsigned done : 1;
};

/* A kernel pipe a tunnel direction moves bytes through with splice(2),
 * never copying them to user space.  rd < 0: not in use. */
struct splice_pipe {
	int rd;
	int wr;
	size_t bytes; /* in the pipe, not yet written out */
};

enum session_state {
	SESSION_IDLE = 0,   /* keep-alive: waiting for a request */
	SESSION_HANDSHAKE,  /* TLS listener: the client's handshake */
	SESSION_HEAD,       /* reading a request head */
	SESSION_RESOLVING,  /* waiting for DNS */
	SESSION_CONNECTING, /* upstream connect in progress */
	SESSION_SCAN,       /* reading a request body for content rules */
	SESSION_PROXYING,   /* request and response flowing */
	SESSION_TUNNEL,     /* CONNECT: raw bytes both ways */
	SESSION_ERROR,      /* sending an error page, then close */
	SESSION_LINGER,     /* sent all, draining input before close */
	SESSION_CLOSED,
};

struct session {
	unsigned magic;
	enum session_state state;
	struct side cli;
	struct side up;
	const struct config_listen *listen;
	struct sockaddr_storage peer;
	struct event_timer timer;
	struct session *next; /* worker's list of sessions */
	struct session *prev;

	/* the request in progress */
	struct http_msg req;
	struct http_msg resp;
	struct http_field *fields; /* max_headers for req, then resp */
	struct body reqb;
	struct body respb;
	char host[SESSION_HOST_MAX];
	uint16_t port;
	struct http_span path;      /* origin-form target, in cli.in */
	struct http_span authority; /* reverse, absolute-form: host[:port] */
	char pool_key[SESSION_HOST_MAX + 16];
	struct dns_query *dnsq;
	struct dns_addrs addrs;
	unsigned addr_next; /* next address to try */
	struct sockaddr_storage up_addr;
	unsigned keep_client : 1;  /* client connection stays open */
	unsigned up_reused : 1;    /* upstream came from the pool */
	unsigned resp_started : 1; /* response bytes went to the client */
	unsigned resp_head_done : 1;
	unsigned req_sent : 1; /* request fully sent upstream */
	unsigned tunnel : 1;
	unsigned tunnel_counted : 1; /* in tunnels_active */
	unsigned req_abandoned : 1;  /* body left unread: never reuse */
	unsigned served : 1;         /* a response was completed */
	unsigned logged : 1;         /* this request has its log line */
	unsigned status;             /* sent to the client, for the log */
	uint64_t started;            /* ms, when the request head began */
	struct splice_pipe pipes[2]; /* tunnel: to upstream, to client */
	/* the rules: where evaluation stands, and what decided */
	struct rules_state rstate;
	enum rules_verdict rverdict; /* RULES_NEED_* while pending */
	struct rules_state rpre;     /* before any address was judged */
	struct rules_state rdenied;  /* a refused address's decision */
	struct sockaddr_storage rdenied_addr;
	unsigned dst_pending : 1; /* addresses are judged by rules */
	unsigned has_denial : 1;
	unsigned dst_none : 1; /* the host did not resolve */
	const char *rule_name; /* for the log: deciding rule */
	const char *rule_action;
	char sni[256];                /* tunnel: TLS server name, or "" */
	char user[64];                /* authenticated proxy user, or "" */
	unsigned sni_wait : 1;        /* tunnel: reading the ClientHello */
	unsigned sni_known : 1;       /* tunnel: the ClientHello was read */
	char *head_copy;              /* the client's head, once cli.in is
	                               * past it (content rules) */
	struct buf *scan;             /* a body being read for content rules */
	struct body scanb;            /* its decoding */
	struct buf *prefix;           /* read body bytes to send first */
	struct buf *cprefix;          /* the same, toward the client */
	struct buf *held;             /* a response head held back */
	char scan_ctype[128];         /* the scanned response's type */
	unsigned scan_resp : 1;       /* scan is the response body */
	unsigned expect_answered : 1; /* we sent the 100: drop Expect */
	char *retry_head;             /* request head kept for one retry */
	size_t retry_len;
	unsigned no_pool : 1; /* retrying: a fresh connection */
	/* reverse proxying (worker/reverse.c) */
	int backend;           /* index in cfg->backends; -1: forward */
	int server;            /* index in cfg->servers; -1: none yet */
	unsigned attempts;     /* servers tried for this request */
	uint64_t balance_hash; /* balance = hash: the request's key */
	uint8_t tried[CONFIG_MAX_SERVERS / 8]; /* which */
	unsigned on_server : 1;    /* counted in its server's active */
	unsigned upgrade : 1;      /* an Upgrade the route allows */
	unsigned pp_done : 1;      /* PROXY header read, or none expected */
	unsigned peer_trusted : 1; /* reverse: the peer is a trusted proxy */
	struct sockaddr_storage client; /* peer, or what trusted XFF says */
	struct access_log_req *log_req; /* worker/access_log.h */
};

#endif
