/*
 * Money, dates, timestamps, references and the BSN eleven-test.
 * Money never passes through floating point: it is parsed digit by digit
 * into int64 cents.
 */
#include <stdio.h>
#include <string.h>

#include "traject/error.h"
#include "traject/value.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int tj_money_parse(const char *s, int64_t *cents)
{
	int64_t units = 0;
	int ndigits = 0, nfrac = 0, frac = 0;
	const char *p = s;

	if (!s || !is_digit(*p))
		return TJ_EINVAL;
	while (is_digit(*p)) {
		if (++ndigits > 12)
			return TJ_EINVAL;
		units = units * 10 + (*p - '0');
		p++;
	}
	if (*p == '.') {
		p++;
		while (is_digit(*p)) {
			if (++nfrac > 2)
				return TJ_EINVAL;
			frac = frac * 10 + (*p - '0');
			p++;
		}
		if (nfrac == 0)
			return TJ_EINVAL;
		if (nfrac == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return TJ_EINVAL;
	*cents = units * 100 + frac;
	return 0;
}

char *tj_money_format(int64_t cents, char buf[static 32])
{
	uint64_t abs = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

	snprintf(buf, 32, "%s%llu.%02llu", cents < 0 ? "-" : "",
		 (unsigned long long)(abs / 100), (unsigned long long)(abs % 100));
	return buf;
}

/* Howard Hinnant's days_from_civil / civil_from_days, for 1900..9999. */
int32_t tj_date_from_civil(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

void tj_date_civil(int32_t days, int *y, int *m, int *d)
{
	int z = days + 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Parse the 10 characters YYYY-MM-DD at s (more may follow). */
static int date_prefix(const char *s, int32_t *days)
{
	int y, m, d;

	if (strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-')
		return TJ_EINVAL;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return TJ_EINVAL;
	*days = tj_date_from_civil(y, m, d);
	return 0;
}

int tj_date_parse(const char *s, int32_t *days)
{
	if (!s || strlen(s) != 10)
		return TJ_EINVAL;
	return date_prefix(s, days);
}

char *tj_date_format(int32_t days, char buf[static 11])
{
	int y, m, d;

	tj_date_civil(days, &y, &m, &d);
	y = y < 0 ? 0 : y % 10000;
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + d / 10);
	buf[9] = (char)('0' + d % 10);
	buf[10] = '\0';
	return buf;
}

bool tj_timestamp_valid(const char *s)
{
	int32_t days;
	const char *p;
	int hh, mm;

	if (!s || date_prefix(s, &days) != 0 || s[10] != 'T')
		return false;
	p = s + 11;
	hh = num(p, 2);
	if (hh < 0 || hh > 23 || p[2] != ':')
		return false;
	mm = num(p + 3, 2);
	if (mm < 0 || mm > 59)
		return false;
	p += 5;
	if (*p == ':') {
		int ss = num(p + 1, 2);

		if (ss < 0 || ss > 60)
			return false;
		p += 3;
		if (*p == '.') {
			p++;
			if (!is_digit(*p))
				return false;
			while (is_digit(*p))
				p++;
		}
	}
	if (*p == 'Z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-') {
		int zh = num(p + 1, 2), zm;

		if (zh < 0 || zh > 14 || p[3] != ':')
			return false;
		zm = num(p + 4, 2);
		return zm >= 0 && zm <= 59 && p[6] == '\0';
	}
	return false;
}

bool tj_ref_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (const char *p = s; *p; p++, n++) {
		char c = *p;

		if (!(is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= 64;
}

bool tj_bsn_eleven_test(const char *s)
{
	int sum = 0;

	for (int i = 0; i < 9; i++) {
		if (!is_digit(s[i]))
			return false;
		sum += (i < 8 ? 9 - i : -1) * (s[i] - '0');
	}
	return sum % 11 == 0;
}

/* The first run of s that may be a BSN (nine digits, eleven-test), or NULL. */
static const char *find_bsn(const char *s)
{
	const char *p = s;

	while (*p) {
		const char *start;

		if (!is_digit(*p)) {
			p++;
			continue;
		}
		start = p;
		while (is_digit(*p))
			p++;
		if (p - start == 9 && tj_bsn_eleven_test(start))
			return start;
	}
	return NULL;
}

bool tj_contains_bsn(const char *s)
{
	return s && find_bsn(s);
}

bool tj_mask_bsn(char *s)
{
	bool masked = false;
	const char *start;
	char *p = s;

	if (!s)
		return false;
	/* a masked run is no longer digits, so the scan moves on past it */
	while ((start = find_bsn(p)) != NULL) {
		p += start - p; /* the same place, without casting const away */
		memset(p, '*', 9);
		p += 9;
		masked = true;
	}
	return masked;
}
