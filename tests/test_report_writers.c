/*
 * Unit tests of the report model and its two writers, without a database:
 * a complete report built in C is written as JSON and as XML and compared
 * byte for byte with hand-written expected files in tests/data/reports/
 * writers/, the XML is validated against reports/trajectd-report-2.xsd with
 * libxml2, and values spelled wrongly, null values, accessors and failing
 * output streams are checked. The same model is made public
 * (tj_report_make_public) and rendered as HTML in both languages, and the
 * suppression rules are checked on small hand-made models.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "report_private.h"
#include "traject/report.h"
#include "util.h"

/* The source tree: TJ_SOURCE_ROOT, else relative to this file. */
static char *src_path(const char *rel)
{
	const char *root = getenv("TJ_SOURCE_ROOT");
	tj_buf b;

	tj_buf_init(&b);
	if (root)
		tj_buf_printf(&b, "%s/%s", root, rel);
	else
		tj_buf_printf(&b, "%.*s/../%s", (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__,
			      rel);
	return b.data;
}

static char *slurp(const char *rel)
{
	char *path = src_path(rel);
	tj_buf b;
	tj_err err;

	assert_int_equal(tj_read_file(path, &b, &err), 0);
	free(path);
	return b.data;
}

/* One node of a model description: level 1 hangs off the root. */
struct spec {
	int level;
	const char *name;
	enum tj_rtype type;
	const char *text;
};

#define O TJ_R_OBJECT
#define L TJ_R_LIST
#define S TJ_R_STRING
#define D TJ_R_DATE
#define T TJ_R_TIMESTAMP
#define I TJ_R_INTEGER
#define N TJ_R_DECIMAL
#define M TJ_R_MONEY
#define B TJ_R_BOOL
#define X TJ_R_SUPPRESSED

/* A determination report in which every kind of value occurs. */
static const struct spec full[] = {
	{ 1, "grant", O, NULL },
	{ 2, "id", S, "G-1" },
	{ 2, "title", S, "Proef 2e lijn/één" },
	{ 2, "grantor", S, "Provincie Overijssel" },
	{ 2, "grantee", S, "Gemeente \"Voorbeeld\" & <co>" },
	{ 2, "period", O, NULL },
	{ 3, "start", D, "2011-01-01" },
	{ 3, "end", D, "2011-12-31" },
	{ 2, "currency", S, "EUR" },
	{ 2, "amount_granted", M, "150000.00" },
	{ 2, "amount_per_trajectory", M, "5000.00" },
	{ 2, "target_trajectories", I, "30" },
	{ 2, "version", I, "2" },
	{ 1, "report", O, NULL },
	{ 2, "id", S, "determination" },
	{ 2, "kind", S, "determination" },
	{ 2, "as_of", D, "2012-05-31" },
	{ 2, "due", D, "2012-06-30" },
	{ 2, "known_at", T, "2012-06-01T08:00:00.250000Z" },
	{ 2, "version", I, NULL },
	{ 2, "public", B, "false" },
	{ 2, "suppress_below", I, NULL },
	{ 1, "indicators", O, NULL },
	{ 2, "trajectories_started", I, "4" },
	{ 2, "trajectories_helped", I, "2" },
	{ 2, "trajectories_closed", I, "1" },
	{ 2, "trajectories_active", I, "3" },
	{ 2, "closed_by_reason", O, NULL },
	{ 3, "goals_reached", I, "0" },
	{ 3, "referred", I, "0" },
	{ 3, "dropped_out", I, "0" },
	{ 3, "moved", I, "1" },
	{ 3, "other", I, "0" },
	{ 2, "children_helped", I, "3" },
	{ 2, "indications_needed", I, "3" },
	{ 2, "indications_requested", I, "0" },
	{ 2, "indications_avoided", I, "2" },
	{ 2, "indication_avoidance_rate", N, "0.6667" },
	{ 2, "escalations", I, "0" },
	{ 2, "heavier_care_avoided_rate", N, "1" },
	{ 2, "median_days_to_help", N, "14.5" },
	{ 2, "p90_days_to_help", N, "18.8" },
	{ 2, "costs_total", M, "450.00" },
	{ 2, "amount_committed", M, "20000.00" },
	{ 2, "amount_settled", M, "5000.00" },
	{ 2, "budget_remaining", M, "-2500.00" },
	{ 2, "cost_per_child_helped", M, "150.00" },
	{ 2, "children_helped_per_10k_eur", N, "66.6667" },
	{ 2, "data_quality", O, NULL },
	{ 3, "no_coordinator", I, "2" },
	{ 3, "no_plan", I, "1" },
	{ 3, "no_assessment", I, "1" },
	{ 2, "extra_children_within_budget", I, NULL },
	{ 1, "baseline", O, NULL },
	{ 2, "cost_per_child", M, "7500.00" },
	{ 2, "days_to_help", N, "42" },
	{ 2, "indication_rate", N, NULL },
	{ 1, "obligations", L, NULL },
	{ 2, "obligation", O, NULL },
	{ 3, "id", S, "P1" },
	{ 3, "indicator", S, "trajectories_started" },
	{ 3, "description", S, "30 trajectories <started>" },
	{ 3, "op", S, ">=" },
	{ 3, "target", N, "30" },
	{ 3, "due", D, "2011-12-31" },
	{ 3, "value", N, "4" },
	{ 3, "projection", N, "2.8266" },
	{ 3, "status", S, "not_met" },
	{ 3, "explanation", S, "Twee gezinnen verhuisden <voor> de start & één stopte." },
	{ 3, "explained_at", T, "2012-06-01T07:59:00Z" },
	{ 2, "obligation", O, NULL },
	{ 3, "id", S, "P3" },
	{ 3, "indicator", S, "cost_per_child_helped" },
	{ 3, "description", S, NULL },
	{ 3, "op", S, "<" },
	{ 3, "target", M, "7500.00" },
	{ 3, "due", D, "2012-12-31" },
	{ 3, "value", M, NULL },
	{ 3, "projection", M, NULL },
	{ 3, "status", S, "at_risk" },
	{ 3, "explanation", S, NULL },
	{ 3, "explained_at", T, NULL },
	{ 1, "series", L, NULL },
	{ 2, "point", O, NULL },
	{ 3, "date", D, "2012-05-31" },
	{ 3, "trajectories_started", I, "4" },
	{ 3, "trajectories_helped", I, "2" },
	{ 3, "trajectories_closed", I, "1" },
	{ 3, "children_helped", I, "3" },
	{ 3, "costs_total", M, "450.00" },
	{ 1, "determination", O, NULL },
	{ 2, "trajectories_realised", I, "3" },
	{ 2, "amount_granted", M, "150000.00" },
	{ 2, "amount_committed", M, "20000.00" },
	{ 2, "amount_settled", M, "5000.00" },
	{ 2, "costs_total", M, "450.00" },
	{ 2, "amount_determined", M, "15000.00" },
	{ 2, "amount_difference", M, "135000.00" },
	{ 2, "settlement", L, NULL },
	{ 3, "line", O, NULL },
	{ 4, "reference", S, "T-001" },
	{ 4, "registered", D, "2011-06-06" },
	{ 4, "closed", D, NULL },
	{ 4, "closing_reason", S, NULL },
	{ 4, "amount", M, "5000.00" },
	{ 4, "costs_total", M, "450.00" },
	{ 4, "realised", B, "true" },
};

static struct tj_report *build(const struct spec *s, size_t n)
{
	struct tj_report *r = NULL;
	struct tj_rnode *at[8];
	tj_err err;

	assert_int_equal(tj_report_new(&r, &err), 0);
	at[0] = &r->root;
	for (size_t i = 0; i < n; i++) {
		assert_true(s[i].level >= 1 && s[i].level < 8);
		at[s[i].level] = tj_rn_add(r, at[s[i].level - 1], s[i].name, s[i].type, s[i].text);
		assert_non_null(at[s[i].level]);
	}
	assert_false(r->oom);
	return r;
}

/* Run a writer into memory; returns its status and the text in *out. */
static int render(int (*w)(const struct tj_report *, FILE *, tj_err *), const struct tj_report *r,
		  char **out, tj_err *err)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int rc;

	assert_non_null(f);
	rc = w(r, f, err);
	assert_int_equal(fclose(f), 0);
	return rc;
}

static void json_full(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	char *got = NULL, *want = slurp("tests/data/reports/writers/full.json");
	tj_err err = { 0 };

	(void)state;
	assert_int_equal(render(tj_report_write_json, r, &got, &err), 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
	tj_report_free(r);
}

static void xml_full(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	char *got = NULL, *want = slurp("tests/data/reports/writers/full.xml");
	tj_err err = { 0 };

	(void)state;
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
	tj_report_free(r);
}

/* 0 when text validates against the shipped XSD. */
static int xsd_validate(const char *text)
{
	char *xsd = src_path("reports/trajectd-report-2.xsd");
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
	xmlSchemaPtr schema = xmlSchemaParse(pc);
	xmlSchemaValidCtxtPtr vc;
	xmlDocPtr doc;
	int rc;

	assert_non_null(schema);
	vc = xmlSchemaNewValidCtxt(schema);
	doc = xmlReadMemory(text, (int)strlen(text), "report.xml", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlFreeDoc(doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	free(xsd);
	return rc;
}

static void xml_valid_against_xsd(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	char *got = NULL;
	tj_err err = { 0 };

	(void)state;
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), 0);
	assert_int_equal(xsd_validate(got), 0);
	free(got);
	/* The schema is not a rubber stamp: a wrong status is refused. */
	tj_rn_child(r->root.kids[4]->kids[0], "status")->text[0] = 'X';
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), 0);
	assert_int_not_equal(xsd_validate(got), 0);
	free(got);
	tj_report_free(r);
}

/* Every malformed spelling is refused by both writers, naming the value. */
static void refuses_bad_spellings(void **state)
{
	static const struct {
		enum tj_rtype type;
		const char *text;
	} bad[] = {
		{ N, "0.50" }, { N, "1.0" }, { N, "1." }, { N, ".5" }, { N, "1e3" },
		{ N, "01" }, { N, "-0" }, { N, "" }, { M, "1.5" }, { M, "1" },
		{ M, "1.500" }, { M, "01.50" }, { I, "01" }, { I, "1.0" }, { I, "+1" },
		{ I, "99999999999999999999" }, { D, "2011-02-30" }, { D, "2011-2-3" },
		{ T, "2011-10-01T08:00:00" }, { T, "2011-10-01T08:00:00.5Z" },
		{ T, "2011-10-01 08:00:00Z" }, { B, "t" }, { S, "bell\a" },
		{ S, "bad \xff utf-8" }, { X, "<1" }, { X, "<" }, { X, "<05" }, { X, "y" },
		{ X, "<-5" }, { X, "5" }, { X, "" }, { X, "<5 " },
	};

	(void)state;
	for (size_t i = 0; i < TJ_ARRAY_SIZE(bad); i++) {
		struct spec one[] = { { 1, "value", bad[i].type, bad[i].text } };
		struct tj_report *r = build(one, 1);
		char *got = NULL;
		tj_err err = { 0 };

		assert_false(tj_rtext_valid(bad[i].type, bad[i].text));
		assert_int_equal(render(tj_report_write_json, r, &got, &err), TJ_EINVAL);
		assert_non_null(strstr(err.msg, "value"));
		free(got);
		got = NULL;
		assert_int_equal(render(tj_report_write_xml, r, &got, &err), TJ_EINVAL);
		free(got);
		tj_report_free(r);
	}
}

static void accepts_good_spellings(void **state)
{
	static const struct {
		enum tj_rtype type;
		const char *text;
	} good[] = {
		{ N, "0" }, { N, "0.5" }, { N, "-2.25" }, { N, "12" }, { N, "0.0001" },
		{ M, "0.00" }, { M, "-2500.00" }, { I, "0" }, { I, "-3" }, { D, "2012-02-29" },
		{ T, "2011-10-01T08:00:00Z" }, { T, "2011-10-01T08:00:00.000001Z" },
		{ B, "false" }, { S, "" }, { S, "tab\tand é" }, { X, "<5" }, { X, "x" },
		{ X, "<100" }, { X, "<2" },
	};

	(void)state;
	for (size_t i = 0; i < TJ_ARRAY_SIZE(good); i++)
		assert_true(tj_rtext_valid(good[i].type, good[i].text));
	assert_false(tj_rtext_valid(S, NULL));
	assert_false(tj_rtext_valid(O, "x"));
}

static void accessors_and_version(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	const struct tj_rnode *n;
	char *got = NULL;
	tj_err err = { 0 };

	(void)state;
	n = tj_report_find(r, "indicators/data_quality/no_plan");
	assert_non_null(n);
	assert_string_equal(n->text, "1");
	assert_null(tj_report_find(r, "indicators/data_quality/no_such"));
	assert_null(tj_report_find(r, "indicators/data"));
	assert_null(tj_report_find(r, "report/version")->text);
	assert_int_equal(tj_report_root(r)->nkids, 7);
	assert_string_equal(tj_rnode_child(tj_report_root(r), "series")->kids[0]->name, "point");

	assert_int_equal(tj_report_set_version(r, 0, &err), TJ_EUSAGE);
	assert_int_equal(tj_report_set_version(r, 3, &err), 0);
	assert_string_equal(tj_report_find(r, "report/version")->text, "3");
	assert_int_equal(render(tj_report_write_json, r, &got, &err), 0);
	assert_non_null(strstr(got, "    \"known_at\": \"2012-06-01T08:00:00.250000Z\",\n"
				    "    \"version\": 3,\n"));
	free(got);
	got = NULL;
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), 0);
	assert_non_null(strstr(got, "<version>3</version>\n    <public>false</public>"));
	assert_int_equal(xsd_validate(got), 0);
	free(got);
	tj_report_free(r);
	tj_report_free(NULL);
}

/* A full disk is a failure of the writer, not a silent truncation. */
static void write_errors(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	FILE *f = fopen("/dev/full", "w");
	tj_err err = { 0 };

	(void)state;
	if (!f)
		skip();
	assert_int_equal(tj_report_write_json(r, f, &err), TJ_EIO);
	clearerr(f);
	assert_int_equal(tj_report_write_xml(r, f, &err), TJ_EIO);
	fclose(f);
	tj_report_free(r);
}

/* Building after memory ran out is refused by both writers. */
static void incomplete_model(void **state)
{
	struct tj_report *r = build(full, 3);
	char *got = NULL;
	tj_err err = { 0 };

	(void)state;
	assert_null(tj_rn_add(r, NULL, "x", S, "y"));
	assert_true(r->oom);
	assert_int_equal(render(tj_report_write_json, r, &got, &err), TJ_ENOMEM);
	free(got);
	got = NULL;
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), TJ_ENOMEM);
	free(got);
	tj_report_free(r);
}

/* ---- the public version ------------------------------------------------ */

static const char *text_at(const struct tj_report *r, const char *path)
{
	const struct tj_rnode *n = tj_report_find(r, path);

	assert_non_null(n);
	return n->text ? n->text : "null";
}

/* The full model made public: primary and secondary markers, nothing personal. */
static void public_full(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	char *got = NULL;
	tj_err err = { 0 };

	(void)state;
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_string_equal(text_at(r, "report/public"), "true");
	assert_string_equal(text_at(r, "report/suppress_below"), "5");
	/* 4 started, 2 helped, 1 closed: each from 1 to 4 */
	assert_string_equal(text_at(r, "indicators/trajectories_started"), "<5");
	assert_string_equal(text_at(r, "indicators/trajectories_helped"), "<5");
	assert_string_equal(text_at(r, "indicators/trajectories_closed"), "<5");
	assert_int_equal(tj_report_find(r, "indicators/trajectories_started")->type,
			 TJ_R_SUPPRESSED);
	/* derived from them */
	assert_string_equal(text_at(r, "indicators/trajectories_active"), "x");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/goals_reached"), "x");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/moved"), "x");
	assert_string_equal(text_at(r, "indicators/costs_total"), "x");
	assert_string_equal(text_at(r, "indicators/amount_committed"), "x");
	assert_string_equal(text_at(r, "indicators/budget_remaining"), "x");
	assert_string_equal(text_at(r, "indicators/amount_settled"), "x");
	assert_string_equal(text_at(r, "indicators/median_days_to_help"), "x");
	assert_string_equal(text_at(r, "indicators/cost_per_child_helped"), "x");
	/* 0 is no small count; a null stays null */
	assert_string_equal(text_at(r, "indicators/indications_requested"), "0");
	assert_string_equal(text_at(r, "indicators/extra_children_within_budget"), "null");
	/* the obligation on started follows it; its explanation is gone */
	assert_string_equal(text_at(r, "obligations/obligation/value"), "<5");
	assert_string_equal(text_at(r, "obligations/obligation/status"), "x");
	assert_string_equal(text_at(r, "obligations/obligation/explanation"), "null");
	/* the series' only point is C: it shows what the indicators show */
	assert_string_equal(text_at(r, "series/point/trajectories_started"), "<5");
	assert_string_equal(text_at(r, "series/point/costs_total"), "x");
	/* no settlement lines, no references */
	assert_null(tj_report_find(r, "determination/settlement"));
	assert_string_equal(text_at(r, "determination/trajectories_realised"), "<5");
	assert_string_equal(text_at(r, "determination/amount_determined"), "x");
	assert_string_equal(text_at(r, "determination/amount_granted"), "150000.00");
	assert_int_equal(render(tj_report_write_json, r, &got, &err), 0);
	assert_null(strstr(got, "T-001"));
	assert_non_null(strstr(got, "\"trajectories_started\": \"<5\""));
	free(got);
	got = NULL;
	assert_int_equal(render(tj_report_write_xml, r, &got, &err), 0);
	assert_non_null(strstr(got, "<trajectories_started>&lt;5</trajectories_started>"));
	assert_null(strstr(got, "T-001"));
	assert_int_equal(xsd_validate(got), 0);
	free(got);
	/* once only, and only with a sane threshold */
	assert_int_equal(tj_report_make_public(r, 5, &err), TJ_EUSAGE);
	tj_report_free(r);
	r = build(full, TJ_ARRAY_SIZE(full));
	assert_int_equal(tj_report_make_public(r, 2, &err), TJ_EUSAGE);
	assert_int_equal(tj_report_make_public(r, 101, &err), TJ_EUSAGE);
	assert_string_equal(text_at(r, "report/public"), "false");
	tj_report_free(r);
}

/*
 * A small model for one rule: started, closed, active, the five reasons and
 * a series of started counts (the last point is C).
 */
static struct tj_report *mini(const char *started, const char *closed, const char *active,
			      const char *const reasons[5], const char *const *points, size_t npoints)
{
	static const char *const reason_names[] = { "goals_reached", "referred", "dropped_out",
						    "moved", "other" };
	static const char *const zero_counts[] = {
		"trajectories_helped", "children_helped", "indications_needed",
		"indications_requested", "indications_avoided", "escalations",
	};
	struct tj_report *r = NULL;
	struct tj_rnode *rep, *ind, *by, *q, *list;
	tj_err err;

	assert_int_equal(tj_report_new(&r, &err), 0);
	tj_rn_add(r, &r->root, "grant", O, NULL);
	rep = tj_rn_add(r, &r->root, "report", O, NULL);
	tj_rn_add(r, rep, "public", B, "false");
	tj_rn_add(r, rep, "suppress_below", I, NULL);
	ind = tj_rn_add(r, &r->root, "indicators", O, NULL);
	tj_rn_add(r, ind, "trajectories_started", I, started);
	tj_rn_add(r, ind, "trajectories_closed", I, closed);
	tj_rn_add(r, ind, "trajectories_active", I, active);
	by = tj_rn_add(r, ind, "closed_by_reason", O, NULL);
	for (size_t i = 0; i < 5; i++)
		tj_rn_add(r, by, reason_names[i], I, reasons[i]);
	for (size_t i = 0; i < TJ_ARRAY_SIZE(zero_counts); i++)
		tj_rn_add(r, ind, zero_counts[i], I, "0");
	tj_rn_add(r, ind, "costs_total", M, "100.00");
	tj_rn_add(r, ind, "amount_committed", M, "1000.00");
	tj_rn_add(r, ind, "amount_settled", M, "500.00");
	tj_rn_add(r, ind, "budget_remaining", M, "0.00");
	tj_rn_add(r, ind, "cost_per_child_helped", M, NULL);
	tj_rn_add(r, ind, "children_helped_per_10k_eur", N, NULL);
	tj_rn_add(r, ind, "extra_children_within_budget", I, NULL);
	tj_rn_add(r, ind, "indication_avoidance_rate", N, NULL);
	tj_rn_add(r, ind, "heavier_care_avoided_rate", N, NULL);
	tj_rn_add(r, ind, "median_days_to_help", N, NULL);
	tj_rn_add(r, ind, "p90_days_to_help", N, NULL);
	q = tj_rn_add(r, ind, "data_quality", O, NULL);
	tj_rn_add(r, q, "no_plan", I, "0");
	tj_rn_add(r, &r->root, "obligations", L, NULL);
	list = tj_rn_add(r, &r->root, "series", L, NULL);
	for (size_t i = 0; i < npoints; i++) {
		struct tj_rnode *p = tj_rn_add(r, list, "point", O, NULL);

		tj_rn_add(r, p, "trajectories_started", I, points[i]);
		tj_rn_add(r, p, "trajectories_helped", I, "0");
		tj_rn_add(r, p, "trajectories_closed", I, i + 1 == npoints ? closed : "0");
		tj_rn_add(r, p, "children_helped", I, "0");
		tj_rn_add(r, p, "costs_total", M, i + 1 == npoints ? "100.00" : "0.00");
	}
	assert_false(r->oom);
	return r;
}

static void assert_series(const struct tj_report *r, const char *const *want, size_t n)
{
	const struct tj_rnode *list = tj_report_find(r, "series");

	assert_int_equal(list->nkids, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(tj_rnode_child(list->kids[i], "trajectories_started")->text,
				    want[i]);
}

static void public_rules(void **state)
{
	static const char *const none[5] = { "5", "5", "0", "0", "0" };
	static const char *const one_small[5] = { "6", "4", "0", "0", "0" };
	static const char *const c17[5] = { "10", "7", "0", "0", "0" };
	static const char *const ramp[] = { "0", "3", "6", "9", "10" };
	static const char *const ramp_public[] = { "0", "x", "x", "x", "10" };
	static const char *const steps[] = { "0", "5", "5", "12", "17" };
	static const char *const steps3[] = { "0", "3", "3", "6", "7" };
	static const char *const steps3_public[] = { "0", "3", "3", "x", "7" };
	static const char *const small[] = { "0", "1", "2", "4", "4" };
	static const char *const small_public[] = { "0", "x", "x", "x", "<5" };
	struct tj_report *r;
	tj_err err = { 0 };

	(void)state;
	/* nothing small: everything shown, the series as it is */
	r = mini("20", "10", "10", none, steps, 5);
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_string_equal(text_at(r, "indicators/trajectories_closed"), "10");
	assert_string_equal(text_at(r, "indicators/trajectories_active"), "10");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/referred"), "5");
	assert_string_equal(text_at(r, "indicators/amount_settled"), "500.00");
	tj_report_free(r);
	/* one small reason: all five withheld, the total stays */
	r = mini("20", "10", "10", one_small, steps, 5);
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_string_equal(text_at(r, "indicators/closed_by_reason/goals_reached"), "x");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/referred"), "x");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/other"), "x");
	assert_string_equal(text_at(r, "indicators/trajectories_closed"), "10");
	tj_report_free(r);
	/* 20 started, 17 closed: 3 active would be 20 - 17, so closed goes too */
	r = mini("20", "17", "3", c17, steps, 5);
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_string_equal(text_at(r, "indicators/trajectories_started"), "20");
	assert_string_equal(text_at(r, "indicators/trajectories_active"), "x");
	assert_string_equal(text_at(r, "indicators/trajectories_closed"), "x");
	assert_string_equal(text_at(r, "indicators/closed_by_reason/goals_reached"), "x");
	assert_string_equal(text_at(r, "indicators/amount_settled"), "x");
	assert_string_equal(text_at(r, "indicators/amount_committed"), "1000.00");
	tj_report_free(r);
	/* series: no shown point is 1 to 4 away from another or from C */
	r = mini("10", "0", "10", none, ramp, 5);
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_series(r, ramp_public, 5);
	tj_report_free(r);
	/* ... the same steps are fine with threshold 3 */
	r = mini("7", "0", "7", none, steps3, 5);
	assert_int_equal(tj_report_make_public(r, 3, &err), 0);
	assert_string_equal(text_at(r, "report/suppress_below"), "3");
	assert_series(r, steps3_public, 5);
	tj_report_free(r);
	/* a small total at C: only the zeros before it are shown */
	r = mini("4", "0", "4", none, small, 5);
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	assert_series(r, small_public, 5);
	assert_string_equal(text_at(r, "indicators/costs_total"), "x");
	assert_string_equal(text_at(r, "indicators/trajectories_active"), "x");
	tj_report_free(r);
}

/* ---- HTML ----------------------------------------------------------------- */

static char *html(const struct tj_report *r, enum tj_report_lang lang)
{
	size_t len = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);
	tj_err err = { 0 };
	xmlDocPtr doc;

	assert_non_null(f);
	assert_int_equal(tj_report_write_html(r, lang, f, &err), 0);
	assert_int_equal(fclose(f), 0);
	/* XHTML: well-formed XML */
	doc = xmlReadMemory(out, (int)len, "report.html", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	assert_null(strstr(out, "<script"));
	return out;
}

static void html_languages(void **state)
{
	struct tj_report *r = build(full, TJ_ARRAY_SIZE(full));
	char *nl, *en;
	tj_err err = { 0 };

	(void)state;
	nl = html(r, TJ_LANG_NL);
	assert_non_null(strstr(nl, "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"nl\">"));
	assert_non_null(strstr(nl, "Aanvraag tot vaststelling"));
	assert_non_null(strstr(nl, "€\xc2\xa0" "150.000,00"));  /* € 150.000,00 */
	assert_non_null(strstr(nl, "€\xc2\xa0" "-2.500,00"));   /* budget_remaining */
	assert_non_null(strstr(nl, "31 december 2011"));
	assert_non_null(strstr(nl, "66,6667"));              /* children per 10k */
	assert_non_null(strstr(nl, "66,67%"));               /* avoidance rate 0.6667 */
	assert_non_null(strstr(nl, "14,5 dagen") || strstr(nl, "14,5\xc2\xa0" "dagen"));
	/* the explanation, escaped, and the settlement line */
	assert_non_null(strstr(nl, "Twee gezinnen verhuisden &lt;voor&gt; de start &amp; één stopte."));
	assert_non_null(strstr(nl, "T-001"));
	assert_non_null(strstr(nl, "<svg"));
	en = html(r, TJ_LANG_EN);
	assert_non_null(strstr(en, "lang=\"en\""));
	assert_non_null(strstr(en, "Request for determination"));
	assert_non_null(strstr(en, "€150,000.00"));
	assert_non_null(strstr(en, "-€2,500.00"));
	assert_non_null(strstr(en, "31 December 2011"));
	assert_null(strstr(en, "Aanvraag"));
	free(nl);
	free(en);
	/* the public page shows markers and no reference */
	assert_int_equal(tj_report_make_public(r, 5, &err), 0);
	nl = html(r, TJ_LANG_NL);
	assert_null(strstr(nl, "T-001"));
	assert_null(strstr(nl, "Twee gezinnen"));
	assert_non_null(strstr(nl, "openbare versie"));
	assert_non_null(strstr(nl, "&lt;5"));
	free(nl);
	assert_int_equal(tj_report_write_html(r, (enum tj_report_lang)7, stdout, &err), TJ_EUSAGE);
	tj_report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_full),
		cmocka_unit_test(xml_full),
		cmocka_unit_test(xml_valid_against_xsd),
		cmocka_unit_test(refuses_bad_spellings),
		cmocka_unit_test(accepts_good_spellings),
		cmocka_unit_test(accessors_and_version),
		cmocka_unit_test(write_errors),
		cmocka_unit_test(incomplete_model),
		cmocka_unit_test(public_full),
		cmocka_unit_test(public_rules),
		cmocka_unit_test(html_languages),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
