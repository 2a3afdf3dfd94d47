/*
 * Reading a grant decision file: JSON syntax (json-c, strict, UTF-8
 * checked) located by line and column, then the top-level object, the
 * period and the baseline, and the default amount per trajectory. The
 * lists (obligations, reports) are in grant_items.c. Every problem is
 * collected; the grant is handed out only when there was none.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant_private.h"
#include "traject/value.h"
#include "util.h"

/* A grant decision is a page of JSON; anything this big is a wrong file. */
#define GRANT_MAX_BYTES (16u << 20)

enum {
	T_ID, T_TITLE, T_GRANTOR, T_GRANTEE, T_DECISION_DATE, T_PERIOD, T_CURRENCY,
	T_AMOUNT_GRANTED, T_TARGET, T_PER_TRAJECTORY, T_BASELINE, T_OBLIGATIONS, T_REPORTS,
};

static const struct gv_key top_keys[] = {
	[T_ID] = { "id", true, "the grant's id, e.g. \"OV-2011-AMB-01\"" },
	[T_TITLE] = { "title", false, NULL },
	[T_GRANTOR] = { "grantor", true, "the name of the party that grants" },
	[T_GRANTEE] = { "grantee", true, "the name of the party that receives the grant" },
	[T_DECISION_DATE] = { "decision_date", true, "the date of the decision, \"YYYY-MM-DD\"" },
	[T_PERIOD] = { "period", true, "{\"start\": \"YYYY-MM-DD\", \"end\": \"YYYY-MM-DD\"}" },
	[T_CURRENCY] = { "currency", false, NULL },
	[T_AMOUNT_GRANTED] = { "amount_granted", true, "the amount granted, e.g. \"150000.00\"" },
	[T_TARGET] = { "target_trajectories", true, "the number of trajectories granted, e.g. 30" },
	[T_PER_TRAJECTORY] = { "amount_per_trajectory", false, NULL },
	[T_BASELINE] = { "baseline", false, NULL },
	[T_OBLIGATIONS] = { "obligations", false, NULL },
	[T_REPORTS] = { "reports", true, "the reporting calendar, a list of {id, kind, as_of, due}" },
};

enum { P_START, P_END };
static const struct gv_key period_keys[] = {
	[P_START] = { "start", true, "the first day of the period, \"YYYY-MM-DD\"" },
	[P_END] = { "end", true, "the last day of the period, \"YYYY-MM-DD\"" },
};

enum { B_COST, B_DAYS, B_RATE };
static const struct gv_key baseline_keys[] = {
	[B_COST] = { "cost_per_child", false, NULL },
	[B_DAYS] = { "days_to_help", false, NULL },
	[B_RATE] = { "indication_rate", false, NULL },
};

struct top {
	tj_grant *g;
	bool amount_ok, target_ok, per_trajectory_seen;
};

struct period {
	tj_grant *g;
	bool start_ok, end_ok;
};

static void period_field(struct gv *v, size_t key, const char *ptr, json_object *val, void *ctx)
{
	struct period *p = ctx;

	if (key == P_START)
		p->start_ok = gv_date(v, ptr, val, &p->g->period_start);
	else
		p->end_ok = gv_date(v, ptr, val, &p->g->period_end);
}

static void baseline_field(struct gv *v, size_t key, const char *ptr, json_object *val, void *ctx)
{
	tj_grant *g = ctx;

	switch (key) {
	case B_COST:
		g->has_baseline_cost_per_child =
			gv_money(v, ptr, val, false, &g->baseline_cost_per_child);
		break;
	case B_DAYS:
		gv_number(v, ptr, val, 0, 1e12, "of 0 or more", &g->baseline_days_to_help);
		break;
	case B_RATE:
		gv_number(v, ptr, val, 0, 1, "from 0 to 1", &g->baseline_indication_rate);
		break;
	default:
		break;
	}
}

static void currency(struct gv *v, const char *ptr, json_object *val, tj_grant *g)
{
	const char *s;
	char show[96];

	if (!gv_string(v, ptr, val, &s))
		return;
	if (strlen(s) != 3 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
		gv_problem(v, ptr, GV_CURRENCY, "'%s' is not a currency code (use 3 upper-case letters, e.g. EUR)",
			   gv_show(s, show));
		return;
	}
	memcpy(g->currency, s, 4);
}

static bool target_trajectories(struct gv *v, const char *ptr, json_object *val, tj_grant *g)
{
	char show[96];
	int64_t n;

	if (json_object_is_type(val, json_type_string)) {
		gv_problem(v, ptr, GV_TYPE, "must be a JSON number, not a string (remove the quotes)");
		return false;
	}
	if (json_object_is_type(val, json_type_double)) {
		gv_problem(v, ptr, GV_WHOLE, "%s is not a whole number (write a count such as 30)",
			   gv_show(json_object_get_string(val), show));
		return false;
	}
	if (!json_object_is_type(val, json_type_int)) {
		gv_problem(v, ptr, GV_TYPE, "must be a number, not %s", gv_type_name(val));
		return false;
	}
	n = json_object_get_int64(val);
	if (n < 1 || n > INT32_MAX) {
		gv_problem(v, ptr, GV_RANGE, "%s is out of range (use a whole number of 1 or more)",
			   gv_show(json_object_get_string(val), show));
		return false;
	}
	g->target_trajectories = (int32_t)n;
	return true;
}

static void top_field(struct gv *v, size_t key, const char *ptr, json_object *val, void *ctx)
{
	struct top *t = ctx;
	tj_grant *g = t->g;

	switch (key) {
	case T_ID:
		gv_ref(v, ptr, val, &g->id);
		break;
	case T_TITLE:
		gv_text(v, ptr, val, &g->title);
		break;
	case T_GRANTOR:
		gv_text(v, ptr, val, &g->grantor);
		break;
	case T_GRANTEE:
		gv_text(v, ptr, val, &g->grantee);
		break;
	case T_DECISION_DATE:
		gv_date(v, ptr, val, &g->decision_date);
		break;
	case T_PERIOD: {
		struct period p = { .g = g };
		char end[GV_PTR_MAX], start[11], end_text[11];

		if (!gv_is_object(v, ptr, val, "{start, end}"))
			break;
		gv_object(v, ptr, val, period_keys, TJ_ARRAY_SIZE(period_keys), period_field, &p);
		if (p.start_ok && p.end_ok && g->period_start > g->period_end) {
			gv_ptr_key(end, ptr, "end");
			gv_problem(v, end, GV_PERIOD,
				   "%s is before the start %s (a period ends on or after the day it "
				   "starts)",
				   tj_date_format(g->period_end, end_text),
				   tj_date_format(g->period_start, start));
		}
		break;
	}
	case T_CURRENCY:
		currency(v, ptr, val, g);
		break;
	case T_AMOUNT_GRANTED:
		t->amount_ok = gv_money(v, ptr, val, false, &g->amount_granted);
		break;
	case T_TARGET:
		t->target_ok = target_trajectories(v, ptr, val, g);
		break;
	case T_PER_TRAJECTORY:
		t->per_trajectory_seen = true;
		gv_money(v, ptr, val, false, &g->amount_per_trajectory);
		break;
	case T_BASELINE:
		if (gv_is_object(v, ptr, val, "{cost_per_child, days_to_help, indication_rate}"))
			gv_object(v, ptr, val, baseline_keys, TJ_ARRAY_SIZE(baseline_keys),
				  baseline_field, g);
		break;
	case T_OBLIGATIONS:
		gv_obligations(v, ptr, val, g);
		break;
	case T_REPORTS:
		gv_reports(v, ptr, val, g);
		break;
	default:
		break;
	}
}

/* The default is only defined when it is a whole number of cents. */
static void default_per_trajectory(struct gv *v, const struct top *t)
{
	tj_grant *g = t->g;
	char amount[32];

	if (t->per_trajectory_seen || !t->amount_ok || !t->target_ok)
		return;
	if (g->amount_granted % g->target_trajectories != 0) {
		gv_problem(v, "/amount_per_trajectory", GV_PER_TRAJECTORY,
			   "missing, and amount_granted / target_trajectories = %s / %d is not a "
			   "whole number of cents (add amount_per_trajectory, e.g. \"5000.00\")",
			   tj_money_format(g->amount_granted, amount), (int)g->target_trajectories);
		return;
	}
	g->amount_per_trajectory = g->amount_granted / g->target_trajectories;
}

/* Line and column (in characters) of byte offset off, both from 1. */
static void position(const char *text, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			++*line;
			*col = 1;
		} else if ((c & 0xC0) != 0x80) {
			++*col;
		}
	}
}

/* "FILE:LINE:COLUMN: TJ100 what", as compilers locate a syntax error. */
static void syntax_problem(struct gv *v, const char *text, size_t off, const char *what)
{
	size_t line, col;

	position(text, off, &line, &col);
	if (tj_diags_add(v->d, "%s:%zu:%zu: TJ%d %s", v->name, line, col, (int)GV_SYNTAX,
			 what) < 0)
		v->rc = TJ_ENOMEM;
}

/* Parse the JSON text; NULL (with one problem added) when it is not JSON. */
static json_object *read_json(struct gv *v, const char *text, size_t len)
{
	struct json_tokener *tok;
	json_object *root;
	enum json_tokener_error jerr;
	size_t end, blank;
	const char *nul;

	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* a BOM is not content */
		text += 3;
		len -= 3;
	}
	if (len > GRANT_MAX_BYTES) {
		gv_problem(v, NULL, GV_TOO_LARGE, "the file is too large for a grant decision (%zu bytes, the limit "
				    "is 16 MiB): is it the right file?", len);
		return NULL;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		syntax_problem(v, text, (size_t)(nul - text),
			       "contains a NUL byte (a grant decision is UTF-8 JSON text)");
		return NULL;
	}
	/* bounded: text need not be NUL-terminated (a fuzzer found strspn reading past it) */
	for (blank = 0; blank < len; blank++)
		if (text[blank] != ' ' && text[blank] != '\t' && text[blank] != '\r' &&
		    text[blank] != '\n')
			break;
	if (blank == len) {
		gv_problem(v, NULL, GV_EMPTY_FILE, "the file is empty (expected a JSON object {\"id\": ..., ...})");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		v->rc = TJ_ENOMEM;
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok); /* strict: "{} x" is an error at the x */
	if (jerr == json_tokener_continue) {
		/* a NUL tells json-c the input ended: "5" is complete, "{" is not */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr != json_tokener_success)
			jerr = json_tokener_continue;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		syntax_problem(v, text, len,
			       "the JSON ends too early (a closing }, ] or \" is missing)");
		return NULL;
	}
	if (jerr != json_tokener_success) {
		char what[256];

		snprintf(what, sizeof what, "invalid JSON: %s (correct the file at this place)",
			 json_tokener_error_desc(jerr));
		syntax_problem(v, text, end, what);
		return NULL;
	}
	if (!root) { /* the literal null parses to no object at all */
		gv_problem(v, NULL, GV_NOT_OBJECT, "the grant decision must be a JSON object {\"id\": ..., ...}, "
				    "not null");
		return NULL;
	}
	return root;
}

void tj_grant_free(tj_grant *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_obligations; i++) {
		free(g->obligations[i].id);
		free(g->obligations[i].indicator);
		free(g->obligations[i].op);
		free(g->obligations[i].target);
		free(g->obligations[i].description);
	}
	free(g->obligations);
	for (size_t i = 0; i < g->n_reports; i++) {
		free(g->reports[i].id);
		free(g->reports[i].kind);
	}
	free(g->reports);
	free(g->id);
	free(g->title);
	free(g->grantor);
	free(g->grantee);
	free(g->baseline_days_to_help);
	free(g->baseline_indication_rate);
	free(g->document);
	free(g);
}

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

int tj_grant_parse(tj_grant **out, const char *name, const char *text, size_t len,
		   tj_diags *diags, tj_err *err)
{
	__attribute__((cleanup(json_putp))) json_object *root = NULL;
	struct gv v = { .name = name, .d = diags };
	size_t before = diags->total;
	struct top t = { 0 };
	tj_grant *g = NULL;
	const char *doc;

	root = read_json(&v, text, len);
	if (root && !json_object_is_type(root, json_type_object)) {
		gv_problem(&v, NULL, GV_NOT_OBJECT, "the grant decision must be a JSON object {\"id\": ..., ...}, "
				     "not %s", gv_type_name(root));
	} else if (root) {
		if (!(g = calloc(1, sizeof *g)))
			return tj_fail(err, TJ_ENOMEM, "%s: out of memory", name);
		memcpy(g->currency, "EUR", 4);
		t.g = g;
		gv_object(&v, "", root, top_keys, TJ_ARRAY_SIZE(top_keys), top_field, &t);
		default_per_trajectory(&v, &t);
	}
	if (v.rc < 0) {
		tj_grant_free(g);
		return tj_fail(err, v.rc, "%s: out of memory while checking the grant", name);
	}
	if (diags->total > before) {
		size_t n = diags->total - before;

		tj_grant_free(g);
		return tj_fail(err, TJ_EINVAL, "%s: grant refused (%zu problem%s)", name, n,
			       n == 1 ? "" : "s");
	}
	doc = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!doc || !(g->document = strdup(doc))) {
		tj_grant_free(g);
		return tj_fail(err, TJ_ENOMEM, "%s: out of memory", name);
	}
	*out = g;
	return 0;
}
