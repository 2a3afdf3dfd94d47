/*
 * Unit tests of the reporting calendar (lib/schedule.c): generation
 * moments, deadlines, lateness, warn moments and "today" in a time zone,
 * and the service clock's timestamp parsing. Every expected instant was
 * worked out by hand from the zone's offsets (CET +01:00, CEST +02:00 in
 * Europe/Amsterdam; Sao Paulo went from -03:00 to -02:00 at 00:00 on
 * 2018-11-04, so that day began at 01:00 local) and checked with Python's
 * zoneinfo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "traject/error.h"
#include "traject/outbox.h"
#include "traject/value.h"

static int32_t D(const char *s)
{
	int32_t d = 0;

	assert_int_equal(tj_date_parse(s, &d), 0);
	return d;
}

static int64_t T(const char *s)
{
	int64_t t = 0;

	assert_int_equal(tj_timestamp_parse(s, &t), 0);
	return t;
}

#define assert_instant(t, want)                                        \
	do {                                                           \
		char buf_[32];                                         \
		assert_string_equal(tj_timestamp_format((t), buf_), want); \
	} while (0)

static void zone(const char *z)
{
	assert_int_equal(tj_sched_use_zone(z, NULL), 0);
}

struct moment_case {
	const char *as_of, *due;
	long lead;
	const char *gen_date; /* due - lead, at least as_of + 1 */
	const char *moment;   /* its 00:00 in Europe/Amsterdam, in UTC */
	const char *deadline; /* the end of the due date, in UTC */
};

static const struct moment_case amsterdam[] = {
	/* formats.md's example calendar with lead_days 5: summer time (+02:00) */
	{ "2011-09-30", "2011-10-15", 5, "2011-10-10", "2011-10-09T22:00:00.000000Z",
	  "2011-10-15T22:00:00.000000Z" },
	/* winter time (+01:00) */
	{ "2011-12-31", "2012-01-31", 5, "2012-01-26", "2012-01-25T23:00:00.000000Z",
	  "2012-01-31T23:00:00.000000Z" },
	/* a long lead is cut to the day after as_of */
	{ "2012-05-31", "2012-06-30", 40, "2012-06-01", "2012-05-31T22:00:00.000000Z",
	  "2012-06-30T22:00:00.000000Z" },
	/* exactly as_of + 1 is allowed */
	{ "2012-05-31", "2012-06-30", 29, "2012-06-01", "2012-05-31T22:00:00.000000Z",
	  "2012-06-30T22:00:00.000000Z" },
	{ "2012-05-31", "2012-06-30", 28, "2012-06-02", "2012-06-01T22:00:00.000000Z",
	  "2012-06-30T22:00:00.000000Z" },
	/* lead 0: generated on the due date itself */
	{ "2011-12-31", "2012-01-31", 0, "2012-01-31", "2012-01-30T23:00:00.000000Z",
	  "2012-01-31T23:00:00.000000Z" },
	/* as_of == due: the day after, i.e. at the deadline (always late) */
	{ "2011-12-31", "2011-12-31", 5, "2012-01-01", "2011-12-31T23:00:00.000000Z",
	  "2011-12-31T23:00:00.000000Z" },
	/* DST starts at 02:00 on 2011-03-27: that day still begins at 00:00 CET */
	{ "2011-03-01", "2011-03-27", 0, "2011-03-27", "2011-03-26T23:00:00.000000Z",
	  "2011-03-27T22:00:00.000000Z" },
	/* DST ends at 03:00 on 2011-10-30: that day begins at 00:00 CEST */
	{ "2011-10-01", "2011-10-30", 0, "2011-10-30", "2011-10-29T22:00:00.000000Z",
	  "2011-10-30T23:00:00.000000Z" },
	/* across a year end and a leap day */
	{ "2012-02-20", "2012-03-02", 3, "2012-02-28", "2012-02-27T23:00:00.000000Z",
	  "2012-03-02T23:00:00.000000Z" },
	{ "2012-02-20", "2012-03-02", 2, "2012-02-29", "2012-02-28T23:00:00.000000Z",
	  "2012-03-02T23:00:00.000000Z" },
};

static void generation_moments(void **state)
{
	char buf[11];

	(void)state;
	zone("Europe/Amsterdam");
	for (size_t i = 0; i < sizeof amsterdam / sizeof amsterdam[0]; i++) {
		const struct moment_case *c = &amsterdam[i];
		int32_t as_of = D(c->as_of), due = D(c->due);

		assert_string_equal(
			tj_date_format(tj_sched_generation_date(as_of, due, c->lead), buf), c->gen_date);
		assert_instant(tj_sched_generation_moment(as_of, due, c->lead), c->moment);
		assert_instant(tj_sched_deadline(due), c->deadline);
	}
}

static void zone_decides_the_moment(void **state)
{
	int32_t as_of = D("2011-09-30"), due = D("2011-10-15");

	(void)state;
	zone("UTC");
	assert_instant(tj_sched_generation_moment(as_of, due, 5), "2011-10-10T00:00:00.000000Z");
	zone("America/New_York"); /* EDT, -04:00 */
	assert_instant(tj_sched_generation_moment(as_of, due, 5), "2011-10-10T04:00:00.000000Z");
	zone("Asia/Tokyo"); /* +09:00: the previous UTC day */
	assert_instant(tj_sched_generation_moment(as_of, due, 5), "2011-10-09T15:00:00.000000Z");
}

static void midnight_in_a_gap(void **state)
{
	(void)state;
	/* 2018-11-04 00:00 did not exist in Sao Paulo: the day began at 01:00 -02:00 */
	zone("America/Sao_Paulo");
	assert_instant(tj_sched_day_start(D("2018-11-04")), "2018-11-04T03:00:00.000000Z");
	assert_int_equal(tj_sched_local_date(T("2018-11-04T02:59:59Z")), D("2018-11-03"));
	assert_int_equal(tj_sched_local_date(T("2018-11-04T03:00:00Z")), D("2018-11-04"));
	/* the day before was an ordinary -03:00 day */
	assert_instant(tj_sched_day_start(D("2018-11-03")), "2018-11-03T03:00:00.000000Z");
}

static void today_depends_on_the_zone(void **state)
{
	int64_t t = T("2011-10-15T22:30:00Z");

	(void)state;
	zone("Europe/Amsterdam");
	assert_int_equal(tj_sched_local_date(t), D("2011-10-16")); /* 00:30 CEST */
	zone("UTC");
	assert_int_equal(tj_sched_local_date(t), D("2011-10-15"));
	zone("America/New_York");
	assert_int_equal(tj_sched_local_date(t), D("2011-10-15"));
	/* before 1970 too */
	assert_int_equal(tj_sched_local_date(T("1969-12-31T23:59:59Z")), D("1969-12-31"));
}

static void lateness(void **state)
{
	int32_t due = D("2011-10-15");

	(void)state;
	zone("Europe/Amsterdam");
	/* on time up to 23:59:59.999999 local on the due date */
	assert_false(tj_sched_is_late(due, T("2011-10-15T21:59:59.999999Z")));
	assert_true(tj_sched_is_late(due, T("2011-10-15T22:00:00Z")));
	assert_false(tj_sched_is_late(due, T("2011-10-01T00:00:00Z")));
	/* in UTC the same instant is still the due date */
	zone("UTC");
	assert_false(tj_sched_is_late(due, T("2011-10-15T22:00:00Z")));
	assert_true(tj_sched_is_late(due, T("2011-10-16T00:00:00Z")));
}

static void warn_moments(void **state)
{
	(void)state;
	zone("Europe/Amsterdam");
	/* 48 hours before the end of 2011-10-15 CEST */
	assert_instant(tj_sched_warn_moment(D("2011-10-15"), 48), "2011-10-13T22:00:00.000000Z");
	assert_instant(tj_sched_warn_moment(D("2011-10-15"), 0), "2011-10-15T22:00:00.000000Z");
	/* warn hours are real hours: the deadline 2011-10-31 00:00 CET minus 24 h is 01:00 CEST */
	assert_instant(tj_sched_warn_moment(D("2011-10-30"), 24), "2011-10-29T23:00:00.000000Z");
}

static void zones_are_checked(void **state)
{
	tj_err err = { 0 };

	(void)state;
	assert_true(tj_sched_zone_known("Europe/Amsterdam"));
	assert_true(tj_sched_zone_known("UTC"));
	assert_false(tj_sched_zone_known("Mars/Olympus_Mons"));
	assert_false(tj_sched_zone_known("../../etc/passwd"));
	assert_false(tj_sched_zone_known("/usr/share/zoneinfo/UTC"));
	assert_false(tj_sched_zone_known(""));
	assert_false(tj_sched_zone_known(NULL));
	/* a directory is not a zone */
	assert_false(tj_sched_zone_known("Europe"));
	assert_int_equal(tj_sched_use_zone("Mars/Olympus_Mons", &err), TJ_ECONFIG);
	assert_non_null(strstr(err.msg, "'Mars/Olympus_Mons' is not a known time zone"));
}

static void timestamps(void **state)
{
	int64_t t = 42;
	char buf[32];

	(void)state;
	assert_int_equal(tj_timestamp_parse("2011-10-12T08:00:00+02:00", &t), 0);
	assert_true(t == INT64_C(1318399200000000));
	assert_int_equal(tj_timestamp_parse("2011-10-12T06:00Z", &t), 0);
	assert_true(t == INT64_C(1318399200000000));
	assert_int_equal(tj_timestamp_parse("2011-10-12T01:30:00-04:30", &t), 0);
	assert_true(t == INT64_C(1318399200000000));
	assert_int_equal(tj_timestamp_parse("2026-11-25T09:30:00.1234567Z", &t), 0);
	assert_string_equal(tj_timestamp_format(t, buf), "2026-11-25T09:30:00.123456Z");
	assert_int_equal(tj_timestamp_parse("1970-01-01T00:00:00.5Z", &t), 0);
	assert_true(t == 500000);
	assert_int_equal(tj_timestamp_parse("1969-12-31T23:59:59.5Z", &t), 0);
	assert_true(t == -500000);
	assert_string_equal(tj_timestamp_format(t, buf), "1969-12-31T23:59:59.500000Z");
	assert_string_equal(tj_timestamp_format(-1, buf), "1969-12-31T23:59:59.999999Z");
	t = 42;
	assert_int_equal(tj_timestamp_parse("2011-10-12 08:00:00Z", &t), TJ_EINVAL);
	assert_int_equal(tj_timestamp_parse("2011-02-30T08:00:00Z", &t), TJ_EINVAL);
	assert_int_equal(tj_timestamp_parse("2011-10-12T08:00:00", &t), TJ_EINVAL);
	assert_int_equal(tj_timestamp_parse("", &t), TJ_EINVAL);
	assert_true(t == 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generation_moments),
		cmocka_unit_test(zone_decides_the_moment),
		cmocka_unit_test(midnight_in_a_gap),
		cmocka_unit_test(today_depends_on_the_zone),
		cmocka_unit_test(lateness),
		cmocka_unit_test(warn_moments),
		cmocka_unit_test(zones_are_checked),
		cmocka_unit_test(timestamps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
