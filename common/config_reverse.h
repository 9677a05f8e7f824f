/*
 * Parsers for the reverse-proxy values of proxyd.ini ([backend], [route],
 * the reverse keys of [listen]).  0 or -1; nothing here knows files or
 * lines.
 */
#ifndef COMMON_CONFIG_REVERSE_H
#define COMMON_CONFIG_REVERSE_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/config-t.h"

int config_parse_balance(const char *s, enum balance *b);
const char *config_balance_name(enum balance b);
int config_parse_send_proxy(const char *s, enum send_proxy *p);
const char *config_send_proxy_name(enum send_proxy p);
int config_parse_real_ip(const char *s, enum real_ip_header *h);
const char *config_real_ip_name(enum real_ip_header h);
/* source, uri, or header:NAME (NAME into header, lower case). */
int config_parse_hash_key(const char *s, enum hash_key *k, char *header,
                          size_t hlen);
/* off, tcp, or "METHOD /path". */
int config_parse_check(const char *s);
/* 200, 200-299, 2xx. */
int config_parse_status_range(const char *s, unsigned *lo, unsigned *hi);
/* HOST:PORT [weight=N] [max_conns=N] [backup]; a name is resolved now. */
int config_parse_server(const char *s, struct config_server *sv, char *why,
                        size_t n);
/* IP or IP/PREFIX. */
int config_parse_cidr(const char *s, struct config_cidr *c);
/* A comma list of CIDRs. */
int config_parse_cidrs(const char *s, struct config_cidr *out, unsigned max,
                       unsigned *n);
/* "off" (none) or a comma list of field names, stored in lower case. */
int config_parse_field_names(const char *s, char (*out)[64], unsigned max,
                             unsigned *n);
int config_parse_upgrade(const char *s);
int config_parse_route_host(const char *s);
int config_parse_route_path(const char *s);
/* Compiles s with PCRE2 to check it; why says where it is wrong. */
int config_parse_regex(const char *s, char *why, size_t n);

/* The HOST part of a server's HOST:PORT, without IPv6 brackets. */
void config_server_host(const struct config_server *sv, char *out, size_t n);
/* CERT KEY [ocsp=FILE] */
int config_parse_certificate(const char *s, struct config_cert *c);
/* TLSv1.2 and/or TLSv1.3 into CONFIG_TLS_* bits. */
int config_parse_tls_protocols(const char *s, unsigned *mask);

/* 1 when sa is inside one of the n networks. */
int config_cidr_match(const struct config_cidr *c, unsigned n,
                      const struct sockaddr *sa);

#endif
