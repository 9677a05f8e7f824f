/*
 * The ClientHello parser (rules/sni.c).  Real hellos come from OpenSSL (a
 * client on memory BIOs, one SSL_connect step, and what it wrote), TLS 1.2
 * and 1.3, with and without SNI; every prefix of them must ask for more.
 * Hand-built hellos cover what OpenSSL will not send: records split
 * anywhere, malformed lengths, bad names, the size bound.  Every parse
 * reads from an exact-size heap copy so that ASan (make check SANITIZE=1)
 * catches a read past len.
 */
#include <check.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match.h"

#define OUT_MAX 40000
#define HELLO_MAX 16384
#define NAME_CAP 256

struct out {
	uint8_t b[OUT_MAX];
	size_t n;
};

static const char *const results[] = {
        [SNI_FOUND] = "SNI_FOUND",
        [SNI_NONE] = "SNI_NONE",
        [SNI_AGAIN] = "SNI_AGAIN",
        [SNI_NOT_TLS] = "SNI_NOT_TLS",
};

/* sni_parse on an exact-size heap copy. */
static enum sni_result
parse(const uint8_t *p, size_t n, char *name, size_t cap)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	enum sni_result rc;

	ck_assert_ptr_nonnull(copy);
	if (n > 0)
		memcpy(copy, p, n);
	rc = sni_parse(copy, n, name, cap);
	free(copy);
	return rc;
}

static void
assert_result(const struct out *o, enum sni_result want, const char *host)
{
	char name[NAME_CAP];
	enum sni_result rc = parse(o->b, o->n, name, sizeof(name));

	ck_assert_msg(rc == want, "got %s, want %s", results[rc],
	              results[want]);
	if (want == SNI_FOUND)
		ck_assert_str_eq(name, host);
}

/* The whole input gives want; every shorter prefix asks for more. */
static void
assert_complete(const struct out *o, enum sni_result want, const char *host)
{
	char name[NAME_CAP];
	size_t n;

	assert_result(o, want, host);
	for (n = 0; n < o->n; n++)
		ck_assert_msg(parse(o->b, n, name, sizeof(name)) == SNI_AGAIN,
		              "prefix %zu of %zu", n, o->n);
}

/* Refused, and no prefix says anything but AGAIN or NOT_TLS. */
static void
assert_not_tls(const struct out *o)
{
	char name[NAME_CAP];
	enum sni_result rc;
	size_t n;

	assert_result(o, SNI_NOT_TLS, NULL);
	for (n = 0; n < o->n; n++) {
		rc = parse(o->b, n, name, sizeof(name));
		ck_assert(rc == SNI_AGAIN || rc == SNI_NOT_TLS);
	}
}

/* ---- building hellos by hand ---- */

static void
put(struct out *o, const void *p, size_t n)
{
	ck_assert_uint_le(o->n + n, OUT_MAX);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put_num(struct out *o, size_t v, int width)
{
	ck_assert_uint_le(o->n + (size_t)width, OUT_MAX);
	while (width-- > 0)
		o->b[o->n++] = (uint8_t)(v >> (8 * width));
}

static void
put_fill(struct out *o, int byte, size_t n)
{
	ck_assert_uint_le(o->n + n, OUT_MAX);
	memset(o->b + o->n, byte, n);
	o->n += n;
}

/* A vector: room for its length now, the length itself in vec_end. */
static size_t
vec_begin(struct out *o, int width)
{
	size_t at = o->n;

	put_num(o, 0, width);
	return at;
}

static void
vec_end(struct out *o, size_t at, int width)
{
	size_t len = o->n - at - (size_t)width;
	int i;

	for (i = 0; i < width; i++)
		o->b[at + (size_t)i] = (uint8_t)(len >> (8 * (width - 1 - i)));
}

/* A server_name extension with one entry of the given name type. */
static void
ext_sni_type(struct out *e, int type, const char *name, size_t len)
{
	size_t ext, list, entry;

	put_num(e, 0, 2);
	ext = vec_begin(e, 2);
	list = vec_begin(e, 2);
	put_num(e, (size_t)type, 1);
	entry = vec_begin(e, 2);
	put(e, name, len);
	vec_end(e, entry, 2);
	vec_end(e, list, 2);
	vec_end(e, ext, 2);
}

static void
ext_sni(struct out *e, const char *name)
{
	ext_sni_type(e, 0, name, strlen(name));
}

static void
ext_other(struct out *e, int type, size_t len)
{
	put_num(e, (size_t)type, 2);
	put_num(e, len, 2);
	put_fill(e, 0xab, len);
}

/* The fixed part of a ClientHello, with sizes to get wrong on purpose. */
struct shape {
	size_t sid, suites, comps;
};

static const struct shape normal = {32, 4, 1};

/* A handshake message: ClientHello with the given extensions (NULL: no
 * extensions block at all). */
static void
msg_hello(struct out *m, const struct shape *s, const struct out *exts)
{
	size_t body, v;

	m->n = 0;
	put_num(m, 1, 1);
	body = vec_begin(m, 3);
	put_num(m, 0x0303, 2);
	put_fill(m, 0x5a, 32);
	v = vec_begin(m, 1);
	put_fill(m, 0x11, s->sid);
	vec_end(m, v, 1);
	v = vec_begin(m, 2);
	put_fill(m, 0x13, s->suites);
	vec_end(m, v, 2);
	v = vec_begin(m, 1);
	put_fill(m, 0, s->comps);
	vec_end(m, v, 1);
	if (exts != NULL) {
		v = vec_begin(m, 2);
		put(m, exts->b, exts->n);
		vec_end(m, v, 2);
	}
	vec_end(m, body, 3);
}

/* msg framed as handshake records of at most frag bytes each. */
static void
records(struct out *r, const uint8_t *msg, size_t n, size_t frag)
{
	size_t off, k;

	r->n = 0;
	for (off = 0; off < n; off += k) {
		k = n - off < frag ? n - off : frag;
		put_num(r, 0x160301, 3);
		put_num(r, k, 2);
		put(r, msg + off, k);
	}
}

/* A one-record hello whose only extension is server_name = name. */
static void
hello_named(struct out *r, const char *name, size_t len)
{
	static struct out e, m;

	e.n = 0;
	ext_sni_type(&e, 0, name, len);
	msg_hello(&m, &normal, &e);
	records(r, m.b, m.n, HELLO_MAX);
}

static void
hello_exts(struct out *r, const struct out *exts)
{
	static struct out m;

	msg_hello(&m, &normal, exts);
	records(r, m.b, m.n, HELLO_MAX);
}

/* ---- hellos from OpenSSL ---- */

struct client {
	int version;     /* TLS1_2_VERSION, TLS1_3_VERSION */
	const char *sni; /* NULL: none */
	size_t alpn;     /* bytes of ALPN list, to make the hello big */
	unsigned frag;   /* max_send_fragment, 0 for the default */
};

static void
set_alpn(SSL *ssl, size_t bytes)
{
	static unsigned char list[4096];
	size_t n = 0;

	ck_assert_uint_le(bytes, sizeof(list));
	while (n + 32 <= bytes) {
		list[n] = 31;
		memset(list + n + 1, 'p', 31);
		n += 32;
	}
	ck_assert_int_eq(SSL_set_alpn_protos(ssl, list, (unsigned)n), 0);
}

static void
openssl_hello(const struct client *c, struct out *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	char host[300];
	int n;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, c->version), 1);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, c->version), 1);
	ssl = SSL_new(ctx);
	ck_assert_ptr_nonnull(ssl);
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	if (c->sni != NULL) {
		/* A writable copy: the macro casts its argument to void *. */
		ck_assert_uint_lt(strlen(c->sni), sizeof(host));
		strcpy(host, c->sni);
		ck_assert_int_eq(SSL_set_tlsext_host_name(ssl, host), 1);
	}
	if (c->alpn > 0)
		set_alpn(ssl, c->alpn);
	if (c->frag > 0)
		ck_assert_int_eq(SSL_set_max_send_fragment(ssl, c->frag), 1);
	ck_assert_int_eq(SSL_connect(ssl), -1);
	ck_assert_int_eq(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ);
	n = BIO_read(SSL_get_wbio(ssl), o->b, (int)sizeof(o->b));
	ck_assert_int_gt(n, 0);
	o->n = (size_t)n;
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* The handshake message out of a one-record hello. */
static void
unframe(const struct out *r, struct out *m)
{
	size_t len = (size_t)r->b[3] << 8 | r->b[4];

	ck_assert_uint_eq(r->b[0], 22);
	ck_assert_uint_eq(5 + len, r->n);
	m->n = 0;
	put(m, r->b + 5, len);
}

START_TEST(openssl_tls12_and_13)
{
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
	struct client c = {.sni = "www.example.com"};
	static struct out o;
	size_t i;

	for (i = 0; i < 2; i++) {
		c.version = versions[i];
		c.sni = "www.example.com";
		openssl_hello(&c, &o);
		assert_complete(&o, SNI_FOUND, "www.example.com");
		c.sni = NULL;
		openssl_hello(&c, &o);
		assert_complete(&o, SNI_NONE, NULL);
	}
}
END_TEST

START_TEST(openssl_uppercase_lowered)
{
	struct client c = {TLS1_3_VERSION, "WWW.Example.COM", 0, 0};
	static struct out o;

	openssl_hello(&c, &o);
	assert_complete(&o, SNI_FOUND, "www.example.com");
	c.sni = "Under_Score-1.internal";
	openssl_hello(&c, &o);
	assert_result(&o, SNI_FOUND, "under_score-1.internal");
}
END_TEST

/* 63.63.63.61: the longest name DNS allows; OpenSSL sends up to 255. */
START_TEST(openssl_name_lengths)
{
	struct client c = {TLS1_3_VERSION, NULL, 0, 0};
	static struct out o;
	char name[300];

	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	c.sni = name;
	openssl_hello(&c, &o);
	assert_result(&o, SNI_FOUND, name);
	name[253] = 'a';
	name[254] = '\0';
	openssl_hello(&c, &o);
	assert_result(&o, SNI_NOT_TLS, NULL);
	name[254] = 'a';
	name[255] = '\0';
	openssl_hello(&c, &o);
	assert_result(&o, SNI_NOT_TLS, NULL);
}
END_TEST

/* A hello bigger than the record size OpenSSL was told to use arrives in
 * several records, as a client with a small fragment length sends it. */
START_TEST(openssl_several_records)
{
	struct client c = {TLS1_3_VERSION, "split.example", 1200, 512};
	static struct out o;
	size_t first;

	openssl_hello(&c, &o);
	first = (size_t)o.b[3] << 8 | o.b[4];
	ck_assert_uint_eq(first, 512);
	ck_assert_uint_gt(o.n, 2 * (5 + 512));
	assert_complete(&o, SNI_FOUND, "split.example");
}
END_TEST

/* The same real hello re-framed as two records, split at every byte
 * (inside the handshake header too), and as one-byte records. */
START_TEST(split_anywhere)
{
	struct client c = {TLS1_2_VERSION, "two.example.org", 0, 0};
	static struct out o, m, r;
	size_t k;

	openssl_hello(&c, &o);
	unframe(&o, &m);
	for (k = 1; k < m.n; k++) {
		r.n = 0;
		put_num(&r, 0x160303, 3);
		put_num(&r, k, 2);
		put(&r, m.b, k);
		put_num(&r, 0x160303, 3);
		put_num(&r, m.n - k, 2);
		put(&r, m.b + k, m.n - k);
		assert_complete(&r, SNI_FOUND, "two.example.org");
	}
	records(&r, m.b, m.n, 1);
	assert_complete(&r, SNI_FOUND, "two.example.org");
}
END_TEST

/* What follows the hello (early data, a change_cipher_spec, junk) is not
 * the parser's business. */
START_TEST(bytes_after_hello_ignored)
{
	struct client c = {TLS1_3_VERSION, "after.example", 0, 0};
	static struct out o;

	openssl_hello(&c, &o);
	put(&o, "\x14\x03\x03\x00\x01\x01", 6);
	put(&o, "GET / HTTP/1.1\r\n", 16);
	assert_result(&o, SNI_FOUND, "after.example");
}
END_TEST

static void
raw(struct out *o, const char *bytes, size_t n)
{
	o->n = 0;
	put(o, bytes, n);
}

/* Streams that are not TLS are refused on their first bytes. */
START_TEST(not_tls_records)
{
	static struct out o;
	char name[NAME_CAP];

	ck_assert_int_eq(sni_parse((const uint8_t *)"G", 1, name, 256),
	                 SNI_NOT_TLS);
	ck_assert_int_eq(sni_parse((const uint8_t *)"\x16", 1, name, 256),
	                 SNI_AGAIN);
	ck_assert_int_eq(sni_parse(NULL, 0, name, 256), SNI_AGAIN);
	raw(&o, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	assert_not_tls(&o);
	raw(&o, "SSH-2.0-OpenSSH_9.6\r\n", 21);
	assert_not_tls(&o);
	raw(&o, "\x80\x2e\x01\x00\x02\x00\x15", 7); /* SSLv2 hello */
	assert_not_tls(&o);
	raw(&o, "\x17\x03\x03\x00\x10", 5); /* application data */
	assert_not_tls(&o);
	raw(&o, "\x15\x03\x03\x00\x02\x02\x28", 7); /* alert */
	assert_not_tls(&o);
	raw(&o, "\x16\x02\x00", 3);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x00", 3);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x05", 3);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x01\x00\x00", 5); /* empty record */
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x01\x48\x01", 5); /* 16384 + 2048 + 1 */
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x01\x48\x00", 5);
	assert_result(&o, SNI_AGAIN, NULL);
}
END_TEST

START_TEST(not_tls_handshake)
{
	static struct out o;

	/* A ServerHello, a HelloRequest: not what a client sends. */
	raw(&o, "\x16\x03\x03\x00\x30\x02\x00\x00\x2c", 9);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x03\x00\x04\x00\x00\x00\x00", 9);
	assert_not_tls(&o);
	/* Too big for the bound (16384 with the header), or too small to be
	 * a ClientHello: known from the header alone. */
	raw(&o, "\x16\x03\x01\x40\x00\x01\x00\x3f\xfd", 9);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x01\x40\x00\x01\x00\x3f\xfc", 9);
	assert_result(&o, SNI_AGAIN, NULL);
	raw(&o, "\x16\x03\x01\x00\x30\x01\x00\x00\x28", 9);
	assert_not_tls(&o);
	raw(&o, "\x16\x03\x01\x00\x30\x01\xff\xff\xff", 9);
	assert_not_tls(&o);
}
END_TEST

/* A record of another type or version in the middle of the hello. */
START_TEST(not_tls_between_records)
{
	static struct out e, m, r;

	ext_sni(&e, "mid.example");
	msg_hello(&m, &normal, &e);
	records(&r, m.b, m.n, 20);
	r.b[25] = 20; /* second record: change_cipher_spec */
	assert_not_tls(&r);
	records(&r, m.b, m.n, 20);
	r.b[27] = 0; /* second record: version 3.0 */
	assert_not_tls(&r);
	records(&r, m.b, m.n, 20);
	assert_complete(&r, SNI_FOUND, "mid.example");
}
END_TEST

START_TEST(malformed_fixed_part)
{
	static const struct shape bad[] = {
	        {33, 4, 1}, /* session id over 32 */
	        {0, 0, 1},  /* no cipher suite */
	        {0, 3, 1},  /* half a cipher suite */
	        {0, 2, 0},  /* no compression method */
	};
	static struct out e, m, r;
	size_t i;

	ext_sni(&e, "fixed.example");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg_hello(&m, &bad[i], &e);
		records(&r, m.b, m.n, HELLO_MAX);
		assert_not_tls(&r);
	}
	msg_hello(&m, &normal, &e);
	m.b[4] = 2; /* legacy_version 2.3 */
	records(&r, m.b, m.n, HELLO_MAX);
	assert_not_tls(&r);
	msg_hello(&m, &(struct shape){0, 2, 1}, &e);
	records(&r, m.b, m.n, HELLO_MAX);
	assert_complete(&r, SNI_FOUND, "fixed.example");
}
END_TEST

/* Extensions are optional before TLS 1.3; an empty block is a block. */
START_TEST(no_extensions)
{
	static struct out e, m, r;

	msg_hello(&m, &normal, NULL);
	records(&r, m.b, m.n, HELLO_MAX);
	assert_complete(&r, SNI_NONE, NULL);
	e.n = 0;
	hello_exts(&r, &e);
	assert_complete(&r, SNI_NONE, NULL);
	ext_other(&e, 0x0a0a, 0); /* GREASE */
	ext_other(&e, 10, 8);
	hello_exts(&r, &e);
	assert_complete(&r, SNI_NONE, NULL);
	ext_sni(&e, "last.example");
	hello_exts(&r, &e);
	assert_complete(&r, SNI_FOUND, "last.example");
}
END_TEST

START_TEST(malformed_extensions)
{
	static struct out e, m, r;
	size_t body;

	ext_sni(&e, "ext.example");
	ext_other(&e, 43, 3);
	/* The extension block one byte longer, then shorter, than what
	 * follows it; one byte of junk after it. */
	msg_hello(&m, &normal, &e);
	m.b[m.n - e.n - 1]++;
	records(&r, m.b, m.n, HELLO_MAX);
	assert_not_tls(&r);
	m.b[m.n - e.n - 1] -= 2;
	records(&r, m.b, m.n, HELLO_MAX);
	assert_not_tls(&r);
	msg_hello(&m, &normal, &e);
	put_num(&m, 0, 1);
	body = (size_t)m.b[1] << 16 | (size_t)m.b[2] << 8 | m.b[3];
	m.b[3] = (uint8_t)(body + 1);
	records(&r, m.b, m.n, HELLO_MAX);
	assert_not_tls(&r);
	/* The last extension's length runs past the block; a block ending
	 * inside an extension header. */
	e.b[e.n - 4]++;
	hello_exts(&r, &e);
	assert_not_tls(&r);
	e.n = 0;
	ext_sni(&e, "ext.example");
	put_num(&e, 0x0017, 2);
	put_num(&e, 0, 1);
	hello_exts(&r, &e);
	assert_not_tls(&r);
}
END_TEST

/* Two server names, in two extensions or in one list: the proxy could see
 * one and the origin the other. */
START_TEST(ambiguous_names)
{
	static struct out e, r;
	size_t ext, list, entry;

	e.n = 0;
	ext_sni(&e, "a.example");
	ext_sni(&e, "b.example");
	hello_exts(&r, &e);
	assert_not_tls(&r);
	e.n = 0;
	put_num(&e, 0, 2);
	ext = vec_begin(&e, 2);
	list = vec_begin(&e, 2);
	put_num(&e, 0, 1);
	entry = vec_begin(&e, 2);
	put(&e, "a.example", 9);
	vec_end(&e, entry, 2);
	put_num(&e, 0, 1);
	entry = vec_begin(&e, 2);
	put(&e, "b.example", 9);
	vec_end(&e, entry, 2);
	vec_end(&e, list, 2);
	vec_end(&e, ext, 2);
	hello_exts(&r, &e);
	assert_not_tls(&r);
}
END_TEST

START_TEST(server_name_list)
{
	static struct out e, r;
	size_t ext, list, entry;

	/* Empty extension; empty list; list shorter than the extension. */
	raw(&e, "\x00\x00\x00\x00", 4);
	hello_exts(&r, &e);
	assert_not_tls(&r);
	raw(&e, "\x00\x00\x00\x02\x00\x00", 6);
	hello_exts(&r, &e);
	assert_not_tls(&r);
	raw(&e, "\x00\x00\x00\x07\x00\x04\x00\x00\x01x\x00", 11);
	hello_exts(&r, &e);
	assert_not_tls(&r);
	/* An entry's name running past the list. */
	raw(&e, "\x00\x00\x00\x06\x00\x04\x00\x00\x02x", 10);
	hello_exts(&r, &e);
	assert_not_tls(&r);
	/* An unknown name type is stepped over. */
	e.n = 0;
	ext_sni_type(&e, 7, "opaque", 6);
	hello_exts(&r, &e);
	assert_complete(&r, SNI_NONE, NULL);
	e.n = 0;
	put_num(&e, 0, 2);
	ext = vec_begin(&e, 2);
	list = vec_begin(&e, 2);
	put_num(&e, 9, 1);
	entry = vec_begin(&e, 2);
	put(&e, "???", 3);
	vec_end(&e, entry, 2);
	put_num(&e, 0, 1);
	entry = vec_begin(&e, 2);
	put(&e, "Mixed.Example", 13);
	vec_end(&e, entry, 2);
	vec_end(&e, list, 2);
	vec_end(&e, ext, 2);
	hello_exts(&r, &e);
	assert_complete(&r, SNI_FOUND, "mixed.example");
}
END_TEST

START_TEST(bad_names)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = {
	        {"", 0},
	        {"a b.example", 11},
	        {"a/b.example", 11},
	        {"a\0b.example", 11},
	        {"caf\xc3\xa9.fr", 8},
	        {".example", 8},
	        {"a..example", 10},
	        {"example.", 8},
	        {".", 1},
	        {"a:443", 5},
	        {"[::1]", 5},
	        {"a*.example", 10},
	};
	static struct out r;
	char label[70];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hello_named(&r, bad[i].name, bad[i].len);
		assert_not_tls(&r);
	}
	memset(label, 'x', sizeof(label));
	memcpy(label + 64, ".com", 5);
	hello_named(&r, label, 68); /* a 64-byte label */
	assert_not_tls(&r);
	hello_named(&r, label + 1, 67);
	assert_result(&r, SNI_FOUND, label + 1);
	hello_named(&r, "1.2.3.4", 7);
	assert_result(&r, SNI_FOUND, "1.2.3.4");
	hello_named(&r, "X", 1);
	assert_result(&r, SNI_FOUND, "x");
}
END_TEST

/* The name goes only into cap bytes; one that does not fit is refused. */
START_TEST(name_capacity)
{
	static struct out r;
	char name[16];

	hello_named(&r, "example.com", 11);
	memset(name, '#', sizeof(name));
	ck_assert_int_eq(parse(r.b, r.n, name, 11), SNI_NOT_TLS);
	ck_assert_int_eq(name[0], '#');
	ck_assert_int_eq(parse(r.b, r.n, name, 12), SNI_FOUND);
	ck_assert_str_eq(name, "example.com");
	ck_assert_int_eq(name[12], '#');
}
END_TEST

/* A hello of exactly the bound is parsed (here across two records), one
 * byte more is refused as soon as its header is in. */
START_TEST(size_bound)
{
	static struct out e, m, r;
	size_t pad;

	e.n = 0;
	ext_sni(&e, "big.example");
	ext_other(&e, 21, 0);
	msg_hello(&m, &normal, &e);
	pad = HELLO_MAX - m.n;
	e.n = 0;
	ext_sni(&e, "big.example");
	ext_other(&e, 21, pad);
	msg_hello(&m, &normal, &e);
	ck_assert_uint_eq(m.n, HELLO_MAX);
	records(&r, m.b, m.n, 10000);
	assert_result(&r, SNI_FOUND, "big.example");
	records(&r, m.b, m.n, 16384);
	assert_result(&r, SNI_FOUND, "big.example");
	e.n = 0;
	ext_sni(&e, "big.example");
	ext_other(&e, 21, pad + 1);
	msg_hello(&m, &normal, &e);
	records(&r, m.b, m.n, 10000);
	r.n = 9;
	assert_not_tls(&r);
}
END_TEST

/* Any single corrupted byte of a real hello gives some answer, never a
 * crash or a read past the end, and a found name is always clean. */
START_TEST(corrupted_bytes)
{
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	static const char clean[] = "abcdefghijklmnopqrstuvwxyz0123456789.-_";
	struct client c = {TLS1_3_VERSION, "flip.example", 0, 0};
	static struct out o;
	char name[NAME_CAP];
	size_t i, j;

	openssl_hello(&c, &o);
	for (i = 0; i < o.n; i++) {
		for (j = 0; j < sizeof(flips); j++) {
			o.b[i] ^= flips[j];
			if (parse(o.b, o.n, name, sizeof(name)) == SNI_FOUND)
				ck_assert_uint_eq(strspn(name, clean),
				                  strlen(name));
			o.b[i] ^= flips[j];
		}
	}
}
END_TEST

static Suite *
sni_suite(void)
{
	Suite *s = suite_create("sni");
	TCase *real = tcase_create("openssl");
	TCase *built = tcase_create("hand-built");

	tcase_add_test(real, openssl_tls12_and_13);
	tcase_add_test(real, openssl_uppercase_lowered);
	tcase_add_test(real, openssl_name_lengths);
	tcase_add_test(real, openssl_several_records);
	tcase_add_test(real, split_anywhere);
	tcase_add_test(real, bytes_after_hello_ignored);
	tcase_add_test(real, corrupted_bytes);
	tcase_add_test(built, not_tls_records);
	tcase_add_test(built, not_tls_handshake);
	tcase_add_test(built, not_tls_between_records);
	tcase_add_test(built, malformed_fixed_part);
	tcase_add_test(built, no_extensions);
	tcase_add_test(built, malformed_extensions);
	tcase_add_test(built, ambiguous_names);
	tcase_add_test(built, server_name_list);
	tcase_add_test(built, bad_names);
	tcase_add_test(built, name_capacity);
	tcase_add_test(built, size_bound);
	suite_add_tcase(s, real);
	suite_add_tcase(s, built);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sni_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
