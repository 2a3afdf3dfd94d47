/*
 * The outbox's part of `trajectctl status`: each calendar report's
 * delivery state (from traject.report_states, on the real clock), the open
 * alerts (lib/alert_list.c) and the instances that are alive. It fills the grant status that
 * lib/grant_query.c reads and adds its own keys to the JSON document, so
 * the status command stays one list of grants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "outbox_private.h"
#include "traject/alert.h"
#include "util.h"

/* An instance is alive when it heartbeat within this interval (a pass is at most 60 s apart). */
#define ALIVE_INTERVAL "3 minutes"

static const char *const states[] = { "scheduled", "generated", "delivering", "delivered",
				      "rejected" };

static const char *state_name(const char *s)
{
	for (size_t i = 0; i < TJ_ARRAY_SIZE(states); i++)
		if (!strcmp(states[i], s))
			return states[i];
	return "scheduled";
}

enum { S_ID, S_VERSION, S_STATE, S_ATTEMPTS, S_DELIVERED_AT, S_LATE, S_ERROR };

static int read_states(PGconn *conn, const char *grant_id, const char *time_zone, PGresult **out,
		       tj_err *err)
{
	const char *params[2] = { grant_id, time_zone };

	return tj_pq(conn, "reading the report states",
		     "SELECT s.report_id, s.version, s.state, s.attempts,"
		     " traject.iso_utc(s.delivered_at), s.late, s.last_error"
		     " FROM traject.grants g, traject.report_states(g.grant_key, clock_timestamp(), $2) s"
		     " WHERE g.id = $1",
		     2, params, out, err);
}

static int find_row(const PGresult *res, const char *report_id)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (!strcmp(PQgetvalue(res, i, S_ID), report_id))
			return i;
	return -1;
}

int tj_outbox_status_apply(PGconn *conn, const char *time_zone, tj_grant_status *s, size_t n,
			   tj_err *err)
{
	for (size_t g = 0; g < n; g++) {
		TJ_AUTORES PGresult *res = NULL;
		int r;

		if ((r = read_states(conn, s[g].id, time_zone, &res, err)) < 0)
			return r;
		for (size_t i = 0; i < s[g].n_reports; i++) {
			tj_report_status *rs = &s[g].reports[i];
			int row = find_row(res, rs->id);
			const char *at, *why;
			char *copy = NULL, *error = NULL;

			if (row < 0)
				continue;
			at = tj_pq_get(res, row, S_DELIVERED_AT);
			why = tj_pq_get(res, row, S_ERROR);
			if ((at && !(copy = strdup(at))) || (why && !(error = strdup(why)))) {
				free(copy);
				return tj_fail(err, TJ_ENOMEM, "out of memory reading the status");
			}
			free(rs->delivered_at);
			rs->delivered_at = copy;
			free(rs->last_error);
			rs->last_error = error;
			rs->state = state_name(PQgetvalue(res, row, S_STATE));
			rs->attempts = (int)strtol(PQgetvalue(res, row, S_ATTEMPTS), NULL, 10);
			rs->late = !strcmp(PQgetvalue(res, row, S_LATE), "t");
		}
	}
	return 0;
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int instances_result(PGconn *conn, PGresult **out, tj_err *err)
{
	return tj_pq(conn, "reading the instances",
		     "SELECT instance_id, host, pid, traject.iso_utc(started_at),"
		     " traject.iso_utc(heartbeat_at), traject.iso_utc(service_clock)"
		     " FROM traject.instances WHERE stopped_at IS NULL"
		     " AND heartbeat_at > clock_timestamp() - interval '" ALIVE_INTERVAL "'"
		     " ORDER BY started_at, instance_id",
		     0, NULL, out, err);
}

static int add_report_keys(PGconn *conn, const char *time_zone, json_object *grant, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	json_object *id, *reports;
	int r;

	if (!json_object_object_get_ex(grant, "id", &id) ||
	    !json_object_object_get_ex(grant, "reports", &reports))
		return 0;
	if ((r = read_states(conn, json_object_get_string(id), time_zone, &res, err)) < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(reports); i++) {
		json_object *rep = json_object_array_get_idx(reports, i), *rid;
		const char *v;
		int row;

		if (!json_object_object_get_ex(rep, "id", &rid) ||
		    (row = find_row(res, json_object_get_string(rid))) < 0)
			continue;
		v = tj_pq_get(res, row, S_VERSION);
		json_object_object_add(rep, "version",
				       v ? json_object_new_int((int)strtol(v, NULL, 10)) : NULL);
		json_object_object_add(rep, "last_error", str_or_null(tj_pq_get(res, row, S_ERROR)));
	}
	return 0;
}

int tj_outbox_status_json(PGconn *conn, const char *grant_id, const char *time_zone,
			  struct json_object *status, tj_err *err)
{
	TJ_AUTORES PGresult *inst = NULL;
	json_object *grants, *list = NULL;
	int r;

	if (json_object_object_get_ex(status, "grants", &grants)) {
		for (size_t i = 0; i < json_object_array_length(grants); i++) {
			r = add_report_keys(conn, time_zone, json_object_array_get_idx(grants, i), err);
			if (r < 0)
				return r;
		}
	}
	/* the open alerts with their mail (lib/alert_list.c); database alerts too */
	if ((r = tj_alerts_json(conn, grant_id, false, &list, err)) < 0)
		return r;
	json_object_object_add(status, "alerts", list);
	if ((r = instances_result(conn, &inst, err)) < 0)
		return r;
	list = json_object_new_array();
	for (int i = 0; i < PQntuples(inst); i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(PQgetvalue(inst, i, 0)));
		json_object_object_add(o, "host", json_object_new_string(PQgetvalue(inst, i, 1)));
		json_object_object_add(o, "pid",
				       json_object_new_int((int)strtol(PQgetvalue(inst, i, 2), NULL, 10)));
		json_object_object_add(o, "started_at", json_object_new_string(PQgetvalue(inst, i, 3)));
		json_object_object_add(o, "heartbeat_at", json_object_new_string(PQgetvalue(inst, i, 4)));
		json_object_object_add(o, "service_clock", json_object_new_string(PQgetvalue(inst, i, 5)));
		json_object_array_add(list, o);
	}
	json_object_object_add(status, "instances", list);
	return 0;
}

int tj_outbox_status_text(PGconn *conn, const char *grant_id, FILE *out, tj_err *err)
{
	TJ_AUTORES PGresult *inst = NULL;
	int r;

	if ((r = tj_alerts_text(conn, grant_id, false, out, err)) < 0 ||
	    (r = instances_result(conn, &inst, err)) < 0)
		return r;
	fprintf(out, "instances: %d alive\n", PQntuples(inst));
	for (int i = 0; i < PQntuples(inst); i++)
		fprintf(out, "  %s  since %s, last heartbeat %s\n", PQgetvalue(inst, i, 0),
			PQgetvalue(inst, i, 3), PQgetvalue(inst, i, 4));
	return 0;
}
