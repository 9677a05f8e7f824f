/*
 * Chunked transfer coding decoder (RFC 9112 7.1).  A streaming state
 * machine: the caller hands over whatever bytes arrived, gets back spans of
 * body data in place, and the framing (sizes, extensions, CRLFs, trailers)
 * is checked strictly and dropped.  Every variable-length piece of framing
 * is bounded so that a peer cannot make us read forever without producing
 * data: size digits, extensions per line, and trailer bytes.
 */
#include "worker/http_parse.h"

#define CR '\r'
#define LF '\n'

/* Chunk sizes of 2^60 or more are refused: 15 significant hex digits. */
#define SIZE_MAX_SHIFT 56
/* Bytes of chunk-ext allowed on one chunk-size line. */
#define EXT_MAX 4096
/* Hex digits on one line, leading zeros included. */
#define DIGITS_MAX 64

enum {
	C_SIZE_START = 0, /* must be 0: http_chunked_init zeroes state */
	C_SIZE,
	C_BWS_SEMI, /* whitespace seen: only ';' may follow */
	C_EXT_NAME_START,
	C_EXT_NAME,
	C_EXT_NAME_BWS,
	C_EXT_VAL_START,
	C_EXT_TOKEN,
	C_EXT_QS,
	C_EXT_QP,
	C_EXT_QS_END,
	C_SIZE_LF,
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TRAILER_START,
	C_TR_NAME,
	C_TR_VALUE,
	C_TR_LF,
	C_LAST_LF,
	C_DONE,
	C_ERROR,
};

static int
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* qdtext (RFC 9110 5.6.4) */
static int
is_qdtext(unsigned char c)
{
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

void
http_chunked_init(struct http_chunked *c, size_t max_trailer)
{
	c->state = C_SIZE_START;
	c->remaining = 0;
	c->trailer_bytes = 0;
	c->max_trailer = max_trailer;
	c->line = 0;
}

/* chunk-size: returns the next state, C_ERROR on junk or overflow. */
static unsigned
size_char(struct http_chunked *c, unsigned char ch)
{
	int h = hex_value(ch);

	if (h >= 0) {
		if (c->remaining >> SIZE_MAX_SHIFT || ++c->line > DIGITS_MAX)
			return C_ERROR;
		c->remaining = c->remaining << 4 | (uint64_t)h;
		return C_SIZE;
	}
	c->line = 0;
	if (ch == ';')
		return C_EXT_NAME_START;
	if (is_ows(ch))
		return C_BWS_SEMI;
	return ch == CR ? C_SIZE_LF : C_ERROR;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / qstring ) ] ).
 * Returns the next state; the extension is not kept. */
static unsigned
ext_char(struct http_chunked *c, unsigned state, unsigned char ch)
{
	if (++c->line > EXT_MAX)
		return C_ERROR;
	switch (state) {
	case C_BWS_SEMI:
		return is_ows(ch)  ? C_BWS_SEMI
		       : ch == ';' ? C_EXT_NAME_START
		                   : C_ERROR;
	case C_EXT_NAME_START:
		if (is_ows(ch))
			return C_EXT_NAME_START;
		return http_is_tchar(ch) ? C_EXT_NAME : C_ERROR;
	case C_EXT_NAME:
	case C_EXT_NAME_BWS:
		if (http_is_tchar(ch) && state == C_EXT_NAME)
			return C_EXT_NAME;
		if (ch == '=')
			return C_EXT_VAL_START;
		if (ch == ';')
			return C_EXT_NAME_START;
		return is_ows(ch) ? C_EXT_NAME_BWS : C_ERROR;
	case C_EXT_VAL_START:
		if (is_ows(ch))
			return C_EXT_VAL_START;
		if (ch == '"')
			return C_EXT_QS;
		return http_is_tchar(ch) ? C_EXT_TOKEN : C_ERROR;
	case C_EXT_TOKEN:
	case C_EXT_QS_END:
		if (http_is_tchar(ch) && state == C_EXT_TOKEN)
			return C_EXT_TOKEN;
		if (ch == ';')
			return C_EXT_NAME_START;
		return is_ows(ch) ? C_BWS_SEMI : C_ERROR;
	case C_EXT_QS:
		if (ch == '"')
			return C_EXT_QS_END;
		if (ch == '\\')
			return C_EXT_QP;
		return is_qdtext(ch) ? C_EXT_QS : C_ERROR;
	case C_EXT_QP:
		return is_qdtext(ch) || ch == '"' || ch == '\\' ? C_EXT_QS
		                                                : C_ERROR;
	}
	return C_ERROR;
}

/* A CR ends the chunk-size line only where an extension may end: after
 * the size, a name, or a value (RFC 9112 7.1.1 has no trailing BWS). */
static int
ext_may_end(unsigned state)
{
	return state == C_EXT_NAME || state == C_EXT_TOKEN ||
	       state == C_EXT_QS_END;
}

/* trailer-section = *( field-line CRLF ), the same field syntax as the
 * head; bounded by max_trailer.  Returns the next state. */
static unsigned
trailer_char(struct http_chunked *c, unsigned state, unsigned char ch)
{
	if (state == C_TRAILER_START && ch == CR)
		return C_LAST_LF;
	if (++c->trailer_bytes > c->max_trailer)
		return C_ERROR;
	switch (state) {
	case C_TRAILER_START:
		return http_is_tchar(ch) ? C_TR_NAME : C_ERROR;
	case C_TR_NAME:
		if (ch == ':')
			return C_TR_VALUE;
		return http_is_tchar(ch) ? C_TR_NAME : C_ERROR;
	case C_TR_VALUE:
		if (ch == CR)
			return C_TR_LF;
		return ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? C_TR_VALUE
		                                                : C_ERROR;
	case C_TR_LF:
		return ch == LF ? C_TRAILER_START : C_ERROR;
	}
	return C_ERROR;
}

/* One byte of framing outside the data. */
static unsigned
framing_char(struct http_chunked *c, unsigned state, unsigned char ch)
{
	switch (state) {
	case C_SIZE_START:
		c->remaining = 0;
		c->line = 0;
		return hex_value(ch) >= 0 ? size_char(c, ch) : C_ERROR;
	case C_SIZE:
		return size_char(c, ch);
	case C_SIZE_LF:
		if (ch != LF)
			return C_ERROR;
		return c->remaining == 0 ? C_TRAILER_START : C_DATA;
	case C_DATA_CR:
		return ch == CR ? C_DATA_LF : C_ERROR;
	case C_DATA_LF:
		return ch == LF ? C_SIZE_START : C_ERROR;
	case C_TRAILER_START:
	case C_TR_NAME:
	case C_TR_VALUE:
	case C_TR_LF:
		return trailer_char(c, state, ch);
	case C_LAST_LF:
		return ch == LF ? C_DONE : C_ERROR;
	}
	if (ch == CR && ext_may_end(state))
		return C_SIZE_LF;
	return ext_char(c, state, ch);
}

enum http_rc
http_chunked_step(struct http_chunked *c, const char *buf, size_t len,
                  size_t *consumed, size_t *data_off, size_t *data_len)
{
	size_t pos = 0;

	*data_off = *data_len = 0;
	while (c->state != C_DONE && c->state != C_ERROR) {
		if (c->state == C_DATA) {
			size_t n = len - pos;

			if (n == 0)
				break;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = C_DATA_CR;
			*data_off = pos;
			*data_len = n;
			*consumed = pos + n;
			return HTTP_OK;
		}
		if (pos == len)
			break;
		c->state = framing_char(c, c->state, (unsigned char)buf[pos]);
		if (c->state != C_ERROR)
			pos++;
	}
	*consumed = pos;
	if (c->state == C_ERROR)
		return HTTP_ERROR;
	return c->state == C_DONE ? HTTP_DONE : HTTP_AGAIN;
}
