/*
 * The JSON access log line (access_log_format = json): one object per
 * line, the same keys in the same order on every line, null for what is
 * unknown or not there.  Every string is escaped, and each byte >= 0x80
 * becomes \u00XX of that byte, so a line is valid JSON in plain ASCII
 * whatever a client sent, and the exact bytes can still be recovered.
 */
#include "worker/access_log.h"

#include "common/syslog.h"

/* A JSON string of s[0..len), or null when s is NULL. */
static void
str(struct access_log_out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = {'\\', 'u', '0', '0', '0', '0'}, e[2] = {'\\', 0};
	size_t i;

	if (!s) {
		access_log_puts(o, "null");
		return;
	}
	access_log_put(o, "\"", 1);
	for (i = 0; i < len && !o->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			access_log_put(o, s + i, 1);
		} else if (c == '"' || c == '\\' || c == '\n' || c == '\r' ||
		           c == '\t') {
			e[1] = c == '\n'   ? 'n'
			       : c == '\r' ? 'r'
			       : c == '\t' ? 't'
			                   : (char)c;
			access_log_put(o, e, 2);
		} else {
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			access_log_put(o, u, 6);
		}
	}
	access_log_put(o, "\"", 1);
}

static void
cstr(struct access_log_out *o, const char *s, size_t max)
{
	str(o, s, s ? strnlen(s, max) : 0);
}

/* A captured part; null when there was no request head, or for an absent
 * referer or user agent. */
static void
part(struct access_log_out *o, const struct access_log_entry *e,
     enum access_log_part i)
{
	const char *p = NULL;
	size_t len = 0;

	if (e->req)
		p = access_log_req_part(e->req, i, &len);
	if (len == 0 && i != ACCESS_LOG_METHOD && i != ACCESS_LOG_URL)
		p = NULL;
	str(o, p, len);
}

static void
request(struct access_log_out *o, const struct access_log_entry *e)
{
	access_log_puts(o, ",\"method\":");
	part(o, e, ACCESS_LOG_METHOD);
	access_log_puts(o, ",\"url\":");
	part(o, e, ACCESS_LOG_URL);
	access_log_puts(o, ",\"host\":");
	cstr(o, e->host, ACCESS_LOG_HOST_MAX);
	access_log_puts(o, ",\"port\":");
	if (e->port)
		access_log_putu(o, e->port);
	else
		access_log_puts(o, "null");
	access_log_puts(o, ",\"version\":");
	if (e->req)
		access_log_puts(o, e->req->version == 11 ? "\"HTTP/1.1\""
		                                         : "\"HTTP/1.0\"");
	else
		access_log_puts(o, "null");
}

static void
traffic(struct access_log_out *o, const struct access_log_entry *e)
{
	access_log_puts(o, ",\"status\":");
	access_log_putu(o, e->status);
	access_log_puts(o, ",\"bytes_in\":");
	access_log_putu(o, e->bytes_in);
	access_log_puts(o, ",\"bytes_out\":");
	access_log_putu(o, e->bytes_out);
	access_log_puts(o, ",\"upstream\":");
	cstr(o, e->upstream, ACCESS_LOG_HOST_MAX);
	access_log_puts(o, ",\"duration_ms\":");
	access_log_putu(o, e->duration_ms);
	access_log_puts(o,
	                e->tunnel ? ",\"tunnel\":true" : ",\"tunnel\":false");
}

/* What later parts fill (rules, TLS), then the client's own fields. */
static void
extras(struct access_log_out *o, const struct access_log_entry *e)
{
	access_log_puts(o, ",\"rule\":");
	cstr(o, e->rule, ACCESS_LOG_HOST_MAX);
	access_log_puts(o, ",\"action\":");
	cstr(o, e->action, ACCESS_LOG_HOST_MAX);
	access_log_puts(o, ",\"tls_sni\":");
	cstr(o, e->tls_sni, ACCESS_LOG_HOST_MAX);
	access_log_puts(o, ",\"tls\":");
	cstr(o, e->tls, ACCESS_LOG_TLS_MAX);
	access_log_puts(o, ",\"referer\":");
	part(o, e, ACCESS_LOG_REFERER);
	access_log_puts(o, ",\"user_agent\":");
	part(o, e, ACCESS_LOG_USER_AGENT);
}

size_t
access_log_json(char *out, size_t cap, const struct access_log_entry *e)
{
	struct access_log_out o = {out, 0, cap, 0};
	char ts[40];

	if (syslog_timestamp(ts, sizeof(ts), &e->time) == 0)
		return 0;
	access_log_puts(&o, "{\"time\":\"");
	access_log_puts(&o, ts);
	access_log_puts(&o, "\",\"client\":");
	cstr(&o, e->client, ACCESS_LOG_HOST_MAX);
	access_log_puts(&o, ",\"client_port\":");
	access_log_putu(&o, e->client_port);
	access_log_puts(&o, ",\"user\":");
	cstr(&o, e->user, ACCESS_LOG_HOST_MAX);
	request(&o, e);
	traffic(&o, e);
	extras(&o, e);
	access_log_puts(&o, "}");
	return access_log_end(&o);
}
