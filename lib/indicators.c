/*
 * Computing a report: runs the SQL functions of sql/002_indicators.sql for
 * one grant, reference date C and knowledge time K, and fills the report
 * model (lib/report.c) with their exact text. All numbers are computed in
 * SQL; this file only fixes K, picks the calendar entry and arranges the
 * values in the document's order. The explanations and the forecast come
 * from sql/006_explanations.sql.
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

/* Everything one computation carries between its queries. */
struct ctx {
	PGconn *conn;
	struct tj_report *rep;
	char grant_key[24];
	char known_at[40]; /* traject.iso_utc(K), the parameter of every query */
	char as_of[11];
	char version[16];
	const char *kind;
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

/* Add the value of column `column` of row `row` as node `name`. */
static void add_col(struct ctx *c, struct tj_rnode *parent, const char *name, enum tj_rtype type,
		    const PGresult *res, int row, const char *column)
{
	int col = PQfnumber(res, column);

	if (col < 0) { /* a programming error: the SQL and this table disagree */
		c->missing = column;
		return;
	}
	tj_rn_add(c->rep, parent, name, type, col_text(res, row, col, type));
}

static int q(struct ctx *c, const char *what, const char *sql, PGresult **res, tj_err *err)
{
	const char *params[] = { c->grant_key, c->as_of, c->known_at };

	return tj_pq(c->conn, what, sql, 3, params, res, err);
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
static int fix_known_at(struct ctx *c, const struct tj_report_req *req, PGresult **out,
			tj_err *err)
{
	const char *params[] = { c->grant_key, req->known_at };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(c->conn, "fixing the knowledge time",
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
		  2, params, &res, err);
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

/* --report ID: that calendar entry's as_of, kind and due, as known at K. */
static int pick_entry(struct ctx *c, const struct tj_report_req *req, PGresult **out, tj_err *err)
{
	const char *params[] = { c->grant_key, c->version, req->report_id };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(c->conn, "reading the report calendar",
		  "SELECT c.id::text AS id, c.kind, c.as_of, c.due FROM traject.calendar c"
		  " WHERE c.grant_key = $1 AND c.version = $2 AND c.id = $3",
		  3, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		*out = res;
		res = NULL;
		return 0;
	}
	PQclear(res);
	res = NULL;
	r = tj_pq(c->conn, "reading the report calendar",
		  "SELECT string_agg(c.id, ', ' ORDER BY c.position) FROM traject.calendar c"
		  " WHERE c.grant_key = $1 AND c.version = $2",
		  2, params, &res, err);
	if (r < 0)
		return r;
	return tj_fail(err, TJ_ENOTFOUND,
		       "grant %s has no report '%s' in its calendar (version %s); its reports are: %s",
		       req->grant_id, req->report_id, c->version,
		       tj_pq_get(res, 0, 0) ? tj_pq_get(res, 0, 0) : "none");
}

static void build_grant(struct ctx *c, const PGresult *g)
{
	struct tj_rnode *n = tj_rn_add(c->rep, &c->rep->root, "grant", TJ_R_OBJECT, NULL);
	struct tj_rnode *period;

	add_col(c, n, "id", TJ_R_STRING, g, 0, "id");
	add_col(c, n, "title", TJ_R_STRING, g, 0, "title");
	add_col(c, n, "grantor", TJ_R_STRING, g, 0, "grantor");
	add_col(c, n, "grantee", TJ_R_STRING, g, 0, "grantee");
	period = tj_rn_add(c->rep, n, "period", TJ_R_OBJECT, NULL);
	add_col(c, period, "start", TJ_R_DATE, g, 0, "period_start");
	add_col(c, period, "end", TJ_R_DATE, g, 0, "period_end");
	add_col(c, n, "currency", TJ_R_STRING, g, 0, "currency");
	add_col(c, n, "amount_granted", TJ_R_MONEY, g, 0, "amount_granted");
	add_col(c, n, "amount_per_trajectory", TJ_R_MONEY, g, 0, "amount_per_trajectory");
	add_col(c, n, "target_trajectories", TJ_R_INTEGER, g, 0, "target_trajectories");
	add_col(c, n, "version", TJ_R_INTEGER, g, 0, "version");
}

static void build_report_info(struct ctx *c, const PGresult *entry)
{
	struct tj_rnode *n = tj_rn_add(c->rep, &c->rep->root, "report", TJ_R_OBJECT, NULL);

	tj_rn_add(c->rep, n, "id", TJ_R_STRING, entry ? PQgetvalue(entry, 0, 0) : NULL);
	tj_rn_add(c->rep, n, "kind", TJ_R_STRING, c->kind);
	tj_rn_add(c->rep, n, "as_of", TJ_R_DATE, c->as_of);
	tj_rn_add(c->rep, n, "due", TJ_R_DATE, entry ? PQgetvalue(entry, 0, 3) : NULL);
	tj_rn_add(c->rep, n, "known_at", TJ_R_TIMESTAMP, c->known_at);
	tj_rn_add(c->rep, n, "version", TJ_R_INTEGER, NULL); /* set when stored */
	tj_rn_add(c->rep, n, "public", TJ_R_BOOL, "false");  /* tj_report_make_public */
	tj_rn_add(c->rep, n, "suppress_below", TJ_R_INTEGER, NULL);
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

/*
 * The indicators and the obligations come from one query, so the planner
 * works out the indicators once: one row per obligation (in the grant's
 * order) with the indicators beside it, or one row of indicators alone.
 */
static int query_indicators(struct ctx *c, PGresult **res, tj_err *err)
{
	int r = q(c, "computing the indicators and obligations",
		  "SELECT i.*, o.id, o.indicator, o.description, o.op, o.target, o.due, o.value,"
		  " o.projection, o.status, o.money, x.body AS explanation,"
		  " traject.iso_utc(x.recorded_at) AS explained_at"
		  " FROM traject.indicators($1, $2, $3) i"
		  " LEFT JOIN LATERAL traject.obligations_of($1, $2, $3, i) o ON true"
		  /* the grantee's word, where an obligation falls short */
		  " LEFT JOIN LATERAL traject.explanation_at($1, o.id, $3) x"
		  "   ON o.status IN ('not_met', 'at_risk')"
		  " ORDER BY o.position",
		  res, err);

	if (r == 0 && PQntuples(*res) < 1) {
		PQclear(*res);
		*res = NULL;
		return tj_fail(err, TJ_EDB, "computing the indicators: no result row");
	}
	return r;
}

static void build_indicators(struct ctx *c, const PGresult *res)
{
	struct tj_rnode *n, *reasons = NULL, *quality = NULL;

	n = tj_rn_add(c->rep, &c->rep->root, "indicators", TJ_R_OBJECT, NULL);
	for (size_t i = 0; i < TJ_ARRAY_SIZE(indicator_cols); i++) {
		struct tj_rnode *parent = n;

		if (indicator_cols[i].group == 'c') {
			if (!reasons)
				reasons = tj_rn_add(c->rep, n, "closed_by_reason", TJ_R_OBJECT, NULL);
			parent = reasons;
		} else if (indicator_cols[i].group == 'q') {
			if (!quality)
				quality = tj_rn_add(c->rep, n, "data_quality", TJ_R_OBJECT, NULL);
			parent = quality;
		}
		add_col(c, parent, indicator_cols[i].name, indicator_cols[i].type, res, 0,
			indicator_cols[i].column);
	}
}

/* baseline: only when the grant version at K has one. */
static void build_baseline(struct ctx *c, const PGresult *g)
{
	struct tj_rnode *n;
	int cost = PQfnumber(g, "baseline_cost_per_child");
	int days = PQfnumber(g, "baseline_days_to_help");
	int rate = PQfnumber(g, "baseline_indication_rate");

	if (PQgetisnull(g, 0, cost) && PQgetisnull(g, 0, days) && PQgetisnull(g, 0, rate))
		return;
	n = tj_rn_add(c->rep, &c->rep->root, "baseline", TJ_R_OBJECT, NULL);
	add_col(c, n, "cost_per_child", TJ_R_MONEY, g, 0, "baseline_cost_per_child");
	add_col(c, n, "days_to_help", TJ_R_DECIMAL, g, 0, "baseline_days_to_help");
	add_col(c, n, "indication_rate", TJ_R_DECIMAL, g, 0, "baseline_indication_rate");
}

static void build_obligations(struct ctx *c, const PGresult *res)
{
	struct tj_rnode *list = tj_rn_add(c->rep, &c->rep->root, "obligations", TJ_R_LIST, NULL);
	int money = PQfnumber(res, "money");

	for (int i = 0; i < PQntuples(res); i++) {
		struct tj_rnode *o;
		enum tj_rtype num;

		if (PQgetisnull(res, i, PQfnumber(res, "id")))
			continue; /* the grant has no obligations */
		o = tj_rn_add(c->rep, list, "obligation", TJ_R_OBJECT, NULL);
		num = !strcmp(PQgetvalue(res, i, money), "t") ? TJ_R_MONEY : TJ_R_DECIMAL;
		add_col(c, o, "id", TJ_R_STRING, res, i, "id");
		add_col(c, o, "indicator", TJ_R_STRING, res, i, "indicator");
		add_col(c, o, "description", TJ_R_STRING, res, i, "description");
		add_col(c, o, "op", TJ_R_STRING, res, i, "op");
		add_col(c, o, "target", num, res, i, "target");
		add_col(c, o, "due", TJ_R_DATE, res, i, "due");
		add_col(c, o, "value", num, res, i, "value");
		add_col(c, o, "projection", num, res, i, "projection");
		add_col(c, o, "status", TJ_R_STRING, res, i, "status");
		add_col(c, o, "explanation", TJ_R_STRING, res, i, "explanation");
		add_col(c, o, "explained_at", TJ_R_TIMESTAMP, res, i, "explained_at");
	}
}

static int build_series(struct ctx *c, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	struct tj_rnode *list;
	int r;

	r = q(c, "computing the series",
	      "SELECT * FROM traject.series($1, $2, $3) s ORDER BY s.point", &res, err);
	if (r < 0)
		return r;
	list = tj_rn_add(c->rep, &c->rep->root, "series", TJ_R_LIST, NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		struct tj_rnode *p = tj_rn_add(c->rep, list, "point", TJ_R_OBJECT, NULL);

		add_col(c, p, "date", TJ_R_DATE, res, i, "point");
		add_col(c, p, "trajectories_started", TJ_R_INTEGER, res, i, "trajectories_started");
		add_col(c, p, "trajectories_helped", TJ_R_INTEGER, res, i, "trajectories_helped");
		add_col(c, p, "trajectories_closed", TJ_R_INTEGER, res, i, "trajectories_closed");
		add_col(c, p, "children_helped", TJ_R_INTEGER, res, i, "children_helped");
		add_col(c, p, "costs_total", TJ_R_MONEY, res, i, "costs_total");
	}
	return 0;
}

/*
 * The determination request: the trajectories realised, the financial part
 * (granted, committed, settled, costs: the indicators at C, repeated so the
 * part stands on its own) and the amounts determined, then the settlement.
 */
static int build_determination(struct ctx *c, const PGresult *grant, const PGresult *ind,
			       tj_err *err)
{
	TJ_AUTORES PGresult *tot = NULL;
	TJ_AUTORES PGresult *lines = NULL;
	struct tj_rnode *n, *list;
	int r;

	if ((r = q(c, "computing the determination",
		   "SELECT * FROM traject.determination($1, $2, $3)", &tot, err)) < 0)
		return r;
	/* COLLATE "C": the same order whatever the database's locale. */
	if ((r = q(c, "computing the settlement",
		   "SELECT * FROM traject.settlement($1, $2, $3) s"
		   " ORDER BY s.reference COLLATE \"C\"",
		   &lines, err)) < 0)
		return r;
	if (PQntuples(tot) != 1)
		return tj_fail(err, TJ_EDB, "computing the determination: no result row");
	n = tj_rn_add(c->rep, &c->rep->root, "determination", TJ_R_OBJECT, NULL);
	add_col(c, n, "trajectories_realised", TJ_R_INTEGER, tot, 0, "trajectories_realised");
	add_col(c, n, "amount_granted", TJ_R_MONEY, grant, 0, "amount_granted");
	add_col(c, n, "amount_committed", TJ_R_MONEY, ind, 0, "amount_committed");
	add_col(c, n, "amount_settled", TJ_R_MONEY, ind, 0, "amount_settled");
	add_col(c, n, "costs_total", TJ_R_MONEY, ind, 0, "costs_total");
	add_col(c, n, "amount_determined", TJ_R_MONEY, tot, 0, "amount_determined");
	add_col(c, n, "amount_difference", TJ_R_MONEY, tot, 0, "amount_difference");
	list = tj_rn_add(c->rep, n, "settlement", TJ_R_LIST, NULL);
	for (int i = 0; i < PQntuples(lines); i++) {
		struct tj_rnode *l = tj_rn_add(c->rep, list, "line", TJ_R_OBJECT, NULL);

		add_col(c, l, "reference", TJ_R_STRING, lines, i, "reference");
		add_col(c, l, "registered", TJ_R_DATE, lines, i, "registered");
		add_col(c, l, "closed", TJ_R_DATE, lines, i, "closed");
		add_col(c, l, "closing_reason", TJ_R_STRING, lines, i, "closing_reason");
		add_col(c, l, "amount", TJ_R_MONEY, lines, i, "amount");
		add_col(c, l, "costs_total", TJ_R_MONEY, lines, i, "costs_total");
		add_col(c, l, "realised", TJ_R_BOOL, lines, i, "realised");
	}
	return 0;
}

/* trajectctl status: what would be determined if the period ended at C. */
static int build_forecast(struct ctx *c, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	struct tj_rnode *n;
	int r;

	if ((r = q(c, "computing the forecast", "SELECT * FROM traject.forecast($1, $2, $3)", &res,
		   err)) < 0)
		return r;
	if (PQntuples(res) != 1)
		return tj_fail(err, TJ_EDB, "computing the forecast: no result row");
	n = tj_rn_add(c->rep, &c->rep->root, "forecast", TJ_R_OBJECT, NULL);
	add_col(c, n, "as_of", TJ_R_DATE, res, 0, "as_of");
	add_col(c, n, "trajectories_realised", TJ_R_INTEGER, res, 0, "trajectories_realised");
	add_col(c, n, "amount_granted", TJ_R_MONEY, res, 0, "amount_granted");
	add_col(c, n, "amount_determined", TJ_R_MONEY, res, 0, "amount_determined");
	add_col(c, n, "shortfall", TJ_R_MONEY, res, 0, "shortfall");
	add_col(c, n, "projected_realised", TJ_R_DECIMAL, res, 0, "projected_realised");
	add_col(c, n, "projected_amount", TJ_R_MONEY, res, 0, "projected_amount");
	add_col(c, n, "at_risk", TJ_R_BOOL, res, 0, "at_risk");
	return 0;
}

/* Everything inside the snapshot: K, the calendar entry, the sections. */
static int compute_locked(struct ctx *c, const struct tj_report_req *req, tj_err *err)
{
	TJ_AUTORES PGresult *grant = NULL;
	TJ_AUTORES PGresult *entry = NULL;
	TJ_AUTORES PGresult *ind = NULL;
	int r;

	if ((r = fix_known_at(c, req, &grant, err)) < 0)
		return r;
	if (req->report_id) {
		if ((r = pick_entry(c, req, &entry, err)) < 0)
			return r;
		snprintf(c->as_of, sizeof c->as_of, "%s", PQgetvalue(entry, 0, 2));
		c->kind = !strcmp(PQgetvalue(entry, 0, 1), "determination") ? "determination"
									      : "progress";
	}
	if ((r = query_indicators(c, &ind, err)) < 0)
		return r;
	build_grant(c, grant);
	build_report_info(c, entry);
	build_indicators(c, ind);
	build_baseline(c, grant);
	build_obligations(c, ind);
	if ((r = build_series(c, err)) < 0)
		return r;
	if (!strcmp(c->kind, "determination") && (r = build_determination(c, grant, ind, err)) < 0)
		return r;
	if (req->forecast && (r = build_forecast(c, err)) < 0)
		return r;
	if (c->missing)
		return tj_fail(err, TJ_ESCHEMA,
			       "the database did not return the column %s: is its schema the one "
			       "this trajectctl was built for?",
			       c->missing);
	if (c->rep->oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory building the report");
	return 0;
}

static int check_request(const struct tj_report_req *req, tj_err *err)
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

int tj_report_compute(PGconn *conn, const struct tj_report_req *req, struct tj_report **out,
		      tj_err *err)
{
	struct ctx c = { .conn = conn };
	struct tj_report_req on_standby;
	char standby_k[40];
	const char *key[1];
	int r;

	if ((r = check_request(req, err)) < 0)
		return r;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return tj_fail(err, TJ_EUSAGE,
			       "a report runs its own transaction: call it outside one");
	/*
	 * On a hot standby the lock below cannot hold back the primary's
	 * writers: K must be one the standby has replayed completely
	 * (include/traject/standby.h). On a primary this is one round trip.
	 */
	r = tj_standby_known_at(conn, req->known_at, TJ_STANDBY_WAIT_MS, standby_k, err);
	if (r < 0)
		return r;
	if (r == TJ_STANDBY) {
		on_standby = *req;
		on_standby.known_at = standby_k;
		req = &on_standby;
	}
	if (req->as_of) {
		snprintf(c.as_of, sizeof c.as_of, "%s", req->as_of);
		c.kind = req->kind == TJ_REPORT_DETERMINATION ? "determination" : "progress";
	}
	if ((r = find_grant(&c, req->grant_id, err)) < 0 || (r = tj_report_new(&c.rep, err)) < 0)
		return r;
	key[0] = c.grant_key;
	r = tj_pq(conn, "waiting for the grant's imports to finish",
		  "SELECT pg_advisory_lock(traject.lock_class(), $1::integer)", 1, key, NULL, err);
	if (r < 0)
		goto out;
	r = tj_pq_cmd(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	/*
	 * The queries are small but the planner's guess for a long series can
	 * pass jit_above_cost, and compiling then costs 100 times the query.
	 */
	if (r == 0)
		r = tj_pq_cmd(conn, "SET LOCAL jit = off", err);
	if (r == 0)
		r = compute_locked(&c, req, err);
	if (r == 0)
		r = tj_pq_cmd(conn, "COMMIT", err);
	else
		tj_pq_rollback(conn);
	PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock(traject.lock_class(), $1::integer)",
			     1, NULL, key, NULL, NULL, 0));
out:
	if (r < 0) {
		tj_report_free(c.rep);
		return r;
	}
	*out = c.rep;
	return 0;
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
