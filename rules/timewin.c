/*
 * Weekly time windows for the `time` rule condition: a set of week days and
 * a span of minutes, "Mon-Fri 08:00-18:00".  Parsed once at load time, so
 * the errors are for people; matching is a few comparisons on the local
 * time the caller has already broken down in the configured zone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules/match.h"

#define DAYS_ALL 0x7f
#define DAY_MINUTES 1440

/* Indexed like tm_wday, which is also the bit order of timewin.days. */
static const char *const day_names[7] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Plain ASCII tests: the C locale's idea of a letter must not depend on
 * the environment the master happens to start in. */
static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *
skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The token at s, for error messages: up to the next separator. */
static int
token_len(const char *s)
{
	size_t n = strcspn(s, " \t-,");

	return n > 0 ? (int)n : (int)strcspn(s, " \t");
}

/* A three-letter day name, any case, at *s: its tm_wday, or -1.  Longer
 * words ("Monday") are refused rather than half-read. */
static int
day_name(const char **s)
{
	char lower[4];
	int i;

	for (i = 0; i < 3; i++) {
		if (!is_alpha((*s)[i]))
			return -1;
		lower[i] = (char)((*s)[i] | 0x20);
	}
	lower[3] = '\0';
	if (is_alpha((*s)[3]))
		return -1;
	for (i = 0; i < 7; i++) {
		if (strcmp(lower, day_names[i]) == 0) {
			*s += 3;
			return i;
		}
	}
	return -1;
}

static int
bad_day(const char *s, char *err, size_t errlen)
{
	if (*s == '\0' || *s == ' ' || *s == '\t')
		return fail(err, errlen, "missing day name (want Mon..Sun)");
	return fail(err, errlen,
	            "unknown day '%.*s' (want Mon, Tue, Wed, Thu, Fri, Sat "
	            "or Sun)",
	            token_len(s), s);
}

/* Days a..b inclusive; a range that runs past Saturday wraps round to
 * Sunday, so "Fri-Mon" is the long weekend. */
static uint8_t
day_span(int a, int b)
{
	uint8_t mask = 0;

	for (;;) {
		mask |= (uint8_t)(1u << a);
		if (a == b)
			return mask;
		a = (a + 1) % 7;
	}
}

/* "Mon", "Mon-Fri", "Sat,Sun", "Mon, Wed-Fri": a comma list of days and
 * day ranges. */
static int
parse_days(const char **sp, uint8_t *days, char *err, size_t errlen)
{
	const char *s = *sp;
	int a, b;

	*days = 0;
	for (;;) {
		if ((a = day_name(&s)) < 0)
			return bad_day(s, err, errlen);
		b = a;
		if (*s == '-') {
			s++;
			if ((b = day_name(&s)) < 0)
				return bad_day(s, err, errlen);
		}
		*days |= day_span(a, b);
		if (*s != ',')
			break;
		s = skip_blanks(s + 1);
	}
	*sp = s;
	return 0;
}

/* "HH:MM" (or "H:MM") at *s: minutes after midnight, 0..1440 with 24:00
 * the only hour-24 time; -1 if malformed or out of range. */
static int
clock_time(const char **sp)
{
	const char *s = *sp;
	int h = 0, m, n = 0;

	while (n < 2 && is_digit(*s)) {
		h = h * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || s[0] != ':' || !is_digit(s[1]) || !is_digit(s[2]) ||
	    is_digit(s[3]))
		return -1;
	m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	*sp = s + 3;
	return h * 60 + m;
}

static int
bad_time(const char *what, const char *s, char *err, size_t errlen)
{
	if (*s == '\0')
		return fail(err, errlen, "missing %s time (want HH:MM)", what);
	return fail(err, errlen,
	            "bad %s time '%.*s' (want HH:MM, 00:00..24:00)", what,
	            token_len(s), s);
}

/* "08:00-18:00".  An end at midnight is the end of the start day (1440),
 * so "18:00-00:00" means the evening, not a window crossing into the next
 * day; any other end at or before the start crosses midnight. */
static int
parse_span(const char **sp, struct timewin *w, char *err, size_t errlen)
{
	const char *s = *sp, *at = s;
	int start, end;

	if ((start = clock_time(&s)) < 0)
		return bad_time("start", at, err, errlen);
	if (start == DAY_MINUTES)
		return fail(err, errlen, "24:00 is only valid as an end time");
	if (*s != '-')
		return fail(err, errlen, "expected '-' after start time %.*s",
		            (int)(s - at), at);
	at = ++s;
	if ((end = clock_time(&s)) < 0)
		return bad_time("end", at, err, errlen);
	if (end == start)
		return fail(err, errlen,
		            "empty window: start and end are both %.*s (a "
		            "whole day is 00:00-24:00)",
		            (int)(s - at), at);
	w->start = (uint16_t)start;
	w->end = (uint16_t)(end == 0 ? DAY_MINUTES : end);
	*sp = s;
	return 0;
}

int
timewin_parse(const char *text, struct timewin *w, char *err, size_t errlen)
{
	struct timewin tw = {.days = DAYS_ALL};
	const char *s = skip_blanks(text);

	if (*s == '\0')
		return fail(err, errlen, "empty time window");
	if (is_alpha(*s)) {
		if (parse_days(&s, &tw.days, err, errlen) < 0)
			return -1;
		if (*s == '\0')
			return fail(err, errlen,
			            "missing HH:MM-HH:MM after the days");
		if (*s != ' ' && *s != '\t')
			return fail(err, errlen,
			            "expected a blank and HH:MM-HH:MM after "
			            "the days, not '%s'",
			            s);
		s = skip_blanks(s);
	}
	if (parse_span(&s, &tw, err, errlen) < 0)
		return -1;
	s = skip_blanks(s);
	if (*s != '\0')
		return fail(err, errlen, "unexpected '%s' after the time range",
		            s);
	*w = tw;
	return 0;
}

static int
has_day(const struct timewin *w, int wday)
{
	return (w->days >> wday) & 1;
}

int
timewin_match(const struct timewin *w, const struct tm *tm)
{
	int wday = tm->tm_wday, now = tm->tm_hour * 60 + tm->tm_min;

	if (wday < 0 || wday > 6 || tm->tm_hour < 0 || tm->tm_min < 0 ||
	    now >= DAY_MINUTES)
		return 0;
	if (w->start < w->end)
		return has_day(w, wday) && now >= w->start && now < w->end;
	/* Crossing midnight: the evening is today's window, the small hours
	 * are what is left of yesterday's. */
	if (now >= w->start)
		return has_day(w, wday);
	return now < w->end && has_day(w, (wday + 6) % 7);
}
