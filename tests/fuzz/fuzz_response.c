/*
 * libFuzzer target for http_parse_response: one-shot and incremental
 * parses must agree, every error is a 502, and an accepted head keeps the
 * invariants the proxy core relies on (see fuzz_head.h).
 */
#include "tests/fuzz/fuzz_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_response(const struct http_msg *m, const char *buf, size_t len)
{
	uint32_t i;

	fuzz_check_head(m, buf, len);
	fuzz_check(m->status >= 100 && m->status <= 999);
	fuzz_check_span(m->reason, m->head_len);
	for (i = 0; i < m->reason.len; i++) {
		unsigned char c = (unsigned char)buf[m->reason.off + i];

		fuzz_check(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	fuzz_check(!(m->flags & (HTTP_F_HOST | HTTP_F_EXPECT_100)));
	if (m->flags & HTTP_F_TE)
		fuzz_check(m->version == 11);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_field f1[FUZZ_MAX_FIELDS], f2[FUZZ_MAX_FIELDS];
	struct http_msg one, inc;
	char *buf = fuzz_copy(data, size);
	enum http_rc rc;

	http_msg_init(&one, f1, &fuzz_limits);
	rc = http_parse_response(&one, buf, size);
	fuzz_check(rc != HTTP_DONE);
	if (rc == HTTP_OK)
		check_response(&one, buf, size);
	if (rc == HTTP_ERROR)
		fuzz_check(one.error == 502 && one.error_reason != NULL);
	http_msg_init(&inc, f2, &fuzz_limits);
	fuzz_check(fuzz_pieces(&inc, data, size, http_parse_response) == rc);
	fuzz_check_same(&one, &inc);
	free(buf);
	return 0;
}
