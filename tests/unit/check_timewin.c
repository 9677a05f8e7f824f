/*
 * Weekly time windows (rules/timewin.c): the syntax and its errors, day
 * lists and ranges that wrap past Saturday, windows that cross midnight
 * (the small hours belong to the start day), 24:00 ends, and start-
 * inclusive, end-exclusive boundaries, checked minute by minute against a
 * plain model of the week.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rules/match.h"

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

#define WEEK_MINUTES (7 * 1440)

static struct timewin
parse_ok(const char *text)
{
	struct timewin w;
	char err[128] = "";

	ck_assert_msg(timewin_parse(text, &w, err, sizeof(err)) == 0, "%s: %s",
	              text, err);
	return w;
}

/* Refused with a message containing want; the window is left alone. */
static void
parse_fails(const char *text, const char *want)
{
	struct timewin w = {.days = 0x55, .start = 7, .end = 9};
	char err[128] = "";

	ck_assert_msg(timewin_parse(text, &w, err, sizeof(err)) == -1,
	              "'%s' parsed", text);
	ck_assert_msg(strstr(err, want) != NULL, "'%s': '%s' lacks '%s'", text,
	              err, want);
	ck_assert(w.days == 0x55 && w.start == 7 && w.end == 9);
}

static int
at(const struct timewin *w, int wday, int hour, int min)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_wday = wday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	return timewin_match(w, &tm);
}

static int
matches(const char *text, int wday, int hour, int min)
{
	struct timewin w = parse_ok(text);

	return at(&w, wday, hour, min);
}

START_TEST(syntax)
{
	struct timewin w;

	w = parse_ok("Mon-Fri 08:00-18:00");
	ck_assert_uint_eq(w.days, 0x3e);
	ck_assert_uint_eq(w.start, 480);
	ck_assert_uint_eq(w.end, 1080);
	w = parse_ok("Sat,Sun 00:00-24:00");
	ck_assert_uint_eq(w.days, 0x41);
	ck_assert_uint_eq(w.start, 0);
	ck_assert_uint_eq(w.end, 1440);
	w = parse_ok("Mon,Wed-Fri 09:30-17:00");
	ck_assert_uint_eq(w.days, 0x3a);
	ck_assert_uint_eq(w.start, 570);
	w = parse_ok("22:00-06:00");
	ck_assert_uint_eq(w.days, 0x7f);
	ck_assert_uint_eq(w.start, 1320);
	ck_assert_uint_eq(w.end, 360);
	/* Any case, one-digit hours, blanks around and after commas. */
	ck_assert_uint_eq(parse_ok("mON-fri 8:00-9:05").days, 0x3e);
	ck_assert_uint_eq(parse_ok("mON-fri 8:00-9:05").end, 545);
	ck_assert_uint_eq(parse_ok("  Mon, Wed\t 08:00-09:00 \t").days, 0x0a);
}
END_TEST

START_TEST(day_ranges)
{
	ck_assert_uint_eq(parse_ok("Fri-Mon 10:00-11:00").days, 0x63);
	ck_assert_uint_eq(parse_ok("Sat-Sun 10:00-11:00").days, 0x41);
	ck_assert_uint_eq(parse_ok("Sun-Sat 10:00-11:00").days, 0x7f);
	ck_assert_uint_eq(parse_ok("Mon-Sun 10:00-11:00").days, 0x7f);
	ck_assert_uint_eq(parse_ok("Wed-Wed 10:00-11:00").days, 0x08);
	ck_assert_uint_eq(parse_ok("Tue,Tue,Thu 10:00-11:00").days, 0x14);
	ck_assert_uint_eq(parse_ok("Sat-Mon,Wed 10:00-11:00").days, 0x4b);
	ck_assert(matches("Fri-Mon 10:00-11:00", SUN, 10, 30));
	ck_assert(matches("Fri-Mon 10:00-11:00", MON, 10, 30));
	ck_assert(!matches("Fri-Mon 10:00-11:00", TUE, 10, 30));
	ck_assert(!matches("Fri-Mon 10:00-11:00", THU, 10, 30));
}
END_TEST

START_TEST(errors)
{
	parse_fails("", "empty time window");
	parse_fails(" \t", "empty time window");
	parse_fails("Mox 08:00-09:00", "unknown day 'Mox'");
	parse_fails("Monday 08:00-09:00", "unknown day 'Monday'");
	parse_fails("Mon-Fry 08:00-09:00", "unknown day 'Fry'");
	parse_fails("Mon- 08:00-09:00", "missing day name");
	parse_fails("Mon, 08:00-09:00", "unknown day '08:00'");
	parse_fails("Mon,", "missing day name");
	parse_fails("Mon", "missing HH:MM-HH:MM after the days");
	parse_fails("Mon ", "missing start time");
	parse_fails("Mon08:00-09:00", "expected a blank");
	parse_fails("Mon;Tue 08:00-09:00", "expected a blank");
	parse_fails("Mon 8-9", "bad start time '8'");
	parse_fails("Mon 08:00", "expected '-' after start time 08:00");
	parse_fails("Mon 08:00-", "missing end time");
	parse_fails("Mon 08:00 - 09:00", "expected '-'");
	parse_fails("Mon 25:00-26:00", "bad start time '25:00'");
	parse_fails("Mon 123:00-13:00", "bad start time '123:00'");
	parse_fails("Mon 08:000-09:00", "bad start time '08:000'");
	parse_fails("Mon 08:60-09:00", "bad start time '08:60'");
	parse_fails("Mon 08:00-24:01", "bad end time '24:01'");
	parse_fails("Mon 08:00-25:00", "bad end time '25:00'");
	parse_fails("Mon 24:00-06:00", "24:00 is only valid as an end time");
	parse_fails("10:00-10:00", "empty window");
	parse_fails("Sat 00:00-00:00", "empty window");
	parse_fails("Mon 08:00-09:00 x", "unexpected 'x'");
	parse_fails("08:00-09:00 Mon", "unexpected 'Mon'");
	parse_fails("Mon 08:00-09:00-10:00", "unexpected '-10:00'");
}
END_TEST

/* A small or missing error buffer is never overrun. */
START_TEST(error_buffer)
{
	struct timewin w;
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(timewin_parse("Mox 1-2", &w, err, 6), -1);
	ck_assert_str_eq(err, "unkno");
	ck_assert_int_eq(err[6], 'x');
	ck_assert_int_eq(timewin_parse("Mox 1-2", &w, NULL, 0), -1);
}
END_TEST

START_TEST(boundaries)
{
	const char *w = "Mon-Fri 08:00-18:00";

	ck_assert(!matches(w, MON, 7, 59));
	ck_assert(matches(w, MON, 8, 0));
	ck_assert(matches(w, FRI, 17, 59));
	ck_assert(!matches(w, FRI, 18, 0));
	ck_assert(!matches(w, SAT, 12, 0));
	ck_assert(!matches(w, SUN, 12, 0));
	ck_assert(matches("Mon,Wed-Fri 09:30-17:00", WED, 9, 30));
	ck_assert(!matches("Mon,Wed-Fri 09:30-17:00", TUE, 9, 30));
	ck_assert(!matches("Mon,Wed-Fri 09:30-17:00", THU, 9, 29));
}
END_TEST

START_TEST(midnight_belongs_to_start_day)
{
	const char *w = "Fri 22:00-02:00";

	ck_assert(matches(w, SAT, 1, 0));
	ck_assert(!matches(w, FRI, 1, 0));
	ck_assert(matches(w, FRI, 23, 0));
	ck_assert(matches(w, FRI, 22, 0));
	ck_assert(!matches(w, FRI, 21, 59));
	ck_assert(matches(w, SAT, 0, 0));
	ck_assert(matches(w, SAT, 1, 59));
	ck_assert(!matches(w, SAT, 2, 0));
	ck_assert(!matches(w, SAT, 23, 0));
	ck_assert(!matches(w, THU, 23, 0));
	/* Saturday night runs into Sunday: the week wraps too. */
	ck_assert(matches("Sat 23:00-01:00", SUN, 0, 30));
	ck_assert(!matches("Sat 23:00-01:00", SAT, 0, 30));
	ck_assert(matches("Sun 23:00-01:00", MON, 0, 30));
	ck_assert(!matches("Sun 23:00-01:00", SUN, 0, 30));
	/* No days: every night, every morning. */
	ck_assert(matches("22:00-06:00", WED, 5, 59));
	ck_assert(!matches("22:00-06:00", WED, 6, 0));
	ck_assert(matches("22:00-06:00", SUN, 23, 59));
	ck_assert(!matches("22:00-06:00", SUN, 21, 59));
}
END_TEST

START_TEST(end_at_24_and_midnight)
{
	ck_assert(matches("Sat,Sun 00:00-24:00", SAT, 0, 0));
	ck_assert(matches("Sat,Sun 00:00-24:00", SUN, 23, 59));
	ck_assert(!matches("Sat,Sun 00:00-24:00", MON, 0, 0));
	ck_assert(!matches("Sat,Sun 00:00-24:00", FRI, 23, 59));
	ck_assert(matches("Mon 20:00-24:00", MON, 23, 59));
	ck_assert(!matches("Mon 20:00-24:00", TUE, 0, 0));
	/* An end at 00:00 is the end of the day, the same as 24:00. */
	ck_assert_uint_eq(parse_ok("Mon 20:00-00:00").end, 1440);
	ck_assert(matches("Mon 20:00-00:00", MON, 23, 59));
	ck_assert(!matches("Mon 20:00-00:00", TUE, 0, 0));
	ck_assert(!matches("Mon 20:00-00:00", MON, 0, 30));
	/* 23:59-00:00 is a one-minute window. */
	ck_assert(matches("23:59-00:00", TUE, 23, 59));
	ck_assert(!matches("23:59-00:00", WED, 0, 0));
}
END_TEST

/* A struct tm the caller filled badly matches nothing. */
START_TEST(bad_tm)
{
	struct timewin w = parse_ok("00:00-24:00");

	ck_assert(at(&w, TUE, 12, 0));
	ck_assert(!at(&w, 7, 12, 0));
	ck_assert(!at(&w, -1, 12, 0));
	ck_assert(!at(&w, TUE, 24, 0));
	ck_assert(!at(&w, TUE, -1, 0));
	ck_assert(!at(&w, TUE, 12, -1));
}
END_TEST

/* The week as 10080 minutes, filled the slow way: each listed day's window
 * is len minutes from its start, running on into the next day. */
static void
model(const struct timewin *w, char *week)
{
	int len = (w->end - w->start + 1440) % 1440, d, i, at;

	if (len == 0)
		len = 1440;
	memset(week, 0, WEEK_MINUTES);
	for (d = 0; d < 7; d++) {
		if (!(w->days & (1 << d)))
			continue;
		for (i = 0; i < len; i++) {
			at = (d * 1440 + w->start + i) % WEEK_MINUTES;
			week[at] = 1;
		}
	}
}

START_TEST(every_minute_of_the_week)
{
	static const char *const wins[] = {
	        "Mon-Fri 08:00-18:00",     "Sat,Sun 00:00-24:00",
	        "Mon,Wed-Fri 09:30-17:00", "22:00-06:00",
	        "Fri 22:00-02:00",         "Sat 12:00-11:59",
	        "Fri-Mon 23:30-00:30",     "Sun 00:00-00:01",
	        "Tue 23:59-24:00",         "Thu 18:00-00:00",
	};
	static char week[WEEK_MINUTES];
	struct timewin w;
	size_t k;
	int m;

	for (k = 0; k < sizeof(wins) / sizeof(wins[0]); k++) {
		w = parse_ok(wins[k]);
		model(&w, week);
		for (m = 0; m < WEEK_MINUTES; m++)
			ck_assert_msg(at(&w, m / 1440, m % 1440 / 60, m % 60) ==
			                      week[m],
			              "%s at day %d %02d:%02d", wins[k],
			              m / 1440, m % 1440 / 60, m % 60);
	}
}
END_TEST

static Suite *
timewin_suite(void)
{
	Suite *s = suite_create("timewin");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, syntax);
	tcase_add_test(tc, day_ranges);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, error_buffer);
	tcase_add_test(tc, boundaries);
	tcase_add_test(tc, midnight_belongs_to_start_day);
	tcase_add_test(tc, end_at_24_and_midnight);
	tcase_add_test(tc, bad_tm);
	tcase_add_test(tc, every_minute_of_the_week);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(timewin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
