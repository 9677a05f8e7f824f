/*
 * The server name of a TLS ClientHello, peeked from the first bytes a
 * client sends through a CONNECT tunnel, so that `sni` rules and the
 * domain-fronting check run before a byte reaches the origin.  Nothing is
 * decrypted and nothing allocated: the handshake message is gathered from
 * its records (it may span several) into a bounded buffer on the stack,
 * then walked with a cursor that checks every length against what is left.
 * The caller calls again with more bytes on SNI_AGAIN.  The answer depends
 * only on the bytes, and nothing is decided before the whole ClientHello is
 * in: so a longer buffer never changes an answer other than SNI_AGAIN.
 */
#include <string.h>

#include "rules/match.h"

#define REC_HEADER 5
/* The TLSCiphertext bound (RFC 8446 5.2); a plaintext record is at most
 * 2^14, but tolerating the larger bound costs nothing. */
#define REC_MAX (16384 + 2048)
#define HS_HEADER 4
/* A whole ClientHello, header included.  Real ones are under 2 KiB even
 * with post-quantum key shares; the bound is what the stack buffer costs. */
#define HELLO_MAX 16384
/* version, random, empty session id, one cipher suite, one compression
 * method: the smallest body a ClientHello can have. */
#define HELLO_MIN (2 + 32 + 1 + 2 + 2 + 1 + 1)
#define HOST_MAX 253
#define LABEL_MAX 63

#define CT_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define NAME_TYPE_HOST 0

/* Internal: this step is complete and the next one decides.  Only
 * sni_parse's final answer uses SNI_FOUND in its public sense. */
#define STEP_OK SNI_FOUND

/* The bytes not yet read of some length-delimited part of the message. */
struct cursor {
	const uint8_t *p;
	size_t n;
};

/* Splits the next k bytes off c into *part (if part is not NULL); -1 when
 * fewer than k are left. */
static int
take(struct cursor *c, size_t k, struct cursor *part)
{
	if (c->n < k)
		return -1;
	if (part != NULL) {
		part->p = c->p;
		part->n = k;
	}
	c->p += k;
	c->n -= k;
	return 0;
}

/* A big-endian integer of width bytes (1..3). */
static int
num(struct cursor *c, size_t width, size_t *v)
{
	struct cursor b;
	size_t i;

	if (take(c, width, &b) < 0)
		return -1;
	*v = 0;
	for (i = 0; i < width; i++)
		*v = *v << 8 | b.p[i];
	return 0;
}

/* A vector with a length prefix of width bytes, TLS's opaque x<..>. */
static int
vec(struct cursor *c, size_t width, struct cursor *body)
{
	size_t k;

	if (num(c, width, &k) < 0)
		return -1;
	return take(c, k, body);
}

/* Checks a record header of which avail bytes are present, as far as they
 * go: a stream that is plainly not TLS (an HTTP request, an SSH banner) is
 * refused on its first byte instead of after five. */
static enum sni_result
record(const uint8_t *p, size_t avail, size_t *len)
{
	if (avail >= 1 && p[0] != CT_HANDSHAKE)
		return SNI_NOT_TLS;
	if (avail >= 2 && p[1] != 3)
		return SNI_NOT_TLS;
	if (avail >= 3 && (p[2] < 1 || p[2] > 4))
		return SNI_NOT_TLS;
	if (avail < REC_HEADER)
		return SNI_AGAIN;
	*len = (size_t)p[3] << 8 | p[4];
	/* Empty handshake records are forbidden (RFC 8446 5.1). */
	if (*len == 0 || *len > REC_MAX)
		return SNI_NOT_TLS;
	return STEP_OK;
}

/* The handshake header, once its four bytes are in: sets the size of the
 * whole message. */
static enum sni_result
hs_header(const uint8_t *h, size_t *want)
{
	size_t body = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];

	if (h[0] != HS_CLIENT_HELLO || body < HELLO_MIN ||
	    body > HELLO_MAX - HS_HEADER)
		return SNI_NOT_TLS;
	*want = HS_HEADER + body;
	return STEP_OK;
}

/* Copies the handshake message out of the records into msg (HELLO_MAX
 * bytes) and sets *n to its length.  The header itself may be split
 * between records; whatever follows the message is not looked at. */
static enum sni_result
gather(const uint8_t *buf, size_t len, uint8_t *msg, size_t *n)
{
	size_t pos = 0, have = 0, want = HS_HEADER, reclen, avail, off, k;
	enum sni_result rc;

	for (;;) {
		if ((rc = record(buf + pos, len - pos, &reclen)) != STEP_OK)
			return rc;
		pos += REC_HEADER;
		avail = len - pos < reclen ? len - pos : reclen;
		for (off = 0; off < avail && have < want; off += k) {
			k = avail - off < want - have ? avail - off
			                              : want - have;
			memcpy(msg + have, buf + pos + off, k);
			have += k;
			if (have == HS_HEADER &&
			    (rc = hs_header(msg, &want)) != STEP_OK)
				return rc;
		}
		if (have == want && want > HS_HEADER) {
			*n = have;
			return STEP_OK;
		}
		if (avail < reclen)
			return SNI_AGAIN;
		pos += reclen;
	}
}

/* Host names as DNS has them, plus the underscore some internal names
 * carry.  The rules compare them with configured names, so anything else
 * (a blank, a slash, a NUL, an empty label) is refused, not passed on. */
static int
host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static enum sni_result
copy_host(struct cursor h, char *name, size_t cap)
{
	size_t i, label = 0;

	if (h.n < 1 || h.n > HOST_MAX || h.n >= cap)
		return SNI_NOT_TLS;
	for (i = 0; i < h.n; i++) {
		if (h.p[i] == '.') {
			if (label == 0)
				return SNI_NOT_TLS;
			label = 0;
		} else if (!host_char(h.p[i]) || ++label > LABEL_MAX) {
			return SNI_NOT_TLS;
		}
	}
	/* RFC 6066 3: no trailing dot. */
	if (label == 0)
		return SNI_NOT_TLS;
	for (i = 0; i < h.n; i++)
		name[i] = (char)(h.p[i] >= 'A' && h.p[i] <= 'Z' ? h.p[i] | 0x20
		                                                : h.p[i]);
	name[h.n] = '\0';
	return SNI_FOUND;
}

/* The server_name extension's body: a non-empty list of (type, name). */
static enum sni_result
server_name(struct cursor ext, char *name, size_t cap)
{
	struct cursor list, entry, host = {NULL, 0};
	size_t type;
	int hosts = 0;

	if (vec(&ext, 2, &list) < 0 || ext.n != 0 || list.n == 0)
		return SNI_NOT_TLS;
	while (list.n > 0) {
		/* New name types must start with a 16-bit length (RFC 6066
		 * 3), so unknown ones can be stepped over. */
		if (num(&list, 1, &type) < 0 || vec(&list, 2, &entry) < 0)
			return SNI_NOT_TLS;
		if (type != NAME_TYPE_HOST)
			continue;
		/* Two host names could show us one and the origin the other:
		 * RFC 6066 forbids it, and so do we. */
		if (hosts++ > 0)
			return SNI_NOT_TLS;
		host = entry;
	}
	return hosts > 0 ? copy_host(host, name, cap) : SNI_NONE;
}

/* Walks every extension, so that a malformed list is refused wherever the
 * server_name extension sits in it. */
static enum sni_result
extensions(struct cursor exts, char *name, size_t cap)
{
	struct cursor body, sn = {NULL, 0};
	size_t type;
	int seen = 0;

	while (exts.n > 0) {
		if (num(&exts, 2, &type) < 0 || vec(&exts, 2, &body) < 0)
			return SNI_NOT_TLS;
		if (type != EXT_SERVER_NAME)
			continue;
		/* Same reason as for two host names in one extension. */
		if (seen++ > 0)
			return SNI_NOT_TLS;
		sn = body;
	}
	return seen > 0 ? server_name(sn, name, cap) : SNI_NONE;
}

/* The ClientHello body (RFC 8446 4.1.2, RFC 5246 7.4.1.2). */
static enum sni_result
client_hello(struct cursor c, char *name, size_t cap)
{
	struct cursor v, exts;
	size_t version;

	if (num(&c, 2, &version) < 0 || version >> 8 != 3 ||
	    take(&c, 32, NULL) < 0)
		return SNI_NOT_TLS;
	if (vec(&c, 1, &v) < 0 || v.n > 32) /* legacy_session_id */
		return SNI_NOT_TLS;
	if (vec(&c, 2, &v) < 0 || v.n < 2 || v.n % 2 != 0) /* cipher_suites */
		return SNI_NOT_TLS;
	if (vec(&c, 1, &v) < 0 || v.n < 1) /* compression_methods */
		return SNI_NOT_TLS;
	/* Extensions are optional before TLS 1.3: no extensions, no SNI. */
	if (c.n == 0)
		return SNI_NONE;
	if (vec(&c, 2, &exts) < 0 || c.n != 0)
		return SNI_NOT_TLS;
	return extensions(exts, name, cap);
}

/* name must hold at least 254 bytes: a name that does not fit in cap is
 * refused like an oversize one. */
enum sni_result
sni_parse(const uint8_t *buf, size_t len, char *name, size_t cap)
{
	uint8_t msg[HELLO_MAX];
	struct cursor body;
	size_t n;
	enum sni_result rc;

	if (len == 0)
		return SNI_AGAIN;
	if ((rc = gather(buf, len, msg, &n)) != STEP_OK)
		return rc;
	body.p = msg + HS_HEADER;
	body.n = n - HS_HEADER;
	return client_hello(body, name, cap);
}
