/*
 * Fuzz target: the Retry-After parser (tj_retry_after_parse,
 * lib/deliver_retry.c) and the backoff it feeds (tj_backoff_delay).
 * Invariants: the result is -1 or a number of seconds >= 0; digits alone
 * give their value (saturated); the delay always lies within
 * [min(retry_after, retry_max), retry_max].
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "traject/deliver.h"

/* A fixed "now" keeps every run reproducible: 2011-10-12T06:00:00Z. */
#define NOW ((time_t)1318399200)

static uint64_t fixed_random(void *ctx)
{
	return *(const uint64_t *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char value[256];
	long secs, delay;
	uint64_t rnd = 0;
	bool digits = size > 0;

	if (size >= sizeof value)
		return 0;
	memcpy(value, data, size);
	value[size] = '\0';
	for (size_t i = 0; i < size; i++)
		digits = digits && value[i] >= '0' && value[i] <= '9';
	secs = tj_retry_after_parse(value, NOW);
	FUZZ_CHECK(secs >= -1);
	if (digits && strlen(value) == size) {
		char *end;
		long want;

		errno = 0;
		want = strtol(value, &end, 10);
		FUZZ_CHECK(secs == (errno == ERANGE ? LONG_MAX : want));
	}
	if (size >= 8)
		memcpy(&rnd, data, 8);
	delay = tj_backoff_delay((long)(size % 70), 60, 3600, secs, fixed_random, &rnd);
	FUZZ_CHECK(delay >= 0 && delay <= 3600);
	if (secs >= 0)
		FUZZ_CHECK(delay >= (secs < 3600 ? secs : 3600));
	return 0;
}
