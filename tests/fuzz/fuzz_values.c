/*
 * Fuzz target: the value parsers of include/traject/value.h (money, dates,
 * timestamps, references, the BSN test). Invariants: what parses formats
 * back to itself or to a value that parses to the same number; formatting
 * never overflows; the BSN scan agrees with the eleven-test on every run
 * of exactly nine digits.
 */
#include <string.h>

#include "fuzz.h"
#include "traject/value.h"

/* The scan of tj_contains_bsn, written out differently: every maximal run of digits. */
static bool has_bsn_run(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j - i == 9 && tj_bsn_eleven_test(s + i))
			return true;
		i = j > i ? j : i + 1;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], buf[32], day[11];
	int64_t cents, again;
	int32_t days, back;

	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (tj_money_parse(s, &cents) == 0) {
		FUZZ_CHECK(cents >= 0 && cents <= TJ_MONEY_MAX);
		tj_money_format(cents, buf);
		FUZZ_CHECK(tj_money_parse(buf, &again) == 0 && again == cents);
	}
	if (tj_date_parse(s, &days) == 0) {
		FUZZ_CHECK(strlen(s) == 10);
		FUZZ_CHECK(!strcmp(tj_date_format(days, day), s));
		FUZZ_CHECK(tj_date_parse(day, &back) == 0 && back == days);
	}
	if (tj_timestamp_valid(s)) { /* a timestamp starts with a real date */
		FUZZ_CHECK(size >= 17);
		memcpy(day, s, 10);
		day[10] = '\0';
		FUZZ_CHECK(tj_date_parse(day, &back) == 0);
	}
	if (tj_ref_valid(s)) { /* s ends at its first NUL */
		size_t n = strlen(s);

		FUZZ_CHECK(n >= 1 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							 "abcdefghijklmnopqrstuvwxyz"
							 "0123456789._-") == n);
	}
	FUZZ_CHECK(tj_contains_bsn(s) == has_bsn_run(s));
	return 0;
}
