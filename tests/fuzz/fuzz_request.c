/*
 * libFuzzer target for http_parse_request.  Each input is parsed whole,
 * then again in growing pieces from a fresh allocation each time (so the
 * buffer moves and reads past the end are caught); both runs must agree,
 * and an accepted head must satisfy what the proxy core relies on: spans
 * inside the head, clean names and values, consistent framing flags and a
 * target that re-parses.
 */
#include "tests/fuzz/fuzz_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_target(const struct http_msg *m, const char *buf)
{
	struct http_span host, scheme;
	struct http_uri u;
	uint16_t port;

	fuzz_check_span(m->target, m->head_len);
	fuzz_check(m->target.len > 0 && m->target.len <= FUZZ_MAX_TARGET);
	switch (m->target_form) {
	case HTTP_TARGET_ORIGIN:
		fuzz_check(buf[m->target.off] == '/');
		break;
	case HTTP_TARGET_ASTERISK:
		fuzz_check(m->method == HTTP_METHOD_OPTIONS);
		break;
	case HTTP_TARGET_AUTHORITY:
		fuzz_check(m->method == HTTP_METHOD_CONNECT);
		fuzz_check(http_parse_authority(buf, m->target, &host, &port) ==
		           0);
		fuzz_check(port != 0);
		fuzz_check_span(host, m->target.off + m->target.len);
		break;
	case HTTP_TARGET_ABSOLUTE:
		fuzz_check(http_parse_absolute_any(buf, m->target, &scheme,
		                                   &u) == 0);
		fuzz_check_span(u.path, m->target.off + m->target.len);
		if (http_span_eq(buf, scheme, "http"))
			fuzz_check(http_parse_absolute(buf, m->target, &u) ==
			                   0 &&
			           u.port != 0);
		break;
	}
}

static void
check_request(const struct http_msg *m, const char *buf, size_t len)
{
	struct http_span h;
	uint16_t port;

	fuzz_check_head(m, buf, len);
	fuzz_check_span(m->method_name, m->head_len);
	fuzz_check(m->method_name.len > 0);
	fuzz_check(
	        m->method == HTTP_METHOD_OTHER ||
	        http_span_eq(buf, m->method_name, http_method_name(m->method)));
	check_target(m, buf);
	if (m->flags & HTTP_F_TE)
		fuzz_check((m->flags & HTTP_F_CHUNKED) && m->version == 11);
	if (m->version == 11)
		fuzz_check(m->flags & HTTP_F_HOST);
	if ((m->flags & HTTP_F_HOST) && m->host.len > 0)
		fuzz_check(http_parse_hostport(buf, m->host, &h, &port) == 0);
	fuzz_check(http_msg_field(m, buf, "host", NULL) != NULL ||
	           !(m->flags & HTTP_F_HOST));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_field f1[FUZZ_MAX_FIELDS], f2[FUZZ_MAX_FIELDS];
	struct http_msg one, inc;
	char *buf = fuzz_copy(data, size);
	enum http_rc rc;

	http_msg_init(&one, f1, &fuzz_limits);
	rc = http_parse_request(&one, buf, size);
	fuzz_check(rc != HTTP_DONE);
	if (rc == HTTP_OK)
		check_request(&one, buf, size);
	if (rc == HTTP_ERROR)
		fuzz_check(one.error == 400 || one.error == 414 ||
		           one.error == 431 || one.error == 501 ||
		           one.error == 505);
	http_msg_init(&inc, f2, &fuzz_limits);
	fuzz_check(fuzz_pieces(&inc, data, size, http_parse_request) == rc);
	fuzz_check_same(&one, &inc);
	free(buf);
	return 0;
}
