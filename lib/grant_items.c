/*
 * The two lists of a grant decision: performance obligations and the
 * reporting calendar. Each entry is checked on its own (unknown keys,
 * types, values), then against its own fields (the target's form follows
 * the indicator; as_of <= due) and against the entries before it (unique
 * ids, one determination request).
 */
#include <stdlib.h>
#include <string.h>

#include "grant_private.h"
#include "traject/value.h"
#include "util.h"

enum { O_ID, O_INDICATOR, O_OP, O_TARGET, O_DUE, O_DESCRIPTION };
static const struct gv_key obligation_keys[] = {
	[O_ID] = { "id", true, "an id unique among the obligations, e.g. \"P1\"" },
	[O_INDICATOR] = { "indicator", true, "the indicator it is about, e.g. \"trajectories_started\"" },
	[O_OP] = { "op", true, "one of \">=\", \"<=\", \">\", \"<\", \"==\"" },
	[O_TARGET] = { "target", true, "the value to reach, e.g. 30 or \"5000.00\" for money" },
	[O_DUE] = { "due", true, "the date it must be met, \"YYYY-MM-DD\"" },
	[O_DESCRIPTION] = { "description", false, NULL },
};

enum { R_ID, R_KIND, R_AS_OF, R_DUE };
static const struct gv_key report_keys[] = {
	[R_ID] = { "id", true, "an id unique among the reports, e.g. \"2011-Q3\"" },
	[R_KIND] = { "kind", true, "\"progress\" or \"determination\"" },
	[R_AS_OF] = { "as_of", true, "the date the report is about, \"YYYY-MM-DD\"" },
	[R_DUE] = { "due", true, "the date it must be delivered, \"YYYY-MM-DD\"" },
};

static const char *const ops[] = { ">=", "<=", ">", "<", "==" };

struct obligation {
	tj_obligation *o;
	json_object *target;
	char target_ptr[GV_PTR_MAX];
	int kind; /* of its indicator: tj_grant_indicator_kind, -1 when unknown */
};

static void word(struct gv *v, const char *ptr, json_object *val, const char *const *words,
		 size_t n, enum gv_code code, const char *what, char **out)
{
	const char *s;
	char show[96];

	if (!gv_string(v, ptr, val, &s))
		return;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, words[i]) == 0) {
			*out = gv_strdup(v, s);
			return;
		}
	}
	gv_problem(v, ptr, code, "'%s' is not %s", gv_show(s, show), what);
}

static void obligation_field(struct gv *v, size_t key, const char *ptr, json_object *val,
			     void *ctx)
{
	struct obligation *ob = ctx;
	const char *s;
	char show[96];

	switch (key) {
	case O_ID:
		gv_ref(v, ptr, val, &ob->o->id);
		break;
	case O_INDICATOR:
		if (!gv_string(v, ptr, val, &s))
			break;
		ob->kind = tj_grant_indicator_kind(s);
		if (ob->kind < 0)
			gv_problem(v, ptr, GV_INDICATOR,
				   "'%s' is not a scalar indicator (name one of indicators.md, e.g. "
				   "trajectories_started; docs/grants.md lists them)",
				   gv_show(s, show));
		else
			ob->o->indicator = gv_strdup(v, s);
		break;
	case O_OP:
		word(v, ptr, val, ops, TJ_ARRAY_SIZE(ops), GV_OP,
		     "a comparison (use one of >=, <=, >, <, ==)", &ob->o->op);
		break;
	case O_TARGET:
		/* its form depends on the indicator, which may come later */
		ob->target = val;
		memcpy(ob->target_ptr, ptr, strlen(ptr) + 1);
		break;
	case O_DUE:
		gv_date(v, ptr, val, &ob->o->due);
		break;
	case O_DESCRIPTION:
		gv_text(v, ptr, val, &ob->o->description);
		break;
	default:
		break;
	}
}

static void obligation_target(struct gv *v, struct obligation *ob)
{
	const char *ptr = ob->target_ptr, *ind = ob->o->indicator;
	json_object *val = ob->target;
	bool number = json_object_is_type(val, json_type_int) ||
		      json_object_is_type(val, json_type_double);
	char buf[32];
	int64_t cents;

	if (!val || ob->kind < 0) /* missing, or no indicator to judge it by */
		return;
	if (ob->kind == 1) {
		if (number) {
			gv_problem(v, ptr, GV_TARGET_MONEY,
				   "%s is money: the target must be a money string such as "
				   "\"5000.00\", not a JSON number (put it in quotes)",
				   ind);
			return;
		}
		if (gv_money(v, ptr, val, true, &cents)) {
			ob->o->target = gv_strdup(v, tj_money_format(cents, buf));
			ob->o->target_money = true;
		}
		return;
	}
	if (json_object_is_type(val, json_type_string)) {
		gv_problem(v, ptr, GV_TARGET_NUMBER,
			   "%s is not money: the target must be a JSON number, not a string "
			   "(remove the quotes)",
			   ind);
		return;
	}
	gv_number(v, ptr, val, -1e12, 1e12, "from -1e12 to 1e12", &ob->o->target);
}

/* "'P1' is used twice (also at /obligations/0/id; ...)" */
static void duplicate(struct gv *v, const char *list, const char *ptr, const char *id,
		      size_t first, const char *what)
{
	char show[96], base[GV_PTR_MAX], at[GV_PTR_MAX];

	gv_ptr_index(base, list, first);
	gv_ptr_key(at, base, "id");
	gv_problem(v, ptr, GV_DUPLICATE, "'%s' is used twice (also at %s; give every %s its own id)",
		   gv_show(id, show), at, what);
}

void gv_obligations(struct gv *v, const char *ptr, json_object *val, tj_grant *g)
{
	size_t n;
	char p[GV_PTR_MAX], idp[GV_PTR_MAX];

	if (!gv_is_array(v, ptr, val, "of obligations {id, indicator, op, target, due}"))
		return;
	n = json_object_array_length(val);
	g->obligations = calloc(n ? n : 1, sizeof *g->obligations);
	if (!g->obligations) {
		v->rc = TJ_ENOMEM;
		return;
	}
	g->n_obligations = n;
	for (size_t i = 0; i < n; i++) {
		struct obligation ob = { .o = &g->obligations[i], .kind = -1 };
		json_object *item = json_object_array_get_idx(val, i);

		gv_ptr_index(p, ptr, i);
		if (!gv_is_object(v, p, item, "{id, indicator, op, target, due}"))
			continue;
		gv_object(v, p, item, obligation_keys, TJ_ARRAY_SIZE(obligation_keys),
			  obligation_field, &ob);
		obligation_target(v, &ob);
		gv_ptr_key(idp, p, "id");
		for (size_t j = 0; ob.o->id && j < i; j++) {
			if (g->obligations[j].id && strcmp(g->obligations[j].id, ob.o->id) == 0) {
				duplicate(v, ptr, idp, ob.o->id, j, "obligation");
				break;
			}
		}
	}
}

static void report_field(struct gv *v, size_t key, const char *ptr, json_object *val, void *ctx)
{
	static const char *const kinds[] = { "progress", "determination" };
	tj_calendar_entry *r = ctx;

	switch (key) {
	case R_ID:
		gv_ref(v, ptr, val, &r->id);
		break;
	case R_KIND:
		word(v, ptr, val, kinds, TJ_ARRAY_SIZE(kinds), GV_KIND,
		     "a kind of report (use \"progress\" or \"determination\")", &r->kind);
		break;
	case R_AS_OF:
		if (!gv_date(v, ptr, val, &r->as_of))
			r->as_of = INT32_MIN;
		break;
	case R_DUE:
		if (!gv_date(v, ptr, val, &r->due))
			r->due = INT32_MIN;
		break;
	default:
		break;
	}
}

void gv_reports(struct gv *v, const char *ptr, json_object *val, tj_grant *g)
{
	size_t n, determination = SIZE_MAX;
	char p[GV_PTR_MAX], q[GV_PTR_MAX], first[GV_PTR_MAX], d1[11], d2[11];

	if (!gv_is_array(v, ptr, val, "of reports {id, kind, as_of, due}"))
		return;
	n = json_object_array_length(val);
	if (n == 0) {
		gv_problem(v, ptr, GV_NO_REPORTS, "is empty (add the reporting calendar: at least one report "
				   "{id, kind, as_of, due})");
		return;
	}
	g->reports = calloc(n, sizeof *g->reports);
	if (!g->reports) {
		v->rc = TJ_ENOMEM;
		return;
	}
	g->n_reports = n;
	for (size_t i = 0; i < n; i++) {
		tj_calendar_entry *r = &g->reports[i];
		json_object *item = json_object_array_get_idx(val, i);

		/* INT32_MIN: not (validly) given, so no cross-field check */
		r->as_of = r->due = INT32_MIN;
		gv_ptr_index(p, ptr, i);
		if (!gv_is_object(v, p, item, "{id, kind, as_of, due}"))
			continue;
		gv_object(v, p, item, report_keys, TJ_ARRAY_SIZE(report_keys), report_field, r);
		if (r->as_of != INT32_MIN && r->due != INT32_MIN && r->as_of > r->due) {
			gv_ptr_key(q, p, "due");
			gv_problem(v, q, GV_REPORT_DUE,
				   "%s is before as_of %s (a report falls due on or after the date "
				   "it is about)",
				   tj_date_format(r->due, d1), tj_date_format(r->as_of, d2));
		}
		gv_ptr_key(q, p, "id");
		for (size_t j = 0; r->id && j < i; j++) {
			if (g->reports[j].id && strcmp(g->reports[j].id, r->id) == 0) {
				duplicate(v, ptr, q, r->id, j, "report");
				break;
			}
		}
		if (r->kind && strcmp(r->kind, "determination") == 0) {
			if (determination == SIZE_MAX) {
				determination = i;
				continue;
			}
			gv_ptr_key(q, p, "kind");
			gv_ptr_index(first, ptr, determination);
			gv_problem(v, q, GV_DETERMINATION,
				   "a second determination request (the first is %s; a grant has "
				   "one: make this one \"progress\")",
				   first);
		}
	}
}
