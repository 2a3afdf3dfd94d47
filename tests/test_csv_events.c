/*
 * Unit tests of the events CSV push parser (lib/csv_events.c), no database.
 *
 * Each case feeds a file and compares a transcript of what the parser
 * delivered: one line per record ("LINE ok TRAJ DATE EVENT VALUE CENTS" or
 * "LINE bad TRAJ") and per problem ("LINE: TJ0xx", or the whole message
 * where a test checks wording). Every case is fed whole and in pieces of
 * 1, 2, 3 and 7 bytes: the result must not depend on how reads split it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "traject/error.h"
#include "traject/import.h"

struct transcript {
	FILE *f;
	bool full;     /* whole messages, not just the code */
	int fail_rows; /* make the row callback fail at this row (0: never) */
	int nrows;
};

static int on_row(void *ctx, const struct tj_csv_row *row, tj_err *err)
{
	struct transcript *t = ctx;

	if (++t->nrows == t->fail_rows)
		return tj_fail(err, TJ_EDB, "row callback failed");
	if (row->ok)
		fprintf(t->f, "%ld ok %s %s %s %s %lld\n", row->line, row->trajectory, row->date,
			row->event, row->value ? row->value : "-", (long long)row->cents);
	else
		fprintf(t->f, "%ld bad %s\n", row->line, row->trajectory ? row->trajectory : "-");
	return 0;
}

static int on_problem(void *ctx, long line, const char *msg, tj_err *err)
{
	struct transcript *t = ctx;

	(void)err;
	if (t->full)
		fprintf(t->f, "%ld: %s\n", line, msg);
	else
		fprintf(t->f, "%ld: %.5s\n", line, msg);
	return 0;
}

static const struct tj_csv_events_cb callbacks = { on_row, on_problem };

/* Parse len bytes of s fed in pieces of chunk bytes; returns the transcript. */
static char *run_chunked(const char *s, size_t len, size_t chunk, bool full, int *rc)
{
	struct transcript t = { .full = full };
	tj_csv_events *p = NULL;
	char *out = NULL;
	size_t outlen = 0;
	tj_err err = { 0 };
	int r = 0;

	t.f = open_memstream(&out, &outlen);
	assert_non_null(t.f);
	assert_int_equal(tj_csv_events_new(&p, &callbacks, &t, &err), 0);
	for (size_t off = 0; off < len && r == 0; off += chunk)
		r = tj_csv_events_feed(p, s + off, len - off < chunk ? len - off : chunk, &err);
	if (r == 0)
		r = tj_csv_events_finish(p, &err);
	if (tj_csv_events_stopped(p))
		fprintf(t.f, "stopped\n");
	tj_csv_events_free(p);
	fclose(t.f);
	if (rc)
		*rc = r;
	return out;
}

/* Every split of the input gives want. */
static void check_len(const char *s, size_t len, bool full, const char *want)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 65536 };

	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		int rc = -1;
		char *got = run_chunked(s, len, chunks[i], full, &rc);

		if (strcmp(got, want) != 0)
			print_error("chunk %zu:\n--- got\n%s--- want\n%s", chunks[i], got, want);
		assert_string_equal(got, want);
		assert_int_equal(rc, 0);
		free(got);
	}
}

static void check(const char *s, const char *want)
{
	check_len(s, strlen(s), false, want);
}

static void check_full(const char *s, const char *want)
{
	check_len(s, strlen(s), true, want);
}

#define HEADER "trajectory,date,event,value\n"

static void good_file_lf(void **state)
{
	(void)state;
	check(HEADER "T-001,2011-06-06,registered,\n"
		     "T-001,2011-06-06,coordinator,coach-07\n"
		     "T-001,2011-06-06,children,2\n"
		     "T-001,2011-06-08,assessed,needs_indication\n"
		     "T-001,2011-06-10,plan,\n"
		     "T-001,2011-06-14,help_started,\n"
		     "T-001,2011-06-20,indication_requested,\n"
		     "T-001,2011-06-21,escalated,foster_care\n"
		     "T-001,2011-07-01,cost,450.00\n"
		     "T-001,2011-07-02,cost,0.5\n"
		     "T-001,2011-12-01,closed,goals_reached\n",
	      "2 ok T-001 2011-06-06 registered - 0\n"
	      "3 ok T-001 2011-06-06 coordinator coach-07 0\n"
	      "4 ok T-001 2011-06-06 children 2 0\n"
	      "5 ok T-001 2011-06-08 assessed needs_indication 0\n"
	      "6 ok T-001 2011-06-10 plan - 0\n"
	      "7 ok T-001 2011-06-14 help_started - 0\n"
	      "8 ok T-001 2011-06-20 indication_requested - 0\n"
	      "9 ok T-001 2011-06-21 escalated foster_care 0\n"
	      "10 ok T-001 2011-07-01 cost - 45000\n"
	      "11 ok T-001 2011-07-02 cost - 50\n"
	      "12 ok T-001 2011-12-01 closed goals_reached 0\n");
}

static void crlf_bom_and_no_final_newline(void **state)
{
	(void)state;
	check("\xEF\xBB\xBFtrajectory,date,event,value\r\n"
	      "T-1,2011-06-06,registered,\r\n"
	      "T-1,2011-06-07,children,20",
	      "2 ok T-1 2011-06-06 registered - 0\n"
	      "3 ok T-1 2011-06-07 children 20 0\n");
	/* A BOM is only tolerated at the very start. */
	check(HEADER "\xEF\xBB\xBFT-1,2011-06-06,registered,\n", "2: TJ010\n2 bad -\n");
}

static void header(void **state)
{
	(void)state;
	check_full("", "1: TJ001 the file is empty: the first line must be the header "
		       "trajectory,date,event,value (export the events with their header)\n"
		       "stopped\n");
	check("\xEF\xBB\xBF", "1: TJ001\nstopped\n");
	check("\n\n", "1: TJ001\nstopped\n");
	check(HEADER, "");
	check(HEADER "\n\r\n", "");
	check("\"trajectory\",\"date\",\"event\",\"value\"\nT-1,2011-06-06,registered,\n",
	      "2 ok T-1 2011-06-06 registered - 0\n");
	check_full("trajectory,date,event\nT-1,2011-06-06,registered,\n",
		   "1: TJ001 the first line must be the header trajectory,date,event,value "
		   "(export exactly these four columns, in this order)\nstopped\n");
	check("trajectory,date,event,value,extra\nT-1,2011-06-06,registered,\n",
	      "1: TJ001\nstopped\n");
	check("Trajectory,date,event,value\n", "1: TJ001\nstopped\n");
	check("trajectory ,date,event,value\n", "1: TJ001\nstopped\n");
	/* Empty lines before the header are reported, and the header still found. */
	check("\n" HEADER "T-1,2011-06-06,registered,\n",
	      "1: TJ005\n3 ok T-1 2011-06-06 registered - 0\n");
}

static void quoting_and_line_numbers(void **state)
{
	(void)state;
	/* Quoted fields are taken as their content. */
	check(HEADER "\"T-1\",\"2011-06-06\",\"registered\",\"\"\n",
	      "2 ok T-1 2011-06-06 registered - 0\n");
	/* A comma inside quotes stays in the field. */
	check_full(HEADER "T-1,2011-06-06,closed,\"goals,reached\"\n",
		   "2: TJ014 closed value 'goals,reached' is not known (use one of: "
		   "goals_reached, referred, dropped_out, moved, other)\n"
		   "2 bad T-1\n");
	/* A newline inside quotes: the record is named by the line it starts on. */
	check_full(HEADER "T-1,2011-06-06,registered,\n"
			  "T-1,2011-06-07,closed,\"goals\nreached\"\n"
			  "T-1,2011-06-08,cost,1\n"
			  "\"T-2\n\",2011-06-09,registered,\r\n"
			  "T-3,2011-06-10,registered,\n",
		   "2 ok T-1 2011-06-06 registered - 0\n"
		   "3: TJ014 closed value 'goals?reached' is not known (use one of: "
		   "goals_reached, referred, dropped_out, moved, other)\n"
		   "3 bad T-1\n"
		   "5 ok T-1 2011-06-08 cost - 100\n"
		   "6: TJ010 trajectory reference 'T-2?' is not 1 to 64 of A-Z a-z 0-9 . _ - "
		   "(use the case system's pseudonymous reference)\n"
		   "6 bad -\n"
		   "8 ok T-3 2011-06-10 registered - 0\n");
	/* Doubled quotes are one quote. */
	check_full(HEADER "T-1,2011-06-06,coordinator,\"a\"\"b\"\n",
		   "2: TJ014 coordinator 'a\"b' is not 1 to 64 of A-Z a-z 0-9 . _ - (give the "
		   "coordinator's pseudonymous reference)\n"
		   "2 bad T-1\n");
	/* Fields are not trimmed. */
	check(HEADER "T-1 ,2011-06-06,registered,\n", "2: TJ010\n2 bad -\n");
	check(HEADER "T-1,2011-06-06,children, 2\n", "2: TJ014\n2 bad T-1\n");
}

static void syntax_errors_stop(void **state)
{
	(void)state;
	check_full(HEADER "T-1,2011-06-06,registered,\n"
			  "T-1,2011-06-07,clo\"sed,x\n"
			  "T-1,2011-06-08,bogus,\n",
		   "2 ok T-1 2011-06-06 registered - 0\n"
		   "3: TJ004 a quote in the wrong place (put a whole field in \"...\" and double "
		   "any quote inside it)\nstopped\n");
	check(HEADER "T-1,2011-06-07,\"closed\"x,\n", "2: TJ004\nstopped\n");
	check_full(HEADER "T-1,2011-06-06,registered,\n"
			  "T-1,2011-06-07,closed,\"goals\n\nreached\n",
		   "2 ok T-1 2011-06-06 registered - 0\n"
		   "3: TJ004 a quoted field opened on this line is never closed (close the "
		   "quote, and double any quote inside a value)\nstopped\n");
	check_full(HEADER "T-1,2011-06-06,registered,\rT-1,2011-06-07,plan,\n",
		   "2: TJ004 a carriage return that does not end the line (end lines with CRLF "
		   "or LF)\nstopped\n");
}

static void overlong_lines(void **state)
{
	size_t n = TJ_CSV_MAX_RECORD + 100, hl = strlen(HEADER);
	char *s = malloc(hl + n + 2);

	(void)state;
	assert_non_null(s);
	memcpy(s, HEADER, hl);
	memset(s + hl, 'x', n);
	memcpy(s + hl + n, "\n", 2);
	check_len(s, hl + n + 1, true,
		  "2: TJ004 line longer than 65536 bytes (is this an events file?)\nstopped\n");
	/* A quoted field that never closes stops at the record limit, not at EOF. */
	memcpy(s + hl, "T-1,2011-06-06,plan,\"", 21);
	for (size_t i = hl + 21; i < hl + n; i += 10)
		s[i] = '\n';
	check_len(s, hl + n + 1, false, "2: TJ004\nstopped\n");
	free(s);
}

static void bad_utf8(void **state)
{
	static const char s[] = HEADER "T-1,2011-06-06,registered,\n"
				       "T-1,2011-06-07,closed,\xff\n"
				       "T-1,2011-06-08,plan,\xc0\xaf\n"
				       "T-1,2011-06-09,plan,\xed\xa0\x80\n"
				       "T-1,2011-06-10,plan,\xf4\x90\x80\x80\n"
				       "T-1,2011-06-11,plan,a\0b\n"
				       "T-1,2011-06-12,closed,\xc3\xa9\n"
				       "T-1,2011-06-13,closed,\xe2\x82\n";

	(void)state;
	check_len(s, sizeof s - 1, false,
		  "2 ok T-1 2011-06-06 registered - 0\n"
		  "3: TJ003\n3 bad T-1\n"
		  "4: TJ003\n4 bad T-1\n"
		  "5: TJ003\n5 bad T-1\n"
		  "6: TJ003\n6 bad T-1\n"
		  "7: TJ003\n7 bad T-1\n"
		  "8: TJ014\n8 bad T-1\n" /* valid UTF-8, not a closing reason */
		  "9: TJ003\n9 bad T-1\n");
	check_len(HEADER "T-1,2011-06-06,plan,x\xff\n", strlen(HEADER) + 23, true,
		  "2: TJ003 not valid UTF-8 at byte 22 of the line (export the file as UTF-8)\n"
		  "2 bad T-1\n");
	/* Inside a multi-line record, the physical line is named. */
	check_len(HEADER "T-1,2011-06-06,closed,\"a\n\xff\"\n", strlen(HEADER) + 28, false,
		  "3: TJ003\n2 bad T-1\n");
}

static void empty_lines(void **state)
{
	(void)state;
	check_full(HEADER "T-1,2011-06-06,registered,\n\n\r\nT-1,2011-06-07,plan,\n\n\n",
		   "2 ok T-1 2011-06-06 registered - 0\n"
		   "3: TJ005 empty line (remove it: only the end of the file may have empty "
		   "lines)\n"
		   "4: TJ005 empty line (remove it: only the end of the file may have empty "
		   "lines)\n"
		   "5 ok T-1 2011-06-07 plan - 0\n");
	/* A line of spaces is not empty: it is one column. */
	check(HEADER " \n", "2: TJ002\n2 bad -\n");
}

static void column_count(void **state)
{
	(void)state;
	check_full(HEADER "T-1,2011-06-06,registered\nT-1,2011-06-06,registered,,\nx\n",
		   "2: TJ002 3 columns, expected 4: trajectory,date,event,value (quote a value "
		   "that contains a comma)\n"
		   "2 bad T-1\n"
		   "3: TJ002 5 columns, expected 4: trajectory,date,event,value (quote a value "
		   "that contains a comma)\n"
		   "3 bad T-1\n"
		   "4: TJ002 1 column, expected 4: trajectory,date,event,value (quote a value "
		   "that contains a comma)\n"
		   "4 bad x\n");
}

static void references(void **state)
{
	char s[256];

	(void)state;
	check(HEADER "bad ref,2011-06-06,registered,\n"
		     ",2011-06-06,registered,\n"
		     "T/1,2011-06-06,registered,\n"
		     "123456789,2011-06-06,registered,\n"
		     "a.b_c-D9,2011-06-06,registered,\n",
	      "2: TJ010\n2 bad -\n"
	      "3: TJ010\n3 bad -\n"
	      "4: TJ010\n4 bad -\n"
	      "5 ok 123456789 2011-06-06 registered - 0\n" /* fails the eleven-test */
	      "6 ok a.b_c-D9 2011-06-06 registered - 0\n");
	snprintf(s, sizeof s, HEADER "%s,2011-06-06,registered,\n%sx,2011-06-06,registered,\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	check_full(s, "2 ok aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
		      "2011-06-06 registered - 0\n"
		      "3: TJ010 trajectory reference 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' "
		      "is not 1 to 64 of A-Z a-z 0-9 . _ - (use the case system's pseudonymous "
		      "reference)\n"
		      "3 bad -\n");
}

static void possible_bsn(void **state)
{
	(void)state;
	/* 123456782 and 111222333 pass the eleven-test; the digits are never echoed. */
	check_full(HEADER "123456782,2011-06-06,registered,\n",
		   "2: TJ011 the trajectory column holds nine digits that pass the BSN "
		   "eleven-test: a possible citizen service number (use pseudonymous references "
		   "only; never export a BSN)\n"
		   "2 bad -\n");
	check(HEADER "T-1,2011-06-06,coordinator,c111222333\n"
		     "T-1,2011-06-06,coordinator,c1112223330\n"
		     "T-1,111222333,registered,\n"
		     "T-1,2011-06-06,x123456782,\n",
	      "2: TJ011\n2 bad T-1\n"
	      "3 ok T-1 2011-06-06 coordinator c1112223330 0\n" /* ten digits: no BSN */
	      "4: TJ011\n4 bad T-1\n"
	      "5: TJ011\n5 bad T-1\n");
	/* Several columns: each reported, other rules still checked. */
	check(HEADER "123456782,2011-02-30,registered,111222333\n",
	      "2: TJ011\n2: TJ011\n2: TJ012\n2 bad -\n");
}

static void dates(void **state)
{
	(void)state;
	check_full(HEADER "T-1,2011-02-29,registered,\n",
		   "2: TJ012 date '2011-02-29' is not a real date written YYYY-MM-DD (write e.g. "
		   "2011-06-01)\n"
		   "2 bad T-1\n");
	check(HEADER "T-1,2012-02-29,registered,\n"
		     "T-1,2011-6-1,registered,\n"
		     "T-1,,registered,\n"
		     "T-1,01-06-2011,registered,\n"
		     "T-1,2011-06-01T00:00,registered,\n",
	      "2 ok T-1 2012-02-29 registered - 0\n"
	      "3: TJ012\n3 bad T-1\n"
	      "4: TJ012\n4 bad T-1\n"
	      "5: TJ012\n5 bad T-1\n"
	      "6: TJ012\n6 bad T-1\n");
}

static void events(void **state)
{
	(void)state;
	check_full(HEADER "T-1,2011-06-06,Registered,\n",
		   "2: TJ013 unknown event 'Registered' (use one of: registered, coordinator, "
		   "children, assessed, plan, help_started, indication_requested, escalated, "
		   "cost, closed)\n"
		   "2 bad T-1\n");
	check(HEADER "T-1,2011-06-06,,\nT-1,2011-06-06,closed ,moved\n",
	      "2: TJ013\n2 bad T-1\n3: TJ013\n3 bad T-1\n");
}

static void values(void **state)
{
	(void)state;
	check(HEADER "T-1,2011-06-06,registered,x\n"
		     "T-1,2011-06-06,plan,x\n"
		     "T-1,2011-06-06,help_started,x\n"
		     "T-1,2011-06-06,indication_requested,x\n"
		     "T-1,2011-06-06,coordinator,\n"
		     "T-1,2011-06-06,coordinator,a b\n"
		     "T-1,2011-06-06,children,0\n"
		     "T-1,2011-06-06,children,21\n"
		     "T-1,2011-06-06,children,01\n"
		     "T-1,2011-06-06,children,+1\n"
		     "T-1,2011-06-06,children,\n"
		     "T-1,2011-06-06,children,1\n"
		     "T-1,2011-06-06,children,19\n"
		     "T-1,2011-06-06,assessed,yes\n"
		     "T-1,2011-06-06,assessed,no_indication\n"
		     "T-1,2011-06-06,escalated,prison\n"
		     "T-1,2011-06-06,escalated,residential\n"
		     "T-1,2011-06-06,escalated,day_treatment\n"
		     "T-1,2011-06-06,escalated,other\n"
		     "T-1,2011-06-06,closed,done\n"
		     "T-1,2011-06-06,closed,referred\n"
		     "T-1,2011-06-06,closed,dropped_out\n"
		     "T-1,2011-06-06,closed,moved\n"
		     "T-1,2011-06-06,closed,other\n"
		     "T-1,2011-06-06,cost,0\n"
		     "T-1,2011-06-06,cost,0.00\n"
		     "T-1,2011-06-06,cost,-1\n"
		     "T-1,2011-06-06,cost,1.234\n"
		     "T-1,2011-06-06,cost,\"1,50\"\n"
		     "T-1,2011-06-06,cost,\n"
		     "T-1,2011-06-06,cost,0.01\n"
		     "T-1,2011-06-06,cost,999999999999.99\n",
	      "2: TJ014\n2 bad T-1\n"
	      "3: TJ014\n3 bad T-1\n"
	      "4: TJ014\n4 bad T-1\n"
	      "5: TJ014\n5 bad T-1\n"
	      "6: TJ014\n6 bad T-1\n"
	      "7: TJ014\n7 bad T-1\n"
	      "8: TJ014\n8 bad T-1\n"
	      "9: TJ014\n9 bad T-1\n"
	      "10: TJ014\n10 bad T-1\n"
	      "11: TJ014\n11 bad T-1\n"
	      "12: TJ014\n12 bad T-1\n"
	      "13 ok T-1 2011-06-06 children 1 0\n"
	      "14 ok T-1 2011-06-06 children 19 0\n"
	      "15: TJ014\n15 bad T-1\n"
	      "16 ok T-1 2011-06-06 assessed no_indication 0\n"
	      "17: TJ014\n17 bad T-1\n"
	      "18 ok T-1 2011-06-06 escalated residential 0\n"
	      "19 ok T-1 2011-06-06 escalated day_treatment 0\n"
	      "20 ok T-1 2011-06-06 escalated other 0\n"
	      "21: TJ014\n21 bad T-1\n"
	      "22 ok T-1 2011-06-06 closed referred 0\n"
	      "23 ok T-1 2011-06-06 closed dropped_out 0\n"
	      "24 ok T-1 2011-06-06 closed moved 0\n"
	      "25 ok T-1 2011-06-06 closed other 0\n"
	      "26: TJ014\n26 bad T-1\n"
	      "27: TJ014\n27 bad T-1\n"
	      "28: TJ014\n28 bad T-1\n"
	      "29: TJ014\n29 bad T-1\n"
	      "30: TJ014\n30 bad T-1\n"
	      "31: TJ014\n31 bad T-1\n"
	      "32 ok T-1 2011-06-06 cost - 1\n"
	      "33 ok T-1 2011-06-06 cost - 99999999999999\n");
	check_full(HEADER "T-1,2011-06-06,registered,x\n"
			  "T-1,2011-06-06,children,21\n"
			  "T-1,2011-06-06,cost,-1\n"
			  "T-1,2011-06-06,assessed,yes\n",
		   "2: TJ014 a registered event has no value, found 'x' (leave the value column "
		   "empty)\n2 bad T-1\n"
		   "3: TJ014 children '21' is not a whole number from 1 to 20 (write the number "
		   "of children without sign or leading zeros)\n3 bad T-1\n"
		   "4: TJ014 cost '-1' is not an amount greater than 0 with at most 2 decimals "
		   "(write e.g. 1234.50, without sign or thousands separators)\n4 bad T-1\n"
		   "5: TJ014 assessed value 'yes' is not known (use one of: needs_indication, "
		   "no_indication)\n5 bad T-1\n");
}

static void every_problem_of_a_line(void **state)
{
	(void)state;
	check(HEADER "bad ref,2011-13-01,registered,x\n"
		     "T-1,2011-13-01,nope,x\n"
		     "T-2,2011-06-01,registered,\n",
	      "2: TJ010\n2: TJ012\n2: TJ014\n2 bad -\n"
	      "3: TJ012\n3: TJ013\n3 bad T-1\n"
	      "4 ok T-2 2011-06-01 registered - 0\n");
}

static void callback_failure_stops(void **state)
{
	static const char s[] = HEADER "T-1,2011-06-06,registered,\n"
				       "T-1,2011-06-07,plan,\n"
				       "T-1,2011-06-08,plan,\n";
	struct transcript t = { .fail_rows = 2 };
	tj_csv_events *p = NULL;
	char *out = NULL;
	size_t outlen = 0;
	tj_err err = { 0 };

	(void)state;
	t.f = open_memstream(&out, &outlen);
	assert_int_equal(tj_csv_events_new(&p, &callbacks, &t, &err), 0);
	assert_int_equal(tj_csv_events_feed(p, s, sizeof s - 1, &err), TJ_EDB);
	assert_string_equal(err.msg, "row callback failed");
	/* Nothing after the failing record is parsed. */
	assert_int_equal(tj_csv_events_rows(p), 2);
	tj_csv_events_free(p);
	fclose(t.f);
	assert_string_equal(out, "2 ok T-1 2011-06-06 registered - 0\n");
	free(out);
	tj_csv_events_free(NULL);
}

static void counters(void **state)
{
	static const char s[] = HEADER "T-1,2011-06-06,registered,\n"
				       "T-1,2011-06-07,plan,x\n"
				       "\n"
				       "T-1,2011-06-08,plan,\n";
	struct transcript t = { 0 };
	tj_csv_events *p = NULL;
	char *out = NULL;
	size_t outlen = 0;
	tj_err err = { 0 };

	(void)state;
	t.f = open_memstream(&out, &outlen);
	assert_int_equal(tj_csv_events_new(&p, &callbacks, &t, &err), 0);
	assert_int_equal(tj_csv_events_feed(p, s, sizeof s - 1, &err), 0);
	assert_int_equal(tj_csv_events_finish(p, &err), 0);
	assert_int_equal(tj_csv_events_rows(p), 3);
	assert_int_equal(tj_csv_events_problems(p), 2);
	assert_false(tj_csv_events_stopped(p));
	tj_csv_events_free(p);
	fclose(t.f);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file_lf),
		cmocka_unit_test(crlf_bom_and_no_final_newline),
		cmocka_unit_test(header),
		cmocka_unit_test(quoting_and_line_numbers),
		cmocka_unit_test(syntax_errors_stop),
		cmocka_unit_test(overlong_lines),
		cmocka_unit_test(bad_utf8),
		cmocka_unit_test(empty_lines),
		cmocka_unit_test(column_count),
		cmocka_unit_test(references),
		cmocka_unit_test(possible_bsn),
		cmocka_unit_test(dates),
		cmocka_unit_test(events),
		cmocka_unit_test(values),
		cmocka_unit_test(every_problem_of_a_line),
		cmocka_unit_test(callback_failure_stops),
		cmocka_unit_test(counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
