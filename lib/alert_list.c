/*
 * What the administrator reads and does about alerts: the list (status and
 * `trajectctl alert list`, JSON and text from one query) and resolving one
 * by its id (`trajectctl alert resolve`). Row-level security decides which
 * rows a role sees (sql/011_alert_mail.sql: database alerts are the
 * service's and visible to every role that reads alerts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "traject/alert.h"
#include "util.h"

enum { A_ID, A_KIND, A_GRANT, A_REPORT, A_MESSAGE, A_RAISED_AT, A_RAISED_BY, A_RESOLVED_AT,
       A_RESOLVED_BY, A_MAIL_STATE, A_MAIL_ATTEMPTS, A_MAILED_AT, A_MAIL_ERROR };

static int read_alerts(PGconn *conn, const char *grant_id, bool all, PGresult **out, tj_err *err)
{
	const char *params[2] = { grant_id, all ? "t" : "f" };

	return tj_pq(conn, "reading the alerts",
		     "SELECT a.alert_id, a.kind, g.id, a.report_id, a.message,"
		     " traject.iso_utc(a.raised_at), a.raised_by, traject.iso_utc(a.resolved_at),"
		     " a.resolved_by, a.mail_state, a.mail_attempts, traject.iso_utc(a.mailed_at),"
		     " a.mail_error"
		     " FROM traject.alerts a LEFT JOIN traject.grants g USING (grant_key)"
		     " WHERE (a.resolved_at IS NULL OR $2::boolean)"
		     "   AND (a.kind = 'database' OR $1::text IS NULL OR g.id = $1)"
		     "   AND (a.kind = 'database' OR g.id IS NOT NULL)"
		     " ORDER BY a.raised_at, a.alert_id",
		     2, params, out, err);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int tj_alerts_json(PGconn *conn, const char *grant_id, bool all, struct json_object **out,
		   tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	json_object *list;
	int r;

	if ((r = read_alerts(conn, grant_id, all, &res, err)) < 0)
		return r;
	if (!(list = json_object_new_array()))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (int i = 0; i < PQntuples(res); i++) {
		json_object *a = json_object_new_object();

		json_object_object_add(a, "id", json_object_new_int64(
							strtoll(PQgetvalue(res, i, A_ID), NULL, 10)));
		json_object_object_add(a, "kind", json_object_new_string(PQgetvalue(res, i, A_KIND)));
		json_object_object_add(a, "grant", str_or_null(tj_pq_get(res, i, A_GRANT)));
		json_object_object_add(a, "report", str_or_null(tj_pq_get(res, i, A_REPORT)));
		json_object_object_add(a, "message",
				       json_object_new_string(PQgetvalue(res, i, A_MESSAGE)));
		json_object_object_add(a, "raised_at",
				       json_object_new_string(PQgetvalue(res, i, A_RAISED_AT)));
		json_object_object_add(a, "raised_by",
				       json_object_new_string(PQgetvalue(res, i, A_RAISED_BY)));
		json_object_object_add(a, "resolved_at", str_or_null(tj_pq_get(res, i, A_RESOLVED_AT)));
		json_object_object_add(a, "resolved_by", str_or_null(tj_pq_get(res, i, A_RESOLVED_BY)));
		json_object_object_add(a, "mail_state",
				       json_object_new_string(PQgetvalue(res, i, A_MAIL_STATE)));
		json_object_object_add(a, "mail_attempts",
				       json_object_new_int((int)strtol(PQgetvalue(res, i, A_MAIL_ATTEMPTS),
								       NULL, 10)));
		json_object_object_add(a, "mailed_at", str_or_null(tj_pq_get(res, i, A_MAILED_AT)));
		json_object_object_add(a, "mail_error", str_or_null(tj_pq_get(res, i, A_MAIL_ERROR)));
		json_object_array_add(list, a);
	}
	*out = list;
	return 0;
}

/* "mail sent at T", "mail pending (2 attempts): why", "no mail (none configured)" */
static void mail_text(const PGresult *res, int i, char *buf, size_t size)
{
	const char *state = PQgetvalue(res, i, A_MAIL_STATE), *at = tj_pq_get(res, i, A_MAILED_AT);
	const char *why = tj_pq_get(res, i, A_MAIL_ERROR);
	long n = strtol(PQgetvalue(res, i, A_MAIL_ATTEMPTS), NULL, 10);

	if (!strcmp(state, "none"))
		snprintf(buf, size, "no mail (none was configured when it was raised)");
	else if (!strcmp(state, "sent"))
		snprintf(buf, size, "mail sent %s", at ? at : "");
	else
		snprintf(buf, size, "mail %s (%ld attempt%s)%s%s", state, n, n == 1 ? "" : "s",
			 why ? ": " : "", why ? why : "");
}

int tj_alerts_text(PGconn *conn, const char *grant_id, bool all, FILE *out, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int r, n;

	if ((r = read_alerts(conn, grant_id, all, &res, err)) < 0)
		return r;
	n = PQntuples(res);
	if (all) {
		int open = 0;

		for (int i = 0; i < n; i++)
			open += PQgetisnull(res, i, A_RESOLVED_AT);
		fprintf(out, "alerts: %d, %d open\n", n, open);
	}
	else if (n == 0)
		fprintf(out, "alerts: none open\n");
	else
		fprintf(out, "alerts: %d open\n", n);
	for (int i = 0; i < n; i++) {
		const char *grant = tj_pq_get(res, i, A_GRANT), *done = tj_pq_get(res, i, A_RESOLVED_AT);
		char subject[300], mail[900];

		if (grant)
			snprintf(subject, sizeof subject, "grant %s report %s", grant,
				 PQgetvalue(res, i, A_REPORT));
		else
			snprintf(subject, sizeof subject, "instance %s", PQgetvalue(res, i, A_RAISED_BY));
		mail_text(res, i, mail, sizeof mail);
		fprintf(out, "  %-5s %s  %-13s %s: %s\n", PQgetvalue(res, i, A_ID),
			PQgetvalue(res, i, A_RAISED_AT), PQgetvalue(res, i, A_KIND), subject,
			PQgetvalue(res, i, A_MESSAGE));
		fprintf(out, "        %s%s%s%s%s\n", done ? "resolved " : "open; ", done ? done : "",
			done ? " by " : "", done ? PQgetvalue(res, i, A_RESOLVED_BY) : "", mail);
	}
	return 0;
}

int tj_alert_resolve(PGconn *conn, long alert_id, struct tj_alert_resolved *out, tj_err *err)
{
	TJ_AUTORES PGresult *upd = NULL;
	TJ_AUTORES PGresult *cur = NULL;
	char id[24];
	const char *params[1] = { id };
	PGresult *row;
	int r;

	memset(out, 0, sizeof *out);
	snprintf(id, sizeof id, "%ld", alert_id);
	r = tj_pq(conn, "resolving the alert",
		  "UPDATE traject.alerts SET resolved_at = clock_timestamp(), resolved_by = current_user"
		  " WHERE alert_id = $1::bigint AND resolved_at IS NULL"
		  " RETURNING kind, (SELECT g.id FROM traject.grants g WHERE g.grant_key = alerts.grant_key),"
		  " report_id, raised_by, traject.iso_utc(resolved_at), resolved_by",
		  1, params, &upd, err);
	if (r < 0)
		return r;
	row = upd;
	out->was_open = PQntuples(upd) == 1;
	if (!out->was_open) {
		r = tj_pq(conn, "reading the alert",
			  "SELECT kind, (SELECT g.id FROM traject.grants g"
			  " WHERE g.grant_key = a.grant_key), report_id, raised_by,"
			  " traject.iso_utc(resolved_at), resolved_by"
			  " FROM traject.alerts a WHERE alert_id = $1::bigint",
			  1, params, &cur, err);
		if (r < 0)
			return r;
		if (PQntuples(cur) != 1)
			return tj_fail(err, TJ_ENOTFOUND,
				       "no alert %ld: see 'trajectctl alert list --all'", alert_id);
		row = cur;
	}
	snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(row, 0, 0));
	if (tj_pq_get(row, 0, 1))
		snprintf(out->what, sizeof out->what, "grant %s report %s", PQgetvalue(row, 0, 1),
			 PQgetvalue(row, 0, 2));
	else
		snprintf(out->what, sizeof out->what, "instance %s", PQgetvalue(row, 0, 3));
	snprintf(out->resolved_at, sizeof out->resolved_at, "%s", PQgetvalue(row, 0, 4));
	snprintf(out->resolved_by, sizeof out->resolved_by, "%s",
		 tj_pq_get(row, 0, 5) ? PQgetvalue(row, 0, 5) : "(unknown)");
	return 0;
}
