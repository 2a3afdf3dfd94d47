/*
 * Computing reports: runs traject.report_data (sql/009_indicators_at.sql)
 * for one grant, its reference dates and one knowledge time K, and fills
 * the report model (lib/report.c) with the exact text of its values. All
 * numbers are computed in SQL; this file only fixes K, picks the calendar
 * entries and arranges the values in the document's order. Several reports
 * of one grant (the daemon's due reports) come from one statement, so the
 * grant's events are read once for all of them. The explanations and the
 * forecast come from sql/006_explanations.sql.
 *
 * Why the lock is a session lock: a REPEATABLE READ snapshot is frozen by
 * the first query of the transaction, so a pg_advisory_xact_lock() inside
 * it would be waited for with a snapshot taken before the wait, missing
 * imports that committed meanwhile with recorded_at <= K. The exclusive
 * lock is therefore taken (session level) before BEGIN and released after
 * COMMIT; then K and the snapshot are both fixed after every writer that
 * could stamp a row at or before K has committed (docs/design.md).
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report_private.h"
#include "traject/standby.h"
#include "traject/value.h"
#include "util.h"

/* One report of the batch. */
struct item {
	const struct tj_report_req *req;
	struct tj_report *rep;
	char as_of[11];
	const char *kind;  /* "progress" or "determination" */
	int entry;         /* its row in the calendar result, or -1 (ad hoc) */
};

/* Everything one computation carries between its queries. */
struct ctx {
	PGconn *conn;
	struct item *items;
	size_t n;
	char grant_key[24];
	char known_at[40]; /* traject.iso_utc(K), the parameter of every query */
	char version[16];
	const char *missing; /* a column the SQL did not return (a bug) */
};

/* The value of a bool column spelled for the model. */
static const char *col_text(const PGresult *res, int row, int col, enum tj_rtype type)
{
	const char *v = tj_pq_get(res, row, col);

	if (v && type == TJ_R_BOOL)
		return !strcmp(v, "t") ? "true" : "false";
	return v;
}

/* The index of a column, noting a missing one (the SQL and this file disagree). */
static int col(struct ctx *c, const PGresult *res, const char *column)
{
	int i = PQfnumber(res, column);

	if (i < 0)
		c->missing = column;
	return i;
}

/* Add the value of column `column` of row `row` as node `name`. */
static void add_col(struct ctx *c, struct tj_report *rep, struct tj_rnode *parent,
		    const char *name, enum tj_rtype type, const PGresult *res, int row,
		    const char *column)
{
	int i = col(c, res, column);

	if (i >= 0)
		tj_rn_add(rep, parent, name, type, col_text(res, row, i, type));
}

/* An array literal of quoted elements (ids and dates hold no quote or backslash). */
static int array_param(tj_buf *b, const char *const *elems, size_t n, tj_err *err)
{
	tj_buf_puts(b, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			tj_buf_puts(b, ",");
		tj_buf_puts(b, "\"");
		tj_buf_puts(b, elems[i]);
		tj_buf_puts(b, "\"");
	}
	tj_buf_puts(b, "}");
	if (b->oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	return 0;
}

/* The message for a K before the grant's first version. */
static int not_yet_known(struct ctx *c, const char *grant_id, tj_err *err)
{
	const char *params[] = { c->grant_key };
	TJ_AUTORES PGresult *res = NULL;
	const char *first = NULL;
	int r;

	r = tj_pq(c->conn, "reading the grant's versions",
		  "SELECT traject.iso_utc(min(v.known_at)) FROM traject.grant_versions v"
		  " WHERE v.grant_key = $1",
		  1, params, &res, err);
	if (r < 0)
		return r;
	first = tj_pq_get(res, 0, 0);
	if (!first)
		return tj_fail(err, TJ_ENOTFOUND, "grant %s has no version at all: load it with "
			       "'trajectctl grant load'", grant_id);
	return tj_fail(err, TJ_ENOTFOUND,
		       "grant %s was not yet known at %s (its first version was loaded at %s): give "
		       "a later knowledge time",
		       grant_id, c->known_at, first);
}

/* The grant version at K, the grant's id and K itself. */
static const struct tj_stmt fix_known_at_sql = {
	"tj_fix_known_at",
	"WITH k AS (SELECT coalesce($2::timestamptz, clock_timestamp()) AS k)"
	" SELECT traject.iso_utc(k.k) AS known_at,"
	"  k.k > clock_timestamp() AS future,"
	"  traject.iso_utc(clock_timestamp()) AS now,"
	"  g.id::text AS id, v.version, v.title, v.grantor, v.grantee,"
	"  v.period_start, v.period_end, v.currency,"
	"  round(v.amount_granted, 2) AS amount_granted,"
	"  round(v.amount_per_trajectory, 2) AS amount_per_trajectory,"
	"  v.target_trajectories,"
	"  round(v.baseline_cost_per_child, 2) AS baseline_cost_per_child,"
	"  trim_scale(v.baseline_days_to_help) AS baseline_days_to_help,"
	"  trim_scale(v.baseline_indication_rate) AS baseline_indication_rate"
	" FROM k CROSS JOIN traject.grants g"
	" LEFT JOIN LATERAL traject.grant_version_at(g.grant_key, k.k) v ON true"
	" WHERE g.grant_key = $1",
};

static int fix_known_at(struct ctx *c, const struct tj_report_req *req, PGresult **out,
			tj_err *err)
{
	const char *params[] = { c->grant_key, req->known_at };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq_prepared(c->conn, &fix_known_at_sql, "fixing the knowledge time", 2, params,
			   &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		return tj_fail(err, TJ_ENOTFOUND, "grant '%s' disappeared while reporting",
			       req->grant_id);
	snprintf(c->known_at, sizeof c->known_at, "%s", PQgetvalue(res, 0, 0));
	if (!strcmp(PQgetvalue(res, 0, 1), "t"))
		return tj_fail(err, TJ_EINVAL,
			       "knowledge time %s is in the future (the database clock says %s): a "
			       "report is reproducible only for a time that has passed; give an "
			       "earlier knowledge time, or none for now",
			       c->known_at, PQgetvalue(res, 0, 2));
	if (PQgetisnull(res, 0, PQfnumber(res, "version")))
		return not_yet_known(c, req->grant_id, err);
	snprintf(c->version, sizeof c->version, "%s",
		 PQgetvalue(res, 0, PQfnumber(res, "version")));
	*out = res;
	res = NULL;
	return 0;
}

/* The calendar report id that is not in the calendar: say which ones are. */
static int no_entry(struct ctx *c, const char *grant_id, const char *report_id, tj_err *err)
{
	const char *params[] = { c->grant_key, c->version };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(c->conn, "reading the report calendar",
		  "SELECT string_agg(c.id, ', ' ORDER BY c.position) FROM traject.calendar c"
		  " WHERE c.grant_key = $1 AND c.version = $2",
		  2, params, &res, err);
	if (r < 0)
		return r;
	return tj_fail(err, TJ_ENOTFOUND,
		       "grant %s has no report '%s' in its calendar (version %s); its reports are: %s",
		       grant_id, report_id, c->version,
		       tj_pq_get(res, 0, 0) ? tj_pq_get(res, 0, 0) : "none");
}

static const struct tj_stmt entries_sql = {
	"tj_calendar_entries",
	"SELECT c.id::text AS id, c.kind, c.as_of, c.due FROM traject.calendar c"
	" WHERE c.grant_key = $1 AND c.version = $2 AND c.id = ANY ($3::text[])",
};

/* --report ID: each calendar entry's as_of, kind and due, as known at K. */
static int pick_entries(struct ctx *c, PGresult **out, tj_err *err)
{
	TJ_AUTOBUF tj_buf ids = { 0 };
	TJ_AUTOFREE const char **names = calloc(c->n, sizeof *names);
	TJ_AUTORES PGresult *res = NULL;
	const char *params[3] = { c->grant_key, c->version, NULL };
	size_t count = 0;
	int r;

	if (!names)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++)
		if (c->items[i].req->report_id)
			names[count++] = c->items[i].req->report_id;
	if (count == 0)
		return 0;
	if ((r = array_param(&ids, names, count, err)) < 0)
		return r;
	params[2] = ids.data;
	r = tj_pq_prepared(c->conn, &entries_sql, "reading the report calendar", 3, params, &res,
			   err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n; i++) {
		struct item *it = &c->items[i];

		if (!it->req->report_id)
			continue;
		for (int row = 0; row < PQntuples(res) && it->entry < 0; row++)
			if (!strcmp(PQgetvalue(res, row, 0), it->req->report_id))
				it->entry = row;
		if (it->entry < 0)
			return no_entry(c, it->req->grant_id, it->req->report_id, err);
		snprintf(it->as_of, sizeof it->as_of, "%s", PQgetvalue(res, it->entry, 2));
		it->kind = !strcmp(PQgetvalue(res, it->entry, 1), "determination") ? "determination"
										    : "progress";
	}
	*out = res;
	res = NULL;
	return 0;
}

/* ---- the one statement -------------------------------------------------- */

/*
 * Every number of the batch: the indicators at each reference date with the
 * obligations beside them (one row per obligation, or one row of
 * indicators alone), the series points of every report, and for the
 * determination requests every trajectory's state and the totals. Rows are
 * grouped by part and date, in the order the document needs them;
 * COLLATE "C": the same settlement order whatever the database's locale.
 * $4 holds the series points of all reports (traject.series_points), so
 * each point is computed once even when several reports show it.
 */
static const struct tj_stmt report_sql = {
	"tj_report_data",
	"WITH r AS MATERIALIZED ("
	"  SELECT * FROM traject.report_data($1, $2::date[], $4::date[], $5::date[], $3)"
	"), o AS ("
	/* the obligations at each reference date, with the grantee's word where one falls short */
	"  SELECT r.as_of, ob.*, x.body AS explanation, x.recorded_at AS explained"
	"  FROM r CROSS JOIN LATERAL traject.obligations_of($1, r.as_of, $3, r.ind) ob"
	"  LEFT JOIN LATERAL traject.explanation_at($1, ob.id, $3) x"
	"    ON ob.status IN ('not_met', 'at_risk')"
	"  WHERE r.part = 'i'"
	")"
	" SELECT r.part, r.as_of::text AS as_of, (r.ind).*,"
	" (r.pt).trajectories_started AS p_started, (r.pt).trajectories_helped AS p_helped,"
	" (r.pt).trajectories_closed AS p_closed, (r.pt).children_helped AS p_children,"
	" (r.pt).costs_total AS p_costs,"
	" (r.tr).reference AS l_reference, (r.tr).registered AS l_registered,"
	" (r.tr).closed AS l_closed, (r.tr).closing_reason AS l_closing_reason,"
	" (r.tr).amount AS l_amount, (r.tr).costs_total AS l_costs, (r.tr).realised AS l_realised,"
	" (r.det).*,"
	" o.id, o.indicator, o.description, o.op, o.target, o.due, o.value, o.projection,"
	" o.status, o.money, o.explanation, traject.iso_utc(o.explained) AS explained_at"
	" FROM r LEFT JOIN o ON r.part = 'i' AND o.as_of = r.as_of"
	" ORDER BY r.part, r.as_of, o.position, (r.tr).reference COLLATE \"C\"",
};

/* Which series points belong to which reference date. */
static const struct tj_stmt points_sql = {
	"tj_series_points",
	"SELECT c::text, p::text"
	" FROM unnest($2::date[]) AS c, unnest(traject.series_points($1, c, $3)) AS p"
	" ORDER BY 1, 2",
};

/* The rows of one part and date: [*first, *end) of res (ordered by part, date). */
static void rows_of(const PGresult *res, const char *part, const char *as_of, int *first,
		    int *end)
{
	int n = PQntuples(res), i = 0;

	while (i < n && (strcmp(PQgetvalue(res, i, 0), part) || strcmp(PQgetvalue(res, i, 1), as_of)))
		i++;
	*first = i;
	while (i < n && !strcmp(PQgetvalue(res, i, 0), part) && !strcmp(PQgetvalue(res, i, 1), as_of))
		i++;
	*end = i;
}

/* ---- building one report ------------------------------------------------ */

static void build_grant(struct ctx *c, struct tj_report *rep, const PGresult *g)
{
	struct tj_rnode *n = tj_rn_add(rep, &rep->root, "grant", TJ_R_OBJECT, NULL);
	struct tj_rnode *period;

	add_col(c, rep, n, "id", TJ_R_STRING, g, 0, "id");
	add_col(c, rep, n, "title", TJ_R_STRING, g, 0, "title");
	add_col(c, rep, n, "grantor", TJ_R_STRING, g, 0, "grantor");
	add_col(c, rep, n, "grantee", TJ_R_STRING, g, 0, "grantee");
	period = tj_rn_add(rep, n, "period", TJ_R_OBJECT, NULL);
	add_col(c, rep, period, "start", TJ_R_DATE, g, 0, "period_start");
	add_col(c, rep, period, "end", TJ_R_DATE, g, 0, "period_end");
	add_col(c, rep, n, "currency", TJ_R_STRING, g, 0, "currency");
	add_col(c, rep, n, "amount_granted", TJ_R_MONEY, g, 0, "amount_granted");
	add_col(c, rep, n, "amount_per_trajectory", TJ_R_MONEY, g, 0, "amount_per_trajectory");
	add_col(c, rep, n, "target_trajectories", TJ_R_INTEGER, g, 0, "target_trajectories");
	add_col(c, rep, n, "version", TJ_R_INTEGER, g, 0, "version");
}

static void build_report_info(struct ctx *c, const struct item *it, const PGresult *entries)
{
	struct tj_report *rep = it->rep;
	struct tj_rnode *n = tj_rn_add(rep, &rep->root, "report", TJ_R_OBJECT, NULL);
	bool cal = it->entry >= 0;

	tj_rn_add(rep, n, "id", TJ_R_STRING, cal ? PQgetvalue(entries, it->entry, 0) : NULL);
	tj_rn_add(rep, n, "kind", TJ_R_STRING, it->kind);
	tj_rn_add(rep, n, "as_of", TJ_R_DATE, it->as_of);
	tj_rn_add(rep, n, "due", TJ_R_DATE, cal ? PQgetvalue(entries, it->entry, 3) : NULL);
	tj_rn_add(rep, n, "known_at", TJ_R_TIMESTAMP, c->known_at);
	tj_rn_add(rep, n, "version", TJ_R_INTEGER, NULL); /* set when stored */
	tj_rn_add(rep, n, "public", TJ_R_BOOL, "false");  /* tj_report_make_public */
	tj_rn_add(rep, n, "suppress_below", TJ_R_INTEGER, NULL);
}

/* The indicators object: indicators.md's table order, then the extra one. */
static const struct {
	const char *column, *name;
	enum tj_rtype type;
	char group; /* 'i' indicators, 'c' closed_by_reason, 'q' data_quality */
} indicator_cols[] = {
	{ "trajectories_started", "trajectories_started", TJ_R_INTEGER, 'i' },
	{ "trajectories_helped", "trajectories_helped", TJ_R_INTEGER, 'i' },
	{ "trajectories_closed", "trajectories_closed", TJ_R_INTEGER, 'i' },
	{ "trajectories_active", "trajectories_active", TJ_R_INTEGER, 'i' },
	{ "closed_goals_reached", "goals_reached", TJ_R_INTEGER, 'c' },
	{ "closed_referred", "referred", TJ_R_INTEGER, 'c' },
	{ "closed_dropped_out", "dropped_out", TJ_R_INTEGER, 'c' },
	{ "closed_moved", "moved", TJ_R_INTEGER, 'c' },
	{ "closed_other", "other", TJ_R_INTEGER, 'c' },
	{ "children_helped", "children_helped", TJ_R_INTEGER, 'i' },
	{ "indications_needed", "indications_needed", TJ_R_INTEGER, 'i' },
	{ "indications_requested", "indications_requested", TJ_R_INTEGER, 'i' },
	{ "indications_avoided", "indications_avoided", TJ_R_INTEGER, 'i' },
	{ "indication_avoidance_rate", "indication_avoidance_rate", TJ_R_DECIMAL, 'i' },
	{ "escalations", "escalations", TJ_R_INTEGER, 'i' },
	{ "heavier_care_avoided_rate", "heavier_care_avoided_rate", TJ_R_DECIMAL, 'i' },
	{ "median_days_to_help", "median_days_to_help", TJ_R_DECIMAL, 'i' },
	{ "p90_days_to_help", "p90_days_to_help", TJ_R_DECIMAL, 'i' },
	{ "costs_total", "costs_total", TJ_R_MONEY, 'i' },
	{ "amount_committed", "amount_committed", TJ_R_MONEY, 'i' },
	{ "amount_settled", "amount_settled", TJ_R_MONEY, 'i' },
	{ "budget_remaining", "budget_remaining", TJ_R_MONEY, 'i' },
	{ "cost_per_child_helped", "cost_per_child_helped", TJ_R_MONEY, 'i' },
	{ "children_helped_per_10k_eur", "children_helped_per_10k_eur", TJ_R_DECIMAL, 'i' },
	{ "no_coordinator", "no_coordinator", TJ_R_INTEGER, 'q' },
	{ "no_plan", "no_plan", TJ_R_INTEGER, 'q' },
	{ "no_assessment", "no_assessment", TJ_R_INTEGER, 'q' },
	{ "extra_children_within_budget", "extra_children_within_budget", TJ_R_INTEGER, 'i' },
};

static void build_indicators(struct ctx *c, struct tj_report *rep, const PGresult *res, int row)
{
	struct tj_rnode *n, *reasons = NULL, *quality = NULL;

	n = tj_rn_add(rep, &rep->root, "indicators", TJ_R_OBJECT, NULL);
	for (size_t i = 0; i < TJ_ARRAY_SIZE(indicator_cols); i++) {
		struct tj_rnode *parent = n;

		if (indicator_cols[i].group == 'c') {
			if (!reasons)
				reasons = tj_rn_add(rep, n, "closed_by_reason", TJ_R_OBJECT, NULL);
			parent = reasons;
		} else if (indicator_cols[i].group == 'q') {
			if (!quality)
				quality = tj_rn_add(rep, n, "data_quality", TJ_R_OBJECT, NULL);
			parent = quality;
		}
		add_col(c, rep, parent, indicator_cols[i].name, indicator_cols[i].type, res, row,
			indicator_cols[i].column);
	}
}

/* baseline: only when the grant version at K has one. */
static void build_baseline(struct ctx *c, struct tj_report *rep, const PGresult *g)
{
	struct tj_rnode *n;
	int cost = PQfnumber(g, "baseline_cost_per_child");
	int days = PQfnumber(g, "baseline_days_to_help");
	int rate = PQfnumber(g, "baseline_indication_rate");

	if (PQgetisnull(g, 0, cost) && PQgetisnull(g, 0, days) && PQgetisnull(g, 0, rate))
		return;
	n = tj_rn_add(rep, &rep->root, "baseline", TJ_R_OBJECT, NULL);
	add_col(c, rep, n, "cost_per_child", TJ_R_MONEY, g, 0, "baseline_cost_per_child");
	add_col(c, rep, n, "days_to_help", TJ_R_DECIMAL, g, 0, "baseline_days_to_help");
	add_col(c, rep, n, "indication_rate", TJ_R_DECIMAL, g, 0, "baseline_indication_rate");
}

static void build_obligations(struct ctx *c, struct tj_report *rep, const PGresult *res,
			      int first, int end)
{
	struct tj_rnode *list = tj_rn_add(rep, &rep->root, "obligations", TJ_R_LIST, NULL);
	int id = col(c, res, "id"), money = col(c, res, "money");

	if (id < 0 || money < 0)
		return;
	for (int i = first; i < end; i++) {
		struct tj_rnode *o;
		enum tj_rtype num;

		if (PQgetisnull(res, i, id))
			continue; /* the grant has no obligations */
		o = tj_rn_add(rep, list, "obligation", TJ_R_OBJECT, NULL);
		num = !strcmp(PQgetvalue(res, i, money), "t") ? TJ_R_MONEY : TJ_R_DECIMAL;
		add_col(c, rep, o, "id", TJ_R_STRING, res, i, "id");
		add_col(c, rep, o, "indicator", TJ_R_STRING, res, i, "indicator");
		add_col(c, rep, o, "description", TJ_R_STRING, res, i, "description");
		add_col(c, rep, o, "op", TJ_R_STRING, res, i, "op");
		add_col(c, rep, o, "target", num, res, i, "target");
		add_col(c, rep, o, "due", TJ_R_DATE, res, i, "due");
		add_col(c, rep, o, "value", num, res, i, "value");
		add_col(c, rep, o, "projection", num, res, i, "projection");
		add_col(c, rep, o, "status", TJ_R_STRING, res, i, "status");
		add_col(c, rep, o, "explanation", TJ_R_STRING, res, i, "explanation");
		add_col(c, rep, o, "explained_at", TJ_R_TIMESTAMP, res, i, "explained_at");
	}
}

/* The series of one report: its points (from `points`) in date order. */
static void build_series(struct ctx *c, const struct item *it, const PGresult *res,
			 const PGresult *points)
{
	struct tj_report *rep = it->rep;
	struct tj_rnode *list = tj_rn_add(rep, &rep->root, "series", TJ_R_LIST, NULL);

	for (int i = 0; i < PQntuples(points); i++) {
		struct tj_rnode *p;
		int row, end;

		if (strcmp(PQgetvalue(points, i, 0), it->as_of))
			continue;
		rows_of(res, "p", PQgetvalue(points, i, 1), &row, &end);
		if (row == end) {
			c->missing = "a series point";
			return;
		}
		p = tj_rn_add(rep, list, "point", TJ_R_OBJECT, NULL);
		add_col(c, rep, p, "date", TJ_R_DATE, res, row, "as_of");
		add_col(c, rep, p, "trajectories_started", TJ_R_INTEGER, res, row, "p_started");
		add_col(c, rep, p, "trajectories_helped", TJ_R_INTEGER, res, row, "p_helped");
		add_col(c, rep, p, "trajectories_closed", TJ_R_INTEGER, res, row, "p_closed");
		add_col(c, rep, p, "children_helped", TJ_R_INTEGER, res, row, "p_children");
		add_col(c, rep, p, "costs_total", TJ_R_MONEY, res, row, "p_costs");
	}
}

/*
 * The determination request: the trajectories realised, the financial part
 * (granted, committed, settled, costs: the indicators at C, repeated so the
 * part stands on its own) and the amounts determined, then the settlement.
 */
static void build_determination(struct ctx *c, const struct item *it, const PGresult *grant,
				const PGresult *res, int ind)
{
	struct tj_report *rep = it->rep;
	struct tj_rnode *n, *list;
	int tot, end, first, last;
	int ref = col(c, res, "l_reference"), reg = col(c, res, "l_registered");
	int clo = col(c, res, "l_closed"), why = col(c, res, "l_closing_reason");
	int amt = col(c, res, "l_amount"), cst = col(c, res, "l_costs");
	int real = col(c, res, "l_realised");

	rows_of(res, "t", it->as_of, &tot, &end);
	if (tot == end) {
		c->missing = "the determination totals";
		return;
	}
	if (ref < 0 || reg < 0 || clo < 0 || why < 0 || amt < 0 || cst < 0 || real < 0)
		return;
	n = tj_rn_add(rep, &rep->root, "determination", TJ_R_OBJECT, NULL);
	add_col(c, rep, n, "trajectories_realised", TJ_R_INTEGER, res, tot, "trajectories_realised");
	add_col(c, rep, n, "amount_granted", TJ_R_MONEY, grant, 0, "amount_granted");
	add_col(c, rep, n, "amount_committed", TJ_R_MONEY, res, ind, "amount_committed");
	add_col(c, rep, n, "amount_settled", TJ_R_MONEY, res, ind, "amount_settled");
	add_col(c, rep, n, "costs_total", TJ_R_MONEY, res, ind, "costs_total");
	add_col(c, rep, n, "amount_determined", TJ_R_MONEY, res, tot, "amount_determined");
	add_col(c, rep, n, "amount_difference", TJ_R_MONEY, res, tot, "amount_difference");
	list = tj_rn_add(rep, n, "settlement", TJ_R_LIST, NULL);
	rows_of(res, "s", it->as_of, &first, &last);
	for (int i = first; i < last; i++) {
		struct tj_rnode *l = tj_rn_add(rep, list, "line", TJ_R_OBJECT, NULL);

		tj_rn_add(rep, l, "reference", TJ_R_STRING, col_text(res, i, ref, TJ_R_STRING));
		tj_rn_add(rep, l, "registered", TJ_R_DATE, col_text(res, i, reg, TJ_R_DATE));
		tj_rn_add(rep, l, "closed", TJ_R_DATE, col_text(res, i, clo, TJ_R_DATE));
		tj_rn_add(rep, l, "closing_reason", TJ_R_STRING, col_text(res, i, why, TJ_R_STRING));
		tj_rn_add(rep, l, "amount", TJ_R_MONEY, col_text(res, i, amt, TJ_R_MONEY));
		tj_rn_add(rep, l, "costs_total", TJ_R_MONEY, col_text(res, i, cst, TJ_R_MONEY));
		tj_rn_add(rep, l, "realised", TJ_R_BOOL, col_text(res, i, real, TJ_R_BOOL));
	}
}

/* trajectctl status: what would be determined if the period ended at C. */
static int build_forecast(struct ctx *c, const struct item *it, tj_err *err)
{
	const char *params[] = { c->grant_key, it->as_of, c->known_at };
	TJ_AUTORES PGresult *res = NULL;
	struct tj_report *rep = it->rep;
	struct tj_rnode *n;
	int r;

	r = tj_pq(c->conn, "computing the forecast", "SELECT * FROM traject.forecast($1, $2, $3)",
		  3, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		return tj_fail(err, TJ_EDB, "computing the forecast: no result row");
	n = tj_rn_add(rep, &rep->root, "forecast", TJ_R_OBJECT, NULL);
	add_col(c, rep, n, "as_of", TJ_R_DATE, res, 0, "as_of");
	add_col(c, rep, n, "trajectories_realised", TJ_R_INTEGER, res, 0, "trajectories_realised");
	add_col(c, rep, n, "amount_granted", TJ_R_MONEY, res, 0, "amount_granted");
	add_col(c, rep, n, "amount_determined", TJ_R_MONEY, res, 0, "amount_determined");
	add_col(c, rep, n, "shortfall", TJ_R_MONEY, res, 0, "shortfall");
	add_col(c, rep, n, "projected_realised", TJ_R_DECIMAL, res, 0, "projected_realised");
	add_col(c, rep, n, "projected_amount", TJ_R_MONEY, res, 0, "projected_amount");
	add_col(c, rep, n, "at_risk", TJ_R_BOOL, res, 0, "at_risk");
	return 0;
}

/* One report from the batch's results, in the document's order. */
static int build_one(struct ctx *c, struct item *it, const PGresult *grant,
		     const PGresult *entries, const PGresult *res, const PGresult *points,
		     tj_err *err)
{
	int first, end, r;

	rows_of(res, "i", it->as_of, &first, &end);
	if (first == end)
		return tj_fail(err, TJ_EDB, "computing the indicators: no result row for %s",
			       it->as_of);
	build_grant(c, it->rep, grant);
	build_report_info(c, it, entries);
	build_indicators(c, it->rep, res, first);
	build_baseline(c, it->rep, grant);
	build_obligations(c, it->rep, res, first, end);
	build_series(c, it, res, points);
	if (!strcmp(it->kind, "determination"))
		build_determination(c, it, grant, res, first);
	if (it->req->forecast && (r = build_forecast(c, it, err)) < 0)
		return r;
	if (c->missing)
		return tj_fail(err, TJ_ESCHEMA,
			       "the database did not return %s: is its schema the one this "
			       "program was built for?",
			       c->missing);
	if (it->rep->oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory building the report");
	return 0;
}

/* Whether date is among the first n of list. */
static bool listed(const char **list, size_t n, const char *date)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], date))
			return true;
	return false;
}

/*
 * The distinct reference dates, and those of the determination requests.
 * Distinct: points_sql returns the points of each element of $2, and
 * build_series takes every row for its date, so a date listed twice (two
 * calendar entries with the same as_of in one batch) would list every
 * point of both reports twice.
 */
static int date_params(struct ctx *c, tj_buf *dates, tj_buf *settle, tj_err *err)
{
	TJ_AUTOFREE const char **d = calloc(c->n, sizeof *d);
	TJ_AUTOFREE const char **s = calloc(c->n, sizeof *s);
	size_t nd = 0, ns = 0;
	int r;

	if (!d || !s)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		const char *as_of = c->items[i].as_of;

		if (!listed(d, nd, as_of))
			d[nd++] = as_of;
		if (!strcmp(c->items[i].kind, "determination") && !listed(s, ns, as_of))
			s[ns++] = as_of;
	}
	if ((r = array_param(dates, d, nd, err)) < 0)
		return r;
	return array_param(settle, s, ns, err);
}

/* The union of the series points of all reports, as an array literal. */
static int points_param(const PGresult *points, tj_buf *out, tj_err *err)
{
	int n = PQntuples(points);
	TJ_AUTOFREE const char **p = calloc((size_t)n + 1, sizeof *p);
	size_t np = 0;

	if (!p)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		p[np++] = PQgetvalue(points, i, 1); /* SQL's unnest makes duplicates harmless */
	return array_param(out, p, np, err);
}

/* Everything inside the snapshot: K, the calendar entries, the sections. */
static int compute_locked(struct ctx *c, tj_err *err)
{
	TJ_AUTORES PGresult *grant = NULL;
	TJ_AUTORES PGresult *entries = NULL;
	TJ_AUTORES PGresult *points = NULL;
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOBUF tj_buf dates = { 0 };
	TJ_AUTOBUF tj_buf settle = { 0 };
	TJ_AUTOBUF tj_buf pts = { 0 };
	int r;

	if ((r = fix_known_at(c, c->items[0].req, &grant, err)) < 0 ||
	    (r = pick_entries(c, &entries, err)) < 0 || (r = date_params(c, &dates, &settle, err)) < 0)
		return r;
	{
		const char *params[] = { c->grant_key, dates.data, c->known_at };

		r = tj_pq_prepared(c->conn, &points_sql, "computing the series points", 3, params,
				   &points, err);
	}
	if (r < 0 || (r = points_param(points, &pts, err)) < 0)
		return r;
	{
		const char *params[] = { c->grant_key, dates.data, c->known_at, pts.data,
					 settle.data };

		r = tj_pq_prepared(c->conn, &report_sql, "computing the indicators", 5, params, &res,
				   err);
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n; i++)
		if ((r = build_one(c, &c->items[i], grant, entries, res, points, err)) < 0)
			return r;
	return 0;
}

static int check_request(const struct tj_report_req *req, const struct tj_report_req *first,
			 tj_err *err)
{
	int32_t d;

	if (!req || !req->grant_id || !*req->grant_id)
		return tj_fail(err, TJ_EINVAL, "a report needs a grant id");
	if (!req->as_of == !req->report_id)
		return tj_fail(err, TJ_EINVAL,
			       "a report needs either a reference date or a calendar report id");
	if (req->as_of && (strlen(req->as_of) != 10 || tj_date_parse(req->as_of, &d) < 0))
		return tj_fail(err, TJ_EINVAL,
			       "reference date '%s' is not a real date (use YYYY-MM-DD)", req->as_of);
	if (req->known_at && !tj_timestamp_valid(req->known_at))
		return tj_fail(err, TJ_EINVAL,
			       "knowledge time '%s' is not an ISO 8601 timestamp with a zone "
			       "(e.g. 2011-10-12T08:00:00+02:00)",
			       req->known_at);
	if (req->kind != TJ_REPORT_PROGRESS && req->kind != TJ_REPORT_DETERMINATION)
		return tj_fail(err, TJ_EINVAL, "unknown report kind %d", (int)req->kind);
	if (strcmp(req->grant_id, first->grant_id) || !req->known_at != !first->known_at ||
	    (req->known_at && strcmp(req->known_at, first->known_at)))
		return tj_fail(err, TJ_EUSAGE,
			       "reports computed together need one grant and one knowledge time");
	return 0;
}

static int find_grant(struct ctx *c, const char *id, tj_err *err)
{
	const char *params[] = { id };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(c->conn, "looking up the grant", "SELECT traject.grant_key($1)", 1, params, &res,
		  err);
	if (r < 0)
		return r;
	if (PQgetisnull(res, 0, 0))
		return tj_fail(err, TJ_ENOTFOUND, "no grant '%s': see 'trajectctl grant list'", id);
	snprintf(c->grant_key, sizeof c->grant_key, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

/* The batch in its transaction, between the grant's lock and its release. */
static int compute_all(struct ctx *c, tj_err *err)
{
	const char *key[1] = { c->grant_key };
	int r;

	r = tj_pq(c->conn, "waiting for the grant's imports to finish",
		  "SELECT pg_advisory_lock(traject.lock_class(), $1::integer)", 1, key, NULL, err);
	if (r < 0)
		return r;
	r = tj_pq_cmd(c->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	/*
	 * The queries are small but the planner's guess for a long series can
	 * pass jit_above_cost, and compiling then costs 100 times the query.
	 */
	if (r == 0)
		r = tj_pq_cmd(c->conn, "SET LOCAL jit = off", err);
	if (r == 0)
		r = compute_locked(c, err);
	if (r == 0)
		r = tj_pq_cmd(c->conn, "COMMIT", err);
	else
		tj_pq_rollback(c->conn);
	PQclear(PQexecParams(c->conn,
			     "SELECT pg_advisory_unlock(traject.lock_class(), $1::integer)", 1, NULL,
			     key, NULL, NULL, 0));
	return r;
}

int tj_report_compute_many(PGconn *conn, const struct tj_report_req *reqs, size_t n,
			   struct tj_report **out, tj_err *err)
{
	struct ctx c = { .conn = conn };
	struct tj_report_req *on_standby = NULL;
	char standby_k[40];
	int r;

	if (n == 0)
		return tj_fail(err, TJ_EUSAGE, "no report to compute");
	for (size_t i = 0; i < n; i++)
		if ((r = check_request(&reqs[i], &reqs[0], err)) < 0)
			return r;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return tj_fail(err, TJ_EUSAGE,
			       "a report runs its own transaction: call it outside one");
	/*
	 * On a hot standby the lock below cannot hold back the primary's
	 * writers: K must be one the standby has replayed completely
	 * (include/traject/standby.h). On a primary this is one round trip.
	 */
	r = tj_standby_known_at(conn, reqs[0].known_at, TJ_STANDBY_WAIT_MS, standby_k, err);
	if (r < 0)
		return r;
	if (!(c.items = calloc(n, sizeof *c.items)) ||
	    (r == TJ_STANDBY && !(on_standby = calloc(n, sizeof *on_standby)))) {
		free(c.items);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	c.n = n;
	for (size_t i = 0; i < n; i++) {
		struct item *it = &c.items[i];

		it->req = &reqs[i];
		if (on_standby) {
			on_standby[i] = reqs[i];
			on_standby[i].known_at = standby_k;
			it->req = &on_standby[i];
		}
		it->entry = -1;
		if (it->req->as_of) {
			snprintf(it->as_of, sizeof it->as_of, "%s", it->req->as_of);
			it->kind = it->req->kind == TJ_REPORT_DETERMINATION ? "determination"
									     : "progress";
		}
	}
	r = find_grant(&c, reqs[0].grant_id, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = tj_report_new(&c.items[i].rep, err);
	if (r == 0)
		r = compute_all(&c, err);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			out[i] = c.items[i].rep;
		else
			tj_report_free(c.items[i].rep);
	}
	free(on_standby);
	free(c.items);
	return r;
}

int tj_report_compute(PGconn *conn, const struct tj_report_req *req, struct tj_report **out,
		      tj_err *err)
{
	return tj_report_compute_many(conn, req, 1, out, err);
}

int tj_report_today(PGconn *conn, const char *zone, char out[static 11], tj_err *err)
{
	const char *params[] = { zone };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "reading today's date",
		  "SELECT (now() AT TIME ZONE $1)::date::text", 1, params, &res, err);
	if (r < 0)
		return r;
	snprintf(out, 11, "%s", PQgetvalue(res, 0, 0));
	return 0;
}
