/*
 * What makes retrying a delivery safe and polite: the document's identity
 * (the Content-Digest and the idempotency key, the same on every retry),
 * the backoff between attempts (capped exponential, full jitter) and the
 * receiver's Retry-After. Pure functions, apart from the system random
 * source; see include/traject/deliver.h and docs/delivery.md.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "traject/deliver.h"
#include "traject/value.h"
#include "util.h"

void tj_doc_digest(const void *body, size_t len, char out[static TJ_DIGEST_SIZE])
{
	static const char prefix[] = "sha-256=:";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t p = sizeof prefix - 1;

	memcpy(out, prefix, p);
	EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL);
	/* 32 bytes encode to exactly 44 characters plus the NUL it writes */
	EVP_EncodeBlock((unsigned char *)out + p, md, 32);
	p += 44;
	out[p++] = ':';
	out[p] = '\0';
}

static bool key_valid(const char *key)
{
	size_t n = strlen(key);

	if (n < 1 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e || key[i] == '"' || key[i] == '\\')
			return false;
	return true;
}

int tj_doc_check(const struct tj_doc *doc, tj_err *err)
{
	if (!doc->grant_id || !tj_ref_valid(doc->grant_id))
		return tj_fail(err, TJ_EINVAL,
			       "document grant id \"%s\" is not a reference (1 to 64 of A-Z a-z 0-9 . _ -)",
			       doc->grant_id ? doc->grant_id : "");
	if (!doc->report_id || !tj_ref_valid(doc->report_id))
		return tj_fail(err, TJ_EINVAL,
			       "document report id \"%s\" is not a reference (1 to 64 of A-Z a-z 0-9 . _ -)",
			       doc->report_id ? doc->report_id : "");
	if (doc->version < 1)
		return tj_fail(err, TJ_EINVAL, "document %s/%s: version %d must be 1 or more",
			       doc->grant_id, doc->report_id, doc->version);
	if (!doc->format || (strcmp(doc->format, "xml") != 0 && strcmp(doc->format, "json") != 0))
		return tj_fail(err, TJ_EINVAL, "document %s/%s: format must be \"xml\" or \"json\"",
			       doc->grant_id, doc->report_id);
	if (!doc->body && doc->len > 0)
		return tj_fail(err, TJ_EINVAL, "document %s/%s: no body", doc->grant_id,
			       doc->report_id);
	if (doc->idempotency_key && !key_valid(doc->idempotency_key))
		return tj_fail(err, TJ_EINVAL,
			       "document %s/%s: the idempotency key must be 1 to 255 printable ASCII "
			       "characters without spaces, quotes or backslashes",
			       doc->grant_id, doc->report_id);
	return 0;
}

int tj_doc_key(const struct tj_doc *doc, char out[static TJ_KEY_SIZE], tj_err *err)
{
	char body_hex[65], key_hex[65];
	char joined[256];
	int n, r;

	if ((r = tj_doc_check(doc, err)) < 0)
		return r;
	tj_sha256_hex(doc->body ? doc->body : "", doc->len, body_hex);
	/* ids are references: they hold no newline, so this is unambiguous */
	n = snprintf(joined, sizeof joined, "tj1\n%s\n%s\n%d\n%s\n%s", doc->grant_id,
		     doc->report_id, doc->version, doc->format, body_hex);
	if (n < 0 || (size_t)n >= sizeof joined)
		return tj_fail(err, TJ_EINVAL, "document %s/%s: ids too long for a key",
			       doc->grant_id, doc->report_id);
	tj_sha256_hex(joined, (size_t)n, key_hex);
	snprintf(out, TJ_KEY_SIZE, "tj1-%s", key_hex);
	return 0;
}

int tj_doc_file_name(const struct tj_doc *doc, char *buf, size_t size, tj_err *err)
{
	int n, r;

	if ((r = tj_doc_check(doc, err)) < 0)
		return r;
	n = snprintf(buf, size, "%s_%s_v%d.%s", doc->grant_id, doc->report_id, doc->version,
		     doc->format);
	if (n < 0 || (size_t)n >= size)
		return tj_fail(err, TJ_EUSAGE, "file name buffer of %zu bytes is too small", size);
	return 0;
}

/* splitmix64: only a fallback when the system source fails; jitter is not a secret */
static uint64_t fallback_random(void)
{
	static uint64_t state;
	struct timespec ts;
	uint64_t z;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	state += 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
	z = state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint64_t tj_rand_system(void *ctx)
{
	unsigned char b[8];
	uint64_t v = 0;

	(void)ctx;
	if (RAND_bytes(b, (int)sizeof b) != 1)
		return fallback_random();
	for (size_t i = 0; i < sizeof b; i++)
		v = (v << 8) | b[i];
	return v;
}

/*
 * Map r onto [0, hi] by equal buckets (bias below hi / 2^64, irrelevant
 * for waiting times), so that a test can name the value it gets: r = 0
 * gives 0, r = UINT64_MAX gives hi.
 */
static long scale(uint64_t r, long hi)
{
	uint64_t range = (uint64_t)hi + 1;
	uint64_t bucket = UINT64_MAX / range + 1;

	return (long)(r / bucket);
}

long tj_backoff_delay(long attempt, long retry_base, long retry_max, long retry_after,
		      tj_rand_fn rnd, void *ctx)
{
	long base = retry_base < 1 ? 1 : retry_base;
	long max = retry_max < 1 ? 1 : retry_max;
	long cap = base < max ? base : max;
	long delay;

	/* double per earlier attempt until the cap; stops early, so no overflow */
	for (long i = 1; i < attempt && cap < max; i++)
		cap = cap > max / 2 ? max : cap * 2;
	delay = scale(rnd ? rnd(ctx) : tj_rand_system(ctx), cap);
	if (retry_after >= 0) {
		long floor = retry_after < max ? retry_after : max;

		if (delay < floor)
			delay = floor;
	}
	return delay;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

long tj_retry_after_parse(const char *value, time_t now)
{
	char buf[128];
	size_t a = 0, b;
	time_t when;

	if (!value)
		return -1;
	b = strlen(value);
	while (a < b && is_ows(value[a]))
		a++;
	while (b > a && is_ows(value[b - 1]))
		b--;
	if (a == b)
		return -1;
	/* delta-seconds of any length saturate (a fuzzer found 128+ digits ignored) */
	if (isdigit((unsigned char)value[a])) {
		long secs = 0;

		for (size_t i = a; i < b; i++) {
			int d = value[i] - '0';

			if (!isdigit((unsigned char)value[i]))
				return -1; /* "1.5", "10s": not delta-seconds */
			if (secs > (LONG_MAX - d) / 10)
				secs = LONG_MAX; /* saturate; the caller clamps anyway */
			else if (secs != LONG_MAX)
				secs = secs * 10 + d;
		}
		return secs;
	}
	if (b - a >= sizeof buf)
		return -1;
	memcpy(buf, value + a, b - a);
	buf[b - a] = '\0';
	/* every HTTP-date form starts with a day name; this also refuses "-5" */
	if (!isalpha((unsigned char)buf[0]))
		return -1;
	when = curl_getdate(buf, NULL);
	if (when == -1)
		return -1;
	if (when <= now)
		return 0;
	if ((intmax_t)(when - now) > (intmax_t)LONG_MAX)
		return LONG_MAX;
	return (long)(when - now);
}
