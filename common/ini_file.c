/*
 * Reading INI files line-exactly through inih (see ini_file.h for why).
 */
#include "common/ini_file.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>

#define SYNTAX_ERROR "syntax error (expected [section] or key = value)"

int
ini_file_fail(struct ini_file *f, int line, const char *fmt, ...)
{
	char msg[512], *p;
	va_list ap;

	if (f->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	if (line > 0)
		snprintf(f->err, f->errlen, "%s:%d: %s", f->path, line, msg);
	else
		snprintf(f->err, f->errlen, "%s: %s", f->path, msg);
	f->failed = 1;
	f->err_at = f->line;
	return -1;
}

/* A "[word name]" line.  inih would parse it too, but cuts the name at 49
 * bytes, ignores text after the ']' and calls nobody for an empty section.
 * Like inih, a ';' after a blank starts a comment. */
static int
section_line(struct ini_file *f, const char *line)
{
	const char *end = line + 1;
	char buf[128], *word, *name;
	size_t len;

	while (*end && *end != ']' &&
	       !(*end == ';' && isspace((unsigned char)end[-1])))
		end++;
	if (*end != ']')
		return ini_file_fail(f, f->line,
		                     "syntax error (no ']' after [section)");
	len = strspn(end + 1, " \t\r\n");
	if (end[1 + len] != '\0' && end[1 + len] != ';')
		return ini_file_fail(f, f->line,
		                     "syntax error (text after [section])");
	len = (size_t)(end - line - 1);
	if (len >= sizeof(buf))
		return ini_file_fail(f, f->line, "section header too long");
	memcpy(buf, line + 1, len);
	buf[len] = '\0';
	word = buf + strspn(buf, " \t");
	name = word + strcspn(word, " \t");
	if (*name != '\0')
		*name++ = '\0';
	name += strspn(name, " \t");
	len = strlen(name);
	while (len > 0 && isblank((unsigned char)name[len - 1]))
		name[--len] = '\0';
	return f->section(f, word, name);
}

/* ---- Reading lines for inih. ---- */

/* Reads one physical line into str (at most cap bytes kept), leading
 * blanks and the line end dropped; *len is what it holds, *raw the line's
 * length as written.  1 = a line, 0 = end of file or an error (recorded).
 * getc() rather than fgets(): a NUL byte must be seen, not end the line. */
static int
read_line(struct ini_file *f, char *str, size_t cap, size_t *len, size_t *raw)
{
	int c, last = 0, nul = 0;

	*len = *raw = 0;
	c = getc(f->fp);
	if (c == EOF) {
		if (ferror(f->fp))
			ini_file_fail(f, 0, "%s", strerror(errno));
		return 0;
	}
	f->line++;
	for (; c != EOF && c != '\n'; last = c, c = getc(f->fp)) {
		++*raw;
		nul |= c == '\0';
		if (*len == 0 && isspace(c))
			continue;
		if (*len < cap)
			str[*len] = (char)c;
		++*len;
	}
	if (c == EOF && ferror(f->fp)) {
		ini_file_fail(f, 0, "%s", strerror(errno));
		return 0;
	}
	if (last == '\r' && *len > 0) { /* CRLF: the CR is no content */
		--*len;
		--*raw;
	}
	if (nul) {
		/* inih would stop reading the line there, silently */
		ini_file_fail(f, f->line, "NUL byte in line");
		return 0;
	}
	return 1;
}

/* Drops a UTF-8 byte order mark (and the blanks after it) from line 1. */
static void
strip_bom(char *str, size_t *len)
{
	size_t skip;

	if (*len < 3 || memcmp(str, "\xef\xbb\xbf", 3) != 0)
		return;
	skip = 3;
	while (skip < *len && isspace((unsigned char)str[skip]))
		skip++;
	memmove(str, str + skip, *len - skip);
	*len -= skip;
}

/* An fgets() for inih: one whole line per call, or the end of the file
 * (also after an error, which stops the parse).  num - 2 bytes are left
 * for the text so that "\n\0" always fit: inih then never sees a full
 * buffer, which it would take for a line cut in two. */
static char *
reader(char *str, int num, void *stream)
{
	struct ini_file *f = stream;
	size_t len, raw, cap;

	if (f->failed || num < 3)
		return NULL;
	cap = (size_t)num - 2;
	if (!read_line(f, str, cap, &len, &raw))
		return NULL;
	if (raw > cap) {
		ini_file_fail(f, f->line, "line too long (over %zu bytes)",
		              cap);
		return NULL;
	}
	if (f->line == 1)
		strip_bom(str, &len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (str[0] == '[' && section_line(f, str) < 0)
		return NULL;
	return str;
}

/* inih's callback.  Its section argument is ignored: ours is exact. */
static int
handle(void *user, const char *section, const char *name, const char *value)
{
	struct ini_file *f = user;

	(void)section;
	if (f->failed)
		return 0;
	if (name[0] == '\0')
		return ini_file_fail(f, f->line, SYNTAX_ERROR), 0;
	return f->key(f, name, value) == 0;
}

/* inih reports its own syntax errors only as a line number, after the
 * fact; it is the first error if none of ours came from an earlier line. */
int
ini_file_parse(const char *path, ini_section_fn *section, ini_key_fn *key,
               ini_end_fn *end, void *user, char *err, size_t errlen)
{
	struct ini_file f = {
	        .path = path,
	        .user = user,
	        .section = section,
	        .key = key,
	        .err = err,
	        .errlen = errlen,
	};
	int rc;

	if (!(f.fp = fopen(path, "re"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(reader, &f, handle, &f);
	fclose(f.fp);
	if (rc > 0 && (!f.failed || rc < f.err_at)) {
		f.failed = 0;
		ini_file_fail(&f, rc, SYNTAX_ERROR);
	} else if (rc < 0) {
		ini_file_fail(&f, 0, "%s", strerror(ENOMEM));
	}
	if (!f.failed && end)
		end(&f);
	return f.failed ? -1 : 0;
}

int
ini_file_valid_name(const char *name, size_t max)
{
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                        "abcdefghijklmnopqrstuvwxyz0123456789_.-");

	return n > 0 && name[n] == '\0' && n < max;
}
