/*
 * Unit tests of the grant decision parser (no database): a full and a
 * minimal grant parse into the expected values, the default amount per
 * trajectory, and every rule refused with its exact message and pointer.
 * Refused cases are variants of one minimal grant with one key replaced,
 * so each case shows exactly what it breaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "traject/error.h"
#include "traject/grant.h"
#include "traject/value.h"

/* formats.md's example, byte for byte as tests/data/grants/ov-2011.json */
static const char full_text[] =
	"{\n"
	"  \"id\": \"OV-2011-AMB-01\",\n"
	"  \"title\": \"Experimenten 2e lijns ambulante hulpverlening\",\n"
	"  \"grantor\": \"Provincie Overijssel\",\n"
	"  \"grantee\": \"Gemeente Voorbeeld\",\n"
	"  \"decision_date\": \"2011-05-30\",\n"
	"  \"period\": { \"start\": \"2011-01-01\", \"end\": \"2011-12-31\" },\n"
	"  \"currency\": \"EUR\",\n"
	"  \"amount_granted\": \"150000.00\",\n"
	"  \"target_trajectories\": 30,\n"
	"  \"amount_per_trajectory\": \"5000.00\",\n"
	"  \"baseline\": { \"cost_per_child\": \"7500.00\", \"days_to_help\": 42, "
	"\"indication_rate\": 0.8 },\n"
	"  \"obligations\": [\n"
	"    { \"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\", "
	"\"target\": 30,\n"
	"      \"due\": \"2011-12-31\", \"description\": \"30 trajectories started in 2011\" },\n"
	"    { \"id\": \"P2\", \"indicator\": \"indication_avoidance_rate\", \"op\": \">=\", "
	"\"target\": 0.5,\n"
	"      \"due\": \"2011-12-31\", \"description\": \"at least half of the indications "
	"avoided\" }\n"
	"  ],\n"
	"  \"reports\": [\n"
	"    { \"id\": \"2011-Q3\", \"kind\": \"progress\", \"as_of\": \"2011-09-30\", \"due\": "
	"\"2011-10-15\" },\n"
	"    { \"id\": \"2011\", \"kind\": \"progress\", \"as_of\": \"2011-12-31\", \"due\": "
	"\"2012-01-31\" },\n"
	"    { \"id\": \"determination\", \"kind\": \"determination\", \"as_of\": \"2012-05-31\", "
	"\"due\": \"2012-06-30\" }\n"
	"  ]\n"
	"}\n";

static const char minimal_text[] =
	"{\"id\": \"G-1\", \"grantor\": \"Provincie\", \"grantee\": \"Gemeente\","
	" \"decision_date\": \"2011-05-30\","
	" \"period\": {\"start\": \"2011-01-01\", \"end\": \"2011-12-31\"},"
	" \"amount_granted\": \"150000.00\", \"target_trajectories\": 30,"
	" \"reports\": [{\"id\": \"R1\", \"kind\": \"determination\", \"as_of\": \"2012-05-31\","
	" \"due\": \"2012-06-30\"}]}";

static int32_t day(const char *s)
{
	int32_t d = 0;

	assert_int_equal(tj_date_parse(s, &d), 0);
	return d;
}

/* The minimal grant with one top-level key set to value (JSON), or removed. */
static char *variant(const char *key, const char *value)
{
	json_object *root = json_tokener_parse(minimal_text);
	char *text;

	assert_non_null(root);
	if (value) {
		json_object *v = json_tokener_parse(value);

		assert_true(v != NULL || strcmp(value, "null") == 0);
		json_object_object_add(root, key, v);
	} else {
		json_object_object_del(root, key);
	}
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	assert_non_null(text);
	return text;
}

static tj_grant *parse_ok(const char *text)
{
	tj_diags d;
	tj_err err = { 0 };
	tj_grant *g = NULL;
	int r;

	tj_diags_init(&d);
	r = tj_grant_parse(&g, "t.json", text, strlen(text), &d, &err);
	if (r != 0)
		for (size_t i = 0; i < d.count; i++)
			print_error("unexpected: %s\n", d.items[i]);
	assert_int_equal(r, 0);
	assert_int_equal(d.total, 0);
	tj_diags_clear(&d);
	assert_non_null(g);
	return g;
}

/* Parse text, expect refusal with exactly these lines, in this order. */
static void refused(const char *text, const char *const *lines, size_t n)
{
	tj_diags d;
	tj_err err = { 0 };
	tj_grant *g = NULL;
	char summary[64];

	tj_diags_init(&d);
	assert_int_equal(tj_grant_parse(&g, "t.json", text, strlen(text), &d, &err), TJ_EINVAL);
	assert_null(g);
	for (size_t i = 0; i < d.count && i < n; i++)
		assert_string_equal(d.items[i], lines[i]);
	assert_int_equal(d.total, n);
	snprintf(summary, sizeof summary, "t.json: grant refused (%zu problem%s)", n,
		 n == 1 ? "" : "s");
	assert_string_equal(err.msg, summary);
	tj_diags_clear(&d);
}

static void full_grant(void **state)
{
	tj_grant *g = parse_ok(full_text);
	json_object *doc, *file;

	(void)state;
	assert_string_equal(g->id, "OV-2011-AMB-01");
	assert_string_equal(g->title, "Experimenten 2e lijns ambulante hulpverlening");
	assert_string_equal(g->grantor, "Provincie Overijssel");
	assert_string_equal(g->grantee, "Gemeente Voorbeeld");
	assert_int_equal(g->decision_date, day("2011-05-30"));
	assert_int_equal(g->period_start, day("2011-01-01"));
	assert_int_equal(g->period_end, day("2011-12-31"));
	assert_string_equal(g->currency, "EUR");
	assert_true(g->amount_granted == INT64_C(15000000));
	assert_true(g->amount_per_trajectory == INT64_C(500000));
	assert_int_equal(g->target_trajectories, 30);
	assert_true(g->has_baseline_cost_per_child);
	assert_true(g->baseline_cost_per_child == INT64_C(750000));
	assert_string_equal(g->baseline_days_to_help, "42");
	assert_string_equal(g->baseline_indication_rate, "0.8");

	assert_int_equal(g->n_obligations, 2);
	assert_string_equal(g->obligations[0].id, "P1");
	assert_string_equal(g->obligations[0].indicator, "trajectories_started");
	assert_string_equal(g->obligations[0].op, ">=");
	assert_string_equal(g->obligations[0].target, "30");
	assert_false(g->obligations[0].target_money);
	assert_int_equal(g->obligations[0].due, day("2011-12-31"));
	assert_string_equal(g->obligations[0].description, "30 trajectories started in 2011");
	assert_string_equal(g->obligations[1].id, "P2");
	assert_string_equal(g->obligations[1].indicator, "indication_avoidance_rate");
	assert_string_equal(g->obligations[1].target, "0.5");

	assert_int_equal(g->n_reports, 3);
	assert_string_equal(g->reports[0].id, "2011-Q3");
	assert_string_equal(g->reports[0].kind, "progress");
	assert_int_equal(g->reports[0].as_of, day("2011-09-30"));
	assert_int_equal(g->reports[0].due, day("2011-10-15"));
	assert_string_equal(g->reports[2].id, "determination");
	assert_string_equal(g->reports[2].kind, "determination");
	assert_int_equal(g->reports[2].as_of, day("2012-05-31"));
	assert_int_equal(g->reports[2].due, day("2012-06-30"));

	/* the stored document is the file's JSON, numbers as written */
	doc = json_tokener_parse(g->document);
	file = json_tokener_parse(full_text);
	assert_non_null(doc);
	assert_true(json_object_equal(doc, file));
	json_object_put(doc);
	json_object_put(file);
	assert_non_null(strstr(g->document, "\"target\":0.5"));
	assert_non_null(strstr(g->document, "\"indication_rate\":0.8"));
	tj_grant_free(g);
}

static void minimal_grant_defaults(void **state)
{
	tj_grant *g = parse_ok(minimal_text);

	(void)state;
	assert_string_equal(g->id, "G-1");
	assert_null(g->title);
	assert_string_equal(g->currency, "EUR");
	/* 150000.00 / 30 = 5000.00 */
	assert_true(g->amount_per_trajectory == INT64_C(500000));
	assert_false(g->has_baseline_cost_per_child);
	assert_null(g->baseline_days_to_help);
	assert_null(g->baseline_indication_rate);
	assert_int_equal(g->n_obligations, 0);
	assert_int_equal(g->n_reports, 1);
	tj_grant_free(g);
	tj_grant_free(NULL);
}

static void default_per_trajectory(void **state)
{
	char *text;
	tj_grant *g;

	(void)state;
	/* 100.00 / 8 = 12.50: whole cents */
	{
		json_object *root = json_tokener_parse(minimal_text);

		json_object_object_add(root, "amount_granted", json_object_new_string("100.00"));
		json_object_object_add(root, "target_trajectories", json_object_new_int(8));
		text = strdup(json_object_to_json_string(root));
		json_object_put(root);
	}
	g = parse_ok(text);
	assert_true(g->amount_per_trajectory == 1250);
	tj_grant_free(g);
	free(text);

	/* an explicit amount per trajectory wins, even if it differs */
	text = variant("amount_per_trajectory", "\"4000.00\"");
	g = parse_ok(text);
	assert_true(g->amount_per_trajectory == 400000);
	tj_grant_free(g);
	free(text);

	/* 150000.00 / 7 = 21428.571...: not whole cents */
	text = variant("target_trajectories", "7");
	{
		static const char *const want[] = {
			"t.json: /amount_per_trajectory: TJ143 missing, and amount_granted / "
			"target_trajectories = 150000.00 / 7 is not a whole number of cents (add "
			"amount_per_trajectory, e.g. \"5000.00\")",
		};

		refused(text, want, 1);
	}
	free(text);
}

static void money_targets(void **state)
{
	char *text;
	tj_grant *g;

	(void)state;
	text = variant("obligations",
		       "[{\"id\": \"F1\", \"indicator\": \"budget_remaining\", \"op\": \">=\","
		       " \"target\": \"-250.5\", \"due\": \"2011-12-31\"},"
		       " {\"id\": \"F2\", \"indicator\": \"costs_total\", \"op\": \"<=\","
		       " \"target\": \"150000\", \"due\": \"2011-12-31\"}]");
	g = parse_ok(text);
	assert_int_equal(g->n_obligations, 2);
	assert_string_equal(g->obligations[0].target, "-250.50");
	assert_true(g->obligations[0].target_money);
	assert_string_equal(g->obligations[1].target, "150000.00");
	assert_null(g->obligations[0].description);
	tj_grant_free(g);
	free(text);
}

static void indicator_kinds(void **state)
{
	(void)state;
	assert_int_equal(tj_grant_indicator_kind("trajectories_started"), 0);
	assert_int_equal(tj_grant_indicator_kind("indication_avoidance_rate"), 0);
	assert_int_equal(tj_grant_indicator_kind("extra_children_within_budget"), 0);
	assert_int_equal(tj_grant_indicator_kind("costs_total"), 1);
	assert_int_equal(tj_grant_indicator_kind("cost_per_child_helped"), 1);
	assert_int_equal(tj_grant_indicator_kind("budget_remaining"), 1);
	assert_int_equal(tj_grant_indicator_kind("closed_by_reason"), -1);
	assert_int_equal(tj_grant_indicator_kind("data_quality"), -1);
	assert_int_equal(tj_grant_indicator_kind(""), -1);
	assert_int_equal(tj_grant_indicator_kind(NULL), -1);
}

/* One rule, one variant of the minimal grant, one exact message. */
struct rule {
	const char *key;   /* top-level key to replace */
	const char *value; /* its new JSON value, NULL to remove the key */
	const char *want;  /* the one expected problem */
};

#define OB(fields) "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\"," \
		   " \"target\": 30, \"due\": \"2011-12-31\"" fields "}]"
#define RP(fields) "[{\"id\": \"R1\", \"kind\": \"progress\", \"as_of\": \"2011-09-30\"," \
		   " \"due\": \"2011-10-15\"" fields "}]"

static const struct rule rules[] = {
	{ "id", NULL, "t.json: /id: TJ110 missing (add the grant's id, e.g. \"OV-2011-AMB-01\")" },
	{ "id", "\"OV 2011\"",
	  "t.json: /id: TJ120 'OV 2011' is not a valid id (use 1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ "id", "\"123456782\"",
	  "t.json: /id: TJ121 looks like a BSN (choose another id: personal numbers are never stored)" },
	{ "id", "7", "t.json: /id: TJ112 must be a string, not a number" },
	{ "title", "\"Kind 111222333\"",
	  "t.json: /title: TJ122 may contain a BSN (nine digits that pass the eleven-test): remove it, "
	  "personal numbers are never stored" },
	{ "title", "\" \"",
	  "t.json: /title: TJ123 is empty (write the text, or leave the key out where it is optional)" },
	{ "grantor", NULL, "t.json: /grantor: TJ110 missing (add the name of the party that grants)" },
	{ "grantor", "\"\"",
	  "t.json: /grantor: TJ123 is empty (write the text, or leave the key out where it is optional)" },
	{ "grantee", "null", "t.json: /grantee: TJ112 must be a string, not null" },
	{ "decision_date", "\"2011-02-30\"",
	  "t.json: /decision_date: TJ130 2011-02-30 is not a real date (use YYYY-MM-DD)" },
	{ "decision_date", "\"30-05-2011\"",
	  "t.json: /decision_date: TJ130 30-05-2011 is not a real date (use YYYY-MM-DD)" },
	{ "decision_date", "20110530",
	  "t.json: /decision_date: TJ112 must be a date string \"YYYY-MM-DD\", not a number" },
	{ "period", "[]", "t.json: /period: TJ112 must be an object {start, end}, not a list" },
	{ "period", "{\"start\": \"2011-12-31\", \"end\": \"2011-01-01\"}",
	  "t.json: /period/end: TJ131 2011-01-01 is before the start 2011-12-31 (a period ends on or "
	  "after the day it starts)" },
	{ "period", "{\"start\": \"2011-01-01\"}",
	  "t.json: /period/end: TJ110 missing (add the last day of the period, \"YYYY-MM-DD\")" },
	{ "period", "{\"start\": \"2011-01-01\", \"end\": \"2011-12-31\", \"eind\": \"x\"}",
	  "t.json: /period/eind: TJ111 unknown key (check its spelling; the keys here are start, end)" },
	{ "currency", "\"eur\"",
	  "t.json: /currency: TJ140 'eur' is not a currency code (use 3 upper-case letters, e.g. EUR)" },
	{ "amount_granted", "150000",
	  "t.json: /amount_granted: TJ141 money must be a string such as \"5000.00\", not a JSON number "
	  "(put the amount in quotes)" },
	{ "amount_granted", "\"150000.001\"",
	  "t.json: /amount_granted: TJ142 150000.001 is not an amount of money (use digits with at most "
	  "2 decimals after a point, e.g. \"5000.00\")" },
	{ "amount_granted", "\"-5.00\"",
	  "t.json: /amount_granted: TJ142 -5.00 is not an amount of money (use digits with at most 2 "
	  "decimals after a point, e.g. \"5000.00\")" },
	{ "amount_per_trajectory", "5000.5",
	  "t.json: /amount_per_trajectory: TJ141 money must be a string such as \"5000.00\", not a JSON "
	  "number (put the amount in quotes)" },
	{ "target_trajectories", "0",
	  "t.json: /target_trajectories: TJ150 0 is out of range (use a whole number of 1 or more)" },
	{ "target_trajectories", "30.5",
	  "t.json: /target_trajectories: TJ151 30.5 is not a whole number (write a count such as 30)" },
	{ "target_trajectories", "\"30\"",
	  "t.json: /target_trajectories: TJ112 must be a JSON number, not a string (remove the quotes)" },
	{ "target_trajectories", "3000000000",
	  "t.json: /target_trajectories: TJ150 3000000000 is out of range (use a whole number of 1 or "
	  "more)" },
	{ "baseline", "{\"cost_per_child\": 7500}",
	  "t.json: /baseline/cost_per_child: TJ141 money must be a string such as \"5000.00\", not a "
	  "JSON number (put the amount in quotes)" },
	{ "baseline", "{\"days_to_help\": -1}",
	  "t.json: /baseline/days_to_help: TJ150 -1 is out of range (use a number of 0 or more)" },
	{ "baseline", "{\"indication_rate\": 1.5}",
	  "t.json: /baseline/indication_rate: TJ150 1.5 is out of range (use a number from 0 to 1)" },
	{ "baseline", "{\"indication_rate\": \"0.8\"}",
	  "t.json: /baseline/indication_rate: TJ112 must be a JSON number, not a string (remove the "
	  "quotes)" },
	{ "baseline", "{\"cost\": \"1.00\"}",
	  "t.json: /baseline/cost: TJ111 unknown key (check its spelling; the keys here are "
	  "cost_per_child, days_to_help, indication_rate)" },
	{ "amount_grantd", "\"1.00\"",
	  "t.json: /amount_grantd: TJ111 unknown key (check its spelling; the keys here are id, title, "
	  "grantor, grantee, decision_date, period, currency, amount_granted, "
	  "target_trajectories, amount_per_trajectory, baseline, obligations, reports)" },
	{ "obligations", "{}",
	  "t.json: /obligations: TJ112 must be a list of obligations {id, indicator, op, target, due}, "
	  "not an object" },
	{ "obligations", "[3]",
	  "t.json: /obligations/0: TJ112 must be an object {id, indicator, op, target, due}, not a "
	  "number" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"closed_by_reason\", \"op\": \">=\", \"target\": 1,"
	  " \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/indicator: TJ160 'closed_by_reason' is not a scalar indicator (name "
	  "one of indicators.md, e.g. trajectories_started; docs/grants.md lists them)" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \"=>\", \"target\": 1,"
	  " \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/op: TJ161 '=>' is not a comparison (use one of >=, <=, >, <, ==)" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"costs_total\", \"op\": \"<=\", \"target\": 1000,"
	  " \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/target: TJ162 costs_total is money: the target must be a money string "
	  "such as \"5000.00\", not a JSON number (put it in quotes)" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\", \"target\":"
	  " \"30\", \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/target: TJ163 trajectories_started is not money: the target must be a "
	  "JSON number, not a string (remove the quotes)" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\", \"target\":"
	  " true, \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/target: TJ112 must be a number, not true/false" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\","
	  " \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/0/target: TJ110 missing (add the value to reach, e.g. 30 or \"5000.00\" "
	  "for money)" },
	{ "obligations", OB(", \"due\": \"2011-13-01\""),
	  "t.json: /obligations/0/due: TJ130 2011-13-01 is not a real date (use YYYY-MM-DD)" },
	{ "obligations", OB(", \"description\": \"BSN 123456782\""),
	  "t.json: /obligations/0/description: TJ122 may contain a BSN (nine digits that pass the "
	  "eleven-test): remove it, personal numbers are never stored" },
	{ "obligations", OB(", \"descripton\": \"x\""),
	  "t.json: /obligations/0/descripton: TJ111 unknown key (check its spelling; the keys here are "
	  "id, indicator, op, target, due, description)" },
	{ "obligations",
	  "[{\"id\": \"P1\", \"indicator\": \"trajectories_started\", \"op\": \">=\", \"target\": 1,"
	  " \"due\": \"2011-12-31\"}, {\"id\": \"P1\", \"indicator\": \"trajectories_helped\","
	  " \"op\": \">=\", \"target\": 1, \"due\": \"2011-12-31\"}]",
	  "t.json: /obligations/1/id: TJ170 'P1' is used twice (also at /obligations/0/id; give every "
	  "obligation its own id)" },
	{ "reports", NULL,
	  "t.json: /reports: TJ110 missing (add the reporting calendar, a list of {id, kind, as_of, "
	  "due})" },
	{ "reports", "[]",
	  "t.json: /reports: TJ174 is empty (add the reporting calendar: at least one report {id, kind, "
	  "as_of, due})" },
	{ "reports", RP(", \"kind\": \"final\""),
	  "t.json: /reports/0/kind: TJ171 'final' is not a kind of report (use \"progress\" or "
	  "\"determination\")" },
	{ "reports", RP(", \"due\": \"2011-09-29\""),
	  "t.json: /reports/0/due: TJ172 2011-09-29 is before as_of 2011-09-30 (a report falls due on "
	  "or after the date it is about)" },
	{ "reports", RP(", \"id\": \"Q 3\""),
	  "t.json: /reports/0/id: TJ120 'Q 3' is not a valid id (use 1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ "reports",
	  "[{\"id\": \"R\", \"kind\": \"progress\", \"as_of\": \"2011-09-30\", \"due\": "
	  "\"2011-10-15\"}, {\"id\": \"R\", \"kind\": \"progress\", \"as_of\": \"2011-12-31\","
	  " \"due\": \"2012-01-31\"}]",
	  "t.json: /reports/1/id: TJ170 'R' is used twice (also at /reports/0/id; give every report its "
	  "own id)" },
	{ "reports",
	  "[{\"id\": \"D1\", \"kind\": \"determination\", \"as_of\": \"2012-05-31\", \"due\": "
	  "\"2012-06-30\"}, {\"id\": \"D2\", \"kind\": \"determination\", \"as_of\": "
	  "\"2012-05-31\", \"due\": \"2012-06-30\"}]",
	  "t.json: /reports/1/kind: TJ173 a second determination request (the first is /reports/0; a "
	  "grant has one: make this one \"progress\")" },
};

static void each_rule(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		char *text = variant(rules[i].key, rules[i].value);
		const char *want[] = { rules[i].want };

		print_message("rule %zu: %s\n", i, rules[i].want);
		refused(text, want, 1);
		free(text);
	}
}

static void json_number_grammar(void **state)
{
	/* json-c accepts these; a grant file may not contain them */
	static const char *const bad[][2] = {
		{ "NaN", "t.json: /obligations/0/target: TJ152 NaN is not a JSON number (write digits, e.g. "
			 "0.5 or 30)" },
		{ "1.", "t.json: /obligations/0/target: TJ152 1. is not a JSON number (write digits, e.g. "
			"0.5 or 30)" },
		{ "1e400", "t.json: /obligations/0/target: TJ150 1e400 is out of range (use a number from "
			   "-1e12 to 1e12)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[1024];
		const char *want[] = { bad[i][1] };

		snprintf(text, sizeof text,
			 "{\"id\": \"G-1\", \"grantor\": \"P\", \"grantee\": \"G\","
			 " \"decision_date\": \"2011-05-30\","
			 " \"period\": {\"start\": \"2011-01-01\", \"end\": \"2011-12-31\"},"
			 " \"amount_granted\": \"150000.00\", \"target_trajectories\": 30,"
			 " \"obligations\": [{\"id\": \"P1\", \"indicator\": \"escalations\","
			 " \"op\": \"<\", \"target\": %s, \"due\": \"2011-12-31\"}],"
			 " \"reports\": [{\"id\": \"R1\", \"kind\": \"progress\","
			 " \"as_of\": \"2011-09-30\", \"due\": \"2011-10-15\"}]}",
			 bad[i][0]);
		refused(text, want, 1);
	}
}

static void syntax_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "", "t.json: TJ101 the file is empty (expected a JSON object {\"id\": ..., ...})" },
		{ "{\n  \"id\": \"x\",\n}",
		  "t.json:3:1: TJ100 invalid JSON: unexpected character (correct the file at this place)" },
		{ "{\"id\": \"x\"", "t.json:1:11: TJ100 the JSON ends too early (a closing }, ] or \" is "
				     "missing)" },
		{ "[1, 2]", "t.json: TJ103 the grant decision must be a JSON object {\"id\": ..., ...}, not "
			    "a list" },
		{ "5", "t.json: TJ103 the grant decision must be a JSON object {\"id\": ..., ...}, not a "
		       "number" },
		{ "{}\nx", "t.json:2:1: TJ100 invalid JSON: unexpected character (correct the file at this "
			  "place)" },
		{ "null", "t.json: TJ103 the grant decision must be a JSON object {\"id\": ..., ...}, not "
			  "null" },
		{ " null\n", "t.json: TJ103 the grant decision must be a JSON object {\"id\": ..., ...}, "
			      "not null" },
		/* json-c notices the cut sequence at the closing quote */
		{ "{\"id\": \"\xc3\"}",
		  "t.json:1:10: TJ100 invalid JSON: invalid utf-8 string (correct the file at this place)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *want[] = { cases[i][1] };

		refused(cases[i][0], want, 1);
	}
}

/* Every problem is reported, in document order, missing keys last. */
static void all_problems_collected(void **state)
{
	static const char text[] =
		"{\"id\": \"a b\", \"grantor\": \"P\", \"decision_date\": \"2011-02-29\","
		" \"period\": {\"start\": \"2011-01-01\", \"end\": \"2010-01-01\"},"
		" \"amount_granted\": 1, \"target_trajectories\": 0, \"colour\": \"red\","
		" \"reports\": [{\"id\": \"R\", \"kind\": \"x\", \"as_of\": \"2011-01-02\","
		" \"due\": \"2011-01-01\"}]}";
	static const char *const want[] = {
		"t.json: /id: TJ120 'a b' is not a valid id (use 1 to 64 of A-Z a-z 0-9 . _ -)",
		"t.json: /decision_date: TJ130 2011-02-29 is not a real date (use YYYY-MM-DD)",
		"t.json: /period/end: TJ131 2010-01-01 is before the start 2011-01-01 (a period ends on or "
		"after the day it starts)",
		"t.json: /amount_granted: TJ141 money must be a string such as \"5000.00\", not a JSON "
		"number (put the amount in quotes)",
		"t.json: /target_trajectories: TJ150 0 is out of range (use a whole number of 1 or more)",
		"t.json: /colour: TJ111 unknown key (check its spelling; the keys here are id, title, "
		"grantor, grantee, decision_date, period, currency, amount_granted, "
		"target_trajectories, amount_per_trajectory, baseline, obligations, reports)",
		"t.json: /reports/0/kind: TJ171 'x' is not a kind of report (use \"progress\" or "
		"\"determination\")",
		"t.json: /reports/0/due: TJ172 2011-01-01 is before as_of 2011-01-02 (a report falls due on "
		"or after the date it is about)",
		"t.json: /grantee: TJ110 missing (add the name of the party that receives the grant)",
	};

	(void)state;
	refused(text, want, sizeof want / sizeof want[0]);
}

/* Values are repeated short and printable: messages go to terminals and logs. */
static void messages_stay_printable(void **state)
{
	char *text;

	(void)state;
	/* 60 characters are repeated: "a", "?" for the BEL, b..z, a..z, a..g */
	text = variant("id", "\"a\\u0007bcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"
			     "klmnop\"");
	{
		const char *want[] = {
			"t.json: /id: TJ120 'a?bcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefg..."
			"' is not a valid id (use 1 to 64 of A-Z a-z 0-9 . _ -)",
		};

		refused(text, want, 1);
	}
	free(text);
	text = variant("currency", "\"EU\\u0000R\"");
	{
		const char *want[] = {
			"t.json: /currency: TJ113 contains a NUL character (\\u0000): remove it",
		};

		refused(text, want, 1);
	}
	free(text);
	text = variant("a/b~c", "1");
	{
		const char *want[] = {
			"t.json: /a~1b~0c: TJ111 unknown key (check its spelling; the keys here are id, title, "
			"grantor, grantee, decision_date, period, currency, amount_granted, "
			"target_trajectories, amount_per_trajectory, baseline, obligations, reports)",
		};

		refused(text, want, 1);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_grant),
		cmocka_unit_test(minimal_grant_defaults),
		cmocka_unit_test(default_per_trajectory),
		cmocka_unit_test(money_targets),
		cmocka_unit_test(indicator_kinds),
		cmocka_unit_test(each_rule),
		cmocka_unit_test(json_number_grammar),
		cmocka_unit_test(syntax_errors),
		cmocka_unit_test(all_problems_collected),
		cmocka_unit_test(messages_stay_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
