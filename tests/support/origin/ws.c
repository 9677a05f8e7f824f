/*
 * The test origin's GET /ws: a WebSocket upgrade (RFC 6455 4.2), then an
 * echo of the client's frames until it closes, so that the suites can check
 * that proxyd's reverse mode carries an upgraded connection both ways.
 *
 * Each data frame (text, binary, continuation) comes back unmasked with
 * the same opcode and FIN bit, so fragmentation survives the round trip; a
 * ping is answered with a pong of the same payload, a pong is echoed, and
 * a close is answered with a close of the same payload, then the
 * connection ends.  Payloads are streamed, so any size costs one buffer.
 * What a server must refuse (unmasked client frames, reserved bits set
 * with no extension negotiated, unknown opcodes, fragmented or over-long
 * control frames) ends the connection without a word.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "tests/support/origin/origin.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes */
#define WS_FIN 0x80
#define WS_RSV 0x70
#define WS_MASKED 0x80
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa
#define WS_CONTROL_MAX 125

/* RFC 6455 4.1: the key is a base64-encoded 16-byte nonce. */
static int
key_ok(const char *key)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";

	return strlen(key) == WS_KEY_LEN &&
	       strspn(key, b64) == WS_KEY_LEN - 2 &&
	       strcmp(key + WS_KEY_LEN - 2, "==") == 0;
}

/* A GET with every field RFC 6455 4.2.1 requires; key gets the key. */
static int
upgrade_asked(struct origin_conn *c, struct origin_req *r, char *key,
              size_t cap)
{
	char v[256];

	return strcmp(r->method, "GET") == 0 && r->minor == 1 &&
	       origin_head_field(c->head, "Upgrade", v, sizeof(v)) &&
	       origin_has_token(v, "websocket") &&
	       origin_head_field(c->head, "Connection", v, sizeof(v)) &&
	       origin_has_token(v, "upgrade") &&
	       origin_head_field(c->head, "Sec-WebSocket-Version", v,
	                         sizeof(v)) &&
	       strcmp(v, "13") == 0 &&
	       origin_head_field(c->head, "Sec-WebSocket-Key", key, cap) &&
	       key_ok(key);
}

/* base64(SHA-1(key GUID)) into out[29]. */
static int
accept_value(const char *key, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len;
	char buf[WS_KEY_LEN + sizeof(WS_GUID)];

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	if (EVP_Digest(buf, strlen(buf), md, &md_len, EVP_sha1(), NULL) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
	return 0;
}

static int
read_exact(struct origin_conn *c, void *buf, size_t len)
{
	char *p = buf;
	ssize_t k;

	while (len > 0) {
		k = origin_conn_read_some(c, p, len);
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* A frame's length field (after the first two bytes), checked. */
static int
read_length(struct origin_conn *c, unsigned len7, uint64_t *len)
{
	unsigned char b[8];
	int i, k = len7 == 126 ? 2 : 8;

	if (len7 < 126) {
		*len = len7;
		return 0;
	}
	if (read_exact(c, b, (size_t)k) < 0)
		return -1;
	for (*len = 0, i = 0; i < k; i++)
		*len = *len << 8 | b[i];
	/* the most significant bit must be 0 (RFC 6455 5.2) */
	return *len >> 63 ? -1 : 0;
}

/* An unmasked frame head with the shortest length encoding. */
static int
write_head(struct origin_conn *c, unsigned first, uint64_t len)
{
	unsigned char h[10];
	size_t n = 2;
	int i;

	h[0] = (unsigned char)first;
	if (len < 126) {
		h[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		n = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		n = 10;
	}
	return origin_conn_write(c, h, n);
}

/* Reads one client frame and sends its answer.  1 after a close, 0 to go
 * on, -1 to drop the connection. */
static int
echo_frame(struct origin_conn *c)
{
	unsigned char h[2], mask[4];
	unsigned op, fin;
	uint64_t len, off;
	size_t k, i;

	if (read_exact(c, h, 2) < 0)
		return -1;
	fin = h[0] & WS_FIN;
	op = h[0] & 0x0f;
	if ((h[0] & WS_RSV) || !(h[1] & WS_MASKED) ||
	    read_length(c, h[1] & 0x7fu, &len) < 0)
		return -1;
	if (op >= WS_OP_CLOSE &&
	    (op > WS_OP_PONG || !fin || len > WS_CONTROL_MAX))
		return -1;
	if (op > 0x2 && op < WS_OP_CLOSE)
		return -1;
	if (read_exact(c, mask, 4) < 0 ||
	    write_head(c, fin | (op == WS_OP_PING ? WS_OP_PONG : op), len) < 0)
		return -1;
	for (off = 0; off < len; off += k) {
		k = len - off < ORIGIN_IO ? (size_t)(len - off) : ORIGIN_IO;
		if (read_exact(c, c->out, k) < 0)
			return -1;
		for (i = 0; i < k; i++)
			c->out[i] ^= (char)mask[(off + i) & 3];
		if (origin_conn_write(c, c->out, k) < 0)
			return -1;
	}
	return op == WS_OP_CLOSE ? 1 : 0;
}

int
origin_websocket(struct origin_conn *c, struct origin_req *r)
{
	char key[WS_KEY_LEN + 1], accept[32];

	if (!upgrade_asked(c, r, key, sizeof(key)))
		return origin_send_simple(c, r, 400,
		                          "websocket upgrade expected\n");
	if (accept_value(key, accept) < 0 ||
	    origin_conn_printf(c,
	                       "HTTP/1.1 101 %s\r\nServer: origin\r\n%s"
	                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                       "Sec-WebSocket-Accept: %s\r\n\r\n",
	                       origin_reason(101), origin_opts.name_field,
	                       accept) < 0)
		return -1;
	while (echo_frame(c) == 0)
		;
	/* after a close the client expects the connection to end too */
	return -1;
}
