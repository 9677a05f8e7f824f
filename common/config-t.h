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
	int line;            /* line of the [listen] header */
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
};

#endif
