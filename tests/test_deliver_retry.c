/*
 * Unit tests of the retry side of delivery (lib/deliver_retry.c and the
 * pure parts of lib/deliver_http.c): backoff bounds, doubling and cap,
 * Retry-After, the Content-Digest value, the idempotency key, the folder
 * file name and which target a URL names. Expected digests were computed
 * with `printf ... | openssl dgst -sha256 -binary | base64`, the key with
 * `printf 'tj1\n...' | sha256sum` (see docs/delivery.md).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "traject/config.h"
#include "traject/deliver.h"
#include "traject/error.h"

static uint64_t fixed(void *ctx)
{
	return *(const uint64_t *)ctx;
}

static void backoff_doubles_to_cap(void **state)
{
	uint64_t top = UINT64_MAX; /* the top of the jitter range: the cap itself */

	(void)state;
	assert_int_equal(tj_backoff_delay(1, 60, 3600, -1, fixed, &top), 60);
	assert_int_equal(tj_backoff_delay(2, 60, 3600, -1, fixed, &top), 120);
	assert_int_equal(tj_backoff_delay(3, 60, 3600, -1, fixed, &top), 240);
	assert_int_equal(tj_backoff_delay(6, 60, 3600, -1, fixed, &top), 1920);
	assert_int_equal(tj_backoff_delay(7, 60, 3600, -1, fixed, &top), 3600); /* 3840 capped */
	assert_int_equal(tj_backoff_delay(100, 60, 3600, -1, fixed, &top), 3600);
	assert_int_equal(tj_backoff_delay(LONG_MAX, 60, 3600, -1, fixed, &top), 3600);
	/* retry_base above retry_max: the cap from the first attempt */
	assert_int_equal(tj_backoff_delay(1, 100, 50, -1, fixed, &top), 50);
	/* nonsense inputs count as 1 */
	assert_int_equal(tj_backoff_delay(0, 60, 3600, -1, fixed, &top), 60);
	assert_int_equal(tj_backoff_delay(-3, 60, 3600, -1, fixed, &top), 60);
	assert_int_equal(tj_backoff_delay(1, 0, 3600, -1, fixed, &top), 1);
	assert_int_equal(tj_backoff_delay(3, -5, 0, -1, fixed, &top), 1);
	/* the largest configuration (retry_max 604800) never overflows */
	assert_int_equal(tj_backoff_delay(40, 86400, 604800, -1, fixed, &top), 604800);
}

static void backoff_full_jitter(void **state)
{
	uint64_t zero = 0, half = UINT64_C(1) << 63;

	(void)state;
	/* full jitter: the bottom of the range is 0 at every attempt */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, -1, fixed, &zero), 0);
	assert_int_equal(tj_backoff_delay(9, 60, 3600, -1, fixed, &zero), 0);
	/* the middle: [0, 60] has 61 values, 2^63 maps to 30; [0, 120] to 60 */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, -1, fixed, &half), 30);
	assert_int_equal(tj_backoff_delay(2, 60, 3600, -1, fixed, &half), 60);
}

static void backoff_retry_after(void **state)
{
	uint64_t zero = 0, top = UINT64_MAX;

	(void)state;
	/* never less than Retry-After ... */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, 7, fixed, &zero), 7);
	assert_int_equal(tj_backoff_delay(1, 60, 3600, 0, fixed, &zero), 0);
	/* ... but a jitter above it stands */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, 7, fixed, &top), 60);
	/* ... and Retry-After itself is clamped to retry_max */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, 99999, fixed, &zero), 3600);
	assert_int_equal(tj_backoff_delay(1, 60, 3600, LONG_MAX, fixed, &zero), 3600);
	/* -1 means "none" */
	assert_int_equal(tj_backoff_delay(1, 60, 3600, -1, fixed, &zero), 0);
}

static void backoff_system_random_in_bounds(void **state)
{
	long lo = LONG_MAX, hi = -1;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		long d = tj_backoff_delay(3, 10, 3600, -1, NULL, NULL); /* cap 40 */

		assert_true(d >= 0 && d <= 40);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* 2000 uniform draws over 41 values reach near both ends */
	assert_true(lo <= 3);
	assert_true(hi >= 37);
}

static void retry_after_seconds(void **state)
{
	(void)state;
	assert_int_equal(tj_retry_after_parse("120", 1000), 120);
	assert_int_equal(tj_retry_after_parse(" 7\t", 1000), 7);
	assert_int_equal(tj_retry_after_parse("0", 1000), 0);
	assert_int_equal(tj_retry_after_parse("99999999999999999999999999", 1000), LONG_MAX);
}

static void retry_after_date(void **state)
{
	const time_t date = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(tj_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", date - 90), 90);
	assert_int_equal(tj_retry_after_parse("Sunday, 06-Nov-94 08:49:37 GMT", date - 90), 90);
	assert_int_equal(tj_retry_after_parse("Sun Nov  6 08:49:37 1994", date - 90), 90);
	/* a date in the past: no wait requested */
	assert_int_equal(tj_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", date + 5), 0);
}

static void retry_after_garbage(void **state)
{
	(void)state;
	assert_int_equal(tj_retry_after_parse(NULL, 1000), -1);
	assert_int_equal(tj_retry_after_parse("", 1000), -1);
	assert_int_equal(tj_retry_after_parse("  ", 1000), -1);
	assert_int_equal(tj_retry_after_parse("-5", 1000), -1);
	assert_int_equal(tj_retry_after_parse("+5", 1000), -1);
	assert_int_equal(tj_retry_after_parse("1.5", 1000), -1);
	assert_int_equal(tj_retry_after_parse("10s", 1000), -1);
	assert_int_equal(tj_retry_after_parse("soon", 1000), -1);
	assert_int_equal(tj_retry_after_parse("Tuesday", 1000), -1);
	assert_int_equal(tj_retry_after_parse("Mon, 99 Foo 2000", 1000), -1);
}

static void digest_known_values(void **state)
{
	char d[TJ_DIGEST_SIZE];

	(void)state;
	tj_doc_digest("", 0, d);
	assert_string_equal(d, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
	tj_doc_digest("<report/>\n", 10, d);
	assert_string_equal(d, "sha-256=:60yCLoM+zEumGPLK5frltDWkKgYWZXfTNvWd+TKFqpg=:");
	tj_doc_digest("{\"a\":1}", 7, d);
	assert_string_equal(d, "sha-256=:AVq9f1zFei3ZS3WQ8ErYCEJzkF7jPsXOvq5iJ2qX+GI=:");
	assert_int_equal(strlen(d) + 1, TJ_DIGEST_SIZE);
}

static struct tj_doc sample(void)
{
	struct tj_doc d = { .grant_id = "OV-2011-AMB-01", .report_id = "2011-Q3", .version = 1,
			    .format = "xml", .body = "<report/>\n", .len = 10 };
	return d;
}

static void key_known_value(void **state)
{
	struct tj_doc d = sample();
	char k[TJ_KEY_SIZE];

	(void)state;
	assert_int_equal(tj_doc_key(&d, k, NULL), 0);
	assert_string_equal(k,
			    "tj1-60cf83c169a7b199173e11bb63e3940b0ecc64f16b8ac445954183cdfff369e3");
}

static void key_same_and_different(void **state)
{
	struct tj_doc d = sample(), o;
	char k0[TJ_KEY_SIZE], k1[TJ_KEY_SIZE];

	(void)state;
	assert_int_equal(tj_doc_key(&d, k0, NULL), 0);
	/* the same document from another buffer: the same key */
	char copy[] = "<report/>\n";
	o = d;
	o.body = copy;
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_equal(k0, k1);

	o = d;
	o.version = 2;
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
	o = d;
	o.format = "json";
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
	o = d;
	o.body = "<report/>\r";
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
	o = d;
	o.grant_id = "OV-2011-AMB-02";
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
	o = d;
	o.report_id = "2011";
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
	/* ids that join to the same file name still get different keys */
	o = d;
	o.grant_id = "A_B";
	o.report_id = "C";
	assert_int_equal(tj_doc_key(&o, k0, NULL), 0);
	o.grant_id = "A";
	o.report_id = "B_C";
	assert_int_equal(tj_doc_key(&o, k1, NULL), 0);
	assert_string_not_equal(k0, k1);
}

static void key_refuses_bad_documents(void **state)
{
	struct tj_doc d;
	char k[TJ_KEY_SIZE] = "untouched";
	tj_err err = { 0 };

	(void)state;
	d = sample();
	d.grant_id = "../etc";
	assert_int_equal(tj_doc_key(&d, k, &err), TJ_EINVAL);
	assert_non_null(strstr(err.msg, "grant id \"../etc\""));
	assert_string_equal(k, "untouched");
	d = sample();
	d.report_id = "";
	assert_int_equal(tj_doc_key(&d, k, NULL), TJ_EINVAL);
	d = sample();
	d.version = 0;
	assert_int_equal(tj_doc_key(&d, k, NULL), TJ_EINVAL);
	d = sample();
	d.format = "pdf";
	assert_int_equal(tj_doc_key(&d, k, NULL), TJ_EINVAL);
	d = sample();
	d.idempotency_key = "has space";
	assert_int_equal(tj_doc_check(&d, NULL), TJ_EINVAL);
	d.idempotency_key = "quo\"te";
	assert_int_equal(tj_doc_check(&d, NULL), TJ_EINVAL);
	d.idempotency_key = "tj1-abc";
	assert_int_equal(tj_doc_check(&d, NULL), 0);
}

static void file_name(void **state)
{
	struct tj_doc d = sample();
	char buf[TJ_DOC_NAME_SIZE], small[8];

	(void)state;
	assert_int_equal(tj_doc_file_name(&d, buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, "OV-2011-AMB-01_2011-Q3_v1.xml");
	d.version = 12;
	d.format = "json";
	assert_int_equal(tj_doc_file_name(&d, buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, "OV-2011-AMB-01_2011-Q3_v12.json");
	assert_int_equal(tj_doc_file_name(&d, small, sizeof small, NULL), TJ_EUSAGE);
}

static void targets(void **state)
{
	tj_err err = { 0 };

	(void)state;
	assert_int_equal(tj_delivery_target("https://reports.example/inbox", NULL), TJ_TARGET_HTTPS);
	assert_int_equal(tj_delivery_target("HTTPS://reports.example/inbox", NULL), TJ_TARGET_HTTPS);
	assert_int_equal(tj_delivery_target("file:///var/spool/trajectd", NULL), TJ_TARGET_FILE);
	assert_int_equal(tj_delivery_target("http://reports.example/inbox", &err), TJ_EINVAL);
	assert_non_null(strstr(err.msg, "use https://"));
	assert_int_equal(tj_delivery_target("ftp://reports.example/", &err), TJ_EINVAL);
	assert_non_null(strstr(err.msg, "scheme \"ftp\""));
	assert_int_equal(tj_delivery_target("reports.example/inbox", NULL), TJ_EINVAL);
	assert_int_equal(tj_delivery_target("file://elsewhere/x", NULL), TJ_EINVAL);
	assert_int_equal(tj_delivery_target("", NULL), TJ_EINVAL);
	assert_int_equal(tj_delivery_target(NULL, NULL), TJ_EINVAL);
}

static void opts_from_config(void **state)
{
	tj_config *cfg = NULL;
	struct tj_delivery_opts o;

	(void)state;
	assert_int_equal(tj_config_new(&cfg, NULL), 0);
	tj_delivery_opts_from_config(&o, cfg);
	assert_int_equal(o.timeout_s, 60);
	assert_int_equal(o.connect_timeout_s, 30);
	assert_int_equal(o.max_reply_bytes, 1048576);
	assert_null(o.ca_file);
	cfg->timeout = 10;
	tj_delivery_opts_from_config(&o, cfg);
	assert_int_equal(o.connect_timeout_s, 10);
	tj_config_free(cfg);
}

static void outcome_names(void **state)
{
	struct tj_delivery_result r;

	(void)state;
	assert_string_equal(tj_outcome_name(TJ_OUTCOME_DELIVERED), "delivered");
	assert_string_equal(tj_outcome_name(TJ_OUTCOME_RETRY), "retry");
	assert_string_equal(tj_outcome_name(TJ_OUTCOME_REJECTED), "rejected");
	memset(&r, 0, sizeof r);
	tj_delivery_result_clear(&r); /* a zeroed result is fine */
	assert_int_equal(r.retry_after, -1);
	tj_delivery_result_clear(NULL);
	tj_delivery_result_stamp(&r);
	assert_int_equal(strlen(r.at), 27); /* YYYY-MM-DDTHH:MM:SS.ffffffZ */
	assert_true(r.at_us > INT64_C(1700000000000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_to_cap),
		cmocka_unit_test(backoff_full_jitter),
		cmocka_unit_test(backoff_retry_after),
		cmocka_unit_test(backoff_system_random_in_bounds),
		cmocka_unit_test(retry_after_seconds),
		cmocka_unit_test(retry_after_date),
		cmocka_unit_test(retry_after_garbage),
		cmocka_unit_test(digest_known_values),
		cmocka_unit_test(key_known_value),
		cmocka_unit_test(key_same_and_different),
		cmocka_unit_test(key_refuses_bad_documents),
		cmocka_unit_test(file_name),
		cmocka_unit_test(targets),
		cmocka_unit_test(opts_from_config),
		cmocka_unit_test(outcome_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
