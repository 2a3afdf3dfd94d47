/*
 * trajectctl status [--grant ID] [--json]: where every grant stands. One
 * function builds the JSON object of one grant (grant_json) and one prints
 * its text form (grant_text): the register and the calendar with the
 * delivery states (lib/grant_query.c, lib/outbox_status.c), and the
 * outlook: the obligations and the data quality as a report at today's
 * date (in [schedule] time_zone, K = now) carries them, and the forecast
 * of the determination (docs/reports.md "Status and forecast").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/grant.h"
#include "traject/outbox.h"
#include "traject/report.h"

#define STATUS_USAGE "status [--grant ID] [--json]"

/* json-c turns a NULL value into JSON null, which is what NULL means here. */
static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *report_json(const tj_report_status *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "kind", json_object_new_string(r->kind));
	json_object_object_add(o, "as_of", json_object_new_string(r->as_of));
	json_object_object_add(o, "due", json_object_new_string(r->due));
	json_object_object_add(o, "state", json_object_new_string(r->state));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "delivered_at", str_or_null(r->delivered_at));
	json_object_object_add(o, "late", json_object_new_boolean(r->late));
	return o;
}

/* One section of the outlook as JSON (NULL: JSON null, when it is absent). */
static json_object *section_json(const struct tj_report *outlook, const char *path)
{
	const struct tj_rnode *n = tj_report_find(outlook, path);
	json_object *o = NULL;
	tj_err err = { 0 };

	if (n && tj_rnode_json(n, &o, &err) < 0)
		return NULL;
	return o;
}

static json_object *grant_json(const tj_grant_status *st, const struct tj_report *outlook)
{
	json_object *o = json_object_new_object(), *period = json_object_new_object();
	json_object *reports = json_object_new_array(), *import = NULL;

	json_object_object_add(period, "start", json_object_new_string(st->period_start));
	json_object_object_add(period, "end", json_object_new_string(st->period_end));
	if (st->has_import) {
		import = json_object_new_object();
		json_object_object_add(import, "file", json_object_new_string(st->import_file));
		json_object_object_add(import, "rows", json_object_new_int64(st->import_rows));
		json_object_object_add(import, "recorded_at",
				       json_object_new_string(st->import_recorded_at));
	}
	for (size_t i = 0; i < st->n_reports; i++)
		json_object_array_add(reports, report_json(&st->reports[i]));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "grantor", json_object_new_string(st->grantor));
	json_object_object_add(o, "grantee", json_object_new_string(st->grantee));
	json_object_object_add(o, "period", period);
	json_object_object_add(o, "version", json_object_new_int(st->version));
	json_object_object_add(o, "trajectories", json_object_new_int64(st->trajectories));
	json_object_object_add(o, "events", json_object_new_int64(st->events));
	json_object_object_add(o, "voided", json_object_new_int64(st->voided));
	json_object_object_add(o, "last_import", import);
	json_object_object_add(o, "reports", reports);
	json_object_object_add(o, "obligations", section_json(outlook, "obligations"));
	json_object_object_add(o, "data_quality",
			       section_json(outlook, "indicators/data_quality"));
	json_object_object_add(o, "forecast", section_json(outlook, "forecast"));
	return o;
}

/* The text of a node ("null" for a null value). */
static const char *text_of(const struct tj_report *r, const char *path)
{
	const struct tj_rnode *n = tj_report_find(r, path);

	return n && n->text ? n->text : "null";
}

static const char *child_text(const struct tj_rnode *n, const char *name)
{
	const struct tj_rnode *c = tj_rnode_child(n, name);

	return c && c->text ? c->text : "null";
}

static void outlook_text(const struct tj_report *r)
{
	const struct tj_rnode *list = tj_report_find(r, "obligations");
	const char *cur = text_of(r, "grant/currency");

	printf("  outlook      as of %s (today), data known at %s\n", text_of(r, "report/as_of"),
	       text_of(r, "report/known_at"));
	if (!list || list->nkids == 0)
		printf("  obligations  none\n");
	else
		printf("  obligations\n");
	for (size_t i = 0; list && i < list->nkids; i++) {
		const struct tj_rnode *o = list->kids[i];
		const char *status = child_text(o, "status");
		const char *proj = child_text(o, "projection");
		bool pending = !strcmp(status, "on_track") || !strcmp(status, "at_risk");

		printf("    %-6s %s %s %s, due %s: %s", child_text(o, "id"),
		       child_text(o, "indicator"), child_text(o, "op"), child_text(o, "target"),
		       child_text(o, "due"), child_text(o, "value"));
		/*
		 * The projection decides only before the due date (on_track,
		 * at_risk); once met or not_met the value did, and the formula's
		 * projection (scaled down to the due date) would only confuse.
		 */
		if (pending && strcmp(proj, "null"))
			printf(" (projection %s)", proj);
		printf("  %s%s\n", status,
		       !strcmp(status, "at_risk") || !strcmp(status, "not_met") ? "  <<" : "");
	}
	printf("  data quality %s without a coordinator, %s without a plan after 14 days, "
	       "%s without an assessment\n",
	       text_of(r, "indicators/data_quality/no_coordinator"),
	       text_of(r, "indicators/data_quality/no_plan"),
	       text_of(r, "indicators/data_quality/no_assessment"));
	printf("  forecast     %s %s of %s would be determined if the period ended today "
	       "(%s trajectories realised); shortfall %s\n",
	       cur, text_of(r, "forecast/amount_determined"), text_of(r, "forecast/amount_granted"),
	       text_of(r, "forecast/trajectories_realised"), text_of(r, "forecast/shortfall"));
	if (strcmp(text_of(r, "forecast/projected_realised"), "null") != 0)
		printf("               projected to the period's end: %s trajectories, %s %s%s\n",
		       text_of(r, "forecast/projected_realised"), cur,
		       text_of(r, "forecast/projected_amount"),
		       !strcmp(text_of(r, "forecast/at_risk"), "true")
			       ? ": AT RISK of a shortfall"
			       : ": on course for the full amount");
	else
		printf("               the period has not started: nothing to project yet\n");
}

/* A delivery error on one line: a receiver's reply may hold line breaks or controls. */
static void print_error_line(const char *error)
{
	fputs("      last error: ", stdout);
	for (const unsigned char *c = (const unsigned char *)error; *c; c++)
		putchar(*c < 0x20 || *c == 0x7f ? ' ' : *c);
	putchar('\n');
}

static void grant_text(const tj_grant_status *st, const struct tj_report *outlook)
{
	printf("grant %s: %s -> %s\n", st->id, st->grantor, st->grantee);
	printf("  period       %s .. %s (version %d)\n", st->period_start, st->period_end,
	       st->version);
	printf("  register     %ld trajectories, %ld events, %ld voided\n", st->trajectories,
	       st->events, st->voided);
	if (st->has_import)
		printf("  last import  %s: %ld rows, recorded %s\n", st->import_file, st->import_rows,
		       st->import_recorded_at);
	else
		printf("  last import  none\n");
	printf("  reports\n");
	for (size_t i = 0; i < st->n_reports; i++) {
		const tj_report_status *r = &st->reports[i];

		printf("    %-16s %-14s as of %s  due %s  %s", r->id, r->kind, r->as_of, r->due,
		       r->state);
		if (strcmp(r->state, "scheduled"))
			printf(", %d attempt%s", r->attempts, r->attempts == 1 ? "" : "s");
		printf("%s\n", r->late ? "  LATE" : "");
		if (r->last_error)
			print_error_line(r->last_error);
	}
	outlook_text(outlook);
}

static void free_outlooks(struct tj_report **o, size_t n)
{
	for (size_t i = 0; o && i < n; i++)
		tj_report_free(o[i]);
	free(o);
}

/*
 * Each grant as a report at today's date would show it, K = now: the
 * obligations, the data quality and the forecast (req.forecast). *out has
 * one report per grant.
 */
static int outlooks(struct ctl *ctl, const tj_grant_status *s, size_t n, struct tj_report ***out,
		    tj_err *err)
{
	struct tj_report **o = calloc(n ? n : 1, sizeof *o);
	char today[11];
	int r;

	if (!o)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	if ((r = tj_report_today(ctl->conn, ctl->cfg->time_zone, today, err)) < 0) {
		free(o);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct tj_report_req req = { .grant_id = s[i].id, .as_of = today,
					     .kind = TJ_REPORT_PROGRESS, .forecast = true };

		if ((r = tj_report_compute(ctl->conn, &req, &o[i], err)) < 0) {
			free_outlooks(o, n);
			return r;
		}
	}
	*out = o;
	return 0;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "grant", required_argument, NULL, 'g' },
					      { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	tj_grant_status *s = NULL;
	struct tj_report **outlook = NULL;
	const char *grant = NULL;
	tj_err err = { 0 };
	bool json = false;
	size_t n = 0;
	int c, r = CTL_OK;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'g')
			grant = optarg;
		else if (c == 'j')
			json = true;
		else
			return ctl_usage(ctl, STATUS_USAGE);
	}
	if (optind != argc)
		return ctl_usage(ctl, STATUS_USAGE);
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_grant_status_read(ctl->conn, grant, ctl->cfg->time_zone, &s, &n, &err) < 0)
		return ctl_error(ctl, &err);
	/* the delivery states of the outbox (lib/outbox_status.c) */
	if (tj_outbox_status_apply(ctl->conn, ctl->cfg->time_zone, s, n, &err) < 0 ||
	    outlooks(ctl, s, n, &outlook, &err) < 0) {
		tj_grant_status_free(s, n);
		return ctl_error(ctl, &err);
	}
	if (json) {
		json_object *o = json_object_new_object(), *list = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(list, grant_json(&s[i], outlook[i]));
		json_object_object_add(o, "grants", list);
		if (tj_outbox_status_json(ctl->conn, grant, ctl->cfg->time_zone, o, &err) < 0)
			r = ctl_error(ctl, &err);
		else
			r = ctl_print_json(o);
		json_object_put(o);
	} else if (n == 0) {
		printf("no grants yet (load one with 'trajectctl grant load FILE.json')\n");
	} else {
		for (size_t i = 0; i < n; i++)
			grant_text(&s[i], outlook[i]);
		if (tj_outbox_status_text(ctl->conn, grant, stdout, &err) < 0)
			r = ctl_error(ctl, &err);
	}
	free_outlooks(outlook, n);
	tj_grant_status_free(s, n);
	return r;
}
