/*
 * The reporting calendar as pure arithmetic: when a report is generated,
 * when it is due, when it is late, and the service clock's timestamps.
 *
 * Times are int64 microseconds since 1970-01-01T00:00:00Z (the resolution
 * of PostgreSQL's timestamptz); calendar dates are days since 1970-01-01
 * (include/traject/value.h). Local dates use the process's time zone,
 * which tj_sched_use_zone() sets from [schedule] time_zone: glibc has no
 * per-call zone API, and both programs are single-threaded, so one zone
 * per process is the honest model (the alternative, parsing TZif files
 * here, would duplicate the C library).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "traject/outbox.h"
#include "traject/value.h"

#define USEC INT64_C(1000000)
#define DAY_USEC (INT64_C(86400) * USEC)

static int digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

int tj_timestamp_parse(const char *s, int64_t *usec)
{
	int32_t days;
	int64_t t, frac = 0;
	const char *p;
	int sec = 0;

	if (!tj_timestamp_valid(s))
		return TJ_EINVAL;
	days = tj_date_from_civil(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2));
	p = s + 16;
	if (*p == ':') {
		sec = digits(p + 1, 2);
		p += 3;
		if (*p == '.') {
			/* Microseconds: later digits are cut, as PostgreSQL rounds them away. */
			int64_t scale = 100000;

			for (p++; *p >= '0' && *p <= '9'; p++) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	t = (int64_t)days * 86400 + digits(s + 11, 2) * 3600 + digits(s + 14, 2) * 60 + sec;
	if (*p == '+' || *p == '-') {
		int off = digits(p + 1, 2) * 3600 + digits(p + 4, 2) * 60;

		t -= *p == '+' ? off : -off;
	}
	*usec = t * USEC + frac;
	return 0;
}

char *tj_timestamp_format(int64_t usec, char buf[static 32])
{
	int64_t sec = usec / USEC, frac = usec % USEC;
	int64_t day = sec / 86400, rem = sec % 86400;
	int y, m, d;

	if (frac < 0) {
		frac += USEC;
		sec--;
		day = sec / 86400;
		rem = sec % 86400;
	}
	if (rem < 0) {
		rem += 86400;
		day--;
	}
	tj_date_civil((int32_t)day, &y, &m, &d);
	snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
		 (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
	return buf;
}

bool tj_sched_zone_known(const char *zone)
{
	const char *dir = getenv("TZDIR");
	char path[4096], magic[4] = { 0 };
	struct stat st;
	FILE *f;
	size_t n;

	/* A name, not a path: no absolute paths, no "..", as the IANA names are. */
	if (!zone || !*zone || zone[0] == '/' || strstr(zone, "..") || strlen(zone) > 255)
		return false;
	for (const char *p = zone; *p; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return false;
	}
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "rb")))
		return false;
	n = fread(magic, 1, sizeof magic, f);
	fclose(f);
	return n == 4 && !memcmp(magic, "TZif", 4);
}

int tj_sched_use_zone(const char *zone, tj_err *err)
{
	/* glibc silently falls back to UTC for an unknown TZ: check first. */
	if (!tj_sched_zone_known(zone))
		return tj_fail(err, TJ_ECONFIG,
			       "'%s' is not a known time zone (use an IANA name such as "
			       "Europe/Amsterdam; see /usr/share/zoneinfo)",
			       zone ? zone : "");
	if (setenv("TZ", zone, 1) != 0)
		return tj_fail(err, TJ_ENOMEM, "out of memory setting the time zone");
	tzset();
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int32_t tj_sched_local_date(int64_t t)
{
	time_t sec = (time_t)floor_div(t, USEC);
	struct tm tm;

	if (!localtime_r(&sec, &tm))
		return (int32_t)floor_div(t, DAY_USEC);
	return tj_date_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t tj_sched_day_start(int32_t date)
{
	struct tm tm = { 0 };
	int y, m, d;
	time_t sec;
	int64_t t;

	tj_date_civil(date, &y, &m, &d);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	sec = mktime(&tm);
	t = (int64_t)sec * USEC;
	/*
	 * Where a zone skips midnight (DST starting at 00:00, as Sao Paulo did),
	 * mktime may land before or after the gap: the day starts at the first
	 * instant whose local date is this date.
	 */
	for (int i = 0; i < 4 && tj_sched_local_date(t) < date; i++)
		t += 3600 * USEC;
	for (int i = 0; i < 4 && tj_sched_local_date(t - 3600 * USEC) == date; i++)
		t -= 3600 * USEC;
	return t;
}

int32_t tj_sched_generation_date(int32_t as_of, int32_t due, long lead_days)
{
	int32_t d = due - (int32_t)lead_days;

	/* A report about a day cannot be written on that day: at the earliest the day after. */
	return d > as_of ? d : as_of + 1;
}

int64_t tj_sched_generation_moment(int32_t as_of, int32_t due, long lead_days)
{
	return tj_sched_day_start(tj_sched_generation_date(as_of, due, lead_days));
}

int64_t tj_sched_deadline(int32_t due)
{
	return tj_sched_day_start(due + 1);
}

bool tj_sched_is_late(int32_t due, int64_t t)
{
	return tj_sched_local_date(t) > due;
}

int64_t tj_sched_warn_moment(int32_t due, long warn_hours)
{
	return tj_sched_deadline(due) - (int64_t)warn_hours * 3600 * USEC;
}
