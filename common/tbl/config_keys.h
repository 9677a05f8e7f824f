/*
 * Every proxyd.ini section and key, defined once.  Include after defining
 * CONFIG_SECTION(section, st, kind, help) and/or
 * CONFIG_KEY(section, st, key, type, min, max, def, help); whichever is not
 * defined expands to nothing.  Defaults, parsing, unknown-key detection,
 * the annotated dump and the docs are all generated from these rows.
 *
 *   section   the word in [section]
 *   st        the struct the section's values are stored in (struct st)
 *   kind      single: at most one, no name ([proxyd]);
 *             named: repeatable, one struct each ([listen NAME])
 *   key       the key, and the member of struct st that holds it
 *             (offsetof(struct st, key); config.c checks its C type)
 *   type      how the value is read and printed (types[] in config.c)
 *   min, max  bounds written as in the file ("1k", "24h"); for strings,
 *             lengths ("1" = must not be empty); "" = no bound
 *   def       the default, written as in the file; NULL = required
 *   help      one line for the dump and the docs
 */
#ifndef CONFIG_SECTION
#define CONFIG_SECTION(section, st, kind, help)
#endif
#ifndef CONFIG_KEY
#define CONFIG_KEY(section, st, key, type, min, max, def, help)
#endif

/* clang-format off */
CONFIG_SECTION(proxyd, config, single,
	"The daemon: processes, files, logs and request limits")
CONFIG_SECTION(timeouts, config_timeouts, single,
	"Timeouts: 500ms, 10s, 2m, 1h (a bare number is seconds)")
CONFIG_SECTION(admin, config_admin, single,
	"The metrics endpoint: GET /metrics (Prometheus), /stats.json")
CONFIG_SECTION(listen, config_listen, named,
	"A listening socket; NAME is 1..63 of A-Z a-z 0-9 _ . -")
CONFIG_SECTION(backend, config_backend, named,
	"A pool of servers reverse listeners send requests to")
CONFIG_SECTION(route, config_route, named,
	"Which backend serves a request: first match in file order")

CONFIG_KEY(proxyd, config, workers, workers, "", "", "auto",
	"Worker processes: auto (one per online CPU) or 1..256")
CONFIG_KEY(proxyd, config, user, name, "1", "", "nobody",
	"User the workers run as when proxyd is started as root")
CONFIG_KEY(proxyd, config, group, name, "", "", "",
	"Group for the workers; empty = the user's primary group")
CONFIG_KEY(proxyd, config, pid_file, path, "1", "",
	"/run/proxyd/proxyd.pid",
	"File holding the master's process id")
CONFIG_KEY(proxyd, config, shm_file, path, "1", "",
	"/run/proxyd/proxyd.shm",
	"Shared-memory segment proxyctl reads (counters, rules)")
CONFIG_KEY(proxyd, config, error_log, path, "1", "",
	"/var/log/proxyd/error.log",
	"Error log: a file, stderr, or syslog[:IP:PORT]")
CONFIG_KEY(proxyd, config, log_level, log_level, "", "", "info",
	"Least severe error-log lines kept: error, warn, info, debug")
CONFIG_KEY(proxyd, config, access_log, access_log, "1", "",
	"/var/log/proxyd/access.log",
	"Access log: a file, stderr, syslog[:IP:PORT], or off")
CONFIG_KEY(proxyd, config, access_log_format, log_format, "", "",
	"combined",
	"Access log lines: combined (NCSA + extras) or json")
CONFIG_KEY(proxyd, config, rules, path, "", "", "",
	"Access and filtering rules file (rules.ini); empty = none")
CONFIG_KEY(proxyd, config, core_dumps, bool, "", "", "off",
	"Let a crashing worker dump core (they hold traffic): on or off")
CONFIG_KEY(proxyd, config, resolver, resolver, "", "", "",
	"DNS server IP[:PORT] or [IPv6]:PORT; empty = /etc/resolv.conf")
CONFIG_KEY(proxyd, config, max_connections, uint, "1", "1000000", "4096",
	"Client connections each worker holds at most")
CONFIG_KEY(proxyd, config, max_header_size, size, "1k", "1m", "32k",
	"Largest request head, request line included (431 beyond)")
CONFIG_KEY(proxyd, config, max_headers, uint, "1", "10000", "100",
	"Most header fields in one request (431 beyond)")
CONFIG_KEY(proxyd, config, max_uri_size, size, "256", "1m", "8k",
	"Longest request target, <= max_header_size (414 beyond)")

CONFIG_KEY(timeouts, config_timeouts, client_header, duration,
	"1ms", "24h", "10s",
	"The client sends its whole request head (408 after)")
CONFIG_KEY(timeouts, config_timeouts, client_idle, duration,
	"1ms", "24h", "60s",
	"Keep-alive wait for the next request; request body stall")
CONFIG_KEY(timeouts, config_timeouts, connect, duration,
	"1ms", "24h", "10s",
	"Connecting to an upstream server")
CONFIG_KEY(timeouts, config_timeouts, upstream_response, duration,
	"1ms", "24h", "60s",
	"Upstream response head; response body stall")
CONFIG_KEY(timeouts, config_timeouts, upstream_idle, duration,
	"1ms", "24h", "30s",
	"A pooled keep-alive upstream connection left unused")
CONFIG_KEY(timeouts, config_timeouts, tunnel_idle, duration,
	"1ms", "24h", "5m",
	"A CONNECT tunnel with no bytes either way")
CONFIG_KEY(timeouts, config_timeouts, drain, duration,
	"1ms", "24h", "30s",
	"In-flight work may finish on graceful stop or reload")

CONFIG_KEY(admin, config_admin, address, admin_address, "", "", "off",
	"off, or IP:PORT to serve it on (keep it on loopback or a LAN)")

CONFIG_KEY(listen, config_listen, address, address, "", "", NULL,
	"IP:PORT, [IPv6]:PORT, or *:PORT for every IPv4 address")
CONFIG_KEY(listen, config_listen, mode, mode, "", "", "forward",
	"forward (clients name the origin) or reverse (we name it)")
CONFIG_KEY(listen, config_listen, connect_ports, ports, "", "", "443",
	"Ports CONNECT may reach, comma-separated")
CONFIG_KEY(listen, config_listen, x_forwarded_for, bool, "", "", "off",
	"Forward: add X-Forwarded-For (reverse listeners always do)")
CONFIG_KEY(listen, config_listen, allow_loopback, bool, "", "", "off",
	"Let clients reach this host's loopback (127/8, ::1): on or off")
CONFIG_KEY(listen, config_listen, default_backend, ref, "", "", "",
	"Reverse: backend for requests no route takes; empty = 404")
CONFIG_KEY(listen, config_listen, strict_host, bool, "", "", "off",
	"Reverse: a Host no route names gets 421, not the default")
CONFIG_KEY(listen, config_listen, proxy_protocol, bool, "", "", "off",
	"Clients send a PROXY v1/v2 header first (behind an L4 balancer)")
CONFIG_KEY(listen, config_listen, trusted_proxies, cidrs, "", "", "",
	"Reverse: CIDRs whose X-Forwarded-For is kept and believed")
CONFIG_KEY(listen, config_listen, forwarded, bool, "", "", "off",
	"Reverse: also add an RFC 7239 Forwarded field")
CONFIG_KEY(listen, config_listen, real_ip_header, real_ip, "", "", "off",
	"Reverse: off, x-real-ip or true-client-ip (set to the client)")
CONFIG_KEY(listen, config_listen, hide_headers, hide, "", "",
	"Server, X-Powered-By",
	"Reverse: response fields removed to hide the backends")
CONFIG_KEY(listen, config_listen, tls, bool, "", "", "off",
	"Clients speak TLS (HTTPS site, or an HTTPS proxy): on or off")
CONFIG_KEY(listen, config_listen, tls_cert, path, "", "", "",
	"Default certificate chain (PEM, leaf first) when tls = on")
CONFIG_KEY(listen, config_listen, tls_key, path, "", "", "",
	"Its private key (PEM); read by the master, may be root-only")
CONFIG_KEY(listen, config_listen, tls_ocsp, path, "", "", "",
	"DER OCSP response stapled with the default certificate")
CONFIG_KEY(listen, config_listen, certificate, certificate, "", "", "",
	"Repeatable: CERT KEY [ocsp=FILE], chosen by SNI from its names")
CONFIG_KEY(listen, config_listen, tls_protocols, tls_protocols, "", "",
	"TLSv1.2 TLSv1.3",
	"TLS versions offered: TLSv1.2 and/or TLSv1.3")
CONFIG_KEY(listen, config_listen, tls_ciphers, tls_ciphers, "", "", "",
	"TLS 1.2 cipher list (OpenSSL syntax); empty = OpenSSL's secure default")

CONFIG_KEY(backend, config_backend, server, server, "", "", NULL,
	"Repeatable: HOST:PORT [weight=N] [max_conns=N] [backup] [tls] [sni=NAME]")
CONFIG_KEY(backend, config_backend, balance, balance, "", "", "roundrobin",
	"roundrobin, leastconn, hash or random (two choices)")
CONFIG_KEY(backend, config_backend, hash_key, hash_key, "", "", "source",
	"balance = hash: source, uri or header:NAME")
CONFIG_KEY(backend, config_backend, check, check, "", "", "off",
	"Active health check: off, tcp, or METHOD /path")
CONFIG_KEY(backend, config_backend, check_interval, duration,
	"100ms", "1h", "2s",
	"Time between two checks of a server")
CONFIG_KEY(backend, config_backend, check_timeout, duration,
	"10ms", "1m", "2s",
	"A check that has not answered by then failed")
CONFIG_KEY(backend, config_backend, check_status, status_range, "", "",
	"200-399",
	"Check answers that count as up: 200, 200-299 or 2xx")
CONFIG_KEY(backend, config_backend, rise, uint, "1", "100", "2",
	"Successes in a row that bring a down server back")
CONFIG_KEY(backend, config_backend, fall, uint, "1", "100", "3",
	"Failures in a row (checks or requests) that take it out")
CONFIG_KEY(backend, config_backend, connect_timeout, duration,
	"0ms", "24h", "0ms",
	"Connecting to a server; 0 = [timeouts] connect")
CONFIG_KEY(backend, config_backend, response_timeout, duration,
	"0ms", "24h", "0ms",
	"Response head, body stall; 0 = [timeouts] upstream_response")
CONFIG_KEY(backend, config_backend, retries, uint, "0", "16", "2",
	"Other servers a failed request may be tried on")
CONFIG_KEY(backend, config_backend, send_proxy, send_proxy, "", "", "off",
	"Send a PROXY header to the servers: off, v1 or v2")
CONFIG_KEY(backend, config_backend, keepalive, uint, "0", "10000", "32",
	"Idle connections kept per server and worker")
CONFIG_KEY(backend, config_backend, tls_ca, path, "", "", "",
	"CA bundle (PEM) for servers marked tls; empty = the system's")
CONFIG_KEY(backend, config_backend, tls_verify, bool, "", "", "on",
	"Check tls servers' certificates and names: on or off")
CONFIG_KEY(backend, config_backend, tls_client_cert, path, "", "", "",
	"Client certificate (PEM) for mutual TLS; empty = none")
CONFIG_KEY(backend, config_backend, tls_client_key, path, "", "", "",
	"Its private key (PEM)")

CONFIG_KEY(route, config_route, listen, ref, "", "", "",
	"Only for this [listen]; empty = every reverse listener")
CONFIG_KEY(route, config_route, host, route_host, "", "", "",
	"Host: exact name, or .suffix for it and its subdomains")
CONFIG_KEY(route, config_route, path, route_path, "", "", "",
	"Path prefix, starting with /")
CONFIG_KEY(route, config_route, path_regex, regex, "", "", "",
	"Path and query matched by a PCRE2 pattern")
CONFIG_KEY(route, config_route, backend, ref, "1", "", NULL,
	"The [backend] that serves what this route takes")
CONFIG_KEY(route, config_route, upgrade, upgrade, "", "", "websocket",
	"Protocols Upgrade may switch to (comma list), or off")
/* clang-format on */

#undef CONFIG_SECTION
#undef CONFIG_KEY
