/*
 * The rules engine's matchers: sets built once in the master at load time
 * (then shared copy-on-write by the workers) and queried per request
 * without allocating.  Each has one job and its own file:
 *   rules/cidr.c      client/destination address sets (a prefix tree)
 *   rules/domains.c   host name sets: exact names and .suffix names
 *   rules/regex_set.c PCRE2 (JIT) pattern lists behind a literal prefilter
 *   rules/timewin.c   weekly time windows in a time zone
 *   rules/sni.c       the server name of a TLS ClientHello
 * Build functions return 0, or -1 with err set to one line (no file:line:
 * the loader adds it).
 */
#ifndef RULES_MATCH_H
#define RULES_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* ---- rules/cidr.c ---- */

struct cidr_set;

struct cidr_set *cidr_set_new(void);
void cidr_set_free(struct cidr_set *s);
/* "10.0.0.0/8", "192.168.1.7" (= /32), "2001:db8::/32", "::1".  Host bits
 * set below the prefix are an error ("10.1.2.3/8": say 10.0.0.0/8). */
int cidr_set_add(struct cidr_set *s, const char *text, char *err,
                 size_t errlen);
/* 1 if sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as IPv4) is in
 * the set. */
int cidr_set_match(const struct cidr_set *s, const struct sockaddr *sa);
size_t cidr_set_count(const struct cidr_set *s);

/* ---- rules/domains.c ---- */

struct domain_set;

struct domain_set *domain_set_new(void);
void domain_set_free(struct domain_set *s);
/* "example.com" matches exactly that name; ".example.com" matches
 * example.com and every name below it.  Case-insensitive; a trailing dot
 * is ignored.  Invalid names are an error. */
int domain_set_add(struct domain_set *s, const char *name, char *err,
                   size_t errlen);
/* One name per line; blank lines and lines starting with # are skipped;
 * errors name the file's line: "FILE:LINE: reason". */
int domain_set_add_file(struct domain_set *s, const char *path, char *err,
                        size_t errlen);
/* host: len bytes, any case, no trailing dot needed.  1 on a match. */
int domain_set_match(const struct domain_set *s, const char *host, size_t len);
size_t domain_set_count(const struct domain_set *s);
size_t domain_set_memory(const struct domain_set *s); /* bytes */

/* ---- rules/regex_set.c ---- */

struct regex_set;

struct regex_set *regex_set_new(void);
void regex_set_free(struct regex_set *s);
/* A PCRE2 pattern (UTF-8 off, JIT where available).  Errors carry PCRE2's
 * message and the offset: "at offset 3: missing closing parenthesis". */
int regex_set_add(struct regex_set *s, const char *pattern, int caseless,
                  char *err, size_t errlen);
/* One pattern per line (blank and # lines skipped); "FILE:LINE: ..." */
int regex_set_add_file(struct regex_set *s, const char *path, int caseless,
                       char *err, size_t errlen);
/* Builds the prefilter; call once after the last add. */
int regex_set_compile(struct regex_set *s, char *err, size_t errlen);
/* Index (in add order) of the first pattern that matches subject, or -1.
 * Thread-compatible: the per-call scratch is the caller's (see below). */
struct regex_scratch;
struct regex_scratch *regex_scratch_new(const struct regex_set *s);
void regex_scratch_free(struct regex_scratch *sc);
int regex_set_match(const struct regex_set *s, struct regex_scratch *sc,
                    const char *subject, size_t len);
size_t regex_set_count(const struct regex_set *s);
const char *regex_set_pattern(const struct regex_set *s, size_t i);

/* ---- rules/timewin.c ---- */

/* "Mon-Fri 08:00-18:00", "Sat,Sun 00:00-24:00", "22:00-06:00" (every
 * day).  A window whose end is not after its start crosses midnight: the
 * hours after midnight belong to the start day's window.  One window per
 * value; a rule that lists several means any of them. */
struct timewin {
	uint8_t days;   /* bit 0 = Sunday .. bit 6 = Saturday */
	uint16_t start; /* minutes after midnight, 0..1439 */
	uint16_t end;   /* 1..1440; end <= start: crosses midnight */
};
int timewin_parse(const char *text, struct timewin *w, char *err,
                  size_t errlen);
/* tm: local time in the configured zone (the caller converts). */
int timewin_match(const struct timewin *w, const struct tm *tm);

/* ---- rules/sni.c ---- */

enum sni_result {
	SNI_FOUND = 0, /* name set */
	SNI_NONE,      /* a complete ClientHello without SNI */
	SNI_AGAIN,     /* need more bytes */
	SNI_NOT_TLS,   /* not a TLS handshake / not a ClientHello */
};
/* Parses the first TLS record(s) of a connection without decrypting
 * anything.  name gets the host_name (NUL-terminated, lower-cased) when
 * SNI_FOUND.  Never reads past len. */
enum sni_result sni_parse(const uint8_t *buf, size_t len, char *name,
                          size_t cap);

#endif
