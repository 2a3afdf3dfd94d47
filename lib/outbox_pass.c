/*
 * One pass of the service over the outbox, and its alerts: generate every
 * calendar report whose moment has come (lib/outbox_generate.c), deliver
 * what is due, then raise alerts for reports that are
 * still undelivered near or past their due date. Each step is a function
 * the event loop can call on its own; a pass only stops early on an error
 * that leaves the database unusable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "outbox_private.h"
#include "traject/log.h"
#include "traject/mail.h"
#include "traject/value.h"
#include "util.h"

/* ---- alerts ------------------------------------------------------------- */

int tj_outbox_alert(tj_service *svc, const char *kind, const char *grant_key,
		    const char *grant_id, const char *report_id, const char *message, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOFREE char *text = strdup(message);
	char now[32];
	/* whoever raises it queues its mail, once: the INSERT that opened it decides */
	const char *mail = tj_mail_configured(svc->cfg) ? "pending" : "none";
	const char *params[7] = { kind, grant_key, report_id, text, now, svc->instance, mail };
	int r;

	if (!text)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	tj_mask_bsn(text); /* the message goes to the log, status and mail */
	tj_timestamp_format(tj_service_now(svc), now);
	/* The partial unique index keeps one open alert per report and kind, across instances. */
	r = tj_pq(svc->conn, "raising an alert",
		  "INSERT INTO traject.alerts (kind, grant_key, report_id, message, raised_at,"
		  " raised_by, mail_state) VALUES ($1, $2, $3, $4, $5, $6, $7)"
		  " ON CONFLICT (grant_key, report_id, kind) WHERE resolved_at IS NULL DO NOTHING"
		  " RETURNING alert_id",
		  7, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return 0;
	tj_log(TJ_LOG_CRIT, "ALERT %s: grant %s report %s: %s", kind, grant_id, report_id, text);
	return 1;
}

int tj_outbox_resolve_alerts(tj_service *svc, const char *grant_key, const char *report_id,
			     tj_err *err)
{
	char now[32];
	const char *params[4] = { grant_key, report_id, now, svc->instance };

	tj_timestamp_format(tj_service_now(svc), now);
	return tj_pq(svc->conn, "resolving alerts",
		     "UPDATE traject.alerts SET resolved_at = $3, resolved_by = $4"
		     " WHERE grant_key = $1 AND report_id = $2 AND resolved_at IS NULL",
		     4, params, NULL, err);
}


int tj_outbox_check_alerts(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int64_t now = tj_service_now(svc);
	char nowbuf[32];
	const char *params[2] = { nowbuf, svc->cfg->time_zone };
	int r;

	tj_timestamp_format(now, nowbuf);
	r = tj_pq(svc->conn, "reading the report states",
		  "SELECT g.grant_key, g.id, s.report_id, s.due, s.state, s.last_error"
		  " FROM traject.grants g, traject.report_states(g.grant_key, $1, $2) s"
		  " WHERE s.state <> 'delivered' ORDER BY g.id, s.due, s.report_id",
		  2, params, &res, err);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *key = PQgetvalue(res, i, 0), *grant = PQgetvalue(res, i, 1);
		const char *report = PQgetvalue(res, i, 2), *state = PQgetvalue(res, i, 4);
		const char *why = tj_pq_get(res, i, 5);
		int64_t deadline, warn;
		char msg[1200];
		int32_t due;

		if (tj_date_parse(PQgetvalue(res, i, 3), &due) < 0)
			continue;
		deadline = tj_sched_deadline(due);
		warn = tj_sched_warn_moment(due, svc->cfg->warn_hours);
		if (now >= deadline) {
			snprintf(msg, sizeof msg, "was due on %s and is not delivered (state %s%s%s)",
				 PQgetvalue(res, i, 3), state, why ? ": " : "", why ? why : "");
			r = tj_outbox_alert(svc, "late", key, grant, report, msg, err);
		} else if (now >= warn) {
			snprintf(msg, sizeof msg,
				 "is due on %s and not delivered %ld hours before (state %s%s%s)",
				 PQgetvalue(res, i, 3), svc->cfg->warn_hours, state, why ? ": " : "",
				 why ? why : "");
			r = tj_outbox_alert(svc, "not_delivered", key, grant, report, msg, err);
		} else {
			r = 0;
		}
		if (r < 0)
			return r;
		st->alerts += r;
		tj_next_due(st, now, warn);
		tj_next_due(st, now, deadline);
	}
	return 0;
}

/* ---- generation of what is due -------------------------------------------- */

int tj_outbox_pass(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	int r;

	memset(st, 0, sizeof *st);
	st->next_due = INT64_MAX;
	if ((r = tj_instance_heartbeat(svc, err)) < 0 || (r = tj_outbox_generate_due(svc, st, err)) < 0 ||
	    (r = tj_outbox_deliver_due(svc, st, err)) < 0 || (r = tj_outbox_check_alerts(svc, st, err)) < 0)
		return r;
	return 0;
}
