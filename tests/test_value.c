/* Unit tests for money, dates, timestamps, references and the BSN test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "traject/error.h"
#include "traject/value.h"

static void money_parse(void **state)
{
	int64_t c = -1;

	(void)state;
	assert_int_equal(tj_money_parse("150000.00", &c), 0);
	assert_true(c == INT64_C(15000000));
	assert_int_equal(tj_money_parse("0.5", &c), 0);
	assert_true(c == 50);
	assert_int_equal(tj_money_parse("12", &c), 0);
	assert_true(c == 1200);
	assert_int_equal(tj_money_parse("999999999999.99", &c), 0);
	assert_true(c == TJ_MONEY_MAX);
	c = 7;
	assert_int_equal(tj_money_parse("1.234", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("1.", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse(".5", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("-1.00", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("+1.00", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("1e3", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("1,50", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("1 ", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("", &c), TJ_EINVAL);
	assert_int_equal(tj_money_parse("1000000000000", &c), TJ_EINVAL);
	assert_true(c == 7); /* untouched on failure */
}

static void money_format(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(tj_money_format(15000000, buf), "150000.00");
	assert_string_equal(tj_money_format(5, buf), "0.05");
	assert_string_equal(tj_money_format(-250, buf), "-2.50");
	assert_string_equal(tj_money_format(0, buf), "0.00");
	assert_string_equal(tj_money_format(INT64_MIN, buf), "-92233720368547758.08");
}

static void dates(void **state)
{
	int32_t d = 0;
	char buf[11];

	(void)state;
	assert_int_equal(tj_date_parse("1970-01-01", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(tj_date_parse("2012-02-29", &d), 0);
	assert_string_equal(tj_date_format(d, buf), "2012-02-29");
	assert_int_equal(tj_date_parse("2000-02-29", &d), 0);
	assert_int_equal(tj_date_parse("2011-02-29", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("1900-02-29", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("2011-04-31", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("2011-13-01", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("2011-1-01", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("2011-01-01T", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("20110101", &d), TJ_EINVAL);
	assert_int_equal(tj_date_parse("", &d), TJ_EINVAL);
	/* days between: 2011-12-31 - 2011-01-01 = 364 */
	{
		int32_t a, b;

		assert_int_equal(tj_date_parse("2011-01-01", &a), 0);
		assert_int_equal(tj_date_parse("2011-12-31", &b), 0);
		assert_int_equal(b - a, 364);
	}
	/* every day of 1900..2100 round-trips */
	{
		int32_t lo, hi;

		assert_int_equal(tj_date_parse("1900-01-01", &lo), 0);
		assert_int_equal(tj_date_parse("2100-12-31", &hi), 0);
		for (int32_t x = lo; x <= hi; x++) {
			int32_t back;

			assert_int_equal(tj_date_parse(tj_date_format(x, buf), &back), 0);
			assert_int_equal(back, x);
		}
	}
}

static void timestamps(void **state)
{
	(void)state;
	assert_true(tj_timestamp_valid("2011-10-12T08:00:00+02:00"));
	assert_true(tj_timestamp_valid("2026-11-25T09:30:00Z"));
	assert_true(tj_timestamp_valid("2026-11-25T09:30Z"));
	assert_true(tj_timestamp_valid("2026-11-25T09:30:00.123456Z"));
	assert_false(tj_timestamp_valid("2026-11-25T09:30:00"));
	assert_false(tj_timestamp_valid("2026-11-25 09:30:00Z"));
	assert_false(tj_timestamp_valid("2026-02-30T09:30:00Z"));
	assert_false(tj_timestamp_valid("2026-11-25T24:00:00Z"));
	assert_false(tj_timestamp_valid("2026-11-25T09:30:00+0200"));
	assert_false(tj_timestamp_valid("2026-11-25T09:30:00Zx"));
}

static void refs_and_bsn(void **state)
{
	char long_ref[66];

	(void)state;
	assert_true(tj_ref_valid("T-001"));
	assert_true(tj_ref_valid("a.b_c-D9"));
	assert_false(tj_ref_valid(""));
	assert_false(tj_ref_valid("T 001"));
	assert_false(tj_ref_valid("T/001"));
	assert_false(tj_ref_valid("Té"));
	for (int i = 0; i < 65; i++)
		long_ref[i] = 'x';
	long_ref[65] = '\0';
	assert_false(tj_ref_valid(long_ref));
	long_ref[64] = '\0';
	assert_true(tj_ref_valid(long_ref));

	/* 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6*11 */
	assert_true(tj_bsn_eleven_test("111222333"));
	/* 123456782: 9+16+21+24+25+24+21+16-2 = 154 = 14*11 */
	assert_true(tj_bsn_eleven_test("123456782"));
	assert_false(tj_bsn_eleven_test("123456789"));
	assert_false(tj_bsn_eleven_test("12345678"));
	assert_true(tj_contains_bsn("123456782"));
	assert_true(tj_contains_bsn("client 123456782 x"));
	assert_false(tj_contains_bsn("1234567820")); /* ten digits: not a BSN */
	assert_false(tj_contains_bsn("T-001"));
	assert_false(tj_contains_bsn("123456789"));
}

static void mask_bsn(void **state)
{
	char two[] = "a 123456782 b 111222333 c";
	char longer[] = "1234567820 and 123456789 stay";
	char none[] = "T-001";

	(void)state;
	assert_true(tj_mask_bsn(two));
	assert_string_equal(two, "a ********* b ********* c");
	assert_false(tj_contains_bsn(two));
	assert_false(tj_mask_bsn(longer)); /* ten digits, and a failed eleven-test */
	assert_string_equal(longer, "1234567820 and 123456789 stay");
	assert_false(tj_mask_bsn(none));
	assert_string_equal(none, "T-001");
	assert_false(tj_mask_bsn(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(money_parse), cmocka_unit_test(money_format),
		cmocka_unit_test(dates),       cmocka_unit_test(timestamps),
		cmocka_unit_test(refs_and_bsn), cmocka_unit_test(mask_bsn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
