/*
 * The loaded configuration (proxyd.ini) as every part sees it.  Filled by
 * config_load() from the key table in common/tbl/config_keys.h; plain data,
 * copied into each worker by fork.
 */
#ifndef COMMON_CONFIG_T_H
#define COMMON_CONFIG_T_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTENS 64
#define CONFIG_MAX_PORTS 64
#define CONFIG_NAME_MAX 64
#define CONFIG_MAX_WORKERS 256 /* workers = auto is capped here too */
#define CONFIG_MAX_BACKENDS 64
#define CONFIG_MAX_SERVERS 256 /* in all [backend] sections together */
#define CONFIG_MAX_ROUTES 256
#define CONFIG_MAX_CIDRS 32
#define CONFIG_MAX_HIDE 16
#define CONFIG_MAX_CERTS 128 /* certificate = lines, all listeners */
/* Certificate and key paths: shorter than PATH_MAX, as there can be
 * hundreds of them in the configuration every process holds. */
#define CONFIG_TLS_PATH_MAX 1024

enum listen_mode {
	LISTEN_FORWARD = 0,
	LISTEN_REVERSE,
	LISTEN_ADMIN, /* from [admin]: /metrics and /stats.json only */
};

/* [admin]: the metrics endpoint.  When on, the loader appends it to
 * listens[] as a LISTEN_ADMIN listener named "admin". */
struct config_admin {
	char address[128]; /* "off" => "" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* A network in CIDR notation (trusted_proxies). */
struct config_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

/* Which header a reverse listener sets to the client's address. */
enum real_ip_header {
	REAL_IP_OFF = 0,
	REAL_IP_X_REAL_IP,
	REAL_IP_TRUE_CLIENT_IP,
};

/* One [listen NAME] section. */
struct config_listen {
	char name[CONFIG_NAME_MAX];
	char address[128];            /* as written: "127.0.0.1:3128" */
	struct sockaddr_storage addr; /* parsed from address */
	socklen_t addrlen;
	enum listen_mode mode;                    /* mode = forward */
	uint16_t connect_ports[CONFIG_MAX_PORTS]; /* connect_ports = 443 */
	unsigned n_connect_ports;
	int x_forwarded_for; /* x_forwarded_for = off */
	int allow_loopback;  /* allow_loopback = off */
	/* reverse listeners */
	char default_backend[CONFIG_NAME_MAX]; /* "" = none: 404 */
	unsigned default_backend_idx;
	int strict_host;    /* unknown Host: 421 instead of 404 */
	int proxy_protocol; /* clients speak PROXY v1/v2 first */
	int forwarded;      /* add an RFC 7239 Forwarded field */
	enum real_ip_header real_ip_header;
	char trusted_proxies[512]; /* as written */
	struct config_cidr trusted[CONFIG_MAX_CIDRS];
	unsigned n_trusted;
	char hide_headers[512];         /* as written */
	char hide[CONFIG_MAX_HIDE][64]; /* lower case */
	unsigned n_hide;
	/* TLS (tls/): clients speak TLS to this listener */
	int tls;
	char tls_cert[CONFIG_TLS_PATH_MAX]; /* default certificate chain, PEM */
	char tls_key[CONFIG_TLS_PATH_MAX];
	char tls_ocsp[CONFIG_TLS_PATH_MAX]; /* its stapled OCSP response, DER;
	                                       "" */
	char certificate[16];   /* placeholder member of the repeatable
	                         * key; the lines go to config.certs */
	unsigned tls_protocols; /* CONFIG_TLS_V12 | CONFIG_TLS_V13 */
	char tls_ciphers[512];  /* TLS 1.2 cipher list; "" = OpenSSL's */
	int line;               /* line of the [listen] header */
};

#define CONFIG_TLS_V12 1u
#define CONFIG_TLS_V13 2u

/* One `certificate = CERT KEY [ocsp=FILE]` line of a TLS listener. */
struct config_cert {
	unsigned listen; /* index in config.listens */
	char cert[CONFIG_TLS_PATH_MAX];
	char key[CONFIG_TLS_PATH_MAX];
	char ocsp[CONFIG_TLS_PATH_MAX]; /* "" = none */
	int line;
};

enum balance {
	BALANCE_ROUNDROBIN = 0,
	BALANCE_LEASTCONN,
	BALANCE_HASH,
	BALANCE_RANDOM,
};

enum hash_key {
	HASH_KEY_SOURCE = 0,
	HASH_KEY_URI,
	HASH_KEY_HEADER,
};

enum send_proxy {
	SEND_PROXY_OFF = 0,
	SEND_PROXY_V1,
	SEND_PROXY_V2,
};

/* One `server =` line of a [backend]. */
struct config_server {
	char name[128]; /* HOST:PORT as written */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned weight;    /* weight=N, 1..256; 1 */
	unsigned max_conns; /* max_conns=N per worker; 0 = no limit */
	int backup;         /* only when no other server is up */
	unsigned backend;   /* index in config.backends */
	int tls;            /* tls: speak TLS to it */
	char sni[256];      /* sni=NAME; "" = the HOST of HOST:PORT */
	int line;
};

/* One [backend NAME] section: a pool of servers. */
struct config_backend {
	char name[CONFIG_NAME_MAX];
	unsigned server[CONFIG_MAX_SERVERS]; /* indexes in config.servers */
	unsigned n_servers;
	enum balance balance;
	char hash_key[128]; /* as written */
	enum hash_key hash_kind;
	char hash_header[64]; /* header:NAME, lower case */
	char check[256];      /* "" (off), "tcp", or "METHOD /path" */
	uint64_t check_interval;
	uint64_t check_timeout;
	char check_status[16];    /* as written */
	unsigned check_status_lo; /* expected status range */
	unsigned check_status_hi;
	unsigned rise;
	unsigned fall;
	uint64_t connect_timeout;  /* 0: [timeouts] connect */
	uint64_t response_timeout; /* 0: [timeouts] upstream_response */
	unsigned retries;
	enum send_proxy send_proxy;
	unsigned keepalive; /* idle connections per server and worker */
	char tls_ca[CONFIG_TLS_PATH_MAX]; /* servers' CA bundle; "" = system
	                                     store */
	int tls_verify; /* check the server's certificate and name */
	char tls_client_cert[CONFIG_TLS_PATH_MAX]; /* mutual TLS; "" = none */
	char tls_client_key[CONFIG_TLS_PATH_MAX];
	int line;
};

/* One [route NAME] section: which backend serves which requests. */
struct config_route {
	char name[CONFIG_NAME_MAX];
	char listen[CONFIG_NAME_MAX]; /* "" = every reverse listener */
	int listen_idx;               /* its index; -1 = every one */
	char host[256];               /* "" any; exact, or .suffix */
	char path[256];               /* "" any; a prefix */
	char path_regex[256];         /* "" none; PCRE2 */
	char backend[CONFIG_NAME_MAX];
	unsigned backend_idx;
	char upgrade[128]; /* protocols Upgrade may switch to */
	int line;
};

/* [timeouts], all in milliseconds. */
struct config_timeouts {
	uint64_t client_header;     /* 10s: whole request head */
	uint64_t client_idle;       /* 60s: keep-alive wait, body stall */
	uint64_t connect;           /* 10s: upstream connect */
	uint64_t upstream_response; /* 60s: response head, body stall */
	uint64_t upstream_idle;     /* 30s: pooled upstream connection */
	uint64_t tunnel_idle;       /* 5m: CONNECT tunnel with no bytes */
	uint64_t drain;             /* 30s: graceful stop / reload */
};

enum access_log_format {
	ACCESS_LOG_COMBINED = 0, /* NCSA combined + upstream, bytes, time */
	ACCESS_LOG_JSON,         /* one JSON object per line */
};

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

struct config {
	char path[PATH_MAX];         /* the file this came from */
	unsigned workers;            /* "auto" resolved to the CPU count */
	char user[CONFIG_NAME_MAX];  /* nobody */
	char group[CONFIG_NAME_MAX]; /* "" = the user's primary group */
	char pid_file[PATH_MAX];
	char shm_file[PATH_MAX];
	char error_log[PATH_MAX];  /* "stderr" or a path */
	enum log_level log_level;  /* info */
	char access_log[PATH_MAX]; /* a path, "stderr", "syslog[:IP:PORT]",
	                            * or "off" => "" */
	enum access_log_format access_log_format; /* combined */
	int core_dumps;                           /* core_dumps = off */
	char rules[PATH_MAX];                     /* rules.ini; "" = no rules */
	char resolver[256];       /* "" = /etc/resolv.conf; IP[:PORT] */
	unsigned max_connections; /* per worker, 4096 */
	size_t max_header_size;   /* 32k */
	unsigned max_headers;     /* 100 */
	size_t max_uri_size;      /* 8k */
	struct config_timeouts timeouts;
	struct config_admin admin;
	struct config_listen listens[CONFIG_MAX_LISTENS];
	unsigned n_listens;
	struct config_backend backends[CONFIG_MAX_BACKENDS];
	unsigned n_backends;
	struct config_server servers[CONFIG_MAX_SERVERS];
	unsigned n_servers;
	struct config_route routes[CONFIG_MAX_ROUTES];
	unsigned n_routes;
	struct config_cert certs[CONFIG_MAX_CERTS];
	unsigned n_certs;
};

#endif
