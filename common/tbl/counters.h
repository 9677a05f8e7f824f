/*
 * Every counter proxyd keeps, defined once.  Include after defining
 * COUNTER(name, kind, help) — kind is counter (only goes up) or gauge.
 * The enum, names, shm descriptions and docs are generated from here.
 */
COUNTER(conn_accepted, counter, "Client connections accepted")
COUNTER(conn_active, gauge, "Client connections open now")
COUNTER(conn_refused, counter,
        "Times a worker hit max_connections and left new connections in the "
        "backlog")
COUNTER(requests, counter, "HTTP requests received (heads parsed)")
COUNTER(tunnels, counter, "CONNECT tunnels established")
COUNTER(tunnels_active, gauge, "CONNECT tunnels open now")
COUNTER(responses_1xx, counter, "Responses with a 1xx status sent to clients")
COUNTER(responses_2xx, counter, "Responses with a 2xx status sent to clients")
COUNTER(responses_3xx, counter, "Responses with a 3xx status sent to clients")
COUNTER(responses_4xx, counter, "Responses with a 4xx status sent to clients")
COUNTER(responses_5xx, counter, "Responses with a 5xx status sent to clients")
COUNTER(bytes_from_clients, counter, "Bytes read from clients")
COUNTER(bytes_to_clients, counter, "Bytes written to clients")
COUNTER(bytes_from_upstreams, counter, "Bytes read from upstreams")
COUNTER(bytes_to_upstreams, counter, "Bytes written to upstreams")
COUNTER(upstream_connects, counter, "Upstream connections opened")
COUNTER(upstream_reuses, counter,
        "Requests sent on a pooled upstream connection")
COUNTER(upstream_connect_failures, counter,
        "Upstream connection attempts that failed")
COUNTER(dns_lookups, counter, "DNS lookups sent to the resolver")
COUNTER(dns_cache_hits, counter, "Host names answered from the DNS cache")
COUNTER(dns_failures, counter, "DNS lookups that failed")
COUNTER(errors_400, counter, "400 Bad Request answers (malformed or smuggling)")
COUNTER(errors_403, counter,
        "403 Forbidden answers (denied CONNECT port or address)")
COUNTER(errors_404, counter, "404 Not Found answers (reverse: no route)")
COUNTER(errors_421, counter,
        "421 Misdirected Request answers (reverse: unknown Host)")
COUNTER(errors_408, counter, "408 Request Timeout answers")
COUNTER(errors_414, counter, "414 URI Too Long answers")
COUNTER(errors_431, counter, "431 Request Header Fields Too Large answers")
COUNTER(errors_508, counter,
        "508 Loop Detected answers (request came back through this proxy)")
COUNTER(errors_501, counter, "501 Not Implemented answers")
COUNTER(errors_502, counter, "502 Bad Gateway answers")
COUNTER(errors_503, counter, "503 Service Unavailable answers")
COUNTER(errors_504, counter, "504 Gateway Timeout answers")
COUNTER(errors_505, counter, "505 HTTP Version Not Supported answers")
COUNTER(timeouts_client_header, counter, "Client heads not complete in time")
COUNTER(timeouts_client_idle, counter,
        "Client connections idle or stalled too long")
COUNTER(timeouts_connect, counter, "Upstream connects not complete in time")
COUNTER(timeouts_upstream_response, counter,
        "Upstream responses late or stalled")
COUNTER(timeouts_tunnel_idle, counter, "CONNECT tunnels idle too long")
COUNTER(reverse_requests, counter, "Requests taken by reverse listeners")
COUNTER(route_misses, counter,
        "Reverse requests no route took (404, or 421 strict_host)")
COUNTER(backend_no_server, counter,
        "Reverse requests answered 503: no server of the backend up")
COUNTER(backend_failovers, counter,
        "Reverse requests moved to another server after a failure")
COUNTER(backend_upgrades, counter,
        "Upgrades (WebSocket) switched to a tunnel to a backend")
COUNTER(proxy_protocol_errors, counter,
        "Connections closed for a missing or bad PROXY header")
COUNTER(tls_handshakes, counter, "TLS handshakes completed with clients")
COUNTER(tls_resumptions, counter,
        "Client TLS handshakes that resumed a session (ticket)")
COUNTER(tls_v12, counter, "Client TLS handshakes with TLS 1.2")
COUNTER(tls_v13, counter, "Client TLS handshakes with TLS 1.3")
COUNTER(tls_failures_protocol, counter,
        "Client TLS handshakes failed: version, cipher or not TLS at all")
COUNTER(tls_failures_certificate, counter,
        "Client TLS handshakes failed: the client refused our certificate")
COUNTER(tls_failures_timeout, counter,
        "Client TLS handshakes not complete within client_header")
COUNTER(tls_failures_other, counter,
        "Client TLS handshakes failed otherwise (closed, reset)")
COUNTER(tls_upstream_handshakes, counter,
        "TLS handshakes completed with backend servers")
COUNTER(tls_upstream_resumptions, counter,
        "Backend TLS handshakes that resumed a session")
COUNTER(tls_upstream_failures, counter,
        "Backend TLS handshakes failed (verification, protocol)")
COUNTER(rules_allowed, counter, "Requests allowed by the rules")
COUNTER(rules_denied, counter, "Requests denied by the rules")
COUNTER(worker_starts, counter, "Worker processes started")
COUNTER(worker_deaths, counter, "Worker processes that died unexpectedly")
COUNTER(reloads_ok, counter, "Configuration reloads that succeeded")
COUNTER(reloads_failed, counter, "Configuration reloads rejected")
#undef COUNTER
