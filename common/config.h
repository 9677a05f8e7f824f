/*
 * Loading and validating proxyd.ini.  Errors are "file:line: message".
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include "common/config-t.h"

#include <stdio.h>

/* Fills *cfg with defaults, then the file.  0, or -1 with err set. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Defaults only (no file): what an empty proxyd.ini means. */
void config_defaults(struct config *cfg);

/* "500ms", "10s", "2m", "1h", bare number = seconds.  0 or -1. */
int config_parse_duration(const char *s, uint64_t *ms);
/* "512", "32k", "1m", "1g" (powers of 1024).  0 or -1. */
int config_parse_size(const char *s, size_t *bytes);
/* "127.0.0.1:3128", "[::1]:3128", "*:3128", ":3128".  0 or -1. */
int config_parse_address(const char *s, struct sockaddr_storage *ss,
                         socklen_t *len);

/* The other value parsers, public for the unit tests and for parts that
 * take the same syntax elsewhere.  Each returns 0, or -1 on any byte it
 * does not understand; on -1 the output is unspecified for the address
 * parsers and config_parse_ports, untouched for the others. */
/* Decimal digits only: no sign, no blanks. */
int config_parse_uint(const char *s, uint64_t *v);
/* on/off, yes/no, true/false, 1/0 (any case). */
int config_parse_bool(const char *s, int *b);
/* 1..65535. */
int config_parse_port(const char *s, uint16_t *port);
/* "443, 8443": at most max distinct ports. */
int config_parse_ports(const char *s, uint16_t *ports, unsigned max,
                       unsigned *n);
/* "auto" (online CPUs, capped at CONFIG_MAX_WORKERS) or 1..256. */
int config_parse_workers(const char *s, unsigned *n);
/* error, warn, info, debug. */
int config_parse_log_level(const char *s, enum log_level *level);
int config_parse_log_format(const char *s, enum access_log_format *f);
const char *config_log_format_name(enum access_log_format f);
/* forward, reverse (the loader refuses reverse for now). */
int config_parse_mode(const char *s, enum listen_mode *mode);
/* A DNS server: "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" (port 53 when
 * not given); a bare IPv6 address is accepted too. */
int config_parse_resolver(const char *s, struct sockaddr_storage *ss,
                          socklen_t *len);

/* 1 if two listen addresses cannot both be bound: the same address and
 * port, or the same port with the family's wildcard on either side. */
int config_address_clash(const struct sockaddr_storage *a,
                         const struct sockaddr_storage *b);

/* The index of s in a table of names, or -1; the name at i, or "?". */
int config_name_lookup(const char *const *names, size_t n, const char *s);
const char *config_name_of(const char *const *names, size_t n, unsigned i);
/* Names for the enums above ("?" when out of range). */
const char *config_log_level_name(enum log_level level);
const char *config_listen_mode_name(enum listen_mode mode);
/* The shortest exact spelling the parsers read back: "10s", "32k". */
void config_format_duration(uint64_t ms, char *buf, size_t len);
void config_format_size(size_t bytes, char *buf, size_t len);

/* Writes cfg as an annotated proxyd.ini (every key, its help line, its
 * value), one that config_load() reads back to the same config: what
 * `proxyd -t` can show. */
void config_dump(const struct config *cfg, FILE *out);

#endif
