/*
 * Fuzz target: the events CSV push parser (tj_csv_events_*, lib/csv_events.c).
 *
 * Each input is parsed three times: whole, in pieces of 1 to 13 bytes, and
 * with a row callback that fails. Invariants: the result does not depend on
 * how the reads split the file; a good row is fully valid (reference, date,
 * event, cents); no message repeats a possible BSN (docs/import.md: "the
 * digits are never echoed"); a failing callback stops the parse with its
 * own code; and nothing leaks (ASan's leak check).
 */
#include <string.h>

#include "fuzz.h"
#include "traject/import.h"
#include "traject/value.h"
#include "util.h"

struct run {
	tj_buf log;    /* a transcript of every callback */
	long rows, problems;
	long fail_at;  /* make the row callback fail at this row (0: never) */
};

static int on_row(void *ctx, const struct tj_csv_row *row, tj_err *err)
{
	struct run *r = ctx;

	if (++r->rows == r->fail_at)
		return tj_fail(err, TJ_EDB, "the callback fails");
	FUZZ_CHECK(row->line >= 2);
	if (row->trajectory)
		FUZZ_CHECK(tj_ref_valid(row->trajectory) && !tj_contains_bsn(row->trajectory));
	if (row->ok) {
		int32_t days;

		FUZZ_CHECK(row->trajectory && row->date && row->event);
		FUZZ_CHECK(tj_date_parse(row->date, &days) == 0 && days == row->days);
		FUZZ_CHECK(!strcmp(row->event, "cost") ? row->cents > 0 : row->cents == 0);
		FUZZ_CHECK(!row->value || !tj_contains_bsn(row->value));
	}
	tj_buf_printf(&r->log, "%ld %d %s %s %s %s %lld\n", row->line, row->ok,
		      row->trajectory ? row->trajectory : "-", row->ok ? row->date : "-",
		      row->ok ? row->event : "-", row->value ? row->value : "-",
		      (long long)row->cents);
	return 0;
}

static int on_problem(void *ctx, long line, const char *msg, tj_err *err)
{
	struct run *r = ctx;

	(void)err;
	r->problems++;
	FUZZ_CHECK(line >= 1);
	FUZZ_CHECK(!strncmp(msg, "TJ0", 3));
	FUZZ_CHECK(!tj_contains_bsn(msg));
	FUZZ_CHECK(!strchr(msg, '\n'));
	tj_buf_printf(&r->log, "%ld: %s\n", line, msg);
	return 0;
}

static const struct tj_csv_events_cb callbacks = { on_row, on_problem };

/* Parse data in pieces (max_piece 0: whole); returns the parser's result code. */
static int parse(const uint8_t *data, size_t size, size_t max_piece, struct run *r, bool *stopped)
{
	tj_csv_events *p = NULL;
	tj_err err = { 0 };
	int rc = 0;

	FUZZ_CHECK(tj_csv_events_new(&p, &callbacks, r, &err) == 0);
	for (size_t off = 0, i = 0; off < size && rc == 0; i++) {
		size_t n = max_piece ? i % max_piece + 1 : size;

		if (n > size - off)
			n = size - off;
		rc = tj_csv_events_feed(p, data + off, n, &err);
		off += n;
	}
	if (rc == 0)
		rc = tj_csv_events_finish(p, &err);
	FUZZ_CHECK(tj_csv_events_rows(p) >= 0 && tj_csv_events_problems(p) == r->problems);
	if (rc == 0 && !r->fail_at)
		FUZZ_CHECK(tj_csv_events_rows(p) == r->rows);
	*stopped = tj_csv_events_stopped(p);
	tj_csv_events_free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = { .fail_at = 0 }, pieces = { .fail_at = 0 }, failing = { .fail_at = 1 };
	bool s1, s2, s3;
	int r1, r2, r3;

	r1 = parse(data, size, 0, &whole, &s1);
	r2 = parse(data, size, 13, &pieces, &s2);
	FUZZ_CHECK(r1 == 0 && r2 == 0);
	FUZZ_CHECK(!whole.log.oom && !pieces.log.oom);
	FUZZ_CHECK(s1 == s2 && whole.rows == pieces.rows && whole.problems == pieces.problems);
	FUZZ_CHECK(whole.log.len == pieces.log.len &&
		   (whole.log.len == 0 || !memcmp(whole.log.data, pieces.log.data, whole.log.len)));
	r3 = parse(data, size, 0, &failing, &s3);
	FUZZ_CHECK(whole.rows == 0 ? r3 == 0 : r3 == TJ_EDB);
	tj_buf_free(&whole.log);
	tj_buf_free(&pieces.log);
	tj_buf_free(&failing.log);
	return 0;
}
