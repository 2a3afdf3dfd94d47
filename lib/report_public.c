/*
 * The public version of a report (for the council and the website): the
 * computed model with whatever identifies a family taken out and small
 * numbers suppressed, so that JSON, XML and HTML all come from one
 * suppressed model. docs/reports.md "The public version" is the rule book;
 * tests/it_public.py checks it on many generated grants.
 *
 * Markers (TJ_R_SUPPRESSED): "<T" for a count from 1 to T - 1 standing
 * alone (primary suppression); "x" for a value withheld because a small
 * count could otherwise be worked out from it (secondary suppression), and
 * for every value computed from a withheld count.
 *
 * The relations a public document states, and how each is protected:
 * - active = started - closed: active is shown only when started and closed
 *   both are; a small active hides closed as well (else started - closed);
 * - closed = the sum of closed_by_reason: the five cells are shown only
 *   when none is small and closed is shown; otherwise all five are "x",
 *   so no cell is pinned by the total;
 * - money, rates, medians and obligation results computed from a withheld
 *   count are "x" (amount_committed = per trajectory * started, ...);
 * - series (cumulative): a point is shown only when its difference from
 *   every other shown value of the same field (0, earlier shown points and
 *   the value at C) is 0 or at least T, so no window between two shown
 *   points holds 1 to T - 1; the costs are shown at C only;
 * - realised = started at the period's end - started before its start: a
 *   shown started point is also apart from the started count at the end;
 * - the rules themselves: a reader who knows them reads "x" on closed next
 *   to a shown started as "active is 1 .. T-1"; started is withheld where
 *   that would leave one value (started T + 1 or T + 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_private.h"
#include "util.h"

struct pub {
	struct tj_report *rep;
	int t;           /* the threshold */
	char small[16];  /* "<T" */
	tj_err *err;
	int r;           /* the first failure */
};

/* A count's value, or -1 when it is null, withheld or not a count. */
static long long count_of(const struct tj_rnode *n)
{
	char *end;
	long long v;

	if (!n || !n->text || n->type != TJ_R_INTEGER)
		return -1;
	v = strtoll(n->text, &end, 10);
	return *end == '\0' && v >= 0 ? v : -1;
}

static bool is_small(const struct pub *p, long long v)
{
	return v >= 1 && v < p->t;
}

static bool withheld(const struct tj_rnode *n)
{
	return n && n->type == TJ_R_SUPPRESSED;
}

/* Replace n's value by a marker; a null stays null (it says nothing). */
static void mark(struct pub *p, struct tj_rnode *n, const char *marker)
{
	if (p->r < 0 || !n || !n->text || n->type == TJ_R_SUPPRESSED)
		return;
	p->r = tj_rn_set(n, TJ_R_SUPPRESSED, marker, p->err);
}

static struct tj_rnode *need(struct pub *p, struct tj_rnode *parent, const char *name)
{
	struct tj_rnode *n = tj_rn_child(parent, name);

	if (!n && p->r == 0)
		p->r = tj_fail(p->err, TJ_EINVAL, "the report has no %s to suppress", name);
	return n;
}

/* Primary suppression of one count: 1 .. T-1 becomes "<T". */
static void primary(struct pub *p, struct tj_rnode *n)
{
	if (n && is_small(p, count_of(n)))
		mark(p, n, p->small);
}

/* Copy the public state of an indicator onto a node that repeats it. */
static void mirror(struct pub *p, struct tj_rnode *copy, const struct tj_rnode *ind)
{
	if (withheld(ind))
		mark(p, copy, ind->text);
}

static void indicators(struct pub *p, struct tj_rnode *ind)
{
	static const char *const counts[] = {
		"trajectories_started", "trajectories_helped", "trajectories_closed",
		"children_helped", "indications_needed", "indications_requested",
		"indications_avoided", "escalations",
	};
	static const char *const reasons[] = { "goals_reached", "referred", "dropped_out", "moved",
					       "other" };
	struct tj_rnode *started = need(p, ind, "trajectories_started");
	struct tj_rnode *closed = need(p, ind, "trajectories_closed");
	struct tj_rnode *active = need(p, ind, "trajectories_active");
	struct tj_rnode *by_reason = need(p, ind, "closed_by_reason");
	struct tj_rnode *quality = need(p, ind, "data_quality");
	bool hide_reasons;

	if (p->r < 0)
		return;
	for (size_t i = 0; i < TJ_ARRAY_SIZE(counts); i++)
		primary(p, need(p, ind, counts[i]));
	for (size_t i = 0; quality && i < quality->nkids; i++)
		primary(p, quality->kids[i]);

	/* started = closed + active */
	if (!withheld(started) && !withheld(closed) && is_small(p, count_of(active))) {
		mark(p, closed, "x"); /* else started - closed gives the small active */
		/*
		 * Who knows this rule reads from that "x" that active is 1..T-1
		 * and closed at least T, so closed lies in T .. started - 1: with
		 * started = T + 1 that is closed = T, active = 1 exactly. Started
		 * is withheld too when it is T + 1 or T + 2 (never only for T + 1:
		 * an "x" on started would then say T + 1), leaving at least two
		 * values for each of the three.
		 */
		if (count_of(started) <= p->t + 2)
			mark(p, started, "x");
	}
	if (withheld(started) || withheld(closed) || is_small(p, count_of(active)))
		mark(p, active, "x");

	/* closed = the sum of the reasons: all five shown, or none */
	hide_reasons = withheld(closed);
	for (size_t i = 0; i < TJ_ARRAY_SIZE(reasons); i++)
		hide_reasons |= is_small(p, count_of(need(p, by_reason, reasons[i])));
	for (size_t i = 0; hide_reasons && by_reason && i < by_reason->nkids; i++)
		mark(p, by_reason->kids[i], "x");
}

/* What is computed from the counts: withheld with them. */
static void derived(struct pub *p, struct tj_rnode *ind)
{
	const struct tj_rnode *started = tj_rn_child(ind, "trajectories_started");
	const struct tj_rnode *helped = tj_rn_child(ind, "trajectories_helped");
	const struct tj_rnode *closed = tj_rn_child(ind, "trajectories_closed");
	const struct tj_rnode *children = tj_rn_child(ind, "children_helped");
	bool costs_hidden = withheld(started); /* the costs of fewer than T families */

	if (costs_hidden) {
		mark(p, need(p, ind, "costs_total"), "x");
		mark(p, need(p, ind, "amount_committed"), "x");
		mark(p, need(p, ind, "budget_remaining"), "x");
	}
	if (withheld(closed))
		mark(p, need(p, ind, "amount_settled"), "x");
	if (withheld(children) || costs_hidden) {
		mark(p, need(p, ind, "cost_per_child_helped"), "x");
		mark(p, need(p, ind, "children_helped_per_10k_eur"), "x");
		mark(p, need(p, ind, "extra_children_within_budget"), "x");
	}
	if (withheld(tj_rn_child(ind, "indications_avoided")) ||
	    withheld(tj_rn_child(ind, "indications_needed")))
		mark(p, need(p, ind, "indication_avoidance_rate"), "x");
	if (withheld(helped) || withheld(tj_rn_child(ind, "escalations")))
		mark(p, need(p, ind, "heavier_care_avoided_rate"), "x");
	if (withheld(helped)) {
		mark(p, need(p, ind, "median_days_to_help"), "x");
		mark(p, need(p, ind, "p90_days_to_help"), "x");
	}
}

/* An obligation's results follow its indicator; explanations are free text. */
static void obligations(struct pub *p, struct tj_rnode *list, struct tj_rnode *ind)
{
	for (size_t i = 0; list && i < list->nkids; i++) {
		struct tj_rnode *o = list->kids[i];
		struct tj_rnode *name = need(p, o, "indicator");
		const struct tj_rnode *src;

		if (p->r < 0)
			return;
		src = name && name->text ? tj_rn_child(ind, name->text) : NULL;
		if (withheld(src)) {
			mirror(p, need(p, o, "value"), src);
			mark(p, need(p, o, "projection"), "x");
			mark(p, need(p, o, "status"), "x");
		}
		if (p->r == 0)
			p->r = tj_rn_set(need(p, o, "explanation"), TJ_R_STRING, NULL, p->err);
		if (p->r == 0)
			p->r = tj_rn_set(need(p, o, "explained_at"), TJ_R_TIMESTAMP, NULL, p->err);
	}
}

/* |a - b| is 0 or at least T: no small window between two shown values. */
static bool apart(const struct pub *p, long long a, long long b)
{
	long long d = a > b ? a - b : b - a;

	return d == 0 || d >= p->t;
}

/*
 * One cumulative field of the series. The last point is the value at C and
 * shows what the indicator shows. An earlier point is shown when it is
 * apart from 0 (the count before anything happened), from every point
 * shown so far, from the value at C, if that is shown, and, unless it
 * equals the value at C, from the implied value also (-1: none); when the
 * value at C is withheld only points equal to 0 can be shown.
 */
static void series_field(struct pub *p, struct tj_rnode *list, const char *field,
			 const struct tj_rnode *ind, long long also)
{
	long long *shown;
	size_t nshown = 0, n = list->nkids;
	long long final = withheld(ind) ? -1 : count_of(ind);

	if (n == 0 || p->r < 0)
		return;
	if (!(shown = malloc((n + 1) * sizeof *shown))) {
		p->r = tj_fail(p->err, TJ_ENOMEM, "out of memory suppressing the series");
		return;
	}
	shown[nshown++] = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		struct tj_rnode *pt = need(p, list->kids[i], field);
		long long v = count_of(pt);
		bool ok = v >= 0 && (final >= 0 ? apart(p, v, final) : v == 0);

		for (size_t j = 0; ok && j < nshown; j++)
			ok = apart(p, v, shown[j]);
		/* a point equal to the value at C adds no difference to the known ones */
		if (ok && also >= 0 && v != final)
			ok = apart(p, v, also);
		if (ok)
			shown[nshown++] = v;
		else
			mark(p, pt, "x");
	}
	mirror(p, need(p, list->kids[n - 1], field), ind);
	free(shown);
}

/*
 * started_at_end: the started count at the period's end when the
 * determination shows trajectories realised, else -1 (see determination()).
 */
static void series(struct pub *p, struct tj_rnode *list, struct tj_rnode *ind,
		   long long started_at_end)
{
	static const char *const fields[] = { "trajectories_started", "trajectories_helped",
					      "trajectories_closed", "children_helped" };

	for (size_t f = 0; list && f < TJ_ARRAY_SIZE(fields); f++)
		series_field(p, list, fields[f], tj_rn_child(ind, fields[f]),
			     f == 0 ? started_at_end : -1);
	/* a month's costs may be one family's: only the total at C is shown */
	for (size_t i = 0; list && i < list->nkids; i++) {
		struct tj_rnode *cost = need(p, list->kids[i], "costs_total");

		if (i + 1 < list->nkids)
			mark(p, cost, "x");
		else
			mirror(p, cost, tj_rn_child(ind, "costs_total"));
	}
}

/*
 * Realised = the registrations within the period = started at the period's
 * end minus started before its start. It is a value of the started series
 * in disguise: with nothing registered before the start (which the series
 * may show by its zeros) it is the started count at the end, and a point
 * shown next to it would give away a small window (a month of 3 between a
 * shown 27 and a realised 30). So when realised is shown, the started count
 * at the period's end (the settlement lines registered up to the end) is
 * returned for series() to keep every shown point apart from; else -1.
 * Realised itself, the figure the determination is for, stays shown.
 */
static long long determination(struct pub *p, struct tj_rnode *det, struct tj_rnode *ind)
{
	struct tj_rnode *realised = need(p, det, "trajectories_realised");
	struct tj_rnode *lines = tj_rn_child(det, "settlement");
	const struct tj_rnode *period = tj_rn_find(p->rep, "grant/period/end");
	long long at_end = -1;

	primary(p, realised);
	if (!withheld(realised) && count_of(realised) >= 0 && lines && period && period->text) {
		at_end = 0;
		for (size_t i = 0; i < lines->nkids; i++) {
			const struct tj_rnode *reg = tj_rn_child(lines->kids[i], "registered");

			if (reg && reg->text && strcmp(reg->text, period->text) <= 0)
				at_end++;
		}
	}
	if (withheld(realised)) {
		mark(p, need(p, det, "amount_determined"), "x");
		mark(p, need(p, det, "amount_difference"), "x");
	}
	mirror(p, need(p, det, "amount_committed"), tj_rn_child(ind, "amount_committed"));
	mirror(p, need(p, det, "amount_settled"), tj_rn_child(ind, "amount_settled"));
	mirror(p, need(p, det, "costs_total"), tj_rn_child(ind, "costs_total"));
	/* one line per trajectory, with its reference: never public */
	tj_rn_remove(det, "settlement");
	return at_end;
}

int tj_report_make_public(struct tj_report *r, int threshold, tj_err *err)
{
	struct pub p = { .rep = r, .t = threshold, .err = err };
	struct tj_rnode *info, *flag, *ind, *det;
	long long started_at_end = -1;
	char t[16];

	if (!r || threshold < TJ_SUPPRESS_MIN || threshold > TJ_SUPPRESS_MAX)
		return tj_fail(err, TJ_EUSAGE, "the suppression threshold must be %d to %d",
			       TJ_SUPPRESS_MIN, TJ_SUPPRESS_MAX);
	info = tj_rn_child(&r->root, "report");
	flag = tj_rn_child(info, "public");
	ind = tj_rn_child(&r->root, "indicators");
	if (!flag || !flag->text || !ind || !tj_rn_child(info, "suppress_below"))
		return tj_fail(err, TJ_EINVAL, "not a computed report: it has no report/public");
	if (!strcmp(flag->text, "true"))
		return tj_fail(err, TJ_EUSAGE, "the report is public already");
	snprintf(p.small, sizeof p.small, "<%d", threshold);
	snprintf(t, sizeof t, "%d", threshold);

	indicators(&p, ind);
	derived(&p, ind);
	obligations(&p, tj_rn_child(&r->root, "obligations"), ind);
	if ((det = tj_rn_child(&r->root, "determination")))
		started_at_end = determination(&p, det, ind);
	series(&p, tj_rn_child(&r->root, "series"), ind, started_at_end);
	tj_rn_remove(&r->root, "forecast");
	if (p.r == 0)
		p.r = tj_rn_set(flag, TJ_R_BOOL, "true", err);
	if (p.r == 0)
		p.r = tj_rn_set(tj_rn_child(info, "suppress_below"), TJ_R_INTEGER, t, err);
	return p.r;
}
