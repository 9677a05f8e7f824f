/*
 * The combined access log line (access_log_format = combined, the
 * default): NCSA combined, which every log analyser reads, followed by
 * what a proxy's admin needs and combined lacks:
 *
 *   CLIENT - USER [TIME] "METHOD URL HTTP/1.x" STATUS BYTES_OUT "REFERER"
 *   "USER_AGENT" up=UPSTREAM rx=BYTES_IN ms=DURATION
 *   [rule=NAME action=ACTION] [sni=NAME]  (when rules are loaded)
 *   [tls=VERSION/CIPHER]                 (TLS listeners)
 *
 * Quotes, backslashes, control bytes and bytes >= 0x7f from the client are
 * written as \xHH, so a client cannot forge a line or break a field.
 */
#include "worker/access_log.h"

#include <time.h>

static void
esc(struct access_log_out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char x[4] = {'\\', 'x', 0, 0};
	size_t i;

	for (i = 0; i < len && !o->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
			x[2] = hex[c >> 4];
			x[3] = hex[c & 15];
			access_log_put(o, x, 4);
		} else {
			access_log_put(o, s + i, 1);
		}
	}
}

/* A string of ours (address, user name), or "-". */
static void
word(struct access_log_out *o, const char *s)
{
	if (s && *s)
		esc(o, s, strnlen(s, ACCESS_LOG_HOST_MAX));
	else
		access_log_put(o, "-", 1);
}

/* The CLF time in local time; formatted once a second, not per line. */
static const char *
clf_time(time_t t)
{
	static char cached[40];
	static time_t cached_at = (time_t)-1;
	struct tm tm;

	if (t != cached_at) {
		localtime_r(&t, &tm);
		strftime(cached, sizeof(cached), "%d/%b/%Y:%H:%M:%S %z", &tm);
		cached_at = t;
	}
	return cached;
}

/* A referer or user agent in quotes, "-" when absent. */
static void
quoted(struct access_log_out *o, const struct access_log_req *r,
       enum access_log_part i)
{
	const char *p = NULL;
	size_t len = 0;

	if (r)
		p = access_log_req_part(r, i, &len);
	access_log_put(o, " \"", 2);
	if (len)
		esc(o, p, len);
	else
		access_log_put(o, "-", 1);
	access_log_put(o, "\"", 1);
}

/* "METHOD URL HTTP/1.x", or "-" when no request head was parsed. */
static void
request_line(struct access_log_out *o, const struct access_log_req *r)
{
	const char *p;
	size_t len;

	access_log_put(o, "\"", 1);
	if (r) {
		p = access_log_req_part(r, ACCESS_LOG_METHOD, &len);
		esc(o, p, len);
		access_log_put(o, " ", 1);
		p = access_log_req_part(r, ACCESS_LOG_URL, &len);
		esc(o, p, len);
		access_log_puts(o,
		                r->version == 11 ? " HTTP/1.1" : " HTTP/1.0");
	} else {
		access_log_put(o, "-", 1);
	}
	access_log_put(o, "\"", 1);
}

size_t
access_log_combined(char *out, size_t cap, const struct access_log_entry *e)
{
	struct access_log_out o = {out, 0, cap, 0};

	word(&o, e->client);
	access_log_puts(&o, " - ");
	word(&o, e->user);
	access_log_puts(&o, " [");
	access_log_puts(&o, clf_time(e->time.tv_sec));
	access_log_puts(&o, "] ");
	request_line(&o, e->req);
	access_log_put(&o, " ", 1);
	access_log_putu(&o, e->status);
	access_log_put(&o, " ", 1);
	access_log_putu(&o, e->bytes_out);
	quoted(&o, e->req, ACCESS_LOG_REFERER);
	quoted(&o, e->req, ACCESS_LOG_USER_AGENT);
	access_log_puts(&o, " up=");
	word(&o, e->upstream);
	access_log_puts(&o, " rx=");
	access_log_putu(&o, e->bytes_in);
	access_log_puts(&o, " ms=");
	access_log_putu(&o, e->duration_ms);
	if (e->rule) { /* names are [A-Za-z0-9_.-]: no quoting needed */
		access_log_puts(&o, " rule=");
		access_log_puts(&o, e->rule);
		access_log_puts(&o, " action=");
		access_log_puts(&o, e->action ? e->action : "-");
	}
	if (e->tls_sni) {
		access_log_puts(&o, " sni=");
		word(&o, e->tls_sni);
	}
	if (e->tls) {
		access_log_puts(&o, " tls=");
		word(&o, e->tls);
	}
	return access_log_end(&o);
}
