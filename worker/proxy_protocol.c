/*
 * PROXY protocol v1 and v2 (see proxy_protocol.h).  The two versions are
 * told apart by their first byte ('P' or CR); each is checked as far as
 * the bytes at hand allow, so a prefix that can no longer become a valid
 * header is refused at once, and a prefix that still can is AGAIN: a prefix
 * never answers ERROR where the whole header answers OK.
 */
#include "worker/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define V1_MAGIC "PROXY "
#define V1_MAGIC_LEN 6
#define V2_HDR 16
#define V2_SIG_LEN 12
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11
#define V2_FAM_TCP6 0x21
#define V2_ADDR_TCP4 (2 * 4 + 2 * 2)
#define V2_ADDR_TCP6 (2 * 16 + 2 * 2)
#define V2_TLV_HDR 3

static const char v2_sig[V2_SIG_LEN] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                        0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static enum proxy_protocol_rc
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return PROXY_PROTOCOL_ERROR;
}

/* Do b[0..n) and word agree on the bytes both have? */
static int
agrees(const char *b, size_t n, const char *word)
{
	size_t k = strlen(word);

	return memcmp(b, word, n < k ? n : k) == 0;
}

static void
set_v4(struct sockaddr_storage *ss, socklen_t *len, const void *addr,
       uint16_t port_be)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	sin->sin_family = AF_INET;
	sin->sin_port = port_be;
	memcpy(&sin->sin_addr, addr, 4);
	*len = sizeof(*sin);
}

static void
set_v6(struct sockaddr_storage *ss, socklen_t *len, const void *addr,
       uint16_t port_be)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = port_be;
	memcpy(&sin6->sin6_addr, addr, 16);
	*len = sizeof(*sin6);
}

/* ---- v1 ------------------------------------------------------------ */

/* The fixed start, "PROXY " and a protocol word, as far as it is in. */
static enum proxy_protocol_rc
v1_check_start(const char *b, size_t n, const char **why)
{
	const char *t = b + V1_MAGIC_LEN;
	size_t tn;

	if (!agrees(b, n, V1_MAGIC))
		return fail(why, "not a PROXY protocol header");
	if (n <= V1_MAGIC_LEN)
		return PROXY_PROTOCOL_AGAIN;
	tn = n - V1_MAGIC_LEN;
	if (agrees(t, tn, "TCP4 ") || agrees(t, tn, "TCP6 "))
		return PROXY_PROTOCOL_AGAIN;
	/* UNKNOWN ends the line or is followed by what is to be ignored */
	if (agrees(t, tn, "UNKNOWN") &&
	    (tn <= 7 || t[7] == ' ' || t[7] == '\r'))
		return PROXY_PROTOCOL_AGAIN;
	return fail(why, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
}

/* Finds the CRLF within the first 107 bytes; the line before it must be
 * printable ASCII.  OK with *line_len (CRLF excluded), AGAIN or ERROR. */
static enum proxy_protocol_rc
v1_find_end(const char *b, size_t n, size_t *line_len, const char **why)
{
	size_t max = n < PROXY_PROTOCOL_V1_MAX ? n : PROXY_PROTOCOL_V1_MAX;
	size_t i;
	unsigned char c;

	for (i = 0; i < max; i++) {
		c = (unsigned char)b[i];
		if (c == '\n') {
			/* a CR right before was checked on its own turn */
			if (i == 0 || b[i - 1] != '\r')
				return fail(why, "v1: LF without CR");
			*line_len = i - 1;
			return PROXY_PROTOCOL_OK;
		}
		if (c == '\r') {
			if (i + 1 < n && b[i + 1] != '\n')
				return fail(why, "v1: CR without LF");
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			return fail(why, "v1: control or non-ASCII byte");
	}
	if (max == PROXY_PROTOCOL_V1_MAX)
		return fail(why, "v1: no CRLF within 107 bytes");
	return PROXY_PROTOCOL_AGAIN;
}

/* Splits s[0..n) at single spaces into at most max non-empty fields.
 * Their count, or -1 (an empty field: two spaces, or one at an end). */
static int
v1_split(const char *s, size_t n, const char **f, size_t *fn, int max)
{
	size_t i, start = 0;
	int count = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (i == start || count == max)
			return -1;
		f[count] = s + start;
		fn[count++] = i - start;
		start = i + 1;
	}
	return count;
}

/* inet_pton() wants a C string and is strict enough: no leading zeros in
 * IPv4, no scope ids, no short forms. */
static int
v1_addr(int af, const char *p, size_t n, void *addr)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(af, tmp, addr) == 1 ? 0 : -1;
}

/* Decimal 0..65535 without leading zeros, into network order. */
static int
v1_port(const char *p, size_t n, uint16_t *port_be)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_be = htons((uint16_t)v);
	return 0;
}

/* "TCP4 SRC DST SPORT DPORT" (or TCP6), the CRLF already cut off. */
static enum proxy_protocol_rc
v1_addresses(const char *s, size_t n, struct proxy_protocol_info *pi,
             const char **why)
{
	unsigned char src[16], dst[16];
	const char *f[5];
	size_t fn[5];
	uint16_t sport, dport;
	int v6, af;

	if (v1_split(s, n, f, fn, 5) != 5)
		return fail(why, "v1: not five single-space-separated fields");
	/* f[0] is TCP4 or TCP6: v1_check_start saw it whole */
	v6 = f[0][3] == '6';
	af = v6 ? AF_INET6 : AF_INET;
	if (v1_addr(af, f[1], fn[1], src) < 0)
		return fail(why, "v1: bad source address");
	if (v1_addr(af, f[2], fn[2], dst) < 0)
		return fail(why, "v1: bad destination address");
	if (v1_port(f[3], fn[3], &sport) < 0)
		return fail(why, "v1: bad source port");
	if (v1_port(f[4], fn[4], &dport) < 0)
		return fail(why, "v1: bad destination port");
	if (v6) {
		set_v6(&pi->src, &pi->src_len, src, sport);
		set_v6(&pi->dst, &pi->dst_len, dst, dport);
	} else {
		set_v4(&pi->src, &pi->src_len, src, sport);
		set_v4(&pi->dst, &pi->dst_len, dst, dport);
	}
	return PROXY_PROTOCOL_OK;
}

static enum proxy_protocol_rc
parse_v1(const char *b, size_t n, struct proxy_protocol_info *pi,
         const char **why)
{
	enum proxy_protocol_rc rc;
	size_t line_len;

	rc = v1_check_start(b, n, why);
	if (rc == PROXY_PROTOCOL_ERROR)
		return rc;
	rc = v1_find_end(b, n, &line_len, why);
	if (rc != PROXY_PROTOCOL_OK)
		return rc;
	/* v1_check_start saw the whole protocol word: the line ends later */
	pi->len = line_len + 2;
	if (b[V1_MAGIC_LEN] == 'U') {
		pi->local = 1;
		return PROXY_PROTOCOL_OK;
	}
	return v1_addresses(b + V1_MAGIC_LEN, line_len - V1_MAGIC_LEN, pi, why);
}

/* ---- v2 ------------------------------------------------------------ */

/* The address block the family byte needs, or -1 when the spec does not
 * define it (family above AF_UNIX or protocol above DGRAM).  An UNSPEC
 * half means the addresses are to be ignored; UDP and UNIX are defined but
 * not proxyd's: like UNSPEC, they fall back to the connection's own
 * addresses, as the spec asks of a receiver that does not support them. */
static int
v2_addr_len(unsigned fam)
{
	static const int len[] = {0, V2_ADDR_TCP4, V2_ADDR_TCP6, 2 * 108};

	if (fam >> 4 > 3 || (fam & 0x0f) > 2)
		return -1;
	if (fam >> 4 == 0 || (fam & 0x0f) == 0)
		return 0;
	return len[fam >> 4];
}

/* The TLVs from off to end must tile it exactly (HAProxy refuses a
 * header whose last TLV overruns the block, and so do we). */
static enum proxy_protocol_rc
v2_check_tlvs(const unsigned char *p, size_t off, size_t end, const char **why)
{
	size_t len;

	while (off < end) {
		if (end - off < V2_TLV_HDR)
			return fail(why, "v2: truncated TLV header");
		len = (size_t)p[off + 1] << 8 | p[off + 2];
		if (end - off - V2_TLV_HDR < len)
			return fail(why, "v2: TLV overruns the header");
		off += V2_TLV_HDR + len;
	}
	return PROXY_PROTOCOL_OK;
}

/* Two bytes as they are: ports stay in network order. */
static uint16_t
raw16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static enum proxy_protocol_rc
parse_v2(const char *b, size_t n, struct proxy_protocol_info *pi,
         const char **why)
{
	const unsigned char *p = (const unsigned char *)b, *a;
	unsigned cmd, fam;
	size_t len;
	int need;

	if (n <= V2_SIG_LEN)
		return PROXY_PROTOCOL_AGAIN;
	if (p[12] >> 4 != 2)
		return fail(why, "v2: version is not 2");
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return fail(why, "v2: command is neither LOCAL nor PROXY");
	if (n <= 13)
		return PROXY_PROTOCOL_AGAIN;
	fam = p[13];
	/* LOCAL ignores the family altogether (spec 2.2) */
	need = cmd == V2_CMD_LOCAL ? 0 : v2_addr_len(fam);
	if (need < 0)
		return fail(why, "v2: unknown address family or protocol");
	if (n < V2_HDR)
		return PROXY_PROTOCOL_AGAIN;
	len = (size_t)p[14] << 8 | p[15];
	if (len < (size_t)need)
		return fail(why, "v2: address block too short for its family");
	if (n < V2_HDR + len)
		return PROXY_PROTOCOL_AGAIN;
	pi->len = V2_HDR + len;
	if (cmd == V2_CMD_LOCAL || (fam != V2_FAM_TCP4 && fam != V2_FAM_TCP6)) {
		pi->local = 1;
		return PROXY_PROTOCOL_OK;
	}
	a = p + V2_HDR;
	if (fam == V2_FAM_TCP4) {
		set_v4(&pi->src, &pi->src_len, a, raw16(a + 8));
		set_v4(&pi->dst, &pi->dst_len, a + 4, raw16(a + 10));
	} else {
		set_v6(&pi->src, &pi->src_len, a, raw16(a + 32));
		set_v6(&pi->dst, &pi->dst_len, a + 16, raw16(a + 34));
	}
	return v2_check_tlvs(a, (size_t)need, len, why);
}

enum proxy_protocol_rc
proxy_protocol_parse(const char *b, size_t n, struct proxy_protocol_info *pi,
                     const char **why)
{
	memset(pi, 0, sizeof(*pi));
	if (n == 0)
		return PROXY_PROTOCOL_AGAIN;
	if (b[0] == 'P')
		return parse_v1(b, n, pi, why);
	if (memcmp(b, v2_sig, n < V2_SIG_LEN ? n : V2_SIG_LEN) == 0)
		return parse_v2(b, n, pi, why);
	return fail(why, "not a PROXY protocol header");
}

/* ---- writing ------------------------------------------------------- */

/* The address family both ends share, or AF_UNSPEC. */
static int
pair_family(const struct sockaddr *src, const struct sockaddr *dst)
{
	if (src == NULL || dst == NULL || src->sa_family != dst->sa_family)
		return AF_UNSPEC;
	if (src->sa_family != AF_INET && src->sa_family != AF_INET6)
		return AF_UNSPEC;
	return src->sa_family;
}

static const void *
in_addr_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return &((const struct sockaddr_in *)sa)->sin_addr;
	return &((const struct sockaddr_in6 *)sa)->sin6_addr;
}

/* In network order, as both versions want it. */
static uint16_t
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_port;
	return ((const struct sockaddr_in6 *)sa)->sin6_port;
}

static int
write_v1(int af, const struct sockaddr *src, const struct sockaddr *dst,
         char *buf, size_t cap)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int n;

	if (af == AF_UNSPEC)
		return snprintf(buf, cap, "PROXY UNKNOWN\r\n");
	if (inet_ntop(af, in_addr_of(src), s, sizeof(s)) == NULL ||
	    inet_ntop(af, in_addr_of(dst), d, sizeof(d)) == NULL)
		return -1;
	n = snprintf(buf, cap, "PROXY TCP%c %s %s %u %u\r\n",
	             af == AF_INET ? '4' : '6', s, d,
	             (unsigned)ntohs(port_of(src)),
	             (unsigned)ntohs(port_of(dst)));
	return n;
}

static int
write_v2(int af, const struct sockaddr *src, const struct sockaddr *dst,
         unsigned char *buf)
{
	size_t alen = af == AF_INET ? 4 : 16, len;
	uint16_t sport, dport;

	memcpy(buf, v2_sig, V2_SIG_LEN);
	if (af == AF_UNSPEC) {
		buf[12] = 0x20 | V2_CMD_LOCAL;
		buf[13] = V2_FAM_UNSPEC;
		buf[14] = buf[15] = 0;
		return V2_HDR;
	}
	len = 2 * alen + 4;
	buf[12] = 0x20 | V2_CMD_PROXY;
	buf[13] = af == AF_INET ? V2_FAM_TCP4 : V2_FAM_TCP6;
	buf[14] = 0;
	buf[15] = (unsigned char)len;
	memcpy(buf + V2_HDR, in_addr_of(src), alen);
	memcpy(buf + V2_HDR + alen, in_addr_of(dst), alen);
	sport = port_of(src);
	dport = port_of(dst);
	memcpy(buf + V2_HDR + 2 * alen, &sport, 2);
	memcpy(buf + V2_HDR + 2 * alen + 2, &dport, 2);
	return (int)(V2_HDR + len);
}

int
proxy_protocol_write(int version, const struct sockaddr *src,
                     const struct sockaddr *dst, char *out, size_t cap)
{
	char buf[PROXY_PROTOCOL_WRITE_MAX];
	int af = pair_family(src, dst), n;

	if (version == 1)
		n = write_v1(af, src, dst, buf, sizeof(buf));
	else if (version == 2)
		n = write_v2(af, src, dst, (unsigned char *)buf);
	else
		return -1;
	/* built aside so that a short cap leaves out untouched */
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n > cap)
		return -1;
	memcpy(out, buf, (size_t)n);
	return n;
}
