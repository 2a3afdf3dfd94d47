/*
 * trajectctl status [--grant ID] [--json]: where every grant stands. One
 * function builds the JSON object of one grant (grant_json) and one prints
 * its text form (grant_text); the indicator work adds `obligations` and
 * `data_quality` there, the delivery work fills the report states.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/grant.h"
#include "traject/outbox.h"

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

static json_object *grant_json(const tj_grant_status *st)
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
	return o;
}

static void grant_text(const tj_grant_status *st)
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

		printf("    %-16s %-14s as of %s  due %s  %s%s\n", r->id, r->kind, r->as_of, r->due,
		       r->state, r->late ? "  LATE" : "");
	}
}

static int print_json(json_object *o)
{
	const char *text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return CTL_FAIL;
	printf("%s\n", text);
	return CTL_OK;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "grant", required_argument, NULL, 'g' },
					      { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	tj_grant_status *s = NULL;
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
	if (tj_outbox_status_apply(ctl->conn, ctl->cfg->time_zone, s, n, &err) < 0) {
		tj_grant_status_free(s, n);
		return ctl_error(ctl, &err);
	}
	if (json) {
		json_object *o = json_object_new_object(), *list = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(list, grant_json(&s[i]));
		json_object_object_add(o, "grants", list);
		if (tj_outbox_status_json(ctl->conn, grant, ctl->cfg->time_zone, o, &err) < 0)
			r = ctl_error(ctl, &err);
		else
			r = print_json(o);
		json_object_put(o);
	} else if (n == 0) {
		printf("no grants yet (load one with 'trajectctl grant load FILE.json')\n");
	} else {
		for (size_t i = 0; i < n; i++)
			grant_text(&s[i]);
		if (tj_outbox_status_text(ctl->conn, grant, stdout, &err) < 0)
			r = ctl_error(ctl, &err);
	}
	tj_grant_status_free(s, n);
	return r;
}
