/*
 * A listener with proxy_protocol = on sits behind an L4 balancer that
 * starts each connection with a PROXY header (v1 or v2) saying whose it
 * is.  The header is read before the first request; its source becomes
 * the session's peer, for the rules, the logs and X-Forwarded-For.  A
 * connection without a valid one is closed: anything else would let a
 * client choose its own address.
 */
#include "worker/session.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "worker/proxy_protocol.h"
#include "worker/stats.h"

#define PEEK_MAX 4096 /* a v2 header with TLVs beyond this is refused */

static void
refuse(struct session *s, const char *why)
{
	STATS_INC(proxy_protocol_errors);
	log_info("[listen %s]: closing a connection without a valid PROXY "
	         "header: %s",
	         s->listen->name, why ? why : "?");
	session_close(s);
}

/* The header's source is the client from now on. */
static void
take(struct session *s, const struct proxy_protocol_info *pi)
{
	if (!pi->local)
		memcpy(&s->peer, &pi->src, sizeof(pi->src));
	s->pp_done = 1;
}

int
client_proxy_peek(struct session *s)
{
	struct proxy_protocol_info pi;
	const char *why = NULL;
	char buf[PEEK_MAX];
	ssize_t n = recv(s->cli.io.fd, buf, sizeof(buf), MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		s->cli.readable = 0;
		return 0;
	}
	if (n <= 0) {
		refuse(s, "connection closed before the header");
		return -1;
	}
	switch (proxy_protocol_parse(buf, (size_t)n, &pi, &why)) {
	case PROXY_PROTOCOL_AGAIN:
		if (n < PEEK_MAX) {
			s->cli.readable = 0; /* wait for the rest */
			return 0;
		}
		why = "header larger than 4k";
		/* fall through */
	case PROXY_PROTOCOL_ERROR:
		refuse(s, why);
		return -1;
	case PROXY_PROTOCOL_OK:
		break;
	}
	if (recv(s->cli.io.fd, buf, pi.len, 0) != (ssize_t)pi.len) {
		refuse(s, "cannot read the header");
		return -1;
	}
	take(s, &pi);
	return 1;
}

int
client_proxy_read(struct session *s)
{
	struct proxy_protocol_info pi;
	const char *why = NULL;
	enum proxy_protocol_rc rc;

	rc = proxy_protocol_parse(buf_head(s->cli.in), buf_len(s->cli.in), &pi,
	                          &why);
	if (rc == PROXY_PROTOCOL_AGAIN) {
		/* a header longer than the buffer cannot be one we accept */
		if (buf_space(s->cli.in) == 0 && s->cli.in->start == 0)
			why = "header larger than the buffer";
		else if (!s->cli.eof)
			return 0;
		else
			why = "connection closed inside the header";
	}
	if (rc == PROXY_PROTOCOL_ERROR || why) {
		refuse(s, why);
		return -1;
	}
	take(s, &pi);
	buf_consume(s->cli.in, pi.len);
	s->cli.nread = buf_len(s->cli.in);
	return 1;
}
