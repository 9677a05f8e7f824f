/*
 * Reading an INI file with inih, line-exactly.  Debian's inih gives its
 * handler no line numbers and splits lines over 200 bytes silently, so
 * every line goes through our reader: it counts lines, refuses an
 * over-long line or a NUL byte, strips leading blanks (so inih never glues
 * an indented line onto the previous value) and parses "[word name]"
 * headers itself.  Errors are "file:line: message"; the first one wins.
 * Used by the config loader and the rules loader.
 */
#ifndef COMMON_INI_FILE_H
#define COMMON_INI_FILE_H

#include <stddef.h>
#include <stdio.h>

struct ini_file;

/* "[word name]" (name "" when absent); 0, or -1 after ini_file_fail(). */
typedef int ini_section_fn(struct ini_file *f, const char *word,
                           const char *name);
/* "key = value" in the current section; 0, or -1 after ini_file_fail(). */
typedef int ini_key_fn(struct ini_file *f, const char *key, const char *value);
/* After the last line, if nothing failed. */
typedef int ini_end_fn(struct ini_file *f);

struct ini_file {
	const char *path;
	int line;   /* the line being read */
	void *user; /* the caller's loader */
	/* private */
	FILE *fp;
	ini_section_fn *section;
	ini_key_fn *key;
	int failed;
	int err_at;
	char *err;
	size_t errlen;
};

/* Parses path.  0, or -1 with err set ("path: reason" when it cannot be
 * opened, else "path:line: reason"). */
int ini_file_parse(const char *path, ini_section_fn *section, ini_key_fn *key,
                   ini_end_fn *end, void *user, char *err, size_t errlen);
/* Records an error at line (0: none) and returns -1.  Control bytes
 * quoted from the file become '?'. */
int ini_file_fail(struct ini_file *f, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A section NAME ([listen NAME], [rule NAME]): 1..max-1 bytes of
 * A-Z a-z 0-9 _ . - (safe in logs, file:line messages and metrics). */
int ini_file_valid_name(const char *name, size_t max);

#endif
